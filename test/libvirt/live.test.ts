/**
 * Integration tests on libvirt's built-in test driver (test:///ABS/PATH.xml).
 * Outside CI they skip with a console message when libvirt.so.0 is missing;
 * with CI or HDPLAN_REQUIRE_LIBVIRT set they always run.
 */
import { versionAtLeast } from "../../src/candidates/versions.js";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runInventory } from "../../src/commands/inventory.js";
import { HostError, InputError } from "../../src/errors.js";
import { type Connection, openReadOnly } from "../../src/libvirt/client.js";
import { LibvirtError, nativeCallsInFlight, VIR_ERR } from "../../src/libvirt/ffi.js";
import { liveHostKey, lookupLiveDomain, readLiveHost } from "../../src/targets/live.js";
import { hangBound } from "../helpers/bounds.js";
import {
  GPU,
  libvirtAvailable,
  MDEV_UUID,
  pciName,
  standardHost,
  VFS,
  VM_OFF,
  VM_RUNNING,
  VM_TRANSIENT,
} from "../helpers/testdriver.js";

const RUN = libvirtAvailable();

describe("liveHostKey", () => {
  test("host part, test-driver file name, or null", () => {
    expect(liveHostKey("qemu+ssh://root@host7/system")).toBe("host7");
    expect(liveHostKey("qemu+tcp://host8.example:16509/system")).toBe("host8.example");
    expect(liveHostKey("test:///abs/path/nodeA.xml")).toBe("nodeA");
    expect(liveHostKey("qemu:///system")).toBeNull();
  });
});

