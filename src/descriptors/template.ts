/**
 * Templates of compatible-section values (compat.md §2 "Templates").
 *
 * A value is compiled into a Template:
 * - "text": a sequence of literal text and variable slots ({name:int:LIST},
 *   {name:string:LIST} declarations and {name} references);
 * - "arith": a whole value `{name}/N`, `{name}*N`, `{name}+N` or `{name}-N` on an
 *   int variable, compared exactly as a rational number.
 *
 * Int domains are kept as sorted, merged inclusive ranges of bigints and are
 * never materialised: `0..1000000000000` is one range.
 */

export const VAR_NAME_RE = /^[A-Za-z][A-Za-z0-9_]*/;

export interface IntDomain {
  kind: "int";
  /** Sorted, merged, inclusive. */
  ranges: [bigint, bigint][];
  size: bigint;
  /** Longest decimal form of a member (sign included). */
  maxChars: number;
}

export interface StringDomain {
  kind: "string";
  /** Declared order, duplicates removed. */
  values: string[];
  set: Set<string>;
  minChars: number;
  maxChars: number;
}

export type Domain = IntDomain | StringDomain;

export type Part = { t: "lit"; text: string } | { t: "var"; name: string };

export type ArithOp = "/" | "*" | "+" | "-";

export type Template =
  | { kind: "text"; parts: Part[] }
  | { kind: "arith"; name: string; op: ArithOp; n: bigint };

/** A template error at `offset` (0-based, in the value text). */
export class TemplateError extends Error {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly offset: number,
    readonly key?: string,
  ) {
    super(`${what}; expected ${expected}`);
    this.name = "TemplateError";
  }
}

interface Decl {
  name: string;
  domain: Domain;
  offset: number;
}

interface Ref {
  name: string;
  offset: number;
}

interface ParsedValue {
  parts: Part[];
  decls: Decl[];
  refs: Ref[];
  /** Whole value of the form {placeholder} OP N (syntactically). */
  arith?: { name: string; op: ArithOp; n: bigint; nOffset: number };
}

export interface CompiledKey {
  key: string;
  raw: string;
  tpl: Template;
  /** Variables the value mentions, first occurrence order, unique. */
  vars: string[];
}

export interface CompiledSection {
  keys: CompiledKey[];
  /** Declared variables, in declaration order (section key order). */
  vars: Map<string, Domain>;
}

export function hasPlaceholder(text: string): boolean {
  return text.includes("{");
}

/** A text that would read as a placeholder in a compatible section ({name} or {name:...}). */
export function looksLikePlaceholder(text: string): boolean {
  return /\{[A-Za-z][A-Za-z0-9_]*[:}]/.test(text);
}

const ARITH_RE = /^\s*([*/+-])\s*(-?\d+)\s*$/;

