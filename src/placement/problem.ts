/**
 * The placement problem handed to the exact engine: per VM the hosts it could
 * take alone (best first), per host the capacity units left. Built from the
 * per-host candidates of src/candidates (nothing here re-derives feasibility),
 * so it is plain data: worker shards send their part, tests build it directly.
 */

/** One unit pool of a destination host (a Resource of src/candidates/types.ts, with what is left). */
export interface PResource {
  id: string;
  /** Units still free (capacity minus what earlier placements took). */
  capacity: number;
  /** Using it creates a new mdev (an mdev pool), as opposed to reusing an existing one / a VF / a function. */
  create: boolean;
  /** Physical GPU for the one-type-per-GPU rule (mixed-mode GPUs carry one key per type). */
  gpu?: string;
  mdevType?: string;
}

export interface PHost {
  key: string;
  resources: PResource[];
  /** Types already chosen per GPU by earlier placements: other types are closed there. */
  locks: [string, string][];
}

/** Devices of a VM with the same candidate list on a host (one variable per list and resource). */
export interface PGroup {
  devices: string[];
  /** Resource ids of the host any of these devices may take, best first. */
  resources: string[];
}

export interface POption {
  host: string;
  groups: PGroup[];
  /**
   * New mdevs the VM needs on this host alone (fewest possible). Options
   * carrying it must come sorted by it (then rank); the engine then starts
   * with each VM's first few options and widens only when needed (milp.ts).
   */
  created?: number;
}

export interface PVm {
  /** Assigned devices of the VM (every one must be placed, or none). */
  devices: number;
  /** Hosts that can take the VM alone, best first: the index is the rank tie-break. */
  options: POption[];
}

export interface PlacementProblem {
  vms: PVm[];
  hosts: PHost[];
}

export interface VmPlacement {
  host: string;
  /** deviceId -> resource id */
  assignment: [string, string][];
}

export interface PlacementSolution {
  /** Per VM (problem order): where it goes, or null. */
  placed: (VmPlacement | null)[];
  /** The solver proved levels 1-3 optimal: most VMs, then most devices, then fewest new mdevs. */
  optimal: boolean;
  /** HiGHS's relative MIP gap of the first level it could not prove (stopped by the time limit); 0 when optimal. */
  gap: number | null;
  /** Objective levels proven optimal, in order (4 = all, tie-break included). */
  provenLevels?: number;
}

/** The lexicographic objective levels of a solution: compare with compareScore. */
export interface Score {
  vms: number;
  devices: number;
  created: number;
  rank: number;
}

/** Negative when a is better. */
export function compareScore(a: Score, b: Score): number {
  return b.vms - a.vms || b.devices - a.devices || a.created - b.created || a.rank - b.rank;
}

/** Group a VM's devices on one host by identical candidate lists (device order kept). */
export function groupDevices(devices: { deviceId: string; resources: string[] }[]): PGroup[] {
  const byKey = new Map<string, PGroup>();
  for (const d of devices) {
    const k = [...d.resources].sort().join("\n");
    const g = byKey.get(k);
    if (g) g.devices.push(d.deviceId);
    else byKey.set(k, { devices: [d.deviceId], resources: [...d.resources] });
  }
  return [...byKey.values()];
}
