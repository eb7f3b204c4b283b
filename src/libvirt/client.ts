/**
 * A small typed, read-only, async libvirt API on top of ffi.ts.
 *
 * Every object and string libvirt hands out is freed here: strings by the
 * HeapStr disposable type (libc free), arrays from virConnectListAll* with libc
 * free, objects with vir*Free before the connection is closed.
 *
 * A Connection runs one call at a time per caller chain; `abandon()` makes every
 * later call fail at once (used when a deadline passes), and `close()` must only
 * be called once no call on the connection is in flight.
 */
import {
  countOpen,
  type Libvirt,
  LibvirtError,
  loadLibvirt,
  loadQemuMonitor,
  loadWritable,
  type Ptr,
  type ReadonlySymbol,
  VIR_DOMAIN_XML_INACTIVE,
  VIR_ERR,
  versionString,
} from "./ffi.js";

export interface DomainEntry {
  name: string;
  active: boolean;
  persistent: boolean;
  /** Live XML when active, else the persistent definition. */
  xml: string;
  /** Inactive (persistent) definition of an active persistent domain. */
  inactiveXml?: string;
}

export interface NetworkEntry {
  name: string;
  active: boolean;
  xml: string;
  /** Port XML documents; null when libvirt cannot list them (see portsError). */
  ports: string[] | null;
  portsError?: string;
}

export type NodeDeviceEntry = { name: string; xml: string } | { name: string; error: LibvirtError };

/** A call was attempted on a connection that was abandoned (deadline) or closed. */
export class AbandonedError extends Error {
  constructor(op: string) {
    super(`${op}: connection abandoned`);
    this.name = "AbandonedError";
  }
}

const isNull = (r: unknown) => r === null || r === undefined || r === 0n || r === 0;
const isNeg = (r: unknown) => typeof r === "number" && r < 0;

export class Connection {
  private state: "open" | "abandoned" | "closed" = "open";

  constructor(
    private readonly lv: Libvirt,
    private readonly ptr: Ptr,
    private readonly id: number,
    readonly uri: string,
    readonly readOnly: boolean,
  ) {}

  /** Raw virConnectPtr (for tests and loadWritable() users). */
  get pointer(): Ptr {
    return this.ptr;
  }

  get abandoned(): boolean {
    return this.state !== "open";
  }

  /** The last libvirt error reported on this connection (for callers of loadWritable() calls), cleared. */
  takeError(op: string): LibvirtError {
    return this.lv.takeConnError(this.id, op);
  }

  /** Make every later call on this connection fail with AbandonedError. */
  abandon(): void {
    if (this.state === "open") this.state = "abandoned";
  }

  private async call(name: ReadonlySymbol, args: unknown[], failed: (r: unknown) => boolean, hint?: string) {
    if (this.state !== "open") throw new AbandonedError(name);
    const r = await this.lv.callAsync(name, ...args);
    if (failed(r)) throw this.lv.takeConnError(this.id, name, hint);
    return r;
  }

  async hostname(): Promise<string> {
    return (await this.call("virConnectGetHostname", [this.ptr], isNull)) as string;
  }

  async libVersion(): Promise<string> {
    const out = [0];
    await this.call("virConnectGetLibVersion", [this.ptr, out], isNeg);
    return versionString(Number(out[0]));
  }

  async hypervisor(): Promise<{ type: string; version: string }> {
    const type = (await this.call("virConnectGetType", [this.ptr], isNull)) as string;
    const out = [0];
    await this.call("virConnectGetVersion", [this.ptr, out], isNeg);
    return { type, version: versionString(Number(out[0])) };
  }

  /**
   * The host UUID libvirt reports in its capabilities (<host><uuid>: SMBIOS, or
   * libvirtd.conf host_uuid); null when it reports none (the test driver).
   */
  async hostUuid(): Promise<string | null> {
    const caps = (await this.call("virConnectGetCapabilities", [this.ptr], isNull)) as string;
    const host = /<host>([\s\S]*?)<\/host>/.exec(caps)?.[1] ?? "";
    const m = /^\s*<uuid>\s*([0-9a-fA-F-]{32,36})\s*<\/uuid>/.exec(host);
    return m ? m[1]!.toLowerCase() : null;
  }

  private async listAll(name: ReadonlySymbol, target: unknown, flags: number): Promise<Ptr[]> {
    const out: unknown[] = [null];
    const n = (await this.call(name, [target, out, flags], isNeg)) as number;
    return this.lv.takePointerArray(out[0] as Ptr, n);
  }

