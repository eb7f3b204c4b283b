/**
 * The identity of the running code, for the caches (docs/cache.md): a
 * SHA-256 over every module file of this build (dist/**.js, or src/**.ts when
 * the sources run directly, as under vitest), by relative path and content.
 * The package version alone would let a rebuilt tree with changed rules
 * answer from entries the old rules wrote; with this, any rebuild that
 * changes a module misses every entry once. Computed once per thread, on
 * first use (about 1 MB read: a few milliseconds).
 */
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
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

/** Hex SHA-256 of this build's modules; when they cannot be read, an id of this process alone (nothing it wrote is used again). */
export function codeId(): string {
  if (id !== undefined) return id;
  try {
    // This file is <root>/cache/code-id.{js,ts}: <root> is dist/ or src/.
    const root = fileURLToPath(new URL("..", import.meta.url));
    const files: string[] = [];
    moduleFiles(root, files);
    files.sort();
    const h = createHash("sha256");
    for (const f of files) {
      const rel = relative(root, f);
      const body = readFileSync(f);
      h.update(`${rel}\0${body.length}\0`);
      h.update(body);
    }
    id = h.digest("hex");
  } catch {
    id = `unknown-${process.pid}-${Math.random()}`;
  }
  return id;
}
