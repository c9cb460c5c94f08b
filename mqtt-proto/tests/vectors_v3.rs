//! Byte vectors for MQTT 3.1 (protocol name `MQIsdp`, level 3) and MQTT 3.1.1 (level 4),
//! written by hand from the packet layouts of the specifications, checked in both
//! directions: the bytes decode to the packet, the packet encodes to the bytes.
//!
//! Apart from CONNECT (protocol name and level), every packet has the same bytes in 3.1
//! and 3.1.1, so those vectors are checked under both versions.

mod vectors_common;

use bytes::Bytes;
use mqtt_proto::{
    ConnAck, Connect, ConnectProperties, DecodeError, Disconnect, Encode, EncodeError, FixedHeader,
    Packet, PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish,
    PublishProperties, QoS, ReasonCode, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe,
    Will, WillProperties,
};
use vectors_common::{cat, check_vector, filter, pid, remaining_length_bytes, s, topic};

use ProtocolVersion::{V3_1, V3_1_1};

/// Both pre-5.0 versions, for packets whose bytes do not differ between them.
const V3: [ProtocolVersion; 2] = [V3_1, V3_1_1];

fn connect(
    version: ProtocolVersion,
    clean_start: bool,
    keep_alive: u16,
    id: &'static str,
) -> Connect {
    Connect {
        protocol_version: version,
        clean_start,
        keep_alive,
        client_id: s(id),
        will: None,
        user_name: None,
        password: None,
        properties: ConnectProperties::default(),
    }
}

fn will(t: &'static str, payload: &'static [u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: topic(t),
        payload: Bytes::from_static(payload),
        qos,
        retain,
        properties: WillProperties::default(),
    }
}

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

// ---------------------------------------------------------------------------------------
// CONNECT
// ---------------------------------------------------------------------------------------

#[test]
fn connect_v311_minimal() {
    // U311-06: protocol name "MQTT" (00 04 4D 51 54 54) and level 4.
    // [MQTT-3.1.2-3]: reserved flag bit 0 is 0. [MQTT-3.1.3-3]: the client identifier is
    // the first payload field. U311-01: Keep Alive is big-endian.
    let bytes = [
        0x10, 0x0F, // CONNECT, remaining length 15
        0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
        0x04, // protocol level 4
        0x02, // connect flags: Clean Session
        0x00, 0x3C, // keep alive 60
        0x00, 0x03, b'a', b'b', b'c', // client identifier
    ];
    check_vector(V3_1_1, &bytes, connect(V3_1_1, true, 60, "abc"));
}

#[test]
fn connect_v311_empty_client_id_with_clean_session() {
    // [MQTT-3.1.3-3]: the client identifier is present even when zero-length;
    // [MQTT-3.1.3-7]: a zero-length one goes with Clean Session 1. Keep Alive 0 is off.
    let bytes = [
        0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x00, 0x00, 0x00,
    ];
    check_vector(V3_1_1, &bytes, connect(V3_1_1, true, 0, ""));
}

#[test]
fn connect_v31_empty_client_id_decodes_for_a_server_to_refuse_and_never_encodes() {
    // MQTT 3.1 wants a client identifier of 1 to 23 characters: a server decodes an
    // empty one to answer CONNACK 2 (identifier rejected), a client never sends it.
    let bytes = [
        0x10, 0x0E, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x00, 0x00,
        0x00,
    ];
    let Ok(Packet::Connect(c)) = Packet::decode(Bytes::copy_from_slice(&bytes), V3_1) else {
        panic!("a 3.1 CONNECT with an empty client identifier decodes");
    };
    assert!(c.client_id.is_empty());
    assert_eq!(
        c.encoded_len(V3_1),
        Err(EncodeError::NotInVersion {
            what: "an empty client identifier",
            version: V3_1
        })
    );
}

