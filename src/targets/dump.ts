/** Dump-directory targets (cli.md): nodedev/, domains/, networks/, descriptors/, host.json. */
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  statSync,
} from "node:fs";
import { join, sep } from "node:path";
import { InputError } from "../errors.js";
import type { StatSink, TreeListing } from "../cache/listing.js";
import { mergeFacts, parseDevlinkInfo, readHostFacts } from "../facts/read.js";
import type { HostFacts, HostVersions, RawHost } from "../model.js";
import { type Reason, reason } from "../reasons.js";

function listFiles(dir: string, ext: RegExp): string[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!ext.test(e.name)) continue;
    const p = join(dir, e.name);
    if (e.isFile()) out.push(p);
    else if (e.isSymbolicLink()) {
      // Follow a symlink only to see whether it is a file (no stat per plain file).
      try {
        if (statSync(p).isFile()) out.push(p);
      } catch {
        // dangling link: skipped like any non-file
      }
    }
  }
  return out.sort();
}

/**
 * Largest input file read (bytes). libvirt XML is far smaller (virsh refuses
 * XML files over 10 MiB) and parsing costs about 0.5 s and 60 MB per MiB, so a
 * bigger file is refused before it is read, whatever it is (a pipe or device
 * included: reading stops one byte past the limit).
 */
export const MAX_INPUT_FILE_BYTES = 10 * 1024 * 1024;
/** Snapshots carry many XML documents, each parsed on its own. */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

function mib(n: number): string {
  return `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;
}

/** Read at most maxBytes + 1 bytes of an open descriptor (EAGAIN: wait and retry). */
export function readBounded(fd: number, maxBytes: number, sizeHint = -1): { buf: Buffer; tooBig: boolean } {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    // First read sized from fstat (+1 to see EOF at once): a 1 MiB buffer per
    // small file made the garbage collector the top cost on big fleets.
    const want = total === 0 && sizeHint >= 0 ? sizeHint + 1 : 1024 * 1024;
    const chunk = Buffer.allocUnsafe(Math.min(want, maxBytes + 1 - total));
    let n: number;
    try {
      n = readSync(fd, chunk, 0, chunk.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === "EOF") break;
      throw e;
    }
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    total += n;
    if (total > maxBytes) return { buf: Buffer.concat(chunks), tooBig: true };
  }
  return { buf: Buffer.concat(chunks), tooBig: false };
}

/** Strict UTF-8 decoding; a BOM is dropped. Throws InputError naming `what`. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

export function decodeUtf8(buf: Buffer, what: string): string {
  try {
    return UTF8.decode(buf);
  } catch {
    throw new InputError(
      `${what}: not valid UTF-8 text (binary data or another encoding such as latin-1)`,
      what,
    );
  }
}

/**
 * What the inventory cache's walk knows of a file before it is read: its
 * size as the walk just lstat'ed it (a plain file, not a symlink), which
 * saves the fstat (readSized); or where the stat goes of a file the walk
 * left to the read to stat (src/cache/inventory.ts Unstated): it is opened
 * without following a symlink and fstat'ed before it is read.
 */
export type Known = number | StatSink | undefined;

/**
 * A file's text, refused when it is not UTF-8 or larger than maxBytes. A
 * regular file is read from the size fstat gives, or the size `known` gives.
 */
export function readTextFile(path: string, maxBytes = MAX_INPUT_FILE_BYTES, known?: Known): string {
  let size = typeof known === "number" ? known : undefined;
  if (size !== undefined && size > maxBytes) throw overLimit(path, size, maxBytes);
  let fd: number;
  try {
    fd = openSync(path, typeof known === "function" ? constants.O_RDONLY | constants.O_NOFOLLOW : "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: cannot read file (${code ?? "error"})`, path);
  }
  let buf: Buffer;
  try {
    if (typeof known === "function") {
      const st = fstatSync(fd, { bigint: true });
      known(st);
      if (st.isFile() && st.size <= BigInt(maxBytes)) size = Number(st.size);
    }
    if (size === undefined) {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new InputError(`${path}: is a directory, expected a file`, path);
      if (!st.isFile()) {
        const r = readBounded(fd, maxBytes, -1);
        if (r.tooBig) throw moreThan(path, maxBytes);
        return decodeUtf8(r.buf, path);
      }
      if (st.size > maxBytes) throw overLimit(path, st.size, maxBytes);
      size = st.size;
    }
    buf = readSized(fd, size, path, maxBytes);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: cannot read file (${code ?? "error"})`, path);
  } finally {
    closeSync(fd);
  }
  return checkedText(buf.toString("utf8"), path, maxBytes);
}

function overLimit(path: string, size: number, maxBytes: number): InputError {
  return new InputError(
    `${path}: file is ${mib(size)}, larger than the ${mib(maxBytes)} limit; refusing to read it`,
    path,
  );
}

function moreThan(path: string, maxBytes: number): InputError {
  return new InputError(`${path}: more than ${mib(maxBytes)} of input; refusing to read it`, path);
}

/**
 * Node's decoding of a regular file's bytes: invalid UTF-8 shows as U+FFFD,
 * which we refuse (fail-closed on unreadable input); a BOM is dropped.
 */
function checkedText(text: string, path: string, maxBytes: number): string {
  if (text.length > maxBytes) throw moreThan(path, maxBytes);
  if (text.includes("\uFFFD")) {
    throw new InputError(
      `${path}: not valid UTF-8 text (binary data or another encoding such as latin-1)`,
      path,
    );
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * An open regular file said to hold `size` bytes, whole: one read of size + 1
 * bytes that returns `size` is the whole file, with no read to see EOF (as
 * readFileSync trusts fstat's size; Node's readFileSync(fd, "utf8") reads
 * 8 KiB at a time to EOF: 17 reads for a host's 130 KB all.xml, plus one).
 * A file longer than said (grown since the walk, or a procfs file whose
 * fstat says 0) is read on to its end, one shorter to EOF, within maxBytes.
 */
function readSized(fd: number, size: number, path: string, maxBytes: number): Buffer {
  let buf = Buffer.allocUnsafe(size + 1);
  let n = 0;
  for (;;) {
    const k = readSync(fd, buf, n, buf.length - n, null);
    if (k === 0) return buf.subarray(0, n);
    n += k;
    if (n === size && n < buf.length) return buf.subarray(0, n);
    if (n > maxBytes) throw moreThan(path, maxBytes);
    if (n === buf.length) {
      const bigger = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, 64 * 1024), maxBytes + 1));
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
  }
}

function str(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" && typeof v !== "number") {
    throw new InputError(`${file}: field "${field}" must be a string`, file);
  }
  return String(v);
}

export function readHostJson(path: string): { hostname?: string; versions: HostVersions } {
  const text = readTextFile(path);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: invalid JSON (${e instanceof Error ? e.message : e})`, path);
  }
  if (!j || typeof j !== "object" || Array.isArray(j))
    throw new InputError(`${path}: expected a JSON object`, path);
  const o = j as Record<string, unknown>;
  const hv = o.hypervisor;
  if (hv !== undefined && (hv === null || typeof hv !== "object")) {
    throw new InputError(`${path}: "hypervisor" must be an object {type, version}`, path);
  }
  const h = (hv ?? {}) as Record<string, unknown>;
  const versions: HostVersions = {};
  const lv = str(o.libvirtVersion, path, "libvirtVersion");
  if (lv) versions.libvirt = lv;
  const ht = str(h.type, path, "hypervisor.type");
  if (ht) versions.hypervisorType = ht;
  const hver = str(h.version, path, "hypervisor.version");
  if (hver) versions.hypervisorVersion = hver;
  const kv = str(o.kernelVersion, path, "kernelVersion");
  if (kv) versions.kernel = kv;
  const hostname = str(o.hostname, path, "hostname");
  return hostname ? { hostname, versions } : { versions };
}