function parseValue(text: string): ParsedValue {
  const parts: Part[] = [];
  const decls: Decl[] = [];
  const refs: Ref[] = [];
  let lit = "";
  let i = 0;
  let firstPlaceholderEnd = -1;
  let placeholderCount = 0;
  let firstName = "";
  while (i < text.length) {
    const c = text[i];
    if (c !== "{") {
      lit += c;
      i++;
      continue;
    }
    if (lit !== "") {
      parts.push({ t: "lit", text: lit });
      lit = "";
    }
    const start = i;
    i++;
    const m = VAR_NAME_RE.exec(text.slice(i, i + 200));
    if (!m) {
      throw new TemplateError(
        "'{' does not start a placeholder",
        "{name}, {name:int:LIST} or {name:string:LIST} (names match [A-Za-z][A-Za-z0-9_]*)",
        i,
      );
    }
    const name = m[0];
    i += name.length;
    if (text[i] === "}") {
      refs.push({ name, offset: start });
      i++;
    } else if (text[i] === ":") {
      i++;
      const tm = /^[A-Za-z0-9_]*/.exec(text.slice(i, i + 100));
      const type = tm ? tm[0] : "";
      const typeOffset = i;
      i += type.length;
      if (type !== "int" && type !== "string") {
        throw new TemplateError(
          `unknown placeholder type '${type}'`,
          'int or string, as in {name:int:1,2} or {name:string:"a","b"}',
          typeOffset,
        );
      }
      if (text[i] !== ":") {
        throw new TemplateError(`missing ':' after placeholder type '${type}'`, `{name:${type}:LIST}`, i);
      }
      i++;
      if (type === "int") {
        const close = text.indexOf("}", i);
        if (close < 0)
          throw new TemplateError("unterminated placeholder", "'}' closing the placeholder", start);
        const domain = parseIntList(text.slice(i, close), i);
        decls.push({ name, domain, offset: start });
        i = close + 1;
      } else {
        const r = parseStringList(text, i, start);
        decls.push({ name, domain: r.domain, offset: start });
        i = r.end + 1;
      }
    } else if (i >= text.length) {
      throw new TemplateError("unterminated placeholder", "'}' closing the placeholder", start);
    } else {
      throw new TemplateError(
        `unexpected '${text[i]}' in placeholder`,
        "'}' or ':TYPE:LIST}' after the variable name",
        i,
      );
    }
    parts.push({ t: "var", name });
    placeholderCount++;
    if (placeholderCount === 1 && start === 0) {
      firstPlaceholderEnd = i;
      firstName = name;
    }
  }
  if (lit !== "") parts.push({ t: "lit", text: lit });
  const out: ParsedValue = { parts, decls, refs };
  if (placeholderCount === 1 && firstPlaceholderEnd > 0) {
    const rest = text.slice(firstPlaceholderEnd);
    const am = ARITH_RE.exec(rest);
    if (am) {
      out.arith = {
        name: firstName,
        op: am[1] as ArithOp,
        n: BigInt(am[2]!),
        nOffset: firstPlaceholderEnd + rest.indexOf(am[2]!),
      };
    }
  }
  return out;
}

const INT_ITEM_RE = /^(-?\d+)(?:\s*\.\.\s*(-?\d+))?$/;

function parseIntList(list: string, offset: number): IntDomain {
  const ranges: [bigint, bigint][] = [];
  let pos = 0;
  for (const item of list.split(",")) {
    const lead = item.length - item.trimStart().length;
    const t = item.trim();
    const at = offset + pos + lead;
    pos += item.length + 1;
    const m = INT_ITEM_RE.exec(t);
    if (!m) {
      throw new TemplateError(
        t === "" ? "empty item in int list" : `bad int list item '${t.slice(0, 40)}'`,
        "comma-separated integers or inclusive ranges a..b, as in 1,2,4..8",
        at,
      );
    }
    const a = BigInt(m[1]!);
    const b = m[2] !== undefined ? BigInt(m[2]) : a;
    if (b < a) {
      throw new TemplateError(`bad range '${t}': ${a} > ${b}`, "a range a..b with a <= b", at);
    }
    ranges.push([a, b]);
  }
  return makeIntDomain(ranges);
}

export function makeIntDomain(ranges: [bigint, bigint][]): IntDomain {
  const sorted = [...ranges].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const [a, b] of sorted) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1] + 1n) {
      if (b > last[1]) last[1] = b;
    } else {
      merged.push([a, b]);
    }
  }
  let size = 0n;
  let maxChars = 1;
  for (const [a, b] of merged) {
    size += b - a + 1n;
    maxChars = Math.max(maxChars, `${a}`.length, `${b}`.length);
  }
  return { kind: "int", ranges: merged, size, maxChars };
}

