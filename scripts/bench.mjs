#!/usr/bin/env node
/**
 * bench.mjs — `npm run bench`: hdplan on the operators' layout against a
 * parse-only baseline of the same files measured in the same run (issue 14).
 * Plain Node ESM; needs python3 with lxml (Debian python3-lxml) for the
 * baseline. Builds dist/ first when it is missing or older than src/, and
 * generates its fleets (scripts/gen-fleet.mjs) under a tmp dir, so it runs on
 * a fresh clone.
 *
 * Usage:
 *   node scripts/bench.mjs [--quick] [--repeat R] [--hosts N] [--sizes A,B,C]
 *        [--layouts all,per-device] [--growth-layout L] [--no-evacuate] [--no-growth]
 *        [--workers-table] [--workers-sizes A,B] [--json FILE] [--cache DIR] [--seed S] [--profile]
 *
 *   --quick           300 hosts, growth over 100/300, 3 runs (a development run, minutes)
 *   --repeat R        alternating runs per figure, the median is kept (default 3, at least 3
 *                     unless --quick)
 *   --hosts N         target hosts of the plan/evacuate figures (default 1000)
 *   --sizes A,B,C     host counts of the growth exponent (default 100,1000,5000)
 *   --layouts L,M     nodedev/ layouts measured (default all,per-device): all = one
 *                     nodedev/all.xml per host (the dump recipe of docs/targets.md),
 *                     per-device = one file per device
 *   --growth-layout L layout of the growth and 100-host figures (default all)
 *   --workers-table   only measure plan with HDPLAN_WORKERS=0 vs 2 (both layouts,
 *                     --workers-sizes, default 50,100,200,400,1000; --workers-cache off,warm:
 *                     --no-cache and a warm inventory cache)
 *   --json FILE       also write every figure as JSON
 *   --cache DIR       where fleets are generated and kept between runs
 *                     (default $TMPDIR/hdplan-bench; keyed by parameters and generator hash)
 *   --seed S          fleet seed (default 42)
 *   --generate-only   only generate (or find) the fleets the other options need, then exit
 *   --profile         also run the cold plan of the first layout once under `node --cpu-prof`
 *                     and summarise it (scripts/bench-profile.mjs; profiles in $TMPDIR/hdplan-prof)
 *
 * Every figure is the whole-process wall time of `node dist/cli/main.js ... --format json`
 * (Node start included) and of `python3 scripts/bench-lxml-baseline.py` over the same
 * XML files (Python start included), run alternately (baseline, hdplan, baseline, ...);
 * the median of each, and their ratio. Peak RSS: the child's own
 * process.resourceUsage().maxRSS (an --import hook writes it at exit; worker threads
 * share the process) and Python's getrusage(RUSAGE_SELF).ru_maxrss.
 * Cache modes: cold = a fresh empty XDG_CACHE_HOME each run (the cache is written);
 * warm = the same XDG_CACHE_HOME after one untimed priming run.
 * Goals (issue 14): plan 1,000 hosts cold <= 1.0x lxml, warm <= 0.25x, evacuate 40 VMs
 * onto 1,000 hosts <= 1.5x, peak RSS < 512 MiB, 100 hosts < 1 s, growth exponent <= 1.05.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeEvacSource } from "./bench-evac-source.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO, "dist", "cli", "main.js");
const GEN = join(REPO, "scripts", "gen-fleet.mjs");
const PY_BASELINE = join(REPO, "scripts", "bench-lxml-baseline.py");
const T_START = performance.now();
const MiB = 1024;

// ---------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = {
    quick: false,
    seed: 42,
    repeat: null,
    hosts: null,
    sizes: null,
    layouts: ["all", "per-device"],
    growthLayout: "all",
    evacuate: true,
    growth: true,
    workersTable: false,
    workersSizes: [50, 100, 200, 400, 1000],
    workersCache: ["off", "warm"],
    json: null,
    cache: join(tmpdir(), "hdplan-bench"),
  };
  const ints = (v) => v.split(",").map((s) => Number.parseInt(s, 10));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--seed") o.seed = Number.parseInt(val(), 10);
    else if (a === "--repeat") o.repeat = Number.parseInt(val(), 10);
    else if (a === "--hosts") o.hosts = Number.parseInt(val(), 10);
    else if (a === "--sizes") o.sizes = ints(val());
    else if (a === "--layouts") o.layouts = val().split(",");
    else if (a === "--growth-layout") o.growthLayout = val();
    else if (a === "--no-evacuate") o.evacuate = false;
    else if (a === "--no-growth") o.growth = false;
    else if (a === "--workers-table") o.workersTable = true;
    else if (a === "--workers-sizes") o.workersSizes = ints(val());
    else if (a === "--workers-cache") o.workersCache = val().split(",");
    else if (a === "--json") o.json = resolve(val());
    else if (a === "--cache") o.cache = resolve(val());
    else if (a === "--profile") o.profile = true;
    else if (a === "--generate-only") o.generateOnly = true;
    else if (a === "--help" || a === "-h") o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  o.hosts ??= o.quick ? 300 : 1000;
  o.sizes ??= o.quick ? [100, 300] : [100, 1000, 5000];
  o.repeat ??= 3;
  if (!o.quick && o.repeat < 3) throw new Error("--repeat must be at least 3 (medians of 3) unless --quick");
  for (const l of [...o.layouts, o.growthLayout])
    if (l !== "all" && l !== "per-device") throw new Error(`unknown layout ${l} (all or per-device)`);
  if (![o.seed, o.hosts, o.repeat, ...o.sizes, ...o.workersSizes].every((n) => Number.isInteger(n) && n > 0))
    throw new Error("--seed, --repeat, --hosts, --sizes and --workers-sizes take positive integers");
  o.sizes = [...new Set(o.sizes)].sort((a, b) => a - b);
  return o;
}

// ---------------------------------------------------------------------------
// Small helpers

const log = (s = "") => process.stdout.write(`${s}\n`);
const note = (s) => process.stdout.write(`  .. ${s}\n`);
const sec = (ms) => (ms == null ? "n/a" : `${(ms / 1000).toFixed(2)} s`);
const mib = (kb) => (kb == null ? "n/a" : `${(kb / MiB).toFixed(0)} MiB`);
const fx = (r) => (r == null || !Number.isFinite(r) ? "n/a" : `${r.toFixed(2)}x`);
const sha8 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 8);
const hostKey = (i) => `host-${String(i).padStart(4, "0")}`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function cmdOut(cmd, args) {
  try {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return r.status === 0 ? r.stdout.trim() : null;
  } catch {
    return null;
  }
}

function loadavg() {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

function machine() {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1].trim();
  } catch {}
  const rev = cmdOut("git", ["-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty = rev && cmdOut("git", ["-C", REPO, "status", "--porcelain", "--untracked-files=no"]);
  return {
    nproc: cmdOut("nproc", []) ?? String(cpus().length),
    model,
    memGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: cmdOut("uname", ["-r"]) ?? "?",
    commit: rev ? `${rev}${dirty ? " (modified tree)" : ""}` : "unknown",
  };
}

function newestMtime(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds dist/ (tsc) when it is missing or older than src/. */
function ensureBuilt() {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(join(REPO, "src"))) return;
  note("building dist/ (npm run build)");
  const r = spawnSync("npm", ["run", "build"], { cwd: REPO, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("npm run build failed (run npm ci first)");
}

// ---------------------------------------------------------------------------
// Timing child processes: wall time and the child's own peak RSS

const CTX = { opts: null, work: null, python: null, rssHook: null, seq: 0 };

/**
 * Runs cmd args with stdout to `outFile`; returns {ms, rssKb, code, stderr}.
 * hdplan children get `--import RSS_HOOK` (writes process.resourceUsage().maxRSS
 * to $HDPLAN_BENCH_RSS at exit); for other children rssKb is null.
 */
function timed(cmd, args, { outFile = "/dev/null", env = {}, node = false } = {}) {
  return new Promise((ok) => {
    const rssFile = join(CTX.work, `rss-${CTX.seq++}.txt`);
    const a = node ? ["--import", CTX.rssHook, ...args] : args;
    const fd = openSync(outFile, "w");
    const t0 = performance.now();
    const child = spawn(cmd, a, {
      stdio: ["ignore", fd, "pipe"],
      env: { ...process.env, ...env, HDPLAN_BENCH_RSS: rssFile },
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      if (stderr.length < 20000) stderr += d;
    });
    child.on("close", (code, signal) => {
      const ms = performance.now() - t0;
      closeSync(fd);
      let rssKb = null;
      let cpuMs = null;
      if (node) {
        try {
          const [rss, user, sys] = readFileSync(rssFile, "utf8").split(" ").map(Number);
          rssKb = rss || null;
          cpuMs = (user + sys) / 1000;
        } catch {}
        rmSync(rssFile, { force: true });
      }
      ok({ ms, rssKb, cpuMs, code: code ?? 128, signal, stderr });
    });
  });
}

function failLine(label, r) {
  log(`  !! ${label}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""}`);
  if (r.stderr)
    log(
      r.stderr
        .trim()
        .split("\n")
        .slice(-6)
        .map((l) => `     ${l}`)
        .join("\n"),
    );
}

// ---------------------------------------------------------------------------
// Python + lxml baseline

function findPython() {
  for (const py of ["python3", "/usr/bin/python3", "/usr/local/bin/python3"]) {
    const r = spawnSync(
      py,
      ["-c", "import lxml.etree as e, sys; print(e.__version__, sys.version.split()[0])"],
      {
        encoding: "utf8",
      },
    );
    if (r.status === 0) {
      const [lxml, python] = r.stdout.trim().split(" ");
      return { py, lxml, python };
    }
  }
  return null;
}

function baselineList(label, paths) {
  const list = join(CTX.work, `py-${label}.txt`);
  writeFileSync(list, `${paths.join("\n")}\n`);
  return list;
}

async function pyRun(list) {
  const outFile = join(CTX.work, "py-out.json");
  const r = await timed(CTX.python.py, [PY_BASELINE, "dump", list], { outFile });
  if (r.code !== 0) {
    failLine("python baseline", r);
    return null;
  }
  const inner = JSON.parse(readFileSync(outFile, "utf8"));
  return { ms: r.ms, rssKb: inner.maxRssKb, inner };
}

// ---------------------------------------------------------------------------
// Fleets

const GEN_PARAMS = { gpus: 4, nics: 2, vfs: 16, old: 0.2, domains: 2, noise: 120 };

function genArgs(out, hosts, layout) {
  const p = GEN_PARAMS;
  return [
    "--out",
    out,
    "--hosts",
    String(hosts),
    "--gpus-per-host",
    String(p.gpus),
    "--nics-per-host",
    String(p.nics),
    "--vfs-per-nic",
    String(p.vfs),
    "--old-fraction",
    String(p.old),
    "--domains-per-host",
    String(p.domains),
    "--noise",
    String(p.noise),
    "--seed",
    String(CTX.opts.seed),
    "--layout",
    layout,
  ];
}

/** A cached fleet of at least `hosts` hosts (source included) in `layout`, generated if missing. */
function ensureFleet(hosts, layout) {
  const p = GEN_PARAMS;
  const gen = sha8(GEN);
  const evacGen = sha8(join(REPO, "scripts", "bench-evac-source.mjs"));
  const prefix = `fleet-${layout}-g${p.gpus}-n${p.nics}-v${p.vfs}-o${p.old}-d${p.domains}-z${p.noise}-s${CTX.opts.seed}-${gen}${evacGen}`;
  mkdirSync(CTX.opts.cache, { recursive: true });
  for (const name of readdirSync(CTX.opts.cache)) {
    const m = new RegExp(`^${prefix}-h(\\d+)$`).exec(name);
    const dir = join(CTX.opts.cache, name);
    if (m && Number(m[1]) >= hosts && existsSync(join(dir, ".complete"))) {
      note(`fleet ${layout}: cached ${dir}`);
      return { dir, hosts: Number(m[1]), layout };
    }
  }
  const dir = join(CTX.opts.cache, `${prefix}-h${hosts}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  note(`fleet ${layout}: generating ${hosts} hosts into ${dir} (kept for later runs)`);
  const r = spawnSync(process.execPath, [GEN, ...genArgs(tmp, hosts, layout)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gen-fleet failed: ${r.stderr}`);
  const ev = writeEvacSource(join(tmp, "evac-source", "host-evac"), { seed: CTX.opts.seed, layout });
  writeFileSync(join(tmp, "evac-source.json"), JSON.stringify(ev));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(join(dir, ".complete"), r.stderr);
  note(
    `fleet ${layout}: ${r.stderr.trim().replace(/ in \S+ \(/, " (")}; ${sec(performance.now() - t0)} in all`,
  );
  return { dir, hosts, layout };
}

const targetDir = (fleet, i) => join(fleet.dir, "hosts", hostKey(i));

function hostsFile(fleet, n) {
  const lines = [];
  for (let i = 2; i <= n + 1; i++) lines.push(targetDir(fleet, i));
  const f = join(CTX.work, `hosts-${fleet.layout}-${n}.txt`);
  writeFileSync(f, `${lines.join("\n")}\n`);
  return f;
}

/** Reads every file under `paths` once so both sides see a warm page cache. */
function warmPageCache(paths) {
  let bytes = 0;
  let files = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else {
      bytes += readFileSync(p).length;
      files++;
    }
  };
  for (const p of paths) walk(p);
  return { files, bytes };
}

