/**
 * How a thread writes its inventory entries (src/cache/inventory.ts
 * deferCacheWrites): here, unless the median of its first 16 writes is
 * slower than the threshold; then on libuv's thread pool, every entry still
 * written, whole, before flushCacheWrites returns, and no temporary file
 * left. A thread that never called deferCacheWrites (it may make libvirt
 * calls) always writes here.
 */
import { cpSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { ROOT } from "../helpers/cli.js";

const SAMPLES = join(ROOT, "xml-samples/hosts");
const saved = process.env.XDG_CACHE_HOME;
afterAll(() => {
  if (saved === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved;
});

const N = 24;

/** N copies of a sample host (made before the cache's clock: not racy), a fresh cache module, a fresh cache. */
async function setup() {
  const work = mkdtempSync(join(tmpdir(), "hdplan-wmode-"));
  const sample = join(SAMPLES, readdirSync(SAMPLES).sort()[0]!);
  const dirs = Array.from({ length: N }, (_, i) => {
    const d = join(work, `h${i}`);
    cpSync(sample, d, { recursive: true });
    return d;
  });
  process.env.XDG_CACHE_HOME = join(work, "cache");
  vi.resetModules();
  const inv = await import("../../src/cache/inventory.js");
  const build = await import("../../src/inventory/build.js");
  const dump = await import("../../src/targets/dump.js");
  await new Promise((r) => setTimeout(r, 5)); // the files' stamps before the clock's
  const read = (d: string) =>
    inv.readCached(d, "h", (l) => dump.readDumpDir(d, "h", d, l), build.buildInventory);
  const entries = () => readdirSync(join(work, "cache/hdplan"));
  return { inv, dirs, read, entries };
}

describe("cache entry writes: here or on the thread pool", () => {
  it("a thread that may call libvirt writes here: every entry is there at once", async () => {
    const { inv, dirs, read, entries } = await setup();
    for (const d of dirs) read(d);
    expect(inv.cacheWriteMode()).toBe("sync");
    expect(inv.cacheStats.writes).toBe(N);
    expect(entries().filter((f) => f.endsWith(".v4"))).toHaveLength(N);
  });

  it("fast writes (below the threshold): written here after the sample too", async () => {
    const { inv, dirs, read, entries } = await setup();
    inv.deferCacheWrites(Number.POSITIVE_INFINITY);
    dirs.slice(0, 15).forEach(read);
    expect(inv.cacheWriteMode()).toBe("sampling");
    dirs.slice(15).forEach(read);
    expect(inv.cacheWriteMode()).toBe("sync");
    expect(inv.cacheStats.writes).toBe(N); // no write waits
    await inv.flushCacheWrites();
    expect(entries().filter((f) => f.endsWith(".v4"))).toHaveLength(N);
  });

  it("slow writes (above the threshold): the rest go to the pool, all done by the flush, no temporary file left", async () => {
    const { inv, dirs, read, entries } = await setup();
    inv.deferCacheWrites(-1);
    for (const d of dirs) read(d);
    expect(inv.cacheWriteMode()).toBe("deferred");
    expect(inv.cacheStats.writes).toBe(16); // the sample, written here
    await inv.flushCacheWrites();
    expect(inv.cacheStats.writes).toBe(N);
    expect(inv.cacheWriteMode()).toBe("sync");
    expect(entries().filter((f) => f.endsWith(".v4"))).toHaveLength(N);
    expect(entries().filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // And the entries are good: a second pass finds every one.
    vi.resetModules();
    const again = await import("../../src/cache/inventory.js");
    const build = await import("../../src/inventory/build.js");
    const dump = await import("../../src/targets/dump.js");
    for (const d of dirs)
      again.readCached(d, "h", (l) => dump.readDumpDir(d, "h", d, l), build.buildInventory);
    expect([again.cacheStats.hits, again.cacheStats.misses]).toEqual([N, 0]);
  });
});
