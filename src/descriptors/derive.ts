/** Derived descriptors from libvirt node devices (compat.md §4.3). */
import type { DescriptorData, MdevType, NodeDevice } from "../model.js";

export interface MdevParentInfo {
  /** Capability that names the parent's bus: pci, css, ap_matrix. */
  deviceType: string;
  /** vendor+product (8 hex digits) for PCI parents. */
  deviceId?: string;
}

export function pciDeviceId(d: NodeDevice | undefined): string | undefined {
  if (!d?.pci) return undefined;
  return `${d.pci.vendorId}${d.pci.productId}`.toLowerCase();
}

export function parentInfo(parent: NodeDevice): MdevParentInfo {
  if (parent.pci) {
    const id = pciDeviceId(parent);
    return id ? { deviceType: "pci", deviceId: id } : { deviceType: "pci" };
  }
  if (parent.css) return { deviceType: "css" };
  if (parent.apMatrix) return { deviceType: "ap_matrix" };
  return { deviceType: parent.caps[0] ?? "unknown" };
}

export function mdevTypesOf(parent: NodeDevice): MdevType[] {
  return parent.pci?.mdevTypes ?? parent.css?.mdevTypes ?? parent.apMatrix?.mdevTypes ?? [];
}

/**
 * Descriptor of mdev type T offered by parent P (also used for an mdev instance of T on P).
 * `managerVersion` (the host's `nvidia` module version, src/facts) becomes the
 * `software_version` of NVIDIA vGPU types (compat.md §7, src/facts/rules.ts).
 */
export function deriveMdevDescriptor(
  parent: NodeDevice,
  typeId: string,
  managerVersion?: string,
): DescriptorData {
  const info = parentInfo(parent);
  const t = mdevTypesOf(parent).find((x) => x.id === typeId);
  const self: Record<string, string> = {};
  if (t?.deviceAPI) self.device_api = t.deviceAPI;
  else if (info.deviceType === "css") self.device_api = "vfio-ccw";
  else if (info.deviceType === "ap_matrix") self.device_api = "vfio-ap";
  self.device_type = info.deviceType;
  if (info.deviceId) self.device_id = info.deviceId;
  self.mdev_type = typeId;
  if (managerVersion && typeId.startsWith("nvidia-")) self.software_version = managerVersion;
  return { self, compatible: [] };
}

/** Descriptor of a PCI function; `pf` is its PF's node device when it is a VF. */
export function derivePciDescriptor(fn: NodeDevice, pf: NodeDevice | undefined): DescriptorData {
  const self: Record<string, string> = { device_api: "vfio-pci", device_type: "pci" };
  const id = pciDeviceId(fn);
  if (id) self.device_id = id;
  if (fn.pci?.physFunction) {
    // A VF whose PF we cannot see: pf_device_id stays unknown, so the
    // comparison fails closed (the key is missing on one side).
    const pfId = pciDeviceId(pf);
    self.pf_device_id = pfId ?? "unknown";
  }
  return { self, compatible: [] };
}
