import { spawn, spawnSync } from "node:child_process";
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

export interface TimedResult extends CliResult {
  ms: number;
  signal: NodeJS.Signals | null;
}

/** Run the built CLI asynchronously (several at once; listeners in this process keep working). */
export function hdplanAsync(
  args: string[],
  opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<TimedResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...opts.env },
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8");
    p.stderr.setEncoding("utf8");
    p.stdout.on("data", (c: string) => {
      stdout += c;
    });
    p.stderr.on("data", (c: string) => {
      stderr += c;
    });
    p.stdin.on("error", () => {});
    p.stdin.end(opts.input ?? "");
    const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
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