#[test]
fn connect_v311_will_qos1_retain_user_name_password() {
    // [MQTT-3.1.2-9]: Will Flag 1 puts Will Topic and Will Message in the payload.
    // [MQTT-3.1.2-19], [MQTT-3.1.2-21]: User Name and Password present with their flags.
    // [MQTT-3.1.3-1]: payload order Client Identifier, Will Topic, Will Message, User
    // Name, Password. U311-08: Will Message and Password are binary data.
    let bytes = cat(&[
        &[0x10, 0x23], // remaining length 35
        &[0x00, 0x04],
        b"MQTT",
        &[0x04],
        // User Name 0x80 | Password 0x40 | Will Retain 0x20 | Will QoS 1 0x08 |
        // Will Flag 0x04 | Clean Session 0x02
        &[0xEE],
        &[0x00, 0x0A], // keep alive 10
        &[0x00, 0x02],
        b"c1",
        &[0x00, 0x03],
        b"w/t",
        &[0x00, 0x03],
        b"bye",
        &[0x00, 0x04],
        b"user",
        &[0x00, 0x03, 0x00, 0xFF, 0x10], // password: arbitrary binary
    ]);
    let mut expected = connect(V3_1_1, true, 10, "c1");
    expected.will = Some(will("w/t", b"bye", QoS::AtLeastOnce, true));
    expected.user_name = Some(s("user"));
    expected.password = Some(Bytes::from_static(&[0x00, 0xFF, 0x10]));
    check_vector(V3_1_1, &bytes, expected);
}

#[test]
fn connect_v311_will_qos2_without_clean_session() {
    // Will QoS 2 is bits 4-3 = 10 ([MQTT-3.1.2-14]); Will Retain 0; Clean Session 0
    // ([MQTT-3.1.2-4]); a zero-length Will Message is legal binary data (U311-08).
    let bytes = cat(&[
        &[0x10, 0x1B], // remaining length 27
        &[0x00, 0x04],
        b"MQTT",
        &[0x04, 0x14], // level 4; flags: Will QoS 2 0x10 | Will Flag 0x04
        &[0xFF, 0xFF], // keep alive 65535
        &[0x00, 0x0A],
        b"persistent",
        &[0x00, 0x01],
        b"t",
        &[0x00, 0x00], // empty Will Message
    ]);
    let mut expected = connect(V3_1_1, false, 65535, "persistent");
    expected.will = Some(will("t", b"", QoS::ExactlyOnce, false));
    check_vector(V3_1_1, &bytes, expected);
}

#[test]
fn connect_v311_will_qos0() {
    // [MQTT-3.1.2-9]: Will Flag alone (Will QoS 0, Will Retain 0): flags 0x06 with Clean
    // Session; Will Topic and Will Message follow the client identifier.
    let bytes = cat(&[
        &[0x10, 0x15], // remaining length 21
        &[0x00, 0x04],
        b"MQTT",
        &[0x04, 0x06, 0x00, 0x3C],
        &[0x00, 0x03],
        b"abc",
        &[0x00, 0x01],
        b"a",
        &[0x00, 0x01],
        b"x",
    ]);
    let mut expected = connect(V3_1_1, true, 60, "abc");
    expected.will = Some(will("a", b"x", QoS::AtMostOnce, false));
    check_vector(V3_1_1, &bytes, expected);
}

#[test]
fn connect_v311_user_name_without_password() {
    // [MQTT-3.1.2-19]: User Name Flag 1 with a User Name; [MQTT-3.1.2-20]: Password Flag 0
    // and no Password field.
    let bytes = cat(&[
        &[0x10, 0x12], // remaining length 18
        &[0x00, 0x04],
        b"MQTT",
        &[0x04, 0x82, 0x00, 0x3C],
        &[0x00, 0x03],
        b"abc",
        &[0x00, 0x01],
        b"u",
    ]);
    let mut expected = connect(V3_1_1, true, 60, "abc");
    expected.user_name = Some(s("u"));
    check_vector(V3_1_1, &bytes, expected);
}