// ---------------------------------------------------------------------------
// One figure: alternating baseline / hdplan runs, medians

/**
 * `job`: {label, args (after CLI), baselinePaths, cache: "cold"|"warm"|"off", env}.
 * Returns {label, hdplanMs, baselineMs, ratio, rssKb, baselineRssKb, runs, exit, bytes, files}.
 */
async function figure(job, repeat = CTX.opts.repeat) {
  const list = job.baselinePaths ? baselineList(job.key, job.baselinePaths) : null;
  const pg = job.baselinePaths ? warmPageCache(job.baselinePaths) : null;
  const cacheRoot = join(CTX.work, `xdg-${job.key}`);
  const env = { ...(job.env ?? {}) };
  const args = [CLI, ...job.args, "--format", "json"];
  if (job.cache === "off") args.push("--no-cache");
  const outFile = join(CTX.work, `out-${job.key}.json`);
  const runHd = async (i) => {
    const xdg = job.cache === "cold" ? `${cacheRoot}-${i}` : cacheRoot;
    if (job.cache === "cold") rmSync(xdg, { recursive: true, force: true });
    mkdirSync(xdg, { recursive: true });
    const r = await timed(process.execPath, args, {
      outFile,
      env: { ...env, XDG_CACHE_HOME: xdg },
      node: true,
    });
    if (job.cache === "cold") rmSync(xdg, { recursive: true, force: true });
    return r;
  };
  if (job.cache === "warm") {
    rmSync(cacheRoot, { recursive: true, force: true });
    const p = await runHd("prime");
    if (![0, 1, 4].includes(p.code)) {
      failLine(`${job.label} (priming run)`, p);
      return null;
    }
  }
  const hd = [];
  const py = [];
  for (let i = 0; i < repeat; i++) {
    if (list && CTX.python) {
      const b = await pyRun(list);
      if (b) py.push(b);
    }
    const r = await runHd(i);
    if (![0, 1, 4].includes(r.code)) {
      failLine(job.label, r);
      return null;
    }
    hd.push(r);
  }
  rmSync(cacheRoot, { recursive: true, force: true });
  const hdplanMs = median(hd.map((r) => r.ms));
  const baselineMs = py.length ? median(py.map((r) => r.ms)) : null;
  const res = {
    key: job.key,
    label: job.label,
    hdplanMs,
    cpuMs: median(hd.map((r) => r.cpuMs ?? 0)),
    baselineMs,
    ratio: baselineMs ? hdplanMs / baselineMs : null,
    rssKb: Math.max(...hd.map((r) => r.rssKb ?? 0)) || null,
    baselineRssKb: py.length ? Math.max(...py.map((r) => r.rssKb ?? 0)) : null,
    runsMs: hd.map((r) => Math.round(r.ms)),
    baselineRunsMs: py.map((r) => Math.round(r.ms)),
    exit: hd[0].code,
    files: pg?.files,
    bytes: pg?.bytes,
  };
  note(
    `${job.label}: ${sec(hdplanMs)} (runs ${res.runsMs.join("/")} ms), baseline ${sec(baselineMs)} ` +
      `(runs ${res.baselineRunsMs.join("/")} ms) = ${fx(res.ratio)}; peak RSS ${mib(res.rssKb)} ` +
      `(baseline ${mib(res.baselineRssKb)}); exit ${res.exit}`,
  );
  return res;
}

