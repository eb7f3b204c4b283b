/**
 * The score step: a maximum matching with capacities between the VM's devices
 * and a host's resources, preferring existing mdevs over creating new ones,
 * under the one-type-per-physical-GPU rule (compat.md §6). GPUs whose several
 * types are wanted are branched over (bounded; beyond the bound the result is
 * still a valid matching and carries a warning).
 */
import type { DeviceCandidates, Resource } from "../candidates/types.js";
import { minCostMaxFlow } from "./flow.js";

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

export function matchDevices(input: MatchInput): MatchOutput {
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
  const truncated = combos > MAX_BRANCHES;

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
    const out = minCostMaxFlow(input.devices.length, caps, edges);
    if (!best || out.flow > best.flow || (out.flow === best.flow && out.cost < best.cost)) {
      best = { ...out, choice: new Map(choice) };
    }
  };
  const rec = (k: number) => {
    if (tried >= MAX_BRANCHES) return;
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
