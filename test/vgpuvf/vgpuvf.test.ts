/**
 * NVIDIA SR-IOV vGPU VFs (compat.md §8, issue #12 items 1-3): reading the
 * nvidia/ files, source identity, destination matching and capacity, the
 * type-write step, the destination XML and the hook.
 */
import { targetJson } from "../../src/output/json.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { readHostFacts } from "../../src/facts/read.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostFacts, VgpuVfFacts } from "../../src/model.js";
import { type PlanResult, planDomain } from "../../src/pipeline.js";
import { parseSnapshot } from "../../src/targets/snapshot.js";
import { parseCreatable, parseCurrent } from "../../src/vgpuvf/read.js";
import { readDomain } from "../../src/xml/domain.js";
import { type HostdevSpec, domainXml, pciDev, rawHost } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { writeVgpuSysfs } from "../helpers/hook.js";
import { hostPciAddress, isManaged } from "../../src/model.js";

const PF = "0000:81:00.0";
const PF2 = "0000:82:00.0";
const vf = (pf: string, fn: number) => `${pf.slice(0, -1)}${fn}`;
const L40S = { vendor: "10de", product: "26b9" };
const L4 = { vendor: "10de", product: "27b8" };
const VM = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const TYPES: Record<number, string> = { 1153: "NVIDIA L40S-8Q", 1155: "NVIDIA L40S-24Q" };

/** A GPU PF on nvidia with VFs on nvidia. */
function gpuWithVfs(pf: string, n: number, ids = L40S): string[] {
  const vfs = Array.from({ length: n }, (_, i) => vf(pf, 4 + i));
  return [
    pciDev({ addr: pf, ...ids, cls: "0x030200", driver: "nvidia", vfs }),
    ...vfs.map((a) => pciDev({ addr: a, ...ids, cls: "0x030200", driver: "nvidia", pf })),
  ];
}

const t = (current: number, creatable: number[] = []): Omit<VgpuVfFacts, "address"> => ({
  currentType: current,
  creatable: creatable.map((id) => ({ id, name: TYPES[id] ?? `T${id}` })),
});

function facts(vfs: Record<string, Omit<VgpuVfFacts, "address">>, manager = "550.127.05"): HostFacts {
  return {
    nvidiaVersion: manager,
    firmware: [],
    vgpuVfs: Object.entries(vfs).map(([address, v]) => ({ address, ...v })),
  };
}

function plan(
  devs: HostdevSpec[],
  src: { devices: string[]; facts: HostFacts | null },
  dsts: Record<string, { devices: string[]; facts: HostFacts | null; domains?: string[] }>,
  assumeVersions = false,
): PlanResult {
  const domain = readDomain(domainXml("vm1", VM, devs), "vm1.xml");
  return planDomain(
    {
      domain,
      source: buildInventory(rawHost("src", src)),
      selector: new DescriptorSelector([]),
      opts: { assumeVersions, explain: false },
    },
    Object.entries(dsts).map(([k, d]) => ({ ok: true as const, inv: buildInventory(rawHost(k, d)) })),
  );
}

const host = (r: PlanResult, k: string) => r.hosts.find((h) => h.host === k)!;
const codes = (r: PlanResult, k: string) =>
  host(r, k).unassigned.flatMap((u) => u.reasons.map((x) => x.code));

const SRC_VF = vf(PF, 4);
const source = (f: HostFacts | null = facts({ [SRC_VF]: t(1155), [vf(PF, 5)]: t(0, [1155]) })) => ({
  devices: gpuWithVfs(PF, 2),
  facts: f,
});
const ONE: HostdevSpec[] = [{ kind: "pci", addr: SRC_VF, managed: false }];

