//! The fault-injecting proxy, in front of an echo server (to count bytes exactly) and in
//! front of Mosquitto.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{WAIT, connect_packet, start};
use mqtt_proto::{Encode, Packet, ProtocolVersion, ReasonCode};
use testkit::{Direction, FaultProxy, Mosquitto, RawClient};

/// An upstream server that echoes every connection and records what it received.
struct Echo {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<u8>>>,
    _thread: JoinHandle<()>,
}

impl Echo {
    fn start() -> Echo {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let thread = std::thread::spawn({
            let received = Arc::clone(&received);
            move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { return };
                    let received = Arc::clone(&received);
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 1024];
                        while let Ok(n @ 1..) = stream.read(&mut buf) {
                            received.lock().unwrap().extend_from_slice(&buf[..n]);
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    });
                }
            }
        });
        Echo {
            addr,
            received,
            _thread: thread,
        }
    }

    fn received(&self) -> Vec<u8> {
        self.received.lock().unwrap().clone()
    }
}

fn connect(proxy: &FaultProxy) -> TcpStream {
    let stream = TcpStream::connect(proxy.addr()).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Reads until end of stream; everything read before it.
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    match stream.read_to_end(&mut all) {
        Ok(_) => all,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => all,
        Err(e) => panic!("expected end of stream, got {e} after {all:?}"),
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn forwards_both_ways_and_counts() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    assert_eq!(proxy.upstream(), echo.addr);
    assert_eq!(proxy.url(), format!("mqtt://{}", proxy.addr()));
    assert_eq!(proxy.connections(), 0);
    for round in 1..=3 {
        let mut stream = connect(&proxy);
        stream.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        stream.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
        assert_eq!(proxy.connections(), round);
        assert_eq!(
            proxy.bytes_forwarded(Direction::ClientToBroker),
            5 * round as u64
        );
        assert_eq!(
            proxy.bytes_forwarded(Direction::BrokerToClient),
            5 * round as u64
        );
        // A half-close passes through: the echo server sees the end and closes too.
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(read_to_eof(&mut stream).is_empty());
    }
    wait_until("the connections are gone", || proxy.open_connections() == 0);
}

#[test]
fn cuts_after_n_bytes_towards_the_client() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    let mut stream = connect(&proxy);
    stream.write_all(b"ab").unwrap();
    let mut back = [0u8; 2];
    stream.read_exact(&mut back).unwrap();
    wait_until("the connection is registered", || {
        proxy.open_connections() == 1
    });

    proxy.cut_after(Direction::BrokerToClient, 4);
    stream.write_all(b"0123456789").unwrap();
    assert_eq!(read_to_eof(&mut stream), b"0123");
    assert_eq!(proxy.bytes_forwarded(Direction::BrokerToClient), 2 + 4);
    wait_until("the connection is closed", || proxy.open_connections() == 0);

    // The next connection is not cut.
    let mut stream = connect(&proxy);
    stream.write_all(b"0123456789").unwrap();
    let mut back = [0u8; 10];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(proxy.connections(), 2);
}

#[test]
fn cuts_after_n_bytes_towards_the_broker() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    // Set before the connection exists: applies to the next one.
    proxy.cut_after(Direction::ClientToBroker, 3);
    let mut stream = connect(&proxy);
    stream.write_all(b"abcdef").unwrap();
    let echoed = read_to_eof(&mut stream);
    assert!(b"abc".starts_with(&echoed), "{echoed:?}");
    wait_until("the server got 3 bytes", || echo.received().len() >= 3);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(echo.received(), b"abc");
    assert_eq!(proxy.bytes_forwarded(Direction::ClientToBroker), 3);
}

#[test]
fn cut_after_zero_drops_the_next_byte() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    proxy.cut_after(Direction::ClientToBroker, 0);
    let mut stream = connect(&proxy);
    stream.write_all(b"x").unwrap();
    assert!(read_to_eof(&mut stream).is_empty());
    assert!(echo.received().is_empty());
}

