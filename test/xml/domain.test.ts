import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { guestAddressKey, readDomain } from "../../src/xml/domain.js";
import { hostPciAddress, isManaged } from "../../src/model.js";

const dom = (devices: string, extra = "") =>
  `<domain type='kvm'><name>vm1</name><uuid>C2177883-0000-4000-8000-000000000001</uuid>${extra}<devices>${devices}</devices></domain>`;

describe("readDomain: identity", () => {
  it("reads name, uuid, hypervisor type", () => {
    const d = readDomain(dom(""), "d.xml");
    expect(d.name).toBe("vm1");
    expect(d.uuid).toBe("c2177883-0000-4000-8000-000000000001");
    expect(d.hypervisorType).toBe("kvm");
    expect(d.devices).toEqual([]);
    expect(d.novaManaged).toBe(false);
    expect(d.plannerMetadata).toEqual([]);
  });
  it("rejects a wrong root naming the file", () => {
    expect(() => readDomain("<network><name>x</name></network>", "n.xml")).toThrow(InputError);
    expect(() => readDomain("<network><name>x</name></network>", "n.xml")).toThrow(/n\.xml.*<domain>/);
  });
  it("rejects a domain without a name", () => {
    expect(() => readDomain("<domain type='kvm'><devices/></domain>", "d.xml")).toThrow(/no <name>/);
  });
  it("rejects malformed XML with InputError", () => {
    expect(() => readDomain("<domain><name>x</name>", "bad.xml")).toThrow(InputError);
  });
});

describe("readDomain: pci hostdev", () => {
  const xml = dom(`
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source><address domain='0x0000' bus='0x06' slot='0x12' function='0x5'/></source>
      <rom bar='on' file='/x.bin'/>
      <teaming type='transient' persistent='ua-backup0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='pci'>
      <source><address domain='0x0021' bus='222' slot='31' function='1'/></source>
      <alias name='hostdev7'/>
    </hostdev>`);
  const d = readDomain(xml, "d.xml");
  it("normalises host address, managed, guest address, rom, driver, teaming", () => {
    const p = d.devices[0]!;
    expect(p).toMatchObject({
      id: "pci0",
      alias: null,
      kind: "pci",
      kindIndex: 0,
      element: "hostdev",
      mode: "subsystem",
      type: "pci",
      hostAddress: "0000:06:12.5",
      managed: true,
      driverName: "vfio",
      rom: { bar: "on", file: "/x.bin" },
      teaming: { type: "transient", persistent: "ua-backup0" },
      guestAddress: { type: "pci", domain: "0x0000", bus: "0x00", slot: "0x05", function: "0x0" },
    });
  });
  it("reads decimal attributes, defaults managed to false, uses the alias as id", () => {
    const p = d.devices[1]!;
    expect(hostPciAddress(p)).toBe("0021:de:1f.1");
    expect(isManaged(p)).toBe(false);
    expect(p.id).toBe("hostdev7");
    expect(p.alias).toBe("hostdev7");
    expect(p.kindIndex).toBe(1);
    expect(p.guestAddress).toBeNull();
  });
  it("rejects a pci hostdev without a source address", () => {
    expect(() =>
      readDomain(dom("<hostdev mode='subsystem' type='pci'><source/></hostdev>"), "x.xml"),
    ).toThrow(/x\.xml.*<source><address/);
  });
  it("rejects a source address without slot or a bad number", () => {
    expect(() =>
      readDomain(dom("<hostdev type='pci'><source><address bus='0x1'/></source></hostdev>"), "x.xml"),
    ).toThrow(/slot/);
    expect(() =>
      readDomain(dom("<hostdev type='pci'><source><address bus='zz' slot='1'/></source></hostdev>"), "x.xml"),
    ).toThrow(InputError);
  });
  it("rejects unknown hostdev types and teaming types", () => {
    expect(() => readDomain(dom("<hostdev mode='subsystem' type='foo'/>"), "x.xml")).toThrow(
      /unknown hostdev type/,
    );
    expect(() =>
      readDomain(
        dom("<hostdev type='pci'><source><address bus='1' slot='0'/></source><teaming type='x'/></hostdev>"),
        "x.xml",
      ),
    ).toThrow(/teaming/);
  });
});

