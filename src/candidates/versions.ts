/** Version gates of compat.md §5, per device class and host. */
import type { HostVersions } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { migratingDriver } from "./drivers.js";

export type GateClass = "mdev" | "pci-variant" | "pci-prebound";

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

/**
 * Version floors (Nova's, compat.md §5). libvirt 10.0.0 for PCI variant
 * drivers is the release that binds the matching variant driver itself for
 * managed='yes' (libvirt NEWS 10.0.0; <driver model>); a function the
 * operator pre-binds (managed='no') needs only what mdevs need from libvirt:
 * 8.6.0, the release whose qemu_migration.c asks QEMU for its blocked-reasons
 * instead of refusing every hostdev.
 */
export const GATES: Record<GateClass, { libvirt: string; qemu: string; kernel: string }> = {
  mdev: { libvirt: "8.6.0", qemu: "8.1.0", kernel: "5.18" },
  "pci-variant": { libvirt: "10.0.0", qemu: "8.2.2", kernel: "5.18" },
  "pci-prebound": { libvirt: "8.6.0", qemu: "8.2.2", kernel: "5.18" },
};

/**
 * Distribution backports that pass a floor (compat.md §7 "Backports"). Each
 * row names what it lifts and where the fact comes from; it is consulted only
 * when the floor fails.
 */
export interface Backport {
  id: string;
  component: "kernel" | "libvirt";
  classes: GateClass[];
  /** Whether this host's versions are the backported build. */
  matches: (v: HostVersions) => boolean;
  what: string;
  source: string;
}

/** RHEL 9 kernel release "5.14.0-N...el9..." with N >= min. */
function rhel9Kernel(min: number): (v: HostVersions) => boolean {
  return (v) => {
    const m = /^5\.14\.0-(\d+)[.\w-]*\.el9/.exec(v.kernel ?? "");
    return !!m && Number(m[1]) >= min;
  };
}

export const BACKPORTS: readonly Backport[] = [
  {
    id: "rhel-9.4-kernel-vfio-migration",
    component: "kernel",
    classes: ["mdev"],
    matches: rhel9Kernel(427),
    what: "RHEL 9.4 and later kernels (5.14.0-427 and later) carry the VFIO migration v2 backports",
    source:
      "Red Hat Enterprise Linux 9.4 release notes and 'Configuring and managing virtualization' (live migration of VMs with NVIDIA vGPU mediated devices); NVIDIA vGPU 17.x release notes list RHEL KVM 9.4 for vGPU migration",
  },
  {
    id: "rhel-9.1-libvirt-8.5-hostdev-migration",
    component: "libvirt",
    classes: ["mdev", "pci-prebound"],
    matches: (v) => v.libvirt === "8.5.0" && rhel9Kernel(0)(v),
    what: "RHEL 9.1 and later ship libvirt 8.5.0 with the backport of the QEMU blocked-reasons hostdev migration check (upstream 8.6.0)",
    source:
      "Red Hat Enterprise Linux 9.1 release notes (libvirt-8.5.0 with VFIO migration support); libvirt src/qemu/qemu_migration.c",
  },
];

function backportFor(
  cls: GateClass,
  component: Backport["component"],
  v: HostVersions,
): Backport | undefined {
  return BACKPORTS.find((b) => b.component === component && b.classes.includes(cls) && b.matches(v));
}

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
  /** Receives one line per rule that decided (floor or backport row), for --explain. */
  notes?: string[],
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
  const libvirtBackport =
    versionAtLeast(v.libvirt, g.libvirt) !== true ? backportFor(cls, "libvirt", v) : undefined;
  notes?.push(
    libvirtBackport
      ? `${role} ${hostKey}: libvirt ${v.libvirt} < ${g.libvirt} floor for ${cls}, passed by backport row ${libvirtBackport.id} (${libvirtBackport.what}; ${libvirtBackport.source})`
      : `${role} ${hostKey}: libvirt ${v.libvirt} against the ${cls} floor ${g.libvirt}`,
  );
  if (!libvirtBackport && versionAtLeast(v.libvirt, g.libvirt) !== true) {
    out.push(
      reason(
        "libvirt-too-old",
        `${role} ${hostKey}: libvirt ${v.libvirt} < ${g.libvirt} needed for ${cls} migration`,
        {
          host: hostKey,
          have: v.libvirt,
          need: g.libvirt,
          rule: "floor",
        },
      ),
    );
  }
  notes?.push(`${role} ${hostKey}: QEMU ${v.hypervisorVersion} against the ${cls} floor ${g.qemu}`);
  if (versionAtLeast(v.hypervisorVersion, g.qemu) !== true) {
    out.push(
      reason(
        "qemu-too-old",
        `${role} ${hostKey}: QEMU ${v.hypervisorVersion} < ${g.qemu} needed for ${cls} migration`,
        {
          host: hostKey,
          have: v.hypervisorVersion,
          need: g.qemu,
          rule: "floor",
        },
      ),
    );
  }
  const kmin = (cls !== "mdev" && migratingDriver(driver)?.migratesSince) || g.kernel;
  const kernelBackport =
    v.kernel && versionAtLeast(v.kernel, kmin) !== true ? backportFor(cls, "kernel", v) : undefined;
  if (v.kernel) {
    notes?.push(
      kernelBackport
        ? `${role} ${hostKey}: kernel ${v.kernel} < ${kmin} floor for ${driver ?? cls}, passed by backport row ${kernelBackport.id} (${kernelBackport.what}; ${kernelBackport.source})`
        : `${role} ${hostKey}: kernel ${v.kernel} against the ${driver ?? cls} floor ${kmin}`,
    );
  }
  if (!kernelBackport && v.kernel && versionAtLeast(v.kernel, kmin) !== true) {
    out.push(
      reason(
        "kernel-too-old",
        `${role} ${hostKey}: kernel ${v.kernel} < ${kmin} needed for ${driver ?? cls} migration`,
        {
          host: hostKey,
          have: v.kernel,
          need: kmin,
          rule: "floor",
        },
      ),
    );
  }
  return out;
}
