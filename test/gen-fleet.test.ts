import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const SCRIPT = join(__dirname, "..", "scripts", "gen-fleet.mjs");
const dirs: string[] = [];

function gen(seed: number, extra: string[] = []): string {
  const out = mkdtempSync(join(tmpdir(), "gen-fleet-"));
  dirs.push(out);
  execFileSync(process.execPath, [
    SCRIPT,
    "--out",
    out,
    "--hosts",
    "3",
    "--seed",
    String(seed),
    "--noise",
    "40",
    "--format",
    "both",
    ...extra,
  ]);
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    })
    .sort();
}

function snapshot(dir: string): Map<string, string> {
  // hosts.txt and the test-driver list name the output folder: compare them relative to it.
  return new Map(walk(dir).map((p) => [relative(dir, p), readFileSync(p, "utf8").split(dir).join("<OUT>")]));
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("scripts/gen-fleet.mjs", () => {
  const a = gen(1234);
  const b = gen(1234);

  it("is deterministic for a seed", () => {
    const sa = snapshot(a);
    const sb = snapshot(b);
    expect([...sa.keys()]).toEqual([...sb.keys()]);
    for (const [k, v] of sa) expect(sb.get(k), k).toBe(v);
    const c = snapshot(gen(99));
    expect(c.get("vm.xml")).not.toBe(sa.get("vm.xml"));
  });

  it("writes three dump directories and test-driver files", () => {
    expect(readdirSync(join(a, "hosts")).sort()).toEqual(["host-0001", "host-0002", "host-0003"]);
    expect(readdirSync(join(a, "testdriver")).sort()).toEqual([
      "host-0001.xml",
      "host-0002.xml",
      "host-0003.xml",
    ]);
    const targets = readFileSync(join(a, "hosts.txt"), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(targets).toEqual([join(a, "hosts", "host-0002"), join(a, "hosts", "host-0003")]);
    const hj = JSON.parse(readFileSync(join(a, "hosts", "host-0001", "host.json"), "utf8"));
    expect(hj.hypervisor.type).toBe("QEMU");
    const td = readFileSync(join(a, "testdriver", "host-0001.xml"), "utf8");
    expect(td.startsWith("<node>")).toBe(true);
    expect(td).toContain("<domain type='test'");
  });

  it("writes well-formed-looking node device files", () => {
    const nd = join(a, "hosts", "host-0001", "nodedev");
    const files = readdirSync(nd);
    expect(files.length).toBeGreaterThan(50);
    let pci = 0;
    for (const f of files) {
      const x = readFileSync(join(nd, f), "utf8");
      expect(x.startsWith("<device>"), f).toBe(true);
      expect(x.trimEnd().endsWith("</device>"), f).toBe(true);
      expect(x.split("<device>").length, f).toBe(x.split("</device>").length);
      if (x.includes("<capability type='pci'>")) pci++;
    }
    expect(pci).toBeGreaterThan(20);
    expect(files).toContain("dumpxml-loop.xml");
    expect(readFileSync(join(nd, "dumpxml-loop.xml"), "utf8").split("<device>").length).toBeGreaterThan(2);
  });

  it("writes a VM with 8 assigned devices that exist on host-0001", () => {
    const vm = readFileSync(join(a, "vm.xml"), "utf8");
    expect(vm.match(/<hostdev /g)).toHaveLength(8);
    const nd = join(a, "hosts", "host-0001", "nodedev");
    const all = readdirSync(nd)
      .map((f) => readFileSync(join(nd, f), "utf8"))
      .join("");
    for (const [, uuid] of vm.matchAll(/<address uuid='([^']+)'/g))
      expect(all).toContain(`<uuid>${uuid}</uuid>`);
    const vfs = [
      ...vm.matchAll(/<source>\s*<address domain='0x0000' bus='0x(..)' slot='0x(..)' function='0x(.)'/g),
    ];
    expect(vfs).toHaveLength(4);
    for (const [, bus, slot, fn] of vfs) {
      const name = `pci_0000_${bus}_${slot}_${fn}`;
      expect(all).toContain(`<name>${name}</name>`);
      expect(readFileSync(join(nd, `${name}.xml`), "utf8")).toContain("<name>mlx5_vfio_pci</name>");
    }
  });

  it("--layout all writes one nodedev/all.xml per host, as the virsh nodedev-dumpxml loop of docs/targets.md", () => {
    const all = gen(1234, ["--layout", "all"]);
    const sa = snapshot(a);
    const sall = snapshot(all);
    // Everything but nodedev/ and the header of the hosts files is the same as the default layout.
    for (const [k, v] of sa) {
      if (k.includes("/nodedev/") || k.startsWith("hosts")) continue;
      expect(sall.get(k), k).toBe(v);
    }
    expect(sall.get("hosts.txt")).toContain("--layout all");
    // one document ends at a line "</device>" (a USB device has a <device> child of its own)
    const docs = (x: string) => x.split(/(?<=^<\/device>\n)/m).filter((d) => d.length);
    const name = (d: string) => /<name>([^<]*)<\/name>/.exec(d)![1]!;
    for (const h of ["host-0001", "host-0002", "host-0003"]) {
      expect(readdirSync(join(all, "hosts", h, "nodedev"))).toEqual(["all.xml"]);
      const text = readFileSync(join(all, "hosts", h, "nodedev", "all.xml"), "utf8");
      const got = docs(text);
      // the same <device> documents as the per-device files, each ending in a newline ...
      const nd = join(a, "hosts", h, "nodedev");
      const want = readdirSync(nd).flatMap((f) => docs(readFileSync(join(nd, f), "utf8")));
      expect([...got].sort()).toEqual([...want].sort());
      expect(text.endsWith("</device>\n")).toBe(true);
      // ... in `virsh nodedev-list --all` order: names sorted case-insensitively
      const names = got.map(name);
      expect(names).toEqual([...names].sort((x, y) => (x.toLowerCase() < y.toLowerCase() ? -1 : 1)));
    }
  });

  it("rejects an unknown --layout with exit 2", () => {
    const out = mkdtempSync(join(tmpdir(), "gen-fleet-"));
    dirs.push(out);
    let code = 0;
    let err = "";
    try {
      execFileSync(process.execPath, [SCRIPT, "--out", out, "--layout", "tree"], { stdio: "pipe" });
    } catch (e) {
      code = (e as { status: number }).status;
      err = String((e as { stderr: Buffer }).stderr);
    }
    expect(code).toBe(2);
    expect(err).toContain("--layout must be per-device or all");
  });
});
