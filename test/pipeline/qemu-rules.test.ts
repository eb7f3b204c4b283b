/**
 * Whole-VM rules of QEMU (compat.md §7) as scenarios: each case from issue 11's
 * list answers as QEMU would, with the exact codes, from in-memory snapshots
 * (the planner), dump directories (the CLI) and libvirt's test driver.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostVersions, RawHost } from "../../src/model.js";
import { type PlanResult, planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import { NEW_QEMU, addrEl, gpu, mdevDev, nic, pciDev, rawHost } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { libvirtAvailable, writeTestHost } from "../helpers/testdriver.js";

const Q = "http://libvirt.org/schemas/domain/qemu/1.0";
const UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const M1 = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const GPU = "0000:3b:00.0";
const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];

/** A PF + 2 VFs of one vendor bound to `driver`. */
function sriov(vendor: string, pfId: string, vfId: string, driver: string | null): string[] {
  return [
    pciDev({ addr: PF, vendor, product: pfId, driver: "host_pf", vfs: VFS }),
    ...VFS.map((a) => pciDev({ addr: a, vendor, product: vfId, driver, pf: PF })),
  ];
}
const QAT = (d: string | null = "qat_vfio_pci") => sriov("8086", "4940", "4941", d);
const HISI = (d: string | null = "hisi_acc_vfio_pci") => sriov("19e5", "a255", "a256", d);
const XE = (d: string | null = "xe-vfio-pci") => sriov("8086", "e211", "e212", d);

interface VmOpts {
  vfs?: number;
  mdev?: boolean;
  ramfb?: boolean;
  machine?: string;
  /** Extra XML inside <devices>. */
  devices?: string;
  /** Extra XML at domain level. */
  extra?: string;
  hostdevDriver?: string;
  type?: string;
  managed?: "yes" | "no";
}

function vm(o: VmOpts = {}): string {
  const hostdevs: string[] = [];
  if (o.mdev)
    hostdevs.push(
      `<hostdev mode='subsystem' type='mdev' model='vfio-pci'${o.ramfb ? " display='on' ramfb='on'" : ""}><source><address uuid='${M1}'/></source><alias name='hostdev9'/></hostdev>`,
    );
  for (let i = 0; i < (o.vfs ?? 1); i++)
    hostdevs.push(
      `<hostdev mode='subsystem' type='pci' managed='${o.managed ?? "yes"}'>${o.hostdevDriver ?? ""}<source>${addrEl(VFS[i]!)}</source><alias name='hostdev${i}'/></hostdev>`,
    );
  return `<domain type='${o.type ?? "kvm"}' xmlns:qemu='${Q}'><name>vm1</name><uuid>${UUID}</uuid>
<memory unit='KiB'>1048576</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='${o.machine ?? "pc-q35-9.0"}'>hvm</type></os>
<devices>${hostdevs.join("")}${o.devices ?? ""}</devices>${o.extra ?? ""}</domain>`;
}

/** A kernel new enough for every driver of the table (xe-vfio-pci: 6.19). */
const NEW_KERNEL: HostVersions = { ...NEW_QEMU, kernel: "6.19.0" };
const VIOMMU = "<iommu model='intel'><driver intremap='on' caching_mode='on'/></iommu>";
const OVERRIDE_ON = (alias = "hostdev0") =>
  `<qemu:override><qemu:device alias='${alias}'><qemu:frontend><qemu:property name='enable-migration' type='string' value='on'/></qemu:frontend></qemu:device></qemu:override>`;
const GLOBAL = (v: string) =>
  `<qemu:commandline><qemu:arg value='-global'/><qemu:arg value='vfio-pci.enable-migration=${v}'/></qemu:commandline>`;

function plan(
  domainXml: string,
  devices: string[],
  o: { dstDevices?: string[]; versions?: HostVersions; hosts?: string[] } = {},
): PlanResult {
  const versions = o.versions ?? NEW_KERNEL;
  const src: RawHost = rawHost("src", { devices, versions });
  const hosts = (o.hosts ?? ["dst"]).map((k) => rawHost(k, { devices: o.dstDevices ?? devices, versions }));
  return planDomain(
    {
      domain: readDomain(domainXml, "vm1.xml"),
      source: buildInventory(src),
      selector: new DescriptorSelector([]),
      opts: { assumeVersions: false, explain: true },
    },
    hosts.map((h) => ({ ok: true as const, inv: buildInventory(h) })),
  );
}

