import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../src/reasons.js";

const ROOT = join(import.meta.dirname, "..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const reasonsDoc = readFileSync(join(ROOT, "docs/reasons.md"), "utf8");

describe("README", () => {
  it("starts with the two commands: set-up plus the main job, then the tests", () => {
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const lines = block.trim().split("\n");
    expect(lines[0]).toMatch(/^npm ci && npm start/);
    expect(lines[1]).toMatch(/^npm test/);
    expect(readme).toContain("hdplan plan");
  });

  it("has the operator's sections in order: install, walkthrough, reading the answer, limits, reference", () => {
    const at = (h: string) => readme.indexOf(`\n## ${h}`);
    const order = [
      "Install",
      "Walkthrough on your own hosts",
      "Reading the answer",
      "Scope and limits",
      "Reference",
    ];
    const pos = order.map(at);
    for (const [i, p] of pos.entries()) expect(p, order[i]).toBeGreaterThan(0);
    expect([...pos].sort((a, b) => a - b)).toEqual(pos);
    for (const s of ["full", "partial", "none", "error", "source"]) expect(readme).toContain(`| \`${s}\` |`);
  });

  it("links only to files that exist", () => {
    const links = [...readme.matchAll(/\]\(([^)#]+)\)/g)].map((m) => m[1]!).filter((l) => !l.includes("://"));
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) expect(existsSync(join(ROOT, l)), l).toBe(true);
  });
});

describe("docs/reasons.md", () => {
  it("documents every reason code", () => {
    for (const code of Object.keys(REASON_CODES)) expect(reasonsDoc).toContain(`| \`${code}\` |`);
  });

  it("is what scripts/reason-table.mjs generates from src/reasons.ts (regenerate with --write)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/reason-table.mjs"), "--check"], {
      cwd: dirname(ROOT),
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
