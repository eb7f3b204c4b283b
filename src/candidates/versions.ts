/** Version gates of compat.md §5, per device class and host. */
import type { HostVersions } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { migratingDriver } from "./drivers.js";

export type GateClass = "mdev" | "pci-variant";

export function parseVersion(v: string | undefined): [number, number, number] | null {
  if (!v) return null;
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
  if (!m) return null;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

export function versionAtLeast(v: string | undefined, min: string): boolean | null {
  const a = parseVersion(v);
  const b = parseVersion(min);
  if (!a || !b) return null;
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! > b[i]!;
  }
  return true;
}

export const GATES: Record<GateClass, { libvirt: string; qemu: string; kernel: string }> = {
  mdev: { libvirt: "8.6.0", qemu: "8.1.0", kernel: "5.18" },
  "pci-variant": { libvirt: "10.0.0", qemu: "8.2.2", kernel: "5.18" },
};

export function isQemu(v: HostVersions): boolean {
  return (v.hypervisorType ?? "").toUpperCase() === "QEMU";
}

export function versionsKnown(v: HostVersions): boolean {
  return !!v.libvirt && !!v.hypervisorType && !!v.hypervisorVersion;
}

export interface GateOptions {
  assumeVersions: boolean;
}

/**
 * Gate reasons for one device class on one host (empty = passes). `driver`
 * selects the kernel minimum for PCI variant drivers. `role` names the side.
 */
export function gateReasons(
  cls: GateClass,
  v: HostVersions,
  hostKey: string,
  opts: GateOptions,
  driver?: string,
  role: "source" | "destination" = "destination",
): Reason[] {
  if (!versionsKnown(v)) {
    if (opts.assumeVersions) return [];
    return [
      reason(
        "versions-unknown",
        `${role} ${hostKey}: libvirt/hypervisor versions unknown; cannot verify ${cls} migration support (pass --assume-versions to assume new enough)`,
        { host: hostKey },
      ),
    ];
  }
  if (!isQemu(v)) return []; // gates do not apply; the host carries gates-not-applied
  const g = GATES[cls];
  const out: Reason[] = [];
  if (versionAtLeast(v.libvirt, g.libvirt) !== true) {
    out.push(
      reason(
        "libvirt-too-old",
        `${role} ${hostKey}: libvirt ${v.libvirt} < ${g.libvirt} needed for ${cls} migration`,
        {
          host: hostKey,
          have: v.libvirt,
          need: g.libvirt,
        },
      ),
    );
  }
  if (versionAtLeast(v.hypervisorVersion, g.qemu) !== true) {
    out.push(
      reason(
        "qemu-too-old",
        `${role} ${hostKey}: QEMU ${v.hypervisorVersion} < ${g.qemu} needed for ${cls} migration`,
        {
          host: hostKey,
          have: v.hypervisorVersion,
          need: g.qemu,
        },
      ),
    );
  }
  const kmin = (cls === "pci-variant" && migratingDriver(driver)?.migratesSince) || g.kernel;
  if (v.kernel && versionAtLeast(v.kernel, kmin) !== true) {
    out.push(
      reason(
        "kernel-too-old",
        `${role} ${hostKey}: kernel ${v.kernel} < ${kmin} needed for ${driver ?? cls} migration`,
        {
          host: hostKey,
          have: v.kernel,
          need: kmin,
        },
      ),
    );
  }
  return out;
}
