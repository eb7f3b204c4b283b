/** Shared plumbing of plan / check / evacuate: read targets, build inventories, load descriptors. */
import { dropKeptFingerprints } from "../cache/inventory.js";
import { commitPacks } from "../cache/packs.js";
import { setSourceFingerprint, sourceFingerprintBefore } from "../cache/reports.js";
import { statSync } from "node:fs";
import { EXIT, HostError, InputError, oneLine } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import { domainMatches, notDefinedOnSource } from "../inventory/select.js";
import type { DomainInfo, RawDomain, RawHost } from "../model.js";
import type { HostInput } from "../pipeline.js";
import { reason } from "../reasons.js";
import { decodeUtf8, MAX_INPUT_FILE_BYTES, readBounded, readTextFile } from "../targets/dump.js";
import { type HostResult, preKey, readTargets } from "../targets/index.js";
import { workerCount, workersAvailable } from "../parallel/pool.js";
import { type TargetSpec, assertUniqueKeys, parseTargetSpec, readHostsFileText } from "../targets/keys.js";
import { readDomain } from "../xml/domain.js";

export interface CommonOptions {
  host?: string[];
  hostsFile?: string;
  source?: string;
  descriptors?: string;
  assumeVersions?: boolean;
  explain?: boolean;
  format?: string;
  concurrency?: string | number;
  timeout?: string | number;
  /** Only the answer on stdout; no progress bar or notes on stderr. */
  quiet?: boolean;
  /** false with --no-cache: file targets are read afresh (docs/cache.md). */
  cache?: boolean;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => string;
  isTTY: boolean;
  color: boolean;
}

export function numberOpt(v: string | number | undefined, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InputError(`--${name} must be a number >= ${min} (got ${v})`);
  return n;
}

export function formatOpt(v: string | undefined): "table" | "json" {
  if (v === undefined || v === "table") return "table";
  if (v === "json") return "json";
  throw new InputError(`--format must be table or json (got ${v})`);
}

export function hostSpecs(opts: CommonOptions): TargetSpec[] {
  const specs = (opts.host ?? []).map((h) => parseTargetSpec(h, "--host"));
  if (opts.hostsFile) specs.push(...readHostsFileText(readTextFile(opts.hostsFile), opts.hostsFile));
  return specs;
}

/** The progress bar appears only for runs longer than this. */
export const PROGRESS_DELAY_MS = 1000;

/**
 * A progress bar on a terminal for runs over PROGRESS_DELAY_MS that clears
 * its line when done (nothing is left in the scrollback). `now` is the clock
 * (tests pass their own).
 */
export function progress(
  io: Io,
  total: number,
  quiet = false,
  now: () => number = Date.now,
): ((done: number, total: number) => void) | undefined {
  if (!io.isTTY || quiet || total <= 3) return undefined;
  const start = now();
  let shown = false;
  return (done, n) => {
    if (done >= n) {
      if (shown) io.stderr("\r\x1b[2K");
      shown = false;
      return;
    }
    if (now() - start < PROGRESS_DELAY_MS) return;
    const w = 30;
    const f = Math.round((done / n) * w);
    io.stderr(`\r[${"#".repeat(f)}${" ".repeat(w - f)}] ${done}/${n} hosts`);
    shown = true;
  };
}

/**
 * Parse a host that was read. A live host whose XML cannot be parsed (e.g. a
 * domain, which may hold any device: fail-closed) is an error host, not bad
 * input: the other hosts are still planned. Files (dump directories,
 * snapshots) are the operator's input: their errors stay InputErrors (exit 2).
 */
export function inventoryOrError(raw: RawHost): HostInput {
  try {
    return { ok: true, inv: buildInventory(raw) };
  } catch (e) {
    if (raw.kind !== "live" || !(e instanceof InputError || e instanceof HostError)) throw e;
    return {
      ok: false,
      key: raw.key,
      target: raw.target,
      error: reason("libvirt-error", `${raw.target}: libvirt returned XML that cannot be read: ${e.message}`),
    };
  }
}

