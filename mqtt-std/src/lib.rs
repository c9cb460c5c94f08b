//! A blocking MQTT 3.1 / 3.1.1 / 5.0 client on std sockets: TCP, TLS (rustls),
//! WebSocket (tungstenite), and any byte stream the application brings.
//!
//! The protocol lives in [`mqtt_session`]; this crate only moves bytes, runs timers on
//! threads, and hands out events. [`Client`] is a cloneable handle; [`Events`] iterates
//! incoming messages, connection changes and completions; each publish, subscribe and
//! unsubscribe returns a [`Pending`] to wait on for the broker's answer.
//!
//! ```no_run
//! use mqtt_proto::QoS;
//! use mqtt_session::Event;
//! use mqtt_std::{Client, ClientOptions};
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
//! See [`Client`] for which thread does what.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod driver;
mod error;
mod options;
mod tls;
mod transport;
mod url;
mod websocket;

pub use client::{Client, Completion, Events, Pending};
pub use error::Error;
pub use options::ClientOptions;
pub use tls::TlsOptions;
pub use transport::{Connection, Connector};
pub use url::{BrokerUrl, Scheme};

pub use mqtt_proto;
pub use mqtt_session;
