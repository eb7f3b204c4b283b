/**
 * readTargets streams: a host read and consumed is dropped before the next
 * ones are read. Its 32 concurrent loops (LIVE_DEFAULTS.hosts) once each kept
 * the RawHost they had just read in the registers of their suspended async
 * frame, so that 32 hosts' XML and inventories lived on, were promoted and
 * cost the garbage collector (docs/benchmarks.md "Twelfth session").
 */
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import type { RawHost } from "../../src/model.js";
import { readTargets } from "../../src/targets/index.js";
import { parseTargetSpec } from "../../src/targets/keys.js";
import { ROOT } from "../helpers/cli.js";

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
});
