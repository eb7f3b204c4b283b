/**
 * Resolve the VM's assigned devices against --source: identity, descriptor,
 * migratability (compat.md §5) and the source host's own version gates.
 */
import type { DescriptorSelector } from "../descriptors/sources.js";
import { InputError } from "../errors.js";
import type { HostInventory } from "../inventory/types.js";
import type {
  AssignedDevice,
  DescriptorData,
  DomainInfo,
  InterfaceDevice,
  MdevHostdev,
  NetworkDevice,
  PciHostdev,
  UsbHostdev,
} from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { deriveMdevDescriptor, derivePciDescriptor, pciDeviceId } from "../descriptors/derive.js";
import { mdevMigratability, pciSourceMigratability } from "./evidence.js";
import type { SourceDevice } from "./types.js";
import { isVfio } from "./vmrules.js";
import { migratingDriver } from "./drivers.js";
import { gateReasons, type GateOptions, isQemu, versionAtLeast } from "./versions.js";
import { vendorDescriptorFor } from "./vendor.js";
import { isVgpuVf, resolveVgpuVfFromMeta, resolveVgpuVfSource } from "../vgpuvf/vgpuvf.js";
import {
  FIRMWARE_CHECKED_DRIVERS,
  firmwareKnown,
  firmwareOf,
  firmwareUnverified,
  isNvidiaVgpuType,
  managerVersionUnknown,
} from "../facts/rules.js";

export function summarize(dev: AssignedDevice, extra?: string): string {
  switch (dev.kind) {
    case "mdev":
      return `mdev ${extra ?? dev.mdevModel ?? ""} (${dev.mdevUuid})`.replace(/\s+/g, " ");
    case "pci":
      return `pci ${dev.hostAddress}${extra ? ` ${extra}` : ""}`;
    case "interface":
      return `interface hostdev ${dev.hostAddress ?? "?"}${dev.mac ? ` mac ${dev.mac}` : ""}${extra ? ` ${extra}` : ""}`;
    case "network":
      return `interface on network ${dev.network}`;
    case "usb":
      return `usb ${dev.usb.vendorId ?? "?"}:${dev.usb.productId ?? "?"}`;
    default:
      return `${dev.kind}${dev.detail ? ` ${dev.detail}` : ""}`;
  }
}

function base(dev: AssignedDevice): SourceDevice {
  return {
    dev,
    summary: summarize(dev),
    blockers: [],
    warnings: [],
    need: null,
    gate: null,
    transient: dev.teaming?.type === "transient",
    descriptor: null,
    descriptorOrigin: null,
  };
}

export interface SourceContext {
  domain: DomainInfo;
  source: HostInventory | null;
  selector: DescriptorSelector;
  gateOpts: GateOptions;
}

export { isVfio } from "./vmrules.js";

export function resolveSourceDevices(ctx: SourceContext): SourceDevice[] {
  const out: SourceDevice[] = [];
  for (const dev of ctx.domain.devices) {
    const s = resolveOne(dev, ctx);
    if (s) out.push(s);
  }
  // Whole-VM rule: QEMU 8.0/8.1 refuse more than one VFIO device.
  const vfio = out.filter(isVfio);
  const src = ctx.source;
  if (
    vfio.length > 1 &&
    src &&
    isQemu(src.versions) &&
    versionAtLeast(src.versions.hypervisorVersion, "8.2.0") === false
  ) {
    for (const s of vfio) {
      s.blockers.push(
        reason(
          "qemu-too-old",
          `source ${src.key}: QEMU ${src.versions.hypervisorVersion} refuses to migrate a VM with more than one VFIO device (8.2+ needed)`,
        ),
      );
    }
  }
  return out;
}

function selectFor(ctx: SourceContext, derived: DescriptorData, vendor: DescriptorData | undefined) {
  return ctx.selector.select(ctx.source!.key, derived, vendor);
}

function metaFor(ctx: SourceContext, dev: AssignedDevice) {
  return ctx.domain.plannerMetadata.find((m) => m.id === dev.id && m.kind === dev.kind);
}

function needSource(dev: AssignedDevice, ctx: SourceContext): never {
  throw new InputError(
    `${ctx.domain.name}: device ${dev.id} (${dev.kind}) cannot be identified from the domain XML alone; pass --source with the host the VM runs on`,
  );
}

