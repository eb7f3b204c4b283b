/** vitest globalSetup: compile dist/ once so tests can spawn the real CLI. */
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
  chmodSync(`${root}/dist/cli/main.js`, 0o755);
}
