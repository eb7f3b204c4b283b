/**
 * Per-host index of destination descriptors, built once per (selector, host):
 * PCI functions and mdev types with their selected descriptors, keyed by the
 * ids a section-less descriptor can accept. Evacuate evaluates every host once
 * per VM; plan once per host. No quadratic loops over devices.
 */
import { deriveMdevDescriptor, derivePciDescriptor, pciDeviceId } from "../descriptors/derive.js";
import { keyDestination } from "../descriptors/match.js";
import { BoundedMemo } from "../descriptors/memo.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { DescriptorData, MdevType, NodeDevice } from "../model.js";
import { Slot } from "../slots.js";
import { isBridge } from "./filters.js";
import { vendorDescriptorFor } from "./vendor.js";

export interface PciEntry {
  pos: number;
  fn: NodeDevice;
  descriptor: DescriptorData;
  origin: string;
  /** descriptor's content key for the match memo, and whether it was matched before: see descriptorKey. */
  key?: string | null;
  matched?: boolean;
}

export interface MdevEntry {
  pos: number;
  parent: NodeDevice;
  type: MdevType;
  descriptor: DescriptorData;
  origin: string;
  key?: string | null;
  matched?: boolean;
}

/**
 * The content key of an entry's descriptor for a matcher (src/descriptors/
 * match.ts), or null: matched without the memo. A key costs about what one
 * match of a derived descriptor does (a few fields), so an entry gets one
 * only when it is matched a second time on its host; keyDestination freezes
 * the descriptor then (the index's own copy, made by the selector), so the
 * key kept here holds as long as the entry.
 */
export function descriptorKey(e: PciEntry | MdevEntry): string | null {
  if (e.key !== undefined) return e.key;
  if (!e.matched) {
    e.matched = true;
    return null;
  }
  e.key = keyDestination(e.descriptor);
  return e.key;
}

export interface HostIndex {
  /** The entry of the non-bridge PCI function at `address`. */
  pciAt(address: string): PciEntry | undefined;
  /** Entries that may accept a PCI source with this device id, in host order (same order as a full scan). */
  pciFor(deviceId: string | undefined): PciEntry[];
  mdevByKey: Map<string, MdevEntry[]>;
  mdevWithSections: MdevEntry[];
  /** Existing mdev node devices by "parent|type". */
  mdevsOf: Map<string, NodeDevice[]>;
  /**
   * Per-host outcomes of the kinds' candidate steps, keyed by the complete
   * content of what they read of the source (src/candidates/kinds/pci.ts):
   * the host side is this index's host, read-only once indexed.
   */
  memo: BoundedMemo<unknown>;
}

/** Outcomes kept per host index (one per distinct source; the oldest forgotten first beyond this). */
const OUTCOMES_PER_HOST = 256;

/**
 * Each host's indexes, on its inventory, one for each selector it was
 * indexed under (one, but for a host with descriptor files of its own):
 * a property of the inventory dies with it (src/slots.ts: a WeakMap kept
 * every host's index to the next full GC).
 */
const INDEXES = new Slot<HostInventory, [DescriptorSelector, HostIndex][]>("hostIndexes");

function push<T>(m: Map<string, T[]>, k: string | undefined, v: T): void {
  if (k === undefined) return;
  const l = m.get(k);
  if (!l) m.set(k, [v]);
  else if (l[l.length - 1] !== v) l.push(v);
}

export function hostIndex(sel: DescriptorSelector, host: HostInventory): HostIndex {
  let kept = INDEXES.get(host);
  if (kept === undefined) {
    kept = [];
    INDEXES.set(host, kept);
  }
  for (const [s, idx] of kept) if (s === sel) return idx;
  const mdev = indexMdevs(sel, host);
  const pci = sel.files.length === 0 ? lazyPci(sel, host) : eagerPci(sel, host);
  const idx: HostIndex = { ...pci, ...mdev, memo: new BoundedMemo<unknown>(OUTCOMES_PER_HOST) };
  kept.push([sel, idx]);
  return idx;
}

export type PciIndex = Pick<HostIndex, "pciAt" | "pciFor">;

function pciEntry(sel: DescriptorSelector, host: HostInventory, fn: NodeDevice, pos: number): PciEntry {
  const pf = fn.pci?.physFunction ? host.pciByAddr.get(fn.pci.physFunction) : undefined;
  const { descriptor, origin } = sel.select(host.key, derivePciDescriptor(fn, pf), undefined, true);
  return { pos, fn, descriptor, origin };
}

