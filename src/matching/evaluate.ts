/**
 * One VM on one host: candidates -> matching -> HostReport. The single
 * evaluation that plan (src/pipeline.ts), evacuate and headroom (their trials
 * in this folder) and the destination hook (src/commands/hook.ts) share.
 *
 * Pure: it reads the inventory and never changes it. What earlier placements
 * or other migrations took comes in as HostState (units used per resource,
 * GPU type locks, mdev UUIDs handed out), never as edits to the inventory.
 *
 * It lives beside the matcher so that matching/ never imports src/pipeline.ts
 * (the old matching -> pipeline -> matching cycle; test/architecture.test.ts).
 */
import { buildHostCandidates } from "../candidates/destination.js";
import { isVfio, resolveSourceDevices } from "../candidates/source.js";
import { sourceKind } from "../candidates/kinds/registry.js";
import { applyWholeVmRules } from "../candidates/vmrules.js";
import {
  type AssignmentTarget,
  type HostCandidates,
  type Resource,
  type SourceDevice,
  pciAddressOf,
} from "../candidates/types.js";
import { type GateOptions, isQemu, versionsKnown } from "../candidates/versions.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import { reservedAt } from "../inventory/keys.js";
import type { HostInventory } from "../inventory/types.js";
import type { DomainInfo } from "../model.js";
import { type QemuAnswer, applyQemuAnswer } from "../candidates/qemu.js";
import { type Reason, reason } from "../reasons.js";
import { type MatchOutput, matchDevices } from "./match.js";
import { HDPLAN_NS, uuidv5 } from "./uuid.js";
import { flatList } from "../lists.js";

export interface PlanOptions extends GateOptions {
  explain: boolean;
}

export interface HostReport {
  host: string;
  hostname: string | null;
  target: string;
  rank: number | null;
  /** "source": the --source host itself, listed but never a destination (unranked). */
  status: "full" | "partial" | "none" | "error" | "source";
  compatible: number;
  total: number;
  assignments: { device: string; target: AssignmentTarget; descriptorOrigin?: string }[];
  unassigned: { device: string; reasons: Reason[] }[];
  warnings: Reason[];
  error: Reason | null;
  /** --explain: the version-gate rules that decided on this host (floor or backport row). */
  gates?: string[];
  /** libvirt host UUID for --write-dest-xml's planned-for record (not part of the JSON contract). */
  hostUuid?: string;
  /** Ranking inputs (not part of the JSON contract). */
  capacityLeft: number;
  freePciLeft: number;
}

export interface PlanContext {
  domain: DomainInfo;
  source: HostInventory | null;
  selector: DescriptorSelector;
  opts: PlanOptions;
  /** `plan --ask-qemu`: QEMU's answer, applied to the source devices (src/candidates/qemu.ts). */
  qemu?: QemuAnswer;
}

/** Per-host evaluation state, reused by evacuate. */
export interface HostEvaluation {
  cands: HostCandidates;
  match: MatchOutput;
}

export function prepareSources(ctx: PlanContext): {
  sources: SourceDevice[];
  vmWarnings: Reason[];
  vmBlockers: Reason[];
} {
  const sources = resolveSourceDevices({
    domain: ctx.domain,
    source: ctx.source,
    selector: ctx.selector,
    gateOpts: ctx.opts,
  });
  const vmWarnings: Reason[] = applyWholeVmRules(ctx.domain, sources);
  // After hdplan's own rules, so that --explain can compare both answers.
  const vmBlockers = ctx.qemu ? applyQemuAnswer(sources, ctx.qemu) : [];
  const vfio = sources.filter(isVfio);
  if (vfio.length > 0) {
    vmWarnings.push(
      reason("postcopy-unavailable", "VFIO devices rule out post-copy migration: do not pass --postcopy"),
    );
  }
  if (ctx.domain.novaManaged) {
    vmWarnings.push(
      reason(
        "nova-managed",
        `${ctx.domain.name} is managed by OpenStack Nova: migrate it with 'openstack server migrate --live'`,
      ),
    );
  }
  return { sources, vmWarnings, vmBlockers };
}

export function hostWarnings(inv: HostInventory, sources: SourceDevice[]): Reason[] {
  // A list of the class a filled one has, also when empty (src/lists.ts): reportHost adds to it.
  const w = flatList([inv.warnings]);
  const gated = sources.some((s) => s.gate && s.blockers.length === 0);
  if (gated && inv.versions.hypervisorType && !isQemu(inv.versions)) {
    w.push(
      reason(
        "gates-not-applied",
        `${inv.key}: hypervisor ${inv.versions.hypervisorType} is not QEMU; the version gates of compat.md §5 were not applied`,
      ),
    );
  }
  if (gated && versionsKnown(inv.versions) && isQemu(inv.versions) && !inv.versions.kernel) {
    w.push(
      reason(
        "kernel-version-unverified",
        `${inv.key}: kernel version not recorded; run 'hdplan inventory' on the host`,
      ),
    );
  }
  return w;
}

