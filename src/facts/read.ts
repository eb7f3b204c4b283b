/**
 * Vendor facts of a host that libvirt does not show (compat.md §7), read from
 * a sysfs tree under ROOT: ROOT "/" on the host itself (`hdplan inventory`,
 * the hook), `--sysfs-root DIR`, or a dump directory whose `sys/` folder is a
 * partial copy of the host's /sys. One reader for all of them. The exact
 * files are listed in docs/dump-sys.md (keep the two in step):
 *
 * - `sys/module/nvidia/version`: the NVIDIA vGPU manager (the `nvidia` kernel
 *   module's MODULE_VERSION, which the kernel exports for every module that
 *   sets one as /sys/module/<name>/version: kernel/module/main.c
 *   `MODINFO_ATTR(version)`).
 * - `sys/bus/pci/devices/<PF>/infiniband/<ibdev>/fw_ver` and `board_id`: an
 *   mlx5 PF's running firmware and PSID. `board_id` is `mdev->board_id`
 *   (Linux drivers/infiniband/hw/mlx5/main.c `board_id_show`), the value
 *   mlx5 devlink reports as `fw.psid` (drivers/net/ethernet/mellanox/mlx5/
 *   core/devlink.c `mlx5_devlink_info_get`); `fw_ver` is the IB core's
 *   attribute (drivers/infiniband/core/sysfs.c), "%d.%d.%04d" for mlx5 like
 *   devlink's `fw.version`. Present only while mlx5_ib is loaded: otherwise
 *   `devlink -j dev info` (parseDevlinkInfo) is the source.
 *
 * - `sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type` and
 *   `creatable_vgpu_types`: NVIDIA SR-IOV vGPU VFs (src/vgpuvf/read.ts).
 * - `nvidia-smi-q.txt` (a dump's saved `nvidia-smi -q`, not sysfs): the GPUs
 *   in time-sliced vGPU heterogeneous mode (parseHeterogeneous).
 *
 * Bounded and tolerant like src/descriptors/sysfs.ts: symlinks only inside
 * ROOT, small reads, unreadable files skipped (the fact stays unknown).
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { HostFacts, PciFirmware } from "../model.js";
import type { TreeListing } from "../cache/listing.js";
import { sysReader } from "../descriptors/sysfs.js";
import { parseHeterogeneous, readVgpuVfs } from "../vgpuvf/read.js";

const PCI_ADDR = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
/** A version-like token: digits and dots, optionally more (550.127.05, 22.41.1000). */
const VERSION_TEXT = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$/;

export function emptyFacts(): HostFacts {
  return { firmware: [] };
}

function clean(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = v.split("\n")[0]!.trim();
  return VERSION_TEXT.test(t) ? t : undefined;
}

/**
 * Reads the facts under ROOT (ROOT "/" on the real host). A missing tree
 * gives no facts. `listing`: the inventory cache's walk of ROOT (a dump
 * directory), whose real path it holds (src/descriptors/sysfs.ts sysReader).
 */
