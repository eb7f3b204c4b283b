/**
 * Version rules (compat.md §3 "Versions"): any key ending in `_version`.
 *
 * MAJOR[.MINOR[.BUGFIX]], missing parts 0. Source s migrates to destination d
 * iff d.major == s.major && d.minor >= s.minor (bugfix ignored). Range
 * expressions are evaluated with semver.satisfies on the filled-in source.
 */
import { createRequire } from "node:module";
import { type Reason, reason } from "../reasons.js";

/**
 * semver's two functions used here, loaded on first use: most plans meet no
 * range expression, and the package's index loads ~50 modules (20-35 ms of
 * start-up; the two modules alone are ~13 ms).
 */
let sem: {
  satisfies: typeof import("semver/functions/satisfies.js");
  validRange: typeof import("semver/ranges/valid.js");
};
function semver(): typeof sem {
  if (!sem) {
    const req = createRequire(import.meta.url);
    sem = { satisfies: req("semver/functions/satisfies.js"), validRange: req("semver/ranges/valid.js") };
  }
  return sem;
}

export interface Version {
  major: bigint;
  minor: bigint;
  bugfix: bigint;
}

const VERSION_RE = /^(\d{1,30})(?:\.(\d{1,30})(?:\.(\d{1,30}))?)?$/;

export function isVersionKey(key: string): boolean {
  return key.endsWith("_version");
}

export function parseVersion(s: string): Version | null {
  const m = VERSION_RE.exec(s.trim());
  if (!m) return null;
  return { major: BigInt(m[1]!), minor: BigInt(m[2] ?? "0"), bugfix: BigInt(m[3] ?? "0") };
}

export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.bugfix}`;
}

/** A range expression contains one of `< > = ^ ~ ||` or a space (compat.md §3). */
export function isRangeExpression(s: string): boolean {
  return /[<>=^~ ]|\|\|/.test(s.trim());
}

/** True when semver understands the range expression. */
export function isValidRange(s: string): boolean {
  try {
    return semver().validRange(s.trim()) !== null;
  } catch {
    return false;
  }
}

/** The compatibility rule: source s can migrate to destination d. */
export function versionAccepts(d: Version, s: Version): boolean {
  return d.major === s.major && d.minor >= s.minor;
}

export function rangeSatisfied(range: string, s: Version): boolean {
  try {
    return semver().satisfies(formatVersion(s), range.trim());
  } catch {
    return false;
  }
}

/**
 * Checks a source version against one accepted item of a destination: a plain
 * version (the rule) or a range expression. Returns null when accepted, else a reason.
 */
export function checkVersionItem(key: string, accepted: string, source: string): Reason | null {
  const s = parseVersion(source);
  if (!s) {
    if (accepted.trim() === source.trim()) return null;
    return reason("field-mismatch", `source ${key} '${source}' is not a version MAJOR[.MINOR[.BUGFIX]]`, {
      key,
      source,
      accepted,
    });
  }
  if (isRangeExpression(accepted)) {
    if (!isValidRange(accepted)) {
      return reason(
        "descriptor-invalid",
        `destination ${key} range '${accepted}' is not a valid version range`,
        {
          key,
          accepted,
        },
      );
    }
    if (rangeSatisfied(accepted, s)) return null;
    return reason(
      "version-out-of-range",
      `destination accepts ${key} in range '${accepted.trim()}'; source is ${formatVersion(s)}`,
      { key, source, accepted },
    );
  }
  const d = parseVersion(accepted);
  if (!d) {
    if (accepted.trim() === source.trim()) return null;
    return reason(
      "field-mismatch",
      `destination ${key} '${accepted}' is not a version; source is ${source}`,
      {
        key,
        source,
        accepted,
      },
    );
  }
  return ruleReason(key, d, s, source, accepted);
}

function ruleReason(key: string, d: Version, s: Version, source: string, accepted: string): Reason | null {
  if (d.major !== s.major) {
    return reason(
      "version-major-mismatch",
      `destination ${key} is ${formatVersion(d)} and accepts only ${d.major}.x sources; source is ${formatVersion(s)}`,
      { key, source, accepted },
    );
  }
  if (d.minor < s.minor) {
    return reason(
      "version-minor-too-old",
      `destination accepts ${key} ${d.major}.x with minor <= ${d.minor}; source is ${formatVersion(s)} (the destination lacks features of minor ${s.minor})`,
      { key, source, accepted },
    );
  }
  return null;
}

/**
 * Legacy integer list: `majors` are the accepted major versions. When the
 * source has a non-zero minor and the destination's own version (`destSelf`)
 * has the same major, the minor rule applies as well.
 */
export function checkLegacyMajors(
  key: string,
  hasMajor: (m: bigint) => boolean,
  majorsText: string,
  source: string,
  destSelf: string | undefined,
  accepted: string,
): Reason | null {
  const s = parseVersion(source);
  if (!s) {
    return reason("field-mismatch", `source ${key} '${source}' is not a version MAJOR[.MINOR[.BUGFIX]]`, {
      key,
      source,
      accepted,
    });
  }
  if (!hasMajor(s.major)) {
    return reason(
      "version-major-mismatch",
      `destination accepts ${key} majors ${majorsText}; source is ${formatVersion(s)}`,
      { key, source, accepted },
    );
  }
  if (s.minor !== 0n && destSelf !== undefined) {
    const d = parseVersion(destSelf);
    if (d && d.major === s.major && d.minor < s.minor) {
      return reason(
        "version-minor-too-old",
        `destination accepts ${key} ${d.major}.x with minor <= ${d.minor} (its own version is ${formatVersion(d)}); source is ${formatVersion(s)}`,
        { key, source, accepted },
      );
    }
  }
  return null;
}
