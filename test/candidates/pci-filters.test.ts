import { describe, expect, it } from "vitest";
import {
  type PciFilterContext,
  destinationMigratable,
  isBridge,
  iommuGroupViable,
  noHostNetUp,
  notInPool,
  notPfWithVfs,
  notReserved,
  vfioBinding,
} from "../../src/candidates/filters.js";
import { firmwareMatches } from "../../src/candidates/kinds/pci.js";
import type { HostInventory } from "../../src/inventory/types.js";
import type { NodeDevice, PciNode } from "../../src/model.js";
import { fakeHost, pciFn } from "./fake-host.js";

const A = "0000:5e:00.2";
const B = "0000:5e:00.3";

interface Row {
  case: string;
  fn: PciNode;
  host: HostInventory;
  ctx?: Partial<PciFilterContext>;
  expected: string | null;
}

function run(filter: (fn: PciNode, ctx: PciFilterContext) => { code: string } | null, rows: Row[]) {
  it.each(rows)("$case -> $expected", (r) => {
    const ctx: PciFilterContext = {
      host: r.host,
      managed: false,
      needsMigration: true,
      descriptor: { self: {}, compatible: [] },
      ...r.ctx,
    };
    expect(filter(r.fn, ctx)?.code ?? null).toBe(r.expected);
  });
}

const free = fakeHost({ devices: [pciFn(A)] });

describe("notReserved", () => {
  run(notReserved, [
    { case: "free", fn: pciFn(A), host: free, expected: null },
    {
      case: "used by a domain",
      fn: pciFn(A),
      host: fakeHost({ reserved: [[`pci:${A}`, { by: "domain", name: "vm2" }]] }),
      expected: "pci-device-in-use",
    },
    {
      case: "handed out by a network",
      fn: pciFn(A),
      host: fakeHost({ reserved: [[`pci:${A}`, { by: "network", name: "n" }]] }),
      expected: "pci-device-in-use",
    },
  ]);
});

describe("notInPool", () => {
  run(notInPool, [
    { case: "no pool", fn: pciFn(A), host: free, expected: null },
    {
      case: "pool member",
      fn: pciFn(A),
      host: fakeHost({ poolMembers: [[A, "pool0"]] }),
      expected: "pci-device-in-use",
    },
  ]);
});

describe("notPfWithVfs", () => {
  run(notPfWithVfs, [
    { case: "plain function", fn: pciFn(A), host: free, expected: null },
    {
      case: "PF with VFs",
      fn: pciFn(A, { virtFunctions: [B] }),
      host: free,
      expected: "pci-device-used-by-host",
    },
  ]);
});

describe("noHostNetUp", () => {
  const net = (state: string | undefined): NodeDevice => ({
    name: "net_eth0",
    parent: pciFn(A).name,
    driver: null,
    caps: ["net"],
    net: { interface: "eth0", ...(state ? { linkState: state } : {}) },
  });
  run(noHostNetUp, [
    { case: "no host interface", fn: pciFn(A), host: free, expected: null },
    {
      case: "interface down",
      fn: pciFn(A),
      host: fakeHost({ devices: [pciFn(A), net("down")] }),
      expected: null,
    },
    {
      case: "interface up",
      fn: pciFn(A),
      host: fakeHost({ devices: [pciFn(A), net("up")] }),
      expected: "pci-device-used-by-host",
    },
    {
      case: "link state unknown",
      fn: pciFn(A),
      host: fakeHost({ devices: [pciFn(A), net(undefined)] }),
      expected: "pci-device-used-by-host",
    },
  ]);
});

describe("iommuGroupViable", () => {
  const grouped = (o: Parameters<typeof pciFn>[1] = {}) =>
    pciFn(B, { iommuGroup: { number: 7, members: [A, B] }, ...o });
  const withA = (a: NodeDevice, extra: Parameters<typeof fakeHost>[0] = {}) =>
    fakeHost({ devices: [grouped(), a], ...extra });
  run(iommuGroupViable, [
    { case: "alone in its group", fn: pciFn(A), host: free, expected: null },
    {
      case: "no IOMMU group",
      fn: pciFn(A, { iommuGroup: undefined }),
      host: free,
      expected: "iommu-group-unknown",
    },
    {
      case: "member not visible",
      fn: grouped(),
      host: fakeHost({ devices: [grouped()] }),
      expected: "iommu-group-not-viable",
    },
    { case: "member on vfio", fn: grouped(), host: withA(pciFn(A)), expected: null },
    {
      case: "member is a bridge",
      fn: grouped(),
      host: withA(pciFn(A, { class: "0x060400", driver: "pcieport" })),
      expected: null,
    },
    {
      case: "member used by a domain",
      fn: grouped(),
      host: withA(pciFn(A), { reserved: [[`pci:${A}`, { by: "domain", name: "vm2" }]] }),
      expected: "iommu-group-not-viable",
    },
    {
      case: "member on a host driver",
      fn: grouped(),
      host: withA(pciFn(A, { driver: "mlx5_core" })),
      expected: "iommu-group-not-viable",
    },
    {
      case: "member unbound, drivers known",
      fn: grouped(),
      host: withA(pciFn(A, { driver: null })),
      expected: null,
    },
    {
      case: "member unbound, drivers unknown",
      fn: grouped(),
      host: withA(pciFn(A, { driver: null }), { driversKnown: false }),
      expected: "iommu-group-not-viable",
    },
  ]);
});

