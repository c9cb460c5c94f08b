//! Scripted conversations for the core flows: the exact packets a broker sends, the exact
//! packets the client must answer, with simulated time.

mod common;

use bytes::Bytes;
use common::{Harness, options, secs};
use mqtt_proto::{
    ConnAck, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, TopicName,
};
use mqtt_session::{Action, DisconnectReason, Event};

fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn msg(topic: &str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from(topic).unwrap(),
        Bytes::from_static(payload.as_bytes()),
    )
    .with_qos(qos, None)
}

// [MQTT-3.1.0-1]: CONNECT is the first packet on a new connection.
#[test]
fn connect_is_the_first_packet_for_every_version() {
    for v in [
        ProtocolVersion::V3_1,
        ProtocolVersion::V3_1_1,
        ProtocolVersion::V5,
    ] {
        let mut h = Harness::new(options(v));
        let c = h.open();
        assert_eq!(c.protocol_version, v);
        assert_eq!(c.client_id, "client");
        assert!(c.clean_start);
    }
}

// [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.2-3]: QoS 1 publish, PUBACK completes it.
#[test]
fn qos1_publish_completes_on_puback() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let op = h
        .session
        .publish(h.now, msg("a/b", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    let sent = h.sent();
    let [Packet::Publish(p)] = sent.as_slice() else {
        panic!("{sent:?}")
    };
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert!(!p.dup);
    let pid = p.packet_id.unwrap();
    assert!(h.take_events().is_empty());
    h.receive(PubAck::new(pid));
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: op,
            reason_code: ReasonCode::Success
        }]
    );
}

// [MQTT-4.3.3-1..5]: QoS 2: PUBLISH, PUBREC -> PUBREL, PUBCOMP completes.
#[test]
fn qos2_publish_flow() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.connect();
    let op = h
        .session
        .publish(h.now, msg("a", "x", QoS::ExactlyOnce))
        .unwrap();
    h.drain();
    let Ok::<[Packet; 1], _>([Packet::Publish(p)]) = h.sent().try_into() else {
        panic!()
    };
    let pid = p.packet_id.unwrap();
    h.receive(PubRec::new(pid));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(pid))]);
    assert!(h.take_events().is_empty());
    h.receive(PubComp::new(pid));
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: op,
            reason_code: ReasonCode::Success
        }]
    );
}

// [MQTT-4.4.0-2] / BROKERS.md: a PUBREC >= 0x80 is a failed publish, never a success.
#[test]
fn failing_pubrec_fails_the_publish_without_pubrel() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let op = h
        .session
        .publish(h.now, msg("a", "x", QoS::ExactlyOnce))
        .unwrap();
    h.drain();
    let Ok::<[Packet; 1], _>([Packet::Publish(p)]) = h.sent().try_into() else {
        panic!()
    };
    h.receive(PubRec::with_reason(
        p.packet_id.unwrap(),
        ReasonCode::QuotaExceeded,
    ));
    assert!(h.sent().is_empty());
    assert_eq!(
        h.take_events(),
        vec![Event::OperationFailed {
            id: op,
            error: mqtt_session::OperationError::Refused(ReasonCode::QuotaExceeded)
        }]
    );
}

// [MQTT-4.3.3-8] [MQTT-4.3.3-10] [MQTT-4.3.3-11]: incoming QoS 2 delivered once, even
// when re-sent with DUP before PUBREL. U311-19: the session uses Method B (deliver on
// PUBLISH, remember the identifier until PUBREL), always.
#[test]
fn incoming_qos2_is_delivered_exactly_once() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.connect();
    let p = msg("t", "once", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, Some(id(7)));
    h.receive(p.clone());
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))]);
    let events = h.take_events();
    assert_eq!(events.len(), 1);
    let mut dup = p.clone();
    dup.dup = true;
    h.receive(dup);
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(7)))]);
    assert!(
        h.take_events().is_empty(),
        "a duplicate must not be delivered again"
    );
    h.receive(PubRel::new(id(7)));
    assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(7)))]);
    // [MQTT-4.3.3-12]: after PUBCOMP the identifier starts a new message.
    h.receive(p);
    assert_eq!(h.take_events().len(), 1);
}

