//! A blocking MQTT 3.1 / 3.1.1 / 5.0 client on std sockets: TCP, TLS (rustls),
//! WebSocket (tungstenite), and any byte stream the application brings.
//!
//! The protocol lives in [`mqtt_session`], everything else that is not waiting in
//! [`mqtt_engine`] (shared with the async client `mqtt-smol`); this crate only moves
//! bytes and runs timers on threads. [`Client`] is a cloneable handle; [`Events`]
//! iterates incoming messages and connection changes; each publish, subscribe and
//! unsubscribe returns a [`Pending`] to wait on for the broker's answer. Everything an
//! application needs is re-exported here, so one `use` line serves.
//!
//! ```no_run
//! use mqtt_std::{Client, ClientOptions, Event, QoS};
//!
//! let options = ClientOptions::new("mqtt://127.0.0.1:1883", "demo")?.keep_alive(30);
//! let (client, events) = Client::connect(options)?;
//! client.subscribe("sensors/+/temperature", QoS::AtLeastOnce)?.wait()?;
//! client.publish("sensors/kitchen/temperature", QoS::AtLeastOnce, false, "21.5")?.wait()?;
//! for event in events {
//!     if let Event::Message(m) = event {
//!         println!("{}: {:?}", m.publish.topic, m.publish.payload);
//!         break;
//!     }
//! }
//! client.disconnect()?;
//! # Ok::<(), mqtt_std::Error>(())
//! ```
//!
//! Each client is **one thread** (on TCP, TLS and WebSocket): it waits on the socket,
//! the command queue and the session's next deadline at once (a `mio` poller), and
//! reads, feeds the protocol and writes itself. `publish`, `subscribe` and `unsubscribe`
//! check the request on the calling thread, queue it and return at once; a burst of
//! publishes leaves in one vectored write. To wait for the first of several operations,
//! or for whichever comes first of a completion and an event (a lost connection, a
//! message), use [`Pending::wait_any`] or [`Events::wait_with`]. See [`Client`] for
//! which thread does what, and what a custom transport costs.
//!
//! # Persistence
//!
//! QoS 1/2 messages in flight, queued messages and incoming QoS 2 state survive a crash
//! of the process with a store; the next start resumes the session and re-sends:
//!
//! ```no_run
//! use mqtt_std::{ClientOptions, Durability, FileStore};
//! let options = ClientOptions::new("mqtt://127.0.0.1", "sensor-1")?
//!     .clean_start(false).session_expiry(3600)
//!     .store(FileStore::open("/var/lib/sensor/mqtt", Durability::EveryCommit)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A completion is reported only once the store has its record as durably as the
//! [`Durability`] says (`EveryCommit`: on the disk, one `fsync` per round of work).
//!
//! An incoming QoS 2 message is recorded as received when it is accepted: at once with
//! auto-ack, so one handed over in the instant before a crash is lost to the
//! application; with [`manual_acks`](ClientOptions::manual_acks), when the application
//! acknowledges it, so one not acknowledged before a crash is handed over again after
//! the restart, and one acknowledged never is.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod custom;
mod driver;
mod tcp;

pub use client::{Client, Events, Next};
pub use mqtt_engine::prelude::*;
pub use mqtt_engine::{Connection, Connector};

pub use mqtt_engine;
pub use mqtt_proto;
pub use mqtt_session;
