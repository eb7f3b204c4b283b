/**
 * accepts(D, S.self): may source S migrate to destination D (compat.md §3).
 *
 * Bounded on hostile input: variables are never enumerated over their
 * domains. Each key's template is matched against the source's concrete
 * value, which yields the (few) variable values that key allows; sets are
 * intersected per variable; only keys mentioning several variables are
 * joined by a search, capped at MAX_COMBINATIONS steps, beyond which the
 * section is rejected with `descriptor-invalid`.
 */
import { errorMessage } from "../errors.js";
import type { DescriptorData } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import {
  CANONICAL_INT_RE,
  type CompiledKey,
  type CompiledSection,
  compileSection,
  type Domain,
  describeDomain,
  domainHasKey,
  formatArith,
  intDomainHas,
  invertArith,
  type Part,
  parseDecimal,
  TemplateError,
} from "./template.js";
import { BoundedMemo, clonePlain, contentKey, deepFreeze } from "./memo.js";
import { DEVICE_ID_KEYS, normalizeDeviceId } from "./text.js";
import { checkLegacyMajors, checkVersionItem, isVersionKey, parseVersion } from "./version.js";

export type MatchResult =
  | { ok: true; binding: Record<string, string | number>; section: number | null }
  | { ok: false; reasons: Reason[] };

/** Search steps (template splits + join nodes) per accepts() call. */
export const MAX_COMBINATIONS = 1_000_000;

const NEVER_COMPARED = "migratable";

class BudgetExceeded extends Error {}

class Budget {
  used = 0;
  constructor(readonly limit: number) {}
  step(n = 1): void {
    this.used += n;
    if (this.used > this.limit) throw new BudgetExceeded("search bound exceeded");
  }
}

/*
 * accepts() reads nothing but its two arguments (and constants). A caller
 * that matches one source against many destinations (the candidate step)
 * uses `matcherFor`, which memoises outcomes by the complete content of both
 * (src/descriptors/memo.ts): the source's content key is computed once per
 * matcher, a destination's once by `keyDestination`, which freezes it, so
 * its key cannot go stale.
 */

/** Per source content key: outcomes by destination content key. Bounded twice (sources, destinations per source). */
export const MATCH_MEMO = new BoundedMemo<BoundedMemo<MatchResult>>(64);
/** Destinations remembered per source (oldest forgotten first). */
export const MATCH_MEMO_PER_SOURCE = 512;
/** Hits and misses of the matchers' memo (the tests read them). */
export const MATCH_MEMO_STATS = { hits: 0, misses: 0, uncached: 0 };

/**
 * The content key of a destination descriptor for a matcher, or null (not
 * plain data, or too large: matched without the memo). Freezes `d` (every
 * level) with it, so the key holds for as long as `d` lives: the caller keeps
 * the key beside `d` (the host index does, src/candidates/hostindex.ts).
 */
export function keyDestination(d: DescriptorData): string | null {
  const key = contentKey(d);
  if (key !== null) deepFreeze(d);
  return key;
}

/** A matcher: accepts(dest, source) for one source; `destKey` is keyDestination(dest). */
export type Matcher = (dest: DescriptorData, destKey: string | null) => MatchResult;

/**
 * accepts(dest, srcSelf) for one source and many destinations, memoised by
 * the content of both (destinations by the key keyDestination gave them).
 * The source is copied when the matcher is made, so its key and what is
 * matched agree even if the caller changes its object later. Each call
 * returns an outcome of its own (a copy of the memoised one).
 */
export function matcherFor(srcSelf: Record<string, string>): Matcher {
  const srcKey = contentKey(srcSelf);
  if (srcKey === null) return (dest) => accepts(dest, srcSelf);
  const src = clonePlain(srcSelf);
  const memo = MATCH_MEMO.get(srcKey, () => new BoundedMemo<MatchResult>(MATCH_MEMO_PER_SOURCE));
  return (dest, destKey) => {
    if (destKey === null) {
      MATCH_MEMO_STATS.uncached++;
      return accepts(dest, src);
    }
    let missed = false;
    const r = memo.get(destKey, () => {
      missed = true;
      return accepts(dest, src);
    });
    if (missed) MATCH_MEMO_STATS.misses++;
    else MATCH_MEMO_STATS.hits++;
    return copyResult(r);
  };
}

