import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { domainXml, gpu, mdevDev, nic } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";

const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
let dir = "";
let vm = "";
let src = "";
let full = "";
let small = "";

function oneLineError(stderr: string): void {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  dir = tempDir();
  src = writeDump(dir, "src", {
    devices: [
      gpu("0000:3b:00.0", 3),
      mdevDev({ uuid: A, parentAddr: "0000:3b:00.0", type: "nvidia-558" }),
      ...nic("0000:5e:00.0", ["0000:5e:00.2"]),
    ],
    concatenated: true,
  });
  full = writeDump(dir, "full", {
    devices: [gpu("0000:3b:00.0", 4), ...nic("0000:5e:00.0", ["0000:5e:00.2"])],
  });
  small = writeDump(dir, "small", { devices: [...nic("0000:5e:00.0", ["0000:5e:00.2"])] });
  vm = join(dir, "vm.xml");
  writeFileSync(
    vm,
    domainXml("vm1", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", [
      { kind: "mdev", uuid: A },
      { kind: "pci", addr: "0000:5e:00.2" },
    ]),
  );
});

describe("hdplan plan (CLI)", () => {
  it("ranks hosts and exits 0 when one is full", () => {
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", small, "--host", full]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1\s+full\s+full\s+2\/2/);
    expect(r.stdout).toMatch(/2\s+small\s+partial\s+1\/2\s+mdev0: mdev-type-missing/);
  });

  it("prints the JSON of cli.md", () => {
    const r = hdplan([
      "plan",
      "--domain",
      vm,
      "--source",
      src,
      "--host",
      full,
      "--host",
      small,
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.schemaVersion).toBe(1);
    expect(j.best).toBe("full");
    expect(j.domain).toEqual({ name: "vm1", uuid: "c7a5fdbd-cdaf-9455-926a-d65c16db1809" });
    expect(j.devices.map((d: { id: string }) => d.id)).toEqual(["mdev0", "pci0"]);
    const h = j.hosts[0];
    expect(Object.keys(h)).toEqual(
      expect.arrayContaining([
        "assignments",
        "compatible",
        "error",
        "host",
        "hostname",
        "rank",
        "status",
        "target",
        "total",
        "unassigned",
        "warnings",
      ]),
    );
    expect(Object.keys(h)).not.toContain("capacityLeft");
    expect(h.hostname).toBe("full.example");
    expect(h.assignments[0].target).toMatchObject({
      kind: "mdev",
      parent: "pci_0000_3b_00_0",
      mdevType: "nvidia-558",
      uuid: A,
      create: true,
      address: null,
    });
  });

  it("exits 1 when no host is full and all were read", () => {
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", small]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("No host can take every assigned device.");
  });

  it("check exits 0/1 for one host and refuses several", () => {
    expect(hdplan(["check", "--domain", vm, "--source", src, "--host", full]).code).toBe(0);
    expect(hdplan(["check", "--domain", vm, "--source", src, "--host", small]).code).toBe(1);
    const r = hdplan(["check", "--domain", vm, "--source", src, "--host", small, "--host", full]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
  });

  it("--explain shows targets and reasons per host", () => {
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", full, "--host", small, "--explain"]);
    expect(r.stdout).toContain("mdev0 -> create mdev nvidia-558 on pci_0000_3b_00_0");
    expect(r.stdout).toContain("mdev-type-missing:");
    expect(r.stdout).toMatch(/descriptor \(derived\)/);
  });

  it("malformed domain XML exits 2 with one line naming the file", () => {
    const bad = join(dir, "bad.xml");
    writeFileSync(bad, "<domain><name>x</name>\n<devices></domain>");
    const r = hdplan(["plan", "--domain", bad, "--source", src, "--host", full]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toMatch(/:2:\d+/);
  });

  it("a missing file and an unknown option exit 2", () => {
    const r = hdplan(["plan", "--domain", join(dir, "nope.xml"), "--source", src, "--host", full]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain("nope.xml");
    const u = hdplan(["plan", "--bogus"]);
    expect(u.code).toBe(2);
    expect(u.stderr).toContain("--bogus");
  });

  it("a malformed node device file in a dump directory exits 2 naming it", () => {
    const broken = writeDump(dir, "broken", { devices: ["<device><name>x</name><capability type='pci'>"] });
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", broken]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain("broken/nodedev/dev000.xml");
  });

  it("duplicate host keys exit 2", () => {
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", full, "--host", `full=${small}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('duplicate host key "full"');
  });

  it("without --source a device that needs it exits 2 saying to pass --source", () => {
    const r = hdplan(["plan", "--domain", vm, "--host", full]);
    expect(r.code).toBe(2);
    oneLineError(r.stderr);
    expect(r.stderr).toContain("--source");
  });

  it("--hosts-file with comments and KEY=TARGET", () => {
    const hf = join(dir, "hosts.txt");
    writeFileSync(hf, `# candidates\nbig=${full}   # the full one\n\n${small}\n`);
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--hosts-file", hf, "--format", "json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).best).toBe("big");
  });

  it("--version prints the package version and exits 0; no command prints help and exits 2", () => {
    const v = hdplan(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const none = hdplan([]);
    expect(none.code).toBe(2);
    expect(none.stdout + none.stderr).toContain("Usage: hdplan");
  });

  it("a snapshot of the wrong schema version exits 2", () => {
    const snap = join(dir, "old.json");
    writeFileSync(snap, JSON.stringify({ schemaVersion: 99, kind: "hdplan-host-snapshot", nodeDevices: [] }));
    const r = hdplan(["plan", "--domain", vm, "--source", src, "--host", snap]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("schemaVersion 99");
  });
});
