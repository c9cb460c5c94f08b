//! The client against a real broker (Mosquitto) behind a faulty network.
//!
//! * A dead link (the [`FaultProxy`] stalls: sockets open, nothing delivered) is found by
//!   keep-alive within 1.5 periods, and the client reconnects once the link is back.
//! * 50 connection cuts at random points while 10 000 QoS 1 and 10 000 QoS 2 messages
//!   flow each way, under 3.1.1 and 5.0, with a persistent session: nothing lost, no
//!   QoS 2 duplicate, order kept per topic. (Except the broker's own: mosquitto now and
//!   then sends a QoS 2 PUBLISH again after its PUBREL, which A, having completed it,
//!   must take as new; the test counts those in the broker's log and names them:
//!   `resent_after_pubrel`.)
//! * A broker restart with persistence: publishes made while it is down complete once
//!   it is back.
//! * The 3.1.1 in-flight window of 20 holds across a resumed session (scripted with a
//!   [`testkit::FakeBroker`], so that the count is exact).
//!
//! # Design of the cut test
//!
//! Only the client under test (A) goes through the proxy. The other ends talk to the
//! broker directly over loopback, so every loss, duplicate or reordering is the faulty
//! link's (A's or the broker's handling of it), never the checker's:
//!
//! ```text
//!   A (client)   ──proxy (cuts)── mosquitto ──── raw subscriber   (up/1 QoS 1, up/2 QoS 2)
//!                                           └─── raw publisher    (down/1 QoS 1, down/2 QoS 2)
//! ```
//!
//! The other ends are testkit's [`RawClient`] driven by a few lines of code here, not a
//! second client of the driver under test: the oracle does not share the code it
//! checks. They always speak MQTT 5, whatever A speaks.
//!
//! Mosquitto 2.0.11 itself reorders the messages it sends a subscriber once it has to
//! queue them behind its in-flight window (seen in its log with no cut at all: a message
//! inserted later is sent before earlier queued ones; its documentation promises order
//! only with `max_inflight_messages 1`). So that an order check tests the client and not
//! the broker:
//!
//! * the raw subscriber declares Receive Maximum 1: the broker has one message in flight
//!   towards it and keeps order; any reordering of up/1 or up/2 is A's;
//! * the raw publisher keeps at most [`DOWN_AHEAD`] messages published and not yet
//!   delivered to A, so the broker's in-flight window towards A (20) never fills and it
//!   never queues for A while A is connected; after a cut what it holds for A fits in the
//!   window again.
//!
//! The broker runs with its defaults otherwise (`max_inflight_messages` 20: under 3.1.1
//! it silently drops QoS 2 messages beyond 20 in flight, which A's default window of 20
//! must prevent; A publishes in runs of [`BURST`] messages per topic, so that its window
//! is at times all QoS 2), except that its queue limit is lifted (`max_queued_messages`),
//! or it would drop messages queued beyond 1000, and `set_tcp_nodelay` is on: with
//! Nagle's algorithm on its sockets every request/response exchange takes about 10 ms
//! on loopback, and the flow-controlled run takes 50 s instead of 10.
//!
//! Each message carries its sequence number per topic. A checker per topic records which
//! arrived: a number seen before is a duplicate (allowed at QoS 1, an error at QoS 2), a
//! first arrival that is not the lowest missing number is a reordering, and every number
//! must arrive. Cuts are spread over the run: cut `k` of 50 is set once 88 % · k / 49 of
//! the messages arrived, in a random direction after a random number of bytes (seeded;
//! one in five within 64 bytes, so handshakes and resumptions are cut too), and the next
//! one waits until A noticed it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::num::NonZeroU16;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

use crate::driver::{Client, ClientOptions, Completion, Error, Events, Pending};
use common::{assert_no_client_panic, watch_client_panics};
use mqtt_proto::{
    Connect, Disconnect, MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, QoS, ReasonCode, Subscribe, Subscription, TopicFilter, TopicName,
};
use mqtt_session::{DisconnectReason, Event};
use testkit::{Direction, FaultProxy, Mosquitto, RawClient};

/// How long a test waits for anything that should happen at once.
const WAIT: Duration = Duration::from_secs(10);
/// Messages per topic (and QoS) and direction in the cut test.
const MESSAGES: u64 = 10_000;
/// Connection cuts in the cut test.
const CUTS: u64 = 50;
/// QoS 1/2 messages the raw publisher keeps in flight.
const RAW_WINDOW: usize = 20;
/// A publishes this many messages on one topic, then as many on the other.
const BURST: u64 = 50;
/// Messages the raw publisher may have published that A has not received yet.
const DOWN_AHEAD: u64 = 4;

