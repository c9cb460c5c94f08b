//! Back-pressure: when the application stops taking events, the client stops reading
//! the socket once its bounded event buffer is full, and the broker holds the messages.
//! 100 000 QoS 1 messages arrive while nobody reads: the client's memory stays flat;
//! then every one of them is received, in order. And the other way: a publisher faster
//! than the network waits in `publish` once a bounded amount of output is unsent, instead
//! of the client buffering everything it is given.

use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_proto::{ConnAck, Packet, ProtocolVersion, QoS, ReasonCode};
use mqtt_session::Event;
use testkit::{FakeBroker, Mosquitto};

use crate::driver::{Client, ClientOptions, Completion, Events};

const MESSAGES: usize = 100_000;
const WAIT: Duration = Duration::from_secs(10);

/// The process's resident memory, from /proc.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

fn options(broker: &Mosquitto, id: &str) -> ClientOptions {
    ClientOptions::new(&broker.url(), id)
        .unwrap()
        .protocol(ProtocolVersion::V5)
        .connect_timeout(WAIT)
        .no_reconnect()
}

fn connect(options: ClientOptions) -> (Client, Events) {
    let (client, events) = Client::connect(options).unwrap_or_else(|e| panic!("connect: {e}"));
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(_)) => (client, events),
        other => panic!("the first event is not Connected: {other:?}"),
    }
}

#[test]
fn memory_stays_flat_while_100_000_messages_arrive_unread() {
    let broker = Mosquitto::builder()
        // The broker holds everything the client does not read yet.
        .extra_config("max_queued_messages 0\nmax_queued_bytes 0\n")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (subscriber, events) = connect(options(&broker, "bp-sub").event_buffer(64));
    match subscriber
        .subscribe("bp/#", QoS::AtLeastOnce)
        .unwrap()
        .wait_timeout(WAIT)
    {
        Ok(Completion::Subscribed(codes)) => assert!(!codes[0].is_error(), "{codes:?}"),
        other => panic!("subscribe: {other:?}"),
    }
    let (publisher, publisher_events) = connect(options(&broker, "bp-pub"));
    let payload = vec![b'x'; 64];
    let baseline = rss_bytes();
    let started = Instant::now();
    let mut last = None;
    for i in 0..MESSAGES {
        let mut message = payload.clone();
        message[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let pending = publisher
            .publish("bp/load", QoS::AtLeastOnce, false, message)
            .unwrap_or_else(|e| panic!("publish {i}: {e}"));
        // Keep the publisher's own queue short: wait now and then.
        if i % 500 == 499
            && let Some(p) = last.take()
        {
            let p: crate::driver::Pending = p;
            p.wait_timeout(WAIT)
                .unwrap_or_else(|e| panic!("publish {i}: {e}"));
        }
        last = Some(pending);
    }
    if let Err(e) = last.unwrap().wait_timeout(WAIT) {
        let seen: Vec<_> = std::iter::from_fn(|| publisher_events.try_next()).collect();
        let sub: Vec<_> = std::iter::from_fn(|| events.try_next()).take(3).collect();
        panic!(
            "the last publish: {e}; publisher events: {seen:?}; subscriber: {sub:?}\n{}",
            broker.log()
        );
    }
    // Every message is with the broker now; the subscriber has read at most a buffer.
    std::thread::sleep(Duration::from_millis(300));
    let grown = rss_bytes().saturating_sub(baseline);
    let published_in = started.elapsed();
    // Unbounded, 100 000 held events would take well over 20 MiB here.
    assert!(
        grown < 8 << 20,
        "the client's memory grew by {} KiB while {MESSAGES} messages arrived unread",
        grown >> 10
    );
    // Nothing was lost: every message arrives, in order, once the application reads.
    let mut next = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while next < MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Message(m)) => {
                let seq = u64::from_be_bytes(m.publish.payload[..8].try_into().unwrap()) as usize;
                assert_eq!(seq, next, "messages out of order");
                next += 1;
            }
            Ok(Event::Disconnected { reason, .. }) => {
                panic!("disconnected after {next} messages: {reason:?}")
            }
            Ok(_) => {}
            Err(e) => panic!("after {next} of {MESSAGES} messages: {e}"),
        }
    }
    eprintln!(
        "published in {published_in:?}; memory grew {} KiB while unread",
        grown >> 10
    );
    publisher.disconnect().unwrap();
    subscriber.disconnect().unwrap();
}

#[test]
fn a_publisher_faster_than_the_network_waits_instead_of_buffering() {
    const FLOOD: usize = 100_000;
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let (client, _events) = Client::start(
        ClientOptions::new(&broker.url(), "flood")
            .unwrap()
            .protocol(ProtocolVersion::V5)
            .no_reconnect(),
    )
    .unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    conn.expect_connect(WAIT).unwrap();
    conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
    let published = Arc::new(AtomicUsize::new(0));
    let publisher = std::thread::spawn({
        let (client, published) = (client.clone(), published.clone());
        move || {
            let payload = bytes::Bytes::from(vec![b'x'; 1024]);
            for _ in 0..FLOOD {
                drop(
                    client
                        .publish("flood", QoS::AtMostOnce, false, payload.clone())
                        .unwrap(),
                );
                published.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    // The broker reads nothing: the kernel's buffers, the client's bounded output and its
    // command queue fill, then `publish` waits.
    std::thread::sleep(Duration::from_secs(2));
    let before = published.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(500));
    let stalled = published.load(Ordering::Relaxed);
    assert!(
        stalled < FLOOD / 2 && stalled == before,
        "{stalled} of {FLOOD} publishes (100 MB) were taken while the broker read nothing: the output is not bounded"
    );
    // Once the broker reads, everything arrives, in order, and the publisher finishes.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut received = 0;
    while received < FLOOD {
        match conn.expect_packet(deadline.saturating_duration_since(Instant::now())) {
            Ok(Packet::Publish(p)) => {
                assert_eq!(p.payload.len(), 1024);
                received += 1;
            }
            Ok(Packet::PingReq) => conn.send(Packet::PingResp).unwrap(),
            other => panic!("after {received} publishes: {other:?}"),
        }
    }
    publisher.join().unwrap();
    assert_eq!(published.load(Ordering::Relaxed), FLOOD);
}
