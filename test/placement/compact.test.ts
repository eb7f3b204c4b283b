/**
 * evacuate's compact candidate state (src/placement/compact.ts) and its
 * per-(VM, host) rank memo (src/matching/evacuate.ts): the shared candidates
 * are what buildHostCandidates gives for the whole VM, the candidate key
 * ignores only fields no destination rule reads, and the memo follows every
 * change of what is taken on a host.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SourceDevice } from "../../src/candidates/types.js";
import {
  DescriptorSelector,
  descriptorFilesFromTexts,
  loadDescriptorDir,
} from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostInventory } from "../../src/inventory/types.js";
import {
  Evacuation,
  IDENTITY_FIELDS,
  candidateKey,
  domainsToMove,
  evacuate,
} from "../../src/matching/evacuate.js";
import { evalContext, hostCandidates } from "../../src/matching/evaluate.js";
import { Compactor, HostPool, sameData } from "../../src/placement/compact.js";
import { readDumpDir } from "../../src/targets/dump.js";
import { readDomain } from "../../src/xml/domain.js";
import { domainXml, gpu, mdevDev, rawHost } from "../helpers/build.js";
import { ROOT } from "../helpers/cli.js";

const SAMPLES = join(ROOT, "xml-samples");
const opts = { assumeVersions: false, explain: false };

function load(name: string): HostInventory {
  const dir = join(SAMPLES, "hosts", name);
  return buildInventory(readDumpDir(dir, name, dir));
}

/** The sample fleet: each source with its destinations, and the selector evacuate would use. */
function sampleCases() {
  const global = loadDescriptorDir(join(SAMPLES, "descriptors"));
  const hostNames = readdirSync(join(SAMPLES, "hosts")).filter((h) => /^host-/.test(h));
  return [
    { src: "src-host", hosts: hostNames },
    { src: "vgpu-src", hosts: ["vgpu-dst-a", "vgpu-dst-b"] },
  ].map(({ src, hosts }) => {
    const source = load(src);
    const selector = new DescriptorSelector([
      ...global,
      ...descriptorFilesFromTexts(source.descriptorFiles, source.key),
    ]);
    const ctxs = domainsToMove(source, true).map((domain) => evalContext({ domain, source, selector, opts }));
    return { source, selector, ctxs, hosts: hosts.map(load) };
  });
}

/** The same device with every identity field changed. */
function otherInstance(s: SourceDevice): SourceDevice {
  // Every identity field is set on every kind (also where the variant has none): none may matter.
  return {
    ...s,
    summary: `${s.summary} (elsewhere)`,
    warnings: [],
    mdevUuid: "00000000-0000-4000-8000-000000000001",
    dev: {
      ...s.dev,
      hostAddress: "0000:ff:1f.7",
      guestAddress: { type: "pci", domain: "0x0000", bus: "0x1f", slot: "0x1f", function: "0x7" },
      mac: "52:54:00:ff:ff:ff",
      mdevUuid: "00000000-0000-4000-8000-000000000002",
      kindIndex: 99,
    },
  } as unknown as SourceDevice;
}

