/** XML builders for tests: node devices, domains, networks, and RawHost records. */
import type { HostFacts, HostVersions, RawHost } from "../../src/model.js";

export function pciName(addr: string): string {
  return `pci_${addr.replace(/[:.]/g, "_")}`;
}

function splitAddr(addr: string) {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(addr);
  if (!m) throw new Error(`bad addr ${addr}`);
  return { domain: m[1]!, bus: m[2]!, slot: m[3]!, fn: m[4]! };
}

export function addrEl(addr: string): string {
  const a = splitAddr(addr);
  return `<address domain='0x${a.domain}' bus='0x${a.bus}' slot='0x${a.slot}' function='0x${a.fn}'/>`;
}

export interface PciOpts {
  addr: string;
  vendor: string;
  product: string;
  driver?: string | null;
  cls?: string;
  /** Default: a group of its own; null: no <iommuGroup> (IOMMU off). */
  iommu?: { number: number; members: string[] } | null;
  pf?: string;
  vfs?: string[];
  mdevTypes?: { id: string; name?: string; api?: string; available?: number }[];
  parent?: string;
}

export function pciDev(o: PciOpts): string {
  const a = splitAddr(o.addr);
  const group =
    o.iommu !== undefined
      ? o.iommu
      : {
          number: Number.parseInt(a.bus, 16) * 32 + Number.parseInt(a.slot, 16) * 8 + Number(a.fn),
          members: [o.addr],
        };
  const types = o.mdevTypes?.length
    ? `<capability type='mdev_types'>${o.mdevTypes
        .map(
          (t) =>
            `<type id='${t.id}'><name>${t.name ?? t.id}</name><deviceAPI>${t.api ?? "vfio-pci"}</deviceAPI>${
              t.available === undefined ? "" : `<availableInstances>${t.available}</availableInstances>`
            }</type>`,
        )
        .join("")}</capability>`
    : "";
  return `<device>
  <name>${pciName(o.addr)}</name>
  <parent>${o.parent ?? "computer"}</parent>
  ${o.driver ? `<driver><name>${o.driver}</name></driver>` : ""}
  <capability type='pci'>
    <class>${o.cls ?? "0x020000"}</class>
    <domain>${Number.parseInt(a.domain, 16)}</domain>
    <bus>${Number.parseInt(a.bus, 16)}</bus>
    <slot>${Number.parseInt(a.slot, 16)}</slot>
    <function>${Number(a.fn)}</function>
    <product id='0x${o.product}'>P${o.product}</product>
    <vendor id='0x${o.vendor}'>V${o.vendor}</vendor>
    ${o.pf ? `<capability type='phys_function'>${addrEl(o.pf)}</capability>` : ""}
    ${o.vfs?.length ? `<capability type='virt_functions' maxCount='${o.vfs.length}'>${o.vfs.map(addrEl).join("")}</capability>` : ""}
    ${types}
    ${group ? `<iommuGroup number='${group.number}'>${group.members.map(addrEl).join("")}</iommuGroup>` : ""}
  </capability>
</device>`;
}

export function mdevDev(o: { uuid: string; parentAddr: string; type: string; active?: boolean }): string {
  return `<device>
  <name>mdev_${o.uuid.replace(/-/g, "_")}</name>
  <parent>${pciName(o.parentAddr)}</parent>
  <driver><name>vfio_mdev</name></driver>
  <capability type='mdev'>
    <type id='${o.type}'/>
    <uuid>${o.uuid}</uuid>
    ${o.active === false ? "" : "<iommuGroup number='100'/>"}
  </capability>
</device>`;
}

export function netDev(o: { parentAddr: string; iface: string; state: string }): string {
  return `<device>
  <name>net_${o.iface}</name>
  <parent>${pciName(o.parentAddr)}</parent>
  <capability type='net'><interface>${o.iface}</interface><address>52:54:00:00:00:01</address><link state='${o.state}'/></capability>
</device>`;
}

export function usbDev(o: {
  name: string;
  vendor: string;
  product: string;
  bus: number;
  device: number;
}): string {
  return `<device>
  <name>${o.name}</name>
  <parent>usb_usb1</parent>
  <driver><name>usb</name></driver>
  <capability type='usb_device'><bus>${o.bus}</bus><device>${o.device}</device>
    <product id='0x${o.product}'>P</product><vendor id='0x${o.vendor}'>V</vendor></capability>
</device>`;
}

export type HostdevSpec =
  | { kind: "mdev"; uuid: string; alias?: string }
  | { kind: "pci"; addr: string; managed?: boolean; teaming?: string; alias?: string }
  | { kind: "interface"; addr: string; mac?: string; teaming?: string }
  | { kind: "network"; network: string }
  | { kind: "usb"; vendor: string; product: string }
  | { kind: "scsi" };

