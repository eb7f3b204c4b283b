/**
 * Shared data model. Every stage of the flow reads and writes these types:
 *
 *   targets -> host inventory -> descriptors -> candidates -> matching -> ranking -> output
 */
import type { Reason } from "./reasons.js";

// ---------------------------------------------------------------------------
// Domain side (src/xml/domain.ts)

export type DeviceKind =
  | "pci"
  | "mdev"
  | "interface"
  | "network"
  | "usb"
  | "scsi"
  | "scsi_host"
  | "capabilities"
  | "vdpa";

export interface Teaming {
  type: "persistent" | "transient";
  persistent?: string;
}

/** Fields every assigned device has (src/xml/domain.ts). */
interface DeviceBase {
  /** cli.md: alias when present, else kind + index within kind. */
  id: string;
  alias: string | null;
  /** Index among devices of the same kind, document order. */
  kindIndex: number;
  /** hostdev mode / type attributes or interface type, verbatim. */
  mode?: string;
  type?: string;
  /** Guest-visible <address> attributes, verbatim, or null. */
  guestAddress: Record<string, string> | null;
  /** <driver name=...> of the hostdev/interface, e.g. vfio. */
  driverName?: string;
  rom?: Record<string, string>;
  teaming?: Teaming;
  /** <driver model='...'/> of a PCI hostdev/interface: a VFIO variant driver libvirt binds (libvirt 10.0). */
  driverModel?: string;
  /** <driver iommufd='yes'/>: this device uses the iommufd backend instead of the legacy VFIO container. */
  iommufd?: boolean;
}

/** What an <interface> element adds. */
interface InterfaceBase extends DeviceBase {
  element: "interface";
  mac?: string;
  vlan?: { tags: { id: string; nativeMode?: string }[]; trunk?: boolean };
}

/** <hostdev mode='subsystem' type='pci'>. */
export interface PciHostdev extends DeviceBase {
  kind: "pci";
  element: "hostdev";
  /** PCI host address "DDDD:BB:SS.F". */
  hostAddress: string;
  managed: boolean;
}

/** <hostdev mode='subsystem' type='mdev'>. */
export interface MdevHostdev extends DeviceBase {
  kind: "mdev";
  element: "hostdev";
  /** Canonical (lower-case, dashed) UUID of the mdev. */
  mdevUuid: string;
  mdevModel?: string;
  display?: string;
  ramfb?: string;
}

/** <hostdev mode='subsystem' type='usb'>: by vendor/product id or by bus/device. */
export interface UsbHostdev extends DeviceBase {
  kind: "usb";
  element: "hostdev";
  usb: { vendorId?: string; productId?: string; bus?: string; device?: string };
  managed: boolean;
}

/** <interface type='hostdev'>. */
export interface InterfaceDevice extends InterfaceBase {
  kind: "interface";
  /** PCI host address "DDDD:BB:SS.F"; absent for a non-PCI source address (see detail). */
  hostAddress?: string;
  managed: boolean;
  /** Live XML of an interface on a hostdev network pool may name the network. */
  network?: string;
  /** A non-PCI source address, as text. */
  detail?: string;
}

/** <interface type='network'>. */
export interface NetworkDevice extends InterfaceBase {
  kind: "network";
  network: string;
}

/** <interface type='vdpa'>: not planned by hdplan (blocked). */
export interface VdpaDevice extends InterfaceBase {
  kind: "vdpa";
  /** A short text for the summary. */
  detail: string;
}

/** scsi / scsi_host / capabilities hostdevs: not planned by hdplan (blocked). */
export interface OtherHostdev extends DeviceBase {
  kind: "scsi" | "scsi_host" | "capabilities";
  element: "hostdev";
  /** A short text for the summary. */
  detail: string;
  managed?: boolean;
}

/** One assigned device of a domain, keyed on `kind` (element tells hostdev from interface). */
export type AssignedDevice =
  | PciHostdev
  | MdevHostdev
  | UsbHostdev
  | InterfaceDevice
  | NetworkDevice
  | VdpaDevice
  | OtherHostdev;

/** The PCI function a device holds on its host (pci hostdev, interface type='hostdev'), else undefined. */
export function hostPciAddress(d: AssignedDevice): string | undefined {
  return d.kind === "pci" || d.kind === "interface" ? d.hostAddress : undefined;
}

/** The mdev UUID of an mdev hostdev, else undefined. */
export function mdevUuidOf(d: AssignedDevice): string | undefined {
  return d.kind === "mdev" ? d.mdevUuid : undefined;
}