export function knownKey(spec: TargetSpec): string | null {
  try {
    return preKey(spec);
  } catch {
    return null; // an invalid key is reported when the target is read
  }
}

export interface DomainText {
  text: string;
  file: string;
  /** Migratable XML and inactive definition when looked up live. */
  migratableXml?: string;
  inactiveXml?: string | null;
}

/** Reads --source once, when first needed (a name lookup or the plan itself). */
export type SourceReader = () => Promise<RawHost | null>;

/**
 * `fingerprint`: take the --source file target's fingerprint before reading
 * it, for the report cache's plan key (src/cache/reports.ts).
 */
export function sourceReader(
  source: string | undefined,
  timeoutMs: number,
  fingerprint = false,
): SourceReader {
  let p: Promise<RawHost | null> | undefined;
  return () => {
    p ??= source ? readSource(source, timeoutMs, fingerprint) : Promise.resolve(null);
    return p;
  };
}

/** A domain file is anything that exists and is not a directory (pipes and devices included). */
function isDomainFile(p: string): boolean {
  try {
    return !statSync(p).isDirectory();
  } catch {
    return false;
  }
}

interface SourceDomain {
  raw: RawDomain;
  info: DomainInfo;
}

/** The source's domains that parse (a domain that does not is reported when the source is built). */
function sourceDomains(raw: RawHost): { domains: SourceDomain[]; unreadable: number } {
  const domains: SourceDomain[] = [];
  let unreadable = 0;
  for (const rd of raw.domains) {
    try {
      domains.push({ raw: rd, info: readDomain(rd.xml, rd.origin) });
    } catch {
      unreadable++;
    }
  }
  return { domains, unreadable };
}

function notDefinedOn(id: string, raw: RawHost, domains: SourceDomain[]): InputError {
  return notDefinedOnSource(
    id,
    raw.target,
    domains.map((d) => d.info.name),
  );
}

/**
 * Look a domain up by name, UUID or file name in a source read from files (a
 * dump directory's domains/ or a snapshot): the live XML, and the inactive
 * definition when the snapshot recorded one (null: transient; a dump
 * directory cannot tell, so it stays unknown).
 */
export function domainFromSource(id: string, raw: RawHost): DomainText {
  const { domains } = sourceDomains(raw);
  const hits = domains.filter((d) => domainMatches(id, d.info, d.raw.origin));
  const uuids = new Set(hits.map((d) => d.info.uuid));
  if (hits.length === 0) {
    // A path (has a directory part or ends in .xml) is a file the operator meant, not a name.
    if (/[\\/]|\.xml$/i.test(id)) throw new InputError(`${id}: no such domain XML file`, id);
    if (domains.length === 0)
      throw new InputError(
        `${id}: no such domain XML file, and source ${raw.target} has no domain data to look it up in`,
        id,
      );
    throw notDefinedOn(id, raw, domains);
  }
  if (uuids.size > 1)
    throw new InputError(
      `${id}: more than one domain on source ${raw.target} matches (${hits.map((h) => h.raw.origin).join(", ")}); pass the UUID`,
    );
  const live = hits.find((d) => d.raw.active) ?? hits[0]!;
  const dt: DomainText = { text: live.raw.xml, file: live.raw.origin };
  if (raw.kind !== "dump") {
    const inactive = hits.find((d) => d !== live && !d.raw.active && d.raw.persistent);
    dt.inactiveXml = inactive
      ? inactive.raw.xml
      : live.raw.persistent && !live.raw.active
        ? live.raw.xml
        : null;
  }
  return dt;
}

/**
 * A domain given as a file must be one the source defines (same UUID or
 * name) when the source has domain data at all: otherwise every device would
 * be "unknown on the source" without saying why.
 */
export function assertDomainOnSource(domain: DomainInfo, raw: RawHost): void {
  const { domains, unreadable } = sourceDomains(raw);
  if (domains.length === 0 || unreadable > 0) return;
  if (domains.some((d) => d.info.uuid === domain.uuid || d.info.name === domain.name)) return;
  throw notDefinedOn(domain.name, raw, domains);
}

