import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { accepts, type MatchResult } from "../../src/descriptors/match.js";
import { parseDescriptor } from "../../src/descriptors/text.js";
import type { DescriptorData } from "../../src/model.js";
import { SEED, SEED_SOURCE } from "./fixtures.js";
import { hangBound } from "../helpers/bounds.js";

/**
 * Hostile descriptors must be decided without enumerating their 10^10+
 * combinations (hours); they take well under 300 ms here, and the bound only
 * has to tell the two apart, also on a loaded machine (no timing of the code).
 */
const HOSTILE_BOUND_MS = 10_000;

const seed = parseDescriptor(SEED, "seed.conf");
const seedSource: Record<string, string> = { ...SEED_SOURCE };

function d(text: string): DescriptorData {
  return parseDescriptor(text, "t.conf");
}
function codes(r: MatchResult): string[] {
  return r.ok ? [] : r.reasons.map((x) => x.code);
}
function reasons(r: MatchResult) {
  if (r.ok) throw new Error("expected a rejection");
  return r.reasons;
}

describe("seed example (compat.md §2)", () => {
  it("accepts mdev_type=i915-GVTg_V5_4 with aggregator=2", () => {
    const r = accepts(seed, seedSource);
    expect(r).toEqual({ ok: true, binding: { val1: 4, val2: "none+ppgtt", val3: 3 }, section: 0 });
  });

  it("rejects aggregator=1, explaining why", () => {
    const r = accepts(seed, { ...seedSource, aggregator: "1" });
    expect(codes(r)).toEqual(["field-mismatch"]);
    const x = reasons(r)[0]!;
    expect(x).toMatchObject({ key: "aggregator", source: "1", accepted: "{val1}/2" });
    expect(x.message).toContain("which is 2 for val1=4");
  });

  it("accepts each listed aggregation with its exact half", () => {
    for (const [n, agg] of [
      ["1", "0.5"],
      ["2", "1"],
      ["8", "4.0"],
    ] as const) {
      expect(accepts(seed, { ...seedSource, mdev_type: `i915-GVTg_V5_${n}`, aggregator: agg }).ok).toBe(true);
    }
  });

  it("{val1}/2 with val1=1 equals only 0.5", () => {
    for (const agg of ["0", "1", "0.4", "0.50000001", "1/2", ".5", "half"]) {
      expect(accepts(seed, { ...seedSource, mdev_type: "i915-GVTg_V5_1", aggregator: agg }).ok).toBe(false);
    }
    expect(accepts(seed, { ...seedSource, mdev_type: "i915-GVTg_V5_1", aggregator: "0.50" }).ok).toBe(true);
  });

  it("rejects a type outside the list, a pv_mode outside the list, an old interface_version", () => {
    expect(codes(accepts(seed, { ...seedSource, mdev_type: "i915-GVTg_V5_3", aggregator: "1.5" }))).toEqual([
      "field-mismatch",
      "field-mismatch",
    ]);
    expect(codes(accepts(seed, { ...seedSource, mdev_type: "i915-GVTg_V5_04" }))).toContain("field-mismatch");
    expect(codes(accepts(seed, { ...seedSource, pv_mode: "none" }))).toEqual(["field-mismatch"]);
    expect(codes(accepts(seed, { ...seedSource, interface_version: "1" }))).toEqual([
      "version-major-mismatch",
    ]);
    expect(accepts(seed, { ...seedSource, interface_version: "2" }).ok).toBe(true);
    expect(codes(accepts(seed, { ...seedSource, device_id: "80863e92" }))).toEqual(["field-mismatch"]);
  });
});

