#!/usr/bin/env python3
"""Derive data/iana-ports.tsv (embedded by src/ports/iana.rs) from IANA's
"Service Name and Transport Protocol Port Number Registry" CSV.

Run from the repository root (developers only; users never need the CSV):

    python3 tools/gen_iana.py /path/to/iana-service-names-port-numbers.csv > data/iana-ports.tsv

Standard library only. The output is deterministic (registry order), so a
regenerated file diffs cleanly against the committed one.

What is kept, and how (see also the header written below):
  * rows without a port number (service names only) are skipped;
  * protocols: tcp and udp only (sctp, dccp dropped); a row with an empty
    protocol covers both, and so does a `tcp,udp` row in the output, which
    also merges identical tcp and udp rows to halve the file;
  * ranges (`6000-6063`) stay ranges;
  * kind A = an assignment (a service name, or a description that is not one of
    the markers below); kind R = reserved by IANA (empty name, description
    "Reserved" / "IANA Reserved"); kind U = unassigned, de-registered or removed,
    but with "Unauthorized Use Reported". Plain unassigned / de-registered /
    removed rows are not assignments and are dropped. For a U row covering a
    range, only the ports its note names are kept when it names any
    ("Unauthorized Use Known on port 796" in 788-799 keeps 796 only);
  * description: whitespace collapsed, no tabs, at most 60 characters;
  * flag: 1 when the "Unauthorized Use Reported" column is not empty.
"""

import csv
import re
import sys

MAX_DESC = 60
NOT_ASSIGNED = re.compile(
    r"^\(?(unassigned|de-?registered|removed|deprecated|decomm?issioned|de-commissioned)",
    re.I,
)
RESERVED = re.compile(r"^(iana )?reserved\b", re.I)
PORT_IN_NOTE = re.compile(r"(\d+)(?:\s*-\s*(\d+))?")

HEADER = """\
# porttop: TCP/UDP entries derived from IANA's Service Name and Transport Protocol
# Port Number Registry (https://www.iana.org/assignments/service-names-port-numbers),
# CSV export, a copy from mid-2024 (15,096 lines).
# Licence: CC0 1.0 (joint IANA / IETF Trust statement of 10 Nov 2021,
# https://www.iana.org/help/licensing-terms).
# Regenerate: python3 tools/gen_iana.py iana-service-names-port-numbers.csv > data/iana-ports.tsv
# Columns (tab-separated): low, high, proto (tcp | udp | tcp,udp), kind
# (A assigned, R reserved by IANA, U unassigned but unauthorized use reported),
# unauthorized-use-reported flag (0/1), service name (may be empty), description
# (at most 60 characters).
"""


def clean(text):
    text = " ".join(text.split())
    if len(text) > MAX_DESC:
        text = text[: MAX_DESC - 1].rstrip() + "\u2026"
    return text


def spans(port_field, kind, note):
    lo, _, hi = port_field.partition("-")
    lo = int(lo)
    hi = int(hi or lo)
    if kind != "U" or lo == hi:
        return [(lo, hi)]
    named = []
    for m in PORT_IN_NOTE.finditer(note):
        a = int(m.group(1))
        b = int(m.group(2) or a)
        a, b = max(a, lo), min(b, hi)
        if a <= b:
            named.append((a, b))
    return named or [(lo, hi)]


def main(path):
    out = []
    seen = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            port = row["Port Number"].strip()
            if not port:
                continue
            proto = row["Transport Protocol"].strip().lower()
            if proto not in ("tcp", "udp", ""):
                continue
            name = row["Service Name"].strip()
            desc = clean(row["Description"])
            note = row["Unauthorized Use Reported"].strip()
            if not name and NOT_ASSIGNED.match(desc):
                if not note:
                    continue
                kind = "U"
            elif not name and RESERVED.match(desc):
                kind = "R"
            else:
                kind = "A"
            flag = "1" if note else "0"
            for lo, hi in spans(port, kind, note):
                rest = (lo, hi, kind, flag, name, desc)
                if proto == "":
                    out.append([lo, hi, "tcp,udp", kind, flag, name, desc])
                    continue
                # Merge "x/tcp" followed by the identical "x/udp" into one line.
                other = "udp" if proto == "tcp" else "tcp"
                idx = seen.get((other,) + rest)
                if idx is not None and out[idx][2] == other:
                    out[idx][2] = "tcp,udp"
                    del seen[(other,) + rest]
                    continue
                seen[(proto,) + rest] = len(out)
                out.append([lo, hi, proto, kind, flag, name, desc])
    w = sys.stdout
    w.write(HEADER)
    for lo, hi, proto, kind, flag, name, desc in out:
        assert "\t" not in name + desc and "\n" not in name + desc
        w.write(f"{lo}\t{hi}\t{proto}\t{kind}\t{flag}\t{name}\t{desc}\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