export function isDumpDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A node device file of a dump. Real hosts have non-UTF-8 bytes in DMI
 * strings (the `computer` device's <hardware> vendor/product, written by
 * `virsh nodedev-dumpxml` as the firmware gives them): such a file is not
 * refused as a whole; each <device> element holding an undecodable byte is
 * skipped with a `device-skipped` warning, the others are kept.
 */
function readNodedevFile(path: string, warnings: Reason[], known?: Known): string | null {
  try {
    return readTextFile(path, MAX_INPUT_FILE_BYTES, known);
  } catch (e) {
    if (!(e instanceof InputError) || !e.message.includes("not valid UTF-8")) throw e;
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(readFileSync(path));
  // Undecodable bytes outside any <device> element are not a DMI string: refuse the file.
  if (text.replace(/<device[\s>][\s\S]*?<\/device>/g, "").includes("\uFFFD")) {
    throw new InputError(
      `${path}: not valid UTF-8 text (binary data or another encoding such as latin-1)`,
      path,
    );
  }
  const kept: string[] = [];
  for (const m of text.matchAll(/<device[\s>][\s\S]*?<\/device>/g)) {
    const dev = m[0];
    if (!dev.includes("\uFFFD")) {
      kept.push(dev);
      continue;
    }
    const name = /<name>([^<]*)<\/name>/.exec(dev)?.[1] ?? "(unnamed)";
    warnings.push(
      reason(
        "device-skipped",
        `${path}: node device ${name.replace(/\uFFFD/g, "?")} skipped: not valid UTF-8 (e.g. a latin-1 DMI string); the other devices of the file are read`,
        { file: path },
      ),
    );
  }
  return kept.length ? kept.join("\n") : null;
}

/**
 * What reading a dump asks of its directory, by path relative to it: the file
 * system (fsView), or the listing of the inventory cache's fingerprint walk
 * (listedView), which answers without a syscall and leaves to the file
 * system, asked exactly as fsView asks it, what it cannot tell (a path
 * through a symlink). Both follow a symlink to see what it points to.
 */
interface DumpView {
  isDir(rel: string): boolean;
  isFile(rel: string): boolean;
  /** Files (or symlinks to files) in directory `rel` whose names match `ext`, as paths under the dump, sorted. */
  files(rel: string, ext: RegExp): string[];
  /** What the walk knows of a plain file files() gave (readTextFile's `known`). */
  known(path: string): Known;
}

function fsView(dir: string): DumpView {
  return {
    isDir: (rel) => isDumpDir(join(dir, rel)),
    isFile: (rel) => isFile(join(dir, rel)),
    files: (rel, ext) => listFiles(join(dir, rel), ext),
    known: () => undefined,
  };
}

function listedView(dir: string, listing: TreeListing): DumpView {
  const fs = fsView(dir);
  const known = new Map<string, number | StatSink>();
  return {
    isDir: (rel) => {
      const k = listing.kind(rel);
      return k === undefined ? fs.isDir(rel) : k === "dir";
    },
    isFile: (rel) => {
      const k = listing.kind(rel);
      return k === undefined ? fs.isFile(rel) : k === "file";
    },
    files: (rel, ext) => {
      const names = listing.names(rel);
      if (names === undefined) return fs.files(rel, ext);
      const sub = join(dir, rel);
      // A name from readdir has no '/' and is not '.' or '..': appended, it is join's path.
      const prefix = sub.endsWith(sep) ? sub : sub + sep;
      const out: string[] = [];
      for (const name of names) {
        if (!ext.test(name)) continue;
        const r = `${rel}/${name}`;
        if (listing.kind(r) !== "file") continue;
        const p = prefix + name;
        out.push(p);
        const st = listing.plainFile(r);
        const k = st ? Number(st.size) : listing.sinkOf(r);
        if (k !== undefined) known.set(p, k);
      }
      return out; // names are sorted, under one prefix
    },
    known: (path) => known.get(path),
  };
}

/**
 * Read a dump directory. `listing`: what the inventory cache's fingerprint
 * walk of it saw (src/cache/listing.ts), used instead of listing and
 * stat'ing again. Should that read fail (a file listed then removed, say),
 * the directory is read afresh, so the answer and any error are those of a
 * read without it.
 */
export function readDumpDir(dir: string, key: string, target: string, listing?: TreeListing | null): RawHost {
  if (listing) {
    try {
      return readDump(dir, key, target, listedView(dir, listing), listing);
    } catch {
      // read afresh below: its answer, or its error, is the one to give
    }
  }
  return readDump(dir, key, target, fsView(dir), null);
}

function readDump(
  dir: string,
  key: string,
  target: string,
  view: DumpView,
  listing: TreeListing | null,
): RawHost {
  const nodedevDir = join(dir, "nodedev");
  if (!view.isDir("nodedev")) {
    throw new InputError(`${dir}: not a dump directory (no nodedev/ folder with node device XML)`, dir);
  }
  const nodeFiles = view.files("nodedev", /\.xml$/i);
  if (nodeFiles.length === 0)
    throw new InputError(`${nodedevDir}: no node device XML files (*.xml)`, nodedevDir);
  const hostJsonPath = join(dir, "host.json");
  const hj = view.isFile("host.json") ? readHostJson(hostJsonPath) : { versions: {} };
  const warnings: Reason[] = [];
  const nodeDevices = nodeFiles.flatMap((p) => {
    const xml = readNodedevFile(p, warnings, view.known(p));
    return xml === null ? [] : [{ xml, origin: p }];
  });
  const raw: RawHost = {
    key,
    target,
    kind: "dump",
    versions: hj.versions,
    nodeDevices,
    // In a dump directory we cannot tell live from persistent: every definition
    // counts as both (fail-closed: its devices are reserved either way).
    domains: view.files("domains", /\.xml$/i).map((p) => ({
      xml: readTextFile(p, MAX_INPUT_FILE_BYTES, view.known(p)),
      active: true,
      persistent: true,
      origin: p,
    })),
    // Networks in a dump directory are taken as active (documented).
    networks: view.files("networks", /\.xml$/i).map((p) => ({
      xml: readTextFile(p, MAX_INPUT_FILE_BYTES, view.known(p)),
      active: true,
      origin: p,
    })),
    descriptorFiles: view.files("descriptors", /\.conf$/i).map((p) => ({
      path: p,
      text: readTextFile(p),
    })),
    vendorAttrs: [],
    warnings,
  };
  if (hj.hostname) raw.hostname = hj.hostname;
  const facts = dumpFacts(dir, view, listing);
  if (facts) raw.facts = facts;
  return raw;
}

/**
 * A dump's partial copy of /sys under `sys/` (read by the same code as
 * --sysfs-root) and `devlink-dev-info.json` (`devlink -j dev info`), which
 * wins per fact (docs/dump-sys.md).
 */
export function readDumpFacts(dir: string): HostFacts | undefined {
  return dumpFacts(dir, fsView(dir), null);
}

function dumpFacts(dir: string, view: DumpView, listing: TreeListing | null): HostFacts | undefined {
  const sys = view.isDir("sys") ? readHostFacts(dir, listing) : undefined;
  const dl = join(dir, "devlink-dev-info.json");
  const devlink = view.isFile("devlink-dev-info.json")
    ? { firmware: parseDevlinkInfo(readTextFile(dl), dl) }
    : undefined;
  if (!sys && !devlink) return undefined;
  return mergeFacts(sys, devlink);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
