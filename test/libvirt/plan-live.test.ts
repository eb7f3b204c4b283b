/**
 * plan against live libvirt (the built-in test driver): reason codes from live
 * data, live vs dump-directory vs snapshot parity, an unreachable URI next to
 * good ones, and a domain looked up by name.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type HostdevSpec, domainXml, gpu, hostdevNetworkXml, mdevDev, nic } from "../helpers/build.js";
import { hdplan } from "../helpers/cli.js";
import { tempDir, writeDump } from "../helpers/dump.js";
import { libvirtAvailable, writeTestHost } from "../helpers/testdriver.js";

const RUN = libvirtAvailable();
const A = "4b20d080-1b54-4048-85b3-a6a62d165c01";
const B = "4b20d080-1b54-4048-85b3-a6a62d165c02";
const VM_UUID = "c7a5fdbd-cdaf-9455-926a-d65c16db1809";
const GPU_ADDR = "0000:3b:00.0";
const PF = "0000:5e:00.0";
const VFS = ["0000:5e:00.2", "0000:5e:00.3"];
const VM_DEVS: HostdevSpec[] = [
  { kind: "mdev", uuid: A },
  { kind: "mdev", uuid: B },
  { kind: "pci", addr: VFS[0]! },
  { kind: "network", network: "pool" },
];
const POOL = ["0000:5e:00.3"];

interface HostSpec {
  devices: string[];
  domains?: string[];
  networks?: string[];
}

/** Test-driver domains need type='test'. */
const testDom = (name: string, uuid: string, devs: HostdevSpec[]) => domainXml(name, uuid, devs, "test");
const OTHER = "11111111-2222-3333-4444-555555555555";

function fleet(): Record<string, HostSpec> {
  return {
    src: {
      devices: [
        gpu(GPU_ADDR, 2),
        mdevDev({ uuid: A, parentAddr: GPU_ADDR, type: "nvidia-558" }),
        mdevDev({ uuid: B, parentAddr: GPU_ADDR, type: "nvidia-558" }),
        ...nic(PF, VFS),
      ],
      domains: [testDom("vm1", VM_UUID, VM_DEVS)],
      networks: [hostdevNetworkXml("pool", POOL)],
    },
    full: { devices: [gpu(GPU_ADDR, 4), ...nic(PF, VFS)], networks: [hostdevNetworkXml("pool", POOL)] },
    nocap: { devices: [gpu(GPU_ADDR, 1), ...nic(PF, VFS)], networks: [hostdevNetworkXml("pool", POOL)] },
    inuse: {
      devices: [gpu(GPU_ADDR, 4), ...nic(PF, VFS)],
      domains: [testDom("other", OTHER, [{ kind: "pci", addr: VFS[0]! }])],
      networks: [hostdevNetworkXml("pool", POOL)],
    },
    notype: {
      devices: [gpu(GPU_ADDR, 0, 4).replace(/<type id='nvidia-558'>.*?<\/type>/, ""), ...nic(PF, VFS)],
    },
  };
}

/** The operator's evidence that the CX6 VFs migrate: the test driver drops <driver>. */
const DESCRIPTOR = "device_api=vfio-pci\ndevice_id=15b3101e\nmigratable=1\n";
/**
 * The operator's statement of the NVIDIA vGPU manager version (compat.md §7):
 * the test driver has no sysfs, so without it every vGPU is
 * vgpu-manager-version-unknown.
 */
const MANAGER_DESCRIPTOR = "mdev_type=nvidia-558\nsoftware_version=550.127.05\n";

