/**
 * Content-keyed memo for the descriptor match (src/descriptors/match.ts).
 *
 * The hosts of a fleet have the same models, so the destination descriptors
 * a match sees (vendor/device ids, PF ids, types, versions) repeat from host
 * to host, and evacuate asks the same question once per host and distinct
 * source device (issue 14). The memo keys an outcome by the COMPLETE content
 * of what the match reads, never by object identity or a hand-picked list of
 * fields: `contentKey` serialises every own enumerable field of every object
 * and array it is given, with a type tag per value, so two inputs get the same
 * key only when they are equal as data (same keys in the same order, same
 * values of the same types). A field the match does not read makes the key
 * more specific (a miss), never less (fail-closed: a key that left out a
 * field the rule reads could return another descriptor's "compatible").
 * Anything that is not plain data (a class instance, Map, Date, function,
 * symbol, bigint) or is too large gives no key, and the caller computes the
 * answer without the memo.
 */

/** Longest key kept (characters): a larger input is matched without the memo. */
export const MAX_KEY_CHARS = 16_384;

/** Nesting deeper than this gives no key (descriptors are two levels deep). */
const MAX_DEPTH = 16;

class Unkeyable extends Error {}

/**
 * The canonical text of `v` as plain data, or null when it has none (not
 * plain data, or longer than `limit` characters). Injective on plain data:
 * every value starts with a tag (s string, n number, t/f boolean, z null,
 * u undefined or an array hole, [ array, { object), strings and object keys
 * are length-prefixed ("s5:hello"; an object's key "3:abc" then its value),
 * numbers end with ";" ("n-0.5;", "nNaN;"), and arrays and objects are
 * bracketed, so the text parses back in one way only.
 */
export function contentKey(v: unknown, limit: number = MAX_KEY_CHARS): string | null {
  const st = { chars: 0, limit };
  try {
    return enc(v, 0, st);
  } catch (e) {
    if (e instanceof Unkeyable) return null;
    throw e;
  }
}

function grow(st: { chars: number; limit: number }, n: number): void {
  st.chars += n;
  if (st.chars > st.limit) throw new Unkeyable();
}

function enc(v: unknown, depth: number, st: { chars: number; limit: number }): string {
  switch (typeof v) {
    case "string":
      // Length-prefixed: the text cannot be mistaken for structure, whatever it holds.
      grow(st, v.length + 8);
      return `s${v.length}:${v}`;
    case "number": {
      // -0 and 0 are different values (String() prints both as "0").
      const s = Object.is(v, -0) ? "n-0;" : `n${v};`;
      grow(st, s.length);
      return s;
    }
    case "boolean":
      grow(st, 1);
      return v ? "t" : "f";
    case "undefined":
      grow(st, 1);
      return "u";
    case "object": {
      if (v === null) {
        grow(st, 1);
        return "z";
      }
      if (depth >= MAX_DEPTH) throw new Unkeyable();
      if (Array.isArray(v)) {
        grow(st, 2 + v.length);
        let s = "[";
        for (let i = 0; i < v.length; i++) s += enc(v[i], depth + 1, st);
        return `${s}]`;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) throw new Unkeyable();
      const keys = Object.keys(v);
      grow(st, 2 + keys.length);
      let s = "{";
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        grow(st, k.length + 8);
        s += `${k.length}:${k}${enc((v as Record<string, unknown>)[k], depth + 1, st)}`;
      }
      return `${s}}`;
    }
    default:
      // bigint, symbol, function: not plain data.
      throw new Unkeyable();
  }
}

/** A deep copy of plain data (objects, arrays, primitives), so no caller shares a memoised object. */
export function clonePlain<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(clonePlain) as T;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = clonePlain((v as Record<string, unknown>)[k]);
    // An own "__proto__" key (JSON.parse makes one) stays a key; assignment would set the prototype.
    if (k === "__proto__")
      Object.defineProperty(o, k, { value: x, enumerable: true, writable: true, configurable: true });
    else o[k] = x;
  }
  return o as T;
}

/** Freezes plain data in place, every level (what contentKey accepted). */
export function deepFreeze<T>(v: T): T {
  if (v === null || typeof v !== "object") return v;
  Object.freeze(v);
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  return v;
}

/**
 * A memo of at most `max` entries; when full, the oldest entry goes (first
 * in, first out). Hits and misses are counted for the tests.
 */
export class BoundedMemo<V> {
  private readonly m = new Map<string, V>();
  hits = 0;
  misses = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.m.size;
  }

  /** The value for `key`, computing and remembering it on a miss. */
  get(key: string, compute: () => V): V {
    const hit = this.m.get(key);
    if (hit !== undefined) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const v = compute();
    if (this.m.size >= this.max) {
      const oldest = this.m.keys().next();
      if (!oldest.done) this.m.delete(oldest.value);
    }
    this.m.set(key, v);
    return v;
  }

  clear(): void {
    this.m.clear();
    this.hits = 0;
    this.misses = 0;
  }
}
