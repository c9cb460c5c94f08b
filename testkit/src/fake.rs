//! A scriptable fake broker and a raw test client, both speaking packets from
//! `mqtt-proto`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use mqtt_proto::{ConnAck, Connect, Packet, ProtocolVersion, Role};

use crate::packet_io::{ExpectError, PacketIo};

/// A fake broker on a free 127.0.0.1 port: the test accepts each client connection
/// itself and scripts, packet by packet, what the "broker" says, including bytes no real
/// broker would send.
///
/// ```
/// use std::time::Duration;
/// use mqtt_proto::{ConnAck, Packet, ProtocolVersion, ReasonCode};
/// use testkit::FakeBroker;
///
/// let broker = FakeBroker::start(ProtocolVersion::V3_1_1)?;
/// // ... point the client under test at broker.url(), then:
/// # let client = std::thread::spawn({ let addr = broker.addr(); move || {
/// #     let connect = mqtt_proto::Connect::new(ProtocolVersion::V3_1_1,
/// #         mqtt_proto::MqttString::from_static("c"));
/// #     testkit::RawClient::connect(addr, connect, Duration::from_secs(5)) } });
/// let mut conn = broker.accept(Duration::from_secs(5))?;
/// let connect = conn.expect_connect(Duration::from_secs(5))?;
/// assert_eq!(connect.client_id.as_str(), "c");
/// conn.send(ConnAck::new(ReasonCode::Success))?;
/// conn.send_raw(b"\xf0\x00")?; // packet type 15 (AUTH) is not allowed in 3.1.1
/// # let (mut client, _) = client.join().unwrap()?;
/// # assert!(client.expect_packet(Duration::from_secs(5)).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FakeBroker {
    listener: TcpListener,
    addr: SocketAddr,
    version: ProtocolVersion,
}

impl FakeBroker {
    /// Listens on a free port of 127.0.0.1; connections speak `version` (the decoder
    /// reads every CONNECT whatever its version, and
    /// [`FakeConnection::set_version`] switches a connection).
    pub fn start(version: ProtocolVersion) -> io::Result<FakeBroker> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(FakeBroker {
            listener,
            addr,
            version,
        })
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The protocol version new connections speak.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The next client connection, waiting at most `timeout` (an error of kind
    /// `TimedOut` if none came).
    pub fn accept(&self, timeout: Duration) -> io::Result<FakeConnection> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false)?;
                    return Ok(FakeConnection {
                        io: PacketIo::new(stream, self.version, Role::Client),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no client connected to the fake broker within {timeout:?}"),
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// One client connection accepted by a [`FakeBroker`]. Dropping it closes the socket.
#[derive(Debug)]
pub struct FakeConnection {
    io: PacketIo,
}

impl FakeConnection {
    /// The next packet the client sent, decoded as a server decodes it (packets only a
    /// server may send are errors), waiting at most `timeout`.
    pub fn expect_packet(&mut self, timeout: Duration) -> Result<Packet, ExpectError> {
        self.io.expect_packet(timeout)
    }

    /// The next packet, which must be a CONNECT ([`ExpectError::Unexpected`] otherwise).
    pub fn expect_connect(&mut self, timeout: Duration) -> Result<Connect, ExpectError> {
        match self.expect_packet(timeout)? {
            Packet::Connect(connect) => Ok(*connect),
            other => Err(ExpectError::Unexpected(Box::new(other))),
        }
    }

    /// Succeeds if no packet arrives for `duration`; a packet that does is
    /// [`ExpectError::Unexpected`], and a closed connection [`ExpectError::Closed`].
    pub fn expect_nothing(&mut self, duration: Duration) -> Result<(), ExpectError> {
        self.io.expect_nothing(duration)
    }

    /// Encodes `packet` in the connection's protocol version and sends it.
    ///
    /// A packet the version cannot express is an error of kind `InvalidInput`.
    pub fn send(&mut self, packet: impl Into<Packet>) -> io::Result<()> {
        self.io.send(packet.into())
    }

    /// Sends `bytes` as they are: malformed packets, partial packets, garbage.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.send_raw(bytes)
    }

    /// Whether the client closes the connection within `timeout`: reads, discarding
    /// anything that arrives, until end of stream or a reset (`true`) or the timeout
    /// (`false`).
    pub fn expect_closed(&mut self, timeout: Duration) -> bool {
        self.io.expect_closed(timeout)
    }

    /// Closes the connection (both directions), as a broker that drops a client.
    pub fn close(self) {
        self.io.close();
    }

    /// The protocol version this connection encodes and decodes.
    pub fn version(&self) -> ProtocolVersion {
        self.io.version()
    }

    /// Switches the protocol version, as a broker does once it has read CONNECT.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.io.set_version(version);
    }

    /// The client's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.stream().peer_addr()
    }

