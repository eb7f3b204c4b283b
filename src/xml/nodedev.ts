/**
 * Node device XML reader (virsh nodedev-dumpxml, formatnode.rst): one
 * <device>, several concatenated <device> roots, or a <devices> wrapper.
 *
 * It reads the flat XmlDoc of the scanner (src/xml/scan.ts), not a tree of
 * objects: only the names, attribute values and texts read below become
 * strings. Node device files are almost all of what a fleet's dumps hold, so
 * this is the hot path of a cold plan. test/xml/nodedev.test.ts checks it
 * reads the same models as the tree reader it replaced
 * (test/helpers/reference-nodedev.ts), and fails on the same files.
 */
import { InputError } from "../errors.js";
import type { IommuGroup, MdevCap, MdevType, NetCap, NodeDevice, PciCap, UsbCap } from "../model.js";
import { flatString } from "../strings.js";
import { formatPciAddress, normaliseId16, parseDecimalUInt, pciAddress } from "./address.js";
import { parseXmlDoc, type XmlDoc } from "./parse.js";
import type { ElementMemo } from "./scan.js";

export function readNodeDevices(text: string, file: string): NodeDevice[] {
  if (memo !== null && !primed) primeMemoPaths();
  return readWith(text, file, memo);
}

/** Whether primeMemoPaths has run on this thread. */
let primed = false;

/**
 * Run the memo's paths once, on a throwaway memo and two documents of two
 * copies of one device, before the first real file: the second document's
 * are found by the scanner's look-up (src/xml/scan.ts scanDoc) and handed
 * out here.
 * Without this, the first file a thread reads (the source host's dump, with
 * nothing in the memo to find) is long enough for V8 to optimise scanDoc
 * (on-stack replacement) with no type feedback for the memo's path; the
 * second host's first device found by the memo then deoptimised it, and V8
 * compiled it four times a thread in all (an aborted job included), ~160 ms
 * of its optimising compiler's time a thread (docs/benchmarks.md "Twelfth
 * session"). What the real memo holds is not touched; the result is
 * dropped (and so is any error: priming changes no answer).
 */
function primeMemoPaths(): void {
  primed = true;
  const dev = `${MEMO_PRIMING_DEVICE}\n`;
  try {
    const m = new DeviceMemo();
    readWith(dev + dev, "(memo priming)", m); // seen, then kept
    readWith(dev + dev, "(memo priming)", m); // found by the scanner, twice
  } catch {
    // never expected; priming only feeds V8 type feedback
  }
}

/** The device primeMemoPaths reads (exported for the test that it leaves the real memo alone). */
export const MEMO_PRIMING_DEVICE =
  "<device>\n  <name>pci_0000_00_00_0</name>\n  <path>/sys/devices/pci0000:00/0000:00:00.0</path>\n" +
  "  <capability type='pci'>\n    <class>0x060000</class>\n    <domain>0</domain>\n    <bus>0</bus>\n" +
  "    <slot>0</slot>\n    <function>0</function>\n    <product id='0x1450'/>\n    <vendor id='0x1022'/>\n" +
  "  </capability>\n</device>";

function readWith(text: string, file: string, m: DeviceMemo | null): NodeDevice[] {
  // Several concatenated <device> documents (a `virsh nodedev-dumpxml` loop),
  // each possibly with its own XML declaration: several roots, one pass.
  // The document lives in the scanner's scratch arrays: read to the end
  // before anything else is scanned (nothing below scans).
  // One device a file, read before: no scan at all (DeviceMemo.whole).
  const whole = m?.whole(text);
  if (whole !== undefined) {
    m!.follow(whole);
    return [whole.value];
  }
  const d = parseXmlDoc(text, file, m ? { multiRoot: true, memo: m } : true, true);
  const out: NodeDevice[] = [];
  const read = (e: number): void => {
    let k = d.known(e) as Kept | undefined;
    if (k !== undefined) out.push(k.value);
    else {
      const dev = ownFrozen(readNodeDevice(d, e, file));
      out.push(dev);
      if (m && d.topLevel(e)) {
        const [s, end] = d.span(e);
        k = m.keep(text.slice(s, end), dev);
      }
    }
    if (k !== undefined) m!.follow(k);
  };
  for (const r of d.roots) {
    if (d.is(r, "devices")) {
      for (let c = d.first(r); c >= 0; c = d.next(c)) read(c);
    } else {
      read(r);
    }
  }
  return out;
}

