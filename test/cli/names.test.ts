/** --domain NAME on file sources, the wrong-source error, evacuate --domain / --write-dest-xml. */
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { readPreparePlan } from "../../src/commands/prepare.js";
import { readDomain } from "../../src/xml/domain.js";
import { ROOT, hdplan } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { shellWords } from "../helpers/shell.js";
import { mdevUuidOf, hostPciAddress } from "../../src/model.js";

const S = "xml-samples/hosts";
const HOSTS = ["--hosts-file", "xml-samples/hosts.txt", "--descriptors", "xml-samples/descriptors"];
const VGPU_UUID = "b7e2a4c9-1f6d-4a83-8e25-d94c0b7f1a36";
let dir = "";
let renamed = "";
let snap = "";

beforeAll(() => {
  dir = tempDir("hdplan-names-");
  // a dump whose domain file name differs from the domain's <name>
  renamed = join(dir, "src-host");
  cpSync(join(ROOT, S, "src-host"), renamed, { recursive: true });
  renameSync(join(renamed, "domains/vm-vgpu.xml"), join(renamed, "domains/guest-17.xml"));
  const r = spawnSync(process.execPath, ["scripts/dump-to-snapshot.mjs", "--out", dir, `${S}/src-host`], {
    cwd: ROOT,
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  snap = join(dir, "src-host.json");
});

const planJson = (domain: string, source: string, ...extra: string[]) =>
  hdplan(["plan", "--domain", domain, "--source", source, ...HOSTS, "--format", "json", ...extra]);

describe("plan --domain NAME on a dump directory or snapshot", () => {
  it("finds the domain by dump file name, by <name> and by UUID", () => {
    for (const [id, src] of [
      ["vm-vgpu", `${S}/src-host`],
      ["guest-17", renamed],
      ["vm-vgpu", renamed],
      [VGPU_UUID, renamed],
      ["vm-vgpu", snap],
      [VGPU_UUID.toUpperCase(), snap],
    ] as const) {
      const r = planJson(id, src);
      expect(r.stderr, `${id} on ${src}`).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).domain).toEqual({ name: "vm-vgpu", uuid: VGPU_UUID });
    }
  });

  it("plans the same from the name as from the file", () => {
    const byFile = planJson("xml-samples/domains/vm-vgpu.xml", `${S}/src-host`);
    const byName = planJson("vm-vgpu", `${S}/src-host`);
    expect(byName.stdout).toBe(byFile.stdout);
  });

  it("an unknown name: 'domain X is not defined on source Y' (exit 2)", () => {
    const r = planJson("vm-nope", snap);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `hdplan: error: domain vm-nope is not defined on source ${snap} (it defines vm-gvtg, vm-mixed, vm-net, vm-passthrough-gpu, vm-vf, vm-vgpu, vm-viommu); pass the --source the VM runs on\n`,
    );
  });
});

describe("a --domain path that does not exist", () => {
  it("says the file does not exist, not that the source lacks a domain of that name (exit 2)", () => {
    const r = planJson("xml-samples/domains/no-such-vm.xml", `${S}/src-host`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("hdplan: error: xml-samples/domains/no-such-vm.xml: no such domain XML file\n");
  });
});

describe("a wrong --source", () => {
  it("a domain file the source does not define: exit 2 naming both, not source-device-unknown", () => {
    const r = planJson("xml-samples/domains/vm-vgpu.xml", `${S}/host-b`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^hdplan: error: domain vm-vgpu is not defined on source xml-samples\/hosts\/host-b \(it defines cad-01, /,
    );
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a source without domain data still plans the file (the check needs evidence)", () => {
    const bare = join(dir, "bare");
    cpSync(join(ROOT, S, "src-host"), bare, { recursive: true });
    rmSync(join(bare, "domains"), { recursive: true });
    const r = planJson("xml-samples/domains/vm-vgpu.xml", bare);
    expect(r.code).toBe(0);
  });
});

describe("evacuate --domain and --write-dest-xml", () => {
  it("--domain places only the named domains (repeatable, by name or UUID)", () => {
    const r = hdplan([
      "evacuate",
      "--source",
      `${S}/src-host`,
      ...HOSTS,
      "--domain",
      "vm-vf",
      "--domain",
      VGPU_UUID,
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    expect(
      JSON.parse(r.stdout)
        .placements.map((p: { domain: string }) => p.domain)
        .sort(),
    ).toEqual(["vm-vf", "vm-vgpu"]);
    const all = hdplan(["evacuate", "--source", `${S}/src-host`, ...HOSTS, "--format", "json"]);
    expect(JSON.parse(all.stdout).placements.length).toBeGreaterThan(2);
  });

  it("--domain that the source does not define: exit 2", () => {
    const r = hdplan(["evacuate", "--source", `${S}/src-host`, ...HOSTS, "--domain", "vm-nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^hdplan: error: domain vm-nope is not defined on source xml-samples\/hosts\/src-host/,
    );
  });

  it("--write-dest-xml writes one destination XML and one prepare-readable plan per placement", () => {
    const out = join(tempDir(), "out");
    const r = hdplan([
      "evacuate",
      "--source",
      `${S}/src-host`,
      ...HOSTS,
      "--domain",
      "vm-vf",
      "--domain",
      "vm-vgpu",
      "--write-dest-xml",
      out,
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    const placements = JSON.parse(r.stdout).placements as {
      domain: string;
      host: string;
      assignments: { target: { uuid: string | null; address: string | null } }[];
    }[];
    const expected = placements.flatMap((p) => [`${p.domain}.${p.host}.xml`, `${p.domain}.plan.json`]).sort();
    expect(readdirSync(out).sort()).toEqual(expected);
    for (const p of placements) {
      const xml = readDomain(readFileSync(join(out, `${p.domain}.${p.host}.xml`), "utf8"), p.domain);
      expect(xml.name).toBe(p.domain);
      // the rewritten sources are the placement's targets
      const got = xml.devices.map((d) => mdevUuidOf(d) ?? hostPciAddress(d)).sort();
      const want = p.assignments.map((a) => a.target.uuid ?? a.target.address).sort();
      expect(got).toEqual(want);
      expect(xml.plannerMetadata.length).toBe(p.assignments.length);
      const prep = readPreparePlan(join(out, `${p.domain}.plan.json`), p.host);
      expect(prep.domain).toBe(p.domain);
    }
  });

  it("the printed virsh migrate lines name the placement's file, domain and host", () => {
    const out = join(tempDir(), "out");
    const r = hdplan([
      "evacuate",
      "--source",
      `${S}/src-host`,
      ...HOSTS,
      "--domain",
      "vm-vf",
      "--write-dest-xml",
      out,
    ]);
    expect(r.code).toBe(0);
    const host = /^vm-vf\s+\d+\s+\d+\s+(\S+)/m.exec(r.stdout)![1]!;
    const line = r.stderr.split("\n").find((l) => l.trim().startsWith("virsh migrate"))!;
    expect(shellWords(line.trim())).toEqual([
      "virsh",
      "migrate",
      "--live",
      "--persistent",
      "--xml",
      join(out, `vm-vf.${host}.xml`),
      "vm-vf",
      `qemu+ssh://${host}/system`,
    ]);
  });
});
