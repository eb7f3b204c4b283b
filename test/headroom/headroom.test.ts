/**
 * hdplan headroom: every simulated loss of one host gives the same placements
 * (domains, destinations, assignments, reasons) as running `hdplan evacuate
 * --source THAT-HOST --host EVERY-OTHER-HOST` by hand, on the samples and on
 * generated fleets; exit codes; --fail N combinations and their bound.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, hdplan } from "../helpers/cli.js";
import { genFleet } from "../helpers/fleet.js";

interface Sim {
  down: string[];
  placements: {
    domain: string;
    uuid: string;
    source: string;
    host: string | null;
    assignments: unknown[];
    reasons: { code: string; message: string }[];
    warnings: unknown[];
    needs: Record<string, number>;
  }[];
  placed: number;
  stranded: number;
  capacityLeft: Record<string, number>;
}

interface Headroom {
  schemaVersion: number;
  kind: string;
  fail: number;
  combinations: number;
  simulated: number;
  hosts: { host: string; domains: number; free: Record<string, number>; used: Record<string, number> }[];
  types: string[];
  simulations: Sim[];
  summary: {
    stranding: number;
    strandedDomains: number;
    hostsWhoseLossStrands: string[];
    tightest: { type: string; free: number; largestVm: { needs: number } | null; worstLeft: number }[];
  };
  hostErrors: unknown[];
}

function headroom(targets: string[], extra: string[] = []) {
  const r = hdplan(["headroom", ...targets.flatMap((t) => ["--host", t]), ...extra, "--format", "json"], {
    timeoutMs: 120000,
  });
  return { code: r.code, stderr: r.stderr, json: JSON.parse(r.stdout) as Headroom };
}

/** For every simulation, evacuate that host by hand and compare. Returns how many were compared. */
function compareWithEvacuate(targets: string[], keyOf: (t: string) => string, extra: string[] = []): number {
  const { json } = headroom(targets, extra);
  let compared = 0;
  for (const sim of json.simulations) {
    if (sim.placements.length === 0) continue;
    const src = targets.find((t) => keyOf(t) === sim.down[0])!;
    const others = targets.filter((t) => t !== src);
    const ev = hdplan(
      ["evacuate", "--source", src, ...others.flatMap((t) => ["--host", t]), ...extra, "--format", "json"],
      { timeoutMs: 120000 },
    );
    const e = JSON.parse(ev.stdout);
    const mine = sim.placements.map((p) => ({
      domain: p.domain,
      uuid: p.uuid,
      host: p.host,
      assignments: p.assignments,
      reasons: p.reasons,
      warnings: p.warnings,
    }));
    expect(mine, `headroom vs evacuate --source ${src}`).toEqual(e.placements);
    expect(sim.stranded).toBe(e.unplaced);
    expect(ev.code).toBe(e.unplaced > 0 ? 1 : 0);
    for (const p of sim.placements) expect(p.source).toBe(sim.down[0]);
    compared++;
  }
  return compared;
}

const SAMPLES = readdirSync(join(ROOT, "xml-samples/hosts"))
  .sort()
  .map((h) => `xml-samples/hosts/${h}`);
const DESC = ["--descriptors", "xml-samples/descriptors"];

