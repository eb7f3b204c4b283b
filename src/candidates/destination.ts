/**
 * Destination candidates for each source device on one host: the filter
 * step, one module per device kind (src/candidates/kinds/registry.ts); this
 * file runs the version gates shared by every kind and dispatches on the
 * device's need. Every candidate that is
 * dropped carries a stable reason.
 */
import { derivePciDescriptor } from "../descriptors/derive.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { NodeDevice } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { hostIndex } from "./hostindex.js";
import type { KindContext } from "./kinds/common.js";
import { sourceKind } from "./kinds/registry.js";
import type { DeviceCandidates, HostCandidates, Resource, SourceDevice } from "./types.js";
import { type GateOptions, gateReasons, isQemu, versionAtLeast } from "./versions.js";
import { objectList } from "../lists.js";

export { gpuOf } from "./kinds/mdev.js";

export interface DestinationContext {
  selector: DescriptorSelector;
  gateOpts: GateOptions;
  /** The VM has more than one VFIO device (whole-VM rule of §5). */
  multiVfio: boolean;
}

export function buildHostCandidates(
  host: HostInventory,
  sources: SourceDevice[],
  ctx: DestinationContext,
): HostCandidates {
  const resources = new Map<string, Resource>();
  const devices = objectList<DeviceCandidates>();
  const warnings = objectList<Reason>();
  const gateNotes = objectList<string>();
  const idx = hostIndex(ctx.selector, host);
  const kctx: KindContext = {
    host,
    idx,
    selector: ctx.selector,
    gateOpts: ctx.gateOpts,
    warnings,
    addResource(r: Resource) {
      if (!resources.has(r.id)) resources.set(r.id, r);
    },
    /** Selected descriptor of a PCI function (from the per-host index). */
    pciDescriptor(fn: NodeDevice) {
      const e = fn.pci ? idx.pciAt(fn.pci.address) : undefined;
      if (e) return e.descriptor;
      const pf = fn.pci?.physFunction ? host.pciByAddr.get(fn.pci.physFunction) : undefined;
      return ctx.selector.select(host.key, derivePciDescriptor(fn, pf), undefined).descriptor;
    },
  };

  const qemuMulti =
    ctx.multiVfio &&
    isQemu(host.versions) &&
    versionAtLeast(host.versions.hypervisorVersion, "8.2.0") === false;

  for (const s of sources) {
    const dc: DeviceCandidates = { deviceId: s.dev.id, resources: objectList(), reasons: objectList() };
    devices.push(dc);
    if (s.blockers.length > 0 || !s.need) {
      dc.reasons.push(...s.blockers);
      continue;
    }
    if (s.gate) {
      const notes: string[] = [];
      const g = gateReasons(
        s.gate,
        host.versions,
        host.key,
        ctx.gateOpts,
        s.gateDriver,
        "destination",
        notes,
      );
      for (const n of notes) if (!gateNotes.includes(n)) gateNotes.push(n);
      if (qemuMulti && !s.transient && !g.some((r) => r.code === "qemu-too-old")) {
        g.push(
          reason(
            "qemu-too-old",
            `destination ${host.key}: QEMU ${host.versions.hypervisorVersion} refuses to migrate a VM with more than one VFIO device (8.2+ needed)`,
          ),
        );
      }
      if (g.length > 0) {
        dc.reasons.push(...g);
        continue;
      }
    }
    sourceKind(s).candidates(s, dc, kctx);
  }
  return { hostKey: host.key, resources, devices, warnings, gateNotes };
}