// ---- the device memo -----------------------------------------------------------

/**
 * Devices already read, by the exact text of their <device> element. The
 * hosts of a fleet are alike: of the bench fleet's 207,200 device elements
 * (1,000 hosts) 28,473 texts are distinct, and 87% of the bytes repeat one
 * read before. The scanner recognises such an element (ElementMemo in
 * src/xml/scan.ts: the same text, at the top level, in no namespace scope,
 * is the same well-formed element) and this reader hands out the device it
 * read from that text before: reading is a function of the element's text
 * alone (the file name appears only in errors, and a device that fails to
 * read is never kept).
 *
 * So one device object may stand in several hosts' inventories: every
 * device this reader returns is frozen, deeply, and code that changes one
 * (the hook's live sysfs overlay) works on a copy (copyDevice). A change
 * made by mistake throws a TypeError instead of reaching another host.
 *
 * Finding an entry: first the one that followed the previous entry the
 * last time (hosts list their devices in the same order: one compare of the
 * text, no search), past devices not held and from one file to the next
 * (follow), else by the text from the open tag to the element's own
 * close tag (closeOf; V8 hashes and compares it natively; a key of the
 * first 64 characters and a list of texts to compare was 4x slower,
 * String.startsWith being slow here). A device named after its own
 * identifier is neither looked up nor kept (namedUniquely).
 *
 * Memory: a text is kept only the second time it is read (the first time,
 * only its hash is noted), so the texts each host has alone never fill the
 * memo; with the strings' own copies (ownFrozen) that took a cold
 * evacuation of the bench fleet from 476-490 to 339-358 MiB peak RSS (the
 * second-sight rule alone: to 432-451). Two generations bound the rest: when the young map holds
 * GENERATION entries it becomes the old one, the old one is dropped, and an
 * old entry found again moves back; no entry points to a dropped one.
 */
class DeviceMemo implements ElementMemo {
  readonly open = OPEN;
  constructor(private readonly generation = GENERATION) {}
  private young = new Map<string, Kept>();
  private old = new Map<string, Kept>();
  private gen = 0;
  /** Hashes of the texts read once (a collision only keeps a text sooner). */
  private seen = new Set<number>();
  /** The entry last found by lookup, or met by follow: the next look-up tries its `next` first. */
  private last: Kept | undefined;
  /** The entry follow met last. */
  private prev: Kept | undefined;

  lookup(text: string, at: number): Kept | undefined {
    const p = this.last?.next;
    if (p !== undefined && text.slice(at, at + p.text.length) === p.text) return this.found(p);
    if (namedUniquely(text, at)) return undefined;
    const end = closeOf(text, at);
    return end < 0 ? undefined : this.held(text.slice(at, end));
  }

  /**
   * The entry whose text is the whole document but for white space after it
   * (the one-file-a-device layout), or undefined. Such a document is well
   * formed, and reads as that one device: its only root is an element that
   * was scanned whole before at the top level with no namespace declared
   * around it (as a root here it has none either), and what follows it is
   * white space, which a document may end with (XML 1.0 [1], [27]). A
   * document with anything else (a byte order mark, an XML declaration, a
   * comment, leading space) is scanned as before.
   */
  whole(text: string): Kept | undefined {
    if (!text.startsWith(this.open)) return undefined;
    let end = text.length;
    for (
      let c = text.charCodeAt(end - 1);
      c === 10 || c === 32 || c === 13 || c === 9;
      c = text.charCodeAt(end - 1)
    )
      end--;
    if (end > LONGEST) return undefined;
    const span = end === text.length ? text : text.slice(0, end);
    const p = this.last?.next;
    if (p !== undefined && p.text === span) return this.found(p);
    return namedUniquely(span, 0) ? undefined : this.held(span);
  }

