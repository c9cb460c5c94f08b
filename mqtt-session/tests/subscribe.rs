//! Scripted conversations for SUBSCRIBE / SUBACK and UNSUBSCRIBE / UNSUBACK: several
//! filters, 5.0 subscription options and identifiers, shared subscriptions, mixed and
//! mismatched acknowledgements, and requests made while disconnected or pending across a
//! reconnect.
//!
//! Every test names the statements it checks, per version: `v5 [MQTT-x]`, `v3.1.1 [MQTT-x]`
//! (see /work/shared/CONFORMANCE.md).

mod common;

use bytes::Bytes;
use common::{Harness, connack_present, options, persistent};
use mqtt_proto::{
    AckProperties, ConnAck, Disconnect, EncodeError, MqttString, Packet, PacketId, ProtocolVersion,
    PubAck, Publish, PublishProperties, QoS, ReasonCode, RetainHandling, SubAck, Subscribe,
    SubscribeProperties, Subscription, SubscriptionOptions, TopicFilter, TopicName, UnsubAck,
    Unsubscribe, UnsubscribeProperties, UserProperty,
};
use mqtt_session::{
    Action, DisconnectOptions, DisconnectReason, Event, IncomingMessage, OperationError,
    OperationId, ProtocolViolation, UsageError,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn filter(s: &'static str) -> TopicFilter {
    TopicFilter::from_static(s)
}

fn sub(f: &'static str, qos: QoS) -> Subscription {
    Subscription::new(filter(f), qos)
}

fn suback(n: u16, codes: &[ReasonCode]) -> SubAck {
    SubAck {
        packet_id: id(n),
        reason_codes: codes.to_vec(),
        properties: AckProperties::default().into(),
    }
}

fn unsuback(n: u16, codes: &[ReasonCode]) -> UnsubAck {
    UnsubAck {
        packet_id: id(n),
        reason_codes: codes.to_vec(),
        properties: AckProperties::default().into(),
    }
}

fn subscribe(h: &mut Harness, subs: Vec<Subscription>, props: SubscribeProperties) -> OperationId {
    let op = h.session.subscribe(h.now, subs, props).unwrap();
    h.drain();
    op
}

fn unsubscribe(h: &mut Harness, filters: Vec<TopicFilter>) -> OperationId {
    let op = h
        .session
        .unsubscribe(h.now, filters, UnsubscribeProperties::default())
        .unwrap();
    h.drain();
    op
}

fn with_identifier(n: u32) -> SubscribeProperties {
    SubscribeProperties {
        subscription_identifier: Some(n),
        ..SubscribeProperties::default()
    }
}

/// A PUBLISH the server sends, carrying Subscription Identifiers `ids`.
fn incoming(topic: &'static str, qos: QoS, n: Option<u16>, ids: Vec<u32>) -> Publish {
    Publish::new(TopicName::from_static(topic), Bytes::from_static(b"m"))
        .with_qos(qos, n.map(id))
        .with_properties(PublishProperties {
            subscription_identifiers: ids,
            ..PublishProperties::default()
        })
}

fn delivered(p: &Publish) -> Event {
    Event::Message(IncomingMessage {
        publish: p.clone(),
        ack: None,
    })
}

/// Connects with `connack`, dropping the Connected event.
fn connect_with(h: &mut Harness, connack: ConnAck) {
    h.connect_with(connack);
    let mut events = h.take_events();
    assert!(matches!(events.remove(0), Event::Connected(_)));
    h.events = events;
}

/// The session closed the connection for a protocol violation matching `what`: under 5.0
/// after DISCONNECT 0x82 (§4.13.1), under 3.1.x by closing alone (v3.1.1 [MQTT-4.8.0-1]).
/// Returns the events that came with it.
fn assert_violation(h: &mut Harness, what: impl Fn(&ProtocolViolation) -> bool) -> Vec<Event> {
    let sent = h.sent();
    if h.version.is_v5() {
        assert_eq!(
            sent,
            vec![Packet::Disconnect(Disconnect::new(
                ReasonCode::ProtocolError
            ))]
        );
    } else {
        assert!(sent.is_empty(), "{sent:?}");
    }
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let events = h.take_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(v),
                ..
            } if what(v)
        )),
        "expected a protocol violation, got {events:?}"
    );
    events
}

