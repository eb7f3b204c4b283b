/**
 * Worker thread: reads dump directories and snapshots and evaluates each host
 * where it is read. Job "plan": only each host's small report goes back. Job
 * "evac": the worker keeps its hosts' candidates and answers the placement
 * calls of the main thread (an EvacShard). Never loads libvirt: live targets
 * stay on the main thread.
 */
import { parentPort } from "node:worker_threads";
import { takeWritten } from "../cache/packs.js";
import { HostError, InputError, errorMessage } from "../errors.js";
import type { EvacShard } from "../matching/evacuate.js";
import type { DescriptorUsage } from "../pipeline.js";
import { readTarget } from "../targets/index.js";
import type { TargetSpec } from "../targets/keys.js";
import { type PlanSetup, type PlanSetupInput, setupPlanner } from "./setup.js";
import { type EvacSetup, type EvacSetupInput, setupEvacuation } from "./setup-evac.js";

export type ToWorker =
  | { type: "init"; job: "plan"; input: PlanSetupInput; timeoutMs: number }
  | { type: "init"; job: "evac"; input: EvacSetupInput; timeoutMs: number }
  | { type: "host"; index: number; spec: TargetSpec }
  | { type: "done" }
  | { type: "call"; id: number; method: keyof EvacShard; args: unknown[] };

export type FromWorker =
  | { type: "result"; index: number; value: unknown }
  | { type: "host-error"; index: number; code: HostError["code"]; message: string }
  | { type: "input-error"; message: string; file?: string; index?: number }
  | { type: "done-ack"; usage: DescriptorUsage[]; cache: ReturnType<typeof takeWritten> }
  | { type: "ret"; id: number; value: unknown }
  | { type: "call-error"; id: number; message: string };

let plan: PlanSetup | null = null;
let evac: EvacSetup | null = null;
let timeoutMs = 30000;
let cache = false;
const port = parentPort!;

function consume(raw: Parameters<PlanSetup["consume"]>[0]): unknown {
  if (plan) return plan.consume(raw);
  return evac!.consume(raw);
}

port.on("message", async (m: ToWorker) => {
  try {
    if (m.type === "init") {
      timeoutMs = m.timeoutMs;
      cache = !!m.input.cache;
      if (m.job === "plan") plan = setupPlanner(m.input);
      else evac = setupEvacuation(m.input);
    } else if (m.type === "host") {
      try {
        const raw = await readTarget(m.spec, { timeoutMs, cache });
        port.postMessage({ type: "result", index: m.index, value: consume(raw) } satisfies FromWorker);
      } catch (e) {
        if (e instanceof HostError) {
          port.postMessage({
            type: "host-error",
            index: m.index,
            code: e.code,
            message: e.message,
          } satisfies FromWorker);
        } else if (e instanceof InputError) {
          port.postMessage({
            type: "input-error",
            index: m.index,
            message: e.message,
            ...(e.file ? { file: e.file } : {}),
          } satisfies FromWorker);
        } else throw e;
      }
    } else if (m.type === "done") {
      // The cache entries it wrote go to the main thread, which puts them in the index.
      port.postMessage({
        type: "done-ack",
        usage: plan?.planner.usage() ?? [],
        cache: takeWritten(),
      } satisfies FromWorker);
    } else if (m.type === "call") {
      try {
        const shard = evac!.evac as unknown as Record<string, (...a: unknown[]) => unknown>;
        const value = shard[m.method]!.apply(evac!.evac, m.args);
        port.postMessage({ type: "ret", id: m.id, value } satisfies FromWorker);
      } catch (e) {
        port.postMessage({ type: "call-error", id: m.id, message: errorMessage(e) } satisfies FromWorker);
      }
    }
  } catch (e) {
    const msg: FromWorker =
      e instanceof InputError
        ? { type: "input-error", message: e.message, ...(e.file ? { file: e.file } : {}) }
        : { type: "input-error", message: `internal error: ${errorMessage(e)}` };
    port.postMessage(msg);
  }
});
