#!/usr/bin/env node
/**
 * bench-placement.mjs — how far the exact placement engine (HiGHS) stays exact.
 * Solves synthetic evacuation problems of growing size directly (no XML, no
 * candidate building), the shape evacuate hands the solver: every VM offered
 * its best N candidate hosts (N = VMs), hosts with 4 T4-like GPUs (two vGPU
 * types, some instances used, existing mdevs) and a VF pool, VMs with one
 * vGPU and 0-3 VFs. `--tight` makes capacity scarce (about 3/4 of demand).
 *
 * Usage: node scripts/bench-placement.mjs [--limit S] [--tight] [--sizes 40x1000,80x1000]
 * Needs the build (npm run build). Prints one line per size: model size,
 * wall time (model + solve), VMs placed, optimal or the gap.
 */
import { solvePlacement } from "../dist/placement/milp.js";
import { groupDevices } from "../dist/placement/problem.js";
import { mulberry32 as rng } from "./fixtures/rng.mjs";

export function problem(nVms, nHosts, tight, seed) {
  const r = rng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const hosts = [];
  for (let h = 0; h < nHosts; h++) {
    const resources = [];
    for (let g = 0; g < 4; g++) {
      const gpu = `gpu${g}`;
      const scarce = tight ? 0.15 : 1;
      resources.push({
        id: `pool:${gpu}:558`,
        capacity: Math.round(int(0, 8) * scarce),
        create: true,
        gpu,
        mdevType: "558",
      });
      resources.push({
        id: `pool:${gpu}:559`,
        capacity: Math.round(int(0, 4) * scarce),
        create: true,
        gpu,
        mdevType: "559",
      });
      if (r() < 0.3)
        resources.push({ id: `mdev:h${h}g${g}`, capacity: 1, create: false, gpu, mdevType: "558" });
    }
    resources.push({ id: "net:pool", capacity: tight ? int(0, 2) : int(4, 16), create: false });
    hosts.push({
      key: `host-${String(h).padStart(4, "0")}`,
      resources: resources.filter((x) => x.capacity > 0),
      locks: [],
    });
  }
  const vms = [];
  for (let v = 0; v < nVms; v++) {
    const t = r() < 0.6 ? "558" : "559";
    const nVf = int(0, 3);
    const opts = [];
    for (const h of hosts) {
      const mdev = h.resources
        .filter((x) => x.mdevType === t)
        .sort((a, b) => Number(a.create) - Number(b.create));
      const net = h.resources.filter((x) => x.id === "net:pool");
      if (!mdev.length || (nVf && !net.length)) continue;
      if (nVf > (net[0]?.capacity ?? 0)) continue;
      const devs = [{ deviceId: `vm${v}-gpu`, resources: mdev.map((x) => x.id) }];
      for (let k = 0; k < nVf; k++) devs.push({ deviceId: `vm${v}-vf${k}`, resources: ["net:pool"] });
      // created: the VM alone reuses an existing mdev when its first candidate is one.
      opts.push({ host: h.key, groups: groupDevices(devs), created: mdev[0].create ? 1 : 0, key: r() });
    }
    // evacuate's order: fewest new mdevs, then rank (here seeded); the best N per VM.
    opts.sort((a, b) => a.created - b.created || a.key - b.key);
    vms.push({
      devices: 1 + nVf,
      options: opts.slice(0, nVms).map(({ host, groups, created }) => ({ host, groups, created })),
    });
  }
  return { vms, hosts };
}

async function main() {
  const args = process.argv.slice(2);
  const limit = Number(args[args.indexOf("--limit") + 1] ?? 2) || 2;
  const tight = args.includes("--tight");
  const sizes = (
    args.includes("--sizes") ? args[args.indexOf("--sizes") + 1] : "40x1000,80x1000,160x1000,320x1000"
  )
    .split(",")
    .map((s) => s.split("x").map(Number));
  console.log(`exact engine, time limit ${limit} s, ${tight ? "scarce" : "ample"} capacity`);
  for (const [n, h] of sizes) {
    const p = problem(n, h, tight, n * 7 + h);
    const res = await solvePlacement(p, { timeS: limit });
    const st = res.stats;
    const widths = st.rounds.map((x) => x.width).join("/");
    const head = `${String(n).padStart(4)} VMs x ${h} hosts: widths ${widths}, last ${st.options} options, ${st.columns} cols, ${st.rows} rows, ${st.seconds.toFixed(2)} s`;
    if (!res.ok) console.log(`${head}: FAILED ${res.error}`);
    else {
      const placed = res.solution.placed.filter(Boolean).length;
      const feasible = p.vms.filter((v) => v.options.length).length;
      console.log(
        `${head}: ${placed}/${n} placed (${feasible} with a candidate), ${res.solution.optimal ? "optimal" : `gap ${res.solution.gap}`}`,
      );
    }
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) await main();
