import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { readNetwork, readNetworkPort } from "../../src/xml/network.js";

describe("readNetwork", () => {
  it("reads a hostdev pool with addresses", () => {
    const n = readNetwork(
      `<network connections='2'><name>pool</name><uuid>81FF0D90-C91E-6742-64DA-4A736EDB9A9B</uuid>
        <forward mode='hostdev' managed='yes' connections='2'>
          <address type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x1'/>
          <address type='pci' domain='0x0000' bus='0x03' slot='0x10' function='0x2'/>
        </forward></network>`,
      "n.xml",
    );
    expect(n).toMatchObject({
      name: "pool",
      uuid: "81ff0d90-c91e-6742-64da-4a736edb9a9b",
      forwardMode: "hostdev",
      functions: ["0000:03:00.1", "0000:03:10.2"],
      connections: 2,
    });
    expect(n.pf).toBeUndefined();
  });
  it("reads a pf and interface names", () => {
    const n = readNetwork(
      `<network><name>p</name><forward mode='hostdev'><pf dev='eth2'/><interface dev='eth3'/></forward></network>`,
      "n.xml",
    );
    expect(n.pf).toBe("eth2");
    expect(n.pfDev).toBe("eth2");
    expect(n.interfaceDevs).toEqual(["eth3"]);
    expect(n.functions).toEqual([]);
  });
  it("reads a network without forward, and nat by default", () => {
    expect(readNetwork("<network><name>iso</name></network>", "n").forwardMode).toBeUndefined();
    expect(readNetwork("<network><name>d</name><forward/></network>", "n").forwardMode).toBe("nat");
  });
  it("rejects a wrong root or missing name", () => {
    expect(() => readNetwork("<domain/>", "n.xml")).toThrow(InputError);
    expect(() => readNetwork("<network/>", "n.xml")).toThrow(/no <name>/);
  });
});

describe("readNetworkPort", () => {
  it("reads a hostdev-pci plug", () => {
    const p = readNetworkPort(
      `<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid>
        <owner><name>memtest</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner>
        <mac address='52:54:00:7b:35:93'/>
        <plug type='hostdev-pci' managed='yes'><driver name='vfio'/>
          <address domain='0x0001' bus='0x02' slot='0x03' function='0x4'/></plug></networkport>`,
      "p.xml",
    );
    expect(p.hostdevAddress).toBe("0001:02:03.4");
    expect(p.owner).toBe("memtest");
  });
  it("ignores other plug types", () => {
    const p = readNetworkPort(`<networkport><plug type='bridge' bridge='virbr0'/></networkport>`, "p.xml");
    expect(p.hostdevAddress).toBeUndefined();
  });
  it("rejects a wrong root and a hostdev-pci plug without address", () => {
    expect(() => readNetworkPort("<network/>", "p.xml")).toThrow(InputError);
    expect(() => readNetworkPort("<networkport><plug type='hostdev-pci'/></networkport>", "p.xml")).toThrow(
      /address/,
    );
  });
});
