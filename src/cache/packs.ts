/**
 * Where the inventory cache keeps its entries (docs/cache.md "Packs"): not a
 * file per host but a few *pack* files under `<cache>/inventory/`, each the
 * entries one thread wrote in one run, one after another, and an *index*
 * that names, for each entry, its pack, offset and length.
 *
 * Why: a cold plan of 1,000 hosts made 1,000 entry files (create, write,
 * rename), and creating a file took 0.02–0.5 ms on the tenth session's 2-core
 * VM, more when two threads made them in one directory; a thread now makes
 * one file a run and appends (docs/benchmarks.md "Tenth session").
 *
 * Nothing here is trusted more than an entry file was: every record is
 * checked bytes (src/cache/checked.ts: magic, SHA-256, payload) and its
 * payload is checked in full by the caller (target, key, fingerprint,
 * versions); the index is checked bytes too; a pack must be our own regular
 * file. Anything wrong is a miss, rebuilt and written again.
 *
 * Per thread: the index is read once, when the thread first looks (an entry
 * written after that by another run is missed and written again: a miss is
 * always safe); its own records are added to it as they are written. The
 * records written in a run reach the index when the main thread commits
 * (commitPacks: at the end of reading, and before the process exits), a
 * worker's by its "done-ack" (takeWritten → adoptWritten). The commit reads
 * the index afresh, adds this run's records (a concurrent run's commit in
 * between is kept; two at once can lose one's records: misses, not errors),
 * copies the live records of sparse packs into a new one, writes the index
 * atomically and removes the packs no record points to.
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from "node:fs";
import { join } from "node:path";
import { checkedParts, checkedPayload, ownFile, readChecked, writeChecked } from "./checked.js";

/** Bump when the index or pack layout changes. */
export const PACK_FORMAT = 1;
const INDEX_MAGIC = Buffer.from("HDPLAN-INVENTORY-INDEX\n", "latin1");
const PACK_MAGIC = Buffer.from("HDPLAN-INVENTORY-PACK\n", "latin1");
const INDEX = `index.p${PACK_FORMAT}`;
const PACK_NAME = /^[0-9a-f]{20}\.pack$/;
/** A pack whose live records are less than this share of its bytes is compacted. */
const LIVE_MIN = 0.5;
/** With more packs than this, all but the largest half of it are merged into one (so 17 become 9). */
const MAX_PACKS = 16;
/** A pack no index names (a run that is still writing, or one that died) is removed only when this old. */
const ORPHAN_MS = 3600_000;

/** Where one entry's checked bytes are. */
export interface Loc {
  pack: string;
  offset: number;
  length: number;
}

/** The directory of the packs and the index under a cache directory. */
export function packDir(cacheDir: string): string {
  return join(cacheDir, "inventory");
}

/** The index of `dir` (a packDir), or null when there is none or it is not valid. */
export function readIndex(dir: string): Map<string, Loc> | null {
  const payload = readChecked(join(dir, INDEX), INDEX_MAGIC);
  if (typeof payload === "string") return null;
  try {
    const j = JSON.parse(payload.toString("utf8")) as { format?: unknown; packs?: unknown; e?: unknown };
    if (j.format !== PACK_FORMAT || !Array.isArray(j.packs) || !j.e || typeof j.e !== "object") return null;
    const packs = j.packs as unknown[];
    if (!packs.every((p) => typeof p === "string" && PACK_NAME.test(p))) return null;
    const map = new Map<string, Loc>();
    for (const [name, v] of Object.entries(j.e as Record<string, unknown>)) {
      if (!Array.isArray(v) || v.length !== 3) return null;
      const [p, offset, length] = v as unknown[];
      if (!isIndex(p, packs.length) || !isIndex(offset, 2 ** 52) || !isIndex(length, 2 ** 31)) return null;
      map.set(name, { pack: packs[p] as string, offset, length });
    }
    return map;
  } catch {
    return null;
  }
}

function isIndex(v: unknown, below: number): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < below;
}

/** Write `index` as the index of `dir` (atomically). False when it could not be written. */
export function writeIndex(dir: string, index: Map<string, Loc>): boolean {
  const packs: string[] = [];
  const at = new Map<string, number>();
  // No prototype: an entry named "__proto__" is a key like any other.
  const e: Record<string, [number, number, number]> = Object.create(null);
  for (const [name, l] of index) {
    let p = at.get(l.pack);
    if (p === undefined) {
      p = packs.push(l.pack) - 1;
      at.set(l.pack, p);
    }
    e[name] = [p, l.offset, l.length];
  }
  return writeChecked(
    join(dir, INDEX),
    INDEX_MAGIC,
    Buffer.from(JSON.stringify({ format: PACK_FORMAT, packs, e }), "utf8"),
  );
}

