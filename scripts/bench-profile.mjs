#!/usr/bin/env node
/**
 * bench-profile.mjs — summarise a V8 .cpuprofile (from `node --cpu-prof`):
 * self time aggregated by function, by file, and by coarse category (XML
 * parsing, file reading, matching, ...). Plain Node ESM, no dependencies.
 *
 * Usage:
 *   node scripts/bench-profile.mjs PROFILE.cpuprofile|DIR [--top N] [--json]
 *
 *   DIR        every *.cpuprofile in DIR is read and merged (node --cpu-prof writes one
 *              per thread: the main thread and each worker); per-thread totals are shown
 *   --top N    rows per table (default 15)
 *   --json     print the aggregates as JSON instead of tables
 *
 * Exported: summariseProfile(profileJson | profileJson[], {top, root})
 *           -> {totalMs, threads, functions, files, categories}
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(fileURLToPath(new URL("..", import.meta.url)));

/** Repo-relative path (src/..., dist/..., node_modules/...), node:... for internals. */
function shortUrl(url, root = REPO) {
  if (!url) return "";
  let p = url;
  if (p.startsWith("file://")) {
    try {
      p = fileURLToPath(p);
    } catch {
      return url;
    }
  }
  if (!p.startsWith("/")) return p;
  const nm = p.lastIndexOf("/node_modules/");
  if (nm >= 0) return p.slice(nm + 1);
  const r = relative(root, p);
  if (!r.startsWith("..")) return r;
  // A profile taken in another checkout: cut at its dist/ or src/.
  const m = /\/((?:dist|src|scripts|test)\/.*)$/.exec(p);
  return m ? m[1] : p;
}

// ---- bundles (scripts/bundle.mjs): a frame of dist/cli/main.js is mapped back
// to the dist/ module it came from through the bundle's source map.

const B64 = new Map(
  [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]),
);

