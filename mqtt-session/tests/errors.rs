//! Scripted conversations for the server's mistakes: malformed packets and protocol errors
//! end the connection (under 5.0 after a DISCONNECT with the right reason code, which is
//! the last packet sent), never a panic; and the server's own DISCONNECT, redirections
//! included.

mod common;

use bytes::{Bytes, BytesMut};
use common::{ALL, FIRST_DELAY, Harness, msg, options, pid, s, secs};
use core::num::{NonZeroU16, NonZeroU32};
use mqtt_proto::{
    AckProperties, ConnAck, Connect, DecodeError, Decoder, Disconnect, DisconnectProperties,
    Packet, PacketType, PropertyId, ProtocolVersion, PubAck, PubComp, PubRec, Publish, QoS,
    ReasonCode, Role, SubAck, Subscribe, Subscription, TopicFilter, TopicName, UnsubAck,
    Unsubscribe, UserProperty,
};
use mqtt_session::{Action, DisconnectReason, Event, Options, ProtocolViolation};

/// An incoming PUBLISH from the server with identifier `id` (QoS 1/2).
fn incoming(t: &str, qos: QoS, id: u16) -> Publish {
    msg(t, "m", qos).with_qos(qos, Some(pid(id)))
}

/// An incoming QoS 0 PUBLISH with a Topic Alias.
fn aliased(t: Option<&str>, alias: u16) -> Publish {
    let mut p = Publish::new(
        t.map_or(TopicName::empty(), |t| TopicName::try_from(t).unwrap()),
        "m",
    );
    p.properties.topic_alias = NonZeroU16::new(alias);
    p
}

fn opts(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    o.reconnect.jitter_percent = 0;
    o
}

fn ok() -> ConnAck {
    ConnAck::new(ReasonCode::Success)
}

fn connected(version: ProtocolVersion) -> Harness {
    let mut h = Harness::new(opts(version));
    h.connect();
    h
}

/// Asserts how a connection ends on a protocol violation: under 5.0 a DISCONNECT with
/// `code` is the last packet sent (after `before`), under 3.1 / 3.1.1 nothing more is
/// sent; then Close and one Disconnected event, with a reconnect planned. Returns the
/// violation, whose reason code must be `code`.
fn expect_violation(h: &mut Harness, before: Vec<Packet>, code: ReasonCode) -> ProtocolViolation {
    let mut expected = before;
    if h.version.is_v5() {
        expected.push(Packet::Disconnect(Disconnect::new(code)));
    }
    assert_eq!(h.sent(), expected, "{:?}", h.version);
    assert_eq!(h.take_actions(), vec![Action::Close], "{:?}", h.version);
    let events = h.take_events();
    let [
        Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(violation),
            reconnect_at,
        },
    ] = events.as_slice()
    else {
        panic!(
            "{:?}: expected one Disconnected event, got {events:?}",
            h.version
        )
    };
    assert_eq!(*reconnect_at, Some(h.now + FIRST_DELAY));
    assert_eq!(violation.reason_code(), code, "{violation:?}");
    assert!(!h.session.is_connected());
    violation.clone()
}

