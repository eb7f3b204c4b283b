/**
 * The type write of an SR-IOV vGPU VF (compat.md §8): `echo ID >
 * /sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type`, done by `hdplan
 * prepare --connect-rw` on the local host only (sysfs is not reachable
 * through libvirt); for a remote URI prepare prints the command to run there.
 * Checked before writing: the VF has type 0 and lists the type as creatable
 * (re-read from live sysfs, never from the plan).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AssignmentTarget } from "../candidates/types.js";
import { errorMessage } from "../errors.js";
import { readHostFacts } from "../facts/read.js";

export interface VgpuWriteStep {
  device: string;
  vf: string;
  typeId: number;
  name: string | null;
  command: string;
}

/** The type writes a plan host entry needs. */
export function vgpuWriteSteps(assignments: { device: string; target: AssignmentTarget }[]): VgpuWriteStep[] {
  const out: VgpuWriteStep[] = [];
  for (const a of assignments) {
    const t = a.target;
    if (t.kind !== "vgpu-vf" || !t.create || !t.write) continue;
    out.push({ device: a.device, vf: t.vf, typeId: t.typeId, name: t.typeName, command: t.write });
  }
  return out;
}

/** The VF's nvidia/current_vgpu_type under `root` now (the read-back of a write), or undefined. */
export function currentVgpuType(root: string, vf: string): number | undefined {
  return readHostFacts(root).vgpuVfs?.find((v) => v.address === vf)?.currentType;
}

/** Write one step under `root` (ROOT/sys/...); returns an error message or null. */
export function writeVgpuType(root: string, step: VgpuWriteStep): string | null {
  const vf = readHostFacts(root).vgpuVfs?.find((v) => v.address === step.vf);
  if (!vf) return `VF ${step.vf} has no readable nvidia/current_vgpu_type under ${root}`;
  if (vf.currentType === step.typeId) return null; // already set (a retry)
  if (vf.currentType !== 0) return `VF ${step.vf} already carries vGPU type ${vf.currentType}`;
  if (!(vf.creatable ?? []).some((t) => t.id === step.typeId)) {
    return `VF ${step.vf} cannot create vGPU type ${step.typeId} any more (not in its creatable_vgpu_types)`;
  }
  try {
    writeFileSync(join(root, "sys/bus/pci/devices", step.vf, "nvidia/current_vgpu_type"), `${step.typeId}\n`);
  } catch (e) {
    return `writing ${step.typeId} to ${step.vf}/nvidia/current_vgpu_type failed: ${errorMessage(e)}`;
  }
  return null;
}
