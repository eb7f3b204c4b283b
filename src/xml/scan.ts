/**
 * The one XML front end: a strict, single-pass XML 1.0 + Namespaces scanner
 * that validates while it builds the element tree, and records where each
 * element and attribute value sits in the source text (the rewrite edits the
 * text at those offsets). docs/xml.md lists what it accepts and rejects with
 * the XML 1.0 production for each; test/xml/differential.test.ts checks it
 * against saxes, a conformant namespace-aware parser.
 *
 * In one pass over the text it checks:
 * - characters: every character is a Char (XML 1.0 [2]), also those written
 *   as character references ([66] WFC Legal Character); U+FFFD and NUL mean
 *   the bytes were not UTF-8 text (kind "binary");
 * - names ([4]-[5]) and, with Namespaces 1.0, QNames with declared prefixes
 *   (xmlns:p scoped per element, xml: predeclared), no duplicate attribute
 *   either by name ([40] WFC Unique Att Spec) or by namespace + local name;
 * - matching end tags ([39] WFC Element Type Match), quoted attribute values
 *   without '<' ([10], WFC No < in Attribute Values), no ']]>' in text ([14]);
 * - comments ([15]), CDATA ([18]-[21]), processing instructions ([16]) and
 *   the XML declaration ([23]) only at the start (of each document with
 *   multiRoot);
 * - the five predefined entities and character references; there is no DTD:
 *   a DOCTYPE is refused (kind "doctype"), so any other entity is undefined.
 * Attribute values are normalised ([3.3.3]) and line ends in text are
 * normalised to LF ([2.11]), as a conformant parser reports them.
 */

/** An element of the tree: what the readers (domain, node device, network) use. */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** Concatenated direct text content (entity-decoded, untrimmed). */
  text: string;
}

/** An element as the scanner returns it: the tree plus where it sits in the source text. */
export interface ScannedElement extends XmlElement {
  children: ScannedElement[];
  /** Index of the '<' of the open tag. */
  start: number;
  /** Index just after the '>' of the open tag. */
  openEnd: number;
  /** Start of the close tag ('</name>'), or openEnd - 2 (the '/') for a self-closing tag. */
  closeStart: number;
  /** Index just after the element (after '/>' or the close tag). */
  end: number;
  selfClosing: boolean;
  /** [valueStart, valueEnd) of each attribute value inside its quotes, in the order of `attrs`. */
  spans: number[];
}

export type XmlErrorKind = "syntax" | "binary" | "doctype";

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
    readonly kind: XmlErrorKind = "syntax",
  ) {
    super(message);
  }
}

export interface ScanOptions {
  /** Several root elements (concatenated documents, each may start with an XML declaration). */
  multiRoot?: boolean;
  /** Elements whose exact text was read whole before: see ElementMemo. */
  memo?: ElementMemo;
}

/**
 * Elements read before, by their exact text (the node device reader's memo
 * of devices, src/xml/nodedev.ts). Where an element starts with exactly
 * `open` at the top level (a root, or a child of a root) in no namespace
 * scope but the default one, the scanner asks `lookup` for an entry whose
 * text the document holds from there, and checks that it does. An entry's
 * text is an element that was scanned whole before, at the top level in no
 * namespace scope, and found well formed: scanning that text again from here
 * reads the same element to the same end (an element's well-formedness does
 * not depend on what surrounds it, but for the namespace prefixes declared
 * around it, which is why only the top level with no declaration counts).
 * The scanner records it as one element without children or attributes,
 * which `XmlDoc.known` answers with the entry; its content and
 * subtree are not recorded. Only a reader that asks `known` before anything
 * else of an element may pass a memo.
 */
export interface ElementMemo {
  /** The open tag, exactly: '<', a name, '>' (no attributes, no space). */
  readonly open: string;
  /** An entry whose text may start at text[at] (the scanner checks that it does), or undefined. Called in document order. */
  lookup(text: string, at: number): MemoEntry | undefined;
}

export interface MemoEntry {
  /** The whole text of an element scanned before as said above, from its '<' to the '>' of its close tag. */
  readonly text: string;
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/** Prefix -> namespace URI; each element that declares one chains a new scope onto its parent's. */
type Scope = Record<string, string>;
const ROOT_SCOPE: Scope = Object.assign(Object.create(null) as Scope, { xml: XML_NS, xmlns: XMLNS_NS });

const ENT: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Shared by every element without attributes / children (most node device
 * elements): readers only read them, and the scanner replaces the shared
 * children array when a first child arrives.
 */
const NO_ATTRS: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NO_CHILDREN = Object.freeze([]) as unknown as ScannedElement[];
const NO_SPANS = Object.freeze([]) as unknown as number[];
const NO_VALUES: readonly MemoEntry[] = Object.freeze([]);

let passes = 0;
/** How many times scanXml ran (parse passes; read by a test that counts them per rewrite). */
export function scanPassCount(): number {
  return passes;
}

/** XML 1.0 [4] NameStartChar (code point). */
function isNameStartCp(c: number): boolean {
  if (c < 0x80) return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0xeffff)
  );
}

