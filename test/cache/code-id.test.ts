/**
 * The code id (src/cache/code-id.ts): the hash of the module files, or the
 * build's record of it (dist/.code-id, scripts/bundle.mjs) only while every
 * module file keeps the name, size and mtime the record lists.
 */
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STAMP_FILE, codeIdOf, hashModules, moduleStamps } from "../../src/cache/code-id.js";
import { ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

function tree(): string {
  const root = tempDir("hdplan-codeid-");
  mkdirSync(join(root, "cache"));
  writeFileSync(join(root, "a.js"), "export const a = 1;\n");
  writeFileSync(join(root, "cache", "b.js"), "export const b = 2;\n");
  writeFileSync(join(root, "notes.txt"), "not a module\n");
  return root;
}
const record = (root: string, id = hashModules(root)) =>
  writeFileSync(join(root, STAMP_FILE), [id, ...moduleStamps(root)].join("\n"));

describe("code id", () => {
  it("without a record: the hash of the module files, which any module edit changes", () => {
    const root = tree();
    const before = codeIdOf(root);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    writeFileSync(join(root, "notes.txt"), "edited\n");
    expect(codeIdOf(root)).toBe(before);
    writeFileSync(join(root, "cache", "b.js"), "export const b = 3;\n");
    expect(codeIdOf(root)).not.toBe(before);
  });

  it("a record is used while it is true, and never once a module file changed, appeared or went", () => {
    const root = tree();
    // A record with a made-up id proves which answer is given.
    const forged = "f".repeat(64);
    record(root, forged);
    expect(codeIdOf(root)).toBe(forged);
    const f = join(root, "a.js");
    const st = statSync(f);
    // Same size, new content and mtime (a rebuild): hashed again. (The mtime
    // set apart explicitly: a write in the same clock tick could keep it.)
    writeFileSync(f, "export const a = 9;\n");
    utimesSync(f, st.atime, new Date(st.mtimeMs + 5000));
    expect(codeIdOf(root)).toBe(hashModules(root));
    record(root, forged);
    writeFileSync(join(root, "c.js"), "export {};\n");
    expect(codeIdOf(root)).toBe(hashModules(root));
    record(root, forged);
    writeFileSync(f, readFileSync(f, "utf8").replace("9", "10"));
    utimesSync(f, st.atime, st.mtime);
    expect(codeIdOf(root)).toBe(hashModules(root)); // size differs
    // A broken record is ignored.
    writeFileSync(join(root, STAMP_FILE), "not an id\n");
    expect(codeIdOf(root)).toBe(hashModules(root));
  });

  it("the build's record in dist/ is the hash of dist/ (npm run build, scripts/bundle.mjs)", () => {
    const dist = join(ROOT, "dist");
    const [id] = readFileSync(join(dist, STAMP_FILE), "utf8").split("\n");
    expect(id).toBe(hashModules(dist));
    expect(codeIdOf(dist)).toBe(id);
  });
});
