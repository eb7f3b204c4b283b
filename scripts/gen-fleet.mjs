#!/usr/bin/env node
/**
 * gen-fleet.mjs — generate a synthetic fleet of libvirt hosts for hdplan
 * benchmarks and tests. Plain Node ESM, no dependencies, deterministic: the
 * same options and seed always write byte-identical files.
 *
 * Usage:
 *   node scripts/gen-fleet.mjs --out DIR [--hosts N] [--gpus-per-host G]
 *        [--nics-per-host K] [--vfs-per-nic V] [--old-fraction F]
 *        [--domains-per-host D] [--noise N] [--seed S]
 *        [--format dump|testdriver|both] [--layout per-device|all]
 *
 *   --out DIR             output folder (created; existing files are overwritten)
 *   --hosts N             number of hosts, the source host-0001 included (default 10)
 *   --gpus-per-host G     NVIDIA T4 GPUs (10de:1eb8) per host (default 4)
 *   --nics-per-host K     Mellanox ConnectX-6 Dx PFs (15b3:101d) per host (default 2)
 *   --vfs-per-nic V       VFs (15b3:101e, mlx5_vfio_pci) per PF (default 16)
 *   --old-fraction F      fraction of target hosts with libvirt 9.0.0 / QEMU 7.2.0 (default 0.2)
 *   --domains-per-host D  guest domains per target host using some of its VFs/mdevs (default 2)
 *   --noise N             extra unrelated node devices per host (default 120): chipset
 *                         functions, root ports, NVMe/SATA disks, USB devices, scsi/storage
 *   --seed S              PRNG seed, an integer (default 1)
 *   --format F            dump (default): DIR/hosts/host-0001/{nodedev,domains,networks}/ + host.json
 *                         testdriver: DIR/testdriver/host-0001.xml, a <node> file for libvirt's
 *                         test driver (test:///ABS/PATH/host-0001.xml)
 *                         both: the two of them
 *   --layout L            nodedev/ of each dump directory: per-device (default) or all, one
 *                         nodedev/all.xml per host with every <device> document concatenated
 *                         in `virsh nodedev-list --all` order (names sorted case-insensitively,
 *                         libvirt tools/virsh-nodedev.c virshNodeDeviceSorter), as the dump
 *                         recipe of docs/targets.md writes:
 *                           for d in $(virsh nodedev-list --all); do virsh nodedev-dumpxml "$d"; done > nodedev/all.xml
 *
 * Output:
 *   DIR/hosts/host-NNNN/         dump directories (cli.md); nodedev/ has one file per
 *                                device plus, per host, one file of several concatenated
 *                                <device> documents as a `virsh nodedev-dumpxml` loop writes
 *                                (--layout all: only nodedev/all.xml)
 *   DIR/testdriver/host-NNNN.xml test-driver node files
 *   DIR/hosts.txt                the targets (every host but host-0001), absolute paths
 *                                (dump directories; test:/// URIs with --format testdriver)
 *   DIR/hosts-testdriver.txt     with --format both: the test:/// URIs of the targets
 *   DIR/vm.xml                   a running VM on host-0001 with 8 assigned devices
 *                                (4 nvidia-558 mdevs + 4 mlx5_vfio_pci VFs)
 *
 * Example (~200 node devices per host, 1,000 hosts in a few seconds):
 *   node scripts/gen-fleet.mjs --out /tmp/fleet --hosts 1000 --gpus-per-host 4 \
 *        --nics-per-host 2 --vfs-per-nic 16 --noise 120 --seed 42
 *   hdplan plan --domain /tmp/fleet/vm.xml --source /tmp/fleet/hosts/host-0001 \
 *        --hosts-file /tmp/fleet/hosts.txt
 *
 * The device XML builders are exported (and used to write xml-samples/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// ---------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast, seeded 32-bit PRNG. Returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeRng(seed) {
  const next = mulberry32(seed);
  const rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    chance: (p) => next() < p,
    hex: (n) => {
      let s = "";
      for (let i = 0; i < n; i++) s += Math.floor(next() * 16).toString(16);
      return s;
    },
    uuid: () => {
      const h = rng.hex(32).split("");
      h[12] = "4";
      h[16] = "89ab"[Math.floor(next() * 4)];
      const s = h.join("");
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
    },
    mac: (prefix) => {
      const b = [];
      for (let i = 0; i < 3; i++) b.push(rng.hex(2));
      return `${prefix}:${b.join(":")}`;
    },
  };
  return rng;
}

// ---------------------------------------------------------------------------
// PCI addresses

const h2 = (n) => n.toString(16).padStart(2, "0");
const h4 = (n) => n.toString(16).padStart(4, "0");

/** {domain, bus, slot, fn} -> pci_0000_17_00_2 */
export const pciName = (a) => `pci_${h4(a.domain ?? 0)}_${h2(a.bus)}_${h2(a.slot)}_${a.fn}`;
/** -> 0000:17:00.2 */
export const pciStr = (a) => `${h4(a.domain ?? 0)}:${h2(a.bus)}:${h2(a.slot)}.${a.fn}`;
/** -> <address domain='0x0000' bus='0x17' slot='0x00' function='0x2'/> */
export const pciAddrXml = (a, extra = "") =>
  `<address${extra} domain='0x${h4(a.domain ?? 0)}' bus='0x${h2(a.bus)}' slot='0x${h2(a.slot)}' function='0x${a.fn}'/>`;

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const ind = (text, n) =>
  text
    .split("\n")
    .map((l) => (l ? " ".repeat(n) + l : l))
    .join("\n");

// ---------------------------------------------------------------------------
// Node device XML builders (udev style, as `virsh nodedev-dumpxml` prints them)

export function systemDevice({
  vendor = "Dell Inc.",
  product = "PowerEdge R750",
  serial,
  uuid,
  bios = "1.13.2",
}) {
  return `<device>
  <name>computer</name>
  <capability type='system'>
    <product>${esc(product)}</product>
    <hardware>
      <vendor>${esc(vendor)}</vendor>
      <version>Not Specified</version>
      <serial>${esc(serial)}</serial>
      <uuid>${uuid}</uuid>
    </hardware>
    <firmware>
      <vendor>${esc(vendor)}</vendor>
      <version>${bios}</version>
      <release_date>03/12/2024</release_date>
    </firmware>
  </capability>
</device>
`;
}

/**
 * One PCI function. `caps` is extra inner XML of the pci capability (mdev_types,
 * virt_functions, phys_function, pci-bridge...). `iommu` = {number, members:[addr]}.
 */
