/** The bundled sample fleet (xml-samples/) gives the outcomes its README promises. */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { hdplan, ROOT, SAMPLE_PLAN_ARGS } from "./helpers/cli.js";
import { tempDir } from "./helpers/dump.js";

/** Every file below dir (relative path -> text). */
function tree(dir: string, root = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) tree(p, root, out);
    else out[relative(root, p)] = readFileSync(p, "utf8");
  }
  return out;
}

const base = [
  "--source",
  "xml-samples/hosts/src-host",
  "--hosts-file",
  "xml-samples/hosts.txt",
  "--format",
  "json",
];

function plan(vm: string, extra: string[] = []) {
  const r = hdplan(["plan", "--domain", `xml-samples/domains/${vm}.xml`, ...base, ...extra]);
  const j = JSON.parse(r.stdout);
  const codes = (host: string) =>
    [
      ...new Set(
        j.hosts
          .find((h: { host: string }) => h.host === host)
          .unassigned.flatMap((u: { reasons: { code: string }[] }) => u.reasons.map((x) => x.code)),
      ),
    ].sort();
  const status = Object.fromEntries(j.hosts.map((h: { host: string; status: string }) => [h.host, h.status]));
  return { r, j, codes, status };
}

describe("xml-samples", () => {
  it("regenerate.mjs (the fixture builders) writes the committed hosts/, domains/ and hosts.txt byte for byte", () => {
    const out = tempDir("hdplan-samples-");
    const r = spawnSync(process.execPath, [join(ROOT, "xml-samples/regenerate.mjs"), out], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const made = tree(out);
    expect(Object.keys(made).length).toBeGreaterThan(100);
    const committed = tree(join(ROOT, "xml-samples"));
    const want = Object.fromEntries(
      Object.entries(committed).filter(([k]) => /^(hosts|domains)\/|^hosts\.txt$/.test(k)),
    );
    expect(made).toEqual(want);
  });

  it("vm-mixed: every outcome of the sample fleet", () => {
    const { r, j, codes, status } = plan("vm-mixed", ["--descriptors", "xml-samples/descriptors"]);
    expect(r.code).toBe(0);
    expect(j.best).toBe("host-a");
    expect(j.hosts.map((h: { host: string }) => h.host)).toEqual([
      "host-a",
      "host-h",
      "host-b",
      "host-d",
      "host-c",
      "host-e",
      "host-f",
      "host-g",
      "host-i",
    ]);
    expect(status["host-h"]).toBe("full");
    expect(codes("host-b")).toEqual(["mdev-no-capacity"]);
    expect(codes("host-c")).toEqual(["mdev-type-missing"]);
    expect(codes("host-d")).toEqual(["pci-device-in-use"]);
    // host-e's descriptor narrows the manager rule (descriptors/host-e/): it drops below the partial hosts.
    expect(codes("host-e")).toEqual(["driver-not-migratable", "vgpu-manager-version-mismatch"]);
    const e = j.hosts.find((h: { host: string }) => h.host === "host-e");
    expect(JSON.stringify(e.unassigned)).toContain("version-out-of-range");
    // host-i runs an older vGPU manager and older NIC firmware (its sys/ subset).
    expect(codes("host-i")).toEqual(["firmware-mismatch", "vgpu-manager-version-mismatch"]);
    const i = j.hosts.find((h: { host: string }) => h.host === "host-i");
    expect(JSON.stringify(i.unassigned)).toContain("version-minor-too-old");
    expect(JSON.stringify(i.unassigned)).toContain("550.90.07");
    expect(codes("host-f")).toEqual(["libvirt-too-old", "qemu-too-old"]);
    expect(codes("host-g")).toEqual(["versions-unknown"]);
  });

  it("the operator descriptors change the ranking (host-h up, host-e down)", () => {
    const { j, codes, status } = plan("vm-mixed");
    expect(status["host-h"]).toBe("partial");
    expect(codes("host-h")).toEqual(["descriptor-mismatch"]);
    expect(codes("host-e")).toEqual(["driver-not-migratable"]);
    expect(j.hosts.map((h: { host: string }) => h.host).indexOf("host-e")).toBe(1);
    // the default manager rule still refuses host-i's older manager
    expect(codes("host-i")).toEqual(["firmware-mismatch", "vgpu-manager-version-mismatch"]);
  });

  it("vm-vgpu and vm-vf: vendor versions from the dumps' sys/ subsets", () => {
    const g = plan("vm-vgpu");
    expect(g.status["host-e"]).toBe("full"); // 550.144.03 takes 550.127.05 by the default rule
    expect(g.status["host-i"]).toBe("none");
    expect(g.codes("host-i")).toEqual(["vgpu-manager-version-mismatch"]);
    const f = plan("vm-vf");
    expect(f.codes("host-i")).toEqual(["firmware-mismatch"]);
    expect(f.status["host-a"]).toBe("full");
  });

  it("passthrough GPU and GVT-g are blocked everywhere", () => {
    for (const vm of ["vm-passthrough-gpu", "vm-gvtg"]) {
      const { r, j } = plan(vm);
      expect(r.code).toBe(1);
      expect(j.devices[0].blockers[0].code).toBe("driver-not-migratable");
      expect(j.hosts.every((h: { status: string }) => h.status === "none")).toBe(true);
    }
  });

  it("vm-viommu: a VF behind a guest vIOMMU is blocked on every host (QEMU's vIOMMU blocker)", () => {
    const { r, j } = plan("vm-viommu", ["--descriptors", "xml-samples/descriptors"]);
    expect(r.code).toBe(1);
    expect(j.devices[0].blockers.map((b: { code: string }) => b.code)).toEqual(["viommu-blocks-migration"]);
    expect(j.hosts.every((h: { status: string }) => h.status === "none")).toBe(true);
    expect(j.best).toBeNull();
  });

  it("vm-net: full only where the hostdev pool exists", () => {
    const { status, codes } = plan("vm-net");
    expect(status["host-a"]).toBe("full");
    expect(status["host-h"]).toBe("full");
    expect(codes("host-b")).toEqual(["network-missing"]);
  });

  it("vm-sriov-vgpu: the SR-IOV vGPU pair (type write on dst-a, reuse on dst-b)", () => {
    const r = hdplan([
      "plan",
      "--domain",
      "xml-samples/domains/vm-sriov-vgpu.xml",
      "--source",
      "xml-samples/hosts/vgpu-src",
      ...["vgpu-dst-a", "vgpu-dst-b", "host-a"].flatMap((h) => ["--host", `xml-samples/hosts/${h}`]),
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const by = Object.fromEntries(j.hosts.map((h: { host: string }) => [h.host, h]));
    expect(by["vgpu-dst-a"].assignments[0].target.vgpuType).toEqual({
      id: 1155,
      name: "NVIDIA L40S-24Q",
      create: true,
      write: "echo 1155 > /sys/bus/pci/devices/0000:17:00.4/nvidia/current_vgpu_type",
    });
    expect(by["vgpu-dst-b"].assignments[0].target.vgpuType.write).toBeNull();
    expect(by["host-a"].unassigned[0].reasons[0].code).toBe("vgpu-type-not-creatable");
  });

  it("npm start's table prints a ranked table", () => {
    const r = hdplan(SAMPLE_PLAN_ARGS);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^1\s+host-a\s+full\s+4\/4/m);
    expect(r.stdout).toContain("Best: host-a");
  });
});