#[test]
fn connect_v31_minimal_mqisdp() {
    // MQTT 3.1: protocol name "MQIsdp" (00 06 4D 51 49 73 64 70), protocol version 3.
    let bytes = cat(&[
        &[0x10, 0x11], // remaining length 17
        &[0x00, 0x06],
        b"MQIsdp",
        &[0x03, 0x02, 0x00, 0x3C],
        &[0x00, 0x03],
        b"abc",
    ]);
    check_vector(V3_1, &bytes, connect(V3_1, true, 60, "abc"));
}

#[test]
fn connect_v31_will_user_name_password() {
    // MQTT 3.1 §3.1 (no numbered rules): the same flag bits and payload order as 3.1.1
    // ([MQTT-3.1.3-1] there).
    let bytes = cat(&[
        &[0x10, 0x21], // remaining length 33
        &[0x00, 0x06],
        b"MQIsdp",
        &[0x03],
        // User Name 0x80 | Password 0x40 | Will QoS 1 0x08 | Will Flag 0x04 | Clean 0x02
        &[0xCE],
        &[0x00, 0x1E], // keep alive 30
        &[0x00, 0x03],
        b"c31",
        &[0x00, 0x03],
        b"d/e",
        &[0x00, 0x01],
        b"x",
        &[0x00, 0x02],
        b"me",
        &[0x00, 0x02],
        b"pw",
    ]);
    let mut expected = connect(V3_1, true, 30, "c31");
    expected.will = Some(will("d/e", b"x", QoS::AtLeastOnce, false));
    expected.user_name = Some(s("me"));
    expected.password = Some(Bytes::from_static(b"pw"));
    check_vector(V3_1, &bytes, expected);
}

#[test]
fn connect_protocol_version_is_read_from_the_packet() {
    // A server decodes CONNECT before it knows the version: the protocol name and level
    // in the packet decide (U311-06), whatever version the decoder was set to.
    let v311 = [
        0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x03, b'a',
        b'b', b'c',
    ];
    let v31 = cat(&[
        &[0x10, 0x11, 0x00, 0x06],
        b"MQIsdp",
        &[0x03, 0x02, 0x00, 0x3C, 0x00, 0x03],
        b"abc",
    ]);
    for decoder_version in [V3_1, V3_1_1, ProtocolVersion::V5] {
        assert_eq!(
            Packet::decode(Bytes::copy_from_slice(&v311), decoder_version),
            Ok(connect(V3_1_1, true, 60, "abc").into())
        );
        assert_eq!(
            Packet::decode(Bytes::from(v31.clone()), decoder_version),
            Ok(connect(V3_1, true, 60, "abc").into())
        );
    }
}

// ---------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------

#[test]
fn connack_v3_return_codes() {
    // U311-11, U311-13: 20 02 | flags | return code; return codes 0-5 map to the 5.0
    // reason codes of the same meaning.
    let codes = [
        (0x00, ReasonCode::Success),
        (0x01, ReasonCode::UnsupportedProtocolVersion),
        (0x02, ReasonCode::ClientIdentifierNotValid),
        (0x03, ReasonCode::ServerUnavailable),
        (0x04, ReasonCode::BadUserNameOrPassword),
        (0x05, ReasonCode::NotAuthorized),
    ];
    for version in V3 {
        for (raw, reason_code) in codes {
            let expected = ConnAck::new(reason_code);
            check_vector(version, &[0x20, 0x02, 0x00, raw], expected);
        }
    }
}

#[test]
fn connack_v311_session_present() {
    // U311-11: bit 0 of the acknowledge flags is Session Present ([MQTT-3.2.2-2]).
    let mut expected = ConnAck::new(ReasonCode::Success);
    expected.session_present = true;
    check_vector(V3_1_1, &[0x20, 0x02, 0x01, 0x00], expected);
}

