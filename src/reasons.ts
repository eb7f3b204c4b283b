/**
 * Every reason code hdplan emits, in one place. Codes are a public interface
 * (cli.md): stable kebab-case, never renamed. `advice` is what the operator
 * can do; docs/reasons.md is generated from this list (node scripts/reason-table.mjs --write).
 */
export interface Reason {
  code: ReasonCode;
  message: string;
  [detail: string]: unknown;
}

export type Level = "host" | "device" | "descriptor" | "warning";

interface CodeInfo {
  level: Level;
  advice: string;
}

export const REASON_CODES = {
  // host level
  "host-unreachable": {
    level: "host",
    advice: "Check the URI, network path, ssh keys and that libvirtd runs.",
  },
  "host-timeout": {
    level: "host",
    advice: "The host did not answer within --timeout; check it or raise --timeout.",
  },
  "source-host": {
    level: "host",
    advice:
      "The --source host is listed among the candidates; it is shown with status 'source' and never ranked.",
  },
  "libvirt-error": {
    level: "host",
    advice: "libvirt returned an error (message included); fix the host or the URI.",
  },
  "planned-for-other-host": {
    level: "host",
    advice: "The XML was written by --write-dest-xml for another host; pass the file written for this host.",
  },
  "libvirt-too-old": {
    level: "device",
    advice: "Upgrade libvirt on that host to the version named in the message.",
  },
  "qemu-too-old": {
    level: "device",
    advice: "Upgrade QEMU on that host to the version named in the message.",
  },
  "kernel-too-old": {
    level: "device",
    advice: "Upgrade the host kernel to the version named in the message.",
  },
  "versions-unknown": {
    level: "device",
    advice: "Add host.json to the dump directory, use a snapshot or live URI, or pass --assume-versions.",
  },
  // device level: source-side blockers (compat.md §5)
  "hostdev-type-not-migratable": {
    level: "device",
    advice: "This kind of assigned device is not supported by hdplan; detach it or use cold migration.",
  },
  "driver-not-migratable": {
    level: "device",
    advice:
      "The device's driver has no VFIO migration support; use a migration-capable variant driver or vendor vGPU.",
  },
  "migration-support-unknown": {
    level: "device",
    advice: "No evidence the device can migrate; provide a descriptor with migratable=1 if it does.",
  },
  "source-device-unknown": {
    level: "device",
    advice: "The device was not found on --source; check --source is the host the VM runs on.",
  },
  // device level: destination-side
  "mdev-type-missing": {
    level: "device",
    advice: "No parent on this host offers the mdev type with the same hardware.",
  },
  "mdev-no-capacity": { level: "device", advice: "Free instances of the type, or pick another host." },
  "pci-device-missing": { level: "device", advice: "No PCI function with the same ids exists on this host." },
  "pci-device-in-use": {
    level: "device",
    advice: "Every matching function is used by a domain or reserved.",
  },
  "iommu-group-not-viable": {
    level: "device",
    advice: "Another device in the IOMMU group is in use or its state is unknown; free the group.",
  },
  "iommu-group-unknown": {
    level: "device",
    advice:
      "The function reports no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu) or re-dump with <iommuGroup>.",
  },
  "pci-device-used-by-host": {
    level: "device",
    advice: "The function has a host network interface that is up, or is a PF with VFs enabled.",
  },
  "pci-device-not-vfio": {
    level: "device",
    advice: "The device is assigned with managed='no' but the function is not bound to a VFIO driver.",
  },
  "network-missing": {
    level: "device",
    advice: "Define and start a hostdev network of that name with functions of the same ids.",
  },
  "network-pool-exhausted": {
    level: "device",
    advice: "Every function of the hostdev network is handed out.",
  },
  "usb-device-missing": {
    level: "device",
    advice: "Attach a USB device with the same vendor:product to the host.",
  },
  "descriptor-mismatch": {
    level: "device",
    advice: "The destination's descriptor does not accept the source device (nested reasons say why).",
  },
  "capacity-taken": {
    level: "device",
    advice: "Candidates exist but other devices of this VM (or other VMs in evacuate) took them.",
  },
  // descriptor reasons (compat.md §3)
  "device-api-mismatch": {
    level: "descriptor",
    advice: "The VFIO device API differs; no migration possible.",
  },
  "field-mismatch": {
    level: "descriptor",
    advice: "A descriptor field differs between source and destination.",
  },
  "field-missing-at-source": {
    level: "descriptor",
    advice: "The destination requires a field the source lacks.",
  },
  "field-unknown-at-destination": {
    level: "descriptor",
    advice: "The source relies on a field the destination does not know (older destination).",
  },
  "version-major-mismatch": {
    level: "descriptor",
    advice: "Major versions differ; use a host with the same major.",
  },
  "version-minor-too-old": {
    level: "descriptor",
    advice: "Upgrade the destination's driver to the source's minor.",
  },
  "version-out-of-range": {
    level: "descriptor",
    advice: "The source version is outside the accepted range.",
  },
  "descriptor-invalid": { level: "descriptor", advice: "Fix the descriptor file at the position named." },
  // warnings
  "kernel-version-unverified": {
    level: "warning",
    advice: "Run `hdplan inventory` on the host itself so the kernel version is recorded.",
  },
  "gates-not-applied": {
    level: "warning",
    advice: "The hypervisor is not QEMU (e.g. libvirt's test driver); version gates were not applied.",
  },
  "mlx5-migratable-unverified": {
    level: "warning",
    advice: "Check `devlink port function ... migratable enable` on the destination PF.",
  },
  "multi-device-p2p-unverified": {
    level: "warning",
    advice: "QEMU >= 8.2 needs P2P support on every VFIO device; libvirt cannot show it. Verify it.",
  },
  "postcopy-unavailable": { level: "warning", advice: "Do not use --postcopy with assigned devices." },
  "descriptor-unused": {
    level: "warning",
    advice: "A descriptor file applied to no device; check its identity keys or folder name.",
  },
  "device-skipped": {
    level: "warning",
    advice: "A node device vanished or failed to read; it was not counted.",
  },
  "matching-truncated": {
    level: "warning",
    advice: "The GPU type-choice search hit its bound; the result is valid but may not be maximal.",
  },
  "nova-managed": {
    level: "warning",
    advice: "The domain is managed by OpenStack Nova; use `openstack server migrate --live`.",
  },
  // whole-VM rules of QEMU (compat.md §7, src/candidates/vmrules.ts)
  "viommu-blocks-migration": {
    level: "device",
    advice:
      "QEMU refuses to migrate VFIO devices behind a guest vIOMMU; remove <iommu> or use cold migration.",
  },
  "dirty-tracking-unavailable": {
    level: "device",
    advice:
      "The driver has no DMA logging and the VM uses the legacy VFIO container; QEMU blocks migration (see the message for the way out).",
  },
  "migration-forced": {
    level: "warning",
    advice:
      "enable-migration=on forces migration without dirty tracking: every page counts as dirty, expect long downtime.",
  },
  "migration-disabled": {
    level: "device",
    advice: "enable-migration=off is set for the device; QEMU blocks migration. Remove the override.",
  },
  "p2p-unsupported": {
    level: "device",
    advice:
      "A driver of this VM lacks VFIO P2P migration; QEMU refuses several VFIO devices then. Detach all but one.",
  },
  "ramfb-not-migrated": {
    level: "warning",
    advice:
      "ramfb state is migrated only on machine types 8.2 and later; the guest's boot display is lost after migration.",
  },
  // vendor versions (compat.md §7, src/facts/rules.ts)
  "vgpu-manager-version-mismatch": {
    level: "device",
    advice:
      "The destination's NVIDIA vGPU manager (nvidia module) is another branch or older; upgrade it, or widen with a descriptor.",
  },
  "vgpu-manager-version-unknown": {
    level: "device",
    advice:
      "Run `hdplan inventory` on the host or add sys/module/nvidia/version to the dump (docs/dump-sys.md), or pass --assume-versions.",
  },
  "firmware-mismatch": {
    level: "device",
    advice: "mlx5 VFs need the same PSID and firmware version on both hosts; update the NIC firmware.",
  },
  // NVIDIA SR-IOV vGPU VFs (compat.md §8, src/vgpuvf)
  "vgpu-type-unknown": {
    level: "device",
    advice:
      "Run `hdplan inventory` on the host or add the VF's nvidia/current_vgpu_type and creatable_vgpu_types to the dump (docs/dump-sys.md).",
  },
  "vgpu-type-not-creatable": {
    level: "device",
    advice: "No free VF carries the vGPU type or can create it; free a VF or a GPU, or pick another host.",
  },
  "vgpu-vf-managed": {
    level: "warning",
    advice:
      "Assign NVIDIA vGPU VFs with managed='no' so libvirt does not rebind them from the nvidia driver.",
  },
  "vgpu-type-not-set": {
    level: "device",
    advice:
      "The destination hook found the planned VF with vGPU type 0: run the printed `echo ID > …/nvidia/current_vgpu_type` on that host (or `hdplan prepare --connect-rw`), or set HDPLAN_HOOK_CREATE=1 so the hook writes it.",
  },
  "vgpu-type-write-failed": {
    level: "device",
    advice:
      "The hook (HDPLAN_HOOK_CREATE=1) could not set the VF's vGPU type, or it did not read back; check the VF's nvidia/creatable_vgpu_types and the nvidia driver log.",
  },
  "firmware-unverified": {
    level: "warning",
    advice:
      "Run `hdplan inventory` on the host or add the PF's infiniband/*/fw_ver and board_id (or devlink-dev-info.json) to the dump.",
  },
  "qemu-blocked": {
    level: "device",
    advice:
      "QEMU itself reports this migration blocker (plan --ask-qemu, query-migrate blocked-reasons); remove what QEMU names or use cold migration.",
  },
} as const satisfies Record<string, CodeInfo>;

export type ReasonCode = keyof typeof REASON_CODES;

export function reason(code: ReasonCode, message: string, details: Record<string, unknown> = {}): Reason {
  return { code, message, ...details };
}

export function isReasonCode(s: string): s is ReasonCode {
  return Object.hasOwn(REASON_CODES, s);
}