describe.skipIf(!RUN)("live targets on the libvirt test driver", () => {
  let dir: string;
  let uri: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hdplan-live-"));
    uri = standardHost(dir, "hostA");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("readLiveHost returns every device, domain, network and the versions", async () => {
    const h = await readLiveHost(uri, "hostA", { timeoutMs: 10_000 });
    expect(h.kind).toBe("live");
    expect(h.key).toBe("hostA");
    expect(h.target).toBe(uri);
    expect(h.hostname).toBeTruthy();
    expect(h.versions.libvirt).toMatch(/^\d+\.\d+\.\d+$/);
    // libvirt's virConnectGetType() spells the test driver "TEST".
    expect(h.versions.hypervisorType).toBe("TEST");
    expect(h.versions.hypervisorVersion).toMatch(/^\d+\.\d+\.\d+$/);

    const names = h.nodeDevices.map((d) => /<name>([^<]+)<\/name>/.exec(d.xml)?.[1]);
    expect(names).toEqual(
      expect.arrayContaining([pciName(GPU), ...VFS.map(pciName), expect.stringContaining("mdev_c2177883")]),
    );
    expect(h.nodeDevices).toHaveLength(6);
    const gpu = h.nodeDevices.find((d) => d.xml.includes(pciName(GPU)))!;
    expect(gpu.xml).toContain("nvidia-558");
    expect(h.nodeDevices.find((d) => d.xml.includes("phys_function"))).toBeDefined();
    expect(h.nodeDevices.some((d) => d.xml.includes(MDEV_UUID))).toBe(true);

    const doms = h.domains.map((d) => ({
      name: /<name>([^<]+)<\/name>/.exec(d.xml)?.[1],
      active: d.active,
      persistent: d.persistent,
      id: /<domain[^>]* id='/.test(d.xml),
    }));
    expect(doms).toEqual(
      expect.arrayContaining([
        { name: VM_RUNNING.name, active: true, persistent: true, id: true },
        { name: VM_RUNNING.name, active: false, persistent: true, id: false },
        { name: VM_OFF.name, active: false, persistent: true, id: false },
        { name: VM_TRANSIENT.name, active: true, persistent: false, id: true },
      ]),
    );
    expect(h.domains).toHaveLength(4);

    expect(h.networks).toHaveLength(1);
    expect(h.networks[0]!.xml).toContain("<name>pool1</name>");
    expect(h.networks[0]!.active).toBe(true);
    // The test driver cannot list network ports: ports stay unknown.
    expect(h.networks[0]!.ports).toBeUndefined();
    expect(h.warnings).toEqual([]);
  });

  test("a node device that cannot be read is skipped with a warning", async () => {
    const ghost = "pci_0000_ff_00_0";
    const connect = async (u: string): Promise<Connection> => {
      const c = await openReadOnly(u);
      // Simulate a device that vanished between listing and reading: libvirt
      // really answers "no node device" for it.
      c.readNodeDevices = async () => {
        const out = [];
        for (const name of [...(await c.listNodeDevices()), ghost]) {
          try {
            out.push({ name, xml: await c.nodeDeviceXml(name) });
          } catch (e) {
            if (!(e instanceof LibvirtError)) throw e;
            out.push({ name, error: e });
          }
        }
        return out;
      };
      return c;
    };
    const h = await readLiveHost(uri, "hostA", { timeoutMs: 10_000, connect });
    expect(h.nodeDevices).toHaveLength(6);
    expect(h.warnings).toHaveLength(1);
    expect(h.warnings[0]!.code).toBe("device-skipped");
    expect(h.warnings[0]!.device).toBe(ghost);
    expect(h.warnings[0]!.message).toContain(ghost);
  });

  test("libvirt errors carry code, domain and message", async () => {
    const c = await openReadOnly(uri);
    try {
      const err = await c.nodeDeviceXml("pci_0000_ee_00_0").catch((e) => e);
      expect(err).toBeInstanceOf(LibvirtError);
      expect(err.code).toBe(VIR_ERR.NO_NODE_DEVICE);
      expect(err.domain).toBeGreaterThan(0);
      expect(err.message).toContain("pci_0000_ee_00_0");
      // ACTIVE/INACTIVE listing flags: the test driver of libvirt 9.0 refuses them
      // ("unsupported flags"), that of 11.3 accepts them (every test device is
      // active). hdplan lists with flags 0 on both (docs/libvirt-versions.md).
      const ACTIVE = 0x8000_0000;
      const INACTIVE = 0x4000_0000;
      if (versionAtLeast(await c.libVersion(), "11.0.0")) {
        expect(await c.listNodeDevices(ACTIVE)).toEqual(await c.listNodeDevices(0));
        expect(await c.listNodeDevices(INACTIVE)).toEqual([]);
      } else {
        const flagErr = await c.listNodeDevices(ACTIVE).catch((e) => e);
        expect(flagErr).toBeInstanceOf(LibvirtError);
        expect(flagErr.message).toMatch(/unsupported flags/);
      }
    } finally {
      await c.close();
    }
  });

  test("more calls at once than koffi's max_async_calls (256) wait their turn instead of failing", async () => {
    const c = await openReadOnly(uri);
    try {
      const names = await Promise.all(Array.from({ length: 600 }, () => c.hostname()));
      expect(new Set(names).size).toBe(1);
      expect(nativeCallsInFlight()).toBe(0);
    } finally {
      await c.close();
    }
  });

  test("a refused TCP port is host-unreachable, quickly", async () => {
    const t0 = Date.now();
    const err = await readLiveHost("qemu+tcp://127.0.0.1:1/system", "h1", { timeoutMs: 5000 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(HostError);
    expect(err.code).toBe("host-unreachable");
    expect(err.message).toContain("qemu+tcp://127.0.0.1:1/system");
    expect(err.message).not.toContain("\n");
    expect(Date.now() - t0).toBeLessThan(hangBound(3000));
  });

  test("concurrent failing opens get their own error", async () => {
    const [a, b] = await Promise.all([
      readLiveHost("qemu+tcp://127.0.0.1:1/system", "a", { timeoutMs: 5000 }).catch((e) => e),
      readLiveHost("qemu+tcp://127.0.0.1:2/system", "b", { timeoutMs: 5000 }).catch((e) => e),
    ]);
    expect(a.message).toContain("'127.0.0.1:1'");
    expect(b.message).toContain("'127.0.0.1:2'");
  });

  test("a missing test-driver file is a libvirt error naming the URI", async () => {
    const u = `test://${join(dir, "missing.xml")}`;
    const err = await readLiveHost(u, "m", { timeoutMs: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(HostError);
    expect(["libvirt-error", "host-unreachable"]).toContain(err.code);
    expect(err.message).toContain(u);
  });

  describe("a peer that accepts and never answers", () => {
    let server: Server;
    const sockets: Socket[] = [];
    let port = 0;
    beforeAll(async () => {
      server = createServer((s) => {
        sockets.push(s);
        s.on("error", () => {});
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    });

    test("host-timeout at the deadline; the abandoned call finishes later without harm", async () => {
      const before = nativeCallsInFlight();
      const u = `qemu+tcp://127.0.0.1:${port}/system`;
      const t0 = Date.now();
      const err = await readLiveHost(u, "silent", { timeoutMs: 400 }).catch((e) => e);
      const elapsed = Date.now() - t0;
      expect(err).toBeInstanceOf(HostError);
      expect(err.code).toBe("host-timeout");
      expect(err.message).toContain(u);
      expect(elapsed).toBeGreaterThanOrEqual(390);
      expect(elapsed).toBeLessThan(hangBound(1500));
      // The open is still stuck in libvirt.
      expect(nativeCallsInFlight()).toBeGreaterThan(before);
      // Meanwhile other hosts are still served.
      const h = await readLiveHost(uri, "hostA", { timeoutMs: 10_000 });
      expect(h.nodeDevices).toHaveLength(6);
      // Let the peer hang up: the stuck call returns an error nobody waits for.
      for (const s of sockets) s.destroy();
      const until = Date.now() + 10_000;
      while (nativeCallsInFlight() > before && Date.now() < until)
        await new Promise((r) => setTimeout(r, 50));
      expect(nativeCallsInFlight()).toBe(before);
    });
  });

  test("lookupLiveDomain by name and by UUID", async () => {
    const byName = await lookupLiveDomain(uri, VM_RUNNING.name, { timeoutMs: 10_000 });
    expect(byName.active).toBe(true);
    expect(byName.persistent).toBe(true);
    expect(byName.liveXml).toContain(MDEV_UUID);
    expect(byName.liveXml).toMatch(/<domain[^>]* id='/);
    expect(byName.inactiveXml).toContain(MDEV_UUID);
    expect(byName.inactiveXml).not.toMatch(/<domain[^>]* id='/);
    // libvirt refuses VIR_DOMAIN_XML_MIGRATABLE on read-only connections.
    expect(byName.migratableXml).toBeNull();

    const byUuid = await lookupLiveDomain(uri, VM_OFF.uuid, { timeoutMs: 10_000 });
    expect(byUuid.name).toBe(VM_OFF.name);
    expect(byUuid.active).toBe(false);
    expect(byUuid.liveXml).toContain("function='0x2'");

    const tr = await lookupLiveDomain(uri, VM_TRANSIENT.name, { timeoutMs: 10_000 });
    expect(tr.persistent).toBe(false);
    expect(tr.inactiveXml).toBeNull();
  });

  test("lookupLiveDomain: unknown domain is an input error naming the URI", async () => {
    const e1 = await lookupLiveDomain(uri, "nope", { timeoutMs: 10_000 }).catch((e) => e);
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toBe(`domain nope not found on ${uri}`);
    const e2 = await lookupLiveDomain(uri, "00000000-0000-4000-8000-00000000dead", {
      timeoutMs: 10_000,
    }).catch((e) => e);
    expect(e2).toBeInstanceOf(InputError);
  });

  test("runInventory writes a schemaVersion 2 snapshot", async () => {
    const r = await runInventory({ connect: uri, timeoutMs: 10_000 });
    expect(r.exitCode).toBe(0);
    const snap = JSON.parse(r.stdout);
    expect(snap.schemaVersion).toBe(2);
    expect(snap.kind).toBe("hdplan-host-snapshot");
    expect(snap.connect).toBe(uri);
    expect(Object.keys(snap)).toEqual([
      "schemaVersion",
      "kind",
      "createdAt",
      "connect",
      "hostname",
      "versions",
      "nodeDevices",
      "domains",
      "networks",
      "vendorAttrs",
    ]);
    expect(snap.versions.hypervisorType).toBe("TEST");
    expect(snap.versions.kernel).toBeUndefined(); // test driver: not this machine's kernel
    expect(snap.nodeDevices).toHaveLength(6);
    expect(snap.domains).toHaveLength(4);
    expect(snap.networks[0].ports).toBeUndefined();
    expect(snap.facts).toBeUndefined(); // no --sysfs-root and not this machine: no vendor facts

    const out = join(dir, "snap.json");
    const r2 = await runInventory({ connect: uri, timeoutMs: 10_000, out });
    expect(r2.exitCode).toBe(0);
    expect(r2.stdout).toBe("");
    expect(JSON.parse(readFileSync(out, "utf8")).schemaVersion).toBe(2);
  });

  test("runInventory on an unreachable host exits 3", async () => {
    const r = await runInventory({ connect: "qemu+tcp://127.0.0.1:1/system", timeoutMs: 5000 });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("127.0.0.1:1");
  });
});