/** The MAC address of an <interface>, else undefined. */
export function macOf(d: AssignedDevice): string | undefined {
  return d.element === "interface" ? d.mac : undefined;
}

/** managed='yes' on a device that has the attribute. */
export function isManaged(d: AssignedDevice): boolean {
  return "managed" in d && d.managed === true;
}

/** Domain features that decide migratability for the VM as a whole (compat.md §7). */
export interface DomainFeatures {
  /** <devices><iommu model=...>: a guest vIOMMU, with its <driver> attributes. */
  viommu: { model: string; driver: Record<string, string> } | null;
  /** Domain-level <iommufd enabled='yes'/>: every VFIO device on the iommufd backend. */
  iommufd: boolean;
  /** <os><type machine=...>, verbatim. */
  machine: string | null;
  /**
   * enable-migration forced through <qemu:override> or <qemu:commandline>:
   * per device alias, and for every vfio-pci device ("*", from -global).
   */
  enableMigration: Record<string, { value: string; via: string }>;
}

export interface DomainInfo {
  name: string;
  uuid: string;
  hypervisorType: string;
  devices: AssignedDevice[];
  /** <nova:instance> present in <metadata>. */
  novaManaged: boolean;
  /** Identity records from the hdplan metadata element, keyed by device id. */
  plannerMetadata: PlannerDeviceMeta[];
  /** Whole-VM features (absent on DomainInfo built by hand: treated as none). */
  features?: DomainFeatures;
  /** The host the hdplan metadata says this XML was planned for (--write-dest-xml). */
  plannedFor?: { host: string | null; hostUuid: string | null };
}

/** What hdplan records per device in <metadata> (written by --write-dest-xml). */
export interface PlannerDeviceMeta {
  id: string;
  kind: DeviceKind;
  guestAddress: string | null;
  descriptor: DescriptorData | null;
  mdevType?: string;
  pciIds?: string;
  /** Source PF firmware of an mlx5 VF (compat.md §7), when known. */
  firmware?: string;
  /** NVIDIA SR-IOV vGPU VF: the numeric vGPU type id (compat.md §8). */
  vgpuType?: string;
  psid?: string;
}

// ---------------------------------------------------------------------------
// Node devices (src/xml/nodedev.ts)

export interface MdevType {
  id: string;
  name?: string;
  deviceAPI?: string;
  /** undefined = not reported (fail-closed: capacity 0). */
  availableInstances?: number;
}

export interface IommuGroup {
  number: number;
  /** PCI addresses "DDDD:BB:SS.F" of the group members (including self). */
  members: string[];
}

export interface PciCap {
  address: string; // DDDD:BB:SS.F
  class?: string; // 0x030000
  vendorId: string; // 4 lower-case hex digits
  productId: string;
  vendorName?: string;
  productName?: string;
  iommuGroup?: IommuGroup;
  numaNode?: number;
  /** PF address when this function is a VF. */
  physFunction?: string;
  /** VF addresses when this function is a PF with VFs enabled. */
  virtFunctions: string[];
  virtFunctionsMax?: number;
  mdevTypes: MdevType[];
  vpd?: Record<string, string>;
}

export interface MdevCap {
  type: string;
  uuid?: string;
  iommuGroup?: number;
  attrs: { name: string; value: string }[];
}

export interface UsbCap {
  bus?: number;
  device?: number;
  vendorId: string;
  productId: string;
  vendorName?: string;
  productName?: string;
}

export interface NetCap {
  interface: string;
  address?: string;
  linkState?: string;
}

/** A node device with its PCI capability. */
export type PciNode = NodeDevice & { pci: PciCap };

export function isPciNode(n: NodeDevice | undefined): n is PciNode {
  return n?.pci !== undefined;
}

export interface NodeDevice {
  name: string;
  path?: string;
  parent?: string;
  /** <driver><name>; null when the XML has no <driver> element. */
  driver: string | null;
  /** Capability types in document order (pci, mdev, css, ap_matrix, usb_device, net, ...). */
  caps: string[];
  pci?: PciCap;
  mdev?: MdevCap;
  /** css (subchannel) or ap_matrix parent with mdev types. */
  css?: { cssid?: string; ssid?: string; devno?: string; mdevTypes: MdevType[] };
  apMatrix?: { mdevTypes: MdevType[] };
  usb?: UsbCap;
  net?: NetCap;
}

// ---------------------------------------------------------------------------
// Networks (src/xml/network.ts)

