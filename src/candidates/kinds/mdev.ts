/**
 * mdev destinations (compat.md §4, §6): existing free mdevs of the type, then
 * parents with free instances. A candidate (parent, type) first has to be
 * accepted by its descriptor; then MDEV_FILTERS decide it, and each existing
 * mdev / the pool of new ones has its own filter.
 */
import { accepts, matcherFor } from "../../descriptors/match.js";
import {
  isNvidiaVgpuType,
  managerVersionMismatch,
  managerVersionUnknown,
  onlyVersionFails,
} from "../../facts/rules.js";
import { holderText, keyId, reservedAt } from "../../inventory/keys.js";
import type { HostInventory } from "../../inventory/types.js";
import type { DescriptorData, MdevType, NodeDevice } from "../../model.js";
import { type Reason, reason } from "../../reasons.js";
import { mdevMigratability } from "../evidence.js";
import { candidatesFor, descriptorKey } from "../hostindex.js";
import type { MdevSource, Resource } from "../types.js";
import { pciAddressOfNodeName } from "../../output/mdevplan.js";
import type { KindModule } from "./registry.js";
import {
  type KindCandidates,
  Rejections,
  descriptorMismatch,
  jsonStr,
  firstFailure,
  withoutKey,
  withoutVersion,
} from "./common.js";

export function gpuOf(parent: NodeDevice): string {
  return parent.pci?.physFunction ?? parent.name;
}

/** An mdev type on a parent whose descriptor accepted the source. */
export interface MdevCandidate {
  host: Pick<HostInventory, "key">;
  parent: NodeDevice;
  type: MdevType;
  descriptor: DescriptorData;
  /** An NVIDIA vGPU whose manager version is unknown on either side (compared without it). */
  versionUnknown: boolean;
  assumeVersions: boolean;
}

export type MdevFilter = (c: MdevCandidate) => Reason | null;

/** compat.md §7 (src/facts/rules.ts): an NVIDIA vGPU's software_version is the manager version; unknown = rejected unless assumed. */
export const managerVersionKnown: MdevFilter = (c) =>
  c.versionUnknown && !c.assumeVersions
    ? managerVersionUnknown("destination", c.host.key, `${c.parent.name} ${c.type.id}`)
    : null;

/** compat.md §4: positive evidence that the type migrates (src/candidates/evidence.ts). */
export const typeMigratable: MdevFilter = (c) =>
  mdevMigratability(c.type.id, c.descriptor, `${c.host.key} ${c.parent.name} ${c.type.id}`);

export const MDEV_FILTERS: MdevFilter[] = [managerVersionKnown, typeMigratable];

/** An existing mdev is free unless a domain, the host or a migration holds it (compat.md §6). */
export function mdevNotReserved(
  host: Pick<HostInventory, "reserved">,
  uuid: string,
  type: string,
): Reason | null {
  const why = reservedAt(host.reserved, { kind: "mdev", uuid });
  return why
    ? reason("mdev-no-capacity", `existing mdev ${uuid} of ${type} is reserved: ${holderText(why)}`)
    : null;
}

/** New mdevs need positive evidence of free instances: availableInstances reported and > 0 (fail-closed). */
export function freeInstances(parent: NodeDevice, t: MdevType): Reason | null {
  const n = t.availableInstances;
  if (n === undefined)
    return reason("mdev-no-capacity", `${parent.name} does not report availableInstances for ${t.id}`);
  if (n <= 0) return reason("mdev-no-capacity", `${parent.name} has no free instances of ${t.id}`);
  return null;
}

