/**
 * `hdplan hook <guest> <operation> <sub-operation> <extra>`: the libvirt qemu
 * hook (cli.md `hook`). Only `<guest> migrate begin -` does work; every other
 * call exits 0 at once and prints nothing.
 *
 * It never calls libvirt: nothing in this module's import graph reaches
 * src/libvirt, src/targets/live.ts or koffi (a test checks it).
 *
 * Output is built completely, checked (it parses and differs from the input
 * only in host-side sources), and written with one write; a killed hook
 * leaves either nothing or the whole document on stdout.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pciAddressOf, targetLabel } from "../candidates/types.js";
import { migratingDriver } from "../candidates/drivers.js";
import { deriveMdevDescriptor, derivePciDescriptor, pciDeviceId } from "../descriptors/derive.js";
import { errorMessage } from "../errors.js";
import {
  type AssignedDevice,
  type DescriptorData,
  type DomainInfo,
  hostPciAddress,
  mdevUuidOf,
  type PlannerDeviceMeta,
} from "../model.js";
import { parentAddressOf } from "../output/mdevplan.js";
import {
  DomainDoc,
  type Updater,
  mdevUuidUpdater,
  pciSourceUpdater,
  planCheckedUpdater,
  rewriteDomain,
} from "../output/rewrite.js";
import { type HostReport, evalContext, evaluateHost } from "../matching/evaluate.js";
import { vendorDescriptorFor } from "../candidates/vendor.js";
import {
  HookLock,
  readReservations,
  reservationEntry,
  reservationKeys,
  reservationsOf,
  writeReservation,
} from "../hook/reserve.js";
import { currentVgpuType, vgpuWriteSteps, writeVgpuType } from "../vgpuvf/write.js";
import { type HookEnv, type HookHost, hookEnv, loadHookHost } from "../hook/state.js";
import { guestAddressKey, readDomain } from "../xml/domain.js";
import type { Io } from "./common.js";

/** Device kinds the hook checks; others (network pools, scsi, ...) are left to libvirt. */
const CHECKED = new Set(["mdev", "pci", "interface", "usb"]);

export interface HookOutcome {
  code: number;
  stdout: string;
  stderr: string[];
}

class Unreadable extends Error {}

/** Io plus an optional asynchronous stdin (tests); by default process.stdin is read as a stream. */
export interface HookIo extends Io {
  stdinAsync?: () => Promise<string>;
}

function readStdinAsync(io: HookIo): Promise<string> {
  if (io.stdinAsync) return io.stdinAsync();
  // Read as a stream (never a blocking read): the timeout must win when stdin never closes.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = process.stdin;
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    s.on("error", reject);
  });
}

/** Identity of a device on this host when the incoming XML carries no planner metadata for it. */
function fallbackMeta(dev: AssignedDevice, host: HookHost): PlannerDeviceMeta | null {
  const inv = host.inv;
  if (dev.kind === "mdev") {
    const nd = inv.mdevByUuid.get(dev.mdevUuid.toLowerCase());
    const parent = nd?.parent ? inv.byName.get(nd.parent) : undefined;
    if (!nd?.mdev || !parent) return null;
    const sel = host.selector.select(
      inv.key,
      deriveMdevDescriptor(parent, nd.mdev.type, inv.facts.nvidiaVersion),
      vendorDescriptorFor(inv, parent, nd.mdev.type),
    );
    return {
      id: dev.id,
      kind: dev.kind,
      guestAddress: guestAddressKey(dev.guestAddress),
      descriptor: sel.descriptor,
      mdevType: nd.mdev.type,
    };
  }
  if ((dev.kind === "pci" || dev.kind === "interface") && dev.hostAddress) {
    const fn = inv.pciByAddr.get(dev.hostAddress);
    if (!fn?.pci) return null;
    const pf = fn.pci.physFunction ? inv.pciByAddr.get(fn.pci.physFunction) : undefined;
    const sel = host.selector.select(inv.key, derivePciDescriptor(fn, pf), undefined);
    const descriptor: DescriptorData = {
      self: { ...sel.descriptor.self },
      compatible: sel.descriptor.compatible,
    };
    // The function at the same address here is bound to a migration-capable
    // variant driver: take it as the evidence (hosts of a fleet bind alike).
    if (migratingDriver(fn.driver) && descriptor.self.migratable === undefined) {
      descriptor.self.migratable = "1";
    }
    const m: PlannerDeviceMeta = {
      id: dev.id,
      kind: dev.kind,
      guestAddress: guestAddressKey(dev.guestAddress),
      descriptor,
    };
    const ids = pciDeviceId(fn);
    if (ids) m.pciIds = `${ids.slice(0, 4)}:${ids.slice(4)}`;
    return m;
  }
  return null;
}

