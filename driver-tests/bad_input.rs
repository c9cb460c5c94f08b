//! How the client survives a broker that breaks the protocol.
//!
//! A [`FakeBroker`] plays the server and sends, once the client is connected (or while it
//! waits for CONNACK), one malformed packet or protocol violation. For each the client
//! must:
//!
//! * under 5.0 send a DISCONNECT with the right reason code (0x81 Malformed Packet,
//!   0x82 Protocol Error, 0x94 Topic Alias Invalid, 0x95 Packet Too Large) as its last
//!   packet, then close; under 3.1.1 close without sending anything;
//! * report `Event::Disconnected { reason: ProtocolViolation(..), reconnect_at: Some(..) }`
//!   as its next event (a bad packet delivers no message);
//! * reconnect by its policy: the fake broker accepts the next connection and the client
//!   is connected again;
//! * never panic (a panic hook counts panics on the client's threads: mqtt-std's, all
//!   named `mqtt-...`, and those mqtt-smol's driver runs on).
//!
//! Also: a CONNACK refusing bad credentials makes `Client::connect` fail with
//! `Error::ConnectionRefused`, and a server that never answers CONNECT runs into the
//! connect timeouts.

use std::time::{Duration, Instant};

#[path = "common.rs"]
mod common;

use crate::driver::{Client, ClientOptions, Completion, Error, Events, Pending};
use common::{WAIT, assert_no_client_panic, fake_broker_options, watch_client_panics};
use mqtt_proto::{
    ConnAck, DecodeError, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp, PubRec,
    Publish, QoS, ReasonCode, Subscribe, Subscription, TopicFilter, TopicName,
};
use mqtt_session::{DisconnectReason, Event, Options, ProtocolViolation};
use testkit::{ExpectError, FakeBroker, FakeConnection};

const BOTH: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// Client options against the fake broker ([`fake_broker_options`], client id
/// `bad-input`).
fn options(
    broker: &FakeBroker,
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
) -> ClientOptions {
    fake_broker_options(broker, "bad-input", version, tweak)
}

/// Starts a client against a fresh fake broker, without waiting for CONNACK.
fn start(
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
) -> (FakeBroker, Client, Events) {
    watch_client_panics();
    let broker = FakeBroker::start(version).unwrap();
    let (client, events) = Client::start(options(&broker, version, tweak)).unwrap();
    (broker, client, events)
}

/// Accepts the client's next connection and reads its CONNECT.
fn accept(broker: &FakeBroker) -> FakeConnection {
    let mut conn = broker
        .accept(WAIT)
        .unwrap_or_else(|e| panic!("the client did not connect: {e}"));
    let connect = conn
        .expect_connect(WAIT)
        .unwrap_or_else(|e| panic!("no CONNECT: {e}"));
    assert_eq!(connect.protocol_version, broker.version());
    conn
}

/// Accepts the client's next connection, answers CONNACK 0x00 (with `connack`'s
/// properties) and waits for the `Connected` event.
fn accept_connected(broker: &FakeBroker, events: &Events, connack: ConnAck) -> FakeConnection {
    let mut conn = accept(broker);
    conn.send(connack).unwrap();
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(_)) => conn,
        other => panic!("expected Connected, got {other:?}"),
    }
}

fn connack() -> ConnAck {
    ConnAck::new(ReasonCode::Success)
}

