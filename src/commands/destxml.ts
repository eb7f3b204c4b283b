/**
 * `plan --write-dest-xml DIR` (cli.md): destination XML per fully compatible
 * host, with host-side sources rewritten and the planner metadata element,
 * plus the `virsh migrate` command line that uses them.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { AssignedDevice, DescriptorData, DomainInfo } from "../model.js";
import { planToJson } from "../output/json.js";
import { mdevCreationSteps } from "../output/mdevplan.js";
import {
  type PlanMetaDevice,
  assertOnlySourcesChanged,
  metaDevicesFor,
  setMdevUuid,
  setPciSource,
  setPlanMetadata,
} from "../output/rewrite.js";
import type { DeviceReport, HostReport, PlanResult } from "../pipeline.js";
import { readDomain } from "../xml/domain.js";
import type { DomainText } from "./common.js";

export const NOVA_REFUSAL =
  "is managed by OpenStack Nova (<nova:instance> in its metadata): migrate it with 'openstack server migrate --live'; acting behind Nova's back desynchronises its placement records";

export function refuseNova(domain: DomainInfo, what: string): void {
  if (domain.novaManaged) throw new InputError(`${domain.name} ${NOVA_REFUSAL} (${what} refused)`);
}

/** Shell-quote for printed command lines. */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The source device descriptor of a report (always wanted; --explain-only until pipeline provides it). */
function reportDescriptor(r: DeviceReport | undefined): DescriptorData | null {
  if (!r) return null;
  const full = (r as { sourceDescriptor?: DescriptorData | null }).sourceDescriptor;
  if (full) return full;
  const self = r.descriptor?.self;
  return self ? { self: { ...self }, compatible: [] } : null;
}

function pciIdsOf(d: DescriptorData | null): string | undefined {
  const id = d?.self.device_id;
  return id && /^[0-9a-f]{8}$/.test(id) ? `${id.slice(0, 4)}:${id.slice(4)}` : undefined;
}

/** Map a device of another rendering of the domain (migratable / inactive) to the plan's device. */
function planDeviceFor(domain: DomainInfo, dev: AssignedDevice): AssignedDevice | undefined {
  return domain.devices.find((d) => d.kind === dev.kind && d.kindIndex === dev.kindIndex);
}

/**
 * Rewrite one domain document for one host: sources from the host's
 * assignments, the planner metadata element; checked with
 * assertOnlySourcesChanged before it is returned.
 */
