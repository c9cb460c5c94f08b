//! MQTT 5.0 features against a real mosquitto (started per test by `testkit`): the
//! server's Receive Maximum and Maximum Packet Size honoured, outgoing topic aliases,
//! subscription identifiers, shared subscriptions, request / response, message expiry,
//! user properties, subscription options and an assigned client identifier.
//!
//! Every test starts its own broker; without `mosquitto` installed it fails with
//! testkit's message saying how to install it.

use std::collections::BTreeMap;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::{Client, ClientOptions, Completion, Error, Events};
use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Decoder, Encode, MqttString, Packet, ProtocolVersion, Publish, PublishProperties, QoS,
    ReasonCode, RetainHandling, Role, SubscribeProperties, Subscription, SubscriptionOptions,
    TopicFilter, TopicName, UserProperty,
};
use mqtt_session::{Connected, Event, OperationError, UsageError};
use testkit::{Mosquitto, MosquittoBuilder};

/// How long any single step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(400);

// ----- helpers (each test file is its own crate, so they are repeated per file) -----

fn start(builder: MosquittoBuilder) -> Mosquitto {
    builder.start().unwrap_or_else(|e| panic!("{e}"))
}

fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{n}-{}", std::process::id())
}

fn options(url: &str, client_id: &str) -> ClientOptions {
    ClientOptions::new(url, client_id)
        .unwrap_or_else(|e| panic!("options for {url}: {e}"))
        .protocol(ProtocolVersion::V5)
        .connect_timeout(WAIT)
        // A dropped connection must show, not be repaired behind the test's back.
        .session(|o| o.reconnect.enabled = false)
}

fn connect(options: ClientOptions) -> (Client, Events, Connected) {
    let what = format!("{options:?}");
    let (client, events) =
        Client::connect(options).unwrap_or_else(|e| panic!("connect failed: {e}\n{what}"));
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(c)) => (client, events, *c),
        other => panic!("the first event is not Connected: {other:?}"),
    }
}

fn topic(name: &str) -> TopicName {
    TopicName::try_from(name).unwrap_or_else(|e| panic!("topic {name:?}: {e}"))
}

fn filter(name: &str) -> TopicFilter {
    TopicFilter::try_from(name).unwrap_or_else(|e| panic!("filter {name:?}: {e}"))
}

fn string(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap_or_else(|e| panic!("string {s:?}: {e}"))
}

fn wait(pending: Result<crate::driver::Pending, Error>, what: &str) -> Completion {
    pending
        .unwrap_or_else(|e| panic!("{what}: refused at once: {e}"))
        .wait_timeout(WAIT)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn subscribe_with(client: &Client, subscription: Subscription, id: Option<u32>) {
    let what = format!("subscribe {}", subscription.filter);
    let properties = SubscribeProperties {
        subscription_identifier: id,
        ..SubscribeProperties::default()
    };
    match wait(client.subscribe_many(vec![subscription], properties), &what) {
        Completion::Subscribed(codes) if codes.iter().all(|c| !c.is_error()) => {}
        other => panic!("{what}: {other:?}"),
    }
}

fn subscribe(client: &Client, name: &str, qos: QoS) {
    subscribe_with(client, Subscription::new(filter(name), qos), None);
}

fn published(pending: Result<crate::driver::Pending, Error>, what: &str) {
    match wait(pending, what) {
        Completion::Sent => {}
        Completion::Published(code) if !code.is_error() => {}
        other => panic!("{what}: {other:?}"),
    }
}

fn next_message(events: &Events, what: &str) -> Publish {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Message(m)) => return m.publish,
            Ok(Event::Disconnected { reason, .. }) => {
                panic!("disconnected while waiting for {what}: {reason:?}")
            }
            Ok(_) => {}
            Err(e) => panic!("no message ({what}) within {WAIT:?}: {e}"),
        }
    }
}

/// Messages until none came for `QUIET`.
fn drain_messages(events: &Events) -> Vec<Publish> {
    let mut all = Vec::new();
    loop {
        match events.recv_timeout(QUIET) {
            Ok(Event::Message(m)) => all.push(m.publish),
            Ok(Event::Disconnected { reason, .. }) => panic!("disconnected: {reason:?}"),
            Ok(_) => {}
            Err(Error::Timeout) => return all,
            Err(e) => panic!("{e}"),
        }
    }
}

