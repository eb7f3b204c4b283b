/**
 * The destination hook and NVIDIA SR-IOV vGPU VFs (issue #12 item 3): the
 * check path (the VF's live nvidia/current_vgpu_type), the create path
 * (HDPLAN_HOOK_CREATE=1 writes the planned type under the reservation lock
 * and reads it back), the refusal that prints the write, a busy VF, and two
 * hooks racing for the last VF. Live sysfs is a fake tree in a temp dir
 * (HDPLAN_SYSFS_ROOT).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { applyVgpuTypes } from "../../src/commands/hook.js";
import { setPlanMetadata } from "../../src/output/rewrite.js";
import { readDomain } from "../../src/xml/domain.js";
import { domainXml, pciDev } from "../helpers/build.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { hookInProcess, writeVgpuSysfs } from "../helpers/hook.js";
import buildDist from "../setup/build.js";
import { hostPciAddress } from "../../src/model.js";

const PF = "0000:81:00.0";
const vf = (fn: number) => `0000:81:00.${fn}`;
const VM = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const L40S = { vendor: "10de", product: "26b9" };
const NAMES: Record<number, string> = { 1153: "NVIDIA L40S-8Q", 1155: "NVIDIA L40S-24Q" };
const DESC = {
  self: {
    device_api: "vfio-pci",
    device_type: "pci",
    device_id: "10de26b9",
    vgpu_type: "NVIDIA L40S-24Q",
    software_version: "550.127.05",
  },
  compatible: [],
};

/** The XML `plan --write-dest-xml` writes for a VF vGPU of type 1155 planned onto VF `at`. */
function incoming(guest: string, at: string): string {
  return setPlanMetadata(domainXml(guest, VM, [{ kind: "pci", addr: at, managed: false }]), [
    { id: "pci0", kind: "pci", guestAddress: "pci:0000:00:05.0", descriptor: DESC, vgpuType: "1155" },
  ]);
}

/** Live sysfs: per VF [current type, creatable ids]; the manager version. */
function sysfs(root: string, vfs: Record<string, [number, number[]]>): void {
  mkdirSync(join(root, "sys/module/nvidia"), { recursive: true });
  writeFileSync(join(root, "sys/module/nvidia/version"), "550.127.05\n");
  writeVgpuSysfs(root, vfs, NAMES);
}

const currentOf = (root: string, a: string) =>
  readFileSync(join(root, "sys/bus/pci/devices", a, "nvidia/current_vgpu_type"), "utf8").trim();

/** A destination: an L40S PF with `n` VFs on nvidia, optional domains; live sysfs in `live`. */
function dest(n: number, vfs: Record<string, [number, number[]]>, domains: string[] = []) {
  const root = tempDir("hdplan-hook-vgpu-");
  const addrs = Array.from({ length: n }, (_, i) => vf(4 + i));
  const host = writeDump(root, "dst", {
    devices: [
      pciDev({ addr: PF, ...L40S, cls: "0x030200", driver: "nvidia", vfs: addrs }),
      ...addrs.map((a) => pciDev({ addr: a, ...L40S, cls: "0x030200", driver: "nvidia", pf: PF })),
    ],
    domains,
  });
  const live = join(root, "live");
  sysfs(live, vfs);
  return { root, host, live, state: join(root, "state") };
}

function envFor(d: ReturnType<typeof dest>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    HDPLAN_HOOK_HOST: d.host,
    HDPLAN_SYSFS_ROOT: d.live,
    HDPLAN_DOMAIN_DIRS: "",
    HDPLAN_HOOK_STATE_DIR: d.state,
    HDPLAN_HOOK_SYSLOG: "0",
    HDPLAN_HOOK_LOGFILE: "0",
    ...extra,
  };
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith("HDPLAN_")) delete process.env[k];
  Object.assign(process.env, saved);
});

const hook = (guest: string, stdin: string, env: Record<string, string>) =>
  hookInProcess([guest, "migrate", "begin", "-"], stdin, env);