  /** The entry of exactly this text, found, or undefined (then the entry before still foretells the next element). */
  private held(span: string): Kept | undefined {
    const k = this.young.get(span) ?? this.old.get(span);
    return k === undefined ? undefined : this.found(k);
  }

  /** k found: in the current generation, and the entry the next look-up is foretold from. */
  private found(k: Kept): Kept {
    if (k.gen !== this.gen) this.put(k);
    this.last = k;
    return k;
  }

  /**
   * The reader met entry k (found, or just kept), in document order, after
   * the scan: k becomes the `next` of the entry met before it, past devices
   * not held (a disk's serial, a MAC address) and from one document to the
   * next (one file a device, or one host after another), so that the
   * element after such a device, or in the next file, is still foretold.
   */
  follow(k: Kept): void {
    if (this.prev !== undefined) this.prev.next = k;
    this.prev = k;
    this.last = k;
  }

  /**
   * Keep the device read from `text`: the whole text of an element scanned
   * whole at the top level. Kept the second time its text is read: a text
   * met once (a disk's serial number, a NIC's MAC address: ~28 a bench
   * host) is only remembered by its hash, not held with its device.
   */
  keep(text: string, device: NodeDevice): Kept | undefined {
    if (text.length > LONGEST || !text.startsWith(this.open)) return undefined;
    // Found by the text up to the close tag closeOf finds: only such a text can be found.
    if (closeOf(text, 0) !== text.length) return undefined;
    if (namedUniquely(text, 0)) return undefined;
    const h = fnv1a(text);
    if (!this.seen.has(h)) {
      if (this.seen.size >= SEEN) this.seen.clear();
      this.seen.add(h);
      return undefined;
    }
    // A copy of the text, not a slice that would keep the whole file alive.
    const k: Kept = { text: flatString(text), value: device, next: undefined, gen: 0 };
    SHARED.add(device);
    this.put(k);
    return k;
  }

