/**
 * fast-check fuzzing of the readers and the matcher (issue 7). The rule: a
 * result or a clean InputError (one line, naming the file), never another
 * throw. Inputs are random strings, XML-token soup, and structure-aware
 * mutations of valid documents (drop/duplicate/rename/move elements and
 * attributes, odd values, truncation at random offsets, inserted entities and
 * DOCTYPEs).
 *
 * HDPLAN_FUZZ_SCALE multiplies the run counts; HDPLAN_FUZZ_SEED fixes the seed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { accepts } from "../../src/descriptors/match.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { parseDescriptor, printDescriptor } from "../../src/descriptors/text.js";
import { InputError } from "../../src/errors.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { DescriptorData } from "../../src/model.js";
import { planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { readNetwork } from "../../src/xml/network.js";
import { readNodeDevices } from "../../src/xml/nodedev.js";
import { parseXml, type XmlElement } from "../../src/xml/parse.js";
import { gpu, hostdevNetworkXml, mdevDev, nic, rawHost } from "../helpers/build.js";
import { ROOT } from "../helpers/cli.js";
import { hangBound } from "../helpers/bounds.js";
import { GPU_ADDR, MDEV_A, PF, VF, vmXml } from "./util.js";

const SCALE = Number(process.env.HDPLAN_FUZZ_SCALE ?? "1") || 1;
const SEED = process.env.HDPLAN_FUZZ_SEED ? Number(process.env.HDPLAN_FUZZ_SEED) : undefined;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const params = (n: number) => ({ numRuns: runs(n), ...(SEED !== undefined ? { seed: SEED } : {}) });

const FILE = "fuzz-input.xml";
const stats = { runs: new Map<string, number>(), inputErrors: new Map<string, number>() };
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** The rule. Returns the result, or null after a clean InputError. */
function clean<T>(what: string, file: string, f: () => T): T | null {
  bump(stats.runs, what);
  try {
    return f();
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    bump(stats.inputErrors, what);
    if (e.message.includes("\n")) throw new Error(`InputError message is not one line: ${e.message}`);
    if (!e.message.includes(file)) throw new Error(`InputError does not name ${file}: ${e.message}`);
    return null;
  }
}

// ---- seeds -----------------------------------------------------------------

const samples = join(ROOT, "xml-samples");
const sampleDomains = readdirSync(join(samples, "domains")).map((n) =>
  readFileSync(join(samples, "domains", n), "utf8"),
);
const hostA = join(samples, "hosts", "host-a");
const sampleDevices = readdirSync(join(hostA, "nodedev"))
  .sort()
  .filter((_, i) => i % 4 === 0)
  .map((n) => readFileSync(join(hostA, "nodedev", n), "utf8"));
const DOMAIN_SEEDS = [vmXml(), ...sampleDomains];
const DEVICE_SEEDS = [
  gpu(GPU_ADDR, 2),
  mdevDev({ uuid: MDEV_A, parentAddr: GPU_ADDR, type: "nvidia-558" }),
  ...nic(PF, [VF]),
  ...sampleDevices,
];
const NETWORK_SEEDS = [
  hostdevNetworkXml("pool", [VF, "0000:5e:00.3"], 2),
  readFileSync(join(hostA, "networks", "sriov-pool.xml"), "utf8"),
];

// ---- structure-aware XML mutation -----------------------------------------

interface Node {
  name: string;
  attrs: [string, string][];
  children: Node[];
  text: string;
}

