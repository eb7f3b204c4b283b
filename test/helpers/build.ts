/**
 * XML builders for tests: node devices, domains, networks, and RawHost records.
 * They live in scripts/fixtures/compact.mjs (one fixture builder for tests,
 * samples and gen-fleet); this module keeps the tests' import path.
 */
export * from "../../scripts/fixtures/compact.mjs";
export type { HostdevSpec, PciOpts } from "../../scripts/fixtures/compact.mjs";
