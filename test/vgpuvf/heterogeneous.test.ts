/**
 * NVIDIA SR-IOV vGPU VFs, the rest of issue #12's tests: the heterogeneous
 * (mixed-size) mode switch read from a saved `nvidia-smi -q`, evacuate with
 * VMs competing for the last creatable VF (reuse preferred over creation),
 * and the snapshot round trip through `inventory --sysfs-root` with the
 * libvirt test driver.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { readHostFacts } from "../../src/facts/read.js";
import { buildInventory } from "../../src/inventory/build.js";
import { evacuate } from "../../src/matching/evacuate.js";
import type { HostFacts, VgpuVfFacts } from "../../src/model.js";
import { type PlanResult, planDomain } from "../../src/pipeline.js";
import { parseSnapshot } from "../../src/targets/snapshot.js";
import { parseHeterogeneous } from "../../src/vgpuvf/read.js";
import { readDomain } from "../../src/xml/domain.js";
import { type HostdevSpec, domainXml, pciDev, rawHost } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { libvirtAvailable, nodeXml } from "../helpers/testdriver.js";
import { targetJson } from "../../src/output/json.js";

const PF = "0000:81:00.0";
const vf = (fn: number, pf = PF) => `${pf.slice(0, -1)}${fn}`;
const L40S = { vendor: "10de", product: "26b9" };
const NAMES: Record<number, string> = { 1153: "NVIDIA L40S-8Q", 1155: "NVIDIA L40S-24Q" };
const opts = { assumeVersions: false, explain: false };

function gpuWithVfs(pf: string, n: number): string[] {
  const vfs = Array.from({ length: n }, (_, i) => vf(4 + i, pf));
  return [
    pciDev({ addr: pf, ...L40S, cls: "0x030200", driver: "nvidia", vfs }),
    ...vfs.map((a) => pciDev({ addr: a, ...L40S, cls: "0x030200", driver: "nvidia", pf })),
  ];
}

const t = (current: number, creatable: number[] = []): Omit<VgpuVfFacts, "address"> => ({
  currentType: current,
  creatable: creatable.map((id) => ({ id, name: NAMES[id]! })),
});

function facts(vfs: Record<string, Omit<VgpuVfFacts, "address">>, heterogeneous?: string[]): HostFacts {
  return {
    nvidiaVersion: "550.127.05",
    firmware: [],
    vgpuVfs: Object.entries(vfs).map(([address, v]) => ({ address, ...v })),
    ...(heterogeneous ? { vgpuHeterogeneous: heterogeneous } : {}),
  };
}

/** The source: VFs .4 (type 1155) and .5 (type 1153), one VM on each, and one VM holding both. */
const SRC = buildInventory(
  rawHost("src", {
    devices: gpuWithVfs(PF, 3),
    facts: facts({ [vf(4)]: t(1155), [vf(5)]: t(1153), [vf(6)]: t(1155) }),
  }),
);
const vmOn = (name: string, addrs: string[]) =>
  readDomain(
    domainXml(
      name,
      `c7a5fdbd-cdaf-9455-926a-${name.padStart(12, "0").replace(/[^0-9a-f]/g, "0")}`,
      addrs.map((a): HostdevSpec => ({ kind: "pci", addr: a, managed: false })),
    ),
    `${name}.xml`,
  );

/**
 * One GPU: VF .4 already carries 1155 (free), VF .5 has no type and lists
 * both sizes. Two sizes on the GPU need the mixed-size mode; a plan still
 * creates at most one new vGPU per GPU (its capacity beyond one is unknown).
 */
const mixable = (key: string, heterogeneous?: string[]) =>
  buildInventory(
    rawHost(key, {
      devices: gpuWithVfs(PF, 2),
      facts: facts({ [vf(4)]: t(1155), [vf(5)]: t(0, [1153, 1155]) }, heterogeneous),
    }),
  );