#[test]
fn connack_v311_session_present_with_refusal_is_rejected() {
    // [MQTT-3.2.2-4]: a non-zero return code goes with Session Present 0.
    assert_eq!(
        Packet::decode(Bytes::from_static(&[0x20, 0x02, 0x01, 0x05]), V3_1_1),
        Err(DecodeError::InvalidConnAckFlags(0x01))
    );
}

#[test]
fn connack_v3_refusal_with_session_present_cannot_be_encoded() {
    // [MQTT-3.2.2-4]: a non-zero return code goes with Session Present 0. The decoder
    // refuses 20 02 01 05 (connack_v311_session_present_with_refusal_is_rejected); the
    // encoder must not produce it.
    let mut connack = ConnAck::new(ReasonCode::NotAuthorized);
    connack.session_present = true;
    for version in V3 {
        let mut buf = bytes::BytesMut::new();
        let result = connack.encode(version, &mut buf);
        assert!(
            result.is_err(),
            "{version}: encoded a CONNACK with Session Present and return code 5: {}",
            vectors_common::hex(&buf)
        );
        assert!(connack.encoded_len(version).is_err());
    }
}

// ---------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------

#[test]
fn publish_v3_qos0() {
    // [MQTT-3.3.2-1]: Topic Name first; [MQTT-2.3.1-5]: no Packet Identifier at QoS 0.
    let bytes = cat(&[&[0x30, 0x0A, 0x00, 0x03], b"a/b", b"hello"]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtMostOnce, false, "a/b", None, b"hello"),
        );
    }
}

#[test]
fn publish_v3_qos0_bytes_after_topic_are_payload() {
    // [MQTT-2.3.1-5]: at QoS 0 the two bytes after the Topic Name are payload, not a
    // Packet Identifier.
    let bytes = cat(&[&[0x30, 0x07, 0x00, 0x03], b"a/b", &[0x00, 0x0A]]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtMostOnce, false, "a/b", None, &[0x00, 0x0A]),
        );
    }
}

#[test]
fn publish_v3_qos1_retain() {
    // First byte 0011 0011: QoS 1, RETAIN; [MQTT-2.3.1-1]: Packet Identifier 10.
    let bytes = cat(&[&[0x33, 0x0C, 0x00, 0x03], b"a/b", &[0x00, 0x0A], b"hello"]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtLeastOnce, true, "a/b", Some(10), b"hello"),
        );
    }
}

#[test]
fn publish_v3_qos2_dup() {
    // First byte 0011 1100: DUP, QoS 2 ([MQTT-3.3.1-1] re-delivery); Packet Identifier
    // 0x1234 big-endian (U311-01).
    let bytes = cat(&[&[0x3C, 0x0C, 0x00, 0x03], b"a/b", &[0x12, 0x34], b"hello"]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(true, QoS::ExactlyOnce, false, "a/b", Some(0x1234), b"hello"),
        );
    }
}

#[test]
fn publish_v3_fixed_header_flag_combinations() {
    // Fixed header byte 1 of PUBLISH: bit 3 DUP, bits 2-1 QoS, bit 0 RETAIN.
    // [MQTT-3.3.1-2]: DUP is never set at QoS 0, so 0x38 and 0x39 are absent.
    let cases: [(u8, bool, QoS, bool); 10] = [
        (0x30, false, QoS::AtMostOnce, false),
        (0x31, false, QoS::AtMostOnce, true),
        (0x32, false, QoS::AtLeastOnce, false),
        (0x33, false, QoS::AtLeastOnce, true),
        (0x34, false, QoS::ExactlyOnce, false),
        (0x35, false, QoS::ExactlyOnce, true),
        (0x3A, true, QoS::AtLeastOnce, false),
        (0x3B, true, QoS::AtLeastOnce, true),
        (0x3C, true, QoS::ExactlyOnce, false),
        (0x3D, true, QoS::ExactlyOnce, true),
    ];
    for (first, dup, qos, retain) in cases {
        let (bytes, id) = if qos == QoS::AtMostOnce {
            (cat(&[&[first, 0x04, 0x00, 0x01], b"t", b"p"]), None)
        } else {
            (
                cat(&[&[first, 0x06, 0x00, 0x01], b"t", &[0x00, 0x05], b"p"]),
                Some(5),
            )
        };
        for version in V3 {
            check_vector(version, &bytes, publish(dup, qos, retain, "t", id, b"p"));
        }
    }
}

