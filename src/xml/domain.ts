/**
 * Domain XML reader: the assigned devices of a libvirt domain, its identity,
 * whether OpenStack Nova manages it, and hdplan's own metadata element.
 *
 * Device ids follow cli.md: the <alias name> when present, otherwise the kind
 * and its index among devices of that kind in document order.
 */
import { InputError } from "../errors.js";
import type {
  AssignedDevice,
  DescriptorData,
  DeviceKind,
  DomainFeatures,
  DomainInfo,
  InterfaceDevice,
  MdevHostdev,
  PlannerDeviceMeta,
  SectionData,
  Teaming,
  UsbHostdev,
} from "../model.js";
import {
  extendScope,
  type NsScope,
  normaliseId16,
  parseLibvirtUInt,
  pciAddressFromAttrs,
  resolveName,
} from "./address.js";
import { child, childrenNamed, childText, parseXml, type XmlElement } from "./parse.js";

export const NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.0";
export const HDPLAN_NS = "urn:hostdev-planner:metadata:1";
/** libvirt's QEMU namespace for <qemu:commandline> and <qemu:override> (docs/drvqemu.rst). */
export const QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0";

const KINDS: readonly DeviceKind[] = [
  "pci",
  "mdev",
  "interface",
  "network",
  "usb",
  "scsi",
  "scsi_host",
  "capabilities",
  "vdpa",
];

export function readDomain(text: string, file: string): DomainInfo {
  return readDomainElement(parseXml(text, file), file);
}

export function readDomainElement(el: XmlElement, file: string): DomainInfo {
  if (el.name !== "domain") {
    throw new InputError(`${file}: expected domain XML (root element <domain>), found <${el.name}>`, file);
  }
  const name = childText(el, "name");
  if (!name) throw new InputError(`${file}: domain XML has no <name>`, file);
  const uuid = (childText(el, "uuid") ?? "").toLowerCase();
  const hypervisorType = el.attrs.type ?? "";

  const devices: AssignedDevice[] = [];
  const counters = new Map<DeviceKind, number>();
  const where = (n: number, tag: string) => `domain '${name}' device #${n} <${tag}>`;
  let n = 0;
  for (const d of child(el, "devices")?.children ?? []) {
    if (d.name !== "hostdev" && d.name !== "interface") continue;
    n++;
    const dev =
      d.name === "hostdev"
        ? readHostdev(d, file, where(n, d.name))
        : readInterface(d, file, where(n, d.name));
    if (!dev) continue;
    const kindIndex = counters.get(dev.kind) ?? 0;
    counters.set(dev.kind, kindIndex + 1);
    const alias = child(d, "alias")?.attrs.name ?? null;
    devices.push({ ...dev, id: alias ?? `${dev.kind}${kindIndex}`, alias, kindIndex });
  }

  const scope = extendScope(new Map(), el);
  const metadata = child(el, "metadata");
  const mdScope = metadata ? extendScope(scope, metadata) : scope;
  let novaManaged = false;
  let plannerMetadata: PlannerDeviceMeta[] = [];
  let planSeen = false;
  let plannedFor: DomainInfo["plannedFor"];
  for (const m of metadata?.children ?? []) {
    const ms = extendScope(mdScope, m);
    const r = resolveName(ms, m);
    if (r.local === "instance" && (r.ns === NOVA_NS || r.prefix === "nova")) novaManaged = true;
    if (r.local === "plan" && r.ns === HDPLAN_NS && !planSeen) {
      planSeen = true;
      plannerMetadata = readPlan(m, ms, file);
      const host = m.attrs["planned-for-host"] ?? null;
      const hostUuid = m.attrs["planned-for-host-uuid"]?.toLowerCase() ?? null;
      if (host !== null || hostUuid !== null) plannedFor = { host, hostUuid };
    }
  }

  const features = readFeatures(el, scope);
  const info: DomainInfo = { name, uuid, hypervisorType, devices, novaManaged, plannerMetadata, features };
  if (plannedFor) info.plannedFor = plannedFor;
  return info;
}

/**
 * Whole-VM features (compat.md §7): the guest vIOMMU, the domain-level
 * iommufd switch, the machine type, and enable-migration forced through the
 * QEMU namespace. QEMU's VFIO "enable-migration" property is OnOffAuto
 * (hw/vfio/pci.c); libvirt leaves it at auto.
 */
