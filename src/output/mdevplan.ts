/**
 * Creation plan for the mdevs a host must create (assignments with
 * target.create): node device XML for `virsh nodedev-define` +
 * `nodedev-start`, and the equivalent `mdevctl` command.
 */
import type { AssignmentTarget } from "../candidates/types.js";
import type { HostReport } from "../pipeline.js";
import { escapeXmlAttr, escapeXmlText } from "./rewrite.js";

export interface MdevStep {
  device: string;
  parent: string;
  /** Parent as mdevctl wants it: a PCI address (0000:3b:00.0) or the node device name otherwise. */
  parentAddress: string;
  mdevType: string;
  uuid: string;
  attrs: { name: string; value: string }[];
  /** Node device XML for `virsh nodedev-define FILE` (then `virsh nodedev-start mdev_UUID_PARENTADDR`). */
  nodedevXml: string;
  virsh: string[];
  mdevctl: string;
}

/**
 * The PCI address in a PCI node device's name (`pci_0000_3b_00_0` ->
 * `0000:3b:00.0`), else null. libvirt names a udev device SUBSYSTEM_SYSNAME
 * with every non-alphanumeric character made `_` (src/node_device/
 * node_device_udev.c udevGenerateDeviceName -> nodeDeviceGenerateName), and a
 * PCI function's sysname is its address.
 */
export function pciAddressOfNodeName(name: string): string | null {
  const pci = /^pci_([0-9a-f]{4})_([0-9a-f]{2})_([0-9a-f]{2})_([0-7])$/i.exec(name);
  return pci ? `${pci[1]}:${pci[2]}:${pci[3]}.${pci[4]}`.toLowerCase() : null;
}

/** `pci_0000_3b_00_0` -> `0000:3b:00.0`; css_0_0_0023 -> 0.0.0023; other names unchanged. */
export function parentAddressOf(parent: string): string {
  const pci = pciAddressOfNodeName(parent);
  if (pci) return pci;
  const css = /^css_([0-9a-f])_([0-9a-f])_([0-9a-f]{4})$/i.exec(parent);
  if (css) return `${css[1]}.${css[2]}.${css[3]}`.toLowerCase();
  if (parent === "ap_matrix") return "matrix";
  return parent;
}

/**
 * The node device name libvirt gives a defined mdev: "mdev_<uuid>_<parent
 * address>" with every non-alphanumeric character replaced by "_", where the
 * parent address is the PCI address (0000:3b:00.0), the CCW address
 * (0.0.0052) or "matrix" — not the parent's node device name. libvirt
 * src/node_device/node_device_driver.c: mdevGenerateDeviceName() calls
 * nodeDeviceGenerateName(def, "mdev", uuid, mdev.parent_addr), and
 * parent_addr comes from nodeDeviceObjFormatAddress(). The corpus file
 * mdevctl/mdev_c60cc60c_c60c_c60c_c60c_c60cc60cc60c_update.xml shows one
 * (parent css_0_0_0052, name mdev_c60cc60c_…_0_0_0052).
 */
export function mdevNodeDeviceName(uuid: string, parent: string): string {
  return `mdev_${uuid}_${parentAddressOf(parent)}`.replace(/[^A-Za-z0-9]/g, "_");
}

export function mdevNodedevXml(
  parent: string,
  mdevType: string,
  uuid: string,
  attrs: { name: string; value: string }[] = [],
): string {
  const lines = [
    "<device>",
    `  <parent>${escapeXmlText(parent)}</parent>`,
    "  <capability type='mdev'>",
    `    <type id='${escapeXmlAttr(mdevType)}'/>`,
    `    <uuid>${escapeXmlText(uuid)}</uuid>`,
  ];
  for (const a of attrs)
    lines.push(`    <attr name='${escapeXmlAttr(a.name)}' value='${escapeXmlAttr(a.value)}'/>`);
  lines.push("  </capability>", "</device>");
  return `${lines.join("\n")}\n`;
}

function shq(s: string): string {
  return /^[A-Za-z0-9_./:@=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function mdevStepFor(
  device: string,
  t: AssignmentTarget | null,
  attrs: { name: string; value: string }[] = [],
): MdevStep {
  if (t?.kind !== "mdev" || !t.create || !t.uuid) {
    throw new Error(`${device}: not an mdev to create (needs parent, type and uuid)`);
  }
  const parentAddress = t.parentAddress ?? parentAddressOf(t.parent);
  const file = `mdev-${t.uuid}.xml`;
  const virsh = [
    `virsh nodedev-define ${file}`,
    `virsh nodedev-start ${mdevNodeDeviceName(t.uuid, t.parent)}`,
  ];
  let mdevctl = `mdevctl start -u ${t.uuid} -p ${shq(parentAddress)} -t ${shq(t.mdevType)}`;
  if (attrs.length) {
    // mdevctl applies attributes from a JSON config; print the define form.
    const json = JSON.stringify({
      mdev_type: t.mdevType,
      start: "manual",
      attrs: attrs.map((a) => ({ [a.name]: a.value })),
    });
    mdevctl = `mdevctl define -u ${t.uuid} -p ${shq(parentAddress)} --jsonfile /dev/stdin <<< ${shq(json)} && mdevctl start -u ${t.uuid}`;
  }
  return {
    device,
    parent: t.parent,
    parentAddress,
    mdevType: t.mdevType,
    uuid: t.uuid,
    attrs,
    nodedevXml: mdevNodedevXml(t.parent, t.mdevType, t.uuid, attrs),
    virsh,
    mdevctl,
  };
}

/** Every mdev this host must create for the plan, in assignment order. */
export function mdevCreationSteps(host: Pick<HostReport, "assignments">): MdevStep[] {
  const out: MdevStep[] = [];
  for (const a of host.assignments) {
    const t = a.target;
    if (t.kind === "mdev" && t.create && t.uuid) out.push(mdevStepFor(a.device, t));
  }
  return out;
}

/** Human-readable lines for one step. */
export function mdevStepLines(s: MdevStep, indent = "  "): string[] {
  const out = [`${indent}${s.device}: create mdev ${s.mdevType} on ${s.parent} uuid ${s.uuid}`];
  out.push(`${indent}  cat > mdev-${s.uuid}.xml <<'EOF'`);
  for (const l of s.nodedevXml.trimEnd().split("\n")) out.push(`${indent}  ${l}`);
  out.push(`${indent}  EOF`);
  for (const v of s.virsh) out.push(`${indent}  ${v}`);
  out.push(`${indent}  or: ${s.mdevctl}`);
  return out;
}