function lsqFit(points) {
  const xs = points.map((p) => Math.log(p.n));
  const ys = points.map((p) => Math.log(p.ms));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  return { k: sxx ? sxy / sxx : Number.NaN, r2: sxx && syy ? (sxy * sxy) / (sxx * syy) : 1 };
}

/**
 * Each further host's wall time between the two largest growth sizes, for
 * hdplan and the baseline, and what is left at zero hosts on that line (the
 * start and warm-up): it tells a cost a host pays from one a run pays.
 * `points` are in size order, one a size (o.sizes is sorted and deduplicated).
 */
function marginal(points) {
  const [a, b] = points.slice(-2);
  if (!a || !b || a.baselineMs == null || b.baselineMs == null) return null;
  const msPerHost = (b.ms - a.ms) / (b.n - a.n);
  const baselineMsPerHost = (b.baselineMs - a.baselineMs) / (b.n - a.n);
  return {
    from: a.n,
    to: b.n,
    msPerHost,
    baselineMsPerHost,
    ratio: baselineMsPerHost > 0 ? msPerHost / baselineMsPerHost : Number.NaN,
    interceptMs: a.ms - msPerHost * a.n,
    baselineInterceptMs: a.baselineMs - baselineMsPerHost * a.n,
  };
}

// ---------------------------------------------------------------------------
// Jobs