export function pciDevice({
  addr,
  parent = "computer",
  path,
  driver,
  cls,
  vendor,
  product,
  caps = "",
  iommu,
  numa,
  pcie,
}) {
  const lines = ["<device>", `  <name>${pciName(addr)}</name>`];
  if (path) lines.push(`  <path>${path}</path>`);
  lines.push(`  <parent>${parent}</parent>`);
  if (driver) lines.push("  <driver>", `    <name>${driver}</name>`, "  </driver>");
  lines.push("  <capability type='pci'>");
  if (cls) lines.push(`    <class>${cls}</class>`);
  lines.push(
    `    <domain>${addr.domain ?? 0}</domain>`,
    `    <bus>${addr.bus}</bus>`,
    `    <slot>${addr.slot}</slot>`,
    `    <function>${addr.fn}</function>`,
    `    <product id='0x${product[0]}'>${esc(product[1])}</product>`,
    `    <vendor id='0x${vendor[0]}'>${esc(vendor[1])}</vendor>`,
  );
  if (caps) lines.push(ind(caps.trimEnd(), 4));
  if (iommu) {
    lines.push(`    <iommuGroup number='${iommu.number}'>`);
    for (const m of iommu.members ?? [addr]) lines.push(`      ${pciAddrXml(m)}`);
    lines.push("    </iommuGroup>");
  }
  if (numa !== undefined) lines.push(`    <numa node='${numa}'/>`);
  if (pcie) {
    lines.push(
      "    <pci-express>",
      `      <link validity='cap' port='${pcie.port ?? 0}' speed='${pcie.speed}' width='${pcie.width}'/>`,
      `      <link validity='sta' speed='${pcie.staSpeed ?? pcie.speed}' width='${pcie.staWidth ?? pcie.width}'/>`,
      "    </pci-express>",
    );
  }
  lines.push("  </capability>", "</device>", "");
  return lines.join("\n");
}

/** <capability type='mdev_types'> for a parent; types = [{id, name, api, avail}] */
export function mdevTypesCap(types) {
  const out = ["<capability type='mdev_types'>"];
  for (const t of types) {
    out.push(
      `  <type id='${t.id}'>`,
      `    <name>${esc(t.name)}</name>`,
      `    <deviceAPI>${t.api ?? "vfio-pci"}</deviceAPI>`,
      `    <availableInstances>${t.avail}</availableInstances>`,
      "  </type>",
    );
  }
  out.push("</capability>");
  return out.join("\n");
}

export function vfsCap(vfs, maxCount) {
  if (!vfs.length) return `<capability type='virt_functions' maxCount='${maxCount}'/>`;
  return [
    `<capability type='virt_functions' maxCount='${maxCount}'>`,
    ...vfs.map((a) => `  ${pciAddrXml(a)}`),
    "</capability>",
  ].join("\n");
}

export const pfCap = (pf) => `<capability type='phys_function'>\n  ${pciAddrXml(pf)}\n</capability>`;

/** An mdev instance. `iommuGroup` set = active; omitted = defined but not started. */
export function mdevDevice({ uuid, parent, parentPath, type, iommuGroup, driver = "nvidia-vgpu-vfio" }) {
  const lines = ["<device>", `  <name>mdev_${uuid.replace(/-/g, "_")}</name>`];
  if (parentPath && iommuGroup !== undefined) lines.push(`  <path>${parentPath}/${uuid}</path>`);
  lines.push(`  <parent>${parent}</parent>`);
  if (iommuGroup !== undefined && driver)
    lines.push("  <driver>", `    <name>${driver}</name>`, "  </driver>");
  lines.push("  <capability type='mdev'>", `    <type id='${type}'/>`, `    <uuid>${uuid}</uuid>`);
  if (iommuGroup !== undefined) lines.push(`    <iommuGroup number='${iommuGroup}'/>`);
  lines.push("  </capability>", "</device>", "");
  return lines.join("\n");
}

const NET_FEATURES = [
  "rx",
  "tx",
  "sg",
  "tso",
  "gso",
  "gro",
  "rxvlan",
  "txvlan",
  "rxhash",
  "rdma",
  "txudptnl",
];

export function netDevice({
  ifname,
  mac,
  parent,
  parentPath,
  up = true,
  speed = 100000,
  features = NET_FEATURES,
}) {
  const lines = ["<device>", `  <name>net_${ifname}_${mac.replace(/:/g, "_")}</name>`];
  if (parentPath) lines.push(`  <path>${parentPath}/net/${ifname}</path>`);
  lines.push(
    `  <parent>${parent}</parent>`,
    "  <capability type='net'>",
    `    <interface>${ifname}</interface>`,
    `    <address>${mac}</address>`,
    up ? `    <link speed='${speed}' state='up'/>` : "    <link state='down'/>",
  );
  for (const f of features) lines.push(`    <feature name='${f}'/>`);
  lines.push("    <capability type='80203'/>", "  </capability>", "</device>", "");
  return lines.join("\n");
}

export function usbDevice({ name, parent, path, bus, device, vendor, product, driver = "usb" }) {
  return `<device>
  <name>${name}</name>
  <path>${path}</path>
  <devnode type='dev'>/dev/bus/usb/${String(bus).padStart(3, "0")}/${String(device).padStart(3, "0")}</devnode>
  <parent>${parent}</parent>
  <driver>
    <name>${driver}</name>
  </driver>
  <capability type='usb_device'>
    <bus>${bus}</bus>
    <device>${device}</device>
    <product id='0x${product[0]}'>${esc(product[1])}</product>
    <vendor id='0x${vendor[0]}'>${esc(vendor[1])}</vendor>
  </capability>
</device>
`;
}

export function usbInterface({
  name,
  parent,
  path,
  number = 0,
  cls,
  subclass,
  protocol,
  driver,
  description,
}) {
  return `<device>
  <name>${name}</name>
  <path>${path}</path>
  <parent>${parent}</parent>
${driver ? `  <driver>\n    <name>${driver}</name>\n  </driver>\n` : ""}  <capability type='usb'>
    <number>${number}</number>
    <class>${cls}</class>
    <subclass>${subclass}</subclass>
    <protocol>${protocol}</protocol>
${description ? `    <description>${esc(description)}</description>\n` : ""}  </capability>
</device>
`;
}

export function scsiHostDevice({ host, parent, path }) {
  return `<device>
  <name>scsi_host${host}</name>
  <path>${path}/host${host}/scsi_host/host${host}</path>
  <parent>${parent}</parent>
  <capability type='scsi_host'>
    <host>${host}</host>
    <unique_id>${host + 1}</unique_id>
  </capability>
</device>
`;
}

