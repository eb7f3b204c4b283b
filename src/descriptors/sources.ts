/**
 * Where descriptors come from (compat.md §4): operator files (host folder >
 * global), vendor sysfs attributes, derived from libvirt node devices.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorMessage, InputError } from "../errors.js";
import type { DescriptorData, SectionData, VendorAttrs } from "../model.js";
import { IDENTITY_KEYS, KEY_RE, normalizeDeviceId, parseDescriptor } from "./text.js";

export interface DescriptorFile {
  path: string;
  /** null: global (DIR/*.conf); otherwise the host key of DIR/<key>/ or of a dump directory. */
  hostKey: string | null;
  descriptor: DescriptorData;
  /** The self keys among device_api, device_type, device_id, mdev_type. */
  identity: Record<string, string>;
}

function identityOf(d: DescriptorData): Record<string, string> {
  const id: Record<string, string> = {};
  for (const k of IDENTITY_KEYS) {
    const v = d.self[k];
    if (v !== undefined) id[k] = v;
  }
  return id;
}

function fileOf(path: string, text: string, hostKey: string | null): DescriptorFile {
  const descriptor = parseDescriptor(text, path);
  return { path, hostKey, descriptor, identity: identityOf(descriptor) };
}

/** Descriptor files are small; anything bigger is not one. */
const MAX_DESCRIPTOR_BYTES = 1024 * 1024;