function toNode(el: XmlElement): Node {
  return {
    name: el.name,
    attrs: Object.entries(el.attrs),
    children: el.children.map(toNode),
    text: el.text.trim(),
  };
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&apos;");

function serialise(n: Node): string {
  const attrs = n.attrs.map(([k, v]) => ` ${k}='${esc(v)}'`).join("");
  const inner = esc(n.text) + n.children.map(serialise).join("");
  return inner === "" ? `<${n.name}${attrs}/>` : `<${n.name}${attrs}>${inner}</${n.name}>`;
}

function preorder(n: Node, out: { node: Node; parent: Node | null }[] = [], parent: Node | null = null) {
  out.push({ node: n, parent });
  for (const c of n.children) preorder(c, out, n);
  return out;
}

const clone = (n: Node): Node => ({
  name: n.name,
  attrs: n.attrs.map(([k, v]) => [k, v]),
  children: n.children.map(clone),
  text: n.text,
});

const ODD_VALUES = [
  "",
  " ",
  "0",
  "-1",
  "0x",
  "0x0",
  "0xffff",
  "0x1ffff",
  "0xFFFFFFFFFFFFFFFF",
  "99999999999999999999",
  "1e3",
  "NaN",
  "Infinity",
  "abc",
  "__proto__",
  "constructor",
  "c2177883-f1bb-47f0-914d-32a22e3a8804",
  "C2177883F1BB47F0914D32A22E3A8804",
  "yes",
  "no",
  "pci",
  "mdev",
  "usb",
  "scsi",
  "hostdev",
  "network",
  "subsystem",
  "capabilities",
  "persistent",
  "transient",
  "vfio-pci",
  "nvidia-558",
  "0000:3b:00.0",
  "&",
  "<tag>",
  "\u00e9\u4e2d\u{1f600}",
  "a".repeat(300),
];

type Step = [op: number, a: number, b: number, c: number, s: string];

function mutate(seed: Node, steps: Step[], vocab: string[], attrVocab: string[]): Node {
  const root = clone(seed);
  for (const [op, a, b, c, s] of steps) {
    const nodes = preorder(root);
    const { node, parent } = nodes[a % nodes.length]!;
    const pick = <T>(xs: T[], i: number) => xs[i % xs.length]!;
    const value = c % 3 === 0 ? s : pick(ODD_VALUES, c);
    switch (op % 12) {
      case 0: // drop element
        if (parent) parent.children.splice(parent.children.indexOf(node), 1);
        break;
      case 1: // duplicate element
        if (parent) parent.children.splice(parent.children.indexOf(node), 0, clone(node));
        break;
      case 2: // rename element
        node.name = b % 5 === 0 && /^[A-Za-z_][\w.-]*$/.test(s) ? s : pick(vocab, b);
        break;
      case 3: // drop attribute
        if (node.attrs.length) node.attrs.splice(b % node.attrs.length, 1);
        break;
      case 4: // duplicate attribute (malformed XML)
        if (node.attrs.length) node.attrs.push([...node.attrs[b % node.attrs.length]!]);
        break;
      case 5: // rename attribute
        if (node.attrs.length) node.attrs[b % node.attrs.length]![0] = pick(attrVocab, c);
        break;
      case 6: // odd attribute value
        if (node.attrs.length) node.attrs[b % node.attrs.length]![1] = value;
        else node.attrs.push([pick(attrVocab, b), value]);
        break;
      case 7: // odd text
        node.text = value;
        break;
      case 8: {
        // move element under another one
        const target = nodes[b % nodes.length]!.node;
        if (parent && !preorder(node).some((x) => x.node === target)) {
          parent.children.splice(parent.children.indexOf(node), 1);
          target.children.push(node);
        }
        break;
      }
      case 9: // add an element from the vocabulary
        node.children.splice(b % (node.children.length + 1), 0, {
          name: pick(vocab, c),
          attrs: [[pick(attrVocab, b), value]],
          children: [],
          text: c % 2 ? value : "",
        });
        break;
      case 10: // empty the element
        node.children = [];
        node.text = "";
        break;
      case 11: // add an attribute
        node.attrs.push([pick(attrVocab, c), value]);
        break;
    }
  }
  return root;
}

const ENTITIES = [
  "&lol;",
  "&#0;",
  "&#x0;",
  "&#xD800;",
  "&#x110000;",
  "&#99999999999;",
  "&amp;",
  "&lt;",
  "&",
  "&#",
  "]]>",
  "<![CDATA[x]]>",
  "<!-- -- -->",
  "<?pi x?>",
];

function textMutate(xml: string, kind: number, at: number, s: string): string {
  const i = xml.length === 0 ? 0 : at % (xml.length + 1);
  switch (kind % 6) {
    case 0:
      return xml.slice(0, i); // truncate
    case 1:
      return xml.slice(0, i) + ENTITIES[at % ENTITIES.length]! + xml.slice(i); // entity
    case 2:
      return `<!DOCTYPE x [<!ENTITY lol "${"lol".repeat(10)}">]>\n${xml}`;
    case 3:
      return xml.slice(0, i) + s + xml.slice(i); // random insertion
    case 4:
      return xml.slice(0, i) + xml.slice(Math.min(xml.length, i + 1 + (at % 40))); // cut a span
    default:
      return xml;
  }
}

function vocabularies(seeds: string[]) {
  const names = new Set<string>();
  const attrs = new Set<string>();
  for (const s of seeds)
    for (const { node } of preorder(toNode(parseXml(s, "seed")))) {
      names.add(node.name);
      for (const [k] of node.attrs) attrs.add(k);
    }
  return { names: [...names].sort(), attrs: [...attrs].sort() };
}

function mutatedXml(seeds: string[]): fc.Arbitrary<string> {
  const trees = seeds.map((s) => toNode(parseXml(s, "seed")));
  const { names, attrs } = vocabularies(seeds);
  const step = fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.string({ maxLength: 12 }));
  return fc
    .tuple(
      fc.nat({ max: trees.length - 1 }),
      fc.array(step, { minLength: 1, maxLength: 6 }),
      fc.option(fc.tuple(fc.nat(), fc.nat(), fc.string({ maxLength: 8 })), { freq: 3 }),
    )
    .map(([i, steps, t]) => {
      const xml = serialise(mutate(trees[i]!, steps as Step[], names, attrs));
      return t ? textMutate(xml, t[0], t[1], t[2]) : xml;
    });
}

