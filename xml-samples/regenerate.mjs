#!/usr/bin/env node
/**
 * Writes the sample fleet in xml-samples/ (hosts/, domains/, hosts.txt) from
 * the device builders of scripts/gen-fleet.mjs. The files are committed; run
 * this only after changing it:   node xml-samples/regenerate.mjs
 * (README.md and descriptors/ are written by hand.) Deterministic.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  HostBuilder,
  HW,
  domainXml,
  drmDevice,
  hostdevNetworkXml,
  makeRng,
  mdevDevice,
  mdevTypesCap,
  pciAddrXml,
  pciStr,
  pfCap,
  vfsCap,
} from "../scripts/gen-fleet.mjs";

const ROOT = dirname(fileURLToPath(import.meta.url));

// --- identities used by the sample VMs (all live on src-host) -------------
const U = {
  mixed0: "c2177883-f1bb-47f0-914d-32a22e3a8804",
  mixed1: "5e4b1c2a-8d3f-4a61-9b7e-0f2c6d8a1e93",
  vgpu0: "9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214",
  vgpu1: "0d6f2a8c-5b1e-4f37-8c92-e4a7b3d1f605",
  gvtg: "f3c1a9e2-7d4b-4e6a-9f08-b2c5d7e1a349",
};
const SRC_VF = (fn) => ({ bus: 0x1a, slot: 0, fn }); // NIC0 on src-host: PF 1a:00.0
const SRC_POOL_VF = (fn) => ({ bus: 0x31, slot: 0, fn }); // NIC1 on src-host: sriov-pool
const SRC_PASSTHROUGH_GPU = { bus: 0x19, slot: 0, fn: 0 };

const FREE_T4 = { "nvidia-558": 8, "nvidia-559": 4, "nvidia-560": 2 };
/** NVIDIA vGPU manager (nvidia module) of the fleet, and its ConnectX-6 Dx firmware. */
const MANAGER = "550.127.05";
const FIRMWARE = { version: "22.41.1000", psid: "MT_0000000359" };

// --- hosts -------------------------------------------------------------------
/**
 * spec: {gpus: [{product, driver, types, mdevs}], nics: [{vfCount, vfDriver}],
 * igpu, versions|null, domains: [...], pool: {nic, count}}
 */
