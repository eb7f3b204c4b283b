/** Target specs and host keys (cli.md "Targets", "Host key"). */
import { basename } from "node:path";
import { InputError } from "../errors.js";

export interface TargetSpec {
  /** Explicit KEY= prefix, if given. */
  explicitKey?: string;
  /** What was given after KEY= (or the whole argument). */
  target: string;
  kind: "uri" | "path";
  /** Where it was given (command line or hosts-file:line) for messages. */
  where: string;
}

const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function parseTargetSpec(arg: string, where = "command line"): TargetSpec {
  const s = arg.trim();
  if (s === "") throw new InputError(`${where}: empty target`);
  const eq = s.indexOf("=");
  const colonSlash = s.indexOf("://");
  if (eq > 0 && (colonSlash < 0 || eq < colonSlash)) {
    const key = s.slice(0, eq);
    const target = s.slice(eq + 1);
    if (KEY_RE.test(key) && target !== "") {
      return { explicitKey: key, target, kind: target.includes("://") ? "uri" : "path", where };
    }
  }
  return { target: s, kind: s.includes("://") ? "uri" : "path", where };
}

/** Key from the URI alone, or null when the URI names no host (use libvirt's hostname). */
export function uriHostKey(uri: string): string | null {
  const m = /^([a-z0-9+.-]+):\/\/([^/?#]*)(\/[^?#]*)?/i.exec(uri);
  if (!m) return null;
  const scheme = (m[1] ?? "").toLowerCase();
  let host = m[2] ?? "";
  const path = m[3] ?? "";
  if (scheme === "test" || scheme.startsWith("test+")) {
    const file = basename(path);
    if (file && file !== "default") return file.replace(/\.xml$/i, "");
  }
  host = host
    .replace(/^[^@]*@/, "")
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "");
  return host === "" ? null : host;
}

export function pathHostKey(path: string): string {
  const clean = path.replace(/\/+$/, "");
  return basename(clean).replace(/\.json$/i, "");
}

export function validateKey(key: string, where: string): string {
  if (!KEY_RE.test(key)) {
    throw new InputError(
      `${where}: host key "${key}" must match ${KEY_RE.source} (use KEY=TARGET to name it)`,
    );
  }
  return key;
}

/** Throw InputError (exit 2) on duplicate keys. */
export function assertUniqueKeys(items: { key: string; target: string }[]): void {
  const seen = new Map<string, string>();
  for (const it of items) {
    const prev = seen.get(it.key);
    if (prev !== undefined) {
      throw new InputError(
        `duplicate host key "${it.key}" for ${prev} and ${it.target}; name one with KEY=TARGET`,
      );
    }
    seen.set(it.key, it.target);
  }
}

export function readHostsFileText(text: string, file: string): TargetSpec[] {
  const out: TargetSpec[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const s = line.replace(/(^|\s)#.*$/, "").trim();
    if (s === "") return;
    out.push(parseTargetSpec(s, `${file}:${i + 1}`));
  });
  return out;
}
