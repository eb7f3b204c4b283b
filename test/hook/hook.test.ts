import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { setPlanMetadata } from "../../src/output/rewrite.js";
import { readDomain } from "../../src/xml/domain.js";
import { domainXml, gpu, mdevDev } from "../helpers/build.js";
import { BIN, ROOT, hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { hangBound } from "../helpers/bounds.js";
import { hookInProcess } from "../helpers/hook.js";
import buildDist from "../setup/build.js";
import { mdevUuidOf } from "../../src/model.js";

const GPU = "0000:3b:00.0";
const SRC = "c2177883-f1bb-47f0-914d-32a22e3a8804";
const FREE = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const DESC = {
  self: { device_api: "vfio-pci", device_type: "pci", device_id: "10de1eb8", mdev_type: "nvidia-558" },
  compatible: [],
};

function incoming(name = "vm1", uuid = SRC, n = 1): string {
  const uuids = [uuid, "dddddddd-0000-4000-8000-000000000001"].slice(0, n);
  const x = domainXml(
    name,
    "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
    uuids.map((u) => ({ kind: "mdev" as const, uuid: u })),
  );
  return setPlanMetadata(
    x,
    uuids.map((_, i) => ({
      id: `mdev${i}`,
      kind: "mdev" as const,
      guestAddress: `pci:0000:00:0${5 + i}.0`,
      mdevType: "nvidia-558",
      descriptor: DESC,
    })),
  );
}

/** A destination dump dir: one T4 with `avail` free nvidia-558 instances and optional existing mdevs. */
function dest(o: { avail: number; existing?: string[]; domains?: string[] }): {
  root: string;
  host: string;
  state: string;
} {
  const root = tempDir("hdplan-hook-");
  const host = writeDump(root, "dst", {
    devices: [
      gpu(GPU, o.avail),
      ...(o.existing ?? []).map((u) => mdevDev({ uuid: u, parentAddr: GPU, type: "nvidia-558" })),
    ],
    domains: o.domains,
  });
  return { root, host, state: join(root, "state") };
}

function envFor(
  d: { host: string; state: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    HDPLAN_HOOK_HOST: d.host,
    HDPLAN_SYSFS_ROOT: "",
    HDPLAN_DOMAIN_DIRS: "",
    HDPLAN_HOOK_STATE_DIR: d.state,
    ...extra,
  };
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith("HDPLAN_")) delete process.env[k];
  Object.assign(process.env, saved);
});

const hook = hookInProcess;