function buildHost(key, seed, spec) {
  const rng = makeRng(seed);
  const b = new HostBuilder(rng);
  b.base({ product: spec.product ?? "PowerEdge R750xa" });
  const extra = { domains: [], networks: [] };
  if (spec.igpu) {
    // Xeon E-2100-class iGPU with GVT-g: the mdev types sit on the iGPU itself.
    const a = { bus: 0, slot: 2, fn: 0 };
    const path = `/sys/devices/pci0000:00/0000:00:02.0`;
    b.pci({
      addr: a,
      path,
      driver: "i915",
      cls: "0x030000",
      vendor: HW.intel,
      product: ["591d", "HD Graphics P630"],
      caps: mdevTypesCap([
        { id: "i915-GVTg_V5_4", name: "GVTg_V5_4", avail: 1 },
        { id: "i915-GVTg_V5_8", name: "GVTg_V5_8", avail: 1 },
      ]),
      numa: 0,
    });
    b.add("drm_card1", drmDevice({ name: "drm_card1", parent: "pci_0000_00_02_0", path: `${path}/drm/card1` }));
    b.add(
      "drm_renderD128",
      drmDevice({ name: "drm_renderD128", parent: "pci_0000_00_02_0", path: `${path}/drm/renderD128`, type: "render" }),
    );
    b.add(
      `mdev_${spec.igpu.uuid.replace(/-/g, "_")}`,
      mdevDevice({
        uuid: spec.igpu.uuid,
        parent: "pci_0000_00_02_0",
        parentPath: path,
        type: "i915-GVTg_V5_8",
        iommuGroup: b.iommu++,
        driver: "intel_vgpu_mdev",
      }),
    );
  }
  for (const g of spec.gpus) b.addGpu(g);
  const l40s = spec.l40s ? addL40s(b, spec.l40s) : null;
  const nics = spec.nics.map((n) => b.addNic({ maxVfs: 16, ...n }));
  b.addNvme();
  b.addUsbDevice(["5591", "Ultra Line Series"], ["0781", "SanDisk Corp."], 8, 6, 80, "usb-storage");
  b.addNoise(spec.noise ?? 12);
  if (spec.pool) {
    const vfs = nics[spec.pool.nic].vfs.slice(0, spec.pool.count).map((v) => v.addr);
    extra.networks.push({ name: "sriov-pool", xml: hostdevNetworkXml({ name: "sriov-pool", uuid: spec.pool.uuid, vfs }) });
  }
  const dir = join(ROOT, "hosts", key);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "nodedev"), { recursive: true });
  for (const f of b.files(6)) writeFileSync(join(dir, "nodedev", f.file), f.xml);
  const domSpec = typeof spec.domains === "function" ? spec.domains(nics) : (spec.domains ?? []);
  const doms = [...domSpec.map((d) => ({ name: d.name, xml: domainXml(d) })), ...(spec.rawDomains ?? [])];
  if (doms.length) {
    mkdirSync(join(dir, "domains"), { recursive: true });
    for (const d of doms) writeFileSync(join(dir, "domains", `${d.name}.xml`), d.xml);
  }
  if (extra.networks.length) {
    mkdirSync(join(dir, "networks"), { recursive: true });
    for (const n of extra.networks) writeFileSync(join(dir, "networks", `${n.name}.xml`), n.xml);
  }
  // sys/: the partial copy of /sys hdplan reads (docs/dump-sys.md): the NVIDIA
  // vGPU manager version and each ConnectX PF's firmware and PSID.
  const sysFile = (rel, text) => {
    const p = join(dir, "sys", ...rel.split("/"));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, `${text}\n`);
  };
  if (spec.manager !== null) sysFile("module/nvidia/version", spec.manager ?? MANAGER);
  nics.forEach((n, i) => {
    const a = n.pf.addr;
    const hex = (x, w) => x.toString(16).padStart(w, "0");
    const pf = `0000:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn}`;
    const fw = spec.firmware ?? FIRMWARE;
    sysFile(`bus/pci/devices/${pf}/infiniband/mlx5_${i}/fw_ver`, fw.version);
    sysFile(`bus/pci/devices/${pf}/infiniband/mlx5_${i}/board_id`, fw.psid);
  });
  // NVIDIA SR-IOV vGPU VFs: nvidia/current_vgpu_type and creatable_vgpu_types (compat.md §8).
  if (l40s) {
    l40s.vfs.forEach((addr, i) => {
      const vf = spec.l40s.vfs[i];
      const d = `bus/pci/devices/${pciStr(addr)}/nvidia`;
      sysFile(`${d}/current_vgpu_type`, String(vf.current));
      const lines = ["ID : vGPU Name", ...vf.creatable.map((id) => `${id} : ${L40S_TYPES[id]}`)];
      sysFile(`${d}/creatable_vgpu_types`, lines.join("\n"));
    });
  }
  if (spec.versions) {
    const v = spec.versions;
    const hj = {
      hostname: `${key}.lab.example`,
      libvirtVersion: v[0],
      hypervisor: { type: "QEMU", version: v[1] },
      kernelVersion: v[2],
    };
    writeFileSync(join(dir, "host.json"), `${JSON.stringify(hj, null, 2)}\n`);
  }
  return nics;
}

