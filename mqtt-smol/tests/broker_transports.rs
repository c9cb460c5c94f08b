//! Transports against a real mosquitto: mqtt-smol (the body is shared with mqtt-std:
//! driver-tests/), and mqtt-smol's own custom transports through
//! `ClientOptions::async_connector` (any `AsyncRead + AsyncWrite`), each with a message
//! round trip under MQTT 3.1, 3.1.1 and 5.0. The test names are mqtt-std's for its
//! blocking connector (`custom_connector_with_from_tcp` opens a plain
//! `async_net::TcpStream`, the async counterpart of `Connection::from_tcp`).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use async_net::TcpStream;
use futures_lite::io::{AsyncRead, AsyncWrite};
use mqtt_proto::ProtocolVersion;
use mqtt_smol::{AsyncConnection, BrokerUrl, ConnectFuture};
use suite::{
    VERSIONS, connect, connect_error, options, round_trip, start, test_ca, transport_error, unique,
};
use testkit::Mosquitto;

#[path = "blocking/mod.rs"]
mod blocking;

mod driver {
    pub use crate::blocking::{Client, Events};
    pub use mqtt_smol::*;
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
        let o = options("mqtt://broker.invalid:1", &unique("custom"), version).async_connector(
            move |url: &BrokerUrl| -> ConnectFuture {
                record.lock().unwrap().push(url.clone());
                Box::pin(async move {
                    let stream = TcpStream::connect(addr).await?;
                    Ok(Box::new(stream) as AsyncConnection)
                })
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

/// A stream that counts the bytes written through it.
struct Counting {
    inner: TcpStream,
    written: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.written.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[test]
fn custom_connector_with_a_hand_made_connection() {
    let broker = start(Mosquitto::builder());
    let addr = broker.addr();
    let written = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&written);
    let o = options(&broker.url(), &unique("hand"), ProtocolVersion::V5).async_connector(
        move |_: &BrokerUrl| -> ConnectFuture {
            let written = Arc::clone(&count);
            Box::pin(async move {
                let inner = TcpStream::connect(addr).await?;
                inner.set_nodelay(true)?;
                Ok(Box::new(Counting { inner, written }) as AsyncConnection)
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
        .async_connector(move |_: &BrokerUrl| -> ConnectFuture {
            Box::pin(async move {
                let stream = TcpStream::connect(("127.0.0.1", port)).await?;
                Ok(Box::new(stream) as AsyncConnection)
            })
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
    let o = options("mqtt://nowhere:1", &unique("fail"), ProtocolVersion::V5).async_connector(
        |_: &BrokerUrl| -> ConnectFuture {
            Box::pin(async {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "the serial line is unplugged",
                ))
            })
        },
    );
    let text = transport_error(connect_error(o, "failing connector"), "failing connector");
    assert!(text.contains("the serial line is unplugged"), "{text}");
}
