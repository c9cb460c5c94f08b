//! The engine: everything a client does that is not waiting. It owns the session, the
//! TLS / WebSocket layers of the connection, the operation -> waiter bookkeeping, the
//! hand-out of events, and the bytes waiting for the socket.

use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use mqtt_proto::QoS;
use mqtt_session::{
    Action, DisconnectOptions, DisconnectReason, Event, Instant, OperationId, Session, UsageError,
};

use crate::admission::Admission;
use crate::command::Command;
use crate::completion::{Completion, Reply};
use crate::error::Error;
use crate::events::EventQueue;
use crate::options::{ClientOptions, DriverOptions};
use crate::outgoing::Outgoing;
use crate::stack::Stack;
use crate::store::SessionStore;
use crate::tls::TlsOptions;
use crate::url::BrokerUrl;

/// The most read from the socket at a time.
pub const MAX_READ: usize = 64 * 1024;
/// The least read from the socket at a time.
const MIN_READ: usize = 1024;
/// Bytes waiting for the socket above which the driver takes no more commands
/// ([`Engine::wants_commands`]): a publisher faster than the network then waits in
/// `publish` (the command queue fills) instead of the output growing without bound.
pub const MAX_UNSENT: usize = 1024 * 1024;
/// The session's output is moved to the outgoing chunks between commands once it is this
/// large, so that a batch of commands never meets the session's own bound
/// (`QueueLimits::max_unsent_bytes`) for want of draining.
const COLLECT_AT: usize = 64 * 1024;

/// An instruction for the driver, from [`Engine::poll_output`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output {
    /// Open a byte stream to this broker, then call [`Engine::handle_opened`] (or
    /// [`Engine::handle_closed`] with the error if it cannot be opened).
    Open(BrokerUrl),
    /// Write what [`Engine::transmit`] still gives (best effort), close the stream (or
    /// abandon the connection attempt), then call [`Engine::handle_closed`].
    Close,
}

/// The connection in use.
struct Link {
    url: BrokerUrl,
    stack: Stack,
    /// MQTT bytes out of the TLS / WebSocket layers (unused on plain TCP, where the
    /// read buffer is the session's buffer).
    mqtt: BytesMut,
    /// We asked the driver to close it.
    closing: bool,
}

/// The runtime-neutral, I/O-free core of a client. A driver opens byte streams and waits;
/// everything else happens here.
///
/// Inputs: [`Engine::start`], [`Engine::handle_command`], [`Engine::handle_opened`],
/// [`Engine::read_buffer`] + [`Engine::handle_read`], [`Engine::handle_closed`],
/// [`Engine::handle_timeout`]. After a round of inputs the driver takes, in this order:
/// [`Engine::poll_output`] until `None`, then [`Engine::transmit`] (one vectored write of
/// everything pending, then [`Engine::advance`]), then waits for the socket to be
/// readable if [`Engine::wants_read`], for a command, or until [`Engine::poll_timeout`].
/// Events go straight to the shared [`EventQueue`]; each operation's outcome to its
/// [`Pending`](crate::Pending).
pub struct Engine {
    session: Session,
    tls: TlsOptions,
    ws_headers: Vec<(String, String)>,
    first_url: BrokerUrl,
    current_url: Option<BrokerUrl>,
    /// A connection attempt the driver was asked for.
    opening: Option<BrokerUrl>,
    link: Option<Link>,
    /// We emitted [`Output::Close`] and wait for the driver's `handle_closed`.
    closing: bool,
    outputs: VecDeque<Output>,
    out: Outgoing,
    waiters: HashMap<OperationId, Reply>,
    /// Disconnects that complete once the stream is closed.
    on_close: Vec<Reply>,
    events: Arc<EventQueue>,
    handout: Vec<Event>,
    /// [`ClientOptions::completion_events`].
    completion_events: bool,
    admission: Arc<Admission>,
    /// What `admission` was last told: (connected, closed).
    admitted: (bool, bool),
    /// A CONNACK arrived since: new limits.
    new_limits: bool,
    /// Bytes read from the stream (on plain TCP: the session's receive buffer).
    raw: BytesMut,
    raw_mark: usize,
    /// How much the next read asks for: doubles when a read fills it, halves when reads
    /// use little of it, so that a message held by the application pins about its own
    /// size of buffer and a busy connection reads in large chunks.
    read_size: usize,
    now: Instant,
    finished: bool,
    /// [`ClientOptions::store`]: where the session's changes go.
    store: Option<Box<dyn SessionStore>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("url", &self.current_url)
            .field("connected", &self.session.is_connected())
            .field("waiters", &self.waiters.len())
            .field("unsent", &self.out.len())
            .finish()
    }
}

