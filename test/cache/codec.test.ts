/**
 * The cache's entry body (src/cache/codec.ts): decode(encode(inventory)) is
 * the inventory, less only the fields planning never reads, for every sample
 * host, a generated fleet host and a host holding every corpus node device.
 * And the deny list stays true: no file outside the XML readers reads those
 * fields.
 */
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UNUSED_FIELDS, decodeInventory, encodeInventory } from "../../src/cache/codec.js";
import { newestStamp, racy, scan } from "../../src/cache/inventory.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostInventory } from "../../src/inventory/types.js";
import type { NodeDevice, RawHost } from "../../src/model.js";
import { readDumpDir } from "../../src/targets/dump.js";
import { readNodeDevices } from "../../src/xml/nodedev.js";
import { ROOT } from "../helpers/cli.js";
import { assertCorpus, corpusRequired, xmlFilesUnder } from "../helpers/corpus.js";
import { tempDir } from "../helpers/dump.js";
import { genFleet } from "../helpers/fleet.js";

/** The inventory with the deny-listed fields removed (what the cache must give back). */
function expected(inv: HostInventory): HostInventory {
  const c = structuredClone(inv);
  for (const d of c.devices) {
    for (const k of UNUSED_FIELDS.device) delete d[k];
    if (d.pci) for (const k of UNUSED_FIELDS.pci) delete d.pci[k];
    if (d.usb) for (const k of UNUSED_FIELDS.usb) delete d.usb[k];
  }
  // The clone's maps point at the clone's devices (same positions as the original's).
  const at = (d: NodeDevice) => c.devices[inv.devices.indexOf(d)]!;
  for (const [from, to] of [
    [inv.byName, c.byName],
    [inv.pciByAddr, c.pciByAddr],
    [inv.mdevByUuid, c.mdevByUuid],
  ] as const)
    for (const [k, d] of from) to.set(k, at(d));
  for (const [k, l] of inv.netByParent) c.netByParent.set(k, l.map(at));
  return c;
}

/** The body as JSON.stringify writes the stored form: encodeInventory writes it by hand, device texts kept. */
function plainBody(inv: HostInventory): string {
  const {
    byName,
    pciByAddr,
    mdevByUuid,
    netByParent,
    driversKnown,
    networks,
    reserved,
    poolMembers,
    ...rest
  } = inv;
  return JSON.stringify({
    ...rest,
    devices: expected(inv).devices,
    networks: [...networks].map(([k, n]) => [k, { ...n, handedOut: n.handedOut ? [...n.handedOut] : null }]),
    reserved: [...reserved],
    poolMembers: [...poolMembers],
  });
}

function roundTrip(inv: HostInventory): void {
  // The same text, the first time and again (each device's text then kept).
  expect(encodeInventory(inv)).toBe(plainBody(inv));
  expect(encodeInventory(inv)).toBe(plainBody(inv));
  const back = decodeInventory(encodeInventory(inv));
  expect(back).not.toBeNull();
  expect(back).toEqual(expected(inv));
  // The maps point at the decoded devices themselves, as buildInventory's do.
  const own = new Set(back!.devices);
  for (const d of back!.byName.values()) expect(own.has(d)).toBe(true);
  for (const d of back!.pciByAddr.values()) expect(own.has(d)).toBe(true);
}

const SAMPLES = join(ROOT, "xml-samples/hosts");

describe("cache codec: decode(encode(x)) is x less the unused fields", () => {
  it.each(readdirSync(SAMPLES).sort())("sample host %s", (h) => {
    const inv = buildInventory(readDumpDir(join(SAMPLES, h), h, join(SAMPLES, h)));
    expect(inv.devices.length).toBeGreaterThan(0);
    roundTrip(inv);
  });

  it("a generated fleet host (GPUs with mdevs, VF pools, networks, domains)", () => {
    const f = genFleet(tempDir("hdplan-codec-"), ["--hosts", "2"]);
    const h = join(f, "hosts/host-0002");
    const inv = buildInventory(readDumpDir(h, "host-0002", h));
    expect(inv.networks.size).toBeGreaterThan(0);
    expect(inv.reserved.size).toBeGreaterThan(0);
    roundTrip(inv);
  });

  it.runIf(corpusRequired("nodedev"))("a host holding every corpus node device", () => {
    const files = xmlFilesUnder(assertCorpus("nodedev"));
    const nodeDevices = files.flatMap((f) => {
      const xml = readFileSync(f, "utf8");
      try {
        readNodeDevices(xml, f);
      } catch {
        return []; // a document the reader refuses is not part of an inventory
      }
      return [{ xml, origin: f }];
    });
    expect(nodeDevices.length).toBeGreaterThan(30);
    const raw: RawHost = {
      key: "corpus",
      target: "corpus",
      kind: "dump",
      versions: {},
      nodeDevices,
      domains: [],
      networks: [],
      descriptorFiles: [],
      vendorAttrs: [],
      warnings: [],
    } as unknown as RawHost;
    const inv = buildInventory(raw);
    expect(inv.devices.some((d) => d.pci?.vendorName)).toBe(true);
    roundTrip(inv);
  });

  it("what is not an entry body decodes to null", () => {
    const outline = {
      key: "k",
      target: "t",
      devices: [],
      domains: [],
      networks: [],
      reserved: [],
      poolMembers: [],
      warnings: [],
      facts: { firmware: [] },
    };
    expect(decodeInventory(JSON.stringify(outline))).not.toBeNull();
    for (const t of [
      "",
      "{",
      "null",
      "[]",
      "{}",
      JSON.stringify({ ...outline, devices: {} }),
      JSON.stringify({ ...outline, devices: [null] }),
      JSON.stringify({ ...outline, devices: [{ name: 1 }] }),
      JSON.stringify({ ...outline, networks: [null] }),
      JSON.stringify({ ...outline, reserved: [1] }),
    ])
      expect(decodeInventory(t)).toBeNull();
  });
});

