#!/usr/bin/env python3
"""Prints the codec table with every peer from one criterion baseline.

Usage: peers_table.py CRITERION_DIR BASELINE

One row per benchmark group (and per frame / stream decode), one column per codec:
ours (owned), ours (borrowed view), rumqttc, mqttrs, mqtt-protocol, mqtt-format and the
memcpy of the same bytes. A cell is criterion's median time per iteration
(<group>/<function>/<baseline>/estimates.json); "-" where the codec has no such row.
"""
import json
import sys
from pathlib import Path

COLUMNS = ["ours", "ours view", "rumqttc", "mqttrs", "mqtt-protocol", "mqtt-format", "memcpy"]


def fmt(ns):
    if ns is None:
        return "-"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def median(root, group, function, baseline):
    p = root / group / function / baseline / "estimates.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())["median"]["point_estimate"]


def main():
    root, baseline = Path(sys.argv[1]), sys.argv[2]
    groups = sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and (p / "memcpy" / baseline).exists()
    )
    print("| benchmark | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for g in groups:
        if "decode" in g and "stream_decode" not in g:
            rows = [
                ("frame", {"ours": "ours_frame", "ours view": "ours_view",
                           "rumqttc": "rumqttc_frame", "mqttrs": "mqttrs",
                           "mqtt-format": "mqtt_format", "memcpy": "memcpy"}),
                ("stream", {"ours": "ours_stream", "rumqttc": "rumqttc_stream"}),
            ]
        elif "stream_decode" in g:
            rows = [("per 1000", {"ours": "ours", "ours view": "ours_view", "rumqttc": "rumqttc",
                                  "mqttrs": "mqttrs", "mqtt-format": "mqtt_format",
                                  "memcpy": "memcpy"})]
        else:
            rows = [("", {"ours": "ours", "rumqttc": "rumqttc", "mqttrs": "mqttrs",
                          "mqtt-protocol": "mqtt_protocol", "memcpy": "memcpy"}),
                    ("vectored", {"ours": "ours_vectored"}),
                    ("built + encoded", {"mqtt-protocol": "mqtt_protocol_built"})]
        for label, names in rows:
            cells = [fmt(median(root, g, names[c], baseline)) if c in names else "-"
                     for c in COLUMNS]
            if all(c == "-" for c in cells):
                continue
            print(f"| {g} {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