describe("reading nvidia/current_vgpu_type and creatable_vgpu_types", () => {
  it("parses `ID : NAME` lines (header and junk skipped) and the current id", () => {
    expect(
      parseCreatable("ID : vGPU Name\n1155 : NVIDIA L40S-24Q\n 1153 :  NVIDIA L40S-8Q \nbogus\n0 : none\n"),
    ).toEqual([
      { id: 1155, name: "NVIDIA L40S-24Q" },
      { id: 1153, name: "NVIDIA L40S-8Q" },
    ]);
    expect(parseCurrent("1155\n")).toBe(1155);
    expect(parseCurrent("0")).toBe(0);
    expect(parseCurrent("none")).toBeUndefined();
  });

  it("the facts reader finds every VF with a readable current_vgpu_type", () => {
    const root = tempDir("hdplan-vgpuvf-");
    const d = (a: string) => join(root, "sys/bus/pci/devices", a, "nvidia");
    mkdirSync(d(vf(PF, 4)), { recursive: true });
    writeFileSync(join(d(vf(PF, 4)), "current_vgpu_type"), "1155\n");
    mkdirSync(d(vf(PF, 5)), { recursive: true });
    writeFileSync(join(d(vf(PF, 5)), "current_vgpu_type"), "0\n");
    writeFileSync(join(d(vf(PF, 5)), "creatable_vgpu_types"), "ID : vGPU Name\n1155 : NVIDIA L40S-24Q\n");
    expect(readHostFacts(root).vgpuVfs).toEqual([
      { address: vf(PF, 4), currentType: 1155 },
      { address: vf(PF, 5), currentType: 0, creatable: [{ id: 1155, name: "NVIDIA L40S-24Q" }] },
    ]);
  });

  it("snapshots carry them (schemaVersion 2 round trip)", () => {
    const f = facts({ [SRC_VF]: t(1155), [vf(PF, 5)]: t(0, [1155]) });
    const text = JSON.stringify({
      schemaVersion: 2,
      kind: "hdplan-host-snapshot",
      nodeDevices: gpuWithVfs(PF, 2).map((xml) => ({ xml })),
      facts: f,
    });
    expect(parseSnapshot(text, "s.json").facts).toEqual(f);
    const bad = text.replace('"currentType":1155', '"currentType":"x"');
    expect(() => parseSnapshot(bad, "s.json")).toThrow(/facts\.vgpuVfs\[0\]/);
  });
});

describe("source identity", () => {
  it("derived descriptor {vfio-pci, pci, PF ids, vgpu_type NAME, software_version manager}", () => {
    const r = plan(ONE, source(), {});
    const d = r.devices[0]!;
    expect(d.kind).toBe("pci");
    expect(d.blockers).toEqual([]);
    expect(d.sourceDescriptor?.self).toEqual({
      device_api: "vfio-pci",
      device_type: "pci",
      device_id: "10de26b9",
      vgpu_type: "NVIDIA L40S-24Q",
      software_version: "550.127.05",
    });
  });

  it("no data on the VF: vgpu-type-unknown saying to run inventory on the host", () => {
    const r = plan(ONE, source({ nvidiaVersion: "550.127.05", firmware: [] }), {});
    const b = r.devices[0]!.blockers[0]!;
    expect(b.code).toBe("vgpu-type-unknown");
    expect(b.message).toContain("hdplan inventory");
    expect(b.message).toContain(`sys/bus/pci/devices/${SRC_VF}/nvidia/current_vgpu_type`);
  });

  it("managed='yes' is a source warning", () => {
    const r = plan([{ kind: "pci", addr: SRC_VF }], source(), {});
    expect(r.devices[0]!.warnings.map((w) => w.code)).toContain("vgpu-vf-managed");
  });
});

