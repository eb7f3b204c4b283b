/** `hdplan plan` and `hdplan check` (cli.md). */
import { ReportCache, planKey } from "../cache/reports.js";
import { LIVE_DEFAULTS } from "../targets/live-defaults.js";
import { EXIT, InputError } from "../errors.js";
import { planToJson } from "../output/json.js";
import { ANSI_STYLE, NO_STYLE, checkToLines, checkVerdict, planToTable } from "../output/table.js";
import {
  evaluateOnWorkers,
  fingerprintOnWorkers,
  fingerprintWorkersAvailable,
  workerCount,
} from "../parallel/pool.js";
import { type Evaluated, type PlanSetupInput, setupPlanner, workerInput } from "../parallel/setup.js";
import type { RawHost } from "../model.js";
import type { PlanResult } from "../pipeline.js";
import { reason } from "../reasons.js";
import { readDomain } from "../xml/domain.js";
import { parseTargetSpec } from "../targets/keys.js";
import { isQemu } from "../candidates/versions.js";
import type { QemuAnswer } from "../candidates/qemu.js";
import {
  type CommonOptions,
  type Io,
  assertDomainOnSource,
  assertUniqueKnownKeys,
  assertUniqueReadKeys,
  exitForPlan,
  formatOpt,
  hostFailureLine,
  hostSpecs,
  loadDomainText,
  numberOpt,
  readHostsSplit,
  sourceReader,
} from "./common.js";

export interface PlanOptions extends CommonOptions {
  domain?: string;
  writeDestXml?: string;
  /** plan --ask-qemu (with --connect-rw): QMP query-migrate on the running source VM. */
  askQemu?: boolean;
  connectRw?: boolean;
}

/**
 * --ask-qemu's preconditions, checked before any host is read (exit 2): a
 * read-write connection the operator allowed, to a live --source.
 */
export function checkAskQemu(opts: PlanOptions): void {
  if (opts.connectRw && !opts.askQemu)
    throw new InputError("--connect-rw is only used by plan --ask-qemu; plan reads hosts read-only");
  if (!opts.askQemu) return;
  if (!opts.connectRw)
    throw new InputError(
      "--ask-qemu needs --connect-rw: virDomainQemuMonitorCommand needs a read-write libvirt connection, and libvirt marks the domain tainted 'custom-monitor'",
    );
  if (!opts.source || parseTargetSpec(opts.source, "--source").kind !== "uri")
    throw new InputError(
      `--ask-qemu needs a live libvirt --source URI where the VM runs (got ${opts.source ? `'${opts.source}', a file` : "no --source"})`,
    );
}

/**
 * stdout of plan/check: JSON; the ranked table (plan) or virt-host-validate
 * style lines (check); with --quiet only the answer: the best host key (plan,
 * empty line when none) or the verdict word (check).
 */
function renderPlan(
  result: PlanResult,
  mode: "plan" | "check",
  format: "table" | "json",
  opts: PlanOptions,
  io: Io,
): string {
  if (format === "json") return planToJson(result);
  const style = io.color ? ANSI_STYLE : NO_STYLE;
  if (opts.quiet) return `${mode === "check" ? checkVerdict(result) : (result.best ?? "")}\n`;
  return mode === "check"
    ? checkToLines(result, !!opts.explain, style)
    : planToTable(result, !!opts.explain, style);
}

export interface PlanRun {
  result: PlanResult;
  exitCode: number;
}

