/**
 * bench-evac-source.mjs — the 40-VM evacuation source host of `npm run bench`
 * and scripts/json-identity.mjs, written as a dump directory with the device
 * builders of scripts/gen-fleet.mjs. Deterministic: the same seed and layout
 * write byte-identical files.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HostBuilder, T4_TYPES, domainXml, makeRng, nodedevFiles } from "./gen-fleet.mjs";

/**
 * Writes DIR (removed first) as host-evac: 6 T4s in time-sliced vGPU mode, 4
 * ConnectX-6 Dx PFs with 16 VFs each, 120 noise devices, and `nVms` running
 * VMs with 1-4 assigned devices each (at most one vGPU, the rest VFs, half as
 * <hostdev type='pci'>, half as <interface type='hostdev'>).
 * Returns {dir, vms, devices, withMdev, nodeDevices}.
 */
export function writeEvacSource(dir, { seed, layout = "per-device", nVms = 40 }) {
  const rng = makeRng((seed * 2654435761 + 40) >>> 0);
  const b = new HostBuilder(rng);
  b.base({ product: "PowerEdge R750xa" });
  // Four T4s run nvidia-558 (T4-2Q, 8 per GPU), two run nvidia-559 (T4-4Q, 4
  // per GPU); each has some instances left.
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
      types[t] = t === type ? T4_TYPES[t].max - used : 0;
    b.addGpu({ types, mdevs: inst });
  }
  const vfs = [];
  for (let n = 0; n < 4; n++) vfs.push(...b.addNic({ vfCount: 16, maxVfs: 16 }).vfs.map((v) => v.addr));
  b.addNoise(120);
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
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "nodedev"), { recursive: true });
  mkdirSync(join(dir, "domains"), { recursive: true });
  for (const f of nodedevFiles(b.devices, layout, () => b.files()))
    writeFileSync(join(dir, "nodedev", f.file), f.xml);
  for (const d of domains) writeFileSync(join(dir, "domains", `${d.name}.xml`), domainXml(d));
  const hostJson = {
    hostname: "host-evac.lab.example",
    libvirtVersion: "10.5.0",
    hypervisor: { type: "QEMU", version: "9.0.0" },
    kernelVersion: "6.8.0-45-generic",
  };
  writeFileSync(join(dir, "host.json"), `${JSON.stringify(hostJson, null, 2)}\n`);
  return {
    dir,
    vms: domains.length,
    devices: domains.reduce((n, d) => n + d.devices.length, 0),
    withMdev: domains.filter((d) => d.devices.some((x) => x.kind === "mdev")).length,
    nodeDevices: b.devices.length,
  };
}
