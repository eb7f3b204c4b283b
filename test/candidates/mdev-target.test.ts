/**
 * MdevTarget.parentAddress (issue #12): the parent's PCI address when the
 * parent is a PCI function, null for a ccw subchannel parent; it is not part
 * of cli.md's JSON (targetJson), and a plan file read back gets it from the
 * parent's node device name.
 */
import { describe, expect, it } from "vitest";
import { buildHostCandidates } from "../../src/candidates/destination.js";
import type { MdevSource, MdevTarget } from "../../src/candidates/types.js";
import { deriveMdevDescriptor } from "../../src/descriptors/derive.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import type { NodeDevice } from "../../src/model.js";
import { targetFromJson, targetJson } from "../../src/output/json.js";
import { readDomain } from "../../src/xml/domain.js";
import { fakeHost, pciFn } from "./fake-host.js";

const gpu: NodeDevice = {
  ...pciFn("0000:3b:00.0", {
    driver: "nvidia",
    vendorId: "10de",
    productId: "26b9",
    mdevTypes: [{ id: "nvidia-558", deviceAPI: "vfio-pci", availableInstances: 2 }],
  }),
  name: "pci_0000_3b_00_0",
};
const subchannel: NodeDevice = {
  name: "css_0_0_0023",
  driver: "vfio_ccw",
  caps: ["css"],
  css: {
    cssid: "0x0",
    ssid: "0x0",
    devno: "0x0023",
    mdevTypes: [{ id: "vfio_ccw-io", deviceAPI: "vfio-ccw", availableInstances: 1 }],
  },
};
const host = fakeHost({ devices: [gpu, subchannel] });

// vfio-ccw has no migration support in-tree: an operator descriptor file
// vouches for it here so that the candidate step reaches the target.
const ccwFile = {
  path: "ccw.conf",
  hostKey: null,
  identity: { mdev_type: "vfio_ccw-io" },
  descriptor: { self: { mdev_type: "vfio_ccw-io", migratable: "1" }, compatible: [] },
};
const selector = new DescriptorSelector([ccwFile]);

function source(parent: NodeDevice, mdevType: string, version?: string): MdevSource {
  const domain = readDomain(
    `<domain type='kvm'><name>vm</name><devices><hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214'/></source></hostdev></devices></domain>`,
    "vm.xml",
  );
  const dev = domain.devices[0];
  if (dev?.kind !== "mdev") throw new Error("expected an mdev hostdev");
  const { descriptor, origin } = selector.select("src", deriveMdevDescriptor(parent, mdevType, version));
  return {
    dev,
    need: "mdev",
    mdevUuid: dev.mdevUuid,
    mdevType,
    summary: "mdev",
    blockers: [],
    warnings: [],
    gate: null,
    transient: false,
    descriptor,
    descriptorOrigin: origin,
  };
}

function onlyTarget(s: MdevSource): MdevTarget {
  const c = buildHostCandidates(host, [s], {
    selector,
    gateOpts: { assumeVersions: true },
    multiVfio: false,
  });
  const targets = [...c.resources.values()].map((r) => r.target);
  expect(c.devices[0]?.reasons).toEqual([]);
  expect(targets).toHaveLength(1);
  const t = targets[0];
  if (t?.kind !== "mdev") throw new Error("expected an mdev target");
  return t;
}

describe("MdevTarget.parentAddress", () => {
  it("is the parent's PCI address for a PCI parent", () => {
    const t = onlyTarget(source(gpu, "nvidia-558", "550.127.05"));
    expect(t).toMatchObject({ parent: "pci_0000_3b_00_0", parentAddress: "0000:3b:00.0", create: true });
  });

  it("is null for a ccw subchannel parent", () => {
    const t = onlyTarget(source(subchannel, "vfio_ccw-io"));
    expect(t).toMatchObject({ parent: "css_0_0_0023", parentAddress: null, create: true });
  });

  it("is not printed (cli.md) and comes back from the parent's node device name", () => {
    for (const parent of [gpu, subchannel]) {
      const t = onlyTarget(source(parent, parent === gpu ? "nvidia-558" : "vfio_ccw-io", "550.127.05"));
      const j = targetJson(t);
      expect(Object.keys(j)).not.toContain("parentAddress");
      expect(targetFromJson(JSON.parse(JSON.stringify(j)))).toEqual(t);
    }
  });
});
