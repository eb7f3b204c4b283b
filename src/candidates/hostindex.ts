/**
 * Per-host index of destination descriptors, built once per (selector, host):
 * PCI functions and mdev types with their selected descriptors, keyed by the
 * ids a section-less descriptor can accept. Evacuate evaluates every host once
 * per VM; plan once per host. No quadratic loops over devices.
 */
import {
  deriveMdevDescriptor,
  derivePciDescriptor,
  mdevTypesOf,
  pciDeviceId,
} from "../descriptors/derive.js";
import { keyDestination } from "../descriptors/match.js";
import { BoundedMemo } from "../descriptors/memo.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { DescriptorData, MdevType, NodeDevice } from "../model.js";
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
  /** Every non-bridge PCI function's entry by address. */
  pciByAddr: Map<string, PciEntry>;
  pciByKey: Map<string, PciEntry[]>;
  pciWithSections: PciEntry[];
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

const CACHE = new WeakMap<DescriptorSelector, WeakMap<HostInventory, HostIndex>>();

function push<T>(m: Map<string, T[]>, k: string | undefined, v: T): void {
  if (k === undefined) return;
  const l = m.get(k);
  if (!l) m.set(k, [v]);
  else if (l[l.length - 1] !== v) l.push(v);
}

export function hostIndex(sel: DescriptorSelector, host: HostInventory): HostIndex {
  let byHost = CACHE.get(sel);
  if (!byHost) {
    byHost = new WeakMap();
    CACHE.set(sel, byHost);
  }
  const hit = byHost.get(host);
  if (hit) return hit;
  const idx: HostIndex = {
    pciByAddr: new Map(),
    pciByKey: new Map(),
    pciWithSections: [],
    mdevByKey: new Map(),
    mdevWithSections: [],
    mdevsOf: new Map(),
    memo: new BoundedMemo<unknown>(OUTCOMES_PER_HOST),
  };
  let pos = 0;
  for (const fn of host.pciByAddr.values()) {
    if (isBridge(fn)) continue;
    const pf = fn.pci?.physFunction ? host.pciByAddr.get(fn.pci.physFunction) : undefined;
    const { descriptor, origin } = sel.select(host.key, derivePciDescriptor(fn, pf), undefined, true);
    const e: PciEntry = { pos: pos++, fn, descriptor, origin };
    idx.pciByAddr.set(fn.pci!.address, e);
    if (descriptor.compatible.length > 0) idx.pciWithSections.push(e);
    else {
      push(idx.pciByKey, descriptor.self.device_id, e);
      push(idx.pciByKey, pciDeviceId(fn), e);
    }
  }
  pos = 0;
  for (const parent of host.devices) {
    for (const t of mdevTypesOf(parent)) {
      const { descriptor, origin } = sel.select(
        host.key,
        deriveMdevDescriptor(parent, t.id, host.facts.nvidiaVersion),
        vendorDescriptorFor(host, parent, t.id),
        true,
      );
      const e: MdevEntry = { pos: pos++, parent, type: t, descriptor, origin };
      if (descriptor.compatible.length > 0) idx.mdevWithSections.push(e);
      else {
        push(idx.mdevByKey, descriptor.self.mdev_type, e);
        push(idx.mdevByKey, t.id, e);
      }
    }
  }
  for (const nd of host.devices) {
    if (nd.mdev?.uuid && nd.parent) push(idx.mdevsOf, `${nd.parent}|${nd.mdev.type}`, nd);
  }
  byHost.set(host, idx);
  return idx;
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
