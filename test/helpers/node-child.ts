/**
 * A fresh Node process for what must not run in the test's own: V8 flags of
 * its own (natives syntax, an exposed gc) and a heap nothing else has used.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./cli.js";

/** The import specifier of a built module, `rel` under dist/ (the tests' global setup builds it). */
export function distModule(rel: string): string {
  return JSON.stringify(pathToFileURL(join(ROOT, "dist", rel)).href);
}

/** Run `lines` as one ES module in a new `node` with `flags`; its status, stdout and stderr. */
export function runModule(flags: string[], lines: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...flags, "--input-type=module", "-e", lines.join("\n")], {
    encoding: "utf8",
  });
}
