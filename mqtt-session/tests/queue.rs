//! Scripted conversations for the outgoing queue: messages published before the first
//! connection or while disconnected, the queue's bounds and overflow policies, the
//! server's limits applied to queued messages, and the contract that every QoS 1/2
//! operation ends in exactly one completion or failure event.
//!
//! Every test names the statements it checks, per version: `v5 [MQTT-x]`, `v3.1.1 [MQTT-x]`
//! (see /work/shared/CONFORMANCE.md).

mod common;

use bytes::Bytes;
use common::{ALL, Harness, completed, msg, options, publish, secs, with_id};
use core::num::NonZeroU16;
use mqtt_proto::{
    AckProperties, ConnAck, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, PublishProperties, QoS, ReasonCode, SubAck, SubscribeProperties, Subscription,
    TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{
    DisconnectOptions, DisconnectReason, Event, OperationError, OperationId, Options, QueueLimits,
    QueueOverflow, UsageError,
};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn failed(id: OperationId, error: OperationError) -> Event {
    Event::OperationFailed { id, error }
}

fn limited(max_messages: usize, max_bytes: usize, overflow: QueueOverflow) -> Options {
    let mut o = options(ProtocolVersion::V5);
    o.queue = QueueLimits {
        max_messages,
        max_bytes,
        overflow,
        ..QueueLimits::default()
    };
    o
}

/// Connects with `connack`, dropping the Connected event.
fn connect_with(h: &mut Harness, connack: ConnAck) {
    h.connect_with(connack);
    let mut events = h.take_events();
    assert!(matches!(events.remove(0), Event::Connected(_)));
    h.events = events;
}

/// The events of `events` that end operation `op`.
fn endings(events: &[Event], op: OperationId) -> Vec<&Event> {
    events
        .iter()
        .filter(|e| match e {
            Event::SubscribeCompleted { id, .. }
            | Event::UnsubscribeCompleted { id, .. }
            | Event::PublishCompleted { id, .. }
            | Event::OperationFailed { id, .. } => *id == op,
            _ => false,
        })
        .collect()
}

// v5 [MQTT-3.1.0-1] U5-16 [MQTT-4.3.2-1] [MQTT-4.3.3-1] [MQTT-4.3.1-1]; v3.1.1
// [MQTT-3.1.0-1] U311-09 [MQTT-4.3.2-1] [MQTT-4.3.3-1]: messages published before the
// first connection wait in the queue (CONNECT is the only packet before CONNACK) and go
// out after CONNACK in the order they were published, QoS 1/2 with fresh identifiers.
#[test]
fn messages_published_before_connecting_go_out_in_order_after_connack() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        let ops = [
            publish(&mut h, msg("t", "1", QoS::AtMostOnce)),
            publish(&mut h, msg("t", "2", QoS::AtLeastOnce)),
            publish(&mut h, msg("t", "3", QoS::ExactlyOnce)),
            publish(&mut h, msg("t", "4", QoS::AtMostOnce)),
            publish(&mut h, msg("t", "5", QoS::AtLeastOnce)),
        ];
        assert_eq!(h.session.queued(), 5);
        assert!(h.take_events().is_empty());
        // `open` checks that CONNECT is the only packet before CONNACK.
        h.open();
        assert!(h.sent().is_empty());
        h.receive(ConnAck::new(ReasonCode::Success));
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(msg("t", "1", QoS::AtMostOnce)),
                Packet::Publish(with_id(msg("t", "2", QoS::AtLeastOnce), 1)),
                Packet::Publish(with_id(msg("t", "3", QoS::ExactlyOnce), 2)),
                Packet::Publish(msg("t", "4", QoS::AtMostOnce)),
                Packet::Publish(with_id(msg("t", "5", QoS::AtLeastOnce), 3)),
            ],
            "{v}"
        );
        assert_eq!(h.session.queued(), 0);
        h.receive(PubAck::new(id(3)));
        h.receive(PubRec::new(id(2)));
        h.receive(PubComp::new(id(2)));
        h.receive(PubAck::new(id(1)));
        let events: Vec<_> = h
            .take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::Connected(_)))
            .collect();
        assert_eq!(
            events,
            vec![completed(ops[4]), completed(ops[2]), completed(ops[1])]
        );
    }
}

