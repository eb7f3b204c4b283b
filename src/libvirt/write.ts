/**
 * The write-enabled path of `hdplan prepare`: define and start mdev node
 * devices through libvirt (virNodeDeviceDefineXML + virNodeDeviceCreate).
 * Uses the connection and the WRITE_SYMBOLS bound by src/libvirt/ffi.ts
 * loadWritable(); nothing else in hdplan writes to libvirt.
 */
import { type Connection, openReadWrite } from "./client.js";
import { type Ptr, loadLibvirt, loadWritable } from "./ffi.js";

/** The libvirt calls `prepare` makes that change a host (a subset of ffi.ts WRITE_SYMBOLS). */
export const PREPARE_WRITE_SYMBOLS = [
  "virConnectOpen",
  "virNodeDeviceDefineXML",
  "virNodeDeviceCreate",
] as const;

const isNull = (p: unknown) => p === null || p === 0 || p === 0n;

export async function openForPrepare(uri: string): Promise<Connection> {
  return openReadWrite(uri);
}

/** Define the node device from `xml` and start it; returns the node device name. */
export async function defineAndStartMdev(conn: Connection, xml: string): Promise<string> {
  const lv = await loadLibvirt();
  const w = await loadWritable();
  const dev = await w.callAsync("virNodeDeviceDefineXML", conn.pointer, xml, 0);
  if (isNull(dev)) throw conn.takeError("virNodeDeviceDefineXML");
  try {
    const name = (lv.fn.virNodeDeviceGetName(dev as Ptr) as string | null) ?? "";
    const r = await w.callAsync("virNodeDeviceCreate", dev, 0);
    if (typeof r === "number" && r < 0) throw conn.takeError("virNodeDeviceCreate");
    return name;
  } finally {
    lv.fn.virNodeDeviceFree(dev as Ptr);
  }
}