/** scsi_target + scsi (lun 0) + storage for one SATA disk behind scsi_host<host>. */
export function sataDisk({ host, path, letter, model, serial, sizeBytes }) {
  const t = `${host}_0_0`;
  const tpath = `${path}/host${host}/target${host}:0:0`;
  const dpath = `${tpath}/${host}:0:0:0`;
  const blocks = Math.floor(sizeBytes / 512);
  return [
    `<device>
  <name>scsi_target${t}</name>
  <path>${tpath}</path>
  <parent>scsi_host${host}</parent>
  <capability type='scsi_target'>
    <target>target${host}:0:0</target>
  </capability>
</device>
`,
    `<device>
  <name>scsi_${t}_0</name>
  <path>${dpath}</path>
  <parent>scsi_target${t}</parent>
  <driver>
    <name>sd</name>
  </driver>
  <capability type='scsi'>
    <host>${host}</host>
    <bus>0</bus>
    <target>0</target>
    <lun>0</lun>
    <type>disk</type>
  </capability>
</device>
`,
    `<device>
  <name>block_sd${letter}_${model.replace(/[^A-Za-z0-9]+/g, "_")}_${serial}</name>
  <path>${dpath}/block/sd${letter}</path>
  <devnode type='dev'>/dev/sd${letter}</devnode>
  <parent>scsi_${t}_0</parent>
  <capability type='storage'>
    <block>/dev/sd${letter}</block>
    <bus>ata</bus>
    <drive_type>disk</drive_type>
    <model>${esc(model)}</model>
    <vendor>ATA</vendor>
    <serial>${serial}</serial>
    <size>${sizeBytes}</size>
    <logical_block_size>512</logical_block_size>
    <num_blocks>${blocks}</num_blocks>
  </capability>
</device>
`,
  ];
}

export function nvmeStorage({ index, parent, path, model, serial, sizeBytes }) {
  return `<device>
  <name>block_nvme${index}n1_${model.replace(/[^A-Za-z0-9]+/g, "_")}_${serial}</name>
  <path>${path}/nvme/nvme${index}/nvme${index}n1</path>
  <devnode type='dev'>/dev/nvme${index}n1</devnode>
  <parent>${parent}</parent>
  <capability type='storage'>
    <block>/dev/nvme${index}n1</block>
    <drive_type>disk</drive_type>
    <model>${esc(model)}</model>
    <serial>${serial}</serial>
    <size>${sizeBytes}</size>
    <logical_block_size>512</logical_block_size>
    <num_blocks>${Math.floor(sizeBytes / 512)}</num_blocks>
  </capability>
</device>
`;
}

export function drmDevice({ name, parent, path, type = "primary" }) {
  return `<device>
  <name>${name}</name>
  <path>${path}</path>
  <devnode type='dev'>/dev/dri/${name.replace(/^drm_/, "")}</devnode>
  <parent>${parent}</parent>
  <capability type='drm'>
    <type>${type}</type>
  </capability>
</device>
`;
}

// ---------------------------------------------------------------------------
// Hardware catalogue

export const HW = {
  intel: ["8086", "Intel Corporation"],
  nvidia: ["10de", "NVIDIA Corporation"],
  mellanox: ["15b3", "Mellanox Technologies"],
  aspeed: ["1a03", "ASPEED Technology, Inc."],
  broadcom: ["14e4", "Broadcom Inc. and subsidiaries"],
  samsung: ["144d", "Samsung Electronics Co Ltd"],
  linux: ["1d6b", "Linux Foundation"],
  dell: ["413c", "Dell Computer Corp."],
  t4: ["1eb8", "TU104GL [Tesla T4]"],
  tu104v: ["1eb9", "TU104GL"],
  cx6dx: ["101d", "MT2892 Family [ConnectX-6 Dx]"],
  cx6vf: ["101e", "ConnectX Family mlx5Gen Virtual Function"],
  rootPorts: [
    ["347a", "Ice Lake-SP PCI Express Root Port A"],
    ["347b", "Ice Lake-SP PCI Express Root Port B"],
    ["347c", "Ice Lake-SP PCI Express Root Port C"],
    ["347d", "Ice Lake-SP PCI Express Root Port D"],
  ],
  uncore: [
    ["09a2", "Ice Lake Memory Map/VT-d", "0x088000"],
    ["09a4", "Ice Lake Mesh 2 PCIe", "0x088000"],
    ["09a3", "Ice Lake RAS", "0x088000"],
    ["0998", "Ice Lake IEH", "0x088000"],
  ],
};

/** NVIDIA vGPU profiles of a 16 GB T4 (Q series), with their maximum instances. */
export const T4_TYPES = {
  "nvidia-557": { name: "GRID T4-1Q", max: 16 },
  "nvidia-558": { name: "GRID T4-2Q", max: 8 },
  "nvidia-559": { name: "GRID T4-4Q", max: 4 },
  "nvidia-560": { name: "GRID T4-8Q", max: 2 },
  "nvidia-561": { name: "GRID T4-16Q", max: 1 },
};

// ---------------------------------------------------------------------------
// Host builder

/**
 * Builds one host's node devices. A Host object accumulates devices; helpers
 * add whole subsystems and return what callers need (addresses, names).
 */
export class HostBuilder {
  constructor(rng, { vendorSerial, noiseSeedName = "host" } = {}) {
    this.rng = rng;
    this.devices = []; // [{name, xml}]
    this.iommu = 0;
    this.endpoints = 0; // endpoint slots used behind root ports
    this.usbDev = 2;
    this.scsiHosts = 0;
    this.nvmeCount = 0;
    this.uncore = 0;
    this.serial = vendorSerial ?? rng.hex(7).toUpperCase();
    this.noiseSeedName = noiseSeedName;
  }

  add(name, xml) {
    this.devices.push({ name, xml });
  }

  group(members) {
    const g = { number: this.iommu++, members };
    return g;
  }

  pci(opts) {
    const addr = opts.addr;
    const iommu = opts.iommu ?? this.group([addr]);
    this.add(pciName(addr), pciDevice({ ...opts, iommu }));
    return { addr, name: pciName(addr), path: opts.path, iommu };
  }

