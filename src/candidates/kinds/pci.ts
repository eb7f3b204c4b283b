/**
 * PCI passthrough destinations (compat.md §5): functions with the source's
 * ids whose descriptor accepts the source, then PCI_FILTERS (src/candidates/
 * filters.ts), then the mlx5 firmware rule (compat.md §7).
 */
import { pciDeviceId } from "../../descriptors/derive.js";
import { matcherFor } from "../../descriptors/match.js";
import {
  type FirmwareFacts,
  firmwareKnown,
  firmwareMismatch,
  firmwareOf,
  firmwareUnverified,
} from "../../facts/rules.js";
import { keyId } from "../../inventory/keys.js";
import type { HostInventory } from "../../inventory/types.js";
import { type DescriptorData, isManaged, isPciNode, type NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import { runPciFilters } from "../filters.js";
import { contentKey } from "../../descriptors/memo.js";
import { descriptorKey, type HostIndex } from "../hostindex.js";
import {
  type KindCandidates,
  NO_TARGET_KEYS,
  Rejections,
  descriptorMismatch,
  fmtPciId,
  jsonStr,
} from "./common.js";
import type { KindModule } from "./registry.js";
import type { PciSource, Resource } from "../types.js";

/** compat.md §7: an mlx5 VF needs the source PF's firmware and PSID (src/facts/rules.ts); null when not checked or equal. */
export function firmwareMatches(
  host: HostInventory,
  fn: NodeDevice,
  source: { checkFirmware?: boolean; firmware?: FirmwareFacts },
): Reason | null {
  if (!source.checkFirmware || !fn.pci) return null;
  return firmwareMismatch(`${host.key} ${fn.pci.address}`, source.firmware, firmwareOf(host, fn.pci.address));
}

/** What the per-function loop of pciCandidates found on one host for one source (memoised per host). */
interface PciOutcome {
  /** Accepted functions that pass every filter, in host order. */
  resources: Resource[];
  /** Candidate PFs whose firmware is unknown (sorted). */
  fwUnknown: string[];
  accepted: number;
  closest: Reason[] | null;
  rejections: Reason[];
}

/**
 * Everything the per-function loop receives of the source: the source less
 * what only names the device or describes the source side (`dev` enters as
 * `managed`, the one thing the loop needs of it; summary, warnings,
 * gateNotes, qemuNote stay out). The memo key is the content of this whole
 * object (a field added to PciSource later is in it), and the loop takes only
 * this object, so the compiler refuses a read of anything the key lacks. The
 * host side is the host index's own host (the memo lives on its index).
 */
type PciLoopInput = Omit<PciSource, "dev" | "summary" | "warnings" | "gateNotes" | "qemuNote"> & {
  descriptor: DescriptorData;
  managed: boolean;
};

function loopInput(s: PciSource & { descriptor: DescriptorData }): PciLoopInput {
  const { dev, summary: _s, warnings: _w, gateNotes: _g, qemuNote: _q, ...rest } = s;
  return { ...rest, managed: isManaged(dev) };
}

function pciOutcome(s: PciLoopInput, host: HostInventory, idx: HostIndex): PciOutcome {
  const self = s.descriptor.self;
  const rej = new Rejections();
  let closest: Reason[] | null = null;
  let accepted = 0;
  const resources: Resource[] = [];
  const fwUnknown = new Set<string>();
  // The functions of a fleet's hosts repeat their descriptors: the match is memoised by content.
  const accepts = matcherFor(self);
  for (const e of idx.pciFor(self.device_id)) {
    const { fn, descriptor, origin } = e;
    if (!isPciNode(fn)) continue;
    const pci = fn.pci;
    const res = accepts(descriptor, descriptorKey(e));
    if (!res.ok) {
      if (pciDeviceId(fn) === self.device_id && (!closest || res.reasons.length < closest.length)) {
        closest = res.reasons;
      }
      continue;
    }
    accepted++;
    const fail =
      runPciFilters(fn, {
        host,
        managed: s.managed,
        needsMigration: !s.transient,
        descriptor,
      }) ?? firmwareMatches(host, fn, s);
    if (fail) {
      rej.add(fail);
      continue;
    }
    if (s.checkFirmware && firmwareKnown(s.firmware) && !firmwareKnown(firmwareOf(host, pci.address)))
      fwUnknown.add(pci.physFunction ?? pci.address);
    resources.push({
      id: keyId({ kind: "pci", address: pci.address }),
      capacity: 1,
      cost: 0,
      descriptorOrigin: origin,
      binding: res.binding,
      target: { kind: "pci", name: fn.name, address: pci.address, driver: fn.driver },
    });
  }
  return { resources, fwUnknown: [...fwUnknown].sort(), accepted, closest, rejections: rej.list() };
}

export const pciCandidates: KindCandidates<PciSource> = (s, dc, { host, idx, addResource, warnings }) => {
  if (!s.descriptor) return;
  const self = s.descriptor.self;
  const input = loopInput(s as PciSource & { descriptor: DescriptorData });
  // Devices that differ only in which device they are (evacuate's VMs, a VM's
  // VFs) share the loop's outcome on a host; each gets its own resources list.
  const key = contentKey(input);
  const o =
    key === null
      ? pciOutcome(input, host, idx)
      : (idx.memo.get(`pci${key}`, () => pciOutcome(input, host, idx)) as PciOutcome);
  for (const r of o.resources) {
    addResource(r);
    dc.resources.push(r.id);
  }
  if (o.fwUnknown.length > 0 && dc.resources.length > 0) {
    warnings.push(
      firmwareUnverified("destination", host.key, `${s.dev.id}'s candidate PF ${o.fwUnknown.join(", ")}`),
    );
  }
  if (dc.resources.length > 0) return;
  if (o.accepted === 0) {
    if (o.closest)
      dc.reasons.push(
        descriptorMismatch(
          `${host.key}: a function with the same ids exists but its descriptor rejects the source`,
          o.closest,
        ),
      );
    else
      dc.reasons.push(
        reason("pci-device-missing", `${host.key}: no PCI function accepts device ${self.device_id ?? "?"}`),
      );
    return;
  }
  dc.reasons.push(...o.rejections);
};

/** The PCI passthrough kind (src/candidates/kinds/registry.ts). */
export const PCI_KIND: KindModule<"pci"> = {
  need: "pci",
  vfio: true,
  vendorDriver: false,
  candidates: pciCandidates,
  // pciCandidates reads checkFirmware and firmware (the mlx5 rule): two VFs whose
  // source PFs run different firmware must not share candidates (headroom).
  signature: (s) => [s.checkFirmware, s.firmware?.version ?? null, s.firmware?.psid ?? null],
  sourceType: (s) => `pci ${fmtPciId(s.descriptor?.self.device_id)}`,
  resourceType: (t, inv) => `pci ${fmtPciId(pciDeviceId(inv.pciByAddr.get(t.address)))}`,
  report: (s) => (s.firmware ? { sourceFirmware: s.firmware } : {}),
  targetJson: (t) => ({ kind: "pci", name: t.name, ...NO_TARGET_KEYS, address: t.address, driver: t.driver }),
  targetFromJson(o) {
    if (o.kind !== "pci") return null;
    const address = jsonStr(o.address);
    if (!address) return null;
    return { kind: "pci", name: jsonStr(o.name) ?? address, address, driver: jsonStr(o.driver) };
  },
  targetLine: (t) => `PCI function ${t.address}${t.driver ? ` (${t.driver})` : ""}`,
  targetCell: (t) => `pci ${t.address}`,
};
