//! An `mqtt_session::Session` driven by an arbitrary sequence of inputs, as the crate's
//! driving contract describes: the first connection's handshake is answered with a valid
//! CONNACK (the version and the CONNACK's fields chosen by the input), then come
//! arbitrary received bytes, well-formed server packets built from arbitrary fields
//! (packet identifiers taken from what the client sent, so they hit live state), answers
//! of a well-behaved broker to what the client sent, application calls with arbitrary
//! arguments, time (a driver that wakes at each deadline, or a late one), transport loss,
//! failed and successful reconnects, and a restart from the saved session state.
//!
//! Checked after every input (see `Driver::check` and `Driver::on_event`):
//! * no panic, and every drain loop ends within a generous bound (else: an endless loop);
//! * `poll_timeout`, after the outputs are drained, is never before the last input's
//!   `now` (the documented promise), and a driver that calls `handle_timeout` whenever the
//!   deadline is due never spins at one instant;
//! * every operation that the API says completes (publish at QoS 1/2, subscribe,
//!   unsubscribe) gets exactly one completion or failure event, with one reason code per
//!   topic filter; nothing else gets one; at the end the session is disconnected and then
//!   every such operation must have had its event;
//! * once `is_closed()`, no input makes any output (action, bytes, event);
//! * everything the client writes decodes as valid client packets of its version, the
//!   first packet of each connection is CONNECT, and after CONNACK no packet exceeds the
//!   server's Maximum Packet Size;
//! * `queued()` stays within `QueueLimits::max_messages`, the queued payload bytes within
//!   `max_bytes`, `in_flight()` within the largest in-flight window any connection allowed
//!   (the server's Receive Maximum, capped by `max_in_flight`, 20 under 3.1.x by default);
//! * a `Disconnected` event's `reconnect_at` is not in the past.
#![no_main]

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{
    Auth, ConnAck, ConnAckProperties, Decoder, Disconnect, DisconnectProperties, Encode,
    MqttString, Packet, PacketId, ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish,
    PublishProperties, QoS, ReasonCode, RetainHandling, Role, SubAck, SubscribeProperties,
    Subscription, SubscriptionOptions, TopicFilter, TopicName, UnsubAck, UnsubscribeProperties,
    UserProperty, Will,
};
use mqtt_session::{
    AckToken, Action, DisconnectOptions, Event, Instant, OperationId, Options,
    PendingOnSessionLoss, QueueLimits, QueueOverflow, ReconnectPolicy, Session, SessionLossPolicy,
};

/// Outputs in one drain before it counts as an endless loop.
const DRAIN_BOUND: usize = 100_000;
/// Timeouts handled at one instant before the driver counts as spinning.
const SPIN_BOUND: usize = 64;
/// Timeouts handled in one advance of time.
const ADVANCE_BOUND: usize = 100_000;

const TOPICS: [&str; 8] = ["a", "a/b", "b", "$SYS/x", "a/b/c", "s/1", "é/ü", "/"];
const FILTERS: [&str; 8] = [
    "a",
    "a/#",
    "+/b",
    "#",
    "$share/g/a/b",
    "$SYS/#",
    "a/+/c",
    "+",
];

#[derive(Debug, Arbitrary)]
struct ConnAckSpec {
    session_present: bool,
    receive_maximum: Option<u8>,
    maximum_qos: Option<u8>,
    retain_available: Option<bool>,
    maximum_packet_size: Option<u16>,
    topic_alias_maximum: Option<u8>,
    server_keep_alive: Option<u8>,
    session_expiry: Option<u8>,
    assign_client_id: bool,
    wildcard: Option<bool>,
    subscription_ids: Option<bool>,
    shared: Option<bool>,
}

#[derive(Debug, Arbitrary)]
struct Setup {
    version: u8,
    clean_start: bool,
    keep_alive: u8,
    session_expiry: u8,
    receive_maximum: u8,
    max_in_flight: Option<u8>,
    queue_messages: u8,
    queue_bytes: u16,
    drop_oldest: bool,
    reconnect: bool,
    min_delay_ms: u16,
    max_delay_ms: u16,
    jitter: u8,
    seed: u64,
    auto_ack: bool,
    topic_alias_maximum: u8,
    maximum_packet_size: Option<u16>,
    ping_timeout_ms: Option<u16>,
    connect_timeout_ms: u16,
    auth: bool,
    problem_information: Option<bool>,
    strict_receive_maximum: bool,
    outgoing_aliases: bool,
    resubscribe: bool,
    fail_pending: bool,
    servers: u8,
    will: bool,
    empty_client_id: bool,
    borrowed_transmit: bool,
    auto_open: bool,
    connack: ConnAckSpec,
}

#[derive(Debug, Arbitrary)]
enum PidSel {
    /// One of the identifiers the client used recently.
    Recent(u8),
    Raw(u16),
}

