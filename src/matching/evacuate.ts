/**
 * Evacuation: place many domains at once. Capacity used by one placement is
 * gone for the next (including the one-type-per-GPU rule). Most constrained
 * domains first: fewest feasible hosts, then most devices, then name.
 */
import { buildHostCandidates } from "../candidates/destination.js";
import { isVfio } from "../candidates/source.js";
import type { HostCandidates, SourceDevice } from "../candidates/types.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { DomainInfo } from "../model.js";
import { type HostReport, type PlanOptions, prepareSources, reportHost } from "../pipeline.js";
import { compareHosts } from "../ranking/rank.js";
import { type Reason, reason } from "../reasons.js";
import { matchDevices } from "./match.js";

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
}

interface VmState {
  domain: DomainInfo;
  sources: SourceDevice[];
  multiVfio: boolean;
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

/** Incremental evacuation: hosts are added as they are read (and slimmed), then placed. */
export class Evacuation {
  private readonly vms: VmState[];
  private readonly hosts: HostInventory[] = [];

  constructor(
    domains: DomainInfo[],
    private readonly source: HostInventory,
    private readonly selector: DescriptorSelector,
    private readonly opts: PlanOptions,
  ) {
    this.vms = domains.map((domain, i) => {
      const { sources } = prepareSources({ domain, source, selector, opts });
      return {
        domain,
        sources,
        multiVfio: sources.filter(isVfio).length > 1,
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
      const c = buildHostCandidates(h, vm.sources, {
        selector,
        gateOpts: this.opts,
        multiVfio: vm.multiVfio,
      });
      vm.cands.set(h.key, c);
      const m = matchDevices({ devices: c.devices, resources: c.resources });
      if (m.assignment.size === vm.sources.length) vm.feasibleSet.add(h.key);
    }
    this.hosts.push(slim(h));
  }

  // ---- the shard interface (this host set; worker threads hold one each) ----
  private readonly used = new Map<string, Map<string, number>>();
  private readonly locks = new Map<string, Map<string, string>>();
  private readonly uuidTaken = new Set<string>();

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
    const c = vm.cands.get(h.key)!;
    const m = matchDevices({
      devices: c.devices,
      resources: c.resources,
      used,
      gpuLocks: this.locksOf(h.key),
    });
    const ctx = { domain: vm.domain, source: this.source, selector: this.selector, opts: this.opts };
    return { m, rep: reportHost(ctx, h, vm.sources, c, m, used, taken) };
  }

  private usedOf(key: string): Map<string, number> {
    let u = this.used.get(key);
    if (!u) {
      u = new Map();
      this.used.set(key, u);
    }
    return u;
  }

  private locksOf(key: string): Map<string, string> {
    let l = this.locks.get(key);
    if (!l) {
      l = new Map();
      this.locks.set(key, l);
    }
    return l;
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
export interface EvacShard {
  feasibleCounts(): number[] | Promise<number[]>;
  hostCount(): number | Promise<number>;
  bestFull(vmIdx: number): HostReport | null | Promise<HostReport | null>;
  closest(vmIdx: number): HostReport | null | Promise<HostReport | null>;
  commit(vmIdx: number, hostKey: string): HostReport | Promise<HostReport>;
  capacityLeft(): Record<string, Record<string, number>> | Promise<Record<string, Record<string, number>>>;
}

function better(a: HostReport | null, b: HostReport | null): HostReport | null {
  if (!a) return b;
  if (!b) return a;
  return compareHosts(b, a) < 0 ? b : a;
}

/**
 * Place every VM across the shards: most constrained first, each on the best
 * full host of all shards (compareHosts is a total order, so the answer does
 * not depend on how hosts are split).
 */
export async function placeAll(
  shards: EvacShard[],
  vms: VmInfo[],
  order: "constrained" | "input" = "constrained",
): Promise<EvacuationResult> {
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
  const placements: Placement[] = [];
  for (const i of idx) {
    const vm = vms[i]!;
    const bests = await Promise.all(shards.map((s) => s.bestFull(i)));
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
    if (chosen) {
      const rep = await shards[owner]!.commit(i, chosen.host);
      placements.push({
        domain: vm.name,
        uuid: vm.uuid,
        host: rep.host,
        assignments: rep.assignments,
        reasons: [],
        warnings: rep.warnings,
        devices: vm.devices,
        feasibleHosts: feasible[i]!,
      });
      continue;
    }
    let closest: HostReport | null = null;
    for (const c of await Promise.all(shards.map((s) => s.closest(i)))) closest = better(closest, c);
    const partial = closest as HostReport | null;
    const reasons: Reason[] =
      hostTotal === 0
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
    placements.push({
      domain: vm.name,
      uuid: vm.uuid,
      host: null,
      assignments: [],
      reasons,
      warnings: [],
      devices: vm.devices,
      feasibleHosts: feasible[i]!,
    });
  }
  const merged: Record<string, Record<string, number>> = {};
  for (const c of await Promise.all(shards.map((s) => s.capacityLeft()))) Object.assign(merged, c);
  const capacityLeft: EvacuationResult["capacityLeft"] = {};
  for (const k of Object.keys(merged).sort()) capacityLeft[k] = merged[k]!;
  return { placements, unplaced: placements.filter((p) => p.host === null).length, capacityLeft };
}

export function evacuate(
  domains: DomainInfo[],
  source: HostInventory,
  hosts: HostInventory[],
  selector: DescriptorSelector,
  opts: PlanOptions,
  order: "constrained" | "input" = "constrained",
): Promise<EvacuationResult> {
  const e = new Evacuation(domains, source, selector, opts);
  for (const h of hosts) e.addHost(h);
  return placeAll([e], e.vmInfo(), order);
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
