/**
 * The fixture writers of scripts/fixtures/ produce targets hdplan reads as the
 * real ones: a snapshot (writeSnapshot) plans like the dump it mirrors, and a
 * dump's sys/ subset (sys.mjs) gives the facts the reader expects.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hostJson, writeDumpDir, writeSnapshot } from "../scripts/fixtures/dump.mjs";
import { mlx5FirmwareFiles, nvidiaVersionFile, vgpuVfFiles } from "../scripts/fixtures/sys.mjs";
import { readDumpFacts } from "../src/targets/dump.js";
import { MANAGER_VERSION, NEW_QEMU, domainXml, gpu, mdevDev, nic } from "./helpers/build.js";
import { hdplan } from "./helpers/cli.js";
import { tempDir, writeDump } from "./helpers/dump.js";

const GPU = "0000:3b:00.0";
const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];
const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const VM = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";

describe("fixture writers", () => {
  it("writeSnapshot: a snapshot host plans as the same host written as a dump directory", () => {
    const dir = tempDir("hdplan-fixtures-");
    const src = writeDump(dir, "src", {
      devices: [gpu(GPU, 2), mdevDev({ uuid: A, parentAddr: GPU, type: "nvidia-558" }), ...nic(PF, VFS)],
    });
    const vm = join(dir, "vm.xml");
    writeFileSync(vm, domainXml("vm1", VM, [{ kind: "mdev", uuid: A }]));
    const devices = [gpu(GPU, 4), ...nic(PF, VFS)];
    const facts = { nvidiaVersion: MANAGER_VERSION, firmware: [] };
    const snap = writeSnapshot(join(dir, "snap.json"), { devices, versions: NEW_QEMU, facts });
    const small = writeSnapshot(join(dir, "small.json"), {
      devices: [gpu(GPU, 0)],
      versions: NEW_QEMU,
      facts,
    });
    const dump = writeDump(dir, "dump", { devices });
    const hosts = [snap, small, dump].flatMap((h) => ["--host", h]);
    const r = hdplan(["plan", "--domain", vm, "--source", src, ...hosts, "--format", "json"]);
    expect(r.stderr).toBe("");
    const j = JSON.parse(r.stdout);
    const status = Object.fromEntries(
      j.hosts.map((h: { host: string; status: string }) => [h.host, h.status]),
    );
    expect(status).toEqual({ snap: "full", dump: "full", small: "none" });
  });

  it("sys.mjs: a dump's manager version, PF firmware and SR-IOV vGPU VF files read back as facts", () => {
    const dir = writeDumpDir(join(tempDir("hdplan-fixtures-sys-"), "h"), {
      nodedev: [{ file: "gpu.xml", xml: gpu(GPU, 1) }],
      host: hostJson("h.example", NEW_QEMU),
      sys: [
        nvidiaVersionFile("550.90.07"),
        ...mlx5FirmwareFiles(PF, 0, { version: "22.41.1000", psid: "MT_0000000359" }),
        ...vgpuVfFiles("0000:81:00.4", 0, [{ id: 1155, name: "NVIDIA L40S-24Q" }]),
        ...vgpuVfFiles("0000:81:00.5", 1155, []),
      ],
    });
    const f = readDumpFacts(dir);
    expect(f?.nvidiaVersion).toBe("550.90.07");
    expect(f?.firmware).toEqual([
      { address: PF, from: "sysfs", version: "22.41.1000", psid: "MT_0000000359" },
    ]);
    expect(f?.vgpuVfs?.map((v) => [v.address, v.currentType])).toEqual([
      ["0000:81:00.4", 0],
      ["0000:81:00.5", 1155],
    ]);
  });
});
