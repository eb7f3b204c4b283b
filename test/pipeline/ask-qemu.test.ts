/**
 * plan --ask-qemu: QEMU's query-migrate answer -> reasons (src/candidates/qemu.ts),
 * and how it combines with hdplan's own rules in the planner: QEMU wins where
 * hdplan said migratable; hdplan's blockers stay where QEMU says nothing.
 * The real QEMU: test/libvirt/ask-qemu.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type QemuAnswer, parseQueryMigrate, qemuReasons } from "../../src/candidates/qemu.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { HostError } from "../../src/errors.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostVersions } from "../../src/model.js";
import { type PlanResult, planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { NEW_QEMU, addrEl, nic, pciDev, rawHost } from "../helpers/build.js";

const URI = "qemu+ssh://src/system";
const IVSHMEM = "Migration is disabled when using feature 'peer mode' in device 'ivshmem'";
const INVTSC = "State blocked by non-migratable CPU device (invtsc flag)";

describe("parseQueryMigrate: QMP query-migrate answer -> blocked / reasons", () => {
  const ok: [string, string, string | null, boolean, string[]][] = [
    ["QEMU 10.0, migratable (no blocked-reasons)", '{"return":{},"id":"libvirt-1"}', "10.0.2", false, []],
    [
      "QEMU 10.0, one reason",
      JSON.stringify({ return: { "blocked-reasons": [IVSHMEM] } }),
      "10.0.2",
      true,
      [IVSHMEM],
    ],
    [
      "two reasons, in QEMU's order",
      JSON.stringify({ return: { "blocked-reasons": [INVTSC, IVSHMEM] } }),
      "9.0.0",
      true,
      [INVTSC, IVSHMEM],
    ],
    ["QEMU 6.0 with the deprecated blocked: false", '{"return":{"blocked":false}}', "6.0.0", false, []],
    ["blocked: true without reasons (fail-closed)", '{"return":{"blocked":true}}', "6.0.0", true, []],
    [
      "reasons count even where the version is unknown",
      JSON.stringify({ return: { "blocked-reasons": [IVSHMEM] } }),
      null,
      true,
      [IVSHMEM],
    ],
    [
      "an active migration's answer still carries blocked-reasons",
      JSON.stringify({ return: { status: "active", "blocked-reasons": [IVSHMEM] } }),
      "8.2.2",
      true,
      [IVSHMEM],
    ],
  ];
  for (const [name, text, version, blocked, reasons] of ok) {
    it(name, () => {
      const a = parseQueryMigrate(text, URI, "vm1", version);
      expect(a).toEqual({ uri: URI, domain: "vm1", blocked, reasons });
    });
  }

  const bad: [string, string, string | null, RegExp][] = [
    ["QEMU 5.2: silence is no evidence", '{"return":{}}', "5.2.0", /blocked-reasons only since QEMU 6\.0/],
    ["unknown QEMU version: silence is no evidence", '{"return":{}}', null, /QEMU of unknown version/],
    [
      "a QMP error",
      '{"error":{"class":"CommandNotFound","desc":"The command query-migrate has not been found"}}',
      "10.0.2",
      /QEMU refused query-migrate for vm1: The command query-migrate has not been found/,
    ],
    ["not JSON", "(qemu) info migrate", "10.0.2", /is not JSON/],
    ["no return member", '{"id":"x"}', "10.0.2", /has no "return"/],
  ];
  for (const [name, text, version, re] of bad) {
    it(`${name}: one-line HostError naming the source`, () => {
      let err: unknown;
      try {
        parseQueryMigrate(text, URI, "vm1", version);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HostError);
      expect((err as HostError).exitCode).toBe(3);
      expect((err as HostError).message).toMatch(re);
      expect((err as HostError).message.startsWith(`${URI}: `)).toBe(true);
      expect((err as HostError).message).not.toContain("\n");
    });
  }
});

describe("qemuReasons: one qemu-blocked reason per QEMU reason, in QEMU's words", () => {
  it("carries the words verbatim, in the message and as a detail", () => {
    const rs = qemuReasons({ uri: URI, domain: "vm1", blocked: true, reasons: [INVTSC, IVSHMEM] });
    expect(rs.map((r) => r.code)).toEqual(["qemu-blocked", "qemu-blocked"]);
    expect(rs.map((r) => r.qemu)).toEqual([INVTSC, IVSHMEM]);
    expect(rs[0]!.message).toBe(
      `QEMU (${URI}) blocks migration of vm1: "${INVTSC}" (query-migrate blocked-reasons)`,
    );
  });
  it("blocked without a reason is still a blocker; not blocked is none", () => {
    const rs = qemuReasons({ uri: URI, domain: "vm1", blocked: true, reasons: [] });
    expect(rs).toHaveLength(1);
    expect(rs[0]!.message).toMatch(/blocked but gives no reason/);
    expect(qemuReasons({ uri: URI, domain: "vm1", blocked: false, reasons: [] })).toEqual([]);
  });
});

const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];
const QAT = [
  pciDev({ addr: PF, vendor: "8086", product: "4940", driver: "host_pf", vfs: VFS }),
  ...VFS.map((a) => pciDev({ addr: a, vendor: "8086", product: "4941", driver: "qat_vfio_pci", pf: PF })),
];
const VERSIONS: HostVersions = { ...NEW_QEMU, kernel: "6.19.0" };

function vm(vfs: number): string {
  const hostdevs = VFS.slice(0, vfs)
    .map(
      (a, i) =>
        `<hostdev mode='subsystem' type='pci' managed='yes'><source>${addrEl(a)}</source><alias name='hostdev${i}'/></hostdev>`,
    )
    .join("");
  return `<domain type='kvm'><name>vm1</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
<memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc-q35-9.0'>hvm</type></os>
<devices>${hostdevs}</devices></domain>`;
}

function plan(xml: string, devices: string[], qemu: QemuAnswer | undefined): PlanResult {
  return planDomain(
    {
      domain: readDomain(xml, "vm1.xml"),
      source: buildInventory(rawHost("src", { devices, versions: VERSIONS })),
      selector: new DescriptorSelector([]),
      opts: { assumeVersions: false, explain: true },
      ...(qemu ? { qemu } : {}),
    },
    [{ ok: true as const, inv: buildInventory(rawHost("dst", { devices, versions: VERSIONS })) }],
  );
}

const blocked = (reasons: string[]): QemuAnswer => ({
  uri: URI,
  domain: "vm1",
  blocked: reasons.length > 0,
  reasons,
});
const codes = (r: PlanResult) => r.devices.flatMap((d) => d.blockers.map((b) => b.code));
const hostCodes = (r: PlanResult) => r.hosts[0]!.unassigned.flatMap((u) => u.reasons.map((x) => x.code));

describe("the planner with QEMU's answer", () => {
  const cases: {
    name: string;
    xml: string;
    devices: string[];
    qemu: QemuAnswer | undefined;
    status: string;
    blockers: string[];
    note: RegExp | null;
  }[] = [
    {
      name: "mlx5 VF, no --ask-qemu: hdplan alone says full",
      xml: vm(1),
      devices: nic(PF, VFS),
      qemu: undefined,
      status: "full",
      blockers: [],
      note: null,
    },
    {
      name: "mlx5 VF, QEMU silent: both agree, full",
      xml: vm(1),
      devices: nic(PF, VFS),
      qemu: blocked([]),
      status: "full",
      blockers: [],
      note: /QEMU reports no migration blocker, and hdplan found none/,
    },
    {
      name: "mlx5 VF (migratable by the table), QEMU blocks: QEMU wins",
      xml: vm(1),
      devices: nic(PF, VFS),
      qemu: blocked([INVTSC]),
      status: "none",
      blockers: ["qemu-blocked"],
      note: /hdplan found no blocker; QEMU blocks: "State blocked by non-migratable CPU device \(invtsc flag\)", and QEMU decides/,
    },
    {
      name: "qat VF (hdplan: no dirty tracking), QEMU silent: hdplan's blocker stays (fail-closed)",
      xml: vm(1),
      devices: QAT,
      qemu: blocked([]),
      status: "none",
      blockers: ["dirty-tracking-unavailable"],
      note: /QEMU reports no migration blocker, hdplan keeps its own \(dirty-tracking-unavailable\)/,
    },
    {
      name: "qat VF, QEMU blocks too: both reasons",
      xml: vm(1),
      devices: QAT,
      qemu: blocked([IVSHMEM]),
      status: "none",
      blockers: ["dirty-tracking-unavailable", "qemu-blocked"],
      note: /hdplan blocks \(dirty-tracking-unavailable\) and QEMU blocks too/,
    },
    {
      name: "two mlx5 VFs, QEMU blocks: every device carries QEMU's reason",
      xml: vm(2),
      devices: nic(PF, VFS),
      qemu: blocked([IVSHMEM]),
      status: "none",
      blockers: ["qemu-blocked", "qemu-blocked"],
      note: /QEMU decides/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = plan(c.xml, c.devices, c.qemu);
      expect(r.hosts[0]!.status).toBe(c.status);
      expect(codes(r)).toEqual(c.blockers);
      for (const d of r.devices) {
        if (c.note) expect(d.qemu).toMatch(c.note);
        else expect(d.qemu).toBeUndefined();
      }
      if (c.status === "none") expect(r.best).toBeNull();
      if (c.qemu) expect(r.qemu).toEqual(c.qemu);
      else expect(r.qemu).toBeUndefined();
    });
  }

  it("a VM without assigned devices that QEMU blocks is blocked on every host, by the VM itself", () => {
    const r = plan(vm(0), nic(PF, VFS), blocked([IVSHMEM]));
    expect(r.devices).toEqual([]);
    expect(r.hosts[0]!.status).toBe("none");
    expect(r.hosts[0]!.unassigned.map((u) => u.device)).toEqual(["vm1"]);
    expect(hostCodes(r)).toEqual(["qemu-blocked"]);
    expect(r.hosts[0]!.unassigned[0]!.reasons[0]!.qemu).toBe(IVSHMEM);
    expect(r.best).toBeNull();
  });

  it("a VM without assigned devices that QEMU does not block stays full", () => {
    const r = plan(vm(0), nic(PF, VFS), blocked([]));
    expect(r.hosts[0]!.status).toBe("full");
    expect(r.best).toBe("dst");
  });
});
