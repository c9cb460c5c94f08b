//! Scripted conversations for PUBLISH in both directions: QoS 0/1/2 flows, packet
//! identifiers, acknowledgement matching and order, both Receive Maximums, both Maximum
//! Packet Sizes, topic aliases both ways, request/response properties and message expiry.
//!
//! Every test names the statements it checks, per version: `v5 [MQTT-x]`, `v3.1.1 [MQTT-x]`
//! (see /work/shared/CONFORMANCE.md).

mod common;

use bytes::Bytes;
use common::{
    ALL, Harness, connack_present, dup, msg, options, persistent, publish, secs, with_id,
};
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::{
    ConnAck, DecodeError, Disconnect, Encode, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode, Subscribe,
    SubscribeProperties, Subscription, TopicFilter, TopicName, Unsubscribe, UserProperty,
};
use mqtt_session::{
    AckToken, AcknowledgeError, Action, Connected, DisconnectOptions, DisconnectReason, Event,
    IncomingMessage, OperationError, OperationId, ProtocolViolation, Session, UsageError,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

/// A PUBLISH the server sends.
fn incoming(topic: &'static str, payload: &'static str, qos: QoS, n: u16) -> Publish {
    let p = msg(topic, payload, qos);
    if qos == QoS::AtMostOnce {
        p
    } else {
        with_id(p, n)
    }
}

/// `p` with Topic Alias `alias`; the topic name left out when `name` is false.
fn aliased(mut p: Publish, alias: u16, name: bool) -> Publish {
    p.properties.topic_alias = NonZeroU16::new(alias);
    if !name {
        p.topic = TopicName::empty();
    }
    p
}

/// The message event for `p` with automatic acknowledgements.
fn delivered(p: &Publish) -> Event {
    Event::Message(IncomingMessage {
        publish: p.clone(),
        ack: None,
    })
}

fn completed(id: OperationId, reason_code: ReasonCode) -> Event {
    Event::PublishCompleted { id, reason_code }
}

fn failed(id: OperationId, error: OperationError) -> Event {
    Event::OperationFailed { id, error }
}

/// Connects with `connack`; returns the Connected event, leaving the events after it.
fn connect_with(h: &mut Harness, connack: ConnAck) -> Connected {
    h.connect_with(connack);
    let mut events = h.take_events();
    let Event::Connected(c) = events.remove(0) else {
        panic!("{events:?}")
    };
    h.events = events;
    *c
}

/// The manual acknowledgement tokens of the message events, in order.
fn tokens(events: Vec<Event>) -> Vec<AckToken> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m.ack.expect("a token"),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn ack(h: &mut Harness, token: AckToken, code: ReasonCode) {
    h.session.acknowledge(h.now, token, code).unwrap();
    h.drain();
}

/// The session closed the connection for a protocol violation matching `what`: under 5.0
/// after DISCONNECT `code` (§4.13.1), under 3.1.x by closing alone (v3.1.1 [MQTT-4.8.0-1]).
fn assert_violation(h: &mut Harness, code: ReasonCode, what: impl Fn(&ProtocolViolation) -> bool) {
    let sent = h.sent();
    if h.version.is_v5() {
        assert_eq!(sent, vec![Packet::Disconnect(Disconnect::new(code))]);
    } else {
        assert!(sent.is_empty(), "{sent:?}");
    }
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let events = h.take_events();
    match events.as_slice() {
        [
            Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(v),
                reconnect_at: Some(_),
            },
        ] if what(v) => {}
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

// ----- outgoing -----

// v5 [MQTT-4.3.1-1] [MQTT-3.3.1-2] [MQTT-2.2.1-2]; v3.1.1 [MQTT-4.3.1-1] [MQTT-3.3.1-2]
// [MQTT-2.3.1-5]: QoS 0 goes once, DUP 0, no packet identifier, no event, never retried.
#[test]
fn qos0_publish_is_sent_once_without_identifier() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        publish(&mut h, msg("t", "x", QoS::AtMostOnce));
        assert_eq!(
            h.sent(),
            vec![Packet::Publish(msg("t", "x", QoS::AtMostOnce))],
            "{v}"
        );
        assert!(h.take_events().is_empty());
        h.advance(secs(59));
        assert!(h.sent().is_empty(), "{v}: never retried");
        assert_eq!(h.session.in_flight(), 0);
    }
}

// v5 [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.2-3] [MQTT-4.3.3-1] [MQTT-4.3.3-2]
// [MQTT-4.3.3-3] [MQTT-4.3.3-4] [MQTT-4.3.3-5] [MQTT-2.2.1-3] [MQTT-2.2.1-5];
// v3.1.1 [MQTT-4.3.2-1] [MQTT-4.3.3-1] [MQTT-2.3.1-2] [MQTT-2.3.1-6]: fresh identifiers,
// DUP 0 the first time, kept until the final acknowledgement, PUBREL with the same
// identifier.
#[test]
fn qos1_and_qos2_take_fresh_identifiers_and_complete_on_the_final_ack() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        let c = publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), 1)),
                Packet::Publish(with_id(msg("t", "b", QoS::ExactlyOnce), 2)),
                Packet::Publish(with_id(msg("t", "c", QoS::AtLeastOnce), 3)),
            ],
            "{v}"
        );
        assert_eq!(h.session.in_flight(), 3);
        h.receive(PubRec::new(id(2)));
        assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(2)))]);
        assert!(h.take_events().is_empty(), "PUBREC does not complete QoS 2");
        h.receive(PubAck::new(id(3)));
        h.receive(PubComp::new(id(2)));
        h.receive(PubAck::new(id(1)));
        assert_eq!(
            h.take_events(),
            vec![
                completed(c, ReasonCode::Success),
                completed(b, ReasonCode::Success),
                completed(a, ReasonCode::Success),
            ]
        );
        assert_eq!(h.session.in_flight(), 0);
        assert!(h.sent().is_empty());
    }
}

/// Takes three identifiers: publishes QoS 1 "a" on "t", subscribes with `subscription`
/// and unsubscribes from "u", none of them acknowledged.
fn publish_subscribe_and_unsubscribe(h: &mut Harness, subscription: &Subscription) {
    publish(h, msg("t", "a", QoS::AtLeastOnce));
    h.session
        .subscribe(
            h.now,
            vec![subscription.clone()],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.session
        .unsubscribe(
            h.now,
            vec![TopicFilter::from_static("u")],
            Default::default(),
        )
        .unwrap();
    h.drain();
}

// v5 [MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-2]: PUBLISH, SUBSCRIBE and UNSUBSCRIBE draw from
// one identifier pool.
#[test]
fn publish_subscribe_and_unsubscribe_share_one_identifier_pool() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(options(v));
        h.connect();
        let subscription = Subscription::new(TopicFilter::from_static("s/#"), QoS::AtLeastOnce);
        publish_subscribe_and_unsubscribe(&mut h, &subscription);
        publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), 1)),
                Packet::Subscribe(Subscribe::new(id(2), vec![subscription])),
                Packet::Unsubscribe(Unsubscribe::new(id(3), vec![TopicFilter::from_static("u")])),
                Packet::Publish(with_id(msg("t", "b", QoS::ExactlyOnce), 4)),
            ],
            "{v}"
        );
    }
}