  /** The chassis: system, chipset, BMC VGA, LOM NIC, xHCI with hub + KVM, SATA with disks. */
  base({ product = "PowerEdge R750", hostUuid }) {
    const rng = this.rng;
    this.add("computer", systemDevice({ product, serial: this.serial, uuid: hostUuid ?? rng.uuid() }));
    const root = (slot, fn) => ({ bus: 0, slot, fn });
    const p0 = (a) => `/sys/devices/pci0000:00/${pciStr(a)}`;
    this.pci({
      addr: root(0, 0),
      path: p0(root(0, 0)),
      cls: "0x060000",
      vendor: HW.intel,
      product: ["09a2", "Ice Lake Memory Map/VT-d"],
      numa: 0,
    });
    // xHCI + root hub + iDRAC virtual keyboard/mouse
    const xhci = this.pci({
      addr: root(0x14, 0),
      path: p0(root(0x14, 0)),
      driver: "xhci_hcd",
      cls: "0x0c0330",
      vendor: HW.intel,
      product: ["a1af", "C620 Series Chipset Family USB 3.0 xHCI Controller"],
      numa: 0,
    });
    this.usbRootHubs(xhci);
    this.addUsbDevice(["a102", "iDRAC Virtual Keyboard and Mouse"], HW.dell, 3, 1, 1, "usbhid");
    // SATA AHCI + one boot disk
    const sata = this.pci({
      addr: root(0x17, 0),
      path: p0(root(0x17, 0)),
      driver: "ahci",
      cls: "0x010601",
      vendor: HW.intel,
      product: ["a182", "C620 Series Chipset Family SATA Controller [AHCI mode]"],
      numa: 0,
    });
    this.sata = sata;
    this.addSataDisk();
    // LPC + SMBus
    const lpc = root(0x1f, 0);
    const smb = root(0x1f, 4);
    const lpcGroup = this.group([lpc, smb]);
    this.pci({
      addr: lpc,
      path: p0(lpc),
      cls: "0x060100",
      vendor: HW.intel,
      product: ["a1cb", "C621 Series Chipset LPC/eSPI Controller"],
      iommu: lpcGroup,
      numa: 0,
    });
    this.pci({
      addr: smb,
      path: p0(smb),
      driver: "i801_smbus",
      cls: "0x0c0500",
      vendor: HW.intel,
      product: ["a1a3", "C620 Series Chipset Family SMBus"],
      iommu: lpcGroup,
      numa: 0,
    });
    // BMC: root port -> AST1150 bridge -> AST2500 VGA, one IOMMU group (no ACS below the bridge)
    const rp1 = root(0x1c, 0);
    this.pci({
      addr: rp1,
      path: p0(rp1),
      driver: "pcieport",
      cls: "0x060400",
      vendor: HW.intel,
      product: ["a190", "C620 Series Chipset Family PCI Express Root Port #1"],
      caps: "<capability type='pci-bridge'/>",
      numa: 0,
      pcie: { port: 1, speed: 8, width: 1, staSpeed: 5 },
    });
    const br = { bus: 2, slot: 0, fn: 0 };
    const vga = { bus: 3, slot: 0, fn: 0 };
    const bmcGroup = this.group([br, vga]);
    const brPath = `${p0(rp1)}/${pciStr(br)}`;
    this.pci({
      addr: br,
      parent: pciName(rp1),
      path: brPath,
      cls: "0x060400",
      vendor: HW.aspeed,
      product: ["1150", "AST1150 PCI-to-PCI Bridge"],
      caps: "<capability type='pci-bridge'/>",
      iommu: bmcGroup,
      numa: 0,
      pcie: { speed: 5, width: 1 },
    });
    const vgaPath = `${brPath}/${pciStr(vga)}`;
    this.pci({
      addr: vga,
      parent: pciName(br),
      path: vgaPath,
      driver: "ast",
      cls: "0x030000",
      vendor: HW.aspeed,
      product: ["2000", "ASPEED Graphics Family"],
      iommu: bmcGroup,
      numa: 0,
    });
    this.add(
      "drm_card0",
      drmDevice({ name: "drm_card0", parent: pciName(vga), path: `${vgaPath}/drm/card0` }),
    );
    // LOM: BCM5720 dual port, eno1 up (management), eno2 down
    const rp5 = root(0x1c, 5);
    this.pci({
      addr: rp5,
      path: p0(rp5),
      driver: "pcieport",
      cls: "0x060400",
      vendor: HW.intel,
      product: ["a195", "C620 Series Chipset Family PCI Express Root Port #6"],
      caps: "<capability type='pci-bridge'/>",
      numa: 0,
      pcie: { port: 6, speed: 8, width: 1, staSpeed: 5 },
    });
    const macBase = rng.mac("d0:8e:79");
    for (const fn of [0, 1]) {
      const a = { bus: 4, slot: 0, fn };
      const path = `${p0(rp5)}/${pciStr(a)}`;
      this.pci({
        addr: a,
        parent: pciName(rp5),
        path,
        driver: "tg3",
        cls: "0x020000",
        vendor: HW.broadcom,
        product: ["165f", "NetXtreme BCM5720 Gigabit Ethernet PCIe"],
        numa: 0,
        pcie: { speed: 5, width: 1 },
      });
      const mac = macBase.slice(0, -1) + String(fn * 2);
      this.add(
        `net_eno${fn + 1}`,
        netDevice({
          ifname: `eno${fn + 1}`,
          mac,
          parent: pciName(a),
          parentPath: path,
          up: fn === 0,
          speed: 1000,
          features: ["rx", "tx", "sg", "tso", "gso", "gro", "rxvlan", "txvlan"],
        }),
      );
    }
  }

  usbRootHubs(xhci) {
    for (const [bus, prod] of [
      [1, ["0002", "2.0 root hub"]],
      [2, ["0003", "3.0 root hub"]],
    ]) {
      const path = `${xhci.path}/usb${bus}`;
      this.add(
        `usb_usb${bus}`,
        usbDevice({
          name: `usb_usb${bus}`,
          parent: xhci.name,
          path,
          bus,
          device: 1,
          vendor: HW.linux,
          product: prod,
        }),
      );
      this.add(
        `usb_${bus}_0_1_0`,
        usbInterface({
          name: `usb_${bus}_0_1_0`,
          parent: `usb_usb${bus}`,
          path: `${path}/${bus}-0:1.0`,
          cls: 9,
          subclass: 0,
          protocol: bus === 1 ? 0 : 3,
          driver: "hub",
        }),
      );
    }
  }

  addUsbDevice(product, vendor, cls, subclass, protocol, driver) {
    const dev = this.usbDev++;
    const port = dev - 1;
    const name = `usb_1_${port}`;
    const path = `/sys/devices/pci0000:00/0000:00:14.0/usb1/1-${port}`;
    this.add(name, usbDevice({ name, parent: "usb_usb1", path, bus: 1, device: dev, vendor, product }));
    this.add(
      `${name}_1_0`,
      usbInterface({
        name: `${name}_1_0`,
        parent: name,
        path: `${path}/1-${port}:1.0`,
        cls,
        subclass,
        protocol,
        driver,
      }),
    );
  }

  addSataDisk() {
    const rng = this.rng;
    const host = this.scsiHosts++;
    const path = `/sys/devices/pci0000:00/0000:00:17.0/ata${host + 1}`;
    this.add(`scsi_host${host}`, scsiHostDevice({ host, parent: this.sata.name, path }));
    const model = rng.pick(["SSDSC2KB480G8R", "MZ7L3480HCHQ-00A07", "MTFDDAK480TDS"]);
    for (const xml of sataDisk({
      host,
      path,
      letter: String.fromCharCode(97 + host),
      model,
      serial: rng.hex(12).toUpperCase(),
      sizeBytes: 480103981056,
    })) {
      this.add(`sata${host}`, xml);
    }
  }