#[derive(Debug, Arbitrary)]
enum ServerPacket {
    ConnAck {
        session_present: bool,
        reason: u8,
        spec: ConnAckSpec,
    },
    Publish {
        topic: u8,
        qos: u8,
        dup: bool,
        retain: bool,
        pid: PidSel,
        alias: Option<u8>,
        subscription_id: Option<u8>,
        payload: Vec<u8>,
        properties: bool,
    },
    PubAck(PidSel, u8),
    PubRec(PidSel, u8),
    PubRel(PidSel, u8),
    PubComp(PidSel, u8),
    SubAck {
        pid: PidSel,
        codes: Vec<u8>,
    },
    UnsubAck {
        pid: PidSel,
        codes: Vec<u8>,
    },
    PingResp,
    Disconnect {
        reason: u8,
        reference: bool,
    },
    Auth {
        reason: u8,
        same_method: bool,
    },
}

#[derive(Debug, Arbitrary)]
struct PublishSpec {
    topic: u8,
    qos: u8,
    retain: bool,
    payload_len: u16,
    expiry: Option<u8>,
    response_topic: bool,
    user_property: bool,
    correlation: bool,
    /// Set a property only the session may set (or the server may send).
    reserved: u8,
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Time passes; the driver wakes at every deadline on the way (or, `late`, only once
    /// at the end).
    Advance {
        ms: u16,
        late: bool,
    },
    AdvanceSecs(u8),
    /// The transport asked for is up.
    Open,
    /// The transport asked for could not be opened.
    OpenFailed {
        error: bool,
    },
    /// The transport broke.
    Lost {
        error: bool,
    },
    /// Arbitrary bytes from the server.
    Raw(Vec<u8>),
    /// One well-formed server packet.
    Packet(ServerPacket),
    /// A well-behaved broker answers what the client sent; bit i of `mask` says whether
    /// the i-th unanswered packet (cyclically) is answered or forgotten.
    Answer {
        mask: u8,
    },
    Publish(PublishSpec),
    Subscribe {
        filters: Vec<(u8, u8)>,
        subscription_id: Option<u32>,
        user_property: bool,
    },
    Unsubscribe {
        filters: Vec<u8>,
    },
    Acknowledge {
        index: u8,
        reason: u8,
    },
    Authenticate(Option<Vec<u8>>),
    Reauthenticate(Option<Vec<u8>>),
    Disconnect {
        publish_will: bool,
        session_expiry: Option<u8>,
        reason_string: bool,
    },
    Connect,
    /// The process restarts: the session is saved with `state()` and restored.
    Restart,
    /// The driver gives up (its store failed): `Session::abort`.
    Abort,
}

#[derive(Debug, Arbitrary)]
struct Input {
    setup: Setup,
    ops: Vec<Op>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Publish,
    Subscribe(usize),
    Unsubscribe(usize),
}

/// The server end of the current transport.
struct Link {
    /// What the client wrote, not yet decoded.
    wire: BytesMut,
    decoder: Decoder,
    /// Client packets the broker has not answered yet.
    unanswered: VecDeque<Packet>,
    saw_connect: bool,
    /// The server's Maximum Packet Size, once a CONNACK accepted the connection.
    server_maximum: Option<usize>,
    /// Bytes for the session, not yet read (the driver's one receive buffer).
    inbox: BytesMut,
}

struct Driver {
    session: Session,
    options: Options,
    version: ProtocolVersion,
    now: Instant,
    opening: bool,
    link: Option<Link>,
    setup_connack: ConnAckSpecOwned,
    auto_open: bool,
    borrowed_transmit: bool,
    /// Operations waiting for their one completion.
    pending: HashMap<OperationId, Kind>,
    /// Operations that never complete (QoS 0 publishes), and those that did.
    no_completion: HashSet<OperationId>,
    tokens: Vec<AckToken>,
    recent_ids: VecDeque<u16>,
    closed: bool,
    max_window: usize,
    /// What happened, for `FUZZ_SESSION_STATS=1` (how deep the inputs get).
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    connected: usize,
    messages: usize,
    completions: usize,
    failures: usize,
    max_in_flight: usize,
    max_queued: usize,
    violations: usize,
}

/// The CONNACK fields of the setup, kept for every connection.
struct ConnAckSpecOwned(ConnAckSpec);

fn version_of(v: u8) -> ProtocolVersion {
    match v % 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    }
}

fn qos_of(q: u8) -> QoS {
    QoS::from_u8(q % 3).unwrap_or_default()
}

fn reason_of(r: u8) -> ReasonCode {
    ReasonCode::from_u8(r).unwrap_or(ReasonCode::Success)
}

fn s(v: &str) -> MqttString {
    MqttString::try_from(v).expect("a valid string")
}

