/**
 * The node device reader's memo (src/xml/nodedev.ts, ElementMemo in
 * src/xml/scan.ts): a device whose exact text was read before is handed out
 * again without a scan. Every answer, and every error, must be the one a
 * read without the memo gives.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  MEMO_PRIMING_DEVICE,
  copyDevice,
  isMemoShared,
  readNodeDevices,
  useDeviceMemo,
} from "../../src/xml/nodedev.js";
import { type ElementMemo, scanDoc } from "../../src/xml/scan.js";
import type { NodeDevice } from "../../src/model.js";

const PCI = (fn: number, avail = 16) => `<device>
  <name>pci_0000_41_00_${fn}</name>
  <path>/sys/devices/pci0000:40/0000:40:01.1/0000:41:00.${fn}</path>
  <parent>pci_0000_40_01_1</parent>
  <driver><name>nvidia</name></driver>
  <capability type='pci'>
    <class>0x030200</class>
    <domain>0</domain><bus>65</bus><slot>0</slot><function>${fn}</function>
    <product id='0x1EB8'>TU104GL [Tesla T4]</product>
    <vendor id='0x10de'>NVIDIA Corporation</vendor>
    <capability type='mdev_types'>
      <type id='nvidia-222'><name>GRID T4-1B</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>${avail}</availableInstances></type>
    </capability>
    <iommuGroup number='4${fn}'>
      <address domain='0x0000' bus='0x41' slot='0x00' function='0x${fn}'/>
    </iommuGroup>
  </capability>
</device>`;

const NET = `<device>
  <name>net_enp65s0f0_3c_fd_fe_00_00_01</name>
  <parent>pci_0000_41_00_0</parent>
  <capability type='net'><interface>enp65s0f0</interface><address>3C:FD:FE:00:00:01</address><link state='up'/></capability>
</device>`;

/** A device of a kind whose text repeats from host to host (a SCSI host adapter). */
const SCSI = `<device>
  <name>scsi_host0</name>
  <path>/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/scsi_host/host0</path>
  <parent>pci_0000_00_17_0</parent>
  <capability type='scsi_host'><host>0</host><unique_id>1</unique_id></capability>
</device>`;

