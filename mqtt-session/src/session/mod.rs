//! The session: one client's protocol state across any number of connections.

pub(crate) mod connection;
mod id_set;
mod inbound;
mod outbound;
mod subscriptions;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::time::Duration;
use mqtt_proto::{Decoder, Encode, MqttString, ProtocolVersion, QoS, Role};

use crate::alias::{IncomingAliases, OutgoingAliases};
use crate::backoff::Backoff;
use crate::error::{OperationError, ProtocolViolation};
use crate::event::{Action, DisconnectReason, Event, OperationId, ServerLimits};
use crate::journal::StateChange;
use crate::options::Options;
use crate::packet_ids::PacketIds;
use crate::time::Instant;
use crate::transmit::Transmit;

pub(crate) use inbound::Inbound;
pub(crate) use outbound::Outbound;
pub use outbound::{InFlight, Queued, Stage};
pub use subscriptions::Request;
pub(crate) use subscriptions::{Pending, Subscriptions};

/// Where the session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Created; `connect` not called yet.
    Idle,
    /// Waiting to open the next connection.
    WaitingToReconnect { at: Instant },
    /// `Action::Open` issued; waiting for `handle_connected`.
    Opening,
    /// CONNECT sent; waiting for CONNACK (or AUTH).
    AwaitingConnAck { deadline: Instant },
    /// CONNACK accepted.
    Connected,
    /// Closed for good.
    Closed,
}

/// The MQTT client protocol as a deterministic state machine. See the crate documentation
/// for the driving contract.
pub struct Session {
    pub(crate) options: Options,
    pub(crate) state: State,
    pub(crate) ids: PacketIds,
    pub(crate) outbound: Outbound,
    pub(crate) inbound: Inbound,
    pub(crate) subscriptions: Subscriptions,
    pub(crate) tx: Transmit,
    pub(crate) events: VecDeque<Event>,
    pub(crate) actions: VecDeque<Action>,
    pub(crate) decoder: Decoder,
    pub(crate) backoff: Backoff,
    /// The connection generation, counted up by each `handle_connected`.
    pub(crate) connection: u32,
    pub(crate) limits: ServerLimits,
    pub(crate) incoming_aliases: IncomingAliases,
    pub(crate) outgoing_aliases: OutgoingAliases,
    /// Client identifier in use (the server may assign one).
    pub(crate) client_id: MqttString,
    /// Whether we believe the server holds our session (so the next CONNECT resumes it).
    pub(crate) has_session: bool,
    /// Whether the current connection's CONNECT asked to resume a session.
    pub(crate) resuming: bool,
    pub(crate) next_operation: u64,
    pub(crate) server_index: usize,
    /// A server redirection (5.0 Server Reference) for the next attempt.
    pub(crate) redirect: Option<alloc::string::String>,
    pub(crate) last_sent: Instant,
    pub(crate) ping_deadline: Option<Instant>,
    /// Re-authentication under way.
    pub(crate) reauthenticating: bool,
    /// A server AUTH 0x18 awaits our answer.
    pub(crate) auth_challenge: bool,
    /// Whether the session outlives the current connection (the options, or the
    /// server's Session Expiry Interval from CONNACK).
    pub(crate) session_persists: bool,
    /// Whether the server acknowledged something on the current connection: only then
    /// does the reconnect back-off start again from its minimum.
    pub(crate) proven: bool,
    /// The next attempt starts at once (a protocol version fallback).
    pub(crate) retry_at_once: bool,
    /// The latest `now` an input brought: time inside the session never runs backwards.
    pub(crate) last_now: Instant,
    /// With [`Options::journal`]: the subscription state and identity last recorded.
    journaled: Option<Box<Journaled>>,
}

/// What [`Session::poll_state_change`] last said about the state it compares, not
/// records per change (it changes rarely).
#[derive(Default)]
struct Journaled {
    requests: Vec<(Option<OperationId>, Request)>,
    active: Vec<(mqtt_proto::Subscription, Option<u32>)>,
    identity: Option<(MqttString, bool)>,
}

impl Session {
    /// A session with `options`, not connected. Call [`Session::connect`] to start.
    pub fn new(options: Options) -> Session {
        let has_session = !options.clean_start;
        let options_persist = options.session_persists();
        let journal = options.journal;
        let mut session = Session {
            client_id: options.client_id.clone(),
            backoff: Backoff::new(options.reconnect.seed),
            decoder: decoder_for(&options),
            incoming_aliases: IncomingAliases::new(options.topic_alias_maximum),
            options,
            state: State::Idle,
            ids: PacketIds::new(),
            outbound: Outbound::default(),
            inbound: Inbound::default(),
            subscriptions: Subscriptions::default(),
            tx: Transmit::new(),
            events: VecDeque::new(),
            actions: VecDeque::new(),
            connection: 0,
            limits: default_limits(),
            outgoing_aliases: OutgoingAliases::new(0),
            has_session,
            resuming: false,
            next_operation: 1,
            server_index: 0,
            redirect: None,
            last_sent: Instant::ZERO,
            ping_deadline: None,
            reauthenticating: false,
            auth_challenge: false,
            session_persists: options_persist,
            proven: false,
            retry_at_once: false,
            last_now: Instant::ZERO,
            journaled: journal.then(Box::default),
        };
        session.outbound.journal.on = journal;
        session.inbound.journal.on = journal;
        session
    }

