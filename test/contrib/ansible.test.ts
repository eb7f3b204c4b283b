/**
 * contrib/ansible/hdplan-plan.yml with Debian's ansible-core, against
 * localhost (every inventory host has ansible_connection=local) and libvirt's
 * test driver (one test:/// host file per inventory host). Runs whenever
 * ansible-playbook is installed, and always under CI (.ci/run installs it).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { nvidiaVersionFile, writeSys } from "../../scripts/fixtures/sys.mjs";
import { MANAGER_VERSION } from "../helpers/build.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { libvirtAvailable, writeT4Hosts } from "../helpers/testdriver.js";

const HAVE = spawnSync("sh", ["-c", "command -v ansible-playbook"]).status === 0;
const RUN = (HAVE || !!process.env.CI) && libvirtAvailable();
const PLAYBOOK = join(ROOT, "contrib/ansible/hdplan-plan.yml");
const VM = { name: "vm1", uuid: "a1b2c3d4-0000-4000-8000-000000000009" };

let dir = "";
let inventory = "";

beforeAll(() => {
  if (!RUN) return;
  dir = tempDir("hdplan-ansible-");
  const hosts = writeT4Hosts(dir, { src: { available: 7, vm: VM }, full: 8, nocap: 0 });
  // Each host's /sys (a fake tree with the NVIDIA vGPU manager's module
  // version), as inventory on a real host would read it.
  const sysArgs = (k: string) => {
    const root = writeSys(join(dir, `${k}-root`), [nvidiaVersionFile(MANAGER_VERSION)]);
    return `hdplan_inventory_args='["--sysfs-root", "${root}"]'`;
  };
  const py =
    spawnSync("sh", ["-c", "command -v python3"], { encoding: "utf8" }).stdout.trim() || "/usr/bin/python3";
  inventory = join(dir, "inventory.ini");
  writeFileSync(
    inventory,
    [
      "[all_hv]",
      ...Object.entries(hosts).map(([k, uri]) => `${k} hdplan_connect=${uri} ${sysArgs(k)}`),
      "[no_full]",
      `src hdplan_connect=${hosts.src} ${sysArgs("src")}`,
      `nocap hdplan_connect=${hosts.nocap} ${sysArgs("nocap")}`,
      "[all:vars]",
      "ansible_connection=local",
      `ansible_python_interpreter=${py}`,
      "",
    ].join("\n"),
  );
});

function play(group: string, extra: Record<string, unknown>) {
  const snaps = join(tempDir("hdplan-snaps-"), "snapshots");
  const vars = {
    hdplan_group: group,
    hdplan_source: "src",
    hdplan_cmd: [process.execPath, BIN],
    hdplan_snapshot_dir: snaps,
    ...extra,
  };
  const r = spawnSync("ansible-playbook", ["-i", inventory, PLAYBOOK, "-e", JSON.stringify(vars)], {
    cwd: dir,
    encoding: "utf8",
    timeout: 240_000,
    env: {
      ...process.env,
      ANSIBLE_NOCOLOR: "1",
      ANSIBLE_HOME: join(dir, ".ansible"),
      ANSIBLE_LOCAL_TEMP: join(dir, ".ansible/tmp"),
      ANSIBLE_REMOTE_TEMP: join(dir, ".ansible/rtmp"),
      ANSIBLE_RETRY_FILES_ENABLED: "0",
      ANSIBLE_LOCALHOST_WARNING: "0",
      ANSIBLE_INVENTORY_UNPARSED_WARNING: "0",
    },
  });
  return { ...r, snaps, out: `${r.stdout}\n${r.stderr}` };
}

describe.runIf(RUN)("contrib/ansible/hdplan-plan.yml (ansible-core, localhost, test driver)", () => {
  it("plan: inventories every host, fetches the snapshots, and reports the best host", () => {
    const r = play("all_hv", { hdplan_domain: "vm1", hdplan_write_dest_xml: join(dir, "out") });
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain("hdplan: best host for vm1: full");
    expect(readdirSync(r.snaps).sort()).toEqual(["full.json", "hosts.txt", "nocap.json", "src.json"]);
    expect(JSON.parse(readFileSync(join(r.snaps, "full.json"), "utf8")).kind).toBe("hdplan-host-snapshot");
    expect(readFileSync(join(r.snaps, "hosts.txt"), "utf8")).not.toContain("src.json");
    expect(existsSync(join(dir, "out", "full.xml"))).toBe(true);
    expect(existsSync(join(dir, "out", "plan.json"))).toBe(true);
  }, 300_000);

  it("plan: no host is full, so the play fails with hdplan's reasons", () => {
    const r = play("no_full", { hdplan_domain: "vm1" });
    expect(r.status).not.toBe(0);
    expect(r.out).toContain("hdplan: no host can take every assigned device of vm1:");
    expect(r.out).toMatch(/nocap \((partial|none)\): mdev0: mdev-no-capacity: /);
  }, 300_000);

  it("evacuate: places the source's VMs; with no full host it fails with the reasons", () => {
    const ok = play("all_hv", { hdplan_action: "evacuate" });
    expect(ok.status, ok.out).toBe(0);
    expect(ok.out).toContain("vm1 -> full");
    const no = play("no_full", { hdplan_action: "evacuate" });
    expect(no.status).not.toBe(0);
    expect(no.out).toContain("hdplan: 1 domain(s) of src have no full host:");
    expect(no.out).toMatch(/vm1: .*mdev-no-capacity/);
  }, 300_000);
});
