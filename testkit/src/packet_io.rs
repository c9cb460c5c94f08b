//! Blocking packet exchange over a TCP stream, shared by the fake broker and the raw
//! client.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{DecodeError, Decoder, Encode, Packet, ProtocolVersion, Role};

/// Why an expected packet did not come.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExpectError {
    /// Nothing (or not a whole packet) arrived in time.
    Timeout,
    /// The peer closed the connection (end of stream or connection reset).
    Closed,
    /// The bytes that arrived are not a valid packet; the stream is out of step now.
    Decode(DecodeError),
    /// Reading failed.
    Io(io::Error),
    /// A valid packet arrived, but not the one expected (or, for `expect_nothing`, any
    /// packet at all).
    Unexpected(Box<Packet>),
}

impl fmt::Display for ExpectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectError::Timeout => f.write_str("timed out waiting for a packet"),
            ExpectError::Closed => f.write_str("the peer closed the connection"),
            ExpectError::Decode(e) => write!(f, "received an invalid packet: {e}"),
            ExpectError::Io(e) => write!(f, "reading a packet failed: {e}"),
            ExpectError::Unexpected(p) => write!(f, "received an unexpected packet: {p:?}"),
        }
    }
}

impl std::error::Error for ExpectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExpectError::Decode(e) => Some(e),
            ExpectError::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One end of an MQTT connection: encodes what it sends, decodes what the peer sends.
#[derive(Debug)]
pub(crate) struct PacketIo {
    stream: TcpStream,
    decoder: Decoder,
    received: BytesMut,
    version: ProtocolVersion,
}

impl PacketIo {
    /// `peer` is the role of the other end, whose packets are checked against it.
    pub(crate) fn new(stream: TcpStream, version: ProtocolVersion, peer: Role) -> PacketIo {
        let _ = stream.set_nodelay(true);
        PacketIo {
            stream,
            decoder: Decoder::new(version).with_sender(peer),
            received: BytesMut::with_capacity(4096),
            version,
        }
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub(crate) fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub(crate) fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.decoder.set_version(version);
    }

    pub(crate) fn send(&mut self, packet: Packet) -> io::Result<()> {
        let mut buf = BytesMut::new();
        packet
            .encode(self.version, &mut buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.stream.write_all(&buf)?;
        self.stream.flush()
    }

    pub(crate) fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads once, waiting at most until `deadline`. `Ok(0)`: end of stream.
    fn read_some(&mut self, deadline: Instant) -> Result<usize, ExpectError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(ExpectError::Timeout);
        }
        self.stream
            .set_read_timeout(Some(remaining))
            .map_err(ExpectError::Io)?;
        let mut chunk = [0u8; 8192];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.received.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => return Err(ExpectError::Timeout),
                Err(e) if is_closed(&e) => return Err(ExpectError::Closed),
                Err(e) => return Err(ExpectError::Io(e)),
            }
        }
    }

    pub(crate) fn expect_packet(&mut self, timeout: Duration) -> Result<Packet, ExpectError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(packet) = self
                .decoder
                .decode(&mut self.received)
                .map_err(ExpectError::Decode)?
            {
                return Ok(packet);
            }
            if self.read_some(deadline)? == 0 {
                return Err(ExpectError::Closed);
            }
        }
    }

    pub(crate) fn expect_nothing(&mut self, duration: Duration) -> Result<(), ExpectError> {
        match self.expect_packet(duration) {
            Ok(packet) => Err(ExpectError::Unexpected(Box::new(packet))),
            Err(ExpectError::Timeout) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn expect_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            self.received.clear();
            match self.read_some(deadline) {
                Ok(0) | Err(ExpectError::Closed) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    pub(crate) fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
