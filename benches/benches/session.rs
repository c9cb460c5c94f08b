//! Session benchmarks: what `mqtt-session` adds per message on a connected session, in
//! steady state, for MQTT 3.1.1 and 5.0 with a 16 B payload.
//!
//! * `session_publish_qos0`: `publish()` until the bytes are drained from
//!   `poll_transmit`.
//! * `session_qos1_round_trip`: `publish()`, bytes out, the PUBACK's bytes in through
//!   `handle_read`, the `PublishCompleted` event drained.
//! * `session_incoming_qos0` / `session_incoming_qos1`: PUBLISH bytes in through
//!   `handle_read`, the `Message` event drained (and at QoS 1 the PUBACK bytes out).
//! * `session_floor`: the codec alone on the same packets (PUBLISH encode; PUBACK and
//!   PUBLISH decode off one read buffer), to show how much of each row is `mqtt-proto`.
//!
//! Each row has a `single` variant (one message, then the full drain the driving
//! contract asks for) and a `batch64` variant (64 publishes or one read holding 64
//! packets, then one drain). Every time is **per message**. The session is connected
//! once in setup by feeding it a CONNACK; all server bytes are encoded before timing and
//! fed through one reused receive buffer. Each scenario is run once and checked before
//! it is timed (see `session_common`). Heap allocations per message are counted by the
//! `session_alloc` bench. See `benches/README.md`, "Session benchmarks".

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use criterion::{Bencher, Criterion};
use mqtt_proto::QoS;

mod session_common;
use session_common::{BATCH, Rig, VERSIONS};

/// Times `f(rig, n)` (which handles `n` messages) and reports the time per message:
/// criterion's `iters` is a message count, run as `iters / n` rounds (rounded up).
fn per_message(b: &mut Bencher<'_>, rig: &mut Rig, n: usize, mut f: impl FnMut(&mut Rig, usize)) {
    b.iter_custom(|iters| {
        let rounds = iters.div_ceil(n as u64);
        let start = Instant::now();
        for _ in 0..rounds {
            f(rig, n);
        }
        let elapsed = start.elapsed();
        let done = rounds * n as u64;
        if done == iters {
            elapsed
        } else {
            Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / done as f64)
        }
    });
}

/// One group: for each version, `single` (n = 1) and `batch64` (n = [`BATCH`]), on
/// one connected session per version, checked after timing with [`Rig::verify`].
fn group(c: &mut Criterion, name: &str, f: impl Fn(&mut Rig, usize) + Copy) {
    let mut group = c.benchmark_group(name);
    for (label, version) in VERSIONS {
        let mut rig = Rig::new(version);
        for (kind, n) in [("single", 1), ("batch64", BATCH)] {
            group.bench_function(format!("{label}_{kind}"), |b| {
                per_message(b, &mut rig, n, f)
            });
        }
        rig.verify();
    }
    group.finish();
}

fn publish_qos0(c: &mut Criterion) {
    group(c, "session_publish_qos0", Rig::publish_qos0);
}

fn qos1_round_trip(c: &mut Criterion) {
    group(c, "session_qos1_round_trip", Rig::qos1_round_trip);
}

fn incoming_qos0(c: &mut Criterion) {
    group(c, "session_incoming_qos0", |rig, n| {
        rig.incoming(QoS::AtMostOnce, n)
    });
}

fn incoming_qos1(c: &mut Criterion) {
    group(c, "session_incoming_qos1", |rig, n| {
        rig.incoming(QoS::AtLeastOnce, n)
    });
}

/// The codec alone: encode the QoS 0 PUBLISH into a reused buffer; decode a read of 64
/// PUBACKs, and of 64 incoming QoS 1 PUBLISHes, with a `Decoder` like the session's.
fn floor(c: &mut Criterion) {
    let mut group = c.benchmark_group("session_floor");
    for (label, version) in VERSIONS {
        let mut rig = Rig::new(version);
        let mut buf = BytesMut::with_capacity(4096);
        group.bench_function(format!("{label}_encode_publish"), |b| {
            b.iter(|| rig.encode_only(&mut buf))
        });
        let mut decoder = rig.server_decoder();
        for (name, puback) in [("puback", true), ("publish_qos1", false)] {
            group.bench_function(format!("{label}_decode_{name}_batch64"), |b| {
                per_message(b, &mut rig, BATCH, |rig, n| {
                    rig.decode_only(black_box(&mut decoder), puback, n)
                })
            });
        }
    }
    group.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    publish_qos0(&mut c);
    qos1_round_trip(&mut c);
    incoming_qos0(&mut c);
    incoming_qos1(&mut c);
    floor(&mut c);
    c.final_summary();
}
