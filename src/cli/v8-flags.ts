/**
 * V8 settings of the hdplan program (not of code that imports its modules).
 *
 * A plan or evacuate is a short run (well under 10 s) over code that gets
 * hot in its first hundred hosts: V8's optimising compiler (TurboFan) then
 * works on a helper thread for a large share of the run. Measured on the
 * ninth session's 2-core machine (docs/benchmarks.md "Ninth session"): a
 * cold plan of 1,000 `all` hosts spent 1.38 s compiling (the sum of
 * TurboFan's "took" times under --trace-opt) in a 2.85 s run, ~19% of all
 * CPU samples (perf), and every worker thread compiles the same functions
 * again. With a quarter of the default cumulative inlining budget (920
 * bytecodes) the compiles are smaller (TurboFan's total 1.38 -> 0.84 s)
 * and the code is as fast: medians of a cold plan of 1,000 hosts -8% with
 * workers and -7% without, evacuate and one file a device -5%, 100 hosts
 * -9%, 5,000 hosts the same or better; CPU time -8% to -12%. The same JSON
 * in every case.
 *
 * V8 reads this flag each time it compiles, so setting it before the first
 * function gets hot is enough; flags are per process, so worker threads
 * share it. A flag this V8 does not know is not applied, and V8 then
 * writes "Error: unrecognized flag ..." on stderr (the run goes on with the
 * default): test/cli/v8-flags.test.ts fails first, on the Node the tests
 * run on, when a flag here is not one of its V8's.
 */
import { setFlagsFromString } from "node:v8";

/**
 * The WebAssembly tiering budget, 10x V8's default (1,800,000, roughly
 * bytes of code run before a function is compiled again by TurboFan). The
 * one WebAssembly module is the placement solver (HiGHS, src/placement/
 * milp.ts). An evacuation's solve is usually short (40 VMs onto 1,000 hosts:
 * ~30 ms in the baseline code, Liftoff), but by the default budget dozens
 * of the solver's functions were sent to TurboFan: 0.27 s of CPU on V8's
 * helper threads in the run's last 0.25 s, which the process then waited
 * for at exit (docs/benchmarks.md "Eighteenth session"). With 10x a long
 * solve still moves its hot functions to TurboFan, and is no slower:
 * random problems of 30 hosts and 60 VMs (3 seeds, 4 runs)
 * took 4.93-5.24 s against 5.05-5.53 s by the default, with the same
 * solutions (with no TurboFan at all, 6.94-7.12 s).
 */
const WASM_TIERING_BUDGET = "--wasm-tiering-budget=18000000";

export const V8_FLAGS = ["--max-inlined-bytecode-size-cumulative=230", WASM_TIERING_BUDGET] as const;

export function tuneV8(): void {
  setAll(V8_FLAGS);
}

function setAll(flags: readonly string[]): void {
  for (const f of flags) setFlagsFromString(f);
}

/**
 * V8 settings for a run that reads hosts on two or more threads (set by
 * runOnWorkers, src/parallel/threaded.ts, before the workers start; one
 * thread keeps the defaults).
 *
 * Each thread is an isolate that compiles the same functions again: a cold
 * plan of 1,000 `all` hosts ran 230 TurboFan jobs (0.70 s, the sum of
 * --trace-opt's times) on one thread and 390-391 jobs (1.56-1.73 s) on
 * two; a run of 100 hosts already ran 98 (0.58 s). On one thread the
 * compiler works on the core the program leaves idle, so compiling early
 * pays; on two, both cores run JavaScript and every compile takes time
 * from them.
 *
 * Eight times the default interrupt budget (67,584 bytes of bytecode run
 * before V8 looks at tiering a function up) leaves the lukewarm functions
 * to the baseline code and optimises the hot ones a little later. Measured
 * on the seventeenth session's 2-core machine (docs/benchmarks.md
 * "Seventeenth session"), alternating with the build before, the same JSON
 * in every case: cold plan of 1,000 `all` hosts 1.94-2.12 -> 1.76-1.84 s
 * (CPU 3.52-3.75 -> 3.21-3.37 s), 400 hosts 1.15-1.19 -> 1.03-1.10 s, 200
 * hosts 0.78-0.86 -> 0.67-0.69 s; evacuate, one file a device and 5,000
 * hosts the same. Two threads then run 185 TurboFan jobs (0.70 s).
 * Budgets of 2, 4, 6, 12, 16 and 32 times gained less. For one thread the
 * same budget is slower (1,000 hosts 1.98-2.05 -> 2.17-2.28 s, 100 hosts
 * 0.45 -> 0.50 s), hence only here.
 */
export const THREADED_V8_FLAGS = ["--interrupt-budget=540672"] as const;

export function tuneV8ForThreads(): void {
  setAll(THREADED_V8_FLAGS);
}