const blockerCodes = (r: PlanResult) => r.devices.flatMap((d) => d.blockers.map((b) => b.code));
const deviceWarnings = (r: PlanResult) => r.devices.flatMap((d) => d.warnings.map((b) => b.code));
const vmWarnings = (r: PlanResult) => r.warnings.map((w) => w.code);
const unassigned = (r: PlanResult, host = "dst") =>
  r.hosts.find((h) => h.host === host)!.unassigned.flatMap((u) => u.reasons.map((x) => x.code));

describe("vIOMMU (hw/vfio/migration.c vfio_viommu_preset)", () => {
  it("an mlx5 VF with <iommu model='intel'/> is blocked on every host", () => {
    const r = plan(vm({ devices: VIOMMU }), nic(PF, VFS), { hosts: ["a", "b"] });
    expect(blockerCodes(r)).toEqual(["viommu-blocks-migration"]);
    expect(r.best).toBeNull();
    for (const h of r.hosts) {
      expect(h.status).toBe("none");
      expect(unassigned(r, h.host)).toEqual(["viommu-blocks-migration"]);
    }
    expect(r.devices[0]!.blockers[0]!.message).toContain(
      "Migration is currently not supported with vIOMMU enabled",
    );
  });

  it("blocks mdevs too, and is not lifted by forcing enable-migration", () => {
    const r = plan(
      vm({ vfs: 0, mdev: true, devices: VIOMMU, extra: OVERRIDE_ON("hostdev9") }),
      [gpu(GPU, 2), mdevDev({ uuid: M1, parentAddr: GPU, type: "nvidia-558" })],
      { dstDevices: [gpu(GPU, 4)] },
    );
    expect(blockerCodes(r)).toEqual(["viommu-blocks-migration"]);
  });

  it("a vIOMMU without VFIO devices changes nothing", () => {
    const r = plan(vm({ vfs: 0, mdev: true, devices: VIOMMU }).replace(/<hostdev.*<\/hostdev>/, ""), []);
    expect(r.devices).toEqual([]);
  });
});

describe("dirty tracking (hw/vfio/migration.c, hw/vfio/iommufd.c)", () => {
  for (const [name, devs] of [
    ["qat_vfio_pci", QAT()],
    ["hisi_acc_vfio_pci", HISI()],
    ["xe-vfio-pci", XE()],
    ["virtio_vfio_pci", sriov("1af4", "1041", "1041", "virtio_vfio_pci")],
  ] as const) {
    it(`${name} on the legacy container: dirty-tracking-unavailable on every host`, () => {
      const r = plan(vm(), [...devs]);
      expect(blockerCodes(r)).toEqual(["dirty-tracking-unavailable"]);
      expect(r.hosts[0]!.status).toBe("none");
      expect(r.devices[0]!.blockers[0]!.message).toContain(
        "VFIO device doesn't support device and IOMMU dirty tracking",
      );
    });
  }

  it("mlx5 and pds register DMA logging: no dirty-tracking blocker", () => {
    expect(blockerCodes(plan(vm(), nic(PF, VFS)))).toEqual([]);
    const pds = sriov("1dd8", "1002", "1003", "pds_vfio_pci");
    const r = plan(vm(), pds);
    expect(blockerCodes(r)).toEqual([]);
    expect(r.hosts[0]!.status).toBe("full");
  });

  it("iommufd backend: IOMMU dirty tracking is not verifiable, so still blocked (fail-closed)", () => {
    const r = plan(vm({ hostdevDriver: "<driver iommufd='yes'/>" }), QAT());
    expect(blockerCodes(r)).toEqual(["dirty-tracking-unavailable"]);
    expect(r.devices[0]!.blockers[0]!.message).toContain("IOMMU_HW_CAP_DIRTY_TRACKING");
    const dom = plan(vm({ extra: "<iommufd enabled='yes'/>" }), QAT());
    expect(dom.devices[0]!.blockers[0]!.message).toContain("iommufd backend");
  });

  it("enable-migration=on via <qemu:override> turns the blocker into migration-forced", () => {
    const r = plan(vm({ extra: OVERRIDE_ON() }), QAT());
    expect(blockerCodes(r)).toEqual([]);
    expect(deviceWarnings(r)).toEqual(["migration-forced"]);
    expect(r.hosts[0]!.status).toBe("full");
  });

  it("enable-migration=on via -global on the command line, and =off is migration-disabled", () => {
    expect(deviceWarnings(plan(vm({ extra: GLOBAL("on") }), QAT()))).toEqual(["migration-forced"]);
    const off = plan(vm({ extra: GLOBAL("off") }), nic(PF, VFS));
    expect(blockerCodes(off)).toEqual(["migration-disabled"]);
  });

  it("the driver model in the domain XML decides when the node device shows no driver", () => {
    const r = plan(
      vm({ hostdevDriver: "<driver model='qat_vfio_pci'/>" }),
      QAT(null).map((d) => d),
    );
    // no driver on the source node device: no migration evidence, and the model has no DMA logging
    expect(blockerCodes(r)).toEqual(["migration-support-unknown", "dirty-tracking-unavailable"]);
  });
});