/** This thread's view: the index as read when it first looked, plus its own records. */
let view: { dir: string; index: Map<string, Loc>; fds: Map<string, Reader> } | undefined;
/** A pack open for reading, and its size when opened (fd -1: absent, or not our own regular file). */
interface Reader {
  fd: number;
  size: number;
}
/** The pack this thread appends to (failed: it could not, write no more). */
let out: { dir: string; name: string; fd: number; offset: number; failed: boolean } | undefined;
/** Records written (or adopted from workers) and not yet in the index file. */
let pending: [string, Loc][] = [];

function viewOf(dir: string): NonNullable<typeof view> {
  if (view?.dir !== dir) {
    closeReaders();
    view = { dir, index: readIndex(dir) ?? new Map(), fds: new Map() };
  }
  return view;
}

function closeReaders(): void {
  for (const r of view?.fds.values() ?? []) if (r.fd >= 0) closeSync(r.fd);
  view?.fds.clear();
}

function readerOf(v: NonNullable<typeof view>, pack: string): Reader {
  let r = v.fds.get(pack);
  if (r !== undefined) return r;
  const fd = openOwn(join(v.dir, pack));
  r = { fd, size: fd >= 0 ? sizeOf(fd) : 0 };
  v.fds.set(pack, r);
  return r;
}

function sizeOf(fd: number): number {
  try {
    return fstatSync(fd).size;
  } catch {
    return 0;
  }
}

/** The checked bytes at `l` (null: cannot be read, or cut short). */
function readRecord(fd: number, l: Loc): Buffer | null {
  const buf = Buffer.allocUnsafe(l.length);
  try {
    let got = 0;
    while (got < l.length) {
      const n = readSync(fd, buf, got, l.length - got, l.offset + got);
      if (n === 0) return null;
      got += n;
    }
  } catch {
    return null;
  }
  return buf;
}

/** Whether the index (as this thread read it, with this thread's own records) names `name`. */
export function hasRecord(dir: string, name: string): boolean {
  return viewOf(dir).index.has(name);
}

/**
 * The payload stored under `name` in `dir` (a packDir): "missing" when the
 * index (as this thread read it) has no such entry or its pack is gone or
 * foreign; "corrupt" when its bytes are cut short or fail magic or checksum.
 */
export function lookupRecord(dir: string, name: string, magic: Buffer): Buffer | "missing" | "corrupt" {
  const v = viewOf(dir);
  const l = v.index.get(name);
  if (!l) return "missing";
  const r = readerOf(v, l.pack);
  if (r.fd < 0) return "missing";
  // Past the size seen at opening: this thread's own pack has grown since, or it is cut short.
  if (l.offset + l.length > r.size) r.size = sizeOf(r.fd);
  if (l.offset + l.length > r.size) return "corrupt";
  const buf = readRecord(r.fd, l);
  return buf ? checkedPayload(buf, magic) : "corrupt";
}

function openPack(dir: string): NonNullable<typeof out> {
  const name = `${randomBytes(10).toString("hex")}.pack`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(join(dir, name), "wx", 0o600);
    writeSync(fd, PACK_MAGIC, 0, PACK_MAGIC.length, 0);
    return { dir, name, fd, offset: PACK_MAGIC.length, failed: false };
  } catch {
    return { dir, name, fd: -1, offset: 0, failed: true };
  }
}

/** Append checked bytes to `o`: where they are, or null (then `o` takes no more). */
function append(o: NonNullable<typeof out>, parts: Uint8Array[]): Loc | null {
  if (o.failed) return null;
  let size = 0;
  for (const p of parts) size += p.length;
  try {
    if (writevSync(o.fd, parts, o.offset) !== size) throw new Error("short write");
  } catch {
    o.failed = true;
    return null;
  }
  const l = { pack: o.name, offset: o.offset, length: size };
  o.offset += size;
  return l;
}

/**
 * Store `payload` under `name` in `dir` (a packDir): appended to this
 * thread's pack, found by this thread from now on, and in the index once
 * committed. False when it could not be written.
 */
export function storeRecord(dir: string, name: string, magic: Buffer, payload: Uint8Array): boolean {
  const v = viewOf(dir);
  if (out?.dir !== dir) {
    closeOut();
    out = openPack(dir);
  }
  const l = append(out, checkedParts(magic, payload));
  if (!l) return false;
  v.index.set(name, l);
  pending.push([name, l]);
  return true;
}

function closeOut(): void {
  if (out && out.fd >= 0) closeSync(out.fd);
  out = undefined;
}

/** A worker's records of this run, for the main thread to commit (its pack is closed). */
export function takeWritten(): { dir: string; records: [string, Loc][] } | null {
  const dir = out?.dir;
  closeOut();
  const records = pending;
  pending = [];
  return dir && records.length > 0 ? { dir, records } : null;
}

/** Records a worker wrote, to be committed with this thread's. */
export function adoptWritten(w: { dir: string; records: [string, Loc][] } | null | undefined): void {
  if (!w || w.records.length === 0) return;
  for (const r of w.records) pending.push(r);
  adoptedDir = w.dir;
}
let adoptedDir: string | undefined;

