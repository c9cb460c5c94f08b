//! The borrowed view (`mqtt_proto::view`) against the owned decode: for valid packets of
//! every version, and for mutated encodings, `Decoder::decode_view` gives the same
//! packets, takes the same number of bytes and refuses with the same error as
//! `Decoder::decode`, whichever side the packets come from; and a PUBLISH's topic and
//! payload borrow the input.

#[allow(dead_code)]
mod strategies;

use bytes::{Buf, Bytes, BytesMut};
use mqtt_proto::view::{PacketView, PublishView};
use mqtt_proto::{
    DecodeError, Decoder, Encode, Packet, PacketId, PacketType, ProtocolVersion, Publish,
    PublishProperties, QoS, Role, TopicName,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use strategies::{config, mutation, version, versioned_packets};

/// What one decoder made of a stream: the packets, then how it stopped.
type Outcome = (Vec<Packet>, Result<usize, DecodeError>);

/// Decodes all of `data` with the owned decoder; `Ok(n)` is the bytes left undecoded.
fn owned(decoder: &mut Decoder, data: &[u8]) -> Outcome {
    let mut buf = BytesMut::from(data);
    let mut packets = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(p)) => packets.push(p),
            Ok(None) => return (packets, Ok(buf.remaining())),
            Err(e) => return (packets, Err(e)),
        }
    }
}

/// The same with views, turned into owned packets to compare.
fn viewed(decoder: &Decoder, data: &[u8]) -> Outcome {
    let mut at = 0;
    let mut packets = Vec::new();
    loop {
        match decoder.decode_view(&data[at..]) {
            Ok(Some((view, len))) => {
                assert!(len > 0 && at + len <= data.len());
                packets.push(view.into_packet());
                at += len;
            }
            Ok(None) => return (packets, Ok(data.len() - at)),
            Err(e) => return (packets, Err(e)),
        }
    }
}

fn agree(version: ProtocolVersion, data: &[u8]) -> Result<(), TestCaseError> {
    for sender in [None, Some(Role::Client), Some(Role::Server)] {
        let mut decoder = Decoder::new(version);
        if let Some(sender) = sender {
            decoder = decoder.with_sender(sender);
        }
        let expected = owned(&mut decoder.clone(), data);
        let got = viewed(&decoder, data);
        prop_assert_eq!(
            got,
            expected,
            "{} from {:?}: {:02x?}",
            version,
            sender,
            data
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1024))]

    /// Valid packets of every version decode through the view to what the owned decoder
    /// gives, the whole stream taken.
    #[test]
    fn views_of_valid_packets_equal_the_owned_decode(
        (v, packets) in versioned_packets(4),
    ) {
        let mut data = BytesMut::new();
        for p in &packets {
            p.encode(v, &mut data).expect("valid packets encode");
        }
        agree(v, &data)?;
        let (decoded, rest) = viewed(&Decoder::new(v), &data);
        prop_assert_eq!(rest, Ok(0));
        prop_assert_eq!(decoded.len(), packets.len());
    }

    /// Mutated encodings, decoded under any version: the same packets, the same refusal.
    #[test]
    fn views_refuse_what_the_owned_decode_refuses(
        (encoded_as, packets) in versioned_packets(4),
        decoded_as in version(),
        mutations in vec(mutation(), 1..6),
    ) {
        let mut data = Vec::new();
        for p in &packets {
            let mut buf = BytesMut::new();
            p.encode(encoded_as, &mut buf).expect("valid packets encode");
            data.extend_from_slice(&buf);
        }
        for m in &mutations {
            m.apply(&mut data);
        }
        agree(decoded_as, &data)?;
    }

    /// Arbitrary bytes never make the view panic, and it agrees with the owned decode.
    #[test]
    fn views_of_arbitrary_bytes_agree(v in version(), data in vec(any::<u8>(), 0..64)) {
        agree(v, &data)?;
    }
}

fn publish_bytes(publish: &Publish, v: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    publish.encode(v, &mut buf).unwrap();
    buf.to_vec()
}

#[test]
fn a_publish_view_borrows_topic_and_payload_from_the_input() {
    let publish = Publish::new(TopicName::from_static("sensors/1"), "21.5")
        .with_qos(QoS::AtLeastOnce, PacketId::new(9));
    let wire = publish_bytes(&publish, ProtocolVersion::V3_1_1);
    let PacketView::Publish(view) = PacketView::decode(&wire, ProtocolVersion::V3_1_1).unwrap()
    else {
        panic!("not a PUBLISH")
    };
    let range = wire.as_ptr_range();
    assert!(range.contains(&view.topic.as_ptr()));
    assert!(range.contains(&view.payload.as_ptr()));
    assert_eq!((view.topic, view.payload), ("sensors/1", &b"21.5"[..]));
    assert_eq!(view.packet_id, PacketId::new(9));
    assert!(view.properties.get().is_none(), "no block allocated");
    assert_eq!(view.to_publish(), publish);
}

