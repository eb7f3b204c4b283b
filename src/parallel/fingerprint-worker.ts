/**
 * Worker thread of the report cache's look-up (src/cache/reports.ts): takes
 * the fingerprints of its share of the targets and returns their hashes (null:
 * not cacheable). It loads only the cache module, not the planner.
 */
import { parentPort, workerData } from "node:worker_threads";
import { fingerprint, fingerprintHash } from "../cache/inventory.js";

const targets = (workerData as { targets: string[] }).targets;
parentPort!.postMessage(
  targets.map((t) => {
    const fp = fingerprint(t);
    return fp === null ? null : fingerprintHash(fp);
  }),
);
