//! MQTT 5.0 conformance: one or more tests for every CODEC statement of Part B of
//! `/work/shared/CONFORMANCE.md` (numbered Appendix B IDs and the unnumbered U5-xx rows).
//!
//! Every test names the statement it checks as `v5 [MQTT-x.y.z-n]` or `v5 U5-nn`. A refused
//! packet is checked for its `DecodeError` variant and for the reason code of the
//! DISCONNECT it calls for: 0x81 Malformed Packet and 0x82 Protocol Error where the
//! specification fixes the class, the specific codes (0x8F, 0x90, 0x94, 0x95) where the codec
//! has one, and "0x81 or 0x82" where the specification leaves the class open. Topic syntax
//! and matching live in `tests/topics.rs`.

use core::num::{NonZeroU16, NonZeroU32};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    DecodeError, Decoder, Disconnect, DisconnectProperties, Encode, EncodeError, FixedHeader,
    MAX_PACKET_SIZE, MAX_VARIABLE_BYTE_INTEGER, MqttString, Packet, PacketId, PacketType,
    PropertyId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, QoS,
    ReasonCode, RetainHandling, Role, StringError, SubAck, Subscribe, SubscribeProperties,
    Subscription, SubscriptionOptions, TopicError, TopicFilter, TopicName, UnsubAck, Unsubscribe,
    UserProperty, Will, WillProperties,
};

const V: ProtocolVersion = ProtocolVersion::V5;
const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

// Property identifiers (Table 2-4).
const PFI: u8 = 0x01;
const MEI: u8 = 0x02;
const CT: u8 = 0x03;
const RT: u8 = 0x08;
const CD: u8 = 0x09;
const SI: u8 = 0x0B;
const SEI: u8 = 0x11;
const ACI: u8 = 0x12;
const AM: u8 = 0x15;
const AD: u8 = 0x16;
const RPI: u8 = 0x17;
const WDI: u8 = 0x18;
const RRI: u8 = 0x19;
const SR: u8 = 0x1C;
const RS: u8 = 0x1F;
const RM: u8 = 0x21;
const TAM: u8 = 0x22;
const TA: u8 = 0x23;
const MQ: u8 = 0x24;
const RA: u8 = 0x25;
const MPS: u8 = 0x27;
const WSA: u8 = 0x28;
const SIA: u8 = 0x29;
const SSA: u8 = 0x2A;

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

/// Property Length and the properties.
fn props(list: &[&[u8]]) -> Vec<u8> {
    let content = list.concat();
    cat(&[&vbi(content.len()), &content])
}

fn p_byte(id: u8, v: u8) -> Vec<u8> {
    vec![id, v]
}

fn p_two(id: u8, v: u16) -> Vec<u8> {
    cat(&[&[id], &v.to_be_bytes()])
}

fn p_four(id: u8, v: u32) -> Vec<u8> {
    cat(&[&[id], &v.to_be_bytes()])
}

fn p_var(id: u8, v: usize) -> Vec<u8> {
    cat(&[&[id], &vbi(v)])
}

/// A UTF-8 string or binary data property.
fn p_str(id: u8, v: &[u8]) -> Vec<u8> {
    cat(&[&[id], &s(v)])
}

fn p_pair(name: &[u8], value: &[u8]) -> Vec<u8> {
    cat(&[&[0x26], &s(name), &s(value)])
}

/// A 5.0 PUBLISH: first byte, raw topic, optional packet id, properties, payload.
fn publish(
    first: u8,
    topic: &[u8],
    id: Option<u16>,
    properties: &[&[u8]],
    payload: &[u8],
) -> Vec<u8> {
    let id = id.map(|i| i.to_be_bytes().to_vec()).unwrap_or_default();
    frame(first, &cat(&[&s(topic), &id, &props(properties), payload]))
}

/// A QoS 0 PUBLISH to "t" with these properties and no payload.
fn publish_props(properties: &[&[u8]]) -> Vec<u8> {
    publish(0x30, b"t", None, properties, b"")
}

/// A 5.0 CONNECT: MQTT, level 5, `flags`, keep alive 60, properties, then `payload`.
fn connect(flags: u8, properties: &[&[u8]], payload: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &cat(&[&s(b"MQTT"), &[5, flags, 0, 60], &props(properties), payload]),
    )
}

/// A CONNECT with a Will (flags 0x06) whose Will Properties are `will_properties`.
fn connect_with_will(will_properties: &[&[u8]]) -> Vec<u8> {
    connect(
        0x06,
        &[],
        &cat(&[&s(b"cid"), &props(will_properties), &s(b"w"), &s(b"m")]),
    )
}

fn connack(flags: u8, code: u8, properties: &[&[u8]]) -> Vec<u8> {
    frame(0x20, &cat(&[&[flags, code], &props(properties)]))
}

/// A SUBSCRIBE with packet id 1, properties and raw entries.
fn subscribe(properties: &[&[u8]], entries: &[u8]) -> Vec<u8> {
    frame(0x82, &cat(&[&[0, 1], &props(properties), entries]))
}

/// A SUBSCRIBE with one raw filter and options byte.
fn sub1(filter: &[u8], options: u8) -> Vec<u8> {
    subscribe(&[], &cat(&[&s(filter), &[options]]))
}

fn unsubscribe(properties: &[&[u8]], filters: &[u8]) -> Vec<u8> {
    frame(0xA2, &cat(&[&[0, 1], &props(properties), filters]))
}

/// A PUBACK / PUBREC / PUBREL / PUBCOMP in its full form.
fn ack(first: u8, code: u8, properties: &[&[u8]]) -> Vec<u8> {
    frame(first, &cat(&[&[0, 1, code], &props(properties)]))
}

fn disconnect(code: u8, properties: &[&[u8]]) -> Vec<u8> {
    frame(0xE0, &cat(&[&[code], &props(properties)]))
}

fn auth(code: u8, properties: &[&[u8]]) -> Vec<u8> {
    frame(0xF0, &cat(&[&[code], &props(properties)]))
}

/// Decodes one whole packet with the streaming decoder and with `Packet::decode`, checks
/// that both agree and that the decoder took the whole packet off the buffer.
fn dec(bytes: &[u8]) -> Result<Packet, DecodeError> {
    let direct = Packet::decode(Bytes::copy_from_slice(bytes), V);
    let mut buf = BytesMut::from(bytes);
    let streamed = Decoder::new(V).decode(&mut buf).map(|p| {
        assert!(buf.is_empty(), "the decoder left {} bytes", buf.len());
        p.expect("a whole packet was given but the decoder waits for more")
    });
    assert_eq!(direct, streamed, "Packet::decode and Decoder disagree");
    streamed
}

/// Decodes one whole packet sent by `sender`.
fn dec_from(sender: Role, bytes: &[u8]) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(bytes);
    let r = Decoder::new(V)
        .with_sender(sender)
        .decode(&mut buf)
        .map(|p| p.expect("a whole packet was given but the decoder waits for more"));
    if let Ok(p) = &r {
        assert_eq!(p.check_sender(sender), Ok(()));
    }
    r
}

/// Asserts the decoder refuses the bytes with this error pattern and reason code.
macro_rules! refused {
    ($bytes:expr, $pat:pat $(if $guard:expr)?, $code:expr) => {{
        let err = dec(AsRef::<[u8]>::as_ref(&$bytes))
            .expect_err("the decoder accepted bytes MQTT 5.0 forbids");
        assert!(matches!(err, $pat $(if $guard)?), "unexpected error {err:?}");
        assert_eq!(err.reason_code(), $code, "reason code of {err:?}");
        err
    }};
}

/// As `refused!`, where the specification does not say whether the packet is malformed or
/// a protocol error: either is accepted.
macro_rules! refused_fatal {
    ($bytes:expr, $pat:pat $(if $guard:expr)?) => {{
        let err = dec(AsRef::<[u8]>::as_ref(&$bytes))
            .expect_err("the decoder accepted bytes MQTT 5.0 forbids");
        assert!(matches!(err, $pat $(if $guard)?), "unexpected error {err:?}");
        assert!(
            matches!(err.reason_code(), MALFORMED | PROTOCOL),
            "reason code of {err:?}: {}",
            err.reason_code()
        );
        err
    }};
}

