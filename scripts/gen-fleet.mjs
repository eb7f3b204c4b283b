#!/usr/bin/env node
/**
 * gen-fleet.mjs — generate a synthetic fleet of libvirt hosts for hdplan
 * benchmarks and tests. Plain Node ESM, no dependencies, deterministic: the
 * same options and seed always write byte-identical files.
 *
 * Usage:
 *   node scripts/gen-fleet.mjs --out DIR [--hosts N] [--gpus-per-host G]
 *        [--nics-per-host K] [--vfs-per-nic V] [--old-fraction F]
 *        [--domains-per-host D] [--noise N] [--seed S]
 *        [--format dump|testdriver|both] [--layout per-device|all]
 *
 *   --out DIR             output folder (created; existing files are overwritten)
 *   --hosts N             number of hosts, the source host-0001 included (default 10)
 *   --gpus-per-host G     NVIDIA T4 GPUs (10de:1eb8) per host (default 4)
 *   --nics-per-host K     Mellanox ConnectX-6 Dx PFs (15b3:101d) per host (default 2)
 *   --vfs-per-nic V       VFs (15b3:101e, mlx5_vfio_pci) per PF (default 16)
 *   --old-fraction F      fraction of target hosts with libvirt 9.0.0 / QEMU 7.2.0 (default 0.2)
 *   --domains-per-host D  guest domains per target host using some of its VFs/mdevs (default 2)
 *   --noise N             extra unrelated node devices per host (default 120): chipset
 *                         functions, root ports, NVMe/SATA disks, USB devices, scsi/storage
 *   --seed S              PRNG seed, an integer (default 1)
 *   --format F            dump (default): DIR/hosts/host-0001/{nodedev,domains,networks}/ + host.json
 *                         testdriver: DIR/testdriver/host-0001.xml, a <node> file for libvirt's
 *                         test driver (test:///ABS/PATH/host-0001.xml)
 *                         both: the two of them
 *   --layout L            nodedev/ of each dump directory: per-device (default) or all, one
 *                         nodedev/all.xml per host with every <device> document concatenated
 *                         in `virsh nodedev-list --all` order (names sorted case-insensitively,
 *                         libvirt tools/virsh-nodedev.c virshNodeDeviceSorter), as the dump
 *                         recipe of docs/targets.md writes:
 *                           for d in $(virsh nodedev-list --all); do virsh nodedev-dumpxml "$d"; done > nodedev/all.xml
 *
 * Output:
 *   DIR/hosts/host-NNNN/         dump directories (cli.md); nodedev/ has one file per
 *                                device plus, per host, one file of several concatenated
 *                                <device> documents as a `virsh nodedev-dumpxml` loop writes
 *                                (--layout all: only nodedev/all.xml)
 *   DIR/testdriver/host-NNNN.xml test-driver node files
 *   DIR/hosts.txt                the targets (every host but host-0001), absolute paths
 *                                (dump directories; test:/// URIs with --format testdriver)
 *   DIR/hosts-testdriver.txt     with --format both: the test:/// URIs of the targets
 *   DIR/vm.xml                   a running VM on host-0001 with 8 assigned devices
 *                                (4 nvidia-558 mdevs + 4 mlx5_vfio_pci VFs)
 *
 * Example (~200 node devices per host, 1,000 hosts in a few seconds):
 *   node scripts/gen-fleet.mjs --out /tmp/fleet --hosts 1000 --gpus-per-host 4 \
 *        --nics-per-host 2 --vfs-per-nic 16 --noise 120 --seed 42
 *   hdplan plan --domain /tmp/fleet/vm.xml --source /tmp/fleet/hosts/host-0001 \
 *        --hosts-file /tmp/fleet/hosts.txt
 *
 * The device XML builders are exported (and used to write xml-samples/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

// The builders live in scripts/fixtures/ (shared with xml-samples/regenerate.mjs
// and the tests); re-exported here for existing importers.
import { domainXml, hostdevNetworkXml } from "./fixtures/domain.mjs";
import { HostBuilder } from "./fixtures/host.mjs";
import { T4_TYPES } from "./fixtures/nodedev.mjs";
import { makeRng } from "./fixtures/rng.mjs";
import { nodeOfDocuments } from "./fixtures/testdriver.mjs";

export { domainXml, hostdevNetworkXml } from "./fixtures/domain.mjs";
export { HostBuilder } from "./fixtures/host.mjs";
export * from "./fixtures/nodedev.mjs";
export { pciAddrXml, pciName, pciStr } from "./fixtures/pci.mjs";
export { makeRng, mulberry32 } from "./fixtures/rng.mjs";

// ---------------------------------------------------------------------------
// Fleet

const NEW_VERSIONS = [
  { libvirt: "10.5.0", qemu: "9.0.0", kernel: "6.8.0-45-generic" },
  { libvirt: "10.10.0", qemu: "9.2.0", kernel: "6.12.9" },
  { libvirt: "11.0.0", qemu: "9.2.2", kernel: "6.12.12" },
];
const OLD_VERSIONS = { libvirt: "9.0.0", qemu: "7.2.0", kernel: "6.1.0-21-amd64" };

export function parseArgs(argv) {
  const o = {
    out: null,
    hosts: 10,
    gpusPerHost: 4,
    nicsPerHost: 2,
    vfsPerNic: 16,
    oldFraction: 0.2,
    domainsPerHost: 2,
    noise: 120,
    seed: 1,
    format: "dump",
    layout: "per-device",
  };
  const num = {
    "--hosts": "hosts",
    "--gpus-per-host": "gpusPerHost",
    "--nics-per-host": "nicsPerHost",
    "--vfs-per-nic": "vfsPerNic",
    "--old-fraction": "oldFraction",
    "--domains-per-host": "domainsPerHost",
    "--noise": "noise",
    "--seed": "seed",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, null];
    const val = () => {
      if (inline !== null) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--help" || flag === "-h") {
      o.help = true;
    } else if (flag === "--out") o.out = val();
    else if (flag === "--format") {
      o.format = val();
      if (!["dump", "testdriver", "both"].includes(o.format))
        throw new Error("--format must be dump, testdriver or both");
    } else if (flag === "--layout") {
      o.layout = val();
      if (!["per-device", "all"].includes(o.layout)) throw new Error("--layout must be per-device or all");
    } else if (num[flag]) {
      const v = Number(val());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
      o[num[flag]] = v;
    } else throw new Error(`unknown option ${a}`);
  }
  if (!o.help && !o.out) throw new Error("--out DIR is required");
  if (o.hosts < 1) throw new Error("--hosts must be at least 1");
  if (o.oldFraction > 1) throw new Error("--old-fraction must be between 0 and 1");
  o.hosts = Math.floor(o.hosts);
  o.gpusPerHost = Math.floor(o.gpusPerHost);
  o.nicsPerHost = Math.floor(o.nicsPerHost);
  o.vfsPerNic = Math.min(Math.floor(o.vfsPerNic), 126);
  o.domainsPerHost = Math.floor(o.domainsPerHost);
  o.noise = Math.floor(o.noise);
  o.seed = Math.floor(o.seed);
  return o;
}

const hostKey = (i) => `host-${String(i).padStart(4, "0")}`;

/**
 * Builds host number `i` (1-based; 1 is the source). Returns {key, files,
 * domains, networks, hostJson, vm?}. Each host has its own PRNG stream derived
 * from the seed, so hosts are independent of each other's sizes.
 */