/// The events of `events` that end operation `op`.
fn endings(events: &[Event], op: OperationId) -> Vec<Event> {
    events
        .iter()
        .filter(|e| match e {
            Event::SubscribeCompleted { id, .. }
            | Event::UnsubscribeCompleted { id, .. }
            | Event::PublishCompleted { id, .. }
            | Event::OperationFailed { id, .. } => *id == op,
            _ => false,
        })
        .cloned()
        .collect()
}

// v5 [MQTT-2.2.1-3] [MQTT-2.2.1-6] [MQTT-3.8.4-2] [MQTT-3.9.3-1] [MQTT-3.8.3-5] U5-26
// [MQTT-3.3.1-13]: one SUBSCRIBE carries every filter with its options (No Local, Retain
// As Published, Retain Handling), its Subscription Identifier and User Properties, under a
// fresh identifier; the SUBACK's codes, in filter order, complete it. A message forwarded
// under Retain As Published keeps its RETAIN flag and arrives with the identifier.
#[test]
fn subscribe_with_several_filters_and_v5_options() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let subs = vec![
        Subscription {
            filter: filter("a/+"),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: false,
                retain_handling: RetainHandling::SendAtSubscribe,
            },
        },
        Subscription {
            filter: filter("b/#"),
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: false,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        },
        Subscription {
            filter: filter("c"),
            options: SubscriptionOptions {
                qos: QoS::AtMostOnce,
                no_local: false,
                retain_as_published: false,
                retain_handling: RetainHandling::SendIfNew,
            },
        },
    ];
    let props = SubscribeProperties {
        subscription_identifier: Some(7),
        user_properties: vec![UserProperty::new(
            MqttString::from_static("app"),
            MqttString::from_static("demo"),
        )],
    };
    let op = subscribe(&mut h, subs.clone(), props.clone());
    assert_eq!(
        h.sent(),
        vec![Packet::Subscribe(Subscribe {
            packet_id: id(1),
            subscriptions: subs.clone(),
            properties: props.into(),
        })]
    );
    assert!(h.take_events().is_empty());
    let codes = [
        ReasonCode::GrantedQoS1,
        ReasonCode::GrantedQoS2,
        ReasonCode::GRANTED_QOS_0,
    ];
    h.receive(suback(1, &codes));
    assert_eq!(
        h.take_events(),
        vec![Event::SubscribeCompleted {
            id: op,
            reason_codes: codes.to_vec()
        }]
    );
    assert_eq!(
        h.session.state().subscriptions,
        subs.into_iter().map(|s| (s, Some(7))).collect::<Vec<_>>()
    );
    let forwarded = incoming("b/x", QoS::ExactlyOnce, Some(3), vec![7]).with_retain(true);
    h.receive(forwarded.clone());
    assert_eq!(h.take_events(), vec![delivered(&forwarded)]);
}

// v3.1.1 [MQTT-3-8.3-4] [MQTT-3.8.4-5] [MQTT-3.9.3-1] [MQTT-2.3.1-7]: 3.1 / 3.1.1 carry
// only a maximum QoS per filter: 5.0 options and properties are refused at the call
// (nothing sent); plain filters go in one SUBSCRIBE.
#[test]
fn v3_subscribe_refuses_v5_options_and_sends_plain_filters() {
    for v in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        let mut h = Harness::new(options(v));
        h.connect();
        let mut no_local = sub("a", QoS::AtLeastOnce);
        no_local.options.no_local = true;
        assert!(matches!(
            h.session
                .subscribe(h.now, vec![no_local], SubscribeProperties::default()),
            Err(UsageError::InvalidPacket(_))
        ));
        assert!(matches!(
            h.session
                .subscribe(h.now, vec![sub("a", QoS::AtLeastOnce)], with_identifier(3)),
            Err(UsageError::InvalidPacket(_))
        ));
        h.drain();
        assert!(h.sent().is_empty(), "{v}");
        let subs = vec![sub("a", QoS::AtLeastOnce), sub("b/#", QoS::ExactlyOnce)];
        let op = subscribe(&mut h, subs.clone(), SubscribeProperties::default());
        assert_eq!(
            h.sent(),
            vec![Packet::Subscribe(Subscribe::new(id(1), subs))],
            "{v}"
        );
        h.receive(suback(
            1,
            &[ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2],
        ));
        assert_eq!(
            h.take_events(),
            vec![Event::SubscribeCompleted {
                id: op,
                reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2]
            }]
        );
    }
}

