import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCompat } from "../../src/commands/compat.js";
import { hdplan } from "../helpers/cli.js";
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

describe("compat and overlay files, as plan applies them", () => {
  const BASE = "xml-samples/base-descriptors/t4-nvidia-558.conf";
  const RELAXED = "xml-samples/descriptors/t4-relaxed.conf";
  const OLD = "xml-samples/descriptors/host-e/t4-release-550.144.conf";

  it("a bare overlay is not compared (exit 2: it says it is an overlay and how to compare it)", () => {
    const r = hdplan(["compat", RELAXED, OLD]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^hdplan: error: xml-samples\/descriptors\/t4-relaxed\.conf: is an overlay descriptor .*--base FILE/,
    );
  });

  it("with --base it gives plan's verdicts: the relaxed file accepts itself; host-e's 550.144 release range refuses src-host's 550.127.05 (version-out-of-range)", () => {
    const same = hdplan(["compat", "--base", BASE, RELAXED, RELAXED, "--format", "json"]);
    expect(same.code).toBe(0);
    expect(JSON.parse(same.stdout).source.base).toBe(BASE);
    const old = hdplan(["compat", "--base", BASE, RELAXED, OLD, "--format", "json"]);
    expect(old.code).toBe(1);
    const codes = JSON.parse(old.stdout).reasons.map((x: { code: string }) => x.code);
    expect(codes).toEqual(["version-out-of-range"]);
    // plan on the sample fleet says the same for host-e
    const plan = hdplan([
      "plan",
      "--domain",
      "vm-vgpu",
      "--source",
      "xml-samples/hosts/src-host",
      "--host",
      "xml-samples/hosts/host-e",
      "--descriptors",
      "xml-samples/descriptors",
      "--format",
      "json",
    ]);
    const nested = JSON.parse(plan.stdout).hosts[0].unassigned[0].reasons[0];
    expect(nested.code).toBe("vgpu-manager-version-mismatch");
    expect(JSON.stringify(nested)).toContain("version-out-of-range");
    // the board variant 10de:1eb9 (host-h) is accepted by the relaxed section
    const b9 = file(
      "t4-1eb9.conf",
      "device_api=vfio-pci\ndevice_type=pci\ndevice_id=10de1eb9\nmdev_type=nvidia-558\nsoftware_version=550.127.05\n",
    );
    expect(hdplan(["compat", "--base", BASE, "--destination-base", b9, RELAXED, RELAXED]).code).toBe(0);
    // without the relaxed file (bare bases) the board variant is refused, as plan says for host-h
    const bare = hdplan(["compat", BASE, b9, "--format", "json"]);
    expect(bare.code).toBe(1);
    expect(JSON.parse(bare.stdout).reasons[0].code).toBe("field-mismatch");
  });

  it("a file whose identity keys do not match the base does not apply (exit 2), as plan would not use it", () => {
    const other = file("other.conf", "mdev_type=nvidia-559\nsoftware_version=17.1.0\n");
    const r = hdplan(["compat", "--base", BASE, other, RELAXED]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/does not apply to the source base/);
  });
});
