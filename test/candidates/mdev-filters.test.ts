import { describe, expect, it } from "vitest";
import {
  type MdevCandidate,
  freeInstances,
  managerVersionKnown,
  mdevNotReserved,
  typeMigratable,
} from "../../src/candidates/kinds/mdev.js";
import type { MdevType, NodeDevice } from "../../src/model.js";
import { fakeHost } from "./fake-host.js";

const parent: NodeDevice = { name: "pci_0000_3b_00_0", driver: "nvidia", caps: ["pci"] };
const cand = (o: Partial<MdevCandidate> & { type?: MdevType }): MdevCandidate => ({
  host: { key: "dst" },
  parent,
  type: { id: "nvidia-558", availableInstances: 2 },
  descriptor: { self: { software_version: "550.127.05" }, compatible: [] },
  versionUnknown: false,
  assumeVersions: false,
  ...o,
});

describe("managerVersionKnown (compat.md §7)", () => {
  it.each([
    { case: "versions known", input: cand({}), expected: null },
    { case: "unknown", input: cand({ versionUnknown: true }), expected: "vgpu-manager-version-unknown" },
    {
      case: "unknown but assumed",
      input: cand({ versionUnknown: true, assumeVersions: true }),
      expected: null,
    },
  ])("$case -> $expected", ({ input, expected }) => {
    expect(managerVersionKnown(input)?.code ?? null).toBe(expected);
  });
});

describe("typeMigratable (compat.md §4)", () => {
  const d = (self: Record<string, string>) => ({ self, compatible: [] });
  it.each([
    { case: "NVIDIA type", input: cand({ descriptor: d({}) }), expected: null },
    {
      case: "descriptor migratable=0",
      input: cand({ descriptor: d({ migratable: "0" }) }),
      expected: "driver-not-migratable",
    },
    {
      case: "in-tree type without migration (i915 GVT-g)",
      input: cand({ type: { id: "i915-GVTg_V5_4" }, descriptor: d({}) }),
      expected: "driver-not-migratable",
    },
    {
      case: "descriptor migratable=1",
      input: cand({ type: { id: "i915-GVTg_V5_4" }, descriptor: d({ migratable: "1" }) }),
      expected: null,
    },
  ])("$case -> $expected", ({ input, expected }) => {
    expect(typeMigratable(input)?.code ?? null).toBe(expected);
  });
});

describe("mdevNotReserved", () => {
  const U = "9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214";
  it.each([
    { case: "free", host: fakeHost({}), expected: null },
    {
      case: "used by a domain",
      host: fakeHost({ reserved: [[`mdev:${U}`, { by: "domain", name: "vm2" }]] }),
      expected: "mdev-no-capacity",
    },
    {
      case: "defined, not active",
      host: fakeHost({ reserved: [[`mdev:${U}`, { by: "inactive-mdev", name: U }]] }),
      expected: "mdev-no-capacity",
    },
  ])("$case -> $expected", ({ host, expected }) => {
    expect(mdevNotReserved(host, U, "nvidia-558")?.code ?? null).toBe(expected);
  });
});

describe("freeInstances (fail-closed)", () => {
  it.each([
    { case: "two free", type: { id: "nvidia-558", availableInstances: 2 }, expected: null },
    { case: "none free", type: { id: "nvidia-558", availableInstances: 0 }, expected: "mdev-no-capacity" },
    { case: "not reported", type: { id: "nvidia-558" }, expected: "mdev-no-capacity" },
  ])("$case -> $expected", ({ type, expected }) => {
    expect(freeInstances(parent, type)?.code ?? null).toBe(expected);
  });
});
