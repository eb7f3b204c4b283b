/**
 * Bad-input suite (issue 7): hostile files through the real CLI. Every case
 * must end within seconds in a documented exit code (2 input, 3 host) with
 * one line on stderr naming the file or host and no stack trace, and never
 * exit 0 or print an answer.
 */
import { openSync, closeSync, mkdirSync, writeFileSync, writeSync, rmSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCompat } from "../../src/commands/compat.js";
import type { Io } from "../../src/commands/common.js";
import { type EvacuateOptions, runEvacuate } from "../../src/commands/evacuate.js";
import { runInventory } from "../../src/commands/inventory.js";
import { type PlanOptions, runPlan } from "../../src/commands/plan.js";
import { errorMessage, HostError, InputError } from "../../src/errors.js";
import { gpu, hostdevNetworkXml } from "../helpers/build.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { hangBound } from "../helpers/bounds.js";
import { type TimedResult, hdplanAsync } from "../helpers/cli.js";
import { expectCleanFailure, type Fleet, GPU_ADDR, pool, vmXml, writeFleet } from "./util.js";

/** Cases tried per reader/command, printed at the end for the README table. */
const tally = new Map<string, number>();
const count = (what: string, n = 1) => tally.set(what, (tally.get(what) ?? 0) + n);

let dir = "";
let F: Fleet;
let BIG = "";

/** Deterministic pseudo-random bytes (xorshift). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

type Content = string | Buffer;
type Root = "domain" | "device" | "network";

/** Hostile variants of a valid document `valid` whose root element is `root`. */
function hostile(valid: string, root: Root): [string, Content][] {
  const other = root === "domain" ? "<network><name>n</name></network>" : "<domain><name>d</name></domain>";
  const bl =
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
    Array.from(
      { length: 9 },
      (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">\n`,
    ).join("") +
    `]>\n<${root}><name>&lol9;</name></${root}>\n`;
  const xxe = `<?xml version="1.0"?>\n<!DOCTYPE ${root} [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<${root}><name>&xxe;</name></${root}>\n`;
  const extDtd = `<?xml version="1.0"?>\n<!DOCTYPE ${root} SYSTEM "http://127.0.0.1:1/evil.dtd">\n${valid}`;
  const paramEnt = `<!DOCTYPE ${root} [<!ENTITY % p SYSTEM "file:///etc/shadow"> %p;]>\n${valid}`;
  const latin1 = Buffer.concat([
    Buffer.from(valid.replace(/<name>/, "<name>caf")),
    Buffer.from([0xe9]),
    Buffer.from("\n"),
  ]);
  const latin1Mid = Buffer.from(valid.replace("<name>", "<name>caf\u00e9"), "latin1");
  const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(valid, "utf16le")]);
  return [
    ["truncated at 1/2", valid.slice(0, Math.floor(valid.length / 2))],
    ["truncated at 1/5", valid.slice(0, Math.floor(valid.length / 5))],
    ["truncated in a tag", valid.slice(0, valid.indexOf("<", 10) + 3)],
    ["truncated before the last >", valid.trimEnd().slice(0, -1)],
    ["binary (random bytes)", bytes(4096, 7)],
    ["binary with an XML start", Buffer.concat([Buffer.from(`<${root}>`), bytes(512, 11)])],
    ["NUL bytes", `${valid.slice(0, 20)}\u0000\u0000${valid.slice(20)}`],
    ["empty", ""],
    ["whitespace only", "  \n\t\n"],
    ["billion laughs", bl],
    ["external entity file:///etc/passwd", xxe],
    ["external DTD", extDtd],
    ["parameter entity", paramEnt],
    ["wrong root element", other],
    ["plain text", "this is not XML\n"],
    ["JSON", '{"domain": "vm1"}'],
    ["two roots", `${valid}\n<${root}/>`],
    ["unclosed comment", `<!-- ${valid}`],
    ["CDATA only", "<![CDATA[<domain/>]]>"],
    ["latin-1 byte", latin1],
    ["latin-1 text", latin1Mid],
    ["UTF-16 with BOM", utf16],
  ];
}

const domainMissing: [string, string][] = [
  ["domain without <name>", "<domain type='kvm'><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid></domain>"],
  [
    "pci hostdev address without slot",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x3b' function='0x0'/></source></hostdev></devices></domain>",
  ],
  [
    "pci hostdev without <source>",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'/></devices></domain>",
  ],
  [
    "mdev hostdev without uuid",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address/></source></hostdev></devices></domain>",
  ],
  [
    "mdev uuid not a UUID",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='mdev'><source><address uuid='zz'/></source></hostdev></devices></domain>",
  ],
  [
    "pci address not a number",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0xzz' slot='0x00' function='0x0'/></source></hostdev></devices></domain>",
  ],
  [
    "pci function out of range",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x9'/></source></hostdev></devices></domain>",
  ],
  [
    "interface hostdev without address",
    "<domain><name>x</name><devices><interface type='hostdev'><source/></interface></devices></domain>",
  ],
  [
    "teaming type invalid",
    "<domain><name>x</name><devices><hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source><teaming type='bogus'/></hostdev></devices></domain>",
  ],
];

