/**
 * Real live migrations between two libvirt daemons on this machine, with the
 * hdplan hook installed on the destination (docs/migration-harness.md).
 *
 * Runs with HDPLAN_MIGRATION=1 after `scripts/migration-daemons.sh start`
 * (root; .ci/run does both and stops the daemons by pid at the end). The guest
 * is tiny (64 MiB, no disk), KVM when /dev/kvm opens, else TCG.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { tinyGuestXml } from "../../scripts/fixtures/testdriver.mjs";
import { hdplan } from "../helpers/cli.js";
import { DIR, DST, MIGRATION_ENABLED as ENABLED, SRC, kvmUsable, virsh } from "../helpers/daemons.js";

if (!ENABLED)
  console.info(
    "[hdplan tests] migration tests skipped (set HDPLAN_MIGRATION=1 after scripts/migration-daemons.sh start)",
  );

const SRC_UUID = "5a0c1e5e-0000-4000-8000-00000000000a";
const DST_UUID = "5a0c1e5e-0000-4000-8000-00000000000b";
const GUEST = "hdplan-mig-guest";
const HOOK_LOG = join(DIR, "dst/hdplan-run/hook.log");
const WORK = join(DIR, "work");

/** `virsh migrate --live` from one daemon to the other, loopback only; wall time in ms. */
function migrate(from: string, to: string, ...extra: string[]) {
  const t0 = performance.now();
  const r = virsh(
    from,
    "migrate",
    "--live",
    ...extra,
    GUEST,
    to,
    "--migrateuri",
    "tcp://127.0.0.1",
    "--listen-address",
    "127.0.0.1",
  );
  return { ...r, ms: performance.now() - t0 };
}

function state(uri: string): string {
  const r = virsh(uri, "domstate", GUEST);
  return r.status === 0 ? r.stdout.trim() : "absent";
}

function hookLines(): string[] {
  return existsSync(HOOK_LOG) ? readFileSync(HOOK_LOG, "utf8").split("\n").filter(Boolean) : [];
}

