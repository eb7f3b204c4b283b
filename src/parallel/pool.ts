/**
 * Evaluate many file-based hosts on worker threads (both cores of a small
 * machine). Falls back to the caller's in-process path when threads do not pay.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { adoptWritten } from "../cache/packs.js";
import { HostError, InputError, errorMessage } from "../errors.js";
import type { RawHost } from "../model.js";
import { type HostResult, readConsumed } from "../targets/index.js";
import type { TargetSpec } from "../targets/keys.js";
import type { EvacShard, ShardSummary } from "../matching/evacuate.js";
import type { HostReport, Planner } from "../pipeline.js";
import type { Evaluated, PlanSetupInput } from "./setup.js";
import type { EvacSetupInput } from "./setup-evac.js";
import { enteringThreadedRun } from "./threaded.js";
import type { FromWorker, ToWorker } from "./worker.js";

/**
 * Below this many file targets, threads cost more than they save. Measured
 * with `npm run bench -- --workers-table` on 2 cores (docs/benchmarks.md
 * "Worker threads"): each worker repeats module loading, JIT warm-up and the
 * planner set-up (0.3-1 s of CPU for two), which 50-200 hosts do not win back
 * in either layout; from 400 hosts the parallel part outweighs it. Measured
 * again with the main thread reading hosts beside the workers (docs/
 * benchmarks.md "The main thread reads hosts too"): 100 hosts 1.09x, 200
 * 1.00x, 400 0.93x of the time without workers, so it stays 400. On the
 * eighth session's machine (docs/benchmarks.md "Eighth session"), where one
 * thread already keeps 1.3 cores busy with V8's helpers, 400 `all` hosts
 * took 1.71-1.85 s alone and 1.80-1.89 s with two threads, 1,000 the same
 * either way, 2,000 and one-file-a-device fleets gain: still 400. In the
 * ninth session, with less compiling (src/cli/v8-flags.ts), 400 `all` hosts
 * took 1.41-1.60 s alone and 1.50-1.63 s with two threads, 1,000 2.73-2.80
 * and 2.62-2.64 s, 400 one-file-a-device hosts 2.25-2.35 and 2.05-2.32 s:
 * still 400. In the twelfth session, with one thread faster (readConsumed),
 * `all` hosts took the same with and without a worker at 400 and 600 and
 * ~7-10% less with it at 800 and 1,000 (medians of 5); not separated well
 * enough from the noise to move the threshold for one layout: still 400.
 * In the seventeenth session, with the threaded run's interrupt budget
 * (src/cli/v8-flags.ts tuneV8ForThreads; before it two threads were about
 * 10% slower than one at 400 hosts on that machine), `all` hosts took
 * 0.68-0.75 against 0.67-0.73 s at 200, 0.86-0.91 against 0.86-0.88 s at 300,
 * 1.05-1.12 against 0.99-1.06 s at 400 and 2.05-2.23 against 1.75-1.81 s at
 * 1,000 (one thread against two, 4-5 rounds): two threads gain 2-3% below
 * 400 for 20% more CPU and 30 MB more memory, 6% at 400: still 400.
 * In the nineteenth session, with one thread and two both faster (no
 * WeakMap of per-host values, src/slots.ts): 0.73 against 0.69-0.70 s at
 * 200, 0.89 against 0.84-0.85 s at 300 (17-22% more CPU), 1.10-1.20
 * against 0.99-1.01 s at 400 (3 rounds): still 400.
 */
export const MIN_HOSTS_FOR_WORKERS = 400;

/**
 * Threads that read `nHosts` file targets: HDPLAN_WORKERS when set (0 or 1 =
 * the main thread alone); none below MIN_HOSTS_FOR_WORKERS or on one core;
 * else one per core, at most 8. For plan and evacuate the main thread is one
 * of them (n - 1 worker threads).
 *
 * There is no load-average rule any more (docs/benchmarks.md "Worker
 * threads"): the 1-minute load average counts hdplan's own previous runs, so
 * a repeated plan (and `npm run bench`) on an idle 2-core machine sat at load
 * 2.0-2.5 and turned its own workers off: plan of 1,000 hosts, cold, took
 * 8.6-8.8 s without workers against 6.3-6.6 s with them, measured on the idle
 * machine right after (vmstat 100% idle, load average still 2.0).
 */
export function workerCount(
  nHosts: number,
  env: NodeJS.ProcessEnv = process.env,
  cores: number = availableParallelism(),
): number {
  if (env.HDPLAN_WORKERS !== undefined) return Math.max(0, Number(env.HDPLAN_WORKERS) || 0);
  if (nHosts < MIN_HOSTS_FOR_WORKERS || cores < 2) return 0;
  return Math.min(cores, 8);
}

/**
 * The worker entries, as "../parallel/" so that they resolve the same from
 * this module (dist/parallel/pool.js) and from the bundled bin that contains
 * it (dist/cli/main.js, scripts/bundle.mjs).
 */
