/**
 * The only module that touches libvirt.so.0 (through koffi).
 *
 * - koffi and libvirt are loaded lazily on the first `loadLibvirt()` call, with a
 *   dynamic import, so code paths for dump dirs and snapshots never load them.
 * - Only the read-only calls in READONLY_SYMBOLS (plus the process-local error
 *   plumbing in ERROR_SYMBOLS and libc `free`) are bound by `loadLibvirt()`.
 *   WRITE_SYMBOLS are bound only by an explicit `loadWritable()` (`hdplan prepare`).
 * - Every call that can block (open, close, list, get XML, lookups, remote
 *   queries) is made with koffi's `.async()` on a libuv pool thread, so many
 *   hosts are queried at once.
 *
 * Errors. libvirt's "last error" is thread-local, and async calls run on pool
 * threads, so virGetLastError() on the main thread would not see them. Instead
 * one JS error handler is installed with virSetErrorFunc (global, userData 0) and
 * virConnSetErrorFunc (per connection, userData = connection id). libvirt calls it
 * in virDispatchError() on the failing thread *before* the API call returns; koffi
 * relays it to the main thread and blocks that thread until it ran, so the error is
 * recorded before the call's completion is seen. Per-connection errors are therefore
 * exact; errors of virConnectOpen* (no connection yet) are attributed heuristically
 * when several opens fail at the same moment (see takeOpenError). The handler also
 * keeps libvirt from printing errors to stderr.
 *
 * Abandoned calls. A native call cannot be cancelled. Callers that stop waiting
 * (timeouts) must still attach handlers to the call's promise; `nativeCallsInFlight()`
 * counts calls that have not returned. A call that never returns keeps one libuv
 * pool thread (UV_THREADPOOL_SIZE, default 4, shared with fs/dns/zlib) busy and keeps
 * the event loop alive: the CLI must call process.exit() when it is done.
 */
import { LIVE_DEFAULTS } from "../targets/live-defaults.js";
import type { LibraryHandle, TypeObject } from "koffi";

type Koffi = typeof import("koffi");
type KoffiFunction = ReturnType<LibraryHandle["func"]>;

export const LIBVIRT_SONAME = "libvirt.so.0";
export const LIBVIRT_MISSING_MESSAGE =
  "libvirt.so.0 not found: install libvirt0 (Debian/Ubuntu) or libvirt-libs (Fedora/RHEL)";