function readFeatures(el: XmlElement, scope: NsScope): DomainFeatures {
  const iommu = child(child(el, "devices"), "iommu");
  const viommu = iommu
    ? { model: iommu.attrs.model ?? "", driver: { ...(child(iommu, "driver")?.attrs ?? {}) } }
    : null;
  const iommufd = child(el, "iommufd")?.attrs.enabled === "yes";
  const machine = child(child(el, "os"), "type")?.attrs.machine ?? null;
  const enableMigration: DomainFeatures["enableMigration"] = {};
  for (const c of el.children) {
    const cs = extendScope(scope, c);
    const r = resolveName(cs, c);
    if (r.ns !== QEMU_NS) continue;
    if (r.local === "override") {
      // <qemu:override><qemu:device alias='hostdev0'><qemu:frontend>
      //   <qemu:property name='enable-migration' type='string' value='on'/>
      for (const d of c.children) {
        const ds = extendScope(cs, d);
        if (resolveName(ds, d).local !== "device" || !d.attrs.alias) continue;
        for (const f of d.children) {
          const fs = extendScope(ds, f);
          if (resolveName(fs, f).local !== "frontend") continue;
          for (const p of f.children) {
            const ps = extendScope(fs, p);
            if (resolveName(ps, p).local !== "property" || p.attrs.name !== "enable-migration") continue;
            if (p.attrs.value !== undefined)
              enableMigration[d.attrs.alias] = { value: p.attrs.value, via: "<qemu:override>" };
          }
        }
      }
    } else if (r.local === "commandline") {
      const args = c.children
        .filter((a) => resolveName(extendScope(cs, a), a).local === "arg")
        .map((a) => a.attrs.value ?? "");
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        const [opt, inline] =
          a.includes("=") && a.startsWith("-")
            ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
            : [a, undefined];
        if (opt !== "-set" && opt !== "--set" && opt !== "-global" && opt !== "--global") continue;
        const val = inline ?? args[i + 1] ?? "";
        if (inline === undefined) i++;
        // -set device.ALIAS.enable-migration=on
        const set = /^device\.([^.]+)\.enable-migration=(\S+)$/.exec(val);
        if (set && opt.endsWith("set")) {
          enableMigration[set[1]!] = { value: set[2]!, via: `<qemu:commandline> ${opt} ${val}` };
        }
        // -global vfio-pci.enable-migration=on (globals apply to subtypes such as vfio-pci-nohotplug)
        const glob = /^(vfio-pci|vfio-pci-nohotplug)\.enable-migration=(\S+)$/.exec(val);
        if (glob && opt.endsWith("global")) {
          enableMigration[glob[1] === "vfio-pci" ? "*" : "*nohotplug"] = {
            value: glob[2]!,
            via: `<qemu:commandline> ${opt} ${val}`,
          };
        }
      }
    }
  }
  return { viommu, iommufd, machine, enableMigration };
}

/** A device before its id, alias and kind index are known (Omit over each variant). */
type DevBody = AssignedDevice extends infer D
  ? D extends AssignedDevice
    ? Omit<D, "id" | "alias" | "kindIndex">
    : never
  : never;

/** The attributes every kind reads the same way. */
type Common = Pick<AssignedDevice, "driverName" | "driverModel" | "iommufd" | "rom" | "teaming">;
type Vlan = NonNullable<InterfaceDevice["vlan"]>;

function guestAddr(el: XmlElement): Record<string, string> | null {
  const a = child(el, "address");
  return a ? { ...a.attrs } : null;
}

function common(el: XmlElement, file: string, what: string): Common {
  const out: Common = {};
  const drvEl = child(el, "driver");
  const drv = drvEl?.attrs.name;
  if (drv !== undefined) out.driverName = drv;
  if (drvEl?.attrs.model !== undefined) out.driverModel = drvEl.attrs.model;
  if (drvEl?.attrs.iommufd === "yes") out.iommufd = true;
  const rom = child(el, "rom");
  if (rom) out.rom = { ...rom.attrs };
  const t = child(el, "teaming");
  if (t) out.teaming = readTeaming(t, file, what);
  return out;
}