// v5 [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-3.1.2-4]; v3.1.1 [MQTT-4.3.2-1] [MQTT-3.1.2-6]:
// while disconnected nothing is written; messages published meanwhile go out after the
// next CONNACK, in order, after the message that was in flight (a session that ended
// with its connection sends it again as a new message).
#[test]
fn messages_published_while_disconnected_go_out_in_order_after_reconnecting() {
    for v in ALL {
        let mut h = Harness::new(options(v));
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
        assert_eq!(h.sent().len(), 1);
        h.session.handle_closed(h.now);
        h.drain();
        publish(&mut h, msg("t", "b", QoS::AtMostOnce));
        let c = publish(&mut h, msg("t", "c", QoS::ExactlyOnce));
        assert!(h.sent().is_empty(), "{v}");
        assert_eq!(h.session.queued(), 2);
        h.reconnect(ConnAck::new(ReasonCode::Success));
        let sent = h.sent();
        let [
            Packet::Publish(pa),
            Packet::Publish(pb),
            Packet::Publish(pc),
        ] = sent.as_slice()
        else {
            panic!("{v}: {sent:?}")
        };
        let (ida, idc) = (pa.packet_id.unwrap(), pc.packet_id.unwrap());
        assert_ne!(ida, idc);
        assert_eq!(
            sent,
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), ida.get())),
                Packet::Publish(msg("t", "b", QoS::AtMostOnce)),
                Packet::Publish(with_id(msg("t", "c", QoS::ExactlyOnce), idc.get())),
            ],
            "{v}"
        );
        assert_eq!(pb.qos, QoS::AtMostOnce);
        h.receive(PubAck::new(ida));
        h.receive(PubRec::new(idc));
        h.receive(PubComp::new(idc));
        let events: Vec<_> = h
            .take_events()
            .into_iter()
            .filter(|e| !matches!(e, Event::Connected(_) | Event::Disconnected { .. }))
            .collect();
        assert_eq!(events, vec![completed(a), completed(c)], "{v}");
    }
}

// QueueLimits::max_messages with QueueOverflow::RejectNew: publish returns
// UsageError::QueueFull and nothing is dropped; messages sent at once (connected, quota
// free) never count.
#[test]
fn a_full_queue_rejects_new_messages_by_count() {
    let mut h = Harness::new(limited(2, 1 << 20, QueueOverflow::RejectNew));
    publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "b", QoS::AtMostOnce));
    assert_eq!(
        h.session.publish(h.now, msg("t", "c", QoS::AtLeastOnce)),
        Err(UsageError::QueueFull)
    );
    assert_eq!(
        h.session.publish(h.now, msg("t", "d", QoS::AtMostOnce)),
        Err(UsageError::QueueFull)
    );
    h.drain();
    assert!(h.take_events().is_empty());
    assert_eq!(h.session.queued(), 2);
    h.connect();
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), 1)),
            Packet::Publish(msg("t", "b", QoS::AtMostOnce)),
        ]
    );
    for n in 0..3 {
        publish(&mut h, msg("t", "e", QoS::AtLeastOnce));
        assert_eq!(h.sent().len(), 1, "message {n} was sent, not queued");
    }
}

// QueueLimits::max_bytes with QueueOverflow::RejectNew: payload bytes are bounded; a
// message that still fits is accepted.
#[test]
fn a_full_queue_rejects_new_messages_by_bytes() {
    let mut h = Harness::new(limited(100, 10, QueueOverflow::RejectNew));
    publish(&mut h, msg("t", "aaaa", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "bbbb", QoS::ExactlyOnce));
    assert_eq!(
        h.session.publish(h.now, msg("t", "cccc", QoS::AtLeastOnce)),
        Err(UsageError::QueueFull)
    );
    publish(&mut h, msg("t", "dd", QoS::AtMostOnce));
    assert!(h.take_events().is_empty());
    h.connect();
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(with_id(msg("t", "aaaa", QoS::AtLeastOnce), 1)),
            Packet::Publish(with_id(msg("t", "bbbb", QoS::ExactlyOnce), 2)),
            Packet::Publish(msg("t", "dd", QoS::AtMostOnce)),
        ]
    );
}