/// A broker with its queue limit lifted and Nagle's algorithm off (see the module
/// documentation).
fn start_broker(builder: testkit::MosquittoBuilder) -> Mosquitto {
    builder
        .extra_config("max_queued_messages 1000000\nset_tcp_nodelay true")
        .start()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Options for the client under test: fast reconnects, a seeded jitter.
fn client_options(url: &str, client_id: &str, version: ProtocolVersion) -> ClientOptions {
    ClientOptions::new(url, client_id)
        .unwrap()
        .protocol(version)
        .session(|o| {
            o.reconnect.min_delay = Duration::from_millis(10);
            o.reconnect.max_delay = Duration::from_millis(500);
            o.reconnect.seed = 0x5EED;
        })
}

/// The persistent-session variant: clean start off, and (5.0) a session that outlives
/// the connection.
fn persistent(options: ClientOptions, version: ProtocolVersion) -> ClientOptions {
    let options = options.clean_start(false);
    if version.is_v5() {
        options.session_expiry(3600)
    } else {
        options
    }
}

fn next_event(events: &Events, what: &str) -> Event {
    events
        .recv_timeout(WAIT)
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"))
}

// ----- a dead link -----

fn dead_link(version: ProtocolVersion, client_id: &str) {
    watch_client_panics();
    let broker = start_broker(Mosquitto::builder());
    let proxy = FaultProxy::start(broker.addr()).unwrap();
    let options = client_options(&proxy.url(), client_id, version).keep_alive(2);
    let (client, events) = Client::connect(options).unwrap();
    assert!(matches!(
        next_event(&events, "Connected"),
        Event::Connected(_)
    ));

    // The link dies: the sockets stay open, nothing gets through. The client sent
    // CONNECT before, so it pings within one period and gives up half a period later.
    let stalled = Instant::now();
    proxy.stall();
    let keep_alive = Duration::from_secs(2);
    let limit = keep_alive * 3 / 2 + Duration::from_millis(500);
    match events.recv_timeout(limit) {
        Ok(Event::Disconnected {
            reason: DisconnectReason::KeepAliveTimeout,
            reconnect_at: Some(_),
        }) => {}
        other => panic!(
            "{version:?}: expected KeepAliveTimeout within {limit:?}, got {other:?} after {:?}",
            stalled.elapsed()
        ),
    }
    let detected = stalled.elapsed();
    assert!(
        detected >= keep_alive,
        "{version:?}: a dead link declared after {detected:?}, before the keep-alive period"
    );

    // While the link is dead a QoS 1 publish waits; it completes after the reconnect.
    let pending = client
        .publish("dead/link", QoS::AtLeastOnce, false, "later")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let restored = Instant::now();
    proxy.restore();
    loop {
        match events.recv_timeout(WAIT) {
            Ok(Event::Connected(_)) => break,
            // Attempts made during the stall may fail; they are retried.
            Ok(Event::Disconnected { .. }) => {}
            other => panic!("{version:?}: expected Connected after restore, got {other:?}"),
        }
    }
    let reconnected = restored.elapsed();
    // (5.0: 0x10 No Matching Subscribers is a success too.)
    match pending.wait_timeout(WAIT) {
        Ok(Completion::Published(code)) if !code.is_error() => {}
        other => panic!("{version:?}: the publish made during the stall: {other:?}"),
    }
    println!(
        "dead link {version:?}: KeepAliveTimeout after {detected:?} (keep alive 2 s), \
         reconnected {reconnected:?} after restore"
    );
    client.disconnect().unwrap();
    assert_no_client_panic();
}

#[test]
fn dead_link_is_found_by_keep_alive_and_the_client_reconnects_v311() {
    dead_link(ProtocolVersion::V3_1_1, "dead-link-311");
}

#[test]
fn dead_link_is_found_by_keep_alive_and_the_client_reconnects_v5() {
    dead_link(ProtocolVersion::V5, "dead-link-5");
}

// ----- checking message streams -----

/// What one receiver saw on one topic.
#[derive(Debug)]
struct Stream {
    qos: QoS,
    /// Which sequence numbers arrived (index 0 unused).
    seen: Vec<bool>,
    /// Every message up to this sequence number arrived.
    in_order: u64,
    distinct: u64,
    duplicates: u64,
    reordered: u64,
    errors: Vec<String>,
}

impl Stream {
    fn new(qos: QoS, n: u64) -> Stream {
        Stream {
            qos,
            seen: vec![false; n as usize + 1],
            in_order: 0,
            distinct: 0,
            duplicates: 0,
            reordered: 0,
            errors: Vec::new(),
        }
    }

    fn error(&mut self, e: String) {
        if self.errors.len() < 20 {
            self.errors.push(e);
        }
    }

    fn record(&mut self, qos: QoS, payload: &[u8]) {
        if qos != self.qos {
            self.error(format!("arrived with {qos:?}, sent with {:?}", self.qos));
        }
        let seq = std::str::from_utf8(payload)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|s| (1..self.seen.len()).contains(s));
        let Some(seq) = seq else {
            self.error(format!("unexpected payload {payload:?}"));
            return;
        };
        if self.seen[seq] {
            self.duplicates += 1;
            if self.qos == QoS::ExactlyOnce {
                self.error(format!("QoS 2 message {seq} delivered twice"));
            }
            return;
        }
        self.seen[seq] = true;
        self.distinct += 1;
        if seq as u64 != self.in_order + 1 {
            self.reordered += 1;
            self.error(format!(
                "message {seq} arrived before message {}",
                self.in_order + 1
            ));
        }
        while (self.in_order as usize + 1) < self.seen.len()
            && self.seen[self.in_order as usize + 1]
        {
            self.in_order += 1;
        }
    }
}

