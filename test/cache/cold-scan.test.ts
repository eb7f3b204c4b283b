/**
 * The cold walk (src/cache/inventory.ts scanCold): with no entry to compare
 * with, the walk leaves the stat of each node device, domain and network XML
 * file to the read, which fstat's the file it opened before reading it. The
 * fingerprint it gives is the one a full walk takes (else every warm run
 * would miss), the read gives what a fresh read gives, and a file the read
 * did not stat as a regular file it opened leaves no fingerprint (nothing is
 * stored), so no stat can be paired with bytes read before it.
 */
import { cpSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scan, scanCold } from "../../src/cache/inventory.js";
import { readDumpDir } from "../../src/targets/dump.js";
import { ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

const SAMPLES = join(ROOT, "xml-samples", "hosts");
const SAMPLE_HOSTS = readdirSync(SAMPLES).sort();

/** Run `f` on a copy of a sample host's dump, removed after. */
function onCopyOf(host: string, f: (dir: string) => void): void {
  const root = tempDir("hdplan-cold-");
  const dir = join(root, host);
  cpSync(join(SAMPLES, host), dir, { recursive: true });
  try {
    f(dir);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function coldRead(dir: string) {
  const cold = scanCold(dir);
  expect(cold).not.toBeNull();
  const raw = readDumpDir(dir, "k", dir, cold!.listing);
  return { cold: cold!, raw };
}

describe("the cold walk leaves the XML files' stats to the read", () => {
  it.each(SAMPLE_HOSTS)("%s: the full walk's fingerprint and stamp, and a fresh read's host", (host) =>
    onCopyOf(host, (dir) => {
      const { cold, raw } = coldRead(dir);
      const full = scan(dir)!;
      expect(cold.fingerprint()).toBe(full.fp);
      expect(cold.stamp).toEqual(full.stamp);
      expect(raw).toEqual(readDumpDir(dir, "k", dir));
    }),
  );

  it("before the read, the fingerprint is not known", () =>
    onCopyOf("host-a", (dir) => {
      const cold = scanCold(dir)!;
      expect(cold.fingerprint()).toBeNull();
    }));

  it("a file the walk saw as regular and the read found a symlink: read afresh, no fingerprint", () =>
    onCopyOf("host-a", (dir) => {
      const cold = scanCold(dir)!;
      const nd = join(dir, "nodedev");
      const f = readdirSync(nd)
        .filter((n) => n.endsWith(".xml"))
        .sort()[0]!;
      // Swap the file for a symlink to a copy of itself, between the walk and the read.
      cpSync(join(nd, f), join(dir, "copy.xml.bak"));
      unlinkSync(join(nd, f));
      symlinkSync(join(dir, "copy.xml.bak"), join(nd, f));
      const raw = readDumpDir(dir, "k", dir, cold.listing);
      expect(raw).toEqual(readDumpDir(dir, "k", dir));
      expect(cold.fingerprint()).toBeNull();
    }));

  it("a file removed after the walk: read afresh, no fingerprint", () =>
    onCopyOf("host-a", (dir) => {
      const cold = scanCold(dir)!;
      const nd = join(dir, "nodedev");
      const files = readdirSync(nd).filter((n) => n.endsWith(".xml"));
      expect(files.length).toBeGreaterThan(0);
      // Keep one file so that the afresh read still reads a dump.
      writeFileSync(
        join(nd, "zz-extra.xml"),
        "<device><name>computer</name><capability type='system'/></device>\n",
      );
      unlinkSync(join(nd, files[0]!));
      readDumpDir(dir, "k", dir, cold.listing);
      expect(cold.fingerprint()).toBeNull();
    }));

  it("a file changed after the read: the fingerprint is of what was read, and the next walk's differs", () =>
    onCopyOf("host-a", (dir) => {
      const { cold } = coldRead(dir);
      const fp = cold.fingerprint();
      expect(fp).not.toBeNull();
      const nd = join(dir, "nodedev");
      const f = readdirSync(nd)
        .filter((n) => n.endsWith(".xml"))
        .sort()[0]!;
      writeFileSync(join(nd, f), "<device><name>computer</name><capability type='system'/></device>\n");
      expect(scan(dir)!.fp).not.toBe(fp);
    }));
});
