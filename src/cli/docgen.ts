/**
 * Shell completion scripts and the man page, generated from the commander
 * program itself (the same option definitions `hdplan --help` prints), so a
 * new command or option appears in all of them without further edits.
 */
import type { Command, Option } from "commander";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

interface OptInfo {
  long: string;
  short: string | null;
  /** Placeholder of the value (FILE, FORMAT, ...), null for a flag. */
  value: string | null;
  description: string;
  default: string | null;
}

interface CmdInfo {
  name: string;
  description: string;
  args: { name: string; required: boolean }[];
  options: OptInfo[];
}

/** Known values of a value placeholder; others complete as file names. */
const VALUES: Record<string, string[]> = {
  FORMAT: ["table", "json"],
  SHELL: [...SHELLS],
};
/** Placeholders that take no file name. */
const NOT_FILES = new Set(["N", "SECONDS", "URI", "NAME", "KEY"]);

function optInfo(o: Option): OptInfo {
  const value = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? null;
  const d = o.defaultValue;
  return {
    long: o.long ?? "",
    short: o.short ?? null,
    value,
    description: o.description,
    default: d === undefined || typeof d === "object" ? null : String(d),
  };
}

export function describeProgram(program: Command): { global: OptInfo[]; commands: CmdInfo[] } {
  const global = program.options.map(optInfo);
  const commands = program.commands
    .filter((c) => !(c as unknown as { _hidden?: boolean })._hidden)
    .map((c) => ({
      name: c.name(),
      description: c.description(),
      args: c.registeredArguments.map((a) => ({ name: a.name(), required: a.required })),
      options: [
        ...c.options.map(optInfo),
        { long: "--help", short: "-h", value: null, description: "show help", default: null },
      ],
    }));
  return { global, commands };
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(p: ReturnType<typeof describeProgram>): string {
  const valueCases: string[] = [];
  const byValue = new Map<string, Set<string>>();
  for (const c of p.commands)
    for (const o of c.options)
      if (o.value) {
        if (!byValue.has(o.value)) byValue.set(o.value, new Set());
        byValue.get(o.value)!.add(o.long);
      }
  for (const [v, opts] of [...byValue].sort()) {
    const words = VALUES[v];
    const action = words
      ? `COMPREPLY=($(compgen -W ${sq(words.join(" "))} -- "$cur"))`
      : NOT_FILES.has(v)
        ? "COMPREPLY=()"
        : `COMPREPLY=($(compgen -f -- "$cur"))`;
    valueCases.push(`    ${[...opts].sort().join("|")}) # ${v}\n      ${action}; return ;;`);
  }
  const cmdCases = p.commands.map(
    (c) => `    ${c.name}) opts=${sq(c.options.map((o) => o.long).join(" "))} ;;`,
  );
  return `# bash completion for hdplan (generated: hdplan completion bash)
_hdplan() {
  local cur prev cmd opts
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${sq([...p.commands.map((c) => c.name), ...p.global.map((o) => o.long)].join(" "))} -- "$cur"))
    return
  fi
  cmd="\${COMP_WORDS[1]}"
  case "$cmd" in
    completion) COMPREPLY=($(compgen -W ${sq(SHELLS.join(" "))} -- "$cur")); return ;;
  esac
  case "$prev" in
${valueCases.join("\n")}
  esac
  case "$cmd" in
${cmdCases.join("\n")}
    *) opts="" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _hdplan hdplan
`;
}

const zq = (s: string) => s.replace(/[[\]:'\\]/g, " ");

function zsh(p: ReturnType<typeof describeProgram>): string {
  const cmds = p.commands.map((c) => `    ${sq(`${c.name}:${zq(c.description)}`)}`).join("\n");
  const cases = p.commands.map((c) => {
    const specs = c.options.map((o) => {
      const action = !o.value
        ? ""
        : VALUES[o.value]
          ? `:${o.value}:(${VALUES[o.value]!.join(" ")})`
          : NOT_FILES.has(o.value)
            ? `:${o.value}: `
            : `:${o.value}:_files`;
      const rep = /repeatable/.test(o.description) ? "*" : "";
      return `        ${sq(`${rep}${o.long}[${zq(o.description)}]${action}`)}`;
    });
    const rest =
      c.name === "completion" ? `        ${sq(`1:shell:(${SHELLS.join(" ")})`)}` : `        '*:file:_files'`;
    return `    ${c.name})\n      _arguments \\\n${[...specs, rest].join(" \\\n")}\n      ;;`;
  });
  return `#compdef hdplan
# zsh completion for hdplan (generated: hdplan completion zsh)
_hdplan() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd=$words[2]
  shift words
  (( CURRENT-- ))
  case $cmd in
${cases.join("\n")}
  esac
}
_hdplan "$@"
`;
}

function fish(p: ReturnType<typeof describeProgram>): string {
  const lines = ["# fish completion for hdplan (generated: hdplan completion fish)", "complete -c hdplan -f"];
  for (const c of p.commands)
    lines.push(`complete -c hdplan -n __fish_use_subcommand -a ${c.name} -d ${sq(c.description)}`);
  lines.push(`complete -c hdplan -n '__fish_seen_subcommand_from completion' -a ${sq(SHELLS.join(" "))}`);
  for (const c of p.commands) {
    for (const o of c.options) {
      const parts = [
        `complete -c hdplan -n '__fish_seen_subcommand_from ${c.name}'`,
        `-l ${o.long.replace(/^--/, "")}`,
      ];
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, "")}`);
      if (o.value) {
        const words = VALUES[o.value];
        parts.push(words ? `-x -a ${sq(words.join(" "))}` : NOT_FILES.has(o.value) ? "-x" : "-r -F");
      }
      parts.push(`-d ${sq(o.description)}`);
      lines.push(parts.join(" "));
    }
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(program: Command, shell: Shell): string {
  const p = describeProgram(program);
  return shell === "bash" ? bash(p) : shell === "zsh" ? zsh(p) : fish(p);
}

/** roff: escape backslashes, hyphens and a leading dot or quote. */
function roff(s: string): string {
  return s
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1");
}

function optLines(o: OptInfo): string[] {
  const head = [
    o.short ? `\\fB${roff(o.short)}\\fR, ` : "",
    `\\fB${roff(o.long)}\\fR`,
    o.value ? ` \\fI${roff(o.value)}\\fR` : "",
  ].join("");
  const dflt = o.default !== null && o.default !== "false" ? ` (default: ${roff(o.default)})` : "";
  return [".TP", head, `${roff(o.description)}${dflt}`];
}

/** The man page: hdplan(1), from the program's commands and options plus fixed sections. */
export function manPage(
  program: Command,
  version: string,
  sections: { exit: string[][]; seeAlso: string },
): string {
  const p = describeProgram(program);
  const out = [
    `.TH HDPLAN 1 "" "hostdev-planner ${roff(version)}" "User Commands"`,
    '.\\" generated by scripts/man-page.mjs from src/cli/main.ts; do not edit',
    ".SH NAME",
    `hdplan \\- ${roff(program.description())}`,
    ".SH SYNOPSIS",
    ".B hdplan",
    "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]",
    ".SH DESCRIPTION",
    roff(
      "hdplan answers, before virsh migrate does, which hosts can take a libvirt VM that holds assigned devices (vGPU mdevs, SR-IOV VFs on VFIO variant drivers, PCI passthrough, hostdev networks, USB), and writes the destination XML. It is fail-closed: a device counts as migratable, free or compatible only on positive evidence. It does not check CPU, memory, NUMA or storage.",
    ),
    ".SH GLOBAL OPTIONS",
    ...p.global.flatMap(optLines),
    ".SH COMMANDS",
  ];
  for (const c of p.commands) {
    const args = c.args
      .map((a) => (a.required ? ` \\fI${roff(a.name)}\\fR` : ` [\\fI${roff(a.name)}\\fR]`))
      .join("");
    out.push(`.SS "hdplan ${roff(c.name)}${args.replace(/"/g, "")} [options]"`, roff(c.description));
    out.push(...c.options.filter((o) => o.long !== "--help").flatMap(optLines));
  }
  out.push(".SH EXIT STATUS");
  for (const [code, what] of sections.exit) out.push(".TP", `\\fB${roff(code!)}\\fR`, roff(what!));
  out.push(".SH SEE ALSO", roff(sections.seeAlso));
  return `${out.join("\n")}\n`;
}

export const MAN_SECTIONS = {
  exit: [
    [
      "0",
      "a host takes every device (check: PASS or WARN; evacuate: all placed; compat: compatible; hook: allow)",
    ],
    ["1", "no host takes every device and every host was read (compat: not compatible; hook: refuse)"],
    [
      "2",
      "bad input: an unreadable or malformed file, an unknown option, a domain not defined on --source, a duplicate host key",
    ],
    ["3", "every host failed, or --source failed"],
    ["4", "no full host and some hosts could not be read"],
  ],
  seeAlso:
    "virsh(1), virt-host-validate(1), mdevctl(8); the README and docs/ of hostdev-planner (docs/reasons.md lists every reason code)",
};