describe("readDomain: mdev, usb, scsi, capabilities", () => {
  const xml = dom(`
    <hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on' ramfb='on'>
      <source><address uuid='53764D0E-85A0-42B4-AF5C-2046B460B1DC'/></source>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </hostdev>
    <hostdev mode='subsystem' type='usb' managed='no'>
      <source><vendor id='0x1D6B'/><product id='2'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source><address bus='14' device='0x6'/></source>
    </hostdev>
    <hostdev mode='subsystem' type='scsi'>
      <source><adapter name='scsi_host0'/><address bus='0' target='1' unit='2'/></source>
      <address type='drive' controller='0' bus='0' target='4' unit='8'/>
    </hostdev>
    <hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>
    <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>
    <hostdev mode='subsystem' type='mdev' model='vfio-ccw'>
      <source><address uuid='90c6c135ad4441d0b1b7bae47de48627'/></source>
    </hostdev>`);
  const d = readDomain(xml, "d.xml");
  it("reads an mdev", () => {
    expect(d.devices[0]).toMatchObject({
      id: "mdev0",
      kind: "mdev",
      mdevUuid: "53764d0e-85a0-42b4-af5c-2046b460b1dc",
      mdevModel: "vfio-pci",
      display: "on",
      ramfb: "on",
    });
    expect(d.devices[6]).toMatchObject({
      id: "mdev1",
      kindIndex: 1,
      mdevUuid: "90c6c135-ad44-41d0-b1b7-bae47de48627",
    });
  });
  it("reads usb by id and by address", () => {
    expect(d.devices[1]).toMatchObject({
      id: "usb0",
      kind: "usb",
      usb: { vendorId: "1d6b", productId: "0002" },
    });
    expect(d.devices[2]).toMatchObject({ id: "usb1", usb: { bus: "14", device: "6" } });
  });
  it("reads scsi, scsi_host and capabilities with a detail", () => {
    expect(d.devices[3]).toMatchObject({ id: "scsi0", kind: "scsi", detail: "scsi_host0:0:1:2" });
    expect(d.devices[4]).toMatchObject({
      id: "scsi_host0",
      kind: "scsi_host",
      detail: "vhost naa.5123456789abcde0",
    });
    expect(d.devices[5]).toMatchObject({ id: "capabilities0", kind: "capabilities", mode: "capabilities" });
    expect(d.devices[5]).toHaveProperty("detail", expect.stringContaining("/dev/sdf1"));
  });
  it("rejects an mdev without uuid and a usb without identity", () => {
    expect(() =>
      readDomain(
        dom(
          "<hostdev type='mdev' model='vfio-pci'><source><address bus='0x06' slot='0x12'/></source></hostdev>",
        ),
        "m.xml",
      ),
    ).toThrow(/m\.xml.*uuid/);
    expect(() =>
      readDomain(dom("<hostdev type='usb'><source><vendor id='0x1'/></source></hostdev>"), "u.xml"),
    ).toThrow(/USB hostdev/);
    expect(() =>
      readDomain(dom("<hostdev type='mdev'><source><address uuid='nope'/></source></hostdev>"), "u.xml"),
    ).toThrow(/not a UUID/);
  });
});

