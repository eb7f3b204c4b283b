/**
 * Evacuation: place many domains at once. Capacity used by one placement is
 * gone for the next (including the one-type-per-GPU rule). By default the
 * exact engine of src/placement (HiGHS) decides who goes where, from every
 * shard's candidate summaries; the greedy path (most constrained first:
 * fewest feasible hosts, then most devices, then name) stays as
 * `--solver greedy` and as the fallback when the solver fails or runs out of time.
 */
import { type HostCandidates, type SourceDevice, createsDevice } from "../candidates/types.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { DomainInfo } from "../model.js";
import {
  type EvalContext,
  type HostReport,
  type PlanOptions,
  evalContext,
  evaluateHostFull,
  hostCandidates,
  reportHost,
} from "./evaluate.js";
import { compareHosts } from "../ranking/rank.js";
import { type Reason, reason } from "../reasons.js";
import { type SolveStats, preloadSolver, solvePlacement } from "../placement/milp.js";
import {
  type PGroup,
  type PHost,
  type PResource,
  type PlacementProblem,
  type VmPlacement,
  groupDevices,
} from "../placement/problem.js";
import type { Rankable } from "../ranking/rank.js";
import { type MatchOutput, matchDevices } from "./match.js";

/** A set that also sees a base set, so trial placements do not copy or touch it. */
class OverlaySet extends Set<string> {
  constructor(private readonly base: Set<string>) {
    super();
  }
  override has(k: string): boolean {
    return super.has(k) || this.base.has(k);
  }
}

export interface Placement {
  domain: string;
  uuid: string;
  host: string | null;
  assignments: HostReport["assignments"];
  reasons: Reason[];
  warnings: Reason[];
  devices: number;
  feasibleHosts: number;
}

export interface EvacuationResult {
  placements: Placement[];
  unplaced: number;
  capacityLeft: Record<string, Record<string, number>>;
  /** Which engine made the placements, and whether they are proven optimal. */
  solver: SolverOutcome;
}

export interface SolverOutcome {
  engine: "highs" | "greedy";
  /** True only when HiGHS proved no placement is better (greedy never proves it). */
  optimal: boolean;
  /** HiGHS's relative MIP gap when it stopped at the time limit; 0 when optimal; null for greedy. */
  gap: number | null;
  /** Why the greedy path was used although the solver was asked for; null otherwise. */
  fallback: string | null;
  /** Model size and solve time (HDPLAN_SOLVER_STATS=1 prints them; never in the JSON). */
  stats?: SolveStats;
}

export interface PlaceOptions {
  /** "highs" (default): exact engine; "greedy": most constrained first. */
  solver?: "highs" | "greedy";
  /** Solver time limit in seconds (default DEFAULT_SOLVER_TIME_S). */
  solverTimeS?: number;
}

export const DEFAULT_SOLVER_TIME_S = 5;

/** One VM's option on one host of a shard, for the exact engine. */
export interface OptionSummary {
  host: string;
  /** New mdevs the VM needs there alone (min-cost matching): the first rank key. */
  created: number;
  rank: Rankable;
  groups: PGroup[];
}

export interface ShardSummary {
  /** Per VM (constructor order): its best options in this shard, at most k. */
  options: OptionSummary[][];
  /** The hosts named in `options`, with what is left of each resource. */
  hosts: PHost[];
}

/** Order of a VM's options: fewest new mdevs, then the plan ranking (a total order). */
export function compareOptions(
  a: Pick<OptionSummary, "created" | "rank">,
  b: Pick<OptionSummary, "created" | "rank">,
): number {
  return a.created - b.created || compareHosts(a.rank, b.rank);
}

interface VmState {
  domain: DomainInfo;
  /** The VM prepared once for evaluateHost (its sources resolved against --source). */
  ctx: EvalContext;
  sources: SourceDevice[];
  cands: Map<string, HostCandidates>;
  feasible: number;
  /** Hosts that could take the VM with nothing placed: capacity only shrinks, so no other host can later. */
  feasibleSet: Set<string>;
  order: number;
}