  /** Entries held: at most two generations. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  private put(k: Kept): void {
    if (this.young.size >= this.generation) {
      this.gen++;
      for (const o of this.young.values())
        if (o.next !== undefined && o.next.gen < this.gen - 1) o.next = undefined;
      this.old = this.young;
      this.young = new Map();
    }
    k.gen = this.gen;
    this.young.set(k.text, k);
  }
}

/**
 * The devices a memo has held: the objects that may stand in more than one
 * host's inventory. Long-lived (old-generation) keys only, so this set costs
 * the garbage collector nothing per host, unlike a weak map keyed by every
 * device read.
 */
const SHARED = new WeakSet<NodeDevice>();

/** Whether `d` is a device the memo held, so that other hosts' inventories may hold the same object. */
export function isMemoShared(d: NodeDevice): boolean {
  return SHARED.has(d);
}

interface Kept {
  readonly text: string;
  readonly value: NodeDevice;
  /** The entry of the element that followed this one the last time. */
  next: Kept | undefined;
  /** The generation it was last put in. */
  gen: number;
}

/**
 * Whether the <device> element at `at` has a name that embeds an identifier
 * of that one device, so that no other host's dump holds its text: the
 * names libvirt's udev backend gives (src/node_device/node_device_udev.c)
 * to a network interface (net_<ifname>_<MAC>), a disk (block_<dev>_<serial>,
 * storage_serial_<serial>, storage_model_...) and a mediated device
 * (mdev_<UUID>), and `computer`, which carries the host's own system UUID.
 * Such a text is neither looked up nor kept: on the bench fleet 23,173
 * texts, 3 of them read twice, each of which cost a native hash, a
 * JavaScript hash (fnv1a) and a set entry. A wrong guess only costs a scan:
 * the memo answers as a read without it would, whatever it holds.
 */
function namedUniquely(text: string, at: number): boolean {
  const n = text.indexOf("<name>", at + 8);
  if (n < 0 || n > at + 40) return false; // the name is the first child, after some white space
  const s = n + 6;
  switch (text.charCodeAt(s)) {
    case 110: // n
      return text.startsWith("net_", s);
    case 98: // b
      return text.startsWith("block_", s);
    case 115: // s
      return text.startsWith("storage_", s);
    case 109: // m
      return text.startsWith("mdev_", s);
    case 99: // c
      return text.startsWith("computer</name>", s);
    default:
      return false;
  }
}

/** 32-bit FNV-1a of the UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return h >>> 0;
}

const CLOSE = "</device>";
const OPEN = "<device>";

/**
 * Where the <device> element opened at `at` ends (just past its close tag),
 * or -1: the key a text is held and looked up by. A USB device's capability
 * has a text-only <device> child of its own (its number on the bus), so a
 * close tag right after a plain <device> open tag and a few characters of
 * text is that child's, and the element's is the next one (before the
 * ninth session the bench fleet's 15,772 USB devices were never held). It
 * looks back from each close tag to the nearest "<" (a few characters), not
 * forward through the element: counting every open tag doubled the search
 * (1.6% of a cold plan, profiled). A text this misjudges (a <device> child
 * with children of its own) is only found by its whole text, compared by
 * the scanner, or not kept: keep holds a text only when this finds its end
 * at the text's end.
 */
function closeOf(text: string, at: number): number {
  let pos = at + OPEN.length;
  for (;;) {
    const close = text.indexOf(CLOSE, pos);
    if (close < 0) return -1;
    const lt = text.lastIndexOf("<", close - 1);
    if (!(lt > at && close - lt <= INNER_MAX && text.startsWith(OPEN, lt))) return close + CLOSE.length;
    pos = close + CLOSE.length; // a <device>text</device> child: the element goes on
  }
}
/** The longest text-only <device> child closeOf looks past (open tag and text). */
const INNER_MAX = 40;
/** Texts read once that are remembered (by hash) before the set starts afresh. */
const SEEN = 200_000;
/** Entries per generation: ~2 KB each (text and model), so at most ~64 MB a thread for two. */
const GENERATION = 16_384;
/** Longer texts are read each time (V8 hashes a string over 16,383 characters by its length alone). */
const LONGEST = 16_000;

let kept = new DeviceMemo();
let memo: DeviceMemo | null = kept;

/**
 * For tests that compare both ways: turn the device memo off or back on,
 * what it holds kept; `fresh`: empty it (of `generation` entries a
 * generation). Returns how many entries it holds.
 */
export function useDeviceMemo(on: boolean, fresh = false, generation = GENERATION): number {
  if (fresh) kept = new DeviceMemo(generation);
  memo = on ? kept : null;
  return kept.size;
}

/**
 * Freeze a device deeply, and give it its own copy of each string: a
 * string sliced from the file text (13 characters or more, in V8) keeps the
 * whole text alive, so a device held by the memo, or by an evacuation's
 * inventories, pinned its host's ~130 KB file (measured: the memo's 4,704
 * devices of the bench fleet held 74 MB).
 */
function ownFrozen<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (typeof x === "string") o[k] = flatString(x);
      else ownFrozen(x);
    }
    Object.freeze(v);
  }
  return v;
}

/** A copy of a device that can be changed: deep, of plain data (objects, arrays, strings, numbers, booleans, null). */
export function copyDevice(dev: NodeDevice): NodeDevice {
  return copyData(dev) as NodeDevice;
}

function copyData(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return v.map(copyData);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    const x = copyData((v as Record<string, unknown>)[key]);
    if (key === "__proto__")
      Object.defineProperty(out, key, { value: x, enumerable: true, writable: true, configurable: true });
    else out[key] = x;
  }
  return out;
}

