import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import * as N from "./build.js";
import * as O from "./old-build.tmp.js";
import * as OT from "./old-td.tmp.js";
import * as NT from "./testdriver.js";
import * as OD from "./old-dump.tmp.js";
import * as ND from "./dump.js";
import { tinyGuestXml, writeT4Hosts, t4Gpu } from "../../scripts/fixtures/testdriver.mjs";

function tree(d: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string, rel: string) => {
    for (const n of readdirSync(p).sort()) {
      const f = join(p, n);
      if (statSync(f).isDirectory()) walk(f, `${rel}${n}/`);
      else out[`${rel}${n}`] = readFileSync(f, "utf8");
    }
  };
  walk(d, "");
  return out;
}

it("compact builders identical", () => {
  const pcis: N.PciOpts[] = [
    { addr: "0000:3b:00.0", vendor: "10de", product: "1eb8" },
    { addr: "0000:3b:00.0", vendor: "10de", product: "1eb8", driver: null, iommu: null, cls: "0x030200" },
    {
      addr: "0000:5e:00.2",
      vendor: "15b3",
      product: "101e",
      pf: "0000:5e:00.0",
      parent: "x",
      iommu: { number: 4, members: ["0000:5e:00.2", "0000:5e:00.3"] },
    },
    {
      addr: "0000:5e:00.0",
      vendor: "15b3",
      product: "101d",
      vfs: ["0000:5e:00.2"],
      mdevTypes: [{ id: "a" }, { id: "b", name: "B", api: "vfio-ccw", available: 0 }],
    },
  ];
  for (const p of pcis) expect(N.pciDev(p)).toBe(O.pciDev(p));
  expect(N.gpu("0000:3b:00.0", 3)).toBe(O.gpu("0000:3b:00.0", 3));
  expect(N.gpu("0000:3b:00.0", 3, 0, { driver: "vfio-pci" })).toBe(
    O.gpu("0000:3b:00.0", 3, 0, { driver: "vfio-pci" }),
  );
  expect(N.nic("0000:5e:00.0", ["0000:5e:00.2", "0000:5e:00.3"])).toEqual(
    O.nic("0000:5e:00.0", ["0000:5e:00.2", "0000:5e:00.3"]),
  );
  expect(N.nic("0000:5e:00.0", ["0000:5e:00.2"], null)).toEqual(
    O.nic("0000:5e:00.0", ["0000:5e:00.2"], null),
  );
  for (const m of [
    { uuid: "c2177883-f1bb-47f0-914d-32a22e3a8804", parentAddr: "0000:3b:00.0", type: "t" },
    { uuid: "c2177883-f1bb-47f0-914d-32a22e3a8804", parentAddr: "0000:3b:00.0", type: "t", active: false },
  ])
    expect(N.mdevDev(m)).toBe(O.mdevDev(m));
  expect(N.netDev({ parentAddr: "0000:5e:00.0", iface: "e", state: "up" })).toBe(
    O.netDev({ parentAddr: "0000:5e:00.0", iface: "e", state: "up" }),
  );
  const u = { name: "usb_1", vendor: "1", product: "2", bus: 1, device: 3 };
  expect(N.usbDev(u)).toBe(O.usbDev(u));
  const devs: N.HostdevSpec[] = [
    { kind: "mdev", uuid: "u1", alias: "hostdev0" },
    { kind: "mdev", uuid: "u2" },
    { kind: "pci", addr: "0000:5e:00.2", managed: false, teaming: "transient", alias: "a" },
    { kind: "pci", addr: "0000:5e:00.3" },
    { kind: "interface", addr: "0000:5e:00.4", mac: "52:54:00:00:00:09", teaming: "transient" },
    { kind: "interface", addr: "0000:5e:00.5" },
    { kind: "network", network: "pool" },
    { kind: "usb", vendor: "1", product: "2" },
    { kind: "scsi" },
  ];
  expect(N.domainXml("vm", "uuid", devs)).toBe(O.domainXml("vm", "uuid", devs));
  expect(N.domainXml("vm", "uuid", devs, "test")).toBe(O.domainXml("vm", "uuid", devs, "test"));
  expect(N.hostdevNetworkXml("p", ["0000:5e:00.2", "0000:5e:00.3"])).toBe(
    O.hostdevNetworkXml("p", ["0000:5e:00.2", "0000:5e:00.3"]),
  );
  expect(N.hostdevNetworkXml("p", ["0000:5e:00.2"], 2)).toBe(O.hostdevNetworkXml("p", ["0000:5e:00.2"], 2));
  expect(N.rawHost("k", { devices: ["a"], domains: ["b"], networks: ["c"] })).toEqual(
    O.rawHost("k", { devices: ["a"], domains: ["b"], networks: ["c"] }),
  );
  expect(N.rawHost("k", { devices: ["a"], facts: null, versions: { libvirt: "1" } })).toEqual(
    O.rawHost("k", { devices: ["a"], facts: null, versions: { libvirt: "1" } }),
  );
  expect(N.addrEl("0000:5e:00.2")).toBe(O.addrEl("0000:5e:00.2"));
  expect(N.pciName("0000:5e:00.2")).toBe(O.pciName("0000:5e:00.2"));
});

