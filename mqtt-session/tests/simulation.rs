//! Property test: a session against a simulated broker over a seeded, faulty network
//! (`sim`), for MQTT 3.1.1 and 5.0, with automatic and manual acknowledgements.
//!
//! Each case configures the session (version, acknowledgements, persistent or clean
//! session, session expiry, keep alive, its Receive Maximum and whether it enforces it,
//! in-flight cap, topic aliases, session-loss policy), the broker (Receive Maximum, 3.1.1
//! window, Topic Alias Maximum, Maximum QoS, Server Keep Alive, a topic it refuses) and the
//! network (chunk sizes, delays), then runs up to 30 random operations: publish QoS 0/1/2
//! (single or bursts, small or over 512 bytes) to topics the client is subscribed to
//! (`s/a`, `s/b` under a fixed `s/#` QoS 2 subscription) or may be (`t/a`, `t/b`),
//! subscribe / unsubscribe filters over them, let time pass, acknowledge (5.0: or refuse)
//! a message by hand, and at most five faults: cut the connection at a random byte offset,
//! silently kill it (keep alive on), refuse a reconnect, a server DISCONNECT, the broker
//! losing the session. Rarely the application disconnects mid-run. Then a quiet period
//! without faults until everything settles, idling, and a final DISCONNECT.
//!
//! A *session loss* is the broker discarding the client's session (restart, expiry, clean
//! start, the end of a non-persistent session's connection); `Broker::losses` counts them
//! and numbers the broker's sessions. Guarantees restart after one: a message in flight
//! when its session was lost may be lost, or (`PendingOnSessionLoss::Resend`) come twice.
//! A session the broker re-creates on a connection whose CONNACK never reaches the client
//! cannot be noticed (the next CONNACK truthfully says Session Present 1): guarantees that
//! need the client to know are only checked for broker sessions whose start it saw.
//!
//! Properties (a failure panics with the reason; `SIM_TRACE=file` keeps the last failing
//! case's trace, `SIM_STATS=1` prints coverage counters per case):
//! 1. Operations: every QoS 1/2 publish, subscribe and unsubscribe ends in exactly one
//!    completion or failure event, with the documented reason codes (SUBACK: the QoS
//!    granted); after the quiet period all have ended. The only failures: `SessionLost`
//!    (policy `Fail`, after a session restart), `SessionClosed` (after the application's
//!    disconnect), `Refused(0x87)` (the refused topic), `Rejected(QoSNotSupported)` (above
//!    the broker's Maximum QoS). Acknowledging a delivered message by hand succeeds unless
//!    the session was lost since. No event for QoS 0 publishes or unknown operations.
//! 2. Client to broker: a completed QoS 1/2 publish was accepted by the broker; a QoS 2
//!    message is accepted at most once per broker session, and exactly once when no
//!    session loss happened between `publish` and its completion; QoS 0 at most once.
//! 3. Broker to client, per copy the broker routed (it tags each with a number): a QoS 1
//!    copy the client acknowledged (PUBACK) reached the application; a QoS 2 copy reaches
//!    it at most once (not counting copies the application refused: a refused one may come
//!    again, [MQTT-4.3.3-9]) and, acknowledged (PUBREC), at least once; a QoS 0 copy at
//!    most once. After the quiet period the broker's current session has nothing pending.
//! 4. End to end, for a persistent session: (a) whenever the client saw the broker's
//!    current session start, it subscribed again in it; (b) a message to `s/*` accepted in
//!    the current session after `s/#` was active in it, with no session loss since it was
//!    published, reaches the application: QoS 1 at least once, QoS 2 exactly once. A QoS
//!    2 message is delivered at QoS 2 at most once unless a loss happened after publish.
//! 5. Order, per topic and QoS level: (a) the first copies of messages the broker accepts
//!    come in publish order (the client sends in order and re-sends in order); (b) per
//!    topic and delivered QoS, the application gets the broker's copies in the order the
//!    broker routed them, which is the order it accepted the messages (ordered topics,
//!    [MQTT-4.6.0-5]); duplicates and gaps allowed.
//! 6. On every step (`sim::world`, `sim::monitor`, `sim::broker`): no protocol violation
//!    seen by the broker or on the wire (CONNECT first and once, nothing after DISCONNECT,
//!    Receive Maximum and in-flight cap, packet identifiers, DUP and re-send order, PUBACK
//!    / PUBREC order, Maximum QoS, topic aliases, keep alive), `poll_timeout()` never in
//!    the past once the outputs are drained and never due again right after
//!    `handle_timeout`, writes only on an open connection, no reconnect storm, no panic.
//!
//! The `regression_*` tests replay, scripted, the minimal cases it found.

mod sim;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::{MqttString, ProtocolVersion, Publish, QoS, ReasonCode, TopicFilter, TopicName};
use mqtt_session::{
    AckToken, DisconnectReason, Event, OperationError, OperationId, Options, PendingOnSessionLoss,
    UsageError,
};
use proptest::prelude::*;

use sim::broker::BrokerConfig;
use sim::network::NetConfig;
use sim::rng::Rng;
use sim::world::{Stamped, World};

const TOPICS: [&str; 4] = ["s/a", "s/b", "t/a", "t/b"];
/// Filters the application subscribes to and unsubscribes from (never `s/#`).
const FILTERS: [&str; 5] = ["t/a", "t/+", "t/#", "#", "+/b"];
const STABLE: &str = "s/#";

#[derive(Debug, Clone)]
enum Op {
    /// `count` messages at once, to one topic; `big` ones carry over 512 bytes.
    Publish {
        topic: usize,
        qos: u8,
        count: usize,
        big: bool,
    },
    Subscribe {
        filter: usize,
        qos: u8,
    },
    Unsubscribe {
        filter: usize,
    },
    Advance {
        ms: u64,
    },
    Cut {
        to_broker: bool,
        extra: u64,
    },
    LoseSession,
    RefuseNextOpen,
    /// The connection silently dies (only with keep alive on: otherwise nobody can tell).
    Blackhole,
    /// The broker closes the connection (5.0: DISCONNECT with one of `SERVER_REASONS`).
    ServerDisconnect {
        reason: usize,
    },
    /// Manual acknowledgements: acknowledge one message (5.0: maybe refuse it).
    Ack {
        pick: usize,
        refuse: bool,
    },
}

