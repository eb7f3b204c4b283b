import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostJson, writeDumpDir } from "../../scripts/fixtures/dump.mjs";
import { nvidiaVersionFile } from "../../scripts/fixtures/sys.mjs";
import type { HostVersions } from "../../src/model.js";
import { MANAGER_VERSION, NEW_QEMU } from "./build.js";

export function tempDir(prefix = "hdplan-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A dump directory ROOT/KEY (scripts/fixtures/dump.mjs) with numbered files; returns its path. */
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
  const v = o.versions === undefined ? NEW_QEMU : o.versions;
  const nv = o.nvidiaVersion === undefined ? MANAGER_VERSION : o.nvidiaVersion;
  return writeDumpDir(join(root, key), {
    nodedev: o.concatenated
      ? [{ file: "all.xml", xml: o.devices.join("\n") }]
      : o.devices.map((xml, i) => ({ file: `dev${String(i).padStart(3, "0")}.xml`, xml })),
    domains: (o.domains ?? []).map((xml, i) => ({ name: `dom${i}`, xml })),
    networks: (o.networks ?? []).map((xml, i) => ({ name: `net${i}`, xml })),
    host: v && hostJson(`${key}.example`, v),
    compact: true,
    sys: nv === null ? [] : [nvidiaVersionFile(nv)],
  });
}
