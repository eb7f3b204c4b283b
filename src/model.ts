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

export interface AssignedDevice {
  /** cli.md: alias when present, else kind + index within kind. */
  id: string;
  alias: string | null;
  kind: DeviceKind;
  /** Index among devices of the same kind, document order. */
  kindIndex: number;
  /** Element the device came from: "hostdev" or "interface". */
  element: "hostdev" | "interface";
  /** hostdev mode / type attributes or interface type, verbatim. */
  mode?: string;
  type?: string;
  /** PCI host address "DDDD:BB:SS.F" (pci hostdev, interface type=hostdev). */
  hostAddress?: string;
  managed?: boolean;
  /** Guest-visible <address> attributes, verbatim, or null. */
  guestAddress: Record<string, string> | null;
  /** <driver name=...> of the hostdev/interface, e.g. vfio. */
  driverName?: string;
  rom?: Record<string, string>;
  teaming?: Teaming;
  // mdev
  mdevUuid?: string;
  mdevModel?: string;
  display?: string;
  ramfb?: string;
  // usb
  usb?: { vendorId?: string; productId?: string; bus?: string; device?: string };
  // interface / network
  mac?: string;
  vlan?: { tags: { id: string; nativeMode?: string }[]; trunk?: boolean };
  network?: string;
  /** scsi / scsi_host / capabilities: a short text for the summary. */
  detail?: string;
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
  /** Non-fatal problems reading the host (skipped devices, ...). */
  warnings: Reason[];
}

/** Snapshot file written by `hdplan inventory` (schemaVersion 1). */
export interface HostSnapshot {
  schemaVersion: 1;
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
