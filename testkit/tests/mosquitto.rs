//! The Mosquitto broker fixture: listeners, users, persistence, limits and lifecycle.
//! These tests need `mosquitto` installed and fail (never skip) without it.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use common::{
    WAIT, connect_packet, encode, mqtt_connect, read_server_packet, start, tcp, ws_handshake,
    ws_mqtt_connect,
};
use mqtt_proto::{
    Packet, PacketId, ProtocolVersion, PubAck, Publish, QoS, ReasonCode, Subscribe, Subscription,
    TopicFilter, TopicName,
};
use testkit::{MOSQUITTO_NOT_FOUND, Mosquitto, RawClient, mosquitto_binary};

#[test]
fn mosquitto_is_installed() {
    mosquitto_binary().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        MOSQUITTO_NOT_FOUND,
        "mosquitto not found: install it with `apt-get install mosquitto` (Debian) — the broker tests need it"
    );
}

#[test]
fn raw_v311_connect_on_the_plain_port_gets_a_connack() {
    let broker = start(Mosquitto::builder());
    assert_eq!(broker.host(), "127.0.0.1");
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port()));
    assert_eq!(broker.addr().port(), broker.port());
    assert_eq!(
        (broker.tls_port(), broker.ws_port(), broker.wss_port()),
        (None, None, None)
    );
    assert_eq!(
        (broker.tls_url(), broker.ws_url(), broker.wss_url()),
        (None, None, None)
    );

    let version = ProtocolVersion::V3_1_1;
    let mut stream = tcp(broker.port());
    stream
        .write_all(&encode(connect_packet(version, "raw-311"), version))
        .unwrap();
    let Packet::ConnAck(connack) = read_server_packet(&mut stream, version).unwrap() else {
        panic!("expected CONNACK");
    };
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert!(!connack.session_present);
    let log = broker.log();
    assert!(log.contains("raw-311"), "log: {log}");
}

#[test]
fn v5_connect_gets_a_connack() {
    let broker = start(Mosquitto::builder());
    let connect = connect_packet(ProtocolVersion::V5, "raw-5");
    let (_client, connack) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);
}

#[test]
fn every_listener_kind_starts_and_accepts_tcp() {
    let broker = start(Mosquitto::builder().tls().websockets().secure_websockets());
    let ports = [
        Some(broker.port()),
        broker.tls_port(),
        broker.ws_port(),
        broker.wss_port(),
    ];
    let ports: Vec<u16> = ports.into_iter().map(Option::unwrap).collect();
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "ports {ports:?}");
    for port in &ports {
        TcpStream::connect(("127.0.0.1", *port)).unwrap();
    }
    assert_eq!(
        broker.tls_url().unwrap(),
        format!("mqtts://localhost:{}", ports[1])
    );
    assert_eq!(
        broker.ws_url().unwrap(),
        format!("ws://127.0.0.1:{}/mqtt", ports[2])
    );
    assert_eq!(
        broker.wss_url().unwrap(),
        format!("wss://localhost:{}/mqtt", ports[3])
    );
    assert!(broker.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    let config = broker.config();
    assert_eq!(config.matches("protocol websockets").count(), 2, "{config}");
}

#[test]
fn each_listener_kind_alone_starts() {
    for builder in [
        Mosquitto::builder().tls(),
        Mosquitto::builder().websockets(),
        Mosquitto::builder().secure_websockets(),
        Mosquitto::builder().require_client_certificate(),
    ] {
        let broker = start(builder);
        let extra = [broker.tls_port(), broker.ws_port(), broker.wss_port()];
        assert_eq!(extra.iter().flatten().count(), 1, "{}", broker.config());
        for port in extra.into_iter().flatten().chain([broker.port()]) {
            TcpStream::connect(("127.0.0.1", port)).unwrap();
        }
    }
}

#[test]
fn websocket_listener_carries_mqtt() {
    let broker = start(Mosquitto::builder().websockets());
    let port = broker.ws_port().unwrap();
    let mut stream = tcp(port);
    let head = ws_handshake(&mut stream, &format!("127.0.0.1:{port}"), "/mqtt").unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("sec-websocket-protocol: mqtt"),
        "{head}"
    );
    let connack = ws_mqtt_connect(&mut stream, "over-ws");
    assert_eq!(connack.reason_code, ReasonCode::Success);
}

fn connect_as(broker: &Mosquitto, user: Option<(&'static str, &'static [u8])>) -> ReasonCode {
    let mut connect = connect_packet(ProtocolVersion::V3_1_1, "user-test");
    if let Some((name, password)) = user {
        connect.user_name = Some(mqtt_proto::MqttString::from_static(name));
        connect.password = Some(Bytes::from_static(password));
    }
    let (_client, connack) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    connack.reason_code
}

