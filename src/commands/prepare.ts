/**
 * `hdplan prepare --host URI --plan FILE --connect-rw`: create the mdevs a
 * plan needs on one destination, through libvirt (virNodeDeviceDefineXML +
 * virNodeDeviceCreate). Nothing is written without --connect-rw.
 */
import { EXIT, InputError, errorMessage } from "../errors.js";
import type { AssignmentTarget } from "../candidates/types.js";
import { targetFromJson } from "../output/json.js";
import { type MdevStep, mdevStepFor } from "../output/mdevplan.js";
import { readTextFile } from "../targets/dump.js";
import { uriHostKey } from "../targets/keys.js";
import type { Io } from "./common.js";
import { NOVA_REFUSAL } from "./destxml.js";
import { isLocalUri } from "./inventory.js";
import { type VgpuWriteStep, vgpuWriteSteps, writeVgpuType } from "../vgpuvf/write.js";

interface PlanHost {
  host: string;
  target: string;
  status: string;
  /** As the plan file has them (cli.md's JSON form, src/output/json.ts). */
  assignments: { device: string; target: unknown }[];
}

export interface PreparePlan {
  domain: string;
  host: PlanHost;
  steps: MdevStep[];
  /** SR-IOV vGPU VF type writes (src/vgpuvf/write.ts). */
  vgpuSteps: VgpuWriteStep[];
}

/** Read a plan JSON and pick the host entry (throws InputError). */
export function readPreparePlan(path: string, hostArg: string): PreparePlan {
  let j: unknown;
  try {
    j = JSON.parse(readTextFile(path));
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(
      `${path}: not JSON (write it with 'hdplan plan --format json'): ${errorMessage(e)}`,
      path,
    );
  }
  const o = j as {
    schemaVersion?: unknown;
    domain?: { name?: unknown };
    hosts?: unknown;
    warnings?: unknown;
  };
  if (!o || typeof o !== "object" || o.schemaVersion !== 1 || !Array.isArray(o.hosts)) {
    throw new InputError(
      `${path}: not the JSON output of 'hdplan plan --format json' (schemaVersion 1)`,
      path,
    );
  }
  const name = typeof o.domain?.name === "string" ? o.domain.name : "?";
  // plan records a nova-managed domain as a warning (code nova-managed).
  const warnings = Array.isArray(o.warnings) ? (o.warnings as { code?: unknown }[]) : [];
  if (warnings.some((w) => w?.code === "nova-managed")) {
    throw new InputError(`${name} ${NOVA_REFUSAL} (prepare refused)`, path);
  }
  const hosts = o.hosts as PlanHost[];
  // --host may be the plan's target, its host key, or a URI whose host key is
  // the plan's (a plan from snapshots/host2.json, prepared on qemu+ssh://root@host2/system).
  let uriKey: string | null = null;
  try {
    uriKey = hostArg.includes("://") ? uriHostKey(hostArg) : null;
  } catch {
    uriKey = null;
  }
  const h =
    hosts.find((x) => x && (x.target === hostArg || x.host === hostArg)) ??
    (uriKey ? hosts.find((x) => x && x.host === uriKey) : undefined);
  if (!h) {
    throw new InputError(
      `${path}: no host ${hostArg} in the plan (hosts: ${hosts.map((x) => x?.host).join(", ") || "none"}); pass --host as the plan names it`,
      path,
    );
  }
  if (h.status !== "full") {
    throw new InputError(
      `${path}: host ${h.host} is ${h.status} in the plan, not full: nothing to prepare`,
      path,
    );
  }
  const steps: MdevStep[] = [];
  const assignments: { device: string; target: AssignmentTarget }[] = [];
  for (const a of Array.isArray(h.assignments) ? h.assignments : []) {
    const raw = a?.target as { kind?: unknown; create?: unknown } | undefined;
    const t = targetFromJson(raw);
    if (t) assignments.push({ device: a.device, target: t });
    if (raw?.kind === "mdev" && raw.create) {
      try {
        steps.push(mdevStepFor(a.device, t));
      } catch (e) {
        throw new InputError(`${path}: ${errorMessage(e)}`, path);
      }
    }
  }
  return { domain: name, host: h, steps, vgpuSteps: vgpuWriteSteps(assignments) };
}

