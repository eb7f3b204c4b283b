#!/usr/bin/env node
/**
 * bench.mjs — `npm run bench`: hdplan at fleet scale against a parse-only
 * baseline measured in the same run. Plain Node ESM, no dependencies beyond
 * the built CLI (dist/, built by `npm ci` through prepare) and, for the
 * baseline, python3 with lxml (Debian python3-lxml).
 *
 * Usage:
 *   node scripts/bench.mjs [--quick] [--seed S] [--repeat R] [--profile]
 *        [--hosts N] [--sizes A,B,C] [--cache DIR] [--no-snapshots] [--no-evacuate]
 *        [--no-headroom] [--headroom-sizes A,B]
 *
 *   --quick        growth over 100/300/1000 hosts instead of 100/1000/5000 (no 5,000-host fleet)
 *   --seed S       fleet seed (default 42)
 *   --repeat R     run every timed command R times and keep the fastest (default 1)
 *   --profile      also run the 1,000-host dump plan under `node --cpu-prof` and summarise
 *                  it with scripts/bench-profile.mjs (profiles in /tmp/hdplan-prof)
 *   --hosts N      target hosts of the plan/evacuate benchmarks (default 1000)
 *   --sizes A,B,C  target-host counts of the growth benchmark
 *   --cache DIR    fleet cache (default /tmp/hdplan-bench)
 *   --headroom-sizes A,B  fleet sizes of the headroom benchmark (default 100,1000; --quick 100,300)
 *
 * What it measures (N target hosts + the source host-0001, ~200 node devices each):
 *   1. plan: one VM with 8 assigned devices (4 mdevs + 4 VFs) against N hosts, as dump
 *      directories and as snapshot JSON files: wall time and peak RSS of
 *      `node dist/cli/main.js plan --format json`, Node start included.
 *      Baseline: python3 + lxml parsing only the same XML files (lxml.etree.fromstring
 *      per file), Python start included (so is Node's on the hdplan side).
 *   2. evacuate: a 40-VM source host (1–4 mdevs/VFs each, built here with gen-fleet's
 *      exported builders) onto the same N hosts; baseline: the same files parsed by lxml.
 *      Run twice: --solver highs (exact, default) and --solver greedy, with time, VMs
 *      placed and optimality side by side (HDPLAN_SOLVER_STATS=1 adds the model size
 *      and the model+solve time of the exact engine).
 *   3. growth: plan against each size; least-squares fit of log(time) on log(hosts).
 *   4. headroom: `hdplan headroom --fail 1` over a fleet with 5 guests a host (its own
 *      cached fleet, --domains-per-host 5), at each --headroom-sizes; baseline: lxml
 *      parsing the same files; growth exponent from the smallest to the largest size.
 * The page cache is warmed (every file read once) before each group, so both sides
 * see the same cache. Fleets are generated once by scripts/gen-fleet.mjs and cached
 * under /tmp/hdplan-bench/, keyed by generator parameters, seed and generator hash.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker, isMainThread } from "node:worker_threads";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(REPO, "dist", "cli", "main.js");
const GEN = join(REPO, "scripts", "gen-fleet.mjs");
const TO_SNAP = join(REPO, "scripts", "dump-to-snapshot.mjs");
const PY_BASELINE = join(REPO, "scripts", "bench-lxml-baseline.py");
const T_START = performance.now();

// ---------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  const o = {
    quick: false,
    seed: 42,
    repeat: 1,
    profile: false,
    hosts: 1000,
    sizes: null,
    cache: "/tmp/hdplan-bench",
    snapshots: true,
    evacuate: true,
    headroom: true,
    headroomSizes: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--seed") o.seed = Number.parseInt(val(), 10);
    else if (a === "--repeat") o.repeat = Math.max(1, Number.parseInt(val(), 10));
    else if (a === "--profile") o.profile = true;
    else if (a === "--hosts") o.hosts = Number.parseInt(val(), 10);
    else if (a === "--sizes")
      o.sizes = val()
        .split(",")
        .map((s) => Number.parseInt(s, 10));
    else if (a === "--cache") o.cache = resolve(val());
    else if (a === "--no-snapshots") o.snapshots = false;
    else if (a === "--no-evacuate") o.evacuate = false;
    else if (a === "--no-headroom") o.headroom = false;
    else if (a === "--headroom-sizes")
      o.headroomSizes = val()
        .split(",")
        .map((s) => Number.parseInt(s, 10));
    else if (a === "--help" || a === "-h") o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.sizes) o.sizes = o.quick ? [100, 300, 1000] : [100, 1000, 5000];
  if (!o.headroomSizes) o.headroomSizes = o.quick ? [100, 300] : [100, 1000];
  if (!o.headroomSizes.every((n) => Number.isInteger(n) && n > 1))
    throw new Error("--headroom-sizes takes integers > 1");
  if (![o.seed, o.hosts, ...o.sizes].every((n) => Number.isInteger(n) && n > 0))
    throw new Error("--seed, --hosts and --sizes take positive integers");
  o.sizes = [...new Set(o.sizes)].sort((a, b) => a - b);
  return o;
}

// ---------------------------------------------------------------------------
// Small helpers

const log = (s = "") => process.stdout.write(`${s}\n`);
const note = (s) => process.stdout.write(`  .. ${s}\n`);
const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;
const mib = (kb) => `${(kb / 1024).toFixed(0)} MiB`;
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}x` : "n/a");
const sha8 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 8);
const hostKey = (i) => `host-${String(i).padStart(4, "0")}`;

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
  let model = "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) model = m[1].trim();
  } catch {
    model = cpus()[0]?.model ?? "unknown";
  }
  const nproc = cmdOut("nproc", []) ?? String(cpus().length);
  const rev = cmdOut("git", ["-C", REPO, "rev-parse", "--short", "HEAD"]);
  const dirty = rev && cmdOut("git", ["-C", REPO, "status", "--porcelain", "--untracked-files=no"]);
  return {
    nproc,
    model,
    memGiB: (totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: cmdOut("uname", ["-r"]) ?? "?",
    commit: rev ? `${rev}${dirty ? " (modified tree)" : ""}` : "unknown",
  };
}

/** Reads every file under `paths` once (2 worker threads), so both sides see a warm page cache. */
async function warm(paths) {
  const t0 = performance.now();
  const halves = [paths.filter((_, i) => i % 2 === 0), paths.filter((_, i) => i % 2 === 1)];
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    const fs = require("node:fs"), path = require("node:path");
    let files = 0, bytes = 0;
    const walk = (p) => {
      let st; try { st = fs.statSync(p); } catch { return; }
      if (st.isDirectory()) { for (const n of fs.readdirSync(p)) walk(path.join(p, n)); }
      else if (st.isFile()) { bytes += fs.readFileSync(p).length; files++; }
    };
    for (const p of workerData) walk(p);
    parentPort.postMessage({ files, bytes });`;
  const res = await Promise.all(
    halves.map(
      (h) =>
        new Promise((ok, ko) => {
          const w = new Worker(code, { eval: true, workerData: h });
          w.once("message", ok);
          w.once("error", ko);
        }),
    ),
  );
  const files = res.reduce((n, r) => n + r.files, 0);
  const bytes = res.reduce((n, r) => n + r.bytes, 0);
  note(
    `page cache warmed: ${files} files, ${(bytes / 2 ** 20).toFixed(0)} MiB in ${sec(performance.now() - t0)}`,
  );
}

// ---------------------------------------------------------------------------
// Timing child processes (wall time and peak RSS)

const GNU_TIME = (() => {
  if (!existsSync("/usr/bin/time")) return null;
  const r = spawnSync("/usr/bin/time", ["-f", "%M", "-o", "/dev/null", "true"]);
  return r.status === 0 ? "/usr/bin/time" : null;
})();

function vmHwmKb(pid) {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs cmd args; stdout to `outFile` (or /dev/null), stderr captured. Returns
 * {ms, rssKb, code, stderr}. RSS: GNU time's %M, else VmHWM polled every 20 ms.
 */
function timed(cmd, args, { outFile = "/dev/null", env } = {}) {
  return new Promise((ok) => {
    const rssFile = join(CTX.work, `rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
    const [c, a] = GNU_TIME ? [GNU_TIME, ["-f", "%M", "-o", rssFile, cmd, ...args]] : [cmd, args];
    const fd = openSync(outFile, "w");
    const t0 = performance.now();
    const child = spawn(c, a, { stdio: ["ignore", fd, "pipe"], env: env ?? process.env });
    let stderr = "";
    let hwm = 0;
    const poll = GNU_TIME ? null : setInterval(() => (hwm = Math.max(hwm, vmHwmKb(child.pid))), 20);
    child.stderr.on("data", (d) => {
      if (stderr.length < 20000) stderr += d;
    });
    child.on("close", (code, signal) => {
      const ms = performance.now() - t0;
      if (poll) clearInterval(poll);
      closeSync(fd);
      let rssKb = hwm;
      if (GNU_TIME) {
        try {
          const lines = readFileSync(rssFile, "utf8").trim().split("\n");
          rssKb = Number(lines[lines.length - 1]) || 0;
          rmSync(rssFile, { force: true });
        } catch {
          rssKb = 0;
        }
      }
      ok({ ms, rssKb, code: code ?? 128, signal, stderr });
    });
  });
}

