/**
 * The source host the matcher and placement tests share: two T4s, the first
 * with `perType` nvidia-558 mdevs (UUIDs 1..perType), the second with
 * `perType` nvidia-559 mdevs (perType+1..2·perType), and a hostdev network
 * "pool" over `vfs` of one ConnectX PF at 0000:5e:00.0.
 */
import { buildInventory } from "../../src/inventory/build.js";
import type { HostInventory } from "../../src/inventory/types.js";
import { gpu, hostdevNetworkXml, mdevDev, nic, rawHost } from "./build.js";

export const SRC_GPU_558 = "0000:3b:00.0";
export const SRC_GPU_559 = "0000:3c:00.0";

/** The n-th mdev UUID of these tests. */
export const mdevUuid = (n: number): string => `4b20d080-1b54-4048-85b3-${n.toString().padStart(12, "0")}`;

export function mdevPoolSource(perType: number, vfs: string[]): HostInventory {
  const devs = [gpu(SRC_GPU_558, 0, 0), gpu(SRC_GPU_559, 0, 0), ...nic("0000:5e:00.0", vfs)];
  for (let i = 1; i <= perType; i++)
    devs.push(mdevDev({ uuid: mdevUuid(i), parentAddr: SRC_GPU_558, type: "nvidia-558" }));
  for (let i = perType + 1; i <= 2 * perType; i++)
    devs.push(mdevDev({ uuid: mdevUuid(i), parentAddr: SRC_GPU_559, type: "nvidia-559" }));
  return buildInventory(rawHost("src", { devices: devs, networks: [hostdevNetworkXml("pool", vfs)] }));
}
