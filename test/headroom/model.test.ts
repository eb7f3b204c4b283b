/**
 * The fleet model's shortcuts against brute force: in every simulation and
 * after every commit, bestFull / closest / bestOptions (first untouched host
 * in pristine order + touched hosts matched again) equal the minimum over
 * every host still up, matched now, as Evacuation computes it.
 */
import { createsDevice } from "../../src/candidates/types.js";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DescriptorSelector, loadDescriptorDir } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import { type FleetModel as FM, FleetModel, compareHostOptions } from "../../src/matching/headroom.js";
import type { HostReport } from "../../src/pipeline.js";
import { compareHosts } from "../../src/ranking/rank.js";
import { readTarget } from "../../src/targets/index.js";
import { parseTargetSpec } from "../../src/targets/keys.js";
import { genFleet } from "../helpers/fleet.js";
import { ROOT } from "../helpers/cli.js";

async function model(dirs: string[], descriptors?: string): Promise<FM> {
  const sel = new DescriptorSelector(descriptors ? loadDescriptorDir(descriptors) : []);
  const m = new FleetModel({ assumeVersions: false, explain: false }, false);
  for (const d of dirs)
    m.addHost(buildInventory(await readTarget(parseTargetSpec(d, "--host"), { timeoutMs: 10000 })), sel);
  m.finish();
  return m;
}

/** Check every shortcut of every simulation against brute force, committing as placeAll would. */
function check(m: FM): number {
  let checks = 0;
  const n = m.hosts.length;
  for (let d = 0; d < n; d++) {
    const down = m.hostKeys()[d]!;
    const shard = m.shard([down]);
    const up = [...Array(n).keys()].filter((hi) => hi !== d);
    // brute force uses the shard's own capacity state through trialOn
    const st = shard as unknown as {
      usedOf(hi: number): Map<string, number>;
      locksOf(hi: number): Map<string, string>;
      uuidTaken: Set<string>;
    };
    const trial = (vi: number, hi: number) =>
      m.trialOn(m.vms[shard.vmIds[vi]!]!, hi, st.usedOf(hi), st.locksOf(hi), new Set(st.uuidTaken));
    for (let vi = 0; vi < shard.vmIds.length; vi++) {
      const vm = m.vms[shard.vmIds[vi]!]!;
      const feasible = m.sigOf(vm).feasible;
      let best: HostReport | null = null;
      let closest: HostReport | null = null;
      const opts: { created: number; rep: HostReport; hi: number }[] = [];
      for (const hi of up) {
        const { rep, m: mm } = trial(vi, hi);
        if (!closest || compareHosts(rep, closest) < 0) closest = rep;
        if (!feasible.has(hi) || rep.status !== "full") continue;
        if (!best || compareHosts(rep, best) < 0) best = rep;
        const c = m.compose(vm, hi);
        let created = 0;
        for (const rid of mm.assignment.values()) if (createsDevice(c.resources.get(rid)!.target)) created++;
        opts.push({ created, rep, hi });
      }
      expect(shard.bestFull(vi)?.host ?? null).toBe(best?.host ?? null);
      expect(shard.closest(vi)?.host ?? null).toBe(closest?.host ?? null);
      opts.sort(compareHostOptions);
      expect(shard.bestOptions(vi, 3).map((o) => o.hi)).toEqual(opts.slice(0, 3).map((o) => o.hi));
      checks++;
      if (best) shard.commit(vi, best.host);
    }
  }
  return checks;
}

describe("fleet model shortcuts", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hdplan-model-"));
    genFleet(dir, [
      ...["--hosts", "12", "--domains-per-host", "6", "--gpus-per-host", "1"],
      ...["--nics-per-host", "1", "--vfs-per-nic", "8", "--old-fraction", "0", "--seed", "9"],
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("equal brute force on the samples", async () => {
    const hosts = readdirSync(join(ROOT, "xml-samples/hosts"))
      .sort()
      .map((h) => join(ROOT, "xml-samples/hosts", h));
    expect(check(await model(hosts, join(ROOT, "xml-samples/descriptors")))).toBeGreaterThan(15);
  }, 120000);

  it("equal brute force on a tight generated fleet, commit after commit", async () => {
    const hosts = readdirSync(join(dir, "hosts"))
      .sort()
      .map((h) => join(dir, "hosts", h));
    const m = await model(hosts);
    expect(new Set(m.vms.map((v) => v.sig)).size).toBeGreaterThan(3);
    expect(check(m)).toBeGreaterThan(40);
  }, 120000);
});