// v5 [MQTT-2.2.1-3]; v3.1.1 [MQTT-2.3.1-2] [MQTT-2.3.1-3]: when the allocator wraps past
// 65535, identifiers still in use (a PUBLISH, a SUBSCRIBE, an UNSUBSCRIBE awaiting their
// acknowledgements) are skipped, and a freed one is not handed out while others are free.
#[test]
fn identifiers_in_use_are_never_handed_out_again_when_the_pool_wraps() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let o = persistent(v);
        let mut h = Harness::new(o.clone());
        h.connect();
        let subscription = Subscription::new(TopicFilter::from_static("s"), QoS::AtLeastOnce);
        publish_subscribe_and_unsubscribe(&mut h, &subscription);
        assert_eq!(h.sent().len(), 3);
        let mut state = h.session.state();
        state.next_packet_id = 65_534;
        let mut h = Harness::from_session(Session::restore(o, state));
        h.connect_with(connack_present());
        let resent = h.sent();
        assert!(
            resent.contains(&Packet::Publish(dup(with_id(
                msg("t", "a", QoS::AtLeastOnce),
                1
            )))),
            "{resent:?}"
        );
        assert_eq!(resent.len(), 3, "{resent:?}");
        publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
        publish(&mut h, msg("t", "d", QoS::AtLeastOnce));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "b", QoS::ExactlyOnce), 65_534)),
                Packet::Publish(with_id(msg("t", "c", QoS::AtLeastOnce), 65_535)),
                // 1, 2 and 3 are in use.
                Packet::Publish(with_id(msg("t", "d", QoS::AtLeastOnce), 4)),
            ],
            "{v}"
        );
        h.receive(PubAck::new(id(1)));
        publish(&mut h, msg("t", "e", QoS::AtLeastOnce));
        assert_eq!(
            h.sent(),
            vec![Packet::Publish(with_id(msg("t", "e", QoS::AtLeastOnce), 5))],
            "{v}"
        );
    }
}

// v5 [MQTT-2.2.1-5] [MQTT-4.3.2-3] [MQTT-4.3.3-3] [MQTT-4.3.3-5] §4.13.1;
// v3.1.1 [MQTT-2.3.1-6] [MQTT-4.8.0-1]: an acknowledgement is matched by identifier AND
// type: PUBACK for a QoS 2 message, PUBREC for a QoS 1 message, PUBCOMP before PUBREC
// are protocol violations, and so is one for an identifier not in flight under
// `strict_acknowledgements` (by default that one is reported: tests/robustness.rs).
#[test]
fn acknowledgements_are_matched_by_identifier_and_type() {
    /// The acknowledgement the server sends for the message with this identifier.
    type Answer = fn(PacketId) -> Packet;
    let cases: [(&str, Answer, QoS); 5] = [
        (
            "PUBACK for QoS 2",
            |i| PubAck::new(i).into(),
            QoS::ExactlyOnce,
        ),
        (
            "PUBREC for QoS 1",
            |i| PubRec::new(i).into(),
            QoS::AtLeastOnce,
        ),
        (
            "PUBCOMP before PUBREC",
            |i| PubComp::new(i).into(),
            QoS::ExactlyOnce,
        ),
        (
            "PUBCOMP for QoS 1",
            |i| PubComp::new(i).into(),
            QoS::AtLeastOnce,
        ),
        (
            "PUBACK for an unknown id",
            |_| PubAck::new(id(99)).into(),
            QoS::AtLeastOnce,
        ),
    ];
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for (what, ack, qos) in cases {
            let mut o = options(v);
            o.strict_acknowledgements = what.ends_with("unknown id");
            let mut h = Harness::new(o);
            h.connect();
            let op = publish(&mut h, msg("t", "x", qos));
            assert_eq!(h.sent().len(), 1);
            h.receive(ack(id(1)));
            assert_violation(&mut h, ReasonCode::ProtocolError, |p| {
                matches!(p, ProtocolViolation::UnknownPacketId(_))
            });
            assert!(
                !h.events
                    .iter()
                    .any(|e| matches!(e, Event::PublishCompleted { id, .. } if *id == op)),
                "{v} {what}: the wrong acknowledgement must not complete the publish"
            );
        }
    }
}

// v5 [MQTT-4.4.0-2] [MQTT-3.3.4-7] [MQTT-4.9.0-2] U5-34 U5-35 U5-43 and BROKERS.md
// (mosquitto's PUBREC 0x97): a PUBREC or PUBACK >= 0x80 ends the exchange: the publish
// fails, no PUBREL, the identifier and one unit of send quota are freed, and the message
// is never sent again, not even on resumption.
#[test]
fn failing_pubrec_and_puback_end_the_exchange_and_free_the_quota() {
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connect_with(&mut h, connack.clone());
    let a = publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
    let b = publish(&mut h, msg("t", "b", QoS::AtLeastOnce));
    let c = publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "a", QoS::ExactlyOnce), 1))]
    );
    h.receive(PubRec::with_reason(id(1), ReasonCode::QuotaExceeded));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "b", QoS::AtLeastOnce), 2))],
        "no PUBREL; the freed quota lets the next message go"
    );
    assert_eq!(
        h.take_events(),
        vec![failed(
            a,
            OperationError::Refused(ReasonCode::QuotaExceeded)
        )]
    );
    h.receive(PubAck::with_reason(id(2), ReasonCode::NotAuthorized));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "c", QoS::AtLeastOnce), 3))]
    );
    assert_eq!(
        h.take_events(),
        vec![failed(
            b,
            OperationError::Refused(ReasonCode::NotAuthorized)
        )]
    );
    assert_eq!(h.session.in_flight(), 1);
    let ids: Vec<_> = h
        .session
        .state()
        .in_flight
        .iter()
        .map(|f| f.publish.packet_id)
        .collect();
    assert_eq!(ids, vec![Some(id(3))], "identifiers 1 and 2 are free");

    let mut present = connack_present();
    present.properties.receive_maximum = NonZeroU16::new(1);
    assert!(h.reconnect_events(present).is_empty());
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(dup(with_id(
            msg("t", "c", QoS::AtLeastOnce),
            3
        )))],
        "refused messages are never re-sent"
    );
    h.receive(PubAck::new(id(3)));
    assert_eq!(h.take_events(), vec![completed(c, ReasonCode::Success)]);
}

