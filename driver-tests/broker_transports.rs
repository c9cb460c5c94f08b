//! Transports against a real mosquitto (started per test by `testkit`): TLS with the test
//! CA, refused with another CA or a name the certificate does not hold, client
//! certificates; WebSocket and secure WebSocket. Each carries a message round trip under
//! MQTT 3.1, 3.1.1 and 5.0. (A custom transport is each driver's own: its tests are in
//! the driver's test root, `tests/broker_transports.rs`, with the helpers here.)
//!
//! Every test starts its own broker; without `mosquitto` installed it fails with
//! testkit's message saying how to install it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::driver::{Client, ClientOptions, Completion, Error, Events, TlsOptions};
use mqtt_proto::{ProtocolVersion, QoS};
use mqtt_session::{Connected, DisconnectReason, Event};
use testkit::{Mosquitto, MosquittoBuilder, TestCa};

/// How long any single step may take before the test fails.
const WAIT: Duration = Duration::from_secs(5);

pub(crate) const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

// ----- helpers (each test file is its own crate, so they are repeated per file; the
// driver's own custom-transport tests in its test root use them too) -----

pub(crate) fn start(builder: MosquittoBuilder) -> Mosquitto {
    builder.start().unwrap_or_else(|e| panic!("{e}"))
}

/// A client identifier unique in this run, at most 23 characters (the MQTT 3.1 limit).
pub(crate) fn unique(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let id = format!("{tag}-{n}-{}", std::process::id() % 100_000);
    assert!(id.len() <= 23, "client id {id:?} is too long for MQTT 3.1");
    id
}

pub(crate) fn options(url: &str, client_id: &str, version: ProtocolVersion) -> ClientOptions {
    ClientOptions::new(url, client_id)
        .unwrap_or_else(|e| panic!("options for {url}: {e}"))
        .protocol(version)
        .connect_timeout(WAIT)
        // A failed attempt must show at once, not be retried until the timeout.
        .session(|o| o.reconnect.enabled = false)
}

pub(crate) fn test_ca(broker: &Mosquitto) -> TlsOptions {
    TlsOptions::new()
        .with_ca_pem(broker.ca_pem().as_bytes())
        .expect("the broker's CA PEM")
}

pub(crate) fn connect(options: ClientOptions) -> (Client, Events, Connected) {
    let what = format!("{options:?}");
    let (client, events) =
        Client::connect(options).unwrap_or_else(|e| panic!("connect failed: {e}\n{what}"));
    match events.recv_timeout(WAIT) {
        Ok(Event::Connected(c)) => (client, events, *c),
        other => panic!("the first event is not Connected: {other:?}"),
    }
}

/// The error of a connection attempt that must fail.
pub(crate) fn connect_error(options: ClientOptions, what: &str) -> Error {
    let started = Instant::now();
    match Client::connect(options) {
        Ok(_) => panic!("{what}: the connection was accepted"),
        Err(e) => {
            assert!(
                started.elapsed() < WAIT,
                "{what}: failing took {:?}",
                started.elapsed()
            );
            e
        }
    }
}

/// The transport failure's description, from `Error::Disconnected(TransportError)`.
pub(crate) fn transport_error(error: Error, what: &str) -> String {
    match error {
        Error::Disconnected(DisconnectReason::TransportError(text)) => text,
        other => panic!("{what}: expected a transport error, got {other:?}"),
    }
}

fn next_message(events: &Events, what: &str) -> mqtt_proto::Publish {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(Event::Message(m)) => return m.publish,
            Ok(Event::Disconnected { reason, .. }) => {
                panic!("disconnected while waiting for {what}: {reason:?}")
            }
            Ok(_) => {}
            Err(e) => panic!("no message ({what}) within {WAIT:?}: {e}"),
        }
    }
}

