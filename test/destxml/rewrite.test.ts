import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rewriteForHost, writeDestinationXml } from "../../src/commands/destxml.js";
import { InputError } from "../../src/errors.js";
import { mdevCreationSteps, mdevNodeDeviceName, parentAddressOf } from "../../src/output/mdevplan.js";
import {
  DomainDoc,
  RewriteError,
  applyEdits,
  assertOnlySourcesChanged,
  locateDevices,
  mdevUuidUpdater,
  pciSourceUpdater,
  planMetadataUpdater,
  rewriteDomain,
  setMdevUuid,
  setPciSource,
  setPlanMetadata,
} from "../../src/output/rewrite.js";
import { scanPassCount } from "../../src/xml/scan.js";
import type { HostReport, PlanResult } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { readNodeDevices } from "../../src/xml/nodedev.js";
import { domainXml } from "../helpers/build.js";
import { assertCorpus, corpusRequired } from "../helpers/corpus.js";
import { tempDir } from "../helpers/dump.js";
import { mdevUuidOf, hostPciAddress, macOf } from "../../src/model.js";

const SRC = "c2177883-f1bb-47f0-914d-32a22e3a8804";
const DST = "11111111-2222-4333-8444-555555555555";
const DESC = {
  self: { device_api: "vfio-pci", device_type: "pci", device_id: "10de1eb8", mdev_type: "nvidia-558" },
  compatible: [],
};

const vm = () =>
  domainXml("vm1", "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f", [
    { kind: "mdev", uuid: SRC },
    { kind: "pci", addr: "0000:3b:00.2" },
    { kind: "interface", addr: "0000:3b:00.3", mac: "52:54:00:aa:bb:cc" },
  ]);

describe("rewrite functions", () => {
  it("sets an mdev uuid and nothing else", () => {
    const x = vm();
    const y = setMdevUuid(x, "mdev0", DST);
    expect(y).toBe(x.replace(SRC, DST));
    expect(mdevUuidOf(readDomain(y, "y").devices[0]!)).toBe(DST);
    assertOnlySourcesChanged(x, y);
  });
  it("sets PCI host addresses of a hostdev and an interface", () => {
    const x = vm();
    const y = setPciSource(setPciSource(x, "pci0", "0000:5e:01.7"), "interface0", "0000:af:02.1");
    const d = readDomain(y, "y").devices;
    expect(hostPciAddress(d[1]!)).toBe("0000:5e:01.7");
    expect(hostPciAddress(d[2]!)).toBe("0000:af:02.1");
    expect(macOf(d[2]!)).toBe("52:54:00:aa:bb:cc");
    assertOnlySourcesChanged(x, y);
    expect(setPciSource(x, "pci0", "0000:3b:00.2")).toBe(x);
  });
  it("fails loudly when the device is not there exactly once or has another kind", () => {
    expect(() => setMdevUuid(vm(), "mdev1", DST)).toThrow(RewriteError);
    expect(() => setMdevUuid(vm(), "pci0", DST)).toThrow(/pci device/);
    expect(() => setPciSource(vm(), "nope", "0000:00:01.0")).toThrow(RewriteError);
    expect(() => setPciSource(vm(), "pci0", "zz")).toThrow(RewriteError);
  });
  it("inserts metadata (creating <metadata>) and replaces it on a second call", () => {
    const x = vm();
    const meta = [
      {
        id: "mdev0",
        kind: "mdev" as const,
        guestAddress: "pci:0000:00:05.0",
        mdevType: "nvidia-558",
        descriptor: DESC,
      },
    ];
    const y = setPlanMetadata(x, meta);
    expect(y).toMatch(
      /<uuid>[^<]+<\/uuid>\n {2}<metadata>\n {4}<hdplan:plan xmlns:hdplan="urn:hostdev-planner:metadata:1">/,
    );
    const info = readDomain(y, "y");
    expect(info.plannerMetadata).toEqual([
      {
        id: "mdev0",
        kind: "mdev",
        guestAddress: "pci:0000:00:05.0",
        mdevType: "nvidia-558",
        descriptor: DESC,
      },
    ]);
    assertOnlySourcesChanged(x, y);
    const z = setPlanMetadata(y, [
      { ...meta[0]!, descriptor: { self: { ...DESC.self, note: "a<b&'\"" }, compatible: [] } },
    ]);
    expect(readDomain(z, "z").plannerMetadata[0]!.descriptor!.self.note).toBe("a<b&'\"");
    expect(z.match(/hdplan:plan /g)).toHaveLength(1);
    // existing <metadata> with foreign content is kept
    const w = x.replace("</uuid>", "</uuid>\n  <metadata>\n    <foo:bar xmlns:foo='urn:x'/>\n  </metadata>");
    const w2 = setPlanMetadata(w, meta);
    expect(w2).toContain("<foo:bar xmlns:foo='urn:x'/>");
    expect(readDomain(w2, "w2").plannerMetadata).toHaveLength(1);
    assertOnlySourcesChanged(w, w2);
  });
  it("the ABI check rejects guest-visible changes", () => {
    const x = vm();
    expect(() => assertOnlySourcesChanged(x, x.replace("52:54:00:aa:bb:cc", "52:54:00:aa:bb:cd"))).toThrow(
      RewriteError,
    );
    expect(() => assertOnlySourcesChanged(x, x.replace("slot='0x05'", "slot='0x09'"))).toThrow(RewriteError);
    expect(() => assertOnlySourcesChanged(x, x.replace("<vcpu>2", "<vcpu>4"))).toThrow(RewriteError);
  });
});