describe("device_api", () => {
  it("must always be equal, whatever the sections say", () => {
    const dest = d('device_api=vfio-pci\nCOMPATIBLE:\ndevice_api={a:string:"vfio-pci","vfio-ccw"}\n');
    expect(codes(accepts(dest, { device_api: "vfio-ccw" }))).toEqual(["device-api-mismatch"]);
    expect(accepts(dest, { device_api: "vfio-pci" }).ok).toBe(true);
    expect(codes(accepts(d("device_api=vfio-pci\n"), {}))).toEqual(["device-api-mismatch"]);
  });
});

describe("default equality (no compatible section)", () => {
  const dest = d("device_api=vfio-pci\ndevice_id=8086591d\nmdev_type=t1\nmigratable=1\n");
  it("accepts exactly its own self (migratable never compared)", () => {
    expect(accepts(dest, { device_api: "vfio-pci", device_id: "8086591d", mdev_type: "t1" })).toEqual({
      ok: true,
      binding: {},
      section: null,
    });
    expect(
      accepts(dest, { device_api: "vfio-pci", device_id: "8086591d", mdev_type: "t1", migratable: "0" }).ok,
    ).toBe(true);
  });
  it("compares device ids normalised", () => {
    expect(accepts(dest, { device_api: "vfio-pci", device_id: "8086:591D", mdev_type: "t1" }).ok).toBe(true);
  });
  it("reports field-mismatch, field-unknown-at-destination, field-missing-at-source", () => {
    const r = accepts(dest, { device_api: "vfio-pci", mdev_type: "t2", aggregator: "1" });
    expect(reasons(r).map((x) => [x.code, x.key])).toEqual([
      ["field-missing-at-source", "device_id"],
      ["field-mismatch", "mdev_type"],
      ["field-unknown-at-destination", "aggregator"],
    ]);
  });
  it("compares versions by the version rule", () => {
    const v = d("device_api=vfio-pci\nsoftware_version=1.3.0\n");
    expect(accepts(v, { device_api: "vfio-pci", software_version: "1.2.9" }).ok).toBe(true);
    expect(accepts(v, { device_api: "vfio-pci", software_version: "1.3" }).ok).toBe(true);
    const r = accepts(v, { device_api: "vfio-pci", software_version: "1.4.0" });
    expect(codes(r)).toEqual(["version-minor-too-old"]);
    expect(reasons(r)[0]!.message).toBe(
      "destination accepts software_version 1.x with minor <= 3; source is 1.4.0 (the destination lacks features of minor 4)",
    );
    expect(codes(accepts(v, { device_api: "vfio-pci", software_version: "2.0" }))).toEqual([
      "version-major-mismatch",
    ]);
  });
});