    /// The underlying socket, for socket options or anything not covered here.
    pub fn stream(&self) -> &TcpStream {
        self.io.stream()
    }
}

/// A bare-bones blocking MQTT client that sends exactly the packets it is given: a test
/// uses it to publish or subscribe at a real broker independently of the client library
/// under test.
///
/// ```no_run
/// use std::time::Duration;
/// use mqtt_proto::{Connect, MqttString, Packet, ProtocolVersion, Publish, TopicName};
/// use testkit::{Mosquitto, RawClient};
///
/// let broker = Mosquitto::start()?;
/// let connect = Connect::new(ProtocolVersion::V5, MqttString::from_static("raw"));
/// let (mut client, connack) = RawClient::connect(broker.addr(), connect, Duration::from_secs(5))?;
/// assert!(!connack.reason_code.is_error());
/// client.send(Publish::new(TopicName::from_static("t"), "hello"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RawClient {
    io: PacketIo,
}

impl RawClient {
    /// Connects over TCP, sends `connect` and waits for the CONNACK (any reason code).
    /// The client speaks `connect.protocol_version` from then on.
    pub fn connect(
        addr: impl ToSocketAddrs,
        connect: Connect,
        timeout: Duration,
    ) -> Result<(RawClient, ConnAck), ExpectError> {
        let mut client = RawClient::open(addr, connect.protocol_version, timeout)?;
        client.send(connect).map_err(ExpectError::Io)?;
        match client.expect_packet(timeout)? {
            Packet::ConnAck(connack) => Ok((client, *connack)),
            other => Err(ExpectError::Unexpected(Box::new(other))),
        }
    }

    /// Connects over TCP and sends nothing yet.
    pub fn open(
        addr: impl ToSocketAddrs,
        version: ProtocolVersion,
        timeout: Duration,
    ) -> Result<RawClient, ExpectError> {
        let mut last_error =
            io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
        for addr in addr.to_socket_addrs().map_err(ExpectError::Io)? {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => {
                    return Ok(RawClient {
                        io: PacketIo::new(stream, version, Role::Server),
                    });
                }
                Err(e) => last_error = e,
            }
        }
        Err(ExpectError::Io(last_error))
    }

    /// The next packet from the server (packets only a client may send are errors),
    /// waiting at most `timeout`.
    pub fn expect_packet(&mut self, timeout: Duration) -> Result<Packet, ExpectError> {
        self.io.expect_packet(timeout)
    }

    /// Succeeds if no packet arrives for `duration` (see
    /// [`FakeConnection::expect_nothing`]).
    pub fn expect_nothing(&mut self, duration: Duration) -> Result<(), ExpectError> {
        self.io.expect_nothing(duration)
    }

    /// Encodes `packet` in the client's protocol version and sends it.
    pub fn send(&mut self, packet: impl Into<Packet>) -> io::Result<()> {
        self.io.send(packet.into())
    }

    /// Sends `bytes` as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.send_raw(bytes)
    }

    /// Whether the server closes the connection within `timeout` (see
    /// [`FakeConnection::expect_closed`]).
    pub fn expect_closed(&mut self, timeout: Duration) -> bool {
        self.io.expect_closed(timeout)
    }

    /// Closes the socket without a DISCONNECT (both directions).
    pub fn close(self) {
        self.io.close();
    }

    /// The protocol version this client encodes and decodes.
    pub fn version(&self) -> ProtocolVersion {
        self.io.version()
    }

    /// The underlying socket.
    pub fn stream(&self) -> &TcpStream {
        self.io.stream()
    }
}