fn decode_error(v: ProtocolViolation) -> DecodeError {
    match v {
        ProtocolViolation::Decode(e) => e,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

// ----- malformed packets -----

// v5 U5-04 U5-42; v3.1.1 U311-05 [MQTT-4.8.0-1]: a Remaining Length over 4
// bytes is malformed: 0x81 (5.0) / close.
#[test]
fn malformed_remaining_length_closes_the_connection() {
    for v in ALL {
        let mut h = connected(v);
        h.receive_bytes(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        let violation = expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
        assert_eq!(
            decode_error(violation),
            DecodeError::MalformedVariableByteInteger
        );
    }
}

// v5 [MQTT-2.1.3-1] [MQTT-3.6.1-1] [MQTT-3.14.1-1] [MQTT-3.15.1-1]; v3.1.1 [MQTT-2.2.2-2]
// [MQTT-3.6.1-1]: reserved fixed-header flags that are wrong make the packet malformed.
#[test]
fn wrong_reserved_flags_close_the_connection() {
    let cases: [(&[u8], PacketType, u8, bool); 4] = [
        (&[0x41, 0x02, 0x00, 0x01], PacketType::PubAck, 0b0001, false),
        (&[0x60, 0x02, 0x00, 0x01], PacketType::PubRel, 0b0000, false),
        (&[0xE1, 0x00], PacketType::Disconnect, 0b0001, true),
        (&[0xF1, 0x00], PacketType::Auth, 0b0001, true),
    ];
    for v in ALL {
        for (bytes, packet_type, flags, v5_only) in cases {
            if v5_only && !v.is_v5() {
                continue;
            }
            let mut h = connected(v);
            h.receive_bytes(bytes);
            let violation = expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
            assert_eq!(
                decode_error(violation),
                DecodeError::InvalidFixedHeaderFlags { packet_type, flags },
                "{v:?} {bytes:x?}"
            );
        }
    }
}

// v5 [MQTT-3.3.1-4]; v3.1.1 [MQTT-3.3.1-4]: a PUBLISH with QoS 3 is malformed.
#[test]
fn publish_with_qos_3_closes_the_connection() {
    for v in ALL {
        let mut h = connected(v);
        if v.is_v5() {
            h.receive_bytes(&[0x36, 0x06, 0x00, 0x01, b't', 0x00, 0x01, 0x00]);
        } else {
            h.receive_bytes(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
        }
        let violation = expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
        assert_eq!(decode_error(violation), DecodeError::InvalidQoS, "{v:?}");
        assert_eq!(h.session.in_flight(), 0);
    }
}

// v5 [MQTT-1.5.4-1] [MQTT-1.5.4-2]; v3.1.1 [MQTT-1.5.3-1] [MQTT-1.5.3-2]: an ill-formed
// UTF-8 string, or one with U+0000, makes the packet malformed (0x81 under 5.0).
#[test]
fn ill_formed_strings_close_the_connection() {
    for v in ALL {
        for topic in [
            &[0xC3u8, 0x28][..],
            &[b'a', 0x00][..],
            &[0xED, 0xA0, 0x80][..],
        ] {
            let mut h = connected(v);
            let props = usize::from(v.is_v5());
            let mut bytes = vec![0x30, (2 + topic.len() + props + 1) as u8, 0x00];
            bytes.push(topic.len() as u8);
            bytes.extend_from_slice(topic);
            if v.is_v5() {
                bytes.push(0x00);
            }
            bytes.push(b'x');
            h.receive_bytes(&bytes);
            expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
            assert_eq!(h.take_events(), vec![], "{v:?} {topic:x?}");
        }
    }
}

// v5 U5-06; v3.1.1 U311-04: packet type 0 (and 15 before 5.0) is reserved.
#[test]
fn reserved_packet_types_close_the_connection() {
    for v in ALL {
        let mut h = connected(v);
        h.receive_bytes(&[0x00, 0x00]);
        expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
        if !v.is_v5() {
            let mut h = connected(v);
            h.receive_bytes(&[0xF0, 0x00]);
            expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
        }
    }
}

// v5 [MQTT-3.2.2-1] (B.5: flags 7-1 not zero, treated as malformed); v3.1.1 [MQTT-3.2.2-4]
// (a refusal never has Session Present 1) and U311-13 (return codes 6-255 are reserved):
// such a CONNACK is refused and the connection closed.
#[test]
fn malformed_connacks_close_the_connection() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    h.receive_bytes(&[0x20, 0x03, 0x02, 0x00, 0x00]);
    let violation = expect_violation(&mut h, vec![], ReasonCode::MalformedPacket);
    assert_eq!(decode_error(violation), DecodeError::InvalidConnAckFlags(2));

    let cases = [
        (
            [0x20, 0x02, 0x01, 0x04],
            DecodeError::InvalidConnAckFlags(1),
            ReasonCode::MalformedPacket,
        ),
        (
            [0x20, 0x02, 0x00, 0x06],
            DecodeError::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code: 6,
            },
            ReasonCode::ProtocolError,
        ),
    ];
    for (bytes, error, code) in cases {
        let mut h = Harness::new(opts(ProtocolVersion::V3_1_1));
        h.open();
        h.receive_bytes(&bytes);
        let violation = expect_violation(&mut h, vec![], code);
        assert_eq!(decode_error(violation), error);
    }
}

// v5 U5-18 (§3.2.2.3): a CONNACK with a repeated property or a forbidden value is a
// Protocol Error (0x82); the client does not connect.
#[test]
fn connack_property_errors_are_protocol_errors() {
    let cases: [(&[u8], DecodeError); 3] = [
        (
            // Receive Maximum twice.
            &[
                0x20, 0x09, 0x00, 0x00, 0x06, 0x21, 0x00, 0x05, 0x21, 0x00, 0x05,
            ],
            DecodeError::DuplicateProperty(PropertyId::ReceiveMaximum),
        ),
        (
            // Receive Maximum 0.
            &[0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00],
            DecodeError::InvalidPropertyValue {
                property: PropertyId::ReceiveMaximum,
                value: 0,
            },
        ),
        (
            // Maximum QoS 2.
            &[0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02],
            DecodeError::InvalidPropertyValue {
                property: PropertyId::MaximumQoS,
                value: 2,
            },
        ),
    ];
    for (bytes, error) in cases {
        let mut h = Harness::new(opts(ProtocolVersion::V5));
        h.open();
        h.receive_bytes(bytes);
        let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
        assert_eq!(decode_error(violation), error);
    }
}

// ----- packets out of turn -----

// v5 [MQTT-3.2.0-1]; v3.1.1 [MQTT-3.2.0-1]: nothing but CONNACK (or AUTH under 5.0) comes
// first; anything else is a protocol violation (0x82).
#[test]
fn packet_before_connack_is_a_protocol_violation() {
    let packets = [
        Packet::Publish(msg("t", "x", QoS::AtMostOnce)),
        Packet::PingResp,
        Packet::PubAck(PubAck::new(pid(1))),
        Packet::SubAck(SubAck {
            packet_id: pid(1),
            reason_codes: vec![ReasonCode::GrantedQoS1],
            properties: AckProperties::default().into(),
        }),
    ];
    for v in ALL {
        for packet in packets.clone() {
            let mut h = Harness::new(opts(v));
            h.open();
            h.receive(packet.clone());
            let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
            assert!(
                matches!(violation, ProtocolViolation::UnexpectedPacket(_)),
                "{v:?} {packet:?}: {violation:?}"
            );
        }
    }
}

// v5 [MQTT-3.2.0-2]; v3.1.1 [MQTT-4.8.0-1] (A.3: a second CONNACK): a second CONNACK is a
// protocol violation.
#[test]
fn second_connack_is_a_protocol_violation() {
    for v in ALL {
        let mut h = connected(v);
        h.receive(ok());
        let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
        assert!(matches!(violation, ProtocolViolation::UnexpectedPacket(_)));
    }
}

// v5 [MQTT-3.14.0-1]: the server sends DISCONNECT only after CONNACK; before it, it is a
// Protocol Error (not a server disconnect).
#[test]
fn disconnect_before_connack_is_a_protocol_violation() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    h.receive(Disconnect::new(ReasonCode::ServerBusy));
    let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
    assert!(matches!(violation, ProtocolViolation::UnexpectedPacket(_)));
}

// v5 [MQTT-2.2.1-5] [MQTT-2.2.1-6]; v3.1.1 [MQTT-2.3.1-6] [MQTT-2.3.1-7]: acknowledgements
// pair with what we sent by identifier (and type); a SUBACK or UNSUBACK for an identifier
// that awaits nothing of the kind is a protocol violation, and so is a PUBACK, PUBREC or
// PUBCOMP under `strict_acknowledgements` (by default those are reported and ignored:
// tests/robustness.rs).
#[test]
fn acknowledgements_for_unknown_identifiers_are_protocol_violations() {
    for v in ALL {
        let unsuback_codes = if v.is_v5() {
            vec![ReasonCode::Success]
        } else {
            vec![]
        };
        let cases: Vec<(Packet, &str)> = vec![
            (Packet::PubAck(PubAck::new(pid(9))), "PUBACK"),
            (Packet::PubRec(PubRec::new(pid(9))), "PUBREC"),
            (Packet::PubComp(PubComp::new(pid(9))), "PUBCOMP"),
            (
                Packet::SubAck(SubAck {
                    packet_id: pid(9),
                    reason_codes: vec![ReasonCode::GrantedQoS1],
                    properties: AckProperties::default().into(),
                }),
                "SUBACK",
            ),
            (
                Packet::UnsubAck(UnsubAck {
                    packet_id: pid(9),
                    reason_codes: unsuback_codes,
                    properties: AckProperties::default().into(),
                }),
                "UNSUBACK",
            ),
            // Identifier 1 is a QoS 2 PUBLISH in flight: PUBACK and PUBCOMP do not fit it.
            (Packet::PubAck(PubAck::new(pid(1))), "PUBACK"),
            (Packet::PubComp(PubComp::new(pid(1))), "PUBCOMP"),
        ];
        for (packet, name) in cases {
            let mut o = opts(v);
            o.strict_acknowledgements = true;
            let mut h = Harness::new(o);
            h.connect();
            h.session
                .publish(h.now, msg("t", "x", QoS::ExactlyOnce))
                .unwrap();
            h.drain();
            assert_eq!(h.sent().len(), 1);
            h.receive(packet.clone());
            let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
            assert_eq!(
                violation,
                ProtocolViolation::UnknownPacketId(name),
                "{v:?} {packet:?}"
            );
        }
    }
}

// v5 [MQTT-3.8.4-6]; v3.1.1 [MQTT-3.8.4-5]: a SUBACK with a reason code count other than the
// SUBSCRIBE's filter count is a protocol violation.
#[test]
fn suback_with_the_wrong_number_of_codes_is_a_protocol_violation() {
    for v in ALL {
        let mut h = connected(v);
        h.session
            .subscribe(
                h.now,
                vec![
                    Subscription::new(TopicFilter::try_from("a").unwrap(), QoS::AtMostOnce),
                    Subscription::new(TopicFilter::try_from("b").unwrap(), QoS::AtMostOnce),
                ],
                Default::default(),
            )
            .unwrap();
        h.drain();
        h.sent();
        h.receive(SubAck {
            packet_id: pid(1),
            reason_codes: vec![ReasonCode::Success],
            properties: AckProperties::default().into(),
        });
        let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
        assert_eq!(violation, ProtocolViolation::ReasonCodeCount);
    }
}

// v5 Table 3-10 / B.5 ("packet types only a client sends"); v3.1.1 A.3 [MQTT-4.8.0-1]:
// CONNECT, SUBSCRIBE, UNSUBSCRIBE and PINGREQ from the server are protocol violations.
#[test]
fn client_only_packets_from_the_server_are_protocol_violations() {
    for v in ALL {
        let packets = [
            Packet::from(Connect::new(v, s("intruder"))),
            Packet::Subscribe(Subscribe::new(
                pid(1),
                vec![Subscription::new(
                    TopicFilter::try_from("a").unwrap(),
                    QoS::AtMostOnce,
                )],
            )),
            Packet::Unsubscribe(Unsubscribe::new(
                pid(1),
                vec![TopicFilter::try_from("a").unwrap()],
            )),
            Packet::PingReq,
        ];
        for packet in packets {
            let mut h = connected(v);
            h.receive(packet.clone());
            let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
            assert_eq!(
                decode_error(violation),
                DecodeError::WrongSender {
                    what: packet.packet_type().name()
                },
                "{v:?}"
            );
        }
    }
}

// v3.1.1 A.3 [MQTT-4.8.0-1] (U311-18: DISCONNECT flows client to server only): a
// DISCONNECT from a 3.1 / 3.1.1 server is a protocol violation, not an orderly server
// disconnect: close, sending nothing, and report it as such.
#[test]
fn v3_disconnect_from_the_server_is_a_protocol_violation() {
    for v in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        let mut h = connected(v);
        h.receive_bytes(&[0xE0, 0x00]);
        let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
        assert!(
            matches!(decode_error(violation), DecodeError::WrongSender { .. }),
            "{v:?}"
        );
    }
}