// v5 §4.13.2, Table B.4 (0x92 "complete the QoS 2 exchange"), U5-35: PUBCOMP 0x92 ends the
// exchange: the publish completes with that code and the quota is freed.
#[test]
fn pubcomp_packet_identifier_not_found_completes_the_exchange() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connect_with(&mut h, connack);
    let a = publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
    publish(&mut h, msg("t", "b", QoS::AtLeastOnce));
    assert_eq!(h.sent().len(), 1);
    h.receive(PubRec::new(id(1)));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(1)))]);
    h.receive(PubComp::with_reason(
        id(1),
        ReasonCode::PacketIdentifierNotFound,
    ));
    assert_eq!(
        h.take_events(),
        vec![completed(a, ReasonCode::PacketIdentifierNotFound)]
    );
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "b", QoS::AtLeastOnce), 2))]
    );
}

// v5 §2.4 U5-11, Table B.4 (0x10 success class): PUBACK 0x10 completes with that code;
// PUBREC 0x10 continues with PUBREL ([MQTT-4.3.3-4]).
#[test]
fn success_class_reason_codes_below_0x80_are_not_failures() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
    assert_eq!(h.sent().len(), 2);
    h.receive(PubAck::with_reason(
        id(1),
        ReasonCode::NoMatchingSubscribers,
    ));
    h.receive(PubRec::with_reason(
        id(2),
        ReasonCode::NoMatchingSubscribers,
    ));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(2)))]);
    h.receive(PubComp::new(id(2)));
    assert_eq!(
        h.take_events(),
        vec![
            completed(a, ReasonCode::NoMatchingSubscribers),
            completed(b, ReasonCode::Success),
        ]
    );
}

// v5 [MQTT-3.3.4-6]: the session owns Topic Alias and never sends a Subscription
// Identifier; the application may not set them.
#[test]
fn topic_alias_and_subscription_identifier_are_refused_in_a_publish() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let mut p = msg("t", "x", QoS::AtLeastOnce);
    p.properties.topic_alias = NonZeroU16::new(1);
    assert_eq!(
        h.session.publish(h.now, p),
        Err(UsageError::ReservedProperty("Topic Alias"))
    );
    let mut p = msg("t", "x", QoS::AtLeastOnce);
    p.properties.subscription_identifiers = vec![5];
    assert_eq!(
        h.session.publish(h.now, p),
        Err(UsageError::ReservedProperty("Subscription Identifier"))
    );
    h.drain();
    assert!(h.sent().is_empty());
    assert!(h.take_events().is_empty());
}

// v5 [MQTT-3.2.2-11] [MQTT-3.2.2-14]: never above the server's Maximum QoS, never RETAIN
// when it has no retained messages.
#[test]
fn publish_above_maximum_qos_or_with_unavailable_retain_is_refused() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    connack.properties.retain_available = Some(false);
    connect_with(&mut h, connack);
    assert_eq!(
        h.session.publish(h.now, msg("t", "x", QoS::ExactlyOnce)),
        Err(UsageError::QoSNotSupported {
            requested: QoS::ExactlyOnce,
            maximum: QoS::AtLeastOnce
        })
    );
    assert_eq!(
        h.session
            .publish(h.now, msg("t", "x", QoS::AtMostOnce).with_retain(true)),
        Err(UsageError::RetainNotAvailable)
    );
    h.drain();
    assert!(h.sent().is_empty());
    publish(&mut h, msg("t", "x", QoS::AtLeastOnce));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "x", QoS::AtLeastOnce), 1))]
    );
}

// ----- incoming -----

// v5 [MQTT-4.3.1-1] [MQTT-3.3.4-1]; v3.1.1 [MQTT-4.3.1-1] [MQTT-3.3.4-1]: QoS 0 is
// delivered, nothing is answered.
#[test]
fn incoming_qos0_is_delivered_without_an_answer() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        let p = incoming("t", "x", QoS::AtMostOnce, 0);
        h.receive(p.clone());
        assert_eq!(h.take_events(), vec![delivered(&p)]);
        assert!(h.sent().is_empty(), "{v}");
    }
}

// v5 [MQTT-4.3.2-4] [MQTT-4.3.2-5] [MQTT-3.3.4-1]; v3.1.1 [MQTT-4.3.2-2] [MQTT-3.3.4-1]:
// PUBACK with the same identifier; after it, the identifier starts a new message whatever
// its DUP flag.
#[test]
fn incoming_qos1_is_acknowledged_and_its_identifier_then_starts_a_new_message() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        let p = incoming("t", "x", QoS::AtLeastOnce, 5);
        h.receive(p.clone());
        assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(5)))], "{v}");
        assert_eq!(h.take_events(), vec![delivered(&p)]);
        let again = dup(incoming("t", "y", QoS::AtLeastOnce, 5));
        h.receive(again.clone());
        assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(5)))], "{v}");
        assert_eq!(h.take_events(), vec![delivered(&again)]);
    }
}

// v5 [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.3.3-11] [MQTT-4.3.3-12] [MQTT-4.1.0-1]
// U5-33; v3.1.1 [MQTT-4.3.3-2] [MQTT-4.1.0-1] [MQTT-3.1.2-4]: a QoS 2 message is
// delivered once, even when the server re-sends it with DUP after a reconnect that resumed
// the session; PUBREL gets PUBCOMP; then the identifier starts a new message.
#[test]
fn incoming_qos2_is_never_delivered_twice_across_a_resumed_session() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(persistent(v));
        h.connect();
        let p = incoming("t", "once", QoS::ExactlyOnce, 7);
        h.receive(p.clone());
        assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))], "{v}");
        assert_eq!(h.take_events(), vec![delivered(&p)]);

        assert!(h.reconnect_events(connack_present()).is_empty());
        assert!(h.sent().is_empty());
        h.receive(dup(p.clone()));
        assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))], "{v}");
        assert!(h.take_events().is_empty(), "{v}: delivered twice");
        h.receive(PubRel::new(id(7)));
        assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(7)))], "{v}");
        let next = incoming("t", "new", QoS::ExactlyOnce, 7);
        h.receive(next.clone());
        assert_eq!(h.take_events(), vec![delivered(&next)]);
        assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))]);
    }
}

// v5 [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.1.0-1]; v3.1.1 [MQTT-4.3.3-2]: with manual
// acknowledgements, a QoS 2 message not yet acknowledged when the connection dropped is
// not delivered again when the server re-sends it; the application's token still
// acknowledges it on the new connection.
#[test]
fn incoming_qos2_awaiting_a_manual_ack_survives_a_reconnect() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = persistent(v);
        o.auto_ack = false;
        let mut h = Harness::new(o);
        h.connect();
        let p = incoming("t", "once", QoS::ExactlyOnce, 7);
        h.receive(p.clone());
        let token = tokens(h.take_events()).remove(0);
        assert!(h.sent().is_empty());

        assert!(h.reconnect_events(connack_present()).is_empty());
        h.receive(dup(p));
        assert!(h.take_events().is_empty(), "{v}: delivered twice");
        assert!(
            h.sent().is_empty(),
            "{v}: not acknowledged by the application yet"
        );
        ack(&mut h, token, ReasonCode::Success);
        assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))], "{v}");
        h.receive(PubRel::new(id(7)));
        assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(7)))], "{v}");
    }
}

