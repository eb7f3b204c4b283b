/**
 * Fleet headroom (issue #16): for every host H (or every combination of N
 * hosts), simulate its loss: every domain with assigned devices on H is placed
 * onto the other hosts by evacuate's own placement (`placeAll`, the one entry
 * point `hdplan evacuate` uses), with the same candidates, capacity rules and
 * order. Only the shard behind it differs: one `SimShard` per simulation over
 * a fleet model built once.
 *
 * Reuse across simulations:
 * - Candidates are built per host and per *device signature* (the fields of a
 *   source device that buildHostCandidates reads, plus the whole-VM multi-VFIO
 *   flag), not per VM: a fleet of 5,000 VMs has a few dozen signatures. A VM's
 *   candidates on a host are composed from its devices' entries (the same
 *   lists and resources buildHostCandidates would produce for the whole VM).
 * - For every VM signature, the hosts are sorted once by their pristine rank
 *   (nothing placed). In a simulation, a host no earlier placement touched
 *   still has its pristine rank, so the best one is the first untouched up
 *   host of that order; only the touched hosts (at most one per domain placed)
 *   are matched again. compareHosts is a total order, so this is the same
 *   minimum evacuate's bestFull/closest compute over every host.
 * Every answer returned to placeAll (bestFull, closest, commit) is a real
 * matching and report of that VM on that host, as in Evacuation.trial.
 */
import { buildHostCandidates } from "../candidates/destination.js";
import { sourceKind, targetKind } from "../candidates/kinds/registry.js";
import { isVfio } from "../candidates/source.js";
import {
  type DeviceCandidates,
  type HostCandidates,
  type Resource,
  type SourceDevice,
  createsDevice,
} from "../candidates/types.js";
import type { GateOptions } from "../candidates/versions.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import { type DomainInfo, isManaged } from "../model.js";
import {
  type EvalContext,
  type HostReport,
  type PlanOptions,
  evalContext,
  evaluateHostFull,
  reportHost,
} from "./evaluate.js";
import { compareHosts, type Rankable } from "../ranking/rank.js";
import type { Reason } from "../reasons.js";
import {
  checkAssignment,
  domainsToMove,
  openResources,
  Taken,
  type EvacShard,
  type OptionSummary,
  type Placement,
  placeAll,
  type ShardSummary,
  takeUnits,
} from "./evacuate.js";
import { groupDevices, type PHost, type PResource } from "../placement/problem.js";
import type { matchDevices } from "./match.js";

/** A set that also sees a base set (trial UUIDs do not touch the committed ones). */
class OverlaySet extends Set<string> {
  constructor(private readonly base: Set<string>) {
    super();
  }
  override has(k: string): boolean {
    return super.has(k) || this.base.has(k);
  }
}

interface DevCand {
  resources: string[];
  reasons: Reason[];
}

interface FleetHost {
  inv: HostInventory;
  selector: DescriptorSelector;
  /** device signature -> candidates on this host */
  devCands: Map<string, DevCand>;
  /** every resource any signature can use here */
  resources: Map<string, Resource>;
  /** resource id -> device type */
  resType: Map<string, string>;
  /** device type -> free units with nothing placed */
  free: Map<string, number>;
  /** device type -> units held by this host's domains to move */
  used: Map<string, number>;
  vms: number[];
  /** domains to move, resolved when the host was read (until finish) */
  pending?: { domain: DomainInfo; ctx: EvalContext; sources: SourceDevice[] }[] | undefined;
}

export interface FleetVm {
  index: number;
  /** key of the host it runs on */
  host: string;
  domain: DomainInfo;
  /** The VM prepared once for evaluateHost (resolved against its own host). */
  ctx: EvalContext;
  sources: SourceDevice[];
  /** per device: its signature, or null when blocked at the source (no candidates anywhere) */
  devSigs: (string | null)[];
  sig: string;
  /** device type -> how many of its devices need it */
  needs: Map<string, number>;
}