describe("destination matching", () => {
  const used = (a: string) =>
    domainXml("other", "11111111-2222-3333-4444-555555555555", [{ kind: "pci", addr: a, managed: false }]);

  it("prefers an unused VF with the type; else a type-0 VF that lists it; else vgpu-type-not-creatable", () => {
    const r = plan(ONE, source(), {
      reuse: {
        devices: gpuWithVfs(PF, 2),
        facts: facts({ [vf(PF, 4)]: t(0, [1155]), [vf(PF, 5)]: t(1155) }),
      },
      create: {
        devices: gpuWithVfs(PF, 2),
        facts: facts({ [vf(PF, 4)]: t(0, [1153, 1155]), [vf(PF, 5)]: t(0, [1155]) }),
      },
      other: {
        devices: gpuWithVfs(PF, 2),
        facts: facts({ [vf(PF, 4)]: t(0, [1153]), [vf(PF, 5)]: t(1153) }),
      },
      busy: {
        devices: gpuWithVfs(PF, 1),
        facts: facts({ [vf(PF, 4)]: t(1155) }),
        domains: [used(vf(PF, 4))],
      },
    });
    const reuse = targetJson(host(r, "reuse").assignments[0]!.target);
    expect(reuse.address).toBe(vf(PF, 5));
    expect(reuse.vgpuType).toEqual({ id: 1155, name: "NVIDIA L40S-24Q", create: false, write: null });
    const create = targetJson(host(r, "create").assignments[0]!.target);
    expect(create.vgpuType?.create).toBe(true);
    expect(create.vgpuType?.write).toBe(
      `echo 1155 > /sys/bus/pci/devices/${create.address}/nvidia/current_vgpu_type`,
    );
    expect(codes(r, "other")).toEqual(["vgpu-type-not-creatable"]);
    expect(codes(r, "busy")).toEqual(["pci-device-in-use"]);
  });

  it("the printed type write, run against a sysfs root, sets the type the reader then sees", () => {
    const r = plan(ONE, source(), {
      create: { devices: gpuWithVfs(PF, 1), facts: facts({ [vf(PF, 4)]: t(0, [1155]) }) },
    });
    const cmd = targetJson(host(r, "create").assignments[0]!.target).vgpuType!.write!;
    const m = /^echo (\d+) > (\/sys\/bus\/pci\/devices\/([0-9a-f:.]+)\/nvidia\/current_vgpu_type)$/.exec(cmd);
    expect(m?.[1]).toBe("1155");
    expect(m?.[3]).toBe(vf(PF, 4));
    const root = tempDir("hdplan-vgpuwrite-");
    mkdirSync(join(root, "sys/bus/pci/devices", vf(PF, 4), "nvidia"), { recursive: true });
    writeFileSync(join(root, "sys/bus/pci/devices", vf(PF, 4), "nvidia/current_vgpu_type"), "0\n");
    const run = spawnSync("sh", ["-c", cmd.replace(" /sys/", ` ${root}/sys/`)], { encoding: "utf8" });
    expect(run.status).toBe(0);
    expect(readHostFacts(root).vgpuVfs?.[0]?.currentType).toBe(1155);
  });

  it("same GPU model (PF ids), manager version rule, unknown VF data", () => {
    const r = plan(ONE, source(), {
      model: { devices: gpuWithVfs(PF, 1, L4), facts: facts({ [vf(PF, 4)]: t(0, [1155]) }) },
      branch: { devices: gpuWithVfs(PF, 1), facts: facts({ [vf(PF, 4)]: t(0, [1155]) }, "535.216.01") },
      older: { devices: gpuWithVfs(PF, 1), facts: facts({ [vf(PF, 4)]: t(0, [1155]) }, "550.90.07") },
      nodata: { devices: gpuWithVfs(PF, 1), facts: { nvidiaVersion: "550.127.05", firmware: [] } },
      nomanager: {
        devices: gpuWithVfs(PF, 1),
        facts: { firmware: [], vgpuVfs: [{ address: vf(PF, 4), ...t(0, [1155]) }] },
      },
    });
    expect(codes(r, "model")).toEqual(["descriptor-mismatch"]);
    expect(codes(r, "branch")).toEqual(["vgpu-manager-version-mismatch"]);
    expect(codes(r, "older")).toEqual(["vgpu-manager-version-mismatch"]);
    expect(codes(r, "nodata")).toEqual(["vgpu-type-unknown"]);
    expect(codes(r, "nomanager")).toEqual(["vgpu-manager-version-unknown"]);
  });

  it("two VF vGPUs of one VM compete for the last creatable VF", () => {
    const two: HostdevSpec[] = [
      { kind: "pci", addr: vf(PF, 4), managed: false },
      { kind: "pci", addr: vf(PF, 5), managed: false },
    ];
    const r = plan(two, source(facts({ [vf(PF, 4)]: t(1155), [vf(PF, 5)]: t(1155) })), {
      last: { devices: gpuWithVfs(PF, 1), facts: facts({ [vf(PF, 4)]: t(0, [1155]) }) },
      // two GPUs, one type-0 VF each: one creation per GPU
      room: {
        devices: [...gpuWithVfs(PF, 1), ...gpuWithVfs(PF2, 1)],
        facts: facts({ [vf(PF, 4)]: t(0, [1155]), [vf(PF2, 4)]: t(0, [1155]) }),
      },
      // one GPU, two VFs that already carry the type: reuse has no such limit
      typed: {
        devices: gpuWithVfs(PF, 2),
        facts: facts({ [vf(PF, 4)]: t(1155), [vf(PF, 5)]: t(1155) }),
      },
    });
    expect(host(r, "last").compatible).toBe(1);
    expect(codes(r, "last")).toEqual(["capacity-taken"]);
    expect(host(r, "room").status).toBe("full");
    expect(host(r, "typed").status).toBe("full");
  });

  it("fail-closed capacity: one GPU with two type-0 VFs listing the type creates only one new vGPU", () => {
    // creatable_vgpu_types shows that one more vGPU of the type fits on the
    // GPU, not how many: two new L40S-24Q on one 48 GB GPU may or may not fit
    const two: HostdevSpec[] = [
      { kind: "pci", addr: vf(PF, 4), managed: false },
      { kind: "pci", addr: vf(PF, 5), managed: false },
    ];
    const r = plan(two, source(facts({ [vf(PF, 4)]: t(1155), [vf(PF, 5)]: t(1155) })), {
      onegpu: {
        devices: gpuWithVfs(PF, 2),
        facts: facts({ [vf(PF, 4)]: t(0, [1155]), [vf(PF, 5)]: t(0, [1155]) }),
      },
    });
    const h = host(r, "onegpu");
    expect(h.status).toBe("partial");
    expect(h.compatible).toBe(1);
    expect(codes(r, "onegpu")).toEqual(["capacity-taken"]);
    const msg = h.unassigned[0]!.reasons[0]!.message;
    expect(msg).toContain("at most one new vGPU per physical GPU");
    // the way out it names: give the VFs the type ahead, so they are reused
    expect(msg).toMatch(/echo ID > \/sys\/bus\/pci\/devices\/VF\/nvidia\/current_vgpu_type/);
  });

  it("one vGPU type per physical GPU: two types need two GPUs", () => {
    const two: HostdevSpec[] = [
      { kind: "pci", addr: vf(PF, 4), managed: false },
      { kind: "pci", addr: vf(PF, 5), managed: false },
    ];
    const src = source(facts({ [vf(PF, 4)]: t(1155), [vf(PF, 5)]: t(1153) }));
    src.facts!.vgpuVfs!.push({ address: vf(PF, 6), ...t(0, [1153, 1155]) });
    src.devices = gpuWithVfs(PF, 3);
    const both = (pfs: string[]) => ({
      devices: pfs.flatMap((p) => gpuWithVfs(p, 2)),
      facts: facts(Object.fromEntries(pfs.flatMap((p) => [4, 5].map((f) => [vf(p, f), t(0, [1153, 1155])])))),
    });
    const r = plan(two, src, { onegpu: both([PF]), twogpus: both([PF, PF2]) });
    expect(host(r, "onegpu").compatible).toBe(1);
    expect(host(r, "twogpus").status).toBe("full");
    const gpus = host(r, "twogpus").assignments.map((a) => targetJson(a.target).address!.slice(0, 7));
    expect(new Set(gpus).size).toBe(2);
  });
});

