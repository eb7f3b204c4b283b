/**
 * Whole-VM rules of compat.md §7: what QEMU itself decides when it realizes
 * the VM's VFIO devices (hw/vfio/migration.c vfio_migration_realize), read
 * from the domain XML and the driver table, applied on every host. Blockers
 * go onto the source devices (every host scores 0 for them); warnings onto
 * the device or the VM.
 *
 * QEMU's order in vfio_migration_realize (QEMU 9.x/10.x):
 *   1. enable-migration=off             -> blocker "Migration is disabled for VFIO device"
 *   2. no device and no IOMMU dirty tracking -> with enable-migration=auto a blocker
 *      "VFIO device doesn't support device and IOMMU dirty tracking", with =on a warning
 *   3. several devices, one without P2P -> blocker (vfio_block_multiple_devices_migration)
 *   4. vIOMMU                            -> blocker "Migration is currently not supported with vIOMMU enabled"
 */
import type { DomainFeatures, DomainInfo } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { type VfioDriverInfo, variantDriver } from "./drivers.js";
import { kindOf } from "./kinds/registry.js";
import type { PlannedSource, SourceDevice, UsbSource } from "./types.js";

/** The source devices QEMU realizes as VFIO devices (kindOf(need).vfio). */
type VfioSource = Exclude<PlannedSource, UsbSource>;

const NO_FEATURES: DomainFeatures = { viommu: null, iommufd: false, machine: null, enableMigration: {} };

/** Whether a device counts as a VFIO device for the whole-VM rules (transient teaming is unplugged first). */
export function isVfio(s: SourceDevice): s is VfioSource {
  return s.need !== null && kindOf(s.need).vfio && !s.transient;
}

/** enable-migration forced for this device (alias first, then -global), or null (auto). */
export function forcedMigration(f: DomainFeatures, s: SourceDevice): { value: string; via: string } | null {
  const alias = s.dev.alias;
  if (alias && f.enableMigration[alias]) return f.enableMigration[alias]!;
  if (f.enableMigration["*"]) return f.enableMigration["*"]!;
  // libvirt realizes an mdev with ramfb='on' as vfio-pci-nohotplug.
  if (s.dev.kind === "mdev" && s.dev.ramfb === "on" && f.enableMigration["*nohotplug"])
    return f.enableMigration["*nohotplug"]!;
  return null;
}

/** Driver facts for the function(s) a PCI-like device may be on; null entries = unknown. */
function driversOf(s: VfioSource): (VfioDriverInfo | null)[] {
  const fallback = s.dev.driverModel ?? null;
  const names =
    s.need === "network"
      ? s.poolDrivers.length > 0
        ? s.poolDrivers
        : [fallback]
      : s.need === "pci"
        ? [s.driver ?? fallback]
        : [null]; // the vendor driver's kinds (kindOf(need).vendorDriver)
  return names.map((n) => variantDriver(n ?? s.dev.driverModel) ?? null);
}

function push(list: Reason[], r: Reason): void {
  if (!list.some((x) => x.code === r.code)) list.push(r);
}