describe.runIf(corpusRequired("domain"))("rewrite on libvirt corpus domains", () => {
  it("rewrites every mdev/pci/interface source and only that", () => {
    const CORPUS = assertCorpus("domain");
    let n = 0;
    for (const f of readdirSync(CORPUS).filter((x) => x.endsWith(".xml"))) {
      const text = readFileSync(join(CORPUS, f), "utf8");
      let devs: ReturnType<typeof locateDevices>;
      try {
        devs = locateDevices(text, f);
      } catch (e) {
        if (e instanceof InputError) continue; // negative corpus files
        throw e;
      }
      let out = text;
      for (const { dev } of devs) {
        if (dev.kind === "mdev") out = setMdevUuid(out, dev.id, DST);
        else if ((dev.kind === "pci" || dev.kind === "interface") && dev.hostAddress)
          out = setPciSource(out, dev.id, "0000:7f:1f.7");
      }
      out = setPlanMetadata(
        out,
        devs.map(({ dev }) => ({ id: dev.id, kind: dev.kind, guestAddress: null, descriptor: null })),
      );
      assertOnlySourcesChanged(text, out, f);
      const after = readDomain(out, f).devices;
      for (const d of after) {
        if (d.kind === "mdev") expect(d.mdevUuid).toBe(DST);
        if ((d.kind === "pci" || d.kind === "interface") && d.hostAddress)
          expect(d.hostAddress).toBe("0000:7f:1f.7");
      }
      n++;
    }
    expect(n).toBeGreaterThan(20);
  });
});

function host(
  key: string,
  assignments: HostReport["assignments"],
  status: HostReport["status"] = "full",
): HostReport {
  return {
    host: key,
    hostname: `${key}.example`,
    target: `/dumps/${key}`,
    rank: 1,
    status,
    compatible: assignments.length,
    total: assignments.length,
    assignments,
    unassigned: [],
    warnings: [],
    error: null,
    capacityLeft: 0,
    freePciLeft: 0,
  };
}

const mdevTarget = (uuid: string, create: boolean) => ({
  kind: "mdev" as const,
  name: null,
  parent: "pci_0000_3b_00_0",
  parentAddress: "0000:3b:00.0",
  mdevType: "nvidia-558",
  uuid,
  create,
  address: null,
});

function result(hosts: HostReport[]): PlanResult {
  return {
    schemaVersion: 1,
    domain: { name: "vm1", uuid: "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f" },
    source: { host: "src" },
    devices: [
      {
        id: "mdev0",
        alias: null,
        kind: "mdev",
        summary: "",
        blockers: [],
        warnings: [],
        descriptor: { origin: "derived", self: DESC.self, compatible: 0 },
      },
      {
        id: "pci0",
        alias: null,
        kind: "pci",
        summary: "",
        blockers: [],
        warnings: [],
        descriptor: {
          origin: "derived",
          self: { device_api: "vfio-pci", device_type: "pci", device_id: "15b3101e" },
          compatible: 0,
        },
      },
    ],
    hosts,
    best: hosts[0]?.host ?? null,
    warnings: [],
  };
}

