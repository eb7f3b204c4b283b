#!/usr/bin/env node
// Prints the README's reason-code table from src/reasons.ts (via dist/).
// Usage: npm run build && node scripts/reason-table.mjs
import { REASON_CODES } from "../dist/reasons.js";

const order = ["host", "device", "descriptor", "warning"];
const title = {
  host: "host",
  device: "device",
  descriptor: "descriptor (nested in descriptor-mismatch)",
  warning: "warning",
};
const rows = Object.entries(REASON_CODES).sort(
  ([a, x], [b, y]) => order.indexOf(x.level) - order.indexOf(y.level) || (a < b ? -1 : 1),
);
console.log("| code | level | what an operator can do |");
console.log("|---|---|---|");
for (const [code, info] of rows) console.log(`| \`${code}\` | ${title[info.level]} | ${info.advice} |`);
