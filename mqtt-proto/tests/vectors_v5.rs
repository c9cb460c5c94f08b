//! Byte vectors for MQTT 5.0, written by hand from the packet layouts of the
//! specification (fixed header, variable header, properties, payload), checked in both
//! directions: the bytes decode to the packet, the packet encodes to the bytes.
//!
//! The specification lets properties appear in any order; the vectors that are also
//! encoded list them in the order this encoder writes them, and
//! `publish_v5_properties_in_any_order` checks that decoding does not depend on it.

mod vectors_common;

use core::num::{NonZeroU16, NonZeroU32};

use bytes::Bytes;
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, Disconnect, DisconnectProperties, Encode, FixedHeader, Packet, PacketId,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS, ReasonCode,
    RetainHandling, SubAck, Subscribe, SubscribeProperties, Subscription, SubscriptionOptions,
    TopicName, UnsubAck, Unsubscribe, UnsubscribeProperties, Will, WillProperties,
};
use vectors_common::{
    assert_decodes, cat, check_vector, filter, pid, remaining_length_bytes, s, topic, user,
};

const V5: ProtocolVersion = ProtocolVersion::V5;

fn publish(
    dup: bool,
    qos: QoS,
    retain: bool,
    t: &'static str,
    packet_id: Option<u16>,
    payload: &'static [u8],
) -> Publish {
    Publish {
        dup,
        qos,
        retain,
        topic: topic(t),
        packet_id: packet_id.map(pid),
        payload: Bytes::from_static(payload),
        properties: PublishProperties::default().into(),
    }
}

/// The acknowledgement whose first byte is `first` (fixed header table: 0x40 PUBACK, 0x50
/// PUBREC, 0x62 PUBREL, 0x70 PUBCOMP).
fn ack(
    first: u8,
    packet_id: PacketId,
    reason_code: ReasonCode,
    properties: AckProperties,
) -> Packet {
    match first {
        0x40 => PubAck {
            packet_id,
            reason_code,
            properties: properties.into(),
        }
        .into(),
        0x50 => PubRec {
            packet_id,
            reason_code,
            properties: properties.into(),
        }
        .into(),
        0x62 => PubRel {
            packet_id,
            reason_code,
            properties: properties.into(),
        }
        .into(),
        0x70 => PubComp {
            packet_id,
            reason_code,
            properties: properties.into(),
        }
        .into(),
        _ => unreachable!("not an acknowledgement: {first:#04x}"),
    }
}

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

#[test]
fn connect_v5_minimal() {
    // U5-12: protocol name "MQTT", version 5. [MQTT-2.2.2-1]: no properties is a Property
    // Length of 0. [MQTT-3.1.3-3]: the client identifier comes first in the payload.
    let bytes = cat(&[
        &[0x10, 0x10], // remaining length 16
        &[0x00, 0x04],
        b"MQTT",
        &[0x05], // protocol version 5
        &[0x02], // Clean Start
        &[0x00, 0x3C],
        &[0x00], // property length 0
        &[0x00, 0x03],
        b"abc",
    ]);
    check_vector(V5, &bytes, Connect::new(ProtocolVersion::V5, s("abc")));
}

fn full_connect() -> (Vec<u8>, Connect) {
    let bytes = cat(&[
        &[0x10, 0x7D], // remaining length 125
        &[0x00, 0x04],
        b"MQTT",
        &[0x05],
        // User Name 0x80 | Password 0x40 | Will Retain 0x20 | Will QoS 2 0x10 |
        // Will Flag 0x04; Clean Start 0
        &[0xF4],
        &[0x00, 0x1E],                                     // keep alive 30
        &[0x31],                                           // property length 49
        &[0x11, 0x00, 0x00, 0x0E, 0x10],                   // Session Expiry Interval 3600
        &[0x21, 0x00, 0x14],                               // Receive Maximum 20
        &[0x27, 0x00, 0x00, 0x10, 0x00],                   // Maximum Packet Size 4096
        &[0x22, 0x00, 0x0A],                               // Topic Alias Maximum 10
        &[0x19, 0x01],                                     // Request Response Information 1
        &[0x17, 0x00],                                     // Request Problem Information 0
        &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],       // User Property k=v
        &[0x26, 0x00, 0x01, b'k', 0x00, 0x02, b'v', b'2'], // User Property k=v2
        &[0x15, 0x00, 0x05],
        b"PLAIN",                              // Authentication Method
        &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03], // Authentication Data
        // payload
        &[0x00, 0x03],
        b"cid",                          // client identifier
        &[0x2C],                         // will property length 44
        &[0x18, 0x00, 0x00, 0x00, 0x05], // Will Delay Interval 5
        &[0x01, 0x01],                   // Payload Format Indicator 1
        &[0x02, 0x00, 0x00, 0x00, 0x3C], // Message Expiry Interval 60
        &[0x03, 0x00, 0x0A],
        b"text/plain", // Content Type
        &[0x08, 0x00, 0x04],
        b"resp",                                     // Response Topic
        &[0x09, 0x00, 0x02, 0xCA, 0xFE],             // Correlation Data
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'b'], // User Property a=b
        &[0x00, 0x01],
        b"w", // will topic
        &[0x00, 0x04],
        b"gone", // will payload
        &[0x00, 0x01],
        b"u", // user name
        &[0x00, 0x01],
        b"p", // password
    ]);
    let expected = Connect {
        protocol_version: V5,
        clean_start: false,
        keep_alive: 30,
        client_id: s("cid"),
        will: Some(Will {
            topic: topic("w"),
            payload: Bytes::from_static(b"gone"),
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: WillProperties {
                will_delay_interval: Some(5),
                payload_format_indicator: Some(true),
                message_expiry_interval: Some(60),
                content_type: Some(s("text/plain")),
                response_topic: Some(topic("resp")),
                correlation_data: Some(Bytes::from_static(&[0xCA, 0xFE])),
                user_properties: vec![user("a", "b")],
            },
        }),
        user_name: Some(s("u")),
        password: Some(Bytes::from_static(b"p")),
        properties: ConnectProperties {
            session_expiry_interval: Some(3600),
            receive_maximum: NonZeroU16::new(20),
            maximum_packet_size: NonZeroU32::new(4096),
            topic_alias_maximum: Some(10),
            request_response_information: Some(true),
            request_problem_information: Some(false),
            user_properties: vec![user("k", "v"), user("k", "v2")],
            authentication_method: Some(s("PLAIN")),
            authentication_data: Some(Bytes::from_static(&[1, 2, 3])),
        },
    };
    (bytes, expected)
}