// [MQTT-3.1.2-23] (v3.1.1) / [MQTT-3.1.2-20] (v5): PINGREQ only after a keep-alive
// period without sending; a missing PINGRESP kills the connection.
#[test]
fn keep_alive_pings_when_idle_and_detects_a_dead_link() {
    let mut o = options(ProtocolVersion::V3_1_1);
    o.keep_alive = 10;
    let mut h = Harness::new(o);
    h.connect();
    h.advance(secs(9));
    assert!(h.sent().is_empty());
    h.session
        .publish(h.now, msg("t", "x", QoS::AtMostOnce))
        .unwrap();
    h.drain();
    assert_eq!(h.sent().len(), 1);
    // Sending resets the keep-alive clock.
    h.advance(secs(9));
    assert!(h.sent().is_empty());
    h.advance(secs(1));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
    h.receive(Packet::PingResp);
    h.advance(secs(10));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
    // No PINGRESP within half a period: dead, within 1.5 keep-alive periods.
    h.advance(secs(5));
    assert!(h.take_actions().contains(&Action::Close));
    let events = h.take_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Disconnected {
                reason: DisconnectReason::KeepAliveTimeout,
                reconnect_at: Some(_)
            }]
        ),
        "{events:?}"
    );
}

// [MQTT-4.4.0-1] [MQTT-4.6.0-1] [MQTT-3.3.1-1]: on resumption, unacknowledged PUBLISH
// (DUP, same identifiers, same order) and PUBREL are re-sent.
#[test]
fn resumed_session_resends_in_order_with_dup() {
    let mut o = options(ProtocolVersion::V3_1_1);
    o.clean_start = false;
    let mut h = Harness::new(o);
    let c = h.connect_with(ConnAck::new(ReasonCode::Success));
    assert!(!c.clean_start);
    h.take_events();
    let a = h
        .session
        .publish(h.now, msg("t", "1", QoS::AtLeastOnce))
        .unwrap();
    let b = h
        .session
        .publish(h.now, msg("t", "2", QoS::ExactlyOnce))
        .unwrap();
    let c2 = h
        .session
        .publish(h.now, msg("t", "3", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    let first: Vec<PacketId> = h
        .sent()
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => p.packet_id.unwrap(),
            _ => panic!(),
        })
        .collect();
    h.receive(PubRec::new(first[1]));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(first[1]))]);

    let mut present = ConnAck::new(ReasonCode::Success);
    present.session_present = true;
    let connect = h.reconnect(present);
    assert!(!connect.clean_start);
    let resent = h.sent();
    assert_eq!(resent.len(), 3, "{resent:?}");
    let Packet::Publish(p1) = &resent[0] else {
        panic!()
    };
    let Packet::Publish(p3) = &resent[1] else {
        panic!()
    };
    assert_eq!(
        (p1.packet_id, p1.dup, &p1.payload[..]),
        (Some(first[0]), true, &b"1"[..])
    );
    assert_eq!(
        (p3.packet_id, p3.dup, &p3.payload[..]),
        (Some(first[2]), true, &b"3"[..])
    );
    assert_eq!(resent[2], Packet::PubRel(PubRel::new(first[1])));
    h.receive(PubAck::new(first[0]));
    h.receive(PubComp::new(first[1]));
    h.receive(PubAck::new(first[2]));
    let done: Vec<_> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::PublishCompleted { id, .. } => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(done, vec![a, b, c2]);
}

