/**
 * The report cache (docs/cache.md "Report cache", src/cache/reports.ts): a
 * repeated plan answers each unchanged host from its recorded report, and
 * nothing stale leaks. Every case compares the cached run with --no-cache and
 * checks, with a marker planted in the recorded reports, which hosts were
 * answered from the file: a changed host never is, an unchanged one still is,
 * and a change to anything the plan is set up from (domain, source, options)
 * uses no record at all.
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fingerprint, fingerprintHash, fingerprintLines } from "../../src/cache/inventory.js";
import { MAX_REPORT_FILES, ReportCache } from "../../src/cache/reports.js";
import type { Evaluated } from "../../src/parallel/setup.js";
import { parseTargetSpec } from "../../src/targets/keys.js";
import { ROOT, hdplan } from "../helpers/cli.js";

const MAGIC = Buffer.from("HDPLAN-REPORT-CACHE\n", "latin1");
const SAMPLES = join(ROOT, "xml-samples");
const HOSTS = ["host-a", "host-b", "host-d", "host-i"];
const MARK = "planted-by-report-test.example";

let work: string;
let cache: string;
let domain: string;
let source: string;
let hostsFile: string;
const host: Record<string, string> = {};

function run(extra: string[] = [], env: Record<string, string> = {}) {
  return hdplan(
    ["plan", "--domain", domain, "--source", source, "--hosts-file", hostsFile, "--format", "json", ...extra],
    { env: { XDG_CACHE_HOME: cache, HDPLAN_WORKERS: "0", ...env } },
  );
}

/** Cached run and --no-cache run: same exit code, stderr and JSON. Returns the JSON. */
function same(extra: string[] = [], env: Record<string, string> = {}): string {
  const c = run(extra, env);
  const n = run([...extra, "--no-cache"], env);
  expect(c.stderr).toBe(n.stderr);
  expect(c.code).toBe(n.code);
  expect(c.stdout).toBe(n.stdout);
  expect(c.stdout.length).toBeGreaterThan(100);
  return c.stdout;
}

const reportsDir = () => join(cache, "hdplan", "reports");
function reportFiles(): string[] {
  return existsSync(reportsDir()) ? readdirSync(reportsDir()).filter((n) => /\.r\d+$/.test(n)) : [];
}

interface Body {
  format: number;
  hdplan: string;
  code: string;
  plan: string;
  records: [string, { key: string; target: string; fp: string; report: { hostname: string | null } }][];
}

function readBody(file: string): Body {
  return JSON.parse(
    readFileSync(file)
      .subarray(MAGIC.length + 32)
      .toString("utf8"),
  ) as Body;
}

function writeBody(file: string, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body), "utf8");
  writeFileSync(file, Buffer.concat([MAGIC, createHash("sha256").update(payload).digest(), payload]));
}

/** The one report file of this plan (the newest). */
function theFile(): string {
  const files = reportFiles()
    .map((n) => join(reportsDir(), n))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  expect(files.length).toBeGreaterThan(0);
  return files[0]!;
}

/** Put MARK as the hostname of every recorded report (checksum recomputed): a hit shows it. */
function plant(): void {
  const f = theFile();
  const b = readBody(f);
  for (const [, r] of b.records) r.report.hostname = MARK;
  writeBody(f, b);
}

/** The hosts whose answer came from the planted records. */
function planted(out: string): string[] {
  const j = JSON.parse(out) as { hosts: { host: string; hostname: string | null }[] };
  return j.hosts
    .filter((h) => h.hostname === MARK)
    .map((h) => h.host)
    .sort();
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "hdplan-reports-"));
  cache = join(work, "cache");
  for (const h of [...HOSTS, "src-host"]) {
    host[h] = join(work, h);
    cpSync(join(SAMPLES, "hosts", h), host[h]!, { recursive: true });
  }
  source = host["src-host"]!;
  domain = join(work, "vm-mixed.xml");
  cpSync(join(SAMPLES, "domains/vm-mixed.xml"), domain);
  hostsFile = join(work, "hosts.txt");
  writeFileSync(hostsFile, `${HOSTS.map((h) => host[h]).join("\n")}\n`);
  // Every input older than the run start (not racy), so the first run records.
  const old = new Date(Date.now() - 3600_000);
  for (const f of [domain, hostsFile]) utimesSync(f, old, old);
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

beforeEach(() => {
  rmSync(cache, { recursive: true, force: true });
});