describe("readDomain: interfaces", () => {
  const xml = dom(`
    <interface type='user'><mac address='00:11:22:33:44:55'/><teaming type='persistent'/><alias name='ua-backup0'/></interface>
    <interface type='hostdev' managed='yes'>
      <mac address='00:11:22:33:44:AA'/>
      <driver name='vfio'/>
      <source><address type='pci' domain='0x0000' bus='0x03' slot='0x07' function='0x1'/></source>
      <vlan trunk='yes'><tag id='42'/><tag id='47' nativeMode='untagged'/></vlan>
      <teaming type='transient' persistent='ua-backup0'/>
    </interface>
    <interface type='network'>
      <mac address='00:11:22:33:44:66'/>
      <source network='myhostdevpool'/>
      <teaming type='transient' persistent='ua-backup0'/>
    </interface>
    <interface type='bridge'><source bridge='br0'/></interface>
    <interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface>
    <hostdev mode='subsystem' type='pci'><source><address bus='0x04' slot='0'/></source></hostdev>
    <interface type='hostdev'><source><address type='pci' bus='0x03' slot='0x07' function='0x2'/></source></interface>`);
  const d = readDomain(xml, "d.xml");
  it("keeps only hostdev/network/vdpa interfaces", () => {
    expect(d.devices.map((x) => x.id)).toEqual(["interface0", "network0", "vdpa0", "pci0", "interface1"]);
  });
  it("reads an interface type=hostdev", () => {
    expect(d.devices[0]).toMatchObject({
      kind: "interface",
      element: "interface",
      type: "hostdev",
      hostAddress: "0000:03:07.1",
      managed: true,
      mac: "00:11:22:33:44:aa",
      driverName: "vfio",
      vlan: { trunk: true, tags: [{ id: "42" }, { id: "47", nativeMode: "untagged" }] },
      teaming: { type: "transient", persistent: "ua-backup0" },
    });
    expect(d.devices[4]).toMatchObject({ kindIndex: 1, hostAddress: "0000:03:07.2", managed: false });
  });
  it("reads an interface type=network", () => {
    expect(d.devices[1]).toMatchObject({
      kind: "network",
      network: "myhostdevpool",
      mac: "00:11:22:33:44:66",
      teaming: { type: "transient" },
    });
  });
  it("reads a vdpa interface", () => {
    expect(d.devices[2]).toMatchObject({ kind: "vdpa", detail: "vdpa /dev/vhost-vdpa-0" });
  });
  it("rejects an interface type=hostdev without source address", () => {
    expect(() => readDomain(dom("<interface type='hostdev'><source/></interface>"), "i.xml")).toThrow(
      /i\.xml/,
    );
    expect(() => readDomain(dom("<interface type='network'/>"), "i.xml")).toThrow(/source network/);
  });
});

