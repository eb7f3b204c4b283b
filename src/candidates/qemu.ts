/**
 * `plan --ask-qemu`: QEMU's own answer to "can this VM migrate now?", read from
 * the running source VM with QMP `query-migrate`, turned into hdplan reasons.
 *
 * QEMU: qapi/migration.json `MigrationInfo` `'*blocked-reasons': ['str']`:
 * "A list of reasons an outgoing migration is blocked. Present and non-empty
 * when migration is blocked. (since 6.0)"; migration/migration.c
 * fill_source_migration_info fills it from the migration blockers
 * (migrate_add_blocker) and the non-migratable VMState devices. The member
 * `'blocked': 'bool'` of 6.0 was deprecated in 6.0 (Markus Armbruster,
 * "migration: Deprecate redundant query-migrate result @blocked") and is gone:
 * QEMU 10.0 here answers `{"return":{}}` for a VM that can migrate. An answer
 * without blocked-reasons therefore means "not blocked" only on QEMU >= 6.0;
 * older QEMU cannot say, and hdplan refuses to guess.
 * libvirt asks exactly this before a
 * migration: src/qemu/qemu_migration.c qemuMigrationSrcIsAllowed ->
 * qemuDomainGetMigrationBlockers (when QEMU has QEMU_CAPS_MIGRATION_BLOCKED_REASONS)
 * fails with "cannot migrate domain: <reasons joined by '; '>".
 *
 * Rules (docs/qemu-rules.md "Asking QEMU"):
 * - every reason QEMU gives is a `qemu-blocked` blocker on every source device
 *   (and on the VM itself when it has no assigned device): QEMU wins over
 *   hdplan's table where the table said migratable;
 * - QEMU reports nothing where hdplan blocked: hdplan's blockers stay
 *   (fail-closed: QEMU only knows the source, not the destination, and some
 *   of hdplan's rules are about evidence QEMU never sees); `--explain` shows both;
 * - `blocked: true` without reasons is still a blocker (fail-closed).
 */
import { HostError } from "../errors.js";
import { type Reason, reason } from "../reasons.js";
import type { SourceDevice } from "./types.js";

/** The QMP command sent (one line, as virDomainQemuMonitorCommand takes it). */
export const QUERY_MIGRATE = '{"execute":"query-migrate"}';

/** What QEMU answered, as it travels from the CLI to the planner (also to worker threads). */
export interface QemuAnswer {
  /** The --source URI and the domain asked. */
  uri: string;
  domain: string;
  blocked: boolean;
  /** QEMU's words, verbatim (blocked-reasons). */
  reasons: string[];
}

/** QEMU version "x.y[.z]" at least 6.0 (blocked-reasons exists); null when unknown. */
export function reportsBlockedReasons(qemuVersion: string | null): boolean | null {
  const m = /^(\d+)\.(\d+)/.exec(qemuVersion ?? "");
  return m ? Number(m[1]) >= 6 : null;
}

/**
 * Parse QEMU's reply to query-migrate. A QMP error, a non-JSON reply, or a
 * QEMU too old (or of unknown version) to report blocked-reasons is a
 * HostError: hdplan cannot say what QEMU thinks, and --ask-qemu was asked for.
 */
export function parseQueryMigrate(
  text: string,
  uri: string,
  domain: string,
  qemuVersion: string | null,
): QemuAnswer {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new HostError("libvirt-error", `${uri}: QEMU's answer to query-migrate for ${domain} is not JSON`);
  }
  const o = doc as { return?: unknown; error?: { class?: unknown; desc?: unknown } };
  if (o && typeof o === "object" && o.error) {
    throw new HostError(
      "libvirt-error",
      `${uri}: QEMU refused query-migrate for ${domain}: ${String(o.error.desc ?? o.error.class ?? "error")}`,
    );
  }
  const ret = o && typeof o === "object" ? (o.return as Record<string, unknown> | undefined) : undefined;
  if (!ret || typeof ret !== "object") {
    throw new HostError(
      "libvirt-error",
      `${uri}: QEMU's answer to query-migrate for ${domain} has no "return"`,
    );
  }
  const raw = ret["blocked-reasons"];
  const reasons = Array.isArray(raw) ? raw.map((r) => String(r)) : [];
  // Deprecated 6.0-era member: honoured when it says blocked (fail-closed).
  const blocked = reasons.length > 0 || ret.blocked === true;
  if (!blocked && reportsBlockedReasons(qemuVersion) !== true) {
    throw new HostError(
      "libvirt-error",
      `${uri}: QEMU ${qemuVersion ?? "of unknown version"} on the source: query-migrate reports blocked-reasons only since QEMU 6.0, so its silence for ${domain} is no evidence: --ask-qemu cannot be used there`,
    );
  }
  return { uri, domain, blocked, reasons };
}

/** QEMU's reasons as `qemu-blocked` reasons (one per reason; one generic when blocked without a reason). */
export function qemuReasons(a: QemuAnswer): Reason[] {
  if (!a.blocked && a.reasons.length === 0) return [];
  if (a.reasons.length === 0) {
    return [
      reason(
        "qemu-blocked",
        `QEMU (${a.uri}) reports migration of ${a.domain} blocked but gives no reason (query-migrate "blocked": true, no "blocked-reasons")`,
        { qemu: null },
      ),
    ];
  }
  return a.reasons.map((w) =>
    reason(
      "qemu-blocked",
      `QEMU (${a.uri}) blocks migration of ${a.domain}: "${w}" (query-migrate blocked-reasons)`,
      {
        qemu: w,
      },
    ),
  );
}

/**
 * Apply QEMU's answer to the source devices (mutated: blockers, qemuNote).
 * Returns the VM-level blockers: QEMU's reasons when the VM has no source
 * device to carry them (the planner then blocks every host with them).
 */
export function applyQemuAnswer(sources: SourceDevice[], a: QemuAnswer): Reason[] {
  const qr = qemuReasons(a);
  const words = qr
    .map((r) => (r.qemu === null ? "blocked, no reason given" : `"${String(r.qemu)}"`))
    .join("; ");
  for (const s of sources) {
    const own = s.blockers.map((b) => b.code);
    if (qr.length > 0) {
      s.qemuNote =
        own.length > 0
          ? `hdplan blocks (${own.join(", ")}) and QEMU blocks too: ${words}`
          : `hdplan found no blocker; QEMU blocks: ${words}, and QEMU decides`;
      for (const r of qr) if (!s.blockers.some((b) => b.message === r.message)) s.blockers.push(r);
    } else {
      s.qemuNote =
        own.length > 0
          ? `QEMU reports no migration blocker, hdplan keeps its own (${own.join(", ")}): fail-closed, QEMU checks only the source`
          : "QEMU reports no migration blocker, and hdplan found none";
    }
  }
  return sources.length === 0 ? qr : [];
}