// QueueLimits with QueueOverflow::DropOldest: the oldest queued message makes room; a
// dropped QoS 1/2 message fails with OperationError::Dropped (a QoS 0 one has no event);
// the rest go out in order.
#[test]
fn drop_oldest_fails_the_dropped_messages() {
    let mut h = Harness::new(limited(2, 1 << 20, QueueOverflow::DropOldest));
    let a = publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "b", QoS::AtMostOnce));
    let c = publish(&mut h, msg("t", "c", QoS::ExactlyOnce));
    assert_eq!(h.take_events(), vec![failed(a, OperationError::Dropped)]);
    let d = publish(&mut h, msg("t", "d", QoS::AtLeastOnce));
    assert!(h.take_events().is_empty(), "QoS 0 is dropped silently");
    assert_eq!(h.session.queued(), 2);
    h.connect();
    assert_eq!(
        h.sent(),
        vec![
            Packet::Publish(with_id(msg("t", "c", QoS::ExactlyOnce), 1)),
            Packet::Publish(with_id(msg("t", "d", QoS::AtLeastOnce), 2)),
        ]
    );
    h.receive(PubRec::new(id(1)));
    h.receive(PubComp::new(id(1)));
    h.receive(PubAck::new(id(2)));
    assert_eq!(h.take_events(), vec![completed(c), completed(d)]);

    // By bytes: as many of the oldest as needed.
    let mut h = Harness::new(limited(100, 8, QueueOverflow::DropOldest));
    let a = publish(&mut h, msg("t", "aaaa", QoS::ExactlyOnce));
    let b = publish(&mut h, msg("t", "bbbb", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "cccccc", QoS::AtLeastOnce));
    assert_eq!(
        h.take_events(),
        vec![
            failed(a, OperationError::Dropped),
            failed(b, OperationError::Dropped)
        ]
    );
    h.connect();
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(
            msg("t", "cccccc", QoS::AtLeastOnce),
            1
        ))]
    );
}

// QueueLimits: a message that can never fit the byte limit is refused with
// UsageError::QueueFull, and refusing it drops nothing: with DropOldest emptying the
// queue would lose every queued message for a message that is refused anyway.
#[test]
fn a_message_larger_than_the_byte_limit_is_refused_without_dropping_others() {
    for overflow in [QueueOverflow::RejectNew, QueueOverflow::DropOldest] {
        let mut h = Harness::new(limited(100, 10, overflow));
        publish(&mut h, msg("t", "aaaa", QoS::AtLeastOnce));
        publish(&mut h, msg("t", "bbbb", QoS::AtLeastOnce));
        assert_eq!(
            h.session
                .publish(h.now, msg("t", "0123456789ABCDEF", QoS::AtLeastOnce)),
            Err(UsageError::QueueFull),
            "{overflow:?}"
        );
        h.drain();
        assert!(h.take_events().is_empty(), "{overflow:?}: nothing dropped");
        assert_eq!(h.session.queued(), 2, "{overflow:?}");
        h.connect();
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "aaaa", QoS::AtLeastOnce), 1)),
                Packet::Publish(with_id(msg("t", "bbbb", QoS::AtLeastOnce), 2)),
            ]
        );
    }
}

// v5 [MQTT-3.3.4-7] and QueueLimits: the same bounds hold for messages waiting for the
// server's Receive Maximum while connected.
#[test]
fn queue_limits_apply_while_the_send_quota_is_used_up() {
    let mut h = Harness::new(limited(1, 1 << 20, QueueOverflow::RejectNew));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(1);
    connect_with(&mut h, connack);
    publish(&mut h, msg("t", "a", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "b", QoS::AtLeastOnce));
    assert_eq!(
        h.session.publish(h.now, msg("t", "c", QoS::AtLeastOnce)),
        Err(UsageError::QueueFull)
    );
    h.drain();
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "a", QoS::AtLeastOnce), 1))]
    );
    h.receive(PubAck::new(id(1)));
    assert_eq!(
        h.sent(),
        vec![Packet::Publish(with_id(msg("t", "b", QoS::AtLeastOnce), 2))]
    );
    publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    assert_eq!(h.session.queued(), 1);
}