fn options_of(setup: &Setup) -> Options {
    let version = version_of(setup.version);
    let client_id = if setup.empty_client_id && version.is_v5() {
        MqttString::new()
    } else {
        s("fuzz")
    };
    let mut o = Options::new("s0:1883", client_id);
    o.protocol_version = version;
    o.clean_start = setup.clean_start;
    o.keep_alive = u16::from(setup.keep_alive);
    o.ping_timeout = setup
        .ping_timeout_ms
        .map(|ms| Duration::from_millis(u64::from(ms)));
    o.connect_timeout = Duration::from_millis(u64::from(setup.connect_timeout_ms.max(100)));
    o.session_expiry_interval = match setup.session_expiry {
        255 => u32::MAX,
        n => u32::from(n),
    };
    o.receive_maximum = u16::from(setup.receive_maximum.max(1));
    o.strict_receive_maximum = setup.strict_receive_maximum;
    o.maximum_packet_size = setup.maximum_packet_size.map(|m| u32::from(m.max(64)));
    o.topic_alias_maximum = u16::from(setup.topic_alias_maximum % 8);
    o.request_problem_information = setup.problem_information;
    if setup.auth && version.is_v5() {
        o.authentication_method = Some(s("SCRAM"));
        o.authentication_data = Some(Bytes::from_static(b"first"));
    }
    o.max_in_flight = setup.max_in_flight.map(u16::from);
    o.outgoing_topic_aliases = setup.outgoing_aliases;
    o.auto_ack = setup.auto_ack;
    o.queue = QueueLimits {
        max_messages: usize::from(setup.queue_messages % 17),
        max_bytes: usize::from(setup.queue_bytes),
        overflow: if setup.drop_oldest {
            QueueOverflow::DropOldest
        } else {
            QueueOverflow::RejectNew
        },
        max_unsent_bytes: usize::from(setup.queue_bytes) * 4,
    };
    o.reconnect = ReconnectPolicy {
        enabled: setup.reconnect,
        min_delay: Duration::from_millis(u64::from(setup.min_delay_ms)),
        max_delay: Duration::from_millis(u64::from(setup.max_delay_ms)),
        jitter_percent: setup.jitter % 101,
        seed: setup.seed,
    };
    o.servers = (0..=setup.servers % 3)
        .map(|i| format!("s{i}:1883"))
        .collect();
    o.on_session_loss = SessionLossPolicy {
        resubscribe: setup.resubscribe,
        pending: if setup.fail_pending {
            PendingOnSessionLoss::Fail
        } else {
            PendingOnSessionLoss::Resend
        },
    };
    if setup.will {
        o.will = Some(Will::new(TopicName::try_from("will").unwrap(), "gone"));
    }
    o
}

fn connack_properties(spec: &ConnAckSpec, auth_method: Option<MqttString>) -> ConnAckProperties {
    ConnAckProperties {
        session_expiry_interval: spec.session_expiry.map(u32::from),
        receive_maximum: spec
            .receive_maximum
            .and_then(|r| NonZeroU16::new(u16::from(r))),
        maximum_qos: spec.maximum_qos.map(|q| qos_of(q % 2)),
        retain_available: spec.retain_available,
        maximum_packet_size: spec
            .maximum_packet_size
            .and_then(|m| NonZeroU32::new(u32::from(m.max(32)))),
        assigned_client_identifier: spec.assign_client_id.then(|| s("assigned")),
        topic_alias_maximum: spec.topic_alias_maximum.map(|t| u16::from(t % 8)),
        server_keep_alive: spec.server_keep_alive.map(u16::from),
        wildcard_subscription_available: spec.wildcard,
        subscription_identifier_available: spec.subscription_ids,
        shared_subscription_available: spec.shared,
        authentication_method: auth_method,
        ..ConnAckProperties::default()
    }
}

impl Driver {
    fn new(setup: Setup) -> Driver {
        let options = options_of(&setup);
        Driver {
            session: Session::new(options.clone()),
            version: options.protocol_version,
            options,
            now: Instant::ZERO,
            opening: false,
            link: None,
            auto_open: setup.auto_open,
            borrowed_transmit: setup.borrowed_transmit,
            setup_connack: ConnAckSpecOwned(setup.connack),
            pending: HashMap::new(),
            no_completion: HashSet::new(),
            tokens: Vec::new(),
            recent_ids: VecDeque::new(),
            closed: false,
            max_window: 0,
            stats: Stats::default(),
        }
    }

    fn remember_id(&mut self, id: PacketId) {
        if self.recent_ids.len() >= 32 {
            self.recent_ids.pop_front();
        }
        self.recent_ids.push_back(id.get());
    }

    fn pid(&self, sel: &PidSel) -> PacketId {
        let raw = match sel {
            PidSel::Recent(i) if !self.recent_ids.is_empty() => {
                self.recent_ids[usize::from(*i) % self.recent_ids.len()]
            }
            PidSel::Recent(i) => u16::from(*i),
            PidSel::Raw(r) => *r,
        };
        PacketId::new(raw).unwrap_or(PacketId::MIN)
    }

