#!/usr/bin/env node
/**
 * bench-match.mjs — micro-benchmark of the matcher (not a test): the current
 * matcher (dist/matching/match.js) against the one it replaced, kept verbatim
 * in test/matching/reference-matcher.ts (transpiled here with the project's
 * TypeScript into a temporary folder). Both run in this process, alternately,
 * on the same inputs; each figure is the median of --runs timed runs of at
 * least --ms milliseconds of this process's CPU time (user + system, so a busy
 * machine skews the figures less than wall time would), after one warm-up run
 * each. Before timing, every input is checked to give the same result under
 * both (exit 1 if not).
 *
 * Usage:
 *   npm run build && node scripts/bench-match.mjs [--runs 3] [--ms 500] [--seed 1]
 *
 * Workloads:
 *   generated   2,000 inputs of the differential test's distribution: 1-12
 *               devices, 0-40 resources, 0-6 GPUs with 1-4 types, capacities
 *               0-4, costs 0/1, random used capacity and GPU locks, some
 *               devices without candidates (ops/s = inputs matched per second)
 *   host-2types a realistic host: 8 devices (2 nvidia-558 + 2 nvidia-559
 *               mdevs, 4 VFs), 4 GPUs each offering both types (a pool each,
 *               one existing nvidia-558 mdev), 64 VFs; the GPU types branch
 *   host-1type  the same host for a VM whose 4 mdevs are all nvidia-558 (the
 *               shape of scripts/gen-fleet.mjs's VM): no branching
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { mulberry32 } from "./gen-fleet.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function opt(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`bench-match: --${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}
const RUNS = opt("runs", 3);
const MS = opt("ms", 500);
const SEED = opt("seed", 1);

let current;
try {
  current = await import(pathToFileURL(join(root, "dist/matching/match.js")).href);
} catch {
  console.error("bench-match: dist/matching/match.js missing: run `npm run build` first");
  process.exit(2);
}
const ts = (await import("typescript")).default;
const tmp = mkdtempSync(join(tmpdir(), "bench-match-"));
const refSrc = readFileSync(join(root, "test/matching/reference-matcher.ts"), "utf8");
const refJs = ts.transpileModule(refSrc, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
writeFileSync(join(tmp, "reference-matcher.mjs"), refJs);
const reference = await import(pathToFileURL(join(tmp, "reference-matcher.mjs")).href);
rmSync(tmp, { recursive: true, force: true });

const rng = mulberry32;

function res(id, capacity, cost, gpu, mdevType) {
  return {
    id,
    capacity,
    cost,
    ...(gpu ? { gpu } : {}),
    ...(mdevType ? { mdevType } : {}),
    target: { kind: "pci", name: id, parent: null, mdevType: null, uuid: null, create: false, address: null },
  };
}

const TYPES = ["nvidia-558", "nvidia-559", "nvidia-560", "nvidia-561"];

function generated(n, seed) {
  const r = rng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const out = [];
  for (let c = 0; c < n; c++) {
    const resources = new Map();
    const gpus = [];
    for (let g = 0, ng = int(0, 6); g < ng; g++) {
      const types = [...TYPES].sort(() => r() - 0.5).slice(0, int(1, 4));
      gpus.push(types);
      for (const t of types)
        for (let p = 0, np = int(1, 3); p < np && resources.size < 40; p++)
          resources.set(`g${g}:${t}:${p}`, res(`g${g}:${t}:${p}`, int(0, 4), int(0, 1), `gpu${g}`, t));
    }
    for (let i = 0, np = int(0, 20); i < np && resources.size < 40; i++)
      resources.set(`pci${i}`, res(`pci${i}`, int(0, 4), int(0, 1)));
    const ids = [...resources.keys()];
    const devices = [];
    for (let d = 0, nd = int(1, 12); d < nd; d++) {
      const list = [];
      if (r() >= 0.15) {
        const mode = r();
        const want = TYPES[int(0, 3)];
        const p = 0.2 + r() * 0.8;
        for (const id of ids) {
          const x = resources.get(id);
          const fits = mode < 0.3 ? true : mode < 0.75 ? x.mdevType === want : !x.gpu;
          if (fits && r() < p) list.push(id);
        }
        for (let i = list.length - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [list[i], list[j]] = [list[j], list[i]];
        }
      }
      devices.push({ deviceId: `hostdev${d}`, resources: list, reasons: [] });
    }
    const input = { devices, resources };
    if (r() < 0.4) input.used = new Map(ids.filter(() => r() < 0.3).map((id) => [id, int(0, 4)]));
    if (r() < 0.4)
      input.gpuLocks = new Map(
        gpus.flatMap((types, g) => (r() < 0.4 ? [[`gpu${g}`, types[int(0, types.length - 1)]]] : [])),
      );
    out.push(input);
  }
  return out;
}

function realisticHost(twoTypes) {
  const resources = new Map();
  for (let g = 0; g < 4; g++) {
    const gpu = `pci_0000_${(0x18 + g).toString(16)}_00_0`;
    for (const t of ["nvidia-558", "nvidia-559"])
      resources.set(`pool:${gpu}:${t}`, res(`pool:${gpu}:${t}`, 8, 1, gpu, t));
    if (g === 0) resources.set(`mdev:${gpu}:0`, res(`mdev:${gpu}:0`, 1, 0, gpu, "nvidia-558"));
  }
  const vfs = [];
  for (let v = 0; v < 64; v++) {
    const id = `pci:0000:31:${String(Math.floor(v / 8)).padStart(2, "0")}.${v % 8}`;
    vfs.push(id);
    resources.set(id, res(id, 1, 0));
  }
  const of = (t) => [...resources.values()].filter((x) => x.mdevType === t).map((x) => x.id);
  const devices = [];
  for (let d = 0; d < 4; d++) {
    const t = twoTypes && d >= 2 ? "nvidia-559" : "nvidia-558";
    devices.push({ deviceId: `hostdev${d}`, resources: of(t), reasons: [] });
  }
  for (let d = 4; d < 8; d++) devices.push({ deviceId: `hostdev${d}`, resources: [...vfs], reasons: [] });
  return [{ devices, resources }];
}

const view = (m) => JSON.stringify([[...m.assignment], [...m.gpuChoice], m.truncated]);

/** ops per second of CPU time (user + system of this process: the machine may be shared). */
function timeRun(fn, inputs) {
  let ops = 0;
  const c0 = process.cpuUsage();
  let us = 0;
  do {
    for (const x of inputs) fn(x);
    ops += inputs.length;
    const c = process.cpuUsage(c0);
    us = c.user + c.system;
  } while (us < MS * 1000);
  return (ops * 1e6) / us;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const workloads = [
  ["generated", generated(2000, SEED)],
  ["host-2types", realisticHost(true)],
  ["host-1type", realisticHost(false)],
];
console.log(
  `bench-match: ${RUNS} runs of >= ${MS} ms each, median ops per CPU second (node ${process.version})`,
);
console.log("workload       reference ops/s      new ops/s   speed-up");
for (const [name, inputs] of workloads) {
  for (const x of inputs) {
    if (view(reference.referenceMatchDevices(x)) !== view(current.matchDevices(x))) {
      console.error(`bench-match: ${name}: the matchers disagree on an input`);
      process.exit(1);
    }
  }
  timeRun(reference.referenceMatchDevices, inputs);
  timeRun(current.matchDevices, inputs);
  const a = [];
  const b = [];
  for (let i = 0; i < RUNS; i++) {
    a.push(timeRun(reference.referenceMatchDevices, inputs));
    b.push(timeRun(current.matchDevices, inputs));
  }
  const ra = median(a);
  const rb = median(b);
  console.log(
    `${name.padEnd(12)} ${ra.toFixed(0).padStart(17)} ${rb.toFixed(0).padStart(14)} ${(rb / ra).toFixed(2).padStart(9)}x`,
  );
}