const nodedevMissing: [string, string][] = [
  ["device without <name>", "<device><capability type='system'/></device>"],
  ["capability without type", "<device><name>pci_x</name><capability/></device>"],
  [
    "pci capability without <bus>",
    "<device><name>pci_x</name><capability type='pci'><domain>0</domain><slot>0</slot><function>0</function><product id='0x1'/><vendor id='0x2'/></capability></device>",
  ],
  [
    "pci capability <slot> not a number",
    "<device><name>pci_x</name><capability type='pci'><domain>0</domain><bus>1</bus><slot>x</slot><function>0</function><product id='0x1'/><vendor id='0x2'/></capability></device>",
  ],
  [
    "mdev capability without type",
    "<device><name>mdev_x</name><parent>pci_0000_3b_00_0</parent><capability type='mdev'><uuid>4b20d080-1b54-4048-85b3-a6a62d165c01</uuid></capability></device>",
  ],
  ["mdev_types type without id", `${gpu(GPU_ADDR, 1).replace("<type id='nvidia-558'>", "<type>")}`],
];

const networkMissing: [string, string][] = [
  ["network without <name>", "<network><forward mode='hostdev'/></network>"],
];

interface Case {
  label: string;
  args: string[];
  codes: number[];
  names: string[];
  input?: string;
  reader: string;
  env?: Record<string, string>;
  /** Through the built CLI (a process); otherwise the command function in this process. */
  cli?: boolean;
}

const cases: Case[] = [];
const results = new Map<string, TimedResult>();

function add(c: Case): void {
  cases.push(c);
}

function write(path: string, c: Content): string {
  writeFileSync(path, c);
  return path;
}

/** A dump directory like F.full with one extra file `sub/name` holding `content`. */
function dumpWith(key: string, sub: "nodedev" | "domains" | "networks", name: string, content: Content) {
  const d = writeDump(join(dir, "dumps"), key, {
    devices: [gpu(GPU_ADDR, 4)],
    networks: [hostdevNetworkXml("pool", ["0000:5e:00.2"])],
    domains: [
      vmXml()
        .replace("vm1", "other")
        .replace(/c7a5fdbd/, "d7a5fdbd"),
    ],
  });
  mkdirSync(join(d, sub), { recursive: true });
  return write(join(d, sub, name), content);
}

