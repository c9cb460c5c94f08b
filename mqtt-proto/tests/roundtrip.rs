//! Property tests of the packet codec, for MQTT 3.1, 3.1.1 and 5.0:
//!
//! * every valid packet survives encode -> decode unchanged, through `Packet::decode` and
//!   the streaming `Decoder`;
//! * `encoded_len`, `encode`, `encode_within` and `encode_vectored` agree on the bytes;
//! * a stream of packets cut into arbitrary pieces decodes like the whole stream, and an
//!   incomplete packet is answered with `Ok(None)` and left in place;
//! * arbitrary bytes and mutated encodings never make decoding panic, what decodes
//!   re-encodes without panicking, and (checked separately) re-encodes to the same packet;
//! * an oversize packet is refused once its fixed header is in;
//! * whatever the encoder accepts, the decoder gives back.
//!
//! Each property runs 1024 cases (4096 for the cheap raw-byte ones, 12 for multi-MiB
//! packets) unless `PROPTEST_CASES` says otherwise.

mod strategies;

use bytes::{BufMut, Bytes, BytesMut};
use mqtt_proto::{
    Connect, DecodeError, Decoder, Encode, EncodeError, FixedHeader, MAX_PACKET_SIZE,
    MAX_STRING_LEN, MAX_VARIABLE_BYTE_INTEGER, MqttString, Packet, PacketId, ProtocolVersion,
    Publish, PublishProperties, QoS, ReasonCode, Role, TopicName, UserProperty,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

use strategies::{
    Mutation, VERSIONS, any_connect, config, first_byte, mutation, tweak, version,
    versioned_packet, versioned_packets,
};

/// Encodes a packet the strategies call valid; refusing it is a failure.
fn encode(packet: &Packet, version: ProtocolVersion) -> Result<Bytes, TestCaseError> {
    let mut buf = BytesMut::new();
    match packet.encode(version, &mut buf) {
        Ok(n) => {
            prop_assert_eq!(n, buf.len(), "encode returned a size other than it wrote");
            Ok(buf.freeze())
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "{version}: valid packet refused by the encoder: {e}\n{packet:#?}"
        ))),
    }
}

/// Appends `value` as a Variable Byte Integer (shortest form).
fn put_var_int(buf: &mut Vec<u8>, mut value: usize) {
    loop {
        let byte = (value % 128) as u8;
        value /= 128;
        if value == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// A frame: `first`, the Remaining Length of `body`, `body`.
fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    put_var_int(&mut out, body.len());
    out.extend_from_slice(body);
    out
}

/// Re-encodes a decoded packet: the encoder must take it (but for a CONNECT with an
/// empty client identifier, which a server decodes only to refuse it) and decoding the
/// result must give back the same packet.
fn check_reencode(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    match packet.encode(version, &mut buf) {
        Ok(n) => {
            prop_assert_eq!(n, buf.len());
            prop_assert_eq!(packet.encoded_len(version), Ok(n));
            let again = Packet::decode(buf.freeze(), version);
            prop_assert_eq!(
                again.as_ref(),
                Ok(packet),
                "decode(encode(decoded)) differs"
            );
        }
        // A server answers a CONNECT whose client identifier it refuses with return code
        // 0x02 (v3.1.1 [MQTT-3.1.3-8], 3.1 §3.1), so the decoder takes it, though a
        // client may not send it ([MQTT-3.1.3-7], 3.1: 1 to 23 characters).
        Err(
            EncodeError::EmptyClientIdWithoutCleanSession
            | EncodeError::NotInVersion {
                version: ProtocolVersion::V3_1,
                ..
            },
        ) if matches!(packet, Packet::Connect(c) if c.client_id.is_empty()) => {}
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "{version}: a decoded packet is refused by the encoder: {e}\n{packet:#?}"
            )));
        }
    }
    Ok(())
}