// [MQTT-3.3.4-7] [MQTT-4.9.0-2]: never more in flight than the server's Receive Maximum.
#[test]
fn receive_maximum_of_the_server_queues_the_excess() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    let mut ack = ConnAck::new(ReasonCode::Success);
    ack.properties.receive_maximum = core::num::NonZeroU16::new(2);
    h.connect_with(ack);
    h.take_events();
    for i in 0..5 {
        h.session
            .publish(
                h.now,
                msg("t", if i % 2 == 0 { "a" } else { "b" }, QoS::AtLeastOnce),
            )
            .unwrap();
    }
    h.drain();
    let sent = h.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(h.session.queued(), 3);
    let Packet::Publish(p) = &sent[0] else {
        panic!()
    };
    h.receive(PubAck::new(p.packet_id.unwrap()));
    assert_eq!(h.sent().len(), 1, "one acknowledgement frees one slot");
}

// [MQTT-4.6.0-2]: manual acknowledgements in any order go out in arrival order.
#[test]
fn manual_acks_are_sent_in_arrival_order() {
    let mut o = options(ProtocolVersion::V5);
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(msg("t", "1", QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(id(1))));
    h.receive(msg("t", "2", QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(id(2))));
    let mut tokens = h.take_events().into_iter().map(|e| match e {
        Event::Message(m) => m.ack.unwrap(),
        other => panic!("{other:?}"),
    });
    let (first, second) = (tokens.next().unwrap(), tokens.next().unwrap());
    h.session
        .acknowledge(h.now, second, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert!(h.sent().is_empty(), "the second ack waits for the first");
    h.session
        .acknowledge(h.now, first, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubAck(PubAck::new(id(1))),
            Packet::PubAck(PubAck::new(id(2)))
        ]
    );
}

// v3.1.1 [MQTT-3.3.1-8] [MQTT-3.3.1-9]: the server decides the RETAIN flag of what it
// delivers (1 for a stored retained message sent on subscribe, 0 otherwise); the session
// hands it to the application unchanged.
#[test]
fn retain_flag_of_incoming_messages_reaches_the_application_unchanged() {
    let mut h = Harness::new(options(ProtocolVersion::V3_1_1));
    h.connect();
    h.receive(msg("r", "stored", QoS::AtMostOnce).with_retain(true));
    h.receive(msg("r", "live", QoS::AtMostOnce));
    let retains: Vec<bool> = h
        .take_events()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m.publish.retain,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(retains, vec![true, false]);
}

// [MQTT-3.12.4-1]: the keep-alive watchdog relies on PINGRESP: each one clears the
// outstanding PINGREQ, so a live link is never declared dead.
#[test]
fn every_pingresp_keeps_the_link_alive() {
    let mut o = options(ProtocolVersion::V5);
    o.keep_alive = 4;
    let mut h = Harness::new(o);
    h.connect();
    for _ in 0..5 {
        h.advance(secs(4));
        assert_eq!(h.sent(), vec![Packet::PingReq]);
        h.advance(secs(1));
        h.receive(Packet::PingResp);
    }
    assert!(h.take_events().is_empty());
    assert!(h.take_actions().is_empty());
}

// v5 [MQTT-4.3.3-13]: a QoS 2 receiver finishes the exchange even after the message's
// expiry has passed.
#[test]
fn incoming_qos2_exchange_completes_after_the_message_expired() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let mut p = msg("t", "short-lived", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, Some(id(9)));
    p.properties.message_expiry_interval = Some(1);
    h.receive(p);
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(id(9)))]);
    h.advance(secs(30));
    h.sent();
    h.receive(PubRel::new(id(9)));
    assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(id(9)))]);
}

