import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const BIN = `${ROOT}/dist/cli/main.js`;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function hdplan(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    input: opts.input ?? "",
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...opts.env },
    timeout: opts.timeoutMs ?? 60000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The sample fleet (xml-samples/): its source, its targets and its descriptors. */
export const SAMPLE_FLEET_ARGS = [
  "--source",
  "xml-samples/hosts/src-host",
  "--hosts-file",
  "xml-samples/hosts.txt",
  "--descriptors",
  "xml-samples/descriptors",
];

/** What `npm start` runs: vm-mixed against the sample fleet with its descriptors. */
export const SAMPLE_PLAN_ARGS = [
  "plan",
  "--domain",
  "xml-samples/domains/vm-mixed.xml",
  ...SAMPLE_FLEET_ARGS,
];
