/** `hdplan evacuate` (cli.md). */
import { EXIT, InputError } from "../errors.js";
import type { HostInventory } from "../inventory/types.js";
import { evacuate } from "../matching/evacuate.js";
import type { DomainInfo } from "../model.js";
import { pad, reasonLines } from "../output/table.js";
import { type CommonOptions, type Io, formatOpt, hostFailureLine, loadHosts } from "./common.js";

export interface EvacuateOptions extends CommonOptions {
  includeInactive?: boolean;
}

/** The domains to move: running ones with assigned devices (or every defined one). */
export function domainsToMove(source: HostInventory, includeInactive: boolean): DomainInfo[] {
  const byUuid = new Map<string, { info: DomainInfo; active: boolean }>();
  for (const d of source.domains) {
    const prev = byUuid.get(d.info.uuid);
    if (!prev || (d.active && !prev.active))
      byUuid.set(d.info.uuid, { info: d.info, active: d.active || !!prev?.active });
  }
  return [...byUuid.values()]
    .filter((d) => (includeInactive || d.active) && d.info.devices.length > 0)
    .map((d) => d.info)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * capacityLeft with hosts and resources in key order: the matcher fills it in
 * the order hosts were given, and the JSON must not depend on that order.
 */
function sortedCapacity<T>(c: Record<string, Record<string, T>>): Record<string, Record<string, T>> {
  const out: Record<string, Record<string, T>> = {};
  for (const host of Object.keys(c).sort()) {
    const inner: Record<string, T> = {};
    const per = c[host]!;
    for (const k of Object.keys(per).sort()) inner[k] = per[k]!;
    out[host] = inner;
  }
  return out;
}

export async function runEvacuate(opts: EvacuateOptions, io: Io): Promise<number> {
  const format = formatOpt(opts.format);
  if (!opts.source) throw new InputError("evacuate needs --source TARGET (the host to drain)");
  const loaded = await loadHosts(opts, io);
  const source = loaded.source!;
  const good = loaded.hosts.flatMap((h) => (h.ok && h.inv.key !== source.key ? [h.inv] : []));
  const failed = loaded.hosts.filter((h) => !h.ok);
  const domains = domainsToMove(source, !!opts.includeInactive);
  const res = evacuate(domains, source, good, loaded.selector, {
    assumeVersions: !!opts.assumeVersions,
    explain: !!opts.explain,
  });
  const hostErrors = failed.map((h) => (h.ok ? null : { host: h.key, target: h.target, error: h.error }));
  if (format === "json") {
    io.stdout(
      `${JSON.stringify(
        {
          schemaVersion: 1,
          source: { host: source.key },
          placements: res.placements.map((p) => ({
            domain: p.domain,
            uuid: p.uuid,
            host: p.host,
            assignments: p.assignments,
            reasons: p.reasons,
            warnings: p.warnings,
          })),
          unplaced: res.unplaced,
          capacityLeft: sortedCapacity(res.capacityLeft),
          hostErrors,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines = [`Evacuate ${source.key}: ${domains.length} domain(s) with assigned devices`, ""];
    const rows = [["DOMAIN", "DEVICES", "FEASIBLE", "HOST", "NOTE"]];
    for (const p of res.placements) {
      rows.push([
        p.domain,
        String(p.devices),
        String(p.feasibleHosts),
        p.host ?? "-",
        p.host ? "" : (p.reasons[0]?.message ?? ""),
      ]);
    }
    lines.push(...pad(rows));
    for (const p of res.placements) {
      if (!p.host && opts.explain) {
        lines.push("", `${p.domain}:`, ...reasonLines(p.reasons, "  "));
      }
    }
    for (const h of hostErrors) if (h) lines.push(`host ${h.host}: ${h.error.code}: ${h.error.message}`);
    lines.push("", res.unplaced === 0 ? "Every domain placed." : `${res.unplaced} domain(s) unplaced.`);
    io.stdout(`${lines.join("\n")}\n`);
  }
  const code =
    res.unplaced === 0
      ? EXIT.OK
      : good.length === 0 && failed.length > 0
        ? EXIT.HOSTS
        : failed.length > 0
          ? EXIT.INCOMPLETE
          : EXIT.NO;
  io.stderr(
    hostFailureLine(
      code,
      failed.flatMap((h) => (h.ok ? [] : [{ key: h.key, message: h.error.message }])),
      loaded.hosts.length,
    ),
  );
  return code;
}
