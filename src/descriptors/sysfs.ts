/**
 * Vendor mdev attributes from sysfs (compat.md §4.2):
 * ROOT/sys/class/mdev_bus/<parent>/mdev_supported_types/<type>/{device_api,
 * name, available_instances, software_version, compatible_type, compatible_*}.
 *
 * Bounded and tolerant: no recursion, symlinks are followed only when they
 * resolve inside ROOT, unreadable files are skipped, files are read up to 64 KiB.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import type { TreeListing } from "../cache/listing.js";
import type { VendorAttrs } from "../model.js";

const MAX_FILE = 64 * 1024;
const MAX_ENTRIES = 4096;
const BASE_FILES = [
  "device_api",
  "name",
  "description",
  "available_instances",
  "software_version",
  "migratable",
];

export function inside(root: string, p: string): string | null {
  try {
    const real = realpathSync(p);
    return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep) ? real : null;
  } catch {
    return null;
  }
}

export function listDir(root: string, p: string): string[] {
  const real = inside(root, p);
  if (!real) return [];
  try {
    if (!statSync(real).isDirectory()) return [];
    return readdirSync(real).sort().slice(0, MAX_ENTRIES);
  } catch {
    return [];
  }
}

export function readSmall(root: string, p: string): string | undefined {
  const real = inside(root, p);
  if (!real) return undefined;
  let fd: number | undefined;
  try {
    if (!statSync(real).isFile()) return undefined;
    fd = openSync(real, "r");
    return readOpen(fd);
  } catch {
    return undefined;
  } finally {
    closeQuietly(fd);
  }
}

/** Up to MAX_FILE bytes of an open file, as readSmall returns them. */
function readOpen(fd: number): string {
  // Not zero-filled: only the n bytes read are used.
  const buf = Buffer.allocUnsafe(MAX_FILE);
  let n = 0;
  for (;;) {
    const k = readSync(fd, buf, n, MAX_FILE - n, null);
    if (k <= 0) break;
    n += k;
    if (n >= MAX_FILE) break;
  }
  return buf.subarray(0, n).toString("utf8").replace(/\0/g, "").trim();
}

function closeQuietly(fd: number | undefined): void {
  if (fd === undefined) return;
  try {
    closeSync(fd);
  } catch {
    // ignore
  }
}

/** listDir and readSmall under one real root. */
export interface SysReader {
  list(p: string): string[];
  read(p: string): string | undefined;
}

/**
 * listDir and readSmall under `realRoot`, answered from `listing` (the
 * inventory cache's walk of that very root: src/cache/listing.ts) where it
 * can tell, so that absent files are not probed and listed directories not
 * listed again. A path the walk reached with no symlink on the way is inside
 * the root; the file opened there is read only when it is the very file the
 * walk recorded (same inode, device and mode: were a directory on the way
 * swapped for a symlink since, the open would land elsewhere and this check
 * fails). Anything else, and every path through a symlink, goes to readSmall
 * and listDir with their realpath check, as without a listing.
 */
export function sysReader(realRoot: string, listing?: TreeListing | null): SysReader {
  const plain: SysReader = { list: (p) => listDir(realRoot, p), read: (p) => readSmall(realRoot, p) };
  if (!listing || listing.root !== realRoot || realRoot === sep) return plain;
  const base = realRoot + sep;
  const relOf = (p: string) => (p.startsWith(base) ? p.slice(base.length) : undefined);
  return {
    list(p) {
      const rel = relOf(p);
      const names = rel === undefined ? undefined : listing.names(rel);
      return names === undefined ? plain.list(p) : names.slice(0, MAX_ENTRIES);
    },
    read(p) {
      const rel = relOf(p);
      const k = rel === undefined ? undefined : listing.kind(rel);
      if (k === undefined) return plain.read(p);
      if (k !== "file") return undefined; // absent, a directory or a special file: readSmall gives none
      const want = listing.plainFile(rel!);
      if (!want) return plain.read(p); // a symlink to a file: the realpath check decides
      let fd: number | undefined;
      try {
        fd = openSync(p, "r");
        const st = fstatSync(fd, { bigint: true });
        if (st.ino === want.ino && st.dev === want.dev && st.mode === want.mode) return readOpen(fd);
      } catch {
        // unreadable now: readSmall below decides, as without a listing
      } finally {
        closeQuietly(fd);
      }
      return plain.read(p);
    },
  };
}

/** Reads every mdev type's vendor attributes under ROOT (ROOT "/" for the real host). */
export function readVendorSysfs(root: string): VendorAttrs[] {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return [];
  }
  const out: VendorAttrs[] = [];
  const bus = join(realRoot, "sys", "class", "mdev_bus");
  for (const parent of listDir(realRoot, bus)) {
    const typesDir = join(bus, parent, "mdev_supported_types");
    for (const type of listDir(realRoot, typesDir)) {
      const dir = join(typesDir, type);
      const entries = listDir(realRoot, dir);
      if (entries.length === 0) continue;
      const names = new Set(entries);
      const wanted = new Set(BASE_FILES.filter((f) => names.has(f)));
      for (const e of entries) {
        if (!e.startsWith("compatible_")) continue;
        wanted.add(e);
        const field = e.slice("compatible_".length);
        if (names.has(field) && field !== "type") wanted.add(field);
      }
      const attrs: Record<string, string> = {};
      for (const f of [...wanted].sort()) {
        if (f === "create" || f === "remove" || f === "devices") continue;
        const v = readSmall(realRoot, join(dir, f));
        if (v !== undefined) attrs[f] = v;
      }
      out.push({ parent, type, attrs });
    }
  }
  return out;
}