describe("hook: SR-IOV vGPU VF, check path", () => {
  it("a VF already carrying the planned type is allowed as named, nothing written", async () => {
    const d = dest(1, { [vf(4)]: [1155, []] });
    const r = await hook("vm1", incoming("vm1", vf(4)), envFor(d));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/allowed: every device is available as named/);
    expect(currentOf(d.live, vf(4))).toBe("1155");
  });

  it("type 0 without HDPLAN_HOOK_CREATE=1: refused with the exact write, which (run) makes the next hook allow", async () => {
    const d = dest(1, { [vf(4)]: [0, [1153, 1155]] });
    const xml = incoming("vm1", vf(4));
    const r = await hook("vm1", xml, envFor(d));
    expect(r.code).toBe(1);
    const line = r.stderr.split("\n").find((l) => l.includes("vgpu-type-not-set"));
    expect(line).toMatch(/refused: pci0: vgpu-type-not-set: VF 0000:81:00\.4 has no vGPU type/);
    const m = /run '(echo (\d+) > \/sys\/bus\/pci\/devices\/([0-9a-f:.]+)\/nvidia\/current_vgpu_type)'/.exec(
      line ?? "",
    );
    expect(m?.[2]).toBe("1155");
    expect(m?.[3]).toBe(vf(4));
    expect(currentOf(d.live, vf(4))).toBe("0"); // the hook wrote nothing
    // the refused migration holds no reservation
    expect(readFileSync(join(d.state, "reservations.json"), "utf8")).not.toContain("vm1");
    // run the printed command against the fake sysfs root: the same hook now passes
    const run = spawnSync("sh", ["-c", m![1]!.replace(" /sys/", ` ${d.live}/sys/`)], { encoding: "utf8" });
    expect(run.status).toBe(0);
    const again = await hook("vm1", xml, envFor(d));
    expect(again.code).toBe(0);
  });

  it("a VF with another type (and nothing creatable) is refused: vgpu-type-not-creatable", async () => {
    const d = dest(1, { [vf(4)]: [1153, []] });
    const r = await hook("vm1", incoming("vm1", vf(4)), envFor(d));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused: pci0: vgpu-type-not-creatable: .*carries vGPU type 1153, not 1155/);
  });

  it("a VF in use by another domain is refused (pci-device-in-use), even with HDPLAN_HOOK_CREATE=1", async () => {
    const other = domainXml("other", "11111111-2222-3333-4444-555555555555", [
      { kind: "pci", addr: vf(4), managed: false },
    ]);
    const d = dest(1, { [vf(4)]: [1155, []] });
    const dirs = join(d.root, "qemu");
    mkdirSync(dirs);
    writeFileSync(join(dirs, "other.xml"), other);
    const r = await hook(
      "vm1",
      incoming("vm1", vf(4)),
      envFor(d, { HDPLAN_DOMAIN_DIRS: dirs, HDPLAN_HOOK_CREATE: "1" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused: pci0: pci-device-in-use: 0000:81:00\.4 is used by .*other/);
  });

  it("the named VF busy, another VF free with the type: rewritten to that VF (reuse over creation)", async () => {
    const other = domainXml("other", "11111111-2222-3333-4444-555555555555", [
      { kind: "pci", addr: vf(4), managed: false },
    ]);
    const d = dest(3, { [vf(4)]: [1155, []], [vf(5)]: [0, [1155]], [vf(6)]: [1155, []] });
    const dirs = join(d.root, "qemu");
    mkdirSync(dirs);
    writeFileSync(join(dirs, "other.xml"), other);
    const r = await hook("vm1", incoming("vm1", vf(4)), envFor(d, { HDPLAN_DOMAIN_DIRS: dirs }));
    expect(r.code).toBe(0);
    expect(hostPciAddress(readDomain(r.stdout, "out").devices[0]!)).toBe(vf(6));
    expect(currentOf(d.live, vf(5))).toBe("0");
  });
});