// --- NVIDIA SR-IOV vGPU (vendor-specific VFIO framework, compat.md §8) ----------
const L40S = ["26b9", "AD102GL [L40S]"];
/** Illustrative L40S time-sliced types (1155 as in NVIDIA's examples). */
const L40S_TYPES = { 1153: "NVIDIA L40S-8Q", 1154: "NVIDIA L40S-12Q", 1155: "NVIDIA L40S-24Q", 1156: "NVIDIA L40S-48Q" };
const ALL_L40S = [1153, 1154, 1155, 1156];
/** An L40S PF on `nvidia` with its VFs on `nvidia` too (VF functions 4..7). */
function addL40s(b, spec) {
  const { parent, ep, base, numa } = b.rootPort({ numa: 0, speed: 16, width: 16 });
  const vfs = spec.vfs.map((_, i) => ({ bus: ep.bus, slot: 0, fn: 4 + i }));
  const pcie = { speed: 16, width: 16 };
  b.pci({ addr: ep, parent, path: `${base}/${pciStr(ep)}`, driver: "nvidia", cls: "0x030200", vendor: HW.nvidia, product: L40S, caps: vfsCap(vfs, 32), numa, pcie });
  for (const addr of vfs) {
    b.pci({ addr, parent, path: `${base}/${pciStr(addr)}`, driver: "nvidia", cls: "0x030200", vendor: HW.nvidia, product: L40S, caps: pfCap(ep), numa, pcie });
  }
  return { pf: ep, vfs };
}

// --- sample VM live XML --------------------------------------------------------
function vmXml({ name, uuid, id, mem = 16, vcpus = 8, interfaces = "", hostdevs = "", video = "virtio", viommu = false }) {
  const kib = mem * 1024 * 1024;
  const ports = [];
  for (let i = 1; i <= 12; i++) {
    const slot = 2 + Math.floor((i - 1) / 8);
    const fn = (i - 1) % 8;
    ports.push(`    <controller type='pci' index='${i}' model='pcie-root-port'>
      <model name='pcie-root-port'/>
      <target chassis='${i}' port='0x${(0x10 + i - 1).toString(16)}'/>
      <alias name='pci.${i}'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x0${slot}' function='0x${fn}'${fn === 0 ? " multifunction='on'" : ""}/>
    </controller>`);
  }
  return `<domain type='kvm' id='${id}'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://ubuntu.com/ubuntu/22.04"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='KiB'>${kib}</memory>
  <currentMemory unit='KiB'>${kib}</currentMemory>
  <vcpu placement='static'>${vcpus}</vcpu>
  <resource>
    <partition>/machine</partition>
  </resource>
  <os>
    <type arch='x86_64' machine='pc-q35-9.0'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/${name}_VARS.fd</nvram>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state='off'/>
${viommu ? "    <ioapic driver='qemu'/>\n" : ""}  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm>
    <suspend-to-mem enabled='no'/>
    <suspend-to-disk enabled='no'/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'/>
      <source file='/var/lib/libvirt/images/${name}.qcow2' index='1'/>
      <backingStore/>
      <target dev='vda' bus='virtio'/>
      <alias name='virtio-disk0'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'>
      <alias name='usb'/>
      <address type='pci' domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
    </controller>
    <controller type='pci' index='0' model='pcie-root'>
      <alias name='pcie.0'/>
    </controller>
${ports.join("\n")}
    <controller type='sata' index='0'>
      <alias name='ide'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x1f' function='0x2'/>
    </controller>
    <controller type='virtio-serial' index='0'>
      <alias name='virtio-serial0'/>
      <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x0'/>
    </controller>
${interfaces}    <serial type='pty'>
      <source path='/dev/pts/${id + 2}'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
      <alias name='serial0'/>
    </serial>
    <console type='pty' tty='/dev/pts/${id + 2}'>
      <source path='/dev/pts/${id + 2}'/>
      <target type='serial' port='0'/>
      <alias name='serial0'/>
    </console>
    <channel type='unix'>
      <source mode='bind' path='/run/libvirt/qemu/channel/${id}-${name}/org.qemu.guest_agent.0'/>
      <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/>
      <alias name='channel0'/>
      <address type='virtio-serial' controller='0' bus='0' port='1'/>
    </channel>
    <input type='mouse' bus='ps2'>
      <alias name='input0'/>
    </input>
    <input type='keyboard' bus='ps2'>
      <alias name='input1'/>
    </input>
    <graphics type='vnc' port='${5900 + id}' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='${video}' heads='1' primary='yes'/>
      <alias name='video0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </video>
${hostdevs}    <watchdog model='itco' action='reset'>
      <alias name='watchdog0'/>
    </watchdog>
    <memballoon model='virtio'>
      <alias name='balloon0'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
      <alias name='rng0'/>
      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>
    </rng>
${viommu ? "    <iommu model='intel'>\n      <driver intremap='on' caching_mode='on'/>\n      <alias name='iommu0'/>\n    </iommu>\n" : ""}  </devices>
  <seclabel type='dynamic' model='apparmor' relabel='yes'>
    <label>libvirt-${uuid}</label>
    <imagelabel>libvirt-${uuid}</imagelabel>
  </seclabel>
  <seclabel type='dynamic' model='dac' relabel='yes'>
    <label>+64055:+994</label>
    <imagelabel>+64055:+994</imagelabel>
  </seclabel>
</domain>
`;
}