function buildCases(): void {
  const valid = { domain: vmXml(), device: gpu(GPU_ADDR, 4), network: hostdevNetworkXml("pool", [GPU_ADDR]) };
  let k = 0;
  // Domain XML: plan --domain, check --domain, plan --domain - (stdin), evacuate --source with it.
  for (const [label, content] of [...hostile(valid.domain, "domain"), ...domainMissing]) {
    const f = write(join(dir, `dom${k++}.xml`), content);
    add({
      label: `plan --domain: ${label}`,
      reader: "domain XML",
      args: ["plan", "--domain", f, "--source", F.src, "--host", F.full],
      codes: [2],
      names: [f],
    });
    add({
      label: `check --domain: ${label}`,
      reader: "domain XML",
      args: ["check", "--domain", f, "--source", F.src, "--host", F.full],
      codes: [2],
      names: [f],
    });
    if (typeof content === "string")
      add({
        label: `plan --domain - (stdin): ${label}`,
        reader: "domain XML",
        args: ["plan", "--domain", "-", "--source", F.src, "--host", F.full],
        input: content,
        codes: [2],
        names: ["<stdin>"],
      });
    const e = dumpWith(`evsrc${k}`, "domains", "bad.xml", content);
    add({
      label: `evacuate --source with domains/bad.xml: ${label}`,
      reader: "domain XML",
      args: ["evacuate", "--source", join(e, "../.."), "--host", F.full],
      codes: [2],
      names: [e],
    });
  }
  // Node device XML in a dump directory, as --host (plan) and as --source (evacuate).
  // A latin-1 string inside a <device> (a DMI vendor name) skips that device
  // with a warning instead (issue 11; test/robustness/issue11-fixes.test.ts).
  for (const [label, content] of [...hostile(valid.device, "device"), ...nodedevMissing].filter(
    ([l]) => l !== "latin-1 text",
  )) {
    const f = dumpWith(`nd${k++}`, "nodedev", "zz-bad.xml", content);
    const host = join(f, "../..");
    add({
      label: `plan --host dump nodedev/: ${label}`,
      reader: "node device XML",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", host],
      codes: [2],
      names: [f],
    });
    add({
      label: `evacuate --source dump nodedev/: ${label}`,
      reader: "node device XML",
      args: ["evacuate", "--source", host, "--host", F.full],
      codes: [2],
      names: [f],
    });
  }
  // Network XML in a dump directory.
  for (const [label, content] of [...hostile(valid.network, "network"), ...networkMissing]) {
    const f = dumpWith(`net${k++}`, "networks", "bad.xml", content);
    add({
      label: `plan --host dump networks/: ${label}`,
      reader: "network XML",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", join(f, "../..")],
      codes: [2],
      names: [f],
    });
  }
  // Snapshots.
  const snapDevice = JSON.stringify(gpu(GPU_ADDR, 4));
  const snaps: [string, Content][] = [
    [
      "schemaVersion 3",
      `{"schemaVersion":3,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}]}`,
    ],
    [
      "schemaVersion 0",
      `{"schemaVersion":0,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}]}`,
    ],
    [
      'schemaVersion "1"',
      `{"schemaVersion":"1","kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}]}`,
    ],
    ["no schemaVersion", `{"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}]}`],
    ["wrong kind", `{"schemaVersion":1,"kind":"libvirt-dump","nodeDevices":[{"xml":${snapDevice}}]}`],
    ["no kind", `{"schemaVersion":1,"nodeDevices":[{"xml":${snapDevice}}]}`],
    ["not JSON", "schemaVersion: 1\n"],
    ["truncated JSON", `{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":`],
    ["empty", ""],
    ["binary", bytes(2048, 3)],
    ["JSON array", "[]"],
    ["JSON null", "null"],
    ["no node devices", '{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[]}'],
    ["nodeDevices not an array", '{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":{}}'],
    ["node device without xml", '{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{}]}'],
    ["xml not a string", '{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":42}]}'],
    [
      "versions not an object",
      `{"schemaVersion":1,"kind":"hdplan-host-snapshot","versions":"10","nodeDevices":[{"xml":${snapDevice}}]}`,
    ],
    [
      "ports not strings",
      `{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}],"networks":[{"xml":"<network/>","ports":[1]}]}`,
    ],
    [
      "vendorAttrs malformed",
      `{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}],"vendorAttrs":[{}]}`,
    ],
    [
      "latin-1",
      Buffer.from(
        `{"schemaVersion":1,"kind":"hdplan-host-snapshot","hostname":"caf\u00e9","nodeDevices":[{"xml":${snapDevice}}]}`,
        "latin1",
      ),
    ],
    [
      "malformed domain XML inside",
      `{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}],"domains":[{"xml":"<domain>"}]}`,
    ],
    [
      "DOCTYPE in a network inside",
      `{"schemaVersion":1,"kind":"hdplan-host-snapshot","nodeDevices":[{"xml":${snapDevice}}],"networks":[{"xml":"<!DOCTYPE n [<!ENTITY x SYSTEM \\"file:///etc/passwd\\">]><network><name>&x;</name></network>"}]}`,
    ],
  ];
  for (const [label, content] of snaps) {
    const f = write(join(dir, `snap${k++}.json`), content);
    add({
      label: `plan --host snapshot: ${label}`,
      reader: "snapshot",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", f],
      codes: [2],
      names: [
        f
          .replace(/\.json$/, "")
          .split("/")
          .pop()!,
      ],
    });
    add({
      label: `evacuate --source snapshot: ${label}`,
      reader: "snapshot",
      args: ["evacuate", "--source", f, "--host", F.full],
      codes: [2],
      names: [
        f
          .replace(/\.json$/, "")
          .split("/")
          .pop()!,
      ],
    });
  }
  // Dump directories without node devices and other broken layouts.
  const emptyNd = join(dir, "layout", "empty-nodedev");
  mkdirSync(join(emptyNd, "nodedev"), { recursive: true });
  const noNd = join(dir, "layout", "no-nodedev");
  mkdirSync(join(noNd, "domains"), { recursive: true });
  const ndFile = join(dir, "layout", "nodedev-file");
  mkdirSync(ndFile, { recursive: true });
  writeFileSync(join(ndFile, "nodedev"), "x");
  const wrongExt = join(dir, "layout", "wrong-ext");
  mkdirSync(join(wrongExt, "nodedev"), { recursive: true });
  writeFileSync(join(wrongExt, "nodedev", "dev.txt"), gpu(GPU_ADDR, 1));
  const badHostJson = writeDump(join(dir, "layout"), "bad-host-json", { devices: [gpu(GPU_ADDR, 1)] });
  writeFileSync(join(badHostJson, "host.json"), "{not json");
  const typedHostJson = writeDump(join(dir, "layout"), "typed-host-json", { devices: [gpu(GPU_ADDR, 1)] });
  writeFileSync(join(typedHostJson, "host.json"), '{"hypervisor": 5}');
  const arrHostJson = writeDump(join(dir, "layout"), "arr-host-json", { devices: [gpu(GPU_ADDR, 1)] });
  writeFileSync(join(arrHostJson, "host.json"), '{"libvirtVersion": ["10"]}');
  for (const [label, d] of [
    ["empty nodedev/", emptyNd],
    ["no nodedev/", noNd],
    ["nodedev is a file", ndFile],
    ["nodedev/ without *.xml", wrongExt],
    ["host.json not JSON", badHostJson],
    ["host.json hypervisor not an object", typedHostJson],
    ["host.json version an array", arrHostJson],
    ["missing directory", join(dir, "layout", "does-not-exist")],
  ] as const) {
    add({
      label: `plan --host: ${label}`,
      reader: "dump directory",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", d],
      codes: [2],
      names: [d],
    });
    add({
      label: `evacuate --source: ${label}`,
      reader: "dump directory",
      args: ["evacuate", "--source", d, "--host", F.full],
      codes: [2],
      names: [d],
    });
    add({
      label: `check --host: ${label}`,
      reader: "dump directory",
      args: ["check", "--domain", F.vm, "--source", F.src, "--host", d],
      codes: [2],
      names: [d],
    });
  }
  // URIs: unknown schemes are bad input (2); closed ports are host failures (3).
  for (const uri of [
    "foo://x/",
    "foo:///",
    "qemu+carrier-pigeon://h/system",
    "http://127.0.0.1:1/",
    "://x",
  ]) {
    add({
      label: `plan --host ${uri}`,
      reader: "URI",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", uri],
      codes: [2],
      names: [uri],
    });
    add({
      label: `plan --source ${uri}`,
      reader: "URI",
      args: ["plan", "--domain", F.vm, "--source", uri, "--host", F.full],
      codes: [2],
      names: [uri],
    });
    add({
      label: `evacuate --source ${uri}`,
      reader: "URI",
      args: ["evacuate", "--source", uri, "--host", F.full],
      codes: [2],
      names: [uri],
    });
    add({
      label: `inventory --connect ${uri}`,
      reader: "URI",
      args: ["inventory", "--connect", uri],
      codes: [2],
      names: [uri],
    });
  }
  for (const [key, uri] of [
    ["127.0.0.1", "qemu+tcp://127.0.0.1:1/system"],
    ["v6", "qemu+tcp://[::1]:1/system"],
  ] as const) {
    const target = key === "v6" ? `v6=${uri}` : uri;
    add({
      label: `plan --source ${uri} (closed port)`,
      reader: "URI",
      args: ["plan", "--domain", F.vm, "--source", target, "--host", F.full, "--timeout", "5"],
      codes: [3],
      names: [uri],
    });
    add({
      label: `plan, the only --host ${uri} (closed port)`,
      reader: "URI",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", target, "--timeout", "5"],
      codes: [3],
      names: [key, uri],
    });
    add({
      label: `check --host ${uri} (closed port)`,
      reader: "URI",
      args: ["check", "--domain", F.vm, "--source", F.src, "--host", target, "--timeout", "5"],
      codes: [3],
      names: [key, uri],
    });
    add({
      label: `evacuate --source ${uri} (closed port)`,
      reader: "URI",
      args: ["evacuate", "--source", target, "--host", F.full, "--timeout", "5"],
      codes: [3],
      names: [uri],
    });
    add({
      label: `evacuate, the only --host ${uri} (closed port)`,
      reader: "URI",
      args: ["evacuate", "--source", F.src, "--host", target, "--timeout", "5"],
      codes: [3],
      names: [key, uri],
    });
    add({
      label: `inventory --connect ${uri} (closed port)`,
      reader: "URI",
      args: ["inventory", "--connect", uri, "--timeout", "5"],
      codes: [3],
      names: [uri],
    });
  }
  add({
    label: "plan --host with an IPv6 URI and no KEY=",
    reader: "URI",
    args: ["plan", "--domain", F.vm, "--source", F.src, "--host", "qemu+tcp://[::1]:1/system"],
    codes: [2],
    names: ["qemu+tcp://[::1]:1/system", "KEY=TARGET"],
  });
  add({
    label: "inventory --connect a path",
    reader: "URI",
    args: ["inventory", "--connect", F.full],
    codes: [2],
    names: [F.full],
  });
  // Options.
  for (const [label, args, names] of [
    ["--timeout 0", ["--timeout", "0"], ["--timeout"]],
    ["--timeout abc", ["--timeout", "abc"], ["--timeout"]],
    ["--concurrency 0", ["--concurrency", "0"], ["--concurrency"]],
    ["--concurrency -3", ["--concurrency", "-3"], ["--concurrency"]],
    ["--format yaml", ["--format", "yaml"], ["--format"]],
    ["--hosts-file missing", ["--hosts-file", join(dir, "nope.txt")], ["nope.txt"]],
    ["--hosts-file is a directory", ["--hosts-file", dir], [dir]],
    ["--descriptors missing", ["--descriptors", join(dir, "nodesc")], ["nodesc"]],
    ["--host KEY= empty", ["--host", "x="], ["x="]],
  ] as const) {
    add({
      label: `plan ${label}`,
      reader: "options",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", F.full, ...args],
      codes: [2],
      names: [...names],
    });
  }
}

