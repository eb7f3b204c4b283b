/**
 * Where the vendor facts come from (issue #11 item 4), end to end through the
 * CLI: dump directories (sys/ subset, devlink-dev-info.json), inventory
 * snapshots (schemaVersion 2, and 1 still read), the libvirt test driver, the
 * docs/dump-sys.md recipe, and the hook refusing on the planner metadata.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { mlx5FirmwareFiles, nvidiaVersionFile, vgpuVfFiles, writeSys } from "../../scripts/fixtures/sys.mjs";
import { readHostFacts } from "../../src/facts/read.js";
import { readDumpFacts } from "../../src/targets/dump.js";
import { domainXml, gpu, mdevDev, nic } from "../helpers/build.js";
import { ROOT, hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { libvirtAvailable, nodeXml } from "../helpers/testdriver.js";

const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const VM = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const GPU = "0000:3b:00.0";
const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];

/** The PF's infiniband attributes in a root (dump dir or fake sysfs root). */
function firmware(root: string, version: string, psid = "MT_0000000359"): void {
  writeSys(root, mlx5FirmwareFiles(PF, 0, { version, psid }));
}

const srcDevices = [gpu(GPU, 2), mdevDev({ uuid: A, parentAddr: GPU, type: "nvidia-558" }), ...nic(PF, VFS)];
const dstDevices = [gpu(GPU, 4), ...nic(PF, VFS)];

function statusOf(stdout: string) {
  const j = JSON.parse(stdout);
  const by: Record<string, { status: string; codes: string[]; warnings: string[] }> = {};
  for (const h of j.hosts) {
    by[h.host] = {
      status: h.status,
      codes: [
        ...new Set<string>(
          h.unassigned.flatMap((u: { reasons: { code: string }[] }) => u.reasons.map((r) => r.code)),
        ),
      ].sort(),
      warnings: h.warnings.map((w: { code: string }) => w.code),
    };
  }
  return { j, by };
}

