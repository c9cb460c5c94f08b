//! MQTT 3.1.1 conformance: one or more tests for every CODEC statement of Part A of
//! `/work/shared/CONFORMANCE.md` (numbered Appendix B IDs and the unnumbered U311-xx rows).
//!
//! Every test names the statement it checks as `v3.1.1 [MQTT-x.y.z-n]` or `v3.1.1 U311-nn`.
//! MQTT 3.1.1 has no reason codes: a receiver that finds a violation closes the connection,
//! so these tests assert the `DecodeError` variant (what the caller closes on) and leave the
//! 5.0 reason code aside. Topic syntax and matching live in `tests/topics.rs`.

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Connect, DecodeError, Decoder, Disconnect, Encode, EncodeError, FixedHeader,
    MqttString, Packet, PacketId, PacketType, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, RetainHandling, Role, StringError, SubAck, Subscribe, Subscription,
    SubscriptionOptions, TopicError, TopicFilter, TopicName, UnsubAck, Unsubscribe, Will,
};

const V: ProtocolVersion = ProtocolVersion::V3_1_1;

// ---------------------------------------------------------------------------------------
// Helpers: build wire bytes by hand, decode them both ways, encode packets.
// ---------------------------------------------------------------------------------------

/// A Variable Byte Integer in its shortest form.
fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// A whole packet: first byte, Remaining Length, body.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(vbi(body.len()));
    out.extend_from_slice(body);
    out
}

/// A two-byte length prefix and the bytes (string or binary data).
fn s(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A 3.1.1 CONNECT: protocol name MQTT, level 4, `flags`, keep alive 60, then `payload`.
fn connect(flags: u8, payload: &[u8]) -> Vec<u8> {
    frame(0x10, &cat(&[&s(b"MQTT"), &[4, flags, 0, 60], payload]))
}

/// A PUBLISH with the given first byte, raw topic bytes, optional packet id and payload.
fn publish(first: u8, topic: &[u8], id: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let id = id.map(|i| i.to_be_bytes().to_vec()).unwrap_or_default();
    frame(first, &cat(&[&s(topic), &id, payload]))
}

/// A SUBSCRIBE with packet id 1 and one raw filter and options byte.
fn subscribe(filter: &[u8], options: u8) -> Vec<u8> {
    frame(0x82, &cat(&[&[0, 1], &s(filter), &[options]]))
}

/// Decodes one whole packet with the streaming decoder and with `Packet::decode`, checks
/// that both agree and that the decoder took the whole packet off the buffer.
fn dec(bytes: &[u8]) -> Result<Packet, DecodeError> {
    let direct = Packet::decode(Bytes::copy_from_slice(bytes), V);
    let mut buf = BytesMut::from(bytes);
    let streamed = Decoder::new(V).decode(&mut buf);
    let streamed = streamed.map(|p| {
        assert!(buf.is_empty(), "the decoder left {} bytes", buf.len());
        p.expect("a whole packet was given but the decoder waits for more")
    });
    assert_eq!(direct, streamed, "Packet::decode and Decoder disagree");
    streamed
}

macro_rules! refused {
    ($bytes:expr, $pat:pat $(if $guard:expr)?) => {{
        let err = dec(AsRef::<[u8]>::as_ref(&$bytes))
            .expect_err("the decoder accepted bytes MQTT 3.1.1 forbids");
        assert!(matches!(err, $pat $(if $guard)?), "unexpected error {err:?}");
        assert!(err.reason_code().is_error());
        err
    }};
}

fn enc(p: &impl Encode) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let n = p
        .encode(V, &mut buf)
        .expect("the encoder refused a valid packet");
    assert_eq!(n, buf.len());
    assert_eq!(p.encoded_len(V), Ok(n));
    buf.to_vec()
}

fn enc_err(p: &impl Encode) -> EncodeError {
    let mut buf = BytesMut::new();
    let err = p
        .encode(V, &mut buf)
        .expect_err("the encoder accepted a packet MQTT 3.1.1 forbids");
    assert!(buf.is_empty(), "a refused packet must not be written");
    assert_eq!(p.encoded_len(V), Err(err.clone()));
    err
}

/// Encodes, decodes and compares.
fn roundtrip(p: impl Into<Packet>) -> Vec<u8> {
    let p = p.into();
    let bytes = enc(&p);
    assert_eq!(dec(&bytes).as_ref(), Ok(&p));
    bytes
}

fn mstr(s: &str) -> MqttString {
    MqttString::try_from(s).unwrap()
}

fn topic(s: &str) -> TopicName {
    TopicName::try_from(s).unwrap()
}

fn filter(s: &str) -> TopicFilter {
    TopicFilter::try_from(s).unwrap()
}

fn pid(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}

fn base_connect() -> Connect {
    Connect::new(V, mstr("cid"))
}

// ---------------------------------------------------------------------------------------
// §1.5.3 UTF-8 encoded strings
// ---------------------------------------------------------------------------------------

/// Ill-formed sequences: a stray continuation byte, a truncated sequence, an encoded
/// surrogate (U+D800), an overlong encoding of '/' and a code point above U+10FFFF.
const ILL_FORMED: &[&[u8]] = &[
    b"\xFF",
    b"a\xC3",
    b"\xED\xA0\x80",
    b"\xC0\xAF",
    b"\xF4\x90\x80\x80",
];

// v3.1.1 [MQTT-1.5.3-1]
#[test]
fn mqtt_1_5_3_1_ill_formed_utf8_and_surrogates_are_refused() {
    for bad in ILL_FORMED {
        refused!(
            publish(0x30, bad, None, b""),
            DecodeError::InvalidString {
                field: "topic name",
                error: StringError::InvalidUtf8
            }
        );
        refused!(
            subscribe(bad, 0),
            DecodeError::InvalidString {
                field: "topic filter",
                error: StringError::InvalidUtf8
            }
        );
        refused!(
            connect(0x02, &s(bad)),
            DecodeError::InvalidString {
                field: "client identifier",
                error: StringError::InvalidUtf8
            }
        );
        // Nothing ill-formed can be built to be sent: every string is validated.
        assert_eq!(
            MqttString::from_bytes(Bytes::copy_from_slice(bad)),
            Err(StringError::InvalidUtf8)
        );
    }
}

// v3.1.1 [MQTT-1.5.3-2]
#[test]
fn mqtt_1_5_3_2_null_character_is_refused() {
    refused!(
        publish(0x30, b"a\0b", None, b""),
        DecodeError::InvalidString {
            field: "topic name",
            error: StringError::NullCharacter
        }
    );
    refused!(
        connect(0x82, &cat(&[&s(b"cid"), &s(b"us\0er")])),
        DecodeError::InvalidString {
            field: "user name",
            error: StringError::NullCharacter
        }
    );
    // The encoder side cannot hold U+0000 in any string.
    assert_eq!(
        MqttString::try_from("a\0b"),
        Err(StringError::NullCharacter)
    );
    assert_eq!(
        TopicName::try_from("a\0b"),
        Err(TopicError::String(StringError::NullCharacter))
    );
    assert_eq!(
        TopicFilter::try_from("a/\0"),
        Err(TopicError::String(StringError::NullCharacter))
    );
}