describe("hook (in process)", () => {
  it("other operations exit 0 silently", async () => {
    const d = dest({ avail: 0 });
    for (const argv of [
      ["vm1", "prepare", "begin", "-"],
      ["vm1", "start", "begin", "-"],
      ["vm1", "migrate", "end", "-"],
      ["vm1", "release", "end", "-"],
    ]) {
      expect(await hook(argv, "garbage", envFor(d))).toEqual({ code: 0, stdout: "", stderr: "" });
    }
  });

  it("rewrites the mdev uuid to the destination's free mdev", async () => {
    const d = dest({ avail: 0, existing: [FREE] });
    const r = await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d));
    expect(r.code).toBe(0);
    const out = readDomain(r.stdout, "out");
    expect(mdevUuidOf(out.devices[0]!)).toBe(FREE);
    expect(r.stdout.replace(FREE, SRC)).toBe(`${incoming()}\n`);
    expect(r.stderr).toMatch(/hdplan-hook: vm1: allowed/);
  });

  it("prints nothing when nothing changes (source uuid free, capacity left)", async () => {
    const d = dest({ avail: 2 });
    const r = await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/must exist on pci_0000_3b_00_0.*mdevctl start -u c2177883/);
  });

  it("keeps the named mdev when it exists here and is free", async () => {
    const d = dest({ avail: 0, existing: [FREE, SRC] });
    const r = await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d));
    expect(r).toMatchObject({ code: 0, stdout: "" });
  });

  it("refuses with one line per unsatisfiable device", async () => {
    const d = dest({ avail: 0 });
    const r = await hook(["vm1", "migrate", "begin", "-"], incoming("vm1", SRC, 2), envFor(d));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^hdplan-hook: vm1: refused: mdev0: mdev-no-capacity: /);
    expect(lines[1]).toMatch(/^hdplan-hook: vm1: refused: mdev1: /);
  });

  it("refuses when the type is missing", async () => {
    const d = dest({ avail: 2 });
    const x = incoming().replaceAll("nvidia-558", "nvidia-999");
    const r = await hook(["vm1", "migrate", "begin", "-"], x, envFor(d));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/mdev-type-missing/);
  });

  it("a domain in HDPLAN_DOMAIN_DIRS holds its mdev; the guest's own file is skipped", async () => {
    const d = dest({ avail: 0, existing: [FREE] });
    const dirs = join(d.root, "qemu");
    mkdirSync(dirs);
    writeFileSync(
      join(dirs, "vm1.xml"),
      domainXml("vm1", "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f", [{ kind: "mdev", uuid: FREE }]),
    );
    expect(
      (await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d, { HDPLAN_DOMAIN_DIRS: dirs })))
        .code,
    ).toBe(0);
    writeFileSync(
      join(dirs, "other.xml"),
      `<domstatus state='running' pid='1'>${domainXml("other", "7e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f", [{ kind: "mdev", uuid: FREE }])}</domstatus>`,
    );
    const r = await hook(
      ["vm1", "migrate", "begin", "-"],
      incoming(),
      envFor(d, { HDPLAN_DOMAIN_DIRS: dirs }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/domain other/);
  });

  it("live sysfs wins over the snapshot (available_instances)", async () => {
    const d = dest({ avail: 2 });
    const sys = join(d.root, "sysroot");
    const t = join(sys, "sys/class/mdev_bus", GPU, "mdev_supported_types/nvidia-558");
    mkdirSync(t, { recursive: true });
    writeFileSync(join(t, "available_instances"), "0\n");
    writeFileSync(join(t, "device_api"), "vfio-pci\n");
    const r = await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d, { HDPLAN_SYSFS_ROOT: sys }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no free instances/);
  });

  it("two migrations in a row do not get the same mdev (reservation)", async () => {
    const d = dest({ avail: 0, existing: [FREE] });
    const a = await hook(["vm1", "migrate", "begin", "-"], incoming("vm1"), envFor(d));
    expect(a.code).toBe(0);
    const b = await hook(
      ["vm2", "migrate", "begin", "-"],
      incoming("vm2", "bbbbbbbb-0000-4000-8000-000000000002"),
      envFor(d),
    );
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/reserved by the incoming migration of vm1/);
    // a retry of vm1 replaces its own reservation
    expect((await hook(["vm1", "migrate", "begin", "-"], incoming("vm1"), envFor(d))).code).toBe(0);
    // expired reservations are ignored
    const c = await hook(
      ["vm3", "migrate", "begin", "-"],
      incoming("vm3"),
      envFor(d, { HDPLAN_HOOK_RESERVATION_TTL: "0.001" }),
    );
    expect(c.code).toBe(1); // vm1's entry (TTL 300 s) still holds
  });

  it("two pool instances: two hooks each get one, the third is refused", async () => {
    const d = dest({ avail: 2 });
    const u = (i: number) => `bbbbbbbb-0000-4000-8000-00000000000${i}`;
    expect((await hook(["a", "migrate", "begin", "-"], incoming("a", u(1)), envFor(d))).code).toBe(0);
    expect((await hook(["b", "migrate", "begin", "-"], incoming("b", u(2)), envFor(d))).code).toBe(0);
    expect((await hook(["c", "migrate", "begin", "-"], incoming("c", u(3)), envFor(d))).code).toBe(1);
  });

  it("unreadable input fails open, or closed with HDPLAN_HOOK_STRICT=1", async () => {
    const d = dest({ avail: 2 });
    for (const [stdin, env] of [
      ["<domain", envFor(d)],
      ["", envFor(d)],
      [incoming(), envFor(d, { HDPLAN_HOOK_HOST: join(d.root, "missing.json") })],
      [incoming(), envFor(d, { HDPLAN_HOOK_HOST: "qemu:///system" })],
    ] as const) {
      const r = await hook(["vm1", "migrate", "begin", "-"], stdin, env);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/warning: allowing the migration unchecked/);
      const s = await hook(["vm1", "migrate", "begin", "-"], stdin, { ...env, HDPLAN_HOOK_STRICT: "1" });
      expect(s.code).toBe(1);
      expect(s.stderr).toMatch(/refused \(HDPLAN_HOOK_STRICT=1\)/);
    }
  });

  it("times out (lock held by a live process) and fails open, or closed under STRICT", async () => {
    const d = dest({ avail: 2 });
    mkdirSync(d.state, { recursive: true });
    writeFileSync(
      join(d.state, "hook.lock"),
      JSON.stringify({ pid: process.pid, nonce: "x", at: Date.now() }),
    );
    const t0 = Date.now();
    const r = await hook(
      ["vm1", "migrate", "begin", "-"],
      incoming(),
      envFor(d, { HDPLAN_HOOK_TIMEOUT: "0.5" }),
    );
    expect(Date.now() - t0).toBeLessThan(hangBound(3000));
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toMatch(/timed out/);
    const s = await hook(
      ["vm1", "migrate", "begin", "-"],
      incoming(),
      envFor(d, { HDPLAN_HOOK_TIMEOUT: "0.5", HDPLAN_HOOK_STRICT: "1" }),
    );
    expect(s.code).toBe(1);
    // a stale lock (dead holder) is broken
    writeFileSync(
      join(d.state, "hook.lock"),
      JSON.stringify({ pid: 2 ** 22 + 12345, nonce: "y", at: Date.now() }),
    );
    expect((await hook(["vm1", "migrate", "begin", "-"], incoming(), envFor(d))).code).toBe(0);
  });
});