#[test]
fn publish_v3_empty_payload() {
    // U311-14: a zero-length payload is legal (with RETAIN it clears a retained message).
    let bytes = cat(&[&[0x31, 0x05, 0x00, 0x03], b"a/b"]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtMostOnce, true, "a/b", None, b""),
        );
    }
    // The same at QoS 1: the packet ends right after the Packet Identifier.
    let bytes = cat(&[&[0x32, 0x07, 0x00, 0x03], b"a/b", &[0xFF, 0xFF]]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtLeastOnce, false, "a/b", Some(0xFFFF), b""),
        );
    }
}

#[test]
fn publish_v3_utf8_topic_length_counts_bytes() {
    // U311-02: the string length counts bytes: "café" is 5 bytes. [MQTT-1.5.3-3]: a
    // leading EF BB BF is U+FEFF and is kept, not stripped.
    let bytes = cat(&[&[0x30, 0x09, 0x00, 0x05], "café".as_bytes(), b"xy"]);
    let bom = cat(&[&[0x30, 0x06, 0x00, 0x04], &[0xEF, 0xBB, 0xBF], b"t"]);
    for version in V3 {
        check_vector(
            version,
            &bytes,
            publish(false, QoS::AtMostOnce, false, "café", None, b"xy"),
        );
        check_vector(
            version,
            &bom,
            publish(false, QoS::AtMostOnce, false, "\u{FEFF}t", None, b""),
        );
    }
}

// ---------------------------------------------------------------------------------------
// Remaining Length
// ---------------------------------------------------------------------------------------

/// A QoS 0 PUBLISH to "t" whose Remaining Length is `remaining`, with its hand-written
/// Remaining Length bytes: variable header 00 01 74, then `remaining - 3` payload bytes.
fn publish_with_remaining_length(remaining: usize, rl_bytes: &[u8]) -> (Vec<u8>, Publish) {
    let payload: Vec<u8> = (0..remaining - 3).map(|i| (i % 251) as u8).collect();
    let bytes = cat(&[&[0x30], rl_bytes, &[0x00, 0x01, b't'], &payload]);
    let expected = Publish {
        payload: Bytes::from(payload),
        ..publish(false, QoS::AtMostOnce, false, "t", None, b"")
    };
    (bytes, expected)
}

#[test]
fn remaining_length_200_byte_payload_takes_two_bytes() {
    // U311-05: Remaining Length 203 = 0x4B + 1 * 128 -> CB 01.
    let (bytes, expected) = publish_with_remaining_length(203, &[0xCB, 0x01]);
    assert_eq!(expected.payload.len(), 200);
    assert_eq!(bytes.len(), 1 + 2 + 203);
    for version in V3 {
        check_vector(version, &bytes, expected.clone());
    }
}

#[test]
fn remaining_length_20000_byte_payload_takes_three_bytes() {
    // U311-05: Remaining Length 20003 = 35 + 28 * 128 + 1 * 16384 -> A3 9C 01.
    let (bytes, expected) = publish_with_remaining_length(20_003, &[0xA3, 0x9C, 0x01]);
    assert_eq!(expected.payload.len(), 20_000);
    assert_eq!(bytes.len(), 1 + 3 + 20_003);
    for version in V3 {
        check_vector(version, &bytes, expected.clone());
    }
}