// v3.1.1 [MQTT-1.5.3-3]
#[test]
fn mqtt_1_5_3_3_feff_is_kept_and_never_stripped() {
    let Packet::Publish(p) = dec(&publish(0x30, b"\xEF\xBB\xBFa/b", None, b"x")).unwrap() else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_str(), "\u{FEFF}a/b");
    assert_eq!(&p.topic.as_bytes()[..3], b"\xEF\xBB\xBF");
    // In the middle of a string too, and in a CONNECT client identifier.
    let Packet::Connect(c) = dec(&connect(0x02, &s(b"id\xEF\xBB\xBF"))).unwrap() else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.client_id.as_str(), "id\u{FEFF}");
    // The encoder writes it back unchanged.
    let bytes = roundtrip(Publish::new(topic("\u{FEFF}t"), ""));
    assert_eq!(bytes, b"\x30\x06\x00\x04\xEF\xBB\xBFt");
}

// ---------------------------------------------------------------------------------------
// §2.2, §2.3 Fixed header and packet identifiers
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-2.2.2-1]
#[test]
fn mqtt_2_2_2_1_encoder_writes_the_tabled_flags() {
    let sub = Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
    );
    let suback = SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::Success],
        properties: Default::default(),
    };
    let unsuback = UnsubAck {
        packet_id: pid(1),
        reason_codes: vec![],
        properties: Default::default(),
    };
    let cases: [(Packet, u8); 13] = [
        (base_connect().into(), 0x10),
        (ConnAck::new(ReasonCode::Success).into(), 0x20),
        (PubAck::new(pid(1)).into(), 0x40),
        (PubRec::new(pid(1)).into(), 0x50),
        (PubRel::new(pid(1)).into(), 0x62),
        (PubComp::new(pid(1)).into(), 0x70),
        (sub.into(), 0x82),
        (suback.into(), 0x90),
        (Unsubscribe::new(pid(1), vec![filter("a")]).into(), 0xA2),
        (unsuback.into(), 0xB0),
        (Packet::PingReq, 0xC0),
        (Packet::PingResp, 0xD0),
        (Disconnect::default().into(), 0xE0),
    ];
    for (packet, first) in cases {
        let bytes = roundtrip(packet.clone());
        assert_eq!(bytes[0], first, "{packet:?}");
    }
}

// v3.1.1 [MQTT-2.2.2-2]
#[test]
fn mqtt_2_2_2_2_other_fixed_header_flags_are_refused_at_the_first_byte() {
    for raw_type in 1..=14u8 {
        let Some(packet_type) = PacketType::from_u8(raw_type) else {
            unreachable!()
        };
        if packet_type == PacketType::Publish {
            continue;
        }
        let required = if matches!(raw_type, 6 | 8 | 10) { 2 } else { 0 };
        for flags in (0..16u8).filter(|&f| f != required) {
            let first = (raw_type << 4) | flags;
            // Refused as soon as the first byte is in, before the Remaining Length.
            let mut buf = BytesMut::from(&[first][..]);
            let err = Decoder::new(V).decode(&mut buf).unwrap_err();
            assert_eq!(
                err,
                DecodeError::InvalidFixedHeaderFlags { packet_type, flags }
            );
            refused!(
                [first, 0],
                DecodeError::InvalidFixedHeaderFlags { packet_type: t, flags: f } if t == packet_type && f == flags
            );
        }
    }
}

// v3.1.1 [MQTT-2.3.1-1]
#[test]
fn mqtt_2_3_1_1_packet_identifier_is_present_and_never_zero() {
    // Zero is refused wherever a packet identifier is carried.
    refused!(publish(0x32, b"t", Some(0), b""), DecodeError::ZeroPacketId);
    refused!(publish(0x34, b"t", Some(0), b""), DecodeError::ZeroPacketId);
    refused!(
        frame(0x82, &cat(&[&[0, 0], &s(b"a"), &[0]])),
        DecodeError::ZeroPacketId
    );
    refused!(
        frame(0xA2, &cat(&[&[0, 0], &s(b"a")])),
        DecodeError::ZeroPacketId
    );
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        refused!([first, 2, 0, 0], DecodeError::ZeroPacketId);
    }
    refused!([0x90, 3, 0, 0, 0], DecodeError::ZeroPacketId);
    // A QoS 1/2 PUBLISH without its packet identifier runs short.
    refused!(
        frame(0x32, &s(b"t")),
        DecodeError::UnexpectedEnd {
            field: "packet identifier"
        }
    );
    // The model cannot hold 0, and the encoder demands an identifier for QoS 1 and 2.
    assert_eq!(PacketId::new(0), None);
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        assert_eq!(
            enc_err(&Publish::new(topic("t"), "").with_qos(qos, None)),
            EncodeError::MissingPacketId
        );
    }
    // The identifier is written, big-endian, right after the topic / as the first field.
    let bytes =
        roundtrip(Publish::new(topic("t"), "").with_qos(QoS::AtLeastOnce, PacketId::new(7)));
    assert_eq!(bytes, b"\x32\x05\x00\x01t\x00\x07");
    let bytes = roundtrip(Subscribe::new(
        pid(0x0102),
        vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
    ));
    assert_eq!(&bytes[2..4], b"\x01\x02");
}

// v3.1.1 [MQTT-2.3.1-5]
#[test]
fn mqtt_2_3_1_5_qos0_publish_has_no_packet_identifier() {
    assert_eq!(
        enc_err(&Publish::new(topic("t"), "").with_qos(QoS::AtMostOnce, PacketId::new(1))),
        EncodeError::UnexpectedPacketId
    );
    assert_eq!(
        roundtrip(Publish::new(topic("t"), "hi")),
        b"\x30\x05\x00\x01thi"
    );
    // The two bytes after the topic of a QoS 0 PUBLISH are payload, not an identifier.
    let Packet::Publish(p) = dec(&publish(0x30, b"t", None, b"\x00\x07")).unwrap() else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.packet_id, None);
    assert_eq!(&p.payload[..], b"\x00\x07");
}

// ---------------------------------------------------------------------------------------
// §3.1 CONNECT
// ---------------------------------------------------------------------------------------

fn full_connect() -> Connect {
    Connect {
        will: Some(Will {
            qos: QoS::AtLeastOnce,
            retain: true,
            ..Will::new(topic("w/t"), "bye")
        }),
        user_name: Some(mstr("u")),
        password: Some(Bytes::from_static(b"p")),
        ..base_connect()
    }
}