    /// The next change of the session state, with [`Options::journal`] (else always
    /// `None`). Drain it after every input like the other outputs, and **before** the
    /// others when persisting: make the records as durable as the store promises before
    /// writing [`Session::poll_transmit`]'s bytes or handing out events, so that no
    /// acknowledgement leaves and no message reaches the application ahead of the state
    /// that covers it. A store replays the records onto its last snapshot with
    /// [`SessionState::apply`](crate::SessionState::apply).
    pub fn poll_state_change(&mut self) -> Option<StateChange> {
        let journaled = self.journaled.as_mut()?;
        let identity = (self.client_id.clone(), self.has_session);
        if journaled.identity.as_ref() != Some(&identity) {
            journaled.identity = Some(identity.clone());
            return Some(StateChange::Identity {
                client_id: identity.0,
                has_session: identity.1,
            });
        }
        if let Some(change) = self.outbound.journal.pop() {
            return Some(change);
        }
        if let Some(change) = self.inbound.journal.pop() {
            return Some(change);
        }
        let subscriptions = &self.subscriptions;
        let same = journaled.active == subscriptions.active
            && journaled.requests.len() == subscriptions.pending.len()
            && journaled
                .requests
                .iter()
                .zip(&subscriptions.pending)
                .all(|((o, r), p)| *o == p.operation && *r == p.request);
        if same {
            return None;
        }
        journaled.active = subscriptions.active.clone();
        journaled.requests = subscriptions
            .pending
            .iter()
            .map(|p| (p.operation, p.request.clone()))
            .collect();
        Some(StateChange::Subscriptions {
            requests: journaled.requests.clone(),
            active: journaled.active.clone(),
        })
    }

    /// After a restore: what the store's snapshot holds counts as recorded.
    pub(crate) fn journal_restored(&mut self) {
        let Some(journaled) = self.journaled.as_mut() else {
            return;
        };
        journaled.identity = Some((self.client_id.clone(), self.has_session));
        journaled.active = self.subscriptions.active.clone();
        journaled.requests = self
            .subscriptions
            .pending
            .iter()
            .map(|p| (p.operation, p.request.clone()))
            .collect();
        self.outbound.journal.on = true;
        self.inbound.journal.on = true;
    }

    /// Whether [`Session::poll_state_change`] has records waiting.
    fn journal_pending(&self) -> bool {
        !self.outbound.journal.is_empty() || !self.inbound.journal.is_empty()
    }