const XML_TOKENS = [
  "<domain>",
  "</domain>",
  "<domain type='kvm'>",
  "<name>",
  "</name>",
  "vm",
  "<devices>",
  "</devices>",
  "<hostdev mode='subsystem' type='pci' managed='yes'>",
  "<hostdev mode='subsystem' type='mdev'>",
  "</hostdev>",
  "<interface type='hostdev'>",
  "<interface type='network'>",
  "</interface>",
  "<source>",
  "</source>",
  "<source network='pool'/>",
  "<address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/>",
  "<address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/>",
  "<device>",
  "</device>",
  "<capability type='pci'>",
  "<capability type='mdev'>",
  "<capability type='mdev_types'>",
  "</capability>",
  "<bus>",
  "</bus>",
  "3",
  "<type id='nvidia-558'>",
  "</type>",
  "<network>",
  "</network>",
  "<forward mode='hostdev'>",
  "</forward>",
  "<metadata>",
  "</metadata>",
  "<hdplan:plan xmlns:hdplan='urn:hostdev-planner:metadata:1'>",
  "</hdplan:plan>",
  "&amp;",
  "&lt;",
  "&#0;",
  "&#x110000;",
  "<!--",
  "-->",
  "<![CDATA[",
  "]]>",
  "'",
  '"',
  "=",
  " ",
  "\n",
];

const xmlSoup = fc.array(fc.constantFrom(...XML_TOKENS), { maxLength: 40 }).map((t) => t.join(""));
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 100 }),
  xmlSoup,
);

// ---- readers ---------------------------------------------------------------

