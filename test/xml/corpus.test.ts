/**
 * Corpus tests against libvirt's own test data (read in place from
 * ../shared/corpus/libvirt beside the checkout, or $HDPLAN_CORPUS; never
 * copied into the repository). Skipped outside CI when the folder is missing;
 * under CI=1 a missing folder fails them (test/helpers/corpus.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import type { NodeDevice } from "../../src/model.js";
import { readDomain } from "../../src/xml/domain.js";
import { readNetwork } from "../../src/xml/network.js";
import { readNodeDevices } from "../../src/xml/nodedev.js";
import { assertCorpus, corpusDir, corpusRequired } from "../helpers/corpus.js";
import { hostPciAddress } from "../../src/model.js";

const dir = corpusDir;
const xmlFiles = (d: string) =>
  readdirSync(assertCorpus(d))
    .filter((f) => f.endsWith(".xml"))
    .sort();
const read = (d: string, f: string) => readFileSync(join(dir(d), f), "utf8");

/** Negative inputs that libvirt itself rejects (corpus README). */
const NEGATIVE_DOMAINS = new Set([
  "hostdev-mdev-display-missing-graphics.xml",
  "hostdev-mdev-src-address-invalid.xml",
  "hostdev-mdev-invalid-target-address.xml",
  "hostdev-subsys-mdev-vfio-ap-boot-fail.xml",
  "net-hostdev-fail.xml",
]);

describe.runIf(corpusRequired("domain"))("corpus: domain/", () => {
  it("reads every domain file (negative ones: a read or an InputError)", () => {
    let read_ok = 0;
    let rejected = 0;
    for (const f of xmlFiles("domain")) {
      const text = read("domain", f);
      if (NEGATIVE_DOMAINS.has(f)) {
        try {
          readDomain(text, f);
          read_ok++;
        } catch (e) {
          expect(e, f).toBeInstanceOf(InputError);
          expect((e as Error).message, f).toContain(f);
          rejected++;
        }
        continue;
      }
      const d = readDomain(text, f);
      expect(d.name, f).not.toBe("");
      expect(d.devices.length, f).toBeGreaterThan(0);
      const ids = d.devices.map((x) => x.id);
      expect(new Set(ids).size, `${f}: unique ids`).toBe(ids.length);
      read_ok++;
    }
    console.log(`corpus domain/: ${read_ok} files read, ${rejected} negative files rejected with InputError`);
    expect(read_ok + rejected).toBe(xmlFiles("domain").length);
  });

  it("spot-checks devices", () => {
    const get = (f: string) => readDomain(read("domain", f), f);
    expect(() => get("hostdev-mdev-src-address-invalid.xml")).toThrow(InputError);

    const multi = get("hostdev-vfio-multidomain.xml").devices[0]!;
    expect(multi).toMatchObject({
      id: "pci0",
      hostAddress: "0021:de:1f.1",
      managed: true,
      driverName: "vfio",
    });

    const teaming = get("net-virtio-teaming.xml").devices;
    expect(teaming.map((d) => [d.id, d.kind, hostPciAddress(d)])).toEqual([
      ["interface0", "interface", "0000:03:07.1"],
      ["interface1", "interface", "0000:03:07.2"],
    ]);
    expect(teaming[1]!.teaming).toEqual({ type: "transient", persistent: "ua-backup1" });

    const tnet = get("net-virtio-teaming-network.xml").devices;
    expect(tnet.map((d) => [d.id, d.kind, d.kindIndex, "network" in d ? d.network : undefined])).toEqual([
      ["ua-backup0", "network", 0, "mybridge"],
      ["network1", "network", 1, "myhostdevpool"],
    ]);

    const th = get("net-virtio-teaming-hostdev.xml").devices;
    expect(th.map((d) => d.id)).toEqual(["pci0", "pci1"]);
    expect(th[0]!.guestAddress).toEqual({
      type: "pci",
      domain: "0x0000",
      bus: "0x00",
      slot: "0x05",
      function: "0x0",
    });

    const rom = get("pci-rom.xml").devices;
    expect(rom.map((d) => d.rom)).toEqual([{ bar: "off" }, { bar: "on", file: "/etc/fake/bootrom.bin" }]);

    const ramfb = get("hostdev-mdev-display-ramfb.xml").devices[0]!;
    expect(ramfb).toMatchObject({
      kind: "mdev",
      mdevUuid: "53764d0e-85a0-42b4-af5c-2046b460b1dc",
      mdevModel: "vfio-pci",
      display: "on",
      ramfb: "on",
    });

    const zpci = get("hostdev-vfio-zpci.xml").devices[0]!;
    expect(zpci).toMatchObject({ hostAddress: "0000:00:00.0", managed: false });

    const nh = get("net-hostdev.xml").devices[0]!;
    expect(nh).toMatchObject({
      kind: "interface",
      hostAddress: "0000:03:07.1",
      mac: "00:11:22:33:44:55",
      vlan: { tags: [{ id: "42" }] },
    });

    expect(get("hostdev-usb-address.xml").devices[0]).toMatchObject({
      kind: "usb",
      usb: { bus: "14", device: "6" },
    });
    expect(get("hostdev-scsi-virtio-iscsi.xml").devices.map((d) => d.id)).toEqual(["scsi0", "scsi1"]);
    expect(get("hostdev-scsi-vhost-scsi-pci.xml").devices[0]).toMatchObject({ kind: "scsi_host" });
    expect(get("hostdev-subsys-mdev-vfio-ccw.xml").devices[0]).toMatchObject({
      kind: "mdev",
      mdevModel: "vfio-ccw",
    });
    expect(get("hostdev-pci-address-unassigned.xml").devices[1]!.guestAddress).toEqual({
      type: "unassigned",
    });
  });
});

