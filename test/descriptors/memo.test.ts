/**
 * The descriptor-match memo (src/descriptors/memo.ts, matcherFor in
 * src/descriptors/match.ts) must never answer for one descriptor with the
 * outcome of another: its key is the complete content of both sides. These
 * tests change every field of a destination and a source in turn and require
 * a new key and the unmemoised answer.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  accepts,
  keyDestination,
  MATCH_MEMO,
  MATCH_MEMO_PER_SOURCE,
  MATCH_MEMO_STATS,
  matcherFor,
} from "../../src/descriptors/match.js";
import {
  BoundedMemo,
  clonePlain,
  contentKey,
  deepFreeze,
  MAX_KEY_CHARS,
} from "../../src/descriptors/memo.js";
import { parseDescriptor } from "../../src/descriptors/text.js";
import type { DescriptorData } from "../../src/model.js";
import { SEED, SEED_SOURCE } from "./fixtures.js";

const seed = parseDescriptor(SEED, "seed.conf");
const seedSource: Record<string, string> = { ...SEED_SOURCE };
/** A section-less PCI destination, as the host index derives it (src/descriptors/derive.ts). */
const pciDest: DescriptorData = {
  self: {
    device_api: "vfio-pci",
    device_type: "pci",
    device_id: "15b3101e",
    pf_device_id: "15b3101d",
    software_version: "1.2.0",
  },
  compatible: [],
};
const pciSource: Record<string, string> = { ...pciDest.self, software_version: "1.1" };