describe("XML readers: a result or a clean InputError", () => {
  it("readDomain: random text and XML soup", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        clean("domain", FILE, () => readDomain(t, FILE));
      }),
      params(1500),
    );
  });

  it("readDomain: mutations of valid domains", () => {
    fc.assert(
      fc.property(mutatedXml(DOMAIN_SEEDS), (t) => {
        clean("domain", FILE, () => readDomain(t, FILE));
      }),
      params(5000),
    );
  });

  it("readNodeDevices: random text and XML soup", () => {
    fc.assert(
      fc.property(anyText, (t) => {
        clean("nodedev", FILE, () => readNodeDevices(t, FILE));
      }),
      params(1500),
    );
  });

  it("readNodeDevices: mutations of valid node devices, alone and concatenated", () => {
    fc.assert(
      fc.property(mutatedXml(DEVICE_SEEDS), fc.boolean(), (t, cat) => {
        const text = cat ? `${DEVICE_SEEDS[0]}\n${t}\n${DEVICE_SEEDS[1]}` : t;
        clean("nodedev", FILE, () => readNodeDevices(text, FILE));
      }),
      params(5000),
    );
  });

  it("readNetwork: random text and mutations", () => {
    fc.assert(
      fc.property(fc.oneof(anyText, mutatedXml(NETWORK_SEEDS)), (t) => {
        clean("network", FILE, () => readNetwork(t, FILE));
      }),
      params(1000),
    );
  });
});

// ---- descriptors -----------------------------------------------------------

const KEYS = [
  "device_api",
  "device_type",
  "device_id",
  "mdev_type",
  "aggregator",
  "software_version",
  "driver_version",
  "migratable",
  "mixed_types",
  "pf_device_id",
  "x",
  "val1",
];
const VALUES = [
  "vfio-pci",
  "vfio-mdev",
  "pci",
  "8086:591d",
  "0x10de 0x1eb8",
  "10de1eb8",
  "nvidia-558",
  "i915-GVTg_V5_{val1:int:1,2,4,8}",
  "{val1}/2",
  "{val1}*2+1",
  "{v:int:0..4294967295}",
  "{v:int:1..100000}",
  "{v:int:-5..5}",
  '{s:string:"1.2","1.3"}',
  '{s:string:"a",""}',
  ">=1.2 <2",
  "1.2.3",
  "1",
  "0",
  '""',
  '"  spaced  "',
  '"a\\"b"',
  "{",
  "}",
  "{v}",
  "{v:int:}",
  "{v:int:1,2}{w:int:3,4}{v}",
  "{a:int:1..1000}{b:int:1..1000}{c:int:1..1000}",
  "{a:int:1..1000}/{b:int:1..1000}",
];
const descriptorLine = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES)).map(([k, v]) => `${k}=${v}`),
  fc.tuple(fc.constantFrom(...KEYS), fc.string({ maxLength: 20 })).map(([k, v]) => `${k}=${v}`),
  fc.constantFrom("COMPATIBLE:", "compatible:", "# comment", "", "  ", "=", "key", "a = b", "\r"),
  fc.string({ maxLength: 30 }),
);
const descriptorText = fc.oneof(
  fc.array(descriptorLine, { maxLength: 14 }).map((l) => l.join("\n")),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
);

/** Valid descriptors, for the matcher. */
const descriptorData: fc.Arbitrary<DescriptorData> = fc
  .array(descriptorLine, { maxLength: 14 })
  .map((l) => {
    try {
      return parseDescriptor(l.join("\n"), "gen.conf");
    } catch {
      return null;
    }
  })
  .filter((d): d is DescriptorData => d !== null);

const srcSelf = fc.dictionary(
  fc.constantFrom(...KEYS),
  fc.oneof(
    fc.constantFrom(...VALUES.filter((v) => !v.includes("{"))),
    fc.string({ maxLength: 10 }),
    fc.nat().map(String),
  ),
  { maxKeys: 8 },
);