export function domainXml(name: string, uuid: string, devs: HostdevSpec[], type = "kvm"): string {
  let slot = 5;
  const guest = () =>
    `<address type='pci' domain='0x0000' bus='0x00' slot='0x${(slot++).toString(16).padStart(2, "0")}' function='0x0'/>`;
  const body = devs
    .map((d) => {
      const alias = "alias" in d && d.alias ? `<alias name='${d.alias}'/>` : "";
      switch (d.kind) {
        case "mdev":
          return `<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='${d.uuid}'/></source>${alias}${guest()}</hostdev>`;
        case "pci":
          return `<hostdev mode='subsystem' type='pci' managed='${d.managed === false ? "no" : "yes"}'><source>${addrEl(d.addr)}</source>${
            d.teaming ? `<teaming type='${d.teaming}' persistent='ua-net0'/>` : ""
          }${alias}${guest()}</hostdev>`;
        case "interface":
          return `<interface type='hostdev' managed='yes'><mac address='${d.mac ?? "52:54:00:6d:90:02"}'/><source>${addrEl(d.addr).replace("<address ", "<address type='pci' ")}</source>${
            d.teaming ? `<teaming type='${d.teaming}' persistent='ua-net0'/>` : ""
          }${guest()}</interface>`;
        case "network":
          return `<interface type='network'><mac address='52:54:00:6d:90:03'/><source network='${d.network}'/>${guest()}</interface>`;
        case "usb":
          return `<hostdev mode='subsystem' type='usb'><source><vendor id='0x${d.vendor}'/><product id='0x${d.product}'/></source></hostdev>`;
        case "scsi":
          return `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source></hostdev>`;
      }
      return "";
    })
    .join("\n    ");
  return `<domain type='${type}'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>1048576</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc-q35-8.2'>hvm</type></os>
  <devices>
    ${body}
  </devices>
</domain>`;
}

export function hostdevNetworkXml(name: string, addrs: string[], connections?: number): string {
  return `<network${connections ? ` connections='${connections}'` : ""}>
  <name>${name}</name>
  <forward mode='hostdev' managed='yes'>
    ${addrs.map((a) => addrEl(a).replace("<address ", "<address type='pci' ")).join("\n    ")}
  </forward>
</network>`;
}

export const NEW_QEMU: HostVersions = {
  libvirt: "10.5.0",
  hypervisorType: "QEMU",
  hypervisorVersion: "9.0.0",
  kernel: "6.8.0",
};

/** The NVIDIA vGPU manager version test hosts run unless told otherwise (compat.md §7). */
export const MANAGER_VERSION = "550.127.05";

export function rawHost(
  key: string,
  o: {
    devices: string[];
    domains?: string[];
    networks?: string[];
    versions?: HostVersions;
    /** Vendor facts; default: manager MANAGER_VERSION, no firmware; null: none read. */
    facts?: HostFacts | null;
  },
): RawHost {
  const facts = o.facts === undefined ? { nvidiaVersion: MANAGER_VERSION, firmware: [] } : o.facts;
  return {
    ...(facts ? { facts } : {}),
    key,
    target: `mem:${key}`,
    kind: "snapshot",
    versions: o.versions ?? NEW_QEMU,
    nodeDevices: o.devices.map((xml, i) => ({ xml, origin: `${key}#dev${i}` })),
    domains: (o.domains ?? []).map((xml, i) => ({
      xml,
      active: true,
      persistent: true,
      origin: `${key}#dom${i}`,
    })),
    networks: (o.networks ?? []).map((xml, i) => ({ xml, active: true, origin: `${key}#net${i}` })),
    descriptorFiles: [],
    vendorAttrs: [],
    warnings: [],
  };
}

// A standard small host: a T4 with nvidia-558/559 types, a CX6 PF with 4 VFs.
export const T4 = { vendor: "10de", product: "1eb8" };
export const CX6_PF = { vendor: "15b3", product: "101d" };
export const CX6_VF = { vendor: "15b3", product: "101e" };

export function gpu(addr: string, avail558: number, avail559 = 4, opts: Partial<PciOpts> = {}): string {
  return pciDev({
    addr,
    ...T4,
    cls: "0x030200",
    driver: "nvidia",
    mdevTypes: [
      { id: "nvidia-558", name: "GRID T4-2Q", available: avail558 },
      { id: "nvidia-559", name: "GRID T4-4Q", available: avail559 },
    ],
    ...opts,
  });
}

export function nic(pfAddr: string, vfAddrs: string[], vfDriver: string | null = "mlx5_vfio_pci"): string[] {
  return [
    pciDev({ addr: pfAddr, ...CX6_PF, driver: "mlx5_core", vfs: vfAddrs }),
    ...vfAddrs.map((a) => pciDev({ addr: a, ...CX6_VF, driver: vfDriver, pf: pfAddr })),
  ];
}
