/**
 * The flow, in one place:
 *   targets -> host inventory -> descriptors -> candidates -> matching -> ranking -> output
 * Pure from here on: hosts are already read; this file only decides.
 */
import { buildHostCandidates } from "./candidates/destination.js";
import { isVfio, resolveSourceDevices } from "./candidates/source.js";
import { applyWholeVmRules } from "./candidates/vmrules.js";
import {
  type AssignmentTarget,
  type HostCandidates,
  type SourceDevice,
  pciAddressOf,
} from "./candidates/types.js";
import { type GateOptions, isQemu, versionsKnown } from "./candidates/versions.js";
import { deriveMdevDescriptor, derivePciDescriptor, mdevTypesOf } from "./descriptors/derive.js";
import type { DescriptorSelector } from "./descriptors/sources.js";
import { reservedAt } from "./inventory/keys.js";
import type { HostInventory } from "./inventory/types.js";
import { type MatchOutput, matchDevices } from "./matching/match.js";
import { HDPLAN_NS, uuidv5 } from "./matching/uuid.js";
import type { DescriptorData, DomainInfo } from "./model.js";
import { rankHosts } from "./ranking/rank.js";
import { sameHostAs } from "./targets/keys.js";
import { type Reason, reason } from "./reasons.js";
import { vendorDescriptorFor } from "./candidates/vendor.js";
import { type QemuAnswer, applyQemuAnswer } from "./candidates/qemu.js";

export interface PlanOptions extends GateOptions {
  explain: boolean;
}

export interface DeviceReport {
  id: string;
  alias: string | null;
  kind: string;
  summary: string;
  blockers: Reason[];
  warnings: Reason[];
  descriptor?: { origin: string | null; self: Record<string, string> | null; compatible: number };
  /** --explain: the version-gate rules that decided on the source (floor or backport row). */
  gates?: string[];
  /** --explain with --ask-qemu: hdplan's and QEMU's answers side by side. */
  qemu?: string;
  /** Internal (not in the JSON): the full source descriptor, for --write-dest-xml metadata. */
  sourceDescriptor?: DescriptorData | null;
  /** Internal (not in the JSON): the source PF's firmware/PSID (mlx5), for the metadata. */
  sourceFirmware?: { version?: string; psid?: string };
  /** Internal (not in the JSON): the source VF vGPU's type id, for the metadata. */
  sourceVgpuType?: number;
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

export interface PlanResult {
  schemaVersion: 1;
  domain: { name: string; uuid: string };
  source: { host: string | null };
  devices: DeviceReport[];
  hosts: HostReport[];
  best: string | null;
  warnings: Reason[];
  /** `plan --ask-qemu`: what QEMU answered to query-migrate on the source. */
  qemu?: QemuAnswer;
}

export type HostInput =
  | { ok: true; inv: HostInventory }
  | { ok: false; key: string; target: string; error: Reason };

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
  const w: Reason[] = [...inv.warnings];
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
  if (s.need === "mdev")
    return reason("mdev-no-capacity", `${what}; not enough free ${s.mdevType} instances`);
  if (s.need === "network")
    return reason("network-pool-exhausted", `${what}; not enough free functions in ${s.network?.name}`);
  return reason("capacity-taken", what);
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
      if (target.kind === "mdev" && target.create) target.uuid = mdevUuidFor(ctx, inv, s, uuidTaken);
      const a: HostReport["assignments"][number] = { device: s.dev.id, target };
      if (r.descriptorOrigin) a.descriptorOrigin = r.descriptorOrigin;
      assignments.push(a);
      continue;
    }
    if (dc.resources.length > 0) {
      const takers = [...new Set(dc.resources.flatMap((x) => byRes.get(x) ?? []))];
      unassigned.push({
        device: s.dev.id,
        reasons: [capacityReason(s, inv.key, takers.length ? takers.join(", ") : "earlier placements")],
      });
    } else {
      unassigned.push({ device: s.dev.id, reasons: dc.reasons });
    }
  }
  const warnings = [...hostWarnings(inv, sources), ...cands.warnings];
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
function mdevUuidFor(ctx: PlanContext, inv: HostInventory, s: SourceDevice, taken: Set<string>): string {
  const u = s.mdevUuid;
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
  const v = uuidv5(ns, `${s.dev.id}/${inv.key}`);
  taken.add(`${inv.key}/${v}`);
  return v;
}

/** The --source host listed among the candidates: never a destination (compat.md §7). */
export function sourceHost(
  inv: { key: string; target: string; hostname: string | null },
  total: number,
  why: string,
): HostReport {
  return {
    host: inv.key,
    hostname: inv.hostname,
    target: inv.target,
    rank: null,
    status: "source",
    compatible: 0,
    total,
    assignments: [],
    unassigned: [],
    warnings: [
      reason(
        "source-host",
        `${inv.key} is the --source host (${why}); a VM is never migrated onto the host it runs on`,
      ),
    ],
    error: null,
    capacityLeft: 0,
    freePciLeft: 0,
  };
}

export function errorHost(h: { key: string; target: string; error: Reason }, total: number): HostReport {
  return {
    host: h.key,
    hostname: null,
    target: h.target,
    rank: null,
    status: "error",
    compatible: 0,
    total,
    assignments: [],
    unassigned: [],
    warnings: [],
    error: h.error,
    capacityLeft: 0,
    freePciLeft: 0,
  };
}

