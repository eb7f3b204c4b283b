/**
 * Small helpers shared by the XML readers: libvirt-style integers, PCI
 * addresses, USB ids and namespace-aware element names.
 */
import { InputError } from "../errors.js";
import type { XmlElement } from "./parse.js";

/** Value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * The common spellings without a regex: `0x` + 1-8 hex digits, or 1-9
 * decimal digits not starting with 0 (or "0" itself). undefined: not one of
 * those, so the caller takes the general path (same answers, tested).
 */
function quickUInt(s: string): number | undefined {
  const n = s.length;
  if (n >= 3 && n <= 10 && s.charCodeAt(0) === 48 && (s.charCodeAt(1) | 32) === 120) {
    let v = 0;
    for (let k = 2; k < n; k++) {
      const d = hexDigit(s.charCodeAt(k));
      if (d < 0) return undefined;
      v = v * 16 + d;
    }
    return v;
  }
  if (n >= 1 && n <= 9 && (n === 1 || s.charCodeAt(0) !== 48)) {
    let v = 0;
    for (let k = 0; k < n; k++) {
      const c = s.charCodeAt(k);
      if (c < 48 || c > 57) return undefined;
      v = v * 10 + (c - 48);
    }
    return v;
  }
  return undefined;
}

/**
 * Parse an unsigned integer the way libvirt reads address attributes
 * (strtol with base 0): `0x1f` is hex, a leading `0` is octal, else decimal.
 * Returns undefined when the text is not such a number.
 */
export function parseLibvirtUInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const q = quickUInt(text);
  if (q !== undefined) return q;
  const s = text.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else if (/^0[0-7]+$/.test(s)) n = Number.parseInt(s.slice(1), 8);
  else if (/^[0-9]+$/.test(s)) n = Number.parseInt(s, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A decimal integer (node device XML children such as <bus>2</bus>); a 0x prefix is tolerated. */
export function parseDecimalUInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // (quickUInt leaves "010" to the general path: decimal here, octal in parseLibvirtUInt.)
  const q = quickUInt(text);
  if (q !== undefined) return q;
  const s = text.trim();
  let n: number;
  if (/^[0-9]+$/.test(s)) n = Number.parseInt(s, 10);
  else if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Format a PCI address as DDDD:BB:SS.F (lower-case hex). */
export function formatPciAddress(domain: number, bus: number, slot: number, fn: number): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
  return `${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn.toString(16)}`;
}

/**
 * PCI address from an <address domain= bus= slot= function=> element's
 * attributes. domain and function default to 0 (as in libvirt); bus and slot
 * are required. `what` names the place for error messages.
 */
export function pciAddressFromAttrs(attrs: Record<string, string>, file: string, what: string): string {
  return pciAddress(attrs.domain, attrs.bus, attrs.slot, attrs.function, file, what);
}

/** pciAddressFromAttrs with the four attribute values (undefined: absent) given one by one. */
export function pciAddress(
  domain: string | undefined,
  bus: string | undefined,
  slot: string | undefined,
  fn: string | undefined,
  file: string,
  what: string,
): string {
  // The same few thousand addresses recur in every host of a fleet: remember
  // the ones already read. Only valid ones are remembered (a bad one throws
  // below, every time), so the cache cannot change an answer.
  // Joined by NUL, an absent attribute is U+0001: no attribute value can hold
  // either (the scanner refuses control characters), so keys cannot collide.
  const key = `${domain ?? "\u0001"}\0${bus ?? "\u0001"}\0${slot ?? "\u0001"}\0${fn ?? "\u0001"}`;
  const known = ADDRESSES.get(key);
  if (known !== undefined) return known;
  const a = parsePciAddress(domain, bus, slot, fn, file, what);
  if (ADDRESSES.size >= MAX_ADDRESSES) ADDRESSES.clear();
  ADDRESSES.set(key, a);
  return a;
}

const ADDRESSES = new Map<string, string>();
const MAX_ADDRESSES = 100_000;

function parsePciAddress(
  rawDomain: string | undefined,
  rawBus: string | undefined,
  rawSlot: string | undefined,
  rawFn: string | undefined,
  file: string,
  what: string,
): string {
  const num = (k: string, raw: string | undefined, dflt?: number): number => {
    if (raw === undefined) {
      if (dflt !== undefined) return dflt;
      throw new InputError(`${file}: ${what}: PCI address has no '${k}' attribute`, file);
    }
    const n = parseLibvirtUInt(raw);
    if (n === undefined)
      throw new InputError(`${file}: ${what}: PCI address ${k}='${raw}' is not a number`, file);
    return n;
  };
  const domain = num("domain", rawDomain, 0);
  const bus = num("bus", rawBus);
  const slot = num("slot", rawSlot);
  const fn = num("function", rawFn, 0);
  if (slot > 0x1f)
    throw new InputError(`${file}: ${what}: PCI slot ${rawSlot} is out of range (max 0x1f)`, file);
  if (fn > 7) throw new InputError(`${file}: ${what}: PCI function ${rawFn} is out of range (max 7)`, file);
  return formatPciAddress(domain, bus, slot, fn);
}

/**
 * Normalise a USB or PCI vendor/product id (`0x8086`, `8086`, `0X8086`) to
 * 4 lower-case hex digits. Throws InputError on anything else.
 */
export function normaliseId16(raw: string, file: string, what: string): string {
  // The usual spelling, 0x + four lower-case hex digits, is already normal.
  if (raw.length === 6 && raw.charCodeAt(0) === 48 && raw.charCodeAt(1) === 120) {
    let ok = true;
    for (let k = 2; k < 6; k++) {
      const c = raw.charCodeAt(k);
      if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) ok = false;
    }
    if (ok) return raw.slice(2);
  }
  const s = raw.trim().replace(/^0[xX]/, "");
  if (!/^[0-9a-fA-F]{1,4}$/.test(s)) {
    throw new InputError(`${file}: ${what}: '${raw}' is not a 16-bit hex id (expected e.g. 0x8086)`, file);
  }
  return s.toLowerCase().padStart(4, "0");
}

// ---- namespaces --------------------------------------------------------------

export function splitName(name: string): { prefix: string | null; local: string } {
  const i = name.indexOf(":");
  return i < 0 ? { prefix: null, local: name } : { prefix: name.slice(0, i), local: name.slice(i + 1) };
}

/** Namespace scope: prefix ("" for the default namespace) -> URI. */
export type NsScope = ReadonlyMap<string, string>;

export function extendScope(scope: NsScope, el: XmlElement): NsScope {
  let out: Map<string, string> | null = null;
  for (const [k, v] of Object.entries(el.attrs)) {
    if (k === "xmlns" || k.startsWith("xmlns:")) {
      out ??= new Map(scope);
      out.set(k === "xmlns" ? "" : k.slice(6), v);
    }
  }
  return out ?? scope;
}

/** Namespace URI and local name of an element within a scope (call extendScope first). */
export function resolveName(
  scope: NsScope,
  el: XmlElement,
): { ns: string | null; prefix: string | null; local: string } {
  const { prefix, local } = splitName(el.name);
  const ns = scope.get(prefix ?? "") ?? null;
  return { ns, prefix, local };
}
