/**
 * The program's V8 settings (src/cli/v8-flags.ts) name flags this Node's V8
 * has, with values of their type: setFlagsFromString does not apply an
 * unknown flag (V8 writes "Error: unrecognized flag" on stderr and the run
 * goes on with the default), so a Node that renamed one would print that
 * on every run and lose the setting.
 * And the threaded-run hook (src/parallel/threaded.ts) runs what the program
 * registered, each time, and nothing once cleared.
 */
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { enteringThreadedRun, onThreadedRun } from "../../src/parallel/threaded.js";
import { THREADED_V8_FLAGS, V8_FLAGS } from "../../src/cli/v8-flags.js";

/** V8's own list: flag name -> its type ("int", "bool", ...) and default. */
function v8Options(): Map<string, { type: string; dflt: string }> {
  const r = spawnSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const flags = new Map<string, { type: string; dflt: string }>();
  let name: string | undefined;
  for (const line of r.stdout.split("\n")) {
    const flag = /^\s+--([a-z0-9-]+) \(/.exec(line);
    if (flag) name = flag[1];
    const type = /^\s+type: (\w+)\s+default: --(?:no-)?[a-z0-9-]+(?:=(\S*))?/.exec(line);
    if (type && name) {
      flags.set(name, { type: type[1]!, dflt: type[2] ?? "" });
      name = undefined;
    }
  }
  return flags;
}

const known = v8Options();

/** The value a list of ours sets for V8 flag `name` (NaN when it sets none), and V8's default. */
function budget(flags: readonly string[], name: string): { set: number; dflt: number } {
  const f = flags.find((x) => x.startsWith(`--${name}=`));
  return { set: Number(f?.slice(name.length + 3)), dflt: Number(known.get(name)?.dflt) };
}

describe("V8 settings", () => {
  it.each([...V8_FLAGS, ...THREADED_V8_FLAGS])("%s is an int flag of this V8", (f) => {
    const m = /^--([a-z0-9-]+)=(\d+)$/.exec(f);
    expect(m, `${f} is --name=integer`).not.toBeNull();
    expect(known.get(m![1]!)?.type).toBe("int");
  });

  it("the threaded run raises the interrupt budget above V8's default", () => {
    const { set, dflt } = budget(THREADED_V8_FLAGS, "interrupt-budget");
    expect(dflt).toBeGreaterThan(0);
    // Measured as 8x this Node's default; a Node whose default is higher needs measuring again.
    expect(set).toBeGreaterThan(dflt);
  });
});

describe("the WebAssembly tiering budget", () => {
  it("is 10x V8's default, for every run", () => {
    const { set, dflt } = budget(V8_FLAGS, "wasm-tiering-budget");
    expect(dflt).toBeGreaterThan(0);
    // Measured as 10x this Node's default (src/cli/v8-flags.ts); NaN when V8_FLAGS does not set it.
    expect(set).toBe(dflt * 10);
  });
});

describe("threaded-run hook", () => {
  afterEach(() => onThreadedRun(undefined));

  it("runs the registered hook each time a threaded run starts", () => {
    let n = 0;
    onThreadedRun(() => n++);
    enteringThreadedRun();
    enteringThreadedRun();
    expect(n).toBe(2);
  });

  it("runs nothing when none is registered or it was cleared", () => {
    let n = 0;
    onThreadedRun(() => n++);
    onThreadedRun(undefined);
    enteringThreadedRun();
    expect(n).toBe(0);
  });
});