/// Subscribes, publishes at QoS 0, 1 and 2 to itself and receives all three: the
/// connection carries MQTT both ways.
pub(crate) fn round_trip(client: &Client, events: &Events, what: &str) {
    let topic = format!("rt/{}", unique("t"));
    let granted = client
        .subscribe(&topic, QoS::ExactlyOnce)
        .and_then(|p| p.wait_timeout(WAIT))
        .unwrap_or_else(|e| panic!("{what}: subscribe: {e}"));
    assert_eq!(
        granted,
        Completion::Subscribed(vec![mqtt_proto::ReasonCode::GrantedQoS2]),
        "{what}"
    );
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let payload = format!("{what} at {qos}");
        let done = client
            .publish(&topic, qos, false, payload.clone())
            .and_then(|p| p.wait_timeout(WAIT))
            .unwrap_or_else(|e| panic!("{what}: publish {qos}: {e}"));
        assert!(
            match &done {
                Completion::Sent => qos == QoS::AtMostOnce,
                Completion::Published(code) => qos != QoS::AtMostOnce && !code.is_error(),
                _ => false,
            },
            "{what}: {done:?}"
        );
        let m = next_message(events, &payload);
        assert_eq!(
            (m.topic.as_str(), &m.payload[..], m.qos),
            (topic.as_str(), payload.as_bytes(), qos),
            "{what}"
        );
    }
}

/// Connects with `options` under every version, round trip, disconnects.
fn round_trip_every_version(url: &str, tls: Option<&TlsOptions>, what: &str) {
    for version in VERSIONS {
        let what = format!("{what} ({version})");
        let mut o = options(url, &unique("rt"), version);
        if let Some(tls) = tls {
            o = o.tls(tls.clone());
        }
        let (client, events, _) = connect(o);
        round_trip(&client, &events, &what);
        client
            .disconnect()
            .unwrap_or_else(|e| panic!("{what}: disconnect: {e}"));
    }
}

// ----- TLS -----

#[test]
fn tls_with_the_test_ca() {
    let broker = start(Mosquitto::builder().tls());
    let url = broker.tls_url().expect("TLS listener");
    assert!(url.starts_with("mqtts://localhost:"), "{url}");
    round_trip_every_version(&url, Some(&test_ca(&broker)), "TLS");
    // The certificate names 127.0.0.1 too (an IP address SAN).
    let by_ip = format!("mqtts://127.0.0.1:{}", broker.tls_port().unwrap());
    round_trip_every_version(&by_ip, Some(&test_ca(&broker)), "TLS by IP address");
}

#[test]
fn tls_refuses_a_broker_signed_by_another_ca() {
    let broker = start(Mosquitto::builder().tls());
    let other = TestCa::new("some other CA");
    let tls = TlsOptions::new()
        .with_ca_pem(other.ca_pem().as_bytes())
        .expect("the other CA's PEM");
    for version in VERSIONS {
        let o = options(&broker.tls_url().unwrap(), &unique("badca"), version).tls(tls.clone());
        let text = transport_error(connect_error(o, "another CA"), "another CA");
        assert!(
            text.contains("UnknownIssuer") || text.contains("unknown issuer"),
            "{version}: {text}"
        );
    }
    // Nor does the platform's / the public roots' default trust the test CA.
    let o = options(
        &broker.tls_url().unwrap(),
        &unique("public"),
        ProtocolVersion::V5,
    );
    let text = transport_error(connect_error(o, "public roots"), "public roots");
    assert!(
        text.contains("UnknownIssuer") || text.contains("unknown issuer"),
        "{text}"
    );
    // No MQTT ever reached the broker.
    let log = broker.log();
    assert!(!log.contains("New client connected"), "{log}");
}

#[test]
fn tls_refuses_a_certificate_for_another_name() {
    let broker = start(Mosquitto::builder().tls());
    let port = broker.tls_port().unwrap();
    // The certificate is for localhost and 127.0.0.1 only: asking for another name (SNI
    // and verification) while dialing 127.0.0.1 must fail.
    for name in ["broker.example.com", "127.0.0.2"] {
        let tls = test_ca(&broker).with_server_name(name);
        let o = options(
            &format!("mqtts://127.0.0.1:{port}"),
            &unique("name"),
            ProtocolVersion::V3_1_1,
        )
        .tls(tls);
        let text = transport_error(connect_error(o, name), name);
        assert!(
            text.contains("NotValidForName") || text.contains("not valid for name"),
            "{name}: {text}"
        );
    }
    // And `with_server_name` with a name the certificate holds works.
    let tls = test_ca(&broker).with_server_name("localhost");
    round_trip_every_version(
        &format!("mqtts://127.0.0.1:{port}"),
        Some(&tls),
        "TLS with server name localhost",
    );
}

