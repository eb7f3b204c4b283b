import { assignmentsJson } from "../../src/output/json.js";
import { describe, expect, it } from "vitest";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostVersions } from "../../src/model.js";
import { type HostInput, type PlanResult, planDomain } from "../../src/pipeline.js";
import { readDomain } from "../../src/xml/domain.js";
import {
  CX6_VF,
  type HostdevSpec,
  NEW_QEMU,
  domainXml,
  gpu,
  hostdevNetworkXml,
  mdevDev,
  netDev,
  nic,
  pciDev,
  rawHost,
  usbDev,
} from "../helpers/build.js";

const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const B = "4b20d080-1b54-4048-85b3-a6a62d165c02";
const G = "4b20d080-1b54-4048-85b3-a6a62d165c03";
const VM_UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

const SRC_GPU = "0000:3b:00.0";
const SRC_PF = "0000:5e:00.0";
const SRC_VFS = ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4"];

function sourceRaw(extra: string[] = [], versions: HostVersions = NEW_QEMU, networks: string[] = []) {
  return rawHost("src", {
    devices: [
      gpu(SRC_GPU, 2),
      mdevDev({ uuid: A, parentAddr: SRC_GPU, type: "nvidia-558" }),
      mdevDev({ uuid: B, parentAddr: SRC_GPU, type: "nvidia-558" }),
      ...nic(SRC_PF, SRC_VFS),
      pciDev({ addr: "0000:af:00.0", vendor: "10de", product: "1db6", cls: "0x030200", driver: "vfio-pci" }),
      pciDev({
        addr: "0000:00:02.0",
        vendor: "8086",
        product: "591d",
        cls: "0x030000",
        driver: "i915",
        mdevTypes: [{ id: "i915-GVTg_V5_4", available: 1 }],
      }),
      mdevDev({ uuid: G, parentAddr: "0000:00:02.0", type: "i915-GVTg_V5_4" }),
      usbDev({ name: "usb_1_2", vendor: "046d", product: "c52b", bus: 1, device: 2 }),
      ...extra,
    ],
    versions,
    networks,
  });
}

const DST_GPU = "0000:3b:00.0";
const DST_PF = "0000:5e:00.0";
const DST_VFS = ["0000:5e:00.2", "0000:5e:00.3"];

function dest(
  key: string,
  o: { devices?: string[]; domains?: string[]; networks?: string[]; versions?: HostVersions } = {},
) {
  return rawHost(key, {
    devices: o.devices ?? [gpu(DST_GPU, 4), ...nic(DST_PF, DST_VFS)],
    domains: o.domains ?? [],
    networks: o.networks ?? [],
    versions: o.versions ?? NEW_QEMU,
  });
}

const VM: HostdevSpec[] = [
  { kind: "mdev", uuid: A },
  { kind: "mdev", uuid: B },
  { kind: "pci", addr: SRC_VFS[0]! },
];

function plan(
  devs: HostdevSpec[],
  hosts: ReturnType<typeof dest>[],
  o: { assumeVersions?: boolean; source?: ReturnType<typeof sourceRaw>; errors?: HostInput[] } = {},
): PlanResult {
  const domain = readDomain(domainXml("vm1", VM_UUID, devs), "vm1.xml");
  const inputs: HostInput[] = hosts.map((h) => ({ ok: true, inv: buildInventory(h) }));
  return planDomain(
    {
      domain,
      source: buildInventory(o.source ?? sourceRaw()),
      selector: new DescriptorSelector([]),
      opts: { assumeVersions: !!o.assumeVersions, explain: true },
    },
    [...inputs, ...(o.errors ?? [])],
  );
}

function host(r: PlanResult, key: string) {
  const h = r.hosts.find((x) => x.host === key);
  if (!h) throw new Error(`no host ${key}`);
  return h;
}

function codesOf(r: PlanResult, key: string, device: string): string[] {
  return host(r, key)
    .unassigned.filter((u) => u.device === device)
    .flatMap((u) => u.reasons.map((x) => x.code));
}