/** Host-facing calls that only read state. Bound by loadLibvirt(). */
export const READONLY_PROTOTYPES = {
  virInitialize: "int virInitialize()",
  virGetVersion:
    "int virGetVersion(_Out_ unsigned long *libVer, const char *type, _Out_ unsigned long *typeVer)",
  virConnectOpenReadOnly: "virConnect *virConnectOpenReadOnly(const char *name)",
  virConnectClose: "int virConnectClose(virConnect *conn)",
  virConnectGetHostname: "HeapStr virConnectGetHostname(virConnect *conn)",
  virConnectGetLibVersion: "int virConnectGetLibVersion(virConnect *conn, _Out_ unsigned long *libVer)",
  virConnectGetType: "const char *virConnectGetType(virConnect *conn)",
  virConnectGetVersion: "int virConnectGetVersion(virConnect *conn, _Out_ unsigned long *hvVer)",
  virConnectGetCapabilities: "HeapStr virConnectGetCapabilities(virConnect *conn)",
  virConnectListAllNodeDevices:
    "int virConnectListAllNodeDevices(virConnect *conn, _Out_ void **devices, unsigned int flags)",
  virNodeDeviceLookupByName: "virNodeDevice *virNodeDeviceLookupByName(virConnect *conn, const char *name)",
  virNodeDeviceGetName: "const char *virNodeDeviceGetName(virNodeDevice *dev)",
  virNodeDeviceGetXMLDesc: "HeapStr virNodeDeviceGetXMLDesc(virNodeDevice *dev, unsigned int flags)",
  virNodeDeviceFree: "int virNodeDeviceFree(virNodeDevice *dev)",
  virConnectListAllDomains:
    "int virConnectListAllDomains(virConnect *conn, _Out_ void **domains, unsigned int flags)",
  virDomainGetXMLDesc: "HeapStr virDomainGetXMLDesc(virDomain *domain, unsigned int flags)",
  virDomainIsActive: "int virDomainIsActive(virDomain *dom)",
  virDomainIsPersistent: "int virDomainIsPersistent(virDomain *dom)",
  virDomainGetName: "const char *virDomainGetName(virDomain *domain)",
  virDomainLookupByName: "virDomain *virDomainLookupByName(virConnect *conn, const char *name)",
  virDomainLookupByUUIDString:
    "virDomain *virDomainLookupByUUIDString(virConnect *conn, const char *uuidstr)",
  virDomainFree: "int virDomainFree(virDomain *domain)",
  virConnectListAllNetworks:
    "int virConnectListAllNetworks(virConnect *conn, _Out_ void **nets, unsigned int flags)",
  virNetworkGetXMLDesc: "HeapStr virNetworkGetXMLDesc(virNetwork *network, unsigned int flags)",
  virNetworkIsActive: "int virNetworkIsActive(virNetwork *net)",
  virNetworkGetName: "const char *virNetworkGetName(virNetwork *network)",
  virNetworkFree: "int virNetworkFree(virNetwork *network)",
  virNetworkListAllPorts:
    "int virNetworkListAllPorts(virNetwork *network, _Out_ void **ports, unsigned int flags)",
  virNetworkPortGetXMLDesc: "HeapStr virNetworkPortGetXMLDesc(virNetworkPort *port, unsigned int flags)",
  virNetworkPortFree: "int virNetworkPortFree(virNetworkPort *port)",
} as const;

/** Process-local error plumbing: reads or resets libvirt's error state, changes nothing on a host. */
export const ERROR_PROTOTYPES = {
  virGetLastError: "virError *virGetLastError()",
  virCopyLastError: "int virCopyLastError(_Out_ virError *to)",
  virResetLastError: "void virResetLastError()",
  virFreeError: "void virFreeError(virError *err)",
  virConnGetLastError: "virError *virConnGetLastError(virConnect *conn)",
  virConnResetLastError: "void virConnResetLastError(virConnect *conn)",
  virSetErrorFunc: "void virSetErrorFunc(void *userData, virErrorFunc *handler)",
  virConnSetErrorFunc: "void virConnSetErrorFunc(virConnect *conn, void *userData, virErrorFunc *handler)",
} as const;

/** Calls that change a host. Bound only by loadWritable(), used by `hdplan prepare`. */
export const WRITE_PROTOTYPES = {
  virConnectOpen: "virConnect *virConnectOpen(const char *name)",
  virNodeDeviceDefineXML:
    "virNodeDevice *virNodeDeviceDefineXML(virConnect *conn, const char *xml, unsigned int flags)",
  virNodeDeviceCreateXML:
    "virNodeDevice *virNodeDeviceCreateXML(virConnect *conn, const char *xml, unsigned int flags)",
  virNodeDeviceCreate: "int virNodeDeviceCreate(virNodeDevice *dev, unsigned int flags)",
  virNodeDeviceSetAutostart: "int virNodeDeviceSetAutostart(virNodeDevice *dev, int autostart)",
  virNodeDeviceDestroy: "int virNodeDeviceDestroy(virNodeDevice *dev)",
  virNodeDeviceUndefine: "int virNodeDeviceUndefine(virNodeDevice *dev, unsigned int flags)",
} as const;

export type ReadonlySymbol = keyof typeof READONLY_PROTOTYPES;
export type ErrorSymbol = keyof typeof ERROR_PROTOTYPES;
export type WriteSymbol = keyof typeof WRITE_PROTOTYPES;

