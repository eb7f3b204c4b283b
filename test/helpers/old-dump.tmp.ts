import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostVersions } from "../../src/model.js";

export function tempDir(prefix = "hdplan-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeDump(
  root: string,
  key: string,
  o: {
    devices: string[];
    domains?: string[];
    networks?: string[];
    versions?: HostVersions | null;
    concatenated?: boolean;
    /** sys/module/nvidia/version; default "550.127.05", null: no sys/ folder. */
    nvidiaVersion?: string | null;
  },
): string {
  const dir = join(root, key);
  mkdirSync(join(dir, "nodedev"), { recursive: true });
  if (o.concatenated) writeFileSync(join(dir, "nodedev", "all.xml"), o.devices.join("\n"));
  else
    o.devices.forEach((d, i) =>
      writeFileSync(join(dir, "nodedev", `dev${String(i).padStart(3, "0")}.xml`), d),
    );
  if (o.domains?.length) {
    mkdirSync(join(dir, "domains"));
    o.domains.forEach((d, i) => writeFileSync(join(dir, "domains", `dom${i}.xml`), d));
  }
  if (o.networks?.length) {
    mkdirSync(join(dir, "networks"));
    o.networks.forEach((d, i) => writeFileSync(join(dir, "networks", `net${i}.xml`), d));
  }
  const v =
    o.versions === undefined
      ? { libvirt: "10.5.0", hypervisorType: "QEMU", hypervisorVersion: "9.0.0", kernel: "6.8.0" }
      : o.versions;
  if (v) {
    writeFileSync(
      join(dir, "host.json"),
      JSON.stringify({
        hostname: `${key}.example`,
        libvirtVersion: v.libvirt,
        hypervisor: { type: v.hypervisorType, version: v.hypervisorVersion },
        kernelVersion: v.kernel,
      }),
    );
  }
  const nv = o.nvidiaVersion === undefined ? "550.127.05" : o.nvidiaVersion;
  if (nv !== null) {
    mkdirSync(join(dir, "sys", "module", "nvidia"), { recursive: true });
    writeFileSync(join(dir, "sys", "module", "nvidia", "version"), `${nv}\n`);
  }
  return dir;
}
