#!/usr/bin/env python3
"""bench-lxml-baseline.py -- the parse-only baseline of `npm run bench`.

Parses, with lxml.etree.fromstring, every XML document hdplan reads for a
run, and does nothing else with them. Prints one JSON line:
{"files", "docs", "bytes", "seconds", "maxRssKb"} where seconds is measured
inside Python (interpreter start and `import lxml` excluded; the caller times
the whole process too) and maxRssKb is the process's peak RSS
(getrusage(RUSAGE_SELF).ru_maxrss, kB on Linux).

Usage:
  bench-lxml-baseline.py dump LIST      LIST: one path a line; a directory is a
                                        dump directory (every *.xml of nodedev/,
                                        domains/, networks/), a file is one XML file
  bench-lxml-baseline.py snapshot LIST  LIST: snapshot JSON files (or XML files);
                                        json.load, then every nodeDevices/domains/
                                        networks "xml" string is parsed

Node device files may hold several concatenated <device> documents (a
`virsh nodedev-dumpxml` loop): nodedev files are wrapped in one root element
so that each file is one well-formed document.
"""
import json
import os
import resource
import sys
import time

from lxml import etree


def strip_decl(b):
    if b.startswith(b"<?xml"):
        end = b.find(b"?>")
        if end >= 0:
            return b[end + 2 :]
    return b


def main():
    mode, listfile = sys.argv[1], sys.argv[2]
    with open(listfile, encoding="utf-8") as fh:
        paths = [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    t0 = time.perf_counter()
    files = docs = nbytes = 0
    fromstring = etree.fromstring
    for p in paths:
        if mode == "dump" and os.path.isdir(p):
            for sub in ("nodedev", "domains", "networks"):
                d = os.path.join(p, sub)
                try:
                    names = sorted(os.listdir(d))
                except FileNotFoundError:
                    continue
                for name in names:
                    if not name.endswith(".xml"):
                        continue
                    with open(os.path.join(d, name), "rb") as fh:
                        b = fh.read()
                    files += 1
                    nbytes += len(b)
                    if sub == "nodedev":
                        fromstring(b"<devices>" + strip_decl(b) + b"</devices>")
                    else:
                        fromstring(b)
                    docs += 1
        elif p.endswith(".json"):
            with open(p, "rb") as fh:
                b = fh.read()
            files += 1
            nbytes += len(b)
            snap = json.loads(b)
            for key in ("nodeDevices", "domains", "networks"):
                for item in snap.get(key, []):
                    fromstring(item["xml"].encode("utf-8"))
                    docs += 1
        else:
            with open(p, "rb") as fh:
                b = fh.read()
            files += 1
            nbytes += len(b)
            fromstring(b)
            docs += 1
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"files": files, "docs": docs, "bytes": nbytes, "seconds": dt, "maxRssKb": rss}))


if __name__ == "__main__":
    main()