export const READONLY_SYMBOLS = Object.keys(READONLY_PROTOTYPES) as readonly ReadonlySymbol[];
export const ERROR_SYMBOLS = Object.keys(ERROR_PROTOTYPES) as readonly ErrorSymbol[];
export const WRITE_SYMBOLS = Object.keys(WRITE_PROTOTYPES) as readonly WriteSymbol[];

// libvirt constants used by the client (virterror.h, libvirt-domain.h).
export const VIR_ERR = {
  NO_SUPPORT: 3,
  NO_CONNECT: 5,
  INVALID_ARG: 8,
  OPERATION_DENIED: 29,
  SYSTEM_ERROR: 38,
  RPC: 39,
  NO_DOMAIN: 42,
  NO_NETWORK: 43,
  AUTH_FAILED: 45,
  NO_NODE_DEVICE: 53,
  OPERATION_TIMEOUT: 68,
  AUTH_CANCELLED: 79,
  OPERATION_UNSUPPORTED: 84,
  SSH: 85,
  AUTH_UNAVAILABLE: 94,
  NO_SERVER: 95,
  LIBSSH: 98,
  NO_NETWORK_PORT: 107,
} as const;
export const VIR_FROM = { RPC: 7, REMOTE: 13, SSH: 50, AUTH: 46, LIBSSH: 66 } as const;
export const VIR_DOMAIN_XML_INACTIVE = 2;
export const VIR_DOMAIN_XML_MIGRATABLE = 8;

/** A libvirt error, with libvirt's numeric code and domain (virterror.h). */
export class LibvirtError extends Error {
  constructor(
    readonly op: string,
    readonly code: number,
    readonly domain: number,
    message: string,
  ) {
    super(message);
    this.name = "LibvirtError";
  }
}

/** libvirt.so.0 (or koffi) could not be loaded. */
export class LibvirtMissingError extends Error {
  constructor(detail: string) {
    super(`${LIBVIRT_MISSING_MESSAGE} (${detail})`);
    this.name = "LibvirtMissingError";
  }
}

export type Ptr = bigint;
interface ErrorInfo {
  code: number;
  domain: number;
  message: string;
}

type Bound<K extends string> = Record<K, KoffiFunction>;

export interface Libvirt {
  readonly koffi: Koffi;
  readonly fn: Bound<ReadonlySymbol | ErrorSymbol>;
  /** libvirt library version "x.y.z" (virGetVersion). */
  readonly version: string;
  /** Run `name` on a pool thread. Rejects only on koffi errors (libvirt failures are return values). */
  callAsync(name: ReadonlySymbol, ...args: unknown[]): Promise<unknown>;
  /** Decode a C array of `n` pointers and free the array itself with libc free(). */
  takePointerArray(array: Ptr, n: number): Ptr[];
  /** Allocate an id for a connection and route its errors to it (virConnSetErrorFunc). */
  attachConnection(conn: Ptr): number;
  detachConnection(id: number): void;
  /** Last error recorded for the connection (optionally the one mentioning `hint`), cleared. */
  takeConnError(id: number, op: string, hint?: string): LibvirtError;
  /** Sequence number to pass to takeOpenError. */
  openMark(): number;
  /** Error of a failed virConnectOpen* started at `mark`. */
  takeOpenError(mark: number, uri: string, op: string): LibvirtError;
}

/**
 * globalThis[EXIT_IF_STUCK](code), set once libvirt is loaded: exits the process
 * at once with `code` when native calls are still in flight, returns otherwise.
 * A global (not an export) so that the CLI can use it without importing this module.
 */
export const EXIT_IF_STUCK = Symbol.for("hdplan.libvirt.exitIfStuck");

let loading: Promise<Libvirt> | null = null;
let inFlight = 0;
let openedReadOnly = 0;
let openedReadWrite = 0;