describe("report cache: a repeated plan answers unchanged hosts from the record", () => {
  it("a cold run writes one report file; a warm run answers every host from it, the same as --no-cache", () => {
    const cold = same();
    expect(reportFiles()).toHaveLength(1);
    const b = readBody(theFile());
    expect(b.records.map(([, r]) => r.key).sort()).toEqual(HOSTS);
    expect(run().stdout).toBe(cold);
    plant();
    expect(planted(run().stdout)).toEqual(HOSTS);
    // Planted answers are still valid JSON of the plan: only the hostname differs.
    expect(run().stdout.replaceAll(MARK, "x")).not.toBe(cold);
  });

  it("a changed host is evaluated again; the unchanged ones still come from the record", () => {
    same();
    plant();
    const f = join(host["host-a"]!, "host.json");
    writeFileSync(f, readFileSync(f, "utf8").replace("10.10.0", "8.0.0"));
    const old = new Date(Date.now() - 60_000);
    utimesSync(f, old, old);
    const out = run().stdout;
    expect(planted(out)).toEqual(["host-b", "host-d", "host-i"]);
    // The new answer for host-a is the --no-cache one, and it was recorded.
    const n = JSON.parse(run(["--no-cache"]).stdout) as { hosts: { host: string }[] };
    const c = JSON.parse(out) as { hosts: { host: string }[] };
    expect(c.hosts.find((h) => h.host === "host-a")).toEqual(n.hosts.find((h) => h.host === "host-a"));
    expect(readBody(theFile()).records.find(([, r]) => r.key === "host-a")![1].report.hostname).not.toBe(
      MARK,
    );
  });

  it.each([
    [
      "touch (mtime only)",
      (d: string) => utimesSync(join(d, "host.json"), new Date(), new Date(Date.now() - 30_000)),
    ],
    [
      "remove a node device file",
      (d: string) => rmSync(join(d, "nodedev", readdirSync(join(d, "nodedev"))[0]!)),
    ],
    ["add a file anywhere in the tree", (d: string) => writeFileSync(join(d, "notes.txt"), "x")],
  ])("host change: %s", (_, change) => {
    same();
    plant();
    change(host["host-d"]!);
    const out = JSON.parse(run().stdout) as { hosts: { host: string; hostname: string }[] };
    expect(planted(JSON.stringify(out))).toEqual(["host-a", "host-b", "host-i"]);
    const fresh = JSON.parse(run(["--no-cache"]).stdout) as typeof out;
    expect(out.hosts.find((h) => h.host === "host-d")).toEqual(fresh.hosts.find((h) => h.host === "host-d"));
  });

  it("a host stamped after the run started (racy) is not recorded; once it is older, it is", () => {
    const f = join(host["host-b"]!, "host.json");
    const future = new Date(Date.now() + 3600_000);
    utimesSync(f, future, future);
    same();
    expect(readBody(theFile()).records.map(([, r]) => r.key)).not.toContain("host-b");
    const past = new Date(Date.now() - 3600_000);
    utimesSync(f, past, past);
    same();
    expect(readBody(theFile()).records.map(([, r]) => r.key)).toContain("host-b");
  });
});

