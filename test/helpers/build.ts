/**
 * XML builders for tests: node devices, domains, networks, and RawHost records.
 * They live in scripts/fixtures/compact.mjs (one fixture builder for tests,
 * samples and gen-fleet); this module keeps the tests' import path.
 */
export {
  CX6_PF,
  CX6_VF,
  MANAGER_VERSION,
  NEW_QEMU,
  T4,
  addrEl,
  domainXml,
  gpu,
  hostdevNetworkXml,
  mdevDev,
  netDev,
  nic,
  pciDev,
  pciName,
  rawHost,
  usbDev,
} from "../../scripts/fixtures/compact.mjs";
export type { HostdevSpec, PciOpts } from "../../scripts/fixtures/compact.mjs";