#[test]
fn a_v5_publish_view_carries_its_properties() {
    let properties = PublishProperties {
        message_expiry_interval: Some(30),
        content_type: Some("text/plain".try_into().unwrap()),
        ..PublishProperties::default()
    };
    let publish = Publish::new(TopicName::from_static("t"), "x").with_properties(properties);
    let wire = publish_bytes(&publish, ProtocolVersion::V5);
    let view = PacketView::decode(&wire, ProtocolVersion::V5).unwrap();
    let PacketView::Publish(PublishView { properties, .. }) = &view else {
        panic!("not a PUBLISH")
    };
    assert_eq!(properties.message_expiry_interval, Some(30));
    assert_eq!(view.into_packet(), Packet::Publish(publish));
}

#[test]
fn a_subscription_identifier_in_a_publish_from_a_client_is_refused() {
    // [MQTT-3.3.4-6]: a client never sends one, so a server's decoder refuses it.
    let mut publish = Publish::new(TopicName::from_static("t"), "x");
    publish.properties.subscription_identifiers.push(3);
    let wire = publish_bytes(&publish, ProtocolVersion::V5);
    let from_client = Decoder::new(ProtocolVersion::V5).with_sender(Role::Client);
    assert!(matches!(
        from_client.decode_view(&wire),
        Err(DecodeError::WrongSender { .. })
    ));
    let from_server = Decoder::new(ProtocolVersion::V5).with_sender(Role::Server);
    assert!(from_server.decode_view(&wire).unwrap().is_some());
}

#[test]
fn an_incomplete_packet_is_none_and_an_oversize_one_is_refused_at_its_header() {
    let publish = Publish::new(TopicName::from_static("a/b"), vec![7u8; 200]);
    let wire = publish_bytes(&publish, ProtocolVersion::V3_1_1);
    let decoder = Decoder::new(ProtocolVersion::V3_1_1);
    for cut in 0..wire.len() {
        assert_eq!(decoder.decode_view(&wire[..cut]), Ok(None), "cut at {cut}");
    }
    let small = Decoder::new(ProtocolVersion::V3_1_1).with_maximum_packet_size(100);
    assert!(matches!(
        small.decode_view(&wire[..3]),
        Err(DecodeError::PacketTooLarge { .. })
    ));
}

#[test]
fn a_topic_with_a_wildcard_or_bad_utf8_is_refused() {
    // [MQTT-3.3.2-2]: no wildcard in a PUBLISH topic name; [MQTT-1.5.4-1]: UTF-8.
    for topic in [&b"a/+"[..], b"a/#", b"\xff\xfe", b"a\0b"] {
        let mut wire = vec![0x30, (2 + topic.len() + 1) as u8, 0, topic.len() as u8];
        wire.extend_from_slice(topic);
        wire.push(b'x');
        let owned = Packet::decode(wire.clone().into(), ProtocolVersion::V3_1_1).unwrap_err();
        assert_eq!(
            PacketView::decode(&wire, ProtocolVersion::V3_1_1),
            Err(owned),
            "{topic:?}"
        );
    }
}

#[test]
fn a_view_is_small_and_the_data_path_packets_are_held_in_place() {
    // Returned one by one from a stream: its size is what each step copies.
    assert!(size_of::<PacketView<'static>>() <= 48);
    for (wire, want) in [
        (&b"\x40\x02\x00\x07"[..], PacketType::PubAck),
        (b"\x50\x02\x00\x07", PacketType::PubRec),
        (b"\x62\x02\x00\x07", PacketType::PubRel),
        (b"\x70\x02\x00\x07", PacketType::PubComp),
        (b"\xc0\x00", PacketType::PingReq),
        (b"\xd0\x00", PacketType::PingResp),
    ] {
        let view = PacketView::decode(wire, ProtocolVersion::V3_1_1).unwrap();
        assert_eq!(view.packet_type(), want);
        assert!(!matches!(view, PacketView::Other(_)), "{view:?}");
        assert_eq!(
            view.into_packet(),
            Packet::decode(Bytes::copy_from_slice(wire), ProtocolVersion::V3_1_1).unwrap()
        );
    }
    let connack = PacketView::decode(b"\x20\x02\x00\x00", ProtocolVersion::V3_1_1).unwrap();
    assert!(matches!(connack, PacketView::Other(_)));
}

#[test]
fn a_view_refuses_what_the_sender_may_not_send() {
    // [MQTT-3.14.2-1]-style checks: PINGRESP only comes from a server, PINGREQ only from
    // a client, and a reason code the sender's side may not use is refused.
    let from_server = Decoder::new(ProtocolVersion::V5).with_sender(Role::Server);
    let from_client = Decoder::new(ProtocolVersion::V5).with_sender(Role::Client);
    assert!(from_server.decode_view(b"\xd0\x00").unwrap().is_some());
    assert!(matches!(
        from_server.decode_view(b"\xc0\x00"),
        Err(DecodeError::WrongSender { .. })
    ));
    assert!(matches!(
        from_client.decode_view(b"\xd0\x00"),
        Err(DecodeError::WrongSender { .. })
    ));
    for wire in [&b"\xc0\x00"[..], b"\xd0\x00", b"\x40\x03\x00\x07\x10"] {
        for d in [&from_server, &from_client] {
            let owned = d
                .clone()
                .decode(&mut bytes::BytesMut::from(wire))
                .map(|p| p.is_some());
            let view = d.decode_view(wire).map(|v| v.is_some());
            assert_eq!(owned, view, "{wire:?}");
        }
    }
}