/** Calls waiting for a koffi slot (at most LIVE_DEFAULTS.maxNativeCalls are handed to koffi at once). */
const waiting: (() => void)[] = [];
let started = 0;

/**
 * Run a bound function on koffi's worker pool, counting it as in flight until
 * it returns. Beyond maxNativeCalls running, calls wait here in order: koffi
 * throws past its max_async_calls instead of queueing.
 */
function runAsync(f: { async: (...a: unknown[]) => void }, args: unknown[]): Promise<unknown> {
  inFlight++;
  return new Promise((resolve, reject) => {
    const go = () => {
      started++;
      try {
        f.async(...args, (err: unknown, res: unknown) => {
          inFlight--;
          started--;
          waiting.shift()?.();
          if (err) reject(err);
          else resolve(res);
        });
      } catch (e) {
        inFlight--;
        started--;
        waiting.shift()?.();
        reject(e);
      }
    };
    if (started < LIVE_DEFAULTS.maxNativeCalls) go();
    else waiting.push(go);
  });
}

/** Native calls started with callAsync that have not returned yet (stuck or running). */
export function nativeCallsInFlight(): number {
  return inFlight;
}

/** How many connections were opened read-only / read-write in this process. */
export function openCounts(): { readOnly: number; readWrite: number } {
  return { readOnly: openedReadOnly, readWrite: openedReadWrite };
}

/** @internal used by client.ts */
export function countOpen(kind: "ro" | "rw"): void {
  if (kind === "ro") openedReadOnly++;
  else openedReadWrite++;
}

/** Load koffi and libvirt.so.0 once; bind the read-only calls. */
export function loadLibvirt(): Promise<Libvirt> {
  loading ??= doLoad();
  return loading;
}

function formatVersion(packed: number): string {
  const major = Math.floor(packed / 1_000_000);
  const minor = Math.floor((packed % 1_000_000) / 1000);
  const micro = packed % 1000;
  return `${major}.${minor}.${micro}`;
}
export { formatVersion as versionString };

