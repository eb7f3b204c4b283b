import type { HostReport, PlanResult } from "../pipeline.js";

/** Public JSON shape of cli.md (internal ranking fields removed). */
export function publicHost(h: HostReport): Omit<HostReport, "capacityLeft" | "freePciLeft"> {
  const { capacityLeft: _c, freePciLeft: _f, ...rest } = h;
  return rest;
}

export function planToJson(r: PlanResult): string {
  return `${JSON.stringify({ ...r, hosts: r.hosts.map(publicHost) }, null, 2)}\n`;
}
