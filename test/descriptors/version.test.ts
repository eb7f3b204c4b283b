import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkLegacyMajors,
  checkVersionItem,
  isRangeExpression,
  parseVersion,
  versionAccepts,
} from "../../src/descriptors/version.js";

const ok = (d: string, s: string) => checkVersionItem("software_version", d, s) === null;
const code = (d: string, s: string) => checkVersionItem("software_version", d, s)?.code ?? null;

describe("version rule", () => {
  it("parses MAJOR[.MINOR[.BUGFIX]] with missing parts 0", () => {
    expect(parseVersion("3")).toEqual({ major: 3n, minor: 0n, bugfix: 0n });
    expect(parseVersion("1.2")).toEqual({ major: 1n, minor: 2n, bugfix: 0n });
    expect(parseVersion(" 1.2.3 ")).toEqual({ major: 1n, minor: 2n, bugfix: 3n });
    for (const bad of ["", "1.", "v1", "1.2.3.4", "1.x", "-1", "1.2-rc1"])
      expect(parseVersion(bad)).toBeNull();
  });
  it("examples of compat.md §3", () => {
    expect(ok("0.1.0", "0.0.0")).toBe(true); // 0.0.0 -> 0.1.0
    expect(code("0.0.0", "0.1.0")).toBe("version-minor-too-old"); // 0.1.0 -> 0.0.0
    expect(code("1.0.0", "0.2.0")).toBe("version-major-mismatch"); // 0.2.0 -> 1.0.0
    expect(ok("1.2.0", "1.2.9")).toBe(true); // bugfix invisible
    expect(ok("1.2", "1.2.0")).toBe(true);
  });
  it("detects range expressions", () => {
    for (const r of [">=1.2", "<2", "=1.0.0", "^1.2", "~1.2", "1.2 || 2.0", "1.2 - 1.4"])
      expect(isRangeExpression(r)).toBe(true);
    for (const r of ["1.2.3", "3", "abc"]) expect(isRangeExpression(r)).toBe(false);
  });
  it("ranges use semver.satisfies on the filled-in source", () => {
    expect(ok(">=1.2 <2", "1.2")).toBe(true); // semver alone says no to "1.2"
    expect(ok("^1.2", "1")).toBe(false);
    expect(ok("^1.2", "1.9")).toBe(true);
    expect(ok("~1.2", "1.2.5")).toBe(true);
    expect(code("~1.2", "1.3")).toBe("version-out-of-range");
    expect(ok("1.0 || 3.x", "3.4")).toBe(true);
    expect(ok("1.0.0 - 1.4", "1.4.7")).toBe(true);
    expect(ok("^0.2", "0.2.5")).toBe(true);
    expect(ok("^0.2", "0.3")).toBe(false); // semver caret on 0.x, as written by the operator
  });
  it("legacy integer lists: accepted majors, minor rule when the destination has the same major", () => {
    const has = (m: bigint) => m === 2n || m === 3n;
    const c = (s: string, self?: string) =>
      checkLegacyMajors("interface_version", has, "2, 3", s, self, "{v:int:2,3}")?.code ?? null;
    expect(c("3")).toBeNull();
    expect(c("3.7")).toBeNull(); // no own version to compare minors with
    expect(c("4")).toBe("version-major-mismatch");
    expect(c("3.2", "3.1")).toBe("version-minor-too-old");
    expect(c("3.2", "3.2")).toBeNull();
    expect(c("3.2", "2.9")).toBeNull(); // different major: only the list applies
    expect(c("3.0", "3.0")).toBeNull();
    expect(c("x")).toBe("field-mismatch");
  });

  const vArb = fc.record({ major: fc.bigInt(0n, 5n), minor: fc.bigInt(0n, 5n), bugfix: fc.bigInt(0n, 5n) });
  it("property: acceptance is reflexive", () => {
    fc.assert(
      fc.property(vArb, (v) => versionAccepts(v, v)),
      { numRuns: 300 },
    );
  });
  it("property: acceptance is transitive within a major", () => {
    fc.assert(
      fc.property(vArb, vArb, vArb, (a, b, c) => {
        b = { ...b, major: a.major };
        c = { ...c, major: a.major };
        if (versionAccepts(b, a) && versionAccepts(c, b)) expect(versionAccepts(c, a)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
  it("property: checkVersionItem agrees with versionAccepts on plain versions", () => {
    fc.assert(
      fc.property(vArb, vArb, (d, s) => {
        const f = (v: typeof d) => `${v.major}.${v.minor}.${v.bugfix}`;
        expect(ok(f(d), f(s))).toBe(versionAccepts(d, s));
      }),
      { numRuns: 500 },
    );
  });
});