describe("descriptors: a result or a clean InputError", () => {
  it("parseDescriptor: random and structured text", () => {
    fc.assert(
      fc.property(descriptorText, (t) => {
        const d = clean("descriptor", "fz.conf", () => parseDescriptor(t, "fz.conf"));
        if (d) {
          // What parses prints and parses back to the same thing.
          expect(parseDescriptor(printDescriptor(d), "again.conf")).toEqual(d);
        }
      }),
      params(3000),
    );
  });

  it("accepts (the matcher): never throws, ends fast, same answer twice", () => {
    fc.assert(
      fc.property(descriptorData, srcSelf, (dest, src) => {
        bump(stats.runs, "matcher");
        const t0 = Date.now();
        const r = accepts(dest, src);
        expect(Date.now() - t0).toBeLessThan(hangBound(10_000));
        expect(typeof r.ok).toBe("boolean");
        if (!r.ok) {
          expect(r.reasons.length).toBeGreaterThan(0);
          for (const x of r.reasons) expect(x.code).toMatch(/^[a-z0-9-]+$/);
        }
        expect(accepts(dest, src)).toEqual(r);
      }),
      params(2500),
    );
  });

  it("accepts: a source is never accepted by a destination that names another device_api", () => {
    fc.assert(
      fc.property(descriptorData, srcSelf, (dest, src) => {
        bump(stats.runs, "matcher");
        const s = { ...src, device_api: "vfio-ccw" };
        const d: DescriptorData = {
          self: { ...dest.self, device_api: "vfio-pci" },
          compatible: dest.compatible.map((c) => ({ ...c, device_api: "vfio-pci" })),
        };
        expect(accepts(d, s).ok).toBe(false);
      }),
      params(500),
    );
  });
});

// ---- the planner on mutated hosts ------------------------------------------

describe("planner on mutated hosts and domains: a result or a clean InputError", () => {
  const HOST_DEVICES = [gpu(GPU_ADDR, 4), ...nic(PF, [VF])];
  it("planDomain never throws; a host whose devices could not be read is never full", () => {
    fc.assert(
      fc.property(
        fc.array(mutatedXml(HOST_DEVICES), { minLength: 1, maxLength: 3 }),
        fc.oneof(fc.constant(vmXml()), mutatedXml([vmXml()])),
        (devs, dom) => {
          const domain = clean("planner", FILE, () => readDomain(dom, FILE));
          if (!domain) return;
          const raw = rawHost("dst", { devices: devs });
          let inv: ReturnType<typeof buildInventory>;
          try {
            inv = buildInventory(raw);
          } catch (e) {
            if (e instanceof InputError) return;
            throw e;
          }
          const src = buildInventory(
            rawHost("src", {
              devices: [...HOST_DEVICES, mdevDev({ uuid: MDEV_A, parentAddr: GPU_ADDR, type: "nvidia-558" })],
            }),
          );
          const r = planDomain(
            {
              domain,
              source: src,
              selector: new DescriptorSelector([]),
              opts: { assumeVersions: false, explain: true },
            },
            [{ ok: true, inv }],
          );
          const h = r.hosts[0]!;
          expect(["full", "partial", "none"]).toContain(h.status);
          if (inv.devices.length === 0 && domain.devices.length > 0) expect(h.status).not.toBe("full");
          // Every assignment points at a device the host really has (never an unread one).
          for (const a of h.assignments) {
            const t = a.target as { address?: string | null; parent?: string | null };
            if (t.address) expect(inv.pciByAddr.has(t.address)).toBe(true);
          }
        },
      ),
      params(1000),
    );
  });
});

afterAll(() => {
  const total = [...stats.runs.values()].reduce((a, b) => a + b, 0);
  console.log(
    `[robustness] fuzz runs: ${JSON.stringify(Object.fromEntries(stats.runs))} (total ${total}); clean InputErrors: ${JSON.stringify(Object.fromEntries(stats.inputErrors))}`,
  );
});
