/**
 * A strict, single-pass XML scanner producing the XmlElement tree.
 *
 * Why not fast-xml-parser on the hot path: it needs a separate validation pass
 * (XMLValidator) before parsing to reject malformed input, and both passes
 * dominate planning time on large fleets (see scripts/bench.mjs and the issue
 * note). This scanner validates while it builds the tree, in one pass:
 * - well-formed elements, matching end tags, quoted attributes, no duplicate
 *   attributes, a single root unless asked otherwise;
 * - comments, CDATA, processing instructions and the XML declaration;
 * - the five predefined entities and character references; any other entity
 *   reference is an error (there is no DTD: a DOCTYPE is refused).
 * Errors carry line and column. fast-xml-parser stays as the differential
 * oracle in test/xml/scan.test.ts.
 */
import type { XmlElement } from "./parse.js";

export class XmlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
  ) {
    super(message);
  }
}

const ENT: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function isNameStart(c: number): boolean {
  return (
    (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58 || c >= 0xc0 // a-z A-Z _ : non-ASCII
  );
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 0xb7;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 9 || c === 13;
}

export function scanXml(text: string, multiRoot: boolean): XmlElement[] {
  const n = text.length;
  let i = 0;
  const roots: XmlElement[] = [];
  const stack: XmlElement[] = [];

  const fail = (msg: string, at = i): never => {
    let line = 1;
    let last = -1;
    for (let k = 0; k < at && k < n; k++) {
      if (text.charCodeAt(k) === 10) {
        line++;
        last = k;
      }
    }
    throw new XmlSyntaxError(msg, line, at - last);
  };

  const decode = (s: string, start: number): string => {
    if (s.indexOf("&") < 0) return s;
    let out = "";
    let k = 0;
    for (;;) {
      const amp = s.indexOf("&", k);
      if (amp < 0) return out + s.slice(k);
      out += s.slice(k, amp);
      const semi = s.indexOf(";", amp);
      if (semi < 0 || semi - amp > 12) fail("'&' must start an entity reference such as &amp;", start + amp);
      const name = s.slice(amp + 1, semi);
      if (name[0] === "#") {
        const hex = name[1] === "x";
        const digits = name.slice(hex ? 2 : 1);
        if (!(hex ? /^[0-9a-fA-F]+$/ : /^[0-9]+$/).test(digits))
          fail(`invalid character reference &${name};`, start + amp);
        const cp = Number.parseInt(digits, hex ? 16 : 10);
        if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
          fail(`invalid character &${name};`, start + amp);
        out += String.fromCodePoint(cp);
      } else {
        const v = ENT[name];
        if (v === undefined) fail(`undefined entity &${name}; (no DTD entities are allowed)`, start + amp);
        out += v;
      }
      k = semi + 1;
    }
  };

  const addText = (start: number, end: number) => {
    if (end <= start) return;
    const raw = text.slice(start, end);
    const top = stack[stack.length - 1];
    if (!top) {
      for (let k = 0; k < raw.length; k++) {
        if (!isSpace(raw.charCodeAt(k))) fail("text outside the root element", start + k);
      }
      return;
    }
    if (raw.indexOf("]]>") >= 0) fail("']]>' is not allowed in text", start + raw.indexOf("]]>"));
    top.text += decode(raw, start);
  };

  const readName = (): string => {
    const s = i;
    if (i >= n || !isNameStart(text.charCodeAt(i))) fail("expected a name");
    i++;
    while (i < n && isNameChar(text.charCodeAt(i))) i++;
    return text.slice(s, i);
  };

  const skipSpace = () => {
    while (i < n && isSpace(text.charCodeAt(i))) i++;
  };

  let sawRoot = false;
  let textStart = 0;
  while (i < n) {
    const lt = text.indexOf("<", i);
    if (lt < 0) {
      addText(textStart, n);
      i = n;
      break;
    }
    addText(textStart, lt);
    i = lt + 1;
    const c = text.charCodeAt(i);
    if (c === 33 /* ! */) {
      if (text.startsWith("!--", i)) {
        const end = text.indexOf("-->", i + 3);
        if (end < 0) fail("unterminated comment", lt);
        if (text.slice(i + 3, end).includes("--")) fail("'--' is not allowed inside a comment", lt);
        i = end + 3;
      } else if (text.startsWith("![CDATA[", i)) {
        const end = text.indexOf("]]>", i + 8);
        if (end < 0) fail("unterminated CDATA section", lt);
        const top = stack[stack.length - 1];
        if (!top) return fail("CDATA outside the root element", lt);
        top.text += text.slice(i + 8, end);
        i = end + 3;
      } else if (text.startsWith("!DOCTYPE", i) || text.startsWith("!ENTITY", i)) {
        fail("DOCTYPE/ENTITY declarations are not allowed in libvirt XML (refused for safety)", lt);
      } else {
        fail("unexpected '<!'", lt);
      }
    } else if (c === 63 /* ? */) {
      const end = text.indexOf("?>", i + 1);
      if (end < 0) fail("unterminated processing instruction", lt);
      const target = /^[A-Za-z_:][\w.:-]*/.exec(text.slice(i + 1, i + 40))?.[0] ?? "";
      if (target === "") fail("processing instruction without a target", lt);
      if (
        target.toLowerCase() === "xml" &&
        (stack.length > 0 ||
          (sawRoot && !multiRoot) ||
          (!multiRoot && lt !== 0 && text.slice(0, lt).trim() !== ""))
      ) {
        fail("XML declaration allowed only at the start", lt);
      }
      i = end + 2;
    } else if (c === 47 /* / */) {
      i++;
      const name = readName();
      skipSpace();
      if (text.charCodeAt(i) !== 62) fail(`expected '>' to close </${name}`);
      i++;
      const top = stack.pop();
      if (!top) return fail(`closing tag </${name}> without an open element`, lt);
      if (top.name !== name) fail(`expected closing tag </${top.name}> instead of </${name}>`, lt);
    } else {
      const name = readName();
      const el: XmlElement = { name, attrs: {}, children: [], text: "" };
      let selfClose = false;
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
          selfClose = true;
          break;
        }
        if (i === before) fail(`expected whitespace before an attribute in <${name}>`);
        const an = readName();
        skipSpace();
        if (text.charCodeAt(i) !== 61) fail(`attribute ${an} needs '=' and a quoted value`);
        i++;
        skipSpace();
        const q = text.charCodeAt(i);
        if (q !== 34 && q !== 39) fail(`attribute ${an}: value must be quoted`);
        const vs = i + 1;
        const ve = text.indexOf(q === 34 ? '"' : "'", vs);
        if (ve < 0) fail(`attribute ${an}: unterminated value`, vs - 1);
        const raw = text.slice(vs, ve);
        const ltIn = raw.indexOf("<");
        if (ltIn >= 0) fail(`attribute ${an}: '<' is not allowed in a value`, vs + ltIn);
        if (Object.hasOwn(el.attrs, an)) fail(`duplicate attribute ${an} in <${name}>`, before);
        el.attrs[an] = decode(raw, vs);
        i = ve + 1;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else {
        if (sawRoot && !multiRoot) fail("only one root element is allowed", lt);
        sawRoot = true;
        roots.push(el);
      }
      if (!selfClose) stack.push(el);
    }
    textStart = i;
  }
  if (stack.length > 0) fail(`unclosed element <${stack[stack.length - 1]!.name}> at end of input`, n);
  if (roots.length === 0) fail("no XML element found", 0);
  return roots;
}