/** A copy of a memoised outcome (binding values are strings and numbers; reasons plain data). */
function copyResult(r: MatchResult): MatchResult {
  return r.ok
    ? { ok: true, binding: { ...r.binding }, section: r.section }
    : { ok: false, reasons: r.reasons.map(clonePlain) };
}

export function accepts(dest: DescriptorData, srcSelf: Record<string, string>): MatchResult {
  try {
    return acceptsInner(dest, srcSelf);
  } catch (e) {
    return {
      ok: false,
      reasons: [
        reason("descriptor-invalid", `destination descriptor could not be evaluated: ${errorMessage(e)}`),
      ],
    };
  }
}

/** Own string-valued entries of an untrusted record. */
function stringEntries(o: unknown): Map<string, string> {
  const m = new Map<string, string>();
  if (typeof o !== "object" || o === null) return m;
  for (const k of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === "string") m.set(k, v);
  }
  return m;
}

function clip(s: string, n = 120): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

function acceptsInner(dest: DescriptorData, srcSelf: Record<string, string>): MatchResult {
  if (typeof dest !== "object" || dest === null || typeof dest.self !== "object" || dest.self === null) {
    return {
      ok: false,
      reasons: [reason("descriptor-invalid", "destination descriptor has no self section")],
    };
  }
  const dSelf = stringEntries(dest.self);
  const sSelf = stringEntries(srcSelf);
  const sections: unknown[] = Array.isArray(dest.compatible) ? dest.compatible : [];

  const api = checkDeviceApi(dSelf, sSelf);
  if (api) return { ok: false, reasons: [api] };

  if (sections.length === 0) {
    const reasons = defaultEquality(dSelf, sSelf);
    return reasons.length === 0 ? { ok: true, binding: {}, section: null } : { ok: false, reasons };
  }

  const budget = new Budget(MAX_COMBINATIONS);
  let best: { fails: number; reasons: Reason[] } | null = null;
  for (let i = 0; i < sections.length; i++) {
    const r = evaluateSection(sections[i], i, dSelf, sSelf, budget);
    if (r.ok) return { ok: true, binding: r.binding, section: i };
    if (!best || r.fails < best.fails) best = { fails: r.fails, reasons: r.reasons };
  }
  return { ok: false, reasons: best!.reasons };
}

function checkDeviceApi(dSelf: Map<string, string>, sSelf: Map<string, string>): Reason | null {
  const d = dSelf.get("device_api");
  const s = sSelf.get("device_api");
  if (d?.trim() === s?.trim()) return null;
  return reason(
    "device-api-mismatch",
    `device API differs: destination is ${d ?? "(not known)"}, source is ${s ?? "(not known)"}`,
    {
      key: "device_api",
      ...(s !== undefined ? { source: s } : {}),
      ...(d !== undefined ? { accepted: d } : {}),
    },
  );
}

/** Compares one field between D.self and S.self (versions by the version rule). */
function compareField(key: string, d: string, s: string): Reason | null {
  if (isVersionKey(key)) {
    if (parseVersion(d) && parseVersion(s)) return checkVersionItem(key, d, s);
    if (d.trim() === s.trim()) return null;
  } else if (DEVICE_ID_KEYS.has(key)) {
    if (normalizeDeviceId(d) === normalizeDeviceId(s)) return null;
  } else if (d.trim() === s.trim()) {
    return null;
  }
  return reason("field-mismatch", `destination has ${key}=${clip(d)}; source has ${key}=${clip(s)}`, {
    key,
    source: s,
    accepted: d,
  });
}

function unknownAtDestination(key: string, s: string): Reason {
  return reason(
    "field-unknown-at-destination",
    `source has ${key}=${clip(s)}, which the destination does not know (an older destination cannot honour a field the source relies on)`,
    { key, source: s },
  );
}

function missingAtSource(key: string, accepted: string): Reason {
  return reason(
    "field-missing-at-source",
    `destination requires ${key} (${clip(accepted)}); the source does not have it`,
    {
      key,
      accepted,
    },
  );
}

