/**
 * The inventory cache reads the packs' index once a thread
 * (src/cache/packs.ts): an entry not named there is a miss without a system
 * call. This thread's own entries are found before any commit; one another
 * writer committed after this thread read the index is missed and rebuilt,
 * with the same inventory.
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

type Mods = {
  inv: typeof import("../../src/cache/inventory.js");
  build: typeof import("../../src/inventory/build.js");
  dump: typeof import("../../src/targets/dump.js");
  codec: typeof import("../../src/cache/codec.js");
  packs: typeof import("../../src/cache/packs.js");
};

/** A fresh copy of the cache module (its own view of the index), with the readers it needs. */
async function fresh(): Promise<Mods> {
  vi.resetModules();
  return {
    inv: await import("../../src/cache/inventory.js"),
    build: await import("../../src/inventory/build.js"),
    dump: await import("../../src/targets/dump.js"),
    codec: await import("../../src/cache/codec.js"),
    packs: await import("../../src/cache/packs.js"),
  };
}

function readVia(m: Mods, target: string) {
  const raw = m.inv.readCached(
    target,
    "h",
    (l) => m.dump.readDumpDir(target, "h", target, l),
    m.build.buildInventory,
  );
  // What planning reads of it (a hit holds only that: docs/cache.md).
  return m.codec.encodeInventory(m.build.buildInventory(raw));
}

describe("the packs' index, read once a thread", () => {
  it("finds this thread's own entries and misses, safely, one committed after it read the index", async () => {
    const work = mkdtempSync(join(tmpdir(), "hdplan-names-"));
    const [a, b] = ["a", "b"].map((n) => {
      const dir = join(work, n);
      cpSync(join(SAMPLES, readdirSync(SAMPLES).sort()[0]!), dir, { recursive: true });
      return dir;
    });
    process.env.XDG_CACHE_HOME = join(work, "cache");
    const one = await fresh();
    const s = one.inv.cacheStats;
    const first = readVia(one, a!); // reads the index (none yet), writes a's entry
    expect([s.hits, s.misses, s.writes]).toEqual([0, 1, 1]);
    expect(readVia(one, a!)).toEqual(first); // its own entry: found
    expect([s.hits, s.misses]).toEqual([1, 1]);

    one.packs.commitPacks(); // a's entry into the index
    const other = await fresh(); // another writer: b's entry, committed after one read the index
    expect(readVia(other, a!)).toEqual(first); // one's committed entry: found
    expect([other.inv.cacheStats.hits, other.inv.cacheStats.writes]).toEqual([1, 0]);
    readVia(other, b!);
    expect(other.inv.cacheStats.writes).toBe(1);
    other.packs.commitPacks();
    expect(readdirSync(join(work, "cache/hdplan/inventory")).filter((f) => f.endsWith(".pack"))).toHaveLength(
      2,
    );

    const noCache = readVia(one, b!); // not in the index one read: a miss, rebuilt and written again
    expect([s.hits, s.misses, s.writes]).toEqual([1, 2, 2]);
    expect(readVia(one, b!)).toEqual(noCache);
    expect(s.hits).toBe(2);
    expect(noCache).toEqual(readVia(other, b!));
  });
});
