import type {
  AssignedDevice,
  DescriptorData,
  InterfaceDevice,
  MdevHostdev,
  NetworkDevice,
  PciHostdev,
  UsbHostdev,
} from "../model.js";
import type { Reason } from "../reasons.js";
import type { FirmwareFacts } from "../facts/rules.js";
import type { GateClass } from "./versions.js";

export type Need = "mdev" | "pci" | "network" | "usb" | "vgpu-vf";

/** What every resolved source device carries, whatever it needs (compat.md §5). */
export interface SourceBase {
  dev: AssignedDevice;
  summary: string;
  /** Blockers make every host score 0 for this device. */
  blockers: Reason[];
  warnings: Reason[];
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
}

/** An mdev hostdev: the destination needs an mdev of the same type. */
export interface MdevSource extends SourceBase {
  need: "mdev";
  dev: MdevHostdev;
  /** Source mdev UUID, lower case (for the destination UUID rule). */
  mdevUuid: string;
  /** null: the mdev is not identified on the source (the device then carries a blocker). */
  mdevType: string | null;
}

/** A PCI function passed through (pci hostdev, interface type='hostdev'). */
export interface PciSource extends SourceBase {
  need: "pci";
  dev: PciHostdev | InterfaceDevice;
  /** Source PCI driver; null when unknown (no source host, or not a node device there). */
  driver: string | null;
  /** mlx5 VFs: compare the PF's firmware and PSID with the destination's (compat.md §7). */
  checkFirmware: boolean;
  firmware?: FirmwareFacts;
}

/** An interface on a hostdev network pool: the destination needs a free pool function. */
export interface NetworkSource extends SourceBase {
  need: "network";
  dev: NetworkDevice;
  /** null: the network is not defined on the source (the device then carries a blocker). */
  network: { name: string; functionIds: string[] } | null;
  /** Drivers of every function the device may hold (the pool's functions; empty when none was read). */
  poolDrivers: (string | null)[];
}

/** A USB hostdev: the destination needs a device with the same ids. */
export interface UsbSource extends SourceBase {
  need: "usb";
  dev: UsbHostdev;
  /** null: a device named by bus/device that the source does not show (the device then carries a blocker). */
  usbIds: { vendorId: string; productId: string } | null;
}

/** NVIDIA SR-IOV vGPU VF (src/vgpuvf): its current type and PF ids. */
export interface VgpuVfSource extends SourceBase {
  need: "vgpu-vf";
  dev: PciHostdev | InterfaceDevice;
  /** Source PCI driver (nvidia); null without a source host. */
  driver: string | null;
  /** null: the VF's vGPU type is unknown or 0 (the device then carries a blocker). */
  vgpuVf: { typeId: number; typeName: string | null; pfIds: string | null } | null;
}

/** A device hdplan does not plan (scsi, vdpa, ...): it carries a blocker and needs nothing. */
export interface UnplannedSource extends SourceBase {
  need: null;
}

/** One assigned device of the VM, resolved against --source, keyed on what it needs on a destination. */
export type SourceDevice =
  | MdevSource
  | PciSource
  | NetworkSource
  | UsbSource
  | VgpuVfSource
  | UnplannedSource;

/** The source devices that need something on a destination. */
export type PlannedSource = Exclude<SourceDevice, UnplannedSource>;

/** The variant of SourceDevice that needs `N`. */
export type SourceOf<N extends Need> = Extract<SourceDevice, { need: N }>;

/** An mdev: an existing one (create false, name and uuid set) or one to create on `parent`. */
export interface MdevTarget {
  kind: "mdev";
  /** Node device name of an existing mdev; null for one to create. */
  name: string | null;
  parent: string;
  /**
   * The parent's PCI address "DDDD:BB:SS.F"; null when the parent is not a
   * PCI device (a ccw subchannel, the ap matrix). Not in cli.md's JSON.
   */
  parentAddress: string | null;
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
