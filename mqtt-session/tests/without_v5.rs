//! A build without the `v5` feature (`cargo test -p mqtt-session --no-default-features
//! --test without_v5`; with the feature on this file is empty): 3.1.1 works, and a
//! session configured for 5.0 refuses to connect, saying how to enable it.
#![cfg(not(feature = "v5"))]

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Connect, Encode, EncodeError, MqttString, Packet, ProtocolVersion, ReasonCode,
};
use mqtt_session::{Action, Event, Instant, Options, Session, UsageError};

fn options(version: ProtocolVersion) -> Options {
    let mut o = Options::new("broker:1883", MqttString::try_from("small").unwrap());
    o.protocol_version = version;
    o
}

#[test]
fn five_is_not_spoken_and_says_how_to_enable_it() {
    assert!(!ProtocolVersion::V5.is_v5());
    assert!(!ProtocolVersion::V5.is_enabled());
    assert_eq!(
        ProtocolVersion::from_level(5),
        None,
        "a level-5 CONNECT is refused"
    );
    let connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("c"));
    let refused = connect.encoded_len(ProtocolVersion::V5);
    assert_eq!(
        refused,
        Err(EncodeError::VersionNotEnabled {
            version: ProtocolVersion::V5
        })
    );
    let mut session = Session::new(options(ProtocolVersion::V5));
    match session.connect(Instant::ZERO) {
        Err(e @ UsageError::InvalidPacket(EncodeError::VersionNotEnabled { .. })) => {
            assert!(e.to_string().contains("`v5` feature"), "{e}");
        }
        other => panic!("a 5.0 session connected without the v5 feature: {other:?}"),
    }
}

#[test]
fn three_one_one_connects() {
    let now = Instant::ZERO;
    let mut session = Session::new(options(ProtocolVersion::V3_1_1));
    session.connect(now).unwrap();
    assert!(matches!(session.poll_action(), Some(Action::Open { .. })));
    session.handle_connected(now);
    let mut written = BytesMut::new();
    while let Some(chunk) = session.poll_transmit() {
        written.extend_from_slice(&chunk);
    }
    assert_eq!(written[0], 0x10, "CONNECT written");
    let mut answer = BytesMut::new();
    Packet::from(ConnAck::new(ReasonCode::Success))
        .encode(ProtocolVersion::V3_1_1, &mut answer)
        .unwrap();
    session.handle_read(now, &mut answer);
    assert!(matches!(session.poll_event(), Some(Event::Connected(_))));
    assert!(session.is_connected());
}