function capacityReason(s: SourceDevice, hostKey: string, taken: string): Reason {
  const what = `${hostKey}: every candidate was taken by ${taken}`;
  return (s.need !== null && sourceKind(s).capacityReason?.(s, what)) || reason("capacity-taken", what);
}

/** Build a HostReport from candidates and a matching (plan and evacuate share this). */
export function reportHost(
  ctx: PlanContext,
  inv: HostInventory,
  sources: SourceDevice[],
  cands: HostCandidates,
  match: MatchOutput,
  used: Map<string, number>,
  uuidTaken: Set<string>,
  takenBy = "earlier placements",
): HostReport {
  const assignments: HostReport["assignments"] = [];
  const unassigned: HostReport["unassigned"] = [];
  const byRes = new Map<string, string[]>();
  for (const [dev, rid] of match.assignment) byRes.set(rid, [...(byRes.get(rid) ?? []), dev]);
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i]!;
    const dc = cands.devices[i]!;
    const rid = match.assignment.get(s.dev.id);
    if (rid) {
      const r = cands.resources.get(rid)!;
      const target: AssignmentTarget = { ...r.target };
      if (target.kind === "mdev" && target.create)
        target.uuid = mdevUuidFor(ctx, inv, s.need === "mdev" ? s.mdevUuid : null, s.dev.id, uuidTaken);
      const a: HostReport["assignments"][number] = { device: s.dev.id, target };
      if (r.descriptorOrigin) a.descriptorOrigin = r.descriptorOrigin;
      assignments.push(a);
      continue;
    }
    if (dc.resources.length > 0) {
      const takers = [...new Set(dc.resources.flatMap((x) => byRes.get(x) ?? []))];
      unassigned.push({
        device: s.dev.id,
        reasons: [capacityReason(s, inv.key, takers.length ? takers.join(", ") : takenBy)],
      });
    } else {
      unassigned.push({ device: s.dev.id, reasons: dc.reasons });
    }
  }
  const warnings = hostWarnings(inv, sources);
  warnings.push(...cands.warnings);
  if (match.truncated) {
    warnings.push(
      reason("matching-truncated", `${inv.key}: GPU type-choice search bounded; result may not be maximal`),
    );
  }
  let capacityLeft = 0;
  const usedHere = new Map<string, number>();
  for (const rid of match.assignment.values()) usedHere.set(rid, (usedHere.get(rid) ?? 0) + 1);
  for (const rid of usedHere.keys()) {
    const r = cands.resources.get(rid)!;
    capacityLeft += r.capacity - (used.get(rid) ?? 0) - usedHere.get(rid)!;
  }
  let freePciLeft = 0;
  for (const r of cands.resources.values()) {
    if (pciAddressOf(r.target) !== null && !usedHere.has(r.id) && !(used.get(r.id) ?? 0)) freePciLeft++;
  }
  const total = sources.length;
  const compatible = assignments.length;
  const explainGates = ctx.opts.explain ? { gates: cands.gateNotes } : {};
  return {
    ...explainGates,
    host: inv.key,
    hostname: inv.hostname,
    ...(inv.hostUuid ? { hostUuid: inv.hostUuid } : {}),
    target: inv.target,
    rank: null,
    status: compatible === total ? "full" : compatible > 0 ? "partial" : "none",
    compatible,
    total,
    assignments,
    unassigned,
    warnings,
    error: null,
    capacityLeft,
    freePciLeft,
  };
}

/** cli.md UUID rule: the source UUID when free on the destination, else UUIDv5(domain, device, host). */
function mdevUuidFor(
  ctx: PlanContext,
  inv: HostInventory,
  u: string | null,
  deviceId: string,
  taken: Set<string>,
): string {
  if (
    u &&
    !inv.mdevByUuid.has(u) &&
    !reservedAt(inv.reserved, { kind: "mdev", uuid: u }) &&
    !taken.has(`${inv.key}/${u}`)
  ) {
    taken.add(`${inv.key}/${u}`);
    return u;
  }
  const ns = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(ctx.domain.uuid)
    ? ctx.domain.uuid
    : HDPLAN_NS;
  const v = uuidv5(ns, `${deviceId}/${inv.key}`);
  taken.add(`${inv.key}/${v}`);
  return v;
}

/** A VM prepared for evaluation: its context and source devices, resolved once. */
export interface EvalContext extends PlanContext {
  sources: SourceDevice[];
  multiVfio: boolean;
  /** Whole-VM warnings (prepareSources), for the plan's top-level warnings. */
  vmWarnings: Reason[];
  /** Whole-VM blockers (QEMU's answer under --ask-qemu): every host reports the VM unassigned. */
  vmBlockers: Reason[];
}

