/**
 * Where libvirt's XML corpus is: ../shared/corpus/libvirt beside the checkout
 * (never an absolute machine path), or $HDPLAN_CORPUS. Tests that need it run
 * when it is there; under CI (env CI) they always run, so a missing corpus
 * fails them instead of skipping them.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const CORPUS_ROOT = resolve(
  process.env.HDPLAN_CORPUS ?? join(import.meta.dirname, "../../../shared/corpus/libvirt"),
);

export const corpusDir = (sub: string): string => join(CORPUS_ROOT, sub);

/** Whether to run the tests that read `sub` of the corpus. */
export function corpusRequired(sub: string): boolean {
  if (process.env.CI || existsSync(corpusDir(sub))) return true;
  console.warn(
    `[hdplan tests] ${corpusDir(sub)} not found: skipping its corpus tests (set HDPLAN_CORPUS; under CI=1 they fail instead)`,
  );
  return false;
}

/** Fails with a clear message when the corpus folder is missing. */
export function assertCorpus(sub: string): string {
  const d = corpusDir(sub);
  if (!existsSync(d))
    throw new Error(
      `libvirt corpus folder ${d} is missing (check out shared/ beside the repository or set HDPLAN_CORPUS)`,
    );
  return d;
}

/** Every *.xml file under `dir` (recursively, sorted); none when `dir` is missing. */
export function xmlFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? xmlFilesUnder(join(dir, e.name)) : e.name.endsWith(".xml") ? [join(dir, e.name)] : [],
    )
    .sort();
}
