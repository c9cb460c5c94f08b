//! The heap a session takes, measured with a counting global allocator (`cap`'s `Cap`
//! around `System`, with its `stats` feature for the peak).
//!
//! `cargo run --release --features heap --bin heap`
//!
//! Each scenario runs in a fresh child process (this same binary with the scenario's
//! name as its argument), so that the allocator's peak belongs to that scenario alone.
//! Figures are bytes requested from the allocator (`Layout::size`, no allocator
//! overhead). Run it for `--target i686-unknown-linux-gnu` too: 4-byte pointers, as on a
//! Cortex-M (see README.md).

use std::alloc::System;
use std::process::Command;

use bytes::{Bytes, BytesMut};
use cap::Cap;
use embedded_size::{Tally, connect_session, drain, options, receive};
use mqtt_proto::{Publish, QoS, TopicName};
use mqtt_session::{Event, InFlight, Instant, QueueLimits, Queued, Session};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const SCENARIOS: &[(&str, &str)] = &[
    ("new", "Session::new (default options), not connected"),
    (
        "connect",
        "connected (CONNACK handled, outputs drained), nothing in flight",
    ),
    ("connect-shrunk", "the same after Session::shrink_to_fit"),
    (
        "w1q0",
        "window 1, queue 0: one 16 B QoS 1 message in flight",
    ),
    ("w1q0-shrunk", "the same after Session::shrink_to_fit"),
    (
        "w20q100",
        "window 20, queue 100: 20 QoS 1 messages of 16 B in flight, 100 queued",
    ),
    ("w20q100-shrunk", "the same after Session::shrink_to_fit"),
    (
        "w20q100-acked",
        "the same after all 120 are acknowledged (PUBACKs), shrunk",
    ),
];

/// One scenario: prints `name held peak payload` where `held` is what the session holds
/// at the end (bytes allocated and not freed since just before `Session::new`), `peak`
/// the most allocated at once during the scenario, `payload` the part of `held` that is
/// the application's own message payloads (16 B each, `Bytes::copy_from_slice`).
fn run(name: &str) {
    let base = ALLOCATOR.allocated();
    let max_before = ALLOCATOR.max_allocated();
    let now = Instant::ZERO;
    let mut tally = Tally::default();
    let mut buf = BytesMut::new();
    let (session, payload) = match name {
        "new" => (Session::new(options()), 0),
        "connect" | "connect-shrunk" => {
            let mut s = connect_session(now, &mut buf, &mut tally);
            assert_eq!(tally.connected, 1);
            if name.ends_with("shrunk") {
                s.shrink_to_fit();
            }
            (s, 0)
        }
        _ => {
            let (window, queue) = if name.starts_with("w1q0") {
                (1, 0)
            } else {
                (20, 100)
            };
            let mut o = options();
            o.max_in_flight = Some(window);
            o.queue = QueueLimits {
                max_messages: queue,
                ..QueueLimits::default()
            };
            let mut s = Session::new(o);
            s.connect(now).unwrap();
            drain(&mut s, now, &mut tally);
            receive(&mut s, now, &mut buf, connack(), &mut tally);
            assert_eq!(tally.connected, 1);
            let topic = TopicName::try_from("devices/sensor-0042/telemetry").unwrap();
            let total = usize::from(window) + queue;
            for i in 0..total {
                let mut p = [0u8; 16];
                p[0] = i as u8;
                let publish = Publish::new(topic.clone(), Bytes::copy_from_slice(&p))
                    .with_qos(QoS::AtLeastOnce, None);
                s.publish(now, publish).unwrap();
                drain(&mut s, now, &mut tally);
            }
            assert_eq!((s.in_flight(), s.queued()), (usize::from(window), queue));
            let mut payload = 16 * total;
            if name.ends_with("acked") {
                // PUBACK each identifier in flight (1..), as many rounds as it takes.
                for id in 1..=total as u16 {
                    let [hi, lo] = id.to_be_bytes();
                    receive(&mut s, now, &mut buf, &[0x40, 0x02, hi, lo], &mut tally);
                }
                assert_eq!((s.in_flight(), s.queued()), (0, 0));
                assert_eq!(tally.published as usize, total);
                payload = 0;
            }
            if name.ends_with("shrunk") || name.ends_with("acked") {
                s.shrink_to_fit();
            }
            drop(topic);
            (s, payload)
        }
    };
    drop(buf);
    let held = ALLOCATOR.allocated() - base;
    let max_after = ALLOCATOR.max_allocated();
    // The allocator's peak is for the whole process; it is this scenario's when it rose
    // during it (it always does here: the scenario is the first thing the child does).
    let peak = if max_after > max_before {
        max_after - base
    } else {
        max_before - base
    };
    println!("{name} {held} {peak} {payload}");
    drop(session);
}

fn connack() -> &'static [u8] {
    if cfg!(feature = "v5") {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    }
}

fn main() {
    if let Some(name) = std::env::args().nth(1) {
        run(&name);
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    println!(
        "protocol {:?}, {}-bit pointers: size_of Session {} B, InFlight {} B, Queued {} B, \
         Publish {} B, Event {} B",
        embedded_size::VERSION,
        usize::BITS,
        std::mem::size_of::<Session>(),
        std::mem::size_of::<InFlight>(),
        std::mem::size_of::<Queued>(),
        std::mem::size_of::<Publish>(),
        std::mem::size_of::<Event>(),
    );
    println!("| scenario | heap held (B) | of which payloads (B) | peak during it (B) |");
    println!("|---|---:|---:|---:|");
    for (name, what) in SCENARIOS {
        let out = Command::new(&exe).arg(name).output().expect("run scenario");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8(out.stdout).expect("utf-8");
        let f: Vec<&str> = line.split_whitespace().collect();
        println!("| `{name}`: {what} | {} | {} | {} |", f[1], f[3], f[2]);
    }
}
