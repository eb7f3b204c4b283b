/**
 * Resolve the VM's assigned devices against --source: identity, descriptor,
 * migratability (compat.md §5) and the source host's own version gates.
 */
import type { DescriptorSelector } from "../descriptors/sources.js";
import { InputError } from "../errors.js";
import type { HostInventory } from "../inventory/types.js";
import {
  type AssignedDevice,
  type DescriptorData,
  type DomainInfo,
  type InterfaceDevice,
  isPciNode,
  type MdevHostdev,
  type NetworkDevice,
  type PciHostdev,
  type UsbHostdev,
} from "../model.js";
import { type Reason, reason } from "../reasons.js";
import { deriveMdevDescriptor, derivePciDescriptor, pciDeviceId } from "../descriptors/derive.js";
import { mdevMigratability, pciSourceMigratability } from "./evidence.js";
import type {
  MdevSource,
  NetworkSource,
  PlannedSource,
  SourceBase,
  SourceDevice,
  UsbSource,
} from "./types.js";
import { isVfio } from "./vmrules.js";
import { migratingDriver } from "./drivers.js";
import { gateReasons, type GateOptions, isQemu, versionAtLeast } from "./versions.js";
import { vendorDescriptorFor } from "./vendor.js";
import { allKinds } from "./kinds/registry.js";
import {
  FIRMWARE_CHECKED_DRIVERS,
  type FirmwareFacts,
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

function base(dev: AssignedDevice): SourceBase {
  return {
    dev,
    summary: summarize(dev),
    blockers: [],
    warnings: [],
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

function selectFor(
  ctx: SourceContext,
  src: HostInventory,
  derived: DescriptorData,
  vendor: DescriptorData | undefined,
) {
  return ctx.selector.select(src.key, derived, vendor);
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
  const src = ctx.source;
  let s: PlannedSource;
  switch (dev.kind) {
    case "scsi":
    case "scsi_host":
    case "capabilities":
    case "vdpa":
      return {
        ...base(dev),
        need: null,
        blockers: [
          reason(
            "hostdev-type-not-migratable",
            `${dev.id}: ${dev.kind === "vdpa" ? "vDPA interfaces" : dev.kind === "capabilities" ? "<hostdev mode='capabilities'> devices" : `${dev.kind} hostdevs`} are not supported by hdplan: it cannot plan their migration (detach the device or use cold migration)`,
          ),
        ],
      };
    case "mdev":
      s = resolveMdev(dev, ctx);
      break;
    case "pci":
    case "interface":
      s = resolvePci(dev, ctx);
      break;
    case "network": {
      if (!src) needSource(dev, ctx);
      const net = src.networks.get(dev.network);
      if (net && net.forwardMode !== "hostdev") return null; // not an assigned device
      s = resolveNetwork(dev, src, ctx);
      break;
    }
    case "usb":
      return resolveUsb(dev, ctx);
  }
  if (s.gate && src && s.blockers.length === 0) {
    s.gateNotes = [];
    s.blockers.push(
      ...gateReasons(s.gate, src.versions, src.key, ctx.gateOpts, s.gateDriver, "source", s.gateNotes),
    );
  }
  return s;
}

/** The mdev's type and descriptor: from the source host, else from the planner metadata. */
function identifyMdev(
  dev: MdevHostdev,
  uuid: string,
  ctx: SourceContext,
): { mdevType: string; descriptor: DescriptorData; origin: string } | Reason {
  const src = ctx.source;
  if (!src) {
    const meta = metaFor(ctx, dev);
    if (!meta?.descriptor || !meta.mdevType) needSource(dev, ctx);
    return { mdevType: meta.mdevType, descriptor: meta.descriptor, origin: "planner-metadata" };
  }
  const nd = src.mdevByUuid.get(uuid);
  const parent = nd?.parent ? src.byName.get(nd.parent) : undefined;
  if (!nd?.mdev || !parent) {
    return reason(
      "source-device-unknown",
      `${dev.id}: mdev ${dev.mdevUuid} ${nd ? "has no readable parent" : "is not a node device"} on source ${src.key}`,
    );
  }
  const mdevType = nd.mdev.type;
  const sel = selectFor(
    ctx,
    src,
    deriveMdevDescriptor(parent, mdevType, src.facts.nvidiaVersion),
    vendorDescriptorFor(src, parent, mdevType),
  );
  return { mdevType, descriptor: sel.descriptor, origin: sel.origin };
}

function resolveMdev(dev: MdevHostdev, ctx: SourceContext): MdevSource {
  const mdevUuid = dev.mdevUuid.toLowerCase();
  const b = { ...base(dev), need: "mdev" as const, dev, gate: "mdev" as const, mdevUuid };
  const id = identifyMdev(dev, mdevUuid, ctx);
  if ("code" in id) return { ...b, mdevType: null, blockers: [id] };
  const { mdevType, descriptor } = id;
  const blockers: Reason[] = [];
  const r = mdevMigratability(mdevType, descriptor, `${dev.id}`);
  if (r) blockers.push(r);
  // compat.md §7: an NVIDIA vGPU without a known manager version cannot be
  // matched by version (src/facts/rules.ts); fail closed unless assumed.
  if (
    !r &&
    isNvidiaVgpuType(mdevType) &&
    descriptor.self.software_version === undefined &&
    !ctx.gateOpts.assumeVersions
  ) {
    blockers.push(
      managerVersionUnknown("source", ctx.source?.key ?? "(planner metadata)", `${dev.id} (${mdevType})`),
    );
  }
  return {
    ...b,
    summary: summarize(dev, mdevType),
    mdevType,
    descriptor,
    descriptorOrigin: id.origin,
    blockers,
  };
}

function firmwareFacts(version: string | undefined, psid: string | undefined): FirmwareFacts {
  return { ...(version ? { version } : {}), ...(psid ? { psid } : {}) };
}

/** A PCI function without a source host: its identity travels in the planner metadata. */
function pciFromMeta(dev: PciHostdev | InterfaceDevice, ctx: SourceContext): PlannedSource {
  const meta = metaFor(ctx, dev);
  if (!meta?.descriptor) needSource(dev, ctx);
  const withDescriptor = { ...meta, descriptor: meta.descriptor };
  for (const k of allKinds()) {
    const s = k.refines === "pci" ? k.pciSourceFromMeta?.(base(dev), dev, withDescriptor, ctx) : null;
    if (s) return s;
  }
  const checkFirmware = meta.firmware !== undefined || meta.psid !== undefined;
  return {
    ...base(dev),
    need: "pci",
    dev,
    descriptor: meta.descriptor,
    descriptorOrigin: "planner-metadata",
    driver: null,
    checkFirmware,
    ...(checkFirmware
      ? {
          firmware: {
            ...(meta.firmware !== undefined ? { version: meta.firmware } : {}),
            ...(meta.psid !== undefined ? { psid: meta.psid } : {}),
          },
        }
      : {}),
  };
}

/** A PCI function on the source host: its node device, descriptor and firmware. */
function pciOnSource(
  dev: PciHostdev | InterfaceDevice,
  src: HostInventory,
  ctx: SourceContext,
): PlannedSource {
  const b = base(dev);
  const fn = src.pciByAddr.get(dev.hostAddress ?? "");
  if (!isPciNode(fn)) {
    const unknown = reason(
      "source-device-unknown",
      `${dev.id}: PCI function ${dev.hostAddress} is not a node device on source ${src.key}`,
    );
    return { ...b, need: "pci", dev, driver: null, checkFirmware: false, blockers: [unknown] };
  }
  // a kind that refines "pci" (NVIDIA's SR-IOV vGPU VF, compat.md §8) claims the function first
  for (const k of allKinds()) {
    const s = k.refines === "pci" ? k.pciSource?.(b, dev, fn, src, ctx) : null;
    if (s) return s;
  }
  const pf = fn.pci.physFunction ? src.pciByAddr.get(fn.pci.physFunction) : undefined;
  const sel = selectFor(ctx, src, derivePciDescriptor(fn, pf), undefined);
  const checkFirmware = !!fn.driver && FIRMWARE_CHECKED_DRIVERS.has(fn.driver) && !b.transient;
  const fw = checkFirmware ? firmwareOf(src, fn.pci.address) : undefined;
  const firmware = fw ? firmwareFacts(fw.version, fw.psid) : undefined;
  const warnings: Reason[] = [];
  if (checkFirmware && !firmwareKnown(firmware)) {
    warnings.push(
      firmwareUnverified("source", src.key, `${dev.id}'s PF ${fn.pci.physFunction ?? fn.pci.address}`),
    );
  }
  return {
    ...b,
    need: "pci",
    dev,
    summary: summarize(dev, `${fn.pci.vendorId}:${fn.pci.productId}${fn.driver ? ` (${fn.driver})` : ""}`),
    descriptor: sel.descriptor,
    descriptorOrigin: sel.origin,
    driver: fn.driver,
    checkFirmware,
    ...(firmware ? { firmware } : {}),
    warnings,
  };
}

function resolvePci(dev: PciHostdev | InterfaceDevice, ctx: SourceContext): PlannedSource {
  const s = ctx.source ? pciOnSource(dev, ctx.source, ctx) : pciFromMeta(dev, ctx);
  // QEMU unplugs a transient one before migration: no migration support or gate needed
  if (s.need !== "pci" || s.blockers.length > 0 || s.transient) return s;
  const r = pciSourceMigratability(s.driver, s.descriptor, `${dev.id} (${dev.hostAddress})`);
  if (r) return { ...s, blockers: [r] };
  const warnings = [...s.warnings];
  if (s.driver === "mlx5_vfio_pci") {
    warnings.push(
      reason(
        "mlx5-migratable-unverified",
        `${dev.id}: mlx5 VFs also need 'devlink port function ... migratable enable' on the PF, and device dirty tracking needs the firmware's adv_virtualization capability (drivers/vfio/pci/mlx5/cmd.c), which libvirt cannot show`,
      ),
    );
  }
  return {
    ...s,
    // A function the operator pre-binds (managed='no') does not need libvirt's
    // automatic variant-driver binding (libvirt 10.0): the pci-prebound floors.
    gate: dev.managed === false ? "pci-prebound" : "pci-variant",
    ...(s.driver && migratingDriver(s.driver) ? { gateDriver: s.driver } : {}),
    warnings,
  };
}

function resolveNetwork(dev: NetworkDevice, src: HostInventory, ctx: SourceContext): NetworkSource {
  const b = { ...base(dev), need: "network" as const, dev };
  const net = src.networks.get(dev.network);
  if (!net) {
    const unknown = reason(
      "source-device-unknown",
      `${dev.id}: network ${dev.network} is not defined on source ${src.key}`,
    );
    return { ...b, network: null, poolDrivers: [], blockers: [unknown] };
  }
  const ids: string[] = [];
  const reasons: Reason[] = [];
  const poolDrivers: (string | null)[] = [];
  let descriptor: DescriptorData | null = null;
  let descriptorOrigin: string | null = null;
  let gateDriver: string | undefined;
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
    if (!b.transient) {
      const pf = fn.pci?.physFunction ? src.pciByAddr.get(fn.pci.physFunction) : undefined;
      const sel = selectFor(ctx, src, derivePciDescriptor(fn, pf), undefined);
      descriptor ??= sel.descriptor;
      descriptorOrigin ??= sel.origin;
      const r = pciSourceMigratability(fn.driver, sel.descriptor, `${dev.id} pool function ${addr}`);
      if (r) reasons.push(r);
      if (fn.driver && migratingDriver(fn.driver)) gateDriver = fn.driver;
      poolDrivers.push(fn.driver);
    }
  }
  if (net.functions.length === 0) {
    reasons.push(
      reason("source-device-unknown", `${dev.id}: network ${net.name} lists no PCI functions on source`),
    );
  }
  return {
    ...b,
    summary: `interface on hostdev network ${net.name}`,
    descriptor,
    descriptorOrigin,
    ...(gateDriver ? { gateDriver } : {}),
    network: { name: net.name, functionIds: [...new Set(ids)].sort() },
    poolDrivers,
    // The VM may hold any pool function: every one must be migratable.
    blockers: reasons.slice(0, 1),
    gate: reasons.length === 0 && !b.transient ? "pci-variant" : null,
  };
}

function resolveUsb(dev: UsbHostdev, ctx: SourceContext): UsbSource {
  const b = { ...base(dev), need: "usb" as const, dev };
  const u = dev.usb;
  if (u.vendorId && u.productId) return { ...b, usbIds: { vendorId: u.vendorId, productId: u.productId } };
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
    const unknown = reason(
      "source-device-unknown",
      `${dev.id}: USB device ${u.bus}:${u.device} not found on source ${src.key}`,
    );
    return { ...b, usbIds: null, blockers: [unknown] };
  }
  return {
    ...b,
    usbIds: { vendorId: nd.usb.vendorId, productId: nd.usb.productId },
    summary: `usb ${nd.usb.vendorId}:${nd.usb.productId}`,
  };
}