const SERVER_REASONS: [ReasonCode; 3] = [
    ReasonCode::ServerBusy,
    ReasonCode::ServerShuttingDown,
    ReasonCode::AdministrativeAction,
];

impl Op {
    fn is_fault(&self) -> bool {
        matches!(
            self,
            Op::Cut { .. }
                | Op::LoseSession
                | Op::RefuseNextOpen
                | Op::Blackhole
                | Op::ServerDisconnect { .. }
        )
    }
}

#[derive(Debug, Clone)]
struct Scenario {
    v5: bool,
    auto_ack: bool,
    persistent: bool,
    first_clean: bool,
    session_expiry: u32,
    keep_alive: u16,
    client_receive_maximum: u16,
    strict_receive_maximum: bool,
    max_in_flight: Option<u16>,
    topic_alias_maximum: u16,
    fail_on_loss: bool,
    broker: BrokerConfig,
    net: NetConfig,
    seed: u64,
    disconnect_after: Option<usize>,
    ops: Vec<Op>,
}

fn qos(n: u8) -> QoS {
    QoS::from_u8(n).unwrap_or(QoS::AtMostOnce)
}

fn qos_code(q: QoS) -> ReasonCode {
    match q {
        QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

// ----- the application's records -----

#[derive(Debug)]
struct Message {
    topic: usize,
    qos: QoS,
    /// Broker session losses when `publish` was called.
    losses_at_publish: u64,
    /// `Some(losses)` once completed.
    completed: Option<u64>,
    failed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Publish(usize),
    Publish0,
    Subscribe(QoS),
    Unsubscribe,
}

#[derive(Debug)]
struct OpRecord {
    kind: OpKind,
    restarts_at_start: u64,
    ended: bool,
}

#[derive(Debug)]
struct Received {
    /// The message.
    n: usize,
    /// The broker's routing number of this copy.
    r: usize,
    qos: QoS,
    /// The application refused it (5.0 manual acknowledgement 0x83). A refused QoS 2
    /// message may come again: after a failing PUBREC the identifier is free, so a re-sent
    /// PUBLISH (when that PUBREC was lost) is a new message ([MQTT-4.3.3-9]).
    refused: bool,
}

/// A message waiting for the application's acknowledgement.
#[derive(Debug)]
struct Token {
    token: AckToken,
    /// `Model::restarts` when it arrived.
    restarts: u64,
    /// Its place in `Model::received`.
    index: usize,
}

struct Model {
    v5: bool,
    auto_ack: bool,
    /// The broker's Maximum QoS (5.0).
    maximum_qos: QoS,
    refused_topic: Option<&'static str>,
    fail_on_loss: bool,
    messages: Vec<Message>,
    ops: BTreeMap<OperationId, OpRecord>,
    received: Vec<Received>,
    tokens: Vec<Token>,
    /// The broker sessions (by `Broker::losses`) the client saw start (Session Present 0).
    fresh_epochs: std::collections::HashSet<u64>,
    /// Connected events with Session Present 0: the client's session started afresh.
    restarts: u64,
    /// The application disconnected.
    closed: bool,
    requested_disconnects: u64,
}

impl Model {
    fn new(s: &Scenario) -> Model {
        Model {
            v5: s.v5,
            auto_ack: s.auto_ack,
            maximum_qos: if s.v5 {
                s.broker.maximum_qos
            } else {
                QoS::ExactlyOnce
            },
            refused_topic: if s.v5 { s.broker.refused_topic } else { None },
            fail_on_loss: s.fail_on_loss,
            messages: Vec::new(),
            ops: BTreeMap::new(),
            received: Vec::new(),
            tokens: Vec::new(),
            fresh_epochs: Default::default(),
            restarts: 0,
            closed: false,
            requested_disconnects: 0,
        }
    }

    fn start_op(&mut self, id: OperationId, kind: OpKind) {
        let old = self.ops.insert(
            id,
            OpRecord {
                kind,
                restarts_at_start: self.restarts,
                ended: false,
            },
        );
        assert!(old.is_none(), "operation id {id:?} handed out twice");
    }

    fn end_op(&mut self, id: OperationId, event: &Event) -> &OpRecord {
        let Some(op) = self.ops.get_mut(&id) else {
            panic!("{event:?} for an operation never started");
        };
        assert!(!op.ended, "operation {id:?} ended twice: {event:?}");
        assert!(
            op.kind != OpKind::Publish0,
            "an event for a QoS 0 publish: {event:?}"
        );
        op.ended = true;
        op
    }

    fn handle(&mut self, s: Stamped) {
        match s.event {
            Event::Connected(c) => {
                if !c.session_present {
                    self.restarts += 1;
                    self.fresh_epochs.insert(s.losses);
                }
            }
            Event::Disconnected { reason, .. } => {
                if reason == DisconnectReason::Requested {
                    self.requested_disconnects += 1;
                }
            }
            Event::Message(m) => {
                let text = std::str::from_utf8(&m.publish.payload).expect("payload");
                let (n, r) = text
                    .rsplit_once('/')
                    .and_then(|(n, r)| Some((payload_number(n.as_bytes()), r.parse().ok()?)))
                    .expect("payload: message / routing number");
                let msg = self
                    .messages
                    .get(n)
                    .unwrap_or_else(|| panic!("message {n} was never published"));
                assert_eq!(
                    m.publish.topic.as_str(),
                    TOPICS[msg.topic],
                    "message {n} arrived on the wrong topic"
                );
                assert!(
                    m.publish.qos <= msg.qos,
                    "message {n} published at {:?} arrived at {:?}",
                    msg.qos,
                    m.publish.qos
                );
                assert!(
                    m.publish.properties.topic_alias.is_none(),
                    "a Topic Alias left in a delivered message"
                );
                self.received.push(Received {
                    n,
                    r,
                    qos: m.publish.qos,
                    refused: false,
                });
                let index = self.received.len() - 1;
                match (m.ack, m.publish.qos) {
                    (Some(token), QoS::AtLeastOnce | QoS::ExactlyOnce) => self.tokens.push(Token {
                        token,
                        restarts: self.restarts,
                        index,
                    }),
                    (None, QoS::AtMostOnce) => {}
                    (None, _) => assert!(self.auto_ack, "no AckToken with manual acknowledgements"),
                    (Some(_), QoS::AtMostOnce) => panic!("an AckToken for a QoS 0 message"),
                }
            }
            ref e @ Event::PublishCompleted { id, reason_code } => {
                let op = self.end_op(id, e);
                let OpKind::Publish(n) = op.kind else {
                    panic!("{e:?} for {:?}", op.kind);
                };
                // `Event::PublishCompleted`: PUBACK below 0x80, or PUBCOMP 0x00 / 0x92.
                let ok = match self.messages[n].qos {
                    QoS::ExactlyOnce => matches!(
                        reason_code,
                        ReasonCode::Success | ReasonCode::PacketIdentifierNotFound
                    ),
                    _ => !reason_code.is_error(),
                };
                assert!(
                    ok,
                    "a completed publish with an unexpected reason code: {e:?}"
                );
                self.messages[n].completed = Some(s.losses);
            }
            ref e @ Event::SubscribeCompleted {
                id,
                ref reason_codes,
            } => {
                let op = self.end_op(id, e);
                let OpKind::Subscribe(q) = op.kind else {
                    panic!("{e:?} for {:?}", op.kind);
                };
                assert_eq!(
                    reason_codes,
                    &vec![qos_code(q.min(self.maximum_qos))],
                    "{e:?}"
                );
            }
            ref e @ Event::UnsubscribeCompleted {
                id,
                ref reason_codes,
            } => {
                let v5 = self.v5;
                let op = self.end_op(id, e);
                assert_eq!(op.kind, OpKind::Unsubscribe, "{e:?}");
                assert_eq!(reason_codes.len(), 1, "{e:?}");
                let ok = if v5 {
                    matches!(
                        reason_codes[0],
                        ReasonCode::Success | ReasonCode::NoSubscriptionExisted
                    )
                } else {
                    reason_codes[0] == ReasonCode::Success
                };
                assert!(ok, "{e:?}");
            }
            ref e @ Event::OperationFailed { id, ref error } => {
                let (fail_on_loss, restarts, closed) =
                    (self.fail_on_loss, self.restarts, self.closed);
                let refused_topic = self.refused_topic;
                let topic_of = |op: &OpRecord| match op.kind {
                    OpKind::Publish(n) => Some(TOPICS[self.messages[n].topic]),
                    _ => None,
                };
                let topic = topic_of(&self.ops[&id]);
                let maximum_qos = self.maximum_qos;
                let qos = match self.ops[&id].kind {
                    OpKind::Publish(n) => self.messages[n].qos,
                    _ => QoS::AtMostOnce,
                };
                let op = self.end_op(id, e);
                let allowed = match error {
                    // Queued before CONNACK said the broker's Maximum QoS is lower.
                    OperationError::Rejected(UsageError::QoSNotSupported { .. }) => {
                        qos > maximum_qos
                    }
                    // The broker refuses publishes to this topic.
                    OperationError::Refused(ReasonCode::NotAuthorized) => {
                        topic.is_some() && topic == refused_topic
                    }
                    OperationError::SessionLost => fail_on_loss && restarts > op.restarts_at_start,
                    OperationError::SessionClosed => closed,
                    _ => false,
                };
                assert!(allowed, "unexpected failure {e:?} of {op:?}");
                if let OpKind::Publish(n) = op.kind {
                    self.messages[n].failed = true;
                }
            }
            other => panic!("unexpected event {other:?}"),
        }
    }

    fn all_ended(&self) -> bool {
        self.ops
            .values()
            .all(|o| o.ended || o.kind == OpKind::Publish0)
    }
}

// ----- running a scenario -----

fn options(s: &Scenario) -> Options {
    let mut o = Options::new("sim:1883", MqttString::try_from("client").unwrap());
    o.protocol_version = if s.v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    o.auto_ack = s.auto_ack;
    o.keep_alive = s.keep_alive;
    o.max_in_flight = s.max_in_flight;
    if s.v5 {
        o.clean_start = s.first_clean;
        o.session_expiry_interval = if s.persistent { s.session_expiry } else { 0 };
        o.receive_maximum = s.client_receive_maximum;
        o.strict_receive_maximum = s.strict_receive_maximum;
        o.topic_alias_maximum = s.topic_alias_maximum;
    } else {
        // 3.1.1: Clean Session 0 keeps the session, on every connection.
        o.clean_start = !s.persistent;
    }
    o.reconnect.seed = s.seed;
    // Every scenario also checks that the journal replays to the session's state.
    o.journal = true;
    o.on_session_loss.pending = if s.fail_on_loss {
        PendingOnSessionLoss::Fail
    } else {
        PendingOnSessionLoss::Resend
    };
    o
}

fn run(s: &Scenario) {
    let mut world = World::new(options(s), s.broker, s.net, s.seed);
    let mut model = Model::new(s);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_in(s, &mut world, &mut model)
    }));
    if let Err(e) = result {
        // With SIM_TRACE set, the trace of the last failing case is kept for inspection.
        if let Ok(path) = std::env::var("SIM_TRACE") {
            let _ = std::fs::write(path, format!("{s:#?}\n{}", world.trace_text()));
        }
        std::panic::resume_unwind(e);
    }
}

