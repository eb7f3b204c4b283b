/**
 * Safe XML parsing into a tiny element tree.
 *
 * - A DOCTYPE (and so any entity declaration) is refused before parsing: no
 *   entity expansion, no external entities.
 * - Only the five predefined entities and numeric character references are
 *   decoded, by us, not by the parser.
 * - Malformed XML raises InputError naming the file, line and column.
 */
import { InputError } from "../errors.js";
import {
  type ScanOptions,
  type ScannedElement,
  type XmlDoc,
  type XmlElement,
  XmlSyntaxError,
  scanDoc,
  scanXml,
} from "./scan.js";

export type { ScannedElement, XmlDoc, XmlElement } from "./scan.js";

/** Hard upper bound for one XML document (bytes of text). */
/** virsh itself refuses XML files over 10 MiB; parsing that takes well under a second. */
export const MAX_XML_BYTES = 10 * 1024 * 1024;

export function describe(file: string, line?: number, col?: number): string {
  if (line === undefined) return file;
  return col === undefined ? `${file}:${line}` : `${file}:${line}:${col}`;
}

/**
 * Parse text into top-level elements. `file` is used in error messages.
 * `multiRoot` allows several concatenated root elements (node device dumps),
 * each of which may start with its XML declaration.
 *
 * One pass: the scanner checks characters (NUL, U+FFFD), DOCTYPE and
 * well-formedness while it builds the tree. Only when it fails is the text
 * looked at again, to name the first problem in the order the separate
 * pre-checks used to: binary, DOCTYPE, empty, then the syntax error.
 */
export function parseXmlRoots(
  text: string,
  file: string,
  multiRoot: boolean | ScanOptions = false,
): ScannedElement[] {
  return checked(text, file, () => scanXml(text, multiRoot));
}

/**
 * Parse text into a flat XmlDoc (no tree of objects: the node device reader
 * asks it for the few names, values and texts it uses). Same checks and
 * errors as parseXmlRoots. With `scratch`, the document is valid only until
 * the next scratch scan (scanDoc).
 */
export function parseXmlDoc(
  text: string,
  file: string,
  multiRoot: boolean | ScanOptions = false,
  scratch = false,
): XmlDoc {
  return checked(text, file, () => scanDoc(text, multiRoot, scratch));
}

function checked<T>(text: string, file: string, scan: () => T): T {
  if (text.length > MAX_XML_BYTES) {
    throw new InputError(
      `${file}: XML document is larger than ${MAX_XML_BYTES / 1024 / 1024} MiB; refusing to read it`,
      file,
    );
  }
  try {
    return scan();
  } catch (e) {
    if (e instanceof XmlSyntaxError) throw explain(text, file, e);
    throw e;
  }
}

function explain(text: string, file: string, e: XmlSyntaxError): InputError {
  if (e.kind === "binary" || text.indexOf("\u0000") >= 0 || text.indexOf("\uFFFD") >= 0) {
    return new InputError(`${file}: not a UTF-8 text XML file (binary or invalid bytes)`, file);
  }
  const dt = /<!DOCTYPE|<!ENTITY/i.exec(text);
  if (dt) {
    const line = text.slice(0, dt.index).split("\n").length;
    return new InputError(
      `${describe(file, line)}: DOCTYPE/ENTITY declarations are not allowed in libvirt XML (refused for safety)`,
      file,
    );
  }
  if (text.trim() === "") return new InputError(`${file}: empty file, expected XML`, file);
  return new InputError(`${describe(file, e.line, e.col)}: malformed XML: ${e.message}`, file);
}

export function parseXml(text: string, file: string, opts?: ScanOptions): ScannedElement {
  return parseXmlRoots(text, file, { ...opts, multiRoot: false })[0]!;
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
