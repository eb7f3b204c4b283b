/**
 * Host files for libvirt's built-in test driver (`test:///ABS/PATH/host.xml`):
 * the builders are scripts/fixtures/testdriver.mjs (its header lists what the
 * driver accepts); this module keeps the tests' import path and adds the
 * standard host and the libvirt probe.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import {
  GPU,
  hostdevNetwork,
  mdevDevice,
  pciDevice,
  testDomain,
  writeTestHost,
} from "../../scripts/fixtures/testdriver.mjs";

export * from "../../scripts/fixtures/testdriver.mjs";
export type { DomainSpec, PciSpec } from "../../scripts/fixtures/testdriver.mjs";

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
