/** USB destinations: a device with the source's vendor and product ids that no domain holds. */
import { keyId, reservedAt } from "../../inventory/keys.js";
import type { HostInventory } from "../../inventory/types.js";
import type { NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import { type KindCandidates, NO_TARGET_KEYS, jsonStr } from "./common.js";
import type { KindModule } from "./registry.js";
import type { UsbSource } from "../types.js";

export interface UsbCandidate {
  host: Pick<HostInventory, "key" | "reserved">;
  nd: NodeDevice;
  ids: { vendorId: string; productId: string };
}

export type UsbFilter = (c: UsbCandidate) => Reason | null;

export const sameUsbIds: UsbFilter = ({ host, nd, ids }) =>
  nd.usb && nd.usb.vendorId === ids.vendorId && nd.usb.productId === ids.productId
    ? null
    : reason("usb-device-missing", `${host.key}: no USB device ${ids.vendorId}:${ids.productId}`);

export const usbNotReserved: UsbFilter = ({ host, nd, ids }) =>
  reservedAt(host.reserved, { kind: "usb", name: nd.name })
    ? reason(
        "usb-device-missing",
        `${host.key}: every USB device ${ids.vendorId}:${ids.productId} is used by a domain`,
      )
    : null;

export const USB_FILTERS: UsbFilter[] = [sameUsbIds, usbNotReserved];

export const usbCandidates: KindCandidates<UsbSource> = (s, dc, { host, addResource }) => {
  const ids = s.usbIds;
  if (!ids) return;
  // when none is free, the reason of the filter that got farthest ("used" beats "missing")
  let why: Reason | null = null;
  let farthest = -1;
  for (const nd of host.devices) {
    const c = { host, nd, ids };
    const i = USB_FILTERS.findIndex((f) => f(c) !== null);
    if (i >= 0) {
      if (i > farthest) {
        farthest = i;
        why = USB_FILTERS[i]?.(c) ?? null;
      }
      continue;
    }
    const id = keyId({ kind: "usb", name: nd.name });
    addResource({
      id,
      capacity: 1,
      cost: 0,
      target: { kind: "usb", name: nd.name, parent: nd.parent ?? null },
    });
    dc.resources.push(id);
  }
  if (dc.resources.length === 0)
    dc.reasons.push(
      why ?? reason("usb-device-missing", `${host.key}: no USB device ${ids.vendorId}:${ids.productId}`),
    );
};

/** The USB kind (src/candidates/kinds/registry.ts). */
export const USB_KIND: KindModule<"usb"> = {
  need: "usb",
  vfio: false,
  vendorDriver: false,
  candidates: usbCandidates,
  signature: (s) => s.usbIds,
  sourceType: (s) => `usb ${s.usbIds?.vendorId ?? "?"}:${s.usbIds?.productId ?? "?"}`,
  resourceType(t, inv) {
    const u = inv.byName.get(t.name)?.usb;
    return `usb ${u?.vendorId ?? "?"}:${u?.productId ?? "?"}`;
  },
  targetJson: (t) => ({ kind: "usb", name: t.name, ...NO_TARGET_KEYS, parent: t.parent }),
  targetFromJson(o) {
    if (o.kind !== "usb") return null;
    const name = jsonStr(o.name);
    return name ? { kind: "usb", name, parent: jsonStr(o.parent) } : null;
  },
  targetLine: (t) => `USB device ${t.name}`,
  targetCell: (t) => `usb ${t.name}`,
};