const guestBus = (n) => `<address type='pci' domain='0x0000' bus='0x${n.toString(16).padStart(2, "0")}' slot='0x00' function='0x0'/>`;

const mdevHostdev = (uuid, alias, bus) => `    <hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci' display='off'>
      <source>
        <address uuid='${uuid}'/>
      </source>
      <alias name='${alias}'/>
      ${guestBus(bus)}
    </hostdev>
`;
const pciHostdev = (addr, alias, bus) => `    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        ${pciAddrXml(addr)}
      </source>
      <alias name='${alias}'/>
      ${guestBus(bus)}
    </hostdev>
`;
const virtioBridge = (mac, dev, bus) => `    <interface type='bridge'>
      <mac address='${mac}'/>
      <source bridge='br-tenant'/>
      <target dev='${dev}'/>
      <model type='virtio'/>
      <teaming type='persistent'/>
      <alias name='ua-virtio0'/>
      ${guestBus(bus)}
    </interface>
`;

const VMS = {
  "vm-mixed": vmXml({
    name: "vm-mixed",
    uuid: "4f1c9d2e-6b3a-4e58-9c71-2a8d5f0b3e67",
    id: 3,
    mem: 32,
    vcpus: 16,
    interfaces: `${virtioBridge("52:54:00:3a:7c:10", "vnet7", 0x01)}    <interface type='hostdev' managed='yes'>
      <mac address='52:54:00:3a:7c:10'/>
      <driver name='vfio'/>
      <source>
        ${pciAddrXml(SRC_VF(3), " type='pci'")}
      </source>
      <teaming type='transient' persistent='ua-virtio0'/>
      <alias name='hostdev3'/>
      ${guestBus(0x0a)}
    </interface>
`,
    hostdevs:
      mdevHostdev(U.mixed0, "hostdev0", 0x07) + mdevHostdev(U.mixed1, "hostdev1", 0x08) + pciHostdev(SRC_VF(2), "hostdev2", 0x09),
  }),
  "vm-vgpu": vmXml({
    name: "vm-vgpu",
    uuid: "b7e2a4c9-1f6d-4a83-8e25-d94c0b7f1a36",
    id: 4,
    hostdevs: mdevHostdev(U.vgpu0, "hostdev0", 0x07) + mdevHostdev(U.vgpu1, "hostdev1", 0x08),
  }),
  "vm-vf": vmXml({
    name: "vm-vf",
    uuid: "2d8a6f13-9c4e-4b71-a5d0-e3f7b9c2a814",
    id: 5,
    hostdevs: pciHostdev(SRC_VF(4), "hostdev0", 0x07) + pciHostdev(SRC_VF(5), "hostdev1", 0x08),
  }),
  "vm-net": vmXml({
    name: "vm-net",
    uuid: "e6b4d1a8-3f2c-4d97-b0e5-7a1c9f4d2b58",
    id: 6,
    interfaces: `${virtioBridge("52:54:00:91:e4:2b", "vnet9", 0x01)}    <interface type='network'>
      <mac address='52:54:00:91:e4:2b'/>
      <source network='sriov-pool'/>
      <model type='virtio'/>
      <teaming type='transient' persistent='ua-virtio0'/>
      <alias name='hostdev0'/>
      ${guestBus(0x07)}
    </interface>
`,
  }),
  // An mlx5 VF behind a guest vIOMMU: QEMU blocks its migration (viommu-blocks-migration).
  "vm-viommu": vmXml({
    name: "vm-viommu",
    uuid: "5e9b2c71-8a4d-4f36-b1e0-c7d3a6f28b45",
    id: 9,
    viommu: true,
    hostdevs: pciHostdev(SRC_VF(6), "hostdev0", 0x07),
  }),
  "vm-passthrough-gpu": vmXml({
    name: "vm-passthrough-gpu",
    uuid: "8c3f5a27-d6e1-4b9a-8f42-1e7d0c6b9a53",
    id: 7,
    mem: 64,
    hostdevs: pciHostdev(SRC_PASSTHROUGH_GPU, "hostdev0", 0x07),
  }),
  "vm-gvtg": vmXml({
    name: "vm-gvtg",
    uuid: "a1d7c3e5-4b8f-4e26-9d13-6f0a2c8e7b94",
    id: 8,
    mem: 8,
    vcpus: 4,
    hostdevs: mdevHostdev(U.gvtg, "hostdev0", 0x07),
  }),
};

