import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  descriptorFromJson,
  normalizeDeviceId,
  parseDescriptor,
  printDescriptor,
} from "../../src/descriptors/text.js";
import { InputError } from "../../src/errors.js";
import type { DescriptorData } from "../../src/model.js";
import { SEED } from "./fixtures.js";

function err(text: string): string {
  try {
    parseDescriptor(text, "f.conf");
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  throw new Error("expected an InputError");
}

describe("parseDescriptor", () => {
  it("parses the seed example", () => {
    const d = parseDescriptor(SEED, "seed.conf");
    expect(d.self).toEqual({
      device_api: "vfio-pci",
      device_type: "pci",
      device_id: "8086591d",
      mdev_type: "i915-GVTg_V5_2",
      aggregator: "1",
      pv_mode: "none+ppgtt+context",
      interface_version: "3",
    });
    expect(d.compatible).toHaveLength(1);
    expect(d.compatible[0]).toEqual({
      device_type: "pci",
      device_id: "8086591d",
      mdev_type: "i915-GVTg_V5_{val1:int:1,2,4,8}",
      aggregator: "{val1}/2",
      pv_mode: '{val2:string:"none+ppgtt","none+context","none+ppgtt+context"}',
      interface_version: "{val3:int:2,3}",
    });
  });

  it("trims spaces, accepts CRLF, quoted == unquoted, escapes", () => {
    const d = parseDescriptor(
      '  a = x  \r\nb="x"\nc = "say \\"hi\\" \\\\ ok"\nd=""\n\ne= " padded "\n   # indented comment\n',
      "f",
    );
    expect(d.self).toEqual({ a: "x", b: "x", c: 'say "hi" \\ ok', d: "", e: " padded " });
  });

  it("opens a new section at each COMPATIBLE: line (empty sections allowed)", () => {
    const d = parseDescriptor("a=1\nCOMPATIBLE:\na=1\nCOMPATIBLE:\n  COMPATIBLE:  \nb={x:int:1..3}\n", "f");
    expect(d.compatible).toEqual([{ a: "1" }, {}, { b: "{x:int:1..3}" }]);
  });

  it("the same key may appear in different sections", () => {
    expect(parseDescriptor("a=1\nCOMPATIBLE:\na=1\nCOMPATIBLE:\na=2\n", "f").compatible).toEqual([
      { a: "1" },
      { a: "2" },
    ]);
  });

  it.each([
    ["8086:591d", "8086591d"],
    ["0x8086 0x591d", "8086591d"],
    ["8086591D", "8086591d"],
    ["0x8086:0x591D", "8086591d"],
    ["15b3:101e", "15b3101e"],
    ["0.0.1234", "0.0.1234"],
  ])("normalises device id %s", (input, out) => {
    expect(normalizeDeviceId(input)).toBe(out);
  });

  it("normalises device_id and pf_device_id on input, also literal section values", () => {
    const d = parseDescriptor(
      'device_id=8086:591D\npf_device_id="0x15b3 0x101d"\nCOMPATIBLE:\ndevice_id=0x8086 0x591d\npf_device_id={p:string:"15b3101d"}\n',
      "f",
    );
    expect(d.self).toEqual({ device_id: "8086591d", pf_device_id: "15b3101d" });
    expect(d.compatible[0]).toEqual({ device_id: "8086591d", pf_device_id: '{p:string:"15b3101d"}' });
  });

  it("accepts version keys as versions, ranges and int lists", () => {
    const d = parseDescriptor(
      'software_version=1.2\nCOMPATIBLE:\nsoftware_version=">=1.2 <2"\ninterface_version={v:int:1..3}\nx_version=^1.4\nCOMPATIBLE:\nsoftware_version={s:string:"1.2","~2.1"}\n',
      "f",
    );
    expect(d.compatible[0]!.software_version).toBe(">=1.2 <2");
    expect(d.compatible).toHaveLength(2);
  });

  describe("errors name FILE:LINE:COL and what was expected", () => {
    it.each([
      [
        "duplicate key in self",
        "a=1\n  a=2\n",
        "f.conf:2:3: duplicate key 'a' in the self section (first on line 1)",
      ],
      [
        "duplicate key in section",
        "a=1\nCOMPATIBLE:\nb=1\nb=2\n",
        "f.conf:4:1: duplicate key 'b' in the COMPATIBLE: section 1",
      ],
      [
        "not key=value",
        "a=1\njust some text\n",
        "f.conf:2:1: 'just some text' is not a key=value line; expected key=value",
      ],
      [
        "bad key character",
        "device-api=vfio-pci\n",
        "f.conf:1:7: invalid key 'device-api' (unexpected '-'); expected a key matching",
      ],
      ["upper-case key", "Device_api=vfio-pci\n", "f.conf:1:1: invalid key 'Device_api'"],
      [
        "lower-case header",
        "a=1\ncompatible:\n",
        "f.conf:2:1: 'compatible:' is not a section header; expected COMPATIBLE:",
      ],
      [
        "unterminated quote",
        'a=1\nb = "abc\n',
        "f.conf:2:5: unterminated quoted value; expected a closing '\"'",
      ],
      [
        "text after quote",
        'a="x" y\n',
        "f.conf:1:7: unexpected text after the closing quote; expected the end of the line",
      ],
      [
        "unknown escape",
        'a="x\\n"\n',
        "f.conf:1:5: unknown escape '\\n' in quoted value; expected \\\" or \\\\",
      ],
      [
        "unknown placeholder type",
        "a=1\nCOMPATIBLE:\nmdev_type=i915-{v:float:1,2}\n",
        "f.conf:3:19: unknown placeholder type 'float'; expected int or string",
      ],
      [
        "variable declared twice differently",
        "COMPATIBLE:\na={v:int:1,2}\nb=x{v:int:1,3}\n",
        "f.conf:3:4: variable 'v' declared again with a different list; expected the same int list",
      ],
      [
        "undeclared reference",
        "COMPATIBLE:\na=1\naggregator={val9}/2\n",
        "f.conf:3:12: reference to undeclared variable 'val9'; expected a declaration",
      ],
      [
        "placeholder in self",
        "mdev_type=i915-GVTg_V5_{val1:int:1,2}\n",
        "f.conf:1:24: placeholder in the self section; expected a literal value",
      ],
      [
        "bad int list",
        "COMPATIBLE:\na={v:int:1,x,3}\n",
        "f.conf:2:12: bad int list item 'x'; expected comma-separated integers",
      ],
      ["empty int item", "COMPATIBLE:\na={v:int:1,,3}\n", "f.conf:2:12: empty item in int list"],
      [
        "reversed range",
        "COMPATIBLE:\na={v:int:9..2}\n",
        "f.conf:2:10: bad range '9..2': 9 > 2; expected a range a..b with a <= b",
      ],
      [
        "unterminated placeholder",
        "COMPATIBLE:\na=x{v:int:1,2\n",
        "f.conf:2:4: unterminated placeholder; expected '}'",
      ],
      [
        "bad brace",
        "COMPATIBLE:\na=x{ v}\n",
        "f.conf:2:5: '{' does not start a placeholder; expected {name}",
      ],
      [
        "empty string list",
        "COMPATIBLE:\na={v:string:}\n",
        "f.conf:2:13: empty string list; expected comma-separated double-quoted strings",
      ],
      [
        "unquoted string item",
        "COMPATIBLE:\na={v:string:abc}\n",
        "f.conf:2:13: unexpected 'a' in string list",
      ],
      [
        "unterminated string item",
        'COMPATIBLE:\na={v:string:"abc}\n',
        "f.conf:2:13: unterminated quoted string",
      ],
      ["division by zero", "COMPATIBLE:\na={v:int:1}/0\n", "f.conf:2:13: arithmetic '/0'"],
      [
        "vfio-mdev in self",
        "device_api=vfio-mdev\n",
        "f.conf:1:12: device_api 'vfio-mdev' names a driver, not a VFIO device API; expected the API the guest sees: vfio-pci, vfio-ccw, vfio-ap",
      ],
      [
        "vfio-mdev in a section",
        "device_api=vfio-pci\nCOMPATIBLE:\ndevice_api=vfio-mdev\n",
        "f.conf:3:12: device_api 'vfio-mdev'",
      ],
      [
        "self version not a version",
        "software_version=v1\n",
        "f.conf:1:18: 'v1' is not a version; expected MAJOR[.MINOR[.BUGFIX]]",
      ],
      [
        "section version not a version",
        "COMPATIBLE:\nsoftware_version=1.x\n",
        "f.conf:2:18: '1.x' is not a version or version range; expected MAJOR[.MINOR[.BUGFIX]], a semver range",
      ],
      [
        "bad range",
        "COMPATIBLE:\nsoftware_version=>=abc <2\n",
        "f.conf:2:18: '>=abc <2' is not a version or version range",
      ],
      [
        "bad version list item",
        'COMPATIBLE:\nsoftware_version={s:string:"1.2","nope"}\n',
        "f.conf:2:18: 'nope' in the list of software_version is not a version or version range",
      ],
      [
        "column inside a quoted value",
        'COMPATIBLE:\na = "x\\"{v:foo:1}"\n',
        "f.conf:2:12: unknown placeholder type 'foo'",
      ],
    ])("%s", (_name, text, message) => {
      expect(err(text)).toContain(message);
    });

    it("messages are one line and say what was expected", () => {
      const m = err("COMPATIBLE:\na={v:int:1,x}\n");
      expect(m).not.toContain("\n");
      expect(m).toMatch(/^f\.conf:\d+:\d+: .+; expected .+/);
    });
  });
});

describe("printDescriptor", () => {
  it("prints the seed so that it parses back identically", () => {
    const d = parseDescriptor(SEED, "seed.conf");
    expect(parseDescriptor(printDescriptor(d), "x")).toEqual(d);
  });

  it("quotes values that need it", () => {
    const d: DescriptorData = {
      self: { a: "", b: " x", c: '"q', d: "plain" },
      compatible: [{ e: '{v:string:"a b"}' }],
    };
    const text = printDescriptor(d);
    expect(text).toContain('a=""');
    expect(text).toContain('c="\\"q"');
    expect(text).toContain("d=plain");
    expect(parseDescriptor(text, "x")).toEqual(d);
  });

  const keyArb = fc
    .stringMatching(/^[a-z][a-z0-9_]{0,8}$/)
    .filter((k) => !k.endsWith("_version") && k !== "device_api");
  const textArb = fc.string({
    unit: fc.constantFrom("a", "b", " ", '"', "\\", "-", "+", "1", ".", "#", "=", "}", ":", ","),
  });
  const selfValue = textArb.filter((v) => !v.includes("{") && !/[\n\r]/.test(v));
  const idArb = fc.stringMatching(/^[0-9a-f]{8}$/);
  const versionArb = fc
    .tuple(fc.nat(50), fc.option(fc.nat(50)), fc.option(fc.nat(50)))
    .map(([a, b, c]) => [a, b, b !== null ? c : null].filter((x) => x !== null).join("."));
  const intList = fc
    .array(
      fc.oneof(
        fc.integer({ min: -5, max: 100 }).map(String),
        fc.tuple(fc.nat(50), fc.nat(50)).map(([a, b]) => `${a}..${a + b}`),
      ),
      {
        minLength: 1,
        maxLength: 4,
      },
    )
    .map((xs) => xs.join(","));
  const strItem = fc.string({ unit: fc.constantFrom("a", "b", " ", '"', "\\", ",", "}", "{") });
  const strList = fc
    .array(strItem, { minLength: 1, maxLength: 3 })
    .map((xs) => xs.map((x) => `"${x.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(","));
  const sectionArb = fc
    .array(
      fc.tuple(
        keyArb,
        fc.oneof(
          selfValue,
          fc
            .tuple(
              selfValue.filter((s) => !s.includes("{")),
              intList,
            )
            .map(([p, l]) => `${p}{n:int:${l}}`),
          strList.map((l) => `{s:string:${l}}`),
          fc.constantFrom("{r}/2", "{r}*3", "{r}+1", "{r}-4"),
        ),
      ),
      { maxLength: 5 },
    )
    .map((entries) => {
      const s: Record<string, string> = {};
      const seen = new Set<string>();
      for (const [k, v] of entries) {
        // one declaration per variable name per section; {r} needs a declaration
        const name = /\{(n|s):/.exec(v)?.[1];
        if (name && seen.has(name)) continue;
        if (name) seen.add(name);
        s[k] = v;
      }
      if (Object.values(s).some((v) => v.startsWith("{r}"))) s.r_decl = "{r:int:1..8}";
      return s;
    });
  const descArb = fc.record({
    self: fc
      .record({
        fields: fc.dictionary(keyArb, selfValue, { maxKeys: 5 }),
        device_id: fc.option(idArb),
        software_version: fc.option(versionArb),
        device_api: fc.option(fc.constantFrom("vfio-pci", "vfio-ccw")),
      })
      .map(({ fields, ...rest }) => {
        const self: Record<string, string> = { ...fields };
        for (const [k, v] of Object.entries(rest)) if (v !== null) self[k] = v;
        return self;
      }),
    compatible: fc.array(sectionArb, { maxLength: 3 }),
  });

  it("property: parse(print(d)) deep-equals d", () => {
    fc.assert(
      fc.property(descArb, (d) => {
        expect(parseDescriptor(printDescriptor(d), "gen.conf")).toEqual(d);
      }),
      { numRuns: 500 },
    );
  });
});

describe("descriptorFromJson", () => {
  it("validates and normalises", () => {
    const d = descriptorFromJson(
      {
        self: { device_api: "vfio-pci", device_id: "8086:591d" },
        compatible: [{ aggregator: "{v:int:1,2}/2" }],
      },
      "snap.json",
    );
    expect(d).toEqual({
      self: { device_api: "vfio-pci", device_id: "8086591d" },
      compatible: [{ aggregator: "{v:int:1,2}/2" }],
    });
    expect(descriptorFromJson({ self: {} }, "x")).toEqual({ self: {}, compatible: [] });
  });

  it.each([
    [null, "x: descriptor must be an object"],
    [{ self: [] }, "x: self: expected an object"],
    [{ self: { a: 1 } }, "x: self.a: expected a string value"],
    [{ self: { "Bad-Key": "1" } }, "x: self: invalid key 'Bad-Key'"],
    [{ self: {}, compatible: {} }, "x: compatible must be an array"],
    [{ self: {}, compatible: [{ a: "{v}" }] }, "x: compatible[0].a: reference to undeclared variable 'v'"],
    [{ self: { a: "{v}" } }, "x: self.a: placeholder in the self section"],
    [{ self: { device_api: "vfio-mdev" } }, "x: self.device_api: device_api 'vfio-mdev' names a driver"],
    [{ self: { a: "x\ny" } }, "x: self.a: value contains a line break"],
    ['{"self":{"__proto__":"1"}}', "x: self: invalid key '__proto__'"],
  ])("rejects %j", (value, message) => {
    if (typeof value === "string") value = JSON.parse(value);
    expect(() => descriptorFromJson(JSON.parse(JSON.stringify(value)) as unknown, "x")).toThrow(InputError);
    expect(() => descriptorFromJson(JSON.parse(JSON.stringify(value)) as unknown, "x")).toThrow(message);
  });
});
