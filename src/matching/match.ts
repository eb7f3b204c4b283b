/**
 * The score step: a maximum matching with capacities between the VM's devices
 * and a host's resources, preferring existing mdevs over creating new ones,
 * under the one-type-per-physical-GPU rule (compat.md §6). GPUs whose several
 * types are wanted are branched over (bounded; beyond the bound the result is
 * still a valid matching and carries a warning).
 *
 * The answer is defined as it always was: walk the type combinations of the
 * branching GPUs in order (GPUs by id, types by name, the first GPU varying
 * slowest), stop after MAX_BRANCHES of them, and keep the first combination
 * whose flow is largest and, among those, whose cost is lowest; its matching
 * is the min-cost flow of that combination (./flow.ts, same augmenting paths).
 * test/matching/reference-matcher.ts keeps that enumeration as the oracle.
 *
 * What changed is how that combination is found. The flow graph is built once
 * per call and only capacities change between solves. The combinations are a
 * tree (one level per branching GPU); each node's bound is the flow with the
 * GPUs below it left free (all their types open), which no combination under
 * it can beat. A child whose GPU the parent's flow does not use, or uses only
 * with the child's type, has the parent's flow as its own (no solve): so the
 * solver branches only where the flow uses a GPU with two types. A subtree is
 * cut when its bound cannot beat the best combination found so far (ties keep
 * the earlier one, as the enumeration does) or is below a value already known
 * to be reachable in range (a bound whose flow gives every free GPU one type).
 */
import type { DeviceCandidates, Resource } from "../candidates/types.js";
import { FlowGraph, growF64, growI32 } from "./flow.js";

export interface MatchInput {
  devices: DeviceCandidates[];
  resources: Map<string, Resource>;
  /** Capacity already consumed by earlier placements (evacuate). */
  used?: Map<string, number>;
  /** Type already chosen per physical GPU by earlier placements (evacuate). */
  gpuLocks?: Map<string, string>;
}

export interface MatchOutput {
  /** deviceId -> resource id */
  assignment: Map<string, string>;
  /** Type chosen per physical GPU by this matching (only GPUs it used). */
  gpuChoice: Map<string, string>;
  truncated: boolean;
}

export const MAX_BRANCHES = 4096;

/**
 * Buffers reused by every call (matchDevices is synchronous and does not
 * re-enter; each worker thread has its own module): allocating typed arrays
 * per call costs more than the small flows themselves.
 */
const graph = new FlowGraph();
const ws = {
  edgeFrom: new Int32Array(256),
  edgeTo: new Int32Array(256),
  edgeCost: new Float64Array(256),
  baseCap: new Float64Array(64),
  caps: new Float64Array(64),
  resGpu: new Int32Array(64),
  resType: new Int32Array(64),
  combo: new Int32Array(16),
  bestCombo: new Int32Array(16),
  usedType: new Int32Array(16),
  stride: new Float64Array(16),
  /** Flows (resource per device), nDev entries each: one per depth, then the best, then the answer. */
  sols: new Int32Array(256),
};

/** The workspace, grown to hold a problem of this size. */
function workspace(nDev: number, nRes: number, K: number): typeof ws {
  ws.baseCap = growF64(ws.baseCap, nRes);
  ws.caps = growF64(ws.caps, nRes);
  ws.resGpu = growI32(ws.resGpu, nRes);
  ws.resType = growI32(ws.resType, nRes);
  ws.combo = growI32(ws.combo, K);
  ws.bestCombo = growI32(ws.bestCombo, K);
  ws.usedType = growI32(ws.usedType, K);
  ws.stride = growF64(ws.stride, K);
  ws.sols = growI32(ws.sols, (K + 3) * nDev);
  return ws;
}

function sameList(a: string[], b: string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}

/** (f1, c1) beats (f2, c2): more flow, or as much flow for less cost. */
function better(f1: number, c1: number, f2: number, c2: number): boolean {
  return f1 > f2 || (f1 === f2 && c1 < c2);
}

