/**
 * Tiny XML *text* rewrites of a domain document, in the style of Nova's
 * libvirt/migration.py: only the attributes or element that must change are
 * touched, everything else stays byte-for-byte identical (libvirt refuses a
 * destination XML whose guest-visible parts differ).
 *
 * Devices are located the way src/xml/domain.ts numbers them: the <hostdev>
 * and <interface> children of <domain><devices> in document order, id = the
 * <alias name> when present, else kind + index within kind. Every function
 * throws when the element to change is not found exactly once.
 */
import {
  type AssignedDevice,
  type DescriptorData,
  type DeviceKind,
  type DomainInfo,
  hostPciAddress,
  macOf,
} from "../model.js";
import { HDPLAN_NS, guestAddressKey, readDomainElement } from "../xml/domain.js";
import { parseXml } from "../xml/parse.js";
import { type ScannedElement, attrSpan } from "../xml/scan.js";

export class RewriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RewriteError";
  }
}

/**
 * One domain document read once: its text, the scanner's tree (with source
 * offsets) and, on first use, its devices paired with their elements. Every
 * updater below works on it; rewriteDomain applies their edits together.
 */
export class DomainDoc {
  readonly root: ScannedElement;
  #info: DomainInfo | undefined;
  #located: LocatedDevice[] | undefined;

  constructor(
    readonly text: string,
    readonly file = "<domain>",
  ) {
    this.root = parseXml(text, file);
  }

  /** The document as readDomain reads it. */
  get info(): DomainInfo {
    this.#info ??= readDomainElement(this.root, this.file);
    return this.#info;
  }

  /** The <domain> element (the rewrite works on domain documents only). */
  get domain(): ScannedElement {
    if (this.root.name !== "domain")
      throw new RewriteError("<domain>: expected exactly one element, found 0");
    return this.root;
  }

  get located(): LocatedDevice[] {
    this.#located ??= locate(this);
    return this.#located;
  }
}

function one<T>(els: T[], what: string): T {
  if (els.length !== 1) {
    throw new RewriteError(`${what}: expected exactly one element, found ${els.length}`);
  }
  return els[0]!;
}

function kids(el: ScannedElement, name: string): ScannedElement[] {
  return el.children.filter((c) => c.name === name);
}

