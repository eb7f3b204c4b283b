/** vitest globalSetup: build dist/ once (tsc, then the bundles) so tests can spawn the real CLI. */
import { execFileSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { fileURLToPath } from "node:url";

export default function setup(): void {
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
}