/// Re-encodes a decoded packet, which may be refused but must not panic; if it is taken,
/// the sizes agree.
fn reencode_without_panic(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    let result = packet.encode(version, &mut buf);
    prop_assert_eq!(packet.encoded_len(version), result.clone());
    if let Ok(n) = result {
        prop_assert_eq!(n, buf.len());
    }
    Ok(())
}

/// Decodes `data` every way there is and returns every packet that came out, checking
/// that nothing panics and that the ways agree: each packet the streaming decoder takes
/// off (or refuses) is the same when decoded alone with `Packet::decode`.
fn decode_every_way(version: ProtocolVersion, data: &[u8]) -> Result<Vec<Packet>, TestCaseError> {
    let mut decoded = Vec::new();

    // The whole input as one packet.
    if let Ok(p) = Packet::decode(Bytes::copy_from_slice(data), version) {
        decoded.push(p);
    }

    // The input as a stream.
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::from(data);
    loop {
        let before = Bytes::copy_from_slice(&buf);
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => {
                let consumed = before.len() - buf.len();
                prop_assert!(consumed >= 2);
                prop_assert_eq!(&before[consumed..], &buf[..]);
                prop_assert_eq!(
                    Packet::decode(before.slice(..consumed), version),
                    Ok(p.clone())
                );
                decoded.push(p);
            }
            Ok(None) => {
                prop_assert_eq!(&before[..], &buf[..], "Ok(None) consumed bytes");
                break;
            }
            Err(e) => {
                let consumed = before.len() - buf.len();
                let alone = if consumed == 0 {
                    before
                } else {
                    before.slice(..consumed)
                };
                prop_assert_eq!(Packet::decode(alone, version), Err(e));
                break;
            }
        }
    }

    // The same stream as each side receives it, and under a small maximum packet size.
    for decoder in [
        Decoder::new(version).with_sender(Role::Client),
        Decoder::new(version).with_sender(Role::Server),
        Decoder::new(version).with_maximum_packet_size(24),
    ] {
        let mut decoder = decoder;
        let mut buf = BytesMut::from(data);
        while let Ok(Some(p)) = decoder.decode(&mut buf) {
            decoded.push(p);
        }
    }
    // A client's entry: the same packets as `decode` with the server as sender, the same
    // point of failure (the error may differ for a packet only a client sends: refused
    // unread instead of read and refused).
    let mut full = Decoder::new(version).with_sender(Role::Server);
    let mut client = Decoder::new(version).with_sender(Role::Server);
    let (mut a, mut b) = (BytesMut::from(data), BytesMut::from(data));
    loop {
        match (full.decode(&mut a), client.decode_from_server(&mut b)) {
            (Ok(Some(x)), Ok(Some(y))) => prop_assert_eq!(x, y),
            (Ok(None), Ok(None)) | (Err(_), Err(_)) => break,
            (x, y) => prop_assert!(false, "decode {x:?} but decode_from_server {y:?}"),
        }
    }
    Ok(decoded)
}

/// Encodes `packets` under `version` and breaks the bytes with `mutations`: either the
/// whole stream, or the first packet's body, framed again with the right Remaining Length
/// so that the body parsers see all of it.
fn mutated_stream(
    version: ProtocolVersion,
    packets: &[Packet],
    mutations: &[Mutation],
    reframe: bool,
) -> Result<Vec<u8>, TestCaseError> {
    let mut data = Vec::new();
    for p in packets {
        data.extend_from_slice(&encode(p, version)?);
    }
    if reframe {
        let header = FixedHeader::parse(&data, version);
        let header = header.ok().flatten().expect("fixed header of an encoding");
        let size = header.packet_size();
        let mut body = data[header.header_len..size].to_vec();
        for m in mutations {
            m.apply(&mut body);
        }
        let mut framed = frame(data[0], &body);
        framed.extend_from_slice(&data[size..]);
        Ok(framed)
    } else {
        for m in mutations {
            m.apply(&mut data);
        }
        Ok(data)
    }
}

