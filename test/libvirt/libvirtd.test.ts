/**
 * Against a real libvirtd (qemu:///system). Runs only with HDPLAN_LIBVIRTD=1,
 * as root, after `scripts/libvirtd-start.sh` (packages libvirt-daemon,
 * libvirt-daemon-driver-qemu, qemu-system-x86); stop it with
 * `scripts/libvirtd-stop.sh`. Skipped otherwise.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runInventory } from "../../src/commands/inventory.js";
import { readLiveHost } from "../../src/targets/live.js";

const ENABLED = process.env.HDPLAN_LIBVIRTD === "1";
if (!ENABLED)
  console.info(
    "[hdplan tests] libvirtd tests skipped (set HDPLAN_LIBVIRTD=1 after scripts/libvirtd-start.sh)",
  );

const URI = "qemu:///system";
const DOM = "hdplan-test-hostdev";

function virsh(...args: string[]) {
  return spawnSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });
}

describe.skipIf(!ENABLED)("real libvirtd", () => {
  let dir: string;
  let hostdevAddr = "";

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hdplan-libvirtd-"));
    // Any PCI function of this machine with a driver will do for a defined (not started) domain.
    const list = virsh("nodedev-list", "--cap", "pci");
    expect(list.status).toBe(0);
    for (const name of list.stdout.split("\n").filter(Boolean)) {
      const xml = virsh("nodedev-dumpxml", name).stdout;
      if (xml.includes("<driver>")) {
        const m = /pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])/.exec(name)!;
        hostdevAddr = `<address domain='0x${m[1]}' bus='0x${m[2]}' slot='0x${m[3]}' function='0x${m[4]}'/>`;
        break;
      }
    }
    const file = join(dir, "dom.xml");
    writeFileSync(
      file,
      `<domain type='qemu'><name>${DOM}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
        <os><type arch='x86_64' machine='pc'>hvm</type></os>
        <devices><hostdev mode='subsystem' type='pci' managed='yes'><source>${hostdevAddr}</source></hostdev></devices>
      </domain>`,
    );
    virsh("undefine", DOM);
    const def = virsh("define", file);
    expect(def.status, def.stderr).toBe(0);
  });

  afterAll(() => {
    virsh("undefine", DOM);
    rmSync(dir, { recursive: true, force: true });
  });

  test("readLiveHost reads udev node devices, the defined domain and QEMU versions", async () => {
    const h = await readLiveHost(URI, "local", { timeoutMs: 30_000 });
    expect(h.versions.hypervisorType).toBe("QEMU");
    expect(h.versions.hypervisorVersion).toMatch(/^7\.2\.\d+$/);
    expect(h.versions.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
    const pci = h.nodeDevices.filter((d) => d.xml.includes("<capability type='pci'>"));
    expect(pci.length).toBeGreaterThan(0);
    // Real udev devices carry <driver> (the test driver drops it).
    expect(pci.some((d) => /<driver>\s*<name>/.test(d.xml))).toBe(true);
    const dom = h.domains.filter((d) => d.xml.includes(`<name>${DOM}</name>`));
    expect(dom).toHaveLength(1);
    expect(dom[0]!.persistent).toBe(true);
    expect(dom[0]!.active).toBe(false);
    expect(dom[0]!.xml).toContain("<hostdev");
  });

  test("inventory of a local URI records the kernel version", async () => {
    const r = await runInventory({ connect: URI, timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
    const snap = JSON.parse(r.stdout);
    expect(snap.versions.hypervisorType).toBe("QEMU");
    expect(snap.versions.kernel).toBeTruthy();
  });
});