/// The keep alive in force: the broker's Server Keep Alive (5.0) or the client's.
fn keep_alive(s: &Scenario) -> u16 {
    match s.broker.server_keep_alive {
        Some(k) if s.v5 => k,
        _ => s.keep_alive,
    }
}

fn run_in(s: &Scenario, world: &mut World, model: &mut Model) {
    let mut jitter = Rng::new(s.seed.rotate_left(17));

    let stable = world
        .subscribe(TopicFilter::from_static(STABLE), QoS::ExactlyOnce)
        .expect("subscribe");
    model.start_op(stable, OpKind::Subscribe(QoS::ExactlyOnce));
    world.connect();

    for (i, op) in s.ops.iter().enumerate() {
        apply(world, model, op, s.auto_ack, keep_alive(s));
        world.run_for(Duration::from_millis(jitter.range(0, 30)));
        for e in world.take_events() {
            model.handle(e);
        }
        if s.disconnect_after == Some(i) && !model.closed {
            model.closed = true;
            world.disconnect().expect("disconnect");
            for e in world.take_events() {
                model.handle(e);
            }
        }
    }

    // The quiet period: no more faults; acknowledge everything; wait for rest.
    world.net.clear_faults();
    let deadline = world.now + Duration::from_secs(900);
    loop {
        for e in world.take_events() {
            model.handle(e);
        }
        if !s.auto_ack {
            ack_all(world, model);
        }
        if settled(world, model) {
            break;
        }
        assert!(
            world.now < deadline,
            "the run does not settle: connected {}, ops pending {:?}, session in flight {} queued {}, broker pending deliveries {}, network idle {}, tokens {}\n{}",
            world.session.is_connected(),
            model
                .ops
                .iter()
                .filter(|(_, o)| !o.ended && o.kind != OpKind::Publish0)
                .collect::<Vec<_>>(),
            world.session.in_flight(),
            world.session.queued(),
            world.broker.has_pending_deliveries(),
            world.net.is_idle(),
            model.tokens.len(),
            world.trace_text()
        );
        world.run_for(Duration::from_millis(250));
    }
    // A few keep-alive periods of idling must change nothing.
    if !model.closed {
        world.run_for(Duration::from_secs(3 * u64::from(keep_alive(s).max(1))));
        for e in world.take_events() {
            model.handle(e);
        }
        assert!(
            world.session.is_connected(),
            "the connection did not survive idling"
        );
    }

    check(s, world, model);
    if std::env::var_os("SIM_STATS").is_some() {
        let b = &world.broker;
        let present = b.connacks.iter().filter(|p| **p).count();
        eprintln!(
            "STATS v5={} auto={} persistent={} takeovers={} unknown_acks={} msgs={} q1={} q2={} received={} connacks={} present={} losses={} cuts={} broker_resent={} client_resent={} pings={} window_full={} closed={} t={:.1}",
            s.v5,
            s.auto_ack,
            s.persistent,
            b.takeovers,
            b.unknown_acks,
            model.messages.len(),
            model
                .messages
                .iter()
                .filter(|m| m.qos == QoS::AtLeastOnce)
                .count(),
            model
                .messages
                .iter()
                .filter(|m| m.qos == QoS::ExactlyOnce)
                .count(),
            model.received.len(),
            b.connacks.len(),
            present,
            b.losses,
            world.net.cuts,
            b.resent,
            world.monitor.client_resends,
            b.pings,
            b.window_full,
            model.closed,
            world.now.duration_since_origin().as_secs_f64()
        );
    }

    // The final DISCONNECT: the session closes, nothing follows on the wire (checked by
    // the monitor), no reconnect.
    if !model.closed {
        let disconnects = world.broker.disconnects;
        model.closed = true;
        world.disconnect().expect("disconnect");
        world.run_for(Duration::from_secs(60));
        for e in world.take_events() {
            model.handle(e);
        }
        assert!(world.session.is_closed());
        assert_eq!(world.broker.disconnects, disconnects + 1, "DISCONNECT lost");
        assert!(!world.client_connected(), "reconnected after disconnect");
        assert_eq!(world.session.poll_timeout(), None);
    }
    assert!(model.all_ended());
    assert!(model.requested_disconnects <= 1);
}