/// After the bad input: the client's last packet (5.0: DISCONNECT `code`; 3.1.1: none)
/// and the close, the `Disconnected` event with a protocol violation, and a reconnect
/// the fake broker accepts. Returns the violation and the new connection.
fn expect_violation(
    broker: &FakeBroker,
    mut conn: FakeConnection,
    events: &Events,
    code: ReasonCode,
) -> (ProtocolViolation, FakeConnection) {
    let version = broker.version();
    let mut packets = Vec::new();
    loop {
        match conn.expect_packet(WAIT) {
            Ok(p) => packets.push(p),
            Err(ExpectError::Closed) => break,
            Err(e) => panic!("expected the client to close, got {e} after {packets:?}"),
        }
    }
    if version.is_v5() {
        match packets.last() {
            Some(Packet::Disconnect(d)) => assert_eq!(
                d.reason_code, code,
                "DISCONNECT reason code; packets: {packets:?}"
            ),
            other => panic!("expected DISCONNECT {code:?} last, got {other:?} in {packets:?}"),
        }
        assert_eq!(packets.len(), 1, "only DISCONNECT expected: {packets:?}");
    } else {
        assert!(
            packets.is_empty(),
            "3.1.1: the client just closes, but it sent {packets:?}"
        );
    }
    let violation = match events.recv_timeout(WAIT) {
        Ok(Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(v),
            reconnect_at,
        }) => {
            assert!(reconnect_at.is_some(), "the policy says reconnect");
            v
        }
        other => panic!("expected Disconnected with a protocol violation, got {other:?}"),
    };
    if version.is_v5() {
        assert_eq!(violation.reason_code(), code, "{violation:?}");
    }
    // The client reconnects, and the fake broker accepts it this time.
    let conn = accept_connected(broker, events, connack());
    (violation, conn)
}

/// Plays a well-behaved broker on `conn` (acknowledging every PUBLISH and PUBREL) until
/// every operation in `pending` completed; returns their results in order.
fn serve(conn: &mut FakeConnection, pending: Vec<Pending>) -> Vec<Completion> {
    let deadline = Instant::now() + WAIT;
    let mut results: Vec<Option<Completion>> = pending.iter().map(|_| None).collect();
    while results.iter().any(Option::is_none) {
        assert!(
            Instant::now() < deadline,
            "operations did not complete: {results:?}"
        );
        match conn.expect_packet(Duration::from_millis(20)) {
            Ok(Packet::Publish(p)) => match p.qos {
                QoS::AtMostOnce => {}
                QoS::AtLeastOnce => conn.send(PubAck::new(p.packet_id.unwrap())).unwrap(),
                QoS::ExactlyOnce => conn.send(PubRec::new(p.packet_id.unwrap())).unwrap(),
            },
            Ok(Packet::PubRel(r)) => conn.send(PubComp::new(r.packet_id)).unwrap(),
            Ok(other) => panic!("unexpected {other:?}"),
            Err(ExpectError::Timeout) => {}
            Err(e) => panic!("the connection failed: {e}"),
        }
        for (p, r) in pending.iter().zip(results.iter_mut()) {
            if r.is_none() {
                match p.wait_timeout(Duration::ZERO) {
                    Ok(c) => *r = Some(c),
                    Err(Error::Timeout) => {}
                    Err(e) => panic!("an operation failed: {e:?}"),
                }
            }
        }
    }
    results.into_iter().flatten().collect()
}

/// The reconnected client works (a QoS 1 publish completes, `extra` operations too), and
/// disconnects normally; no client thread panicked.
fn works_then_disconnects(
    client: &Client,
    mut conn: FakeConnection,
    extra: Vec<Pending>,
) -> Vec<Completion> {
    let mut pending = extra;
    pending.push(
        client
            .publish("after/violation", QoS::AtLeastOnce, false, "ok")
            .unwrap(),
    );
    let results = serve(&mut conn, pending);
    client.disconnect().unwrap();
    match conn.expect_packet(WAIT) {
        Ok(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::NORMAL_DISCONNECTION),
        other => panic!("expected DISCONNECT, got {other:?}"),
    }
    assert!(conn.expect_closed(WAIT));
    assert_no_client_panic();
    results
}

/// The whole reaction to one bad input: violation, reconnect, working connection.
fn violation_then_recovery(
    broker: &FakeBroker,
    conn: FakeConnection,
    events: &Events,
    client: &Client,
    code: ReasonCode,
) -> ProtocolViolation {
    let (violation, conn) = expect_violation(broker, conn, events, code);
    works_then_disconnects(client, conn, Vec::new());
    violation
}

/// Connects, sends `bad` as raw bytes, and checks the reaction.
fn raw_after_connack(
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
    bad: &[u8],
    code: ReasonCode,
) -> ProtocolViolation {
    let (broker, client, events) = start(version, tweak);
    let mut conn = accept_connected(&broker, &events, connack());
    conn.send_raw(bad).unwrap();
    violation_then_recovery(&broker, conn, &events, &client, code)
}