/** Planner metadata for a device: by id and kind, else by kind and guest address (libvirt may rename aliases). */
function metaFor(domain: DomainInfo, dev: AssignedDevice): PlannerDeviceMeta | undefined {
  const byId = domain.plannerMetadata.find((m) => m.id === dev.id && m.kind === dev.kind);
  if (byId) return byId;
  const ga = guestAddressKey(dev.guestAddress);
  if (ga === null) return undefined;
  const hits = domain.plannerMetadata.filter((m) => m.kind === dev.kind && m.guestAddress === ga);
  return hits.length === 1 ? hits[0] : undefined;
}

interface Decision {
  report: HostReport;
  unidentified: { device: string; message: string }[];
}

/** Plan the incoming domain against this host, preferring the device it already names. */
export function decide(
  domain: DomainInfo,
  host: HookHost,
  reservations?: ReturnType<typeof reservationsOf>,
): Decision {
  const unidentified: Decision["unidentified"] = [];
  const devices: AssignedDevice[] = [];
  const metas: PlannerDeviceMeta[] = [];
  for (const dev of domain.devices) {
    if (!CHECKED.has(dev.kind)) continue;
    if (dev.kind === "usb") {
      if (dev.usb.vendorId && dev.usb.productId) devices.push(dev);
      continue; // a USB device named by bus/device only: libvirt checks it
    }
    const m = metaFor(domain, dev) ?? fallbackMeta(dev, host);
    if (!m?.descriptor || (dev.kind === "mdev" && !m.mdevType)) {
      const what = dev.kind === "mdev" ? `mdev ${dev.mdevUuid}` : `PCI function ${hostPciAddress(dev)}`;
      unidentified.push({
        device: dev.id,
        message: `cannot identify the device: no hdplan metadata in the incoming XML and ${what} does not exist on this host (write the XML with 'hdplan plan --write-dest-xml')`,
      });
      continue;
    }
    devices.push(dev);
    metas.push({ ...m, id: dev.id, kind: dev.kind });
  }
  const planDomainInfo: DomainInfo = { ...domain, devices, plannerMetadata: metas };
  const ctx = evalContext({
    domain: planDomainInfo,
    source: null,
    selector: host.selector,
    opts: { assumeVersions: true, explain: false },
  });
  // Keep the device the incoming XML already names when it is a candidate (so nothing changes).
  const keep = new Map(
    devices.map((d) => [d.id, { uuid: mdevUuidOf(d) ?? null, address: hostPciAddress(d) ?? null }]),
  );
  const taken = reservations ?? { inv: host.inv, used: new Map<string, number>(), by: [] };
  const report = evaluateHost(ctx, taken.inv, {
    keep,
    used: taken.used,
    takenBy: taken.by.length
      ? `the incoming migration(s) of ${taken.by.join(", ")} (hdplan hook reservations)`
      : "earlier placements",
  });
  return { report, unidentified };
}

/** The updaters that point the XML's host-side sources at the report's devices (applied once, by rewriteDomain). */
function sourceUpdaters(domain: DomainInfo, report: HostReport): { updaters: Updater[]; notes: string[] } {
  const updaters: Updater[] = [];
  const notes: string[] = [];
  const byId = new Map(domain.devices.map((d) => [d.id, d]));
  for (const a of report.assignments) {
    const dev = byId.get(a.device);
    const t = a.target;
    if (!dev) continue;
    if (dev.kind === "mdev" && t.kind === "mdev" && t.uuid) {
      updaters.push(mdevUuidUpdater(dev.id, t.uuid));
      if (t.create) {
        notes.push(
          `${dev.id}: mdev ${t.uuid} of type ${t.mdevType} must exist on ${t.parent} before the guest starts: mdevctl start -u ${t.uuid} -p ${t.parentAddress ?? parentAddressOf(t.parent)} -t ${t.mdevType}`,
        );
      }
    } else if (dev.kind === "pci" || dev.kind === "interface") {
      const addr = pciAddressOf(t);
      if (addr) updaters.push(pciSourceUpdater(dev.id, addr));
    }
  }
  return { updaters, notes };
}

/** HDPLAN_HOOK_CREATE=1: the hook writes the vGPU type of an SR-IOV vGPU VF itself (under the lock). */
export function hookCreates(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.HDPLAN_HOOK_CREATE === "1";
}

