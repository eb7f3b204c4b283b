/**
 * Min-cost maximum flow on a small bipartite graph (devices -> resources with
 * capacities). Successive shortest paths with Bellman-Ford: graphs here have
 * tens of devices and hundreds of resources at most.
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

export function minCostMaxFlow(nDevices: number, capacities: number[], edges: FlowEdgeInput[]): FlowResult {
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