describe("from plan to migration: destination XML and the hook", () => {
  it("--write-dest-xml points the hostdev at the chosen VF and keeps managed='no'; the hook checks it", () => {
    const dir = tempDir("hdplan-vgpuvf-cli-");
    const sysOf = (root: string, vfs: Record<string, [number, number[]]>) => writeVgpuSysfs(root, vfs, TYPES);
    const src = writeDump(dir, "src", {
      devices: gpuWithVfs(PF, 2),
      domains: [domainXml("vm1", VM, ONE)],
    });
    sysOf(src, { [vf(PF, 4)]: [1155, []], [vf(PF, 5)]: [0, [1155]] });
    // destination: VF .4 is used by another guest, so .5 is the pick (a type write)
    const dst = writeDump(dir, "dst", {
      devices: gpuWithVfs(PF, 2),
      domains: [domainXml("other", "11111111-2222-3333-4444-555555555555", ONE)],
    });
    sysOf(dst, { [vf(PF, 4)]: [1155, []], [vf(PF, 5)]: [0, [1155]] });
    const vm = join(dir, "vm1.xml");
    writeFileSync(vm, domainXml("vm1", VM, ONE));
    const out = join(dir, "out");
    const p = hdplan([
      "plan",
      "--domain",
      vm,
      "--source",
      src,
      "--host",
      dst,
      "--write-dest-xml",
      out,
      "--explain",
    ]);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(
      `first: echo 1155 > /sys/bus/pci/devices/${vf(PF, 5)}/nvidia/current_vgpu_type`,
    );
    const xml = readFileSync(join(out, "dst.xml"), "utf8");
    const d = readDomain(xml, "dst.xml").devices[0]!;
    expect(hostPciAddress(d)).toBe(vf(PF, 5));
    expect(isManaged(d)).toBe(false);
    expect(xml).toContain('vgpu-type="1155"');
    const env = (sys: string) => ({
      HDPLAN_HOOK_HOST: dst,
      HDPLAN_SYSFS_ROOT: sys,
      HDPLAN_DOMAIN_DIRS: "",
      HDPLAN_HOOK_STATE_DIR: join(dir, `state-${sys ? "live" : "snap"}`),
      HDPLAN_HOOK_SYSLOG: "0",
    });
    // VF .5 still has type 0: without HDPLAN_HOOK_CREATE=1 the hook refuses and prints the write
    const notSet = hdplan(["hook", "vm1", "migrate", "begin", "-"], { input: xml, env: env("") });
    expect(notSet.code).toBe(1);
    expect(notSet.stderr).toContain(
      `vgpu-type-not-set: VF ${vf(PF, 5)} has no vGPU type (nvidia/current_vgpu_type 0) and the plan gives it type 1155`,
    );
    expect(notSet.stderr).toContain(
      `run 'echo 1155 > /sys/bus/pci/devices/${vf(PF, 5)}/nvidia/current_vgpu_type'`,
    );
    // live sysfs: meanwhile VF .5 got another type and nothing can create 1155 any more
    const live = join(dir, "live");
    sysOf(live, { [vf(PF, 4)]: [1155, []], [vf(PF, 5)]: [1153, []] });
    const no = hdplan(["hook", "vm1", "migrate", "begin", "-"], { input: xml, env: env(live) });
    expect(no.code).toBe(1);
    expect(no.stderr).toMatch(/refused: pci0: .*vgpu-type-not-creatable/);
  });
});

