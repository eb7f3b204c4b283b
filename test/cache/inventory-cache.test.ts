/**
 * The inventory cache (docs/cache.md) never lets a stale answer through: after
 * every kind of change to a dump directory or snapshot, the cached plan's JSON
 * equals the --no-cache plan's, and the host's entry was rewritten. A cache
 * file that is corrupt, truncated or foreign is ignored and rewritten; a cache
 * directory that cannot be written never fails the plan.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  entryBytesOf,
  entryLoc,
  forgetEntry,
  indexedNames,
  plantEntry,
  strayFiles,
} from "../helpers/cache-entries.js";
import { ROOT, hdplan, hdplanAsync } from "../helpers/cli.js";

const MAGIC = Buffer.from("HDPLAN-INVENTORY-CACHE\n", "latin1");
const SAMPLES = join(ROOT, "xml-samples");

let work: string;
let cache: string;
let hostsFile: string;
const hosts: Record<string, string> = {};

function planArgs(extra: string[] = []): string[] {
  return [
    "plan",
    "--domain",
    join(SAMPLES, "domains/vm-mixed.xml"),
    "--source",
    join(SAMPLES, "hosts/src-host"),
    "--hosts-file",
    hostsFile,
    "--descriptors",
    join(SAMPLES, "descriptors"),
    "--format",
    "json",
    "--explain",
    ...extra,
  ];
}

function run(extra: string[] = [], env: Record<string, string> = {}) {
  // Only the inventory cache here: the report cache (test/cache/report-cache.test.ts)
  // would answer unchanged hosts before their entries are read.
  rmSync(join(cache, "hdplan", "reports"), { recursive: true, force: true });
  return hdplan(planArgs(extra), { env: { XDG_CACHE_HOME: cache, HDPLAN_WORKERS: "0", ...env } });
}

/** Cached run and --no-cache run: same code, same JSON. Returns the JSON. */
function same(env: Record<string, string> = {}): string {
  const c = run([], env);
  const n = run(["--no-cache"], env);
  expect(c.stderr).toBe(n.stderr);
  expect(c.code).toBe(n.code);
  expect(c.stdout).toBe(n.stdout);
  expect(c.stdout.length).toBeGreaterThan(100);
  return c.stdout;
}

/** Whether the host has an entry (in the packs' index). */
function cached(name: string): boolean {
  return entryLoc(cache, hosts[name]!, name) !== null;
}

/** Where the host's entry is (pack and offset): changes when the entry is rewritten. */
function stamp(name: string): string {
  const l = entryLoc(cache, hosts[name]!, name);
  return l ? `${l.pack}@${l.offset}` : "none";
}

function entryOf(name: string): Buffer {
  return entryBytesOf(cache, hosts[name]!, name);
}

function plant(name: string, bytes: Buffer, length?: number): void {
  plantEntry(cache, hosts[name]!, name, bytes, length);
}