// v5 [MQTT-4.3.3-11] §4.13.2 Table B.4 (0x92); v3.1.1 [MQTT-4.3.3-2]: a PUBREL for an
// identifier we hold no state for is still answered with PUBCOMP (0x92 under 5.0).
#[test]
fn pubrel_for_an_unknown_identifier_is_answered_with_pubcomp() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        h.receive(PubRel::new(id(42)));
        let expected = if v.is_v5() {
            PubComp::with_reason(id(42), ReasonCode::PacketIdentifierNotFound)
        } else {
            PubComp::new(id(42))
        };
        assert_eq!(h.sent(), vec![Packet::PubComp(expected)], "{v}");
        assert!(h.take_events().is_empty());
        assert!(h.take_actions().is_empty(), "{v}: not a protocol violation");
    }
}

// v5 [MQTT-4.6.0-2] [MQTT-4.6.0-3]; v3.1.1 [MQTT-4.6.0-2] [MQTT-4.6.0-3]: PUBACKs and
// PUBRECs go out in the order the PUBLISHes arrived, whatever the order of the manual
// acknowledgements.
#[test]
fn acknowledgements_go_out_in_arrival_order_whatever_the_manual_ack_order() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = options(v);
        o.auto_ack = false;
        let mut h = Harness::new(o);
        h.connect();
        h.receive(incoming("t", "1", QoS::AtLeastOnce, 1));
        h.receive(incoming("t", "2", QoS::ExactlyOnce, 2));
        h.receive(incoming("t", "3", QoS::AtLeastOnce, 3));
        h.receive(incoming("t", "4", QoS::ExactlyOnce, 4));
        let [t0, t1, t2, t3] = <[_; 4]>::try_from(tokens(h.take_events())).unwrap();
        for t in [t3, t1, t2] {
            ack(&mut h, t, ReasonCode::Success);
            assert!(h.sent().is_empty(), "{v}: waits for the first arrival");
        }
        ack(&mut h, t0, ReasonCode::Success);
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubAck(PubAck::new(id(1))),
                Packet::PubRec(PubRec::new(id(2))),
                Packet::PubAck(PubAck::new(id(3))),
                Packet::PubRec(PubRec::new(id(4))),
            ],
            "{v}"
        );
        h.receive(PubRel::new(id(4)));
        h.receive(PubRel::new(id(2)));
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubComp(PubComp::new(id(4))),
                Packet::PubComp(PubComp::new(id(2))),
            ]
        );
    }
}

// v5 [MQTT-4.3.3-9] [MQTT-3.4.2-1] [MQTT-3.5.2-1] §4.13.2 U5-43: a manual acknowledgement
// may refuse a message with a reason code >= 0x80; after PUBREC >= 0x80 the identifier
// starts a new message, and a PUBREL for it gets PUBCOMP 0x92. Reason codes the client may
// not send are refused.
#[test]
fn manual_acknowledgements_can_refuse_with_v5_reason_codes() {
    let mut o = options(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(incoming("t", "1", QoS::AtLeastOnce, 1));
    h.receive(incoming("t", "2", QoS::ExactlyOnce, 2));
    let [t0, t1] = <[_; 2]>::try_from(tokens(h.take_events())).unwrap();
    // A reason code the client may not send hands the token back.
    let t0 = match h
        .session
        .acknowledge(h.now, t0, ReasonCode::NoMatchingSubscribers)
    {
        Err(AcknowledgeError {
            error: UsageError::InvalidPacket(_),
            token: Some(token),
        }) => token,
        other => panic!("{other:?}"),
    };
    ack(&mut h, t0, ReasonCode::NotAuthorized);
    ack(&mut h, t1, ReasonCode::UnspecifiedError);
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubAck(PubAck::with_reason(id(1), ReasonCode::NotAuthorized)),
            Packet::PubRec(PubRec::with_reason(id(2), ReasonCode::UnspecifiedError)),
        ]
    );
    // The refused QoS 2 exchange is over: no PUBREL is expected.
    h.receive(PubRel::new(id(2)));
    assert_eq!(
        h.sent(),
        vec![Packet::PubComp(PubComp::with_reason(
            id(2),
            ReasonCode::PacketIdentifierNotFound
        ))]
    );
    // The same identifier again is a new message, delivered.
    let again = incoming("t", "2 again", QoS::ExactlyOnce, 2);
    h.receive(again.clone());
    let events = h.take_events();
    let what = format!("{events:?}");
    let Ok([Event::Message(m)]) = <[_; 1]>::try_from(events) else {
        panic!("{what}")
    };
    assert_eq!(m.publish, again);
    ack(&mut h, m.ack.unwrap(), ReasonCode::Success);
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(2)))]);
    h.receive(PubRel::new(id(2)));
    assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(2)))]);
}

// v3.1.1 [MQTT-4.5.0-2]: 3.1.1 has no way to refuse a message: acknowledging with a
// failure code is a usage error, and the message still gets its plain PUBACK.
#[test]
fn v3_manual_acknowledgements_cannot_carry_reason_codes() {
    for v in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        let mut o = options(v);
        o.auto_ack = false;
        let mut h = Harness::new(o);
        h.connect();
        h.receive(incoming("t", "1", QoS::AtLeastOnce, 1));
        let t = tokens(h.take_events()).remove(0);
        let t = match h
            .session
            .acknowledge(h.now, t, ReasonCode::UnspecifiedError)
        {
            Err(AcknowledgeError {
                error: UsageError::RequiresV5(_),
                token: Some(token),
            }) => token,
            other => panic!("{other:?}"),
        };
        h.drain();
        assert!(h.sent().is_empty());
        ack(&mut h, t, ReasonCode::Success);
        assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(1)))], "{v}");
    }
}

// v5 [MQTT-4.5.0-2] [MQTT-3.3.2-3]; v3.1.1 [MQTT-4.5.0-2] [MQTT-3.3.2-3] and Part E:
// messages matching no subscription of ours are acknowledged like any other.
#[test]
fn unsolicited_messages_are_acknowledged() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        let one = incoming("never/subscribed", "1", QoS::AtLeastOnce, 3);
        let two = incoming("never/subscribed", "2", QoS::ExactlyOnce, 4);
        h.receive(one.clone());
        h.receive(two.clone());
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubAck(PubAck::new(id(3))),
                Packet::PubRec(PubRec::new(id(4))),
            ],
            "{v}"
        );
        assert_eq!(h.take_events(), vec![delivered(&one), delivered(&two)]);
    }
}