describe("prepare writes the vGPU type on the local host only", () => {
  it("writes it under HDPLAN_SYSFS_ROOT for a local URI; for a remote one prints the command to run", () => {
    const plan = hdplan([
      "plan",
      "--domain",
      "xml-samples/domains/vm-sriov-vgpu.xml",
      "--source",
      "xml-samples/hosts/vgpu-src",
      "--host",
      "xml-samples/hosts/vgpu-dst-a",
      "--format",
      "json",
    ]);
    expect(plan.code).toBe(0);
    const dir = tempDir("hdplan-vgpu-prepare-");
    const j = JSON.parse(plan.stdout);
    const write = (target: string) => {
      j.hosts[0].target = target;
      const f = join(dir, `plan-${target.length}.json`);
      writeFileSync(f, JSON.stringify(j));
      return f;
    };
    const root = join(dir, "root");
    const nv = join(root, "sys/bus/pci/devices/0000:17:00.4/nvidia");
    mkdirSync(nv, { recursive: true });
    writeFileSync(join(nv, "current_vgpu_type"), "0\n");
    writeFileSync(join(nv, "creatable_vgpu_types"), "ID : vGPU Name\n1155 : NVIDIA L40S-24Q\n");
    const dry = hdplan(["prepare", "--host", "qemu:///system", "--plan", write("qemu:///system")]);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain("echo 1155 > /sys/bus/pci/devices/0000:17:00.4/nvidia/current_vgpu_type");
    const local = hdplan(
      ["prepare", "--host", "qemu:///system", "--plan", write("qemu:///system"), "--connect-rw"],
      {
        env: { HDPLAN_SYSFS_ROOT: root },
      },
    );
    expect(local.stderr).toBe("");
    expect(local.code).toBe(0);
    expect(readFileSync(join(nv, "current_vgpu_type"), "utf8").trim()).toBe("1155");
    // a retry finds it set and succeeds; another type there is refused
    expect(
      hdplan(["prepare", "--host", "qemu:///system", "--plan", write("qemu:///system"), "--connect-rw"], {
        env: { HDPLAN_SYSFS_ROOT: root },
      }).code,
    ).toBe(0);
    writeFileSync(join(nv, "current_vgpu_type"), "1153\n");
    const taken = hdplan(
      ["prepare", "--host", "qemu:///system", "--plan", write("qemu:///system"), "--connect-rw"],
      {
        env: { HDPLAN_SYSFS_ROOT: root },
      },
    );
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain("already carries vGPU type 1153");
    const uri = "qemu+ssh://root@vgpu-dst-a/system";
    const remote = hdplan(["prepare", "--host", uri, "--plan", write(uri), "--connect-rw"], {
      env: { HDPLAN_SYSFS_ROOT: root },
    });
    expect(remote.code).toBe(3);
    expect(remote.stderr).toContain(
      "run on vgpu-dst-a: echo 1155 > /sys/bus/pci/devices/0000:17:00.4/nvidia/current_vgpu_type",
    );
  });
});