/**
 * What placement still needs of a host once every VM's candidates are built:
 * its identity, versions and warnings, and the mdev UUIDs it has or reserves
 * (for the UUID rule). The parsed node devices and domains are dropped, so an
 * evacuation over thousands of hosts keeps only candidates in memory.
 */
function slim(inv: HostInventory): HostInventory {
  return {
    ...inv,
    devices: [],
    byName: new Map(),
    pciByAddr: new Map(),
    netByParent: new Map(),
    networks: new Map(),
    domains: [],
    poolMembers: new Map(),
    descriptorFiles: [],
    vendorAttrs: [],
  };
}

/**
 * What placements have taken on a shard's hosts: units per resource and GPU
 * type locks per host (keyed by host key or index), mdev UUIDs; mark() and
 * rollback() return to an earlier state (the exact engine's trial commits).
 */
export class Taken<K> {
  private readonly used = new Map<K, Map<string, number>>();
  private readonly locks = new Map<K, Map<string, string>>();
  readonly uuids = new Set<string>();
  private saved: {
    used: [K, [string, number][]][];
    locks: [K, [string, string][]][];
    uuids: string[];
  } | null = null;

  usedOf(k: K): Map<string, number> {
    let u = this.used.get(k);
    if (!u) {
      u = new Map();
      this.used.set(k, u);
    }
    return u;
  }

  locksOf(k: K): Map<string, string> {
    let l = this.locks.get(k);
    if (!l) {
      l = new Map();
      this.locks.set(k, l);
    }
    return l;
  }

  /** Remember what is taken now (rollback returns to it). */
  mark(): void {
    this.saved = {
      used: [...this.used].map(([k, m]) => [k, [...m]]),
      locks: [...this.locks].map(([k, m]) => [k, [...m]]),
      uuids: [...this.uuids],
    };
  }

  /** Undo everything taken since mark(). */
  rollback(): void {
    if (!this.saved) return;
    this.used.clear();
    for (const [k, m] of this.saved.used) this.used.set(k, new Map(m));
    this.locks.clear();
    for (const [k, m] of this.saved.locks) this.locks.set(k, new Map(m));
    this.uuids.clear();
    for (const x of this.saved.uuids) this.uuids.add(x);
  }
}

/** Incremental evacuation: hosts are added as they are read (and slimmed), then placed. */
export class Evacuation {
  private readonly vms: VmState[];
  private readonly hosts: HostInventory[] = [];

  constructor(
    domains: DomainInfo[],
    source: HostInventory,
    private readonly selector: DescriptorSelector,
    opts: PlanOptions,
  ) {
    this.vms = domains.map((domain, i) => {
      const ctx = evalContext({ domain, source, selector, opts });
      return {
        domain,
        ctx,
        sources: ctx.sources,
        cands: new Map(),
        feasible: 0,
        feasibleSet: new Set<string>(),
        order: i,
      };
    });
  }

  /** Build every VM's candidates on this host; `selector` for a host with its own descriptor files. */
  addHost(h: HostInventory, selector: DescriptorSelector = this.selector): void {
    for (const vm of this.vms) {
      const c = hostCandidates(vm.ctx, h, selector);
      vm.cands.set(h.key, c);
      const m = matchDevices({ devices: c.devices, resources: c.resources });
      if (m.assignment.size === vm.sources.length) vm.feasibleSet.add(h.key);
    }
    this.hosts.push(slim(h));
  }

  // ---- the shard interface (this host set; worker threads hold one each) ----
  private readonly taken = new Taken<string>();
  private readonly uuidTaken = this.taken.uuids;

  vmInfo(): VmInfo[] {
    return this.vms.map((vm) => ({ name: vm.domain.name, uuid: vm.domain.uuid, devices: vm.sources.length }));
  }

  hostCount(): number {
    return this.hosts.length;
  }

  /** Per VM (constructor order): how many of these hosts could take it with nothing placed. */
  feasibleCounts(): number[] {
    return this.vms.map((vm) => vm.feasibleSet.size);
  }

