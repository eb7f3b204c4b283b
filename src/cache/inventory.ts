/**
 * Inventory cache (docs/cache.md): a repeated plan over dump directories and
 * snapshot files reads no XML. One entry per host target under
 * $XDG_CACHE_HOME/hdplan (default ~/.cache/hdplan) holds the built
 * HostInventory (what planning uses), keyed by a fingerprint of every file
 * and directory listing under the target: path, type, size, mtime and ctime
 * in nanoseconds, inode, device and mode. Any difference is a miss.
 *
 * Never trusted blindly: an entry is used only when its magic, checksum,
 * format version, hdplan version, V8 version, target, key and fingerprint
 * all match, and the file is owned by this user; anything else is ignored
 * and rewritten. Any cache failure (read-only dir, no HOME) just means no
 * cache: the plan reads the files.
 */
import { createHash } from "node:crypto";
import {
  type Dirent,
  closeSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  realpathSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { join, resolve, sep } from "node:path";
import { deserialize, serialize } from "node:v8";
import type { HostInventory } from "../inventory/types.js";
import type { RawHost } from "../model.js";
import { codeId } from "./code-id.js";
import { decodeInventory, encodeInventory } from "./codec.js";
import { TreeListing } from "./listing.js";
import { hasRecord, lookupRecord, packDir, storeRecord } from "./packs.js";
import { mapList } from "../lists.js";
import { Slot } from "../slots.js";

/** Bump when the entry layout or anything stored in HostInventory changes. */
export const CACHE_FORMAT = 5; // 5: entries are records of packs (src/cache/packs.ts); 4: entries carry the code id (src/cache/code-id.ts); 3: the inventory is a JSON text (src/cache/codec.ts); 2: reserved holds {by, name}
const MAGIC = Buffer.from("HDPLAN-INVENTORY-CACHE\n", "latin1");
/** A dump tree bigger than this is not cached (the walk would cost too much). */
const MAX_TREE_ENTRIES = 20000;

let hdplanVersion: string | undefined;
export function version(): string {
  if (hdplanVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
        version?: string;
      };
      hdplanVersion = pkg.version ?? "unknown";
    } catch {
      hdplanVersion = "unknown";
    }
  }
  return hdplanVersion;
}

/** Counters of this thread (tests read them to prove a hit happened). */
export const cacheStats = { hits: 0, misses: 0, writes: 0, rejected: 0 };

/** $XDG_CACHE_HOME/hdplan, else ~/.cache/hdplan; null when neither can be found. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec: a relative path is invalid and is ignored.
  if (xdg?.startsWith("/")) return join(xdg, "hdplan");
  // No HOME: no cache (not a guess from the password database).
  const home = env.HOME;
  if (!home?.startsWith("/")) return null;
  return join(home, ".cache", "hdplan");
}

function statLine(rel: string, st: import("node:fs").BigIntStats): string {
  return `${rel}\0${st.mode}\0${st.size}\0${st.mtimeNs}\0${st.ctimeNs}\0${st.ino}\0${st.dev}`;
}

/** The newest mtime/ctime (ns) of the stats in a fingerprint, and whether all are whole seconds (newestStamp). */
export interface Stamp {
  newest: bigint;
  coarse: boolean;
}

/** Count `st`'s mtime and ctime into `acc`, as newestStamp reads them back from its statLine. */
function noteStamp(acc: Stamp, st: import("node:fs").BigIntStats): void {
  const m = st.mtimeNs;
  const c = st.ctimeNs;
  if (m > acc.newest) acc.newest = m;
  if (c > acc.newest) acc.newest = c;
  if (acc.coarse && (m % SECOND !== 0n || c % SECOND !== 0n)) acc.coarse = false;
}
const SECOND = 1_000_000_000n;

/** What the listing records for a subdirectory: only its type (see walkTree). */
const DIR_IDENT = { mode: 0o040000n, size: 0n, ino: 0n, dev: 0n };

const byName = (a: Dirent, b: Dirent): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * Every path under `root` (real path) with its stat and, for directories, its
 * listing (the entries that follow it). A symlink is recorded with its text
 * and the stat of what it points to; one that leaves the tree (or dangles)
 * makes the host uncacheable (null): the reader could read a file we do not
 * watch.
 *
 * A subdirectory is not stat'ed: readdir's entry type says it is one, and its
 * own `D` line (its listing) stands for it. Its mtime and ctime change only
 * when its names change (in that listing) or with a chmod/chown/touch of the
 * directory, which the files' contents do not depend on; every file below it
 * is still recorded with its own stat. (Measured: half the lstat calls of a
 * warm plan over the bench fleet, docs/cache.md.)
 */