// v5 [MQTT-3.3.4-9] §3.1.2.11.3 Table B.5 (0x93): in strict mode, more unacknowledged QoS
// 1/2 PUBLISHes than our Receive Maximum closes the connection with DISCONNECT 0x93; a
// QoS 2 message counts until its PUBCOMP is sent, QoS 0 never counts.
#[test]
fn strict_receive_maximum_disconnects_with_0x93() {
    let mut o = options(ProtocolVersion::V5);
    o.receive_maximum = 2;
    o.strict_receive_maximum = true;
    o.auto_ack = false;
    let mut h = Harness::new(o);
    let connect = h.connect();
    assert_eq!(connect.properties.receive_maximum, NonZeroU16::new(2));
    h.receive(incoming("t", "1", QoS::AtLeastOnce, 1));
    h.receive(incoming("t", "2", QoS::ExactlyOnce, 2));
    h.receive(incoming("t", "qos0", QoS::AtMostOnce, 0));
    assert_eq!(h.take_events().len(), 3);
    h.receive(incoming("t", "3", QoS::AtLeastOnce, 3));
    assert_violation(&mut h, ReasonCode::ReceiveMaximumExceeded, |v| {
        *v == ProtocolViolation::ReceiveMaximumExceeded
    });

    // Automatic acknowledgements: a QoS 2 message is outstanding until PUBREL/PUBCOMP.
    let mut o = options(ProtocolVersion::V5);
    o.receive_maximum = 1;
    o.strict_receive_maximum = true;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(incoming("t", "1", QoS::ExactlyOnce, 1));
    h.receive(PubRel::new(id(1)));
    h.receive(incoming("t", "2", QoS::AtLeastOnce, 2));
    h.receive(incoming("t", "3", QoS::ExactlyOnce, 3));
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubRec(PubRec::new(id(1))),
            Packet::PubComp(PubComp::new(id(1))),
            Packet::PubAck(PubAck::new(id(2))),
            Packet::PubRec(PubRec::new(id(3))),
        ]
    );
    assert_eq!(h.take_events().len(), 3);
    h.receive(incoming("t", "4", QoS::AtLeastOnce, 4));
    assert_violation(&mut h, ReasonCode::ReceiveMaximumExceeded, |v| {
        *v == ProtocolViolation::ReceiveMaximumExceeded
    });
}

// BROKERS.md (mosquitto exceeds a v5 client's Receive Maximum at QoS 2) and
// Options::strict_receive_maximum: by default the excess is processed and acknowledged.
#[test]
fn tolerant_receive_maximum_processes_the_excess() {
    let mut o = options(ProtocolVersion::V5);
    o.receive_maximum = 2;
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    for n in 1..=3 {
        h.receive(incoming("t", "x", QoS::ExactlyOnce, n));
    }
    let t = tokens(h.take_events());
    assert_eq!(t.len(), 3, "the third message is delivered");
    for token in t {
        ack(&mut h, token, ReasonCode::Success);
    }
    assert_eq!(
        h.sent(),
        (1..=3)
            .map(|n| Packet::PubRec(PubRec::new(id(n))))
            .collect::<Vec<_>>()
    );
    assert!(h.take_actions().is_empty());
    assert!(h.session.is_connected());
}

// v5 [MQTT-3.3.4-7] [MQTT-4.9.0-1] [MQTT-4.9.0-2] U5-35: never more unacknowledged QoS
// 1/2 PUBLISHes than the server's Receive Maximum; PUBACK and PUBCOMP each free one unit
// (a QoS 2 message holds its unit until PUBCOMP, not PUBREC); queued messages go in order.
#[test]
fn server_receive_maximum_holds_the_excess_until_acknowledgements_free_quota() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(2);
    connect_with(&mut h, connack);
    let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
    publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "d", QoS::AtLeastOnce));
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), 1)),
            Packet::Publish(with_id(msg("t", "b", QoS::ExactlyOnce), 2)),
        ]
    );
    assert_eq!(h.session.queued(), 2);
    h.receive(PubAck::new(id(1)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "c", QoS::AtLeastOnce), 3))]
    );
    assert_eq!(h.take_events(), vec![completed(a, ReasonCode::Success)]);
    h.receive(PubRec::new(id(2)));
    assert_eq!(
        h.sent(),
        vec![Packet::PubRel(PubRel::new(id(2)))],
        "PUBREC frees no quota"
    );
    h.receive(PubComp::new(id(2)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "d", QoS::AtLeastOnce), 4))]
    );
    assert_eq!(h.take_events(), vec![completed(b, ReasonCode::Success)]);
    assert_eq!(h.session.queued(), 0);
}

// BROKERS.md (mosquitto drops QoS 2 beyond max_inflight_messages 20 under 3.1.1) and
// Options::max_in_flight: a 3.1.x server cannot state a Receive Maximum, so the session
// keeps at most 20 QoS 1/2 messages in flight.
#[test]
fn v3_in_flight_window_defaults_to_20() {
    for v in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        let mut h = Harness::new(options(v));
        h.connect();
        for _ in 0..21 {
            publish(&mut h, msg("t", "x", QoS::ExactlyOnce));
        }
        let sent = h.sent();
        assert_eq!(sent.len(), 20, "{v}");
        assert_eq!(h.session.queued(), 1);
        h.receive(PubRec::new(id(1)));
        h.receive(PubComp::new(id(1)));
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubRel(PubRel::new(id(1))),
                Packet::Publish(with_id(msg("t", "x", QoS::ExactlyOnce), 21)),
            ],
            "{v}"
        );
    }
}

// v5 [MQTT-3.3.4-8] [MQTT-4.9.0-3]: with the send quota at zero, PUBREL, SUBSCRIBE,
// UNSUBSCRIBE, PUBACK, PUBREC, PUBCOMP, PINGREQ and DISCONNECT still go out (and QoS 0
// PUBLISH, which takes no quota, [MQTT-4.9.0-2]); only QoS 1/2 PUBLISH waits.
#[test]
fn a_zero_send_quota_never_holds_back_other_packets() {
    let mut o = options(ProtocolVersion::V5);
    o.keep_alive = 10;
    let mut h = Harness::new(o);
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connect_with(&mut h, connack);
    publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
    publish(&mut h, msg("t", "held", QoS::AtLeastOnce));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "a", QoS::ExactlyOnce), 1))]
    );
    h.receive(PubRec::new(id(1)));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(1)))]);

    let subscription = Subscription::new(TopicFilter::from_static("s"), QoS::AtLeastOnce);
    h.session
        .subscribe(
            h.now,
            vec![subscription.clone()],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.session
        .unsubscribe(
            h.now,
            vec![TopicFilter::from_static("s")],
            Default::default(),
        )
        .unwrap();
    h.drain();
    h.receive(incoming("in", "1", QoS::AtLeastOnce, 9));
    h.receive(incoming("in", "2", QoS::ExactlyOnce, 10));
    h.receive(PubRel::new(id(10)));
    publish(&mut h, msg("t", "qos0", QoS::AtMostOnce));
    assert_eq!(
        h.sent(),
        vec![
            Packet::Subscribe(Subscribe::new(id(2), vec![subscription])),
            Packet::Unsubscribe(Unsubscribe::new(id(3), vec![TopicFilter::from_static("s")])),
            Packet::PubAck(PubAck::new(id(9))),
            Packet::PubRec(PubRec::new(id(10))),
            Packet::PubComp(PubComp::new(id(10))),
            Packet::Publish(msg("t", "qos0", QoS::AtMostOnce)),
        ]
    );
    h.advance(secs(10));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
    h.receive(Packet::PingResp);
    h.session
        .disconnect(h.now, DisconnectOptions::default())
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Disconnect(Disconnect::new(
            ReasonCode::NORMAL_DISCONNECTION
        ))]
    );
}