#[test]
fn connect_v5_properties_will_properties_user_name_password() {
    // §3.1.2.11: CONNECT properties after Keep Alive; User Property repeats with the same
    // name, order kept (U5-10). [MQTT-3.1.2-9]: Will Flag 1 puts Will Properties, Will
    // Topic and Will Payload in the payload; [MQTT-3.1.3-1]: payload order Client
    // Identifier, Will Properties, Will Topic, Will Payload, User Name, Password.
    // [MQTT-3.1.2-12]: Will QoS 2.
    let (bytes, expected) = full_connect();
    assert_eq!(bytes.len(), 2 + 125);
    check_vector(V5, &bytes, expected);
}

#[test]
fn connect_v5_protocol_version_is_read_from_the_packet() {
    // A server decodes CONNECT before it knows the version: the level byte in the packet
    // decides (U5-12).
    let (bytes, expected) = full_connect();
    for decoder_version in [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1] {
        assert_eq!(
            Packet::decode(Bytes::from(bytes.clone()), decoder_version),
            Ok(expected.clone().into())
        );
    }
}

#[test]
fn connect_v5_password_without_user_name() {
    // [MQTT-3.1.2-19]: Password Flag 1 with a Password; 5.0 allows it without a User Name.
    let bytes = cat(&[
        &[0x10, 0x14], // remaining length 20
        &[0x00, 0x04],
        b"MQTT",
        &[0x05, 0x42, 0x00, 0x3C, 0x00],
        &[0x00, 0x03],
        b"abc",
        &[0x00, 0x02],
        b"s3",
    ]);
    let mut expected = Connect::new(V5, s("abc"));
    expected.password = Some(Bytes::from_static(b"s3"));
    check_vector(V5, &bytes, expected);
}

#[test]
fn connect_v5_will_without_properties_empty_client_id() {
    // [MQTT-3.1.2-9], [MQTT-2.2.2-1]: the Will Properties are present as a Property Length
    // of 0. [MQTT-3.1.3-3]: a zero-length client identifier is still written. Will QoS 0.
    let bytes = cat(&[
        &[0x10, 0x13], // remaining length 19
        &[0x00, 0x04],
        b"MQTT",
        &[0x05, 0x06, 0x00, 0x00, 0x00], // Will Flag | Clean Start, keep alive 0, no props
        &[0x00, 0x00],                   // client identifier ""
        &[0x00],                         // will property length 0
        &[0x00, 0x01],
        b"a",          // will topic
        &[0x00, 0x00], // empty will payload
    ]);
    let mut expected = Connect::new(V5, s(""));
    expected.keep_alive = 0;
    expected.will = Some(Will::new(topic("a"), Bytes::new()));
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------

#[test]
fn connack_v5_minimal() {
    // §3.2.2: flags, reason code, Property Length 0 ([MQTT-2.2.2-1]).
    check_vector(
        V5,
        &[0x20, 0x03, 0x00, 0x00, 0x00],
        ConnAck::new(ReasonCode::Success),
    );
}

#[test]
fn connack_v5_session_present() {
    // [MQTT-3.2.2-1]: only bit 0 of the acknowledge flags, Session Present, may be set.
    let mut expected = ConnAck::new(ReasonCode::Success);
    expected.session_present = true;
    check_vector(V5, &[0x20, 0x03, 0x01, 0x00, 0x00], expected);
}

#[test]
fn connack_v5_every_connect_reason_code() {
    // [MQTT-3.2.2-8]: the Connect Reason Codes of Table 3-1.
    let codes = [
        (0x00, ReasonCode::Success),
        (0x80, ReasonCode::UnspecifiedError),
        (0x81, ReasonCode::MalformedPacket),
        (0x82, ReasonCode::ProtocolError),
        (0x83, ReasonCode::ImplementationSpecificError),
        (0x84, ReasonCode::UnsupportedProtocolVersion),
        (0x85, ReasonCode::ClientIdentifierNotValid),
        (0x86, ReasonCode::BadUserNameOrPassword),
        (0x87, ReasonCode::NotAuthorized),
        (0x88, ReasonCode::ServerUnavailable),
        (0x89, ReasonCode::ServerBusy),
        (0x8A, ReasonCode::Banned),
        (0x8C, ReasonCode::BadAuthenticationMethod),
        (0x90, ReasonCode::TopicNameInvalid),
        (0x95, ReasonCode::PacketTooLarge),
        (0x97, ReasonCode::QuotaExceeded),
        (0x99, ReasonCode::PayloadFormatInvalid),
        (0x9A, ReasonCode::RetainNotSupported),
        (0x9B, ReasonCode::QoSNotSupported),
        (0x9C, ReasonCode::UseAnotherServer),
        (0x9D, ReasonCode::ServerMoved),
        (0x9F, ReasonCode::ConnectionRateExceeded),
    ];
    for (raw, code) in codes {
        check_vector(V5, &[0x20, 0x03, 0x00, raw, 0x00], ConnAck::new(code));
    }
}

#[test]
fn connack_v5_refusal_with_session_present_is_rejected() {
    // [MQTT-3.2.2-6]: a non-zero reason code goes with Session Present 0.
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x20, 0x03, 0x01, 0x87, 0x00]), V5),
        Err(DecodeError::InvalidConnAckFlags(0x01))
    );
}

