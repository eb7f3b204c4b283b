/**
 * The typed-array branch-and-bound matcher (src/matching/match.ts) against
 * the matcher it replaced (./reference-matcher.ts, the old code verbatim):
 * same assignment map (same entries in the same order), same gpuChoice (same
 * order), same truncated flag, on seeded fast-check inputs and on candidates
 * the real pipeline builds from node-device XML. Plan and evacuate JSON is
 * made from these maps, so identical maps mean identical output.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildHostCandidates } from "../../src/candidates/destination.js";
import { isVfio } from "../../src/candidates/source.js";
import type { DeviceCandidates, Resource } from "../../src/candidates/types.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import { mdevPoolSource, mdevUuid } from "../helpers/mdev-source.js";
import type { HostInventory } from "../../src/inventory/types.js";
import { minCostMaxFlow } from "../../src/matching/flow.js";
import { MAX_BRANCHES, type MatchInput, matchDevices } from "../../src/matching/match.js";
import { prepareSources } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import {
  type HostdevSpec,
  domainXml,
  gpu,
  hostdevNetworkXml,
  mdevDev,
  nic,
  rawHost,
} from "../helpers/build.js";
import { REF_MAX_BRANCHES, referenceMatchDevices, referenceMinCostMaxFlow } from "./reference-matcher.js";

/** Everything a caller can read from a MatchOutput, order included. */
function view(m: { assignment: Map<string, string>; gpuChoice: Map<string, string>; truncated: boolean }) {
  return JSON.stringify({ a: [...m.assignment], g: [...m.gpuChoice], t: m.truncated });
}

function same(input: MatchInput): void {
  const want = view(referenceMatchDevices(input));
  const got = view(matchDevices(input));
  expect(got).toBe(want);
}

const TYPES = ["nvidia-558", "nvidia-559", "nvidia-560", "nvidia-561"];

/** A source of uniform numbers in [0, 1) drawn by fast-check (so the run's seed fixes them). */
const arbRand = fc
  .infiniteStream(fc.noBias(fc.integer({ min: 0, max: 2 ** 30 - 1 })).map((x) => x / 2 ** 30))
  .map((stream) => () => stream.next().value as number);

interface GenGpu {
  types: { type: string; pools: { cap: number; cost: number }[] }[];
}

/**
 * Resources: GPUs with 1-4 types (1-3 resources per type: pools cost 1,
 * existing mdevs cost 0), plus plain PCI resources; 0-40 in all.
 * Devices: 1-12, each with a random ordered subset (possibly empty).
 */
const arbInput = fc
  .record({
    gpus: fc.array(
      fc.record({
        types: fc.uniqueArray(
          fc.record({
            type: fc.constantFrom(...TYPES),
            pools: fc.array(fc.record({ cap: fc.integer({ min: 0, max: 4 }), cost: fc.constantFrom(0, 1) }), {
              minLength: 1,
              maxLength: 3,
            }),
          }),
          { minLength: 1, maxLength: 4, selector: (t) => t.type },
        ),
      }),
      { maxLength: 6 },
    ),
    plain: fc.array(fc.record({ cap: fc.integer({ min: 0, max: 4 }), cost: fc.constantFrom(0, 1) }), {
      maxLength: 20,
    }),
    nDevices: fc.integer({ min: 1, max: 12 }),
    r: arbRand,
  })
  .map(({ gpus, plain, nDevices, r }) => build(gpus, plain, nDevices, r));

function res(id: string, capacity: number, cost: number, gpu?: string, mdevType?: string): Resource {
  return {
    id,
    capacity,
    cost,
    ...(gpu ? { gpu } : {}),
    ...(mdevType ? { mdevType } : {}),
    target: { kind: "pci", name: id, address: "0000:00:00.0", driver: null },
  };
}

