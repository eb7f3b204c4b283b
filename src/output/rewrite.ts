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
import type { AssignedDevice, DescriptorData, DeviceKind } from "../model.js";
import { HDPLAN_NS, guestAddressKey, readDomain } from "../xml/domain.js";

/** An element located in the text: [start, end) of the whole element. */
export interface TextElement {
  name: string;
  start: number;
  /** Index just after the '>' of the open tag. */
  openEnd: number;
  /** Index just after the element (after '/>' or the close tag). */
  end: number;
  selfClosing: boolean;
  /** Start of the close tag ('</name>'), or openEnd - 2 for a self-closing tag. */
  closeStart: number;
  children: TextElement[];
}

export class RewriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RewriteError";
  }
}

/**
 * Scan element positions. The text is expected to be well-formed (callers
 * read it with readDomain first); comments, CDATA, PIs are skipped.
 */
export function scanElements(text: string): TextElement[] {
  const roots: TextElement[] = [];
  const stack: TextElement[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf("<", i);
    if (lt < 0) break;
    if (text.startsWith("<!--", lt)) {
      const e = text.indexOf("-->", lt + 4);
      if (e < 0) throw new RewriteError("unterminated comment");
      i = e + 3;
      continue;
    }
    if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt + 9);
      if (e < 0) throw new RewriteError("unterminated CDATA section");
      i = e + 3;
      continue;
    }
    if (text.startsWith("<?", lt) || text.startsWith("<!", lt)) {
      const e = text.indexOf(">", lt + 2);
      if (e < 0) throw new RewriteError("unterminated declaration");
      i = e + 1;
      continue;
    }
    if (text[lt + 1] === "/") {
      const e = text.indexOf(">", lt + 2);
      if (e < 0) throw new RewriteError("unterminated close tag");
      const name = text.slice(lt + 2, e).trim();
      const top = stack.pop();
      if (!top || top.name !== name) throw new RewriteError(`mismatched close tag </${name}>`);
      top.closeStart = lt;
      top.end = e + 1;
      i = e + 1;
      continue;
    }
    // open tag: find the closing '>' outside quotes
    let j = lt + 1;
    let quote = "";
    for (; j < n; j++) {
      const c = text[j];
      if (quote) {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ">") break;
    }
    if (j >= n) throw new RewriteError("unterminated open tag");
    const m = /^<([^\s/>]+)/.exec(text.slice(lt, Math.min(j + 1, lt + 256)));
    const name = m?.[1] ?? "";
    const selfClosing = text[j - 1] === "/";
    const el: TextElement = {
      name,
      start: lt,
      openEnd: j + 1,
      end: j + 1,
      selfClosing,
      closeStart: selfClosing ? j - 1 : -1,
      children: [],
    };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else roots.push(el);
    if (!selfClosing) stack.push(el);
    i = j + 1;
  }
  if (stack.length > 0) throw new RewriteError(`unclosed element <${stack[stack.length - 1]!.name}>`);
  return roots;
}

function one(els: TextElement[], what: string): TextElement {
  if (els.length !== 1) {
    throw new RewriteError(`${what}: expected exactly one element, found ${els.length}`);
  }
  return els[0]!;
}

function kids(el: TextElement, name: string): TextElement[] {
  return el.children.filter((c) => c.name === name);
}

function attrValue(text: string, el: TextElement, name: string): string | undefined {
  return parseAttrs(text, el).find((a) => a.name === name)?.value;
}

interface AttrSpan {
  name: string;
  value: string;
  /** [valueStart, valueEnd) in the text (inside the quotes). */
  valueStart: number;
  valueEnd: number;
}

function parseAttrs(text: string, el: TextElement): AttrSpan[] {
  const tag = text.slice(el.start, el.openEnd);
  const re = /\s([^\s=/>]+)\s*=\s*("([^"]*)"|'([^']*)')/g;
  const out: AttrSpan[] = [];
  for (let m = re.exec(tag); m; m = re.exec(tag)) {
    const raw = m[2]!;
    const valueStart = el.start + m.index + m[0].length - raw.length + 1;
    const value = m[3] ?? m[4] ?? "";
    out.push({ name: m[1]!, value, valueStart, valueEnd: valueStart + value.length });
  }
  return out;
}

export function escapeXmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeXmlAttr(s: string): string {
  return escapeXmlText(s).replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of sorted) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return out;
}