describe("P2P (hw/vfio/migration.c vfio_block_multiple_devices_migration)", () => {
  it("two hisi_acc VFs: p2p-unsupported even with migration forced", () => {
    const r = plan(vm({ vfs: 2, extra: GLOBAL("on") }), HISI());
    expect([...new Set(blockerCodes(r))]).toEqual(["p2p-unsupported"]);
    expect(deviceWarnings(r)).toEqual(["migration-forced", "migration-forced"]);
    expect(r.hosts[0]!.status).toBe("none");
  });

  it("two mlx5 VFs: all P2P known, no warning; an mdev next to a VF: unverified warning", () => {
    const two = plan(vm({ vfs: 2 }), nic(PF, VFS));
    expect(vmWarnings(two)).not.toContain("multi-device-p2p-unverified");
    expect(two.hosts[0]!.status).toBe("full");
    const mixed = plan(vm({ mdev: true }), [
      gpu(GPU, 2),
      mdevDev({ uuid: M1, parentAddr: GPU, type: "nvidia-558" }),
      ...nic(PF, VFS),
    ]);
    expect(vmWarnings(mixed)).toContain("multi-device-p2p-unverified");
  });
});

describe("ramfb (hw/core/machine.c hw_compat_8_1 x-ramfb-migrate=off)", () => {
  const devs = [gpu(GPU, 2), mdevDev({ uuid: M1, parentAddr: GPU, type: "nvidia-558" })];
  it("machine type 8.1: warning ramfb-not-migrated, QEMU does not block", () => {
    const r = plan(vm({ vfs: 0, mdev: true, ramfb: true, machine: "pc-q35-8.1" }), devs, {
      dstDevices: [gpu(GPU, 4)],
    });
    expect(vmWarnings(r)).toContain("ramfb-not-migrated");
    expect(r.hosts[0]!.status).toBe("full");
  });
  it("machine type 8.2 migrates ramfb: no warning", () => {
    const r = plan(vm({ vfs: 0, mdev: true, ramfb: true, machine: "pc-q35-8.2" }), devs, {
      dstDevices: [gpu(GPU, 4)],
    });
    expect(vmWarnings(r)).not.toContain("ramfb-not-migrated");
  });
});