describe.runIf(corpusRequired("nodedev"))("corpus: nodedev/", () => {
  const all = new Map<string, NodeDevice[]>();
  it("reads every node device file", () => {
    for (const f of xmlFiles("nodedev")) {
      const devs = readNodeDevices(read("nodedev", f), f);
      expect(devs.length, f).toBe(1);
      expect(devs[0]!.caps.length, f).toBeGreaterThan(0);
      all.set(f, devs);
    }
    console.log(`corpus nodedev/: ${all.size} files read`);
    expect(all.size).toBe(xmlFiles("nodedev").length);
  });

  const dev = (f: string) => readNodeDevices(read("nodedev", f), f)[0]!;
  it("gets the capabilities right", () => {
    for (const f of xmlFiles("nodedev")) {
      const d = dev(f);
      const first = d.caps[0];
      if (f.startsWith("pci_") && !f.includes("scsi_host")) expect(d.pci, f).toBeDefined();
      if (f.startsWith("mdev_")) expect(first, f).toBe("mdev");
      if (f.startsWith("css_")) expect(d.css, f).toBeDefined();
      if (first === "pci") expect(d.pci!.address, f).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2,}:[0-9a-f]{2}\.[0-7]$/);
    }
  });

  it("spot-checks values", () => {
    const mt = dev("pci_0000_02_10_7_mdev_types.xml").pci!;
    expect(mt.address).toBe("0000:02:10.7");
    expect(mt.vendorId).toBe("8086");
    expect(mt.productId).toBe("10ca");
    expect(mt.mdevTypes).toEqual([
      { id: "foo1", name: "bar1", deviceAPI: "vfio-pci", availableInstances: 1 },
      { id: "foo2", name: "bar2", deviceAPI: "vfio-pci", availableInstances: 2 },
    ]);
    expect(mt.iommuGroup).toEqual({ number: 31, members: ["0000:02:10.7"] });
    expect(mt.numaNode).toBe(0);

    expect(dev("pci_0000_02_10_7_sriov.xml").pci!.physFunction).toBe("0000:02:00.1");
    expect(dev("pci_0000_02_10_7_sriov_vfs.xml").pci!.virtFunctions).toEqual([
      "0000:02:00.2",
      "0000:02:00.3",
      "0000:02:00.4",
      "0000:02:00.5",
    ]);
    const zero = dev("pci_0000_02_10_7_sriov_zero_vfs_max_count.xml").pci!;
    expect(zero.virtFunctions).toEqual([]);
    expect(zero.virtFunctionsMax).toBe(3);
    expect(dev("pci_8086_10c9_sriov_pf.xml").pci!.iommuGroup).toEqual({
      number: 12,
      members: ["0000:02:00.0", "0000:02:00.1"],
    });
    const vpd = dev("pci_0000_42_00_0_vpd.xml").pci!;
    expect(vpd.address).toBe("0000:42:00.0");
    expect(vpd.class).toBe("0x020000");
    expect(vpd.virtFunctionsMax).toBe(16);
    expect(vpd.vpd?.["readonly.part_number"]).toBe("MBF2H332A-AEEOT");
    expect(vpd.vpd?.["readwrite.vendor_field.A"]).toBe("vendorfieldA");

    expect(dev("pci_82579LM_network_adapter.xml").driver).toBe("e1000e");
    expect(dev("computer.xml").caps).toEqual(["system"]);

    const css = dev("css_0_0_fffe_mdev_types.xml");
    expect(css.parent).toBe("computer");
    expect(css.css?.devno).toBe("0xfffe");
    expect(css.css?.mdevTypes[0]).toMatchObject({
      id: "vfio_ccw-io",
      deviceAPI: "vfio-ccw",
      availableInstances: 1,
    });
    const ap = dev("ap_matrix_mdev_types.xml");
    expect(ap.apMatrix?.mdevTypes).toEqual([
      {
        id: "vfio_ap-passthrough",
        name: "VFIO AP Passthrough Device",
        deviceAPI: "vfio-ap",
        availableInstances: 65536,
      },
    ]);

    const apMdev = dev("mdev_ee0b88c4_f554_4dc1_809d_b2a01e8e48ad.xml");
    expect(apMdev.parent).toBe("ap_matrix");
    expect(apMdev.mdev).toEqual({ type: "vfio_ap-passthrough", iommuGroup: 0, attrs: [] });
    const ccwMdev = dev("mdev_c60cc60c_c60c_c60c_c60c_c60cc60cc60c.xml");
    expect(ccwMdev.parent).toBe("css_0_0_0052");
    expect(ccwMdev.driver).toBe("vfio_ccw_mdev");
    expect(ccwMdev.mdev).toMatchObject({
      type: "vfio_ccw-io",
      uuid: "c60cc60c-c60c-c60c-c60c-c60cc60cc60c",
      iommuGroup: 4,
    });
    expect(dev("mdev_autostart.xml").mdev?.attrs).toEqual([
      { name: "example-attribute", value: "attribute-value" },
    ]);
    expect(dev("mdev_d069d019_36ea_4111_8f0a_8c9a70e21366.xml").mdev?.iommuGroup).toBeUndefined();
  });
});