/** A change must be seen: the cached run equals --no-cache and the entry was rewritten. */
function afterChange(name: string, change: () => void, expectOutputChange: boolean): void {
  const before = same();
  const s0 = stamp(name);
  change();
  const after = same();
  expect(stamp(name)).not.toBe(s0);
  if (expectOutputChange) expect(after).not.toBe(before);
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "hdplan-cache-"));
  cache = join(work, "cache");
  for (const h of ["host-a", "host-b"]) {
    hosts[h] = join(work, h);
    cpSync(join(SAMPLES, "hosts", h), hosts[h]!, { recursive: true });
  }
  // host-e's dump under another key, carrying its descriptor in the dump
  // (descriptors/) instead of the global directory.
  hosts["dump-e"] = join(work, "dump-e");
  cpSync(join(SAMPLES, "hosts/host-e"), hosts["dump-e"]!, { recursive: true });
  mkdirSync(join(hosts["dump-e"]!, "descriptors"));
  cpSync(
    join(SAMPLES, "descriptors/host-e/t4-release-550.144.conf"),
    join(hosts["dump-e"]!, "descriptors/t4.conf"),
  );
  // A snapshot target, from host-b's dump.
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "scripts/dump-to-snapshot.mjs"),
      "--out",
      join(work, "snaps"),
      "--created-at",
      "2026-01-01T00:00:00Z",
      join(SAMPLES, "hosts/host-c"),
    ],
    { encoding: "utf8" },
  );
  expect(r.status, r.stderr).toBe(0);
  hosts["host-c"] = join(work, "snaps/host-c.json");
  hostsFile = join(work, "hosts.txt");
  writeFileSync(hostsFile, `${Object.values(hosts).join("\n")}\n`);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("inventory cache: staleness cannot leak", () => {
  it("a cold run writes one entry per file target; a warm run keeps them and answers the same", () => {
    const cold = same();
    for (const h of Object.keys(hosts)) expect(cached(h)).toBe(true);
    expect(strayFiles(cache)).toEqual([]);
    const stamps = Object.keys(hosts).map(stamp);
    expect(run().stdout).toBe(cold);
    // A hit does not rewrite the entry.
    expect(Object.keys(hosts).map(stamp)).toEqual(stamps);
  });

  it("a valid entry is what the warm run uses (the XML is not read)", () => {
    same();
    const e = deserialize(entryOf("host-b").subarray(MAGIC.length + 32)) as { inventory: string };
    e.inventory = JSON.stringify({ ...JSON.parse(e.inventory), hostname: "planted-by-test.example" });
    plant("host-b", entryBytes(e));
    expect(run().stdout).toContain("planted-by-test.example");
    // Any change to the host makes it read afresh again.
    utimesSync(join(hosts["host-b"]!, "host.json"), new Date(), new Date(Date.now() - 5000));
    expect(run().stdout).not.toContain("planted-by-test.example");
  });

  it("the --source is read in full, and its inventory comes from its entry until it changes", () => {
    const fresh = same();
    // The source's entry as plan names it (--source path, key from its name).
    const src: [string, string, string] = [cache, join(SAMPLES, "hosts/src-host"), "src-host"];
    const e = deserialize(entryBytesOf(...src).subarray(MAGIC.length + 32)) as { inventory: string };
    // Planted: a source without node devices (every VM device is missing there).
    e.inventory = JSON.stringify({ ...JSON.parse(e.inventory), devices: [] });
    plantEntry(...src, entryBytes(e));
    const planted = run().stdout;
    expect(planted).not.toBe(fresh);
    expect(run(["--no-cache"]).stdout).toBe(fresh);
    // A bad entry is rewritten (the fingerprint check itself is the same
    // code as for any target: the cases below).
    plantEntry(...src, Buffer.from("corrupt"));
    expect(run().stdout).toBe(fresh);
    expect(
      entryBytesOf(...src)
        .subarray(0, MAGIC.length)
        .equals(MAGIC),
    ).toBe(true);
  });

  it("edit and remove: node device files", () => {
    const f = join(hosts["host-a"]!, "nodedev/mdev_3b9d7e21_0c5a_4f6e_8d14_a2f6c9e0b735.xml");
    // No IOMMU group: the mdev is defined but not shown active (reserved).
    afterChange(
      "host-a",
      () => writeFileSync(f, readFileSync(f, "utf8").replace(/<iommuGroup[^>]*>/, "")),
      true,
    );
    afterChange("host-a", () => rmSync(join(hosts["host-a"]!, "nodedev/pci_0000_19_00_3.xml")), true);
  });

  it("edit: host.json (content)", () => {
    const f = join(hosts["host-a"]!, "host.json");
    afterChange("host-a", () => writeFileSync(f, readFileSync(f, "utf8").replace("10.10.0", "8.0.0")), true);
  });

  it("touch: mtime only, same content", () => {
    const f = join(hosts["host-a"]!, "nodedev/computer.xml");
    afterChange("host-a", () => utimesSync(f, new Date(), new Date(Date.now() - 3600_000)), false);
  });

  it("replace: same size and mtime, new inode (ctime and inode are in the key)", () => {
    const f = join(hosts["host-a"]!, "host.json");
    // Whole seconds, so the replacement can carry exactly the same mtime.
    utimesSync(f, 1_700_000_000, 1_700_000_000);
    // The directory's mtime too (a rename changes it): only ctime and inode tell.
    const dir = hosts["host-a"]!;
    utimesSync(dir, 1_700_000_000, 1_700_000_000);
    const st = statSync(f, { bigint: true });
    afterChange(
      "host-a",
      () => {
        const text = readFileSync(f, "utf8");
        const next = text.includes("8.0.0")
          ? text.replace("8.0.0", "9.0.0")
          : text.replace("10.10.0", "10.11.0");
        expect(next.length).toBe(text.length);
        writeFileSync(`${f}.new`, next);
        utimesSync(`${f}.new`, 1_700_000_000, 1_700_000_000);
        renameSync(`${f}.new`, f);
        utimesSync(dir, 1_700_000_000, 1_700_000_000);
        const now = statSync(f, { bigint: true });
        expect(now.mtimeNs).toBe(st.mtimeNs);
        expect(now.size).toBe(st.size);
        expect(now.ino).not.toBe(st.ino);
      },
      true,
    );
  });

  it("add and remove: a domain", () => {
    const d = join(hosts["host-b"]!, "domains");
    mkdirSync(d, { recursive: true });
    const src = readdirSync(join(hosts["host-a"]!, "domains"))[0]!;
    afterChange("host-b", () => cpSync(join(hosts["host-a"]!, "domains", src), join(d, "copied.xml")), true);
    afterChange("host-b", () => rmSync(join(d, "copied.xml")), true);
  });

  it("add and remove: a network", () => {
    const d = join(hosts["host-b"]!, "networks");
    mkdirSync(d, { recursive: true });
    const src = readdirSync(join(hosts["host-a"]!, "networks"))[0]!;
    afterChange("host-b", () => cpSync(join(hosts["host-a"]!, "networks", src), join(d, "net.xml")), false);
    afterChange("host-b", () => rmSync(join(d, "net.xml")), false);
  });

  it("add and remove: a node device file", () => {
    const f = join(hosts["dump-e"]!, "nodedev/extra.xml");
    afterChange("dump-e", () => cpSync(join(hosts["host-a"]!, "nodedev/pci_0000_30_00_0.xml"), f), false);
    afterChange("dump-e", () => rmSync(f), false);
  });

  it("edit, remove and add back: a descriptor in the dump", () => {
    const f = join(hosts["dump-e"]!, "descriptors/t4.conf");
    const text = readFileSync(f, "utf8");
    afterChange("dump-e", () => rmSync(f), true);
    afterChange("dump-e", () => writeFileSync(f, text), true);
    afterChange("dump-e", () => appendFileSync(f, "\n# a comment\n"), false);
  });

  it("sys/: edit a fact, add and remove files", () => {
    const v = join(hosts["host-a"]!, "sys/module/nvidia/version");
    afterChange("host-a", () => writeFileSync(v, "999.1.2\n"), false);
    afterChange("host-a", () => rmSync(join(hosts["host-a"]!, "sys/module"), { recursive: true }), false);
    afterChange(
      "host-a",
      () => {
        mkdirSync(join(hosts["host-a"]!, "sys/module/nvidia"), { recursive: true });
        writeFileSync(v, "550.144.03\n");
      },
      false,
    );
  });

  it("devlink-dev-info.json: add and remove", () => {
    const f = join(hosts["host-a"]!, "devlink-dev-info.json");
    afterChange(
      "host-a",
      () =>
        writeFileSync(
          f,
          JSON.stringify({
            info: {
              "pci/0000:19:00.0": {
                versions: { fixed: { "fw.psid": "MT_1" }, running: { "fw.version": "1.2.3" } },
              },
            },
          }),
        ),
      false,
    );
    afterChange("host-a", () => rmSync(f), false);
  });

  it("snapshot file: edit in place, touch, replace", () => {
    const f = hosts["host-c"]!;
    afterChange(
      "host-c",
      () => writeFileSync(f, readFileSync(f, "utf8").replace('"hostname":"', '"hostname":"x')),
      true,
    );
    afterChange("host-c", () => utimesSync(f, new Date(), new Date(Date.now() - 60_000)), false);
    afterChange(
      "host-c",
      () => {
        writeFileSync(`${f}.new`, readFileSync(f, "utf8").replace('"hostname":"x', '"hostname":"y'));
        renameSync(`${f}.new`, f);
      },
      true,
    );
  });

  it("an input stamped after the run started (racy) is not written; once it is older, it is", () => {
    same();
    const f = join(hosts["host-a"]!, "host.json");
    forgetEntry(cache, hosts["host-a"]!, "host-a");
    const future = new Date(Date.now() + 3600_000);
    utimesSync(f, future, future);
    same();
    expect(cached("host-a")).toBe(false);
    const past = new Date(Date.now() - 3600_000);
    utimesSync(f, past, past);
    same();
    expect(cached("host-a")).toBe(true);
  });

  it("0 and 2 workers give the same output, cold and warm, with and without the cache", () => {
    rmSync(cache, { recursive: true, force: true });
    const outs = [
      run([], { HDPLAN_WORKERS: "2" }), // cold, on workers
      run([], { HDPLAN_WORKERS: "2" }), // warm, on workers
      run([], { HDPLAN_WORKERS: "0" }), // warm, main thread
      run(["--no-cache"], { HDPLAN_WORKERS: "2" }),
      run(["--no-cache"], { HDPLAN_WORKERS: "0" }),
    ];
    for (const o of outs) {
      expect(o.code).toBe(outs[0]!.code);
      expect(o.stdout).toBe(outs[0]!.stdout);
    }
    // The workers wrote entries in packs of their own, and the main thread
    // put them in the index before the run ended; no temporary file is left.
    for (const h of Object.keys(hosts)) expect(cached(h)).toBe(true);
    expect(strayFiles(cache)).toEqual([]);
  });
});

