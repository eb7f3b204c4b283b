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
  /**
   * Elements with these names (and everything inside them) are validated
   * like the rest but not put in the tree: readers that ignore them save the
   * allocation.
   */
  skip?: ReadonlySet<string>;
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

export function scanXml(text: string, multiRoot: boolean | ScanOptions = false): ScannedElement[] {
  passes++;
  const opts: ScanOptions = typeof multiRoot === "boolean" ? { multiRoot } : multiRoot;
  const multi = opts.multiRoot === true;
  const skip = opts.skip;
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const docStart = i;
  const roots: ScannedElement[] = [];
  /** Open element names, their tree nodes (null: skipped) and namespace scopes. */
  const names: string[] = [];
  const els: (ScannedElement | null)[] = [];
  const scopes: Scope[] = [];
  let depth = 0;
  let sawRoot = false;
  /** Set by readName: index of the first ':' in the name (-1: none), and how many. */
  let colonAt = -1;
  let colons = 0;

  const fail = (msg: string, at = i, kind: XmlErrorKind = "syntax"): never => {
    let line = 1;
    let last = -1;
    for (let k = 0; k < at && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        last = k;
      }
    }
    throw new XmlSyntaxError(msg, line, at - last, kind);
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

  /** Decode [from, to): references, line ends; in an attribute value also whitespace -> space. */
  const decode = (from: number, to: number, attr: boolean): string => {
    let out = "";
    let k = from;
    let seg = from;
    while (k < to) {
      const c = text.charCodeAt(k);
      if (c === 38) {
        out += text.slice(seg, k);
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
          out += String.fromCodePoint(cp);
        } else {
          const v = ENT[name];
          if (v === undefined) fail(`undefined entity &${name}; (no DTD entities are allowed)`, k);
          out += v;
        }
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
    return out + text.slice(seg, to);
  };

  const readName = (): string => {
    const s = i;
    colonAt = -1;
    colons = 0;
    let c = text.charCodeAt(i);
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) cp = text.codePointAt(i) ?? c;
    if (i >= n || !isNameStartCp(cp)) fail("expected a name");
    for (;;) {
      if (c === 58) {
        if (colons++ === 0) colonAt = i;
      }
      i += cp > 0xffff ? 2 : 1;
      if (i >= n) break;
      c = text.charCodeAt(i);
      cp = c;
      if (c >= 0xd800 && c <= 0xdbff) cp = text.codePointAt(i) ?? c;
      if (!isNameCp(cp)) break;
    }
    return text.slice(s, i);
  };

  /** Namespaces 1.0 [7] QName: at most one ':', not first or last. */
  const checkQName = (name: string, at: number): void => {
    if (colons > 1 || colonAt === at || colonAt === at + name.length - 1)
      fail(`'${name}' is not a qualified name (Namespaces in XML: prefix:local)`, at);
  };

  const skipSpace = () => {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
  };

  const top = (): ScannedElement | null => (depth > 0 ? els[depth - 1]! : null);

  while (i < n) {
    // ---- character data up to the next '<' ----
    const from = i;
    let plain = true;
    let k = i;
    for (; k < n; ) {
      const c = text.charCodeAt(k);
      if (c === 60) break;
      if (c >= 0x20 && c < 0x7f && c !== 38 && c !== 93) {
        k++;
        continue;
      }
      if (c === 38 || c === 13) plain = false;
      else if (c === 93 && text.charCodeAt(k + 1) === 93 && text.charCodeAt(k + 2) === 62)
        fail("']]>' is not allowed in text", k);
      k = c === 38 || c === 93 ? k + 1 : checkChar(c, k);
    }
    if (k > from) {
      if (depth === 0) {
        for (let q = from; q < k; q++)
          if (!isSpace(text.charCodeAt(q))) fail("text outside the root element", q);
      } else {
        const t = els[depth - 1];
        if (t) t.text += plain ? text.slice(from, k) : decode(from, k, false);
        else if (!plain) decode(from, k, false);
      }
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
        const t = top();
        if (t) {
          const raw = text.slice(i + 8, end);
          t.text += raw.indexOf("\r") < 0 ? raw : raw.replace(/\r\n?/g, "\n");
        }
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
      const target = readName();
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
      const name = readName();
      skipSpace();
      if (text.charCodeAt(i) !== 62) fail(`expected '>' to close </${name}`);
      i++;
      if (depth === 0) fail(`closing tag </${name}> without an open element`, lt);
      const open = names[depth - 1]!;
      if (open !== name) fail(`expected closing tag </${open}> instead of </${name}>`, lt);
      const el = els[depth - 1];
      if (el) {
        el.closeStart = lt;
        el.end = i;
      }
      depth--;
    } else {
      const name = readName();
      const nameColonAt = colonAt < 0 ? -1 : colonAt - (lt + 1);
      checkQName(name, lt + 1);
      const parent = depth > 0 ? els[depth - 1]! : null;
      const keep = (depth === 0 || parent !== null) && !(skip?.has(name) ?? false);
      let attrs = NO_ATTRS;
      let spans = NO_SPANS;
      let nsDecl = false;
      let prefixedAttrs = 0;
      let selfClosing = false;
      for (;;) {
        const before = i;
        skipSpace();
        if (i >= n) fail(`unterminated start tag <${name}`, lt);
        const ch = text.charCodeAt(i);
        if (ch === 62) {
          i++;
          break;
        }
        if (ch === 47) {
          if (text.charCodeAt(i + 1) !== 62) fail("expected '/>'");
          i += 2;
          selfClosing = true;
          break;
        }
        if (i === before) fail(`expected whitespace before an attribute in <${name}>`);
        const anAt = i;
        const an = readName();
        checkQName(an, anAt);
        if (colonAt >= 0) {
          if (an.startsWith("xmlns:")) nsDecl = true;
          else prefixedAttrs++;
        } else if (an === "xmlns") nsDecl = true;
        skipSpace();
        if (text.charCodeAt(i) !== 61) fail(`attribute ${an} needs '=' and a quoted value`);
        i++;
        skipSpace();
        const q = text.charCodeAt(i);
        if (q !== 34 && q !== 39) fail(`attribute ${an}: value must be quoted`);
        const vs = i + 1;
        let ve = vs;
        let plainV = true;
        for (;;) {
          if (ve >= n) fail(`attribute ${an}: unterminated value`, vs - 1);
          const v = text.charCodeAt(ve);
          if (v === q) break;
          if (v >= 0x20 && v < 0x7f && v !== 38 && v !== 60) {
            ve++;
            continue;
          }
          // [10] AttValue ::= '"' ([^<&"] | Reference)* '"'
          if (v === 60) fail(`attribute ${an}: '<' is not allowed in a value`, ve);
          if (v === 38 || v === 9 || v === 10 || v === 13) plainV = false;
          ve = v === 38 ? ve + 1 : checkChar(v, ve);
        }
        // [40] WFC Unique Att Spec
        if (attrs === NO_ATTRS) {
          attrs = {};
          spans = [];
        } else if (Object.hasOwn(attrs, an)) fail(`duplicate attribute ${an} in <${name}>`, before);
        const value = plainV ? text.slice(vs, ve) : decode(vs, ve, true);
        if (an === "__proto__")
          Object.defineProperty(attrs, an, { value, enumerable: true, writable: true, configurable: true });
        else attrs[an] = value;
        spans.push(vs, ve);
        i = ve + 1;
      }
      // ---- Namespaces 1.0: declarations, then every prefix must be declared ----
      const parentScope = depth > 0 ? scopes[depth - 1]! : ROOT_SCOPE;
      let scope = parentScope;
      if (nsDecl) {
        scope = Object.create(parentScope) as Scope;
        for (const an of Object.keys(attrs)) {
          const p = an === "xmlns" ? "" : an.startsWith("xmlns:") ? an.slice(6) : null;
          if (p === null) continue;
          const uri = attrs[an]!;
          if (p === "xmlns") fail("the prefix xmlns must not be declared", lt);
          if (p === "xml" ? uri !== XML_NS : uri === XML_NS)
            fail(`the xml prefix and only it is bound to ${XML_NS}`, lt);
          if (uri === XMLNS_NS) fail(`${XMLNS_NS} must not be declared`, lt);
          if (p !== "" && uri === "") fail(`xmlns:${p}="" cannot undeclare a prefix (Namespaces 1.0)`, lt);
          scope[p] = uri;
        }
      }
      if (nameColonAt >= 0) {
        const p = name.slice(0, nameColonAt);
        if (p === "xmlns") fail(`element <${name}> must not use the prefix xmlns`, lt);
        if (scope[p] === undefined) fail(`undeclared namespace prefix '${p}' in <${name}>`, lt);
      }
      if (prefixedAttrs > 0) {
        const seen = prefixedAttrs > 1 ? new Set<string>() : null;
        for (const an of Object.keys(attrs)) {
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
      let el: ScannedElement | null = null;
      if (keep) {
        el = {
          name,
          attrs,
          children: NO_CHILDREN,
          text: "",
          start: lt,
          openEnd: i,
          closeStart: selfClosing ? i - 2 : -1,
          end: i,
          selfClosing,
          spans,
        };
      }
      if (depth === 0) {
        if (sawRoot && !multi) fail("only one root element is allowed", lt);
        sawRoot = true;
        if (el) roots.push(el);
      } else if (el) {
        if (parent!.children === NO_CHILDREN) parent!.children = [el];
        else parent!.children.push(el);
      }
      if (!selfClosing) {
        names[depth] = name;
        els[depth] = el;
        scopes[depth] = scope;
        depth++;
      }
    }
  }
  if (depth > 0) fail(`unclosed element <${names[depth - 1]}> at end of input`, n);
  if (!sawRoot) fail("no XML element found", 0);
  return roots;
}

/** [valueStart, valueEnd) of attribute `name`'s value in the source text, when the element has it. */
export function attrSpan(el: ScannedElement, name: string): [number, number] | undefined {
  if (!Object.hasOwn(el.attrs, name)) return undefined;
  const k = Object.keys(el.attrs).indexOf(name);
  return [el.spans[2 * k]!, el.spans[2 * k + 1]!];
}