export function deviceReports(sources: SourceDevice[], explain: boolean): DeviceReport[] {
  return sources.map((s) => {
    const d: DeviceReport = {
      id: s.dev.id,
      alias: s.dev.alias,
      kind: s.dev.kind,
      summary: s.summary,
      blockers: s.blockers,
      warnings: s.warnings,
      sourceDescriptor: s.descriptor,
    };
    if (s.firmware) d.sourceFirmware = s.firmware;
    if (s.vgpuVf) d.sourceVgpuType = s.vgpuVf.typeId;
    if (explain) {
      d.descriptor = {
        origin: s.descriptorOrigin,
        self: s.descriptor?.self ?? null,
        compatible: s.descriptor?.compatible.length ?? 0,
      };
      if (s.gateNotes?.length) d.gates = s.gateNotes;
      if (s.qemuNote) d.qemu = s.qemuNote;
    }
    return d;
  });
}

/**
 * A planner for one domain: hosts are evaluated one at a time as they are read
 * (streaming: a host's inventory can be dropped once evaluated), then ranked.
 */
export interface Planner {
  sources: SourceDevice[];
  /** `selector` overrides ctx.selector for this host (a host with its own descriptor files). */
  evaluate(inv: HostInventory, selector?: DescriptorSelector): HostReport;
  error(h: { key: string; target: string; error: Reason }): HostReport;
  finish(reports: HostReport[]): PlanResult;
  /** Descriptor file usage seen so far (for merging across worker threads). */
  usage(): DescriptorUsage[];
  absorbUsage(u: DescriptorUsage[]): void;
}

export interface DescriptorUsage {
  id: string;
  path: string;
  used: boolean;
}

export function createPlanner(ctx: PlanContext): Planner {
  const { sources, vmWarnings, vmBlockers } = prepareSources(ctx);
  const multiVfio = sources.filter(isVfio).length > 1;
  const uuidTaken = new Set<string>();
  const selectors = new Set<DescriptorSelector>([ctx.selector]);
  const absorbed: DescriptorUsage[] = [];
  const tracking = (sel: DescriptorSelector) => sel.files.length > 0;
  if (tracking(ctx.selector) && ctx.source) touchAll(ctx.selector, ctx.source);
  return {
    sources,
    evaluate(inv, selector = ctx.selector) {
      const why = ctx.source ? sameHostAs(ctx.source, inv) : null;
      if (why) return sourceHost(inv, sources.length, why);
      selectors.add(selector);
      const cands = buildHostCandidates(inv, sources, { selector, gateOpts: ctx.opts, multiVfio });
      const match = matchDevices({ devices: cands.devices, resources: cands.resources });
      if (tracking(selector)) touchAll(selector, inv);
      const report = reportHost(ctx, inv, sources, cands, match, new Map(), uuidTaken);
      // QEMU blocks a VM without assigned devices: no device carries the blocker, so the VM does.
      if (vmBlockers.length > 0) {
        report.status = "none";
        report.unassigned.push({ device: ctx.domain.name, reasons: vmBlockers });
      }
      return report;
    },
    error(h) {
      return errorHost(h, sources.length);
    },
    usage() {
      const out: DescriptorUsage[] = [...absorbed];
      for (const sel of selectors) {
        const unusedHere = new Set(sel.unused());
        for (const f of sel.files)
          out.push({ id: `${f.hostKey ?? ""}|${f.path}`, path: f.path, used: !unusedHere.has(f) });
      }
      return out;
    },
    absorbUsage(u) {
      absorbed.push(...u);
    },
    finish(reports) {
      const ranked = rankHosts(reports);
      // A file is unused when no selector that had it ever picked it.
      const all = new Map<string, string>();
      const used = new Set<string>();
      for (const u of this.usage()) {
        all.set(u.id, u.path);
        if (u.used) used.add(u.id);
      }
      const unused = [...all]
        .filter(([id]) => !used.has(id))
        .map(([, path]) =>
          reason(
            "descriptor-unused",
            `descriptor file ${path} applies to no device of any host in this run`,
            {
              file: path,
            },
          ),
        );
      return {
        schemaVersion: 1,
        domain: { name: ctx.domain.name, uuid: ctx.domain.uuid },
        source: { host: ctx.source?.key ?? null },
        devices: deviceReports(sources, ctx.opts.explain),
        hosts: ranked,
        best: ranked.find((h) => h.status === "full")?.host ?? null,
        warnings: [...vmWarnings, ...unused],
        ...(ctx.qemu ? { qemu: ctx.qemu } : {}),
      };
    },
  };
}

/** Plan one domain against many hosts (already read). */
export function planDomain(ctx: PlanContext, hosts: HostInput[]): PlanResult {
  const p = createPlanner(ctx);
  return p.finish(hosts.map((h) => (h.ok ? p.evaluate(h.inv) : p.error(h))));
}

/** Select a descriptor for every device of a host so the selector knows which files applied (§4). */
export function touchAll(selector: DescriptorSelector, inv: HostInventory): void {
  for (const d of inv.devices) {
    if (d.pci) {
      const pf = d.pci.physFunction ? inv.pciByAddr.get(d.pci.physFunction) : undefined;
      selector.select(inv.key, derivePciDescriptor(d, pf), undefined);
    }
    for (const t of mdevTypesOf(d)) {
      selector.select(
        inv.key,
        deriveMdevDescriptor(d, t.id, inv.facts.nvidiaVersion),
        vendorDescriptorFor(inv, d, t.id),
      );
    }
  }
}

export type { DescriptorData };
