import type { HostReport, PlanResult } from "../pipeline.js";
import { mdevCreationSteps } from "./mdevplan.js";

/** Public JSON shape of cli.md (internal ranking fields removed). */
export function publicHost(h: HostReport): Omit<HostReport, "capacityLeft" | "freePciLeft" | "hostUuid"> {
  const { capacityLeft: _c, freePciLeft: _f, hostUuid: _u, ...rest } = h;
  return rest;
}

export function planToJson(r: PlanResult): string {
  const hosts = r.hosts.map((h) =>
    h.status === "full" || h.status === "partial"
      ? { ...publicHost(h), mdevCreate: mdevCreationSteps(h) }
      : publicHost(h),
  );
  const devices = r.devices.map(({ sourceDescriptor: _s, ...d }) => d);
  return `${JSON.stringify({ ...r, devices, hosts }, null, 2)}\n`;
}