  /**
   * Allocates a root port (Ice Lake-SP style: PCIe stacks on their own root
   * buses) and returns the endpoint address and sysfs path behind it.
   */
  rootPort({ numa = 0, speed = 16, width = 16 } = {}) {
    const stacks = [0x16, 0x30, 0x4a, 0x64, 0x80, 0x97, 0xb0, 0xc9, 0xe2];
    const i = this.endpoints++;
    const stack = stacks[Math.floor(i / 4) % stacks.length];
    const port = i % 4;
    if (port === 0) this.addStackUncore(stack, numa);
    const rp = { bus: stack, slot: 2 + port, fn: 0 };
    const rpPath = `/sys/devices/pci0000:${h2(stack)}/${pciStr(rp)}`;
    this.pci({
      addr: rp,
      path: rpPath,
      driver: "pcieport",
      cls: "0x060400",
      vendor: HW.intel,
      product: HW.rootPorts[port],
      caps: "<capability type='pci-bridge'/>",
      numa,
      pcie: { port: port + 1, speed, width },
    });
    const ep = { bus: stack + 1 + port, slot: 0, fn: 0 };
    return { parent: pciName(rp), ep, base: rpPath, numa };
  }

  addStackUncore(stack, numa) {
    for (const [fn, [id, name, cls]] of [0, 1, 2, 4].map((f, k) => [f, HW.uncore[k]])) {
      const a = { bus: stack, slot: 0, fn };
      this.pci({
        addr: a,
        path: `/sys/devices/pci0000:${h2(stack)}/${pciStr(a)}`,
        cls,
        vendor: HW.intel,
        product: [id, name],
        numa,
      });
    }
  }

  /** One noise PCI function on the uncore buses 0xfe/0xff (CHA, M2M, UPI...), no driver. */
  addUncoreFunction() {
    const k = this.uncore++;
    const bus = k < 256 ? 0xfe : 0xff;
    const slot = Math.floor((k % 256) / 8);
    const fn = k % 8;
    const a = { bus, slot, fn };
    const ids = [
      ["344c", "Ice Lake CHA Registers"],
      ["344f", "Ice Lake CHA Registers"],
      ["3450", "Ice Lake Ubox Registers"],
      ["3451", "Ice Lake Ubox Registers"],
      ["3452", "Ice Lake Ubox Registers"],
      ["3455", "Ice Lake PCU Registers"],
      ["3456", "Ice Lake PCU Registers"],
      ["3457", "Ice Lake PCU Registers"],
    ];
    this.pci({
      addr: a,
      path: `/sys/devices/pci0000:${h2(bus)}/${pciStr(a)}`,
      cls: "0x088000",
      vendor: HW.intel,
      product: ids[fn],
      numa: bus === 0xfe ? 0 : 1,
    });
  }

  addNvme() {
    const rng = this.rng;
    const { parent, ep, base, numa } = this.rootPort({ speed: 16, width: 4 });
    const path = `${base}/${pciStr(ep)}`;
    const n = this.pci({
      addr: ep,
      parent,
      path,
      driver: "nvme",
      cls: "0x010802",
      vendor: HW.samsung,
      product: ["a80a", "NVMe SSD Controller PM9A1/PM9A3/980PRO"],
      numa,
      pcie: { speed: 16, width: 4 },
    });
    const index = this.nvmeCount++;
    this.add(
      `nvme${index}`,
      nvmeStorage({
        index,
        parent: n.name,
        path,
        model: "SAMSUNG MZQL23T8HCLS-00A07",
        serial: `S64HNE0R${rng.hex(6).toUpperCase()}`,
        sizeBytes: 3840755982336,
      }),
    );
  }

  /**
   * An NVIDIA GPU with the vGPU manager loaded. types: {id: avail}; mdevs:
   * [{uuid, type, active}] existing mdev instances on it. Returns {name, addr}.
   */
  addGpu({ product = HW.t4, driver = "nvidia", types, mdevs = [] }) {
    const { parent, ep, base, numa } = this.rootPort({ numa: this.endpoints % 2, speed: 8, width: 16 });
    const path = `${base}/${pciStr(ep)}`;
    const caps = types
      ? mdevTypesCap(
          Object.entries(types).map(([id, avail]) => ({
            id,
            name: T4_TYPES[id]?.name ?? id,
            avail,
          })),
        )
      : "";
    const g = this.pci({
      addr: ep,
      parent,
      path,
      driver,
      cls: "0x030200",
      vendor: HW.nvidia,
      product,
      caps,
      numa,
      pcie: { speed: 8, width: 16 },
    });
    for (const m of mdevs) {
      this.add(
        `mdev_${m.uuid.replace(/-/g, "_")}`,
        mdevDevice({
          uuid: m.uuid,
          parent: g.name,
          parentPath: path,
          type: m.type,
          iommuGroup: m.active === false ? undefined : this.iommu++,
        }),
      );
    }
    return g;
  }

  /**
   * A ConnectX-6 Dx PF (mlx5_core, with its uplink netdev) and its VFs.
   * Returns {pf, vfs: [{addr, name}]}.
   */
  addNic({ vfCount, vfDriver = "mlx5_vfio_pci", linkUp = true, maxVfs = 16, secondPort = true }) {
    const rng = this.rng;
    const { parent, ep, base, numa } = this.rootPort({ numa: this.endpoints % 2, speed: 16, width: 16 });
    const nicIndex = ep.bus;
    const vfAddrs = [];
    for (let i = 0; i < vfCount; i++) {
      const f = 2 + i; // ARI: VFs follow the two PFs
      vfAddrs.push({ bus: ep.bus, slot: Math.floor(f / 8), fn: f % 8 });
    }
    const pfPath = `${base}/${pciStr(ep)}`;
    const pf = this.pci({
      addr: ep,
      parent,
      path: pfPath,
      driver: "mlx5_core",
      cls: "0x020000",
      vendor: HW.mellanox,
      product: HW.cx6dx,
      caps: vfsCap(vfAddrs, maxVfs),
      numa,
      pcie: { speed: 16, width: 16 },
    });
    const mac = rng.mac("b8:3f:d2");
    const ifBase = `ens${nicIndex}f`;
    this.add(
      `net_${ifBase}0np0`,
      netDevice({ ifname: `${ifBase}0np0`, mac, parent: pf.name, parentPath: pfPath, up: linkUp }),
    );
    if (secondPort) {
      const p1 = { bus: ep.bus, slot: 0, fn: 1 };
      const p1Path = `${base}/${pciStr(p1)}`;
      const pf1 = this.pci({
        addr: p1,
        parent,
        path: p1Path,
        driver: "mlx5_core",
        cls: "0x020000",
        vendor: HW.mellanox,
        product: HW.cx6dx,
        caps: vfsCap([], maxVfs),
        numa,
        pcie: { speed: 16, width: 16 },
      });
      this.add(
        `net_${ifBase}1np1`,
        netDevice({
          ifname: `${ifBase}1np1`,
          mac: mac.slice(0, -2) + h2((Number.parseInt(mac.slice(-2), 16) + 1) % 256),
          parent: pf1.name,
          parentPath: p1Path,
          up: linkUp,
        }),
      );
    }
    const vfs = vfAddrs.map((addr) =>
      this.pci({
        addr,
        parent,
        path: `${base}/${pciStr(addr)}`,
        driver: vfDriver,
        cls: "0x020000",
        vendor: HW.mellanox,
        product: HW.cx6vf,
        caps: pfCap(ep),
        numa,
        pcie: { speed: 16, width: 16 },
      }),
    );
    return { pf, vfs };
  }

