/** `hdplan plan` and `hdplan check` (cli.md). */
import { EXIT, InputError } from "../errors.js";
import { planToJson } from "../output/json.js";
import { ANSI_STYLE, NO_STYLE, planToTable } from "../output/table.js";
import { DescriptorSelector, descriptorFilesFromTexts, loadDescriptorDir } from "../descriptors/sources.js";
import { HostError } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import type { HostInventory } from "../inventory/types.js";
import { type HostReport, type PlanResult, createPlanner } from "../pipeline.js";
import { reason } from "../reasons.js";
import { preKey, readTargets } from "../targets/index.js";
import { type TargetSpec, assertUniqueKeys, parseTargetSpec } from "../targets/keys.js";
import { readDomain } from "../xml/domain.js";
import {
  type CommonOptions,
  type Io,
  exitForPlan,
  formatOpt,
  hostSpecs,
  loadDomainText,
  numberOpt,
  progress,
} from "./common.js";

export interface PlanOptions extends CommonOptions {
  domain?: string;
  writeDestXml?: string;
}

export interface PlanRun {
  result: PlanResult;
  exitCode: number;
}

export async function runPlan(opts: PlanOptions, io: Io, mode: "plan" | "check"): Promise<number> {
  const format = formatOpt(opts.format);
  if (mode === "check" && hostSpecs(opts).length !== 1) {
    throw new InputError("check takes exactly one --host (use plan to rank several)");
  }
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const dt = await loadDomainText(opts.domain, opts.source, io, timeoutMs);
  const domain = readDomain(dt.text, dt.file);
  const result = await planStreaming(opts, io, domain, timeoutMs);
  if (opts.writeDestXml) {
    const { writeDestinationXml } = await import("./destxml.js");
    const lines = writeDestinationXml(opts.writeDestXml, result, domain, dt);
    if (format === "table") io.stderr(lines.join("\n") + (lines.length ? "\n" : ""));
  }
  io.stdout(
    format === "json"
      ? planToJson(result)
      : planToTable(result, !!opts.explain, io.color ? ANSI_STYLE : NO_STYLE),
  );
  if (mode === "check") {
    const h = result.hosts[0]!;
    return h.status === "full" ? EXIT.OK : h.status === "error" ? EXIT.HOSTS : EXIT.NO;
  }
  return exitForPlan(result.best, result.hosts);
}

function knownKey(spec: TargetSpec): string | null {
  try {
    return preKey(spec);
  } catch {
    return null; // an invalid key is reported when the target is read
  }
}

/**
 * Read --source, then stream the candidate hosts: each is evaluated as soon as
 * it is read and only its report is kept, so memory stays flat on big fleets.
 */
async function planStreaming(
  opts: PlanOptions,
  io: Io,
  domain: ReturnType<typeof readDomain>,
  timeoutMs: number,
): Promise<PlanResult> {
  const specs = hostSpecs(opts);
  if (specs.length === 0) throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", 8, 1));
  assertUniqueKeys(
    specs.flatMap((s) => {
      const k = knownKey(s);
      return k === null ? [] : [{ key: k, target: s.target }];
    }),
  );
  let source: HostInventory | null = null;
  if (opts.source) {
    const spec = parseTargetSpec(opts.source, "--source");
    const [sr] = await readTargets([spec], { timeoutMs, concurrency: 1 });
    if (!sr!.ok)
      throw new HostError(sr!.error.code, `--source ${spec.target}: ${sr!.error.message}`, spec.target);
    source = buildInventory(sr!.host);
  }
  const globalFiles = opts.descriptors ? loadDescriptorDir(opts.descriptors) : [];
  const baseSel = new DescriptorSelector([
    ...globalFiles,
    ...(source ? descriptorFilesFromTexts(source.descriptorFiles, source.key) : []),
  ]);
  const planner = createPlanner({
    domain,
    source,
    selector: baseSel,
    opts: { assumeVersions: !!opts.assumeVersions, explain: !!opts.explain },
  });
  const results = await readTargets<{ key: string; target: string; report: HostReport }>(specs, {
    timeoutMs,
    concurrency,
    onProgress: progress(io, specs.length),
    consume: (raw) => {
      const inv =
        source && raw.key === source.key && raw.target === source.target ? source : buildInventory(raw);
      const hostFiles = descriptorFilesFromTexts(inv.descriptorFiles, inv.key);
      const sel = hostFiles.length ? new DescriptorSelector([...globalFiles, ...hostFiles]) : baseSel;
      return { key: inv.key, target: inv.target, report: planner.evaluate(inv, sel) };
    },
  });
  const keyed = results.map((r) => (r.ok ? { key: r.host.key, target: r.host.target } : r));
  assertUniqueKeys(keyed);
  if (source) {
    const clash = keyed.find((k) => k.key === source!.key && k.target !== source!.target);
    if (clash)
      throw new InputError(
        `duplicate host key "${source.key}" for --source ${source.target} and ${clash.target}`,
      );
  }
  return planner.finish(
    results.map((r) =>
      r.ok
        ? r.host.report
        : planner.error({ key: r.key, target: r.target, error: reason(r.error.code, r.error.message) }),
    ),
  );
}