fn expect_no_message(events: &Events, what: &str) {
    let extra = drain_messages(events);
    assert!(
        extra.is_empty(),
        "{what}: unexpected messages {:?}",
        extra
            .iter()
            .map(|p| (p.topic.as_str(), p.payload.clone()))
            .collect::<Vec<_>>()
    );
}

/// Waits until the broker's log has a line with `needle`.
fn wait_for_log(broker: &Mosquitto, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while !broker.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the broker did not log {needle:?} within {WAIT:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ----- Receive Maximum -----

/// mosquitto's `max_inflight_messages` is its Receive Maximum; past it, it answers a
/// QoS 2 PUBLISH with PUBREC 0x97 and drops the message. 60 QoS 2 publishes back to back
/// must all succeed and all arrive, in order: the client keeps to the window.
#[test]
fn receive_maximum_is_honoured() {
    const N: usize = 60;
    let broker = start(Mosquitto::builder().max_inflight_messages(10));
    let name = format!("rm/{}", unique("t"));
    let (subscriber, events, _) = connect(options(&broker.url(), &unique("rmsub")));
    subscribe(&subscriber, &name, QoS::ExactlyOnce);
    let (publisher, _e, connected) = connect(options(&broker.url(), &unique("rmpub")));
    assert_eq!(
        connected.properties.receive_maximum.map(NonZeroU16::get),
        Some(10),
        "mosquitto announces max_inflight_messages as Receive Maximum"
    );
    assert_eq!(connected.limits.receive_maximum, 10);

    let pending: Vec<_> = (0..N)
        .map(|i| {
            publisher
                .publish(&name, QoS::ExactlyOnce, false, format!("m{i}"))
                .unwrap_or_else(|e| panic!("publish #{i}: {e}"))
        })
        .collect();
    for (i, p) in pending.into_iter().enumerate() {
        match p.wait_timeout(WAIT) {
            Ok(Completion::Published(code)) if !code.is_error() => {}
            Err(Error::Operation(OperationError::Refused(ReasonCode::QuotaExceeded))) => {
                panic!("publish #{i} exceeded the broker's Receive Maximum (PUBREC 0x97)")
            }
            other => panic!("QoS 2 publish #{i} of {N}: {other:?}"),
        }
    }
    for i in 0..N {
        let m = next_message(&events, &format!("message #{i}"));
        assert_eq!(&m.payload[..], format!("m{i}").as_bytes(), "in order");
        assert_eq!(m.qos, QoS::ExactlyOnce);
    }
    expect_no_message(&events, "after the 60 messages");
    let log = broker.log();
    assert!(
        !log.contains("rc151"),
        "PUBREC 0x97 in the broker log:\n{log}"
    );
}

/// The same with QoS 1 and 2 mixed, and the application's own cap below the server's.
#[test]
fn receive_maximum_with_mixed_qos_and_a_smaller_own_cap() {
    const N: usize = 40;
    let broker = start(Mosquitto::builder().max_inflight_messages(5));
    let name = format!("rm/{}", unique("m"));
    let (subscriber, events, _) = connect(options(&broker.url(), &unique("mxsub")));
    subscribe(&subscriber, &name, QoS::ExactlyOnce);
    let (publisher, _e, _) =
        connect(options(&broker.url(), &unique("mxpub")).session(|o| o.max_in_flight = Some(3)));
    let pending: Vec<_> = (0..N)
        .map(|i| {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            publisher
                .publish(&name, qos, false, format!("m{i}"))
                .unwrap_or_else(|e| panic!("publish #{i}: {e}"))
        })
        .collect();
    for (i, p) in pending.into_iter().enumerate() {
        match p.wait_timeout(WAIT) {
            Ok(Completion::Published(code)) if !code.is_error() => {}
            other => panic!("publish #{i}: {other:?}"),
        }
    }
    let mut got: Vec<String> = (0..N)
        .map(|i| {
            String::from_utf8_lossy(&next_message(&events, &format!("#{i}")).payload).into_owned()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(got, want);
}

// ----- Maximum Packet Size -----

/// The broker's Maximum Packet Size (CONNACK): a publish that fits exactly goes; one byte
/// more is refused at once with `Usage(PacketTooLarge)`, nothing is sent, and the
/// connection stays up.
#[test]
fn server_maximum_packet_size_is_honoured() {
    const MAX: usize = 1024;
    let broker = start(Mosquitto::builder().max_packet_size(MAX as u32));
    let id = unique("mps");
    let name = format!("mps/{id}");
    let (client, events, connected) = connect(options(&broker.url(), &id));
    assert_eq!(
        connected.properties.maximum_packet_size.map(|m| m.get()),
        Some(MAX as u32)
    );
    assert_eq!(connected.limits.maximum_packet_size, MAX);
    subscribe(&client, &name, QoS::AtLeastOnce);

    // The payload that makes a QoS 1 PUBLISH exactly MAX bytes.
    let size_with = |payload: usize| {
        Publish::new(topic(&name), vec![0u8; payload])
            .with_qos(QoS::AtLeastOnce, mqtt_proto::PacketId::new(1))
            .encoded_len(ProtocolVersion::V5)
            .expect("encodable")
    };
    let fits = (0..MAX)
        .rev()
        .find(|&p| size_with(p) == MAX)
        .expect("a size");
    assert_eq!(size_with(fits + 1), MAX + 1);

    let too_big = client.publish(&name, QoS::AtLeastOnce, false, vec![b'x'; fits + 1]);
    match too_big {
        Err(Error::Usage(UsageError::PacketTooLarge { size, maximum })) => {
            assert_eq!((size, maximum), (MAX + 1, MAX));
        }
        Err(e) => panic!("oversize publish: expected Usage(PacketTooLarge), got {e:?}"),
        Ok(p) => panic!("oversize publish was accepted: {:?}", p.wait_timeout(WAIT)),
    }
    // QoS 0 too (its packet has no identifier: two bytes fewer).
    assert!(matches!(
        client.publish(&name, QoS::AtMostOnce, false, vec![b'x'; fits + 3]),
        Err(Error::Usage(UsageError::PacketTooLarge { .. }))
    ));
    // A subscription whose SUBSCRIBE would be too large.
    let long_filter = format!("{name}/{}", "f".repeat(MAX));
    assert!(matches!(
        client.subscribe(&long_filter, QoS::AtMostOnce),
        Err(Error::Usage(UsageError::PacketTooLarge { .. }))
    ));

    // Exactly the maximum: accepted by the broker and delivered.
    published(
        client.publish(&name, QoS::AtLeastOnce, false, vec![b'y'; fits]),
        "a publish of exactly the maximum size",
    );
    let m = next_message(&events, "the maximum-size message");
    assert_eq!(m.payload.len(), fits);
    assert!(
        m.payload.iter().all(|&b| b == b'y'),
        "nothing of the refused one"
    );
    expect_no_message(&events, "the refused publishes");

    // Still connected.
    published(
        client.publish(&name, QoS::AtLeastOnce, false, "small"),
        "a small publish afterwards",
    );
    assert_eq!(&next_message(&events, "afterwards").payload[..], b"small");
    let log = broker.log();
    assert!(!log.contains(&format!("Client {id} disconnected")), "{log}");
    assert!(!log.contains("exceeded"), "{log}");
}

// ----- Topic aliases -----

/// A client whose outgoing bytes are recorded: through a custom transport, which is the
/// driver's own (`tap::recording` in the test root of each driver crate).
fn tapped(broker: &Mosquitto, id: &str) -> (ClientOptions, Arc<Mutex<Vec<u8>>>) {
    let sent: Arc<Mutex<Vec<u8>>> = Arc::default();
    let options =
        crate::tap::recording(options(&broker.url(), id), broker.addr(), Arc::clone(&sent));
    (options, sent)
}

/// The PUBLISH packets among the recorded bytes.
fn sent_publishes(sent: &Mutex<Vec<u8>>) -> Vec<Publish> {
    let mut bytes = BytesMut::from(&sent.lock().unwrap()[..]);
    let mut decoder = Decoder::new(ProtocolVersion::V5).with_sender(Role::Client);
    let mut publishes = Vec::new();
    while let Some(packet) = decoder
        .decode(&mut bytes)
        .unwrap_or_else(|e| panic!("the client sent a malformed packet: {e}"))
    {
        if let Packet::Publish(p) = packet {
            publishes.push(p);
        }
    }
    publishes
}

/// mosquitto allows 10 topic aliases (`max_topic_alias`); the client binds one on the
/// first publish to a topic and then sends the alias alone. Every message still arrives
/// under its full topic, also when more topics than aliases are in use.
#[test]
fn outgoing_topic_aliases() {
    let broker = start(Mosquitto::builder());
    let base = format!("alias/{}", unique("t"));
    let (subscriber, events, _) = connect(options(&broker.url(), &unique("alsub")));
    subscribe(&subscriber, &format!("{base}/#"), QoS::AtLeastOnce);
    let (publisher_options, sent) = tapped(&broker, &unique("alpub"));
    let (publisher, _e, connected) = connect(publisher_options);
    assert_eq!(connected.properties.topic_alias_maximum, Some(10));
    assert_eq!(connected.limits.topic_alias_maximum, 10);

    // One topic, 20 times, at every QoS.
    let one = format!("{base}/one/with/a/rather/long/topic/name");
    for i in 0..20 {
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3];
        published(
            publisher.publish(&one, qos, false, format!("{i}")),
            &format!("publish #{i}"),
        );
    }
    for i in 0..20 {
        let m = next_message(&events, &format!("aliased message #{i}"));
        assert_eq!(
            (m.topic.as_str(), &m.payload[..]),
            (one.as_str(), format!("{i}").as_bytes())
        );
        assert_eq!(m.properties.topic_alias, None, "aliases are resolved");
    }
    let publishes = sent_publishes(&sent);
    assert_eq!(publishes.len(), 20);
    let alias = publishes[0]
        .properties
        .topic_alias
        .expect("the first publish binds an alias");
    assert_eq!(publishes[0].topic.as_str(), one);
    for p in &publishes[1..] {
        assert_eq!(p.properties.topic_alias, Some(alias));
        assert!(p.topic.is_empty(), "the alias alone, not {:?}", p.topic);
    }

    // 15 topics, two rounds: more topics than aliases.
    let topics: Vec<String> = (0..15).map(|i| format!("{base}/many/{i}")).collect();
    for round in 0..2 {
        for t in &topics {
            published(
                publisher.publish(t, QoS::AtLeastOnce, false, format!("{round}")),
                t,
            );
        }
    }
    let mut got: Vec<(String, String)> = (0..30)
        .map(|i| {
            let m = next_message(&events, &format!("message #{i} of 30"));
            (
                m.topic.as_str().to_owned(),
                String::from_utf8_lossy(&m.payload).into_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = topics
        .iter()
        .flat_map(|t| [(t.clone(), "0".to_owned()), (t.clone(), "1".to_owned())])
        .collect();
    want.sort();
    assert_eq!(got, want);
    expect_no_message(&events, "after the aliased messages");
    for p in sent_publishes(&sent) {
        if let Some(a) = p.properties.topic_alias {
            assert!((1..=10).contains(&a.get()), "alias {a} above the maximum");
        }
    }
    let log = broker.log();
    assert!(!log.contains("disconnected"), "{log}");
}

// ----- Subscription identifiers -----

#[test]
fn subscription_identifiers_come_with_messages() {
    let broker = start(Mosquitto::builder());
    let base = format!("sid/{}", unique("t"));
    let (client, events, connected) = connect(options(&broker.url(), &unique("sid")));
    assert!(connected.limits.subscription_identifier_available);
    subscribe_with(
        &client,
        Subscription::new(filter(&format!("{base}/a/+")), QoS::AtLeastOnce),
        Some(7),
    );
    subscribe_with(
        &client,
        Subscription::new(filter(&format!("{base}/b/#")), QoS::AtLeastOnce),
        Some(268_435_455),
    );
    subscribe(&client, &format!("{base}/c"), QoS::AtLeastOnce);

    for (t, want) in [
        (format!("{base}/a/x"), vec![7]),
        (format!("{base}/b/y/z"), vec![268_435_455]),
        (format!("{base}/c"), vec![]),
    ] {
        published(client.publish(&t, QoS::AtLeastOnce, false, "m"), &t);
        let m = next_message(&events, &t);
        assert_eq!(m.topic.as_str(), t);
        assert_eq!(m.properties.subscription_identifiers, want, "{t}");
    }

    // A new subscription with the same filter replaces the identifier.
    subscribe_with(
        &client,
        Subscription::new(filter(&format!("{base}/a/+")), QoS::AtLeastOnce),
        Some(8),
    );
    let t = format!("{base}/a/again");
    published(client.publish(&t, QoS::AtLeastOnce, false, "m"), &t);
    assert_eq!(
        next_message(&events, "after re-subscribing")
            .properties
            .subscription_identifiers,
        vec![8]
    );
    // The client may not set one on a PUBLISH.
    let mut properties = PublishProperties::default();
    properties.subscription_identifiers.push(3);
    assert!(matches!(
        client.publish_message(Publish::new(topic(&t), "x").with_properties(properties)),
        Err(Error::Usage(UsageError::ReservedProperty(_)))
    ));
    expect_no_message(&events, "after the expected deliveries");
}

// ----- Shared subscriptions -----

/// `$share/GROUP/filter`: each message goes to exactly one member of the group (mosquitto
/// takes turns), while an ordinary subscriber gets every one.
#[test]
fn shared_subscription_delivers_each_message_to_one_member() {
    const N: usize = 20;
    let broker = start(Mosquitto::builder());
    let name = format!("shared/{}", unique("t"));
    let share = format!("$share/group1/{name}");
    let (a, a_events, connected) = connect(options(&broker.url(), &unique("sha")));
    assert!(connected.limits.shared_subscription_available);
    let (b, b_events, _) = connect(options(&broker.url(), &unique("shb")));
    let (all, all_events, _) = connect(options(&broker.url(), &unique("shall")));
    subscribe(&a, &share, QoS::AtLeastOnce);
    subscribe(&b, &share, QoS::AtLeastOnce);
    subscribe(&all, &name, QoS::AtLeastOnce);

    let (publisher, _e, _) = connect(options(&broker.url(), &unique("shpub")));
    for i in 0..N {
        published(
            publisher.publish(&name, QoS::AtLeastOnce, false, format!("{i}")),
            &format!("publish #{i}"),
        );
    }
    let payloads = |events: &Events| -> Vec<usize> {
        drain_messages(events)
            .iter()
            .map(|m| {
                assert_eq!(m.topic.as_str(), name, "delivered under the real topic");
                String::from_utf8_lossy(&m.payload)
                    .parse()
                    .expect("a number")
            })
            .collect()
    };
    let (to_a, to_b, to_all) = (
        payloads(&a_events),
        payloads(&b_events),
        payloads(&all_events),
    );
    let mut group: Vec<usize> = to_a.iter().chain(&to_b).copied().collect();
    group.sort_unstable();
    assert_eq!(
        group,
        (0..N).collect::<Vec<_>>(),
        "each message exactly once to the group: a got {to_a:?}, b got {to_b:?}"
    );
    assert!(
        !to_a.is_empty() && !to_b.is_empty(),
        "both members share the load: a got {to_a:?}, b got {to_b:?}"
    );
    assert_eq!(to_all, (0..N).collect::<Vec<_>>());

    // One member leaves: the other gets everything.
    match wait(b.unsubscribe(&share), "unsubscribe b") {
        Completion::Unsubscribed(codes) => assert_eq!(codes, [ReasonCode::Success]),
        other => panic!("unsubscribe: {other:?}"),
    }
    for i in 0..4 {
        published(
            publisher.publish(&name, QoS::AtLeastOnce, false, format!("{i}")),
            "publish",
        );
    }
    assert_eq!(payloads(&a_events), vec![0, 1, 2, 3]);
    assert!(payloads(&b_events).is_empty());
}

// ----- Request / response -----

#[test]
fn request_response_round_trip() {
    let broker = start(Mosquitto::builder());
    let base = format!("rr/{}", unique("t"));
    let requests = format!("{base}/requests");
    let replies = format!("{base}/replies/requester");

    let (responder, responder_events, _) = connect(options(&broker.url(), &unique("resp")));
    subscribe(&responder, &requests, QoS::AtLeastOnce);
    let (requester, requester_events, _) = connect(options(&broker.url(), &unique("req")));
    subscribe(&requester, &replies, QoS::AtLeastOnce);

    // The responder answers each request on its Response Topic, echoing the Correlation
    // Data, in a thread of its own.
    let server = std::thread::spawn(move || {
        for _ in 0..3 {
            let request = next_message(&responder_events, "a request");
            let p = &request.properties;
            let reply_to = p.response_topic.clone().expect("a Response Topic");
            let properties = PublishProperties {
                correlation_data: p.correlation_data.clone(),
                ..PublishProperties::default()
            };
            let mut answer = b"re: ".to_vec();
            answer.extend_from_slice(&request.payload);
            published(
                responder.publish_message(
                    Publish::new(reply_to, answer)
                        .with_qos(QoS::AtLeastOnce, None)
                        .with_properties(properties),
                ),
                "the reply",
            );
        }
    });

    let mut expected = BTreeMap::new();
    for i in 0..3u8 {
        let correlation = Bytes::from(vec![0xC0, i, 0x00, 0xFF]);
        let properties = PublishProperties {
            response_topic: Some(topic(&replies)),
            correlation_data: Some(correlation.clone()),
            ..PublishProperties::default()
        };
        published(
            requester.publish_message(
                Publish::new(topic(&requests), format!("question {i}"))
                    .with_qos(QoS::AtLeastOnce, None)
                    .with_properties(properties),
            ),
            "the request",
        );
        expected.insert(correlation, format!("re: question {i}"));
    }
    let mut got = BTreeMap::new();
    for _ in 0..3 {
        let reply = next_message(&requester_events, "a reply");
        assert_eq!(reply.topic.as_str(), replies);
        let correlation = reply
            .properties
            .correlation_data
            .clone()
            .expect("Correlation Data in the reply");
        got.insert(
            correlation,
            String::from_utf8_lossy(&reply.payload).into_owned(),
        );
    }
    assert_eq!(got, expected);
    server.join().expect("the responder thread");
}

// ----- Message expiry -----

/// A message's expiry interval: forwarded with the time left; a retained or queued message
/// whose interval passed is not delivered any more, one whose interval has not is.
#[test]
fn message_expiry() {
    let broker = start(Mosquitto::builder());
    let base = format!("exp/{}", unique("t"));
    let url = broker.url();
    let (publisher, _e, _) = connect(options(&url, &unique("exppub")));
    let send = |name: &str, retain: bool, expiry: Option<u32>, payload: &str| {
        let properties = PublishProperties {
            message_expiry_interval: expiry,
            ..PublishProperties::default()
        };
        published(
            publisher.publish_message(
                Publish::new(topic(name), payload.to_owned())
                    .with_qos(QoS::AtLeastOnce, None)
                    .with_retain(retain)
                    .with_properties(properties),
            ),
            payload,
        );
    };

    // Live: forwarded with the interval (less any whole seconds it waited).
    let (live, live_events, _) = connect(options(&url, &unique("explive")));
    subscribe(&live, &format!("{base}/live"), QoS::AtLeastOnce);
    send(&format!("{base}/live"), false, Some(60), "live");
    let m = next_message(&live_events, "the live message");
    let left = m.properties.message_expiry_interval;
    assert!(
        matches!(left, Some(58..=60)),
        "expiry interval forwarded: {left:?}"
    );

    // Queued for an absent persistent session, and retained: one expiring after 1 s,
    // one after 60 s.
    let id = unique("expaway");
    let away = || options(&url, &id).clean_start(false).session_expiry(300);
    let (c, _ev, _) = connect(away());
    subscribe(&c, &format!("{base}/queued"), QoS::AtLeastOnce);
    c.disconnect().expect("disconnect");
    wait_for_log(&broker, &format!("Client {id} disconnected"));
    send(&format!("{base}/queued"), false, Some(1), "queued short");
    send(&format!("{base}/queued"), false, Some(60), "queued long");
    send(
        &format!("{base}/retained/short"),
        true,
        Some(1),
        "retained short",
    );
    send(
        &format!("{base}/retained/long"),
        true,
        Some(60),
        "retained long",
    );
    std::thread::sleep(Duration::from_millis(2100));

    let (c, events, connected) = connect(away());
    assert!(connected.session_present);
    let m = next_message(&events, "the queued message that has not expired");
    assert_eq!(&m.payload[..], b"queued long");
    assert!(
        matches!(m.properties.message_expiry_interval, Some(55..=58)),
        "{:?}",
        m.properties.message_expiry_interval
    );
    expect_no_message(&events, "the expired queued message");
    subscribe(&c, &format!("{base}/retained/#"), QoS::AtLeastOnce);
    let m = next_message(&events, "the retained message that has not expired");
    assert_eq!(&m.payload[..], b"retained long");
    assert!(m.retain);
    expect_no_message(&events, "the expired retained message");
}

// ----- Properties -----

/// User properties (order and repeats kept), content type, payload format indicator and
/// correlation data travel unchanged through the broker.
#[test]
fn publish_properties_round_trip() {
    let broker = start(Mosquitto::builder());
    let name = format!("props/{}", unique("t"));
    let (client, events, _) = connect(options(&broker.url(), &unique("props")));
    subscribe(&client, &name, QoS::ExactlyOnce);
    let user_properties = vec![
        UserProperty::new(string("unit"), string("celsius")),
        UserProperty::new(string("sensor"), string("kitchen")),
        UserProperty::new(string("unit"), string("kelvin")),
        UserProperty::new(string("empty"), string("")),
        UserProperty::new(string("ünïcödé"), string("✓")),
    ];
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let properties = PublishProperties {
            payload_format_indicator: Some(true),
            content_type: Some(string("application/json")),
            correlation_data: Some(Bytes::from_static(&[0, 1, 2, 255])),
            user_properties: user_properties.clone(),
            ..PublishProperties::default()
        };
        published(
            client.publish_message(
                Publish::new(topic(&name), "{\"t\": 21.5}")
                    .with_qos(qos, None)
                    .with_properties(properties),
            ),
            &format!("publish {qos}"),
        );
        let m = next_message(&events, &format!("the {qos} message"));
        let p = &m.properties;
        assert_eq!(p.user_properties, user_properties, "{qos}");
        assert_eq!(p.content_type.as_deref(), Some("application/json"), "{qos}");
        assert_eq!(p.payload_format_indicator, Some(true), "{qos}");
        assert_eq!(
            p.correlation_data.as_deref(),
            Some(&[0u8, 1, 2, 255][..]),
            "{qos}"
        );
        assert_eq!(&m.payload[..], b"{\"t\": 21.5}");
    }
}

/// No Local, Retain As Published and Retain Handling.
#[test]
fn subscription_options() {
    let broker = start(Mosquitto::builder());
    let base = format!("opts/{}", unique("t"));
    let (client, events, _) = connect(options(&broker.url(), &unique("opts")));
    let (other, _e, _) = connect(options(&broker.url(), &unique("other")));

    // No Local: our own messages do not come back; others' do.
    let mut no_local = SubscriptionOptions::new(QoS::AtLeastOnce);
    no_local.no_local = true;
    let local = format!("{base}/nolocal");
    subscribe_with(
        &client,
        Subscription {
            filter: filter(&local),
            options: no_local,
        },
        None,
    );
    published(
        client.publish(&local, QoS::AtLeastOnce, false, "mine"),
        "mine",
    );
    published(
        other.publish(&local, QoS::AtLeastOnce, false, "theirs"),
        "theirs",
    );
    assert_eq!(&next_message(&events, "theirs").payload[..], b"theirs");
    expect_no_message(&events, "our own message with No Local");

    // Retain As Published: live retained messages keep their flag.
    let mut rap = SubscriptionOptions::new(QoS::AtLeastOnce);
    rap.retain_as_published = true;
    let kept = format!("{base}/rap");
    subscribe_with(
        &client,
        Subscription {
            filter: filter(&kept),
            options: rap,
        },
        None,
    );
    published(
        other.publish(&kept, QoS::AtLeastOnce, true, "flagged"),
        "rap",
    );
    let m = next_message(&events, "retain as published");
    assert!(m.retain, "Retain As Published keeps the flag");

    // Retain Handling 2: no retained messages at subscribe time.
    let quiet = format!("{base}/dns");
    published(other.publish(&quiet, QoS::AtLeastOnce, true, "old"), "old");
    let mut dns = SubscriptionOptions::new(QoS::AtLeastOnce);
    dns.retain_handling = RetainHandling::DoNotSend;
    subscribe_with(
        &client,
        Subscription {
            filter: filter(&quiet),
            options: dns,
        },
        None,
    );
    expect_no_message(&events, "retained messages with Retain Handling 2");
    // Retain Handling 1: only for a new subscription.
    let mut if_new = SubscriptionOptions::new(QoS::AtLeastOnce);
    if_new.retain_handling = RetainHandling::SendIfNew;
    let fresh = format!("{base}/rh1");
    published(other.publish(&fresh, QoS::AtLeastOnce, true, "r"), "r");
    for round in 0..2 {
        subscribe_with(
            &client,
            Subscription {
                filter: filter(&fresh),
                options: if_new,
            },
            None,
        );
        if round == 0 {
            assert_eq!(&next_message(&events, "retained, new").payload[..], b"r");
        } else {
            expect_no_message(&events, "retained, existing subscription");
        }
    }
}

/// An empty client identifier: mosquitto assigns one, and the client uses it.
#[test]
fn assigned_client_identifier() {
    let broker = start(Mosquitto::builder());
    let (client, events, connected) = connect(options(&broker.url(), ""));
    let assigned = connected
        .properties
        .assigned_client_identifier
        .clone()
        .expect("an Assigned Client Identifier");
    assert!(!assigned.is_empty());
    assert_eq!(connected.client_id, assigned);
    let name = format!("assigned/{}", unique("t"));
    subscribe(&client, &name, QoS::AtLeastOnce);
    published(
        client.publish(&name, QoS::AtLeastOnce, false, "hi"),
        "publish",
    );
    assert_eq!(&next_message(&events, "own message").payload[..], b"hi");
    let log = broker.log();
    assert!(log.contains(assigned.as_str()), "{log}");
}

/// A PUBACK or PUBREC with a failure reason code fails the publish with that code (here
/// 0x87: mosquitto refuses publishes to `$SYS`), and the connection carries on. A success
/// code other than 0x00 (0x10, no matching subscribers) is a success, passed on.
#[test]
fn refused_publishes_fail_with_the_reason_code() {
    let broker = start(Mosquitto::builder());
    let (client, events, _) = connect(options(&broker.url(), &unique("refused")));
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let result = client
            .publish("$SYS/not/yours", qos, false, "x")
            .unwrap_or_else(|e| panic!("{qos}: {e}"))
            .wait_timeout(WAIT);
        match result {
            Err(Error::Operation(OperationError::Refused(code))) => {
                assert_eq!(code, ReasonCode::NotAuthorized, "{qos}")
            }
            other => panic!("{qos} publish to $SYS: expected Refused(0x87), got {other:?}"),
        }
    }
    // mosquitto says 0x10 in PUBACK; for QoS 2 its PUBREC and PUBCOMP say 0x00.
    let nobody = format!("nobody/{}", unique("t"));
    for (qos, want) in [
        (QoS::AtLeastOnce, ReasonCode::NoMatchingSubscribers),
        (QoS::ExactlyOnce, ReasonCode::Success),
    ] {
        match wait(client.publish(&nobody, qos, false, "x"), "no subscribers") {
            Completion::Published(code) => assert_eq!(code, want, "{qos}"),
            other => panic!("{qos}: {other:?}"),
        }
    }
    let name = format!("after/{}", unique("t"));
    subscribe(&client, &name, QoS::AtLeastOnce);
    published(
        client.publish(&name, QoS::AtLeastOnce, false, "ok"),
        "after",
    );
    assert_eq!(
        &next_message(&events, "after the refusals").payload[..],
        b"ok"
    );
}

/// UNSUBACK reason codes: 0x00 for a subscription that existed, 0x11 for one that did
/// not; one per filter, in order.
#[test]
fn unsubscribe_reason_codes() {
    let broker = start(Mosquitto::builder());
    let (client, _events, _) = connect(options(&broker.url(), &unique("unsub")));
    let base = format!("unsub/{}", unique("t"));
    subscribe(&client, &format!("{base}/a"), QoS::AtMostOnce);
    let filters = vec![
        filter(&format!("{base}/a")),
        filter(&format!("{base}/never")),
    ];
    match wait(
        client.unsubscribe_many(filters, mqtt_proto::UnsubscribeProperties::default()),
        "unsubscribe",
    ) {
        Completion::Unsubscribed(codes) => assert_eq!(
            codes,
            [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        ),
        other => panic!("unsubscribe: {other:?}"),
    }
}

/// Will properties (user properties, content type) reach the subscriber, and the Will
/// Delay Interval holds the will back after an abnormal close.
#[test]
fn will_properties_and_delay() {
    let broker = start(Mosquitto::builder());
    let status = format!("will/{}", unique("t"));
    let (watcher, watched, _) = connect(options(&broker.url(), &unique("wwatch")));
    subscribe(&watcher, &status, QoS::AtLeastOnce);
    let mut will = mqtt_proto::Will::new(topic(&status), "gone");
    will.qos = QoS::AtLeastOnce;
    will.properties.will_delay_interval = Some(1);
    will.properties.content_type = Some(string("text/plain"));
    will.properties.user_properties = vec![UserProperty::new(string("why"), string("test"))];
    let (client, _events, _) = connect(options(&broker.url(), &unique("wdelay")).will(will));
    let closed = Instant::now();
    client.close().expect("close");
    expect_no_message(&watched, "the will within its delay");
    let m = next_message(&watched, "the delayed will");
    let after = closed.elapsed();
    assert!(
        after >= Duration::from_millis(900),
        "the will came {after:?} after the close, before its 1 s delay"
    );
    assert_eq!(&m.payload[..], b"gone");
    assert_eq!(m.properties.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        m.properties.user_properties,
        vec![UserProperty::new(string("why"), string("test"))]
    );
}
