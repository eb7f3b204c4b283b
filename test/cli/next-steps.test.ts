/**
 * Every command hdplan prints for the operator to paste is run (against the
 * libvirt test driver where it needs libvirt) or parsed: --write-dest-xml's
 * prepare and virsh migrate lines, --explain's virsh / mdevctl lines.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mdevNodeDeviceName } from "../../src/output/mdevplan.js";
import { readDomain } from "../../src/xml/domain.js";
import { BIN, ROOT, hdplan } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { shellWords } from "../helpers/shell.js";
import { libvirtAvailable, writeT4Hosts } from "../helpers/testdriver.js";

const RUN = libvirtAvailable();
const SAMPLE = [
  "plan",
  "--domain",
  "xml-samples/domains/vm-vgpu.xml",
  "--source",
  "xml-samples/hosts/src-host",
  "--host",
  "xml-samples/hosts/host-a",
  "--descriptors",
  "xml-samples/descriptors",
];

/** virsh's own option list for a command (no connection needed). */
function virshOptions(cmd: string): Set<string> {
  const r = spawnSync("virsh", ["help", cmd], { encoding: "utf8" });
  return new Set([...r.stdout.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]));
}

/** Checks a printed `virsh migrate …` line: known options, files that exist, domain and URI. */
function checkMigrateLine(line: string, vm: string): string[] {
  const w = shellWords(line.trim());
  expect(w.slice(0, 2)).toEqual(["virsh", "migrate"]);
  const opts = virshOptions("migrate");
  const positional: string[] = [];
  for (let i = 2; i < w.length; i++) {
    if (w[i]!.startsWith("--")) {
      expect(opts.has(w[i]!), w[i]).toBe(true);
      if (w[i] === "--xml" || w[i] === "--persistent-xml") {
        expect(existsSync(w[i + 1]!), w[i + 1]).toBe(true);
        readDomain(readFileSync(w[i + 1]!, "utf8"), w[i + 1]!);
        i++;
      }
    } else positional.push(w[i]!);
  }
  expect(positional[0]).toBe(vm);
  expect(positional[1]).toMatch(/^qemu(\+ssh)?:\/\/[^/]+\/system$/);
  return w;
}