export function buildFleetHost(opts, i) {
  const rng = makeRng((opts.seed * 1000003 + i * 7919) >>> 0);
  const key = hostKey(i);
  const isSource = i === 1;
  const b = new HostBuilder(rng);
  b.base({ product: rng.pick(["PowerEdge R750", "PowerEdge R750xa", "PowerEdge R760"]) });
  const old = !isSource && rng.chance(opts.oldFraction);
  const versions = old ? OLD_VERSIONS : isSource ? NEW_VERSIONS[0] : rng.pick(NEW_VERSIONS);

  const gpus = Math.max(opts.gpusPerHost, isSource ? 1 : 0);
  const nics = Math.max(opts.nicsPerHost, isSource ? 1 : 0);
  const vfsPerNic = isSource ? Math.max(opts.vfsPerNic, 4) : opts.vfsPerNic;
  const free = { mdevs: [], vfs: [] };
  const vm = isSource ? { mdevs: [], vfs: [] } : null;

  // GPUs: one type per GPU is in use (time-sliced vGPU); the others show 0.
  for (let g = 0; g < gpus; g++) {
    let mdevs = [];
    let used;
    if (isSource && g === 0) {
      used = "nvidia-558";
      mdevs = [0, 1, 2, 3].map(() => ({ uuid: rng.uuid(), type: used }));
      vm.mdevs.push(...mdevs.map((m) => m.uuid));
    } else {
      used = rng.pick(["nvidia-558", "nvidia-558", "nvidia-559", "nvidia-560", null]);
      if (used) {
        const n = rng.int(0, Math.min(3, T4_TYPES[used].max - 1));
        mdevs = Array.from({ length: n }, () => ({ uuid: rng.uuid(), type: used }));
        for (const m of mdevs) free.mdevs.push(m.uuid);
      }
    }
    const types = {};
    for (const t of ["nvidia-558", "nvidia-559", "nvidia-560"]) {
      if (!used) types[t] = T4_TYPES[t].max;
      else if (t !== used) types[t] = 0;
      else types[t] = isSource ? T4_TYPES[t].max - mdevs.length : rng.int(0, T4_TYPES[t].max - mdevs.length);
    }
    b.addGpu({ types, mdevs });
  }
  for (let n = 0; n < nics; n++) {
    const { vfs } = b.addNic({ vfCount: vfsPerNic, maxVfs: Math.max(16, vfsPerNic) });
    for (const v of vfs) free.vfs.push(v.addr);
  }
  b.addNoise(opts.noise);

  // Domains: the source runs the VM; targets run D guests using some VFs / mdevs.
  const domains = [];
  if (isSource) {
    const vfs = free.vfs.splice(0, 4);
    vm.vfs = vfs;
    vm.uuid = rng.uuid();
  }
  const domCount = isSource ? 0 : opts.domainsPerHost;
  for (let d = 0; d < domCount; d++) {
    const devs = [];
    const nv = Math.min(free.vfs.length, rng.int(0, 4));
    for (let k = 0; k < nv; k++) {
      const addr = free.vfs.splice(rng.int(0, free.vfs.length - 1), 1)[0];
      devs.push(
        rng.chance(0.5) ? { kind: "pci", addr } : { kind: "interface", addr, mac: rng.mac("52:54:00") },
      );
    }
    if (free.mdevs.length && rng.chance(0.6)) devs.unshift({ kind: "mdev", uuid: free.mdevs.shift() });
    domains.push({ name: `guest-${key.slice(5)}-${d + 1}`, uuid: rng.uuid(), id: d + 1, devices: devs });
  }
  // A hostdev pool on the last few free VFs of the last NIC, on half the hosts.
  const networks = [];
  if (!isSource && free.vfs.length >= 4 && rng.chance(0.5)) {
    networks.push({ name: "sriov-pool", uuid: rng.uuid(), vfs: free.vfs.splice(-4, 4) });
  }
  const hostJson = {
    hostname: `${key}.lab.example`,
    libvirtVersion: versions.libvirt,
    hypervisor: { type: "QEMU", version: versions.qemu },
    kernelVersion: versions.kernel,
  };
  return { key, builder: b, domains, networks, hostJson, vm };
}

