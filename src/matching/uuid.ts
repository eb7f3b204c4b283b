import { createHash } from "node:crypto";

/** RFC 4122 UUIDv5 (SHA-1) of `name` in namespace `ns` (a UUID string). */
export function uuidv5(ns: string, name: string): string {
  const nsHex = ns.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(nsHex)) throw new Error(`invalid namespace UUID ${ns}`);
  const h = createHash("sha1").update(Buffer.from(nsHex, "hex")).update(Buffer.from(name, "utf8")).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Namespace used when the domain UUID is not a valid UUID. */
export const HDPLAN_NS = "6f1c7a52-3b7e-5a4e-9c55-2d1f0b8e4a10";