describe("report cache: a change to what the plan is set up from uses no record", () => {
  const none = (change: () => void, extra: string[] = [], undo?: () => void) => {
    rmSync(cache, { recursive: true, force: true });
    same();
    plant();
    change();
    const out = same(extra);
    expect(planted(out)).toEqual([]);
    undo?.();
  };

  it("the domain XML (content, same path)", () => {
    const text = readFileSync(domain, "utf8");
    none(
      () => writeFileSync(domain, text.replace("<name>vm-mixed</name>", "<name>vm-mixed2</name>")),
      [],
      () => writeFileSync(domain, text),
    );
  });

  it("--explain and --assume-versions", () => {
    none(() => {}, ["--explain"]);
    none(() => {}, ["--assume-versions"]);
  });

  it("the source host (any file of its tree)", () => {
    const f = join(source, "host.json");
    none(() => utimesSync(f, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000)));
  });

  it("a source stamped after the run started: nothing is recorded", () => {
    const f = join(source, "host.json");
    const future = new Date(Date.now() + 3600_000);
    utimesSync(f, future, future);
    same();
    expect(reportFiles()).toEqual([]);
    const past = new Date(Date.now() - 3600_000);
    utimesSync(f, past, past);
    same();
    expect(reportFiles()).toHaveLength(1);
  });

  it("descriptor files: --descriptors is in the key as the files' content", () => {
    const dir = join(work, "descriptors");
    rmSync(dir, { recursive: true, force: true });
    cpSync(join(SAMPLES, "descriptors"), dir, { recursive: true });
    const args = ["--descriptors", dir];
    same(args);
    plant();
    // Answered from the record, and the descriptor-unused warnings are the
    // --no-cache ones (the recorded hosts' usage is replayed).
    const warm = JSON.parse(run(args).stdout) as { warnings: unknown[] };
    const fresh = JSON.parse(run([...args, "--no-cache"]).stdout) as { warnings: unknown[] };
    expect(planted(JSON.stringify(warm))).toEqual(HOSTS);
    expect(warm.warnings).toEqual(fresh.warnings);
    // The key holds the files as parsed: a comment changes nothing...
    const f = join(dir, "t4-relaxed.conf");
    const st = statSync(f);
    const text = readFileSync(f, "utf8");
    writeFileSync(f, `${text}\n# a comment\n`);
    utimesSync(f, st.atime, st.mtime);
    expect(planted(run(args).stdout)).toEqual(HOSTS);
    // ...an edit of what it says (same path, same mtime) is a new key.
    expect(text).toContain('"10de1eb8","10de1eb9"');
    writeFileSync(f, text.replace('"10de1eb8","10de1eb9"', '"10de1eb8"'));
    utimesSync(f, st.atime, st.mtime);
    expect(planted(same(args))).toEqual([]);
    // Without --descriptors: another key again.
    expect(planted(same())).toEqual([]);
  });

  it("a host with descriptor files of its own: recorded with its usage, which a hit replays", () => {
    const d = join(host["host-i"]!, "descriptors");
    mkdirSync(d);
    cpSync(join(SAMPLES, "descriptors/host-e/t4-release-550.144.conf"), join(d, "t4.conf"));
    // A second file that applies to no device: its descriptor-unused warning must survive a hit.
    writeFileSync(join(d, "unused.conf"), "device_api=vfio-pci\ndevice_id=dead:beef\n");
    const old = new Date(Date.now() - 60_000);
    for (const p of [join(d, "t4.conf"), join(d, "unused.conf"), d]) utimesSync(p, old, old);
    try {
      const cold = same();
      expect(cold).toContain("unused.conf");
      expect(
        readBody(theFile())
          .records.map(([, r]) => r.key)
          .sort(),
      ).toEqual(HOSTS);
      // Warm: every host from the record, the same output (warnings included).
      expect(run().stdout).toBe(cold);
      plant();
      const warm = JSON.parse(run().stdout) as { warnings: unknown[] };
      expect(planted(JSON.stringify(warm))).toEqual(HOSTS);
      expect(warm.warnings).toEqual((JSON.parse(cold) as { warnings: unknown[] }).warnings);
    } finally {
      rmSync(d, { recursive: true });
    }
  });
});

describe("report cache: bad report files are never trusted", () => {
  const bad = (mutate: (b: Body, file: string) => void) => {
    const good = same();
    const f = theFile();
    const b = readBody(f);
    for (const [, r] of b.records) r.report.hostname = MARK;
    mutate(b, f);
    const out = same();
    expect(out).toBe(good);
    expect(planted(out)).toEqual([]);
    // Rewritten: the next run uses it again.
    expect(readBody(theFile()).records.length).toBe(HOSTS.length);
  };

  it("another format", () => bad((b, f) => writeBody(f, { ...b, format: 0 })));
  it("another hdplan version", () => bad((b, f) => writeBody(f, { ...b, hdplan: "0.0.0-other" })));
  it("another build (code id)", () => bad((b, f) => writeBody(f, { ...b, code: "0".repeat(64) })));
  it("another plan key", () => bad((b, f) => writeBody(f, { ...b, plan: `${b.plan} ` })));
  it("a record filed under another host", () =>
    bad((b, f) => {
      const [id0, r0] = b.records[0]!;
      const [id1, r1] = b.records[1]!;
      writeBody(f, { ...b, records: [[id0, r1], [id1, r0], ...b.records.slice(2)] });
    }));
  it("a stale fingerprint", () =>
    bad((b, f) => {
      for (const [, r] of b.records) r.fp = `${"0".repeat(64)}.${fingerprintLines(r.fp)}`;
      writeBody(f, b);
    }));
  it("a checksum that does not match", () =>
    bad((b, f) => {
      writeBody(f, b);
      const buf = readFileSync(f);
      buf[buf.length - 2] = (buf[buf.length - 2] ?? 0) ^ 1;
      writeFileSync(f, buf);
    }));
  it("not JSON, truncated, empty", () => {
    for (const mangle of [
      (f: string) => {
        const payload = Buffer.from("{not json");
        writeFileSync(f, Buffer.concat([MAGIC, createHash("sha256").update(payload).digest(), payload]));
      },
      (f: string) => writeFileSync(f, readFileSync(f).subarray(0, 40)),
      (f: string) => writeFileSync(f, ""),
    ]) {
      const good = same();
      mangle(theFile());
      expect(same()).toBe(good);
      expect(readBody(theFile()).records.length).toBe(HOSTS.length);
    }
  });
});

