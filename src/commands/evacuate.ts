/** `hdplan evacuate` (cli.md). */
import { LIVE_DEFAULTS } from "../targets/live-defaults.js";
import { EXIT, InputError } from "../errors.js";
import { DEFAULT_SOLVER_TIME_S, type EvacShard, placeAll } from "../matching/evacuate.js";
import { evacuationShardsOnWorkers } from "../parallel/pool.js";
import { preloadSolver } from "../placement/milp.js";
import { type EvacSetupInput, setupEvacuation } from "../parallel/setup-evac.js";
import { workerInput } from "../parallel/setup.js";
import { deviceReports, prepareSources } from "../pipeline.js";
import { reason } from "../reasons.js";
import { type EvacuationPlacement, writeEvacuationXml } from "./destxml.js";
import { assignmentsJson } from "../output/json.js";
import { pad, reasonLines } from "../output/table.js";
import {
  type CommonOptions,
  type Io,
  assertUniqueKnownKeys,
  assertUniqueReadKeys,
  domainFromSource,
  formatOpt,
  hostFailureLine,
  hostSpecs,
  numberOpt,
  readHostsSplit,
  readSource,
} from "./common.js";

export interface EvacuateOptions extends CommonOptions {
  includeInactive?: boolean;
  /** highs (default) or greedy (docs/placement.md). */
  solver?: string;
  solverTime?: string | number;
  /** Only these domains (name, UUID or dump file name); repeatable. */
  domain?: string[];
  writeDestXml?: string;
}