#[test]
fn connack_v5_refusal_with_session_present_cannot_be_encoded() {
    // [MQTT-3.2.2-6]: a CONNACK with a non-zero reason code has Session Present 0. The
    // decoder refuses 20 03 01 87 00 (connack_v5_refusal_with_session_present_is_rejected);
    // the encoder must not produce it.
    let connack = ConnAck {
        session_present: true,
        reason_code: ReasonCode::NotAuthorized,
        properties: ConnAckProperties::default(),
    };
    let mut buf = bytes::BytesMut::new();
    let result = connack.encode(V5, &mut buf);
    assert!(
        result.is_err(),
        "encoded a CONNACK with Session Present and reason 0x87: {}",
        vectors_common::hex(&buf)
    );
    assert!(connack.encoded_len(V5).is_err());
}

#[test]
fn connack_v5_with_properties() {
    // §3.2.2.3 properties (B.3 table), each once; Maximum QoS 1 and the *Available bytes
    // 0/1 (U5-18).
    let bytes = cat(&[
        &[0x20, 0x46],                   // remaining length 70
        &[0x01],                         // Session Present
        &[0x00],                         // Success
        &[0x43],                         // property length 67
        &[0x11, 0x00, 0x00, 0x00, 0x78], // Session Expiry Interval 120
        &[0x21, 0x00, 0x64],             // Receive Maximum 100
        &[0x24, 0x01],                   // Maximum QoS 1
        &[0x25, 0x00],                   // Retain Available 0
        &[0x27, 0x00, 0x01, 0x00, 0x00], // Maximum Packet Size 65536
        &[0x12, 0x00, 0x04],
        b"auto",             // Assigned Client Identifier
        &[0x22, 0x00, 0x05], // Topic Alias Maximum 5
        &[0x1F, 0x00, 0x02],
        b"ok",                                       // Reason String
        &[0x26, 0x00, 0x01, b'x', 0x00, 0x01, b'y'], // User Property
        &[0x28, 0x00],                               // Wildcard Subscription Available 0
        &[0x29, 0x01],                               // Subscription Identifier Available 1
        &[0x2A, 0x00],                               // Shared Subscription Available 0
        &[0x13, 0x00, 0x1E],                         // Server Keep Alive 30
        &[0x1A, 0x00, 0x04],
        b"res/", // Response Information
        &[0x15, 0x00, 0x05],
        b"PLAIN",                  // Authentication Method
        &[0x16, 0x00, 0x01, 0xFF], // Authentication Data
    ]);
    let expected = ConnAck {
        session_present: true,
        reason_code: ReasonCode::Success,
        properties: ConnAckProperties {
            session_expiry_interval: Some(120),
            receive_maximum: NonZeroU16::new(100),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            maximum_packet_size: NonZeroU32::new(65536),
            assigned_client_identifier: Some(s("auto")),
            topic_alias_maximum: Some(5),
            reason_string: Some(s("ok")),
            user_properties: vec![user("x", "y")],
            wildcard_subscription_available: Some(false),
            subscription_identifier_available: Some(true),
            shared_subscription_available: Some(false),
            server_keep_alive: Some(30),
            response_information: Some(s("res/")),
            server_reference: None,
            authentication_method: Some(s("PLAIN")),
            authentication_data: Some(Bytes::from_static(&[0xFF])),
        },
    };
    check_vector(V5, &bytes, expected);
}

#[test]
fn connack_v5_use_another_server() {
    // U5-40: 0x9C Use another server with a Server Reference (and a Reason String).
    let bytes = cat(&[
        &[0x20, 0x17, 0x00, 0x9C, 0x14], // remaining length 23, property length 20
        &[0x1F, 0x00, 0x04],
        b"busy",
        &[0x1C, 0x00, 0x0A],
        b"other:1883",
    ]);
    let expected = ConnAck {
        session_present: false,
        reason_code: ReasonCode::UseAnotherServer,
        properties: ConnAckProperties {
            reason_string: Some(s("busy")),
            server_reference: Some(s("other:1883")),
            ..ConnAckProperties::default()
        },
    };
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------

#[test]
fn publish_v5_qos0() {
    // [MQTT-3.3.2-1] Topic Name, [MQTT-2.2.1-2] no Packet Identifier at QoS 0,
    // [MQTT-2.2.2-1] Property Length 0, then the payload.
    let bytes = cat(&[&[0x30, 0x08, 0x00, 0x03], b"a/b", &[0x00], b"hi"]);
    check_vector(
        V5,
        &bytes,
        publish(false, QoS::AtMostOnce, false, "a/b", None, b"hi"),
    );
}

#[test]
fn publish_v5_qos1() {
    // §3.3.2: [MQTT-2.2.1-3] a QoS 1 PUBLISH has a non-zero Packet Identifier, between
    // the Topic Name and the Property Length.
    let bytes = cat(&[
        &[0x32, 0x0A, 0x00, 0x03],
        b"a/b",
        &[0x00, 0x01, 0x00],
        b"hi",
    ]);
    check_vector(
        V5,
        &bytes,
        publish(false, QoS::AtLeastOnce, false, "a/b", Some(1), b"hi"),
    );
}

#[test]
fn publish_v5_qos2_dup_retain() {
    // First byte 0011 1101: DUP ([MQTT-3.3.1-1]), QoS 2, RETAIN.
    let bytes = cat(&[
        &[0x3D, 0x0A, 0x00, 0x03],
        b"a/b",
        &[0x12, 0x34, 0x00],
        b"hi",
    ]);
    check_vector(
        V5,
        &bytes,
        publish(true, QoS::ExactlyOnce, true, "a/b", Some(0x1234), b"hi"),
    );
}

#[test]
fn publish_v5_empty_payload() {
    // U5-24: a zero-length payload is legal; the packet ends after the Property Length.
    let bytes = cat(&[&[0x31, 0x06, 0x00, 0x03], b"a/b", &[0x00]]);
    check_vector(
        V5,
        &bytes,
        publish(false, QoS::AtMostOnce, true, "a/b", None, b""),
    );
}

fn every_publish_property() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(300),
        topic_alias: NonZeroU16::new(5),
        response_topic: Some(topic("rsp/1")),
        correlation_data: Some(Bytes::from_static(&[0xDE, 0xAD, 0xBE, 0xEF])),
        user_properties: vec![user("a", "1"), user("a", "2")],
        subscription_identifiers: vec![1, 128, 268_435_455],
        content_type: Some(s("json")),
    }
}

