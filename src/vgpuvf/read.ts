/**
 * NVIDIA SR-IOV vGPU VFs (compat.md §8, NVIDIA's vendor-specific VFIO
 * framework, vGPU 17+ on Ada/Hopper/Blackwell): each VF of a GPU on the
 * `nvidia` driver has `nvidia/current_vgpu_type` (the numeric type id, 0 = no
 * vGPU) and `nvidia/creatable_vgpu_types` (what can still be created on it,
 * one `ID : NAME` line each after an `ID : vGPU Name` header, shrinking as the
 * GPU fills). The layout is the one NVIDIA's own tooling reads (go-nvlib's
 * nvvfio GetAllDevices: "VFs with non-zero current_vgpu_type", read through
 * <PF>/virtfnN/nvidia/) and operators write
 * (`echo <id> > /sys/bus/pci/devices/<VF>/nvidia/current_vgpu_type`).
 *
 * Read under the same ROOT as every other fact (src/facts/read.ts):
 * ROOT/sys/bus/pci/devices/<VF>/nvidia/... for live sysfs, --sysfs-root and a
 * dump's sys/ subset alike.
 */
import { join } from "node:path";
import { type SysReader, sysReader } from "../descriptors/sysfs.js";
import type { VgpuTypeRef, VgpuVfFacts } from "../model.js";

const PCI_ADDR = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/** `ID : NAME` lines; the header and anything else that is not such a line are skipped. */
export function parseCreatable(text: string): VgpuTypeRef[] {
  const out: VgpuTypeRef[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(\d{1,9})\s*:\s*(\S.{0,127}?)\s*$/.exec(line);
    if (!m) continue;
    const id = Number(m[1]);
    if (id === 0 || out.some((t) => t.id === id)) continue;
    out.push({ id, name: m[2]! });
  }
  return out;
}

/** current_vgpu_type: a decimal id (0 = none); anything else is unknown. */
export function parseCurrent(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t !== undefined && /^\d{1,9}$/.test(t) ? Number(t) : undefined;
}

/** Every VF under realRoot/sys/bus/pci/devices with a readable nvidia/current_vgpu_type. */
export function readVgpuVfs(realRoot: string, sys: SysReader = sysReader(realRoot)): VgpuVfFacts[] {
  const out: VgpuVfFacts[] = [];
  const pciDir = join(realRoot, "sys", "bus", "pci", "devices");
  for (const addr of sys.list(pciDir)) {
    if (!PCI_ADDR.test(addr)) continue;
    const nv = join(pciDir, addr, "nvidia");
    const currentType = parseCurrent(sys.read(join(nv, "current_vgpu_type")));
    if (currentType === undefined) continue;
    const vf: VgpuVfFacts = { address: addr, currentType };
    const creatable = sys.read(join(nv, "creatable_vgpu_types"));
    if (creatable !== undefined) vf.creatable = parseCreatable(creatable);
    out.push(vf);
  }
  return out;
}

/** The type-write step the plan names for a VF (compat.md §8). */
export function typeWriteCommand(vf: string, typeId: number): string {
  return `echo ${typeId} > /sys/bus/pci/devices/${vf}/nvidia/current_vgpu_type`;
}

/**
 * Time-sliced vGPU heterogeneous (mixed-size) mode per physical GPU, from
 * `nvidia-smi -q` text: each GPU block starts with `GPU 00000000:17:00.0`
 * and, under `GPU Virtualization Mode`, has `vGPU Heterogeneous Mode : X`
 * (field seen in NVIDIA driver 550/555/580 `nvidia-smi -q` outputs, value
 * `N/A` on GPUs without vGPU; the XML form is
 * <gpu_virtualization_mode><vgpu_heterogeneous_mode>). NVML's
 * nvmlDeviceGetVgpuHeterogeneousMode is the API behind it. Only the exact
 * value `Enabled` turns the mode on (that spelling is nvidia-smi's usual
 * Enabled/Disabled but was not seen in a sample here): anything else leaves
 * the one-size-per-GPU rule on (fail-closed). No sysfs attribute reporting the
 * mode was found. Returns the GPUs (PCI addresses, 4-digit domain) with the
 * mode on.
 */
export function parseHeterogeneous(text: string): string[] {
  const on: string[] = [];
  let gpu: string | null = null;
  for (const line of text.split("\n")) {
    const g = /^GPU\s+([0-9A-Fa-f]{4,8}):([0-9A-Fa-f]{2}):([0-9A-Fa-f]{2})\.([0-7])\s*$/.exec(line);
    if (g) {
      gpu = `${g[1]!.slice(-4)}:${g[2]}:${g[3]}.${g[4]}`.toLowerCase();
      continue;
    }
    const m = /^\s+vGPU Heterogeneous Mode\s*:\s*(\S.*?)\s*$/.exec(line);
    if (m && gpu && m[1] === "Enabled" && !on.includes(gpu)) on.push(gpu);
  }
  return on.sort();
}
