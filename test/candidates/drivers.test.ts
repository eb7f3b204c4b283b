import { describe, expect, it } from "vitest";
import { VFIO_VARIANT_DRIVERS, isVfioDriver, migratingDriver } from "../../src/candidates/drivers.js";
import { pciSourceMigratability } from "../../src/candidates/evidence.js";
import { gateReasons } from "../../src/candidates/versions.js";

describe("VFIO driver capability table", () => {
  it("uses the sysfs names the drivers register", () => {
    const names = VFIO_VARIANT_DRIVERS.map((d) => d.name).sort();
    expect(names).toEqual(
      [
        "hisi_acc_vfio_pci",
        "ism_vfio_pci",
        "mlx5_vfio_pci",
        "nvgrace_gpu_vfio_pci",
        "pds_vfio_pci",
        "qat_vfio_pci",
        "virtio_vfio_pci",
        "xe-vfio-pci",
      ].sort(),
    );
    expect(migratingDriver("xe_vfio_pci")).toBeUndefined();
    expect(migratingDriver("xe-vfio-pci")?.migratesSince).toBe("6.19");
    for (const d of VFIO_VARIANT_DRIVERS) expect(d.source).toMatch(/^drivers\/vfio\/pci\//);
  });

  it("flags: DMA logging only on mlx5 and pds; P2P everywhere migrating but hisi_acc", () => {
    const dirty = VFIO_VARIANT_DRIVERS.filter((d) => d.dirtyTracking).map((d) => d.name);
    expect(dirty.sort()).toEqual(["mlx5_vfio_pci", "pds_vfio_pci"]);
    const noP2p = VFIO_VARIANT_DRIVERS.filter((d) => d.migratesSince && !d.p2p).map((d) => d.name);
    expect(noP2p).toEqual(["hisi_acc_vfio_pci"]);
    expect(migratingDriver("nvgrace_gpu_vfio_pci")).toBeUndefined();
    expect(migratingDriver("ism_vfio_pci")).toBeUndefined();
  });

  it("is a VFIO driver: the table plus vfio-pci, nothing else", () => {
    for (const n of ["vfio-pci", "nvgrace_gpu_vfio_pci", "ism_vfio_pci", "xe-vfio-pci", "qat_vfio_pci"])
      expect(isVfioDriver(n)).toBe(true);
    for (const n of ["xe_vfio_pci", "mlx5_core", "nvidia", null, undefined, ""])
      expect(isVfioDriver(n)).toBe(false);
  });

  it("source evidence: xe-vfio-pci migrates, nvgrace does not", () => {
    expect(pciSourceMigratability("xe-vfio-pci", null, "hostdev0")).toBeNull();
    expect(pciSourceMigratability("nvgrace_gpu_vfio_pci", null, "hostdev0")?.code).toBe(
      "driver-not-migratable",
    );
    expect(pciSourceMigratability("xe_vfio_pci", null, "hostdev0")?.code).toBe("migration-support-unknown");
  });

  it("kernel gate from the table: xe needs 6.19", () => {
    const v = { libvirt: "11.0.0", hypervisorType: "QEMU", hypervisorVersion: "10.0.0", kernel: "6.18.2" };
    const r = gateReasons("pci-variant", v, "h", { assumeVersions: false }, "xe-vfio-pci");
    expect(r.map((x) => x.code)).toEqual(["kernel-too-old"]);
    expect(
      gateReasons("pci-variant", { ...v, kernel: "6.19.0" }, "h", { assumeVersions: false }, "xe-vfio-pci"),
    ).toEqual([]);
  });
});
