//! The protocol layers a broker URL's scheme puts between the byte stream and MQTT:
//! nothing (`mqtt://`), TLS (`mqtts://`), WebSocket (`ws://`), or both (`wss://`). All
//! of them are sans-I/O: bytes in, bytes out.

use std::io;

use bytes::BytesMut;

use crate::error::Error;
use crate::tls::{TlsLayer, TlsOptions};
use crate::url::BrokerUrl;
use crate::websocket::WsLayer;

/// The layers of one connection.
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
        if !url.scheme.is_tls() && !url.scheme.is_websocket() {
            return Ok(Stack::Plain);
        }
        Stack::layered(url, tls, ws_headers, down)
    }

    /// TLS and / or WebSocket: out of line, so that a plain connection's thread never
    /// touches the stack their set-up takes.
    #[inline(never)]
    fn layered(
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

    /// Whether MQTT bytes pass through unchanged (so received bytes need no second
    /// buffer and sent payloads need no copy).
    pub(crate) fn is_plain(&self) -> bool {
        matches!(self, Stack::Plain)
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