// v5 [MQTT-3.3.4-3] [MQTT-3.3.4-4] U5-21 U5-28: messages arrive with the Subscription
// Identifiers of every matching subscription; a server without subscription identifiers
// gets none (refused at the call, nothing sent).
#[test]
fn subscription_identifiers_are_delivered_with_messages() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    subscribe(
        &mut h,
        vec![sub("a/#", QoS::AtLeastOnce)],
        with_identifier(7),
    );
    subscribe(
        &mut h,
        vec![sub("a/b", QoS::AtLeastOnce)],
        with_identifier(9),
    );
    assert_eq!(h.sent().len(), 2);
    h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
    h.receive(suback(2, &[ReasonCode::GrantedQoS1]));
    assert_eq!(h.take_events().len(), 2);
    let both = incoming("a/b", QoS::AtLeastOnce, Some(4), vec![9, 7]);
    let one = incoming("a/c", QoS::AtMostOnce, None, vec![7]);
    h.receive(both.clone());
    h.receive(one.clone());
    assert_eq!(h.take_events(), vec![delivered(&both), delivered(&one)]);
    assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(4)))]);

    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.subscription_identifier_available = Some(false);
    connect_with(&mut h, connack);
    assert_eq!(
        h.session
            .subscribe(h.now, vec![sub("a", QoS::AtLeastOnce)], with_identifier(7)),
        Err(UsageError::SubscriptionIdentifiersNotAvailable)
    );
    h.drain();
    assert!(h.sent().is_empty());
}

// v5 [MQTT-4.8.2-1] [MQTT-4.8.2-2] [MQTT-3.8.3-4] [MQTT-3.10.4-1] U5-38: a shared
// subscription is subscribed and unsubscribed with the full $share/{name}/{filter}; its
// messages arrive on the plain topic; No Local on it is refused; a server without shared
// subscriptions gets none.
#[test]
fn shared_subscriptions() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let mut no_local = sub("$share/g/t/#", QoS::AtLeastOnce);
    no_local.options.no_local = true;
    assert_eq!(
        h.session
            .subscribe(h.now, vec![no_local], SubscribeProperties::default()),
        Err(UsageError::InvalidPacket(
            EncodeError::NoLocalOnSharedSubscription
        ))
    );
    let shared = sub("$share/g/t/#", QoS::AtLeastOnce);
    let op = subscribe(&mut h, vec![shared.clone()], SubscribeProperties::default());
    assert_eq!(
        h.sent(),
        vec![Packet::Subscribe(Subscribe::new(id(1), vec![shared]))]
    );
    h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
    assert_eq!(
        h.take_events(),
        vec![Event::SubscribeCompleted {
            id: op,
            reason_codes: vec![ReasonCode::GrantedQoS1]
        }]
    );
    let m = incoming("t/x", QoS::AtLeastOnce, Some(5), vec![]);
    h.receive(m.clone());
    assert_eq!(h.take_events(), vec![delivered(&m)]);
    assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(5)))]);
    let op = unsubscribe(&mut h, vec![filter("$share/g/t/#")]);
    assert_eq!(
        h.sent(),
        vec![Packet::Unsubscribe(Unsubscribe::new(
            id(2),
            vec![filter("$share/g/t/#")]
        ))]
    );
    h.receive(unsuback(2, &[ReasonCode::Success]));
    assert_eq!(
        h.take_events(),
        vec![Event::UnsubscribeCompleted {
            id: op,
            reason_codes: vec![ReasonCode::Success]
        }]
    );
    assert!(h.session.state().subscriptions.is_empty());

    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.shared_subscription_available = Some(false);
    connect_with(&mut h, connack);
    assert_eq!(
        h.session.subscribe(
            h.now,
            vec![sub("$share/g/t/#", QoS::AtLeastOnce)],
            SubscribeProperties::default()
        ),
        Err(UsageError::SharedSubscriptionsNotAvailable)
    );
    h.drain();
    assert!(h.sent().is_empty());
}

