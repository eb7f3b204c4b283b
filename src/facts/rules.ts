/**
 * Vendor version rules of compat.md §7, beside their sources.
 *
 * NVIDIA vGPU manager. The `nvidia` module version is the derived
 * `software_version` of NVIDIA vGPUs (deriveMdevDescriptor), compared by
 * compat.md §3's rule with major = driver branch: 550.127.05 -> 550.144.03
 * yes; -> 550.90.07 (older minor) and -> 535.216.01 (other branch) no.
 * Sources: NVML reports vGPU/pGPU compatibility as limited by the host
 * driver version (nvmlGetVgpuCompatibility, NVML_VGPU_COMPATIBILITY_LIMIT_
 * HOST_DRIVER, NVML API reference "vGPU Migration"); Red Hat's RHEL 10
 * "Live migrating a virtual machine with an attached NVIDIA vGPU" says
 * migration currently fails when the vGPU driver version differs between
 * the hosts. NVIDIA's own table of supported cross-release pairs could not
 * be verified here, so the default is the spec's same-branch rule, which an
 * operator descriptor may widen (a `software_version` section listing the
 * pairs NVIDIA documents) or narrow (e.g. `software_version={v:string:
 * "550.127.05"}` for exact). Unknown on either side is never "compatible":
 * `vgpu-manager-version-unknown` unless --assume-versions.
 *
 * mlx5 VFs. NVIDIA DOCA "SR-IOV Live Migration" (mlx5 VF live migration
 * requirements): "The same PSID must be used on both the source and the
 * target hosts (identical cards, same CAPs and features are needed), and
 * have the same firmware version." Compared exactly (`firmware-mismatch`);
 * unknown on either side is the warning `firmware-unverified`, naming the
 * check. A VF's firmware is its PF's: the facts are read on the PF (mlx5
 * restricts devlink info to PFs, `if (!mlx5_core_is_pf(dev)) return 0;` in
 * mlx5_devlink_info_get).
 */
import type { HostInventory } from "../inventory/types.js";
import type { PciFirmware } from "../model.js";
import { type Reason, reason } from "../reasons.js";

/** mdev types of the NVIDIA vGPU manager. */
export function isNvidiaVgpuType(type: string | undefined): boolean {
  return !!type && type.startsWith("nvidia-");
}

/** Drivers whose VFs need the same firmware and PSID on both hosts. */
export const FIRMWARE_CHECKED_DRIVERS = new Set(["mlx5_vfio_pci"]);

export const MANAGER_VERSION_HOWTO =
  "run 'hdplan inventory' on the host (it reads /sys/module/nvidia/version), or put sys/module/nvidia/version in the dump directory (docs/dump-sys.md), or pass --assume-versions";

export function managerVersionUnknown(role: "source" | "destination", hostKey: string, what: string): Reason {
  return reason(
    "vgpu-manager-version-unknown",
    `${role} ${hostKey}: NVIDIA vGPU manager version unknown for ${what}, so vGPU compatibility cannot be verified; ${MANAGER_VERSION_HOWTO}`,
    { host: hostKey },
  );
}

export function managerVersionMismatch(
  hostKey: string,
  what: string,
  dst: string | undefined,
  src: string | undefined,
  nested: Reason[],
): Reason {
  const first = nested[0]?.message ?? "";
  return reason(
    "vgpu-manager-version-mismatch",
    `${hostKey}: ${what}: destination vGPU manager ${dst ?? "?"} does not accept the source's ${src ?? "?"} (same branch, destination minor >= source minor unless a descriptor says otherwise): ${first}`,
    { reasons: nested, ...(dst ? { accepted: dst } : {}), ...(src ? { source: src } : {}) },
  );
}

/** True when every failing reason is about software_version: the manager version is what differs. */
export function onlyVersionFails(reasons: Reason[]): boolean {
  return reasons.length > 0 && reasons.every((r) => r.key === "software_version");
}

/** The firmware of a PCI function: its own record, else its PF's (VFs share the PF's firmware). */
export function firmwareOf(inv: HostInventory, address: string | undefined): PciFirmware | undefined {
  if (!address) return undefined;
  const fw = inv.facts.firmware;
  if (fw.length === 0) return undefined;
  const own = fw.find((f) => f.address === address);
  if (own) return own;
  const pf = inv.pciByAddr.get(address)?.pci?.physFunction;
  return pf ? fw.find((f) => f.address === pf) : undefined;
}

export interface FirmwareFacts {
  version?: string;
  psid?: string;
}

export function firmwareKnown(f: FirmwareFacts | undefined): f is Required<FirmwareFacts> {
  return !!f?.version && !!f.psid;
}

const FW_HOWTO =
  "run 'hdplan inventory' on the host (sysfs infiniband/*/fw_ver and board_id, or 'devlink -j dev info'), or add them to the dump directory (docs/dump-sys.md)";

export function firmwareUnverified(role: "source" | "destination", hostKey: string, what: string): Reason {
  return reason(
    "firmware-unverified",
    `${role} ${hostKey}: firmware version/PSID of ${what} unknown; the mlx5 check (same PSID and firmware version on both hosts) was not made; ${FW_HOWTO}`,
    { host: hostKey },
  );
}

/** null when both are known and equal (or either is unknown: the caller warns). */
export function firmwareMismatch(
  where: string,
  src: FirmwareFacts | undefined,
  dst: FirmwareFacts | undefined,
): Reason | null {
  if (!firmwareKnown(src) || !firmwareKnown(dst)) return null;
  if (src.psid === dst.psid && src.version === dst.version) return null;
  return reason(
    "firmware-mismatch",
    `${where}: firmware ${dst.version} PSID ${dst.psid}; the source has firmware ${src.version} PSID ${src.psid} (mlx5 VF migration needs the same PSID and firmware version)`,
    { source: `${src.version} ${src.psid}`, accepted: `${dst.version} ${dst.psid}` },
  );
}
