/**
 * Report cache (docs/cache.md "Report cache"): a repeated `plan` of the same
 * VM over unchanged hosts reads no inventory and evaluates nothing. For one
 * *plan key* (everything the planner is set up from: the domain XML text, the
 * source host's fingerprint, the options, the build) one file holds each
 * host's evaluated report together with the fingerprint hash of the host
 * inventory it was evaluated on. A host whose fingerprint is the recorded one
 * gets its recorded report; any other host is read and evaluated as without
 * this cache, and the file is rewritten with what this run evaluated.
 *
 * Why a report may be reused: a host's report is a function of the planner's
 * set-up and of that host's inventory alone (evaluateHost; no clock is read).
 * The state the planner shares between hosts is the mdev UUIDs handed out,
 * keyed per host, and descriptor-file usage: each record keeps the files its
 * host's devices selected, and a hit replays them (Evaluated.usage). Never
 * trusted blindly: the file is used only when it is our own, its magic and
 * checksum match, and its format, hdplan version, code id and full plan key
 * are this run's.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, statSync, unlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { HostInventory } from "../inventory/types.js";
import type { RawHost } from "../model.js";
import type { Evaluated, PlanSetupInput } from "../parallel/setup.js";
import type { HostResult } from "../targets/index.js";
import { preKey } from "../targets/index.js";
import type { TargetSpec } from "../targets/keys.js";
import { codeId } from "./code-id.js";
import {
  cacheDir,
  fingerprint,
  fingerprintHash,
  fingerprintLines,
  keepFingerprint,
  racy,
  runStamp,
  scan,
  version,
  withCachedInventory,
} from "./inventory.js";
import { readChecked, writeChecked } from "./checked.js";

/** Bump when the file layout or HostReport changes. */
export const REPORT_FORMAT = 1;
const MAGIC = Buffer.from("HDPLAN-REPORT-CACHE\n", "latin1");
/**
 * Below this many fingerprint lines in all (paths to stat), the look-up walks
 * the trees on this thread alone: a thread costs more than it saves. Above,
 * this thread walks its share while the others (started first) walk theirs.
 * Measured on 2 cores, warm plan of 1,000 hosts, whole process: one all.xml a
 * host (~21 lines) 0.58-0.79 s alone, 0.71-0.88 s with a second thread; one
 * file per device (~210 lines) 2.15-2.45 s alone, 1.27-1.51 s with a second
 * thread (1.39-1.83 s with two threads while this one waited).
 */
export const MIN_LINES_FOR_WORKERS = 60_000;
/** Report files kept (least recently used go first). */
export const MAX_REPORT_FILES = 32;

/** Counters of this thread. */
export const reportStats = { hits: 0, misses: 0, writes: 0, rejected: 0 };

interface Rec {
  key: string;
  target: string;
  /** fingerprintHash of the host's fingerprint the report was evaluated on. */
  fp: string;
  report: Evaluated["report"];
  /** The descriptor files this host's devices selected (Evaluated.usage). */
  usage?: Evaluated["usage"];
}

interface ReportFile {
  format: number;
  hdplan: string;
  code: string;
  plan: string;
  records: [id: string, rec: Rec][];
}

/**
 * The --source's fingerprint hash, taken before it is read, for the plan key;
 * only when it is not racy (else the source read could differ from it). One
 * entry a run, so a WeakMap costs nothing here (unlike one entry a host:
 * src/slots.ts).
 */
const sourceFp = new WeakMap<RawHost, string>();

/** Take the fingerprint of a --source file target, before it is read; null when racy or not cacheable. */
export function sourceFingerprintBefore(target: string): string | null {
  const dir = cacheDir();
  if (!dir) return null;
  const start = runStamp(dir);
  const fp = fingerprint(target);
  return fp === null || racy(fp, start) ? null : fp;
}

/**
 * After the --source was read (in full: its domain XML is looked up by name)
 * with `fp` taken before: record its hash for the plan key, and give the
 * source the inventory cached for that fingerprint so it is not built again
 * (on a miss the one built is stored).
 */
export function setSourceFingerprint(
  raw: RawHost,
  fp: string | null,
  build: (raw: RawHost) => HostInventory,
): void {
  if (!fp) return;
  sourceFp.set(raw, fingerprintHash(fp));
  withCachedInventory(raw, fp, build);
}