function build(
  gpus: GenGpu[],
  plain: { cap: number; cost: number }[],
  nDevices: number,
  r: () => number,
): MatchInput {
  const resources = new Map<string, Resource>();
  gpus.forEach((g, gi) => {
    for (const t of g.types)
      t.pools.forEach((p, pi) => {
        if (resources.size >= 40) return;
        const id = `g${gi}:${t.type}:${pi}`;
        resources.set(id, res(id, p.cap, p.cost, `gpu${gi}`, t.type));
      });
  });
  plain.forEach((p, i) => {
    if (resources.size >= 40) return;
    resources.set(`pci${i}`, res(`pci${i}`, p.cap, p.cost));
  });
  const ids = [...resources.keys()];
  const devices: DeviceCandidates[] = Array.from({ length: nDevices }, (_, d) => {
    const list: string[] = [];
    if (r() >= 0.15) {
      // A device of one "kind": mostly one GPU type or plain PCI, sometimes anything.
      const mode = r();
      const want = TYPES[Math.floor(r() * TYPES.length)]!;
      const p = 0.2 + r() * 0.8;
      for (const id of ids) {
        const rr = resources.get(id)!;
        const fitsKind = mode < 0.3 ? true : mode < 0.75 ? rr.mdevType === want : !rr.gpu;
        if (fitsKind && r() < p) list.push(id);
      }
      // Random order ("best first" is the caller's order); a rare duplicate.
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(r() * (i + 1));
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      if (list.length > 0 && r() < 0.05) list.push(list[0]!);
    }
    return { deviceId: `hostdev${d}`, resources: list, reasons: [] };
  });
  const input: MatchInput = { devices, resources };
  if (r() < 0.4) {
    const used = new Map<string, number>();
    for (const id of ids) if (r() < 0.3) used.set(id, Math.floor(r() * 5));
    input.used = used;
  }
  if (r() < 0.4) {
    const locks = new Map<string, string>();
    gpus.forEach((g, gi) => {
      if (r() < 0.4) {
        // Usually one of the GPU's own types, sometimes another one.
        const t = r() < 0.8 ? g.types[Math.floor(r() * g.types.length)]!.type : TYPES[3]!;
        locks.set(`gpu${gi}`, t);
      }
    });
    input.gpuLocks = locks;
  }
  return input;
}