async function doLoad(): Promise<Libvirt> {
  let koffi: Koffi;
  try {
    const mod = (await import("koffi")) as Koffi & { default?: Koffi };
    koffi = mod.default ?? mod;
  } catch (e) {
    throw new LibvirtMissingError(`koffi could not be loaded: ${(e as Error).message}`);
  }
  let lib: LibraryHandle;
  let libc: LibraryHandle;
  try {
    lib = koffi.load(LIBVIRT_SONAME);
  } catch (e) {
    throw new LibvirtMissingError((e as Error).message.split("\n")[0] ?? "dlopen failed");
  }
  try {
    libc = koffi.load("libc.so.6");
  } catch {
    libc = koffi.load(null);
  }
  const free = libc.func("void free(void *ptr)");
  // process.exit() runs libuv's shutdown, which joins the thread pool: a thread
  // stuck in a libvirt call (a peer that accepts and never answers) would hang
  // the exit forever. The CLI exits through this hook, which uses _exit(2) while
  // native calls are in flight (stdout/stderr are flushed first by the caller).
  const exitNow = libc.func("void _exit(int status)");
  (globalThis as Record<symbol, unknown>)[EXIT_IF_STUCK] = (code: number): void => {
    if (inFlight > 0) exitNow(code);
  };

  koffi.opaque("virConnect");
  koffi.opaque("virNodeDevice");
  koffi.opaque("virDomain");
  koffi.opaque("virNetwork");
  koffi.opaque("virNetworkPort");
  koffi.disposable("HeapStr", "str", (p: unknown) => free(p));
  const virError: TypeObject = koffi.struct("virError", {
    code: "int",
    domain: "int",
    message: "const char *",
    level: "int",
    conn: "void *",
    dom: "void *",
    str1: "const char *",
    str2: "const char *",
    str3: "const char *",
    int1: "int",
    int2: "int",
    net: "void *",
  });
  const virErrorFunc = koffi.proto("void virErrorFunc(void *userData, void *err)");

  const fn = {} as Bound<ReadonlySymbol | ErrorSymbol>;
  try {
    for (const [name, proto] of Object.entries({ ...READONLY_PROTOTYPES, ...ERROR_PROTOTYPES })) {
      fn[name as ReadonlySymbol] = lib.func(proto);
    }
  } catch (e) {
    throw new LibvirtMissingError(`libvirt.so.0 lacks a needed call: ${(e as Error).message}`);
  }

  if (fn.virInitialize() < 0) throw new LibvirtMissingError("virInitialize failed");
  const libVer = [0];
  fn.virGetVersion(libVer, null, null);
  const version = formatVersion(Number(libVer[0]));

  // Error routing. userData 0: global (opens); n > 0: connection id n.
  let seq = 0;
  const openErrors: { seq: number; err: ErrorInfo }[] = [];
  const connErrors = new Map<number, ErrorInfo[]>();
  const decodeError = (p: unknown): ErrorInfo => {
    const e = koffi.decode(p, virError) as { code: number; domain: number; message: string | null };
    return { code: e.code, domain: e.domain, message: e.message ?? `libvirt error code ${e.code}` };
  };
  const handler = (userData: unknown, errPtr: unknown) => {
    try {
      if (!errPtr) return;
      const err = decodeError(errPtr);
      const id = userData ? Number(userData) : 0;
      const list = id ? connErrors.get(id) : undefined;
      if (list) {
        list.push(err);
        if (list.length > 32) list.shift();
      } else {
        openErrors.push({ seq: ++seq, err });
        if (openErrors.length > 64) openErrors.shift();
      }
    } catch {
      // Never throw into libvirt.
    }
  };
  // Registered once and never unregistered: an abandoned call may still report an error later.
  const handlerPtr = koffi.register(handler, koffi.pointer(virErrorFunc));
  fn.virSetErrorFunc(null, handlerPtr);

  let nextConnId = 1;
  const api: Libvirt = {
    koffi,
    fn,
    version,
    callAsync(name, ...args) {
      return runAsync(fn[name], args);
    },
    takePointerArray(array, n) {
      if (!array) return [];
      try {
        if (n <= 0) return [];
        const ptrs = koffi.decode(array, "void *", n) as unknown[];
        return ptrs.map((p) => BigInt(p as bigint));
      } finally {
        free(array);
      }
    },
    attachConnection(conn) {
      const id = nextConnId++;
      connErrors.set(id, []);
      fn.virConnSetErrorFunc(conn, BigInt(id), handlerPtr);
      return id;
    },
    detachConnection(id) {
      connErrors.delete(id);
    },
    takeConnError(id, op, hint) {
      const list = connErrors.get(id) ?? [];
      let i = list.length - 1;
      if (hint) {
        const j = list.findIndex((e) => e.message.includes(hint));
        if (j >= 0) i = j;
      }
      const err = i >= 0 ? list.splice(i, 1)[0] : undefined;
      if (!err) return new LibvirtError(op, 0, 0, `${op} failed (no libvirt error reported)`);
      return new LibvirtError(op, err.code, err.domain, err.message);
    },
    openMark() {
      return seq;
    },
    takeOpenError(mark, uri, op) {
      const candidates = openErrors.filter((e) => e.seq > mark);
      let pick = candidates[0];
      const hints = uriHints(uri);
      // Most specific hint first ("127.0.0.1:2" before "127.0.0.1"): with several
      // opens failing at once, the bare host would match every one of them.
      for (const h of hints) {
        const matched = candidates.find((c) => c.err.message.includes(h));
        if (matched) {
          pick = matched;
          break;
        }
      }
      if (!pick) return new LibvirtError(op, 0, 0, `${op} failed (no libvirt error reported)`);
      openErrors.splice(openErrors.indexOf(pick), 1);
      return new LibvirtError(op, pick.err.code, pick.err.domain, pick.err.message);
    },
  };
  return api;
}

