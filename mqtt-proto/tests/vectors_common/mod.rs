//! Shared helpers for the byte-vector tests (`vectors_v3.rs`, `vectors_v5.rs`).
//!
//! Every vector is written by hand from the packet layouts of the specification. A vector
//! is checked in both directions:
//!
//! * decoding: [`Packet::decode`] on the exact bytes, and the streaming [`Decoder`] fed the
//!   bytes in pieces (one byte at a time for small packets), then fed the packet followed
//!   by a PINGRESP in one buffer;
//! * encoding: [`Encode::encoded_len`], [`Encode::encode`] (also after existing bytes),
//!   [`Encode::encode_vectored`] and [`Encode::encode_within`] at exactly the packet size.

// Each test crate uses its own subset of these helpers.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    DecodeError, Decoder, Encode, EncodeError, MqttString, Packet, PacketId, ProtocolVersion,
    TopicFilter, TopicName, UserProperty,
};

/// Concatenates the hand-written pieces of one packet.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A packet identifier from a non-zero literal.
pub(crate) fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("test packet identifiers are non-zero")
}

/// An MQTT string from a literal.
pub(crate) fn s(v: &'static str) -> MqttString {
    MqttString::from_static(v)
}

/// A topic name from a literal.
pub(crate) fn topic(v: &'static str) -> TopicName {
    TopicName::from_static(v)
}

/// A topic filter from a literal.
pub(crate) fn filter(v: &'static str) -> TopicFilter {
    TopicFilter::from_static(v)
}

/// A User Property from two literals.
pub(crate) fn user(name: &'static str, value: &'static str) -> UserProperty {
    UserProperty::new(s(name), s(value))
}

/// Hex dump for failure messages (long inputs are shortened).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const MAX: usize = 96;
    let mut out: Vec<String> = bytes.iter().take(MAX).map(|b| format!("{b:02X}")).collect();
    if bytes.len() > MAX {
        out.push(format!("... ({} bytes)", bytes.len()));
    }
    out.join(" ")
}

/// Asserts two byte strings are equal, naming the first differing offset.
#[track_caller]
pub(crate) fn assert_same_bytes(actual: &[u8], expected: &[u8], what: &str) {
    if actual == expected {
        return;
    }
    let first = actual
        .iter()
        .zip(expected)
        .position(|(a, e)| a != e)
        .unwrap_or(actual.len().min(expected.len()));
    panic!(
        "{what}: bytes differ at offset {first} (actual {} bytes, expected {} bytes)\n  actual:   {}\n  expected: {}",
        actual.len(),
        expected.len(),
        hex(actual),
        hex(expected)
    );
}

/// Checks one vector in both directions: `bytes` decodes to `expected` and `expected`
/// encodes to exactly `bytes`.
#[track_caller]
pub(crate) fn check_vector(version: ProtocolVersion, bytes: &[u8], expected: impl Into<Packet>) {
    let expected = expected.into();
    assert_decodes(version, bytes, &expected);
    assert_encodes(version, bytes, &expected);
}