fn ack_all(world: &mut World, model: &mut Model) {
    while !model.tokens.is_empty() {
        let token = model.tokens.remove(0);
        acknowledge(world, model, token, ReasonCode::Success);
        for e in world.take_events() {
            model.handle(e);
        }
    }
}

fn acknowledge(world: &mut World, model: &mut Model, t: Token, code: ReasonCode) {
    let Token {
        token,
        restarts,
        index,
    } = t;
    let what = format!("{token:?}");
    match world.acknowledge(token, code) {
        Ok(()) => {
            if code.is_error() {
                model.received[index].refused = true;
            }
        }
        // The session was lost since: nothing left to acknowledge.
        Err(UsageError::UnknownAcknowledgement) if restarts != model.restarts => {}
        Err(UsageError::Closed) if model.closed => {}
        Err(e) => panic!("acknowledge({what}) failed: {e}"),
    }
}

fn publish(world: &mut World, model: &mut Model, topic: usize, qos: QoS, big: bool) {
    let n = model.messages.len();
    let payload = if big {
        format!("{n}|{}", "x".repeat(700))
    } else {
        n.to_string()
    };
    let p = Publish::new(
        TopicName::try_from(TOPICS[topic]).unwrap(),
        Bytes::from(payload),
    )
    .with_qos(qos, None);
    let losses = world.broker.losses;
    match world.publish(p) {
        Ok(id) => {
            model.messages.push(Message {
                topic,
                qos,
                losses_at_publish: losses,
                completed: None,
                failed: false,
            });
            let kind = if qos == QoS::AtMostOnce {
                OpKind::Publish0
            } else {
                OpKind::Publish(n)
            };
            model.start_op(id, kind);
        }
        Err(UsageError::Closed) if model.closed => {}
        // Above the broker's Maximum QoS, known while connected ([MQTT-3.2.2-11]).
        Err(UsageError::QoSNotSupported { .. }) if qos > model.maximum_qos => {}
        Err(e) => panic!("publish failed: {e}"),
    }
}