export function escapeXmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeXmlAttr(s: string): string {
  return escapeXmlText(s).replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** Replace [start, end) of the source text with `text`. */
export interface Edit {
  start: number;
  end: number;
  text: string;
}

/**
 * One small change to a document (Nova's libvirt/migration.py model): it
 * looks at the parsed document and returns the edits it needs, none when the
 * document already says so.
 */
export type Updater = (doc: DomainDoc) => Edit[];

/** Apply non-overlapping edits (insertions at one point keep their order). */
export function applyEdits(text: string, edits: Edit[]): string {
  if (edits.length === 0) return text;
  const sorted = edits.map((e, k) => ({ e, k })).sort((x, y) => x.e.start - y.e.start || x.k - y.k);
  let out = "";
  let at = 0;
  for (const { e } of sorted) {
    if (e.start < at) throw new RewriteError("two changes to the same part of the document");
    out += text.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + text.slice(at);
}

/** Set (replace or add) attributes on an element's open tag. */
function setAttrsEdits(text: string, el: ScannedElement, values: [string, string][]): Edit[] {
  const edits: Edit[] = [];
  const added: string[] = [];
  for (const [k, v] of values) {
    const span = attrSpan(el, k);
    if (span) {
      if (el.attrs[k] !== v) edits.push({ start: span[0], end: span[1], text: escapeXmlAttr(v) });
    } else {
      added.push(` ${k}='${escapeXmlAttr(v)}'`);
    }
  }
  if (added.length) {
    const at = el.selfClosing ? el.closeStart : el.openEnd - 1;
    // keep a space before '/>' if there was one: insert right after the last attribute
    let p = at;
    while (p > el.start && /\s/.test(text[p - 1]!)) p--;
    edits.push({ start: p, end: p, text: added.join("") });
  }
  return edits;
}

// ---- device location ----------------------------------------------------------

export interface LocatedDevice {
  dev: AssignedDevice;
  el: ScannedElement;
}

/** Pair the devices of readDomain with their elements (see the module comment). */
function locate(doc: DomainDoc): LocatedDevice[] {
  const info = doc.info;
  const root = doc.domain;
  const devices = kids(root, "devices");
  const els: ScannedElement[] = [];
  for (const d of devices[0]?.children ?? []) {
    if (d.name === "hostdev") els.push(d);
    else if (d.name === "interface") {
      const t = d.attrs.type;
      if (t === "hostdev" || t === "network" || t === "vdpa") els.push(d);
    }
  }
  if (els.length !== info.devices.length) {
    throw new RewriteError(
      `${doc.file}: found ${els.length} device elements but ${info.devices.length} assigned devices`,
    );
  }
  return info.devices.map((dev, i) => ({ dev, el: els[i]! }));
}

/** Pair the devices of readDomain with their element spans in the text. */
export function locateDevices(text: string, file = "<domain>"): LocatedDevice[] {
  return new DomainDoc(text, file).located;
}

function findDevice(doc: DomainDoc, deviceId: string, kinds: DeviceKind[]): LocatedDevice {
  const all = doc.located.filter((l) => l.dev.id === deviceId);
  const l = one(all, `device ${deviceId}`);
  if (!kinds.includes(l.dev.kind)) {
    throw new RewriteError(`device ${deviceId} is a ${l.dev.kind} device, expected ${kinds.join(" or ")}`);
  }
  return l;
}

function sourceAddress(el: ScannedElement, deviceId: string): ScannedElement {
  const src = one(kids(el, "source"), `device ${deviceId} <source>`);
  return one(kids(src, "address"), `device ${deviceId} <source><address>`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Updater: an mdev hostdev's <source><address uuid='…'/>. */
export function mdevUuidUpdater(deviceId: string, uuid: string): Updater {
  if (!UUID_RE.test(uuid)) throw new RewriteError(`'${uuid}' is not a UUID`);
  return (doc) => {
    const addr = sourceAddress(findDevice(doc, deviceId, ["mdev"]).el, deviceId);
    const cur = addr.attrs.uuid;
    if (cur !== undefined && cur.toLowerCase() === uuid.toLowerCase()) return [];
    return setAttrsEdits(doc.text, addr, [["uuid", uuid.toLowerCase()]]);
  };
}

const PCI_RE = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/**
 * Updater: the host PCI address of a PCI hostdev or <interface type='hostdev'>.
 * Attributes are written as libvirt formats them (domain='0x0000' bus='0x3b'
 * slot='0x00' function='0x1'); an address that is already equal is left as is.
 */
export function pciSourceUpdater(deviceId: string, address: string): Updater {
  const m = PCI_RE.exec(address);
  if (!m) throw new RewriteError(`'${address}' is not a PCI address DDDD:BB:SS.F`);
  return (doc) => {
    const l = findDevice(doc, deviceId, ["pci", "interface"]);
    const addr = sourceAddress(l.el, deviceId);
    if (hostPciAddress(l.dev) === address.toLowerCase()) return [];
    const values: [string, string][] = [
      ["domain", `0x${m[1]!.toLowerCase()}`],
      ["bus", `0x${m[2]!.toLowerCase()}`],
      ["slot", `0x${m[3]!.toLowerCase()}`],
      ["function", `0x${m[4]!}`],
    ];
    return setAttrsEdits(doc.text, addr, values);
  };
}

/** Set an mdev hostdev's <source><address uuid='…'/>. */
export function setMdevUuid(text: string, deviceId: string, uuid: string): string {
  const up = mdevUuidUpdater(deviceId, uuid);
  return applyEdits(text, up(new DomainDoc(text)));
}

/** Set the host PCI address of a PCI hostdev or <interface type='hostdev'> (see pciSourceUpdater). */
export function setPciSource(text: string, deviceId: string, address: string): string {
  const up = pciSourceUpdater(deviceId, address);
  return applyEdits(text, up(new DomainDoc(text)));
}

// ---- planner metadata ---------------------------------------------------------------

export interface PlanMetaDevice {
  id: string;
  kind: DeviceKind;
  guestAddress: string | null;
  mdevType?: string;
  pciIds?: string;
  firmware?: string;
  psid?: string;
  vgpuType?: string;
  descriptor: DescriptorData | null;
}

/** The host an XML was planned for (--write-dest-xml): host key and libvirt host UUID when known. */
export interface PlannedFor {
  host: string;
  hostUuid?: string | null;
}

/** The <hdplan:plan> element (no leading indentation, inner lines indented from `indent`). */
export function planMetadataElement(
  devices: PlanMetaDevice[],
  indent = "    ",
  step = "  ",
  plannedFor?: PlannedFor,
): string {
  let planAttrs = "";
  if (plannedFor) {
    planAttrs += ` planned-for-host="${escapeXmlAttr(plannedFor.host)}"`;
    if (plannedFor.hostUuid) planAttrs += ` planned-for-host-uuid="${escapeXmlAttr(plannedFor.hostUuid)}"`;
  }
  const lines = [`<hdplan:plan xmlns:hdplan="${HDPLAN_NS}"${planAttrs}>`];
  for (const d of devices) {
    let attrs = `id="${escapeXmlAttr(d.id)}" kind="${d.kind}"`;
    if (d.guestAddress !== null) attrs += ` guest-address="${escapeXmlAttr(d.guestAddress)}"`;
    if (d.mdevType !== undefined) attrs += ` mdev-type="${escapeXmlAttr(d.mdevType)}"`;
    if (d.pciIds !== undefined) attrs += ` pci-ids="${escapeXmlAttr(d.pciIds)}"`;
    if (d.firmware !== undefined) attrs += ` firmware="${escapeXmlAttr(d.firmware)}"`;
    if (d.psid !== undefined) attrs += ` psid="${escapeXmlAttr(d.psid)}"`;
    if (d.vgpuType !== undefined) attrs += ` vgpu-type="${escapeXmlAttr(d.vgpuType)}"`;
    if (d.descriptor) {
      lines.push(`${indent}${step}<hdplan:device ${attrs}>`);
      const json = JSON.stringify({ self: d.descriptor.self, compatible: d.descriptor.compatible });
      lines.push(`${indent}${step}${step}<hdplan:descriptor>${escapeXmlText(json)}</hdplan:descriptor>`);
      lines.push(`${indent}${step}</hdplan:device>`);
    } else {
      lines.push(`${indent}${step}<hdplan:device ${attrs}/>`);
    }
  }
  lines.push(`${indent}</hdplan:plan>`);
  return lines.join("\n");
}

function lineIndent(text: string, pos: number): string {
  const ls = text.lastIndexOf("\n", pos - 1) + 1;
  const ws = /^[ \t]*/.exec(text.slice(ls, pos))?.[0] ?? "";
  return ls + ws.length === pos ? ws : "";
}

function isHdplanPlan(el: ScannedElement, metadata: ScannedElement, domain: ScannedElement): boolean {
  const [prefix, local] = el.name.includes(":") ? el.name.split(":", 2) : [null, el.name];
  if (local !== "plan") return false;
  const decl = prefix ? `xmlns:${prefix}` : "xmlns";
  for (const e of [el, metadata, domain]) {
    const v = e.attrs[decl];
    if (v !== undefined) return v === HDPLAN_NS;
  }
  return false;
}

const BEFORE_METADATA = ["name", "uuid", "genid", "title", "description"];

/**
 * Updater: insert or replace the hdplan <hdplan:plan> element inside
 * <metadata>; create <metadata> after <name>/<uuid>/<genid>/<title>/<description> when missing.
 */
export function planMetadataUpdater(devices: PlanMetaDevice[], plannedFor?: PlannedFor): Updater {
  return (doc) => {
    const text = doc.text;
    const root = doc.domain;
    const metas = kids(root, "metadata");
    if (metas.length > 1)
      throw new RewriteError(`<metadata>: expected at most one element, found ${metas.length}`);
    const md = metas[0];
    if (md) {
      const plans = md.children.filter((c) => isHdplanPlan(c, md, root));
      if (plans.length > 1)
        throw new RewriteError(`<hdplan:plan>: expected at most one element, found ${plans.length}`);
      const mdIndent = lineIndent(text, md.start);
      const step = mdIndent.length > 0 ? mdIndent : "  ";
      const existing = plans[0];
      if (existing) {
        const ind = lineIndent(text, existing.start) || mdIndent + step;
        return [
          {
            start: existing.start,
            end: existing.end,
            text: planMetadataElement(devices, ind, step, plannedFor),
          },
        ];
      }
      const ind = mdIndent + step;
      const el = planMetadataElement(devices, ind, step, plannedFor);
      if (md.selfClosing) {
        return [{ start: md.start, end: md.end, text: `<metadata>\n${ind}${el}\n${mdIndent}</metadata>` }];
      }
      // insert before </metadata>, after trailing whitespace of the last child
      let p = md.closeStart;
      while (p > md.openEnd && /[ \t]/.test(text[p - 1]!)) p--;
      const nl = text[p - 1] === "\n" ? "" : "\n";
      return [{ start: p, end: p, text: `${nl}${ind}${el}\n` }];
    }
    const before = root.children.filter((c) => BEFORE_METADATA.includes(c.name));
    const last = before[before.length - 1];
    if (!last) throw new RewriteError("<domain> has no <name>: cannot place <metadata>");
    const ind = lineIndent(text, last.start);
    const step = ind.length > 0 ? ind : "  ";
    const el = planMetadataElement(devices, ind + step, step, plannedFor);
    return [
      { start: last.end, end: last.end, text: `\n${ind}<metadata>\n${ind}${step}${el}\n${ind}</metadata>` },
    ];
  };
}

/** Insert or replace the hdplan <hdplan:plan> element (see planMetadataUpdater). */
export function setPlanMetadata(text: string, devices: PlanMetaDevice[], plannedFor?: PlannedFor): string {
  return applyEdits(text, planMetadataUpdater(devices, plannedFor)(new DomainDoc(text)));
}

/**
 * Updater: the hook's mark on the <hdplan:plan> element of an XML it allowed:
 * checked-on-host="<libvirt host UUID or host key>". The destination then runs
 * XML that shows the hook's verdict (`virsh dumpxml`). No edit when the XML
 * has no hdplan plan element.
 */
export function planCheckedUpdater(checkedOn: string): Updater {
  return (doc) => {
    const root = doc.domain;
    const md = kids(root, "metadata")[0];
    const plan = md?.children.find((c) => isHdplanPlan(c, md, root));
    return plan ? setAttrsEdits(doc.text, plan, [["checked-on-host", checkedOn]]) : [];
  };
}

/** The hook's mark (see planCheckedUpdater); unchanged text without an hdplan plan element. */
export function markPlanChecked(text: string, checkedOn: string): string {
  return applyEdits(text, planCheckedUpdater(checkedOn)(new DomainDoc(text)));
}

/** What the caller knows of one device for its metadata record. */
export type MetaRecord = Omit<PlanMetaDevice, "id" | "kind" | "guestAddress">;
type MetaInfo = (dev: AssignedDevice) => MetaRecord | null;

/** Metadata records of `devices` (ids, guest addresses as the document has them). */
export function metaDevicesOf(devices: AssignedDevice[], info: MetaInfo): PlanMetaDevice[] {
  const out: PlanMetaDevice[] = [];
  for (const dev of devices) {
    const i = info(dev);
    if (!i) continue;
    const m: PlanMetaDevice = {
      id: dev.id,
      kind: dev.kind,
      guestAddress: guestAddressKey(dev.guestAddress),
      descriptor: i.descriptor,
    };
    if (i.mdevType !== undefined) m.mdevType = i.mdevType;
    if (i.pciIds !== undefined) m.pciIds = i.pciIds;
    if (i.firmware !== undefined) m.firmware = i.firmware;
    if (i.psid !== undefined) m.psid = i.psid;
    if (i.vgpuType !== undefined) m.vgpuType = i.vgpuType;
    out.push(m);
  }
  return out;
}

/** Metadata record of one device of `text` (ids, guest addresses as that document has them). */
export function metaDevicesFor(text: string, file: string, info: MetaInfo): PlanMetaDevice[] {
  return metaDevicesOf(new DomainDoc(text, file).info.devices, info);
}

/**
 * Parse `text` once, collect the edits of every updater, apply them, and
 * verify the result once (verifyOnlySourcesChanged). A DomainDoc already
 * read by the caller is not read again.
 */
export function rewriteDomain(doc: string | DomainDoc, file: string, updaters: Updater[]): string {
  const d = typeof doc === "string" ? new DomainDoc(doc, file) : doc;
  const edits = updaters.flatMap((u) => u(d));
  const out = applyEdits(d.text, edits);
  verifyOnlySourcesChanged(d, out);
  return out;
}

// ---- ABI safety check ---------------------------------------------------------------

function stripForCompare(doc: DomainDoc): string {
  const root = doc.domain;
  const edits: Edit[] = [];
  for (const l of doc.located) {
    for (const s of kids(l.el, "source")) edits.push({ start: s.start, end: s.end, text: "<source/>" });
  }
  for (const md of kids(root, "metadata")) {
    for (const c of md.children)
      if (isHdplanPlan(c, md, root)) edits.push({ start: c.start, end: c.end, text: "" });
  }
  // Whitespace between elements is not content (libvirt reformats it): a
  // document written without any (`<a><b/></a>`) compares equal to the
  // indented rewrite.
  return applyEdits(doc.text, edits)
    .replace(/>\s+</g, "><")
    .replace(/<metadata>\s*<\/metadata>|<metadata\/>/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/** assertOnlySourcesChanged with the original already read: the result is parsed once. */
export function verifyOnlySourcesChanged(before: DomainDoc, after: string): void {
  const file = before.file;
  const a = before.info.devices;
  const afterDoc = after === before.text ? before : new DomainDoc(after, `${file} (rewritten)`);
  const b = afterDoc.info.devices;
  if (a.length !== b.length)
    throw new RewriteError(`${file}: device count changed (${a.length} -> ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const same =
      x.id === y.id &&
      x.kind === y.kind &&
      macOf(x) === macOf(y) &&
      x.driverName === y.driverName &&
      JSON.stringify(x.guestAddress) === JSON.stringify(y.guestAddress);
    if (!same) throw new RewriteError(`${file}: guest-visible parts of device ${x.id} changed`);
  }
  if (stripForCompare(before) !== stripForCompare(afterDoc)) {
    throw new RewriteError(`${file}: the rewritten XML differs outside device sources and hdplan metadata`);
  }
}

/**
 * Throw unless `after` differs from `before` only in the host-side <source>
 * of assigned devices and the hdplan metadata element (whitespace aside):
 * guest addresses, MACs, device count and types, <driver> stay the same.
 */
export function assertOnlySourcesChanged(before: string, after: string, file = "<domain>"): void {
  verifyOnlySourcesChanged(new DomainDoc(before, file), after);
}
