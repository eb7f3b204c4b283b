import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCompat } from "../../src/commands/compat.js";
import { SEED } from "./fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "hdplan-compat-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
const dest = file("dest.conf", SEED);
const src = file(
  "src.conf",
  "device_api=vfio-pci\ndevice_type=pci\ndevice_id=8086:591d\nmdev_type=i915-GVTg_V5_4\naggregator=2\npv_mode=none+ppgtt\ninterface_version=3\n",
);
const bad = file("bad.conf", "device_api=vfio-pci\nCOMPATIBLE:\na={v:float:1}\n");
const src1 = file(
  "src1.conf",
  "device_api=vfio-pci\ndevice_type=pci\ndevice_id=8086591d\nmdev_type=i915-GVTg_V5_4\naggregator=1\npv_mode=none+ppgtt\ninterface_version=3\n",
);

describe("runCompat", () => {
  it("exit 0 and the binding when compatible (table)", () => {
    const r = runCompat(src, dest, { format: "table" });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("compatible:");
    expect(r.stdout).toContain('binding: val1=4, val2="none+ppgtt", val3=3');
  });
  it("exit 0 and the JSON shape", () => {
    const r = runCompat(src, dest, { format: "json" });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      schemaVersion: 1,
      compatible: true,
      binding: { val1: 4, val2: "none+ppgtt", val3: 3 },
      section: 0,
      reasons: [],
      source: { file: src },
      destination: { file: dest },
    });
  });
  it("exit 1 with reasons when not compatible", () => {
    const t = runCompat(src1, dest, { format: "table" });
    expect(t.exitCode).toBe(1);
    expect(t.stdout).toContain("not compatible");
    expect(t.stdout).toContain("field-mismatch: destination accepts aggregator={val1}/2");
    const j = runCompat(src1, dest, { format: "json" });
    expect(j.exitCode).toBe(1);
    const o = JSON.parse(j.stdout);
    expect(o.compatible).toBe(false);
    expect(o.binding).toBeNull();
    expect(o.reasons[0]).toMatchObject({ code: "field-mismatch", key: "aggregator", source: "1" });
  });
  it("exit 2 with one line naming the file for a missing or malformed file", () => {
    const m = runCompat(join(tmp, "missing.conf"), dest, { format: "json" });
    expect(m.exitCode).toBe(2);
    expect(m.stdout).toBe("");
    expect(m.stderr).toMatch(/missing\.conf: cannot read source descriptor: no such file\n$/);
    expect(m.stderr.trim().split("\n")).toHaveLength(1);
    const b = runCompat(src, bad, { format: "table" });
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toContain(`${bad}:3:6: unknown placeholder type 'float'`);
    expect(b.stderr.trim().split("\n")).toHaveLength(1);
  });
});
