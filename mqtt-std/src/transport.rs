//! Byte streams: TCP, or any stream the application connects itself, and the layers
//! (TLS, WebSocket) a URL's scheme stacks on top.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::BytesMut;

use crate::error::Error;
use crate::tls::{TlsLayer, TlsOptions};
use crate::url::BrokerUrl;
use crate::websocket::WsLayer;

/// An open byte stream to a broker, in two halves: the reading half is read on its own
/// thread, the writing half written by the client's I/O thread.
pub struct Connection {
    /// The reading half.
    pub reader: Box<dyn Read + Send>,
    /// The writing half.
    pub writer: Box<dyn Write + Send>,
    /// Closes the stream so that a blocked read returns (for TCP: `shutdown`).
    pub closer: Option<Box<dyn FnOnce() + Send>>,
}

impl Connection {
    /// Splits a TCP stream (with `TCP_NODELAY`, and a write timeout so a dead link cannot
    /// block the client forever).
    pub fn from_tcp(stream: TcpStream) -> io::Result<Connection> {
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        let reader = stream.try_clone()?;
        let closer = stream.try_clone()?;
        Ok(Connection {
            reader: Box::new(reader),
            writer: Box::new(stream),
            closer: Some(Box::new(move || {
                let _ = closer.shutdown(Shutdown::Both);
            })),
        })
    }
}

/// Opens connections for the client: the default one dials TCP; a custom one lets the
/// application bring its own transport (a Unix socket, a serial link, an in-memory pipe).
///
/// It is called on a separate thread for every connection attempt with the broker URL
/// (TLS and WebSocket are layered on top by the client when the URL's scheme asks).
pub trait Connector: Send + 'static {
    /// Opens a byte stream to `url`.
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection>;
}

impl<F> Connector for F
where
    F: FnMut(&BrokerUrl) -> io::Result<Connection> + Send + 'static,
{
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection> {
        self(url)
    }
}

/// Dials TCP to the URL's host and port, trying each address in turn.
pub(crate) struct TcpConnector {
    pub(crate) timeout: Duration,
}

impl Connector for TcpConnector {
    fn connect(&mut self, url: &BrokerUrl) -> io::Result<Connection> {
        let mut last = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} resolves to no address", url.host),
        );
        for addr in (url.host.as_str(), url.port).to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.timeout) {
                Ok(s) => return Connection::from_tcp(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The protocol layers above the byte stream.
pub(crate) enum Stack {
    Plain,
    Tls(Box<TlsLayer>),
    Ws(WsLayer),
    TlsWs(Box<TlsLayer>, WsLayer),
}

impl Stack {
    /// The layers for `url`; the first bytes to send (TLS ClientHello, WebSocket
    /// request) go to `down`.
    pub(crate) fn start(
        url: &BrokerUrl,
        tls: &TlsOptions,
        ws_headers: &[(String, String)],
        down: &mut Vec<u8>,
    ) -> Result<Stack, Error> {
        let ws_url = || {
            let scheme = if url.scheme.is_tls() { "wss" } else { "ws" };
            let host = if url.host.contains(':') {
                format!("[{}]", url.host)
            } else {
                url.host.clone()
            };
            format!("{scheme}://{host}:{}{}", url.port, url.path)
        };
        let tls_layer = || -> Result<TlsLayer, Error> {
            let config = tls.build()?;
            TlsLayer::new(config, tls.server_name(&url.host)?)
        };
        Ok(match (url.scheme.is_tls(), url.scheme.is_websocket()) {
            (false, false) => Stack::Plain,
            (true, false) => {
                let mut t = tls_layer()?;
                t.flush(down)?;
                Stack::Tls(Box::new(t))
            }
            (false, true) => Stack::Ws(WsLayer::start(&ws_url(), ws_headers, down)?),
            (true, true) => {
                let mut t = tls_layer()?;
                t.flush(down)?;
                let mut request = Vec::new();
                let w = WsLayer::start(&ws_url(), ws_headers, &mut request)?;
                t.send(&request, down)?;
                Stack::TlsWs(Box::new(t), w)
            }
        })
    }

    /// Bytes read from the stream; MQTT bytes to `up`, replies to `down`. `Ok(false)`:
    /// the peer closed the TLS session or the WebSocket.
    pub(crate) fn receive(
        &mut self,
        raw: &[u8],
        up: &mut BytesMut,
        down: &mut Vec<u8>,
    ) -> io::Result<bool> {
        match self {
            Stack::Plain => {
                up.extend_from_slice(raw);
                Ok(true)
            }
            Stack::Tls(t) => t.receive(raw, up, down),
            Stack::Ws(w) => w.receive(raw, up, down),
            Stack::TlsWs(t, w) => {
                let mut plain = BytesMut::new();
                let open = t.receive(raw, &mut plain, down)?;
                let mut ws_down = Vec::new();
                let ws_open = w.receive(&plain, up, &mut ws_down)?;
                if !ws_down.is_empty() {
                    t.send(&ws_down, down)?;
                }
                Ok(open && ws_open)
            }
        }
    }

    /// MQTT bytes out; bytes for the stream to `down`.
    pub(crate) fn send(&mut self, data: &[u8], down: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Stack::Plain => {
                down.extend_from_slice(data);
                Ok(())
            }
            Stack::Tls(t) => t.send(data, down),
            Stack::Ws(w) => w.send(data, down),
            Stack::TlsWs(t, w) => {
                let mut frames = Vec::new();
                w.send(data, &mut frames)?;
                if frames.is_empty() {
                    return Ok(());
                }
                t.send(&frames, down)
            }
        }
    }
}