function walkTree(
  root: string,
  out: string[],
  listing: TreeListing,
  stamp: Stamp,
  unstated: Unstated | null = null,
): boolean {
  // root is a real path and names come from readdir (no '/', '.' or '..'):
  // plain concatenation is the joined path, without join's normalising.
  const base = root.endsWith(sep) ? root : root + sep;
  const stack: string[] = [""];
  while (stack.length) {
    const rel = stack.pop()!;
    const abs = rel ? base + rel : root;
    let ents: Dirent[];
    try {
      ents = readdirSync(abs, { withFileTypes: true }).sort(byName);
    } catch {
      return false;
    }
    const names = mapList(ents, (d) => d.name); // an empty directory's list of the same class (src/lists.ts)
    out.push(`D${rel}\0${names.join("/")}`);
    listing.addDir(rel, names);
    for (const ent of ents) {
      if (out.length > MAX_TREE_ENTRIES) return false;
      const name = ent.name;
      const r = rel ? `${rel}/${name}` : name;
      if (ent.isDirectory()) {
        listing.addEntry(r, DIR_IDENT);
        stack.push(r);
        continue;
      }
      if (unstated !== null && ent.isFile() && statOnRead(r)) {
        unstated.leave(r, listing);
        continue;
      }
      const p = base + r;
      let st: import("node:fs").BigIntStats;
      try {
        st = lstatSync(p, { bigint: true });
      } catch {
        return false;
      }
      out.push(statLine(r, st));
      noteStamp(stamp, st);
      if (st.isSymbolicLink()) {
        let real: string;
        let target: import("node:fs").BigIntStats;
        try {
          out.push(`L${r}\0${readlinkSync(p)}`);
          real = realpathSync.native(p);
          target = statSync(real, { bigint: true });
        } catch {
          return false;
        }
        if (real !== root && !real.startsWith(root + sep)) return false;
        // Inside the tree: the target is walked on its own; record what it is now.
        out.push(statLine(`>${r}`, target));
        noteStamp(stamp, target);
        listing.addEntry(r, st, target);
      } else {
        listing.addEntry(r, st);
        // Replaced by a directory between readdir and lstat: walk it too.
        if (st.isDirectory()) stack.push(r);
      }
    }
  }
  return true;
}

/**
 * The files whose stat a cold walk leaves to the read: the node device,
 * domain and network XML of a dump (what readDump in src/targets/dump.ts
 * reads of nodedev/, domains/ and networks/: every *.xml, matched as there,
 * case-insensitively). One file a device is ~200 files a host, and a stat by
 * path before the open cost as much again as the open, read and close
 * (docs/benchmarks.md "Thirteenth session").
 */
function statOnRead(rel: string): boolean {
  return STAT_ON_READ.test(rel);
}
const STAT_ON_READ = /^(?:nodedev|domains|networks)\/[^/]+\.xml$/i;

/**
 * The fingerprint lines a walk left to the read (scanCold). The read opens
 * each such file without following a symlink and hands the stat of what it
 * opened (fstat, before its first read) to the listing's sink: the same
 * mode, size, times, inode and device an lstat by path gives a regular file,
 * so the fingerprint is the one a full walk takes, and the stat is of the
 * very file read, taken before its bytes were (a change after it shows in
 * the next run's stat: a miss, never a stale hit). A file the read did not
 * stat (the read failed and was done afresh, say) or that is no regular file
 * leaves no fingerprint: nothing is stored.
 */
class Unstated {
  private left = 0;
  private bad = false;

  constructor(
    private readonly lines: string[],
    private readonly stamp: Stamp,
  ) {}

  leave(rel: string, listing: TreeListing): void {
    const i = this.lines.push("") - 1; // its line, filled by the read
    this.left++;
    listing.addUnstated(rel, (st) => {
      if (this.lines[i] !== "") return; // the stat taken before the first read is the one
      if (!st.isFile()) {
        this.bad = true;
        return;
      }
      this.lines[i] = statLine(rel, st);
      noteStamp(this.stamp, st);
      this.left--;
    });
  }

  /** The whole fingerprint once every file left was stat'ed by the read, else null. */
  fingerprint(): string | null {
    return this.bad || this.left !== 0 ? null : this.lines.join("\n");
  }
}

/**
 * A fingerprint and, for a directory, what its walk saw (src/cache/listing.ts:
 * the read that follows uses it instead of listing and stat'ing again).
 */
