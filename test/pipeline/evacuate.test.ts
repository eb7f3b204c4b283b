import { targetJson } from "../../src/output/json.js";
import { describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import { evacuate } from "../../src/matching/evacuate.js";
import { readDomain } from "../../src/xml/domain.js";
import { domainXml, gpu, mdevDev, rawHost } from "../helpers/build.js";

const SRC_GPU = "0000:3b:00.0";
const u = (n: number) => `4b20d080-1b54-4048-85b3-${n.toString().padStart(12, "0")}`;

function source(nMdevs: number) {
  const devs = [gpu(SRC_GPU, 0), gpu("0000:3c:00.0", 0)];
  for (let i = 1; i <= nMdevs; i++)
    devs.push(mdevDev({ uuid: u(i), parentAddr: SRC_GPU, type: "nvidia-558" }));
  return buildInventory(rawHost("src", { devices: devs }));
}

function vm(name: string, mdevs: number[]) {
  return readDomain(
    domainXml(
      name,
      `c7a5fdbd-cdaf-9455-926a-${name.padStart(12, "0").replace(/[^0-9a-f]/g, "0")}`,
      mdevs.map((i) => ({ kind: "mdev" as const, uuid: u(i) })),
    ),
    `${name}.xml`,
  );
}

function host(key: string, free: number) {
  return buildInventory(rawHost(key, { devices: [gpu("0000:3b:00.0", free, 0)] }));
}

const opts = { assumeVersions: false, explain: false };

describe("evacuate", () => {
  it("never promises a capacity unit twice under contention (2, 2, 1 free; three VMs of 2)", async () => {
    const src = source(6);
    const vms = [vm("vm1", [1, 2]), vm("vm2", [3, 4]), vm("vm3", [5, 6])];
    const hosts = [host("h1", 2), host("h2", 2), host("h3", 1)];
    const r = await evacuate(vms, src, hosts, new DescriptorSelector([]), opts);
    expect(r.unplaced).toBe(1);
    const placed = r.placements.filter((p) => p.host);
    expect(new Set(placed.map((p) => p.host))).toEqual(new Set(["h1", "h2"]));
    // Count promises per (host, parent, type) and per UUID.
    const perPool = new Map<string, number>();
    const uuids = new Set<string>();
    for (const p of placed) {
      for (const a of p.assignments) {
        const t = targetJson(a.target);
        const k = `${p.host}/${t.parent}/${t.mdevType}`;
        perPool.set(k, (perPool.get(k) ?? 0) + 1);
        const key = `${p.host}/${t.uuid}`;
        expect(uuids.has(key)).toBe(false);
        uuids.add(key);
      }
    }
    for (const [k, n] of perPool) {
      const cap = k.startsWith("h3") ? 1 : 2;
      expect(n).toBeLessThanOrEqual(cap);
    }
    expect(r.capacityLeft.h1!["pool:pci_0000_3b_00_0:nvidia-558"]).toBe(0);
    expect(r.capacityLeft.h3!["pool:pci_0000_3b_00_0:nvidia-558"]).toBe(1);
    const un = r.placements.find((p) => !p.host)!;
    expect(un.reasons.map((x) => x.code)).toContain("capacity-taken");
  });

  it("most-constrained-first places a set that input order would not", async () => {
    const src = source(3);
    // small needs 1 instance and fits both hosts; big needs 2 and fits only X.
    const vms = [vm("small", [1]), vm("big", [2, 3])];
    const hosts = [host("x", 2), host("y", 1)];
    const inputOrder = await evacuate(vms, src, hosts, new DescriptorSelector([]), opts, "input", {
      solver: "greedy",
    });
    expect(inputOrder.unplaced).toBe(1);
    const constrained = await evacuate(vms, src, hosts, new DescriptorSelector([]), opts);
    expect(constrained.unplaced).toBe(0);
    expect(constrained.placements.map((p) => [p.domain, p.host])).toEqual([
      ["big", "x"],
      ["small", "y"],
    ]);
  });

  it("one type per GPU holds across placements", async () => {
    const src = buildInventory(
      rawHost("src", {
        devices: [
          gpu(SRC_GPU, 0),
          mdevDev({ uuid: u(1), parentAddr: SRC_GPU, type: "nvidia-558" }),
          mdevDev({ uuid: u(2), parentAddr: SRC_GPU, type: "nvidia-559" }),
        ],
      }),
    );
    const vms = [vm("a", [1]), vm("b", [2])];
    const hosts = [buildInventory(rawHost("h", { devices: [gpu("0000:3b:00.0", 4, 4)] }))];
    const r = await evacuate(vms, src, hosts, new DescriptorSelector([]), opts);
    expect(r.unplaced).toBe(1);
    const left = r.capacityLeft.h!;
    expect(Object.values(left).filter((v) => v === 0).length).toBeGreaterThanOrEqual(1);
  });
});