// v5 [MQTT-3.2.2-15] and Part E: a packet over the server's Maximum Packet Size is an
// error for that operation and is never sent: at the call while connected, or as the
// operation's failure when a queued message turns out too large at connect.
#[test]
fn outgoing_packets_over_the_server_maximum_are_refused_and_never_sent() {
    let payload = "0123456789".repeat(10);
    let big = || {
        Publish::new(TopicName::from_static("t"), payload.clone()).with_qos(QoS::AtLeastOnce, None)
    };
    let size = with_id(big(), 1).encoded_len(ProtocolVersion::V5).unwrap();
    assert!(size > 64);
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.maximum_packet_size = NonZeroU32::new(64);

    let mut h = Harness::new(options(ProtocolVersion::V5));
    connect_with(&mut h, connack.clone());
    assert_eq!(
        h.session.publish(h.now, big()),
        Err(UsageError::PacketTooLarge { size, maximum: 64 })
    );
    let long = TopicFilter::try_from("f".repeat(70).as_str()).unwrap();
    assert!(matches!(
        h.session.subscribe(
            h.now,
            vec![Subscription::new(long, QoS::AtLeastOnce)],
            SubscribeProperties::default()
        ),
        Err(UsageError::PacketTooLarge { maximum: 64, .. })
    ));
    h.drain();
    assert!(h.sent().is_empty());
    assert!(h.take_events().is_empty());
    assert_eq!(h.session.in_flight(), 0);
    publish(&mut h, msg("t", "small", QoS::AtLeastOnce));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(
            msg("t", "small", QoS::AtLeastOnce),
            1
        ))]
    );

    // Queued before the server's limit was known.
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let op = h.session.publish(h.now, big()).unwrap();
    let small = h
        .session
        .publish(h.now, msg("t", "small", QoS::AtLeastOnce))
        .unwrap();
    connect_with(&mut h, connack);
    let sent = h.sent();
    let [Packet::Publish(p)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(p.payload, Bytes::from_static(b"small"));
    assert_eq!(
        h.take_events(),
        vec![failed(
            op,
            OperationError::Rejected(UsageError::PacketTooLarge { size, maximum: 64 })
        )]
    );
    h.receive(PubAck::new(p.packet_id.unwrap()));
    assert_eq!(h.take_events(), vec![completed(small, ReasonCode::Success)]);
}

// v5 [MQTT-3.1.2-24] U5-14 Table B.5: a packet over our Maximum Packet Size is a protocol
// error: DISCONNECT 0x95, and the message is not delivered.
#[test]
fn incoming_packet_over_our_maximum_disconnects_with_0x95() {
    let mut o = options(ProtocolVersion::V5);
    o.maximum_packet_size = Some(64);
    let mut h = Harness::new(o);
    let connect = h.connect();
    assert_eq!(connect.properties.maximum_packet_size, NonZeroU32::new(64));
    let fits = incoming("t", "fits", QoS::AtLeastOnce, 1);
    h.receive(fits.clone());
    assert_eq!(h.take_events(), vec![delivered(&fits)]);
    assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(1)))]);
    let payload = "0123456789".repeat(10);
    h.receive(
        Publish::new(TopicName::from_static("t"), payload).with_qos(QoS::AtLeastOnce, Some(id(2))),
    );
    assert_violation(&mut h, ReasonCode::PacketTooLarge, |v| {
        matches!(
            v,
            ProtocolViolation::Decode(DecodeError::PacketTooLarge { .. })
        )
    });
}

// ----- topic aliases -----

// v5 [MQTT-3.2.2-17] [MQTT-3.3.2-9] [MQTT-3.3.2-8]: outgoing aliases stay within the
// server's Topic Alias Maximum; the first use sends the name with the alias, later uses
// the alias alone; when all are taken the least recently used one is re-bound (with the
// topic name).
#[test]
fn outgoing_topic_aliases_stay_within_the_server_maximum_and_replace_the_lru() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.topic_alias_maximum = Some(2);
    connect_with(&mut h, connack);
    for (topic, qos) in [
        ("a", QoS::AtMostOnce),
        ("a", QoS::AtMostOnce),
        ("b", QoS::AtLeastOnce),
        ("c", QoS::AtMostOnce),
        ("b", QoS::AtMostOnce),
        ("a", QoS::AtMostOnce),
        ("b", QoS::AtMostOnce),
    ] {
        publish(&mut h, msg(topic, "x", qos));
    }
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(aliased(msg("a", "x", QoS::AtMostOnce), 1, true)),
            Packet::Publish(aliased(msg("a", "x", QoS::AtMostOnce), 1, false)),
            Packet::Publish(aliased(
                with_id(msg("b", "x", QoS::AtLeastOnce), 1),
                2,
                true
            )),
            // "a" is the least recently used: "c" takes alias 1.
            Packet::Publish(aliased(msg("c", "x", QoS::AtMostOnce), 1, true)),
            Packet::Publish(aliased(msg("b", "x", QoS::AtMostOnce), 2, false)),
            // "c" is the least recently used now: "a" takes alias 1 back, with its name.
            Packet::Publish(aliased(msg("a", "x", QoS::AtMostOnce), 1, true)),
            Packet::Publish(aliased(msg("b", "x", QoS::AtMostOnce), 2, false)),
        ]
    );
    // The message in flight keeps its topic name for any re-send.
    assert_eq!(
        h.session.state().in_flight[0].publish,
        with_id(msg("b", "x", QoS::AtLeastOnce), 1)
    );
}

// v5 [MQTT-3.2.2-18]: no Topic Alias at all when the server's maximum is absent or 0, or
// when outgoing aliases are turned off.
#[test]
fn no_outgoing_topic_alias_when_the_server_allows_none_or_aliases_are_off() {
    for (maximum, enabled) in [(None, true), (Some(0), true), (Some(5), false)] {
        let mut o = options(ProtocolVersion::V5);
        o.outgoing_topic_aliases = enabled;
        let mut h = Harness::new(o);
        let mut connack = ConnAck::new(ReasonCode::Success);
        connack.properties.topic_alias_maximum = maximum;
        connect_with(&mut h, connack);
        publish(&mut h, msg("a", "x", QoS::AtMostOnce));
        publish(&mut h, msg("a", "x", QoS::AtMostOnce));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(msg("a", "x", QoS::AtMostOnce)),
                Packet::Publish(msg("a", "x", QoS::AtMostOnce)),
            ],
            "{maximum:?} {enabled}"
        );
    }
}

