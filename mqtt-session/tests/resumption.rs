//! Scripted conversations for session resumption: re-sending PUBLISH (DUP) and PUBREL
//! when the server kept the session, nothing re-sent otherwise, the session-loss policy
//! when it did not, and `Session::state()` / `Session::restore()`.
//!
//! Every test names the statements it checks, per version: `v5 [MQTT-x]`, `v3.1.1 [MQTT-x]`
//! (see /work/shared/CONFORMANCE.md).

mod common;

use common::{
    Harness, completed, connack_present, dup, msg, options, persistent, publish, secs, with_id,
};
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::{
    AckProperties, ConnAck, Encode, MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp,
    PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode, SubAck, Subscribe,
    SubscribeProperties, Subscription, TopicFilter, TopicName,
};
use mqtt_session::{
    Action, Event, IncomingMessage, OperationError, OperationId, PendingOnSessionLoss, Queued,
    Request, Session, Stage, UsageError,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn incoming(topic: &'static str, qos: QoS, n: u16) -> Publish {
    with_id(msg(topic, "in", qos), n)
}

fn delivered(p: &Publish) -> Event {
    Event::Message(IncomingMessage {
        publish: p.clone(),
        ack: None,
    })
}

fn sub(f: &'static str, qos: QoS) -> Subscription {
    Subscription::new(TopicFilter::from_static(f), qos)
}

fn suback(n: u16, codes: &[ReasonCode]) -> SubAck {
    SubAck {
        packet_id: id(n),
        reason_codes: codes.to_vec(),
        properties: AckProperties::default().into(),
    }
}

/// The connection drops (the session waits to reconnect).
fn drop_connection(h: &mut Harness) {
    h.session.handle_closed(h.now);
    h.drain();
}

/// The packet identifiers of the PUBLISH packets in `sent`, checking each went out as a
/// new message (DUP 0) with an identifier not in `old`.
fn fresh_ids(sent: &[Packet], old: &[u16]) -> Vec<u16> {
    let ids: Vec<u16> = sent
        .iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => {
                assert!(!p.dup, "re-sent as a new message: DUP 0, {p:?}");
                p.packet_id.map(PacketId::get)
            }
            _ => None,
        })
        .collect();
    for (i, n) in ids.iter().enumerate() {
        assert!(!old.contains(n), "identifier {n} is not new");
        assert!(!ids[..i].contains(n), "identifier {n} used twice");
    }
    ids
}

// v5 [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.6.0-4] [MQTT-3.3.1-1] [MQTT-4.3.3-6]
// [MQTT-3.1.2-23]; v3.1.1 [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.6.0-4] [MQTT-3.3.1-1]
// [MQTT-2.3.1-3] [MQTT-3.1.2-4]: when the server resumes the session, unacknowledged
// PUBLISHes go again with DUP 1 and their original identifiers in their original order,
// and PUBRELs in the order of their PUBRECs, before any message published while
// disconnected; every operation then completes once.
#[test]
fn resumed_session_resends_publish_and_pubrel_first_in_original_order() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(persistent(v));
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        let c = publish(&mut h, msg("t", "c", QoS::ExactlyOnce));
        let d = publish(&mut h, msg("t", "d", QoS::AtLeastOnce));
        assert_eq!(h.sent().len(), 4);
        h.receive(PubRec::new(id(3)));
        h.receive(PubRec::new(id(2)));
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubRel(PubRel::new(id(3))),
                Packet::PubRel(PubRel::new(id(2))),
            ]
        );
        drop_connection(&mut h);
        let e = publish(&mut h, msg("t", "e", QoS::AtLeastOnce));
        assert!(h.sent().is_empty());

        let (connect, connected, events) = h.reconnect_connected(connack_present());
        assert!(!connect.clean_start, "{v}");
        assert!(connected.session_present && !connected.session_lost);
        assert!(events.is_empty(), "{events:?}");
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(dup(with_id(msg("t", "a", QoS::AtLeastOnce), 1))),
                Packet::Publish(dup(with_id(msg("t", "d", QoS::AtLeastOnce), 4))),
                Packet::PubRel(PubRel::new(id(3))),
                Packet::PubRel(PubRel::new(id(2))),
                Packet::Publish(with_id(msg("t", "e", QoS::AtLeastOnce), 5)),
            ],
            "{v}"
        );
        h.receive(PubAck::new(id(1)));
        h.receive(PubComp::new(id(3)));
        h.receive(PubComp::new(id(2)));
        h.receive(PubAck::new(id(4)));
        h.receive(PubAck::new(id(5)));
        assert_eq!(
            h.take_events(),
            vec![
                completed(a),
                completed(c),
                completed(b),
                completed(d),
                completed(e)
            ]
        );
    }
}

