/**
 * Read-only guarantee (issue 7).
 * - Statically: only src/libvirt/ffi.ts binds native symbols, and the writing
 *   calls (WRITE_PROTOTYPES) are bound only inside loadWritable(), reachable
 *   only from `hdplan prepare`.
 * - Dynamically: the CLI runs under a preload that logs every symbol koffi
 *   binds; plain plan, check, evacuate and inventory bind only READONLY_SYMBOLS,
 *   ERROR_SYMBOLS and libc free/_exit; the hook binds nothing.
 * - In process: those commands open connections read-only (openCounts()).
 *
 * Also covered elsewhere (and counted in the README): test/libvirt/readonly.test.ts
 * (symbol lists have no writing verb; loadLibvirt binds no write call; a write
 * through a read-only connection is refused by libvirt) and test/hook/hook.test.ts
 * ("never loads koffi or libvirt", kill safety, timeouts).
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Io } from "../../src/commands/common.js";
import { runEvacuate } from "../../src/commands/evacuate.js";
import { runInventory } from "../../src/commands/inventory.js";
import { runPlan } from "../../src/commands/plan.js";
import { ERROR_SYMBOLS, openCounts, READONLY_SYMBOLS, WRITE_SYMBOLS } from "../../src/libvirt/ffi.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { libvirtAvailable } from "../helpers/testdriver.js";
import { vmXml, writeTestDriverFleet } from "./util.js";

const RUN = libvirtAvailable();

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("static: where native symbols are bound", () => {
  const files = walk(join(ROOT, "src")).map((p) => ({
    rel: relative(ROOT, p),
    text: readFileSync(p, "utf8"),
  }));

  it("only src/libvirt/ffi.ts loads libraries or binds symbols", () => {
    const binders = files.filter((f) => /koffi\.load\(|\.func\(|from "koffi"|import\("koffi"\)/.test(f.text));
    expect(binders.map((f) => f.rel)).toEqual(["src/libvirt/ffi.ts"]);
  });

  it("write prototypes are bound only inside loadWritable()", () => {
    const ffi = files.find((f) => f.rel === "src/libvirt/ffi.ts")!.text;
    const start = ffi.indexOf("export async function loadWritable(");
    expect(start).toBeGreaterThan(0);
    const body = ffi.slice(start);
    // Uses outside the declaration: only in loadWritable's body.
    const uses = [...ffi.matchAll(/WRITE_PROTOTYPES/g)].map((m) => m.index!);
    const decl = ffi.indexOf("export const WRITE_PROTOTYPES");
    const allowed = (i: number) =>
      i === decl + "export const ".length ||
      i >= start ||
      /keyof typeof WRITE_PROTOTYPES|Object\.keys\(WRITE_PROTOTYPES\)/.test(ffi.slice(i - 20, i + 20));
    expect(uses.filter((i) => !allowed(i))).toEqual([]);
    expect(body).toMatch(/for \(const \[name, proto\] of Object\.entries\(WRITE_PROTOTYPES\)\)/);
    // The normal loader binds READONLY + ERROR prototypes only.
    const doLoad = ffi.slice(ffi.indexOf("async function doLoad("), start);
    expect(doLoad).toMatch(/Object\.entries\(\{ \.\.\.READONLY_PROTOTYPES, \.\.\.ERROR_PROTOTYPES \}\)/);
    expect(doLoad).not.toMatch(/WRITE_PROTOTYPES/);
    for (const m of doLoad.matchAll(/libc\.func\("([^"]+)"\)/g)) expect(m[1]).toMatch(/ (free|_exit)\(/);
  });

  it("the write path is reachable only from `hdplan prepare`", () => {
    const users = (re: RegExp) =>
      files
        .filter((f) => re.test(f.text))
        .map((f) => f.rel)
        .sort();
    expect(users(/\bloadWritable\b/)).toEqual([
      "src/libvirt/client.ts",
      "src/libvirt/ffi.ts",
      "src/libvirt/write.ts",
    ]);
    expect(users(/\bopenReadWrite\b/)).toEqual([
      "src/libvirt/client.ts",
      "src/libvirt/write.ts",
      "src/targets/live.ts",
    ]);
    expect(users(/libvirt\/write\.js/)).toEqual(["src/commands/prepare.ts"]);
    // live.ts offers readWrite as an opt-in that no caller sets.
    expect(users(/readWrite:\s*true/)).toEqual([]);
  });
});

describe.skipIf(!RUN)("dynamic: symbols bound by the CLI (preload log)", () => {
  let dir = "";
  let td: ReturnType<typeof writeTestDriverFleet>;
  let vm = "";
  let preload = "";
  beforeAll(() => {
    dir = tempDir("hdplan-ro-");
    td = writeTestDriverFleet(join(dir, "td"));
    vm = join(dir, "vm.xml");
    writeFileSync(vm, vmXml("kvm", false));
    preload = join(dir, "bindlog.mjs");
    writeFileSync(
      preload,
      `import { appendFileSync } from "node:fs";
const mod = await import(${JSON.stringify(join(ROOT, "node_modules/koffi/index.js"))});
const koffi = mod.default ?? mod;
const log = process.env.HDPLAN_BIND_LOG;
const origLoad = koffi.load;
koffi.load = function (...a) {
  const lib = origLoad.apply(this, a);
  const libName = String(a[0]);
  appendFileSync(log, process.pid + "\\t" + libName + "\\t(load)\\n");
  return new Proxy(lib, {
    get(t, p) {
      const v = Reflect.get(t, p, t);
      if (typeof v !== "function") return v;
      if (p !== "func") return v.bind(t);
      return (...args) => {
        const first = String(args[0]);
        const sym = first.includes("(") ? (/([A-Za-z_]\\w*)\\s*\\(/.exec(first)?.[1] ?? first) : first;
        appendFileSync(log, process.pid + "\\t" + libName + "\\t" + sym + "\\n");
        return v.apply(t, args);
      };
    },
  });
};
`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[], name: string, input = "", env: Record<string, string> = {}) {
    const log = join(dir, `${name}.log`);
    return new Promise<{ code: number | null; bound: string[] }>((resolve) => {
      const p = spawn(process.execPath, ["--import", preload, BIN, ...args], {
        cwd: ROOT,
        env: { ...process.env, HDPLAN_BIND_LOG: log, ...env },
      });
      p.stdout.resume();
      p.stderr.resume();
      p.stdin.on("error", () => {});
      p.stdin.end(input);
      p.on("close", (code) => {
        const lines = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [];
        resolve({ code, bound: lines.map((l) => l.split("\t").slice(1).join(" ")) });
      });
    });
  }

  const ALLOWED = new Set([
    "libvirt.so.0 (load)",
    "libc.so.6 (load)",
    "libc.so.6 free",
    "libc.so.6 _exit",
    ...[...READONLY_SYMBOLS, ...ERROR_SYMBOLS].map((s) => `libvirt.so.0 ${s}`),
  ]);

  it("plan, check, evacuate, inventory bind only read-only calls", async () => {
    const runs = await Promise.all([
      // --assume-versions: the test driver has no sysfs, so the vGPU manager version is unknown
      run(
        [
          "plan",
          "--assume-versions",
          "--domain",
          vm,
          "--source",
          td.src,
          "--host",
          td.full,
          "--host",
          td.nocap,
        ],
        "plan",
      ),
      run(
        ["plan", "--assume-versions", "--domain", "vm1", "--source", td.src, "--host", td.full],
        "plan-by-name",
      ),
      run(["check", "--assume-versions", "--domain", vm, "--source", td.src, "--host", td.full], "check"),
      run(
        ["evacuate", "--assume-versions", "--source", td.src, "--host", td.full, "--host", td.small],
        "evacuate",
      ),
      run(["inventory", "--connect", td.full], "inventory"),
    ]);
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.bound).toContain("libvirt.so.0 virConnectOpenReadOnly");
      expect(r.bound.filter((b) => !ALLOWED.has(b))).toEqual([]);
      for (const w of WRITE_SYMBOLS) expect(r.bound).not.toContain(`libvirt.so.0 ${w}`);
    }
  });

  it("control: loadWritable() (the prepare path) does show up in the log", async () => {
    const log = join(dir, "control.log");
    const code = await new Promise<number | null>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          "--import",
          preload,
          "-e",
          `import(${JSON.stringify(join(ROOT, "dist/libvirt/ffi.js"))}).then((m) => m.loadWritable())`,
        ],
        { cwd: ROOT, env: { ...process.env, HDPLAN_BIND_LOG: log } },
      );
      p.on("close", resolve);
    });
    expect(code).toBe(0);
    expect(readFileSync(log, "utf8")).toContain("virNodeDeviceCreateXML");
  });

  it("the hook binds no symbol and loads no library", async () => {
    const snap = join(dir, "snap.json");
    const inv = await run(["inventory", "--connect", td.full, "-o", snap], "inv-for-hook");
    expect(inv.code).toBe(0);
    const r = await run(["hook", "vm1", "migrate", "begin", "-"], "hook", vmXml("kvm", false), {
      HDPLAN_HOOK_HOST: snap,
      HDPLAN_SYSFS_ROOT: "",
      HDPLAN_DOMAIN_DIRS: "",
      HDPLAN_HOOK_STATE_DIR: join(dir, "state"),
    });
    expect([0, 1]).toContain(r.code);
    expect(r.bound).toEqual([]);
  });
});

describe.skipIf(!RUN)("in process: connections are opened read-only", () => {
  let dir = "";
  let td: ReturnType<typeof writeTestDriverFleet>;
  let vm = "";
  const io: Io = { stdout: () => {}, stderr: () => {}, stdin: () => "", isTTY: false, color: false };
  beforeAll(() => {
    dir = tempDir("hdplan-ro2-");
    td = writeTestDriverFleet(join(dir, "td"));
    vm = join(dir, "vm.xml");
    writeFileSync(vm, vmXml("kvm", false));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    // assumeVersions: the test driver has no sysfs, so the vGPU manager version is unknown
    [
      "plan",
      () =>
        runPlan({ domain: vm, source: td.src, host: [td.full, td.nocap], assumeVersions: true }, io, "plan"),
      3,
    ],
    [
      "plan --domain NAME",
      () => runPlan({ domain: "vm1", source: td.src, host: [td.full], assumeVersions: true }, io, "plan"),
      3,
    ],
    [
      "check",
      () => runPlan({ domain: vm, source: td.src, host: [td.full], assumeVersions: true }, io, "check"),
      2,
    ],
    [
      "evacuate",
      () => runEvacuate({ source: td.src, host: [td.full, td.small], assumeVersions: true }, io),
      3,
    ],
    ["inventory", () => runInventory({ connect: td.full, timeoutMs: 10_000 }).then((r) => r.exitCode), 1],
  ] as const)("%s", async (_name, f, opens) => {
    const before = openCounts();
    expect(await f()).toBe(0);
    const after = openCounts();
    expect(after.readWrite).toBe(before.readWrite);
    expect(after.readOnly - before.readOnly).toBeGreaterThanOrEqual(opens);
  });
});