// v3.1.1 [MQTT-3.1.2-3]
#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_zero() {
    let variants = [
        base_connect(),
        full_connect(),
        Connect {
            clean_start: false,
            ..base_connect()
        },
    ];
    for c in variants {
        let bytes = roundtrip(c);
        assert_eq!(bytes[9] & 1, 0, "Connect Flags {:#04x}", bytes[9]);
    }
    refused!(
        connect(0x03, &s(b"cid")),
        DecodeError::InvalidConnectFlags(_)
    );
    refused!(
        connect(0x01, &s(b"cid")),
        DecodeError::InvalidConnectFlags(_)
    );
}

// v3.1.1 [MQTT-3.1.2-9]
#[test]
fn mqtt_3_1_2_9_will_flag_brings_will_topic_message_qos_and_retain() {
    let bytes = roundtrip(full_connect());
    // Will Flag, Will QoS 1 and Will Retain are all in the flags.
    assert_eq!(bytes[9] & 0x3C, 0x04 | 0x08 | 0x20);
    let qos2 = Connect {
        will: Some(Will {
            qos: QoS::ExactlyOnce,
            ..Will::new(topic("w"), "x")
        }),
        ..base_connect()
    };
    assert_eq!(roundtrip(qos2)[9], 0x02 | 0x04 | 0x10);
    // A Will Flag whose Will Topic / Will Message are missing.
    refused!(
        connect(0x06, &s(b"cid")),
        DecodeError::UnexpectedEnd {
            field: "will topic"
        }
    );
    refused!(
        connect(0x06, &cat(&[&s(b"cid"), &s(b"w")])),
        DecodeError::UnexpectedEnd {
            field: "will payload"
        }
    );
}

// v3.1.1 [MQTT-3.1.2-11]
#[test]
fn mqtt_3_1_2_11_no_will_means_no_will_bits_and_no_will_fields() {
    let bytes = roundtrip(base_connect());
    assert_eq!(bytes[9], 0x02);
    assert_eq!(
        &bytes[12..],
        &s(b"cid")[..],
        "nothing follows the client id"
    );
    // Will fields without the Will Flag do not belong to the packet.
    refused!(
        connect(0x02, &cat(&[&s(b"cid"), &s(b"w"), &s(b"m")])),
        DecodeError::TrailingBytes {
            packet_type: PacketType::Connect,
            extra: 6
        }
    );
}

// v3.1.1 [MQTT-3.1.2-13]
#[test]
fn mqtt_3_1_2_13_will_qos_is_zero_without_will_flag() {
    for flags in [0x0A, 0x12, 0x1A] {
        refused!(
            connect(flags, &s(b"cid")),
            DecodeError::InvalidConnectFlags(_)
        );
    }
}

// v3.1.1 [MQTT-3.1.2-14]
#[test]
fn mqtt_3_1_2_14_will_qos_3_is_refused() {
    let payload = cat(&[&s(b"cid"), &s(b"w"), &s(b"m")]);
    refused!(
        connect(0x02 | 0x04 | 0x18, &payload),
        DecodeError::InvalidConnectFlags(_)
    );
    // 0, 1 and 2 are accepted.
    for qos in 0..3u8 {
        let Packet::Connect(c) = dec(&connect(0x06 | (qos << 3), &payload)).unwrap() else {
            panic!("not a CONNECT")
        };
        assert_eq!(c.will.unwrap().qos.as_u8(), qos);
    }
}

// v3.1.1 [MQTT-3.1.2-15]
#[test]
fn mqtt_3_1_2_15_will_retain_is_zero_without_will_flag() {
    refused!(
        connect(0x22, &s(b"cid")),
        DecodeError::InvalidConnectFlags(_)
    );
    let no_will_retain = roundtrip(base_connect())[9];
    assert_eq!(no_will_retain & 0x20, 0);
}

// v3.1.1 [MQTT-3.1.2-18]
#[test]
fn mqtt_3_1_2_18_no_user_name_flag_no_user_name() {
    let bytes = roundtrip(base_connect());
    assert_eq!(bytes[9] & 0x80, 0);
    refused!(
        connect(0x02, &cat(&[&s(b"cid"), &s(b"u")])),
        DecodeError::TrailingBytes { .. }
    );
}

// v3.1.1 [MQTT-3.1.2-19]
#[test]
fn mqtt_3_1_2_19_user_name_flag_means_user_name_present() {
    let bytes = roundtrip(Connect {
        user_name: Some(mstr("u")),
        ..base_connect()
    });
    assert_eq!(bytes[9], 0x82);
    assert_eq!(&bytes[bytes.len() - 3..], b"\x00\x01u");
    refused!(
        connect(0x82, &s(b"cid")),
        DecodeError::UnexpectedEnd { field: "user name" }
    );
}

// v3.1.1 [MQTT-3.1.2-20]
#[test]
fn mqtt_3_1_2_20_no_password_flag_no_password() {
    let bytes = roundtrip(Connect {
        user_name: Some(mstr("u")),
        ..base_connect()
    });
    assert_eq!(bytes[9] & 0x40, 0);
    refused!(
        connect(0x82, &cat(&[&s(b"cid"), &s(b"u"), &s(b"p")])),
        DecodeError::TrailingBytes { .. }
    );
}

// v3.1.1 [MQTT-3.1.2-21]
#[test]
fn mqtt_3_1_2_21_password_flag_means_password_present() {
    let bytes = roundtrip(Connect {
        user_name: Some(mstr("u")),
        password: Some(Bytes::from_static(b"pw")),
        ..base_connect()
    });
    assert_eq!(bytes[9], 0xC2);
    assert_eq!(&bytes[bytes.len() - 4..], b"\x00\x02pw");
    refused!(
        connect(0xC2, &cat(&[&s(b"cid"), &s(b"u")])),
        DecodeError::UnexpectedEnd { field: "password" }
    );
}

// v3.1.1 [MQTT-3.1.2-22]
#[test]
fn mqtt_3_1_2_22_password_needs_user_name() {
    let c = Connect {
        password: Some(Bytes::from_static(b"p")),
        ..base_connect()
    };
    assert_eq!(enc_err(&c), EncodeError::PasswordWithoutUserName);
    refused!(
        connect(0x42, &cat(&[&s(b"cid"), &s(b"p")])),
        DecodeError::InvalidConnectFlags(_)
    );
}

// v3.1.1 [MQTT-3.1.3-1]
#[test]
fn mqtt_3_1_3_1_payload_order_is_client_id_will_topic_will_message_user_password() {
    let expected = frame(
        0x10,
        &cat(&[
            &s(b"MQTT"),
            &[4, 0xEE, 0, 60],
            &s(b"cid"),
            &s(b"w/t"),
            &s(b"bye"),
            &s(b"u"),
            &s(b"p"),
        ]),
    );
    assert_eq!(roundtrip(full_connect()), expected);
}

