#!/usr/bin/env node
/** hdplan entry point: thin commander wiring; commands live in src/commands. */
import { spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError, Option } from "commander";
import { commitPacks } from "../cache/packs.js";
import { type Io, readStdin } from "../commands/common.js";
import { EXIT, HostError, InputError, errorMessage } from "../errors.js";
import { LIVE_DEFAULTS } from "../targets/live-defaults.js";
import { onThreadedRun } from "../parallel/threaded.js";
import { tuneV8, tuneV8ForThreads } from "./v8-flags.js";

const collect = (v: string, prev: string[] = []) => [...prev, v];

function makeIo(): Io {
  const isTTY = !!process.stderr.isTTY;
  return {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stdin: readStdin,
    isTTY,
    color: !!process.stdout.isTTY && !process.env.NO_COLOR,
  };
}

let debug = false;

export function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function finish(code: number): Promise<never> {
  // Flush stdout before exiting: a stuck libvirt call on a worker thread must
  // not keep the process alive past its answer.
  await new Promise<void>((r) => process.stdout.write("", () => r()));
  await new Promise<void>((r) => process.stderr.write("", () => r()));
  // Cache entries written since the last commit (the --source's, headroom's):
  // into the packs' index (src/cache/packs.ts). A no-op when there are none.
  commitPacks();
  // process.exit() would join libuv's thread pool and hang on a thread stuck in
  // libvirt (src/libvirt/ffi.ts EXIT_IF_STUCK); this hook exits at once then.
  const exitIfStuck = (globalThis as Record<symbol, unknown>)[Symbol.for("hdplan.libvirt.exitIfStuck")];
  if (typeof exitIfStuck === "function") exitIfStuck(code);
  process.exit(code);
}

