/**
 * `hdplan inventory --connect <URI> [--sysfs-root DIR] [-o FILE]`: read a host
 * through libvirt and write a HostSnapshot (schemaVersion 2) to FILE or stdout.
 * Vendor facts (src/facts: NVIDIA vGPU manager version, PF firmware/PSID) are
 * read from --sysfs-root, or from / plus `devlink -j dev info` when the URI
 * names this machine; a remote URI records none (run inventory on the host).
 *
 * The live read may leave a stuck native call behind on timeout (see
 * targets/live.ts): the CLI must process.exit() with the returned exitCode.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { release } from "node:os";
import { EXIT, HostError, InputError, errorMessage } from "../errors.js";
import { mergeFacts, parseDevlinkInfo, readHostFacts } from "../facts/read.js";
import type { HostFacts, HostSnapshot, HostVersions, VendorAttrs } from "../model.js";
import { checkLibvirtUri } from "../targets/keys.js";
import { readLiveHost } from "../targets/live.js";

export interface InventoryOptions {
  connect: string;
  out?: string;
  sysfsRoot?: string;
  timeoutMs: number;
}

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** A URI that names no host and is not libvirt's test driver: libvirt runs on this machine. */
export function isLocalUri(uri: string): boolean {
  const m = /^([a-z0-9+.-]+):\/\/([^/?#]*)/i.exec(uri);
  if (!m) return false;
  const scheme = (m[1] ?? "").toLowerCase();
  const host = (m[2] ?? "").replace(/^[^@]*@/, "");
  if (scheme === "test" || scheme.startsWith("test+")) return false;
  const transport = scheme.split("+")[1];
  if (transport && transport !== "unix") return false;
  return host === "" || host === "localhost";
}

async function readVendorAttrs(root: string): Promise<VendorAttrs[]> {
  let mod: { readVendorSysfs(root: string): VendorAttrs[] | Promise<VendorAttrs[]> };
  try {
    mod = await import("../descriptors/sysfs.js");
  } catch (e) {
    throw new InputError(`--sysfs-root ${root}: sysfs reader unavailable (${errorMessage(e)})`);
  }
  return await mod.readVendorSysfs(root);
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k]!;
  return out;
}

function orderedVersions(v: HostVersions): HostVersions {
  const out: HostVersions = {};
  if (v.libvirt !== undefined) out.libvirt = v.libvirt;
  if (v.hypervisorType !== undefined) out.hypervisorType = v.hypervisorType;
  if (v.hypervisorVersion !== undefined) out.hypervisorVersion = v.hypervisorVersion;
  if (v.kernel !== undefined) out.kernel = v.kernel;
  return out;
}

/** `devlink -j dev info` on this machine, best effort (absent tool or error: no facts). */
export function localDevlinkFacts(run: () => string = defaultDevlink): HostFacts | undefined {
  let out: string;
  try {
    out = run();
  } catch {
    return undefined;
  }
  try {
    return { firmware: parseDevlinkInfo(out, "devlink -j dev info") };
  } catch {
    return undefined;
  }
}

function defaultDevlink(): string {
  return execFileSync("devlink", ["-j", "dev", "info"], {
    encoding: "utf8",
    timeout: 5000,
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 4 * 1024 * 1024,
  });
}

function readFacts(opts: InventoryOptions): HostFacts | undefined {
  if (opts.sysfsRoot) return readHostFacts(opts.sysfsRoot);
  if (!isLocalUri(opts.connect)) return undefined;
  return mergeFacts(readHostFacts("/"), localDevlinkFacts());
}

/** Build the snapshot object with a fixed key order. */
export async function buildSnapshot(
  opts: InventoryOptions,
  now = new Date(),
  onWarning: (message: string) => void = () => {},
): Promise<HostSnapshot> {
  if (!opts.connect.includes("://"))
    throw new InputError(`--connect ${opts.connect}: not a libvirt URI (expected e.g. qemu:///system)`);
  checkLibvirtUri(opts.connect, "--connect");
  const host = await readLiveHost(opts.connect, "", { timeoutMs: opts.timeoutMs });
  for (const w of host.warnings) onWarning(`${w.code}: ${w.message}`);
  const versions: HostVersions = { ...host.versions };
  if (isLocalUri(opts.connect)) versions.kernel = release();
  const vendorAttrs = opts.sysfsRoot ? await readVendorAttrs(opts.sysfsRoot) : [];
  const facts = readFacts(opts);
  if (!facts)
    onWarning(
      `${opts.connect} is not this host, so its /sys was not read: NVIDIA vGPU manager version, mlx5 firmware/PSID and SR-IOV vGPU VF types stay unknown (NVIDIA vGPUs cannot be full); run 'hdplan inventory --connect qemu:///system' on the host itself, or pass --sysfs-root with a copy of its sys/ (docs/dump-sys.md)`,
    );
  const snap: HostSnapshot = {
    schemaVersion: 2,
    kind: "hdplan-host-snapshot",
    createdAt: now.toISOString(),
    connect: opts.connect,
    ...(host.hostname !== undefined ? { hostname: host.hostname } : {}),
    ...(host.hostUuid !== undefined ? { hostUuid: host.hostUuid } : {}),
    versions: orderedVersions(versions),
    nodeDevices: host.nodeDevices.map((d) => ({ xml: d.xml })),
    domains: host.domains.map((d) => ({ xml: d.xml, active: d.active, persistent: d.persistent })),
    networks: host.networks.map((n) => ({
      xml: n.xml,
      active: n.active,
      ...(n.ports !== undefined ? { ports: n.ports } : {}),
    })),
    vendorAttrs: vendorAttrs.map((v) => ({ parent: v.parent, type: v.type, attrs: sortedRecord(v.attrs) })),
    ...(facts ? { facts } : {}),
  };
  return snap;
}

export async function runInventory(opts: InventoryOptions): Promise<CommandResult> {
  let stderr = "";
  try {
    const host = await buildSnapshot(opts, new Date(), (m) => {
      stderr += `hdplan: warning: ${m}\n`;
    });
    const json = `${JSON.stringify(host, null, 2)}\n`;
    if (opts.out) {
      try {
        writeFileSync(opts.out, json);
      } catch (e) {
        throw new InputError(`${opts.out}: cannot write the snapshot: ${errorMessage(e)}`, opts.out);
      }
      return { exitCode: EXIT.OK, stdout: "", stderr };
    }
    return { exitCode: EXIT.OK, stdout: json, stderr };
  } catch (e) {
    if (e instanceof HostError || e instanceof InputError) {
      stderr += `hdplan: error: ${e.message}\n`;
      return { exitCode: e.exitCode, stdout: "", stderr };
    }
    throw e;
  }
}
