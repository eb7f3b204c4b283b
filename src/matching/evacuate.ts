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

  finish(order: "constrained" | "input" = "constrained"): EvacuationResult {
    for (const vm of this.vms) vm.feasible = vm.feasibleSet.size;
    return place(this.vms, this.source, this.hosts, this.selector, this.opts, order);
  }
}

export function evacuate(
  domains: DomainInfo[],
  source: HostInventory,
  hosts: HostInventory[],
  selector: DescriptorSelector,
  opts: PlanOptions,
  order: "constrained" | "input" = "constrained",
): EvacuationResult {
  const e = new Evacuation(domains, source, selector, opts);
  for (const h of hosts) e.addHost(h);
  return e.finish(order);
}

function place(
  vms: VmState[],
  source: HostInventory,
  hosts: HostInventory[],
  selector: DescriptorSelector,
  opts: PlanOptions,
  order: "constrained" | "input",
): EvacuationResult {
  if (order === "constrained") {
    vms.sort(
      (a, b) =>
        a.feasible - b.feasible ||
        b.sources.length - a.sources.length ||
        (a.domain.name < b.domain.name ? -1 : a.domain.name > b.domain.name ? 1 : 0),
    );
  }
  const used = new Map<string, Map<string, number>>(hosts.map((h) => [h.key, new Map()]));
  const locks = new Map<string, Map<string, string>>(hosts.map((h) => [h.key, new Map()]));
  const uuidTaken = new Set<string>();
  const placements: Placement[] = [];
  for (const vm of vms) {
    const ctx = { domain: vm.domain, source, selector, opts };
    let best: { report: HostReport; host: HostInventory; match: ReturnType<typeof matchDevices> } | null =
      null;
    let bestPartial: HostReport | null = null;
    const trial = (h: HostInventory) => {
      const c = vm.cands.get(h.key)!;
      const m = matchDevices({
        devices: c.devices,
        resources: c.resources,
        used: used.get(h.key)!,
        gpuLocks: locks.get(h.key)!,
      });
      return { m, rep: reportHost(ctx, h, vm.sources, c, m, used.get(h.key)!, new OverlaySet(uuidTaken)) };
    };
    for (const h of hosts) {
      if (!vm.feasibleSet.has(h.key)) continue;
      const { m, rep } = trial(h);
      if (rep.status === "full" && (!best || compareHosts(rep, best.report) < 0))
        best = { report: rep, host: h, match: m };
    }
    if (!best) {
      // Only to explain the miss: the closest host of all.
      for (const h of hosts) {
        const { rep } = trial(h);
        if (!bestPartial || compareHosts(rep, bestPartial) < 0) bestPartial = rep;
      }
    }
    if (best) {
      // Re-run the report with the shared UUID set so created UUIDs are committed.
      const c = vm.cands.get(best.host.key)!;
      const u = used.get(best.host.key)!;
      const rep = reportHost(ctx, best.host, vm.sources, c, best.match, u, uuidTaken);
      for (const rid of best.match.assignment.values()) u.set(rid, (u.get(rid) ?? 0) + 1);
      const l = locks.get(best.host.key)!;
      for (const [gpu, t] of best.match.gpuChoice) l.set(gpu, t);
      placements.push({
        domain: vm.domain.name,
        uuid: vm.domain.uuid,
        host: best.host.key,
        assignments: rep.assignments,
        reasons: [],
        warnings: rep.warnings,
        devices: vm.sources.length,
        feasibleHosts: vm.feasible,
      });
    } else {
      const reasons: Reason[] =
        hosts.length === 0
          ? [reason("capacity-taken", "no readable candidate host")]
          : bestPartial
            ? [
                reason(
                  "capacity-taken",
                  `no host can take every device now; closest is ${bestPartial.host} (${bestPartial.compatible}/${bestPartial.total})`,
                  { host: bestPartial.host },
                ),
                ...bestPartial.unassigned.flatMap((u) => u.reasons.map((r) => ({ ...r, device: u.device }))),
              ]
            : [];
      placements.push({
        domain: vm.domain.name,
        uuid: vm.domain.uuid,
        host: null,
        assignments: [],
        reasons,
        warnings: [],
        devices: vm.sources.length,
        feasibleHosts: vm.feasible,
      });
    }
  }
  const capacityLeft: EvacuationResult["capacityLeft"] = {};
  const byKey = [...hosts].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const h of byKey) {
    const left: Record<string, number> = {};
    const u = used.get(h.key)!;
    const lock = locks.get(h.key)!;
    const seen = new Map<string, number>();
    for (const vm of vms) {
      for (const r of vm.cands.get(h.key)!.resources.values()) {
        if (seen.has(r.id)) continue;
        let cap = r.capacity - (u.get(r.id) ?? 0);
        if (r.gpu && r.mdevType && lock.has(r.gpu) && lock.get(r.gpu) !== r.mdevType) cap = 0;
        seen.set(r.id, cap);
      }
    }
    for (const k of [...seen.keys()].sort()) left[k] = seen.get(k)!;
    capacityLeft[h.key] = left;
  }
  return { placements, unplaced: placements.filter((p) => p.host === null).length, capacityLeft };
}