describe("differential: new matcher == reference matcher", () => {
  it("has the same branch bound as the reference", () => {
    expect(MAX_BRANCHES).toBe(REF_MAX_BRANCHES);
  });

  it("agrees on 3000 generated inputs (1-12 devices, 0-40 resources, GPUs with 1-4 types)", () => {
    let branched = 0;
    fc.assert(
      fc.property(arbInput, (input) => {
        if ([...input.resources.values()].some((r) => r.gpu)) branched++;
        same(input);
      }),
      { seed: 20261201, numRuns: 3000 },
    );
    expect(branched).toBeGreaterThan(1000);
  }, 300_000);

  it("agrees when the branch bound truncates (13-14 GPUs with 2 wanted types each)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 13, max: 14 }),
        fc.integer({ min: 2, max: 8 }),
        arbRand,
        (nGpu, nDev, r) => {
          const resources = new Map<string, Resource>();
          for (let g = 0; g < nGpu; g++)
            for (const t of ["nvidia-558", "nvidia-559"]) {
              const id = `g${g}:${t}`;
              resources.set(id, res(id, Math.floor(r() * 3), r() < 0.5 ? 0 : 1, `gpu${g}`, t));
            }
          const ids = [...resources.keys()];
          const devices = Array.from({ length: nDev }, (_, d) => ({
            deviceId: `m${d}`,
            // m0 and m1 reach every GPU (so all of them branch), the others some.
            resources: ids.filter((id) => id.endsWith(d % 2 ? "559" : "558") && (d < 2 || r() < 0.5)),
            reasons: [],
          }));
          const input = { devices, resources };
          expect(matchDevices(input).truncated).toBe(true);
          same(input);
        },
      ),
      { seed: 7, numRuns: 25 },
    );
  }, 300_000);

  it("agrees on non-integer capacities and costs (the unbounded walk)", () => {
    const resources = new Map([
      ["a", res("a", 1.5, 0.5, "gpu0", "x")],
      ["b", res("b", 2, 0.25, "gpu0", "y")],
      ["c", res("c", 1, 0.75)],
    ]);
    const devices = [
      { deviceId: "d0", resources: ["a", "b", "c"], reasons: [] },
      { deviceId: "d1", resources: ["b", "a"], reasons: [] },
      { deviceId: "d2", resources: ["a", "c"], reasons: [] },
    ];
    same({ devices, resources });
    same({ devices, resources, used: new Map([["b", 1]]) });
  });

  it("min-cost flow returns the reference's assignment, flow and cost", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 12 }),
        arbRand,
        (nDev, caps, r) => {
          const edges = [];
          if (caps.length > 0)
            for (let d = 0; d < nDev; d++)
              for (let k = 0; k < caps.length; k++)
                if (r() < 0.35) edges.push({ from: d, to: k, cost: r() < 0.5 ? 0 : 1 });
          expect(minCostMaxFlow(nDev, caps, edges)).toEqual(referenceMinCostMaxFlow(nDev, caps, edges));
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------
// Through the real pipeline: inventories from node-device XML, candidates
// from src/candidates, then both matchers (with and without earlier
// placements' used capacity and GPU locks, as evacuate and headroom pass).

const SRC_VFS = ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4", "0000:5e:00.5"];
const uuid = mdevUuid;
const sel = new DescriptorSelector([]);
const opts = { assumeVersions: false, explain: false };

function sourceHost(): HostInventory {
  return mdevPoolSource(6, SRC_VFS);
}

function destHost(n: number, r: () => number): HostInventory {
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const devs: string[] = [];
  let ex = 0;
  for (let g = 0; g < int(1, 4); g++) {
    const addr = `0000:${(0x3b + g).toString(16)}:00.0`;
    devs.push(gpu(addr, int(0, 4), int(0, 4)));
    for (let e = 0; e < int(0, 2); e++) {
      const type = r() < 0.5 ? "nvidia-558" : "nvidia-559";
      const id = String(ex++).padStart(12, "0");
      devs.push(mdevDev({ uuid: `aaaaaaaa-0000-4000-8000-${id}`, parentAddr: addr, type }));
    }
  }
  const vfs = Array.from({ length: int(0, 6) }, (_, i) => `0000:5e:00.${i + 2}`);
  if (vfs.length) devs.push(...nic("0000:5e:00.0", vfs));
  return buildInventory(
    rawHost(`dst-${n}`, { devices: devs, networks: vfs.length ? [hostdevNetworkXml("pool", vfs)] : [] }),
  );
}

describe("differential through the pipeline (node-device XML -> candidates -> match)", () => {
  const src = sourceHost();
  it("agrees on 400 generated host/VM pairs, with and without earlier placements", () => {
    let branching = 0;
    let placed = 0;
    let n = 0;
    fc.assert(
      fc.property(arbRand, (r) => {
        n++;
        const devs: HostdevSpec[] = [];
        const n558 = Math.floor(r() * 4);
        const n559 = Math.floor(r() * 4);
        for (let i = 0; i < n558; i++) devs.push({ kind: "mdev", uuid: uuid(1 + i) });
        for (let i = 0; i < n559; i++) devs.push({ kind: "mdev", uuid: uuid(7 + i) });
        for (let i = 0; i < Math.floor(r() * 3); i++) devs.push({ kind: "network", network: "pool" });
        if (devs.length === 0) devs.push({ kind: "mdev", uuid: uuid(1) });
        const domain = readDomain(
          domainXml(`vm${n}`, `c7a5fdbd-cdaf-9455-926a-${String(n).padStart(12, "0")}`, devs),
          `vm${n}.xml`,
        );
        const { sources } = prepareSources({ domain, source: src, selector: sel, opts });
        const c = buildHostCandidates(destHost(n, r), sources, {
          selector: sel,
          gateOpts: opts,
          multiVfio: sources.filter(isVfio).length > 1,
        });
        const gpuTypes = new Set(
          [...c.resources.values()].filter((x) => x.gpu).map((x) => `${x.gpu}/${x.mdevType}`),
        );
        const gpus = new Set([...c.resources.values()].filter((x) => x.gpu).map((x) => x.gpu));
        if (gpuTypes.size > gpus.size) branching++;
        const plain = { devices: c.devices, resources: c.resources };
        same(plain);
        const m = matchDevices(plain);
        if (m.assignment.size > 0) placed++;
        // An earlier placement took one unit of some resources and locked some GPUs.
        const used = new Map<string, number>();
        const locks = new Map<string, string>();
        for (const res of c.resources.values()) {
          if (r() < 0.3) used.set(res.id, 1);
          if (res.gpu && res.mdevType && r() < 0.2) locks.set(res.gpu, res.mdevType);
        }
        same({ ...plain, used, gpuLocks: locks });
      }),
      { seed: 4242, numRuns: 400 },
    );
    expect(branching).toBeGreaterThan(100);
    expect(placed).toBeGreaterThan(200);
  }, 300_000);
});