  private trial(vmIdx: number, h: HostInventory, taken: Set<string>) {
    const vm = this.vms[vmIdx]!;
    const used = this.usedOf(h.key);
    const { match, report } = evaluateHostFull(vm.ctx, h, {
      cands: vm.cands.get(h.key)!,
      used,
      locks: this.locksOf(h.key),
      uuidTaken: taken,
    });
    return { m: match, rep: report };
  }

  private usedOf(key: string): Map<string, number> {
    return this.taken.usedOf(key);
  }

  private locksOf(key: string): Map<string, string> {
    return this.taken.locksOf(key);
  }

  /** The best host of this set that can still take every device of the VM, or null. */
  bestFull(vmIdx: number): HostReport | null {
    const vm = this.vms[vmIdx]!;
    let best: HostReport | null = null;
    for (const h of this.hosts) {
      if (!vm.feasibleSet.has(h.key)) continue; // capacity only shrinks
      const { rep } = this.trial(vmIdx, h, new OverlaySet(this.uuidTaken));
      if (rep.status === "full" && (!best || compareHosts(rep, best) < 0)) best = rep;
    }
    return best;
  }

  /** The closest host of this set (to explain an unplaced VM). */
  closest(vmIdx: number): HostReport | null {
    let best: HostReport | null = null;
    for (const h of this.hosts) {
      const { rep } = this.trial(vmIdx, h, new OverlaySet(this.uuidTaken));
      if (!best || compareHosts(rep, best) < 0) best = rep;
    }
    return best;
  }

  /** Place the VM on a host of this set: its capacity and GPU type locks are taken. */
  commit(vmIdx: number, hostKey: string): HostReport {
    const h = this.hosts.find((x) => x.key === hostKey)!;
    const { m, rep } = this.trial(vmIdx, h, this.uuidTaken);
    const u = this.usedOf(hostKey);
    for (const rid of m.assignment.values()) u.set(rid, (u.get(rid) ?? 0) + 1);
    const l = this.locksOf(hostKey);
    for (const [gpu, t] of m.gpuChoice) l.set(gpu, t);
    return rep;
  }

  /**
   * Every VM's best k hosts of this set that can take it now (what is left
   * after commits), with the candidate lists of its devices there and each
   * host's resources: all the exact engine needs.
   */
  summaries(k: number): ShardSummary {
    const wanted = new Set<string>();
    const options = this.vms.map((vm, i) => {
      // Rank every host that can take the VM now; build device lists for the best k only.
      const ranked: Omit<OptionSummary, "groups">[] = [];
      for (const h of this.hosts) {
        if (!vm.feasibleSet.has(h.key)) continue;
        const { m, rep } = this.trial(i, h, new OverlaySet(this.uuidTaken));
        if (rep.status !== "full") continue;
        const c = vm.cands.get(h.key)!;
        let created = 0;
        for (const rid of m.assignment.values()) if (createsDevice(c.resources.get(rid)!.target)) created++;
        ranked.push({
          host: h.key,
          created,
          rank: {
            host: rep.host,
            status: rep.status,
            compatible: rep.compatible,
            warnings: rep.warnings,
            capacityLeft: rep.capacityLeft,
            freePciLeft: rep.freePciLeft,
          },
        });
      }
      ranked.sort(compareOptions);
      return ranked.slice(0, k).map((o): OptionSummary => {
        wanted.add(o.host);
        const c = vm.cands.get(o.host)!;
        const open = openResources(c, this.usedOf(o.host), this.locksOf(o.host));
        return {
          ...o,
          groups: groupDevices(
            c.devices.map((d) => ({
              deviceId: d.deviceId,
              resources: d.resources.filter((r) => open.has(r)),
            })),
          ),
        };
      });
    });
    const hosts: PHost[] = [];
    for (const h of this.hosts) {
      if (!wanted.has(h.key)) continue;
      const u = this.usedOf(h.key);
      const res = new Map<string, PResource>();
      for (const vm of this.vms) {
        for (const r of vm.cands.get(h.key)!.resources.values()) {
          if (res.has(r.id)) continue;
          res.set(r.id, {
            id: r.id,
            capacity: r.capacity - (u.get(r.id) ?? 0),
            create: createsDevice(r.target),
            ...(r.gpu ? { gpu: r.gpu } : {}),
            ...(r.mdevType ? { mdevType: r.mdevType } : {}),
          });
        }
      }
      hosts.push({ key: h.key, resources: [...res.values()], locks: [...this.locksOf(h.key)] });
    }
    return { options, hosts };
  }