  /** Names of node devices (flags: virConnectListAllNodeDevices capability flags; 0 = all). */
  async listNodeDevices(flags = 0): Promise<string[]> {
    const devs = await this.listAll("virConnectListAllNodeDevices", this.ptr, flags);
    try {
      return devs.map((d) => (this.lv.fn.virNodeDeviceGetName(d) as string | null) ?? "");
    } finally {
      for (const d of devs) this.lv.fn.virNodeDeviceFree(d);
    }
  }

  async nodeDeviceXml(name: string): Promise<string> {
    const dev = (await this.call("virNodeDeviceLookupByName", [this.ptr, name], isNull, name)) as Ptr;
    try {
      return (await this.call("virNodeDeviceGetXMLDesc", [dev, 0], isNull, name)) as string;
    } finally {
      this.lv.fn.virNodeDeviceFree(dev);
    }
  }

  /**
   * Every node device with its XML, read through the listed objects (no lookup
   * round trip). A device that fails to read (vanished since the listing) is
   * returned with its error; an abandoned connection throws.
   */
  async readNodeDevices(flags = 0, concurrency = 4): Promise<NodeDeviceEntry[]> {
    const devs = await this.listAll("virConnectListAllNodeDevices", this.ptr, flags);
    try {
      return await mapLimit(devs, concurrency, async (d): Promise<NodeDeviceEntry> => {
        const name = (this.lv.fn.virNodeDeviceGetName(d) as string | null) ?? "";
        try {
          return { name, xml: (await this.call("virNodeDeviceGetXMLDesc", [d, 0], isNull, name)) as string };
        } catch (e) {
          if (e instanceof LibvirtError) return { name, error: e };
          throw e;
        }
      });
    } finally {
      for (const d of devs) this.lv.fn.virNodeDeviceFree(d);
    }
  }

  /** Every domain: live XML when active, plus the inactive definition of active persistent ones. */
  async listDomains(concurrency = 4): Promise<DomainEntry[]> {
    const doms = await this.listAll("virConnectListAllDomains", this.ptr, 0);
    try {
      return await mapLimit(doms, concurrency, async (d) => {
        const name = (this.lv.fn.virDomainGetName(d) as string | null) ?? "";
        const active = ((await this.call("virDomainIsActive", [d], isNeg, name)) as number) === 1;
        const persistent = ((await this.call("virDomainIsPersistent", [d], isNeg, name)) as number) === 1;
        const xml = (await this.call("virDomainGetXMLDesc", [d, 0], isNull, name)) as string;
        const entry: DomainEntry = { name, active, persistent, xml };
        if (active && persistent) {
          entry.inactiveXml = (await this.call(
            "virDomainGetXMLDesc",
            [d, VIR_DOMAIN_XML_INACTIVE],
            isNull,
            name,
          )) as string;
        }
        return entry;
      });
    } finally {
      for (const d of doms) this.lv.fn.virDomainFree(d);
    }
  }

  /**
   * One domain by name or UUID. `flags` are virDomainGetXMLDesc flags for each
   * requested XML; a flag set that fails with OPERATION_DENIED (MIGRATABLE on a
   * read-only connection) gives null for that entry.
   */
  async domainXml(
    nameOrUuid: string,
    flagSets: number[],
  ): Promise<{ name: string; active: boolean; persistent: boolean; xml: (string | null)[] } | null> {
    const looksUuid = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(nameOrUuid);
    let dom: Ptr | null = null;
    const lookups: ReadonlySymbol[] = looksUuid
      ? ["virDomainLookupByUUIDString", "virDomainLookupByName"]
      : ["virDomainLookupByName"];
    for (const op of lookups) {
      try {
        dom = (await this.call(op, [this.ptr, nameOrUuid], isNull)) as Ptr;
        break;
      } catch (e) {
        if (e instanceof LibvirtError && (e.code === VIR_ERR.NO_DOMAIN || e.code === VIR_ERR.INVALID_ARG))
          continue;
        throw e;
      }
    }
    if (dom === null) return null;
    try {
      const name = (this.lv.fn.virDomainGetName(dom) as string | null) ?? nameOrUuid;
      const active = ((await this.call("virDomainIsActive", [dom], isNeg)) as number) === 1;
      const persistent = ((await this.call("virDomainIsPersistent", [dom], isNeg)) as number) === 1;
      const xml: (string | null)[] = [];
      for (const flags of flagSets) {
        try {
          xml.push((await this.call("virDomainGetXMLDesc", [dom, flags], isNull)) as string);
        } catch (e) {
          if (e instanceof LibvirtError && e.code === VIR_ERR.OPERATION_DENIED) xml.push(null);
          else throw e;
        }
      }
      return { name, active, persistent, xml };
    } finally {
      this.lv.fn.virDomainFree(dom);
    }
  }

