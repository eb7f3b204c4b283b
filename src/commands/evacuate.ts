/** `hdplan evacuate` (cli.md). */
import { DescriptorSelector, descriptorFilesFromTexts, loadDescriptorDir } from "../descriptors/sources.js";
import { EXIT, HostError, InputError } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import type { HostInventory } from "../inventory/types.js";
import { Evacuation, placeAll } from "../matching/evacuate.js";
import { reason } from "../reasons.js";
import { readTargets } from "../targets/index.js";
import { parseTargetSpec } from "../targets/keys.js";
import type { DomainInfo } from "../model.js";
import { pad, reasonLines } from "../output/table.js";
import {
  type CommonOptions,
  type Io,
  assertUniqueKnownKeys,
  assertUniqueReadKeys,
  formatOpt,
  hostFailureLine,
  hostSpecs,
  numberOpt,
  progress,
} from "./common.js";

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
  const specs = hostSpecs(opts);
  if (specs.length === 0) throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  assertUniqueKnownKeys(specs);
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", 8, 1));
  const sourceSpec = parseTargetSpec(opts.source, "--source");
  const [sr] = await readTargets([sourceSpec], { timeoutMs, concurrency: 1 });
  if (!sr!.ok) {
    throw new HostError(
      sr!.error.code,
      `--source ${sourceSpec.target}: ${sr!.error.message}`,
      sourceSpec.target,
    );
  }
  const source = buildInventory(sr!.host);
  const globalFiles = opts.descriptors ? loadDescriptorDir(opts.descriptors) : [];
  const baseSel = new DescriptorSelector([
    ...globalFiles,
    ...descriptorFilesFromTexts(source.descriptorFiles, source.key),
  ]);
  const domains = domainsToMove(source, !!opts.includeInactive);
  const evac = new Evacuation(domains, source, baseSel, {
    assumeVersions: !!opts.assumeVersions,
    explain: !!opts.explain,
  });
  // Hosts stream in: each one's candidates for every VM are built as it is
  // read, then its parsed devices are dropped (memory flat on big fleets).
  const results = await readTargets<{ key: string; target: string }>(specs, {
    timeoutMs,
    concurrency,
    ...(progress(io, specs.length) ? { onProgress: progress(io, specs.length)! } : {}),
    consume: (raw) => {
      if (raw.key === source.key && raw.target === source.target) return { key: raw.key, target: raw.target };
      const inv = buildInventory(raw);
      const hostFiles = descriptorFilesFromTexts(inv.descriptorFiles, inv.key);
      evac.addHost(inv, hostFiles.length ? new DescriptorSelector([...globalFiles, ...hostFiles]) : baseSel);
      return { key: inv.key, target: inv.target };
    },
  });
  assertUniqueReadKeys(
    results.map((r) => (r.ok ? r.host : r)),
    source,
  );
  const failed = results.flatMap((r) => (r.ok ? [] : [r]));
  const good = results.filter((r) => r.ok && r.host.key !== source.key);
  const res = await placeAll([evac], evac.vmInfo());
  const hostErrors = failed.map((h) => ({
    host: h.key,
    target: h.target,
    error: reason(h.error.code, h.error.message),
  }));
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
      failed.map((h) => ({ key: h.key, message: h.error.message })),
      results.length,
    ),
  );
  return code;
}
