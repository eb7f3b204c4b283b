/**
 * The flow, in one place:
 *   targets -> host inventory -> descriptors -> candidates -> matching -> ranking -> output
 * Pure from here on: hosts are already read; this file only decides. One VM on
 * one host is src/matching/evaluate.ts (evaluateHost), shared with evacuate,
 * headroom and the hook; this file adds the source-host rule, descriptor
 * usage and ranking.
 */
import { deriveMdevDescriptor, derivePciDescriptor, mdevTypesOf } from "./descriptors/derive.js";
import type { DescriptorFile, DescriptorSelector } from "./descriptors/sources.js";
import type { HostInventory } from "./inventory/types.js";
import { sourceKind } from "./candidates/kinds/registry.js";
import type { SourceDevice } from "./candidates/types.js";
import { type HostReport, type PlanContext, evalContext, evaluateHost } from "./matching/evaluate.js";
import type { DescriptorData } from "./model.js";
import { rankHosts } from "./ranking/rank.js";
import { sameHostAs } from "./targets/keys.js";
import { type Reason, reason } from "./reasons.js";
import { vendorDescriptorFor } from "./candidates/vendor.js";
import type { QemuAnswer } from "./candidates/qemu.js";

export {
  type EvalContext,
  type HostEvaluation,
  type HostReport,
  type HostState,
  type PlanContext,
  type PlanOptions,
  evalContext,
  evaluateHost,
  evaluateHostFull,
  hostWarnings,
  prepareSources,
  reportHost,
} from "./matching/evaluate.js";

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
    if (s.need !== null) Object.assign(d, sourceKind(s).report?.(s));
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
  const ectx = evalContext(ctx);
  const { sources, vmWarnings } = ectx;
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
      const report = evaluateHost(ectx, inv, { selector, uuidTaken });
      if (tracking(selector)) touchAll(selector, inv);
      return report;
    },
    error(h) {
      return errorHost(h, sources.length);
    },
    usage() {
      const out: DescriptorUsage[] = [...absorbed];
      for (const sel of selectors) out.push(...selectorUsage(sel));
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
      // In one order whatever thread or record the usage came from: global
      // files first, then by host key, then by path (loadDescriptorDir's order).
      const unused = [...all]
        .filter(([id]) => !used.has(id))
        .sort(([a], [b]) => compareUsageIds(a, b))
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

const usageId = (f: DescriptorFile) => `${f.hostKey ?? ""}|${f.path}`;

function compareUsageIds(a: string, b: string): number {
  // A host key has no '|' (KEY_RE), so the host part ends at the first one.
  const ha = a.slice(0, a.indexOf("|"));
  const hb = b.slice(0, b.indexOf("|"));
  if (ha !== hb) return ha === "" ? -1 : hb === "" ? 1 : ha < hb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every file of a selector, used or not (the planner's usage of it). */
export function selectorUsage(sel: DescriptorSelector): DescriptorUsage[] {
  const unusedHere = new Set(sel.unused());
  return sel.files.map((f) => ({ id: usageId(f), path: f.path, used: !unusedHere.has(f) }));
}

/** The files of a shared selector that devices of one host selected. */
export function hostUsage(sel: DescriptorSelector, hostKey: string): DescriptorUsage[] {
  return sel.usedBy(hostKey).map((f) => ({ id: usageId(f), path: f.path, used: true }));
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
