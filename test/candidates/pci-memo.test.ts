/**
 * pciCandidates keeps its per-function outcome per host and source content
 * (src/candidates/kinds/pci.ts), so devices that differ only in which device
 * they are share one loop. A changed field of the source must never get the
 * outcome of another source: each change below is asked on a host whose memo
 * already holds the unchanged source, and must give what a fresh host (no
 * memo) gives.
 */
import { describe, expect, it } from "vitest";
import { buildHostCandidates } from "../../src/candidates/destination.js";
import { hostIndex } from "../../src/candidates/hostindex.js";
import type { PciSource } from "../../src/candidates/types.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import type { HostInventory } from "../../src/inventory/types.js";
import { reason } from "../../src/reasons.js";
import { PCI_HOSTDEV, PCI_SOURCE, fakeHost, pciFn } from "./fake-host.js";

const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"];

/** A ConnectX PF with four VFs: mlx5_vfio_pci, plain vfio-pci, in use by a domain, unbound. */
function host(fwVersion = "22.36.1010"): HostInventory {
  return fakeHost({
    devices: [
      pciFn(PF, { productId: "101d", virtFunctions: VFS, driver: "mlx5_core" }),
      pciFn(VFS[0]!, { physFunction: PF, driver: "mlx5_vfio_pci" }),
      pciFn(VFS[1]!, { physFunction: PF, driver: "vfio-pci" }),
      pciFn(VFS[2]!, { physFunction: PF, driver: "mlx5_vfio_pci" }),
      pciFn(VFS[3]!, { physFunction: PF, driver: null }),
    ],
    reserved: [[`pci:${VFS[2]}`, { by: "domain", name: "vm2" }]],
    firmware: [{ address: PF, version: fwVersion, psid: "MT_0000000359", from: "sysfs" }],
  });
}

const dev = PCI_HOSTDEV;
const base = PCI_SOURCE;

const ctx = { selector: new DescriptorSelector([]), gateOpts: { assumeVersions: false }, multiVfio: false };
const self = base.descriptor!.self;

/** Every field the candidate step reads (and some it does not), changed one at a time. */
const CHANGED: [string, PciSource][] = [
  ["device_id", { ...base, descriptor: { self: { ...self, device_id: "15b3101d" }, compatible: [] } }],
  [
    "device_id as text",
    { ...base, descriptor: { self: { ...self, device_id: "15b3:101e" }, compatible: [] } },
  ],
  ["pf_device_id", { ...base, descriptor: { self: { ...self, pf_device_id: "15b31017" }, compatible: [] } }],
  ["a self key more", { ...base, descriptor: { self: { ...self, migratable: "1" }, compatible: [] } }],
  ["a self key less", { ...base, descriptor: { self: { device_api: "vfio-pci" }, compatible: [] } }],
  ["a section", { ...base, descriptor: { self, compatible: [{ device_id: "15b3101e" }] } }],
  ["transient", { ...base, transient: true }],
  ["unmanaged", { ...base, dev: { ...dev, managed: false } }],
  ["no firmware check", { ...base, checkFirmware: false }],
  ["firmware version", { ...base, firmware: { ...base.firmware, version: "22.39.1002" } }],
  ["firmware psid", { ...base, firmware: { ...base.firmware, psid: "MT_0000000360" } }],
  ["firmware unknown", { ...base, firmware: undefined }],
  ["driver", { ...base, driver: "vfio-pci" }],
  ["origin", { ...base, descriptorOrigin: "file:x.conf" }],
];

/** Fields that only name the device: the outcome is shared (a memo hit). */
const SAME: [string, PciSource][] = [
  ["dev.id", { ...base, dev: { ...dev, id: "hostdev3", alias: "hostdev3", kindIndex: 3 } }],
  ["host address", { ...base, dev: { ...dev, hostAddress: "0000:3b:00.7" } }],
  ["summary", { ...base, summary: "another" }],
  ["source warnings", { ...base, warnings: [reason("firmware-unverified", "source side")] }],
];

describe("pciCandidates' outcome memo", () => {
  // The PF's firmware equal to the source's, and newer (the mlx5 rule rejects every VF).
  it.each(["22.36.1010", "22.39.1002"])(
    "answers a changed source as a host without the memo does (firmware %s)",
    (fw) => {
      const warm = host(fw);
      const first = buildHostCandidates(warm, [base], ctx);
      if (fw === "22.36.1010")
        expect(first.devices[0]!.resources).toEqual([`pci:${VFS[0]}`, `pci:${VFS[3]}`]);
      else
        expect(first.devices[0]!.reasons.map((r) => r.code)).toEqual([
          "firmware-mismatch",
          "driver-not-migratable",
          "pci-device-in-use",
        ]);
      const outcomes = new Set<string>([JSON.stringify(first)]);
      for (const [what, s] of CHANGED) {
        const want = buildHostCandidates(host(fw), [s], ctx);
        expect(buildHostCandidates(warm, [s], ctx), what).toEqual(want);
        // and the unchanged source still gets its own answer afterwards
        expect(buildHostCandidates(warm, [base], ctx), what).toEqual(first);
        outcomes.add(JSON.stringify(want));
      }
      // The changes matter: most give another answer than the unchanged source.
      expect(outcomes.size).toBeGreaterThanOrEqual(8);
    },
  );

  it("shares the outcome between devices that differ only in which device they are", () => {
    const warm = host();
    const first = buildHostCandidates(warm, [base], ctx);
    const memo = hostIndex(ctx.selector, warm).memo;
    const n = memo.size;
    for (const [what, s] of SAME) {
      const got = buildHostCandidates(warm, [s], ctx);
      expect(got, what).toEqual(buildHostCandidates(host(), [s], ctx));
      expect({ ...got, devices: got.devices.map((d) => ({ ...d, deviceId: "x" })) }, what).toEqual({
        ...first,
        devices: first.devices.map((d) => ({ ...d, deviceId: "x" })),
      });
    }
    expect(memo.size).toBe(n);
  });

  it("names each device in its own firmware warning", () => {
    const h = fakeHost({
      devices: [
        pciFn(PF, { productId: "101d", virtFunctions: [VFS[0]!], driver: "mlx5_core" }),
        pciFn(VFS[0]!, { physFunction: PF, driver: "mlx5_vfio_pci" }),
      ],
    });
    const a = buildHostCandidates(h, [base], ctx);
    const b = buildHostCandidates(h, [{ ...base, dev: { ...dev, id: "hostdev5" } }], ctx);
    expect(a.warnings.map((w) => w.code)).toEqual(["firmware-unverified"]);
    expect(a.warnings[0]!.message).toContain("hostdev0's candidate PF");
    expect(b.warnings[0]!.message).toContain("hostdev5's candidate PF");
  });
});
