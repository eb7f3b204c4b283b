/**
 * The inventory cache's entry body (docs/cache.md): a HostInventory as one
 * JSON text, smaller and faster to read back than V8's structured clone of
 * the object graph (measured: 300 entries of the bench fleet, JSON.parse of
 * the stripped form 263 ms vs v8.deserialize of the full graph 572 ms).
 *
 * What planning never reads is left out: the node devices' sysfs `path`, the
 * PCI and USB vendor/product *names*, `numaNode` and `vpd`. No file outside
 * src/xml reads them: test/cache/codec.test.ts fails when one starts to, and
 * the compiler checks that the list names fields of the model. It is a deny
 * list, so a field added to the model later is kept, never silently dropped.
 * The lookup maps (and driversKnown) are not stored: decode derives them with
 * the same function buildInventory uses.
 */
import { indexDevices } from "../inventory/indexes.js";
import type { ReservedBy } from "../inventory/keys.js";
import type { HostInventory, HostNetwork } from "../inventory/types.js";
import type { NodeDevice, PciCap, UsbCap } from "../model.js";
import { isMemoShared } from "../xml/nodedev.js";

/** Fields planning does not read, per part of a node device (slim() below drops exactly these). */
export const UNUSED_FIELDS = {
  device: ["path"],
  pci: ["vendorName", "productName", "numaNode", "vpd"],
  usb: ["vendorName", "productName"],
} as const satisfies {
  device: readonly (keyof NodeDevice)[];
  pci: readonly (keyof PciCap)[];
  usb: readonly (keyof UsbCap)[];
};

/**
 * The device less UNUSED_FIELDS. Object rest, not copy-and-delete: deleting
 * turns each copy into a slow dictionary object, which made encoding 5x slower.
 */
function slim(d: NodeDevice): NodeDevice {
  const { path: _path, ...c } = d;
  if (d.pci) {
    const { vendorName: _vn, productName: _pn, numaNode: _nn, vpd: _vpd, ...pci } = d.pci;
    c.pci = pci;
  }
  if (d.usb) {
    const { vendorName: _vn, productName: _pn, ...usb } = d.usb;
    c.usb = usb;
  }
  return c;
}

type StoredNetwork = Omit<HostNetwork, "handedOut"> & { handedOut: string[] | null };

/** What indexDevices derives from the devices: not stored. */
type Derived = "byName" | "pciByAddr" | "mdevByUuid" | "netByParent" | "driversKnown";

interface Stored extends Omit<HostInventory, Derived | "networks" | "reserved" | "poolMembers"> {
  networks: [string, StoredNetwork][];
  reserved: [string, ReservedBy][];
  poolMembers: [string, string][];
}

/** The inventory's members that are not stored as they are: derived (left out) or Maps (written as entry lists). */
const NOT_PLAIN = new Set<string>([
  "byName",
  "pciByAddr",
  "mdevByUuid",
  "netByParent",
  "driversKnown",
  "networks",
  "reserved",
  "poolMembers",
] satisfies (Derived | "networks" | "reserved" | "poolMembers")[]);

/**
 * JSON.stringify of the Stored form, written out by hand: the members of
 * the inventory in their order less NOT_PLAIN, `devices` as slim copies
 * whose text is made once a device (deviceJson), then networks, reserved
 * and poolMembers as entry lists. No Stored object is built (its spread
 * copies were a third of this function's time). test/cache/codec.test.ts
 * checks the text against JSON.stringify of the Stored form.
 */
export function encodeInventory(inv: HostInventory): string {
  let out = "{";
  const rec = inv as unknown as Record<string, unknown>;
  for (const k in rec) {
    if (!Object.hasOwn(rec, k) || NOT_PLAIN.has(k)) continue;
    let v: string | undefined;
    if (k === "devices") {
      const ds = inv.devices;
      v = "[";
      for (let n = 0; n < ds.length; n++) v += n === 0 ? deviceJson(ds[n]!) : `,${deviceJson(ds[n]!)}`;
      v += "]";
    } else v = JSON.stringify(rec[k]);
    if (v === undefined) continue; // as JSON.stringify leaves out an undefined member
    out += `${out.length > 1 ? "," : ""}${JSON.stringify(k)}:${v}`;
  }
  const networks: [string, StoredNetwork][] = [];
  for (const [k, n] of inv.networks)
    networks.push([k, { ...n, handedOut: n.handedOut ? [...n.handedOut] : null }]);
  out += `${out.length > 1 ? "," : ""}"networks":${JSON.stringify(networks)}`;
  out += `,"reserved":${JSON.stringify([...inv.reserved])}`;
  out += `,"poolMembers":${JSON.stringify([...inv.poolMembers])}`;
  return `${out}}`;
}

/**
 * A device's slim JSON text. One frozen device object stands in every host
 * whose dump holds the same device text (the device memo, src/xml/nodedev.ts):
 * its text is made once and kept with it. A device only one host holds is
 * encoded once anyway and is not entered: a weak map entry for each of them
 * (~23 a bench host: NICs, disks) cost the scavenger more than it saved
 * (docs/benchmarks.md "Twelfth session").
 */
const DEVICE_JSON = new WeakMap<NodeDevice, string>();

function deviceJson(d: NodeDevice): string {
  if (!isMemoShared(d)) return JSON.stringify(slim(d));
  let j = DEVICE_JSON.get(d);
  if (j === undefined) {
    j = JSON.stringify(slim(d));
    DEVICE_JSON.set(d, j);
  }
  return j;
}

const isArray = Array.isArray;

/** The inventory an entry body holds, or null when it is not one (the entry is then rewritten). */
export function decodeInventory(text: string): HostInventory | null {
  let s: Stored;
  try {
    s = JSON.parse(text) as Stored;
  } catch {
    return null;
  }
  if (
    !s ||
    typeof s !== "object" ||
    typeof s.key !== "string" ||
    typeof s.target !== "string" ||
    !isArray(s.devices) ||
    !isArray(s.domains) ||
    !isArray(s.networks) ||
    !isArray(s.reserved) ||
    !isArray(s.poolMembers) ||
    !isArray(s.warnings) ||
    !s.facts ||
    typeof s.facts !== "object"
  )
    return null;
  for (const d of s.devices) if (!d || typeof d !== "object" || typeof d.name !== "string") return null;
  try {
    return rebuild(s);
  } catch {
    return null; // a body of the right outline with wrong parts inside
  }
}

function rebuild(s: Stored): HostInventory {
  const { networks, reserved, poolMembers, ...rest } = s;
  return {
    ...rest,
    ...indexDevices(rest.devices),
    networks: new Map(
      networks.map(([k, n]) => [k, { ...n, handedOut: n.handedOut ? new Set(n.handedOut) : null }]),
    ),
    reserved: new Map(reserved),
    poolMembers: new Map(poolMembers),
  };
}
