/**
 * buildInventory puts node devices in name order whatever order the source
 * listed them in (results must not depend on it), and leaves an already
 * sorted listing (virsh's) as it is: src/inventory/build.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildInventory, sortByName } from "../../src/inventory/build.js";
import type { NodeDevice } from "../../src/model.js";
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

describe("sortByName: the stable sort by name of Array.prototype.sort", () => {
  const byName = (a: NodeDevice, b: NodeDevice) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  // Few letters: many equal names (stability) and many runs; some inputs sorted or nearly.
  const arbNames = fc.oneof(
    fc.array(fc.stringMatching(/^[ab_Z]{0,3}$/), { maxLength: 60 }),
    fc.array(fc.stringMatching(/^[a-c]{1,2}$/), { maxLength: 300 }).map((xs) => {
      const s = [...xs].sort();
      // A few devices of one file in the middle, as a dump of one file a device plus a loop file.
      return [...s.slice(0, s.length >> 1), ...xs.slice(0, 9), ...s.slice(s.length >> 1)];
    }),
  );
  it("same objects in the same order (ties keep their order)", () => {
    fc.assert(
      fc.property(arbNames, (names) => {
        const devs = names.map((name, i) => ({ name, caps: [], driver: null, i }) as unknown as NodeDevice);
        const want = [...devs].sort(byName);
        const got = [...devs];
        sortByName(got);
        expect(got.length).toBe(want.length);
        got.forEach((d, i) => expect(d).toBe(want[i]));
      }),
      { numRuns: 500, seed: 14 },
    );
  });
});