interface SigInfo {
  rep: number;
  /** host indices that take every device with nothing placed */
  feasible: Set<number>;
  /** feasible host indices, best pristine rank first */
  feasibleSorted: number[];
  /** every host index, best pristine rank first */
  allSorted: number[];
  /** feasible host indices by (new mdevs needed, pristine rank): the option order of an exact engine */
  optionSorted: number[];
  /** per host index: new mdevs the VM would need there with nothing placed */
  created: Map<number, number>;
}

/** One VM's option on a host now: fewest new mdevs, then the plan rank. */
export interface HostOption {
  hi: number;
  created: number;
  rep: HostReport;
  m: ReturnType<typeof matchDevices>;
}

function createdBy(c: HostCandidates, m: ReturnType<typeof matchDevices>): number {
  let n = 0;
  for (const rid of m.assignment.values()) if (createsDevice(c.resources.get(rid)!.target)) n++;
  return n;
}

export function compareHostOptions(
  a: Pick<HostOption, "created" | "rep">,
  b: Pick<HostOption, "created" | "rep">,
): number {
  return a.created - b.created || compareHosts(a.rep, b.rep);
}

export interface Simulation {
  down: string[];
  placements: (Placement & { source: string; needs: Record<string, number> })[];
  placed: number;
  stranded: number;
  /** device type -> free units on the hosts still up, after the placements */
  capacityLeft: Record<string, number>;
}

/** Device type of a destination resource, for the per-type views (the kind's words). */
function resourceType(r: Resource, inv: HostInventory): string {
  return targetKind(r.target).resourceType(r.target, inv);
}

/** Device type a source device needs (same names as resourceType). */
function sourceType(s: SourceDevice): string | null {
  return s.need === null ? null : sourceKind(s).sourceType(s);
}

/**
 * The fields of a source device buildHostCandidates reads (src/candidates/
 * destination.ts: need, gate, gateDriver, transient, managed, descriptor
 * self, and the kind's own fields (KindModule.signature); the device id only names the entry), plus
 * the VM's multi-VFIO flag. Blocked devices get no candidates on any host.
 */
export function deviceSignature(s: SourceDevice, multiVfio: boolean): string | null {
  if (s.blockers.length > 0 || !s.need) return null;
  return JSON.stringify([
    s.need,
    s.gate,
    s.gateDriver ?? null,
    s.transient,
    isManaged(s.dev),
    s.descriptor?.self ?? null,
    sourceKind(s).signature(s),
    multiVfio,
  ]);
}

/** What reportHost still needs of a host: identity, versions, warnings, mdev UUIDs and reservations. */
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

function inc(m: Map<string, number>, k: string, n: number): void {
  m.set(k, (m.get(k) ?? 0) + n);
}

export class FleetModel {
  private readonly hostsIn: FleetHost[] = [];
  hosts: FleetHost[] = [];
  vms: FleetVm[] = [];
  private readonly hostIdx = new Map<string, number>();
  private readonly sigs = new Map<string, SigInfo>();
  private finalized = false;

  constructor(
    private readonly opts: PlanOptions & GateOptions,
    private readonly includeInactive: boolean,
  ) {}

  /**
   * A host as it is read: its own domains are resolved against it now (it is
   * their source); its inventory is kept until finish() builds every
   * signature's candidates on it, then dropped.
   */
  addHost(inv: HostInventory, selector: DescriptorSelector): { key: string; target: string } {
    if (this.finalized) throw new Error("FleetModel: addHost after finish");
    // Domains to move, as evacuate --source would list them, resolved against
    // this host (their source) now; the parsed domains are not needed after.
    const pending = domainsToMove(inv, this.includeInactive).map((domain) => {
      // source: null once resolved, so the model keeps no parsed inventory (reportHost does not read it)
      const ctx = { ...evalContext({ domain, source: inv, selector, opts: this.opts }), source: null };
      return { domain, ctx, sources: ctx.sources };
    });
    this.hostsIn.push({
      inv: { ...inv, domains: [] },
      selector,
      devCands: new Map(),
      resources: new Map(),
      resType: new Map(),
      free: new Map(),
      used: new Map(),
      vms: [],
      pending,
    });
    return { key: inv.key, target: inv.target };
  }