/** Every descriptor grammar error (compat.md §2), through `hdplan compat` and `--descriptors`. */
const GRAMMAR_ERRORS: [string, Content, string][] = [
  ["duplicate key in self", "a=1\n  a=2\n", ":2:3:"],
  ["duplicate key in section", "a=1\nCOMPATIBLE:\nb=1\nb=2\n", ":4:1:"],
  ["not key=value", "a=1\njust some text\n", ":2:1:"],
  ["bad key character", "device-api=vfio-pci\n", ":1:7:"],
  ["upper-case key", "Device_api=vfio-pci\n", ":1:1:"],
  ["lower-case header", "a=1\ncompatible:\n", ":2:1:"],
  ["header without colon", "a=1\nCOMPATIBLE\n", ":2:1:"],
  ["unterminated quote", 'a=1\nb = "abc\n', ":2:5:"],
  ["text after quote", 'a="x" y\n', ":1:7:"],
  ["unknown escape", 'a="x\\n"\n', ":1:5:"],
  ["unknown placeholder type", "a=1\nCOMPATIBLE:\nmdev_type=i915-{v:float:1,2}\n", ":3:19:"],
  ["missing ':' after type", "COMPATIBLE:\na={v:int}\n", ":2:"],
  ["variable declared twice differently", "COMPATIBLE:\na={v:int:1,2}\nb=x{v:int:1,3}\n", ":3:4:"],
  ["undeclared reference", "COMPATIBLE:\na=1\naggregator={val9}/2\n", ":3:12:"],
  ["placeholder in self", "mdev_type=i915-GVTg_V5_{val1:int:1,2}\n", ":1:24:"],
  ["bad int list", "COMPATIBLE:\na={v:int:1,x,3}\n", ":2:12:"],
  ["empty int item", "COMPATIBLE:\na={v:int:1,,3}\n", ":2:12:"],
  ["reversed range", "COMPATIBLE:\na={v:int:9..2}\n", ":2:10:"],
  ["unterminated placeholder", "COMPATIBLE:\na=x{v:int:1,2\n", ":2:4:"],
  ["bad brace", "COMPATIBLE:\na=x{ v}\n", ":2:5:"],
  ["unexpected char in placeholder", "COMPATIBLE:\na={v!}\n", ":2:"],
  ["empty string list", "COMPATIBLE:\na={v:string:}\n", ":2:13:"],
  ["unquoted string item", "COMPATIBLE:\na={v:string:abc}\n", ":2:13:"],
  ["unterminated string item", 'COMPATIBLE:\na={v:string:"abc}\n', ":2:13:"],
  ["unknown escape in string item", 'COMPATIBLE:\na={v:string:"a\\q"}\n', ":2:"],
  ["text after string item", 'COMPATIBLE:\na={v:string:"a"x}\n', ":2:"],
  ["division by zero", "COMPATIBLE:\na={v:int:1}/0\n", ":2:13:"],
  ["vfio-mdev in self", "device_api=vfio-mdev\n", ":1:12:"],
  ["vfio-mdev in a section", "device_api=vfio-pci\nCOMPATIBLE:\ndevice_api=vfio-mdev\n", ":3:12:"],
  ["self version not a version", "software_version=v1\n", ":1:18:"],
  ["section version not a version", "COMPATIBLE:\nsoftware_version=1.x\n", ":2:18:"],
  ["bad range", "COMPATIBLE:\nsoftware_version=>=abc <2\n", ":2:18:"],
  ["bad version list item", 'COMPATIBLE:\nsoftware_version={s:string:"1.2","nope"}\n', ":2:18:"],
  ["column inside a quoted value", 'COMPATIBLE:\na = "x\\"{v:foo:1}"\n', ":2:12:"],
  ["binary", bytes(1024, 5), ""],
  ["latin-1", Buffer.from("device_api=vfio-pci\nmdev_type=caf\u00e9\n", "latin1"), ""],
  ["UTF-16", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("device_api=vfio-pci\n", "utf16le")]), ""],
  ["NUL byte", "device_api=vfio-pci\u0000\n", ":1:"],
];

