/**
 * The device kinds, one module each (docs/device-kinds.md): what the generic
 * code (candidates, whole-VM rules, evaluation, headroom, JSON, text and HTML
 * output) asks of a kind, so that it dispatches here instead of naming kinds.
 * A new kind writes one KindModule in its own folder and adds one line to
 * KINDS below; the mapped type makes the compiler refuse a Need without one.
 */
import type { HostInventory } from "../../inventory/types.js";
import type { InterfaceDevice, PciHostdev, PciNode, PlannerDeviceMeta } from "../../model.js";
import type { TargetJson } from "../../output/json.js";
import type { DeviceReport } from "../../pipeline.js";
import type { Reason } from "../../reasons.js";
import { VGPU_VF_KIND } from "../../vgpuvf/kind.js";
import type { SourceContext } from "../source.js";
import type { AssignmentTarget, Need, PlannedSource, SourceBase, SourceOf } from "../types.js";
import type { KindCandidates } from "./common.js";
import { MDEV_KIND } from "./mdev.js";
import { NETWORK_KIND } from "./network.js";
import { PCI_KIND } from "./pci.js";
import { USB_KIND } from "./usb.js";

/** The target variant of a kind (targets and needs share their names). */
export type TargetOf<N extends Need> = Extract<AssignmentTarget, { kind: N }>;

export interface KindModule<N extends Need> {
  need: N;
  /**
   * A refinement of another kind: tried first when a device or a JSON target
   * of that kind is classified (NVIDIA's SR-IOV vGPU VF is a PCI function).
   */
  refines?: Need;
  /** Counts as a VFIO device for the whole-VM rules of compat.md §7 (src/candidates/vmrules.ts). */
  vfio: boolean;
  /**
   * The vendor driver, not the VFIO driver table, decides dirty tracking and
   * P2P (mdevs, vGPU VFs): the driver-table rules of vmrules.ts skip it.
   */
  vendorDriver: boolean;
  /** The destination candidate step: the kind's list of filters. */
  candidates: KindCandidates<SourceOf<N>>;
  /** The reason when the matcher gave every candidate to other devices (src/matching/evaluate.ts). */
  capacityReason?(s: SourceOf<N>, what: string): Reason;
  /** The kind's own source fields, for headroom's device signature (src/matching/headroom.ts). */
  signature(s: SourceOf<N>): unknown;
  /** The device type a source device needs, in resourceType's words (headroom's per-type view). */
  sourceType(s: SourceOf<N>): string | null;
  /** The device type a destination resource offers. */
  resourceType(t: TargetOf<N>, inv: HostInventory): string;
  /** What the kind adds to the device report (internal fields for --write-dest-xml). */
  report?(s: SourceOf<N>): Partial<DeviceReport>;
  /**
   * A refinement of "pci" on the source: the device's source variant when the
   * function is of this kind, else null (src/candidates/source.ts).
   */
  pciSource?(
    b: SourceBase,
    dev: PciHostdev | InterfaceDevice,
    fn: PciNode,
    src: HostInventory,
    ctx: SourceContext,
  ): SourceOf<N> | null;
  /** The same without a source host, from the planner metadata (the hook). */
  pciSourceFromMeta?(
    b: SourceBase,
    dev: PciHostdev | InterfaceDevice,
    meta: PlannerDeviceMeta & { descriptor: NonNullable<PlannerDeviceMeta["descriptor"]> },
    ctx: SourceContext,
  ): SourceOf<N> | null;
  /** cli.md's JSON form of a target (src/output/json.ts). */
  targetJson(t: TargetOf<N>): TargetJson;
  /** The inverse, for a plan file read back; null when the JSON is not this kind's. */
  targetFromJson(o: Record<string, unknown>): TargetOf<N> | null;
  /** What the device gets, for the text table (src/output/table.ts). */
  targetLine(t: TargetOf<N>): string;
  /** A short cell for the HTML report (src/output/html.ts). */
  targetCell(t: TargetOf<N>): string;
}

/** Every kind, by need: a new kind adds one line. */
const KINDS: { [N in Need]: KindModule<N> } = {
  mdev: MDEV_KIND,
  pci: PCI_KIND,
  network: NETWORK_KIND,
  usb: USB_KIND,
  "vgpu-vf": VGPU_VF_KIND,
};

export function kindOf<N extends Need>(need: N): KindModule<N> {
  return KINDS[need];
}

/** The module of a source device that needs something. */
export function sourceKind<S extends PlannedSource>(s: S): KindModule<S["need"]> {
  return KINDS[s.need as S["need"]];
}

/** The module of a target. */
export function targetKind<T extends AssignmentTarget>(t: T): KindModule<T["kind"]> {
  return KINDS[t.kind as T["kind"]];
}

/** All kinds, refinements before the kinds they refine (the order classification tries them in). */
export function allKinds(): KindModule<Need>[] {
  const all = Object.values(KINDS) as KindModule<Need>[];
  return [...all.filter((k) => k.refines !== undefined), ...all.filter((k) => k.refines === undefined)];
}