function readNodeDevice(d: XmlDoc, el: number, file: string): NodeDevice {
  if (!d.is(el, "device")) {
    throw new InputError(
      `${file}: expected node device XML (root element <device>), found <${d.name(el)}>`,
      file,
    );
  }
  const name = d.childText(el, "name");
  if (!name) throw new InputError(`${file}: node device XML has no <name>`, file);
  const what = `node device '${name}'`;
  const drv = d.child(el, "driver");
  const dev: NodeDevice = {
    name,
    driver: (drv >= 0 ? d.childText(drv, "name") : undefined) ?? null,
    caps: [],
  };
  const path = d.childText(el, "path");
  if (path !== undefined) dev.path = path;
  const parent = d.childText(el, "parent");
  if (parent !== undefined) dev.parent = parent;

  for (let cap = d.first(el); cap >= 0; cap = d.next(cap)) {
    if (!d.is(cap, "capability")) continue;
    const type = d.attr(cap, "type");
    if (!type) throw new InputError(`${file}: ${what}: <capability> without a type attribute`, file);
    dev.caps.push(type);
    switch (type) {
      case "pci":
        dev.pci ??= readPci(d, cap, file, what);
        break;
      case "mdev":
        dev.mdev ??= readMdev(d, cap, file, what);
        break;
      case "css": {
        const addr = readCcwAddr(d, cap, file, what);
        const cda = d.child(cap, "channel_dev_addr");
        if (cda >= 0) readCcwAddr(d, cda, file, `${what} <channel_dev_addr>`);
        dev.css ??= { ...addr, mdevTypes: nestedMdevTypes(d, cap, file, what) };
        break;
      }
      case "ccw":
        readCcwAddr(d, cap, file, what);
        break;
      case "ap_matrix":
        dev.apMatrix ??= { mdevTypes: nestedMdevTypes(d, cap, file, what) };
        break;
      case "usb_device":
        dev.usb ??= readUsb(d, cap, file, what);
        break;
      case "net":
        dev.net ??= readNet(d, cap);
        break;
      default:
        break;
    }
  }
  return dev;
}

/** PCI address of an <address domain= bus= slot= function=> element. */
function addressOf(d: XmlDoc, a: number, file: string, what: string): string {
  return pciAddress(
    d.attr(a, "domain"),
    d.attr(a, "bus"),
    d.attr(a, "slot"),
    d.attr(a, "function"),
    file,
    what,
  );
}

// ---- pci -----------------------------------------------------------------------