// v3.1.1 [MQTT-3.1.3-3]
#[test]
fn mqtt_3_1_3_3_client_id_is_first_and_may_be_empty() {
    let bytes = roundtrip(Connect::new(V, MqttString::new()));
    assert_eq!(bytes, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00");
    // A CONNECT without even the client id field runs short.
    refused!(
        connect(0x02, b""),
        DecodeError::UnexpectedEnd {
            field: "client identifier"
        }
    );
}

// v3.1.1 [MQTT-3.1.3-4]
#[test]
fn mqtt_3_1_3_4_client_id_is_a_utf8_string() {
    refused!(
        connect(0x02, &s(b"\xC3\x28")),
        DecodeError::InvalidString {
            field: "client identifier",
            error: StringError::InvalidUtf8
        }
    );
    refused!(
        connect(0x02, &s(b"a\0")),
        DecodeError::InvalidString {
            field: "client identifier",
            error: StringError::NullCharacter
        }
    );
    let bytes = roundtrip(Connect::new(V, mstr("é")));
    assert_eq!(&bytes[12..], b"\x00\x02\xC3\xA9");
}

// v3.1.1 [MQTT-3.1.3-7]
#[test]
fn mqtt_3_1_3_7_empty_client_id_needs_clean_session() {
    let c = Connect {
        clean_start: false,
        ..Connect::new(V, MqttString::new())
    };
    assert_eq!(enc_err(&c), EncodeError::EmptyClientIdWithoutCleanSession);
    roundtrip(Connect::new(V, MqttString::new()));
    roundtrip(Connect {
        clean_start: false,
        ..base_connect()
    });
}

// v3.1.1 [MQTT-3.1.3-10]
#[test]
fn mqtt_3_1_3_10_will_topic_is_a_utf8_string() {
    let with_topic = |t: &[u8]| connect(0x06, &cat(&[&s(b"cid"), &s(t), &s(b"m")]));
    refused!(
        with_topic(b"\xFF"),
        DecodeError::InvalidString {
            field: "will topic",
            error: StringError::InvalidUtf8
        }
    );
    refused!(
        with_topic(b"a\0"),
        DecodeError::InvalidString {
            field: "will topic",
            error: StringError::NullCharacter
        }
    );
    // It is a topic name: no wildcards, not empty.
    refused!(
        with_topic(b"a/#"),
        DecodeError::InvalidTopicName(TopicError::WildcardInTopicName)
    );
    refused!(
        with_topic(b""),
        DecodeError::InvalidTopicName(TopicError::Empty)
    );
    let c = Connect {
        will: Some(Will::new(TopicName::empty(), "m")),
        ..base_connect()
    };
    assert_eq!(enc_err(&c), EncodeError::InvalidTopic(TopicError::Empty));
}

// v3.1.1 [MQTT-3.1.3-11]
#[test]
fn mqtt_3_1_3_11_user_name_is_a_utf8_string() {
    refused!(
        connect(0x82, &cat(&[&s(b"cid"), &s(b"\xED\xBF\xBF")])),
        DecodeError::InvalidString {
            field: "user name",
            error: StringError::InvalidUtf8
        }
    );
    let Packet::Connect(c) = dec(&connect(0x82, &cat(&[&s(b"cid"), &s("ü".as_bytes())]))).unwrap()
    else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.user_name.as_deref(), Some("ü"));
}

// ---------------------------------------------------------------------------------------
// §3.2 CONNACK
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-3.2.2-4]: the decoder side.
#[test]
fn mqtt_3_2_2_4_refused_connack_has_no_session_present() {
    for code in 1..=5u8 {
        refused!([0x20, 2, 1, code], DecodeError::InvalidConnAckFlags(1));
        // Session Present 0 with the same code is fine.
        let Packet::ConnAck(c) = dec(&[0x20, 2, 0, code]).unwrap() else {
            panic!("not a CONNACK")
        };
        assert!(c.reason_code.is_error());
    }
    let Packet::ConnAck(c) = dec(&[0x20, 2, 1, 0]).unwrap() else {
        panic!("not a CONNACK")
    };
    assert!(c.session_present);
}

// v3.1.1 [MQTT-3.2.2-4]: the encoder side (what a server built on this codec sends).
#[test]
fn mqtt_3_2_2_4_encoder_refuses_session_present_with_a_refusal() {
    let c = ConnAck {
        session_present: true,
        ..ConnAck::new(ReasonCode::NotAuthorized)
    };
    assert_eq!(
        enc_err(&c),
        EncodeError::InvalidReasonCode {
            packet_type: PacketType::ConnAck,
            code: ReasonCode::NotAuthorized
        }
    );
    // Session Present with an accepted connection is fine.
    roundtrip(ConnAck {
        session_present: true,
        ..ConnAck::new(ReasonCode::Success)
    });
}

// ---------------------------------------------------------------------------------------
// §3.3 PUBLISH
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-3.3.1-2]
#[test]
fn mqtt_3_3_1_2_qos0_publish_has_dup_zero() {
    let p = Publish {
        dup: true,
        ..Publish::new(topic("t"), "")
    };
    assert_eq!(enc_err(&p), EncodeError::DupWithQoS0);
    refused!(publish(0x38, b"t", None, b""), DecodeError::DupWithQoS0);
    refused!(publish(0x39, b"t", None, b""), DecodeError::DupWithQoS0);
    // DUP is fine at QoS 1 and 2.
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let p = Publish {
            dup: true,
            ..Publish::new(topic("t"), "").with_qos(qos, PacketId::new(1))
        };
        assert_eq!(roundtrip(p)[0], 0x38 | (qos.as_u8() << 1));
    }
}

// v3.1.1 [MQTT-3.3.1-4]
#[test]
fn mqtt_3_3_1_4_qos_3_is_refused() {
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        refused!(publish(first, b"t", Some(1), b""), DecodeError::InvalidQoS);
    }
    // QoS 3 cannot be expressed by the model.
    assert_eq!(QoS::from_u8(3), None);
}

// v3.1.1 [MQTT-3.3.2-1]
#[test]
fn mqtt_3_3_2_1_topic_name_is_the_first_field_and_a_utf8_string() {
    let bytes =
        roundtrip(Publish::new(topic("a/é"), "x").with_qos(QoS::AtLeastOnce, PacketId::new(1)));
    assert_eq!(bytes, b"\x32\x09\x00\x04a/\xC3\xA9\x00\x01x");
    refused!(
        publish(0x30, b"a/\xC3", None, b""),
        DecodeError::InvalidString {
            field: "topic name",
            error: StringError::InvalidUtf8
        }
    );
    // Topic length running past the packet.
    refused!(
        frame(0x30, b"\x00\x09abc"),
        DecodeError::UnexpectedEnd {
            field: "topic name"
        }
    );
}