  /** Build candidates of every signature on every host, sort hosts per signature, drop inventories. */
  finish(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.hosts = [...this.hostsIn].sort((a, b) =>
      a.inv.key < b.inv.key ? -1 : a.inv.key > b.inv.key ? 1 : 0,
    );
    this.hostsIn.length = 0;
    this.hosts.forEach((h, i) => this.hostIdx.set(h.inv.key, i));
    // Domains, per host in key order (each host's in evacuate's order).
    const devSigRep = new Map<string, { s: SourceDevice; multiVfio: boolean }>();
    for (const h of this.hosts) {
      for (const { domain, ctx, sources } of h.pending ?? []) {
        const multiVfio = sources.filter(isVfio).length > 1;
        const devSigs = sources.map((s) => deviceSignature(s, multiVfio));
        const needs = new Map<string, number>();
        sources.forEach((s, i) => {
          const t = sourceType(s);
          if (t) inc(needs, t, 1);
          const ds = devSigs[i];
          if (ds && !devSigRep.has(ds)) devSigRep.set(ds, { s, multiVfio });
        });
        const vm: FleetVm = {
          index: this.vms.length,
          host: h.inv.key,
          domain,
          ctx,
          sources,
          devSigs,
          sig: JSON.stringify(devSigs),
          needs,
        };
        this.vms.push(vm);
        h.vms.push(vm.index);
        for (const [t, n] of needs) inc(h.used, t, n);
      }
      h.pending = undefined;
    }
    // Device-level candidates on every host, then drop the parsed inventory.
    for (const h of this.hosts) {
      for (const [ds, { s, multiVfio }] of devSigRep) {
        const c = buildHostCandidates(h.inv, [s], {
          selector: h.selector,
          gateOpts: this.opts,
          multiVfio,
        });
        const dc = c.devices[0]!;
        h.devCands.set(ds, { resources: dc.resources, reasons: dc.reasons });
        for (const [rid, r] of c.resources) {
          if (h.resources.has(rid)) continue;
          h.resources.set(rid, r);
          const t = resourceType(r, h.inv);
          h.resType.set(rid, t);
          inc(h.free, t, r.capacity);
        }
      }
      h.inv = slim(h.inv);
    }
    // Per VM signature: pristine feasibility and rank order of the hosts.
    for (const vm of this.vms) {
      if (this.sigs.has(vm.sig)) continue;
      const keys: Rankable[] = [];
      const feasible = new Set<number>();
      const created = new Map<number, number>();
      this.hosts.forEach((_h, hi) => {
        const { m, rep } = this.trialOn(vm, hi, new Map(), new Map(), new Set());
        if (m.assignment.size === vm.sources.length) {
          feasible.add(hi);
          created.set(hi, createdBy(this.compose(vm, hi), m));
        }
        keys.push({
          host: rep.host,
          status: rep.status,
          compatible: rep.compatible,
          warnings: rep.warnings,
          capacityLeft: rep.capacityLeft,
          freePciLeft: rep.freePciLeft,
        });
      });
      const allSorted = keys.map((_, i) => i).sort((a, b) => compareHosts(keys[a]!, keys[b]!));
      const feasibleSorted = allSorted.filter((i) => feasible.has(i));
      this.sigs.set(vm.sig, {
        rep: vm.index,
        feasible,
        feasibleSorted,
        allSorted,
        // stable sort: equal new-mdev counts keep the rank order
        optionSorted: [...feasibleSorted].sort((a, b) => created.get(a)! - created.get(b)!),
        created,
      });
    }
  }

  hostKeys(): string[] {
    return this.hosts.map((h) => h.inv.key);
  }

  hostIndexOf(key: string): number | undefined {
    return this.hostIdx.get(key);
  }

  sigOf(vm: FleetVm): SigInfo {
    return this.sigs.get(vm.sig)!;
  }

  /** A VM's candidates on a host, composed from its devices' entries. */
  compose(vm: FleetVm, hi: number): HostCandidates {
    const h = this.hosts[hi]!;
    const devices: DeviceCandidates[] = vm.sources.map((s, i) => {
      const ds = vm.devSigs[i];
      if (ds === null || ds === undefined)
        return { deviceId: s.dev.id, resources: [], reasons: [...s.blockers] };
      const dc = h.devCands.get(ds)!;
      return { deviceId: s.dev.id, resources: dc.resources, reasons: dc.reasons };
    });
    const resources = new Map<string, Resource>();
    for (const d of devices) for (const rid of d.resources) resources.set(rid, h.resources.get(rid)!);
    return { hostKey: h.inv.key, resources, devices, warnings: [], gateNotes: [] };
  }

