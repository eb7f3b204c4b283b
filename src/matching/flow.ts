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

/** `a` if it holds n entries, else a larger zeroed one (buffers are reused across calls: allocating typed arrays is what costs). */
export function growI32(a: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
  return a.length >= n ? a : new Int32Array(Math.max(n, 2 * a.length));
}
export function growF64(a: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
  return a.length >= n ? a : new Float64Array(Math.max(n, 2 * a.length));
}

/**
 * The residual graph of one matching problem: S -> device (cap 1),
 * device -> resource (cap 1, the edge's cost), resource -> T (the capacity
 * given to `solve`). Edge e and e ^ 1 are each other's reverse. `build` reuses
 * the buffers of earlier problems (they only grow).
 */
export class FlowGraph {
  nDevices = 0;
  nRes = 0;
  private N = 2;
  private M = 0;
  private S = 0;
  private T = 1;
  private head = new Int32Array(64);
  private nxt = new Int32Array(256);
  private to = new Int32Array(256);
  private cost = new Float64Array(256);
  private cap = new Float64Array(256);
  /** Capacities of every edge before a solve (resource -> T edges set per solve). */
  private cap0 = new Float64Array(256);
  /** Edge index of resource r -> T. */
  private tEdge = new Int32Array(64);
  private dist = new Float64Array(64);
  private inq = new Uint8Array(64);
  private prevEdge = new Int32Array(64);
  private queue = new Int32Array(64);
  /** Result of the last `solve`. */
  flow = 0;
  total = 0;

  /** Edges k < nEdges: device `edgeFrom[k]` -> resource `edgeTo[k]` with cost `edgeCost[k]`, in the caller's order. */
  build(
    nDevices: number,
    nRes: number,
    nEdges: number,
    edgeFrom: Int32Array,
    edgeTo: Int32Array,
    edgeCost: Float64Array,
  ): void {
    this.nDevices = nDevices;
    this.nRes = nRes;
    const N = nDevices + nRes + 2;
    const M = 2 * (nDevices + nEdges + nRes);
    this.N = N;
    this.M = M;
    this.S = N - 2;
    this.T = N - 1;
    if (this.head.length < N) {
      const n = Math.max(N, 2 * this.head.length);
      this.head = new Int32Array(n);
      this.dist = new Float64Array(n);
      this.inq = new Uint8Array(n);
      this.prevEdge = new Int32Array(n);
      this.queue = new Int32Array(n);
    }
    if (this.to.length < M) {
      const n = Math.max(M, 2 * this.to.length);
      this.nxt = new Int32Array(n);
      this.to = new Int32Array(n);
      this.cost = new Float64Array(n);
      this.cap = new Float64Array(n);
      this.cap0 = new Float64Array(n);
    }
    this.tEdge = growI32(this.tEdge, nRes);
    const { head, nxt, to, cost, cap0, tEdge } = this;
    head.fill(-1, 0, N);
    let m = 0;
    const add = (u: number, v: number, c: number, w: number) => {
      to[m] = v;
      cap0[m] = c;
      cost[m] = w;
      nxt[m] = head[u]!;
      head[u] = m;
      m++;
      to[m] = u;
      cap0[m] = 0;
      cost[m] = -w;
      nxt[m] = head[v]!;
      head[v] = m;
      m++;
    };
    const S = N - 2;
    for (let i = 0; i < nDevices; i++) add(S, i, 1, 0);
    // Insert in reverse so adjacency iteration follows the given order.
    for (let k = nEdges - 1; k >= 0; k--) add(edgeFrom[k]!, nDevices + edgeTo[k]!, 1, edgeCost[k]!);
    // Every resource gets its T edge; one with capacity 0 is never traversed (both
    // directions stay at 0), which is what leaving it out would do.
    for (let r = 0; r < nRes; r++) {
      tEdge[r] = m;
      add(nDevices + r, N - 1, 0, 0);
    }
  }

  /** Min-cost max flow with `caps[r]` units on resource r; sets `flow` and `total`. */
  solve(caps: Float64Array): void {
    const { cap, cap0, to, cost, nxt, head, dist, inq, prevEdge, queue, N, M, S, T, tEdge } = this;
    for (let e = 0; e < M; e++) cap[e] = cap0[e]!;
    for (let r = 0; r < this.nRes; r++) {
      const c = caps[r]!;
      if (c > 0) cap[tEdge[r]!] = c; // NaN and negatives stay 0: no edge, as before
    }
    let flow = 0;
    let total = 0;
    for (;;) {
      dist.fill(Number.POSITIVE_INFINITY, 0, N);
      inq.fill(0, 0, N);
      prevEdge.fill(-1, 0, N);
      dist[S] = 0;
      // FIFO ring: a node is in the queue at most once, so N slots suffice.
      let qh = 0;
      let qt = 1;
      let qn = 1;
      queue[0] = S;
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

  /** Resource index per device after the last `solve` (or -1), into out[at ..]. */
  assigned(out: Int32Array, at = 0): void {
    const { head, nxt, to, cap, nDevices, nRes } = this;
    for (let i = 0; i < nDevices; i++) {
      let a = -1;
      for (let e = head[i]!; e !== -1; e = nxt[e]!) {
        const v = to[e]!;
        if (v >= nDevices && v < nDevices + nRes && (e & 1) === 0 && cap[e] === 0) a = v - nDevices;
      }
      out[at + i] = a;
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
  const g = new FlowGraph();
  g.build(nDevices, capacities.length, edges.length, from, to, cost);
  g.solve(Float64Array.from(capacities));
  const assigned = new Int32Array(nDevices);
  g.assigned(assigned);
  return { assigned: [...assigned], flow: g.flow, cost: g.total };
}
