import { describe, expect, it } from "vitest";
import { keysOf } from "../../src/hook/reserve.js";
import { type ResourceKey, holderText, inUseText, keyId, parseKeyId } from "../../src/inventory/keys.js";

describe("ResourceKey text form (only for the hook's reservation file)", () => {
  const rows: { key: ResourceKey; id: string }[] = [
    { key: { kind: "pci", address: "0000:17:00.4" }, id: "pci:0000:17:00.4" },
    {
      key: { kind: "mdev", uuid: "9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214" },
      id: "mdev:9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214",
    },
    {
      key: { kind: "pool", parent: "pci_0000_17_00_0", mdevType: "nvidia-558" },
      id: "pool:pci_0000_17_00_0:nvidia-558",
    },
    { key: { kind: "net", network: "sriov-pool" }, id: "net:sriov-pool" },
    { key: { kind: "usb", name: "usb_1_2" }, id: "usb:usb_1_2" },
    { key: { kind: "vgpuvf", vf: "0000:81:00.4", typeId: 1155 }, id: "vgpuvf:0000:81:00.4:1155" },
  ];
  it.each(rows)("$id round-trips", ({ key, id }) => {
    expect(keyId(key)).toBe(id);
    expect(parseKeyId(id)).toEqual(key);
  });
  it.each(["", "pci:", "pci:0000:17:00", "pool:a", "pool:a:b:c", "vgpuvf:0000:81:00.4:x", "gpu:1", ":x"])(
    "%j is not a key",
    (s) => {
      expect(parseKeyId(s)).toBeNull();
    },
  );
  it("an older hook's entry (ids only) is read back; typed keys win when present", () => {
    const base = { guest: "vm1", pid: 1, created: 0, expires: 1 };
    expect(keysOf({ ...base, ids: ["pool:pci_0000_17_00_0:nvidia-558", "junk"] })).toEqual([
      { kind: "pool", parent: "pci_0000_17_00_0", mdevType: "nvidia-558" },
    ]);
    expect(keysOf({ ...base, ids: ["pci:0000:17:00.4"], keys: [{ kind: "usb", name: "u" }] })).toEqual([
      { kind: "usb", name: "u" },
    ]);
  });
});

describe("reservation holders {by, name}", () => {
  it.each([
    { r: { by: "domain", name: "vm2" }, held: "domain vm2", inUse: "used by domain vm2" },
    {
      r: { by: "defined-domain", name: "vm2" },
      held: "domain vm2 (defined)",
      inUse: "used by domain vm2 (defined)",
    },
    {
      r: { by: "network", name: "pool0" },
      held: "handed out by network pool0",
      inUse: "handed out by network pool0",
    },
    {
      r: { by: "migration", name: "vm1" },
      held: "reserved by the incoming migration of vm1 (hdplan hook)",
      inUse: "used by reserved by the incoming migration of vm1 (hdplan hook)",
    },
  ] as const)("$held", ({ r, held, inUse }) => {
    expect(holderText(r)).toBe(held);
    expect(inUseText(r)).toBe(inUse);
  });
});