fn ok(bytes: &[u8]) -> Packet {
    dec(bytes).unwrap_or_else(|e| panic!("valid bytes {bytes:02x?} refused: {e:?}"))
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
        .expect_err("the encoder accepted a packet MQTT 5.0 forbids");
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

fn user(name: &str, value: &str) -> UserProperty {
    UserProperty::new(mstr(name), mstr(value))
}

fn base_connect() -> Connect {
    Connect::new(V, mstr("cid"))
}

fn publish_with(properties: PublishProperties) -> Publish {
    Publish::new(topic("t"), "").with_properties(properties)
}

fn as_publish(p: Packet) -> Publish {
    match p {
        Packet::Publish(p) => p,
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

fn as_connect(p: Packet) -> Connect {
    match p {
        Packet::Connect(c) => *c,
        other => panic!("not a CONNECT: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// §1.5 Data representation
// ---------------------------------------------------------------------------------------

/// Ill-formed sequences: a stray continuation byte, a truncated sequence, an encoded
/// surrogate (U+DFFF), an overlong encoding and a code point above U+10FFFF.
const ILL_FORMED: &[&[u8]] = &[
    b"\x80",
    b"ab\xE2\x82",
    b"\xED\xBF\xBF",
    b"\xE0\x80\xAF",
    b"\xF5\x80\x80\x80",
];

// v5 [MQTT-1.5.4-1]
#[test]
fn mqtt_1_5_4_1_ill_formed_utf8_is_malformed() {
    for bad in ILL_FORMED {
        let invalid = StringError::InvalidUtf8;
        refused!(
            publish(0x30, bad, None, &[], b""),
            DecodeError::InvalidString { field: "topic name", error } if error == invalid,
            MALFORMED
        );
        refused!(
            publish_props(&[&p_str(CT, bad)]),
            DecodeError::InvalidString { field: "Content Type", error } if error == invalid,
            MALFORMED
        );
        refused!(
            ack(0x40, 0, &[&p_str(RS, bad)]),
            DecodeError::InvalidString { field: "Reason String", error } if error == invalid,
            MALFORMED
        );
        refused!(
            sub1(bad, 0),
            DecodeError::InvalidString { field: "topic filter", error } if error == invalid,
            MALFORMED
        );
        refused!(
            connect(0x02, &[], &s(bad)),
            DecodeError::InvalidString { field: "client identifier", error } if error == invalid,
            MALFORMED
        );
        refused!(
            connack(0, 0, &[&p_str(ACI, bad)]),
            DecodeError::InvalidString { field: "Assigned Client Identifier", error } if error == invalid,
            MALFORMED
        );
        refused!(
            disconnect(0x9C, &[&p_str(SR, bad)]),
            DecodeError::InvalidString { field: "Server Reference", error } if error == invalid,
            MALFORMED
        );
        assert_eq!(
            MqttString::from_bytes(Bytes::copy_from_slice(bad)),
            Err(StringError::InvalidUtf8)
        );
    }
}

// v5 [MQTT-1.5.4-2]
#[test]
fn mqtt_1_5_4_2_null_character_is_malformed() {
    let null = StringError::NullCharacter;
    refused!(
        publish(0x30, b"a\0", None, &[], b""),
        DecodeError::InvalidString { field: "topic name", error } if error == null,
        MALFORMED
    );
    refused!(
        publish_props(&[&p_str(CT, b"text/\0")]),
        DecodeError::InvalidString { field: "Content Type", error } if error == null,
        MALFORMED
    );
    refused!(
        auth(0x18, &[&p_str(AM, b"\0")]),
        DecodeError::InvalidString { field: "Authentication Method", error } if error == null,
        MALFORMED
    );
    assert_eq!(MqttString::try_from("\0"), Err(StringError::NullCharacter));
}

// v5 [MQTT-1.5.4-3]
#[test]
fn mqtt_1_5_4_3_feff_is_kept_and_never_stripped() {
    let p = as_publish(ok(&publish(
        0x30,
        b"\xEF\xBB\xBFt",
        None,
        &[&p_pair(b"\xEF\xBB\xBFk", b"v\xEF\xBB\xBF")],
        b"",
    )));
    assert_eq!(p.topic.as_str(), "\u{FEFF}t");
    assert_eq!(
        p.properties.user_properties,
        [user("\u{FEFF}k", "v\u{FEFF}")]
    );
    let Packet::PubAck(a) = ok(&ack(0x40, 0x80, &[&p_str(RS, b"\xEF\xBB\xBF")])) else {
        panic!("not a PUBACK")
    };
    assert_eq!(a.properties.reason_string.as_deref(), Some("\u{FEFF}"));
    roundtrip(p);
}

// v5 [MQTT-1.5.5-1]: the decoder refuses longer forms wherever a Variable Byte Integer is.
#[test]
fn mqtt_1_5_5_1_variable_byte_integers_in_shortest_form_decoder() {
    let non_minimal = |bytes: &[u8]| {
        refused!(bytes, DecodeError::NonMinimalVariableByteInteger, MALFORMED);
    };
    // Remaining Length.
    non_minimal(b"\xD0\x80\x00");
    non_minimal(b"\x40\x82\x00\x00\x01");
    non_minimal(b"\xE0\x80\x80\x00");
    // Property Length 0 written in two bytes.
    non_minimal(&frame(0x30, &cat(&[&s(b"t"), b"\x80\x00"])));
    // Property identifier 0x01 written in two bytes.
    non_minimal(&frame(0x30, &cat(&[&s(b"t"), b"\x03\x81\x00\x01"])));
    // Subscription Identifier 1 written in two bytes.
    non_minimal(&frame(0x30, &cat(&[&s(b"t"), b"\x03\x0B\x81\x00"])));
    non_minimal(&subscribe(&[b"\x0B\x81\x80\x00"], &cat(&[&s(b"a"), &[0]])));
    // The shortest forms of the same values are fine.
    assert_eq!(ok(b"\xD0\x00"), Packet::PingResp);
    assert_eq!(
        as_publish(ok(&publish_props(&[&p_var(SI, 1)])))
            .properties
            .subscription_identifiers,
        [1]
    );
    // MQTT 3.1.1 has no such rule: the same bytes are accepted there.
    assert_eq!(
        Packet::decode(Bytes::from_static(b"\xD0\x80\x00"), ProtocolVersion::V3_1_1),
        Ok(Packet::PingResp)
    );
}

// v5 [MQTT-1.5.5-1]: the encoder writes the shortest form.
#[test]
fn mqtt_1_5_5_1_variable_byte_integers_in_shortest_form_encoder() {
    // Remaining Length at each boundary. Topic "t" and Property Length take 4 bytes.
    for (remaining, header) in [
        (0x7Fusize, &b"\x7F"[..]),
        (128, b"\x80\x01"),
        (16_383, b"\xFF\x7F"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xFF\xFF\x7F"),
        (2_097_152, b"\x80\x80\x80\x01"),
    ] {
        let p = Publish::new(topic("t"), vec![7u8; remaining - 4]);
        let mut buf = BytesMut::new();
        p.encode_vectored(V, MAX_PACKET_SIZE, &mut buf).unwrap();
        assert_eq!(
            &buf[1..1 + header.len()],
            header,
            "Remaining Length {remaining}"
        );
        assert_eq!(p.encoded_len(V), Ok(1 + header.len() + remaining));
    }
    // Subscription Identifier values at each boundary.
    for (id, wire) in [
        (1u32, &b"\x01"[..]),
        (127, b"\x7F"),
        (128, b"\x80\x01"),
        (16_384, b"\x80\x80\x01"),
        (MAX_VARIABLE_BYTE_INTEGER, b"\xFF\xFF\xFF\x7F"),
    ] {
        let sub = Subscribe {
            properties: SubscribeProperties {
                subscription_identifier: Some(id),
                ..SubscribeProperties::default()
            }
            .into(),
            ..Subscribe::new(
                pid(1),
                vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
            )
        };
        let expected = subscribe(&[&cat(&[&[SI], wire])], &cat(&[&s(b"a"), &[0]]));
        assert_eq!(roundtrip(sub), expected, "Subscription Identifier {id}");
    }
    // Property Length of 127 and 128 bytes.
    for len in [127usize, 128] {
        // One User Property of 5 + n bytes.
        let value = "v".repeat(len - 6);
        let p = publish_with(PublishProperties {
            user_properties: vec![user("k", &value)],
            ..PublishProperties::default()
        });
        let bytes = roundtrip(p);
        let expected = publish_props(&[&p_pair(b"k", value.as_bytes())]);
        assert_eq!(bytes, expected, "Property Length {len}");
    }
}

// v5 [MQTT-1.5.7-1]
#[test]
fn mqtt_1_5_7_1_user_property_name_and_value_are_utf8_strings() {
    refused!(
        publish_props(&[&p_pair(b"\xFF", b"v")]),
        DecodeError::InvalidString {
            field: "User Property name",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        publish_props(&[&p_pair(b"k", b"\xED\xA0\x80")]),
        DecodeError::InvalidString {
            field: "User Property value",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        connect(0x02, &[&p_pair(b"k\0", b"v")], &s(b"cid")),
        DecodeError::InvalidString {
            field: "User Property name",
            error: StringError::NullCharacter
        },
        MALFORMED
    );
    refused!(
        disconnect(0, &[&p_pair(b"k", b"\0")]),
        DecodeError::InvalidString {
            field: "User Property value",
            error: StringError::NullCharacter
        },
        MALFORMED
    );
    // A pair cut short by the end of the properties.
    refused!(
        publish_props(&[&cat(&[&[0x26], &s(b"k")])]),
        DecodeError::UnexpectedEnd { .. },
        MALFORMED
    );
    // Empty names and values are strings too.
    let p = as_publish(ok(&publish_props(&[&p_pair(b"", b"")])));
    assert_eq!(p.properties.user_properties, [user("", "")]);
}

// ---------------------------------------------------------------------------------------
// §2 Fixed header, packet identifiers, properties
// ---------------------------------------------------------------------------------------

// v5 [MQTT-2.1.3-1]
#[test]
fn mqtt_2_1_3_1_fixed_header_flags_are_the_tabled_ones() {
    for raw_type in 1..=15u8 {
        let Some(packet_type) = PacketType::from_u8(raw_type) else {
            unreachable!()
        };
        if packet_type == PacketType::Publish {
            continue;
        }
        let required = if matches!(raw_type, 6 | 8 | 10) { 2 } else { 0 };
        for flags in (0..16u8).filter(|&f| f != required) {
            let first = (raw_type << 4) | flags;
            // Refused at the first byte, before the Remaining Length is in.
            let mut buf = BytesMut::from(&[first][..]);
            let err = Decoder::new(V).decode(&mut buf).unwrap_err();
            assert_eq!(
                err,
                DecodeError::InvalidFixedHeaderFlags { packet_type, flags }
            );
            assert_eq!(err.reason_code(), MALFORMED);
        }
    }
    // The encoder writes the tabled flags, AUTH included.
    let cases: [(Packet, u8); 15] = [
        (base_connect().into(), 0x10),
        (ConnAck::new(ReasonCode::Success).into(), 0x20),
        (Publish::new(topic("t"), "").into(), 0x30),
        (PubAck::new(pid(1)).into(), 0x40),
        (PubRec::new(pid(1)).into(), 0x50),
        (PubRel::new(pid(1)).into(), 0x62),
        (PubComp::new(pid(1)).into(), 0x70),
        (
            Subscribe::new(
                pid(1),
                vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
            )
            .into(),
            0x82,
        ),
        (
            SubAck {
                packet_id: pid(1),
                reason_codes: vec![ReasonCode::Success],
                properties: AckProperties::default().into(),
            }
            .into(),
            0x90,
        ),
        (Unsubscribe::new(pid(1), vec![filter("a")]).into(), 0xA2),
        (
            UnsubAck {
                packet_id: pid(1),
                reason_codes: vec![ReasonCode::Success],
                properties: AckProperties::default().into(),
            }
            .into(),
            0xB0,
        ),
        (Packet::PingReq, 0xC0),
        (Packet::PingResp, 0xD0),
        (Disconnect::default().into(), 0xE0),
        (
            Auth::new(ReasonCode::ContinueAuthentication, mstr("m"), None).into(),
            0xF0,
        ),
    ];
    for (packet, first) in cases {
        assert_eq!(roundtrip(packet.clone())[0], first, "{packet:?}");
    }
}

// v5 [MQTT-2.2.1-2]
#[test]
fn mqtt_2_2_1_2_qos0_publish_has_no_packet_identifier() {
    assert_eq!(
        enc_err(&Publish::new(topic("t"), "").with_qos(QoS::AtMostOnce, PacketId::new(3))),
        EncodeError::UnexpectedPacketId
    );
    assert_eq!(
        roundtrip(Publish::new(topic("t"), "x")),
        b"\x30\x05\x00\x01t\x00x"
    );
    // Right after a QoS 0 topic come the properties, not an identifier.
    let p = as_publish(ok(&frame(0x30, &cat(&[&s(b"t"), b"\x00\x00\x01"]))));
    assert_eq!(p.packet_id, None);
    assert_eq!(&p.payload[..], b"\x00\x01");
    // QoS 1/2: present and never 0 (the non-zero rule is [MQTT-2.2.1-3], SESSION-tagged,
    // but the decoder refuses 0).
    refused_fatal!(
        publish(0x32, b"t", Some(0), &[], b""),
        DecodeError::ZeroPacketId
    );
    refused_fatal!([0x40, 2, 0, 0], DecodeError::ZeroPacketId);
    refused_fatal!(
        frame(0x82, &cat(&[&[0, 0], &props(&[]), &s(b"a"), &[0]])),
        DecodeError::ZeroPacketId
    );
    assert_eq!(
        enc_err(&Publish::new(topic("t"), "").with_qos(QoS::ExactlyOnce, None)),
        EncodeError::MissingPacketId
    );
}

// v5 [MQTT-2.2.2-1]
#[test]
fn mqtt_2_2_2_1_property_length_0_is_always_written() {
    assert_eq!(
        roundtrip(Publish::new(topic("t"), "")),
        b"\x30\x04\x00\x01t\x00"
    );
    assert_eq!(
        roundtrip(Subscribe::new(
            pid(1),
            vec![Subscription::new(filter("a"), QoS::AtMostOnce)]
        )),
        b"\x82\x07\x00\x01\x00\x00\x01a\x00"
    );
    assert_eq!(
        roundtrip(Unsubscribe::new(pid(1), vec![filter("a")])),
        b"\xA2\x06\x00\x01\x00\x00\x01a"
    );
    assert_eq!(
        roundtrip(ConnAck::new(ReasonCode::Success)),
        b"\x20\x03\x00\x00\x00"
    );
    assert_eq!(
        roundtrip(Connect::new(V, MqttString::new())),
        b"\x10\x0D\x00\x04MQTT\x05\x02\x00\x3C\x00\x00\x00"
    );
    // Will Properties too.
    let c = Connect {
        will: Some(Will::new(topic("w"), "m")),
        ..Connect::new(V, MqttString::new())
    };
    assert_eq!(
        roundtrip(c),
        connect(0x06, &[], &cat(&[&s(b""), &[0], &s(b"w"), &s(b"m")]))
    );
    let suback = SubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    };
    assert_eq!(roundtrip(suback), b"\x90\x04\x00\x01\x00\x01");
    let unsuback = UnsubAck {
        packet_id: pid(1),
        reason_codes: vec![ReasonCode::Success],
        properties: AckProperties::default().into(),
    };
    assert_eq!(roundtrip(unsuback), b"\xB0\x04\x00\x01\x00\x00");
    // Leaving it out where it is required makes the packet run short.
    refused!(
        frame(0x30, &s(b"t")),
        DecodeError::UnexpectedEnd {
            field: "property length"
        },
        MALFORMED
    );
    refused!(
        [0x20, 2, 0, 0],
        DecodeError::UnexpectedEnd {
            field: "property length"
        },
        MALFORMED
    );
    refused!(
        frame(0x10, &cat(&[&s(b"MQTT"), &[5, 2, 0, 60]])),
        DecodeError::UnexpectedEnd {
            field: "property length"
        },
        MALFORMED
    );
}

// ---------------------------------------------------------------------------------------
// §3.1 CONNECT
// ---------------------------------------------------------------------------------------

fn full_connect() -> Connect {
    Connect {
        will: Some(Will {
            qos: QoS::AtLeastOnce,
            properties: WillProperties {
                will_delay_interval: Some(5),
                ..WillProperties::default()
            },
            ..Will::new(topic("w"), "bye")
        }),
        user_name: Some(mstr("u")),
        password: Some(Bytes::from_static(b"p")),
        properties: ConnectProperties {
            session_expiry_interval: Some(10),
            ..ConnectProperties::default()
        },
        ..base_connect()
    }
}

// v5 [MQTT-3.1.2-1]
#[test]
fn mqtt_3_1_2_1_protocol_name_is_mqtt() {
    assert_eq!(&roundtrip(base_connect())[2..8], b"\x00\x04MQTT");
    for name in [&b"MQTX"[..], b"mqtt", b"MQIsdp", b"MQTT\0", b""] {
        refused_fatal!(
            frame(0x10, &cat(&[&s(name), &[5, 2, 0, 60, 0], &s(b"cid")])),
            DecodeError::InvalidProtocolName | DecodeError::InvalidString { .. }
        );
    }
}

// v5 [MQTT-3.1.2-3]
#[test]
fn mqtt_3_1_2_3_connect_reserved_flag_is_zero() {
    for c in [base_connect(), full_connect()] {
        assert_eq!(roundtrip(c)[9] & 1, 0);
    }
    refused!(
        connect(0x03, &[], &s(b"cid")),
        DecodeError::InvalidConnectFlags(_),
        MALFORMED
    );
}

// v5 [MQTT-3.1.2-9]
#[test]
fn mqtt_3_1_2_9_will_flag_brings_will_properties_topic_and_payload() {
    let bytes = roundtrip(full_connect());
    assert_eq!(bytes[9] & 0x3C, 0x04 | 0x08);
    // Missing Will Properties, Will Topic or Will Payload.
    refused!(
        connect(0x06, &[], &s(b"cid")),
        DecodeError::UnexpectedEnd {
            field: "property length"
        },
        MALFORMED
    );
    refused!(
        connect(0x06, &[], &cat(&[&s(b"cid"), &[0]])),
        DecodeError::UnexpectedEnd {
            field: "will topic"
        },
        MALFORMED
    );
    refused!(
        connect(0x06, &[], &cat(&[&s(b"cid"), &[0], &s(b"w")])),
        DecodeError::UnexpectedEnd {
            field: "will payload"
        },
        MALFORMED
    );
    let c = as_connect(ok(&connect_with_will(&[&p_four(WDI, 7)])));
    let will = c.will.unwrap();
    assert_eq!(will.properties.will_delay_interval, Some(7));
    assert_eq!((will.topic.as_str(), &will.payload[..]), ("w", &b"m"[..]));
}

// v5 [MQTT-3.1.2-11]
#[test]
fn mqtt_3_1_2_11_will_qos_is_zero_without_will_flag() {
    assert_eq!(roundtrip(base_connect())[9], 0x02);
    for flags in [0x0A, 0x12] {
        refused!(
            connect(flags, &[], &s(b"cid")),
            DecodeError::InvalidConnectFlags(_),
            MALFORMED
        );
    }
}

// v5 [MQTT-3.1.2-12]
#[test]
fn mqtt_3_1_2_12_will_qos_3_is_malformed() {
    refused!(
        connect(0x1E, &[], &cat(&[&s(b"cid"), &[0], &s(b"w"), &s(b"m")])),
        DecodeError::InvalidConnectFlags(_),
        MALFORMED
    );
    assert_eq!(QoS::from_u8(3), None);
}

// v5 [MQTT-3.1.2-13]
#[test]
fn mqtt_3_1_2_13_will_retain_is_zero_without_will_flag() {
    refused!(
        connect(0x22, &[], &s(b"cid")),
        DecodeError::InvalidConnectFlags(_),
        MALFORMED
    );
    let with_retain = Connect {
        will: Some(Will {
            retain: true,
            ..Will::new(topic("w"), "m")
        }),
        ..base_connect()
    };
    assert_eq!(roundtrip(with_retain)[9], 0x26);
}

// v5 [MQTT-3.1.2-16]
#[test]
fn mqtt_3_1_2_16_no_user_name_flag_no_user_name() {
    assert_eq!(roundtrip(base_connect())[9] & 0x80, 0);
    refused!(
        connect(0x02, &[], &cat(&[&s(b"cid"), &s(b"u")])),
        DecodeError::TrailingBytes {
            packet_type: PacketType::Connect,
            extra: 3
        },
        MALFORMED
    );
}

// v5 [MQTT-3.1.2-17]
#[test]
fn mqtt_3_1_2_17_user_name_flag_means_user_name_present() {
    let bytes = roundtrip(Connect {
        user_name: Some(mstr("u")),
        ..base_connect()
    });
    assert_eq!(bytes[9], 0x82);
    assert!(bytes.ends_with(b"\x00\x01u"));
    refused!(
        connect(0x82, &[], &s(b"cid")),
        DecodeError::UnexpectedEnd { field: "user name" },
        MALFORMED
    );
}

// v5 [MQTT-3.1.2-18]
#[test]
fn mqtt_3_1_2_18_no_password_flag_no_password() {
    assert_eq!(roundtrip(base_connect())[9] & 0x40, 0);
    refused!(
        connect(0x82, &[], &cat(&[&s(b"cid"), &s(b"u"), &s(b"p")])),
        DecodeError::TrailingBytes { .. },
        MALFORMED
    );
}

// v5 [MQTT-3.1.2-19]: and unlike 3.1.1, a Password without a User Name is allowed.
#[test]
fn mqtt_3_1_2_19_password_flag_means_password_present() {
    let bytes = roundtrip(Connect {
        password: Some(Bytes::from_static(b"pw")),
        ..base_connect()
    });
    assert_eq!(bytes[9], 0x42);
    assert!(bytes.ends_with(b"\x00\x02pw"));
    refused!(
        connect(0x42, &[], &s(b"cid")),
        DecodeError::UnexpectedEnd { field: "password" },
        MALFORMED
    );
    let c = as_connect(ok(&connect(0x42, &[], &cat(&[&s(b"cid"), &s(b"\xFF")]))));
    assert_eq!(
        (c.user_name, c.password.as_deref()),
        (None, Some(&b"\xFF"[..]))
    );
}

// v5 [MQTT-3.1.2-24], U5-14: a packet over our Maximum Packet Size is refused with 0x95 as
// soon as its fixed header is read, before its body is buffered.
#[test]
fn mqtt_3_1_2_24_decoder_refuses_packets_over_maximum_packet_size() {
    let mut d = Decoder::new(V).with_maximum_packet_size(16);
    assert_eq!(d.maximum_packet_size(), 16);
    // Header only: a PUBLISH announcing 127 bytes of body (129 in all).
    let mut buf = BytesMut::from(&b"\x30\x7F"[..]);
    let err = d.decode(&mut buf).unwrap_err();
    assert_eq!(
        err,
        DecodeError::PacketTooLarge {
            size: 129,
            maximum: 16
        }
    );
    assert_eq!(err.reason_code(), ReasonCode::PacketTooLarge);
    // A header still incomplete is waited for.
    let mut buf = BytesMut::from(&b"\x30\x80"[..]);
    assert_eq!(
        Decoder::new(V)
            .with_maximum_packet_size(16)
            .decode(&mut buf),
        Ok(None)
    );
    // Exactly the maximum is fine; one byte more is not.
    let sixteen = publish(0x30, b"t", None, &[], &[0u8; 10]);
    assert_eq!(sixteen.len(), 16);
    let mut buf = BytesMut::from(&sixteen[..]);
    assert!(matches!(
        Decoder::new(V)
            .with_maximum_packet_size(16)
            .decode(&mut buf),
        Ok(Some(Packet::Publish(_)))
    ));
    let mut buf = BytesMut::from(&sixteen[..2]);
    assert_eq!(
        Decoder::new(V)
            .with_maximum_packet_size(15)
            .decode(&mut buf),
        Err(DecodeError::PacketTooLarge {
            size: 16,
            maximum: 15
        })
    );
    // Any packet type, not just PUBLISH.
    let mut buf = BytesMut::from(&b"\x90\x10"[..]);
    assert!(matches!(
        Decoder::new(V)
            .with_maximum_packet_size(17)
            .decode(&mut buf),
        Err(DecodeError::PacketTooLarge { size: 18, .. })
    ));
}

// v5 [MQTT-3.1.3-1]
#[test]
fn mqtt_3_1_3_1_payload_order_with_will_properties() {
    let expected = connect(
        0xCE,
        &[&p_four(SEI, 10)],
        &cat(&[
            &s(b"cid"),
            &props(&[&p_four(WDI, 5)]),
            &s(b"w"),
            &s(b"bye"),
            &s(b"u"),
            &s(b"p"),
        ]),
    );
    assert_eq!(roundtrip(full_connect()), expected);
}

// v5 [MQTT-3.1.3-3]
#[test]
fn mqtt_3_1_3_3_client_id_is_first_and_may_be_empty() {
    let c = as_connect(ok(&connect(0x02, &[], &s(b""))));
    assert!(c.client_id.is_empty());
    refused!(
        connect(0x02, &[], b""),
        DecodeError::UnexpectedEnd {
            field: "client identifier"
        },
        MALFORMED
    );
    let bytes = roundtrip(Connect::new(V, MqttString::new()));
    assert!(
        bytes.ends_with(b"\x00\x00\x00"),
        "property length 0, then client id 00 00"
    );
}

// v5 [MQTT-3.1.3-4]
#[test]
fn mqtt_3_1_3_4_client_id_is_a_utf8_string() {
    refused!(
        connect(0x02, &[], &s(b"\xC3")),
        DecodeError::InvalidString {
            field: "client identifier",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    assert_eq!(
        as_connect(ok(&connect(0x02, &[], &s("ß".as_bytes())))).client_id,
        "ß"
    );
}

// v5 [MQTT-3.1.3-11]
#[test]
fn mqtt_3_1_3_11_will_topic_is_a_utf8_string() {
    let will_topic = |t: &[u8]| connect(0x06, &[], &cat(&[&s(b"cid"), &[0], &s(t), &s(b"m")]));
    refused!(
        will_topic(b"\xFF"),
        DecodeError::InvalidString {
            field: "will topic",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        will_topic(b"a/+"),
        DecodeError::InvalidTopicName(TopicError::WildcardInTopicName),
        ReasonCode::TopicNameInvalid
    );
}

// v5 [MQTT-3.1.3-12]
#[test]
fn mqtt_3_1_3_12_user_name_is_a_utf8_string() {
    refused!(
        connect(0x82, &[], &cat(&[&s(b"cid"), &s(b"\xC0\x80")])),
        DecodeError::InvalidString {
            field: "user name",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    let c = as_connect(ok(&connect(
        0x82,
        &[],
        &cat(&[&s(b"cid"), &s("ü".as_bytes())]),
    )));
    assert_eq!(c.user_name.as_deref(), Some("ü"));
}

// ---------------------------------------------------------------------------------------
// §3.2 CONNACK
// ---------------------------------------------------------------------------------------

// v5 [MQTT-3.2.2-1]
#[test]
fn mqtt_3_2_2_1_connack_flag_bits_7_to_1_are_zero() {
    for flags in [0x02, 0x04, 0x80, 0xFF] {
        refused!(
            connack(flags, 0, &[]),
            DecodeError::InvalidConnAckFlags(f) if f == flags,
            MALFORMED
        );
    }
    let Packet::ConnAck(c) = ok(&connack(1, 0, &[])) else {
        panic!("not a CONNACK")
    };
    assert!(c.session_present);
    assert_eq!(roundtrip(*c), b"\x20\x03\x01\x00\x00");
}

// v5 [MQTT-3.2.2-6]
#[test]
fn mqtt_3_2_2_6_refusal_has_session_present_0() {
    for code in [0x80, 0x85, 0x87, 0x9F] {
        refused_fatal!(connack(1, code, &[]), DecodeError::InvalidConnAckFlags(1));
        ok(&connack(0, code, &[]));
    }
    let c = ConnAck {
        session_present: true,
        ..ConnAck::new(ReasonCode::ServerBusy)
    };
    assert_eq!(
        enc_err(&c),
        EncodeError::InvalidReasonCode {
            packet_type: PacketType::ConnAck,
            code: ReasonCode::ServerBusy
        }
    );
}

/// Table 3-1.
const CONNACK_CODES: &[u8] = &[
    0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
];
/// Table 3-4 (PUBACK) and 3-5 (PUBREC).
const PUBACK_CODES: &[u8] = &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
/// Table 3-6 (PUBREL) and 3-7 (PUBCOMP).
const PUBREL_CODES: &[u8] = &[0x00, 0x92];
/// Table 3-8.
const SUBACK_CODES: &[u8] = &[
    0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
];
/// Table 3-9.
const UNSUBACK_CODES: &[u8] = &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91];
/// Table 3-10. (0x8C Bad authentication method is listed for DISCONNECT in Table 2-6 but
/// not in Table 3-10; the tests leave it out both ways.)
const DISCONNECT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95,
    0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
];
/// Table 3-10, "Client" and "Client or Server" rows.
const DISCONNECT_CLIENT_CODES: &[u8] = &[
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
];
/// Table 3-11.
const AUTH_CODES: &[u8] = &[0x00, 0x18, 0x19];

/// Decodes `bytes(code)` for every byte value: accepted exactly for the codes of `table`
/// (carrying that code), refused as an invalid reason code (Protocol Error) otherwise.
fn check_decoded_codes(
    packet_type: PacketType,
    table: &[u8],
    skip: &[u8],
    bytes: impl Fn(u8) -> Vec<u8>,
    code_of: impl Fn(&Packet) -> Vec<ReasonCode>,
) {
    for raw in (0..=255u8).filter(|c| !skip.contains(c)) {
        let r = dec(&bytes(raw));
        if table.contains(&raw) {
            let p =
                r.unwrap_or_else(|e| panic!("{packet_type} reason code {raw:#04x} refused: {e:?}"));
            assert_eq!(code_of(&p).last().map(|c| c.as_u8()), Some(raw));
        } else {
            let err = r.expect_err("a reason code outside the table was accepted");
            assert_eq!(
                err,
                DecodeError::InvalidReasonCode {
                    packet_type,
                    code: raw
                }
            );
            assert_eq!(err.reason_code(), PROTOCOL);
        }
    }
}

/// Encodes `make(code)` for every reason code: accepted exactly for the codes of `table`.
fn check_encoded_codes(
    packet_type: PacketType,
    table: &[u8],
    skip: &[u8],
    make: impl Fn(ReasonCode) -> Packet,
) {
    for code in (0..=255u8)
        .filter(|c| !skip.contains(c))
        .filter_map(ReasonCode::from_u8)
    {
        let p = make(code);
        if table.contains(&code.as_u8()) {
            roundtrip(p);
        } else {
            assert_eq!(
                enc_err(&p),
                EncodeError::InvalidReasonCode { packet_type, code },
                "{p:?}"
            );
        }
    }
}

/// Decodes the bytes from both roles and checks which ones may send the code.
fn check_sender_codes(
    table: &[u8],
    client_may: &[u8],
    server_may: &[u8],
    bytes: impl Fn(u8) -> Vec<u8>,
    packet_type: PacketType,
) {
    for &raw in table {
        for (role, allowed) in [(Role::Client, client_may), (Role::Server, server_may)] {
            let r = dec_from(role, &bytes(raw));
            if allowed.contains(&raw) {
                assert!(
                    r.is_ok(),
                    "{packet_type} {raw:#04x} from {role:?} refused: {r:?}"
                );
            } else {
                let err = r.expect_err("a reason code the sender may not use was accepted");
                assert_eq!(
                    err,
                    DecodeError::InvalidReasonCode {
                        packet_type,
                        code: raw
                    },
                    "{packet_type} {raw:#04x} from {role:?}"
                );
                assert_eq!(err.reason_code(), PROTOCOL);
            }
        }
    }
}

fn codes_of(p: &Packet) -> Vec<ReasonCode> {
    match p {
        Packet::ConnAck(p) => vec![p.reason_code],
        Packet::PubAck(p) => vec![p.reason_code],
        Packet::PubRec(p) => vec![p.reason_code],
        Packet::PubRel(p) => vec![p.reason_code],
        Packet::PubComp(p) => vec![p.reason_code],
        Packet::SubAck(p) => p.reason_codes.clone(),
        Packet::UnsubAck(p) => p.reason_codes.clone(),
        Packet::Disconnect(p) => vec![p.reason_code],
        Packet::Auth(p) => vec![p.reason_code],
        other => panic!("no reason code in {other:?}"),
    }
}

// v5 [MQTT-3.2.2-8]
#[test]
fn mqtt_3_2_2_8_connack_reason_code_is_from_table_3_1() {
    check_decoded_codes(
        PacketType::ConnAck,
        CONNACK_CODES,
        &[],
        |c| connack(0, c, &[]),
        codes_of,
    );
    check_encoded_codes(PacketType::ConnAck, CONNACK_CODES, &[], |c| {
        ConnAck::new(c).into()
    });
}

// v5 [MQTT-3.2.2-15]: the encoder refuses, before writing anything, a packet larger than
// the Maximum Packet Size it is given (the session passes the server's).
#[test]
fn mqtt_3_2_2_15_encoder_refuses_packets_over_the_peer_maximum() {
    let p: Packet = Publish::new(topic("t"), vec![0u8; 100]).into();
    let size = p.encoded_len(V).unwrap();
    assert_eq!(size, 106);
    let mut buf = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        p.encode_within(V, size - 1, &mut buf),
        Err(EncodeError::PacketTooLarge {
            size,
            maximum: size - 1
        })
    );
    assert_eq!(
        p.encode_vectored(V, size - 1, &mut buf),
        Err(EncodeError::PacketTooLarge {
            size,
            maximum: size - 1
        })
    );
    assert_eq!(&buf[..], b"keep", "nothing written");
    assert_eq!(p.encode_within(V, size, &mut buf), Ok(size));
    assert_eq!(buf.len(), 4 + size);
    // The server's Maximum Packet Size arrives in CONNACK, never 0.
    let Packet::ConnAck(c) = ok(&connack(0, 0, &[&p_four(MPS, 106)])) else {
        panic!("not a CONNACK")
    };
    assert_eq!(c.properties.maximum_packet_size, NonZeroU32::new(106));
}

// v5 [MQTT-3.2.2-19], [MQTT-3.2.2-20] and the same rule for every packet with a Reason
// String and User Properties: `fit_within` drops the Reason String, then the User
// Properties, to respect the peer's Maximum Packet Size, and says whether it fits.
macro_rules! check_fit_within {
    ($full:expr) => {{
        let full = $full;
        assert!(full.properties.reason_string.is_some());
        assert!(!full.properties.user_properties.is_empty());
        let full_len = full.encoded_len(V).unwrap();
        let mut no_reason = full.clone();
        no_reason.properties.reason_string = None;
        let no_reason_len = no_reason.encoded_len(V).unwrap();
        let mut bare = no_reason.clone();
        bare.properties.user_properties.clear();
        let bare_len = bare.encoded_len(V).unwrap();
        assert!(bare_len < no_reason_len && no_reason_len < full_len);
        // Fits as it is: nothing is dropped.
        let mut p = full.clone();
        assert!(p.fit_within(V, full_len));
        assert_eq!(p, full);
        // One byte too big: the Reason String goes, the User Properties stay.
        for maximum in [full_len - 1, no_reason_len] {
            let mut p = full.clone();
            assert!(p.fit_within(V, maximum));
            assert_eq!(p, no_reason);
            assert_eq!(
                p.encode_within(V, maximum, &mut BytesMut::new()),
                Ok(no_reason_len)
            );
        }
        // Smaller still: the User Properties go too.
        for maximum in [no_reason_len - 1, bare_len] {
            let mut p = full.clone();
            assert!(p.fit_within(V, maximum));
            assert_eq!(p, bare);
        }
        // Below the bare packet it cannot fit, and says so.
        let mut p = full.clone();
        assert!(!p.fit_within(V, bare_len - 1));
        assert!(
            p.encode_within(V, bare_len - 1, &mut BytesMut::new())
                .is_err()
        );
        // What fits decodes to the packet that was fitted.
        let bytes = enc(&bare);
        assert_eq!(dec(&bytes), Ok(Packet::from(bare.clone())));
    }};
}

fn ack_properties() -> AckProperties {
    AckProperties {
        reason_string: Some(mstr(&"why".repeat(10))),
        user_properties: vec![user("k", "v"), user("k2", "v2")],
    }
}

// v5 [MQTT-3.2.2-19], [MQTT-3.2.2-20]
#[test]
fn mqtt_3_2_2_19_and_3_2_2_20_connack_fit_within() {
    check_fit_within!(ConnAck {
        properties: ConnAckProperties {
            reason_string: Some(mstr("not today")),
            user_properties: vec![user("a", "b")],
            maximum_packet_size: NonZeroU32::new(1024),
            ..ConnAckProperties::default()
        },
        ..ConnAck::new(ReasonCode::Success)
    });
}

// ---------------------------------------------------------------------------------------
// §3.3 PUBLISH
// ---------------------------------------------------------------------------------------

// v5 [MQTT-3.3.1-2]
#[test]
fn mqtt_3_3_1_2_qos0_publish_has_dup_0() {
    let p = Publish {
        dup: true,
        ..Publish::new(topic("t"), "")
    };
    assert_eq!(enc_err(&p), EncodeError::DupWithQoS0);
    refused_fatal!(
        publish(0x38, b"t", None, &[], b""),
        DecodeError::DupWithQoS0
    );
    let p = Publish {
        dup: true,
        ..Publish::new(topic("t"), "").with_qos(QoS::AtLeastOnce, PacketId::new(1))
    };
    assert_eq!(roundtrip(p)[0], 0x3A);
}

// v5 [MQTT-3.3.1-4]
#[test]
fn mqtt_3_3_1_4_qos_3_is_malformed() {
    for first in [0x36, 0x37, 0x3E] {
        refused!(
            publish(first, b"t", Some(1), &[], b""),
            DecodeError::InvalidQoS,
            MALFORMED
        );
    }
}

// v5 [MQTT-3.3.2-1], U5-19
#[test]
fn mqtt_3_3_2_1_topic_name_is_first_and_empty_only_with_a_topic_alias() {
    let bytes =
        roundtrip(Publish::new(topic("a/b"), "x").with_qos(QoS::AtLeastOnce, PacketId::new(2)));
    assert_eq!(bytes, b"\x32\x09\x00\x03a/b\x00\x02\x00x");
    // Empty with a Topic Alias: fine both ways.
    let p = as_publish(ok(&publish(0x30, b"", None, &[&p_two(TA, 3)], b"x")));
    assert!(p.topic.is_empty());
    assert_eq!(p.properties.topic_alias, NonZeroU16::new(3));
    roundtrip(p);
    // Empty without one: a Protocol Error, refused both ways.
    refused!(
        publish(0x30, b"", None, &[], b"x"),
        DecodeError::EmptyTopicWithoutAlias,
        PROTOCOL
    );
    assert_eq!(
        enc_err(&Publish::new(TopicName::empty(), "x")),
        EncodeError::EmptyTopicWithoutAlias
    );
    refused!(
        publish(0x30, b"\xFF", None, &[], b""),
        DecodeError::InvalidString {
            field: "topic name",
            ..
        },
        MALFORMED
    );
}

// v5 [MQTT-3.3.2-2], [MQTT-4.7.0-1] (decoder side)
#[test]
fn mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    for t in [&b"+"[..], b"#", b"a/+/b", b"a/#", b"a#"] {
        refused!(
            publish(0x30, t, None, &[], b""),
            DecodeError::InvalidTopicName(TopicError::WildcardInTopicName),
            ReasonCode::TopicNameInvalid
        );
    }
}

// v5 [MQTT-3.3.2-8]
#[test]
fn mqtt_3_3_2_8_topic_alias_0_is_refused_with_0x94() {
    refused!(
        publish_props(&[&p_two(TA, 0)]),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::TopicAlias,
            value: 0
        },
        ReasonCode::TopicAliasInvalid
    );
    refused!(
        publish(0x30, b"", None, &[&p_two(TA, 0)], b""),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::TopicAlias,
            ..
        },
        ReasonCode::TopicAliasInvalid
    );
    // The model cannot hold alias 0; alias 1 is written as 23 00 01.
    let p = publish_with(PublishProperties {
        topic_alias: NonZeroU16::new(1),
        ..PublishProperties::default()
    });
    assert_eq!(roundtrip(p), publish_props(&[b"\x23\x00\x01"]));
}

// v5 [MQTT-3.3.2-13]
#[test]
fn mqtt_3_3_2_13_response_topic_is_a_utf8_string() {
    refused!(
        publish_props(&[&p_str(RT, b"r/\xFF")]),
        DecodeError::InvalidString {
            field: "Response Topic",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        connect_with_will(&[&p_str(RT, b"\0")]),
        DecodeError::InvalidString {
            field: "Response Topic",
            error: StringError::NullCharacter
        },
        MALFORMED
    );
    let p = publish_with(PublishProperties {
        response_topic: Some(topic("replies/é")),
        ..PublishProperties::default()
    });
    assert_eq!(
        roundtrip(p),
        publish_props(&[&p_str(RT, "replies/é".as_bytes())])
    );
}

// v5 [MQTT-3.3.2-14]
#[test]
fn mqtt_3_3_2_14_response_topic_has_no_wildcards() {
    for t in [&b"r/+"[..], b"#", b"r/#"] {
        refused!(
            publish_props(&[&p_str(RT, t)]),
            DecodeError::InvalidTopicName(TopicError::WildcardInTopicName),
            ReasonCode::TopicNameInvalid
        );
        refused!(
            connect_with_will(&[&p_str(RT, t)]),
            DecodeError::InvalidTopicName(TopicError::WildcardInTopicName),
            ReasonCode::TopicNameInvalid
        );
    }
}

// v5 [MQTT-3.3.2-19]
#[test]
fn mqtt_3_3_2_19_content_type_is_a_utf8_string() {
    refused!(
        publish_props(&[&p_str(CT, b"\xC3(")]),
        DecodeError::InvalidString {
            field: "Content Type",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        connect_with_will(&[&p_str(CT, b"\xC3")]),
        DecodeError::InvalidString {
            field: "Content Type",
            ..
        },
        MALFORMED
    );
    let p = publish_with(PublishProperties {
        content_type: Some(mstr("application/json; charset=utf-8")),
        ..PublishProperties::default()
    });
    roundtrip(p);
}

// v5 [MQTT-3.3.4-6]: a Subscription Identifier in a PUBLISH from a client is refused by
// the sender-role check (the session never sets one on what it sends).
#[test]
fn mqtt_3_3_4_6_no_subscription_identifier_in_a_client_publish() {
    let bytes = publish_props(&[&p_var(SI, 5), &p_var(SI, 70_000)]);
    let err = dec_from(Role::Client, &bytes).unwrap_err();
    assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
    assert_eq!(err.reason_code(), PROTOCOL);
    let p = as_publish(dec_from(Role::Server, &bytes).unwrap());
    assert_eq!(p.properties.subscription_identifiers, [5, 70_000]);
    assert!(matches!(
        Packet::from(p.clone()).check_sender(Role::Client),
        Err(DecodeError::WrongSender { .. })
    ));
    let mut p = p;
    p.properties.subscription_identifiers.clear();
    assert_eq!(Packet::from(p).check_sender(Role::Client), Ok(()));
}

// ---------------------------------------------------------------------------------------
// §3.4 - §3.7 PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------

fn all_but(table: &[u8], except: &[u8]) -> Vec<u8> {
    table
        .iter()
        .copied()
        .filter(|c| !except.contains(c))
        .collect()
}

// v5 [MQTT-3.4.2-1]
#[test]
fn mqtt_3_4_2_1_puback_reason_codes() {
    let bytes = |c: u8| vec![0x40, 3, 0, 1, c];
    check_decoded_codes(PacketType::PubAck, PUBACK_CODES, &[], bytes, codes_of);
    check_encoded_codes(PacketType::PubAck, PUBACK_CODES, &[], |c| {
        PubAck::with_reason(pid(1), c).into()
    });
    // 0x10 No matching subscribers comes from the server only.
    check_sender_codes(
        PUBACK_CODES,
        &all_but(PUBACK_CODES, &[0x10]),
        PUBACK_CODES,
        bytes,
        PacketType::PubAck,
    );
}

// v5 [MQTT-3.5.2-1]
#[test]
fn mqtt_3_5_2_1_pubrec_reason_codes() {
    let bytes = |c: u8| vec![0x50, 3, 0, 1, c];
    check_decoded_codes(PacketType::PubRec, PUBACK_CODES, &[], bytes, codes_of);
    check_encoded_codes(PacketType::PubRec, PUBACK_CODES, &[], |c| {
        PubRec::with_reason(pid(1), c).into()
    });
    check_sender_codes(
        PUBACK_CODES,
        &all_but(PUBACK_CODES, &[0x10]),
        PUBACK_CODES,
        bytes,
        PacketType::PubRec,
    );
}

// v5 [MQTT-3.6.1-1]
#[test]
fn mqtt_3_6_1_1_pubrel_flags_are_0010() {
    assert_eq!(roundtrip(PubRel::new(pid(1))), b"\x62\x02\x00\x01");
    for first in [0x60, 0x63, 0x66, 0x6F] {
        refused!(
            [first, 2, 0, 1],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::PubRel,
                ..
            },
            MALFORMED
        );
    }
}

// v5 [MQTT-3.6.2-1]
#[test]
fn mqtt_3_6_2_1_pubrel_reason_codes() {
    let bytes = |c: u8| vec![0x62, 3, 0, 1, c];
    check_decoded_codes(PacketType::PubRel, PUBREL_CODES, &[], bytes, codes_of);
    check_encoded_codes(PacketType::PubRel, PUBREL_CODES, &[], |c| {
        PubRel::with_reason(pid(1), c).into()
    });
    check_sender_codes(
        PUBREL_CODES,
        PUBREL_CODES,
        PUBREL_CODES,
        bytes,
        PacketType::PubRel,
    );
}

// v5 [MQTT-3.7.2-1]
#[test]
fn mqtt_3_7_2_1_pubcomp_reason_codes() {
    let bytes = |c: u8| vec![0x70, 3, 0, 1, c];
    check_decoded_codes(PacketType::PubComp, PUBREL_CODES, &[], bytes, codes_of);
    check_encoded_codes(PacketType::PubComp, PUBREL_CODES, &[], |c| {
        PubComp::with_reason(pid(1), c).into()
    });
    check_sender_codes(
        PUBREL_CODES,
        PUBREL_CODES,
        PUBREL_CODES,
        bytes,
        PacketType::PubComp,
    );
}

// v5 [MQTT-3.4.2-2], [MQTT-3.4.2-3]
#[test]
fn mqtt_3_4_2_2_and_3_4_2_3_puback_fit_within() {
    check_fit_within!(PubAck {
        properties: ack_properties().into(),
        ..PubAck::with_reason(pid(1), ReasonCode::QuotaExceeded)
    });
    check_fit_within!(PubAck {
        properties: ack_properties().into(),
        ..PubAck::new(pid(1))
    });
}

// v5 [MQTT-3.5.2-2], [MQTT-3.5.2-3]
#[test]
fn mqtt_3_5_2_2_and_3_5_2_3_pubrec_fit_within() {
    check_fit_within!(PubRec {
        properties: ack_properties().into(),
        ..PubRec::with_reason(pid(9), ReasonCode::NotAuthorized)
    });
}

// v5 [MQTT-3.6.2-2], [MQTT-3.6.2-3]
#[test]
fn mqtt_3_6_2_2_and_3_6_2_3_pubrel_fit_within() {
    check_fit_within!(PubRel {
        properties: ack_properties().into(),
        ..PubRel::with_reason(pid(9), ReasonCode::PacketIdentifierNotFound)
    });
}

// v5 [MQTT-3.7.2-2], [MQTT-3.7.2-3]
#[test]
fn mqtt_3_7_2_2_and_3_7_2_3_pubcomp_fit_within() {
    check_fit_within!(PubComp {
        properties: ack_properties().into(),
        ..PubComp::new(pid(9))
    });
}

// ---------------------------------------------------------------------------------------
// §3.8 - §3.9 SUBSCRIBE / SUBACK
// ---------------------------------------------------------------------------------------

// v5 [MQTT-3.8.1-1]
#[test]
fn mqtt_3_8_1_1_subscribe_flags_are_0010() {
    let bytes = roundtrip(Subscribe::new(
        pid(1),
        vec![Subscription::new(filter("a"), QoS::AtLeastOnce)],
    ));
    assert_eq!(bytes[0], 0x82);
    for first in [0x80, 0x81, 0x83, 0x86] {
        let mut b = sub1(b"a", 0);
        b[0] = first;
        refused!(
            b,
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Subscribe,
                ..
            },
            MALFORMED
        );
    }
}

// v5 [MQTT-3.8.3-1]
#[test]
fn mqtt_3_8_3_1_subscribe_filters_are_utf8_strings() {
    let sub = Subscribe::new(
        pid(1),
        vec![
            Subscription::new(filter("a/+"), QoS::AtLeastOnce),
            Subscription::new(filter("é/#"), QoS::ExactlyOnce),
        ],
    );
    assert_eq!(
        roundtrip(sub),
        subscribe(&[], &cat(&[&s(b"a/+"), &[1], &s("é/#".as_bytes()), &[2]]))
    );
    refused!(
        sub1(b"\xFF/#", 0),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
    refused!(
        sub1(b"a\0", 0),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::NullCharacter
        },
        MALFORMED
    );
}

// v5 [MQTT-3.8.3-2]
#[test]
fn mqtt_3_8_3_2_subscribe_has_at_least_one_entry() {
    refused!(
        subscribe(&[], b""),
        DecodeError::NoPayloadEntries(PacketType::Subscribe),
        PROTOCOL
    );
    refused!(
        subscribe(&[&p_var(SI, 1)], b""),
        DecodeError::NoPayloadEntries(PacketType::Subscribe),
        PROTOCOL
    );
    assert_eq!(
        enc_err(&Subscribe::new(pid(1), vec![])),
        EncodeError::NoPayloadEntries(PacketType::Subscribe)
    );
}

// v5 [MQTT-3.8.3-4]
#[test]
fn mqtt_3_8_3_4_no_local_is_0_on_shared_subscriptions() {
    refused!(
        sub1(b"$share/g/a/#", 0x04),
        DecodeError::NoLocalOnSharedSubscription,
        PROTOCOL
    );
    let shared_no_local = Subscription {
        filter: filter("$share/g/a"),
        options: SubscriptionOptions {
            no_local: true,
            ..SubscriptionOptions::default()
        },
    };
    assert_eq!(
        enc_err(&Subscribe::new(pid(1), vec![shared_no_local.clone()])),
        EncodeError::NoLocalOnSharedSubscription
    );
    // No Local on an ordinary filter, and a shared one without it, are fine.
    let ordinary = Subscription {
        filter: filter("a"),
        ..shared_no_local.clone()
    };
    let shared = Subscription {
        options: SubscriptionOptions::default(),
        ..shared_no_local
    };
    roundtrip(Subscribe::new(pid(1), vec![ordinary, shared]));
}

// v5 [MQTT-3.8.3-5]: reserved bits 6-7 make the packet malformed.
#[test]
fn mqtt_3_8_3_5_subscription_options_reserved_bits_are_malformed() {
    for options in [0x40, 0x80, 0xC0, 0x41] {
        refused!(
            sub1(b"a", options),
            DecodeError::InvalidSubscriptionOptions(b) if b == options,
            MALFORMED
        );
    }
    // The encoder never sets them.
    let all = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
    };
    let bytes = roundtrip(Subscribe::new(
        pid(1),
        vec![Subscription {
            filter: filter("a"),
            options: all,
        }],
    ));
    assert_eq!(*bytes.last().unwrap(), 0b0010_1110);
}

// v5 [MQTT-3.8.3-5] (second half), U5-26: Maximum QoS 3 and Retain Handling 3 are
// Protocol Errors (§3.8.3.1), not Malformed Packets.
#[test]
fn mqtt_3_8_3_5_u5_26_qos_3_and_retain_handling_3_are_protocol_errors() {
    for options in [0x03, 0x30, 0x07, 0x3C] {
        refused!(
            sub1(b"a", options),
            DecodeError::InvalidSubscriptionOptions(b) if b == options,
            PROTOCOL
        );
    }
}

// v5 [MQTT-3.8.4-6], [MQTT-3.9.3-1] (the codec part: one code per entry, in order)
#[test]
fn mqtt_3_8_4_6_and_3_9_3_1_suback_keeps_one_code_per_entry_in_order() {
    let Packet::SubAck(a) = ok(b"\x90\x07\x00\x05\x00\x02\x80\xA2\x01") else {
        panic!("not a SUBACK")
    };
    assert_eq!(
        a.reason_codes,
        [
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
            ReasonCode::WildcardSubscriptionsNotSupported,
            ReasonCode::GrantedQoS1
        ]
    );
    assert_eq!(roundtrip(a), b"\x90\x07\x00\x05\x00\x02\x80\xA2\x01");
    refused!(
        b"\x90\x03\x00\x05\x00",
        DecodeError::NoPayloadEntries(PacketType::SubAck),
        PROTOCOL
    );
    let empty = SubAck {
        packet_id: pid(1),
        reason_codes: vec![],
        properties: AckProperties::default().into(),
    };
    assert_eq!(
        enc_err(&empty),
        EncodeError::NoPayloadEntries(PacketType::SubAck)
    );
}

// v5 [MQTT-3.9.2-1], [MQTT-3.9.2-2]
#[test]
fn mqtt_3_9_2_1_and_3_9_2_2_suback_fit_within() {
    check_fit_within!(SubAck {
        packet_id: pid(3),
        reason_codes: vec![ReasonCode::GrantedQoS1, ReasonCode::TopicFilterInvalid],
        properties: ack_properties().into(),
    });
}

// v5 [MQTT-3.9.3-2]
#[test]
fn mqtt_3_9_3_2_suback_reason_codes_are_from_table_3_8() {
    check_decoded_codes(
        PacketType::SubAck,
        SUBACK_CODES,
        &[],
        |c| vec![0x90, 5, 0, 1, 0, 0, c],
        codes_of,
    );
    check_encoded_codes(PacketType::SubAck, SUBACK_CODES, &[], |c| {
        SubAck {
            packet_id: pid(1),
            reason_codes: vec![ReasonCode::Success, c],
            properties: AckProperties::default().into(),
        }
        .into()
    });
}

// ---------------------------------------------------------------------------------------
// §3.10 - §3.11 UNSUBSCRIBE / UNSUBACK
// ---------------------------------------------------------------------------------------

// v5 [MQTT-3.10.1-1]
#[test]
fn mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    assert_eq!(
        roundtrip(Unsubscribe::new(pid(1), vec![filter("a")]))[0],
        0xA2
    );
    for first in [0xA0, 0xA3, 0xA6] {
        let mut b = unsubscribe(&[], &s(b"a"));
        b[0] = first;
        refused!(
            b,
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Unsubscribe,
                ..
            },
            MALFORMED
        );
    }
}

// v5 [MQTT-3.10.3-1]
#[test]
fn mqtt_3_10_3_1_unsubscribe_filters_are_utf8_strings_back_to_back() {
    let u = Unsubscribe::new(
        pid(1),
        vec![filter("a/+"), filter("$share/g/#"), filter("ü")],
    );
    assert_eq!(
        roundtrip(u),
        unsubscribe(
            &[],
            &cat(&[&s(b"a/+"), &s(b"$share/g/#"), &s("ü".as_bytes())])
        )
    );
    refused!(
        unsubscribe(&[], &cat(&[&s(b"a"), &s(b"\xF8")])),
        DecodeError::InvalidString {
            field: "topic filter",
            error: StringError::InvalidUtf8
        },
        MALFORMED
    );
}

// v5 [MQTT-3.10.3-2]
#[test]
fn mqtt_3_10_3_2_unsubscribe_has_at_least_one_filter() {
    refused!(
        unsubscribe(&[], b""),
        DecodeError::NoPayloadEntries(PacketType::Unsubscribe),
        PROTOCOL
    );
    refused!(
        unsubscribe(&[&p_pair(b"k", b"v")], b""),
        DecodeError::NoPayloadEntries(PacketType::Unsubscribe),
        PROTOCOL
    );
    assert_eq!(
        enc_err(&Unsubscribe::new(pid(1), vec![])),
        EncodeError::NoPayloadEntries(PacketType::Unsubscribe)
    );
}

// v5 [MQTT-3.11.2-1], [MQTT-3.11.2-2]
#[test]
fn mqtt_3_11_2_1_and_3_11_2_2_unsuback_fit_within() {
    check_fit_within!(UnsubAck {
        packet_id: pid(3),
        reason_codes: vec![ReasonCode::Success, ReasonCode::NoSubscriptionExisted],
        properties: ack_properties().into(),
    });
}

// v5 [MQTT-3.11.3-1] (the codec part: one code per entry, in order)
#[test]
fn mqtt_3_11_3_1_unsuback_keeps_one_code_per_entry_in_order() {
    let Packet::UnsubAck(a) = ok(b"\xB0\x06\x00\x05\x00\x11\x00\x87") else {
        panic!("not an UNSUBACK")
    };
    assert_eq!(
        a.reason_codes,
        [
            ReasonCode::NoSubscriptionExisted,
            ReasonCode::Success,
            ReasonCode::NotAuthorized
        ]
    );
    assert_eq!(roundtrip(a), b"\xB0\x06\x00\x05\x00\x11\x00\x87");
    refused!(
        b"\xB0\x03\x00\x05\x00",
        DecodeError::NoPayloadEntries(PacketType::UnsubAck),
        PROTOCOL
    );
}

// v5 [MQTT-3.11.3-2]
#[test]
fn mqtt_3_11_3_2_unsuback_reason_codes_are_from_table_3_9() {
    check_decoded_codes(
        PacketType::UnsubAck,
        UNSUBACK_CODES,
        &[],
        |c| vec![0xB0, 4, 0, 1, 0, c],
        codes_of,
    );
    check_encoded_codes(PacketType::UnsubAck, UNSUBACK_CODES, &[], |c| {
        UnsubAck {
            packet_id: pid(1),
            reason_codes: vec![c],
            properties: AckProperties::default().into(),
        }
        .into()
    });
}

// ---------------------------------------------------------------------------------------
// §3.14 - §3.15 DISCONNECT, AUTH
// ---------------------------------------------------------------------------------------

// v5 [MQTT-3.14.1-1]
#[test]
fn mqtt_3_14_1_1_disconnect_flags_are_0000() {
    assert_eq!(roundtrip(Disconnect::default()), b"\xE0\x00");
    for first in [0xE1, 0xE2, 0xE8, 0xEF] {
        refused!(
            [first, 0],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Disconnect,
                ..
            },
            MALFORMED
        );
    }
}

// v5 [MQTT-3.14.2-1]
#[test]
fn mqtt_3_14_2_1_disconnect_reason_codes_and_who_may_send_them() {
    let bytes = |c: u8| vec![0xE0, 1, c];
    check_decoded_codes(
        PacketType::Disconnect,
        DISCONNECT_CODES,
        &[0x8C],
        bytes,
        codes_of,
    );
    check_encoded_codes(PacketType::Disconnect, DISCONNECT_CODES, &[0x8C], |c| {
        Disconnect::new(c).into()
    });
    check_sender_codes(
        DISCONNECT_CODES,
        DISCONNECT_CLIENT_CODES,
        &all_but(DISCONNECT_CODES, &[0x04]),
        bytes,
        PacketType::Disconnect,
    );
}

// v5 [MQTT-3.14.2-2]
#[test]
fn mqtt_3_14_2_2_server_disconnect_has_no_session_expiry_interval() {
    let bytes = disconnect(0x8B, &[&p_four(SEI, 30)]);
    let err = dec_from(Role::Server, &bytes).unwrap_err();
    assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
    assert_eq!(err.reason_code(), PROTOCOL);
    // A client may update it on DISCONNECT.
    let Packet::Disconnect(d) =
        dec_from(Role::Client, &disconnect(0, &[&p_four(SEI, 30)])).unwrap()
    else {
        panic!("not a DISCONNECT")
    };
    assert_eq!(d.properties.session_expiry_interval, Some(30));
    // Without it, the server's DISCONNECT is fine.
    assert!(dec_from(Role::Server, &disconnect(0x8B, &[&p_str(RS, b"bye")])).is_ok());
}

// v5 [MQTT-3.14.2-3], [MQTT-3.14.2-4]
#[test]
fn mqtt_3_14_2_3_and_3_14_2_4_disconnect_fit_within() {
    check_fit_within!(Disconnect {
        reason_code: ReasonCode::ServerShuttingDown,
        properties: DisconnectProperties {
            reason_string: Some(mstr("maintenance window")),
            user_properties: vec![user("k", "v")],
            server_reference: Some(mstr("other:1883")),
            ..DisconnectProperties::default()
        }
        .into(),
    });
    check_fit_within!(Disconnect {
        reason_code: ReasonCode::Success,
        properties: DisconnectProperties {
            reason_string: Some(mstr("done")),
            user_properties: vec![user("k", "v")],
            ..DisconnectProperties::default()
        }
        .into(),
    });
}

// v5 [MQTT-3.15.1-1]
#[test]
fn mqtt_3_15_1_1_auth_flags_are_0000() {
    for first in [0xF1, 0xF2, 0xF4, 0xF8, 0xFF] {
        refused!(
            [first, 0],
            DecodeError::InvalidFixedHeaderFlags {
                packet_type: PacketType::Auth,
                ..
            },
            MALFORMED
        );
    }
}

// v5 [MQTT-3.15.2-1]
#[test]
fn mqtt_3_15_2_1_auth_reason_codes_and_who_may_send_them() {
    let bytes = |c: u8| auth(c, &[&p_str(AM, b"SCRAM-SHA-1")]);
    check_decoded_codes(PacketType::Auth, AUTH_CODES, &[], bytes, codes_of);
    check_encoded_codes(PacketType::Auth, AUTH_CODES, &[], |c| {
        Auth::new(c, mstr("SCRAM-SHA-1"), None).into()
    });
    // Client: 0x18 and 0x19; server: 0x00 and 0x18.
    check_sender_codes(
        AUTH_CODES,
        &[0x18, 0x19],
        &[0x00, 0x18],
        bytes,
        PacketType::Auth,
    );
    // The bare AUTH (Remaining Length 0) is a Success, which only the server sends.
    assert!(dec_from(Role::Server, b"\xF0\x00").is_ok());
    assert_eq!(
        dec_from(Role::Client, b"\xF0\x00"),
        Err(DecodeError::InvalidReasonCode {
            packet_type: PacketType::Auth,
            code: 0
        })
    );
}

// v5 [MQTT-3.15.2-2], [MQTT-3.15.2-3]
#[test]
fn mqtt_3_15_2_2_and_3_15_2_3_auth_fit_within() {
    check_fit_within!(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties {
            authentication_method: Some(mstr("SCRAM-SHA-1")),
            authentication_data: Some(Bytes::from_static(b"client-first")),
            reason_string: Some(mstr("step 2")),
            user_properties: vec![user("k", "v")],
        }
        .into(),
    });
}

// ---------------------------------------------------------------------------------------
// §4.7 - §4.8 Topics on the wire (the pure topic rules and matching are in topics.rs)
// ---------------------------------------------------------------------------------------

// v5 [MQTT-4.7.1-1], [MQTT-4.7.1-2] (decoder side): a bad filter is 0x8F Topic Filter
// invalid.
#[test]
fn mqtt_4_7_1_1_and_4_7_1_2_bad_filters_are_refused_on_the_wire() {
    for (f, e) in [
        (&b"a/#/b"[..], TopicError::MisplacedMultiLevelWildcard),
        (b"a#", TopicError::MisplacedMultiLevelWildcard),
        (b"a/b+", TopicError::MisplacedSingleLevelWildcard),
        (b"+a/b", TopicError::MisplacedSingleLevelWildcard),
    ] {
        refused!(
            sub1(f, 0),
            DecodeError::InvalidTopicFilter(got) if got == e,
            ReasonCode::TopicFilterInvalid
        );
        refused!(
            unsubscribe(&[], &s(f)),
            DecodeError::InvalidTopicFilter(got) if got == e,
            ReasonCode::TopicFilterInvalid
        );
    }
    for f in [&b"#"[..], b"+", b"a/+/b/#", b"+/+", b"/+"] {
        ok(&sub1(f, 1));
    }
}

// v5 [MQTT-4.7.3-1] (wire side): empty topic names and filters.
#[test]
fn mqtt_4_7_3_1_empty_topics_are_refused_on_the_wire() {
    refused!(
        sub1(b"", 0),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
        ReasonCode::TopicFilterInvalid
    );
    refused!(
        unsubscribe(&[], &s(b"")),
        DecodeError::InvalidTopicFilter(TopicError::Empty),
        ReasonCode::TopicFilterInvalid
    );
    refused!(
        connect(0x06, &[], &cat(&[&s(b"cid"), &[0], &s(b""), &s(b"m")])),
        DecodeError::InvalidTopicName(TopicError::Empty),
        ReasonCode::TopicNameInvalid
    );
    refused!(
        publish_props(&[&p_str(RT, b"")]),
        DecodeError::InvalidTopicName(TopicError::Empty),
        ReasonCode::TopicNameInvalid
    );
    let c = Connect {
        will: Some(Will::new(TopicName::empty(), "m")),
        ..base_connect()
    };
    assert_eq!(enc_err(&c), EncodeError::InvalidTopic(TopicError::Empty));
}

// v5 [MQTT-4.7.3-1], [MQTT-3.3.2-14] (encoder side): the zero-length `TopicName::empty()`
// exists for Topic Alias PUBLISHes only; as a Response Topic it would send a topic name of
// zero characters, which the decoder then refuses.
#[test]
fn mqtt_4_7_3_1_encoder_refuses_an_empty_response_topic() {
    let p = publish_with(PublishProperties {
        response_topic: Some(TopicName::empty()),
        ..PublishProperties::default()
    });
    assert_eq!(enc_err(&p), EncodeError::InvalidTopic(TopicError::Empty));
    let c = Connect {
        will: Some(Will {
            properties: WillProperties {
                response_topic: Some(TopicName::empty()),
                ..WillProperties::default()
            },
            ..Will::new(topic("w"), "m")
        }),
        ..base_connect()
    };
    assert_eq!(enc_err(&c), EncodeError::InvalidTopic(TopicError::Empty));
}

// v5 [MQTT-4.8.2-1], [MQTT-4.8.2-2] (wire side)
#[test]
fn mqtt_4_8_2_1_and_4_8_2_2_shared_subscription_filters_on_the_wire() {
    let Packet::Subscribe(s1) = ok(&sub1(b"$share/group/sensors/+", 1)) else {
        panic!("not a SUBSCRIBE")
    };
    let f = &s1.subscriptions[0].filter;
    assert_eq!((f.share_name(), f.filter()), (Some("group"), "sensors/+"));
    for bad in [
        &b"$share/group"[..],
        b"$share//a",
        b"$share/g+/a",
        b"$share/g#/a",
    ] {
        refused!(
            sub1(bad, 0),
            DecodeError::InvalidTopicFilter(TopicError::InvalidShareName),
            ReasonCode::TopicFilterInvalid
        );
    }
    refused!(
        sub1(b"$share/g/", 0),
        DecodeError::InvalidTopicFilter(_),
        ReasonCode::TopicFilterInvalid
    );
    refused!(
        sub1(b"$share/g/a/#/b", 0),
        DecodeError::InvalidTopicFilter(TopicError::MisplacedMultiLevelWildcard),
        ReasonCode::TopicFilterInvalid
    );
    // UNSUBSCRIBE names the whole shared filter.
    let Packet::Unsubscribe(u) = ok(&unsubscribe(&[], &s(b"$share/group/sensors/+"))) else {
        panic!("not an UNSUBSCRIBE")
    };
    assert_eq!(u.filters[0].as_str(), "$share/group/sensors/+");
}

// ---------------------------------------------------------------------------------------
// Part B.2: unnumbered CODEC rows
// ---------------------------------------------------------------------------------------

// v5 U5-01
#[test]
fn u5_01_two_and_four_byte_integers_are_big_endian() {
    let p = Publish::new(topic("t"), "")
        .with_qos(QoS::AtLeastOnce, PacketId::new(0x1234))
        .with_properties(PublishProperties {
            message_expiry_interval: Some(0x0102_0304),
            topic_alias: NonZeroU16::new(0x0506),
            ..PublishProperties::default()
        });
    assert_eq!(
        roundtrip(p),
        b"\x32\x0E\x00\x01t\x12\x34\x08\x02\x01\x02\x03\x04\x23\x05\x06"
    );
    let c = Connect {
        keep_alive: 0xA1B2,
        properties: ConnectProperties {
            receive_maximum: NonZeroU16::new(0x0102),
            maximum_packet_size: NonZeroU32::new(0x0A0B_0C0D),
            ..ConnectProperties::default()
        },
        ..base_connect()
    };
    let expected = frame(
        0x10,
        &cat(&[
            &s(b"MQTT"),
            &[5, 0x02, 0xA1, 0xB2],
            &props(&[b"\x21\x01\x02", b"\x27\x0A\x0B\x0C\x0D"]),
            &s(b"cid"),
        ]),
    );
    assert_eq!(roundtrip(c), expected);
    let Packet::ConnAck(a) = ok(&connack(
        0,
        0,
        &[&p_four(SEI, 0xFFFF_FFFE), &p_two(TAM, 0x8001)],
    )) else {
        panic!("not a CONNACK")
    };
    assert_eq!(a.properties.session_expiry_interval, Some(0xFFFF_FFFE));
    assert_eq!(a.properties.topic_alias_maximum, Some(0x8001));
}

// v5 U5-02
#[test]
fn u5_02_strings_have_a_byte_length_prefix_up_to_65535() {
    let p = publish_with(PublishProperties {
        content_type: Some(mstr("日本")),
        ..PublishProperties::default()
    });
    assert_eq!(
        roundtrip(p),
        publish_props(&[b"\x03\x00\x06\xE6\x97\xA5\xE6\x9C\xAC"])
    );
    let long = "r".repeat(65_535);
    let p = publish_with(PublishProperties {
        response_topic: Some(topic(&long)),
        ..PublishProperties::default()
    });
    roundtrip(p);
    assert_eq!(
        MqttString::try_from("a".repeat(65_536)),
        Err(StringError::TooLong(65_536))
    );
    // A string length running past the packet.
    refused!(
        publish_props(&[b"\x03\x00\x09ab"]),
        DecodeError::UnexpectedEnd { .. },
        MALFORMED
    );
}

// v5 U5-03: control characters and non-characters SHOULD NOT be sent; a receiver MAY treat
// them as malformed. The codec takes the permissive side and accepts them.
#[test]
fn u5_03_control_characters_and_non_characters_are_accepted() {
    for t in [
        "a\u{1}",
        "\u{1F}",
        "\u{7F}",
        "\u{85}",
        "\u{FFFE}",
        "x\u{10FFFF}",
    ] {
        let p = as_publish(ok(&publish_props(&[&p_pair(b"k", t.as_bytes())])));
        assert_eq!(p.properties.user_properties[0].value.as_str(), t);
    }
}

// v5 U5-04
#[test]
fn u5_04_variable_byte_integers_have_at_most_4_bytes() {
    let mut buf = BytesMut::from(&b"\x30\x80\x80\x80\x80"[..]);
    assert_eq!(
        Decoder::new(V).decode(&mut buf),
        Err(DecodeError::MalformedVariableByteInteger)
    );
    refused!(
        b"\x30\x80\x80\x80\x80\x01",
        DecodeError::MalformedVariableByteInteger,
        MALFORMED
    );
    // In a Property Length and in a Subscription Identifier.
    refused!(
        frame(0x30, &cat(&[&s(b"t"), b"\xFF\xFF\xFF\xFF\x01"])),
        DecodeError::MalformedVariableByteInteger,
        MALFORMED
    );
    refused!(
        frame(0x30, &cat(&[&s(b"t"), b"\x06\x0B\xFF\xFF\xFF\xFF\x01"])),
        DecodeError::MalformedVariableByteInteger,
        MALFORMED
    );
    // 268,435,455 is the largest value.
    let header = FixedHeader::parse(b"\x30\xFF\xFF\xFF\x7F", V)
        .unwrap()
        .unwrap();
    assert_eq!(header.remaining_length, MAX_VARIABLE_BYTE_INTEGER);
    let p = as_publish(ok(&publish_props(&[b"\x0B\xFF\xFF\xFF\x7F"])));
    assert_eq!(
        p.properties.subscription_identifiers,
        [MAX_VARIABLE_BYTE_INTEGER]
    );
}

// v5 U5-05
#[test]
fn u5_05_binary_data_is_up_to_65535_bytes_of_anything() {
    let p = publish_with(PublishProperties {
        correlation_data: Some(Bytes::from_static(b"\xFF\x00\xC3")),
        ..PublishProperties::default()
    });
    assert_eq!(roundtrip(p), publish_props(&[b"\x09\x00\x03\xFF\x00\xC3"]));
    let big = Bytes::from(vec![0u8; 65_536]);
    let cases: [(Packet, &str); 5] = [
        (
            publish_with(PublishProperties {
                correlation_data: Some(big.clone()),
                ..PublishProperties::default()
            })
            .into(),
            "Correlation Data",
        ),
        (
            Connect {
                password: Some(big.clone()),
                ..base_connect()
            }
            .into(),
            "password",
        ),
        (
            Connect {
                will: Some(Will::new(topic("w"), big.clone())),
                ..base_connect()
            }
            .into(),
            "will payload",
        ),
        (
            Connect {
                properties: ConnectProperties {
                    authentication_method: Some(mstr("m")),
                    authentication_data: Some(big.clone()),
                    ..ConnectProperties::default()
                },
                ..base_connect()
            }
            .into(),
            "authentication data",
        ),
        (
            Auth::new(
                ReasonCode::ContinueAuthentication,
                mstr("m"),
                Some(big.clone()),
            )
            .into(),
            "authentication data",
        ),
    ];
    for (p, field) in cases {
        assert_eq!(
            enc_err(&p),
            EncodeError::BinaryTooLong { field, len: 65_536 },
            "{field}"
        );
    }
    let c = Connect {
        password: Some(big.slice(1..)),
        ..base_connect()
    };
    roundtrip(c);
}

// v5 U5-06
#[test]
fn u5_06_packet_type_0_is_forbidden_and_15_is_auth() {
    for first in [0x00, 0x01, 0x0F] {
        refused!([first, 0], DecodeError::ReservedPacketType(0), MALFORMED);
    }
    assert_eq!(ok(b"\xF0\x00"), Packet::Auth(Auth::default()));
    // In 3.1.1 the same byte is reserved.
    assert_eq!(
        Packet::decode(Bytes::from_static(b"\xF0\x00"), ProtocolVersion::V3_1_1),
        Err(DecodeError::ReservedPacketType(15))
    );
}

// v5 U5-07: packet size = type byte + Remaining Length bytes + Remaining Length; the
// ceiling with no declared limit is 268,435,460 bytes.
#[test]
fn u5_07_packet_size_and_its_ceiling() {
    assert_eq!(MAX_PACKET_SIZE, 268_435_460);
    assert_eq!(Decoder::new(V).maximum_packet_size(), MAX_PACKET_SIZE);
    assert_eq!(
        Decoder::new(V)
            .with_maximum_packet_size(u32::MAX)
            .maximum_packet_size(),
        MAX_PACKET_SIZE
    );
    let header = FixedHeader::parse(b"\x30\xFF\xFF\xFF\x7F", V)
        .unwrap()
        .unwrap();
    assert_eq!(header.packet_size(), MAX_PACKET_SIZE);
    for n in [0usize, 200, 20_000] {
        let p = Publish::new(topic("t"), vec![1u8; n]);
        let bytes = enc(&p);
        let h = FixedHeader::parse(&bytes, V).unwrap().unwrap();
        assert_eq!(h.packet_size(), bytes.len());
        assert_eq!(
            bytes.len(),
            1 + vbi(h.remaining_length as usize).len() + h.remaining_length as usize
        );
    }
    // The largest packet MQTT can frame, and one byte more. (The payload is never touched:
    // only sizes are computed.)
    let payload = Bytes::from(vec![0u8; 268_435_452]);
    let largest = Publish::new(topic("t"), payload.slice(..268_435_451));
    assert_eq!(largest.encoded_len(V), Ok(MAX_PACKET_SIZE));
    let over = Publish::new(topic("t"), payload);
    assert_eq!(
        over.encoded_len(V),
        Err(EncodeError::PacketTooLarge {
            size: MAX_PACKET_SIZE + 1,
            maximum: MAX_PACKET_SIZE
        })
    );
}

// v5 U5-09
#[test]
fn u5_09_unknown_disallowed_or_mistyped_properties_are_malformed() {
    for id in [0x00usize, 0x04, 0x0A, 0x10, 0x14, 0x2B, 0x7F, 0x80] {
        refused!(
            publish_props(&[&vbi(id), b"\x00"]),
            DecodeError::UnknownProperty(got) if got as usize == id,
            MALFORMED
        );
    }
    let not_allowed: [(Vec<u8>, PropertyId, PacketType); 12] = [
        (
            publish_props(&[&p_four(SEI, 1)]),
            PropertyId::SessionExpiryInterval,
            PacketType::Publish,
        ),
        (
            publish_props(&[&p_str(RS, b"r")]),
            PropertyId::ReasonString,
            PacketType::Publish,
        ),
        (
            ack(0x40, 0, &[&p_two(TA, 1)]),
            PropertyId::TopicAlias,
            PacketType::PubAck,
        ),
        (
            ack(0x62, 0, &[&p_var(SI, 1)]),
            PropertyId::SubscriptionIdentifier,
            PacketType::PubRel,
        ),
        (
            connack(0, 0, &[&p_two(TA, 1)]),
            PropertyId::TopicAlias,
            PacketType::ConnAck,
        ),
        (
            connack(0, 0, &[&p_four(WDI, 1)]),
            PropertyId::WillDelayInterval,
            PacketType::ConnAck,
        ),
        (
            connect(0x02, &[&p_four(WDI, 1)], &s(b"cid")),
            PropertyId::WillDelayInterval,
            PacketType::Connect,
        ),
        (
            connect_with_will(&[&p_four(SEI, 1)]),
            PropertyId::SessionExpiryInterval,
            PacketType::Connect,
        ),
        (
            subscribe(&[&p_two(TA, 1)], &cat(&[&s(b"a"), &[0]])),
            PropertyId::TopicAlias,
            PacketType::Subscribe,
        ),
        (
            unsubscribe(&[&p_var(SI, 1)], &s(b"a")),
            PropertyId::SubscriptionIdentifier,
            PacketType::Unsubscribe,
        ),
        (
            disconnect(0, &[&p_two(RM, 1)]),
            PropertyId::ReceiveMaximum,
            PacketType::Disconnect,
        ),
        (
            auth(0x18, &[&p_str(AM, b"m"), &p_str(SR, b"x")]),
            PropertyId::ServerReference,
            PacketType::Auth,
        ),
    ];
    for (bytes, property, packet) in not_allowed {
        refused!(
            bytes,
            DecodeError::PropertyNotAllowed { property: p, packet: t } if p == property && t == packet,
            MALFORMED
        );
    }
    // A value shorter than its type: cut by the end of the packet, or by Property Length.
    refused!(
        publish_props(&[b"\x02\x00\x00"]),
        DecodeError::UnexpectedEnd { .. },
        MALFORMED
    );
    refused!(
        frame(0x30, &cat(&[&s(b"t"), b"\x03\x02\x00\x00", b"payload"])),
        // The value is read within the block, so the error names the property.
        DecodeError::UnexpectedEnd {
            field: "Message Expiry Interval"
        },
        MALFORMED
    );
    // Property Length longer than the packet.
    refused!(
        frame(0x30, &cat(&[&s(b"t"), b"\x09\x01\x01"])),
        DecodeError::UnexpectedEnd { .. },
        MALFORMED
    );
}

// v5 U5-10
#[test]
fn u5_10_properties_in_any_order_and_repetition_rules() {
    // Any order, User Properties kept in order, names may repeat.
    let wire = publish_props(&[
        &p_str(CT, b"c"),
        &p_pair(b"k", b"1"),
        &p_byte(PFI, 1),
        &p_pair(b"k", b"2"),
        &p_four(MEI, 9),
        &p_pair(b"a", b"3"),
    ]);
    let p = as_publish(ok(&wire));
    assert_eq!(p.properties.content_type.as_deref(), Some("c"));
    assert_eq!(p.properties.payload_format_indicator, Some(true));
    assert_eq!(p.properties.message_expiry_interval, Some(9));
    assert_eq!(
        p.properties.user_properties,
        [user("k", "1"), user("k", "2"), user("a", "3")]
    );
    // Subscription Identifier repeats in a PUBLISH (from the server).
    let p = as_publish(ok(&publish_props(&[
        &p_var(SI, 1),
        &p_var(SI, 2),
        &p_var(SI, 1),
    ])));
    assert_eq!(p.properties.subscription_identifiers, [1, 2, 1]);
    // Every other property may appear once.
    let twice = |p: &[u8]| [p, p].concat();
    let cases: [(Vec<u8>, PropertyId); 16] = [
        (
            publish_props(&[&twice(&p_byte(PFI, 0))]),
            PropertyId::PayloadFormatIndicator,
        ),
        (
            publish_props(&[&twice(&p_four(MEI, 1))]),
            PropertyId::MessageExpiryInterval,
        ),
        (
            publish_props(&[&twice(&p_str(CT, b"c"))]),
            PropertyId::ContentType,
        ),
        (
            publish_props(&[&twice(&p_str(RT, b"r"))]),
            PropertyId::ResponseTopic,
        ),
        (
            publish_props(&[&twice(&p_str(CD, b"d"))]),
            PropertyId::CorrelationData,
        ),
        (
            publish_props(&[&twice(&p_two(TA, 1))]),
            PropertyId::TopicAlias,
        ),
        (
            subscribe(&[&twice(&p_var(SI, 1))], &cat(&[&s(b"a"), &[0]])),
            PropertyId::SubscriptionIdentifier,
        ),
        (
            connect(0x02, &[&twice(&p_four(SEI, 1))], &s(b"cid")),
            PropertyId::SessionExpiryInterval,
        ),
        (
            connect(0x02, &[&twice(&p_two(RM, 1))], &s(b"cid")),
            PropertyId::ReceiveMaximum,
        ),
        (
            connect(0x02, &[&twice(&p_str(AM, b"m"))], &s(b"cid")),
            PropertyId::AuthenticationMethod,
        ),
        (
            connect(0x02, &[&twice(&p_byte(RPI, 1))], &s(b"cid")),
            PropertyId::RequestProblemInformation,
        ),
        (
            connect_with_will(&[&twice(&p_four(WDI, 1))]),
            PropertyId::WillDelayInterval,
        ),
        (
            ack(0x40, 0x80, &[&twice(&p_str(RS, b"r"))]),
            PropertyId::ReasonString,
        ),
        (
            disconnect(0x9C, &[&twice(&p_str(SR, b"s"))]),
            PropertyId::ServerReference,
        ),
        (
            auth(0x18, &[&twice(&p_str(AM, b"m"))]),
            PropertyId::AuthenticationMethod,
        ),
        (
            auth(0x18, &[&p_str(AM, b"m"), &twice(&p_str(AD, b"d"))]),
            PropertyId::AuthenticationData,
        ),
    ];
    for (bytes, property) in cases {
        refused!(
            bytes,
            DecodeError::DuplicateProperty(p) if p == property,
            PROTOCOL
        );
    }
}

// v5 U5-11
#[test]
fn u5_11_reason_codes_below_0x80_are_success() {
    let mut seen = 0;
    for raw in 0..=255u8 {
        if let Some(code) = ReasonCode::from_u8(raw) {
            assert_eq!(code.is_error(), raw >= 0x80, "{code}");
            assert_eq!(code.as_u8(), raw);
            seen += 1;
        }
    }
    // Table 2-6 defines 43 distinct values.
    assert_eq!(seen, 43);
}

// v5 U5-12
#[test]
fn u5_12_protocol_version_byte_is_5() {
    assert_eq!(&roundtrip(base_connect())[2..9], b"\x00\x04MQTT\x05");
    assert_eq!(
        as_connect(ok(&connect(0x02, &[], &s(b"c")))).protocol_version,
        V
    );
    refused_fatal!(
        frame(0x10, &cat(&[&s(b"MQTT"), &[7, 2, 0, 60, 0], &s(b"c")])),
        DecodeError::UnsupportedProtocolLevel(7)
    );
}

// v5 U5-15
#[test]
fn u5_15_authentication_data_without_method_is_a_protocol_error() {
    refused!(
        connect(0x02, &[&p_str(AD, b"data")], &s(b"cid")),
        DecodeError::AuthenticationDataWithoutMethod,
        PROTOCOL
    );
    let c = Connect {
        properties: ConnectProperties {
            authentication_data: Some(Bytes::from_static(b"data")),
            ..ConnectProperties::default()
        },
        ..base_connect()
    };
    assert_eq!(enc_err(&c), EncodeError::AuthenticationDataWithoutMethod);
    let c = as_connect(ok(&connect(
        0x02,
        &[&p_str(AD, b"data"), &p_str(AM, b"m")],
        &s(b"cid"),
    )));
    assert_eq!(c.properties.authentication_method.as_deref(), Some("m"));
}

// v5 U5-18 (and §3.1.2.11: the same rules for CONNECT)
#[test]
fn u5_18_connack_property_errors_are_protocol_errors() {
    let invalid: [(Vec<u8>, PropertyId, u32); 7] = [
        (p_two(RM, 0), PropertyId::ReceiveMaximum, 0),
        (p_four(MPS, 0), PropertyId::MaximumPacketSize, 0),
        (p_byte(MQ, 2), PropertyId::MaximumQoS, 2),
        (p_byte(RA, 2), PropertyId::RetainAvailable, 2),
        (p_byte(WSA, 2), PropertyId::WildcardSubscriptionAvailable, 2),
        (
            p_byte(SIA, 5),
            PropertyId::SubscriptionIdentifierAvailable,
            5,
        ),
        (
            p_byte(SSA, 0xFF),
            PropertyId::SharedSubscriptionAvailable,
            255,
        ),
    ];
    for (bytes, property, value) in &invalid {
        refused!(
            connack(0, 0, &[bytes]),
            DecodeError::InvalidPropertyValue { property: p, value: v } if p == *property && v == *value,
            PROTOCOL
        );
        // Any duplicate, with valid values.
        let valid = match bytes.len() {
            2 => vec![bytes[0], 1],
            3 => cat(&[&[bytes[0]], &[0, 1]]),
            _ => cat(&[&[bytes[0]], &[0, 0, 0, 1]]),
        };
        refused!(
            connack(0, 0, &[&valid, &valid]),
            DecodeError::DuplicateProperty(p) if p == *property,
            PROTOCOL
        );
    }
    // Maximum QoS 0 and 1 are the only values.
    for q in [0u8, 1] {
        let Packet::ConnAck(c) = ok(&connack(0, 0, &[&p_byte(MQ, q)])) else {
            panic!("not a CONNACK")
        };
        assert_eq!(c.properties.maximum_qos, QoS::from_u8(q));
    }
    // CONNECT: Receive Maximum 0, Maximum Packet Size 0, Request Problem / Response
    // Information other than 0 or 1.
    for (bytes, property) in [
        (p_two(RM, 0), PropertyId::ReceiveMaximum),
        (p_four(MPS, 0), PropertyId::MaximumPacketSize),
        (p_byte(RPI, 2), PropertyId::RequestProblemInformation),
        (p_byte(RRI, 2), PropertyId::RequestResponseInformation),
    ] {
        refused!(
            connect(0x02, &[&bytes], &s(b"cid")),
            DecodeError::InvalidPropertyValue { property: p, .. } if p == property,
            PROTOCOL
        );
    }
    // Payload Format Indicator is 0 or 1.
    refused!(
        publish_props(&[&p_byte(PFI, 2)]),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::PayloadFormatIndicator,
            value: 2
        },
        PROTOCOL
    );
    // The encoder cannot send Maximum QoS 2.
    let c = ConnAck {
        properties: ConnAckProperties {
            maximum_qos: Some(QoS::ExactlyOnce),
            ..ConnAckProperties::default()
        },
        ..ConnAck::new(ReasonCode::Success)
    };
    assert_eq!(
        enc_err(&c),
        EncodeError::InvalidPropertyValue {
            property: PropertyId::MaximumQoS,
            value: 2
        }
    );
}

// v5 U5-19: see also mqtt_3_3_2_1.
#[test]
fn u5_19_zero_length_topic_without_alias_is_a_protocol_error() {
    let err = refused!(
        publish(0x32, b"", Some(1), &[&p_str(CT, b"c")], b"x"),
        DecodeError::EmptyTopicWithoutAlias,
        PROTOCOL
    );
    assert_eq!(err.reason_code(), PROTOCOL);
}

// v5 U5-21
#[test]
fn u5_21_subscription_identifier_is_1_to_268435455() {
    refused!(
        publish_props(&[&p_var(SI, 0)]),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::SubscriptionIdentifier,
            value: 0
        },
        PROTOCOL
    );
    refused!(
        subscribe(&[&p_var(SI, 0)], &cat(&[&s(b"a"), &[0]])),
        DecodeError::InvalidPropertyValue {
            property: PropertyId::SubscriptionIdentifier,
            value: 0
        },
        PROTOCOL
    );
    for bad in [0, MAX_VARIABLE_BYTE_INTEGER + 1, u32::MAX] {
        let sub = Subscribe {
            properties: SubscribeProperties {
                subscription_identifier: Some(bad),
                ..SubscribeProperties::default()
            }
            .into(),
            ..Subscribe::new(
                pid(1),
                vec![Subscription::new(filter("a"), QoS::AtMostOnce)],
            )
        };
        assert_eq!(
            enc_err(&sub),
            EncodeError::InvalidPropertyValue {
                property: PropertyId::SubscriptionIdentifier,
                value: bad
            }
        );
        let p = publish_with(PublishProperties {
            subscription_identifiers: vec![1, bad],
            ..PublishProperties::default()
        });
        assert_eq!(
            enc_err(&p),
            EncodeError::InvalidPropertyValue {
                property: PropertyId::SubscriptionIdentifier,
                value: bad
            }
        );
    }
    let p = publish_with(PublishProperties {
        subscription_identifiers: vec![1, MAX_VARIABLE_BYTE_INTEGER],
        ..PublishProperties::default()
    });
    roundtrip(p);
}

