/** Naming domains on a source: `--domain NAME` for plan (file sources) and evacuate. */
import { InputError } from "../errors.js";
import type { DomainInfo } from "../model.js";
import type { HostInventory } from "./types.js";

/** Does `id` name this domain: its name, UUID, or (dump directory) its file name without .xml? */
export function domainMatches(id: string, info: DomainInfo, origin: string): boolean {
  if (info.name === id || info.uuid === id.toLowerCase()) return true;
  const m = /(?:^|[\\/])([^\\/]+)\.xml$/i.exec(origin);
  return !!m && m[1] === id;
}

/** "domain X is not defined on source Y (it defines …)" — exit 2. */
export function notDefinedOnSource(id: string, target: string, names: string[]): InputError {
  const all = [...new Set(names)].sort();
  const shown = all.slice(0, 8).join(", ") + (all.length > 8 ? `, and ${all.length - 8} more` : "");
  return new InputError(
    `domain ${id} is not defined on source ${target} (${all.length ? `it defines ${shown}` : "it defines no domain"}); pass the --source the VM runs on`,
  );
}

/**
 * evacuate --domain: only the named domains (name, UUID or dump file name),
 * each of which must be defined on the source and be one evacuate moves.
 */
export function selectDomains(
  source: HostInventory,
  movable: DomainInfo[],
  ids: string[],
  includeInactive: boolean,
): DomainInfo[] {
  const want = new Set<string>();
  for (const id of ids) {
    const hits = source.domains.filter((d) => domainMatches(id, d.info, d.origin));
    if (hits.length === 0)
      throw notDefinedOnSource(
        id,
        source.target,
        source.domains.map((d) => d.info.name),
      );
    const uuid = hits[0]!.info.uuid;
    if (!movable.some((d) => d.uuid === uuid)) {
      const running = hits.some((d) => d.active);
      throw new InputError(
        hits[0]!.info.devices.length === 0
          ? `domain ${id} on source ${source.target} has no assigned devices: nothing for evacuate to place`
          : !running && !includeInactive
            ? `domain ${id} on source ${source.target} is not running: pass --include-inactive to place it too`
            : `domain ${id} on source ${source.target} cannot be placed`,
      );
    }
    want.add(uuid);
  }
  return movable.filter((d) => want.has(d.uuid));
}
