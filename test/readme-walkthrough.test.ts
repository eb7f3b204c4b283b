/**
 * The README's walkthrough, run as printed: its host names become libvirt
 * test-driver hosts (qemu+ssh://root@HOST/system -> test:///DIR/HOST.xml) and
 * `hdplan` on PATH is this build. Steps that need root (the hook installer)
 * are covered by test/hook/; `virsh migrate` is parsed against virsh's own
 * option list (the test driver cannot migrate).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nvidiaVersionFile, writeSys } from "../scripts/fixtures/sys.mjs";
import { MANAGER_VERSION } from "./helpers/build.js";
import { BIN, ROOT } from "./helpers/cli.js";
import { tempDir } from "./helpers/dump.js";
import { shellWords } from "./helpers/shell.js";
import { libvirtAvailable, writeT4Hosts } from "./helpers/testdriver.js";

const RUN = libvirtAvailable();
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
// the SR-IOV vGPU subsection has its own test (test/readme-sriov.test.ts)
const section = readme.slice(
  readme.indexOf("## Walkthrough on your own hosts"),
  readme.indexOf("### SR-IOV vGPU"),
);
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe.runIf(RUN)("README walkthrough on the libvirt test driver", () => {
  it("every step runs as printed", () => {
    const dir = tempDir("hdplan-walk-");
    const td = join(dir, "td");
    const vm = { name: "vm1", uuid: "a1b2c3d4-0000-4000-8000-00000000000a" };
    writeT4Hosts(td, { host1: { available: 7, vm }, host2: 8, host3: 0 });
    const bin = join(dir, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "hdplan"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, "hdplan"), 0o755);
    // "ssh root@HOST CMD" runs CMD on that host: its libvirt is the test-driver
    // file, its /sys a fake tree with the NVIDIA vGPU manager's module version.
    for (const h of ["host1", "host2", "host3"])
      writeSys(join(td, `${h}-root`), [nvidiaVersionFile(MANAGER_VERSION)]);
    writeFileSync(
      join(bin, "ssh"),
      [
        "#!/bin/sh",
        "host=${1#*@}; shift",
        `cmd=$(printf '%s ' "$@" | sed "s#qemu:///system#test://${td}/$host.xml --sysfs-root ${td}/$host-root#")`,
        'exec sh -c "$cmd"',
        "",
      ].join("\n"),
    );
    chmodSync(join(bin, "ssh"), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" };
    const live = (s: string) => s.replace(/qemu\+ssh:\/\/root@(\$h|host\d)\/system/g, `test://${td}/$1.xml`);
    const sh = (script: string) => spawnSync("sh", ["-c", live(script)], { cwd: dir, env, encoding: "utf8" });

    const [inventory, hostsFile, plan, write, prepare, migrate, hook] = blocks;
    expect(blocks).toHaveLength(7);
    expect(hook).toMatch(/install-hook\.sh --descriptors/);

    let r = sh(inventory!);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    for (const h of ["host1", "host2", "host3"])
      expect(existsSync(join(dir, "snapshots", `${h}.json`))).toBe(true);

    r = sh(hostsFile!);
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, "hosts.txt"), "utf8")).toBe("snapshots/host2.json\nsnapshots/host3.json\n");

    r = sh(plan!);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Best: host2/);
    expect(r.stdout).toMatch(/mdevs to create first/);

    r = sh(write!);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(dir, "out", "plan.json"))).toBe(true);
    expect(existsSync(join(dir, "out", "host2.xml"))).toBe(true);
    expect(existsSync(join(dir, "out", "host2.persistent.xml"))).toBe(true);
    const printed = r.stderr.split("\n").find((l) => l.trim().startsWith("virsh migrate"))!;

    // prepare reaches libvirt, whose test driver cannot define node devices
    r = sh(prepare!);
    expect(r.stderr).toMatch(/creating mdev .* failed: .*virNodeDeviceDefineXML/);
    expect(r.status).toBe(3);

    // the README's migrate line is the printed one (but for the destination's name)
    const want = shellWords(migrate!.trim());
    const got = shellWords(printed.trim());
    expect(got.slice(0, -1)).toEqual(want.slice(0, -1));
    expect(got.at(-1)).toMatch(/^qemu\+ssh:\/\/[^/]+\/system$/);
    const opts = spawnSync("virsh", ["help", "migrate"], { encoding: "utf8" }).stdout;
    for (const w of want.filter((x) => x.startsWith("--"))) expect(opts).toContain(w);
  });
});
