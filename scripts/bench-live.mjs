#!/usr/bin/env node
/**
 * Benchmark: live inventory of N test-driver hosts with hdplan's readLiveHost
 * (koffi async, `--concurrency` hosts at once) against a sequential
 * python3-libvirt baseline making the same calls.
 *
 *   npm run build && node scripts/bench-live.mjs [--hosts 50] [--devices 200] [--concurrency 8]
 *
 * Host files and the Python script are written into a temp dir (removed after).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "50" },
    devices: { type: "string", default: "200" },
    concurrency: { type: "string", default: "8" },
    keep: { type: "boolean", default: false },
  },
});
const HOSTS = Number(values.hosts);
const DEVICES = Number(values.devices);
const CONCURRENCY = Number(values.concurrency);

const { readLiveHost } = await import("../dist/targets/live.js");

const hex = (n, w) => n.toString(16).padStart(w, "0");
const addr = (bus, slot, fn) => ({ bus, slot, fn, s: `0000:${hex(bus, 2)}:${hex(slot, 2)}.${fn}` });
const pciName = (a) => `pci_0000_${hex(a.bus, 2)}_${hex(a.slot, 2)}_${a.fn}`;

function hostXml(h) {
  const parts = [];
  // ~1/3 GPUs with mdev types, each with one mdev; the rest NIC functions.
  let n = 0;
  let i = 0;
  while (n < DEVICES) {
    const a = addr(0x10 + Math.floor(i / 32), i % 32, 0);
    i++;
    if (i % 3 === 0) {
      parts.push(`<device><name>${pciName(a)}</name><parent>computer</parent><capability type='pci'>
<class>0x030200</class><domain>0</domain><bus>${a.bus}</bus><slot>${a.slot}</slot><function>0</function>
<product id='0x20b7'>GA100GL</product><vendor id='0x10de'>NVIDIA</vendor>
<capability type='mdev_types'><type id='nvidia-558'><name>A30-4C</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>5</availableInstances></type>
<type id='nvidia-559'><name>A30-6C</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>3</availableInstances></type></capability>
<iommuGroup number='${i}'><address domain='0x0000' bus='0x${hex(a.bus, 2)}' slot='0x${hex(a.slot, 2)}' function='0x0'/></iommuGroup>
</capability></device>`);
      const uuid = `${hex(h, 8)}-0000-4000-8000-${hex(i, 12)}`;
      parts.push(`<device><name>mdev_${uuid.replace(/-/g, "_")}</name><parent>${pciName(a)}</parent>
<capability type='mdev'><type id='nvidia-558'/><uuid>${uuid}</uuid><iommuGroup number='${1000 + i}'/></capability></device>`);
      n += 2;
    } else {
      parts.push(`<device><name>${pciName(a)}</name><parent>computer</parent><capability type='pci'>
<class>0x020000</class><domain>0</domain><bus>${a.bus}</bus><slot>${a.slot}</slot><function>0</function>
<product id='0x101e'>VF</product><vendor id='0x15b3'>Mellanox</vendor></capability></device>`);
      n += 1;
    }
  }
  for (let d = 0; d < 5; d++) {
    parts.push(`<domain type='test'><name>vm${d}</name><uuid>${hex(h, 8)}-0000-4000-8000-${hex(d, 12)}</uuid>
<memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>
<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='${hex(h, 8)}-0000-4000-8000-${hex(3 * (d + 1), 12)}'/></source></hostdev>
</devices></domain>`);
  }
  parts.push(`<network><name>pool1</name><uuid>${hex(h, 8)}-0000-4000-8000-0000000000aa</uuid>
<forward mode='hostdev' managed='yes'><address type='pci' domain='0x0000' bus='0x10' slot='0x01' function='0x0'/></forward></network>`);
  return `<?xml version="1.0"?>\n<node>\n${parts.join("\n")}\n</node>\n`;
}

const dir = mkdtempSync(join(tmpdir(), "hdplan-bench-"));
const uris = [];
for (let h = 0; h < HOSTS; h++) {
  const file = join(dir, `host${h}.xml`);
  writeFileSync(file, hostXml(h));
  uris.push(`test://${file}`);
}

async function runHdplan() {
  let next = 0;
  let devices = 0;
  const worker = async () => {
    while (next < uris.length) {
      const u = uris[next++];
      const h = await readLiveHost(u, `h${next}`, { timeoutMs: 60_000 });
      devices += h.nodeDevices.length;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { ms: performance.now() - t0, devices };
}

const PY = `
import sys, time, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
uris = sys.argv[1:]
t0 = time.perf_counter()
n = 0
for u in uris:
    c = libvirt.openReadOnly(u)
    c.getHostname(); c.getLibVersion(); c.getType(); c.getVersion()
    for d in c.listAllDevices(0):
        d.XMLDesc(0); n += 1
    for d in c.listAllDomains(0):
        a = d.isActive(); p = d.isPersistent(); d.XMLDesc(0)
        if a and p: d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    for net in c.listAllNetworks(0):
        net.isActive(); net.XMLDesc(0)
        try: net.listAllPorts(0)
        except libvirt.libvirtError: pass
    c.close()
print(f"{(time.perf_counter() - t0) * 1000:.1f} {n}")
`;

function pythonBin() {
  for (const py of ["/usr/bin/python3", "python3"]) {
    const r = spawnSync(py, ["-c", "import libvirt"], { encoding: "utf8" });
    if (r.status === 0) return py;
  }
  console.error("python3-libvirt missing: apt-get install -y python3-libvirt");
  return null;
}

try {
  // Warm up (load koffi + libvirt, first open).
  await readLiveHost(uris[0], "warm", { timeoutMs: 60_000 });
  const ours = await runHdplan();
  console.log(
    `hdplan readLiveHost: ${HOSTS} hosts x ${ours.devices / HOSTS} node devices, concurrency ${CONCURRENCY}: ${ours.ms.toFixed(0)} ms`,
  );
  const py = pythonBin();
  if (py) {
    const pyFile = join(dir, "baseline.py");
    writeFileSync(pyFile, PY);
    const r = spawnSync(py, [pyFile, ...uris], { encoding: "utf8", maxBuffer: 1 << 26 });
    if (r.status !== 0) {
      console.error(r.stderr);
    } else {
      const [ms, n] = r.stdout.trim().split(" ").map(Number);
      console.log(`python3-libvirt sequential: ${HOSTS} hosts, ${n} node devices: ${ms.toFixed(0)} ms`);
      console.log(
        `ratio hdplan/python: ${(ours.ms / ms).toFixed(2)} (${(ms / ours.ms).toFixed(2)}x speed-up)`,
      );
    }
  }
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
