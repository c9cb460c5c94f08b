//! Bad input from the network that is not a protocol violation: a broker that is slow,
//! huge or relentless on purpose (or through a broken middlebox) must not make the
//! client allocate without bound, hang its callers, or panic.
//!
//! A [`FakeBroker`] plays the server:
//!
//! * a PUBLISH whose fixed header announces the largest remaining length there is
//!   (256 MiB - 1) and then sends nothing, or a slow trickle: the client buffers only
//!   what arrives (measured: the process's resident memory, and its address space, where
//!   a buffer reserved for the announced length would show), its calls return at once,
//!   `disconnect` and `close` work, and keep-alive still ends a connection whose packet
//!   never completes; with a Maximum Packet Size below the announced size (5.0) the
//!   packet is refused as soon as its header is in (DISCONNECT 0x95);
//! * bytes dripped one at a time (the CONNACK, a PUBLISH): they are understood, calls
//!   return meanwhile, and the CONNACK deadline is not moved by bytes that keep coming;
//! * no CONNACK at all: every attempt times out and the client tries again by its
//!   policy; calls made meanwhile return at once and are carried out once a CONNACK comes;
//!   `Client::connect` gives up with an error that says no CONNACK came (what
//!   `bad_input.rs` checks already, one attempt and its reconnect, is not repeated);
//! * 10 000 QoS 0 PUBLISHes a second for two seconds while the application reads slowly
//!   or not at all: the event buffer's back-pressure holds (the client stops reading, the
//!   kernel's socket buffers and the broker hold the rest; memory measured), calls return
//!   at once and what the client sends still leaves at once; afterwards every message
//!   arrives, in order, on the same connection. The contract of
//!   `ClientOptions::event_buffer`, counted exactly with a QoS 1 flood (the client
//!   acknowledges each message it takes in): the client stops reading once the buffer
//!   is full, checking before each read, so it holds at most the buffer and what one
//!   read (`MAX_READ`, 64 KiB) brought; `disconnect` returns at once under back-pressure
//!   and the messages held are still handed out before the stream ends.
//!
//! The tests take a lock so that they run one at a time: the memory measured is the
//! whole process's, and the timings assume a quiet process.

use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, DecodeError, Encode, MAX_PACKET_SIZE, Packet, ProtocolVersion, PubAck, Publish, QoS,
    ReasonCode, SubAck, TopicName,
};
use mqtt_session::{DisconnectReason, Event, Options, ProtocolViolation};
use testkit::{ExpectError, FakeBroker, FakeConnection};

#[path = "common.rs"]
mod common;

use crate::driver::{Client, ClientOptions, Completion, Error, Events, Pending};
use common::{WAIT, assert_no_client_panic, fake_broker_options, watch_client_panics};

/// What "returns at once" allows a call (generous: two cores shared with other work).
const PROMPT: Duration = Duration::from_millis(500);

const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// A PUBLISH fixed header announcing the largest remaining length MQTT can express:
/// 268 435 455 bytes (256 MiB - 1), a packet of 268 435 460 bytes.
const HUGE_PUBLISH_HEADER: [u8; 5] = [0x30, 0xff, 0xff, 0xff, 0x7f];
const HUGE_PACKET_SIZE: usize = 5 + 268_435_455;

/// The resident memory a client may gain from a packet announced as 256 MiB of which
/// next to nothing arrived.
const HUGE_HEADER_RSS_LIMIT: usize = 4 << 20;
/// The address space it may gain: half the announced size (a reservation of the
/// announced length would show; threads and allocator arenas stay below).
const HUGE_HEADER_VM_LIMIT: usize = 128 << 20;

// ----- shared helpers -----

/// One test at a time (see the module documentation); a failed test does not poison
/// the others.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    watch_client_panics();
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// A size from /proc/self/status (`VmRSS`, `VmSize`), in bytes.
fn proc_status(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"));
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{field} value"));
    kib * 1024
}

/// The process's resident memory.
fn rss_bytes() -> usize {
    proc_status("VmRSS:")
}

/// The process's address space: an allocation shows here even before it is touched
/// (a buffer reserved for the announced length would, though never filled).
fn vm_bytes() -> usize {
    proc_status("VmSize:")
}

fn kib(bytes: usize) -> usize {
    bytes >> 10
}

/// Runs a client call and checks that it returned within [`PROMPT`].
fn promptly<T>(what: &str, call: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let result = call();
    let took = started.elapsed();
    assert!(
        took < PROMPT,
        "{what} took {took:?}: a call must not wait for the network"
    );
    (result, took)
}

/// Client options against the fake broker ([`fake_broker_options`], client id
/// `hostile`).
fn options(
    broker: &FakeBroker,
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
) -> ClientOptions {
    fake_broker_options(broker, "hostile", version, tweak)
}

/// Starts a client against a fresh fake broker, without waiting for CONNACK.
fn start(
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
) -> (FakeBroker, Client, Events) {
    start_with(version, tweak, |o| o)
}

/// [`start`], with changes to the client options beyond the session's.
fn start_with(
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
    client: impl FnOnce(ClientOptions) -> ClientOptions,
) -> (FakeBroker, Client, Events) {
    let broker = FakeBroker::start(version).unwrap();
    let (client, events) = Client::start(client(options(&broker, version, tweak))).unwrap();
    (broker, client, events)
}

/// Accepts the client's next connection and reads its CONNECT.
fn accept(broker: &FakeBroker) -> (FakeConnection, mqtt_proto::Connect) {
    let mut conn = broker
        .accept(WAIT)
        .unwrap_or_else(|e| panic!("the client did not connect: {e}"));
    let connect = conn
        .expect_connect(WAIT)
        .unwrap_or_else(|e| panic!("no CONNECT: {e}"));
    assert_eq!(connect.protocol_version, broker.version());
    (conn, connect)
}

/// Accepts the client's next connection, answers CONNACK 0x00 and waits for the
/// `Connected` event.
fn accept_connected(broker: &FakeBroker, events: &Events) -> FakeConnection {
    let (mut conn, _) = accept(broker);
    conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
    expect_connected(events);
    conn
}