function defaultEquality(dSelf: Map<string, string>, sSelf: Map<string, string>): Reason[] {
  const reasons: Reason[] = [];
  const keys = [...dSelf.keys(), ...[...sSelf.keys()].filter((k) => !dSelf.has(k))];
  for (const key of keys) {
    if (key === NEVER_COMPARED || key === "device_api") continue;
    const d = dSelf.get(key);
    const s = sSelf.get(key);
    if (d === undefined) reasons.push(unknownAtDestination(key, s!));
    else if (s === undefined) reasons.push(missingAtSource(key, d));
    else {
      const r = compareField(key, d, s);
      if (r) reasons.push(r);
    }
  }
  return reasons;
}

// ---------------------------------------------------------------------------
// Sections

type SectionResult =
  | { ok: true; binding: Record<string, string | number> }
  | { ok: false; fails: number; reasons: Reason[] };

/** What one key allows: tuples of value keys over `vars` (empty vars: one empty tuple). */
interface KeyConstraint {
  key: string;
  raw: string;
  source: string;
  vars: string[];
  tuples: string[][];
}

function evaluateSection(
  raw: unknown,
  index: number,
  dSelf: Map<string, string>,
  sSelf: Map<string, string>,
  budget: Budget,
): SectionResult {
  const invalid = (msg: string, extra: Record<string, unknown> = {}): SectionResult => ({
    ok: false,
    fails: Number.MAX_SAFE_INTEGER,
    reasons: [
      reason("descriptor-invalid", `COMPATIBLE: section ${index + 1}: ${msg}`, { section: index, ...extra }),
    ],
  });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return invalid("not an object of key: template");
  const section = Object.fromEntries(stringEntries(raw));
  if (Object.keys(section).length !== Object.keys(raw).length) return invalid("a value is not a string");
  let compiled: CompiledSection;
  try {
    compiled = compileCached(raw, section);
  } catch (e) {
    if (e instanceof TemplateError) {
      return invalid(`${e.key ?? ""}: ${e.message}`, e.key ? { key: e.key } : {});
    }
    throw e;
  }
  const reasons: Reason[] = [];
  const mentioned = new Set(compiled.keys.map((k) => k.key));
  for (const [key, s] of sSelf) {
    if (key === NEVER_COMPARED || key === "device_api" || mentioned.has(key)) continue;
    const d = dSelf.get(key);
    if (d === undefined) reasons.push(unknownAtDestination(key, s));
    else {
      const r = compareField(key, d, s);
      if (r) reasons.push(r);
    }
  }
  const constraints: KeyConstraint[] = [];
  try {
    for (const ck of compiled.keys) {
      if (ck.key === NEVER_COMPARED) continue;
      const s = sSelf.get(ck.key);
      if (s === undefined) {
        reasons.push(missingAtSource(ck.key, ck.raw));
        continue;
      }
      const r = keyConstraint(ck, s, compiled, dSelf, budget);
      if ("code" in r) reasons.push(r);
      else constraints.push(r);
    }
    const joined = propagate(constraints, compiled, budget);
    reasons.push(...joined.reasons);
    if (reasons.length > 0) return { ok: false, fails: reasons.length, reasons };
    return { ok: true, binding: toBinding(joined.solution, compiled) };
  } catch (e) {
    if (e instanceof BudgetExceeded) {
      return invalid(
        `deciding this section needs more than ${MAX_COMBINATIONS} combinations of its variables; simplify the templates (fewer placeholders in one value)`,
      );
    }
    throw e;
  }
}

/** Compiled sections, keyed by the section object; reused only while its entries are unchanged. */
const compileCache = new WeakMap<object, { entries: [string, string][]; compiled: CompiledSection }>();

function compileCached(key: object, section: Record<string, string>): CompiledSection {
  const entries = Object.entries(section);
  const hit = compileCache.get(key);
  if (
    hit &&
    hit.entries.length === entries.length &&
    hit.entries.every(([k, v], i) => entries[i]![0] === k && entries[i]![1] === v)
  ) {
    return hit.compiled;
  }
  const compiled = compileSection(section);
  compileCache.set(key, { entries, compiled });
  return compiled;
}

function toBinding(
  solution: Map<string, string>,
  compiled: CompiledSection,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, dom] of compiled.vars) {
    const v = solution.get(name);
    if (v === undefined) continue;
    if (dom.kind === "int") {
      const n = Number(v);
      out[name] = Number.isSafeInteger(n) ? n : v;
    } else {
      out[name] = v;
    }
  }
  return out;
}

