#!/usr/bin/env node
/**
 * Leak check: repeated readLiveHost on one test-driver host, printing RSS every
 * 100 iterations and the growth after the first 100 (warm-up).
 *
 *   npm run build && node --expose-gc scripts/leak-check.mjs [--iterations 1000] [--devices 200]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { iterations: { type: "string", default: "1000" }, devices: { type: "string", default: "200" } },
});
const N = Number(values.iterations);
const DEVICES = Number(values.devices);

const { readLiveHost } = await import("../dist/targets/live.js");
const { nativeCallsInFlight } = await import("../dist/libvirt/ffi.js");

const hex = (n, w) => n.toString(16).padStart(w, "0");
const parts = [];
for (let i = 0; i < DEVICES; i++) {
  const bus = 0x10 + Math.floor(i / 32);
  const slot = i % 32;
  const name = `pci_0000_${hex(bus, 2)}_${hex(slot, 2)}_0`;
  parts.push(`<device><name>${name}</name><parent>computer</parent><capability type='pci'>
<domain>0</domain><bus>${bus}</bus><slot>${slot}</slot><function>0</function>
<product id='0x20b7'>GA100GL</product><vendor id='0x10de'>NVIDIA</vendor>
<capability type='mdev_types'><type id='nvidia-558'><name>A30-4C</name><deviceAPI>vfio-pci</deviceAPI><availableInstances>5</availableInstances></type></capability>
</capability></device>`);
}
for (let d = 0; d < 5; d++) {
  parts.push(`<domain type='test'><name>vm${d}</name><uuid>00000000-0000-4000-8000-${hex(d, 12)}</uuid>
<memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`);
}
parts.push(`<network><name>pool1</name><uuid>00000000-0000-4000-8000-0000000000aa</uuid>
<forward mode='hostdev' managed='yes'><address type='pci' domain='0x0000' bus='0x10' slot='0x01' function='0x0'/></forward></network>`);

const dir = mkdtempSync(join(tmpdir(), "hdplan-leak-"));
const file = join(dir, "leakhost.xml");
writeFileSync(file, `<?xml version="1.0"?>\n<node>\n${parts.join("\n")}\n</node>\n`);
const uri = `test://${file}`;

const mb = (b) => (b / 1024 / 1024).toFixed(1);
let base = 0;
try {
  for (let i = 1; i <= N; i++) {
    const h = await readLiveHost(uri, "leakhost", { timeoutMs: 60_000 });
    if (h.nodeDevices.length !== DEVICES)
      throw new Error(`expected ${DEVICES} devices, got ${h.nodeDevices.length}`);
    if (i % 100 === 0) {
      globalThis.gc?.();
      const rss = process.memoryUsage().rss;
      if (i === 100) base = rss;
      console.log(
        `iteration ${i}: rss ${mb(rss)} MiB, heap ${mb(process.memoryUsage().heapUsed)} MiB, in flight ${nativeCallsInFlight()}`,
      );
    }
  }
  const end = process.memoryUsage().rss;
  console.log(
    `RSS growth after warm-up (100 -> ${N}): ${mb(end - base)} MiB (${((end - base) / 1024 / (N - 100)).toFixed(1)} KiB/iteration)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
