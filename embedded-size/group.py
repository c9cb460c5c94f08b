#!/usr/bin/env python3
"""Groups the functions of a firmware by concern, from `cargo bloat --message-format json`.

    cargo bloat --release --target thumbv7em-none-eabihf --features embedded --bin drive \
        -n 0 --full-fn --message-format json | python3 group.py

Functions inlined into others count where they were inlined (with opt-level "z" and fat
LTO most single-caller functions are), so this is a lower bound for each concern. The
first matching rule wins.
"""
import json
import re
import sys

RULES = [
    ("the program, with the library code inlined into it (Session::new, handle_read's dispatch, publish, subscribe)", r"^embedded_size::|^drive::|^connect::"),
    ("core::fmt (Debug/Display/format!/panic messages)", r"core::fmt|::fmt::|<.* as core::fmt::|Formatter|pad_integral|panic_fmt"),
    ("panic paths (bounds, str slicing, unwrap, OOM)", r"core::panicking|panic_bounds_check|panic_nounwind|slice_error_fail|str_index_overflow|unwrap_failed|expect_failed|handle_alloc_error|capacity_overflow|rust_begin_unwind|panic"),
    ("compiler builtins (mem*, 64-bit division)", r"compiler_builtins|__aeabi|^memcmp|^memcpy|^memset|^memmove|__udivmoddi4|__udivti3|__umodti3"),
    ("BTreeMap/BTreeSet", r"btree"),
    ("VecDeque (per element type)", r"vec_deque|VecDeque"),
    ("Vec / RawVec / Box / slice glue", r"raw_vec|alloc::vec::|alloc::slice::|<alloc::boxed|to_vec|Vec<T,A>"),
    ("drop glue", r"drop_in_place|as core::ops::drop::Drop"),
    ("bytes / bytestring", r"^bytes::|<bytes::|bytestring|shared_to|promotable_|shallow_clone|release_shared|shared_v_"),
    ("allocator (emballoc)", r"emballoc|__rust_alloc|__rust_dealloc|__rust_realloc|__rg_|spin::"),
    ("runtime (cortex-m-rt)", r"cortex_m_rt|^Reset$|DefaultHandler|HardFault|__pre_init"),
    ("proto: decoder (Packet::decode_at, Decoder, per-packet read)", r"mqtt_proto::decoder|decode_at|Packet::decode|::read\b|::read::|read_reason_codes|short_ack|FixedHeader|Reader"),
    ("proto: properties (5.0)", r"mqtt_proto::propert|Properties|PropertyList|Sink|PropertyId"),
    ("proto: encoder (Encode, encoded_len, check)", r"Encode|encode|encoded_len|::write\b|::write::|as mqtt_proto::packet::Body>::check|Writer|write_"),
    ("proto: strings and topics (validation)", r"mqtt_proto::string|mqtt_proto::topic|MqttString|TopicName|TopicFilter|check_str|check_topic|check_filter"),
    ("proto: reason codes", r"ReasonCode|mqtt_proto::reason"),
    ("proto: other", r"mqtt_proto"),
    ("session: connect / CONNACK / reconnect / close", r"session::connection|connect_packet|handle_connack|connection_lost|close_for_good|follow_redirect|version_refused|protocol_violation|handle_auth|handle_server_disconnect|backoff|Backoff"),
    ("session: outbound publish (in flight, queue)", r"session::outbound|Outbound|send_publish|send_new|pump|resend_in_flight|InFlight|Queued"),
    ("session: inbound (PUBLISH received, acks owed)", r"session::inbound|Inbound|flush_acks|alias"),
    ("session: subscribe / unsubscribe", r"session::subscriptions|handle_suback|handle_unsuback|resubscribe|send_request|take_request|Pending|Subscriptions"),
    ("session: admission checks", r"admission"),
    ("session: other (Session::send, poll_*, keep alive, ids, transmit)", r"mqtt_session"),
]

data = json.load(sys.stdin)
total = data["text-section-size"]
sizes = {name: 0 for name, _ in RULES}
sizes["other"] = 0
examples = {}
for f in data["functions"]:
    name = f["name"]
    for group, rx in RULES:
        if re.search(rx, name):
            break
    else:
        group = "other"
    sizes[group] += f["size"]
    examples.setdefault(group, []).append((f["size"], name))
listed = sum(sizes.values())
print(f"| concern | bytes | share of .text ({total} B) |")
print("|---|---:|---:|")
for group, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
    if size:
        print(f"| {group} | {size} | {100 * size / total:.1f}% |")
print(f"| (not attributed to a symbol: padding, literal pools, small symbols) | {total - listed} | {100 * (total - listed) / total:.1f}% |")
if "-v" in sys.argv:
    for group, items in examples.items():
        print(f"\n## {group}")
        for size, name in sorted(items, reverse=True)[:12]:
            print(f"  {size:6d} {re.sub(r'::h[0-9a-f]{16}$', '', name)[:160]}")
