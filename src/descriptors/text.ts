/**
 * The descriptor text format (compat.md §2) and its JSON form.
 *
 *   # comment
 *   device_api=vfio-pci          <- self section (lines before the first COMPATIBLE:)
 *   COMPATIBLE:
 *   mdev_type=i915-GVTg_V5_{val1:int:1,2,4,8}
 *   aggregator={val1}/2
 *
 * Compatible-section values are kept as their raw template text (quotes of a
 * quoted value removed, escapes resolved), so parse(print(d)) deep-equals d.
 */
import { InputError } from "../errors.js";
import type { DescriptorData, SectionData } from "../model.js";
import { compileSection, hasPlaceholder, looksLikePlaceholder, TemplateError } from "./template.js";
import { isRangeExpression, isValidRange, isVersionKey, parseVersion } from "./version.js";

export const KEY_RE = /^[a-z][a-z0-9_]*$/;
export const IDENTITY_KEYS = ["device_api", "device_type", "device_id", "mdev_type"] as const;
export const DEVICE_ID_KEYS = new Set(["device_id", "pf_device_id"]);

/**
 * PCI vendor+device ids as 8 lower-case hex digits: `8086:591d`, `0x8086 0x591d`,
 * `8086591D` -> `8086591d`. Anything else (e.g. a css device id) is returned trimmed.
 */
export function normalizeDeviceId(s: string): string {
  const t = s.trim();
  if (/^[0-9a-fA-F]{8}$/.test(t)) return t.toLowerCase();
  const m = /^(?:0[xX])?([0-9a-fA-F]{1,4})(?:\s*:\s*|\s+)(?:0[xX])?([0-9a-fA-F]{1,4})$/.exec(t);
  if (m) return `${m[1]!.padStart(4, "0")}${m[2]!.padStart(4, "0")}`.toLowerCase();
  const m2 = /^0[xX]([0-9a-fA-F]{8})$/.exec(t);
  if (m2) return m2[1]!.toLowerCase();
  return t;
}

const VFIO_MDEV_MSG =
  "device_api 'vfio-mdev' names a driver, not a VFIO device API; expected the API the guest sees: vfio-pci, vfio-ccw, vfio-ap, vfio-platform or vfio-amba";

interface ValuePos {
  line: number;
  /** 1-based column of each character of the value (plus one past the end). */
  cols: number[];
  keyCol: number;
}

/** Problem found while validating a descriptor; `offset` is in the value text. */
interface Problem {
  section: number | null; // null = self
  key: string;
  offset: number; // -1 = at the key
  message: string; // "<what>; expected <what>"
}

