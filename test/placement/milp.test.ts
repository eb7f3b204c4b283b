import { describe, expect, it } from "vitest";
import { score, solvePlacement, violation } from "../../src/placement/milp.js";
import {
  type PHost,
  type PResource,
  type PVm,
  type PlacementProblem,
  groupDevices,
} from "../../src/placement/problem.js";
import { checkPromises, exhaustive, hostMin } from "./exhaustive.js";
import { mulberry32 as rng } from "../../scripts/fixtures/rng.mjs";

const TYPES = ["nvidia-558", "nvidia-559", "nvidia-560"];

/**
 * A random evacuation: 1-3 hosts with 1-3 GPUs each (1-2 vGPU types per GPU,
 * some mixed-mode, pools of 0-4 new instances, 0-2 existing mdevs), a VF pool
 * and a passthrough function per host; 3-7 VMs with 1-3 devices each
 * (mdevs of one type, VFs, a passthrough function).
 */
function randomProblem(seed: number): PlacementProblem {
  const r = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const hosts: PHost[] = [];
  const nHosts = int(1, 3);
  for (let h = 0; h < nHosts; h++) {
    const resources: PResource[] = [];
    for (let g = 0; g < int(1, 3); g++) {
      const mixed = r() < 0.2;
      const types = r() < 0.5 ? [TYPES[int(0, 1)]!] : [TYPES[0]!, TYPES[int(1, 2)]!];
      for (const t of types) {
        const gpu = mixed ? `gpu${g}#${t}` : `gpu${g}`;
        const n = int(0, 4);
        if (n > 0) resources.push({ id: `pool:gpu${g}:${t}`, capacity: n, create: true, gpu, mdevType: t });
      }
      for (let e = 0; e < int(0, 2) - (r() < 0.5 ? 1 : 0); e++) {
        const t = types[0]!;
        resources.push({
          id: `mdev:h${h}g${g}e${e}`,
          capacity: 1,
          create: false,
          gpu: mixed ? `gpu${g}#${t}` : `gpu${g}`,
          mdevType: t,
        });
      }
    }
    const vfs = int(0, 3);
    if (vfs > 0) resources.push({ id: "net:vfpool", capacity: vfs, create: false });
    // Passthrough functions: capacity 1 each, interchangeable (pooled by the engine).
    for (let f = 0; f < int(0, 2); f++)
      resources.push({ id: `pci:0000:5e:00.${f}`, capacity: 1, create: false });
    hosts.push({ key: `host-${h}`, resources, locks: [] });
  }
  const vms: PVm[] = [];
  const nVms = int(3, 7);
  for (let v = 0; v < nVms; v++) {
    const kinds: string[] = [];
    const nDev = int(1, 3);
    const t = TYPES[int(0, 2)]!;
    for (let d = 0; d < nDev; d++) {
      const x = r();
      kinds.push(x < 0.65 ? `mdev ${t}` : x < 0.9 ? "vf" : "pci");
    }
    const options = [];
    for (const h of hosts) {
      const devices = kinds.map((k, d) => {
        const res =
          k === "vf"
            ? h.resources.filter((x) => x.id.startsWith("net:"))
            : k === "pci"
              ? h.resources.filter((x) => x.id.startsWith("pci:"))
              : // existing mdevs first (the candidate order of src/candidates)
                [
                  ...h.resources.filter((x) => !x.create && x.mdevType === k.slice(5)),
                  ...h.resources.filter((x) => x.create && x.mdevType === k.slice(5)),
                ];
        return { deviceId: `vm${v}-dev${d}`, resources: res.map((x) => x.id) };
      });
      if (devices.every((d) => d.resources.length > 0))
        options.push({ host: h.key, groups: groupDevices(devices) });
    }
    // Rank order of the hosts: any fixed order (here seeded).
    options.sort(() => r() - 0.5);
    vms.push({ devices: nDev, options });
  }
  return { vms, hosts };
}