describe("readDomain: metadata", () => {
  const NOVA = "http://openstack.org/xmlns/libvirt/nova/1.0";
  it("detects nova:instance by namespace with any prefix, or by the nova prefix", () => {
    expect(
      readDomain(
        dom("", `<metadata><n:instance xmlns:n='${NOVA}'><n:name>x</n:name></n:instance></metadata>`),
        "d",
      ).novaManaged,
    ).toBe(true);
    expect(
      readDomain(dom("", `<metadata><nova:instance xmlns:nova='${NOVA}'/></metadata>`), "d").novaManaged,
    ).toBe(true);
    expect(
      readDomain(dom("", `<metadata xmlns:os='${NOVA}'><os:instance/></metadata>`), "d").novaManaged,
    ).toBe(true);
    expect(
      readDomain(dom("", `<metadata><x:instance xmlns:x='urn:other'/></metadata>`), "d").novaManaged,
    ).toBe(false);
    expect(readDomain(dom("", `<nova:instance xmlns:nova='${NOVA}'/>`), "d").novaManaged).toBe(false);
  });

  const plan = (prefix: string, descriptor: string) => `<metadata>
    <other xmlns='urn:x'/>
    <${prefix}:plan xmlns:${prefix}="urn:hostdev-planner:metadata:1">
      <${prefix}:device id="mdev0" kind="mdev" guest-address="pci:0000:00:05.0" mdev-type="nvidia-558" pci-ids="10de:1eb8">
        <${prefix}:descriptor>${descriptor}</${prefix}:descriptor>
      </${prefix}:device>
      <${prefix}:device id="hostdev1" kind="pci"/>
    </${prefix}:plan></metadata>`;
  it("reads the hdplan plan element whatever the prefix", () => {
    const desc =
      '{"self":{"device_api":"vfio-pci","mdev_type":"nvidia-558"},"compatible":[{"mdev_type":"nvidia-{v:int:1,2}"}]}';
    for (const p of ["hdplan", "h"]) {
      const d = readDomain(dom("", plan(p, desc)), "d.xml");
      expect(d.plannerMetadata).toEqual([
        {
          id: "mdev0",
          kind: "mdev",
          guestAddress: "pci:0000:00:05.0",
          mdevType: "nvidia-558",
          pciIds: "10de:1eb8",
          descriptor: {
            self: { device_api: "vfio-pci", mdev_type: "nvidia-558" },
            compatible: [{ mdev_type: "nvidia-{v:int:1,2}" }],
          },
        },
        { id: "hostdev1", kind: "pci", guestAddress: null, descriptor: null },
      ]);
    }
  });
  it("decodes entities in the descriptor JSON", () => {
    const d = readDomain(
      dom("", plan("hdplan", '{"self":{"pv_mode":"a&amp;b &lt;c&gt;"},"compatible":[]}')),
      "d.xml",
    );
    expect(d.plannerMetadata[0]!.descriptor!.self.pv_mode).toBe("a&b <c>");
  });
  it("ignores a plan element in another namespace", () => {
    const d = readDomain(
      dom(
        "",
        `<metadata><hdplan:plan xmlns:hdplan="urn:other"><hdplan:device id="x" kind="pci"/></hdplan:plan></metadata>`,
      ),
      "d",
    );
    expect(d.plannerMetadata).toEqual([]);
  });
  it("rejects invalid descriptor JSON or shape, and bad device records", () => {
    expect(() => readDomain(dom("", plan("hdplan", "{not json")), "d.xml")).toThrow(/d\.xml.*not valid JSON/);
    expect(() => readDomain(dom("", plan("hdplan", '{"self":{"a":1}}')), "d.xml")).toThrow(InputError);
    expect(() => readDomain(dom("", plan("hdplan", '{"self":{},"compatible":{}}')), "d.xml")).toThrow(
      InputError,
    );
    expect(() =>
      readDomain(
        dom(
          "",
          `<metadata><p:plan xmlns:p="urn:hostdev-planner:metadata:1"><p:device kind="pci"/></p:plan></metadata>`,
        ),
        "d",
      ),
    ).toThrow(/without an id/);
    expect(() =>
      readDomain(
        dom(
          "",
          `<metadata><p:plan xmlns:p="urn:hostdev-planner:metadata:1"><p:device id="a" kind="gpu"/></p:plan></metadata>`,
        ),
        "d",
      ),
    ).toThrow(/unknown kind/);
  });
});

describe("guestAddressKey", () => {
  it("handles null and pci", () => {
    expect(guestAddressKey(null)).toBeNull();
    expect(
      guestAddressKey({ type: "pci", domain: "0x0000", bus: "0x00", slot: "0x05", function: "0x0" }),
    ).toBe("pci:0000:00:05.0");
    expect(guestAddressKey({ type: "pci", bus: "0", slot: "31", function: "1" })).toBe("pci:0000:00:1f.1");
    expect(guestAddressKey({ type: "pci", slot: "0x1F", multifunction: "on" })).toBe("pci:0000:00:1f.0");
  });
  it("handles ccw, usb, drive", () => {
    expect(guestAddressKey({ type: "ccw", cssid: "0xFE", ssid: "0x0", devno: "0x0003" })).toBe(
      "ccw:fe.0.0003",
    );
    expect(guestAddressKey({ type: "ccw", cssid: "0xfe", ssid: "0", devno: "0x3" })).toBe("ccw:fe.0.0003");
    expect(guestAddressKey({ type: "usb", bus: "0", port: "1.2" })).toBe("usb:0.1.2");
    expect(guestAddressKey({ type: "drive", controller: "0", bus: "0", target: "4", unit: "8" })).toBe(
      "drive:0.0.4.8",
    );
  });
  it("falls back to type and sorted attributes", () => {
    expect(guestAddressKey({ type: "unassigned" })).toBe("unassigned:");
    expect(guestAddressKey({ type: "pci" })).toBe("pci:");
    expect(guestAddressKey({ type: "virtio-serial", port: "2", controller: "0", bus: "0" })).toBe(
      "virtio-serial:bus=0,controller=0,port=2",
    );
  });
});
