/**
 * The node device reader as it was before it read the flat XmlDoc
 * (src/xml/nodedev.ts): over the full element tree of scanXml. Kept as the
 * oracle of test/xml/nodedev.test.ts, which checks both read the same models
 * and fail on the same files.
 */
import { InputError } from "../../src/errors.js";
import type { IommuGroup, MdevCap, MdevType, NetCap, NodeDevice, PciCap, UsbCap } from "../../src/model.js";
import {
  formatPciAddress,
  normaliseId16,
  parseDecimalUInt,
  pciAddressFromAttrs,
} from "../../src/xml/address.js";
import {
  child,
  childrenNamed,
  childText,
  parseXmlRoots,
  textOf,
  type XmlElement,
} from "../../src/xml/parse.js";

function parseRoots(text: string, file: string): XmlElement[] {
  return parseXmlRoots(text, file, true);
}

export function readNodeDevicesReference(text: string, file: string): NodeDevice[] {
  const roots = parseRoots(text, file);
  const out: NodeDevice[] = [];
  for (const r of roots) {
    if (r.name === "devices") {
      for (const c of r.children) out.push(readNodeDevice(c, file));
    } else {
      out.push(readNodeDevice(r, file));
    }
  }
  return out;
}

export function readNodeDevice(el: XmlElement, file: string): NodeDevice {
  if (el.name !== "device") {
    throw new InputError(
      `${file}: expected node device XML (root element <device>), found <${el.name}>`,
      file,
    );
  }
  const name = childText(el, "name");
  if (!name) throw new InputError(`${file}: node device XML has no <name>`, file);
  const what = `node device '${name}'`;
  const dev: NodeDevice = { name, driver: childText(child(el, "driver"), "name") ?? null, caps: [] };
  const path = childText(el, "path");
  if (path !== undefined) dev.path = path;
  const parent = childText(el, "parent");
  if (parent !== undefined) dev.parent = parent;

  for (const cap of childrenNamed(el, "capability")) {
    const type = cap.attrs.type;
    if (!type) throw new InputError(`${file}: ${what}: <capability> without a type attribute`, file);
    dev.caps.push(type);
    switch (type) {
      case "pci":
        dev.pci ??= readPci(cap, file, what);
        break;
      case "mdev":
        dev.mdev ??= readMdev(cap, file, what);
        break;
      case "css": {
        const addr = readCcwAddr(cap, file, what);
        const cda = child(cap, "channel_dev_addr");
        if (cda) readCcwAddr(cda, file, `${what} <channel_dev_addr>`);
        dev.css ??= { ...addr, mdevTypes: nestedMdevTypes(cap, file, what) };
        break;
      }
      case "ccw":
        readCcwAddr(cap, file, what);
        break;
      case "ap_matrix":
        dev.apMatrix ??= { mdevTypes: nestedMdevTypes(cap, file, what) };
        break;
      case "usb_device":
        dev.usb ??= readUsb(cap, file, what);
        break;
      case "net":
        dev.net ??= readNet(cap);
        break;
      default:
        break;
    }
  }
  return dev;
}

// ---- pci -----------------------------------------------------------------------

function readPci(cap: XmlElement, file: string, what: string): PciCap {
  const part = (k: string): number => {
    const raw = childText(cap, k);
    if (raw === undefined) {
      throw new InputError(`${file}: ${what}: PCI capability has no <${k}> (address incomplete)`, file);
    }
    const n = parseDecimalUInt(raw);
    if (n === undefined)
      throw new InputError(`${file}: ${what}: PCI <${k}>${raw}</${k}> is not a number`, file);
    return n;
  };
  const address = formatPciAddress(part("domain"), part("bus"), part("slot"), part("function"));
  const vendor = child(cap, "vendor");
  const product = child(cap, "product");
  if (vendor?.attrs.id === undefined || product?.attrs.id === undefined) {
    throw new InputError(
      `${file}: ${what}: PCI capability needs <vendor id='...'> and <product id='...'>`,
      file,
    );
  }
  const pci: PciCap = {
    address,
    vendorId: normaliseId16(vendor.attrs.id, file, `${what} PCI vendor id`),
    productId: normaliseId16(product.attrs.id, file, `${what} PCI product id`),
    virtFunctions: [],
    mdevTypes: [],
  };
  const cls = childText(cap, "class");
  if (cls !== undefined) pci.class = cls.toLowerCase();
  const vn = textOf(vendor);
  if (vn !== undefined) pci.vendorName = vn;
  const pn = textOf(product);
  if (pn !== undefined) pci.productName = pn;
  const ig = child(cap, "iommuGroup");
  if (ig) {
    const num = parseDecimalUInt(ig.attrs.number);
    if (num === undefined) {
      throw new InputError(
        `${file}: ${what}: <iommuGroup number='${ig.attrs.number ?? ""}'> is not a number`,
        file,
      );
    }
    const group: IommuGroup = {
      number: num,
      members: childrenNamed(ig, "address").map((a) =>
        pciAddressFromAttrs(a.attrs, file, `${what} iommuGroup`),
      ),
    };
    pci.iommuGroup = group;
  }
  const numa = parseDecimalUInt(child(cap, "numa")?.attrs.node);
  if (numa !== undefined) pci.numaNode = numa;

  for (const sub of childrenNamed(cap, "capability")) {
    switch (sub.attrs.type) {
      case "phys_function": {
        const a = child(sub, "address");
        if (a) pci.physFunction = pciAddressFromAttrs(a.attrs, file, `${what} phys_function`);
        break;
      }
      case "virt_functions": {
        for (const a of childrenNamed(sub, "address")) {
          pci.virtFunctions.push(pciAddressFromAttrs(a.attrs, file, `${what} virt_functions`));
        }
        const max = parseDecimalUInt(sub.attrs.maxCount);
        if (max !== undefined) pci.virtFunctionsMax = max;
        break;
      }
      case "mdev_types":
        pci.mdevTypes.push(...readMdevTypes(sub, file, what));
        break;
      case "vpd":
        pci.vpd = readVpd(sub);
        break;
      default:
        break;
    }
  }
  return pci;
}