describe.runIf(corpusRequired("nodedev-invalid"))("corpus: nodedev-invalid/", () => {
  it("rejects every file with InputError (devno out of range)", () => {
    let n = 0;
    for (const f of xmlFiles("nodedev-invalid")) {
      expect(() => readNodeDevices(read("nodedev-invalid", f), f), f).toThrow(InputError);
      expect(() => readNodeDevices(read("nodedev-invalid", f), f), f).toThrow(f);
      n++;
    }
    console.log(`corpus nodedev-invalid/: ${n} files rejected with InputError`);
    expect(n).toBe(3);
  });
});

describe.runIf(corpusRequired("network"))("corpus: network/", () => {
  it("reads every network file", () => {
    let n = 0;
    for (const f of xmlFiles("network")) {
      const net = readNetwork(read("network", f), f);
      expect(net.forwardMode, f).toBe("hostdev");
      n++;
    }
    console.log(`corpus network/: ${n} files read`);
    expect(readNetwork(read("network", "hostdev.xml"), "hostdev.xml").functions).toEqual([
      "0000:03:00.1",
      "0000:03:00.2",
      "0000:03:00.3",
      "0000:03:00.4",
    ]);
    expect(readNetwork(read("network", "hostdev-pf-driver-model.xml"), "x").pf).toBe("eth2");
  });
});

describe.runIf(corpusRequired("mdevctl"))("corpus: mdevctl/ (node device XML)", () => {
  it("reads every node device XML file", () => {
    let files = 0;
    let devices = 0;
    for (const f of xmlFiles("mdevctl")) {
      const devs = readNodeDevices(read("mdevctl", f), f);
      for (const d of devs) expect(d.mdev, `${f} ${d.name}`).toBeDefined();
      files++;
      devices += devs.length;
    }
    console.log(`corpus mdevctl/: ${files} node device XML files read (${devices} devices)`);
    const multi = readNodeDevices(read("mdevctl", "mdevctl-list-multiple.out.xml"), "m");
    expect(multi.map((d) => d.mdev!.type)).toEqual([
      "i915-GVTg_V5_4",
      "i915-GVTg_V5_4",
      "i915-GVTg_V5_8",
      "vfio_ap-passthrough",
    ]);
    expect(multi[3]!.mdev!.attrs).toHaveLength(6);
    expect(multi[3]!.parent).toBe("matrix");
  });
});