#[test]
fn tls_client_certificate_authentication() {
    let broker = start(Mosquitto::builder().require_client_certificate());
    let url = broker.tls_url().expect("TLS listener");
    let (cert, key) = broker.client_identity("device-1");
    let tls = test_ca(&broker)
        .with_client_identity_pem(cert.as_bytes(), key.as_bytes())
        .expect("client identity");
    round_trip_every_version(&url, Some(&tls), "TLS with a client certificate");

    // Without a certificate the broker ends the handshake (TLS 1.3: after the client
    // thinks it is done, so the failure may come as an alert or as a closed stream).
    for version in VERSIONS {
        let o = options(&url, &unique("nocert"), version).tls(test_ca(&broker));
        match connect_error(o, "no client certificate") {
            Error::Disconnected(DisconnectReason::TransportClosed) => {}
            Error::Disconnected(DisconnectReason::TransportError(text)) => assert!(
                text.to_lowercase().contains("certificate") || text.contains("alert"),
                "{version}: {text}"
            ),
            other => panic!("{version}: no client certificate: {other:?}"),
        }
    }

    // A certificate from a CA the broker does not trust is refused too.
    let other = TestCa::new("untrusted client CA");
    let (cert, key) = other.client_identity("intruder");
    let tls = test_ca(&broker)
        .with_client_identity_pem(cert.as_bytes(), key.as_bytes())
        .expect("client identity");
    let o = options(&url, &unique("badcert"), ProtocolVersion::V5).tls(tls);
    match connect_error(o, "untrusted client certificate") {
        Error::Disconnected(
            DisconnectReason::TransportClosed | DisconnectReason::TransportError(_),
        ) => {}
        other => panic!("untrusted client certificate: {other:?}"),
    }
    let log = broker.log();
    assert!(
        !log.contains("as nocert") && !log.contains("as badcert"),
        "a client without a valid certificate got in:\n{log}"
    );
}

#[test]
fn tls_options_refuse_bad_pem() {
    assert!(matches!(
        TlsOptions::new().with_ca_pem(b"not a certificate"),
        Err(Error::Tls(_))
    ));
    assert!(matches!(
        TlsOptions::new().with_client_identity_pem(b"", b""),
        Err(Error::Tls(_))
    ));
}

// ----- WebSocket -----

#[test]
fn websocket() {
    let broker = start(Mosquitto::builder().websockets());
    let url = broker.ws_url().expect("WebSocket listener");
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    round_trip_every_version(&url, None, "WebSocket");
    // A WebSocket client and a TCP client see each other's messages.
    let topic = format!("ws/{}", unique("x"));
    let (ws, ws_events, _) = connect(options(&url, &unique("ws"), ProtocolVersion::V5));
    ws.subscribe(&topic, QoS::AtLeastOnce)
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("subscribe over WebSocket");
    let (tcp, _e, _) = connect(options(
        &broker.url(),
        &unique("tcp"),
        ProtocolVersion::V3_1_1,
    ));
    tcp.publish(&topic, QoS::AtLeastOnce, false, "from tcp")
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("publish over TCP");
    assert_eq!(
        &next_message(&ws_events, "TCP to WebSocket").payload[..],
        b"from tcp"
    );
    // A large message from a WebSocket client: one 300 kB frame, many TCP segments.
    // (Not the other way: mosquitto 2.0.11 stalls sending a large message to a WebSocket
    // client that reads promptly; a raw WebSocket client sees the same.)
    let (tcp_sub, tcp_events, _) = connect(options(
        &broker.url(),
        &unique("tcpsub"),
        ProtocolVersion::V5,
    ));
    tcp_sub
        .subscribe(&topic, QoS::AtLeastOnce)
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("subscribe over TCP");
    ws.unsubscribe(&topic)
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("unsubscribe over WebSocket");
    let big = vec![b'w'; 300_000];
    ws.publish(&topic, QoS::AtLeastOnce, false, big.clone())
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("publish 300 kB over WebSocket");
    assert_eq!(
        next_message(&tcp_events, "300 kB from WebSocket").payload,
        big
    );
    // A modest one the other way still spans several TCP segments.
    ws.subscribe(&topic, QoS::AtLeastOnce)
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("subscribe over WebSocket");
    let medium = vec![b'm'; 12_000];
    tcp.publish(&topic, QoS::AtLeastOnce, false, medium.clone())
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("publish 12 kB over TCP");
    assert_eq!(
        next_message(&ws_events, "12 kB to WebSocket").payload,
        medium
    );
}