/** Every change of one field of plain data: each leaf's value replaced (another string, a number, a hole), each key removed, one key added, two keys swapped. */
function variants(v: unknown): unknown[] {
  if (typeof v === "string")
    return [`${v}x`, v.slice(1), ` ${v}`, v.toUpperCase() === v ? `${v}a` : v.toUpperCase(), 7, undefined];
  if (v === null || typeof v !== "object") return ["s", null];
  if (Array.isArray(v)) {
    const out: unknown[] = [[...v, {}], v.slice(1)];
    v.forEach((x, i) => {
      for (const y of variants(x)) out.push(v.map((z, j) => (j === i ? y : z)));
    });
    return out;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const out: unknown[] = [{ ...o, extra_key: "1" }];
  for (const k of keys) {
    const { [k]: _, ...rest } = o;
    out.push(rest);
    for (const y of variants(o[k])) out.push({ ...o, [k]: y });
  }
  if (keys.length >= 2) {
    const swapped: Record<string, unknown> = {};
    for (const k of [keys[1]!, keys[0]!, ...keys.slice(2)]) swapped[k] = o[k];
    out.push(swapped);
  }
  return out;
}

describe("contentKey", () => {
  it("changes with every field of a descriptor (values, types, keys, order)", () => {
    for (const d of [seed, pciDest]) {
      const k0 = contentKey(d);
      expect(k0).not.toBeNull();
      const all = variants(d);
      expect(all.length).toBeGreaterThan(20);
      const seen = new Map<string, unknown>([[k0!, d]]);
      for (const x of all) {
        const k = contentKey(x);
        expect(k, JSON.stringify(x)).not.toBeNull();
        const prev = seen.get(k!);
        // Two variants share a key only when they are the same data.
        if (prev !== undefined) expect(x).toStrictEqual(prev);
        seen.set(k!, x);
      }
    }
  });

  it("is equal exactly for equal data (same keys in the same order, same typed values)", () => {
    const leaf = fc.oneof(
      fc.string({ unit: fc.constantFrom("a", "1", ":", "s", "n", ";", "[", "]", "{", "}", "z", "u") }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const data = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        leaf,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.string({ unit: fc.constantFrom("a", "1", ":", "s") }), tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    // Same data: same keys in the same order (Object.keys) and Object.is-equal leaves.
    const same = (a: unknown, b: unknown): boolean => {
      if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return Object.is(a, b);
      if (Array.isArray(a) !== Array.isArray(b)) return false;
      const ka = Object.keys(a);
      const kb = Object.keys(b);
      if (Array.isArray(a) && (a as unknown[]).length !== (b as unknown[]).length) return false;
      if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
      if (Array.isArray(a)) return (a as unknown[]).every((x, i) => same(x, (b as unknown[])[i]));
      return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
    };
    fc.assert(
      fc.property(data, data, (a, b) => {
        expect(contentKey(a) === contentKey(b)).toBe(same(a, b));
        expect(contentKey(a)).toBe(contentKey(clonePlain(a)));
      }),
      { numRuns: 3000 },
    );
  });

  it("tells a string from the same text as structure, and -0 from 0", () => {
    expect(contentKey({ a: "b", c: "d" })).not.toBe(contentKey({ a: 'b", "c": "d' }));
    expect(contentKey({ "a1:b": "c" })).not.toBe(contentKey({ a: "b", "": "c" }));
    expect(contentKey({ a: "x", b: "y" })).not.toBe(contentKey({ a: "x1:bsy" }));
    expect(contentKey(["a", "b"])).not.toBe(contentKey(["asb"]));
    expect(contentKey([1, 2])).not.toBe(contentKey([12]));
    expect(contentKey({ a: 1, b: 2 })).not.toBe(contentKey({ a: 12 }));
    expect(contentKey(-0)).not.toBe(contentKey(0));
    expect(contentKey(["1"])).not.toBe(contentKey([1]));
    expect(contentKey([undefined])).not.toBe(contentKey([]));
    expect(contentKey([null])).not.toBe(contentKey([undefined]));
  });

  it("gives no key for what is not plain data, or is too large", () => {
    for (const x of [new Map(), new Date(0), [1n], { f: () => 1 }, Symbol("s"), new (class A {})()]) {
      expect(contentKey(x)).toBeNull();
      expect(contentKey({ self: { a: x }, compatible: [] })).toBeNull();
    }
    expect(contentKey({ a: "x".repeat(MAX_KEY_CHARS) })).toBeNull();
    expect(contentKey(new Array(MAX_KEY_CHARS + 1))).toBeNull();
    let deep: unknown = "leaf";
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(contentKey(deep)).toBeNull();
    // A prototype-less object is plain data (JSON.parse never makes one; Object.create(null) does).
    expect(contentKey(Object.assign(Object.create(null), { a: "b" }))).toBe(contentKey({ a: "b" }));
  });

  it("keeps an own __proto__ key (JSON.parse makes one) as a key", () => {
    const withProto = JSON.parse('{"self":{"device_api":"vfio-pci","__proto__":"x"},"compatible":[]}');
    expect(contentKey(withProto)).not.toBe(contentKey({ self: { device_api: "vfio-pci" }, compatible: [] }));
    const c = clonePlain(withProto);
    expect(Object.keys(c.self)).toEqual(["device_api", "__proto__"]);
    expect(Object.getPrototypeOf(c.self)).toBe(Object.prototype);
    expect(contentKey(c)).toBe(contentKey(withProto));
  });
});

describe("matcherFor (accepts, memoised by content)", () => {
  /** accepts() through a matcher, with the destination keyed as the host index keys it. */
  function viaMemo(dest: unknown, src: unknown) {
    const d = clonePlain(dest) as DescriptorData;
    return matcherFor(src as Record<string, string>)(d, keyDestination(d));
  }

  it("answers every one-field change of the destination or the source as accepts() does, recomputing it", () => {
    MATCH_MEMO.clear();
    /** The variants that differ from `v` and from each other (as JSON, which keeps key order). */
    const changed = (v: unknown) => {
      const seen = new Set([JSON.stringify(v)]);
      return variants(v).filter((x) => !seen.has(JSON.stringify(x)) && !!seen.add(JSON.stringify(x)));
    };
    for (const [dest, src] of [
      [seed, seedSource],
      [pciDest, pciSource],
    ] as const) {
      // Warm the memo with the pair itself, then change one field at a time.
      expect(viaMemo(dest, src)).toEqual(accepts(dest, src));
      const hits = MATCH_MEMO_STATS.hits;
      expect(viaMemo(dest, src)).toEqual(accepts(dest, src));
      expect(MATCH_MEMO_STATS.hits).toBe(hits + 1);
      for (const d2 of changed(dest)) {
        const misses = MATCH_MEMO_STATS.misses + MATCH_MEMO_STATS.uncached;
        const want = accepts(d2 as DescriptorData, src);
        expect(viaMemo(d2, src), JSON.stringify(d2)).toEqual(want);
        expect(MATCH_MEMO_STATS.misses + MATCH_MEMO_STATS.uncached, JSON.stringify(d2)).toBe(misses + 1);
        // asked again: the memoised answer is still the one accepts() gives
        expect(viaMemo(d2, src)).toEqual(want);
      }
      for (const s2 of changed(src)) {
        const misses = MATCH_MEMO_STATS.misses + MATCH_MEMO_STATS.uncached;
        const want = accepts(dest, s2 as Record<string, string>);
        expect(viaMemo(dest, s2), JSON.stringify(s2)).toEqual(want);
        expect(MATCH_MEMO_STATS.misses + MATCH_MEMO_STATS.uncached, JSON.stringify(s2)).toBe(misses + 1);
      }
    }
  });

  it("a change of one field flips compatible to not compatible (and back) through the memo", () => {
    const other = { ...pciDest, self: { ...pciDest.self, pf_device_id: "15b31017" } };
    expect(viaMemo(pciDest, pciSource).ok).toBe(true);
    expect(viaMemo(other, pciSource).ok).toBe(false);
    expect(viaMemo(pciDest, pciSource).ok).toBe(true);
    const newer = { ...pciSource, software_version: "1.3" };
    expect(viaMemo(pciDest, newer)).toMatchObject({
      ok: false,
      reasons: [{ code: "version-minor-too-old" }],
    });
    expect(viaMemo(pciDest, pciSource).ok).toBe(true);
  });

  it("agrees with accepts() on random descriptor pairs asked in any order, again and again", () => {
    const key = fc.constantFrom(
      "device_api",
      "device_id",
      "pf_device_id",
      "software_version",
      "mdev_type",
      "a",
    );
    const value = fc.constantFrom(
      "vfio-pci",
      "15b3101e",
      "15B3:101E",
      "1.2",
      "1.3.0",
      "2",
      "t1",
      "{v:int:1,2}",
      "x",
    );
    const self = fc.dictionary(key, value, { maxKeys: 5 });
    const desc = fc.record({
      self,
      compatible: fc.array(fc.dictionary(key, value, { maxKeys: 3 }), { maxLength: 2 }),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(desc, self), { minLength: 1, maxLength: 8 }), (pairs) => {
        for (const [d, s] of [...pairs, ...pairs.slice().reverse()])
          expect(viaMemo(d, s)).toEqual(accepts(d, s));
      }),
      { numRuns: 400 },
    );
  });

  it("returns an outcome of its own to each caller", () => {
    const m = matcherFor(seedSource);
    const d = clonePlain(seed);
    const k = keyDestination(d);
    const a = m(d, k);
    if (!a.ok) throw new Error("expected a match");
    a.binding.val1 = 99;
    expect(m(d, k)).toEqual(accepts(seed, seedSource));
    const bad = { ...seedSource, aggregator: "1" };
    const mb = matcherFor(bad);
    const r = mb(d, k);
    if (r.ok) throw new Error("expected a rejection");
    r.reasons[0]!.message = "changed";
    r.reasons.pop();
    expect(mb(d, k)).toEqual(accepts(seed, bad));
  });

  it("matches the source as it was when the matcher was made", () => {
    const src = { ...pciSource };
    const m = matcherFor(src);
    src.device_id = "10de1eb8";
    const d = clonePlain(pciDest);
    expect(m(d, keyDestination(d))).toEqual(accepts(pciDest, pciSource));
  });

  it("matches without the memo what has no key", () => {
    const uncached = MATCH_MEMO_STATS.uncached;
    const d = clonePlain(pciDest);
    expect(matcherFor(pciSource)(d, null)).toEqual(accepts(pciDest, pciSource));
    expect(MATCH_MEMO_STATS.uncached).toBe(uncached + 1);
    const odd = { self: { ...pciDest.self, when: new Date(0) }, compatible: [] } as unknown as DescriptorData;
    expect(keyDestination(odd)).toBeNull();
    expect(Object.isFrozen(odd)).toBe(false);
    expect(matcherFor(pciSource)(odd, null)).toEqual(accepts(odd, pciSource));
  });

  it("keyDestination freezes the descriptor, so its key cannot go stale", () => {
    const d = clonePlain(seed);
    const k = keyDestination(d);
    expect(k).toBe(contentKey(seed));
    expect(() => {
      (d.self as Record<string, string>).device_id = "10de1eb8";
    }).toThrow(TypeError);
    expect(() => {
      (d.compatible[0] as Record<string, string>).aggregator = "{val1}";
    }).toThrow(TypeError);
    expect(() => d.compatible.push({})).toThrow(TypeError);
    expect(contentKey(d)).toBe(k);
  });

  it("stays bounded: sources and destinations per source", () => {
    const m = matcherFor({ device_api: "vfio-pci", device_id: "bounded" });
    for (let i = 0; i < MATCH_MEMO_PER_SOURCE + 50; i++) {
      const d: DescriptorData = { self: { device_api: "vfio-pci", device_id: `${i}` }, compatible: [] };
      m(d, keyDestination(d));
    }
    for (let i = 0; i < MATCH_MEMO.max + 10; i++) matcherFor({ device_api: "vfio-pci", n: `${i}` });
    expect(MATCH_MEMO.size).toBe(MATCH_MEMO.max);
    const inner = MATCH_MEMO.get(contentKey({ device_api: "vfio-pci", n: `${MATCH_MEMO.max + 9}` })!, () => {
      throw new Error("the newest source must still be there");
    });
    expect(inner.size).toBe(0);
  });
});

describe("BoundedMemo", () => {
  it("forgets the oldest entry when full and computes again what it forgot", () => {
    const m = new BoundedMemo<number>(2);
    let calls = 0;
    const f = (n: number) => () => {
      calls++;
      return n;
    };
    expect(m.get("a", f(1))).toBe(1);
    expect(m.get("b", f(2))).toBe(2);
    expect(m.get("a", f(9))).toBe(1);
    expect(m.get("c", f(3))).toBe(3);
    expect(m.size).toBe(2);
    expect(m.get("a", f(4))).toBe(4); // "a" was the oldest: forgotten, computed again
    expect(calls).toBe(4);
    expect([m.hits, m.misses]).toEqual([1, 4]);
  });
});

describe("deepFreeze and clonePlain", () => {
  it("freeze every level; clone every level", () => {
    const x = { a: [{ b: "c" }], d: { e: 1 } };
    const c = clonePlain(x);
    deepFreeze(x);
    expect(Object.isFrozen(x.a[0])).toBe(true);
    expect(Object.isFrozen(x.d)).toBe(true);
    expect(c).toEqual(x);
    expect(Object.isFrozen(c.a[0])).toBe(false);
    expect(c.a[0]).not.toBe(x.a[0]);
  });
});
