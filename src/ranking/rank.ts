/** Rank order of cli.md: full first, then more compatible, fewer warnings,
 * more capacity left in the pools used, more free PCI functions left, key. */
export interface Rankable {
  host: string;
  status: "full" | "partial" | "none" | "error" | "source";
  compatible: number;
  warnings: unknown[];
  capacityLeft: number;
  freePciLeft: number;
}

export function compareHosts(a: Rankable, b: Rankable): number {
  const src = Number(a.status === "source") - Number(b.status === "source");
  if (src !== 0) return src;
  const err = Number(a.status === "error") - Number(b.status === "error");
  if (err !== 0) return err;
  const full = Number(b.status === "full") - Number(a.status === "full");
  if (full !== 0) return full;
  if (a.compatible !== b.compatible) return b.compatible - a.compatible;
  if (a.warnings.length !== b.warnings.length) return a.warnings.length - b.warnings.length;
  if (a.capacityLeft !== b.capacityLeft) return b.capacityLeft - a.capacityLeft;
  if (a.freePciLeft !== b.freePciLeft) return b.freePciLeft - a.freePciLeft;
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0;
}

export function rankHosts<T extends Rankable & { rank: number | null }>(hosts: T[]): T[] {
  const sorted = [...hosts].sort(compareHosts);
  let r = 0;
  for (const h of sorted) h.rank = h.status === "error" || h.status === "source" ? null : ++r;
  return sorted;
}
