/**
 * Exact placement as a mixed-integer program, solved by HiGHS (the University
 * of Edinburgh's MILP solver, compiled to WebAssembly: npm `highs`).
 *
 * Variables (only feasible pairs, from the per-host candidates):
 *   x[v,o]      VM v goes to its o-th candidate host (binary)
 *   y[v,o,g,r]  devices of group g of v take y units of resource r (integer)
 *   z[h,gpu,t]  GPU of host h takes vGPU type t (binary; only GPUs offering
 *               more than one type; mixed-mode GPUs carry one key per type)
 * Constraints: each VM on at most one host; every device of a placed VM gets
 * exactly one unit (all or nothing); units of a resource <= what is left,
 * and 0 unless its GPU took its type; at most one type per GPU.
 * Objective, lexicographic, solved in stages (each fixing the level before
 * it): most VMs, then most devices, then fewest new mdevs, then the hosts'
 * rank order (option index). The model's own costs (integer weights of the
 * same order) are only its starting objective.
 */
import type { Highs } from "highs";
import {
  type PResource,
  type PlacementProblem,
  type PlacementSolution,
  type Score,
  type VmPlacement,
  compareScore,
} from "./problem.js";

let highsP: Promise<Highs> | null = null;

async function highs(): Promise<Highs> {
  if (!highsP) {
    // The package types its ESM build as CommonJS: take the loader from either shape.
    highsP = import("highs").then((m) => {
      const d = m.default as unknown as { default?: () => Promise<Highs> } | (() => Promise<Highs>);
      return typeof d === "function" ? d() : d.default!();
    });
    highsP.catch(() => {
      highsP = null;
    });
  }
  return highsP;
}

/** Start loading the solver (WebAssembly compile) early, e.g. while hosts are being read. */
export function preloadSolver(): void {
  highs().catch(() => {});
}

export interface SolveOptions {
  /** Wall-clock limit of the solver in seconds. */
  timeS: number;
}

/** Size and wall time of one solve (diagnostics; never in the JSON, which must not depend on timing). */
export interface SolveStats {
  options: number;
  columns: number;
  rows: number;
  seconds: number;
  /** Per widening round: options per VM offered and the round's seconds. */
  rounds: { width: number; seconds: number }[];
}

type Outcome = { ok: true; solution: PlacementSolution } | { ok: false; error: string };

export type SolveResult = Outcome & { stats: SolveStats };

interface Built {
  numCols: number;
  cost: number[];
  lower: number[];
  upper: number[];
  integrality: number[];
  rowLower: number[];
  rowUpper: number[];
  starts: number[];
  indices: number[];
  values: number[];
  /** Per column: what it stands for (for extraction). */
  xCols: { vm: number; opt: number; col: number }[];
  yCols: { vm: number; opt: number; group: number; res: string; col: number; create: boolean }[];
}

/** The objective of each stage (maximised): VMs, devices, minus new mdevs, minus rank positions. */
function stageCosts(p: PlacementProblem, b: Built): Float64Array[] {
  const out = [0, 1, 2, 3].map(() => new Float64Array(b.numCols));
  for (const x of b.xCols) {
    out[0]![x.col] = 1;
    out[1]![x.col] = p.vms[x.vm]!.devices;
    out[3]![x.col] = -x.opt;
  }
  for (const y of b.yCols) if (y.create) out[2]![y.col] = -1;
  return out;
}

/** Effective capacity of a resource: 0 when its GPU is locked to another type. */
function effCap(r: PResource, locks: Map<string, string>): number {
  if (r.gpu && r.mdevType) {
    const l = locks.get(r.gpu);
    if (l !== undefined && l !== r.mdevType) return 0;
  }
  return Math.max(0, r.capacity);
}