function resolveOne(dev: AssignedDevice, ctx: SourceContext): SourceDevice | null {
  const s = base(dev);
  const src = ctx.source;
  switch (dev.kind) {
    case "scsi":
    case "scsi_host":
    case "capabilities":
    case "vdpa":
      s.blockers.push(
        reason(
          "hostdev-type-not-migratable",
          `${dev.id}: ${dev.kind === "vdpa" ? "vDPA interfaces" : dev.kind === "capabilities" ? "<hostdev mode='capabilities'> devices" : `${dev.kind} hostdevs`} are not supported by hdplan: it cannot plan their migration (detach the device or use cold migration)`,
        ),
      );
      return s;
    case "mdev":
      resolveMdev(s, dev, ctx);
      break;
    case "pci":
    case "interface":
      resolvePci(s, dev, ctx);
      break;
    case "network": {
      if (!src) needSource(dev, ctx);
      const net = src.networks.get(dev.network);
      if (net && net.forwardMode !== "hostdev") return null; // not an assigned device
      resolveNetwork(s, dev, ctx);
      break;
    }
    case "usb":
      resolveUsb(s, dev, ctx);
      return s;
  }
  if (s.gate && src && s.blockers.length === 0) {
    s.gateNotes = [];
    s.blockers.push(
      ...gateReasons(s.gate, src.versions, src.key, ctx.gateOpts, s.gateDriver, "source", s.gateNotes),
    );
  }
  return s;
}

function resolveMdev(s: SourceDevice, dev: MdevHostdev, ctx: SourceContext): void {
  s.need = "mdev";
  s.gate = "mdev";
  s.mdevUuid = dev.mdevUuid.toLowerCase();
  const src = ctx.source;
  if (!src) {
    const meta = metaFor(ctx, dev);
    if (!meta?.descriptor || !meta.mdevType) needSource(dev, ctx);
    s.descriptor = meta.descriptor;
    s.descriptorOrigin = "planner-metadata";
    s.mdevType = meta.mdevType;
    s.summary = summarize(dev, meta.mdevType);
  } else {
    const nd = src.mdevByUuid.get(s.mdevUuid ?? "");
    const parent = nd?.parent ? src.byName.get(nd.parent) : undefined;
    if (!nd?.mdev || !parent) {
      s.blockers.push(
        reason(
          "source-device-unknown",
          `${dev.id}: mdev ${dev.mdevUuid} ${nd ? "has no readable parent" : "is not a node device"} on source ${src.key}`,
        ),
      );
      return;
    }
    s.mdevType = nd.mdev.type;
    s.summary = summarize(dev, nd.mdev.type);
    const sel = selectFor(
      ctx,
      deriveMdevDescriptor(parent, nd.mdev.type, src.facts.nvidiaVersion),
      vendorDescriptorFor(src, parent, nd.mdev.type),
    );
    s.descriptor = sel.descriptor;
    s.descriptorOrigin = sel.origin;
  }
  const r = mdevMigratability(s.mdevType!, s.descriptor, `${dev.id}`);
  if (r) s.blockers.push(r);
  // compat.md §7: an NVIDIA vGPU without a known manager version cannot be
  // matched by version (src/facts/rules.ts); fail closed unless assumed.
  if (
    !r &&
    isNvidiaVgpuType(s.mdevType) &&
    s.descriptor?.self.software_version === undefined &&
    !ctx.gateOpts.assumeVersions
  ) {
    s.blockers.push(
      managerVersionUnknown("source", src?.key ?? "(planner metadata)", `${dev.id} (${s.mdevType})`),
    );
  }
}

function resolvePci(s: SourceDevice, dev: PciHostdev | InterfaceDevice, ctx: SourceContext): void {
  s.need = "pci";
  const src = ctx.source;
  if (!src) {
    const meta = metaFor(ctx, dev);
    if (!meta?.descriptor) needSource(dev, ctx);
    if (meta.vgpuType !== undefined && /^\d{1,9}$/.test(meta.vgpuType)) {
      resolveVgpuVfFromMeta(s, Number(meta.vgpuType), meta.descriptor, ctx.gateOpts.assumeVersions);
      return;
    }
    s.descriptor = meta.descriptor;
    s.descriptorOrigin = "planner-metadata";
    s.driver = null;
    if (meta.firmware !== undefined || meta.psid !== undefined) {
      s.checkFirmware = true;
      s.firmware = {
        ...(meta.firmware !== undefined ? { version: meta.firmware } : {}),
        ...(meta.psid !== undefined ? { psid: meta.psid } : {}),
      };
    }
  } else {
    const fn = src.pciByAddr.get(dev.hostAddress ?? "");
    if (!fn?.pci) {
      s.blockers.push(
        reason(
          "source-device-unknown",
          `${dev.id}: PCI function ${dev.hostAddress} is not a node device on source ${src.key}`,
        ),
      );
      return;
    }
    if (isVgpuVf(src, fn) && !s.transient) {
      // NVIDIA SR-IOV vGPU VF: its own device kind (compat.md §8, src/vgpuvf)
      resolveVgpuVfSource(s, dev, fn, src, ctx.selector, ctx.gateOpts.assumeVersions);
      return;
    }
    const pf = fn.pci.physFunction ? src.pciByAddr.get(fn.pci.physFunction) : undefined;
    const sel = selectFor(ctx, derivePciDescriptor(fn, pf), undefined);
    s.descriptor = sel.descriptor;
    s.descriptorOrigin = sel.origin;
    s.driver = fn.driver;
    s.summary = summarize(dev, `${fn.pci.vendorId}:${fn.pci.productId}${fn.driver ? ` (${fn.driver})` : ""}`);
    if (fn.driver && FIRMWARE_CHECKED_DRIVERS.has(fn.driver) && !s.transient) {
      s.checkFirmware = true;
      const fw = firmwareOf(src, fn.pci.address);
      if (fw)
        s.firmware = {
          ...(fw.version ? { version: fw.version } : {}),
          ...(fw.psid ? { psid: fw.psid } : {}),
        };
      if (!firmwareKnown(s.firmware)) {
        s.warnings.push(
          firmwareUnverified("source", src.key, `${dev.id}'s PF ${fn.pci.physFunction ?? fn.pci.address}`),
        );
      }
    }
  }
  if (s.transient) return; // QEMU unplugs it before migration: no migration support or gate needed
  const r = pciSourceMigratability(s.driver ?? null, s.descriptor, `${dev.id} (${dev.hostAddress})`);
  if (r) {
    s.blockers.push(r);
    return;
  }
  // A function the operator pre-binds (managed='no') does not need libvirt's
  // automatic variant-driver binding (libvirt 10.0): the pci-prebound floors.
  s.gate = dev.managed === false ? "pci-prebound" : "pci-variant";
  if (migratingDriver(s.driver)) s.gateDriver = s.driver!;
  if (s.driver === "mlx5_vfio_pci") {
    s.warnings.push(
      reason(
        "mlx5-migratable-unverified",
        `${dev.id}: mlx5 VFs also need 'devlink port function ... migratable enable' on the PF, and device dirty tracking needs the firmware's adv_virtualization capability (drivers/vfio/pci/mlx5/cmd.c), which libvirt cannot show`,
      ),
    );
  }
}