export interface Scan {
  fp: string;
  listing: TreeListing | null;
  /** newestStamp(fp), counted as the walk took the stats (not parsed back from fp). */
  stamp: Stamp;
}

/**
 * The fingerprint of a target, or null when it cannot be cached. The path as
 * given and its real path are both part of it (origins in the inventory use
 * the path as given; a re-pointed symlink is a different host).
 */
export function fingerprint(target: string): string | null {
  return scan(target)?.fp ?? null;
}

/** fingerprint() with the walk's listing of a directory target. */
export function scan(target: string): Scan | null {
  const w = walkTarget(target, false);
  return w && { fp: w.lines.join("\n"), listing: w.listing, stamp: w.stamp };
}

/**
 * A scan for a read that is sure to follow (no entry to compare with): the
 * stats of the XML files are left to that read (Unstated), and
 * `fingerprint()`, called after it, gives the fingerprint (null: none, do
 * not store). Its `stamp` is complete only then.
 */
export interface ColdScan {
  listing: TreeListing | null;
  stamp: Stamp;
  fingerprint(): string | null;
}

export function scanCold(target: string): ColdScan | null {
  const w = walkTarget(target, true);
  if (w === null) return null;
  return {
    listing: w.listing,
    stamp: w.stamp,
    // No Unstated for a file target: its fingerprint is whole already.
    fingerprint: () => (w.unstated ? w.unstated.fingerprint() : w.lines.join("\n")),
  };
}

function walkTarget(
  target: string,
  leave: boolean,
): { lines: string[]; listing: TreeListing | null; stamp: Stamp; unstated: Unstated | null } | null {
  let real: string;
  let st: import("node:fs").BigIntStats;
  let lst: import("node:fs").BigIntStats;
  try {
    lst = lstatSync(target, { bigint: true });
    real = realpathSync.native(target);
    // Not a symlink: lstat already is the stat of the real path (same inode).
    st = lst.isSymbolicLink() ? statSync(real, { bigint: true }) : lst;
  } catch {
    return null;
  }
  const lines = [`T${resolve(target)}`, `R${real}`, statLine(".link", lst), statLine(".", st)];
  const stamp: Stamp = { newest: 0n, coarse: true };
  noteStamp(stamp, lst);
  noteStamp(stamp, st);
  let listing: TreeListing | null = null;
  let unstated: Unstated | null = null;
  if (st.isDirectory()) {
    listing = new TreeListing(real);
    if (leave) unstated = new Unstated(lines, stamp);
    if (!walkTree(real, lines, listing, stamp, unstated)) return null;
  } else if (!st.isFile()) return null;
  return { lines, listing, stamp, unstated };
}

/** The name an entry is stored under in the packs' index (src/cache/packs.ts). */
export function entryName(target: string, key: string): string {
  const h = createHash("sha256")
    .update(`${resolve(target)}\0${target}\0${key}`)
    .digest("hex");
  return `${h.slice(0, 40)}.v${CACHE_FORMAT}`;
}

interface Entry {
  format: number;
  hdplan: string;
  /** codeId(): the build that wrote it. */
  code: string;
  v8: string;
  target: string;
  key: string;
  fingerprint: string;
  /** encodeInventory's text. */
  inventory: string;
}

/** The cached inventory for this target and fingerprint, or null (missing, stale, foreign, corrupt). */
function load(dir: string, name: string, target: string, key: string, fp: string): HostInventory | null {
  const reject = () => {
    cacheStats.rejected++;
    return null;
  };
  const payload = lookupRecord(packDir(dir), name, MAGIC);
  if (payload === "missing") return null;
  if (payload === "corrupt") return reject();
  let e: Entry;
  try {
    e = deserialize(payload) as Entry;
  } catch {
    return reject();
  }
  if (
    !e ||
    typeof e !== "object" ||
    e.format !== CACHE_FORMAT ||
    e.hdplan !== version() ||
    e.code !== codeId() ||
    e.v8 !== process.versions.v8 ||
    e.target !== target ||
    e.key !== key ||
    e.fingerprint !== fp ||
    typeof e.inventory !== "string"
  ) {
    return reject();
  }
  const inv = decodeInventory(e.inventory);
  return inv ?? reject();
}

/**
 * Newest mtime/ctime (ns) in a fingerprint, and whether every stamp is whole
 * seconds (a coarse clock). The stamps are the 4th and 5th fields of each
 * 7-field line (statLine), decimal without leading zeros, so the longer (or,
 * as long, the lexicographically greater) text is the greater number: one
 * BigInt at the end instead of two per file (measured: 1.8% of a cold plan
 * of the per-device fleet went to splitting and BigInt here).
 */