/** Parses one descriptor file. Throws InputError `FILE:LINE:COL: what; expected what`. */
export function parseDescriptor(text: string, file: string): DescriptorData {
  const self: Record<string, string> = {};
  const compatible: SectionData[] = [];
  const selfPos = new Map<string, ValuePos>();
  const sectionPos: Map<string, ValuePos>[] = [];
  const fail = (line: number, col: number, msg: string): never => {
    throw new InputError(`${file}:${line}:${col}: ${msg}`, file);
  };
  const lines = text.split("\n");
  for (let idx = 0; idx < lines.length; idx++) {
    const lineNo = idx + 1;
    let line = lines[idx]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    const ctl = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(line);
    if (ctl) {
      const cp = ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
      fail(
        lineNo,
        ctl.index + 1,
        `control character U+${cp}; expected printable text (is this a binary file?)`,
      );
    }
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (trimmed === "COMPATIBLE:") {
      compatible.push({});
      sectionPos.push(new Map());
      continue;
    }
    const lead = line.length - line.trimStart().length;
    const km = /^[a-z][a-z0-9_]*/.exec(line.slice(lead));
    const key = km ? km[0] : "";
    let j = lead + key.length;
    while (line[j] === " " || line[j] === "\t") j++;
    if (!km || line[j] !== "=") {
      const eq = line.indexOf("=");
      if (eq > lead) {
        const bad = km ? j : lead;
        fail(
          lineNo,
          bad + 1,
          `invalid key '${line.slice(lead, eq).trim().slice(0, 40)}' (unexpected '${line[bad]}'); expected a key matching [a-z][a-z0-9_]*`,
        );
      }
      if (/^compatible\s*:?$/i.test(trimmed)) {
        fail(
          lineNo,
          lead + 1,
          `'${trimmed}' is not a section header; expected COMPATIBLE: (upper case, with the colon)`,
        );
      }
      fail(
        lineNo,
        lead + 1,
        `'${trimmed.slice(0, 40)}' is not a key=value line; expected key=value, a # comment, a blank line or COMPATIBLE:`,
      );
    }
    j++; // past '='
    while (line[j] === " " || line[j] === "\t") j++;
    let value: string;
    const cols: number[] = [];
    if (line[j] === '"') {
      const q = j;
      j++;
      value = "";
      let closed = false;
      while (j < line.length) {
        const c = line[j]!;
        if (c === "\\") {
          const n = line[j + 1];
          if (n === '"' || n === "\\") {
            cols.push(j + 1);
            value += n;
            j += 2;
            continue;
          }
          fail(lineNo, j + 1, `unknown escape '\\${n ?? ""}' in quoted value; expected \\" or \\\\`);
        }
        if (c === '"') {
          closed = true;
          j++;
          break;
        }
        cols.push(j + 1);
        value += c;
        j++;
      }
      if (!closed) fail(lineNo, q + 1, `unterminated quoted value; expected a closing '"' on the same line`);
      cols.push(j);
      const rest = line.slice(j);
      if (rest.trim() !== "") {
        fail(
          lineNo,
          j + 1 + (rest.length - rest.trimStart().length),
          `unexpected text after the closing quote; expected the end of the line (quote the whole value)`,
        );
      }
    } else {
      value = line.slice(j).trimEnd();
      for (let k = 0; k <= value.length; k++) cols.push(j + k + 1);
    }
    const inSelf = compatible.length === 0;
    const target = inSelf ? self : compatible[compatible.length - 1]!;
    const posMap = inSelf ? selfPos : sectionPos[sectionPos.length - 1]!;
    const prev = posMap.get(key);
    if (prev) {
      fail(
        lineNo,
        lead + 1,
        `duplicate key '${key}' in the ${inSelf ? "self section" : `COMPATIBLE: section ${compatible.length}`} (first on line ${prev.line}); expected each key at most once per section`,
      );
    }
    posMap.set(key, { line: lineNo, cols, keyCol: lead + 1 });
    target[key] = value;
  }
  const d: DescriptorData = { self, compatible };
  const problem = checkDescriptor(d);
  if (problem) {
    const pos = (problem.section === null ? selfPos : sectionPos[problem.section])?.get(problem.key);
    const line = pos?.line ?? 1;
    const col = !pos
      ? 1
      : problem.offset < 0
        ? pos.keyCol
        : (pos.cols[Math.min(problem.offset, pos.cols.length - 1)] ?? 1);
    fail(line, col, problem.message);
  }
  normalize(d);
  return d;
}

/** Validates values and templates; returns the first problem or null. Does not modify d. */
function checkDescriptor(d: DescriptorData): Problem | null {
  for (const [key, v] of Object.entries(d.self)) {
    if (key === "device_api" && v.trim() === "vfio-mdev")
      return { section: null, key, offset: 0, message: VFIO_MDEV_MSG };
    if (looksLikePlaceholder(v)) {
      return {
        section: null,
        key,
        offset: v.indexOf("{"),
        message: `placeholder in the self section; expected a literal value (placeholders are only allowed in COMPATIBLE: sections)`,
      };
    }
    if (isVersionKey(key) && !parseVersion(v)) {
      return {
        section: null,
        key,
        offset: 0,
        message: `'${v.slice(0, 40)}' is not a version; expected MAJOR[.MINOR[.BUGFIX]] for ${key}`,
      };
    }
  }
  for (let i = 0; i < d.compatible.length; i++) {
    const s = d.compatible[i]!;
    let compiled: ReturnType<typeof compileSection>;
    try {
      compiled = compileSection(s);
    } catch (e) {
      if (e instanceof TemplateError) {
        return {
          section: i,
          key: e.key ?? "",
          offset: e.offset,
          message: `${e.what}; expected ${e.expected}`,
        };
      }
      throw e;
    }
    for (const ck of compiled.keys) {
      const v = ck.raw;
      if (ck.key === "device_api" && v.trim() === "vfio-mdev")
        return { section: i, key: ck.key, offset: 0, message: VFIO_MDEV_MSG };
      if (!isVersionKey(ck.key)) continue;
      if (!hasPlaceholder(v)) {
        if (parseVersion(v)) continue;
        if (isRangeExpression(v) && isValidRange(v)) continue;
        return {
          section: i,
          key: ck.key,
          offset: 0,
          message: `'${v.slice(0, 40)}' is not a version or version range; expected MAJOR[.MINOR[.BUGFIX]], a semver range such as '>=1.2 <2', or an int list {name:int:LIST} of accepted majors`,
        };
      }
      const parts = ck.tpl.kind === "text" ? ck.tpl.parts : [];
      const only = parts.length === 1 ? parts[0] : undefined;
      if (only?.t === "var") {
        const dom = compiled.vars.get(only.name);
        if (dom?.kind === "string") {
          const bad = dom.values.find((x) => !parseVersion(x) && !(isRangeExpression(x) && isValidRange(x)));
          if (bad !== undefined) {
            return {
              section: i,
              key: ck.key,
              offset: 0,
              message: `'${bad.slice(0, 40)}' in the list of ${ck.key} is not a version or version range; expected MAJOR[.MINOR[.BUGFIX]] or a semver range`,
            };
          }
        }
      }
    }
  }
  return null;
}

