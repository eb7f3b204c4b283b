/**
 * The README's SR-IOV vGPU walkthrough, run as printed on the sample fleet
 * (xml-samples/hosts/vgpu-*): `hdplan` on PATH is this build and /tmp/dx a
 * temporary directory; the type write runs against a copy of vgpu-dst-a's
 * sys/ subset; `virsh migrate` is compared with the line plan prints and
 * parsed against virsh's own option list (nothing here can migrate).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readHostFacts } from "../src/facts/read.js";
import { hostPciAddress, isManaged } from "../src/model.js";
import { readDomain } from "../src/xml/domain.js";
import { BIN, ROOT } from "./helpers/cli.js";
import { tempDir } from "./helpers/dump.js";
import { shellWords } from "./helpers/shell.js";
import { libvirtAvailable } from "./helpers/testdriver.js";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("### SR-IOV vGPU"), readme.indexOf("## Reading the answer"));
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

function setup() {
  const dir = tempDir("hdplan-sriov-");
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "hdplan"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(join(bin, "hdplan"), 0o755);
  const dx = join(dir, "dx");
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" };
  const sh = (script: string) =>
    spawnSync("sh", ["-c", script.replaceAll("/tmp/dx", dx)], { cwd: ROOT, env, encoding: "utf8" });
  return { dir, dx, sh };
}

describe("README SR-IOV vGPU walkthrough", () => {
  it("has the plan block and the write + migrate block", () => {
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toMatch(/^hdplan plan /);
    expect(blocks[1]!.trim().split("\n")).toHaveLength(2);
  });

  it("every step runs (or parses) as printed", () => {
    const { dir, dx, sh } = setup();
    const [plan, rest] = blocks;
    const [write, migrate] = rest!.trim().split("\n");

    // 1. plan: both hosts full, vgpu-dst-a with the type write, vgpu-dst-b already typed
    const r = sh(plan!);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Best: vgpu-dst-a/);
    const lines = r.stdout.split("\n").filter((l) => l.trim().startsWith("hostdev0 ->"));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain(`first: ${write}`);
    expect(lines[1]).toContain("(already set)");

    // 2. the type write, run as printed against a copy of the destination's sysfs subset
    const root = join(dir, "root");
    cpSync(join(ROOT, "xml-samples/hosts/vgpu-dst-a/sys"), join(root, "sys"), { recursive: true });
    const w = spawnSync("sh", ["-c", write!.replace("> /sys/", `> ${root}/sys/`)], { encoding: "utf8" });
    expect(w.status, w.stderr).toBe(0);
    const vf = readHostFacts(root).vgpuVfs?.find((v) => v.address === "0000:17:00.4");
    expect(vf?.currentType).toBe(1155);

    // 3. the destination XML: the hostdev on that VF, managed='no', the type in the metadata
    const xml = readDomain(readFileSync(join(dx, "vgpu-dst-a.xml"), "utf8"), "vgpu-dst-a.xml");
    const dev = xml.devices.find((d) => d.id === "hostdev0")!;
    expect(dev.kind).toBe("pci");
    expect(hostPciAddress(dev)).toBe("0000:17:00.4");
    expect(isManaged(dev)).toBe(false);
    expect(section).toContain(`vgpu-type="1155"`);
    expect(xml.plannerMetadata.find((m) => m.id === "hostdev0")?.vgpuType).toBe("1155");

    // 4. the migrate line is the one plan printed for vgpu-dst-a
    const printed = r.stderr
      .split("\n")
      .map((l) => l.trim())
      .find((l) => l.startsWith("virsh migrate") && l.includes("vgpu-dst-a.xml"));
    expect(shellWords(printed!)).toEqual(shellWords(migrate!.replaceAll("/tmp/dx", dx)));
  });

  it("prepare takes --connect-rw (the write done by hdplan on the destination)", () => {
    expect(section).toMatch(/`hdplan prepare\s+--connect-rw`/);
    const h = spawnSync(process.execPath, [BIN, "prepare", "--help"], { encoding: "utf8" });
    expect(h.stdout).toContain("--connect-rw");
  });

  it.runIf(libvirtAvailable())("virsh knows every option of the migrate line", () => {
    const migrate = blocks[1]!.trim().split("\n")[1]!;
    const opts = spawnSync("virsh", ["help", "migrate"], { encoding: "utf8" }).stdout;
    for (const w of shellWords(migrate).filter((x) => x.startsWith("--"))) expect(opts).toContain(w);
  });
});
