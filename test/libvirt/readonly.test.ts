/** The read path binds and uses only read-only libvirt calls. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openReadOnly } from "../../src/libvirt/client.js";
import {
  ERROR_SYMBOLS,
  loadLibvirt,
  loadWritable,
  openCounts,
  READONLY_PROTOTYPES,
  READONLY_SYMBOLS,
  VIR_ERR,
  WRITE_SYMBOLS,
} from "../../src/libvirt/ffi.js";
import { readLiveHost } from "../../src/targets/live.js";
import { GPU, libvirtAvailable, standardHost } from "../helpers/testdriver.js";

/** Verbs of libvirt calls that change state (after the vir<Object> prefix). */
const WRITE_VERB =
  /^vir(?:Connect|Domain|Network|NetworkPort|NodeDevice|Interface|StoragePool|StorageVol|Secret|NWFilter)?(?:Define|Create|Destroy|Undefine|Set|Start|Attach|Detach|Migrate|Update|Shutdown|Reboot|Reset|Suspend|Resume|Save|Restore|Delete|Managed|Core|Inject|Send|Block|Snapshot|Checkpoint|Backup|Abort|Pin|Rename|Upload|Wipe|Build|Refresh|Resize|Fstrim|Authorize|Add|Del|Detach|Open(?!ReadOnly))/;

describe("symbol lists", () => {
  test("READONLY_SYMBOLS contains no writing call", () => {
    expect(READONLY_SYMBOLS.length).toBeGreaterThan(20);
    for (const s of READONLY_SYMBOLS) expect(s, s).not.toMatch(WRITE_VERB);
    // The only open is the read-only one.
    expect(READONLY_SYMBOLS.filter((s) => /Open/.test(s))).toEqual(["virConnectOpenReadOnly"]);
    // Prototypes name the same functions as their keys.
    for (const [k, proto] of Object.entries(READONLY_PROTOTYPES))
      expect(proto).toMatch(new RegExp(`[ *]${k}\\(`));
  });

  test("error symbols are only process-local error plumbing", () => {
    for (const s of ERROR_SYMBOLS) expect(s).toMatch(/Error(Func)?$/);
  });

  test("write symbols are kept apart", () => {
    expect(WRITE_SYMBOLS).toEqual(
      expect.arrayContaining(["virConnectOpen", "virNodeDeviceDefineXML", "virNodeDeviceCreateXML"]),
    );
    for (const s of WRITE_SYMBOLS) expect(READONLY_SYMBOLS as readonly string[]).not.toContain(s);
    for (const s of WRITE_SYMBOLS.filter((x) => x !== "virConnectOpen")) expect(s).toMatch(WRITE_VERB);
  });
});

describe.skipIf(!libvirtAvailable())("read-only connections", () => {
  let dir: string;
  let uri: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "hdplan-ro-"));
    uri = standardHost(dir, "roHost");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("loadLibvirt binds no write call", async () => {
    const lv = await loadLibvirt();
    for (const s of WRITE_SYMBOLS) expect(Object.keys(lv.fn)).not.toContain(s);
  });

  test("readLiveHost opens read-only", async () => {
    const before = openCounts();
    await readLiveHost(uri, "roHost", { timeoutMs: 10_000 });
    const after = openCounts();
    expect(after.readOnly).toBe(before.readOnly + 1);
    expect(after.readWrite).toBe(before.readWrite);
  });

  test("a write through a read-only connection is refused by libvirt", async () => {
    const conn = await openReadOnly(uri);
    try {
      expect(conn.readOnly).toBe(true);
      const w = await loadWritable();
      const xml = `<device><parent>pci_${GPU.replace(/[:.]/g, "_")}</parent><capability type='mdev'><type id='nvidia-558'/><uuid>11111111-2222-4333-8444-555555555555</uuid></capability></device>`;
      const dev = await w.callAsync("virNodeDeviceCreateXML", conn.pointer, xml, 0);
      expect(dev).toBeFalsy();
      const err = conn.takeError("virNodeDeviceCreateXML");
      expect(err.code).toBe(VIR_ERR.OPERATION_DENIED);
      expect(err.message).toMatch(/read only/);
    } finally {
      await conn.close();
    }
  });
});
