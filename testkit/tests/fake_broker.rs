//! The scripted fake broker, driven by the raw client (no broker needed).

mod common;

use std::io::ErrorKind;
use std::time::Duration;

use bytes::Bytes;
use common::{WAIT, connect_packet};
use mqtt_proto::{
    ConnAck, DecodeError, Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS, ReasonCode,
    SubAck, Subscribe, Subscription, TopicFilter, TopicName,
};
use testkit::{ExpectError, FakeBroker, RawClient};

fn client_of(broker: &FakeBroker) -> std::thread::JoinHandle<RawClient> {
    let (addr, version) = (broker.addr(), broker.version());
    std::thread::spawn(move || RawClient::open(addr, version, WAIT).unwrap())
}

#[test]
fn round_trip_v311() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    assert_eq!(broker.url(), format!("mqtt://{}", broker.addr()));
    assert!(broker.addr().ip().is_loopback());

    let client = std::thread::spawn({
        let addr = broker.addr();
        move || {
            let connect = connect_packet(ProtocolVersion::V3_1_1, "fake-311");
            let (mut client, connack) = RawClient::connect(addr, connect, WAIT).unwrap();
            assert_eq!(connack.reason_code, ReasonCode::Success);
            assert!(connack.session_present);
            let filter = TopicFilter::from_static("a/+");
            let subscribe = Subscribe::new(
                PacketId::new(1).unwrap(),
                vec![Subscription::new(filter, QoS::AtLeastOnce)],
            );
            client.send(subscribe).unwrap();
            let Packet::SubAck(suback) = client.expect_packet(WAIT).unwrap() else {
                panic!("expected SUBACK");
            };
            assert_eq!(suback.reason_codes, vec![ReasonCode::GrantedQoS1]);
            let Packet::Publish(publish) = client.expect_packet(WAIT).unwrap() else {
                panic!("expected PUBLISH");
            };
            assert_eq!(&publish.payload[..], b"to client");
            client
                .send(PubAck::new(publish.packet_id.unwrap()))
                .unwrap();
            client
        }
    });

    let mut conn = broker.accept(WAIT).unwrap();
    assert!(conn.peer_addr().unwrap().ip().is_loopback());
    let connect = conn.expect_connect(WAIT).unwrap();
    assert_eq!(connect.client_id.as_str(), "fake-311");
    assert_eq!(connect.protocol_version, ProtocolVersion::V3_1_1);
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.session_present = true;
    conn.send(connack).unwrap();

    let Packet::Subscribe(subscribe) = conn.expect_packet(WAIT).unwrap() else {
        panic!("expected SUBSCRIBE");
    };
    assert_eq!(subscribe.subscriptions[0].filter.as_str(), "a/+");
    conn.send(SubAck {
        packet_id: subscribe.packet_id,
        reason_codes: vec![ReasonCode::GrantedQoS1],
        properties: Default::default(),
    })
    .unwrap();
    let id = PacketId::new(5).unwrap();
    let publish = Publish::new(
        TopicName::from_static("a/b"),
        Bytes::from_static(b"to client"),
    )
    .with_qos(QoS::AtLeastOnce, Some(id));
    conn.send(publish).unwrap();
    assert_eq!(
        conn.expect_packet(WAIT).unwrap(),
        Packet::PubAck(PubAck::new(id))
    );

    let client = client.join().unwrap();
    conn.expect_nothing(Duration::from_millis(100)).unwrap();
    client.close();
    assert!(conn.expect_closed(WAIT));
}

#[test]
fn round_trip_v5_with_properties() {
    let broker = FakeBroker::start(ProtocolVersion::V5).unwrap();
    let client = std::thread::spawn({
        let addr = broker.addr();
        move || {
            let connect = connect_packet(ProtocolVersion::V5, "fake-5");
            RawClient::connect(addr, connect, WAIT).unwrap()
        }
    });
    let mut conn = broker.accept(WAIT).unwrap();
    assert_eq!(conn.version(), ProtocolVersion::V5);
    let connect = conn.expect_connect(WAIT).unwrap();
    assert_eq!(connect.protocol_version, ProtocolVersion::V5);
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.server_keep_alive = Some(7);
    conn.send(connack).unwrap();
    let (mut client, connack) = client.join().unwrap();
    assert_eq!(connack.properties.server_keep_alive, Some(7));

    conn.send(mqtt_proto::Disconnect::new(ReasonCode::ServerShuttingDown))
        .unwrap();
    let Packet::Disconnect(disconnect) = client.expect_packet(WAIT).unwrap() else {
        panic!("expected DISCONNECT");
    };
    assert_eq!(disconnect.reason_code, ReasonCode::ServerShuttingDown);
    conn.close();
    assert!(client.expect_closed(WAIT));
}