describe("hook: SR-IOV vGPU VF, create path (HDPLAN_HOOK_CREATE=1)", () => {
  it("writes the type under live sysfs, reads it back, allows, and reserves the VF", async () => {
    const d = dest(1, { [vf(4)]: [0, [1153, 1155]] });
    const r = await hook("vm1", incoming("vm1", vf(4)), envFor(d, { HDPLAN_HOOK_CREATE: "1" }));
    expect(r.code).toBe(0);
    expect(currentOf(d.live, vf(4))).toBe("1155");
    expect(r.stderr).toMatch(/note: pci0: wrote vGPU type 1155 to VF 0000:81:00\.4 .*read back 1155/);
    const res = JSON.parse(readFileSync(join(d.state, "reservations.json"), "utf8"));
    expect(res.entries.find((e: { guest: string }) => e.guest === "vm1").ids).toEqual([`pci:${vf(4)}`]);
    // a second guest for the same VF is refused: reserved by vm1
    const b = await hook("vm2", incoming("vm2", vf(4)), envFor(d, { HDPLAN_HOOK_CREATE: "1" }));
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/pci-device-in-use: .*reserved by the incoming migration of vm1/);
  });

  it("a write that does not take (the file reads back another id) is refused: vgpu-type-write-failed", () => {
    const d = dest(1, { [vf(4)]: [0, [1155]] });
    const cmd = `echo 1155 > /sys/bus/pci/devices/${vf(4)}/nvidia/current_vgpu_type`;
    const report = {
      assignments: [
        {
          device: "pci0",
          target: {
            kind: "vgpu-vf" as const,
            name: `pci_${vf(4).replace(/[:.]/g, "_")}`,
            vf: vf(4),
            driver: "nvidia",
            typeId: 1155,
            typeName: NAMES[1155]!,
            create: true,
            write: cmd,
          },
        },
      ],
    };
    const file = join(d.live, "sys/bus/pci/devices", vf(4), "nvidia/current_vgpu_type");
    // the driver refusing the id silently: the file keeps 0 (a real file write, no error)
    const ignored = applyVgpuTypes(report, { sysfsRoot: d.live }, true, () => {
      writeFileSync(file, "0\n");
      return null;
    });
    expect(ignored.notes).toEqual([]);
    expect(ignored.refusals).toEqual([
      `pci0: vgpu-type-write-failed: wrote 1155 to ${vf(4)}/nvidia/current_vgpu_type but it reads back 0`,
    ]);
    // the real writer: the type takes and reads back
    const ok = applyVgpuTypes(report, { sysfsRoot: d.live }, true);
    expect(ok.refusals).toEqual([]);
    expect(currentOf(d.live, vf(4))).toBe("1155");
    // the VF meanwhile carries another type: the writer's own re-check refuses
    writeFileSync(file, "1153\n");
    expect(applyVgpuTypes(report, { sysfsRoot: d.live }, true).refusals[0]).toMatch(
      /vgpu-type-write-failed: VF 0000:81:00\.4 already carries vGPU type 1153/,
    );
  });

  it("HDPLAN_HOOK_CREATE=1 without live sysfs (HDPLAN_SYSFS_ROOT empty) refuses with the write to run", async () => {
    const d = dest(1, { [vf(4)]: [0, [1155]] });
    // the snapshot (dump sys/ subset) says type 0 creatable; no live root to write
    sysfs(d.host, { [vf(4)]: [0, [1155]] });
    const r = await hook(
      "vm1",
      incoming("vm1", vf(4)),
      envFor(d, { HDPLAN_HOOK_CREATE: "1", HDPLAN_SYSFS_ROOT: "" }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /vgpu-type-write-failed: .*HDPLAN_SYSFS_ROOT is empty.*run 'echo 1155 > \/sys\/bus\/pci\/devices\/0000:81:00\.4\/nvidia\/current_vgpu_type'/,
    );
  });
});

describe("hook: two hooks race for the last creatable VF", () => {
  beforeAll(buildDist, 120_000);

  it("exactly one wins and writes the type; the other is refused", async () => {
    for (let round = 0; round < 3; round++) {
      const d = dest(1, { [vf(4)]: [0, [1155]] });
      const runs = ["vmA", "vmB"].map((g) =>
        collect(
          spawn(process.execPath, [BIN, "hook", g, "migrate", "begin", "-"], {
            cwd: ROOT,
            env: { ...process.env, ...envFor(d, { HDPLAN_HOOK_CREATE: "1" }) },
          }),
          incoming(g, vf(4)),
        ),
      );
      const rs = await Promise.all(runs);
      expect(rs.map((r) => r.code).sort()).toEqual([0, 1]);
      const loser = rs.find((r) => r.code === 1)!;
      expect(loser.stderr).toMatch(/pci-device-in-use: .*reserved by the incoming migration of vm[AB]/);
      expect(currentOf(d.live, vf(4))).toBe("1155");
    }
  }, 60_000);
});

function collect(p: ChildProcess, input: string): Promise<{ code: number | null; stderr: string }> {
  let stderr = "";
  p.stdout?.on("data", () => {});
  p.stderr?.on("data", (c) => {
    stderr += c;
  });
  p.stdin?.on("error", () => {});
  p.stdin?.end(input);
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, stderr })));
}
