/**
 * Evacuation: place many domains at once. Capacity used by one placement is
 * gone for the next (including the one-type-per-GPU rule). By default the
 * exact engine of src/placement (HiGHS) decides who goes where, from every
 * shard's candidate summaries; the greedy path (most constrained first:
 * fewest feasible hosts, then most devices, then name) stays as
 * `--solver greedy` and as the fallback when the solver fails or runs out of time.
 */
import { type HostCandidates, type Resource, type SourceDevice, createsDevice } from "../candidates/types.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { AssignedDevice, DomainInfo } from "../model.js";
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
import type { MatchOutput } from "./match.js";
import { type CandidatePart, Compactor, HostPool } from "../placement/compact.js";
import { flatString } from "../strings.js";
import { mapList } from "../lists.js";

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

/**
 * Fields of a SourceDevice that name which device it is (its host and guest
 * addresses, MAC, mdev UUID, index among the VM's devices of its kind; dev.id
 * stays in the key) or describe the source side only (summary, source
 * warnings). buildHostCandidates never reads them (the mdev UUID
 * matters only to the report's UUID rule, src/matching/evaluate.ts), so two
 * devices equal in every other field have equal candidates on any host:
 * evacuate builds them once per host (test/placement/compact.test.ts checks
 * that changing any of these fields changes no host's candidates).
 */
export const IDENTITY_FIELDS = {
  source: ["summary", "warnings", "mdevUuid"],
  dev: ["hostAddress", "guestAddress", "mac", "mdevUuid", "kindIndex"],
} as const satisfies { source: readonly KeyOfAny<SourceDevice>[]; dev: readonly KeyOfAny<AssignedDevice>[] };

/** A key of any variant of a union (keyof of a union holds only the keys all variants share). */
type KeyOfAny<T> = T extends unknown ? keyof T : never;

/** The key of a source device's candidates (every field but IDENTITY_FIELDS) within one VM shape. */
export function candidateKey(s: SourceDevice, multiVfio: boolean): string {
  const dev: Record<string, unknown> = { ...s.dev };
  for (const f of IDENTITY_FIELDS.dev) delete dev[f];
  const src: Record<string, unknown> = { ...s, dev };
  for (const f of IDENTITY_FIELDS.source) delete src[f];
  return `${multiVfio ? 1 : 0}${JSON.stringify(src, (_k, v) =>
    v instanceof Map || v instanceof Set ? { [v instanceof Map ? "map" : "set"]: [...v] } : v,
  )}`;
}

interface VmState {
  domain: DomainInfo;
  /** The VM prepared once for evaluateHost (its sources resolved against --source). */
  ctx: EvalContext;
  sources: SourceDevice[];
  /** Per device: its candidate key's index in Evacuation.parts. */
  parts: number[];
  /** The parts joined: VMs with equal shapes share their candidates on each host. */
  shape: string;
  /**
   * Index of the shape: VMs of one shape have the same candidates and the
   * same gate-relevant source fields, so the same rank fields on every host
   * (the memo and feasibility are kept per shape).
   */
  shapeIdx: number;
}

/** Per VM shape and host, the rank fields of the last trial (memo), valid while the host's state version holds. */
const M_VERSION = 0;
const M_STATUS = 1;
const M_COMPATIBLE = 2;
const M_WARNINGS = 3;
const M_CAPACITY = 4;
const M_FREEPCI = 5;
const M_CREATED = 6;
const M_FIELDS = 7;
const STATUS: HostReport["status"][] = ["full", "partial", "none", "error", "source"];

/** What compareHosts reads of a warnings list is its length: one shared list per length. */
const LENGTH_ONLY: unknown[][] = [];
function lengthOnly(n: number): unknown[] {
  let l = LENGTH_ONLY[n];
  if (!l) {
    l = new Array<unknown>(n).fill(null);
    LENGTH_ONLY[n] = l;
  }
  return l;
}

/** One host of a shard: what placement needs of it, every VM's candidates, and the memo. */
interface Slot {
  inv: HostInventory;
  /** Per VM (constructor order). */
  cands: HostCandidates[];
  /** Per VM shape: 1 when it could take every device with nothing placed (capacity only shrinks). */
  feasible: Uint8Array;
  /** Bumped whenever what is taken on this host changes (commit, rollback). */
  version: number;
  /** Per VM shape, M_FIELDS numbers: the rank fields of the last trial and the version they hold for. */
  memo: Float64Array;
}