/** What a read gives: the devices as JSON, or the error's message. */
function outcome(text: string): string {
  try {
    return JSON.stringify(readNodeDevices(text, "n.xml"));
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

function withoutMemo(text: string): string {
  useDeviceMemo(false);
  try {
    return outcome(text);
  } finally {
    useDeviceMemo(true);
  }
}

function isDeepFrozen(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeepFrozen);
}

afterAll(() => useDeviceMemo(true));

describe("the device memo", () => {
  // First in this file: the thread's first read primes V8 on a memo of its own.
  it("is not changed by the priming read of a thread's first file (its device is still new to the memo)", () => {
    expect(useDeviceMemo(true)).toBe(0);
    const [once] = readNodeDevices(MEMO_PRIMING_DEVICE, "p.xml"); // primes, then read once: hash only
    expect(useDeviceMemo(true)).toBe(0);
    expect(isMemoShared(once!)).toBe(false);
    const [twice] = readNodeDevices(MEMO_PRIMING_DEVICE, "p.xml"); // second sight: kept
    expect(useDeviceMemo(true)).toBe(1);
    expect(isMemoShared(twice!)).toBe(true);
    const [, third] = readNodeDevices(`${SCSI}\n${MEMO_PRIMING_DEVICE}`, "q.xml");
    expect(third).toBe(twice);
    expect(withoutMemo(MEMO_PRIMING_DEVICE)).toBe(JSON.stringify([once]));
  });

  it("hands out the device it read from the same text, frozen, in a file laid out otherwise", () => {
    useDeviceMemo(true, true);
    const [once] = readNodeDevices(PCI(0), "w.xml"); // read once: only its hash is noted
    const [a] = readNodeDevices(`<devices>\n${PCI(0)}\n</devices>`, "a.xml"); // read again: kept
    expect(a).not.toBe(once);
    expect(a).toEqual(once);
    const [b, c] = readNodeDevices(`<?xml version="1.0"?>\n${NET}\n${PCI(0)}`, "b.xml");
    expect(c).toBe(a); // the same object: recalled, not read again
    expect(b!.name).toBe("net_enp65s0f0_3c_fd_fe_00_00_01");
    expect(isDeepFrozen(a)).toBe(true);
    expect(isDeepFrozen(b)).toBe(true); // read fresh: frozen all the same
    expect(() => {
      (a as { driver: string | null }).driver = "vfio-pci";
    }).toThrow(TypeError);
    expect(() => a!.pci!.mdevTypes.push({ id: "x" })).toThrow(TypeError);
    // One character apart is another device.
    const [d] = readNodeDevices(PCI(0, 15), "c.xml");
    expect(d).not.toBe(a);
    expect(d!.pci!.mdevTypes[0]!.availableInstances).toBe(15);
  });

  it("gives the reads and errors of a read without it, for texts it holds in broken documents", () => {
    useDeviceMemo(true, true);
    outcome(`<devices>${PCI(1)}${NET}</devices>`);
    outcome(`${PCI(2)}\n${NET}`);
    const cases = [
      `${PCI(1)}<device>`,
      `<devices>${PCI(1)}`,
      `${PCI(1)}</devices>`,
      `<devices>${PCI(1)}</devices>junk`,
      `<devices>${PCI(1)}</devices><devices>${NET}</devices>`,
      `${PCI(2)}<?xml version="1.0"?>${NET}`,
      `<devices>${PCI(1)}<?xml version="1.0"?>${NET}</devices>`,
      `<devices>${PCI(1)}&bogus;</devices>`,
      `<devices>${PCI(1)}<!DOCTYPE x>${NET}</devices>`,
      `<foo>${PCI(1)}</foo>`,
      `<device><name>outer</name>${PCI(1)}</device>`,
      `${PCI(1).slice(0, -1)}`,
      `${PCI(1)}${PCI(1)}`,
    ];
    for (const t of cases) expect(outcome(t), t).toBe(withoutMemo(t));
    expect(outcome(cases[0]!)).toMatch(/^error: .*unclosed element <device>/);
    expect(outcome(cases[9]!)).toMatch(/^error: .*found <foo>/);
  });

  it("recalls no text inside a namespace scope, and keeps none read in one", () => {
    useDeviceMemo(true, true);
    const prefixed = "<device><name>d</name><p:x/></device>";
    // Read where p is declared: well formed there...
    expect(outcome(`<devices xmlns:p='urn:x'>${prefixed}</devices>`)).not.toMatch(/^error/);
    // ...and not kept, so where p is not declared the error stands.
    expect(outcome(`<devices>${prefixed}</devices>`)).toMatch(/undeclared namespace prefix 'p'/);
    expect(outcome(prefixed)).toMatch(/undeclared namespace prefix 'p'/);
    // Kept at the top level, not recalled under a wrapper with a declaration.
    const plain = "<device><name>e</name></device>";
    readNodeDevices(plain, "w.xml");
    const [kept] = readNodeDevices(plain, "a.xml");
    expect(readNodeDevices(`<devices>${plain}</devices>`, "b.xml")[0]).toBe(kept);
    const [scoped] = readNodeDevices(`<devices xmlns:q='urn:y'>${plain}</devices>`, "c.xml");
    expect(scoped).not.toBe(kept);
    expect(scoped).toEqual(kept);
  });

  it("recalls devices in the order of the last file, and reads the one that changed", () => {
    useDeviceMemo(true, true);
    readNodeDevices(`${PCI(0)}${PCI(1)}${SCSI}${PCI(2)}`, "w.xml");
    const first = readNodeDevices(`${PCI(0)}${PCI(1)}${SCSI}${PCI(2)}`, "a.xml");
    const texts = [
      `${PCI(0)}${PCI(1, 9)}${SCSI}${PCI(2)}`,
      `${PCI(2)}${SCSI}${PCI(1)}${PCI(0)}`,
      `<devices>${PCI(0)}\n${PCI(1)}<!-- c -->${SCSI}${PCI(2).replace("nvidia", "vfio-pci")}</devices>`,
    ];
    for (const t of texts) expect(outcome(t), t).toBe(withoutMemo(t));
    const again = readNodeDevices(`${PCI(0)}${PCI(1)}${SCSI}${PCI(2)}`, "b.xml");
    again.forEach((dev, k) => expect(dev).toBe(first[k]));
  });

  it("recalls devices one file a device, in the order of the last host, and reads the one that changed", () => {
    useDeviceMemo(true, true);
    const host = [PCI(0), PCI(1), SCSI, PCI(2), "<device><name>e</name></device>"];
    for (let k = 0; k < 2; k++) for (const t of host) readNodeDevices(t, "w.xml");
    const first = host.map((t) => readNodeDevices(t, "a.xml")[0]);
    const other = [PCI(0), PCI(1, 9), SCSI, PCI(2), PCI(3), "<device><name>e</name></device>"];
    for (const order of [other, [...other].reverse(), host])
      for (const t of order) expect(outcome(t), t).toBe(withoutMemo(t));
    host.forEach((t, k) => expect(readNodeDevices(t, "b.xml")[0]).toBe(first[k]));
  });

  it("holds no device named after its own identifier (MAC, serial, UUID, the host's system), and still foretells the one after it", () => {
    useDeviceMemo(true, true);
    const named = (name: string) =>
      `<device>\n  <name>${name}</name>\n  <parent>computer</parent>\n</device>`;
    const unique = [
      NET,
      named("block_sda_SAMSUNG_MZ7L3480HCHQ_00A07_S5YJNA0R123456"),
      named("storage_serial_S5YJNA0R123456"),
      named("mdev_4b20d080_1b54_4048_85b3_a6a62d165c01"),
      `<device><name>computer</name><capability type='system'><hardware><uuid>4c4c4544-0050-3510-8058-c7c04f4e4e33</uuid></hardware></capability></device>`,
    ];
    const like = [named("netdev_x"), named("blocks"), named("computers"), named("mdevctl"), SCSI];
    const file = (ds: string[]) => `<devices>${ds.join("\n")}${PCI(5)}</devices>`;
    for (let k = 0; k < 3; k++) {
      for (const t of [...unique, ...like]) readNodeDevices(t, "w.xml");
      readNodeDevices(file(unique), "f.xml");
    }
    // The look-alikes and the PCI function are held; the uniquely named devices are not.
    expect(useDeviceMemo(true)).toBe(like.length + 1);
    for (const t of unique) {
      const [a] = readNodeDevices(t, "a.xml");
      const [b] = readNodeDevices(t, "b.xml");
      expect(b).not.toBe(a);
      expect(b).toEqual(a);
      expect(outcome(t)).toBe(withoutMemo(t));
    }
    for (const t of like) expect(readNodeDevices(t, "c.xml")[0]).toBe(readNodeDevices(t, "d.xml")[0]);
    // The function after them in a file is recalled (foretold past them), as a read without the memo gives it.
    const [pci] = readNodeDevices(PCI(5), "p.xml");
    expect(readNodeDevices(file(unique), "g.xml").at(-1)).toBe(pci);
    expect(outcome(file(unique))).toBe(withoutMemo(file(unique)));
  });

  it("holds a device whose element has a <device> child (a USB device's number), found by its own close tag", () => {
    useDeviceMemo(true, true);
    const usb = (n: number) => `<device>
  <name>usb_1_${n}</name>
  <parent>usb_usb1</parent>
  <driver><name>usb</name></driver>
  <capability type='usb_device'><bus>1</bus><device>${n}</device><product id='0xc52b'>Receiver</product><vendor id='0x046d'>Logitech</vendor></capability>
</device>`;
    for (let k = 0; k < 2; k++) readNodeDevices(usb(2), "w.xml");
    const [held] = readNodeDevices(usb(2), "a.xml");
    expect(readNodeDevices(usb(2), "b.xml")[0]).toBe(held); // one file a device
    const doc = `<devices>${PCI(0)}${usb(2)}${usb(3)}</devices>`;
    expect(readNodeDevices(doc, "c.xml")[1]).toBe(held); // inside a document
    // Another bus number is another device; broken neighbours read as without the memo.
    const cases = [
      usb(3),
      doc,
      `${usb(2)}</device>`,
      `${usb(2).replace("</capability>\n</device>", "</capability>")}`,
      `<devices>${usb(2)}<device>1</device></devices>`,
      `<devices>${usb(2).replace("<device>2</device>", "<device id='2'>2</device>")}</devices>`,
      `<devices><!-- <device> -->${usb(2)}</devices>`,
    ];
    for (const t of cases) expect(outcome(t), t).toBe(withoutMemo(t));
  });

  it("recalls a file that is one device it holds and white space, and scans any other file", () => {
    useDeviceMemo(true, true);
    const dev = PCI(4);
    for (let k = 0; k < 2; k++) readNodeDevices(dev, "w.xml"); // kept
    const [held] = readNodeDevices(dev, "a.xml");
    for (const t of [dev, `${dev}\n`, `${dev} \t\r\n`]) {
      expect(readNodeDevices(t, "b.xml"), JSON.stringify(t.slice(-4))).toEqual([held]);
      expect(readNodeDevices(t, "b.xml")[0]).toBe(held);
    }
    const others = [
      `\uFEFF${dev}`,
      ` ${dev}`,
      `<?xml version="1.0"?>${dev}`,
      `${dev}<!-- c -->`,
      `${dev}x`,
      `${dev}\n<`,
      `${dev}\u00a0`,
      `${dev}\n${dev}`,
      `${dev}\n</device>`,
      `${dev}&amp;`,
      `${dev}<!DOCTYPE x>`,
      dev.slice(0, -1),
    ];
    for (const t of others) expect(outcome(t), JSON.stringify(t.slice(-12))).toBe(withoutMemo(t));
    expect(outcome(`${dev}x`)).toMatch(/^error: /);
    expect(outcome(`${dev}\u00a0`)).toMatch(/^error: /);
  });

  it("holds at most two generations, and answers the same across them", () => {
    useDeviceMemo(true, true, 4);
    const docs = Array.from({ length: 12 }, (_, k) => `${PCI(k % 10, k)}${NET}${PCI((k + 3) % 10, k)}`);
    for (let round = 0; round < 3; round++)
      for (const t of docs) {
        expect(outcome(t), t).toBe(withoutMemo(t));
        expect(useDeviceMemo(true)).toBeLessThanOrEqual(8);
      }
    useDeviceMemo(true, true);
  });

  it("never keeps a device that fails to read", () => {
    useDeviceMemo(true, true);
    const bad = "<device><name>d</name><capability/></device>";
    for (let k = 0; k < 2; k++)
      expect(outcome(bad)).toBe("error: n.xml: node device 'd': <capability> without a type attribute");
  });

  it("agrees with a read without it on generated files of devices seen before", () => {
    useDeviceMemo(true, true);
    const pieces = [
      PCI(0),
      PCI(1),
      PCI(0, 3),
      NET,
      "<device><name>e</name></device>",
      "<device ><name>f</name></device >",
    ];
    for (const p of pieces) for (let k = 0; k < 2; k++) outcome(`<devices>${p}</devices>`); // all of them kept
    const piece = fc.oneof(
      fc.constantFrom(...pieces),
      // A piece cut short or with one character changed: not one kept before.
      fc
        .tuple(fc.constantFrom(...pieces), fc.nat(), fc.constantFrom("", "<", "&", "x", "]]>", "\u0001"))
        .map(([p, at, s]) => p.slice(0, at % p.length) + s + p.slice((at % p.length) + 1)),
    );
    const between = fc.constantFrom("", "\n", "<!-- c -->", '<?xml version="1.0"?>\n', "<?pi x?>", "text");
    const wrapper = fc.constantFrom(
      ["", ""],
      ["<devices>", "</devices>"],
      ["<devices xmlns:p='u'>", "</devices>"],
      ["<devices a='1'>", "</devices>"],
    );
    fc.assert(
      fc.property(
        wrapper,
        fc.array(fc.tuple(between, piece), { minLength: 1, maxLength: 5 }),
        ([open, close], parts) => {
          const text = open + parts.map(([b, p]) => b + p).join("\n") + close;
          const want = withoutMemo(text);
          expect(outcome(text)).toBe(want);
          expect(outcome(text)).toBe(want); // and again, with all its devices now kept
        },
      ),
      { numRuns: 400, seed: 7 },
    );
  });

  it("copyDevice: an equal device that shares no object and can be changed", () => {
    useDeviceMemo(true, true);
    const [a] = readNodeDevices(PCI(3), "a.xml");
    const c = copyDevice(a!);
    expect(c).toEqual(a);
    const objects = (v: unknown, out: object[] = []): object[] => {
      if (typeof v === "object" && v !== null) {
        out.push(v);
        for (const x of Object.values(v)) objects(x, out);
      }
      return out;
    };
    const mine = new Set(objects(a));
    for (const o of objects(c)) expect(mine.has(o)).toBe(false);
    (c as NodeDevice).driver = "vfio-pci";
    c.pci!.mdevTypes.push({ id: "nvidia-223" });
    expect(a!.driver).toBe("nvidia");
    expect(a!.pci!.mdevTypes).toHaveLength(1);
  });
});

describe("scanDoc with an ElementMemo", () => {
  const dev = "<device><name>a</name></device>";
  const entry = { text: dev };
  const memo: ElementMemo = {
    open: "<device>",
    lookup: (text, at) => (text.startsWith("<device><name>a", at) ? entry : undefined),
  };

  it("records a known element with its value, and still checks the document around it", () => {
    const d = scanDoc(`<devices>\n${dev}<x/></devices>`, { memo });
    const first = d.first(d.roots[0]!);
    expect(d.known(first)).toBe(entry);
    expect(d.name(first)).toBe("device");
    expect(d.first(first)).toBe(-1);
    expect(d.known(d.next(first))).toBeUndefined();
    expect(d.name(d.next(first))).toBe("x");
    expect(() => scanDoc(`${dev}${dev}`, { memo })).toThrow(/only one root element/);
    expect(scanDoc(`${dev}${dev}`, { memo, multiRoot: true }).roots).toHaveLength(2);
    expect(() => scanDoc(`<devices>${dev}`, { memo })).toThrow(/unclosed element <devices>/);
    // Where the text differs from the entry's, the element is scanned as written.
    expect(() => scanDoc("<device><name>ab</name></devic>", { memo })).toThrow(/expected closing tag/);
    // Deeper than a root's child, or under a namespace declaration: not asked.
    const deep = scanDoc(`<a><b>${dev}</b></a>`, { memo });
    expect(deep.known(deep.first(deep.first(deep.roots[0]!)))).toBeUndefined();
    const scoped = scanDoc(`<a xmlns:p='u'>${dev}</a>`, { memo });
    expect(scoped.known(scoped.first(scoped.roots[0]!))).toBeUndefined();
  });
});
