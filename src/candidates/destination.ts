/**
 * Destination candidates for each source device on one host: the filter
 * step. Every candidate that is dropped carries a stable reason.
 */
import { derivePciDescriptor, pciDeviceId } from "../descriptors/derive.js";
import { accepts } from "../descriptors/match.js";
import type { DescriptorSelector } from "../descriptors/sources.js";
import type { HostInventory } from "../inventory/types.js";
import type { NodeDevice } from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { mdevMigratability } from "./evidence.js";
import {
  firmwareKnown,
  firmwareMismatch,
  firmwareOf,
  firmwareUnverified,
  isNvidiaVgpuType,
  managerVersionMismatch,
  managerVersionUnknown,
  onlyVersionFails,
} from "../facts/rules.js";
import type { DescriptorData } from "../model.js";
import { vgpuVfCandidates } from "../vgpuvf/vgpuvf.js";
import { destinationMigratable, notInPool, runPciFilters } from "./filters.js";
import { candidatesFor, hostIndex } from "./hostindex.js";
import type { DeviceCandidates, HostCandidates, Resource, SourceDevice } from "./types.js";
import { type GateOptions, gateReasons, isQemu, versionAtLeast } from "./versions.js";

export interface DestinationContext {
  selector: DescriptorSelector;
  gateOpts: GateOptions;
  /** The VM has more than one VFIO device (whole-VM rule of §5). */
  multiVfio: boolean;
}

/** Aggregates rejections: distinct codes, first message each, with counts. */
class Rejections {
  private byCode = new Map<string, { r: Reason; n: number }>();
  add(r: Reason): void {
    const e = this.byCode.get(r.code);
    if (e) e.n++;
    else this.byCode.set(r.code, { r, n: 1 });
  }
  get size(): number {
    return this.byCode.size;
  }
  list(): Reason[] {
    return [...this.byCode.values()].map(({ r, n }) =>
      n > 1 ? { ...r, message: `${r.message} (and ${n - 1} more like it)`, count: n } : r,
    );
  }
}

function descriptorMismatch(what: string, nested: Reason[]): Reason {
  const first = nested[0]?.message ?? "descriptor does not accept the source";
  return reason("descriptor-mismatch", `${what}: ${first}`, { reasons: nested });
}

function withoutKey(self: Record<string, string>, key: string): Record<string, string> {
  const out = { ...self };
  delete out[key];
  return out;
}

/** The descriptor without software_version (self and sections), for a comparison whose version is unknown. */
function withoutVersion(d: DescriptorData): DescriptorData {
  return {
    self: withoutKey(d.self, "software_version"),
    compatible: d.compatible.map((c) => withoutKey(c, "software_version")),
  };
}

export function gpuOf(parent: NodeDevice): string {
  return parent.pci?.physFunction ?? parent.name;
}

