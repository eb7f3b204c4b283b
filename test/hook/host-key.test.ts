/**
 * The hook uses the descriptor folder and host key the installer configured
 * (scripts/install-hook.sh --descriptors DIR --host-key KEY), so it selects
 * DIR/<key>/ files as `plan` does for that host — not by this machine's hostname.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { hookHostKey } from "../../src/hook/state.js";
import { setPlanMetadata } from "../../src/output/rewrite.js";
import { domainXml, gpu } from "../helpers/build.js";
import { ROOT } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";

const GPU = "0000:3b:00.0";
const SRC = "c2177883-f1bb-47f0-914d-32a22e3a8804";
const DESC = {
  self: { device_api: "vfio-pci", device_type: "pci", device_id: "10de1eb8", mdev_type: "nvidia-558" },
  compatible: [],
};
const incoming = setPlanMetadata(
  domainXml("vm1", "6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f", [{ kind: "mdev", uuid: SRC }]),
  [{ id: "mdev0", kind: "mdev", guestAddress: "pci:0000:00:05.0", mdevType: "nvidia-558", descriptor: DESC }],
);

let root = "";
let host = "";
let descriptors = "";

beforeAll(() => {
  root = tempDir("hdplan-hostkey-");
  host = writeDump(root, "host.json-like-dump", { devices: [gpu(GPU, 4)] });
  descriptors = join(root, "descriptors");
  // only for host "host2": the destination requires a field the source lacks
  mkdirSync(join(descriptors, "host2"), { recursive: true });
  writeFileSync(join(descriptors, "host2", "strict.conf"), "mdev_type=nvidia-558\nlicensed_feature=1\n");
});

function install(key: string): string {
  const prefix = join(root, `prefix-${key}`);
  const r = spawnSync(
    "sh",
    [
      "scripts/install-hook.sh",
      "--prefix",
      prefix,
      "--node",
      process.execPath,
      "--descriptors",
      descriptors,
      "--host-key",
      key,
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain(`host key ${key}`);
  return join(prefix, "etc/libvirt/hooks/qemu.d/hdplan");
}

function runHook(wrapper: string) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("HDPLAN_") && v !== undefined) env[k] = v;
  return spawnSync(wrapper, ["vm1", "migrate", "begin", "-"], {
    input: incoming,
    encoding: "utf8",
    env: {
      ...env,
      HDPLAN_HOOK_HOST: host,
      HDPLAN_SYSFS_ROOT: "",
      HDPLAN_DOMAIN_DIRS: "",
      HDPLAN_HOOK_STATE_DIR: join(root, `state-${Math.random()}`),
      HDPLAN_HOOK_SYSLOG: "0",
      HDPLAN_HOOK_STRICT: "1",
    },
  });
}

describe("hook: descriptors by the installed host key", () => {
  it("the wrapper exports the configured key and folder", () => {
    const w = readFileSync(install("host2"), "utf8");
    expect(w).toContain(`export HDPLAN_HOOK_HOST_KEY="\${HDPLAN_HOOK_HOST_KEY:-host2}"`);
    expect(w).toContain(`export HDPLAN_HOOK_DESCRIPTORS="\${HDPLAN_HOOK_DESCRIPTORS:-${descriptors}}"`);
  });

  it("host2's own descriptor file applies on host2 (refused) and not on host3 (allowed)", () => {
    const on2 = runHook(install("host2"));
    expect(on2.status).toBe(1);
    expect(on2.stderr).toMatch(/licensed_feature/);
    const on3 = runHook(install("host3"));
    expect(on3.stderr).not.toMatch(/licensed_feature/);
    expect(on3.status).toBe(0);
  });

  it("without a configured key: a dump directory's name, else the short hostname", () => {
    expect(hookHostKey("/x/host7/", null, true)).toBe("host7");
    expect(hookHostKey("/x/host7", "h9", true)).toBe("h9");
    expect(() => hookHostKey("/x/y.json", "bad key", false)).toThrow(/HDPLAN_HOOK_HOST_KEY/);
  });

  it("install-hook.sh --dry-run does not say it installed anything", () => {
    const r = spawnSync("sh", ["scripts/install-hook.sh", "--dry-run", "--prefix", join(root, "dry")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/^installed/m);
    expect(r.stdout).toMatch(/dry run: nothing was installed/);
  });
});
