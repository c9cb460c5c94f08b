//! An async MQTT 3.1 / 3.1.1 / 5.0 client on smol / async-io / futures-lite: TCP, TLS
//! (rustls), WebSocket (tungstenite), and any `AsyncRead + AsyncWrite` the application
//! opens. It runs under any executor: smol's, `futures_lite::future::block_on`, or
//! inside a tokio runtime (async-io drives its own reactor).
//!
//! The protocol lives in [`mqtt_session`], everything else that is not waiting in
//! [`mqtt_engine`] (shared with the blocking client `mqtt-std`, with the same option,
//! event, completion and error types); this crate only waits. One [`Driver`] future per
//! client owns the connection — no thread per connection. [`Client`] is a cloneable
//! handle whose `publish` / `subscribe` / `unsubscribe` hand back a [`Pending`] to
//! `.await`; [`Events`] is a `Stream`. Everything an application needs is re-exported
//! here, so one `use` line serves.
//!
//! ```no_run
//! use futures_lite::StreamExt;
//! use mqtt_smol::{Client, ClientOptions, Event, QoS};
//!
//! smol::block_on(async {
//!     let options = ClientOptions::new("mqtt://127.0.0.1:1883", "demo")?.keep_alive(30);
//!     let (client, mut events) = Client::connect(options).await?;
//!     client.subscribe("sensors/+/temperature", QoS::AtLeastOnce).await?.await?;
//!     client
//!         .publish("sensors/kitchen/temperature", QoS::AtLeastOnce, false, "21.5")
//!         .await?
//!         .await?;
//!     while let Some(event) = events.next().await {
//!         if let Event::Message(m) = event {
//!             println!("{}: {:?}", m.publish.topic, m.publish.payload);
//!             break;
//!         }
//!     }
//!     client.disconnect().await?;
//!     Ok::<(), mqtt_smol::Error>(())
//! })?;
//! # Ok::<(), mqtt_smol::Error>(())
//! ```
//!
//! # Persistence
//!
//! QoS 1/2 messages in flight, queued messages and incoming QoS 2 state survive a crash
//! of the process with a store; the next start resumes the session and re-sends:
//!
//! ```no_run
//! use mqtt_smol::{ClientOptions, Durability, FileStore};
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
mod driver;
mod tcp;

pub use client::{Client, Events};
pub use driver::Driver;
pub use mqtt_engine::prelude::*;
pub use mqtt_engine::{AsyncConnection, AsyncConnector, AsyncStream, ConnectFuture};

pub use mqtt_engine;
pub use mqtt_proto;
pub use mqtt_session;