// v5 U5-24
#[test]
fn u5_24_zero_length_payload_is_legal() {
    let p = as_publish(ok(&publish(0x32, b"t", Some(1), &[&p_byte(PFI, 1)], b"")));
    assert!(p.payload.is_empty());
    assert_eq!(
        roundtrip(Publish::new(topic("t"), "").with_retain(true)),
        b"\x31\x04\x00\x01t\x00"
    );
}

// v5 U5-25
#[test]
fn u5_25_acknowledgement_short_forms() {
    for (first, t) in [
        (0x40u8, PacketType::PubAck),
        (0x50, PacketType::PubRec),
        (0x62, PacketType::PubRel),
        (0x70, PacketType::PubComp),
    ] {
        // Remaining Length 2: Success, no properties.
        let p = ok(&[first, 2, 0, 7]);
        assert_eq!(p.packet_type(), t);
        assert_eq!(codes_of(&p), [ReasonCode::Success]);
        assert_eq!(
            enc(&p),
            [first, 2, 0, 7],
            "Success without properties uses the short form"
        );
        // Remaining Length 3: a reason code, no properties.
        let code = if first == 0x40 || first == 0x50 {
            0x80
        } else {
            0x92
        };
        let p = ok(&[first, 3, 0, 7, code]);
        assert_eq!(codes_of(&p)[0].as_u8(), code);
        assert_eq!(enc(&p), [first, 3, 0, 7, code]);
        // The full form with Property Length 0 is accepted too.
        assert_eq!(ok(&[first, 4, 0, 7, code, 0]), p);
        assert_eq!(ok(&[first, 4, 0, 7, 0, 0]), ok(&[first, 2, 0, 7]));
        // Too short for a packet identifier.
        refused!([first, 1, 0], DecodeError::UnexpectedEnd { .. }, MALFORMED);
    }
    // With properties, the reason code is written even for Success.
    let p = PubAck {
        properties: AckProperties {
            reason_string: Some(mstr("ok")),
            ..AckProperties::default()
        }
        .into(),
        ..PubAck::new(pid(1))
    };
    assert_eq!(roundtrip(p), b"\x40\x09\x00\x01\x00\x05\x1F\x00\x02ok");
}