#[test]
fn cut_now_closes_open_connections_and_new_ones_work() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    let mut first = connect(&proxy);
    let mut second = connect(&proxy);
    wait_until("both connections are open", || {
        proxy.open_connections() == 2
    });
    proxy.cut_now();
    assert!(read_to_eof(&mut first).is_empty());
    assert!(read_to_eof(&mut second).is_empty());
    let mut third = connect(&proxy);
    third.write_all(b"ok").unwrap();
    let mut back = [0u8; 2];
    third.read_exact(&mut back).unwrap();
    assert_eq!(proxy.connections(), 3);
}

#[test]
fn stall_holds_bytes_and_restore_delivers_them() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    let mut stream = connect(&proxy);
    stream.write_all(b"1").unwrap();
    let mut one = [0u8; 1];
    stream.read_exact(&mut one).unwrap();

    proxy.stall();
    assert!(proxy.is_stalled());
    stream.write_all(b"234").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 3];
    let error = stream.read(&mut buf).unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut
    ));
    assert_eq!(
        echo.received(),
        b"1",
        "nothing reaches the server while stalled"
    );
    assert_eq!(proxy.open_connections(), 1, "the sockets stay open");

    // A new connection during the stall connects but hears nothing.
    let mut during = connect(&proxy);
    during.write_all(b"z").unwrap();
    during
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(during.read(&mut buf).is_err());

    proxy.restore();
    assert!(!proxy.is_stalled());
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"234");
    during.set_read_timeout(Some(WAIT)).unwrap();
    during.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"z");
}

#[test]
fn drop_closes_every_connection() {
    let echo = Echo::start();
    let proxy = FaultProxy::start(echo.addr).unwrap();
    let addr = proxy.addr();
    let mut stream = connect(&proxy);
    wait_until("the connection is open", || proxy.open_connections() == 1);
    drop(proxy);
    assert!(read_to_eof(&mut stream).is_empty());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn upstream_down_closes_the_client_connection() {
    let port = testkit::free_port().unwrap();
    let proxy = FaultProxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).unwrap();
    let mut stream = connect(&proxy);
    assert!(read_to_eof(&mut stream).is_empty());
    assert_eq!(proxy.connections(), 1);
}

#[test]
fn mqtt_through_the_proxy_to_mosquitto() {
    let broker = start(Mosquitto::builder());
    let proxy = FaultProxy::start(broker.addr()).unwrap();
    let connect = connect_packet(ProtocolVersion::V3_1_1, "via-proxy");
    let connect_len = connect.encoded_len(ProtocolVersion::V3_1_1).unwrap() as u64;
    let (mut client, connack) = RawClient::connect(proxy.addr(), connect, WAIT).unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(
        proxy.bytes_forwarded(Direction::ClientToBroker),
        connect_len
    );
    assert_eq!(proxy.bytes_forwarded(Direction::BrokerToClient), 4);

    // A dead link: the PINGREQ goes nowhere, the socket stays open...
    proxy.stall();
    client.send(Packet::PingReq).unwrap();
    client.expect_nothing(Duration::from_millis(500)).unwrap();
    // ...and when it comes back, the PINGRESP arrives.
    proxy.restore();
    assert_eq!(client.expect_packet(WAIT).unwrap(), Packet::PingResp);

    // Cut after the next PINGREQ reached the broker: its PINGRESP never arrives.
    proxy.cut_after(Direction::ClientToBroker, 2);
    client.send(Packet::PingReq).unwrap();
    assert!(client.expect_closed(WAIT));

    // Reconnecting works.
    let connect = connect_packet(ProtocolVersion::V3_1_1, "via-proxy");
    let (_client, connack) = RawClient::connect(proxy.addr(), connect, WAIT).unwrap();
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(proxy.connections(), 2);
}