// U5-08: identifiers are allocated independently by each side: the same value can be in
// flight both ways at once without confusion.
#[test]
fn the_same_packet_identifier_in_flight_both_ways() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    h.session
        .publish(h.now, msg("out", "x", QoS::ExactlyOnce))
        .unwrap();
    h.drain();
    let Ok::<[Packet; 1], _>([Packet::Publish(p)]) = h.sent().try_into() else {
        panic!()
    };
    let pid = p.packet_id.unwrap();
    // The server uses the same identifier for its own QoS 2 message.
    h.receive(msg("in", "y", QoS::ExactlyOnce).with_qos(QoS::ExactlyOnce, Some(pid)));
    assert_eq!(h.sent(), vec![Packet::PubRec(PubRec::new(pid))]);
    h.receive(PubRec::new(pid));
    assert_eq!(h.sent(), vec![Packet::PubRel(PubRel::new(pid))]);
    h.receive(PubRel::new(pid));
    assert_eq!(h.sent(), vec![Packet::PubComp(PubComp::new(pid))]);
    h.receive(PubComp::new(pid));
    let events = h.take_events();
    assert!(matches!(events[0], Event::Message(_)));
    assert!(matches!(events[1], Event::PublishCompleted { .. }));
}

// U5-27: matching PUBLISHes may arrive before the SUBACK: they are delivered and the
// SUBSCRIBE still completes.
#[test]
fn messages_before_the_suback_are_delivered() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let op = h
        .session
        .subscribe(
            h.now,
            vec![mqtt_proto::Subscription::new(
                mqtt_proto::TopicFilter::try_from("a/#").unwrap(),
                QoS::AtLeastOnce,
            )],
            Default::default(),
        )
        .unwrap();
    h.drain();
    let Ok::<[Packet; 1], _>([Packet::Subscribe(s)]) = h.sent().try_into() else {
        panic!()
    };
    h.receive(msg("a/b", "early", QoS::AtLeastOnce).with_qos(QoS::AtLeastOnce, Some(id(3))));
    assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(id(3)))]);
    h.receive(mqtt_proto::SubAck {
        packet_id: s.packet_id,
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: Default::default(),
    });
    let events = h.take_events();
    assert!(matches!(events[0], Event::Message(_)), "{events:?}");
    assert_eq!(
        events[1],
        Event::SubscribeCompleted {
            id: op,
            reason_codes: vec![ReasonCode::GrantedQoS1]
        }
    );
}

// The borrowing drain gives the same bytes, in the same order, as poll_transmit: small
// packets batched, a large payload as its own slice.
#[test]
fn write_transmit_lends_the_bytes_in_order() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    let big = Bytes::from(vec![b'x'; 4096]);
    h.session
        .publish(h.now, msg("t", "1", QoS::AtMostOnce))
        .unwrap();
    h.session
        .publish(
            h.now,
            Publish::new(TopicName::try_from("t").unwrap(), big.clone()),
        )
        .unwrap();
    h.session
        .publish(h.now, msg("t", "3", QoS::AtMostOnce))
        .unwrap();
    let mut wire = bytes::BytesMut::new();
    let mut writes = 0;
    h.session
        .write_transmit(|b| {
            writes += 1;
            wire.extend_from_slice(b);
            Ok::<(), ()>(())
        })
        .unwrap();
    assert!(writes >= 2, "the large payload is lent separately");
    assert!(h.session.poll_transmit().is_none());
    let mut decoder = mqtt_proto::Decoder::new(ProtocolVersion::V5);
    let mut payloads = Vec::new();
    while let Some(Packet::Publish(p)) = decoder.decode(&mut wire).unwrap() {
        payloads.push(p.payload);
    }
    assert_eq!(
        payloads,
        vec![Bytes::from_static(b"1"), big, Bytes::from_static(b"3")]
    );
}

// A failing write stops the drain and drops what is left: the connection is broken.
#[test]
fn write_transmit_stops_at_the_first_error() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.connect();
    h.session
        .publish(h.now, msg("t", "1", QoS::AtMostOnce))
        .unwrap();
    let result = h.session.write_transmit(|_| Err("broken pipe"));
    assert_eq!(result, Err("broken pipe"));
    assert!(h.session.poll_transmit().is_none());
}
