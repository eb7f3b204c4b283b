import { describe, expect, it } from "vitest";
import { readDomain } from "../../src/xml/domain.js";

const Q = "http://libvirt.org/schemas/domain/qemu/1.0";

function dom(devices: string, extra = "", rootAttrs = "", machine = "pc-q35-8.1"): string {
  return `<domain type='kvm'${rootAttrs}><name>d</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
<os><type arch='x86_64' machine='${machine}'>hvm</type></os>${extra}<devices>${devices}</devices></domain>`;
}

const VF = `<hostdev mode='subsystem' type='pci' managed='yes'><driver model='mlx5_vfio_pci' iommufd='yes'/><source><address domain='0x0000' bus='0x5e' slot='0x00' function='0x2'/></source><alias name='hostdev0'/></hostdev>`;

describe("domain features (compat.md §7)", () => {
  it("reads the guest vIOMMU with its driver attributes and the machine type", () => {
    const d = readDomain(
      dom(`${VF}<iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu>`),
      "d.xml",
    );
    expect(d.features?.viommu).toEqual({ model: "intel", driver: { intremap: "on", caching_mode: "on" } });
    expect(d.features?.machine).toBe("pc-q35-8.1");
    expect(readDomain(dom(VF), "d.xml").features?.viommu).toBeNull();
  });

  it("reads <driver model> and iommufd on the hostdev, and the domain-level <iommufd>", () => {
    const d = readDomain(dom(VF), "d.xml");
    expect(d.devices[0]!.driverModel).toBe("mlx5_vfio_pci");
    expect(d.devices[0]!.iommufd).toBe(true);
    expect(d.features?.iommufd).toBe(false);
    expect(readDomain(dom(VF, "<iommufd enabled='yes'/>"), "d.xml").features?.iommufd).toBe(true);
  });

  it("reads enable-migration from <qemu:override> by device alias", () => {
    const ov = `<qemu:override><qemu:device alias='hostdev0'><qemu:frontend><qemu:property name='enable-migration' type='string' value='on'/></qemu:frontend></qemu:device></qemu:override>`;
    const d = readDomain(dom(VF, ov, ` xmlns:qemu='${Q}'`), "d.xml");
    expect(d.features?.enableMigration).toEqual({ hostdev0: { value: "on", via: "<qemu:override>" } });
  });

  it("reads -set device.X.enable-migration and -global vfio-pci.enable-migration from <qemu:commandline>", () => {
    const cl = `<q:commandline><q:arg value='-set'/><q:arg value='device.hostdev0.enable-migration=on'/><q:arg value='-global'/><q:arg value='vfio-pci.enable-migration=off'/></q:commandline>`;
    const d = readDomain(dom(VF, cl, ` xmlns:q='${Q}'`), "d.xml");
    expect(d.features?.enableMigration.hostdev0?.value).toBe("on");
    expect(d.features?.enableMigration["*"]?.value).toBe("off");
  });

  it("ignores elements of other namespaces with the same local names", () => {
    const other = `<x:commandline xmlns:x='urn:other'><x:arg value='-set'/><x:arg value='device.hostdev0.enable-migration=on'/></x:commandline>`;
    expect(readDomain(dom(VF, other), "d.xml").features?.enableMigration).toEqual({});
  });
});
