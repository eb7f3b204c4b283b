/**
 * hostdev network destinations (compat.md §6): an active hostdev network of
 * the same name pooling functions with the same ids, with a free function.
 * Each pool function passes NETWORK_FUNCTION_FILTERS to count as free.
 */
import { pciDeviceId } from "../../descriptors/derive.js";
import { inUseText, keyId, reservedAt } from "../../inventory/keys.js";
import type { HostInventory } from "../../inventory/types.js";
import { type DescriptorData, isPciNode, type NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import { destinationMigratable, notInPool, runPciFilters } from "../filters.js";
import { type KindCandidates, NO_TARGET_KEYS, Rejections, firstFailure, jsonStr } from "./common.js";
import type { KindModule } from "./registry.js";
import type { NetworkSource } from "../types.js";

/** One function of the pool, as the filters see it. */
export interface PoolFunction {
  host: HostInventory;
  network: string;
  address: string;
  /** The node device; undefined when the host does not show it. */
  fn: NodeDevice | undefined;
  /** Its selected descriptor (for the migratability evidence). */
  descriptor: () => DescriptorData;
  needsMigration: boolean;
}

export type PoolFunctionFilter = (f: PoolFunction) => Reason | null;

/** Fail-closed: a function that is no node device has an unknown state. */
export const functionKnown: PoolFunctionFilter = (f) =>
  f.fn && pciDeviceId(f.fn)
    ? null
    : reason(
        "network-pool-exhausted",
        `${f.network} function ${f.address} is not a node device; its state is unknown`,
      );

export const functionNotReserved: PoolFunctionFilter = (f) => {
  const why = reservedAt(f.host.reserved, { kind: "pci", address: f.address });
  return why
    ? reason("network-pool-exhausted", `${f.network} function ${f.address} is ${inUseText(why)}`)
    : null;
};

/** The function must receive a migration (libvirt binds it managed) and be assignable (PCI_FILTERS but pool membership). */
export const functionUsable: PoolFunctionFilter = (f) => {
  const fn = f.fn;
  if (!isPciNode(fn)) return null; // a function that is no node device: functionKnown's
  const descriptor = f.descriptor();
  return (
    destinationMigratable(fn, {
      host: f.host,
      managed: true,
      needsMigration: f.needsMigration,
      descriptor,
    }) ?? runPciFilters(fn, { host: f.host, managed: true, needsMigration: false, descriptor }, [notInPool])
  );
};

export const NETWORK_FUNCTION_FILTERS: PoolFunctionFilter[] = [
  functionKnown,
  functionNotReserved,
  functionUsable,
];

/** The network itself: same name, active, forward mode hostdev. */
export function networkUsable(host: HostInventory, name: string): Reason | null {
  const net = host.networks.get(name);
  if (net?.active && net.forwardMode === "hostdev") return null;
  return reason(
    "network-missing",
    `${host.key}: no active hostdev network named ${name}${net ? ` (it is ${net.active ? `mode ${net.forwardMode ?? "none"}` : "inactive"})` : ""}`,
  );
}

export const networkCandidates: KindCandidates<NetworkSource> = (
  s,
  dc,
  { host, addResource, pciDescriptor },
) => {
  const want = s.network;
  if (!want) return;
  const missing = networkUsable(host, want.name);
  const net = host.networks.get(want.name);
  if (missing || !net) {
    if (missing) dc.reasons.push(missing);
    return;
  }
  const ids = new Set<string>();
  let free = 0;
  const rej = new Rejections();
  for (const address of net.functions) {
    const fn = host.pciByAddr.get(address);
    const id = pciDeviceId(fn);
    if (id) ids.add(id);
    const fail = firstFailure(NETWORK_FUNCTION_FILTERS, {
      host,
      network: want.name,
      address,
      fn,
      descriptor: () => (fn ? pciDescriptor(fn) : { self: {}, compatible: [] }),
      needsMigration: !s.transient,
    });
    if (fail) rej.add(fail);
    else free++;
  }
  const same = [...ids].sort().join(",") === want.functionIds.join(",");
  if (!same) {
    dc.reasons.push(
      reason(
        "network-missing",
        `${host.key}: network ${want.name} pools functions ${[...ids].sort().join(",") || "none"}, source pools ${want.functionIds.join(",")}`,
      ),
    );
    return;
  }
  if (net.handedOut === null) free -= net.usedCount;
  if (free <= 0) {
    dc.reasons.push(
      reason("network-pool-exhausted", `${host.key}: network ${want.name} has no free function`, {
        details: rej.list(),
      }),
    );
    return;
  }
  const id = keyId({ kind: "net", network: want.name });
  addResource({ id, capacity: free, cost: 0, target: { kind: "network", network: want.name } });
  dc.resources.push(id);
};

/** The hostdev network kind (src/candidates/kinds/registry.ts). */
export const NETWORK_KIND: KindModule<"network"> = {
  need: "network",
  vfio: true,
  vendorDriver: false,
  candidates: networkCandidates,
  capacityReason: (s, what) =>
    reason("network-pool-exhausted", `${what}; not enough free functions in ${s.network?.name}`),
  signature: (s) => s.network,
  sourceType: (s) => `net ${s.network?.name ?? "?"}`,
  resourceType: (t) => `net ${t.network}`,
  targetJson: (t) => ({ kind: "network", name: t.network, ...NO_TARGET_KEYS, network: t.network }),
  targetFromJson(o) {
    if (o.kind !== "network") return null;
    const network = jsonStr(o.network) ?? jsonStr(o.name);
    return network ? { kind: "network", network } : null;
  },
  targetLine: (t) => `a free function of network ${t.network}`,
  targetCell: (t) => `network ${t.network}`,
};