// v5 [MQTT-3.8.4-7] [MQTT-3.9.3-1] [MQTT-3.9.3-2] U5-43; v3.1.1 [MQTT-3.8.4-5]
// [MQTT-3.9.3-1] [MQTT-3.9.3-2]: a SUBACK mixing granted QoS and failures completes the
// operation once with every code in order; only granted filters become subscriptions; the
// connection goes on.
#[test]
fn suback_with_mixed_codes_completes_once_with_all_codes() {
    let cases: [(ProtocolVersion, &[ReasonCode]); 2] = [
        (
            ProtocolVersion::V5,
            &[
                ReasonCode::GrantedQoS1,
                ReasonCode::NotAuthorized,
                ReasonCode::GRANTED_QOS_0,
                ReasonCode::TopicFilterInvalid,
            ],
        ),
        (
            ProtocolVersion::V3_1_1,
            &[
                ReasonCode::GrantedQoS1,
                ReasonCode::UnspecifiedError,
                ReasonCode::GRANTED_QOS_0,
                ReasonCode::UnspecifiedError,
            ],
        ),
    ];
    for (v, codes) in cases {
        let mut h = Harness::new(options(v));
        h.connect();
        let subs = vec![
            sub("a", QoS::AtLeastOnce),
            sub("secret", QoS::ExactlyOnce),
            sub("c", QoS::AtMostOnce),
            sub("d", QoS::AtLeastOnce),
        ];
        let op = subscribe(&mut h, subs, SubscribeProperties::default());
        assert_eq!(h.sent().len(), 1);
        h.receive(suback(1, codes));
        assert_eq!(
            h.take_events(),
            vec![Event::SubscribeCompleted {
                id: op,
                reason_codes: codes.to_vec()
            }],
            "{v}"
        );
        assert!(h.take_actions().is_empty(), "{v}: not a connection error");
        assert_eq!(
            h.session.state().subscriptions,
            vec![
                (sub("a", QoS::AtLeastOnce), None),
                (sub("c", QoS::AtMostOnce), None)
            ]
        );
    }
}

// v5 [MQTT-3.8.4-6] [MQTT-3.11.3-1] §4.13.1; v3.1.1 [MQTT-3.8.4-5] [MQTT-4.8.0-1]: a
// SUBACK (or a 5.0 UNSUBACK) with a different number of codes than filters is a protocol
// violation; the operation still ends in exactly one completion or failure event (here
// when the session is closed afterwards).
#[test]
fn ack_with_the_wrong_number_of_codes_is_a_protocol_violation() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(options(v));
        h.connect();
        let op = subscribe(
            &mut h,
            vec![sub("a", QoS::AtLeastOnce), sub("b", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        );
        assert_eq!(h.sent().len(), 1);
        h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
        let mut events = assert_violation(&mut h, |p| *p == ProtocolViolation::ReasonCodeCount);
        h.session
            .disconnect(h.now, DisconnectOptions::default())
            .unwrap();
        h.drain();
        events.extend(h.take_events());
        let ends = endings(&events, op);
        assert_eq!(ends.len(), 1, "{v}: {events:?}");
        assert!(
            !matches!(ends[0], Event::SubscribeCompleted { .. }),
            "{v}: {events:?}"
        );
    }

    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let op = unsubscribe(&mut h, vec![filter("a"), filter("b")]);
    assert_eq!(h.sent().len(), 1);
    h.receive(unsuback(1, &[ReasonCode::Success]));
    let mut events = assert_violation(&mut h, |p| *p == ProtocolViolation::ReasonCodeCount);
    h.session
        .disconnect(h.now, DisconnectOptions::default())
        .unwrap();
    h.drain();
    events.extend(h.take_events());
    assert_eq!(endings(&events, op).len(), 1, "{events:?}");
}

// v5 [MQTT-2.2.1-6] [MQTT-3.8.4-2] [MQTT-3.10.4-5]; v3.1.1 [MQTT-2.3.1-7] [MQTT-3.8.4-2]
// [MQTT-3.10.4-4] [MQTT-4.8.0-1]: SUBACK and UNSUBACK are matched by identifier and type:
// one answering the other kind of request, a PUBLISH, or nothing at all is a protocol
// violation.
#[test]
fn suback_and_unsuback_are_matched_by_identifier_and_type() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let codes: &[ReasonCode] = if v.is_v5() {
            &[ReasonCode::Success]
        } else {
            &[]
        };
        let cases: Vec<(&str, Packet)> = vec![
            (
                "SUBACK for UNSUBSCRIBE",
                suback(2, &[ReasonCode::GrantedQoS1]).into(),
            ),
            ("UNSUBACK for SUBSCRIBE", unsuback(1, codes).into()),
            (
                "SUBACK for PUBLISH",
                suback(3, &[ReasonCode::GrantedQoS1]).into(),
            ),
            ("UNSUBACK for nothing", unsuback(9, codes).into()),
        ];
        for (what, ack) in cases {
            let mut h = Harness::new(options(v));
            h.connect();
            subscribe(
                &mut h,
                vec![sub("a", QoS::AtLeastOnce)],
                SubscribeProperties::default(),
            );
            unsubscribe(&mut h, vec![filter("b")]);
            h.session
                .publish(
                    h.now,
                    Publish::new(TopicName::from_static("p"), "x").with_qos(QoS::AtLeastOnce, None),
                )
                .unwrap();
            h.drain();
            assert_eq!(h.sent().len(), 3);
            h.receive(ack);
            let events = assert_violation(&mut h, |p| {
                matches!(p, ProtocolViolation::UnknownPacketId(_))
            });
            assert!(
                !events.iter().any(|e| matches!(
                    e,
                    Event::SubscribeCompleted { .. } | Event::UnsubscribeCompleted { .. }
                )),
                "{v} {what}: {events:?}"
            );
        }
    }
}