    /// The protocol version the session speaks: the one in the options, or the one
    /// [`Options::version_fallback`] fell back to.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.options.protocol_version
    }

    /// The options the session was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The client identifier in use (the server's assigned one, once it gave one).
    pub fn client_id(&self) -> &MqttString {
        &self.client_id
    }

    /// Whether a connection is up and accepted (CONNACK received).
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Whether the session is closed for good.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The server's limits from the last CONNACK (defaults before one arrived).
    pub fn server_limits(&self) -> &ServerLimits {
        &self.limits
    }

    /// The server's limits while connected; `None` otherwise (what the
    /// [`admission`](crate::admission) checks take).
    pub fn connected_limits(&self) -> Option<&ServerLimits> {
        self.is_connected().then_some(&self.limits)
    }

    /// QoS 1/2 messages sent and not yet completely acknowledged.
    pub fn in_flight(&self) -> usize {
        self.outbound.in_flight.len()
    }

    /// Messages queued, not yet sent.
    pub fn queued(&self) -> usize {
        self.outbound.queue.len()
    }

    /// Gives back memory held for output that is no longer pending: the transmit
    /// buffer once everything was taken, empty event and action queues, unused blocks of
    /// the packet identifier bitmap. For a driver
    /// about to sleep (an idle connection then holds only the session's state); the
    /// next output allocates again.
    pub fn shrink_to_fit(&mut self) {
        self.tx.shrink();
        self.ids.shrink();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
        if self.actions.is_empty() {
            self.actions = VecDeque::new();
        }
        // The queues of messages and acknowledgements: once emptied after a burst, they
        // would otherwise keep the burst's capacity.
        let outbound = &mut self.outbound;
        if outbound.in_flight.is_empty() {
            outbound.in_flight = VecDeque::new();
        }
        if outbound.queue.is_empty() {
            outbound.queue = VecDeque::new();
        }
        if self.inbound.owed.is_empty() {
            self.inbound.owed = VecDeque::new();
        }
        if self.subscriptions.pending.is_empty() {
            self.subscriptions.pending = VecDeque::new();
        }
        self.outbound.journal.shrink();
        self.inbound.journal.shrink();
    }

    // ----- outputs -----

    /// The next bytes to write to the transport, in order. Payloads of large PUBLISH
    /// packets come as their own chunk, shared with the application's `Bytes` (no copy).
    pub fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
        self.tx.poll()
    }

    /// Bytes of output waiting for [`Session::poll_transmit`] (or
    /// [`Session::write_transmit`]); publishes are refused once it exceeds
    /// [`QueueLimits::max_unsent_bytes`](crate::QueueLimits::max_unsent_bytes).
    pub fn unsent_bytes(&self) -> usize {
        self.tx.len()
    }

    /// Writes every pending byte through `write`, in order, instead of taking `Bytes`
    /// chunks from [`Session::poll_transmit`]: the bytes are borrowed, so no reference
    /// count is touched and the session's buffer is reused. Stops at the first error
    /// (the connection is broken: report it with [`Session::handle_closed`]). Use one
    /// of the two per drain.
    ///
    /// ```
    /// # use mqtt_session::{Options, Session};
    /// # let mut session = Session::new(Options::new("h:1883", mqtt_proto::MqttString::new()));
    /// let mut socket: Vec<u8> = Vec::new(); // any std::io::Write
    /// session.write_transmit(|bytes| { socket.extend_from_slice(bytes); Ok::<(), ()>(()) })
    ///     .unwrap();
    /// ```
    pub fn write_transmit<E>(
        &mut self,
        write: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.tx.write_with(write)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next instruction for the driver (open or close a transport).
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the session next wants [`Session::handle_timeout`] called; `None` when it
    /// waits only for input. While any output waits to be polled (an action, bytes, an
    /// event) it is the last input's `now`, so a loop that sleeps until this instant
    /// never sleeps on pending output, whatever order it drains in. Once everything is
    /// drained it is never in the past relative to the last input's `now`, so a driver
    /// never spins.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.actions.is_empty()
            || !self.events.is_empty()
            || !self.tx.is_empty()
            || self.journal_pending()
        {
            // Output waits to be polled (an application call made while draining, say):
            // a driver that sleeps until this instant does not sleep on it.
            return Some(self.last_now);
        }
        match self.state {
            State::WaitingToReconnect { at } => Some(at),
            State::AwaitingConnAck { deadline } => Some(deadline),
            State::Connected => {
                let keep_alive = match self.ping_deadline {
                    Some(deadline) => Some(deadline),
                    None => self.keep_alive().map(|k| self.last_sent + k),
                };
                match (keep_alive, self.acknowledgement_deadline()) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            State::Idle | State::Opening | State::Closed => None,
        }
    }

    // ----- inputs -----

    /// A deadline from [`Session::poll_timeout`] passed (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.clock(now);
        match self.state {
            State::WaitingToReconnect { at } if now >= at => self.open(),
            State::AwaitingConnAck { deadline } if now >= deadline => {
                self.actions.push_back(Action::Close);
                self.connection_lost(now, DisconnectReason::ConnectTimeout);
            }
            State::Connected => {
                self.expire_acknowledgements(now);
                self.keep_alive_tick(now);
            }
            _ => {}
        }
    }

    /// Received bytes: decodes every whole packet at the front of `buf` and handles it,
    /// leaving a partial packet in place. The driver keeps appending what it reads to the
    /// same buffer. Bytes are ignored unless a connection is up.
    pub fn handle_read(&mut self, now: Instant, buf: &mut BytesMut) {
        let now = self.clock(now);
        while matches!(self.state, State::AwaitingConnAck { .. } | State::Connected) {
            if matches!(self.state, State::AwaitingConnAck { .. })
                && self.version().is_v5()
                && buf.starts_with(&[0x20, 0x02])
                && buf.get(3) == Some(&0x01)
            {
                // A 3.1.1 CONNACK refusing the protocol version (return code 1): the
                // server does not speak 5.0. (Malformed as a 5.0 CONNACK: 0x01 is no 5.0
                // reason code and the property length is missing.)
                buf.clear();
                let requested = self.version();
                self.version_refused(
                    now,
                    DisconnectReason::UnsupportedProtocolVersion { requested },
                );
                return;
            }
            match self.decoder.decode_from_server(buf) {
                Ok(Some(packet)) => {
                    if let Err(violation) = self.handle_packet(now, packet) {
                        self.protocol_violation(now, violation);
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    buf.clear();
                    self.protocol_violation(now, ProtocolViolation::Decode(e));
                }
            }
        }
        // Not connected: nothing read now belongs to a live connection.
        buf.clear();
    }

    /// The transport failed, or could not be opened, for the reason `error` (reported in
    /// [`DisconnectReason::TransportError`]). Otherwise as [`Session::handle_closed`].
    pub fn handle_transport_error(&mut self, now: Instant, error: alloc::string::String) {
        let now = self.clock(now);
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck { .. } | State::Connected
        ) {
            self.tx.clear();
            self.connection_lost(now, DisconnectReason::TransportError(error));
        }
    }

    /// The transport closed, or failed to open. Pending operations stay pending; the
    /// session reconnects by its policy.
    pub fn handle_closed(&mut self, now: Instant) {
        let now = self.clock(now);
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck { .. } | State::Connected
        ) {
            // Nothing more can be written on it.
            self.tx.clear();
            self.connection_lost(now, DisconnectReason::TransportClosed);
        }
    }

    // ----- internals shared by the concerns -----

    /// Takes an input's `now`: an instant earlier than the previous input's is taken as
    /// that one, so time inside the session is monotonic whatever the driver's clock does
    /// (debug builds assert it, to find such a clock early).
    #[inline]
    pub(crate) fn clock(&mut self, now: Instant) -> Instant {
        debug_assert!(
            now >= self.last_now,
            "Session input at {now:?}, earlier than the previous input's {:?}: give the session a monotonic clock",
            self.last_now
        );
        if now > self.last_now {
            self.last_now = now;
        }
        self.last_now
    }

    pub(crate) fn version(&self) -> ProtocolVersion {
        self.options.protocol_version
    }

    pub(crate) fn next_operation_id(&mut self) -> OperationId {
        let id = OperationId(self.next_operation);
        // Only a stored state read back can bring it near the end; wrapping (past 0,
        // which is never used) does not panic.
        self.next_operation = self.next_operation.wrapping_add(1).max(1);
        id
    }

    /// Encodes `packet` for sending on the current connection.
    pub(crate) fn send<P: Encode>(
        &mut self,
        now: Instant,
        packet: &P,
    ) -> Result<(), mqtt_proto::EncodeError> {
        self.tx
            .write(packet, self.version(), self.limits.maximum_packet_size)?;
        self.last_sent = now;
        Ok(())
    }

    pub(crate) fn fail_operation(&mut self, id: OperationId, error: OperationError) {
        self.events.push_back(Event::OperationFailed { id, error });
    }

    /// The keep-alive period in force, if keep-alive is on.
    pub(crate) fn keep_alive(&self) -> Option<Duration> {
        match self.limits.keep_alive {
            0 => None,
            s => Some(Duration::from_secs(u64::from(s))),
        }
    }

    fn keep_alive_tick(&mut self, now: Instant) {
        if let Some(deadline) = self.ping_deadline {
            if now >= deadline {
                self.actions.push_back(Action::Close);
                self.connection_lost(now, DisconnectReason::KeepAliveTimeout);
            }
            return;
        }
        let Some(period) = self.keep_alive() else {
            return;
        };
        if now >= self.last_sent + period {
            // [MQTT-3.1.2-23] (v3.1.1) / [MQTT-3.1.2-20] (v5): PINGREQ after a keep-alive
            // period without sending anything.
            if self.send(now, &mqtt_proto::Packet::PingReq).is_ok() {
                let timeout = self.options.ping_timeout.unwrap_or(period / 2).min(period);
                self.ping_deadline = Some(now + timeout);
            }
        }
    }
}

/// The decoder for a session's options: our maximum packet size, packets from a server.
pub(crate) fn decoder_for(options: &Options) -> Decoder {
    let mut d = Decoder::new(options.protocol_version).with_sender(Role::Server);
    if let (true, Some(max)) = (
        options.protocol_version.is_v5(),
        options.maximum_packet_size,
    ) {
        d.set_maximum_packet_size(max);
    }
    d
}

/// The limits to assume before a CONNACK says otherwise.
pub(crate) fn default_limits() -> ServerLimits {
    ServerLimits {
        receive_maximum: 65_535,
        maximum_qos: QoS::ExactlyOnce,
        retain_available: true,
        maximum_packet_size: mqtt_proto::MAX_PACKET_SIZE,
        topic_alias_maximum: 0,
        wildcard_subscription_available: true,
        subscription_identifier_available: true,
        shared_subscription_available: true,
        keep_alive: 0,
    }
}

/// Removes the first element of `v` matching `f`.
pub(crate) fn take_first<T>(v: &mut VecDeque<T>, f: impl Fn(&T) -> bool) -> Option<T> {
    let i = v.iter().position(f)?;
    v.remove(i)
}