function mismatch(ck: CompiledKey, source: string, compiled: CompiledSection, extra = ""): Reason {
  const doms = ck.vars
    .map((v) => {
      const d = compiled.vars.get(v);
      return d ? `${v} in {${describeDomain(d)}}` : v;
    })
    .join(", ");
  return reason(
    "field-mismatch",
    `destination accepts ${ck.key}=${clip(ck.raw)}${doms ? ` with ${doms}` : ""}; source is ${clip(source)}${extra}`,
    { key: ck.key, source, accepted: ck.raw },
  );
}

function keyConstraint(
  ck: CompiledKey,
  source: string,
  compiled: CompiledSection,
  dSelf: Map<string, string>,
  budget: Budget,
): KeyConstraint | Reason {
  const base = { key: ck.key, raw: ck.raw, source };
  if (isVersionKey(ck.key)) {
    const v = versionConstraint(ck, source, compiled, dSelf, budget);
    if (v !== undefined) return "code" in v ? v : { ...base, ...v };
  }
  const tpl = ck.tpl;
  if (tpl.kind === "arith") {
    const dom = compiled.vars.get(tpl.name)!;
    const q = parseDecimal(source);
    const v = q ? invertArith(tpl.op, tpl.n, q) : null;
    if (v === null || dom.kind !== "int" || !intDomainHas(dom, v)) {
      return mismatch(ck, source, compiled, q ? "" : " (not a number)");
    }
    return { ...base, vars: [tpl.name], tuples: [[`${v}`]] };
  }
  if (ck.vars.length === 0) {
    const lit = tpl.parts.map((p) => (p.t === "lit" ? p.text : "")).join("");
    const eq = DEVICE_ID_KEYS.has(ck.key)
      ? normalizeDeviceId(lit) === normalizeDeviceId(source)
      : lit.trim() === source.trim();
    return eq ? { ...base, vars: [], tuples: [[]] } : mismatch(ck, source, compiled);
  }
  const tuples = splitMatch(ck, source, compiled, budget);
  if (tuples.length === 0) return mismatch(ck, source, compiled);
  return { ...base, vars: ck.vars, tuples };
}

/**
 * Version keys: plain version / range (the rule), a whole-value int variable
 * (legacy accepted majors) or a whole-value string variable (a list of accepted
 * versions or ranges). Other templates: undefined (matched as text, exactly).
 */
function versionConstraint(
  ck: CompiledKey,
  source: string,
  compiled: CompiledSection,
  dSelf: Map<string, string>,
  budget: Budget,
): Reason | { vars: string[]; tuples: string[][] } | undefined {
  const tpl = ck.tpl;
  if (tpl.kind !== "text") return undefined;
  if (ck.vars.length === 0) {
    const text = tpl.parts.map((p) => (p.t === "lit" ? p.text : "")).join("");
    const r = checkVersionItem(ck.key, text, source);
    return r ?? { vars: [], tuples: [[]] };
  }
  const only = tpl.parts.length === 1 ? tpl.parts[0] : undefined;
  if (only?.t !== "var") return undefined;
  const dom = compiled.vars.get(only.name)!;
  if (dom.kind === "int") {
    const r = checkLegacyMajors(
      ck.key,
      (m) => intDomainHas(dom, m),
      describeDomain(dom),
      source,
      dSelf.get(ck.key),
      ck.raw,
    );
    if (r) return r;
    return { vars: [only.name], tuples: [[`${parseVersion(source)!.major}`]] };
  }
  const ok: string[][] = [];
  let firstFail: Reason | null = null;
  for (const item of dom.values) {
    budget.step();
    const r = checkVersionItem(ck.key, item, source);
    if (r) firstFail ??= r;
    else ok.push([item]);
  }
  if (ok.length > 0) return { vars: [only.name], tuples: ok };
  const s = parseVersion(source);
  const items = describeDomain(dom);
  if (!s || !firstFail) return firstFail ?? mismatch(ck, source, compiled);
  const plain = dom.values.map((x) => parseVersion(x));
  const code = plain.every((x) => x)
    ? plain.some((x) => x!.major === s.major)
      ? "version-minor-too-old"
      : "version-major-mismatch"
    : "version-out-of-range";
  return reason(
    code,
    `destination accepts ${ck.key} in {${items}} (each by the version rule); source is ${source}`,
    {
      key: ck.key,
      source,
      accepted: ck.raw,
    },
  );
}

