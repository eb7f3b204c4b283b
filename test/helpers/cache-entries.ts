/**
 * A host's inventory cache entry as the tests see it: where the packs'
 * index says it is (src/cache/packs.ts), its checked bytes, and a planted
 * entry (bytes of a test's own, in a pack of their own, named by the index).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { entryName } from "../../src/cache/inventory.js";
import { type Loc, PACK_FORMAT, packDir, readIndex, writeIndex } from "../../src/cache/packs.js";

/** The packs' directory under an XDG_CACHE_HOME. */
export function packsOf(xdg: string): string {
  return packDir(join(xdg, "hdplan"));
}

/** The index entry of `target` under `key`, read afresh (null: none). */
export function entryLoc(xdg: string, target: string, key: string): Loc | null {
  return readIndex(packsOf(xdg))?.get(entryName(target, key)) ?? null;
}

/** The names in the index (every entry the cache holds). */
export function indexedNames(xdg: string): string[] {
  return [...(readIndex(packsOf(xdg))?.keys() ?? [])];
}

/** The checked bytes of an entry (as an entry file held them before the packs). */
export function entryBytesOf(xdg: string, target: string, key: string): Buffer {
  const l = entryLoc(xdg, target, key);
  if (!l) throw new Error(`no cache entry for ${target}`);
  return readFileSync(join(packsOf(xdg), l.pack)).subarray(l.offset, l.offset + l.length);
}

/**
 * Make `bytes` the entry of `target`: a pack of its own, which the index
 * names with `length` bytes (default: all of them; more: a record cut short).
 */
export function plantEntry(
  xdg: string,
  target: string,
  key: string,
  bytes: Buffer,
  length = bytes.length,
): void {
  const dir = packsOf(xdg);
  const pack = `${randomBytes(10).toString("hex")}.pack`;
  writeFileSync(join(dir, pack), bytes, { mode: 0o600 });
  const index = readIndex(dir) ?? new Map<string, Loc>();
  index.set(entryName(target, key), { pack, offset: 0, length });
  if (!writeIndex(dir, index)) throw new Error("index not written");
}

/** Take `target`'s entry out of the index (as if it had never been written). */
export function forgetEntry(xdg: string, target: string, key: string): void {
  const dir = packsOf(xdg);
  const index = readIndex(dir) ?? new Map<string, Loc>();
  index.delete(entryName(target, key));
  if (!writeIndex(dir, index)) throw new Error("index not written");
}

/** What the packs' directory holds besides the index and the packs (temporary files). */
export function strayFiles(xdg: string): string[] {
  return readdirSync(packsOf(xdg)).filter(
    (f) => f !== `index.p${PACK_FORMAT}` && !/^[0-9a-f]{20}\.pack$/.test(f),
  );
}