describe("vfioBinding", () => {
  run(vfioBinding, [
    {
      case: "managed",
      fn: pciFn(A, { driver: "mlx5_core" }),
      host: free,
      ctx: { managed: true },
      expected: null,
    },
    { case: "pre-bound to vfio", fn: pciFn(A, { driver: "mlx5_vfio_pci" }), host: free, expected: null },
    {
      case: "unmanaged on a host driver",
      fn: pciFn(A, { driver: "mlx5_core" }),
      host: free,
      expected: "pci-device-not-vfio",
    },
  ]);
});

describe("destinationMigratable", () => {
  const d = (self: Record<string, string>) => ({ descriptor: { self, compatible: [] } });
  run(destinationMigratable, [
    { case: "no migration needed", fn: pciFn(A), host: free, ctx: { needsMigration: false }, expected: null },
    {
      case: "descriptor migratable=0",
      fn: pciFn(A, { driver: "mlx5_vfio_pci" }),
      host: free,
      ctx: d({ migratable: "0" }),
      expected: "driver-not-migratable",
    },
    {
      case: "descriptor migratable=1",
      fn: pciFn(A),
      host: free,
      ctx: d({ migratable: "1" }),
      expected: null,
    },
    {
      case: "migrating variant driver",
      fn: pciFn(A, { driver: "mlx5_vfio_pci" }),
      host: free,
      expected: null,
    },
    { case: "plain vfio-pci", fn: pciFn(A), host: free, expected: "driver-not-migratable" },
    {
      case: "driver unknown, host reports none",
      fn: pciFn(A, { driver: null }),
      host: fakeHost({ driversKnown: false }),
      expected: "migration-support-unknown",
    },
    {
      case: "host driver, managed",
      fn: pciFn(A, { driver: "mlx5_core" }),
      host: free,
      ctx: { managed: true },
      expected: null,
    },
    {
      case: "host driver, unmanaged",
      fn: pciFn(A, { driver: "mlx5_core" }),
      host: free,
      expected: "pci-device-not-vfio",
    },
  ]);
});

describe("firmwareMatches (mlx5, compat.md §7)", () => {
  const fw = (version: string, psid: string) => ({ address: A, version, psid, from: "sysfs" });
  const src = { checkFirmware: true, firmware: { version: "22.39.1002", psid: "MT_0000000359" } };
  it.each([
    { case: "not checked", host: fakeHost({ firmware: [fw("1", "X")] }), source: {}, expected: null },
    {
      case: "same firmware and PSID",
      host: fakeHost({ firmware: [fw("22.39.1002", "MT_0000000359")] }),
      source: src,
      expected: null,
    },
    {
      case: "other firmware",
      host: fakeHost({ firmware: [fw("22.36.1010", "MT_0000000359")] }),
      source: src,
      expected: "firmware-mismatch",
    },
    { case: "destination unknown (warning elsewhere)", host: fakeHost({}), source: src, expected: null },
  ])("$case -> $expected", ({ host, source, expected }) => {
    expect(firmwareMatches(host, pciFn(A), source)?.code ?? null).toBe(expected);
  });
});

describe("isBridge: class 0x0604xx, as libvirt writes it", () => {
  const withClass = (c: string | undefined): NodeDevice => {
    const fn = pciFn(A) as NodeDevice;
    return { ...fn, pci: { ...fn.pci!, class: c } } as NodeDevice;
  };
  it.each([
    ["0x060400", true],
    ["0X060400", true],
    ["060400", true],
    ["0x060401", true],
    ["0x030200", false],
    ["0x0604", true],
    ["0x06", false],
    ["0x", false],
    ["0", false],
    ["", false],
    ["x060400", false],
    ["0xx060400", false],
  ] as const)("%s -> %s", (c, expected) => {
    expect(isBridge(withClass(c))).toBe(expected);
  });
  it("no class, no PCI capability: not a bridge", () => {
    expect(isBridge(withClass(undefined))).toBe(false);
    expect(isBridge({ ...(pciFn(A) as NodeDevice), pci: undefined } as NodeDevice)).toBe(false);
  });
});