it("test-driver builders identical", () => {
  const ps: NT.PciSpec[] = [
    { address: "0000:3b:00.0", vendor: "10de", product: "1eb8" },
    {
      address: "0000:3B:00.0",
      vendor: "10de",
      product: "1eb8",
      cls: "0x030000",
      iommuGroup: null,
      mdevTypes: [
        { id: "n", available: 2 },
        { id: "m", name: "M", available: 0 },
      ],
    },
    {
      address: "0000:5e:00.0",
      vendor: "15b3",
      product: "101d",
      virtFunctions: ["0000:5e:00.2"],
      iommuGroup: 3,
    },
    {
      address: "0000:5e:00.2",
      vendor: "15b3",
      product: "101e",
      physFunction: "0000:5e:00.0",
      virtFunctions: Array.from({ length: 10 }, (_, i) => `0000:5e:01.${i % 8}`),
    },
  ];
  for (const p of ps) expect(NT.pciDevice(p)).toBe(OT.pciDevice(p));
  expect(NT.mdevDevice("c2177883-f1bb", "0000:3b:00.0", "t")).toBe(
    OT.mdevDevice("c2177883-f1bb", "0000:3b:00.0", "t"),
  );
  const ds: NT.DomainSpec[] = [
    { name: "a", uuid: "u" },
    {
      name: "a",
      uuid: "u",
      state: "shutoff",
      transient: true,
      mdevs: ["m1", "m2"],
      pci: ["0000:5e:00.2"],
      networks: ["n"],
    },
    { name: "a", uuid: "u", state: "running" },
  ];
  for (const d of ds) expect(NT.testDomain(d)).toBe(OT.testDomain(d));
  expect(NT.hostdevNetwork("p", "u", ["0000:5e:00.2", "0000:5e:00.3"])).toBe(
    OT.hostdevNetwork("p", "u", ["0000:5e:00.2", "0000:5e:00.3"]),
  );
  expect(NT.nodeXml(["a", "b"])).toBe(OT.nodeXml(["a", "b"]));
  const d1 = OD.tempDir();
  const d2 = OD.tempDir();
  OT.standardHost(d1);
  NT.standardHost(d2);
  expect(tree(d2)).toEqual(tree(d1));
  // the repeated T4 hosts of next-steps / ansible / readme-walkthrough
  const gpu = (avail: number) =>
    OT.pciDevice({
      address: OT.GPU,
      vendor: "10de",
      product: "1eb8",
      cls: "0x030200",
      mdevTypes: [{ id: "nvidia-558", available: avail }],
    });
  const SRC_UUID = "c2177883-f1bb-47f0-914d-32a22e3a8804";
  const VM = { name: "vm1", uuid: "a1b2c3d4-0000-4000-8000-000000000009" };
  const d3 = OD.tempDir();
  const d4 = OD.tempDir();
  const oldUris = {
    src: OT.writeTestHost(d3, "src", [
      gpu(7),
      OT.mdevDevice(SRC_UUID, OT.GPU, "nvidia-558"),
      OT.testDomain({ ...VM, mdevs: [SRC_UUID] }),
    ]),
    full: OT.writeTestHost(d3, "full", [gpu(8)]),
    nocap: OT.writeTestHost(d3, "nocap", [gpu(0)]),
  };
  const newUris = writeT4Hosts(d4, { src: { available: 7, vm: VM }, full: 8, nocap: 0 });
  expect(Object.keys(newUris)).toEqual(Object.keys(oldUris));
  expect(newUris.src).toBe(`test://${d4}/src.xml`);
  expect(tree(d4)).toEqual(tree(d3));
  expect(t4Gpu(3)).toBe(gpu(3));
  // migration / ask-qemu guests
  const shm =
    "\n    <shmem name='x' role='peer'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>";
  const oldGuest = (name: string, type: string, devices = "") => `<domain type='${type}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>${devices}
  </devices>
</domain>
`;
  const migInline = (GUEST: string, type: string) => `<domain type='${type}'>
  <name>${GUEST}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <memballoon model='none'/>
  </devices>
</domain>
`;
  for (const t of ["kvm", "qemu"]) {
    expect(tinyGuestXml("g", t)).toBe(migInline("g", t));
    expect(tinyGuestXml("g", t, shm)).toBe(oldGuest("g", t, shm));
    expect(tinyGuestXml("g", t, "")).toBe(oldGuest("g", t, ""));
  }
});

it("dump writer identical", () => {
  const variants = [
    { devices: ["<device>a</device>", "<device>b</device>"] },
    {
      devices: ["<device>a</device>", "<device>b</device>"],
      concatenated: true,
      domains: ["d1", "d2"],
      networks: ["n"],
    },
    { devices: ["x"], versions: null, nvidiaVersion: null },
    { devices: ["x"], versions: { libvirt: "9.0.0" }, nvidiaVersion: "550.90.07" },
  ];
  for (const v of variants) {
    const a = OD.tempDir();
    const b = ND.tempDir();
    OD.writeDump(a, "h", v);
    ND.writeDump(b, "h", v);
    expect(tree(b)).toEqual(tree(a));
  }
});