fn expect_connected(events: &Events) {
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(_)) => {}
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The next packet from the client, which must come.
fn next_packet(conn: &mut FakeConnection, what: &str) -> Packet {
    conn.expect_packet(WAIT)
        .unwrap_or_else(|e| panic!("expected {what} from the client: {e}"))
}

fn expect_publish(conn: &mut FakeConnection, topic: &str) -> Publish {
    match next_packet(conn, "a PUBLISH") {
        Packet::Publish(p) if p.topic.as_str() == topic => p,
        other => panic!("expected the PUBLISH to {topic:?}, got {other:?}"),
    }
}

/// The client disconnects normally: the call returns at once, DISCONNECT 0x00 is its
/// last packet and it closes the connection.
fn disconnects_at_once(client: &Client, conn: &mut FakeConnection) {
    let (result, _) = promptly("disconnect", || client.disconnect());
    result.unwrap_or_else(|e| panic!("disconnect: {e}"));
    match next_packet(conn, "DISCONNECT") {
        Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::NORMAL_DISCONNECTION),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(
        conn.expect_closed(WAIT),
        "the client closes after DISCONNECT"
    );
}

/// A QoS 0 publish returns at once, completes at once (handed to the connection) and
/// reaches the broker.
fn qos0_publish_goes_out(client: &Client, conn: &mut FakeConnection, topic: &str) {
    let (pending, _) = promptly("a QoS 0 publish", || {
        client.publish(topic, QoS::AtMostOnce, false, "ping")
    });
    let pending = pending.unwrap_or_else(|e| panic!("QoS 0 publish refused: {e}"));
    assert_eq!(
        pending.wait_timeout(PROMPT).ok(),
        Some(Completion::Sent),
        "a QoS 0 publish completes once handed to the connection"
    );
    expect_publish(conn, topic);
}

/// The client's event stream holds nothing now: no disconnect, no message.
fn no_event(events: &Events, what: &str) {
    if let Some(e) = events.try_next() {
        panic!("{what}: unexpected event {e:?}");
    }
}

// ----- 1. a PUBLISH announcing 256 MiB -----

/// The client configurations that must buffer a 256 MiB packet as it comes (it is
/// within their Maximum Packet Size): 3.1.1 (no such limit), 5.0 with the default (no
/// Maximum Packet Size sent: the protocol's limit), 5.0 with Maximum Packet Size set to
/// the protocol's limit.
const BUFFERING: [(ProtocolVersion, Option<u32>); 3] = [
    (ProtocolVersion::V3_1_1, None),
    (ProtocolVersion::V5, None),
    (ProtocolVersion::V5, Some(MAX_PACKET_SIZE as u32)),
];

/// Connects with this configuration; checks what the CONNECT announced.
fn connect_buffering(
    version: ProtocolVersion,
    maximum_packet_size: Option<u32>,
    keep_alive: u16,
) -> (FakeBroker, Client, Events, FakeConnection) {
    let (broker, client, events) = start_with(
        version,
        |o| o.maximum_packet_size = maximum_packet_size,
        |o| o.keep_alive(keep_alive),
    );
    let (mut conn, connect) = accept(&broker);
    if version.is_v5() {
        // Without a Maximum Packet Size in CONNECT the server may send packets up to the
        // protocol's limit: a 256 MiB PUBLISH is allowed, not a violation.
        assert_eq!(
            connect.properties.maximum_packet_size.map(|m| m.get()),
            maximum_packet_size,
            "the Maximum Packet Size the client announces"
        );
    }
    conn.send(ConnAck::new(ReasonCode::Success)).unwrap();
    expect_connected(&events);
    (broker, client, events, conn)
}

#[test]
fn a_256_mib_remaining_length_with_nothing_after_it_allocates_nothing_and_calls_still_work() {
    let _serial = serial();
    for (version, maximum) in BUFFERING {
        let case = format!("{version:?}, Maximum Packet Size {maximum:?}");
        let (_broker, client, events, mut conn) = connect_buffering(version, maximum, 60);
        let baseline = rss_bytes();
        let vm_baseline = vm_bytes();
        conn.send_raw(&HUGE_PUBLISH_HEADER).unwrap();
        // The packet is legal (within the client's limit) and incomplete: the client
        // waits for the rest, without a word to the broker and without an event.
        conn.expect_nothing(Duration::from_millis(300))
            .unwrap_or_else(|e| panic!("{case}: the client reacted to the header: {e}"));
        no_event(&events, &case);
        let grown = rss_bytes().saturating_sub(baseline);
        let vm_grown = vm_bytes().saturating_sub(vm_baseline);
        assert!(
            grown < HUGE_HEADER_RSS_LIMIT,
            "{case}: the client's memory grew by {} KiB on a header announcing 256 MiB",
            kib(grown)
        );
        assert!(
            vm_grown < HUGE_HEADER_VM_LIMIT,
            "{case}: the address space grew by {} KiB on a header announcing 256 MiB: \
             allocated for the length field?",
            kib(vm_grown)
        );
        // Calls return at once and what the client sends still leaves: the connection
        // works in the direction the broker did not break.
        qos0_publish_goes_out(&client, &mut conn, "after/huge-header");
        let (qos1, _) = promptly("a QoS 1 publish", || {
            client.publish("after/huge-header/1", QoS::AtLeastOnce, false, "x")
        });
        let qos1 = qos1.unwrap();
        let p = expect_publish(&mut conn, "after/huge-header/1");
        // Its PUBACK comes behind the 256 MiB packet, which never ends: it stays pending.
        conn.send(PubAck::new(p.packet_id.unwrap())).unwrap();
        assert!(
            matches!(
                qos1.wait_timeout(Duration::from_millis(200)),
                Err(Error::Timeout)
            ),
            "{case}: a PUBACK behind an unfinished packet cannot have been read"
        );
        no_event(&events, &case);
        disconnects_at_once(&client, &mut conn);
        drop(qos1);
        eprintln!(
            "{case}: memory grew {} KiB (address space {} KiB) after a 256 MiB header",
            kib(grown),
            kib(vm_grown)
        );
        assert_no_client_panic();
    }
}

