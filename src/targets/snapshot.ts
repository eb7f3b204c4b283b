/**
 * Host snapshot files written by `hdplan inventory`.
 * schemaVersion 2 (this hdplan writes it) adds "facts" (vendor facts:
 * NVIDIA vGPU manager version, PF firmware and PSID); schemaVersion 1 files
 * are still read (no facts).
 */
import { InputError } from "../errors.js";
import type {
  HostFacts,
  HostSnapshot,
  HostVersions,
  PciFirmware,
  RawHost,
  VendorAttrs,
  VgpuVfFacts,
} from "../model.js";
import { MAX_SNAPSHOT_BYTES, readTextFile } from "./dump.js";

export const SNAPSHOT_KIND = "hdplan-host-snapshot";
export const SNAPSHOT_SCHEMA_VERSION = 2;
/** Schema versions this hdplan reads. */
export const SNAPSHOT_SCHEMA_VERSIONS_READ = [1, 2] as const;

function fail(file: string, what: string): never {
  throw new InputError(`${file}: not a valid hdplan host snapshot: ${what}`, file);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

function arr(o: Record<string, unknown>, k: string, file: string): unknown[] {
  const v = o[k];
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(file, `"${k}" must be an array`);
  return v;
}

function xmlOf(v: unknown, file: string, where: string): string {
  if (!isObj(v) || typeof v.xml !== "string") fail(file, `${where} needs an "xml" string`);
  return v.xml as string;
}

export function parseSnapshot(text: string, file: string): HostSnapshot {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file}: invalid JSON (${e instanceof Error ? e.message : e})`, file);
  }
  if (!isObj(j)) fail(file, "expected a JSON object");
  if (j.kind !== SNAPSHOT_KIND) fail(file, `"kind" must be "${SNAPSHOT_KIND}"`);
  if (j.schemaVersion !== 1 && j.schemaVersion !== 2) {
    fail(
      file,
      `schemaVersion ${JSON.stringify(j.schemaVersion)} is not supported (this hdplan reads ${SNAPSHOT_SCHEMA_VERSIONS_READ.join(" and ")})`,
    );
  }
  const versions: HostVersions = {};
  if (j.versions !== undefined) {
    if (!isObj(j.versions)) fail(file, '"versions" must be an object');
    for (const k of ["libvirt", "hypervisorType", "hypervisorVersion", "kernel"] as const) {
      const v = j.versions[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== "string") fail(file, `versions.${k} must be a string`);
      versions[k] = v;
    }
  }
  const snap: HostSnapshot = {
    schemaVersion: j.schemaVersion,
    kind: SNAPSHOT_KIND,
    createdAt: typeof j.createdAt === "string" ? j.createdAt : "",
    connect: typeof j.connect === "string" ? j.connect : "",
    versions,
    nodeDevices: arr(j, "nodeDevices", file).map((d, i) => ({ xml: xmlOf(d, file, `nodeDevices[${i}]`) })),
    domains: arr(j, "domains", file).map((d, i) => {
      const xml = xmlOf(d, file, `domains[${i}]`);
      const o = d as Record<string, unknown>;
      return { xml, active: o.active === true, persistent: o.persistent !== false };
    }),
    networks: arr(j, "networks", file).map((d, i) => {
      const xml = xmlOf(d, file, `networks[${i}]`);
      const o = d as Record<string, unknown>;
      const net: HostSnapshot["networks"][number] = { xml, active: o.active === true };
      if (o.ports !== undefined) {
        if (!Array.isArray(o.ports) || !o.ports.every((p) => typeof p === "string")) {
          fail(file, `networks[${i}].ports must be an array of strings`);
        }
        net.ports = o.ports as string[];
      }
      return net;
    }),
    vendorAttrs: arr(j, "vendorAttrs", file).map((v, i) => {
      if (!isObj(v) || typeof v.parent !== "string" || typeof v.type !== "string" || !isObj(v.attrs)) {
        fail(file, `vendorAttrs[${i}] needs parent, type and attrs`);
      }
      const attrs: Record<string, string> = {};
      for (const [k, val] of Object.entries(v.attrs)) attrs[k] = String(val);
      return { parent: v.parent, type: v.type, attrs } as VendorAttrs;
    }),
  };
  if (typeof j.hostname === "string") snap.hostname = j.hostname;
  if (j.schemaVersion === 2 && j.facts !== undefined) snap.facts = parseFacts(j.facts, file);
  if (typeof j.hostUuid === "string") snap.hostUuid = j.hostUuid.toLowerCase();
  if (snap.nodeDevices.length === 0) fail(file, "it has no node devices");
  return snap;
}

function parseFacts(v: unknown, file: string): HostFacts {
  if (!isObj(v)) fail(file, '"facts" must be an object');
  const out: HostFacts = { firmware: [] };
  if (v.nvidiaVersion !== undefined) {
    if (typeof v.nvidiaVersion !== "string") fail(file, "facts.nvidiaVersion must be a string");
    out.nvidiaVersion = v.nvidiaVersion;
  }
  out.firmware = arr(v, "firmware", file).map((f, i) => {
    if (!isObj(f) || typeof f.address !== "string")
      fail(file, `facts.firmware[${i}] needs an "address" string`);
    const fw: PciFirmware = {
      address: f.address as string,
      from: typeof f.from === "string" ? f.from : "snapshot",
    };
    for (const k of ["version", "psid"] as const) {
      const x = f[k];
      if (x === undefined) continue;
      if (typeof x !== "string") fail(file, `facts.firmware[${i}].${k} must be a string`);
      fw[k] = x;
    }
    return fw;
  });
  if (v.vgpuVfs !== undefined) {
    out.vgpuVfs = arr(v, "vgpuVfs", file).map((x, i) => {
      if (!isObj(x) || typeof x.address !== "string" || typeof x.currentType !== "number")
        fail(file, `facts.vgpuVfs[${i}] needs "address" and a numeric "currentType"`);
      const vf: VgpuVfFacts = { address: x.address as string, currentType: x.currentType as number };
      if (x.creatable !== undefined) {
        vf.creatable = arr(x, "creatable", file).map((t, k) => {
          if (!isObj(t) || typeof t.id !== "number" || typeof t.name !== "string")
            fail(file, `facts.vgpuVfs[${i}].creatable[${k}] needs a numeric "id" and a "name"`);
          return { id: t.id as number, name: t.name as string };
        });
      }
      return vf;
    });
  }
  if (v.vgpuHeterogeneous !== undefined) {
    out.vgpuHeterogeneous = arr(v, "vgpuHeterogeneous", file).map((x, i) => {
      if (typeof x !== "string") fail(file, `facts.vgpuHeterogeneous[${i}] must be a PCI address string`);
      return x as string;
    });
  }
  return out;
}

export function snapshotToRawHost(snap: HostSnapshot, key: string, target: string, file: string): RawHost {
  const raw: RawHost = {
    key,
    target,
    kind: "snapshot",
    versions: snap.versions,
    nodeDevices: snap.nodeDevices.map((d, i) => ({ xml: d.xml, origin: `${file}#nodeDevices[${i}]` })),
    domains: snap.domains.map((d, i) => ({ ...d, origin: `${file}#domains[${i}]` })),
    networks: snap.networks.map((n, i) => ({ ...n, origin: `${file}#networks[${i}]` })),
    descriptorFiles: [],
    vendorAttrs: snap.vendorAttrs,
    warnings: [],
  };
  if (snap.facts) raw.facts = snap.facts;
  if (snap.hostname) raw.hostname = snap.hostname;
  if (snap.hostUuid) raw.hostUuid = snap.hostUuid;
  return raw;
}

export function readSnapshotFile(file: string, key: string, target: string): RawHost {
  return snapshotToRawHost(parseSnapshot(readTextFile(file, MAX_SNAPSHOT_BYTES), file), key, target, file);
}
