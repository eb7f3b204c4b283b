/**
 * PCI addresses from <address> attributes (src/xml/address.ts): the
 * remembered addresses give the same answers as a first read, and a bad
 * address is refused every time, also after a valid one that looks like it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  normaliseId16,
  parseDecimalUInt,
  parseLibvirtUInt,
  pciAddressFromAttrs,
} from "../../src/xml/address.js";

const read = (attrs: Record<string, string>) => pciAddressFromAttrs(attrs, "f.xml", "test");

describe("pciAddressFromAttrs", () => {
  it.each([
    [{ domain: "0x0000", bus: "0x81", slot: "0x00", function: "0x4" }, "0000:81:00.4"],
    [{ bus: "0x81", slot: "0x00" }, "0000:81:00.0"],
    [{ domain: "0", bus: "129", slot: "0", function: "4" }, "0000:81:00.4"],
    [{ domain: "0x1", bus: "010", slot: "0x1f", function: "7" }, "0001:08:1f.7"],
  ])("%o -> %s, the first time and again", (attrs, want) => {
    expect(read(attrs)).toBe(want);
    expect(read({ ...attrs })).toBe(want);
  });

  it.each([
    [{ bus: "0x81", slot: "0x20" }, /slot/],
    [{ bus: "0x81", slot: "0x00", function: "8" }, /function/],
    [{ slot: "0x00" }, /no 'bus'/],
    [{ domain: "undefined", bus: "0x81", slot: "0x00" }, /domain='undefined' is not a number/],
    [{ domain: "0", bus: "0x81", slot: "0x00", function: "x" }, /function='x'/],
  ])("%o is refused, also after a valid address was read", (attrs, msg) => {
    read({ bus: "0x81", slot: "0x00" });
    read({ domain: "0", bus: "0x81", slot: "0x00", function: "0" });
    expect(() => read(attrs)).toThrow(msg);
    expect(() => read(attrs)).toThrow(msg);
  });
});

// The general paths, as they were before the quick ones (regexes only).
function refLibvirt(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = text.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else if (/^0[0-7]+$/.test(s)) n = Number.parseInt(s.slice(1), 8);
  else if (/^[0-9]+$/.test(s)) n = Number.parseInt(s, 10);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}
function refDecimal(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const s = text.trim();
  let n: number;
  if (/^[0-9]+$/.test(s)) n = Number.parseInt(s, 10);
  else if (/^0[xX][0-9a-fA-F]+$/.test(s)) n = Number.parseInt(s.slice(2), 16);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}
function refId16(raw: string): string | null {
  const s = raw.trim().replace(/^0[xX]/, "");
  if (!/^[0-9a-fA-F]{1,4}$/.test(s)) return null;
  return s.toLowerCase().padStart(4, "0");
}

describe("the quick number paths answer as the regex ones", () => {
  const numberish = fc.oneof(
    fc.stringMatching(/^ ?(0[xX])?[0-9a-fA-FgG]{0,12} ?$/),
    fc.stringMatching(/^0?[0-9]{0,11}$/),
    fc.string({ maxLength: 6 }),
  );
  it("parseLibvirtUInt, parseDecimalUInt, normaliseId16", () => {
    fc.assert(
      fc.property(numberish, (s) => {
        expect(parseLibvirtUInt(s)).toBe(refLibvirt(s));
        expect(parseDecimalUInt(s)).toBe(refDecimal(s));
        let got: string | null;
        try {
          got = normaliseId16(s, "f", "w");
        } catch {
          got = null;
        }
        expect(got).toBe(refId16(s));
      }),
      { numRuns: 5000 },
    );
  });
  it.each(["0x10de", "0x0", "0", "007", "010", "0x", "0xFFFFFFFF", "123456789", "1234567890", " 5", "0X1F"])(
    "%j",
    (s) => {
      expect(parseLibvirtUInt(s)).toBe(refLibvirt(s));
      expect(parseDecimalUInt(s)).toBe(refDecimal(s));
    },
  );
});
