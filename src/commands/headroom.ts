/** `hdplan headroom` (issue #16, docs/headroom.md): which domains a host loss would strand. */
import { DescriptorSelector, descriptorFilesFromTexts, loadDescriptorDir } from "../descriptors/sources.js";
import { EXIT, InputError } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import { FleetModel, type Simulation } from "../matching/headroom.js";
import { headroomToHtml } from "../output/html.js";
import { assignmentsJson } from "../output/json.js";
import { pad } from "../output/table.js";
import { type Reason, reason } from "../reasons.js";
import { readTargets } from "../targets/index.js";
import {
  type CommonOptions,
  type Io,
  assertUniqueKnownKeys,
  assertUniqueReadKeys,
  hostFailureLine,
  hostSpecs,
  numberOpt,
  progress,
} from "./common.js";

export interface HeadroomOptions extends CommonOptions {
  includeInactive?: boolean;
  fail?: string | number;
}

/**
 * Most simulations one run does. Measured on 2 cores under a load average of
 * 12-15 (docs/headroom.md): 2.6 ms per simulation of one host with ~5 domains
 * on 1,000 hosts, 6.3 ms per simulation of a pair (~10 domains) on 100 hosts.
 * 50,000 pairs take about 5 minutes there: N=2 is allowed up to 316 hosts,
 * N=3 up to 68.
 */
export const MAX_SIMULATIONS = 50_000;

export interface TypeHeadroom {
  type: string;
  /** free units on every host, nothing placed */
  free: number;
  largestVm: { domain: string; host: string; needs: number } | null;
  /** fewest free units left after any simulated loss, and which */
  worstLeft: number;
  worstDown: string[];
  /** stranded domains (over all simulations) that need this type */
  strandedNeeding: number;
}

export interface HeadroomResult {
  schemaVersion: 1;
  kind: "hdplan-headroom";
  fail: number;
  combinations: number;
  simulated: number;
  hosts: {
    host: string;
    target: string;
    domains: number;
    free: Record<string, number>;
    used: Record<string, number>;
  }[];
  types: string[];
  simulations: Simulation[];
  summary: {
    stranding: number;
    strandedDomains: number;
    hostsWhoseLossStrands: string[];
    tightest: TypeHeadroom[];
  };
  hostErrors: { host: string; target: string; error: Reason }[];
}

function choose(n: number, k: number): number {
  if (k > n) return 0;
  let r = 1;
  for (let i = 0; i < k; i++) r = (r * (n - i)) / (i + 1);
  return Math.round(r);
}

/** Every k-subset of 0..n-1 in lexicographic order. */
function* combinations(n: number, k: number): Generator<number[]> {
  const c = Array.from({ length: k }, (_, i) => i);
  if (k > n) return;
  while (true) {
    yield [...c];
    let i = k - 1;
    while (i >= 0 && c[i] === n - k + i) i--;
    if (i < 0) return;
    c[i]!++;
    for (let j = i + 1; j < k; j++) c[j] = c[j - 1]! + 1;
  }
}

