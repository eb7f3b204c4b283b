/**
 * Small helpers shared by the XML readers: libvirt-style integers, PCI
 * addresses, USB ids and namespace-aware element names.
 */
import { InputError } from "../errors.js";
import type { XmlElement } from "./parse.js";

/**
 * Parse an unsigned integer the way libvirt reads address attributes
 * (strtol with base 0): `0x1f` is hex, a leading `0` is octal, else decimal.
 * Returns undefined when the text is not such a number.
 */
export function parseLibvirtUInt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
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
  const num = (k: string, dflt?: number): number => {
    const raw = attrs[k];
    if (raw === undefined) {
      if (dflt !== undefined) return dflt;
      throw new InputError(`${file}: ${what}: PCI address has no '${k}' attribute`, file);
    }
    const n = parseLibvirtUInt(raw);
    if (n === undefined)
      throw new InputError(`${file}: ${what}: PCI address ${k}='${raw}' is not a number`, file);
    return n;
  };
  const domain = num("domain", 0);
  const bus = num("bus");
  const slot = num("slot");
  const fn = num("function", 0);
  if (slot > 0x1f)
    throw new InputError(`${file}: ${what}: PCI slot ${attrs.slot} is out of range (max 0x1f)`, file);
  if (fn > 7)
    throw new InputError(`${file}: ${what}: PCI function ${attrs.function} is out of range (max 7)`, file);
  return formatPciAddress(domain, bus, slot, fn);
}

/**
 * Normalise a USB or PCI vendor/product id (`0x8086`, `8086`, `0X8086`) to
 * 4 lower-case hex digits. Throws InputError on anything else.
 */
export function normaliseId16(raw: string, file: string, what: string): string {
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
