/** Target specs and host keys (cli.md "Targets", "Host key"). */
import { basename, resolve } from "node:path";
import { InputError } from "../errors.js";

export interface TargetSpec {
  /** Explicit KEY= prefix, if given. */
  explicitKey?: string;
  /** What was given after KEY= (or the whole argument). */
  target: string;
  kind: "uri" | "path";
  /** Where it was given (command line or hosts-file:line) for messages. */
  where: string;
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function parseTargetSpec(arg: string, where = "command line"): TargetSpec {
  const s = arg.trim();
  if (s === "") throw new InputError(`${where}: empty target`);
  const eq = s.indexOf("=");
  const colonSlash = s.indexOf("://");
  if (eq > 0 && (colonSlash < 0 || eq < colonSlash)) {
    const key = s.slice(0, eq);
    const target = s.slice(eq + 1);
    if (KEY_RE.test(key) && target !== "") {
      const kind = target.includes("://") ? "uri" : "path";
      if (kind === "uri") checkLibvirtUri(target, where);
      return { explicitKey: key, target, kind, where };
    }
  }
  const kind = s.includes("://") ? "uri" : "path";
  if (kind === "uri") checkLibvirtUri(s, where);
  return { target: s, kind, where };
}

/** libvirt hypervisor and secondary drivers (https://libvirt.org/uri.html, drvindex). */
const LIBVIRT_DRIVERS = new Set([
  "qemu",
  "test",
  "xen",
  "libxl",
  "lxc",
  "ch",
  "bhyve",
  "vz",
  "parallels",
  "openvz",
  "vbox",
  "vmwareplayer",
  "vmwarews",
  "vmwarefusion",
  "esx",
  "gsx",
  "vpx",
  "hyperv",
  "remote",
  "interface",
  "network",
  "nodedev",
  "nwfilter",
  "secret",
  "storage",
]);
const LIBVIRT_TRANSPORTS = new Set(["tls", "tcp", "unix", "ssh", "libssh", "libssh2", "ext"]);

/**
 * A libvirt URI must name a libvirt driver (and a known transport): anything
 * else would reach libvirt's remote driver and fail with a misleading TLS
 * error, so it is refused as bad input (exit 2) naming where it was given.
 */
export function checkLibvirtUri(uri: string, where: string): void {
  const m = /^([A-Za-z][A-Za-z0-9]*)(?:\+([A-Za-z0-9]+))?:\/\//.exec(uri);
  const driver = m?.[1]?.toLowerCase();
  const transport = m?.[2]?.toLowerCase();
  if (!m || !driver || !LIBVIRT_DRIVERS.has(driver) || (transport && !LIBVIRT_TRANSPORTS.has(transport))) {
    const scheme = uri.slice(0, uri.indexOf("://"));
    throw new InputError(
      `${where}: ${uri}: unknown libvirt URI scheme '${scheme.slice(0, 40)}'; expected DRIVER[+TRANSPORT]:// such as qemu:///system, qemu+ssh://HOST/system or test:///PATH.xml`,
    );
  }
}

/** Key from the URI alone, or null when the URI names no host (use libvirt's hostname). */
export function uriHostKey(uri: string): string | null {
  const m = /^([a-z0-9+.-]+):\/\/([^/?#]*)(\/[^?#]*)?/i.exec(uri);
  if (!m) return null;
  const scheme = (m[1] ?? "").toLowerCase();
  let host = m[2] ?? "";
  const path = m[3] ?? "";
  if (scheme === "test" || scheme.startsWith("test+")) {
    const file = basename(path);
    if (file && file !== "default") return file.replace(/\.xml$/i, "");
  }
  host = host
    .replace(/^[^@]*@/, "")
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "");
  return host === "" ? null : host;
}

export function pathHostKey(path: string): string {
  const clean = path.replace(/\/+$/, "");
  return basename(clean).replace(/\.json$/i, "");
}

export function validateKey(key: string, where: string): string {
  if (!KEY_RE.test(key)) {
    throw new InputError(
      `${where}: host key "${key}" must match ${KEY_RE.source} (use KEY=TARGET to name it)`,
    );
  }
  return key;
}

/** Throw InputError (exit 2) on duplicate keys. */
export function assertUniqueKeys(items: { key: string; target: string }[]): void {
  const seen = new Map<string, string>();
  for (const it of items) {
    const prev = seen.get(it.key);
    if (prev !== undefined) {
      throw new InputError(
        `duplicate host key "${it.key}" for ${prev} and ${it.target}; name one with KEY=TARGET`,
      );
    }
    seen.set(it.key, it.target);
  }
}

export function readHostsFileText(text: string, file: string): TargetSpec[] {
  const out: TargetSpec[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const s = line.replace(/(^|\s)#.*$/, "").trim();
    if (s === "") return;
    out.push(parseTargetSpec(s, `${file}:${i + 1}`));
  });
  return out;
}

/** What identifies a host for "is this the source" (compat.md §7). */
export interface HostIdentity {
  key: string;
  target: string;
  /** libvirt's host UUID (capabilities), when it was read (live, snapshots). */
  hostUuid?: string | null;
}

function normTarget(t: string): string {
  if (t.includes("://")) return t.replace(/\/+$/, "");
  return resolve(t.replace(/\/+$/, ""));
}

/**
 * Whether `h` is the source host: the same key, the same path (resolved) or
 * URI, or the same libvirt host UUID (libvirt itself refuses a migration to a
 * host with the source's host_uuid: "Attempt to migrate guest to the same
 * host", src/qemu/qemu_migration_cookie.c). Returns what matched, or null.
 * Not used: libvirt hostnames (the test driver and snapshots taken from it all
 * report the machine's own hostname).
 */
export function sameHostAs(source: HostIdentity, h: HostIdentity): string | null {
  if (h.key === source.key) return `the same host key "${h.key}"`;
  if (normTarget(h.target) === normTarget(source.target)) return `the same target ${h.target}`;
  const su = source.hostUuid?.toLowerCase();
  if (su && su === h.hostUuid?.toLowerCase()) return `the same libvirt host UUID ${su}`;
  return null;
}