const obj = (m: Map<string, number>): Record<string, number> =>
  Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export async function computeHeadroom(
  opts: HeadroomOptions,
  io: Io,
): Promise<{ result: HeadroomResult; exitCode: number; failedLine: string }> {
  const specs = hostSpecs(opts);
  if (specs.length === 0)
    throw new InputError("headroom needs hosts: pass --host TARGET or --hosts-file FILE");
  assertUniqueKnownKeys(specs);
  const fail = Math.floor(numberOpt(opts.fail, "fail", 1, 1));
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", 8, 1));
  const combos = choose(specs.length, fail);
  if (fail > specs.length)
    throw new InputError(`--fail ${fail} is more than the ${specs.length} hosts given`);
  if (combos > MAX_SIMULATIONS) {
    throw new InputError(
      `--fail ${fail} over ${specs.length} hosts is ${combos.toExponential(2)} combinations, more than the ${MAX_SIMULATIONS} this run allows; use a smaller --fail or split the fleet`,
    );
  }
  const globalFiles = opts.descriptors ? loadDescriptorDir(opts.descriptors) : [];
  const globalSel = new DescriptorSelector(globalFiles);
  const model = new FleetModel(
    { assumeVersions: !!opts.assumeVersions, explain: !!opts.explain },
    !!opts.includeInactive,
  );
  // Hosts stream in once; each one's inventory is kept only until every
  // signature's candidates are built on it (FleetModel.finish).
  const onProgress = progress(io, specs.length);
  const results = await readTargets(specs, {
    timeoutMs,
    concurrency,
    cache: opts.cache !== false,
    ...(onProgress ? { onProgress } : {}),
    consume: (raw) => {
      const inv = buildInventory(raw);
      const files = descriptorFilesFromTexts(inv.descriptorFiles, inv.key);
      return model.addHost(
        inv,
        files.length ? new DescriptorSelector([...globalFiles, ...files]) : globalSel,
      );
    },
  });
  assertUniqueReadKeys(
    results.map((r) => (r.ok ? r.host : r)),
    null,
  );
  model.finish();
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  const keys = model.hostKeys();
  const types = model.types();
  const n = keys.length;
  const fleetFree = model.fleetFree();
  const simulations: Simulation[] = [];
  const worst = new Map<string, { left: number; down: string[] }>();
  const strandedNeeding = new Map<string, number>();
  const note = (down: string[], left: Record<string, number> | Map<string, number>) => {
    const get = (t: string) => (left instanceof Map ? left.get(t) : left[t]) ?? 0;
    for (const t of types) {
      const v = get(t);
      const w = worst.get(t);
      if (!w || v < w.left) worst.set(t, { left: v, down });
    }
  };
  let simulated = 0;
  if (n >= fail) {
    for (const c of combinations(n, fail)) {
      const down = c.map((i) => keys[i]!);
      const hasVms = c.some((i) => model.hostInfo(i).vms.length > 0);
      if (!hasVms && fail > 1) {
        // Nothing to place: only the capacity of the hosts down is gone.
        const left = new Map(fleetFree);
        for (const i of c) for (const [t, v] of model.hostInfo(i).free) left.set(t, (left.get(t) ?? 0) - v);
        note(down, left);
        continue;
      }
      const sim = await model.simulate(down);
      simulated++;
      note(down, sim.capacityLeft);
      for (const p of sim.placements) {
        if (p.host !== null) continue;
        for (const t of Object.keys(p.needs)) strandedNeeding.set(t, (strandedNeeding.get(t) ?? 0) + 1);
      }
      if (fail === 1 || sim.stranded > 0) simulations.push(sim);
    }
  }
  const largest = new Map<string, { domain: string; host: string; needs: number }>();
  for (const vm of model.vms) {
    for (const [t, k] of vm.needs) {
      const l = largest.get(t);
      if (!l || k > l.needs) largest.set(t, { domain: vm.domain.name, host: vm.host, needs: k });
    }
  }
  const tightest: TypeHeadroom[] = types
    .map((t) => ({
      type: t,
      free: fleetFree.get(t) ?? 0,
      largestVm: largest.get(t) ?? null,
      worstLeft: worst.get(t)?.left ?? fleetFree.get(t) ?? 0,
      worstDown: worst.get(t)?.down ?? [],
      strandedNeeding: strandedNeeding.get(t) ?? 0,
    }))
    .sort(
      (a, b) =>
        b.strandedNeeding - a.strandedNeeding ||
        a.worstLeft - (a.largestVm?.needs ?? 0) - (b.worstLeft - (b.largestVm?.needs ?? 0)) ||
        (a.type < b.type ? -1 : a.type > b.type ? 1 : 0),
    );
  const stranding = simulations.filter((s) => s.stranded > 0);
  const result: HeadroomResult = {
    schemaVersion: 1,
    kind: "hdplan-headroom",
    fail,
    combinations: n >= fail ? choose(n, fail) : 0,
    simulated,
    hosts: keys.map((_, i) => {
      const h = model.hostInfo(i);
      return { host: h.key, target: h.target, domains: h.vms.length, free: obj(h.free), used: obj(h.used) };
    }),
    types,
    simulations,
    summary: {
      stranding: stranding.length,
      strandedDomains: stranding.reduce((a, s) => a + s.stranded, 0),
      hostsWhoseLossStrands: [...new Set(stranding.flatMap((s) => s.down))].sort(),
      tightest,
    },
    hostErrors: failed
      .map((h) => ({ host: h.key, target: h.target, error: reason(h.error.code, h.error.message) }))
      .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
  };
  // Fail-closed: a host that could not be read may hold domains that would be
  // stranded, and its capacity is unknown, so the answer is incomplete.
  const exitCode =
    failed.length > 0
      ? failed.length === results.length
        ? EXIT.HOSTS
        : EXIT.INCOMPLETE
      : stranding.length > 0
        ? EXIT.NO
        : EXIT.OK;
  const failedLine = hostFailureLine(
    exitCode,
    failed.map((h) => ({ key: h.key, message: h.error.message })),
    results.length,
  );
  return { result, exitCode, failedLine };
}

