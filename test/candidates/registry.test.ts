/**
 * The device-kind registry (src/candidates/kinds/registry.ts,
 * docs/device-kinds.md): one module per need, refinements tried first, each
 * kind's JSON mapper the inverse of itself, and the VF vGPU kind named only
 * in its folder, the model and the files docs/device-kinds.md lists.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { allKinds, kindOf } from "../../src/candidates/kinds/registry.js";
import type { AssignmentTarget, Need } from "../../src/candidates/types.js";
import { targetFromJson, targetJson } from "../../src/output/json.js";

const SRC = resolve(dirname(new URL(import.meta.url).pathname), "..", "..", "src");
const NEEDS: Need[] = ["mdev", "pci", "network", "usb", "vgpu-vf"];

const targets: AssignmentTarget[] = [
  {
    kind: "mdev",
    name: null,
    parent: "pci_0000_3b_00_0",
    parentAddress: "0000:3b:00.0",
    mdevType: "nvidia-558",
    uuid: "9a3e7f10-2c4b-4d8e-a1f6-73b5c0d9e214",
    create: true,
  },
  { kind: "pci", name: "pci_0000_5e_00_1", address: "0000:5e:00.1", driver: "mlx5_vfio_pci" },
  {
    kind: "vgpu-vf",
    name: "pci_0000_81_00_4",
    vf: "0000:81:00.4",
    driver: "nvidia",
    typeId: 1155,
    typeName: "NVIDIA L40S-24Q",
    create: true,
    write: "echo 1155 > /sys/bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type",
  },
  { kind: "network", network: "sriov-pool" },
  { kind: "usb", name: "usb_1_3", parent: "usb_usb1" },
];

function tsFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith(".ts") ? [p] : [];
    });
}

describe("device-kind registry", () => {
  it("has one module per need, refinements first", () => {
    for (const n of NEEDS) expect(kindOf(n).need).toBe(n);
    const order = allKinds().map((k) => k.need);
    expect([...order].sort()).toEqual([...NEEDS].sort());
    expect(order.indexOf("vgpu-vf")).toBeLessThan(order.indexOf("pci"));
    expect(kindOf("vgpu-vf").refines).toBe("pci");
  });

  it.each(targets)("$kind: targetFromJson inverts targetJson", (t) => {
    const j = targetJson(t);
    expect(targetFromJson(JSON.parse(JSON.stringify(j)))).toEqual(t);
  });

  it("prints a vGPU VF as a pci target with vgpuType (cli.md)", () => {
    expect(targetJson(targets[2]!)).toEqual({
      kind: "pci",
      name: "pci_0000_81_00_4",
      parent: null,
      mdevType: null,
      uuid: null,
      create: true,
      address: "0000:81:00.4",
      driver: "nvidia",
      vgpuType: {
        id: 1155,
        name: "NVIDIA L40S-24Q",
        create: true,
        write: "echo 1155 > /sys/bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type",
      },
    });
  });

  it("names the VF vGPU kind only where docs/device-kinds.md says", () => {
    const re = /vgpu-vf|vgpuVf|VgpuVf/;
    const naming = tsFiles(SRC)
      .filter((f) => re.test(readFileSync(f, "utf8")))
      .map((f) => relative(SRC, f))
      .sort();
    expect(naming).toEqual([
      "candidates/kinds/registry.ts",
      "candidates/types.ts",
      "facts/read.ts",
      "model.ts",
      "reasons.ts",
      "targets/snapshot.ts",
      "vgpuvf/kind.ts",
      "vgpuvf/read.ts",
      "vgpuvf/vgpuvf.ts",
      "vgpuvf/write.ts",
    ]);
    const doc = readFileSync(join(SRC, "..", "docs", "device-kinds.md"), "utf8");
    for (const f of naming) expect(doc).toContain(`src/${f}`);
  });
});
