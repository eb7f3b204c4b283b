/**
 * Live targets: read a host through libvirt (read-only connection).
 *
 * Timeouts. Each read runs against one deadline (opts.timeoutMs, open included).
 * At the deadline the returned promise rejects with HostError("host-timeout")
 * even if a native call is still stuck (a libvirt call cannot be cancelled).
 * The abandoned work keeps running in the background: the connection is marked
 * abandoned so no further call is issued, and when the stuck call returns, its
 * result is dropped, objects are freed and the connection is closed; rejections
 * of the abandoned work are swallowed, so nothing surfaces later.
 *
 * A call that never returns (e.g. a TCP peer that accepts and never answers)
 * keeps one libuv pool thread busy and keeps the event loop alive: the CLI must
 * call process.exit() when it has written its result, and should run with
 * UV_THREADPOOL_SIZE raised (it must be set before node starts; see
 * nativeCallsInFlight() in ../libvirt/ffi.ts) when many hosts may hang.
 */
import { HostError, InputError, errorMessage, oneLine } from "../errors.js";
import type { RawDomain, RawHost, RawNetwork, RawNodeDevice } from "../model.js";
import { reason, type Reason } from "../reasons.js";
import { AbandonedError, type Connection, openReadOnly, openReadWrite } from "../libvirt/client.js";
import {
  LibvirtError,
  LibvirtMissingError,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_DOMAIN_XML_MIGRATABLE,
  VIR_ERR,
  VIR_FROM,
} from "../libvirt/ffi.js";
import { uriHostKey } from "./keys.js";
import { type QemuAnswer, QUERY_MIGRATE, parseQueryMigrate } from "../candidates/qemu.js";
import { LIVE_DEFAULTS } from "./live-defaults.js";

export interface LiveOptions {
  timeoutMs: number;
  /** Node device / domain XML reads in flight per host (default LIVE_DEFAULTS.callsPerHost). */
  concurrency?: number;
  /** @internal test seam: how to open the connection (default openReadOnly). */
  connect?: (uri: string) => Promise<Connection>;
}

/** cli.md "Host key": URI host part, test-driver file name without .xml, or null (use libvirt's hostname). */
export function liveHostKey(uri: string): string | null {
  return uriHostKey(uri);
}

const UNREACHABLE_CODES = new Set<number>([
  VIR_ERR.NO_CONNECT,
  VIR_ERR.SYSTEM_ERROR,
  VIR_ERR.RPC,
  VIR_ERR.AUTH_FAILED,
  VIR_ERR.AUTH_CANCELLED,
  VIR_ERR.AUTH_UNAVAILABLE,
  VIR_ERR.SSH,
  VIR_ERR.LIBSSH,
  VIR_ERR.NO_SERVER,
  VIR_ERR.OPERATION_TIMEOUT,
]);
const UNREACHABLE_DOMAINS = new Set<number>([
  VIR_FROM.RPC,
  VIR_FROM.REMOTE,
  VIR_FROM.SSH,
  VIR_FROM.LIBSSH,
  VIR_FROM.AUTH,
]);

function toHostError(e: unknown, uri: string, key: string, phase: "connect" | "read"): Error {
  if (e instanceof HostError || e instanceof InputError) return e;
  if (e instanceof LibvirtMissingError)
    return new HostError("libvirt-error", `${uri}: ${e.message}`, key || uri);
  if (e instanceof LibvirtError) {
    const unreachable =
      phase === "connect"
        ? UNREACHABLE_CODES.has(e.code) || UNREACHABLE_DOMAINS.has(e.domain)
        : e.code === VIR_ERR.RPC || e.code === VIR_ERR.SYSTEM_ERROR || e.domain === VIR_FROM.RPC;
    const what = phase === "connect" ? "cannot connect" : `${e.op} failed`;
    return new HostError(
      unreachable ? "host-unreachable" : "libvirt-error",
      `${uri}: ${what}: ${e.message}`,
      key || uri,
    );
  }
  return new HostError("libvirt-error", `${uri}: ${errorMessage(e)}`, key || uri);
}

/**
 * Run `work(conn)` on a fresh connection within `timeoutMs`. Never waits past the
 * deadline; the connection is closed once nothing is in flight on it.
 */