/**
 * What placement still needs of a host once every VM's candidates are built:
 * its identity, versions, facts and warnings, and the mdev UUIDs it has or
 * reserves (for the UUID rule), copied with flat strings (src/placement/
 * compact.ts). The parsed node devices and domains are dropped, so an
 * evacuation over thousands of hosts keeps only candidates in memory.
 */
function slim(inv: HostInventory, c: Compactor): HostInventory {
  return {
    ...inv,
    key: flatString(inv.key),
    target: flatString(inv.target),
    hostname: inv.hostname === null ? null : flatString(inv.hostname),
    hostUuid: inv.hostUuid === null ? null : flatString(inv.hostUuid),
    versions: c.copy(inv.versions),
    devices: [],
    byName: new Map(),
    pciByAddr: new Map(),
    mdevByUuid: c.copy(inv.mdevByUuid),
    netByParent: new Map(),
    networks: new Map(),
    domains: [],
    reserved: c.copy(inv.reserved),
    poolMembers: new Map(),
    descriptorFiles: [],
    vendorAttrs: [],
    facts: c.copy(inv.facts),
    warnings: c.copy(inv.warnings),
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

/**
 * Incremental evacuation: hosts are added as they are read (and slimmed), then placed.
 *
 * Per host it keeps each VM's candidates (built once per distinct source
 * device, interned: src/placement/compact.ts) and, per VM, the rank fields of
 * the last evaluation (a memo keyed by the host's state version): placement
 * ranks hosts from the memo and evaluates again only where a commit changed
 * what is taken, then builds a full report for the chosen host alone.
 */
export class Evacuation {
  private readonly vms: VmState[];
  private readonly nShapes: number;
  /** One context per distinct (VM shape, device candidates): a single-device VM for buildHostCandidates. */
  private readonly partCtx: EvalContext[] = [];
  private readonly slots: Slot[] = [];
  private readonly slotOf = new Map<string, Slot>();
  /** The source devices' reasons: shared by every host's candidates as they are (never copied). */
  private readonly sourceReasons = new Set<object>();

  constructor(
    domains: DomainInfo[],
    source: HostInventory,
    private readonly selector: DescriptorSelector,
    opts: PlanOptions,
  ) {
    const partIdx = new Map<string, number>();
    const shapeIdx = new Map<string, number>();
    this.vms = domains.map((domain) => {
      const ctx = evalContext({ domain, source, selector, opts });
      const parts = ctx.sources.map((s) => {
        const k = candidateKey(s, ctx.multiVfio);
        let i = partIdx.get(k);
        if (i === undefined) {
          i = this.partCtx.length;
          partIdx.set(k, i);
          this.partCtx.push({ ...ctx, sources: [s] });
        }
        return i;
      });
      for (const s of ctx.sources) for (const r of [...s.blockers, ...s.warnings]) this.sourceReasons.add(r);
      const shape = `${ctx.vmBlockers.length > 0 ? "b" : ""}${parts.join(",")}`;
      let si = shapeIdx.get(shape);
      if (si === undefined) {
        si = shapeIdx.size;
        shapeIdx.set(shape, si);
      }
      return { domain, ctx, sources: ctx.sources, parts, shape, shapeIdx: si };
    });
    this.nShapes = shapeIdx.size;
  }

  /** Build every VM's candidates on this host; `selector` for a host with its own descriptor files. */
  addHost(h: HostInventory, selector: DescriptorSelector = this.selector): void {
    const compactor = new Compactor(this.sourceReasons);
    const pool = new HostPool(flatString(h.key), compactor);
    const built = new Map<number, CandidatePart>();
    const partOf = (i: number): CandidatePart => {
      let p = built.get(i);
      if (!p) {
        p = pool.part(hostCandidates(this.partCtx[i]!, h, selector));
        built.set(i, p);
      }
      return p;
    };
    const slot: Slot = {
      inv: slim(h, compactor),
      cands: this.vms.map((vm) => pool.assemble(vm.shape, mapList(vm.parts, partOf))),
      feasible: new Uint8Array(this.nShapes),
      version: 0,
      memo: new Float64Array(this.nShapes * M_FIELDS).fill(-1),
    };
    this.slots.push(slot);
    this.slotOf.set(slot.inv.key, slot);
    // Evaluate every VM shape here once with nothing placed: feasibility and the memo.
    this.vms.forEach((vm, i) => {
      if (slot.memo[vm.shapeIdx * M_FIELDS + M_VERSION] === slot.version) return;
      const { m } = this.trial(i, slot, new Set());
      if (m.assignment.size === vm.sources.length) slot.feasible[vm.shapeIdx] = 1;
    });
  }

  // ---- the shard interface (this host set; worker threads hold one each) ----
  private readonly taken = new Taken<string>();
  private readonly uuidTaken = this.taken.uuids;

  vmInfo(): VmInfo[] {
    return this.vms.map((vm) => ({ name: vm.domain.name, uuid: vm.domain.uuid, devices: vm.sources.length }));
  }

  hostCount(): number {
    return this.slots.length;
  }

  /** Per VM (constructor order): how many of these hosts could take it with nothing placed. */
  feasibleCounts(): number[] {
    return this.vms.map((vm) => this.slots.reduce((n, s) => n + s.feasible[vm.shapeIdx]!, 0));
  }

  /** Evaluate the VM on the host as things stand, and record its rank fields in the memo. */
  private trial(vmIdx: number, slot: Slot, taken: Set<string>) {
    const vm = this.vms[vmIdx]!;
    const key = slot.inv.key;
    const c = slot.cands[vmIdx]!;
    const { match, report } = evaluateHostFull(vm.ctx, slot.inv, {
      cands: c,
      used: this.taken.usedOf(key),
      locks: this.taken.locksOf(key),
      uuidTaken: taken,
    });
    let created = 0;
    for (const rid of match.assignment.values()) if (createsDevice(c.resources.get(rid)!.target)) created++;
    const o = vm.shapeIdx * M_FIELDS;
    const memo = slot.memo;
    memo[o + M_VERSION] = slot.version;
    memo[o + M_STATUS] = STATUS.indexOf(report.status);
    memo[o + M_COMPATIBLE] = report.compatible;
    memo[o + M_WARNINGS] = report.warnings.length;
    memo[o + M_CAPACITY] = report.capacityLeft;
    memo[o + M_FREEPCI] = report.freePciLeft;
    memo[o + M_CREATED] = created;
    return { m: match, rep: report };
  }

  /**
   * The VM's rank on the host as things stand: from the memo while the host's
   * state is the one it was computed for, else from a new trial. Its warnings
   * list has only the right length (all compareHosts reads).
   */
  private rankOf(vmIdx: number, slot: Slot): Rankable & { created: number } {
    const o = this.vms[vmIdx]!.shapeIdx * M_FIELDS;
    const memo = slot.memo;
    if (memo[o + M_VERSION] !== slot.version) this.trial(vmIdx, slot, new OverlaySet(this.uuidTaken));
    return {
      host: slot.inv.key,
      status: STATUS[memo[o + M_STATUS]!]!,
      compatible: memo[o + M_COMPATIBLE]!,
      warnings: lengthOnly(memo[o + M_WARNINGS]!),
      capacityLeft: memo[o + M_CAPACITY]!,
      freePciLeft: memo[o + M_FREEPCI]!,
      created: memo[o + M_CREATED]!,
    };
  }

  /**
   * The best-ranked host among those `onlyFeasible` allows (feasible with
   * nothing placed) whose rank `ok` accepts, with its full report (or null).
   */
  private best(vmIdx: number, onlyFeasible: boolean, ok: (r: Rankable) => boolean): HostReport | null {
    let best: Rankable | null = null;
    let at: Slot | null = null;
    for (const slot of this.slots) {
      if (onlyFeasible && !slot.feasible[this.vms[vmIdx]!.shapeIdx]) continue;
      const r = this.rankOf(vmIdx, slot);
      if (ok(r) && (!best || compareHosts(r, best) < 0)) {
        best = r;
        at = slot;
      }
    }
    return at ? this.trial(vmIdx, at, new OverlaySet(this.uuidTaken)).rep : null;
  }

  /** The best host of this set that can still take every device of the VM, or null. */
  bestFull(vmIdx: number): HostReport | null {
    // Only hosts feasible with nothing placed: capacity only shrinks.
    return this.best(vmIdx, true, (r) => r.status === "full");
  }

  /** The closest host of this set (to explain an unplaced VM). */
  closest(vmIdx: number): HostReport | null {
    return this.best(vmIdx, false, () => true);
  }

  private slot(hostKey: string): Slot {
    const s = this.slotOf.get(hostKey);
    if (!s) throw new Error(`placement: ${hostKey} is not a host of this shard`);
    return s;
  }

  /** Place the VM on a host of this set: its capacity and GPU type locks are taken. */
  commit(vmIdx: number, hostKey: string): HostReport {
    const slot = this.slot(hostKey);
    const { m, rep } = this.trial(vmIdx, slot, this.uuidTaken);
    const u = this.taken.usedOf(hostKey);
    for (const rid of m.assignment.values()) u.set(rid, (u.get(rid) ?? 0) + 1);
    const l = this.taken.locksOf(hostKey);
    for (const [gpu, t] of m.gpuChoice) l.set(gpu, t);
    slot.version++;
    return rep;
  }

  /** Each resource of the host's candidates once (first VM's object with an id wins). */
  private resourcesOf(slot: Slot): Map<string, Resource> {
    const out = new Map<string, Resource>();
    const seen = new Set<Map<string, Resource>>();
    for (const c of slot.cands) {
      if (seen.has(c.resources)) continue; // interned: an equal map adds nothing
      seen.add(c.resources);
      for (const r of c.resources.values()) if (!out.has(r.id)) out.set(r.id, r);
    }
    return out;
  }

  /**
   * Every VM's best k hosts of this set that can take it now (what is left
   * after commits), with the candidate lists of its devices there and each
   * host's resources: all the exact engine needs.
   */
  summaries(k: number): ShardSummary {
    const wanted = new Set<string>();
    const options = this.vms.map((vm, i) => {
      // Rank every host that can take the VM now; full reports and device lists for the best k only.
      const ranked: { slot: Slot; created: number; rank: Rankable }[] = [];
      for (const slot of this.slots) {
        if (!slot.feasible[vm.shapeIdx]) continue;
        const r = this.rankOf(i, slot);
        if (r.status === "full") ranked.push({ slot, created: r.created, rank: r });
      }
      ranked.sort(compareOptions);
      return ranked.slice(0, k).map(({ slot, created }): OptionSummary => {
        const key = slot.inv.key;
        wanted.add(key);
        const { rep } = this.trial(i, slot, new OverlaySet(this.uuidTaken));
        const c = slot.cands[i]!;
        const open = openResources(c, this.taken.usedOf(key), this.taken.locksOf(key));
        return {
          host: key,
          created,
          rank: {
            host: rep.host,
            status: rep.status,
            compatible: rep.compatible,
            warnings: rep.warnings,
            capacityLeft: rep.capacityLeft,
            freePciLeft: rep.freePciLeft,
          },
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
    for (const slot of this.slots) {
      const key = slot.inv.key;
      if (!wanted.has(key)) continue;
      const u = this.taken.usedOf(key);
      const res: PResource[] = [];
      for (const r of this.resourcesOf(slot).values()) {
        res.push({
          id: r.id,
          capacity: r.capacity - (u.get(r.id) ?? 0),
          create: createsDevice(r.target),
          ...(r.gpu ? { gpu: r.gpu } : {}),
          ...(r.mdevType ? { mdevType: r.mdevType } : {}),
        });
      }
      hosts.push({ key, resources: res, locks: [...this.taken.locksOf(key)] });
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
    const slot = this.slot(hostKey);
    const c = slot.cands[vmIdx]!;
    const u = this.taken.usedOf(hostKey);
    const l = this.taken.locksOf(hostKey);
    const { m, take } = checkAssignment(vm.domain.name, hostKey, c, u, l, assignment, vm.sources.length);
    const rep = reportHost(vm.ctx, slot.inv, vm.sources, c, m, u, this.uuidTaken);
    takeUnits(u, l, take, m);
    slot.version++;
    return rep;
  }

  mark(): void {
    this.taken.mark();
  }

  rollback(): void {
    this.taken.rollback();
    for (const s of this.slots) s.version++;
  }

  capacityLeft(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const slot of this.slots) {
      const key = slot.inv.key;
      const u = this.taken.usedOf(key);
      const lock = this.taken.locksOf(key);
      const seen = new Map<string, number>();
      for (const r of this.resourcesOf(slot).values()) {
        let cap = r.capacity - (u.get(r.id) ?? 0);
        if (r.gpu && r.mdevType && lock.has(r.gpu) && lock.get(r.gpu) !== r.mdevType) cap = 0;
        seen.set(r.id, cap);
      }
      const left: Record<string, number> = {};
      for (const k of [...seen.keys()].sort()) left[k] = seen.get(k)!;
      out[key] = left;
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
