/** Planner set-up shared by the main thread and the worker threads (evacuate: setup-evac.ts). */
import {
  type DescriptorFile,
  DescriptorSelector,
  descriptorFilesFromTexts,
  loadDescriptorDir,
} from "../descriptors/sources.js";
import { decodeInventory, encodeInventory } from "../cache/codec.js";
import { trustedFingerprint } from "../cache/inventory.js";
import { buildInventory } from "../inventory/build.js";
import type { HostInventory } from "../inventory/types.js";
import type { RawHost } from "../model.js";
import {
  type DescriptorUsage,
  type HostReport,
  type Planner,
  createPlanner,
  hostUsage,
  selectorUsage,
} from "../pipeline.js";
import { readDomain } from "../xml/domain.js";
import type { QemuAnswer } from "../candidates/qemu.js";

export interface PlanSetupInput {
  domainText: string;
  domainFile: string;
  sourceRaw: RawHost | null;
  descriptorsDir?: string;
  assumeVersions: boolean;
  explain: boolean;
  /** `plan --ask-qemu`: QEMU's answer for the domain on the source. */
  qemu?: QemuAnswer;
  /** Read file targets through the inventory cache (workers too). */
  cache?: boolean;
  /** For a worker: the main thread's source inventory, as the cache encodes it (sourceInventoryOf). */
  sourceInventory?: string;
}

/**
 * The source's inventory in a set-up: decoded from what the main thread
 * built (a worker's init), else built from its XML. Decoding takes a few
 * milliseconds where reading the XML again took a worker 50-160 ms of
 * not yet optimised code before its first host (docs/benchmarks.md
 * "Twelfth session"). It is the inventory a cache hit gives (src/cache/
 * codec.ts: only what planning never reads is left out), which the main
 * thread itself plans with whenever the source's entry is cached.
 */
export function sourceInventoryOf(raw: RawHost, encoded?: string): HostInventory {
  return (encoded !== undefined ? decodeInventory(encoded) : null) ?? buildInventory(raw);
}

/** The set-up input for worker threads: `input` with the main thread's source inventory. */
export function workerInput<T extends { sourceInventory?: string }>(
  input: T,
  source: HostInventory | null,
): T {
  return source ? { ...input, sourceInventory: encodeInventory(source) } : input;
}

export interface Evaluated {
  key: string;
  target: string;
  report: HostReport;
  /**
   * The fingerprint hash of the inventory the report was evaluated on, when
   * the report cache may keep it (src/cache/reports.ts): the fingerprint is
   * trusted (a cache hit, or a read after a fingerprint that was not racy).
   */
  fp?: string;
  /** With fp and descriptor files: the files this host's devices selected (replayed on a cache hit). */
  usage?: DescriptorUsage[];
  /** Answered by the report cache (not evaluated in this run). */
  cached?: true;
}

export interface PlanSetup {
  planner: Planner;
  source: HostInventory | null;
  /** Every descriptor file of the shared selector (global and the source's), as data: part of the report cache's plan key. */
  descriptorKey: string;
  /** Build a host's inventory, evaluate it, and keep only its report. */
  consume: (raw: RawHost) => Evaluated;
}

export function setupPlanner(inp: PlanSetupInput): PlanSetup {
  const domain = readDomain(inp.domainText, inp.domainFile);
  const source = inp.sourceRaw ? sourceInventoryOf(inp.sourceRaw, inp.sourceInventory) : null;
  const globalFiles: DescriptorFile[] = inp.descriptorsDir ? loadDescriptorDir(inp.descriptorsDir) : [];
  const baseSel = new DescriptorSelector([
    ...globalFiles,
    ...(source ? descriptorFilesFromTexts(source.descriptorFiles, source.key) : []),
  ]);
  const planner = createPlanner({
    domain,
    source,
    selector: baseSel,
    opts: { assumeVersions: inp.assumeVersions, explain: inp.explain },
    ...(inp.qemu ? { qemu: inp.qemu } : {}),
  });
  const consume = (raw: RawHost): Evaluated => {
    const inv =
      source && raw.key === source.key && raw.target === source.target ? source : buildInventory(raw);
    const hostFiles = descriptorFilesFromTexts(inv.descriptorFiles, inv.key);
    const sel = hostFiles.length ? new DescriptorSelector([...globalFiles, ...hostFiles]) : baseSel;
    const e: Evaluated = { key: inv.key, target: inv.target, report: planner.evaluate(inv, sel) };
    const fp = trustedFingerprint(raw);
    if (fp) {
      e.fp = fp;
      // A selector of the host's own: all its files; the shared one: this host's share.
      if (sel.files.length) e.usage = sel === baseSel ? hostUsage(sel, inv.key) : selectorUsage(sel);
    }
    return e;
  };
  return { planner, source, consume, descriptorKey: JSON.stringify(baseSel.files) };
}