describe("compatible sections", () => {
  const dest = d(`device_api=vfio-pci
mdev_type=t1
aggregator=1
COMPATIBLE:
mdev_type={t:string:"t1","t2"}
COMPATIBLE:
mdev_type=t3
aggregator={a:int:1..4}
`);
  it("sections are alternatives", () => {
    expect(accepts(dest, { device_api: "vfio-pci", mdev_type: "t2", aggregator: "1" })).toEqual({
      ok: true,
      binding: { t: "t2" },
      section: 0,
    });
    expect(accepts(dest, { device_api: "vfio-pci", mdev_type: "t3", aggregator: "3" })).toEqual({
      ok: true,
      binding: { a: 3 },
      section: 1,
    });
  });
  it("unmentioned source keys are compared with D.self", () => {
    expect(codes(accepts(dest, { device_api: "vfio-pci", mdev_type: "t2", aggregator: "2" }))).toEqual([
      "field-mismatch",
    ]);
  });
  it("an unmentioned source key the destination lacks fails (field-unknown-at-destination)", () => {
    const r = accepts(dest, { device_api: "vfio-pci", mdev_type: "t1", aggregator: "1", pv_mode: "x" });
    expect(codes(r)).toEqual(["field-unknown-at-destination"]);
  });
  it("a section key the source lacks fails (field-missing-at-source)", () => {
    const r = accepts(d("device_api=vfio-pci\nCOMPATIBLE:\nmdev_type=t1\n"), { device_api: "vfio-pci" });
    expect(reasons(r)).toEqual([
      expect.objectContaining({ code: "field-missing-at-source", key: "mdev_type", accepted: "t1" }),
    ]);
  });
  it("destination-only self keys are not required when a section matches", () => {
    expect(
      accepts(d("device_api=vfio-pci\nextra=1\nCOMPATIBLE:\nmdev_type=t1\n"), {
        device_api: "vfio-pci",
        mdev_type: "t1",
      }).ok,
    ).toBe(true);
  });
  it("migratable is ignored on both sides, even in a section", () => {
    const x = d("device_api=vfio-pci\nmigratable=1\nCOMPATIBLE:\nmdev_type=t1\nmigratable=1\n");
    expect(accepts(x, { device_api: "vfio-pci", mdev_type: "t1", migratable: "0" }).ok).toBe(true);
    expect(accepts(x, { device_api: "vfio-pci", mdev_type: "t1" }).ok).toBe(true);
  });
  it("reports the closest section (fewest failing keys)", () => {
    const x = d(`device_api=vfio-pci
COMPATIBLE:
a=1
b=1
c=1
COMPATIBLE:
a=2
b=2
c=2
`);
    const r = accepts(x, { device_api: "vfio-pci", a: "2", b: "2", c: "9" });
    expect(reasons(r).map((y) => [y.code, y.key])).toEqual([["field-mismatch", "c"]]);
  });
  it("placeholders inside literal text, several in one value", () => {
    const x = d('device_api=vfio-pci\nCOMPATIBLE:\nname=gpu-{g:int:1..4}-{m:string:"a","bb"}-x\nslot={g}\n');
    expect(accepts(x, { device_api: "vfio-pci", name: "gpu-3-bb-x", slot: "3" })).toEqual({
      ok: true,
      binding: { g: 3, m: "bb" },
      section: 0,
    });
    expect(accepts(x, { device_api: "vfio-pci", name: "gpu-3-bb-x", slot: "2" }).ok).toBe(false);
    expect(accepts(x, { device_api: "vfio-pci", name: "gpu-5-a-x", slot: "5" }).ok).toBe(false);
  });
  it("joins keys that mention several variables", () => {
    const x = d("device_api=vfio-pci\nCOMPATIBLE:\np={a:int:1..20}{b:int:1..20}\nq={a}\nr={b}\n");
    expect(accepts(x, { device_api: "vfio-pci", p: "112", q: "11", r: "2" })).toMatchObject({
      ok: true,
      binding: { a: 11, b: 2 },
    });
    expect(accepts(x, { device_api: "vfio-pci", p: "112", q: "1", r: "12" })).toMatchObject({
      ok: true,
      binding: { a: 1, b: 12 },
    });
    expect(codes(accepts(x, { device_api: "vfio-pci", p: "112", q: "1", r: "2" }))).toEqual([
      "field-mismatch",
    ]);
  });
  it("arithmetic * + - are exact", () => {
    const x = d("device_api=vfio-pci\nCOMPATIBLE:\nm={v:int:1..10}*3\np={v}+1\nn={v}-4\n");
    expect(accepts(x, { device_api: "vfio-pci", m: "6", p: "3", n: "-2" })).toMatchObject({
      ok: true,
      binding: { v: 2 },
    });
    expect(accepts(x, { device_api: "vfio-pci", m: "6.0", p: "3.00", n: "-2" }).ok).toBe(true);
    expect(accepts(x, { device_api: "vfio-pci", m: "7", p: "3", n: "-2" }).ok).toBe(false);
  });
  it("version keys in a section: plain, range, legacy majors, string list", () => {
    const x = (v: string, self = "") => d(`device_api=vfio-pci\n${self}COMPATIBLE:\nsoftware_version=${v}\n`);
    const src = (v: string) => ({ device_api: "vfio-pci", software_version: v });
    expect(accepts(x("1.4"), src("1.2.7")).ok).toBe(true);
    expect(codes(accepts(x("1.4"), src("1.5")))).toEqual(["version-minor-too-old"]);
    expect(codes(accepts(x("1.4"), src("2.0")))).toEqual(["version-major-mismatch"]);
    expect(accepts(x('">=1.2 <2"'), src("1.2")).ok).toBe(true);
    const r = accepts(x('">=1.2 <2"'), src("2"));
    expect(codes(r)).toEqual(["version-out-of-range"]);
    expect(reasons(r)[0]!.message).toBe(
      "destination accepts software_version in range '>=1.2 <2'; source is 2.0.0",
    );
    expect(accepts(x("{v:int:2,3}"), src("3")).ok).toBe(true);
    expect(accepts(x("{v:int:2,3}"), src("3.4")).ok).toBe(true);
    expect(codes(accepts(x("{v:int:2,3}"), src("4")))).toEqual(["version-major-mismatch"]);
    expect(codes(accepts(x("{v:int:2,3}", "software_version=3.1\n"), src("3.4")))).toEqual([
      "version-minor-too-old",
    ]);
    expect(accepts(x("{v:int:2,3}", "software_version=3.5\n"), src("3.4")).ok).toBe(true);
    expect(accepts(x("{v:int:2,3}", "software_version=2.0\n"), src("3.4")).ok).toBe(true);
    expect(accepts(x('{v:string:"1.2","2.5"}'), src("2.3"))).toMatchObject({
      ok: true,
      binding: { v: "2.5" },
    });
    expect(codes(accepts(x('{v:string:"1.2","2.5"}'), src("2.6")))).toEqual(["version-minor-too-old"]);
    expect(codes(accepts(x('{v:string:"1.2","2.5"}'), src("3.0")))).toEqual(["version-major-mismatch"]);
    expect(codes(accepts(x("1.4"), src("banana")))).toEqual(["field-mismatch"]);
  });
  it("unmentioned version keys use the version rule against D.self", () => {
    const x = d("device_api=vfio-pci\ninterface_version=1.3\nCOMPATIBLE:\nmdev_type=t\n");
    expect(accepts(x, { device_api: "vfio-pci", mdev_type: "t", interface_version: "1.1" }).ok).toBe(true);
    expect(codes(accepts(x, { device_api: "vfio-pci", mdev_type: "t", interface_version: "1.4" }))).toEqual([
      "version-minor-too-old",
    ]);
  });
});