// ----- topic aliases -----

// v5 [MQTT-3.3.2-10] [MQTT-3.1.2-26]: aliases from 1 to our Topic Alias Maximum are
// accepted: a topic binds one, an empty topic uses it; the application sees the topic.
#[test]
fn topic_aliases_up_to_our_maximum_are_resolved() {
    let mut o = opts(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o);
    assert_eq!(h.connect().properties.topic_alias_maximum, Some(2));
    h.receive(aliased(Some("a/b"), 2));
    h.receive(aliased(None, 2));
    h.receive(aliased(Some("c"), 2));
    h.receive(aliased(None, 2));
    let topics: Vec<String> = h
        .take_events()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => {
                assert_eq!(m.publish.properties.topic_alias, None);
                m.publish.topic.as_str().to_owned()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(topics, ["a/b", "a/b", "c", "c"]);
    assert_eq!(h.sent(), vec![]);
}

// v5 [MQTT-3.3.2-8] (U5-20): Topic Alias 0 is invalid: DISCONNECT 0x94.
#[test]
fn topic_alias_zero_is_refused() {
    let mut o = opts(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o);
    h.connect();
    h.receive_bytes(&[0x30, 0x08, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00, b'x']);
    let violation = expect_violation(&mut h, vec![], ReasonCode::TopicAliasInvalid);
    assert_eq!(
        decode_error(violation),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::TopicAlias,
            value: 0
        }
    );
    assert_eq!(h.take_events(), vec![]);
}