function readTeaming(t: XmlElement, file: string, what: string): Teaming {
  const type = t.attrs.type;
  if (type !== "persistent" && type !== "transient") {
    throw new InputError(
      `${file}: ${what}: <teaming type='${type ?? ""}'> must be 'persistent' or 'transient'`,
      file,
    );
  }
  const out: Teaming = { type };
  if (t.attrs.persistent !== undefined) out.persistent = t.attrs.persistent;
  return out;
}

function managedAttr(el: XmlElement): boolean {
  return el.attrs.managed === "yes";
}

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

function canonicalUuid(raw: string, file: string, what: string): string {
  const s = raw.trim();
  if (!UUID_RE.test(s)) throw new InputError(`${file}: ${what}: '${raw}' is not a UUID`, file);
  const h = s.replace(/-/g, "").toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function readHostdev(el: XmlElement, file: string, what: string): DevBody {
  const mode = el.attrs.mode ?? "subsystem";
  const type = el.attrs.type;
  const guestAddress = guestAddr(el);
  const source = child(el, "source");
  const base = {
    element: "hostdev" as const,
    mode,
    ...(type !== undefined ? { type } : {}),
    guestAddress,
    ...common(el, file, what),
  };

  if (mode === "capabilities") {
    const parts: string[] = [type ?? "?"];
    for (const c of source?.children ?? []) {
      const t = c.text.trim();
      if (t) parts.push(t);
    }
    return { ...base, kind: "capabilities", detail: parts.join(" ") };
  }
  if (mode !== "subsystem") {
    throw new InputError(
      `${file}: ${what}: unknown hostdev mode '${mode}' (expected subsystem or capabilities)`,
      file,
    );
  }
  switch (type) {
    case "pci": {
      const addr = child(source, "address");
      if (!addr) throw new InputError(`${file}: ${what}: PCI hostdev has no <source><address .../>`, file);
      return {
        ...base,
        kind: "pci",
        hostAddress: pciAddressFromAttrs(addr.attrs, file, `${what} <source><address>`),
        managed: managedAttr(el),
      };
    }
    case "mdev": {
      const uuid = child(source, "address")?.attrs.uuid;
      if (uuid === undefined) {
        throw new InputError(`${file}: ${what}: mdev hostdev has no <source><address uuid='...'/>`, file);
      }
      const out: Omit<MdevHostdev, "id" | "alias" | "kindIndex"> = {
        ...base,
        kind: "mdev",
        mdevUuid: canonicalUuid(uuid, file, `${what} mdev uuid`),
      };
      if (el.attrs.model !== undefined) out.mdevModel = el.attrs.model;
      if (el.attrs.display !== undefined) out.display = el.attrs.display;
      if (el.attrs.ramfb !== undefined) out.ramfb = el.attrs.ramfb;
      return out;
    }
    case "usb": {
      const usb: UsbHostdev["usb"] = {};
      const vid = child(source, "vendor")?.attrs.id;
      const pid = child(source, "product")?.attrs.id;
      if (vid !== undefined) usb.vendorId = normaliseId16(vid, file, `${what} USB vendor id`);
      if (pid !== undefined) usb.productId = normaliseId16(pid, file, `${what} USB product id`);
      const a = child(source, "address");
      if (a) {
        for (const k of ["bus", "device"] as const) {
          const raw = a.attrs[k];
          if (raw === undefined) continue;
          const v = parseLibvirtUInt(raw);
          if (v === undefined)
            throw new InputError(`${file}: ${what}: USB address ${k}='${raw}' is not a number`, file);
          usb[k] = String(v);
        }
      }
      const byId = usb.vendorId !== undefined && usb.productId !== undefined;
      const byAddr = usb.bus !== undefined && usb.device !== undefined;
      if (!byId && !byAddr) {
        throw new InputError(
          `${file}: ${what}: USB hostdev needs <source> with <vendor id>/<product id> or <address bus device>`,
          file,
        );
      }
      return { ...base, kind: "usb", usb, managed: managedAttr(el) };
    }
    case "scsi": {
      let detail: string;
      const adapter = child(source, "adapter")?.attrs.name;
      if (source?.attrs.protocol) {
        const host = child(source, "host");
        detail = `${source.attrs.protocol} ${source.attrs.name ?? ""}${host?.attrs.name ? ` on ${host.attrs.name}` : ""}`;
      } else {
        const a = child(source, "address")?.attrs ?? {};
        detail = `${adapter ?? "?"}:${a.bus ?? "?"}:${a.target ?? "?"}:${a.unit ?? "?"}`;
      }
      return { ...base, kind: "scsi", detail: detail.trim(), managed: managedAttr(el) };
    }
    case "scsi_host": {
      const detail = `${source?.attrs.protocol ?? "?"} ${source?.attrs.wwpn ?? ""}`.trim();
      return { ...base, kind: "scsi_host", detail, managed: managedAttr(el) };
    }
    default:
      throw new InputError(
        `${file}: ${what}: unknown hostdev type '${type ?? ""}' (expected pci, mdev, usb, scsi or scsi_host)`,
        file,
      );
  }
}

function readVlan(el: XmlElement): Vlan | undefined {
  const v = child(el, "vlan");
  if (!v) return undefined;
  const tags = childrenNamed(v, "tag").map((t) => {
    const tag: { id: string; nativeMode?: string } = { id: t.attrs.id ?? "" };
    if (t.attrs.nativeMode !== undefined) tag.nativeMode = t.attrs.nativeMode;
    return tag;
  });
  const out: Vlan = { tags };
  if (v.attrs.trunk !== undefined) out.trunk = v.attrs.trunk === "yes";
  return out;
}

function readInterface(el: XmlElement, file: string, what: string): DevBody | null {
  const type = el.attrs.type;
  if (type !== "hostdev" && type !== "network" && type !== "vdpa") return null;
  const source = child(el, "source");
  const mac = child(el, "mac")?.attrs.address;
  const vlan = readVlan(el);
  const base = {
    element: "interface" as const,
    type,
    guestAddress: guestAddr(el),
    ...common(el, file, what),
    ...(mac !== undefined ? { mac: mac.toLowerCase() } : {}),
    ...(vlan ? { vlan } : {}),
  };

  if (type === "network") {
    const net = source?.attrs.network;
    if (!net)
      throw new InputError(
        `${file}: ${what}: <interface type='network'> has no <source network='...'/>`,
        file,
      );
    return { ...base, kind: "network", network: net };
  }
  if (type === "vdpa") {
    return { ...base, kind: "vdpa", detail: `vdpa ${source?.attrs.dev ?? "?"}` };
  }
  // type='hostdev'
  const addr = child(source, "address");
  if (!addr)
    throw new InputError(`${file}: ${what}: <interface type='hostdev'> has no <source><address .../>`, file);
  const out: Omit<InterfaceDevice, "id" | "alias" | "kindIndex"> = {
    ...base,
    kind: "interface",
    managed: managedAttr(el),
  };
  // Live XML of an interface on a hostdev network pool may name the network too.
  if (source?.attrs.network) out.network = source.attrs.network;
  const atype = addr.attrs.type ?? "pci";
  if (atype === "pci") {
    out.hostAddress = pciAddressFromAttrs(addr.attrs, file, `${what} <source><address>`);
  } else {
    // e.g. type='usb': not a PCI function; kept without a host address.
    out.detail = `${atype} ${Object.entries(addr.attrs)
      .filter(([k]) => k !== "type")
      .map(([k, v]) => `${k}=${v}`)
      .join(",")}`;
  }
  return out;
}

// ---- guest address keys --------------------------------------------------------

/**
 * A stable key for a guest-visible <address>: `pci:DDDD:BB:SS.F`,
 * `ccw:cssid.ssid.devno` (lower-case hex, devno 4 digits, no 0x),
 * `usb:bus.port`, `drive:controller.bus.target.unit`, otherwise
 * `type:` followed by the other attributes sorted (`k=v,k=v`).
 */
export function guestAddressKey(attrs: Record<string, string> | null): string | null {
  if (!attrs) return null;
  const type = attrs.type ?? "";
  const num = (k: string, dflt: number | undefined): number | undefined => {
    const raw = attrs[k];
    if (raw === undefined) return dflt;
    return parseLibvirtUInt(raw);
  };
  const hex = (n: number, w = 1) => n.toString(16).padStart(w, "0");
  if (type === "pci") {
    const d = num("domain", 0);
    const b = num("bus", 0);
    const s = num("slot", undefined);
    const f = num("function", 0);
    if (d !== undefined && b !== undefined && s !== undefined && f !== undefined) {
      return `pci:${hex(d, 4)}:${hex(b, 2)}:${hex(s, 2)}.${hex(f)}`;
    }
  } else if (type === "ccw") {
    // libvirt reads ccw attributes as hex even without 0x.
    const hx = (k: string): number | undefined => {
      const raw = attrs[k];
      if (raw === undefined) return undefined;
      const s = raw.trim().replace(/^0[xX]/, "");
      return /^[0-9a-fA-F]+$/.test(s) ? Number.parseInt(s, 16) : undefined;
    };
    const c = hx("cssid");
    const ss = hx("ssid");
    const dn = hx("devno");
    if (c !== undefined && ss !== undefined && dn !== undefined)
      return `ccw:${hex(c)}.${hex(ss)}.${hex(dn, 4)}`;
  } else if (type === "usb") {
    const b = num("bus", undefined);
    if (b !== undefined && attrs.port !== undefined) return `usb:${b}.${attrs.port}`;
  } else if (type === "drive") {
    const parts = ["controller", "bus", "target", "unit"].map((k) => num(k, 0));
    if (parts.every((p) => p !== undefined)) return `drive:${parts.join(".")}`;
  }
  const rest = Object.keys(attrs)
    .filter((k) => k !== "type")
    .sort()
    .map((k) => `${k}=${attrs[k]}`)
    .join(",");
  return `${type}:${rest}`;
}

// ---- planner metadata ----------------------------------------------------------

function readPlan(plan: XmlElement, scope: NsScope, file: string): PlannerDeviceMeta[] {
  const out: PlannerDeviceMeta[] = [];
  for (const d of plan.children) {
    const ds = extendScope(scope, d);
    const r = resolveName(ds, d);
    if (r.ns !== HDPLAN_NS || r.local !== "device") continue;
    const id = d.attrs.id;
    if (!id) throw new InputError(`${file}: hdplan metadata: <device> without an id attribute`, file);
    const kind = d.attrs.kind as DeviceKind | undefined;
    if (!kind || !KINDS.includes(kind)) {
      throw new InputError(
        `${file}: hdplan metadata: device '${id}' has unknown kind '${d.attrs.kind ?? ""}'`,
        file,
      );
    }
    let descriptor: DescriptorData | null = null;
    for (const c of d.children) {
      const cr = resolveName(extendScope(ds, c), c);
      if (cr.ns === HDPLAN_NS && cr.local === "descriptor") {
        const t = c.text.trim();
        if (t !== "") descriptor = parseDescriptorJson(t, file, id);
        break;
      }
    }
    const m: PlannerDeviceMeta = { id, kind, guestAddress: d.attrs["guest-address"] ?? null, descriptor };
    if (d.attrs["mdev-type"] !== undefined) m.mdevType = d.attrs["mdev-type"];
    if (d.attrs["pci-ids"] !== undefined) m.pciIds = d.attrs["pci-ids"];
    if (d.attrs.firmware !== undefined) m.firmware = d.attrs.firmware;
    if (d.attrs.psid !== undefined) m.psid = d.attrs.psid;
    if (d.attrs["vgpu-type"] !== undefined) m.vgpuType = d.attrs["vgpu-type"];
    out.push(m);
  }
  return out;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v as Record<string, unknown>).every((x) => typeof x === "string")
  );
}

function parseDescriptorJson(text: string, file: string, id: string): DescriptorData {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new InputError(
      `${file}: hdplan metadata: descriptor of device '${id}' is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      file,
    );
  }
  const o = v as { self?: unknown; compatible?: unknown };
  const compatible = o?.compatible ?? [];
  if (
    typeof v !== "object" ||
    v === null ||
    !isStringRecord(o.self) ||
    !Array.isArray(compatible) ||
    !compatible.every(isStringRecord)
  ) {
    throw new InputError(
      `${file}: hdplan metadata: descriptor of device '${id}' must be {"self": {key: string}, "compatible": [{key: string}]}`,
      file,
    );
  }
  return { self: { ...o.self }, compatible: (compatible as SectionData[]).map((s) => ({ ...s })) };
}
