import { describe, expect, it } from "vitest";
import { type VfCandidate, vfFactsKnown, vfNotReserved, vfTakesType } from "../../src/vgpuvf/vgpuvf.js";
import { fakeHost } from "./fake-host.js";

const VF = "0000:17:00.4";
const L40S = { id: 1155, name: "NVIDIA L40S-24Q" };
const c = (o: Partial<VfCandidate>): VfCandidate => ({
  host: fakeHost({}),
  address: VF,
  facts: { address: VF, currentType: 0, creatable: [L40S] },
  want: { typeId: 1155, typeName: "NVIDIA L40S-24Q" },
  ...o,
});

describe("SR-IOV vGPU VF filters (compat.md §8)", () => {
  it.each([
    { case: "facts read", filter: vfFactsKnown, input: c({}), expected: null },
    {
      case: "facts not read",
      filter: vfFactsKnown,
      input: c({ facts: undefined }),
      expected: "vgpu-type-unknown",
    },
    { case: "free VF", filter: vfNotReserved, input: c({}), expected: null },
    {
      case: "VF used by a domain",
      filter: vfNotReserved,
      input: c({ host: fakeHost({ reserved: [[`pci:${VF}`, { by: "domain", name: "gpu-02" }]] }) }),
      expected: "pci-device-in-use",
    },
    { case: "type 0, T creatable", filter: vfTakesType, input: c({}), expected: null },
    {
      case: "already carries T",
      filter: vfTakesType,
      input: c({ facts: { address: VF, currentType: 1155, creatable: [] } }),
      expected: null,
    },
    {
      case: "carries another type",
      filter: vfTakesType,
      input: c({ facts: { address: VF, currentType: 1153, creatable: [] } }),
      expected: "vgpu-type-not-creatable",
    },
    {
      case: "type 0, only other types creatable",
      filter: vfTakesType,
      input: c({ facts: { address: VF, currentType: 0, creatable: [{ id: 1153, name: "NVIDIA L40S-8Q" }] } }),
      expected: "vgpu-type-not-creatable",
    },
    {
      case: "type 0, creatable list not read",
      filter: vfTakesType,
      input: c({ facts: { address: VF, currentType: 0 } }),
      expected: "vgpu-type-not-creatable",
    },
  ])("$case -> $expected", ({ filter, input, expected }) => {
    expect(filter(input)?.code ?? null).toBe(expected);
  });
});