describe.runIf(RUN)("printed next steps on the samples (file targets)", () => {
  it("--write-dest-xml writes DIR/plan.json, prints mdevctl lines (no prepare line without a URI) and a virsh migrate line that parses", () => {
    const dir = join(tempDir(), "out");
    const r = hdplan([...SAMPLE, "--write-dest-xml", dir]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8"));
    expect(plan.best).toBe("host-a");
    expect(r.stderr).not.toContain("hdplan prepare");
    expect(r.stderr).not.toMatch(/PLAN\.json|URI/);
    const steps = plan.hosts[0].mdevCreate as { uuid: string; parentAddress: string; mdevType: string }[];
    expect(steps.length).toBe(1);
    const mdevctl = r.stderr.split("\n").filter((l) => l.trim().startsWith("mdevctl "));
    expect(mdevctl.map((l) => shellWords(l.trim()))).toEqual(
      steps.map((s) => ["mdevctl", "start", "-u", s.uuid, "-p", s.parentAddress, "-t", s.mdevType]),
    );
    const mig = r.stderr.split("\n").find((l) => l.trim().startsWith("virsh migrate"))!;
    checkMigrateLine(mig, "vm-vgpu");
  });

  it("--explain's virsh nodedev lines: the XML defines a node device, the start name is libvirt's", () => {
    const r = hdplan([...SAMPLE, "--explain"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").map((l) => l.trim());
    const cat = lines.findIndex((l) => l.startsWith("cat > mdev-"));
    const end = lines.indexOf("EOF", cat);
    const define = shellWords(lines[end + 1]!);
    expect(define.slice(0, 2)).toEqual(["virsh", "nodedev-define"]);
    // Run the printed lines as they are (heredoc + virsh) on libvirt's test
    // driver: it parses the XML, then says it cannot define node devices.
    const cwd = tempDir();
    const d = spawnSync("sh", ["-c", lines.slice(cat, end + 2).join("\n")], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, LIBVIRT_DEFAULT_URI: "test:///default" },
    });
    expect(d.stderr).toMatch(/not supported by the connection driver: virNodeDeviceDefineXML/);
    const file = join(cwd, define[2]!);
    const start = shellWords(lines[end + 2]!);
    expect(start.slice(0, 2)).toEqual(["virsh", "nodedev-start"]);
    const xml = readFileSync(file, "utf8");
    const uuid = /<uuid>(.*)<\/uuid>/.exec(xml)![1]!;
    const parent = /<parent>(.*)<\/parent>/.exec(xml)![1]!;
    expect(parent).toBe("pci_0000_17_00_0");
    // libvirt: mdev_<uuid>_<parent address> (mdevGenerateDeviceName), no "pci_"
    expect(start[2]).toBe(`mdev_${uuid.replace(/-/g, "_")}_0000_17_00_0`);
    expect(start[2]).toBe(mdevNodeDeviceName(uuid, parent));
    const s = spawnSync("virsh", ["-c", "test:///default", "nodedev-start", start[2]!], { encoding: "utf8" });
    expect(s.stderr).toMatch(/not found|no node device|Could not find/i);
    const alt = shellWords(lines[end + 3]!.replace(/^or: /, ""));
    expect(alt).toEqual(["mdevctl", "start", "-u", uuid, "-p", "0000:17:00.0", "-t", "nvidia-558"]);
  });
});

describe.runIf(RUN)("printed next steps on live targets (test driver)", () => {
  const VM = { name: "vm1", uuid: "a1b2c3d4-0000-4000-8000-000000000009" };
  let src = "";
  let dst = "";
  beforeAll(() => {
    ({ src, dst } = writeT4Hosts(tempDir("hdplan-next-"), { src: { available: 7, vm: VM }, dst: 8 }));
  });

  it("--write-dest-xml prints a prepare line with the URI; running it reads DIR/plan.json and reaches libvirt", () => {
    const out = join(tempDir(), "out");
    // the test driver has no /sys: the vGPU manager version is unknown on both
    // sides, which --assume-versions (only) lifts; this test is about next steps
    const r = hdplan([
      "plan",
      "--domain",
      VM.name,
      "--source",
      src,
      "--host",
      dst,
      "--assume-versions",
      "--write-dest-xml",
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const line = r.stderr.split("\n").find((l) => l.trim().startsWith("hdplan prepare"))!;
    const w = shellWords(line.trim());
    expect(w).toEqual(["hdplan", "prepare", "--host", dst, "--plan", join(out, "plan.json"), "--connect-rw"]);
    // run it as printed (hdplan = this build): the plan is read, the host found,
    // libvirt's test driver then refuses to define node devices (exit 3)
    const run = spawnSync(process.execPath, [BIN, ...w.slice(1)], { cwd: ROOT, encoding: "utf8" });
    expect(run.stderr).toMatch(/creating mdev .* failed: .*virNodeDeviceDefineXML/);
    expect(run.status).toBe(3);
    // without --connect-rw it says what it would create
    const dry = spawnSync(process.execPath, [BIN, ...w.slice(1, -1)], { cwd: ROOT, encoding: "utf8" });
    expect(dry.status).toBe(2);
    expect(dry.stderr).toMatch(/would create 1 mdev/);
    const mig = r.stderr.split("\n").find((l) => l.trim().startsWith("virsh migrate"))!;
    checkMigrateLine(mig, VM.name);
  });
});

describe.runIf(RUN)("the dump-directory recipe of docs/targets.md", () => {
  it("runs as printed (virsh on the test driver) and gives a dump directory hdplan reads", () => {
    const doc = readFileSync(join(ROOT, "docs/targets.md"), "utf8");
    const block = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)]
      .map((m) => m[1]!)
      .find((b) => b.includes("mkdir -p dump"))!;
    expect(block).toContain("virsh nodedev-list --all");
    const cwd = tempDir();
    const r = spawnSync("sh", ["-e", "-c", block], {
      cwd,
      encoding: "utf8",
      env: { ...process.env, LIBVIRT_DEFAULT_URI: "test:///default" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const dump = join(cwd, "dump");
    const p = hdplan([
      "plan",
      "--domain",
      "test",
      "--source",
      dump,
      "--host",
      `copy=${dump}`,
      "--format",
      "json",
    ]);
    expect(p.stderr).toBe("");
    expect(JSON.parse(p.stdout).domain.name).toBe("test");
  });
});
