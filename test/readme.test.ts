import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REASON_CODES } from "../src/reasons.js";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("starts with the two commands: set-up plus the main job, then the tests", () => {
    const block = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    const lines = block.trim().split("\n");
    expect(lines[0]).toMatch(/^npm ci && npm start/);
    expect(lines[1]).toMatch(/^npm test/);
    expect(readme).toContain("hdplan plan");
  });

  it("documents every reason code", () => {
    for (const code of Object.keys(REASON_CODES)) expect(readme).toContain(`\`${code}\``);
  });
});
