/** The source is never a destination (compat.md §7): plan, check and evacuate. */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, hdplan } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { libvirtAvailable, standardHost } from "../helpers/testdriver.js";

const SRC = "xml-samples/hosts/src-host";
const VM = "xml-samples/domains/vm-vf.xml";

function hostsFileWithSource(): string {
  const dir = tempDir("hdplan-src-");
  const f = join(dir, "hosts.txt");
  writeFileSync(f, `${SRC}\nxml-samples/hosts/host-a\nxml-samples/hosts/host-e\n`);
  return f;
}

describe("the source host among the candidates", () => {
  it("plan: another snapshot of the source (another key and path, the same libvirt host UUID) is 'source'", () => {
    const dir = tempDir("hdplan-srcuuid-");
    const conv = spawnSync(
      process.execPath,
      ["scripts/dump-to-snapshot.mjs", "--out", dir, SRC, "xml-samples/hosts/host-a"],
      { cwd: ROOT, encoding: "utf8" },
    );
    expect(conv.status, conv.stderr).toBe(0);
    const uuid = "5a1b2c3d-0000-4000-8000-00000000abcd";
    const withUuid = (from: string, to: string, u: string) => {
      const j = JSON.parse(readFileSync(join(dir, from), "utf8"));
      writeFileSync(join(dir, to), JSON.stringify({ ...j, hostUuid: u }));
      return join(dir, to);
    };
    const src = withUuid("src-host.json", "src-host.json", uuid);
    const again = withUuid("src-host.json", "yesterday.json", uuid.toUpperCase());
    const other = withUuid("host-a.json", "host-a.json", "5a1b2c3d-0000-4000-8000-00000000ffff");
    const r = hdplan([
      "plan",
      "--domain",
      VM,
      "--source",
      src,
      "--host",
      again,
      "--host",
      other,
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const by = Object.fromEntries(j.hosts.map((h: { host: string }) => [h.host, h]));
    expect(by.yesterday.status).toBe("source");
    expect(JSON.stringify(by.yesterday.warnings)).toContain(`the same libvirt host UUID ${uuid}`);
    expect(by["host-a"].status).toBe("full");
    expect(j.best).toBe("host-a");
  });

  it("plan: a cluster-wide hosts file with the source lists it as 'source', unranked, never best", () => {
    const r = hdplan([
      "plan",
      "--domain",
      VM,
      "--source",
      SRC,
      "--hosts-file",
      hostsFileWithSource(),
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const src = j.hosts.find((h: { host: string }) => h.host === "src-host");
    expect(src.status).toBe("source");
    expect(src.rank).toBeNull();
    expect(src.warnings.map((w: { code: string }) => w.code)).toEqual(["source-host"]);
    expect(j.best).toBe("host-a");
    expect(j.hosts.at(-1).host).toBe("src-host");
  });

  it("plan: the same path spelled differently, or another target named with the source's key", () => {
    const a = hdplan([
      "plan",
      "--domain",
      VM,
      "--source",
      SRC,
      "--host",
      `./${SRC}/`,
      "--host",
      "xml-samples/hosts/host-a",
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/-\s+src-host\s+source\s+-\s+the --source host itself/);
    expect(a.stdout).toContain("Best: host-a");
    const b = hdplan([
      "plan",
      "--domain",
      VM,
      "--source",
      SRC,
      "--host",
      "src-host=xml-samples/hosts/host-b",
      "--format",
      "json",
    ]);
    expect(b.code, b.stderr).toBe(1);
    const j = JSON.parse(b.stdout);
    expect(j.hosts[0].status).toBe("source");
    expect(j.best).toBeNull();
  });

  it("check: the source as the one host answers 'no' (exit 1), not an input error", () => {
    const r = hdplan(["check", "--domain", VM, "--source", SRC, "--host", SRC, "--format", "json"]);
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout).hosts[0].status).toBe("source");
  });

  it("evacuate: the source in the hosts file is skipped, never a placement", () => {
    const r = hdplan([
      "evacuate",
      "--source",
      SRC,
      "--hosts-file",
      hostsFileWithSource(),
      "--format",
      "json",
    ]);
    expect([0, 1]).toContain(r.code);
    const j = JSON.parse(r.stdout);
    expect(j.sourceHosts).toEqual(["src-host"]);
    for (const p of j.placements) expect(p.host).not.toBe("src-host");
    expect(j.placements.some((p: { host: string | null }) => p.host !== null)).toBe(true);
  });
});

describe.skipIf(!libvirtAvailable())("the source host on libvirt's test driver", () => {
  it("the same test:/// URI as --source is status 'source'", () => {
    const dir = tempDir("hdplan-src-td-");
    const uri = standardHost(dir, "hostA");
    const other = standardHost(dir, "hostB");
    const r = hdplan([
      "plan",
      "--domain",
      "vm-vgpu",
      "--source",
      uri,
      "--host",
      uri,
      "--host",
      other,
      "--format",
      "json",
    ]);
    expect(r.code, r.stderr).not.toBe(2);
    const j = JSON.parse(r.stdout);
    const by = Object.fromEntries(j.hosts.map((h: { host: string; status: string }) => [h.host, h.status]));
    expect(by.hostA).toBe("source");
    expect(by.hostB).not.toBe("source");
  });
});