export async function loadDomainText(
  domain: string | undefined,
  source: string | undefined,
  io: Io,
  timeoutMs: number,
  readSourceHost?: SourceReader,
): Promise<DomainText> {
  if (!domain) throw new InputError("missing --domain FILE|-|NAME");
  if (domain === "-") return { text: io.stdin(), file: "<stdin>" };
  if (isDomainFile(domain)) return { text: readTextFile(domain), file: domain };
  if (source?.includes("://")) {
    const spec = parseTargetSpec(source, "--source");
    const live = await import("../targets/live.js");
    const d = await live.lookupLiveDomain(spec.target, domain, { timeoutMs });
    return {
      text: d.liveXml,
      file: `${domain} on ${spec.target}`,
      migratableXml: d.migratableXml ?? undefined,
      inactiveXml: d.inactiveXml,
    };
  }
  const raw = source && readSourceHost ? await readSourceHost() : null;
  if (raw) return domainFromSource(domain, raw);
  throw new InputError(
    `${domain}: no such domain XML file (a domain name is looked up on --source: a live URI, a snapshot or a dump directory)`,
    domain,
  );
}

export function readStdin(): string {
  let r: { buf: Buffer; tooBig: boolean };
  try {
    r = readBounded(0, MAX_INPUT_FILE_BYTES);
  } catch {
    return "";
  }
  if (r.tooBig)
    throw new InputError(
      `<stdin>: more than ${MAX_INPUT_FILE_BYTES / 1024 / 1024} MiB of input; refusing to read it`,
    );
  return decodeUtf8(r.buf, "<stdin>");
}

/**
 * One stderr line when hosts could not be read and that decides the exit code
 * (3: every host failed; 4: the answer is incomplete). The table/JSON on stdout
 * has the details; scripts reading stderr get the gist on one line.
 */
export function hostFailureLine(
  exitCode: number,
  failed: { key: string; message: string }[],
  total: number,
): string {
  if ((exitCode !== EXIT.HOSTS && exitCode !== EXIT.INCOMPLETE) || failed.length === 0) return "";
  const shown = failed.slice(0, 3).map((f) => `${f.key}: ${f.message}`);
  const more = failed.length > 3 ? `; and ${failed.length - 3} more` : "";
  const head =
    exitCode === EXIT.HOSTS
      ? `hdplan: error: no host could be read (${failed.length} of ${total})`
      : `hdplan: warning: ${failed.length} of ${total} hosts could not be read, the answer is incomplete`;
  return `${oneLine(`${head}: ${shown.join("; ")}${more}`)}\n`;
}

export function exitForPlan(best: string | null, hosts: { status: string }[]): number {
  if (best) return EXIT.OK;
  const candidates = hosts.filter((h) => h.status !== "source");
  const errors = candidates.filter((h) => h.status === "error").length;
  if (candidates.length > 0 && errors === candidates.length) return EXIT.HOSTS;
  if (errors > 0) return EXIT.INCOMPLETE;
  return EXIT.NO;
}

/** Refuse duplicate host keys that are known before reading (KEY=, paths, URI hosts). */
export function assertUniqueKnownKeys(specs: TargetSpec[]): void {
  assertUniqueKeys(
    specs.flatMap((s) => {
      const k = knownKey(s);
      return k === null ? [] : [{ key: k, target: s.target }];
    }),
  );
}

/** After reading: duplicate keys among hosts, or a host that claims the source's key. */
export function assertUniqueReadKeys(
  results: { key: string; target: string }[],
  source: { key: string; target: string } | null,
): void {
  // A host with the source's key is the source itself (status "source"), not an input error.
  void source;
  assertUniqueKeys(results);
}

/** Read --source; a failure is exit 3 naming it. */
export async function readSource(arg: string, timeoutMs: number, fingerprint = false): Promise<RawHost> {
  const spec = parseTargetSpec(arg, "--source");
  const fp = fingerprint && spec.kind === "path" ? sourceFingerprintBefore(spec.target) : null;
  const [sr] = await readTargets([spec], { timeoutMs, concurrency: 1 });
  if (!sr!.ok)
    throw new HostError(sr!.error.code, `--source ${spec.target}: ${sr!.error.message}`, spec.target);
  setSourceFingerprint(sr!.host, fp, buildInventory);
  return sr!.host;
}

