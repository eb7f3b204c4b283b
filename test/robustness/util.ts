/** Shared helpers of the robustness suite (test/robustness/). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { domainXml, gpu, hostdevNetworkXml, mdevDev, nic } from "../helpers/build.js";
import type { CliResult } from "../helpers/cli.js";
import { writeDump } from "../helpers/dump.js";
import { hangBound } from "../helpers/bounds.js";
import { writeTestHost } from "../helpers/testdriver.js";

/**
 * The rule of every bad-input case: a documented non-zero exit code, one line
 * on stderr naming `names` (file, host or option), no stack trace, nothing on
 * stdout that could be taken for an answer.
 */
export function expectCleanFailure(
  r: CliResult & { ms?: number; signal?: NodeJS.Signals | null },
  codes: number[],
  names: string[] = [],
  label = "",
): void {
  const ctx = `${label}\nexit=${r.code} signal=${r.signal ?? null}\nstderr=${r.stderr.slice(0, 600)}`;
  expect(r.signal ?? null, ctx).toBeNull();
  expect(codes, ctx).toContain(r.code);
  expect(r.code, ctx).not.toBe(0);
  expect(r.stderr, ctx).not.toMatch(/\n\s+at /);
  const lines = r.stderr.trim().split("\n");
  expect(lines, ctx).toHaveLength(1);
  expect(lines[0]!.length, ctx).toBeGreaterThan(0);
  for (const n of names) expect(r.stderr, ctx).toContain(n);
  expect(r.stdout, ctx).not.toMatch(/compatible:|"best": "/);
  if (r.ms !== undefined) expect(r.ms, ctx).toBeLessThan(hangBound(10_000));
}

// ---- a small fleet ---------------------------------------------------------

export const MDEV_A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
export const VM_UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
export const GPU_ADDR = "0000:3b:00.0";
export const PF = "0000:5e:00.0";
export const VF = "0000:5e:00.2";

export function srcDevices(): string[] {
  return [
    gpu(GPU_ADDR, 3),
    mdevDev({ uuid: MDEV_A, parentAddr: GPU_ADDR, type: "nvidia-558" }),
    ...nic(PF, [VF]),
  ];
}

/** vm1: an mdev and a VF (or the mdev only: libvirt's test driver drops <driver>, so its VFs never qualify). */
export function vmXml(type = "kvm", withVf = true): string {
  return domainXml(
    "vm1",
    VM_UUID,
    [
      { kind: "mdev", uuid: MDEV_A, alias: "hostdev0" },
      ...(withVf ? [{ kind: "pci" as const, addr: VF, alias: "hostdev1" }] : []),
    ],
    type,
  );
}

export interface Fleet {
  dir: string;
  vm: string;
  src: string;
  full: string;
  small: string;
}

/** Dump directories: src (runs vm1), full (takes it), small (only the NIC). */
export function writeFleet(dir: string): Fleet {
  const vm = join(dir, "vm.xml");
  writeFileSync(vm, vmXml());
  const src = writeDump(dir, "src", { devices: srcDevices(), domains: [vmXml()], concatenated: true });
  const full = writeDump(dir, "full", {
    devices: [gpu(GPU_ADDR, 4), ...nic(PF, [VF])],
    networks: [hostdevNetworkXml("pool", ["0000:5e:00.7"])],
  });
  const small = writeDump(dir, "small", { devices: [...nic(PF, [VF])] });
  return { dir, vm, src, full, small };
}

/** Test-driver host files (`test:///…`) for the same fleet. */
export function writeTestDriverFleet(dir: string): Record<"src" | "full" | "small" | "nocap", string> {
  const w = (name: string, parts: string[]) => writeTestHost(dir, name, parts);
  return {
    src: w("src", [...srcDevices(), vmXml("test", false)]),
    full: w("full", [gpu(GPU_ADDR, 4), ...nic(PF, [VF])]),
    small: w("small", [...nic(PF, [VF])]),
    nocap: w("nocap", [gpu(GPU_ADDR, 0), ...nic(PF, [VF])]),
  };
}

/** Run async jobs with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
