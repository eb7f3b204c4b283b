import type {
  DomainInfo,
  HostFacts,
  HostVersions,
  NetworkInfo,
  NodeDevice,
  RawHost,
  VendorAttrs,
} from "../model.js";
import type { Reason } from "../reasons.js";
import type { Reserved } from "./keys.js";

export interface HostNetwork extends NetworkInfo {
  active: boolean;
  /** Functions handed out (from ports); null when unknown. */
  handedOut: Set<string> | null;
  /** Number of connections the network reports or domains reference. */
  usedCount: number;
}

export interface HostInventory {
  key: string;
  target: string;
  kind: RawHost["kind"];
  hostname: string | null;
  /** libvirt's host UUID, when the target recorded one. */
  hostUuid: string | null;
  versions: HostVersions;
  devices: NodeDevice[];
  byName: Map<string, NodeDevice>;
  /** PCI functions by address DDDD:BB:SS.F */
  pciByAddr: Map<string, NodeDevice>;
  /** Active mdev node devices by uuid. */
  mdevByUuid: Map<string, NodeDevice>;
  /** Net child devices by parent node device name. */
  netByParent: Map<string, NodeDevice[]>;
  networks: Map<string, HostNetwork>;
  domains: { info: DomainInfo; active: boolean; persistent: boolean; origin: string }[];
  /** Reserved resources (compat.md §6) by keyId (src/inventory/keys.ts): who holds each. */
  reserved: Reserved;
  /** PCI functions that belong to a hostdev network pool -> network name. */
  poolMembers: Map<string, string>;
  /** Whether the host reports PCI drivers at all (libvirt's test driver drops <driver>). */
  driversKnown: boolean;
  descriptorFiles: RawHost["descriptorFiles"];
  vendorAttrs: VendorAttrs[];
  /** Vendor facts (src/facts): NVIDIA manager version, PF firmware. */
  facts: HostFacts;
  warnings: Reason[];
}