function resolveNetwork(s: SourceDevice, dev: NetworkDevice, ctx: SourceContext): void {
  const src = ctx.source!;
  s.need = "network";
  const net = src.networks.get(dev.network);
  if (!net) {
    s.blockers.push(
      reason(
        "source-device-unknown",
        `${dev.id}: network ${dev.network} is not defined on source ${src.key}`,
      ),
    );
    return;
  }
  const ids: string[] = [];
  const reasons: Reason[] = [];
  for (const addr of net.functions) {
    const fn = src.pciByAddr.get(addr);
    const id = pciDeviceId(fn);
    if (!fn || !id) {
      reasons.push(
        reason(
          "source-device-unknown",
          `${dev.id}: pool function ${addr} of ${net.name} is not a node device on source`,
        ),
      );
      continue;
    }
    ids.push(id);
    if (!s.transient) {
      const pf = fn.pci?.physFunction ? src.pciByAddr.get(fn.pci.physFunction) : undefined;
      const sel = selectFor(ctx, derivePciDescriptor(fn, pf), undefined);
      s.descriptor ??= sel.descriptor;
      s.descriptorOrigin ??= sel.origin;
      const r = pciSourceMigratability(fn.driver, sel.descriptor, `${dev.id} pool function ${addr}`);
      if (r) reasons.push(r);
      if (migratingDriver(fn.driver)) s.gateDriver = fn.driver!;
      s.poolDrivers = [...(s.poolDrivers ?? []), fn.driver];
    }
  }
  if (net.functions.length === 0) {
    reasons.push(
      reason("source-device-unknown", `${dev.id}: network ${net.name} lists no PCI functions on source`),
    );
  }
  s.network = { name: net.name, functionIds: [...new Set(ids)].sort() };
  s.summary = `interface on hostdev network ${net.name}`;
  if (reasons.length > 0) {
    // The VM may hold any pool function: every one must be migratable.
    s.blockers.push(reasons[0]!);
    return;
  }
  if (!s.transient) s.gate = "pci-variant";
}

function resolveUsb(s: SourceDevice, dev: UsbHostdev, ctx: SourceContext): void {
  s.need = "usb";
  const u = dev.usb;
  if (u.vendorId && u.productId) {
    s.usbIds = { vendorId: u.vendorId, productId: u.productId };
    return;
  }
  const src = ctx.source;
  if (!src) needSource(dev, ctx);
  const nd = src.devices.find(
    (d) =>
      d.usb &&
      u.bus !== undefined &&
      u.device !== undefined &&
      d.usb.bus === Number(u.bus) &&
      d.usb.device === Number(u.device),
  );
  if (!nd?.usb) {
    s.blockers.push(
      reason(
        "source-device-unknown",
        `${dev.id}: USB device ${u.bus}:${u.device} not found on source ${src.key}`,
      ),
    );
    return;
  }
  s.usbIds = { vendorId: nd.usb.vendorId, productId: nd.usb.productId };
  s.summary = `usb ${nd.usb.vendorId}:${nd.usb.productId}`;
}
