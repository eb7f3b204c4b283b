/**
 * Hang bounds for tests that must not hang (a timeout that never fires, a
 * regex that backtracks forever): a bound of `ms` on an idle machine, scaled by
 * the machine's load at the time of the check, so a busy CI box or a shared
 * developer machine does not turn a correct run into a failure. These are not
 * speed goals (those are `npm run bench`); they catch only hangs and blow-ups.
 */
import { availableParallelism, loadavg } from "node:os";

/** How much slower than idle this machine is now: 1 when idle, up to 20. */
export function loadSlack(): number {
  const perCore = loadavg()[0]! / Math.max(1, availableParallelism());
  return Math.max(1, Math.min(20, perCore));
}

/** `ms` scaled by the current load (see loadSlack). */
export function hangBound(ms: number): number {
  return Math.round(ms * loadSlack());
}