#[test]
fn a_256_mib_remaining_length_over_our_maximum_packet_size_is_refused_at_once() {
    let _serial = serial();
    let maximum = 1 << 20;
    let (broker, client, events) = start(ProtocolVersion::V5, |o| {
        o.maximum_packet_size = Some(maximum);
    });
    let mut conn = accept_connected(&broker, &events);
    let sent = Instant::now();
    // The header alone, not a byte of the body: the size is known, the packet refused.
    conn.send_raw(&HUGE_PUBLISH_HEADER).unwrap();
    match next_packet(&mut conn, "DISCONNECT 0x95") {
        Packet::Disconnect(d) => assert_eq!(d.reason_code, ReasonCode::PacketTooLarge),
        other => panic!("expected DISCONNECT 0x95 Packet Too Large, got {other:?}"),
    }
    let refused_in = sent.elapsed();
    assert!(
        refused_in < PROMPT,
        "refused after {refused_in:?}: the header is enough to refuse"
    );
    assert!(
        conn.expect_closed(WAIT),
        "the client closes after DISCONNECT"
    );
    match events.recv_timeout(WAIT) {
        Ok(Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(ProtocolViolation::Decode(e)),
            reconnect_at: Some(_),
        }) => assert_eq!(
            e,
            DecodeError::PacketTooLarge {
                size: HUGE_PACKET_SIZE,
                maximum
            }
        ),
        other => panic!("expected Disconnected (Packet Too Large), got {other:?}"),
    }
    // The client reconnects by its policy and works.
    let mut conn = accept_connected(&broker, &events);
    qos0_publish_goes_out(&client, &mut conn, "after/refusal");
    disconnects_at_once(&client, &mut conn);
    eprintln!("a 256 MiB header over a 1 MiB maximum refused in {refused_in:?}");
    assert_no_client_panic();
}

/// Sends the 256 MiB header, then `chunk`-byte pieces of its body every `every` for
/// `duration`, answering nothing; returns the body bytes sent and the packets the client
/// sent meanwhile. `during` runs once, half way.
fn trickle(
    conn: &mut FakeConnection,
    chunk: usize,
    every: Duration,
    duration: Duration,
    mut during: impl FnMut(&mut FakeConnection),
) -> (usize, Vec<Packet>) {
    conn.send_raw(&HUGE_PUBLISH_HEADER).unwrap();
    let body = vec![b'x'; chunk];
    let started = Instant::now();
    let mut sent = 0;
    let mut packets = Vec::new();
    let mut halfway = Some(());
    while started.elapsed() < duration {
        if conn.send_raw(&body).is_err() {
            // The client closed the connection.
            break;
        }
        sent += chunk;
        if started.elapsed() >= duration / 2 && halfway.take().is_some() {
            during(conn);
        }
        match conn.expect_packet(every) {
            Ok(p) => packets.push(p),
            Err(ExpectError::Timeout) => {}
            Err(ExpectError::Closed) => break,
            Err(e) => panic!("reading the client during the trickle: {e}"),
        }
    }
    (sent, packets)
}

#[test]
fn a_256_mib_packet_trickling_in_holds_only_what_arrived_and_calls_still_work() {
    let _serial = serial();
    for (version, maximum) in BUFFERING {
        let case = format!("{version:?}, Maximum Packet Size {maximum:?}");
        let (_broker, client, events, mut conn) = connect_buffering(version, maximum, 60);
        let baseline = rss_bytes();
        let vm_baseline = vm_bytes();
        let mut call_took = Duration::ZERO;
        // 2 KiB every 10 ms for 1.2 s: about 240 KiB of a 256 MiB body.
        let (sent, packets) = trickle(
            &mut conn,
            2048,
            Duration::from_millis(10),
            Duration::from_millis(1200),
            |conn| {
                let started = Instant::now();
                qos0_publish_goes_out(&client, conn, "during/trickle");
                call_took = started.elapsed();
            },
        );
        let grown = rss_bytes().saturating_sub(baseline);
        let vm_grown = vm_bytes().saturating_sub(vm_baseline);
        assert!(
            packets.is_empty(),
            "{case}: the client sent {packets:?} during the trickle"
        );
        no_event(&events, &case);
        // What the client holds is about what arrived (its buffer doubles as it grows),
        // never what the length field announced.
        assert!(
            grown < 4 * sent + (2 << 20),
            "{case}: the client's memory grew by {} KiB while {} KiB of a 256 MiB packet \
             arrived",
            kib(grown),
            kib(sent)
        );
        assert!(
            vm_grown < HUGE_HEADER_VM_LIMIT,
            "{case}: the address space grew by {} KiB while {} KiB of a 256 MiB packet \
             arrived: allocated for the length field?",
            kib(vm_grown),
            kib(sent)
        );
        // Closing (no DISCONNECT, as if the network failed) works mid-packet too.
        let (result, _) = promptly("close", || client.close());
        result.unwrap_or_else(|e| panic!("{case}: close: {e}"));
        assert!(
            conn.expect_closed(WAIT),
            "{case}: the client closes the connection"
        );
        eprintln!(
            "{case}: {} KiB of a 256 MiB packet arrived, memory grew {} KiB (address \
             space {} KiB); a publish meanwhile took {call_took:?}",
            kib(sent),
            kib(grown),
            kib(vm_grown)
        );
        assert_no_client_panic();
    }
}

#[test]
fn a_packet_that_never_completes_ends_in_the_keep_alive_timeout() {
    let _serial = serial();
    // A slow-loris broker: bytes keep coming, the packet never ends, so the PINGRESP
    // (were it sent) could never be read. Keep-alive ends the connection.
    for version in BOTH {
        let (broker, client, events, mut conn) = connect_buffering(version, None, 1);
        let started = Instant::now();
        let (_, packets) = trickle(
            &mut conn,
            16,
            Duration::from_millis(50),
            Duration::from_secs(4),
            |_| {},
        );
        let closed_after = started.elapsed();
        assert!(
            matches!(packets.first(), Some(Packet::PingReq)),
            "{version:?}: expected PINGREQ after a keep-alive period, got {packets:?}"
        );
        assert!(
            closed_after < Duration::from_secs(3),
            "{version:?}: the client kept the connection for {closed_after:?} \
             (keep-alive 1 s, ping timeout 0.5 s)"
        );
        match events.recv_timeout(WAIT) {
            Ok(Event::Disconnected {
                reason: DisconnectReason::KeepAliveTimeout,
                reconnect_at: Some(_),
            }) => {}
            other => panic!("{version:?}: expected KeepAliveTimeout, got {other:?}"),
        }
        let mut conn = accept_connected(&broker, &events);
        disconnects_at_once(&client, &mut conn);
        eprintln!("{version:?}: a never-ending packet closed after {closed_after:?}");
        assert_no_client_panic();
    }
}

