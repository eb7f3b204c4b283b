/**
 * src/slots.ts: a value kept on the object itself. What a WeakMap entry
 * gave: the value of that very object, none for a copy of it; and what it
 * did not: a value that dies with its object in the young generation
 * (docs/benchmarks.md "Nineteenth session").
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostIndex } from "../src/candidates/hostindex.js";
import { DescriptorSelector } from "../src/descriptors/sources.js";
import { buildInventory } from "../src/inventory/build.js";
import { Slot } from "../src/slots.js";
import { readDumpDir } from "../src/targets/dump.js";
import { ROOT } from "./helpers/cli.js";
import { distModule, runModule } from "./helpers/node-child.js";

describe("Slot", () => {
  it("keeps a value per object, replaced by a second set, apart from other slots", () => {
    const a = new Slot<object, number>("a");
    const b = new Slot<object, string>("b");
    const o = { x: 1 };
    const p = { x: 1 };
    expect(a.get(o)).toBeUndefined();
    a.set(o, 1);
    b.set(o, "one");
    a.set(p, 2);
    expect([a.get(o), b.get(o), a.get(p), b.get(p)]).toEqual([1, "one", 2, undefined]);
    a.set(o, 3);
    expect(a.get(o)).toBe(3);
  });

  it("is invisible to the object's data: keys, for...in, JSON, copies and clones leave it out", () => {
    const s = new Slot<Record<string, unknown>, object>("s");
    const o: Record<string, unknown> = { key: "host-a", devices: [] };
    s.set(o, { big: true });
    expect(Object.keys(o)).toEqual(["key", "devices"]);
    const seen: string[] = [];
    for (const k in o) seen.push(k);
    expect(seen).toEqual(["key", "devices"]);
    expect(JSON.stringify(o)).toBe('{"key":"host-a","devices":[]}');
    // A copy stands for another object: it has no value, as it had no WeakMap entry.
    expect(s.get({ ...o })).toBeUndefined();
    expect(s.get(Object.assign({}, o))).toBeUndefined();
    expect(s.get(structuredClone(o))).toBeUndefined();
    expect(o).toEqual({ key: "host-a", devices: [] });
  });

  it("gives each inventory its own host index, one per selector, none to a copy", () => {
    const dir = join(ROOT, "xml-samples/hosts/host-a");
    const inv = buildInventory(readDumpDir(dir, "host-a", dir));
    const sel = new DescriptorSelector([]);
    const other = new DescriptorSelector([]);
    const idx = hostIndex(sel, inv);
    expect(hostIndex(sel, inv)).toBe(idx);
    expect(hostIndex(other, inv)).not.toBe(idx);
    expect(hostIndex(sel, inv)).toBe(idx);
    expect(hostIndex(sel, { ...inv })).not.toBe(idx);
  });

  /**
   * In a fresh process: 3,000 short-lived keys, each with a value of 2,000
   * objects, kept in a WeakMap (old, as a module's is) or in a Slot; how
   * many full mark-compacts V8 ran (v8.GCProfiler).
   */
  function fullGCs(store: "slot" | "weakmap"): number {
    const r = runModule(
      ["--expose-gc"],
      [
        `import { Slot } from ${distModule("slots.js")};`,
        `import { GCProfiler } from "node:v8";`,
        "const wm = new WeakMap();",
        `const slot = new Slot("t");`,
        "gc(); gc();",
        "const p = new GCProfiler();",
        "p.start();",
        "let n = 0;",
        "for (let h = 0; h < 3000; h++) {",
        "  const key = { h };",
        "  const value = [];",
        "  for (let j = 0; j < 2000; j++) value.push({ a: j, b: String(j) });",
        `  if (${JSON.stringify(store)} === "weakmap") { wm.set(key, value); n += wm.get(key).length; }`,
        "  else { slot.set(key, value); n += slot.get(key).length; }",
        "}",
        'const full = p.stop().statistics.filter((s) => s.gcType === "MarkSweepCompact").length;',
        "console.log(JSON.stringify({ n, full }));",
      ],
    );
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { n: number; full: number };
    expect(out.n).toBe(3000 * 2000);
    return out.full;
  }

  it("lets a value die young with its object (a WeakMap's values wait for full GCs)", () => {
    expect(fullGCs("slot")).toBeLessThanOrEqual(1);
    // The premise: the same values in a WeakMap of the module's survive the scavenges.
    expect(fullGCs("weakmap")).toBeGreaterThanOrEqual(3);
  });
});