/** Resolve the VM's source devices once (prepareSources) for any number of evaluateHost calls. */
export function evalContext(ctx: PlanContext, prepared = prepareSources(ctx)): EvalContext {
  return {
    ...ctx,
    sources: prepared.sources,
    multiVfio: prepared.sources.filter(isVfio).length > 1,
    vmWarnings: prepared.vmWarnings,
    vmBlockers: prepared.vmBlockers,
  };
}

/** What is already taken on the host: read, never changed, except uuidTaken (records UUIDs handed out). */
export interface HostState {
  /** Descriptor selector of this host (its own descriptor files); default ctx.selector. */
  selector?: DescriptorSelector;
  /** Candidates already built for this VM on this host (evacuate keeps them per host). */
  cands?: HostCandidates;
  /** Units taken per resource id by earlier placements or other migrations' reservations. */
  used?: Map<string, number>;
  /** vGPU type chosen per physical GPU by earlier placements. */
  locks?: Map<string, string>;
  /** Who took `used` (the capacity reason names them); default "earlier placements". */
  takenBy?: string;
  /** Host/UUID pairs handed out so far (the cli.md UUID rule); default a fresh set. */
  uuidTaken?: Set<string>;
  /** device id -> the device it already names (hook): kept when it is a candidate. */
  keep?: Map<string, { uuid?: string | null; address?: string | null }>;
}

/** The candidates of the VM on a host (the candidates step alone: feasibility counts, headroom). */
export function hostCandidates(
  ctx: EvalContext,
  inv: HostInventory,
  selector = ctx.selector,
): HostCandidates {
  return buildHostCandidates(inv, ctx.sources, { selector, gateOpts: ctx.opts, multiVfio: ctx.multiVfio });
}

/** Evaluate the VM on one host: candidates, matching and report. */
export function evaluateHostFull(
  ctx: EvalContext,
  inv: HostInventory,
  st: HostState = {},
): HostEvaluation & { report: HostReport } {
  const cands = st.cands ?? hostCandidates(ctx, inv, st.selector);
  const used = st.used ?? new Map<string, number>();
  const match = matchDevices({
    devices: cands.devices,
    resources: cands.resources,
    ...(st.used ? { used } : {}),
    ...(st.locks ? { gpuLocks: st.locks } : {}),
  });
  if (st.keep) keepCurrent(ctx.sources, cands, match.assignment, st.keep, used);
  const report = reportHost(ctx, inv, ctx.sources, cands, match, used, st.uuidTaken ?? new Set(), st.takenBy);
  // QEMU blocks a VM without assigned devices: no device carries the blocker, so the VM does.
  if (ctx.vmBlockers.length > 0) {
    report.status = "none";
    report.unassigned.push({ device: ctx.domain.name, reasons: ctx.vmBlockers });
  }
  return { cands, match, report };
}

/** Evaluate the VM on one host (plan, evacuate, headroom and the hook share it). */
export function evaluateHost(ctx: EvalContext, inv: HostInventory, st: HostState = {}): HostReport {
  return evaluateHostFull(ctx, inv, st).report;
}

function holds(r: Resource, cur: { uuid?: string | null; address?: string | null }): boolean {
  const t = r.target;
  if (cur.uuid) return t.kind === "mdev" && !t.create && t.uuid?.toLowerCase() === cur.uuid.toLowerCase();
  return !!cur.address && pciAddressOf(t) === cur.address;
}

/**
 * Keep the device the incoming XML already names when it is a candidate (so
 * nothing changes): swap with the device that took it when that one can take
 * this one's resource instead.
 */
function keepCurrent(
  sources: SourceDevice[],
  cands: HostCandidates,
  assignment: Map<string, string>,
  keep: NonNullable<HostState["keep"]>,
  used: Map<string, number>,
): void {
  sources.forEach((s, i) => {
    const want = keep.get(s.dev.id);
    const mine = assignment.get(s.dev.id);
    if (!want || !mine) return;
    const cur = cands.devices[i]?.resources.find((rid) => holds(cands.resources.get(rid)!, want));
    if (!cur || mine === cur) return;
    const r = cands.resources.get(cur)!;
    const inUse = [...assignment.values()].filter((x) => x === cur).length + (used.get(cur) ?? 0);
    if (inUse < r.capacity) {
      assignment.set(s.dev.id, cur);
      return;
    }
    const holder = [...assignment].find(([, x]) => x === cur)?.[0];
    const j = sources.findIndex((d) => d.dev.id === holder);
    if (holder !== undefined && j >= 0 && cands.devices[j]?.resources.includes(mine)) {
      assignment.set(holder, mine);
      assignment.set(s.dev.id, cur);
    }
  });
}
