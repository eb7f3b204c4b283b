/** Operator conventions: check's PASS/WARN/FAIL lines, --quiet, the progress bar, one error prefix, completion, man page, package contents. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Io, PROGRESS_DELAY_MS, progress } from "../../src/commands/common.js";
import { BIN, ROOT, hdplan } from "../helpers/cli.js";
import { tempDir } from "../helpers/dump.js";

const S = "xml-samples/hosts";
const CHECK = [
  "check",
  "--domain",
  "vm-mixed",
  "--source",
  `${S}/src-host`,
  "--descriptors",
  "xml-samples/descriptors",
];
const LINE = /^hdplan: Checking (.+) \.\.\. (PASS|WARN \(.+\)|FAIL \(.+\))$/;

describe("check: virt-host-validate style", () => {
  it("one Checking line per device and warning, then a one-word verdict; exit as before", () => {
    const ok = hdplan([...CHECK, "--host", `${S}/host-a`]);
    expect(ok.code).toBe(0);
    const lines = ok.stdout.trim().split("\n");
    expect(lines.at(-1)).toBe("WARN");
    for (const l of lines.slice(0, -1)) expect(l).toMatch(LINE);
    expect(lines[1]).toBe(
      "hdplan: Checking hostdev0 mdev nvidia-558 (c2177883-f1bb-47f0-914d-32a22e3a8804) on host-a ... PASS",
    );
    expect(lines).toContain(
      "hdplan: Checking migration of vm-mixed ... WARN (postcopy-unavailable: VFIO devices rule out post-copy migration: do not pass --postcopy)",
    );
    const no = hdplan([...CHECK, "--host", `${S}/host-d`]);
    expect(no.code).toBe(1);
    const nl = no.stdout.trim().split("\n");
    expect(nl.at(-1)).toBe("FAIL");
    expect(nl[0]).toMatch(/^hdplan: Checking hostdev3 .* on host-d \.\.\. FAIL \(pci-device-in-use: /);
  });

  it("a host that cannot be read: a FAIL line naming the host reason, exit 3", () => {
    const r = hdplan([...CHECK, "--host", "dead=qemu+tcp://127.0.0.1:1/system", "--timeout", "5"]);
    expect(r.code).toBe(3);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(
      /^hdplan: Checking host dead can be read \.\.\. FAIL \((host-unreachable|libvirt-error): /,
    );
    expect(lines.at(-1)).toBe("FAIL");
  });
});

describe("--quiet", () => {
  it("prints only the answer: plan the best host, check the verdict, evacuate domain/host pairs", () => {
    const plan = hdplan([
      "plan",
      ...CHECK.slice(1),
      "--hosts-file",
      "xml-samples/hosts.txt",
      "--quiet",
      "--write-dest-xml",
      join(tempDir(), "o"),
    ]);
    expect([plan.code, plan.stdout, plan.stderr]).toEqual([0, "host-a\n", ""]);
    const check = hdplan([...CHECK, "--host", `${S}/host-d`, "--quiet"]);
    expect([check.code, check.stdout, check.stderr]).toEqual([1, "FAIL\n", ""]);
    const ev = hdplan([
      "evacuate",
      "--source",
      `${S}/src-host`,
      "--hosts-file",
      "xml-samples/hosts.txt",
      "--domain",
      "vm-vf",
      "--quiet",
    ]);
    expect([ev.code, ev.stdout, ev.stderr]).toEqual([0, "vm-vf host-b\n", ""]);
  });
});

describe("progress bar", () => {
  function tty() {
    let err = "";
    const io: Io = {
      stdout: () => {},
      stderr: (s) => {
        err += s;
      },
      stdin: () => "",
      isTTY: true,
      color: false,
    };
    return { io, err: () => err };
  }

  it("stays silent for runs under the delay and draws nothing at the end", () => {
    let t = 0;
    const { io, err } = tty();
    const p = progress(io, 10, false, () => t)!;
    for (let i = 1; i <= 10; i++) {
      t += 10;
      p(i, 10);
    }
    expect(err()).toBe("");
  });

  it("appears after the delay and clears its line when done (nothing left in the scrollback)", () => {
    let t = 0;
    const { io, err } = tty();
    const p = progress(io, 10, false, () => t)!;
    p(1, 10);
    t = PROGRESS_DELAY_MS;
    p(5, 10);
    expect(err()).toContain("5/10 hosts");
    p(10, 10);
    expect(err().endsWith("\r\x1b[2K")).toBe(true);
    expect(err()).not.toContain("\n");
  });

  it("is off with --quiet and off a terminal", () => {
    const { io } = tty();
    expect(progress(io, 10, true)).toBeUndefined();
    expect(progress({ ...io, isTTY: false }, 10)).toBeUndefined();
  });
});

describe("one error prefix", () => {
  it("hdplan: error: for commander's errors and every command's", () => {
    const cases: string[][] = [
      ["plan", "--bogus"],
      ["nosuchcommand"],
      ["inventory"],
      ["inventory", "--connect", "foo://x/"],
      ["compat", "/nonexistent.conf", "/nonexistent.conf"],
      ["prepare", "--host", "h", "--plan", "/nonexistent.json"],
      ["plan", "--domain", "/nonexistent.xml", "--host", "x"],
      ["completion", "tcsh"],
    ];
    for (const c of cases) {
      const r = hdplan(c);
      expect(r.code, c.join(" ")).toBe(2);
      expect(r.stderr.split("\n")[0], c.join(" ")).toMatch(/^hdplan: error: /);
    }
  });
});

describe("hdplan completion", () => {
  it("bash: completes commands, options of a command, and --format values", () => {
    const script = hdplan(["completion", "bash"]).stdout;
    const run = (words: string[]) => {
      const r = spawnSync(
        "bash",
        [
          "-c",
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _hdplan; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8", cwd: tempDir() },
      );
      expect(r.stderr).toBe("");
      return r.stdout.trim().split("\n");
    };
    expect(run(["hdplan", "ev"])).toEqual(["evacuate"]);
    expect(run(["hdplan", "plan", "--write"])).toEqual(["--write-dest-xml"]);
    expect(run(["hdplan", "evacuate", "--include"])).toEqual(["--include-inactive"]);
    expect(run(["hdplan", "plan", "--format", ""]).sort()).toEqual(["json", "table"]);
    expect(run(["hdplan", "completion", ""]).sort()).toEqual(["bash", "fish", "zsh"]);
  });

  it("zsh and fish: every command and option of the program is in the script", () => {
    const help = hdplan(["--help"]).stdout;
    const commands = [...help.matchAll(/^ {2}([a-z]+) /gm)].map((m) => m[1]!).filter((c) => c !== "help");
    expect(commands).toContain("completion");
    for (const sh of ["zsh", "fish"]) {
      const s = hdplan(["completion", sh]).stdout;
      for (const c of commands) expect(s, `${sh} ${c}`).toContain(c);
      for (const o of [
        "--write-dest-xml",
        "--include-inactive",
        "--connect-rw",
        "--sysfs-root",
        "--quiet",
        "--base",
      ])
        expect(s, `${sh} ${o}`).toContain(sh === "fish" ? `-l ${o.slice(2)}` : o);
    }
    expect(hdplan(["completion", "zsh"]).stdout.startsWith("#compdef hdplan\n")).toBe(true);
  });
});

describe("man page", () => {
  it("man/hdplan.1 is what scripts/man-page.mjs generates from the program's options", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts/man-page.mjs"), "--check"], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const page = readFileSync(join(ROOT, "man/hdplan.1"), "utf8");
    for (const o of ["write\\-dest\\-xml", "include\\-inactive", "connect\\-rw", "completion"])
      expect(page).toContain(o);
  });

  it("renders without groff warnings", () => {
    const g = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z", join(ROOT, "man/hdplan.1")], {
      encoding: "utf8",
    });
    // groff is part of man-db; where it is missing the page is still checked above
    if (g.error) return;
    expect(g.stderr).toBe("");
    expect(g.status).toBe(0);
  });
});

describe("package contents (npm pack --dry-run)", () => {
  it("ships dist, samples, man page, hook installer, LICENSE; not tests or bench scripts", () => {
    const r = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    const files = (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path);
    for (const f of [
      "dist/cli/main.js",
      "man/hdplan.1",
      "LICENSE",
      "README.md",
      "docs/reasons.md",
      "scripts/install-hook.sh",
      "xml-samples/hosts.txt",
      "xml-samples/domains/vm-mixed.xml",
      "xml-samples/descriptors/t4-relaxed.conf",
      "contrib/ansible/hdplan-plan.yml",
    ])
      expect(files, f).toContain(f);
    for (const f of files)
      expect(f, f).not.toMatch(/^(test|src)\/|^scripts\/(bench|gen-fleet|leak-check)|regenerate|\.test\./);
    expect(BIN).toContain("dist/cli/main.js");
  });
});