    // ----- outputs -----

    /// Drains every output, in the contract's order, until nothing is left; then checks
    /// the invariants.
    fn drain(&mut self) {
        let mut budget = DRAIN_BOUND;
        let mut take = |what: &str| {
            budget = budget
                .checked_sub(1)
                .unwrap_or_else(|| panic!("endless {what} output"));
        };
        loop {
            let mut any = false;
            let mut close = false;
            while let Some(action) = self.session.poll_action() {
                take("action");
                any = true;
                match action {
                    Action::Open { .. } => {
                        // A new transport replaces any current one (and a Close before
                        // this Open was for the old one).
                        self.link = None;
                        self.opening = true;
                        close = false;
                    }
                    Action::Close => close = true,
                    _ => {}
                }
            }
            let mut chunks: Vec<Bytes> = Vec::new();
            if self.borrowed_transmit {
                let _ = self.session.write_transmit(|b| {
                    chunks.push(Bytes::copy_from_slice(b));
                    Ok::<(), ()>(())
                });
            } else {
                while let Some(chunk) = self.session.poll_transmit() {
                    chunks.push(chunk);
                    take("transmit");
                }
            }
            for chunk in chunks {
                any = true;
                self.written(&chunk);
            }
            if close {
                self.link = None;
                self.opening = false;
            }
            while let Some(event) = self.session.poll_event() {
                take("event");
                any = true;
                self.on_event(event);
            }
            if !any {
                break;
            }
            // Auto-open: a driver whose connections always come up.
            if self.auto_open && self.opening && !self.closed {
                self.opening = false;
                self.connected();
            }
        }
        self.check();
    }