const IN_PROCESS = [
  /^check --domain: /,
  /^plan --domain - \(stdin\): /,
  /^evacuate --source with domains\/bad\.xml: /,
  /^evacuate --source dump nodedev\/: /,
  /^evacuate --source snapshot: /,
  /^(evacuate|check) --(source|host): /,
  /^(plan --source|evacuate --source|inventory --connect) [a-z+-]*:\/\/[^ ]*$/,
  /^compat DST \(json\): /,
  /^plan --descriptors: /,
];

/** Kinds with many contents: one in N goes through the CLI, the others in process. */
const SAMPLED: [RegExp, number][] = [
  [/^plan --host dump networks\//, 4],
  [/^plan --host snapshot: /, 2],
  [/^compat SRC: /, 3],
  [/^plan --host dump nodedev\/: /, 2],
];

/** A tiny parser of the options the cases use, for the in-process runs. */
function parseArgs(args: string[]): { _: string[]; o: Record<string, string | string[] | boolean> } {
  const _: string[] = [];
  const o: Record<string, string | string[] | boolean> = {};
  const camel = (k: string) => k.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith("--")) {
      _.push(a);
      continue;
    }
    const k = camel(a.slice(2));
    const v = args[++i]!;
    if (k === "host") o.host = [...((o.host as string[] | undefined) ?? []), v];
    else o[k] = v;
  }
  return { _, o };
}