#[test]
fn remaining_length_boundaries() {
    // U311-05 (3.1.1 §2.2.3 table): 127 is the largest one-byte value, 128 the smallest
    // two-byte one, 16383 / 16384 and 2097151 / 2097152 the next boundaries.
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
        for version in V3 {
            check_vector(version, &bytes, expected.clone());
        }
    }
}

#[test]
fn remaining_length_maximum_and_overlong() {
    // U311-05: at most 4 bytes, so FF FF FF 7F = 268,435,455 is the largest value, and a
    // fourth byte with the continuation bit set is malformed.
    for version in V3 {
        let header = FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], version)
            .unwrap()
            .unwrap();
        assert_eq!(header.packet_type, PacketType::Publish);
        assert_eq!(header.remaining_length, 268_435_455);
        assert_eq!(header.header_len, 5);
        assert_eq!(header.packet_size(), 268_435_460);
        assert_eq!(
            FixedHeader::parse(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], version),
            Err(DecodeError::MalformedVariableByteInteger)
        );
        // Incomplete: more bytes are needed.
        assert_eq!(FixedHeader::parse(&[0x30, 0xFF, 0xFF], version), Ok(None));
    }
}

// ---------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------

#[test]
fn puback_v3() {
    // U311-15: PUBACK is 40 02 + Packet Identifier ([MQTT-2.3.1-6]).
    for version in V3 {
        check_vector(version, &[0x40, 0x02, 0x00, 0x01], PubAck::new(pid(1)));
        check_vector(version, &[0x40, 0x02, 0xFF, 0xFF], PubAck::new(pid(65535)));
    }
}

#[test]
fn pubrec_v3() {
    // U311-15: PUBREC is 50 02 + Packet Identifier.
    for version in V3 {
        check_vector(version, &[0x50, 0x02, 0x12, 0x34], PubRec::new(pid(0x1234)));
    }
}

#[test]
fn pubrel_v3() {
    // [MQTT-3.6.1-1]: PUBREL fixed header flags are 0010, first byte 0x62.
    for version in V3 {
        check_vector(version, &[0x62, 0x02, 0x12, 0x34], PubRel::new(pid(0x1234)));
        assert!(matches!(
            Packet::decode(Bytes::from_static(&[0x60, 0x02, 0x12, 0x34]), version),
            Err(DecodeError::InvalidFixedHeaderFlags { .. })
        ));
    }
}

#[test]
fn pubcomp_v3() {
    // U311-15: PUBCOMP is 70 02 + Packet Identifier.
    for version in V3 {
        check_vector(version, &[0x70, 0x02, 0x00, 0x07], PubComp::new(pid(7)));
    }
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK
// ---------------------------------------------------------------------------------------

#[test]
fn subscribe_v3_multiple_filters() {
    // [MQTT-3.8.1-1]: first byte 0x82. [MQTT-3.8.3-1]: filters are UTF-8 strings, each
    // followed by its Requested QoS byte ([MQTT-3-8.3-4]: upper six bits 0).
    let bytes = cat(&[
        &[0x82, 0x12], // remaining length 18
        &[0x00, 0x0A], // packet identifier 10
        &[0x00, 0x03],
        b"a/b",
        &[0x00],
        &[0x00, 0x03],
        b"c/#",
        &[0x01],
        &[0x00, 0x01],
        b"+",
        &[0x02],
    ]);
    let expected = Subscribe::new(
        pid(10),
        vec![
            Subscription::new(filter("a/b"), QoS::AtMostOnce),
            Subscription::new(filter("c/#"), QoS::AtLeastOnce),
            Subscription::new(filter("+"), QoS::ExactlyOnce),
        ],
    );
    for version in V3 {
        check_vector(version, &bytes, expected.clone());
    }
}

#[test]
fn subscribe_v3_single_filter() {
    // [MQTT-3.8.3-3]: at least one filter; one is enough.
    let bytes = cat(&[&[0x82, 0x08, 0x00, 0x01, 0x00, 0x03], b"a/#", &[0x01]]);
    let expected = Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("a/#"), QoS::AtLeastOnce)],
    );
    for version in V3 {
        check_vector(version, &bytes, expected.clone());
    }
}