// v3.1.1 [MQTT-3.3.2-2], [MQTT-4.7.1-1] (decoder side; the type side is in topics.rs)
#[test]
fn mqtt_3_3_2_2_publish_topic_has_no_wildcards() {
    for t in [&b"a/+"[..], b"+", b"#", b"a/#", b"a+b", b"sport#"] {
        refused!(
            publish(0x30, t, None, b""),
            DecodeError::InvalidTopicName(TopicError::WildcardInTopicName)
        );
    }
    assert_eq!(
        TopicName::try_from("a/+"),
        Err(TopicError::WildcardInTopicName)
    );
}

// ---------------------------------------------------------------------------------------
// §3.6 - §3.14 PUBREL, SUBSCRIBE/SUBACK, UNSUBSCRIBE/UNSUBACK, DISCONNECT
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-3.6.1-1]
#[test]
fn mqtt_3_6_1_1_pubrel_flags_are_0010() {
    assert_eq!(roundtrip(PubRel::new(pid(1))), b"\x62\x02\x00\x01");
    for first in [0x60, 0x61, 0x63, 0x64, 0x6A] {
        refused!(
            [first, 2, 0, 1],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::PubRel,
                ..
            }
        );
    }
}

// v3.1.1 [MQTT-3.8.1-1]
#[test]
fn mqtt_3_8_1_1_subscribe_flags_are_0010() {
    let bytes = roundtrip(Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
    ));
    assert_eq!(bytes[0], 0x82);
    for first in [0x80, 0x81, 0x83, 0x8A] {
        let mut b = subscribe(b"a", 0);
        b[0] = first;
        refused!(
            b,
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Subscribe,
                ..
            }
        );
    }
}

// v3.1.1 [MQTT-3.8.3-1]
#[test]
fn mqtt_3_8_3_1_subscribe_filters_are_utf8_strings() {
    let bytes = roundtrip(Subscribe::new(
        pid(1),
        vec![
            Subscription::new(filter("a/+"), QoS::AtLeastOnce),
            Subscription::new(filter("ü/#"), QoS::ExactlyOnce),
        ],
    ));
    assert_eq!(
        bytes,
        frame(
            0x82,
            &cat(&[&[0, 1], &s(b"a/+"), &[1], &s("ü/#".as_bytes()), &[2]])
        )
    );
    refused!(
        subscribe(b"a/\xFF", 0),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::InvalidUtf8
        }
    );
    refused!(
        subscribe(b"a/\0", 0),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::NullCharacter
        }
    );
    // A filter that breaks the wildcard rules.
    refused!(
        subscribe(b"a/#/b", 0),
        DecodeError::InvalidTopicFilter(TopicError::MisplacedMultiLevelWildcard)
    );
    refused!(
        subscribe(b"", 0),
        DecodeError::InvalidTopicFilter(TopicError::Empty)
    );
}

// v3.1.1 [MQTT-3.8.3-3]
#[test]
fn mqtt_3_8_3_3_subscribe_has_at_least_one_filter() {
    assert_eq!(
        enc_err(&Subscribe::new(pid(1), vec![])),
        EncodeError::NoPayloadEntries(PacketType::Subscribe)
    );
    refused!(
        [0x82, 2, 0, 1],
        DecodeError::NoPayloadEntries(PacketType::Subscribe)
    );
    // A filter without its Requested QoS byte is not an entry either.
    refused!(
        frame(0x82, &cat(&[&[0, 1], &s(b"a")])),
        DecodeError::UnexpectedEnd {
            field: "subscription options"
        }
    );
}

// v3.1.1 [MQTT-3-8.3-4] (printed with a dash in the standard)
#[test]
fn mqtt_3_8_3_4_requested_qos_byte_upper_bits_zero_and_qos_below_3() {
    for options in [0x03, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFC] {
        refused!(
            subscribe(b"a", options),
            DecodeError::InvalidSubscriptionOptions(b) if b == options
        );
    }
    for qos in 0..3u8 {
        let Packet::Subscribe(s) = dec(&subscribe(b"a", qos)).unwrap() else {
            panic!("not a SUBSCRIBE")
        };
        assert_eq!(
            s.subscriptions[0].options,
            SubscriptionOptions::new(QoS::from_u8(qos).unwrap())
        );
    }
    // 5.0 subscription options cannot be expressed in 3.1.1.
    let options = [
        SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
        SubscriptionOptions {
            retain_as_published: true,
            ..SubscriptionOptions::default()
        },
        SubscriptionOptions {
            retain_handling: RetainHandling::DoNotSend,
            ..SubscriptionOptions::default()
        },
    ];
    for options in options {
        let s = Subscribe::new(
            pid(1),
            vec![Subscription {
                filter: filter("a"),
                options,
            }],
        );
        assert!(matches!(enc_err(&s), EncodeError::NotInVersion { .. }));
    }
}

// v3.1.1 [MQTT-3.8.4-5], [MQTT-3.9.3-1] (the codec part: one code per entry, in order)
#[test]
fn mqtt_3_8_4_5_and_3_9_3_1_suback_keeps_one_code_per_entry_in_order() {
    let Packet::SubAck(a) = dec(&[0x90, 6, 0, 9, 2, 0x80, 0, 1]).unwrap() else {
        panic!("not a SUBACK")
    };
    assert_eq!(a.packet_id, pid(9));
    assert_eq!(
        a.reason_codes,
        [
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::Success,
            ReasonCode::GrantedQoS1
        ]
    );
    let bytes = roundtrip(a);
    assert_eq!(bytes, [0x90, 6, 0, 9, 2, 0x80, 0, 1]);
    // Any failure is written as 0x80, the only 3.1.1 failure code.
    let a = SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::NotAuthorized, ReasonCode::GrantedQoS1],
        properties: Default::default(),
    };
    assert_eq!(enc(&a), [0x90, 4, 0, 1, 0x80, 1]);
    // A SUBACK without a single return code.
    refused!(
        [0x90, 2, 0, 1],
        DecodeError::NoPayloadEntries(PacketType::SubAck)
    );
}

// v3.1.1 [MQTT-3.9.3-2]
#[test]
fn mqtt_3_9_3_2_suback_return_codes_are_0_1_2_or_0x80() {
    for code in 0..=255u8 {
        let r = dec(&[0x90, 3, 0, 1, code]);
        if matches!(code, 0 | 1 | 2 | 0x80) {
            let Ok(Packet::SubAck(a)) = r else {
                panic!("return code {code:#04x} refused: {r:?}")
            };
            assert_eq!(a.reason_codes[0].as_u8(), code);
        } else {
            assert_eq!(
                r,
                Err(DecodeError::InvalidReasonCode {
                    packet_type: PacketType::SubAck,
                    code
                })
            );
        }
    }
}

