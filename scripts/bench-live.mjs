#!/usr/bin/env node
/**
 * Benchmark: live inventory of N test-driver hosts with hdplan's readLiveHost
 * (koffi async, `--concurrency` hosts at once) against a sequential
 * python3-libvirt baseline making the same calls.
 *
 *   npm run build && node scripts/bench-live.mjs [--hosts 50] [--devices 200] [--concurrency 8]
 *
 * Remote mode (root; hosts across a network): a libvirt daemon serves the
 * test-driver files over TCP (scripts/migration-daemons.sh start-bench), reached
 * as test+tcp://127.0.0.1:PORT/ABS/hostN.xml through scripts/latency-proxy.mjs
 * (--delay-ms per direction, default 5). It times `hdplan plan` at its default
 * concurrency (or --concurrency) over every host against a sequential
 * python3-libvirt read of the same hosts through the same proxy, and prints the
 * ratio. The daemon and the proxy are stopped by pid at the end; every step has
 * a time limit, so the run stops by itself.
 *
 *   npm run build && node scripts/bench-live.mjs --remote [--hosts 50] [--devices 200] [--delay-ms 5]
 *
 * Host files and the Python script are written into a temp dir (removed after).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    hosts: { type: "string", default: "50" },
    devices: { type: "string", default: "200" },
    concurrency: { type: "string" },
    keep: { type: "boolean", default: false },
    remote: { type: "boolean", default: false },
    "delay-ms": { type: "string", default: "5" },
    "skip-python": { type: "boolean", default: false },
  },
});
const HOSTS = Number(values.hosts);
const DEVICES = Number(values.devices);
const CONCURRENCY = Number(values.concurrency ?? "8");
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

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

function runPython(py, pyUris) {
  const pyFile = join(dir, "baseline.py");
  writeFileSync(pyFile, PY);
  const r = spawnSync(py, [pyFile, ...pyUris], { encoding: "utf8", maxBuffer: 1 << 26, timeout: 900_000 });
  if (r.status !== 0) {
    console.error(`python3-libvirt baseline failed: ${r.error?.message ?? r.stderr}`);
    return null;
  }
  const [ms, n] = r.stdout.trim().split(" ").map(Number);
  return { ms, n };
}

/** Start the latency proxy (a child process); resolves with its port. */
function startProxy(targetPort, delayMs) {
  const child = spawn(
    process.execPath,
    [join(ROOT, "scripts/latency-proxy.mjs"), "--target", String(targetPort), "--delay-ms", String(delayMs)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("latency proxy did not start within 10 s")), 10_000);
    child.stdout.on("data", (b) => {
      const m = /listening (\d+)/.exec(String(b));
      if (m) {
        clearTimeout(t);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on("exit", (c) => reject(new Error(`latency proxy exited (${c})`)));
  });
}

async function remote() {
  const delay = Number(values["delay-ms"]);
  const benchDir = join(dir, "daemon");
  const daemonPort = Number(process.env.HDPLAN_BENCH_PORT || "16598");
  const script = join(ROOT, "scripts/migration-daemons.sh");
  const started = spawnSync("sh", [script, "start-bench", benchDir], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, HDPLAN_BENCH_PORT: String(daemonPort) },
  });
  if (started.status !== 0) throw new Error(`bench daemon: ${started.stderr || started.error?.message}`);
  let proxy = null;
  try {
    proxy = await startProxy(daemonPort, delay);
    const remoteUris = uris.map((u) => `test+tcp://127.0.0.1:${proxy.port}${u.slice("test://".length)}`);
    const hostsFile = join(dir, "hosts.txt");
    writeFileSync(hostsFile, `${remoteUris.map((u, i) => `h${i}=${u}`).join("\n")}\n`);
    const args = [join(ROOT, "dist/cli/main.js"), "plan", "--domain", "vm0", "--source", remoteUris[0]];
    args.push("--hosts-file", hostsFile, "--format", "json", "--timeout", "120");
    if (values.concurrency) args.push("--concurrency", values.concurrency);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 28, timeout: 600_000 });
    const ms = performance.now() - t0;
    if (r.status !== 0 && r.status !== 1) throw new Error(`hdplan plan exited ${r.status}: ${r.stderr}`);
    const out = JSON.parse(r.stdout);
    const errors = out.hosts.filter((h) => h.error);
    if (out.hosts.length !== HOSTS || errors.length)
      throw new Error(
        `hdplan plan: ${out.hosts.length} hosts, ${errors.length} errors: ${errors[0]?.error?.message}`,
      );
    const conc = values.concurrency ? `--concurrency ${values.concurrency}` : "default concurrency";
    console.log(
      `hdplan plan (${conc}): ${HOSTS} remote hosts x ~${DEVICES} node devices, ${delay} ms per direction: ${ms.toFixed(0)} ms`,
    );
    if (values["skip-python"]) return;
    const py = pythonBin();
    if (!py) return;
    const base = runPython(py, remoteUris);
    if (!base) return;
    console.log(
      `python3-libvirt sequential through the same proxy: ${HOSTS} hosts, ${base.n} node devices: ${base.ms.toFixed(0)} ms`,
    );
    console.log(`ratio hdplan/python: ${(ms / base.ms).toFixed(3)}x (${(base.ms / ms).toFixed(1)}x faster)`);
  } finally {
    proxy?.child.kill("SIGTERM");
    spawnSync("sh", [script, "stop-bench", benchDir], { stdio: "ignore", timeout: 60_000 });
  }
}

try {
  if (values.remote) {
    await remote();
  } else {
    await local();
  }
} finally {
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);

async function local() {
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
}
