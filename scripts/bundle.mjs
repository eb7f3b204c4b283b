#!/usr/bin/env node
/**
 * bundle.mjs — after `tsc`, replace the three entry points of dist/ with
 * self-contained bundles (esbuild): dist/cli/main.js (the `hdplan` bin), and
 * the two worker entries dist/parallel/worker.js and
 * dist/parallel/fingerprint-worker.js. Every other dist/ module stays as tsc
 * wrote it (tests and scripts import them).
 *
 * Why (docs/benchmarks.md "One file per entry point"): a plan loaded ~115
 * module files (dist/ and commander) through Node's ESM loader, resolving,
 * reading and compiling each: 50-80 ms of every run, on a warm plan of 1,000
 * hosts about a tenth of the whole. One file is read and compiled lazily.
 *
 * Kept outside the bundle: koffi (a native addon, loaded lazily by
 * src/libvirt/ffi.ts only) and highs (WebAssembly, loaded lazily by the
 * placement solver), which must stay their own packages. The bundles keep
 * each module's dynamic import() lazy (esbuild evaluates such a module on
 * first import), so a snapshot plan still never evaluates the libvirt code.
 * A `require` for commander's CommonJS is made from import.meta.url.
 *
 * Paths inside the code are relative to import.meta.url and every entry sits
 * two levels under the package root (dist/cli, dist/parallel), as the
 * modules it replaces do, so "../../package.json", "../parallel/worker.js"
 * and code-id's "../" resolve to the same files from a bundle as from the
 * module.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
export const ENTRIES = ["cli/main.js", "parallel/worker.js", "parallel/fingerprint-worker.js"];
const MARK = "// hdplan bundle (scripts/bundle.mjs)";

for (const e of ENTRIES) {
  const file = join(DIST, e);
  const tmp = `${file}.bundle.tmp`;
  if (readFileSync(file, "utf8").includes(MARK)) {
    console.error(
      `bundle.mjs: ${file} is already a bundle; run tsc -p tsconfig.build.json first (npm run build)`,
    );
    process.exit(1);
  }
  await build({
    entryPoints: [file],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["koffi", "highs"],
    banner: {
      js: `${MARK}\nimport { createRequire as __hdplanRequire } from "node:module";\nconst require = __hdplanRequire(import.meta.url);`,
    },
    // For profiles: scripts/bench-profile.mjs maps a bundle's frames back to
    // the dist/ module they came from (not linked from the bundle).
    sourcemap: "external",
    legalComments: "none",
    logLevel: "warning",
  });
  renameSync(tmp, file);
  renameSync(`${tmp}.map`, `${file}.map`);
}

// The code id of this build (src/cache/code-id.ts), recorded with each module
// file's size and mtime so that a run checks it with a stat per file instead
// of hashing every file again.
const { hashModules, moduleStamps, STAMP_FILE } = await import(join(DIST, "cache", "code-id.js"));
writeFileSync(join(DIST, STAMP_FILE), [hashModules(DIST), ...moduleStamps(DIST)].join("\n"));