/** XML 1.0 [4a] NameChar (code point). */
function isNameCp(c: number): boolean {
  if (c < 0x80)
    return (
      (c >= 97 && c <= 122) ||
      (c >= 65 && c <= 90) ||
      (c >= 48 && c <= 57) ||
      c === 95 ||
      c === 58 ||
      c === 45 ||
      c === 46
    );
  return isNameStartCp(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || (c >= 0x203f && c <= 0x2040);
}

/** XML 1.0 [2] Char (code point). */
function isCharCp(c: number): boolean {
  return (
    c === 9 ||
    c === 10 ||
    c === 13 ||
    (c >= 0x20 && c <= 0xd7ff) ||
    (c >= 0xe000 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0x10ffff)
  );
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

// [23] XMLDecl ::= '<?xml' VersionInfo EncodingDecl? SDDecl? S? '?>'
const XML_DECL =
  /<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])(1\.[0-9]+)\1([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])[A-Za-z][A-Za-z0-9._-]*\4)?([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(yes|no)\6)?[ \t\r\n]*\?>/y;

// ---- the flat document --------------------------------------------------------

/**
 * Element records in XmlDoc.el: E ints per element, in document order (an
 * element's index is greater than its parent's).
 */
const E = 11;
// [0]: index of the '<' of the open tag (read as el[e * E])
const E_NAME_END = 1; // the name is text[start + 1, nameEnd)
const E_OPEN_END = 2; // just after the '>' of the open tag
const E_CLOSE_START = 3; // start of '</name>', or openEnd - 2 when self-closing
const E_END = 4; // just after the element
const E_PARENT = 5; // -1: a root
const E_FIRST = 6; // first child, -1: none
const E_NEXT = 7; // next sibling, -1: none
const E_ATTR = 8; // first attribute record
const E_NATTR = 9; // number of attributes
const E_SELF = 10; // 1: self-closing; KNOWN: an element of the memo (E_ATTR: its index in XmlDoc.knownValues)
const KNOWN = 2;
/**
 * Attribute records in XmlDoc.at: name [start, end), value [start, end)
 * inside the quotes, plain (1: no reference or whitespace to normalise).
 */
const A = 5;

/**
 * A scanned document without a tree of objects: element and attribute
 * records in two typed arrays, offsets into the text. Names, values and text
 * become strings only when a reader asks for them. Every accessor takes an
 * element index (from `roots`, `first`, `next`); -1 means none.
 */
export class XmlDoc {
  constructor(
    readonly text: string,
    /** @internal element records (E ints each) */
    readonly el: Int32Array,
    /** @internal attribute records (A ints each) */
    readonly at: Int32Array,
    readonly count: number,
    readonly roots: readonly number[],
    /** @internal the memo's entries of the known elements */
    readonly knownValues: readonly MemoEntry[] = NO_VALUES,
  ) {}

  /** The memo's entry when e was recognised from ScanOptions.memo (it has no recorded content then), else undefined. */
  known(e: number): MemoEntry | undefined {
    const b = e * E;
    return this.el[b + E_SELF] === KNOWN ? this.knownValues[this.el[b + E_ATTR]!] : undefined;
  }

  /** Is e a root, or a child of a root without attributes (so in no namespace scope of its own)? */
  topLevel(e: number): boolean {
    const p = this.el[e * E + E_PARENT]!;
    return p < 0 || (this.el[p * E + E_PARENT] === -1 && this.el[p * E + E_NATTR] === 0);
  }

  /** [start, end) of element e in the text. */
  span(e: number): [number, number] {
    return [this.el[e * E]!, this.el[e * E + E_END]!];
  }

  name(e: number): string {
    return nameOf(this.text, this.el, e);
  }

  /** Is element e named `name` (exactly, prefix included)? */
  is(e: number, name: string): boolean {
    const b = e * E;
    const s = this.el[b]! + 1;
    return this.el[b + E_NAME_END]! - s === name.length && this.text.startsWith(name, s);
  }

  first(e: number): number {
    return this.el[e * E + E_FIRST]!;
  }

  next(e: number): number {
    return this.el[e * E + E_NEXT]!;
  }

  /** First child of e named `name`, or -1. */
  child(e: number, name: string): number {
    const el = this.el;
    for (let c = el[e * E + E_FIRST]!; c >= 0; c = el[c * E + E_NEXT]!) if (this.is(c, name)) return c;
    return -1;
  }

  /** Value of attribute `name` of e (normalised and decoded), or undefined. */
  attr(e: number, name: string): string | undefined {
    const b = e * E;
    const at = this.at;
    let a = this.el[b + E_ATTR]! * A;
    const stop = a + this.el[b + E_NATTR]! * A;
    for (; a < stop; a += A) {
      const s = at[a]!;
      if (at[a + 1]! - s === name.length && this.text.startsWith(name, s))
        return attrValueOf(this.text, at, a);
    }
    return undefined;
  }

  /** The element's direct text content: text and CDATA children concatenated, decoded, untrimmed. */
  content(e: number): string {
    const el = this.el;
    const b = e * E;
    if (el[b + E_SELF] === 1) return "";
    const text = this.text;
    const stop = el[b + E_CLOSE_START]!;
    let k = el[b + E_OPEN_END]!;
    let c = el[b + E_FIRST]!;
    // The common case: one run of plain text and nothing else.
    if (c < 0) {
      let plain = true;
      for (let q = k; q < stop; q++) {
        const ch = text.charCodeAt(q);
        if (ch === 60 || ch === 38 || ch === 13) {
          plain = false;
          break;
        }
      }
      if (plain) return text.slice(k, stop);
    }
    let out = "";
    for (;;) {
      const segEnd = c >= 0 ? el[c * E]! : stop;
      out += directTextOf(text, k, segEnd);
      if (c < 0) return out;
      k = el[c * E + E_END]!;
      c = el[c * E + E_NEXT]!;
    }
  }

  /** Direct text, trimmed; undefined when it is empty (the readers' textOf). */
  trimmed(e: number): string | undefined {
    if (e < 0) return undefined;
    const t = this.content(e).trim();
    return t === "" ? undefined : t;
  }

  /** Trimmed text of the first child named `name` (the readers' childText). */
  childText(e: number, name: string): string | undefined {
    return e < 0 ? undefined : this.trimmed(this.child(e, name));
  }

  /** The element as a tree node (ScannedElement), with its subtree. */
  tree(root: number): ScannedElement {
    const el = this.el;
    const end = el[root * E + E_END]!;
    const nodes = new Map<number, ScannedElement>();
    const top = this.node(root);
    nodes.set(root, top);
    // Document order: the subtree of root is the run of elements after it that start before its end.
    for (let e = root + 1; e < this.count && el[e * E]! < end; e++) {
      const n = this.node(e);
      nodes.set(e, n);
      const p = nodes.get(el[e * E + E_PARENT]!)!;
      if (p.children === NO_CHILDREN) p.children = [n];
      else p.children.push(n);
    }
    return top;
  }

  private node(e: number): ScannedElement {
    const el = this.el;
    const at = this.at;
    const b = e * E;
    let attrs = NO_ATTRS;
    let spans = NO_SPANS;
    const na = el[b + E_NATTR]!;
    if (na > 0) {
      attrs = {};
      spans = [];
      for (let a = el[b + E_ATTR]! * A, stop = a + na * A; a < stop; a += A) {
        const an = this.text.slice(at[a]!, at[a + 1]!);
        const value = attrValueOf(this.text, at, a);
        if (an === "__proto__")
          Object.defineProperty(attrs, an, { value, enumerable: true, writable: true, configurable: true });
        else attrs[an] = value;
        spans.push(at[a + 2]!, at[a + 3]!);
      }
    }
    return {
      name: this.name(e),
      attrs,
      children: NO_CHILDREN,
      text: this.content(e),
      start: el[b]!,
      openEnd: el[b + E_OPEN_END]!,
      closeStart: el[b + E_CLOSE_START]!,
      end: el[b + E_END]!,
      selfClosing: el[b + E_SELF] === 1,
      spans,
    };
  }
}

/**
 * Direct text of already validated content [from, to) that holds no child
 * element: text runs decoded, CDATA raw (line ends normalised), comments and
 * processing instructions left out.
 */
function directTextOf(text: string, from: number, to: number): string {
  let out = "";
  let k = from;
  while (k < to) {
    const lt = text.indexOf("<", k);
    const runEnd = lt < 0 || lt >= to ? to : lt;
    if (runEnd > k) out += decodeRefs(text, k, runEnd, false);
    if (runEnd >= to) break;
    if (text.startsWith("<!--", lt)) k = text.indexOf("--", lt + 4) + 3;
    else if (text.startsWith("<![CDATA[", lt)) {
      const e = text.indexOf("]]>", lt + 9);
      const raw = text.slice(lt + 9, e);
      out += raw.indexOf("\r") < 0 ? raw : raw.replace(/\r\n?/g, "\n");
      k = e + 3;
    } else k = text.indexOf("?>", lt + 2) + 2; // <?pi ...?>
  }
  return out;
}

/**
 * Decode already validated [from, to): references, line ends; in an
 * attribute value also whitespace -> space ([3.3.3], [2.11]).
 */
function decodeRefs(text: string, from: number, to: number, attr: boolean): string {
  let out = "";
  let k = from;
  let seg = from;
  while (k < to) {
    const c = text.charCodeAt(k);
    if (c === 38) {
      out += text.slice(seg, k);
      const semi = text.indexOf(";", k);
      const name = text.slice(k + 1, semi);
      if (name.charCodeAt(0) === 35) {
        const hex = name.charCodeAt(1) === 120;
        out += String.fromCodePoint(Number.parseInt(name.slice(hex ? 2 : 1), hex ? 16 : 10));
      } else out += ENT[name]!;
      k = semi + 1;
      seg = k;
    } else if (c === 13) {
      out += `${text.slice(seg, k)}${attr ? " " : "\n"}`;
      k += text.charCodeAt(k + 1) === 10 ? 2 : 1;
      seg = k;
    } else if (attr && (c === 9 || c === 10)) {
      out += `${text.slice(seg, k)} `;
      k++;
      seg = k;
    } else k++;
  }
  return seg === from ? text.slice(from, to) : out + text.slice(seg, to);
}

/** Set by scanName: index of the first ':' of the name read (-1: none), and how many. */
let nameColonAt = -1;
let nameColons = 0;

/** The end of the XML Name ([5]) at i, or -1 when no name starts there; sets nameColonAt/nameColons. */
function scanName(text: string, i: number, n: number): number {
  let colonAt = -1;
  let colons = 0;
  let c = text.charCodeAt(i);
  let cp = c;
  if (c >= 0xd800 && c <= 0xdbff) cp = text.codePointAt(i) ?? c;
  if (i >= n || !isNameStartCp(cp)) return -1;
  for (;;) {
    if (c === 58) {
      if (colons++ === 0) colonAt = i;
    }
    i += cp > 0xffff ? 2 : 1;
    if (i >= n) break;
    c = text.charCodeAt(i);
    // The common case first: an ASCII letter, digit, '-', '_' or '.'.
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 45 && c <= 57 && c !== 47) || c === 95) {
      cp = c;
      continue;
    }
    cp = c;
    if (c >= 0xd800 && c <= 0xdbff) cp = text.codePointAt(i) ?? c;
    if (!isNameCp(cp)) break;
  }
  nameColonAt = colonAt;
  nameColons = colons;
  return i;
}