  /**
   * Send one QMP command to a running domain through libvirt-qemu.so.0's
   * virDomainQemuMonitorCommand (read-write connections only; libvirt taints
   * the domain "custom-monitor"). Returns QEMU's JSON answer as text; null when
   * the domain is not defined.
   */
  async qemuMonitorCommand(nameOrUuid: string, cmd: string): Promise<string | null> {
    if (this.readOnly)
      throw new LibvirtError(
        "virDomainQemuMonitorCommand",
        VIR_ERR.OPERATION_DENIED,
        0,
        "needs a read-write connection",
      );
    const q = await loadQemuMonitor();
    let dom: Ptr;
    try {
      dom = (await this.call("virDomainLookupByName", [this.ptr, nameOrUuid], isNull)) as Ptr;
    } catch (e) {
      if (e instanceof LibvirtError && (e.code === VIR_ERR.NO_DOMAIN || e.code === VIR_ERR.INVALID_ARG))
        return null;
      throw e;
    }
    try {
      if (this.state !== "open") throw new AbandonedError("virDomainQemuMonitorCommand");
      const out: unknown[] = [null];
      const r = await q.callAsync("virDomainQemuMonitorCommand", dom, cmd, out, 0);
      if (isNeg(r)) throw this.lv.takeConnError(this.id, "virDomainQemuMonitorCommand");
      return q.takeString(out[0] as Ptr);
    } finally {
      this.lv.fn.virDomainFree(dom);
    }
  }

  /** Every network with its XML and, when libvirt can list them, its ports' XML. */
  async listNetworks(): Promise<NetworkEntry[]> {
    const nets = await this.listAll("virConnectListAllNetworks", this.ptr, 0);
    try {
      const out: NetworkEntry[] = [];
      for (const n of nets) {
        const name = (this.lv.fn.virNetworkGetName(n) as string | null) ?? "";
        const active = ((await this.call("virNetworkIsActive", [n], isNeg, name)) as number) === 1;
        const xml = (await this.call("virNetworkGetXMLDesc", [n, 0], isNull, name)) as string;
        const entry: NetworkEntry = { name, active, xml, ports: null };
        try {
          const ports = await this.listAll("virNetworkListAllPorts", n, 0);
          try {
            const docs: string[] = [];
            for (const p of ports)
              docs.push((await this.call("virNetworkPortGetXMLDesc", [p, 0], isNull)) as string);
            entry.ports = docs;
          } finally {
            for (const p of ports) this.lv.fn.virNetworkPortFree(p);
          }
        } catch (e) {
          if (!(e instanceof LibvirtError)) throw e;
          entry.portsError = e.message;
        }
        out.push(entry);
      }
      return out;
    } finally {
      for (const n of nets) this.lv.fn.virNetworkFree(n);
    }
  }

  /** Close the connection. Only call when no call on it is in flight. Never throws. */
  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    try {
      await this.lv.callAsync("virConnectClose", this.ptr);
    } catch {
      // ignore
    } finally {
      this.lv.detachConnection(this.id);
    }
  }
}

/** Open a read-only connection. Rejects with LibvirtError (or LibvirtMissingError). */
export async function openReadOnly(uri: string): Promise<Connection> {
  const lv = await loadLibvirt();
  const mark = lv.openMark();
  countOpen("ro");
  const ptr = await lv.callAsync("virConnectOpenReadOnly", uri);
  if (isNull(ptr)) throw lv.takeOpenError(mark, uri, "virConnectOpenReadOnly");
  const id = lv.attachConnection(ptr as Ptr);
  return new Connection(lv, ptr as Ptr, id, uri, true);
}

/** Open a read-write connection (binds WRITE_SYMBOLS). Only for `hdplan prepare` and explicit opt-in. */
export async function openReadWrite(uri: string): Promise<Connection> {
  const lv = await loadLibvirt();
  const w = await loadWritable();
  const mark = lv.openMark();
  countOpen("rw");
  const ptr = await w.callAsync("virConnectOpen", uri);
  if (isNull(ptr)) throw lv.takeOpenError(mark, uri, "virConnectOpen");
  const id = lv.attachConnection(ptr as Ptr);
  return new Connection(lv, ptr as Ptr, id, uri, false);
}

/** Run fn over items with at most `limit` at a time; order of results = order of items. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: { e: unknown } | null = null;
  const worker = async () => {
    while (failed === null) {
      const i = next++;
      if (i >= items.length) return;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== null) throw (failed as { e: unknown }).e;
  return out;
}