function uriHints(uri: string): string[] {
  const m = /^[a-z0-9+.-]+:\/\/([^/?#]*)([^?#]*)/i.exec(uri);
  const hints: string[] = [];
  const host = (m?.[1] ?? "").replace(/^[^@]*@/, "");
  if (host) hints.push(host, host.replace(/:\d+$/, ""));
  const path = m?.[2] ?? "";
  if (path.length > 1) hints.push(path);
  return hints.filter((h) => h !== "");
}

export interface WritableLibvirt {
  readonly fn: Bound<WriteSymbol>;
  callAsync(name: WriteSymbol, ...args: unknown[]): Promise<unknown>;
}

let writable: WritableLibvirt | null = null;

/**
 * Bind the calls that change a host (WRITE_SYMBOLS). Only `hdplan prepare` may
 * call this; read paths never do.
 */
export async function loadWritable(): Promise<WritableLibvirt> {
  if (writable) return writable;
  const base = await loadLibvirt();
  const lib = base.koffi.load(LIBVIRT_SONAME);
  const fn = {} as Bound<WriteSymbol>;
  for (const [name, proto] of Object.entries(WRITE_PROTOTYPES)) fn[name as WriteSymbol] = lib.func(proto);
  writable = {
    fn,
    callAsync(name, ...args) {
      return runAsync(fn[name], args);
    },
  };
  return writable;
}

/** libvirt-qemu.so.0: QEMU-specific calls, a separate library from libvirt.so.0. */
export const LIBVIRT_QEMU_SONAME = "libvirt-qemu.so.0";

/**
 * Bound only by loadQemuMonitor() (`plan --ask-qemu`). virDomainQemuMonitorCommand
 * (libvirt-qemu.h) needs a read-write connection, and libvirt marks the domain
 * tainted "custom-monitor" when it runs.
 */
export const QEMU_PROTOTYPES = {
  virDomainQemuMonitorCommand:
    "int virDomainQemuMonitorCommand(virDomain *domain, const char *cmd, _Out_ void **result, unsigned int flags)",
} as const;
export type QemuSymbol = keyof typeof QEMU_PROTOTYPES;

export interface QemuMonitorLibvirt {
  callAsync(name: QemuSymbol, ...args: unknown[]): Promise<unknown>;
  /** Decode a C string libvirt allocated and free it with libc free(). */
  takeString(p: Ptr): string;
}

let qemuMonitor: QemuMonitorLibvirt | null = null;

/** Bind libvirt-qemu.so.0's monitor call, lazily (only `plan --ask-qemu` calls this). */
export async function loadQemuMonitor(): Promise<QemuMonitorLibvirt> {
  if (qemuMonitor) return qemuMonitor;
  const base = await loadLibvirt();
  let lib: LibraryHandle;
  try {
    lib = base.koffi.load(LIBVIRT_QEMU_SONAME);
  } catch (e) {
    throw new LibvirtMissingError(
      `${LIBVIRT_QEMU_SONAME} not found (${(e as Error).message.split("\n")[0] ?? "dlopen failed"}); it ships with libvirt0 (Debian/Ubuntu) or libvirt-libs (Fedora/RHEL)`,
    );
  }
  let libc: LibraryHandle;
  try {
    libc = base.koffi.load("libc.so.6");
  } catch {
    libc = base.koffi.load(null);
  }
  const free = libc.func("void free(void *ptr)");
  const fn = {} as Bound<QemuSymbol>;
  for (const [name, proto] of Object.entries(QEMU_PROTOTYPES)) fn[name as QemuSymbol] = lib.func(proto);
  qemuMonitor = {
    callAsync(name, ...args) {
      return runAsync(fn[name], args);
    },
    takeString(p) {
      if (!p) return "";
      try {
        return base.koffi.decode(p, "char", -1) as string;
      } finally {
        free(p);
      }
    },
  };
  return qemuMonitor;
}
