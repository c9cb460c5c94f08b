//! What the session does when a server misbehaves in ways brokers are seen to: duplicate
//! acknowledgements, closing the connection on a message instead of refusing it, and not
//! speaking the protocol version asked for.

mod common;

use bytes::Bytes;
use common::{Harness, options, pid, secs};
use core::time::Duration;
use mqtt_proto::{
    ConnAck, Packet, PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS,
    ReasonCode, TopicName,
};
use mqtt_session::{
    Action, DisconnectReason, Event, OperationError, OperationId, Options, ProtocolViolation,
    ReconnectPolicy,
};

fn msg(qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from("a/b").unwrap(),
        Bytes::from_static(b"x"),
    )
    .with_qos(qos, None)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 100 ms doubling up to 10 s, no jitter.
fn opts(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    o.reconnect = ReconnectPolicy {
        enabled: true,
        min_delay: ms(100),
        max_delay: secs(10),
        jitter_percent: 0,
        seed: 1,
    };
    o
}

/// The transport drops: returns the delay to the planned reconnect.
fn drop_connection(h: &mut Harness) -> Duration {
    h.session.handle_closed(h.now);
    h.drain();
    let failed_at = h.now;
    let at = h
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            Event::Disconnected {
                reconnect_at: Some(at),
                ..
            } => Some(at),
            _ => None,
        })
        .expect("a planned reconnect");
    at - failed_at
}

/// The reconnect timer fires, the transport comes up, the CONNACK accepts: returns what
/// the session sent after CONNECT.
fn come_back(h: &mut Harness, connack: ConnAck) -> Vec<Packet> {
    h.reopen(connack);
    h.sent()
}

// ----- acknowledgements for identifiers with nothing in flight -----

// No rule of 3.1.1 or 5.0 makes a stray PUBACK / PUBREC / PUBCOMP a protocol error: it is
// reported and the connection stays; a stray PUBREC is answered with PUBREL so that the
// server can finish its side (5.0: 0x92 Packet Identifier not found).
#[test]
fn a_stray_puback_pubrec_or_pubcomp_is_reported_and_the_connection_stays() {
    for v in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut h = Harness::new(options(v));
        h.connect();
        h.receive(PubAck::new(pid(7)));
        h.receive(PubRec::new(pid(8)));
        h.receive(PubComp::new(pid(9)));
        assert_eq!(
            h.take_events(),
            vec![
                Event::StrayAcknowledgement {
                    packet_type: PacketType::PubAck,
                    packet_id: pid(7)
                },
                Event::StrayAcknowledgement {
                    packet_type: PacketType::PubRec,
                    packet_id: pid(8)
                },
                Event::StrayAcknowledgement {
                    packet_type: PacketType::PubComp,
                    packet_id: pid(9)
                },
            ],
            "{v:?}"
        );
        let code = if v.is_v5() {
            ReasonCode::PacketIdentifierNotFound
        } else {
            ReasonCode::Success
        };
        assert_eq!(
            h.sent(),
            vec![Packet::PubRel(PubRel::with_reason(pid(8), code))],
            "{v:?}"
        );
        assert_eq!(h.take_actions(), vec![], "the connection stays ({v:?})");
        // And it still works: a QoS 1 publish completes.
        let op = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
        h.drain();
        let id = match h.sent().as_slice() {
            [Packet::Publish(p)] => p.packet_id.unwrap(),
            other => panic!("{other:?}"),
        };
        h.receive(PubAck::new(id));
        assert_eq!(
            h.take_events(),
            vec![Event::PublishCompleted {
                id: op,
                reason_code: ReasonCode::Success
            }]
        );
    }
}

#[test]
fn strict_acknowledgements_close_the_connection_on_a_stray_acknowledgement() {
    for (packet, name) in [
        (Packet::PubAck(PubAck::new(pid(7))), "PUBACK"),
        (Packet::PubRec(PubRec::new(pid(7))), "PUBREC"),
        (Packet::PubComp(PubComp::new(pid(7))), "PUBCOMP"),
    ] {
        let mut o = options(ProtocolVersion::V3_1_1);
        o.strict_acknowledgements = true;
        let mut h = Harness::new(o);
        h.connect();
        h.receive(packet);
        assert_eq!(h.take_actions(), vec![Action::Close]);
        assert!(matches!(
            h.take_events().as_slice(),
            [Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(ProtocolViolation::UnknownPacketId(n)),
                ..
            }] if *n == name
        ));
    }
}

// ----- connections that die before they proved themselves -----