const SMI = `
==============NVSMI LOG==============

Driver Version                            : 550.127.05

Attached GPUs                             : 3
GPU 00000000:81:00.0
    Product Name                          : NVIDIA L40S
    GPU Virtualization Mode
        Virtualization Mode               : Host VGPU
        Host VGPU Mode                    : SR-IOV
        vGPU Heterogeneous Mode           : Enabled

GPU 00000000:82:00.0
    GPU Virtualization Mode
        Virtualization Mode               : Host VGPU
        Host VGPU Mode                    : SR-IOV
        vGPU Heterogeneous Mode           : Disabled

GPU 00000000:83:00.0
    GPU Virtualization Mode
        Virtualization Mode               : Pass-Through
        Host VGPU Mode                    : N/A
        vGPU Heterogeneous Mode           : N/A
`;

describe("heterogeneous (mixed-size) vGPU mode", () => {
  it("is read from a saved nvidia-smi -q: only `Enabled` turns it on, per GPU", () => {
    expect(parseHeterogeneous(SMI)).toEqual(["0000:81:00.0"]);
    expect(parseHeterogeneous(SMI.replace(": Enabled", ": enabled?"))).toEqual([]);
    expect(parseHeterogeneous("vGPU Heterogeneous Mode : Enabled\n")).toEqual([]); // no GPU block
    const dir = tempDir("hdplan-het-");
    mkdirSync(join(dir, "sys/module/nvidia"), { recursive: true });
    writeFileSync(join(dir, "sys/module/nvidia/version"), "550.127.05\n");
    expect(readHostFacts(dir).vgpuHeterogeneous).toBeUndefined(); // not read: mode off
    writeFileSync(join(dir, "nvidia-smi-q.txt"), SMI);
    expect(readHostFacts(dir).vgpuHeterogeneous).toEqual(["0000:81:00.0"]);
  });

  it("snapshots carry it; a non-string entry is a bad snapshot", () => {
    const f = facts({ [vf(4)]: t(0, [1155]) }, [PF]);
    const text = JSON.stringify({
      schemaVersion: 2,
      kind: "hdplan-host-snapshot",
      nodeDevices: gpuWithVfs(PF, 1).map((xml) => ({ xml })),
      facts: f,
    });
    expect(parseSnapshot(text, "s.json").facts).toEqual(f);
    expect(() => parseSnapshot(text.replace(`["${PF}"]`, "[1]"), "s.json")).toThrow(
      /facts\.vgpuHeterogeneous\[0\]/,
    );
  });

  it("one VM wanting two sizes on one GPU: partial with the mode off, full (two VFs) with it on", () => {
    const r = planDomain(
      { domain: vmOn("vm2", [vf(4), vf(5)]), source: SRC, selector: new DescriptorSelector([]), opts },
      [
        { ok: true, inv: mixable("off") },
        { ok: true, inv: mixable("on", [PF]) },
        { ok: true, inv: mixable("other-gpu", ["0000:82:00.0"]) },
      ],
    );
    const h = (k: string) => r.hosts.find((x) => x.host === k)!;
    expect(h("off").status).toBe("partial");
    expect(h("other-gpu").status).toBe("partial"); // the mode on another GPU does not count
    expect(h("on").status).toBe("full");
    const on = h("on").assignments.map((a) => [
      targetJson(a.target).address,
      targetJson(a.target).vgpuType?.id,
    ]);
    expect(new Set(on.map(([a]) => a)).size).toBe(2);
    expect(on.map(([, id]) => id).sort()).toEqual([1153, 1155]);
  });

  it("evacuate: two VMs wanting two sizes on one GPU: one placed with the mode off, both with it on", async () => {
    const vms = [vmOn("big", [vf(4)]), vmOn("small", [vf(5)])];
    const sel = new DescriptorSelector([]);
    const off = await evacuate(vms, SRC, [mixable("h")], sel, opts);
    const on = await evacuate(vms, SRC, [mixable("h", [PF])], sel, opts);
    expect(off.unplaced).toBe(1);
    expect(on.unplaced).toBe(0);
    const addrs = on.placements.map((p) => targetJson(p.assignments[0]!.target).address);
    expect(new Set(addrs).size).toBe(2); // a VF is never handed out twice
  });
});