#[test]
fn websocket_to_a_path_or_port_without_mqtt_fails() {
    let broker = start(Mosquitto::builder().websockets());
    // The plain MQTT port does not speak HTTP: the handshake fails, clearly.
    let o = options(
        &format!("ws://127.0.0.1:{}/mqtt", broker.port()),
        &unique("wsbad"),
        ProtocolVersion::V5,
    );
    match connect_error(o, "WebSocket to the MQTT port") {
        Error::Disconnected(
            DisconnectReason::TransportError(_) | DisconnectReason::TransportClosed,
        ) => {}
        other => panic!("WebSocket to the MQTT port: {other:?}"),
    }
}

#[test]
fn secure_websocket() {
    let broker = start(Mosquitto::builder().secure_websockets());
    let url = broker.wss_url().expect("secure WebSocket listener");
    assert!(url.starts_with("wss://localhost:"), "{url}");
    round_trip_every_version(&url, Some(&test_ca(&broker)), "secure WebSocket");
    // Another CA: refused.
    let other = TestCa::new("some other CA");
    let tls = TlsOptions::new()
        .with_ca_pem(other.ca_pem().as_bytes())
        .unwrap();
    let o = options(&url, &unique("wssbad"), ProtocolVersion::V5).tls(tls);
    let text = transport_error(connect_error(o, "wss, another CA"), "wss, another CA");
    assert!(
        text.contains("UnknownIssuer") || text.contains("unknown issuer"),
        "{text}"
    );
}

#[test]
fn every_transport_to_one_broker() {
    let broker = start(Mosquitto::builder().tls().websockets().secure_websockets());
    let tls = test_ca(&broker);
    let urls = [
        broker.url(),
        broker.tls_url().unwrap(),
        broker.ws_url().unwrap(),
        broker.wss_url().unwrap(),
    ];
    let topic = format!("all/{}", unique("a"));
    let clients: Vec<(Client, Events)> = urls
        .iter()
        .map(|url| {
            let (c, e, _) =
                connect(options(url, &unique("all"), ProtocolVersion::V5).tls(tls.clone()));
            c.subscribe(&topic, QoS::AtLeastOnce)
                .and_then(|p| p.wait_timeout(WAIT))
                .unwrap_or_else(|e| panic!("subscribe over {url}: {e}"));
            (c, e)
        })
        .collect();
    for (i, (client, _)) in clients.iter().enumerate() {
        client
            .publish(&topic, QoS::AtLeastOnce, false, urls[i].clone())
            .and_then(|p| p.wait_timeout(WAIT))
            .unwrap_or_else(|e| panic!("publish over {}: {e}", urls[i]));
    }
    for (i, (_, events)) in clients.iter().enumerate() {
        let mut got: Vec<String> = (0..urls.len())
            .map(|_| String::from_utf8_lossy(&next_message(events, &urls[i]).payload).into_owned())
            .collect();
        got.sort();
        let mut want = urls.to_vec();
        want.sort();
        assert_eq!(got, want, "received over {}", urls[i]);
    }
}

