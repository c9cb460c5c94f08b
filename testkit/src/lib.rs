//! Test helpers for the MQTT crates of this workspace (dev-only, not published).
//!
//! Everything is blocking and thread-based, with no async runtime, and listens on
//! 127.0.0.1 only; whatever is written to disk goes into a fresh temporary directory
//! that is removed on drop.
//!
//! * [`Mosquitto`]: a real broker (the Debian package's `mosquitto`, 2.0) per test, on
//!   free ports, with optional TLS (with or without client certificates), WebSocket and
//!   secure WebSocket listeners, users, persistence and limits; it can be stopped and
//!   restarted on the same ports, and prints its log when a test panics.
//! * [`TestCa`]: a throw-away certificate authority that issues server and client
//!   certificates.
//! * [`FaultProxy`]: a TCP proxy between a client and a broker that cuts a connection
//!   after so many bytes, cuts it now, or stalls it like a dead link.
//! * [`FakeBroker`]: a scripted broker that speaks `mqtt-proto` packets, or any bytes, to
//!   test how a client reacts to bad input; [`RawClient`] is its client-side twin.
//!
//! * [`Amqtt`]: a real broker without MQTT 5.0 (amqtt, from PyPI), for version fallback.
//!
//! The broker tests need `mosquitto` installed: without it [`Mosquitto`] fails with
//! [`MOSQUITTO_NOT_FOUND`], which says how to install it.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use mqtt_proto::{Connect, MqttString, ProtocolVersion, ReasonCode};
//! use testkit::{Direction, FaultProxy, Mosquitto, RawClient};
//!
//! let broker = Mosquitto::builder().tls().start()?;
//! let proxy = FaultProxy::start(broker.addr())?;
//!
//! // A client connects through the proxy...
//! let connect = Connect::new(ProtocolVersion::V3_1_1, MqttString::from_static("test"));
//! let (mut client, connack) = RawClient::connect(proxy.addr(), connect, Duration::from_secs(5))?;
//! assert_eq!(connack.reason_code, ReasonCode::Success);
//!
//! // ...and loses its connection after 2 more bytes towards the broker.
//! proxy.cut_after(Direction::ClientToBroker, 2);
//! client.send(mqtt_proto::Packet::PingReq)?;
//! assert!(client.expect_closed(Duration::from_secs(5)));
//!
//! // The broker restarts on the same ports; its log helps when something fails.
//! let mut broker = broker;
//! broker.restart()?;
//! println!("{}", broker.log());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod amqtt;
mod ca;
mod fake;
mod mosquitto;
mod packet_io;
mod proxy;
mod util;

pub use amqtt::{AMQTT_NOT_FOUND, Amqtt, amqtt_binary};
pub use ca::TestCa;
pub use fake::{FakeBroker, FakeConnection, RawClient};
pub use mosquitto::{MOSQUITTO_NOT_FOUND, Mosquitto, MosquittoBuilder, mosquitto_binary};
pub use packet_io::ExpectError;
pub use proxy::{Direction, FaultProxy};
pub use util::{TempDir, free_port, free_ports};
