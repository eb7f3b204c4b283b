import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPreparePlan, runPrepare } from "../../src/commands/prepare.js";
import type { Io } from "../../src/commands/common.js";
import { tempDir } from "../helpers/dump.js";

const UUID = "11111111-2222-4333-8444-555555555555";

function planFile(extra: Record<string, unknown> = {}): string {
  const p = join(tempDir(), "plan.json");
  writeFileSync(
    p,
    JSON.stringify({
      schemaVersion: 1,
      domain: { name: "vm1", uuid: "x" },
      hosts: [
        {
          host: "hostA",
          target: "test:///tmp/hostA.xml",
          status: "full",
          assignments: [
            {
              device: "mdev0",
              target: {
                kind: "mdev",
                name: null,
                parent: "pci_0000_3b_00_0",
                mdevType: "nvidia-558",
                uuid: UUID,
                create: true,
                address: null,
              },
            },
          ],
        },
      ],
      warnings: [],
      ...extra,
    }),
  );
  return p;
}

function io() {
  const out = { stdout: "", stderr: "" };
  const i: Io = {
    stdout: (s) => {
      out.stdout += s;
    },
    stderr: (s) => {
      out.stderr += s;
    },
    stdin: () => "",
    isTTY: false,
    color: false,
  };
  return { i, out };
}

describe("prepare", () => {
  it("reads the plan's steps for the host named by key or target", () => {
    const p = planFile();
    expect(readPreparePlan(p, "hostA").steps[0]!.mdevctl).toBe(
      `mdevctl start -u ${UUID} -p 0000:3b:00.0 -t nvidia-558`,
    );
    expect(readPreparePlan(p, "test:///tmp/hostA.xml").steps).toHaveLength(1);
    expect(() => readPreparePlan(p, "hostB")).toThrow(/no host hostB/);
  });
  it("refuses without --connect-rw (exit 2) and says what it would do", async () => {
    const { i, out } = io();
    expect(await runPrepare({ host: "hostA", plan: planFile() }, i)).toBe(2);
    expect(out.stderr).toMatch(/without --connect-rw/);
    expect(out.stderr).toContain(UUID);
  });
  it("refuses a Nova-managed domain", () => {
    const p = planFile({ warnings: [{ code: "nova-managed", message: "m" }] });
    expect(() => readPreparePlan(p, "hostA")).toThrow(/openstack server migrate --live/);
  });
  it("libvirt's test driver has no virNodeDeviceDefineXML: exit 3 with libvirt's message", async () => {
    const { i, out } = io();
    const p = planFile();
    writeFileSync(p, readFileSync(p, "utf8").replace("test:///tmp/hostA.xml", "test:///default"));
    expect(await runPrepare({ host: "test:///default", plan: p, connectRw: true }, i)).toBe(3);
    expect(out.stderr).toMatch(/mdev0: creating mdev .* failed: .*(not supported|virNodeDeviceDefineXML)/);
  }, 120_000);
});

describe("prepare --host URI for a plan read from files", () => {
  it("matches the plan host whose key is the URI's host part", () => {
    const p = planFile();
    writeFileSync(p, readFileSync(p, "utf8").replace("test:///tmp/hostA.xml", "snapshots/hostA.json"));
    expect(readPreparePlan(p, "qemu+ssh://root@hostA/system").host.host).toBe("hostA");
    expect(() => readPreparePlan(p, "qemu+ssh://root@hostB/system")).toThrow(
      /no host qemu\+ssh:\/\/root@hostB\/system/,
    );
  });
});
