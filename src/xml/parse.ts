/**
 * Safe XML parsing into a tiny element tree.
 *
 * - A DOCTYPE (and so any entity declaration) is refused before parsing: no
 *   entity expansion, no external entities.
 * - Only the five predefined entities and numeric character references are
 *   decoded, by us, not by the parser.
 * - Malformed XML raises InputError naming the file, line and column.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { InputError } from "../errors.js";
import { XmlSyntaxError, scanXml } from "./scan.js";

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated direct text content (entity-decoded, untrimmed). */
  text: string;
}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  allowBooleanAttributes: true,
});

/** Hard upper bound for one XML document (bytes of text). */
/** virsh itself refuses XML files over 10 MiB; parsing that takes well under a second. */
export const MAX_XML_BYTES = 10 * 1024 * 1024;

const ENT: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function decodeEntities(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, g: string) => {
    if (g[0] === "#") {
      const cp =
        g[1] === "x" || g[1] === "X" ? Number.parseInt(g.slice(2), 16) : Number.parseInt(g.slice(1), 10);
      if (!Number.isFinite(cp) || cp > 0x10ffff) return m;
      return String.fromCodePoint(cp);
    }
    return ENT[g] ?? m;
  });
}

function convert(nodes: unknown[]): { children: XmlElement[]; text: string } {
  const children: XmlElement[] = [];
  let text = "";
  for (const node of nodes) {
    if (!node || typeof node !== "object") continue;
    const rec = node as Record<string, unknown>;
    for (const key of Object.keys(rec)) {
      if (key === ":@") continue;
      if (key === "#text") {
        text += decodeEntities(String(rec[key]));
        continue;
      }
      if (key.startsWith("?") || key.startsWith("!") || key === "#comment") continue;
      const inner = Array.isArray(rec[key]) ? (rec[key] as unknown[]) : [];
      const rawAttrs = (rec[":@"] ?? {}) as Record<string, unknown>;
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = decodeEntities(v === true ? "" : String(v));
      const sub = convert(inner);
      children.push({ name: key, attrs, children: sub.children, text: sub.text });
    }
  }
  return { children, text };
}

function describe(file: string, line?: number, col?: number): string {
  if (line === undefined) return file;
  return col === undefined ? `${file}:${line}` : `${file}:${line}:${col}`;
}

/**
 * Parse text into top-level elements. `file` is used in error messages.
 * `multiRoot` allows several concatenated root elements (node device dumps).
 */
export function parseXmlRoots(text: string, file: string, multiRoot = false): XmlElement[] {
  if (text.length > MAX_XML_BYTES) {
    throw new InputError(
      `${file}: XML document is larger than ${MAX_XML_BYTES / 1024 / 1024} MiB; refusing to read it`,
      file,
    );
  }
  if (text.indexOf("\u0000") >= 0 || text.indexOf("\uFFFD") >= 0) {
    throw new InputError(`${file}: not a UTF-8 text XML file (binary or invalid bytes)`, file);
  }
  const dt = /<!DOCTYPE|<!ENTITY/i.exec(text);
  if (dt) {
    const line = text.slice(0, dt.index).split("\n").length;
    throw new InputError(
      `${describe(file, line)}: DOCTYPE/ENTITY declarations are not allowed in libvirt XML (refused for safety)`,
      file,
    );
  }
  if (text.trim() === "") throw new InputError(`${file}: empty file, expected XML`, file);
  let roots: XmlElement[];
  try {
    roots = scanXml(text, multiRoot);
  } catch (e) {
    if (e instanceof XmlSyntaxError) {
      throw new InputError(`${describe(file, e.line, e.col)}: malformed XML: ${e.message}`, file);
    }
    throw e;
  }
  return roots;
}

/** The fast-xml-parser path (validate + parse), kept as the differential oracle for tests. */
export function parseXmlRootsReference(text: string, file: string, multiRoot = false): XmlElement[] {
  if (multiRoot) {
    const body = text.replace(/<\?xml[^>]*\?>/g, (m) => " ".repeat(m.length));
    const roots = parseXmlRootsReference(`<hdplan-roots>${body}</hdplan-roots>`, file, false)[0]!;
    if (roots.text.trim() !== "")
      throw new InputError(`${file}: unexpected text between XML documents`, file);
    return roots.children;
  }
  const v = XMLValidator.validate(text, { allowBooleanAttributes: true });
  if (v !== true) {
    throw new InputError(`${describe(file, v.err.line, v.err.col)}: malformed XML: ${v.err.msg}`, file);
  }
  let raw: unknown;
  try {
    raw = parser.parse(text);
  } catch (e) {
    throw new InputError(`${file}: malformed XML: ${e instanceof Error ? e.message : String(e)}`, file);
  }
  const { children } = convert(Array.isArray(raw) ? raw : []);
  if (children.length === 0) throw new InputError(`${file}: no XML element found`, file);
  if (!multiRoot && children.length > 1) {
    throw new InputError(`${file}: expected one root element, found ${children.length}`, file);
  }
  return children;
}

export function parseXml(text: string, file: string): XmlElement {
  return parseXmlRoots(text, file, false)[0]!;
}

// ---- small helpers used by the readers ------------------------------------

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined;
  for (const c of el.children) if (c.name === name) return c;
  return undefined;
}

export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  if (!el) return [];
  return el.children.filter((c) => c.name === name);
}

export function textOf(el: XmlElement | undefined): string | undefined {
  if (!el) return undefined;
  const t = el.text.trim();
  return t === "" ? undefined : t;
}

export function childText(el: XmlElement | undefined, name: string): string | undefined {
  return textOf(child(el, name));
}
