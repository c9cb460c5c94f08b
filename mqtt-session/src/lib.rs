//! The MQTT 3.1 / 3.1.1 / 5.0 client protocol as a deterministic, sans-I/O state machine.
//!
//! A [`Session`] is one client's protocol state across any number of network
//! connections. It never touches a socket, a thread, a clock or a random source: a driver
//! feeds it inputs, each with the current [`Instant`], and pulls its outputs. The same
//! inputs always give the same outputs, so every flow can be tested in microseconds with
//! simulated time.
//!
//! # The driving contract
//!
//! Inputs (each takes `now`), and what each may produce:
//!
//! | input | when | may produce |
//! |---|---|---|
//! | [`Session::connect`] | the application wants to connect (once) | `Action::Open` |
//! | [`Session::handle_connected`] | the transport asked for by [`Action::Open`] is up | CONNECT bytes |
//! | [`Session::handle_read`] | bytes arrived (the driver appends them to one `BytesMut`) | bytes (acknowledgements, re-sends, PUBREL...), events; `Action::Close` with a `Disconnected` event on a protocol violation, a server DISCONNECT or a refusing CONNACK |
//! | [`Session::handle_closed`] | the transport closed, or could not be opened | a `Disconnected` event (with the reconnect instant), operation failures if the session ends |
//! | [`Session::handle_transport_error`] | the same, with the driver's reason (refused, TLS, WebSocket...) | as `handle_closed`, the reason in [`DisconnectReason::TransportError`] |
//! | [`Session::handle_timeout`] | the instant from [`Session::poll_timeout`] passed (early is harmless) | PINGREQ bytes; `Action::Open` (a reconnect); `Action::Close` with a `Disconnected` event when CONNACK or PINGRESP is overdue |
//! | [`Session::publish`], [`Session::subscribe`], [`Session::unsubscribe`], [`Session::acknowledge`], [`Session::authenticate`], [`Session::reauthenticate`] | the application asks | bytes while connected; events (a failure, a completion) |
//! | [`Session::disconnect`] | the application ends the session | DISCONNECT bytes, `Action::Close`, a `Disconnected` event, operation failures |
//! | [`Session::abort`] | the driver cannot go on (its session store failed) | `Action::Close` (no DISCONNECT: unsent bytes and not yet polled messages are dropped), a `Disconnected` event with [`DisconnectReason::Aborted`], operation failures |
//!
//! Outputs, each until it returns `None`:
//!
//! 1. [`Session::poll_action`]: [`Action::Open`] a transport to a server, or
//!    [`Action::Close`] it (after writing what `poll_transmit` gives before it).
//! 2. [`Session::poll_transmit`]: bytes to write, in order, as `Bytes` chunks (a large
//!    payload is its own chunk, shared with the application's `Bytes`: never copied);
//!    or, instead, [`Session::write_transmit`], which lends the same bytes to a closure
//!    (cheapest for a driver that writes to a socket at once).
//! 3. [`Session::poll_event`]: [`Event`]s for the application.
//! 4. [`Session::poll_timeout`]: when to call `handle_timeout` next.
//!
//! With [`Options::journal`] there is one more, drained **first**:
//! [`Session::poll_state_change`], the changes of the session state as records for a
//! store (a message accepted, sent, past PUBREC, completed; an incoming QoS 2 identifier
//! recorded or released; the subscriptions; the client identifier).
//! [`SessionState::apply`] replays them onto the last snapshot.
//!
//! The rules a driver follows:
//!
//! | rule | why |
//! |---|---|
//! | drain the outputs after **every** input; the order above is the natural one, but any order works | an application call made while draining (publish from an event handler) leaves new output: while any output waits, `poll_timeout` is the last input's `now`, so a loop that sleeps until `poll_timeout` goes round again instead of sleeping on it |
//! | sleep until `poll_timeout`, or until input arrives | once everything is drained, `poll_timeout` is after the last input's `now` while connected and idle (the next keep-alive), so a driver never spins |
//! | give each input the current time of a monotonic clock | an instant earlier than the previous input's is taken as that one (debug builds assert, to find the clock bug) |
//! | write the bytes of `poll_transmit` in order before closing on `Action::Close` | the DISCONNECT or the last acknowledgements go out |
//! | take the output even when the transport is slow (buffer it, or stop taking the application's publishes) | once more than [`QueueLimits::max_unsent_bytes`] (default 1 MiB) wait in the session, `publish` is refused with [`UsageError::TransmitBacklog`], which says so; [`Session::unsent_bytes`] tells how much waits. The session's own packets (acknowledgements, PINGREQ) are never refused |
//! | use each [`AckToken`] once (with manual acknowledgements) | acknowledgements go out in arrival order, so a message never acknowledged holds back every later one; the token is not `Clone`, a clone of its message carries none, a refused reason code hands it back in [`AcknowledgeError`]; [`Session::acknowledgements_held_back`] counts what waits, [`Options::acknowledgement_timeout`] bounds it |
//! | with [`Options::journal`]: make the records of `poll_state_change` durable before writing `poll_transmit`'s bytes and handing out events | a PUBREC must not leave, and a QoS 2 message must not reach the application, before the record that says it was received survives a crash; a completion must not be reported before the record that ends the message (the records count as pending output for `poll_timeout`) |
//! | hand each completion to one place | the session reports each operation's end once, as an event; a driver that also offers a waiter per operation delivers it to the waiter **or** the event stream (the engine does: failures of dropped handles on the stream, successes only when asked) |
//!
//! Every publish at QoS 1/2, subscribe and unsubscribe ends in exactly one completion
//! event ([`Event::PublishCompleted`], [`Event::SubscribeCompleted`],
//! [`Event::UnsubscribeCompleted`]) or one [`Event::OperationFailed`].
//!
//! # Example: a complete drive loop over an in-memory transport
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_proto::{
//!     ConnAck, Decoder, Encode, MqttString, Packet, ProtocolVersion, PubAck, QoS, ReasonCode,
//!     Role, TopicName,
//! };
//! use mqtt_session::{Action, Event, Instant, Options, Session};
//!
//! let mut options = Options::new("broker.example:1883", MqttString::try_from("demo")?);
//! options.protocol_version = ProtocolVersion::V3_1_1;
//! let mut session = Session::new(options);
//! let mut now = Instant::ZERO;
//!
//! // The "network": what the client wrote, and what the broker answers.
//! let mut to_broker = BytesMut::new();
//! let mut to_client = BytesMut::new();
//! let mut broker = Decoder::new(ProtocolVersion::V3_1_1).with_sender(Role::Client);
//!
//! session.connect(now)?;
//! let id = session.publish(
//!     now,
//!     mqtt_proto::Publish::new(TopicName::try_from("greetings")?, "hello")
//!         .with_qos(QoS::AtLeastOnce, None),
//! )?;
//!
//! let mut completed = false;
//! for _ in 0..10 {
//!     // 1. actions
//!     while let Some(action) = session.poll_action() {
//!         match action {
//!             Action::Open { .. } => session.handle_connected(now),
//!             Action::Close => {}
//!             _ => {}
//!         }
//!     }
//!     // 2. bytes to write
//!     while let Some(chunk) = session.poll_transmit() {
//!         to_broker.extend_from_slice(&chunk);
//!     }
//!     // 3. events
//!     while let Some(event) = session.poll_event() {
//!         if let Event::PublishCompleted { id: done, .. } = event {
//!             completed = done == id;
//!         }
//!     }
//!     // The broker in a few lines: accept CONNECT, acknowledge the PUBLISH.
//!     while let Some(packet) = broker.decode(&mut to_broker)? {
//!         let answer: Packet = match packet {
//!             Packet::Connect(_) => ConnAck::new(ReasonCode::Success).into(),
//!             Packet::Publish(p) => PubAck::new(p.packet_id.unwrap()).into(),
//!             _ => continue,
//!         };
//!         answer.encode(ProtocolVersion::V3_1_1, &mut to_client)?;
//!     }
//!     now = now + core::time::Duration::from_millis(10);
//!     session.handle_read(now, &mut to_client);
//!     if let Some(deadline) = session.poll_timeout() {
//!         if deadline <= now {
//!             session.handle_timeout(now);
//!         }
//!     }
//! }
//! assert!(completed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # When the server misbehaves
//!
//! | what the server does | what the session does | option |
//! |---|---|---|
//! | breaks the protocol (malformed packet, packet out of turn) | 5.0: DISCONNECT with the reason code; closes; reconnects by its policy | |
//! | acknowledges an identifier with nothing in flight (duplicate PUBACK / PUBREC / PUBCOMP) | [`Event::StrayAcknowledgement`]; answers a PUBREC with PUBREL; goes on | [`Options::strict_acknowledgements`] makes it a violation |
//! | accepts the connection, then closes it before acknowledging anything | the reconnect back-off keeps growing (it starts over only once something was acknowledged on a connection); each message sent on it counts one such close | [`Options::resend_limit`] (default 10): one more fails the publish with [`OperationError::ConnectionKeptClosing`] |
//! | does not speak the version asked for (0x84, or a 3.1.1 CONNACK to a 5.0 CONNECT) | [`DisconnectReason::Refused`] with 0x84 or [`DisconnectReason::UnsupportedProtocolVersion`]; final | [`Options::version_fallback`]: 5.0, then 3.1.1, then 3.1, at once |
//!
//! # Features
//!
//! * `std` (default): std conveniences of the dependencies. Without it the crate is
//!   `#![no_std]` and needs only `alloc`.
//! * `v5` (default): MQTT 5.0. Without it a session speaks 3.1 and 3.1.1 only, its 5.0
//!   code is not linked, and one configured for 5.0 refuses to connect
//!   ([`UsageError::InvalidPacket`] with `EncodeError::VersionNotEnabled`).
//! * `journal` (default): the records of state changes for a session store
//!   ([`Options::journal`], [`Session::poll_state_change`]). Without it nothing is
//!   recorded.
//! * `qos2` (default): QoS 2, both ways. Without it a QoS 2 publish or subscription is
//!   refused with [`UsageError::FeatureNotEnabled`], which names the feature; a QoS 2
//!   PUBLISH, PUBREC or PUBCOMP from the server is a protocol violation (it can only
//!   come after a QoS 2 request, [MQTT-3.8.4-6]); a PUBREL is still answered.
//! * `unsubscribe` (default): [`Session::unsubscribe`]. Without it an UNSUBACK is a
//!   protocol violation.
//!
//! The last three exist for code size: an embedded client that publishes and subscribes
//! at QoS 0 and 1 and never unsubscribes leaves them out (below).
//!
//! # Memory and code size (embedded)
//!
//! Everything the session holds is on the heap (`alloc`): the outgoing messages in
//! flight and queued (`VecDeque`), the acknowledgements owed, the incoming QoS 2
//! identifiers (a sorted `Vec<u16>`), the subscriptions to restore, the events and the
//! output not yet taken (`BytesMut`). Payloads are the application's `Bytes`, shared,
//! never copied. Nothing else allocates: no thread, no timer, no global state.
//!
//! Measured with a counting allocator (`embedded-size/`, `cargo run --release --features
//! heap --bin heap`, 64-bit host, MQTT 3.1.1, default options; a 32-bit target needs
//! somewhat less):
//!
//! | state | heap held |
//! |---|---:|
//! | created, not connected | 70 B |
//! | connected, idle, outputs drained | 4.7 KB (70 B after [`Session::shrink_to_fit`]) |
//! | one 16 B QoS 1 message in flight, shrunk | 1.1 KB |
//! | 20 QoS 1 messages of 16 B in flight and 100 queued | 25.0 KB (20.4 KB shrunk; 1.9 KB of it payload) |
//! | the same once all are acknowledged, shrunk | 70 B |
//!
//! The whole client, linked into a `thumbv7em-none-eabihf` program at `opt-level = "z"`
//! with fat LTO (connect, subscribe, publish at QoS 0 and 1, receive, keep alive), takes
//! 39.3 KB of `.text` for 3.1.1 with none of the features (41.2 KB with `qos2` and
//! `unsubscribe`) and 54.3 KB with `v5` (55.9 KB). A client that
//! decodes with [`mqtt_proto::Decoder::decode_from_server`], as the session does, does
//! not link the decoders of the packets only a client sends. `embedded-size/README.md`
//! has the breakdown and the commands.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod admission;
mod alias;
mod backoff;
mod error;
mod event;
mod journal;
mod options;
mod packet_ids;
mod session;
mod state;
mod state_format;
mod time;
mod transmit;

pub use error::{AcknowledgeError, OperationError, ProtocolViolation, UsageError};
pub use event::{
    AckToken, Action, Connected, DisconnectReason, Event, IncomingMessage, OperationId,
    ServerLimits,
};
pub use journal::{StateChange, StoredMessage};
pub use options::{
    Options, PendingOnSessionLoss, QueueLimits, QueueOverflow, ReconnectPolicy, SessionLossPolicy,
};
pub use session::Session;
pub use session::connection::DisconnectOptions;
pub use session::{InFlight, Queued, Request, Stage};
pub use state::SessionState;
pub use state_format::{STATE_FORMAT, StateError, crc32};
pub use time::Instant;