#[test]
fn publish_v5_every_property() {
    // §3.3.2.3: every PUBLISH property. User Property repeats, in order (U5-10);
    // Subscription Identifier repeats in a PUBLISH from the server ([MQTT-3.3.4-4]) and is
    // a Variable Byte Integer in its shortest form ([MQTT-1.5.5-1]): 1 -> 01,
    // 128 -> 80 01, 268,435,455 -> FF FF FF 7F. [MQTT-3.3.2-13], [MQTT-3.3.2-19].
    let bytes = cat(&[
        &[0x32, 0x42], // QoS 1, remaining length 66
        &[0x00, 0x03],
        b"a/b",
        &[0x00, 0x07],                   // packet identifier 7
        &[0x38],                         // property length 56
        &[0x01, 0x01],                   // Payload Format Indicator 1
        &[0x02, 0x00, 0x00, 0x01, 0x2C], // Message Expiry Interval 300
        &[0x23, 0x00, 0x05],             // Topic Alias 5
        &[0x08, 0x00, 0x05],
        b"rsp/1",                                    // Response Topic
        &[0x09, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF], // Correlation Data
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1'], // User Property a=1
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'2'], // User Property a=2
        &[0x0B, 0x01],                               // Subscription Identifier 1
        &[0x0B, 0x80, 0x01],                         // Subscription Identifier 128
        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F],             // Subscription Identifier 268435455
        &[0x03, 0x00, 0x04],
        b"json", // Content Type
        b"{}",   // payload
    ]);
    let expected = publish(false, QoS::AtLeastOnce, false, "a/b", Some(7), b"{}")
        .with_properties(every_publish_property());
    check_vector(V5, &bytes, expected);
}

#[test]
fn publish_v5_properties_in_any_order() {
    // U5-10 (§2.2.2.2): properties may appear in any order; repeated User Properties and
    // Subscription Identifiers keep their relative order.
    let bytes = cat(&[
        &[0x32, 0x42, 0x00, 0x03],
        b"a/b",
        &[0x00, 0x07, 0x38],
        &[0x03, 0x00, 0x04],
        b"json",
        &[0x0B, 0x80, 0x01],
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1'],
        &[0x23, 0x00, 0x05],
        &[0x0B, 0x01],
        &[0x01, 0x01],
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'2'],
        &[0x09, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF],
        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F],
        &[0x02, 0x00, 0x00, 0x01, 0x2C],
        &[0x08, 0x00, 0x05],
        b"rsp/1",
        b"{}",
    ]);
    let mut properties = every_publish_property();
    properties.subscription_identifiers = vec![128, 1, 268_435_455];
    let expected =
        publish(false, QoS::AtLeastOnce, false, "a/b", Some(7), b"{}").with_properties(properties);
    assert_decodes(V5, &bytes, &expected.into());
}

#[test]
fn publish_v5_topic_alias_with_empty_topic() {
    // [MQTT-3.3.2-1], U5-20: a zero-length Topic Name with a Topic Alias names the topic by
    // alias alone; [MQTT-3.3.2-8]: the alias is not 0.
    let bytes = [
        0x30, 0x07, // QoS 0, remaining length 7
        0x00, 0x00, // Topic Name ""
        0x03, 0x23, 0x00, 0x05, // property length 3: Topic Alias 5
        b'x', // payload
    ];
    let mut expected = publish(false, QoS::AtMostOnce, false, "t", None, b"x");
    expected.topic = TopicName::empty();
    expected.properties.topic_alias = NonZeroU16::new(5);
    check_vector(V5, &bytes, expected.clone());

    // The same at QoS 1.
    let bytes = [
        0x32, 0x09, 0x00, 0x00, 0x00, 0x2A, 0x03, 0x23, 0x00, 0x05, b'x',
    ];
    expected.qos = QoS::AtLeastOnce;
    expected.packet_id = Some(pid(42));
    check_vector(V5, &bytes, expected);
}

#[test]
fn publish_v5_empty_topic_without_alias_is_rejected() {
    // U5-19: a zero-length Topic Name without a Topic Alias is a Protocol Error.
    let err = Packet::decode(
        Bytes::from_static(&[0x30, 0x04, 0x00, 0x00, 0x00, b'x']),
        V5,
    )
    .unwrap_err();
    assert_eq!(err, DecodeError::EmptyTopicWithoutAlias);
    assert_eq!(err.reason_code(), ReasonCode::ProtocolError);
}

