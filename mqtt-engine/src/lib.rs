//! The engine shared by the MQTT clients `mqtt-std` (blocking) and `mqtt-smol` (async):
//! everything a client does that is not waiting, written once, free of I/O and clocks.
//!
//! A driver is then only: open a byte stream when told ([`Output::Open`]), wait for the
//! socket to be readable, a command, or the next deadline, hand the engine what arrived,
//! and write what it gives back in one vectored write. The engine holds:
//!
//! * the protocol [`Session`](mqtt_session::Session),
//! * the layers above the byte stream: TLS (rustls) and WebSocket (tungstenite), both
//!   sans-I/O ([`TlsOptions`], `ws://` / `wss://` URLs),
//! * the broker URL and every client option ([`ClientOptions`], [`BrokerUrl`]),
//! * the hand-off of each operation's outcome to its waiter ([`Reply`] -> [`Pending`], one
//!   [`Slot`] per operation, readable by a thread or a future), once: an outcome goes to
//!   its waiter, or, when the handle was dropped before it, on the event stream as the
//!   session's completion event (failures always, successes with
//!   [`ClientOptions::completion_events`]), never both,
//! * the event hand-out, bounded for back-pressure ([`EventQueue`]); once the application
//!   drops its event iterator or stream, events are discarded and never hold up reading,
//! * the command queue from the client handles ([`Mailbox`], [`Command`]),
//! * batched output: everything pending after a round of inputs leaves as one vectored
//!   write; on plain TCP large payloads are the application's own `Bytes`, uncopied.
//!
//! # Why a crate of its own
//!
//! Both drivers need all of this and none of it waits. As a module of one driver the
//! other would depend on that driver's runtime; as its own crate it depends only on the
//! session, rustls, tungstenite and `futures-io`'s two traits, and a third driver (tokio,
//! embassy-net on a host, a test harness) can use it too. The drivers re-export what an
//! application needs, so applications do not name this crate.
//!
//! # Driving it
//!
//! ```no_run
//! use std::io::{IoSlice, Read, Write};
//! use std::net::TcpStream;
//! use mqtt_engine::{ClientOptions, Clock, Engine, Output, MAX_SLICES};
//!
//! let (mut engine, _driver, events) =
//!     Engine::new(ClientOptions::new("mqtt://127.0.0.1:1883", "demo")?)?;
//! let clock = Clock::new();
//! let mut stream: Option<TcpStream> = None;
//! engine.start(clock.now())?;
//! while !engine.is_closed() {
//!     while let Some(output) = engine.poll_output() {
//!         match output {
//!             Output::Open(url) => match TcpStream::connect((url.host.as_str(), url.port)) {
//!                 Ok(s) => { stream = Some(s); engine.handle_opened(clock.now()) }
//!                 Err(e) => engine.handle_closed(clock.now(), Some(e.to_string())),
//!             },
//!             Output::Close => { stream = None; engine.handle_closed(clock.now(), None) }
//!             _ => {}
//!         }
//!     }
//!     if let Some(s) = &mut stream {
//!         let written = {
//!             let mut slices = [IoSlice::new(&[]); MAX_SLICES];
//!             let n = engine.transmit(&mut slices);
//!             if n > 0 { s.write_vectored(&slices[..n])? } else { 0 }
//!         };
//!         engine.advance(written);
//!         // A real driver waits for readable | command | engine.poll_timeout() here.
//!         if engine.wants_read() {
//!             let n = s.read(engine.read_buffer())?;
//!             engine.handle_read(clock.now(), n);
//!         }
//!     }
//!     if let Some(e) = events.try_next() {
//!         println!("{e:?}");
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admission;
mod client_key;
mod command;
mod completion;
mod engine;
mod error;
mod events;
mod options;
mod outgoing;
pub mod prelude;
pub mod request;
mod stack;
pub mod store;
mod tls;
mod transport;
mod url;
pub mod wait;
mod websocket;

pub use admission::Admission;
pub use command::{Command, Mailbox};
pub use completion::{Completion, Pending, Reply, Slot, poll_first};
pub use engine::{Clock, Engine, FirstConnection, MAX_READ, MAX_UNSENT, Output};
pub use error::{Error, acknowledgement_failed};
pub use events::EventQueue;
pub use options::{ClientOptions, DEFAULT_EVENT_BUFFER, DriverOptions};
pub use outgoing::MAX_SLICES;
pub use tls::TlsOptions;
pub use transport::{
    AsyncConnection, AsyncConnector, AsyncStream, ConnectFuture, Connection, Connector,
    CustomConnector,
};
pub use url::{BrokerUrl, Scheme};

pub use mqtt_proto;
pub use mqtt_session;