/**
 * The VF vGPU type writes the decision needs (a VF with type 0 that can create
 * the planned type, compat.md §8): without HDPLAN_HOOK_CREATE=1 each is a
 * refusal that prints the write to run; with it, the type is written under
 * live sysfs (HDPLAN_SYSFS_ROOT, src/vgpuvf/write.ts re-reads the VF first),
 * read back, and a write that did not take is a refusal. Called with the
 * reservation lock held, so two hooks never write the same VF.
 */
export function applyVgpuTypes(
  report: Pick<HostReport, "assignments">,
  env: Pick<HookEnv, "sysfsRoot">,
  create: boolean,
  write: typeof writeVgpuType = writeVgpuType,
): { refusals: string[]; notes: string[] } {
  const refusals: string[] = [];
  const notes: string[] = [];
  for (const s of vgpuWriteSteps(report.assignments)) {
    const what = `VF ${s.vf} has no vGPU type (nvidia/current_vgpu_type 0) and the plan gives it type ${s.typeId}${s.name ? ` (${s.name})` : ""}`;
    if (!create) {
      refusals.push(
        `${s.device}: vgpu-type-not-set: ${what}: run '${s.command}' on this host before migrating, or set HDPLAN_HOOK_CREATE=1 to let the hook write it`,
      );
      continue;
    }
    if (env.sysfsRoot === "") {
      refusals.push(
        `${s.device}: vgpu-type-write-failed: ${what}, but HDPLAN_SYSFS_ROOT is empty (no live sysfs to write): run '${s.command}' on this host`,
      );
      continue;
    }
    const err = write(env.sysfsRoot, s);
    const now = currentVgpuType(env.sysfsRoot, s.vf);
    if (err !== null || now !== s.typeId) {
      refusals.push(
        `${s.device}: vgpu-type-write-failed: ${err ?? `wrote ${s.typeId} to ${s.vf}/nvidia/current_vgpu_type but it reads back ${now ?? "nothing"}`}`,
      );
      continue;
    }
    notes.push(
      `${s.device}: wrote vGPU type ${s.typeId} to VF ${s.vf} (HDPLAN_HOOK_CREATE=1; read back ${now})`,
    );
  }
  return { refusals, notes };
}

/**
 * --write-dest-xml records the host an XML was planned for. Refuse XML planned
 * for another host (the mistake of passing hostA.xml to host B): its sources
 * name hostA's devices. The libvirt host UUID is the evidence; a record with a
 * UUID on a host whose snapshot has none cannot be verified and is refused
 * (fail-closed). A record with a host key only (test driver, dump directories:
 * no UUID known) is not compared: host keys are operator-chosen names.
 */
export function plannedForOtherHost(domain: DomainInfo, host: HookHost): string | null {
  const pf = domain.plannedFor;
  if (!pf?.hostUuid) return null;
  const inv = host.inv;
  const planned = `${pf.host ?? "?"} (libvirt host UUID ${pf.hostUuid})`;
  if (!inv.hostUuid) {
    return `planned-for-other-host: the XML was planned for host ${planned} and this host's snapshot records no host UUID, so it cannot be verified (refresh the snapshot: hdplan inventory -o ...)`;
  }
  if (inv.hostUuid === pf.hostUuid) return null;
  return `planned-for-other-host: the XML was planned for host ${planned}, this is ${inv.hostname ?? inv.key} (${inv.hostUuid}): pass the --write-dest-xml file written for this host`;
}