// v5 [MQTT-3.2.2-11] [MQTT-3.2.2-14] [MQTT-3.2.2-15]: a message queued before CONNACK
// stated the server's limits is checked against them when it goes: above Maximum QoS or
// with RETAIN when retain is unavailable it is never sent, and fails with
// OperationError::Rejected (as the same call would be refused while connected).
#[test]
fn queued_messages_are_checked_against_the_server_limits_when_they_go() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let a = publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
    let b = publish(&mut h, msg("t", "b", QoS::AtLeastOnce).with_retain(true));
    let c = publish(&mut h, msg("t", "c", QoS::AtLeastOnce));
    publish(&mut h, msg("t", "d", QoS::AtMostOnce).with_retain(true));
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.maximum_qos = Some(QoS::AtLeastOnce);
    connack.properties.retain_available = Some(false);
    connect_with(&mut h, connack);
    let sent = h.sent();
    for p in &sent {
        if let Packet::Publish(p) = p {
            assert!(
                p.qos <= QoS::AtLeastOnce && !p.retain,
                "[MQTT-3.2.2-11] / [MQTT-3.2.2-14] broken by {p:?}"
            );
        }
    }
    let [Packet::Publish(pc)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(
        *pc,
        with_id(msg("t", "c", QoS::AtLeastOnce), pc.packet_id.unwrap().get())
    );
    assert_eq!(
        h.take_events(),
        vec![
            failed(
                a,
                OperationError::Rejected(UsageError::QoSNotSupported {
                    requested: QoS::ExactlyOnce,
                    maximum: QoS::AtLeastOnce
                })
            ),
            failed(b, OperationError::Rejected(UsageError::RetainNotAvailable)),
        ]
    );
    h.receive(PubAck::new(pc.packet_id.unwrap()));
    assert_eq!(h.take_events(), vec![completed(c)]);
}

// lib.rs contract ("every publish at QoS 1/2, subscribe and unsubscribe ends in exactly
// one completion event or one OperationFailed"), through every way an operation can end:
// PUBACK, PUBCOMP, PUBACK >= 0x80 and PUBREC >= 0x80 (v5 [MQTT-4.4.0-2]), dropped from
// the queue, expired in the queue, SUBACK, and the session closing on
// `disconnect` (in flight, queued, pending requests). QoS 0 publishes have no event.
#[test]
fn every_operation_ends_in_exactly_one_event() {
    let mut o = limited(3, 1 << 20, QueueOverflow::DropOldest);
    o.keep_alive = 0;
    let mut h = Harness::new(o);
    let expiring = |p: Publish| {
        p.with_properties(PublishProperties {
            message_expiry_interval: Some(5),
            ..PublishProperties::default()
        })
    };
    let p1 = publish(&mut h, msg("t", "1", QoS::AtLeastOnce));
    let p2 = publish(&mut h, expiring(msg("t", "2", QoS::AtLeastOnce)));
    let p3 = publish(&mut h, msg("t", "3", QoS::ExactlyOnce));
    h.advance(secs(10));
    let p4 = publish(&mut h, msg("t", "4", QoS::AtLeastOnce)); // drops p1
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.receive_maximum = NonZeroU16::new(2);
    h.connect_with(connack); // p2 expired; p3 -> 1, p4 -> 2
    let p5 = publish(&mut h, msg("t", "5", QoS::AtLeastOnce));
    let p6 = publish(&mut h, msg("t", "6", QoS::ExactlyOnce));
    let q0 = publish(&mut h, msg("t", "qos0", QoS::AtMostOnce));
    h.receive(PubAck::with_reason(id(2), ReasonCode::UnspecifiedError)); // p4; p5 -> 3
    h.receive(PubRec::new(id(1)));
    h.receive(PubComp::new(id(1))); // p3; p6 -> 4
    h.receive(PubRec::with_reason(id(4), ReasonCode::QuotaExceeded)); // p6
    let s1 = h
        .session
        .subscribe(
            h.now,
            vec![Subscription::new(
                TopicFilter::from_static("s"),
                QoS::AtLeastOnce,
            )],
            SubscribeProperties::default(),
        )
        .unwrap(); // 5
    let u1 = h
        .session
        .unsubscribe(
            h.now,
            vec![TopicFilter::from_static("u")],
            UnsubscribeProperties::default(),
        )
        .unwrap(); // 6
    h.drain();
    h.receive(SubAck {
        packet_id: id(5),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    });
    let p7 = publish(&mut h, msg("t", "7", QoS::AtLeastOnce)); // 7
    let p8 = publish(&mut h, msg("t", "8", QoS::AtLeastOnce)); // queued
    h.session
        .disconnect(h.now, DisconnectOptions::default())
        .unwrap();
    h.drain();
    assert_eq!(
        h.session.publish(h.now, msg("t", "late", QoS::AtLeastOnce)),
        Err(UsageError::Closed)
    );

    let sent: Vec<_> = h
        .sent()
        .into_iter()
        .filter_map(|p| match p {
            Packet::Publish(p) => Some(p.payload),
            _ => None,
        })
        .collect();
    // (Where the QoS 0 message goes relative to the ones waiting for quota is not this
    // test's concern.)
    let (qos0, others): (Vec<_>, Vec<_>) = sent.into_iter().partition(|p| p == "qos0");
    assert_eq!(qos0.len(), 1);
    assert_eq!(
        others,
        ["3", "4", "5", "6", "7"].map(|s| Bytes::from_static(s.as_bytes())),
        "p1 dropped and p2 expired are never sent; p8 never got quota"
    );
    let events = h.take_events();
    let expected = [
        (p1, failed(p1, OperationError::Dropped)),
        (p2, failed(p2, OperationError::Expired)),
        (p3, completed(p3)),
        (
            p4,
            failed(p4, OperationError::Refused(ReasonCode::UnspecifiedError)),
        ),
        (p5, failed(p5, OperationError::SessionClosed)),
        (
            p6,
            failed(p6, OperationError::Refused(ReasonCode::QuotaExceeded)),
        ),
        (
            s1,
            Event::SubscribeCompleted {
                id: s1,
                reason_codes: vec![ReasonCode::GrantedQoS1],
            },
        ),
        (u1, failed(u1, OperationError::SessionClosed)),
        (p7, failed(p7, OperationError::SessionClosed)),
        (p8, failed(p8, OperationError::SessionClosed)),
    ];
    for (op, event) in &expected {
        assert_eq!(endings(&events, *op), vec![event], "{op:?}: {events:?}");
    }
    assert!(endings(&events, q0).is_empty(), "QoS 0 has no event");
    let ended = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::PublishCompleted { .. }
                    | Event::SubscribeCompleted { .. }
                    | Event::UnsubscribeCompleted { .. }
                    | Event::OperationFailed { .. }
            )
        })
        .count();
    assert_eq!(ended, expected.len(), "{events:?}");
}