  /** Adds noise devices until `count` extra devices were added. */
  addNoise(count) {
    const start = this.devices.length;
    const rng = this.rng;
    while (this.devices.length - start < count) {
      const left = count - (this.devices.length - start);
      const r = rng.next();
      if (left >= 3 && r < 0.08 && this.scsiHosts < 6) this.addSataDisk();
      else if (left >= 3 && r < 0.14 && this.endpoints < 30) this.addNvme();
      else if (left >= 2 && r < 0.2 && this.usbDev < 12) {
        const [prod, ven, cls, sub, proto, drv] = rng.pick([
          [["0248", "Virtual Hub"], ["0624", "Avocent Corp."], 9, 0, 0, "hub"],
          [["5591", "Ultra Line Series"], ["0781", "SanDisk Corp."], 8, 6, 80, "usb-storage"],
          [
            ["2303", "PL2303 Serial Port / Mobile Action MA-8910P"],
            ["067b", "Prolific Technology, Inc."],
            255,
            0,
            0,
            "pl2303",
          ],
          [["c31c", "Keyboard K120"], ["046d", "Logitech, Inc."], 3, 1, 1, "usbhid"],
        ]);
        this.addUsbDevice(prod, ven, cls, sub, proto, drv);
      } else if (this.uncore < 512) this.addUncoreFunction();
      else break;
    }
  }

  /** Serialises devices: most one per file, `concat` of them into one dumpxml-loop file. */
  files(concat = 8) {
    const out = [];
    const seen = new Map();
    const fileName = (name) => {
      const n = seen.get(name) ?? 0;
      seen.set(name, n + 1);
      return n ? `${name}.${n}.xml` : `${name}.xml`;
    };
    // The scsi/storage chain of each disk goes into one concatenated file, and
    // so do the last `concat` devices (as a `for d in $(virsh nodedev-list)` loop writes).
    const tail = this.devices.slice(-concat);
    const head = this.devices.slice(0, -concat);
    const grouped = new Map();
    for (const d of head) {
      if (d.name.startsWith("sata")) {
        grouped.set(d.name, (grouped.get(d.name) ?? "") + d.xml);
        continue;
      }
      out.push({ file: fileName(d.name), xml: d.xml });
    }
    for (const [name, xml] of grouped) out.push({ file: fileName(`${name}-chain`), xml });
    if (tail.length) out.push({ file: "dumpxml-loop.xml", xml: tail.map((d) => d.xml).join("") });
    return out;
  }
}

// ---------------------------------------------------------------------------
// Domain and network XML

function domainHead({ name, uuid, id, memGiB = 16, vcpus = 8, machine = "pc-q35-9.0", type = "kvm" }) {
  const kib = memGiB * 1024 * 1024;
  return `<domain type='${type}'${id !== undefined ? ` id='${id}'` : ""}>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='KiB'>${kib}</memory>
  <currentMemory unit='KiB'>${kib}</currentMemory>
  <vcpu placement='static'>${vcpus}</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='${machine}'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <ioapic driver='kvm'/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
`;
}

/**
 * A running guest's live XML. devices: [{kind:'mdev', uuid} | {kind:'pci', addr}
 * | {kind:'interface', addr, mac} ]. `type` is 'kvm' (dump) or 'test' (test driver).
 */
export function domainXml({ name, uuid, id = 1, devices, memGiB, vcpus, type = "kvm", live = true }) {
  const lines = [domainHead({ name, uuid, id: live ? id : undefined, memGiB, vcpus, type }).trimEnd()];
  lines.push("  <devices>");
  if (type === "kvm") lines.push("    <emulator>/usr/bin/qemu-system-x86_64</emulator>");
  lines.push(
    "    <disk type='file' device='disk'>",
    "      <driver name='qemu' type='qcow2' cache='none' io='native'/>",
    `      <source file='/var/lib/libvirt/images/${name}.qcow2'/>`,
    "      <target dev='vda' bus='virtio'/>",
  );
  if (live) lines.push("      <alias name='virtio-disk0'/>");
  lines.push(
    "      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>",
    "    </disk>",
  );
  let slotBus = 0x07;
  let hd = 0;
  for (const d of devices) {
    const guestAddr = pciAddrXml({ bus: slotBus++, slot: 0, fn: 0 }, " type='pci'");
    const alias = live ? [`      <alias name='hostdev${hd}'/>`] : [];
    hd++;
    if (d.kind === "mdev") {
      lines.push(
        `    <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='off'>`,
        "      <source>",
        `        <address uuid='${d.uuid}'/>`,
        "      </source>",
        ...alias,
        `      ${guestAddr}`,
        "    </hostdev>",
      );
    } else if (d.kind === "pci") {
      lines.push(
        "    <hostdev mode='subsystem' type='pci' managed='yes'>",
        "      <driver name='vfio'/>",
        "      <source>",
        `        ${pciAddrXml(d.addr)}`,
        "      </source>",
        ...alias,
        `      ${guestAddr}`,
        "    </hostdev>",
      );
    } else if (d.kind === "interface") {
      lines.push(
        "    <interface type='hostdev' managed='yes'>",
        `      <mac address='${d.mac}'/>`,
        "      <driver name='vfio'/>",
        "      <source>",
        `        ${pciAddrXml(d.addr, " type='pci'")}`,
        "      </source>",
        ...alias,
        `      ${guestAddr}`,
        "    </interface>",
      );
    }
  }
  lines.push(
    "    <console type='pty'>",
    "      <target type='serial' port='0'/>",
    "    </console>",
    "    <memballoon model='virtio'>",
    `      ${pciAddrXml({ bus: 0x05, slot: 0, fn: 0 }, " type='pci'")}`,
    "    </memballoon>",
    "  </devices>",
    "</domain>",
    "",
  );
  return lines.join("\n");
}

