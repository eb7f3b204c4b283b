/**
 * src/strings.ts: flatString's copy is the same text, keeps no larger
 * string alive, and is stored flat (not as a view into another string),
 * also once V8 has optimised flatString (docs/benchmarks.md "Nineteenth
 * session": V8's optimised compare does not read views).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { flatString } from "../src/strings.js";
import { distModule, runModule } from "./helpers/node-child.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Call flatString until V8 has optimised it (a hot function is compiled long before this). */
function warmUp(f: (s: string) => string): void {
  const t = "w".repeat(4096);
  let n = 0;
  for (let i = 0; i < 200_000; i++) n += f(t.slice(i % 64, (i % 64) + 40)).length;
  expect(n).toBe(200_000 * 40);
}

/** Heap and external bytes held after `keep` has kept what it made of 40 strings of 2 MB each. */
function heldAfter(keep: (s: string) => string): number {
  gc();
  const before = process.memoryUsage();
  const kept: string[] = [];
  for (let i = 0; i < 40; i++) {
    // 2 MB of one letter: V8 keeps a string this long outside the heap (external).
    const big = Buffer.alloc(2 << 20, 97 + (i % 26)).toString("latin1");
    kept.push(keep(big.slice(1000, 1040)));
  }
  gc();
  gc();
  const after = process.memoryUsage();
  expect(kept.every((s, i) => s === String.fromCharCode(97 + (i % 26)).repeat(40))).toBe(true);
  return after.heapUsed + after.external - (before.heapUsed + before.external);
}

describe("flatString", () => {
  it("returns the same text, at every length and across a surrogate pair at the cut", () => {
    const base = "pci_0000_3b_00_0 and a longer tail of text to cut";
    for (let n = 0; n <= base.length; n++) expect(flatString(base.slice(0, n))).toBe(base.slice(0, n));
    const pair = `${"a".repeat(11)}\u{1F600}${"b".repeat(20)}`; // the pair is characters 11 and 12
    expect(flatString(pair.slice(0, 30))).toBe(pair.slice(0, 30));
    const short = "0000:3b:00.0";
    expect(flatString(short)).toBe(short);
  });

  it("keeps no larger string alive, once optimised (a plain slice keeps its parent)", () => {
    warmUp(flatString);
    expect(heldAfter(flatString)).toBeLessThan(16 << 20);
    // The premise: a slice of 40 characters keeps its 2 MB parent, so the check above can fail.
    expect(heldAfter((s) => s)).toBeGreaterThan(64 << 20);
  });

  it("is stored flat, not as a view into another string (V8's own %DebugPrint)", () => {
    const r = runModule(
      ["--allow-natives-syntax"],
      [
        `import { flatString } from ${distModule("strings.js")};`,
        `const t = "x".repeat(4096);`,
        "let n = 0;",
        "for (let i = 0; i < 200000; i++) n += flatString(t.slice(i % 64, (i % 64) + 40)).length;",
        "%DebugPrint(t.slice(10, 60));",
        "%DebugPrint(flatString(t.slice(10, 60)));",
        "%DebugPrint(flatString(t.slice(10, 22)));",
      ],
    );
    expect(r.status, r.stderr).toBe(0);
    const types = [...r.stdout.matchAll(/^ - type: (\S+)$/gm)].map((m) => m[1]);
    // The premise: a slice of 50 characters is a view (SLICED); flatString's copy is not.
    expect(types).toHaveLength(3);
    expect(types[0]).toBe("SLICED_ONE_BYTE_STRING_TYPE");
    expect(types[1]).not.toMatch(/SLICED/);
    expect(types[2]).not.toMatch(/SLICED/);
  });
});