export function newestStamp(fp: string): Stamp {
  let max = "0";
  let coarse = true;
  const n = fp.length;
  let start = 0;
  while (start <= n) {
    let end = fp.indexOf("\n", start);
    if (end < 0) end = n;
    // The field boundaries of this line: 6 NULs make 7 fields.
    let z = start - 1;
    const cut: number[] = [];
    for (;;) {
      z = fp.indexOf("\0", z + 1);
      if (z < 0 || z >= end) break;
      cut.push(z);
      if (cut.length > 6) break;
    }
    if (cut.length === 6) {
      for (const v of [fp.slice(cut[2]! + 1, cut[3]!), fp.slice(cut[3]! + 1, cut[4]!)]) {
        if (!STAMP.test(v)) {
          // Not what statLine writes: parsed as a number, as always (throws on no number).
          const b = BigInt(v);
          if (b > BigInt(max)) max = b.toString();
          if (b % 1_000_000_000n !== 0n) coarse = false;
          continue;
        }
        if (v.length > max.length || (v.length === max.length && v > max)) max = v;
        if (v !== "0" && !v.endsWith("000000000")) coarse = false;
      }
    }
    start = end + 1;
  }
  return { newest: BigInt(max), coarse };
}
/** A decimal without leading zeros, as bigint toString writes it. */
const STAMP = /^(0|[1-9][0-9]*)$/;

/**
 * The filesystem clock when this thread first used the cache, before any
 * fingerprint was taken: the mtime of a file made in the cache directory.
 * null when it cannot be made (then nothing is written).
 */
let runStampOf: { dir: string; stamp: bigint | null } | undefined;
export function runStamp(dir: string): bigint | null {
  if (runStampOf?.dir === dir) return runStampOf.stamp;
  let stamp: bigint | null = null;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const f = join(dir, `.clock.${process.pid}.${Math.random().toString(36).slice(2)}`);
    const fd = openSync(f, "wx", 0o600);
    try {
      stamp = fstatSync(fd, { bigint: true }).mtimeNs;
    } finally {
      closeSync(fd);
      unlinkSync(f);
    }
  } catch {
    stamp = null;
  }
  runStampOf = { dir, stamp };
  return stamp;
}

/**
 * Whether an entry built from this fingerprint may be written ("racy clean",
 * as git calls it). The fingerprint is taken once, before reading. A file
 * changed after that gets a stamp in a later clock tick than the one
 * recorded, so the next run's fingerprint differs, unless the recorded stamp
 * is in the tick the run started in (a second change in that tick could keep
 * size, mtime, ctime and inode). So every recorded stamp must be older than
 * the run's start. On a filesystem with a whole-second clock (stamps with no
 * nanoseconds) the margin is 2 s, which also covers 2-second clocks.
 */
export function racy(fp: string, start: bigint | null, stamp: Stamp = newestStamp(fp)): boolean {
  if (start === null) return true;
  const { newest, coarse } = stamp;
  return coarse ? newest + 2_000_000_000n >= start : newest >= start;
}

/** Store the entry of `inv`, built from fingerprint `fp`. `dir` exists: runStamp made it. */
function store(dir: string, name: string, target: string, key: string, fp: string, inv: HostInventory): void {
  const entry: Entry = {
    format: CACHE_FORMAT,
    hdplan: version(),
    code: codeId(),
    v8: process.versions.v8,
    target,
    key,
    fingerprint: fp,
    inventory: encodeInventory(inv),
  };
  if (storeRecord(packDir(dir), name, MAGIC, serialize(entry))) cacheStats.writes++;
}

/**
 * Fingerprints taken ahead of the read by the report cache's look-up
 * (src/cache/reports.ts) on this thread, for the read of the same target that
 * follows a miss: the fingerprint is still taken once, before reading.
 */
const takenAhead = new Map<string, Scan | null>();

/** Keep a fingerprint of `target` (with its listing) just taken for the read of it that follows (readCached). */
export function keepFingerprint(target: string, taken: Scan | null): void {
  takenAhead.set(target, taken);
}

/** Forget the kept fingerprints (their reads go to worker threads, which take their own). */
export function dropKeptFingerprints(): void {
  takenAhead.clear();
}

function takeFingerprint(target: string): Scan | null {
  if (takenAhead.has(target)) {
    const taken = takenAhead.get(target)!;
    takenAhead.delete(target);
    return taken;
  }
  return scan(target);
}

/**
 * What a report cache record keeps of a fingerprint: its SHA-256 (hex) and,
 * after a dot, how many lines it has (paths walked: what a look-up costs).
 */
