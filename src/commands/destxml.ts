/**
 * `plan --write-dest-xml DIR` (cli.md): destination XML per fully compatible
 * host, with host-side sources rewritten and the planner metadata element,
 * plus the `virsh migrate` command line that uses them.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { AssignedDevice, DescriptorData, DomainInfo } from "../model.js";
import { pciAddressOf } from "../candidates/types.js";
import { assignmentsJson, planToJson } from "../output/json.js";
import { mdevCreationSteps } from "../output/mdevplan.js";
import {
  DomainDoc,
  type MetaRecord,
  type PlanMetaDevice,
  type Updater,
  mdevUuidUpdater,
  metaDevicesOf,
  pciSourceUpdater,
  planMetadataUpdater,
  rewriteDomain,
} from "../output/rewrite.js";
import type { DeviceReport, HostReport, PlanResult } from "../pipeline.js";
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
 * verifyOnlySourcesChanged (via rewriteDomain) before it is returned.
 */
export function rewriteForHost(
  doc: string,
  file: string,
  domain: DomainInfo,
  devices: DeviceReport[],
  host: Pick<HostReport, "assignments"> & Partial<Pick<HostReport, "host" | "hostUuid">>,
): string {
  const byId = new Map(host.assignments.map((a) => [a.device, a.target]));
  const reports = new Map(devices.map((d) => [d.id, d]));
  // one parse of the document, one list of edits, one verification (rewriteDomain)
  const parsed = new DomainDoc(doc, file);
  const updaters: Updater[] = [];
  for (const dev of parsed.info.devices) {
    const p = planDeviceFor(domain, dev);
    const t = p ? byId.get(p.id) : undefined;
    if (!t) continue;
    const addr = pciAddressOf(t);
    if (dev.kind === "mdev" && t.kind === "mdev" && t.uuid) updaters.push(mdevUuidUpdater(dev.id, t.uuid));
    else if ((dev.kind === "pci" || dev.kind === "interface") && addr && dev.hostAddress) {
      updaters.push(pciSourceUpdater(dev.id, addr));
    }
  }
  const meta: PlanMetaDevice[] = metaDevicesOf(parsed.info.devices, (dev) => {
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
    const i: MetaRecord = { descriptor };
    if (r.sourceVgpuType !== undefined) i.vgpuType = String(r.sourceVgpuType);
    // compat.md §7: the source PF's firmware travels to the hook (src/facts/rules.ts).
    if (r.sourceFirmware?.version) i.firmware = r.sourceFirmware.version;
    if (r.sourceFirmware?.psid) i.psid = r.sourceFirmware.psid;
    const t = byId.get(p.id);
    const mdevType = t?.kind === "mdev" ? (descriptor?.self.mdev_type ?? t.mdevType ?? undefined) : undefined;
    if (mdevType) i.mdevType = mdevType;
    const ids = dev.kind === "pci" || dev.kind === "interface" ? pciIdsOf(descriptor) : undefined;
    if (ids) i.pciIds = ids;
    return i;
  });
  updaters.push(
    planMetadataUpdater(
      meta,
      host.host !== undefined ? { host: host.host, hostUuid: host.hostUuid ?? null } : undefined,
    ),
  );
  return rewriteDomain(parsed, file, updaters);
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** What the destination XML of one host needs to know about it. */
export type PlacedHost = Pick<HostReport, "host" | "target" | "hostname" | "assignments">;

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
export function mdevNextSteps(h: PlacedHost, planPath: string): string[] {
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

function destinationUri(h: PlacedHost): string {
  if (/^qemu(\+ssh|\+tls|\+tcp)?:\/\/[^/]+\/system/.test(h.target)) return h.target;
  return `qemu+ssh://${h.hostname ?? h.host}/system`;
}

function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new InputError(
      `--write-dest-xml ${dir}: cannot create directory (${(e as NodeJS.ErrnoException).code ?? e})`,
      dir,
    );
  }
}

const MIGRATABLE_NOTE =
  "note: libvirt returns the migratable XML only on a read-write connection and hdplan stays read-only, so the destination XML is written from the live XML; for the exact migratable form run 'virsh dumpxml --migratable NAME > vm.xml' and pass --domain vm.xml";