describe("compact candidates", () => {
  const cases = sampleCases();

  it("the samples exercise mdev, pci, network and vgpu-vf devices", () => {
    const needs = new Set(cases.flatMap((c) => c.ctxs.flatMap((x) => x.sources.map((s) => s.need))));
    for (const n of ["mdev", "pci", "network", "vgpu-vf"]) expect(needs).toContain(n);
  });

  it("IDENTITY_FIELDS lists every field otherInstance changes, and nothing a destination rule reads", () => {
    expect([...IDENTITY_FIELDS.source].sort()).toEqual(["mdevUuid", "summary", "warnings"]);
    expect([...IDENTITY_FIELDS.dev].sort()).toEqual([
      "guestAddress",
      "hostAddress",
      "kindIndex",
      "mac",
      "mdevUuid",
    ]);
    let compared = 0;
    for (const { ctxs, hosts, selector } of cases) {
      for (const ctx of ctxs) {
        for (const s of ctx.sources) {
          const o = otherInstance(s);
          expect(candidateKey(o, ctx.multiVfio)).toBe(candidateKey(s, ctx.multiVfio));
          for (const h of hosts) {
            const a = hostCandidates({ ...ctx, sources: [s] }, h, selector);
            const b = hostCandidates({ ...ctx, sources: [o] }, h, selector);
            expect(b).toEqual(a);
            expect([...b.resources.keys()]).toEqual([...a.resources.keys()]);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
  });

  it("the key keeps what names a device's candidates: its id, managed, and the VM's VFIO count", () => {
    const s = cases[0]!.ctxs.flatMap((c) => c.sources).find((x) => x.need === "pci")!;
    const k = candidateKey(s, false);
    expect(candidateKey({ ...s, dev: { ...s.dev, id: "hostdev9" } }, false)).not.toBe(k);
    expect(candidateKey({ ...s, dev: { ...s.dev, managed: !s.dev.managed } }, false)).not.toBe(k);
    expect(candidateKey(s, true)).not.toBe(k);
  });

  /** Every VM of every case on every host, with a fresh pool a host and its devices' parts from that pool. */
  function eachVmOnHost(
    f: (
      pool: HostPool,
      ctx: (typeof cases)[number]["ctxs"][number],
      h: (typeof cases)[number]["hosts"][number],
      selector: (typeof cases)[number]["selector"],
      parts: ReturnType<HostPool["part"]>[],
    ) => void,
  ): void {
    for (const { ctxs, hosts, selector } of cases) {
      for (const h of hosts) {
        const pool = new HostPool(h.key, new Compactor());
        for (const ctx of ctxs) {
          const parts = ctx.sources.map((s) =>
            pool.part(hostCandidates({ ...ctx, sources: [s] }, h, selector)),
          );
          f(pool, ctx, h, selector, parts);
        }
      }
    }
  }

  it("a VM's candidates assembled from its devices' parts equal buildHostCandidates of the whole VM", () => {
    let multi = 0;
    eachVmOnHost((pool, ctx, h, selector, parts) => {
      const whole = hostCandidates(ctx, h, selector);
      const got = pool.assemble(ctx.domain.uuid, parts);
      expect(got).toEqual(whole);
      expect([...got.resources.keys()]).toEqual([...whole.resources.keys()]);
      expect(got.resources.size).toBe(whole.resources.size);
      if (ctx.sources.length > 1) multi++;
    });
    expect(multi).toBeGreaterThan(0);
  });

  it("VMs of other shapes with the same parts share the merged resources; another order merges anew", () => {
    let shared = 0;
    eachVmOnHost((pool, ctx, h, selector, parts) => {
      if (ctx.sources.length < 2) return;
      const first = pool.assemble(`${ctx.domain.uuid}/a`, parts);
      const again = pool.assemble(`${ctx.domain.uuid}/b`, parts);
      expect(again).toEqual(first);
      expect(again.resources).toBe(first.resources);
      shared++;
      // Reversed devices: the first resource of an id wins, so the merge is the reversed VM's own.
      const rev = [...ctx.sources].reverse();
      const whole = hostCandidates({ ...ctx, sources: rev }, h, selector);
      const got = pool.assemble(`${ctx.domain.uuid}/rev`, [...parts].reverse());
      expect(got).toEqual(whole);
      expect([...got.resources.keys()]).toEqual([...whole.resources.keys()]);
    });
    expect(shared).toBeGreaterThan(0);
  });

  it("interning shares equal resources and keeps unequal ones apart", () => {
    const c = new Compactor();
    const pool = new HostPool("h", c);
    const r = (driver: string) => ({
      id: "pci:0000:5e:00.2",
      capacity: 1,
      cost: 0,
      target: { kind: "pci" as const, name: "pci_0000_5e_00_2", address: "0000:5e:00.2", driver },
    });
    const part = (driver: string, dev: string) =>
      pool.part({
        hostKey: "h",
        resources: new Map([[r(driver).id, r(driver)]]),
        devices: [{ deviceId: dev, resources: [r(driver).id], reasons: [] }],
        warnings: [],
        gateNotes: [],
      });
    const a = part("vfio-pci", "hostdev0");
    const b = part("vfio-pci", "hostdev1");
    const d = part("mlx5_vfio_pci", "hostdev2");
    expect(b.resources).toBe(a.resources);
    expect(b.device.resources).toBe(a.device.resources);
    expect(d.resources).not.toBe(a.resources);
    expect(d.resources.get("pci:0000:5e:00.2")!.target).toMatchObject({ driver: "mlx5_vfio_pci" });
    expect(sameData({ a: 1, b: [1, { c: "x" }] }, { a: 1, b: [1, { c: "x" }] })).toBe(true);
    expect(sameData({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(sameData({ a: undefined }, {})).toBe(false);
    // One Resource object handed to several parts (the PCI outcome memo does): interned once, as a copy.
    const shared = r("vfio-pci");
    const one = (dev: string) =>
      pool.part({
        hostKey: "h",
        resources: new Map([[shared.id, shared]]),
        devices: [{ deviceId: dev, resources: [shared.id], reasons: [] }],
        warnings: [],
        gateNotes: [],
      });
    const e = one("hostdev3");
    expect(one("hostdev4").resources).toBe(e.resources);
    expect(e.resources).toBe(a.resources);
    expect(e.resources.get(shared.id)).not.toBe(shared);
    const long = "pci_0000_5e_00_2 and more text";
    expect(c.copy(long.slice(0, 20))).toBe(long.slice(0, 20));
    const src = { m: new Map([["k", { s: new Set(["x"]) }]]), u: undefined };
    expect(c.copy(src)).toEqual(src);
    expect(c.copy(src)).toBe(c.copy(src));
  });
});

// ---- the rank memo follows what is taken ----

const SRC_GPU = "0000:3b:00.0";
const u = (n: number) => `4b20d080-1b54-4048-85b3-${n.toString().padStart(12, "0")}`;
const sel = new DescriptorSelector([]);

function source(n: number): HostInventory {
  const devs = [gpu(SRC_GPU, 0)];
  for (let i = 1; i <= n; i++) devs.push(mdevDev({ uuid: u(i), parentAddr: SRC_GPU, type: "nvidia-558" }));
  return buildInventory(rawHost("src", { devices: devs }));
}

function vm(name: string, mdevs: number[]) {
  const hex = name.replace(/[^0-9]/g, "").padStart(12, "0");
  return readDomain(
    domainXml(
      name,
      `c7a5fdbd-cdaf-9455-926a-${hex}`,
      mdevs.map((i) => ({ kind: "mdev" as const, uuid: u(i) })),
    ),
    `${name}.xml`,
  );
}

/** A host with `free` nvidia-558 instances on one T4. */
function host(key: string, free: number): HostInventory {
  return buildInventory(rawHost(key, { devices: [gpu("0000:3b:00.0", free, 0)] }));
}

describe("evacuate rank memo", () => {
  it("a commit makes the host's memo stale: a unit taken is not offered again", () => {
    const e = new Evacuation([vm("vm1", [1]), vm("vm2", [2])], source(2), sel, opts);
    e.addHost(host("h1", 1));
    expect(e.feasibleCounts()).toEqual([1, 1]);
    expect(e.bestFull(0)?.host).toBe("h1");
    expect(e.bestFull(1)?.host).toBe("h1");
    e.commit(0, "h1");
    // With the pristine memo, h1 would still rank "full" for vm2.
    expect(e.bestFull(1)).toBeNull();
    expect(e.closest(1)).toMatchObject({ host: "h1", status: "none", compatible: 0 });
    expect(e.summaries(2).options[1]).toEqual([]);
  });

  it("VMs of one shape share the memo; VMs of different shapes do not", () => {
    const e = new Evacuation([vm("vm1", [1]), vm("vm2", [2, 3]), vm("vm3", [4])], source(4), sel, opts);
    e.addHost(host("h1", 1));
    e.addHost(host("h2", 2));
    // vm1 and vm3 (one mdev each) are one shape; vm2 needs two.
    expect(e.feasibleCounts()).toEqual([2, 1, 2]);
    expect(e.closest(1)).toMatchObject({ host: "h2", status: "full", compatible: 2 });
    expect(e.bestFull(0)?.host).toBe("h2");
    e.commit(1, "h2");
    expect(e.bestFull(0)?.host).toBe("h1");
    e.commit(0, "h1");
    expect(e.bestFull(2)).toBeNull();
    expect(e.closest(2)).toMatchObject({ host: "h1", status: "none" });
  });

  it("commitAssigned makes it stale too, and a rollback returns to the marked state", () => {
    const e = new Evacuation([vm("vm1", [1]), vm("vm2", [2])], source(2), sel, opts);
    e.addHost(host("h1", 1));
    e.addHost(host("h2", 1));
    const s = e.summaries(2);
    expect(s.options[0]!.map((o) => o.host)).toEqual(["h1", "h2"]);
    e.mark();
    e.commit(0, "h1");
    expect(e.bestFull(1)?.host).toBe("h2");
    const g = s.options[1]![1]!.groups[0]!;
    expect(s.options[1]![1]!.host).toBe("h2");
    e.commitAssigned(1, "h2", [[g.devices[0]!, g.resources[0]!]]);
    expect(e.bestFull(0)).toBeNull();
    expect(e.bestFull(1)).toBeNull();
    e.rollback();
    // After the rollback the memo computed with both units taken is stale.
    expect(e.bestFull(0)?.host).toBe("h1");
    expect(e.bestFull(1)?.host).toBe("h1");
    expect(e.capacityLeft()).toEqual({
      h1: { "pool:pci_0000_3b_00_0:nvidia-558": 1 },
      h2: { "pool:pci_0000_3b_00_0:nvidia-558": 1 },
    });
  });

  it("through evacuate(): greedy and exact place one VM per free unit and explain the rest", async () => {
    for (const solver of ["greedy", "highs"] as const) {
      const r = await evacuate(
        [vm("vm1", [1]), vm("vm2", [2]), vm("vm3", [3])],
        source(3),
        [host("h1", 1), host("h2", 1)],
        sel,
        opts,
        "constrained",
        { solver },
      );
      expect(r.unplaced).toBe(1);
      expect(new Set(r.placements.flatMap((p) => (p.host ? [p.host] : [])))).toEqual(new Set(["h1", "h2"]));
      const un = r.placements.find((p) => !p.host)!;
      expect(un.reasons[0]).toMatchObject({ code: "capacity-taken" });
      expect(un.reasons[0]!.message).toMatch(/closest is h1 \(0\/1\)/);
    }
  });
});