export function buildHostCandidates(
  host: HostInventory,
  sources: SourceDevice[],
  ctx: DestinationContext,
): HostCandidates {
  const resources = new Map<string, Resource>();
  const devices: DeviceCandidates[] = [];
  const warnings: Reason[] = [];
  const gateNotes: string[] = [];
  const idx = hostIndex(ctx.selector, host);
  /** Selected descriptor of a PCI function (from the per-host index). */
  const pciDesc = (fn: NodeDevice) => {
    const e = idx.pciByAddr.get(fn.pci!.address);
    if (e) return e;
    const pf = fn.pci?.physFunction ? host.pciByAddr.get(fn.pci.physFunction) : undefined;
    return ctx.selector.select(host.key, derivePciDescriptor(fn, pf), undefined);
  };

  const qemuMulti =
    ctx.multiVfio &&
    isQemu(host.versions) &&
    versionAtLeast(host.versions.hypervisorVersion, "8.2.0") === false;

  for (const s of sources) {
    const dc: DeviceCandidates = { deviceId: s.dev.id, resources: [], reasons: [] };
    devices.push(dc);
    if (s.blockers.length > 0 || !s.need) {
      dc.reasons.push(...s.blockers);
      continue;
    }
    if (s.gate) {
      const notes: string[] = [];
      const g = gateReasons(
        s.gate,
        host.versions,
        host.key,
        ctx.gateOpts,
        s.gateDriver,
        "destination",
        notes,
      );
      for (const n of notes) if (!gateNotes.includes(n)) gateNotes.push(n);
      if (qemuMulti && !s.transient && !g.some((r) => r.code === "qemu-too-old")) {
        g.push(
          reason(
            "qemu-too-old",
            `destination ${host.key}: QEMU ${host.versions.hypervisorVersion} refuses to migrate a VM with more than one VFIO device (8.2+ needed)`,
          ),
        );
      }
      if (g.length > 0) {
        dc.reasons.push(...g);
        continue;
      }
    }
    switch (s.need) {
      case "mdev":
        mdevCandidates(s, dc);
        break;
      case "pci":
        pciCandidates(s, dc);
        break;
      case "network":
        networkCandidates(s, dc);
        break;
      case "usb":
        usbCandidates(s, dc);
        break;
      case "vgpu-vf": {
        const v = vgpuVfCandidates(host, s, ctx.selector, ctx.gateOpts.assumeVersions);
        for (const r of v.resources) {
          addResource(r);
          dc.resources.push(r.id);
        }
        dc.reasons.push(...v.reasons);
        break;
      }
    }
  }
  return { hostKey: host.key, resources, devices, warnings, gateNotes };

  function addResource(r: Resource): void {
    if (!resources.has(r.id)) resources.set(r.id, r);
  }

  function mdevCandidates(s: SourceDevice, dc: DeviceCandidates): void {
    const self = s.descriptor!.self;
    const rej = new Rejections();
    let closest: Reason[] | null = null;
    let sameType = 0;
    let accepted = 0;
    let closestVersion: string | undefined;
    const nvidia = isNvidiaVgpuType(s.mdevType);
    const existing: Resource[] = [];
    const pools: Resource[] = [];
    for (const { parent, type: t, descriptor, origin } of candidatesFor(idx.mdevByKey, idx.mdevWithSections, [
      self.mdev_type,
      s.mdevType,
    ])) {
      {
        // compat.md §7 (src/facts/rules.ts): an NVIDIA vGPU's software_version
        // is the manager version. Unknown on either side: compare the rest, and
        // the candidate is rejected (vgpu-manager-version-unknown) unless assumed.
        const versionUnknown =
          nvidia && (self.software_version === undefined || descriptor.self.software_version === undefined);
        const res = versionUnknown
          ? accepts(withoutVersion(descriptor), withoutKey(self, "software_version"))
          : accepts(descriptor, self);
        if (!res.ok) {
          if (t.id === s.mdevType || descriptor.self.mdev_type === self.mdev_type) {
            sameType++;
            if (!closest || res.reasons.length < closest.length) {
              closest = res.reasons;
              closestVersion = descriptor.self.software_version;
            }
          }
          continue;
        }
        accepted++;
        if (versionUnknown && !ctx.gateOpts.assumeVersions) {
          rej.add(managerVersionUnknown("destination", host.key, `${parent.name} ${t.id}`));
          continue;
        }
        const mig = mdevMigratability(t.id, descriptor, `${host.key} ${parent.name} ${t.id}`);
        if (mig) {
          rej.add(mig);
          continue;
        }
        const gpu = descriptor.self.mixed_types === "1" ? `${gpuOf(parent)}#${t.id}` : gpuOf(parent);
        for (const nd of idx.mdevsOf.get(`${parent.name}|${t.id}`) ?? []) {
          if (!nd.mdev?.uuid) continue;
          const uuid = nd.mdev.uuid.toLowerCase();
          const why = host.reserved.get(`mdev:${uuid}`);
          if (why) {
            rej.add(reason("mdev-no-capacity", `existing mdev ${uuid} of ${t.id} is reserved: ${why}`));
            continue;
          }
          existing.push({
            id: `mdev:${uuid}`,
            capacity: 1,
            cost: 0,
            gpu,
            mdevType: t.id,
            descriptorOrigin: origin,
            binding: res.binding,
            target: { kind: "mdev", name: nd.name, parent: parent.name, mdevType: t.id, uuid, create: false },
          });
        }
        const n = t.availableInstances;
        if (n === undefined) {
          rej.add(
            reason("mdev-no-capacity", `${parent.name} does not report availableInstances for ${t.id}`),
          );
        } else if (n <= 0) {
          rej.add(reason("mdev-no-capacity", `${parent.name} has no free instances of ${t.id}`));
        } else {
          pools.push({
            id: `pool:${parent.name}:${t.id}`,
            capacity: n,
            cost: 1,
            gpu,
            mdevType: t.id,
            descriptorOrigin: origin,
            binding: res.binding,
            target: {
              kind: "mdev",
              name: null,
              parent: parent.name,
              mdevType: t.id,
              uuid: null,
              create: true,
            },
          });
        }
      }
    }
    for (const r of [...existing, ...pools]) {
      addResource(r);
      dc.resources.push(r.id);
    }
    if (dc.resources.length > 0) return;
    if (accepted === 0) {
      if (sameType > 0 && closest && nvidia && onlyVersionFails(closest)) {
        dc.reasons.push(
          managerVersionMismatch(
            host.key,
            `mdev type ${s.mdevType}`,
            closestVersion,
            self.software_version,
            closest,
          ),
        );
      } else if (sameType > 0 && closest) {
        dc.reasons.push(
          descriptorMismatch(
            `${host.key}: mdev type ${s.mdevType} exists but its descriptor rejects the source`,
            closest,
          ),
        );
      } else {
        dc.reasons.push(
          reason(
            "mdev-type-missing",
            `${host.key}: no parent offers mdev type ${s.mdevType} on the same hardware`,
          ),
        );
      }
      return;
    }
    dc.reasons.push(...rej.list());
  }

  function pciCandidates(s: SourceDevice, dc: DeviceCandidates): void {
    const self = s.descriptor!.self;
    const rej = new Rejections();
    let closest: Reason[] | null = null;
    let accepted = 0;
    const fwUnknown = new Set<string>();
    for (const { fn, descriptor, origin } of candidatesFor(idx.pciByKey, idx.pciWithSections, [
      self.device_id,
    ])) {
      const res = accepts(descriptor, self);
      if (!res.ok) {
        if (pciDeviceId(fn) === self.device_id && (!closest || res.reasons.length < closest.length)) {
          closest = res.reasons;
        }
        continue;
      }
      accepted++;
      const fail = runPciFilters(fn, {
        host,
        managed: s.dev.managed === true,
        needsMigration: !s.transient,
        descriptor,
      });
      if (fail) {
        rej.add(fail);
        continue;
      }
      if (s.checkFirmware) {
        // compat.md §7: mlx5 VFs need the same PSID and firmware (src/facts/rules.ts).
        const fw = firmwareOf(host, fn.pci!.address);
        const bad = firmwareMismatch(`${host.key} ${fn.pci!.address}`, s.firmware, fw);
        if (bad) {
          rej.add(bad);
          continue;
        }
        if (firmwareKnown(s.firmware) && !firmwareKnown(fw))
          fwUnknown.add(fn.pci!.physFunction ?? fn.pci!.address);
      }
      const id = `pci:${fn.pci!.address}`;
      addResource({
        id,
        capacity: 1,
        cost: 0,
        descriptorOrigin: origin,
        binding: res.binding,
        target: { kind: "pci", name: fn.name, address: fn.pci!.address, driver: fn.driver },
      });
      dc.resources.push(id);
    }
    if (fwUnknown.size > 0 && dc.resources.length > 0) {
      warnings.push(
        firmwareUnverified(
          "destination",
          host.key,
          `${s.dev.id}'s candidate PF ${[...fwUnknown].sort().join(", ")}`,
        ),
      );
    }
    if (dc.resources.length > 0) return;
    if (accepted === 0) {
      if (closest)
        dc.reasons.push(
          descriptorMismatch(
            `${host.key}: a function with the same ids exists but its descriptor rejects the source`,
            closest,
          ),
        );
      else
        dc.reasons.push(
          reason(
            "pci-device-missing",
            `${host.key}: no PCI function accepts device ${self.device_id ?? "?"}`,
          ),
        );
      return;
    }
    dc.reasons.push(...rej.list());
  }

  function networkCandidates(s: SourceDevice, dc: DeviceCandidates): void {
    const want = s.network!;
    const net = host.networks.get(want.name);
    if (!net?.active || net.forwardMode !== "hostdev") {
      dc.reasons.push(
        reason(
          "network-missing",
          `${host.key}: no active hostdev network named ${want.name}${net ? ` (it is ${net.active ? `mode ${net.forwardMode ?? "none"}` : "inactive"})` : ""}`,
        ),
      );
      return;
    }
    const ids = new Set<string>();
    let free = 0;
    const rej = new Rejections();
    for (const addr of net.functions) {
      const fn = host.pciByAddr.get(addr);
      const id = pciDeviceId(fn);
      if (!fn || !id) {
        rej.add(
          reason(
            "network-pool-exhausted",
            `${want.name} function ${addr} is not a node device; its state is unknown`,
          ),
        );
        continue;
      }
      ids.add(id);
      const why = host.reserved.get(`pci:${addr}`);
      if (why) {
        rej.add(
          reason(
            "network-pool-exhausted",
            `${want.name} function ${addr} is ${why.startsWith("handed") ? why : `used by ${why}`}`,
          ),
        );
        continue;
      }
      const fail =
        destinationMigratable(fn, {
          host,
          managed: true,
          needsMigration: !s.transient,
          descriptor: pciDesc(fn).descriptor,
        }) ??
        runPciFilters(
          fn,
          { host, managed: true, needsMigration: false, descriptor: pciDesc(fn).descriptor },
          [notInPool],
        );
      if (fail) {
        rej.add(fail);
        continue;
      }
      free++;
    }
    const same = [...ids].sort().join(",") === want.functionIds.join(",");
    if (!same) {
      dc.reasons.push(
        reason(
          "network-missing",
          `${host.key}: network ${want.name} pools functions ${[...ids].sort().join(",") || "none"}, source pools ${want.functionIds.join(",")}`,
        ),
      );
      return;
    }
    if (net.handedOut === null) free -= net.usedCount;
    if (free <= 0) {
      dc.reasons.push(
        reason("network-pool-exhausted", `${host.key}: network ${want.name} has no free function`, {
          details: rej.list(),
        }),
      );
      return;
    }
    const id = `net:${want.name}`;
    addResource({
      id,
      capacity: free,
      cost: 0,
      target: { kind: "network", network: want.name },
    });
    dc.resources.push(id);
  }

  function usbCandidates(s: SourceDevice, dc: DeviceCandidates): void {
    const ids = s.usbIds!;
    let present = 0;
    for (const nd of host.devices) {
      if (!nd.usb || nd.usb.vendorId !== ids.vendorId || nd.usb.productId !== ids.productId) continue;
      present++;
      if (host.reserved.has(`usb:${nd.name}`)) continue;
      const id = `usb:${nd.name}`;
      addResource({
        id,
        capacity: 1,
        cost: 0,
        target: { kind: "usb", name: nd.name, parent: nd.parent ?? null },
      });
      dc.resources.push(id);
    }
    if (dc.resources.length === 0) {
      dc.reasons.push(
        reason(
          "usb-device-missing",
          present > 0
            ? `${host.key}: every USB device ${ids.vendorId}:${ids.productId} is used by a domain`
            : `${host.key}: no USB device ${ids.vendorId}:${ids.productId}`,
        ),
      );
    }
  }
}
