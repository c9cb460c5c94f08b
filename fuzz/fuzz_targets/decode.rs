//! The streaming decoder over arbitrary bytes, for MQTT 3.1, 3.1.1 and 5.0, with and
//! without the sender checks and a maximum packet size.
//!
//! Input: `[config] [n] [n chunk lengths] [stream bytes...]`.
//! * config bits 0-1: version (0 = 3.1, 1 = 3.1.1, 2 or 3 = 5.0); bits 2-3: sender role
//!   (1 = client, 2 = server, else none); bit 4: a maximum packet size follows (u16, BE).
//! * n (low 4 bits): how many chunk lengths follow; the stream is fed in chunks of these
//!   lengths (0 counts as 1), cycling (n = 0: one byte at a time).
//!
//! Properties:
//! 1. no panic;
//! 2. fed in chunks, the decoder gives the same packets and the same error as fed at once,
//!    and leaves the same bytes;
//! 3. every decoded packet re-encodes (except a 3.1.1 CONNECT with an empty client
//!    identifier and clean session 0, see `check_reencode`); `encoded_len` is the encoded length; the encoding
//!    decodes to an equal packet; `encode_vectored` gives the same bytes; `encode_within`
//!    refuses one byte less than the size;
//! 4. `Decoder::decode_view` and `PacketView::decode` accept exactly what the owned decode
//!    accepts, consume as much, and agree on every field they expose.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mqtt_proto::view::PacketView;
use mqtt_proto::{DecodeError, Decoder, Encode, EncodeError, Packet, ProtocolVersion, Role};

struct Config {
    version: ProtocolVersion,
    sender: Option<Role>,
    maximum: Option<u32>,
    chunks: Vec<usize>,
}

fn config(u: &mut Unstructured<'_>) -> arbitrary::Result<Config> {
    let c = u8::arbitrary(u)?;
    let version = match c & 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let sender = match (c >> 2) & 3 {
        1 => Some(Role::Client),
        2 => Some(Role::Server),
        _ => None,
    };
    let maximum = if c & 0x10 != 0 {
        Some(u32::from(u16::from_be_bytes([
            u8::arbitrary(u)?,
            u8::arbitrary(u)?,
        ])))
    } else {
        None
    };
    let n = u8::arbitrary(u)? & 0x0F;
    let mut chunks = Vec::new();
    for _ in 0..n {
        chunks.push(usize::from(u8::arbitrary(u)?));
    }
    if chunks.is_empty() {
        chunks.push(1);
    }
    Ok(Config {
        version,
        sender,
        maximum,
        chunks,
    })
}

fn decoder(c: &Config) -> Decoder {
    let mut d = Decoder::new(c.version);
    if let Some(role) = c.sender {
        d = d.with_sender(role);
    }
    if let Some(max) = c.maximum {
        d = d.with_maximum_packet_size(max);
    }
    d
}

/// What a stream decodes to: the packets, then the error that stopped it (if any), and
/// the bytes left over.
#[derive(Debug, PartialEq)]
struct Outcome {
    packets: Vec<Packet>,
    error: Option<DecodeError>,
    rest: Vec<u8>,
}

/// Decodes until "need more" or an error; an error ends the stream for good.
fn drain(d: &mut Decoder, buf: &mut BytesMut, out: &mut Outcome) {
    // Each packet takes at least two bytes, so this bounds the loop.
    for _ in 0..=buf.len() {
        match d.decode(buf) {
            Ok(Some(p)) => out.packets.push(p),
            Ok(None) => return,
            Err(e) => {
                out.error = Some(e);
                return;
            }
        }
    }
    panic!("the decoder gave more packets than the buffer has bytes");
}

fn at_once(c: &Config, data: &[u8]) -> Outcome {
    let mut d = decoder(c);
    let mut buf = BytesMut::from(data);
    let mut out = Outcome {
        packets: Vec::new(),
        error: None,
        rest: Vec::new(),
    };
    drain(&mut d, &mut buf, &mut out);
    if out.error.is_none() {
        out.rest = buf.to_vec();
    }
    out
}

fn in_chunks(c: &Config, data: &[u8]) -> Outcome {
    let mut d = decoder(c);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        packets: Vec::new(),
        error: None,
        rest: Vec::new(),
    };
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let len = c.chunks[i % c.chunks.len()].clamp(1, data.len() - at);
        i += 1;
        buf.extend_from_slice(&data[at..at + len]);
        at += len;
        let before = buf.len();
        drain(&mut d, &mut buf, &mut out);
        if out.error.is_some() {
            return out;
        }
        assert!(buf.len() <= before);
    }
    out.rest = buf.to_vec();
    out
}

