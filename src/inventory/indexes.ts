import type { NodeDevice } from "../model.js";
import type { HostInventory } from "./types.js";

/** The lookup maps of an inventory, from its (sorted) devices; the cache rebuilds them the same way. */
export function indexDevices(
  devices: NodeDevice[],
): Pick<HostInventory, "byName" | "pciByAddr" | "mdevByUuid" | "netByParent" | "driversKnown"> {
  const byName = new Map<string, NodeDevice>();
  const pciByAddr = new Map<string, NodeDevice>();
  const mdevByUuid = new Map<string, NodeDevice>();
  const netByParent = new Map<string, NodeDevice[]>();
  let driversKnown = false;
  for (const d of devices) {
    byName.set(d.name, d);
    if (d.pci) {
      pciByAddr.set(d.pci.address, d);
      if (d.driver) driversKnown = true;
    }
    if (d.mdev?.uuid) mdevByUuid.set(d.mdev.uuid.toLowerCase(), d);
    if (d.net && d.parent) {
      const l = netByParent.get(d.parent) ?? [];
      l.push(d);
      netByParent.set(d.parent, l);
    }
  }
  return { byName, pciByAddr, mdevByUuid, netByParent, driversKnown };
}