function entryBytes(e: unknown): Buffer {
  const payload = serialize(e);
  return Buffer.concat([MAGIC, createHash("sha256").update(payload).digest(), payload]);
}

describe("inventory cache: runs at the same time", () => {
  /** The plan as a child process that runs alongside others (hdplan() waits for each). */
  function runAsync(env: Record<string, string>) {
    rmSync(join(cache, "hdplan", "reports"), { recursive: true, force: true });
    return hdplanAsync(planArgs(), { env: { XDG_CACHE_HOME: cache, ...env }, timeoutMs: 60_000 });
  }

  it("four cold runs committing into one cache at once: each answers as --no-cache, and a valid index is left", async () => {
    const ref = run(["--no-cache"]);
    rmSync(cache, { recursive: true, force: true });
    const runs = await Promise.all(["0", "2", "0", "2"].map((w) => runAsync({ HDPLAN_WORKERS: w })));
    for (const r of runs) {
      expect(r.code).toBe(ref.code);
      expect(r.stdout).toBe(ref.stdout);
    }
    // Whichever commit came last, the index is valid and names only packs that are there;
    // entries lost to a concurrent commit are misses, and the next runs answer the same.
    expect(indexedNames(cache).length).toBeGreaterThan(0);
    expect(strayFiles(cache)).toEqual([]);
    expect(same()).toBe(ref.stdout);
    for (const h of Object.keys(hosts)) expect(cached(h)).toBe(true);
    expect(run().stdout).toBe(ref.stdout);
  });
});