describe("version gates: floors and distribution backports", () => {
  const RHEL94: HostVersions = {
    libvirt: "10.0.0",
    hypervisorType: "QEMU",
    hypervisorVersion: "8.2.0",
    kernel: "5.14.0-427.13.1.el9_4.x86_64",
  };
  const vgpu = [gpu(GPU, 2), mdevDev({ uuid: M1, parentAddr: GPU, type: "nvidia-558" })];
  const vgpuVm = vm({ vfs: 0, mdev: true });

  it("RHEL 9.4 (5.14.0-427.el9_4, libvirt 10.0, QEMU 8.2.0): an NVIDIA vGPU mdev is full by the backport row", () => {
    const r = plan(vgpuVm, vgpu, { dstDevices: [gpu(GPU, 4)], versions: RHEL94 });
    expect(blockerCodes(r)).toEqual([]);
    expect(r.hosts[0]!.status).toBe("full");
    expect(r.hosts[0]!.gates?.join("\n")).toContain("backport row rhel-9.4-kernel-vfio-migration");
    expect(r.devices[0]!.gates?.join("\n")).toContain("backport row rhel-9.4-kernel-vfio-migration");
  });

  it("RHEL 9.3 (5.14.0-362) is below the floor and no backport row: kernel-too-old", () => {
    const r = plan(vgpuVm, vgpu, {
      dstDevices: [gpu(GPU, 4)],
      versions: { ...RHEL94, kernel: "5.14.0-362.8.1.el9_3.x86_64" },
    });
    expect(blockerCodes(r)).toEqual(["kernel-too-old"]);
    expect(r.devices[0]!.blockers[0]!.rule).toBe("floor");
  });

  it("libvirt 8.5.0 passes the mdev floor only on a RHEL 9 host", () => {
    const el9 = plan(vgpuVm, vgpu, { dstDevices: [gpu(GPU, 4)], versions: { ...RHEL94, libvirt: "8.5.0" } });
    expect(el9.hosts[0]!.status).toBe("full");
    expect(el9.hosts[0]!.gates?.join("\n")).toContain("rhel-9.1-libvirt-8.5-hostdev-migration");
    const deb = plan(vgpuVm, vgpu, {
      dstDevices: [gpu(GPU, 4)],
      versions: { ...NEW_QEMU, libvirt: "8.5.0", kernel: "6.1.0-18-amd64" },
    });
    expect(blockerCodes(deb)).toEqual(["libvirt-too-old"]);
  });

  it("a pre-bound managed='no' variant VF needs libvirt 8.6, not 10.0", () => {
    const v9: HostVersions = { ...NEW_QEMU, libvirt: "9.0.0", hypervisorVersion: "8.2.2" };
    const prebound = plan(vm({ managed: "no" }), nic(PF, VFS), { versions: v9 });
    expect(blockerCodes(prebound)).toEqual([]);
    expect(prebound.hosts[0]!.status).toBe("full");
    const managed = plan(vm(), nic(PF, VFS), { versions: v9 });
    expect(blockerCodes(managed)).toEqual(["libvirt-too-old"]);
  });
});

describe("no IOMMU group: not assignable", () => {
  it("a destination whose dump has no <iommuGroup> (IOMMU off) is iommu-group-unknown, not full", () => {
    const noGroups = [
      pciDev({ addr: PF, vendor: "15b3", product: "101d", driver: "mlx5_core", vfs: VFS, iommu: null }),
      ...VFS.map((a) =>
        pciDev({ addr: a, vendor: "15b3", product: "101e", driver: "mlx5_vfio_pci", pf: PF, iommu: null }),
      ),
    ];
    const r = plan(vm(), nic(PF, VFS), { dstDevices: noGroups });
    expect(r.hosts[0]!.status).toBe("none");
    expect(unassigned(r)).toEqual(["iommu-group-unknown"]);
  });
});

describe("driver table in the IOMMU-group check", () => {
  it("nvgrace_gpu_vfio_pci and ism_vfio_pci group members keep the group viable", () => {
    for (const member of ["nvgrace_gpu_vfio_pci", "ism_vfio_pci", "xe-vfio-pci"]) {
      const other = "0000:5e:00.7";
      const dst = [
        pciDev({ addr: PF, vendor: "15b3", product: "101d", driver: "mlx5_core", vfs: VFS }),
        pciDev({
          addr: VFS[0]!,
          vendor: "15b3",
          product: "101e",
          driver: "mlx5_vfio_pci",
          pf: PF,
          iommu: { number: 7, members: [VFS[0]!, other] },
        }),
        pciDev({
          addr: other,
          vendor: "10de",
          product: "2342",
          driver: member,
          iommu: { number: 7, members: [VFS[0]!, other] },
        }),
      ];
      const r = plan(vm(), nic(PF, VFS), { dstDevices: dst });
      expect(r.hosts[0]!.status, member).toBe("full");
    }
  });
});