export const mdevCandidates: KindCandidates<MdevSource> = (s, dc, { host, idx, gateOpts, addResource }) => {
  if (!s.descriptor || s.mdevType === null) return;
  const self = s.descriptor.self;
  const rej = new Rejections();
  let closest: Reason[] | null = null;
  let sameType = 0;
  let accepted = 0;
  let closestVersion: string | undefined;
  const nvidia = isNvidiaVgpuType(s.mdevType);
  const existing: Resource[] = [];
  const pools: Resource[] = [];
  const match = matcherFor(self);
  for (const e of candidatesFor(idx.mdevByKey, idx.mdevWithSections, [self.mdev_type, s.mdevType])) {
    const { parent, type: t, descriptor, origin } = e;
    // An NVIDIA vGPU's version unknown on either side: compare the rest; the
    // candidate is then rejected by managerVersionKnown unless assumed.
    const versionUnknown =
      nvidia && (self.software_version === undefined || descriptor.self.software_version === undefined);
    const res = versionUnknown
      ? accepts(withoutVersion(descriptor), withoutKey(self, "software_version"))
      : match(descriptor, descriptorKey(e));
    if (!res.ok) {
      if (t.id === s.mdevType || descriptor.self.mdev_type === self.mdev_type) {
        sameType++;
        if (!closest || res.reasons.length < closest.length) {
          closest = res.reasons;
          closestVersion = descriptor.self.software_version;
        }
      }
      continue;
    }
    accepted++;
    const fail = firstFailure(MDEV_FILTERS, {
      host,
      parent,
      type: t,
      descriptor,
      versionUnknown,
      assumeVersions: gateOpts.assumeVersions,
    });
    if (fail) {
      rej.add(fail);
      continue;
    }
    const gpu = descriptor.self.mixed_types === "1" ? `${gpuOf(parent)}#${t.id}` : gpuOf(parent);
    const common = { gpu, mdevType: t.id, descriptorOrigin: origin, binding: res.binding };
    for (const nd of idx.mdevsOf.get(`${parent.name}|${t.id}`) ?? []) {
      if (!nd.mdev?.uuid) continue;
      const uuid = nd.mdev.uuid.toLowerCase();
      const held = mdevNotReserved(host, uuid, t.id);
      if (held) {
        rej.add(held);
        continue;
      }
      existing.push({
        id: keyId({ kind: "mdev", uuid }),
        capacity: 1,
        cost: 0,
        ...common,
        target: {
          kind: "mdev",
          name: nd.name,
          parent: parent.name,
          parentAddress: parent.pci?.address ?? null,
          mdevType: t.id,
          uuid,
          create: false,
        },
      });
    }
    const none = freeInstances(parent, t);
    if (none) rej.add(none);
    else {
      pools.push({
        id: keyId({ kind: "pool", parent: parent.name, mdevType: t.id }),
        capacity: t.availableInstances ?? 0,
        cost: 1,
        ...common,
        target: {
          kind: "mdev",
          name: null,
          parent: parent.name,
          parentAddress: parent.pci?.address ?? null,
          mdevType: t.id,
          uuid: null,
          create: true,
        },
      });
    }
  }
  for (const r of [...existing, ...pools]) {
    addResource(r);
    dc.resources.push(r.id);
  }
  if (dc.resources.length > 0) return;
  if (accepted === 0) {
    if (sameType > 0 && closest && nvidia && onlyVersionFails(closest)) {
      dc.reasons.push(
        managerVersionMismatch(
          host.key,
          `mdev type ${s.mdevType}`,
          closestVersion,
          self.software_version,
          closest,
        ),
      );
    } else if (sameType > 0 && closest) {
      dc.reasons.push(
        descriptorMismatch(
          `${host.key}: mdev type ${s.mdevType} exists but its descriptor rejects the source`,
          closest,
        ),
      );
    } else {
      dc.reasons.push(
        reason(
          "mdev-type-missing",
          `${host.key}: no parent offers mdev type ${s.mdevType} on the same hardware`,
        ),
      );
    }
    return;
  }
  dc.reasons.push(...rej.list());
};

/** The mdev kind (src/candidates/kinds/registry.ts). */
export const MDEV_KIND: KindModule<"mdev"> = {
  need: "mdev",
  vfio: true,
  vendorDriver: true,
  candidates: mdevCandidates,
  capacityReason: (s, what) => reason("mdev-no-capacity", `${what}; not enough free ${s.mdevType} instances`),
  signature: (s) => s.mdevType,
  sourceType: (s) => s.mdevType ?? "mdev",
  resourceType: (t) => t.mdevType,
  targetJson: (t) => ({
    kind: "mdev",
    name: t.name,
    parent: t.parent,
    mdevType: t.mdevType,
    uuid: t.uuid,
    create: t.create,
    address: null,
  }),
  targetFromJson(o) {
    if (o.kind !== "mdev") return null;
    const parent = jsonStr(o.parent);
    const mdevType = jsonStr(o.mdevType);
    if (!parent || !mdevType) return null;
    // cli.md's JSON has no parent address: the parent's node device name carries it
    const parentAddress = pciAddressOfNodeName(parent);
    const name = jsonStr(o.name);
    return {
      kind: "mdev",
      name,
      parent,
      parentAddress,
      mdevType,
      uuid: jsonStr(o.uuid),
      create: o.create === true,
    };
  },
  targetLine: (t) =>
    `${t.create ? "create" : "use existing"} mdev ${t.mdevType} on ${t.parent} uuid ${t.uuid}`,
  targetCell: (t) => `${t.create ? "new" : "existing"} ${t.mdevType} on ${t.parent}`,
};