/** Run a command function as main.ts would, in this process. */
async function runInProcess(args: string[], input?: string): Promise<TimedResult> {
  const t0 = Date.now();
  let stdout = "";
  let stderr = "";
  const io: Io = {
    stdout: (x) => {
      stdout += x;
    },
    stderr: (x) => {
      stderr += x;
    },
    stdin: () => input ?? "",
    isTTY: false,
    color: false,
  };
  const [cmd, ...rest] = args;
  const { _, o } = parseArgs(rest);
  let code: number;
  try {
    if (cmd === "plan" || cmd === "check") code = await runPlan(o as PlanOptions, io, cmd);
    else if (cmd === "evacuate") code = await runEvacuate(o as EvacuateOptions, io);
    else if (cmd === "compat") {
      const format = (o.format as string | undefined) ?? "table";
      if (format !== "table" && format !== "json") throw new InputError(`--format must be table or json`);
      const r = runCompat(_[0]!, _[1]!, { format });
      code = r.exitCode;
      stdout += r.stdout;
      stderr += r.stderr;
    } else if (cmd === "inventory") {
      const r = await runInventory({ connect: o.connect as string, timeoutMs: 5000 });
      code = r.exitCode;
      stdout += r.stdout;
      stderr += r.stderr;
    } else throw new Error(`no in-process runner for ${cmd}`);
  } catch (e) {
    if (e instanceof InputError || e instanceof HostError) {
      code = e.exitCode;
      const prefix = e instanceof HostError && e.host && !e.message.includes(e.host) ? `${e.host}: ` : "";
      stderr += `hdplan: error: ${prefix}${errorMessage(e)}\n`;
    } else {
      code = -1;
      stderr += `CRASH (not an InputError/HostError): ${(e as Error)?.stack ?? String(e)}\n`;
    }
  }
  return { code, signal: null, stdout, stderr, ms: Date.now() - t0 };
}