// v5 [MQTT-4.3.3-6] [MQTT-4.3.3-5] [MQTT-4.4.0-1]; v3.1.1 [MQTT-4.3.3-1] [MQTT-4.4.0-1]:
// once its PUBREL has been sent, a QoS 2 PUBLISH is never sent again: every resumption
// re-sends only the PUBREL, until PUBCOMP; then nothing.
#[test]
fn publish_is_never_sent_again_after_its_pubrel() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(persistent(v));
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
        h.receive(PubRec::new(id(1)));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::ExactlyOnce), 1)),
                Packet::PubRel(PubRel::new(id(1))),
            ]
        );
        for _ in 0..2 {
            let (_, _, events) = h.reconnect_connected(connack_present());
            assert!(events.is_empty());
            assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(1)))], "{v}");
        }
        h.receive(PubComp::new(id(1)));
        assert_eq!(h.take_events(), vec![completed(a)]);
        let (_, _, events) = h.reconnect_connected(connack_present());
        assert!(events.is_empty());
        assert!(h.sent().is_empty(), "{v}");
    }
}

// v5 [MQTT-4.4.0-1]; v3.1.1 U311-20 (our choice: 3.1.1 allows it, we do not): nothing is
// re-sent within a connection, however long the acknowledgement takes.
#[test]
fn nothing_is_resent_within_a_connection() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = options(v);
        o.keep_alive = 10;
        let mut h = Harness::new(o);
        h.connect();
        publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        publish(&mut h, msg("t", "c", QoS::ExactlyOnce));
        h.receive(PubRec::new(id(3)));
        assert_eq!(h.sent().len(), 4);
        for _ in 0..30 {
            h.advance(secs(10));
            assert_eq!(h.sent(), vec![Packet::PingReq], "{v}");
            h.receive(Packet::PingResp);
        }
        assert!(h.take_events().is_empty());
        assert_eq!(h.session.in_flight(), 3);
    }
}

// v5 [MQTT-4.4.0-1] [MQTT-3.1.2-4] [MQTT-3.2.2-2]; v3.1.1 [MQTT-3.1.2-6] [MQTT-4.4.0-1]:
// a session that does not outlive its connection is not resumed: the next CONNECT has
// Clean Start 1, and nothing goes out as a re-delivery (DUP 1); a pending message is sent
// as a new one (policy Resend).
#[test]
fn a_session_that_ends_with_its_connection_is_not_resumed() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(options(v));
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        assert_eq!(h.sent().len(), 1);
        let (connect, connected, events) = h.reconnect_connected(ConnAck::new(ReasonCode::Success));
        assert!(connect.clean_start, "{v}");
        assert!(!connected.session_lost, "{v}: there was no session to lose");
        assert!(events.is_empty());
        let sent = h.sent();
        let ids = fresh_ids(&sent, &[]);
        assert_eq!(
            sent,
            vec![Packet::Publish(with_id(
                msg("t", "a", QoS::AtLeastOnce),
                ids[0]
            ))],
            "{v}"
        );
        h.receive(PubAck::new(id(ids[0])));
        assert_eq!(h.take_events(), vec![completed(a)]);
    }
}

/// Sets up a session holding: A (QoS 1) and B (QoS 2) awaiting acknowledgement, C (QoS 2)
/// awaiting PUBCOMP, an incoming QoS 2 message (id 9) awaiting PUBREL, then drops the
/// connection and publishes Q (QoS 1) while disconnected. Returns the operations.
fn pending_session(h: &mut Harness) -> [OperationId; 4] {
    h.connect();
    let a = publish(h, msg("t", "a", QoS::AtLeastOnce));
    let b = publish(h, msg("t", "b", QoS::ExactlyOnce));
    let c = publish(h, msg("t", "c", QoS::ExactlyOnce));
    h.receive(PubRec::new(id(3)));
    let m = incoming("in", QoS::ExactlyOnce, 9);
    h.receive(m.clone());
    assert_eq!(h.take_events(), vec![delivered(&m)]);
    assert_eq!(h.sent().len(), 5);
    drop_connection(h);
    let q = publish(h, msg("t", "q", QoS::AtLeastOnce));
    [a, b, c, q]
}