fn apply(world: &mut World, model: &mut Model, op: &Op, auto_ack: bool, keep_alive: u16) {
    match *op {
        Op::Publish {
            topic,
            qos: q,
            count,
            big,
        } => {
            for _ in 0..count {
                publish(world, model, topic, qos(q), big);
            }
        }
        Op::Subscribe { filter, qos: q } => {
            let f = TopicFilter::try_from(FILTERS[filter]).unwrap();
            match world.subscribe(f, qos(q)) {
                Ok(id) => model.start_op(id, OpKind::Subscribe(qos(q))),
                Err(UsageError::Closed) if model.closed => {}
                Err(e) => panic!("subscribe failed: {e}"),
            }
        }
        Op::Unsubscribe { filter } => {
            let f = TopicFilter::try_from(FILTERS[filter]).unwrap();
            match world.unsubscribe(f) {
                Ok(id) => model.start_op(id, OpKind::Unsubscribe),
                Err(UsageError::Closed) if model.closed => {}
                Err(e) => panic!("unsubscribe failed: {e}"),
            }
        }
        Op::Advance { ms } => world.run_for(Duration::from_millis(ms)),
        Op::Cut { to_broker, extra } => world.cut(to_broker, extra),
        Op::LoseSession => world.lose_session(),
        Op::RefuseNextOpen => world.refuse_next_open(),
        Op::Blackhole => {
            if keep_alive > 0 {
                world.blackhole();
            }
        }
        Op::ServerDisconnect { reason } => world.server_disconnect(SERVER_REASONS[reason]),
        Op::Ack { pick, refuse } => {
            if !auto_ack && !model.tokens.is_empty() {
                let token = model.tokens.remove(pick % model.tokens.len());
                let code = if refuse && model.v5 {
                    ReasonCode::ImplementationSpecificError
                } else {
                    ReasonCode::Success
                };
                acknowledge(world, model, token, code);
            }
        }
    }
}

fn settled(world: &World, model: &Model) -> bool {
    if !model.all_ended() {
        return false;
    }
    if model.closed {
        return true;
    }
    world.session.is_connected()
        && world.broker.is_connected()
        && world.session.in_flight() == 0
        && world.session.queued() == 0
        && !world.broker.has_pending_deliveries()
        && world.net.is_idle()
        && model.tokens.is_empty()
}

/// The end-of-run properties (2 to 5).
fn check(s: &Scenario, world: &World, model: &Model) {
    let broker = &world.broker;
    let losses = broker.losses;
    // Broker sessions whose start the client saw (Session Present 0). A session lost and
    // re-created on a connection whose CONNACK never reached the client cannot be noticed
    // (the next CONNACK truthfully says Session Present 1): the client goes on with state
    // of the lost session, so it may take a new delivery for a duplicate of an old one.
    let seen_epoch = |e: u64| model.fresh_epochs.contains(&e);

    // 2. Client to broker.
    let mut accepted: HashMap<usize, Vec<u64>> = HashMap::new();
    for a in &broker.accepted {
        let n = payload_number(&a.payload);
        assert_eq!(a.topic.as_str(), TOPICS[model.messages[n].topic]);
        assert_eq!(a.qos, model.messages[n].qos, "message {n} changed QoS");
        accepted.entry(n).or_default().push(a.epoch);
    }
    for (n, m) in model.messages.iter().enumerate() {
        let epochs = accepted.get(&n).map(Vec::as_slice).unwrap_or(&[]);
        if m.completed.is_some() {
            assert!(
                !epochs.is_empty(),
                "message {n} ({:?}) completed but the broker never accepted it",
                m.qos
            );
        }
        match m.qos {
            QoS::AtMostOnce => assert!(epochs.len() <= 1, "QoS 0 message {n} sent twice"),
            QoS::ExactlyOnce => {
                let mut distinct = epochs.to_vec();
                distinct.dedup();
                assert_eq!(
                    distinct.len(),
                    epochs.len(),
                    "QoS 2 message {n} accepted twice by one broker session: {epochs:?}"
                );
                if m.completed == Some(m.losses_at_publish) {
                    assert_eq!(
                        epochs.len(),
                        1,
                        "QoS 2 message {n} completed without a session loss but accepted {} times",
                        epochs.len()
                    );
                }
            }
            QoS::AtLeastOnce => {}
        }
    }
    // 5a. Per topic and QoS, the client sends new messages in publish order: the first
    // copies the broker accepts come in publish order (re-sent copies repeat old ones).
    let mut first = std::collections::HashSet::new();
    let mut last: HashMap<(usize, QoS), usize> = HashMap::new();
    for a in &broker.accepted {
        let n = payload_number(&a.payload);
        let m = &model.messages[n];
        if !first.insert(n) {
            continue;
        }
        if let Some(&prev) = last.get(&(m.topic, m.qos)) {
            assert!(
                prev < n,
                "order: message {n} ({} at {:?}) reached the broker before message {prev}; accepted in order: {:?}",
                TOPICS[m.topic],
                m.qos,
                broker
                    .accepted
                    .iter()
                    .map(|a| payload_number(&a.payload))
                    .collect::<Vec<_>>()
            );
        }
        last.insert((m.topic, m.qos), n);
    }

    // 3. Broker to client, per routed copy.
    let mut app = vec![0usize; broker.deliveries.len()];
    let mut app_accepted = vec![0usize; broker.deliveries.len()];
    for r in &model.received {
        let d = broker
            .deliveries
            .get(r.r)
            .unwrap_or_else(|| panic!("copy {} was never routed", r.r));
        assert_eq!(payload_number(&d.payload), r.n, "copy {} mixed up", r.r);
        assert_eq!(d.qos, r.qos, "copy {} arrived at another QoS", r.r);
        app[r.r] += 1;
        app_accepted[r.r] += usize::from(!r.refused);
    }
    for (i, d) in broker.deliveries.iter().enumerate() {
        let n = payload_number(&d.payload);
        let what = format!("copy {i} of message {n} at {:?}", d.qos);
        match d.qos {
            QoS::AtMostOnce => assert!(
                app[i] <= usize::from(d.sent),
                "{what}: sent {}, delivered {} times",
                d.sent,
                app[i]
            ),
            QoS::AtLeastOnce => assert!(
                app[i] >= 1 || !d.acked,
                "{what} acknowledged (PUBACK) but never delivered to the application"
            ),
            QoS::ExactlyOnce => {
                assert!(
                    app_accepted[i] <= 1,
                    "{what} delivered {} times ({} not refused)",
                    app[i],
                    app_accepted[i]
                );
                assert!(
                    app[i] >= 1 || !d.acked || !seen_epoch(d.epoch),
                    "{what} acknowledged (PUBREC) but never delivered to the application"
                );
            }
        }
        if !model.closed && d.epoch == losses {
            assert!(
                d.done || (d.qos == QoS::AtMostOnce && !d.sent),
                "{what} not completed at the end of the run"
            );
        }
    }
    // 5b. Per topic and delivered QoS, the broker sends copies in the order it routed
    // them, and the application gets them in that order (re-sent copies repeat old ones).
    let mut first = std::collections::HashSet::new();
    let mut last: HashMap<(usize, QoS), usize> = HashMap::new();
    for r in &model.received {
        if !first.insert(r.r) {
            continue;
        }
        let key = (model.messages[r.n].topic, r.qos);
        if let Some(&prev) = last.get(&key) {
            assert!(
                prev < r.r,
                "order: copy {} (message {}, {} at {:?}) delivered after copy {prev}; delivered in order: {:?}",
                r.r,
                r.n,
                TOPICS[key.0],
                key.1,
                model
                    .received
                    .iter()
                    .map(|r| (r.n, r.r))
                    .collect::<Vec<_>>()
            );
        }
        last.insert(key, r.r);
    }

    // 4. End to end. 4a: whenever the client saw the broker's current session start, it
    // subscribed again in it.
    let stable_since = broker.active_since(STABLE);
    if s.persistent && !model.closed && seen_epoch(losses) {
        assert!(
            stable_since.is_some(),
            "the broker's session (after {losses} losses) lacks the subscription {STABLE}: the client did not subscribe again"
        );
    }
    // Deliveries per message and QoS that the application did not refuse, and messages
    // it refused once.
    let mut per_message: HashMap<usize, [usize; 3]> = HashMap::new();
    let mut refused = std::collections::HashSet::new();
    for r in &model.received {
        if r.refused {
            refused.insert(r.n);
        } else {
            per_message.entry(r.n).or_default()[r.qos as usize] += 1;
        }
    }
    for (n, m) in model.messages.iter().enumerate() {
        let c = per_message.get(&n).copied().unwrap_or_default();
        let total: usize = c.iter().sum();
        let no_loss_since = m.losses_at_publish == losses;
        if m.qos == QoS::ExactlyOnce && no_loss_since {
            assert!(
                c[2] <= 1,
                "QoS 2 message {n} delivered {} times at QoS 2",
                c[2]
            );
        }
        if m.qos == QoS::AtMostOnce && m.topic < 2 {
            assert!(total <= 1, "QoS 0 message {n} delivered {total} times");
        }
        // 4b. A message to `s/*`, first accepted in the current session after `s/#` was
        // active in it, with no session loss since it was published.
        let covered = stable_since.is_some_and(|since| {
            broker
                .accepted
                .iter()
                .enumerate()
                .find(|(_, a)| a.epoch == losses && payload_number(&a.payload) == n)
                .is_some_and(|(i, _)| i >= since)
        });
        if s.persistent
            && !model.closed
            && m.topic < 2
            && no_loss_since
            && !m.failed
            && covered
            && !refused.contains(&n)
        {
            match m.qos {
                QoS::AtLeastOnce => assert!(
                    c[1] >= 1,
                    "QoS 1 message {n} to {} never reached the application",
                    TOPICS[m.topic]
                ),
                QoS::ExactlyOnce => assert!(
                    c[2] == 1 && total == 1,
                    "QoS 2 message {n} to {} reached the application {total} times",
                    TOPICS[m.topic]
                ),
                QoS::AtMostOnce => {}
            }
        }
    }
}

