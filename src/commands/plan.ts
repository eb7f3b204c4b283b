/** `hdplan plan` and `hdplan check` (cli.md). */
import { EXIT, InputError } from "../errors.js";
import { planToJson } from "../output/json.js";
import { ANSI_STYLE, NO_STYLE, planToTable } from "../output/table.js";
import { type PlanResult, planDomain } from "../pipeline.js";
import { readDomain } from "../xml/domain.js";
import {
  type CommonOptions,
  type Io,
  exitForPlan,
  formatOpt,
  hostSpecs,
  loadDomainText,
  loadHosts,
  numberOpt,
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
  const loaded = await loadHosts(opts, io);
  const result = planDomain(
    {
      domain,
      source: loaded.source,
      selector: loaded.selector,
      opts: { assumeVersions: !!opts.assumeVersions, explain: !!opts.explain },
    },
    loaded.hosts,
  );
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