function vmDomain(vm, type = "kvm") {
  const devices = [
    ...vm.mdevs.map((uuid) => ({ kind: "mdev", uuid })),
    ...vm.vfs.map((addr) => ({ kind: "pci", addr })),
  ];
  return domainXml({ name: "vm-bench", uuid: vm.uuid, id: 7, devices, memGiB: 32, vcpus: 16, type });
}

function testDriverXml(host) {
  const doms = host.domains.map((d) => domainXml({ ...d, type: "test" }));
  if (host.vm) doms.push(vmDomain(host.vm, "test"));
  const nets = host.networks.map((n) => hostdevNetworkXml(n));
  return nodeOfDocuments([...host.builder.devices.map((d) => d.xml), ...doms, ...nets]);
}

/** The node device name of one `<device>` document (its `<name>`). */
const deviceName = (xml) => /<name>([^<]*)<\/name>/.exec(xml)?.[1] ?? "";

/**
 * The nodedev/ files of one host: `perDevice()` (the builder's files), or with
 * layout "all" one all.xml of every device in `virsh nodedev-list --all` order:
 * virsh sorts the names with vshStrcasecmp (tools/virsh-nodedev.c,
 * virshNodeDeviceSorter), and each `virsh nodedev-dumpxml` prints one document
 * ending in a newline.
 */
