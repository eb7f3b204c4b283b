/** Worker threads give byte-identical results to the in-process path. */
import { describe, expect, it } from "vitest";
import { MIN_HOSTS_FOR_WORKERS, workerCount } from "../src/parallel/pool.js";
import { hdplan, SAMPLE_PLAN_ARGS } from "./helpers/cli.js";

const args = [...SAMPLE_PLAN_ARGS, "--format", "json"];

describe("worker threads", () => {
  it("plan output is identical with 0, 2 and 3 workers", () => {
    const outs = ["0", "2", "3"].map((w) => hdplan(args, { env: { HDPLAN_WORKERS: w } }));
    for (const o of outs) expect(o.code).toBe(0);
    expect(outs[1]!.stdout).toBe(outs[0]!.stdout);
    expect(outs[2]!.stdout).toBe(outs[0]!.stdout);
  });

  it("evacuate output is identical with 0, 2 and 3 worker shards", () => {
    const ev = [
      "evacuate",
      "--source",
      "xml-samples/hosts/src-host",
      "--hosts-file",
      "xml-samples/hosts.txt",
    ];
    const outs = ["0", "2", "3"].map((w) =>
      hdplan([...ev, "--descriptors", "xml-samples/descriptors", "--format", "json"], {
        env: { HDPLAN_WORKERS: w },
      }),
    );
    const j = JSON.parse(outs[0]!.stdout);
    expect(j.placements.length).toBeGreaterThan(3);
    expect(j.placements.some((p: { host: string | null }) => p.host !== null)).toBe(true);
    expect(outs[1]!.stdout).toBe(outs[0]!.stdout);
    expect(outs[2]!.stdout).toBe(outs[0]!.stdout);
    expect(outs[1]!.code).toBe(outs[0]!.code);
  });

  it("an input error inside a worker is still exit 2 with one line", () => {
    const r = hdplan([...args, "--host", "xml-samples/domains"], { env: { HDPLAN_WORKERS: "2" } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("xml-samples/domains");
  });

  it("with bad targets among good ones, the earliest bad target is named, whichever thread read it", () => {
    // The main thread and the workers take hosts from one queue: which of
    // them meets a bad target depends on timing, the message must not.
    const bad = [
      ...args,
      "--host",
      "xml-samples/hosts/src-host",
      "--host",
      "xml-samples/domains",
      "--host",
      "xml-samples/hosts/src-host/nodedev",
      "--host",
      "xml-samples/descriptors",
    ];
    const outs = ["0", "2", "3", "2", "3"].map((w) => hdplan(bad, { env: { HDPLAN_WORKERS: w } }));
    expect(outs[0]!.code).toBe(2);
    expect(outs[0]!.stderr).toContain("xml-samples/domains");
    for (const o of outs) {
      expect(o.code).toBe(2);
      expect(o.stderr).toBe(outs[0]!.stderr);
    }
  });
});

describe("workerCount", () => {
  const none = {};
  it("uses no workers below the measured threshold", () => {
    expect(MIN_HOSTS_FOR_WORKERS).toBe(400);
    expect(workerCount(MIN_HOSTS_FOR_WORKERS - 1, none, 2)).toBe(0);
    expect(workerCount(MIN_HOSTS_FOR_WORKERS, none, 2)).toBe(2);
  });
  it("uses one per core, at most 8, and none on a single core", () => {
    expect(workerCount(5000, none, 4)).toBe(4);
    expect(workerCount(5000, none, 64)).toBe(8);
    expect(workerCount(5000, none, 1)).toBe(0);
  });
  it("HDPLAN_WORKERS overrides the threshold", () => {
    expect(workerCount(10, { HDPLAN_WORKERS: "2" }, 2)).toBe(2);
    expect(workerCount(5000, { HDPLAN_WORKERS: "0" }, 2)).toBe(0);
    expect(workerCount(5000, { HDPLAN_WORKERS: "junk" }, 2)).toBe(0);
  });
});
