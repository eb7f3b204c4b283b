import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { accepts } from "../../src/descriptors/match.js";
import {
  DescriptorSelector,
  descriptorFilesFromTexts,
  fromVendorAttrs,
  loadDescriptorDir,
} from "../../src/descriptors/sources.js";
import { readVendorSysfs } from "../../src/descriptors/sysfs.js";
import { parseDescriptor, printDescriptor } from "../../src/descriptors/text.js";
import { InputError } from "../../src/errors.js";
import type { DescriptorData } from "../../src/model.js";

const tmp = mkdtempSync(join(tmpdir(), "hdplan-desc-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function write(path: string, text: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, text);
}

const derivedGvt: DescriptorData = {
  self: { device_api: "vfio-pci", device_type: "pci", device_id: "8086591d", mdev_type: "i915-GVTg_V5_4" },
  compatible: [],
};
const derivedNv: DescriptorData = {
  self: { device_api: "vfio-pci", device_type: "pci", device_id: "10de2236", mdev_type: "nvidia-558" },
  compatible: [],
};

describe("loadDescriptorDir", () => {
  const dir = join(tmp, "descs");
  write(
    join(dir, "gvt.conf"),
    'mdev_type=i915-GVTg_V5_4\nmigratable=1\nCOMPATIBLE:\nmdev_type={t:string:"i915-GVTg_V5_4","i915-GVTg_V5_8"}\n',
  );
  write(join(dir, "gvt-exact.conf"), "device_id=8086:591d\nmdev_type=i915-GVTg_V5_4\naggregator=1\n");
  write(join(dir, "notes.txt"), "not a descriptor");
  write(join(dir, "hostA", "nv.conf"), "device_api=vfio-pci\nmdev_type=nvidia-558\nmigratable=1\n");
  write(join(dir, "hostA", "gvt.conf"), "mdev_type=i915-GVTg_V5_4\nlocal=1\n");

  it("reads global and per-host files with their identity", () => {
    const files = loadDescriptorDir(dir);
    expect(files.map((f) => [f.path.slice(dir.length + 1), f.hostKey])).toEqual([
      ["gvt-exact.conf", null],
      ["gvt.conf", null],
      ["hostA/gvt.conf", "hostA"],
      ["hostA/nv.conf", "hostA"],
    ]);
    expect(files[0]!.identity).toEqual({ device_id: "8086591d", mdev_type: "i915-GVTg_V5_4" });
  });

  it("missing directory and malformed files are InputErrors naming the file", () => {
    expect(() => loadDescriptorDir(join(tmp, "nope"))).toThrow(InputError);
    const bad = join(tmp, "bad");
    write(join(bad, "x.conf"), "a=1\nb\n");
    expect(() => loadDescriptorDir(bad)).toThrow(`${join(bad, "x.conf")}:2:1:`);
  });

  it("precedence: host folder > global; more identity keys wins; unused files are tracked", () => {
    const sel = new DescriptorSelector(loadDescriptorDir(dir));
    const a = sel.select("hostA", derivedGvt);
    expect(a.origin).toBe(`file:${join(dir, "hostA", "gvt.conf")}`);
    expect(a.descriptor.self).toEqual({ ...derivedGvt.self, local: "1" });
    expect(a.descriptor.compatible).toEqual([]);
    const b = sel.select("hostB", derivedGvt);
    expect(b.origin).toBe(`file:${join(dir, "gvt-exact.conf")}`); // 2 identity keys beat 1
    expect(b.descriptor.self.aggregator).toBe("1");
    const c = sel.select("hostB", derivedNv);
    expect(c.origin).toBe("derived");
    expect(c.descriptor).toEqual(derivedNv);
    expect(sel.unused().map((f) => f.path.slice(dir.length + 1))).toEqual(["gvt.conf", "hostA/nv.conf"]);
    sel.select("hostA", derivedNv);
    expect(sel.unused().map((f) => f.path.slice(dir.length + 1))).toEqual(["gvt.conf"]);
  });

  it("a file's compatible sections replace the derived ones, its self keys win", () => {
    const sel = new DescriptorSelector(
      descriptorFilesFromTexts(
        [
          {
            path: "d/x.conf",
            text: "mdev_type=i915-GVTg_V5_4\ndevice_id=8086:591d\nextra=2\nCOMPATIBLE:\nmdev_type=i915-GVTg_V5_4\n",
          },
        ],
        "h",
      ),
    );
    const r = sel.select("h", { self: { ...derivedGvt.self, extra: "1" }, compatible: [{ a: "1" }] });
    expect(r.descriptor).toEqual({
      self: { ...derivedGvt.self, extra: "2" },
      compatible: [{ mdev_type: "i915-GVTg_V5_4" }],
    });
    expect(r.origin).toBe("file:d/x.conf");
    // dump-dir files apply to their host only
    expect(sel.select("other", derivedGvt).origin).toBe("derived");
  });

  it("a file applies only when every identity key equals the derived value", () => {
    const sel = new DescriptorSelector(
      descriptorFilesFromTexts(
        [{ path: "x.conf", text: "device_type=css\nmdev_type=i915-GVTg_V5_4\n" }],
        "h",
      ),
    );
    expect(sel.select("h", derivedGvt).origin).toBe("derived");
    expect(sel.unused()).toHaveLength(1);
  });

  it("a tie at the same level is an InputError naming both files", () => {
    const files = descriptorFilesFromTexts(
      [
        { path: "one.conf", text: "mdev_type=i915-GVTg_V5_4\na=1\n" },
        { path: "two.conf", text: "device_api=vfio-pci\nb=1\n" },
      ],
      "h",
    );
    const sel = new DescriptorSelector(files);
    expect(() => sel.select("h", derivedGvt)).toThrow(InputError);
    expect(() => sel.select("h", derivedGvt)).toThrow(/one\.conf and two\.conf both apply/);
  });

  it("vendor attributes beat derived, files beat vendor", () => {
    const vendor = fromVendorAttrs(
      {
        parent: "0000:00:02.0",
        type: "i915-GVTg_V5_4",
        attrs: { software_version: "1.2", compatible_type: "i915-GVTg_V5_4" },
      },
      "vfio-pci",
    );
    const none = new DescriptorSelector([]);
    const v = none.select("h", derivedGvt, vendor);
    expect(v.origin).toBe("vendor-sysfs");
    expect(v.descriptor.self).toEqual({ ...derivedGvt.self, software_version: "1.2" });
    expect(v.descriptor.compatible).toEqual(vendor.compatible);
    const withFile = new DescriptorSelector(
      descriptorFilesFromTexts([{ path: "f.conf", text: "mdev_type=i915-GVTg_V5_4\nmigratable=1\n" }], "h"),
    );
    const f = withFile.select("h", derivedGvt, vendor);
    expect(f.origin).toBe("file:f.conf");
    expect(f.descriptor.self.migratable).toBe("1");
    expect(f.descriptor.self.software_version).toBe("1.2"); // layered on the vendor descriptor
    expect(f.descriptor.compatible).toEqual(vendor.compatible);
  });
});

describe("fromVendorAttrs (compat.md §4.2)", () => {
  const v = fromVendorAttrs(
    {
      parent: "0000:3b:00.0",
      type: "nvidia-558",
      attrs: {
        device_api: "vfio-pci",
        name: "GRID A100-4C",
        available_instances: "10",
        software_version: "2.3.1",
        compatible_type: "nvidia-558, nvidia-559",
        pci_id: "10de2236",
        compatible_pci_id: "10de2236,10de20b5",
        compatible_fb_size: 'a"b,c',
      },
    },
    undefined,
  );
  it("maps self and one compatible section", () => {
    expect(v.self).toEqual({
      device_api: "vfio-pci",
      mdev_type: "nvidia-558",
      software_version: "2.3.1",
      pci_id: "10de2236",
    });
    expect(v.compatible).toEqual([
      {
        mdev_type: '{mdev_type:string:"nvidia-558","nvidia-559"}',
        fb_size: '{fb_size:string:"a\\"b","c"}',
        pci_id: '{pci_id:string:"10de2236","10de20b5"}',
        software_version: "2.3.1",
      },
    ]);
    // it is printable and parses back
    expect(parseDescriptor(printDescriptor(v), "v.conf")).toEqual(v);
  });
  it("matches sources by the lists and the version rule", () => {
    const src = (over: Record<string, string>) => ({
      device_api: "vfio-pci",
      mdev_type: "nvidia-559",
      software_version: "2.1",
      pci_id: "10de20b5",
      fb_size: "c",
      ...over,
    });
    expect(accepts(v, src({}))).toMatchObject({ ok: true });
    expect(accepts(v, src({ mdev_type: "nvidia-560" })).ok).toBe(false);
    expect(accepts(v, src({ pci_id: "10de0000" })).ok).toBe(false);
    expect(accepts(v, src({ fb_size: 'a"b' })).ok).toBe(true);
    const r = accepts(v, src({ software_version: "2.4" }));
    expect(r.ok ? [] : r.reasons.map((x) => x.code)).toEqual(["version-minor-too-old"]);
  });
  it("uses the given device API, own type when compatible_type is absent, and compatible_software_version", () => {
    const w = fromVendorAttrs(
      {
        parent: "p",
        type: "t1",
        attrs: { software_version: "1.0", compatible_software_version: "1.0, 2.0" },
      },
      "vfio-ccw",
    );
    expect(w.self).toEqual({ device_api: "vfio-ccw", mdev_type: "t1", software_version: "1.0" });
    expect(w.compatible[0]).toEqual({
      mdev_type: '{mdev_type:string:"t1"}',
      software_version: '{software_version:string:"1.0","2.0"}',
    });
    expect(accepts(w, { device_api: "vfio-ccw", mdev_type: "t1", software_version: "2.0" }).ok).toBe(true);
    expect(fromVendorAttrs({ parent: "p", type: "t1", attrs: { name: "x" } })).toEqual({
      self: { mdev_type: "t1" },
      compatible: [],
    });
  });
});

describe("readVendorSysfs", () => {
  const root = join(tmp, "root");
  const t1 = join(root, "sys/devices/pci0000:00/0000:00:02.0/mdev_supported_types/i915-GVTg_V5_4");
  write(join(t1, "device_api"), "vfio-pci\n");
  write(join(t1, "name"), "GVTg_V5_4\n");
  write(join(t1, "available_instances"), "2\n");
  write(join(t1, "software_version"), "1.1.0\n");
  write(join(t1, "compatible_type"), "i915-GVTg_V5_4,i915-GVTg_V5_8\n");
  write(join(t1, "compatible_aggregator"), "1,2\n");
  write(join(t1, "aggregator"), "1\n");
  write(join(t1, "create"), "");
  mkdirSync(join(t1, "devices"), { recursive: true });
  mkdirSync(join(t1, "compatible_dir"), { recursive: true });
  mkdirSync(join(root, "sys/class/mdev_bus"), { recursive: true });
  symlinkSync("../../devices/pci0000:00/0000:00:02.0", join(root, "sys/class/mdev_bus/0000:00:02.0"));
  // a plain directory parent with a type whose files point outside the root
  const t2 = join(root, "sys/class/mdev_bus/0.0.0001/mdev_supported_types/vfio_ccw-io");
  write(join(t2, "device_api"), "vfio-ccw\n");
  write(join(tmp, "outside-secret"), "secret\n");
  symlinkSync(join(tmp, "outside-secret"), join(t2, "name"));
  // a parent symlink that leaves the root is ignored
  mkdirSync(join(tmp, "elsewhere/mdev_supported_types/evil"), { recursive: true });
  write(join(tmp, "elsewhere/mdev_supported_types/evil/device_api"), "vfio-pci\n");
  symlinkSync(join(tmp, "elsewhere"), join(root, "sys/class/mdev_bus/0000:99:00.0"));
  // a dangling symlink is tolerated
  symlinkSync(join(root, "does-not-exist"), join(root, "sys/class/mdev_bus/0000:98:00.0"));

  it("walks mdev_bus parents and types, reads the vendor files", () => {
    const attrs = readVendorSysfs(root);
    expect(attrs).toEqual([
      { parent: "0.0.0001", type: "vfio_ccw-io", attrs: { device_api: "vfio-ccw" } },
      {
        parent: "0000:00:02.0",
        type: "i915-GVTg_V5_4",
        attrs: {
          aggregator: "1",
          available_instances: "2",
          compatible_aggregator: "1,2",
          compatible_type: "i915-GVTg_V5_4,i915-GVTg_V5_8",
          device_api: "vfio-pci",
          name: "GVTg_V5_4",
          software_version: "1.1.0",
        },
      },
    ]);
    const d = fromVendorAttrs(attrs[1]!);
    expect(d.compatible[0]!.aggregator).toBe('{aggregator:string:"1","2"}');
  });

  it("a root without sysfs gives nothing", () => {
    expect(readVendorSysfs(join(tmp, "empty-root"))).toEqual([]);
  });
});
