/**
 * The NVIDIA SR-IOV vGPU VF as a device kind (compat.md §8, docs/device-kinds.md):
 * everything the generic code asks of it, registered in
 * src/candidates/kinds/registry.ts. It refines "pci": libvirt shows the VF as
 * a PCI function on `nvidia`, and cli.md's JSON prints its target as a "pci"
 * target with `vgpuType`.
 */
import { NO_TARGET_KEYS, jsonStr } from "../candidates/kinds/common.js";
import type { KindModule } from "../candidates/kinds/registry.js";
import { reason } from "../reasons.js";
import { isVgpuVf, vgpuVfCandidates, vgpuVfFromMeta, vgpuVfSource } from "./vgpuvf.js";

export const VGPU_VF_KIND: KindModule<"vgpu-vf"> = {
  need: "vgpu-vf",
  refines: "pci",
  vfio: true,
  // the SR-IOV vGPU VFs of NVIDIA's vendor-specific VFIO framework: the
  // vendor driver decides dirty tracking, as for NVIDIA's mdevs (compat.md §5, §8)
  vendorDriver: true,
  candidates: vgpuVfCandidates,
  capacityReason: (_s, what) =>
    reason(
      "capacity-taken",
      `${what}; a plan creates at most one new vGPU per physical GPU, because creatable_vgpu_types shows that one more fits, not how many (fail-closed): set the type on more VFs ahead (echo ID > /sys/bus/pci/devices/VF/nvidia/current_vgpu_type) and re-run 'hdplan inventory', since VFs that already carry the type are reused without this limit`,
    ),
  signature: (s) => s.vgpuVf,
  // counted by the vGPU type id it takes, like an mdev type (issue #12); the
  // id, not the name: a typed VF need not list its own name
  sourceType: (s) => (s.vgpuVf ? `vgpu type ${s.vgpuVf.typeId}` : null),
  resourceType: (t) => `vgpu type ${t.typeId}`,
  report: (s) => (s.vgpuVf ? { sourceVgpuType: s.vgpuVf.typeId } : {}),
  // NVIDIA SR-IOV vGPU VF: its own device kind, not a plain PCI function
  pciSource: (b, dev, fn, src, ctx) =>
    isVgpuVf(src, fn) && !b.transient
      ? vgpuVfSource(b, dev, fn, src, ctx.selector, ctx.gateOpts.assumeVersions)
      : null,
  pciSourceFromMeta: (b, dev, meta, ctx) =>
    meta.vgpuType !== undefined && /^\d{1,9}$/.test(meta.vgpuType)
      ? vgpuVfFromMeta(b, dev, Number(meta.vgpuType), meta.descriptor, ctx.gateOpts.assumeVersions)
      : null,
  targetJson: (t) => ({
    kind: "pci",
    name: t.name,
    ...NO_TARGET_KEYS,
    create: t.create,
    address: t.vf,
    driver: t.driver,
    vgpuType: { id: t.typeId, name: t.typeName, create: t.create, write: t.write },
  }),
  targetFromJson(o) {
    const address = jsonStr(o.address);
    const v = o.vgpuType as Record<string, unknown> | undefined;
    if (o.kind !== "pci" || !address || !v || typeof v !== "object" || typeof v.id !== "number") return null;
    return {
      kind: "vgpu-vf",
      name: jsonStr(o.name) ?? address,
      vf: address,
      driver: jsonStr(o.driver),
      typeId: v.id,
      typeName: jsonStr(v.name),
      create: v.create === true,
      write: jsonStr(v.write),
    };
  },
  targetLine: (t) =>
    `PCI function ${t.vf}${t.driver ? ` (${t.driver})` : ""} vGPU type ${t.typeId}${t.typeName ? ` ${t.typeName}` : ""}${t.write ? `; first: ${t.write}` : " (already set)"}`,
  targetCell: (t) => `pci ${t.vf}`,
};
