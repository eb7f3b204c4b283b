#!/usr/bin/env node
/**
 * dump-to-snapshot.mjs — convert hdplan dump directories (nodedev/, domains/,
 * networks/, host.json) into host snapshot JSON files, the format `hdplan
 * inventory` writes (src/targets/snapshot.ts, schemaVersion 2). Plain Node
 * ESM; the dump's sys/ subset and devlink-dev-info.json (docs/dump-sys.md) are
 * read by hdplan's own reader from dist/ (built by npm ci), the same code as a
 * dump directory target, so the snapshot plans exactly as the dump does.
 *
 * Usage:
 *   node scripts/dump-to-snapshot.mjs --out DIR [--hosts-file FILE] [--write-hosts-file FILE]
 *        [--created-at ISO] [DUMPDIR...]
 *
 *   --out DIR               write DIR/<basename of the dump dir>.json (the host key stays the same)
 *   --hosts-file FILE       also convert every dump directory listed in FILE (hdplan hosts-file
 *                           syntax: one per line, # comments; KEY=PATH keeps KEY as the file name)
 *   --write-hosts-file F    write a hosts file listing the snapshots, in input order
 *   --created-at ISO        createdAt of every snapshot (default: now); fixed values give
 *                           byte-identical output
 *
 * Node device files holding several concatenated <device> documents (a
 * `virsh nodedev-dumpxml` loop) are split into one nodeDevices entry per
 * device, as `hdplan inventory` would list them. Domains in a dump directory
 * count as active and persistent, networks as active (like hdplan's dump reader).
 * Descriptor files (descriptors/*.conf) have no place in a snapshot and are skipped.
 *
 * Exported: dumpDirToSnapshot(dir, {createdAt}) -> snapshot object.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const { readDumpFacts } = await import(
  pathToFileURL(join(fileURLToPath(new URL(".", import.meta.url)), "..", "dist", "targets", "dump.js")).href
);

function listXml(dir) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /\.xml$/i.test(n))
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile());
}

/**
 * One XML text per top-level <device> document; a file with one device is kept
 * verbatim. Depth-aware: usb_device capabilities have a nested <device>N</device>.
 */
export function splitDevices(text) {
  const re = /<(\/?)device(\s[^>]*?)?(\/?)>/g;
  const parts = [];
  let depth = 0;
  let start = -1;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[3]) continue; // <device/>
    if (!m[1]) {
      if (depth++ === 0) start = m.index;
    } else if (depth > 0 && --depth === 0) {
      parts.push(`${text.slice(start, m.index + m[0].length)}\n`);
    }
  }
  return parts.length <= 1 ? [text] : parts;
}

export function dumpDirToSnapshot(dir, { createdAt = new Date().toISOString() } = {}) {
  const abs = resolve(dir);
  if (!existsSync(join(abs, "nodedev"))) throw new Error(`${dir}: not a dump directory (no nodedev/)`);
  let hostJson = {};
  const hj = join(abs, "host.json");
  if (existsSync(hj)) hostJson = JSON.parse(readFileSync(hj, "utf8"));
  const hv = hostJson.hypervisor ?? {};
  const versions = {};
  if (hostJson.libvirtVersion != null) versions.libvirt = String(hostJson.libvirtVersion);
  if (hv.type != null) versions.hypervisorType = String(hv.type);
  if (hv.version != null) versions.hypervisorVersion = String(hv.version);
  if (hostJson.kernelVersion != null) versions.kernel = String(hostJson.kernelVersion);
  const snap = {
    schemaVersion: 2,
    kind: "hdplan-host-snapshot",
    createdAt,
    connect: pathToFileURL(abs).href,
  };
  if (hostJson.hostname) snap.hostname = String(hostJson.hostname);
  snap.versions = versions;
  snap.nodeDevices = listXml(join(abs, "nodedev")).flatMap((p) =>
    splitDevices(readFileSync(p, "utf8")).map((xml) => ({ xml })),
  );
  snap.domains = listXml(join(abs, "domains")).map((p) => ({
    xml: readFileSync(p, "utf8"),
    active: true,
    persistent: true,
  }));
  snap.networks = listXml(join(abs, "networks")).map((p) => ({ xml: readFileSync(p, "utf8"), active: true }));
  snap.vendorAttrs = [];
  const facts = readDumpFacts(abs);
  if (facts) snap.facts = facts;
  return snap;
}

/** Hosts-file lines -> [{key, dir}] (comments and blank lines skipped). */
export function readHostsFile(file) {
  const out = [];
  for (const line of readFileSync(file, "utf8").split(/\r?\n/)) {
    const s = line.replace(/(^|\s)#.*$/, "").trim();
    if (!s) continue;
    const eq = s.indexOf("=");
    if (eq > 0 && !s.includes("://") && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s.slice(0, eq))) {
      out.push({ key: s.slice(0, eq), dir: s.slice(eq + 1) });
    } else out.push({ key: basename(s.replace(/\/+$/, "")), dir: s });
  }
  return out;
}

/** Converts dirs ([{key, dir}]) into OUT/<key>.json; returns the written paths. */
export function convertAll(items, out, opts = {}) {
  mkdirSync(out, { recursive: true });
  return items.map(({ key, dir }) => {
    const file = join(resolve(out), `${key}.json`);
    writeFileSync(file, `${JSON.stringify(dumpDirToSnapshot(dir, opts))}\n`);
    return file;
  });
}

function main() {
  const args = process.argv.slice(2);
  let out = null;
  let writeHosts = null;
  let createdAt;
  const items = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--out") out = args[++i];
    else if (a === "--hosts-file") items.push(...readHostsFile(args[++i]));
    else if (a === "--write-hosts-file") writeHosts = args[++i];
    else if (a === "--created-at") createdAt = args[++i];
    else if (a === "--help" || a === "-h") {
      process.stdout.write(
        "usage: node scripts/dump-to-snapshot.mjs --out DIR [--hosts-file FILE] " +
          "[--write-hosts-file FILE] [--created-at ISO] [DUMPDIR...]\n",
      );
      return;
    } else if (a.startsWith("--")) {
      process.stderr.write(`dump-to-snapshot: unknown option ${a}\n`);
      process.exit(2);
    } else items.push({ key: basename(a.replace(/\/+$/, "")), dir: a });
  }
  if (!out || items.length === 0) {
    process.stderr.write("dump-to-snapshot: need --out DIR and at least one dump directory\n");
    process.exit(2);
  }
  const t0 = performance.now();
  const files = convertAll(items, out, createdAt ? { createdAt } : {});
  if (writeHosts) writeFileSync(writeHosts, `${files.join("\n")}\n`);
  process.stderr.write(
    `dump-to-snapshot: ${files.length} snapshot(s) in ${out} (${Math.round(performance.now() - t0)} ms)\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