/**
 * Matches a text template (literals and variable slots) against the source
 * value; returns every assignment of the key's variables (value keys) that
 * renders exactly the source. Bounded by the budget.
 */
function splitMatch(ck: CompiledKey, src: string, compiled: CompiledSection, budget: Budget): string[][] {
  if (ck.tpl.kind !== "text") return [];
  const parts = ck.tpl.parts;
  // Literal text matches exactly; a template whose literal parts are absent fails fast.
  for (const p of parts) if (p.t === "lit" && !src.includes(p.text)) return [];
  const last = parts[parts.length - 1];
  if (last?.t === "lit" && !src.endsWith(last.text)) return [];
  const first = parts[0];
  if (first?.t === "lit" && !src.startsWith(first.text)) return [];

  const out: string[][] = [];
  const seen = new Set<string>();
  const bound = new Map<string, string>();
  const rec = (pi: number, pos: number): void => {
    budget.step();
    if (pi === parts.length) {
      if (pos === src.length) {
        const tuple = ck.vars.map((v) => bound.get(v)!);
        const k = JSON.stringify(tuple);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(tuple);
        }
      }
      return;
    }
    const p = parts[pi]!;
    if (p.t === "lit") {
      if (src.startsWith(p.text, pos)) rec(pi + 1, pos + p.text.length);
      return;
    }
    const have = bound.get(p.name);
    if (have !== undefined) {
      if (src.startsWith(have, pos)) rec(pi + 1, pos + have.length);
      return;
    }
    const dom = compiled.vars.get(p.name)!;
    for (const end of candidateEnds(parts, pi, pos, src, dom, budget)) {
      const value = src.slice(pos, end);
      if (!domainHasKey(dom, value)) continue;
      bound.set(p.name, value);
      rec(pi + 1, end);
      bound.delete(p.name);
    }
  };
  rec(0, 0);
  return out;
}

/** Possible end positions of the slot at parts[pi] starting at pos (bounded by the domain's widths). */
function candidateEnds(
  parts: Part[],
  pi: number,
  pos: number,
  src: string,
  dom: Domain,
  budget: Budget,
): number[] {
  const next = parts[pi + 1];
  const ends: number[] = [];
  const fits = (e: number) =>
    next === undefined ? e === src.length : next.t === "lit" ? src.startsWith(next.text, e) : true;
  if (dom.kind === "int") {
    // A canonical decimal integer: -?(0|[1-9][0-9]*); every prefix of the digit run.
    let i = pos;
    if (src[i] === "-") i++;
    const digitsStart = i;
    const limit = Math.min(src.length, pos + dom.maxChars);
    while (i < limit && src.charCodeAt(i) >= 48 && src.charCodeAt(i) <= 57) i++;
    const runEnd = i;
    if (runEnd === digitsStart) return ends;
    if (src[digitsStart] === "0") {
      const e = digitsStart + 1;
      if (CANONICAL_INT_RE.test(src.slice(pos, e)) && fits(e)) ends.push(e);
      return ends;
    }
    for (let e = digitsStart + 1; e <= runEnd; e++) {
      budget.step();
      if (fits(e)) ends.push(e);
    }
    return ends;
  }
  const lo = pos + dom.minChars;
  const hi = Math.min(src.length, pos + dom.maxChars);
  if (next === undefined) return lo <= src.length && src.length <= hi ? [src.length] : [];
  for (let e = lo; e <= hi; e++) {
    budget.step();
    if (fits(e)) ends.push(e);
  }
  return ends;
}

// ---------------------------------------------------------------------------
// Propagation and join

interface JoinResult {
  reasons: Reason[];
  solution: Map<string, string>;
}

