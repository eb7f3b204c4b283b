/**
 * headroom shares candidates between source devices with one signature
 * (src/matching/headroom.ts deviceSignature): it must hold every source field
 * a destination rule reads. The mlx5 rule (compat.md §7) reads the source
 * PF's firmware and PSID: two VFs whose PFs differ there must not share
 * candidates, or a destination that takes one would count for the other.
 */
import { describe, expect, it } from "vitest";
import type { PciSource } from "../../src/candidates/types.js";
import { deviceSignature } from "../../src/matching/headroom.js";

function vf(firmware: { version?: string; psid?: string } | undefined, checkFirmware = true): PciSource {
  return {
    need: "pci",
    dev: {
      kind: "pci",
      element: "hostdev",
      id: "hostdev0",
      alias: null,
      kindIndex: 0,
      guestAddress: null,
      hostAddress: "0000:19:00.2",
      managed: false,
    },
    summary: "pci 0000:19:00.2",
    blockers: [],
    warnings: [],
    gate: null,
    transient: false,
    descriptor: { self: { device_api: "vfio-pci", device_id: "15b3101e" }, compatible: [] },
    descriptorOrigin: null,
    driver: "mlx5_vfio_pci",
    checkFirmware,
    ...(firmware ? { firmware } : {}),
  } as unknown as PciSource;
}

describe("headroom device signature", () => {
  it.each([
    [
      "another firmware version",
      vf({ version: "22.41.1000", psid: "MT_1" }),
      vf({ version: "22.39.1002", psid: "MT_1" }),
    ],
    [
      "another PSID",
      vf({ version: "22.41.1000", psid: "MT_1" }),
      vf({ version: "22.41.1000", psid: "MT_2" }),
    ],
    ["firmware known vs unknown", vf({ version: "22.41.1000", psid: "MT_1" }), vf(undefined)],
    ["checked vs not checked", vf(undefined, true), vf(undefined, false)],
  ])("%s: different signatures", (_what, a, b) => {
    expect(deviceSignature(a, false)).not.toBe(deviceSignature(b, false));
  });
  it("the same firmware: one signature (candidates shared)", () => {
    const a = vf({ version: "22.41.1000", psid: "MT_1" });
    const b = vf({ version: "22.41.1000", psid: "MT_1" });
    expect(deviceSignature(a, false)).toBe(deviceSignature(b, false));
  });
});