function solverOpt(v: string | undefined): "highs" | "greedy" {
  if (v === undefined || v === "highs") return "highs";
  if (v === "greedy") return "greedy";
  throw new InputError(`--solver must be highs or greedy (got ${v})`);
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

/** One line saying which engine placed the VMs and whether the plan is proven best. */
function solverLine(s: Awaited<ReturnType<typeof placeAll>>["solver"]): string {
  if (s.engine === "highs")
    return s.optimal
      ? "Placement: optimal (HiGHS proved no plan places more VMs)."
      : `Placement: HiGHS stopped at the time limit, gap ${((s.gap ?? 0) * 100).toFixed(2)}%; best plan found is shown.`;
  return s.fallback
    ? `Placement: greedy (fallback: ${s.fallback}).`
    : "Placement: greedy (--solver greedy; not proven optimal).";
}

export async function runEvacuate(opts: EvacuateOptions, io: Io): Promise<number> {
  const html = opts.format === "html";
  const format = formatOpt(html ? "table" : opts.format);
  if (!opts.source) throw new InputError("evacuate needs --source TARGET (the host to drain)");
  const specs = hostSpecs(opts);
  if (specs.length === 0) throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  assertUniqueKnownKeys(specs);
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", LIVE_DEFAULTS.hosts, 1));
  const solver = solverOpt(opts.solver);
  const solverTimeS = numberOpt(opts.solverTime, "solver-time", DEFAULT_SOLVER_TIME_S, 0.01);
  // The solver's WebAssembly loads and compiles on V8's helper threads while
  // the hosts are read; placeAll would start it only after the last host.
  if (solver === "highs") preloadSolver();
  const input: EvacSetupInput = {
    sourceRaw: await readSource(opts.source, timeoutMs),
    ...(opts.descriptors ? { descriptorsDir: opts.descriptors } : {}),
    includeInactive: !!opts.includeInactive,
    assumeVersions: !!opts.assumeVersions,
    explain: !!opts.explain,
    cache: opts.cache !== false,
    ...(opts.domain?.length ? { onlyDomains: opts.domain } : {}),
  };
  // Hosts stream in: each one's candidates for every VM are built as it is
  // read, then its parsed devices are dropped (memory flat on big fleets).
  // Many file targets are split into shards, one per worker thread, each
  // holding its hosts' candidates; placement then asks every shard.
  const { evac, source, domains, selector, consume } = setupEvacuation(input);
  const shards: EvacShard[] = [evac];
  let close = async () => {};
  const results = await readHostsSplit<{ key: string; target: string; isSource?: boolean }>(
    specs,
    io,
    { timeoutMs, concurrency, consume, quiet: !!opts.quiet, cache: input.cache },
    async (files, n, onProgress) => {
      const w = await evacuationShardsOnWorkers(
        files,
        n,
        workerInput(input, source),
        timeoutMs,
        consume,
        onProgress,
      );
      shards.push(...w.shards);
      close = w.close;
      return w.results;
    },
  );
  let res: Awaited<ReturnType<typeof placeAll>>;
  try {
    assertUniqueReadKeys(
      results.map((r) => (r.ok ? r.host : r)),
      source,
    );
    res = await placeAll(shards, evac.vmInfo(), "constrained", { solver, solverTimeS });
  } finally {
    await close();
  }
  const st = res.solver.stats;
  if (process.env.HDPLAN_SOLVER_STATS && st) {
    io.stderr(
      `hdplan: placement: ${res.solver.engine}${res.solver.optimal ? " optimal" : ""}, ${st.options} VM/host options, ${st.columns} columns, ${st.rows} rows, model+solve ${st.seconds.toFixed(3)} s (${st.rounds.map((x) => `width ${x.width}: ${x.seconds.toFixed(3)} s`).join(", ")})\n`,
    );
  }
  if (opts.writeDestXml) {
    const targets = new Map(results.flatMap((r) => (r.ok ? [[r.host.key, r.host.target] as const] : [])));
    const placed: EvacuationPlacement[] = [];
    for (const p of res.placements) {
      const domain = domains.find((d) => d.uuid === p.uuid);
      if (!p.host || !domain) continue;
      const { sources } = prepareSources({
        domain,
        source,
        selector,
        opts: { assumeVersions: !!opts.assumeVersions, explain: true },
      });
      placed.push({
        domain,
        dt: domainFromSource(p.uuid, input.sourceRaw),
        devices: deviceReports(sources, true),
        host: {
          host: p.host,
          target: targets.get(p.host) ?? p.host,
          hostname: null,
          assignments: p.assignments,
        },
        warnings: p.warnings,
      });
    }
    const lines = writeEvacuationXml(opts.writeDestXml, placed);
    if (format === "table" && !opts.quiet && lines.length) io.stderr(`${lines.join("\n")}\n`);
  }
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  const good = results.filter((r) => r.ok && !r.host.isSource);
  const sourceListed = results.flatMap((r) => (r.ok && r.host.isSource ? [r.host.key] : []));
  const hostErrors = failed.map((h) => ({
    host: h.key,
    target: h.target,
    error: reason(h.error.code, h.error.message),
  }));
  if (html) {
    const { evacuateToHtml } = await import("../output/html.js");
    io.stdout(
      evacuateToHtml({ source: source.key, placements: res.placements, unplaced: res.unplaced, hostErrors }),
    );
  } else if (format === "json") {
    io.stdout(
      `${JSON.stringify(
        {
          schemaVersion: 1,
          source: { host: source.key },
          placements: res.placements.map((p) => ({
            domain: p.domain,
            uuid: p.uuid,
            host: p.host,
            assignments: assignmentsJson(p.assignments),
            reasons: p.reasons,
            warnings: p.warnings,
          })),
          unplaced: res.unplaced,
          solver: res.solver.engine,
          optimal: res.solver.optimal,
          gap: res.solver.gap,
          fallback: res.solver.fallback,
          capacityLeft: sortedCapacity(res.capacityLeft),
          hostErrors,
          sourceHosts: sourceListed,
        },
        null,
        2,
      )}\n`,
    );
  } else if (opts.quiet) {
    // only the answer: one "domain host" line per domain ("-" when unplaced)
    io.stdout(res.placements.map((p) => `${p.domain} ${p.host ?? "-"}\n`).join(""));
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
    for (const k of sourceListed)
      lines.push(`host ${k}: source: the --source host itself, never a destination`);
    lines.push("", solverLine(res.solver));
    lines.push(res.unplaced === 0 ? "Every domain placed." : `${res.unplaced} domain(s) unplaced.`);
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