export function hostdevNetworkXml({ name, uuid, vfs }) {
  return [
    "<network>",
    `  <name>${name}</name>`,
    `  <uuid>${uuid}</uuid>`,
    "  <forward mode='hostdev' managed='yes'>",
    "    <driver name='vfio'/>",
    ...vfs.map((a) => `    ${pciAddrXml(a, " type='pci'")}`),
    "  </forward>",
    "</network>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// Fleet

const NEW_VERSIONS = [
  { libvirt: "10.5.0", qemu: "9.0.0", kernel: "6.8.0-45-generic" },
  { libvirt: "10.10.0", qemu: "9.2.0", kernel: "6.12.9" },
  { libvirt: "11.0.0", qemu: "9.2.2", kernel: "6.12.12" },
];
const OLD_VERSIONS = { libvirt: "9.0.0", qemu: "7.2.0", kernel: "6.1.0-21-amd64" };

export function parseArgs(argv) {
  const o = {
    out: null,
    hosts: 10,
    gpusPerHost: 4,
    nicsPerHost: 2,
    vfsPerNic: 16,
    oldFraction: 0.2,
    domainsPerHost: 2,
    noise: 120,
    seed: 1,
    format: "dump",
    layout: "per-device",
  };
  const num = {
    "--hosts": "hosts",
    "--gpus-per-host": "gpusPerHost",
    "--nics-per-host": "nicsPerHost",
    "--vfs-per-nic": "vfsPerNic",
    "--old-fraction": "oldFraction",
    "--domains-per-host": "domainsPerHost",
    "--noise": "noise",
    "--seed": "seed",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, null];
    const val = () => {
      if (inline !== null) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      o.help = true;
    } else if (flag === "--out") o.out = val();
    else if (flag === "--format") {
      o.format = val();
      if (!["dump", "testdriver", "both"].includes(o.format))
        throw new Error("--format must be dump, testdriver or both");
    } else if (flag === "--layout") {
      o.layout = val();
      if (!["per-device", "all"].includes(o.layout)) throw new Error("--layout must be per-device or all");
    } else if (num[flag]) {
      const v = Number(val());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      o[num[flag]] = v;
    } else throw new Error(`unknown option ${a}`);
  }
  if (!o.help && !o.out) throw new Error("--out DIR is required");
  if (o.hosts < 1) throw new Error("--hosts must be at least 1");
  if (o.oldFraction > 1) throw new Error("--old-fraction must be between 0 and 1");
  o.hosts = Math.floor(o.hosts);
  o.gpusPerHost = Math.floor(o.gpusPerHost);
  o.nicsPerHost = Math.floor(o.nicsPerHost);
  o.vfsPerNic = Math.min(Math.floor(o.vfsPerNic), 126);
  o.domainsPerHost = Math.floor(o.domainsPerHost);
  o.noise = Math.floor(o.noise);
  o.seed = Math.floor(o.seed);
  return o;
}

const hostKey = (i) => `host-${String(i).padStart(4, "0")}`;

/**
 * Builds host number `i` (1-based; 1 is the source). Returns {key, files,
 * domains, networks, hostJson, vm?}. Each host has its own PRNG stream derived
 * from the seed, so hosts are independent of each other's sizes.
 */
export function buildFleetHost(opts, i) {
  const rng = makeRng((opts.seed * 1000003 + i * 7919) >>> 0);
  const key = hostKey(i);
  const isSource = i === 1;
  const b = new HostBuilder(rng);
  b.base({ product: rng.pick(["PowerEdge R750", "PowerEdge R750xa", "PowerEdge R760"]) });
  const old = !isSource && rng.chance(opts.oldFraction);
  const versions = old ? OLD_VERSIONS : isSource ? NEW_VERSIONS[0] : rng.pick(NEW_VERSIONS);

  const gpus = Math.max(opts.gpusPerHost, isSource ? 1 : 0);
  const nics = Math.max(opts.nicsPerHost, isSource ? 1 : 0);
  const vfsPerNic = isSource ? Math.max(opts.vfsPerNic, 4) : opts.vfsPerNic;
  const free = { mdevs: [], vfs: [] };
  const vm = isSource ? { mdevs: [], vfs: [] } : null;

  // GPUs: one type per GPU is in use (time-sliced vGPU); the others show 0.
  for (let g = 0; g < gpus; g++) {
    let mdevs = [];
    let used;
    if (isSource && g === 0) {
      used = "nvidia-558";
      mdevs = [0, 1, 2, 3].map(() => ({ uuid: rng.uuid(), type: used }));
      vm.mdevs.push(...mdevs.map((m) => m.uuid));
    } else {
      used = rng.pick(["nvidia-558", "nvidia-558", "nvidia-559", "nvidia-560", null]);
      if (used) {
        const n = rng.int(0, Math.min(3, T4_TYPES[used].max - 1));
        mdevs = Array.from({ length: n }, () => ({ uuid: rng.uuid(), type: used }));
        for (const m of mdevs) free.mdevs.push(m.uuid);
      }
    }
    const types = {};
    for (const t of ["nvidia-558", "nvidia-559", "nvidia-560"]) {
      if (!used) types[t] = T4_TYPES[t].max;
      else if (t !== used) types[t] = 0;
      else types[t] = isSource ? T4_TYPES[t].max - mdevs.length : rng.int(0, T4_TYPES[t].max - mdevs.length);
    }
    b.addGpu({ types, mdevs });
  }
  for (let n = 0; n < nics; n++) {
    const { vfs } = b.addNic({ vfCount: vfsPerNic, maxVfs: Math.max(16, vfsPerNic) });
    for (const v of vfs) free.vfs.push(v.addr);
  }
  b.addNoise(opts.noise);

  // Domains: the source runs the VM; targets run D guests using some VFs / mdevs.
  const domains = [];
  if (isSource) {
    const vfs = free.vfs.splice(0, 4);
    vm.vfs = vfs;
    vm.uuid = rng.uuid();
  }
  const domCount = isSource ? 0 : opts.domainsPerHost;
  for (let d = 0; d < domCount; d++) {
    const devs = [];
    const nv = Math.min(free.vfs.length, rng.int(0, 4));
    for (let k = 0; k < nv; k++) {
      const addr = free.vfs.splice(rng.int(0, free.vfs.length - 1), 1)[0];
      devs.push(
        rng.chance(0.5) ? { kind: "pci", addr } : { kind: "interface", addr, mac: rng.mac("52:54:00") },
      );
    }
    if (free.mdevs.length && rng.chance(0.6)) devs.unshift({ kind: "mdev", uuid: free.mdevs.shift() });
    domains.push({ name: `guest-${key.slice(5)}-${d + 1}`, uuid: rng.uuid(), id: d + 1, devices: devs });
  }
  // A hostdev pool on the last few free VFs of the last NIC, on half the hosts.
  const networks = [];
  if (!isSource && free.vfs.length >= 4 && rng.chance(0.5)) {
    networks.push({ name: "sriov-pool", uuid: rng.uuid(), vfs: free.vfs.splice(-4, 4) });
  }
  const hostJson = {
    hostname: `${key}.lab.example`,
    libvirtVersion: versions.libvirt,
    hypervisor: { type: "QEMU", version: versions.qemu },
    kernelVersion: versions.kernel,
  };
  return { key, builder: b, domains, networks, hostJson, vm };
}

function vmDomain(vm, type = "kvm") {
  const devices = [
    ...vm.mdevs.map((uuid) => ({ kind: "mdev", uuid })),
    ...vm.vfs.map((addr) => ({ kind: "pci", addr })),
  ];
  return domainXml({ name: "vm-bench", uuid: vm.uuid, id: 7, devices, memGiB: 32, vcpus: 16, type });
}

function testDriverXml(host) {
  const parts = ["<node>"];
  for (const d of host.builder.devices) parts.push(ind(d.xml.trimEnd(), 2));
  const doms = host.domains.map((d) => domainXml({ ...d, type: "test" }));
  if (host.vm) doms.push(vmDomain(host.vm, "test"));
  for (const x of doms) parts.push(ind(x.trimEnd(), 2));
  for (const n of host.networks) parts.push(ind(hostdevNetworkXml(n).trimEnd(), 2));
  parts.push("</node>", "");
  return parts.join("\n");
}

/** The node device name of one `<device>` document (its `<name>`). */
const deviceName = (xml) => /<name>([^<]*)<\/name>/.exec(xml)?.[1] ?? "";

/**
 * The nodedev/ files of one host: `perDevice()` (the builder's files), or with
 * layout "all" one all.xml of every device in `virsh nodedev-list --all` order:
 * virsh sorts the names with vshStrcasecmp (tools/virsh-nodedev.c,
 * virshNodeDeviceSorter), and each `virsh nodedev-dumpxml` prints one document
 * ending in a newline.
 */
export function nodedevFiles(devices, layout, perDevice) {
  if (layout !== "all") return perDevice();
  const key = (d) => deviceName(d.xml).toLowerCase();
  const sorted = devices
    .map((d, i) => ({ d, i, k: key(d) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
  return [{ file: "all.xml", xml: sorted.map((x) => x.d.xml).join("") }];
}

export function generateFleet(opts) {
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const dump = opts.format === "dump" || opts.format === "both";
  const td = opts.format === "testdriver" || opts.format === "both";
  const dumpTargets = [];
  const tdTargets = [];
  let devicesTotal = 0;
  let vmXml = null;
  if (td) mkdirSync(join(out, "testdriver"), { recursive: true });
  for (let i = 1; i <= opts.hosts; i++) {
    const host = buildFleetHost(opts, i);
    devicesTotal += host.builder.devices.length;
    if (host.vm) vmXml = vmDomain(host.vm);
    if (dump) {
      const dir = join(out, "hosts", host.key);
      mkdirSync(join(dir, "nodedev"), { recursive: true });
      for (const f of nodedevFiles(host.builder.devices, opts.layout, () => host.builder.files()))
        writeFileSync(join(dir, "nodedev", f.file), f.xml);
      const doms = host.domains.map((d) => ({ name: d.name, xml: domainXml(d) }));
      if (host.vm) doms.push({ name: "vm-bench", xml: vmXml });
      if (doms.length) {
        mkdirSync(join(dir, "domains"), { recursive: true });
        for (const d of doms) writeFileSync(join(dir, "domains", `${d.name}.xml`), d.xml);
      }
      if (host.networks.length) {
        mkdirSync(join(dir, "networks"), { recursive: true });
        for (const n of host.networks)
          writeFileSync(join(dir, "networks", `${n.name}.xml`), hostdevNetworkXml(n));
      }
      writeFileSync(join(dir, "host.json"), `${JSON.stringify(host.hostJson, null, 2)}\n`);
      // The NVIDIA vGPU manager version (docs/dump-sys.md): one release fleet-wide.
      mkdirSync(join(dir, "sys", "module", "nvidia"), { recursive: true });
      writeFileSync(join(dir, "sys", "module", "nvidia", "version"), "550.127.05\n");
      if (i > 1) dumpTargets.push(dir);
    }
    if (td) {
      const file = join(out, "testdriver", `${host.key}.xml`);
      writeFileSync(file, testDriverXml(host));
      if (i > 1) tdTargets.push(`test://${file}`);
    }
  }
  const header = (what) =>
    `# hdplan targets generated by scripts/gen-fleet.mjs (${what}); source: ${hostKey(1)}\n` +
    `# --hosts ${opts.hosts} --gpus-per-host ${opts.gpusPerHost} --nics-per-host ${opts.nicsPerHost} ` +
    `--vfs-per-nic ${opts.vfsPerNic} --old-fraction ${opts.oldFraction} --domains-per-host ${opts.domainsPerHost} ` +
    `--noise ${opts.noise} --seed ${opts.seed}${opts.layout === "all" ? " --layout all" : ""}\n`;
  if (dump) writeFileSync(join(out, "hosts.txt"), `${header("dump directories")}${dumpTargets.join("\n")}\n`);
  if (td) {
    const f = dump ? "hosts-testdriver.txt" : "hosts.txt";
    writeFileSync(join(out, f), `${header("test-driver URIs")}${tdTargets.join("\n")}\n`);
  }
  writeFileSync(join(out, "vm.xml"), vmXml);
  return { out, hosts: opts.hosts, devicesPerHost: devicesTotal / opts.hosts };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gen-fleet: ${e.message}\nRun with --help for usage.\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(
      "usage: node scripts/gen-fleet.mjs --out DIR [--hosts N] [--gpus-per-host G] [--nics-per-host K]\n" +
        "       [--vfs-per-nic V] [--old-fraction F] [--domains-per-host D] [--noise N] [--seed S]\n" +
        "       [--format dump|testdriver|both] [--layout per-device|all]\n",
    );
    return;
  }
  const t0 = performance.now();
  const r = generateFleet(opts);
  const ms = Math.round(performance.now() - t0);
  process.stderr.write(
    `gen-fleet: ${r.hosts} hosts (~${Math.round(r.devicesPerHost)} node devices each) in ${r.out} (${ms} ms)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