export async function runPlan(opts: PlanOptions, io: Io, mode: "plan" | "check"): Promise<number> {
  const html = opts.format === "html";
  const format = formatOpt(html ? "table" : opts.format);
  if (mode === "check" && hostSpecs(opts).length !== 1) {
    throw new InputError("check takes exactly one --host (use plan to rank several)");
  }
  checkAskQemu(opts);
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const getSource = sourceReader(opts.source, timeoutMs, opts.cache !== false);
  const dt = await loadDomainText(opts.domain, opts.source, io, timeoutMs, getSource);
  const domain = readDomain(dt.text, dt.file);
  const sourceRaw = await getSource();
  if (sourceRaw) assertDomainOnSource(domain, sourceRaw);
  let qemu: QemuAnswer | undefined;
  if (opts.askQemu) {
    const { askQemuMigrate } = await import("../targets/live.js");
    const v = sourceRaw?.versions;
    const qemuVersion = v && isQemu(v) ? (v.hypervisorVersion ?? null) : null;
    qemu = await askQemuMigrate(
      parseTargetSpec(opts.source!, "--source").target,
      domain.name,
      qemuVersion,
      timeoutMs,
    );
  }
  const result = await planStreaming(opts, io, dt, timeoutMs, sourceRaw, qemu);
  if (opts.writeDestXml) {
    const { writeDestinationXml } = await import("./destxml.js");
    const lines = writeDestinationXml(opts.writeDestXml, result, domain, dt);
    if (format === "table" && !opts.quiet) io.stderr(lines.join("\n") + (lines.length ? "\n" : ""));
  }
  io.stdout(
    html
      ? (await import("../output/html.js")).planToHtml(result)
      : renderPlan(result, mode, format, opts, io),
  );
  const code =
    mode === "check"
      ? result.hosts[0]!.status === "full"
        ? EXIT.OK
        : result.hosts[0]!.status === "error"
          ? EXIT.HOSTS
          : EXIT.NO
      : exitForPlan(result.best, result.hosts);
  const failed = result.hosts.flatMap((h) =>
    h.status === "error" ? [{ key: h.host, message: h.error?.message ?? h.target }] : [],
  );
  io.stderr(hostFailureLine(code, failed, result.hosts.length));
  return code;
}

/**
 * Read --source, then stream the candidate hosts: each is evaluated as soon as
 * it is read and only its report is kept, so memory stays flat on big fleets.
 * Many file targets are spread over worker threads; live targets stay here.
 */
async function planStreaming(
  opts: PlanOptions,
  io: Io,
  dt: { text: string; file: string },
  timeoutMs: number,
  sourceRaw: RawHost | null,
  qemu?: QemuAnswer,
): Promise<PlanResult> {
  const specs = hostSpecs(opts);
  if (specs.length === 0) throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", LIVE_DEFAULTS.hosts, 1));
  assertUniqueKnownKeys(specs);
  const input: PlanSetupInput = {
    domainText: dt.text,
    domainFile: dt.file,
    sourceRaw,
    ...(opts.descriptors ? { descriptorsDir: opts.descriptors } : {}),
    assumeVersions: !!opts.assumeVersions,
    explain: !!opts.explain,
    ...(qemu ? { qemu } : {}),
    cache: opts.cache !== false,
  };
  const { planner, source, consume, descriptorKey } = setupPlanner(input);
  const reports = ReportCache.open(planKey(input, descriptorKey));
  const results = await readHostsSplit<Evaluated>(
    specs,
    io,
    {
      timeoutMs,
      concurrency,
      consume,
      quiet: !!opts.quiet,
      cache: input.cache,
      lookup: reports
        ? (s) => {
            const n = fingerprintWorkersAvailable() ? workerCount(s.length) : 0;
            return reports.lookupAll(s, (t, k) => fingerprintOnWorkers(t, k), n);
          }
        : undefined,
    },
    (files, n, onProgress) =>
      evaluateOnWorkers(files, n, workerInput(input, source), timeoutMs, planner, consume, onProgress),
  );
  // Before ranking: finish sets each report's rank.
  reports?.save(specs, results);
  // A host answered from the record still counts for descriptor-file usage.
  for (const r of results) if (r.ok && r.host.cached && r.host.usage) planner.absorbUsage(r.host.usage);
  assertUniqueReadKeys(
    results.map((r) => (r.ok ? { key: r.host.key, target: r.host.target } : r)),
    source,
  );
  return planner.finish(
    results.map((r) =>
      r.ok
        ? r.host.report
        : planner.error({ key: r.key, target: r.target, error: reason(r.error.code, r.error.message) }),
    ),
  );
}