describe("placement engine (HiGHS)", () => {
  it("issue #17: VMs needing [2,1,3,1,2,1] instances onto GPUs with [3,2] free place 4", async () => {
    const needs = [2, 1, 3, 1, 2, 1];
    for (const sameHost of [true, false]) {
      const pools: [string, number][] = [
        ["a", 3],
        ["b", 2],
      ];
      const hosts: PHost[] = sameHost
        ? [
            {
              key: "h",
              locks: [],
              resources: pools.map(([g, n]) => ({
                id: `pool:${g}`,
                capacity: n,
                create: true,
                gpu: g,
                mdevType: "T",
              })),
            },
          ]
        : pools.map(([g, n]) => ({
            key: `h${g}`,
            locks: [],
            resources: [{ id: `pool:${g}`, capacity: n, create: true, gpu: g, mdevType: "T" }],
          }));
      const vms: PVm[] = needs.map((n, v) => ({
        devices: n,
        options: hosts
          .filter((h) => h.resources.reduce((a, x) => a + x.capacity, 0) >= n)
          .map((h) => ({
            host: h.key,
            groups: groupDevices(
              Array.from({ length: n }, (_, d) => ({
                deviceId: `v${v}d${d}`,
                resources: h.resources.map((x) => x.id),
              })),
            ),
          })),
      }));
      const p = { vms, hosts };
      const res = await solvePlacement(p, { timeS: 10 });
      expect(res.ok).toBe(true);
      if (!res.ok) return;
      expect(res.solution.optimal).toBe(true);
      expect(res.solution.placed.filter(Boolean)).toHaveLength(4);
      expect(exhaustive(p).vms).toBe(4);
      checkPromises(p, res.solution.placed);
    }
  });

  it("equals exhaustive search on 300 seeded random instances and never promises a unit twice", async () => {
    let optimal = 0;
    let contended = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const p = randomProblem(seed);
      const res = await solvePlacement(p, { timeS: 20 });
      if (!res.ok) throw new Error(`seed ${seed}: ${res.error}`);
      checkPromises(p, res.solution.placed);
      expect(violation(p, res.solution.placed), `seed ${seed}`).toBeNull();
      const want = exhaustive(p);
      expect(score(p, res.solution.placed), `seed ${seed}`).toEqual(want);
      if (res.solution.optimal) optimal++;
      if (want.vms < p.vms.filter((v) => v.options.length > 0).length) contended++;
    }
    expect(optimal).toBe(300);
    // The generator makes instances where not everything fits (else the test proves little).
    expect(contended).toBeGreaterThan(50);
  });

  it("widening from each VM's best 4 hosts keeps levels 1-3 optimal on 100 seeded instances", async () => {
    let widened = 0;
    for (let seed = 1001; seed <= 1100; seed++) {
      const p = randomProblem(seed);
      // Many hosts so the first width (4) is narrower than the candidate lists.
      const extra = randomProblem(seed + 5000).hosts.map((h, i) => ({ ...h, key: `extra-${i}` }));
      const more = randomProblem(seed + 9000).hosts.map((h, i) => ({ ...h, key: `more-${i}` }));
      const hosts = [...p.hosts, ...extra, ...more];
      const base = randomProblem(seed);
      const vms = base.vms.map((vm, v) => {
        const options = hosts.flatMap((h) => {
          const tmpl = base.vms[v]!.options[0];
          if (!tmpl) return [];
          const devs = tmpl.groups.flatMap((g) =>
            g.devices.map((d) => ({
              d,
              kind: g.resources[0]!.split(":")[0]!,
              type: h.resources.find((x) => x.id === g.resources[0])?.mdevType,
            })),
          );
          const devices = devs.map(({ d, kind, type }) => ({
            deviceId: d,
            resources:
              kind === "net" || kind === "pci"
                ? h.resources.filter((x) => x.id.startsWith(`${kind}:`)).map((x) => x.id)
                : [
                    ...h.resources.filter((x) => !x.create && x.mdevType === type),
                    ...h.resources.filter((x) => x.create && x.mdevType === type),
                  ].map((x) => x.id),
          }));
          if (devices.some((d) => d.resources.length === 0)) return [];
          return [{ host: h.key, groups: groupDevices(devices) }];
        });
        return { devices: vm.devices, options };
      });
      const q: PlacementProblem = { vms, hosts };
      for (const vm of q.vms) {
        vm.options = vm.options
          .map((o) => ({
            o,
            alone: hostMin(
              { vms: [{ devices: vm.devices, options: [o] }], hosts: q.hosts },
              q.hosts.find((h) => h.key === o.host)!,
              [0],
            ),
          }))
          .filter((x) => x.alone !== null)
          .map((x) => ({ ...x.o, created: x.alone!.created }))
          .sort((a, b) => a.created - b.created);
      }
      if (q.vms.some((v) => v.options.length > 4)) widened++;
      const res = await solvePlacement(q, { timeS: 20 });
      if (!res.ok) throw new Error(`seed ${seed}: ${res.error}`);
      checkPromises(q, res.solution.placed);
      const want = exhaustive(q);
      const got = score(q, res.solution.placed);
      expect(res.solution.optimal, `seed ${seed}`).toBe(true);
      expect([got.vms, got.devices, got.created], `seed ${seed}`).toEqual([
        want.vms,
        want.devices,
        want.created,
      ]);
    }
    expect(widened).toBeGreaterThan(30);
  });

  it("respects a GPU type chosen by an earlier placement (lock)", async () => {
    const hosts: PHost[] = [
      {
        key: "h",
        locks: [["g", "A"]],
        resources: [
          { id: "pool:g:A", capacity: 2, create: true, gpu: "g", mdevType: "A" },
          { id: "pool:g:B", capacity: 4, create: true, gpu: "g", mdevType: "B" },
        ],
      },
    ];
    const vm = (id: string, res: string) => ({
      devices: 1,
      options: [{ host: "h", groups: [{ devices: [id], resources: [res] }] }],
    });
    const p = { hosts, vms: [vm("b1", "pool:g:B"), vm("a1", "pool:g:A")] };
    const res = await solvePlacement(p, { timeS: 5 });
    expect(res.ok && res.solution.placed.map((x) => x?.host ?? null)).toEqual([null, "h"]);
  });
});
