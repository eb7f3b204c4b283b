/** Human output of plan/check: a ranked table, and --explain details. */
import { targetKind } from "../candidates/kinds/registry.js";
import type { PlanResult } from "../pipeline.js";
import type { Reason } from "../reasons.js";
import { mdevCreationSteps, mdevStepLines } from "./mdevplan.js";

export interface Style {
  bold: (s: string) => string;
  red: (s: string) => string;
  green: (s: string) => string;
  yellow: (s: string) => string;
  dim: (s: string) => string;
}

const plain = (s: string) => s;
export const NO_STYLE: Style = { bold: plain, red: plain, green: plain, yellow: plain, dim: plain };
export const ANSI_STYLE: Style = {
  bold: (s) => `\x1b[1m${s}\x1b[0m`,
  red: (s) => `\x1b[31m${s}\x1b[0m`,
  green: (s) => `\x1b[32m${s}\x1b[0m`,
  yellow: (s) => `\x1b[33m${s}\x1b[0m`,
  dim: (s) => `\x1b[2m${s}\x1b[0m`,
};

export function pad(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

function codes(rs: Reason[]): string {
  return [...new Set(rs.map((r) => r.code))].join(", ");
}

export function reasonLines(rs: Reason[], indent: string): string[] {
  const out: string[] = [];
  for (const r of rs) {
    out.push(`${indent}${r.code}: ${r.message}`);
    const nested = r.reasons;
    if (Array.isArray(nested)) out.push(...reasonLines(nested as Reason[], `${indent}  `));
  }
  return out;
}

export function planToTable(r: PlanResult, explain: boolean, st: Style = NO_STYLE): string {
  const lines: string[] = [];
  lines.push(
    st.bold(
      `Plan for ${r.domain.name} (${r.devices.length} assigned device${r.devices.length === 1 ? "" : "s"})`,
    ) + (r.source.host ? ` from ${r.source.host}` : ""),
  );
  if (r.qemu) {
    const q = r.qemu;
    lines.push(
      q.blocked || q.reasons.length
        ? st.red(
            `  QEMU (query-migrate): blocked: ${q.reasons.length ? q.reasons.join("; ") : "no reason given"}`,
          )
        : "  QEMU (query-migrate): no migration blocker",
    );
  }
  for (const d of r.devices) {
    const flag = d.blockers.length ? st.red(` BLOCKED: ${codes(d.blockers)}`) : "";
    lines.push(`  ${d.id.padEnd(12)} ${d.summary}${flag}`);
    if (explain) {
      lines.push(...reasonLines(d.blockers, "      "));
      lines.push(...reasonLines(d.warnings, "      warning "));
      for (const g of d.gates ?? []) lines.push(st.dim(`      gate: ${g}`));
      if (d.qemu) lines.push(`      qemu: ${d.qemu}`);
      if (d.descriptor) {
        const self = d.descriptor.self
          ? Object.entries(d.descriptor.self)
              .map(([k, v]) => `${k}=${v}`)
              .join(" ")
          : "unknown";
        lines.push(
          st.dim(
            `      descriptor (${d.descriptor.origin ?? "none"}): ${self}${d.descriptor.compatible ? ` +${d.descriptor.compatible} COMPATIBLE section(s)` : ""}`,
          ),
        );
      }
    }
  }
  lines.push("");
  const rows: string[][] = [["RANK", "HOST", "STATUS", "DEVICES", "WHAT BLOCKS"]];
  for (const h of r.hosts) {
    const blocks =
      h.status === "error"
        ? `${h.error?.code}: ${h.error?.message}`
        : h.status === "source"
          ? "the --source host itself: never a destination"
          : h.unassigned.map((u) => `${u.device}: ${codes(u.reasons)}`).join("; ") || "-";
    rows.push([
      h.rank === null ? "-" : String(h.rank),
      h.host,
      h.status,
      h.status === "error" || h.status === "source" ? "-" : `${h.compatible}/${h.total}`,
      blocks,
    ]);
  }
  const table = pad(rows);
  lines.push(st.bold(table[0]!));
  for (let i = 1; i < table.length; i++) {
    const h = r.hosts[i - 1]!;
    const color =
      h.status === "full"
        ? st.green
        : h.status === "error"
          ? st.red
          : h.status === "partial"
            ? st.yellow
            : plain;
    lines.push(color(table[i]!));
  }
  lines.push("");
  lines.push(r.best ? `Best: ${st.green(r.best)}` : st.red("No host can take every assigned device."));
  const warn = r.warnings;
  if (warn.length) {
    lines.push("Warnings:");
    lines.push(...reasonLines(warn, "  "));
  }
  if (explain) {
    for (const h of r.hosts) {
      lines.push("");
      lines.push(
        st.bold(
          `${h.host}${h.hostname && h.hostname !== h.host ? ` (${h.hostname})` : ""}: ${h.status}${h.rank ? `, rank ${h.rank}` : ""}`,
        ),
      );
      if (h.error) lines.push(...reasonLines([h.error], "  "));
      for (const a of h.assignments) {
        const t = a.target;
        const what = targetKind(t).targetLine(t);
        lines.push(
          `  ${a.device} -> ${what}${a.descriptorOrigin ? st.dim(` [descriptor: ${a.descriptorOrigin}]`) : ""}`,
        );
      }
      for (const u of h.unassigned) {
        lines.push(`  ${u.device} x`);
        lines.push(...reasonLines(u.reasons, "      "));
      }
      if (h.warnings.length) lines.push(...reasonLines(h.warnings, "  warning "));
      for (const g of h.gates ?? []) lines.push(st.dim(`  gate: ${g}`));
      const steps = h.status === "full" || h.status === "partial" ? mdevCreationSteps(h) : [];
      if (steps.length) {
        lines.push("  mdevs to create first (or run hdplan prepare):");
        for (const step of steps) lines.push(...mdevStepLines(step, "    "));
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

/** check's one-word verdict: PASS (every device, no warnings), WARN (every device, check the warnings), FAIL. */
export type CheckVerdict = "PASS" | "WARN" | "FAIL";

export function checkVerdict(r: PlanResult): CheckVerdict {
  const h = r.hosts[0];
  if (h?.status !== "full") return "FAIL";
  const warned =
    r.warnings.length > 0 || h.warnings.length > 0 || r.devices.some((d) => d.warnings.length > 0);
  return warned ? "WARN" : "PASS";
}

function firstReason(rs: Reason[]): string {
  const r = rs[0];
  if (!r) return "";
  const more = rs.length > 1 ? `; +${rs.length - 1} more` : "";
  return `${r.code}: ${r.message}${more}`;
}

/**
 * `hdplan check` in virt-host-validate's style: one "hdplan: Checking …"
 * line per assigned device and per warning, ending PASS, WARN (…) or FAIL
 * (…), then the one-word verdict.
 */
export function checkToLines(r: PlanResult, explain: boolean, st: Style = NO_STYLE): string {
  const h = r.hosts[0]!;
  const lines: string[] = [];
  const mark = (v: CheckVerdict, why = "") =>
    (v === "PASS" ? st.green : v === "WARN" ? st.yellow : st.red)(v) + (why ? ` (${why})` : "");
  const line = (what: string, v: CheckVerdict, why = "") =>
    lines.push(`hdplan: Checking ${what} ... ${mark(v, why)}`);
  if (h.status === "error" && h.error) {
    line(`host ${h.host} can be read`, "FAIL", `${h.error.code}: ${h.error.message}`);
  } else {
    const unassigned = new Map(h.unassigned.map((u) => [u.device, u.reasons]));
    for (const d of r.devices) {
      const what = `${d.id} ${d.summary} on ${h.host}`;
      const rs = unassigned.get(d.id);
      if (rs) {
        line(what, "FAIL", firstReason(rs));
        if (explain) lines.push(...reasonLines(rs, "    "));
      } else if (d.warnings.length) line(what, "WARN", firstReason(d.warnings));
      else line(what, "PASS");
    }
    for (const w of h.warnings) line(`host ${h.host}`, "WARN", `${w.code}: ${w.message}`);
  }
  for (const w of r.warnings) line(`migration of ${r.domain.name}`, "WARN", `${w.code}: ${w.message}`);
  lines.push(mark(checkVerdict(r)));
  return `${lines.join("\n")}\n`;
}