// v3.1.1 [MQTT-3.10.1-1]
#[test]
fn mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    let bytes = roundtrip(Unsubscribe::new(pid(1), vec![filter("a")]));
    assert_eq!(bytes, b"\xA2\x05\x00\x01\x00\x01a");
    for first in [0xA0, 0xA1, 0xA3, 0xAA] {
        refused!(
            [first, 5, 0, 1, 0, 1, b'a'],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Unsubscribe,
                ..
            }
        );
    }
}

// v3.1.1 [MQTT-3.10.3-1]
#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_are_utf8_strings_back_to_back() {
    let bytes = roundtrip(Unsubscribe::new(
        pid(1),
        vec![filter("a/+"), filter("#"), filter("é")],
    ));
    assert_eq!(
        bytes,
        frame(
            0xA2,
            &cat(&[&[0, 1], &s(b"a/+"), &s(b"#"), &s("é".as_bytes())])
        )
    );
    refused!(
        frame(0xA2, &cat(&[&[0, 1], &s(b"a"), &s(b"\xFE")])),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::InvalidUtf8
        }
    );
    refused!(
        frame(0xA2, &cat(&[&[0, 1], &s(b"a+")])),
        DecodeError::InvalidTopicFilter(TopicError::MisplacedSingleLevelWildcard)
    );
}

// v3.1.1 [MQTT-3.10.3-2]
#[test]
fn mqtt_3_10_3_2_unsubscribe_has_at_least_one_filter() {
    assert_eq!(
        enc_err(&Unsubscribe::new(pid(1), vec![])),
        EncodeError::NoPayloadEntries(PacketType::Unsubscribe)
    );
    refused!(
        [0xA2, 2, 0, 1],
        DecodeError::NoPayloadEntries(PacketType::Unsubscribe)
    );
}

// v3.1.1 [MQTT-3.14.1-1]
#[test]
fn mqtt_3_14_1_1_disconnect_is_e0_00() {
    assert_eq!(roundtrip(Disconnect::default()), b"\xE0\x00");
    for first in [0xE1, 0xE2, 0xE4, 0xE8, 0xEF] {
        refused!(
            [first, 0],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Disconnect,
                ..
            }
        );
    }
    // 3.1.1 DISCONNECT has no body; 5.0 reason codes cannot be sent.
    refused!(
        [0xE0, 1, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::Disconnect,
            extra: 1
        }
    );
    assert!(matches!(
        enc_err(&Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
        EncodeError::NotInVersion { .. }
    ));
}

// ---------------------------------------------------------------------------------------
// §4.7 Topics on the wire (the pure topic rules and matching are in tests/topics.rs)
// ---------------------------------------------------------------------------------------

// v3.1.1 [MQTT-4.7.3-1] (decoder side)
#[test]
fn mqtt_4_7_3_1_empty_topic_name_and_filter_are_refused_on_the_wire() {
    refused!(
        publish(0x30, b"", None, b"x"),
        DecodeError::InvalidTopicName(TopicError::Empty)
    );
    refused!(
        subscribe(b"", 1),
        DecodeError::InvalidTopicFilter(TopicError::Empty)
    );
    refused!(
        frame(0xA2, &cat(&[&[0, 1], &s(b"")])),
        DecodeError::InvalidTopicFilter(TopicError::Empty)
    );
    // 3.1.1 has no Topic Alias: an empty topic name cannot be encoded.
    assert_eq!(
        enc_err(&Publish::new(TopicName::empty(), "x")),
        EncodeError::EmptyTopicWithoutAlias
    );
}

// v3.1.1 [MQTT-4.7.3-3] (decoder side: the longest topic name fits the length prefix)
#[test]
fn mqtt_4_7_3_3_longest_topic_name_decodes() {
    let long = "a".repeat(65_535);
    let bytes = roundtrip(Publish::new(topic(&long), "x"));
    assert_eq!(&bytes[4..6], b"\xFF\xFF");
}

// ---------------------------------------------------------------------------------------
// Part A.2: unnumbered CODEC rows
// ---------------------------------------------------------------------------------------

// v3.1.1 U311-01
#[test]
fn u311_01_integers_are_16_bit_big_endian() {
    let p = Publish::new(topic("t"), "").with_qos(QoS::AtLeastOnce, PacketId::new(0x1234));
    assert_eq!(roundtrip(p), b"\x32\x05\x00\x01t\x12\x34");
    let c = Connect {
        keep_alive: 0x0102,
        ..base_connect()
    };
    assert_eq!(&roundtrip(c)[10..12], b"\x01\x02");
    assert_eq!(roundtrip(PubAck::new(pid(0xABCD))), b"\x40\x02\xAB\xCD");
    // A 256-byte topic has length prefix 01 00.
    let t = "x".repeat(256);
    assert_eq!(&roundtrip(Publish::new(topic(&t), ""))[3..5], b"\x01\x00");
}

