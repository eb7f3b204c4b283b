/**
 * plan --ask-qemu against a real QEMU 10.0 guest on a real libvirt 11.3 daemon:
 * the "src" daemon of scripts/migration-daemons.sh (docs/migration-harness.md),
 * run by .ci/run with HDPLAN_MIGRATION=1 after the migration test.
 *
 * Two tiny diskless guests (64 MiB, KVM when /dev/kvm opens, else TCG):
 * - plain: QEMU answers query-migrate with {"return":{}} (no blocker);
 * - shm: an ivshmem-plain device with role='peer' (<shmem>): QEMU's
 *   hw/misc/ivshmem.c ivshmem_common_realize adds the migration blocker
 *   "Migration is disabled when using feature 'peer mode' in device 'ivshmem'"
 *   for a device that is not the master.
 * hdplan's own rules see no assigned device in either, so without --ask-qemu
 * both are `full`; QEMU's answer blocks the second, and libvirt itself refuses
 * its migration with the same words (qemu_migration.c qemuMigrationSrcIsAllowed).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tinyGuestXml as guestXml } from "../../scripts/fixtures/testdriver.mjs";
import { hdplan } from "../helpers/cli.js";
import { DIR, DST, MIGRATION_ENABLED as ENABLED, SRC, kvmUsable, virsh } from "../helpers/daemons.js";

if (!ENABLED)
  console.info(
    "[hdplan tests] --ask-qemu real-QEMU tests skipped (set HDPLAN_MIGRATION=1 after scripts/migration-daemons.sh start)",
  );

const WORK = join(DIR, "work-ask-qemu");
const PLAIN = "hdplan-askqemu-plain";
const SHM = "hdplan-askqemu-shm";
const SHM_NAME = "hdplan-askqemu";
const IVSHMEM = "Migration is disabled when using feature 'peer mode' in device 'ivshmem'";

const plan = (guest: string, ...extra: string[]) =>
  hdplan(["plan", "--domain", guest, "--source", SRC, "--host", `dst=${DST}`, ...extra], {
    timeoutMs: 120_000,
  });

describe.skipIf(!ENABLED)("plan --ask-qemu against a real QEMU guest", () => {
  const pids: number[] = [];
  const pidOf = (g: string) => {
    const p = join(DIR, "src/run/qemu", `${g}.pid`);
    return existsSync(p) ? Number(readFileSync(p, "utf8").trim()) : null;
  };

  beforeAll(() => {
    rmSync(WORK, { recursive: true, force: true });
    spawnSync("mkdir", ["-p", WORK]);
    const type = kvmUsable() ? "kvm" : "qemu";
    const shm = `
    <shmem name='${SHM_NAME}' role='peer'><model type='ivshmem-plain'/><size unit='M'>1</size></shmem>`;
    for (const [g, devs] of [
      [PLAIN, ""],
      [SHM, shm],
    ] as const) {
      writeFileSync(join(WORK, `${g}.xml`), guestXml(g, type, devs));
      const c = virsh(SRC, "create", join(WORK, `${g}.xml`));
      expect(c.status, c.stderr).toBe(0);
      const pid = pidOf(g);
      if (pid) pids.push(pid);
    }
  }, 120_000);

  afterAll(() => {
    // Exactly the guests started here: by name, then their QEMU by pid if left.
    for (const g of [PLAIN, SHM]) if (virsh(SRC, "domstate", g).status === 0) virsh(SRC, "destroy", g);
    for (const pid of pids) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("hdplan-askqemu"))
          process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    // libvirt's ivshmem-plain backing file (memory-backend-file in /dev/shm).
    rmSync(`/dev/shm/${SHM_NAME}`, { force: true });
  });

  test("without --ask-qemu hdplan alone calls both guests migratable (no assigned device)", () => {
    for (const g of [PLAIN, SHM]) {
      const r = plan(g, "--format", "json");
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.hosts[0].status).toBe("full");
      expect(j.qemu).toBeUndefined();
    }
  }, 120_000);

  test("a guest QEMU does not block: QEMU's empty answer, still full, and libvirt taints it custom-monitor", () => {
    const r = plan(PLAIN, "--ask-qemu", "--connect-rw", "--format", "json");
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.qemu).toEqual({ uri: SRC, domain: PLAIN, blocked: false, reasons: [] });
    expect(j.hosts[0].status).toBe("full");
    expect(j.best).toBe("dst");
    // What QEMU itself answers (virsh sends the same QMP command).
    const raw = virsh(SRC, "qemu-monitor-command", PLAIN, '{"execute":"query-migrate"}');
    expect(raw.status, raw.stderr).toBe(0);
    expect(JSON.parse(raw.stdout).return).toEqual({});
    // The taint the docs warn about.
    const log = readFileSync(join(DIR, "src/log/qemu", `${PLAIN}.log`), "utf8");
    expect(log).toMatch(/Domain id=\d+ is tainted: custom-monitor/);
  }, 120_000);

  test("a guest with an ivshmem peer: QEMU's blocker, in QEMU's words, blocks every host", () => {
    const r = plan(SHM, "--ask-qemu", "--connect-rw", "--format", "json");
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.qemu).toEqual({ uri: SRC, domain: SHM, blocked: true, reasons: [IVSHMEM] });
    expect(j.best).toBeNull();
    const h = j.hosts[0];
    expect(h.status).toBe("none");
    expect(h.unassigned).toHaveLength(1);
    expect(h.unassigned[0].device).toBe(SHM);
    expect(h.unassigned[0].reasons.map((x: { code: string }) => x.code)).toEqual(["qemu-blocked"]);
    expect(h.unassigned[0].reasons[0].qemu).toBe(IVSHMEM);

    const t = plan(SHM, "--ask-qemu", "--connect-rw", "--explain");
    expect(t.code).toBe(1);
    expect(t.stdout).toContain(`QEMU (query-migrate): blocked: ${IVSHMEM}`);
    expect(t.stdout).toContain(`qemu-blocked: QEMU (${SRC}) blocks migration of ${SHM}: "${IVSHMEM}"`);
  }, 120_000);

  test("libvirt refuses that migration with the same words (what hdplan predicted)", () => {
    const m = virsh(
      SRC,
      "migrate",
      "--live",
      SHM,
      DST,
      "--migrateuri",
      "tcp://127.0.0.1",
      "--listen-address",
      "127.0.0.1",
    );
    expect(m.status).toBe(1);
    expect(m.stderr).toContain(`cannot migrate domain: ${IVSHMEM}`);
    expect(virsh(SRC, "domstate", SHM).stdout.trim()).toBe("running");
  }, 120_000);

  test("a domain that is not running: libvirt's error, exit 3, one line", () => {
    writeFileSync(join(WORK, "off.xml"), guestXml("hdplan-askqemu-off", "qemu"));
    expect(virsh(SRC, "define", join(WORK, "off.xml")).status).toBe(0);
    try {
      const r = plan("hdplan-askqemu-off", "--ask-qemu", "--connect-rw");
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(/^hdplan: error: .*virDomainQemuMonitorCommand failed: .*not running/);
    } finally {
      virsh(SRC, "undefine", "hdplan-askqemu-off");
    }
  }, 120_000);
});
