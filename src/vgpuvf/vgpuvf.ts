/**
 * NVIDIA SR-IOV vGPU VFs as their own device kind (compat.md §8): source
 * identity and destination candidates. The facts come from src/vgpuvf/read.ts
 * (through HostInventory.facts.vgpuVfs); libvirt shows only a PCI function
 * on the `nvidia` driver, joined to the facts by PCI address.
 *
 * Rules and their sources:
 * - A vGPU is the numeric type written to the VF's nvidia/current_vgpu_type;
 *   a destination VF takes the source's type T when it already carries T and
 *   is unused (preferred: nothing to write), or carries type 0 and lists T in
 *   nvidia/creatable_vgpu_types. Source: compat.md §8 and issue #12, from
 *   NVIDIA's vGPU 17+ documentation for KVM with the vendor-specific VFIO
 *   framework; the file layout is verified in NVIDIA's go-nvlib (nvvfio) and
 *   in operator tooling that writes `echo <id> > .../nvidia/current_vgpu_type`
 *   (e.g. NTNU's OpenStack puppet set-vgpu-types.service); the exact NVIDIA
 *   guide wording was not verified here. Otherwise `vgpu-type-not-creatable`.
 * - The VM holds the VF as <hostdev type='pci' managed='no'>: the VF must stay
 *   on `nvidia` (libvirt's managed='yes' would detach it and bind vfio-pci),
 *   so managed='yes' is the source warning `vgpu-vf-managed`.
 * - Same GPU model: the derived descriptor's device_id is the PF's ids.
 * - Manager version: software_version, by compat.md §7 (src/facts/rules.ts).
 * - Capacity per physical GPU: the PF is the GPU of the one-type-per-GPU rule
 *   (compat.md §6); creatable_vgpu_types already shrinks as the GPU fills.
 *   Heterogeneous mode lifts it per GPU only when a saved `nvidia-smi -q`
 *   reports `vGPU Heterogeneous Mode : Enabled` for that GPU (no sysfs
 *   attribute for it was found; docs/vendor-versions.md): fail-closed.
 */
import { accepts } from "../descriptors/match.js";
import { pciDeviceId } from "../descriptors/derive.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import { managerVersionMismatch, managerVersionUnknown, onlyVersionFails } from "../facts/rules.js";
import { holderText, keyId, reservedAt } from "../inventory/keys.js";
import type { HostInventory } from "../inventory/types.js";
import type {
  DescriptorData,
  InterfaceDevice,
  NodeDevice,
  PciHostdev,
  PciNode,
  VgpuVfFacts,
} from "../model.js";
import { type Reason, reason } from "../reasons.js";
import {
  type KindCandidates,
  Rejections,
  firstFailure,
  withoutKey,
  withoutVersion,
} from "../candidates/kinds/common.js";
import type { Resource, SourceBase, VgpuVfSource } from "../candidates/types.js";
import { typeWriteCommand } from "./read.js";

export const VGPU_VF_DRIVER = "nvidia";

const HOWTO = (addr: string) =>
  `run 'hdplan inventory' on the host (it reads /sys/bus/pci/devices/${addr}/nvidia/), or add sys/bus/pci/devices/${addr}/nvidia/current_vgpu_type and creatable_vgpu_types to the dump directory (docs/dump-sys.md)`;

export function vgpuFactsOf(inv: HostInventory, addr: string | undefined): VgpuVfFacts | undefined {
  if (!addr) return undefined;
  return inv.facts.vgpuVfs?.find((v) => v.address === addr);
}

/** A VF on the nvidia driver, or one the facts list: an SR-IOV vGPU VF. */
export function isVgpuVf(inv: HostInventory, fn: NodeDevice): boolean {
  if (!fn.pci?.physFunction) return false;
  return fn.driver === VGPU_VF_DRIVER || vgpuFactsOf(inv, fn.pci.address) !== undefined;
}