describe.skipIf(!RUN)("plan on live libvirt (test driver)", () => {
  let dir = "";
  const uris: Record<string, string> = {};
  const dumps: Record<string, string> = {};
  let vmFile = "";
  let desc = "";

  beforeAll(() => {
    dir = tempDir("hdplan-live-");
    desc = join(dir, "descriptors");
    mkdirSync(desc);
    writeFileSync(join(desc, "cx6-vf.conf"), DESCRIPTOR);
    writeFileSync(join(desc, "t4-manager.conf"), MANAGER_DESCRIPTOR);
    for (const [key, h] of Object.entries(fleet())) {
      uris[key] = writeTestHost(join(dir, "td"), key, [
        ...h.devices,
        ...(h.domains ?? []),
        ...(h.networks ?? []),
      ]);
      // Same fleet as dump directories, as libvirt's test driver shows it:
      // no <driver>, versions of the test driver.
      dumps[key] = writeDump(join(dir, "dump"), key, {
        devices: h.devices.map((d) => d.replace(/<driver>.*?<\/driver>/g, "")),
        domains: h.domains ?? [],
        networks: h.networks ?? [],
        versions: null,
      });
    }
    vmFile = join(dir, "vm1.xml");
    writeFileSync(vmFile, testDom("vm1", VM_UUID, VM_DEVS));
  });

  /** plan against the whole fleet of `m` (test-driver URIs, dump dirs or snapshots), as JSON. */
  const planFleet = (m: Record<string, string>, ...extra: string[]) =>
    hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      m.src!,
      ...hostsArgs(m),
      "--descriptors",
      desc,
      "--format",
      "json",
      ...extra,
    ]);
  const hostsArgs = (m: Record<string, string>) =>
    ["full", "nocap", "inuse", "notype"].flatMap((k) => ["--host", m[k]!]);

  function normalise(json: string) {
    const j = JSON.parse(json);
    for (const h of j.hosts) {
      delete h.target;
      delete h.hostname;
      h.warnings = h.warnings.map((w: { code: string }) => w.code);
    }
    return j;
  }

  it("ranks hosts from live libvirt calls, with the reason codes live data produces", () => {
    const r = planFleet(uris);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const by = Object.fromEntries(j.hosts.map((h: { host: string }) => [h.host, h]));
    expect(j.best).toBe("full");
    expect(by.full.status).toBe("full");
    expect(by.full.warnings.map((w: { code: string }) => w.code)).toContain("gates-not-applied");
    const codes = (h: string) =>
      by[h].unassigned.flatMap((u: { reasons: { code: string }[] }) => u.reasons.map((x) => x.code));
    expect(codes("nocap")).toEqual(["mdev-no-capacity"]);
    expect(codes("inuse")).toEqual(["pci-device-in-use"]);
    expect(codes("notype")).toEqual(["mdev-type-missing", "mdev-type-missing", "network-missing"]);
  });

  it("without operator evidence the test driver's unknown drivers block PCI devices", () => {
    const r = hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      uris.src!,
      "--host",
      uris.full!,
      "--format",
      "json",
    ]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    const pci = j.devices.find((d: { kind: string }) => d.kind === "pci");
    expect(pci.blockers[0].code).toBe("migration-support-unknown");
  });

  it("gives the same answer live, from dump directories, and from inventory snapshots", () => {
    const live = planFleet(uris);
    const dump = planFleet(dumps, "--assume-versions");
    const snaps: Record<string, string> = {};
    for (const k of Object.keys(uris)) {
      snaps[k] = join(dir, "snap", `${k}.json`);
      mkdirSync(join(dir, "snap"), { recursive: true });
      const inv = hdplan(["inventory", "--connect", uris[k]!, "-o", snaps[k]!]);
      expect(inv.code).toBe(0);
    }
    const snap = planFleet(snaps);
    expect(live.code).toBe(0);
    expect(snap.code).toBe(0);
    expect(normalise(snap.stdout)).toEqual(normalise(live.stdout));
    // Dump directories have no hypervisor type (no host.json): with
    // --assume-versions they rank the same, without the gates-not-applied warning.
    const l = normalise(live.stdout);
    const d = normalise(dump.stdout);
    for (const h of l.hosts) h.warnings = h.warnings.filter((w: string) => w !== "gates-not-applied");
    expect(d.hosts).toEqual(l.hosts);
  });

  it("reports an unreachable URI as an error host and still ranks the others", () => {
    const r = hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      uris.src!,
      "--host",
      uris.full!,
      "--host",
      "dead=qemu+tcp://127.0.0.1:1/system",
      "--descriptors",
      desc,
      "--format",
      "json",
      "--timeout",
      "5",
    ]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    const dead = j.hosts.find((h: { host: string }) => h.host === "dead");
    expect(dead.status).toBe("error");
    expect(dead.rank).toBeNull();
    expect(["host-unreachable", "libvirt-error"]).toContain(dead.error.code);
    expect(j.hosts[0].host).toBe("full");
  });

  it("exit 4 when no host is full and one could not be read; 3 when every host failed", () => {
    const r = hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      uris.src!,
      "--host",
      uris.nocap!,
      "--host",
      "dead=qemu+tcp://127.0.0.1:1/system",
      "--descriptors",
      desc,
      "--timeout",
      "5",
    ]);
    expect(r.code).toBe(4);
    const all = hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      uris.src!,
      "--host",
      "dead=qemu+tcp://127.0.0.1:1/system",
      "--timeout",
      "5",
    ]);
    expect(all.code).toBe(3);
    const src = hdplan([
      "plan",
      "--domain",
      vmFile,
      "--source",
      "qemu+tcp://127.0.0.1:1/system",
      "--host",
      uris.full!,
      "--timeout",
      "5",
    ]);
    expect(src.code).toBe(3);
    expect(src.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("looks a domain up by name on a live --source", () => {
    const r = hdplan([
      "plan",
      "--domain",
      "vm1",
      "--source",
      uris.src!,
      "--host",
      uris.full!,
      "--descriptors",
      desc,
      "--format",
      "json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).domain.uuid).toBe(VM_UUID);
    const missing = hdplan(["plan", "--domain", "nope", "--source", uris.src!, "--host", uris.full!]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("nope");
  });
});