/**
 * Write one domain's destination XML for one full host (`base` + `.xml`, and
 * `.persistent.xml` when the inactive definition is known) and return the
 * printed next steps: mdevs to create, then `virsh migrate`.
 */
function writeForHost(
  base: string,
  h: PlacedHost,
  domain: DomainInfo,
  devices: DeviceReport[],
  dt: DomainText,
  planPath: string,
): string[] {
  const doc = dt.migratableXml ?? dt.text;
  const docFile = dt.migratableXml ? `${dt.file} (migratable XML)` : dt.file;
  const inactive = dt.inactiveXml ?? null;
  const xmlPath = `${base}.xml`;
  const persistentPath = `${base}.persistent.xml`;
  writeAtomic(xmlPath, rewriteForHost(doc, docFile, domain, devices, h));
  if (inactive) {
    writeAtomic(
      persistentPath,
      rewriteForHost(inactive, `${dt.file} (inactive definition)`, domain, devices, h),
    );
  }
  const lines = [`${h.host}: wrote ${xmlPath}${inactive ? ` and ${persistentPath}` : ""}`];
  lines.push(...mdevNextSteps(h, planPath));
  const cmd = ["virsh", "migrate", "--live", "--persistent", "--xml", shellQuote(xmlPath)];
  if (inactive) cmd.push("--persistent-xml", shellQuote(persistentPath));
  cmd.push(shellQuote(domain.name), shellQuote(destinationUri(h)));
  lines.push(`  ${cmd.join(" ")}`);
  if (!inactive) {
    lines.push(
      "  note: the inactive definition is unknown (domain read from a file or dump directory), so no --persistent-xml: the destination's stored definition would keep the source's devices; dump it with 'virsh dumpxml --inactive' or use a snapshot or live --source",
    );
  }
  return lines;
}

export function writeDestinationXml(
  dir: string,
  result: PlanResult,
  domain: DomainInfo,
  dt: DomainText,
): string[] {
  refuseNova(domain, "--write-dest-xml");
  makeDir(dir);
  const lines: string[] = [];
  if (!dt.migratableXml && dt.inactiveXml !== undefined) lines.push(MIGRATABLE_NOTE);
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
  for (const h of full)
    lines.push(...writeForHost(join(dir, h.host), h, domain, result.devices, dt, planPath));
  return lines;
}

/** One placed domain of `evacuate --write-dest-xml`. */
export interface EvacuationPlacement {
  domain: DomainInfo;
  dt: DomainText;
  devices: DeviceReport[];
  host: PlacedHost;
  warnings: unknown[];
}

/**
 * `evacuate --write-dest-xml DIR`: per placement, `DIR/<domain>.<host>.xml`
 * (+ `.persistent.xml`) and `DIR/<domain>.plan.json` — a plan with that one
 * host, which `hdplan prepare --plan` reads — and the printed next steps.
 */
export function writeEvacuationXml(dir: string, placed: EvacuationPlacement[]): string[] {
  makeDir(dir);
  const lines: string[] = [];
  for (const p of placed) {
    if (p.domain.novaManaged) {
      lines.push(`${p.domain.name}: ${NOVA_REFUSAL} (--write-dest-xml skipped it)`);
      continue;
    }
    const planPath = join(dir, `${p.domain.name}.plan.json`);
    const plan = {
      schemaVersion: 1,
      domain: { name: p.domain.name, uuid: p.domain.uuid },
      hosts: [
        {
          host: p.host.host,
          target: p.host.target,
          status: "full",
          assignments: assignmentsJson(p.host.assignments),
        },
      ],
      warnings: p.warnings,
    };
    writeAtomic(planPath, `${JSON.stringify(plan, null, 2)}\n`);
    lines.push(`${p.domain.name}: wrote ${planPath}`);
    lines.push(
      ...writeForHost(
        join(dir, `${p.domain.name}.${p.host.host}`),
        p.host,
        p.domain,
        p.devices,
        p.dt,
        planPath,
      ),
    );
  }
  return lines;
}