// A server that accepts the connection and drops it before acknowledging anything does
// not reset the back-off: the delays keep doubling across such connections.
#[test]
fn the_back_off_keeps_growing_across_connections_that_die_unproven() {
    let mut h = Harness::new(opts(ProtocolVersion::V3_1_1));
    h.connect();
    let mut delays = vec![drop_connection(&mut h)];
    for _ in 0..4 {
        come_back(&mut h, ConnAck::new(ReasonCode::Success));
        h.take_events();
        delays.push(drop_connection(&mut h));
    }
    assert_eq!(delays, vec![ms(100), ms(200), ms(400), ms(800), ms(1600)]);
    // Once the server acknowledges something, the back-off starts over.
    come_back(&mut h, ConnAck::new(ReasonCode::Success));
    h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
    h.drain();
    let id = match h.sent().as_slice() {
        [Packet::Publish(p)] => p.packet_id.unwrap(),
        other => panic!("{other:?}"),
    };
    h.receive(PubAck::new(id));
    assert_eq!(drop_connection(&mut h), ms(100));
}

/// How the QoS 1 publish `op` ended, if it did.
fn outcome(events: &[Event], op: OperationId) -> Option<Result<(), OperationError>> {
    events.iter().find_map(|e| match e {
        Event::PublishCompleted { id, .. } if *id == op => Some(Ok(())),
        Event::OperationFailed { id, error } if *id == op => Some(Err(error.clone())),
        _ => None,
    })
}

// mosquitto under 3.1.1 drops the connection on a PUBLISH above its message size limit.
// The message is sent again on each new connection, up to `resend_limit` closes; the next
// one fails the publish with an error that says so, and other messages go on.
#[test]
fn a_message_the_server_keeps_closing_the_connection_on_fails_after_the_resend_limit() {
    for (v, session_present) in [
        (ProtocolVersion::V3_1_1, false),
        (ProtocolVersion::V3_1_1, true),
        (ProtocolVersion::V5, true),
    ] {
        let mut o = opts(v);
        o.resend_limit = Some(3);
        o.clean_start = !session_present;
        if session_present {
            o.session_expiry_interval = 600;
        }
        let mut h = Harness::new(o);
        h.connect();
        let op = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
        h.drain();
        let mut sends = h.sent().len();
        let connack = ConnAck {
            session_present,
            ..ConnAck::new(ReasonCode::Success)
        };
        let mut events = Vec::new();
        for _ in 0..3 {
            drop_connection(&mut h);
            let sent = come_back(&mut h, connack.clone());
            sends += sent
                .iter()
                .filter(|p| matches!(p, Packet::Publish(_)))
                .count();
            events.extend(h.take_events());
        }
        assert_eq!(
            sends, 4,
            "{v:?}: sent once, then again after each of 3 closes"
        );
        assert_eq!(outcome(&events, op), None);
        // The fourth close.
        h.session.handle_closed(h.now);
        h.drain();
        let events = h.take_events();
        assert_eq!(
            outcome(&events, op),
            Some(Err(OperationError::ConnectionKeptClosing { sends: 4 })),
            "{v:?}: {events:?}"
        );
        let text = OperationError::ConnectionKeptClosing { sends: 4 }.to_string();
        assert!(text.contains("closed the connection"), "{text}");
        // Nothing is sent again, and the session still works.
        let sent = come_back(&mut h, connack.clone());
        assert!(
            !sent.iter().any(|p| matches!(p, Packet::Publish(_))),
            "{sent:?}"
        );
        let next = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
        h.drain();
        let id = match h.sent().as_slice() {
            [Packet::Publish(p)] => p.packet_id.unwrap(),
            other => panic!("{other:?}"),
        };
        h.receive(PubAck::new(id));
        assert_eq!(outcome(&h.take_events(), next), Some(Ok(())));
    }
}