function entryUrl(file: "worker.js" | "fingerprint-worker.js"): URL | null {
  const url = new URL(`../parallel/${file}`, import.meta.url);
  // Only the compiled build has the .js entries (tests run sources through vitest).
  return url.protocol === "file:" && existsSync(fileURLToPath(url)) ? url : null;
}

const workerUrl = () => entryUrl("worker.js");

export function workersAvailable(): boolean {
  return workerUrl() !== null;
}

/**
 * Run `specs` (file targets only) on `n` threads: `n` workers initialised
 * with `init`, or with `local` (the main thread's consume of a host, from the
 * same set-up) the main thread and n - 1 workers, all taking hosts from one
 * queue. Results are in spec order; `onDone` sees each worker's final ack. An
 * InputError of a host rejects (exit 2) with the earliest bad target, like the
 * in-process path, whichever thread met it. With `keep`, the workers stay up
 * for later calls (the caller terminates them); otherwise they are terminated
 * here.
 */
export async function runOnWorkers<T>(
  specs: TargetSpec[],
  n: number,
  init: Extract<ToWorker, { type: "init" }>,
  onDone: (m: Extract<FromWorker, { type: "done-ack" }>) => void,
  onProgress?: (done: number, total: number) => void,
  keep = false,
  local?: (raw: RawHost) => T,
): Promise<{ results: HostResult<T>[]; workers: Worker[] }> {
  const url = workerUrl();
  if (!url) throw new Error("worker threads unavailable");
  // Before the workers start: V8's settings for isolates that share the cores (src/cli/v8-flags.ts).
  enteringThreadedRun();
  const nWorkers = local ? Math.max(1, n - 1) : n;
  const results: HostResult<T>[] = new Array(specs.length);
  let next = 0;
  let done = 0;
  const IN_FLIGHT = 2;
  const workers: Worker[] = [];
  let ok = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      let failed = false;
      // Input errors of hosts: stop dispatching, let in-flight hosts finish, then
      // report the one earliest in the target list (the same one every run).
      let firstInput: { index: number; error: InputError } | null = null;
      let inFlight = 0;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
      };
      const settleInput = () => {
        if (firstInput && inFlight === 0) fail(firstInput.error);
      };
      // A host read, by a worker or here: its report, or its HostError.
      const settled = (index: number, r: { ok: true; host: T } | { ok: false; error: HostError }) => {
        inFlight--;
        done++;
        const spec = specs[index]!;
        results[index] = r.ok
          ? r
          : { ok: false, key: spec.explicitKey ?? spec.target, target: spec.target, error: r.error };
        onProgress?.(done, specs.length);
      };
      // A host that is bad input: the earliest one is reported.
      const refused = (index: number, error: InputError) => {
        inFlight--;
        const first = firstInput as { index: number; error: InputError } | null;
        if (!first || index < first.index) firstInput = { index, error };
      };
      const threadDone = () => {
        if (++finished === nWorkers + (local ? 1 : 0)) resolve();
      };
      for (let w = 0; w < nWorkers; w++) {
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
            settled(
              m.index,
              m.type === "result"
                ? { ok: true, host: m.value as T }
                : { ok: false, error: new HostError(m.code, m.message) },
            );
            feed();
            settleInput();
          } else if (m.type === "done-ack") {
            adoptWritten(m.cache);
            onDone(m);
            threadDone();
          } else if (m.type === "input-error") {
            if (m.index === undefined) {
              fail(new InputError(m.message, m.file));
              return;
            }
            pending--;
            refused(m.index, new InputError(m.message, m.file));
            settleInput();
          }
        });
        worker.on("error", fail);
        worker.on("exit", (code) => {
          if (code !== 0) fail(new Error(`worker thread exited with code ${code}`));
        });
        worker.postMessage(init);
        feed();
      }
      if (!local) return;
      // The main thread takes hosts from the same queue while the workers
      // run, one at a time, and yields between hosts so that the workers'
      // messages (and so their next hosts) are handled. Its answers are the
      // workers' answers: the same set-up evaluates the same host the same way.
      const read = { timeoutMs: init.timeoutMs, cache: !!init.input.cache };
      const runLocal = async (): Promise<void> => {
        while (!failed && !firstInput && next < specs.length) {
          const index = next++;
          inFlight++;
          try {
            // In a frame of its own: this loop's registers must not keep the raw host (readConsumed).
            settled(index, {
              ok: true,
              host: await readConsumed(specs[index]!, { ...read, consume: local }),
            });
          } catch (e) {
            if (e instanceof HostError) settled(index, { ok: false, error: e });
            else if (e instanceof InputError) refused(index, e);
            else {
              inFlight--;
              fail(new InputError(`internal error: ${errorMessage(e)}`));
            }
          }
          settleInput();
          await new Promise<void>((r) => setImmediate(r));
        }
        threadDone();
      };
      void runLocal();
    });
    ok = true;
  } finally {
    if (!keep || !ok) await Promise.all(workers.map((w) => w.terminate()));
  }
  return { results, workers };
}

