//! Transports against a real mosquitto: mqtt-std (the body is shared with mqtt-smol:
//! driver-tests/), and mqtt-std's own custom transports through
//! `ClientOptions::connector` (blocking `Connection`s), each with a message round trip
//! under MQTT 3.1, 3.1.1 and 5.0.

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mqtt_proto::ProtocolVersion;
use mqtt_std::{BrokerUrl, Connection};
use suite::{
    VERSIONS, connect, connect_error, options, round_trip, start, test_ca, transport_error, unique,
};
use testkit::Mosquitto;

mod driver {
    pub use mqtt_std::*;
}

#[path = "../../driver-tests/broker_transports.rs"]
mod suite;

// ----- custom transports -----

#[test]
fn custom_connector_with_from_tcp() {
    let broker = start(Mosquitto::builder());
    let addr = broker.addr();
    for version in VERSIONS {
        let seen: Arc<Mutex<Vec<BrokerUrl>>> = Arc::default();
        let record = Arc::clone(&seen);
        // The URL names a host that does not exist: only the connector knows the way.
        let o = options("mqtt://broker.invalid:1", &unique("custom"), version).connector(
            move |url: &BrokerUrl| {
                record.lock().unwrap().push(url.clone());
                Connection::from_tcp(TcpStream::connect(addr)?)
            },
        );
        let (client, events, _) = connect(o);
        round_trip(&client, &events, &format!("custom connector ({version})"));
        client.disconnect().expect("disconnect");
        let seen = seen.lock().unwrap();
        assert_eq!(
            seen.len(),
            1,
            "{version}: one connection, one call: {seen:?}"
        );
        assert_eq!(
            (seen[0].host.as_str(), seen[0].port),
            ("broker.invalid", 1),
            "{version}"
        );
    }
}

/// A writer that counts the bytes written through it.
struct Counting {
    inner: TcpStream,
    written: Arc<AtomicUsize>,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[test]
fn custom_connector_with_a_hand_made_connection() {
    let broker = start(Mosquitto::builder());
    let addr = broker.addr();
    let written = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&written);
    let o = options(&broker.url(), &unique("hand"), ProtocolVersion::V5).connector(
        move |_: &BrokerUrl| {
            let stream = TcpStream::connect(addr)?;
            let reader = stream.try_clone()?;
            let closer = stream.try_clone()?;
            Ok(Connection {
                reader: Box::new(reader),
                writer: Box::new(Counting {
                    inner: stream,
                    written: Arc::clone(&count),
                }),
                closer: Some(Box::new(move || {
                    let _ = closer.shutdown(std::net::Shutdown::Both);
                })),
            })
        },
    );
    let (client, events, _) = connect(o);
    let before = written.load(Ordering::Relaxed);
    assert!(before > 0, "CONNECT went through the custom writer");
    round_trip(&client, &events, "hand-made connection");
    assert!(written.load(Ordering::Relaxed) > before);
    client.disconnect().expect("disconnect");
}

#[test]
fn custom_connector_under_tls_and_websocket() {
    let broker = start(Mosquitto::builder().tls().secure_websockets());
    let tls = test_ca(&broker);
    // The client layers TLS (and WebSocket) on the stream the connector brings.
    for (port, scheme) in [
        (broker.tls_port().unwrap(), "mqtts"),
        (broker.wss_port().unwrap(), "wss"),
    ] {
        let o = options(
            &format!("{scheme}://localhost:1/mqtt"),
            &unique("layered"),
            ProtocolVersion::V3_1_1,
        )
        .tls(tls.clone())
        .connector(move |_: &BrokerUrl| {
            Connection::from_tcp(TcpStream::connect(("127.0.0.1", port))?)
        });
        let (client, events, _) = connect(o);
        round_trip(
            &client,
            &events,
            &format!("custom connector under {scheme}"),
        );
        client.disconnect().expect("disconnect");
    }
}

#[test]
fn custom_connector_failure_is_reported() {
    let o = options("mqtt://nowhere:1", &unique("fail"), ProtocolVersion::V5).connector(
        |_: &BrokerUrl| -> io::Result<Connection> {
            Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the serial line is unplugged",
            ))
        },
    );
    let text = transport_error(connect_error(o, "failing connector"), "failing connector");
    assert!(text.contains("the serial line is unplugged"), "{text}");
}
