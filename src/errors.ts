/**
 * Error classes with documented exit codes (cli.md "Exit codes").
 * InputError -> 2 (bad input), HostError -> 3 (a host could not be read).
 * Messages are one line and name the file or host.
 */
export const EXIT = {
  OK: 0,
  NO: 1,
  INPUT: 2,
  HOSTS: 3,
  INCOMPLETE: 4,
} as const;

export class InputError extends Error {
  readonly exitCode = EXIT.INPUT;
  constructor(
    message: string,
    readonly file?: string,
  ) {
    super(oneLine(message));
    this.name = "InputError";
  }
}

export type HostErrorCode = "host-unreachable" | "host-timeout" | "libvirt-error";

export class HostError extends Error {
  readonly exitCode = EXIT.HOSTS;
  constructor(
    readonly code: HostErrorCode,
    message: string,
    readonly host?: string,
  ) {
    super(oneLine(message));
    this.name = "HostError";
  }
}

export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return oneLine(e.message);
  return oneLine(String(e));
}