/** Runs `repeat` times, keeps the fastest run; fails (returns null) on an unexpected exit code. */
async function best(label, cmd, args, { okCodes = [0], outFile, repeat = CTX.opts.repeat, env } = {}) {
  let bestRun = null;
  for (let i = 0; i < repeat; i++) {
    const r = await timed(cmd, args, { outFile, env });
    if (!okCodes.includes(r.code)) {
      log(`  !! ${label}: exit ${r.code}${r.signal ? ` (${r.signal})` : ""}`);
      if (r.stderr)
        log(
          r.stderr
            .trim()
            .split("\n")
            .slice(-8)
            .map((l) => `     ${l}`)
            .join("\n"),
        );
      return null;
    }
    if (!bestRun || r.ms < bestRun.ms) bestRun = r;
  }
  return bestRun;
}

// ---------------------------------------------------------------------------
// Python + lxml baseline

function findPython() {
  const candidates = [...new Set(["python3", "/usr/bin/python3", "/usr/local/bin/python3"])];
  const probe = () => {
    for (const py of candidates) {
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
  };
  let found = probe();
  if (!found && process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
    note("python3 lacks lxml: trying apt-get install -y python3-lxml");
    spawnSync("apt-get", ["install", "-y", "-q", "python3-lxml"], { stdio: "ignore" });
    found = probe();
  }
  return found;
}

/** Python baseline over a list of paths; returns {ms (process wall, Python start included), inner}. */
async function pyBaseline(label, mode, paths) {
  if (!CTX.python) return null;
  const list = join(CTX.work, `py-${label}.txt`);
  writeFileSync(list, `${paths.join("\n")}\n`);
  const outFile = join(CTX.work, `py-${label}.json`);
  const r = await best(`python baseline (${label})`, CTX.python.py, [PY_BASELINE, mode, list], { outFile });
  if (!r) return null;
  const inner = JSON.parse(readFileSync(outFile, "utf8"));
  note(
    `python+lxml ${label}: ${inner.docs} documents, ${(inner.bytes / 2 ** 20).toFixed(0)} MiB: ` +
      `${sec(r.ms)} wall (${inner.seconds.toFixed(2)} s inside Python), ${mib(r.rssKb)} peak RSS`,
  );
  return { ...r, inner };
}

// ---------------------------------------------------------------------------
// Fleets

const GEN_PARAMS = { gpus: 4, nics: 2, vfs: 16, old: 0.2, domains: 2, noise: 120 };

/** The headroom fleet: the same hosts with 5 guests each (issue #16: ~5 VMs a host). */
const HEADROOM_PARAMS = { ...GEN_PARAMS, domains: 5 };

function fleetPrefix(seed, p = GEN_PARAMS) {
  return `fleet-g${p.gpus}-n${p.nics}-v${p.vfs}-o${p.old}-d${p.domains}-z${p.noise}-s${seed}-${sha8(GEN)}`;
}

function genArgs(out, hosts, p = GEN_PARAMS) {
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
  ];
}

