import { groupDevices } from "../dist/placement/problem.js";
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function problem(nVms, nHosts, tight, seed) {
  const r = rng(seed);
  const int = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const hosts = [];
  for (let h = 0; h < nHosts; h++) {
    const resources = [];
    for (let g = 0; g < 4; g++) {
      const gpu = `gpu${g}`;
      const scarce = tight ? 0.15 : 1;
      resources.push({ id: `pool:${gpu}:558`, capacity: Math.round(int(0, 8) * scarce), create: true, gpu, mdevType: "558" });
      resources.push({ id: `pool:${gpu}:559`, capacity: Math.round(int(0, 4) * scarce), create: true, gpu, mdevType: "559" });
      if (r() < 0.3) resources.push({ id: `mdev:h${h}g${g}`, capacity: 1, create: false, gpu, mdevType: "558" });
    }
    resources.push({ id: "net:pool", capacity: tight ? int(0, 2) : int(4, 16), create: false });
    hosts.push({ key: `host-${String(h).padStart(4, "0")}`, resources: resources.filter((x) => x.capacity > 0), locks: [] });
  }
  const vms = [];
  for (let v = 0; v < nVms; v++) {
    const t = r() < 0.6 ? "558" : "559";
    const nVf = int(0, 3);
    const opts = [];
    for (const h of hosts) {
      const mdev = h.resources.filter((x) => x.mdevType === t).sort((a, b) => Number(a.create) - Number(b.create));
      const net = h.resources.filter((x) => x.id === "net:pool");
      if (!mdev.length || (nVf && !net.length)) continue;
      if (nVf > (net[0]?.capacity ?? 0)) continue;
      const devs = [{ deviceId: `vm${v}-gpu`, resources: mdev.map((x) => x.id) }];
      for (let k = 0; k < nVf; k++) devs.push({ deviceId: `vm${v}-vf${k}`, resources: ["net:pool"] });
      opts.push({ host: h.key, groups: groupDevices(devs), key: r() });
    }
    opts.sort((a, b) => a.key - b.key);
    vms.push({ devices: 1 + nVf, options: opts.slice(0, nVms).map(({ host, groups }) => ({ host, groups })) });
  }
  return { vms, hosts };
}