  /**
   * Place the VM on a host of this set with the given device -> resource
   * assignment (the exact engine's). Checked here against this shard's own
   * candidates and what is left: a unit is never promised twice.
   */
  commitAssigned(vmIdx: number, hostKey: string, assignment: [string, string][]): HostReport {
    const vm = this.vms[vmIdx]!;
    const h = this.hosts.find((x) => x.key === hostKey);
    const c = vm.cands.get(hostKey);
    if (!h || !c) throw new Error(`placement: ${hostKey} is not a host of this shard`);
    const u = this.usedOf(hostKey);
    const l = this.locksOf(hostKey);
    const { m, take } = checkAssignment(vm.domain.name, hostKey, c, u, l, assignment, vm.sources.length);
    const rep = reportHost(vm.ctx, h, vm.sources, c, m, u, this.uuidTaken);
    takeUnits(u, l, take, m);
    return rep;
  }

  mark(): void {
    this.taken.mark();
  }

  rollback(): void {
    this.taken.rollback();
  }

  capacityLeft(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const h of this.hosts) {
      const u = this.usedOf(h.key);
      const lock = this.locksOf(h.key);
      const seen = new Map<string, number>();
      for (const vm of this.vms) {
        for (const r of vm.cands.get(h.key)!.resources.values()) {
          if (seen.has(r.id)) continue;
          let cap = r.capacity - (u.get(r.id) ?? 0);
          if (r.gpu && r.mdevType && lock.has(r.gpu) && lock.get(r.gpu) !== r.mdevType) cap = 0;
          seen.set(r.id, cap);
        }
      }
      const left: Record<string, number> = {};
      for (const k of [...seen.keys()].sort()) left[k] = seen.get(k)!;
      out[h.key] = left;
    }
    return out;
  }
}

export interface VmInfo {
  name: string;
  uuid: string;
  devices: number;
}

/** One set of hosts: an Evacuation here, or a proxy to one in a worker thread. */
/**
 * Check an exact engine's device -> resource assignment for one VM on one
 * host against that host's own candidates and what is left (independently of
 * the solver's model): a unit is never promised twice, a GPU never serves two
 * types, and the VM gets all its devices. Returns the matching and the units.
 */
export function checkAssignment(
  vmName: string,
  hostKey: string,
  c: HostCandidates,
  used: Map<string, number>,
  locks: Map<string, string>,
  assignment: [string, string][],
  nDevices: number,
): { m: MatchOutput; take: Map<string, number> } {
  const m: MatchOutput = { assignment: new Map(), gpuChoice: new Map(), truncated: false };
  const take = new Map<string, number>();
  for (const [dev, rid] of assignment) {
    const dc = c.devices.find((d) => d.deviceId === dev);
    const r = c.resources.get(rid);
    if (!dc || !r || !dc.resources.includes(rid) || m.assignment.has(dev))
      throw new Error(`placement: ${vmName} ${dev} -> ${rid} is not a candidate on ${hostKey}`);
    const n = (take.get(rid) ?? 0) + 1;
    if (n > r.capacity - (used.get(rid) ?? 0))
      throw new Error(`placement: ${hostKey} ${rid} would be promised more often than it has units`);
    take.set(rid, n);
    if (r.gpu && r.mdevType) {
      const t = locks.get(r.gpu) ?? m.gpuChoice.get(r.gpu);
      if (t !== undefined && t !== r.mdevType)
        throw new Error(`placement: ${hostKey} GPU ${r.gpu} would serve ${t} and ${r.mdevType}`);
      m.gpuChoice.set(r.gpu, r.mdevType);
    }
    m.assignment.set(dev, rid);
  }
  if (m.assignment.size !== nDevices)
    throw new Error(`placement: ${vmName} would be placed without all its devices`);
  return { m, take };
}

