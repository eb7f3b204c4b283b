/** Generated fleets for tests: scripts/gen-fleet.mjs run as the operator runs it. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect } from "vitest";
import { ROOT } from "./cli.js";

/** `node scripts/gen-fleet.mjs --out OUT ARGS...`; expects exit 0 and returns OUT. */
export function genFleet(out: string, args: string[]): string {
  const g = spawnSync(process.execPath, [join(ROOT, "scripts/gen-fleet.mjs"), "--out", out, ...args], {
    encoding: "utf8",
  });
  expect(g.status, g.stderr).toBe(0);
  return out;
}
