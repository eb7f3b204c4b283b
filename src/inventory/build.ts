/**
 * RawHost -> HostInventory: parse node devices, domains and networks once,
 * and compute what is reserved under the single rule of compat.md §6.
 */
import { type Reserved, type ReservedBy, reserve } from "./keys.js";
import { HostError, InputError } from "../errors.js";
import type { DomainInfo, NodeDevice, RawHost } from "../model.js";
import { reason } from "../reasons.js";
import { readDomain } from "../xml/domain.js";
import { readNetwork, readNetworkPort } from "../xml/network.js";
import { readNodeDevices } from "../xml/nodedev.js";
import { prebuiltInventory } from "../cache/inventory.js";
import { indexDevices } from "./indexes.js";
import type { HostInventory, HostNetwork } from "./types.js";

export function buildInventory(raw: RawHost): HostInventory {
  // Read through the inventory cache (src/cache/inventory.ts): already built.
  const pre = prebuiltInventory(raw);
  if (pre) return pre;
  const warnings = [...raw.warnings];
  const devices: NodeDevice[] = [];
  for (const nd of raw.nodeDevices) {
    try {
      devices.push(...readNodeDevices(nd.xml, nd.origin));
    } catch (e) {
      // A live host handing us a device we cannot read: skip it, never count it
      // as free. A dump file or snapshot we cannot read is the operator's input: exit 2.
      if (raw.kind !== "live") throw e;
      warnings.push(
        reason(
          "device-skipped",
          `${raw.key}: node device XML ${nd.origin} could not be read and is not counted`,
        ),
      );
    }
  }
  // One order whatever the source listed them in: results must not depend on it.
  sortByName(devices);
  const { byName, pciByAddr, mdevByUuid, netByParent, driversKnown } = indexDevices(devices);

  const domains: HostInventory["domains"] = [];
  for (const rd of raw.domains) {
    let info: DomainInfo;
    try {
      info = readDomain(rd.xml, rd.origin);
    } catch (e) {
      if (raw.kind !== "live" || !(e instanceof InputError)) throw e;
      // Fail-closed: an unreadable domain on a live host may hold anything, so
      // the host cannot be planned: an error host (exit 3/4), not bad input.
      throw new HostError(
        "libvirt-error",
        `${raw.key}: domain XML ${rd.origin} could not be read: ${e.message}`,
        raw.key,
      );
    }
    domains.push({ info, active: rd.active, persistent: rd.persistent, origin: rd.origin });
  }

  const reserved: Reserved = new Map();
  const networks = new Map<string, HostNetwork>();
  for (const rn of raw.networks) {
    const info = readNetwork(rn.xml, rn.origin);
    let handedOut: Set<string> | null = null;
    if (rn.ports) {
      handedOut = new Set();
      for (const p of rn.ports) {
        const port = readNetworkPort(p, `${rn.origin} port`);
        if (port.hostdevAddress) handedOut.add(port.hostdevAddress);
      }
    }
    networks.set(info.name, { ...info, active: rn.active, handedOut, usedCount: info.connections ?? 0 });
  }

  const netRefs = new Map<string, number>();
  for (const d of domains) {
    const who: ReservedBy = { by: d.active ? "domain" : "defined-domain", name: d.info.name };
    for (const dev of d.info.devices) {
      if ((dev.kind === "pci" || dev.kind === "interface") && dev.hostAddress)
        reserve(reserved, { kind: "pci", address: dev.hostAddress }, who);
      if (dev.kind === "mdev") reserve(reserved, { kind: "mdev", uuid: dev.mdevUuid.toLowerCase() }, who);
      if (dev.kind === "usb") {
        for (const nd of devices) {
          if (!nd.usb) continue;
          const u = dev.usb;
          const byId =
            u.vendorId && u.productId && nd.usb.vendorId === u.vendorId && nd.usb.productId === u.productId;
          const byAddr =
            u.bus !== undefined &&
            u.device !== undefined &&
            nd.usb.bus === Number(u.bus) &&
            nd.usb.device === Number(u.device);
          if (byId || byAddr) reserve(reserved, { kind: "usb", name: nd.name }, who);
        }
      }
      if (dev.kind === "network" && dev.network)
        netRefs.set(dev.network, (netRefs.get(dev.network) ?? 0) + 1);
    }
  }
  // A defined domain may start and take a pool function too, so every domain
  // reference counts (fail-closed) unless the pool's live ports are known.
  for (const [net, n] of netRefs) {
    const hn = networks.get(net);
    if (hn && hn.handedOut === null) hn.usedCount = Math.max(hn.usedCount, n);
  }
  const poolMembers = new Map<string, string>();
  for (const hn of networks.values()) {
    if (hn.forwardMode === "hostdev") for (const a of hn.functions) poolMembers.set(a, hn.name);
    if (hn.handedOut)
      for (const a of hn.handedOut)
        reserve(reserved, { kind: "pci", address: a }, { by: "network", name: hn.name });
  }
  // An mdev that is defined but not active is reserved. Active mdevs carry an
  // IOMMU group; without one we cannot tell, so it is reserved (fail-closed).
  for (const d of devices) {
    if (d.mdev?.uuid && d.mdev.iommuGroup === undefined) {
      const uuid = d.mdev.uuid.toLowerCase();
      reserve(reserved, { kind: "mdev", uuid }, { by: "inactive-mdev", name: uuid });
    }
  }

  return {
    key: raw.key,
    target: raw.target,
    kind: raw.kind,
    hostname: raw.hostname ?? null,
    hostUuid: raw.hostUuid ?? null,
    versions: raw.versions,
    devices,
    byName,
    pciByAddr,
    mdevByUuid,
    netByParent,
    networks,
    domains,
    reserved,
    poolMembers,
    driversKnown,
    descriptorFiles: raw.descriptorFiles,
    vendorAttrs: raw.vendorAttrs,
    facts: raw.facts ?? { firmware: [] },
    warnings,
  };
}

/**
 * Sort node devices by name (code units), stably, in place: what
 * Array.prototype.sort with a name comparator gives. A dump's listing is
 * sorted already, or nearly (one file a device, sorted by file name, plus a
 * few files of several devices: 17 ascending runs in 207 devices on the
 * bench fleet), so its ascending runs are found and merged pairwise, with
 * no comparator call through the sort builtin. Measured on the real names
 * of 300 hosts in a fresh process: `all` 5.1-5.9 -> 2.1-4.0 ms, one file a
 * device the same (docs/benchmarks.md "Ninth session"): a small gain.
 */
export function sortByName(devices: NodeDevice[]): void {
  const n = devices.length;
  let runs: number[] = [0];
  for (let i = 1; i < n; i++) if (devices[i]!.name < devices[i - 1]!.name) runs.push(i);
  if (runs.length === 1) return;
  let src = devices.slice();
  let dst: NodeDevice[] = new Array<NodeDevice>(n);
  while (runs.length > 1) {
    const next: number[] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const lo = runs[r]!;
      const mid = r + 1 < runs.length ? runs[r + 1]! : n;
      const hi = r + 2 < runs.length ? runs[r + 2]! : n;
      let i = lo;
      let j = mid;
      let k = lo;
      // The right run's device goes first only when its name is smaller: equal names keep their order.
      while (i < mid && j < hi) dst[k++] = src[j]!.name < src[i]!.name ? src[j++]! : src[i++]!;
      while (i < mid) dst[k++] = src[i++]!;
      while (j < hi) dst[k++] = src[j++]!;
      next.push(lo);
    }
    [src, dst] = [dst, src];
    runs = next;
  }
  for (let i = 0; i < n; i++) devices[i] = src[i]!;
}