/** Every function's entry made up front: a descriptor file may give any of them sections or another id. */
export function eagerPci(sel: DescriptorSelector, host: HostInventory): PciIndex {
  const pciByAddr = new Map<string, PciEntry>();
  const pciByKey = new Map<string, PciEntry[]>();
  const pciWithSections: PciEntry[] = [];
  let pos = 0;
  for (const fn of host.pciByAddr.values()) {
    if (isBridge(fn)) continue;
    const e = pciEntry(sel, host, fn, pos++);
    pciByAddr.set(fn.pci!.address, e);
    if (e.descriptor.compatible.length > 0) pciWithSections.push(e);
    else {
      push(pciByKey, e.descriptor.self.device_id, e);
      push(pciByKey, pciDeviceId(fn), e);
    }
  }
  return {
    pciAt: (address) => pciByAddr.get(address),
    pciFor: (id) => candidatesFor(pciByKey, pciWithSections, [id]),
  };
}

/**
 * No descriptor files: every function's descriptor is the derived one, which
 * has no sections and whose device_id is the function's own (pciDeviceId), so
 * the functions a source can match are those of its id, and only their
 * entries are made, when first asked for (a plan asks for a few ids of a
 * host's ~150 functions: measured, deriving them all was 6% of a cold plan
 * of 1,000 hosts). The same entries, in the same order, as eagerPci.
 */
export function lazyPci(sel: DescriptorSelector, host: HostInventory): PciIndex {
  const made = new Map<NodeDevice, PciEntry>();
  const entryOf = (fn: NodeDevice, pos: number): PciEntry => {
    let e = made.get(fn);
    if (e === undefined) {
      e = pciEntry(sel, host, fn, pos);
      made.set(fn, e);
    }
    return e;
  };
  // Non-bridge functions in host order with their positions, by device id (made on the first ask).
  let byId: Map<string, { fn: NodeDevice; pos: number }[]> | undefined;
  let posOf: Map<string, { fn: NodeDevice; pos: number }> | undefined;
  const index = () => {
    byId = new Map();
    posOf = new Map();
    let pos = 0;
    for (const fn of host.pciByAddr.values()) {
      if (isBridge(fn)) continue;
      const at = { fn, pos: pos++ };
      posOf.set(fn.pci!.address, at);
      const id = pciDeviceId(fn);
      if (id === undefined) continue;
      const l = byId.get(id);
      if (l) l.push(at);
      else byId.set(id, [at]);
    }
  };
  return {
    pciAt(address) {
      if (posOf === undefined) index();
      const at = posOf!.get(address);
      return at && entryOf(at.fn, at.pos);
    },
    pciFor(id) {
      if (id === undefined) return [];
      if (byId === undefined) index();
      return (byId!.get(id) ?? []).map((at) => entryOf(at.fn, at.pos));
    },
  };
}

function indexMdevs(
  sel: DescriptorSelector,
  host: HostInventory,
): Pick<HostIndex, "mdevByKey" | "mdevWithSections" | "mdevsOf"> {
  const mdevByKey = new Map<string, MdevEntry[]>();
  const mdevWithSections: MdevEntry[] = [];
  const mdevsOf = new Map<string, NodeDevice[]>();
  let pos = 0;
  // One pass over the devices (both parts of the index): each visit reads
  // properties of devices of many shapes, ~0.1 us each (measured).
  for (const nd of host.devices) {
    // mdevTypesOf, without its empty array for every device that has no types.
    const types = nd.pci?.mdevTypes ?? nd.css?.mdevTypes ?? nd.apMatrix?.mdevTypes;
    if (types !== undefined) {
      for (const t of types) {
        const { descriptor, origin } = sel.select(
          host.key,
          deriveMdevDescriptor(nd, t.id, host.facts.nvidiaVersion),
          vendorDescriptorFor(host, nd, t.id),
          true,
        );
        const e: MdevEntry = { pos: pos++, parent: nd, type: t, descriptor, origin };
        if (descriptor.compatible.length > 0) mdevWithSections.push(e);
        else {
          push(mdevByKey, descriptor.self.mdev_type, e);
          push(mdevByKey, t.id, e);
        }
      }
    }
    if (nd.mdev?.uuid && nd.parent) push(mdevsOf, `${nd.parent}|${nd.mdev.type}`, nd);
  }
  return { mdevByKey, mdevWithSections, mdevsOf };
}

/** Entries that may accept a source with these keys, in host order (same order as a full scan). */
export function candidatesFor<T extends { pos: number }>(
  byKey: Map<string, T[]>,
  withSections: T[],
  keys: (string | undefined)[],
): T[] {
  const seen = new Set<T>();
  const out: T[] = [];
  for (const k of keys) {
    if (k === undefined) continue;
    for (const e of byKey.get(k) ?? []) {
      if (!seen.has(e)) {
        seen.add(e);
        out.push(e);
      }
    }
  }
  for (const e of withSections) out.push(e);
  return out.sort((a, b) => a.pos - b.pos);
}