describe("evacuate and SR-IOV vGPU VF capacity", () => {
  it("two VMs compete for the last creatable VF: one placed, the other unplaced with capacity-taken", async () => {
    const vms = [vmOn("a", [vf(4)]), vmOn("b", [vf(6)])];
    const last = buildInventory(
      rawHost("last", { devices: gpuWithVfs(PF, 1), facts: facts({ [vf(4)]: t(0, [1155]) }) }),
    );
    const r = await evacuate(vms, SRC, [last], new DescriptorSelector([]), opts);
    expect(r.unplaced).toBe(1);
    const placed = r.placements.filter((p) => p.host);
    expect(placed).toHaveLength(1);
    expect(targetJson(placed[0]!.assignments[0]!.target).vgpuType).toMatchObject({ id: 1155, create: true });
    const unplaced = r.placements.find((p) => !p.host)!;
    expect(new Set(unplaced.reasons.map((x) => x.code))).toEqual(new Set(["capacity-taken"]));
  });

  it("reuse is preferred over creation: the VF already carrying the type, nothing to write", async () => {
    const mixed = buildInventory(
      rawHost("mixed", {
        devices: gpuWithVfs(PF, 3),
        facts: facts({ [vf(4)]: t(0, [1155]), [vf(5)]: t(1155), [vf(6)]: t(0, [1155]) }),
      }),
    );
    const r = await evacuate([vmOn("a", [vf(4)])], SRC, [mixed], new DescriptorSelector([]), opts);
    expect(targetJson(r.placements[0]!.assignments[0]!.target)).toMatchObject({
      address: vf(5),
      vgpuType: { id: 1155, create: false, write: null },
    });
    // two VMs: one reuses .5, the other creates on a type-0 VF
    const two = await evacuate(
      [vmOn("a", [vf(4)]), vmOn("b", [vf(6)])],
      SRC,
      [mixed],
      new DescriptorSelector([]),
      opts,
    );
    const creates = two.placements.map((p) => targetJson(p.assignments[0]!.target).vgpuType!.create).sort();
    expect(creates).toEqual([false, true]);
  });
});

