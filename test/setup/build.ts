/**
 * vitest globalSetup: build dist/ once (tsc, then the bundles) so tests can
 * spawn the real CLI; and give the run its own inventory cache directory.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export default function setup(): () => void {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  execFileSync(
    process.execPath,
    [`${root}/node_modules/typescript/bin/tsc`, "-p", `${root}/tsconfig.build.json`],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  // As `npm run build`: the bin and worker entries are bundles (scripts/bundle.mjs),
  // so the tests spawn what is shipped.
  execFileSync(process.execPath, [`${root}/scripts/bundle.mjs`], { cwd: root, stdio: "inherit" });
  chmodSync(`${root}/dist/cli/main.js`, 0o755);
  // Every hdplan a test spawns (and every test file, in its fork) caches under
  // this run's directory, not the user's ~/.cache/hdplan: tests plan over
  // temporary directories, each a new target, and nothing prunes entries
  // (one machine's ~/.cache/hdplan held 726,582 of them). Tests that are
  // about the cache directory set XDG_CACHE_HOME (or HOME) themselves.
  const cache = mkdtempSync(join(tmpdir(), "hdplan-test-cache-"));
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = cache;
  return () => {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
    rmSync(cache, { recursive: true, force: true });
  };
}
