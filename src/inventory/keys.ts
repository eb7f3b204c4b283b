/**
 * Typed keys of destination resources, and who holds a reserved one
 * (compat.md §6). Inventory, candidates and the hook build keys as values;
 * `keyId` gives the canonical string used as a Map key and Resource.id
 * (the same strings as before: "pci:ADDR", "mdev:UUID", "pool:PARENT:TYPE",
 * "net:NAME", "usb:NAME", "vgpuvf:VF:TYPE"). `parseKeyId` reads one back and
 * is used only where a key crosses a process boundary as text: the hook's
 * reservation file written by another hook process.
 */

export type ResourceKey =
  /** A PCI function (passthrough, a network pool member, a vGPU VF as a function). */
  | { kind: "pci"; address: string }
  /** An existing mdev. */
  | { kind: "mdev"; uuid: string }
  /** One instance of an mdev type to be created on a parent. */
  | { kind: "pool"; parent: string; mdevType: string }
  /** A free function of a hostdev network. */
  | { kind: "net"; network: string }
  | { kind: "usb"; name: string }
  /** An SR-IOV vGPU VF taking one type (src/vgpuvf). */
  | { kind: "vgpuvf"; vf: string; typeId: number };

export function keyId(k: ResourceKey): string {
  switch (k.kind) {
    case "pci":
      return `pci:${k.address}`;
    case "mdev":
      return `mdev:${k.uuid}`;
    case "pool":
      return `pool:${k.parent}:${k.mdevType}`;
    case "net":
      return `net:${k.network}`;
    case "usb":
      return `usb:${k.name}`;
    case "vgpuvf":
      return `vgpuvf:${k.vf}:${k.typeId}`;
  }
}

const PCI_ADDR = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/**
 * The inverse of keyId, for text that crossed a process boundary; null when
 * it is not a key. A pool's parent is a node device name and its type a sysfs
 * directory name, neither of which holds ':' (libvirt names node devices
 * pci_DDDD_BB_SS_F, css_..., matrix; mdev types are mdev_supported_types/
 * entries): exactly two fields, else null.
 */
export function parseKeyId(s: string): ResourceKey | null {
  const colon = s.indexOf(":");
  if (colon <= 0) return null;
  const kind = s.slice(0, colon);
  const rest = s.slice(colon + 1);
  if (rest === "") return null;
  switch (kind) {
    case "pci":
      return PCI_ADDR.test(rest) ? { kind, address: rest } : null;
    case "mdev":
      return { kind, uuid: rest };
    case "net":
      return { kind, network: rest };
    case "usb":
      return { kind, name: rest };
    case "pool": {
      const f = rest.split(":");
      return f.length === 2 && f[0] && f[1] ? { kind, parent: f[0], mdevType: f[1] } : null;
    }
    case "vgpuvf": {
      const m = /^(.+):(\d{1,9})$/.exec(rest);
      return m?.[1] && PCI_ADDR.test(m[1]) ? { kind, vf: m[1], typeId: Number(m[2]) } : null;
    }
  }
  return null;
}

/** Who holds a reserved resource: a domain, a network, another incoming migration, or the host's own state. */
export interface ReservedBy {
  by:
    | "domain"
    | "defined-domain"
    | "network"
    | "migration"
    /** name: the mdev UUID, defined but not shown active (no IOMMU group). */
    | "inactive-mdev"
    /** name: the UUID of a live mdev whose parent is not in the host snapshot (hook). */
    | "orphan-mdev"
    /** name: the UUID of an mdev the snapshot shows active but live sysfs lacks (hook). */
    | "stale-mdev";
  name: string;
}

/** The holder in words, e.g. "domain vm2 (defined)". */
export function holderText(r: ReservedBy): string {
  switch (r.by) {
    case "domain":
      return `domain ${r.name}`;
    case "defined-domain":
      return `domain ${r.name} (defined)`;
    case "network":
      return `handed out by network ${r.name}`;
    case "migration":
      return `reserved by the incoming migration of ${r.name} (hdplan hook)`;
    case "inactive-mdev":
      return "mdev is defined but not shown active (no IOMMU group)";
    case "orphan-mdev":
      return "live mdev whose parent is not in the host snapshot";
    case "stale-mdev":
      return "mdev shown active in the snapshot but absent from live sysfs";
  }
}

/** "used by domain vm2", or "handed out by network N" for a pool's function. */
export function inUseText(r: ReservedBy): string {
  return r.by === "network" ? holderText(r) : `used by ${holderText(r)}`;
}

/** HostInventory.reserved: keyId -> holder (a plain Map: the inventory cache serializes it). */
export type Reserved = Map<string, ReservedBy>;

export function reservedAt(reserved: Reserved, k: ResourceKey): ReservedBy | undefined {
  return reserved.get(keyId(k));
}

/** Record a holder; the first one recorded wins unless `replace`. */
export function reserve(reserved: Reserved, k: ResourceKey, r: ReservedBy, replace = false): void {
  const id = keyId(k);
  if (replace || !reserved.has(id)) reserved.set(id, r);
}