  /** Evacuation.trial, on the fleet model. */
  trialOn(
    vm: FleetVm,
    hi: number,
    used: Map<string, number>,
    locks: Map<string, string>,
    taken: Set<string>,
  ): { m: ReturnType<typeof matchDevices>; rep: HostReport } {
    const h = this.hosts[hi]!;
    const { match, report } = evaluateHostFull(vm.ctx, h.inv, {
      cands: this.compose(vm, hi),
      used,
      locks,
      uuidTaken: taken,
    });
    return { m: match, rep: report };
  }

  /** The host report of a VM on a host with a given matching (trialOn's, or an exact engine's). */
  reportOn(
    vm: FleetVm,
    hi: number,
    c: HostCandidates,
    m: ReturnType<typeof matchDevices>,
    used: Map<string, number>,
    taken: Set<string>,
  ): HostReport {
    return reportHost(vm.ctx, this.hosts[hi]!.inv, vm.sources, c, m, used, taken);
  }

  /** Free units per device type on a host after `used` and `locks` (as Evacuation.capacityLeft counts). */
  leftByType(hi: number, used: Map<string, number>, locks: Map<string, string>): Map<string, number> {
    const h = this.hosts[hi]!;
    const out = new Map<string, number>();
    for (const [rid, r] of h.resources) {
      let cap = r.capacity - (used.get(rid) ?? 0);
      if (r.gpu && r.mdevType && locks.has(r.gpu) && locks.get(r.gpu) !== r.mdevType) cap = 0;
      inc(out, h.resType.get(rid)!, cap);
    }
    return out;
  }

  /** The shard of one simulation: the hosts in `down` are gone, their domains to place (in this order). */
  shard(down: string[]): SimShard {
    const downIdx = new Set(down.map((k) => this.hostIdx.get(k)!));
    const vmIds = [...downIdx].sort((a, b) => a - b).flatMap((hi) => this.hosts[hi]!.vms);
    return new SimShard(this, downIdx, vmIds);
  }

  /** Simulate the loss of `down` (host keys): their domains placed by evacuate's placeAll. */
  async simulate(down: string[]): Promise<Simulation> {
    const downIdx = new Set(down.map((k) => this.hostIdx.get(k)!));
    const vmIds = [...downIdx].sort((a, b) => a - b).flatMap((hi) => this.hosts[hi]!.vms);
    const shard = this.shard(down);
    const res = await placeAll(
      [shard],
      vmIds.map((v) => {
        const vm = this.vms[v]!;
        return { name: vm.domain.name, uuid: vm.domain.uuid, devices: vm.sources.length };
      }),
    );
    // placeAll reports in placement order; name each one's source host and needs.
    const byKey = new Map<string, FleetVm[]>();
    for (const v of vmIds) {
      const vm = this.vms[v]!;
      const k = `${vm.domain.name}\u0000${vm.domain.uuid}`;
      byKey.set(k, [...(byKey.get(k) ?? []), vm]);
    }
    const placements = res.placements.map((p) => {
      const vm = byKey.get(`${p.domain}\u0000${p.uuid}`)?.shift();
      const needs = Object.fromEntries(
        [...(vm?.needs ?? new Map<string, number>())].sort(([a], [b]) => (a < b ? -1 : 1)),
      );
      return { ...p, source: vm?.host ?? down[0]!, needs };
    });
    return {
      down,
      placements,
      placed: placements.length - res.unplaced,
      stranded: res.unplaced,
      capacityLeft: shard.capacityByType(),
    };
  }

  private fleetFreeCache: Map<string, number> | null = null;

  /** Free units per device type over every host, nothing placed. */
  fleetFree(): Map<string, number> {
    if (!this.fleetFreeCache) {
      const m = new Map<string, number>();
      for (const h of this.hosts) for (const [t, n] of h.free) inc(m, t, n);
      this.fleetFreeCache = m;
    }
    return this.fleetFreeCache;
  }

