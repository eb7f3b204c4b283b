/** Dump-directory targets (cli.md): nodedev/, domains/, networks/, descriptors/, host.json. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { HostVersions, RawHost } from "../model.js";

function listFiles(dir: string, ext: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => ext.test(n))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

export function readTextFile(path: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${path}: cannot read file (${code ?? "error"})`, path);
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(buf);
  if (text.includes("\uFFFD")) throw new InputError(`${path}: not valid UTF-8 text`, path);
  return text;
}

function str(v: unknown, file: string, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" && typeof v !== "number") {
    throw new InputError(`${file}: field "${field}" must be a string`, file);
  }
  return String(v);
}

export function readHostJson(path: string): { hostname?: string; versions: HostVersions } {
  const text = readTextFile(path);
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${path}: invalid JSON (${e instanceof Error ? e.message : e})`, path);
  }
  if (!j || typeof j !== "object" || Array.isArray(j))
    throw new InputError(`${path}: expected a JSON object`, path);
  const o = j as Record<string, unknown>;
  const hv = o.hypervisor;
  if (hv !== undefined && (hv === null || typeof hv !== "object")) {
    throw new InputError(`${path}: "hypervisor" must be an object {type, version}`, path);
  }
  const h = (hv ?? {}) as Record<string, unknown>;
  const versions: HostVersions = {};
  const lv = str(o.libvirtVersion, path, "libvirtVersion");
  if (lv) versions.libvirt = lv;
  const ht = str(h.type, path, "hypervisor.type");
  if (ht) versions.hypervisorType = ht;
  const hver = str(h.version, path, "hypervisor.version");
  if (hver) versions.hypervisorVersion = hver;
  const kv = str(o.kernelVersion, path, "kernelVersion");
  if (kv) versions.kernel = kv;
  const hostname = str(o.hostname, path, "hostname");
  return hostname ? { hostname, versions } : { versions };
}

export function isDumpDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function readDumpDir(dir: string, key: string, target: string): RawHost {
  const nodedevDir = join(dir, "nodedev");
  if (!isDumpDir(nodedevDir)) {
    throw new InputError(`${dir}: not a dump directory (no nodedev/ folder with node device XML)`, dir);
  }
  const nodeFiles = listFiles(nodedevDir, /\.xml$/i);
  if (nodeFiles.length === 0)
    throw new InputError(`${nodedevDir}: no node device XML files (*.xml)`, nodedevDir);
  const hostJsonPath = join(dir, "host.json");
  const hj = isFile(hostJsonPath) ? readHostJson(hostJsonPath) : { versions: {} };
  const raw: RawHost = {
    key,
    target,
    kind: "dump",
    versions: hj.versions,
    nodeDevices: nodeFiles.map((p) => ({ xml: readTextFile(p), origin: p })),
    // In a dump directory we cannot tell live from persistent: every definition
    // counts as both (fail-closed: its devices are reserved either way).
    domains: listFiles(join(dir, "domains"), /\.xml$/i).map((p) => ({
      xml: readTextFile(p),
      active: true,
      persistent: true,
      origin: p,
    })),
    // Networks in a dump directory are taken as active (documented).
    networks: listFiles(join(dir, "networks"), /\.xml$/i).map((p) => ({
      xml: readTextFile(p),
      active: true,
      origin: p,
    })),
    descriptorFiles: listFiles(join(dir, "descriptors"), /\.conf$/i).map((p) => ({
      path: p,
      text: readTextFile(p),
    })),
    vendorAttrs: [],
    warnings: [],
  };
  if (hj.hostname) raw.hostname = hj.hostname;
  return raw;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
