import type { AssignmentTarget } from "../candidates/types.js";
import type { HostReport, PlanResult } from "../pipeline.js";
import { mdevCreationSteps, pciAddressOfNodeName } from "./mdevplan.js";

/**
 * cli.md's JSON form of an assignment target: every kind carries the same
 * keys (null where they do not apply); an SR-IOV vGPU VF is a "pci" target
 * with `vgpuType`. The one mapper between the typed targets and that form.
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
  const none = { parent: null, mdevType: null, uuid: null, create: false, address: null };
  switch (t.kind) {
    case "mdev":
      return {
        kind: "mdev",
        name: t.name,
        parent: t.parent,
        mdevType: t.mdevType,
        uuid: t.uuid,
        create: t.create,
        address: null,
      };
    case "pci":
      return { kind: "pci", name: t.name, ...none, address: t.address, driver: t.driver };
    case "vgpu-vf":
      return {
        kind: "pci",
        name: t.name,
        ...none,
        create: t.create,
        address: t.vf,
        driver: t.driver,
        vgpuType: { id: t.typeId, name: t.typeName, create: t.create, write: t.write },
      };
    case "network":
      return { kind: "network", name: t.network, ...none, network: t.network };
    case "usb":
      return { kind: "usb", name: t.name, ...none, parent: t.parent };
  }
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The inverse, for a plan file read back (`hdplan prepare --plan`); null when it is no target. */
export function targetFromJson(j: unknown): AssignmentTarget | null {
  if (!j || typeof j !== "object") return null;
  const o = j as Record<string, unknown>;
  const name = str(o.name);
  if (o.kind === "mdev") {
    const parent = str(o.parent);
    const mdevType = str(o.mdevType);
    if (!parent || !mdevType) return null;
    // cli.md's JSON has no parent address: the parent's node device name carries it
    const parentAddress = pciAddressOfNodeName(parent);
    return {
      kind: "mdev",
      name,
      parent,
      parentAddress,
      mdevType,
      uuid: str(o.uuid),
      create: o.create === true,
    };
  }
  if (o.kind === "pci") {
    const address = str(o.address);
    if (!address) return null;
    const v = o.vgpuType as Record<string, unknown> | undefined;
    if (v && typeof v === "object" && typeof v.id === "number") {
      return {
        kind: "vgpu-vf",
        name: name ?? address,
        vf: address,
        driver: str(o.driver),
        typeId: v.id,
        typeName: str(v.name),
        create: v.create === true,
        write: str(v.write),
      };
    }
    return { kind: "pci", name: name ?? address, address, driver: str(o.driver) };
  }
  if (o.kind === "network") {
    const network = str(o.network) ?? name;
    return network ? { kind: "network", network } : null;
  }
  if (o.kind === "usb") return name ? { kind: "usb", name, parent: str(o.parent) } : null;
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
