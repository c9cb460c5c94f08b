#!/usr/bin/env python3
"""Builds a crate's CONFORMANCE.md: every statement of CONFORMANCE.csv with the given tag,
for both MQTT versions, mapped to the tests that name it.

Usage: python3 scripts/conformance_table.py CRATE_DIR TAG [TAG...] > CRATE_DIR/CONFORMANCE.md

A test names a statement in a comment or string in front of or inside it:
`// v5 [MQTT-3.3.2-8]`, `// v3.1.1 [MQTT-4.7.1-2]`, or `[MQTT-x]` alone (then it counts for
every version that has that ID under the tag). IDs the crate does not test are listed
with the reason from CRATE_DIR/conformance-notes.csv (columns: version,id,note); an ID
with neither tests nor a note is flagged NOT COVERED.
"""
import csv
import os
import re
import sys
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSV_CANDIDATES = [
    os.path.join(ROOT, "..", "shared", "CONFORMANCE.csv"),
    os.path.join(ROOT, "docs", "CONFORMANCE.csv"),
]
ID_RE = re.compile(r"(v5(?:\.0)?|v3\.1\.1|v311|3\.1\.1|5\.0)?\s*\[(MQTT-[0-9][0-9.\-]*[0-9])\]|\b(U311-[0-9]{2}|U5-[0-9]{2})\b")
FN_RE = re.compile(r"^\s*(?:pub\s+)?fn\s+([a-z0-9_]+)\s*\(")


def norm_version(v):
    if v is None:
        return None
    return "5.0" if v.startswith("v5") or v == "5.0" else "3.1.1"


def scan(crate):
    """(version or None, id) -> set of 'file::test'."""
    found = defaultdict(set)
    # Only files git tracks (what CI sees), when in a checkout.
    try:
        import subprocess
        listed = subprocess.run(
            ["git", "ls-files", "--", "."], cwd=crate, capture_output=True, text=True, check=True
        ).stdout.split()
        paths = [os.path.join(crate, p) for p in listed if p.endswith(".rs")]
    except (OSError, subprocess.CalledProcessError):
        paths = [
            os.path.join(base, f)
            for base, _, files in os.walk(crate)
            if "/target" not in base
            for f in files
            if f.endswith(".rs")
        ]
    for path in sorted(paths):
        if True:
            rel = os.path.relpath(path, crate)
            lines = open(path, encoding="utf-8").read().split("\n")
            # Attribute each mention to the next test function below it (comments above
            # a test), or to the enclosing one (mentions inside a body).
            test_at = {}
            for i, line in enumerate(lines):
                m = FN_RE.match(line)
                if m:
                    prev = "\n".join(lines[max(0, i - 3):i])
                    if "#[test]" in prev or "proptest!" in "\n".join(lines[:i]) and line.lstrip().startswith("fn "):
                        test_at[i] = m.group(1)
            if not test_at:
                continue
            starts = sorted(test_at)
            for i, line in enumerate(lines):
                for m in ID_RE.finditer(line):
                    version = norm_version(m.group(1))
                    key = m.group(2)
                    if m.group(3):
                        key = m.group(3)
                        version = "3.1.1" if key.startswith("U311") else "5.0"
                    # Enclosing test: the last start at or before i whose body has not
                    # ended; simple rule: the nearest start before i, unless a start
                    # follows within the comment block right after.
                    after = [s for s in starts if s >= i]
                    before = [s for s in starts if s <= i]
                    target = None
                    if after and all(
                        lines[k].strip().startswith(("//", "#[", "///")) or not lines[k].strip()
                        for k in range(i + 1, after[0])
                    ) and (line.strip().startswith("//")):
                        target = after[0]
                    elif before:
                        target = before[-1]
                    elif after:
                        target = after[0]
                    if target is not None:
                        found[(version, key)].add(f"{rel}::{test_at[target]}")
    return found


def main():
    crate, tags = sys.argv[1], set(sys.argv[2:])
    csv_path = next(p for p in CSV_CANDIDATES if os.path.exists(p))
    rows = [r for r in csv.DictReader(open(csv_path, encoding="utf-8")) if r["in_scope"] == "yes"]
    md_path = os.path.join(os.path.dirname(csv_path), "CONFORMANCE.md")
    for line in open(md_path, encoding="utf-8"):
        m = re.match(r"\| (U311-[0-9]{2}|U5-[0-9]{2}) \| ([^|]*) \| (.*) \| (CODEC|SESSION|TRANSPORT) \|\s*$", line)
        if m:
            rows.append({
                "version": "3.1.1" if m.group(1).startswith("U311") else "5.0",
                "id": m.group(1),
                "tag": m.group(4),
                "paraphrase_or_reason": f"({m.group(2).strip()}) {m.group(3).strip()}",
            })
    notes = {}
    notes_path = os.path.join(crate, "conformance-notes.csv")
    if os.path.exists(notes_path):
        for r in csv.DictReader(open(notes_path, encoding="utf-8")):
            notes[(r["version"], r["id"])] = r["note"]
    found = scan(crate)
    name = os.path.basename(os.path.abspath(crate))
    out = []
    totals = defaultdict(lambda: [0, 0, 0])
    sections = []
    for version in ("3.1.1", "5.0"):
        vrows = [r for r in rows if r["version"] == version and r["tag"] in tags]
        table = ["| ID | Statement (paraphrase) | Tests |", "|---|---|---|"]
        for r in vrows:
            key = r["id"]
            tests = sorted(found.get((version, key), set()) | found.get((None, key), set()))
            if tests:
                cell = "<br>".join(f"`{t}`" for t in tests)
                totals[version][0] += 1
            elif (version, key) in notes:
                cell = "not tested here: " + notes[(version, key)]
                totals[version][1] += 1
            else:
                cell = "**NOT COVERED**"
                totals[version][2] += 1
            para = r["paraphrase_or_reason"].replace("|", "\\|")
            shown = key if key.startswith("U") else f"[{key}]"
            table.append(f"| {shown} | {para} | {cell} |")
        sections.append((version, table))
    out.append(f"# {name}: conformance coverage")
    out.append("")
    out.append(
        f"Every {'/'.join(sorted(tags))} statement of MQTT 3.1.1 and 5.0 from the project's "
        "conformance checklist, with the tests that check it (a test names the statement ID "
        "in a comment), or why it is checked elsewhere. Generated by "
        f"`python3 scripts/conformance_table.py {name} {' '.join(sorted(tags))}`; reasons for "
        f"untested statements live in `{name}/conformance-notes.csv`."
    )
    out.append("")
    out.append("| Version | Tested | Owned elsewhere / noted | Not covered |")
    out.append("|---|---|---|---|")
    for version in ("3.1.1", "5.0"):
        t = totals[version]
        out.append(f"| {version} | {t[0]} | {t[1]} | {t[2]} |")
    for version, table in sections:
        out.append("")
        out.append(f"## MQTT {version}")
        out.append("")
        out.extend(table)
    print("\n".join(out))


if __name__ == "__main__":
    main()
