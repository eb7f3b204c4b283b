/**
 * Exhaustive reference for the placement engine, written without its model:
 * every map of VMs to hosts (or none), each host's set checked by a
 * depth-first search over device -> unit choices under the capacities and the
 * one-type-per-GPU rule. Returns the best score on all four objective levels
 * (most VMs, most devices, fewest new mdevs, smallest rank sum).
 */
import type { PHost, PlacementProblem, Score, VmPlacement } from "../../src/placement/problem.js";

type HostCheck = { created: number } | null;

/** Fewest created units to place all devices of `vms` on `h`, or null when impossible. */
export function hostMin(p: PlacementProblem, h: PHost, vms: number[]): HostCheck {
  const devs: { res: string[]; vm: number; group: string }[] = [];
  for (const v of vms) {
    const o = p.vms[v]!.options.find((x) => x.host === h.key)!;
    o.groups.forEach((g, gi) => {
      for (const _ of g.devices) devs.push({ res: g.resources, vm: v, group: `${v}/${gi}` });
    });
  }
  const byId = new Map(h.resources.map((r) => [r.id, r]));
  const left = new Map(h.resources.map((r) => [r.id, r.capacity]));
  const type = new Map<string, string>(h.locks);
  const typeCount = new Map<string, number>();
  let best: number | null = null;
  const pick: number[] = [];
  const rec = (i: number, created: number) => {
    if (best !== null && created >= best) return;
    if (i === devs.length) {
      best = created;
      return;
    }
    const d = devs[i]!;
    // Interchangeable devices (same VM and group) take units in list order.
    const from = i > 0 && devs[i - 1]!.group === d.group ? pick[i - 1]! : 0;
    for (let k = from; k < d.res.length; k++) {
      const r = byId.get(d.res[k]!);
      if (!r || (left.get(r.id) ?? 0) <= 0) continue;
      const gpu = r.gpu && r.mdevType ? r.gpu : null;
      if (gpu && type.has(gpu) && type.get(gpu) !== r.mdevType) continue;
      left.set(r.id, left.get(r.id)! - 1);
      let setType = false;
      if (gpu) {
        if (!type.has(gpu)) {
          type.set(gpu, r.mdevType!);
          setType = true;
        }
        typeCount.set(gpu, (typeCount.get(gpu) ?? 0) + 1);
      }
      pick[i] = k;
      rec(i + 1, created + (r.create ? 1 : 0));
      if (gpu) {
        typeCount.set(gpu, typeCount.get(gpu)! - 1);
        if (setType) type.delete(gpu);
      }
      left.set(r.id, left.get(r.id)! + 1);
    }
  };
  rec(0, 0);
  return best === null ? null : { created: best };
}

export function exhaustive(p: PlacementProblem): Score {
  const hosts = new Map(p.hosts.map((h) => [h.key, h]));
  const memo = new Map<string, HostCheck>();
  const check = (hk: string, vms: number[]): HostCheck => {
    const k = `${hk}|${vms.join(",")}`;
    if (!memo.has(k)) memo.set(k, hostMin(p, hosts.get(hk)!, vms));
    return memo.get(k)!;
  };
  const onHost = new Map<string, number[]>();
  let best: Score | null = null;
  const better = (a: Score, b: Score) =>
    a.vms !== b.vms
      ? a.vms > b.vms
      : a.devices !== b.devices
        ? a.devices > b.devices
        : a.created !== b.created
          ? a.created < b.created
          : a.rank < b.rank;
  const rec = (v: number, s: Omit<Score, "created">) => {
    if (v === p.vms.length) {
      let created = 0;
      for (const [hk, vms] of onHost) if (vms.length) created += check(hk, vms)!.created;
      const full = { ...s, created };
      if (!best || better(full, best)) best = full;
      return;
    }
    // Bound: even placing every remaining VM cannot beat the best count.
    if (best && s.vms + (p.vms.length - v) < (best as Score).vms) return;
    const vm = p.vms[v]!;
    vm.options.forEach((o, oi) => {
      const l = onHost.get(o.host) ?? [];
      l.push(v);
      onHost.set(o.host, l);
      if (check(o.host, l))
        rec(v + 1, { vms: s.vms + 1, devices: s.devices + vm.devices, rank: s.rank + oi });
      l.pop();
    });
    rec(v + 1, s);
  };
  rec(0, { vms: 0, devices: 0, rank: 0 });
  return best!;
}

/**
 * Independent check of a solution against the raw problem: every unit
 * promised at most as often as it exists, every device on one of its own
 * candidates, one vGPU type per GPU. Throws on the first violation.
 */
export function checkPromises(p: PlacementProblem, placed: (VmPlacement | null)[]): void {
  const units = new Map<string, number>();
  const gpuTypes = new Map<string, Set<string>>();
  for (const h of p.hosts) for (const [g, t] of h.locks) gpuTypes.set(`${h.key} ${g}`, new Set([t]));
  placed.forEach((pl, v) => {
    if (!pl) return;
    const vm = p.vms[v]!;
    const o = vm.options.find((x) => x.host === pl.host);
    if (!o) throw new Error(`vm ${v} on non-candidate ${pl.host}`);
    const devs = o.groups.flatMap((g) => g.devices.map((d) => ({ d, res: g.resources })));
    if (pl.assignment.length !== devs.length) throw new Error(`vm ${v}: partial placement`);
    const seen = new Set<string>();
    for (const [d, rid] of pl.assignment) {
      if (seen.has(d)) throw new Error(`vm ${v}: device ${d} twice`);
      seen.add(d);
      const dev = devs.find((x) => x.d === d);
      if (!dev?.res.includes(rid)) throw new Error(`vm ${v}: ${d} -> ${rid} not a candidate`);
      const r = p.hosts.find((h) => h.key === pl.host)!.resources.find((x) => x.id === rid)!;
      const k = `${pl.host} ${rid}`;
      units.set(k, (units.get(k) ?? 0) + 1);
      if (units.get(k)! > r.capacity)
        throw new Error(`${k} promised ${units.get(k)} times, has ${r.capacity}`);
      if (r.gpu && r.mdevType) {
        const gk = `${pl.host} ${r.gpu}`;
        const s = gpuTypes.get(gk) ?? new Set<string>();
        s.add(r.mdevType);
        gpuTypes.set(gk, s);
        if (s.size > 1) throw new Error(`${gk} serves types ${[...s].join(", ")}`);
      }
    }
  });
}
