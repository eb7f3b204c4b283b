/**
 * Compact per-host candidate state for evacuate (src/matching/evacuate.ts),
 * which keeps every VM's candidates on every host until placement is done:
 * 40 VMs on 1,000 hosts are 40,000 HostCandidates.
 *
 * Two things made that state large (issue 14: 723 MiB peak RSS):
 *
 * - Each VM's candidates were built on their own, so the same PCI function of
 *   a host was a new Resource object (with its target and binding) once per
 *   VM and device, and the same id list once per device.
 * - Strings taken from a node device file (names, parents) are, in V8, slices
 *   of the whole file's text (a SlicedString keeps its parent alive), so one
 *   kept device name kept the host's whole `all.xml` (~113 KB) in memory.
 *
 * A HostPool interns, per host: Resources with equal content (one object per
 * distinct resource), device id lists, resource maps and whole
 * HostCandidates, and copies what it keeps with flat strings. Interning only
 * ever returns an object equal in content to the one it replaces, and nothing
 * downstream mutates candidates (matchDevices and reportHost only read them),
 * so every answer is unchanged.
 */
import type { DeviceCandidates, HostCandidates, Resource } from "../candidates/types.js";
import { flatList, mapList } from "../lists.js";
import { flatString } from "../strings.js";

/**
 * Deep copies of plain data (objects, arrays, Maps, Sets, primitives) with
 * flat strings, for one host. An object copied before returns its earlier
 * copy, so sharing is kept; objects in `keep` (the source devices' own
 * reasons, shared by every host's candidates and kept anyway) are not copied.
 */
export class Compactor {
  private readonly seen = new Map<object, unknown>();

  constructor(private readonly keep: ReadonlySet<object> = new Set()) {}

  copy<T>(v: T): T {
    if (typeof v === "string") return flatString(v) as T;
    if (v === null || typeof v !== "object") return v;
    if (this.keep.has(v)) return v;
    const hit = this.seen.get(v);
    if (hit !== undefined) return hit as T;
    let out: unknown;
    if (Array.isArray(v)) out = mapList(v, (x) => this.copy(x));
    else if (v instanceof Map) out = new Map([...v].map(([k, x]) => [this.copy(k), this.copy(x)]));
    else if (v instanceof Set) out = new Set([...v].map((x) => this.copy(x)));
    else {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v)) o[k] = this.copy((v as Record<string, unknown>)[k]);
      out = o;
    }
    this.seen.set(v, out);
    return out as T;
  }
}

/** Structural equality of plain data (same keys in the same order, same values). */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || a instanceof Map || b instanceof Map || a instanceof Set || b instanceof Set)
    return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i]) return false;
    if (!sameData((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** One device's candidates on the host, interned: the building block of a VM's candidates. */
export interface CandidatePart {
  device: DeviceCandidates;
  resources: Map<string, Resource>;
  warnings: HostCandidates["warnings"];
  gateNotes: string[];
}

/** The interning tables of one host (dropped with the host's build; the results stay). */
export class HostPool {
  private readonly resById = new Map<string, Resource[]>();
  private readonly serial = new Map<Resource, number>();
  /** Each Resource object seen, and what it was interned as. */
  private readonly interned = new Map<Resource, Resource>();
  private readonly lists = new Map<string, string[]>();
  private readonly maps = new Map<string, Map<string, Resource>>();
  /** Each interned map's number, and the merges of interned maps by their numbers in order (assemble). */
  private readonly mapId = new Map<Map<string, Resource>, number>();
  private readonly merged = new Map<string, Map<string, Resource>>();
  private readonly whole = new Map<string, HostCandidates>();

  constructor(
    private readonly hostKey: string,
    private readonly c: Compactor,
  ) {}

  private resource(r: Resource): Resource {
    // The candidate step hands several devices the same Resource object (src/candidates/kinds/pci.ts).
    const done = this.interned.get(r);
    if (done) return done;
    let l = this.resById.get(r.id);
    if (!l) {
      l = [];
      this.resById.set(r.id, l);
    }
    let x = l.find((y) => sameData(y, r));
    if (!x) {
      x = this.c.copy(r);
      l.push(x);
      this.serial.set(x, this.serial.size);
    }
    this.interned.set(r, x);
    return x;
  }

  /**
   * A single-device HostCandidates (built with one source device) as a part:
   * its resources interned, its id list shared with equal lists.
   */
  part(b: HostCandidates): CandidatePart {
    const dc = b.devices[0]!;
    const resources = new Map<string, Resource>();
    for (const r of b.resources.values()) {
      const x = this.resource(r);
      resources.set(x.id, x);
    }
    const ids = mapList(dc.resources, (id) => resources.get(id)!.id);
    const lk = ids.join("\n");
    let list = this.lists.get(lk);
    if (!list) {
      list = ids;
      this.lists.set(lk, list);
    }
    return {
      device: { deviceId: flatString(dc.deviceId), resources: list, reasons: this.c.copy(dc.reasons) },
      resources: this.internMap(resources),
      warnings: this.c.copy(b.warnings),
      gateNotes: this.c.copy(b.gateNotes),
    };
  }

  private internMap(m: Map<string, Resource>): Map<string, Resource> {
    let k = "";
    for (const r of m.values()) k += `${this.serial.get(r)},`;
    const hit = this.maps.get(k);
    if (hit) return hit;
    this.maps.set(k, m);
    this.mapId.set(m, this.mapId.size);
    return m;
  }

  /**
   * The parts' resources in one map, the first of an id winning, interned.
   * The merge depends only on which interned maps come in which order: VMs
   * of different shapes whose devices have the same resources share it
   * (measured: the merge was 4% of an evacuation of 40 VMs onto 1,000 hosts).
   */
  private mergedOf(parts: CandidatePart[]): Map<string, Resource> {
    let k = "";
    for (const p of parts) {
      const id = this.mapId.get(p.resources);
      if (id === undefined) return this.merge(parts); // not interned here: merged afresh
      k += `${id},`;
    }
    let m = this.merged.get(k);
    if (m === undefined) {
      m = this.merge(parts);
      this.merged.set(k, m);
    }
    return m;
  }

  private merge(parts: CandidatePart[]): Map<string, Resource> {
    const resources = new Map<string, Resource>();
    for (const p of parts) for (const [id, r] of p.resources) if (!resources.has(id)) resources.set(id, r);
    return this.internMap(resources);
  }

  /**
   * A VM's candidates from its devices' parts, in device order: what
   * buildHostCandidates gives for all the devices at once (the first resource
   * with an id wins, warnings in device order, gate notes once each).
   * `key` names the parts (equal keys, equal parts).
   */
  assemble(key: string, parts: CandidatePart[]): HostCandidates {
    const hit = this.whole.get(key);
    if (hit) return hit;
    const resources = parts.length === 1 ? parts[0]!.resources : this.mergedOf(parts);
    const gateNotes: string[] = [];
    for (const p of parts) for (const n of p.gateNotes) if (!gateNotes.includes(n)) gateNotes.push(n);
    const hc: HostCandidates = {
      hostKey: this.hostKey,
      resources,
      devices: mapList(parts, (p) => p.device),
      warnings: parts.length === 1 ? parts[0]!.warnings : flatList(parts.map((p) => p.warnings)),
      gateNotes,
    };
    this.whole.set(key, hc);
    return hc;
  }
}
