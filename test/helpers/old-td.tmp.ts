/**
 * Host files for libvirt's built-in test driver (`test:///ABS/PATH/host.xml`).
 *
 * Format accepted by libvirt 9.0 and 11.3: a <node> root with inline <device>, <domain
 * type='test'> and <network> elements. Notes:
 * - no "computer" device may be given (the driver makes its own; a custom one
 *   fails with "no system UUID supplied");
 * - <driver> of node devices is dropped when the XML is formatted;
 * - domains start running unless <test:runstate>5</test:runstate> (shut off);
 *   <test:transient/> makes them transient (namespace
 *   http://libvirt.org/schemas/domain/test/1.0);
 * - virConnectListAllNodeDevices rejects the ACTIVE/INACTIVE flags in 9.0 and
 *   accepts them in 11.3 (hdplan lists with flags 0 on every version);
 * - virNetworkListAllPorts is unsupported (VIR_ERR_NO_SUPPORT).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TEST_NS = "http://libvirt.org/schemas/domain/test/1.0";

export function pciName(addr: string): string {
  return `pci_${addr.replace(/[:.]/g, "_")}`;
}

function parseAddr(addr: string) {
  const m = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(addr);
  if (!m) throw new Error(`bad PCI address ${addr}`);
  return { domain: m[1]!, bus: m[2]!, slot: m[3]!, fn: m[4]! };
}

function addrEl(addr: string): string {
  const a = parseAddr(addr);
  return `<address domain='0x${a.domain}' bus='0x${a.bus}' slot='0x${a.slot}' function='0x${a.fn}'/>`;
}

export interface PciSpec {
  address: string;
  vendor: string;
  product: string;
  cls?: string;
  mdevTypes?: { id: string; name?: string; available: number }[];
  virtFunctions?: string[];
  physFunction?: string;
  /** IOMMU group number; default one group per function (from the address); null: no <iommuGroup>. */
  iommuGroup?: number | null;
}

export function pciDevice(p: PciSpec): string {
  const a = parseAddr(p.address);
  const types = p.mdevTypes?.length
    ? `<capability type='mdev_types'>${p.mdevTypes
        .map(
          (t) =>
            `<type id='${t.id}'><name>${t.name ?? t.id}</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>${t.available}</availableInstances></type>`,
        )
        .join("")}</capability>`
    : "";
  const vfs = p.virtFunctions
    ? `<capability type='virt_functions' maxCount='${Math.max(8, p.virtFunctions.length)}'>${p.virtFunctions.map(addrEl).join("")}</capability>`
    : "";
  const pf = p.physFunction ? `<capability type='phys_function'>${addrEl(p.physFunction)}</capability>` : "";
  const groupNo =
    p.iommuGroup === undefined
      ? Number.parseInt(a.bus, 16) * 32 + Number.parseInt(a.slot, 16) * 8 + Number.parseInt(a.fn, 16)
      : p.iommuGroup;
  const group = groupNo === null ? "" : `<iommuGroup number='${groupNo}'>${addrEl(p.address)}</iommuGroup>`;
  return `  <device>
    <name>${pciName(p.address)}</name>
    <parent>computer</parent>
    <capability type='pci'>
      <class>${p.cls ?? "0x030200"}</class>
      <domain>${Number.parseInt(a.domain, 16)}</domain><bus>${Number.parseInt(a.bus, 16)}</bus><slot>${Number.parseInt(a.slot, 16)}</slot><function>${Number.parseInt(a.fn, 16)}</function>
      <product id='0x${p.product}'>product ${p.product}</product>
      <vendor id='0x${p.vendor}'>vendor ${p.vendor}</vendor>
      ${pf}${vfs}${types}${group}
    </capability>
  </device>
`;
}

export function mdevDevice(uuid: string, parentAddr: string, type: string): string {
  return `  <device>
    <name>mdev_${uuid.replace(/-/g, "_")}_${parentAddr.replace(/[:.]/g, "_")}</name>
    <parent>${pciName(parentAddr)}</parent>
    <capability type='mdev'>
      <type id='${type}'/>
      <uuid>${uuid}</uuid>
      <iommuGroup number='${100 + (Number.parseInt(uuid.slice(0, 2), 16) % 100)}'/>
    </capability>
  </device>
`;
}

export interface DomainSpec {
  name: string;
  uuid: string;
  state?: "running" | "shutoff";
  transient?: boolean;
  mdevs?: string[];
  pci?: string[];
  networks?: string[];
}