// ----- 2. a broker that drips bytes -----

fn encode(packet: impl Into<Packet>, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet.into().encode(version, &mut buf).unwrap();
    buf.to_vec()
}

#[test]
fn a_broker_dripping_one_byte_at_a_time_is_understood_and_calls_still_work() {
    let _serial = serial();
    for version in BOTH {
        let (broker, client, events) = start(version, |o| {
            o.connect_timeout = Duration::from_secs(3);
        });
        let (mut conn, _) = accept(&broker);
        // Queued while the CONNACK drips in: the calls return at once.
        let (queued, _) = promptly("a QoS 1 publish before CONNACK", || {
            client.publish("queued/t", QoS::AtLeastOnce, false, "q")
        });
        let queued = queued.unwrap();
        let connack = encode(ConnAck::new(ReasonCode::Success), version);
        let started = Instant::now();
        for byte in &connack {
            conn.send_raw(std::slice::from_ref(byte)).unwrap();
            std::thread::sleep(Duration::from_millis(150));
        }
        expect_connected(&events);
        let connack_took = started.elapsed();
        let p = expect_publish(&mut conn, "queued/t");
        conn.send(PubAck::new(p.packet_id.unwrap())).unwrap();
        assert_eq!(
            queued.wait_timeout(WAIT).ok(),
            Some(Completion::Published(ReasonCode::Success)),
            "{version:?}: the publish queued before CONNACK"
        );
        // A QoS 1 PUBLISH, one byte every 20 ms; the client publishes meanwhile.
        let mut incoming = Publish::new(TopicName::from_static("drip/t"), "dripped payload");
        incoming.qos = QoS::AtLeastOnce;
        incoming.packet_id = mqtt_proto::PacketId::new(9);
        let bytes = encode(incoming, version);
        for (i, byte) in bytes.iter().enumerate() {
            conn.send_raw(std::slice::from_ref(byte)).unwrap();
            if i == bytes.len() / 2 {
                qos0_publish_goes_out(&client, &mut conn, "during/drip");
                no_event(&events, "half a PUBLISH");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match events.recv_timeout(WAIT) {
            Ok(Event::Message(m)) => {
                assert_eq!(m.publish.topic.as_str(), "drip/t");
                assert_eq!(&m.publish.payload[..], b"dripped payload");
            }
            other => panic!("{version:?}: expected the dripped message, got {other:?}"),
        }
        match next_packet(&mut conn, "PUBACK") {
            Packet::PubAck(a) => assert_eq!(a.packet_id.get(), 9),
            other => panic!("{version:?}: expected PUBACK 9, got {other:?}"),
        }
        disconnects_at_once(&client, &mut conn);
        eprintln!(
            "{version:?}: CONNACK of {} bytes dripped in {connack_took:?}, PUBLISH of {}",
            connack.len(),
            bytes.len()
        );
        assert_no_client_panic();
    }
}

#[test]
fn a_connack_dripping_past_the_connect_timeout_times_out_and_the_client_tries_again() {
    let _serial = serial();
    // One byte a second; the connect timeout is 1.5 s: two bytes arrive in time, the
    // third does not, and the bytes that do arrive do not move the deadline.
    let timeout = Duration::from_millis(1500);
    for version in BOTH {
        // The deadline starts once the TCP connection is up: after this.
        let started = Instant::now();
        let (broker, client, events) = start(version, |o| o.connect_timeout = timeout);
        let (mut conn, _) = accept(&broker);
        let (pending, _) = promptly("a QoS 1 publish while CONNACK drips", || {
            client.publish("queued/t", QoS::AtLeastOnce, false, "q")
        });
        let pending = pending.unwrap();
        let connack = encode(ConnAck::new(ReasonCode::Success), version);
        let mut event = None;
        let mut dripped = 0;
        // Never the last byte: the CONNACK cannot complete, whatever the timing.
        for byte in &connack[..connack.len() - 1] {
            if conn.send_raw(std::slice::from_ref(byte)).is_err() {
                break;
            }
            dripped += 1;
            match events.recv_timeout(Duration::from_secs(1)) {
                Ok(e) => {
                    event = Some(e);
                    break;
                }
                Err(Error::Timeout) => {}
                Err(e) => panic!("{version:?}: the event stream failed: {e}"),
            }
        }
        let event = event.or_else(|| events.recv_timeout(WAIT).ok());
        let elapsed = started.elapsed();
        match event {
            Some(Event::Disconnected {
                reason: DisconnectReason::ConnectTimeout,
                reconnect_at: Some(_),
            }) => {}
            other => panic!("{version:?}: expected ConnectTimeout, got {other:?}"),
        }
        assert!(
            elapsed >= timeout && elapsed < timeout + Duration::from_millis(800),
            "{version:?}: CONNACK timeout after {elapsed:?}, {timeout:?} asked"
        );
        assert!(
            conn.expect_closed(WAIT),
            "{version:?}: the client closes the attempt it gave up on"
        );
        // The next attempt is answered at once; the queued publish goes out on it.
        let mut conn = accept_connected(&broker, &events);
        let p = expect_publish(&mut conn, "queued/t");
        conn.send(PubAck::new(p.packet_id.unwrap())).unwrap();
        assert_eq!(
            pending.wait_timeout(WAIT).ok(),
            Some(Completion::Published(ReasonCode::Success)),
            "{version:?}: the publish queued during the dripped CONNACK"
        );
        disconnects_at_once(&client, &mut conn);
        eprintln!(
            "{version:?}: {dripped} of {} CONNACK bytes dripped, timed out after {elapsed:?}",
            connack.len()
        );
        assert_no_client_panic();
    }
}

// ----- 3. a broker that never sends CONNACK -----

#[test]
fn calls_return_at_once_and_are_carried_out_after_connack_timeouts() {
    let _serial = serial();
    let timeout = Duration::from_millis(300);
    for version in BOTH {
        let started = Instant::now();
        let (broker, client, events) = start(version, |o| o.connect_timeout = timeout);
        let baseline = rss_bytes();
        let mut pending: Vec<Pending> = Vec::new();
        let mut slowest = Duration::ZERO;
        // Three attempts, none answered; calls made during each one.
        for attempt in 0..3 {
            let (mut conn, _) = accept(&broker);
            let (p, took) = promptly("a QoS 1 publish while CONNACK is awaited", || {
                client.publish("queued/t", QoS::AtLeastOnce, false, vec![attempt as u8])
            });
            pending.push(p.unwrap());
            slowest = slowest.max(took);
            let (s, took) = promptly("a subscribe while CONNACK is awaited", || {
                client.subscribe("queued/#", QoS::AtLeastOnce)
            });
            pending.push(s.unwrap());
            slowest = slowest.max(took);
            match events.recv_timeout(WAIT) {
                Ok(Event::Disconnected {
                    reason: DisconnectReason::ConnectTimeout,
                    reconnect_at: Some(_),
                }) => {}
                other => {
                    panic!("{version:?}: attempt {attempt}: expected ConnectTimeout, got {other:?}")
                }
            }
            assert!(
                conn.expect_closed(WAIT),
                "{version:?}: attempt {attempt} closed"
            );
            assert!(
                pending.iter().all(|p| !p.is_done()),
                "{version:?}: a call failed or completed without a connection"
            );
        }
        let attempts_took = started.elapsed();
        assert!(
            attempts_took >= 3 * timeout && attempts_took < 3 * timeout + Duration::from_secs(2),
            "{version:?}: three attempts of {timeout:?} took {attempts_took:?}"
        );
        let grown = rss_bytes().saturating_sub(baseline);
        // The fourth attempt is answered: everything queued goes out, in order.
        let mut conn = accept_connected(&broker, &events);
        let mut published = Vec::new();
        let mut subscribed = 0;
        while published.len() < 3 || subscribed < 3 {
            match next_packet(&mut conn, "the queued operations") {
                Packet::Publish(p) => {
                    published.push(p.payload[0]);
                    conn.send(PubAck::new(p.packet_id.unwrap())).unwrap();
                }
                Packet::Subscribe(s) => {
                    subscribed += 1;
                    conn.send(SubAck {
                        packet_id: s.packet_id,
                        reason_codes: vec![ReasonCode::GrantedQoS1],
                        properties: Default::default(),
                    })
                    .unwrap();
                }
                other => panic!("{version:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(
            published,
            [0, 1, 2],
            "{version:?}: queued publishes in order"
        );
        for (i, p) in pending.into_iter().enumerate() {
            match p.wait_timeout(WAIT) {
                Ok(Completion::Published(ReasonCode::Success)) if i % 2 == 0 => {}
                Ok(Completion::Subscribed(codes)) if i % 2 == 1 => {
                    assert_eq!(codes, [ReasonCode::GrantedQoS1])
                }
                other => panic!("{version:?}: operation {i}: {other:?}"),
            }
        }
        disconnects_at_once(&client, &mut conn);
        eprintln!(
            "{version:?}: 3 unanswered attempts in {attempts_took:?}, slowest call {slowest:?}, \
             memory grew {} KiB",
            kib(grown)
        );
        assert!(
            grown < 4 << 20,
            "{version:?}: memory grew by {} KiB over three connection attempts",
            kib(grown)
        );
        assert_no_client_panic();
    }
}

#[test]
fn connect_gives_up_saying_no_connack_came_after_retrying_by_its_policy() {
    let _serial = serial();
    for version in BOTH {
        let broker = FakeBroker::start(version).unwrap();
        let options = options(&broker, version, |o| {
            o.connect_timeout = Duration::from_millis(300);
        })
        .connect_timeout(Duration::from_millis(1200));
        let stop = Arc::new(AtomicBool::new(false));
        let server = std::thread::spawn({
            let stop = stop.clone();
            move || {
                // Accepts every attempt and never answers; counts them.
                let mut attempts = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(mut conn) = broker.accept(Duration::from_millis(50))
                        && conn.expect_connect(WAIT).is_ok()
                    {
                        attempts.push(conn);
                    }
                }
                let closed = attempts
                    .iter_mut()
                    .all(|c| c.expect_closed(Duration::from_secs(1)));
                (attempts.len(), closed)
            }
        });
        let started = Instant::now();
        let result = Client::connect(options);
        let elapsed = started.elapsed();
        stop.store(true, Ordering::SeqCst);
        let (attempts, closed) = server.join().unwrap();
        match result {
            Err(e @ Error::Disconnected(DisconnectReason::ConnectTimeout)) => {
                let text = e.to_string();
                assert!(text.contains("no CONNACK"), "{version:?}: {text}");
            }
            Err(e) => panic!("{version:?}: expected Disconnected(ConnectTimeout), got {e:?}"),
            Ok(_) => panic!("{version:?}: connected to a broker that never answers"),
        }
        assert!(
            elapsed >= Duration::from_millis(1200) && elapsed < Duration::from_millis(2500),
            "{version:?}: gave up after {elapsed:?}, 1.2 s asked"
        );
        // 300 ms per attempt and 20 ms to 200 ms between them: 3 or 4 in 1.2 s.
        assert!(
            (2..=5).contains(&attempts),
            "{version:?}: {attempts} attempts in {elapsed:?}"
        );
        assert!(
            closed,
            "{version:?}: every attempt was closed by the client"
        );
        eprintln!("{version:?}: connect gave up after {elapsed:?} and {attempts} attempts");
        assert_no_client_panic();
    }
}

// ----- 4. a flood of small packets -----

/// Messages a second, and for how long.
const FLOOD_RATE: usize = 10_000;
const FLOOD_FOR: Duration = Duration::from_secs(2);
const FLOOD_MESSAGES: usize = FLOOD_RATE * 2;
/// Each message: the topic "flood/t" and 256 bytes of payload (its number first).
const FLOOD_PAYLOAD: usize = 256;
/// The client's event buffer in the flood tests.
const EVENT_BUFFER: usize = 64;
/// The resident memory the client may gain during the flood. Holding every message
/// would take well over 20 000 * (256 + the size of an `Event`) bytes: over 8 MiB.
const FLOOD_RSS_LIMIT: usize = 4 << 20;

/// What the broker's side of a flood saw.
struct FloodBroker {
    /// Packets the client sent, with when they arrived (since the flood began).
    received: Arc<Mutex<Vec<(Duration, Packet)>>>,
    /// Messages written to the socket so far.
    written: Arc<AtomicUsize>,
    done: Arc<AtomicBool>,
    reader: std::thread::JoinHandle<()>,
    writer: std::thread::JoinHandle<Result<(), String>>,
}

impl FloodBroker {
    /// Starts writing `messages` PUBLISHes of QoS `qos` (topic "flood/t", payload
    /// [`FLOOD_PAYLOAD`] bytes, its number first) at [`FLOOD_RATE`] to `conn`, and reading
    /// what the client sends (SUBSCRIBE is answered with SUBACK, a QoS 1 PUBLISH with
    /// PUBACK, in line with the flood). The broker generates messages only as the socket
    /// takes them, so its own memory (this process's too) stays small.
    fn start(mut conn: FakeConnection, qos: QoS, messages: usize) -> FloodBroker {
        let version = conn.version();
        let mut stream: TcpStream = conn.stream().try_clone().unwrap();
        stream
            .set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let (answers, answer_rx) = mpsc::channel::<Vec<u8>>();
        let started = Instant::now();
        let reader = std::thread::spawn({
            let received = received.clone();
            let done = done.clone();
            move || {
                while !done.load(Ordering::SeqCst) {
                    let packet = match conn.expect_packet(Duration::from_millis(20)) {
                        Ok(p) => p,
                        Err(ExpectError::Timeout) => continue,
                        Err(_) => break,
                    };
                    let answer: Option<Packet> = match &packet {
                        Packet::Subscribe(s) => Some(
                            SubAck {
                                packet_id: s.packet_id,
                                reason_codes: vec![ReasonCode::Success],
                                properties: Default::default(),
                            }
                            .into(),
                        ),
                        Packet::Publish(p) if p.qos == QoS::AtLeastOnce => {
                            Some(PubAck::new(p.packet_id.unwrap()).into())
                        }
                        _ => None,
                    };
                    if let Some(a) = answer {
                        let _ = answers.send(encode(a, version));
                    }
                    received.lock().unwrap().push((started.elapsed(), packet));
                }
            }
        });
        let writer = std::thread::spawn({
            let written = written.clone();
            let done = done.clone();
            move || {
                let mut next = 0usize;
                let mut chunk = BytesMut::new();
                let mut offset = 0;
                let mut in_chunk = 0;
                let mut payload = vec![b'f'; FLOOD_PAYLOAD];
                loop {
                    if offset == chunk.len() {
                        written.fetch_add(in_chunk, Ordering::SeqCst);
                        chunk.clear();
                        offset = 0;
                        in_chunk = 0;
                        // Answers go between whole messages.
                        while let Ok(a) = answer_rx.try_recv() {
                            chunk.extend_from_slice(&a);
                        }
                        let due = (started.elapsed().as_micros() as usize * FLOOD_RATE / 1_000_000)
                            .min(messages);
                        while next < due && in_chunk < 64 {
                            payload[..8].copy_from_slice(&(next as u64).to_be_bytes());
                            let mut p =
                                Publish::new(TopicName::from_static("flood/t"), payload.clone());
                            if qos != QoS::AtMostOnce {
                                p.qos = qos;
                                p.packet_id = mqtt_proto::PacketId::new((next % 65_535) as u16 + 1);
                            }
                            p.encode(version, &mut chunk).unwrap();
                            next += 1;
                            in_chunk += 1;
                        }
                        if chunk.is_empty() {
                            if done.load(Ordering::SeqCst) {
                                return Ok(());
                            }
                            std::thread::sleep(Duration::from_millis(1));
                            continue;
                        }
                    }
                    match std::io::Write::write(&mut stream, &chunk[offset..]) {
                        Ok(0) => return Err("the client closed the connection".to_string()),
                        Ok(n) => offset += n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::TimedOut
                                    | std::io::ErrorKind::Interrupted
                            ) =>
                        {
                            if done.load(Ordering::SeqCst) {
                                return Ok(());
                            }
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::BrokenPipe
                                    | std::io::ErrorKind::ConnectionReset
                            ) =>
                        {
                            return Err(format!("the client closed the connection: {e}"));
                        }
                        Err(e) => return Err(format!("writing the flood: {e}")),
                    }
                }
            }
        });
        FloodBroker {
            received,
            written,
            done,
            reader,
            writer,
        }
    }

    /// The packets the client sent so far.
    fn received(&self) -> Vec<(Duration, Packet)> {
        self.received.lock().unwrap().clone()
    }

    /// Stops writing and reading, once the client disconnected: writing may have failed
    /// for the close (a close before is caught by the tests' own checks: a message
    /// missing, a DISCONNECT too early).
    fn stop(self) {
        self.done.store(true, Ordering::SeqCst);
        match self.writer.join().unwrap() {
            Ok(()) => {}
            Err(e) if e.contains("closed") => {}
            Err(e) => panic!("the flooding broker: {e}"),
        }
        self.reader.join().unwrap();
    }
}

/// How the application reads during the flood.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    /// Not at all.
    Never,
    /// About 2 500 events a second: a quarter of the rate.
    Slowly,
}

/// Takes the message numbered `*next` off `event`; any other event fails the test.
fn take_message(event: Event, next: &mut usize, case: &str) {
    match event {
        Event::Message(m) => {
            assert_eq!(m.publish.topic.as_str(), "flood/t", "{case}");
            assert_eq!(m.publish.payload.len(), FLOOD_PAYLOAD, "{case}");
            let n = u64::from_be_bytes(m.publish.payload[..8].try_into().unwrap()) as usize;
            assert_eq!(n, *next, "{case}: messages out of order or lost");
            *next += 1;
        }
        other => panic!("{case}: unexpected event after {next} messages: {other:?}"),
    }
}

fn flood(version: ProtocolVersion, reading: Reading) {
    let case = format!("{version:?}, reading {reading:?}");
    let (broker, client, events) = start_with(version, |_| {}, |o| o.event_buffer(EVENT_BUFFER));
    let mut conn = accept_connected(&broker, &events);
    let subscribe = client.subscribe("flood/#", QoS::AtMostOnce).unwrap();
    match next_packet(&mut conn, "SUBSCRIBE") {
        Packet::Subscribe(s) => conn
            .send(SubAck {
                packet_id: s.packet_id,
                reason_codes: vec![ReasonCode::Success],
                properties: Default::default(),
            })
            .unwrap(),
        other => panic!("{case}: expected SUBSCRIBE, got {other:?}"),
    }
    assert!(matches!(
        subscribe.wait_timeout(WAIT),
        Ok(Completion::Subscribed(_))
    ));
    let baseline = rss_bytes();
    let started = Instant::now();
    let broker = FloodBroker::start(conn, QoS::AtMostOnce, FLOOD_MESSAGES);
    let mut next = 0usize;
    let mut peak = 0usize;
    let mut calls: Option<(Pending, Pending, Pending, Duration)> = None;
    let mut slowest_call = Duration::ZERO;
    while started.elapsed() < FLOOD_FOR {
        if calls.is_none() && started.elapsed() >= FLOOD_FOR / 3 {
            // Calls in the thick of it: they return at once.
            let called = started.elapsed();
            let (qos0, t0) = promptly("a QoS 0 publish during the flood", || {
                client.publish("out/0", QoS::AtMostOnce, false, "x")
            });
            let (qos1, t1) = promptly("a QoS 1 publish during the flood", || {
                client.publish("out/1", QoS::AtLeastOnce, false, "x")
            });
            let (sub, t2) = promptly("a subscribe during the flood", || {
                client.subscribe("more/#", QoS::AtMostOnce)
            });
            slowest_call = t0.max(t1).max(t2);
            let qos0 = qos0.unwrap();
            assert_eq!(
                qos0.wait_timeout(PROMPT).ok(),
                Some(Completion::Sent),
                "{case}: a QoS 0 publish during the flood"
            );
            calls = Some((qos0, qos1.unwrap(), sub.unwrap(), called));
        }
        match reading {
            Reading::Never => std::thread::sleep(Duration::from_millis(20)),
            Reading::Slowly => {
                for _ in 0..5 {
                    if let Some(e) = events.try_next() {
                        take_message(e, &mut next, &case);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        peak = peak.max(rss_bytes().saturating_sub(baseline));
    }
    let (_qos0, qos1, sub, called) = calls.expect("the calls were made");
    let written = broker.written.load(Ordering::SeqCst);
    let read_during = next;
    // What the client sent during the flood left at once: back-pressure holds the
    // incoming direction only.
    let received = broker.received();
    for topic in ["out/0", "out/1"] {
        let at = received.iter().find_map(|(at, p)| match p {
            Packet::Publish(p) if p.topic.as_str() == topic => Some(*at),
            _ => None,
        });
        match at {
            Some(at) => assert!(
                at < called + PROMPT,
                "{case}: the PUBLISH to {topic} reached the broker {:?} after the call",
                at - called
            ),
            None => panic!(
                "{case}: the PUBLISH to {topic} did not reach the broker during the flood: {received:?}"
            ),
        }
    }
    assert!(
        received
            .iter()
            .any(|(at, p)| matches!(p, Packet::Subscribe(_)) && *at < called + PROMPT),
        "{case}: the SUBSCRIBE did not reach the broker during the flood: {received:?}"
    );
    assert!(
        peak < FLOOD_RSS_LIMIT,
        "{case}: the client's memory grew by {} KiB during a flood of {written} messages \
         ({read_during} read)",
        kib(peak)
    );
    if reading == Reading::Never {
        // The broker's answers are behind the messages nobody read: the client stopped
        // reading, so it has not seen them yet.
        assert!(
            !qos1.is_done() && !sub.is_done(),
            "{case}: the PUBACK / SUBACK behind {written} unread messages was read: the \
             client did not stop reading at its event buffer"
        );
    }
    // The application catches up: every message, in order, on the same connection;
    // then the answers to the calls.
    let deadline = Instant::now() + WAIT;
    while next < FLOOD_MESSAGES {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) => take_message(e, &mut next, &case),
            Err(e) => panic!("{case}: after {next} of {FLOOD_MESSAGES} messages: {e}"),
        }
    }
    let drained_after = started.elapsed();
    assert_eq!(
        qos1.wait_timeout(WAIT).ok(),
        Some(Completion::Published(ReasonCode::Success)),
        "{case}: the QoS 1 publish made during the flood"
    );
    assert!(
        matches!(sub.wait_timeout(WAIT), Ok(Completion::Subscribed(_))),
        "{case}: the subscribe made during the flood"
    );
    no_event(&events, &case);
    // The same connection all along: the client's first DISCONNECT is the one asked
    // for now.
    assert!(
        !broker
            .received()
            .iter()
            .any(|(_, p)| matches!(p, Packet::Disconnect(_))),
        "{case}: the client disconnected during the flood"
    );
    promptly("disconnect", || client.disconnect())
        .0
        .unwrap_or_else(|e| panic!("{case}: disconnect: {e}"));
    let deadline = Instant::now() + WAIT;
    while !broker
        .received()
        .iter()
        .any(|(_, p)| matches!(p, Packet::Disconnect(_)))
    {
        assert!(
            Instant::now() < deadline,
            "{case}: no DISCONNECT after disconnect"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    broker.stop();
    eprintln!(
        "{case}: {written} messages written in {FLOOD_FOR:?}, {read_during} read meanwhile, \
         memory grew at most {} KiB, calls took at most {slowest_call:?}, all {FLOOD_MESSAGES} \
         received after {drained_after:?}",
        kib(peak)
    );
    assert_no_client_panic();
}

#[test]
fn a_flood_nobody_reads_stops_at_the_event_buffer_and_loses_nothing() {
    let _serial = serial();
    for version in BOTH {
        flood(version, Reading::Never);
    }
}

#[test]
fn a_flood_read_slowly_keeps_memory_bounded_and_calls_prompt() {
    let _serial = serial();
    for version in BOTH {
        flood(version, Reading::Slowly);
    }
}

/// How many QoS 1 messages the client acknowledged: the messages it took off the socket
/// (automatic acknowledgements go out as the client takes a message in).
fn acknowledged(broker: &FloodBroker) -> usize {
    broker
        .received()
        .iter()
        .filter(|(_, p)| matches!(p, Packet::PubAck(_)))
        .count()
}

#[test]
fn a_flood_nobody_reads_is_taken_off_the_socket_only_up_to_the_event_buffer() {
    let _serial = serial();
    // The contract of `event_buffer`: the client stops reading the socket once that many
    // events wait. It checks before each read, and one read (at most MAX_READ bytes) may
    // hold more messages than there is room for: all of them are taken.
    let messages = FLOOD_RATE;
    for version in BOTH {
        let (broker, client, events) =
            start_with(version, |_| {}, |o| o.event_buffer(EVENT_BUFFER));
        let conn = accept_connected(&broker, &events);
        let baseline = rss_bytes();
        let broker = FloodBroker::start(conn, QoS::AtLeastOnce, messages);
        // A second of flood, a second more of nobody reading.
        std::thread::sleep(Duration::from_secs(1));
        let after_flood = acknowledged(&broker);
        std::thread::sleep(Duration::from_secs(1));
        let taken = acknowledged(&broker);
        let grown = rss_bytes().saturating_sub(baseline);
        let written = broker.written.load(Ordering::SeqCst);
        let packet_size = encode(
            {
                let mut p = Publish::new(TopicName::from_static("flood/t"), vec![0; FLOOD_PAYLOAD]);
                p.qos = QoS::AtLeastOnce;
                p.packet_id = mqtt_proto::PacketId::new(1);
                p
            },
            version,
        )
        .len();
        let one_read = crate::driver::mqtt_engine::MAX_READ.div_ceil(packet_size);
        assert!(
            (EVENT_BUFFER..=EVENT_BUFFER + one_read).contains(&taken),
            "{version:?}: the client took {taken} of {written} messages off the socket while \
             nobody read; its event buffer holds {EVENT_BUFFER}, one read at most {one_read}"
        );
        assert_eq!(
            taken, after_flood,
            "{version:?}: the client went on reading with a full event buffer"
        );
        assert!(
            grown < FLOOD_RSS_LIMIT,
            "{version:?}: the client's memory grew by {} KiB",
            kib(grown)
        );
        // Reading slowly now: what the client holds (taken off the socket, not yet read
        // by the application) stays within the buffer and a read; mqtt-std's iterator
        // takes a batch of up to a buffer more.
        let mut next = 0;
        let case = format!("{version:?}, QoS 1");
        let slow = Instant::now();
        let mut most_held = 0;
        while slow.elapsed() < Duration::from_secs(1) {
            for _ in 0..5 {
                if let Some(e) = events.try_next() {
                    take_message(e, &mut next, &case);
                }
            }
            most_held = most_held.max(acknowledged(&broker).saturating_sub(next));
            std::thread::sleep(Duration::from_millis(2));
        }
        let read_slowly = next;
        assert!(
            most_held <= 2 * (EVENT_BUFFER + one_read),
            "{case}: the client held {most_held} messages the application had not read"
        );
        // Then every message arrives, in order, and is acknowledged.
        while next < messages {
            match events.recv_timeout(WAIT) {
                Ok(e) => take_message(e, &mut next, &case),
                Err(e) => panic!("{case}: after {next} of {messages} messages: {e}"),
            }
        }
        let deadline = Instant::now() + WAIT;
        while acknowledged(&broker) < messages {
            assert!(
                Instant::now() < deadline,
                "{case}: {} of {messages} messages acknowledged",
                acknowledged(&broker)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        no_event(&events, &case);
        promptly("disconnect", || client.disconnect())
            .0
            .unwrap_or_else(|e| panic!("{case}: disconnect: {e}"));
        broker.stop();
        eprintln!(
            "{case}: {taken} of {written} messages taken off the socket while nobody read \
             (event buffer {EVENT_BUFFER}, one read up to {one_read}), memory grew {} KiB; \
             then read {read_slowly} slowly, holding at most {most_held} unread",
            kib(grown)
        );
        assert_no_client_panic();
    }
}

#[test]
fn disconnect_returns_at_once_under_back_pressure_and_the_held_events_are_still_read() {
    let _serial = serial();
    for version in BOTH {
        let (broker, client, events) =
            start_with(version, |_| {}, |o| o.event_buffer(EVENT_BUFFER));
        let conn = accept_connected(&broker, &events);
        let broker = FloodBroker::start(conn, QoS::AtMostOnce, FLOOD_RATE / 2);
        // Half a second of flood nobody reads: the event buffer is full, the client has
        // stopped reading.
        std::thread::sleep(Duration::from_millis(500));
        let (result, took) = promptly("disconnect with a full event buffer", || {
            client.disconnect()
        });
        result.unwrap_or_else(|e| panic!("{version:?}: disconnect: {e}"));
        let deadline = Instant::now() + WAIT;
        while !broker
            .received()
            .iter()
            .any(|(_, p)| matches!(p, Packet::Disconnect(_)))
        {
            assert!(
                Instant::now() < deadline,
                "{version:?}: no DISCONNECT reached the broker"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        // What the client had taken in is still handed out, in order, then the end.
        let case = format!("{version:?}, after disconnect");
        let mut next = 0;
        loop {
            match events.recv_timeout(WAIT) {
                Ok(Event::Disconnected {
                    reason: DisconnectReason::Requested,
                    reconnect_at: None,
                }) => break,
                Ok(e) => take_message(e, &mut next, &case),
                Err(e) => panic!("{case}: after {next} messages: {e}"),
            }
        }
        assert!(
            next >= EVENT_BUFFER,
            "{case}: only {next} of the messages held were handed out"
        );
        match events.recv_timeout(WAIT) {
            Err(Error::Closed) => {}
            other => panic!("{case}: expected the end of the events, got {other:?}"),
        }
        broker.stop();
        eprintln!(
            "{version:?}: disconnect under back-pressure took {took:?}; {next} held messages \
             handed out after it"
        );
        assert_no_client_panic();
    }
}