function readPci(d: XmlDoc, cap: number, file: string, what: string): PciCap {
  const part = (k: string): number => {
    const raw = d.childText(cap, k);
    if (raw === undefined) {
      throw new InputError(`${file}: ${what}: PCI capability has no <${k}> (address incomplete)`, file);
    }
    const n = parseDecimalUInt(raw);
    if (n === undefined)
      throw new InputError(`${file}: ${what}: PCI <${k}>${raw}</${k}> is not a number`, file);
    return n;
  };
  const address = formatPciAddress(part("domain"), part("bus"), part("slot"), part("function"));
  const vendor = d.child(cap, "vendor");
  const product = d.child(cap, "product");
  const vendorId = vendor >= 0 ? d.attr(vendor, "id") : undefined;
  const productId = product >= 0 ? d.attr(product, "id") : undefined;
  if (vendorId === undefined || productId === undefined) {
    throw new InputError(
      `${file}: ${what}: PCI capability needs <vendor id='...'> and <product id='...'>`,
      file,
    );
  }
  const pci: PciCap = {
    address,
    vendorId: normaliseId16(vendorId, file, `${what} PCI vendor id`),
    productId: normaliseId16(productId, file, `${what} PCI product id`),
    virtFunctions: [],
    mdevTypes: [],
  };
  const cls = d.childText(cap, "class");
  if (cls !== undefined) pci.class = cls.toLowerCase();
  const vn = d.trimmed(vendor);
  if (vn !== undefined) pci.vendorName = vn;
  const pn = d.trimmed(product);
  if (pn !== undefined) pci.productName = pn;
  const ig = d.child(cap, "iommuGroup");
  if (ig >= 0) {
    const raw = d.attr(ig, "number");
    const num = parseDecimalUInt(raw);
    if (num === undefined) {
      throw new InputError(`${file}: ${what}: <iommuGroup number='${raw ?? ""}'> is not a number`, file);
    }
    const group: IommuGroup = { number: num, members: [] };
    for (let a = d.first(ig); a >= 0; a = d.next(a))
      if (d.is(a, "address")) group.members.push(addressOf(d, a, file, `${what} iommuGroup`));
    pci.iommuGroup = group;
  }
  const numaEl = d.child(cap, "numa");
  const numa = parseDecimalUInt(numaEl >= 0 ? d.attr(numaEl, "node") : undefined);
  if (numa !== undefined) pci.numaNode = numa;

  for (let sub = d.first(cap); sub >= 0; sub = d.next(sub)) {
    if (!d.is(sub, "capability")) continue;
    switch (d.attr(sub, "type")) {
      case "phys_function": {
        const a = d.child(sub, "address");
        if (a >= 0) pci.physFunction = addressOf(d, a, file, `${what} phys_function`);
        break;
      }
      case "virt_functions": {
        for (let a = d.first(sub); a >= 0; a = d.next(a))
          if (d.is(a, "address")) pci.virtFunctions.push(addressOf(d, a, file, `${what} virt_functions`));
        const max = parseDecimalUInt(d.attr(sub, "maxCount"));
        if (max !== undefined) pci.virtFunctionsMax = max;
        break;
      }
      case "mdev_types":
        readMdevTypes(d, sub, file, what, pci.mdevTypes);
        break;
      case "vpd":
        pci.vpd = readVpd(d, sub);
        break;
      default:
        break;
    }
  }
  return pci;
}

/** VPD as a flat record: `name`, `readonly.<field>`, `readwrite.<field>`, `*.vendor_field.<index>`. */
function readVpd(d: XmlDoc, cap: number): Record<string, string> {
  const out: Record<string, string> = {};
  const name = d.childText(cap, "name");
  if (name !== undefined) out.name = name;
  for (let fields = d.first(cap); fields >= 0; fields = d.next(fields)) {
    if (!d.is(fields, "fields")) continue;
    const access = d.attr(fields, "access") ?? "unknown";
    for (let f = d.first(fields); f >= 0; f = d.next(f)) {
      const idx = d.attr(f, "index");
      const key = idx !== undefined ? `${access}.${d.name(f)}.${idx}` : `${access}.${d.name(f)}`;
      out[key] = d.content(f).trim();
    }
  }
  return out;
}

// ---- mdev types ------------------------------------------------------------------

/** The <type> children of an mdev_types capability, appended to `out`. */
function readMdevTypes(d: XmlDoc, cap: number, file: string, what: string, out: MdevType[]): void {
  for (let t = d.first(cap); t >= 0; t = d.next(t)) {
    if (!d.is(t, "type")) continue;
    const id = d.attr(t, "id");
    if (!id) throw new InputError(`${file}: ${what}: mdev_types <type> without an id attribute`, file);
    const mt: MdevType = { id };
    const name = d.childText(t, "name");
    if (name !== undefined) mt.name = name;
    const api = d.childText(t, "deviceAPI");
    if (api !== undefined) mt.deviceAPI = api;
    const raw = d.childText(t, "availableInstances");
    if (raw !== undefined && /^[0-9]+$/.test(raw)) {
      const n = Number.parseInt(raw, 10);
      if (Number.isSafeInteger(n)) mt.availableInstances = n;
    }
    out.push(mt);
  }
}

function nestedMdevTypes(d: XmlDoc, cap: number, file: string, what: string): MdevType[] {
  const out: MdevType[] = [];
  for (let sub = d.first(cap); sub >= 0; sub = d.next(sub)) {
    if (d.is(sub, "capability") && d.attr(sub, "type") === "mdev_types")
      readMdevTypes(d, sub, file, what, out);
  }
  return out;
}

