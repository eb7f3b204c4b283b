/**
 * The host index's lazy PCI entries (no descriptor files: src/candidates/
 * hostindex.ts lazyPci) against the eager ones every function gets when
 * files are present (eagerPci): for every address and every device id of
 * real-shaped hosts, the same entries (function, descriptor, origin,
 * position) in the same order.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type PciIndex, eagerPci, hostIndex, lazyPci } from "../../src/candidates/hostindex.js";
import { pciDeviceId } from "../../src/descriptors/derive.js";
import { DescriptorSelector } from "../../src/descriptors/sources.js";
import { buildInventory } from "../../src/inventory/build.js";
import type { HostInventory } from "../../src/inventory/types.js";
import { readDumpDir } from "../../src/targets/dump.js";
import { gpu, nic, pciDev, rawHost } from "../helpers/build.js";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Hosts of scripts/gen-fleet.mjs (bridges, GPUs, NICs with VFs, noise devices). */
function fleetHosts(): HostInventory[] {
  const out = mkdtempSync(join(tmpdir(), "hostindex-"));
  dirs.push(out);
  execFileSync(process.execPath, [
    join(__dirname, "..", "..", "scripts", "gen-fleet.mjs"),
    "--out",
    out,
    "--hosts",
    "3",
    "--seed",
    "7",
    "--noise",
    "60",
    "--layout",
    "all",
  ]);
  const hosts = join(out, "hosts");
  return readdirSync(hosts).map((h) => buildInventory(readDumpDir(join(hosts, h), h, join(hosts, h))));
}

/** A small host: a bridge, two GPUs of one id in reverse address order, a NIC with VFs, a function without class. */
function smallHost(): HostInventory {
  return buildInventory(
    rawHost("small", {
      devices: [
        pciDev({
          addr: "0000:00:01.0",
          vendor: "8086",
          product: "09ab",
          cls: "0x060400",
          driver: "pcieport",
        }),
        pciDev({
          addr: "0000:00:02.0",
          vendor: "8086",
          product: "09AB",
          cls: "0X060401",
          driver: "pcieport",
        }),
        gpu("0000:d8:00.0", 2),
        gpu("0000:3b:00.0", 2),
        ...nic("0000:5e:00.0", ["0000:5e:00.2", "0000:5e:00.3", "0000:5e:00.4"]),
        pciDev({
          addr: "0000:af:00.0",
          vendor: "10DE",
          product: "1DB6",
          cls: "0x030200",
          driver: "vfio-pci",
        }),
        pciDev({ addr: "0000:b0:00.0", vendor: "10de", product: "1db6", cls: "", driver: null }),
      ],
    }),
  );
}

const view = (e: ReturnType<PciIndex["pciAt"]>) =>
  e === undefined ? null : { fn: e.fn, pos: e.pos, descriptor: e.descriptor, origin: e.origin };

function same(host: HostInventory): number {
  const sel = new DescriptorSelector([]);
  const eager = eagerPci(sel, host);
  const lazy = lazyPci(sel, host);
  const ids = new Set<string | undefined>([undefined, "ffffffff", ""]);
  for (const fn of host.pciByAddr.values()) ids.add(pciDeviceId(fn));
  // Asked in two orders: entries made by one question are the ones the other gets.
  for (const id of [...ids, ...[...ids].reverse()]) {
    const want = eager.pciFor(id).map(view);
    const got = lazy.pciFor(id).map(view);
    expect(got).toEqual(want);
    // fn is compared by identity: toEqual would accept a copy.
    got.forEach((g, i) => expect(g!.fn).toBe(want[i]!.fn));
  }
  for (const addr of [...host.pciByAddr.keys(), "0000:ff:1f.7"]) {
    expect(view(lazy.pciAt(addr))).toEqual(view(eager.pciAt(addr)));
  }
  // One entry per function: pciAt and pciFor hand out the same object.
  for (const fn of host.pciByAddr.values()) {
    const e = lazy.pciAt(fn.pci!.address);
    if (e) expect(lazy.pciFor(pciDeviceId(fn))).toContain(e);
  }
  return ids.size;
}

describe("host index: lazy PCI entries are the eager ones", () => {
  it("on a small host with bridges, mixed-case ids and a function without class", () => {
    const host = smallHost();
    same(host);
    const lazy = lazyPci(new DescriptorSelector([]), host);
    expect(lazy.pciAt("0000:00:01.0")).toBeUndefined(); // a bridge has no entry
    expect(lazy.pciAt("0000:00:02.0")).toBeUndefined();
    expect(lazy.pciFor("10de1db6").map((e) => e.fn.pci!.address)).toEqual(["0000:af:00.0", "0000:b0:00.0"]);
  });

  it("on generated fleet hosts", () => {
    for (const host of fleetHosts()) expect(same(host)).toBeGreaterThan(5);
  });

  it("hostIndex takes the lazy entries without files, the eager ones with", () => {
    const host = smallHost();
    const idx = hostIndex(new DescriptorSelector([]), host);
    expect(view(idx.pciAt("0000:af:00.0"))).toEqual(
      view(eagerPci(new DescriptorSelector([]), host).pciAt("0000:af:00.0")),
    );
  });
});