// v5 [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.11.3-1] U5-43; v3.1.1 [MQTT-3.10.4-4]
// [MQTT-3.10.4-5] U311-16: UNSUBSCRIBE names the filters exactly; the 5.0 UNSUBACK's codes
// complete it (a failure leaves that subscription in place); a 3.1 / 3.1.1 UNSUBACK has
// no codes and means Success for every filter.
#[test]
fn unsubscribe_completes_with_a_code_per_filter() {
    for v in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let mut h = Harness::new(options(v));
        h.connect();
        subscribe(
            &mut h,
            vec![sub("a", QoS::AtLeastOnce), sub("b", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        );
        h.receive(suback(
            1,
            &[ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS1],
        ));
        h.take_events();
        let filters = vec![filter("a"), filter("b"), filter("never")];
        let op = unsubscribe(&mut h, filters.clone());
        assert_eq!(
            h.sent(),
            vec![
                Packet::Subscribe(Subscribe::new(
                    id(1),
                    vec![sub("a", QoS::AtLeastOnce), sub("b", QoS::AtLeastOnce)]
                )),
                Packet::Unsubscribe(Unsubscribe::new(id(2), filters)),
            ],
            "{v}"
        );
        // 3.1 / 3.1.1 UNSUBACK has no codes.
        let (ack_codes, expected) = if v.is_v5() {
            let codes = vec![
                ReasonCode::Success,
                ReasonCode::NotAuthorized,
                ReasonCode::NoSubscriptionExisted,
            ];
            (codes.clone(), codes)
        } else {
            (vec![], vec![ReasonCode::Success; 3])
        };
        h.receive(unsuback(2, &ack_codes));
        assert_eq!(
            h.take_events(),
            vec![Event::UnsubscribeCompleted {
                id: op,
                reason_codes: expected
            }],
            "{v}"
        );
        let left: Vec<_> = h
            .session
            .state()
            .subscriptions
            .into_iter()
            .map(|(s, _)| s.filter)
            .collect();
        if v.is_v5() {
            assert_eq!(left, vec![filter("b")], "refused for b");
        } else {
            assert!(left.is_empty(), "{v}: {left:?}");
        }
    }
}

// v5 [MQTT-3.1.0-1] U5-16; v3.1.1 [MQTT-3.1.0-1] U311-09: SUBSCRIBE and
// UNSUBSCRIBE made while disconnected wait for the connection and go out after CONNACK,
// in call order, each completing once.
#[test]
fn requests_made_while_disconnected_are_sent_after_connack() {
    for v in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let mut h = Harness::new(options(v));
        let s = subscribe(
            &mut h,
            vec![sub("a", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        );
        let u = unsubscribe(&mut h, vec![filter("old")]);
        // `open` checks that CONNECT is the only packet before CONNACK.
        h.open();
        assert!(h.sent().is_empty());
        h.receive(ConnAck::new(ReasonCode::Success));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Subscribe(Subscribe::new(id(1), vec![sub("a", QoS::AtLeastOnce)])),
                Packet::Unsubscribe(Unsubscribe::new(id(2), vec![filter("old")])),
            ],
            "{v}"
        );
        h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
        let codes = if v.is_v5() {
            vec![ReasonCode::NoSubscriptionExisted]
        } else {
            vec![]
        };
        h.receive(unsuback(2, &codes));
        let events: Vec<_> = h
            .take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::Connected(_)))
            .collect();
        assert_eq!(
            events,
            vec![
                Event::SubscribeCompleted {
                    id: s,
                    reason_codes: vec![ReasonCode::GrantedQoS1]
                },
                Event::UnsubscribeCompleted {
                    id: u,
                    reason_codes: if v.is_v5() {
                        codes
                    } else {
                        vec![ReasonCode::Success]
                    }
                },
            ],
            "{v}"
        );
    }
}