/** Resources of a VM's candidates on a host that still have a unit and an open GPU type. */
export function openResources(
  c: HostCandidates,
  used: Map<string, number>,
  locks: Map<string, string>,
): Set<string> {
  const open = new Set<string>();
  for (const r of c.resources.values()) {
    if (r.capacity - (used.get(r.id) ?? 0) <= 0) continue;
    if (r.gpu && r.mdevType && locks.has(r.gpu) && locks.get(r.gpu) !== r.mdevType) continue;
    open.add(r.id);
  }
  return open;
}

/** Take the units and GPU type locks of a checked assignment. */
export function takeUnits(
  used: Map<string, number>,
  locks: Map<string, string>,
  take: Map<string, number>,
  m: MatchOutput,
): void {
  for (const [rid, n] of take) used.set(rid, (used.get(rid) ?? 0) + n);
  for (const [gpu, t] of m.gpuChoice) locks.set(gpu, t);
}

export interface EvacShard {
  feasibleCounts(): number[] | Promise<number[]>;
  hostCount(): number | Promise<number>;
  bestFull(vmIdx: number): HostReport | null | Promise<HostReport | null>;
  closest(vmIdx: number): HostReport | null | Promise<HostReport | null>;
  commit(vmIdx: number, hostKey: string): HostReport | Promise<HostReport>;
  summaries(k: number): ShardSummary | Promise<ShardSummary>;
  commitAssigned(
    vmIdx: number,
    hostKey: string,
    assignment: [string, string][],
  ): HostReport | Promise<HostReport>;
  mark(): void | Promise<void>;
  rollback(): void | Promise<void>;
  capacityLeft(): Record<string, Record<string, number>> | Promise<Record<string, Record<string, number>>>;
}

function better(a: HostReport | null, b: HostReport | null): HostReport | null {
  if (!a) return b;
  if (!b) return a;
  return compareHosts(b, a) < 0 ? b : a;
}

/**
 * Place every VM across the shards (the one entry point of evacuate, and of
 * anything else placing a set of VMs on a set of hosts with shared capacity).
 * Placements come in the most-constrained order ("input": given order) with
 * either engine. compareHosts and compareOptions are total orders and the
 * solver's model is built from sorted data, so the answer does not depend on
 * how hosts are split over shards.
 */
export async function placeAll(
  shards: EvacShard[],
  vms: VmInfo[],
  order: "constrained" | "input" = "constrained",
  place: PlaceOptions = {},
): Promise<EvacuationResult> {
  if ((place.solver ?? "highs") === "highs") preloadSolver();
  const feasible = new Array<number>(vms.length).fill(0);
  for (const counts of await Promise.all(shards.map((s) => s.feasibleCounts()))) {
    counts.forEach((n, i) => {
      feasible[i]! += n;
    });
  }
  const hostTotal = (await Promise.all(shards.map((s) => s.hostCount()))).reduce((a, b) => a + b, 0);
  const idx = vms.map((_, i) => i);
  if (order === "constrained") {
    idx.sort(
      (a, b) =>
        feasible[a]! - feasible[b]! ||
        vms[b]!.devices - vms[a]!.devices ||
        (vms[a]!.name < vms[b]!.name ? -1 : vms[a]!.name > vms[b]!.name ? 1 : 0),
    );
  }
  const run: Run = { shards, vms, idx, feasible, hostTotal };
  const { placements, solver } =
    (place.solver ?? "highs") === "greedy"
      ? {
          placements: await greedy(run),
          solver: { engine: "greedy", optimal: false, gap: null, fallback: null } as const,
        }
      : await exact(run, place.solverTimeS ?? DEFAULT_SOLVER_TIME_S);
  const merged: Record<string, Record<string, number>> = {};
  for (const c of await Promise.all(shards.map((s) => s.capacityLeft()))) Object.assign(merged, c);
  const capacityLeft: EvacuationResult["capacityLeft"] = {};
  for (const k of Object.keys(merged).sort()) capacityLeft[k] = merged[k]!;
  return { placements, unplaced: placements.filter((p) => p.host === null).length, capacityLeft, solver };
}

