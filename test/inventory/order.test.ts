/**
 * buildInventory puts node devices in name order whatever order the source
 * listed them in (results must not depend on it), and leaves an already
 * sorted listing (virsh's) as it is: src/inventory/build.ts.
 */
import { describe, expect, it } from "vitest";
import { buildInventory } from "../../src/inventory/build.js";
import { gpu, nic, pciDev, rawHost, usbDev } from "../helpers/build.js";

const devices = [
  gpu("0000:3b:00.0", 2),
  ...nic("0000:5e:00.0", ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4"]),
  pciDev({ addr: "0000:af:00.0", vendor: "10de", product: "1db6", cls: "0x030200", driver: "vfio-pci" }),
  usbDev({ name: "usb_1_2", vendor: "046d", product: "c52b", bus: 1, device: 2 }),
];

const names = (ds: string[]) => buildInventory(rawHost("h", { devices: ds })).devices.map((d) => d.name);

describe("node device order", () => {
  const sorted = names(devices);

  it("is the code-unit order of the names", () => {
    expect(sorted.length).toBeGreaterThan(5);
    expect([...sorted].sort()).toEqual(sorted);
  });

  it.each([
    ["reversed", (ds: string[]) => [...ds].reverse()],
    ["rotated", (ds: string[]) => [...ds.slice(3), ...ds.slice(0, 3)]],
    ["last two swapped", (ds: string[]) => [...ds.slice(0, -2), ds[ds.length - 1]!, ds[ds.length - 2]!]],
    ["first two swapped", (ds: string[]) => [ds[1]!, ds[0]!, ...ds.slice(2)]],
  ])("is the same when the listing is %s", (_, f) => {
    expect(names(f(devices))).toEqual(sorted);
  });
});