/** The name of type `id` as any VF of the same PF lists it (a typed VF may not list its own type). */
export function typeName(inv: HostInventory, vf: NodeDevice, id: number): string | null {
  const pf = vf.pci?.physFunction;
  const own = vgpuFactsOf(inv, vf.pci?.address)?.creatable?.find((t) => t.id === id);
  if (own) return own.name;
  for (const v of inv.facts.vgpuVfs ?? []) {
    const n = inv.pciByAddr.get(v.address);
    if (n?.pci?.physFunction !== pf) continue;
    const t = v.creatable?.find((x) => x.id === id);
    if (t) return t.name;
  }
  return null;
}

/** {device_api: vfio-pci, device_type: pci, device_id: PF ids, vgpu_type: NAME, software_version: manager}. */
export function deriveVgpuVfDescriptor(
  inv: HostInventory,
  vf: NodeDevice,
  id: number,
  name: string | null,
): DescriptorData {
  const pf = vf.pci?.physFunction ? inv.pciByAddr.get(vf.pci.physFunction) : undefined;
  const self: Record<string, string> = { device_api: "vfio-pci", device_type: "pci" };
  self.device_id = pciDeviceId(pf) ?? "unknown";
  self.vgpu_type = name ?? `id ${id}`;
  if (inv.facts.nvidiaVersion) self.software_version = inv.facts.nvidiaVersion;
  return { self, compatible: [] };
}

/** Source side: identity, descriptor and blockers of a VF vGPU hostdev (compat.md §8). */
export function vgpuVfSource(
  b: SourceBase,
  dev: PciHostdev | InterfaceDevice,
  fn: PciNode,
  src: HostInventory,
  selector: DescriptorSelector,
  assumeVersions: boolean,
): VgpuVfSource {
  const addr = fn.pci.address;
  const warnings: Reason[] = [];
  if (dev.managed) {
    warnings.push(
      reason(
        "vgpu-vf-managed",
        `${dev.id}: NVIDIA vGPU VF ${addr} is assigned with managed='yes'; libvirt would rebind it from nvidia to vfio-pci, which breaks the vGPU: use managed='no'`,
      ),
    );
  }
  const out = { ...b, need: "vgpu-vf" as const, dev, gate: "mdev" as const, driver: fn.driver, warnings };
  const f = vgpuFactsOf(src, addr);
  if (!f || f.currentType === 0) {
    const unknown = reason(
      "vgpu-type-unknown",
      `${dev.id}: VF ${addr} on source ${src.key} is an NVIDIA vGPU VF but its vGPU type is ${f ? "0 (none)" : "unknown"}; ${HOWTO(addr)}`,
      { host: src.key },
    );
    return { ...out, vgpuVf: null, blockers: [unknown] };
  }
  const name = typeName(src, fn, f.currentType);
  const pf = fn.pci.physFunction ? src.pciByAddr.get(fn.pci.physFunction) : undefined;
  const { descriptor, origin } = selector.select(
    src.key,
    deriveVgpuVfDescriptor(src, fn, f.currentType, name),
    undefined,
  );
  const blockers: Reason[] = [];
  if (descriptor.self.migratable === "0") {
    blockers.push(reason("driver-not-migratable", `${dev.id}: descriptor says migratable=0`));
  } else if (descriptor.self.software_version === undefined && !assumeVersions) {
    blockers.push(managerVersionUnknown("source", src.key, `${dev.id} (vGPU VF ${addr})`));
  }
  return {
    ...out,
    vgpuVf: { typeId: f.currentType, typeName: name, pfIds: pciDeviceId(pf) ?? null },
    descriptor,
    descriptorOrigin: origin,
    summary: `vgpu-vf ${addr} type ${f.currentType}${name ? ` ${name}` : ""} (nvidia)`,
    blockers,
  };
}

/**
 * Source side without a source host (the hook on the destination): the type
 * id travels in the planner metadata (`vgpu-type`), the descriptor with it.
 */