/** QEMU machine type version ("pc-q35-8.1" -> [8, 1]); null for aliases and distro types. */
export function machineVersion(machine: string | null): [number, number] | null {
  const m = /-(\d+)\.(\d+)$/.exec(machine ?? "");
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * Apply the rules; returns VM-level warnings. `sources` are mutated (blockers,
 * warnings).
 */
export function applyWholeVmRules(domain: DomainInfo, sources: SourceDevice[]): Reason[] {
  const f = domain.features ?? NO_FEATURES;
  const vmWarnings: Reason[] = [];
  const vfio = sources.filter(isVfio);

  for (const s of vfio) {
    const forced = forcedMigration(f, s);
    // 1. hw/vfio/migration.c vfio_migration_realize: enable-migration=off adds a blocker.
    if (forced?.value === "off") {
      push(
        s.blockers,
        reason(
          "migration-disabled",
          `${s.dev.id}: enable-migration=off (${forced.via}): QEMU adds the blocker "Migration is disabled for VFIO device" (hw/vfio/migration.c vfio_migration_realize)`,
        ),
      );
      continue;
    }
    // 2. Dirty tracking. vbasedev->dirty_pages_supported is the DMA-logging probe
    // (hw/vfio/migration.c vfio_dma_logging_supported); vbasedev->iommu_dirty_tracking
    // is set only by the iommufd backend (hw/vfio/iommufd.c iommufd_cdev_autodomains_get,
    // from the host IOMMU's IOMMU_HW_CAP_DIRTY_TRACKING); the legacy container's
    // type1 tracking deliberately does not count. mdevs: the vendor driver decides
    // (NVIDIA vGPU is taken on the vendor's documentation, compat.md §5; the
    // SR-IOV vGPU VFs of NVIDIA's vendor-specific VFIO framework likewise, §8).
    if (kindOf(s.need).vendorDriver) continue;
    const lacking = driversOf(s).filter(
      (d): d is VfioDriverInfo => !!d && !!d.migratesSince && !d.dirtyTracking,
    );
    if (lacking.length === 0) continue;
    const names = [...new Set(lacking.map((d) => d.name))].join(", ");
    const iommufd = s.dev.iommufd === true || f.iommufd;
    const why = iommufd
      ? `${s.dev.id}: ${names} registers no DMA-logging ops (${lacking[0]!.source}); on the iommufd backend QEMU falls back to IOMMU dirty tracking only when the host IOMMU reports IOMMU_HW_CAP_DIRTY_TRACKING (hw/vfio/iommufd.c), which hdplan cannot read: fail-closed`
      : `${s.dev.id}: ${names} registers no DMA-logging ops (${lacking[0]!.source}) and the VM uses the legacy VFIO container (no <driver iommufd='yes'/>): QEMU blocks migration with "VFIO device doesn't support device and IOMMU dirty tracking" (hw/vfio/migration.c vfio_migration_realize)`;
    if (forced?.value === "on") {
      push(
        s.warnings,
        reason(
          "migration-forced",
          `${why}; enable-migration=on is forced (${forced.via}), so QEMU only warns and migrates with every page treated as dirty (long downtime)`,
        ),
      );
    } else {
      push(s.blockers, reason("dirty-tracking-unavailable", why));
    }
  }

  // 3. Several migratable VFIO devices: QEMU 8.2+ needs VFIO_MIGRATION_P2P on all
  // (hw/vfio/migration.c vfio_block_multiple_devices_migration /
  // vfio_multiple_devices_migration_is_supported).
  if (vfio.length > 1) {
    const facts = vfio.flatMap((s) => driversOf(s).map((d) => ({ s, d })));
    const noP2p = facts.filter((x) => x.d?.migratesSince && !x.d.p2p);
    if (noP2p.length > 0) {
      const names = [...new Set(noP2p.map((x) => x.d!.name))].join(", ");
      for (const s of vfio) {
        push(
          s.blockers,
          reason(
            "p2p-unsupported",
            `${domain.name} has ${vfio.length} VFIO devices and ${names} advertises no VFIO_MIGRATION_P2P (${noP2p[0]!.d!.source}): QEMU blocks with "Multiple VFIO devices migration is supported only if all of them support P2P migration" (hw/vfio/migration.c vfio_block_multiple_devices_migration)`,
          ),
        );
      }
    } else if (facts.some((x) => !x.d)) {
      vmWarnings.push(
        reason(
          "multi-device-p2p-unverified",
          `${domain.name} has ${vfio.length} VFIO devices: QEMU >= 8.2 needs P2P support on every one, which libvirt cannot show (${facts
            .filter((x) => !x.d)
            .map((x) => x.s.dev.id)
            .join(", ")} not in the driver table)`,
        ),
      );
    }
  }

  // 4. vIOMMU: hw/vfio/migration.c vfio_migration_realize -> vfio_viommu_preset().
  if (f.viommu && vfio.length > 0) {
    for (const s of vfio) {
      push(
        s.blockers,
        reason(
          "viommu-blocks-migration",
          `${domain.name} has a guest vIOMMU (<iommu model='${f.viommu.model}'>): QEMU adds the blocker "Migration is currently not supported with vIOMMU enabled" for every VFIO device (hw/vfio/migration.c vfio_migration_realize, vfio_viommu_preset). No released QEMU that hdplan can verify lifts it; a proposed series (qemu-devel, Oct-Dec 2025, "vfio/migration: Allow live migration with vIOMMU without VFs using device dirty tracking") would allow it only for devices on the iommufd backend with IOMMU dirty tracking`,
          { model: f.viommu.model },
        ),
      );
    }
  }

  // 5. ramfb: QEMU 8.2 migrates ramfb state only with x-ramfb-migrate (auto);
  // machine types <= 8.1 set it off (hw/core/machine.c hw_compat_8_1
  // { "vfio-pci-nohotplug", "x-ramfb-migrate", "off" }). QEMU adds no blocker
  // (hw/vfio/pci.c vfio_display_migration_needed only skips the subsection):
  // the guest's ramfb boot display is not carried over. A warning, as QEMU behaves.
  const ramfb = sources.filter((s) => s.dev.kind === "mdev" && s.dev.ramfb === "on" && !s.transient);
  if (ramfb.length > 0) {
    const mv = machineVersion(f.machine);
    const ok = mv !== null && (mv[0] > 8 || (mv[0] === 8 && mv[1] >= 2));
    if (!ok) {
      vmWarnings.push(
        reason(
          "ramfb-not-migrated",
          mv
            ? `${ramfb.map((s) => s.dev.id).join(", ")}: ramfb='on' on machine type ${f.machine}: x-ramfb-migrate=off for machine types older than 8.2 (hw/core/machine.c hw_compat_8_1), so QEMU migrates the VM without the ramfb display state; the guest's boot display is lost until it reinitialises`
            : `${ramfb.map((s) => s.dev.id).join(", ")}: ramfb='on' on machine type ${f.machine ?? "(none)"}, whose version hdplan cannot read: QEMU migrates ramfb state only for machine types 8.2 and later (hw/core/machine.c hw_compat_8_1)`,
        ),
      );
    }
  }
  return vmWarnings;
}
