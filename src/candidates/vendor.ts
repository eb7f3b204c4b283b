import { fromVendorAttrs } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { DescriptorData, NodeDevice } from "../model.js";
import { mdevTypesOf } from "../descriptors/derive.js";

/** Vendor sysfs attributes (compat.md §4.2) for type T on parent P, as a descriptor. */
export function vendorDescriptorFor(
  host: HostInventory,
  parent: NodeDevice,
  type: string,
): DescriptorData | undefined {
  if (host.vendorAttrs.length === 0) return undefined;
  const names = new Set([parent.name, parent.pci?.address].filter((x): x is string => !!x));
  const v = host.vendorAttrs.find((a) => a.type === type && names.has(a.parent));
  if (!v) return undefined;
  const api = mdevTypesOf(parent).find((t) => t.id === type)?.deviceAPI;
  return fromVendorAttrs(v, api);
}
