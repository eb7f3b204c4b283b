/**
 * Checked bytes: a magic line, the SHA-256 of the payload, then the payload.
 * The cache's files (the report cache's, the inventory index) and each record
 * of an inventory pack (src/cache/packs.ts) are written this way, and nothing
 * read back is used unless its magic and checksum match.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writevSync,
} from "node:fs";

/** The three parts that make `payload` checked bytes (written with one writev). */
export function checkedParts(magic: Buffer, payload: Uint8Array): Uint8Array[] {
  return [magic, createHash("sha256").update(payload).digest(), payload];
}

/** The payload of checked bytes, or "corrupt" when the magic or the checksum does not match. */
export function checkedPayload(buf: Buffer, magic: Buffer): Buffer | "corrupt" {
  const head = magic.length + 32;
  if (buf.length <= head || !buf.subarray(0, magic.length).equals(magic)) return "corrupt";
  const payload = buf.subarray(head);
  const sum = createHash("sha256").update(payload).digest();
  return sum.equals(buf.subarray(magic.length, head)) ? payload : "corrupt";
}

/** Our own regular file (another user's planted file is not trusted). */
export function ownFile(st: import("node:fs").Stats): boolean {
  return st.isFile() && !(process.getuid && st.uid !== process.getuid());
}

/**
 * The payload of a file writeChecked wrote: "missing" when there is none (or
 * it is not our own regular file), "corrupt" when its magic or checksum does
 * not match.
 */
export function readChecked(file: string, magic: Buffer): Buffer | "missing" | "corrupt" {
  let buf: Buffer;
  // No file is the usual miss: told without the Error a failing openSync
  // builds, which costs several times this stat.
  try {
    if (!statSync(file, { throwIfNoEntry: false })) return "missing";
    const fd = openSync(file, "r");
    try {
      if (!ownFile(fstatSync(fd))) return "missing";
      buf = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return "missing"; // an ordinary miss
  }
  return checkedPayload(buf, magic);
}

/**
 * Write `magic`, the SHA-256 of `payload`, then `payload` to `file`
 * atomically (temp file + rename; mode 0600). No fsync: a file cut short by a
 * crash fails its checksum and is rewritten. False when it could not be
 * written (read-only, full, missing dir): the caller goes on without it.
 */
export function writeChecked(file: string, magic: Buffer, payload: Uint8Array): boolean {
  let tmp: string | undefined = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writevSync(fd, checkedParts(magic, payload)); // one system call, not three
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    tmp = undefined;
    return true;
  } catch {
    return false;
  } finally {
    if (tmp) {
      try {
        unlinkSync(tmp);
      } catch {
        // already gone
      }
    }
  }
}