/// Waits until the broker's log has a line with `needle`.
fn wait_for_log(broker: &Mosquitto, needle: &str) {
    let deadline = Instant::now() + WAIT;
    while !broker.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the broker did not log {needle:?} within {WAIT:?}:\n{}",
            broker.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn all_transports() -> (Mosquitto, Vec<String>, TlsOptions) {
    let broker = start(Mosquitto::builder().tls().websockets().secure_websockets());
    let urls = vec![
        broker.url(),
        broker.tls_url().unwrap(),
        broker.ws_url().unwrap(),
        broker.wss_url().unwrap(),
    ];
    let tls = test_ca(&broker);
    (broker, urls, tls)
}

/// `disconnect()` gets its DISCONNECT through TLS and WebSocket before the stream closes
/// (the broker logs a disconnect, not a closed connection, and drops the will);
/// `close()` sends none (the broker publishes the will).
#[test]
fn disconnect_and_close_over_every_transport() {
    let (broker, urls, tls) = all_transports();
    let status = format!("status/{}", unique("t"));
    let (watcher, watched, _) = connect(options(
        &broker.url(),
        &unique("watch"),
        ProtocolVersion::V5,
    ));
    watcher
        .subscribe(&status, QoS::AtLeastOnce)
        .and_then(|p| p.wait_timeout(WAIT))
        .expect("subscribe");
    for url in &urls {
        for version in VERSIONS {
            let will = mqtt_proto::Will::new(
                mqtt_proto::TopicName::try_from(status.as_str()).unwrap(),
                format!("{url} {version}"),
            );
            // Normal: DISCONNECT arrives, no will.
            let id = unique("norm");
            let (client, _e, _) = connect(
                options(url, &id, version)
                    .tls(tls.clone())
                    .will(will.clone()),
            );
            client.disconnect().expect("disconnect");
            wait_for_log(&broker, &format!("Client {id} disconnected"));
            // Abnormal: the will.
            let id = unique("abn");
            let (client, _e, _) = connect(options(url, &id, version).tls(tls.clone()).will(will));
            client.close().expect("close");
            let m = next_message(&watched, &format!("the will over {url} ({version})"));
            assert_eq!(
                String::from_utf8_lossy(&m.payload),
                format!("{url} {version}"),
                "only the closed client's will"
            );
            wait_for_log(&broker, &format!("Client {id} closed its connection"));
        }
    }
}

/// The broker going away is noticed at once on every transport (TLS close_notify,
/// WebSocket close, or TCP FIN), not only at the next keep alive.
#[test]
fn broker_shutdown_is_noticed_on_every_transport() {
    let (mut broker, urls, tls) = all_transports();
    let clients: Vec<(Client, Events)> = urls
        .iter()
        .map(|url| {
            let (c, e, _) = connect(
                options(url, &unique("down"), ProtocolVersion::V3_1_1)
                    .tls(tls.clone())
                    .keep_alive(60),
            );
            (c, e)
        })
        .collect();
    broker.stop().expect("stop the broker");
    for ((_client, events), url) in clients.iter().zip(&urls) {
        let deadline = Instant::now() + WAIT;
        loop {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::Disconnected { reason, .. }) => {
                    assert!(
                        matches!(
                            reason,
                            DisconnectReason::TransportClosed
                                | DisconnectReason::TransportError(_)
                                | DisconnectReason::ServerDisconnect { .. }
                        ),
                        "{url}: {reason:?}"
                    );
                    break;
                }
                Ok(_) => {}
                Err(e) => panic!("{url}: the broker's shutdown went unnoticed: {e}"),
            }
        }
    }
}

/// Automatic reconnects work over TLS and WebSocket too (a new TLS session, a new
/// WebSocket handshake).
#[test]
fn reconnect_over_every_transport() {
    let (mut broker, urls, tls) = all_transports();
    let clients: Vec<(Client, Events)> = urls
        .iter()
        .map(|url| {
            let (c, e, _) = connect(
                options(url, &unique("again"), ProtocolVersion::V5)
                    .tls(tls.clone())
                    .session(|o| {
                        o.reconnect.enabled = true;
                        o.reconnect.min_delay = Duration::from_millis(50);
                        o.reconnect.max_delay = Duration::from_millis(200);
                    }),
            );
            (c, e)
        })
        .collect();
    broker.restart().expect("restart the broker");
    for ((client, events), url) in clients.iter().zip(&urls) {
        let deadline = Instant::now() + WAIT;
        let mut dropped = false;
        loop {
            match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(Event::Disconnected { .. }) => dropped = true,
                Ok(Event::Connected(_)) if dropped => break,
                Ok(_) => {}
                Err(e) => panic!("{url}: no reconnect (dropped: {dropped}): {e}"),
            }
        }
        round_trip(client, events, &format!("after reconnecting over {url}"));
    }
}