describe("plan: full host", () => {
  it("assigns every device and ranks it first", () => {
    const r = plan(VM, [dest("a")]);
    const h = host(r, "a");
    expect(h.status).toBe("full");
    expect(h.compatible).toBe(3);
    expect(r.best).toBe("a");
    const mdevs = assignmentsJson(h.assignments).filter((a) => a.target.kind === "mdev");
    expect(mdevs).toHaveLength(2);
    expect(mdevs.every((m) => m.target.create && m.target.parent === "pci_0000_3b_00_0")).toBe(true);
    // UUID rule: the source UUID is free on the destination, so it is kept.
    expect(mdevs.map((m) => m.target.uuid).sort()).toEqual([A, B]);
    expect(assignmentsJson(h.assignments).find((a) => a.device === "pci0")?.target.address).toMatch(
      /^0000:5e:00\.[23]$/,
    );
  });

  it("uses a UUIDv5 when the source UUID exists on the destination", () => {
    const d = dest("a", {
      devices: [
        gpu(DST_GPU, 4),
        mdevDev({ uuid: A, parentAddr: DST_GPU, type: "nvidia-559" }),
        ...nic(DST_PF, DST_VFS),
      ],
      domains: [domainXml("other", "11111111-2222-3333-4444-555555555555", [{ kind: "mdev", uuid: A }])],
    });
    const h = host(plan(VM, [d]), "a");
    const m0 = assignmentsJson(h.assignments).find((a) => a.device === "mdev0")!;
    expect(m0.target.uuid).not.toBe(A);
    expect(m0.target.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("prefers an existing free active mdev over creating one", () => {
    const X = "99999999-1b54-4048-85b3-a6a62d165c01";
    const d = dest("a", {
      devices: [
        gpu(DST_GPU, 4),
        mdevDev({ uuid: X, parentAddr: DST_GPU, type: "nvidia-558" }),
        ...nic(DST_PF, DST_VFS),
      ],
    });
    const h = host(plan(VM, [d]), "a");
    const existing = assignmentsJson(h.assignments).filter(
      (a) => a.target.kind === "mdev" && !a.target.create,
    );
    expect(existing).toHaveLength(1);
    expect(existing[0]!.target.uuid).toBe(X);
  });

  it("never uses a defined-but-inactive mdev or one a domain references", () => {
    const X = "99999999-1b54-4048-85b3-a6a62d165c01";
    const Y = "99999999-1b54-4048-85b3-a6a62d165c02";
    const d = dest("a", {
      devices: [
        gpu(DST_GPU, 0),
        mdevDev({ uuid: X, parentAddr: DST_GPU, type: "nvidia-558", active: false }),
        mdevDev({ uuid: Y, parentAddr: DST_GPU, type: "nvidia-558" }),
        ...nic(DST_PF, DST_VFS),
      ],
      domains: [domainXml("other", "11111111-2222-3333-4444-555555555555", [{ kind: "mdev", uuid: Y }])],
    });
    const r = plan(VM, [d]);
    expect(host(r, "a").assignments.filter((a) => a.target.kind === "mdev")).toHaveLength(0);
    expect(codesOf(r, "a", "mdev0")).toContain("mdev-no-capacity");
  });
});

describe("plan: destination reasons", () => {
  it("mdev-no-capacity when two devices compete for one free instance", () => {
    const r = plan(VM, [dest("b", { devices: [gpu(DST_GPU, 1), ...nic(DST_PF, DST_VFS)] })]);
    const h = host(r, "b");
    expect(h.status).toBe("partial");
    expect(h.compatible).toBe(2);
    expect(h.unassigned.flatMap((u) => u.reasons.map((x) => x.code))).toEqual(["mdev-no-capacity"]);
  });

  it("mdev-type-missing when no parent offers the type", () => {
    const other = pciDev({
      addr: DST_GPU,
      vendor: "10de",
      product: "1eb8",
      cls: "0x030200",
      driver: "nvidia",
      mdevTypes: [{ id: "nvidia-559", available: 4 }],
    });
    const r = plan(VM, [dest("c", { devices: [other, ...nic(DST_PF, DST_VFS)] })]);
    expect(codesOf(r, "c", "mdev0")).toEqual(["mdev-type-missing"]);
  });

  it("descriptor-mismatch when the type exists on other hardware", () => {
    const other = gpu(DST_GPU, 4, 4, { product: "1eb9" });
    const r = plan(VM, [dest("c", { devices: [other, ...nic(DST_PF, DST_VFS)] })]);
    const u = host(r, "c").unassigned.find((x) => x.device === "mdev0")!;
    expect(u.reasons[0]!.code).toBe("descriptor-mismatch");
    expect(JSON.stringify(u.reasons[0])).toContain("device_id");
  });

  it("pci-device-in-use when another domain uses every VF", () => {
    const doms = [
      domainXml(
        "other",
        "11111111-2222-3333-4444-555555555555",
        DST_VFS.map((a) => ({ kind: "pci", addr: a }) as HostdevSpec),
      ),
    ];
    const r = plan(VM, [dest("d", { domains: doms })]);
    expect(codesOf(r, "d", "pci0")).toEqual(["pci-device-in-use"]);
  });

  it("driver-not-migratable when destination VFs are bound to plain vfio-pci", () => {
    const r = plan(VM, [dest("e", { devices: [gpu(DST_GPU, 4), ...nic(DST_PF, DST_VFS, "vfio-pci")] })]);
    expect(codesOf(r, "e", "pci0")).toEqual(["driver-not-migratable"]);
  });

  it("iommu-group-not-viable when a group member is bound to a host driver", () => {
    const vf = pciDev({
      addr: DST_VFS[0]!,
      ...CX6_VF,
      driver: "mlx5_vfio_pci",
      pf: DST_PF,
      iommu: { number: 7, members: [DST_VFS[0]!, "0000:5e:00.7"] },
    });
    const buddy = pciDev({
      addr: "0000:5e:00.7",
      vendor: "8086",
      product: "1234",
      driver: "e1000e",
      iommu: { number: 7, members: [DST_VFS[0]!, "0000:5e:00.7"] },
    });
    const pf = pciDev({
      addr: DST_PF,
      vendor: "15b3",
      product: "101d",
      driver: "mlx5_core",
      vfs: [DST_VFS[0]!],
    });
    const r = plan(VM, [dest("g", { devices: [gpu(DST_GPU, 4), pf, vf, buddy] })]);
    expect(codesOf(r, "g", "pci0")).toEqual(["iommu-group-not-viable"]);
  });

  it("pci-device-used-by-host when a host interface on the VF is up", () => {
    const devices = [
      gpu(DST_GPU, 4),
      ...nic(DST_PF, [DST_VFS[0]!], "mlx5_core"),
      netDev({ parentAddr: DST_VFS[0]!, iface: "ens1f0v0", state: "up" }),
    ];
    const r = plan(VM, [dest("h", { devices })]);
    expect(codesOf(r, "h", "pci0")).toEqual(["pci-device-used-by-host"]);
  });

  it("pci-device-missing when no function has the ids", () => {
    const r = plan(VM, [dest("i", { devices: [gpu(DST_GPU, 4)] })]);
    expect(codesOf(r, "i", "pci0")).toEqual(["pci-device-missing"]);
  });

  it("capacity-taken when two VFs compete for one free function", () => {
    const r = plan(
      [
        { kind: "pci", addr: SRC_VFS[0]! },
        { kind: "pci", addr: SRC_VFS[1]! },
      ],
      [dest("j", { devices: nic(DST_PF, [DST_VFS[0]!]) })],
    );
    const h = host(r, "j");
    expect(h.compatible).toBe(1);
    expect(h.unassigned[0]!.reasons[0]!.code).toBe("capacity-taken");
  });

  it("version gates: qemu-too-old and libvirt-too-old per device class", () => {
    const r = plan(VM, [
      dest("f", {
        versions: { libvirt: "9.0.0", hypervisorType: "QEMU", hypervisorVersion: "7.2.0", kernel: "6.1.0" },
      }),
    ]);
    const h = host(r, "f");
    expect(h.status).toBe("none");
    expect(h.rank).not.toBeNull();
    expect(codesOf(r, "f", "mdev0")).toEqual(["qemu-too-old"]);
    expect(codesOf(r, "f", "pci0")).toEqual(expect.arrayContaining(["libvirt-too-old", "qemu-too-old"]));
  });

  it("kernel-too-old for a variant driver newer than the kernel", () => {
    const r = plan(VM, [dest("k", { versions: { ...NEW_QEMU, kernel: "5.15.0" } })]);
    expect(codesOf(r, "k", "pci0")).toContain("kernel-too-old");
    expect(codesOf(r, "k", "mdev0")).toContain("kernel-too-old");
  });

  it("QEMU 8.1 refuses more than one VFIO device", () => {
    const r = plan(VM, [
      dest("q", {
        versions: { libvirt: "10.5.0", hypervisorType: "QEMU", hypervisorVersion: "8.1.0", kernel: "6.8.0" },
      }),
    ]);
    expect(codesOf(r, "q", "mdev0")).toContain("qemu-too-old");
  });

  it("versions-unknown unless --assume-versions", () => {
    const d = dest("u", { versions: {} });
    expect(host(plan(VM, [d]), "u").status).toBe("none");
    expect(codesOf(plan(VM, [d]), "u", "mdev0")).toEqual(["versions-unknown"]);
    expect(host(plan(VM, [d], { assumeVersions: true }), "u").status).toBe("full");
  });

  it("warns kernel-version-unverified and gates-not-applied", () => {
    const r = plan(VM, [
      dest("nok", { versions: { libvirt: "10.5.0", hypervisorType: "QEMU", hypervisorVersion: "9.0.0" } }),
      dest("test", { versions: { libvirt: "9.0.0", hypervisorType: "Test", hypervisorVersion: "9.0.0" } }),
    ]);
    expect(host(r, "nok").warnings.map((w) => w.code)).toContain("kernel-version-unverified");
    expect(host(r, "test").warnings.map((w) => w.code)).toContain("gates-not-applied");
    expect(host(r, "test").status).toBe("full");
  });

  it("one mdev type per physical GPU", () => {
    const C = "4b20d080-1b54-4048-85b3-a6a62d165c04";
    const src = sourceRaw([mdevDev({ uuid: C, parentAddr: SRC_GPU, type: "nvidia-559" })]);
    const r = plan(
      [
        { kind: "mdev", uuid: A },
        { kind: "mdev", uuid: C },
      ],
      [
        dest("one", { devices: [gpu(DST_GPU, 4, 4)] }),
        dest("two", { devices: [gpu(DST_GPU, 4, 4), gpu("0000:3c:00.0", 4, 4)] }),
      ],
      { source: src },
    );
    expect(host(r, "one").compatible).toBe(1);
    expect(host(r, "two").status).toBe("full");
    expect(r.best).toBe("two");
  });
});

describe("plan: source-side blockers (compat.md §5)", () => {
  it("plain vfio-pci passthrough GPU is driver-not-migratable on every host", () => {
    const r = plan([{ kind: "pci", addr: "0000:af:00.0" }], [dest("a")]);
    expect(r.devices[0]!.blockers.map((b) => b.code)).toEqual(["driver-not-migratable"]);
    expect(codesOf(r, "a", "pci0")).toEqual(["driver-not-migratable"]);
    expect(r.best).toBeNull();
  });

  it("GVT-g mdev is driver-not-migratable", () => {
    const r = plan([{ kind: "mdev", uuid: G }], [dest("a")]);
    expect(r.devices[0]!.blockers[0]!.code).toBe("driver-not-migratable");
  });

  it("unknown driver is migration-support-unknown", () => {
    const src = sourceRaw([pciDev({ addr: "0000:d8:00.1", ...CX6_VF, driver: null })]);
    const r = plan([{ kind: "pci", addr: "0000:d8:00.1" }], [dest("a")], { source: src });
    expect(r.devices[0]!.blockers[0]!.code).toBe("migration-support-unknown");
  });

  it("scsi hostdev is hostdev-type-not-migratable", () => {
    const r = plan([{ kind: "scsi" }], [dest("a")]);
    expect(r.devices[0]!.blockers[0]!.code).toBe("hostdev-type-not-migratable");
  });

  it("a device missing on --source is source-device-unknown", () => {
    const r = plan([{ kind: "mdev", uuid: "00000000-0000-4000-8000-000000000000" }], [dest("a")]);
    expect(r.devices[0]!.blockers[0]!.code).toBe("source-device-unknown");
  });

  it("transient teaming VF on plain vfio-pci migrates but needs a destination function", () => {
    const src = sourceRaw(nic("0000:86:00.0", ["0000:86:00.2"], "vfio-pci"));
    const r = plan(
      [{ kind: "interface", addr: "0000:86:00.2", teaming: "transient" }],
      [dest("a"), dest("nonic", { devices: [gpu(DST_GPU, 4)] })],
      {
        source: src,
      },
    );
    expect(r.devices[0]!.blockers).toEqual([]);
    expect(host(r, "a").status).toBe("full");
    expect(codesOf(r, "nonic", "interface0")).toEqual(["pci-device-missing"]);
  });

  it("VM-wide warnings: multi-device P2P and post-copy", () => {
    const r = plan(VM, [dest("a")]);
    expect(r.warnings.map((w) => w.code)).toEqual(
      expect.arrayContaining(["multi-device-p2p-unverified", "postcopy-unavailable"]),
    );
    expect(r.devices.find((d) => d.id === "pci0")!.warnings.map((w) => w.code)).toContain(
      "mlx5-migratable-unverified",
    );
  });
});

describe("plan: networks and USB", () => {
  const POOL_SRC = ["0000:5e:00.3", "0000:5e:00.4"];
  const src = sourceRaw([], NEW_QEMU, [hostdevNetworkXml("pool", POOL_SRC)]);

  it("network pool with a free function is full; exhausted and missing pools say so", () => {
    const ok = dest("ok", { networks: [hostdevNetworkXml("pool", DST_VFS)] });
    const full = dest("full", {
      networks: [hostdevNetworkXml("pool", DST_VFS)],
      domains: [
        domainXml(
          "o",
          "11111111-2222-3333-4444-555555555555",
          DST_VFS.map((a) => ({ kind: "pci", addr: a }) as HostdevSpec),
        ),
      ],
    });
    const none = dest("none");
    const r = plan([{ kind: "network", network: "pool" }], [ok, full, none], { source: src });
    expect(host(r, "ok").status).toBe("full");
    expect(codesOf(r, "full", "network0")).toEqual(["network-pool-exhausted"]);
    expect(codesOf(r, "none", "network0")).toEqual(["network-missing"]);
  });

  it("usb device present is full, absent is usb-device-missing", () => {
    const withUsb = dest("u1", {
      devices: [usbDev({ name: "usb_2_3", vendor: "046d", product: "c52b", bus: 2, device: 3 })],
    });
    const r = plan([{ kind: "usb", vendor: "046d", product: "c52b" }], [withUsb, dest("u0")]);
    expect(host(r, "u1").status).toBe("full");
    expect(codesOf(r, "u0", "usb0")).toEqual(["usb-device-missing"]);
  });
});

describe("ranking", () => {
  it("orders full, then more compatible, then error hosts last with rank null", () => {
    const r = plan(VM, [dest("b", { devices: [gpu(DST_GPU, 1), ...nic(DST_PF, DST_VFS)] }), dest("a")], {
      errors: [
        {
          ok: false,
          key: "x",
          target: "qemu+ssh://x/system",
          error: { code: "host-unreachable", message: "x: refused" },
        },
      ],
    });
    expect(r.hosts.map((h) => h.host)).toEqual(["a", "b", "x"]);
    expect(r.hosts.map((h) => h.rank)).toEqual([1, 2, null]);
    expect(r.hosts[2]!.status).toBe("error");
  });

  it("ties broken by capacity left, then host key", () => {
    const r = plan(VM, [
      dest("z", { devices: [gpu(DST_GPU, 8), ...nic(DST_PF, DST_VFS)] }),
      dest("y"),
      dest("x"),
    ]);
    expect(r.hosts.map((h) => h.host)).toEqual(["z", "x", "y"]);
  });
});