// v3.1.1 U311-02
#[test]
fn u311_02_string_length_counts_bytes_and_is_at_most_65535() {
    // "é/ü" is 3 characters and 5 bytes.
    let bytes = roundtrip(Publish::new(topic("é/ü"), ""));
    assert_eq!(&bytes[2..4], b"\x00\x05");
    let Packet::Publish(p) = dec(&publish(0x30, "é/ü".as_bytes(), None, b"")).unwrap() else {
        panic!("not a PUBLISH")
    };
    assert_eq!(p.topic.as_str(), "é/ü");
    // Empty strings are strings.
    let Packet::Connect(c) = dec(&connect(0x02, &s(b""))).unwrap() else {
        panic!("not a CONNECT")
    };
    assert!(c.client_id.is_empty());
    assert!(MqttString::try_from("a".repeat(65_535)).is_ok());
    assert_eq!(
        MqttString::try_from("a".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
}

// v3.1.1 U311-03: control characters and non-characters SHOULD NOT be sent, a receiver
// MAY close. The codec takes the permissive side: it accepts them, and leaves it to the
// application not to send them.
#[test]
fn u311_03_control_characters_and_non_characters_are_accepted() {
    for t in [
        "a\u{1}b",
        "a\u{1F}",
        "\u{7F}",
        "\u{80}x\u{9F}",
        "\u{FFFF}",
        "\u{FDD0}",
    ] {
        let Packet::Publish(p) = dec(&publish(0x30, t.as_bytes(), None, b"")).unwrap() else {
            panic!("not a PUBLISH")
        };
        assert_eq!(p.topic.as_str(), t);
        assert!(MqttString::try_from(t).is_ok());
    }
}

// v3.1.1 U311-04
#[test]
fn u311_04_packet_types_0_and_15_are_refused() {
    for first in [0x00, 0x0F, 0xF0, 0xFF] {
        let err = refused!([first, 0], DecodeError::ReservedPacketType(_));
        assert_eq!(err, DecodeError::ReservedPacketType(first >> 4));
        // Refused at the first byte.
        let mut buf = BytesMut::from(&[first][..]);
        assert_eq!(
            Decoder::new(V).decode(&mut buf),
            Err(DecodeError::ReservedPacketType(first >> 4))
        );
    }
}

// v3.1.1 U311-05
#[test]
fn u311_05_remaining_length_is_1_to_4_bytes() {
    // A fourth byte with the continuation bit is malformed, as soon as it is read.
    let mut buf = BytesMut::from(&b"\x30\xFF\xFF\xFF\xFF"[..]);
    assert_eq!(
        Decoder::new(V).decode(&mut buf),
        Err(DecodeError::MalformedVariableByteInteger)
    );
    refused!(
        b"\x30\x80\x80\x80\x80\x01",
        DecodeError::MalformedVariableByteInteger
    );
    // The largest Remaining Length, 268,435,455, is a valid header: the decoder waits.
    let header = FixedHeader::parse(b"\x30\xFF\xFF\xFF\x7F", V)
        .unwrap()
        .unwrap();
    assert_eq!(header.remaining_length, 268_435_455);
    assert_eq!(header.header_len, 5);
    let mut buf = BytesMut::from(&b"\x30\xFF\xFF\xFF\x7F"[..]);
    assert_eq!(Decoder::new(V).decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), 5, "nothing consumed");
    // 3.1.1 has no shortest-form rule: a longer encoding of 0 is accepted.
    assert_eq!(dec(b"\xD0\x80\x00"), Ok(Packet::PingResp));
    assert_eq!(
        dec(b"\x40\x82\x00\x00\x01"),
        Ok(Packet::PubAck(PubAck::new(pid(1))))
    );
    // The encoder writes the shortest form at every boundary.
    for (remaining, header) in [
        (127usize, &b"\x7F"[..]),
        (128, b"\x80\x01"),
        (16_383, b"\xFF\x7F"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xFF\xFF\x7F"),
        (2_097_152, b"\x80\x80\x80\x01"),
    ] {
        // Topic "t" takes 3 bytes of the body; the rest is payload.
        let p = Publish::new(topic("t"), vec![0u8; remaining - 3]);
        let mut buf = BytesMut::new();
        let payload = p.encode_vectored(V, usize::MAX, &mut buf).unwrap();
        assert_eq!(payload.map(|b| b.len()), Some(remaining - 3));
        assert_eq!(
            &buf[1..1 + header.len()],
            header,
            "Remaining Length {remaining}"
        );
        assert_eq!(p.encoded_len(V), Ok(1 + header.len() + remaining));
    }
}

// v3.1.1 U311-06
#[test]
fn u311_06_connect_starts_with_mqtt_and_level_4() {
    let bytes = roundtrip(base_connect());
    assert_eq!(&bytes[2..9], b"\x00\x04MQTT\x04");
    // A protocol name that does not go with the level.
    refused!(
        frame(0x10, &cat(&[&s(b"MQTT"), &[3, 2, 0, 60], &s(b"cid")])),
        DecodeError::InvalidProtocolName
    );
    refused!(
        frame(0x10, &cat(&[&s(b"MQIsdp"), &[4, 2, 0, 60], &s(b"cid")])),
        DecodeError::InvalidProtocolName
    );
    refused!(
        frame(0x10, &cat(&[&s(b"MQTt"), &[4, 2, 0, 60], &s(b"cid")])),
        DecodeError::InvalidProtocolName
    );
    refused!(
        frame(0x10, &cat(&[&s(b"MQTT"), &[6, 2, 0, 60], &s(b"cid")])),
        DecodeError::UnsupportedProtocolLevel(6)
    );
    let Packet::Connect(c) = dec(&connect(0x02, &s(b"cid"))).unwrap() else {
        panic!("not a CONNECT")
    };
    assert_eq!(c.protocol_version, V);
}

// v3.1.1 U311-08
#[test]
fn u311_08_will_message_and_password_are_binary_data() {
    // Bytes that are not UTF-8 travel untouched.
    let c = Connect {
        will: Some(Will::new(topic("w"), Bytes::from_static(b"\xFF\x00\xFE"))),
        user_name: Some(mstr("u")),
        password: Some(Bytes::from_static(b"\xC3\x28\x00")),
        ..base_connect()
    };
    roundtrip(c);
    // Up to 65,535 bytes, not more.
    let c = Connect {
        will: Some(Will::new(topic("w"), vec![0u8; 65_535])),
        ..base_connect()
    };
    roundtrip(c);
    let c = Connect {
        will: Some(Will::new(topic("w"), vec![0u8; 65_536])),
        ..base_connect()
    };
    assert_eq!(
        enc_err(&c),
        EncodeError::BinaryTooLong {
            field: "will payload",
            len: 65_536
        }
    );
    let c = Connect {
        user_name: Some(mstr("u")),
        password: Some(Bytes::from(vec![1u8; 65_536])),
        ..base_connect()
    };
    assert_eq!(
        enc_err(&c),
        EncodeError::BinaryTooLong {
            field: "password",
            len: 65_536
        }
    );
}

// v3.1.1 U311-11
#[test]
fn u311_11_connack_is_20_02_flags_return_code() {
    assert_eq!(
        roundtrip(ConnAck::new(ReasonCode::Success)),
        b"\x20\x02\x00\x00"
    );
    let c = ConnAck {
        session_present: true,
        ..ConnAck::new(ReasonCode::Success)
    };
    assert_eq!(roundtrip(c), b"\x20\x02\x01\x00");
    for flags in [0x02, 0x80, 0xFE, 0x03] {
        refused!(
            [0x20, 2, flags, 0],
            DecodeError::InvalidConnAckFlags(f) if f == flags
        );
    }
    refused!(
        [0x20, 3, 0, 0, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::ConnAck,
            extra: 1
        }
    );
    refused!([0x20, 1, 0], DecodeError::UnexpectedEnd { .. });
}

// v3.1.1 U311-14
#[test]
fn u311_14_zero_length_payload_is_legal() {
    assert_eq!(
        roundtrip(Publish::new(topic("t"), "")),
        b"\x30\x03\x00\x01t"
    );
    let p = Publish::new(topic("t"), "").with_qos(QoS::ExactlyOnce, PacketId::new(5));
    assert_eq!(roundtrip(p), b"\x34\x05\x00\x01t\x00\x05");
    // Payload length = Remaining Length - variable header.
    let Packet::Publish(p) = dec(&publish(0x32, b"ab", Some(1), b"xyz")).unwrap() else {
        panic!("not a PUBLISH")
    };
    assert_eq!(&p.payload[..], b"xyz");
}

// v3.1.1 U311-15
#[test]
fn u311_15_publish_acknowledgements_carry_only_the_packet_identifier() {
    assert_eq!(roundtrip(PubAck::new(pid(1))), b"\x40\x02\x00\x01");
    assert_eq!(roundtrip(PubRec::new(pid(1))), b"\x50\x02\x00\x01");
    assert_eq!(roundtrip(PubRel::new(pid(1))), b"\x62\x02\x00\x01");
    assert_eq!(roundtrip(PubComp::new(pid(1))), b"\x70\x02\x00\x01");
    for first in [0x40, 0x50, 0x62, 0x70] {
        refused!(
            [first, 3, 0, 1, 0],
            DecodeError::TrailingBytes { extra: 1, .. }
        );
        refused!([first, 1, 0], DecodeError::UnexpectedEnd { .. });
    }
    // 5.0 reason codes and properties cannot be sent.
    assert!(matches!(
        enc_err(&PubAck::with_reason(pid(1), ReasonCode::UnspecifiedError)),
        EncodeError::NotInVersion { .. }
    ));
    assert!(matches!(
        enc_err(&PubRel::with_reason(
            pid(1),
            ReasonCode::PacketIdentifierNotFound
        )),
        EncodeError::NotInVersion { .. }
    ));
}

// v3.1.1 U311-16
#[test]
fn u311_16_suback_and_unsuback_layout() {
    let a = SubAck {
        packet_id: pid(2),
        reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError],
        properties: Default::default(),
    };
    assert_eq!(roundtrip(a), b"\x90\x04\x00\x02\x01\x80");
    let u = UnsubAck {
        packet_id: pid(2),
        reason_codes: vec![],
        properties: Default::default(),
    };
    assert_eq!(roundtrip(u), b"\xB0\x02\x00\x02");
    refused!(
        [0xB0, 3, 0, 2, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::UnsubAck,
            extra: 1
        }
    );
}

// v3.1.1 U311-17
#[test]
fn u311_17_pingreq_and_pingresp_are_two_bytes() {
    assert_eq!(roundtrip(Packet::PingReq), b"\xC0\x00");
    assert_eq!(roundtrip(Packet::PingResp), b"\xD0\x00");
    refused!(
        [0xC0, 1, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::PingReq,
            extra: 1
        }
    );
    refused!(
        [0xD0, 1, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::PingResp,
            extra: 1
        }
    );
}

// ---------------------------------------------------------------------------------------
// Part A.3: framing violations the client closes on ([MQTT-4.8.0-1], tagged SESSION for
// the reaction; the detection is the codec's)
// ---------------------------------------------------------------------------------------

// v3.1.1 A.3 / [MQTT-4.8.0-1]: fields overrunning or not filling the Remaining Length.
#[test]
fn a3_fields_must_fill_the_remaining_length_exactly() {
    // Overrun: the topic length says 5, the packet has 2 bytes left.
    refused!(
        frame(0x30, b"\x00\x05ab"),
        DecodeError::UnexpectedEnd {
            field: "topic name"
        }
    );
    // Overrun: SUBSCRIBE filter without its full string.
    refused!(
        frame(0x82, b"\x00\x01\x00\x04ab"),
        DecodeError::UnexpectedEnd { .. }
    );
    // Not filled: bytes after the last field.
    refused!(
        [0x62, 4, 0, 1, 0, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::PubRel,
            extra: 2
        }
    );
    refused!(
        [0xE0, 2, 0, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::Disconnect,
            extra: 2
        }
    );
    // Packet::decode given more bytes than the packet's size.
    assert_eq!(
        Packet::decode(Bytes::from_static(b"\xC0\x00\x00"), V),
        Err(DecodeError::TrailingBytes {
            packet_type: PacketType::PingReq,
            extra: 1
        })
    );
}

// v3.1.1 A.3 / [MQTT-4.8.0-1]: a packet only a client sends, arriving from the server.
#[test]
fn a3_client_only_packets_from_the_server_are_refused() {
    let cases: [Vec<u8>; 4] = [
        connect(0x02, &s(b"cid")),
        subscribe(b"a", 0),
        frame(0xA2, &cat(&[&[0, 1], &s(b"a")])),
        vec![0xC0, 0],
    ];
    for bytes in cases {
        let mut buf = BytesMut::from(&bytes[..]);
        let err = Decoder::new(V)
            .with_sender(Role::Server)
            .decode(&mut buf)
            .expect_err("a client-only packet from the server was accepted");
        assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
        // The same bytes are fine from a client.
        let mut buf = BytesMut::from(&bytes[..]);
        assert!(
            Decoder::new(V)
                .with_sender(Role::Client)
                .decode(&mut buf)
                .unwrap()
                .is_some()
        );
    }
    // And server-only packets from a client.
    for bytes in [
        &b"\x20\x02\x00\x00"[..],
        b"\x90\x03\x00\x01\x00",
        b"\xB0\x02\x00\x01",
        b"\xD0\x00",
    ] {
        let mut buf = BytesMut::from(bytes);
        let err = Decoder::new(V)
            .with_sender(Role::Client)
            .decode(&mut buf)
            .unwrap_err();
        assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
    }
}

// v3.1.1 A.3 / U311-18 / [MQTT-4.8.0-1]: in 3.1.1 DISCONNECT flows client to server only
// (Table 2.1), so a DISCONNECT from the server is a protocol violation.
#[test]
fn a3_u311_18_disconnect_from_the_server_is_refused() {
    let mut buf = BytesMut::from(&b"\xE0\x00"[..]);
    let result = Decoder::new(V).with_sender(Role::Server).decode(&mut buf);
    assert!(
        matches!(result, Err(DecodeError::WrongSender { .. })),
        "a 3.1.1 DISCONNECT from the server was accepted: {result:?}"
    );
}

// The streaming decoder takes whole packets only, and several from one buffer.
#[test]
fn a3_streaming_decoder_waits_for_whole_packets() {
    let mut d = Decoder::new(V);
    let mut buf = BytesMut::new();
    let wire = cat(&[
        b"\x40\x02\x00\x01",
        &publish(0x30, b"t", None, b"hello"),
        b"\xD0\x00",
    ]);
    let mut out = Vec::new();
    for byte in &wire {
        buf.extend_from_slice(&[*byte]);
        while let Some(p) = d.decode(&mut buf).unwrap() {
            out.push(p);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(
        out,
        [
            PubAck::new(pid(1)).into(),
            Publish::new(topic("t"), "hello").into(),
            Packet::PingResp
        ]
    );
}