#[test]
fn send_raw_delivers_malformed_bytes() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let client = client_of(&broker);
    let mut conn = broker.accept(WAIT).unwrap();
    let mut client = client.join().unwrap();
    // A CONNACK with remaining length 3 instead of 2: trailing bytes.
    conn.send_raw(b"\x20\x03\x00\x00\x00").unwrap();
    match client.expect_packet(WAIT) {
        Err(ExpectError::Decode(DecodeError::TrailingBytes { .. })) => {}
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn packets_are_decoded_as_a_server_does() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let client = client_of(&broker);
    let mut conn = broker.accept(WAIT).unwrap();
    let mut client = client.join().unwrap();
    // A client must not send CONNACK.
    client.send_raw(b"\x20\x02\x00\x00").unwrap();
    match conn.expect_packet(WAIT) {
        Err(ExpectError::Decode(DecodeError::WrongSender { .. })) => {}
        other => panic!("expected a wrong-sender error, got {other:?}"),
    }
}

#[test]
fn partial_packets_wait_for_the_rest() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let client = client_of(&broker);
    let mut conn = broker.accept(WAIT).unwrap();
    let mut client = client.join().unwrap();
    client.send_raw(b"\xc0").unwrap();
    assert!(matches!(
        conn.expect_packet(Duration::from_millis(100)),
        Err(ExpectError::Timeout)
    ));
    client.send_raw(b"\x00").unwrap();
    assert_eq!(conn.expect_packet(WAIT).unwrap(), Packet::PingReq);
}

#[test]
fn expectations_fail_clearly() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let client = client_of(&broker);
    let mut conn = broker.accept(WAIT).unwrap();
    let mut client = client.join().unwrap();

    client.send(Packet::PingReq).unwrap();
    match conn.expect_connect(WAIT) {
        Err(ExpectError::Unexpected(packet)) => assert_eq!(*packet, Packet::PingReq),
        other => panic!("expected Unexpected, got {other:?}"),
    }
    client.send(Packet::PingReq).unwrap();
    assert!(matches!(
        conn.expect_nothing(WAIT),
        Err(ExpectError::Unexpected(_))
    ));
    // The client stays connected: not closed.
    assert!(!conn.expect_closed(Duration::from_millis(100)));
    // A packet 3.1.1 cannot carry is refused before anything is sent.
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.server_keep_alive = Some(1);
    assert_eq!(
        conn.send(connack).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    client.close();
    assert!(matches!(conn.expect_packet(WAIT), Err(ExpectError::Closed)));
}

#[test]
fn accept_times_out_and_serves_sequential_connections() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let error = broker.accept(Duration::from_millis(50)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TimedOut);
    for _ in 0..3 {
        let client = client_of(&broker);
        let conn = broker.accept(WAIT).unwrap();
        let mut client = client.join().unwrap();
        conn.close();
        assert!(client.expect_closed(WAIT));
    }
}

#[test]
fn set_version_switches_the_codec() {
    let broker = FakeBroker::start(ProtocolVersion::V3_1_1).unwrap();
    let client = std::thread::spawn({
        let addr = broker.addr();
        move || RawClient::connect(addr, connect_packet(ProtocolVersion::V5, "v5"), WAIT).unwrap()
    });
    let mut conn = broker.accept(WAIT).unwrap();
    let connect = conn.expect_connect(WAIT).unwrap();
    conn.set_version(connect.protocol_version);
    assert_eq!(conn.version(), ProtocolVersion::V5);
    let mut connack = ConnAck::new(ReasonCode::Success);
    connack.properties.topic_alias_maximum = Some(3);
    conn.send(connack).unwrap();
    let (client, connack) = client.join().unwrap();
    assert_eq!(client.version(), ProtocolVersion::V5);
    assert_eq!(connack.properties.topic_alias_maximum, Some(3));
}
