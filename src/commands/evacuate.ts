/** `hdplan evacuate` (cli.md). */
import { EXIT, HostError, InputError } from "../errors.js";
import { type EvacShard, placeAll } from "../matching/evacuate.js";
import { evacuationShardsOnWorkers, workerCount, workersAvailable } from "../parallel/pool.js";
import { type EvacSetupInput, setupEvacuation } from "../parallel/setup.js";
import { reason } from "../reasons.js";
import { type HostResult, readTargets } from "../targets/index.js";
import { parseTargetSpec } from "../targets/keys.js";
import { pad, reasonLines } from "../output/table.js";
import {
  type CommonOptions,
  type Io,
  assertUniqueKnownKeys,
  assertUniqueReadKeys,
  formatOpt,
  hostFailureLine,
  hostSpecs,
  numberOpt,
  progress,
} from "./common.js";

export interface EvacuateOptions extends CommonOptions {
  includeInactive?: boolean;
}

/**
 * capacityLeft with hosts and resources in key order: the matcher fills it in
 * the order hosts were given, and the JSON must not depend on that order.
 */
function sortedCapacity<T>(c: Record<string, Record<string, T>>): Record<string, Record<string, T>> {
  const out: Record<string, Record<string, T>> = {};
  for (const host of Object.keys(c).sort()) {
    const inner: Record<string, T> = {};
    const per = c[host]!;
    for (const k of Object.keys(per).sort()) inner[k] = per[k]!;
    out[host] = inner;
  }
  return out;
}

export async function runEvacuate(opts: EvacuateOptions, io: Io): Promise<number> {
  const format = formatOpt(opts.format);
  if (!opts.source) throw new InputError("evacuate needs --source TARGET (the host to drain)");
  const specs = hostSpecs(opts);
  if (specs.length === 0) throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  assertUniqueKnownKeys(specs);
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", 8, 1));
  const sourceSpec = parseTargetSpec(opts.source, "--source");
  const [sr] = await readTargets([sourceSpec], { timeoutMs, concurrency: 1 });
  if (!sr!.ok) {
    throw new HostError(
      sr!.error.code,
      `--source ${sourceSpec.target}: ${sr!.error.message}`,
      sourceSpec.target,
    );
  }
  const input: EvacSetupInput = {
    sourceRaw: sr!.host,
    ...(opts.descriptors ? { descriptorsDir: opts.descriptors } : {}),
    includeInactive: !!opts.includeInactive,
    assumeVersions: !!opts.assumeVersions,
    explain: !!opts.explain,
  };
  // Hosts stream in: each one's candidates for every VM are built as it is
  // read, then its parsed devices are dropped (memory flat on big fleets).
  // Many file targets are split into shards, one per worker thread, each
  // holding its hosts' candidates; placement then asks every shard.
  const { evac, source, domains, consume } = setupEvacuation(input);
  const onProgress = progress(io, specs.length);
  const fileIdx = specs.flatMap((s, i) => (s.kind === "path" ? [i] : []));
  const liveIdx = specs.flatMap((s, i) => (s.kind === "uri" ? [i] : []));
  const nWorkers = workersAvailable() ? workerCount(fileIdx.length) : 0;
  type Read = { key: string; target: string };
  let results: HostResult<Read>[];
  const shards: EvacShard[] = [evac];
  let close = async () => {};
  if (nWorkers >= 2) {
    const [fileRes, liveRes] = await Promise.all([
      evacuationShardsOnWorkers(
        fileIdx.map((i) => specs[i]!),
        nWorkers,
        input,
        timeoutMs,
        onProgress,
      ),
      readTargets<Read>(
        liveIdx.map((i) => specs[i]!),
        { timeoutMs, concurrency, consume },
      ),
    ]);
    shards.push(...fileRes.shards);
    close = fileRes.close;
    results = new Array(specs.length);
    fileIdx.forEach((i, k) => {
      results[i] = fileRes.results[k]!;
    });
    liveIdx.forEach((i, k) => {
      results[i] = liveRes[k]!;
    });
  } else {
    results = await readTargets<Read>(specs, {
      timeoutMs,
      concurrency,
      consume,
      ...(onProgress ? { onProgress } : {}),
    });
  }
  let res: Awaited<ReturnType<typeof placeAll>>;
  try {
    assertUniqueReadKeys(
      results.map((r) => (r.ok ? r.host : r)),
      source,
    );
    res = await placeAll(shards, evac.vmInfo());
  } finally {
    await close();
  }
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  const good = results.filter((r) => r.ok && r.host.key !== source.key);
  const hostErrors = failed.map((h) => ({
    host: h.key,
    target: h.target,
    error: reason(h.error.code, h.error.message),
  }));
  if (format === "json") {
    io.stdout(
      `${JSON.stringify(
        {
          schemaVersion: 1,
          source: { host: source.key },
          placements: res.placements.map((p) => ({
            domain: p.domain,
            uuid: p.uuid,
            host: p.host,
            assignments: p.assignments,
            reasons: p.reasons,
            warnings: p.warnings,
          })),
          unplaced: res.unplaced,
          capacityLeft: sortedCapacity(res.capacityLeft),
          hostErrors,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines = [`Evacuate ${source.key}: ${domains.length} domain(s) with assigned devices`, ""];
    const rows = [["DOMAIN", "DEVICES", "FEASIBLE", "HOST", "NOTE"]];
    for (const p of res.placements) {
      rows.push([
        p.domain,
        String(p.devices),
        String(p.feasibleHosts),
        p.host ?? "-",
        p.host ? "" : (p.reasons[0]?.message ?? ""),
      ]);
    }
    lines.push(...pad(rows));
    for (const p of res.placements) {
      if (!p.host && opts.explain) {
        lines.push("", `${p.domain}:`, ...reasonLines(p.reasons, "  "));
      }
    }
    for (const h of hostErrors) if (h) lines.push(`host ${h.host}: ${h.error.code}: ${h.error.message}`);
    lines.push("", res.unplaced === 0 ? "Every domain placed." : `${res.unplaced} domain(s) unplaced.`);
    io.stdout(`${lines.join("\n")}\n`);
  }
  const code =
    res.unplaced === 0
      ? EXIT.OK
      : good.length === 0 && failed.length > 0
        ? EXIT.HOSTS
        : failed.length > 0
          ? EXIT.INCOMPLETE
          : EXIT.NO;
  io.stderr(
    hostFailureLine(
      code,
      failed.map((h) => ({ key: h.key, message: h.error.message })),
      results.length,
    ),
  );
  return code;
}
