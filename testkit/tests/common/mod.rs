//! Helpers shared by the testkit's own tests.

#![allow(dead_code)] // Each test file uses a different part.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{ConnAck, Connect, Decoder, Encode, MqttString, Packet, ProtocolVersion, Role};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use testkit::{Mosquitto, MosquittoBuilder};

/// How long a test waits for anything that should happen.
pub const WAIT: Duration = Duration::from_secs(5);

/// Starts the broker, failing the test with the full error (which says how to install
/// mosquitto if it is missing) — never skipping.
pub fn start(builder: MosquittoBuilder) -> Mosquitto {
    builder.start().unwrap_or_else(|e| panic!("{e}"))
}

/// A CONNECT with a clean session and the given client identifier.
pub fn connect_packet(version: ProtocolVersion, client_id: &'static str) -> Connect {
    Connect::new(version, MqttString::from_static(client_id))
}

/// Encodes `packet` with `version`.
pub fn encode(packet: impl Into<Packet>, version: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    packet.into().encode(version, &mut buf).unwrap();
    buf.to_vec()
}

/// Reads from `stream` until one whole packet sent by a server is decoded.
pub fn read_server_packet(stream: &mut impl Read, version: ProtocolVersion) -> io::Result<Packet> {
    let mut decoder = Decoder::new(version).with_sender(Role::Server);
    let mut received = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(packet) = decoder
            .decode(&mut received)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            return Ok(packet);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&chunk[..n]);
    }
}

/// Sends a 3.1.1 CONNECT over `stream` and returns the CONNACK.
pub fn mqtt_connect(
    stream: &mut (impl Read + Write),
    client_id: &'static str,
) -> io::Result<ConnAck> {
    let version = ProtocolVersion::V3_1_1;
    stream.write_all(&encode(connect_packet(version, client_id), version))?;
    stream.flush()?;
    match read_server_packet(stream, version)? {
        Packet::ConnAck(connack) => Ok(*connack),
        other => Err(io::Error::other(format!("expected CONNACK, got {other:?}"))),
    }
}

/// A TCP connection to 127.0.0.1:`port` with read and write timeouts.
pub fn tcp(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.set_write_timeout(Some(WAIT)).unwrap();
    stream
}

/// A rustls client configuration (ring) trusting `ca_pem`, with an optional client
/// identity (certificate PEM, key PEM).
pub fn tls_config(ca_pem: &str, identity: Option<(String, String)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A TLS connection to 127.0.0.1:`port`, checking the certificate against
/// `server_name`, with the handshake done (or its error).
pub fn tls_connect(
    port: u16,
    server_name: &str,
    config: Arc<ClientConfig>,
) -> Result<StreamOwned<ClientConnection, TcpStream>, rustls::Error> {
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let conn = ClientConnection::new(config, name)?;
    let mut stream = StreamOwned::new(conn, tcp(port));
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            return Err(match e.into_inner() {
                Some(inner) => match inner.downcast::<rustls::Error>() {
                    Ok(tls) => *tls,
                    Err(other) => rustls::Error::General(other.to_string()),
                },
                None => rustls::Error::General("I/O error during the handshake".into()),
            });
        }
    }
    Ok(stream)
}

/// Performs the client side of a WebSocket opening handshake for `path` with the `mqtt`
/// subprotocol; returns the server's response head.
pub fn ws_handshake(
    stream: &mut (impl Read + Write),
    host: &str,
    path: &str,
) -> io::Result<String> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    stream.flush()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Sends `payload` as one masked binary WebSocket frame.
pub fn ws_send(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x82];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame)?;
    stream.flush()
}

/// Reads one unmasked binary WebSocket frame and returns its payload.
pub fn ws_receive(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    assert_eq!(head[0] & 0x0F, 0x2, "expected a binary frame, got {head:?}");
    let len = match head[1] & 0x7F {
        126 => {
            let mut ext = [0u8; 2];
            stream.read_exact(&mut ext)?;
            usize::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            stream.read_exact(&mut ext)?;
            usize::try_from(u64::from_be_bytes(ext)).unwrap()
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    Ok(payload)
}

/// CONNECT over a WebSocket connection (handshake done) and the CONNACK's bytes decoded.
pub fn ws_mqtt_connect(stream: &mut (impl Read + Write), client_id: &'static str) -> ConnAck {
    let version = ProtocolVersion::V3_1_1;
    ws_send(stream, &encode(connect_packet(version, client_id), version)).unwrap();
    let payload = ws_receive(stream).unwrap();
    match Packet::decode(payload.into(), version).unwrap() {
        Packet::ConnAck(connack) => *connack,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}