describe("report cache: housekeeping", () => {
  it(`keeps the ${MAX_REPORT_FILES} most recently used report files`, () => {
    mkdirSync(reportsDir(), { recursive: true, mode: 0o700 });
    const old = new Date(Date.now() - 86_400_000);
    for (let i = 0; i < MAX_REPORT_FILES + 5; i++) {
      const f = join(reportsDir(), `${String(i).padStart(40, "0")}.r1`);
      writeFileSync(f, "x");
      utimesSync(f, old, old);
    }
    same();
    const files = reportFiles();
    expect(files).toHaveLength(MAX_REPORT_FILES);
    expect(files.filter((n) => !/^0+\d*\.r1$/.test(n))).toHaveLength(1);
  });

  it("0 and 2 workers give the same output, cold and warm", () => {
    const outs = [
      run([], { HDPLAN_WORKERS: "2" }),
      run([], { HDPLAN_WORKERS: "2" }),
      run([], { HDPLAN_WORKERS: "0" }),
      run(["--no-cache"], { HDPLAN_WORKERS: "0" }),
    ];
    for (const o of outs) {
      expect(o.code).toBe(outs[0]!.code);
      expect(o.stdout).toBe(outs[0]!.stdout);
    }
  });

  it("the fingerprint worker threads give the main thread's hashes (null for what cannot be cached)", async () => {
    const pool = (await import(
      join(ROOT, "dist/parallel/pool.js")
    )) as typeof import("../../src/parallel/pool.js");
    expect(pool.fingerprintWorkersAvailable()).toBe(true);
    const targets = [...HOSTS.map((h) => host[h]!), join(work, "no-such-host"), source];
    const want = targets.map((t) => {
      const fp = fingerprint(t);
      return fp === null ? null : fingerprintHash(fp);
    });
    expect(want[4]).toBeNull();
    expect(await pool.fingerprintOnWorkers(targets, 2)).toEqual(want);
    expect(fingerprintLines(want[0]!)).toBeGreaterThan(5);
  });

  it("a look-up shared with other threads answers each host as one thread does (the tail is theirs, in order)", async () => {
    // In process: a report file written and read by this code (vitest's code id).
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = join(work, "unit-cache");
    try {
      const specs = HOSTS.map((h) => parseTargetSpec(host[h]!, "--host"));
      const results = specs.map((sp, i) => {
        const fp = fingerprint(sp.target)!;
        const report = { host: HOSTS[i]!, rank: null } as unknown as Evaluated["report"];
        return {
          ok: true as const,
          host: { key: HOSTS[i]!, target: sp.target, report, fp: fingerprintHash(fp) },
        };
      });
      ReportCache.open("unit-plan")!.save(specs, results);
      const rc = ReportCache.open("unit-plan")!;
      const alone = await rc.lookupAll(specs);
      expect(alone.map((x) => x?.key ?? null)).toEqual(HOSTS);
      const tails: string[][] = [];
      const hashes = async (targets: string[]) => {
        tails.push(targets);
        return targets.map((t) => {
          const fp = fingerprint(t);
          return fp === null ? null : fingerprintHash(fp);
        });
      };
      const shared = await rc.lookupAll(specs, hashes, 2, 0);
      expect(tails).toEqual([HOSTS.slice(2).map((h) => host[h]!)]);
      expect(shared).toEqual(alone);
      // Below the line count the other threads are not asked.
      expect(await rc.lookupAll(specs, hashes, 2, Number.MAX_SAFE_INTEGER)).toEqual(alone);
      expect(tails).toHaveLength(1);
      // A wrong hash from another thread is a miss for its hosts only.
      const wrong = await rc.lookupAll(specs, async (t) => t.map(() => "0".repeat(64)), 2, 0);
      expect(wrong.map((x) => x?.key ?? null)).toEqual([HOSTS[0], HOSTS[1], null, null]);
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });
});