// v5 [MQTT-2.2.1-3] [MQTT-3.8.4-1]; v3.1.1 [MQTT-2.3.1-3] [MQTT-3.8.4-1]: a SUBSCRIBE or
// UNSUBSCRIBE whose acknowledgement was lost with the connection is sent again on the next
// one (keeping its identifier, which stays in use), whether or not the session was resumed;
// it completes once.
#[test]
fn pending_requests_are_sent_again_after_a_reconnect() {
    let cases = [
        (persistent(ProtocolVersion::V5), true),
        (options(ProtocolVersion::V5), false),
        (persistent(ProtocolVersion::V3_1_1), true),
        (options(ProtocolVersion::V3_1_1), false),
    ];
    for (o, present) in cases {
        let v = o.protocol_version;
        let mut h = Harness::new(o);
        h.connect();
        let s = subscribe(
            &mut h,
            vec![sub("a", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        );
        let u = unsubscribe(&mut h, vec![filter("z")]);
        let expected = vec![
            Packet::Subscribe(Subscribe::new(id(1), vec![sub("a", QoS::AtLeastOnce)])),
            Packet::Unsubscribe(Unsubscribe::new(id(2), vec![filter("z")])),
        ];
        assert_eq!(h.sent(), expected);
        let connack = if present {
            connack_present()
        } else {
            ConnAck::new(ReasonCode::Success)
        };
        assert!(h.reconnect_events(connack).is_empty());
        assert_eq!(h.sent(), expected, "{v} session present {present}");
        h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
        let codes = if v.is_v5() {
            vec![ReasonCode::Success]
        } else {
            vec![]
        };
        h.receive(unsuback(2, &codes));
        assert_eq!(
            h.take_events(),
            vec![
                Event::SubscribeCompleted {
                    id: s,
                    reason_codes: vec![ReasonCode::GrantedQoS1]
                },
                Event::UnsubscribeCompleted {
                    id: u,
                    reason_codes: vec![ReasonCode::Success]
                },
            ]
        );
        let connack = if present {
            connack_present()
        } else {
            ConnAck::new(ReasonCode::Success)
        };
        assert!(h.reconnect_events(connack).is_empty());
        let sent = h.sent();
        if present {
            assert!(sent.is_empty(), "{v}: completed requests are not re-sent");
        } else {
            // A clean session starts empty on the server: the granted subscription is
            // made again (SessionLossPolicy::resubscribe), under a new identifier, and
            // reported to nobody.
            assert!(
                matches!(sent.as_slice(), [Packet::Subscribe(s)] if s.subscriptions == vec![sub("a", QoS::AtLeastOnce)]),
                "{v}: {sent:?}"
            );
            let Packet::Subscribe(again) = &sent[0] else {
                unreachable!()
            };
            h.receive(suback(again.packet_id.get(), &[ReasonCode::GrantedQoS1]));
            assert!(h.take_events().is_empty(), "{v}");
        }
    }
}

// v5 §3.2.2.3.11 / §3.2.2.3.12 (a server without wildcard subscriptions or subscription
// identifiers treats them as a Protocol Error, DISCONNECT 0xA2 / 0xA1) and Table B.3: a
// SUBSCRIBE made while disconnected is checked against the server's capabilities once
// CONNACK states them, like one made while connected; it fails instead of being sent (and
// sent again after every disconnect).
#[test]
fn requests_made_offline_are_checked_against_the_server_capabilities() {
    let cases = [
        (
            sub("a/+", QoS::AtLeastOnce),
            SubscribeProperties::default(),
            UsageError::WildcardSubscriptionsNotAvailable,
        ),
        (
            sub("a", QoS::AtLeastOnce),
            with_identifier(4),
            UsageError::SubscriptionIdentifiersNotAvailable,
        ),
        (
            sub("$share/g/a", QoS::AtLeastOnce),
            SubscribeProperties::default(),
            UsageError::SharedSubscriptionsNotAvailable,
        ),
    ];
    for (subscription, props, error) in cases {
        let mut h = Harness::new(options(ProtocolVersion::V5));
        let op = subscribe(&mut h, vec![subscription], props);
        let mut connack = ConnAck::new(ReasonCode::Success);
        connack.properties.wildcard_subscription_available = Some(false);
        connack.properties.subscription_identifier_available = Some(false);
        connack.properties.shared_subscription_available = Some(false);
        connect_with(&mut h, connack);
        assert!(h.sent().is_empty(), "{error:?}");
        assert_eq!(
            h.take_events(),
            vec![Event::OperationFailed {
                id: op,
                error: OperationError::Rejected(error)
            }]
        );
    }
}