// v5 [MQTT-3.2.2-5] [MQTT-3.2.2-3] [MQTT-4.3.2-1] [MQTT-4.3.2-2]; v3.1.1 [MQTT-3.2.2-3]
// U311-12; policy PendingOnSessionLoss::Resend: the server lost the session (Session
// Present 0 when we asked to resume): our session state is discarded; messages not yet
// acknowledged go again as new messages (new identifiers, DUP 0) in their order, a QoS 2
// message the server had acknowledged with PUBREC completes, and the incoming QoS 2
// identifier is free again.
#[test]
fn session_lost_with_policy_resend_sends_pending_messages_as_new() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(persistent(v));
        let [a, b, c, q] = pending_session(&mut h);
        let (connect, connected, events) = h.reconnect_connected(ConnAck::new(ReasonCode::Success));
        assert!(!connect.clean_start);
        assert!(!connected.session_present && connected.session_lost, "{v}");
        assert_eq!(events, vec![completed(c)], "{v}");
        let sent = h.sent();
        let ids = fresh_ids(&sent, &[1, 2, 3]);
        assert_eq!(
            sent,
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), ids[0])),
                Packet::Publish(with_id(msg("t", "b", QoS::ExactlyOnce), ids[1])),
                Packet::Publish(with_id(msg("t", "q", QoS::AtLeastOnce), ids[2])),
            ],
            "{v}"
        );
        let m = incoming("in", QoS::ExactlyOnce, 9);
        h.receive(m.clone());
        assert_eq!(
            h.take_events(),
            vec![delivered(&m)],
            "{v}: a new session, a new message"
        );
        h.receive(PubAck::new(id(ids[0])));
        h.receive(PubRec::new(id(ids[1])));
        h.receive(PubComp::new(id(ids[1])));
        h.receive(PubAck::new(id(ids[2])));
        assert_eq!(
            h.sent(),
            vec![
                Packet::PubRec(PubRec::new(id(9))),
                Packet::PubRel(PubRel::new(id(ids[1]))),
            ]
        );
        assert_eq!(
            h.take_events(),
            vec![completed(a), completed(b), completed(q)]
        );
    }
}

// v5 [MQTT-3.2.2-5]; v3.1.1 [MQTT-3.2.2-3]; policy PendingOnSessionLoss::Fail: messages
// the server may not have got fail with OperationError::SessionLost and are not sent;
// messages never sent (published while disconnected) go out as usual.
#[test]
fn session_lost_with_policy_fail_fails_pending_messages() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = persistent(v);
        o.on_session_loss.pending = PendingOnSessionLoss::Fail;
        let mut h = Harness::new(o);
        let [a, b, c, q] = pending_session(&mut h);
        let (_, connected, events) = h.reconnect_connected(ConnAck::new(ReasonCode::Success));
        assert!(connected.session_lost);
        assert_eq!(
            events,
            vec![
                Event::OperationFailed {
                    id: a,
                    error: OperationError::SessionLost
                },
                Event::OperationFailed {
                    id: b,
                    error: OperationError::SessionLost
                },
                completed(c),
            ],
            "{v}"
        );
        let sent = h.sent();
        let ids = fresh_ids(&sent, &[1, 2, 3]);
        assert_eq!(
            sent,
            vec![Packet::Publish(with_id(
                msg("t", "q", QoS::AtLeastOnce),
                ids[0]
            ))],
            "{v}"
        );
        h.receive(PubAck::new(id(ids[0])));
        assert_eq!(h.take_events(), vec![completed(q)]);
    }
}

