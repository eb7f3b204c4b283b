/**
 * The inventory cache's packs (src/cache/packs.ts): records a run stores are
 * found by that thread at once and by a new process (a fresh module copy)
 * only once committed, a worker's by the main thread's commit; the newest
 * record of a name wins; a record or index that is cut short, altered or of
 * the wrong shape is a miss, never a payload; sparse packs are compacted,
 * too many are merged, and files nothing names are removed only when they
 * were named before or are over an hour old.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { writeChecked } from "../../src/cache/checked.js";
import { type Loc, PACK_FORMAT, packDir, readIndex, writeIndex } from "../../src/cache/packs.js";

type Packs = typeof import("../../src/cache/packs.js");

const MAGIC = Buffer.from("TEST-MAGIC\n", "latin1");
const INDEX = `index.p${PACK_FORMAT}`;
/** A pack name no run makes (theirs are random). */
const STRAY = "0123456789abcdef0123.pack";

let cache: string;
let dir: string;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), "hdplan-packs-"));
  dir = packDir(cache);
});
afterEach(() => rmSync(cache, { recursive: true, force: true }));

/** A fresh copy of the module: a new process's (or thread's) state. */
async function fresh(): Promise<Packs> {
  vi.resetModules();
  return import("../../src/cache/packs.js");
}

const body = (name: string, v = 1) => `payload-${name}-v${v}`;
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

function store(m: Packs, list: string[], v = 1): void {
  for (const n of list) expect(m.storeRecord(dir, n, MAGIC, Buffer.from(body(n, v)))).toBe(true);
}

/** One run: a new process stores `list` (version `v` of each payload) and commits. */
async function run(list: string[], v = 1): Promise<void> {
  const m = await fresh();
  store(m, list, v);
  m.commitPacks();
}

/** What `m` finds under each name: the payload as text, or "missing" / "corrupt". */
function lookAll(m: Packs, list: string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((n) => {
      const r = m.lookupRecord(dir, n, MAGIC);
      return [n, typeof r === "string" ? r : r.toString()];
    }),
  );
}

/** What a new process finds. */
async function found(list: string[]): Promise<Record<string, string>> {
  return lookAll(await fresh(), list);
}

function expected(list: string[], v = 1): Record<string, string> {
  return Object.fromEntries(list.map((n) => [n, body(n, v)]));
}

const same = (list: string[], what: string) => Object.fromEntries(list.map((n) => [n, what]));
const packs = () => readdirSync(dir).filter((f) => f.endsWith(".pack"));

/** The index as a new process reads it (it must be valid). */
function index(): Map<string, Loc> {
  const i = readIndex(dir);
  expect(i).not.toBeNull();
  return i!;
}

/** Every pack the index names is there. */
function expectNoDangling(): void {
  const there = new Set(packs());
  for (const l of index().values()) expect(there).toContain(l.pack);
}

function locOf(name: string): Loc {
  const l = index().get(name);
  expect(l).toBeDefined();
  return l!;
}

function flipByte(file: string, at: number): void {
  const buf = readFileSync(file);
  buf[at]! ^= 0xff;
  writeFileSync(file, buf);
}

