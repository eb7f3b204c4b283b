/** Shared plumbing of plan / check / evacuate: read targets, build inventories, load descriptors. */
import { existsSync } from "node:fs";
import { EXIT, HostError, InputError, oneLine } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import type { RawHost } from "../model.js";
import type { HostInput } from "../pipeline.js";
import { reason } from "../reasons.js";
import { decodeUtf8, MAX_INPUT_FILE_BYTES, readBounded, readTextFile } from "../targets/dump.js";
import { type HostResult, preKey, readTargets } from "../targets/index.js";
import { workerCount, workersAvailable } from "../parallel/pool.js";
import { type TargetSpec, assertUniqueKeys, parseTargetSpec, readHostsFileText } from "../targets/keys.js";

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

export function progress(io: Io, total: number): ((done: number, total: number) => void) | undefined {
  if (!io.isTTY || total <= 3) return undefined;
  return (done, n) => {
    const w = 30;
    const f = Math.round((done / n) * w);
    io.stderr(`\r[${"#".repeat(f)}${" ".repeat(w - f)}] ${done}/${n} hosts${done === n ? "\n" : ""}`);
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

export async function loadDomainText(
  domain: string | undefined,
  source: string | undefined,
  io: Io,
  timeoutMs: number,
): Promise<DomainText> {
  if (!domain) throw new InputError("missing --domain FILE|-|NAME");
  if (domain === "-") return { text: io.stdin(), file: "<stdin>" };
  if (existsSync(domain)) return { text: readTextFile(domain), file: domain };
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
  throw new InputError(
    `${domain}: no such domain XML file (a domain name is looked up only on a live --source URI)`,
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
export async function readSource(arg: string, timeoutMs: number): Promise<RawHost> {
  const spec = parseTargetSpec(arg, "--source");
  const [sr] = await readTargets([spec], { timeoutMs, concurrency: 1 });
  if (!sr!.ok)
    throw new HostError(sr!.error.code, `--source ${spec.target}: ${sr!.error.message}`, spec.target);
  return sr!.host;
}

/**
 * Read and consume every host: when worker threads pay, file targets go to
 * `onWorkers` (n workers) while live targets are read here at once; otherwise
 * all are read here. Results come back in target order, progress counts both.
 */
export async function readHostsSplit<T>(
  specs: TargetSpec[],
  io: Io,
  opts: { timeoutMs: number; concurrency: number; consume: (h: RawHost) => T },
  onWorkers: (
    fileSpecs: TargetSpec[],
    n: number,
    onProgress?: (done: number, total: number) => void,
  ) => Promise<HostResult<T>[]>,
): Promise<HostResult<T>[]> {
  const onProgress = progress(io, specs.length);
  const fileIdx = specs.flatMap((s, i) => (s.kind === "path" ? [i] : []));
  const n = workersAvailable() ? workerCount(fileIdx.length) : 0;
  if (n < 2) return readTargets<T>(specs, { ...opts, ...(onProgress ? { onProgress } : {}) });
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
