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
import { gateReasons, versionAtLeast } from "../../src/candidates/versions.js";
import { readLiveHost } from "../../src/targets/live.js";
import { hdplan } from "../helpers/cli.js";

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
    // CI installs QEMU 10.0 from bookworm-backports (docs/libvirt-versions.md).
    expect(h.versions.hypervisorVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(h.versions.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
    // capabilities <host><uuid>: the planned-for record of --write-dest-xml.
    expect(h.hostUuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
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

  test("a destination read over the RPC socket with QEMU >= 10 gets no version-gate reason", async () => {
    const h = await readLiveHost(URI, "local", { timeoutMs: 30_000 });
    // The CI daemon is libvirt 11.3 / QEMU 10.0 (bookworm-backports): above every gate.
    expect(versionAtLeast(h.versions.hypervisorVersion, "10.0.0")).toBe(true);
    expect(versionAtLeast(h.versions.libvirt, "11.0.0")).toBe(true);
    const opts = { assumeVersions: false };
    expect(gateReasons("mdev", h.versions, "local", opts)).toEqual([]);
    expect(gateReasons("pci-variant", h.versions, "local", opts, "mlx5_vfio_pci")).toEqual([]);
    // The same read with this machine's kernel (as inventory records it) still passes.
    const r = await runInventory({ connect: URI, timeoutMs: 30_000 });
    const snap = JSON.parse(r.stdout);
    expect(gateReasons("pci-variant", snap.versions, "local", opts, "mlx5_vfio_pci")).toEqual([]);
  });

  test("plan with the real daemon as destination: reasons are about devices, none about versions", () => {
    const r = hdplan([
      "plan",
      "--domain",
      "xml-samples/domains/vm-vgpu.xml",
      "--source",
      "xml-samples/hosts/src-host",
      "--host",
      `real=${URI}`,
      "--format",
      "json",
    ]);
    const out = JSON.parse(r.stdout);
    const host = out.hosts.find((x: { host: string }) => x.host === "real");
    expect(host.error).toBeNull();
    const codes = host.unassigned.flatMap((u: { reasons: { code: string }[] }) =>
      u.reasons.map((x) => x.code),
    );
    expect(codes.length).toBeGreaterThan(0); // this machine has no NVIDIA vGPU
    for (const gate of ["libvirt-too-old", "qemu-too-old", "versions-unknown", "gates-not-applied"])
      expect(codes).not.toContain(gate);
    expect(host.warnings.map((w: { code: string }) => w.code)).not.toContain("gates-not-applied");
  });

  test("inventory of a local URI records the kernel version", async () => {
    const r = await runInventory({ connect: URI, timeoutMs: 30_000 });
    expect(r.exitCode).toBe(0);
    const snap = JSON.parse(r.stdout);
    expect(snap.versions.hypervisorType).toBe("QEMU");
    expect(snap.versions.kernel).toBeTruthy();
  });
});