/**
 * The plan key: every field of PlanSetupInput (the compiler fails here when
 * one is added and not placed in the key), or null when this set-up is not
 * cacheable (cache off, QEMU's answer, a source read without a trusted
 * fingerprint). `descriptorKey` is every descriptor file of the shared
 * selector (global and the source's) as data: descriptorsDir stands in the key
 * as the files read from it, so an edit there is a new key.
 */
export function planKey(input: PlanSetupInput, descriptorKey: string): string | null {
  const {
    domainText,
    domainFile,
    sourceRaw,
    descriptorsDir,
    assumeVersions,
    explain,
    qemu,
    cache,
    // What a worker gets of the source, derived from sourceRaw (in the key by its fingerprint).
    sourceInventory: _derived,
    ...rest
  } = input;
  const none: Record<string, never> = rest;
  if (Object.keys(none).length > 0 || !cache || qemu !== undefined) return null;
  let source: [string, string, string] | null = null;
  if (sourceRaw) {
    const fp = sourceFp.get(sourceRaw);
    if (!fp || sourceRaw.kind === "live") return null;
    source = [sourceRaw.key, sourceRaw.target, fp];
  }
  return JSON.stringify([
    REPORT_FORMAT,
    domainFile,
    domainText,
    source,
    descriptorsDir ?? null,
    descriptorKey,
    assumeVersions,
    explain,
  ]);
}

/** Only plain JSON data survives a round trip unchanged (no NaN/Infinity, Map, class instance). */
function plainJson(v: unknown): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every((x) => x !== undefined && plainJson(x));
  if (typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const x of Object.values(v as Record<string, unknown>))
    if (x !== undefined && !plainJson(x)) return false;
  return true;
}

function validUsage(u: unknown): boolean {
  return (
    Array.isArray(u) &&
    u.every(
      (x) =>
        x !== null &&
        typeof x === "object" &&
        typeof (x as { id?: unknown }).id === "string" &&
        typeof (x as { path?: unknown }).path === "string" &&
        typeof (x as { used?: unknown }).used === "boolean",
    )
  );
}

const recId = (key: string, target: string) => `${key}\0${target}`;

export class ReportCache {
  private readonly records = new Map<string, Rec>();
  private changed = false;

  private constructor(
    private readonly file: string,
    private readonly plan: string,
  ) {}

  /** The cache of this plan key (loaded when its file is valid), or null when there is none. */
  static open(plan: string | null): ReportCache | null {
    if (plan === null) return null;
    const dir = cacheDir();
    if (!dir || runStamp(dir) === null) return null;
    const name = createHash("sha256").update(`${version()}\0${codeId()}\0${plan}`).digest("hex");
    const rc = new ReportCache(join(dir, "reports", `${name.slice(0, 40)}.r${REPORT_FORMAT}`), plan);
    rc.load();
    return rc;
  }

  private load(): void {
    const payload = readChecked(this.file, MAGIC);
    if (payload === "missing") return; // every host is a miss
    if (payload === "corrupt") {
      reportStats.rejected++;
      return;
    }
    let f: ReportFile;
    try {
      f = JSON.parse(payload.toString("utf8")) as ReportFile;
    } catch {
      reportStats.rejected++;
      return;
    }
    if (
      !f ||
      f.format !== REPORT_FORMAT ||
      f.hdplan !== version() ||
      f.code !== codeId() ||
      f.plan !== this.plan ||
      !Array.isArray(f.records)
    ) {
      reportStats.rejected++;
      return;
    }
    for (const r of f.records) {
      const rec = Array.isArray(r) ? r[1] : undefined;
      if (
        typeof r[0] !== "string" ||
        !rec ||
        typeof rec.key !== "string" ||
        typeof rec.target !== "string" ||
        typeof rec.fp !== "string" ||
        r[0] !== recId(rec.key, rec.target) ||
        !rec.report ||
        typeof rec.report !== "object" ||
        !(rec.usage === undefined || validUsage(rec.usage))
      ) {
        reportStats.rejected++;
        this.records.clear();
        return;
      }
      this.records.set(r[0], rec);
    }
    try {
      // Least recently used goes first when the directory is pruned.
      const now = new Date();
      utimesSync(this.file, now, now);
    } catch {
      // read-only: fine
    }
  }

