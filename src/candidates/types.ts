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

export interface AssignmentTarget {
  kind: "mdev" | "pci" | "network" | "usb";
  name: string | null;
  parent: string | null;
  mdevType: string | null;
  uuid: string | null;
  create: boolean;
  address: string | null;
  network?: string;
  driver?: string | null;
  /** NVIDIA SR-IOV vGPU VF target (src/vgpuvf): the type it has or gets, and the write to make. */
  vgpuType?: { id: number; name: string | null; create: boolean; write: string | null };
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
