/**
 * readTargets streams: a host read and consumed is dropped before the next
 * ones are read. Its 32 concurrent loops (LIVE_DEFAULTS.hosts) once each kept
 * the RawHost they had just read in the registers of their suspended async
 * frame, so that 32 hosts' XML and inventories lived on, were promoted and
 * cost the garbage collector (docs/benchmarks.md "Twelfth session"); and
 * each loop read its file host before any was consumed, so that 32 hosts
 * were alive between read and result ("Nineteenth session").
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { RawHost } from "../../src/model.js";
import { readTargets } from "../../src/targets/index.js";
import { parseTargetSpec } from "../../src/targets/keys.js";
import { useDeviceMemo } from "../../src/xml/nodedev.js";
import { scanPassCount } from "../../src/xml/scan.js";
import { ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const SAMPLE = join(ROOT, "xml-samples", "hosts", "host-a");

describe("readTargets", () => {
  it("keeps no host it has consumed alive while it reads the next ones (32 loops)", async () => {
    const n = 80;
    const specs = Array.from({ length: n }, (_, i) => parseTargetSpec(`h${i}=${SAMPLE}`));
    const refs: WeakRef<RawHost>[] = [];
    const aliveAt: number[] = [];
    const results = await readTargets(specs, {
      timeoutMs: 10_000,
      concurrency: 32,
      cache: false,
      consume: (raw) => {
        // Every host before the one just read: how many are still reachable?
        if (refs.length >= 40) {
          gc();
          aliveAt.push(refs.filter((r) => r.deref() !== undefined).length);
        }
        refs.push(new WeakRef(raw));
        return raw.key;
      },
    });
    expect(results.map((r) => (r.ok ? r.host : null))).toEqual(specs.map((_, i) => `h${i}`));
    expect(aliveAt.length).toBe(n - 40);
    // At most the host read just before (its loop may not have moved on yet).
    expect(Math.max(...aliveAt)).toBeLessThanOrEqual(1);
  });

  it("turns each file host into its result before the next one is read (32 loops)", async () => {
    const n = 40;
    const specs = Array.from({ length: n }, (_, i) => parseTargetSpec(`h${i}=${SAMPLE}`));
    // With the inventory cache a host's XML is read into its inventory as the
    // host is read (a fresh cache: every host a miss). The XML scans of one
    // host, and then how many scans had run when each host was consumed
    // (the device memo off: with it, a file read before is not scanned).
    const xdg = process.env.XDG_CACHE_HOME;
    const cache = tempDir("hdplan-read-order-");
    process.env.XDG_CACHE_HOME = cache;
    useDeviceMemo(false);
    const seen: number[] = [];
    let perHost: number;
    try {
      const first = scanPassCount();
      await readTargets([parseTargetSpec(`first=${SAMPLE}`)], {
        timeoutMs: 10_000,
        concurrency: 1,
        cache: true,
      });
      perHost = scanPassCount() - first;
      const base = scanPassCount();
      await readTargets(specs, {
        timeoutMs: 10_000,
        concurrency: 32,
        cache: true,
        consume: (raw) => {
          seen.push(scanPassCount() - base);
          return raw.key;
        },
      });
    } finally {
      useDeviceMemo(true);
      rmSync(cache, { recursive: true, force: true });
      if (xdg === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = xdg;
    }
    expect(perHost).toBeGreaterThan(0);
    // Host i is consumed when hosts 0..i have been read, and no later one.
    expect(seen).toEqual(specs.map((_, i) => (i + 1) * perHost));
  });
});