export function testDomain(d: DomainSpec): string {
  const hostdevs = [
    ...(d.mdevs ?? []).map(
      (u) =>
        `<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='${u}'/></source></hostdev>`,
    ),
    ...(d.pci ?? []).map(
      (a) => `<hostdev mode='subsystem' type='pci' managed='yes'><source>${addrEl(a)}</source></hostdev>`,
    ),
    ...(d.networks ?? []).map((n) => `<interface type='network'><source network='${n}'/></interface>`),
  ].join("\n      ");
  return `  <domain type='test' xmlns:test='${TEST_NS}'>
    <name>${d.name}</name>
    <uuid>${d.uuid}</uuid>
    <memory>1048576</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      ${hostdevs}
    </devices>
    ${d.state === "shutoff" ? "<test:runstate>5</test:runstate>" : ""}
    ${d.transient ? "<test:transient/>" : ""}
  </domain>
`;
}

export function hostdevNetwork(name: string, uuid: string, functions: string[]): string {
  return `  <network>
    <name>${name}</name>
    <uuid>${uuid}</uuid>
    <forward mode='hostdev' managed='yes'>
      ${functions.map((f) => addrEl(f).replace("<address ", "<address type='pci' ")).join("\n      ")}
    </forward>
  </network>
`;
}

export function nodeXml(parts: string[]): string {
  return `<?xml version="1.0"?>\n<node>\n${parts.join("")}</node>\n`;
}

/** Write `name.xml` into dir and return its test:/// URI. */
export function writeTestHost(dir: string, name: string, parts: string[]): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.xml`);
  writeFileSync(file, nodeXml(parts));
  return `test://${file}`;
}

export const GPU = "0000:3b:00.0";
export const NIC_PF = "0000:5e:00.0";
export const VFS = ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4"];
export const MDEV_UUID = "c2177883-f1bb-47f0-914d-32a22e3a8804";
export const VM_RUNNING = { name: "vm-vgpu", uuid: "a1b2c3d4-0000-4000-8000-000000000001" };
export const VM_OFF = { name: "vm-vf", uuid: "a1b2c3d4-0000-4000-8000-000000000002" };
export const VM_TRANSIENT = { name: "vm-tr", uuid: "a1b2c3d4-0000-4000-8000-000000000003" };

/** A GPU with an mdev in use, a NIC PF with 3 VFs, 3 domains and a hostdev pool. */
export function standardHost(dir: string, name = "hostA"): string {
  return writeTestHost(dir, name, [
    pciDevice({
      address: GPU,
      vendor: "10de",
      product: "20b7",
      mdevTypes: [{ id: "nvidia-558", name: "GRID A30-4C", available: 3 }],
      iommuGroup: 30,
    }),
    mdevDevice(MDEV_UUID, GPU, "nvidia-558"),
    pciDevice({ address: NIC_PF, vendor: "15b3", product: "101d", cls: "0x020000", virtFunctions: VFS }),
    ...VFS.map((a) =>
      pciDevice({ address: a, vendor: "15b3", product: "101e", cls: "0x020000", physFunction: NIC_PF }),
    ),
    testDomain({ ...VM_RUNNING, mdevs: [MDEV_UUID] }),
    testDomain({ ...VM_OFF, state: "shutoff", pci: [VFS[0]!] }),
    testDomain({ ...VM_TRANSIENT, transient: true, networks: ["pool1"] }),
    hostdevNetwork("pool1", "a1b2c3d4-0000-4000-8000-0000000000aa", VFS.slice(1)),
  ]);
}

/**
 * Whether libvirt.so.0 can be used. In CI (env CI or HDPLAN_REQUIRE_LIBVIRT)
 * the tests must run, so this returns true there and a missing library fails them.
 */
export function libvirtAvailable(): boolean {
  const required = !!(process.env.CI || process.env.HDPLAN_REQUIRE_LIBVIRT);
  if (required) return true;
  const candidates = [
    "/usr/lib/x86_64-linux-gnu/libvirt.so.0",
    "/usr/lib/aarch64-linux-gnu/libvirt.so.0",
    "/usr/lib64/libvirt.so.0",
    "/usr/lib/libvirt.so.0",
  ];
  if (candidates.some((p) => existsSync(p))) return true;
  const r = spawnSync("sh", ["-c", "ldconfig -p 2>/dev/null | grep -q 'libvirt.so.0 '"]);
  if (r.status === 0) return true;
  console.warn(
    "[hdplan tests] libvirt.so.0 not found: skipping libvirt integration tests (set CI or HDPLAN_REQUIRE_LIBVIRT to require them)",
  );
  return false;
}
