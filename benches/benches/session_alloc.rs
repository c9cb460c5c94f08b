//! Heap allocations per message of the `session` bench's scenarios, in steady state.
//!
//! The workspace forbids `unsafe_code`, and a `forbid` given through `[lints]` cannot be
//! lowered by an `#![allow]` in a target (E0453), so the counting allocator is
//! `stats_alloc`'s: a `#[global_allocator]` wrapping `std::alloc::System` that counts
//! `alloc`, `dealloc` and `realloc` calls, with no `unsafe` in this file. It lives in its
//! own bench binary so its counting never slows the timed `session` bench.
//!
//! Each scenario is warmed up (buffers and queues reach their working size), then
//! `MESSAGES` messages are run inside a counting region. Prints one markdown row per
//! scenario: allocations (`alloc` + `realloc`) and bytes allocated per message, for the
//! `single` and `batch64` variants, and the allocations of the first `COLD` messages on
//! a fresh session (growth to working size; also shows the counter counts).
//!
//! Run: `cargo bench -p benches --bench session_alloc`

use std::alloc::System;

use mqtt_proto::QoS;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

// Shared with the `session` bench, which uses all of it.
#[allow(dead_code)]
mod session_common;
use session_common::{BATCH, Rig, VERSIONS};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// A scenario of `Rig`: handle `n` messages, then drain.
type Scenario = fn(&mut Rig, usize);

/// Messages run before counting.
const WARM_UP: usize = 64 * 1024;
/// Messages counted (a multiple of `BATCH`, and more than the 65 535 packet ids, so the
/// QoS 1 rows wrap around the identifier space).
const MESSAGES: usize = 256 * 1024;

/// Messages of the cold count: the first ones on a fresh session.
const COLD: usize = 1024;

/// Allocations (`alloc` + `realloc` calls) over the first [`COLD`] messages of a fresh
/// session (buffers and queues growing to their working size).
fn cold(version: mqtt_proto::ProtocolVersion, n: usize, f: Scenario) -> usize {
    let mut rig = Rig::new(version);
    let region = Region::new(GLOBAL);
    for _ in 0..COLD / n {
        f(&mut rig, n);
    }
    let stats = region.change();
    stats.allocations + stats.reallocations
}

/// Allocations (`alloc` + `realloc` calls) and bytes allocated, per message, of `f`, in
/// steady state.
fn count(version: mqtt_proto::ProtocolVersion, n: usize, f: Scenario) -> (f64, f64) {
    let mut rig = Rig::new(version);
    for _ in 0..WARM_UP / n {
        f(&mut rig, n);
    }
    let region = Region::new(GLOBAL);
    for _ in 0..MESSAGES / n {
        f(&mut rig, n);
    }
    let stats = region.change();
    rig.verify();
    let per = |x: usize| x as f64 / MESSAGES as f64;
    let grown = usize::try_from(stats.bytes_reallocated).unwrap_or(0);
    (
        per(stats.allocations + stats.reallocations),
        per(stats.bytes_allocated + grown),
    )
}

fn main() {
    let scenarios: [(&str, Scenario); 4] = [
        ("publish_qos0", Rig::publish_qos0),
        ("qos1_round_trip", Rig::qos1_round_trip),
        ("incoming_qos0", |r, n| r.incoming(QoS::AtMostOnce, n)),
        ("incoming_qos1", |r, n| r.incoming(QoS::AtLeastOnce, n)),
    ];
    println!(
        "{MESSAGES} messages counted after {WARM_UP} warm-up messages; \
         allocations = alloc + realloc calls"
    );
    println!(
        "| scenario | version | allocs/msg single | allocs/msg batch64 | bytes/msg single \
         | bytes/msg batch64 | allocs in first {COLD} msgs (fresh session) single / batch64 |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, f) in scenarios {
        for (label, version) in VERSIONS {
            let (a1, b1) = count(version, 1, f);
            let (a64, b64) = count(version, BATCH, f);
            let (c1, c64) = (cold(version, 1, f), cold(version, BATCH, f));
            println!(
                "| {name} | {label} | {a1:.4} | {a64:.4} | {b1:.1} | {b64:.1} | {c1} / {c64} |"
            );
        }
    }
}