// v5 [MQTT-3.3.2-11] [MQTT-3.1.2-26] [MQTT-3.1.2-27]: a Topic Alias above our maximum (or
// any alias when we declared none) is invalid: DISCONNECT 0x94.
#[test]
fn topic_alias_above_our_maximum_is_refused() {
    for (maximum, alias) in [(2u16, 3u16), (0, 1)] {
        let mut o = opts(ProtocolVersion::V5);
        o.topic_alias_maximum = maximum;
        let mut h = Harness::new(o);
        h.connect();
        h.receive(aliased(Some("t"), alias));
        let violation = expect_violation(&mut h, vec![], ReasonCode::TopicAliasInvalid);
        assert_eq!(
            violation,
            ProtocolViolation::TopicAlias(ReasonCode::TopicAliasInvalid)
        );
    }
}

// v5 U5-20 [MQTT-3.3.2-7]: an empty topic with an alias never bound on this connection is a
// Protocol Error (0x82); bindings do not survive a reconnect.
#[test]
fn unknown_topic_alias_is_a_protocol_error() {
    let mut o = opts(ProtocolVersion::V5);
    o.topic_alias_maximum = 2;
    let mut h = Harness::new(o.clone());
    h.connect();
    h.receive(aliased(None, 1));
    let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
    assert_eq!(
        violation,
        ProtocolViolation::TopicAlias(ReasonCode::ProtocolError)
    );

    let mut h = Harness::new(o);
    h.connect();
    h.receive(aliased(Some("a/b"), 1));
    assert_eq!(h.take_events().len(), 1);
    h.reconnect(ok());
    h.take_events();
    // The server answers a ping: the connection proved itself, so the back-off after the
    // violation starts from its minimum.
    h.advance(secs(60));
    assert_eq!(h.sent(), vec![Packet::PingReq]);
    h.receive(Packet::PingResp);
    h.receive(aliased(None, 1));
    expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
}

// ----- our limits -----

