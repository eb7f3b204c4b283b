import { describe, expect, it } from "vitest";
import type { DeviceCandidates, Resource } from "../../src/candidates/types.js";
import { minCostMaxFlow } from "../../src/matching/flow.js";
import { matchDevices } from "../../src/matching/match.js";

function res(id: string, capacity: number, extra: Partial<Resource> = {}): Resource {
  return {
    id,
    capacity,
    cost: 0,
    target: { kind: "pci", name: id, address: id, driver: null },
    ...extra,
  };
}

function dev(deviceId: string, resources: string[]): DeviceCandidates {
  return { deviceId, resources, reasons: [] };
}

/** First-fit greedy, the wrong approach the matching replaces. */
function greedy(devices: DeviceCandidates[], resources: Map<string, Resource>): number {
  const left = new Map([...resources].map(([k, r]) => [k, r.capacity]));
  let n = 0;
  for (const d of devices) {
    const r = d.resources.find((x) => (left.get(x) ?? 0) > 0);
    if (r) {
      left.set(r, left.get(r)! - 1);
      n++;
    }
  }
  return n;
}

describe("maximum matching with capacities", () => {
  it("beats greedy first-fit when two devices compete for one parent", () => {
    // pci0 can use A or B; pci1 only A. Greedy gives A to pci0 and strands pci1.
    const resources = new Map([
      ["A", res("A", 1)],
      ["B", res("B", 1)],
    ]);
    const devices = [dev("pci0", ["A", "B"]), dev("pci1", ["A"])];
    expect(greedy(devices, resources)).toBe(1);
    const m = matchDevices({ devices, resources });
    expect(m.assignment.size).toBe(2);
    expect(m.assignment.get("pci1")).toBe("A");
    expect(m.assignment.get("pci0")).toBe("B");
  });

  it("respects pool capacities", () => {
    const resources = new Map([["pool", res("pool", 2)]]);
    const devices = [dev("m0", ["pool"]), dev("m1", ["pool"]), dev("m2", ["pool"])];
    expect(matchDevices({ devices, resources }).assignment.size).toBe(2);
  });

  it("prefers existing mdevs (cost 0) over creating new ones", () => {
    const resources = new Map([
      ["pool", res("pool", 4, { cost: 1 })],
      ["mdev:x", res("mdev:x", 1, { cost: 0 })],
    ]);
    const devices = [dev("m0", ["pool", "mdev:x"])];
    expect(matchDevices({ devices, resources }).assignment.get("m0")).toBe("mdev:x");
  });

  it("puts one mdev type per physical GPU", () => {
    // Two types on one GPU, each with capacity; devices want different types.
    const resources = new Map([
      ["g:a", res("g:a", 4, { gpu: "gpu0", mdevType: "a" })],
      ["g:b", res("g:b", 4, { gpu: "gpu0", mdevType: "b" })],
    ]);
    const devices = [dev("m0", ["g:a"]), dev("m1", ["g:b"])];
    const m = matchDevices({ devices, resources });
    expect(m.assignment.size).toBe(1);
    expect([...m.gpuChoice.values()]).toHaveLength(1);
  });

  it("chooses the GPU type that serves the most devices", () => {
    const resources = new Map([
      ["g:a", res("g:a", 4, { gpu: "gpu0", mdevType: "a" })],
      ["g:b", res("g:b", 4, { gpu: "gpu0", mdevType: "b" })],
    ]);
    const devices = [dev("m0", ["g:a"]), dev("m1", ["g:b"]), dev("m2", ["g:b"])];
    const m = matchDevices({ devices, resources });
    expect(m.assignment.size).toBe(2);
    expect(m.gpuChoice.get("gpu0")).toBe("b");
  });

  it("honours GPU locks and used capacity from earlier placements", () => {
    const resources = new Map([
      ["g:a", res("g:a", 4, { gpu: "gpu0", mdevType: "a" })],
      ["g:b", res("g:b", 4, { gpu: "gpu0", mdevType: "b" })],
    ]);
    const devices = [dev("m0", ["g:a"])];
    expect(matchDevices({ devices, resources, gpuLocks: new Map([["gpu0", "b"]]) }).assignment.size).toBe(0);
    expect(matchDevices({ devices, resources, used: new Map([["g:a", 4]]) }).assignment.size).toBe(0);
    expect(matchDevices({ devices, resources, used: new Map([["g:a", 3]]) }).assignment.size).toBe(1);
  });

  it("min-cost flow finds a maximum flow on a chain of alternating paths", () => {
    // d0: r0,r1; d1: r0; d2: r1,r2; d3: r2
    const out = minCostMaxFlow(
      4,
      [1, 1, 1],
      [
        { from: 0, to: 0, cost: 0 },
        { from: 0, to: 1, cost: 0 },
        { from: 1, to: 0, cost: 0 },
        { from: 2, to: 1, cost: 0 },
        { from: 2, to: 2, cost: 0 },
        { from: 3, to: 2, cost: 0 },
      ],
    );
    expect(out.flow).toBe(3);
    const used = out.assigned.filter((x) => x >= 0);
    expect(new Set(used).size).toBe(used.length);
  });
});