/** Parses `"a","b"}` starting at `i`; returns the domain and the index of the closing '}'. */
function parseStringList(text: string, i: number, start: number): { domain: StringDomain; end: number } {
  const values: string[] = [];
  const skipWs = () => {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
  };
  for (;;) {
    skipWs();
    if (text[i] !== '"') {
      if (i >= text.length)
        throw new TemplateError("unterminated placeholder", "'}' closing the placeholder", start);
      throw new TemplateError(
        values.length === 0 && text[i] === "}"
          ? "empty string list"
          : `unexpected '${text[i]}' in string list`,
        'comma-separated double-quoted strings, as in "a","b"',
        i,
      );
    }
    const q = i;
    i++;
    let s = "";
    for (;;) {
      if (i >= text.length) throw new TemplateError("unterminated quoted string", "a closing '\"'", q);
      const c = text[i]!;
      if (c === "\\") {
        const n = text[i + 1];
        if (n === '"' || n === "\\") {
          s += n;
          i += 2;
          continue;
        }
        throw new TemplateError("unknown escape in quoted string", '\\" or \\\\', i);
      }
      if (c === '"') {
        i++;
        break;
      }
      s += c;
      i++;
    }
    values.push(s);
    skipWs();
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] === "}") break;
    if (i >= text.length)
      throw new TemplateError("unterminated placeholder", "'}' closing the placeholder", start);
    throw new TemplateError(`unexpected '${text[i]}' after a quoted string`, "',' or '}'", i);
  }
  return { domain: makeStringDomain(values), end: i };
}

export function makeStringDomain(values: string[]): StringDomain {
  const uniq = [...new Set(values)];
  let minChars = Number.MAX_SAFE_INTEGER;
  let maxChars = 0;
  for (const v of uniq) {
    minChars = Math.min(minChars, v.length);
    maxChars = Math.max(maxChars, v.length);
  }
  return { kind: "string", values: uniq, set: new Set(uniq), minChars, maxChars };
}

function sameDomain(a: Domain, b: Domain): boolean {
  if (a.kind === "int" && b.kind === "int") {
    return (
      a.ranges.length === b.ranges.length &&
      a.ranges.every((r, k) => r[0] === b.ranges[k]![0] && r[1] === b.ranges[k]![1])
    );
  }
  if (a.kind === "string" && b.kind === "string") {
    return a.set.size === b.set.size && a.values.every((v) => b.set.has(v));
  }
  return false;
}

/**
 * Compiles one compatible section (key -> raw template text). Throws
 * TemplateError (with `key` set) on the first problem, in key order.
 */
export function compileSection(section: Record<string, string>): CompiledSection {
  const parsed: { key: string; raw: string; p: ParsedValue }[] = [];
  const vars = new Map<string, Domain>();
  for (const key of Object.keys(section)) {
    const raw = section[key];
    if (typeof raw !== "string")
      throw new TemplateError("value is not a string", "a template string", 0, key);
    let p: ParsedValue;
    try {
      p = parseValue(raw);
    } catch (e) {
      if (e instanceof TemplateError) throw new TemplateError(e.what, e.expected, e.offset, key);
      throw e;
    }
    for (const d of p.decls) {
      const prev = vars.get(d.name);
      if (prev && !sameDomain(prev, d.domain)) {
        throw new TemplateError(
          `variable '${d.name}' declared again with a different list`,
          `the same ${prev.kind} list as its first declaration, or a reference {${d.name}}`,
          d.offset,
          key,
        );
      }
      if (!prev) vars.set(d.name, d.domain);
    }
    parsed.push({ key, raw, p });
  }
  const keys: CompiledKey[] = [];
  for (const { key, raw, p } of parsed) {
    for (const r of p.refs) {
      if (!vars.has(r.name)) {
        throw new TemplateError(
          `reference to undeclared variable '${r.name}'`,
          `a declaration {${r.name}:int:LIST} or {${r.name}:string:LIST} in the same section`,
          r.offset,
          key,
        );
      }
    }
    const names = [...new Set(p.parts.filter((x) => x.t === "var").map((x) => (x as { name: string }).name))];
    let tpl: Template = { kind: "text", parts: p.parts };
    if (p.arith && vars.get(p.arith.name)?.kind === "int") {
      if (p.arith.n === 0n && (p.arith.op === "/" || p.arith.op === "*")) {
        throw new TemplateError(
          `arithmetic '${p.arith.op}0' makes every value of '${p.arith.name}' alike`,
          "a non-zero integer N in {name}/N or {name}*N",
          p.arith.nOffset,
          key,
        );
      }
      tpl = { kind: "arith", name: p.arith.name, op: p.arith.op, n: p.arith.n };
    }
    keys.push({ key, raw, tpl, vars: names });
  }
  return { keys, vars };
}