// v5 U5-26: the layout of the Subscription Options byte (the Protocol Error half is in
// mqtt_3_8_3_5_u5_26_qos_3_and_retain_handling_3_are_protocol_errors).
#[test]
fn u5_26_subscription_options_byte_layout() {
    let cases = [
        (
            0x00u8,
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
        let Packet::Subscribe(s1) = ok(&sub1(b"a", byte)) else {
            panic!("not a SUBSCRIBE")
        };
        let options = SubscriptionOptions {
            qos,
            no_local,
            retain_as_published,
            retain_handling,
        };
        assert_eq!(s1.subscriptions[0].options, options, "{byte:#04x}");
        assert_eq!(enc(&s1), sub1(b"a", byte));
    }
}

// v5 U5-29
#[test]
fn u5_29_disconnect_short_forms() {
    assert_eq!(
        ok(b"\xE0\x00"),
        Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION))
    );
    assert_eq!(
        ok(b"\xE0\x01\x8B"),
        Packet::Disconnect(Disconnect::new(ReasonCode::ServerShuttingDown))
    );
    assert_eq!(ok(b"\xE0\x02\x8B\x00"), ok(b"\xE0\x01\x8B"));
    assert_eq!(roundtrip(Disconnect::new(ReasonCode::Success)), b"\xE0\x00");
    assert_eq!(
        roundtrip(Disconnect::new(ReasonCode::DisconnectWithWillMessage)),
        b"\xE0\x01\x04"
    );
}