// v5 [MQTT-3.1.2-24] U5-14: a packet over our Maximum Packet Size is refused as soon as
// its fixed header is in: DISCONNECT 0x95. One of exactly that size is taken.
#[test]
fn packet_over_our_maximum_packet_size_is_refused() {
    let mut o = opts(ProtocolVersion::V5);
    o.maximum_packet_size = Some(32);
    let mut h = Harness::new(o);
    assert_eq!(
        h.connect().properties.maximum_packet_size,
        NonZeroU32::new(32)
    );
    // QoS 0 "t": 2 + 3 + 1 + payload = 32.
    h.receive(Publish::new(
        TopicName::try_from("t").unwrap(),
        Bytes::from(vec![b'p'; 26]),
    ));
    assert_eq!(h.take_events().len(), 1);
    h.receive_bytes(&[0x30, 0x7F]);
    let violation = expect_violation(&mut h, vec![], ReasonCode::PacketTooLarge);
    assert_eq!(
        decode_error(violation),
        DecodeError::PacketTooLarge {
            size: 129,
            maximum: 32
        }
    );
}

// v5 [MQTT-3.3.4-9]: in strict mode, more unacknowledged QoS 1/2 PUBLISHes than our Receive
// Maximum end the connection with DISCONNECT 0x93; the excess is not delivered.
#[test]
fn receive_maximum_exceeded_in_strict_mode() {
    let mut o = opts(ProtocolVersion::V5);
    o.receive_maximum = 2;
    o.strict_receive_maximum = true;
    let mut h = Harness::new(o);
    assert_eq!(h.connect().properties.receive_maximum, NonZeroU16::new(2));
    h.receive(incoming("t", QoS::ExactlyOnce, 1));
    h.receive(incoming("t", QoS::ExactlyOnce, 2));
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubRec(PubRec::new(pid(1))),
            Packet::PubRec(PubRec::new(pid(2)))
        ]
    );
    assert_eq!(h.take_events().len(), 2);
    h.receive(incoming("t", QoS::ExactlyOnce, 3));
    let violation = expect_violation(&mut h, vec![], ReasonCode::ReceiveMaximumExceeded);
    assert_eq!(violation, ProtocolViolation::ReceiveMaximumExceeded);
}

// v5 [MQTT-3.3.4-9] with manual acknowledgements: QoS 1 messages count until acknowledged.
#[test]
fn receive_maximum_counts_unacknowledged_qos1_in_strict_mode() {
    let mut o = opts(ProtocolVersion::V5);
    o.receive_maximum = 1;
    o.strict_receive_maximum = true;
    o.auto_ack = false;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(incoming("t", QoS::AtLeastOnce, 1));
    let token = match <[_; 1]>::try_from(h.take_events()) {
        Ok([Event::Message(m)]) => m.ack.unwrap(),
        other => panic!("{other:?}"),
    };
    h.session
        .acknowledge(h.now, token, ReasonCode::Success)
        .unwrap();
    h.drain();
    assert_eq!(h.sent(), vec![Packet::PubAck(PubAck::new(pid(1)))]);
    h.receive(incoming("t", QoS::AtLeastOnce, 2));
    assert_eq!(h.take_events().len(), 1);
    h.receive(incoming("t", QoS::AtLeastOnce, 3));
    expect_violation(&mut h, vec![], ReasonCode::ReceiveMaximumExceeded);
}

// v5 [MQTT-3.3.4-9] (tolerant mode; BROKERS.md: mosquitto exceeds it at QoS 2): by
// default the excess is processed and answered.
#[test]
fn receive_maximum_exceeded_is_tolerated_by_default() {
    let mut o = opts(ProtocolVersion::V5);
    o.receive_maximum = 1;
    let mut h = Harness::new(o);
    h.connect();
    h.receive(incoming("t", QoS::ExactlyOnce, 1));
    h.receive(incoming("t", QoS::ExactlyOnce, 2));
    assert_eq!(
        h.sent(),
        vec![
            Packet::PubRec(PubRec::new(pid(1))),
            Packet::PubRec(PubRec::new(pid(2)))
        ]
    );
    assert_eq!(h.take_events().len(), 2);
    assert_eq!(h.take_actions(), vec![]);
    assert!(h.session.is_connected());
}

// v5 [MQTT-3.1.2-29]: after Request Problem Information 0, a Reason String or User Property
// on anything but PUBLISH, CONNACK or DISCONNECT is a Protocol Error (DISCONNECT 0x82).
#[test]
fn problem_information_after_request_problem_information_0_is_a_protocol_error() {
    let mut o = opts(ProtocolVersion::V5);
    o.request_problem_information = Some(false);
    let mut h = Harness::new(o.clone());
    let mut connack = ok();
    connack.properties.reason_string = Some(s("allowed on CONNACK"));
    let c = h.connect_with(connack);
    assert_eq!(c.properties.request_problem_information, Some(false));
    assert!(matches!(h.take_events().as_slice(), [Event::Connected(_)]));
    h.session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    h.sent();
    let mut ack = PubAck::new(pid(1));
    ack.properties.reason_string = Some(s("not allowed here"));
    h.receive(ack);
    expect_violation(&mut h, vec![], ReasonCode::ProtocolError);

    let mut h = Harness::new(o);
    h.connect();
    h.session
        .subscribe(
            h.now,
            vec![Subscription::new(
                TopicFilter::try_from("a").unwrap(),
                QoS::AtMostOnce,
            )],
            Default::default(),
        )
        .unwrap();
    h.drain();
    h.sent();
    h.receive(SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties {
            reason_string: None,
            user_properties: vec![UserProperty::new(s("k"), s("v"))],
        }
        .into(),
    });
    expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
}