impl Engine {
    /// An engine for `options`; returns what the driver needs to open connections, and
    /// the event queue to hand to the application's iterator or stream.
    pub fn new(options: ClientOptions) -> Result<(Engine, DriverOptions, Arc<EventQueue>), Error> {
        let (mut options, driver) = options.into_parts();
        let first_url =
            BrokerUrl::parse(options.session.servers.first().map_or("", String::as_str))?;
        if first_url.scheme.is_tls() {
            // Fail early on a bad TLS configuration.
            options.tls.build()?;
        }
        let events = EventQueue::new(options.event_buffer);
        let admission = Admission::new(options.session.protocol_version);
        let mut store = options.store.take();
        let stored = match store.as_mut() {
            Some(store) => store.load()?,
            None => None,
        };
        let session = match stored {
            Some(state) => {
                log::info!(
                    "resuming the stored session ({} in flight, {} queued)",
                    state.in_flight.len(),
                    state.queued.len()
                );
                Session::restore(options.session, state)
            }
            None => Session::new(options.session),
        };
        let engine = Engine {
            session,
            store,
            tls: options.tls,
            ws_headers: options.ws_headers,
            completion_events: options.completion_events,
            first_url,
            current_url: None,
            opening: None,
            link: None,
            closing: false,
            outputs: VecDeque::new(),
            out: Outgoing::default(),
            waiters: HashMap::new(),
            on_close: Vec::new(),
            events: events.clone(),
            handout: Vec::new(),
            admission,
            admitted: (false, false),
            new_limits: false,
            raw: BytesMut::new(),
            raw_mark: 0,
            read_size: 4 * MIN_READ,
            now: Instant::ZERO,
            finished: false,
        };
        Ok((engine, driver, events))
    }

    /// The session (read-only: its state, limits, options).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The checks a client handle makes before queueing a command, kept current by the
    /// engine (see [`Admission`]).
    pub fn admission(&self) -> Arc<Admission> {
        self.admission.clone()
    }

    /// The broker of the current (or last) connection.
    pub fn url(&self) -> &BrokerUrl {
        self.current_url.as_ref().unwrap_or(&self.first_url)
    }

    fn set_now(&mut self, now: Instant) {
        // Time never goes backwards for the session.
        if now > self.now {
            self.now = now;
        }
    }

    /// Starts connecting (gives [`Output::Open`]).
    pub fn start(&mut self, now: Instant) -> Result<(), Error> {
        self.set_now(now);
        let result = self.session.connect(self.now).map_err(Error::from);
        self.pump();
        result
    }

