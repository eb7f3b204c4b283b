/**
 * The hook's view of this host, without libvirt (cli.md `hook`):
 * HDPLAN_HOOK_HOST (snapshot or dump directory), live sysfs under
 * HDPLAN_SYSFS_ROOT, and domain files in HDPLAN_DOMAIN_DIRS.
 *
 * Never import src/libvirt or src/targets/live.ts (or src/targets/index.ts,
 * which can load it) from here.
 */
import { indexDevices } from "../inventory/indexes.js";
import { reserve } from "../inventory/keys.js";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { descriptorFilesFromTexts, loadDescriptorDir, DescriptorSelector } from "../descriptors/sources.js";
import { readVendorSysfs } from "../descriptors/sysfs.js";
import { InputError } from "../errors.js";
import { mergeFacts, readHostFacts } from "../facts/read.js";
import { buildInventory } from "../inventory/build.js";
import type { HostInventory } from "../inventory/types.js";
import type { NodeDevice, RawDomain, RawHost } from "../model.js";
import { parentAddressOf } from "../output/mdevplan.js";
import { copyDevice } from "../xml/nodedev.js";
import { parseXmlRoots } from "../xml/parse.js";
import { readDumpDir } from "../targets/dump.js";
import { validateKey } from "../targets/keys.js";
import { readSnapshotFile } from "../targets/snapshot.js";
import { mdevTypesOf } from "../descriptors/derive.js";

export interface HookEnv {
  host: string;
  sysfsRoot: string;
  domainDirs: string[];
  stateDir: string;
  timeoutMs: number;
  strict: boolean;
  ttlMs: number;
  descriptors: string | null;
  /**
   * This host's key, as `plan` names it (the host part of its URI, its
   * snapshot or dump directory name): selects DIR/<key>/ descriptor files.
   * scripts/install-hook.sh records it (--host-key, default `hostname -s`).
   */
  hostKey: string | null;
}

export function hookEnv(env: NodeJS.ProcessEnv = process.env): HookEnv {
  const num = (v: string | undefined, d: number) => {
    const n = Number(v);
    return v !== undefined && v.trim() !== "" && Number.isFinite(n) && n > 0 ? n : d;
  };
  return {
    host: env.HDPLAN_HOOK_HOST || "/var/lib/hostdev-planner/host.json",
    sysfsRoot: env.HDPLAN_SYSFS_ROOT ?? "/",
    domainDirs: (env.HDPLAN_DOMAIN_DIRS ?? "/etc/libvirt/qemu:/run/libvirt/qemu")
      .split(":")
      .filter((d) => d !== ""),
    stateDir: env.HDPLAN_HOOK_STATE_DIR || "/run/hostdev-planner",
    timeoutMs: num(env.HDPLAN_HOOK_TIMEOUT, 10) * 1000,
    strict: env.HDPLAN_HOOK_STRICT === "1",
    ttlMs: num(env.HDPLAN_HOOK_RESERVATION_TTL, 300) * 1000,
    descriptors: env.HDPLAN_HOOK_DESCRIPTORS || null,
    hostKey: env.HDPLAN_HOOK_HOST_KEY || null,
  };
}

/** The <domain> element text of a domain file (a /run/libvirt/qemu status file wraps it in <domstatus>). */
export function domainXmlOf(text: string, file = "<domain>"): string | null {
  const roots = parseXmlRoots(text, file, true);
  const root = roots.find((r) => r.name === "domain" || r.name === "domstatus");
  if (!root) return null;
  if (root.name === "domain") return text.slice(root.start, root.end);
  const d = root.children.find((c) => c.name === "domain");
  return d ? text.slice(d.start, d.end) : null;
}

/** Domain files of HDPLAN_DOMAIN_DIRS (top level *.xml only), skipping `guest` itself. */
export function readDomainDirs(dirs: string[], guest: string): RawDomain[] {
  const out: RawDomain[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((n) => n.endsWith(".xml"))
        .sort();
    } catch {
      continue; // a missing folder holds no domains
    }
    for (const n of names) {
      const p = join(dir, n);
      try {
        if (!statSync(p).isFile()) continue;
      } catch {
        continue;
      }
      const text = readFileSync(p, "utf8");
      const xml = domainXmlOf(text, p);
      if (xml === null) throw new InputError(`${p}: no <domain> element`, p);
      const name = /<name>\s*([^<]*?)\s*<\/name>/.exec(xml)?.[1];
      if (name === guest) continue;
      out.push({ xml, active: dir.includes("/run/"), persistent: !dir.includes("/run/"), origin: p });
    }
  }
  return out;
}

/**
 * The key plan would give this host: HDPLAN_HOOK_HOST_KEY (what the installer
 * configured), else a dump directory's name, else this machine's short
 * hostname (the host part of a qemu+ssh://root@HOST/system URI).
 */
export function hookHostKey(target: string, configured: string | null, isDir: boolean): string {
  if (configured) return validateKey(configured, "HDPLAN_HOOK_HOST_KEY");
  const candidates = [isDir ? basename(target.replace(/\/+$/, "")) : "", hostname().split(".")[0] ?? ""];
  for (const c of candidates) {
    if (!c) continue;
    try {
      return validateKey(c, "host key");
    } catch {
      // try the next one
    }
  }
  return "localhost";
}

function readHostTarget(target: string, configuredKey: string | null): RawHost {
  if (target.includes("://")) {
    throw new InputError(
      `HDPLAN_HOOK_HOST=${target} is a libvirt URI; the hook never calls libvirt: point it at a snapshot (hdplan inventory -o FILE) or a dump directory`,
    );
  }
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(target);
  } catch {
    throw new InputError(
      `HDPLAN_HOOK_HOST ${target}: no such file or directory (is the hdplan inventory timer running?)`,
      target,
    );
  }
  const key = hookHostKey(target, configuredKey, st.isDirectory());
  return st.isDirectory() ? readDumpDir(target, key, target) : readSnapshotFile(target, key, target);
}

