/**
 * src/lists.ts: lists that V8 stores as lists of any values (PACKED_ELEMENTS)
 * even when they stay empty, so that code optimised on filled lists does not
 * deoptimise at the first empty one (docs/benchmarks.md, "Eighteenth
 * session"). The class is read with V8's own test functions
 * (%HasObjectElements), enabled for this process only.
 *
 * The sites that make such lists are checked where they make an empty one:
 * a VM with no assigned device, a device no function of the host accepts,
 * the candidate pool of evacuate.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { describe, expect, it } from "vitest";
import { buildHostCandidates } from "../src/candidates/destination.js";
import type { PciSource } from "../src/candidates/types.js";
import { DescriptorSelector, loadDescriptorDir } from "../src/descriptors/sources.js";
import { buildInventory } from "../src/inventory/build.js";
import { flatList, mapList, objectList } from "../src/lists.js";
import { reason } from "../src/reasons.js";
import { domainsToMove } from "../src/matching/evacuate.js";
import { evalContext, evaluateHost } from "../src/matching/evaluate.js";
import { Compactor, HostPool } from "../src/placement/compact.js";
import { readDumpDir } from "../src/targets/dump.js";
import { PCI_SOURCE, fakeHost, pciFn } from "./candidates/fake-host.js";
import { ROOT } from "./helpers/cli.js";

setFlagsFromString("--allow-natives-syntax");
const objectElements = new Function("a", "return %HasObjectElements(a)") as (a: unknown[]) => boolean;
const smiElements = new Function("a", "return %HasSmiElements(a)") as (a: unknown[]) => boolean;

describe("the V8 test functions this file relies on", () => {
  it("tell a literal empty list from a filled one", () => {
    // The premise of src/lists.ts; if a V8 stops making the difference, the helpers are only lists.
    expect(smiElements([])).toBe(true);
    expect(objectElements([])).toBe(false);
    expect(objectElements(["a"])).toBe(true);
    expect(objectElements([{}].slice(1))).toBe(true);
  });
});

describe("objectList, mapList, flatList", () => {
  it("objectList is an empty list of the class a list of strings has", () => {
    const a = objectList<string>();
    expect(a).toEqual([]);
    expect(objectElements(a)).toBe(true);
    a.push("x");
    expect(a).toEqual(["x"]);
    expect(objectElements(a)).toBe(true);
  });

  it.each([[[]], [[1, 2, 3]], [["a", "b"]]] as unknown[][][])("mapList(%j) is map, of that class", (xs) => {
    const f = (x: unknown) => ({ x });
    const got = mapList(xs, f);
    expect(got).toEqual(xs.map(f));
    expect(objectElements(got)).toBe(true);
    expect(smiElements(xs.map(f))).toBe(xs.length === 0); // what map alone gives an empty list
  });

  it.each([[[]], [[[], []]], [[["a"], [], ["b", "c"]]]] as string[][][][])(
    "flatList(%j) is flat, of that class",
    (xss) => {
      const got = flatList(xss);
      expect(got).toEqual(xss.flat());
      expect(objectElements(got)).toBe(true);
    },
  );
});

const PF = "0000:5e:00.0";
const VF = "0000:5e:00.2";
/** A ConnectX-7 VF (15b3:101e under PF 15b3:1021): the host below has ConnectX-6 Dx functions (PF 15b3:101d), whose descriptors reject it. */
const source: PciSource = {
  ...PCI_SOURCE,
  descriptor: {
    self: { ...PCI_SOURCE.descriptor!.self, pf_device_id: "15b31021" },
    compatible: [],
  },
  checkFirmware: false,
};
const host = () =>
  fakeHost({
    devices: [
      pciFn(PF, { productId: "101d", virtFunctions: [VF], driver: "mlx5_core" }),
      pciFn(VF, { productId: "101e", physFunction: PF, driver: "mlx5_vfio_pci" }),
    ],
  });
const ctx = { selector: new DescriptorSelector([]), gateOpts: { assumeVersions: false }, multiVfio: false };

describe("the empty lists the candidate step and the evacuate pool make", () => {
  it("buildHostCandidates: a VM with no device, and a device with no candidate", () => {
    const none = buildHostCandidates(host(), [], ctx);
    expect(none.devices).toEqual([]);
    expect(objectElements(none.devices)).toBe(true);
    for (const l of [none.warnings, none.gateNotes]) expect(objectElements(l)).toBe(true);

    const c = buildHostCandidates(host(), [source], ctx);
    const d = c.devices[0]!;
    expect(d.resources).toEqual([]);
    expect(d.reasons.map((r) => r.code)).toEqual(["descriptor-mismatch"]);
    expect(objectElements(d.resources)).toBe(true);
  });

  it("HostPool: a part with no resource, a VM of no parts, and copies of empty lists", () => {
    const pool = new HostPool("dst", new Compactor());
    const part = pool.part(buildHostCandidates(host(), [source], ctx));
    expect(part.device.resources).toEqual([]);
    expect(objectElements(part.device.resources)).toBe(true);
    expect(objectElements(part.warnings)).toBe(true);

    const vm = pool.assemble("no devices", []);
    expect(vm.devices).toEqual([]);
    expect(objectElements(vm.devices)).toBe(true);
    expect(objectElements(vm.warnings)).toBe(true);
    const two = pool.assemble("two", [part, part]);
    expect(objectElements(two.warnings)).toBe(true);

    const copy = new Compactor().copy({ a: [] as string[] });
    expect(copy).toEqual({ a: [] });
    expect(objectElements(copy.a)).toBe(true);
  });
});

describe("the warnings list of a host report", () => {
  it("is of that class for every VM of the sample source on every sample host, none or some", () => {
    const samples = join(ROOT, "xml-samples");
    const load = (name: string) =>
      buildInventory(readDumpDir(join(samples, "hosts", name), name, join(samples, "hosts", name)));
    const source = load("src-host");
    const selector = new DescriptorSelector(loadDescriptorDir(join(samples, "descriptors")));
    const sampleHosts = readdirSync(join(samples, "hosts"))
      .filter((h) => /^host-/.test(h))
      .map(load);
    // and each host again with a warning of its own (as a host whose kernel version could not be read has)
    const warned = sampleHosts.map((h) => ({
      ...h,
      key: `${h.key}-warned`,
      warnings: [reason("kernel-version-unverified", `${h.key}: the kernel version could not be read`)],
    }));
    const hosts = [...sampleHosts, ...warned];
    const opts = { assumeVersions: false, explain: false };
    const lengths = new Set<boolean>();
    for (const domain of domainsToMove(source, true)) {
      const ctx = evalContext({ domain, source, selector, opts });
      for (const h of hosts) {
        const r = evaluateHost(ctx, h);
        lengths.add(r.warnings.length > 0);
        expect(objectElements(r.warnings), `${domain.name} on ${h.key}`).toBe(true);
      }
    }
    expect([...lengths].sort()).toEqual([false, true]);
  });
});