function normalize(d: DescriptorData): void {
  for (const k of DEVICE_ID_KEYS) {
    const v = d.self[k];
    if (v !== undefined) d.self[k] = normalizeDeviceId(v);
    for (const s of d.compatible) {
      const sv = s[k];
      if (sv !== undefined && !hasPlaceholder(sv)) s[k] = normalizeDeviceId(sv);
    }
  }
}

// ---------------------------------------------------------------------------
// Printing

function needsQuotes(v: string): boolean {
  return v === "" || v !== v.trim() || v.startsWith('"');
}

function printValue(key: string, v: string): string {
  if (/[\n\r]/.test(v))
    throw new Error(`descriptor value of '${key}' contains a line break and cannot be printed`);
  if (!needsQuotes(v)) return v;
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Prints a descriptor in the text format (ends with a newline). */
export function printDescriptor(d: DescriptorData): string {
  const out: string[] = [];
  const put = (s: Record<string, string>) => {
    for (const [k, v] of Object.entries(s)) {
      if (!KEY_RE.test(k)) throw new Error(`descriptor key '${k}' does not match [a-z][a-z0-9_]*`);
      out.push(`${k}=${printValue(k, v)}`);
    }
  };
  put(d.self);
  for (const s of d.compatible) {
    out.push("COMPATIBLE:");
    put(s);
  }
  return `${out.join("\n")}\n`;
}

// ---------------------------------------------------------------------------
// JSON form (snapshots, planner metadata)

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringRecord(v: unknown, where: string): Record<string, string> {
  if (!isPlainObject(v)) throw new InputError(`${where}: expected an object of key: string`);
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (!KEY_RE.test(k))
      throw new InputError(
        `${where}: invalid key '${k.slice(0, 40)}'; expected a key matching [a-z][a-z0-9_]*`,
      );
    if (typeof x !== "string") throw new InputError(`${where}.${k}: expected a string value`);
    if (/[\n\r]/.test(x))
      throw new InputError(`${where}.${k}: value contains a line break; expected one line`);
    out[k] = x;
  }
  return out;
}

/**
 * Validates the JSON form `{"self": {...}, "compatible": [{...}]}` (compatible
 * optional) and returns a fresh, normalised DescriptorData. Throws InputError
 * `WHERE: ...` on a bad shape or template.
 */
export function descriptorFromJson(value: unknown, where: string): DescriptorData {
  if (!isPlainObject(value)) {
    throw new InputError(
      `${where}: descriptor must be an object {"self": {key: string}, "compatible": [{key: string}]}`,
    );
  }
  const self = stringRecord(value.self, `${where}: self`);
  const rawCompat = value.compatible ?? [];
  if (!Array.isArray(rawCompat)) throw new InputError(`${where}: compatible must be an array of objects`);
  const compatible = rawCompat.map((s, i) => stringRecord(s, `${where}: compatible[${i}]`));
  const d: DescriptorData = { self, compatible };
  const p = checkDescriptor(d);
  if (p) {
    const at = p.section === null ? `self.${p.key}` : `compatible[${p.section}].${p.key}`;
    throw new InputError(
      `${where}: ${at}${p.offset > 0 ? ` (at character ${p.offset + 1})` : ""}: ${p.message}`,
    );
  }
  normalize(d);
  return d;
}
