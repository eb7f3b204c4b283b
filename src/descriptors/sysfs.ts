/**
 * Vendor mdev attributes from sysfs (compat.md §4.2):
 * ROOT/sys/class/mdev_bus/<parent>/mdev_supported_types/<type>/{device_api,
 * name, available_instances, software_version, compatible_type, compatible_*}.
 *
 * Bounded and tolerant: no recursion, symlinks are followed only when they
 * resolve inside ROOT, unreadable files are skipped, files are read up to 64 KiB.
 */
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
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
    const buf = Buffer.alloc(MAX_FILE);
    let n = 0;
    for (;;) {
      const k = readSync(fd, buf, n, MAX_FILE - n, null);
      if (k <= 0) break;
      n += k;
      if (n >= MAX_FILE) break;
    }
    return buf.subarray(0, n).toString("utf8").replace(/\0/g, "").trim();
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // ignore
      }
    }
  }
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
