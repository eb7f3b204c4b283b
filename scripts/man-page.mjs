#!/usr/bin/env node
// Generates man/hdplan.1 from the commander program (dist/cli/main.js), the
// same option definitions `hdplan --help` and `hdplan completion` use.
// Usage (after npm run build):
//   node scripts/man-page.mjs           print the page
//   node scripts/man-page.mjs --write   write man/hdplan.1
//   node scripts/man-page.mjs --check   exit 1 when man/hdplan.1 is out of date
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { MAN_SECTIONS, manPage } from "../dist/cli/docgen.js";
import { buildProgram, packageVersion } from "../dist/cli/main.js";

const PAGE = new URL("../man/hdplan.1", import.meta.url);
const io = { stdout: () => {}, stderr: () => {}, stdin: () => "", isTTY: false, color: false };
const page = manPage(buildProgram(io), packageVersion(), MAN_SECTIONS);
const arg = process.argv[2];
if (arg === "--write") {
  mkdirSync(new URL("../man/", import.meta.url), { recursive: true });
  writeFileSync(PAGE, page);
} else if (arg === "--check") {
  let cur = "";
  try {
    cur = readFileSync(PAGE, "utf8");
  } catch {
    cur = "";
  }
  if (cur !== page) {
    console.error("man/hdplan.1 is out of date: run npm run build && node scripts/man-page.mjs --write");
    process.exit(1);
  }
} else process.stdout.write(page);