#[test]
fn publish_v5_two_byte_property_length() {
    // [MQTT-1.5.5-1]: the Property Length is a Variable Byte Integer: 128 -> 80 01. One User
    // Property of 1 + (2 + 1) + (2 + 122) = 128 bytes; Remaining Length 133 -> 85 01.
    let value = "v".repeat(122);
    let bytes = cat(&[
        &[0x30, 0x85, 0x01],
        &[0x00, 0x01],
        b"t",
        &[0x80, 0x01], // property length 128
        &[0x26, 0x00, 0x01, b'n', 0x00, 0x7A],
        value.as_bytes(),
    ]);
    assert_eq!(bytes.len(), 3 + 133);
    let mut expected = publish(false, QoS::AtMostOnce, false, "t", None, b"");
    expected.properties.user_properties = vec![mqtt_proto::UserProperty::new(
        s("n"),
        mqtt_proto::MqttString::try_from(value.as_str()).unwrap(),
    )];
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// Remaining Length
// ---------------------------------------------------------------------------------------

/// A QoS 0 PUBLISH to "t" whose Remaining Length is `remaining`, with its hand-written
/// Remaining Length bytes: variable header 00 01 74 00 (Property Length 0), then
/// `remaining - 4` payload bytes.
fn publish_with_remaining_length(remaining: usize, rl_bytes: &[u8]) -> (Vec<u8>, Publish) {
    let payload: Vec<u8> = (0..remaining - 4).map(|i| (i % 253) as u8).collect();
    let bytes = cat(&[&[0x30], rl_bytes, &[0x00, 0x01, b't', 0x00], &payload]);
    let expected = Publish {
        payload: Bytes::from(payload),
        ..publish(false, QoS::AtMostOnce, false, "t", None, b"")
    };
    (bytes, expected)
}

#[test]
fn remaining_length_200_byte_payload_takes_two_bytes() {
    // [MQTT-1.5.5-1], U5-04: Remaining Length 204 = 76 + 1 * 128 -> CC 01.
    let (bytes, expected) = publish_with_remaining_length(204, &[0xCC, 0x01]);
    assert_eq!(expected.payload.len(), 200);
    assert_eq!(bytes.len(), 1 + 2 + 204);
    check_vector(V5, &bytes, expected);
}

#[test]
fn remaining_length_20000_byte_payload_takes_three_bytes() {
    // [MQTT-1.5.5-1]: Remaining Length 20004 = 36 + 28 * 128 + 1 * 16384 -> A4 9C 01.
    let (bytes, expected) = publish_with_remaining_length(20_004, &[0xA4, 0x9C, 0x01]);
    assert_eq!(expected.payload.len(), 20_000);
    assert_eq!(bytes.len(), 1 + 3 + 20_004);
    check_vector(V5, &bytes, expected);
}

#[test]
fn remaining_length_boundaries() {
    // §1.5.5 table: 127 / 128, 16383 / 16384 and 2097151 / 2097152 are where the
    // encoding grows by a byte; [MQTT-1.5.5-1]: always the shortest form.
    let cases: [(usize, &[u8]); 6] = [
        (127, &[0x7F]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xFF, 0x7F]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xFF, 0xFF, 0x7F]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
    ];
    for (remaining, rl) in cases {
        let (bytes, expected) = publish_with_remaining_length(remaining, rl);
        assert_eq!(remaining_length_bytes(&bytes), rl);
        assert_eq!(bytes.len(), 1 + rl.len() + remaining);
        check_vector(V5, &bytes, expected);
    }
}

#[test]
fn remaining_length_maximum_overlong_and_non_minimal() {
    // U5-04: at most 4 bytes, FF FF FF 7F = 268,435,455; U5-07: the packet size is then
    // 268,435,460. [MQTT-1.5.5-1]: a longer-than-needed encoding is malformed.
    let header = FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], V5)
        .unwrap()
        .unwrap();
    assert_eq!(header.remaining_length, 268_435_455);
    assert_eq!(header.header_len, 5);
    assert_eq!(header.packet_size(), 268_435_460);
    assert_eq!(
        FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], V5),
        Err(DecodeError::MalformedVariableByteInteger)
    );
    for non_minimal in [
        &[0xC0, 0x80, 0x00][..],
        &[0xC0, 0x81, 0x00],
        &[0xC0, 0x80, 0x80, 0x00],
    ] {
        let err = FixedHeader::parse(non_minimal, V5).unwrap_err();
        assert_eq!(err, DecodeError::NonMinimalVariableByteInteger);
        assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
    }
}

// ---------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------

const ACKS: [u8; 4] = [0x40, 0x50, 0x62, 0x70];

#[test]
fn pub_acks_v5_remaining_length_2() {
    // U5-25 (§3.4.2.1 and siblings): Remaining Length 2 means reason code 0x00 and no
    // properties, and that is how 0x00 without properties is encoded. [MQTT-3.6.1-1]:
    // PUBREL is 0x62.
    for first in ACKS {
        check_vector(
            V5,
            &[first, 0x02, 0x00, 0x01],
            ack(first, pid(1), ReasonCode::Success, AckProperties::default()),
        );
    }
}

#[test]
fn pub_acks_v5_remaining_length_3() {
    // U5-25: Remaining Length 3 is packet identifier + reason code, Property Length 0
    // assumed. Every code of Tables 3-4 (PUBACK), 3-5 (PUBREC), 3-6 (PUBREL) and 3-7
    // (PUBCOMP): [MQTT-3.4.2-1], [MQTT-3.5.2-1], [MQTT-3.6.2-1], [MQTT-3.7.2-1].
    let publish_acks = [
        (0x10, ReasonCode::NoMatchingSubscribers),
        (0x80, ReasonCode::UnspecifiedError),
        (0x83, ReasonCode::ImplementationSpecificError),
        (0x87, ReasonCode::NotAuthorized),
        (0x90, ReasonCode::TopicNameInvalid),
        (0x91, ReasonCode::PacketIdentifierInUse),
        (0x97, ReasonCode::QuotaExceeded),
        (0x99, ReasonCode::PayloadFormatInvalid),
    ];
    let release_acks = [(0x92, ReasonCode::PacketIdentifierNotFound)];
    for first in ACKS {
        let codes: &[(u8, ReasonCode)] = if first == 0x40 || first == 0x50 {
            &publish_acks
        } else {
            &release_acks
        };
        for &(raw, code) in codes {
            check_vector(
                V5,
                &[first, 0x03, 0xAB, 0xCD, raw],
                ack(first, pid(0xABCD), code, AckProperties::default()),
            );
        }
    }
}

#[test]
fn pub_acks_v5_longer_forms_of_success_decode() {
    // U5-25: a receiver accepts 0x00 written out (Remaining Length 3) and an explicit
    // Property Length 0 (Remaining Length 4); the encoder may use the short form.
    for first in ACKS {
        let expected = ack(first, pid(9), ReasonCode::Success, AckProperties::default());
        assert_decodes(V5, &[first, 0x03, 0x00, 0x09, 0x00], &expected);
        assert_decodes(V5, &[first, 0x04, 0x00, 0x09, 0x00, 0x00], &expected);
    }
    let expected = ack(
        0x62,
        pid(9),
        ReasonCode::PacketIdentifierNotFound,
        AckProperties::default(),
    );
    assert_decodes(V5, &[0x62, 0x04, 0x00, 0x09, 0x92, 0x00], &expected);
}