/** Source map "mappings" as, per generated line, [genCol, source index, source line] triples, by column. */
function decodeMappings(mappings) {
  const lines = [];
  let src = 0;
  let srcLine = 0;
  for (const text of mappings.split(";")) {
    const segs = [];
    let genCol = 0;
    for (const seg of text.split(",")) {
      if (!seg) continue;
      const v = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const d = B64.get(ch);
        value += (d & 31) << shift;
        if (d & 32) shift += 5;
        else {
          v.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += v[0];
      if (v.length >= 4) {
        src += v[1];
        srcLine += v[2]; // v[3], the source column, is not needed
        segs.push([genCol, src, srcLine]);
      }
    }
    lines.push(segs);
  }
  return lines;
}

const maps = new Map();
/** The original url and line (0-based) of a bundle frame, or the frame as it is. */
export function unbundle(url, line, col) {
  if (!url?.startsWith("file://") || !url.endsWith(".js")) return { url, line };
  let m = maps.get(url);
  if (m === undefined) {
    m = null;
    try {
      const file = fileURLToPath(url);
      const sm = JSON.parse(readFileSync(`${file}.map`, "utf8"));
      const dir = resolve(file, "..");
      m = {
        sources: sm.sources.map((s) => pathToFileURL(resolve(dir, s)).href),
        lines: decodeMappings(sm.mappings),
      };
    } catch {
      m = null; // not a bundle
    }
    maps.set(url, m);
  }
  const segs = m?.lines[line];
  if (!segs?.length) return { url, line };
  let best = segs[0];
  for (const s of segs) {
    if (s[0] > col) break;
    best = s;
  }
  return { url: m.sources[best[1]], line: best[2] };
}

/**
 * Coarse categories, by file first and function name second. The order
 * matters: the first match wins.
 */
const FS_FUNCS =
  /^(readFileSync|openSync|closeSync|readSync|statSync|readdirSync|tryStatSync|tryReadSync|tryCreateBuffer|decode|existsSync|lstat|stat|open|close|read|readdir)$/;
const CATEGORIES = [
  { name: "GC", fn: /^\(garbage collector\)$/ },
  { name: "idle", fn: /^\(idle\)$/ },
  { name: "program/root (V8 and native, unattributed)", fn: /^\((program|root)\)$/ },
  { name: "XML validation (fast-xml-parser validator)", file: /fast-xml-parser\/.*validator/i },
  {
    name: "XML parsing (fast-xml-parser and its deps)",
    file: /fast-xml-parser|strnum|path-expression-matcher|@nodable\/entities/,
  },
  { name: "XML -> model conversion (src/xml)", file: /^(src|dist)\/xml\// },
  { name: "inventory build (src/inventory)", file: /^(src|dist)\/inventory\// },
  {
    name: "matching/ranking/candidates/descriptors",
    file: /^(src|dist)\/(matching|ranking|candidates|pipeline|descriptors)/,
  },
  { name: "reading targets (src/targets)", file: /^(src|dist)\/targets\// },
  { name: "output (src/output)", file: /^(src|dist)\/output\// },
  { name: "other hdplan code", file: /^(src|dist)\// },
  {
    name: "file system / text decoding (node internals)",
    file: /^node:(fs|internal\/fs|internal\/encoding|buffer|internal\/buffer|path)/,
  },
  { name: "file system / text decoding (node internals)", native: FS_FUNCS },
  { name: "other node internals", file: /^node:/ },
  { name: "other node_modules", file: /node_modules/ },
  { name: "regexp / native builtins", native: /./ },
];

export function categoryOf(fn, file) {
  for (const c of CATEGORIES) {
    if (c.fn?.test(fn)) return c.name;
    if (c.file?.test(file)) return c.name;
    if (c.native && file === "" && c.native.test(fn)) return c.name;
  }
  return "other";
}

export function summariseProfile(profiles, { top = 15, root = REPO } = {}) {
  const list = Array.isArray(profiles) ? profiles : [profiles];
  const selfUs = new Map(); // callFrame node -> microseconds
  const threads = [];
  for (const profile of list) {
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const { samples = [], timeDeltas = [] } = profile;
    // Sample i's time is timeDeltas[i+1] (the gap until the next sample).
    let sum = 0;
    let idle = 0;
    for (let i = 0; i < samples.length; i++) {
      const dt = Math.max(0, i + 1 < timeDeltas.length ? timeDeltas[i + 1] : 0);
      const n = nodes.get(samples[i]);
      if (!n) continue;
      selfUs.set(n, (selfUs.get(n) ?? 0) + dt);
      sum += dt;
      if (n.callFrame.functionName === "(idle)") idle += dt;
    }
    threads.push({ ms: sum / 1000, busyMs: (sum - idle) / 1000 });
  }
  let total = 0;
  const byFn = new Map();
  const byFile = new Map();
  const byCat = new Map();
  for (const [n, us] of selfUs) {
    total += us;
    const cf = n.callFrame;
    const fn = cf.functionName || "(anonymous)";
    const at = unbundle(cf.url, cf.lineNumber, cf.columnNumber);
    const file = shortUrl(at.url, root);
    const fnKey = `${fn}\u0000${file}\u0000${at.line}`;
    const e = byFn.get(fnKey) ?? { fn, file, line: at.line + 1, us: 0 };
    e.us += us;
    byFn.set(fnKey, e);
    const cat = categoryOf(fn, file);
    byCat.set(cat, (byCat.get(cat) ?? 0) + us);
    if (cat === "idle") continue;
    const fk = file || "(native)";
    byFile.set(fk, (byFile.get(fk) ?? 0) + us);
  }
  const idleUs = byCat.get("idle") ?? 0;
  const busy = total - idleUs;
  const pct = (us) => (busy ? (100 * us) / busy : 0);
  const functions = [...byFn.values()]
    .filter((e) => e.fn !== "(idle)")
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, file: e.file, line: e.line, ms: e.us / 1000, pct: pct(e.us) }));
  const files = [...byFile.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([file, us]) => ({ file, ms: us / 1000, pct: pct(us) }));
  const categories = [...byCat.entries()]
    .filter(([c]) => c !== "idle")
    .sort((a, b) => b[1] - a[1])
    .map(([category, us]) => ({ category, ms: us / 1000, pct: pct(us) }));
  return { totalMs: total / 1000, busyMs: busy / 1000, threads, functions, files, categories };
}

function table(rows) {
  const w = [];
  for (const r of rows) r.forEach((c, i) => (w[i] = Math.max(w[i] ?? 0, String(c).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? String(c) : String(c).padEnd(w[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatSummary(s) {
  const f1 = (x) => x.toFixed(1);
  const out = [];
  out.push(
    `profile: ${f1(s.totalMs)} ms sampled over ${s.threads.length} thread(s) (` +
      s.threads.map((t, i) => `#${i}: ${f1(t.ms)} ms, ${f1(t.busyMs)} busy`).join("; ") +
      `); percentages are of the ${f1(s.busyMs)} ms busy (idle left out)`,
  );
  out.push("", "self time by category:");
  out.push(
    table([
      ["%self", "ms", "category"],
      ...s.categories.map((c) => [f1(c.pct), Math.round(c.ms), c.category]),
    ]),
  );
  out.push("", `top ${s.functions.length} functions by self time:`);
  out.push(
    table([
      ["%self", "ms", "function", "file:line"],
      ...s.functions.map((e) => [
        f1(e.pct),
        Math.round(e.ms),
        e.fn,
        e.file ? `${e.file}:${e.line}` : "(native)",
      ]),
    ]),
  );
  out.push("", `top ${s.files.length} files by self time:`);
  out.push(table([["%self", "ms", "file"], ...s.files.map((e) => [f1(e.pct), Math.round(e.ms), e.file])]));
  return out.join("\n");
}

export function profilesIn(dir) {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .map((f) => join(dir, f));
  if (!files.length) throw new Error(`${dir}: no .cpuprofile files`);
  return files;
}

function main() {
  const args = process.argv.slice(2);
  let top = 15;
  let json = false;
  let target = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--top") top = Number(args[++i]);
    else if (a === "--json") json = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: node scripts/bench-profile.mjs PROFILE.cpuprofile|DIR [--top N] [--json]\n",
      );
      return;
    } else target = a;
  }
  if (!target) {
    process.stderr.write("bench-profile: give a .cpuprofile file or a directory\n");
    process.exit(2);
  }
  const files = statSync(target).isDirectory() ? profilesIn(target) : [target];
  const s = summariseProfile(
    files.map((f) => JSON.parse(readFileSync(f, "utf8"))),
    { top },
  );
  process.stdout.write(
    json ? `${JSON.stringify(s, null, 2)}\n` : `${files.join("\n")}\n${formatSummary(s)}\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