mkdirSync(join(ROOT, "domains"), { recursive: true });
for (const [name, xml] of Object.entries(VMS)) writeFileSync(join(ROOT, "domains", `${name}.xml`), xml);

// --- the fleet -------------------------------------------------------------------
const NEW = ["10.5.0", "9.0.0", "6.8.0-45-generic"];
const NEWER = ["10.10.0", "9.2.0", "6.12.9"];
const OLD = ["9.0.0", "7.2.0", "6.1.0-21-amd64"];
const t4 = (types, mdevs = []) => ({ types, mdevs });
let tenantId = 1;
const tenant = (name, devices) => ({
  name,
  uuid: makeRng(name.length * 7919 + tenantId).uuid(),
  id: tenantId++,
  devices,
});

const srcNics = buildHost("src-host", 1, {
  product: "PowerEdge R750xa",
  versions: NEW,
  igpu: { uuid: U.gvtg },
  gpus: [
    t4(({ "nvidia-558": 6, "nvidia-559": 0, "nvidia-560": 0 }), [
      { uuid: U.mixed0, type: "nvidia-558" },
      { uuid: U.mixed1, type: "nvidia-558" },
    ]),
    t4(({ "nvidia-558": 6, "nvidia-559": 0, "nvidia-560": 0 }), [
      { uuid: U.vgpu0, type: "nvidia-558" },
      { uuid: U.vgpu1, type: "nvidia-558" },
    ]),
    { driver: "vfio-pci", types: null }, // whole T4 for vm-passthrough-gpu
  ],
  nics: [{ vfCount: 8 }, { vfCount: 4 }],
  pool: { nic: 1, count: 4, uuid: "6a0e3d5c-2b71-4f98-a3c6-d81e5f7b0a24" },
  rawDomains: Object.entries(VMS).map(([name, xml]) => ({ name, xml })),
});
if (srcNics[0].pf.addr.bus !== SRC_VF(0).bus || srcNics[1].pf.addr.bus !== SRC_POOL_VF(0).bus) {
  throw new Error("src-host PCI layout changed: update SRC_VF / SRC_POOL_VF");
}

// host-a: everything vm-mixed needs, plus an idle pre-created nvidia-558 mdev and the pool.
buildHost("host-a", 11, {
  versions: NEWER,
  gpus: [
    t4(({ "nvidia-558": 6, "nvidia-559": 0, "nvidia-560": 0 }), [
      { uuid: "3b9d7e21-0c5a-4f6e-8d14-a2f6c9e0b735", type: "nvidia-558" }, // idle: reusable
      { uuid: "71c4e8a9-5d2f-4b03-9e6a-0f8b3d1c7e52", type: "nvidia-558" }, // used by render-01
    ]),
    t4(FREE_T4),
  ],
  nics: [{ vfCount: 8 }, { vfCount: 4 }],
  pool: { nic: 1, count: 4, uuid: "0f3b8e6d-1a2c-4d75-b9e8-3c6a0d2f5b17" },
  domains: (nics) => [
    tenant("render-01", [
      { kind: "mdev", uuid: "71c4e8a9-5d2f-4b03-9e6a-0f8b3d1c7e52" },
      { kind: "pci", addr: nics[0].vfs[0].addr },
    ]),
  ],
});