/** The work of `migrate begin -` (throws Unreadable/InputError on input it cannot read). */
async function migrateBegin(guest: string, io: HookIo, env: HookEnv, deadline: number): Promise<HookOutcome> {
  const xml = await readStdinAsync(io);
  if (xml.trim() === "") throw new Unreadable("empty domain XML on stdin");
  const domain = readDomain(xml, "<stdin>");
  const host = loadHookHost(env, guest);
  const other = plannedForOtherHost(domain, host);
  if (other) return { code: 1, stdout: "", stderr: [`refused: ${other}`] };
  const lock = new HookLock(env.stateDir);
  if (!(await lock.acquire(deadline))) throw new TimeoutError(`lock ${lock.path} busy`);
  try {
    const { report, unidentified } = decide(
      domain,
      host,
      reservationsOf(host.inv, readReservations(env.stateDir), guest),
    );
    const lines = [
      ...unidentified.map((u) => `${u.device}: ${u.message}`),
      ...report.unassigned.map(
        (u) => `${u.device}: ${u.reasons.map((r) => `${r.code}: ${r.message}`).join("; ")}`,
      ),
    ];
    if (lines.length > 0) {
      writeReservation(env.stateDir, guest, null);
      return { code: 1, stdout: "", stderr: lines.map((l) => `refused: ${l}`) };
    }
    // One parse of the incoming XML, the edits of every updater, one verification.
    const doc = new DomainDoc(xml, "<stdin>");
    const rewritten = sourceUpdaters(domain, report);
    const sourceEdits = rewritten.updaters.flatMap((u) => u(doc));
    const sourcesChanged = sourceEdits.length > 0;
    // XML with a planned-for record (--write-dest-xml) carries the hook's verdict
    // to the destination: checked-on-host on the plan element.
    const out = rewriteDomain(doc, "<stdin>", [
      () => sourceEdits,
      ...(domain.plannedFor ? [planCheckedUpdater(host.inv.hostUuid ?? host.inv.key)] : []),
    ]);
    // Last, once the XML is known good: VF vGPU type writes (or the refusal naming them).
    const vgpu = applyVgpuTypes(report, env, hookCreates());
    if (vgpu.refusals.length > 0) {
      writeReservation(env.stateDir, guest, null);
      return { code: 1, stdout: "", stderr: vgpu.refusals.map((l) => `refused: ${l}`) };
    }
    const notes = [...rewritten.notes, ...vgpu.notes];
    const keys = report.assignments.flatMap((a) => reservationKeys(a.target));
    const now = Date.now();
    writeReservation(env.stateDir, guest, reservationEntry(guest, keys, now, env.ttlMs), now);
    const changed = out !== xml;
    const msg = sourcesChanged
      ? `allowed: rewrote host-side sources (${report.assignments.map((a) => `${a.device} -> ${targetLabel(a.target)}`).join(", ")})`
      : changed
        ? "allowed: every device is available as named (marked checked-on-host in the hdplan metadata)"
        : "allowed: every device is available as named";
    return { code: 0, stdout: changed ? out : "", stderr: [msg, ...notes.map((n) => `note: ${n}`)] };
  } finally {
    lock.release();
  }
}

class TimeoutError extends Error {}

/**
 * Also log to syslog/journald through logger(1) (grep for "hdplan-hook"),
 * best effort and never waited for; HDPLAN_HOOK_SYSLOG=0 turns it off.
 */
function toSyslog(line: string): void {
  if (process.env.HDPLAN_HOOK_SYSLOG === "0" || !existsSync("/usr/bin/logger")) return;
  try {
    const child = spawn("/usr/bin/logger", ["-t", "hdplan-hook", "-p", "daemon.notice", "--", line], {
      stdio: "ignore",
      detached: true,
    });
    child.on("error", () => {});
    child.unref();
  } catch {
    // logging must never affect the verdict
  }
}

/** Append to STATE_DIR/hook.log (libvirt drops a successful hook's stderr); best effort. */
function toLogFile(env: HookEnv, line: string): void {
  if (process.env.HDPLAN_HOOK_LOGFILE === "0") return;
  try {
    appendFileSync(join(env.stateDir, "hook.log"), `${new Date().toISOString()} ${line}\n`);
  } catch {
    // logging must never affect the verdict
  }
}

export async function runHook(argv: string[], io: HookIo): Promise<number> {
  const [guest = "", op = "", subop = ""] = argv;
  if (op !== "migrate" || subop !== "begin") return 0;
  const env = hookEnv();
  const log = (s: string) => {
    // Time since the process started (node start-up included): the hook's cost.
    const line = `hdplan-hook: ${guest}: ${s} [${Math.round(performance.now())} ms]`;
    io.stderr(`${line}\n`);
    toSyslog(line);
    toLogFile(env, line);
  };
  const failOpen = (why: string): number => {
    if (env.strict) {
      log(`refused (HDPLAN_HOOK_STRICT=1): ${why}`);
      return 1;
    }
    log(`warning: allowing the migration unchecked: ${why}`);
    return 0;
  };
  const deadline = Date.now() + env.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), env.timeoutMs);
  });
  let outcome: HookOutcome | "timeout";
  try {
    outcome = await Promise.race([migrateBegin(guest, io, env, deadline), timeout]);
  } catch (e) {
    clearTimeout(timer);
    if (e instanceof TimeoutError) return failOpen(`timed out after ${env.timeoutMs / 1000}s (${e.message})`);
    return failOpen(`cannot read the input: ${errorMessage(e)}`);
  }
  clearTimeout(timer);
  if (outcome === "timeout")
    return failOpen(`timed out after ${env.timeoutMs / 1000}s (HDPLAN_HOOK_TIMEOUT)`);
  for (const l of outcome.stderr) log(l);
  if (outcome.stdout) io.stdout(outcome.stdout.endsWith("\n") ? outcome.stdout : `${outcome.stdout}\n`);
  return outcome.code;
}