/** A cached fleet of at least `hosts` hosts (source included), generated if missing. */
async function ensureFleet(hosts, params = GEN_PARAMS) {
  const prefix = fleetPrefix(CTX.opts.seed, params);
  mkdirSync(CTX.opts.cache, { recursive: true });
  for (const name of readdirSync(CTX.opts.cache)) {
    const m = new RegExp(`^${prefix}-h(\\d+)$`).exec(name);
    const dir = join(CTX.opts.cache, name);
    if (m && Number(m[1]) >= hosts && existsSync(join(dir, ".complete"))) {
      note(`fleet: cached ${dir}`);
      return { dir, hosts: Number(m[1]), generated: false };
    }
  }
  const dir = join(CTX.opts.cache, `${prefix}-h${hosts}`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  note(`fleet: generating ${hosts} hosts into ${dir} (scripts/gen-fleet.mjs, once; cached afterwards)`);
  // (Two worker threads writing hosts with gen-fleet's exported builders were tried:
  // no faster, file creation is system time.) hosts.txt is not used: each run
  // writes its own hosts files.
  const r = spawnSync(process.execPath, [GEN, ...genArgs(tmp, hosts, params)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`gen-fleet failed: ${r.stderr}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(join(dir, ".complete"), r.stderr);
  note(`fleet: ${r.stderr.trim().replace(/ in \S+ \(/, " (")}; ${sec(performance.now() - t0)} in all`);
  return { dir, hosts, generated: true };
}

/** Hosts file of the first n targets (host-0002 ...) as dump dirs or snapshot files. */
function hostsFile(n, kind) {
  const lines = [];
  for (let i = 2; i <= n + 1; i++) lines.push(targetPath(i, kind));
  const f = join(CTX.work, `hosts-${kind}-${n}.txt`);
  writeFileSync(f, `# ${n} ${kind} targets of ${CTX.fleet.dir}\n${lines.join("\n")}\n`);
  return f;
}

function targetPath(i, kind) {
  return kind === "dump" ? join(CTX.fleet.dir, "hosts", hostKey(i)) : join(CTX.snapDir, `${hostKey(i)}.json`);
}

/** Snapshot JSON of host-0001 .. host-(n+1), converted with dump-to-snapshot.mjs in 2 processes. */
async function ensureSnapshots(n) {
  CTX.snapDir = join(CTX.fleet.dir, `snapshots-${sha8(TO_SNAP)}`);
  mkdirSync(CTX.snapDir, { recursive: true });
  const missing = [];
  for (let i = 1; i <= n + 1; i++) if (!existsSync(targetPath(i, "snapshot"))) missing.push(i);
  if (!missing.length) {
    note(`snapshots: cached in ${CTX.snapDir}`);
    return;
  }
  const t0 = performance.now();
  const parts = [missing.filter((_, k) => k % 2 === 0), missing.filter((_, k) => k % 2 === 1)].filter(
    (p) => p.length,
  );
  await Promise.all(
    parts.map(
      (part, k) =>
        new Promise((ok, ko) => {
          const list = join(CTX.work, `to-snap-${k}.txt`);
          writeFileSync(list, `${part.map((i) => targetPath(i, "dump")).join("\n")}\n`);
          const c = spawn(
            process.execPath,
            [TO_SNAP, "--out", CTX.snapDir, "--created-at", "2026-01-01T00:00:00.000Z", "--hosts-file", list],
            { stdio: ["ignore", "ignore", "pipe"] },
          );
          let err = "";
          c.stderr.on("data", (d) => (err += d));
          c.on("close", (code) => (code === 0 ? ok() : ko(new Error(`dump-to-snapshot: ${err}`))));
        }),
    ),
  );
  note(`snapshots: ${missing.length} converted into ${CTX.snapDir} in ${sec(performance.now() - t0)}`);
}

// ---------------------------------------------------------------------------
// The 40-VM evacuation source, built with gen-fleet's exported builders

async function buildEvacSource(nVms = 40) {
  const g = await import(pathToFileURL(GEN).href);
  const rng = g.makeRng((CTX.opts.seed * 2654435761 + 40) >>> 0);
  const b = new g.HostBuilder(rng);
  b.base({ product: "PowerEdge R750xa" });
  // 6 T4s in time-sliced vGPU mode: four run nvidia-558 (T4-2Q, 8 per GPU), two
  // run nvidia-559 (T4-4Q, 4 per GPU). Each has some instances left.
  const gpuPlan = [
    ["nvidia-558", 6],
    ["nvidia-558", 6],
    ["nvidia-558", 5],
    ["nvidia-558", 5],
    ["nvidia-559", 3],
    ["nvidia-559", 3],
  ];
  const mdevs = [];
  for (const [type, used] of gpuPlan) {
    const inst = Array.from({ length: used }, () => ({ uuid: rng.uuid(), type }));
    mdevs.push(...inst);
    const types = {};
    for (const t of ["nvidia-558", "nvidia-559", "nvidia-560"])
      types[t] = t === type ? g.T4_TYPES[t].max - used : 0;
    b.addGpu({ types, mdevs: inst });
  }
  // 4 ConnectX-6 Dx PFs with 16 VFs each.
  const vfs = [];
  for (let n = 0; n < 4; n++) vfs.push(...b.addNic({ vfCount: 16, maxVfs: 16 }).vfs.map((v) => v.addr));
  b.addNoise(120);
  // 40 running VMs with 1-4 devices each: at most one vGPU, the rest VFs (half as
  // <hostdev type='pci'>, half as <interface type='hostdev'>).
  const domains = [];
  for (let d = 0; d < nVms; d++) {
    const devices = [];
    const want = rng.pick([1, 1, 2, 2, 2, 3, 3, 4]);
    if (mdevs.length && d % 4 !== 3) devices.push({ kind: "mdev", uuid: mdevs.shift().uuid });
    while (devices.length < want && vfs.length) {
      const addr = vfs.splice(rng.int(0, vfs.length - 1), 1)[0];
      devices.push(
        rng.chance(0.5) ? { kind: "pci", addr } : { kind: "interface", addr, mac: rng.mac("52:54:00") },
      );
    }
    if (!devices.length) break;
    const name = `evac-vm-${String(d + 1).padStart(2, "0")}`;
    domains.push({
      name,
      uuid: rng.uuid(),
      id: d + 1,
      devices,
      memGiB: rng.pick([8, 16, 32]),
      vcpus: rng.pick([4, 8, 16]),
    });
  }
  const dir = join(CTX.fleet.dir, "evac-source", "host-evac");
  rmSync(dirname(dir), { recursive: true, force: true });
  mkdirSync(join(dir, "nodedev"), { recursive: true });
  mkdirSync(join(dir, "domains"), { recursive: true });
  for (const f of b.files()) writeFileSync(join(dir, "nodedev", f.file), f.xml);
  for (const d of domains) writeFileSync(join(dir, "domains", `${d.name}.xml`), g.domainXml(d));
  writeFileSync(
    join(dir, "host.json"),
    `${JSON.stringify(
      {
        hostname: "host-evac.lab.example",
        libvirtVersion: "10.5.0",
        hypervisor: { type: "QEMU", version: "9.0.0" },
        kernelVersion: "6.8.0-45-generic",
      },
      null,
      2,
    )}\n`,
  );
  const devs = domains.reduce((n, d) => n + d.devices.length, 0);
  const withMdev = domains.filter((d) => d.devices.some((x) => x.kind === "mdev")).length;
  note(
    `evacuation source ${dir}: ${b.devices.length} node devices, ${domains.length} running VMs, ` +
      `${devs} assigned devices (${withMdev} VMs with a vGPU)`,
  );
  return { dir, vms: domains.length, devices: devs };
}

// ---------------------------------------------------------------------------
// Benchmarks

const CTX = { opts: null, work: null, fleet: null, snapDir: null, python: null };

function planArgs(hostsFileKind, n) {
  const src = hostsFileKind === "dump" ? targetPath(1, "dump") : targetPath(1, "snapshot");
  return [
    CLI,
    "plan",
    "--domain",
    join(CTX.fleet.dir, "vm.xml"),
    "--source",
    src,
    "--hosts-file",
    hostsFile(n, hostsFileKind),
    "--format",
    "json",
  ];
}

function planSummary(outFile) {
  try {
    const j = JSON.parse(readFileSync(outFile, "utf8"));
    const by = {};
    for (const h of j.hosts) by[h.status] = (by[h.status] ?? 0) + 1;
    return `best ${j.best}; ${Object.entries(by)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}`;
  } catch (e) {
    return `unreadable output (${e.message})`;
  }
}

async function runPlan(kind, n, label) {
  const outFile = join(CTX.work, `plan-${kind}-${n}.json`);
  const r = await best(label, process.execPath, planArgs(kind, n), { okCodes: [0, 1, 4], outFile });
  if (r) note(`${label}: ${sec(r.ms)}, peak RSS ${mib(r.rssKb)} (exit ${r.code}; ${planSummary(outFile)})`);
  return r;
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
  const k = sxx ? sxy / sxx : Number.NaN;
  const r2 = sxx && syy ? (sxy * sxy) / (sxx * syy) : 1;
  return { k, r2 };
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench: ${e.message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(
      readFileSync(fileURLToPath(import.meta.url), "utf8")
        .split("*/")[0]
        .replace(/^#!.*\n\/\*\*\n/, ""),
    );
    return;
  }
  CTX.opts = opts;
  CTX.load0 = loadavg();
  if (!existsSync(CLI)) {
    process.stderr.write(`bench: ${CLI} is missing: run npm ci (or npm run build) first\n`);
    process.exit(2);
  }
  const N = opts.hosts;
  const maxN = Math.max(N, ...opts.sizes);
  const m = machine();
  log(
    `hdplan bench — ${opts.quick ? "quick" : "full"} run, seed ${opts.seed}, ${N} target hosts, growth ${opts.sizes.join("/")}`,
  );
  log(
    `machine: ${m.nproc} CPUs (${m.model}), ${m.memGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}, hdplan ${m.commit}`,
  );
  log(`load average ${CTX.load0} (other work on this machine skews every timing)`);
  log();

  CTX.work = join(opts.cache, `run-${process.pid}`);
  mkdirSync(CTX.work, { recursive: true });
  log("setup");
  CTX.python = findPython();
  note(
    CTX.python
      ? `baseline: ${CTX.python.py} (Python ${CTX.python.python}, lxml ${CTX.python.lxml})`
      : "baseline UNAVAILABLE: no python3 with lxml (apt-get install python3-lxml); ratios are not printed",
  );
  note(`peak RSS via ${GNU_TIME ? "/usr/bin/time -f %M" : "VmHWM polled from /proc/<pid>/status"}`);
  CTX.fleet = await ensureFleet(maxN + 1);
  if (opts.snapshots) await ensureSnapshots(N);
  const evac = opts.evacuate ? await buildEvacSource(40) : null;
  const nodeStart = await best("node start", process.execPath, [CLI, "--version"], {
    okCodes: [0, 1, 2],
    repeat: 3,
  });
  if (nodeStart) note(`hdplan start-up alone (node dist/cli/main.js --version): ${sec(nodeStart.ms)}`);
  const results = {};

  // 1. plan, dump dirs and snapshots --------------------------------------
  log();
  log(`1. plan: one VM with 8 assigned devices against ${N} hosts (+ source)`);
  const dumpDirs = [targetPath(1, "dump")];
  for (let i = 2; i <= N + 1; i++) dumpDirs.push(targetPath(i, "dump"));
  const snapFiles = opts.snapshots ? dumpDirs.map((_, k) => targetPath(k + 1, "snapshot")) : [];
  await warm([...dumpDirs, ...snapFiles, ...(evac ? [evac.dir] : []), join(CTX.fleet.dir, "vm.xml")]);
  results.pyDump = await pyBaseline("dump", "dump", [join(CTX.fleet.dir, "vm.xml"), ...dumpDirs]);
  results.planDump = await runPlan("dump", N, `hdplan plan, ${N} dump dirs`);
  if (opts.snapshots) {
    results.pySnap = await pyBaseline("snapshot-json", "snapshot", [
      join(CTX.fleet.dir, "vm.xml"),
      ...snapFiles,
    ]);
    results.planSnap = await runPlan("snapshot", N, `hdplan plan, ${N} snapshots`);
  }

  // 2. evacuate ----------------------------------------------------------------
  if (evac) {
    log();
    log(`2. evacuate: ${evac.vms} VMs (${evac.devices} assigned devices) from host-evac onto ${N} hosts`);
    results.pyEvac = await pyBaseline("evacuate", "dump", [evac.dir, ...dumpDirs.slice(1)]);
    // The exact engine (default, HiGHS) and the greedy path, side by side.
    const evacRun = async (solver) => {
      const outFile = join(CTX.work, `evacuate-${solver}.json`);
      const r = await best(
        `hdplan evacuate --solver ${solver}`,
        process.execPath,
        [
          CLI,
          "evacuate",
          "--source",
          evac.dir,
          "--hosts-file",
          hostsFile(N, "dump"),
          "--format",
          "json",
          "--solver",
          solver,
        ],
        { okCodes: [0, 1, 4], outFile, env: { ...process.env, HDPLAN_SOLVER_STATS: "1" } },
      );
      if (!r) return null;
      let what = "";
      try {
        const j = JSON.parse(readFileSync(outFile, "utf8"));
        r.placed = j.placements.filter((p) => p.host).length;
        r.total = j.placements.length;
        r.optimal = j.optimal;
        r.gap = j.gap;
        r.fallback = j.fallback;
        const hosts = new Set(j.placements.filter((p) => p.host).map((p) => p.host)).size;
        what = `${r.placed}/${r.total} placed on ${hosts} hosts, ${j.unplaced} unplaced, optimal ${j.optimal}${j.fallback ? `, fallback: ${j.fallback}` : ""}`;
      } catch (e) {
        what = `unreadable output (${e.message})`;
      }
      r.solveLine = (r.stderr.match(/placement: .*$/m) ?? [""])[0];
      note(
        `hdplan evacuate --solver ${solver}: ${sec(r.ms)}, peak RSS ${mib(r.rssKb)} (exit ${r.code}; ${what})`,
      );
      if (r.solveLine) note(`  ${r.solveLine}`);
      return r;
    };
    const r = await evacRun("highs");
    results.evacGreedy = await evacRun("greedy");
    results.evac = r;
  }

  // 3. growth -----------------------------------------------------------------
  log();
  log(`3. growth: plan against ${opts.sizes.join(", ")} dump-directory hosts`);
  const growth = [];
  const bigger = opts.sizes.filter((s) => s > N);
  if (bigger.length && CTX.fleet.generated) {
    note("page cache: the fleet was written by this run, so its files are cached already");
  } else if (bigger.length) {
    const all = [];
    for (let i = N + 2; i <= Math.max(...bigger) + 1; i++) all.push(targetPath(i, "dump"));
    await warm(all);
  }
  for (const n of opts.sizes) {
    let r;
    if (n === N && results.planDump) {
      r = results.planDump;
      note(`${n} hosts: the plan of benchmark 1 (${sec(r.ms)})`);
    } else r = await runPlan("dump", n, `hdplan plan, ${n} dump dirs`);
    if (r) growth.push({ n, ms: r.ms, rssKb: r.rssKb });
  }
  const g = growth.length >= 2 ? lsqFit(growth) : null;

  // 4. headroom ----------------------------------------------------------------
  const headroom = [];
  if (opts.headroom) {
    log();
    log(`4. headroom --fail 1: fleets of ${opts.headroomSizes.join(", ")} hosts with 5 guests each`);
    const hf = await ensureFleet(Math.max(...opts.headroomSizes), HEADROOM_PARAMS);
    for (const n of opts.headroomSizes) {
      const dirs = [];
      for (let i = 1; i <= n; i++) dirs.push(join(hf.dir, "hosts", hostKey(i)));
      await warm(dirs);
      const list = join(CTX.work, `headroom-${n}.txt`);
      writeFileSync(list, `${dirs.join("\n")}\n`);
      const pyR = await pyBaseline(`headroom-${n}`, "dump", dirs);
      const outFile = join(CTX.work, `headroom-${n}.json`);
      const r = await best(
        `hdplan headroom ${n}`,
        process.execPath,
        [CLI, "headroom", "--hosts-file", list, "--format", "json"],
        { okCodes: [0, 1, 4], outFile },
      );
      let what = "";
      try {
        const j = JSON.parse(readFileSync(outFile, "utf8"));
        const doms = j.hosts.reduce((a, h) => a + h.domains, 0);
        what = `${doms} domains, ${j.simulated} simulations, ${j.summary.stranding} losses strand ${j.summary.strandedDomains} domains`;
      } catch (e) {
        what = `unreadable output (${e.message})`;
      }
      if (r)
        note(`hdplan headroom, ${n} hosts: ${sec(r.ms)}, peak RSS ${mib(r.rssKb)} (exit ${r.code}; ${what})`);
      headroom.push({ n, r, py: pyR, what });
    }
  }
  const hOk = headroom.filter((h) => h.r);
  const hGrowth = hOk.length >= 2 ? lsqFit(hOk.map((h) => ({ n: h.n, ms: h.r.ms }))) : null;

  // 5. optional profile ---------------------------------------------------------
  let profileText = null;
  if (opts.profile) {
    log();
    log(`5. profile: node --cpu-prof, plan against ${N} dump dirs`);
    const profDir = "/tmp/hdplan-prof";
    rmSync(profDir, { recursive: true, force: true });
    const args = ["--cpu-prof", `--cpu-prof-dir=${profDir}`, ...planArgs("dump", N)];
    const r = await best("profiled plan", process.execPath, args, {
      okCodes: [0, 1, 4],
      outFile: join(CTX.work, "plan-prof.json"),
      repeat: 1,
    });
    if (r) {
      const { summariseProfile, formatSummary, profilesIn } = await import("./bench-profile.mjs");
      const files = profilesIn(profDir);
      profileText = `${profDir}: ${files.length} profile(s), one per thread (run took ${sec(r.ms)} under the profiler)\n${formatSummary(
        summariseProfile(
          files.map((f) => JSON.parse(readFileSync(f, "utf8"))),
          { top: 15 },
        ),
      )}`;
      log(profileText.replace(/^/gm, "  "));
    }
  }

  // Summary ---------------------------------------------------------------------
  const total = performance.now() - T_START;
  const py = results.pyDump;
  const lines = [];
  const base = (b) =>
    b
      ? `${sec(b.ms)} (python+lxml parse only, Python start included; ${b.inner.seconds.toFixed(2)} s inside Python)`
      : "unavailable";
  lines.push(
    `hdplan bench (${opts.quick ? "--quick" : "full"}, seed ${opts.seed}), ${new Date().toISOString().slice(0, 16)}Z, hdplan ${m.commit}`,
  );
  lines.push(`machine: nproc ${m.nproc}, ${m.model}, ${m.memGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}`);
  if (CTX.python)
    lines.push(`baseline: Python ${CTX.python.python} + lxml ${CTX.python.lxml} (${CTX.python.py})`);
  lines.push(
    `fleet: scripts/gen-fleet.mjs --gpus-per-host 4 --nics-per-host 2 --vfs-per-nic 16 --old-fraction 0.2 --domains-per-host 2 --noise 120 --seed ${opts.seed} (~207 node devices/host)`,
  );
  if (nodeStart) lines.push(`hdplan start-up alone (--version): ${sec(nodeStart.ms)}`);
  lines.push("");
  lines.push(`1. plan, 1 VM x 8 devices, ${N} hosts + source`);
  lines.push(`   baseline (same XML files): ${base(py)}`);
  if (results.planDump) {
    const r = results.planDump;
    lines.push(
      `   dump dirs:  ${sec(r.ms)}  ratio ${ratio(r.ms, py?.ms)} (goal <= 2x, stretch 1x)  peak RSS ${mib(r.rssKb)} (goal < 1024 MiB)`,
    );
  } else lines.push("   dump dirs:  FAILED");
  if (opts.snapshots) {
    if (results.planSnap) {
      const r = results.planSnap;
      lines.push(
        `   snapshots:  ${sec(r.ms)}  ratio ${ratio(r.ms, py?.ms)} to the XML-file baseline, ${ratio(r.ms, results.pySnap?.ms)} to python json.load+lxml of the snapshots (${results.pySnap ? sec(results.pySnap.ms) : "n/a"})  peak RSS ${mib(r.rssKb)}`,
      );
    } else lines.push("   snapshots:  FAILED");
  }
  if (evac) {
    lines.push(`2. evacuate ${evac.vms} VMs (${evac.devices} devices) onto ${N} hosts`);
    lines.push(`   baseline (same XML files): ${base(results.pyEvac)}`);
    lines.push(
      results.evac
        ? `   evacuate:   ${sec(results.evac.ms)}  ratio ${ratio(results.evac.ms, results.pyEvac?.ms)}  peak RSS ${mib(results.evac.rssKb)}`
        : "   evacuate:   FAILED",
    );
    for (const [name, x] of [
      ["highs", results.evac],
      ["greedy", results.evacGreedy],
    ]) {
      if (!x) continue;
      lines.push(
        `   --solver ${name.padEnd(6)}: ${sec(x.ms)}  ${x.placed}/${x.total} VMs placed  optimal ${x.optimal}${x.gap ? ` gap ${x.gap}` : ""}${x.solveLine ? `  (${x.solveLine})` : ""}`,
      );
    }
  }
  lines.push(`3. growth, plan over dump dirs (nothing subtracted)`);
  for (const p of growth)
    lines.push(
      `   ${String(p.n).padStart(5)} hosts: ${sec(p.ms).padStart(9)}  ${(p.ms / p.n).toFixed(2).padStart(6)} ms/host  peak RSS ${mib(p.rssKb)}`,
    );
  if (g)
    lines.push(
      `   exponent (least squares, log time on log hosts): ${g.k.toFixed(3)} (R^2 ${g.r2.toFixed(4)}; goal ~1, linear)`,
    );
  if (opts.headroom) {
    lines.push(
      `4. headroom --fail 1, 5 guests a host (gen-fleet --domains-per-host 5, otherwise the same fleet)`,
    );
    for (const h of headroom)
      lines.push(
        h.r
          ? `   ${String(h.n).padStart(5)} hosts: ${sec(h.r.ms).padStart(9)}  baseline ${h.py ? sec(h.py.ms) : "n/a"}  ratio ${ratio(h.r.ms, h.py?.ms)} (goal <= 3x)  peak RSS ${mib(h.r.rssKb)} (goal < 1024 MiB); ${h.what}`
          : `   ${String(h.n).padStart(5)} hosts: FAILED`,
      );
    if (hGrowth)
      lines.push(
        `   growth exponent ${opts.headroomSizes.join(" -> ")} hosts: ${hGrowth.k.toFixed(3)} (goal ~1, linear)`,
      );
  }
  lines.push(`bench wall time: ${sec(total)}; load average at start ${CTX.load0}, at end ${loadavg()}`);
  log();
  log("----- summary (paste into the issue) -----");
  log("```");
  log(lines.join("\n"));
  log("```");
  rmSync(CTX.work, { recursive: true, force: true });
  const failed =
    !results.planDump ||
    (opts.snapshots && !results.planSnap) ||
    (evac && !results.evac) ||
    (opts.headroom && hOk.length !== headroom.length);
  process.exit(failed ? 1 : 0);
}

if (isMainThread) {
  main().catch((e) => {
    process.stderr.write(`bench: ${e.stack ?? e}\n`);
    process.exit(1);
  });
}