/// Property 3 for one decoded packet.
fn check_reencode(c: &Config, packet: &Packet) {
    let v = c.version;
    let size = match packet.encoded_len(v) {
        Ok(size) => size,
        // The packets the decoder must take and the encoder must refuse: a CONNECT with
        // an empty client identifier that its version does not allow (3.1.1 with clean
        // session 0, or any under 3.1), which a server decodes in order to answer it
        // with CONNACK 0x02 ([MQTT-3.1.3-8]; 3.1: "identifier rejected"), and which a
        // client must never send ([MQTT-3.1.3-7]; 3.1: 1 to 23 characters).
        Err(EncodeError::EmptyClientIdWithoutCleanSession) => {
            assert!(
                matches!(packet, Packet::Connect(c) if c.client_id.is_empty() && !c.clean_start)
            );
            assert!(packet.encode(v, &mut BytesMut::new()).is_err());
            return;
        }
        Err(EncodeError::NotInVersion {
            what: "an empty client identifier",
            version: ProtocolVersion::V3_1,
        }) => {
            assert!(matches!(packet, Packet::Connect(c) if c.client_id.is_empty()));
            assert!(packet.encode(v, &mut BytesMut::new()).is_err());
            return;
        }
        Err(e) => panic!("a decoded packet has no encoded size: {e} ({e:?})\n{packet:?}"),
    };
    let mut buf = BytesMut::new();
    let written = packet
        .encode(v, &mut buf)
        .unwrap_or_else(|e| panic!("a decoded packet does not encode: {e} ({e:?})\n{packet:?}"));
    assert_eq!(
        written,
        buf.len(),
        "encode's size is not the bytes it wrote"
    );
    assert_eq!(size, buf.len(), "encoded_len is not the encoded length");
    let bytes = buf.freeze();
    let again = Packet::decode(bytes.clone(), v).unwrap_or_else(|e| {
        panic!("the re-encoded packet does not decode: {e} ({e:?})\n{packet:?}\n{bytes:02x?}")
    });
    assert_eq!(&again, packet, "decode(encode(p)) != p");
    if let Some(role) = c.sender {
        assert!(
            again.check_sender(role).is_ok(),
            "the re-encoded packet fails the sender check"
        );
    }
    // Vectored: the head and the payload together are the same bytes.
    let mut head = BytesMut::new();
    let payload = packet
        .encode_vectored(v, size, &mut head)
        .expect("encode_vectored at exactly the size");
    let mut joined = head.to_vec();
    if let Some(p) = payload {
        joined.extend_from_slice(&p);
    }
    assert_eq!(joined, &bytes[..], "encode_vectored differs from encode");
    // The maximum packet size is enforced at exactly the size.
    assert!(
        packet
            .encode_within(v, size - 1, &mut BytesMut::new())
            .is_err(),
        "encode_within accepted a maximum one byte under the size"
    );
}

/// Property 4: the borrowed views against the owned decode, packet by packet.
fn check_views(c: &Config, data: &[u8], owned: &Outcome) {
    let d = decoder(c);
    let mut at = 0;
    let mut packets = owned.packets.iter();
    loop {
        let view = d.decode_view(&data[at..]);
        match (view, packets.next()) {
            (Ok(Some((view, len))), Some(packet)) => {
                compare_view(&view, packet);
                check_frame(c, &data[at..at + len], packet);
                assert_eq!(view.into_packet(), *packet, "PacketView::into_packet");
                at += len;
            }
            (Ok(None), None) => {
                assert!(
                    owned.error.is_none(),
                    "decode_view waits where decode refused"
                );
                assert_eq!(
                    &data[at..],
                    &owned.rest[..],
                    "decode_view stopped elsewhere"
                );
                return;
            }
            (Err(e), None) => {
                // Both refuse here, for the same reason (they run the same checks).
                assert_eq!(
                    Some(&e),
                    owned.error.as_ref(),
                    "decode_view refuses otherwise"
                );
                return;
            }
            (view, packet) => panic!(
                "decode_view and decode disagree at offset {at}: view {view:?}, owned {packet:?} / {:?}",
                owned.error
            ),
        }
    }
}

/// `PacketView::decode` and `Packet::decode` on exactly one frame.
fn check_frame(c: &Config, frame: &[u8], packet: &Packet) {
    let owned = Packet::decode(Bytes::copy_from_slice(frame), c.version)
        .unwrap_or_else(|e| panic!("Packet::decode refused a frame the Decoder took: {e:?}"));
    assert_eq!(
        &owned, packet,
        "Packet::decode differs from Decoder::decode"
    );
    let view = PacketView::decode(frame, c.version)
        .unwrap_or_else(|e| panic!("PacketView::decode refused a frame the Decoder took: {e:?}"));
    compare_view(&view, packet);
    // One byte more is trailing garbage for both.
    let mut longer = frame.to_vec();
    longer.push(0);
    assert!(Packet::decode(Bytes::from(longer.clone()), c.version).is_err());
    assert!(PacketView::decode(&longer, c.version).is_err());
    // One byte less is incomplete for both.
    let shorter = &frame[..frame.len() - 1];
    assert!(Packet::decode(Bytes::copy_from_slice(shorter), c.version).is_err());
    assert!(PacketView::decode(shorter, c.version).is_err());
}

fn compare_view(view: &PacketView<'_>, packet: &Packet) {
    assert_eq!(view.packet_type(), packet.packet_type(), "view packet type");
    match (view, packet) {
        (PacketView::Publish(v), Packet::Publish(p)) => {
            assert_eq!(v.dup, p.dup, "view dup");
            assert_eq!(v.qos, p.qos, "view qos");
            assert_eq!(v.retain, p.retain, "view retain");
            assert_eq!(v.topic, p.topic.as_str(), "view topic");
            assert_eq!(v.packet_id, p.packet_id, "view packet id");
            assert_eq!(v.payload, &p.payload[..], "view payload");
            assert_eq!(v.properties, p.properties, "view properties");
            assert_eq!(v.to_publish(), *p, "PublishView::to_publish");
        }
        (PacketView::Publish(v), p) => panic!("view {v:?} is not packet {p:?}"),
        (v, p) => assert_eq!(&v.clone().into_packet(), p, "view of a non-PUBLISH"),
    }
}

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let Ok(c) = config(&mut u) else {
        return;
    };
    let data = u.take_rest();

    let whole = at_once(&c, data);
    let chunked = in_chunks(&c, data);
    assert_eq!(
        whole, chunked,
        "chunked feeding differs from feeding at once"
    );

    for packet in &whole.packets {
        check_reencode(&c, packet);
    }
    check_views(&c, data, &whole);
});