#[test]
fn password_file_refuses_anonymous_and_wrong_passwords() {
    let broker = start(
        Mosquitto::builder()
            .user("alice", "s3cret")
            .user("bob", "hunter2"),
    );
    assert!(broker.config().contains("allow_anonymous false"));
    assert_eq!(
        connect_as(&broker, Some(("alice", b"s3cret"))),
        ReasonCode::Success
    );
    assert_eq!(
        connect_as(&broker, Some(("bob", b"hunter2"))),
        ReasonCode::Success
    );
    assert!(connect_as(&broker, Some(("alice", b"hunter2"))).is_error());
    assert!(connect_as(&broker, Some(("mallory", b"x"))).is_error());
    assert!(connect_as(&broker, None).is_error());
}

#[test]
fn anonymous_access_can_stay_on_with_users() {
    let broker = start(
        Mosquitto::builder()
            .user("alice", "s3cret")
            .allow_anonymous(true),
    );
    assert_eq!(connect_as(&broker, None), ReasonCode::Success);
    assert_eq!(
        connect_as(&broker, Some(("alice", b"s3cret"))),
        ReasonCode::Success
    );
    assert!(connect_as(&broker, Some(("alice", b"wrong"))).is_error());
}

fn subscribe(client: &mut RawClient, filter: &'static str, qos: QoS) {
    let subscribe = Subscribe::new(
        PacketId::new(1).unwrap(),
        vec![Subscription::new(TopicFilter::from_static(filter), qos)],
    );
    client.send(subscribe).unwrap();
    let packet = client.expect_packet(WAIT).unwrap();
    assert!(matches!(packet, Packet::SubAck(_)), "{packet:?}");
}

fn persistent_session(broker: &Mosquitto, client_id: &'static str) -> (RawClient, bool) {
    let mut connect = connect_packet(ProtocolVersion::V3_1_1, client_id);
    connect.clean_start = false;
    let (client, connack) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);
    (client, connack.session_present)
}

fn publish_qos1(broker: &Mosquitto, topic: &'static str, payload: &'static [u8]) {
    let connect = connect_packet(ProtocolVersion::V3_1_1, "publisher");
    let (mut publisher, _) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    let publish = Publish::new(TopicName::from_static(topic), Bytes::from_static(payload))
        .with_qos(QoS::AtLeastOnce, PacketId::new(9));
    publisher.send(publish).unwrap();
    assert!(matches!(
        publisher.expect_packet(WAIT).unwrap(),
        Packet::PubAck(_)
    ));
}

#[test]
fn persistence_keeps_sessions_and_queued_messages_across_restart() {
    let mut broker = start(Mosquitto::builder().persistence(true));
    let port = broker.port();
    let (mut subscriber, present) = persistent_session(&broker, "durable");
    assert!(!present);
    subscribe(&mut subscriber, "persist/#", QoS::AtLeastOnce);
    subscriber.close();
    publish_qos1(&broker, "persist/a", b"kept");

    broker.restart().unwrap();
    assert_eq!(broker.port(), port);
    assert!(broker.is_running());
    let log = broker.log();
    assert!(log.contains("Saving in-memory database"), "{log}");
    assert_eq!(log.matches("running").count(), 2, "{log}");

    let (mut subscriber, present) = persistent_session(&broker, "durable");
    assert!(present, "the session should survive the restart");
    let Packet::Publish(publish) = subscriber.expect_packet(WAIT).unwrap() else {
        panic!("expected the queued PUBLISH");
    };
    assert_eq!(publish.topic.as_str(), "persist/a");
    assert_eq!(&publish.payload[..], b"kept");
}

#[test]
fn without_persistence_restart_forgets_sessions() {
    let mut broker = start(Mosquitto::builder());
    let (subscriber, present) = persistent_session(&broker, "forgotten");
    assert!(!present);
    subscriber.close();
    broker.restart().unwrap();
    let (_subscriber, present) = persistent_session(&broker, "forgotten");
    assert!(!present);
}

#[test]
fn stop_kill_and_restart() {
    let mut broker = start(Mosquitto::builder());
    let port = broker.port();
    assert!(broker.pid().is_some());
    broker.stop().unwrap();
    assert!(!broker.is_running());
    assert!(broker.pid().is_none());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    broker.stop().unwrap(); // stopping twice is fine
    broker.restart().unwrap();
    assert_eq!(
        mqtt_connect(&mut tcp(port), "after-restart")
            .unwrap()
            .reason_code,
        ReasonCode::Success
    );
    broker.kill().unwrap();
    assert!(!broker.is_running());
    broker.restart().unwrap();
    assert_eq!(
        mqtt_connect(&mut tcp(port), "after-kill")
            .unwrap()
            .reason_code,
        ReasonCode::Success
    );
}

