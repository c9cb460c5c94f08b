#!/usr/bin/env python3
"""Prints the "Session benchmarks" table of benches/README.md from criterion's baselines.

Usage: session_table.py CRITERION_DIR BASELINE [BASELINE...]

Each cell is the median over the baselines of criterion's median time per iteration
(one iteration = one message, see benches/benches/session.rs), with every run's value
after it.
"""
import json
import statistics
import sys
from pathlib import Path

GROUPS = [
    ("session_publish_qos0", "QoS 0 publish"),
    ("session_qos1_round_trip", "QoS 1 round trip"),
    ("session_incoming_qos0", "incoming QoS 0"),
    ("session_incoming_qos1", "incoming QoS 1"),
]
FLOOR = [
    ("encode_publish", "codec: encode the QoS 0 PUBLISH"),
    ("decode_puback_batch64", "codec: decode a PUBACK (64 per read)"),
    ("decode_publish_qos1_batch64", "codec: decode a QoS 1 PUBLISH (64 per read)"),
]
VERSIONS = [("v311", "3.1.1"), ("v5", "5.0")]


def fmt(ns):
    return "-" if ns is None else f"{ns:.1f} ns"


def cell(root, group, function, baselines):
    values = []
    for b in baselines:
        p = root / group / function / b / "estimates.json"
        if p.exists():
            values.append(json.loads(p.read_text())["median"]["point_estimate"])
    if not values:
        return "-"
    runs = " / ".join(f"{v:.0f}" for v in values)
    return f"**{fmt(statistics.median(values))}** ({runs})"


def main():
    root = Path(sys.argv[1])
    baselines = sys.argv[2:]
    print("| per message | version | single (1 input, 1 drain) | batch64 (64 inputs, 1 drain) |")
    print("|---|---|---|---|")
    for group, label in GROUPS:
        for v, vname in VERSIONS:
            single = cell(root, group, f"{v}_single", baselines)
            batch = cell(root, group, f"{v}_batch64", baselines)
            print(f"| {label} | {vname} | {single} | {batch} |")
    for function, label in FLOOR:
        for v, vname in VERSIONS:
            value = cell(root, "session_floor", f"{v}_{function}", baselines)
            print(f"| {label} | {vname} | {value} | |")


main()