  /** Device types of the fleet, sorted. */
  types(): string[] {
    const s = new Set<string>();
    for (const h of this.hosts) {
      for (const t of h.free.keys()) s.add(t);
      for (const t of h.used.keys()) s.add(t);
    }
    return [...s].sort();
  }

  hostInfo(hi: number) {
    const h = this.hosts[hi]!;
    return { key: h.inv.key, target: h.inv.target, vms: h.vms, free: h.free, used: h.used };
  }
}

/** One simulation's shard: the fleet model minus the hosts down, with its own capacity state. */
export class SimShard implements EvacShard {
  private readonly taken = new Taken<number>();
  private readonly uuidTaken = this.taken.uuids;
  /** hosts a commit changed, in commit order */
  private readonly touched: number[] = [];

  constructor(
    private readonly model: FleetModel,
    private readonly down: Set<number>,
    readonly vmIds: number[],
  ) {}

  private usedOf(hi: number): Map<string, number> {
    return this.taken.usedOf(hi);
  }

  private locksOf(hi: number): Map<string, string> {
    return this.taken.locksOf(hi);
  }

  private vm(i: number): FleetVm {
    return this.model.vms[this.vmIds[i]!]!;
  }

  private trial(vm: FleetVm, hi: number, taken: Set<string>) {
    return this.model.trialOn(vm, hi, this.usedOf(hi), this.locksOf(hi), taken);
  }

  feasibleCounts(): number[] {
    return this.vmIds.map((_, i) => {
      const f = this.model.sigOf(this.vm(i)).feasible;
      let n = f.size;
      for (const d of this.down) if (f.has(d)) n--;
      return n;
    });
  }

  hostCount(): number {
    return this.model.hosts.length - this.down.size;
  }

  /** Best of: the first untouched up host in pristine order, and every touched up host. */
  private best(i: number, order: number[], fullOnly: boolean): HostReport | null {
    const vm = this.vm(i);
    const taken = new OverlaySet(this.uuidTaken);
    const touched = new Set(this.touched);
    let best: HostReport | null = null;
    for (const hi of order) {
      if (this.down.has(hi) || touched.has(hi)) continue;
      const { rep } = this.trial(vm, hi, taken);
      if (!fullOnly || rep.status === "full") best = rep;
      break;
    }
    const sig = this.model.sigOf(vm);
    for (const hi of this.touched) {
      if (this.down.has(hi) || (fullOnly && !sig.feasible.has(hi))) continue;
      const { rep } = this.trial(vm, hi, new OverlaySet(this.uuidTaken));
      if (fullOnly && rep.status !== "full") continue;
      if (!best || compareHosts(rep, best) < 0) best = rep;
    }
    return best;
  }

  /**
   * The VM's best k options now, by (new mdevs, rank): the first k untouched
   * up hosts in pristine option order and every touched up host matched
   * again. What an exact engine's shard summary needs (src/placement after
   * the MILP engine is merged); each is a real matching of this VM there.
   */
  bestOptions(i: number, k: number): HostOption[] {
    const vm = this.vm(i);
    const sig = this.model.sigOf(vm);
    const touched = new Set(this.touched);
    const out: HostOption[] = [];
    const add = (hi: number) => {
      const { m, rep } = this.trial(vm, hi, new OverlaySet(this.uuidTaken));
      if (rep.status !== "full") return;
      out.push({ hi, created: createdBy(this.model.compose(vm, hi), m), rep, m });
    };
    let n = 0;
    for (const hi of sig.optionSorted) {
      if (n >= k) break;
      if (this.down.has(hi) || touched.has(hi)) continue;
      add(hi);
      n++;
    }
    for (const hi of this.touched) if (!this.down.has(hi) && sig.feasible.has(hi)) add(hi);
    return out.sort(compareHostOptions).slice(0, k);
  }

  bestFull(i: number): HostReport | null {
    return this.best(i, this.model.sigOf(this.vm(i)).feasibleSorted, true);
  }

  closest(i: number): HostReport | null {
    return this.best(i, this.model.sigOf(this.vm(i)).allSorted, false);
  }