beforeAll(async () => {
  dir = tempDir("hdplan-robust-");
  F = writeFleet(dir);
  buildCases();
  const ok = write(join(dir, "ok.conf"), "device_api=vfio-pci\nmdev_type=nvidia-558\n");
  let k = 0;
  for (const [label, content, pos] of GRAMMAR_ERRORS) {
    const f = write(join(dir, `g${k++}.conf`), content);
    add({
      label: `compat SRC: ${label}`,
      reader: "descriptor",
      args: ["compat", f, ok],
      codes: [2],
      names: [f + pos],
    });
    add({
      label: `compat DST (json): ${label}`,
      reader: "descriptor",
      args: ["compat", ok, f, "--format", "json"],
      codes: [2],
      names: [f + pos],
    });
    const dd = join(dir, `descdir${k}`);
    mkdirSync(join(dd, "full"), { recursive: true });
    const df = write(join(dd, k % 2 ? "bad.conf" : "full/bad.conf"), content);
    add({
      label: `plan --descriptors: ${label}`,
      reader: "descriptor",
      args: ["plan", "--domain", F.vm, "--source", F.src, "--host", F.full, "--descriptors", dd],
      codes: [2],
      names: [df + pos],
    });
  }
  for (const [label, args] of [
    ["compat missing file", ["compat", join(dir, "none.conf"), ok]],
    ["compat directory", ["compat", dir, ok]],
    ["compat --format yaml", ["compat", ok, ok, "--format", "yaml"]],
  ] as const) {
    add({ label, reader: "descriptor", args: [...args], codes: [2], names: [] });
  }

  // Process spawns are costly (CI has 2 cores): each hostile content goes once
  // through the CLI; its other roles run the same command function in process,
  // where any throw other than InputError/HostError is reported as a crash.
  const seen = new Map<string, number>();
  for (const c of cases) {
    c.cli = !IN_PROCESS.some((re) => re.test(c.label));
    const every = SAMPLED.find(([re]) => re.test(c.label));
    if (c.cli && every) {
      const n = seen.get(String(every[0])) ?? 0;
      seen.set(String(every[0]), n + 1);
      c.cli = n % every[1] === 0;
    }
  }
  const all = await pool(cases, 3, (c) =>
    c.cli
      ? hdplanAsync(c.args, { input: c.input, env: c.env, timeoutMs: 60_000 })
      : runInProcess(c.args, c.input),
  );
  cases.forEach((c, i) => results.set(c.label, all[i]!));
}, 180_000);

afterAll(() => {
  for (const c of cases) count(c.reader);
  const cli = cases.filter((c) => c.cli).length;
  console.log(
    `[robustness] bad-input: ${cases.length} cases, ${cli} through the CLI, ${cases.length - cli} in process`,
  );
  console.log(`[robustness] bad-input cases per reader: ${JSON.stringify(Object.fromEntries(tally))}`);
  rmSync(dir, { recursive: true, force: true });
});

