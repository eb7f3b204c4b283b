import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readNodeDevices } from "../../src/xml/nodedev.js";
import { readNodeDevicesReference } from "../helpers/reference-nodedev.js";
import { CORPUS_ROOT, assertCorpus, corpusRequired, xmlFilesUnder } from "../helpers/corpus.js";

const one = (xml: string) => {
  const d = readNodeDevices(xml, "n.xml");
  expect(d).toHaveLength(1);
  return d[0]!;
};

const PCI = `<device>
  <name>pci_0000_41_00_0</name>
  <path>/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.0</path>
  <parent>pci_0000_40_01_1</parent>
  <driver><name>nvidia</name></driver>
  <capability type='pci'>
    <class>0x030200</class>
    <domain>0</domain><bus>65</bus><slot>0</slot><function>0</function>
    <product id='0x1EB8'>TU104GL [Tesla T4]</product>
    <vendor id='0x10de'>NVIDIA Corporation</vendor>
    <capability type='mdev_types'>
      <type id='nvidia-222'><name>GRID T4-1B</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>16</availableInstances></type>
      <type id='nvidia-223'><name>GRID T4-2B</name><deviceAPI>vfio-pci</deviceAPI></type>
      <type id='nvidia-224'><availableInstances>lots</availableInstances></type>
    </capability>
    <capability type='virt_functions' maxCount='16'>
      <address domain='0x0000' bus='0x41' slot='0x00' function='0x4'/>
      <address domain='0x0000' bus='0x41' slot='0x00' function='0x5'/>
    </capability>
    <iommuGroup number='40'>
      <address domain='0x0000' bus='0x41' slot='0x00' function='0x0'/>
      <address domain='0x0000' bus='0x41' slot='0x00' function='0x1'/>
    </iommuGroup>
    <numa node='1'/>
  </capability>
</device>`;

describe("readNodeDevices: pci", () => {
  it("reads every pci field", () => {
    const d = one(PCI);
    expect(d.name).toBe("pci_0000_41_00_0");
    expect(d.path).toContain("0000:41:00.0");
    expect(d.parent).toBe("pci_0000_40_01_1");
    expect(d.driver).toBe("nvidia");
    expect(d.caps).toEqual(["pci"]);
    expect(d.pci).toEqual({
      address: "0000:41:00.0",
      class: "0x030200",
      vendorId: "10de",
      productId: "1eb8",
      vendorName: "NVIDIA Corporation",
      productName: "TU104GL [Tesla T4]",
      iommuGroup: { number: 40, members: ["0000:41:00.0", "0000:41:00.1"] },
      numaNode: 1,
      virtFunctions: ["0000:41:00.4", "0000:41:00.5"],
      virtFunctionsMax: 16,
      mdevTypes: [
        { id: "nvidia-222", name: "GRID T4-1B", deviceAPI: "vfio-pci", availableInstances: 16 },
        { id: "nvidia-223", name: "GRID T4-2B", deviceAPI: "vfio-pci" },
        { id: "nvidia-224" },
      ],
    });
  });
  it("reads a VF's phys_function and a null driver", () => {
    const d = one(`<device><name>pci_0000_02_10_7</name><capability type='pci'>
      <domain>0</domain><bus>2</bus><slot>16</slot><function>7</function>
      <product id='0x10ca'/><vendor id='0x8086'/>
      <capability type='phys_function'><address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/></capability>
    </capability></device>`);
    expect(d.driver).toBeNull();
    expect(d.pci!.address).toBe("0000:02:10.7");
    expect(d.pci!.physFunction).toBe("0000:02:00.1");
    expect(d.pci!.virtFunctions).toEqual([]);
  });
  it("reads vpd as a flat record", () => {
    const d = one(`<device><name>p</name><capability type='pci'>
      <domain>0</domain><bus>66</bus><slot>0</slot><function>0</function><product id='0xa2d6'/><vendor id='0x15b3'/>
      <capability type='vpd'><name>Card</name>
        <fields access='readonly'><part_number>PN1</part_number><vendor_field index='0'>v0</vendor_field></fields>
        <fields access='readwrite'><asset_tag>tag</asset_tag></fields>
      </capability></capability></device>`);
    expect(d.pci!.vpd).toEqual({
      name: "Card",
      "readonly.part_number": "PN1",
      "readonly.vendor_field.0": "v0",
      "readwrite.asset_tag": "tag",
    });
  });
  it("rejects a pci capability without address parts, naming file and device", () => {
    expect(() =>
      readNodeDevices(
        `<device><name>pci_x</name><capability type='pci'><domain>0</domain><bus>1</bus><slot>0</slot>
        <product id='0x1'/><vendor id='0x2'/></capability></device>`,
        "n.xml",
      ),
    ).toThrow(/n\.xml.*pci_x.*<function>/);
    expect(() =>
      readNodeDevices(
        `<device><name>pci_x</name><capability type='pci'><domain>0</domain><bus>x</bus><slot>0</slot><function>0</function>
        <product id='0x1'/><vendor id='0x2'/></capability></device>`,
        "n.xml",
      ),
    ).toThrow(InputError);
  });
});