/** VPD as a flat record: `name`, `readonly.<field>`, `readwrite.<field>`, `*.vendor_field.<index>`. */
function readVpd(cap: XmlElement): Record<string, string> {
  const out: Record<string, string> = {};
  const name = childText(cap, "name");
  if (name !== undefined) out.name = name;
  for (const fields of childrenNamed(cap, "fields")) {
    const access = fields.attrs.access ?? "unknown";
    for (const f of fields.children) {
      const idx = f.attrs.index;
      const key = idx !== undefined ? `${access}.${f.name}.${idx}` : `${access}.${f.name}`;
      out[key] = f.text.trim();
    }
  }
  return out;
}

// ---- mdev types ------------------------------------------------------------------

function readMdevTypes(cap: XmlElement, file: string, what: string): MdevType[] {
  return childrenNamed(cap, "type").map((t) => {
    const id = t.attrs.id;
    if (!id) throw new InputError(`${file}: ${what}: mdev_types <type> without an id attribute`, file);
    const mt: MdevType = { id };
    const name = childText(t, "name");
    if (name !== undefined) mt.name = name;
    const api = childText(t, "deviceAPI");
    if (api !== undefined) mt.deviceAPI = api;
    const raw = childText(t, "availableInstances");
    if (raw !== undefined && /^[0-9]+$/.test(raw)) {
      const n = Number.parseInt(raw, 10);
      if (Number.isSafeInteger(n)) mt.availableInstances = n;
    }
    return mt;
  });
}

function nestedMdevTypes(cap: XmlElement, file: string, what: string): MdevType[] {
  const out: MdevType[] = [];
  for (const sub of childrenNamed(cap, "capability")) {
    if (sub.attrs.type === "mdev_types") out.push(...readMdevTypes(sub, file, what));
  }
  return out;
}

// ---- mdev --------------------------------------------------------------------------

function readMdev(cap: XmlElement, file: string, what: string): MdevCap {
  const type = child(cap, "type")?.attrs.id;
  if (!type) throw new InputError(`${file}: ${what}: mdev capability has no <type id='...'/>`, file);
  const m: MdevCap = {
    type,
    attrs: childrenNamed(cap, "attr").map((a) => ({ name: a.attrs.name ?? "", value: a.attrs.value ?? "" })),
  };
  const uuid = childText(cap, "uuid");
  if (uuid !== undefined) m.uuid = uuid.toLowerCase();
  const ig = child(cap, "iommuGroup");
  if (ig) {
    const n = parseDecimalUInt(ig.attrs.number);
    if (n === undefined) {
      throw new InputError(
        `${file}: ${what}: <iommuGroup number='${ig.attrs.number ?? ""}'> is not a number`,
        file,
      );
    }
    m.iommuGroup = n;
  }
  return m;
}

// ---- css / ccw ---------------------------------------------------------------------

/** cssid/ssid/devno (hex, as libvirt writes them), range-checked like libvirt does. */
function readCcwAddr(
  el: XmlElement,
  file: string,
  what: string,
): { cssid?: string; ssid?: string; devno?: string } {
  const limits: [string, number][] = [
    ["cssid", 0xfe],
    ["ssid", 0x3],
    ["devno", 0xffff],
  ];
  const out: { cssid?: string; ssid?: string; devno?: string } = {};
  for (const [k, max] of limits) {
    const raw = childText(el, k);
    if (raw === undefined) continue;
    const s = raw.replace(/^0[xX]/, "");
    const n = /^[0-9a-fA-F]+$/.test(s) ? Number.parseInt(s, 16) : Number.NaN;
    if (!Number.isFinite(n) || n > max) {
      throw new InputError(
        `${file}: ${what}: ${k} '${raw}' is not a valid value (hex, at most 0x${max.toString(16)})`,
        file,
      );
    }
    out[k as "cssid" | "ssid" | "devno"] = raw;
  }
  return out;
}

// ---- usb / net -----------------------------------------------------------------------

function readUsb(cap: XmlElement, file: string, what: string): UsbCap {
  const vendor = child(cap, "vendor");
  const product = child(cap, "product");
  if (vendor?.attrs.id === undefined || product?.attrs.id === undefined) {
    throw new InputError(`${file}: ${what}: usb_device capability needs <vendor id> and <product id>`, file);
  }
  const u: UsbCap = {
    vendorId: normaliseId16(vendor.attrs.id, file, `${what} USB vendor id`),
    productId: normaliseId16(product.attrs.id, file, `${what} USB product id`),
  };
  const bus = parseDecimalUInt(childText(cap, "bus"));
  if (bus !== undefined) u.bus = bus;
  const device = parseDecimalUInt(childText(cap, "device"));
  if (device !== undefined) u.device = device;
  const vn = textOf(vendor);
  if (vn !== undefined) u.vendorName = vn;
  const pn = textOf(product);
  if (pn !== undefined) u.productName = pn;
  return u;
}

function readNet(cap: XmlElement): NetCap {
  const n: NetCap = { interface: childText(cap, "interface") ?? "" };
  const addr = childText(cap, "address");
  if (addr !== undefined) n.address = addr.toLowerCase();
  const state = child(cap, "link")?.attrs.state;
  if (state !== undefined) n.linkState = state;
  return n;
}
