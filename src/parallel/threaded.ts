/**
 * What the program does when a run starts reading hosts on two or more
 * threads (runOnWorkers in ./pool.ts). The hdplan program (src/cli/main.ts)
 * sets V8's settings for such a run here (src/cli/v8-flags.ts
 * tuneV8ForThreads); code that imports hdplan's modules sets nothing, so it
 * runs with its own V8 settings.
 */
let hook: (() => void) | undefined;

/** Run `f` each time a run starts reading hosts on two or more threads (replaces an earlier hook). */
export function onThreadedRun(f: (() => void) | undefined): void {
  hook = f;
}

/** A run starts reading hosts on two or more threads. */
export function enteringThreadedRun(): void {
  hook?.();
}