#[test]
fn pub_acks_v5_reason_string_and_user_property() {
    // §3.4.2.2 and siblings: Reason String and User Property after the reason code.
    for (first, raw, code) in [
        (0x40, 0x80, ReasonCode::UnspecifiedError),
        (0x50, 0x97, ReasonCode::QuotaExceeded),
        (0x62, 0x92, ReasonCode::PacketIdentifierNotFound),
        (0x70, 0x92, ReasonCode::PacketIdentifierNotFound),
    ] {
        let bytes = cat(&[
            &[first, 0x12], // remaining length 18
            &[0x00, 0x01],  // packet identifier
            &[raw],
            &[0x0E], // property length 14
            &[0x1F, 0x00, 0x04],
            b"oops",                                     // Reason String
            &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'], // User Property
        ]);
        let properties = AckProperties {
            reason_string: Some(s("oops")),
            user_properties: vec![user("k", "v")],
        };
        check_vector(V5, &bytes, ack(first, pid(1), code, properties));
    }
}

#[test]
fn pub_acks_v5_success_with_property() {
    // U5-25 (§3.4.2.1): the reason code may be left out only for 0x00 without
    // properties; with properties it is written even when it is 0x00.
    for first in ACKS {
        let bytes = cat(&[
            &[first, 0x08, 0x00, 0x02, 0x00, 0x04, 0x1F, 0x00, 0x01],
            b"r",
        ]);
        let properties = AckProperties {
            reason_string: Some(s("r")),
            user_properties: Vec::new(),
        };
        check_vector(
            V5,
            &bytes,
            ack(first, pid(2), ReasonCode::Success, properties),
        );
    }
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK
// ---------------------------------------------------------------------------------------

#[test]
fn subscribe_v5_options_identifier_user_property() {
    // [MQTT-3.8.1-1]: 0x82. §3.8.2.1: Subscription Identifier and User Property.
    // U5-26: options bits 0-1 QoS, 2 No Local, 3 Retain As Published, 4-5 Retain Handling,
    // 6-7 reserved 0 ([MQTT-3.8.3-5]). [MQTT-3.8.3-4]: No Local is 0 on the shared
    // subscription. [MQTT-3.8.3-1]: filters are UTF-8 strings.
    let bytes = cat(&[
        &[0x82, 0x29], // remaining length 41
        &[0x01, 0x02], // packet identifier 258
        &[0x09],       // property length 9
        &[0x0B, 0x0A], // Subscription Identifier 10
        &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],
        &[0x00, 0x03],
        b"a/b",
        &[0x05], // QoS 1 + No Local
        &[0x00, 0x03],
        b"c/#",
        &[0x1A], // QoS 2 + Retain As Published + Retain Handling 1
        &[0x00, 0x0A],
        b"$share/g/d",
        &[0x20], // QoS 0 + Retain Handling 2
        &[0x00, 0x01],
        b"+",
        &[0x2D], // QoS 1 + No Local + Retain As Published + Retain Handling 2
    ]);
    let options = |qos, no_local, retain_as_published, retain_handling| SubscriptionOptions {
        qos,
        no_local,
        retain_as_published,
        retain_handling,
    };
    let expected = Subscribe {
        packet_id: pid(258),
        subscriptions: vec![
            Subscription {
                filter: filter("a/b"),
                options: options(
                    QoS::AtLeastOnce,
                    true,
                    false,
                    RetainHandling::SendAtSubscribe,
                ),
            },
            Subscription {
                filter: filter("c/#"),
                options: options(QoS::ExactlyOnce, false, true, RetainHandling::SendIfNew),
            },
            Subscription {
                filter: filter("$share/g/d"),
                options: options(QoS::AtMostOnce, false, false, RetainHandling::DoNotSend),
            },
            Subscription {
                filter: filter("+"),
                options: options(QoS::AtLeastOnce, true, true, RetainHandling::DoNotSend),
            },
        ],
        properties: SubscribeProperties {
            subscription_identifier: Some(10),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

#[test]
fn subscribe_v5_each_option_bit() {
    // U5-26: one subscription per options byte, each bit on its own.
    let cases = [
        (
            0x00,
            QoS::AtMostOnce,
            false,
            false,
            RetainHandling::SendAtSubscribe,
        ),
        (
            0x01,
            QoS::AtLeastOnce,
            false,
            false,
            RetainHandling::SendAtSubscribe,
        ),
        (
            0x02,
            QoS::ExactlyOnce,
            false,
            false,
            RetainHandling::SendAtSubscribe,
        ),
        (
            0x04,
            QoS::AtMostOnce,
            true,
            false,
            RetainHandling::SendAtSubscribe,
        ),
        (
            0x08,
            QoS::AtMostOnce,
            false,
            true,
            RetainHandling::SendAtSubscribe,
        ),
        (
            0x10,
            QoS::AtMostOnce,
            false,
            false,
            RetainHandling::SendIfNew,
        ),
        (
            0x20,
            QoS::AtMostOnce,
            false,
            false,
            RetainHandling::DoNotSend,
        ),
        (
            0x2E,
            QoS::ExactlyOnce,
            true,
            true,
            RetainHandling::DoNotSend,
        ),
    ];
    for (byte, qos, no_local, retain_as_published, retain_handling) in cases {
        // packet identifier 1, property length 0, filter "#", options
        let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'#', byte];
        let expected = Subscribe::new(
            pid(1),
            vec![Subscription {
                filter: filter("#"),
                options: SubscriptionOptions {
                    qos,
                    no_local,
                    retain_as_published,
                    retain_handling,
                },
            }],
        );
        check_vector(V5, &bytes, expected);
    }
}

#[test]
fn subscribe_v5_invalid_options_are_rejected() {
    // [MQTT-3.8.3-5]: reserved bits 6-7 set; U5-26: QoS 3 and Retain Handling 3.
    for byte in [0x40, 0x80, 0x03, 0x30] {
        let bytes = [0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'#', byte];
        assert_eq!(
            Packet::decode(Bytes::copy_from_slice(&bytes), V5),
            Err(DecodeError::InvalidSubscriptionOptions(byte))
        );
    }
}

#[test]
fn subscribe_v5_largest_subscription_identifier() {
    // U5-21: Subscription Identifier 268,435,455 = FF FF FF 7F.
    let bytes = cat(&[
        &[0x82, 0x0C, 0x00, 0x02, 0x05, 0x0B, 0xFF, 0xFF, 0xFF, 0x7F],
        &[0x00, 0x01],
        b"a",
        &[0x01],
    ]);
    let mut expected = Subscribe::new(
        pid(2),
        vec![Subscription::new(filter("a"), QoS::AtLeastOnce)],
    );
    expected.properties.subscription_identifier = Some(268_435_455);
    check_vector(V5, &bytes, expected);
}

#[test]
fn suback_v5_minimal() {
    // §3.9.2: packet identifier, Property Length 0, one reason code.
    let expected = SubAck {
        packet_id: pid(10),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    };
    check_vector(V5, &[0x90, 0x04, 0x00, 0x0A, 0x00, 0x01], expected);
}

#[test]
fn suback_v5_every_subscribe_reason_code() {
    // [MQTT-3.9.3-2]: every code of Table 3-8, in the order of the filters
    // ([MQTT-3.9.3-1]); a Reason String property.
    let bytes = cat(&[
        &[0x90, 0x14, 0x00, 0x0A], // remaining length 20, packet identifier 10
        &[0x05, 0x1F, 0x00, 0x02],
        b"no", // property length 5: Reason String
        &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
    ]);
    let expected = SubAck {
        packet_id: pid(10),
        reason_codes: vec![
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::ImplementationSpecificError,
            ReasonCode::NotAuthorized,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::PacketIdentifierInUse,
            ReasonCode::QuotaExceeded,
            ReasonCode::SharedSubscriptionsNotSupported,
            ReasonCode::SubscriptionIdentifiersNotSupported,
            ReasonCode::WildcardSubscriptionsNotSupported,
        ],
        properties: AckProperties {
            reason_string: Some(s("no")),
            user_properties: Vec::new(),
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------

#[test]
fn unsubscribe_v5_minimal() {
    // [MQTT-3.10.1-1]: 0xA2; Property Length 0; one filter ([MQTT-3.10.3-2]).
    let bytes = [0xA2, 0x06, 0x00, 0x0C, 0x00, 0x00, 0x01, b'x'];
    check_vector(V5, &bytes, Unsubscribe::new(pid(12), vec![filter("x")]));
}

#[test]
fn unsubscribe_v5_user_property_multiple_filters() {
    // §3.10.2.1: User Property; [MQTT-3.10.3-1]: filters back to back.
    let bytes = cat(&[
        &[0xA2, 0x14, 0x00, 0x0C], // remaining length 20, packet identifier 12
        &[0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],
        &[0x00, 0x03],
        b"a/b",
        &[0x00, 0x03],
        b"c/#",
    ]);
    let expected = Unsubscribe {
        packet_id: pid(12),
        filters: vec![filter("a/b"), filter("c/#")],
        properties: UnsubscribeProperties {
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

#[test]
fn unsuback_v5_minimal() {
    // §3.11: packet identifier, Property Length 0, one reason code.
    let expected = UnsubAck {
        packet_id: pid(12),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default().into(),
    };
    check_vector(V5, &[0xB0, 0x04, 0x00, 0x0C, 0x00, 0x00], expected);
}

#[test]
fn unsuback_v5_every_unsubscribe_reason_code() {
    // [MQTT-3.11.3-2]: every code of Table 3-9, in filter order ([MQTT-3.11.3-1]).
    let bytes = cat(&[
        &[0xB0, 0x0E, 0x00, 0x0C], // remaining length 14
        &[0x04, 0x1F, 0x00, 0x01, b'r'],
        &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
    ]);
    let expected = UnsubAck {
        packet_id: pid(12),
        reason_codes: vec![
            ReasonCode::Success,
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::UnspecifiedError,
            ReasonCode::ImplementationSpecificError,
            ReasonCode::NotAuthorized,
            ReasonCode::TopicFilterInvalid,
            ReasonCode::PacketIdentifierInUse,
        ],
        properties: AckProperties {
            reason_string: Some(s("r")),
            user_properties: Vec::new(),
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// PINGREQ, PINGRESP
// ---------------------------------------------------------------------------------------

#[test]
fn pingreq_pingresp_v5() {
    // §3.12, §3.13: a fixed header and nothing else.
    check_vector(V5, &[0xC0, 0x00], Packet::PingReq);
    check_vector(V5, &[0xD0, 0x00], Packet::PingResp);
}

// ---------------------------------------------------------------------------------------
// DISCONNECT
// ---------------------------------------------------------------------------------------

#[test]
fn disconnect_v5_remaining_length_0() {
    // U5-29: Remaining Length 0 is 0x00 Normal disconnection without properties.
    check_vector(
        V5,
        &[0xE0, 0x00],
        Disconnect::new(ReasonCode::NORMAL_DISCONNECTION),
    );
}

#[test]
fn disconnect_v5_remaining_length_1_every_reason_code() {
    // U5-29: Remaining Length 1 is a reason code without properties. [MQTT-3.14.2-1]:
    // every code of Table 3-10.
    let codes = [
        (0x04, ReasonCode::DisconnectWithWillMessage),
        (0x80, ReasonCode::UnspecifiedError),
        (0x81, ReasonCode::MalformedPacket),
        (0x82, ReasonCode::ProtocolError),
        (0x83, ReasonCode::ImplementationSpecificError),
        (0x87, ReasonCode::NotAuthorized),
        (0x89, ReasonCode::ServerBusy),
        (0x8B, ReasonCode::ServerShuttingDown),
        (0x8C, ReasonCode::BadAuthenticationMethod),
        (0x8D, ReasonCode::KeepAliveTimeout),
        (0x8E, ReasonCode::SessionTakenOver),
        (0x8F, ReasonCode::TopicFilterInvalid),
        (0x90, ReasonCode::TopicNameInvalid),
        (0x93, ReasonCode::ReceiveMaximumExceeded),
        (0x94, ReasonCode::TopicAliasInvalid),
        (0x95, ReasonCode::PacketTooLarge),
        (0x96, ReasonCode::MessageRateTooHigh),
        (0x97, ReasonCode::QuotaExceeded),
        (0x98, ReasonCode::AdministrativeAction),
        (0x99, ReasonCode::PayloadFormatInvalid),
        (0x9A, ReasonCode::RetainNotSupported),
        (0x9B, ReasonCode::QoSNotSupported),
        (0x9C, ReasonCode::UseAnotherServer),
        (0x9D, ReasonCode::ServerMoved),
        (0x9E, ReasonCode::SharedSubscriptionsNotSupported),
        (0x9F, ReasonCode::ConnectionRateExceeded),
        (0xA0, ReasonCode::MaximumConnectTime),
        (0xA1, ReasonCode::SubscriptionIdentifiersNotSupported),
        (0xA2, ReasonCode::WildcardSubscriptionsNotSupported),
    ];
    for (raw, code) in codes {
        check_vector(V5, &[0xE0, 0x01, raw], Disconnect::new(code));
    }
}

#[test]
fn disconnect_v5_longer_forms_of_normal_disconnection_decode() {
    // U5-29: 0x00 written out, with or without an explicit Property Length 0.
    let expected: Packet = Disconnect::default().into();
    assert_decodes(V5, &[0xE0, 0x01, 0x00], &expected);
    assert_decodes(V5, &[0xE0, 0x02, 0x00, 0x00], &expected);
}

#[test]
fn disconnect_v5_client_properties() {
    // §3.14.2.2: Session Expiry Interval (client only, [MQTT-3.14.2-2]), Reason String,
    // User Property.
    let bytes = cat(&[
        &[0xE0, 0x14, 0x00, 0x12], // remaining length 20, Normal disconnection, props 18
        &[0x11, 0x00, 0x00, 0x00, 0x0A], // Session Expiry Interval 10
        &[0x1F, 0x00, 0x03],
        b"bye",
        &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],
    ]);
    let expected = Disconnect {
        reason_code: ReasonCode::NORMAL_DISCONNECTION,
        properties: DisconnectProperties {
            session_expiry_interval: Some(10),
            reason_string: Some(s("bye")),
            user_properties: vec![user("k", "v")],
            server_reference: None,
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

#[test]
fn disconnect_v5_use_another_server_with_reference() {
    // U5-40: 0x9C with a Server Reference and a Reason String.
    let bytes = cat(&[
        &[0xE0, 0x12, 0x9C, 0x10], // remaining length 18, property length 16
        &[0x1F, 0x00, 0x04],
        b"move",
        &[0x1C, 0x00, 0x06],
        b"host:1",
    ]);
    let expected = Disconnect {
        reason_code: ReasonCode::UseAnotherServer,
        properties: DisconnectProperties {
            reason_string: Some(s("move")),
            server_reference: Some(s("host:1")),
            ..DisconnectProperties::default()
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

// ---------------------------------------------------------------------------------------
// AUTH
// ---------------------------------------------------------------------------------------

#[test]
fn auth_v5_remaining_length_0() {
    // U5-32 (§3.15.2.1): Remaining Length 0 is 0x00 Success without properties.
    // [MQTT-3.15.1-1]: flags 0000.
    check_vector(V5, &[0xF0, 0x00], Auth::default());
}

#[test]
fn auth_v5_continue_with_method_and_data() {
    // [MQTT-3.15.2-1]: 0x18 Continue authentication; Authentication Method and Data.
    let bytes = cat(&[
        &[0xF0, 0x17, 0x18, 0x15], // remaining length 23, property length 21
        &[0x15, 0x00, 0x0B],
        b"SCRAM-SHA-1",
        &[0x16, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04],
    ]);
    let expected = Auth::new(
        ReasonCode::ContinueAuthentication,
        s("SCRAM-SHA-1"),
        Some(Bytes::from_static(&[1, 2, 3, 4])),
    );
    check_vector(V5, &bytes, expected);
}

#[test]
fn auth_v5_reauthenticate_every_property() {
    // §3.15.2.2: Authentication Method, Authentication Data, Reason String, User Property;
    // 0x19 Re-authenticate.
    let bytes = cat(&[
        &[0xF0, 0x1B, 0x19, 0x19], // remaining length 27, property length 25
        &[0x15, 0x00, 0x05],
        b"PLAIN",
        &[0x16, 0x00, 0x02, 0xAB, 0xCD],
        &[0x1F, 0x00, 0x02],
        b"ra",
        &[0x26, 0x00, 0x01, b'k', 0x00, 0x01, b'v'],
    ]);
    let expected = Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties {
            authentication_method: Some(s("PLAIN")),
            authentication_data: Some(Bytes::from_static(&[0xAB, 0xCD])),
            reason_string: Some(s("ra")),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    };
    check_vector(V5, &bytes, expected);
}

#[test]
fn auth_v5_success_with_method() {
    // The server ends an authentication exchange with 0x00 and the same method
    // ([MQTT-4.12.0-5]): reason code and properties are written out.
    let bytes = cat(&[&[0xF0, 0x0A, 0x00, 0x08, 0x15, 0x00, 0x05], b"PLAIN"]);
    let expected = Auth::new(ReasonCode::Success, s("PLAIN"), None);
    check_vector(V5, &bytes, expected);
}

#[test]
fn auth_v5_without_method_cannot_be_encoded() {
    // §3.15.2.2.2 (U5-32): omitting the Authentication Method from an AUTH that has a
    // reason code and properties is a Protocol Error; only the Remaining Length 0 form
    // (0x00, no properties) leaves it out. The decoder refuses F0 02 18 00; the encoder
    // must not produce it.
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0xF0, 0x02, 0x18, 0x00]), V5),
        Err(DecodeError::MissingAuthenticationMethod)
    );
    let without_method = [
        Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            properties: AuthProperties::default().into(),
        },
        Auth {
            reason_code: ReasonCode::ReAuthenticate,
            properties: AuthProperties::default().into(),
        },
        Auth {
            reason_code: ReasonCode::Success,
            properties: AuthProperties {
                reason_string: Some(s("no method")),
                ..AuthProperties::default()
            }
            .into(),
        },
    ];
    for auth in without_method {
        let mut buf = bytes::BytesMut::new();
        let result = auth.encode(V5, &mut buf);
        assert!(
            result.is_err(),
            "encoded an AUTH without Authentication Method: {}",
            vectors_common::hex(&buf)
        );
        assert!(auth.encoded_len(V5).is_err());
    }
}