/// The message number a payload starts with.
fn payload_number(payload: &[u8]) -> usize {
    let digits = payload.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&payload[..digits])
        .ok()
        .and_then(|t| t.parse().ok())
        .expect("payload number")
}

// ----- strategies -----

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (
            0..4usize,
            0..3u8,
            prop_oneof![3 => Just(1usize), 1 => 1..6usize],
            prop::bool::weighted(0.1)
        )
            .prop_map(|(topic, qos, count, big)| Op::Publish {
                topic,
                qos,
                count,
                big
            }),
        2 => (0..5usize, 0..3u8).prop_map(|(filter, qos)| Op::Subscribe { filter, qos }),
        1 => (0..5usize).prop_map(|filter| Op::Unsubscribe { filter }),
        4 => prop_oneof![0..100u64, 0..2_000u64, 0..20_000u64].prop_map(|ms| Op::Advance { ms }),
        5 => (any::<bool>(), prop_oneof![0..8u64, 0..32u64, 0..200u64])
            .prop_map(|(to_broker, extra)| Op::Cut { to_broker, extra }),
        1 => Just(Op::LoseSession),
        1 => Just(Op::RefuseNextOpen),
        1 => Just(Op::Blackhole),
        1 => (0..SERVER_REASONS.len()).prop_map(|reason| Op::ServerDisconnect { reason }),
        3 => (0..8usize, prop::bool::weighted(0.2)).prop_map(|(pick, refuse)| Op::Ack { pick, refuse }),
    ]
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op_strategy(), 1..=30).prop_map(|ops| {
        // At most five faults per case.
        let mut faults = 0;
        ops.into_iter()
            .filter(|op| {
                if op.is_fault() {
                    faults += 1;
                    faults <= 5
                } else {
                    true
                }
            })
            .collect()
    })
}