// v5 §3.1.2.11.7: with problem information requested (the default), a Reason String on an
// acknowledgement is fine.
#[test]
fn problem_information_is_accepted_by_default() {
    let mut h = connected(ProtocolVersion::V5);
    let op = h
        .session
        .publish(h.now, msg("t", "x", QoS::AtLeastOnce))
        .unwrap();
    h.drain();
    h.sent();
    let mut ack = PubAck::new(pid(1));
    ack.properties.reason_string = Some(s("fine"));
    h.receive(ack);
    assert_eq!(
        h.take_events(),
        vec![Event::PublishCompleted {
            id: op,
            reason_code: ReasonCode::Success
        }]
    );
    assert_eq!(h.take_actions(), vec![]);
}

// ----- what happens after the error -----

// v5 [MQTT-3.14.4-1] [MQTT-3.14.4-2] U5-42: the error DISCONNECT is the last packet: what
// follows the bad packet in the same read is not processed (no PUBACK, no delivery), what
// came before it is; later input on the dead connection is ignored.
#[test]
fn nothing_is_sent_after_the_error_disconnect() {
    for v in ALL {
        let mut h = connected(v);
        let mut buf = BytesMut::new();
        let mut push = |p: Packet| {
            mqtt_proto::Encode::encode(&p, v, &mut buf).unwrap();
        };
        push(Packet::Publish(incoming("before", QoS::AtLeastOnce, 1)));
        buf.extend_from_slice(&[0x41, 0x02, 0x00, 0x01]);
        let mut after = BytesMut::new();
        mqtt_proto::Encode::encode(
            &Packet::Publish(incoming("after", QoS::AtLeastOnce, 2)),
            v,
            &mut after,
        )
        .unwrap();
        buf.extend_from_slice(&after);
        h.session.handle_read(h.now, &mut buf);
        h.drain();
        assert!(buf.is_empty());
        let events = h.take_events();
        assert!(
            matches!(&events[0], Event::Message(m) if m.publish.topic.as_str() == "before"),
            "{events:?}"
        );
        h.events = events[1..].to_vec();
        expect_violation(
            &mut h,
            vec![Packet::PubAck(PubAck::new(pid(1)))],
            ReasonCode::MalformedPacket,
        );
        // The dead connection's bytes, and its keep-alive, give nothing.
        h.receive(incoming("late", QoS::AtLeastOnce, 3));
        h.session.handle_timeout(h.now);
        h.drain();
        assert_eq!(
            (h.sent(), h.take_events(), h.take_actions()),
            (vec![], vec![], vec![])
        );
        // The driver closes the transport as asked: that is no second disconnection.
        h.session.handle_closed(h.now);
        h.drain();
        assert_eq!(h.take_events(), vec![]);
    }
}

// v5 [MQTT-4.13.2-1]: once the error is decided the connection is closed, even when the
// DISCONNECT cannot be sent (here: it would exceed the server's Maximum Packet Size).
#[test]
fn the_connection_closes_even_if_the_disconnect_cannot_be_sent() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    let mut connack = ok();
    connack.properties.maximum_packet_size = NonZeroU32::new(2);
    h.connect_with(connack);
    h.take_events();
    h.receive_bytes(&[0x41, 0x02, 0x00, 0x01]);
    assert_eq!(h.sent(), vec![]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::Disconnected {
            reason: DisconnectReason::ProtocolViolation(_),
            reconnect_at: Some(_)
        }]
    ));
}

