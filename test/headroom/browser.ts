/**
 * Headless Chromium (Debian `chromium`) for the HTML report tests: dump the
 * DOM after the page's script ran, or take a screenshot. Bounded by a timeout;
 * each run has its own profile directory so parallel runs never share a lock.
 * As root Chromium needs --no-sandbox.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function chromiumPath(): string {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]) {
    if (existsSync(p)) return p;
  }
  throw new Error("headless Chromium not found: apt-get install -y chromium (the HTML report tests need it)");
}

function run(args: string[], timeoutMs: number): string {
  // One retry only when Chromium itself dies or hangs at start-up (no output):
  // the page is static, so a second run sees the same DOM.
  for (let attempt = 0; attempt < 2; attempt++) {
    const profile = mkdtempSync(join(tmpdir(), "hdplan-chromium-"));
    try {
      const r = spawnSync(
        chromiumPath(),
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--no-first-run",
          "--no-default-browser-check",
          "--disable-extensions",
          "--hide-scrollbars",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=5000",
          ...args,
        ],
        { encoding: "utf8", timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      );
      if (r.status === 0 && (r.stdout.length > 0 || args.some((a) => a.startsWith("--screenshot")))) {
        return r.stdout;
      }
      if (attempt === 1)
        throw new Error(`chromium failed (status ${r.status}, signal ${r.signal}): ${r.stderr.slice(-500)}`);
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  }
  return "";
}

/** The DOM after scripts ran (`--dump-dom`). `hash` is appended to the file URL. */
export function dumpDom(file: string, hash = "", timeoutMs = 90000): string {
  return run(["--dump-dom", `file://${file}${hash}`], timeoutMs);
}

export function screenshot(file: string, png: string, size = "1400,1000", timeoutMs = 90000): void {
  run([`--screenshot=${png}`, `--window-size=${size}`, `file://${file}`], timeoutMs);
  if (!existsSync(png)) throw new Error(`chromium wrote no screenshot ${png}`);
}