/**
 * Put this run's records into the index of their directory (main thread):
 * read the index afresh, add them (newest wins), compact sparse packs and
 * remove the ones nothing names. Never throws: the cache is only a cache.
 */
export function commitPacks(): void {
  const dir = out?.dir ?? adoptedDir ?? view?.dir;
  closeOut();
  adoptedDir = undefined;
  if (pending.length === 0 || dir === undefined) return;
  const mine = pending;
  pending = [];
  try {
    commitInto(dir, mine);
  } catch {
    // not committed: the records are misses next time
  } finally {
    closeOut();
  }
}

function commitInto(dir: string, mine: [string, Loc][]): void {
  const before = readIndex(dir) ?? new Map<string, Loc>();
  const named = new Set<string>();
  for (const l of before.values()) named.add(l.pack);
  const index = new Map(before);
  for (const [name, l] of mine) index.set(name, l);
  // The packs there are, with their sizes: a record whose pack is gone is dropped.
  const sizes = new Map<string, number>();
  const mtimes = new Map<string, number>();
  const stale = new Map<string, number>();
  for (const f of readdirSync(dir)) {
    const tmp = f.startsWith(`${INDEX}.`) && f.endsWith(".tmp");
    if (!tmp && !PACK_NAME.test(f)) continue;
    const st = statSync(join(dir, f), { throwIfNoEntry: false });
    if (tmp) {
      if (st) stale.set(f, st.mtimeMs);
      continue;
    }
    if (!st?.isFile()) continue;
    sizes.set(f, st.size);
    mtimes.set(f, st.mtimeMs);
  }
  const live = new Map<string, number>();
  for (const [name, l] of index) {
    const size = sizes.get(l.pack);
    if (size === undefined || l.offset + l.length > size) {
      index.delete(name);
      continue;
    }
    live.set(l.pack, (live.get(l.pack) ?? 0) + l.length);
  }
  // Sparse packs, and the smallest ones when there are too many: their live records move.
  const moving = new Set<string>();
  for (const [p, bytes] of live) if (bytes < LIVE_MIN * sizes.get(p)!) moving.add(p);
  const kept = [...live.keys()].filter((p) => !moving.has(p));
  if (kept.length > MAX_PACKS) {
    kept.sort((a, b) => live.get(a)! - live.get(b)!);
    for (const p of kept.slice(0, kept.length - MAX_PACKS / 2)) moving.add(p);
  }
  if (moving.size > 0 && !moveRecords(dir, index, moving)) moving.clear();
  if (!writeIndex(dir, index)) return;
  const used = new Set<string>();
  for (const l of index.values()) used.add(l.pack);
  const now = Date.now();
  for (const [p, mtime] of mtimes) {
    if (used.has(p)) continue;
    // Named before (replaced or moved now), or left by a run long gone.
    if (named.has(p) || moving.has(p) || now - mtime > ORPHAN_MS) unlinkQuietly(join(dir, p));
  }
  // An index's temporary file left by a run that died while writing it.
  for (const [f, mtime] of stale) if (now - mtime > ORPHAN_MS) unlinkQuietly(join(dir, f));
}

/**
 * Copy the records `index` places in the `moving` packs into a new pack and
 * point `index` there; a record that cannot be read or copied is dropped.
 * False, with `index` untouched, when no new pack can be made (then nothing
 * moves).
 */
function moveRecords(dir: string, index: Map<string, Loc>, moving: Set<string>): boolean {
  const to = openPack(dir);
  if (to.failed) return false;
  const fds = new Map<string, number>();
  try {
    for (const [name, l] of index) {
      if (!moving.has(l.pack)) continue;
      let fd = fds.get(l.pack);
      if (fd === undefined) {
        fd = openOwn(join(dir, l.pack));
        fds.set(l.pack, fd);
      }
      const bytes = fd >= 0 ? readRecord(fd, l) : null;
      const moved = bytes ? append(to, [bytes]) : null;
      if (moved) index.set(name, moved);
      else index.delete(name);
    }
  } finally {
    for (const fd of fds.values()) if (fd >= 0) closeSync(fd);
    closeSync(to.fd);
    if (to.offset === PACK_MAGIC.length) unlinkQuietly(join(dir, to.name)); // nothing moved
  }
  return true;
}

/**
 * A pack opened for reading, or -1 when it cannot be (removed meanwhile by
 * another run's commit: its records are dropped) or is not our own regular
 * file (its records are not copied into ours).
 */
function openOwn(file: string): number {
  let fd = -1;
  try {
    fd = openSync(file, "r");
    if (ownFile(fstatSync(fd))) return fd;
  } catch {
    // gone, or unreadable
  }
  if (fd >= 0) closeSync(fd);
  return -1;
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // gone already
  }
}
