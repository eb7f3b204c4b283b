/** Shared plumbing of plan / check / evacuate: read targets, build inventories, load descriptors. */
import { existsSync, readFileSync } from "node:fs";
import { DescriptorSelector, descriptorFilesFromTexts, loadDescriptorDir } from "../descriptors/sources.js";
import { EXIT, HostError, InputError } from "../errors.js";
import { buildInventory } from "../inventory/build.js";
import type { HostInventory } from "../inventory/types.js";
import type { HostInput } from "../pipeline.js";
import { type Reason, reason } from "../reasons.js";
import { readTextFile } from "../targets/dump.js";
import { type HostResult, readTargets } from "../targets/index.js";
import { type TargetSpec, assertUniqueKeys, parseTargetSpec, readHostsFileText } from "../targets/keys.js";

export interface CommonOptions {
  host?: string[];
  hostsFile?: string;
  source?: string;
  descriptors?: string;
  assumeVersions?: boolean;
  explain?: boolean;
  format?: string;
  concurrency?: string | number;
  timeout?: string | number;
}

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: () => string;
  isTTY: boolean;
  color: boolean;
}

export function numberOpt(v: string | number | undefined, name: string, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InputError(`--${name} must be a number >= ${min} (got ${v})`);
  return n;
}

export function formatOpt(v: string | undefined): "table" | "json" {
  if (v === undefined || v === "table") return "table";
  if (v === "json") return "json";
  throw new InputError(`--format must be table or json (got ${v})`);
}

export function hostSpecs(opts: CommonOptions): TargetSpec[] {
  const specs = (opts.host ?? []).map((h) => parseTargetSpec(h, "--host"));
  if (opts.hostsFile) specs.push(...readHostsFileText(readTextFile(opts.hostsFile), opts.hostsFile));
  return specs;
}

function hostErrorReason(e: HostError): Reason {
  return reason(e.code, e.message);
}

export function progress(io: Io, total: number): ((done: number, total: number) => void) | undefined {
  if (!io.isTTY || total <= 3) return undefined;
  return (done, n) => {
    const w = 30;
    const f = Math.round((done / n) * w);
    io.stderr(`\r[${"#".repeat(f)}${" ".repeat(w - f)}] ${done}/${n} hosts${done === n ? "\n" : ""}`);
  };
}

export interface LoadedHosts {
  source: HostInventory | null;
  sourceSpec: TargetSpec | null;
  hosts: HostInput[];
  selector: DescriptorSelector;
}

/** Read --source and every --host; InputError (exit 2) or HostError for --source (exit 3) propagate. */
export async function loadHosts(opts: CommonOptions, io: Io, requireHosts = true): Promise<LoadedHosts> {
  const specs = hostSpecs(opts);
  if (requireHosts && specs.length === 0)
    throw new InputError("no candidate hosts: pass --host TARGET or --hosts-file FILE");
  const timeoutMs = numberOpt(opts.timeout, "timeout", 30, 0.001) * 1000;
  const concurrency = Math.floor(numberOpt(opts.concurrency, "concurrency", 8, 1));
  const sourceSpec = opts.source ? parseTargetSpec(opts.source, "--source") : null;
  const all = sourceSpec ? [sourceSpec, ...specs] : specs;
  const results = await readTargets(all, { timeoutMs, concurrency, onProgress: progress(io, all.length) });
  let source: HostInventory | null = null;
  let hostResults: HostResult[] = results;
  if (sourceSpec) {
    const sr = results[0]!;
    if (!sr.ok)
      throw new HostError(
        sr.error.code,
        `--source ${sourceSpec.target}: ${sr.error.message}`,
        sourceSpec.target,
      );
    source = buildInventory(sr.host);
    hostResults = results.slice(1);
  }
  const keyed = hostResults.map((r) =>
    r.ok ? { key: r.host.key, target: r.host.target } : { key: r.key, target: r.target },
  );
  assertUniqueKeys(keyed);
  if (source) {
    const clash = keyed.find((k) => k.key === source!.key && k.target !== source!.target);
    if (clash)
      throw new InputError(
        `duplicate host key "${source.key}" for --source ${source.target} and ${clash.target}`,
      );
  }
  const hosts: HostInput[] = hostResults.map((r) =>
    r.ok
      ? { ok: true, inv: r.host.key === source?.key ? source : buildInventory(r.host) }
      : { ok: false, key: r.key, target: r.target, error: hostErrorReason(r.error) },
  );
  const files = opts.descriptors ? loadDescriptorDir(opts.descriptors) : [];
  for (const h of [...hosts.flatMap((x) => (x.ok ? [x.inv] : [])), ...(source ? [source] : [])]) {
    if (h.descriptorFiles.length) files.push(...descriptorFilesFromTexts(h.descriptorFiles, h.key));
  }
  const uniq = new Map(files.map((f) => [`${f.hostKey ?? ""}|${f.path}`, f]));
  return { source, sourceSpec, hosts, selector: new DescriptorSelector([...uniq.values()]) };
}

export interface DomainText {
  text: string;
  file: string;
  /** Migratable XML and inactive definition when looked up live. */
  migratableXml?: string;
  inactiveXml?: string | null;
}

export async function loadDomainText(
  domain: string | undefined,
  source: string | undefined,
  io: Io,
  timeoutMs: number,
): Promise<DomainText> {
  if (!domain) throw new InputError("missing --domain FILE|-|NAME");
  if (domain === "-") return { text: io.stdin(), file: "<stdin>" };
  if (existsSync(domain)) return { text: readTextFile(domain), file: domain };
  if (source?.includes("://")) {
    const spec = parseTargetSpec(source, "--source");
    const live = await import("../targets/live.js");
    const d = await live.lookupLiveDomain(spec.target, domain, { timeoutMs });
    return {
      text: d.liveXml,
      file: `${domain} on ${spec.target}`,
      migratableXml: d.migratableXml ?? undefined,
      inactiveXml: d.inactiveXml,
    };
  }
  throw new InputError(
    `${domain}: no such domain XML file (a domain name is looked up only on a live --source URI)`,
    domain,
  );
}

export function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch {
    return "";
  }
}

export function exitForPlan(best: string | null, hosts: { status: string }[]): number {
  if (best) return EXIT.OK;
  const errors = hosts.filter((h) => h.status === "error").length;
  if (hosts.length > 0 && errors === hosts.length) return EXIT.HOSTS;
  if (errors > 0) return EXIT.INCOMPLETE;
  return EXIT.NO;
}