describe("packs: storing, committing and finding records", () => {
  it("finds a thread's records at once, a new process's only after the commit, in one pack", async () => {
    const list = names("r", 3);
    const m = await fresh();
    store(m, list);
    expect(lookAll(m, list)).toEqual(expected(list));
    expect(await found(list)).toEqual(same(list, "missing")); // no index yet
    expect(existsSync(join(dir, INDEX))).toBe(false);
    m.commitPacks();
    expect(await found(list)).toEqual(expected(list));
    expect(readdirSync(dir).sort()).toEqual([...packs(), INDEX].sort());
    expect(packs()).toHaveLength(1);
    expect([...index().keys()].sort()).toEqual(list);
  });

  it("reads the index once a thread: records committed after that are missed, then found anew", async () => {
    await run(["a"]);
    const early = await fresh();
    expect(lookAll(early, ["a"])).toEqual(expected(["a"])); // reads the index now
    await run(["b"]);
    expect(lookAll(early, ["a", "b"])).toEqual({ ...expected(["a"]), b: "missing" });
    expect(await found(["a", "b"])).toEqual(expected(["a", "b"]));
  });

  it("commits a worker's records with the main thread's (takeWritten, adoptWritten)", async () => {
    expect((await fresh()).takeWritten()).toBeNull(); // nothing written
    const worker = await fresh();
    store(worker, ["w0", "w1"]);
    const w = worker.takeWritten();
    expect(w?.dir).toBe(dir);
    expect(w?.records.map(([n]) => n)).toEqual(["w0", "w1"]);
    expect(worker.takeWritten()).toBeNull(); // handed over once
    store(worker, ["w2"]); // the next batch: a new pack
    const w2 = worker.takeWritten();
    expect(w2?.records.map(([n]) => n)).toEqual(["w2"]);
    const main = await fresh();
    store(main, ["m0"]);
    for (const h of [w, w2]) main.adoptWritten(structuredClone(h)); // as posted from the worker
    expect(await found(["w0"])).toEqual({ w0: "missing" });
    main.commitPacks();
    const all = ["w0", "w1", "w2", "m0"];
    expect(await found(all)).toEqual(expected(all));
    expect(packs()).toHaveLength(3);
    expectNoDangling();
  });

  it("commits a worker's records when the main thread wrote none", async () => {
    const worker = await fresh();
    store(worker, ["w0"]);
    const w = worker.takeWritten();
    const main = await fresh();
    main.adoptWritten(w);
    main.commitPacks();
    expect(await found(["w0"])).toEqual(expected(["w0"]));
  });

  it("keeps the newest record of a name, and removes the pack it replaced", async () => {
    await run(["a", "b"]);
    const [first] = packs();
    await run(["a", "b"], 2);
    expect(await found(["a", "b"])).toEqual(expected(["a", "b"], 2));
    expect(packs()).toHaveLength(1);
    expect(packs()).not.toContain(first);
    expect(locOf("a").pack).toBe(packs()[0]);
  });

  it("keeps the last of a name stored three times in one run, compacting the run's own pack", async () => {
    const m = await fresh();
    for (const v of [1, 2, 3]) store(m, ["a"], v);
    expect(lookAll(m, ["a"])).toEqual(expected(["a"], 3));
    const [own] = packs();
    m.commitPacks(); // one live record of three: moved to a new pack, its own removed
    expect(await found(["a"])).toEqual(expected(["a"], 3));
    expect(packs()).toHaveLength(1);
    expect(packs()).not.toContain(own);
  });
});

describe("packs: nothing damaged is trusted", () => {
  it("a record with any byte altered (magic, checksum, payload) is corrupt; its neighbour is not", async () => {
    await run(["a", "b"]);
    const l = locOf("a");
    const file = join(dir, l.pack);
    for (const at of [l.offset, l.offset + MAGIC.length, l.offset + l.length - 1]) {
      flipByte(file, at);
      expect(await found(["a", "b"])).toEqual({ a: "corrupt", b: body("b") });
      flipByte(file, at); // back as it was
      expect(await found(["a"])).toEqual(expected(["a"]));
    }
  });

  it("a pack cut short mid-record: that record is corrupt, then dropped by the next commit", async () => {
    const list = names("r", 3);
    await run(list);
    const l = locOf("r2");
    truncateSync(join(dir, l.pack), l.offset + l.length - 5);
    expect(await found(list)).toEqual({ ...expected(["r0", "r1"]), r2: "corrupt" });
    await run(["x"]);
    expect(await found([...list, "x"])).toEqual({ ...expected(["r0", "r1", "x"]), r2: "missing" });
    expect(index().has("r2")).toBe(false);
  });

  it("an index that is garbage or altered is no index; the next commit writes a valid one", async () => {
    await run(["a"]);
    flipByte(join(dir, INDEX), readFileSync(join(dir, INDEX)).length - 2);
    expect(readIndex(dir)).toBeNull();
    expect(await found(["a"])).toEqual({ a: "missing" });
    writeFileSync(join(dir, INDEX), "garbage");
    expect(readIndex(dir)).toBeNull();
    expect(await found(["a"])).toEqual({ a: "missing" });
    await run(["b"]);
    expect([...index().keys()]).toEqual(["b"]);
    expect(await found(["a", "b"])).toEqual({ a: "missing", ...expected(["b"]) });
  });

  it("an index of the wrong shape is no index", () => {
    mkdirSync(dir);
    writeIndex(dir, new Map());
    const file = readFileSync(join(dir, INDEX));
    const magic = file.subarray(0, file.indexOf(0x0a) + 1); // the index's own magic line
    const readAs = (json: unknown) => {
      expect(writeChecked(join(dir, INDEX), magic, Buffer.from(JSON.stringify(json)))).toBe(true);
      return readIndex(dir);
    };
    const good = { format: PACK_FORMAT, packs: [STRAY], e: { a: [0, 30, 60] } };
    expect(readAs(good)).toEqual(new Map([["a", { pack: STRAY, offset: 30, length: 60 }]]));
    const bad: unknown[] = [
      { ...good, format: PACK_FORMAT + 1 },
      { ...good, e: { a: [0, -1, 60] } },
      { ...good, e: { a: [0, 1.5, 60] } },
      { ...good, e: { a: [0, 30, -60] } },
      { ...good, e: { a: [1, 30, 60] } }, // no pack 1
      { ...good, e: { a: [0, 30] } },
      { ...good, e: { a: [0, 30, 60, 0] } },
      { ...good, e: { a: { pack: 0 } } },
      { ...good, packs: ["x.pack"] },
      { ...good, packs: [`../${STRAY}`] },
      { ...good, packs: [STRAY.toUpperCase()] },
      { ...good, packs: "all" },
      { format: PACK_FORMAT, packs: [STRAY] },
      null,
    ];
    for (const j of bad) expect(readAs(j), JSON.stringify(j)).toBeNull();
  });

  it("a pack replaced by a directory is missing, not a throw, and a commit drops its records", async () => {
    await run(["a", "b"]);
    const [p] = packs();
    rmSync(join(dir, p!));
    mkdirSync(join(dir, p!));
    expect(await found(["a", "b"])).toEqual(same(["a", "b"], "missing"));
    await run(["c"]);
    expect([...index().keys()]).toEqual(["c"]);
    expect(await found(["a", "c"])).toEqual({ a: "missing", ...expected(["c"]) });
  });
});

