/**
 * Lock and reservation file of `hdplan hook` (cli.md: two incoming
 * migrations at once must not pick the same mdev or function).
 *
 * Lock: STATE_DIR/hook.lock created with O_CREAT|O_EXCL ("wx") holding
 * {pid, nonce, at}. A lock whose holder process is gone, or older than
 * LOCK_STALE_MS, is broken by a conditional unlink (re-read, compare, unlink);
 * after creating the lock the holder re-reads it and proceeds only when its
 * own nonce is there. The lock is held for milliseconds (read reservations,
 * plan, write reservations) and removed on exit.
 *
 * Reservations: STATE_DIR/reservations.json, written to a temporary file and
 * renamed (atomic), {"schemaVersion":1,"entries":[{guest, pid, created,
 * expires, ids, keys}]}. keys are typed ResourceKey values (src/inventory/
 * keys.ts): mdev, pci, usb, and pool (one instance of a type to be created);
 * ids are the same keys as text ("mdev:UUID", "pci:ADDR", "usb:NAME",
 * "pool:PARENT:TYPE"), still written for a hook of an older hdplan and read
 * (parseKeyId) from an entry without keys. Expired entries are dropped on
 * every write.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AssignmentTarget } from "../candidates/types.js";
import { pciAddressOf } from "../candidates/types.js";
import { type ResourceKey, keyId, parseKeyId, reserve } from "../inventory/keys.js";
import type { HostInventory } from "../inventory/types.js";

export const LOCK_STALE_MS = 30_000;
export const DEFAULT_TTL_S = 300;

export interface Reservation {
  guest: string;
  pid: number;
  created: number;
  expires: number;
  /** The keys as text (keyId), for a hook of an older hdplan. */
  ids: string[];
  /** Absent in files an older hdplan wrote: then read from ids. */
  keys?: ResourceKey[];
}

/** What a hook reserves for one assignment: the mdev (and its pool, when created), the function, the USB device. */
export function reservationKeys(t: AssignmentTarget): ResourceKey[] {
  if (t.kind === "mdev") {
    const own: ResourceKey[] = t.uuid ? [{ kind: "mdev", uuid: t.uuid }] : [];
    return t.create ? [{ kind: "pool", parent: t.parent, mdevType: t.mdevType }, ...own] : own;
  }
  const addr = pciAddressOf(t);
  if (addr) return [{ kind: "pci", address: addr }];
  if (t.kind === "usb") return [{ kind: "usb", name: t.name }];
  return [];
}

/** An entry for `guest` holding `keys`. */
export function reservationEntry(
  guest: string,
  keys: ResourceKey[],
  now: number,
  ttlMs: number,
): Reservation {
  return { guest, pid: process.pid, created: now, expires: now + ttlMs, ids: keys.map(keyId), keys };
}

/** The entry's keys: its typed keys, or its ids read back (an older hdplan's entry); unreadable ids are skipped. */
export function keysOf(e: Reservation): ResourceKey[] {
  if (Array.isArray(e.keys)) return e.keys;
  return e.ids.flatMap((id) => {
    const k = parseKeyId(id);
    return k ? [k] : [];
  });
}

/**
 * Other migrations' reservations, as evaluateHost's input (the inventory is
 * not changed): a reserved device or mdev joins a copy of `reserved` (held by
 * that migration), an instance still to be created in a pool is a unit used of
 * that pool's resource.
 */
export function reservationsOf(
  inv: HostInventory,
  entries: Reservation[],
  guest: string,
): { inv: HostInventory; used: Map<string, number>; by: string[] } {
  const reserved = new Map(inv.reserved);
  const used = new Map<string, number>();
  const by: string[] = [];
  for (const r of entries) {
    if (r.guest === guest) continue;
    by.push(r.guest);
    for (const k of keysOf(r)) {
      if (k.kind === "pool") {
        const id = keyId(k);
        used.set(id, (used.get(id) ?? 0) + 1);
      } else reserve(reserved, k, { by: "migration", name: r.guest });
    }
  }
  return { inv: { ...inv, reserved }, used, by };
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readOr(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

export class HookLock {
  private held = false;
  private readonly nonce = randomBytes(8).toString("hex");
  readonly path: string;
  private readonly onExit = () => this.release();

  constructor(readonly dir: string) {
    this.path = join(dir, "hook.lock");
  }

  private tryOnce(now: number): boolean {
    const content = JSON.stringify({ pid: process.pid, nonce: this.nonce, at: now });
    try {
      writeFileSync(this.path, content, { flag: "wx", mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const cur = readOr(this.path);
      if (cur === null) return false; // vanished: retry
      let stale = false;
      try {
        const j = JSON.parse(cur) as { pid?: number; at?: number };
        stale =
          !pidAlive(Number(j.pid)) || now - Number(j.at) > LOCK_STALE_MS || !Number.isFinite(Number(j.at));
      } catch {
        stale = true; // unreadable lock (writer killed mid-write)
      }
      if (stale && readOr(this.path) === cur) {
        try {
          unlinkSync(this.path);
        } catch {
          /* someone else broke it */
        }
      }
      return false;
    }
    // Confirm ownership (a racing stale-breaker may have removed our file).
    const back = readOr(this.path);
    if (back !== content) return false;
    this.held = true;
    process.on("exit", this.onExit);
    return true;
  }

  /** Wait for the lock until `deadline` (ms epoch). Returns false on timeout. */
  async acquire(deadline: number): Promise<boolean> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (;;) {
      const now = Date.now();
      if (this.tryOnce(now)) return true;
      if (now >= deadline) return false;
      await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 20)));
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    process.off("exit", this.onExit);
    try {
      const cur = readOr(this.path);
      if (cur?.includes(this.nonce)) unlinkSync(this.path);
    } catch {
      /* ignore */
    }
  }
}

export function reservationsPath(dir: string): string {
  return join(dir, "reservations.json");
}

function isKey(k: unknown): k is ResourceKey {
  if (!k || typeof k !== "object") return false;
  // a key is valid when its text form reads back as the same key
  try {
    const id = keyId(k as ResourceKey);
    return JSON.stringify(parseKeyId(id)) === JSON.stringify(k);
  } catch {
    return false;
  }
}

/** Unexpired entries (an unreadable file counts as empty: it is rewritten on the next write). */
export function readReservations(dir: string, now = Date.now()): Reservation[] {
  const text = readOr(reservationsPath(dir));
  if (text === null) return [];
  try {
    const j = JSON.parse(text) as { entries?: unknown };
    if (!Array.isArray(j.entries)) return [];
    return (j.entries as Reservation[]).filter(
      (e) =>
        e &&
        typeof e.guest === "string" &&
        Array.isArray(e.ids) &&
        e.ids.every((x) => typeof x === "string") &&
        (e.keys === undefined || (Array.isArray(e.keys) && e.keys.every(isKey))) &&
        typeof e.expires === "number" &&
        e.expires > now,
    );
  } catch {
    return [];
  }
}

/** Replace `guest`'s entry (if any) with `entry` (null: just drop it); expired entries are dropped. */
export function writeReservation(
  dir: string,
  guest: string,
  entry: Reservation | null,
  now = Date.now(),
): void {
  const entries = readReservations(dir, now).filter((e) => e.guest !== guest);
  if (entry) entries.push(entry);
  const path = reservationsPath(dir);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify({ schemaVersion: 1, entries }, null, 1)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