    /// Bytes the client wrote: decoded as the server would, and checked.
    fn written(&mut self, chunk: &[u8]) {
        let Some(link) = self.link.as_mut() else {
            // No transport: a driver has nowhere to write them.
            return;
        };
        link.wire.extend_from_slice(chunk);
        let mut ids = Vec::new();
        loop {
            let packet = match link.decoder.decode(&mut link.wire) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => panic!("the client wrote a malformed packet: {e} ({e:?})"),
            };
            if !link.saw_connect {
                assert!(
                    matches!(packet, Packet::Connect(_)),
                    "the first packet of a connection is {packet:?}, not CONNECT"
                );
                link.saw_connect = true;
            }
            if let Some(maximum) = link.server_maximum {
                let size = packet
                    .encoded_len(self.version)
                    .expect("decoded packets encode");
                assert!(
                    size <= maximum,
                    "the client sent {size} bytes over the server's maximum {maximum}: {packet:?}"
                );
            }
            match &packet {
                Packet::Publish(p) => ids.extend(p.packet_id),
                Packet::PubRel(p) => ids.push(p.packet_id),
                Packet::Subscribe(p) => ids.push(p.packet_id),
                Packet::Unsubscribe(p) => ids.push(p.packet_id),
                _ => {}
            }
            if link.unanswered.len() < 256 {
                link.unanswered.push_back(packet);
            }
        }
        for id in ids {
            self.remember_id(id);
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Connected(c) => {
                self.stats.connected += 1;
                let cap = match self.options.max_in_flight {
                    Some(cap) => usize::from(cap.max(1)),
                    None if !self.version.is_v5() => 20,
                    None => usize::MAX,
                };
                let window = usize::from(c.limits.receive_maximum).min(cap);
                self.max_window = self.max_window.max(window);
                if let Some(link) = self.link.as_mut() {
                    link.server_maximum = Some(c.limits.maximum_packet_size);
                }
            }
            Event::Disconnected {
                reconnect_at,
                reason,
            } => {
                if matches!(reason, mqtt_session::DisconnectReason::ProtocolViolation(_)) {
                    self.stats.violations += 1;
                }
                if let Some(at) = reconnect_at {
                    assert!(
                        at >= self.now,
                        "reconnect_at {at:?} before now {:?}",
                        self.now
                    );
                }
            }
            Event::Message(m) => {
                self.stats.messages += 1;
                if let Some(token) = m.ack
                    && self.tokens.len() < 64
                {
                    self.tokens.push(token);
                }
            }
            Event::PublishCompleted { id, .. } => self.completed(id, |k| k == Kind::Publish, 0),
            Event::SubscribeCompleted { id, reason_codes } => {
                self.completed(id, |k| matches!(k, Kind::Subscribe(_)), reason_codes.len())
            }
            Event::UnsubscribeCompleted { id, reason_codes } => self.completed(
                id,
                |k| matches!(k, Kind::Unsubscribe(_)),
                reason_codes.len(),
            ),
            Event::OperationFailed { id, .. } => self.completed(id, |_| true, usize::MAX),
            _ => {}
        }
    }

    /// One completion for `id`: it must be pending, of the right kind, with one reason
    /// code per topic filter (`codes`; `usize::MAX` for a failure).
    fn completed(&mut self, id: OperationId, kind_ok: impl Fn(Kind) -> bool, codes: usize) {
        let Some(kind) = self.pending.remove(&id) else {
            panic!(
                "a completion for operation {id:?}, which {}",
                if self.no_completion.contains(&id) {
                    "never completes or completed already"
                } else {
                    "does not exist"
                }
            );
        };
        assert!(kind_ok(kind), "completion of the wrong kind for {kind:?}");
        if codes == usize::MAX {
            self.stats.failures += 1;
        } else {
            self.stats.completions += 1;
        }
        match kind {
            Kind::Subscribe(n) | Kind::Unsubscribe(n) if codes != usize::MAX => {
                assert_eq!(codes, n, "one reason code per topic filter");
            }
            _ => {}
        }
        self.no_completion.insert(id);
    }

    fn check(&mut self) {
        if let Some(t) = self.session.poll_timeout() {
            assert!(
                t >= self.now,
                "poll_timeout {t:?} is in the past at {:?} (idle, outputs drained)",
                self.now
            );
            // "While connected and idle, poll_timeout is the next keep-alive instant, always
            // after the last input's now": strictly after, except with a ping timeout of
            // zero, where the PINGRESP deadline is the instant the PINGREQ went out.
            if self.session.is_connected() && self.options.ping_timeout != Some(Duration::ZERO) {
                assert!(
                    t > self.now,
                    "connected and idle, poll_timeout {t:?} is not after now {:?}",
                    self.now
                );
            }
        }
        if self.session.is_closed() {
            assert_eq!(
                self.session.poll_timeout(),
                None,
                "a closed session wants a timeout"
            );
        }
        let limits = self.options.queue;
        let queued = self.session.queued();
        assert!(
            queued <= limits.max_messages,
            "{queued} messages queued, limit {}",
            limits.max_messages
        );
        if queued > 0 {
            let bytes: usize = self
                .session
                .state()
                .queued
                .iter()
                .map(|q| q.publish.payload.len())
                .sum();
            assert!(
                bytes <= limits.max_bytes,
                "{bytes} payload bytes queued, limit {}",
                limits.max_bytes
            );
        }
        let in_flight = self.session.in_flight();
        self.stats.max_in_flight = self.stats.max_in_flight.max(in_flight);
        self.stats.max_queued = self.stats.max_queued.max(queued);
        assert!(
            in_flight <= self.max_window,
            "{in_flight} in flight, largest window {}",
            self.max_window
        );
        if self.session.is_closed() {
            self.closed = true;
        }
    }

    // ----- inputs -----

    /// Runs one input, then drains; a closed session must stay silent.
    fn input(&mut self, f: impl FnOnce(&mut Driver)) {
        let was_closed = self.closed;
        f(self);
        self.end_input(was_closed);
    }

    /// After an input: a session closed before it must have made no output; drain.
    fn end_input(&mut self, was_closed: bool) {
        if was_closed {
            assert!(
                self.session.poll_action().is_none(),
                "an action after close"
            );
            assert!(self.session.poll_transmit().is_none(), "bytes after close");
            assert!(self.session.poll_event().is_none(), "an event after close");
            assert!(self.session.is_closed(), "a closed session opened again");
        }
        self.drain();
    }

    fn connected(&mut self) {
        self.link = Some(Link {
            wire: BytesMut::new(),
            decoder: Decoder::new(self.version).with_sender(Role::Client),
            unanswered: VecDeque::new(),
            saw_connect: false,
            server_maximum: None,
            inbox: BytesMut::new(),
        });
        self.session.handle_connected(self.now);
    }

    fn receive(&mut self, bytes: &[u8]) {
        let now = self.now;
        let Some(link) = self.link.as_mut() else {
            return;
        };
        link.inbox.extend_from_slice(bytes);
        let mut inbox = std::mem::take(&mut link.inbox);
        self.session.handle_read(now, &mut inbox);
        if let Some(link) = self.link.as_mut() {
            link.inbox = inbox;
        }
    }

    fn send_packet(&mut self, packet: impl Into<Packet>) {
        let mut buf = BytesMut::new();
        if packet.into().encode(self.version, &mut buf).is_ok() {
            let bytes = buf.freeze();
            self.input(|d| d.receive(&bytes));
        }
    }

    /// Time passes to `now + by`: the driver wakes at each deadline on the way (or, when
    /// `late`, once at the end).
    fn advance(&mut self, by: Duration, late: bool) {
        let to = self.now + by;
        if late {
            self.now = to;
        }
        let mut same_instant = 0;
        let mut last = None;
        for _ in 0..ADVANCE_BOUND {
            match self.session.poll_timeout() {
                Some(t) if t <= to => {
                    if Some(t) == last || t <= self.now {
                        same_instant += 1;
                        assert!(
                            same_instant <= SPIN_BOUND,
                            "the driver spins: poll_timeout stays at {t:?} (now {:?})",
                            self.now
                        );
                    } else {
                        same_instant = 0;
                    }
                    last = Some(t);
                    if t > self.now {
                        self.now = t;
                    }
                    let now = self.now;
                    self.input(|d| d.session.handle_timeout(now));
                }
                _ => {
                    self.now = to;
                    return;
                }
            }
        }
        panic!("more than {ADVANCE_BOUND} timeouts in one advance of {by:?}");
    }

    /// The broker's answers to the client packets it has not answered yet.
    fn answer(&mut self, mask: u8) {
        let version = self.version;
        let Some(link) = self.link.as_mut() else {
            return;
        };
        let spec = &self.setup_connack.0;
        let mut out = BytesMut::new();
        let mut i = 0;
        while let Some(packet) = link.unanswered.pop_front() {
            let answer = mask & (1 << (i % 8)) != 0;
            i += 1;
            if !answer {
                continue;
            }
            let reply: Option<Packet> = match packet {
                Packet::Connect(c) => {
                    let mut ack = ConnAck::new(ReasonCode::Success);
                    ack.session_present = !c.clean_start && spec.session_present;
                    if version.is_v5() {
                        ack.properties =
                            connack_properties(spec, c.properties.authentication_method.clone());
                    }
                    Some(ack.into())
                }
                Packet::Publish(p) => match (p.qos, p.packet_id) {
                    (QoS::AtLeastOnce, Some(id)) => Some(PubAck::new(id).into()),
                    (QoS::ExactlyOnce, Some(id)) => Some(PubRec::new(id).into()),
                    _ => None,
                },
                Packet::PubRel(r) => Some(PubComp::new(r.packet_id).into()),
                Packet::Subscribe(sub) => Some(
                    SubAck {
                        packet_id: sub.packet_id,
                        reason_codes: sub
                            .subscriptions
                            .iter()
                            .map(|s| match s.options.qos {
                                QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
                                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                            })
                            .collect(),
                        properties: Default::default(),
                    }
                    .into(),
                ),
                Packet::Unsubscribe(u) => Some(
                    UnsubAck {
                        packet_id: u.packet_id,
                        reason_codes: if version.is_v5() {
                            vec![ReasonCode::Success; u.filters.len()]
                        } else {
                            Vec::new()
                        },
                        properties: Default::default(),
                    }
                    .into(),
                ),
                Packet::PingReq => Some(Packet::PingResp),
                Packet::Auth(a) => a
                    .properties
                    .authentication_method
                    .clone()
                    .map(|m| Auth::new(ReasonCode::Success, m, None).into()),
                _ => None,
            };
            if let Some(reply) = reply {
                let _ = reply.encode(version, &mut out);
            }
        }
        let bytes = out.freeze();
        self.input(|d| d.receive(&bytes));
    }

    fn server_packet(&mut self, p: &ServerPacket) {
        let packet: Packet = match p {
            ServerPacket::ConnAck {
                session_present,
                reason,
                spec,
            } => {
                let mut ack = ConnAck::new(reason_of(*reason));
                ack.session_present = *session_present;
                if self.version.is_v5() {
                    ack.properties =
                        connack_properties(spec, self.options.authentication_method.clone());
                }
                ack.into()
            }
            ServerPacket::Publish {
                topic,
                qos,
                dup,
                retain,
                pid,
                alias,
                subscription_id,
                payload,
                properties,
            } => {
                let qos = qos_of(*qos);
                let topic = match TOPICS.get(usize::from(*topic)) {
                    Some(t) => TopicName::try_from(*t).unwrap(),
                    None => TopicName::empty(),
                };
                let mut publish = Publish::new(topic, payload.clone())
                    .with_qos(qos, (qos != QoS::AtMostOnce).then(|| self.pid(pid)))
                    .with_retain(*retain);
                publish.dup = *dup && qos != QoS::AtMostOnce;
                if self.version.is_v5() {
                    let mut props = PublishProperties {
                        topic_alias: alias.and_then(|a| NonZeroU16::new(u16::from(a % 10))),
                        subscription_identifiers: subscription_id
                            .map(|i| vec![u32::from(i.max(1))])
                            .unwrap_or_default(),
                        ..PublishProperties::default()
                    };
                    if *properties {
                        props.message_expiry_interval = Some(30);
                        props.user_properties = vec![UserProperty::new(s("k"), s("v"))];
                        props.content_type = Some(s("text/plain"));
                    }
                    publish = publish.with_properties(props);
                }
                publish.into()
            }
            ServerPacket::PubAck(pid, r) => {
                PubAck::with_reason(self.pid(pid), reason_of(*r)).into()
            }
            ServerPacket::PubRec(pid, r) => {
                PubRec::with_reason(self.pid(pid), reason_of(*r)).into()
            }
            ServerPacket::PubRel(pid, r) => {
                PubRel::with_reason(self.pid(pid), reason_of(*r)).into()
            }
            ServerPacket::PubComp(pid, r) => {
                PubComp::with_reason(self.pid(pid), reason_of(*r)).into()
            }
            ServerPacket::SubAck { pid, codes } => SubAck {
                packet_id: self.pid(pid),
                reason_codes: codes.iter().take(8).map(|&c| reason_of(c)).collect(),
                properties: Default::default(),
            }
            .into(),
            ServerPacket::UnsubAck { pid, codes } => UnsubAck {
                packet_id: self.pid(pid),
                reason_codes: if self.version.is_v5() {
                    codes.iter().take(8).map(|&c| reason_of(c)).collect()
                } else {
                    Vec::new()
                },
                properties: Default::default(),
            }
            .into(),
            ServerPacket::PingResp => Packet::PingResp,
            ServerPacket::Disconnect { reason, reference } => {
                let mut d = Disconnect::new(reason_of(*reason));
                if *reference && self.version.is_v5() {
                    d.properties = DisconnectProperties {
                        server_reference: Some(s("moved:1883 other:1883")),
                        ..DisconnectProperties::default()
                    }
                    .into();
                }
                d.into()
            }
            ServerPacket::Auth {
                reason,
                same_method,
            } => {
                let method = match (&self.options.authentication_method, same_method) {
                    (Some(m), true) => m.clone(),
                    _ => s("OTHER"),
                };
                Auth::new(reason_of(*reason), method, Some(Bytes::from_static(b"x"))).into()
            }
        };
        self.send_packet(packet);
    }

    fn publish(&mut self, spec: &PublishSpec) {
        let qos = qos_of(spec.qos);
        let topic = match TOPICS.get(usize::from(spec.topic)) {
            Some(t) => TopicName::try_from(*t).unwrap(),
            None => TopicName::empty(),
        };
        let payload = Bytes::from(vec![b'p'; usize::from(spec.payload_len % 4096)]);
        let mut props = PublishProperties {
            message_expiry_interval: spec.expiry.map(u32::from),
            response_topic: spec
                .response_topic
                .then(|| TopicName::try_from("reply").unwrap()),
            correlation_data: spec.correlation.then(|| Bytes::from_static(b"c")),
            user_properties: if spec.user_property {
                vec![UserProperty::new(s("k"), s("v"))]
            } else {
                Vec::new()
            },
            ..PublishProperties::default()
        };
        match spec.reserved % 8 {
            1 => props.topic_alias = NonZeroU16::new(1),
            2 => props.subscription_identifiers = vec![1],
            _ => {}
        }
        let mut message = Publish::new(topic, payload)
            .with_qos(qos, None)
            .with_retain(spec.retain);
        if self.version.is_v5() || spec.reserved % 8 == 3 {
            message = message.with_properties(props);
        }
        let was_closed = self.closed;
        let result = self.session.publish(self.now, message);
        self.started(result, qos != QoS::AtMostOnce, Kind::Publish);
        self.end_input(was_closed);
    }

    /// An operation the API accepted (before its outputs are drained): record whether it
    /// completes.
    fn started(
        &mut self,
        result: Result<OperationId, mqtt_session::UsageError>,
        completes: bool,
        kind: Kind,
    ) {
        let Ok(id) = result else {
            return;
        };
        assert!(
            !self.closed || !completes,
            "a closed session accepted an operation"
        );
        assert!(
            !self.pending.contains_key(&id) && !self.no_completion.contains(&id),
            "operation id {id:?} used twice"
        );
        if completes {
            self.pending.insert(id, kind);
        } else {
            self.no_completion.insert(id);
        }
    }

    fn run(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Advance { ms, late } => self.advance(Duration::from_millis(u64::from(*ms)), *late),
            Op::AdvanceSecs(secs) => self.advance(Duration::from_secs(u64::from(*secs)), false),
            Op::Open => {
                if self.opening {
                    self.opening = false;
                    self.input(|d| d.connected());
                }
            }
            Op::OpenFailed { error } => {
                if self.opening {
                    self.opening = false;
                    self.input(|d| {
                        if *error {
                            d.session.handle_transport_error(now, "refused".into());
                        } else {
                            d.session.handle_closed(now);
                        }
                    });
                }
            }
            Op::Lost { error } => {
                self.link = None;
                self.input(|d| {
                    if *error {
                        d.session.handle_transport_error(now, "reset".into());
                    } else {
                        d.session.handle_closed(now);
                    }
                });
            }
            Op::Raw(bytes) => self.input(|d| d.receive(bytes)),
            Op::Packet(p) => self.server_packet(p),
            Op::Answer { mask } => self.answer(*mask),
            Op::Publish(spec) => self.publish(spec),
            Op::Subscribe {
                filters,
                subscription_id,
                user_property,
            } => {
                let subscriptions: Vec<Subscription> = filters
                    .iter()
                    .take(8)
                    .map(|&(f, o)| Subscription {
                        filter: TopicFilter::try_from(FILTERS[usize::from(f % 8)]).unwrap(),
                        options: SubscriptionOptions {
                            qos: qos_of(o),
                            no_local: o & 4 != 0,
                            retain_as_published: o & 8 != 0,
                            retain_handling: match (o >> 4) % 3 {
                                0 => RetainHandling::SendAtSubscribe,
                                1 => RetainHandling::SendIfNew,
                                _ => RetainHandling::DoNotSend,
                            },
                        },
                    })
                    .collect();
                let n = subscriptions.len();
                let properties = SubscribeProperties {
                    subscription_identifier: *subscription_id,
                    user_properties: if *user_property {
                        vec![UserProperty::new(s("k"), s("v"))]
                    } else {
                        Vec::new()
                    },
                };
                let was_closed = self.closed;
                let result = self.session.subscribe(now, subscriptions, properties);
                self.started(result, true, Kind::Subscribe(n));
                self.end_input(was_closed);
            }
            Op::Unsubscribe { filters } => {
                let filters: Vec<TopicFilter> = filters
                    .iter()
                    .take(8)
                    .map(|&f| TopicFilter::try_from(FILTERS[usize::from(f % 8)]).unwrap())
                    .collect();
                let n = filters.len();
                let was_closed = self.closed;
                let result =
                    self.session
                        .unsubscribe(now, filters, UnsubscribeProperties::default());
                self.started(result, true, Kind::Unsubscribe(n));
                self.end_input(was_closed);
            }
            Op::Acknowledge { index, reason } => {
                if self.tokens.is_empty() {
                    return;
                }
                let token = self
                    .tokens
                    .swap_remove(usize::from(*index) % self.tokens.len());
                let reason = match reason % 4 {
                    0 => ReasonCode::Success,
                    _ => reason_of(*reason),
                };
                let mut handed_back = None;
                self.input(|d| {
                    if let Err(e) = d.session.acknowledge(now, token, reason) {
                        handed_back = e.token;
                    }
                });
                // A refused reason code hands the token back, to be used again.
                self.tokens.extend(handed_back);
            }
            Op::Authenticate(data) => self.input(|d| {
                let _ = d.session.authenticate(now, data.clone().map(Bytes::from));
            }),
            Op::Reauthenticate(data) => self.input(|d| {
                let _ = d.session.reauthenticate(now, data.clone().map(Bytes::from));
            }),
            Op::Disconnect {
                publish_will,
                session_expiry,
                reason_string,
            } => {
                let options = DisconnectOptions {
                    publish_will: *publish_will,
                    session_expiry_interval: session_expiry.map(u32::from),
                    reason_string: reason_string.then(|| s("bye")),
                    user_properties: Vec::new(),
                };
                self.input(|d| {
                    let _ = d.session.disconnect(now, options);
                });
            }
            Op::Connect => self.input(|d| {
                let _ = d.session.connect(now);
            }),
            Op::Abort => self.input(|d| {
                d.session.abort(now, "the session store failed".into());
            }),
            Op::Restart => {
                if self.closed {
                    return;
                }
                // The process dies with its transport and its waiting outputs.
                let state = self.session.state();
                self.link = None;
                self.opening = false;
                self.tokens.clear();
                self.session = Session::restore(self.options.clone(), state);
                self.input(|d| {
                    d.session
                        .connect(now)
                        .expect("a restored session can connect");
                });
            }
        }
    }

    /// The end: a disconnect fails every operation still waiting.
    fn finish(&mut self) {
        let now = self.now;
        if !self.closed {
            self.input(|d| {
                d.session
                    .disconnect(now, DisconnectOptions::default())
                    .expect("disconnect of an open session");
            });
        }
        assert!(self.session.is_closed());
        assert!(
            self.pending.is_empty(),
            "operations without a completion after the session closed: {:?}",
            self.pending
        );
    }
}

fuzz_target!(|input: Input| {
    let mut d = Driver::new(input.setup);
    // The first connection: connect, open, CONNECT, a valid CONNACK.
    let now = d.now;
    d.input(|d| d.session.connect(now).expect("the options encode"));
    if d.opening {
        d.opening = false;
        d.input(|d| d.connected());
    }
    d.answer(0xFF);
    for op in input.ops.iter().take(256) {
        d.run(op);
    }
    d.finish();
    if std::env::var_os("FUZZ_SESSION_STATS").is_some() {
        eprintln!("stats {:?}", d.stats);
    }
});