export async function runPrepare(
  opts: { host: string; plan: string; connectRw?: boolean },
  io: Io,
): Promise<number> {
  const plan = readPreparePlan(opts.plan, opts.host);
  if (!opts.connectRw) {
    io.stderr(
      `hdplan: error: prepare refuses to write to ${opts.host} without --connect-rw; it would create ${plan.steps.length} mdev(s) for ${plan.domain}:\n`,
    );
    for (const s of plan.steps)
      io.stderr(`  ${s.device}: ${s.mdevType} on ${s.parent} uuid ${s.uuid} (${s.mdevctl})\n`);
    for (const v of plan.vgpuSteps)
      io.stderr(`  ${v.device}: vGPU type ${v.typeId} on VF ${v.vf} (${v.command})\n`);
    io.stderr(
      "Re-run with --connect-rw to create them through libvirt (virNodeDeviceDefineXML + virNodeDeviceCreate).\n",
    );
    return EXIT.INPUT;
  }
  if (!opts.host.includes("://")) {
    throw new InputError(
      `--host ${opts.host}: prepare needs a libvirt URI (qemu+ssh://HOST/system) to create mdevs`,
    );
  }
  let vgpuFailed = 0;
  if (plan.vgpuSteps.length > 0) {
    // sysfs is not reachable through libvirt: write only on this machine
    // (HDPLAN_SYSFS_ROOT for tests), else say what to run on the host.
    const local = isLocalUri(opts.host);
    const root = process.env.HDPLAN_SYSFS_ROOT || "/";
    for (const v of plan.vgpuSteps) {
      if (!local) {
        vgpuFailed++;
        io.stderr(
          `hdplan: error: ${v.device}: ${opts.host} is not this machine; sysfs cannot be written through libvirt: run on ${plan.host.host}: ${v.command}\n`,
        );
        continue;
      }
      const err = writeVgpuType(root, v);
      if (err) {
        vgpuFailed++;
        io.stderr(`hdplan: error: ${v.device}: ${err}\n`);
      } else io.stdout(`${v.device}: VF ${v.vf} has vGPU type ${v.typeId}${v.name ? ` (${v.name})` : ""}\n`);
    }
  }
  if (plan.steps.length === 0) {
    if (plan.vgpuSteps.length === 0) io.stdout(`${plan.host.host}: no mdev to create for ${plan.domain}\n`);
    return vgpuFailed ? EXIT.HOSTS : EXIT.OK;
  }
  const { openForPrepare, defineAndStartMdev } = await import("../libvirt/write.js");
  let conn: Awaited<ReturnType<typeof openForPrepare>>;
  try {
    conn = await openForPrepare(opts.host);
  } catch (e) {
    io.stderr(`hdplan: error: ${opts.host}: cannot open a read-write connection: ${errorMessage(e)}\n`);
    return EXIT.HOSTS;
  }
  let failed = 0;
  try {
    for (const s of plan.steps) {
      try {
        const name = await defineAndStartMdev(conn, s.nodedevXml);
        io.stdout(`${s.device}: created mdev ${s.uuid} (${s.mdevType} on ${s.parent}) as ${name}\n`);
      } catch (e) {
        failed++;
        io.stderr(
          `hdplan: error: ${s.device}: creating mdev ${s.uuid} on ${opts.host} failed: ${errorMessage(e)}\n`,
        );
      }
    }
  } finally {
    await conn.close();
  }
  return failed || vgpuFailed ? EXIT.HOSTS : EXIT.OK;
}