// host-b: only one nvidia-558 instance left (GPU0 runs 7 T4-2Q guests, GPU1 two T4-8Q).
{
  const vdi = [];
  const mdevs = [];
  for (let i = 1; i <= 7; i++) {
    const uuid = makeRng(500 + i).uuid();
    mdevs.push({ uuid, type: "nvidia-558" });
    vdi.push(tenant(`vdi-0${i}`, [{ kind: "mdev", uuid }]));
  }
  const cad = [];
  const mdevs8q = [];
  for (let i = 1; i <= 2; i++) {
    const uuid = makeRng(600 + i).uuid();
    mdevs8q.push({ uuid, type: "nvidia-560" });
    cad.push(tenant(`cad-0${i}`, [{ kind: "mdev", uuid }]));
  }
  buildHost("host-b", 12, {
    versions: NEW,
    gpus: [
      t4(({ "nvidia-558": 1, "nvidia-559": 0, "nvidia-560": 0 }), mdevs),
      t4(({ "nvidia-558": 0, "nvidia-559": 0, "nvidia-560": 0 }), mdevs8q),
    ],
    nics: [{ vfCount: 8 }],
    domains: [...vdi, ...cad],
  });
}

// host-c: the GPUs only offer T4-4Q (nvidia-559).
buildHost("host-c", 13, {
  versions: NEW,
  gpus: [t4({ "nvidia-559": 4 }), t4({ "nvidia-559": 4 })],
  nics: [{ vfCount: 8 }],
});

// host-d: every VF is taken by nfv-gw-01.
buildHost("host-d", 14, {
  versions: NEW,
  gpus: [t4(FREE_T4), t4(FREE_T4)],
  nics: [{ vfCount: 4 }],
  domains: (nics) => [
    tenant("nfv-gw-01", [
      { kind: "interface", addr: nics[0].vfs[0].addr, mac: "52:54:00:0d:01:02" },
      { kind: "interface", addr: nics[0].vfs[1].addr, mac: "52:54:00:0d:01:03" },
      { kind: "pci", addr: nics[0].vfs[2].addr },
      { kind: "pci", addr: nics[0].vfs[3].addr },
    ]),
  ],
});

// host-e: VFs bound to plain vfio-pci; a newer vGPU manager (550.144.03).
buildHost("host-e", 15, {
  versions: NEW,
  manager: "550.144.03",
  gpus: [t4(FREE_T4), t4(FREE_T4)],
  nics: [{ vfCount: 8, vfDriver: "vfio-pci" }],
});

// host-f: Debian 12 (libvirt 9.0.0, QEMU 7.2.0).
buildHost("host-f", 16, {
  versions: OLD,
  gpus: [t4(FREE_T4), t4(FREE_T4)],
  nics: [{ vfCount: 8 }],
});

// host-g: like host-a's hardware, but no host.json.
buildHost("host-g", 17, {
  versions: null,
  gpus: [t4(FREE_T4), t4(FREE_T4)],
  nics: [{ vfCount: 8 }],
});

// host-i: like host-d's GPUs and free VFs, but an older vGPU manager (550.90.07
// < the source's 550.127.05) and older NIC firmware.
buildHost("host-i", 19, {
  versions: NEW,
  manager: "550.90.07",
  firmware: { version: "22.39.1002", psid: "MT_0000000359" },
  gpus: [t4(FREE_T4), t4(FREE_T4)],
  nics: [{ vfCount: 8 }],
});