describe("readNodeDevices: other capabilities", () => {
  it("reads an mdev", () => {
    const d = one(`<device><name>mdev_x</name><parent>pci_0000_00_02_0</parent><capability type='mdev'>
      <type id='i915-GVTg_V5_8'/><attr name='a' value='1'/><uuid>D069D019-36EA-4111-8F0A-8C9A70E21366</uuid>
      <iommuGroup number='12'/></capability></device>`);
    expect(d.caps).toEqual(["mdev"]);
    expect(d.mdev).toEqual({
      type: "i915-GVTg_V5_8",
      uuid: "d069d019-36ea-4111-8f0a-8c9a70e21366",
      iommuGroup: 12,
      attrs: [{ name: "a", value: "1" }],
    });
  });
  it("rejects an mdev without type", () => {
    expect(() =>
      readNodeDevices("<device><name>m</name><capability type='mdev'/></device>", "n.xml"),
    ).toThrow(/type id/);
  });
  it("reads css with nested mdev_types and ap_matrix", () => {
    const d = readNodeDevices(
      `<device><name>css_0_0_fffe</name><parent>computer</parent><capability type='css'>
        <cssid>0x0</cssid><ssid>0x0</ssid><devno>0xfffe</devno>
        <capability type='mdev_types'><type id='vfio_ccw-io'><deviceAPI>vfio-ccw</deviceAPI>
        <availableInstances>1</availableInstances></type></capability></capability></device>
       <device><name>ap_matrix</name><capability type='ap_matrix'><capability type='mdev_types'>
        <type id='vfio_ap-passthrough'><availableInstances>65536</availableInstances></type></capability></capability></device>`,
      "n.xml",
    );
    expect(d).toHaveLength(2);
    expect(d[0]!.css).toEqual({
      cssid: "0x0",
      ssid: "0x0",
      devno: "0xfffe",
      mdevTypes: [{ id: "vfio_ccw-io", deviceAPI: "vfio-ccw", availableInstances: 1 }],
    });
    expect(d[1]!.apMatrix).toEqual({ mdevTypes: [{ id: "vfio_ap-passthrough", availableInstances: 65536 }] });
  });
  it("rejects out-of-range ccw/css numbers", () => {
    expect(() =>
      readNodeDevices(
        "<device><name>c</name><capability type='css'><devno>0x10000</devno></capability></device>",
        "c.xml",
      ),
    ).toThrow(/c\.xml.*devno/);
    expect(() =>
      readNodeDevices(
        "<device><name>c</name><capability type='ccw'><ssid>0x4</ssid></capability></device>",
        "c.xml",
      ),
    ).toThrow(InputError);
  });
  it("reads usb_device and net", () => {
    const d = readNodeDevices(
      `<devices>
        <device><name>usb_1_2</name><capability type='usb_device'><bus>1</bus><device>2</device>
          <product id='0x0001'>root hub</product><vendor id='0x1D6B'>Linux Foundation</vendor></capability></device>
        <device><name>net_eth0_00_11</name><parent>pci_0000_00_19_0</parent><capability type='net'>
          <interface>eth0</interface><address>00:11:22:33:44:AA</address><link state='up' speed='1000'/>
          <capability type='80203'/></capability></device>
      </devices>`,
      "n.xml",
    );
    expect(d[0]!.usb).toEqual({
      bus: 1,
      device: 2,
      vendorId: "1d6b",
      productId: "0001",
      vendorName: "Linux Foundation",
      productName: "root hub",
    });
    expect(d[1]!.caps).toEqual(["net"]);
    expect(d[1]!.net).toEqual({ interface: "eth0", address: "00:11:22:33:44:aa", linkState: "up" });
  });
  it("reads concatenated documents, with XML declarations, keeping line numbers in errors", () => {
    const d = readNodeDevices(
      `<?xml version="1.0" encoding="UTF-8"?>\n<device><name>a</name><capability type='system'/></device>\n` +
        `<?xml version="1.0"?>\n<device><name>b</name><capability type='system'/></device>\n\n`,
      "n.xml",
    );
    expect(d.map((x) => x.name)).toEqual(["a", "b"]);
    expect(() =>
      readNodeDevices("<device><name>a</name></device>\n<device><name>b</name>\n</devic>", "n.xml"),
    ).toThrow(/n\.xml:3/);
    expect(() => readNodeDevices("<device><name>a</name></device> junk", "n.xml")).toThrow(/outside/);
    expect(() => readNodeDevices("   ", "n.xml")).toThrow(InputError);
    expect(() => readNodeDevices('<!DOCTYPE x [<!ENTITY a "b">]><device/>', "n.xml")).toThrow(/DOCTYPE/);
  });
  it("rejects a wrong root, a missing name, a capability without type", () => {
    expect(() => readNodeDevices("<domain/>", "n.xml")).toThrow(/n\.xml.*<device>/);
    expect(() => readNodeDevices("<device><parent>x</parent></device>", "n.xml")).toThrow(/no <name>/);
    expect(() => readNodeDevices("<device><name>x</name><capability/></device>", "n.xml")).toThrow(
      InputError,
    );
  });
});