export function nodedevFiles(devices, layout, perDevice) {
  if (layout !== "all") return perDevice();
  const key = (d) => deviceName(d.xml).toLowerCase();
  const sorted = devices
    .map((d, i) => ({ d, i, k: key(d) }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
  return [{ file: "all.xml", xml: sorted.map((x) => x.d.xml).join("") }];
}

export function generateFleet(opts) {
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });
  const dump = opts.format === "dump" || opts.format === "both";
  const td = opts.format === "testdriver" || opts.format === "both";
  const dumpTargets = [];
  const tdTargets = [];
  let devicesTotal = 0;
  let vmXml = null;
  if (td) mkdirSync(join(out, "testdriver"), { recursive: true });
  for (let i = 1; i <= opts.hosts; i++) {
    const host = buildFleetHost(opts, i);
    devicesTotal += host.builder.devices.length;
    if (host.vm) vmXml = vmDomain(host.vm);
    if (dump) {
      const dir = join(out, "hosts", host.key);
      mkdirSync(join(dir, "nodedev"), { recursive: true });
      for (const f of nodedevFiles(host.builder.devices, opts.layout, () => host.builder.files()))
        writeFileSync(join(dir, "nodedev", f.file), f.xml);
      const doms = host.domains.map((d) => ({ name: d.name, xml: domainXml(d) }));
      if (host.vm) doms.push({ name: "vm-bench", xml: vmXml });
      if (doms.length) {
        mkdirSync(join(dir, "domains"), { recursive: true });
        for (const d of doms) writeFileSync(join(dir, "domains", `${d.name}.xml`), d.xml);
      }
      if (host.networks.length) {
        mkdirSync(join(dir, "networks"), { recursive: true });
        for (const n of host.networks)
          writeFileSync(join(dir, "networks", `${n.name}.xml`), hostdevNetworkXml(n));
      }
      writeFileSync(join(dir, "host.json"), `${JSON.stringify(host.hostJson, null, 2)}\n`);
      // The NVIDIA vGPU manager version (docs/dump-sys.md): one release fleet-wide.
      mkdirSync(join(dir, "sys", "module", "nvidia"), { recursive: true });
      writeFileSync(join(dir, "sys", "module", "nvidia", "version"), "550.127.05\n");
      if (i > 1) dumpTargets.push(dir);
    }
    if (td) {
      const file = join(out, "testdriver", `${host.key}.xml`);
      writeFileSync(file, testDriverXml(host));
      if (i > 1) tdTargets.push(`test://${file}`);
    }
  }
  const header = (what) =>
    `# hdplan targets generated by scripts/gen-fleet.mjs (${what}); source: ${hostKey(1)}\n` +
    `# --hosts ${opts.hosts} --gpus-per-host ${opts.gpusPerHost} --nics-per-host ${opts.nicsPerHost} ` +
    `--vfs-per-nic ${opts.vfsPerNic} --old-fraction ${opts.oldFraction} --domains-per-host ${opts.domainsPerHost} ` +
    `--noise ${opts.noise} --seed ${opts.seed}${opts.layout === "all" ? " --layout all" : ""}\n`;
  if (dump) writeFileSync(join(out, "hosts.txt"), `${header("dump directories")}${dumpTargets.join("\n")}\n`);
  if (td) {
    const f = dump ? "hosts-testdriver.txt" : "hosts.txt";
    writeFileSync(join(out, f), `${header("test-driver URIs")}${tdTargets.join("\n")}\n`);
  }
  writeFileSync(join(out, "vm.xml"), vmXml);
  return { out, hosts: opts.hosts, devicesPerHost: devicesTotal / opts.hosts };
}

function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`gen-fleet: ${e.message}\nRun with --help for usage.\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(
      "usage: node scripts/gen-fleet.mjs --out DIR [--hosts N] [--gpus-per-host G] [--nics-per-host K]\n" +
        "       [--vfs-per-nic V] [--old-fraction F] [--domains-per-host D] [--noise N] [--seed S]\n" +
        "       [--format dump|testdriver|both] [--layout per-device|all]\n",
    );
    return;
  }
  const t0 = performance.now();
  const r = generateFleet(opts);
  const ms = Math.round(performance.now() - t0);
  process.stderr.write(
    `gen-fleet: ${r.hosts} hosts (~${Math.round(r.devicesPerHost)} node devices each) in ${r.out} (${ms} ms)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
