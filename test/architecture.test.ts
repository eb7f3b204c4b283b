/**
 * Import structure of src/: no module imports itself back through others,
 * and matching/ (the matcher and the one evaluateHost) never reaches
 * src/pipeline.ts, so the folder graph around them has no cycle either.
 * Runtime imports only (`import type` is erased by tsc and cannot cycle at
 * run time); re-exports count.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(dirname(new URL(import.meta.url).pathname), "..", "src");

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Relative runtime imports and re-exports of one file, as src-relative paths. */
function runtimeImports(file: string, text: string): string[] {
  const out: string[] = [];
  // import x from "./a.js"; import { a, type b } from "./a.js"; export { a } from "./a.js"; import "./a.js"
  const re =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["'](\.[^"']+)["']|(?:^|\n)\s*import\s*["'](\.[^"']+)["']/g;
  for (const m of text.matchAll(re)) {
    const spec = m[4] ?? m[5];
    if (!spec || m[2]) continue; // `import type` / `export type`: erased
    const names = m[3] ?? "";
    // `import { type A, type B } from`: every name type-only, erased too
    const inner = /^\{([^}]*)\}$/.exec(names.trim())?.[1];
    const typeOnly = inner
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .every((s) => s.startsWith("type "));
    if (typeOnly) continue;
    out.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, ".ts"))));
  }
  return out;
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of tsFiles(SRC)) g.set(relative(SRC, f), runtimeImports(f, readFileSync(f, "utf8")));
  return g;
}

/** Strongly connected components with more than one node (Tarjan), or a node importing itself. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (g.get(v) ?? []).includes(v)) out.push(c.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** The folder graph: src/a/x.ts -> "a", src/pipeline.ts -> "pipeline". */
function folderGraph(g: Map<string, string[]>): Map<string, string[]> {
  const top = (f: string) => (f.includes("/") ? f.split("/")[0]! : f.replace(/\.ts$/, ""));
  const d = new Map<string, Set<string>>();
  for (const [f, deps] of g) {
    const a = top(f);
    if (!d.has(a)) d.set(a, new Set());
    for (const x of deps) if (top(x) !== a) d.get(a)!.add(top(x));
  }
  return new Map([...d].map(([k, v]) => [k, [...v]]));
}

describe("architecture: src import graph", () => {
  const g = graph();

  it("reads the graph (the walker sees the known edges)", () => {
    expect(g.size).toBeGreaterThan(50);
    expect(g.get("pipeline.ts")).toContain("matching/evaluate.ts");
    expect(g.get("matching/evaluate.ts")).toContain("matching/match.ts");
    expect(g.get("commands/hook.ts")).toContain("matching/evaluate.ts");
  });

  it("no module imports itself back (runtime imports)", () => {
    expect(cycles(g)).toEqual([]);
  });

  it("matching/ never imports src/pipeline.ts; no folder cycle through matching or pipeline", () => {
    const fromMatching = [...g].filter(
      ([f, deps]) => f.startsWith("matching/") && deps.includes("pipeline.ts"),
    );
    expect(fromMatching.map(([f]) => f)).toEqual([]);
    const folderCycles = cycles(folderGraph(g)).filter(
      (c) => c.includes("matching") || c.includes("pipeline"),
    );
    expect(folderCycles).toEqual([]);
  });

  it("the cycle finder finds a planted cycle, and ignores type-only imports", () => {
    const planted = new Map(g);
    planted.set("matching/match.ts", [...(g.get("matching/match.ts") ?? []), "pipeline.ts"]);
    expect(cycles(planted).some((c) => c.includes("pipeline.ts") && c.includes("matching/match.ts"))).toBe(
      true,
    );
    expect(cycles(folderGraph(planted)).some((c) => c.includes("matching") && c.includes("pipeline"))).toBe(
      true,
    );
    const f = join(SRC, "matching", "x.ts");
    expect(runtimeImports(f, 'import type { A } from "../pipeline.js";')).toEqual([]);
    expect(runtimeImports(f, 'import { type A, type B } from "../pipeline.js";')).toEqual([]);
    expect(runtimeImports(f, 'import { type A, b } from "../pipeline.js";')).toEqual(["pipeline.ts"]);
    expect(runtimeImports(f, 'export { a } from "./evaluate.js";')).toEqual(["matching/evaluate.ts"]);
  });
});