export function rewriteForHost(
  doc: string,
  file: string,
  domain: DomainInfo,
  devices: DeviceReport[],
  host: Pick<HostReport, "assignments">,
): string {
  const byId = new Map(host.assignments.map((a) => [a.device, a.target]));
  const reports = new Map(devices.map((d) => [d.id, d]));
  let out = doc;
  for (const dev of readDomain(doc, file).devices) {
    const p = planDeviceFor(domain, dev);
    const t = p ? byId.get(p.id) : undefined;
    if (!t) continue;
    if (dev.kind === "mdev" && t.kind === "mdev" && t.uuid) out = setMdevUuid(out, dev.id, t.uuid);
    else if (
      (dev.kind === "pci" || dev.kind === "interface") &&
      t.kind === "pci" &&
      t.address &&
      dev.hostAddress
    ) {
      out = setPciSource(out, dev.id, t.address);
    }
  }
  const meta: PlanMetaDevice[] = metaDevicesFor(out, file, (dev) => {
    const p = planDeviceFor(domain, dev);
    if (!p) return null;
    const r = reports.get(p.id);
    if (!r) return null;
    let descriptor = reportDescriptor(r);
    // The plan verified this PCI function migratable on the source (full host,
    // no blocker); the metadata carries that as evidence for the hook, which
    // cannot see the source's driver.
    const pciLike = dev.kind === "pci" || dev.kind === "interface";
    if (descriptor && pciLike && r.blockers.length === 0 && dev.teaming?.type !== "transient") {
      if (descriptor.self.migratable === undefined)
        descriptor = { ...descriptor, self: { ...descriptor.self, migratable: "1" } };
    }
    const i: { descriptor: DescriptorData | null; mdevType?: string; pciIds?: string } = { descriptor };
    const t = byId.get(p.id);
    const mdevType = t?.kind === "mdev" ? (descriptor?.self.mdev_type ?? t.mdevType ?? undefined) : undefined;
    if (mdevType) i.mdevType = mdevType;
    const ids = dev.kind === "pci" || dev.kind === "interface" ? pciIdsOf(descriptor) : undefined;
    if (ids) i.pciIds = ids;
    return i;
  });
  out = setPlanMetadata(out, meta);
  assertOnlySourcesChanged(doc, out, file);
  return out;
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** A host read through libvirt (not a dump directory or snapshot). */
export function isLiveTarget(target: string): boolean {
  return target.includes("://");
}

/**
 * What to run before `virsh migrate` when the host must create mdevs: the
 * `hdplan prepare` line for a host read live (its URI is known), otherwise the
 * mdevctl lines to run on the host itself (a file target has no URI to
 * prepare through).
 */
export function mdevNextSteps(h: HostReport, planPath: string): string[] {
  const steps = mdevCreationSteps(h);
  if (steps.length === 0) return [];
  if (isLiveTarget(h.target)) {
    return [
      `  first create ${steps.length} mdev(s) on ${h.host}:`,
      `  hdplan prepare --host ${shellQuote(h.target)} --plan ${shellQuote(planPath)} --connect-rw`,
    ];
  }
  return [
    `  first create ${steps.length} mdev(s) on ${h.host} (read from ${h.target}, so run these there; --explain shows the virsh form):`,
    ...steps.map((st) => `  ${st.mdevctl}`),
  ];
}

function destinationUri(h: HostReport): string {
  if (/^qemu(\+ssh|\+tls|\+tcp)?:\/\/[^/]+\/system/.test(h.target)) return h.target;
  return `qemu+ssh://${h.hostname ?? h.host}/system`;
}

export function writeDestinationXml(
  dir: string,
  result: PlanResult,
  domain: DomainInfo,
  dt: DomainText,
): string[] {
  refuseNova(domain, "--write-dest-xml");
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new InputError(
      `--write-dest-xml ${dir}: cannot create directory (${(e as NodeJS.ErrnoException).code ?? e})`,
      dir,
    );
  }
  const base = dt.migratableXml ?? dt.text;
  const baseFile = dt.migratableXml ? `${dt.file} (migratable XML)` : dt.file;
  const inactive = dt.inactiveXml ?? null;
  const lines: string[] = [];
  if (!dt.migratableXml && dt.inactiveXml !== undefined) {
    lines.push(
      "note: libvirt returns the migratable XML only on a read-write connection and hdplan plan stays read-only, so the destination XML is written from the live XML; for the exact migratable form run 'virsh dumpxml --migratable NAME > vm.xml' and pass --domain vm.xml",
    );
  }
  // The plan itself, for `hdplan prepare --plan DIR/plan.json` (the same JSON
  // as --format json).
  const planPath = join(dir, "plan.json");
  writeAtomic(planPath, planToJson(result));
  const full = result.hosts.filter((h) => h.status === "full");
  if (full.length === 0) {
    lines.push(`--write-dest-xml: no fully compatible host; wrote only ${planPath}`);
    return lines;
  }
  lines.push(`wrote ${planPath}`);
  for (const h of full) {
    const xmlPath = join(dir, `${h.host}.xml`);
    const persistentPath = join(dir, `${h.host}.persistent.xml`);
    writeAtomic(xmlPath, rewriteForHost(base, baseFile, domain, result.devices, h));
    if (inactive) {
      writeAtomic(
        persistentPath,
        rewriteForHost(inactive, `${dt.file} (inactive definition)`, domain, result.devices, h),
      );
    }
    lines.push(`${h.host}: wrote ${xmlPath}${inactive ? ` and ${persistentPath}` : ""}`);
    lines.push(...mdevNextSteps(h, planPath));
    const cmd = ["virsh", "migrate", "--live", "--persistent", "--xml", shellQuote(xmlPath)];
    if (inactive) cmd.push("--persistent-xml", shellQuote(persistentPath));
    cmd.push(shellQuote(domain.name), shellQuote(destinationUri(h)));
    lines.push(`  ${cmd.join(" ")}`);
    if (!inactive) {
      lines.push(
        "  note: the inactive definition is unknown (domain read from a file), so no --persistent-xml: the destination's stored definition would keep the source's devices; dump it with 'virsh dumpxml --inactive' or pass a live --source",
      );
    }
  }
  return lines;
}