/** The same rules through the CLI, from dump directories and libvirt's test driver. */
describe("CLI: dump directories", () => {
  let dir = "";
  beforeAll(() => {
    dir = tempDir("hdplan-qemu-rules-");
  });
  const run = (name: string, domain: string, devices: string[]) => {
    const root = join(dir, name);
    const src = writeDump(root, "src", { devices, versions: { ...NEW_QEMU, kernel: "6.19.0" } });
    const dst = writeDump(root, "dst", { devices, versions: { ...NEW_QEMU, kernel: "6.19.0" } });
    const file = join(root, "vm.xml");
    writeFileSync(file, domain);
    const r = hdplan(["plan", "--domain", file, "--source", src, "--host", dst, "--format", "json"]);
    return { ...r, json: r.stdout ? JSON.parse(r.stdout) : null };
  };
  const codesOf = (j: { devices: { blockers: { code: string }[] }[] }) =>
    j.devices.flatMap((d) => d.blockers.map((b) => b.code));

  it("vIOMMU, dirty tracking, P2P: blockers, exit 1", () => {
    const cases: [string, string, string[], string[]][] = [
      ["viommu", vm({ devices: VIOMMU }), nic(PF, VFS), ["viommu-blocks-migration"]],
      ["qat", vm(), QAT(), ["dirty-tracking-unavailable"]],
      ["xe", vm(), XE(), ["dirty-tracking-unavailable"]],
      ["hisi2", vm({ vfs: 2, extra: GLOBAL("on") }), HISI(), ["p2p-unsupported", "p2p-unsupported"]],
    ];
    for (const [name, domain, devs, want] of cases) {
      const r = run(name, domain, devs);
      expect(r.code, `${name}: ${r.stderr}`).toBe(1);
      expect(codesOf(r.json), name).toEqual(want);
      expect(r.json.hosts[0].status).toBe("none");
    }
  });

  it("a dump directory without <iommuGroup> is iommu-group-unknown (exit 1)", () => {
    const root = join(dir, "nogroup");
    const src = writeDump(root, "src", { devices: nic(PF, VFS) });
    const noGroups = [
      pciDev({ addr: PF, vendor: "15b3", product: "101d", driver: "mlx5_core", vfs: VFS, iommu: null }),
      ...VFS.map((a) =>
        pciDev({ addr: a, vendor: "15b3", product: "101e", driver: "mlx5_vfio_pci", pf: PF, iommu: null }),
      ),
    ];
    const dst = writeDump(root, "dst", { devices: noGroups });
    const file = join(root, "vm.xml");
    writeFileSync(file, vm());
    const r = hdplan(["plan", "--domain", file, "--source", src, "--host", dst, "--format", "json"]);
    expect(r.code, r.stderr).toBe(1);
    const h = JSON.parse(r.stdout).hosts[0];
    expect(h.unassigned[0].reasons.map((x: { code: string }) => x.code)).toEqual(["iommu-group-unknown"]);
  });

  it("forced migration: full with migration-forced, exit 0; --explain names the rule", () => {
    const r = run("forced", vm({ extra: OVERRIDE_ON() }), QAT());
    expect(r.code).toBe(0);
    expect(r.json.devices[0].warnings.map((w: { code: string }) => w.code)).toEqual(["migration-forced"]);
    const root = join(dir, "forced");
    const t = hdplan([
      "plan",
      "--domain",
      join(root, "vm.xml"),
      "--source",
      join(root, "src"),
      "--host",
      join(root, "dst"),
      "--explain",
    ]);
    expect(t.stdout).toContain("warning migration-forced:");
    expect(t.stdout).toContain("hw/vfio/migration.c");
  });
});