  /**
   * The recorded result of each file target whose fingerprint, taken now, is
   * the recorded one; null for the others (read as usual). `hashes` takes the
   * fingerprints of many targets at once (worker threads), when given.
   */
  async lookupAll(
    specs: TargetSpec[],
    hashes?: (targets: string[], n: number) => Promise<(string | null)[]>,
    threadCount = 1,
    minLines = MIN_LINES_FOR_WORKERS,
  ): Promise<(Evaluated | null)[]> {
    const out: (Evaluated | null)[] = specs.map(() => null);
    const want: { i: number; rec: Rec }[] = [];
    specs.forEach((spec, i) => {
      if (spec.kind !== "path" || this.records.size === 0) return;
      let key: string | null;
      try {
        key = preKey(spec);
      } catch {
        return; // the read reports it
      }
      const rec = key === null ? undefined : this.records.get(recId(key, spec.target));
      if (rec) want.push({ i, rec });
    });
    const targets = want.map((w) => specs[w.i]!.target);
    // Threads pay only for a long walk (docs/cache.md "Report cache").
    let lines = 0;
    for (const w of want) lines += fingerprintLines(w.rec.fp);
    // The threads take the tail (started first, so they load while this
    // thread walks the head); this thread the head, its misses' fingerprints
    // kept for their reads (still one fingerprint each, taken before reading).
    const threads = threadCount >= 2 && lines >= minLines ? threadCount : 1;
    const head = threads > 1 ? Math.ceil(targets.length / threads) : targets.length;
    const tail =
      threads > 1 && head < targets.length && hashes ? hashes(targets.slice(head), threads - 1) : null;
    const got: (string | null)[] = [];
    for (let k = 0; k < head; k++) {
      const taken = scan(targets[k]!);
      const h = taken === null ? null : fingerprintHash(taken.fp);
      if (h !== want[k]!.rec.fp) keepFingerprint(targets[k]!, taken);
      got.push(h);
    }
    if (tail) got.push(...(await tail));
    want.forEach(({ i, rec }, k) => {
      if (got[k] !== rec.fp) return;
      out[i] = {
        key: rec.key,
        target: rec.target,
        report: rec.report,
        fp: rec.fp,
        ...(rec.usage ? { usage: rec.usage } : {}),
        cached: true,
      };
    });
    const hits = out.filter((x) => x !== null).length;
    reportStats.hits += hits;
    reportStats.misses += specs.length - hits;
    return out;
  }

  /**
   * Keep what this run evaluated (results in spec order) and write the file
   * when anything changed. Records of hosts not in this run stay.
   */
  save(specs: TargetSpec[], results: HostResult<Evaluated>[]): void {
    results.forEach((r, i) => {
      const spec = specs[i]!;
      if (!r.ok || spec.kind !== "path" || !r.host.fp) return;
      let key: string | null;
      try {
        key = preKey(spec);
      } catch {
        return;
      }
      if (key === null || key !== r.host.key) return;
      const id = recId(key, spec.target);
      const old = this.records.get(id);
      if (old && old.fp === r.host.fp && old.report === r.host.report) return;
      if (!plainJson(r.host.report)) return;
      this.records.set(id, {
        key,
        target: r.host.target,
        fp: r.host.fp,
        report: r.host.report,
        ...(r.host.usage ? { usage: r.host.usage } : {}),
      });
      this.changed = true;
    });
    if (this.changed) this.write();
  }

  private write(): void {
    const body: ReportFile = {
      format: REPORT_FORMAT,
      hdplan: version(),
      code: codeId(),
      plan: this.plan,
      records: [...this.records],
    };
    const dir = join(this.file, "..");
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch {
      return; // no report cache this time: the plan goes on
    }
    if (!writeChecked(this.file, MAGIC, Buffer.from(JSON.stringify(body), "utf8"))) return;
    reportStats.writes++;
    prune(dir);
  }
}

/** Keep the MAX_REPORT_FILES most recently used report files. */
function prune(dir: string): void {
  const files = readdirSync(dir)
    .filter((n) => /\.r\d+$/.test(n))
    .flatMap((n) => {
      try {
        return [{ n, t: statSync(join(dir, n)).mtimeMs }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => b.t - a.t || (a.n < b.n ? -1 : 1));
  for (const f of files.slice(MAX_REPORT_FILES)) {
    try {
      unlinkSync(join(dir, f.n));
    } catch {
      // another run removed it
    }
  }
}
