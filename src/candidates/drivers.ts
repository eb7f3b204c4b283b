/**
 * VFIO driver capability table: the one home of driver facts (compat.md §5, §7).
 *
 * Every VFIO PCI variant driver in Linux drivers/vfio/pci/ (read at
 * torvalds/linux master, late 2026), keyed by the name the driver registers
 * in `struct pci_driver .name`, which is what sysfs (and so libvirt's node
 * device `<driver><name>`) shows. Most drivers register KBUILD_MODNAME, which
 * kbuild derives from the module's object name with every '-' turned into '_'
 * (scripts/Makefile.lib `name-fix-token`): `mlx5-vfio-pci.o` -> `mlx5_vfio_pci`.
 * xe registers the literal string "xe-vfio-pci", hence its hyphens.
 *
 * Flags, each read from the driver source:
 * - `dirtyTracking`: the driver sets `vdev->log_ops` (VFIO DMA logging, i.e.
 *   device dirty tracking). QEMU probes it with
 *   VFIO_DEVICE_FEATURE_DMA_LOGGING_START (hw/vfio/migration.c
 *   vfio_dma_logging_supported); without it, and without IOMMU dirty tracking
 *   (iommufd backend only), QEMU blocks migration with
 *   enable-migration=auto.
 * - `p2p`: `migration_flags` includes VFIO_MIGRATION_P2P; QEMU >= 8.2 migrates
 *   several VFIO devices only when all have it
 *   (hw/vfio/migration.c vfio_block_multiple_devices_migration).
 * - `migratesSince`: the first kernel whose driver implements VFIO migration
 *   (null: the driver has no migration at all).
 */

export interface VfioDriverInfo {
  /** sysfs driver name (`struct pci_driver .name`). */
  name: string;
  /** Kernel files the row was read from. */
  source: string;
  /** First kernel that migrates it; null = no VFIO migration in this driver. */
  migratesSince: string | null;
  /** Registers DMA logging ops (device dirty tracking). */
  dirtyTracking: boolean;
  /** Advertises VFIO_MIGRATION_P2P. */
  p2p: boolean;
  /** What else must hold for migration to be offered (not verifiable by hdplan). */
  conditions: string[];
}

export const VFIO_VARIANT_DRIVERS: readonly VfioDriverInfo[] = [
  {
    name: "mlx5_vfio_pci",
    source:
      "drivers/vfio/pci/mlx5/main.c (.name = KBUILD_MODNAME, Makefile mlx5-vfio-pci.o); drivers/vfio/pci/mlx5/cmd.c mlx5vf_cmd_set_migratable (STOP_COPY|P2P|PRE_COPY; log_ops when MLX5_CAP_GEN(adv_virtualization))",
    migratesSince: "5.18",
    dirtyTracking: true,
    p2p: true,
    conditions: [
      "the VF's firmware reports the migration and adv_virtualization capabilities",
      "'devlink port function ... migratable enable' on the PF",
    ],
  },
  {
    name: "hisi_acc_vfio_pci",
    source:
      "drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.c (.name = KBUILD_MODNAME; hisi_acc_vfio_pci_migrn_init_dev: STOP_COPY only, no P2P, no log_ops; hisi_acc_vfio_pci_probe)",
    migratesSince: "5.19",
    dirtyTracking: false,
    p2p: false,
    conditions: ["a VF whose PF's QM is QM_HW_V3 or later (hisi_acc_vfio_pci_probe)"],
  },
  {
    name: "pds_vfio_pci",
    source:
      "drivers/vfio/pci/pds/pci_drv.c (.name = KBUILD_MODNAME, Makefile pds-vfio-pci.o); drivers/vfio/pci/pds/vfio_dev.c pds_vfio_init_device (STOP_COPY|P2P, log_ops = pds_vfio_log_ops)",
    migratesSince: "6.7",
    dirtyTracking: true,
    p2p: true,
    conditions: [],
  },
  {
    name: "qat_vfio_pci",
    source:
      'drivers/vfio/pci/qat/main.c (.name = "qat_vfio_pci"; qat_vf_pci_init_dev: STOP_COPY|P2P|PRE_COPY, no log_ops)',
    migratesSince: "6.10",
    dirtyTracking: false,
    p2p: true,
    conditions: [],
  },
  {
    name: "virtio_vfio_pci",
    source:
      "drivers/vfio/pci/virtio/main.c (.name = KBUILD_MODNAME, Makefile virtio-vfio-pci.o; virtiovf_pci_probe); drivers/vfio/pci/virtio/migrate.c virtiovf_set_migratable (STOP_COPY|P2P|PRE_COPY, no log_ops); Kconfig: 'relies on dirty page tracking provided by the IOMMU hardware and exposed through IOMMUFD'",
    migratesSince: "6.13",
    dirtyTracking: false,
    p2p: true,
    conditions: [
      "a VF whose PF supports the virtio admin 'dev parts' commands (virtio_pci_admin_has_dev_parts); virtio-net since 6.13, virtio-blk since 6.15",
    ],
  },
  {
    name: "xe-vfio-pci",
    source:
      'drivers/vfio/pci/xe/main.c (.name = "xe-vfio-pci"; xe_vfio_pci_migration_init: STOP_COPY|P2P, no log_ops)',
    migratesSince: "6.19",
    dirtyTracking: false,
    p2p: true,
    conditions: [
      "a VF of an Intel Xe PF whose GuC firmware supports VF migration (xe_sriov_vfio_migration_supported; GuC >= 1.27 per the issue, not verified in source by hdplan)",
    ],
  },
  {
    name: "nvgrace_gpu_vfio_pci",
    source:
      "drivers/vfio/pci/nvgrace-gpu/main.c (.name = KBUILD_MODNAME, Makefile nvgrace-gpu-vfio-pci.o; no mig_ops)",
    migratesSince: null,
    dirtyTracking: false,
    p2p: false,
    conditions: [],
  },
  {
    name: "ism_vfio_pci",
    source: "drivers/vfio/pci/ism/main.c (.name = KBUILD_MODNAME, Makefile ism-vfio-pci.o; no mig_ops)",
    migratesSince: null,
    dirtyTracking: false,
    p2p: false,
    conditions: [],
  },
];

const BY_NAME = new Map(VFIO_VARIANT_DRIVERS.map((d) => [d.name, d]));

/** The plain VFIO PCI driver: no migration (drivers/vfio/pci/vfio_pci.c registers "vfio-pci"). */
export const PLAIN_VFIO_PCI = "vfio-pci";

export function variantDriver(name: string | null | undefined): VfioDriverInfo | undefined {
  return name ? BY_NAME.get(name) : undefined;
}

/** A variant driver that implements VFIO migration. */
export function migratingDriver(name: string | null | undefined): VfioDriverInfo | undefined {
  const d = variantDriver(name);
  return d?.migratesSince ? d : undefined;
}

/** "Is this a VFIO driver" (IOMMU group members, managed='no'): the table plus vfio-pci. */
export function isVfioDriver(name: string | null | undefined): boolean {
  return name === PLAIN_VFIO_PCI || (!!name && BY_NAME.has(name));
}