/**
 * Fingerprint hashes of many targets, spread over `n` worker threads (the
 * report cache's look-up: on a warm plan the fingerprint walk is most of the
 * run). null for a target that cannot be cached or a worker that failed.
 */
export async function fingerprintOnWorkers(targets: string[], n: number): Promise<(string | null)[]> {
  const url = entryUrl("fingerprint-worker.js");
  if (!url) return targets.map(() => null);
  const size = Math.ceil(targets.length / n);
  const parts = await Promise.all(
    Array.from({ length: n }, (_, w) => {
      const share = targets.slice(w * size, (w + 1) * size);
      return new Promise<(string | null)[]>((resolve) => {
        const none = () => resolve(share.map(() => null));
        const worker = new Worker(url, { workerData: { targets: share } });
        worker.once("message", (m: unknown) => {
          resolve(
            Array.isArray(m) && m.length === share.length ? (m as (string | null)[]) : share.map(() => null),
          );
          void worker.terminate();
        });
        worker.once("error", none);
        worker.once("exit", none);
      });
    }),
  );
  return parts.flat();
}

/** Whether the fingerprint worker can run (the compiled build). */
export function fingerprintWorkersAvailable(): boolean {
  return entryUrl("fingerprint-worker.js") !== null;
}

/**
 * plan: evaluate file targets on `n` threads: the main thread (with
 * `consume`, the main thread's planner set-up) and n - 1 workers, all taking
 * hosts from one queue; descriptor usage of the workers is merged into
 * `planner`. The main thread would otherwise sit idle while the workers read,
 * and each worker repeats module loading, JIT warm-up and the set-up.
 */
export async function evaluateOnWorkers(
  specs: TargetSpec[],
  n: number,
  input: PlanSetupInput,
  timeoutMs: number,
  planner: Planner,
  consume: (raw: RawHost) => Evaluated,
  onProgress?: (done: number, total: number) => void,
): Promise<HostResult<Evaluated>[]> {
  const { results } = await runOnWorkers<Evaluated>(
    specs,
    n,
    { type: "init", job: "plan", input, timeoutMs },
    (m) => planner.absorbUsage(m.usage),
    onProgress,
    false,
    consume,
  );
  return results;
}

/** evacuate: one shard of hosts per worker (and the main thread's); the worker answers placement calls. */
export class WorkerShard implements EvacShard {
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();

  constructor(private readonly worker: Worker) {
    worker.on("message", (m: FromWorker) => {
      if (m.type !== "ret" && m.type !== "call-error") return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.type === "ret") w.resolve(m.value);
      else w.reject(new Error(`worker: ${m.message}`));
    });
    worker.on("error", (e) => {
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    });
  }

  private call<R>(method: keyof EvacShard, ...args: unknown[]): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ type: "call", id, method, args } satisfies ToWorker);
    });
  }

  feasibleCounts() {
    return this.call<number[]>("feasibleCounts");
  }
  hostCount() {
    return this.call<number>("hostCount");
  }
  bestFull(vmIdx: number) {
    return this.call<HostReport | null>("bestFull", vmIdx);
  }
  closest(vmIdx: number) {
    return this.call<HostReport | null>("closest", vmIdx);
  }
  commit(vmIdx: number, hostKey: string) {
    return this.call<HostReport>("commit", vmIdx, hostKey);
  }
  capacityLeft() {
    return this.call<Record<string, Record<string, number>>>("capacityLeft");
  }
  summaries(k: number) {
    return this.call<ShardSummary>("summaries", k);
  }
  commitAssigned(vmIdx: number, hostKey: string, assignment: [string, string][]) {
    return this.call<HostReport>("commitAssigned", vmIdx, hostKey, assignment);
  }
  mark() {
    return this.call<void>("mark");
  }
  rollback() {
    return this.call<void>("rollback");
  }
}

export async function evacuationShardsOnWorkers(
  specs: TargetSpec[],
  n: number,
  input: EvacSetupInput,
  timeoutMs: number,
  consume: (raw: RawHost) => { key: string; target: string; isSource?: boolean },
  onProgress?: (done: number, total: number) => void,
): Promise<{
  results: HostResult<{ key: string; target: string; isSource?: boolean }>[];
  shards: WorkerShard[];
  close: () => Promise<void>;
}> {
  // As for plan: the main thread reads hosts too, into its own shard (the
  // caller's Evacuation, `consume`), beside n - 1 workers. Placement asks
  // every shard and does not depend on which shard holds which host.
  const { results, workers } = await runOnWorkers<{ key: string; target: string; isSource?: boolean }>(
    specs,
    n,
    { type: "init", job: "evac", input, timeoutMs },
    () => {},
    onProgress,
    true,
    consume,
  );
  return {
    results,
    shards: workers.map((w) => new WorkerShard(w)),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