describe("packs: compaction, merging and orphans", () => {
  // 10 records, `again` of them stored anew: the pack keeps 10 - again (its magic line counts too).
  it.each([
    [6, true],
    [4, false],
  ])("re-storing %i of a pack's 10 records: compacted %s", async (again, compacted) => {
    const all = names("r", 10);
    const [kept, renewed] = [all.slice(again), all.slice(0, again)];
    await run(all);
    const [first] = packs();
    await run(renewed, 2);
    expect(await found(all)).toEqual({ ...expected(kept), ...expected(renewed, 2) });
    expect(packs()).toHaveLength(2);
    expect(packs().includes(first!)).toBe(!compacted);
    const movedTo = new Set(kept.map((n) => locOf(n).pack));
    expect(movedTo.size).toBe(1);
    expect(movedTo.has(first!)).toBe(!compacted);
    expect(movedTo.has(locOf(renewed[0]!).pack)).toBe(false); // not into the run's own pack
    expectNoDangling();
  });

  it("a pack removed by another run while this commit moves its records: the rest still commits", async () => {
    const all = names("r", 10);
    await run(all);
    const [first] = packs();
    const renewed = all.slice(0, 6); // leaves the first pack less than half live: its 4 move
    // Another run's commit removes the pack between this commit's listing and its copy.
    vi.doMock("node:fs", async (orig) => {
      const fs = await orig<typeof import("node:fs")>();
      const openSync = ((file: string, ...rest: unknown[]) => {
        if (String(file).endsWith(first!)) fs.rmSync(file, { force: true });
        return (fs.openSync as (...a: unknown[]) => number)(file, ...rest);
      }) as typeof fs.openSync;
      return { ...fs, openSync };
    });
    try {
      const racing = await fresh(); // this copy sees the fs above
      store(racing, renewed, 2);
      racing.commitPacks();
    } finally {
      vi.doUnmock("node:fs");
    }
    expect(await found(renewed)).toEqual(expected(renewed, 2));
    expect(await found(all.slice(6))).toEqual(same(all.slice(6), "missing"));
    expectNoDangling();
  });

  it("an entry named __proto__ is a name like any other", () => {
    const loc: Loc = { pack: STRAY, offset: 22, length: 5 };
    mkdirSync(dir, { recursive: true });
    expect(writeIndex(dir, new Map([["__proto__", loc]]))).toBe(true);
    expect(readIndex(dir)?.get("__proto__")).toEqual(loc);
  });

  it("merges the smallest packs once there are more than 16, keeping 8 and the merged one", async () => {
    const all = names("r", 20);
    const counts: number[] = [];
    for (const n of all) {
      await run([n]);
      counts.push(packs().length);
    }
    // 17 packs: the 9 smallest merge into one, 8 + 1 left; then one more a run.
    expect(counts).toEqual([...Array.from({ length: 16 }, (_, i) => i + 1), 9, 10, 11, 12]);
    expect(await found(all)).toEqual(expected(all));
    expectNoDangling();
  });

  it("keeps a pack or index temp file nothing names while fresh, removes it when over an hour old", async () => {
    await run(["a"]);
    const strays = [STRAY, `${INDEX}.4242.zz.tmp`];
    const other = "notes.txt"; // not the cache's: never removed
    for (const f of [...strays, other]) writeFileSync(join(dir, f), "stray");
    await run(["b"]);
    for (const f of [...strays, other]) expect(existsSync(join(dir, f)), f).toBe(true);
    const old = (Date.now() - 2 * 3600_000) / 1000;
    for (const f of readdirSync(dir)) utimesSync(join(dir, f), old, old); // named packs too
    await run(["c"]);
    for (const f of strays) expect(existsSync(join(dir, f)), f).toBe(false);
    expect(existsSync(join(dir, other))).toBe(true);
    expect(await found(["a", "b", "c"])).toEqual(expected(["a", "b", "c"]));
    expect(packs()).toHaveLength(3);
  });
});
