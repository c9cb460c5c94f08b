//! The stored form of a session state (mqtt-session `state_format.rs`): arbitrary bytes
//! decode to a state or a `StateError`, never a panic; a state that decodes encodes, and
//! decodes again to an equal state; and a session restored from it starts.
//!
//! Random bytes almost never pass the checksum, so with the first byte odd the target
//! writes the right CRC-32 over the rest before decoding: the fuzzer then explores the
//! layout itself (counts, lengths, stored packets). With bit 1 of the first byte set the
//! rest is a journal record instead (`StateChange::decode`; records carry no checksum of
//! their own): one that decodes encodes and decodes again to an equal record, and applies
//! to a state.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::MqttString;
use mqtt_session::{Instant, Options, Session, SessionState, StateChange};

fn crc32(bytes: &[u8]) -> u32 {
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

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 2 == 2 {
        let Ok(change) = StateChange::decode(rest) else {
            return;
        };
        let mut again = BytesMut::new();
        change.encode(&mut again).expect("a decoded record encodes");
        let reread = StateChange::decode(&again).expect("an encoded record decodes");
        assert_eq!(reread, change);
        SessionState::default().apply(reread);
        return;
    }
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 && bytes.len() >= 4 {
        let body = bytes.len() - 4;
        let crc = crc32(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_be_bytes());
    }
    let Ok(state) = SessionState::decode(&bytes) else {
        return;
    };
    let mut again = BytesMut::new();
    state.encode(&mut again).expect("a decoded state encodes");
    let reread = SessionState::decode(&again).expect("an encoded state decodes");
    assert_eq!(reread, state);
    let mut session = Session::restore(
        Options::new("fuzz:1883", MqttString::from_static("fuzz")),
        reread,
    );
    let _ = session.connect(Instant::ZERO);
    while session.poll_action().is_some() {}
    let _ = session.publish(
        Instant::ZERO,
        mqtt_proto::Publish::new(mqtt_proto::TopicName::from_static("t"), "x")
            .with_qos(mqtt_proto::QoS::AtLeastOnce, None),
    );
});
