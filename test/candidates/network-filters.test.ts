import { describe, expect, it } from "vitest";
import {
  type PoolFunction,
  functionKnown,
  functionNotReserved,
  functionUsable,
  networkUsable,
} from "../../src/candidates/kinds/network.js";
import type { HostNetwork } from "../../src/inventory/types.js";
import { fakeHost, pciFn } from "./fake-host.js";

const A = "0000:5e:00.2";
const fn = (o: Parameters<typeof pciFn>[1] = {}) => pciFn(A, { driver: "mlx5_vfio_pci", ...o });
const pf = (o: Partial<PoolFunction>): PoolFunction => ({
  host: fakeHost({ devices: [fn()], poolMembers: [[A, "pool0"]] }),
  network: "pool0",
  address: A,
  fn: fn(),
  descriptor: () => ({ self: {}, compatible: [] }),
  needsMigration: true,
  ...o,
});

describe("pool function filters", () => {
  it.each([
    { case: "known function", filter: functionKnown, input: pf({}), expected: null },
    {
      case: "not a node device",
      filter: functionKnown,
      input: pf({ fn: undefined }),
      expected: "network-pool-exhausted",
    },
    { case: "free", filter: functionNotReserved, input: pf({}), expected: null },
    {
      case: "handed out",
      filter: functionNotReserved,
      input: pf({ host: fakeHost({ reserved: [[`pci:${A}`, { by: "network", name: "pool0" }]] }) }),
      expected: "network-pool-exhausted",
    },
    { case: "migrating driver, pool member", filter: functionUsable, input: pf({}), expected: null },
    {
      case: "plain vfio-pci",
      filter: functionUsable,
      input: pf({ fn: fn({ driver: "vfio-pci" }) }),
      expected: "driver-not-migratable",
    },
    {
      case: "PF with VFs",
      filter: functionUsable,
      input: pf({ fn: fn({ virtFunctions: ["0000:5e:00.3"] }) }),
      expected: "pci-device-used-by-host",
    },
    {
      case: "transient: no migration needed",
      filter: functionUsable,
      input: pf({ fn: fn({ driver: "vfio-pci" }), needsMigration: false }),
      expected: null,
    },
  ])("$case -> $expected", ({ filter, input, expected }) => {
    expect(filter(input)?.code ?? null).toBe(expected);
  });
});

describe("networkUsable", () => {
  const net = (o: Partial<HostNetwork>): HostNetwork => ({
    name: "pool0",
    forwardMode: "hostdev",
    functions: [A],
    active: true,
    handedOut: null,
    usedCount: 0,
    ...o,
  });
  it.each([
    { case: "active hostdev network", n: net({}), expected: null },
    { case: "inactive", n: net({ active: false }), expected: "network-missing" },
    { case: "bridge mode", n: net({ forwardMode: "bridge" }), expected: "network-missing" },
    { case: "absent", n: null, expected: "network-missing" },
  ])("$case -> $expected", ({ n, expected }) => {
    const host = fakeHost({});
    if (n) host.networks.set(n.name, n);
    expect(networkUsable(host, "pool0")?.code ?? null).toBe(expected);
  });
});