interface Run {
  shards: EvacShard[];
  vms: VmInfo[];
  idx: number[];
  feasible: number[];
  hostTotal: number;
}

function placedEntry(run: Run, i: number, rep: HostReport): Placement {
  const vm = run.vms[i]!;
  return {
    domain: vm.name,
    uuid: vm.uuid,
    host: rep.host,
    assignments: rep.assignments,
    reasons: [],
    warnings: rep.warnings,
    devices: vm.devices,
    feasibleHosts: run.feasible[i]!,
  };
}

/** An unplaced VM, explained by the closest host as things stand now. */
async function unplacedEntry(run: Run, i: number): Promise<Placement> {
  const vm = run.vms[i]!;
  let closest: HostReport | null = null;
  for (const c of await Promise.all(run.shards.map((s) => s.closest(i)))) closest = better(closest, c);
  const partial = closest as HostReport | null;
  const reasons: Reason[] =
    run.hostTotal === 0
      ? [reason("capacity-taken", "no readable candidate host")]
      : partial
        ? [
            reason(
              "capacity-taken",
              `no host can take every device now; closest is ${partial.host} (${partial.compatible}/${partial.total})`,
              { host: partial.host },
            ),
            ...partial.unassigned.flatMap((u) => u.reasons.map((r) => ({ ...r, device: u.device }))),
          ]
        : [];
  return {
    domain: vm.name,
    uuid: vm.uuid,
    host: null,
    assignments: [],
    reasons,
    warnings: [],
    devices: vm.devices,
    feasibleHosts: run.feasible[i]!,
  };
}

/** The greedy path: in order, each VM on the best full host of all shards. */
async function greedy(run: Run): Promise<Placement[]> {
  const placements: Placement[] = [];
  for (const i of run.idx) {
    const bests = await Promise.all(run.shards.map((s) => s.bestFull(i)));
    let best: HostReport | null = null;
    let owner = -1;
    bests.forEach((b, k) => {
      const nb = better(best, b);
      if (nb !== best) {
        best = nb;
        owner = k;
      }
    });
    const chosen = best as HostReport | null;
    if (chosen) placements.push(placedEntry(run, i, await run.shards[owner]!.commit(i, chosen.host)));
    else placements.push(await unplacedEntry(run, i));
  }
  return placements;
}

/** Objective levels 1-3 of placements made (for comparing greedy with a solver incumbent). */
function levels(ps: Placement[]): [number, number, number] {
  const placed = ps.filter((p) => p.host !== null);
  return [
    placed.length,
    placed.reduce((a, p) => a + p.devices, 0),
    -placed.reduce((a, p) => a + p.assignments.filter((x) => createsDevice(x.target)).length, 0),
  ];
}

function lexGreater(a: number[], b: number[]): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return a[k]! > b[k]!;
  return false;
}

/**
 * The exact path. Each VM is offered its best N hosts (N = VMs placed at
 * once): in any plan the other VMs use at most N-1 hosts, so one of those N
 * is free for it, and it fits there alone creating no more mdevs than on a
 * host further down; restricting to them loses no VM, device or reuse.
 */