describe("--write-dest-xml", () => {
  const x = domainXml("vm1", "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f", [
    { kind: "mdev", uuid: SRC, alias: "hostdev0" },
    { kind: "pci", addr: "0000:3b:00.2", alias: "hostdev1" },
  ]);
  const inactive = x.replace(/<alias name='[^']+'\/>/g, "");
  const a: HostReport["assignments"] = [
    { device: "hostdev0", target: mdevTarget(DST, false) },
    {
      device: "hostdev1",
      target: { kind: "pci", name: "pci_0000_5e_00_4", address: "0000:5e:00.4", driver: null },
    },
  ];

  it("writes both files for full hosts only, with sources rewritten and metadata, plus the virsh command", () => {
    const dir = join(tempDir(), "out");
    const r = result([host("hostA", a), host("hostB", [], "partial")]);
    r.devices[0]!.id = "hostdev0";
    r.devices[1]!.id = "hostdev1";
    const lines = writeDestinationXml(dir, r, readDomain(x, "x"), {
      text: x,
      file: "x",
      migratableXml: x,
      inactiveXml: inactive,
    });
    expect(readdirSync(dir).sort()).toEqual(["hostA.persistent.xml", "hostA.xml", "plan.json"]);
    expect(
      JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")).hosts.map((h: { host: string }) => h.host),
    ).toEqual(["hostA", "hostB"]);
    const live = readFileSync(join(dir, "hostA.xml"), "utf8");
    const pers = readFileSync(join(dir, "hostA.persistent.xml"), "utf8");
    assertOnlySourcesChanged(x, live);
    assertOnlySourcesChanged(inactive, pers);
    for (const doc of [live, pers]) {
      const d = readDomain(doc, "d");
      expect(mdevUuidOf(d.devices[0]!)).toBe(DST);
      expect(hostPciAddress(d.devices[1]!)).toBe("0000:5e:00.4");
      expect(d.plannerMetadata.map((m) => [m.id, m.kind, m.guestAddress, m.mdevType ?? m.pciIds])).toEqual([
        [d.devices[0]!.id, "mdev", "pci:0000:00:05.0", "nvidia-558"],
        [d.devices[1]!.id, "pci", "pci:0000:00:06.0", "15b3:101e"],
      ]);
    }
    expect(readDomain(pers, "p").plannerMetadata[0]!.id).toBe("mdev0");
    expect(lines.join("\n")).toContain(
      `virsh migrate --live --persistent --xml ${dir}/hostA.xml --persistent-xml ${dir}/hostA.persistent.xml vm1 qemu+ssh://hostA.example/system`,
    );
  });

  it("without the inactive definition: no --persistent-xml and says so", () => {
    const dir = tempDir();
    const r = result([host("hostA", a)]);
    r.devices[0]!.id = "hostdev0";
    r.devices[1]!.id = "hostdev1";
    const lines = writeDestinationXml(dir, r, readDomain(x, "x"), { text: x, file: "x" });
    expect(readdirSync(dir).sort()).toEqual(["hostA.xml", "plan.json"]);
    const cmd = lines.find((l) => l.includes("virsh migrate"))!;
    expect(cmd).not.toContain("--persistent-xml");
    expect(lines.join("\n")).toMatch(/inactive definition is unknown/);
  });

  it("refuses a Nova-managed domain", () => {
    const nova = x.replace(
      "</uuid>",
      "</uuid><metadata><nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/nova/1.0'/></metadata>",
    );
    expect(() =>
      writeDestinationXml(tempDir(), result([host("hostA", a)]), readDomain(nova, "n"), {
        text: nova,
        file: "n",
      }),
    ).toThrow(/openstack server migrate --live/);
  });

  it("keeps the source UUID unchanged when the plan kept it", () => {
    const r = result([]);
    r.devices[0]!.id = "hostdev0";
    const out = rewriteForHost(x, "x", readDomain(x, "x"), r.devices, {
      assignments: [{ device: "hostdev0", target: mdevTarget(SRC, true) }],
    });
    expect(mdevUuidOf(readDomain(out, "o").devices[0]!)).toBe(SRC);
  });
});

describe("mdev creation plan", () => {
  it("node device XML and mdevctl with the parent's PCI address", () => {
    const h = host("hostA", [
      { device: "mdev0", target: mdevTarget(DST, true) },
      { device: "mdev1", target: mdevTarget(SRC, false) },
    ]);
    const steps = mdevCreationSteps(h);
    expect(steps).toHaveLength(1);
    const s = steps[0]!;
    expect(s.nodedevXml).toBe(
      `<device>\n  <parent>pci_0000_3b_00_0</parent>\n  <capability type='mdev'>\n    <type id='nvidia-558'/>\n    <uuid>${DST}</uuid>\n  </capability>\n</device>\n`,
    );
    expect(s.mdevctl).toBe(`mdevctl start -u ${DST} -p 0000:3b:00.0 -t nvidia-558`);
    // libvirt's name: mdev_<uuid>_<parent address>, no "pci_" (mdevGenerateDeviceName)
    expect(s.virsh[1]).toBe(`virsh nodedev-start mdev_${DST.replace(/-/g, "_")}_0000_3b_00_0`);
    expect(mdevNodeDeviceName(DST, "ap_matrix")).toBe(`mdev_${DST.replace(/-/g, "_")}_matrix`);
    expect(parentAddressOf("css_0_0_0023")).toBe("0.0.0023");
    expect(readDomain(`<domain type='kvm'><name>x</name></domain>`, "x").devices).toEqual([]);
  });
});