/// Subscribes to `a` (No Local and Subscription Identifier 5 under 5.0) and to `b` + `c`
/// (`c` refused), all acknowledged, and leaves a SUBSCRIBE to `d` pending. Returns the
/// pending operation and the subscription to `a`.
fn subscribed_session(h: &mut Harness) -> (OperationId, Subscription) {
    h.connect();
    let v5 = h.version.is_v5();
    let mut a = sub("a", QoS::AtLeastOnce);
    a.options.no_local = v5;
    let props = SubscribeProperties {
        subscription_identifier: v5.then_some(5),
        ..SubscribeProperties::default()
    };
    h.session.subscribe(h.now, vec![a.clone()], props).unwrap();
    h.session
        .subscribe(
            h.now,
            vec![sub("b", QoS::ExactlyOnce), sub("c", QoS::AtMostOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    let d = h
        .session
        .subscribe(
            h.now,
            vec![sub("d", QoS::AtLeastOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    h.drain();
    h.receive(suback(1, &[ReasonCode::GrantedQoS1]));
    h.receive(suback(
        2,
        &[ReasonCode::GrantedQoS2, ReasonCode::UnspecifiedError],
    ));
    assert_eq!(h.sent().len(), 3);
    assert_eq!(h.take_events().len(), 2);
    (d, a)
}

// v5 [MQTT-3.2.2-5] U5-28; v3.1.1 [MQTT-3.2.2-3] [MQTT-3.1.2-6]; policy
// SessionLossPolicy::resubscribe: when the server lost the session, every granted
// subscription is subscribed again (options and Subscription Identifier kept; refused
// ones not), besides the request that was pending; the session's own re-subscriptions
// report nothing.
#[test]
fn session_lost_resubscribes_every_granted_subscription() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(persistent(v));
        let (d, a) = subscribed_session(&mut h);
        let (_, connected, events) = h.reconnect_connected(ConnAck::new(ReasonCode::Success));
        assert!(connected.session_lost && events.is_empty());
        let sent = h.sent();
        let mut expected_a = Subscribe::new(id(4), vec![a.clone()]);
        expected_a.properties.subscription_identifier = v.is_v5().then_some(5);
        assert_eq!(
            sent,
            vec![
                Packet::Subscribe(Subscribe::new(id(3), vec![sub("d", QoS::AtLeastOnce)])),
                Packet::Subscribe(expected_a),
                Packet::Subscribe(Subscribe::new(id(5), vec![sub("b", QoS::ExactlyOnce)])),
            ],
            "{v}"
        );
        h.receive(suback(4, &[ReasonCode::GrantedQoS1]));
        h.receive(suback(5, &[ReasonCode::GrantedQoS2]));
        assert!(
            h.take_events().is_empty(),
            "re-subscriptions report nothing"
        );
        h.receive(suback(3, &[ReasonCode::GrantedQoS1]));
        assert_eq!(
            h.take_events(),
            vec![Event::SubscribeCompleted {
                id: d,
                reason_codes: vec![ReasonCode::GrantedQoS1]
            }]
        );
        let mut filters: Vec<String> = h
            .session
            .state()
            .subscriptions
            .iter()
            .map(|(s, _)| s.filter.as_str().to_owned())
            .collect();
        filters.sort();
        assert_eq!(filters, ["a", "b", "d"]);
    }
}

// v5 [MQTT-4.4.0-1] [MQTT-3.2.2-5]; v3.1.1 [MQTT-4.4.0-1]: with resubscribe off, or
// when the session was resumed, only the pending request goes again.
#[test]
fn no_resubscription_when_turned_off_or_when_the_session_was_resumed() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        for (resubscribe, connack) in [
            (false, ConnAck::new(ReasonCode::Success)),
            (true, connack_present()),
        ] {
            let mut o = persistent(v);
            o.on_session_loss.resubscribe = resubscribe;
            let mut h = Harness::new(o);
            let (d, _) = subscribed_session(&mut h);
            let (_, _, events) = h.reconnect_connected(connack);
            assert!(events.is_empty());
            assert_eq!(
                h.sent(),
                vec![Packet::Subscribe(Subscribe::new(
                    id(3),
                    vec![sub("d", QoS::AtLeastOnce)]
                ))],
                "{v} resubscribe {resubscribe}"
            );
            h.receive(suback(3, &[ReasonCode::GrantedQoS1]));
            assert!(matches!(
                h.take_events().as_slice(),
                [Event::SubscribeCompleted { id, .. }] if *id == d
            ));
        }
    }
}

// v5 [MQTT-3.3.4-7] [MQTT-3.3.4-8] [MQTT-4.9.0-2] [MQTT-4.9.0-3] [MQTT-4.6.0-1] and
// Part E: on resumption the server's Receive Maximum bounds every QoS 1/2 message without
// its final acknowledgement, a QoS 2 message awaiting PUBCOMP included ([MQTT-3.3.4-7]
// counts it until PUBCOMP); its PUBREL is never held back; messages published while
// disconnected wait until PUBCOMP / PUBACK free quota.
#[test]
fn resumed_messages_count_against_the_receive_maximum_and_pubrel_is_never_held_back() {
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    h.connect();
    let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
    h.receive(PubRec::new(id(1)));
    let c = publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    assert_eq!(h.sent().len(), 3);
    drop_connection(&mut h);
    let x = publish(&mut h, msg("t", "x", QoS::AtLeastOnce));
    let y = publish(&mut h, msg("t", "y", QoS::AtLeastOnce));
    let mut present = connack_present();
    present.properties.receive_maximum = NonZeroU16::new(2);
    h.reconnect_connected(present);
    let mut sent = h.sent();
    sent.sort_by_key(|p| matches!(p, Packet::Publish(_)));
    assert_eq!(
        sent,
        vec![
            Packet::PubRel(PubRel::new(id(1))),
            Packet::Publish(dup(with_id(msg("t", "c", QoS::AtLeastOnce), 2))),
        ],
        "B (awaiting PUBCOMP) and C fill the Receive Maximum of 2"
    );
    h.receive(PubComp::new(id(1)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "x", QoS::AtLeastOnce), 3))]
    );
    h.receive(PubAck::new(id(2)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "y", QoS::AtLeastOnce), 4))]
    );
    h.receive(PubAck::new(id(3)));
    h.receive(PubAck::new(id(4)));
    assert_eq!(
        h.take_events(),
        vec![completed(b), completed(c), completed(x), completed(y)]
    );

    // With the Receive Maximum filled by messages awaiting PUBCOMP, only PUBRELs go.
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    h.connect();
    publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
    h.receive(PubRec::new(id(1)));
    publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    assert_eq!(h.sent().len(), 3);
    let mut present = connack_present();
    present.properties.receive_maximum = NonZeroU16::new(1);
    h.reconnect_connected(present);
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(1)))]);
    h.receive(PubComp::new(id(1)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(dup(with_id(
            msg("t", "c", QoS::AtLeastOnce),
            2
        )))]
    );
}

