import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

const SCRIPT = join(ROOT, "scripts/install-hook.sh");

describe("scripts/install-hook.sh", () => {
  it("installs the wrapper, state dir and timer under --prefix", () => {
    const root = tempDir("hdplan-install-");
    const r = spawnSync("sh", [SCRIPT, "--prefix", root, "--node", process.execPath], { encoding: "utf8" });
    if (!existsSync(join(ROOT, "dist/cli/main.js"))) {
      expect(r.status).toBe(2);
      return;
    }
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/restart libvirtd \(or virtqemud\)/);
    const hook = join(root, "etc/libvirt/hooks/qemu.d/hdplan");
    expect(statSync(hook).mode & 0o111).not.toBe(0);
    expect(statSync(join(root, "var/lib/hostdev-planner")).isDirectory()).toBe(true);
    expect(readFileSync(join(root, "etc/systemd/system/hdplan-inventory.service"), "utf8")).toContain(
      "inventory --connect qemu:///system -o /var/lib/hostdev-planner/host.json",
    );
    expect(readFileSync(join(root, "etc/systemd/system/hdplan-inventory.timer"), "utf8")).toContain(
      "OnUnitActiveSec=1min",
    );
    const run = spawnSync(hook, ["vm1", "start", "begin", "-"], { encoding: "utf8", input: "" });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, "", ""]);
  });
  it("--dry-run changes nothing", () => {
    const r = spawnSync("sh", [SCRIPT, "--dry-run", "--prefix", join(tempDir(), "x")], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("+ write");
    expect(existsSync(join(r.stdout, "x"))).toBe(false);
  });
});
