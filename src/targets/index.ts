/** Resolve target specs into RawHost records: dump dirs, snapshots, live URIs. */
import { statSync } from "node:fs";
import { HostError, InputError, errorMessage } from "../errors.js";
import type { RawHost } from "../model.js";
import { readCached } from "../cache/inventory.js";
import type { TreeListing } from "../cache/listing.js";
import { buildInventory } from "../inventory/build.js";
import { readDumpDir } from "./dump.js";
import { type TargetSpec, pathHostKey, uriHostKey, validateKey } from "./keys.js";
import { readSnapshotFile } from "./snapshot.js";

export interface ReadOptions {
  timeoutMs: number;
  /** Read dump directories and snapshots through the inventory cache (docs/cache.md). */
  cache?: boolean;
}

export type HostResult<T = RawHost> =
  | { ok: true; host: T }
  | { ok: false; key: string; target: string; error: HostError };

/** Key known before reading, or null (URI without host: libvirt's hostname decides). */
export function preKey(spec: TargetSpec): string | null {
  const where = `${spec.where} ${spec.target}`;
  if (spec.explicitKey) return validateKey(spec.explicitKey, spec.where);
  if (spec.kind === "uri") {
    const k = uriHostKey(spec.target);
    return k === null ? null : validateKey(k, where);
  }
  return validateKey(pathHostKey(spec.target), where);
}

export async function readTarget(spec: TargetSpec, opts: ReadOptions): Promise<RawHost> {
  if (spec.kind === "uri") {
    const key = preKey(spec);
    const live = await import("./live.js");
    const host = await live.readLiveHost(spec.target, key ?? "", { timeoutMs: opts.timeoutMs });
    if (!key) host.key = validateKey(host.hostname ?? "", `${spec.target} (libvirt hostname)`);
    return host;
  }
  return readFileTarget(spec, opts);
}

/** Read a dump directory or snapshot file target (spec.kind "path"): all at once, nothing awaited. */
export function readFileTarget(spec: TargetSpec, opts: ReadOptions): RawHost {
  const key = preKey(spec);
  const path = spec.target;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new InputError(
      `${path} (${spec.where}): no such file or directory; expected a dump directory, snapshot JSON or libvirt URI`,
      path,
    );
  }
  // st already is the stat isDumpDir(path) would take again.
  const read = (listing: TreeListing | null = null): RawHost | null =>
    st.isDirectory()
      ? readDumpDir(path, key!, spec.target, listing)
      : st.isFile()
        ? readSnapshotFile(path, key!, spec.target)
        : null;
  if (opts.cache && (st.isDirectory() || st.isFile())) {
    return readCached(spec.target, key!, (listing) => read(listing)!, buildInventory);
  }
  const raw = read();
  if (raw) return raw;
  throw new InputError(`${path}: not a dump directory or snapshot file`, path);
}

/** Read many targets with bounded concurrency. Input errors are thrown; host errors are results. */
export async function readTargets<T = RawHost>(
  specs: TargetSpec[],
  opts: ReadOptions & {
    concurrency: number;
    onProgress?: (done: number, total: number) => void;
    /** Turn each host into a result as soon as it is read (streaming: the raw host can be dropped). */
    consume?: (h: RawHost) => T;
  },
): Promise<HostResult<T>[]> {
  const results: HostResult<T>[] = new Array(specs.length);
  let next = 0;
  let done = 0;
  // The input error of the lowest index wins, whatever finished first: every
  // lower index was started before it and is awaited below, so the message does
  // not depend on timing.
  let inputError: unknown = null;
  let inputErrorAt = Number.POSITIVE_INFINITY;
  const worker = async () => {
    while (inputError === null) {
      const i = next++;
      if (i >= specs.length) return;
      const spec = specs[i]!;
      try {
        results[i] = { ok: true, host: await readConsumed(spec, opts) };
      } catch (e) {
        if (e instanceof HostError) {
          results[i] = {
            ok: false,
            key: safeKey(spec),
            target: spec.target,
            error: e,
          };
        } else if (e instanceof InputError) {
          if (i < inputErrorAt) {
            inputError = e;
            inputErrorAt = i;
          }
          return;
        } else {
          results[i] = {
            ok: false,
            key: safeKey(spec),
            target: spec.target,
            error: new HostError("libvirt-error", `${spec.target}: ${errorMessage(e)}`, spec.target),
          };
        }
      }
      done++;
      opts.onProgress?.(done, specs.length);
      // A file target is read without waiting on anything: give the event
      // loop a turn, so that live targets read meanwhile (and progress) move
      // on while the next host is read.
      if (spec.kind === "path") await new Promise<void>((r) => setImmediate(r));
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency, specs.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (inputError !== null) throw inputError;
  return results;
}

/**
 * Read one target and turn it into its result, in an async frame of its own.
 * A suspended async function keeps the values of its registers, dead
 * variables included: when each of readTargets' loops (32 by default) held
 * the RawHost it had just read while it waited for its next turn, 32 hosts'
 * XML texts and inventories stayed alive, survived two scavenges and were
 * promoted (~142 MB promoted over a cold plan of 1,000 hosts, found in a heap
 * snapshot: the texts' retainers were suspended generators). This frame
 * returns, so nothing of the raw host outlives the result.
 */
export async function readConsumed<T>(
  spec: TargetSpec,
  opts: ReadOptions & { consume?: (h: RawHost) => T },
): Promise<T> {
  // A file target is read and turned into its result in one step, with no
  // await between: readTargets' other loops cannot read their hosts in
  // between, so one host's XML and inventory are alive at a time, not 32.
  if (spec.kind === "path") return consumeRaw(readFileTarget(spec, opts), spec, opts.consume);
  return consumeRaw(await readTarget(spec, opts), spec, opts.consume);
}

/**
 * A live host whose XML cannot be parsed (e.g. a domain, which may hold any
 * device: fail-closed) is an error host, not bad input: the other hosts are
 * still planned. Files are the operator's input: their errors stay InputErrors.
 */
function consumeRaw<T>(raw: RawHost, spec: TargetSpec, consume?: (h: RawHost) => T): T {
  if (!consume) return raw as T;
  try {
    return consume(raw);
  } catch (e) {
    if (raw.kind === "live" && e instanceof InputError) {
      throw new HostError(
        "libvirt-error",
        `${spec.target}: libvirt returned XML that cannot be read: ${e.message}`,
        raw.key || spec.target,
      );
    }
    throw e;
  }
}

function safeKey(spec: TargetSpec): string {
  try {
    return preKey(spec) ?? spec.target;
  } catch {
    return spec.target;
  }
}