// v5 [MQTT-3.3.2-7] and Part E: alias mappings live for one connection: after a reconnect
// a re-sent PUBLISH carries its topic name, and a topic aliased before is bound again with
// its name; with a new maximum of 0 no alias is used at all.
#[test]
fn outgoing_topic_aliases_start_empty_on_every_connection() {
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.topic_alias_maximum = Some(2);
    connect_with(&mut h, connack);
    let a = publish(&mut h, msg("a", "1", QoS::AtLeastOnce));
    publish(&mut h, msg("b", "2", QoS::AtMostOnce));
    publish(&mut h, msg("b", "3", QoS::AtMostOnce));
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(aliased(
                with_id(msg("a", "1", QoS::AtLeastOnce), 1),
                1,
                true
            )),
            Packet::Publish(aliased(msg("b", "2", QoS::AtMostOnce), 2, true)),
            Packet::Publish(aliased(msg("b", "3", QoS::AtMostOnce), 2, false)),
        ]
    );

    let mut present = connack_present();
    present.properties.topic_alias_maximum = Some(2);
    assert!(h.reconnect_events(present).is_empty());
    publish(&mut h, msg("b", "4", QoS::AtMostOnce));
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(aliased(
                dup(with_id(msg("a", "1", QoS::AtLeastOnce), 1)),
                1,
                true
            )),
            Packet::Publish(aliased(msg("b", "4", QoS::AtMostOnce), 2, true)),
        ]
    );
    h.receive(PubAck::new(id(1)));
    assert_eq!(h.take_events(), vec![completed(a, ReasonCode::Success)]);

    assert!(h.reconnect_events(connack_present()).is_empty());
    publish(&mut h, msg("b", "5", QoS::AtMostOnce));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(msg("b", "5", QoS::AtMostOnce))]
    );
}

/// Checks `sent` as the server would: each PUBLISH fits `maximum`, and an empty topic name
/// uses an alias the server was given earlier on this connection (§3.3.2.3.4, U5-20).
fn check_server_can_resolve(sent: &[Packet], maximum: usize) -> Vec<TopicName> {
    let mut table: Vec<Option<TopicName>> = vec![None; 16];
    let mut topics = Vec::new();
    for p in sent {
        let Packet::Publish(p) = p else { continue };
        let size = p.encoded_len(ProtocolVersion::V5).unwrap();
        assert!(
            size <= maximum,
            "[MQTT-3.2.2-15]: {size} bytes sent, maximum {maximum}"
        );
        let topic = match (p.topic.is_empty(), p.properties.topic_alias) {
            (false, Some(a)) => {
                table[usize::from(a.get())] = Some(p.topic.clone());
                p.topic.clone()
            }
            (false, None) => p.topic.clone(),
            (true, Some(a)) => table[usize::from(a.get())]
                .clone()
                .unwrap_or_else(|| panic!("alias {a} was never bound for the server: {sent:?}")),
            (true, None) => panic!("empty topic without alias"),
        };
        topics.push(topic);
    }
    topics
}

// v5 [MQTT-3.2.2-15] [MQTT-3.3.2-7] U5-20: a PUBLISH that could not be sent (too large)
// must not leave its topic bound to an alias the server never learned: the next message
// on that topic must still carry the topic name.
#[test]
fn an_unsendable_publish_leaves_no_topic_alias_bound() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let big = h
        .session
        .publish(
            h.now,
            Publish::new(TopicName::from_static("t/a"), "0123456789".repeat(10))
                .with_qos(QoS::AtLeastOnce, None),
        )
        .unwrap();
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.topic_alias_maximum = Some(4);
    connack.properties.maximum_packet_size = NonZeroU32::new(64);
    connect_with(&mut h, connack);
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::OperationFailed { id, error: OperationError::Rejected(UsageError::PacketTooLarge { .. }) }] if *id == big
    ));
    publish(&mut h, msg("t/a", "small", QoS::AtLeastOnce));
    let sent = h.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        check_server_can_resolve(&sent, 64),
        vec![TopicName::from_static("t/a")]
    );
}

// v5 [MQTT-3.2.2-15] [MQTT-3.2.2-17]: a Topic Alias is optional; a message that fits the
// server's Maximum Packet Size without one is sent (not silently dropped, not refused)
// even when binding an alias would push it over.
#[test]
fn a_publish_that_fits_without_an_alias_is_sent() {
    let p = || msg("sensors/kitchen", "21.5", QoS::AtMostOnce);
    let size = p().encoded_len(ProtocolVersion::V5).unwrap();
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.topic_alias_maximum = Some(4);
    connack.properties.maximum_packet_size = NonZeroU32::new(size as u32 + 1);
    connect_with(&mut h, connack);
    publish(&mut h, p());
    publish(&mut h, p());
    let sent = h.sent();
    assert_eq!(sent.len(), 2, "a QoS 0 publish was dropped: {sent:?}");
    assert_eq!(
        check_server_can_resolve(&sent, size + 1),
        vec![TopicName::from_static("sensors/kitchen"); 2]
    );
}

// v5 [MQTT-3.3.2-10] [MQTT-3.3.2-11] [MQTT-3.1.2-27] U5-20 Table B.5: incoming aliases
// up to our Topic Alias Maximum are resolved (and re-bound) before the application sees
// the message; an alias above it is DISCONNECT 0x94.
#[test]
fn incoming_topic_aliases_are_resolved_before_delivery() {
    let mut o = options(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o);
    let connect = h.connect();
    assert_eq!(connect.properties.topic_alias_maximum, Some(2));
    let steps = [
        (
            aliased(incoming("x/y", "1", QoS::AtMostOnce, 0), 1, true),
            "x/y",
        ),
        (
            aliased(incoming("x/y", "2", QoS::AtLeastOnce, 1), 1, false),
            "x/y",
        ),
        (
            aliased(incoming("z", "3", QoS::AtMostOnce, 0), 1, true),
            "z",
        ),
        (
            aliased(incoming("q", "4", QoS::ExactlyOnce, 2), 2, true),
            "q",
        ),
        (
            aliased(incoming("z", "5", QoS::AtMostOnce, 0), 1, false),
            "z",
        ),
        (
            aliased(incoming("q", "6", QoS::AtMostOnce, 0), 2, false),
            "q",
        ),
    ];
    for (p, topic) in steps {
        h.receive(p.clone());
        let mut expected = p;
        expected.topic = TopicName::from_static(topic);
        expected.properties.topic_alias = None;
        assert_eq!(h.take_events(), vec![delivered(&expected)]);
    }
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubAck(PubAck::new(id(1))),
            Packet::PubRec(PubRec::new(id(2))),
        ]
    );
    h.receive(aliased(incoming("w", "7", QoS::AtMostOnce, 0), 3, true));
    assert_violation(&mut h, ReasonCode::TopicAliasInvalid, |v| {
        *v == ProtocolViolation::TopicAlias(ReasonCode::TopicAliasInvalid)
    });
    assert!(h.take_events().is_empty());

    // Our maximum is 0 by default: any alias is above it ([MQTT-3.1.2-27]).
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    h.receive(aliased(incoming("w", "1", QoS::AtMostOnce, 0), 1, true));
    assert_violation(&mut h, ReasonCode::TopicAliasInvalid, |v| {
        *v == ProtocolViolation::TopicAlias(ReasonCode::TopicAliasInvalid)
    });
}