// ---------------------------------------------------------------------------
// Domains

export function intDomainHas(d: IntDomain, v: bigint): boolean {
  let lo = 0;
  let hi = d.ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = d.ranges[mid]!;
    if (v < r[0]) hi = mid - 1;
    else if (v > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Value key of a domain member: canonical decimal for ints, the string itself otherwise. */
export function domainHasKey(d: Domain, key: string): boolean {
  if (d.kind === "string") return d.set.has(key);
  if (!CANONICAL_INT_RE.test(key)) return false;
  return intDomainHas(d, BigInt(key));
}

export const CANONICAL_INT_RE = /^(0|-?[1-9]\d*)$/;

/** Short human form of a domain: `1, 2, 4, 8`, `0..1000000000000`, `"a", "b"` (truncated). */
export function describeDomain(d: Domain, max = 8): string {
  if (d.kind === "int") {
    const items = d.ranges
      .slice(0, max)
      .map(([a, b]) => (a === b ? `${a}` : b === a + 1n ? `${a}, ${b}` : `${a}..${b}`));
    return items.join(", ") + (d.ranges.length > max ? `, ... (${d.ranges.length} ranges)` : "");
  }
  const items = d.values.slice(0, max).map((v) => JSON.stringify(v));
  return items.join(", ") + (d.values.length > max ? `, ... (${d.values.length} values)` : "");
}

// ---------------------------------------------------------------------------
// Exact rationals for arithmetic templates

export interface Rational {
  num: bigint;
  den: bigint; // > 0
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

export function rational(num: bigint, den: bigint): Rational {
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const g = gcd(num, den) || 1n;
  return { num: num / g, den: den / g };
}

const DECIMAL_RE = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Parses a decimal number (`2`, `-0.5`, `2.50`) exactly; null when it is not one. */
export function parseDecimal(s: string): Rational | null {
  if (s.length > 400) return null;
  const m = DECIMAL_RE.exec(s.trim());
  if (!m) return null;
  const frac = m[3] ?? "";
  const num = BigInt(`${m[2]}${frac}`) * (m[1] === "-" ? -1n : 1n);
  return rational(num, 10n ** BigInt(frac.length));
}

/** The variable value v such that `v OP n == q`, or null when it is not an integer. */
export function invertArith(op: ArithOp, n: bigint, q: Rational): bigint | null {
  let r: Rational;
  switch (op) {
    case "/":
      r = rational(q.num * n, q.den);
      break;
    case "*":
      if (n === 0n) return null;
      r = rational(q.num, q.den * n);
      break;
    case "+":
      r = rational(q.num - n * q.den, q.den);
      break;
    case "-":
      r = rational(q.num + n * q.den, q.den);
      break;
  }
  return r.den === 1n ? r.num : null;
}

/** Human form of `v OP n` (exact): `0.5`, `4`, `1/3`. */
export function formatArith(op: ArithOp, n: bigint, v: bigint): string {
  let r: Rational;
  switch (op) {
    case "/":
      r = rational(v, n);
      break;
    case "*":
      r = rational(v * n, 1n);
      break;
    case "+":
      r = rational(v + n, 1n);
      break;
    case "-":
      r = rational(v - n, 1n);
      break;
  }
  if (r.den === 1n) return `${r.num}`;
  // Terminating decimal when the denominator is 2^a 5^b.
  let d = r.den;
  let k = 0n;
  while (d % 2n === 0n) {
    d /= 2n;
    k++;
  }
  let j = 0n;
  while (d % 5n === 0n) {
    d /= 5n;
    j++;
  }
  if (d !== 1n) return `${r.num}/${r.den}`;
  const digits = k > j ? k : j;
  const scaled = (r.num * 10n ** digits) / r.den;
  const neg = scaled < 0n;
  const abs = (neg ? -scaled : scaled).toString().padStart(Number(digits) + 1, "0");
  const cut = abs.length - Number(digits);
  return `${neg ? "-" : ""}${abs.slice(0, cut)}.${abs.slice(cut)}`;
}
