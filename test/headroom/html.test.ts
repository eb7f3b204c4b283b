/**
 * The HTML reports in a real browser: headless Chromium loads each page, the
 * page's script runs, and the test reads the DOM (--dump-dom) for the
 * stranded domains and the counts. Screenshots go to tmp/test-output/headroom/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { HeadroomResult } from "../../src/commands/headroom.js";
import { headroomToHtml } from "../../src/output/html.js";
import { reason } from "../../src/reasons.js";
import { ROOT, SAMPLE_PLAN_ARGS, hdplan } from "../helpers/cli.js";
import { dumpDom, screenshot } from "./browser.js";

const OUT = join(ROOT, "tmp/test-output/headroom");
mkdirSync(OUT, { recursive: true });

const SAMPLES = ["a", "b", "c", "d", "e", "f", "g", "h"].map((h) => `xml-samples/hosts/host-${h}`);
const FLEET = [...SAMPLES, "xml-samples/hosts/src-host"].flatMap((h) => ["--host", h]);
const DESC = ["--descriptors", "xml-samples/descriptors"];

function selfContained(html: string): void {
  expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
  expect(html).not.toMatch(/<link\b|<script[^>]+src=|<img\b|@import|url\(|https?:\/\//i);
}

/** Attributes of the elements matching a tag + attribute in a DOM dump. */
function rowsOf(dom: string, attr: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const m of dom.matchAll(/<tr class="row[^"]*"([^>]*)>/g)) {
    const a: Record<string, string> = {};
    for (const x of m[1]!.matchAll(/data-([a-z]+)="([^"]*)"/g)) a[x[1]!] = x[2]!;
    if (attr in a) out.push(a);
  }
  return out;
}