// ---------------------------------------------------------------------------------------
// Beyond the CODEC rows: what the codec does for SESSION-tagged rules it can see.
// ---------------------------------------------------------------------------------------

// v5 U5-32 (SESSION; the codec part): AUTH with Remaining Length 0 is Success without
// properties; any other AUTH carries an Authentication Method.
#[test]
fn u5_32_auth_forms_and_authentication_method() {
    assert_eq!(ok(b"\xF0\x00"), Packet::Auth(Auth::default()));
    assert_eq!(roundtrip(Auth::default()), b"\xF0\x00");
    // Only the whole body may be left out: a reason code without Property Length is short.
    refused!(
        [0xF0, 1, 0],
        DecodeError::UnexpectedEnd {
            field: "property length"
        },
        MALFORMED
    );
    refused!(
        auth(0x18, &[]),
        DecodeError::MissingAuthenticationMethod,
        PROTOCOL
    );
    refused!(
        auth(0x18, &[&p_str(AD, b"d")]),
        DecodeError::MissingAuthenticationMethod | DecodeError::AuthenticationDataWithoutMethod,
        PROTOCOL
    );
    let no_method = Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: AuthProperties::default().into(),
    };
    assert_eq!(
        enc_err(&no_method),
        EncodeError::MissingAuthenticationMethod
    );
}

