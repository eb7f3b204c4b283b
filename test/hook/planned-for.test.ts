/**
 * --write-dest-xml records the host an XML was planned for; the hook refuses
 * XML planned for another host (planned-for-other-host).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rewriteForHost } from "../../src/commands/destxml.js";
import { hookInProcess } from "../helpers/hook.js";
import { readDomain } from "../../src/xml/domain.js";
import { tempDir } from "../helpers/dump.js";

const UUID_A = "5a0c1e5e-0000-4000-8000-00000000000a";
const UUID_B = "5a0c1e5e-0000-4000-8000-00000000000b";
const VM = `<domain type='kvm'>
  <name>vm1</name>
  <uuid>6e3d2a5c-1a2b-4c3d-8e9f-0a1b2c3d4e5f</uuid>
  <memory unit='MiB'>64</memory>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
</domain>
`;

function planned(host: string, hostUuid?: string): string {
  const domain = readDomain(VM, "vm.xml");
  return rewriteForHost(VM, "vm.xml", domain, [], { assignments: [], host, hostUuid });
}

/** A host snapshot as `hdplan inventory` writes it, with or without a host UUID. */
function snapshot(hostUuid?: string): { host: string; state: string } {
  const root = tempDir("hdplan-planned-");
  const snap = {
    schemaVersion: 1,
    kind: "hdplan-host-snapshot",
    createdAt: "2026-01-01T00:00:00.000Z",
    connect: "qemu:///system",
    hostname: "hostB",
    ...(hostUuid ? { hostUuid } : {}),
    versions: { libvirt: "11.3.0", hypervisorType: "QEMU", hypervisorVersion: "10.0.2" },
    nodeDevices: [{ xml: "<device><name>computer</name><capability type='system'/></device>" }],
    domains: [],
    networks: [],
    vendorAttrs: [],
  };
  const host = join(root, "host.json");
  writeFileSync(host, JSON.stringify(snap));
  return { host, state: join(root, "state") };
}

const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith("HDPLAN_")) delete process.env[k];
  Object.assign(process.env, saved);
});

function hook(stdin: string, d: { host: string; state: string }) {
  return hookInProcess(["vm1", "migrate", "begin", "-"], stdin, {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("HDPLAN_"))),
    HDPLAN_HOOK_HOST: d.host,
    HDPLAN_SYSFS_ROOT: "",
    HDPLAN_DOMAIN_DIRS: "",
    HDPLAN_HOOK_STATE_DIR: d.state,
    HDPLAN_HOOK_SYSLOG: "0",
  } as Record<string, string>);
}

describe("planned-for record", () => {
  it("--write-dest-xml writes the host key and libvirt host UUID; readDomain reads them back", () => {
    const x = planned("hostB", UUID_B);
    expect(x).toContain(`planned-for-host="hostB" planned-for-host-uuid="${UUID_B}"`);
    expect(readDomain(x, "x").plannedFor).toEqual({ host: "hostB", hostUuid: UUID_B });
    // No UUID known (test driver, dump directories): the key only.
    const k = planned("hostB");
    expect(k).not.toContain("planned-for-host-uuid");
    expect(readDomain(k, "k").plannedFor).toEqual({ host: "hostB", hostUuid: null });
    expect(readDomain(VM, "vm").plannedFor).toBeUndefined();
  });

  it("the hook allows XML planned for this host and marks it checked-on-host", async () => {
    const r = await hook(planned("hostB", UUID_B), snapshot(UUID_B));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`checked-on-host='${UUID_B}'`));
    expect(readDomain(r.stdout, "out").plannedFor?.hostUuid).toBe(UUID_B);
    expect(r.stderr).toMatch(/allowed: .*marked checked-on-host/);
  });

  it("the hook refuses XML planned for another host, in one line naming both", async () => {
    const r = await hook(planned("hostA", UUID_A), snapshot(UUID_B));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `refused: planned-for-other-host: the XML was planned for host hostA \\(libvirt host UUID ${UUID_A}\\), this is hostB \\(${UUID_B}\\)`,
      ),
    );
  });

  it("fail-closed: a UUID record on a host whose snapshot has no UUID is refused", async () => {
    const r = await hook(planned("hostB", UUID_B), snapshot());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/planned-for-other-host: .*records no host UUID, so it cannot be verified/);
  });

  it("a key-only record is not compared (host keys are operator names): allowed and marked", async () => {
    const r = await hook(planned("whatever"), snapshot(UUID_B));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`checked-on-host='${UUID_B}'`));
  });

  it("XML without a planned-for record passes unchanged (nothing printed)", async () => {
    const r = await hook(VM, snapshot(UUID_B));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
  });
});
