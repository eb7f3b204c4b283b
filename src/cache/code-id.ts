/**
 * The identity of the running code, for the caches (docs/cache.md): a
 * SHA-256 over every module file of this build (dist/**.js, or src/**.ts when
 * the sources run directly, as under vitest), by relative path and content.
 * The package version alone would let a rebuilt tree with changed rules
 * answer from entries the old rules wrote; with this, any rebuild that
 * changes a module misses every entry once. Computed once per thread, on
 * first use: from the record the build wrote (dist/.code-id) when every
 * module file is unchanged since, else by reading and hashing them.
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

let id: string | undefined;

function moduleFiles(dir: string, out: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) moduleFiles(p, out);
    else if (/\.(js|ts|mjs)$/.test(e.name)) out.push(p);
  }
}

/** Hex SHA-256 of the module files under `root` (sorted, by relative path and content). */
export function hashModules(root: string, files = sortedModules(root)): string {
  const h = createHash("sha256");
  for (const f of files) {
    const rel = relative(root, f);
    const body = readFileSync(f);
    h.update(`${rel}\0${body.length}\0`);
    h.update(body);
  }
  return h.digest("hex");
}

function sortedModules(root: string): string[] {
  const files: string[] = [];
  moduleFiles(root, files);
  return files.sort();
}

/** The name of the build's record of its id, in dist/ (scripts/bundle.mjs writes it). */
export const STAMP_FILE = ".code-id";

/** Each module file as `relative path NUL size NUL mtime (ns)`, the check that a recorded id is still this tree's. */
export function moduleStamps(root: string, files = sortedModules(root)): string[] {
  return files.map((f) => {
    const st = statSync(f, { bigint: true });
    return `${relative(root, f)}\0${st.size}\0${st.mtimeNs}`;
  });
}

/**
 * The id recorded by the build (dist/.code-id: the id, then moduleStamps),
 * when every module file is still the one it hashed (same names, sizes and
 * mtimes): a stat per file instead of reading and hashing ~3 MB (13 ms a
 * thread, measured). Any difference, or no record: undefined (hash again).
 */
function recordedId(root: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(join(root, STAMP_FILE), "utf8");
  } catch {
    return undefined;
  }
  const [rid, ...stamps] = text.split("\n");
  if (!rid || !/^[0-9a-f]{64}$/.test(rid)) return undefined;
  const now = moduleStamps(root);
  return now.length === stamps.length && now.every((l, k) => l === stamps[k]) ? rid : undefined;
}

/** The id of the module tree at `root`: its build record when still true, else its hash. */
export function codeIdOf(root: string): string {
  return recordedId(root) ?? hashModules(root);
}

/** Hex SHA-256 of this build's modules; when they cannot be read, an id of this process alone (nothing it wrote is used again). */
export function codeId(): string {
  if (id !== undefined) return id;
  try {
    // This file is <root>/cache/code-id.{js,ts}: <root> is dist/ or src/.
    // (From a bundle, dist/cli/main.js, "../" is dist/ too.)
    const root = fileURLToPath(new URL("..", import.meta.url));
    id = codeIdOf(root);
  } catch {
    id = `unknown-${process.pid}-${Math.random()}`;
  }
  return id;
}