function readText(path: string): string {
  let buf: Buffer;
  try {
    if (statSync(path).size > MAX_DESCRIPTOR_BYTES)
      throw new InputError(`${path}: descriptor file is larger than 1 MiB; refusing to read it`, path);
    buf = readFileSync(path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: cannot read descriptor file: ${errorMessage(e)}`, path);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new InputError(
      `${path}: not valid UTF-8 text (binary data or another encoding such as latin-1)`,
      path,
    );
  }
}

function confFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name.endsWith(".conf") && !e.name.startsWith(".") && isFile(join(dir, e.name)))
    .map((e) => e.name)
    .sort();
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Reads `DIR/*.conf` (global) and `DIR/<hostkey>/*.conf` (that host only).
 * A missing directory or an unreadable/malformed file is an InputError.
 */
export function loadDescriptorDir(dir: string): DescriptorFile[] {
  if (!isDir(dir)) throw new InputError(`${dir}: --descriptors is not a readable directory`, dir);
  const out: DescriptorFile[] = [];
  try {
    for (const name of confFiles(dir)) {
      const p = join(dir, name);
      out.push(fileOf(p, readText(p), null));
    }
    const subdirs = readdirSync(dir, { withFileTypes: true })
      .filter((e) => !e.name.startsWith(".") && isDir(join(dir, e.name)))
      .map((e) => e.name)
      .sort();
    for (const key of subdirs) {
      const sub = join(dir, key);
      for (const name of confFiles(sub)) {
        const p = join(sub, name);
        out.push(fileOf(p, readText(p), key));
      }
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${dir}: cannot read descriptor directory: ${errorMessage(e)}`, dir);
  }
  return out;
}

/** Descriptor files carried by a host (a dump directory's descriptors/), scoped to that host. */
export function descriptorFilesFromTexts(
  files: { path: string; text: string }[],
  hostKey: string,
): DescriptorFile[] {
  return files.map((f) => fileOf(f.path, f.text, hostKey));
}

function identityValue(key: string, v: string): string {
  return key === "device_id" ? normalizeDeviceId(v) : v.trim();
}

function applies(f: DescriptorFile, derivedSelf: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(f.identity)) {
    const d = Object.hasOwn(derivedSelf, k) ? derivedSelf[k] : undefined;
    if (d === undefined || identityValue(k, d) !== identityValue(k, v)) return false;
  }
  return true;
}

/** Overlays a file (or vendor) descriptor on a base: self keys added (overlay wins), sections replaced if any. */
function overlay(base: DescriptorData, over: DescriptorData): DescriptorData {
  const compatible: SectionData[] = (over.compatible.length > 0 ? over.compatible : base.compatible).map(
    (s) => ({
      ...s,
    }),
  );
  return { self: { ...base.self, ...over.self }, compatible };
}

/**
 * Picks each device's descriptor by precedence (compat.md §4):
 * host-folder file > global file > vendor sysfs attributes > derived.
 */
export class DescriptorSelector {
  private readonly used = new Set<DescriptorFile>();
  /** The files selected for each host key (the report cache records a host's share). */
  private readonly usedOn = new Map<string, Set<DescriptorFile>>();

  constructor(readonly files: DescriptorFile[]) {}

  /**
   * `derived` is the descriptor derived from libvirt; `vendor` the one from
   * vendor sysfs attributes (fromVendorAttrs), if any. Throws InputError when
   * two files of the same level and specificity apply to the device. The
   * descriptor returned is the caller's own: a copy, or with `fresh` (the
   * caller made `derived` for this call and keeps no other reference to it)
   * `derived` itself when neither a file nor `vendor` changes it.
   */
  select(
    hostKey: string,
    derived: DescriptorData,
    vendor?: DescriptorData,
    fresh = false,
  ): { descriptor: DescriptorData; origin: string } {
    const base = vendor ? overlay(derived, vendor) : derived;
    const baseOrigin = vendor ? "vendor-sysfs" : "derived";
    // No files (the common case): no level can apply.
    for (const level of this.files.length === 0
      ? []
      : [this.files.filter((f) => f.hostKey === hostKey), this.files.filter((f) => f.hostKey === null)]) {
      const hits = level.filter((f) => applies(f, derived.self));
      if (hits.length === 0) continue;
      const n = (f: DescriptorFile) => Object.keys(f.identity).length;
      const top = Math.max(...hits.map(n));
      const winners = hits.filter((f) => n(f) === top);
      if (winners.length > 1) {
        const [a, b] = winners;
        throw new InputError(
          `descriptor files ${a!.path} and ${b!.path} both apply to device ${describeSelf(derived.self)}${hostKey ? ` on host ${hostKey}` : ""} with the same number of identity keys (${top}); add an identity key (device_api, device_type, device_id, mdev_type) to one of them or remove one`,
          a!.path,
        );
      }
      const f = winners[0]!;
      this.used.add(f);
      const on = this.usedOn.get(hostKey) ?? new Set<DescriptorFile>();
      this.usedOn.set(hostKey, on);
      on.add(f);
      const identity = new Set<string>(IDENTITY_KEYS);
      const extra: Record<string, string> = {};
      for (const [k, v] of Object.entries(f.descriptor.self)) if (!identity.has(k)) extra[k] = v;
      return {
        descriptor: overlay(base, { self: extra, compatible: f.descriptor.compatible }),
        origin: `file:${f.path}`,
      };
    }
    // overlay() made base anew; so did the caller of a fresh `derived`.
    if (fresh || vendor) return { descriptor: base, origin: baseOrigin };
    return {
      descriptor: { self: { ...base.self }, compatible: base.compatible.map((s) => ({ ...s })) },
      origin: baseOrigin,
    };
  }

  /** Files selected for a device of host `hostKey` so far. */
  usedBy(hostKey: string): DescriptorFile[] {
    return [...(this.usedOn.get(hostKey) ?? [])];
  }

  /** Files that were never selected for any device (shadowed files count as unused). */
  unused(): DescriptorFile[] {
    return this.files.filter((f) => !this.used.has(f));
  }
}

function describeSelf(self: Record<string, string>): string {
  return IDENTITY_KEYS.filter((k) => self[k] !== undefined)
    .map((k) => `${k}=${self[k]}`)
    .join(" ");
}

// ---------------------------------------------------------------------------
// Vendor sysfs attributes (compat.md §4.2)

/** Attributes of an mdev type directory that are not descriptor fields. */
const NOT_FIELDS = new Set([
  "name",
  "description",
  "available_instances",
  "device_api",
  "software_version",
  "create",
]);

/** `a, b,c` or one value per line -> ["a", "b", "c"]. */
export function splitList(v: string): string[] {
  return v
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter((x) => x !== "");
}

function quoteItem(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/**
 * The template for "any of these values": a whole-value string placeholder
 * `{name:string:"a","b"}`. Quoting makes any text safe (no literal parsing).
 */
export function acceptedListTemplate(varName: string, values: string[]): string {
  return `{${varName}:string:${values.map(quoteItem).join(",")}}`;
}

function varNameFor(field: string): string {
  const v = field.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[A-Za-z]/.test(v) ? v : `v_${v}`;
}

/**
 * Maps vendor attributes of one mdev type to a descriptor:
 * self {device_api, mdev_type, software_version, <field> for each compatible_<field>
 * the vendor also provides}; one compatible section {mdev_type: compatible_type
 * list (own type when absent), <field>: compatible_<field> list, software_version:
 * compatible_software_version list or the own version by the version rule}.
 * Without any compatible_* attribute or software_version: no section (default equality).
 */
export function fromVendorAttrs(v: VendorAttrs, deviceApi?: string): DescriptorData {
  const a = v.attrs;
  const get = (k: string) => (Object.hasOwn(a, k) && typeof a[k] === "string" ? a[k].trim() : undefined);
  const self: Record<string, string> = {};
  const api = get("device_api") || deviceApi;
  if (api) self.device_api = api;
  self.mdev_type = v.type;
  const sw = get("software_version");
  if (sw) self.software_version = sw;
  const section: SectionData = {};
  const compatType = get("compatible_type");
  const hasCompat = Object.keys(a).some((k) => k.startsWith("compatible_"));
  if (!hasCompat && !sw) return { self, compatible: [] };
  const types = compatType !== undefined ? splitList(compatType) : [];
  section.mdev_type = acceptedListTemplate("mdev_type", types.length ? types : [v.type]);
  for (const k of Object.keys(a).sort()) {
    if (!k.startsWith("compatible_") || k === "compatible_type") continue;
    const field = k.slice("compatible_".length);
    if (!KEY_RE.test(field) || (NOT_FIELDS.has(field) && field !== "software_version")) continue;
    if (field === "mdev_type") continue;
    const list = splitList(get(k) ?? "");
    if (list.length === 0) continue;
    section[field] = acceptedListTemplate(varNameFor(field), list);
    const own = get(field);
    if (own !== undefined && field !== "software_version") self[field] = own;
  }
  if (section.software_version === undefined && sw) section.software_version = sw;
  return { self, compatible: [section] };
}

/**
 * Apply one operator file to a base descriptor the way DescriptorSelector does
 * for a device in `plan`: the file's identity keys must equal the base's
 * (else null: the file does not apply), its other self keys are added, its
 * COMPATIBLE sections (if any) replace the base's. Used by `hdplan compat --base`.
 */
export function applyDescriptorFile(base: DescriptorData, file: DescriptorData): DescriptorData | null {
  const f: DescriptorFile = { path: "", hostKey: null, descriptor: file, identity: identityOf(file) };
  if (!applies(f, base.self)) return null;
  const identity = new Set<string>(IDENTITY_KEYS);
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(file.self)) if (!identity.has(k)) extra[k] = v;
  return overlay(base, { self: extra, compatible: file.compatible });
}