function fail(e: unknown): Promise<never> {
  if (e instanceof CommanderError) return finish(e.exitCode === 0 ? 0 : EXIT.INPUT);
  const code = e instanceof InputError || e instanceof HostError ? e.exitCode : EXIT.INPUT;
  const prefix = e instanceof HostError && e.host && !e.message.includes(e.host) ? `${e.host}: ` : "";
  process.stderr.write(`hdplan: error: ${prefix}${errorMessage(e)}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  return finish(e instanceof InputError || e instanceof HostError ? code : EXIT.INPUT);
}

function planOptions(cmd: Command, o: { evacuate?: boolean } = {}): Command {
  if (o.evacuate)
    cmd.option(
      "--domain <NAME>",
      "only this domain of --source (name, UUID or dump file name; repeatable)",
      collect,
    );
  else
    cmd.option("--domain <FILE|-|NAME>", "domain XML file, - for stdin, or a name/UUID defined on --source");
  return cmd
    .option("--source <TARGET>", "the host the VM runs on now")
    .option("--host <TARGET>", "candidate host (repeatable; KEY=TARGET names it)", collect)
    .option("--hosts-file <FILE>", "one target per line, # comments")
    .option("--descriptors <DIR>", "operator descriptor files (*.conf, DIR/<host key>/*.conf)")
    .option("--assume-versions", "treat hosts with unknown versions as new enough")
    .addOption(new Option("--format <FORMAT>", "table, json or html").default("table"))
    .option("--explain", "show per host and device the chosen target or every reason")
    .option("--write-dest-xml <DIR>", "write destination XML for fully compatible hosts")
    .option("--concurrency <N>", "hosts queried at once (live targets)", String(LIVE_DEFAULTS.hosts))
    .option("--timeout <SECONDS>", "per-host limit for live queries", "30")
    .option(
      "--quiet",
      "print only the answer (plan: the best host; check: the verdict); no progress or notes",
    )
    .option(
      "--no-cache",
      "read every dump directory and snapshot afresh and evaluate every host (no inventory or report cache: docs/cache.md)",
    );
}

export function buildProgram(io: Io): Command {
  const program = new Command();
  program
    .name("hdplan")
    .description("Plan live migration of libvirt VMs with assigned devices")
    .version(packageVersion(), "-V, --version", "print the hdplan version")
    .option("--debug", "print stack traces on errors")
    .exitOverride()
    .configureOutput({
      writeErr: (s) => io.stderr(s),
      writeOut: (s) => io.stdout(s),
      // one prefix for every error, commander's own included ("hdplan: error: unknown option ...")
      outputError: (s, write) => write(`hdplan: ${s}`),
    })
    .showSuggestionAfterError(true);
  program.hook("preAction", (cmd) => {
    debug = !!cmd.opts().debug;
  });

  planOptions(program.command("plan").description("rank candidate hosts for one domain"))
    .option(
      "--ask-qemu",
      "also ask the running VM's QEMU on --source for its migration blockers (QMP query-migrate; live --source, needs --connect-rw; libvirt taints the domain custom-monitor)",
    )
    .option("--connect-rw", "allow the read-write libvirt connection --ask-qemu needs")
    .action(async (o) => {
      const { runPlan } = await import("../commands/plan.js");
      await finish(await runPlan(o, io, "plan"));
    });
  planOptions(program.command("check").description("can exactly one --host take every device?")).action(
    async (o) => {
      const { runPlan } = await import("../commands/plan.js");
      await finish(await runPlan(o, io, "check"));
    },
  );
  planOptions(
    program
      .command("evacuate")
      .description("place every domain of --source on the other hosts at once")
      .option("--include-inactive", "also place defined domains that are not running")
      .option("--solver <ENGINE>", "highs (exact, default) or greedy (docs/placement.md)")
      .option("--solver-time <SECONDS>", "time limit of the highs solver (default 5)"),
    { evacuate: true },
  ).action(async (o) => {
    const { runEvacuate } = await import("../commands/evacuate.js");
    await finish(await runEvacuate(o, io));
  });
  program
    .command("headroom")
    .description("which domains would be stranded if a host (or --fail N hosts) went down")
    .option("--host <TARGET>", "fleet host (repeatable; KEY=TARGET names it)", collect)
    .option("--hosts-file <FILE>", "one target per line, # comments")
    .option("--descriptors <DIR>", "operator descriptor files (*.conf, DIR/<host key>/*.conf)")
    .option("--assume-versions", "treat hosts with unknown versions as new enough")
    .option("--include-inactive", "also place defined domains that are not running")
    .option("--fail <N>", "hosts down at once: every combination of N hosts", "1")
    .addOption(new Option("--format <FORMAT>", "table, json or html").default("table"))
    .option("--explain", "list every placement and reason")
    .option("--concurrency <N>", "hosts queried at once (live targets)", "8")
    .option("--timeout <SECONDS>", "per-host limit for live queries", "30")
    .option("--no-cache", "read every dump directory and snapshot afresh (docs/cache.md)")
    .action(async (o) => {
      const { runHeadroom } = await import("../commands/headroom.js");
      await finish(await runHeadroom(o, io));
    });
  program
    .command("inventory")
    .description("write a host snapshot (JSON) from a live libvirt URI")
    .requiredOption("--connect <URI>", "libvirt URI")
    .option("--sysfs-root <DIR>", "read vendor mdev attributes from this sysfs root")
    .option("-o, --output <FILE>", "write to FILE instead of stdout")
    .option("--timeout <SECONDS>", "limit for the live query", "60")
    .action(async (o) => {
      const { runInventory } = await import("../commands/inventory.js");
      const t = Number(o.timeout);
      if (!Number.isFinite(t) || t <= 0)
        throw new InputError(`--timeout must be a positive number (got ${o.timeout})`);
      const r = await runInventory({
        connect: o.connect,
        out: o.output,
        sysfsRoot: o.sysfsRoot,
        timeoutMs: t * 1000,
      });
      if (r.stdout) io.stdout(r.stdout);
      if (r.stderr) io.stderr(r.stderr);
      await finish(r.exitCode);
    });
  program
    .command("compat")
    .description("is a source descriptor accepted by a destination descriptor?")
    .argument("<SOURCE.conf>")
    .argument("<DESTINATION.conf>")
    .addOption(new Option("--format <FORMAT>", "table or json").default("table"))
    .option("--base <FILE>", "apply overlay files to this device descriptor, as plan does (both sides)")
    .option("--source-base <FILE>", "base descriptor of the source side (default: --base)")
    .option("--destination-base <FILE>", "base descriptor of the destination side (default: --base)")
    .action(async (src, dst, o) => {
      const { runCompat } = await import("../commands/compat.js");
      if (o.format !== "table" && o.format !== "json")
        throw new InputError(`--format must be table or json (got ${o.format})`);
      const r = runCompat(src, dst, {
        format: o.format,
        base: o.base,
        sourceBase: o.sourceBase,
        destinationBase: o.destinationBase,
      });
      if (r.stdout) io.stdout(r.stdout);
      if (r.stderr) io.stderr(r.stderr);
      await finish(r.exitCode);
    });
  program
    .command("hook")
    .description("libvirt qemu hook entry point (migrate begin on the destination)")
    .argument("<guest>")
    .argument("<operation>")
    .argument("[subop]")
    .argument("[extra]")
    .allowExcessArguments(true)
    .action(async (guest, op, subop, extra) => {
      const { runHook } = await import("../commands/hook.js");
      await finish(await runHook([guest, op, subop ?? "-", extra ?? "-"], io));
    });
  program
    .command("prepare")
    .description("create the mdevs a plan needs on a destination (writes to libvirt)")
    .requiredOption("--host <URI>", "destination libvirt URI")
    .requiredOption("--plan <FILE>", "JSON output of hdplan plan")
    .option("--connect-rw", "allow writing to libvirt (required)")
    .action(async (o) => {
      const { runPrepare } = await import("../commands/prepare.js");
      await finish(await runPrepare(o, io));
    });
  program
    .command("completion")
    .description("print a shell completion script: hdplan completion bash > /etc/bash_completion.d/hdplan")
    .argument("<SHELL>", "bash, zsh or fish")
    .action(async (shell: string) => {
      const { SHELLS, completionScript } = await import("./docgen.js");
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new InputError(`completion: unknown shell ${shell} (bash, zsh or fish)`);
      io.stdout(completionScript(program, shell as (typeof SHELLS)[number]));
      await finish(EXIT.OK);
    });
  return program;
}

/**
 * koffi's async libvirt calls run on libuv's thread pool (4 threads by
 * default), shared with fs. A host stuck in a native call holds a thread until
 * it answers, so with live targets we re-exec once with a larger pool: the
 * size must be set before Node starts. The hook never gets here (no URIs).
 */
function reexecWithLargerPool(): void {
  if (process.env.UV_THREADPOOL_SIZE || process.env.HDPLAN_NO_REEXEC) return;
  const args = process.argv.slice(2);
  const cmd = args[0];
  if (cmd === "hook" || cmd === "compat" || cmd === "completion") return;
  const hf = args.indexOf("--hosts-file");
  let hostsFile = "";
  try {
    if (hf >= 0 && args[hf + 1]) hostsFile = readFileSync(args[hf + 1]!, "utf8");
  } catch {
    // reported later by the command itself
  }
  const live =
    cmd === "inventory" ||
    cmd === "prepare" ||
    hostsFile.includes("://") ||
    args.some((a) => a.includes("://"));
  if (!live) return;
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: String(LIVE_DEFAULTS.threadPool) },
  });
  process.exit(r.status ?? (r.signal ? 128 + 2 : EXIT.INPUT));
}

async function main(): Promise<void> {
  reexecWithLargerPool();
  const io = makeIo();
  const program = buildProgram(io);
  try {
    await program.parseAsync(process.argv);
    if (process.argv.length <= 2) {
      program.outputHelp();
      await finish(EXIT.INPUT);
    }
  } catch (e) {
    await fail(e);
  }
}

/** Run only as the program (not when scripts/man-page.mjs imports buildProgram). */
function invokedAsProgram(): boolean {
  try {
    return realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (invokedAsProgram()) {
  tuneV8();
  onThreadedRun(tuneV8ForThreads);
  process.on("unhandledRejection", (e) => void fail(e));
  void main();
}
