/**
 * `hdplan compat SOURCE.conf DESTINATION.conf [--format table|json]`:
 * can a device described by SOURCE migrate to one described by DESTINATION
 * (compat.md §3)? Exit 0 compatible, 1 not, 2 bad input.
 */
import { statSync } from "node:fs";
import { accepts } from "../descriptors/match.js";
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

export function runCompat(
  sourcePath: string,
  destPath: string,
  opts: { format: "table" | "json" },
): CompatResult {
  let src: DescriptorData;
  let dst: DescriptorData;
  try {
    src = load(sourcePath, "source");
    dst = load(destPath, "destination");
  } catch (e) {
    return { exitCode: EXIT.INPUT, stdout: "", stderr: `hdplan compat: ${errorMessage(e)}\n` };
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
      source: { file: sourcePath },
      destination: { file: destPath },
    };
    return { exitCode: r.ok ? EXIT.OK : EXIT.NO, stdout: `${JSON.stringify(out, null, 2)}\n`, stderr: "" };
  }
  const lines: string[] = [];
  if (r.ok) {
    lines.push(`compatible: ${sourcePath} can migrate to ${destPath}`);
    lines.push(
      r.section === null
        ? "  matched: destination's own attributes (no COMPATIBLE: section)"
        : `  matched: COMPATIBLE: section ${r.section + 1}`,
    );
    const b = formatBinding(r.binding);
    if (b) lines.push(`  binding: ${b}`);
  } else {
    lines.push(`not compatible: ${sourcePath} cannot migrate to ${destPath}`);
    for (const x of reasons) lines.push(`  ${x.code}: ${x.message}`);
  }
  return { exitCode: r.ok ? EXIT.OK : EXIT.NO, stdout: `${lines.join("\n")}\n`, stderr: "" };
}