describe("inventory cache: bad cache files are never trusted", () => {
  const planted = (mutate: (e: Record<string, unknown>) => void) => {
    same();
    const e = deserialize(entryOf("host-b").subarray(MAGIC.length + 32)) as Record<string, unknown>;
    const inv = JSON.parse(e.inventory as string) as { hostname: string };
    inv.hostname = "planted-by-test.example";
    e.inventory = JSON.stringify(inv);
    mutate(e);
    plant("host-b", entryBytes(e));
    const out = same();
    expect(out).not.toContain("planted-by-test.example");
    // Rewritten: a valid entry again.
    expect(entryOf("host-b").subarray(0, MAGIC.length).equals(MAGIC)).toBe(true);
    expect(entryOf("host-b").toString("latin1")).not.toContain("planted-by-test");
  };

  it("another format version", () => planted((e) => (e.format = 0)));
  it("another hdplan version", () => planted((e) => (e.hdplan = "0.0.0-other")));
  it("another V8", () => planted((e) => (e.v8 = "1.0")));
  it("another target (a hash collision or a copied file)", () => planted((e) => (e.target = "/elsewhere")));
  it("a stale fingerprint", () => planted((e) => (e.fingerprint = `${e.fingerprint}x`)));
  it("no inventory", () => planted((e) => delete e.inventory));
  it("an inventory that is not JSON", () => planted((e) => (e.inventory = "{not json")));
  it("an inventory of the wrong shape", () => planted((e) => (e.inventory = JSON.stringify({ key: 1 }))));
  it("the V8 object graph of format 2", () =>
    planted((e) => {
      e.format = 3;
      e.inventory = { hostname: "planted-by-test.example", devices: [] };
    }));

  it("corrupt, truncated, foreign and empty entries, and a bad index", () => {
    const packs = join(cache, "hdplan", "inventory");
    const cases: (() => void)[] = [
      () => plant("host-b", Buffer.from("not a cache file at all\n")),
      () => {
        const b = entryOf("host-b");
        plant("host-b", b.subarray(0, b.length >> 1), b.length); // cut short
      },
      () => {
        const b = Buffer.from(entryOf("host-b"));
        b[b.length - 10] = b[b.length - 10]! ^ 0xff; // one flipped byte: the checksum fails
        plant("host-b", b);
      },
      () => plant("host-b", Buffer.concat([MAGIC, Buffer.alloc(32), serialize({ format: 1 })])),
      () => plant("host-b", Buffer.alloc(0)),
      // The index itself: garbage, then one flipped byte. Every entry is then missed and written again.
      () => writeFileSync(join(packs, "index.p1"), "not an index\n"),
      () => {
        const f = join(packs, "index.p1");
        const b = readFileSync(f);
        b[b.length - 3] = b[b.length - 3]! ^ 0xff;
        writeFileSync(f, b);
      },
    ];
    for (const spoil of cases) {
      same();
      spoil();
      same();
      const b = entryOf("host-b");
      expect(b.subarray(0, MAGIC.length).equals(MAGIC)).toBe(true);
      const payload = b.subarray(MAGIC.length + 32);
      expect(
        createHash("sha256")
          .update(payload)
          .digest()
          .equals(b.subarray(MAGIC.length, MAGIC.length + 32)),
      ).toBe(true);
    }
  });

  it("a cache directory that cannot be made, or no HOME, never fails the plan", () => {
    const ref = run(["--no-cache"]);
    expect(ref.stdout.length).toBeGreaterThan(100);
    const blocker = join(work, "not-a-dir");
    writeFileSync(blocker, "x");
    for (const env of <Record<string, string>[]>[
      { XDG_CACHE_HOME: blocker }, // mkdir fails: ENOTDIR
      { XDG_CACHE_HOME: "", HOME: "" }, // nowhere to cache
      { XDG_CACHE_HOME: "relative/dir", HOME: "" }, // XDG: relative paths are ignored
    ]) {
      const r = run([], env);
      expect(r.stderr).toBe(ref.stderr);
      expect(r.code).toBe(ref.code);
      expect(r.stdout).toBe(ref.stdout);
    }
    expect(existsSync(join(ROOT, "relative"))).toBe(false);
  });

  it("the default directory is $HOME/.cache/hdplan", () => {
    const home = join(work, "home");
    mkdirSync(home);
    expect(run([], { XDG_CACHE_HOME: "", HOME: home }).stdout).toBe(run(["--no-cache"]).stdout);
    // Every target and the --source.
    expect(indexedNames(join(home, ".cache")).length).toBe(Object.keys(hosts).length + 1);
  });
});
