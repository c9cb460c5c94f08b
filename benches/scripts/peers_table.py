#!/usr/bin/env python3
"""Prints the codec table with every peer from one criterion baseline.

Usage: peers_table.py CRITERION_DIR BASELINE [BASELINE ...]

One row per benchmark group (and per frame / stream decode), one column per codec:
ours (owned), ours (borrowed view), rumqttc, mqttrs, mqtt-protocol, mqtt-format and the
memcpy of the same bytes. A cell is criterion's median time per iteration
(<group>/<function>/<baseline>/estimates.json); "-" where the codec has no such row.
With several baselines, a cell is the median of their medians (over the baselines that
have the row), so that a row measured in a noisy minute does not decide the table.
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


def median(root, group, function, baselines):
    values = sorted(
        json.loads(p.read_text())["median"]["point_estimate"]
        for p in (root / group / function / b / "estimates.json" for b in baselines)
        if p.exists()
    )
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main():
    root, baselines = Path(sys.argv[1]), sys.argv[2:]
    groups = sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and any((p / "memcpy" / b).exists() for b in baselines)
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
            cells = [fmt(median(root, g, names[c], baselines)) if c in names else "-"
                     for c in COLUMNS]
            if all(c == "-" for c in cells):
                continue
            print(f"| {g} {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
