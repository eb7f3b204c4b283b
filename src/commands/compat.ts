/**
 * `hdplan compat SOURCE.conf DESTINATION.conf [--format table|json]`:
 * can a device described by SOURCE migrate to one described by DESTINATION
 * (compat.md §3)? Exit 0 compatible, 1 not, 2 bad input.
 *
 * An operator file without device_api is an overlay: `plan` adds its keys to
 * each matching device's own descriptor (compat.md §4, DescriptorSelector).
 * compat applies it the same way to `--base FILE` (the device's descriptor,
 * as `plan --explain` prints it), and refuses to compare a bare overlay
 * (exit 2), whose missing keys would read as a false "not compatible".
 */
import { statSync } from "node:fs";
import { accepts } from "../descriptors/match.js";
import { applyDescriptorFile } from "../descriptors/sources.js";
import { parseDescriptor } from "../descriptors/text.js";
import { EXIT, errorMessage, InputError } from "../errors.js";
import type { DescriptorData } from "../model.js";
import type { Reason } from "../reasons.js";
import { readTextFile } from "../targets/dump.js";

export interface CompatResult {
  exitCode: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

function load(path: string, role: string): DescriptorData {
  let why: string | null = null;
  try {
    if (statSync(path).isDirectory()) why = "is a directory";
  } catch (e) {
    const code = (e as { code?: string }).code;
    why = code === "ENOENT" ? "no such file" : errorMessage(e);
  }
  if (why) throw new InputError(`${path}: cannot read ${role} descriptor: ${why}`, path);
  // Bounded, strict UTF-8 (latin-1 or binary bytes are refused, not replaced).
  return parseDescriptor(readTextFile(path), path);
}

function formatBinding(b: Record<string, string | number>): string {
  return Object.entries(b)
    .map(([k, v]) => `${k}=${typeof v === "string" ? JSON.stringify(v) : v}`)
    .join(", ");
}

export interface CompatOptions {
  format: "table" | "json";
  /** Base descriptor for both sides (the device's own descriptor). */
  base?: string;
  /** Base for the source side (default: base). */
  sourceBase?: string;
  /** Base for the destination side (default: base). */
  destinationBase?: string;
}

/** A file without device_api is an overlay (every device's own descriptor has one). */
export function isOverlay(d: DescriptorData): boolean {
  return d.self.device_api === undefined;
}

/** The descriptor `plan` would use for one side: the file on its base, or the file alone. */
function side(path: string, role: string, basePath: string | undefined): DescriptorData {
  const file = load(path, role);
  if (basePath) {
    const base = load(basePath, `${role} base`);
    const out = applyDescriptorFile(base, file);
    if (!out)
      throw new InputError(
        `${path}: does not apply to the ${role} base ${basePath} (its identity keys differ from the base's); plan would not use it for that device`,
        path,
      );
    return out;
  }
  if (isOverlay(file))
    throw new InputError(
      `${path}: is an overlay descriptor (no device_api in its self section): plan adds its keys to each matching device's own descriptor, so compare it the same way with --base FILE (the device's descriptor, as 'hdplan plan --explain' prints it)`,
      path,
    );
  return file;
}

export function runCompat(sourcePath: string, destPath: string, opts: CompatOptions): CompatResult {
  let src: DescriptorData;
  let dst: DescriptorData;
  const srcBase = opts.sourceBase ?? opts.base;
  const dstBase = opts.destinationBase ?? opts.base;
  try {
    src = side(sourcePath, "source", srcBase);
    dst = side(destPath, "destination", dstBase);
  } catch (e) {
    return { exitCode: EXIT.INPUT, stdout: "", stderr: `hdplan: error: ${errorMessage(e)}\n` };
  }
  const r = accepts(dst, src.self);
  const reasons: Reason[] = r.ok ? [] : r.reasons;
  if (opts.format === "json") {
    const out = {
      schemaVersion: 1,
      compatible: r.ok,
      binding: r.ok ? r.binding : null,
      section: r.ok ? r.section : null,
      reasons,
      source: { file: sourcePath, ...(srcBase ? { base: srcBase } : {}) },
      destination: { file: destPath, ...(dstBase ? { base: dstBase } : {}) },
    };
    return { exitCode: r.ok ? EXIT.OK : EXIT.NO, stdout: `${JSON.stringify(out, null, 2)}\n`, stderr: "" };
  }
  const lines: string[] = [];
  if (r.ok) {
    lines.push(`compatible: ${sourcePath} can migrate to ${destPath}`);
    if (srcBase || dstBase) lines.push(`  applied on base: ${[srcBase, dstBase].filter(Boolean).join(", ")}`);
    lines.push(
      r.section === null
        ? "  matched: destination's own attributes (no COMPATIBLE: section)"
        : `  matched: COMPATIBLE: section ${r.section + 1}`,
    );
    const b = formatBinding(r.binding);
    if (b) lines.push(`  binding: ${b}`);
  } else {
    lines.push(`not compatible: ${sourcePath} cannot migrate to ${destPath}`);
    if (srcBase || dstBase) lines.push(`  applied on base: ${[srcBase, dstBase].filter(Boolean).join(", ")}`);
    for (const x of reasons) lines.push(`  ${x.code}: ${x.message}`);
  }
  return { exitCode: r.ok ? EXIT.OK : EXIT.NO, stdout: `${lines.join("\n")}\n`, stderr: "" };
}