describe("descriptor-invalid and never throwing", () => {
  it("a bad section from JSON-ish data is descriptor-invalid, another section can still match", () => {
    const x: DescriptorData = { self: { device_api: "vfio-pci" }, compatible: [{ a: "{v}" }, { a: "1" }] };
    expect(accepts(x, { device_api: "vfio-pci", a: "1" })).toMatchObject({ ok: true, section: 1 });
    expect(codes(accepts(x, { device_api: "vfio-pci", a: "2" }))).toEqual(["field-mismatch"]);
    const y: DescriptorData = { self: { device_api: "vfio-pci" }, compatible: [{ a: "{v:float:1}" }] };
    expect(codes(accepts(y, { device_api: "vfio-pci", a: "1" }))).toEqual(["descriptor-invalid"]);
  });
  it("garbage input gives descriptor-invalid, not an exception", () => {
    expect(codes(accepts(null as unknown as DescriptorData, {}))).toEqual(["descriptor-invalid"]);
    expect(codes(accepts({ self: {}, compatible: [7 as unknown as Record<string, string>] }, {}))).toEqual([
      "descriptor-invalid",
    ]);
  });
});

describe("hostile descriptors are decided fast", () => {
  const time = (f: () => MatchResult) => {
    const t0 = performance.now();
    const r = f();
    return { r, ms: performance.now() - t0 };
  };
  it("ten variables of 10,000 values each", () => {
    const keys = Array.from(
      { length: 10 },
      (_, i) => `k${i}={v${i}:int:${Array.from({ length: 10000 }, (_, j) => j).join(",")}}`,
    );
    const x = d(
      `device_api=vfio-pci\nCOMPATIBLE:\n${keys.join("\n")}\nall={v0}-{v1}-{v2}-{v3}-{v4}-{v5}-{v6}-{v7}-{v8}-{v9}\n`,
    );
    const src: Record<string, string> = { device_api: "vfio-pci" };
    for (let i = 0; i < 10; i++) src[`k${i}`] = `${i * 999}`;
    src.all = Array.from({ length: 10 }, (_, i) => `${i * 999}`).join("-");
    const { r, ms } = time(() => accepts(x, src));
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    src.all = src.all.replace(/-8991$/, "-8990");
    const { r: r2, ms: ms2 } = time(() => accepts(x, src));
    expect(codes(r2)).toEqual(["field-mismatch"]);
    expect(ms2).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
  });
  it("huge ranges are never materialised", () => {
    const x = d(
      "device_api=vfio-pci\nCOMPATIBLE:\na={v:int:0..1000000000000}\nb={v}*7\nc={w:int:-1000000000000000000000..1000000000000000000000}\n",
    );
    const { r, ms } = time(() =>
      accepts(x, { device_api: "vfio-pci", a: "999999999999", b: "6999999999993", c: "-5" }),
    );
    expect(r).toMatchObject({ ok: true, binding: { v: 999999999999, w: -5 } });
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    expect(accepts(x, { device_api: "vfio-pci", a: "1000000000001", b: "7000000000007", c: "0" }).ok).toBe(
      false,
    );
  });
  it("many adjacent placeholders over a long digit string hit the bound and are rejected clearly", () => {
    const slots = Array.from({ length: 12 }, (_, i) => `{v${i}:int:0..1000000000000}`).join("");
    const x = d(`device_api=vfio-pci\nCOMPATIBLE:\na=${slots}x\n`);
    const { r, ms } = time(() => accepts(x, { device_api: "vfio-pci", a: `${"1".repeat(60)}y` }));
    expect(r.ok).toBe(false);
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    const { r: r2, ms: ms2 } = time(() => accepts(x, { device_api: "vfio-pci", a: `${"1".repeat(60)}x` }));
    expect(ms2).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    // either decided (it does split) or rejected with the bound, never hangs
    expect(r2.ok || codes(r2)[0] === "descriptor-invalid").toBe(true);
    const y = d(`device_api=vfio-pci\nCOMPATIBLE:\na=${slots}\nb={v0}\n`);
    const { r: r3, ms: ms3 } = time(() => accepts(y, { device_api: "vfio-pci", a: "1".repeat(200), b: "2" }));
    expect(ms3).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    expect(codes(r3)).toEqual(["descriptor-invalid"]);
    expect(reasons(r3)[0]!.message).toContain("more than 1000000 combinations");
  });
  it("a very long source value against adjacent string slots", () => {
    const x = d(
      'device_api=vfio-pci\nCOMPATIBLE:\na={x:string:"a","aa","aaa"}{y:string:"a","aa"}-{z:int:0..99999999999999999999}\n',
    );
    const long = `${"a".repeat(200000)}-1`;
    const { r, ms } = time(() => accepts(x, { device_api: "vfio-pci", a: long }));
    expect(codes(r)).toEqual(["field-mismatch"]);
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
    expect(accepts(x, { device_api: "vfio-pci", a: "aaaa-12" })).toMatchObject({
      ok: true,
      binding: { z: 12 },
    });
    const { r: r2, ms: ms2 } = time(() =>
      accepts(x, { device_api: "vfio-pci", a: `aaa-${"1".repeat(100000)}` }),
    );
    expect(r2.ok).toBe(false);
    expect(ms2).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
  });
  it("many sections share one bound", () => {
    const slots = Array.from({ length: 12 }, (_, i) => `{v${i}:int:0..1000000000000}`).join("");
    const sections = Array.from({ length: 50 }, () => `COMPATIBLE:\na=${slots}\nb={v0}\n`).join("");
    const x = d(`device_api=vfio-pci\n${sections}`);
    const { r, ms } = time(() => accepts(x, { device_api: "vfio-pci", a: "1".repeat(200), b: "2" }));
    expect(r.ok).toBe(false);
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
  });
  it("string lists of 10,000 values in many keys", () => {
    const list = Array.from({ length: 10000 }, (_, i) => `"s${i}"`).join(",");
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}=pre-{v${i}:string:${list}}-post`);
    const x = d(`device_api=vfio-pci\nCOMPATIBLE:\n${keys.join("\n")}\n`);
    const src: Record<string, string> = { device_api: "vfio-pci" };
    for (let i = 0; i < 10; i++) src[`k${i}`] = `pre-s${i * 1000}-post`;
    const { r, ms } = time(() => accepts(x, src));
    expect(r.ok).toBe(true);
    expect(ms).toBeLessThan(hangBound(HOSTILE_BOUND_MS));
  });
});

describe("properties", () => {
  const keyArb = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
  const valueArb = fc
    .string({ unit: fc.constantFrom("a", "1", ".", "-", " ", '"', "\\", ":", ",", "x", "0") })
    .filter((v) => !v.includes("{"));
  const selfArb = fc
    .dictionary(keyArb, valueArb, { maxKeys: 6 })
    .map((s) => ({ device_api: "vfio-pci", ...s }));

  it("a section built from the source's own self accepts it", () => {
    fc.assert(
      fc.property(selfArb, fc.dictionary(keyArb, valueArb, { maxKeys: 3 }), (self, destSelf) => {
        const dest: DescriptorData = {
          self: { ...destSelf, device_api: "vfio-pci" },
          compatible: [{ ...self }],
        };
        const r = accepts(dest, self);
        expect(r.ok).toBe(true);
        // and the same self as a destination without sections accepts it too
        expect(accepts({ self: { ...self }, compatible: [] }, self).ok).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts never throws on random DescriptorData and self", () => {
    const tplUnit = fc.constantFrom(
      "{",
      "}",
      ":",
      "int",
      "string",
      ",",
      "..",
      '"',
      "\\",
      "a",
      "v",
      "1",
      "-",
      "/",
      "*",
      "+",
      "2",
      "0",
      " ",
    );
    const tplArb = fc.oneof(valueArb, fc.string({ unit: tplUnit, maxLength: 30 }));
    const anyArb = fc.oneof(fc.constant(null), fc.integer(), tplArb, fc.constant({}), fc.constant([]));
    const descArb = fc.oneof(
      fc.record({
        self: fc.dictionary(
          fc.oneof(keyArb, fc.constantFrom("software_version", "device_api", "__proto__", "migratable")),
          tplArb,
        ),
        compatible: fc.array(
          fc.dictionary(
            fc.oneof(keyArb, fc.constantFrom("software_version", "interface_version", "device_api")),
            tplArb,
            {
              maxKeys: 4,
            },
          ),
          { maxLength: 3 },
        ),
      }),
      fc.record({ self: anyArb, compatible: fc.oneof(anyArb, fc.array(anyArb)) }),
      anyArb,
    );
    const srcArb = fc.oneof(
      fc.dictionary(
        fc.oneof(keyArb, fc.constantFrom("software_version", "device_api", "constructor")),
        tplArb,
      ),
      anyArb,
    );
    fc.assert(
      fc.property(descArb, srcArb, (dest, src) => {
        const r = accepts(dest as DescriptorData, src as Record<string, string>);
        expect(typeof r.ok).toBe("boolean");
        if (!r.ok) expect(r.reasons.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });
});
