/**
 * JSON output is byte-identical to the golden digests written from the code
 * before the performance work (test/golden/json-sha256.json, commit 297b42c),
 * with the inventory cache off, cold and warm, with 0 and 2 workers. A fast
 * subset of scripts/json-identity.mjs (which runs every case in 6 modes).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, ROOT } from "./helpers/cli.js";

const GOLDEN = JSON.parse(readFileSync(join(ROOT, "test", "golden", "json-sha256.json"), "utf8"));

describe("JSON identity with the golden digests", () => {
  it("plan on the all.xml bench fleet and evacuate of the samples: off/0 workers, cold/2, warm/0", async () => {
    const { measure, compare } = await import(join(ROOT, "scripts", "json-identity.mjs"));
    const m = await measure({
      cli: BIN,
      hosts: GOLDEN.hosts,
      quick: "test",
      only: "fleet-all/plan,samples/evacuate/src-host",
    });
    expect(Object.keys(m.results)).toHaveLength(2);
    for (const modes of Object.values(m.results)) expect(Object.keys(modes as object)).toHaveLength(3);
    expect(compare(GOLDEN, m)).toEqual([]);
  }, 180000);

  it("a changed output is reported", async () => {
    const { compare } = await import(join(ROOT, "scripts", "json-identity.mjs"));
    const name = "samples/plan/vm-mixed.xml";
    const m = {
      fleetDigests: GOLDEN.fleetDigests,
      results: { [name]: { "off/w0": { code: GOLDEN.cases[name].exit, sha: "0".repeat(64) } } },
    };
    expect(compare(GOLDEN, m)).toEqual([expect.stringContaining(`${name} [off/w0]`)]);
  });
});