/** Set (replace or add) attributes on an element's open tag. */
function setAttrsEdits(text: string, el: TextElement, values: [string, string][]): Edit[] {
  const attrs = parseAttrs(text, el);
  const edits: Edit[] = [];
  const added: string[] = [];
  for (const [k, v] of values) {
    const found = attrs.filter((a) => a.name === k);
    if (found.length > 1) throw new RewriteError(`attribute ${k} appears twice on <${el.name}>`);
    if (found[0]) {
      if (found[0].value !== v)
        edits.push({ start: found[0].valueStart, end: found[0].valueEnd, text: escapeXmlAttr(v) });
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
  el: TextElement;
}

function domainRoot(text: string): TextElement {
  const roots = scanElements(text);
  return one(
    roots.filter((r) => r.name === "domain"),
    "<domain>",
  );
}

/** Pair the devices of readDomain with their element spans in the text. */
export function locateDevices(text: string, file = "<domain>"): LocatedDevice[] {
  const info = readDomain(text, file);
  const root = domainRoot(text);
  const devices = kids(root, "devices");
  const els: TextElement[] = [];
  for (const d of devices[0]?.children ?? []) {
    if (d.name === "hostdev") els.push(d);
    else if (d.name === "interface") {
      const t = attrValue(text, d, "type");
      if (t === "hostdev" || t === "network" || t === "vdpa") els.push(d);
    }
  }
  if (els.length !== info.devices.length) {
    throw new RewriteError(
      `${file}: found ${els.length} device elements but ${info.devices.length} assigned devices`,
    );
  }
  return info.devices.map((dev, i) => ({ dev, el: els[i]! }));
}

function findDevice(text: string, deviceId: string, kinds: DeviceKind[]): TextElement {
  const all = locateDevices(text).filter((l) => l.dev.id === deviceId);
  const l = one(
    all.map((x) => x.el),
    `device ${deviceId}`,
  );
  const dev = all[0]!.dev;
  if (!kinds.includes(dev.kind)) {
    throw new RewriteError(`device ${deviceId} is a ${dev.kind} device, expected ${kinds.join(" or ")}`);
  }
  return l;
}

function sourceAddress(el: TextElement, deviceId: string): TextElement {
  const src = one(kids(el, "source"), `device ${deviceId} <source>`);
  return one(kids(src, "address"), `device ${deviceId} <source><address>`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Set an mdev hostdev's <source><address uuid='…'/>. */
export function setMdevUuid(text: string, deviceId: string, uuid: string): string {
  if (!UUID_RE.test(uuid)) throw new RewriteError(`'${uuid}' is not a UUID`);
  const el = findDevice(text, deviceId, ["mdev"]);
  const addr = sourceAddress(el, deviceId);
  const cur = attrValue(text, addr, "uuid");
  if (cur !== undefined && cur.toLowerCase() === uuid.toLowerCase()) return text;
  return applyEdits(text, setAttrsEdits(text, addr, [["uuid", uuid.toLowerCase()]]));
}

const PCI_RE = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/**
 * Set the host PCI address of a PCI hostdev or <interface type='hostdev'>.
 * Attributes are written as libvirt formats them (domain='0x0000' bus='0x3b'
 * slot='0x00' function='0x1'); an address that is already equal is left as is.
 */
export function setPciSource(text: string, deviceId: string, address: string): string {
  const m = PCI_RE.exec(address);
  if (!m) throw new RewriteError(`'${address}' is not a PCI address DDDD:BB:SS.F`);
  const el = findDevice(text, deviceId, ["pci", "interface"]);
  const addr = sourceAddress(el, deviceId);
  const cur = locateDevices(text).find((l) => l.dev.id === deviceId)?.dev.hostAddress;
  if (cur === address.toLowerCase()) return text;
  const values: [string, string][] = [
    ["domain", `0x${m[1]!.toLowerCase()}`],
    ["bus", `0x${m[2]!.toLowerCase()}`],
    ["slot", `0x${m[3]!.toLowerCase()}`],
    ["function", `0x${m[4]!}`],
  ];
  return applyEdits(text, setAttrsEdits(text, addr, values));
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

function isHdplanPlan(text: string, el: TextElement, metadata: TextElement, domain: TextElement): boolean {
  const [prefix, local] = el.name.includes(":") ? el.name.split(":", 2) : [null, el.name];
  if (local !== "plan") return false;
  const decl = prefix ? `xmlns:${prefix}` : "xmlns";
  for (const e of [el, metadata, domain]) {
    const v = attrValue(text, e, decl);
    if (v !== undefined) return v === HDPLAN_NS;
  }
  return false;
}

const BEFORE_METADATA = ["name", "uuid", "genid", "title", "description"];

/**
 * Insert or replace the hdplan <hdplan:plan> element inside <metadata>;
 * create <metadata> after <name>/<uuid>/<genid>/<title>/<description> when missing.
 */
export function setPlanMetadata(text: string, devices: PlanMetaDevice[], plannedFor?: PlannedFor): string {
  const root = domainRoot(text);
  const metas = kids(root, "metadata");
  if (metas.length > 1)
    throw new RewriteError(`<metadata>: expected at most one element, found ${metas.length}`);
  const md = metas[0];
  if (md) {
    const plans = md.children.filter((c) => isHdplanPlan(text, c, md, root));
    if (plans.length > 1)
      throw new RewriteError(`<hdplan:plan>: expected at most one element, found ${plans.length}`);
    const mdIndent = lineIndent(text, md.start);
    const step = mdIndent.length > 0 ? mdIndent : "  ";
    const existing = plans[0];
    if (existing) {
      const ind = lineIndent(text, existing.start) || mdIndent + step;
      return applyEdits(text, [
        {
          start: existing.start,
          end: existing.end,
          text: planMetadataElement(devices, ind, step, plannedFor),
        },
      ]);
    }
    const ind = mdIndent + step;
    const el = planMetadataElement(devices, ind, step, plannedFor);
    if (md.selfClosing) {
      return applyEdits(text, [
        { start: md.start, end: md.end, text: `<metadata>\n${ind}${el}\n${mdIndent}</metadata>` },
      ]);
    }
    // insert before </metadata>, after trailing whitespace of the last child
    let p = md.closeStart;
    while (p > md.openEnd && /[ \t]/.test(text[p - 1]!)) p--;
    const nl = text[p - 1] === "\n" ? "" : "\n";
    return applyEdits(text, [{ start: p, end: p, text: `${nl}${ind}${el}\n` }]);
  }
  const before = root.children.filter((c) => BEFORE_METADATA.includes(c.name));
  const last = before[before.length - 1];
  if (!last) throw new RewriteError("<domain> has no <name>: cannot place <metadata>");
  const ind = lineIndent(text, last.start);
  const step = ind.length > 0 ? ind : "  ";
  const el = planMetadataElement(devices, ind + step, step, plannedFor);
  return applyEdits(text, [
    { start: last.end, end: last.end, text: `\n${ind}<metadata>\n${ind}${step}${el}\n${ind}</metadata>` },
  ]);
}

/**
 * The hook's mark on the <hdplan:plan> element of an XML it allowed:
 * checked-on-host="<libvirt host UUID or host key>". The destination then runs
 * XML that shows the hook's verdict (`virsh dumpxml`). Unchanged text when the
 * XML has no hdplan plan element.
 */
export function markPlanChecked(text: string, checkedOn: string): string {
  const root = domainRoot(text);
  const md = kids(root, "metadata")[0];
  const plan = md?.children.find((c) => isHdplanPlan(text, c, md, root));
  if (!plan) return text;
  return applyEdits(text, setAttrsEdits(text, plan, [["checked-on-host", checkedOn]]));
}

/** Metadata record of one device of `text` (ids, guest addresses as that document has them). */
export function metaDevicesFor(
  text: string,
  file: string,
  info: (dev: AssignedDevice) => {
    descriptor: DescriptorData | null;
    mdevType?: string;
    pciIds?: string;
    firmware?: string;
    psid?: string;
    vgpuType?: string;
  } | null,
): PlanMetaDevice[] {
  const out: PlanMetaDevice[] = [];
  for (const dev of readDomain(text, file).devices) {
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

// ---- ABI safety check ---------------------------------------------------------------

function stripForCompare(text: string, file: string): string {
  const root = domainRoot(text);
  const edits: Edit[] = [];
  for (const l of locateDevices(text, file)) {
    for (const s of kids(l.el, "source")) edits.push({ start: s.start, end: s.end, text: "<source/>" });
  }
  for (const md of kids(root, "metadata")) {
    for (const c of md.children)
      if (isHdplanPlan(text, c, md, root)) edits.push({ start: c.start, end: c.end, text: "" });
  }
  // Whitespace between elements is not content (libvirt reformats it): a
  // document written without any (`<a><b/></a>`) compares equal to the
  // indented rewrite.
  return applyEdits(text, edits)
    .replace(/>\s+</g, "><")
    .replace(/<metadata>\s*<\/metadata>|<metadata\/>/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Throw unless `after` differs from `before` only in the host-side <source>
 * of assigned devices and the hdplan metadata element (whitespace aside):
 * guest addresses, MACs, device count and types, <driver> stay the same.
 */
export function assertOnlySourcesChanged(before: string, after: string, file = "<domain>"): void {
  const a = readDomain(before, file).devices;
  const b = readDomain(after, `${file} (rewritten)`).devices;
  if (a.length !== b.length)
    throw new RewriteError(`${file}: device count changed (${a.length} -> ${b.length})`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const same =
      x.id === y.id &&
      x.kind === y.kind &&
      x.mac === y.mac &&
      x.driverName === y.driverName &&
      JSON.stringify(x.guestAddress) === JSON.stringify(y.guestAddress);
    if (!same) throw new RewriteError(`${file}: guest-visible parts of device ${x.id} changed`);
  }
  if (stripForCompare(before, file) !== stripForCompare(after, file)) {
    throw new RewriteError(`${file}: the rewritten XML differs outside device sources and hdplan metadata`);
  }
}
