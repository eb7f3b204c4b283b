/**
 * Network XML (formatnetwork) and network port XML (formatnetworkport)
 * readers, for hostdev pools (<forward mode='hostdev'>).
 */
import { InputError } from "../errors.js";
import type { NetworkInfo } from "../model.js";
import { parseDecimalUInt, pciAddressFromAttrs } from "./address.js";
import { child, childrenNamed, childText, parseXml, type XmlElement } from "./parse.js";

/** NetworkInfo plus the netdev names of <forward><interface dev>/<pf dev>. */
export interface NetworkInfoEx extends NetworkInfo {
  /** <forward><pf dev='...'>: a netdev name (libvirt's pool PF), not a PCI address. */
  pfDev?: string;
  /** <forward><interface dev='...'> netdev names, in order. */
  interfaceDevs: string[];
}

export function readNetwork(text: string, file: string): NetworkInfoEx {
  return readNetworkElement(parseXml(text, file), file);
}

export function readNetworkElement(el: XmlElement, file: string): NetworkInfoEx {
  if (el.name !== "network") {
    throw new InputError(`${file}: expected network XML (root element <network>), found <${el.name}>`, file);
  }
  const name = childText(el, "name");
  if (!name) throw new InputError(`${file}: network XML has no <name>`, file);
  const what = `network '${name}'`;
  const info: NetworkInfoEx = { name, functions: [], interfaceDevs: [] };
  const uuid = childText(el, "uuid");
  if (uuid !== undefined) info.uuid = uuid.toLowerCase();
  const fwd = child(el, "forward");
  if (fwd) {
    // libvirt's default forward mode is nat when <forward> is present.
    info.forwardMode = fwd.attrs.mode ?? "nat";
    if (fwd.attrs.connections !== undefined) {
      const n = parseDecimalUInt(fwd.attrs.connections);
      if (n === undefined) {
        throw new InputError(
          `${file}: ${what}: <forward connections='${fwd.attrs.connections}'> is not a number`,
          file,
        );
      }
      info.connections = n;
    }
    const pf = child(fwd, "pf");
    if (pf?.attrs.dev !== undefined) {
      info.pfDev = pf.attrs.dev;
      // Model field `pf`: the PF as given (a netdev name in libvirt's schema).
      info.pf = pf.attrs.dev;
    }
    for (const a of childrenNamed(fwd, "address")) {
      const type = a.attrs.type ?? "pci";
      if (type !== "pci") continue;
      info.functions.push(pciAddressFromAttrs(a.attrs, file, `${what} <forward><address>`));
    }
    for (const i of childrenNamed(fwd, "interface")) {
      if (i.attrs.dev !== undefined) info.interfaceDevs.push(i.attrs.dev);
    }
  }
  return info;
}

/**
 * Network port XML (virNetworkPortGetXMLDesc):
 * `<networkport><owner>..</owner><plug type='hostdev-pci'><address .../></plug>`.
 * `network` is the <network> child's name when present (older/other formats);
 * `hostdevAddress` the PCI function a hostdev-pci plug hands out.
 */
export function readNetworkPort(
  text: string,
  file: string,
): { network?: string; hostdevAddress?: string; owner?: string } {
  const el = parseXml(text, file);
  if (el.name !== "networkport") {
    throw new InputError(
      `${file}: expected network port XML (root element <networkport>), found <${el.name}>`,
      file,
    );
  }
  const out: { network?: string; hostdevAddress?: string; owner?: string } = {};
  const owner = childText(child(el, "owner"), "name");
  if (owner !== undefined) out.owner = owner;
  const net = child(el, "network");
  const netName = net ? (net.attrs.name ?? childText(net, "name")) : undefined;
  if (netName !== undefined) out.network = netName;
  const plug = child(el, "plug");
  if (plug?.attrs.type === "hostdev-pci") {
    const a = child(plug, "address");
    if (!a)
      throw new InputError(`${file}: network port: <plug type='hostdev-pci'> has no <address .../>`, file);
    out.hostdevAddress = pciAddressFromAttrs(a.attrs, file, "network port <plug><address>");
  }
  return out;
}