/// What decoding gives back for a packet the encoder took: 3.1 / 3.1.1 SUBACK carries
/// only QoS 0/1/2 and 0x80, and 3.1 / 3.1.1 UNSUBACK no reason codes.
fn as_decoded(packet: &Packet, version: ProtocolVersion) -> Packet {
    let mut p = packet.clone();
    if !version.is_v5() {
        match &mut p {
            Packet::SubAck(s) => {
                for c in &mut s.reason_codes {
                    *c = ReasonCode::from_v3_suback(c.to_v3_suback()).expect("3.1.1 code");
                }
            }
            Packet::UnsubAck(u) => u.reason_codes.clear(),
            _ => {}
        }
    }
    p
}

proptest! {
    #![proptest_config(config(1024))]

    /// (a) Every valid packet of every version survives encode -> decode, through
    /// `Packet::decode` and through the streaming `Decoder`.
    #[test]
    fn valid_packets_roundtrip((version, packet) in versioned_packet()) {
        let bytes = encode(&packet, version)?;
        prop_assert_eq!(Packet::decode(bytes.clone(), version), Ok(packet.clone()));

        let mut decoder = Decoder::new(version);
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert_eq!(decoder.decode(&mut buf), Ok(Some(packet.clone())));
        prop_assert!(buf.is_empty());
        prop_assert_eq!(decoder.decode(&mut buf), Ok(None));

        // The body alone, given its fixed header.
        let header = FixedHeader::parse(&bytes, version);
        let header = header.ok().flatten().expect("fixed header of an encoding");
        prop_assert_eq!(header.packet_type, packet.packet_type());
        prop_assert_eq!(header.packet_size(), bytes.len());
        prop_assert_eq!(
            Packet::decode_body(&header, bytes.slice(header.header_len..), version),
            Ok(packet)
        );
    }

    /// (a) A CONNECT decodes the same whatever version the decoder was set to: a server
    /// learns the version from it.
    #[test]
    fn connect_decodes_under_any_decoder_version(
        connect in any_connect(),
        decoder_version in version(),
    ) {
        let packet = Packet::from(connect);
        let bytes = encode(&packet, decoder_version)?;
        prop_assert_eq!(Packet::decode(bytes.clone(), decoder_version), Ok(packet.clone()));
        let mut buf = BytesMut::from(&bytes[..]);
        prop_assert_eq!(Decoder::new(decoder_version).decode(&mut buf), Ok(Some(packet)));
    }

    /// (b) `encoded_len` is what `encode` writes; `encode_within` refuses one byte less
    /// without writing; `encode_vectored`'s head plus payload is the `encode` bytes, and
    /// `vectored_payload_len` is that payload's length.
    #[test]
    fn encoded_sizes_agree(
        (version, packet) in versioned_packet(),
        prefix in vec(any::<u8>(), 0..8),
    ) {
        let len = packet.encoded_len(version);
        prop_assert!(len.is_ok(), "encoded_len refused a valid packet: {:?}", len);
        let len = len.unwrap();

        // `encode` appends to what the buffer holds.
        let mut buf = BytesMut::from(&prefix[..]);
        prop_assert_eq!(packet.encode(version, &mut buf), Ok(len));
        prop_assert_eq!(buf.len(), prefix.len() + len);
        prop_assert_eq!(&buf[..prefix.len()], &prefix[..]);
        let whole = buf.split_off(prefix.len()).freeze();

        let mut buf = BytesMut::from(&prefix[..]);
        prop_assert_eq!(packet.encode_within(version, len, &mut buf), Ok(len));
        prop_assert_eq!(&buf[prefix.len()..], &whole[..]);

        if len > 2 {
            let mut buf = BytesMut::from(&prefix[..]);
            prop_assert_eq!(
                packet.encode_within(version, len - 1, &mut buf),
                Err(EncodeError::PacketTooLarge { size: len, maximum: len - 1 })
            );
            prop_assert_eq!(&buf[..], &prefix[..], "a refused packet was written");
            prop_assert!(packet.encode_vectored(version, len - 1, &mut buf).is_err());
            prop_assert_eq!(&buf[..], &prefix[..], "a refused packet was written");
        }

        let mut head = BytesMut::from(&prefix[..]);
        let payload = packet.encode_vectored(version, len, &mut head);
        prop_assert!(payload.is_ok(), "encode_vectored refused: {:?}", payload);
        let payload = payload.unwrap();
        // `vectored_payload_len` says beforehand how long that payload is.
        prop_assert_eq!(packet.vectored_payload_len(), payload.as_ref().map_or(0, |b| b.len()));
        prop_assert_eq!(&head[..prefix.len()], &prefix[..]);
        let mut joined = head[prefix.len()..].to_vec();
        match (&packet, &payload) {
            (Packet::Publish(p), Some(payload)) => {
                prop_assert_eq!(payload, &p.payload);
                joined.extend_from_slice(payload);
            }
            (Packet::Publish(_), None) => prop_assert!(false, "no payload for a PUBLISH"),
            (_, Some(_)) => prop_assert!(false, "a payload for a packet other than PUBLISH"),
            (_, None) => {}
        }
        prop_assert_eq!(&joined[..], &whole[..]);
    }

    /// (c) A stream of packets cut into arbitrary pieces decodes to the packets, as the
    /// whole stream does; `Ok(None)` leaves the buffer as it was.
    #[test]
    fn stream_in_arbitrary_pieces(
        (version, packets) in versioned_packets(8),
        cuts in vec(any::<Index>(), 0..24),
    ) {
        let mut stream = BytesMut::new();
        for p in &packets {
            p.encode(version, &mut stream).expect("valid packet");
        }
        let stream = stream.freeze();

        let mut whole = Vec::new();
        let mut buf = BytesMut::from(&stream[..]);
        let mut decoder = Decoder::new(version);
        while let Some(p) = decoder.decode(&mut buf)? {
            whole.push(p);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&whole, &packets);

        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.extend([0, stream.len()]);
        points.sort_unstable();
        points.dedup();

        let mut decoder = Decoder::new(version);
        let mut buf = BytesMut::new();
        let mut pieces = Vec::new();
        for w in points.windows(2) {
            buf.extend_from_slice(&stream[w[0]..w[1]]);
            loop {
                let before = Bytes::copy_from_slice(&buf);
                let capacity = buf.capacity();
                match decoder.decode(&mut buf) {
                    Ok(Some(p)) => pieces.push(p),
                    Ok(None) => {
                        prop_assert_eq!(&buf[..], &before[..], "Ok(None) changed the buffer");
                        prop_assert_eq!(buf.capacity(), capacity, "Ok(None) grew the buffer");
                        break;
                    }
                    Err(e) => prop_assert!(false, "{version}: stream refused: {e}"),
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(&pieces, &whole);
    }

    /// (c) Fed one byte at a time, a packet is `Ok(None)` with nothing consumed until its
    /// last byte, and `Packet::decode` refuses every proper prefix and any extra byte.
    #[test]
    fn incomplete_packet_is_left_in_place(
        (version, packet) in versioned_packet(),
        extra in any::<u8>(),
    ) {
        let bytes = encode(&packet, version)?;
        let mut decoder = Decoder::new(version);
        let mut buf = BytesMut::with_capacity(bytes.len());
        for i in 0..bytes.len() {
            prop_assert_eq!(decoder.decode(&mut buf), Ok(None), "prefix of {} bytes", i);
            prop_assert_eq!(&buf[..], &bytes[..i]);
            prop_assert!(Packet::decode(bytes.slice(..i), version).is_err());
            buf.put_u8(bytes[i]);
        }
        prop_assert_eq!(decoder.decode(&mut buf), Ok(Some(packet)));
        prop_assert!(buf.is_empty());

        let mut longer = bytes.to_vec();
        longer.push(extra);
        let trailing = matches!(
            Packet::decode(Bytes::from(longer), version),
            Err(DecodeError::TrailingBytes { extra: 1, .. })
        );
        prop_assert!(trailing, "one byte too many is not TrailingBytes");
    }

    /// (d) Bit flips, overwrites, insertions, removals, truncations and duplications of
    /// valid encodings of any version, decoded under any version, never make a decoder
    /// panic; what decodes re-encodes without panicking.
    #[test]
    fn mutated_encodings_never_panic(
        (encoded_as, packets) in versioned_packets(4),
        decoded_as in version(),
        mutations in vec(mutation(), 1..6),
        reframe in any::<bool>(),
    ) {
        let data = mutated_stream(encoded_as, &packets, &mutations, reframe)?;
        for p in decode_every_way(decoded_as, &data)? {
            reencode_without_panic(&p, decoded_as)?;
        }
    }

    /// (d) What the decoder takes, the encoder takes too and gives back: decoding is
    /// idempotent through an encode (mutated encodings, decoded under any version). The
    /// one refusal allowed is a CONNECT client identifier, which a server must decode to
    /// answer it with return code 0x02.
    #[test]
    fn decoded_packets_reencode_to_themselves(
        (encoded_as, packets) in versioned_packets(4),
        decoded_as in version(),
        mutations in vec(mutation(), 0..4),
        reframe in any::<bool>(),
    ) {
        let data = mutated_stream(encoded_as, &packets, &mutations, reframe)?;
        for p in decode_every_way(decoded_as, &data)? {
            check_reencode(&p, decoded_as)?;
        }
    }

    /// (e) With a small maximum packet size, an oversize packet is refused as soon as
    /// its fixed header is in (within the first 5 bytes); at the limit it is taken.
    #[test]
    fn oversize_packet_refused_after_fixed_header(
        (version, packet) in versioned_packet(),
        below in any::<Index>(),
    ) {
        let bytes = encode(&packet, version)?;
        let size = bytes.len();
        let maximum = below.index(size) as u32;
        let too_large = DecodeError::PacketTooLarge { size, maximum };
        let header_len = FixedHeader::parse(&bytes, version)
            .ok()
            .flatten()
            .expect("fixed header of an encoding")
            .header_len;
        prop_assert!(header_len <= 5);

        let mut decoder = Decoder::new(version).with_maximum_packet_size(maximum);
        let mut buf = BytesMut::new();
        for &b in &bytes[..header_len - 1] {
            buf.put_u8(b);
            prop_assert_eq!(decoder.decode(&mut buf), Ok(None));
        }
        buf.put_u8(bytes[header_len - 1]);
        prop_assert_eq!(decoder.decode(&mut buf), Err(too_large.clone()));

        let mut first5 = BytesMut::from(&bytes[..size.min(5)]);
        let mut decoder = Decoder::new(version).with_maximum_packet_size(maximum);
        prop_assert_eq!(decoder.decode(&mut first5), Err(too_large));

        let mut all = BytesMut::from(&bytes[..]);
        let mut decoder = Decoder::new(version).with_maximum_packet_size(size as u32);
        prop_assert_eq!(decoder.decode(&mut all), Ok(Some(packet)));
    }

    /// Whatever the encoder takes, the decoder gives back: the encoder's checks refuse
    /// every packet the decoder would refuse. The packets are valid ones with fields
    /// changed, some into invalid values.
    #[test]
    fn encoder_accepts_only_what_decodes(
        (version, packet) in versioned_packet(),
        tweaks in vec(tweak(), 1..4),
    ) {
        let mut packet = packet;
        for t in &tweaks {
            t.apply(&mut packet);
        }
        let len = packet.encoded_len(version);
        let mut buf = BytesMut::new();
        match packet.encode(version, &mut buf) {
            Err(e) => {
                prop_assert_eq!(len, Err(e));
                prop_assert!(buf.is_empty(), "a refused packet was written");
            }
            Ok(n) => {
                prop_assert_eq!(len, Ok(n));
                prop_assert_eq!(
                    Packet::decode(buf.freeze(), version),
                    Ok(as_decoded(&packet, version)),
                    "{}: the encoder took a packet that does not decode back", version
                );
            }
        }
    }
}

proptest! {
    // Cheap: most inputs are refused within a few bytes.
    #![proptest_config(config(4096))]

    /// (d) Arbitrary bytes never make a decoder panic, under any version; what decodes
    /// re-encodes without panicking.
    #[test]
    fn arbitrary_bytes_never_panic(
        version in version(),
        data in vec(any::<u8>(), 0..300),
    ) {
        for p in decode_every_way(version, &data)? {
            reencode_without_panic(&p, version)?;
        }
    }

    /// (d) Arbitrary bodies behind a plausible fixed header (right Remaining Length or
    /// not) never make a decoder panic; what decodes re-encodes without panicking.
    #[test]
    fn arbitrary_frames_never_panic(
        version in version(),
        first in first_byte(),
        body in vec(any::<u8>(), 0..300),
        framed in any::<bool>(),
    ) {
        let data = if framed {
            frame(first, &body)
        } else {
            let mut d = vec![first];
            d.extend_from_slice(&body);
            d
        };
        for p in decode_every_way(version, &data)? {
            reencode_without_panic(&p, version)?;
        }
    }

    /// (e) A fixed header announcing any Remaining Length up to the protocol's limit is
    /// refused over the maximum packet size, and otherwise waited on, before its body
    /// arrives.
    #[test]
    fn announced_size_checked_before_body(
        version in version(),
        packet_type in 1u8..15,
        remaining in prop_oneof![0usize..300, 0..=MAX_VARIABLE_BYTE_INTEGER as usize],
        maximum in prop_oneof![0u32..400, any::<u32>()],
    ) {
        let flags = match packet_type {
            6 | 8 | 10 => 0b0010,
            _ => 0,
        };
        let mut header = vec![(packet_type << 4) | flags];
        put_var_int(&mut header, remaining);
        let size = header.len() + remaining;
        let mut buf = BytesMut::from(&header[..]);
        let result = Decoder::new(version).with_maximum_packet_size(maximum).decode(&mut buf);
        let limit = (maximum as usize).min(MAX_PACKET_SIZE);
        if size > limit {
            prop_assert_eq!(
                result,
                Err(DecodeError::PacketTooLarge { size, maximum: limit as u32 })
            );
        } else if remaining > 0 {
            prop_assert_eq!(result, Ok(None));
            prop_assert_eq!(&buf[..], &header[..]);
        }
    }
}

proptest! {
    // Multi-MiB packets: a fixed, small number of cases whatever `PROPTEST_CASES` says.
    #![proptest_config(ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// (a, c) PUBLISH packets whose Remaining Length takes 3 and 4 bytes roundtrip, and
    /// stream in pieces.
    #[test]
    fn large_publish_roundtrip(
        version in version(),
        len in prop_oneof![16_384usize..20_000, 2_097_152usize..2_100_000],
        seed in any::<u8>(),
        qos in strategies::qos(),
        piece in 1_000usize..70_000,
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let mut publish = Publish::new(TopicName::from_static("large/payload"), payload)
            .with_qos(qos, (qos != QoS::AtMostOnce).then(|| PacketId::new(7).unwrap()));
        if version.is_v5() {
            publish.properties.subscription_identifiers = vec![1, MAX_VARIABLE_BYTE_INTEGER];
        }
        let packet = Packet::Publish(publish);
        let bytes = encode(&packet, version)?;
        prop_assert_eq!(packet.encoded_len(version), Ok(bytes.len()));
        prop_assert_eq!(Packet::decode(bytes.clone(), version), Ok(packet.clone()));

        let mut decoder = Decoder::new(version);
        let mut buf = BytesMut::new();
        let mut out = None;
        for chunk in bytes.chunks(piece) {
            prop_assert!(out.is_none());
            buf.extend_from_slice(chunk);
            out = decoder.decode(&mut buf)?;
        }
        prop_assert_eq!(out, Some(packet));
        prop_assert!(buf.is_empty());
    }
}

/// Length limits: 65,535-byte strings and binary data roundtrip, longer binary data is
/// refused; Remaining Lengths at every Variable Byte Integer boundary roundtrip; a
/// Remaining Length over 268,435,455 is refused.
#[test]
fn length_limits() {
    let long_str = MqttString::try_from("é".repeat(MAX_STRING_LEN / 2) + "x").unwrap();
    assert_eq!(long_str.len(), MAX_STRING_LEN);
    assert!(MqttString::try_from("x".repeat(MAX_STRING_LEN + 1)).is_err());
    let long_topic = TopicName::try_from("t".repeat(MAX_STRING_LEN)).unwrap();
    let long_bin = Bytes::from(vec![0x5A; 65_535]);

    for version in VERSIONS {
        let mut connect = Connect::new(version, long_str.clone());
        connect.will = Some(mqtt_proto::Will::new(long_topic.clone(), long_bin.clone()));
        connect.user_name = Some(long_str.clone());
        connect.password = Some(long_bin.clone());
        let packet = Packet::from(connect.clone());
        let bytes = encode(&packet, version).unwrap();
        assert_eq!(Packet::decode(bytes, version), Ok(packet));

        connect.password = Some(Bytes::from(vec![0; 65_536]));
        assert!(matches!(
            connect.encoded_len(version),
            Err(EncodeError::BinaryTooLong { len: 65_536, .. })
        ));

        // Packets of every Remaining Length around a Variable Byte Integer boundary.
        for boundary in [127usize, 16_383, 2_097_151] {
            for body_len in boundary - 1..=boundary + 2 {
                let overhead = 2 + 1; // topic length and topic "t"
                let mut publish =
                    Publish::new(TopicName::from_static("t"), vec![7; body_len - overhead]);
                if version.is_v5() {
                    // A Property Length of 0 takes one more byte.
                    publish.payload.truncate(body_len - overhead - 1);
                }
                let packet = Packet::Publish(publish);
                let bytes = encode(&packet, version).unwrap();
                let header_len = bytes.len() - body_len;
                let expected = if body_len < 128 {
                    2
                } else if body_len < 16_384 {
                    3
                } else if body_len < 2_097_152 {
                    4
                } else {
                    5
                };
                assert_eq!(
                    header_len, expected,
                    "{version}: Remaining Length {body_len}"
                );
                assert_eq!(Packet::decode(bytes, version), Ok(packet));
            }
        }

        // Sizes are computed without touching the payload: a zeroed allocation is never
        // written.
        let overhead = 3 + usize::from(version.is_v5());
        let at_limit = MAX_VARIABLE_BYTE_INTEGER as usize - overhead;
        let publish = Publish::new(TopicName::from_static("t"), vec![0u8; at_limit]);
        assert_eq!(publish.encoded_len(version), Ok(MAX_PACKET_SIZE));
        let publish = Publish::new(TopicName::from_static("t"), vec![0u8; at_limit + 1]);
        assert!(matches!(
            publish.encoded_len(version),
            Err(EncodeError::PacketTooLarge { .. })
        ));
    }

    // A 5.0 PUBLISH with a 65,535-byte Correlation Data and maximal strings roundtrips;
    // one more byte is refused.
    let mut properties = PublishProperties {
        correlation_data: Some(long_bin.clone()),
        content_type: Some(long_str.clone()),
        response_topic: Some(long_topic.clone()),
        user_properties: vec![UserProperty::new(long_str.clone(), long_str.clone())],
        ..PublishProperties::default()
    };
    let publish = Publish::new(long_topic.clone(), "x").with_properties(properties.clone());
    let packet = Packet::Publish(publish);
    let bytes = encode(&packet, ProtocolVersion::V5).unwrap();
    assert_eq!(Packet::decode(bytes, ProtocolVersion::V5), Ok(packet));
    properties.correlation_data = Some(Bytes::from(vec![0; 65_536]));
    let publish = Publish::new(long_topic, "x").with_properties(properties);
    assert!(matches!(
        publish.encoded_len(ProtocolVersion::V5),
        Err(EncodeError::BinaryTooLong { len: 65_536, .. })
    ));
}
