/**
 * Worker thread: reads dump directories and snapshots, and evaluates each host
 * against the domain. Only small reports cross back to the main thread.
 * Never loads libvirt: live targets stay on the main thread.
 */
import { parentPort } from "node:worker_threads";
import { HostError, InputError, errorMessage } from "../errors.js";
import { readTarget } from "../targets/index.js";
import type { TargetSpec } from "../targets/keys.js";
import { type PlanSetup, type PlanSetupInput, setupPlanner } from "./setup.js";

export type ToWorker =
  | { type: "init"; input: PlanSetupInput; timeoutMs: number }
  | { type: "host"; index: number; spec: TargetSpec }
  | { type: "done" };

export type FromWorker =
  | { type: "result"; index: number; value: import("./setup.js").Evaluated }
  | { type: "host-error"; index: number; code: HostError["code"]; message: string }
  | { type: "input-error"; message: string; file?: string; index?: number }
  | { type: "usage"; usage: import("../pipeline.js").DescriptorUsage[] };

let setup: PlanSetup | null = null;
let timeoutMs = 30000;
const port = parentPort!;

port.on("message", async (m: ToWorker) => {
  try {
    if (m.type === "init") {
      timeoutMs = m.timeoutMs;
      setup = setupPlanner(m.input);
    } else if (m.type === "host") {
      try {
        const raw = await readTarget(m.spec, { timeoutMs });
        port.postMessage({ type: "result", index: m.index, value: setup!.consume(raw) } satisfies FromWorker);
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
      port.postMessage({ type: "usage", usage: setup?.planner.usage() ?? [] } satisfies FromWorker);
    }
  } catch (e) {
    const msg: FromWorker =
      e instanceof InputError
        ? { type: "input-error", message: e.message, ...(e.file ? { file: e.file } : {}) }
        : { type: "input-error", message: `internal error: ${errorMessage(e)}` };
    port.postMessage(msg);
  }
});
