/**
 * What the inventory cache's fingerprint walk (src/cache/inventory.ts
 * walkTree) saw of a dump directory, kept for the read of that directory
 * that follows (src/targets/dump.ts, src/facts/read.ts): it already listed
 * every directory and lstat'ed every entry, so the read need not list or
 * stat them again, nor probe for optional files the listing says are absent.
 * A read that uses it is also *more* consistent with the recorded
 * fingerprint than one that lists again: a file added after the walk is not
 * read, so the entry stored under that fingerprint holds what it describes
 * (the next run's fingerprint differs and reads the file).
 *
 * It answers only for paths reached without a symlink (the walk descends no
 * symlink): for a path through one it says "cannot tell" (undefined) and the
 * reader asks the file system exactly as without a listing, with the same
 * symlink rules. A symlink as the last component is answered by what it
 * points to (the walk recorded that stat; a link out of the tree or a
 * dangling one made the host uncacheable, so there is no listing then).
 */

export type Kind = "dir" | "file" | "other" | "absent";

/** The parts of a stat the read after the walk uses (a bigint stat's mode, size, inode, device; a subdirectory has only its mode). */
export interface Ident {
  mode: bigint;
  size: bigint;
  ino: bigint;
  dev: bigint;
}

function kindOf(st: Ident): Kind {
  const t = st.mode & 0o170000n;
  return t === 0o040000n ? "dir" : t === 0o100000n ? "file" : "other";
}

const isLink = (st: Ident) => (st.mode & 0o170000n) === 0o120000n;

/**
 * What the listing records for a file the walk did not stat (a regular file
 * by readdir's entry type, which the read stats as it opens it: see
 * `statOnRead` in src/cache/inventory.ts): only its type.
 */
export const UNSTATED_FILE: Ident = { mode: 0o100000n, size: -1n, ino: 0n, dev: 0n };

/** A file's stat, from the descriptor the read opened it with, for the fingerprint line the walk left for it. */
export type StatSink = (st: import("node:fs").BigIntStats) => void;

export class TreeListing {
  /** rel path ("" is the root) -> the sorted names the walk read from it. */
  private readonly dirs = new Map<string, readonly string[]>();
  /** rel path -> its lstat and, for a symlink, the stat of its target. */
  private readonly entries = new Map<string, { st: Ident; to?: Ident }>();

  /** Files the walk left to the read to stat, by rel path: where each one's stat goes. */
  private readonly unstated = new Map<string, StatSink>();

  /** `root`: the real path the walk started from. */
  constructor(readonly root: string) {}

  /** The walk's record of a regular file (by its entry type) it left to the read to stat: `sink` takes that stat. */
  addUnstated(rel: string, sink: StatSink): void {
    this.entries.set(rel, { st: UNSTATED_FILE });
    this.unstated.set(rel, sink);
  }

  /** Where the stat of `rel` goes when the walk left it to the read (undefined: the walk stat'ed it, or it is not a plain file). */
  sinkOf(rel: string): StatSink | undefined {
    return this.unstated.get(rel);
  }

  /** The walk's record of a directory's listing (names sorted). */
  addDir(rel: string, names: readonly string[]): void {
    this.dirs.set(rel, names);
  }

  /** The walk's record of an entry: its lstat, and for a symlink the stat of its target. */
  addEntry(rel: string, st: Ident, to?: Ident): void {
    this.entries.set(rel, to ? { st, to } : { st });
  }

  /**
   * What `rel` is (following a symlink at its last component, as stat does):
   * undefined when a component before the last is a symlink (the walk did
   * not look there).
   */
  kind(rel: string): Kind | undefined {
    const e = this.entries.get(rel);
    if (e) return kindOf(e.to ?? e.st);
    if (rel === "") return "dir";
    // Not recorded: absent when its parent was listed; else look at the
    // nearest recorded ancestor: a symlink (not walked) cannot be told, a
    // file or anything else means the path does not exist (ENOTDIR).
    let p = rel;
    for (;;) {
      const cut = p.lastIndexOf("/");
      p = cut < 0 ? "" : p.slice(0, cut);
      if (this.dirs.has(p)) return "absent";
      const a = this.entries.get(p);
      if (a) return isLink(a.st) ? undefined : "absent";
      if (p === "") return "absent";
    }
  }

  /**
   * The sorted names in directory `rel` when the walk listed it (reached
   * without a symlink); [] when `rel` is absent or not a directory;
   * undefined when the walk cannot tell (a symlink on the way or as `rel`).
   */
  names(rel: string): readonly string[] | undefined {
    const d = this.dirs.get(rel);
    if (d) return d;
    const k = this.kind(rel);
    return k === undefined || k === "dir" ? undefined : [];
  }

  /** The lstat the walk recorded for `rel` when it is a plain file (not a symlink) it stat'ed; else undefined. */
  plainFile(rel: string): Ident | undefined {
    const e = this.entries.get(rel);
    return e && !e.to && e.st !== UNSTATED_FILE && kindOf(e.st) === "file" ? e.st : undefined;
  }
}
