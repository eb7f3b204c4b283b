/**
 * Evaluate many file-based hosts on worker threads (both cores of a small
 * machine). Falls back to the caller's in-process path when threads do not pay.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { HostError, InputError } from "../errors.js";
import type { HostResult } from "../targets/index.js";
import type { TargetSpec } from "../targets/keys.js";
import type { Planner } from "../pipeline.js";
import type { Evaluated, PlanSetupInput } from "./setup.js";
import type { FromWorker, ToWorker } from "./worker.js";

/** Below this many file targets, threads cost more than they save. */
export const MIN_HOSTS_FOR_WORKERS = 48;

export function workerCount(nHosts: number): number {
  if (process.env.HDPLAN_WORKERS !== undefined) return Math.max(0, Number(process.env.HDPLAN_WORKERS) || 0);
  if (nHosts < MIN_HOSTS_FOR_WORKERS) return 0;
  return Math.min(availableParallelism(), 8);
}

function workerUrl(): URL | null {
  const url = new URL("./worker.js", import.meta.url);
  // Only the compiled build has worker.js (tests run sources through vitest).
  return url.protocol === "file:" && existsSync(fileURLToPath(url)) ? url : null;
}

export function workersAvailable(): boolean {
  return workerUrl() !== null;
}

/**
 * Evaluate `specs` (file targets only) on `n` workers. Results are in spec
 * order; descriptor usage is merged into `planner`. An InputError in any
 * worker rejects (exit 2), like the in-process path.
 */
export async function evaluateOnWorkers(
  specs: TargetSpec[],
  n: number,
  input: PlanSetupInput,
  timeoutMs: number,
  planner: Planner,
  onProgress?: (done: number, total: number) => void,
): Promise<HostResult<Evaluated>[]> {
  const url = workerUrl();
  if (!url) throw new Error("worker threads unavailable");
  const results: HostResult<Evaluated>[] = new Array(specs.length);
  let next = 0;
  let done = 0;
  const IN_FLIGHT = 2;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      // Input errors of hosts: stop dispatching, let in-flight hosts finish, then
      // report the one earliest in the target list (the same one every run).
      let firstInput: { index: number; error: InputError } | null = null;
      let inFlight = 0;
      const settleInput = () => {
        if (firstInput && inFlight === 0) fail(firstInput.error);
      };
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      for (let w = 0; w < n; w++) {
        const worker = new Worker(url);
        workers.push(worker);
        let pending = 0;
        const feed = () => {
          while (!firstInput && pending < IN_FLIGHT && next < specs.length) {
            const index = next++;
            pending++;
            inFlight++;
            worker.postMessage({ type: "host", index, spec: specs[index]! } satisfies ToWorker);
          }
          if (pending === 0 && !firstInput) worker.postMessage({ type: "done" } satisfies ToWorker);
        };
        worker.on("message", (m: FromWorker) => {
          if (m.type === "result" || m.type === "host-error") {
            pending--;
            inFlight--;
            done++;
            results[m.index] =
              m.type === "result"
                ? { ok: true, host: m.value }
                : {
                    ok: false,
                    key: specs[m.index]!.explicitKey ?? specs[m.index]!.target,
                    target: specs[m.index]!.target,
                    error: new HostError(m.code, m.message),
                  };
            onProgress?.(done, specs.length);
            feed();
            settleInput();
          } else if (m.type === "usage") {
            planner.absorbUsage(m.usage);
            if (++finished === n) resolve();
          } else if (m.type === "input-error") {
            if (m.index === undefined) {
              fail(new InputError(m.message, m.file));
              return;
            }
            pending--;
            inFlight--;
            if (!firstInput || m.index < firstInput.index) {
              firstInput = { index: m.index, error: new InputError(m.message, m.file) };
            }
            settleInput();
          }
        });
        worker.on("error", fail);
        worker.on("exit", (code) => {
          if (code !== 0) fail(new Error(`worker thread exited with code ${code}`));
        });
        worker.postMessage({ type: "init", input, timeoutMs } satisfies ToWorker);
        feed();
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