describe("readNodeDevices over the flat document: the same models as the tree reader", () => {
  const files = () => [
    ...xmlFilesUnder(join(CORPUS_ROOT, "nodedev")),
    ...xmlFilesUnder(join(import.meta.dirname, "../../xml-samples")).filter((f) => f.includes("/nodedev/")),
  ];
  /** Both readers give the same devices, or both refuse the text with the same message. */
  const agree = (text: string, f: string): "read" | "refused" => {
    let want: unknown;
    try {
      want = readNodeDevicesReference(text, f);
    } catch (e) {
      expect(e, f).toBeInstanceOf(InputError);
      expect(() => readNodeDevices(text, f), f).toThrow((e as Error).message);
      return "refused";
    }
    expect(readNodeDevices(text, f), f).toEqual(want);
    return "read";
  };

  it("on every corpus and sample node device file", () => {
    if (corpusRequired("nodedev")) assertCorpus("nodedev");
    let compared = 0;
    for (const f of files()) if (agree(readFileSync(f, "utf8"), f) === "read") compared++;
    expect(compared).toBeGreaterThan(20);
  });

  it("on those files with their texts and values spelled otherwise, and with parts cut out", () => {
    if (corpusRequired("nodedev")) assertCorpus("nodedev");
    // Each variant keeps the meaning for a conformant parser (references,
    // CDATA, comments, CRLF) or cuts an element or attribute out; a seeded
    // generator, so a failure names a reproducible variant.
    let seed = 14;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const variants = (t: string): string[] => [
      t.replace(/>([^<\s][^<]*)</g, (_m, x: string) => `><!-- c -->${x.replace(/a/g, "&#x61;")}<`),
      t.replace(/>([^<\s][^<]*)</g, (_m, x: string) => `><![CDATA[${x}]]><?pi x?><`),
      t.replace(/\n/g, "\r\n").replace(/'([^'&<]*)'/g, (_m, v: string) => `"${v.replace(/0/g, "&#48;")}"`),
      t.replace(/ (id|type|number|bus|slot|domain|function)='[^']*'/, (m) => (rnd(2) ? "" : m)),
      (() => {
        const tags = [...t.matchAll(/<([a-z_A-Z]+)[ >][^<]*<\/\1>/g)];
        const m = tags[rnd(Math.max(1, tags.length))];
        return m ? t.slice(0, m.index) + t.slice(m.index! + m[0].length) : t;
      })(),
    ];
    let read = 0;
    let refused = 0;
    for (const f of files()) {
      for (const v of variants(readFileSync(f, "utf8"))) {
        if (agree(v, f) === "read") read++;
        else refused++;
      }
    }
    expect(read).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(0);
  });

  it("still validates what it does not build", () => {
    const bad =
      "<device><name>d</name><capability type='pci'><pci-express><link x='&#1;'/></pci-express></capability></device>";
    expect(() => readNodeDevices(bad, "n.xml")).toThrow(/malformed XML/);
    expect(() =>
      readNodeDevices("<device><name>d</name><feature><p:x/></feature></device>", "n.xml"),
    ).toThrow(/undeclared namespace prefix/);
  });
});
