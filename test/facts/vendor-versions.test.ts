/**
 * Vendor versions (compat.md §7, issue #11 items 3-4): the NVIDIA vGPU manager
 * version and mlx5 PF firmware/PSID, from the one reader (src/facts/read.ts)
 * and through the pipeline.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DescriptorSelector, descriptorFilesFromTexts } from "../../src/descriptors/sources.js";
import { InputError } from "../../src/errors.js";
import { mergeFacts, parseDevlinkInfo, readHostFacts } from "../../src/facts/read.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostFacts } from "../../src/model.js";
import { type PlanResult, planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { type HostdevSpec, domainXml, gpu, mdevDev, nic, rawHost } from "../helpers/build.js";
import { tempDir } from "../helpers/dump.js";

const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const VM = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const GPU = "0000:3b:00.0";
const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];

function file(root: string, rel: string, text: string): void {
  const p = join(root, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, text);
}

describe("readHostFacts (one reader for --sysfs-root, dump sys/, live /)", () => {
  it("reads the nvidia module version and each PF's infiniband fw_ver/board_id", () => {
    const root = tempDir("hdplan-facts-");
    file(root, "sys/module/nvidia/version", "550.127.05\n");
    file(root, `sys/bus/pci/devices/${PF}/infiniband/mlx5_0/fw_ver`, "22.41.1000\n");
    file(root, `sys/bus/pci/devices/${PF}/infiniband/mlx5_0/board_id`, "MT_0000000359\n");
    file(root, "sys/bus/pci/devices/0000:3b:00.0/vendor", "0x10de\n"); // no infiniband: no record
    file(root, "sys/bus/pci/devices/not-an-address/infiniband/x/fw_ver", "1.2.3\n");
    expect(readHostFacts(root)).toEqual({
      nvidiaVersion: "550.127.05",
      firmware: [{ address: PF, from: "sysfs", version: "22.41.1000", psid: "MT_0000000359" }],
    });
  });

  it("an absent tree, garbage values and links leaving the root give unknown facts", () => {
    expect(readHostFacts("/nonexistent/hdplan")).toEqual({ firmware: [] });
    const root = tempDir("hdplan-facts-");
    file(root, "sys/module/nvidia/version", "<html>not a version</html>\n");
    const outside = tempDir("hdplan-outside-");
    file(outside, "fw_ver", "22.41.1000\n");
    mkdirSync(join(root, "sys/bus/pci/devices", PF, "infiniband"), { recursive: true });
    symlinkSync(outside, join(root, "sys/bus/pci/devices", PF, "infiniband", "mlx5_0"));
    expect(readHostFacts(root)).toEqual({ firmware: [] });
  });

  it("parses `devlink -j dev info`, which wins per fact when merged", () => {
    const json = JSON.stringify({
      info: {
        [`pci/${PF}`]: {
          driver: "mlx5_core",
          versions: { fixed: { "fw.psid": "MT_0000000359" }, running: { "fw.version": "22.42.1000" } },
        },
        "auxiliary/mlx5_core.eth.0": { driver: "mlx5_core.eth" },
      },
    });
    const dl = parseDevlinkInfo(json, "dl.json");
    expect(dl).toEqual([{ address: PF, from: "devlink", version: "22.42.1000", psid: "MT_0000000359" }]);
    const merged = mergeFacts(
      { nvidiaVersion: "550.127.05", firmware: [{ address: PF, from: "sysfs", version: "22.41.1000" }] },
      { firmware: dl },
    );
    expect(merged.nvidiaVersion).toBe("550.127.05");
    expect(merged.firmware).toEqual([
      { address: PF, from: "devlink", version: "22.42.1000", psid: "MT_0000000359" },
    ]);
    expect(() => parseDevlinkInfo("{not json", "dl.json")).toThrow(InputError);
    expect(() => parseDevlinkInfo("[]", "dl.json")).toThrow(/devlink -j dev info/);
  });
});

// ---------------------------------------------------------------------------

const VGPU_VM: HostdevSpec[] = [{ kind: "mdev", uuid: A }];
const VF_VM: HostdevSpec[] = [{ kind: "pci", addr: VFS[0]! }];

const fw = (version: string, psid = "MT_0000000359"): HostFacts["firmware"][number] => ({
  address: PF,
  from: "sysfs",
  version,
  psid,
});

function source(facts: HostFacts | null) {
  return buildInventory(
    rawHost("src", {
      devices: [gpu(GPU, 2), mdevDev({ uuid: A, parentAddr: GPU, type: "nvidia-558" }), ...nic(PF, VFS)],
      facts,
    }),
  );
}

function dest(key: string, facts: HostFacts | null) {
  return buildInventory(rawHost(key, { devices: [gpu(GPU, 4), ...nic(PF, VFS)], facts }));
}

function plan(
  devs: HostdevSpec[],
  src: HostFacts | null,
  dsts: Record<string, HostFacts | null>,
  o: { assumeVersions?: boolean; descriptors?: { path: string; text: string }[] } = {},
): PlanResult {
  const domain = readDomain(domainXml("vm1", VM, devs), "vm1.xml");
  const files = o.descriptors ? descriptorFilesFromTexts(o.descriptors, "") : [];
  // descriptorFilesFromTexts scopes to a host key; make them global for the run.
  for (const f of files) f.hostKey = null;
  return planDomain(
    {
      domain,
      source: source(src),
      selector: new DescriptorSelector(files),
      opts: { assumeVersions: o.assumeVersions ?? false, explain: false },
    },
    Object.entries(dsts).map(([k, f]) => ({ ok: true as const, inv: dest(k, f) })),
  );
}

const host = (r: PlanResult, k: string) => r.hosts.find((h) => h.host === k)!;
const codes = (r: PlanResult, k: string) =>
  host(r, k).unassigned.flatMap((u) => u.reasons.map((x) => x.code));
const nv = (v: string | undefined): HostFacts => (v ? { nvidiaVersion: v, firmware: [] } : { firmware: [] });

describe("NVIDIA vGPU manager version (compat.md §7)", () => {
  it("same branch, destination minor >= source: 550.127.05 -> 550.144.03 yes, -> 550.90.07 and 535.216.01 no", () => {
    const r = plan(VGPU_VM, nv("550.127.05"), {
      newer: nv("550.144.03"),
      same: nv("550.127.05"),
      older: nv("550.90.07"),
      branch: nv("535.216.01"),
    });
    expect(host(r, "newer").status).toBe("full");
    expect(host(r, "same").status).toBe("full");
    expect(codes(r, "older")).toEqual(["vgpu-manager-version-mismatch"]);
    expect(codes(r, "branch")).toEqual(["vgpu-manager-version-mismatch"]);
    const older = host(r, "older").unassigned[0]!.reasons[0]!;
    expect(older.message).toContain("550.90.07");
    expect(older.message).toContain("550.127.05");
    expect((older.reasons as { code: string }[])[0]!.code).toBe("version-minor-too-old");
    const branch = host(r, "branch").unassigned[0]!.reasons[0]!;
    expect((branch.reasons as { code: string }[])[0]!.code).toBe("version-major-mismatch");
    // the derived descriptor carries the manager version as software_version
    expect(r.devices[0]!.sourceDescriptor?.self.software_version).toBe("550.127.05");
  });

  it("unknown on the destination: not full (vgpu-manager-version-unknown, saying how to supply it)", () => {
    const r = plan(VGPU_VM, nv("550.127.05"), { unknown: nv(undefined), ok: nv("550.127.05") });
    expect(codes(r, "unknown")).toEqual(["vgpu-manager-version-unknown"]);
    const msg = host(r, "unknown").unassigned[0]!.reasons[0]!.message;
    expect(msg).toContain("hdplan inventory");
    expect(msg).toContain("sys/module/nvidia/version");
    expect(r.best).toBe("ok");
  });

  it("unknown on the source: a blocker on every host", () => {
    const r = plan(VGPU_VM, null, { a: nv("550.127.05") });
    expect(r.devices[0]!.blockers.map((b) => b.code)).toEqual(["vgpu-manager-version-unknown"]);
    expect(r.devices[0]!.blockers[0]!.message).toMatch(/^source src: /);
    expect(host(r, "a").status).toBe("none");
  });

  it("--assume-versions lifts only the unknown cases, never a mismatch", () => {
    const r = plan(
      VGPU_VM,
      null,
      { a: nv("550.127.05"), unknown: nv(undefined), older: nv("550.90.07") },
      { assumeVersions: true },
    );
    expect(r.devices[0]!.blockers).toEqual([]);
    expect(host(r, "a").status).toBe("full");
    expect(host(r, "unknown").status).toBe("full");
    // the source's version is unknown, so nothing to compare: assumed
    expect(host(r, "older").status).toBe("full");
    const r2 = plan(
      VGPU_VM,
      nv("550.127.05"),
      { unknown: nv(undefined), older: nv("550.90.07") },
      { assumeVersions: true },
    );
    expect(host(r2, "unknown").status).toBe("full");
    expect(codes(r2, "older")).toEqual(["vgpu-manager-version-mismatch"]);
  });

  it("a descriptor widens the rule (cross-branch) or narrows it (exact release)", () => {
    const widen = {
      path: "t4-cross-branch.conf",
      text: "mdev_type=nvidia-558\nCOMPATIBLE:\ndevice_api=vfio-pci\ndevice_type=pci\ndevice_id=10de1eb8\nmdev_type=nvidia-558\nsoftware_version=>=535.0.0 <551.0.0\n",
    };
    const r = plan(VGPU_VM, nv("535.216.01"), { b550: nv("550.144.03") }, { descriptors: [widen] });
    expect(host(r, "b550").status).toBe("full");
    const narrow = {
      path: "t4-exact.conf",
      text: "mdev_type=nvidia-558\nCOMPATIBLE:\ndevice_api=vfio-pci\ndevice_type=pci\ndevice_id=10de1eb8\nmdev_type=nvidia-558\nsoftware_version=>=550.144.0 <550.145.0\n",
    };
    const r2 = plan(VGPU_VM, nv("550.127.05"), { newer: nv("550.144.03") }, { descriptors: [narrow] });
    expect(codes(r2, "newer")).toEqual(["vgpu-manager-version-mismatch"]);
    expect(JSON.stringify(host(r2, "newer").unassigned)).toContain("version-out-of-range");
  });

  it("other mdev types and PCI functions are not touched by the manager rule", () => {
    const r = plan(VF_VM, nv(undefined), { a: nv(undefined) });
    expect(host(r, "a").unassigned.flatMap((u) => u.reasons.map((x) => x.code))).not.toContain(
      "vgpu-manager-version-unknown",
    );
  });
});

describe("mlx5 firmware and PSID (compat.md §7)", () => {
  const facts = (f?: HostFacts["firmware"][number]): HostFacts => ({
    nvidiaVersion: "550.127.05",
    firmware: f ? [f] : [],
  });

  it("equal firmware and PSID: full; another version or PSID: firmware-mismatch", () => {
    const r = plan(VF_VM, facts(fw("22.41.1000")), {
      same: facts(fw("22.41.1000")),
      older: facts(fw("22.39.1002")),
      psid: facts(fw("22.41.1000", "MT_0000000436")),
    });
    expect(host(r, "same").status).toBe("full");
    expect(host(r, "same").warnings.map((w) => w.code)).not.toContain("firmware-unverified");
    expect(codes(r, "older")).toEqual(["firmware-mismatch"]);
    expect(codes(r, "psid")).toEqual(["firmware-mismatch"]);
    expect(host(r, "psid").unassigned[0]!.reasons[0]!.message).toContain("MT_0000000436");
  });

  it("unknown is a warning naming the check, on the side that lacks it", () => {
    const r = plan(VF_VM, facts(fw("22.41.1000")), { unknown: facts() });
    expect(host(r, "unknown").status).toBe("full");
    const w = host(r, "unknown").warnings.find((x) => x.code === "firmware-unverified")!;
    expect(w.message).toMatch(/^destination unknown: /);
    expect(w.message).toContain("same PSID and firmware version");
    const r2 = plan(VF_VM, facts(), { a: facts(fw("22.41.1000")) });
    expect(host(r2, "a").status).toBe("full");
    expect(r2.devices[0]!.warnings.map((x) => x.code)).toContain("firmware-unverified");
  });
});