describe("headroom on the samples", () => {
  it("names the stranded domains of each loss, as evacuate does by hand", () => {
    const r = headroom(SAMPLES, DESC);
    expect(r.code).toBe(1);
    expect(r.json.schemaVersion).toBe(1);
    expect(r.json.kind).toBe("hdplan-headroom");
    expect(r.json.simulations.map((s) => s.down[0])).toEqual(SAMPLES.map((s) => s.split("/").pop()));
    const src = r.json.simulations.find((s) => s.down[0] === "src-host")!;
    expect(
      src.placements
        .filter((p) => p.host === null)
        .map((p) => p.domain)
        .sort(),
    ).toEqual(["vm-gvtg", "vm-passthrough-gpu", "vm-viommu"]);
    const gvtg = src.placements.find((p) => p.domain === "vm-gvtg")!;
    expect(gvtg.reasons.map((x) => x.code)).toContain("driver-not-migratable");
    expect(r.json.summary.hostsWhoseLossStrands).toEqual(["src-host"]);
    expect(r.json.summary.strandedDomains).toBe(3);
    expect(compareWithEvacuate(SAMPLES, (t) => t.split("/").pop()!, DESC)).toBe(7);
  }, 180000);

  it("exit 0 when no loss strands a domain; the per-type capacity adds up", () => {
    const hosts = ["host-a", "host-b", "host-d", "host-h"].map((h) => `xml-samples/hosts/${h}`);
    const r = headroom(hosts, DESC);
    expect(r.code).toBe(0);
    expect(r.json.summary.stranding).toBe(0);
    for (const s of r.json.simulations) {
      // capacity left = the fleet's free units, minus the host down's, minus what the placements took
      for (const t of r.json.types) {
        const total = r.json.hosts.reduce((a, h) => a + (h.free[t] ?? 0), 0);
        const down = r.json.hosts.find((h) => h.host === s.down[0])!.free[t] ?? 0;
        const taken = s.placements.reduce((a, p) => a + (p.needs[t] ?? 0), 0);
        expect(s.capacityLeft[t] ?? 0, `${t} when ${s.down[0]} is down`).toBeLessThanOrEqual(
          total - down - taken,
        );
      }
    }
    const table = hdplan(["headroom", ...hosts.flatMap((h) => ["--host", h]), ...DESC]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain("No simulated loss strands a domain.");
  }, 180000);

  it("exit 4 (fail-closed) when a host cannot be read, naming it", () => {
    const r = hdplan([
      "headroom",
      "--host",
      "xml-samples/hosts/host-a",
      "--host",
      "test:///nonexistent/dir/h.xml",
    ]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/1 of 2 hosts could not be read.*nonexistent/);
  });

  it("refuses --fail N beyond the bound before reading any host, and bad options", () => {
    const bogus = Array.from({ length: 320 }, (_, i) => `/nonexistent/h${i}`);
    const r = hdplan(["headroom", ...bogus.flatMap((b) => ["--host", b]), "--fail", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--fail 2 over 320 hosts is 5\.10e\+4 combinations, more than the 50000/);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(hdplan(["headroom", "--host", "xml-samples/hosts/host-a", "--fail", "2"]).code).toBe(2);
    expect(hdplan(["headroom", "--host", "xml-samples/hosts/host-a", "--fail", "0"]).code).toBe(2);
    expect(hdplan(["headroom", "--host", "xml-samples/hosts/host-a", "--format", "yaml"]).code).toBe(2);
    expect(hdplan(["headroom"]).stderr).toMatch(/--host TARGET or --hosts-file/);
  });
});

describe("headroom on generated fleets", () => {
  let dir = "";
  let targets: string[] = [];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hdplan-headroom-"));
    // Tight capacity (1 GPU, 8 VFs, 5 guests a host) so that losses strand domains for capacity too.
    genFleet(dir, [
      ...["--hosts", "20", "--domains-per-host", "5", "--gpus-per-host", "1"],
      ...["--nics-per-host", "1", "--vfs-per-nic", "8", "--old-fraction", "0.1", "--seed", "5"],
    ]);
    targets = readdirSync(join(dir, "hosts"))
      .sort()
      .map((h) => join(dir, "hosts", h));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("strands domains for capacity and for source blockers, exactly as evacuate by hand", () => {
    const r = headroom(targets);
    expect(r.code).toBe(1);
    const stranded = r.json.simulations.flatMap((s) => s.placements.filter((p) => p.host === null));
    const capacity = stranded.filter((p) => !p.reasons.some((x) => /too-old/.test(x.code)));
    expect(capacity.length).toBeGreaterThan(0);
    expect(stranded.length).toBeGreaterThan(capacity.length);
    expect(compareWithEvacuate(targets, (t) => t.split("/").pop()!)).toBeGreaterThan(15);
  }, 300000);

  it("--include-inactive and --assume-versions give evacuate's answers too", () => {
    expect(
      compareWithEvacuate(targets.slice(0, 8), (t) => t.split("/").pop()!, [
        "--include-inactive",
        "--assume-versions",
      ]),
    ).toBeGreaterThan(4);
  }, 300000);

  it("live targets (libvirt test driver) give evacuate's answers too; duplicate keys exit 2", () => {
    const td = mkdtempSync(join(tmpdir(), "hdplan-headroom-td-"));
    try {
      genFleet(td, [
        ...["--hosts", "6", "--domains-per-host", "4", "--gpus-per-host", "1"],
        ...["--nics-per-host", "1", "--vfs-per-nic", "6", "--seed", "3", "--format", "testdriver"],
      ]);
      const uris = readdirSync(join(td, "testdriver"))
        .sort()
        .map((f) => `test://${join(td, "testdriver", f)}`);
      const r = headroom(uris);
      expect([0, 1]).toContain(r.code);
      expect(r.json.hosts.map((h) => h.host)).toEqual(
        uris.map((u) =>
          u
            .split("/")
            .pop()!
            .replace(/\.xml$/, ""),
        ),
      );
      expect(r.json.hosts.reduce((a, h) => a + h.domains, 0)).toBeGreaterThan(5);
      expect(
        compareWithEvacuate(uris, (t) =>
          t
            .split("/")
            .pop()!
            .replace(/\.xml$/, ""),
        ),
      ).toBeGreaterThan(3);
      const dup = hdplan(["headroom", "--host", `a=${uris[0]}`, "--host", `a=${uris[1]}`]);
      expect(dup.code).toBe(2);
      expect(dup.stderr).toMatch(/duplicate host key "a"/);
    } finally {
      rmSync(td, { recursive: true, force: true });
    }
  }, 300000);

  it("--fail 2: every pair, stranding pairs listed, and never fewer stranded than the worse single loss of a pair's domains", () => {
    const sub = targets.slice(0, 10);
    const one = headroom(sub).json;
    const two = headroom(sub, ["--fail", "2"]);
    expect(two.json.fail).toBe(2);
    expect(two.json.combinations).toBe(45);
    for (const s of two.json.simulations) {
      expect(s.down).toHaveLength(2);
      expect(s.stranded).toBeGreaterThan(0);
      // domains stranded when one of the pair fails alone (source blockers or no feasible host) stay stranded
      for (const k of s.down) {
        const alone = one.simulations.find((x) => x.down[0] === k)!;
        for (const p of alone.placements.filter((x) => x.host === null && x.reasons.length > 1)) {
          if (!p.reasons.some((x) => /too-old/.test(x.code))) continue;
          expect(s.placements.find((x) => x.uuid === p.uuid)?.host).toBeNull();
        }
      }
      expect(new Set(s.placements.map((p) => p.source))).toEqual(
        new Set(s.down.filter((k) => one.hosts.find((h) => h.host === k)!.domains > 0)),
      );
    }
    // a pair strands at least what each of its hosts strands alone, when that is a source blocker
    expect(two.json.summary.stranding).toBeGreaterThanOrEqual(one.summary.stranding);
  }, 300000);
});
