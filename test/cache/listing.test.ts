/**
 * The fingerprint walk's listing (src/cache/listing.ts), which the read of a
 * dump directory that follows a cache miss uses instead of listing and
 * stat'ing the tree again: it answers like the file system wherever it
 * answers, a read with it gives what a fresh read gives, a file that appears
 * after the walk is seen by the next walk, a file that disappears makes the
 * read start afresh, and a directory swapped for a symlink out of the tree
 * after the walk is still not followed.
 */
import {
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fingerprint, scan } from "../../src/cache/inventory.js";
import type { Kind, TreeListing } from "../../src/cache/listing.js";
import { MAX_INPUT_FILE_BYTES, readDumpDir, readTextFile } from "../../src/targets/dump.js";
import { ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

const SAMPLES = join(ROOT, "xml-samples", "hosts");
const SAMPLE_HOSTS = readdirSync(SAMPLES).sort();

function listingOf(dir: string): TreeListing {
  const s = scan(dir);
  expect(s).not.toBeNull();
  expect(s!.listing).not.toBeNull();
  return s!.listing!;
}

/** What stat (following symlinks) says `p` is. */
function fsKind(p: string): Kind {
  try {
    const st = statSync(p);
    return st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
  } catch {
    return "absent";
  }
}

/** Every path under dir (relative, following symlinked directories), plus probes that do not exist. */
function pathsOf(dir: string, rel = "", out: string[] = []): string[] {
  for (const name of readdirSync(rel ? join(dir, rel) : dir).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    out.push(r);
    if (fsKind(join(dir, r)) === "dir") pathsOf(dir, r, out);
  }
  return out;
}

const PROBES = [
  "sys/bus",
  "sys/bus/pci/devices",
  "nvidia-smi-q.txt",
  "devlink-dev-info.json",
  "networks",
  "descriptors",
  "nodedev/missing.xml",
  "host.json/below-a-file",
];

/** A copy of a sample host laid out like a real sysfs copy and a tidy operator: symlinks inside the tree. */
function symlinkedHost(): string {
  const dir = join(tempDir("hdplan-listing-"), "host-a");
  cpSync(join(SAMPLES, "host-a"), dir, { recursive: true });
  // sys/bus/pci/devices/<addr> -> ../../../devices/pci0000:00/<addr>, as in /sys
  const bus = join(dir, "sys/bus/pci/devices");
  mkdirSync(join(dir, "sys/devices/pci0000:00"), { recursive: true });
  for (const addr of readdirSync(bus)) {
    renameSync(join(bus, addr), join(dir, "sys/devices/pci0000:00", addr));
    symlinkSync(`../../../devices/pci0000:00/${addr}`, join(bus, addr));
  }
  // nodedev/ is a symlink to a folder kept elsewhere in the dump; one domain file is a symlink
  mkdirSync(join(dir, "store"));
  renameSync(join(dir, "nodedev"), join(dir, "store/nodedev"));
  symlinkSync("store/nodedev", join(dir, "nodedev"));
  const dom = readdirSync(join(dir, "domains"))[0]!;
  renameSync(join(dir, "domains", dom), join(dir, "store", dom));
  symlinkSync(`../store/${dom}`, join(dir, "domains", dom));
  return dir;
}

describe("the fingerprint walk's listing", () => {
  it("answers like the file system wherever it answers, and answers for every path reached without a symlink", () => {
    const dirs = [...SAMPLE_HOSTS.map((h) => join(SAMPLES, h)), symlinkedHost()];
    let answered = 0;
    let unanswered = 0;
    for (const dir of dirs) {
      const listing = listingOf(dir);
      for (const rel of [...pathsOf(dir), ...PROBES]) {
        const k = listing.kind(rel);
        const parts = rel.split("/");
        const viaLink = parts.slice(0, -1).some((_, i) => {
          try {
            return lstatSync(join(dir, ...parts.slice(0, i + 1))).isSymbolicLink();
          } catch {
            return false;
          }
        });
        if (k === undefined) {
          expect(viaLink, `${dir} ${rel}`).toBe(true);
          unanswered++;
          continue;
        }
        answered++;
        expect(k, `${dir} ${rel}`).toBe(fsKind(join(dir, rel)));
        const names = listing.names(rel);
        if (k === "dir") {
          if (names !== undefined)
            expect([...names], `${dir} ${rel}`).toEqual(readdirSync(join(dir, rel)).sort());
          else expect(lstatSync(join(dir, rel)).isSymbolicLink(), `${dir} ${rel}`).toBe(true);
        } else expect(names, `${dir} ${rel}`).toEqual([]);
      }
    }
    expect(answered).toBeGreaterThan(500);
    expect(unanswered).toBeGreaterThan(5); // the symlinked host's links were left to the file system
  });

  it("a dump read with it gives what a fresh read gives (every sample host, and symlinks inside the tree)", () => {
    for (const dir of [...SAMPLE_HOSTS.map((h) => join(SAMPLES, h)), symlinkedHost()]) {
      const fresh = readDumpDir(dir, "k", dir);
      expect(readDumpDir(dir, "k", dir, listingOf(dir)), dir).toEqual(fresh);
    }
    // the symlinked host still has its facts and all its files
    const dir = symlinkedHost();
    const raw = readDumpDir(dir, "k", dir, listingOf(dir));
    expect(raw.facts?.firmware.length).toBeGreaterThan(0);
    expect(raw.domains).toHaveLength(readdirSync(join(dir, "domains")).length);
    expect(raw.nodeDevices).toHaveLength(readdirSync(join(dir, "store/nodedev")).length);
  });

  it("an optional file that appears after the walk is left for the next walk, which reads it", () => {
    const dir = join(tempDir("hdplan-listing-"), "host-a");
    cpSync(join(SAMPLES, "host-a"), dir, { recursive: true });
    const before = listingOf(dir);
    const fp = fingerprint(dir);
    const gpu = "0000:3b:00.0";
    writeFileSync(
      join(dir, "nvidia-smi-q.txt"),
      `GPU 00000000:3B:00.0\n    GPU Virtualization Mode\n        vGPU Heterogeneous Mode : Enabled\n`,
    );
    writeFileSync(join(dir, "devlink-dev-info.json"), JSON.stringify({ info: {} }));
    // The read of this run sees the tree its fingerprint describes...
    const old = readDumpDir(dir, "k", dir, before);
    expect(old.facts?.vgpuHeterogeneous).toBeUndefined();
    // ...and the next run's fingerprint differs, so it reads the new files.
    expect(fingerprint(dir)).not.toBe(fp);
    const now = readDumpDir(dir, "k", dir, listingOf(dir));
    expect(now.facts?.vgpuHeterogeneous).toEqual([gpu]);
    expect(now).toEqual(readDumpDir(dir, "k", dir));
  });

  it("a listed file removed before it is read: the dump is read afresh, without an error", () => {
    const dir = join(tempDir("hdplan-listing-"), "host-a");
    cpSync(join(SAMPLES, "host-a"), dir, { recursive: true });
    const listing = listingOf(dir);
    const doms = readdirSync(join(dir, "domains"));
    unlinkSync(join(dir, "domains", doms[0]!));
    const raw = readDumpDir(dir, "k", dir, listing);
    expect(raw.domains).toHaveLength(doms.length - 1);
    expect(raw).toEqual(readDumpDir(dir, "k", dir));
    // the same for the folder a required file is in: the error is the fresh read's
    rmSync(join(dir, "nodedev"), { recursive: true });
    expect(() => readDumpDir(dir, "k", dir, listing)).toThrow(/not a dump directory/);
  });

  it("a sys/ folder or file swapped for a symlink out of the tree after the walk is not followed", () => {
    for (const swap of ["sys/module", "sys/module/nvidia/version"]) {
      const top = tempDir("hdplan-listing-");
      const dir = join(top, "host-a");
      cpSync(join(SAMPLES, "host-a"), dir, { recursive: true });
      expect(readDumpDir(dir, "k", dir).facts?.nvidiaVersion).toBeDefined();
      const listing = listingOf(dir);
      // outside the tree: a copy (another inode) holding another version
      const outside = join(top, "outside", swap);
      cpSync(join(dir, swap), outside, { recursive: true });
      const file = swap.endsWith("version") ? outside : join(outside, "nvidia/version");
      writeFileSync(file, "999.99.99\n");
      rmSync(join(dir, swap), { recursive: true });
      symlinkSync(outside, join(dir, swap));
      const raw = readDumpDir(dir, "k", dir, listing);
      expect(raw.facts?.nvidiaVersion, swap).toBeUndefined();
      expect(raw, swap).toEqual(readDumpDir(dir, "k", dir));
      expect(scan(dir), swap).toBeNull(); // and the next walk does not cache the host
    }
  });
});

describe("readTextFile (one read sized from fstat)", () => {
  it("reads a file whole whatever its size, an empty file, and a file whose fstat size is 0 to its end", () => {
    const dir = tempDir("hdplan-read-");
    for (const n of [0, 1, 8191, 8192, 8193, 130_000, 1_000_001]) {
      const text = `<a>${"é☃x".repeat(Math.ceil(n / 3)).slice(0, n)}</a>`;
      writeFileSync(join(dir, "f.xml"), text);
      expect(readTextFile(join(dir, "f.xml"))).toBe(text);
    }
    writeFileSync(join(dir, "bom.xml"), "\uFEFF<a/>");
    expect(readTextFile(join(dir, "bom.xml"))).toBe("<a/>");
    // procfs reports size 0 for files that are not empty
    const status = readTextFile("/proc/self/status");
    expect(status).toMatch(/^Name:/);
    expect(status).toContain("\nPid:");
  });
});

describe("readTextFile with the walk's size (no fstat)", () => {
  const dir = tempDir("hdplan-read-sized-");
  const f = join(dir, "f.xml");
  it("a file of the size the walk saw, one that grew since and one that shrank: each read whole", () => {
    for (const n of [0, 1, 8192, 130_000, 1_000_001]) {
      const text = `<a>${"é☃x".repeat(Math.ceil(n / 3)).slice(0, n)}</a>`;
      writeFileSync(f, text);
      const size = Buffer.byteLength(text);
      expect(readTextFile(f, MAX_INPUT_FILE_BYTES, size)).toBe(text);
      // The walk saw it smaller (it grew before the read) or bigger (it shrank).
      for (const seen of [0, 1, size >> 1, size - 1, size + 1, size * 2 + 7]) {
        if (seen < 0) continue;
        expect(readTextFile(f, MAX_INPUT_FILE_BYTES, seen)).toBe(text);
      }
    }
  });
  it("the same refusals as without it: over the limit (seen or grown), not UTF-8, a BOM dropped", () => {
    writeFileSync(f, "<a>0123456789</a>");
    expect(() => readTextFile(f, 10, 17)).toThrow(/file is 0 MiB, larger than the 0 MiB limit/);
    expect(() => readTextFile(f, 10, 3)).toThrow(/more than 0 MiB of input; refusing to read it/);
    writeFileSync(f, Buffer.from([0x3c, 0x61, 0xe9, 0x3e]));
    expect(() => readTextFile(f, MAX_INPUT_FILE_BYTES, 4)).toThrow(/not valid UTF-8 text/);
    writeFileSync(f, "\uFEFF<a/>");
    expect(readTextFile(f, MAX_INPUT_FILE_BYTES, 8)).toBe("<a/>");
    rmSync(f);
    expect(() => readTextFile(f, MAX_INPUT_FILE_BYTES, 8)).toThrow(/cannot read file \(ENOENT\)/);
  });
});