// U5-42 [MQTT-4.8.0-1] (v3.1.1): "never a panic" — arbitrary bytes from the server, in any
// state, for every version. Whatever happens, the client's bytes decode as valid packets,
// and when it closes over a violation under 5.0 its last packet is the DISCONNECT with the
// violation's reason code (under 3.1 / 3.1.1, no DISCONNECT at all).
#[test]
fn arbitrary_input_never_panics_and_ends_cleanly() {
    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut ended, mut survived) = (0, 0);
    for round in 0..3_000 {
        let v = ALL[round % 3];
        let mut o = opts(v);
        o.topic_alias_maximum = 4;
        o.maximum_packet_size = Some(64);
        o.receive_maximum = 3;
        o.strict_receive_maximum = round % 2 == 0;
        let mut h = Harness::new(o);
        if round % 4 == 0 {
            h.open();
        } else {
            h.connect();
            let _ = h
                .session
                .publish(h.now, msg("t", "x", QoS::ExactlyOnce))
                .unwrap();
            h.drain();
            h.sent();
        }
        let mut server = Decoder::new(v).with_sender(Role::Client);
        for _ in 0..=(round / 3) % 4 {
            let bytes = fuzz_input(v, &mut next);
            let mut buf = BytesMut::from(&bytes[..]);
            h.session.handle_read(h.now, &mut buf);
            h.drain();
            h.now = h.now + secs(1);
            h.session.handle_timeout(h.now);
            h.drain();
        }
        let mut written = BytesMut::new();
        // `sent` decodes everything written; it panics on a malformed packet.
        let sent = h.sent();
        for p in &sent {
            mqtt_proto::Encode::encode(p, v, &mut written).unwrap();
        }
        let mut check = Vec::new();
        while let Some(p) = server.decode(&mut written).unwrap() {
            check.push(p);
        }
        assert_eq!(check, sent);
        let violation = h.events.iter().find_map(|e| match e {
            Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(p),
                ..
            } => Some(p.clone()),
            _ => None,
        });
        let disconnects: Vec<&Packet> = sent
            .iter()
            .filter(|p| matches!(p, Packet::Disconnect(_)))
            .collect();
        match violation {
            Some(violation) if v.is_v5() => {
                assert_eq!(
                    disconnects,
                    vec![&Packet::Disconnect(Disconnect::new(
                        violation.reason_code()
                    ))],
                    "round {round}"
                );
                assert!(matches!(sent.last(), Some(Packet::Disconnect(_))));
                assert!(h.actions.contains(&Action::Close));
            }
            Some(_) => {
                assert!(disconnects.is_empty(), "round {round}");
                assert!(h.actions.contains(&Action::Close));
            }
            None => assert!(disconnects.is_empty(), "round {round}: {sent:?}"),
        }
        if h.session.is_connected() {
            survived += 1;
        } else {
            ended += 1;
        }
    }
    // The input reaches both outcomes often.
    assert!(ended > 300 && survived > 200, "{ended} {survived}");
}

/// One read's worth of server bytes: a valid packet, a valid packet with one byte changed
/// or cut short, or noise.
fn fuzz_input(v: ProtocolVersion, next: &mut impl FnMut() -> u64) -> Vec<u8> {
    let id = pid(1 + (next() % 3) as u16);
    let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][(next() % 3) as usize];
    let mut publish = msg("t/x", "payload", qos);
    if qos != QoS::AtMostOnce {
        publish = publish.with_qos(qos, Some(id));
    }
    if v.is_v5() && next().is_multiple_of(3) {
        publish.properties.topic_alias = NonZeroU16::new(1 + (next() % 5) as u16);
        if next().is_multiple_of(2) {
            publish.topic = TopicName::empty();
        }
    }
    let mut packets = vec![
        Packet::Publish(publish),
        Packet::PubAck(PubAck::new(id)),
        Packet::PubRec(PubRec::new(id)),
        Packet::PubComp(PubComp::new(id)),
        Packet::PingResp,
        Packet::from(ok()),
        Packet::SubAck(SubAck {
            packet_id: id,
            reason_codes: vec![ReasonCode::GrantedQoS1],
            properties: AckProperties::default().into(),
        }),
    ];
    if v.is_v5() {
        packets.push(Packet::Disconnect(Disconnect::new(ReasonCode::ServerBusy)));
        packets.push(Packet::Auth(mqtt_proto::Auth::new(
            ReasonCode::ContinueAuthentication,
            s("M"),
            None,
        )));
    }
    let packet = &packets[(next() % packets.len() as u64) as usize];
    let mut buf = BytesMut::new();
    // Some of these cannot be encoded under some versions: fall back to noise.
    let _ = mqtt_proto::Encode::encode(packet, v, &mut buf);
    let mut bytes = buf.to_vec();
    match next() % 6 {
        0..=2 => {}
        3 if !bytes.is_empty() => {
            let i = (next() % bytes.len() as u64) as usize;
            bytes[i] ^= 1 << (next() % 8);
        }
        4 if !bytes.is_empty() => {
            let cut = (next() % bytes.len() as u64) as usize;
            bytes.truncate(cut);
        }
        _ => {
            let len = (next() % 24) as usize;
            bytes = (0..len).map(|_| next() as u8).collect();
        }
    }
    bytes
}

// ----- the server's DISCONNECT -----