fn scenario_strategy() -> impl Strategy<Value = Scenario> {
    let session = (
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
        any::<bool>(),
        prop::sample::select(vec![1u32, 5, 60, u32::MAX]),
        prop::sample::select(vec![0u16, 2, 5, 30]),
        prop::sample::select(vec![1u16, 2, 3, 65_535]),
        any::<bool>(),
        prop::sample::select(vec![None, Some(1u16), Some(2), Some(3), Some(20)]),
        0..3u16,
        any::<bool>(),
    );
    let broker = (
        prop::sample::select(vec![1u16, 2, 4, 65_535]),
        prop::sample::select(vec![1u16, 2, 20]),
        0..3u16,
        prop::sample::select(vec![QoS::AtLeastOnce, QoS::ExactlyOnce, QoS::ExactlyOnce]),
        prop::option::weighted(0.2, prop::sample::select(vec![2u16, 5])),
        prop::option::weighted(0.2, Just("t/b")),
    )
        .prop_map(
            |(
                receive_maximum,
                v3_max_inflight,
                topic_alias_maximum,
                maximum_qos,
                server_keep_alive,
                refused_topic,
            )| BrokerConfig {
                receive_maximum,
                v3_max_inflight,
                topic_alias_maximum,
                maximum_qos,
                server_keep_alive,
                refused_topic,
            },
        );
    let net = (
        prop::sample::select(vec![1u64, 3, 16, 256]),
        prop::sample::select(vec![0u64, 5, 50, 200]),
        prop::sample::select(vec![1u64, 50]),
    )
        .prop_map(|(max_chunk, delay, connect)| NetConfig {
            max_chunk,
            max_delay: Duration::from_millis(delay),
            max_connect_delay: Duration::from_millis(connect),
        });
    (
        session,
        broker,
        net,
        any::<u64>(),
        prop::option::weighted(0.05, 0..30usize),
        ops_strategy(),
    )
        .prop_map(
            |(
                (
                    v5,
                    auto_ack,
                    persistent,
                    first_clean,
                    session_expiry,
                    keep_alive,
                    client_receive_maximum,
                    strict_receive_maximum,
                    max_in_flight,
                    topic_alias_maximum,
                    fail_on_loss,
                ),
                broker,
                net,
                seed,
                disconnect_after,
                ops,
            )| Scenario {
                v5,
                auto_ack,
                persistent,
                first_clean,
                session_expiry,
                keep_alive,
                client_receive_maximum,
                strict_receive_maximum,
                max_in_flight,
                topic_alias_maximum,
                fail_on_loss,
                broker,
                net,
                seed,
                disconnect_after,
                ops,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        // Regressions are reported in the failure message; no file is written.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn session_against_simulated_broker(s in scenario_strategy()) {
        run(&s);
    }
}

// ----- regressions: minimal scripted cases the property test found -----
//
// Each replays, with a deterministic network, a session bug the property test shrank to.

/// A network with no faults: chunks of any size, delays up to `max_delay_ms`.
fn quiet_net(max_delay_ms: u64) -> NetConfig {
    NetConfig {
        max_chunk: 100_000,
        max_delay: Duration::from_millis(max_delay_ms),
        max_connect_delay: Duration::from_millis(1),
    }
}

/// A session (`configure`d, keep alive off) subscribed to `s/#` at QoS 2 and connecting
/// to a plain broker.
fn scripted(v5: bool, net: NetConfig, configure: impl FnOnce(&mut Options)) -> World {
    let mut o = Options::new("sim:1883", MqttString::try_from("client").unwrap());
    o.protocol_version = if v5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    o.keep_alive = 0;
    configure(&mut o);
    let broker = BrokerConfig {
        receive_maximum: 65_535,
        v3_max_inflight: 20,
        topic_alias_maximum: 0,
        maximum_qos: QoS::ExactlyOnce,
        server_keep_alive: None,
        refused_topic: None,
    };
    let mut w = World::new(o, broker, net, 1);
    w.subscribe(TopicFilter::from_static(STABLE), QoS::ExactlyOnce)
        .unwrap();
    w.connect();
    w
}

fn message(text: &'static str, qos: QoS) -> Publish {
    Publish::new(
        TopicName::from_static("s/a"),
        Bytes::from_static(text.as_bytes()),
    )
    .with_qos(qos, None)
}

/// The messages delivered since the last call: payload (without the broker's routing
/// number) and token.
fn delivered(w: &mut World) -> Vec<(String, Option<AckToken>)> {
    w.take_events()
        .into_iter()
        .filter_map(|s| match s.event {
            Event::Message(m) => {
                let text = String::from_utf8_lossy(&m.publish.payload).into_owned();
                let text = text
                    .rsplit_once('/')
                    .map_or(text.clone(), |(t, _)| t.into());
                Some((text, m.ack))
            }
            _ => None,
        })
        .collect()
}

/// Property 5a: QoS 0 messages to one topic reach the broker in publish order. A QoS 0
/// message queued behind a QoS 1 one that waits for the send quota is overtaken by a QoS
/// 0 message published later, which `publish` writes at once.
#[test]
fn regression_qos0_messages_to_one_topic_keep_their_order() {
    let mut w = scripted(false, quiet_net(20), |o| o.max_in_flight = Some(1));
    // Before CONNACK everything waits in the queue, in order.
    for (text, qos) in [
        ("m0", QoS::AtLeastOnce),
        ("m1", QoS::AtLeastOnce),
        ("m2", QoS::AtMostOnce),
    ] {
        w.publish(message(text, qos)).unwrap();
    }
    while !w.session.is_connected() {
        w.run_for(Duration::from_millis(1));
    }
    // m0 is in flight, m1 waits for the quota (m2 waits behind m1).
    assert_eq!(w.session.in_flight(), 1);
    assert!(w.session.queued() >= 1);
    w.publish(message("m3", QoS::AtMostOnce)).unwrap();
    w.run_for(Duration::from_secs(5));
    let qos0: Vec<&str> = w
        .broker
        .accepted
        .iter()
        .filter(|a| a.qos == QoS::AtMostOnce)
        .map(|a| std::str::from_utf8(&a.payload).unwrap())
        .collect();
    assert_eq!(qos0, ["m2", "m3"], "QoS 0 messages to one topic reordered");
}

/// Manual acknowledgements: a QoS 1 message's token, acknowledged after its connection
/// dropped but before the session reconnected, is refused (`UnknownAcknowledgement`),
/// while the same call after the reconnect returns `Ok`.
#[test]
fn regression_qos1_acknowledgement_while_disconnected() {
    let mut w = scripted(false, quiet_net(0), |o| {
        o.auto_ack = false;
        o.clean_start = false;
    });
    w.run_for(Duration::from_millis(10));
    w.publish(message("a", QoS::AtLeastOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(_, Some(token))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    w.server_disconnect(ReasonCode::ServerBusy);
    w.run_for(Duration::from_millis(2));
    assert!(!w.session.is_connected());
    // The server re-sends the message on the next connection; this token is moot.
    assert_eq!(w.acknowledge(token, ReasonCode::Success), Ok(()));
}

/// Manual acknowledgements: the token of a QoS 1 message delivered on a connection that
/// dropped acknowledges the re-delivery of that message on the next connection, whose own
/// token is then refused.
#[test]
fn regression_stale_qos1_token_acknowledges_the_redelivery() {
    let mut w = scripted(false, quiet_net(0), |o| {
        o.auto_ack = false;
        o.clean_start = false;
    });
    w.run_for(Duration::from_millis(10));
    w.publish(message("a", QoS::AtLeastOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(_, Some(old))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    w.server_disconnect(ReasonCode::ServerBusy);
    w.run_for(Duration::from_secs(1));
    let Ok([(_, Some(new))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected the re-delivery")
    };
    assert_eq!(w.acknowledge(old, ReasonCode::Success), Ok(()));
    w.run_for(Duration::from_millis(10));
    assert!(
        w.broker.has_pending_deliveries(),
        "the old connection's token acknowledged the re-delivery"
    );
    assert_eq!(w.acknowledge(new, ReasonCode::Success), Ok(()));
}

/// Manual acknowledgements: after a session loss, the token of a QoS 2 message from the
/// lost session acknowledges a different message that reuses its packet identifier (under
/// 5.0 a refusal would refuse the wrong message), whose own token is then refused.
#[test]
fn regression_stale_qos2_token_acknowledges_another_message() {
    let mut w = scripted(true, quiet_net(0), |o| {
        o.auto_ack = false;
        o.session_expiry_interval = 60;
    });
    w.run_for(Duration::from_millis(10));
    w.publish(message("a", QoS::ExactlyOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(_, Some(old))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    w.lose_session();
    w.run_for(Duration::from_secs(1));
    assert!(w.session.is_connected());
    w.publish(message("b", QoS::ExactlyOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(b, Some(new))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    assert_eq!(b, "b");
    // "a" was lost with the session; its token must not acknowledge "b".
    let _ = w.acknowledge(old, ReasonCode::Success);
    w.run_for(Duration::from_millis(10));
    assert!(
        w.broker.has_pending_deliveries(),
        "a token from the lost session acknowledged another message"
    );
    assert_eq!(w.acknowledge(new, ReasonCode::Success), Ok(()));
}

/// 5.0, manual acknowledgements, strict Receive Maximum 1: the application refuses a QoS
/// 2 message while disconnected. On the resumed connection the failing PUBREC (sent on
/// CONNACK) crosses the broker's re-sent PUBLISH (DUP); having freed the identifier
/// ([MQTT-4.3.3-9]) the session takes the re-send for a new message and counts it, the
/// broker (the message finished) sends the next one, the session disconnects with 0x93,
/// and the same happens on every reconnect.
#[test]
fn regression_refused_qos2_while_offline_reconnects_forever() {
    let mut w = scripted(true, quiet_net(0), |o| {
        o.auto_ack = false;
        o.session_expiry_interval = 60;
        o.receive_maximum = 1;
        o.strict_receive_maximum = true;
    });
    w.run_for(Duration::from_millis(10));
    w.publish(message("a", QoS::ExactlyOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(_, Some(token))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    // "b" waits in the broker: the client's Receive Maximum is used by "a".
    w.publish(message("b", QoS::AtLeastOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    w.server_disconnect(ReasonCode::ServerBusy);
    w.run_for(Duration::from_millis(2));
    assert!(!w.session.is_connected());
    w.acknowledge(token, ReasonCode::ImplementationSpecificError)
        .unwrap();
    w.run_for(Duration::from_secs(10));
    assert!(
        w.net.opened() <= 2,
        "{} connections in 10 s: the session keeps disconnecting (0x93)",
        w.net.opened()
    );
}

/// 5.0, strict Receive Maximum 1: the broker loses the session after the client's PUBREC
/// (its PUBREL lost), then re-creates it on a connection whose CONNACK is lost, so the next
/// CONNACK truthfully says Session Present 1 and the client cannot notice. The client
/// keeps the QoS 2 identifier awaiting a PUBREL that never comes and counts it against its
/// Receive Maximum on every connection: the first message the new session delivers makes
/// it disconnect (0x93), on every reconnect. The server's quota is per connection (§4.9);
/// counting what came on the current connection only avoids this.
#[test]
fn regression_stale_qos2_state_makes_strict_receive_maximum_reconnect_forever() {
    let mut w = scripted(true, quiet_net(0), |o| {
        o.auto_ack = false;
        o.session_expiry_interval = 60;
        o.receive_maximum = 1;
        o.strict_receive_maximum = true;
    });
    w.run_for(Duration::from_millis(10));
    w.publish(message("a", QoS::ExactlyOnce)).unwrap();
    w.run_for(Duration::from_millis(10));
    let Ok([(_, Some(token))]) = <[_; 1]>::try_from(delivered(&mut w)) else {
        panic!("expected one message with a token")
    };
    // The next bytes to the client (the PUBREL answering our PUBREC) are lost.
    w.cut(false, 0);
    w.acknowledge(token, ReasonCode::Success).unwrap();
    w.run_for(Duration::from_millis(2));
    assert!(!w.client_connected());
    // The broker restarts; the CONNACK of the session it creates next is lost.
    w.lose_session();
    while !w.client_opening() {
        w.run_for(Duration::from_millis(1));
    }
    w.cut(false, 0);
    w.run_for(Duration::from_secs(1));
    assert!(w.session.is_connected());
    w.subscribe(TopicFilter::from_static("t/a"), QoS::AtLeastOnce)
        .unwrap();
    w.run_for(Duration::from_millis(10));
    let opened = w.net.opened();
    w.publish(Publish::new(TopicName::from_static("t/a"), "b").with_qos(QoS::AtLeastOnce, None))
        .unwrap();
    w.run_for(Duration::from_secs(10));
    assert!(
        w.net.opened() <= opened + 1,
        "{} connections in 10 s: the session keeps disconnecting (0x93)",
        w.net.opened() - opened
    );
}