#[test]
fn limits_show_in_the_v5_connack() {
    let broker = start(
        Mosquitto::builder()
            .max_packet_size(2048)
            .max_keepalive(30)
            .max_inflight_messages(3)
            .extra_config("retain_available false"),
    );
    let config = broker.config();
    for line in [
        "max_packet_size 2048",
        "max_keepalive 30",
        "max_inflight_messages 3",
        "retain_available false",
    ] {
        assert!(config.contains(line), "{config}");
    }
    let mut connect = connect_packet(ProtocolVersion::V5, "limits");
    connect.keep_alive = 600;
    let (_client, connack) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);
    let p = &connack.properties;
    assert_eq!(p.maximum_packet_size.map(|n| n.get()), Some(2048));
    assert_eq!(p.server_keep_alive, Some(30));
    assert_eq!(p.retain_available, Some(false));
}

#[test]
fn max_inflight_messages_limits_unacknowledged_deliveries() {
    let broker = start(Mosquitto::builder().max_inflight_messages(2));
    let connect = connect_packet(ProtocolVersion::V3_1_1, "slow-subscriber");
    let (mut subscriber, _) = RawClient::connect(broker.addr(), connect, WAIT).unwrap();
    subscribe(&mut subscriber, "inflight", QoS::AtLeastOnce);
    for _ in 0..4 {
        publish_qos1(&broker, "inflight", b"m");
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        let Packet::Publish(publish) = subscriber.expect_packet(WAIT).unwrap() else {
            panic!("expected PUBLISH");
        };
        ids.push(publish.packet_id.unwrap());
    }
    // Two are in flight: the third waits for an acknowledgement.
    subscriber
        .expect_nothing(Duration::from_millis(500))
        .unwrap();
    subscriber.send(PubAck::new(ids[0])).unwrap();
    assert!(matches!(
        subscriber.expect_packet(WAIT).unwrap(),
        Packet::Publish(_)
    ));
}

#[test]
fn a_bad_configuration_fails_with_the_broker_log() {
    let error = Mosquitto::builder()
        .extra_config("no_such_option 1")
        .start()
        .unwrap_err();
    let message = error.to_string();
    assert!(message.contains("mosquitto exited"), "{message}");
    assert!(message.contains("no_such_option"), "{message}");
    assert!(message.contains("--- mosquitto log ---"), "{message}");
}

#[test]
fn drop_stops_the_broker_and_removes_its_directory() {
    let broker = start(Mosquitto::builder().persistence(true).tls());
    let dir = broker.dir().to_owned();
    let port = broker.port();
    assert!(dir.join("mosquitto.conf").is_file());
    assert!(dir.starts_with(std::env::temp_dir()));
    drop(broker);
    assert!(!dir.exists());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn log_records_everything() {
    let broker = start(Mosquitto::builder());
    let (mut client, _) = RawClient::connect(
        broker.addr(),
        connect_packet(ProtocolVersion::V3_1_1, "logged"),
        WAIT,
    )
    .unwrap();
    client.send(Packet::PingReq).unwrap();
    assert_eq!(client.expect_packet(WAIT).unwrap(), Packet::PingResp);
    let log = broker.log();
    assert!(log.contains("New client connected"), "{log}");
    // `log_type all` includes the debug messages about every packet.
    assert!(log.contains("Received PINGREQ from logged"), "{log}");
}

/// The local addresses of the listening TCP sockets on `port`, as the kernel lists them
/// (hex, as in /proc/net/tcp and /proc/net/tcp6).
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let Some((addr, hex_port)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(addr.to_owned());
            }
        }
    }
    found
}

#[test]
fn every_listener_binds_loopback_only() {
    const LOOPBACK: [&str; 3] = [
        "0100007F",                         // 127.0.0.1
        "0000000000000000FFFF00000100007F", // ::ffff:127.0.0.1
        "00000000000000000000000001000000", // ::1
    ];
    let broker = start(Mosquitto::builder().tls().websockets().secure_websockets());
    let ports = [
        Some(broker.port()),
        broker.tls_port(),
        broker.ws_port(),
        broker.wss_port(),
    ];
    for port in ports.into_iter().flatten() {
        let addresses = listening_addresses(port);
        assert!(!addresses.is_empty(), "no listening socket on port {port}");
        for address in addresses {
            assert!(
                LOOPBACK.contains(&address.as_str()),
                "port {port} listens on {address}\n{}",
                broker.config()
            );
        }
    }
}