export function vgpuVfFromMeta(
  b: SourceBase,
  dev: PciHostdev | InterfaceDevice,
  typeId: number,
  descriptor: DescriptorData,
  assumeVersions: boolean,
): VgpuVfSource {
  const blockers: Reason[] = [];
  if (descriptor.self.software_version === undefined && !assumeVersions) {
    blockers.push(managerVersionUnknown("source", "(planner metadata)", `${dev.id} (vGPU VF)`));
  }
  return {
    ...b,
    need: "vgpu-vf",
    dev,
    gate: "mdev",
    driver: null,
    descriptor,
    descriptorOrigin: "planner-metadata",
    vgpuVf: {
      typeId,
      typeName: descriptor.self.vgpu_type ?? null,
      pfIds: descriptor.self.device_id ?? null,
    },
    summary: `vgpu-vf type ${typeId}${descriptor.self.vgpu_type ? ` ${descriptor.self.vgpu_type}` : ""}`,
    blockers,
  };
}

/** One VF on the destination, as the filters see it. */
export interface VfCandidate {
  host: Pick<HostInventory, "key" | "reserved">;
  address: string;
  /** Its nvidia/ facts; undefined when not read. */
  facts: VgpuVfFacts | undefined;
  want: { typeId: number; typeName: string | null };
}

export type VfFilter = (c: VfCandidate) => Reason | null;

/** Fail-closed: a VF whose current and creatable types were not read cannot take a type. */
export const vfFactsKnown: VfFilter = ({ host, address, facts }) =>
  facts
    ? null
    : reason(
        "vgpu-type-unknown",
        `destination ${host.key}: vGPU VF ${address}: current and creatable types unknown; ${HOWTO(address)}`,
        { host: host.key },
      );

export const vfNotReserved: VfFilter = ({ host, address }) => {
  const why = reservedAt(host.reserved, { kind: "pci", address });
  return why ? reason("pci-device-in-use", `${address} is used by ${holderText(why)}`) : null;
};

/** The VF carries the type, or carries none (0) and lists it in creatable_vgpu_types (compat.md §8). */
export const vfTakesType: VfFilter = ({ host, address, facts: f, want }) => {
  if (!f) return null;
  if (f.currentType === want.typeId) return null;
  if (f.currentType === 0 && (f.creatable ?? []).some((t) => t.id === want.typeId)) return null;
  return reason(
    "vgpu-type-not-creatable",
    f.currentType !== 0
      ? `${host.key}: VF ${address} carries vGPU type ${f.currentType}, not ${want.typeId}`
      : `${host.key}: VF ${address} cannot create vGPU type ${want.typeId}${want.typeName ? ` (${want.typeName})` : ""}: its creatable_vgpu_types ${f.creatable ? `lists ${f.creatable.map((t) => t.id).join(", ") || "nothing"}` : "was not read"}`,
  );
};

export const VGPU_VF_FILTERS: VfFilter[] = [vfFactsKnown, vfNotReserved, vfTakesType];