function propagate(constraints: KeyConstraint[], compiled: CompiledSection, budget: Budget): JoinResult {
  const reasons: Reason[] = [];
  /** Candidate values per variable and the keys that narrowed them. */
  const cand = new Map<string, { values: Set<string>; by: { key: string; source: string }[] }>();
  const multi: KeyConstraint[] = [];
  for (const c of constraints) {
    if (c.vars.length === 0) continue;
    if (c.vars.length > 1) {
      multi.push(c);
      continue;
    }
    const name = c.vars[0]!;
    const values = new Set(c.tuples.map((t) => t[0]!));
    const prev = cand.get(name);
    if (!prev) {
      cand.set(name, { values, by: [{ key: c.key, source: c.source }] });
      continue;
    }
    budget.step(values.size);
    const inter = new Set([...values].filter((v) => prev.values.has(v)));
    if (inter.size === 0) {
      reasons.push(conflict(c, name, values, prev, compiled));
      continue;
    }
    prev.values = inter;
    prev.by.push({ key: c.key, source: c.source });
  }
  // Keys with several variables: filter by the candidates, then search.
  const live: KeyConstraint[] = [];
  for (const c of multi) {
    budget.step(c.tuples.length);
    const tuples = c.tuples.filter((t) => c.vars.every((v, k) => cand.get(v)?.values.has(t[k]!) ?? true));
    if (tuples.length === 0) {
      reasons.push(
        reason(
          "field-mismatch",
          `destination accepts ${c.key}=${clip(c.raw)}; source is ${clip(c.source)}, which needs values of ${c.vars.join(", ")} that other keys of the section exclude`,
          { key: c.key, source: c.source, accepted: c.raw },
        ),
      );
      continue;
    }
    live.push({ ...c, tuples });
  }
  const solution = new Map<string, string>();
  if (reasons.length > 0) return { reasons, solution };
  live.sort((a, b) => a.tuples.length - b.tuples.length);
  const assigned = new Map<string, string>();
  const search = (i: number): boolean => {
    if (i === live.length) return true;
    const c = live[i]!;
    for (const t of c.tuples) {
      budget.step();
      let fits = true;
      for (let k = 0; k < c.vars.length; k++) {
        const have = assigned.get(c.vars[k]!);
        if (have !== undefined && have !== t[k]) {
          fits = false;
          break;
        }
      }
      if (!fits) continue;
      const added: string[] = [];
      for (let k = 0; k < c.vars.length; k++) {
        const v = c.vars[k]!;
        if (!assigned.has(v)) {
          assigned.set(v, t[k]!);
          added.push(v);
        }
      }
      if (search(i + 1)) return true;
      for (const v of added) assigned.delete(v);
    }
    return false;
  };
  if (!search(0)) {
    const keys = live.map((c) => c.key);
    const last = live[live.length - 1]!;
    reasons.push(
      reason(
        "field-mismatch",
        `no single assignment of the section's variables matches the source's ${keys.join(", ")} together`,
        { key: last.key, source: last.source, accepted: last.raw },
      ),
    );
    return { reasons, solution };
  }
  for (const [name, c] of cand) {
    const first = c.values.values().next().value;
    if (first !== undefined) solution.set(name, first);
  }
  for (const [name, v] of assigned) solution.set(name, v);
  return { reasons, solution };
}

function conflict(
  c: KeyConstraint,
  name: string,
  values: Set<string>,
  prev: { values: Set<string>; by: { key: string; source: string }[] },
  compiled: CompiledSection,
): Reason {
  const fmt = (s: Set<string>) => {
    const dom = compiled.vars.get(name);
    const list = [...s].slice(0, 5).map((x) => (dom?.kind === "string" ? JSON.stringify(x) : x));
    return list.length === 1
      ? `${name}=${list[0]}`
      : `${name} in {${list.join(", ")}${s.size > 5 ? ", ..." : ""}}`;
  };
  const others = prev.by.map((b) => `${b.key}=${clip(b.source, 60)}`).join(", ");
  const tpl = compiled.keys.find((k) => k.key === c.key)?.tpl;
  const v = [...prev.values][0];
  if (tpl?.kind === "arith" && v !== undefined && prev.values.size === 1) {
    return reason(
      "field-mismatch",
      `destination accepts ${c.key}=${clip(c.raw)}, which is ${formatArith(tpl.op, tpl.n, BigInt(v))} for ${name}=${v} (set by the source's ${others}); source is ${clip(c.source)}`,
      { key: c.key, source: c.source, accepted: c.raw },
    );
  }
  return reason(
    "field-mismatch",
    `destination accepts ${c.key}=${clip(c.raw)}; source is ${clip(c.source)}, which needs ${fmt(values)}, but the source's ${others} needs ${fmt(prev.values)}`,
    { key: c.key, source: c.source, accepted: c.raw },
  );
}
