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
import { isManaged, isPciNode, type NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import { runPciFilters } from "../filters.js";
import { candidatesFor, descriptorKey } from "../hostindex.js";
import {
  type KindCandidates,
  NO_TARGET_KEYS,
  Rejections,
  descriptorMismatch,
  fmtPciId,
  jsonStr,
} from "./common.js";
import type { KindModule } from "./registry.js";
import type { PciSource } from "../types.js";

/** compat.md §7: an mlx5 VF needs the source PF's firmware and PSID (src/facts/rules.ts); null when not checked or equal. */
export function firmwareMatches(
  host: HostInventory,
  fn: NodeDevice,
  source: { checkFirmware?: boolean; firmware?: FirmwareFacts },
): Reason | null {
  if (!source.checkFirmware || !fn.pci) return null;
  return firmwareMismatch(`${host.key} ${fn.pci.address}`, source.firmware, firmwareOf(host, fn.pci.address));
}

export const pciCandidates: KindCandidates<PciSource> = (s, dc, { host, idx, addResource, warnings }) => {
  if (!s.descriptor) return;
  const self = s.descriptor.self;
  const rej = new Rejections();
  let closest: Reason[] | null = null;
  let accepted = 0;
  const fwUnknown = new Set<string>();
  // The functions of a fleet's hosts repeat their descriptors: the match is memoised by content.
  const accepts = matcherFor(self);
  for (const e of candidatesFor(idx.pciByKey, idx.pciWithSections, [self.device_id])) {
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
        managed: isManaged(s.dev),
        needsMigration: !s.transient,
        descriptor,
      }) ?? firmwareMatches(host, fn, s);
    if (fail) {
      rej.add(fail);
      continue;
    }
    if (s.checkFirmware && firmwareKnown(s.firmware) && !firmwareKnown(firmwareOf(host, pci.address)))
      fwUnknown.add(pci.physFunction ?? pci.address);
    const id = keyId({ kind: "pci", address: pci.address });
    addResource({
      id,
      capacity: 1,
      cost: 0,
      descriptorOrigin: origin,
      binding: res.binding,
      target: { kind: "pci", name: fn.name, address: pci.address, driver: fn.driver },
    });
    dc.resources.push(id);
  }
  if (fwUnknown.size > 0 && dc.resources.length > 0) {
    warnings.push(
      firmwareUnverified(
        "destination",
        host.key,
        `${s.dev.id}'s candidate PF ${[...fwUnknown].sort().join(", ")}`,
      ),
    );
  }
  if (dc.resources.length > 0) return;
  if (accepted === 0) {
    if (closest)
      dc.reasons.push(
        descriptorMismatch(
          `${host.key}: a function with the same ids exists but its descriptor rejects the source`,
          closest,
        ),
      );
    else
      dc.reasons.push(
        reason("pci-device-missing", `${host.key}: no PCI function accepts device ${self.device_id ?? "?"}`),
      );
    return;
  }
  dc.reasons.push(...rej.list());
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
