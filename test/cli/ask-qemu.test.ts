/**
 * plan --ask-qemu refusals (exit 2, one line, before any host is read) and the
 * libvirt-qemu.so.0 binding against libvirt's test driver, which has no QEMU
 * monitor (exit 3 with libvirt's words). The real QEMU: test/libvirt/ask-qemu.test.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hdplan } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";
import { VM_RUNNING, libvirtAvailable, standardHost } from "../helpers/testdriver.js";

const dir = tempDir("hdplan-askqemu-");
const dump = join(dir, "src");
mkdirSync(join(dump, "domains"), { recursive: true });
const vmXml = join(dir, "vm.xml");
writeFileSync(
  vmXml,
  "<domain type='kvm'><name>vm1</name><memory>65536</memory><os><type>hvm</type></os><devices/></domain>",
);

function refused(args: string[], re: RegExp) {
  const r = hdplan(["plan", "--domain", vmXml, "--host", `dst=${dump}`, ...args]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^hdplan: error: /);
  expect(lines[0]).toMatch(re);
}

describe("plan --ask-qemu preconditions (exit 2)", () => {
  it("without --connect-rw", () =>
    refused(
      ["--source", "qemu+ssh://src/system", "--ask-qemu"],
      /--ask-qemu needs --connect-rw: .*custom-monitor/,
    ));
  it("with a dump directory as --source", () =>
    refused(
      ["--source", dump, "--ask-qemu", "--connect-rw"],
      /--ask-qemu needs a live libvirt --source URI .*a file/,
    ));
  it("without --source", () =>
    refused(["--ask-qemu", "--connect-rw"], /--ask-qemu needs a live libvirt --source URI .*no --source/));
  it("--connect-rw alone is refused too (plan reads read-only)", () =>
    refused(["--source", dump, "--connect-rw"], /--connect-rw is only used by plan --ask-qemu/));
  it("check and evacuate do not take it", () => {
    for (const cmd of ["check", "evacuate"]) {
      const r = hdplan([cmd, "--source", dump, "--host", dump, "--ask-qemu"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/unknown option '--ask-qemu'/);
    }
  });
});

describe.skipIf(!libvirtAvailable())("plan --ask-qemu on libvirt's test driver", () => {
  it("binds virDomainQemuMonitorCommand and reports the driver's refusal: exit 3, one line", () => {
    const uri = standardHost(dir);
    const r = hdplan([
      "plan",
      "--domain",
      VM_RUNNING.name,
      "--source",
      uri,
      "--host",
      `dst=${uri}`,
      "--ask-qemu",
      "--connect-rw",
    ]);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /^hdplan: error: test:\/\/.*virDomainQemuMonitorCommand failed: .*not supported.*virDomainQemuMonitorCommand\n$/,
    );
  });
});