describe("SR-IOV vGPU VFs through a snapshot (inventory --sysfs-root, test driver)", () => {
  const RUN = libvirtAvailable();
  it.runIf(RUN)("round trip: the VF types survive; a schemaVersion 1 copy says vgpu-type-unknown", () => {
    const dir = tempDir("hdplan-vgpu-snap-");
    const td = join(dir, "dst.xml");
    writeFileSync(td, nodeXml(gpuWithVfs(PF, 2)));
    const root = join(dir, "root");
    const put = (p: string, s: string) => {
      mkdirSync(join(root, p, ".."), { recursive: true });
      writeFileSync(join(root, p), s);
    };
    put("sys/module/nvidia/version", "550.127.05\n");
    put(`sys/bus/pci/devices/${vf(4)}/nvidia/current_vgpu_type`, "0\n");
    put(
      `sys/bus/pci/devices/${vf(4)}/nvidia/creatable_vgpu_types`,
      "ID : vGPU Name\n1155 : NVIDIA L40S-24Q\n",
    );
    put(`sys/bus/pci/devices/${vf(5)}/nvidia/current_vgpu_type`, "1155\n");
    const snap = join(dir, "dst.json");
    const inv = hdplan(["inventory", "--connect", `test://${td}`, "--sysfs-root", root, "-o", snap]);
    expect(inv.code).toBe(0);
    const j = JSON.parse(readFileSync(snap, "utf8"));
    expect(j.schemaVersion).toBe(2);
    expect(j.facts.vgpuVfs).toEqual([
      { address: vf(4), currentType: 0, creatable: [{ id: 1155, name: "NVIDIA L40S-24Q" }] },
      { address: vf(5), currentType: 1155 },
    ]);
    const src = writeDump(dir, "src", {
      devices: gpuWithVfs(PF, 1),
      domains: [
        domainXml("vm1", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", [
          { kind: "pci", addr: vf(4), managed: false },
        ]),
      ],
    });
    const s = (p: string, x: string) => {
      mkdirSync(join(src, p, ".."), { recursive: true });
      writeFileSync(join(src, p), x);
    };
    s("sys/module/nvidia/version", "550.127.05\n");
    s(`sys/bus/pci/devices/${vf(4)}/nvidia/current_vgpu_type`, "1155\n");
    const plan = (host: string) =>
      JSON.parse(
        hdplan(["plan", "--domain", "vm1", "--source", src, "--host", host, "--format", "json"]).stdout,
      ) as PlanResult;
    const p = plan(snap);
    // reuse over creation: VF .5 already carries 1155
    expect(p.hosts[0]!.assignments[0]!.target).toMatchObject({ address: vf(5), vgpuType: { create: false } });
    // schemaVersion 1 (no facts) of the same host, with the VFs' driver as a real
    // libvirt shows it (the test driver's node devices carry no <driver>)
    const v1 = join(dir, "dst1.json");
    const { facts: _drop, ...rest } = j;
    const withDriver = rest.nodeDevices.map((d: { xml: string }) => ({
      ...d,
      xml: d.xml.replace(
        "<parent>computer</parent>",
        "<parent>computer</parent><driver><name>nvidia</name></driver>",
      ),
    }));
    writeFileSync(v1, JSON.stringify({ ...rest, nodeDevices: withDriver, schemaVersion: 1 }));
    const p1 = plan(v1);
    expect(p1.hosts[0]!.unassigned[0]!.reasons.map((r) => r.code)).toEqual(["vgpu-type-unknown"]);
    expect(p1.hosts[0]!.unassigned[0]!.reasons[0]!.message).toContain("run 'hdplan inventory' on the host");
  });
});

describe("headroom counts SR-IOV vGPU VF capacity by type id, like mdev types", () => {
  it("the sample vGPU fleet: free and used VFs of type 1155 per host", () => {
    const r = hdplan([
      "headroom",
      "--host",
      "xml-samples/hosts/vgpu-src",
      "--host",
      "xml-samples/hosts/vgpu-dst-a",
      "--host",
      "xml-samples/hosts/vgpu-dst-b",
      "--format",
      "json",
    ]);
    const j = JSON.parse(r.stdout) as {
      types: string[];
      hosts: { host: string; free: Record<string, number>; used: Record<string, number> }[];
    };
    expect(j.types).toContain("vgpu type 1155");
    const by = Object.fromEntries(j.hosts.map((h) => [h.host, h]));
    // vgpu-src: its VM holds VF .4 (used 1); its three type-0 VFs list 1155,
    // but creatable_vgpu_types proves only that one more fits on the GPU, so
    // one is free (fail-closed: at most one new vGPU per GPU in a plan)
    expect(by["vgpu-src"]!.used["vgpu type 1155"]).toBe(1);
    expect(by["vgpu-src"]!.free["vgpu type 1155"]).toBe(1);
    // vgpu-dst-a: one GPU, four type-0 VFs listing 1155: one free, not four
    expect(by["vgpu-dst-a"]!.free["vgpu type 1155"]).toBe(1);
    // vgpu-dst-b: .5 runs gpu-02 (used), .4 is free with the type, .6/.7 can create nothing
    expect(by["vgpu-dst-b"]!.free["vgpu type 1155"]).toBe(1);
    expect(by["vgpu-dst-b"]!.used["vgpu type 1155"]).toBe(1);
  });
});
