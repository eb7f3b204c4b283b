/**
 * The scanner against saxes, a conformant XML 1.0 + Namespaces parser: on
 * every corpus and sample file, and on generated near-XML (mutations of
 * them: character references, prefixes, control characters, truncation,
 * DOCTYPE, ...), both accept or both reject, and on what they accept they
 * report the same element names, attributes and text.
 *
 * hdplan's deliberate exceptions (docs/xml.md), where only hdplan's rejection
 * is asserted:
 * - a DOCTYPE (and so any ENTITY declaration) is refused: no entity expansion,
 *   no external entities; saxes accepts a DOCTYPE;
 * - U+FFFD is refused: it is what invalid UTF-8 decodes to (binary input);
 * - XML 1.1 documents are refused (hdplan reads XML 1.0 only);
 * - an unpaired surrogate is refused (not a Char, XML 1.0 [2]); saxes lets
 *   some through (it cannot come from decoding a file: invalid UTF-8
 *   decodes to U+FFFD).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { SaxesParser } from "saxes";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/errors.js";
import { parseXmlRoots, type XmlElement } from "../../src/xml/parse.js";
import { CORPUS_ROOT, assertCorpus, corpusRequired, xmlFilesUnder } from "../helpers/corpus.js";

interface Norm {
  n: string;
  a: Record<string, string>;
  t: string;
  c: Norm[];
}

function norm(e: XmlElement): Norm {
  return { n: e.name, a: { ...e.attrs }, t: e.text, c: e.children.map(norm) };
}

function hdplan(text: string, multi = false): Norm[] | "error" {
  try {
    return parseXmlRoots(text, "d.xml", multi).map(norm);
  } catch (e) {
    if (e instanceof InputError) return "error";
    throw e;
  }
}

function saxes(text: string): Norm[] | "error" {
  const p = new SaxesParser({ xmlns: true });
  const roots: Norm[] = [];
  const stack: Norm[] = [];
  let failed = false;
  p.on("error", () => {
    failed = true;
  });
  p.on("opentag", (t) => {
    const a: Record<string, string> = {};
    for (const [k, v] of Object.entries(t.attributes)) a[k] = typeof v === "string" ? v : v.value;
    const el: Norm = { n: t.name, a, t: "", c: [] };
    const top = stack[stack.length - 1];
    if (top) top.c.push(el);
    else roots.push(el);
    stack.push(el);
  });
  p.on("closetag", () => {
    stack.pop();
  });
  const onText = (s: string) => {
    const top = stack[stack.length - 1];
    if (top) top.t += s;
  };
  p.on("text", onText);
  p.on("cdata", onText);
  try {
    p.write(text).close();
  } catch {
    failed = true;
  }
  return failed ? "error" : roots;
}

/** hdplan's documented exceptions: it must reject, whatever saxes says. */
function hdplanOnlyRejects(text: string): string | null {
  if (/<!DOCTYPE/i.test(text)) return "DOCTYPE";
  if (text.includes("\uFFFD")) return "U+FFFD";
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text))
    return "unpaired surrogate";
  if (/<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*["']1\.[1-9]/.test(text)) return "XML 1.1";
  return null;
}

function agree(text: string): void {
  const a = hdplan(text);
  const why = hdplanOnlyRejects(text);
  if (why) {
    expect(a, `${why} must be refused:\n${text}`).toBe("error");
    return;
  }
  const b = saxes(text);
  expect(a, `hdplan vs saxes on:\n${JSON.stringify(text)}`).toEqual(b);
}

const SAMPLES = join(import.meta.dirname, "../../xml-samples");

describe("scanner vs saxes (XML 1.0 + Namespaces)", () => {
  if (corpusRequired("domain")) assertCorpus("domain");
  const files = [...xmlFilesUnder(CORPUS_ROOT), ...xmlFilesUnder(SAMPLES)];
  const texts = files.map((f) => readFileSync(f, "utf8"));

  it("agrees on every corpus and sample file", () => {
    let single = 0;
    let multi = 0;
    texts.forEach((text, k) => {
      const b = saxes(text);
      if (b !== "error" && !hdplanOnlyRejects(text)) {
        expect(hdplan(text), files[k]).toEqual(b);
        single++;
        return;
      }
      if (hdplanOnlyRejects(text)) {
        expect(hdplan(text), files[k]).toBe("error");
        return;
      }
      // several concatenated <device> documents: read as several roots by
      // hdplan, as the children of one wrapper (declarations removed) by saxes
      const wrapped = saxes(`<w>${text.replace(/^\uFEFF/, "").replace(/<\?xml[^?]*\?>/g, "")}</w>`);
      const got = hdplan(text, true);
      expect(got, files[k]).toEqual(wrapped === "error" ? "error" : wrapped[0]!.c);
      multi++;
    });
    expect(single).toBeGreaterThan(50);
    console.log(
      `[differential] ${single} single-document and ${multi} multi-document files agree with saxes`,
    );
  });

  it("agrees on the cases XML 1.0 and Namespaces 1.0 name", () => {
    const cases = [
      "<a>&#1;</a>",
      "<a>&#x1;</a>",
      "<a>&#xFFFE;</a>",
      "<a>&#xFFFF;</a>",
      "<a>&#xD800;</a>",
      "<a>&#xDFFF;</a>",
      "<a>&#0;</a>",
      "<a>&#x110000;</a>",
      "<a>&#9;&#xA;&#xD;&#x10FFFF;&#65;</a>",
      "<a>&#X41;</a>",
      "<a t='&#1;'/>",
      "<a>\u0001</a>",
      "<a>\u001f</a>",
      "<a t='\u0008'/>",
      "<a>\ufffe</a>",
      "<a>\ud800</a>",
      "<a>\ud83d\ude00</a>",
      "<a><!-- \u0002 --></a>",
      "<p:a/>",
      "<a p:t='1'/>",
      "<p:a xmlns:p='urn:p'/>",
      "<a xmlns:p='urn:p'><p:b/></a>",
      "<a><b xmlns:p='urn:p'/><p:c/></a>",
      "<a xml:lang='en'/>",
      "<xml:a/>",
      "<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
      "<a xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
      "<a xmlns:p=''/>",
      "<a xmlns=''/>",
      "<xmlns:a/>",
      "<a:b:c xmlns:a='u'/>",
      "<:a/>",
      "<a: xmlns:a='u'/>",
      "<a t='1' t='2'/>",
      "<a xmlns:p='u' xmlns:q='u' p:t='1' q:t='2'/>",
      "<a xmlns:p='u' xmlns:q='v' p:t='1' q:t='2'/>",
      "<a t='<'/>",
      "<a>]]></a>",
      "<a>]]</a>",
      "<1a/>",
      "<-a/>",
      "<a\u00b7/>",
      "<\u00b7a/>",
      "<a><b></a></b>",
      "<a></b>",
      "<a/>x",
      "<a/><b/>",
      "<a/><!-- c --><?pi x?>  ",
      "<a/>&amp;",
      "<?xml version='1.0'?><a/>",
      "<?xml version='1.0' encoding='UTF-8' standalone='yes'?><a/>",
      "<?xml version='1.0' standalone='maybe'?><a/>",
      " <?xml version='1.0'?><a/>",
      "<a><?xml version='1.0'?></a>",
      "<?xml encoding='UTF-8'?><a/>",
      "<?XML version='1.0'?><a/>",
      "<a><?p:q x?></a>",
      "<a><?pi?></a>",
      "<a><!-- a --- b --></a>",
      "<a><!-- a ---></a>",
      "<a><!----></a>",
      "<a t='x\ty\nz\r\nw'/>",
      "<a>x\r\ny\rz</a>",
      "<a><![CDATA[x\r\ny]]></a>",
      "\ufeff<a/>",
      "<a>&lt;&gt;&amp;&quot;&apos;</a>",
      "<a>&nbsp;</a>",
      "<a>& b</a>",
      "<a t=\"'\" u='\"'/>",
      "<a t=1/>",
      "<a t='1'u='2'/>",
      "<a >x</a >",
      "",
      "  ",
    ];
    for (const c of cases) agree(c);
  });

  it("agrees on generated near-XML (mutations of corpus snippets)", () => {
    const seeds = texts.filter((t) => t.length < 6000 && saxes(t) !== "error");
    expect(seeds.length).toBeGreaterThan(10);
    const inserts = [
      "&#1;",
      "&#x1F;",
      "&#xFFFE;",
      "&#xD800;",
      "&#65;",
      "&#x10FFFF;",
      "&#x110000;",
      "&#0;",
      "&#X41;",
      "&#x41",
      "&#;",
      "&amp;",
      "&bogus;",
      "\u0001",
      "\u000b",
      "\u001f",
      "\ufffe",
      "\ud800",
      "\u0085",
      "\t",
      "\r\n",
      "p:",
      "xml:",
      "xmlns:",
      " p:x='1'",
      " xmlns:p='urn:p'",
      " xmlns:p=''",
      " xml:lang='en'",
      " xmlns='urn:d'",
      " a='1' a='2'",
      "<",
      ">",
      "'",
      '"',
      "]]>",
      "--",
      "<!-- c -->",
      "<?pi x?>",
      "<?xml version='1.0'?>",
      "<![CDATA[<x>]]>",
      "<!DOCTYPE x>",
      "</x>",
      "<x/>",
      "text",
      "\u00b7",
      "1",
    ];
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(
          fc.tuple(fc.nat(), fc.nat(3), fc.constantFrom(...inserts), fc.constantFrom("any", "tag", "gt")),
          { minLength: 1, maxLength: 3 },
        ),
        fc.option(fc.nat(), { freq: 4 }),
        (si, edits, cut) => {
          let t = seeds[si]!;
          for (const [pos, del, ins, where] of edits) {
            let p = pos % (t.length + 1);
            // aim at markup: just after a '<' (prefixes on names) or before a '>' (attributes)
            if (where !== "any") {
              const q = t.indexOf(where === "tag" ? "<" : ">", p);
              if (q >= 0) p = where === "tag" ? q + 1 : q;
            }
            t = t.slice(0, p) + ins + t.slice(p + del);
          }
          if (cut !== null) t = t.slice(0, cut % (t.length + 1));
          agree(t);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