// v5 U5-31 [MQTT-4.13.2-1] (B.5 reaction 2): a server DISCONNECT is reported with its
// reason code and Reason String; the client closes, sends nothing, and reconnects.
#[test]
fn server_disconnect_is_reported_with_its_reason() {
    for code in [
        ReasonCode::NORMAL_DISCONNECTION,
        ReasonCode::ServerShuttingDown,
        ReasonCode::SessionTakenOver,
        ReasonCode::KeepAliveTimeout,
    ] {
        let mut h = connected(ProtocolVersion::V5);
        let mut d = Disconnect::new(code);
        d.properties.reason_string = Some(s("maintenance"));
        h.receive(d);
        assert_eq!(h.sent(), vec![]);
        assert_eq!(h.take_actions(), vec![Action::Close]);
        assert_eq!(
            h.take_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::ServerDisconnect {
                    reason_code: code,
                    reason_string: Some(s("maintenance")),
                },
                reconnect_at: Some(h.now + FIRST_DELAY),
            }]
        );
        h.advance(FIRST_DELAY);
        assert_eq!(
            h.take_actions(),
            vec![Action::Open {
                server: "test:1883".into()
            }]
        );
    }
}

// v5 [MQTT-3.14.2-2]: a server DISCONNECT never carries a Session Expiry Interval; one
// that does is a Protocol Error.
#[test]
fn server_disconnect_with_session_expiry_is_a_protocol_error() {
    let mut h = connected(ProtocolVersion::V5);
    let mut d = Disconnect::new(ReasonCode::ServerShuttingDown);
    d.properties.session_expiry_interval = Some(0);
    h.receive(d);
    let violation = expect_violation(&mut h, vec![], ReasonCode::ProtocolError);
    assert!(matches!(
        decode_error(violation),
        DecodeError::WrongSender { .. }
    ));
}

fn redirect(code: ReasonCode, reference: &str) -> Disconnect {
    Disconnect {
        reason_code: code,
        properties: DisconnectProperties {
            server_reference: Some(s(reference)),
            ..DisconnectProperties::default()
        }
        .into(),
    }
}

/// The next Action::Open after the reconnect timer, then connects there.
fn next_open(h: &mut Harness) -> String {
    h.fire_timer();
    let actions = h.take_actions();
    let [Action::Open { server }] = actions.as_slice() else {
        panic!("{actions:?}")
    };
    h.session.handle_connected(h.now);
    h.drain();
    assert!(matches!(h.sent().as_slice(), [Packet::Connect(_)]));
    h.receive(ok());
    assert!(h.session.is_connected());
    h.take_events();
    server.clone()
}

// v5 U5-40 (§4.11): DISCONNECT 0x9C Use another server with a Server Reference: the next
// attempt, at once, goes to the first referenced server; only that one (temporary).
#[test]
fn use_another_server_redirects_the_next_attempt_only() {
    let mut h = connected(ProtocolVersion::V5);
    h.receive(redirect(
        ReasonCode::UseAnotherServer,
        "other:1884 third:1885",
    ));
    assert_eq!(h.sent(), vec![]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::ServerDisconnect {
                reason_code: ReasonCode::UseAnotherServer,
                reason_string: None,
            },
            reconnect_at: Some(h.now),
        }]
    );
    assert_eq!(next_open(&mut h), "other:1884");
    h.session.handle_closed(h.now);
    h.drain();
    assert_eq!(next_open(&mut h), "test:1883");
}

// v5 U5-40 (§4.11): DISCONNECT 0x9D Server moved: the referenced server replaces ours for
// good.
#[test]
fn server_moved_replaces_the_server() {
    let mut h = connected(ProtocolVersion::V5);
    h.receive(redirect(ReasonCode::ServerMoved, "moved:1883"));
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::Disconnected {
            reason: DisconnectReason::ServerDisconnect {
                reason_code: ReasonCode::ServerMoved,
                ..
            },
            ..
        }]
    ));
    assert_eq!(next_open(&mut h), "moved:1883");
    h.session.handle_closed(h.now);
    h.drain();
    assert_eq!(next_open(&mut h), "moved:1883");
}

// v5 U5-40 [MQTT-3.2.2-7]: a CONNACK 0x9C with a Server Reference refuses this attempt and
// sends the next one to the referenced server.
#[test]
fn connack_use_another_server_redirects() {
    let mut h = Harness::new(opts(ProtocolVersion::V5));
    h.open();
    let mut connack = ConnAck::new(ReasonCode::UseAnotherServer);
    connack.properties.server_reference = Some(s("other:1884"));
    h.receive(connack);
    assert_eq!(h.sent(), vec![]);
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert_eq!(
        h.take_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::Refused {
                reason_code: ReasonCode::UseAnotherServer,
                reason_string: None,
            },
            reconnect_at: Some(h.now),
        }]
    );
    assert_eq!(next_open(&mut h), "other:1884");
}

// v5 U5-40: without a Server Reference there is nowhere to go: the usual back-off, same
// server.
#[test]
fn redirect_without_a_reference_reconnects_as_usual() {
    let mut h = connected(ProtocolVersion::V5);
    h.receive(Disconnect::new(ReasonCode::UseAnotherServer));
    assert_eq!(h.take_actions(), vec![Action::Close]);
    assert!(matches!(
        h.take_events().as_slice(),
        [Event::Disconnected {
            reconnect_at: Some(at),
            ..
        }] if *at == h.now + FIRST_DELAY
    ));
    assert_eq!(next_open(&mut h), "test:1883");
}