#[test]
fn suback_v311_return_codes() {
    // U311-16, [MQTT-3.9.3-2]: one return code per filter, 0x00 / 0x01 / 0x02 granted QoS
    // or 0x80 failure, in the order of the SUBSCRIBE ([MQTT-3.9.3-1]).
    let bytes = [0x90, 0x06, 0x00, 0x0A, 0x00, 0x01, 0x02, 0x80];
    let expected = SubAck {
        packet_id: pid(10),
        reason_codes: vec![
            ReasonCode::GRANTED_QOS_0,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ],
        properties: Default::default(),
    };
    check_vector(V3_1_1, &bytes, expected);
}

#[test]
fn suback_v31_granted_qos() {
    // MQTT 3.1 SUBACK: one granted QoS byte per filter (0x80 only exists from 3.1.1).
    let bytes = [0x90, 0x05, 0x00, 0x0A, 0x02, 0x01, 0x00];
    let expected = SubAck {
        packet_id: pid(10),
        reason_codes: vec![
            ReasonCode::GrantedQoS2,
            ReasonCode::GrantedQoS1,
            ReasonCode::Success,
        ],
        properties: Default::default(),
    };
    check_vector(V3_1, &bytes, expected);
}

#[test]
fn suback_v311_reserved_return_code_is_rejected() {
    // [MQTT-3.9.3-2]: return codes other than 0x00, 0x01, 0x02 and 0x80 are reserved.
    for code in [0x03, 0x7F, 0x81, 0x87] {
        assert_eq!(
            Packet::decode(
                Bytes::copy_from_slice(&[0x90, 0x03, 0x00, 0x0A, code]),
                V3_1_1
            ),
            Err(DecodeError::InvalidReasonCode {
                packet_type: PacketType::SubAck,
                code
            })
        );
    }
}

#[test]
fn unsubscribe_v3_multiple_filters() {
    // [MQTT-3.10.1-1]: first byte 0xA2. [MQTT-3.10.3-1]: filters back to back, no options.
    let bytes = cat(&[
        &[0xA2, 0x0C, 0x00, 0x0B],
        &[0x00, 0x03],
        b"a/b",
        &[0x00, 0x03],
        b"c/#",
    ]);
    let expected = Unsubscribe::new(pid(11), vec![filter("a/b"), filter("c/#")]);
    for version in V3 {
        check_vector(version, &bytes, expected.clone());
    }
}

#[test]
fn unsuback_v3_has_no_reason_codes() {
    // U311-16: UNSUBACK = B0 02 | packet identifier, no payload.
    let expected = UnsubAck {
        packet_id: pid(11),
        reason_codes: Vec::new(),
        properties: Default::default(),
    };
    for version in V3 {
        check_vector(version, &[0xB0, 0x02, 0x00, 0x0B], expected.clone());
    }
}

// ---------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------

#[test]
fn pingreq_pingresp_v3() {
    // U311-17: PINGREQ = C0 00, PINGRESP = D0 00.
    for version in V3 {
        check_vector(version, &[0xC0, 0x00], Packet::PingReq);
        check_vector(version, &[0xD0, 0x00], Packet::PingResp);
    }
}

#[test]
fn disconnect_v3() {
    // [MQTT-3.14.1-1]: DISCONNECT is exactly E0 00.
    for version in V3 {
        check_vector(version, &[0xE0, 0x00], Disconnect::default());
    }
}

#[test]
fn auth_is_not_a_v3_packet() {
    // U311-04: packet type 15 is reserved before 5.0.
    for version in V3 {
        assert_eq!(
            Packet::decode(Bytes::from_static(&[0xF0, 0x00]), version),
            Err(DecodeError::ReservedPacketType(15))
        );
    }
}
