/** A hand-built HostInventory for filter case tables (only the fields the filters read). */
import type { PciSource } from "../../src/candidates/types.js";
import type { ReservedBy } from "../../src/inventory/keys.js";
import type { HostInventory } from "../../src/inventory/types.js";
import type { NodeDevice, PciFirmware, PciHostdev, PciNode, VgpuVfFacts } from "../../src/model.js";

export function fakeHost(o: {
  devices?: NodeDevice[];
  reserved?: [string, ReservedBy][];
  poolMembers?: [string, string][];
  driversKnown?: boolean;
  firmware?: PciFirmware[];
  vgpuVfs?: VgpuVfFacts[];
}): HostInventory {
  const devices = o.devices ?? [];
  const pciByAddr = new Map(devices.flatMap((d) => (d.pci ? [[d.pci.address, d] as const] : [])));
  const netByParent = new Map<string, NodeDevice[]>();
  for (const d of devices)
    if (d.net && d.parent) netByParent.set(d.parent, [...(netByParent.get(d.parent) ?? []), d]);
  return {
    key: "dst",
    target: "dst",
    kind: "dump",
    hostname: null,
    hostUuid: null,
    versions: {},
    devices,
    byName: new Map(devices.map((d) => [d.name, d])),
    pciByAddr,
    mdevByUuid: new Map(),
    netByParent,
    networks: new Map(),
    domains: [],
    reserved: new Map(o.reserved ?? []),
    poolMembers: new Map(o.poolMembers ?? []),
    driversKnown: o.driversKnown ?? true,
    descriptorFiles: [],
    vendorAttrs: [],
    facts: { firmware: o.firmware ?? [], ...(o.vgpuVfs ? { vgpuVfs: o.vgpuVfs } : {}) },
    warnings: [],
  };
}

export function pciFn(
  address: string,
  o: Partial<NonNullable<NodeDevice["pci"]>> & { driver?: string | null } = {},
): PciNode {
  const { driver = "vfio-pci", ...pci } = o;
  return {
    name: `pci_${address.replace(/[:.]/g, "_")}`,
    driver,
    caps: ["pci"],
    pci: {
      address,
      vendorId: "15b3",
      productId: "101e",
      virtFunctions: [],
      mdevTypes: [],
      iommuGroup: { number: 7, members: [address] },
      ...pci,
    },
  };
}

/** A managed PCI hostdev of a source domain (host address 0000:3b:00.2). */
export const PCI_HOSTDEV: PciHostdev = {
  kind: "pci",
  element: "hostdev",
  id: "hostdev0",
  alias: "hostdev0",
  kindIndex: 0,
  mode: "subsystem",
  type: "pci",
  guestAddress: null,
  hostAddress: "0000:3b:00.2",
  managed: true,
};

/** A ConnectX-6 Dx VF on mlx5_vfio_pci as the source's candidate step sees it (firmware checked). */
export const PCI_SOURCE: PciSource = {
  need: "pci",
  dev: PCI_HOSTDEV,
  summary: "pci 0000:3b:00.2",
  blockers: [],
  warnings: [],
  gate: null,
  transient: false,
  descriptor: {
    self: { device_api: "vfio-pci", device_type: "pci", device_id: "15b3101e", pf_device_id: "15b3101d" },
    compatible: [],
  },
  descriptorOrigin: "derived",
  driver: "mlx5_vfio_pci",
  checkFirmware: true,
  firmware: { version: "22.36.1010", psid: "MT_0000000359" },
};
