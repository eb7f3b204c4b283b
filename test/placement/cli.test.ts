/** evacuate's --solver / --solver-time options and the solver fields of its output. */
import { describe, expect, it } from "vitest";
import { SAMPLE_FLEET_ARGS, hdplan } from "../helpers/cli.js";

const EV = ["evacuate", ...SAMPLE_FLEET_ARGS];

describe("evacuate --solver", () => {
  it("JSON says which engine placed the VMs; highs proves optimality, greedy does not; same placements here", () => {
    const exact = hdplan([...EV, "--format", "json"]);
    const greedy = hdplan([...EV, "--format", "json", "--solver", "greedy"]);
    const e = JSON.parse(exact.stdout);
    const g = JSON.parse(greedy.stdout);
    expect(e).toMatchObject({ solver: "highs", optimal: true, gap: 0, fallback: null });
    expect(g).toMatchObject({ solver: "greedy", optimal: false, gap: null, fallback: null });
    expect(exact.code).toBe(greedy.code);
    const placed = (j: { placements: { host: string | null }[] }) =>
      j.placements.filter((p) => p.host).length;
    expect(placed(e)).toBeGreaterThanOrEqual(placed(g));
    expect(e.unplaced).toBe(e.placements.length - placed(e));
  });

  it("the table ends with the placement line", () => {
    const r = hdplan([...EV]);
    expect(r.stdout).toContain("Placement: optimal (HiGHS proved no plan places more VMs).");
    const g = hdplan([...EV, "--solver", "greedy"]);
    expect(g.stdout).toContain("Placement: greedy (--solver greedy; not proven optimal).");
  });

  it("HDPLAN_SOLVER_STATS prints the model size on stderr, never in the JSON", () => {
    const r = hdplan([...EV, "--format", "json"], { env: { HDPLAN_SOLVER_STATS: "1" } });
    expect(r.stderr).toMatch(
      /^hdplan: placement: highs optimal, \d+ VM\/host options, \d+ columns, \d+ rows/m,
    );
    expect(r.stdout).toBe(hdplan([...EV, "--format", "json"]).stdout);
  });

  it("bad --solver / --solver-time: one line, exit 2", () => {
    for (const bad of [
      ["--solver", "cplex"],
      ["--solver-time", "0"],
      ["--solver-time", "x"],
    ]) {
      const r = hdplan([...EV, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toContain(bad[0]!.slice(2));
    }
  });
});
