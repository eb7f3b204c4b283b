/**
 * Filters on destination PCI functions, Kubernetes-scheduler style: each is a
 * small pure function returning null (pass) or a Reason with a stable code.
 */
import { holderText, inUseText, reservedAt } from "../inventory/keys.js";
import type { HostInventory } from "../inventory/types.js";
import type { DescriptorData, NodeDevice, PciNode } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { isVfioDriver, migratingDriver, variantDriver } from "./drivers.js";

export { isVfioDriver };

export interface PciFilterContext {
  host: HostInventory;
  managed: boolean;
  /** The device must support VFIO migration on the destination too. */
  needsMigration: boolean;
  descriptor: DescriptorData;
}

/** A filter sees a function with its PCI capability (PciNode): callers narrow with isPciNode. */
export type PciFilter = (fn: PciNode, ctx: PciFilterContext) => Reason | null;

/** Class 0x0604xx (PCI-to-PCI bridge); the class as libvirt writes it, "0x" or not, any case. */
export function isBridge(fn: NodeDevice): boolean {
  const c = fn.pci?.class;
  if (!c) return false;
  // Without lower-casing and a regex a function (measured: 1.1% of a cold plan of 1,000 hosts).
  const at = c.length > 1 && c.charCodeAt(0) === 48 && (c.charCodeAt(1) | 32) === 120 ? 2 : 0;
  return c.startsWith("0604", at);
}

export const notReserved: PciFilter = (fn, { host }) => {
  const why = reservedAt(host.reserved, { kind: "pci", address: fn.pci.address });
  return why ? reason("pci-device-in-use", `${fn.pci.address} is ${inUseText(why)}`) : null;
};

/** Functions of a hostdev network pool are the network's to hand out. */
export const notInPool: PciFilter = (fn, { host }) => {
  const net = host.poolMembers.get(fn.pci.address);
  return net ? reason("pci-device-in-use", `${fn.pci.address} belongs to hostdev network ${net}`) : null;
};

export const notPfWithVfs: PciFilter = (fn) =>
  fn.pci.virtFunctions.length > 0
    ? reason(
        "pci-device-used-by-host",
        `${fn.pci.address} is a PF with ${fn.pci.virtFunctions.length} VFs enabled`,
      )
    : null;

export const noHostNetUp: PciFilter = (fn, { host }) => {
  for (const net of host.netByParent.get(fn.name) ?? []) {
    const st = net.net?.linkState;
    if (st !== "down") {
      return reason(
        "pci-device-used-by-host",
        `${fn.pci.address} has host interface ${net.net?.interface ?? net.name} with link ${st ?? "state unknown"}`,
      );
    }
  }
  return null;
};

export const iommuGroupViable: PciFilter = (fn, { host }) => {
  const g = fn.pci.iommuGroup;
  // No <iommuGroup> at all (IOMMU off, or a dump without it): VFIO cannot
  // assign the function (the kernel exposes /dev/vfio/<group> only for
  // functions in an IOMMU group; libvirt's virPCIDeviceGetIOMMUGroupDev).
  if (!g) {
    return reason(
      "iommu-group-unknown",
      `${fn.pci.address} reports no IOMMU group (IOMMU disabled, or the dump lacks <iommuGroup>): not assignable with VFIO`,
    );
  }
  for (const m of g.members) {
    if (m === fn.pci.address) continue;
    const other = host.pciByAddr.get(m);
    if (!other) {
      return reason(
        "iommu-group-not-viable",
        `IOMMU group ${g.number} member ${m} is not visible; its state is unknown`,
      );
    }
    if (isBridge(other)) continue;
    const why = reservedAt(host.reserved, { kind: "pci", address: m });
    if (why)
      return reason(
        "iommu-group-not-viable",
        `IOMMU group ${g.number} member ${m} is used by ${holderText(why)}`,
      );
    if (isVfioDriver(other.driver)) continue;
    if (other.driver === null) {
      if (host.driversKnown) continue; // unbound
      return reason("iommu-group-not-viable", `IOMMU group ${g.number} member ${m}: driver binding unknown`);
    }
    return reason(
      "iommu-group-not-viable",
      `IOMMU group ${g.number} member ${m} is bound to host driver ${other.driver}`,
    );
  }
  return null;
};

export const vfioBinding: PciFilter = (fn, { managed }) => {
  if (managed || isVfioDriver(fn.driver)) return null;
  return reason(
    "pci-device-not-vfio",
    `${fn.pci.address} must be pre-bound (managed='no') but is bound to ${fn.driver ?? "no known driver"}`,
  );
};

/** Destination side of §5: positive evidence that the function can receive a migration. */
export const destinationMigratable: PciFilter = (fn, { host, managed, needsMigration, descriptor }) => {
  if (!needsMigration) return null;
  const m = descriptor.self.migratable;
  if (m === "0") return reason("driver-not-migratable", `${fn.pci.address}: descriptor says migratable=0`);
  if (m === "1") return null;
  const d = fn.driver;
  if (migratingDriver(d)) return null;
  if (variantDriver(d)) {
    return reason(
      "driver-not-migratable",
      `${fn.pci.address} is bound to ${d}, a VFIO variant driver without migration support`,
    );
  }
  if (d === "vfio-pci") {
    return reason(
      "driver-not-migratable",
      `${fn.pci.address} is bound to plain vfio-pci, which has no migration support`,
    );
  }
  if (d === null && !host.driversKnown) {
    return reason(
      "migration-support-unknown",
      `${fn.pci.address}: driver unknown (the host reports no drivers)`,
    );
  }
  // Unbound, or bound to its host driver: with managed='yes' libvirt >= 10
  // binds the matching VFIO variant driver itself (the pci-variant gate).
  if (managed) return null;
  return reason("pci-device-not-vfio", `${fn.pci.address} is not bound to a migration-capable VFIO driver`);
};

export const PCI_FILTERS: PciFilter[] = [
  notReserved,
  notInPool,
  notPfWithVfs,
  noHostNetUp,
  iommuGroupViable,
  vfioBinding,
  destinationMigratable,
];

export function runPciFilters(fn: PciNode, ctx: PciFilterContext, skip: PciFilter[] = []): Reason | null {
  for (const f of PCI_FILTERS) {
    if (skip.includes(f)) continue;
    const r = f(fn, ctx);
    if (r) return r;
  }
  return null;
}
