import { describe, expect, it } from "vitest";
import { sameUsbIds, usbNotReserved } from "../../src/candidates/kinds/usb.js";
import type { NodeDevice } from "../../src/model.js";
import { fakeHost } from "./fake-host.js";

const ids = { vendorId: "046d", productId: "c52b" };
const usb = (vendorId: string, productId: string): NodeDevice => ({
  name: "usb_1_2",
  driver: "usb",
  caps: ["usb_device"],
  usb: { vendorId, productId },
});

describe("sameUsbIds", () => {
  it.each([
    { case: "same ids", nd: usb("046d", "c52b"), expected: null },
    { case: "other product", nd: usb("046d", "c077"), expected: "usb-device-missing" },
    {
      case: "not a USB device",
      nd: { name: "pci_x", driver: null, caps: ["pci"] },
      expected: "usb-device-missing",
    },
  ])("$case -> $expected", ({ nd, expected }) => {
    expect(sameUsbIds({ host: fakeHost({}), nd, ids })?.code ?? null).toBe(expected);
  });
});

describe("usbNotReserved", () => {
  it.each([
    { case: "free", host: fakeHost({}), expected: null },
    {
      case: "used by a domain",
      host: fakeHost({ reserved: [["usb:usb_1_2", { by: "domain", name: "vm2" }]] }),
      expected: "usb-device-missing",
    },
  ])("$case -> $expected", ({ host, expected }) => {
    const r = usbNotReserved({ host, nd: usb("046d", "c52b"), ids });
    expect(r?.code ?? null).toBe(expected);
    if (r) expect(r.message).toMatch(/used by a domain/);
  });
});
