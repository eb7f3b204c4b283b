#!/usr/bin/env node
/**
 * Writes the sample fleet in xml-samples/ (hosts/, domains/, hosts.txt) from
 * the fixture builders of scripts/fixtures/ (shared with gen-fleet and the
 * tests). The files are committed; run this only after changing it:
 *   node xml-samples/regenerate.mjs [OUTDIR]
 * (default OUTDIR: xml-samples/; test/samples.test.ts writes a copy elsewhere
 * and compares). README.md and descriptors/ are written by hand. Deterministic.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  domainXml,
  hostdevInterface,
  hostdevNetworkXml,
  mdevHostdev,
  networkInterface,
  pciHostdev,
  sampleVmXml as vmXml,
  vgpuVfHostdev,
  virtioBridge,
} from "../scripts/fixtures/domain.mjs";
import { hostJson, writeDumpDir } from "../scripts/fixtures/dump.mjs";
import { HostBuilder } from "../scripts/fixtures/host.mjs";
import { HW, L40S_TYPES } from "../scripts/fixtures/nodedev.mjs";
import { pciStr } from "../scripts/fixtures/pci.mjs";
import { makeRng } from "../scripts/fixtures/rng.mjs";
import { mlx5FirmwareFiles, nvidiaVersionFile, vgpuVfFiles } from "../scripts/fixtures/sys.mjs";

const ROOT = process.argv[2] ? resolve(process.argv[2]) : dirname(fileURLToPath(import.meta.url));

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
  if (spec.igpu) b.addGvtgIgpu(spec.igpu);
  for (const g of spec.gpus) b.addGpu(g);
  const l40s = spec.l40s ? b.addSriovVgpu({ vfCount: spec.l40s.vfs.length }) : null;
  const nics = spec.nics.map((n) => b.addNic({ maxVfs: 16, ...n }));
  b.addNvme();
  b.addUsbDevice(["5591", "Ultra Line Series"], ["0781", "SanDisk Corp."], 8, 6, 80, "usb-storage");
  b.addNoise(spec.noise ?? 12);
  const networks = [];
  if (spec.pool) {
    const vfs = nics[spec.pool.nic].vfs.slice(0, spec.pool.count).map((v) => v.addr);
    networks.push({ name: "sriov-pool", xml: hostdevNetworkXml({ name: "sriov-pool", uuid: spec.pool.uuid, vfs }) });
  }
  const domSpec = typeof spec.domains === "function" ? spec.domains(nics) : (spec.domains ?? []);
  const domains = [...domSpec.map((d) => ({ name: d.name, xml: domainXml(d) })), ...(spec.rawDomains ?? [])];
  // sys/: the partial copy of /sys hdplan reads (docs/dump-sys.md): the NVIDIA
  // vGPU manager version, each ConnectX PF's firmware and PSID, and the
  // NVIDIA SR-IOV vGPU VFs' nvidia/current_vgpu_type and creatable_vgpu_types (compat.md §8).
  const sys = [];
  if (spec.manager !== null) sys.push(nvidiaVersionFile(spec.manager ?? MANAGER));
  nics.forEach((n, i) => sys.push(...mlx5FirmwareFiles(pciStr(n.pf.addr), i, spec.firmware ?? FIRMWARE)));
  l40s?.vfs.forEach((addr, i) => {
    const vf = spec.l40s.vfs[i];
    sys.push(...vgpuVfFiles(pciStr(addr), vf.current, vf.creatable.map((id) => ({ id, name: L40S_TYPES[id] }))));
  });
  const v = spec.versions;
  writeDumpDir(join(ROOT, "hosts", key), {
    clean: true,
    nodedev: b.files(6),
    domains,
    networks,
    sys,
    host: v && hostJson(`${key}.lab.example`, { libvirt: v[0], hypervisorType: "QEMU", hypervisorVersion: v[1], kernel: v[2] }),
  });
  return nics;
}

// --- NVIDIA SR-IOV vGPU (vendor-specific VFIO framework, compat.md §8) ----------
const ALL_L40S = [1153, 1154, 1155, 1156];

const VMS = {
  "vm-mixed": vmXml({
    name: "vm-mixed",
    uuid: "4f1c9d2e-6b3a-4e58-9c71-2a8d5f0b3e67",
    id: 3,
    mem: 32,
    vcpus: 16,
    interfaces:
      virtioBridge("52:54:00:3a:7c:10", "vnet7", 0x01) +
      hostdevInterface("52:54:00:3a:7c:10", SRC_VF(3), "hostdev3", 0x0a),
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
    interfaces:
      virtioBridge("52:54:00:91:e4:2b", "vnet9", 0x01) +
      networkInterface("52:54:00:91:e4:2b", "sriov-pool", "hostdev0", 0x07),
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
    hostdevs: vgpuVfHostdev(vf0, "hostdev0", 0x07),
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
