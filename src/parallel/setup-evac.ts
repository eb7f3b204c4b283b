/**
 * Evacuation set-up shared by the main thread and the worker threads: a
 * module of its own, so that `plan` does not load the evacuation and
 * placement modules (src/matching/evacuate.ts, src/placement/*).
 */
import {
  type DescriptorFile,
  DescriptorSelector,
  descriptorFilesFromTexts,
  loadDescriptorDir,
} from "../descriptors/sources.js";
import { buildInventory } from "../inventory/build.js";
import { selectDomains } from "../inventory/select.js";
import type { HostInventory } from "../inventory/types.js";
import { Evacuation, domainsToMove } from "../matching/evacuate.js";
import type { DomainInfo, RawHost } from "../model.js";
import { sameHostAs } from "../targets/keys.js";
import { sourceInventoryOf } from "./setup.js";

export interface EvacSetupInput {
  sourceRaw: RawHost;
  descriptorsDir?: string;
  includeInactive: boolean;
  assumeVersions: boolean;
  explain: boolean;
  /** Read file targets through the inventory cache (workers too). */
  cache?: boolean;
  /** evacuate --domain: only these domains (name, UUID or dump file name). */
  onlyDomains?: string[];
  /** For a worker: the main thread's source inventory (src/parallel/setup.ts sourceInventoryOf). */
  sourceInventory?: string;
}

export interface EvacSetup {
  evac: Evacuation;
  source: HostInventory;
  domains: DomainInfo[];
  /** The source's descriptor selection (for the destination XML's metadata). */
  selector: DescriptorSelector;
  /** Build a host's inventory, add every VM's candidates on it, drop the rest. */
  consume: (raw: RawHost) => { key: string; target: string; isSource?: boolean };
}

export function setupEvacuation(inp: EvacSetupInput): EvacSetup {
  const source = sourceInventoryOf(inp.sourceRaw, inp.sourceInventory);
  const globalFiles: DescriptorFile[] = inp.descriptorsDir ? loadDescriptorDir(inp.descriptorsDir) : [];
  const baseSel = new DescriptorSelector([
    ...globalFiles,
    ...descriptorFilesFromTexts(source.descriptorFiles, source.key),
  ]);
  const movable = domainsToMove(source, inp.includeInactive);
  const domains = inp.onlyDomains?.length
    ? selectDomains(source, movable, inp.onlyDomains, inp.includeInactive)
    : movable;
  const evac = new Evacuation(domains, source, baseSel, {
    assumeVersions: inp.assumeVersions,
    explain: inp.explain,
  });
  const consume = (raw: RawHost) => {
    if (sameHostAs(source, raw)) return { key: raw.key, target: raw.target, isSource: true };
    const inv = buildInventory(raw);
    const hostFiles = descriptorFilesFromTexts(inv.descriptorFiles, inv.key);
    evac.addHost(inv, hostFiles.length ? new DescriptorSelector([...globalFiles, ...hostFiles]) : baseSel);
    return { key: inv.key, target: inv.target };
  };
  return { evac, source, domains, selector: baseSel, consume };
}