// ---- mdev --------------------------------------------------------------------------

function readMdev(d: XmlDoc, cap: number, file: string, what: string): MdevCap {
  const typeEl = d.child(cap, "type");
  const type = typeEl >= 0 ? d.attr(typeEl, "id") : undefined;
  if (!type) throw new InputError(`${file}: ${what}: mdev capability has no <type id='...'/>`, file);
  const m: MdevCap = { type, attrs: [] };
  for (let a = d.first(cap); a >= 0; a = d.next(a))
    if (d.is(a, "attr")) m.attrs.push({ name: d.attr(a, "name") ?? "", value: d.attr(a, "value") ?? "" });
  const uuid = d.childText(cap, "uuid");
  if (uuid !== undefined) m.uuid = uuid.toLowerCase();
  const ig = d.child(cap, "iommuGroup");
  if (ig >= 0) {
    const raw = d.attr(ig, "number");
    const n = parseDecimalUInt(raw);
    if (n === undefined) {
      throw new InputError(`${file}: ${what}: <iommuGroup number='${raw ?? ""}'> is not a number`, file);
    }
    m.iommuGroup = n;
  }
  return m;
}

// ---- css / ccw ---------------------------------------------------------------------

const CCW_LIMITS: [string, number][] = [
  ["cssid", 0xfe],
  ["ssid", 0x3],
  ["devno", 0xffff],
];

/** cssid/ssid/devno (hex, as libvirt writes them), range-checked like libvirt does. */
function readCcwAddr(
  d: XmlDoc,
  el: number,
  file: string,
  what: string,
): { cssid?: string; ssid?: string; devno?: string } {
  const out: { cssid?: string; ssid?: string; devno?: string } = {};
  for (const [k, max] of CCW_LIMITS) {
    const raw = d.childText(el, k);
    if (raw === undefined) continue;
    const s = raw.replace(/^0[xX]/, "");
    const n = /^[0-9a-fA-F]+$/.test(s) ? Number.parseInt(s, 16) : Number.NaN;
    if (!Number.isFinite(n) || n > max) {
      throw new InputError(
        `${file}: ${what}: ${k} '${raw}' is not a valid value (hex, at most 0x${max.toString(16)})`,
        file,
      );
    }
    out[k as "cssid" | "ssid" | "devno"] = raw;
  }
  return out;
}

// ---- usb / net -----------------------------------------------------------------------

function readUsb(d: XmlDoc, cap: number, file: string, what: string): UsbCap {
  const vendor = d.child(cap, "vendor");
  const product = d.child(cap, "product");
  const vendorId = vendor >= 0 ? d.attr(vendor, "id") : undefined;
  const productId = product >= 0 ? d.attr(product, "id") : undefined;
  if (vendorId === undefined || productId === undefined) {
    throw new InputError(`${file}: ${what}: usb_device capability needs <vendor id> and <product id>`, file);
  }
  const u: UsbCap = {
    vendorId: normaliseId16(vendorId, file, `${what} USB vendor id`),
    productId: normaliseId16(productId, file, `${what} USB product id`),
  };
  const bus = parseDecimalUInt(d.childText(cap, "bus"));
  if (bus !== undefined) u.bus = bus;
  const device = parseDecimalUInt(d.childText(cap, "device"));
  if (device !== undefined) u.device = device;
  const vn = d.trimmed(vendor);
  if (vn !== undefined) u.vendorName = vn;
  const pn = d.trimmed(product);
  if (pn !== undefined) u.productName = pn;
  return u;
}

function readNet(d: XmlDoc, cap: number): NetCap {
  const n: NetCap = { interface: d.childText(cap, "interface") ?? "" };
  const addr = d.childText(cap, "address");
  if (addr !== undefined) n.address = addr.toLowerCase();
  const link = d.child(cap, "link");
  const state = link >= 0 ? d.attr(link, "state") : undefined;
  if (state !== undefined) n.linkState = state;
  return n;
}