describe("cache codec: the deny list names only fields planning never reads", () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  // The XML readers fill them; the model declares them; the codec drops them.
  const readers = files(join(ROOT, "src")).filter(
    (f) => !/\/src\/(xml\/|model\.ts$|cache\/codec\.ts$)/.test(f),
  );
  const names = [...new Set([...UNUSED_FIELDS.pci, ...UNUSED_FIELDS.usb])];

  it.each(names)("no src file outside src/xml reads .%s", (name) => {
    const re = new RegExp(`\\.${name}\\b|\\b${name}\\s*[:,}]`);
    const hits = readers.filter((f) => re.test(readFileSync(f, "utf8")));
    expect(hits).toEqual([]);
  });

  it("no src file outside src/xml reads a node device's .path", () => {
    // Node devices go by these names in src/; other .path reads (files, locks) are not devices.
    const re = /\b(?:d|nd|dev|fn|parent|pf|vf|gpu|device|node|nodeDev|func)(?:!|\?)?\.path\b/;
    const hits = readers.filter((f) => re.test(readFileSync(f, "utf8")));
    expect(hits).toEqual([]);
  });

  it("the guard would see a read", () => {
    expect(/\.vendorName\b/.test("const n = fn.pci.vendorName;")).toBe(true);
  });
});

describe("cache: racy inputs are never written (docs/cache.md)", () => {
  const fp = (mtime: bigint, ctime: bigint) =>
    `Tx\nRx\nfile\x00${33188}\x0010\x00${mtime}\x00${ctime}\x001\x002`;
  const start = 1_800_000_000_500_000_000n;
  it.each([
    ["older than the run's start", fp(start - 1n, start - 5n), false],
    ["mtime in the run's tick", fp(start, start - 5n), true],
    ["ctime after the start", fp(start - 5n, start + 1n), true],
    [
      "a whole-second clock, 1.5 s before the start",
      fp(start - 1_500_000_000n, start - 1_500_000_000n),
      true,
    ],
    ["a whole-second clock, 3 s before the start", fp(start - 3_500_000_000n, start - 3_500_000_000n), false],
  ] as const)("%s", (_what, f, isRacy) => {
    expect(racy(f, start)).toBe(isRacy);
  });
  it("no clock (the cache directory could not be written): never written", () => {
    expect(racy(fp(1n, 1n), null)).toBe(true);
  });

  /** The rule as first written: every 7-field line's stamps parsed as BigInt. */
  function racyReference(f: string, at: bigint): boolean {
    let max = 0n;
    let coarse = true;
    for (const line of f.split("\n")) {
      const x = line.split("\0");
      if (x.length !== 7) continue;
      for (const v of [x[3]!, x[4]!]) {
        const b = BigInt(v);
        if (b > max) max = b;
        if (b % 1_000_000_000n !== 0n) coarse = false;
      }
    }
    return coarse ? max + 2_000_000_000n >= at : max >= at;
  }

  it("the string comparison of stamps gives the BigInt rule's answer (generated fingerprints)", () => {
    const stamp = fc.oneof(
      fc.bigInt({ min: 0n, max: 3_000_000_000_000_000_000n }),
      fc.bigInt({ min: 0n, max: 3_000_000_000n }).map((s) => s * 1_000_000_000n),
      fc.constantFrom(0n, 1n, 999_999_999n, 1_000_000_000n, start, start - 1n, start + 1n),
    );
    const line = fc.oneof(
      fc
        .tuple(fc.string({ maxLength: 5 }), stamp, stamp)
        .map(([r, m, c]) => `${r.replace(/[\0\n]/g, "")}\x0033188\x0010\x00${m}\x00${c}\x001\x002`),
      fc.string({ maxLength: 8 }).map((r) => `D${r.replace(/\0/g, "")}\x00a/b`),
      fc.constantFrom("Tx", "Rx", "L1\x00x"),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 8 }), stamp, (lines, at) => {
        const f = lines.join("\n");
        expect(racy(f, at)).toBe(racyReference(f, at));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("cache: the walk's stamp is the one its fingerprint holds", () => {
  it("newest stamp and coarse flag, counted while walking, equal newestStamp(fp): files, a subdirectory, symlinks, whole-second times", () => {
    const dir = mkdtempSync(join(tmpdir(), "hdplan-stamp-"));
    try {
      mkdirSync(join(dir, "nodedev"));
      writeFileSync(join(dir, "host.json"), "{}");
      writeFileSync(join(dir, "nodedev", "a.xml"), "<device/>");
      writeFileSync(join(dir, "nodedev", "b.xml"), "<device/>");
      symlinkSync("a.xml", join(dir, "nodedev", "c.xml"));
      const check = () => {
        const t = scan(dir);
        expect(t).not.toBeNull();
        expect(t!.stamp).toEqual(newestStamp(t!.fp));
        const f = scan(join(dir, "host.json"));
        expect(f!.stamp).toEqual(newestStamp(f!.fp));
        return t!.stamp;
      };
      expect(check().coarse).toBe(false); // just written: nanoseconds
      // Whole seconds on every file (ctime still has nanoseconds: not coarse).
      for (const p of ["host.json", "nodedev/a.xml", "nodedev/b.xml"])
        utimesSync(join(dir, p), 1_700_000_000, 1_700_000_000);
      check();
      // The newest stamp may come from any file: one in the future.
      utimesSync(join(dir, "nodedev", "b.xml"), 4_000_000_000.25, 4_000_000_000.25);
      expect(check().newest).toBe(4_000_000_000_250_000_000n);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