async function withConnection<T>(
  uri: string,
  key: string,
  timeoutMs: number,
  connect: (uri: string) => Promise<Connection>,
  work: (conn: Connection) => Promise<T>,
): Promise<T> {
  let expired = false;
  let conn: Connection | null = null;
  const job = (async () => {
    let c: Connection;
    try {
      c = await connect(uri);
    } catch (e) {
      throw toHostError(e, uri, key, "connect");
    }
    conn = c;
    try {
      if (expired) {
        c.abandon();
        throw new AbandonedError("open");
      }
      return await work(c);
    } catch (e) {
      throw toHostError(e, uri, key, "read");
    } finally {
      // Only reached when no call on c is in flight any more.
      await c.close();
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      (conn as Connection | null)?.abandon();
      const secs = Math.round(timeoutMs / 100) / 10;
      reject(new HostError("host-timeout", `${uri}: no answer within ${secs}s (--timeout)`, key || uri));
    }, timeoutMs);
    // The timer itself must not keep the process alive once the job is done.
  });
  // An abandoned job may reject much later: never let that surface.
  job.catch(() => {});
  try {
    return await Promise.race([job, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function readLiveHost(uri: string, key: string, opts: LiveOptions): Promise<RawHost> {
  const connect = opts.connect ?? openReadOnly;
  const concurrency = opts.concurrency ?? LIVE_DEFAULTS.callsPerHost;
  return withConnection(uri, key, opts.timeoutMs, connect, async (conn) => {
    const warnings: Reason[] = [];
    const hostname = await conn.hostname();
    const libvirt = await conn.libVersion();
    const hv = await conn.hypervisor();
    const hostUuid = await conn.hostUuid();

    const nodeDevices: RawNodeDevice[] = [];
    for (const d of await conn.readNodeDevices(0, concurrency)) {
      if ("error" in d) {
        if (conn.abandoned) throw new AbandonedError("virNodeDeviceGetXMLDesc");
        warnings.push(
          reason("device-skipped", `${uri}: node device ${d.name} skipped: ${oneLine(d.error.message)}`, {
            device: d.name,
          }),
        );
        continue;
      }
      nodeDevices.push({ xml: d.xml, origin: `${uri} nodedev ${d.name}` });
    }

    const domains: RawDomain[] = [];
    for (const d of await conn.listDomains(concurrency)) {
      domains.push({
        xml: d.xml,
        active: d.active,
        persistent: d.persistent,
        origin: `${uri} domain ${d.name}${d.active ? " (live)" : ""}`,
      });
      if (d.inactiveXml !== undefined) {
        domains.push({
          xml: d.inactiveXml,
          active: false,
          persistent: true,
          origin: `${uri} domain ${d.name} (inactive definition)`,
        });
      }
    }

    const networks: RawNetwork[] = [];
    for (const n of await conn.listNetworks()) {
      const net: RawNetwork = { xml: n.xml, active: n.active, origin: `${uri} network ${n.name}` };
      // ports stays undefined when libvirt cannot list them (e.g. the test driver):
      // the caller must then treat every function of the pool as possibly handed out.
      if (n.ports !== null) net.ports = n.ports;
      networks.push(net);
    }

    const host: RawHost = {
      key,
      target: uri,
      kind: "live",
      hostname,
      versions: { libvirt, hypervisorType: hv.type, hypervisorVersion: hv.version },
      nodeDevices,
      domains,
      networks,
      descriptorFiles: [],
      vendorAttrs: [],
      warnings,
    };
    if (hostUuid) host.hostUuid = hostUuid;
    return host;
  });
}

export interface LiveDomain {
  liveXml: string;
  /**
   * VIR_DOMAIN_XML_MIGRATABLE. libvirt refuses it on read-only connections
   * (OPERATION_DENIED, it counts as "secure"), so it is null unless
   * opts.readWrite is set.
   */
  migratableXml: string | null;
  inactiveXml: string | null;
  active: boolean;
  persistent: boolean;
  name: string;
}

export async function lookupLiveDomain(
  uri: string,
  nameOrUuid: string,
  opts: LiveOptions & { readWrite?: boolean },
): Promise<LiveDomain> {
  const connect = opts.connect ?? (opts.readWrite ? openReadWrite : openReadOnly);
  return withConnection(uri, liveHostKey(uri) ?? "", opts.timeoutMs, connect, async (conn) => {
    const found = await conn.domainXml(nameOrUuid, [0, VIR_DOMAIN_XML_MIGRATABLE]);
    if (!found) throw new InputError(`domain ${nameOrUuid} not found on ${uri}`);
    let inactiveXml: string | null = null;
    if (found.persistent) {
      const again = await conn.domainXml(nameOrUuid, [VIR_DOMAIN_XML_INACTIVE]);
      inactiveXml = again?.xml[0] ?? null;
    }
    const liveXml = found.xml[0];
    if (!liveXml) throw new HostError("libvirt-error", `${uri}: cannot read the XML of domain ${nameOrUuid}`);
    return {
      name: found.name,
      liveXml,
      migratableXml: found.xml[1] ?? null,
      inactiveXml,
      active: found.active,
      persistent: found.persistent,
    };
  });
}

/**
 * `plan --ask-qemu`: QMP query-migrate on the running domain through
 * virDomainQemuMonitorCommand (libvirt-qemu.so.0, read-write connection;
 * libvirt taints the domain "custom-monitor"). See src/candidates/qemu.ts.
 */
export async function askQemuMigrate(
  uri: string,
  domain: string,
  qemuVersion: string | null,
  timeoutMs: number,
  connect: (uri: string) => Promise<Connection> = openReadWrite,
): Promise<QemuAnswer> {
  return withConnection(uri, liveHostKey(uri) ?? "", timeoutMs, connect, async (conn) => {
    const text = await conn.qemuMonitorCommand(domain, QUERY_MIGRATE);
    if (text === null) throw new InputError(`domain ${domain} not found on ${uri}`);
    return parseQueryMigrate(text, uri, domain, qemuVersion);
  });
}
