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
 * share it. An unknown flag is ignored (a later Node that renamed it just
 * runs with its default).
 */
import { setFlagsFromString } from "node:v8";

export const V8_FLAGS = ["--max-inlined-bytecode-size-cumulative=230"] as const;

export function tuneV8(): void {
  for (const f of V8_FLAGS) setFlagsFromString(f);
}
