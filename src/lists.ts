/**
 * Lists that V8 stores the same way whether they stay empty or not.
 *
 * V8 gives an array a hidden class by what it holds (its elements kind). A
 * literal `[]` starts as a list of small integers (PACKED_SMI_ELEMENTS) and
 * turns into a list of any values (PACKED_ELEMENTS) at its first push of a
 * string or an object; a list left empty keeps the first class, and `map`
 * of an empty list makes one of the first class too. Code optimised on
 * filled lists (a VM's device candidates, a device's resource ids) then
 * meets a class it has not seen when one is empty (a VM with no assigned
 * device, a device no function of the host accepts), deoptimises and is
 * compiled again: in an evacuation, once per thread for each of
 * matchDevices, reportHost and the candidate pool (docs/benchmarks.md,
 * "Eighteenth session"). The lists below are of the second class from the
 * start, so they all share one.
 */

/** An empty list of strings or objects, already of the class a filled one has. */
export function objectList<T>(): T[] {
  const a: unknown[] = [undefined];
  a.pop();
  return a as T[];
}

/** `xs.map(f)` into an objectList: the same elements, in the same order. */
export function mapList<S, T>(xs: readonly S[], f: (x: S) => T): T[] {
  const out = objectList<T>();
  for (let i = 0; i < xs.length; i++) out.push(f(xs[i]!));
  return out;
}

/** `xss.flat()` into an objectList: each list's elements in order, the lists in order. */
export function flatList<T>(xss: readonly (readonly T[])[]): T[] {
  const out = objectList<T>();
  for (const xs of xss) for (let i = 0; i < xs.length; i++) out.push(xs[i]!);
  return out;
}