// v5 B.5: packets only a client sends arriving from the server, and the other way round,
// are Protocol Errors (our classification of Table 3-10 "unexpected packet").
#[test]
fn b5_packets_from_the_wrong_side_are_protocol_errors() {
    let client_only: [Vec<u8>; 4] = [
        connect(0x02, &[], &s(b"cid")),
        sub1(b"a", 0),
        unsubscribe(&[], &s(b"a")),
        vec![0xC0, 0],
    ];
    for bytes in client_only {
        let err = dec_from(Role::Server, &bytes).unwrap_err();
        assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
        assert_eq!(err.reason_code(), PROTOCOL);
        assert!(dec_from(Role::Client, &bytes).is_ok());
    }
    let server_only: [Vec<u8>; 4] = [
        connack(0, 0, &[]),
        vec![0x90, 4, 0, 1, 0, 0],
        vec![0xB0, 4, 0, 1, 0, 0],
        vec![0xD0, 0],
    ];
    for bytes in server_only {
        let err = dec_from(Role::Client, &bytes).unwrap_err();
        assert!(matches!(err, DecodeError::WrongSender { .. }), "{err:?}");
        assert_eq!(err.reason_code(), PROTOCOL);
        assert!(dec_from(Role::Server, &bytes).is_ok());
    }
    // Both ways: PUBLISH, the publish acknowledgements, DISCONNECT and AUTH.
    for bytes in [
        publish(0x30, b"t", None, &[], b""),
        vec![0x40, 2, 0, 1],
        vec![0x62, 2, 0, 1],
        vec![0xE0, 0],
        auth(0x18, &[&p_str(AM, b"m")]),
    ] {
        assert!(dec_from(Role::Client, &bytes).is_ok());
        assert!(dec_from(Role::Server, &bytes).is_ok());
    }
}

// B.5: fields overrunning or not filling the Remaining Length are malformed.
#[test]
fn b5_fields_must_fill_the_remaining_length_exactly() {
    refused!(
        [0x40, 5, 0, 1, 0, 0, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::PubAck,
            extra: 1
        },
        MALFORMED
    );
    refused!(
        [0x20, 4, 0, 0, 0, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::ConnAck,
            extra: 1
        },
        MALFORMED
    );
    refused!(
        [0xD0, 1, 0],
        DecodeError::TrailingBytes {
            packet_type: PacketType::PingResp,
            extra: 1
        },
        MALFORMED
    );
    refused!(
        frame(0xA2, &cat(&[&[0, 1, 0], b"\x00\x05ab"])),
        DecodeError::UnexpectedEnd { .. },
        MALFORMED
    );
}