export interface NetworkInfo {
  name: string;
  uuid?: string;
  forwardMode?: string;
  /** For hostdev pools: the PF (if given) and the VF/function addresses. */
  pf?: string;
  functions: string[];
  /** connections='N' attribute on <forward>, if present (live XML). */
  connections?: number;
}

// ---------------------------------------------------------------------------
// Targets (src/targets) produce RawHost; src/inventory turns it into HostInventory.

export interface HostVersions {
  /** libvirt library/daemon version "x.y.z". */
  libvirt?: string;
  /** Hypervisor type as libvirt names it: QEMU, Test, ... */
  hypervisorType?: string;
  hypervisorVersion?: string;
  kernel?: string;
}

export interface RawDomain {
  xml: string;
  /** running (live XML) */
  active: boolean;
  persistent: boolean;
  origin: string;
}

export interface RawNetwork {
  xml: string;
  active: boolean;
  /** Network port XML documents (virNetworkListAllPorts), when known. */
  ports?: string[];
  origin: string;
}

export interface RawNodeDevice {
  xml: string;
  origin: string;
}

/** Vendor mdev attributes from sysfs (compat.md §4.2). */
export interface VendorAttrs {
  parent: string; // node device name or PCI address of the parent
  type: string; // mdev type id
  attrs: Record<string, string>;
}

export interface RawHost {
  key: string;
  target: string;
  kind: "dump" | "snapshot" | "live";
  hostname?: string;
  /** libvirt's host UUID (capabilities <host><uuid>), when known. */
  hostUuid?: string;
  versions: HostVersions;
  nodeDevices: RawNodeDevice[];
  domains: RawDomain[];
  networks: RawNetwork[];
  /** Descriptor files found with the host (dump dir descriptors/). */
  descriptorFiles: { path: string; text: string }[];
  vendorAttrs: VendorAttrs[];
  /** Vendor facts from sysfs / devlink (src/facts): absent = none read. */
  facts?: HostFacts;
  /** Non-fatal problems reading the host (skipped devices, ...). */
  warnings: Reason[];
}

/** Firmware of one PCI function (an mlx5 PF), compat.md §7. */
export interface PciFirmware {
  address: string;
  version?: string;
  psid?: string;
  /** Where it was read: "sysfs" (infiniband/<dev>/fw_ver, board_id) or "devlink". */
  from: string;
}

/** One vGPU type as NVIDIA's sysfs lists it: `ID : NAME` (compat.md §8). */
export interface VgpuTypeRef {
  id: number;
  name: string;
}

/**
 * An SR-IOV vGPU VF of NVIDIA's vendor-specific VFIO framework (compat.md §8):
 * sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type (0 = none) and
 * creatable_vgpu_types (src/vgpuvf/read.ts).
 */
export interface VgpuVfFacts {
  address: string;
  currentType: number;
  /** What can still be created on this VF; absent = the file was not read. */
  creatable?: VgpuTypeRef[];
}

/** Vendor facts read on the host itself (src/facts/read.ts), compat.md §7. */
export interface HostFacts {
  /** /sys/module/nvidia/version: the NVIDIA vGPU manager version. */
  nvidiaVersion?: string;
  firmware: PciFirmware[];
  /** NVIDIA SR-IOV vGPU VFs (compat.md §8); absent = none read. */
  vgpuVfs?: VgpuVfFacts[];
  /** GPUs (PF addresses) in vGPU heterogeneous mode (src/vgpuvf/read.ts); absent = not read (mode off). */
  vgpuHeterogeneous?: string[];
}

/** Snapshot file written by `hdplan inventory` (schemaVersion 2; 1 is still read). */
export interface HostSnapshot {
  schemaVersion: 1 | 2;
  kind: "hdplan-host-snapshot";
  createdAt: string;
  connect: string;
  hostname?: string;
  hostUuid?: string;
  versions: HostVersions;
  nodeDevices: { xml: string }[];
  domains: { xml: string; active: boolean; persistent: boolean }[];
  networks: { xml: string; active: boolean; ports?: string[] }[];
  vendorAttrs: VendorAttrs[];
  /** schemaVersion 2: vendor facts (absent in 1). */
  facts?: HostFacts;
}

// ---------------------------------------------------------------------------
// Descriptors (src/descriptors)

/** A compatible-section value: kept as the raw template text. */
export interface SectionData {
  [key: string]: string;
}

/** JSON form of a descriptor (also the in-memory form for derived ones). */
export interface DescriptorData {
  self: Record<string, string>;
  compatible: SectionData[];
}