// A close on a connection where the server did acknowledge something is an ordinary
// network failure: it does not count against the messages in flight.
#[test]
fn closes_after_an_acknowledgement_do_not_count_against_a_message() {
    let mut o = opts(ProtocolVersion::V5);
    o.resend_limit = Some(1);
    o.session_expiry_interval = 600;
    let mut h = Harness::new(o);
    h.connect();
    let present = ConnAck {
        session_present: true,
        ..ConnAck::new(ReasonCode::Success)
    };
    let op = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
    h.drain();
    h.sent();
    for _ in 0..5 {
        drop_connection(&mut h);
        come_back(&mut h, present.clone());
        // The server answers a ping on each connection: it works.
        h.advance(secs(60));
        assert!(h.sent().contains(&Packet::PingReq));
        h.receive(Packet::PingResp);
    }
    assert_eq!(outcome(&h.take_events(), op), None, "still in flight");
    // With no limit, nothing ever fails for it.
    let mut o = opts(ProtocolVersion::V3_1_1);
    o.resend_limit = None;
    let mut h = Harness::new(o);
    h.connect();
    let op = h.session.publish(h.now, msg(QoS::AtLeastOnce)).unwrap();
    h.drain();
    h.sent();
    let mut events = Vec::new();
    for _ in 0..20 {
        drop_connection(&mut h);
        come_back(&mut h, ConnAck::new(ReasonCode::Success));
        events.extend(h.take_events());
    }
    assert_eq!(outcome(&events, op), None);
}

// ----- a server without the protocol version asked for -----

// A broker that lacks 5.0 answers a 5.0 CONNECT with a 3.1.1 CONNACK, return code 1
// (unacceptable protocol version): that is reported as such, not as a malformed packet.
#[test]
fn a_3_1_1_connack_refusing_a_5_0_connect_says_the_server_lacks_5_0() {
    let mut h = Harness::new(options(ProtocolVersion::V5));
    h.open();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let events = h.take_events();
    let [
        Event::Disconnected {
            reason,
            reconnect_at: None,
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        *reason,
        DisconnectReason::UnsupportedProtocolVersion {
            requested: ProtocolVersion::V5
        }
    );
    let text = reason.to_string();
    assert!(
        text.contains("does not support MQTT 5.0") && text.contains("version fallback"),
        "{text}"
    );
    assert!(h.session.is_closed());
}

// [MQTT-3.1.2-2] (5.0) / [MQTT-3.1.2-2] (3.1.1): an unsupported protocol level is refused with
// 0x84 / return code 1. With version fallback on, the session tries 3.1.1, then 3.1, at
// once and on the same server; a refusal of 3.1 is final.
#[test]
fn version_fallback_tries_3_1_1_then_3_1() {
    let mut o = options(ProtocolVersion::V5);
    o.version_fallback = true;
    o.servers = vec!["first:1883".into(), "second:1883".into()];
    let mut h = Harness::new(o);
    h.open();
    h.receive_bytes(&[0x20, 0x02, 0x00, 0x01]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    let now = h.now;
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::UnsupportedProtocolVersion {
                requested: ProtocolVersion::V5
            },
            reconnect_at: Some(now),
        }]
    );
    assert_eq!(h.session.protocol_version(), ProtocolVersion::V3_1_1);
    h.fire_timer();
    assert_eq!(
        h.take_actions(),
        vec![Action::Open {
            server: "first:1883".into()
        }]
    );
    h.set_version(ProtocolVersion::V3_1_1);
    h.session.handle_connected(h.now);
    h.drain();
    match h.sent().as_slice() {
        [Packet::Connect(c)] => assert_eq!(c.protocol_version, ProtocolVersion::V3_1_1),
        other => panic!("{other:?}"),
    }
    // A 3.1 broker refuses 3.1.1 with return code 1.
    h.receive(ConnAck::new(ReasonCode::UnsupportedProtocolVersion));
    assert_eq!(h.session.protocol_version(), ProtocolVersion::V3_1);
    let now = h.now;
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::Refused {
                reason_code: ReasonCode::UnsupportedProtocolVersion,
                reason_string: None
            },
            reconnect_at: Some(now),
        }]
    );
    h.take_actions();
    h.fire_timer();
    h.take_actions();
    h.set_version(ProtocolVersion::V3_1);
    h.session.handle_connected(h.now);
    h.drain();
    match h.sent().as_slice() {
        [Packet::Connect(c)] => assert_eq!(c.protocol_version, ProtocolVersion::V3_1),
        other => panic!("{other:?}"),
    }
    h.receive(ConnAck::new(ReasonCode::Success));
    assert!(matches!(h.take_events().as_slice(), [Event::Connected(_)]));
    assert!(h.session.is_connected());

    // Refused at 3.1 too: final.
    let mut o = options(ProtocolVersion::V3_1);
    o.version_fallback = true;
    let mut h = Harness::new(o);
    h.open();
    h.receive(ConnAck::new(ReasonCode::UnsupportedProtocolVersion));
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::Disconnected {
            reason: DisconnectReason::Refused {
                reason_code: ReasonCode::UnsupportedProtocolVersion,
                ..
            },
            reconnect_at: None
        }]
    ));
    assert!(h.session.is_closed());
}