// v5 [MQTT-4.3.3-7]: once a QoS 2 PUBLISH went out, its Message Expiry Interval no longer
// applies to the client: it is re-sent after a long disconnection, not expired.
#[test]
fn a_qos2_message_sent_before_its_expiry_is_resent_after_it() {
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    h.connect();
    let expiring = msg("t", "a", QoS::ExactlyOnce).with_properties(PublishProperties {
        message_expiry_interval: Some(5),
        ..PublishProperties::default()
    });
    let a = publish(&mut h, expiring.clone());
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(expiring.clone(), 1))]
    );
    drop_connection(&mut h);
    // The reconnect timer fires; the transport takes a minute to come up.
    h.fire_timer();
    assert!(matches!(h.take_actions().as_slice(), [Action::Open { .. }]));
    h.now = h.now + secs(60);
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.sent().as_slice(), [Packet::Connect(c)] if !c.clean_start));
    h.receive(connack_present());
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected { .. }, Event::Connected(c)] if c.session_present
        ),
        "{events:?}: not expired"
    );
    assert_eq!(h.sent(), vec![Packet::Publish(dup(with_id(expiring, 1)))]);
    h.receive(PubRec::new(id(1)));
    h.receive(PubComp::new(id(1)));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(id(1)))]);
    assert_eq!(h.take_events(), vec![completed(a)]);
}