/// Checks that `bytes` decodes to `expected`, whole and streamed.
#[track_caller]
pub(crate) fn assert_decodes(version: ProtocolVersion, bytes: &[u8], expected: &Packet) {
    // One whole packet.
    match Packet::decode(Bytes::copy_from_slice(bytes), version) {
        Ok(decoded) => assert_eq!(
            &decoded,
            expected,
            "Packet::decode({version}) of {}",
            hex(bytes)
        ),
        Err(e) => panic!(
            "Packet::decode({version}) refused {}: {e} ({e:?})",
            hex(bytes)
        ),
    }

    // The stream delivers the packet in pieces: nothing comes out and nothing is consumed
    // until the last byte is in.
    let piece = if bytes.len() <= 512 {
        1
    } else {
        bytes.len() / 7 + 1
    };
    let mut decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut out = None;
    for chunk in bytes.chunks(piece) {
        assert!(
            out.is_none(),
            "Decoder({version}) gave a packet after {fed} of {} bytes",
            bytes.len()
        );
        buf.extend_from_slice(chunk);
        fed += chunk.len();
        out = decoder
            .decode(&mut buf)
            .unwrap_or_else(|e| panic!("Decoder({version}) refused after {fed} bytes: {e}"));
        if out.is_none() {
            assert_eq!(
                buf.len(),
                fed,
                "Decoder consumed part of an incomplete packet"
            );
        }
    }
    assert_eq!(
        out.as_ref(),
        Some(expected),
        "Decoder({version}) streaming {}",
        hex(bytes)
    );
    assert!(buf.is_empty(), "Decoder left {} bytes behind", buf.len());

    // The packet followed by another one: the decoder takes exactly the packet's bytes.
    let mut buf = BytesMut::from(bytes);
    buf.extend_from_slice(&[0xD0, 0x00]);
    assert_eq!(decoder.decode(&mut buf), Ok(Some(expected.clone())));
    assert_eq!(decoder.decode(&mut buf), Ok(Some(Packet::PingResp)));
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());

    // Packet size = the whole packet, fixed header included (v5 §2.1.4): a Maximum Packet
    // Size equal to it admits the packet, one byte less refuses it.
    let size = bytes.len();
    let mut exact = Decoder::new(version).with_maximum_packet_size(size as u32);
    assert_eq!(
        exact.decode(&mut BytesMut::from(bytes)),
        Ok(Some(expected.clone()))
    );
    let mut small = Decoder::new(version).with_maximum_packet_size(size as u32 - 1);
    assert_eq!(
        small.decode(&mut BytesMut::from(bytes)),
        Err(DecodeError::PacketTooLarge {
            size,
            maximum: size as u32 - 1
        })
    );
}

/// Checks that `packet` encodes to exactly `bytes`, whatever encoding entry point is used.
#[track_caller]
pub(crate) fn assert_encodes(version: ProtocolVersion, bytes: &[u8], packet: &Packet) {
    let size = bytes.len();
    assert_eq!(
        packet.encoded_len(version),
        Ok(size),
        "encoded_len({version}) of {packet:?}"
    );

    let mut buf = BytesMut::new();
    let written = packet
        .encode(version, &mut buf)
        .unwrap_or_else(|e| panic!("encode({version}) refused {packet:?}: {e}"));
    assert_same_bytes(&buf, bytes, &format!("encode({version})"));
    assert_eq!(written, size, "encode({version}) returned the wrong size");

    // Appending after bytes already in the buffer.
    let mut buf = BytesMut::from(&b"\xAA\xBB"[..]);
    assert_eq!(packet.encode(version, &mut buf), Ok(size));
    assert_same_bytes(&buf[2..], bytes, "encode after existing bytes");
    assert_eq!(&buf[..2], b"\xAA\xBB");

    // Vectored: the head in the buffer, the payload (PUBLISH only) handed back.
    let mut head = BytesMut::new();
    let payload = packet
        .encode_vectored(version, size, &mut head)
        .unwrap_or_else(|e| panic!("encode_vectored({version}) refused {packet:?}: {e}"));
    let mut joined = head.to_vec();
    if let Some(p) = &payload {
        joined.extend_from_slice(p);
    }
    assert_same_bytes(&joined, bytes, "encode_vectored head + payload");
    assert_eq!(
        payload.is_some(),
        matches!(packet, Packet::Publish(_)),
        "only a PUBLISH hands back a payload"
    );

    // A maximum of exactly the packet size fits; one byte less does not, and writes nothing.
    let mut buf = BytesMut::new();
    assert_eq!(packet.encode_within(version, size, &mut buf), Ok(size));
    assert_same_bytes(&buf, bytes, "encode_within(exact size)");
    let mut buf = BytesMut::new();
    assert_eq!(
        packet.encode_within(version, size - 1, &mut buf),
        Err(EncodeError::PacketTooLarge {
            size,
            maximum: size - 1
        })
    );
    assert!(buf.is_empty(), "a refused packet wrote {} bytes", buf.len());
}

/// The Remaining Length bytes of a fixed header: everything after the first byte, up to and
/// including the first byte without the continuation bit.
pub(crate) fn remaining_length_bytes(packet: &[u8]) -> &[u8] {
    let end = packet[1..]
        .iter()
        .position(|b| b & 0x80 == 0)
        .expect("a complete Remaining Length");
    &packet[1..=end + 1]
}