export function fingerprintHash(fp: string): string {
  let lines = 1;
  for (let i = fp.indexOf("\n"); i !== -1; i = fp.indexOf("\n", i + 1)) lines++;
  return `${createHash("sha256").update(fp).digest("hex")}.${lines}`;
}

/** The line count recorded in a fingerprintHash (0 when there is none). */
export function fingerprintLines(hash: string): number {
  const n = Number(hash.slice(hash.lastIndexOf(".") + 1));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * The fingerprint hash of the inventory a RawHost stands for, when that
 * inventory is known to be the one of that fingerprint: a cache hit, or a
 * miss read after a fingerprint that was not racy. Otherwise undefined.
 */
const trusted = new Slot<RawHost, string>("trustedFingerprint"); // on the RawHost, not in a WeakMap (src/slots.ts)
export function trustedFingerprint(raw: RawHost): string | undefined {
  return trusted.get(raw);
}

/**
 * Inventories that came from the cache (or were built on a miss), on the
 * RawHost that stands for them: a property of its own, which dies with it
 * (src/slots.ts: a WeakMap kept every host's inventory to the next full GC).
 */
const prebuilt = new Slot<RawHost, HostInventory>("prebuiltInventory");

/** buildInventory's short cut: the inventory this RawHost stands for, when the cache gave one. */
export function prebuiltInventory(raw: RawHost): HostInventory | undefined {
  return prebuilt.get(raw);
}

/**
 * A RawHost read in full (the --source: its XML is used) after `fp` was
 * taken, not racy: give it the inventory cached for that fingerprint, or
 * build it and store it. buildInventory then returns that inventory; a copy
 * of the RawHost (a worker thread's) carries its XML and builds its own.
 */
export function withCachedInventory(raw: RawHost, fp: string, build: (raw: RawHost) => HostInventory): void {
  const dir = cacheDir();
  if (!dir) return;
  const name = entryName(raw.target, raw.key);
  const inv = load(dir, name, raw.target, raw.key, fp);
  if (inv) {
    cacheStats.hits++;
    prebuilt.set(raw, inv);
    return;
  }
  cacheStats.misses++;
  const built = build(raw);
  store(dir, name, raw.target, raw.key, fp, built);
  prebuilt.set(raw, built);
}

/**
 * Read a file target through the cache. `read` reads it (a miss), given the
 * listing of the fingerprint walk (null: none, list afresh), `build` builds
 * its inventory. On a hit the RawHost carries no XML: only buildInventory
 * (which returns the cached inventory) may look inside it.
 */
export function readCached(
  target: string,
  key: string,
  read: (listing: TreeListing | null) => RawHost,
  build: (raw: RawHost) => HostInventory,
): RawHost {
  const dir = cacheDir();
  if (!dir) return read(null);
  const start = runStamp(dir);
  const name = entryName(target, key);
  let miss: ColdScan;
  if (!takenAhead.has(target) && !hasRecord(packDir(dir), name)) {
    // Nothing stored to compare with: a miss for sure, and the read that
    // follows stats the XML files as it opens them (scanCold).
    const cold = scanCold(target);
    if (cold === null) return read(null);
    miss = cold;
  } else {
    const taken = takeFingerprint(target);
    if (taken === null) return read(null);
    const inv = load(dir, name, target, key, taken.fp);
    if (inv) {
      cacheStats.hits++;
      const raw: RawHost = {
        key: inv.key,
        target: inv.target,
        kind: inv.kind,
        versions: inv.versions,
        nodeDevices: [],
        domains: [],
        networks: [],
        descriptorFiles: inv.descriptorFiles,
        vendorAttrs: inv.vendorAttrs,
        warnings: [],
        facts: inv.facts,
      };
      if (inv.hostname !== null) raw.hostname = inv.hostname;
      if (inv.hostUuid !== null) raw.hostUuid = inv.hostUuid;
      prebuilt.set(raw, inv);
      trusted.set(raw, fingerprintHash(taken.fp));
      return raw;
    }
    miss = { listing: taken.listing, stamp: taken.stamp, fingerprint: () => taken.fp };
  }
  cacheStats.misses++;
  const raw = read(miss.listing);
  const built = build(raw);
  // The fingerprint of a cold scan is whole only now (null: none). Not
  // written when an input may change unseen (racy, above).
  const fp = miss.fingerprint();
  if (fp !== null && !racy(fp, start, miss.stamp)) {
    trusted.set(raw, fingerprintHash(fp));
    store(dir, name, target, key, fp, built);
  }
  prebuilt.set(raw, built);
  return raw;
}