describe("hook (as libvirt runs it)", () => {
  beforeAll(() => {
    if (!existsSync(BIN)) buildDist(); // globalSetup normally built it
  }, 120_000);

  it("migrate begin through the CLI: stdin in, XML out, exit code", () => {
    const d = dest({ avail: 0, existing: [FREE] });
    const r = hdplan(["hook", "vm1", "migrate", "begin", "-"], { input: incoming(), env: envFor(d) });
    expect(r.code).toBe(0);
    expect(mdevUuidOf(readDomain(r.stdout, "out").devices[0]!)).toBe(FREE);
    const n = hdplan(["hook", "vm1", "started", "begin", "-"], { input: "", env: envFor(d) });
    expect(n).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("times out when stdin never closes", async () => {
    const d = dest({ avail: 2 });
    const p = spawn(process.execPath, [BIN, "hook", "vm1", "migrate", "begin", "-"], {
      cwd: ROOT,
      env: { ...process.env, ...envFor(d, { HDPLAN_HOOK_TIMEOUT: "0.5" }) },
    });
    const r = await collect(p);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/timed out/);
  });

  it("never loads koffi or libvirt", async () => {
    // The loader runs on its own thread; a stderr line from it can be lost
    // when the process exits, so it records every module it resolves in a
    // file with a synchronous write before answering (a deterministic signal).
    const dir = tempDir("hdplan-loader-");
    const seen = join(dir, "seen.log");
    writeFileSync(
      join(dir, "loader.mjs"),
      `import { appendFileSync } from "node:fs";
const LOG = process.env.HDPLAN_TEST_LOADER_LOG;
export async function resolve(spec, ctx, next) {
  const bad = spec === "koffi" || /libvirt\\/|targets\\/live\\.js/.test(spec);
  appendFileSync(LOG, (bad ? "FORBIDDEN " : "ok ") + spec + "\\n");
  if (bad) throw new Error("forbidden " + spec);
  return next(spec, ctx);
}\n`,
    );
    writeFileSync(
      join(dir, "register.mjs"),
      `import { register } from "node:module";\nregister("./loader.mjs", import.meta.url);\n`,
    );
    const d = dest({ avail: 0, existing: [FREE] });
    const run = (args: string[], input: string, log: string) =>
      collect(
        spawn(process.execPath, ["--import", join(dir, "register.mjs"), ...args], {
          cwd: ROOT,
          env: { ...process.env, ...envFor(d), HDPLAN_TEST_LOADER_LOG: log },
        }),
        input,
      );
    const readLog = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "");
    const r = await run([BIN, "hook", "vm1", "migrate", "begin", "-"], incoming(), seen);
    expect(r.code).toBe(0);
    expect(mdevUuidOf(readDomain(r.stdout, "out").devices[0]!)).toBe(FREE);
    const log = readLog(seen);
    // The loader saw the bin (one bundle, scripts/bundle.mjs: libvirt's code
    // is inside it, evaluated only when reached) and never koffi, the only
    // way to libvirt.so.0.
    expect(log).toMatch(/^ok .*dist\/cli\/main\.js$/m);
    expect(log).not.toMatch(/FORBIDDEN/);
    // control: the same loader catches the same bin reaching libvirt (a live URI)
    const control = join(dir, "control.log");
    await run([BIN, "inventory", "--connect", "test:///default"], "", control);
    expect(readLog(control)).toMatch(/^FORBIDDEN koffi$/m);
    // and a load of the libvirt module itself
    const control2 = join(dir, "control2.log");
    await run(
      ["-e", `import("${ROOT}/dist/libvirt/ffi.js").then(m => m.loadLibvirt()).catch(() => {})`],
      "",
      control2,
    );
    expect(readLog(control2)).toMatch(/^FORBIDDEN .*libvirt\/ffi\.js$/m);
  });

  it("two concurrent hooks for one free mdev: exactly one gets it", async () => {
    for (let round = 0; round < 3; round++) {
      const d = dest({ avail: 0, existing: [FREE] });
      const runs = ["vmA", "vmB"].map((g, i) =>
        collect(
          spawn(process.execPath, [BIN, "hook", g, "migrate", "begin", "-"], {
            cwd: ROOT,
            env: { ...process.env, ...envFor(d) },
          }),
          incoming(g, `bbbbbbbb-0000-4000-8000-00000000000${i}`),
        ),
      );
      const codes = (await Promise.all(runs)).map((r) => r.code).sort();
      expect(codes).toEqual([0, 1]);
    }
  });

  it("killed at random points: stdout is empty or one complete XML document", async () => {
    const d = dest({ avail: 0, existing: [FREE] });
    const full = hdplan(["hook", "vm1", "migrate", "begin", "-"], {
      input: incoming(),
      env: envFor(d),
    }).stdout;
    expect(full).toContain(FREE);
    let complete = 0;
    for (let i = 0; i < 24; i++) {
      const p = spawn(process.execPath, [BIN, "hook", "vm1", "migrate", "begin", "-"], {
        cwd: ROOT,
        env: { ...process.env, ...envFor(d) },
      });
      const done = collect(p, incoming());
      setTimeout(() => p.kill("SIGKILL"), Math.floor(Math.random() * 400));
      const r = await done;
      if (r.stdout !== "") {
        expect(r.stdout).toBe(full);
        readDomain(r.stdout, "out");
        complete++;
      }
    }
    expect(complete).toBeLessThanOrEqual(24);
  }, 120_000);
});

function collect(
  p: ChildProcess,
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  p.stdout?.on("data", (c) => {
    stdout += c;
  });
  p.stderr?.on("data", (c) => {
    stderr += c;
  });
  if (input !== undefined) {
    p.stdin?.on("error", () => {});
    p.stdin?.end(input);
  }
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, stdout, stderr })));
}
