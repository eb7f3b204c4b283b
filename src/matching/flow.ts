/**
 * Min-cost maximum flow on a small bipartite graph (devices -> resources with
 * capacities). Successive shortest paths, each found by a FIFO
 * Bellman-Ford (SPFA): graphs here have tens of devices and hundreds of
 * resources at most, and costs are 0/1, so this is exact and cheap.
 *
 * The graph is built once in typed arrays (`FlowGraph`) and solved many times
 * with different resource capacities (the matcher's GPU type branches reset
 * only the capacities). The adjacency order, the FIFO queue order and the
 * strict `<` relaxation are those of the original implementation
 * (test/matching/reference-matcher.ts), so every solve picks the same
 * augmenting paths and returns the same assignment, not just the same value.
 */
export interface FlowEdgeInput {
  from: number; // device index
  to: number; // resource index
  cost: number;
}

export interface FlowResult {
  /** resource index per device, or -1 */
  assigned: number[];
  flow: number;
  cost: number;
}

/**
 * The residual graph of one matching problem: S -> device (cap 1),
 * device -> resource (cap 1, the edge's cost), resource -> T (the capacity
 * given to `solve`). Edge e and e ^ 1 are each other's reverse.
 */
export class FlowGraph {
  readonly nDevices: number;
  readonly nRes: number;
  private readonly N: number;
  private readonly S: number;
  private readonly T: number;
  private readonly head: Int32Array;
  private readonly nxt: Int32Array;
  private readonly to: Int32Array;
  private readonly cost: Float64Array;
  private readonly cap: Float64Array;
  /** Capacities of every edge before a solve (resource -> T edges set per solve). */
  private readonly cap0: Float64Array;
  /** Edge index of resource r -> T. */
  private readonly tEdge: Int32Array;
  private readonly dist: Float64Array;
  private readonly inq: Uint8Array;
  private readonly prevEdge: Int32Array;
  private readonly queue: Int32Array;
  /** Result of the last `solve`. */
  flow = 0;
  total = 0;

  /** `edgeFrom[k]` (device) -> `edgeTo[k]` (resource) with `edgeCost[k]`, in the caller's order. */
  constructor(
    nDevices: number,
    nRes: number,
    edgeFrom: Int32Array,
    edgeTo: Int32Array,
    edgeCost: Float64Array,
  ) {
    const nEdges = edgeFrom.length;
    this.nDevices = nDevices;
    this.nRes = nRes;
    const N = nDevices + nRes + 2;
    this.N = N;
    this.S = N - 2;
    this.T = N - 1;
    const M = 2 * (nDevices + nEdges + nRes);
    this.head = new Int32Array(N).fill(-1);
    this.nxt = new Int32Array(M);
    this.to = new Int32Array(M);
    this.cost = new Float64Array(M);
    this.cap = new Float64Array(M);
    this.cap0 = new Float64Array(M);
    this.tEdge = new Int32Array(nRes);
    this.dist = new Float64Array(N);
    this.inq = new Uint8Array(N);
    this.prevEdge = new Int32Array(N);
    this.queue = new Int32Array(N);
    let m = 0;
    const head = this.head;
    const add = (u: number, v: number, c: number, w: number) => {
      this.to[m] = v;
      this.cap0[m] = c;
      this.cost[m] = w;
      this.nxt[m] = head[u]!;
      head[u] = m;
      m++;
      this.to[m] = u;
      this.cap0[m] = 0;
      this.cost[m] = -w;
      this.nxt[m] = head[v]!;
      head[v] = m;
      m++;
    };
    for (let i = 0; i < nDevices; i++) add(this.S, i, 1, 0);
    // Insert in reverse so adjacency iteration follows the given order.
    for (let k = nEdges - 1; k >= 0; k--) add(edgeFrom[k]!, nDevices + edgeTo[k]!, 1, edgeCost[k]!);
    // Every resource gets its T edge; one with capacity 0 is never traversed (both
    // directions stay at 0), which is what leaving it out would do.
    for (let r = 0; r < nRes; r++) {
      this.tEdge[r] = m;
      add(nDevices + r, this.T, 0, 0);
    }
  }

  /** Min-cost max flow with `caps[r]` units on resource r; sets `flow` and `total`. */
  solve(caps: Float64Array): void {
    const { cap, to, cost, nxt, head, dist, inq, prevEdge, queue, N, S, T, tEdge } = this;
    cap.set(this.cap0);
    for (let r = 0; r < this.nRes; r++) {
      const c = caps[r]!;
      if (c > 0) cap[tEdge[r]!] = c; // NaN and negatives stay 0: no edge, as before
    }
    let flow = 0;
    let total = 0;
    for (;;) {
      dist.fill(Number.POSITIVE_INFINITY);
      inq.fill(0);
      prevEdge.fill(-1);
      dist[S] = 0;
      // FIFO ring: a node is in the queue at most once, so N slots suffice.
      let qh = 0;
      let qt = 0;
      let qn = 1;
      queue[qt] = S;
      qt = qt + 1 === N ? 0 : qt + 1;
      inq[S] = 1;
      while (qn > 0) {
        const u = queue[qh]!;
        qh = qh + 1 === N ? 0 : qh + 1;
        qn--;
        inq[u] = 0;
        const du = dist[u]!;
        for (let e = head[u]!; e !== -1; e = nxt[e]!) {
          if (cap[e]! <= 0) continue;
          const v = to[e]!;
          const nd = du + cost[e]!;
          if (nd < dist[v]!) {
            dist[v] = nd;
            prevEdge[v] = e;
            if (inq[v] === 0) {
              inq[v] = 1;
              queue[qt] = v;
              qt = qt + 1 === N ? 0 : qt + 1;
              qn++;
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
    this.flow = flow;
    this.total = total;
  }

  /** Resource index per device after the last `solve`, or -1. */
  assigned(out: Int32Array): void {
    const { head, nxt, to, cap, nDevices, nRes } = this;
    for (let i = 0; i < nDevices; i++) {
      let a = -1;
      for (let e = head[i]!; e !== -1; e = nxt[e]!) {
        const v = to[e]!;
        if (v >= nDevices && v < nDevices + nRes && (e & 1) === 0 && cap[e] === 0) a = v - nDevices;
      }
      out[i] = a;
    }
  }
}

export function minCostMaxFlow(nDevices: number, capacities: number[], edges: FlowEdgeInput[]): FlowResult {
  const from = new Int32Array(edges.length);
  const to = new Int32Array(edges.length);
  const cost = new Float64Array(edges.length);
  edges.forEach((e, k) => {
    from[k] = e.from;
    to[k] = e.to;
    cost[k] = e.cost;
  });
  const g = new FlowGraph(nDevices, capacities.length, from, to, cost);
  g.solve(Float64Array.from(capacities));
  const assigned = new Int32Array(nDevices);
  g.assigned(assigned);
  return { assigned: [...assigned], flow: g.flow, cost: g.total };
}