function readSmall(p: string): string | undefined {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return undefined;
  }
}

function linkBase(p: string): string | undefined {
  try {
    return basename(readlinkSync(p));
  } catch {
    return undefined;
  }
}

/** Overlay live sysfs onto the inventory: for a device sysfs has, sysfs wins. */
export function overlaySysfs(inv: HostInventory, root: string): void {
  // The node device reader's devices are frozen (one object may stand in
  // several inventories: src/xml/nodedev.ts): overlay onto copies.
  inv.devices = inv.devices.map(copyDevice);
  Object.assign(inv, indexDevices(inv.devices));
  const sys = (...p: string[]) => join(root, "sys", ...p);
  // PCI drivers
  const pciDir = sys("bus", "pci", "devices");
  if (existsSync(pciDir)) {
    let any = false;
    for (const nd of inv.pciByAddr.values()) {
      const addr = nd.pci!.address;
      if (!existsSync(join(pciDir, addr))) continue;
      any = true;
      nd.driver = linkBase(join(pciDir, addr, "driver")) ?? null;
    }
    if (any) inv.driversKnown = true;
  }
  // mdev available_instances
  const busDir = sys("class", "mdev_bus");
  const parentSysName = (nd: NodeDevice) => nd.pci?.address ?? parentAddressOf(nd.name);
  if (existsSync(busDir)) {
    for (const nd of inv.devices) {
      for (const t of mdevTypesOf(nd)) {
        const v = readSmall(
          join(busDir, parentSysName(nd), "mdev_supported_types", t.id, "available_instances"),
        );
        if (v !== undefined && /^\d+$/.test(v)) t.availableInstances = Number(v);
      }
    }
  }
  // existing mdevs
  const mdevDir = sys("bus", "mdev", "devices");
  let uuids: string[] | null = null;
  try {
    uuids = readdirSync(mdevDir);
  } catch {
    uuids = null;
  }
  if (uuids === null) return;
  const live = new Set<string>();
  for (const raw of uuids) {
    const uuid = raw.toLowerCase();
    live.add(uuid);
    let link: string;
    try {
      link = readlinkSync(join(mdevDir, raw, "mdev_type"));
    } catch {
      continue;
    }
    const segs = link.split("/");
    const i = segs.lastIndexOf("mdev_supported_types");
    const type = segs[i + 1];
    const parentSys = i > 0 ? segs[i - 1] : undefined;
    if (!type || !parentSys) continue;
    const parent = inv.devices.find((d) => mdevTypesOf(d).length > 0 && parentSysName(d) === parentSys);
    const group = linkBase(join(mdevDir, raw, "iommu_group"));
    const existing = inv.mdevByUuid.get(uuid);
    if (existing?.mdev) {
      existing.mdev.type = type;
      if (group !== undefined && /^\d+$/.test(group)) existing.mdev.iommuGroup = Number(group);
      continue;
    }
    if (!parent) {
      reserve(inv.reserved, { kind: "mdev", uuid }, { by: "orphan-mdev", name: uuid }, true);
      continue;
    }
    const nd: NodeDevice = {
      name: `mdev_${uuid.replace(/-/g, "_")}_${parent.name}`,
      parent: parent.name,
      driver: "vfio_mdev",
      caps: ["mdev"],
      mdev: { type, uuid, attrs: [], ...(group && /^\d+$/.test(group) ? { iommuGroup: Number(group) } : {}) },
    };
    inv.devices.push(nd);
    inv.byName.set(nd.name, nd);
    inv.mdevByUuid.set(uuid, nd);
  }
  for (const [uuid, nd] of inv.mdevByUuid) {
    if (!live.has(uuid) && nd.mdev?.iommuGroup !== undefined) {
      reserve(inv.reserved, { kind: "mdev", uuid }, { by: "stale-mdev", name: uuid }, true);
    }
  }
}

export interface HookHost {
  inv: HostInventory;
  selector: DescriptorSelector;
}

/** Read the host state (throws InputError on input it cannot read). */
export function loadHookHost(env: HookEnv, guest: string): HookHost {
  const raw = readHostTarget(env.host, env.hostKey);
  raw.domains.push(...readDomainDirs(env.domainDirs, guest));
  // The incoming guest's own definition (a retry, a snapshot taken mid-migration) is not "in use".
  raw.domains = raw.domains.filter((d) => /<name>\s*([^<]*?)\s*<\/name>/.exec(d.xml)?.[1] !== guest);
  if (env.sysfsRoot !== "") {
    const vendor = readVendorSysfs(env.sysfsRoot);
    if (vendor.length) {
      const keyOf = (v: { parent: string; type: string }) => `${parentAddressOf(v.parent)}|${v.type}`;
      const liveKeys = new Set(vendor.map(keyOf));
      raw.vendorAttrs = [...raw.vendorAttrs.filter((v) => !liveKeys.has(keyOf(v))), ...vendor];
    }
  }
  // Vendor facts (NVIDIA manager version, PF firmware): live sysfs wins per fact.
  if (env.sysfsRoot !== "") raw.facts = mergeFacts(raw.facts, readHostFacts(env.sysfsRoot));
  const inv = buildInventory(raw);
  if (env.sysfsRoot !== "") overlaySysfs(inv, env.sysfsRoot);
  const files = env.descriptors ? loadDescriptorDir(env.descriptors) : [];
  if (inv.descriptorFiles.length) files.push(...descriptorFilesFromTexts(inv.descriptorFiles, inv.key));
  return { inv, selector: new DescriptorSelector(files) };
}
