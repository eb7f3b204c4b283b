/**
 * The fast-xml-parser path (validate + parse) that src/xml/scan.ts replaced,
 * kept as the differential oracle of test/xml/scan.test.ts.
 */
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { InputError } from "../../src/errors.js";
import { describe, type XmlElement } from "../../src/xml/parse.js";

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

const ENT: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(s: string): string {
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

/** XML 1.0 §2.11: every CR LF pair and lone CR is read as LF (fast-xml-parser does not). */
function endOfLines(s: string): string {
  return s.indexOf("\r") < 0 ? s : s.replace(/\r\n?/g, "\n");
}

/**
 * XML 1.0 §3.3.3 for an attribute without a DTD (CDATA): after end-of-line
 * handling each literal tab, LF or CR becomes a space; a character
 * reference (&#10;) keeps its character. fast-xml-parser leaves the value
 * as written, which made the fuzz property below fail whenever a mutation
 * left a newline inside a quoted value (found by test/xml/scan.test.ts,
 * checked against lxml there).
 */
function attrValue(raw: string): string {
  return decodeEntities(endOfLines(raw).replace(/[\t\n]/g, " "));
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
        text += decodeEntities(endOfLines(String(rec[key])));
        continue;
      }
      if (key.startsWith("?") || key.startsWith("!") || key === "#comment") continue;
      const inner = Array.isArray(rec[key]) ? (rec[key] as unknown[]) : [];
      const rawAttrs = (rec[":@"] ?? {}) as Record<string, unknown>;
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = v === true ? "" : attrValue(String(v));
      const sub = convert(inner);
      children.push({ name: key, attrs, children: sub.children, text: sub.text });
    }
  }
  return { children, text };
}

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