async function exact(run: Run, timeS: number): Promise<{ placements: Placement[]; solver: SolverOutcome }> {
  const K = Math.max(1, run.vms.length);
  const sums = await Promise.all(run.shards.map((s) => s.summaries(K)));
  const owner = new Map<string, number>();
  const hostMap = new Map<string, PHost>();
  sums.forEach((sm, k) => {
    for (const h of sm.hosts) {
      owner.set(h.key, k);
      hostMap.set(h.key, h);
    }
  });
  const problem: PlacementProblem = {
    vms: run.vms.map((vm, i) => {
      const all = sums.flatMap((sm) => sm.options[i] ?? []).sort(compareOptions);
      return {
        devices: vm.devices,
        options: all.slice(0, K).map((o) => ({ host: o.host, groups: o.groups, created: o.created })),
      };
    }),
    hosts: [...hostMap.keys()].sort().map((k) => hostMap.get(k)!),
  };
  const res = await solvePlacement(problem, { timeS });
  const stats = res.stats;
  const commitAll = async (placed: (VmPlacement | null)[]): Promise<Placement[]> => {
    const out: (Placement | null)[] = [];
    for (const i of run.idx) {
      const pl = placed[i];
      out.push(
        pl
          ? placedEntry(
              run,
              i,
              await run.shards[owner.get(pl.host)!]!.commitAssigned(i, pl.host, pl.assignment),
            )
          : null,
      );
    }
    // Unplaced VMs are explained once everything is committed.
    for (let k = 0; k < out.length; k++) if (!out[k]) out[k] = await unplacedEntry(run, run.idx[k]!);
    return out as Placement[];
  };
  if (!res.ok) {
    return {
      placements: await greedy(run),
      solver: { engine: "greedy", optimal: false, gap: null, fallback: res.error, stats },
    };
  }
  const sol = res.solution;
  if (sol.optimal) {
    return {
      placements: await commitAll(sol.placed),
      solver: { engine: "highs", optimal: true, gap: 0, fallback: null, stats },
    };
  }
  // Stopped at the time limit with a plan: keep it only if it beats greedy.
  await Promise.all(run.shards.map((s) => s.mark()));
  const g = await greedy(run);
  const mine = sol.placed.filter((p): p is VmPlacement => p !== null);
  const created = new Map<string, boolean>();
  for (const h of problem.hosts) for (const r of h.resources) created.set(`${h.key}\n${r.id}`, r.create);
  const solLevels = [
    mine.length,
    sol.placed.reduce((a, p, i) => a + (p ? run.vms[i]!.devices : 0), 0),
    -mine.reduce((a, p) => a + p.assignment.filter(([, rid]) => created.get(`${p.host}\n${rid}`)).length, 0),
  ];
  const gapText = sol.gap === null ? "unknown gap" : `gap ${(sol.gap * 100).toFixed(2)}%`;
  if (lexGreater(solLevels, levels(g))) {
    await Promise.all(run.shards.map((s) => s.rollback()));
    return {
      placements: await commitAll(sol.placed),
      solver: { engine: "highs", optimal: false, gap: sol.gap, fallback: null, stats },
    };
  }
  return {
    placements: g,
    solver: {
      engine: "greedy",
      optimal: false,
      gap: sol.gap,
      fallback: `HiGHS stopped at the ${timeS} s limit (${gapText}) with a plan no better than greedy`,
      stats,
    },
  };
}

export function evacuate(
  domains: DomainInfo[],
  source: HostInventory,
  hosts: HostInventory[],
  selector: DescriptorSelector,
  opts: PlanOptions,
  order: "constrained" | "input" = "constrained",
  place: PlaceOptions = {},
): Promise<EvacuationResult> {
  const e = new Evacuation(domains, source, selector, opts);
  for (const h of hosts) e.addHost(h);
  return placeAll([e], e.vmInfo(), order, place);
}

/** The domains to move: running ones with assigned devices (or every defined one). */
export function domainsToMove(source: HostInventory, includeInactive: boolean): DomainInfo[] {
  const byUuid = new Map<string, { info: DomainInfo; active: boolean }>();
  for (const d of source.domains) {
    const prev = byUuid.get(d.info.uuid);
    if (!prev || (d.active && !prev.active))
      byUuid.set(d.info.uuid, { info: d.info, active: d.active || !!prev?.active });
  }
  return [...byUuid.values()]
    .filter((d) => (includeInactive || d.active) && d.info.devices.length > 0)
    .map((d) => d.info)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