function planJob(fleet, n, cache, extra = {}) {
  const src = targetDir(fleet, 1);
  const paths = [join(fleet.dir, "vm.xml"), src];
  for (let i = 2; i <= n + 1; i++) paths.push(targetDir(fleet, i));
  return {
    key: `plan-${fleet.layout}-${n}-${cache}${extra.suffix ?? ""}`,
    label: `plan, ${fleet.layout}, ${n} hosts, cache ${cache}${extra.what ?? ""}`,
    args: [
      "plan",
      "--domain",
      join(fleet.dir, "vm.xml"),
      "--source",
      src,
      "--hosts-file",
      hostsFile(fleet, n),
    ],
    baselinePaths: extra.noBaseline ? null : paths,
    cache,
    env: extra.env,
  };
}

function evacJob(fleet, n, cache) {
  const src = join(fleet.dir, "evac-source", "host-evac");
  const paths = [src];
  for (let i = 2; i <= n + 1; i++) paths.push(targetDir(fleet, i));
  return {
    key: `evac-${fleet.layout}-${n}-${cache}`,
    label: `evacuate 40 VMs, ${fleet.layout}, ${n} hosts, cache ${cache}`,
    args: ["evacuate", "--source", src, "--hosts-file", hostsFile(fleet, n)],
    baselinePaths: paths,
    cache,
  };
}