  commit(i: number, hostKey: string): HostReport {
    const hi = this.model.hostIndexOf(hostKey)!;
    const { m, rep } = this.trial(this.vm(i), hi, this.uuidTaken);
    const u = this.usedOf(hi);
    for (const rid of m.assignment.values()) u.set(rid, (u.get(rid) ?? 0) + 1);
    const l = this.locksOf(hi);
    for (const [gpu, t] of m.gpuChoice) l.set(gpu, t);
    if (!this.touched.includes(hi)) this.touched.push(hi);
    return rep;
  }

  /** Evacuation.summaries on the fleet model: each VM's best k options now (bestOptions), with open resources. */
  summaries(k: number): ShardSummary {
    const wanted = new Set<number>();
    const options = this.vmIds.map((_, i) => {
      const vm = this.vm(i);
      return this.bestOptions(i, k).map((o): OptionSummary => {
        wanted.add(o.hi);
        const c = this.model.compose(vm, o.hi);
        const open = openResources(c, this.usedOf(o.hi), this.locksOf(o.hi));
        return {
          host: o.rep.host,
          created: o.created,
          rank: {
            host: o.rep.host,
            status: o.rep.status,
            compatible: o.rep.compatible,
            warnings: o.rep.warnings,
            capacityLeft: o.rep.capacityLeft,
            freePciLeft: o.rep.freePciLeft,
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
    for (const hi of [...wanted].sort((a, b) => a - b)) {
      const u = this.usedOf(hi);
      const res = new Map<string, PResource>();
      for (const v of this.vmIds) {
        for (const r of this.model.compose(this.model.vms[v]!, hi).resources.values()) {
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
      hosts.push({
        key: this.model.hosts[hi]!.inv.key,
        resources: [...res.values()],
        locks: [...this.locksOf(hi)],
      });
    }
    return { options, hosts };
  }

  /** Place a VM with an exact engine's assignment, checked against this host's candidates (evacuate's checkAssignment). */
  commitAssigned(i: number, hostKey: string, assignment: [string, string][]): HostReport {
    const hi = this.model.hostIndexOf(hostKey);
    if (hi === undefined || this.down.has(hi))
      throw new Error(`placement: ${hostKey} is not a host of this simulation`);
    const vm = this.vm(i);
    const c = this.model.compose(vm, hi);
    const u = this.usedOf(hi);
    const l = this.locksOf(hi);
    const { m, take } = checkAssignment(vm.domain.name, hostKey, c, u, l, assignment, vm.sources.length);
    const rep = this.model.reportOn(vm, hi, c, m, u, this.uuidTaken);
    takeUnits(u, l, take, m);
    if (!this.touched.includes(hi)) this.touched.push(hi);
    return rep;
  }

  private savedTouched: number[] | null = null;

  /** Remember what is taken now (rollback returns to it). */
  mark(): void {
    this.taken.mark();
    this.savedTouched = [...this.touched];
  }

  /** Undo every commit since mark(). */
  rollback(): void {
    if (!this.savedTouched) return;
    this.taken.rollback();
    this.touched.length = 0;
    this.touched.push(...this.savedTouched);
  }

  /** Only the hosts whose capacity this simulation changed (the others are as read). */
  capacityLeft(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const hi of this.touched) {
      const key = this.model.hosts[hi]!.inv.key;
      out[key] = Object.fromEntries(this.model.leftByType(hi, this.usedOf(hi), this.locksOf(hi)));
    }
    return out;
  }

  /** Free units per device type on every host still up, after this simulation's placements. */
  capacityByType(): Record<string, number> {
    const total = new Map(this.model.fleetFree());
    const sub = (m: Map<string, number>, sign: number) => {
      for (const [t, n] of m) inc(total, t, sign * n);
    };
    for (const hi of this.down) sub(this.model.hosts[hi]!.free, -1);
    for (const hi of this.touched) {
      if (this.down.has(hi)) continue;
      sub(this.model.hosts[hi]!.free, -1);
      sub(this.model.leftByType(hi, this.usedOf(hi), this.locksOf(hi)), 1);
    }
    const out: Record<string, number> = {};
    for (const t of [...total.keys()].sort()) out[t] = total.get(t)!;
    return out;
  }
}
