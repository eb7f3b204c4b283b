/**
 * Strings that hold no larger string and are stored flat.
 *
 * V8 makes a slice of 13 characters or more (String.prototype.slice, and
 * so every string the XML scanner hands out) as a view into its parent: a
 * node device's name keeps its host's whole ~130 KB dump alive. A copy made
 * by concatenating and slicing again (`${s} `.slice(0, -1), used before
 * 2026-12-04) is still a view, of a new parent one character longer, and
 * V8's optimised string compare does not read views: every `<` between two
 * such names went to the runtime (String::Compare), 7x slower than between
 * flat strings in a micro-benchmark; on a cold plan of 1,000 `all` hosts on
 * one thread, sortByName took 37-50 ms, 11-13 ms with flat names
 * (docs/benchmarks.md "Nineteenth session").
 *
 * flatString concatenates two slices, the first shorter than 13 characters
 * (so a copy, not a view), and reads a character of the result: V8 then
 * flattens it in place into a new string of its own length, which lets go
 * of the second slice and its parent. The character read decides what is
 * returned, so that no compiler can drop it as unused. test/strings.test.ts
 * checks both, also once flatString is optimised: no parent kept, and the
 * representation, by V8's %DebugPrint.
 */

/** A copy of `s` that holds no larger string, stored flat; `s` itself when it is shorter than 13 characters. */
export function flatString(s: string): string {
  if (s.length < 13) return s;
  const c = s.slice(0, 12) + s.slice(12);
  // Always c: the two first characters are the same one.
  return c.charCodeAt(0) === s.charCodeAt(0) ? c : s;
}