// lib.rs contract and Options::reconnect: when the connection is lost for good (no
// reconnecting), every pending operation fails with OperationError::SessionClosed, once.
#[test]
fn losing_the_connection_for_good_fails_every_pending_operation_once() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut o = options(v);
        o.reconnect.enabled = false;
        o.max_in_flight = Some(1);
        let mut h = Harness::new(o);
        h.connect();
        let a = publish(&mut h, msg("t", "a", QoS::ExactlyOnce));
        let b = publish(&mut h, msg("t", "b", QoS::AtLeastOnce));
        publish(&mut h, msg("t", "c", QoS::AtMostOnce));
        h.receive(PubRec::new(id(1)));
        let s = h
            .session
            .subscribe(
                h.now,
                vec![Subscription::new(
                    TopicFilter::from_static("s"),
                    QoS::AtLeastOnce,
                )],
                SubscribeProperties::default(),
            )
            .unwrap();
        h.drain();
        assert_eq!(
            h.sent(),
            vec![
                Packet::Publish(with_id(msg("t", "a", QoS::ExactlyOnce), 1)),
                Packet::Publish(msg("t", "c", QoS::AtMostOnce)),
                Packet::PubRel(PubRel::new(id(1))),
                Packet::Subscribe(mqtt_proto::Subscribe::new(
                    id(2),
                    vec![Subscription::new(
                        TopicFilter::from_static("s"),
                        QoS::AtLeastOnce
                    )]
                )),
            ],
            "{v}: B waits for the one unit of quota"
        );
        h.session.handle_closed(h.now);
        h.drain();
        assert!(h.session.is_closed());
        assert_eq!(
            h.take_events(),
            vec![
                Event::Disconnected {
                    reason: DisconnectReason::TransportClosed,
                    reconnect_at: None
                },
                failed(a, OperationError::SessionClosed),
                failed(b, OperationError::SessionClosed),
                failed(s, OperationError::SessionClosed),
            ],
            "{v}"
        );
    }
}