/** The index after the white space ([3] S) at i. */
function skipSpace(text: string, i: number, n: number): number {
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The value of attribute record a (at its index in `at`): sliced when plain, else decoded. */
function attrValueOf(text: string, at: Int32Array, a: number): string {
  return at[a + 4] === 1
    ? text.slice(at[a + 2]!, at[a + 3]!)
    : decodeRefs(text, at[a + 2]!, at[a + 3]!, true);
}

/** `a`, or a copy twice as long when it holds fewer than `need` ints. */
function room(a: Int32Array<ArrayBuffer>, need: number): Int32Array<ArrayBuffer> {
  if (need <= a.length) return a;
  const grown = new Int32Array(Math.max(a.length * 2, need));
  grown.set(a);
  return grown;
}

/** Record e as the child of p after `prev` (-1: its first child). */
function linkChild(el: Int32Array, e: number, p: number, prev: number): void {
  el[e * E + E_PARENT] = p;
  if (prev < 0) el[p * E + E_FIRST] = e;
  else el[prev * E + E_NEXT] = e;
}

/** The name of element record e. */
function nameOf(text: string, el: Int32Array, e: number): string {
  return text.slice(el[e * E]! + 1, el[e * E + E_NAME_END]!);
}

/** Parse into trees: the roots of scanDoc, each as a ScannedElement with its subtree. */
export function scanXml(text: string, multiRoot: boolean | ScanOptions = false): ScannedElement[] {
  const doc = scanDoc(text, multiRoot, true);
  return doc.roots.map((r) => doc.tree(r));
}

/**
 * The record arrays of the last scan with `scratch`: reused by the next one,
 * so that a run over a fleet's files does not allocate (and collect) a few
 * hundred KB of typed arrays per file. Only for callers that are done with
 * the XmlDoc before they scan again (scanXml, readNodeDevices).
 */
let scratchEl = new Int32Array(0);
let scratchAt = new Int32Array(0);

/**
 * Scan text into a flat XmlDoc. With `scratch`, the document's arrays are
 * shared with the next scratch scan: it is valid only until then.
 */
export function scanDoc(text: string, multiRoot: boolean | ScanOptions = false, scratch = false): XmlDoc {
  passes++;
  const multi = typeof multiRoot === "boolean" ? multiRoot : multiRoot.multiRoot === true;
  const memo = typeof multiRoot === "boolean" ? undefined : multiRoot.memo;
  const memoOpen = memo?.open ?? "";
  const knownValues: MemoEntry[] = [];
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const docStart = i;
  const roots: number[] = [];
  const wantEl = Math.max(64, n >> 5) * E;
  const wantAt = Math.max(32, n >> 6) * A;
  let el = scratch && scratchEl.length >= wantEl ? scratchEl : new Int32Array(wantEl);
  let at = scratch && scratchAt.length >= wantAt ? scratchAt : new Int32Array(wantAt);
  let count = 0;
  let nattr = 0;
  /** Open elements, the last child of each (-1: none yet) and their namespace scopes. */
  const open: number[] = [];
  const last: number[] = [];
  const scopes: Scope[] = [];
  let depth = 0;
  let sawRoot = false;
  /** Set by readName: index of the first ':' in the name (-1: none), and how many. */
  let colonAt = -1;
  let colons = 0;
  const fail = (msg: string, where: number, kind: XmlErrorKind = "syntax"): never => {
    let line = 1;
    let lastNl = -1;
    for (let k = 0; k < where && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        lastNl = k;
      }
    }
    throw new XmlSyntaxError(msg, line, where - lastNl, kind);
  };

  /** Check the non-ASCII or control character at k; returns the index after it. */
  const checkChar = (c: number, k: number): number => {
    if (c < 0x20) {
      if (c === 9 || c === 10 || c === 13) return k + 1;
      if (c === 0) fail("NUL character: not a text file", k, "binary");
      return fail(
        `control character U+${c.toString(16).padStart(4, "0").toUpperCase()} is not allowed in XML`,
        k,
      );
    }
    if (c < 0xd800) return k + 1;
    if (c <= 0xdbff) {
      const d = text.charCodeAt(k + 1);
      if (d >= 0xdc00 && d <= 0xdfff) return k + 2;
      return fail("unpaired surrogate: not valid text", k);
    }
    if (c <= 0xdfff) return fail("unpaired surrogate: not valid text", k);
    if (c === 0xfffd) return fail("U+FFFD replacement character: the file was not valid UTF-8", k, "binary");
    if (c === 0xfffe || c === 0xffff)
      return fail(`U+${c.toString(16).toUpperCase()} is not an XML character`, k);
    return k + 1;
  };

  /** Check every character of [from, to) is a Char (comments, PIs, CDATA). */
  const checkChars = (from: number, to: number): void => {
    for (let k = from; k < to; ) {
      const c = text.charCodeAt(k);
      k = c >= 0x20 && c < 0x7f ? k + 1 : checkChar(c, k);
    }
  };

  /** Check each '&' of [from, to) starts a predefined entity or a legal character reference. */
  const checkRefs = (from: number, to: number): void => {
    for (let k = text.indexOf("&", from); k >= 0 && k < to; k = text.indexOf("&", k + 1)) {
      const semi = text.indexOf(";", k);
      if (semi < 0 || semi >= to) fail("'&' must start an entity reference such as &amp;", k);
      const name = text.slice(k + 1, semi);
      if (name.charCodeAt(0) === 35) {
        const hex = name.charCodeAt(1) === 120; // 'x' ([66]: lower case only)
        const digits = name.slice(hex ? 2 : 1);
        if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits))
          fail(`invalid character reference &${name};`, k);
        const cp = Number.parseInt(digits, hex ? 16 : 10);
        // [66] WFC Legal Character: the referred-to character must match Char
        if (!isCharCp(cp)) fail(`&${name}; refers to a character that XML does not allow`, k);
      } else if (ENT[name] === undefined) fail(`undefined entity &${name}; (no DTD entities are allowed)`, k);
    }
  };

  /** The end of the Name at `at` (XML 1.0 [5]); sets colonAt/colons. */
  const readName = (at: number): number => {
    const e = scanName(text, at, n);
    if (e < 0) fail("expected a name", at);
    colonAt = nameColonAt;
    colons = nameColons;
    return e;
  };

  /** Namespaces 1.0 [7] QName: at most one ':', not first or last. */
  const checkQName = (s: number, e: number): void => {
    if (colons > 1 || colonAt === s || colonAt === e - 1)
      fail(`'${text.slice(s, e)}' is not a qualified name (Namespaces in XML: prefix:local)`, s);
  };

  /** Do text[a, a + len) and text[b, b + len) hold the same characters? */
  const same = (a: number, b: number, len: number): boolean => {
    for (let k = 0; k < len; k++) if (text.charCodeAt(a + k) !== text.charCodeAt(b + k)) return false;
    return true;
  };

  while (i < n) {
    // ---- character data up to the next '<' ----
    const from = i;
    let refs = false;
    let k = i;
    for (; k < n; ) {
      const c = text.charCodeAt(k);
      if (c === 60) break;
      // Printable ASCII other than '&' and ']', LF and tab: nothing to check.
      if ((c >= 0x20 && c < 0x7f && c !== 38 && c !== 93) || c === 10 || c === 9) {
        k++;
        continue;
      }
      if (c === 38) refs = true;
      else if (c === 93 && text.charCodeAt(k + 1) === 93 && text.charCodeAt(k + 2) === 62)
        fail("']]>' is not allowed in text", k);
      k = c === 38 || c === 93 ? k + 1 : checkChar(c, k);
    }
    if (k > from) {
      if (depth === 0) {
        for (let q = from; q < k; q++)
          if (!isSpace(text.charCodeAt(q))) fail("text outside the root element", q);
      } else if (refs) checkRefs(from, k);
    }
    if (k >= n) {
      i = n;
      break;
    }
    const lt = k;
    i = lt + 1;
    const c = text.charCodeAt(i);
    if (c === 33 /* ! */) {
      if (text.startsWith("!--", i)) {
        // [15] Comment ::= '<!--' ((Char - '-') | ('-' (Char - '-')))* '-->'
        const dd = text.indexOf("--", i + 3);
        if (dd < 0) fail("unterminated comment", lt);
        if (text.charCodeAt(dd + 2) !== 62) fail("'--' is not allowed inside a comment", dd);
        checkChars(i + 3, dd);
        i = dd + 3;
      } else if (text.startsWith("![CDATA[", i)) {
        const end = text.indexOf("]]>", i + 8);
        if (end < 0) fail("unterminated CDATA section", lt);
        if (depth === 0) fail("CDATA outside the root element", lt);
        checkChars(i + 8, end);
        i = end + 3;
      } else if (text.startsWith("!DOCTYPE", i) || text.startsWith("!ENTITY", i)) {
        fail(
          "DOCTYPE/ENTITY declarations are not allowed in libvirt XML (refused for safety)",
          lt,
          "doctype",
        );
      } else {
        fail("unexpected '<!'", lt);
      }
    } else if (c === 63 /* ? */) {
      i++;
      const ts = i;
      i = readName(i);
      const target = text.slice(ts, i);
      if (target.length === 3 && target.toLowerCase() === "xml") {
        // [23] the XML declaration: only at the very start (of each document with multiRoot)
        const atStart = lt === docStart || (multi && depth === 0);
        if (target !== "xml" || !atStart) fail("XML declaration allowed only at the start", lt);
        XML_DECL.lastIndex = lt;
        const m = XML_DECL.exec(text);
        if (!m) fail("malformed XML declaration (expected <?xml version='1.0' ...?>)", lt);
        if (m![2] !== "1.0") fail(`XML version ${m![2]} is not supported (only 1.0)`, lt);
        i = XML_DECL.lastIndex;
      } else {
        // [16]-[17] PI: the target is a Name other than [Xx][Mm][Ll], without ':' (Namespaces 1.0)
        if (target.toLowerCase() === "xml") fail("processing instruction target 'xml' is reserved", lt);
        if (colons > 0) fail(`processing instruction target '${target}' must not contain ':'`, lt);
        const end = text.indexOf("?>", i);
        if (end < 0) fail("unterminated processing instruction", lt);
        if (end > i && !isSpace(text.charCodeAt(i)))
          fail("expected whitespace after the processing instruction target", i);
        checkChars(i, end);
        i = end + 2;
      }
    } else if (c === 47 /* / */) {
      i++;
      const ns = i;
      // The usual case: the name of the open element, then '>' or space,
      // compared in place; otherwise it is read as a name (for the message).
      let matched = false;
      if (depth > 0) {
        const e = open[depth - 1]!;
        const os = el[e * E]! + 1;
        const len = el[e * E + E_NAME_END]! - os;
        const t = text.charCodeAt(i + len);
        if ((t === 62 || isSpace(t)) && same(os, i, len)) {
          i += len;
          matched = true;
        }
      }
      if (!matched) i = readName(i);
      const ne = i;
      i = skipSpace(text, i, n);
      if (text.charCodeAt(i) !== 62) fail(`expected '>' to close </${text.slice(ns, ne)}`, i);
      i++;
      if (depth === 0) fail(`closing tag </${text.slice(ns, ne)}> without an open element`, lt);
      const e = open[depth - 1]!;
      if (!matched) {
        const os = el[e * E]! + 1;
        const len = el[e * E + E_NAME_END]! - os;
        if (ne - ns !== len || !same(os, ns, len))
          fail(`expected closing tag </${nameOf(text, el, e)}> instead of </${text.slice(ns, ne)}>`, lt);
      }
      el[e * E + E_CLOSE_START] = lt;
      el[e * E + E_END] = i;
      depth--;
    } else {
      if (
        memo !== undefined &&
        (depth === 0 || (depth === 1 && scopes[0] === ROOT_SCOPE)) &&
        text.startsWith(memoOpen, lt)
      ) {
        // An element read whole before, by its exact text (ElementMemo).
        const m = memo.lookup(text, lt);
        const end = m === undefined ? -1 : lt + m.text.length;
        if (m !== undefined && text.slice(lt, end) === m.text) {
          if (depth === 0 && sawRoot && !multi) fail("only one root element is allowed", lt);
          el = room(el, (count + 1) * E);
          const e = count++;
          const b = e * E;
          el[b] = lt;
          el[b + E_NAME_END] = lt + memoOpen.length - 1;
          el[b + E_OPEN_END] = lt + memoOpen.length;
          el[b + E_CLOSE_START] = text.lastIndexOf("</", end);
          el[b + E_END] = end;
          el[b + E_FIRST] = -1;
          el[b + E_NEXT] = -1;
          el[b + E_ATTR] = knownValues.length;
          el[b + E_NATTR] = 0;
          el[b + E_SELF] = KNOWN;
          knownValues.push(m);
          if (depth === 0) {
            sawRoot = true;
            el[b + E_PARENT] = -1;
            roots.push(e);
          } else {
            linkChild(el, e, open[0]!, last[0]!);
            last[0] = e;
          }
          i = end;
          continue;
        }
      }
      const ns = lt + 1;
      i = readName(i);
      const ne = i;
      const nameColonAt = colonAt;
      checkQName(ns, ne);
      el = room(el, (count + 1) * E);
      const e = count++;
      const b = e * E;
      const attr0 = nattr;
      let nsDecl = false;
      let prefixedAttrs = 0;
      let selfClosing = false;
      for (;;) {
        const before = i;
        i = skipSpace(text, i, n);
        if (i >= n) fail(`unterminated start tag <${text.slice(ns, ne)}`, lt);
        const ch = text.charCodeAt(i);
        if (ch === 62) {
          i++;
          break;
        }
        if (ch === 47) {
          if (text.charCodeAt(i + 1) !== 62) fail("expected '/>'", i);
          i += 2;
          selfClosing = true;
          break;
        }
        if (i === before) fail(`expected whitespace before an attribute in <${text.slice(ns, ne)}>`, i);
        const as = i;
        i = readName(i);
        const ae = i;
        checkQName(as, ae);
        if (colonAt >= 0) {
          if (colonAt === as + 5 && text.startsWith("xmlns", as)) nsDecl = true;
          else prefixedAttrs++;
        } else if (ae - as === 5 && text.startsWith("xmlns", as)) nsDecl = true;
        i = skipSpace(text, i, n);
        if (text.charCodeAt(i) !== 61)
          fail(`attribute ${text.slice(as, ae)} needs '=' and a quoted value`, i);
        i++;
        i = skipSpace(text, i, n);
        const q = text.charCodeAt(i);
        if (q !== 34 && q !== 39) fail(`attribute ${text.slice(as, ae)}: value must be quoted`, i);
        const vs = i + 1;
        let ve = vs;
        let plainV = true;
        let refsV = false;
        for (;;) {
          if (ve >= n) fail(`attribute ${text.slice(as, ae)}: unterminated value`, vs - 1);
          const v = text.charCodeAt(ve);
          if (v === q) break;
          if (v >= 0x20 && v < 0x7f && v !== 38 && v !== 60) {
            ve++;
            continue;
          }
          // [10] AttValue ::= '"' ([^<&"] | Reference)* '"'
          if (v === 60) fail(`attribute ${text.slice(as, ae)}: '<' is not allowed in a value`, ve);
          if (v === 38) refsV = true;
          if (v === 38 || v === 9 || v === 10 || v === 13) plainV = false;
          ve = v === 38 ? ve + 1 : checkChar(v, ve);
        }
        // [40] WFC Unique Att Spec
        for (let a = attr0 * A, stop = nattr * A; a < stop; a += A) {
          if (at[a + 1]! - at[a]! === ae - as && same(at[a]!, as, ae - as))
            fail(`duplicate attribute ${text.slice(as, ae)} in <${text.slice(ns, ne)}>`, before);
        }
        if (refsV) checkRefs(vs, ve);
        at = room(at, (nattr + 1) * A);
        const a = nattr++ * A;
        at[a] = as;
        at[a + 1] = ae;
        at[a + 2] = vs;
        at[a + 3] = ve;
        at[a + 4] = plainV ? 1 : 0;
        i = ve + 1;
      }
      // ---- Namespaces 1.0: declarations, then every prefix must be declared ----
      const parentScope = depth > 0 ? scopes[depth - 1]! : ROOT_SCOPE;
      let scope = parentScope;
      if (nsDecl || nameColonAt >= 0 || prefixedAttrs > 0) {
        const name = text.slice(ns, ne);
        const names: string[] = [];
        const values: string[] = [];
        for (let a = attr0 * A; a < nattr * A; a += A) {
          names.push(text.slice(at[a]!, at[a + 1]!));
          values.push(attrValueOf(text, at, a));
        }
        if (nsDecl) {
          scope = Object.create(parentScope) as Scope;
          for (let x = 0; x < names.length; x++) {
            const an = names[x]!;
            const p = an === "xmlns" ? "" : an.startsWith("xmlns:") ? an.slice(6) : null;
            if (p === null) continue;
            const uri = values[x]!;
            if (p === "xmlns") fail("the prefix xmlns must not be declared", lt);
            if (p === "xml" ? uri !== XML_NS : uri === XML_NS)
              fail(`the xml prefix and only it is bound to ${XML_NS}`, lt);
            if (uri === XMLNS_NS) fail(`${XMLNS_NS} must not be declared`, lt);
            if (p !== "" && uri === "") fail(`xmlns:${p}="" cannot undeclare a prefix (Namespaces 1.0)`, lt);
            scope[p] = uri;
          }
        }
        if (nameColonAt >= 0) {
          const p = name.slice(0, nameColonAt - ns);
          if (p === "xmlns") fail(`element <${name}> must not use the prefix xmlns`, lt);
          if (scope[p] === undefined) fail(`undeclared namespace prefix '${p}' in <${name}>`, lt);
        }
        if (prefixedAttrs > 0) {
          const seen = prefixedAttrs > 1 ? new Set<string>() : null;
          for (const an of names) {
            const ci = an.indexOf(":");
            if (ci < 0 || an.startsWith("xmlns:")) continue;
            const uri = scope[an.slice(0, ci)];
            if (uri === undefined)
              fail(`undeclared namespace prefix '${an.slice(0, ci)}' on attribute ${an} of <${name}>`, lt);
            if (seen) {
              const key = `${uri} ${an.slice(ci + 1)}`;
              if (seen.has(key)) fail(`attribute ${an} of <${name}> repeats a namespaced attribute`, lt);
              seen.add(key);
            }
          }
        }
      }
      el[b] = lt;
      el[b + E_NAME_END] = ne;
      el[b + E_OPEN_END] = i;
      el[b + E_CLOSE_START] = selfClosing ? i - 2 : -1;
      el[b + E_END] = i;
      el[b + E_FIRST] = -1;
      el[b + E_NEXT] = -1;
      el[b + E_ATTR] = attr0;
      el[b + E_NATTR] = nattr - attr0;
      el[b + E_SELF] = selfClosing ? 1 : 0;
      if (depth === 0) {
        if (sawRoot && !multi) fail("only one root element is allowed", lt);
        sawRoot = true;
        el[b + E_PARENT] = -1;
        roots.push(e);
      } else {
        linkChild(el, e, open[depth - 1]!, last[depth - 1]!);
        last[depth - 1] = e;
      }
      if (!selfClosing) {
        open[depth] = e;
        last[depth] = -1;
        scopes[depth] = scope;
        depth++;
      }
    }
  }
  if (depth > 0) fail(`unclosed element <${nameOf(text, el, open[depth - 1]!)}> at end of input`, n);
  if (!sawRoot) fail("no XML element found", 0);
  if (scratch) {
    scratchEl = el;
    scratchAt = at;
  }
  return new XmlDoc(text, el, at, count, roots, knownValues.length ? knownValues : NO_VALUES);
}

/** [valueStart, valueEnd) of attribute `name`'s value in the source text, when the element has it. */
export function attrSpan(el: ScannedElement, name: string): [number, number] | undefined {
  if (!Object.hasOwn(el.attrs, name)) return undefined;
  const k = Object.keys(el.attrs).indexOf(name);
  return [el.spans[2 * k]!, el.spans[2 * k + 1]!];
}