describe("bad input through the CLI", () => {
  it("has cases", () => {
    expect(cases.length).toBeGreaterThan(300);
    expect(new Set(cases.map((c) => c.label)).size).toBe(cases.length);
  });

  it("every case ends in a documented exit code with one clean line naming the file or host", () => {
    const failures: string[] = [];
    for (const c of cases) {
      const r = results.get(c.label)!;
      try {
        expectCleanFailure(r, c.codes, c.names, c.label);
      } catch (e) {
        failures.push(`${c.label}: ${(e as Error).message.split("\n").slice(0, 4).join(" | ")}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("very large input", () => {
  const MB = 1024 * 1024;
  let big = "";
  beforeAll(() => {
    BIG = join(dir, "big");
    mkdirSync(BIG, { recursive: true });
    // A real 100 MB domain document (valid XML all the way through).
    big = join(BIG, "big-domain.xml");
    const fd = openSync(big, "w");
    writeSync(fd, "<domain type='kvm'><name>big</name><devices>\n");
    const chunk = "<disk type='file'><source file='/x'/><target dev='vda'/></disk>\n".repeat(16_000);
    let n = 0;
    while (n < 100 * MB) n += writeSync(fd, chunk);
    writeSync(fd, "</devices></domain>\n");
    closeSync(fd);
  });

  const lowHeap = { NODE_OPTIONS: "--max-old-space-size=64" };

  it("a 100 MB domain file is refused at once, with a 64 MB heap", async () => {
    const r = await hdplanAsync(["plan", "--domain", big, "--source", F.src, "--host", F.full], {
      env: lowHeap,
    });
    expectCleanFailure(r, [2], [big, "MiB"], "100 MB --domain");
    expect(r.ms).toBeLessThan(hangBound(20_000));
    count("domain XML");
  });

  it("100 MB on stdin is refused after the limit, with a 64 MB heap", async () => {
    const { readFileSync } = await import("node:fs");
    const r = await hdplanAsync(["plan", "--domain", "-", "--source", F.src, "--host", F.full], {
      env: lowHeap,
      input: readFileSync(big, "utf8"),
    });
    expectCleanFailure(r, [2], ["<stdin>", "MiB"], "100 MB stdin");
    count("domain XML");
  });

  it("a 100 MB node device file and a 100 MB snapshot are refused, with a 64 MB heap", async () => {
    const d = writeDump(BIG, "bighost", { devices: [gpu(GPU_ADDR, 1)] });
    const nd = join(d, "nodedev", "huge.xml");
    const { copyFileSync } = await import("node:fs");
    copyFileSync(big, nd);
    const r = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--host", d], { env: lowHeap });
    expectCleanFailure(r, [2], [nd, "MiB"], "100 MB nodedev");
    // A sparse 100 MB snapshot: refused from its size alone.
    const snap = join(BIG, "bigsnap.json");
    const fd = openSync(snap, "w");
    ftruncateSync(fd, 100 * MB);
    closeSync(fd);
    const s = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--host", snap], {
      env: lowHeap,
    });
    expectCleanFailure(s, [2], [snap, "MiB"], "100 MB snapshot");
    count("node device XML");
    count("snapshot");
  });

  it("a device file that never ends (/dev/zero) is refused", async () => {
    const r = await hdplanAsync(["plan", "--domain", "/dev/zero", "--source", F.src, "--host", F.full], {
      env: lowHeap,
    });
    expectCleanFailure(r, [2], ["/dev/zero"], "/dev/zero");
    count("domain XML");
  });

  it("a 2 MB valid domain (far beyond real ones) is read in seconds", async () => {
    const f = join(BIG, "two-mb.xml");
    const disks = "<disk type='file'><source file='/x'/><target dev='vda'/></disk>\n".repeat(32_000);
    writeFileSync(f, vmXml().replace("<devices>", `<devices>\n${disks}`));
    const r = await hdplanAsync([
      "plan",
      "--domain",
      f,
      "--source",
      F.src,
      "--host",
      F.full,
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(hangBound(10_000));
    count("domain XML");
  });
});

describe("--hosts-file with 10,000 lines", () => {
  const N = 10_000;
  let tiny = "";
  beforeAll(() => {
    tiny = writeDump(join(dir, "hf"), "tiny", { devices: [gpu(GPU_ADDR, 4)] });
  });
  const file = (name: string, line: (i: number) => string) => {
    const f = join(dir, "hf", name);
    writeFileSync(f, `# ${N} lines\n${Array.from({ length: N }, (_, i) => line(i)).join("\n")}\n`);
    return f;
  };

  it("10,000 named dump-directory hosts: every one read and ranked, in seconds", async () => {
    const f = file("named.txt", (i) => `h${String(i).padStart(5, "0")}=${tiny}`);
    const r = await hdplanAsync(
      ["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", f, "--format", "json"],
      { timeoutMs: 170_000 },
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // The VM's VF is not on `tiny`: partial everywhere, every host read (exit 1).
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.hosts).toHaveLength(N);
    expect(j.hosts.every((h: { status: string; rank: number }) => h.status === "partial" && h.rank > 0)).toBe(
      true,
    );
    expect(j.hosts[0].host).toBe("h00000");
    expect(r.ms).toBeLessThan(hangBound(30_000));
    count("hosts-file");
  }, 180_000);

  it("10,000 copies of one target (duplicate keys) exit 2 before reading them", async () => {
    const f = file("dups.txt", () => tiny);
    const r = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", f]);
    expectCleanFailure(r, [2], ['duplicate host key "tiny"'], "dups");
    expect(r.ms).toBeLessThan(hangBound(20_000));
    const e = await hdplanAsync(["evacuate", "--source", F.src, "--hosts-file", f]);
    expectCleanFailure(e, [2], ['duplicate host key "tiny"'], "dups evacuate");
    count("hosts-file", 2);
  });

  it("10,000 missing paths, unknown URI schemes, or one bad line at the end exit 2 naming it", async () => {
    const missing = file("missing.txt", (i) => join(dir, "nope", `h${i}`));
    const r1 = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", missing]);
    // Which missing path is named depends on the worker that fails first (file
    // targets are read on worker threads); it must name one of them and its line.
    expectCleanFailure(r1, [2], [join(dir, "nope", "h"), `${missing}:`], "missing");
    const uris = file("uris.txt", (i) => `h${i}=foo://h${i}/system`);
    const r2 = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", uris]);
    expectCleanFailure(r2, [2], [`${uris}:2`, "foo://h0/system"], "uris");
    const lastBad = file("last-bad.txt", (i) => (i === N - 1 ? "bad key=x" : "# comment"));
    const r3 = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", lastBad]);
    expectCleanFailure(r3, [2], [`${lastBad}:${N + 1}`], "last bad");
    const comments = file("comments.txt", () => "   # nothing here");
    const r4 = await hdplanAsync(["plan", "--domain", F.vm, "--source", F.src, "--hosts-file", comments]);
    expectCleanFailure(r4, [2], ["no candidate hosts"], "only comments");
    for (const r of [r1, r2, r3, r4]) expect(r.ms).toBeLessThan(hangBound(20_000));
    count("hosts-file", 4);
  });
});
