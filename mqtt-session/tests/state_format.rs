//! The stored form of a session state: a state taken from a working session encodes and
//! decodes to an equal state, a session restored from it carries on, and corrupted,
//! truncated or foreign bytes are refused with a typed error (never a panic).

mod common;

use bytes::{Bytes, BytesMut};
use common::{Harness, options, secs};
use mqtt_proto::{
    AckProperties, ConnAck, MqttString, Packet, ProtocolVersion, PubRec, Publish, QoS, ReasonCode,
    SubAck, SubscribeProperties, Subscription, TopicFilter, TopicName, UserProperty,
};
use mqtt_session::{Options, Session, SessionState, Stage, StateError};

fn persistent(version: ProtocolVersion) -> Options {
    let mut o = options(version);
    o.clean_start = false;
    o.session_expiry_interval = 3600;
    o.max_in_flight = Some(2);
    o
}

fn message(topic: &str, payload: &'static str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::try_from(topic).unwrap(),
        Bytes::from_static(payload.as_bytes()),
    )
    .with_qos(qos, None)
}

/// A session with something of every kind in its state: a QoS 1 message awaiting PUBACK,
/// a QoS 2 one past PUBREC, queued messages (QoS 0, 1, 2), an incoming QoS 2 awaiting
/// PUBREL, an active subscription and an unanswered SUBSCRIBE.
fn busy(version: ProtocolVersion) -> Harness {
    let mut h = Harness::new(persistent(version));
    h.connect();
    let mut props = SubscribeProperties::default();
    if version.is_v5() {
        props.subscription_identifier = Some(7);
        props.user_properties.push(UserProperty::new(
            MqttString::from_static("k"),
            MqttString::from_static("v"),
        ));
    }
    let sub = |f: &str, q| Subscription::new(TopicFilter::try_from(f).unwrap(), q);
    h.session
        .subscribe(h.now, vec![sub("a/#", QoS::AtLeastOnce)], props)
        .unwrap();
    h.drain();
    let Some(Packet::Subscribe(s)) = h.sent().pop() else {
        panic!("no SUBSCRIBE")
    };
    h.receive(SubAck {
        packet_id: s.packet_id,
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: AckProperties::default().into(),
    });
    h.session
        .subscribe(
            h.now,
            vec![sub("b/+", QoS::ExactlyOnce)],
            SubscribeProperties::default(),
        )
        .unwrap();
    let mut m = message("out/1", "one", QoS::AtLeastOnce);
    if version.is_v5() {
        m.properties.user_properties.push(UserProperty::new(
            MqttString::from_static("n"),
            MqttString::from_static("1"),
        ));
    }
    h.session.publish(h.now, m).unwrap();
    h.session
        .publish(h.now, message("out/2", "two", QoS::ExactlyOnce))
        .unwrap();
    h.drain();
    let sent = h.sent();
    let pubrec_for = sent
        .iter()
        .find_map(|p| match p {
            Packet::Publish(p) if p.qos == QoS::ExactlyOnce => p.packet_id,
            _ => None,
        })
        .expect("the QoS 2 PUBLISH");
    h.receive(PubRec::new(pubrec_for));
    h.advance(secs(2));
    for (i, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let topic = format!("queued/{i}");
        h.session.publish(h.now, message(&topic, "q", qos)).unwrap();
    }
    h.receive(
        message("in/2", "x", QoS::ExactlyOnce)
            .with_qos(QoS::ExactlyOnce, mqtt_proto::PacketId::new(42)),
    );
    h.drain();
    h
}

#[test]
fn a_busy_state_roundtrips_and_a_restored_session_resends_it() {
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let h = busy(version);
        let state = h.session.state();
        assert_eq!(state.in_flight.len(), 2, "{version}");
        assert_eq!(
            state.in_flight[1].stage,
            Stage::AwaitingPubComp,
            "{version}"
        );
        assert!(state.queued.len() >= 2, "{version}: {:?}", state.queued);
        assert_eq!(state.incoming_qos2.len(), 1, "{version}");
        assert_eq!(state.requests.len(), 1, "{version}");
        assert_eq!(state.subscriptions.len(), 1, "{version}");

        let mut stored = BytesMut::new();
        state.encode(&mut stored).unwrap();
        assert_eq!(&stored[..6], b"MQTTSS");
        let read = SessionState::decode(&stored).unwrap();
        assert_eq!(read, state, "{version}");

        // A new process: restored from the bytes, it resumes and re-sends in order.
        let mut h = Harness::from_session(Session::restore(persistent(version), read));
        let mut present = ConnAck::new(ReasonCode::Success);
        present.session_present = true;
        h.connect_with(present);
        let resent = h.sent();
        let publish = resent
            .iter()
            .position(|p| matches!(p, Packet::Publish(p) if p.dup && p.topic.as_str() == "out/1"));
        let pubrel = resent.iter().position(|p| matches!(p, Packet::PubRel(_)));
        assert!(
            matches!((publish, pubrel), (Some(a), Some(b)) if a < b),
            "{version}: the QoS 1 message again (DUP), then PUBREL for the one past PUBREC: {resent:?}"
        );
        assert!(
            resent.iter().any(|p| matches!(p, Packet::Subscribe(_))),
            "{version}: the unanswered SUBSCRIBE is sent again"
        );
    }
}

#[test]
fn every_corrupted_byte_and_every_truncation_is_refused() {
    let mut stored = BytesMut::new();
    busy(ProtocolVersion::V5)
        .session
        .state()
        .encode(&mut stored)
        .unwrap();
    for at in 0..stored.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = stored.to_vec();
            bad[at] ^= flip;
            assert!(
                SessionState::decode(&bad).is_err(),
                "byte {at} ^ {flip:#x} was not noticed"
            );
        }
    }
    for len in 0..stored.len() {
        let error = SessionState::decode(&stored[..len]).expect_err("a truncated state");
        assert!(
            matches!(
                error,
                StateError::NotAState | StateError::Truncated { .. } | StateError::Checksum
            ),
            "cut at {len}: {error:?}"
        );
    }
}

#[test]
fn foreign_bytes_and_other_formats_are_named() {
    assert_eq!(
        SessionState::decode(b"hello world"),
        Err(StateError::NotAState)
    );
    let mut stored = BytesMut::new();
    SessionState::default().encode(&mut stored).unwrap();
    assert_eq!(SessionState::decode(&stored), Ok(SessionState::default()));
    let mut newer = stored.to_vec();
    newer[6] = 2;
    let error = SessionState::decode(&newer).unwrap_err();
    assert_eq!(error, StateError::UnsupportedFormat(2));
    assert!(error.to_string().contains("format 2"), "{error}");
    assert_eq!(
        SessionState::decode(&stored[..stored.len() - 1]),
        Err(StateError::Checksum)
    );
}

#[test]
fn huge_counts_with_few_bytes_are_refused_without_allocating_for_them() {
    // A well-formed header and checksum around an in-flight count of 4 billion.
    let mut body = b"MQTTSS\x01\x00".to_vec();
    body.extend_from_slice(&0u16.to_be_bytes()); // empty client id
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&1u64.to_be_bytes());
    body.extend_from_slice(&u32::MAX.to_be_bytes());
    let crc = crc32fast_reference(&body);
    body.extend_from_slice(&crc.to_be_bytes());
    assert!(matches!(
        SessionState::decode(&body),
        Err(StateError::Truncated { .. })
    ));
}

/// A bit-by-bit CRC-32 (IEEE), independent of the library's table.
fn crc32fast_reference(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