describe.runIf(corpusRequired("mdevctl"))("mdev node device names on the libvirt corpus", () => {
  it("libvirt's defined-mdev name (mdev_<uuid>_<parent address>) is what mdevNodeDeviceName gives", () => {
    const dir = assertCorpus("mdevctl");
    const devs = readNodeDevices(
      readFileSync(join(dir, "mdev_c60cc60c_c60c_c60c_c60c_c60cc60cc60c_update.xml"), "utf8"),
      "update.xml",
    );
    const d = devs[0]!;
    expect(d.name).toBe("mdev_c60cc60c_c60c_c60c_c60c_c60cc60cc60c_0_0_0052");
    expect(mdevNodeDeviceName(d.mdev!.uuid!, d.parent!)).toBe(d.name);
  });
});

describe("one parse, a list of edits, one verification", () => {
  const meta = [{ id: "mdev0", kind: "mdev" as const, guestAddress: null, descriptor: null }];
  const sequential = (x: string): string => {
    let out = setMdevUuid(x, "mdev0", DST);
    out = setPciSource(out, "pci0", "0000:5e:01.7");
    out = setPciSource(out, "interface0", "0000:af:02.1");
    out = setPlanMetadata(out, meta);
    assertOnlySourcesChanged(x, out);
    return out;
  };
  const updaters = () => [
    mdevUuidUpdater("mdev0", DST),
    pciSourceUpdater("pci0", "0000:5e:01.7"),
    pciSourceUpdater("interface0", "0000:af:02.1"),
    planMetadataUpdater(meta),
  ];

  it("gives the text of the function-by-function rewrite, in 2 scanner passes", () => {
    const x = vm();
    let p0 = scanPassCount();
    const a = sequential(x);
    const passesBefore = scanPassCount() - p0;
    p0 = scanPassCount();
    const b = rewriteDomain(x, "vm1.xml", updaters());
    const passesAfter = scanPassCount() - p0;
    expect(b).toBe(a);
    expect(b).not.toBe(x);
    // the input once, the result once (the verification)
    expect(passesAfter).toBe(2);
    expect(passesBefore).toBeGreaterThan(passesAfter);
    console.log(
      `[rewrite] scanner passes: ${passesBefore} one function at a time, ${passesAfter} with rewriteDomain`,
    );
  });

  it("reuses a document the caller already read, and refuses edits that overlap", () => {
    const doc = new DomainDoc(vm(), "vm1.xml");
    const p0 = scanPassCount();
    const out = rewriteDomain(doc, "vm1.xml", updaters());
    expect(scanPassCount() - p0).toBe(1);
    expect(hostPciAddress(readDomain(out, "o").devices.find((d) => d.id === "pci0")!)).toBe("0000:5e:01.7");
    expect(() =>
      rewriteDomain(vm(), "vm1.xml", [
        pciSourceUpdater("pci0", "0000:5e:01.7"),
        pciSourceUpdater("pci0", "0000:5e:01.6"),
      ]),
    ).toThrow(/same part of the document/);
    expect(
      applyEdits("abcdef", [
        { start: 4, end: 5, text: "E" },
        { start: 1, end: 2, text: "B" },
      ]),
    ).toBe("aBcdEf");
  });

  it("verifies the result: an updater that touches guest-visible XML is refused", () => {
    const bad = (d: DomainDoc) => {
      const at = d.text.indexOf("<vcpu>");
      return [{ start: at, end: at + 7, text: "<vcpu>4" }];
    };
    expect(() => rewriteDomain(vm(), "vm1.xml", [bad])).toThrow(RewriteError);
  });

  it("records element and attribute offsets the rewrite edits at", () => {
    const x = vm();
    const d = new DomainDoc(x);
    const { el } = d.located.find((l) => l.dev.id === "pci0")!;
    expect(x.slice(el.start, el.start + 8)).toBe("<hostdev");
    expect(x.slice(el.closeStart, el.end)).toBe("</hostdev>");
    expect(x[el.openEnd - 1]).toBe(">");
  });
});
