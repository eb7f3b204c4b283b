#!/usr/bin/env node
/**
 * json-identity.mjs — is `hdplan plan|evacuate --format json` byte-identical
 * to the committed golden digests (test/golden/json-sha256.json), with the
 * inventory cache off, cold and warm, and with 0 and 2 worker threads?
 *
 * Usage:
 *   node scripts/json-identity.mjs [--quick] [--write] [--golden FILE] [--cli FILE]
 *        [--hosts N] [--keep DIR] [--only SUBSTRING]
 *
 *   --quick      4 runs a case (off/0 workers, cold/2, warm/2, warm/0) instead of 6
 *   --write      (re)write the golden file from this build instead of comparing
 *   --golden F   golden file (default test/golden/json-sha256.json)
 *   --cli F      the hdplan entry point (default dist/cli/main.js)
 *   --hosts N    target hosts of each bench fleet (default 50; the golden file holds 50)
 *   --keep DIR   generate the fleets into DIR and keep them (default: a tmp dir, removed)
 *   --only S,T   only the cases whose name contains S or T
 *
 * Cases: for each layout (per-device, all) a bench fleet (scripts/gen-fleet.mjs,
 * seed 42, bench parameters, N targets + host-0001): plan of vm.xml from host-0001
 * and evacuate of the 40-VM host-evac (scripts/bench-evac-source.mjs); and every
 * xml-samples/domains/*.xml planned from its source host against the sample fleet
 * with xml-samples/descriptors, plus evacuate of src-host and of vgpu-src.
 * Modes: --no-cache; XDG_CACHE_HOME = an empty dir (cold) and the same dir again
 * (warm); each with HDPLAN_WORKERS=0 and =2.
 *
 * Normalised before hashing (volatile between runs): the absolute path of the
 * generated fleet dir becomes <FLEET>, the repository root becomes <REPO>. Nothing
 * else is rewritten: the JSON carries no times. The exit code is part of each case.
 * The golden file also holds a digest of the generated fleet files, so a changed
 * generator is reported as such, not as an hdplan change.
 * Exit: 0 all identical, 1 a difference, 2 bad usage or setup failure.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const GEN = join(REPO, "scripts", "gen-fleet.mjs");
const SEED = 42;
/** The bench fleet parameters (scripts/bench.mjs GEN_PARAMS). */
export const FLEET_ARGS = [
  "--gpus-per-host",
  "4",
  "--nics-per-host",
  "2",
  "--vfs-per-nic",
  "16",
  "--old-fraction",
  "0.2",
  "--domains-per-host",
  "2",
  "--noise",
  "120",
];
export const LAYOUTS = ["per-device", "all"];
const MODES_FULL = [
  { name: "off/w0", cache: "off", workers: "0" },
  { name: "cold/w0", cache: "cold", workers: "0" },
  { name: "warm/w0", cache: "warm", workers: "0" },
  { name: "off/w2", cache: "off", workers: "2" },
  { name: "cold/w2", cache: "cold", workers: "2" },
  { name: "warm/w2", cache: "warm", workers: "2" },
];
const MODES_QUICK = [MODES_FULL[0], MODES_FULL[4], MODES_FULL[5], { ...MODES_FULL[2], afterOther: true }];
/** The normal test suite's set (test/json-identity.test.ts): off, cold and warm, 0 and 2 workers. */
const MODES_TEST = [MODES_FULL[0], MODES_FULL[4], { ...MODES_FULL[2], afterOther: true }];

function parseArgs(argv) {
  const o = { quick: false, write: false, golden: join(REPO, "test", "golden", "json-sha256.json") };
  o.cli = join(REPO, "dist", "cli", "main.js");
  o.hosts = 50;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--quick") o.quick = true;
    else if (a === "--write") o.write = true;
    else if (a === "--golden") o.golden = resolve(val());
    else if (a === "--cli") o.cli = resolve(val());
    else if (a === "--hosts") o.hosts = Number.parseInt(val(), 10);
    else if (a === "--keep") o.keep = resolve(val());
    else if (a === "--only") o.only = val();
    else if (a === "--help" || a === "-h") o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (!Number.isInteger(o.hosts) || o.hosts < 1) throw new Error("--hosts takes a positive integer");
  return o;
}

const sha256 = (s) => createHash("sha256").update(s).digest("hex");

function walk(dir) {
  return readdirSync(dir)
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    })
    .sort();
}

/** Digest of every file under dir (relative path + content, absolute paths normalised). */
function treeDigest(dir) {
  const h = createHash("sha256");
  for (const p of walk(dir)) {
    h.update(`${relative(dir, p)}\0`);
    h.update(readFileSync(p, "utf8").split(dir).join("<FLEET>"));
    h.update("\0");
  }
  return h.digest("hex");
}