// v5 [MQTT-3.3.2-7] U5-20 Table B.5: an alias the server never bound (on this connection:
// the table starts empty after a reconnect) with an empty topic is DISCONNECT 0x82.
#[test]
fn incoming_unknown_alias_is_a_protocol_error_and_aliases_reset_on_reconnect() {
    let mut o = options(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(aliased(incoming("x", "1", QoS::AtMostOnce, 0), 1, true));
    assert_eq!(h.take_events().len(), 1);
    h.receive(aliased(incoming("x", "2", QoS::AtMostOnce, 0), 2, false));
    assert_violation(&mut h, ReasonCode::ProtocolError, |v| {
        *v == ProtocolViolation::TopicAlias(ReasonCode::ProtocolError)
    });

    let mut o = options(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(aliased(incoming("x", "1", QoS::AtMostOnce, 0), 1, true));
    assert_eq!(h.take_events().len(), 1);
    assert!(
        h.reconnect_events(ConnAck::new(ReasonCode::Success))
            .is_empty()
    );
    h.receive(aliased(incoming("x", "2", QoS::AtMostOnce, 0), 1, false));
    assert_violation(&mut h, ReasonCode::ProtocolError, |v| {
        *v == ProtocolViolation::TopicAlias(ReasonCode::ProtocolError)
    });
}

// ----- request / response -----

// v5 U5-39 §4.10 [MQTT-3.3.2-13] [MQTT-3.3.2-14] [MQTT-3.3.2-19]: Response Topic,
// Correlation Data, Content Type, Payload Format Indicator and User Properties pass
// through unchanged both ways.
#[test]
fn request_response_properties_pass_through_both_ways() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let properties = PublishProperties {
        payload_format_indicator: Some(true),
        response_topic: Some(TopicName::from_static("replies/42")),
        correlation_data: Some(Bytes::from_static(b"\x00req-1\xff")),
        content_type: Some(MqttString::from_static("text/plain")),
        user_properties: vec![
            UserProperty::new(MqttString::from_static("k"), MqttString::from_static("1")),
            UserProperty::new(MqttString::from_static("k"), MqttString::from_static("2")),
        ],
        ..PublishProperties::default()
    };
    let request = msg("requests", "ping", QoS::AtLeastOnce).with_properties(properties.clone());
    publish(&mut h, request.clone());
    assert_eq!(h.sent(), vec![Packet::Publish(with_id(request, 1))]);

    let mut reply_properties = properties;
    reply_properties.response_topic = None;
    let reply = incoming("replies/42", "pong", QoS::AtLeastOnce, 8)
        .with_properties(reply_properties.clone());
    h.receive(reply.clone());
    let events = h.take_events();
    let [Event::Message(m)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(m.publish, reply);
    assert_eq!(m.publish.properties, reply_properties.into());
}

// ----- message expiry -----

// v5 §3.3.2.3.3 Table B.3 (0x02): a queued message whose Message Expiry Interval passed
// is never sent and fails with OperationError::Expired (QoS 0: silently dropped); the
// others carry the remaining lifetime. Same for messages held back by the send quota.
#[test]
fn expired_queued_messages_fail_and_the_others_carry_their_remaining_lifetime() {
    let expiring = |topic, qos, seconds: Option<u32>| {
        msg(topic, "x", qos).with_properties(PublishProperties {
            message_expiry_interval: seconds,
            ..PublishProperties::default()
        })
    };
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let a = h
        .session
        .publish(h.now, expiring("a", QoS::AtLeastOnce, Some(10)))
        .unwrap();
    h.session
        .publish(h.now, expiring("b", QoS::AtLeastOnce, Some(100)))
        .unwrap();
    h.session
        .publish(h.now, expiring("c", QoS::AtMostOnce, Some(5)))
        .unwrap();
    h.session
        .publish(h.now, expiring("d", QoS::ExactlyOnce, None))
        .unwrap();
    h.advance(secs(20));
    h.connect();
    assert_eq!(h.take_events(), vec![failed(a, OperationError::Expired)]);
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(with_id(expiring("b", QoS::AtLeastOnce, Some(80)), 1)),
            Packet::Publish(with_id(expiring("d", QoS::ExactlyOnce, None), 2)),
        ]
    );

    // Held back by the server's Receive Maximum while connected.
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connect_with(&mut h, connack);
    publish(&mut h, expiring("e", QoS::AtLeastOnce, None));
    let f = publish(&mut h, expiring("f", QoS::ExactlyOnce, Some(5)));
    publish(&mut h, expiring("g", QoS::AtLeastOnce, Some(60)));
    assert_eq!(h.sent().len(), 1);
    h.advance(secs(10));
    h.receive(PubAck::new(id(1)));
    let events = h.take_events();
    assert_eq!(events[1..], [failed(f, OperationError::Expired)]);
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(
            expiring("g", QoS::AtLeastOnce, Some(50)),
            2
        ))]
    );
}

#[test]
fn a_small_payload_is_copied_next_to_its_header_and_a_large_one_goes_out_uncopied() {
    // Under 512 B a payload is encoded with its packet (no reference count touched); from
    // 512 B on it is its own chunk, the application's `Bytes` itself.
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.connect();
    let small = Bytes::from(vec![1u8; 16]);
    let large = Bytes::from(vec![2u8; 600]);
    h.session
        .publish(
            h.now,
            Publish::new(TopicName::try_from("t").unwrap(), small),
        )
        .unwrap();
    h.session
        .publish(
            h.now,
            Publish::new(TopicName::try_from("t").unwrap(), large.clone()),
        )
        .unwrap();
    let mut chunks = Vec::new();
    while let Some(c) = h.session.poll_transmit() {
        chunks.push(c);
    }
    assert_eq!(chunks.len(), 2, "{chunks:?}");
    // The small PUBLISH (2 + 3 + 16 bytes) and the large one's head (3 + 3 bytes).
    assert_eq!(chunks[0].len(), 21 + 6);
    assert_eq!(&chunks[0][5..21], &[1u8; 16][..]);
    assert_eq!(
        chunks[1].as_ptr(),
        large.as_ptr(),
        "the large payload was copied"
    );
    assert_eq!(chunks[1].len(), 600);
}