// v5 [MQTT-3.2.2-15] and the contract "every QoS 1/2 publish ends in exactly one
// completion or failure": a message in flight that no longer fits the Maximum Packet Size
// the server states on resumption is never sent; its operation fails, the others go on.
#[test]
fn a_resent_publish_that_no_longer_fits_the_server_maximum_fails() {
    let mut h = Harness::new(persistent(ProtocolVersion::V5));
    h.connect();
    let big = Publish::new(TopicName::from_static("t"), "0123456789".repeat(20))
        .with_qos(QoS::AtLeastOnce, None);
    let a = publish(&mut h, big.clone());
    let b = publish(&mut h, msg("t", "b", QoS::AtLeastOnce));
    assert_eq!(h.sent().len(), 2);
    let size = dup(with_id(big, 1))
        .encoded_len(ProtocolVersion::V5)
        .unwrap();
    let mut present = connack_present();
    present.properties.maximum_packet_size = NonZeroU32::new(100);
    let (_, _, events) = h.reconnect_connected(present);
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(dup(with_id(
            msg("t", "b", QoS::AtLeastOnce),
            2
        )))]
    );
    assert_eq!(
        events,
        vec![Event::OperationFailed {
            id: a,
            error: OperationError::Rejected(UsageError::PacketTooLarge { size, maximum: 100 })
        }]
    );
    h.receive(PubAck::new(id(2)));
    assert_eq!(h.take_events(), vec![completed(b)]);
    assert_eq!(h.session.in_flight(), 0);
}

// v5 [MQTT-4.1.0-1] [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.3.3-10] [MQTT-2.2.1-3] U5-33;
// v3.1.1 [MQTT-4.1.0-1] [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-4.3.3-2] [MQTT-2.3.1-3]:
// Session::state() holds the whole session state and Session::restore() continues it in
// a new session (a new process): the first CONNECT resumes, the messages in flight go
// again in order with their original identifiers, the original operations complete, the
// pending SUBSCRIBE and the queued message go, and the incoming QoS 2 identifier awaiting
// PUBREL is kept so the server's re-send is not delivered again.
#[test]
fn state_and_restore_continue_the_session_in_a_new_process() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let o = persistent(v);
        let mut h = Harness::new(o.clone());
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
        let c = publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
        h.receive(PubRec::new(id(2)));
        let s_props = SubscribeProperties {
            subscription_identifier: v.is_v5().then_some(5),
            ..SubscribeProperties::default()
        };
        let s = h
            .session
            .subscribe(h.now, vec![sub("s", QoS::AtLeastOnce)], s_props.clone())
            .unwrap();
        h.session
            .subscribe(
                h.now,
                vec![sub("x", QoS::AtLeastOnce)],
                SubscribeProperties::default(),
            )
            .unwrap();
        h.drain();
        h.receive(suback(5, &[ReasonCode::GrantedQoS1]));
        let m = incoming("in", QoS::ExactlyOnce, 9);
        h.receive(m.clone());
        assert_eq!(h.sent().len(), 7);
        h.take_events();
        drop_connection(&mut h);
        let d = publish(&mut h, msg("t", "d", QoS::AtLeastOnce));
        let queued_at = h.now;

        let state = h.session.state();
        assert_eq!(state.client_id, MqttString::from_static("client"));
        assert!(state.has_session);
        let in_flight: Vec<_> = state
            .in_flight
            .iter()
            .map(|f| (f.operation, f.publish.packet_id, f.stage.clone()))
            .collect();
        assert_eq!(
            in_flight,
            vec![
                (a, Some(id(1)), Stage::AwaitingAck),
                (c, Some(id(3)), Stage::AwaitingAck),
                (b, Some(id(2)), Stage::AwaitingPubComp),
            ]
        );
        assert_eq!(
            state.queued,
            vec![Queued::new(d, msg("t", "d", QoS::AtLeastOnce), queued_at)]
        );
        assert_eq!(state.incoming_qos2, vec![id(9)]);
        let mut pending = Subscribe::new(id(4), vec![sub("s", QoS::AtLeastOnce)]);
        pending.properties = s_props.into();
        assert_eq!(
            state.requests,
            vec![(Some(s), Request::Subscribe(pending.clone()))]
        );
        assert_eq!(
            state.subscriptions,
            vec![(sub("x", QoS::AtLeastOnce), None)]
        );

        // The round trip keeps everything.
        let restored = Session::restore(o.clone(), state.clone());
        let again = restored.state();
        let public = |s: &mqtt_session::SessionState| {
            (
                s.client_id.clone(),
                s.has_session,
                s.next_packet_id,
                s.next_operation,
                s.in_flight
                    .iter()
                    .map(|f| (f.operation, f.publish.clone(), f.stage.clone()))
                    .collect::<Vec<_>>(),
                s.queued.clone(),
                s.incoming_qos2.clone(),
                s.requests.clone(),
                s.subscriptions.clone(),
            )
        };
        assert_eq!(public(&again), public(&state));

        let mut h = Harness::from_session(restored);
        h.now = queued_at;
        let connect = h.open();
        assert!(!connect.clean_start, "{v}: resumes");
        assert_eq!(connect.client_id, MqttString::from_static("client"));
        h.receive(connack_present());
        let events = h.take_events();
        assert!(
            matches!(events.as_slice(), [Event::Connected(c)] if c.session_present && !c.session_lost),
            "{events:?}"
        );
        let sent = h.sent();
        let (subscribes, flows): (Vec<_>, Vec<_>) = sent
            .into_iter()
            .partition(|p| matches!(p, Packet::Subscribe(_)));
        assert_eq!(subscribes, vec![Packet::Subscribe(pending)], "{v}");
        assert_eq!(
            flows,
            vec![
                Packet::Publish(dup(with_id(msg("t", "a", QoS::AtLeastOnce), 1))),
                Packet::Publish(dup(with_id(msg("t", "c", QoS::AtLeastOnce), 3))),
                Packet::PubRel(PubRel::new(id(2))),
                Packet::Publish(with_id(msg("t", "d", QoS::AtLeastOnce), 6)),
            ],
            "{v}"
        );
        h.receive(dup(m));
        assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(9)))], "{v}");
        assert!(h.take_events().is_empty(), "{v}: delivered twice");
        h.receive(PubRel::new(id(9)));
        assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(9)))]);

        h.receive(PubAck::new(id(1)));
        h.receive(PubComp::new(id(2)));
        h.receive(PubAck::new(id(3)));
        h.receive(suback(4, &[ReasonCode::GrantedQoS1]));
        h.receive(PubAck::new(id(6)));
        assert_eq!(
            h.take_events(),
            vec![
                completed(a),
                completed(b),
                completed(c),
                Event::SubscribeCompleted {
                    id: s,
                    reason_codes: vec![ReasonCode::GrantedQoS1]
                },
                completed(d),
            ],
            "{v}"
        );
        let e = publish(&mut h, msg("t", "e", QoS::AtLeastOnce));
        assert_eq!(
            e,
            OperationId(state.next_operation),
            "operation ids continue"
        );
        assert_eq!(
            h.sent(),
            vec![Packet::Publish(with_id(msg("t", "e", QoS::AtLeastOnce), 7))]
        );
    }
}