describe("HTML reports in headless Chromium", () => {
  it("headroom: the stranded domains, the counts, and the #filter= preset", () => {
    const r = hdplan(["headroom", ...FLEET, ...DESC, "--format", "html"]);
    expect(r.code).toBe(1);
    selfContained(r.stdout);
    const file = join(OUT, "headroom-samples.html");
    writeFileSync(file, r.stdout);
    const dom = dumpDom(file);
    expect(dom).toContain('data-ready="1"');
    expect(dom).toMatch(/<span id="shown">9<\/span> of 9 rows/);
    const rows = rowsOf(dom, "down");
    expect(rows.map((x) => x.down).sort()).toEqual(
      [...SAMPLES.map((s) => s.split("/").pop()), "src-host"].sort(),
    );
    expect(rows.find((x) => x.down === "src-host")!.stranded).toBe("3");
    expect(rows.filter((x) => x.stranded !== "0")).toHaveLength(1);
    const stranded = [...dom.matchAll(/class="stranded" data-domain="([^"]+)"/g)].map((m) => m[1]).sort();
    expect(stranded).toEqual(["vm-gvtg", "vm-passthrough-gpu", "vm-viommu"]);
    // the stranding group is open with its details shown; the group counts were written by the script
    expect(dom).toMatch(/Loss strands domains \(<span class="cnt">1<\/span>\)/);
    expect(dom).toMatch(/<tr class="det" id="d-s8">[\s\S]*driver-not-migratable/);
    const filtered = dumpDom(file, "#filter=vm-gvtg");
    expect(filtered).toMatch(/<span id="shown">1<\/span> of 9 rows/);
    const visible = rowsOf(filtered, "down").filter((x) => x.down);
    expect(visible).toHaveLength(9);
    expect(filtered).toMatch(/class="row open" data-id="s8"[^>]*data-down="src-host"/);
    expect((filtered.match(/class="row[^"]*filtered[^"]*"/g) ?? []).length).toBe(8);
    screenshot(file, join(OUT, "headroom-samples.png"));
  }, 240000);

  it("headroom at 1,000 hosts: groups, counts and filter still work", () => {
    const types = ["nvidia-558", "pci 15b3:101e"];
    const r: HeadroomResult = {
      schemaVersion: 1,
      kind: "hdplan-headroom",
      fail: 1,
      combinations: 1000,
      simulated: 1000,
      hosts: Array.from({ length: 1000 }, (_, i) => ({
        host: `host-${String(i).padStart(4, "0")}`,
        target: `/x/host-${i}`,
        domains: 5,
        free: { "nvidia-558": i % 7, "pci 15b3:101e": 10 },
        used: { "nvidia-558": 2, "pci 15b3:101e": 3 },
      })),
      types,
      simulations: Array.from({ length: 1000 }, (_, i) => {
        const host = `host-${String(i).padStart(4, "0")}`;
        const placements = Array.from({ length: 5 }, (_, k) => ({
          domain: `vm-${i}-${k}`,
          uuid: `u-${i}-${k}`,
          source: host,
          host: i % 100 === 0 && k === 0 ? null : `host-${String((i + k + 1) % 1000).padStart(4, "0")}`,
          assignments: [],
          reasons:
            i % 100 === 0 && k === 0 ? [reason("capacity-taken", "no host can take every device now")] : [],
          warnings: [],
          devices: 2,
          feasibleHosts: 3,
          needs: { "nvidia-558": 1, "pci 15b3:101e": 1 },
        }));
        const stranded = placements.filter((p) => p.host === null).length;
        return {
          down: [host],
          placements,
          placed: 5 - stranded,
          stranded,
          capacityLeft: { "nvidia-558": 10, "pci 15b3:101e": 100 },
        };
      }),
      summary: {
        stranding: 10,
        strandedDomains: 10,
        hostsWhoseLossStrands: [],
        tightest: types.map((t) => ({
          type: t,
          free: 3000,
          largestVm: { domain: "vm-0-0", host: "host-0000", needs: 1 },
          worstLeft: 2,
          worstDown: ["host-0000"],
          strandedNeeding: 10,
        })),
      },
      hostErrors: [],
    };
    const html = headroomToHtml(r);
    selfContained(html);
    const file = join(OUT, "headroom-1000.html");
    writeFileSync(file, html);
    const dom = dumpDom(file, "#filter=host-0500");
    expect(dom).toContain('data-ready="1"');
    // host-0500 is down in one row and a destination in five others (rows 495-499)
    expect(dom).toMatch(/<span id="shown">6<\/span> of 1000 rows/);
    expect(dom).toMatch(/Loss strands domains \(<span class="cnt">1<\/span>\)/);
    const all = dumpDom(file);
    expect(all).toMatch(/<span id="shown">1000<\/span> of 1000 rows/);
    expect(all).toMatch(/Loss strands domains \(<span class="cnt">10<\/span>\)/);
    expect(all).toMatch(/Every domain placed elsewhere \(<span class="cnt">990<\/span>\)/);
    expect([...all.matchAll(/class="stranded" data-domain="([^"]+)"/g)]).toHaveLength(10);
    screenshot(file, join(OUT, "headroom-1000.png"));
  }, 240000);

  it("plan --format html: hosts x devices with reasons, the same counts as the JSON", () => {
    const args = SAMPLE_PLAN_ARGS;
    const json = JSON.parse(hdplan([...args, "--format", "json"]).stdout);
    const r = hdplan([...args, "--format", "html"]);
    expect(r.code).toBe(0);
    selfContained(r.stdout);
    const file = join(OUT, "plan.html");
    writeFileSync(file, r.stdout);
    const dom = dumpDom(file);
    const rows = rowsOf(dom, "host");
    expect(rows.map((x) => `${x.host}:${x.status}`)).toEqual(
      json.hosts.map((h: { host: string; status: string }) => `${h.host}:${h.status}`),
    );
    for (const d of json.devices) expect(dom).toContain(`>${d.id}</th>`);
    expect(dom).toContain(`best host <b>${json.best}</b>`);
    const codes = new Set<string>(
      json.hosts.flatMap((h: { unassigned: { reasons: { code: string }[] }[] }) =>
        h.unassigned.flatMap((u) => u.reasons.map((x) => x.code)),
      ),
    );
    for (const c of codes) expect(dom).toContain(`<code>${c}`);
    screenshot(file, join(OUT, "plan.png"));
  }, 240000);

  it("evacuate --format html: where each domain goes and why the others are stranded", () => {
    const r = hdplan([
      "evacuate",
      "--source",
      "xml-samples/hosts/src-host",
      "--hosts-file",
      "xml-samples/hosts.txt",
      ...DESC,
      "--format",
      "html",
    ]);
    expect(r.code).toBe(1);
    selfContained(r.stdout);
    const file = join(OUT, "evacuate.html");
    writeFileSync(file, r.stdout);
    const dom = dumpDom(file);
    const rows = rowsOf(dom, "domain");
    expect(
      rows
        .filter((x) => x.host === "")
        .map((x) => x.domain)
        .sort(),
    ).toEqual(["vm-gvtg", "vm-passthrough-gpu", "vm-viommu"]);
    expect(rows.filter((x) => x.host !== "")).toHaveLength(4);
    expect(dom).toMatch(/stranded<b>3<\/b>/);
    expect(dom).toMatch(
      /vm-mixed<\/span>, <span data-domain="vm-net">vm-net<\/span>, <span data-domain="vm-vgpu">vm-vgpu<\/span> <span class="to">→ host-a/,
    );
  }, 240000);
});