/** Destination side: the VFs that can take the source's type, best first, or why none can. */
export const vgpuVfCandidates: KindCandidates<VgpuVfSource> = (
  s,
  dc,
  { host, selector, gateOpts, addResource },
) => {
  const want = s.vgpuVf;
  if (!want || !s.descriptor) return;
  const self = s.descriptor.self;
  const found: Resource[] = [];
  const rej = new Rejections();
  let vfs = 0;
  for (const fn of host.pciByAddr.values()) {
    const pf = fn.pci?.physFunction;
    if (!pf || !isVgpuVf(host, fn)) continue;
    vfs++;
    const addr = fn.pci?.address ?? fn.name;
    const f = vgpuFactsOf(host, addr);
    const fail = firstFailure(VGPU_VF_FILTERS, { host, address: addr, facts: f, want });
    if (fail || !f) {
      if (fail) rej.add(fail);
      continue;
    }
    const same = f.currentType === want.typeId;
    // The type name when the source knows it (the destination's own listing of
    // the id must agree); when the source VF's name is unknown (a typed VF need
    // not list its type), both sides compare the numeric id alone.
    const name = want.typeName === null ? null : (typeName(host, fn, want.typeId) ?? want.typeName);
    const { descriptor, origin } = selector.select(
      host.key,
      deriveVgpuVfDescriptor(host, fn, want.typeId, name),
      undefined,
    );
    const versionUnknown =
      self.software_version === undefined || descriptor.self.software_version === undefined;
    const sSelf = versionUnknown ? withoutKey(self, "software_version") : { ...self };
    const res = accepts(versionUnknown ? withoutVersion(descriptor) : descriptor, sSelf);
    if (!res.ok) {
      rej.add(
        onlyVersionFails(res.reasons)
          ? managerVersionMismatch(
              host.key,
              `vGPU VF ${addr}`,
              descriptor.self.software_version,
              self.software_version,
              res.reasons,
            )
          : reason(
              "descriptor-mismatch",
              `${host.key}: vGPU VF ${addr}: ${res.reasons[0]?.message ?? "descriptor does not accept the source"}`,
              { reasons: res.reasons },
            ),
      );
      continue;
    }
    if (versionUnknown && !gateOpts.assumeVersions) {
      rej.add(managerVersionUnknown("destination", host.key, `vGPU VF ${addr}`));
      continue;
    }
    found.push({
      // one resource per (VF, type): the one-type-per-GPU lock below lets only
      // one type of a GPU have capacity, so a VF is never handed out twice
      id: keyId({ kind: "vgpuvf", vf: addr, typeId: want.typeId }),
      capacity: 1,
      cost: same ? 0 : 1,
      // one vGPU type per physical GPU (compat.md §6/§8): the PF is the GPU;
      // in heterogeneous mode (reported per GPU, src/vgpuvf/read.ts
      // parseHeterogeneous) sizes mix on the GPU, so a VF that already carries
      // its type locks only itself; a creation still locks the GPU: with at
      // most one creation per GPU (below) two new sizes never share one
      gpu: same && (host.facts.vgpuHeterogeneous ?? []).includes(pf) ? addr : pf,
      mdevType: `vgpu:${want.typeId}`,
      descriptorOrigin: origin,
      ...(res.binding ? { binding: res.binding } : {}),
      target: {
        kind: "vgpu-vf",
        name: fn.name,
        vf: addr,
        driver: fn.driver,
        typeId: want.typeId,
        // the destination's own name of the type: a resource (VF, type) must
        // not depend on which source asks for it (evacuate and headroom share
        // resources between VMs by id)
        typeName: typeName(host, fn, want.typeId),
        create: !same,
        write: same ? null : typeWriteCommand(addr, want.typeId),
      },
    });
  }
  found.sort((a, b) => a.cost - b.cost || (a.id < b.id ? -1 : 1));
  // Fail-closed capacity: creatable_vgpu_types says that one more vGPU of the
  // type fits on the GPU now, not how many (NVIDIA shrinks the lists only as
  // vGPUs are created; the instance count per GPU is not in sysfs). So a plan
  // creates at most one new vGPU per physical GPU (the first VF by address);
  // VFs that already carry the type are reused without this limit.
  // (a creation's `gpu` is always its PF, see above)
  const creatingOn = new Set<string>();
  const kept = found.filter((r) => {
    if (r.cost === 0 || r.gpu === undefined) return true;
    if (creatingOn.has(r.gpu)) return false;
    creatingOn.add(r.gpu);
    return true;
  });
  for (const r of kept) {
    addResource(r);
    dc.resources.push(r.id);
  }
  if (kept.length > 0) return;
  if (vfs === 0) {
    dc.reasons.push(
      reason(
        "vgpu-type-not-creatable",
        `${host.key}: no NVIDIA vGPU VF (a VF on the nvidia driver) on this host`,
      ),
    );
    return;
  }
  dc.reasons.push(...rej.list());
};