async function workersTable(o) {
  const rows = [];
  const maxN = Math.max(...o.workersSizes);
  for (const layout of o.layouts) {
    const fleet = ensureFleet(maxN + 1, layout);
    for (const n of o.workersSizes) {
      const row = { layout, n };
      for (const cache of o.workersCache) {
        for (const w of ["0", "2"]) {
          const r = await figure(
            planJob(fleet, n, cache, {
              env: { HDPLAN_WORKERS: w },
              suffix: `-w${w}`,
              what: `, HDPLAN_WORKERS=${w}`,
              noBaseline: true,
            }),
          );
          row[`${cache}-w${w}`] = r?.hdplanMs ?? null;
          row[`${cache}-w${w}-cpu`] = r?.cpuMs ?? null;
          row.bytes = row.bytes ?? r?.bytes;
        }
      }
      const b = warmPageCache([
        join(fleet.dir, "vm.xml"),
        ...Array.from({ length: n + 1 }, (_, k) => targetDir(fleet, k + 1)),
      ]);
      row.bytes = b.bytes;
      row.files = b.files;
      rows.push(row);
    }
  }
  const lines = [
    `workers: plan, median of ${o.repeat}, whole process; wall ms (CPU ms = user+sys of all threads); off = --no-cache, warm = warm inventory cache`,
    `| layout | hosts | XML MiB | files | ${o.workersCache.map((c) => `${c}, 0 workers | ${c}, 2 workers | 2 vs 0`).join(" | ")} |`,
    `|---|---|---|---|${o.workersCache.map(() => "---|---|---|").join("")}`,
  ];
  for (const r of rows) {
    const pct = (a, b) => (a && b ? `${(((b - a) / a) * 100).toFixed(0)}%` : "n/a");
    const ms = (x) => (x == null ? "n/a" : String(Math.round(x)));
    const cells = o.workersCache.map((c) => {
      const [a, b] = [r[`${c}-w0`], r[`${c}-w2`]];
      const cpu = (k) => (r[k] == null ? "" : ` (${ms(r[k])})`);
      return `${ms(a)}${cpu(`${c}-w0-cpu`)} | ${ms(b)}${cpu(`${c}-w2-cpu`)} | ${pct(a, b)}`;
    });
    lines.push(
      `| ${r.layout} | ${r.n} | ${(r.bytes / 2 ** 20).toFixed(1)} | ${r.files} | ${cells.join(" | ")} |`,
    );
  }
  return { rows, text: lines.join("\n") };
}