describe("vendor facts from dump directories", () => {
  let dir = "";
  let vmVgpu = "";
  let vmVf = "";
  let src = "";
  beforeAll(() => {
    dir = tempDir("hdplan-facts-cli-");
    vmVgpu = join(dir, "vm-vgpu.xml");
    writeFileSync(vmVgpu, domainXml("vm1", VM, [{ kind: "mdev", uuid: A }]));
    vmVf = join(dir, "vm-vf.xml");
    writeFileSync(vmVf, domainXml("vm2", VM, [{ kind: "pci", addr: VFS[0]! }]));
    src = writeDump(dir, "src", { devices: srcDevices, nvidiaVersion: "550.127.05" });
    firmware(src, "22.41.1000");
    const dsts: [string, string | null][] = [
      ["newer", "550.144.03"],
      ["older", "550.90.07"],
      ["branch", "535.216.01"],
      ["nosys", null],
    ];
    for (const [k, v] of dsts) writeDump(dir, k, { devices: dstDevices, nvidiaVersion: v });
    firmware(join(dir, "newer"), "22.41.1000");
    firmware(join(dir, "older"), "22.39.1002");
    // "branch" carries devlink's view only, which the dump reads as well
    writeFileSync(
      join(dir, "branch", "devlink-dev-info.json"),
      JSON.stringify({
        info: {
          [`pci/${PF}`]: {
            driver: "mlx5_core",
            versions: { fixed: { "fw.psid": "MT_0000000436" }, running: { "fw.version": "22.41.1000" } },
          },
        },
      }),
    );
  });

  const planDumps = (vm: string, ...extra: string[]) =>
    hdplan([
      "plan",
      "--domain",
      vm,
      "--source",
      src,
      ...["newer", "older", "branch", "nosys"].flatMap((k) => ["--host", join(dir, k)]),
      "--format",
      "json",
      ...extra,
    ]);

  it("vGPU: manager version from sys/module/nvidia/version", () => {
    const r = planDumps(vmVgpu);
    expect(r.code).toBe(0);
    const { j, by } = statusOf(r.stdout);
    expect(by.newer!.status).toBe("full");
    expect(by.older!.codes).toEqual(["vgpu-manager-version-mismatch"]);
    expect(by.branch!.codes).toEqual(["vgpu-manager-version-mismatch"]);
    expect(by.nosys!.codes).toEqual(["vgpu-manager-version-unknown"]);
    expect(j.best).toBe("newer");
  });

  it("--assume-versions lifts only the unknown case", () => {
    const { by } = statusOf(planDumps(vmVgpu, "--assume-versions").stdout);
    expect(by.nosys!.status).toBe("full");
    expect(by.older!.codes).toEqual(["vgpu-manager-version-mismatch"]);
    expect(by.branch!.codes).toEqual(["vgpu-manager-version-mismatch"]);
  });

  it("mlx5 VF: firmware and PSID from sys/ or devlink-dev-info.json", () => {
    const r = planDumps(vmVf);
    const { by } = statusOf(r.stdout);
    expect(by.newer!.status).toBe("full");
    expect(by.newer!.warnings).not.toContain("firmware-unverified");
    expect(by.older!.codes).toEqual(["firmware-mismatch"]);
    expect(by.branch!.codes).toEqual(["firmware-mismatch"]); // PSID from devlink differs
    expect(by.nosys!.status).toBe("full");
    expect(by.nosys!.warnings).toContain("firmware-unverified");
  });

  it("a malformed devlink-dev-info.json is bad input naming the file (exit 2)", () => {
    const bad = writeDump(dir, "badjson", { devices: dstDevices });
    writeFileSync(join(bad, "devlink-dev-info.json"), "{oops");
    const r = hdplan(["plan", "--domain", vmVgpu, "--source", src, "--host", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("devlink-dev-info.json");
  });
});

describe("vendor facts in snapshots", () => {
  const RUN = libvirtAvailable();
  it.skipIf(!RUN)("inventory --sysfs-root stores them (schemaVersion 2); schemaVersion 1 still reads", () => {
    const dir = tempDir("hdplan-facts-snap-");
    const td = join(dir, "dst.xml");
    writeFileSync(td, nodeXml(dstDevices));
    const root = join(dir, "root");
    writeSys(root, [nvidiaVersionFile("550.90.07")]);
    firmware(root, "22.41.1000");
    const snap = join(dir, "dst.json");
    const inv = hdplan(["inventory", "--connect", `test://${td}`, "--sysfs-root", root, "-o", snap]);
    expect(inv.code).toBe(0);
    const j = JSON.parse(readFileSync(snap, "utf8"));
    expect(j.schemaVersion).toBe(2);
    expect(j.facts).toEqual({
      firmware: [{ address: PF, from: "sysfs", version: "22.41.1000", psid: "MT_0000000359" }],
      nvidiaVersion: "550.90.07",
    });
    const src = writeDump(dir, "src", { devices: srcDevices, nvidiaVersion: "550.127.05" });
    const vm = join(dir, "vm.xml");
    writeFileSync(vm, domainXml("vm1", VM, [{ kind: "mdev", uuid: A }]));
    const p = hdplan(["plan", "--domain", vm, "--source", src, "--host", snap, "--format", "json"]);
    // the test driver's hypervisor is not QEMU: gates are skipped, the vendor rule is not
    expect(statusOf(p.stdout).by.dst!.codes).toEqual(["vgpu-manager-version-mismatch"]);
    // the same host as a schemaVersion 1 snapshot: no facts, so the version is unknown
    const v1 = join(dir, "dst1.json");
    const { facts: _drop, ...rest } = j;
    writeFileSync(v1, JSON.stringify({ ...rest, schemaVersion: 1 }));
    const p1 = hdplan(["plan", "--domain", vm, "--source", src, "--host", v1, "--format", "json"]);
    expect(p1.code).toBe(1);
    expect(statusOf(p1.stdout).by.dst1!.codes).toEqual(["vgpu-manager-version-unknown"]);
  });
});

describe("vendor facts and the libvirt test driver", () => {
  const RUN = libvirtAvailable();
  it.skipIf(!RUN)(
    "a live URI carries no sysfs: vgpu-manager-version-unknown, saying how to supply it",
    () => {
      const dir = tempDir("hdplan-facts-td-");
      const td = join(dir, "dst.xml");
      writeFileSync(td, nodeXml(dstDevices));
      const src = writeDump(dir, "src", { devices: srcDevices, nvidiaVersion: "550.127.05" });
      const vm = join(dir, "vm.xml");
      writeFileSync(vm, domainXml("vm1", VM, [{ kind: "mdev", uuid: A }]));
      const r = hdplan([
        "plan",
        "--domain",
        vm,
        "--source",
        src,
        "--host",
        `test://${td}`,
        "--format",
        "json",
      ]);
      expect(r.code).toBe(1);
      const { j, by } = statusOf(r.stdout);
      expect(by.dst!.codes).toEqual(["vgpu-manager-version-unknown"]);
      const msg = j.hosts[0].unassigned[0].reasons[0].message as string;
      expect(msg).toContain("hdplan inventory");
      expect(msg).toContain("sys/module/nvidia/version");
      // a test-driver source: the source's version is unknown, a blocker on every host
      const tds = join(dir, "tdsrc.xml");
      writeFileSync(tds, nodeXml(srcDevices));
      const s = hdplan([
        "plan",
        "--domain",
        vm,
        "--source",
        `test://${tds}`,
        "--host",
        src,
        "--format",
        "json",
      ]);
      expect(s.code).toBe(1);
      const b = JSON.parse(s.stdout).devices[0].blockers[0];
      expect(b.code).toBe("vgpu-manager-version-unknown");
      expect(b.message).toMatch(/^source tdsrc: /);
    },
  );
});

/** Every file under dir, relative, sorted. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out.sort();
}

describe("docs/dump-sys.md recipe", () => {
  it("copies exactly the files hdplan reads: the dump gives the facts of the tree", () => {
    const md = readFileSync(join(ROOT, "docs/dump-sys.md"), "utf8");
    const block = /## Recipe[\s\S]*?```sh\n([\s\S]*?)```/.exec(md)?.[1];
    expect(block).toBeTruthy();
    const dir = tempDir("hdplan-recipe-");
    const sys = join(dir, "fake-root");
    firmware(sys, "22.41.1000");
    writeSys(sys, [
      nvidiaVersionFile("550.127.05"),
      ...vgpuVfFiles("0000:81:00.4", 0, [{ id: 1155, name: "NVIDIA L40S-24Q" }]),
      // not read, not copied:
      { rel: "module/nvidia/refcnt", text: "3" },
      { rel: `bus/pci/devices/${PF}/infiniband/mlx5_0/hca_type`, text: "MT4125" },
      { rel: "bus/pci/devices/0000:3b:00.0/vendor", text: "0x10de" },
      { rel: "bus/pci/devices/0000:81:00.4/nvidia/vgpu_params", text: "x" },
    ]);
    const devlink = join(dir, "devlink");
    const info = { info: { [`pci/${PF}`]: { versions: { fixed: { "fw.psid": "MT_0000000359" } } } } };
    writeFileSync(devlink, `#!/bin/sh\necho '${JSON.stringify(info)}'\n`);
    chmodSync(devlink, 0o755);
    const dump = join(dir, "dump");
    const r = spawnSync("sh", ["-eu", "-c", block!], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", SYS: join(sys, "sys"), DUMP: dump, DEVLINK: devlink },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(walk(dump)).toEqual([
      "devlink-dev-info.json",
      `sys/bus/pci/devices/${PF}/infiniband/mlx5_0/board_id`,
      `sys/bus/pci/devices/${PF}/infiniband/mlx5_0/fw_ver`,
      "sys/bus/pci/devices/0000:81:00.4/nvidia/creatable_vgpu_types",
      "sys/bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type",
      "sys/module/nvidia/version",
    ]);
    expect(readDumpFacts(dump)).toEqual({
      ...readHostFacts(sys),
      firmware: [{ ...readHostFacts(sys).firmware[0]!, from: "devlink" }],
    });
  });
});

describe("the hook checks vendor versions with the planner metadata", () => {
  it("refuses on a manager version or firmware mismatch against live sysfs; allows when they match", () => {
    const dir = tempDir("hdplan-facts-hook-");
    const src = writeDump(dir, "src", { devices: srcDevices, nvidiaVersion: "550.127.05" });
    firmware(src, "22.41.1000");
    const dst = writeDump(dir, "dst", { devices: dstDevices, nvidiaVersion: "550.127.05" });
    firmware(dst, "22.41.1000");
    const vm = join(dir, "vm.xml");
    writeFileSync(
      vm,
      domainXml("vm1", VM, [
        { kind: "mdev", uuid: A },
        { kind: "pci", addr: VFS[0]! },
      ]),
    );
    const out = join(dir, "out");
    const p = hdplan(["plan", "--domain", vm, "--source", src, "--host", dst, "--write-dest-xml", out]);
    expect(p.code).toBe(0);
    const xml = readFileSync(join(out, "dst.xml"), "utf8");
    // the source's facts travel in the metadata
    expect(xml).toContain('"software_version":"550.127.05"');
    expect(xml).toMatch(/firmware="22\.41\.1000" psid="MT_0000000359"/);
    const env = (sysRoot: string) => ({
      HDPLAN_HOOK_HOST: dst,
      HDPLAN_SYSFS_ROOT: sysRoot,
      HDPLAN_DOMAIN_DIRS: "",
      HDPLAN_HOOK_STATE_DIR: join(dir, `state-${sysRoot ? "live" : "snap"}`),
      HDPLAN_HOOK_SYSLOG: "0",
    });
    const ok = hdplan(["hook", "vm1", "migrate", "begin", "-"], { input: xml, env: env("") });
    expect(ok.stderr).toMatch(/allowed/);
    expect(ok.code).toBe(0);
    // live sysfs on the destination says: older manager, older NIC firmware
    const live = join(dir, "live");
    writeSys(live, [nvidiaVersionFile("550.90.07")]);
    firmware(live, "22.39.1002");
    const r = hdplan(["hook", "vm1", "migrate", "begin", "-"], { input: xml, env: env(live) });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines.some((l) => /refused: mdev0: vgpu-manager-version-mismatch: .*550\.90\.07/.test(l))).toBe(
      true,
    );
    expect(lines.some((l) => /refused: pci0: firmware-mismatch: .*22\.39\.1002/.test(l))).toBe(true);
  });
});