export function matchDevices(input: MatchInput): MatchOutput {
  const used = input.used ?? new Map<string, number>();
  const locks = input.gpuLocks ?? new Map<string, string>();
  const devices = input.devices;
  const nDev = devices.length;
  let nEdges = 0;
  for (const d of devices) nEdges += d.resources.length;
  // Resources reachable by some device, in a stable order (first mention), and
  // the edges device -> resource in the devices' order.
  ws.edgeFrom = growI32(ws.edgeFrom, nEdges);
  ws.edgeTo = growI32(ws.edgeTo, nEdges);
  ws.edgeCost = growF64(ws.edgeCost, nEdges);
  const { edgeFrom, edgeTo, edgeCost } = ws;
  const index = new Map<string, number>();
  const res: Resource[] = [];
  let integral = true;
  {
    let k = 0;
    let prev: string[] | null = null;
    let prevAt = 0;
    for (let i = 0; i < nDev; i++) {
      const list = devices[i]!.resources;
      if (prev !== null && sameList(list, prev)) {
        // Often several devices (VFs of one pool) list the same resources: no lookups.
        for (let j = 0; j < list.length; j++) {
          edgeFrom[k + j] = i;
          edgeTo[k + j] = edgeTo[prevAt + j]!;
          edgeCost[k + j] = edgeCost[prevAt + j]!;
        }
        prevAt = k;
        k += list.length;
        continue;
      }
      prev = list;
      prevAt = k;
      for (const id of list) {
        let ri = index.get(id);
        if (ri === undefined) {
          ri = res.length;
          index.set(id, ri);
          res.push(input.resources.get(id)!);
        }
        const c = res[ri]!.cost;
        edgeFrom[k] = i;
        edgeTo[k] = ri;
        edgeCost[k] = c;
        if (!(Number.isInteger(c) && c >= 0)) integral = false;
        k++;
      }
    }
  }
  const nRes = res.length;
  // GPU -> candidate types
  const gpuTypes = new Map<string, string[]>();
  for (const r of res) {
    if (!r.gpu || !r.mdevType) continue;
    const l = gpuTypes.get(r.gpu) ?? [];
    if (!l.includes(r.mdevType)) l.push(r.mdevType);
    gpuTypes.set(r.gpu, l);
  }
  const branching: [string, string[]][] = [];
  for (const [gpu, types] of [...gpuTypes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const lock = locks.get(gpu);
    if (lock !== undefined) continue; // filtered below
    if (types.length > 1) branching.push([gpu, [...types].sort()]);
  }
  const K = branching.length;
  let combos = 1;
  for (const [, t] of branching) combos *= t.length;
  const truncated = combos > MAX_BRANCHES;

  const { baseCap, caps, resGpu, resType, combo, bestCombo, usedType, stride, sols } = workspace(
    nDev,
    nRes,
    K,
  );
  // The graph, once.
  graph.build(nDev, nRes, nEdges, edgeFrom, edgeTo, edgeCost);

  // Capacity per resource with the locks applied; branching GPU and type index per resource.
  const gpuIndex = new Map(branching.map(([gpu], k) => [gpu, k]));
  const gpuRes: number[][] = branching.map(() => []);
  for (let ri = 0; ri < nRes; ri++) {
    const r = res[ri]!;
    let c = Math.max(0, r.capacity - (used.get(r.id) ?? 0));
    resGpu[ri] = -1;
    resType[ri] = -1;
    if (r.gpu && r.mdevType) {
      const want = locks.get(r.gpu);
      if (want !== undefined && want !== r.mdevType) c = 0;
      const k = gpuIndex.get(r.gpu);
      if (k !== undefined) {
        resGpu[ri] = k;
        resType[ri] = branching[k]![1].indexOf(r.mdevType);
        gpuRes[k]!.push(ri);
      }
    }
    baseCap[ri] = c;
    caps[ri] = c;
    if (!(c > 0 ? Number.isInteger(c) : true)) integral = false;
  }

  /** Caps of the combination `combo` (every branching GPU fixed). */
  const comboCaps = (): Float64Array => {
    for (let ri = 0; ri < nRes; ri++) {
      const k = resGpu[ri]!;
      caps[ri] = k >= 0 && resType[ri] !== combo[k] ? 0 : baseCap[ri]!;
    }
    return caps;
  };
  // sols: one flow per depth 0..K, then the best leaf's flow, then the answer.
  const BEST = (K + 1) * nDev;
  const ANSWER = (K + 2) * nDev;

  if (K === 0) {
    graph.solve(caps);
    graph.assigned(sols, ANSWER);
  } else if (!integral) {
    enumerate();
  } else {
    branchAndBound();
  }

  function enumerate(): void {
    // The original walk (costs or capacities that are not whole numbers: no bounds).
    let bestFlow = -1;
    let bestCost = 0;
    let tried = 0;
    const rec = (k: number) => {
      if (tried >= MAX_BRANCHES) return;
      if (bestFlow === nDev && bestCost === 0) return;
      if (k === K) {
        tried++;
        graph.solve(comboCaps());
        if (bestFlow < 0 || better(graph.flow, graph.total, bestFlow, bestCost)) {
          bestFlow = graph.flow;
          bestCost = graph.total;
          graph.assigned(sols, ANSWER);
        }
        return;
      }
      for (let t = 0; t < branching[k]![1].length; t++) {
        combo[k] = t;
        rec(k + 1);
      }
    };
    rec(0);
  }

  function branchAndBound(): void {
    // stride[k]: combinations under one type of GPU k (the enumeration's index is sum type*stride).
    stride[K - 1] = 1;
    for (let k = K - 2; k >= 0; k--) stride[k] = stride[k + 1]! * branching[k + 1]![1].length;
    graph.solve(caps);
    graph.assigned(sols, 0);
    const rootFlow = graph.flow;
    const rootCost = graph.total;
    let bestFlow = -1;
    let bestCost = 0;
    let bestExact = false;
    let lbFlow = -1;
    let lbCost = 0;
    let stop = false;

    /**
     * Node at depth k (GPUs < k fixed in `combo`, the rest free in `caps`), its
     * first combination's index lo, its bound (f, c) and a flow reaching it at
     * sols[sol ..]; `exact`: that flow is what solving this node's own caps returns.
     */
    const dfs = (k: number, lo: number, sol: number, f: number, c: number, exact: boolean): void => {
      if (bestFlow >= 0 && !better(f, c, bestFlow, bestCost)) return;
      if (lbFlow >= 0 && better(lbFlow, lbCost, f, c)) return;
      if (k === K) {
        bestFlow = f;
        bestCost = c;
        for (let j = 0; j < K; j++) bestCombo[j] = combo[j]!;
        bestExact = exact;
        if (exact) for (let i = 0; i < nDev; i++) sols[BEST + i] = sols[sol + i]!;
        if (f === rootFlow && c === rootCost) stop = true;
        return;
      }
      // If the flow gives each free GPU at most one type, its value is reachable here.
      usedType.fill(-1, 0, K);
      let oneType = true;
      for (let i = 0; i < nDev; i++) {
        const ri = sols[sol + i]!;
        if (ri < 0) continue;
        const g = resGpu[ri]!;
        if (g < k) continue;
        if (usedType[g] === -1) usedType[g] = resType[ri]!;
        else if (usedType[g] !== resType[ri]) oneType = false;
      }
      if (oneType) {
        let idx = lo;
        for (let j = k; j < K; j++) if (usedType[j]! > 0) idx += usedType[j]! * stride[j]!;
        if (idx < MAX_BRANCHES && (lbFlow < 0 || better(f, c, lbFlow, lbCost))) {
          lbFlow = f;
          lbCost = c;
        }
      }
      const list = gpuRes[k]!;
      const nTypes = branching[k]![1].length;
      for (let t = 0; t < nTypes; t++) {
        const childLo = lo + t * stride[k]!;
        if (childLo >= MAX_BRANCHES) break;
        combo[k] = t;
        let fits = true; // the flow uses GPU k with type t only (or not at all)
        for (let i = 0; i < nDev; i++) {
          const ri = sols[sol + i]!;
          if (ri >= 0 && resGpu[ri] === k && resType[ri] !== t) {
            fits = false;
            break;
          }
        }
        let same = true; // closing the other types changes no capacity
        for (const ri of list) {
          if (resType[ri] !== t) {
            if (caps[ri] !== 0) same = false;
            caps[ri] = 0;
          }
        }
        if (fits) {
          dfs(k + 1, childLo, sol, f, c, exact && same);
        } else {
          const child = (k + 1) * nDev;
          graph.solve(caps);
          graph.assigned(sols, child);
          dfs(k + 1, childLo, child, graph.flow, graph.total, true);
        }
        for (const ri of list) caps[ri] = baseCap[ri]!;
        // The remaining siblings cannot beat this node's bound either.
        if (stop || !better(f, c, bestFlow, bestCost) || better(lbFlow, lbCost, f, c)) return;
      }
    };
    dfs(0, 0, 0, rootFlow, rootCost, true);
    if (bestExact) {
      for (let i = 0; i < nDev; i++) sols[ANSWER + i] = sols[BEST + i]!;
      return;
    }
    for (let j = 0; j < K; j++) combo[j] = bestCombo[j]!;
    graph.solve(comboCaps());
    graph.assigned(sols, ANSWER);
  }

  const assignment = new Map<string, string>();
  const gpuChoice = new Map<string, string>();
  for (let i = 0; i < nDev; i++) {
    const ri = sols[ANSWER + i]!;
    if (ri < 0) continue;
    const r = res[ri]!;
    assignment.set(devices[i]!.deviceId, r.id);
    if (r.gpu && r.mdevType) gpuChoice.set(r.gpu, r.mdevType);
  }
  return { assignment, gpuChoice, truncated };
}