describe("CLI: --explain names the deciding gate rule", () => {
  it("RHEL 9.4 dump directory: full, and the explain output names the backport row", () => {
    const root = tempDir("hdplan-backport-");
    const v: HostVersions = {
      libvirt: "10.0.0",
      hypervisorType: "QEMU",
      hypervisorVersion: "8.2.0",
      kernel: "5.14.0-427.13.1.el9_4.x86_64",
    };
    const devs = [gpu(GPU, 2), mdevDev({ uuid: M1, parentAddr: GPU, type: "nvidia-558" })];
    const src = writeDump(root, "src", { devices: devs, versions: v });
    const dst = writeDump(root, "rhel94", { devices: [gpu(GPU, 4)], versions: v });
    const file = join(root, "vm.xml");
    writeFileSync(file, vm({ vfs: 0, mdev: true }));
    const r = hdplan(["plan", "--domain", file, "--source", src, "--host", dst, "--explain"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Best: rhel94");
    expect(r.stdout).toMatch(
      /gate: destination rhel94: kernel 5\.14\.0-427\.13\.1\.el9_4\.x86_64 < 5\.18 floor for mdev, passed by backport row rhel-9\.4-kernel-vfio-migration/,
    );
    expect(r.stdout).toContain("gate: destination rhel94: QEMU 8.2.0 against the mdev floor 8.1.0");
  });
});

const RUN = libvirtAvailable();

describe.skipIf(!RUN)("CLI: libvirt test driver", () => {
  it("vIOMMU and a <driver model> without DMA logging block the VM from test:/// hosts", () => {
    const dir = tempDir("hdplan-qemu-rules-td-");
    // The test driver drops node device drivers: the domain's <driver model> and a
    // migratable=1 descriptor are the evidence.
    const devices = QAT(null);
    const domViommu = vm({ type: "test", devices: "<iommu model='intel'/>" });
    const domModel = vm({ type: "test", hostdevDriver: "<driver model='qat_vfio_pci'/>" });
    const desc = join(dir, "desc");
    mkdirSync(desc);
    writeFileSync(join(desc, "qat.conf"), "device_api=vfio-pci\ndevice_id=80864941\nmigratable=1\n");
    for (const [name, dom, want] of [
      ["viommu", domViommu, "viommu-blocks-migration"],
      ["model", domModel, "dirty-tracking-unavailable"],
    ] as const) {
      const src = writeTestHost(dir, `${name}-src`, [...devices, dom]);
      const dst = writeTestHost(dir, `${name}-dst`, devices);
      const r = hdplan([
        "plan",
        "--domain",
        "vm1",
        "--source",
        src,
        "--host",
        dst,
        "--descriptors",
        desc,
        "--format",
        "json",
      ]);
      expect(r.code, r.stderr).toBe(1);
      const j = JSON.parse(r.stdout);
      expect(j.devices[0].blockers.map((b: { code: string }) => b.code)).toEqual([want]);
    }
  });

  it("a test-driver destination whose PCI functions have no IOMMU group: iommu-group-unknown", () => {
    const dir = tempDir("hdplan-qemu-rules-iommu-");
    const withGroups = nic(PF, VFS);
    const noGroups = [
      pciDev({ addr: PF, vendor: "15b3", product: "101d", vfs: VFS, iommu: null }),
      ...VFS.map((a) => pciDev({ addr: a, vendor: "15b3", product: "101e", pf: PF, iommu: null })),
    ];
    const desc = join(dir, "desc");
    mkdirSync(desc);
    writeFileSync(join(desc, "vf.conf"), "device_api=vfio-pci\ndevice_id=15b3101e\nmigratable=1\n");
    const src = writeTestHost(dir, "src", [...withGroups, vm({ type: "test" })]);
    const dst = writeTestHost(dir, "dst", noGroups);
    const ok = writeTestHost(dir, "ok", withGroups);
    const r = hdplan([
      "plan",
      "--domain",
      "vm1",
      "--source",
      src,
      "--host",
      dst,
      "--host",
      ok,
      "--descriptors",
      desc,
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const by = Object.fromEntries(j.hosts.map((h: { host: string }) => [h.host, h]));
    expect(by.dst.status).toBe("none");
    expect(by.dst.unassigned[0].reasons.map((x: { code: string }) => x.code)).toEqual([
      "iommu-group-unknown",
    ]);
    expect(by.ok.status).toBe("full");
  });
});
