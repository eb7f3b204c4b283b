/**
 * TEST ORACLE ONLY: the matcher and min-cost flow as they were before the
 * typed-array rewrite (src/matching/match.ts and src/matching/flow.ts at
 * commit 297b42c), copied verbatim so the differential test can compare the
 * new matcher with them. Only the imports and the exported names changed
 * (`referenceMatchDevices`, `referenceMinCostMaxFlow`). Do not "improve".
 */
import type { DeviceCandidates, Resource } from "../../src/candidates/types.js";

/**
 * Min-cost maximum flow on a small bipartite graph (devices -> resources with
 * capacities). Successive shortest paths with Bellman-Ford: graphs here have
 * tens of devices and hundreds of resources at most.
 */
export interface RefFlowEdgeInput {
  from: number; // device index
  to: number; // resource index
  cost: number;
}

export interface RefFlowResult {
  /** resource index per device, or -1 */
  assigned: number[];
  flow: number;
  cost: number;
}

export function referenceMinCostMaxFlow(
  nDevices: number,
  capacities: number[],
  edges: RefFlowEdgeInput[],
): RefFlowResult {
  const nRes = capacities.length;
  const N = nDevices + nRes + 2;
  const S = N - 2;
  const T = N - 1;
  const to: number[] = [];
  const cap: number[] = [];
  const cost: number[] = [];
  const head: number[] = new Array(N).fill(-1);
  const nxt: number[] = [];
  const add = (u: number, v: number, c: number, w: number) => {
    to.push(v);
    cap.push(c);
    cost.push(w);
    nxt.push(head[u]!);
    head[u] = to.length - 1;
    to.push(u);
    cap.push(0);
    cost.push(-w);
    nxt.push(head[v]!);
    head[v] = to.length - 1;
  };
  for (let i = 0; i < nDevices; i++) add(S, i, 1, 0);
  // Insert in reverse so adjacency iteration follows the given order.
  for (let k = edges.length - 1; k >= 0; k--) {
    const e = edges[k]!;
    add(e.from, nDevices + e.to, 1, e.cost);
  }
  for (let r = 0; r < nRes; r++) if (capacities[r]! > 0) add(nDevices + r, T, capacities[r]!, 0);

  let flow = 0;
  let total = 0;
  const dist = new Array<number>(N);
  const inq = new Array<boolean>(N);
  const prevEdge = new Array<number>(N);
  for (;;) {
    dist.fill(Number.POSITIVE_INFINITY);
    inq.fill(false);
    prevEdge.fill(-1);
    dist[S] = 0;
    const queue: number[] = [S];
    inq[S] = true;
    while (queue.length > 0) {
      const u = queue.shift()!;
      inq[u] = false;
      for (let e = head[u]!; e !== -1; e = nxt[e]!) {
        if (cap[e]! <= 0) continue;
        const v = to[e]!;
        const nd = dist[u]! + cost[e]!;
        if (nd < dist[v]!) {
          dist[v] = nd;
          prevEdge[v] = e;
          if (!inq[v]) {
            inq[v] = true;
            queue.push(v);
          }
        }
      }
    }
    if (dist[T] === Number.POSITIVE_INFINITY) break;
    for (let v = T; v !== S; v = to[prevEdge[v]! ^ 1]!) {
      const e = prevEdge[v]!;
      cap[e] = cap[e]! - 1;
      cap[e ^ 1] = cap[e ^ 1]! + 1;
    }
    flow++;
    total += dist[T]!;
  }
  const assigned = new Array<number>(nDevices).fill(-1);
  for (let i = 0; i < nDevices; i++) {
    for (let e = head[i]!; e !== -1; e = nxt[e]!) {
      const v = to[e]!;
      if (v >= nDevices && v < nDevices + nRes && e % 2 === 0 && cap[e] === 0) assigned[i] = v - nDevices;
    }
  }
  return { assigned, flow, cost: total };
}

export interface RefMatchInput {
  devices: DeviceCandidates[];
  resources: Map<string, Resource>;
  /** Capacity already consumed by earlier placements (evacuate). */
  used?: Map<string, number>;
  /** Type already chosen per physical GPU by earlier placements (evacuate). */
  gpuLocks?: Map<string, string>;
}

export interface RefMatchOutput {
  /** deviceId -> resource id */
  assignment: Map<string, string>;
  /** Type chosen per physical GPU by this matching (only GPUs it used). */
  gpuChoice: Map<string, string>;
  truncated: boolean;
}

export const REF_MAX_BRANCHES = 4096;

export function referenceMatchDevices(input: RefMatchInput): RefMatchOutput {
  const used = input.used ?? new Map<string, number>();
  const locks = input.gpuLocks ?? new Map<string, string>();
  // Resources reachable by some device, in a stable order.
  const resIds = [...new Set(input.devices.flatMap((d) => d.resources))];
  const res = resIds.map((id) => input.resources.get(id)!);
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
  let combos = 1;
  for (const [, t] of branching) combos *= t.length;
  const truncated = combos > REF_MAX_BRANCHES;

  let best: { flow: number; cost: number; assigned: number[]; choice: Map<string, string> } | null = null;
  const choice = new Map<string, string>();
  let tried = 0;
  const evaluate = () => {
    tried++;
    const caps = res.map((r) => {
      if (r.gpu && r.mdevType) {
        const want = locks.get(r.gpu) ?? choice.get(r.gpu);
        if (want !== undefined && want !== r.mdevType) return 0;
      }
      return Math.max(0, r.capacity - (used.get(r.id) ?? 0));
    });
    const index = new Map(resIds.map((id, i) => [id, i]));
    const edges = input.devices.flatMap((d, i) =>
      d.resources.map((rid) => ({ from: i, to: index.get(rid)!, cost: input.resources.get(rid)!.cost })),
    );
    const out = referenceMinCostMaxFlow(input.devices.length, caps, edges);
    if (!best || out.flow > best.flow || (out.flow === best.flow && out.cost < best.cost)) {
      best = { ...out, choice: new Map(choice) };
    }
  };
  const rec = (k: number) => {
    if (tried >= REF_MAX_BRANCHES) return;
    if (best && best.flow === input.devices.length && best.cost === 0) return;
    if (k === branching.length) {
      evaluate();
      return;
    }
    const [gpu, types] = branching[k]!;
    for (const t of types) {
      choice.set(gpu, t);
      rec(k + 1);
    }
    choice.delete(gpu);
  };
  rec(0);
  const b = best as { assigned: number[] } | null;
  const assignment = new Map<string, string>();
  const gpuChoice = new Map<string, string>();
  if (b) {
    b.assigned.forEach((ri, i) => {
      if (ri < 0) return;
      const r = res[ri]!;
      assignment.set(input.devices[i]!.deviceId, r.id);
      if (r.gpu && r.mdevType) gpuChoice.set(r.gpu, r.mdevType);
    });
  }
  return { assignment, gpuChoice, truncated };
}
