/**
 * Determinism (issue 7): the same input gives byte-identical JSON every run,
 * whatever the --host order and --concurrency, for plan and evacuate, on the
 * sample fleet (xml-samples/) plus libvirt test-driver hosts.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, hdplanAsync } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { libvirtAvailable } from "../helpers/testdriver.js";
import { pool, writeTestDriverFleet } from "./util.js";
import { mulberry32 } from "../../scripts/fixtures/rng.mjs";

const LIVE = libvirtAvailable();

/** Deterministic shuffle (mulberry32). */
function shuffle<T>(xs: T[], seed: number): T[] {
  const rnd = mulberry32(seed);
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("byte-identical JSON in any host order and at any concurrency", () => {
  let dir = "";
  let hosts: string[] = [];
  beforeAll(() => {
    dir = tempDir("hdplan-det-");
    hosts = readFileSync(join(ROOT, "xml-samples/hosts.txt"), "utf8")
      .split("\n")
      .map((l) => l.replace(/#.*$/, "").trim())
      .filter((l) => l !== "");
    if (LIVE) {
      const td = writeTestDriverFleet(join(dir, "td"));
      hosts.push(`td-full=${td.full}`, `td-nocap=${td.nocap}`, `td-small=${td.small}`);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const orders = () => [
    { order: hosts, concurrency: "8" },
    { order: hosts, concurrency: "8" },
    { order: [...hosts].reverse(), concurrency: "1" },
    { order: shuffle(hosts, 1), concurrency: "8" },
    { order: shuffle(hosts, 2), concurrency: "1" },
    { order: shuffle(hosts, 3), concurrency: "3" },
  ];

  async function same(base: string[]) {
    const runs = await pool(orders(), 2, ({ order, concurrency }) =>
      hdplanAsync([
        ...base,
        ...order.flatMap((h) => ["--host", h]),
        "--concurrency",
        concurrency,
        "--format",
        "json",
      ]),
    );
    for (const r of runs) expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(runs[0]!.stdout.length).toBeGreaterThan(100);
    JSON.parse(runs[0]!.stdout);
    for (const r of runs.slice(1)) {
      expect(r.code).toBe(runs[0]!.code);
      expect(r.stdout).toBe(runs[0]!.stdout);
    }
    return runs[0]!;
  }

  it("plan (vm-mixed, with descriptors)", async () => {
    const r = await same([
      "plan",
      "--domain",
      "xml-samples/domains/vm-mixed.xml",
      "--source",
      "xml-samples/hosts/src-host",
      "--descriptors",
      "xml-samples/descriptors",
    ]);
    expect(JSON.parse(r.stdout).hosts.length).toBe(hosts.length);
  });

  it("plan (vm-vgpu)", async () => {
    await same([
      "plan",
      "--domain",
      "xml-samples/domains/vm-vgpu.xml",
      "--source",
      "xml-samples/hosts/src-host",
    ]);
  });

  it("evacuate (--include-inactive)", async () => {
    const r = await same([
      "evacuate",
      "--source",
      "xml-samples/hosts/src-host",
      "--include-inactive",
      "--descriptors",
      "xml-samples/descriptors",
    ]);
    expect(JSON.parse(r.stdout).placements.length).toBeGreaterThan(0);
  });
});
