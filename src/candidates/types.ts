import type { AssignedDevice, DescriptorData } from "../model.js";
import type { Reason } from "../reasons.js";
import type { FirmwareFacts } from "../facts/rules.js";
import type { GateClass } from "./versions.js";

export type Need = "mdev" | "pci" | "network" | "usb" | "vgpu-vf";

/** One assigned device of the VM, resolved against --source (compat.md §5). */
export interface SourceDevice {
  dev: AssignedDevice;
  summary: string;
  /** Blockers make every host score 0 for this device. */
  blockers: Reason[];
  warnings: Reason[];
  need: Need | null;
  gate: GateClass | null;
  gateDriver?: string;
  /** Which gate rules decided on the source (floor or backport row), for --explain. */
  gateNotes?: string[];
  /** `plan --ask-qemu`: how hdplan's and QEMU's answers compare, for --explain. */
  qemuNote?: string;
  /** Transient teaming: QEMU unplugs it; no migration support needed. */
  transient: boolean;
  /** The source device's descriptor (self used for matching) and where it came from. */
  descriptor: DescriptorData | null;
  descriptorOrigin: string | null;
  mdevType?: string;
  /** Source mdev UUID (for the destination UUID rule). */
  mdevUuid?: string;
  /** Source PCI driver (pci / interface). */
  driver?: string | null;
  /** Drivers of every function the device may hold (a hostdev network pool's functions). */
  poolDrivers?: (string | null)[];
  network?: { name: string; functionIds: string[] };
  /** mlx5 VFs: compare the PF's firmware and PSID with the destination's (compat.md §7). */
  checkFirmware?: boolean;
  firmware?: FirmwareFacts;
  /** NVIDIA SR-IOV vGPU VF (need "vgpu-vf", src/vgpuvf): its current type and PF ids. */
  vgpuVf?: { typeId: number; typeName: string | null; pfIds: string | null };
  usbIds?: { vendorId: string; productId: string };
}

/** An mdev: an existing one (create false, name and uuid set) or one to create on `parent`. */
export interface MdevTarget {
  kind: "mdev";
  /** Node device name of an existing mdev; null for one to create. */
  name: string | null;
  parent: string;
  mdevType: string;
  /** null only on a pool resource, before the plan picks the UUID (src/pipeline.ts). */
  uuid: string | null;
  create: boolean;
}

/** A PCI function passed through (pci hostdev, interface type=hostdev). */
export interface PciTarget {
  kind: "pci";
  name: string;
  address: string;
  driver: string | null;
}

/** An NVIDIA SR-IOV vGPU VF (src/vgpuvf): the type it has or gets, and the write to make. */
export interface VgpuVfTarget {
  kind: "vgpu-vf";
  /** Node device name of the VF. */
  name: string;
  /** PCI address of the VF. */
  vf: string;
  driver: string | null;
  typeId: number;
  typeName: string | null;
  /** The type must be written first (the VF has type 0). */
  create: boolean;
  /** The command that writes it, when create. */
  write: string | null;
}

/** A free function of a hostdev network pool. */
export interface NetworkTarget {
  kind: "network";
  network: string;
}

export interface UsbTarget {
  kind: "usb";
  name: string;
  parent: string | null;
}

/** Where a device goes on a destination; cli.md's JSON form is src/output/json.ts (targetJson). */
export type AssignmentTarget = MdevTarget | PciTarget | VgpuVfTarget | NetworkTarget | UsbTarget;

/** The PCI function a target hands the guest (a passed-through function or a vGPU VF), else null. */
export function pciAddressOf(t: AssignmentTarget): string | null {
  return t.kind === "pci" ? t.address : t.kind === "vgpu-vf" ? t.vf : null;
}

/** One word for a target in a log line: the mdev UUID, the PCI address, the network or USB name. */
export function targetLabel(t: AssignmentTarget): string | null {
  switch (t.kind) {
    case "mdev":
      return t.uuid ?? t.name;
    case "pci":
      return t.address;
    case "vgpu-vf":
      return t.vf;
    case "network":
      return t.network;
    case "usb":
      return t.name;
  }
}

/** Whether placing on this target creates something (an mdev, a vGPU type). */
export function createsDevice(t: AssignmentTarget): boolean {
  return (t.kind === "mdev" || t.kind === "vgpu-vf") && t.create;
}

/** A unit of destination capacity. */
export interface Resource {
  id: string;
  capacity: number;
  /** Lower is preferred (existing mdev 0, creating one 1). */
  cost: number;
  /** Physical device for the one-type-per-GPU rule (§6). */
  gpu?: string;
  mdevType?: string;
  target: AssignmentTarget;
  /** Descriptor that accepted, for --explain. */
  descriptorOrigin?: string;
  binding?: Record<string, string | number>;
}

export interface DeviceCandidates {
  deviceId: string;
  /** Resource ids this device may take, best first. */
  resources: string[];
  /** Why there are no (or why some are not) candidates. */
  reasons: Reason[];
}

export interface HostCandidates {
  hostKey: string;
  resources: Map<string, Resource>;
  devices: DeviceCandidates[];
  warnings: Reason[];
  /** Which gate rules decided on this host (floor or backport row), for --explain. */
  gateNotes: string[];
}
