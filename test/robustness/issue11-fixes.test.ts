/** Small untruths of issue 11 item 8: vDPA/SCSI wording, non-UTF-8 DMI strings, whitespace-free XML. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import { planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { domainXml, nic, rawHost } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";

const UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

describe("vDPA and SCSI: not supported by hdplan", () => {
  it("says so instead of claiming they cannot be live-migrated", () => {
    const vdpa = domainXml("v", UUID, [{ kind: "scsi" }]).replace(
      "</devices>",
      "<interface type='vdpa'><source dev='/dev/vhost-vdpa-0'/></interface></devices>",
    );
    const r = planDomain(
      {
        domain: readDomain(vdpa, "v.xml"),
        source: buildInventory(rawHost("src", { devices: [] })),
        selector: new DescriptorSelector([]),
        opts: { assumeVersions: false, explain: false },
      },
      [],
    );
    const msgs = r.devices.map((d) => d.blockers[0]!);
    expect(msgs.map((m) => m.code)).toEqual(["hostdev-type-not-migratable", "hostdev-type-not-migratable"]);
    for (const m of msgs) {
      expect(m.message).toContain("not supported by hdplan");
      expect(m.message).not.toContain("cannot be live-migrated");
    }
    expect(msgs[1]!.message).toContain("vDPA");
  });
});

describe("a dump with non-UTF-8 DMI strings", () => {
  const COMPUTER = Buffer.concat([
    Buffer.from(
      "<device><name>computer</name><capability type='system'><hardware><vendor>Fujitsu Technology Solutions GmbH Sch",
    ),
    Buffer.from([0xf6]), // latin-1 'ö': not UTF-8
    Buffer.from("neberg</vendor></hardware></capability></device>\n"),
  ]);

  function dumpWithBadComputer(concatenated: boolean) {
    const root = tempDir("hdplan-latin1-");
    const devs = nic("0000:5e:00.0", ["0000:5e:00.2", "0000:5e:00.3"]);
    const dir = writeDump(root, "dst", { devices: devs, concatenated });
    const src = writeDump(root, "src", { devices: devs });
    if (concatenated) {
      const f = join(dir, "nodedev", "all.xml");
      writeFileSync(f, Buffer.concat([COMPUTER, readFileSync(f)]));
    } else {
      writeFileSync(join(dir, "nodedev", "computer.xml"), COMPUTER);
    }
    const vm = join(root, "vm.xml");
    writeFileSync(vm, domainXml("vm1", UUID, [{ kind: "pci", addr: "0000:5e:00.2" }]));
    return { dir, src, vm };
  }

  for (const concatenated of [false, true]) {
    it(`skips only that device with a warning (${concatenated ? "one concatenated file" : "one file per device"})`, () => {
      const { dir, src, vm } = dumpWithBadComputer(concatenated);
      const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", dir, "--format", "json"]);
      expect(r.code, r.stderr).toBe(0);
      const h = JSON.parse(r.stdout).hosts[0];
      expect(h.status).toBe("full");
      const w = h.warnings.find((x: { code: string }) => x.code === "device-skipped");
      expect(w.message).toContain("node device computer skipped: not valid UTF-8");
    });
  }
});

describe("--write-dest-xml on XML without whitespace between elements", () => {
  it("writes the destination XML (the safety check ignores inter-element whitespace)", () => {
    const dir = tempDir("hdplan-minxml-");
    const vm = join(dir, "vm-mixed.xml");
    writeFileSync(vm, readFileSync("xml-samples/domains/vm-mixed.xml", "utf8").replace(/>\s+</g, "><"));
    const out = join(dir, "out");
    const r = hdplan([
      "plan",
      "--domain",
      vm,
      "--source",
      "xml-samples/hosts/src-host",
      "--host",
      "xml-samples/hosts/host-a",
      "--write-dest-xml",
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const written = readFileSync(join(out, "host-a.xml"), "utf8");
    const d = readDomain(written, "host-a.xml");
    expect(d.devices.map((x) => x.id)).toEqual(
      readDomain(readFileSync(vm, "utf8"), "vm").devices.map((x) => x.id),
    );
    expect(d.plannerMetadata.length).toBeGreaterThan(0);
  });
});