/** The hook's own time of a log line: "[N ms]" (since its process started). */
function hookMs(line: string): number {
  const m = /\[(\d+) ms\]$/.exec(line);
  if (!m) throw new Error(`no hook time in: ${line}`);
  return Number(m[1]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.skipIf(!ENABLED)("real live migration with the hdplan hook on the destination", () => {
  const qemuPids: number[] = [];

  const guestPid = (side: "src" | "dst") => {
    const p = join(DIR, side, "run/qemu", `${GUEST}.pid`);
    return existsSync(p) ? Number(readFileSync(p, "utf8").trim()) : null;
  };

  /** Put the guest back on the source (the hook-free direction). */
  const back = () => {
    if (state(DST) === "running") {
      const r = migrate(DST, SRC);
      expect(r.status, r.stderr).toBe(0);
    }
    expect(state(SRC)).toBe("running");
  };

  beforeAll(() => {
    rmSync(WORK, { recursive: true, force: true });
    spawnSync("mkdir", ["-p", WORK]);
    // The hook's view of the destination: a snapshot, as the inventory timer keeps it.
    const inv = hdplan([
      "inventory",
      "--connect",
      DST,
      "-o",
      join(DIR, "dst/var/lib/hostdev-planner/host.json"),
    ]);
    expect(inv.code, inv.stderr).toBe(0);
    const type = kvmUsable() ? "kvm" : "qemu";
    console.info(`[migration] guest type ${type}`);
    writeFileSync(join(WORK, "guest.xml"), tinyGuestXml(GUEST, type));
    const c = virsh(SRC, "create", join(WORK, "guest.xml"));
    expect(c.status, c.stderr).toBe(0);
    const pid = guestPid("src");
    if (pid) qemuPids.push(pid);
  }, 120_000);

  afterAll(() => {
    // Stop exactly the guest started here: by name on whichever daemon has it,
    // then its QEMU processes by pid if any is left.
    for (const uri of [SRC, DST]) if (state(uri) !== "absent") virsh(uri, "destroy", GUEST);
    const d = guestPid("dst");
    if (d) qemuPids.push(d);
    for (const pid of qemuPids) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        if (cmd.includes(GUEST)) process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  });

  test("the daemons are two hosts: own hostname and host UUID", () => {
    expect(virsh(SRC, "hostname").stdout.trim()).toBe("hdplan-mig-src");
    expect(virsh(DST, "hostname").stdout.trim()).toBe("hdplan-mig-dst");
    expect(virsh(SRC, "capabilities").stdout).toContain(`<uuid>${SRC_UUID}</uuid>`);
    expect(virsh(DST, "capabilities").stdout).toContain(`<uuid>${DST_UUID}</uuid>`);
    const snap = JSON.parse(readFileSync(join(DIR, "dst/var/lib/hostdev-planner/host.json"), "utf8"));
    expect(snap.hostUuid).toBe(DST_UUID);
  });

  test("the hook allows a VM without assigned devices and the migration completes", () => {
    const before = hookLines().length;
    const r = migrate(SRC, DST);
    expect(r.status, r.stderr).toBe(0);
    expect(state(DST)).toBe("running");
    expect(state(SRC)).toBe("absent");
    const lines = hookLines().slice(before);
    // One line per migration: only "migrate begin" starts the hook's node process.
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/hdplan-hook: hdplan-mig-guest: allowed: every device is available as named/);
    back();
  }, 120_000);

  describe("--write-dest-xml records the host it planned for", () => {
    let destDir: string;
    beforeAll(() => {
      const vm = virsh(SRC, "dumpxml", "--migratable", GUEST);
      expect(vm.status, vm.stderr).toBe(0);
      writeFileSync(join(WORK, "vm.xml"), vm.stdout);
      destDir = join(WORK, "dest");
      const p = hdplan([
        "plan",
        "--domain",
        join(WORK, "vm.xml"),
        "--source",
        SRC,
        "--host",
        `dst=${DST}`,
        "--host",
        `src=${SRC}`,
        "--write-dest-xml",
        destDir,
      ]);
      expect(p.code, p.stderr).toBe(0);
      // The source is never a destination (src is listed as `source`, no XML):
      // the XML "planned for src" is what a plan run the other way round
      // writes (the guest has no assigned device, and dst defines no domain).
      expect(existsSync(join(destDir, "src.xml"))).toBe(false);
      const q = hdplan([
        "plan",
        "--domain",
        join(WORK, "vm.xml"),
        "--source",
        DST,
        "--host",
        `src=${SRC}`,
        "--write-dest-xml",
        join(WORK, "dest-other"),
      ]);
      expect(q.code, q.stderr).toBe(0);
      copyFileSync(join(WORK, "dest-other", "src.xml"), join(destDir, "src.xml"));
    }, 120_000);

    test("the metadata names the host key and libvirt host UUID", () => {
      const dst = readFileSync(join(destDir, "dst.xml"), "utf8");
      expect(dst).toMatch(
        /planned-for-host="dst" planned-for-host-uuid="5a0c1e5e-0000-4000-8000-00000000000b"/,
      );
      const src = readFileSync(join(destDir, "src.xml"), "utf8");
      expect(src).toMatch(
        /planned-for-host="src" planned-for-host-uuid="5a0c1e5e-0000-4000-8000-00000000000a"/,
      );
    });

    test("the hook's rewritten XML is what the destination runs (checked-on-host in virsh dumpxml)", () => {
      const before = hookLines().length;
      const r = migrate(SRC, DST, "--xml", join(destDir, "dst.xml"));
      expect(r.status, r.stderr).toBe(0);
      expect(state(DST)).toBe("running");
      const lines = hookLines().slice(before);
      expect(lines.at(-1)).toMatch(/allowed: .*marked checked-on-host/);
      // Neither the source nor dst.xml has checked-on-host: only the hook's output does.
      expect(readFileSync(join(destDir, "dst.xml"), "utf8")).not.toContain("checked-on-host");
      const running = virsh(DST, "dumpxml", GUEST).stdout;
      expect(running).toContain(`planned-for-host-uuid="${DST_UUID}"`);
      expect(running).toMatch(new RegExp(`checked-on-host=["']${DST_UUID}["']`));
      back();
    }, 120_000);

    test("the hook refuses XML planned for another host: migration aborted, guest keeps running on the source", () => {
      const before = hookLines().length;
      const r = migrate(SRC, DST, "--xml", join(destDir, "src.xml"));
      expect(r.status).not.toBe(0);
      // virsh's error carries hdplan's one-line reason.
      const err = r.stderr.split("\n").find((l) => l.includes("hdplan-hook"));
      expect(err).toBeDefined();
      expect(err).toMatch(
        /Hook script execution failed: .*refused: planned-for-other-host: the XML was planned for host src \(libvirt host UUID 5a0c1e5e-0000-4000-8000-00000000000a\), this is hdplan-mig-dst/,
      );
      expect(state(SRC)).toBe("running");
      expect(state(DST)).toBe("absent");
      expect(hookLines().slice(before).at(-1)).toMatch(/refused: planned-for-other-host/);
    }, 120_000);
  });

  test("hook cost: its own time and migration time with and without it", () => {
    const withHook: number[] = [];
    const without: number[] = [];
    const hook: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = hookLines().length;
      const f = migrate(SRC, DST); // destination has the hook
      expect(f.status, f.stderr).toBe(0);
      withHook.push(f.ms);
      const lines = hookLines().slice(before);
      expect(lines).toHaveLength(1);
      hook.push(hookMs(lines[0]!));
      const b = migrate(DST, SRC); // the source daemon has no hook
      expect(b.status, b.stderr).toBe(0);
      without.push(b.ms);
    }
    // A bare node start measured the same way (performance.now() at exit):
    // the part of the hook's time that is node itself, not hdplan, and that
    // grows with the machine's load.
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = spawnSync(
        process.execPath,
        ["-e", "process.stdout.write(String(Math.round(performance.now())))"],
        {
          encoding: "utf8",
        },
      );
      bare.push(Number(r.stdout));
    }
    const fig = {
      hookMs: hook,
      hookMedianMs: median(hook),
      bareNodeStartMs: bare,
      hdplanPartMedianMs: median(hook) - median(bare),
      migrateWithHookMs: withHook.map(Math.round),
      migrateWithoutHookMs: without.map(Math.round),
      medianDifferenceMs: Math.round(median(withHook) - median(without)),
    };
    console.info(`[migration] ${JSON.stringify(fig)}`);
    writeFileSync(join(DIR, "figures.json"), `${JSON.stringify(fig, null, 2)}\n`);
    // The goal (hdplan's part of the hook's time, its log's [N ms] less a bare
    // node start, under 300 ms; about 66 ms idle, docs/migration-harness.md) is
    // a measurement: the figures above are printed and kept in figures.json.
    // Asserted here only with a margin that tells a regression (an extra
    // libvirt round trip, a re-read fleet) from this machine's load, since other
    // test files run beside this one: a timed unit test must not be flaky.
    expect(fig.hdplanPartMedianMs).toBeLessThan(1500);
    expect(fig.hookMedianMs).toBeLessThan(5000);
    expect(state(SRC)).toBe("running");
  }, 300_000);
});