// MQTT 3.1 §3.1 / §4 (no numbered statements; same rule as v3.1.1 [MQTT-4.4.0-1]
// [MQTT-4.3.3-2] [MQTT-3.1.2-4]): a 3.1 CONNACK has no Session Present flag, so with
// Clean Session 0 the client cannot learn that the session was lost and must resume it:
// re-send unacknowledged PUBLISH (DUP 1, same identifiers) and PUBREL, and keep incoming
// QoS 2 state so the server's re-send is not delivered twice.
#[test]
fn v3_1_resumes_with_clean_session_0_although_connack_has_no_session_present() {
    let mut h = Harness::new(persistent(ProtocolVersion::V3_1));
    h.connect();
    let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    let b = publish(&mut h, msg("t", "b", QoS::ExactlyOnce));
    h.receive(PubRec::new(id(2)));
    let m = incoming("in", QoS::ExactlyOnce, 9);
    h.receive(m.clone());
    assert_eq!(h.sent().len(), 4);
    assert_eq!(h.take_events(), vec![delivered(&m)]);

    let (connect, connected, events) = h.reconnect_connected(ConnAck::new(ReasonCode::Success));
    assert!(!connect.clean_start);
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(dup(with_id(msg("t", "a", QoS::AtLeastOnce), 1))),
            Packet::PubRel(PubRel::new(id(2))),
        ]
    );
    assert!(events.is_empty(), "{events:?}");
    assert!(!connected.session_lost);
    h.receive(dup(m));
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(9)))]);
    assert!(h.take_events().is_empty(), "delivered twice");
    h.receive(PubAck::new(id(1)));
    h.receive(PubComp::new(id(2)));
    assert_eq!(h.take_events(), vec![completed(a), completed(b)]);
}