/** Reads and consumes file targets on `n` worker threads (results in spec order). */
type OnWorkers<T> = (
  fileSpecs: TargetSpec[],
  n: number,
  onProgress?: (done: number, total: number) => void,
) => Promise<HostResult<T>[]>;

/**
 * Read and consume every host: when worker threads pay, file targets go to
 * `onWorkers` (n workers) while live targets are read here at once; otherwise
 * all are read here. Results come back in target order, progress counts both.
 */
export async function readHostsSplit<T>(
  specs: TargetSpec[],
  io: Io,
  opts: {
    timeoutMs: number;
    concurrency: number;
    consume: (h: RawHost) => T;
    quiet?: boolean;
    cache?: boolean;
    /** Each host's result without reading it (the report cache), or null to read it. */
    lookup?: ((s: TargetSpec[]) => Promise<(T | null)[]>) | undefined;
  },
  onWorkers: OnWorkers<T>,
): Promise<HostResult<T>[]> {
  const onProgress = progress(io, specs.length, !!opts.quiet);
  try {
    return await readHostsThen(specs, opts, onProgress, onWorkers);
  } finally {
    // The cache entries this run wrote (here and on the workers) go into the
    // packs' index (src/cache/packs.ts); main.ts commits again before exiting.
    commitPacks();
  }
}

async function readHostsThen<T>(
  specs: TargetSpec[],
  opts: Parameters<typeof readHostsSplit<T>>[2],
  onProgress: ((done: number, total: number) => void) | undefined,
  onWorkers: OnWorkers<T>,
): Promise<HostResult<T>[]> {
  // Results known without reading (the report cache); the rest is read as usual.
  const known = opts.lookup ? await opts.lookup(specs) : [];
  const rest = opts.lookup ? specs.filter((_, i) => known[i] === null) : specs;
  const offset = specs.length - rest.length;
  const restRes =
    rest.length === 0
      ? []
      : await readSplit(
          rest,
          opts,
          onProgress && ((d: number) => onProgress(offset + d, specs.length)),
          onWorkers,
        );
  if (offset === 0) return restRes;
  let k = 0;
  return specs.map((_, i) => {
    const v = known[i];
    return v === null || v === undefined ? restRes[k++]! : { ok: true, host: v };
  });
}

async function readSplit<T>(
  specs: TargetSpec[],
  opts: { timeoutMs: number; concurrency: number; consume: (h: RawHost) => T; cache?: boolean },
  onProgress: ((done: number, total: number) => void) | undefined,
  onWorkers: OnWorkers<T>,
): Promise<HostResult<T>[]> {
  const fileIdx = specs.flatMap((s, i) => (s.kind === "path" ? [i] : []));
  const n = workersAvailable() ? workerCount(fileIdx.length) : 0;
  if (n < 2) return readTargets<T>(specs, { ...opts, ...(onProgress ? { onProgress } : {}) });
  dropKeptFingerprints();
  const liveIdx = specs.flatMap((s, i) => (s.kind === "uri" ? [i] : []));
  let doneFiles = 0;
  let doneLive = 0;
  const report = () => onProgress?.(doneFiles + doneLive, specs.length);
  const [fileRes, liveRes] = await Promise.all([
    onWorkers(
      fileIdx.map((i) => specs[i]!),
      n,
      onProgress &&
        ((d) => {
          doneFiles = d;
          report();
        }),
    ),
    readTargets<T>(
      liveIdx.map((i) => specs[i]!),
      {
        ...opts,
        onProgress: (d) => {
          doneLive = d;
          report();
        },
      },
    ),
  ]);
  const results: HostResult<T>[] = new Array(specs.length);
  fileIdx.forEach((i, k) => {
    results[i] = fileRes[k]!;
  });
  liveIdx.forEach((i, k) => {
    results[i] = liveRes[k]!;
  });
  return results;
}
