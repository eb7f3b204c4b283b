/**
 * What every device kind's candidate step shares: the per-host context, the
 * rejection aggregate, and the descriptor helpers. Each kind (src/candidates/
 * kinds/*.ts, src/vgpuvf/vgpuvf.ts) is a list of small named filters, each a
 * pure function returning null (pass) or a Reason with a stable code, in the
 * style of the Kubernetes scheduler's noderesources filter plugins.
 */
import type { DescriptorSelector } from "../../descriptors/sources.js";
import type { HostInventory } from "../../inventory/types.js";
import type { DescriptorData, NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import type { HostIndex } from "../hostindex.js";
import type { DeviceCandidates, PlannedSource, Resource } from "../types.js";
import type { GateOptions } from "../versions.js";

/** One host, as a kind's candidate step sees it. */
export interface KindContext {
  host: HostInventory;
  idx: HostIndex;
  selector: DescriptorSelector;
  gateOpts: GateOptions;
  /** Add a resource to the host's pool (first one with an id wins). */
  addResource(r: Resource): void;
  /** The selected descriptor of a PCI function (the per-host index, else derived). */
  pciDescriptor(fn: NodeDevice): DescriptorData;
  /** Host-level warnings (firmware unverified, ...). */
  warnings: Reason[];
}

/** A kind's candidate step: fills dc.resources (best first) or dc.reasons. */
export type KindCandidates<S extends PlannedSource = PlannedSource> = (
  s: S,
  dc: DeviceCandidates,
  ctx: KindContext,
) => void;

/** Run `filters` in order; the first Reason wins. */
export function firstFailure<T>(filters: readonly ((x: T) => Reason | null)[], x: T): Reason | null {
  for (const f of filters) {
    const r = f(x);
    if (r) return r;
  }
  return null;
}

/** Aggregates rejections: distinct codes, first message each, with counts. */
export class Rejections {
  private byCode = new Map<string, { r: Reason; n: number }>();
  add(r: Reason): void {
    const e = this.byCode.get(r.code);
    if (e) e.n++;
    else this.byCode.set(r.code, { r, n: 1 });
  }
  get size(): number {
    return this.byCode.size;
  }
  list(): Reason[] {
    return [...this.byCode.values()].map(({ r, n }) =>
      n > 1 ? { ...r, message: `${r.message} (and ${n - 1} more like it)`, count: n } : r,
    );
  }
}

export function descriptorMismatch(what: string, nested: Reason[]): Reason {
  const first = nested[0]?.message ?? "descriptor does not accept the source";
  return reason("descriptor-mismatch", `${what}: ${first}`, { reasons: nested });
}

export function withoutKey(self: Record<string, string>, key: string): Record<string, string> {
  const out = { ...self };
  delete out[key];
  return out;
}

/** The descriptor without software_version (self and sections), for a comparison whose version is unknown. */
export function withoutVersion(d: DescriptorData): DescriptorData {
  return {
    self: withoutKey(d.self, "software_version"),
    compatible: d.compatible.map((c) => withoutKey(c, "software_version")),
  };
}

/** The keys of cli.md's target JSON that a kind leaves null (src/output/json.ts); spread first, then the kind's own. */
export const NO_TARGET_KEYS = {
  parent: null,
  mdevType: null,
  uuid: null,
  create: false,
  address: null,
} as const;

/** A string field of a JSON object read back, else null. */
export const jsonStr = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** PCI ids "10de26b9" as "10de:26b9" (headroom's per-type names); other text unchanged, "?" when unknown. */
export function fmtPciId(id: string | undefined): string {
  return id && /^[0-9a-f]{8}$/.test(id) ? `${id.slice(0, 4)}:${id.slice(4)}` : (id ?? "?");
}