export function weights(p: PlacementProblem): { w1: number; w2: number; w3: number; w4: number } {
  const D = p.vms.reduce((a, v) => a + (v.options.length > 0 ? v.devices : 0), 0);
  const M4 = p.vms.reduce((a, v) => a + Math.max(0, v.options.length - 1), 0);
  const w4 = 1;
  const w3 = M4 + 1;
  const w2 = w3 * (D + 1);
  const w1 = w2 * (D + 1);
  return { w1, w2, w3, w4 };
}

export function buildModel(p: PlacementProblem): Built {
  const { w1, w2, w3, w4 } = weights(p);
  const cost: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  const integrality: number[] = [];
  const addCol = (c: number, lo: number, up: number): number => {
    cost.push(c);
    lower.push(lo);
    upper.push(up);
    integrality.push(1);
    return cost.length - 1;
  };
  const rows: { lo: number; up: number; idx: number[]; val: number[] }[] = [];
  const hosts = new Map(
    p.hosts.map((h) => {
      const locks = new Map(h.locks);
      return [h.key, { locks, res: new Map(h.resources.map((r) => [r.id, r])) }] as const;
    }),
  );
  // (host, resource) -> columns using it
  const users = new Map<string, number[]>();
  const xCols: Built["xCols"] = [];
  const yCols: Built["yCols"] = [];
  p.vms.forEach((vm, v) => {
    const xs: number[] = [];
    vm.options.forEach((o, oi) => {
      const h = hosts.get(o.host);
      if (!h) return;
      const usable = o.groups.map((g) =>
        g.resources.filter((id) => {
          const r = h.res.get(id);
          return r !== undefined && effCap(r, h.locks) > 0;
        }),
      );
      const total = o.groups.reduce((a, g) => a + g.devices.length, 0);
      if (total !== vm.devices || usable.some((u) => u.length === 0)) return;
      const x = addCol(w1 + w2 * vm.devices - w4 * oi, 0, 1);
      xs.push(x);
      xCols.push({ vm: v, opt: oi, col: x });
      o.groups.forEach((g, gi) => {
        const idx: number[] = [];
        const val: number[] = [];
        for (const id of usable[gi]!) {
          const r = h.res.get(id)!;
          const y = addCol(r.create ? -w3 : 0, 0, Math.min(g.devices.length, effCap(r, h.locks)));
          yCols.push({ vm: v, opt: oi, group: gi, res: id, col: y, create: r.create });
          idx.push(y);
          val.push(1);
          const k = `${o.host}\n${id}`;
          const u = users.get(k);
          if (u) u.push(y);
          else users.set(k, [y]);
        }
        idx.push(x);
        val.push(-g.devices.length);
        rows.push({ lo: 0, up: 0, idx, val });
      });
    });
    if (xs.length > 1) rows.push({ lo: 0, up: 1, idx: xs, val: xs.map(() => 1) });
  });
  // Capacity and the one-type-per-GPU rule, per host in key order.
  for (const hk of [...hosts.keys()].sort()) {
    const h = hosts.get(hk)!;
    const used = [...h.res.values()].filter((r) => users.has(`${hk}\n${r.id}`));
    const typesOf = new Map<string, Set<string>>();
    for (const r of used) {
      if (!r.gpu || !r.mdevType || h.locks.has(r.gpu)) continue;
      const s = typesOf.get(r.gpu) ?? new Set<string>();
      s.add(r.mdevType);
      typesOf.set(r.gpu, s);
    }
    const z = new Map<string, number>();
    for (const [gpu, types] of [...typesOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (types.size < 2) continue;
      const zs = [...types].sort().map((t) => {
        const c = addCol(0, 0, 1);
        z.set(`${gpu}\n${t}`, c);
        return c;
      });
      rows.push({ lo: 0, up: 1, idx: zs, val: zs.map(() => 1) });
    }
    for (const r of used.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
      const cols = users.get(`${hk}\n${r.id}`)!;
      const cap = effCap(r, h.locks);
      const zc = r.gpu && r.mdevType ? z.get(`${r.gpu}\n${r.mdevType}`) : undefined;
      if (zc !== undefined) {
        rows.push({ lo: -Infinity, up: 0, idx: [...cols, zc], val: [...cols.map(() => 1), -cap] });
      } else if (cols.length > 1 || cap < 1) {
        rows.push({ lo: -Infinity, up: cap, idx: cols, val: cols.map(() => 1) });
      }
    }
  }
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  const rowLower: number[] = [];
  const rowUpper: number[] = [];
  for (const r of rows) {
    indices.push(...r.idx);
    values.push(...r.val);
    starts.push(indices.length);
    rowLower.push(r.lo);
    rowUpper.push(r.up);
  }
  return {
    numCols: cost.length,
    cost,
    lower,
    upper,
    integrality,
    rowLower,
    rowUpper,
    starts,
    indices,
    values,
    xCols,
    yCols,
  };
}

/**
 * Check a solution against the problem, independently of the model: every
 * device of a placed VM has one unit of a resource on its candidate list, no
 * resource gives more units than it has left, no GPU serves two types (its
 * lock included). Returns the first violation, or null.
 */
export function violation(p: PlacementProblem, placed: (VmPlacement | null)[]): string | null {
  const hosts = new Map(p.hosts.map((h) => [h.key, h]));
  const usedUnits = new Map<string, number>();
  const gpuType = new Map<string, string>();
  for (const h of p.hosts) for (const [g, t] of h.locks) gpuType.set(`${h.key}\n${g}`, t);
  for (let v = 0; v < placed.length; v++) {
    const pl = placed[v];
    if (!pl) continue;
    const vm = p.vms[v]!;
    const opt = vm.options.find((o) => o.host === pl.host);
    if (!opt) return `VM ${v}: host ${pl.host} is not one of its candidates`;
    const h = hosts.get(pl.host)!;
    const given = new Map(pl.assignment);
    if (given.size !== vm.devices || pl.assignment.length !== vm.devices)
      return `VM ${v}: ${given.size} of ${vm.devices} devices assigned`;
    for (const g of opt.groups) {
      for (const d of g.devices) {
        const rid = given.get(d);
        if (rid === undefined) return `VM ${v}: device ${d} unassigned`;
        if (!g.resources.includes(rid)) return `VM ${v}: ${rid} is not a candidate of ${d}`;
        const r = h.resources.find((x) => x.id === rid);
        if (!r) return `VM ${v}: ${rid} unknown on ${pl.host}`;
        const k = `${pl.host}\n${rid}`;
        const n = (usedUnits.get(k) ?? 0) + 1;
        if (n > r.capacity) return `${pl.host} ${rid}: ${n} units promised, ${r.capacity} left`;
        usedUnits.set(k, n);
        if (r.gpu && r.mdevType) {
          const gk = `${pl.host}\n${r.gpu}`;
          const t = gpuType.get(gk);
          if (t !== undefined && t !== r.mdevType) return `${pl.host} ${r.gpu}: types ${t} and ${r.mdevType}`;
          gpuType.set(gk, r.mdevType);
        }
      }
    }
  }
  return null;
}

/** The objective levels of a solution. */
export function score(p: PlacementProblem, placed: (VmPlacement | null)[]): Score {
  const s: Score = { vms: 0, devices: 0, created: 0, rank: 0 };
  const create = new Map<string, boolean>();
  for (const h of p.hosts) for (const r of h.resources) create.set(`${h.key}\n${r.id}`, r.create);
  placed.forEach((pl, v) => {
    if (!pl) return;
    const vm = p.vms[v]!;
    s.vms++;
    s.devices += vm.devices;
    s.rank += vm.options.findIndex((o) => o.host === pl.host);
    for (const [, rid] of pl.assignment) if (create.get(`${pl.host}\n${rid}`)) s.created++;
  });
  return s;
}

export { compareScore };

function extract(p: PlacementProblem, b: Built, colValue: ArrayLike<number>): (VmPlacement | null)[] {
  const placed: (VmPlacement | null)[] = p.vms.map(() => null);
  const chosen = new Map<number, number>();
  for (const x of b.xCols) if (Math.round(colValue[x.col]!) === 1) chosen.set(x.vm, x.opt);
  const units = new Map<string, [string, number][]>();
  for (const y of b.yCols) {
    if (chosen.get(y.vm) !== y.opt) continue;
    const n = Math.round(colValue[y.col]!);
    if (n <= 0) continue;
    const k = `${y.vm}\n${y.group}`;
    const l = units.get(k) ?? [];
    l.push([y.res, n]);
    units.set(k, l);
  }
  for (const [v, oi] of chosen) {
    const o = p.vms[v]!.options[oi]!;
    const assignment: [string, string][] = [];
    o.groups.forEach((g, gi) => {
      // Units in the group's candidate order; devices in their order.
      const got = new Map(units.get(`${v}\n${gi}`) ?? []);
      const queue = g.resources.flatMap((id) => new Array<string>(got.get(id) ?? 0).fill(id));
      g.devices.forEach((d, i) => {
        const rid = queue[i];
        if (rid !== undefined) assignment.push([d, rid]);
      });
    });
    placed[v] = { host: o.host, assignment };
  }
  return placed;
}

/**
 * Merge resources of a host that no constraint tells apart: the same
 * create/GPU/type and on exactly the same candidate lists (the VFs of one
 * PF, the existing mdevs of one GPU and type). One pooled resource with the
 * summed capacity replaces them; `expand` hands real units back in order.
 * Exact: any plan on the pooled problem maps to one on the original.
 */
export function aggregate(p: PlacementProblem): {
  q: PlacementProblem;
  expand: (placed: (VmPlacement | null)[]) => (VmPlacement | null)[];
} {
  // host -> resource id -> the lists it is on
  const lists = new Map<string, Map<string, string[]>>();
  p.vms.forEach((vm, v) =>
    vm.options.forEach((o, oi) =>
      o.groups.forEach((g, gi) => {
        const m = lists.get(o.host) ?? new Map<string, string[]>();
        lists.set(o.host, m);
        for (const id of g.resources) {
          const l = m.get(id) ?? [];
          l.push(`${v}/${oi}/${gi}`);
          m.set(id, l);
        }
      }),
    ),
  );
  const repOf = new Map<string, string>(); // host\nid -> representative id
  const members = new Map<string, PResource[]>(); // host\nrep -> members in order
  const hosts = p.hosts.map((h) => {
    const m = lists.get(h.key) ?? new Map<string, string[]>();
    const bySig = new Map<string, PResource>();
    const out: PResource[] = [];
    for (const r of h.resources) {
      const on = m.get(r.id);
      if (!on) {
        out.push(r);
        continue;
      }
      const sig = `${r.create}|${r.gpu ?? ""}|${r.mdevType ?? ""}|${on.join(",")}`;
      const rep = bySig.get(sig);
      if (rep) {
        rep.capacity += Math.max(0, r.capacity);
        repOf.set(`${h.key}\n${r.id}`, rep.id);
        members.get(`${h.key}\n${rep.id}`)!.push(r);
      } else {
        const c = { ...r, capacity: Math.max(0, r.capacity) };
        bySig.set(sig, c);
        out.push(c);
        repOf.set(`${h.key}\n${r.id}`, r.id);
        members.set(`${h.key}\n${r.id}`, [r]);
      }
    }
    return { ...h, resources: out };
  });
  const vms = p.vms.map((vm) => ({
    ...vm,
    options: vm.options.map((o) => ({
      ...o,
      groups: o.groups.map((g) => ({
        devices: g.devices,
        resources: [...new Set(g.resources.map((id) => repOf.get(`${o.host}\n${id}`) ?? id))],
      })),
    })),
  }));
  const expand = (placed: (VmPlacement | null)[]) => {
    const usedUnits = new Map<string, number>();
    return placed.map((pl) => {
      if (!pl) return null;
      return {
        host: pl.host,
        assignment: pl.assignment.map(([d, rep]): [string, string] => {
          const ms = members.get(`${pl.host}\n${rep}`);
          if (!ms) return [d, rep];
          for (const r of ms) {
            const k = `${pl.host}\n${r.id}`;
            const n = usedUnits.get(k) ?? 0;
            if (n < r.capacity) {
              usedUnits.set(k, n + 1);
              return [d, r.id];
            }
          }
          return [d, rep]; // over capacity: violation() rejects it
        }),
      };
    });
  };
  return { q: { vms, hosts }, expand };
}

/** First number of options per VM tried when widening. */
export const FIRST_WIDTH = 4;

function restrict(p: PlacementProblem, k: number): PlacementProblem {
  return { hosts: p.hosts, vms: p.vms.map((v) => ({ devices: v.devices, options: v.options.slice(0, k) })) };
}

/**
 * Levels 1-3 of `placed` are at their bounds for the whole problem: every VM
 * with a candidate placed (so every device), and each VM creating no more
 * mdevs than it needs at its best host alone (nothing can create fewer).
 */
function atBounds(p: PlacementProblem, placed: (VmPlacement | null)[]): boolean {
  let least = 0;
  for (let v = 0; v < p.vms.length; v++) {
    const opts = p.vms[v]!.options;
    if (opts.length === 0) continue;
    if (!placed[v]) return false;
    const c = Math.min(...opts.map((o) => o.created ?? Number.POSITIVE_INFINITY));
    if (!Number.isFinite(c)) return false;
    least += c;
  }
  return score(p, placed).created <= least;
}

/**
 * Solve `p` exactly (within the time limit). On a time limit with a solution
 * the solution comes back with optimal false and HiGHS's gap; without one,
 * or on any solver error or a solution that fails `violation`, an error.
 *
 * When every option carries `created` (evacuate), the solver first sees each
 * VM's FIRST_WIDTH best options, then twice as many (every option at once
 * when a VM was left out), and so on: it stops as soon as a plan is at the
 * bounds of levels 1-3 (then no wider search can place more VMs or devices
 * or create fewer mdevs), or when it has seen every option. `optimal` therefore always means levels 1-3 are proven optimal for
 * the whole problem; the rank tie-break is optimal among the options seen.
 */
export async function solvePlacement(p: PlacementProblem, o: SolveOptions): Promise<SolveResult> {
  const t0 = performance.now();
  const widest = Math.max(0, ...p.vms.map((v) => v.options.length));
  const widen = p.vms.every((v) => v.options.every((x) => x.created !== undefined));
  let k = widen ? Math.min(FIRST_WIDTH, widest) : widest;
  const rounds: SolveStats["rounds"] = [];
  for (;;) {
    const q = k >= widest ? p : restrict(p, k);
    const { q: pooled, expand } = aggregate(q);
    const b = buildModel(pooled);
    const left = o.timeS - (performance.now() - t0) / 1000;
    const t1 = performance.now();
    let r = await solveBuilt(pooled, b, { timeS: Math.max(0.01, left) });
    rounds.push({ width: Math.min(k, widest), seconds: (performance.now() - t1) / 1000 });
    if (r.ok) {
      const placed = expand(r.solution.placed);
      const bad = violation(p, placed);
      r = bad
        ? { ok: false, error: `HiGHS solution rejected by the independent check: ${bad}` }
        : { ok: true, solution: { ...r.solution, placed } };
    }
    const stats: SolveStats = {
      options: b.xCols.length,
      columns: b.numCols,
      rows: b.rowLower.length,
      seconds: (performance.now() - t0) / 1000,
      rounds,
    };
    if (!r.ok || k >= widest || !r.solution.optimal) return { ...r, stats };
    if (atBounds(p, r.solution.placed)) return { ...r, stats };
    // A VM left out even among the best hosts: more hosts may place it, and
    // only the whole list can prove otherwise; else (reuse only) widen gently.
    const unplaced = p.vms.some((v, i) => v.options.length > 0 && !r.solution.placed[i]);
    k = unplaced ? widest : k * 2;
  }
}

async function solveBuilt(p: PlacementProblem, b: Built, o: SolveOptions): Promise<Outcome> {
  if (b.xCols.length === 0)
    return { ok: true, solution: { placed: p.vms.map(() => null), optimal: true, gap: 0 } };
  let h: Highs;
  try {
    h = await highs();
  } catch (e) {
    return { ok: false, error: `cannot load the HiGHS solver: ${(e as Error).message}` };
  }
  let model: ReturnType<Highs["createModel"]> | null = null;
  try {
    model = h.createModel({
      numCols: b.numCols,
      numRows: b.rowLower.length,
      sense: h.constants.objectiveSense.maximize,
      colCost: b.cost,
      colLower: b.lower,
      colUpper: b.upper,
      rowLower: b.rowLower.map((x) => (x === -Infinity ? -h.infinity : x)),
      rowUpper: b.rowUpper,
      matrix: {
        format: "csr",
        numRows: b.rowLower.length,
        numCols: b.numCols,
        starts: b.starts,
        indices: b.indices,
        values: b.values,
      },
      integrality: b.integrality as (0 | 1)[],
    });
    // Lexicographic: one stage per objective level, each fixing the level
    // before it (a row "level >= its optimum") and starting from the plan
    // found so far. A stage stopped by the time limit keeps its best plan.
    const stages = stageCosts(p, b);
    const t0 = performance.now();
    const st = h.constants.modelStatus;
    let best: Float64Array | null = null;
    let proven = 0;
    let gap: number | null = 0;
    for (const cost of stages) {
      const left = o.timeS - (performance.now() - t0) / 1000;
      if (left <= 0.005) {
        gap = null;
        break;
      }
      model.changeColsCost({ kind: "range", from: 0, to: b.numCols - 1 }, cost);
      model.options.set({
        output_flag: false,
        time_limit: left,
        mip_rel_gap: 0,
        // Each level is an integer: a gap below 1 proves it optimal.
        mip_abs_gap: 0.5,
        random_seed: 0,
      });
      model.zeroAllClocks();
      if (best) model.setSolution({ colValue: best });
      model.run();
      const status = model.getModelStatus();
      const hasPrimal = status === st.optimal || Number(model.info.get("primal_solution_status")) === 2;
      if (hasPrimal) best = model.getSolution().colValue;
      if (status !== st.optimal) {
        if (!best) return { ok: false, error: `HiGHS stopped without a solution (model status ${status})` };
        const g = hasPrimal ? Number(model.info.get("mip_gap")) : Number.NaN;
        gap = Number.isFinite(g) ? g : null;
        break;
      }
      proven++;
      const value = Math.round(model.getObjectiveValue());
      const idx: number[] = [];
      const val: number[] = [];
      cost.forEach((c, k) => {
        if (c !== 0) {
          idx.push(k);
          val.push(c);
        }
      });
      if (proven < stages.length && idx.length > 0)
        model.addRow(value - 0.5, h.infinity, { indices: idx, values: val });
    }
    if (!best) return { ok: false, error: `the ${o.timeS} s limit ran out before HiGHS started` };
    const placed = extract(p, b, best);
    const bad = violation(p, placed);
    if (bad) return { ok: false, error: `HiGHS solution rejected by the independent check: ${bad}` };
    // optimal: levels 1-3 proven (most VMs, most devices, fewest new mdevs); level 4 is the tie-break.
    return {
      ok: true,
      solution: { placed, optimal: proven >= 3, gap: proven >= 3 ? 0 : gap, provenLevels: proven },
    };
  } catch (e) {
    return { ok: false, error: `HiGHS failed: ${(e as Error).message}` };
  } finally {
    model?.dispose();
  }
}
