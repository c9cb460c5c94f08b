//! MQTT over WebSocket with tungstenite: subprotocol `mqtt`, binary frames, a packet may
//! span frames (MQTT §6). Sans-I/O: tungstenite runs over an in-memory pipe.

use std::io::{self, Read, Write};

use bytes::{Bytes, BytesMut};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

use crate::error::Error;

/// The bytes between tungstenite and the connection below it.
#[derive(Default)]
struct Pipe {
    rx: BytesMut,
    tx: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rx.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.rx.len());
        buf[..n].copy_from_slice(&self.rx.split_to(n));
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    Handshake(Box<MidHandshake<ClientHandshake<Pipe>>>),
    Open(Box<WebSocket<Pipe>>),
    Gone,
}

/// The WebSocket layer of one connection.
pub(crate) struct WsLayer {
    state: State,
    /// MQTT bytes written before the handshake finished.
    pending: Vec<u8>,
}

fn ws_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {e}"))
}

impl WsLayer {
    /// Starts the opening handshake for `url`, offering subprotocol `mqtt`
    /// ([MQTT-6.0.0-3]); the request bytes go to `down`.
    pub(crate) fn start(
        url: &str,
        headers: &[(String, String)],
        down: &mut Vec<u8>,
    ) -> Result<WsLayer, Error> {
        let mut request = url
            .into_client_request()
            .map_err(|e| Error::WebSocket(e.to_string()))?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        for (name, value) in headers {
            let name = tungstenite::http::HeaderName::try_from(name.as_str())
                .map_err(|e| Error::WebSocket(format!("header name {name:?}: {e}")))?;
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|e| Error::WebSocket(format!("header value: {e}")))?;
            request.headers_mut().append(name, value);
        }
        match tungstenite::client::client_with_config(request, Pipe::default(), None) {
            Err(HandshakeError::Interrupted(mut mid)) => {
                down.append(&mut mid.get_mut().get_mut().tx);
                Ok(WsLayer {
                    state: State::Handshake(Box::new(mid)),
                    pending: Vec::new(),
                })
            }
            Err(HandshakeError::Failure(e)) => Err(Error::WebSocket(e.to_string())),
            Ok(_) => Err(Error::WebSocket(
                "handshake finished without a response".into(),
            )),
        }
    }

    /// Bytes from below; MQTT bytes to `up`, bytes to send to `down`. `Ok(false)`: the
    /// server closed the WebSocket.
    pub(crate) fn receive(
        &mut self,
        raw: &[u8],
        up: &mut BytesMut,
        down: &mut Vec<u8>,
    ) -> io::Result<bool> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Handshake(mut mid) => {
                mid.get_mut().get_mut().rx.extend_from_slice(raw);
                match (*mid).handshake() {
                    Ok((mut ws, response)) => {
                        // [MQTT-6.0.0-4]: the server must select "mqtt".
                        let chosen = response.headers().get("Sec-WebSocket-Protocol");
                        if chosen.and_then(|v| v.to_str().ok()) != Some("mqtt") {
                            return Err(ws_error(
                                "the server did not select the \"mqtt\" subprotocol",
                            ));
                        }
                        down.append(&mut ws.get_mut().tx);
                        self.state = State::Open(Box::new(ws));
                        let pending = std::mem::take(&mut self.pending);
                        if !pending.is_empty() {
                            self.send(&pending, down)?;
                        }
                        self.read_frames(up, down)
                    }
                    Err(HandshakeError::Interrupted(mut mid)) => {
                        down.append(&mut mid.get_mut().get_mut().tx);
                        self.state = State::Handshake(Box::new(mid));
                        Ok(true)
                    }
                    Err(HandshakeError::Failure(e)) => Err(ws_error(e)),
                }
            }
            State::Open(mut ws) => {
                ws.get_mut().rx.extend_from_slice(raw);
                self.state = State::Open(ws);
                self.read_frames(up, down)
            }
            State::Gone => Ok(false),
        }
    }

    fn read_frames(&mut self, up: &mut BytesMut, down: &mut Vec<u8>) -> io::Result<bool> {
        let State::Open(ws) = &mut self.state else {
            return Ok(true);
        };
        let mut open = true;
        loop {
            match ws.read() {
                // [MQTT-6.0.0-2]: frame boundaries mean nothing; append to the stream.
                Ok(Message::Binary(b)) => up.extend_from_slice(&b),
                // [MQTT-6.0.0-1]: only binary frames carry MQTT.
                Ok(Message::Text(_)) => {
                    return Err(ws_error(
                        "a text frame arrived; MQTT uses binary frames only",
                    ));
                }
                Ok(Message::Close(_)) => {
                    open = false;
                    break;
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    open = false;
                    break;
                }
                Err(e) => return Err(ws_error(e)),
            }
        }
        // Pongs and close replies tungstenite queued.
        let _ = ws.flush();
        down.append(&mut ws.get_mut().tx);
        Ok(open)
    }

    /// MQTT bytes out, as one binary frame (held until the handshake is done).
    pub(crate) fn send(&mut self, data: &[u8], down: &mut Vec<u8>) -> io::Result<()> {
        match &mut self.state {
            State::Open(ws) => {
                ws.send(Message::Binary(Bytes::copy_from_slice(data)))
                    .map_err(ws_error)?;
                down.append(&mut ws.get_mut().tx);
                Ok(())
            }
            State::Handshake(_) => {
                self.pending.extend_from_slice(data);
                Ok(())
            }
            State::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}