/** The bench fleets of both layouts under root; returns {layout: {dir, digest}}. */
export async function makeFleets(root, hosts, layouts = LAYOUTS) {
  const { writeEvacSource } = await import(
    pathToFileURL(join(REPO, "scripts", "bench-evac-source.mjs")).href
  );
  const out = {};
  for (const layout of layouts) {
    const dir = join(root, layout);
    const r = spawnSync(
      process.execPath,
      [
        GEN,
        "--out",
        dir,
        "--hosts",
        String(hosts + 1),
        ...FLEET_ARGS,
        "--seed",
        String(SEED),
        "--layout",
        layout,
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`gen-fleet --layout ${layout} failed: ${r.stderr.trim()}`);
    writeEvacSource(join(dir, "evac-source", "host-evac"), { seed: SEED, layout });
    const lines = [];
    for (let i = 2; i <= hosts + 1; i++) lines.push(join(dir, "hosts", `host-${String(i).padStart(4, "0")}`));
    writeFileSync(join(dir, "targets.txt"), `${lines.join("\n")}\n`);
    out[layout] = { dir, digest: treeDigest(dir) };
  }
  return out;
}

/** Every case: {name, args, cwd-relative}. */
export function cases(fleets) {
  const list = [];
  for (const layout of LAYOUTS) {
    if (!fleets[layout]) continue;
    const d = fleets[layout].dir;
    const targets = ["--hosts-file", join(d, "targets.txt")];
    list.push({
      name: `fleet-${layout}/plan`,
      args: ["plan", "--domain", join(d, "vm.xml"), "--source", join(d, "hosts", "host-0001"), ...targets],
    });
    list.push({
      name: `fleet-${layout}/evacuate`,
      args: ["evacuate", "--source", join(d, "evac-source", "host-evac"), ...targets],
    });
  }
  const sample = ["--hosts-file", "xml-samples/hosts.txt", "--descriptors", "xml-samples/descriptors"];
  const vgpu = ["--host", "xml-samples/hosts/vgpu-dst-a", "--host", "xml-samples/hosts/vgpu-dst-b"];
  for (const f of readdirSync(join(REPO, "xml-samples", "domains")).sort()) {
    if (!f.endsWith(".xml")) continue;
    const sriov = f === "vm-sriov-vgpu.xml";
    list.push({
      name: `samples/plan/${f}`,
      args: [
        "plan",
        "--domain",
        `xml-samples/domains/${f}`,
        "--source",
        sriov ? "xml-samples/hosts/vgpu-src" : "xml-samples/hosts/src-host",
        ...(sriov ? vgpu : sample),
      ],
    });
  }
  list.push({
    name: "samples/evacuate/src-host",
    args: ["evacuate", "--source", "xml-samples/hosts/src-host", ...sample],
  });
  list.push({
    name: "samples/evacuate/vgpu-src",
    args: ["evacuate", "--source", "xml-samples/hosts/vgpu-src", ...vgpu],
  });
  return list.map((c) => ({ ...c, args: [...c.args, "--format", "json"] }));
}

function run(cli, c, mode, cacheDir, normalise) {
  const env = { ...process.env, NO_COLOR: "1", HDPLAN_WORKERS: mode.workers };
  const args = [...c.args];
  if (mode.cache === "off") args.push("--no-cache");
  else env.XDG_CACHE_HOME = cacheDir;
  const r = spawnSync(process.execPath, [cli, ...args], {
    cwd: REPO,
    env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120000,
  });
  const stdout = r.stdout ?? "";
  let json = true;
  try {
    JSON.parse(stdout);
  } catch {
    json = false;
  }
  return { code: r.status, sha: sha256(normalise(stdout)), stderr: r.stderr ?? "", json };
}

/**
 * Runs every case in every mode. Returns {fleetDigests, results: {case: {mode: {code, sha}}}}.
 */
export async function measure({ cli, hosts, quick, only, keep }) {
  const root = keep ?? mkdtempSync(join(tmpdir(), "hdplan-json-identity-"));
  mkdirSync(root, { recursive: true });
  try {
    // Only the layouts a selected case needs (--only).
    const wanted = (name) => !only || only.split(",").some((x) => name.includes(x));
    const layouts = LAYOUTS.filter((l) => ["plan", "evacuate"].some((c) => wanted(`fleet-${l}/${c}`)));
    const fleets = await makeFleets(root, hosts, layouts);
    const normalise = (s) => s.split(root).join("<FLEET>").split(REPO).join("<REPO>");
    const modes = quick === "test" ? MODES_TEST : quick ? MODES_QUICK : MODES_FULL;
    const results = {};
    for (const c of cases(fleets)) {
      if (!wanted(c.name)) continue;
      results[c.name] = {};
      // One fresh cache dir per case and worker count; "warm" reuses it (in
      // --quick, warm/w0 reuses the w2 dir: a cache written by workers, read in-process).
      const caches = {};
      for (const m of modes) {
        const key = m.afterOther ? "2" : m.workers;
        if (m.cache === "cold") {
          caches[key] = join(root, "cache", c.name.replace(/[^A-Za-z0-9.-]/g, "_"), `w${key}`);
          rmSync(caches[key], { recursive: true, force: true });
          mkdirSync(caches[key], { recursive: true });
        }
        const dir = caches[key] ?? join(root, "cache-none");
        if (m.cache === "warm" && !caches[key]) throw new Error(`mode ${m.name} needs a cold run before it`);
        const r = run(cli, c, m, dir, normalise);
        if (!r.json || (r.code !== 0 && r.code !== 1 && r.code !== 4))
          throw new Error(
            `${c.name} ${m.name}: exit ${r.code}, ${r.json ? "" : "no JSON on stdout, "}${r.stderr.trim().split("\n").slice(-3).join(" | ")}`,
          );
        results[c.name][m.name] = { code: r.code, sha: r.sha };
      }
    }
    const fleetDigests = Object.fromEntries(layouts.map((l) => [l, fleets[l].digest]));
    return { fleetDigests, results };
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Compares measured results with the golden file. Returns a list of
 * one-line differences (empty: identical).
 */
export function compare(golden, m) {
  const diffs = [];
  for (const l of Object.keys(m.fleetDigests)) {
    if (golden.fleetDigests?.[l] !== m.fleetDigests[l])
      diffs.push(
        `fleet ${l}: the generated files differ from the golden fleet (scripts/gen-fleet.mjs changed its output): every fleet case below is then meaningless`,
      );
  }
  for (const [name, modes] of Object.entries(m.results)) {
    const g = golden.cases?.[name];
    if (!g) {
      diffs.push(`${name}: not in the golden file`);
      continue;
    }
    for (const [mode, r] of Object.entries(modes)) {
      if (r.sha !== g.sha256 || r.code !== g.exit)
        diffs.push(
          `${name} [${mode}]: exit ${r.code} sha256 ${r.sha.slice(0, 12)}, golden exit ${g.exit} sha256 ${g.sha256.slice(0, 12)}`,
        );
    }
  }
  return diffs;
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`json-identity: ${e.message}\n`);
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
  if (!existsSync(o.cli)) {
    process.stderr.write(`json-identity: ${o.cli} is missing: run npm run build first\n`);
    process.exit(2);
  }
  const t0 = performance.now();
  let m;
  try {
    m = await measure(o);
  } catch (e) {
    process.stderr.write(`json-identity: ${e.message}\n`);
    process.exit(2);
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  if (o.write) {
    const cases = {};
    const diffs = [];
    for (const [name, modes] of Object.entries(m.results)) {
      const runs = Object.entries(modes);
      const [, first] = runs[0];
      for (const [mode, r] of runs)
        if (r.sha !== first.sha || r.code !== first.code)
          diffs.push(`${name}: ${mode} differs from ${runs[0][0]}`);
      cases[name] = { exit: first.code, sha256: first.sha };
    }
    if (diffs.length) {
      process.stderr.write(`json-identity: not writing, the modes disagree:\n${diffs.join("\n")}\n`);
      process.exit(1);
    }
    const golden = {
      comment:
        "sha256 of `hdplan plan|evacuate --format json` stdout (fleet dir -> <FLEET>, repo root -> <REPO>) per case; written by `node scripts/json-identity.mjs --write` (see docs/benchmarks.md)",
      hosts: o.hosts,
      seed: SEED,
      fleetDigests: m.fleetDigests,
      cases,
    };
    mkdirSync(dirname(o.golden), { recursive: true });
    writeFileSync(o.golden, `${JSON.stringify(golden, null, 2)}\n`);
    process.stdout.write(
      `json-identity: wrote ${Object.keys(cases).length} cases to ${o.golden} (${secs} s)\n`,
    );
    return;
  }
  const golden = JSON.parse(readFileSync(o.golden, "utf8"));
  if (golden.hosts !== o.hosts) {
    process.stderr.write(
      `json-identity: the golden file holds ${golden.hosts}-host fleets, not --hosts ${o.hosts}\n`,
    );
    process.exit(2);
  }
  const diffs = compare(golden, m);
  const runs = Object.values(m.results).reduce((n, x) => n + Object.keys(x).length, 0);
  if (diffs.length) {
    process.stdout.write(
      `json-identity: ${diffs.length} difference(s) in ${runs} runs (${secs} s):\n${diffs.join("\n")}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(
    `json-identity: ${Object.keys(m.results).length} cases, ${runs} runs, all identical to ${relative(REPO, o.golden)} (${secs} s)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
