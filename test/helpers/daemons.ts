/**
 * The two real libvirt daemons of scripts/migration-daemons.sh
 * (docs/migration-harness.md), for the tests .ci/run runs with
 * HDPLAN_MIGRATION=1: their URIs, virsh against them, and whether KVM opens.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";

export const MIGRATION_ENABLED = process.env.HDPLAN_MIGRATION === "1";
export const DIR = process.env.HDPLAN_MIG_DIR || "/tmp/hdplan-mig";
export const PORT = process.env.HDPLAN_MIG_PORT || "16599";
export const SRC = `qemu:///system?socket=${DIR}/src/run/libvirt-sock`;
export const DST = `qemu+tcp://127.0.0.1:${PORT}/system`;

export function virsh(uri: string, ...args: string[]) {
  const r = spawnSync("virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
