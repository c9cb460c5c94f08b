//! Back-pressure: when the application stops taking events, the client stops reading
//! the socket once its bounded event buffer is full, and the broker holds the messages.
//! 100 000 QoS 1 messages arrive while nobody reads: the client's memory stays flat;
//! then every one of them is received, in order.

use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::Event;
use testkit::Mosquitto;

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
