#!/usr/bin/env python3
"""Prints the README table from criterion's saved baselines.

Usage: table.py CRITERION_DIR BASELINE [BASELINE...]

Each cell is the median over the baselines of criterion's median time per iteration
(target/criterion/<group>/<function>/<baseline>/estimates.json, "median").
"""
import json
import statistics
import sys
from pathlib import Path


def fmt(ns):
    if ns is None:
        return "-"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def median(root, group, function, baselines):
    values = []
    for b in baselines:
        p = root / group / function / b / "estimates.json"
        if p.exists():
            values.append(json.loads(p.read_text())["median"]["point_estimate"])
    return statistics.median(values) if values else None, values


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def main():
    root = Path(sys.argv[1])
    baselines = sys.argv[2:]
    groups = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name != "report")
    order = {"publish_decode": 0, "publish_encode": 1, "stream_decode": 2, "connect_v5": 3,
             "subscribe_v5": 4}
    size = {"16B": 0, "1KiB": 1, "64KiB": 2}

    def key(g):
        k = next(v for p, v in order.items() if g.startswith(p))
        parts = g.split("_")
        return (k, g.endswith("encode"), next((size[x] for x in parts if x in size), 0), g)

    groups.sort(key=key)
    print("| benchmark | ours | rumqttc | mqttrs | memcpy | ours/memcpy | ours vs fastest peer | runs (ours) |")
    print("|---|---|---|---|---|---|---|---|")
    for g in groups:
        fns = {p.name for p in (root / g).iterdir() if p.is_dir()}
        get = lambda f: median(root, g, f, baselines) if f in fns else (None, [])
        decode = "decode" in g
        if decode and "ours_frame" in fns:
            rows = [("frame (Bytes)", "ours_frame", "rumqttc_frame", "mqttrs"),
                    ("stream (BytesMut)", "ours_stream", "rumqttc_stream", "mqttrs")]
        elif "ours_vectored" in fns:
            rows = [("", "ours", "rumqttc", "mqttrs"),
                    ("vectored head + payload `Bytes`", "ours_vectored", None, None)]
        else:
            rows = [("", "ours", "rumqttc", "mqttrs")]
        mem, _ = get("memcpy")
        for label, o, r, m in rows:
            ours, runs = get(o)
            rq = get(r)[0] if r else None
            mq = get(m)[0] if m else None
            peers = [x for x in (rq, mq) if x]
            fastest = min(peers) if peers else None
            # "ours vs fastest peer": how many times faster ours is (>1 = ours faster).
            vs = f"{fastest / ours:.2f}x" if fastest and ours else "-"
            name = f"{g} {label}".strip()
            print(f"| {name} | {fmt(ours)} | {fmt(rq)} | {fmt(mq)} | {fmt(mem)} | "
                  f"{ratio(ours, mem)} | {vs} | {' / '.join(fmt(v) for v in runs)} |")


main()