    /// A command of the application. Its outcome goes to the command's slot: a refusal
    /// at once, an acceptance (the slot is marked accepted) and later the broker's answer.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        self.set_now(now);
        let now = self.now;
        if self.session.unsent_bytes() >= COLLECT_AT {
            self.collect_transmit();
        }
        match command {
            Command::Publish { message, done } => {
                let qos = message.qos;
                match self.session.publish(now, message) {
                    Ok(_) if qos == QoS::AtMostOnce => {
                        done.accept();
                        done.complete(Ok(Completion::Sent));
                    }
                    Ok(id) => {
                        done.orphan_to(id, self.events.clone(), self.completion_events);
                        if self.store.is_some() {
                            // Accepted once the store has it (after `pump` below).
                            self.waiters.insert(id, done);
                            self.pump();
                            if let Some(slot) = self.waiters.get(&id) {
                                slot.accept();
                            }
                            return;
                        }
                        done.accept();
                        self.waiters.insert(id, done);
                    }
                    Err(e) => done.complete(Err(e.into())),
                }
            }
            Command::Subscribe {
                subscriptions,
                properties,
                done,
            } => {
                let r = self.session.subscribe(now, subscriptions, properties);
                self.register(r, done);
            }
            Command::Unsubscribe {
                filters,
                properties,
                done,
            } => {
                let r = self.session.unsubscribe(now, filters, properties);
                self.register(r, done);
            }
            Command::Acknowledge {
                token,
                reason_code,
                done,
            } => {
                // The handle checked the reason code (and kept the token on a refusal);
                // what can still fail here uses the token up.
                let r = self.session.acknowledge(now, token, reason_code);
                Engine::finish_now(r.map_err(|e| e.error), &done);
            }
            Command::Authenticate { data, done } => {
                let r = self.session.authenticate(now, data);
                Engine::finish_now(r, &done);
            }
            Command::Reauthenticate { data, done } => {
                let r = self.session.reauthenticate(now, data);
                Engine::finish_now(r, &done);
            }
            Command::Disconnect { options, done } => match self.session.disconnect(now, options) {
                Ok(()) => {
                    done.accept();
                    if self.link.is_some() || self.opening.is_some() {
                        self.on_close.push(done);
                    } else {
                        done.complete(Ok(Completion::Sent));
                    }
                }
                Err(e) => done.complete(Err(e.into())),
            },
            Command::Close { done } => {
                // As if the network failed: nothing more is written, not even DISCONNECT.
                self.request_close(false);
                let _ = self.session.disconnect(now, DisconnectOptions::default());
                done.accept();
                done.complete(Ok(Completion::Sent));
            }
        }
        self.pump();
    }

    fn register(&mut self, result: Result<OperationId, UsageError>, done: Reply) {
        match result {
            Ok(id) => {
                done.accept();
                done.orphan_to(id, self.events.clone(), self.completion_events);
                self.waiters.insert(id, done);
            }
            Err(e) => done.complete(Err(e.into())),
        }
    }

    fn finish_now(result: Result<(), UsageError>, done: &Reply) {
        match result {
            Ok(()) => {
                done.accept();
                done.complete(Ok(Completion::Sent));
            }
            Err(e) => done.complete(Err(e.into())),
        }
    }

    /// The stream asked for by [`Output::Open`] is open.
    pub fn handle_opened(&mut self, now: Instant) {
        self.set_now(now);
        let Some(url) = self.opening.take() else {
            return;
        };
        let mut down = Vec::new();
        match Stack::start(&url, &self.tls, &self.ws_headers, &mut down) {
            Ok(stack) => {
                log::debug!("transport to {url} open");
                self.out.push(Bytes::from(down));
                self.link = Some(Link {
                    url,
                    stack,
                    mqtt: BytesMut::new(),
                    closing: false,
                });
                self.raw = BytesMut::new();
                self.session.handle_connected(self.now);
            }
            Err(e) => {
                log::warn!("cannot start the connection to {url}: {e}");
                self.closing = true;
                self.outputs.push_back(Output::Close);
                self.session.handle_transport_error(self.now, e.to_string());
            }
        }
        self.pump();
    }

    /// The stream closed, failed, or could not be opened (`error` says how, `None` for
    /// an orderly end of stream); or the driver carried out [`Output::Close`].
    pub fn handle_closed(&mut self, now: Instant, error: Option<String>) {
        self.set_now(now);
        let ours = std::mem::take(&mut self.closing);
        let attempt = self.opening.take();
        let link = self.link.take();
        self.out.clear();
        self.raw = BytesMut::new();
        for slot in self.on_close.drain(..) {
            slot.complete(Ok(Completion::Sent));
        }
        if !ours {
            let url = link
                .as_ref()
                .map(|l| &l.url)
                .or(attempt.as_ref())
                .unwrap_or(&self.first_url)
                .clone();
            match error {
                Some(e) if link.is_none() => {
                    let e = format!("cannot connect to {url}: {e}");
                    self.session.handle_transport_error(self.now, e);
                }
                Some(e) => self.session.handle_transport_error(self.now, e),
                None => self.session.handle_closed(self.now),
            }
        }
        self.pump();
    }

    /// Where the driver reads the next bytes into (at most [`MAX_READ`]); then it calls
    /// [`Engine::handle_read`] with how many it read. On plain TCP this is the session's
    /// own receive buffer: received bytes are never copied before decoding.
    pub fn read_buffer(&mut self) -> &mut [u8] {
        let len = self.raw.len();
        self.raw.resize(len + self.read_size, 0);
        self.raw_mark = len;
        &mut self.raw[len..]
    }

    /// The read into [`Engine::read_buffer`] did not happen (the stream had nothing).
    pub fn read_cancelled(&mut self) {
        self.raw.truncate(self.raw_mark);
        self.release_read_buffer();
    }

    /// The stream has nothing more to read for now: unless a partial packet waits, the
    /// read buffer is given back, so an idle connection holds none.
    pub fn release_read_buffer(&mut self) {
        if self.raw.is_empty() {
            self.raw = BytesMut::new();
        }
    }

    /// The driver is about to sleep: memory held for bytes and events that are no
    /// longer pending is given back (read and transmit buffers, empty queues), so an
    /// idle connection holds only its protocol state.
    pub fn release_idle_memory(&mut self) {
        self.release_read_buffer();
        if self.handout.is_empty() {
            self.handout = Vec::new();
        }
        self.out.shrink_if_empty();
        self.session.shrink_to_fit();
        self.events.shrink_if_empty();
    }

    /// Bytes read by a driver into a buffer of its own (a reader thread): copied into
    /// the engine's buffer, then as [`Engine::handle_read`].
    pub fn handle_bytes(&mut self, now: Instant, mut data: &[u8]) {
        while !data.is_empty() {
            let buf = self.read_buffer();
            let n = buf.len().min(data.len());
            buf[..n].copy_from_slice(&data[..n]);
            data = &data[n..];
            self.handle_read(now, n);
        }
    }

    /// `n` bytes were read into [`Engine::read_buffer`]; 0 means the stream ended.
    pub fn handle_read(&mut self, now: Instant, n: usize) {
        self.set_now(now);
        let mark = self.raw_mark;
        let n = n.min(self.read_size);
        self.raw.truncate(mark + n);
        if n == self.read_size {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        if n == 0 {
            self.handle_closed(now, None);
            return;
        }
        let now = self.now;
        let Some(link) = self.link.as_mut().filter(|l| !l.closing) else {
            self.raw.clear();
            return;
        };
        if link.stack.is_plain() {
            self.session.handle_read(now, &mut self.raw);
        } else {
            let mut down = Vec::new();
            let received = link.stack.receive(&self.raw, &mut link.mqtt, &mut down);
            self.raw.clear();
            self.out.push(Bytes::from(down));
            match received {
                Ok(open) => {
                    self.session.handle_read(now, &mut link.mqtt);
                    if !open {
                        self.lost(None);
                    }
                }
                Err(e) => self.lost(Some(e.to_string())),
            }
        }
        self.pump();
    }

    /// The instant from [`Engine::poll_timeout`] passed (early is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.set_now(now);
        self.session.handle_timeout(self.now);
        self.pump();
    }

    /// The next instruction for the driver.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`Engine::handle_timeout`] is due next.
    ///
    /// The session's output is taken into the outgoing chunks first: output waiting in
    /// the session makes its deadline "now" (so that a driver never sleeps on it), but
    /// output in the engine's chunks waits for the socket to be writable, which the
    /// driver watches for.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.collect_transmit();
        self.session.poll_timeout()
    }

    /// Whether the driver should read the socket now: a connection is up and the
    /// application has room for more events (back-pressure).
    pub fn wants_read(&self) -> bool {
        self.link.as_ref().is_some_and(|l| !l.closing) && self.events.has_room()
    }

    /// Whether the driver should hand the engine more commands: not while more than
    /// [`MAX_UNSENT`] bytes wait for a connection that is up (write them first). While
    /// no connection is up, commands are always taken (the session queues them, within
    /// its queue limits).
    pub fn wants_commands(&self) -> bool {
        self.link.as_ref().is_none_or(|l| l.closing)
            || self.out.len() + self.session.unsent_bytes() < MAX_UNSENT
    }

    /// Whether bytes wait to be written.
    pub fn wants_write(&mut self) -> bool {
        self.collect_transmit();
        !self.out.is_empty()
    }

    /// Everything pending for the socket, as up to `slices.len()` slices for one
    /// vectored write; returns how many were filled (0: nothing to write). Then call
    /// [`Engine::advance`] with how many bytes were written.
    pub fn transmit<'a>(&'a mut self, slices: &mut [IoSlice<'a>]) -> usize {
        self.collect_transmit();
        self.out.slices(slices)
    }

    /// Bytes waiting for the socket.
    pub fn unsent(&self) -> usize {
        self.out.len()
    }

    /// `written` bytes of what [`Engine::transmit`] gave were written.
    pub fn advance(&mut self, written: usize) {
        self.out.advance(written);
    }

    /// A write failed: the connection is broken.
    pub fn handle_write_error(&mut self, now: Instant, error: String) {
        self.set_now(now);
        self.lost(Some(format!("write failed: {error}")));
        self.pump();
    }

    /// Whether the client is done: the session ended and the stream is closed.
    pub fn is_closed(&self) -> bool {
        self.session.is_closed()
            && self.link.is_none()
            && self.opening.is_none()
            && self.outputs.is_empty()
            && !self.closing
    }

    /// Ends the client: every waiting operation fails with [`Error::Closed`], the event
    /// stream ends. Also done on drop.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        for (_, slot) in self.waiters.drain() {
            slot.complete(Err(Error::Closed));
        }
        for slot in self.on_close.drain(..) {
            slot.complete(Ok(Completion::Sent));
        }
        self.events.push_all(&mut self.handout);
        self.events.close();
    }

    // ----- internals -----

    /// Moves what the session wrote into the outgoing chunks (through the TLS /
    /// WebSocket layers), or drops it when there is no connection to write it to.
    fn collect_transmit(&mut self) {
        match self.link.as_mut().filter(|l| !l.closing) {
            Some(link) if link.stack.is_plain() => {
                while let Some(chunk) = self.session.poll_transmit() {
                    self.out.push(chunk);
                }
            }
            Some(link) => {
                let mut down = Vec::new();
                let stack = &mut link.stack;
                let r = self.session.write_transmit(|b| stack.send(b, &mut down));
                self.out.push(Bytes::from(down));
                if let Err(e) = r {
                    self.lost(Some(e.to_string()));
                    self.pump();
                }
            }
            None => {
                let _ = self.session.write_transmit(|_| Ok::<(), ()>(()));
            }
        }
    }

    /// The engine found the connection broken (or the peer closed the TLS session or
    /// WebSocket): tell the session and ask the driver to close the stream.
    fn lost(&mut self, error: Option<String>) {
        if self.link.as_ref().is_none_or(|l| l.closing) {
            return;
        }
        self.request_close(false);
        match error {
            Some(e) => self.session.handle_transport_error(self.now, e),
            None => self.session.handle_closed(self.now),
        }
    }

    /// Asks the driver to close the stream (or abandon the attempt); with `flush`, what
    /// the session wrote so far goes out first.
    fn request_close(&mut self, flush: bool) {
        if self.closing || (self.link.is_none() && self.opening.is_none()) {
            return;
        }
        if flush {
            self.collect_transmit();
        } else {
            self.out.clear();
        }
        if let Some(link) = &mut self.link {
            link.closing = true;
        }
        self.opening = None;
        self.closing = true;
        self.outputs.push_back(Output::Close);
    }

    /// Drains the session's actions and events until none is left, then hands the
    /// events out in one go.
    fn pump(&mut self) {
        loop {
            // The store first: nothing below reports or acknowledges what it has not.
            self.persist();
            let mut more = false;
            while let Some(action) = self.session.poll_action() {
                more = true;
                match action {
                    Action::Open { server } => self.open(&server),
                    Action::Close => self.request_close(true),
                    _ => {}
                }
            }
            while let Some(event) = self.session.poll_event() {
                more = true;
                self.route(event);
            }
            if !more {
                break;
            }
        }
        // The handles' view first: an application that saw `Connected` or the end of
        // the session finds its calls judged by it.
        let state = (self.session.is_connected(), self.session.is_closed());
        if state != self.admitted || std::mem::take(&mut self.new_limits) {
            self.admitted = state;
            self.admission.update(&self.session);
        }
        self.events.push_all(&mut self.handout);
    }

    /// Hands the session's changes to the store and commits them.
    fn persist(&mut self) {
        let Some(store) = self.store.as_mut() else {
            // A journal turned on without a store: nobody keeps the records.
            while self.session.poll_state_change().is_some() {}
            return;
        };
        let mut changed = false;
        while let Some(change) = self.session.poll_state_change() {
            changed = true;
            if let Err(e) = store.append(&change) {
                return self.store_failed(e);
            }
        }
        if changed && let Err(e) = store.commit() {
            self.store_failed(e);
        }
    }

    /// The store cannot keep the state: the client stops (as on `close`), so that
    /// nothing is acknowledged or reported that a restart would not know of.
    fn store_failed(&mut self, e: std::io::Error) {
        log::error!("the session store failed ({e}): closing the client");
        self.store = None;
        self.request_close(false);
        // As a crash would: no DISCONNECT, so the server keeps the session for a
        // restart from what the store last held.
        self.session
            .abort(self.now, format!("the session store failed: {e}"));
    }

    fn open(&mut self, server: &str) {
        if self.link.is_some() || self.opening.is_some() {
            self.request_close(false);
        }
        let base = self
            .current_url
            .clone()
            .unwrap_or_else(|| self.first_url.clone());
        let url = if server.contains("://") {
            BrokerUrl::parse(server)
        } else {
            base.redirected(server)
        };
        match url {
            Ok(url) => {
                log::debug!("connecting to {url}");
                self.current_url = Some(url.clone());
                self.opening = Some(url.clone());
                self.outputs.push_back(Output::Open(url));
            }
            Err(e) => {
                log::warn!("cannot connect to {server:?}: {e}");
                self.session.handle_transport_error(self.now, e.to_string());
            }
        }
    }

    /// Completions go to their waiters; everything else to the application. Each
    /// completion is delivered once: to its [`Pending`](crate::Pending), or, when nobody
    /// waits for it any more (the handle was dropped), on the event stream as the
    /// session's event: a failure always, a success with
    /// [`ClientOptions::completion_events`].
    fn route(&mut self, event: Event) {
        let id = match &event {
            Event::PublishCompleted { id, .. }
            | Event::SubscribeCompleted { id, .. }
            | Event::UnsubscribeCompleted { id, .. }
            | Event::OperationFailed { id, .. } => *id,
            _ => {
                if matches!(event, Event::Connected(_)) {
                    self.new_limits = true;
                }
                self.log_event(&event);
                self.handout.push(event);
                return;
            }
        };
        match self.waiters.remove(&id) {
            Some(slot) if !slot.is_abandoned() => slot.complete(completion(event)),
            _ => {
                if let Event::OperationFailed { error, .. } = &event {
                    log::warn!("operation {} failed: {error}", id.0);
                } else if !self.completion_events {
                    return;
                }
                self.handout.push(event);
            }
        }
    }

    fn log_event(&self, event: &Event) {
        match event {
            Event::Connected(c) => log::info!(
                "connected to {} as {:?} (session present: {})",
                self.url(),
                c.client_id.as_str(),
                c.session_present
            ),
            Event::Disconnected {
                reason: DisconnectReason::Requested,
                ..
            } => log::info!("disconnected from {}", self.url()),
            Event::Disconnected {
                reason: DisconnectReason::ProtocolViolation(v),
                ..
            } => log::warn!("{} broke the protocol: {v}", self.url()),
            Event::Disconnected {
                reason,
                reconnect_at,
            } => match reconnect_at {
                Some(at) => log::warn!(
                    "connection to {} ended ({reason}); reconnecting in {:?}",
                    self.url(),
                    at.saturating_duration_since(self.now)
                ),
                None => log::warn!("connection to {} ended ({reason})", self.url()),
            },
            _ => {}
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Watches the first events of a client for the outcome of its first connection (what
/// the drivers' `connect` waits for).
#[derive(Debug, Default)]
pub struct FirstConnection {
    last_failure: Option<DisconnectReason>,
}

impl FirstConnection {
    /// Nothing seen yet.
    pub fn new() -> FirstConnection {
        FirstConnection::default()
    }

    /// `Some(Ok)` once connected, `Some(Err)` once it cannot be (refused, or no reconnect
    /// left), `None` while attempts go on.
    pub fn on_event(&mut self, event: &Event) -> Option<Result<(), Error>> {
        match event {
            Event::Connected(_) => Some(Ok(())),
            Event::Disconnected {
                reason,
                reconnect_at,
            } => {
                if let DisconnectReason::Refused { reason_code, .. } = reason {
                    return Some(Err(Error::ConnectionRefused {
                        reason_code: *reason_code,
                    }));
                }
                if reconnect_at.is_none() {
                    return Some(Err(Error::Disconnected(reason.clone())));
                }
                self.last_failure = Some(reason.clone());
                None
            }
            _ => None,
        }
    }

    /// The error when the time ran out: why the attempts failed, if they did.
    pub fn timed_out(self) -> Error {
        self.last_failure
            .map_or(Error::Timeout, Error::Disconnected)
    }
}

/// Maps the driver's clock onto the session's [`Instant`]: the engine never reads a
/// clock, the driver reads this one.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    origin: std::time::Instant,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Clock {
    /// A clock whose origin is now.
    pub fn new() -> Clock {
        Clock {
            origin: std::time::Instant::now(),
        }
    }

    /// The session instant of now.
    pub fn now(&self) -> Instant {
        Instant::from_duration(self.origin.elapsed())
    }

    /// The std instant of a session instant (for timers).
    pub fn to_std(&self, t: Instant) -> std::time::Instant {
        self.origin + t.duration_since_origin()
    }
}

/// The outcome a completion event reports to its waiter.
fn completion(event: Event) -> Result<Completion, Error> {
    match event {
        Event::PublishCompleted { reason_code, .. } => Ok(Completion::Published(reason_code)),
        Event::SubscribeCompleted { reason_codes, .. } => Ok(Completion::Subscribed(reason_codes)),
        Event::UnsubscribeCompleted { reason_codes, .. } => {
            Ok(Completion::Unsubscribed(reason_codes))
        }
        Event::OperationFailed { error, .. } => Err(Error::Operation(error)),
        // `route` passes completion events only.
        _ => Ok(Completion::Sent),
    }
}
