/**
 * A worker's set-up gets the main thread's source inventory encoded
 * (workerInput) instead of reading the source's XML again: it must plan and
 * evacuate exactly as a set-up that read the XML, and an encoded inventory
 * that does not decode is ignored (the XML is read).
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readDumpDir } from "../src/targets/dump.js";
import { type PlanSetupInput, setupPlanner, workerInput } from "../src/parallel/setup.js";
import { type EvacSetupInput, setupEvacuation } from "../src/parallel/setup-evac.js";
import { ROOT } from "./helpers/cli.js";

const HOSTS = join(ROOT, "xml-samples/hosts");
const DOMAINS = join(ROOT, "xml-samples/domains");
const hostNames = readdirSync(HOSTS).sort();
const raw = (h: string) => readDumpDir(join(HOSTS, h), h, join(HOSTS, h));

describe("worker set-up from the main thread's source inventory", () => {
  it.each(readdirSync(DOMAINS).sort())("plan %s: every sample host gets the same report", (d) => {
    const domainFile = join(DOMAINS, d);
    const input: PlanSetupInput = {
      domainText: readFileSync(domainFile, "utf8"),
      domainFile,
      sourceRaw: raw("host-a"),
      assumeVersions: false,
      explain: true,
      cache: false,
    };
    const main = setupPlanner(input);
    const wi = workerInput(input, main.source);
    expect(typeof wi.sourceInventory).toBe("string");
    const worker = setupPlanner(wi);
    const broken = setupPlanner({ ...wi, sourceInventory: "{not json" });
    // Decoded (the codec leaves out the sysfs paths), not read again; the broken one was read.
    const paths = (s: typeof main) => s.source!.devices.filter((x) => x.path !== undefined).length;
    expect(paths(main)).toBeGreaterThan(0);
    expect(paths(worker)).toBe(0);
    expect(paths(broken)).toBe(paths(main));
    expect(worker.descriptorKey).toBe(main.descriptorKey);
    for (const h of hostNames) {
      const want = main.consume(raw(h));
      expect(worker.consume(raw(h))).toEqual(want);
      expect(broken.consume(raw(h))).toEqual(want);
    }
  });

  it.each(hostNames)("evacuate from %s: the same VMs and the same candidates on every host", (src) => {
    const input: EvacSetupInput = {
      sourceRaw: raw(src),
      includeInactive: true,
      assumeVersions: false,
      explain: false,
      cache: false,
    };
    const main = setupEvacuation(input);
    const worker = setupEvacuation(workerInput(input, main.source));
    expect(worker.domains).toEqual(main.domains);
    expect(worker.evac.vmInfo()).toEqual(main.evac.vmInfo());
    for (const h of hostNames) {
      expect(worker.consume(raw(h))).toEqual(main.consume(raw(h)));
    }
    expect(worker.evac.feasibleCounts()).toEqual(main.evac.feasibleCounts());
    expect(worker.evac.summaries(3)).toEqual(main.evac.summaries(3));
  });
});