/// The streams one receiver checks, by topic.
struct Streams(Mutex<HashMap<&'static str, Stream>>);

impl Streams {
    fn new(topics: &[(&'static str, QoS)], n: u64) -> Streams {
        Streams(Mutex::new(
            topics
                .iter()
                .map(|(t, q)| (*t, Stream::new(*q, n)))
                .collect(),
        ))
    }

    fn record(&self, topic: &str, qos: QoS, payload: &[u8]) {
        let mut streams = self.0.lock().unwrap();
        match streams.get_mut(topic) {
            Some(s) => s.record(qos, payload),
            None => panic!("a message on unexpected topic {topic}"),
        }
    }

    /// Distinct messages arrived so far, over all topics.
    fn progress(&self) -> u64 {
        self.0.lock().unwrap().values().map(|s| s.distinct).sum()
    }

    /// Whether every message arrived on every topic.
    fn complete(&self) -> bool {
        self.0
            .lock()
            .unwrap()
            .values()
            .all(|s| s.in_order as usize + 1 == s.seen.len())
    }

    fn report(&self) -> String {
        let streams = self.0.lock().unwrap();
        let mut topics: Vec<_> = streams.iter().collect();
        topics.sort_by_key(|(t, _)| **t);
        topics
            .iter()
            .map(|(t, s)| {
                let missing: Vec<usize> = (1..s.seen.len()).filter(|&i| !s.seen[i]).collect();
                format!(
                    "{t}: {} arrived ({} without a gap), {} missing {:?}, {} duplicates, \
                     {} reordered, errors {:?}",
                    s.distinct,
                    s.in_order,
                    missing.len(),
                    &missing[..missing.len().min(10)],
                    s.duplicates,
                    s.reordered,
                    s.errors
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn errors(&self) -> Vec<String> {
        let streams = self.0.lock().unwrap();
        streams
            .iter()
            .flat_map(|(t, s)| s.errors.iter().map(move |e| format!("{t}: {e}")))
            .collect()
    }

    fn duplicates(&self) -> u64 {
        self.0.lock().unwrap().values().map(|s| s.duplicates).sum()
    }
}

/// The QoS 2 PUBLISHes that mosquitto sent `client_id` again after it had sent their
/// PUBREL, by packet identifier, from its log (`log_type all`).
///
/// [MQTT-4.3.3-6] (3.1.1: [MQTT-4.3.3-1]) forbids it, but mosquitto 2.0.11 does it now
/// and then when a reconnect is cut while it re-sends its PUBRELs: the next connection
/// gets the PUBLISH (DUP 1) again. A client that had received the PUBREL has answered
/// PUBCOMP and freed the identifier, as the receiver must; to it the re-send is a new
/// message (one first sent before a cut also arrives with DUP 1), so it is delivered
/// again. Seen as "Sending PUBREL to ID (mN)", then "Sending PUBLISH to ID (d1, q2, ...,
/// mN, ...)" with no "Received PUBCOMP from ID (Mid: N" and no new PUBLISH (d0) of `N`
/// between them.
fn resent_after_pubrel(log: &str, client_id: &str) -> Vec<u16> {
    let id_after = |line: &str, marker: &str| -> Option<u16> {
        let rest = &line[line.find(marker)? + marker.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let pubrel = format!("Sending PUBREL to {client_id} (m");
    let pubcomp = format!("Received PUBCOMP from {client_id} (Mid: ");
    let publish = format!("Sending PUBLISH to {client_id} (");
    let mut released = std::collections::BTreeSet::new();
    let mut resent = Vec::new();
    for line in log.lines() {
        if let Some(id) = id_after(line, &pubrel) {
            released.insert(id);
        } else if let Some(id) = id_after(line, &pubcomp) {
            released.remove(&id);
        } else if line.contains(&publish) && line.contains(", q2, ") {
            let Some(id) = id_after(line, ", m") else {
                continue;
            };
            if line.contains(&format!("{publish}d1,")) && released.contains(&id) {
                resent.push(id);
            } else if line.contains(&format!("{publish}d0,")) {
                released.remove(&id);
            }
        }
    }
    resent
}

#[test]
fn a_qos2_publish_resent_after_its_pubrel_is_found_in_the_broker_log() {
    let log = "\
        1: Sending PUBLISH to c (d0, q2, r0, m7, 'down/2', ... (1 bytes))\n\
        2: Sending PUBREL to c (m7)\n\
        3: Sending PUBREL to c (m8)\n\
        4: Received PUBCOMP from c (Mid: 8, RC:0)\n\
        5: Sending PUBLISH to c (d1, q2, r0, m7, 'down/2', ... (1 bytes))\n\
        6: Sending PUBLISH to c (d1, q2, r0, m8, 'down/2', ... (1 bytes))\n\
        7: Sending PUBLISH to other (d1, q2, r0, m9, 'down/2', ... (1 bytes))\n";
    assert_eq!(resent_after_pubrel(log, "c"), vec![7]);
    assert!(resent_after_pubrel(log, "other").is_empty());
}

// ----- the raw peers -----

/// Connects a raw MQTT 5 client with Receive Maximum 1 (so that the broker keeps the
/// order of what it sends it); with `clean_start` off, with a session that outlives the
/// connection. Returns it and Session Present.
fn raw_connect(
    addr: SocketAddr,
    client_id: &'static str,
    clean_start: bool,
) -> Result<(RawClient, bool), String> {
    let mut connect = Connect::new(ProtocolVersion::V5, MqttString::from_static(client_id));
    connect.keep_alive = 0;
    connect.clean_start = clean_start;
    connect.properties.receive_maximum = NonZeroU16::new(1);
    if !clean_start {
        connect.properties.session_expiry_interval = Some(3600);
    }
    let (client, connack) =
        RawClient::connect(addr, connect, WAIT).map_err(|e| format!("{client_id}: {e}"))?;
    if connack.reason_code.is_error() {
        return Err(format!("{client_id}: CONNACK {:?}", connack.reason_code));
    }
    Ok((client, connack.session_present))
}

/// Publishes `n` messages to each of `topics` (interleaved, payload = sequence number)
/// with at most [`RAW_WINDOW`] in flight, and never more than `allowed()` in total;
/// returns once all are acknowledged.
fn raw_publish(
    addr: SocketAddr,
    topics: &[(&'static str, QoS)],
    n: u64,
    allowed: impl Fn() -> u64,
    stop: &AtomicBool,
) -> Result<(), String> {
    let (mut c, _) = raw_connect(addr, "raw-publisher", true)?;
    let mut to_send = (1..=n)
        .flat_map(|i| topics.iter().map(move |(t, q)| (*t, *q, i)))
        .peekable();
    let mut in_flight: HashSet<u16> = HashSet::new();
    let mut last_id: u16 = 0;
    let mut published = 0;
    let mut last_progress = Instant::now();
    loop {
        while in_flight.len() < RAW_WINDOW && to_send.peek().is_some() && published < allowed() {
            let Some((topic, qos, seq)) = to_send.next() else {
                break;
            };
            loop {
                last_id = last_id % u16::MAX + 1;
                if !in_flight.contains(&last_id) {
                    break;
                }
            }
            in_flight.insert(last_id);
            let publish = Publish::new(TopicName::from_static(topic), seq.to_string())
                .with_qos(qos, PacketId::new(last_id));
            c.send(publish).map_err(|e| format!("raw publisher: {e}"))?;
            published += 1;
            last_progress = Instant::now();
        }
        if to_send.peek().is_none() && in_flight.is_empty() {
            break;
        }
        if stop.load(Ordering::SeqCst) {
            return Err("raw publisher: stopped before the end".into());
        }
        if last_progress.elapsed() > WAIT * 6 {
            return Err(format!(
                "raw publisher: stuck after {published} messages, {} in flight",
                in_flight.len()
            ));
        }
        // A short wait: the flow control may open without any packet arriving.
        let packet = match c.expect_packet(Duration::from_millis(1)) {
            Ok(p) => p,
            Err(testkit::ExpectError::Timeout) => continue,
            Err(e) => return Err(format!("raw publisher: {e}")),
        };
        last_progress = Instant::now();
        let refused = |code: ReasonCode| format!("raw publisher: the broker refused: {code:?}");
        match packet {
            Packet::PubAck(a) if !a.reason_code.is_error() => {
                in_flight.remove(&a.packet_id.get());
            }
            Packet::PubRec(r) if !r.reason_code.is_error() => {
                c.send(PubRel::new(r.packet_id))
                    .map_err(|e| format!("raw publisher: {e}"))?;
            }
            Packet::PubComp(r) => {
                in_flight.remove(&r.packet_id.get());
            }
            Packet::PubAck(a) => return Err(refused(a.reason_code)),
            Packet::PubRec(r) => return Err(refused(r.reason_code)),
            other => return Err(format!("raw publisher: unexpected {other:?}")),
        }
    }
    let _ = c.send(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION));
    Ok(())
}

/// Subscribes to `topics`, signals `ready`, then receives and acknowledges every message
/// into `streams` until `stop`.
fn raw_subscribe(
    addr: SocketAddr,
    topics: &[(&'static str, QoS)],
    streams: &Streams,
    ready: &AtomicBool,
    stop: &AtomicBool,
) -> Result<(), String> {
    let (mut c, _) = raw_connect(addr, "raw-subscriber", true)?;
    let subscriptions = topics
        .iter()
        .map(|(t, q)| Subscription::new(TopicFilter::from_static(t), *q))
        .collect();
    c.send(Subscribe::new(PacketId::MIN, subscriptions))
        .map_err(|e| e.to_string())?;
    match c.expect_packet(WAIT) {
        Ok(Packet::SubAck(a)) if a.reason_codes.iter().all(|r| !r.is_error()) => {}
        other => return Err(format!("raw subscriber: expected SUBACK, got {other:?}")),
    }
    ready.store(true, Ordering::SeqCst);
    raw_receive(&mut c, streams, stop, None)
}

/// Receives and acknowledges messages into `streams` until `stop`, or until `until`
/// distinct messages arrived.
fn raw_receive(
    c: &mut RawClient,
    streams: &Streams,
    stop: &AtomicBool,
    until: Option<u64>,
) -> Result<(), String> {
    // QoS 2 messages received whose PUBREL has not come: a re-sent PUBLISH of one of
    // them is not a new delivery.
    let mut awaiting_pubrel: HashSet<u16> = HashSet::new();
    while !stop.load(Ordering::SeqCst) && until.is_none_or(|n| streams.progress() < n) {
        let packet = match c.expect_packet(Duration::from_millis(100)) {
            Ok(p) => p,
            Err(testkit::ExpectError::Timeout) => continue,
            Err(e) => return Err(format!("raw subscriber: {e}")),
        };
        let sent = match packet {
            Packet::Publish(p) => {
                let id = p.packet_id;
                match (p.qos, id) {
                    (QoS::AtLeastOnce, Some(id)) => {
                        streams.record(p.topic.as_str(), p.qos, &p.payload);
                        c.send(PubAck::new(id))
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        if awaiting_pubrel.insert(id.get()) {
                            streams.record(p.topic.as_str(), p.qos, &p.payload);
                        }
                        c.send(PubRec::new(id))
                    }
                    _ => {
                        streams.record(p.topic.as_str(), p.qos, &p.payload);
                        Ok(())
                    }
                }
            }
            Packet::PubRel(r) => {
                awaiting_pubrel.remove(&r.packet_id.get());
                c.send(PubComp::new(r.packet_id))
            }
            other => return Err(format!("raw subscriber: unexpected {other:?}")),
        };
        sent.map_err(|e| format!("raw subscriber: {e}"))?;
    }
    Ok(())
}

// ----- 50 cuts, 10 000 messages per topic each way -----

/// A small seeded random generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Sets `stop` when dropped, also when the test panics, so that every helper thread ends.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// What A's event thread saw.
#[derive(Debug, Default)]
struct ClientLog {
    connected: usize,
    resumed_without_session: usize,
    disconnects: HashMap<String, usize>,
    failures: Vec<String>,
}

fn reason_kind(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::TransportClosed => "transport closed".into(),
        DisconnectReason::TransportError(_) => "transport error".into(),
        other => format!("{other:?}"),
    }
}

const UP: [(&str, QoS); 2] = [("up/1", QoS::AtLeastOnce), ("up/2", QoS::ExactlyOnce)];
const DOWN: [(&str, QoS); 2] = [("down/1", QoS::AtLeastOnce), ("down/2", QoS::ExactlyOnce)];

fn cuts_lose_nothing(version: ProtocolVersion, client_id: &'static str, seed: u64) {
    watch_client_panics();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(170);
    let broker = start_broker(Mosquitto::builder());
    let proxy = FaultProxy::start(broker.addr()).unwrap();
    let options = persistent(client_options(&proxy.url(), client_id, version), version);
    let (client, events) = Client::connect(options).unwrap();
    assert!(matches!(
        next_event(&events, "Connected"),
        Event::Connected(_)
    ));
    let subscriptions = DOWN
        .iter()
        .map(|(t, q)| Subscription::new(TopicFilter::from_static(t), *q))
        .collect();
    let granted = client
        .subscribe_many(subscriptions, Default::default())
        .unwrap()
        .wait_timeout(WAIT)
        .unwrap();
    assert_eq!(
        granted,
        Completion::Subscribed(vec![ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2])
    );

    let at_a = Streams::new(&DOWN, MESSAGES);
    let at_subscriber = Streams::new(&UP, MESSAGES);
    let stop = AtomicBool::new(false);
    let subscriber_ready = AtomicBool::new(false);
    let disconnects = AtomicUsize::new(0);
    let log = Mutex::new(ClientLog::default());
    let total = 4 * MESSAGES;
    let progress = || at_a.progress() + at_subscriber.progress();
    // Flow control: at most DOWN_AHEAD messages published and not yet at A.
    let allowed = || at_a.progress() + DOWN_AHEAD;
    let report = || {
        format!(
            "{version:?} after {:?}: at A: {}; at the subscriber: {}; A: {:?}",
            started.elapsed(),
            at_a.report(),
            at_subscriber.report(),
            log.lock().unwrap()
        )
    };

    let (cuts, completed) = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        // A's events.
        s.spawn(|| {
            for event in events {
                match event {
                    Event::Message(m) => {
                        at_a.record(m.publish.topic.as_str(), m.publish.qos, &m.publish.payload)
                    }
                    Event::Connected(c) => {
                        let mut log = log.lock().unwrap();
                        log.connected += 1;
                        if !c.session_present {
                            log.resumed_without_session += 1;
                        }
                    }
                    Event::Disconnected { reason, .. } => {
                        *log.lock()
                            .unwrap()
                            .disconnects
                            .entry(reason_kind(&reason))
                            .or_default() += 1;
                        disconnects.fetch_add(1, Ordering::SeqCst);
                    }
                    Event::OperationFailed { id, error } => log
                        .lock()
                        .unwrap()
                        .failures
                        .push(format!("{id:?}: {error}")),
                    _ => {}
                }
            }
        });
        let subscriber =
            s.spawn(|| raw_subscribe(broker.addr(), &UP, &at_subscriber, &subscriber_ready, &stop));
        while !subscriber_ready.load(Ordering::SeqCst) {
            if subscriber.is_finished() {
                panic!("the subscriber ended: {:?}", subscriber.join());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let publisher = s.spawn(|| raw_publish(broker.addr(), &DOWN, MESSAGES, allowed, &stop));
        // The cuts.
        let chaos = s.spawn(|| {
            let mut rng = Rng(seed);
            let mut cuts = Vec::new();
            for k in 0..CUTS {
                let target = total * 88 * k / (100 * (CUTS - 1));
                while progress() < target {
                    if stop.load(Ordering::SeqCst) {
                        return cuts;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                let direction = if rng.below(2) == 0 {
                    Direction::ClientToBroker
                } else {
                    Direction::BrokerToClient
                };
                let bytes = if rng.below(5) == 0 {
                    rng.below(64)
                } else {
                    rng.below(3000)
                };
                let before = disconnects.load(Ordering::SeqCst);
                proxy.cut_after(direction, bytes);
                while disconnects.load(Ordering::SeqCst) == before {
                    if stop.load(Ordering::SeqCst) {
                        return cuts;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                cuts.push((direction, bytes));
            }
            cuts
        });

        // A publishes, keeping up to 2000 operations open.
        let mut open: VecDeque<(&str, u64, Pending)> = VecDeque::new();
        let mut completed = 0u64;
        let mut settle = |open: &mut VecDeque<(&str, u64, Pending)>| {
            let (topic, seq, pending) = open.pop_front().unwrap();
            let left = deadline.saturating_duration_since(Instant::now());
            match pending.wait_timeout(left) {
                Ok(Completion::Published(code)) if !code.is_error() => completed += 1,
                other => panic!("{topic} {seq}: {other:?}; {}", report()),
            }
        };
        // In runs of BURST messages per topic, so that the in-flight window is at times
        // all QoS 2, at times all QoS 1, at times mixed.
        for block in (1..=MESSAGES).step_by(BURST as usize) {
            for (topic, qos) in UP {
                for seq in block..(block + BURST).min(MESSAGES + 1) {
                    let pending = client
                        .publish(topic, qos, false, seq.to_string())
                        .unwrap_or_else(|e| panic!("publish {topic} {seq}: {e}"));
                    open.push_back((topic, seq, pending));
                }
                while open.len() > 2000 {
                    settle(&mut open);
                }
            }
        }
        while !open.is_empty() {
            settle(&mut open);
        }
        // Everything arrives (a message still missing after 30 s without progress is
        // lost).
        let mut last = (progress(), Instant::now());
        while !(at_a.complete() && at_subscriber.complete()) {
            if progress() != last.0 {
                last = (progress(), Instant::now());
            }
            assert!(
                Instant::now() < deadline && last.1.elapsed() < Duration::from_secs(30),
                "messages lost: {}",
                report()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        if let Err(e) = publisher.join().unwrap() {
            panic!("{e}; {}", report());
        }
        stop.store(true, Ordering::SeqCst);
        if let Err(e) = subscriber.join().unwrap() {
            panic!("{e}; {}", report());
        }
        let cuts = chaos.join().unwrap();
        client.disconnect().unwrap();
        (cuts, completed)
    });

    let elapsed = started.elapsed();
    let log = log.into_inner().unwrap();
    let mut errors: Vec<String> = at_a
        .errors()
        .into_iter()
        .map(|e| format!("broker -> A: {e}"))
        .chain(
            at_subscriber
                .errors()
                .into_iter()
                .map(|e| format!("A -> broker: {e}")),
        )
        .collect();
    // The broker's own violation, which no client can undo: see `resent_after_pubrel`.
    let resent = resent_after_pubrel(&broker.log(), client_id);
    let is_broker_duplicate =
        |e: &String| e.starts_with("broker -> A: down/2: QoS 2 message") && e.ends_with("twice");
    let duplicates_at_a = errors.iter().filter(|e| is_broker_duplicate(e)).count();
    if duplicates_at_a > 0 && duplicates_at_a <= resent.len() {
        println!(
            "mosquitto re-sent {} QoS 2 PUBLISHes to A after their PUBREL ([MQTT-4.3.3-6]; \
             packet identifiers {resent:?}): A had completed them, so each came as a new \
             message; {duplicates_at_a} QoS 2 duplicates at A are those",
            resent.len()
        );
        errors.retain(|e| !is_broker_duplicate(e));
    }
    println!(
        "cuts {version:?}: {} messages each way in {elapsed:?}; {} cuts, {} connections, \
         disconnects {:?}; QoS 1 duplicates: {} at A, {} at the subscriber; \
         bytes through the proxy: {} up, {} down",
        2 * MESSAGES,
        cuts.len(),
        log.connected,
        log.disconnects,
        at_a.duplicates(),
        at_subscriber.duplicates(),
        proxy.bytes_forwarded(Direction::ClientToBroker),
        proxy.bytes_forwarded(Direction::BrokerToClient),
    );
    assert!(errors.is_empty(), "{version:?}: {errors:#?}");
    assert_eq!(completed, 2 * MESSAGES);
    assert!(log.failures.is_empty(), "{:?}", log.failures);
    assert_eq!(cuts.len() as u64, CUTS, "every cut happened: {cuts:?}");
    let cut_disconnects: usize = log
        .disconnects
        .iter()
        .filter(|(k, _)| k.as_str() != "Requested")
        .map(|(_, n)| n)
        .sum();
    assert!(
        cut_disconnects as u64 >= CUTS,
        "every cut ended a connection (or an attempt): {log:?}"
    );
    assert_eq!(
        log.resumed_without_session, 0,
        "the broker kept the session over every reconnect: {log:?}"
    );
    let violations = log
        .disconnects
        .keys()
        .filter(|k| k.starts_with("ProtocolViolation"))
        .count();
    assert_eq!(violations, 0, "a cut is no protocol violation: {log:?}");
    assert_no_client_panic();
}

#[test]
fn fifty_cuts_lose_no_message_v311() {
    cuts_lose_nothing(ProtocolVersion::V3_1_1, "cuts-311", 0x3111_0001);
}

#[test]
fn fifty_cuts_lose_no_message_v5() {
    cuts_lose_nothing(ProtocolVersion::V5, "cuts-5", 0x5000_0001);
}

// ----- a broker restart with persistence -----

fn broker_restart(version: ProtocolVersion, client_id: &str) {
    watch_client_panics();
    const N: u64 = 100;
    let mut broker = start_broker(Mosquitto::builder().persistence(true));
    let options = client_options(&broker.url(), client_id, version).session(|o| {
        o.reconnect.max_delay = Duration::from_millis(200);
    });
    let (client, events) = Client::connect(persistent(options, version)).unwrap();
    assert!(matches!(
        next_event(&events, "Connected"),
        Event::Connected(_)
    ));

    // A subscriber with a persistent session, offline while the broker restarts: the
    // broker keeps its subscription and queues the messages for it.
    let (mut subscriber, _) = raw_connect(broker.addr(), "restart-subscriber", false).unwrap();
    let subscriptions = UP
        .iter()
        .map(|(t, q)| Subscription::new(TopicFilter::from_static(t), *q))
        .collect();
    subscriber
        .send(Subscribe::new(PacketId::MIN, subscriptions))
        .unwrap();
    assert!(matches!(
        subscriber.expect_packet(WAIT),
        Ok(Packet::SubAck(_))
    ));
    drop(subscriber);

    // Half the messages go just before the broker stops (they may complete first, or
    // still be in flight), half while it is down (queued by the client).
    let mut pending = Vec::new();
    let mut publish = |seq: u64| {
        for (topic, qos) in UP {
            let p = client.publish(topic, qos, false, seq.to_string()).unwrap();
            pending.push((topic, seq, p));
        }
    };
    for seq in 1..=N / 2 {
        publish(seq);
    }
    broker.stop().unwrap();
    let mut completed_before_stop = 0;
    loop {
        match next_event(&events, "Disconnected") {
            Event::Disconnected { .. } => break,
            Event::PublishCompleted { .. } => completed_before_stop += 1,
            other => panic!("{version:?}: expected Disconnected, got {other:?}"),
        }
    }
    for seq in N / 2 + 1..=N {
        publish(seq);
    }
    // Reconnect attempts fail while it is down.
    std::thread::sleep(Duration::from_millis(500));
    broker.restart().unwrap();
    let restarted = Instant::now();
    let session_present = loop {
        match next_event(&events, "Connected") {
            Event::Connected(c) => break c.session_present,
            Event::Disconnected { reconnect_at, .. } => assert!(reconnect_at.is_some()),
            Event::PublishCompleted { .. } => {}
            other => panic!("{version:?}: expected Connected, got {other:?}"),
        }
    };
    assert!(
        session_present,
        "{version:?}: the broker restored the client's session from its persistence file"
    );
    for (topic, seq, p) in pending {
        match p.wait_timeout(WAIT) {
            Ok(Completion::Published(code)) if !code.is_error() => {}
            other => panic!("{version:?}: {topic} {seq}: {other:?}"),
        }
    }
    let completed_after = restarted.elapsed();

    // Every message reaches the subscriber, in order, QoS 2 once.
    let (mut subscriber, session_present) =
        raw_connect(broker.addr(), "restart-subscriber", false).unwrap();
    assert!(
        session_present,
        "{version:?}: the subscriber's session survived"
    );
    let streams = Streams::new(&UP, N);
    let stop = AtomicBool::new(false);
    raw_receive(&mut subscriber, &streams, &stop, Some(2 * N)).unwrap();
    // Nothing more (no QoS 2 duplicate) in a short while.
    raw_receive_for(&mut subscriber, &streams, Duration::from_millis(300)).unwrap();
    assert!(
        streams.errors().is_empty(),
        "{version:?}: {}",
        streams.report()
    );
    assert!(streams.complete(), "{version:?}: {}", streams.report());
    println!(
        "broker restart {version:?}: {completed_before_stop} of {} publishes completed \
         before the stop, all {} {completed_after:?} after the restart; subscriber: {}",
        N,
        2 * N,
        streams.report()
    );
    client.disconnect().unwrap();
    assert_no_client_panic();
}

/// Receives (and acknowledges) for `duration`.
fn raw_receive_for(c: &mut RawClient, streams: &Streams, duration: Duration) -> Result<(), String> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(duration);
            stop.store(true, Ordering::SeqCst);
        });
        raw_receive(c, streams, &stop, None)
    })
}

#[test]
fn publishes_made_while_the_broker_is_down_complete_after_restart_v311() {
    broker_restart(ProtocolVersion::V3_1_1, "restart-311");
}

#[test]
fn publishes_made_while_the_broker_is_down_complete_after_restart_v5() {
    broker_restart(ProtocolVersion::V5, "restart-5");
}

#[test]
fn publish_with_the_broker_gone_fails_only_on_disconnect() {
    // Control for the tests above: a publish queued while no broker is reachable stays
    // pending (it neither completes nor fails), and fails with the session's end.
    watch_client_panics();
    let mut broker = start_broker(Mosquitto::builder());
    let options = client_options(&broker.url(), "gone", ProtocolVersion::V5);
    let (client, _events) = Client::connect(options).unwrap();
    broker.stop().unwrap();
    let pending = client
        .publish("gone", QoS::AtLeastOnce, false, "x")
        .unwrap();
    assert!(matches!(
        pending.wait_timeout(Duration::from_millis(500)),
        Err(Error::Timeout)
    ));
    client.close().unwrap();
    assert!(pending.wait_timeout(WAIT).is_err());
    assert_no_client_panic();
}

// ----- the in-flight window across a resumed session -----

/// Under 3.1.1 the broker cannot say how many QoS 2 messages it takes in flight, and
/// mosquitto silently drops those beyond 20; the client's default window is 20. The
/// window must hold on a resumed connection too, where the PUBRELs of messages the
/// broker already acknowledged with PUBREC go again: their PUBCOMPs must not open the
/// window for more new PUBLISHes than it has room for.
#[test]
fn the_in_flight_window_holds_after_a_resumed_session() {
    watch_client_panics();
    let version = ProtocolVersion::V3_1_1;
    let broker = testkit::FakeBroker::start(version).unwrap();
    let options = persistent(client_options(&broker.url(), "window", version), version);
    let (client, events) = Client::start(options).unwrap();
    let mut conn = broker.accept(WAIT).unwrap();
    conn.expect_connect(WAIT).unwrap();
    conn.send(mqtt_proto::ConnAck::new(ReasonCode::Success))
        .unwrap();
    assert!(matches!(
        next_event(&events, "Connected"),
        Event::Connected(_)
    ));
    let pending: Vec<Pending> = (0..60)
        .map(|i| {
            client
                .publish("window", QoS::ExactlyOnce, false, format!("{i}"))
                .unwrap()
        })
        .collect();
    // The first connection: 20 PUBLISHes (the window), each PUBREC'd, then 20 PUBRELs;
    // the connection breaks before any PUBCOMP.
    let expect = |conn: &mut testkit::FakeConnection| {
        conn.expect_packet(WAIT)
            .unwrap_or_else(|e| panic!("expected a packet: {e}"))
    };
    let mut first = Vec::new();
    for _ in 0..20 {
        match expect(&mut conn) {
            Packet::Publish(p) => first.push(p.packet_id.unwrap()),
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    conn.expect_nothing(Duration::from_millis(200)).unwrap();
    for id in &first {
        conn.send(PubRec::new(*id)).unwrap();
    }
    for _ in 0..20 {
        assert!(matches!(expect(&mut conn), Packet::PubRel(_)));
    }
    conn.close();
    // The second connection resumes the session: the 20 PUBRELs go again, in order, and
    // nothing else: until their PUBCOMPs the broker may still hold those 20 messages
    // (it may have missed a PUBREL), so the window is full.
    let mut conn = broker.accept(WAIT).unwrap();
    let connect = conn.expect_connect(WAIT).unwrap();
    assert!(!connect.clean_start);
    let mut connack = mqtt_proto::ConnAck::new(ReasonCode::Success);
    connack.session_present = true;
    conn.send(connack).unwrap();
    let mut released = Vec::new();
    for _ in 0..20 {
        match expect(&mut conn) {
            Packet::PubRel(r) => released.push(r.packet_id),
            other => panic!("expected PUBREL, got {other:?} after {released:?}"),
        }
    }
    assert_eq!(released, first, "PUBRELs again, in order");
    let window_full = |conn: &mut testkit::FakeConnection, what: &str| match conn
        .expect_nothing(Duration::from_millis(300))
    {
        Ok(()) => {}
        Err(testkit::ExpectError::Unexpected(p)) => panic!(
            "the client sent {p:?} with 20 QoS 2 messages unacknowledged ({what}): more \
             than its in-flight window of 20 (mosquitto would silently drop it under 3.1.1)"
        ),
        Err(e) => panic!("{e}"),
    };
    window_full(&mut conn, "20 PUBRELs awaiting PUBCOMP");
    // The PUBCOMPs complete those 20 and free the window: 20 new PUBLISHes, no more.
    for id in &first {
        conn.send(PubComp::new(*id)).unwrap();
    }
    for p in &pending[..20] {
        assert!(matches!(p.wait_timeout(WAIT), Ok(Completion::Published(_))));
    }
    let mut second = Vec::new();
    for _ in 0..20 {
        match expect(&mut conn) {
            Packet::Publish(p) => {
                assert!(!p.dup, "{p:?}");
                second.push(p.packet_id.unwrap());
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
    window_full(&mut conn, "20 new PUBLISHes");
    // Acknowledging one of the 20 opens the window by one.
    conn.send(PubRec::new(second[0])).unwrap();
    assert!(matches!(expect(&mut conn), Packet::PubRel(_)));
    conn.send(PubComp::new(second[0])).unwrap();
    match expect(&mut conn) {
        Packet::Publish(p) => assert!(!second.contains(&p.packet_id.unwrap())),
        other => panic!("expected the next PUBLISH, got {other:?}"),
    }
    client.close().unwrap();
    assert_no_client_panic();
}

// ----- a message the broker refuses by closing the connection -----

/// Under 3.1.1 mosquitto cannot refuse a PUBLISH above its `max_packet_size` in an
/// acknowledgement: it drops the connection. (Above `message_size_limit` it acknowledges
/// the message and drops it, which the client cannot see.) The client sends the message again after
/// each reconnect, with the back-off growing (the connections never proved themselves),
/// and after `resend_limit` such closes the publish fails with an error that says so.
/// The connection then works for other messages.
#[test]
fn a_message_the_broker_keeps_closing_the_connection_on_fails_after_the_resend_limit() {
    watch_client_panics();
    let broker = start_broker(Mosquitto::builder().max_packet_size(10_000));
    let options = client_options(&broker.url(), "too-big", ProtocolVersion::V3_1_1).session(|o| {
        o.resend_limit = Some(3);
        o.reconnect.jitter_percent = 0;
    });
    let (client, events) = Client::connect(options).unwrap();
    let started = Instant::now();
    let pending = client
        .publish("too/big", QoS::AtLeastOnce, false, vec![7u8; 100_000])
        .unwrap();
    match pending.wait_timeout(WAIT) {
        Err(Error::Operation(e @ mqtt_session::OperationError::ConnectionKeptClosing { .. })) => {
            assert_eq!(
                e,
                mqtt_session::OperationError::ConnectionKeptClosing { sends: 4 }
            );
            assert!(e.to_string().contains("message size limit"), "{e}");
        }
        other => panic!("expected ConnectionKeptClosing, got {other:?}"),
    }
    // Four connections died: the back-off after them grew (10 + 20 + 40 ms at least).
    assert!(started.elapsed() >= Duration::from_millis(70));
    let small = client
        .publish("too/big", QoS::AtLeastOnce, false, "small")
        .unwrap();
    assert!(
        matches!(small.wait_timeout(WAIT), Ok(Completion::Published(_))),
        "a small message still goes"
    );
    let mut connects = 0;
    while let Ok(e) = events.recv_timeout(Duration::from_millis(100)) {
        if matches!(e, Event::Connected(_)) {
            connects += 1;
        }
    }
    assert!(
        (4..=6).contains(&connects),
        "{connects} connections: the message was not re-sent for ever"
    );
    client.disconnect().unwrap();
    assert_no_client_panic();
}
