/** Positive-evidence rules of compat.md §5 for mdev types and PCI drivers. */
import type { DescriptorData } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { migratingDriver, variantDriver } from "./drivers.js";

/** mdev types of vendor drivers known to implement mdev migration. */
const MIGRATING_MDEV_PREFIXES = ["nvidia-"];
/** In-tree mdev drivers without migration support. */
const IN_TREE_MDEV_PREFIXES = ["i915-", "vfio_ccw", "vfio_ap", "mtty", "mdpy", "mbochs"];

export function mdevMigratability(type: string, d: DescriptorData | null, where: string): Reason | null {
  const m = d?.self.migratable;
  if (m === "0")
    return reason("driver-not-migratable", `${where}: descriptor says migratable=0 for mdev type ${type}`);
  if (m === "1" || d?.self.software_version !== undefined) return null;
  if (MIGRATING_MDEV_PREFIXES.some((p) => type.startsWith(p))) return null;
  if (IN_TREE_MDEV_PREFIXES.some((p) => type.startsWith(p))) {
    return reason(
      "driver-not-migratable",
      `${where}: mdev type ${type} belongs to an in-tree mdev driver without migration support`,
    );
  }
  return reason(
    "migration-support-unknown",
    `${where}: no evidence that mdev type ${type} can migrate (no descriptor with migratable=1 or software_version)`,
  );
}

export function pciSourceMigratability(
  driver: string | null,
  d: DescriptorData | null,
  where: string,
): Reason | null {
  const m = d?.self.migratable;
  if (m === "0") return reason("driver-not-migratable", `${where}: descriptor says migratable=0`);
  if (m === "1") return null;
  if (migratingDriver(driver)) return null;
  const known = variantDriver(driver);
  if (known) {
    // In the driver table without migration support (no mig_ops): QEMU adds
    // "VFIO device doesn't support migration" (hw/vfio/migration.c).
    return reason(
      "driver-not-migratable",
      `${where} is bound to ${known.name}, a VFIO variant driver without migration support (${known.source})`,
    );
  }
  if (driver === "vfio-pci") {
    return reason(
      "driver-not-migratable",
      `${where} is bound to plain vfio-pci: QEMU reports "VFIO device doesn't support migration"`,
    );
  }
  if (driver === null) {
    return reason(
      "migration-support-unknown",
      `${where}: driver unknown (no <driver> in its node device XML); add a descriptor with migratable=1 if it migrates`,
    );
  }
  return reason(
    "migration-support-unknown",
    `${where} is bound to ${driver}, not a VFIO variant driver with migration`,
  );
}