// host-e narrows the version rule in descriptors/host-e/: it runs 550.144.03.
// host-h: TU104GL board variant 10de:1eb9 (accepted by descriptors/t4-relaxed.conf),
// sriov-pool on 4 VFs of NIC0, 2 more VFs outside the pool.
// Its GPU already runs four T4-2Q guests (4 of 8 instances left).
{
  const vdi = [];
  const mdevs = [];
  for (let i = 1; i <= 4; i++) {
    const uuid = makeRng(800 + i).uuid();
    mdevs.push({ uuid, type: "nvidia-558" });
    vdi.push(tenant(`vdi-h${i}`, [{ kind: "mdev", uuid }]));
  }
  buildHost("host-h", 18, {
    versions: NEWER,
    gpus: [{ product: HW.tu104v, types: { "nvidia-558": 4, "nvidia-559": 0, "nvidia-560": 0 }, mdevs }],
    nics: [{ vfCount: 6 }],
    pool: { nic: 0, count: 4, uuid: "c84e2f1a-7b3d-4c69-a05e-9d2b6f8e1c43" },
    domains: vdi,
  });
}

// The SR-IOV vGPU pair (compat.md §8): vgpu-src runs vm-sriov-vgpu on its L40S
// VF 0 (type 1155, so the GPU only offers 1155 any more); vgpu-dst-a has a
// free L40S whose VFs are all type 0; vgpu-dst-b has a VF already set to 1155
// and unused (nothing to write) next to one used by tenant gpu-02.
const VGPU_VM_UUID = "5d8a2c71-3e4f-4b6a-9c0d-7e1f2a3b4c5d";
const vgpuSrcVfs = [
  { current: 1155, creatable: [] },
  { current: 0, creatable: [1155] },
  { current: 0, creatable: [1155] },
  { current: 0, creatable: [1155] },
];
{
  // the VF address is fixed by the builder (first root port's endpoint): 0000:17:00.4
  const vf0 = { bus: 0x17, slot: 0, fn: 4 };
  const vm = vmXml({
    name: "vm-sriov-vgpu",
    uuid: VGPU_VM_UUID,
    id: 9,
    mem: 32,
    hostdevs: pciHostdev(vf0, "hostdev0", 0x07).replace("managed='yes'", "managed='no'"),
  });
  writeFileSync(join(ROOT, "domains", "vm-sriov-vgpu.xml"), vm);
  buildHost("vgpu-src", 21, {
    versions: NEWER,
    gpus: [],
    l40s: { vfs: vgpuSrcVfs },
    nics: [{ vfCount: 4 }],
    rawDomains: [{ name: "vm-sriov-vgpu", xml: vm }],
  });
}
buildHost("vgpu-dst-a", 22, {
  versions: NEWER,
  gpus: [],
  l40s: { vfs: [0, 1, 2, 3].map(() => ({ current: 0, creatable: ALL_L40S })) },
  nics: [{ vfCount: 4 }],
});
buildHost("vgpu-dst-b", 23, {
  versions: NEWER,
  gpus: [],
  l40s: {
    vfs: [
      { current: 1155, creatable: [] },
      { current: 1155, creatable: [] },
      { current: 0, creatable: [] },
      { current: 0, creatable: [] },
    ],
  },
  nics: [{ vfCount: 4 }],
  domains: [tenant("gpu-02", [{ kind: "pci", addr: { bus: 0x17, slot: 0, fn: 5 } }])],
});

writeFileSync(
  join(ROOT, "hosts.txt"),
  `# Candidate destinations for the sample VMs (source: xml-samples/hosts/src-host).
# One target a line; paths are relative to the repository root.
xml-samples/hosts/host-a
xml-samples/hosts/host-b
xml-samples/hosts/host-c
xml-samples/hosts/host-d
xml-samples/hosts/host-e
xml-samples/hosts/host-f
# host-g has no host.json: its versions are unknown (see --assume-versions)
xml-samples/hosts/host-g
xml-samples/hosts/host-h
# host-i runs an older NVIDIA vGPU manager (550.90.07) and older NIC firmware
xml-samples/hosts/host-i
`,
);