/// Connects, sends `bad` as a packet, and checks the reaction.
fn packet_after_connack(
    version: ProtocolVersion,
    tweak: impl FnOnce(&mut Options),
    bad: Packet,
    code: ReasonCode,
) -> ProtocolViolation {
    let (broker, client, events) = start(version, tweak);
    let mut conn = accept_connected(&broker, &events, connack());
    conn.send(bad).unwrap();
    violation_then_recovery(&broker, conn, &events, &client, code)
}

fn decode_error(v: &ProtocolViolation) -> &DecodeError {
    match v {
        ProtocolViolation::Decode(e) => e,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

// ----- malformed packets (0x81) -----

#[test]
fn remaining_length_over_four_bytes_is_malformed() {
    for version in BOTH {
        let v = raw_after_connack(
            version,
            |_| {},
            &[0x30, 0xff, 0xff, 0xff, 0xff, 0x01],
            ReasonCode::MalformedPacket,
        );
        assert_eq!(
            decode_error(&v),
            &DecodeError::MalformedVariableByteInteger,
            "{version:?}"
        );
    }
}

#[test]
fn field_past_the_end_is_malformed() {
    for version in BOTH {
        // PUBLISH whose topic length (5) runs past the remaining length (3).
        let v = raw_after_connack(
            version,
            |_| {},
            &[0x30, 0x03, 0x00, 0x05, b'a'],
            ReasonCode::MalformedPacket,
        );
        assert!(
            matches!(decode_error(&v), DecodeError::UnexpectedEnd { .. }),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn reserved_packet_type_is_malformed() {
    for version in BOTH {
        let v = raw_after_connack(version, |_| {}, &[0x00, 0x00], ReasonCode::MalformedPacket);
        assert_eq!(
            decode_error(&v),
            &DecodeError::ReservedPacketType(0),
            "{version:?}"
        );
    }
}

#[test]
fn garbage_bytes_are_malformed() {
    for version in BOTH {
        // Not MQTT at all: "HTTP/1.1 400 Bad Request" (0x48 is type 4 with flags 8).
        let v = raw_after_connack(
            version,
            |_| {},
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            ReasonCode::MalformedPacket,
        );
        assert_eq!(v.reason_code(), ReasonCode::MalformedPacket, "{version:?}");
    }
}

// ----- reserved fixed-header flags (0x81, [MQTT-2.2.2-2]) -----

#[test]
fn reserved_flags_on_puback_are_malformed() {
    for version in BOTH {
        let v = raw_after_connack(
            version,
            |_| {},
            &[0x42, 0x02, 0x00, 0x01],
            ReasonCode::MalformedPacket,
        );
        assert!(
            matches!(
                decode_error(&v),
                DecodeError::InvalidFixedHeaderFlags { flags: 2, .. }
            ),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn pubrel_without_its_required_flags_is_malformed() {
    for version in BOTH {
        let v = raw_after_connack(
            version,
            |_| {},
            &[0x60, 0x02, 0x00, 0x01],
            ReasonCode::MalformedPacket,
        );
        assert!(
            matches!(
                decode_error(&v),
                DecodeError::InvalidFixedHeaderFlags { flags: 0, .. }
            ),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn reserved_connack_flags_are_malformed() {
    for version in BOTH {
        let (broker, client, events) = start(version, |_| {});
        let mut conn = accept(&broker);
        // Acknowledge flags 0x02: bits 7-1 are reserved.
        let bad: &[u8] = if version.is_v5() {
            &[0x20, 0x03, 0x02, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x02, 0x00]
        };
        conn.send_raw(bad).unwrap();
        let v =
            violation_then_recovery(&broker, conn, &events, &client, ReasonCode::MalformedPacket);
        assert_eq!(
            decode_error(&v),
            &DecodeError::InvalidConnAckFlags(0x02),
            "{version:?}"
        );
    }
}

// ----- QoS 3 PUBLISH (0x81, [MQTT-3.3.1-4]) -----

#[test]
fn publish_with_qos_3_is_malformed() {
    for version in BOTH {
        // Topic "t", packet identifier 1, (5.0: no properties), payload "x".
        let bad: Vec<u8> = if version.is_v5() {
            vec![0x36, 0x07, 0x00, 0x01, b't', 0x00, 0x01, 0x00, b'x']
        } else {
            vec![0x36, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'x']
        };
        let v = raw_after_connack(version, |_| {}, &bad, ReasonCode::MalformedPacket);
        assert_eq!(decode_error(&v), &DecodeError::InvalidQoS, "{version:?}");
    }
}

// ----- protocol errors (0x82) -----

#[test]
fn a_packet_before_connack_is_a_protocol_error() {
    for version in BOTH {
        let (broker, client, events) = start(version, |_| {});
        let mut conn = accept(&broker);
        conn.send(Publish::new(TopicName::from_static("early"), "too soon"))
            .unwrap();
        let v = violation_then_recovery(&broker, conn, &events, &client, ReasonCode::ProtocolError);
        assert!(
            matches!(v, ProtocolViolation::UnexpectedPacket(_)),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn pingresp_before_connack_is_a_protocol_error() {
    for version in BOTH {
        let (broker, client, events) = start(version, |_| {});
        let mut conn = accept(&broker);
        conn.send(Packet::PingResp).unwrap();
        let v = violation_then_recovery(&broker, conn, &events, &client, ReasonCode::ProtocolError);
        assert!(
            matches!(v, ProtocolViolation::UnexpectedPacket(_)),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn a_second_connack_is_a_protocol_error() {
    for version in BOTH {
        let v = packet_after_connack(version, |_| {}, connack().into(), ReasonCode::ProtocolError);
        assert!(
            matches!(v, ProtocolViolation::UnexpectedPacket(_)),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn puback_for_an_unknown_packet_id_is_a_protocol_error_with_strict_acknowledgements() {
    for version in BOTH {
        let v = packet_after_connack(
            version,
            |o| o.strict_acknowledgements = true,
            PubAck::new(PacketId::new(7).unwrap()).into(),
            ReasonCode::ProtocolError,
        );
        assert_eq!(
            v,
            ProtocolViolation::UnknownPacketId("PUBACK"),
            "{version:?}"
        );
    }
}

// Brokers send duplicate acknowledgements after their own reconnects: by default a PUBACK,
// PUBREC or PUBCOMP for an identifier with nothing in flight is reported on the event
// stream, a PUBREC is answered with PUBREL, and the connection stays and works.
#[test]
fn stray_acknowledgements_are_reported_and_the_connection_stays() {
    for version in BOTH {
        let (broker, client, events) = start(version, |_| {});
        let mut conn = accept_connected(&broker, &events, connack());
        let id = |n| PacketId::new(n).unwrap();
        conn.send(PubAck::new(id(7))).unwrap();
        conn.send(PubRec::new(id(8))).unwrap();
        conn.send(PubComp::new(id(9))).unwrap();
        match conn.expect_packet(WAIT) {
            Ok(Packet::PubRel(r)) => assert_eq!(r.packet_id, id(8), "{version:?}"),
            other => panic!("{version:?}: expected PUBREL, got {other:?}"),
        }
        for (packet_type, n) in [
            (PacketType::PubAck, 7),
            (PacketType::PubRec, 8),
            (PacketType::PubComp, 9),
        ] {
            match events.recv_timeout(WAIT) {
                Ok(Event::StrayAcknowledgement {
                    packet_type: t,
                    packet_id,
                }) => assert_eq!((t, packet_id), (packet_type, id(n)), "{version:?}"),
                other => panic!("{version:?}: expected StrayAcknowledgement, got {other:?}"),
            }
        }
        let results = works_then_disconnects(&client, conn, vec![]);
        assert_eq!(
            results,
            vec![Completion::Published(ReasonCode::Success)],
            "{version:?}"
        );
    }
}

#[test]
fn puback_for_a_qos_2_message_is_a_protocol_error() {
    for version in BOTH {
        let (broker, client, events) = start(version, |_| {});
        let mut conn = accept_connected(&broker, &events, connack());
        let pending = client
            .publish("exactly/once", QoS::ExactlyOnce, false, "x")
            .unwrap();
        let Ok(Packet::Publish(p)) = conn.expect_packet(WAIT) else {
            panic!("expected PUBLISH");
        };
        // PUBACK answers QoS 1 only.
        conn.send(PubAck::new(p.packet_id.unwrap())).unwrap();
        let (v, conn) = expect_violation(&broker, conn, &events, ReasonCode::ProtocolError);
        assert_eq!(
            v,
            ProtocolViolation::UnknownPacketId("PUBACK"),
            "{version:?}"
        );
        // The wrong PUBACK did not complete the QoS 2 message: it goes again on the new
        // connection and completes with PUBREC / PUBREL / PUBCOMP there.
        let results = works_then_disconnects(&client, conn, vec![pending]);
        assert_eq!(
            results[0],
            Completion::Published(ReasonCode::Success),
            "{version:?}"
        );
    }
}

#[test]
fn subscribe_from_the_server_is_a_protocol_error() {
    for version in BOTH {
        let subscribe = Subscribe::new(
            PacketId::new(1).unwrap(),
            vec![Subscription::new(
                TopicFilter::from_static("a/#"),
                QoS::AtMostOnce,
            )],
        );
        let v = packet_after_connack(version, |_| {}, subscribe.into(), ReasonCode::ProtocolError);
        assert!(
            matches!(decode_error(&v), DecodeError::WrongSender { .. }),
            "{version:?}: {v:?}"
        );
    }
}

#[test]
fn pingreq_from_the_server_is_a_protocol_error() {
    for version in BOTH {
        let v = packet_after_connack(version, |_| {}, Packet::PingReq, ReasonCode::ProtocolError);
        assert!(
            matches!(decode_error(&v), DecodeError::WrongSender { .. }),
            "{version:?}: {v:?}"
        );
    }
}

// ----- topic aliases (5.0, 0x94) -----

#[test]
fn topic_alias_zero_is_invalid() {
    // PUBLISH QoS 0, topic "t", properties: Topic Alias (0x23) = 0, payload "x".
    let bad = [0x30, 0x08, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00, b'x'];
    let v = raw_after_connack(
        ProtocolVersion::V5,
        |o| o.topic_alias_maximum = 10,
        &bad,
        ReasonCode::TopicAliasInvalid,
    );
    assert!(
        matches!(
            decode_error(&v),
            DecodeError::InvalidPropertyValue { value: 0, .. }
        ),
        "{v:?}"
    );
}

fn publish_with_alias(alias: u16) -> Packet {
    let mut p = Publish::new(TopicName::from_static("aliased"), "x");
    p.properties.topic_alias = std::num::NonZeroU16::new(alias);
    p.into()
}

#[test]
fn topic_alias_above_our_maximum_is_invalid() {
    let v = packet_after_connack(
        ProtocolVersion::V5,
        |o| o.topic_alias_maximum = 2,
        publish_with_alias(3),
        ReasonCode::TopicAliasInvalid,
    );
    assert_eq!(
        v,
        ProtocolViolation::TopicAlias(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn topic_alias_when_we_allow_none_is_invalid() {
    // Topic Alias Maximum 0 (the default): the server may not use any alias.
    let v = packet_after_connack(
        ProtocolVersion::V5,
        |_| {},
        publish_with_alias(1),
        ReasonCode::TopicAliasInvalid,
    );
    assert_eq!(
        v,
        ProtocolViolation::TopicAlias(ReasonCode::TopicAliasInvalid)
    );
}

#[test]
fn topic_alias_within_our_maximum_is_accepted() {
    // The control case: a valid alias binds and resolves, and the message arrives twice.
    let (broker, client, events) = start(ProtocolVersion::V5, |o| o.topic_alias_maximum = 2);
    let mut conn = accept_connected(&broker, &events, connack());
    conn.send(publish_with_alias(2)).unwrap();
    let mut by_alias = Publish::new(TopicName::empty(), "y");
    by_alias.properties.topic_alias = std::num::NonZeroU16::new(2);
    conn.send(by_alias).unwrap();
    for payload in ["x", "y"] {
        match events.recv_timeout(WAIT) {
            Ok(Event::Message(m)) => {
                assert_eq!(m.publish.topic.as_str(), "aliased");
                assert_eq!(&m.publish.payload[..], payload.as_bytes());
                assert_eq!(m.publish.properties.topic_alias, None);
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
    conn.expect_nothing(Duration::from_millis(200)).unwrap();
    client.disconnect().unwrap();
    assert_no_client_panic();
}

// ----- our Maximum Packet Size (5.0, 0x95) -----

#[test]
fn a_packet_over_our_maximum_packet_size_is_refused() {
    let big = Publish::new(TopicName::from_static("big"), vec![b'x'; 500]);
    let v = packet_after_connack(
        ProtocolVersion::V5,
        |o| o.maximum_packet_size = Some(128),
        big.into(),
        ReasonCode::PacketTooLarge,
    );
    assert!(
        matches!(
            decode_error(&v),
            DecodeError::PacketTooLarge { maximum: 128, .. }
        ),
        "{v:?}"
    );
}

#[test]
fn a_packet_at_our_maximum_packet_size_is_accepted() {
    // The control case: exactly 128 bytes passes.
    let (broker, client, events) = start(ProtocolVersion::V5, |o| {
        o.maximum_packet_size = Some(128);
    });
    let mut conn = accept_connected(&broker, &events, connack());
    // 2 (fixed header) + 2 + 3 (topic) + 1 (properties) + 120 (payload) = 128.
    let p = Publish::new(TopicName::from_static("big"), vec![b'x'; 120]);
    conn.send(p).unwrap();
    match events.recv_timeout(WAIT) {
        Ok(Event::Message(m)) => assert_eq!(m.publish.payload.len(), 120),
        other => panic!("expected the message, got {other:?}"),
    }
    client.disconnect().unwrap();
    assert_no_client_panic();
}

// ----- refused and unanswered connections -----

#[test]
fn bad_credentials_make_connect_fail_with_connection_refused() {
    for version in BOTH {
        watch_client_panics();
        let broker = FakeBroker::start(version).unwrap();
        let options = options(&broker, version, |_| {}).credentials("alice", "wrong");
        let server = std::thread::spawn(move || {
            let mut conn = broker.accept(WAIT).unwrap();
            let connect = conn.expect_connect(WAIT).unwrap();
            assert_eq!(
                connect.user_name.as_ref().map(|u| u.as_str()),
                Some("alice")
            );
            conn.send(ConnAck::new(ReasonCode::BadUserNameOrPassword))
                .unwrap();
            // The server closes after a refusing CONNACK; the client does not come back:
            // reconnecting cannot fix a wrong password.
            let closed = conn.expect_closed(WAIT);
            drop(conn);
            let again = broker.accept(Duration::from_millis(500)).is_ok();
            (closed, again)
        });
        let started = Instant::now();
        match Client::connect(options) {
            Err(Error::ConnectionRefused { reason_code }) => {
                assert_eq!(
                    reason_code,
                    ReasonCode::BadUserNameOrPassword,
                    "{version:?}"
                );
            }
            Err(e) => panic!("{version:?}: expected ConnectionRefused, got {e:?}"),
            Ok(_) => panic!("{version:?}: expected ConnectionRefused, got a connection"),
        }
        assert!(started.elapsed() < WAIT, "refusal reported at once");
        let (closed, again) = server.join().unwrap();
        assert!(
            closed,
            "{version:?}: the client closes the refused connection"
        );
        assert!(!again, "{version:?}: no reconnect after bad credentials");
        assert_no_client_panic();
    }
}

#[test]
fn connect_times_out_when_the_server_never_answers() {
    for version in BOTH {
        watch_client_panics();
        let broker = FakeBroker::start(version).unwrap();
        let options =
            options(&broker, version, |_| {}).connect_timeout(Duration::from_millis(1000));
        let server = std::thread::spawn(move || {
            let mut conn = broker.accept(WAIT).unwrap();
            conn.expect_connect(WAIT).unwrap();
            // Never answer; keep the socket open until the client gives up.
            conn.expect_closed(WAIT)
        });
        let started = Instant::now();
        let result = Client::connect(options);
        let elapsed = started.elapsed();
        assert!(
            matches!(result, Err(Error::Timeout)),
            "{version:?}: expected a timeout, got {:?}",
            result.map(|_| ())
        );
        assert!(
            elapsed >= Duration::from_millis(1000) && elapsed < Duration::from_millis(2500),
            "{version:?}: timed out after {elapsed:?}, 1 s asked"
        );
        assert!(
            server.join().unwrap(),
            "{version:?}: the client closes the connection it gave up on"
        );
        assert_no_client_panic();
    }
}

#[test]
fn connack_timeout_closes_and_reconnects() {
    for version in BOTH {
        let (broker, client, events) = start(version, |o| {
            o.connect_timeout = Duration::from_millis(300);
        });
        let started = Instant::now();
        let mut conn = accept(&broker);
        // No CONNACK: the session's connect timeout ends the attempt.
        match events.recv_timeout(WAIT) {
            Ok(Event::Disconnected {
                reason: DisconnectReason::ConnectTimeout,
                reconnect_at: Some(_),
            }) => {}
            other => panic!("{version:?}: expected ConnectTimeout, got {other:?}"),
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(2000),
            "{version:?}: CONNACK timeout after {elapsed:?}, 300 ms asked"
        );
        assert!(conn.expect_closed(WAIT), "{version:?}: closed");
        // The next attempt is answered.
        let _conn = accept_connected(&broker, &events, connack());
        client.disconnect().unwrap();
        assert_no_client_panic();
    }
}

// ----- a broker without the protocol version asked for -----

/// A 3.1.1 CONNACK with return code 1 (unacceptable protocol version): what a broker
/// without MQTT 5.0 answers a 5.0 CONNECT with.
const V311_REFUSES_VERSION: [u8; 4] = [0x20, 0x02, 0x00, 0x01];

#[test]
fn a_broker_without_5_0_makes_connect_fail_saying_so() {
    watch_client_panics();
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let options = options(&broker, ProtocolVersion::V5, |_| {});
    let server = std::thread::spawn(move || {
        let mut conn = accept(&broker);
        conn.send_raw(&V311_REFUSES_VERSION).unwrap();
        let closed = conn.expect_closed(WAIT);
        drop(conn);
        (closed, broker.accept(Duration::from_millis(500)).is_ok())
    });
    match Client::connect(options) {
        Err(
            e @ Error::Disconnected(DisconnectReason::UnsupportedProtocolVersion {
                requested: ProtocolVersion::V5,
            }),
        ) => {
            let text = e.to_string();
            assert!(text.contains("does not support MQTT 5.0"), "{text}");
        }
        Err(e) => panic!("expected UnsupportedProtocolVersion, got {e:?}"),
        Ok(_) => panic!("expected UnsupportedProtocolVersion, got a connection"),
    }
    let (closed, again) = server.join().unwrap();
    assert!(closed, "the client closes the refused connection");
    assert!(!again, "no reconnect without version fallback");
    assert_no_client_panic();
}

#[test]
fn version_fallback_connects_to_a_broker_without_5_0_with_3_1_1() {
    let (broker, client, events) = start(ProtocolVersion::V5, |o| o.version_fallback = true);
    let mut conn = accept(&broker);
    conn.send_raw(&V311_REFUSES_VERSION).unwrap();
    assert!(conn.expect_closed(WAIT));
    match events.recv_timeout(WAIT) {
        Ok(Event::Disconnected {
            reason:
                DisconnectReason::UnsupportedProtocolVersion {
                    requested: ProtocolVersion::V5,
                },
            reconnect_at: Some(_),
        }) => {}
        other => panic!("expected Disconnected(UnsupportedProtocolVersion), got {other:?}"),
    }
    let mut conn = broker
        .accept(WAIT)
        .unwrap_or_else(|e| panic!("no second attempt: {e}"));
    conn.set_version(ProtocolVersion::V3_1_1);
    let connect = conn.expect_connect(WAIT).unwrap();
    assert_eq!(connect.protocol_version, ProtocolVersion::V3_1_1);
    conn.send(connack()).unwrap();
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(_)) => {}
        other => panic!("expected Connected, got {other:?}"),
    }
    // The client speaks 3.1.1 from now on.
    let results = works_then_disconnects(&client, conn, vec![]);
    assert_eq!(results, vec![Completion::Published(ReasonCode::Success)]);
}