export function readHostFacts(root: string, listing?: TreeListing | null): HostFacts {
  const facts = emptyFacts();
  let realRoot: string;
  if (listing) realRoot = listing.root;
  else {
    try {
      realRoot = realpathSync(root);
    } catch {
      return facts;
    }
  }
  const sys = sysReader(realRoot, listing);
  const nv = clean(sys.read(join(realRoot, "sys", "module", "nvidia", "version")));
  if (nv) facts.nvidiaVersion = nv;
  const pciDir = join(realRoot, "sys", "bus", "pci", "devices");
  for (const addr of sys.list(pciDir)) {
    if (!PCI_ADDR.test(addr)) continue;
    const ibDir = join(pciDir, addr, "infiniband");
    const ibdevs = sys.list(ibDir);
    for (const ib of ibdevs) {
      const version = clean(sys.read(join(ibDir, ib, "fw_ver")));
      const psid = clean(sys.read(join(ibDir, ib, "board_id")));
      if (!version && !psid) continue;
      const fw: PciFirmware = { address: addr, from: "sysfs" };
      if (version) fw.version = version;
      if (psid) fw.psid = psid;
      facts.firmware.push(fw);
      break;
    }
  }
  const vfs = readVgpuVfs(realRoot, sys);
  if (vfs.length > 0) facts.vgpuVfs = vfs;
  // A dump's saved `nvidia-smi -q` (docs/dump-sys.md): heterogeneous vGPU mode per GPU.
  const smi = sys.read(join(realRoot, "nvidia-smi-q.txt"));
  if (smi !== undefined) facts.vgpuHeterogeneous = parseHeterogeneous(smi);
  return facts;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

/**
 * `devlink -j dev info` output: {"info": {"pci/0000:3b:00.0": {"driver":
 * "mlx5_core", "versions": {"fixed": {"fw.psid": …}, "running":
 * {"fw.version": …}}}}} (keys of include/net/devlink.h
 * DEVLINK_INFO_VERSION_GENERIC_FW_PSID and mlx5's "fw.version").
 * Malformed JSON is an InputError naming `origin`.
 */
export function parseDevlinkInfo(text: string, origin: string): PciFirmware[] {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new InputError(
      `${origin}: invalid JSON (${e instanceof Error ? e.message : e}); expected the output of 'devlink -j dev info'`,
      origin,
    );
  }
  if (!isObj(j) || !isObj(j.info)) {
    throw new InputError(`${origin}: expected {"info": {...}} as 'devlink -j dev info' prints`, origin);
  }
  const out: PciFirmware[] = [];
  for (const [handle, v] of Object.entries(j.info)) {
    const m = /^pci\/(.+)$/.exec(handle);
    const addr = m?.[1]?.toLowerCase();
    if (!addr || !PCI_ADDR.test(addr) || !isObj(v) || !isObj(v.versions)) continue;
    const fixed = isObj(v.versions.fixed) ? v.versions.fixed : {};
    const running = isObj(v.versions.running) ? v.versions.running : {};
    const str = (x: unknown) => (typeof x === "string" ? clean(x) : undefined);
    const psid = str(fixed["fw.psid"]);
    const version = str(running["fw.version"]);
    if (!psid && !version) continue;
    const fw: PciFirmware = { address: addr, from: "devlink" };
    if (version) fw.version = version;
    if (psid) fw.psid = psid;
    out.push(fw);
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}

/** `over` wins per fact (a live read over a snapshot, devlink over sysfs); firmware merged by address. */
export function mergeFacts(base: HostFacts | undefined, over: HostFacts | undefined): HostFacts {
  const out: HostFacts = { firmware: [] };
  const nv = over?.nvidiaVersion ?? base?.nvidiaVersion;
  if (nv) out.nvidiaVersion = nv;
  const by = new Map<string, PciFirmware>();
  for (const f of base?.firmware ?? []) by.set(f.address, { ...f });
  for (const f of over?.firmware ?? []) {
    const b = by.get(f.address);
    by.set(f.address, b ? { ...b, ...f } : { ...f });
  }
  out.firmware = [...by.values()].sort((a, b) =>
    a.address < b.address ? -1 : a.address > b.address ? 1 : 0,
  );
  if (base?.vgpuVfs || over?.vgpuVfs) {
    const vfs = new Map<string, NonNullable<HostFacts["vgpuVfs"]>[number]>();
    for (const v of base?.vgpuVfs ?? []) vfs.set(v.address, v);
    for (const v of over?.vgpuVfs ?? []) vfs.set(v.address, v);
    out.vgpuVfs = [...vfs.values()].sort((a, b) => (a.address < b.address ? -1 : 1));
  }
  const het = over?.vgpuHeterogeneous ?? base?.vgpuHeterogeneous;
  if (het) out.vgpuHeterogeneous = [...het];
  return out;
}