// ---------------------------------------------------------------------------

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(
      readFileSync(fileURLToPath(import.meta.url), "utf8")
        .split("*/")[0]
        .replace(/^#!.*\n\/\*\*\n/, ""),
    );
    return;
  }
  CTX.opts = o;
  const load0 = loadavg();
  mkdirSync(o.cache, { recursive: true });
  CTX.work = mkdtempSync(join(o.cache, "run-"));
  CTX.rssHook = join(CTX.work, "rss-hook.mjs");
  writeFileSync(
    CTX.rssHook,
    'import { writeFileSync } from "node:fs";\n' +
      'process.on("exit", () => { const f = process.env.HDPLAN_BENCH_RSS; if (f) try { const u = process.resourceUsage(); writeFileSync(f, [u.maxRSS, u.userCPUTime, u.systemCPUTime].join(" ")); } catch {} });\n',
  );
  try {
    ensureBuilt();
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(2);
  }
  const m = machine();
  log(
    `hdplan bench — ${o.quick ? "quick" : "full"} run, seed ${o.seed}, median of ${o.repeat} alternating runs`,
  );
  log(
    `machine: ${m.nproc} CPUs (${m.model}), ${m.memGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}, hdplan ${m.commit}`,
  );
  log(`load average ${load0} (other work on this machine skews every timing)`);
  CTX.python = findPython();
  note(
    CTX.python
      ? `baseline: ${CTX.python.py} (Python ${CTX.python.python}, lxml ${CTX.python.lxml})`
      : "baseline UNAVAILABLE: no python3 with lxml (apt-get install python3-lxml); no ratios",
  );
  note("peak RSS: the child's process.resourceUsage().maxRSS (--import hook), Python's ru_maxrss");

  if (o.workersTable) {
    const t = await workersTable(o);
    log();
    log(t.text);
    if (o.json) writeFileSync(o.json, `${JSON.stringify({ machine: m, load0, workers: t.rows }, null, 2)}\n`);
    rmSync(CTX.work, { recursive: true, force: true });
    return;
  }

  const N = o.hosts;
  const figures = {};
  const fleets = {};
  for (const layout of o.layouts) {
    const need = Math.max(N, ...(o.growth && layout === o.growthLayout ? o.sizes : [])) + 1;
    fleets[layout] = ensureFleet(need, layout);
  }
  if (o.growth && !fleets[o.growthLayout])
    fleets[o.growthLayout] = ensureFleet(Math.max(N, ...o.sizes) + 1, o.growthLayout);
  if (o.generateOnly) {
    rmSync(CTX.work, { recursive: true, force: true });
    return;
  }

  for (const layout of o.layouts) {
    const f = fleets[layout];
    log();
    log(`layout ${layout}: plan (1 VM x 8 devices) and evacuate (40 VMs) onto ${N} hosts`);
    figures[`plan-cold-${layout}`] = await figure(planJob(f, N, "cold"));
    figures[`plan-warm-${layout}`] = await figure(planJob(f, N, "warm"));
    if (o.evacuate) figures[`evac-cold-${layout}`] = await figure(evacJob(f, N, "cold"));
  }
  const growth = [];
  if (o.growth) {
    log();
    log(`growth: plan, cache cold, ${o.growthLayout} layout, ${o.sizes.join(" / ")} hosts`);
    const f = fleets[o.growthLayout];
    for (const n of o.sizes) {
      const have = n === N ? figures[`plan-cold-${o.growthLayout}`] : null;
      const r = have ?? (await figure(planJob(f, n, "cold")));
      if (have) note(`${n} hosts: the figure above`);
      if (r) growth.push({ n, ms: r.hdplanMs, baselineMs: r.baselineMs, rssKb: r.rssKb });
      if (n === 100) figures.hosts100 = r;
    }
  }
  if (!figures.hosts100) {
    log();
    figures.hosts100 = await figure(planJob(fleets[o.growthLayout] ?? fleets[o.layouts[0]], 100, "cold"));
  }
  const g = growth.length >= 2 ? lsqFit(growth) : null;
  const mg = marginal(growth);

  let profileText = null;
  if (o.profile) {
    const layout = o.layouts[0];
    log();
    log(`profile: node --cpu-prof, plan, ${layout}, ${N} hosts, cache cold`);
    const profDir = join(tmpdir(), "hdplan-prof");
    rmSync(profDir, { recursive: true, force: true });
    const job = planJob(fleets[layout], N, "cold");
    const xdg = join(CTX.work, "xdg-prof");
    const r = await timed(
      process.execPath,
      ["--cpu-prof", `--cpu-prof-dir=${profDir}`, CLI, ...job.args, "--format", "json"],
      { env: { XDG_CACHE_HOME: xdg } },
    );
    if ([0, 1, 4].includes(r.code)) {
      const { summariseProfile, formatSummary, profilesIn } = await import("./bench-profile.mjs");
      const files = profilesIn(profDir);
      const sum = summariseProfile(
        files.map((f) => JSON.parse(readFileSync(f, "utf8"))),
        { top: 15 },
      );
      profileText = `${profDir}: ${files.length} profile(s), one per thread (${sec(r.ms)} under the profiler)\n${formatSummary(sum)}`;
      log(profileText.replace(/^/gm, "  "));
    } else failLine("profiled plan", r);
  }

  // Goals table ------------------------------------------------------------------
  const goals = [];
  const add = (what, value, shown, goal, pass) => goals.push({ what, value, shown, goal, pass });
  for (const layout of o.layouts) {
    const c = figures[`plan-cold-${layout}`];
    const w = figures[`plan-warm-${layout}`];
    const e = figures[`evac-cold-${layout}`];
    add(
      `plan ${N} hosts, cold cache, ${layout}`,
      c?.ratio,
      fx(c?.ratio),
      "<= 1.0x",
      c?.ratio != null && c.ratio <= 1.0,
    );
    add(
      `plan ${N} hosts, cold cache, ${layout}, peak RSS`,
      c?.rssKb,
      mib(c?.rssKb),
      "< 512 MiB",
      c?.rssKb != null && c.rssKb < 512 * MiB,
    );
    add(
      `plan ${N} hosts, warm cache, ${layout}`,
      w?.ratio,
      fx(w?.ratio),
      "<= 0.25x",
      w?.ratio != null && w.ratio <= 0.25,
    );
    if (o.evacuate) {
      add(
        `evacuate 40 VMs onto ${N} hosts, ${layout}`,
        e?.ratio,
        fx(e?.ratio),
        "<= 1.5x",
        e?.ratio != null && e.ratio <= 1.5,
      );
      add(
        `evacuate, ${layout}, peak RSS`,
        e?.rssKb,
        mib(e?.rssKb),
        "< 512 MiB",
        e?.rssKb != null && e.rssKb < 512 * MiB,
      );
    }
  }
  const h = figures.hosts100;
  add(
    `plan 100 hosts, cold cache, ${o.growthLayout}, whole process`,
    h?.hdplanMs,
    sec(h?.hdplanMs),
    "< 1 s",
    h?.hdplanMs != null && h.hdplanMs < 1000,
  );
  if (g)
    add(
      `growth exponent of plan ${o.sizes.join(" -> ")} hosts, ${o.growthLayout}`,
      g.k,
      g.k.toFixed(3),
      "<= 1.05",
      g.k <= 1.05,
    );

  const total = performance.now() - T_START;
  const lines = [];
  lines.push(
    `hdplan bench (${o.quick ? "--quick" : "full"}, seed ${o.seed}, median of ${o.repeat}), ${new Date().toISOString().slice(0, 16)}Z, hdplan ${m.commit}`,
  );
  lines.push(
    `machine: nproc ${m.nproc}, ${m.model}, ${m.memGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}; load ${load0} at start, ${loadavg()} at end`,
  );
  if (CTX.python)
    lines.push(
      `baseline: Python ${CTX.python.python} + lxml ${CTX.python.lxml}, parse-only of the same files, whole process`,
    );
  lines.push("");
  lines.push("| figure | hdplan | baseline | ratio | peak RSS |");
  lines.push("|---|---|---|---|---|");
  for (const r of Object.values(figures)) {
    if (!r) continue;
    const xml = r.bytes ? ` (${(r.bytes / 2 ** 20).toFixed(0)} MiB XML, ${r.files} files)` : "";
    lines.push(
      `| ${r.label}${xml} | ${sec(r.hdplanMs)} | ${sec(r.baselineMs)} | ${fx(r.ratio)} | ${mib(r.rssKb)} |`,
    );
  }
  if (growth.length) {
    lines.push("");
    lines.push(
      `growth (${o.growthLayout}, cold cache): ${growth.map((p) => `${p.n} hosts ${sec(p.ms)} (${(p.ms / p.n).toFixed(2)} ms/host)`).join(", ")}`,
    );
    if (g)
      lines.push(
        `exponent (least squares of log time on log hosts): ${g.k.toFixed(3)}, R^2 ${g.r2.toFixed(4)}`,
      );
    if (mg)
      lines.push(
        `each further host (${mg.from} -> ${mg.to}): ${mg.msPerHost.toFixed(2)} ms, baseline ${mg.baselineMsPerHost.toFixed(2)} ms = ${fx(mg.ratio)}; at zero hosts ${sec(mg.interceptMs)}, baseline ${sec(mg.baselineInterceptMs)}`,
      );
  }
  lines.push("");
  lines.push("| goal | measured | target | |");
  lines.push("|---|---|---|---|");
  for (const x of goals) lines.push(`| ${x.what} | ${x.shown} | ${x.goal} | ${x.pass ? "PASS" : "MISS"} |`);
  lines.push("");
  if (profileText) lines.push("", "profile:", profileText);
  lines.push(`bench wall time ${sec(total)}`);
  log();
  log("----- summary -----");
  log(lines.join("\n"));
  if (o.json) {
    writeFileSync(
      o.json,
      `${JSON.stringify({ machine: m, load0, loadEnd: loadavg(), options: { ...o, json: undefined }, figures, growth, exponent: g, marginal: mg, goals }, null, 2)}\n`,
    );
    note(`figures written to ${o.json}`);
  }
  rmSync(CTX.work, { recursive: true, force: true });
  const failed = Object.values(figures).some((r) => r === null);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`);
  process.exit(1);
});
