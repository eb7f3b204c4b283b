import type { AssignmentTarget } from "../candidates/types.js";
import type { HostReport, PlanResult } from "../pipeline.js";
import { allKinds, targetKind } from "../candidates/kinds/registry.js";
import { mdevCreationSteps } from "./mdevplan.js";

/**
 * cli.md's JSON form of an assignment target: every kind carries the same
 * keys (null where they do not apply); a kind that refines another prints as
 * that kind with its own extra key (the SR-IOV vGPU VF: "pci" with
 * `vgpuType`). Each kind's module (src/candidates/kinds/registry.ts) maps its
 * targets; this file is the one entry point.
 */
export interface TargetJson {
  kind: "mdev" | "pci" | "network" | "usb";
  name: string | null;
  parent: string | null;
  mdevType: string | null;
  uuid: string | null;
  create: boolean;
  address: string | null;
  network?: string;
  driver?: string | null;
  vgpuType?: { id: number; name: string | null; create: boolean; write: string | null };
}

export function targetJson(t: AssignmentTarget): TargetJson {
  return targetKind(t).targetJson(t);
}

/** The inverse, for a plan file read back (`hdplan prepare --plan`); null when it is no target. */
export function targetFromJson(j: unknown): AssignmentTarget | null {
  if (!j || typeof j !== "object") return null;
  const o = j as Record<string, unknown>;
  // refinements first: a "pci" target with vgpuType is the vGPU VF kind's
  for (const k of allKinds()) {
    const t = k.targetFromJson(o);
    if (t) return t;
  }
  return null;
}

/** Assignments in cli.md's JSON form (plan, evacuate, the plan files of --write-dest-xml). */
export function assignmentsJson(
  as: { device: string; target: AssignmentTarget; descriptorOrigin?: string }[],
): { device: string; target: TargetJson; descriptorOrigin?: string }[] {
  return as.map((a) => ({ ...a, target: targetJson(a.target) }));
}

/** Public JSON shape of cli.md (internal ranking fields removed). */
export function publicHost(h: HostReport) {
  const { capacityLeft: _c, freePciLeft: _f, hostUuid: _u, ...rest } = h;
  // the spread keeps each key's place: assignments stays where HostReport has it
  return { ...rest, assignments: assignmentsJson(h.assignments) };
}

export function planToJson(r: PlanResult): string {
  const hosts = r.hosts.map((h) =>
    h.status === "full" || h.status === "partial"
      ? { ...publicHost(h), mdevCreate: mdevCreationSteps(h) }
      : publicHost(h),
  );
  const devices = r.devices.map(({ sourceDescriptor: _s, ...d }) => d);
  return `${JSON.stringify({ ...r, devices, hosts }, null, 2)}\n`;
}