export function headroomToTable(r: HeadroomResult, explain: boolean): string {
  const domains = r.hosts.reduce((a, h) => a + h.domains, 0);
  const lines = [
    `Headroom: ${r.hosts.length} host(s), ${domains} domain(s) with assigned devices, ${r.fail} host(s) down at a time (${r.simulated} of ${r.combinations} combination(s) simulated)`,
    "",
  ];
  const rows = [["HOSTS DOWN", "DOMAINS", "PLACED", "STRANDED", "NOTE"]];
  for (const s of r.simulations) {
    const first = s.placements.find((p) => p.host === null);
    rows.push([
      s.down.join(","),
      String(s.placements.length),
      String(s.placed),
      String(s.stranded),
      first ? `${first.domain}: ${first.reasons[0]?.message ?? "no host"}` : "",
    ]);
  }
  lines.push(...pad(rows));
  if (explain) {
    for (const s of r.simulations) {
      if (s.placements.length === 0) continue;
      lines.push("", `${s.down.join(",")} down:`);
      for (const p of s.placements) {
        lines.push(`  ${p.domain} (${p.source}) -> ${p.host ?? "STRANDED"}`);
        if (!p.host) for (const x of p.reasons) lines.push(`    ${x.code}: ${x.message}`);
      }
    }
  }
  lines.push("", "Tightest device types:");
  const trows = [["TYPE", "FREE", "LARGEST VM NEEDS", "WORST LEFT", "WHEN DOWN", "STRANDED NEEDING"]];
  for (const t of r.summary.tightest) {
    trows.push([
      t.type,
      String(t.free),
      t.largestVm ? `${t.largestVm.needs} (${t.largestVm.domain})` : "-",
      String(t.worstLeft),
      t.worstDown.join(",") || "-",
      String(t.strandedNeeding),
    ]);
  }
  lines.push(...pad(trows).map((l) => `  ${l}`));
  for (const h of r.hostErrors) lines.push(`host ${h.host}: ${h.error.code}: ${h.error.message}`);
  lines.push(
    "",
    r.summary.stranding === 0
      ? "No simulated loss strands a domain."
      : `${r.summary.stranding} simulated loss(es) strand ${r.summary.strandedDomains} domain(s); hosts whose loss strands something: ${r.summary.hostsWhoseLossStrands.join(", ")}`,
  );
  return `${lines.join("\n")}\n`;
}

/** cli.md's JSON form: the simulated placements' targets through the one mapper. */
function headroomJson(r: HeadroomResult) {
  const simulations = r.simulations.map((s) => ({
    ...s,
    placements: s.placements.map((p) => ({ ...p, assignments: assignmentsJson(p.assignments) })),
  }));
  return { ...r, simulations };
}

export async function runHeadroom(opts: HeadroomOptions, io: Io): Promise<number> {
  const f = opts.format ?? "table";
  if (f !== "table" && f !== "json" && f !== "html")
    throw new InputError(`--format must be table, json or html (got ${f})`);
  const { result, exitCode, failedLine } = await computeHeadroom(opts, io);
  io.stdout(
    f === "json"
      ? `${JSON.stringify(headroomJson(result), null, 2)}\n`
      : f === "html"
        ? headroomToHtml(result)
        : headroomToTable(result, !!opts.explain),
  );
  io.stderr(failedLine);
  return exitCode;
}
