//! The simulated world: a session, the network and the broker, driven in simulated time
//! as a discrete-event simulation. The driver follows the session's contract: after every
//! input it drains `poll_action`, `poll_transmit`, `poll_event` and reads `poll_timeout`.
//!
//! Checked on every step (a failure panics with the reason):
//! * `poll_timeout()` is never before the last input's `now` once the outputs are drained,
//!   and after `handle_timeout(now)` it is after `now` (the driver would spin otherwise);
//! * the session writes only on an open connection and asks to open one only when it has
//!   none; it does not open more than 200 connections in a case (a reconnect storm);
//! * no protocol violation seen by the broker or on the wire (see `monitor`); the broker
//!   closing a connection for keep alive is one unless the link was a black hole.

use bytes::BytesMut;
use core::time::Duration;
use mqtt_proto::{
    Publish, QoS, ReasonCode, SubscribeProperties, Subscription, TopicFilter, UnsubscribeProperties,
};
use mqtt_session::{
    AckToken, Action, DisconnectOptions, Event, InFlight, Instant, OperationId, Options, Queued,
    Session, SessionState, StateChange, UsageError,
};

use super::broker::{Broker, BrokerConfig, Output};
use super::monitor::Monitor;
use super::network::{ConnId, Dir, NetConfig, NetEvent, Network};

/// An event of the session, with how many sessions the broker had lost by then.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub losses: u64,
    pub event: Event,
}

/// The world.
pub struct World {
    pub now: Instant,
    pub session: Session,
    pub broker: Broker,
    pub net: Network,
    pub monitor: Monitor,
    /// The session's transport: opening or open.
    client_conn: Option<ConnId>,
    client_established: bool,
    client_buf: BytesMut,
    events: Vec<Stamped>,
    steps: u64,
    /// Every step, when tracing.
    pub trace: Option<Vec<String>>,
    /// With `Options::journal`: the state a store would have, rebuilt from the first
    /// state and the session's records; compared with the session's after every drain.
    replica: Option<SessionState>,
}

const STEP_LIMIT: u64 = 2_000_000;

impl World {
    pub fn new(options: Options, broker: BrokerConfig, net: NetConfig, seed: u64) -> World {
        let version = options.protocol_version;
        let max_in_flight = options.max_in_flight;
        let session = Session::new(options);
        World {
            now: Instant::ZERO,
            replica: session.options().journal.then(|| session.state()),
            session,
            broker: Broker::new(broker),
            net: Network::new(seed, net),
            monitor: Monitor::new(version, max_in_flight),
            client_conn: None,
            client_established: false,
            client_buf: BytesMut::new(),
            events: Vec::new(),
            steps: 0,
            trace: std::env::var_os("SIM_TRACE").map(|_| Vec::new()),
        }
    }

    fn log(&mut self, what: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            let line = format!(
                "{:>9.3} {}",
                self.now.duration_since_origin().as_secs_f64(),
                what()
            );
            t.push(line);
        }
    }

    /// The trace so far, one line per step (empty unless `SIM_TRACE` is set).
    pub fn trace_text(&self) -> String {
        self.trace
            .as_ref()
            .map(|t| t.join("\n"))
            .unwrap_or_default()
    }

    /// The session's events since the last call.
    pub fn take_events(&mut self) -> Vec<Stamped> {
        std::mem::take(&mut self.events)
    }

    /// Whether the session asked for a transport that is not up yet.
    pub fn client_opening(&self) -> bool {
        self.client_conn.is_some() && !self.client_established
    }

    /// Whether the session's transport is up.
    pub fn client_connected(&self) -> bool {
        self.client_established
    }

    // ----- application calls -----

    pub fn connect(&mut self) {
        self.session.connect(self.now).expect("connect");
        self.drain_session(false);
    }

    pub fn publish(&mut self, p: Publish) -> Result<OperationId, UsageError> {
        self.log(|| format!("app publish {} {:?} {:?}", p.topic, p.qos, p.payload));
        let r = self.session.publish(self.now, p);
        self.drain_session(false);
        r
    }

    pub fn subscribe(&mut self, filter: TopicFilter, qos: QoS) -> Result<OperationId, UsageError> {
        self.log(|| format!("app subscribe {filter} {qos:?}"));
        let r = self.session.subscribe(
            self.now,
            vec![Subscription::new(filter, qos)],
            SubscribeProperties::default(),
        );
        self.drain_session(false);
        r
    }

    pub fn unsubscribe(&mut self, filter: TopicFilter) -> Result<OperationId, UsageError> {
        self.log(|| format!("app unsubscribe {filter}"));
        let r = self
            .session
            .unsubscribe(self.now, vec![filter], UnsubscribeProperties::default());
        self.drain_session(false);
        r
    }

    pub fn acknowledge(&mut self, token: AckToken, code: ReasonCode) -> Result<(), UsageError> {
        self.log(|| format!("app acknowledge {token:?} {code:?}"));
        let r = self.session.acknowledge(self.now, token, code);
        self.drain_session(false);
        r.map_err(|e| e.error)
    }

    pub fn disconnect(&mut self) -> Result<(), UsageError> {
        self.log(|| "app disconnect".to_string());
        let r = self
            .session
            .disconnect(self.now, DisconnectOptions::default());
        self.drain_session(false);
        r
    }

    // ----- faults -----

    /// Cuts the client's connection `extra` bytes past what was delivered in `dir`.
    pub fn cut(&mut self, to_broker: bool, extra: u64) {
        let Some(conn) = self.client_conn else { return };
        let dir = if to_broker {
            Dir::ToBroker
        } else {
            Dir::ToClient
        };
        self.log(|| format!("net cut {conn} {dir:?} +{extra}"));
        self.net.cut(self.now, conn, dir, extra);
    }

    /// The client's connection silently stops carrying bytes.
    pub fn blackhole(&mut self) {
        let Some(conn) = self.client_conn else { return };
        self.log(|| format!("net {conn} turns into a black hole"));
        self.net.blackhole(conn);
    }

    pub fn refuse_next_open(&mut self) {
        self.log(|| "net refuses the next open".to_string());
        self.net.refuse_next_open();
    }

    /// The broker ends the connection (5.0: with a DISCONNECT).
    pub fn server_disconnect(&mut self, reason: ReasonCode) {
        self.log(|| format!("broker disconnects the client: {reason:?}"));
        if self.broker.disconnect_client(self.now, reason) {
            self.drain_broker();
        }
    }

    /// The broker restarts and loses the session.
    pub fn lose_session(&mut self) {
        self.log(|| "broker loses the session".to_string());
        if let Some(conn) = self.broker.lose_session() {
            self.net.abort(self.now, conn);
        }
    }

    // ----- time -----

    pub fn run_for(&mut self, d: Duration) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Processes every event up to `t`, in order, and leaves the clock at `t`.
    pub fn run_until(&mut self, t: Instant) {
        loop {
            self.steps += 1;
            assert!(
                self.steps < STEP_LIMIT,
                "the simulation does not come to rest (a driver would spin)"
            );
            let session_t = self.session.poll_timeout();
            let broker_t = self.broker.poll_timeout();
            let net_t = self.net.next_time();
            let Some(next) = [session_t, broker_t, net_t].into_iter().flatten().min() else {
                break;
            };
            if next > t {
                break;
            }
            if next > self.now {
                self.now = next;
            }
            if session_t.is_some_and(|s| s <= self.now) {
                self.log(|| "session handle_timeout".to_string());
                self.session.handle_timeout(self.now);
                self.drain_session(true);
            } else if broker_t.is_some_and(|b| b <= self.now) {
                self.log(|| "broker handle_timeout".to_string());
                self.broker.handle_timeout(self.now);
                for c in std::mem::take(&mut self.broker.keep_alive_closes) {
                    assert!(
                        self.net.is_blackholed(c),
                        "the client sent nothing on connection {c} for 1.5 keep-alive periods [MQTT-3.1.2-23]\n{}",
                        self.trace_text()
                    );
                }
                self.drain_broker();
            } else if let Some(e) = self.net.pop(self.now) {
                self.handle_net(e);
            }
            self.check();
        }
        if t > self.now {
            self.now = t;
        }
    }

    fn check(&self) {
        let mut bad: Vec<&String> = self.broker.violations.iter().collect();
        bad.extend(&self.monitor.violations);
        if !bad.is_empty() {
            panic!(
                "protocol violation at {:?}: {bad:#?}\n{}",
                self.now,
                self.trace_text()
            );
        }
    }

    fn handle_net(&mut self, e: NetEvent) {
        match e {
            NetEvent::Established(c) => {
                self.log(|| format!("net {c} established"));
                if self.client_conn != Some(c) {
                    return;
                }
                self.client_established = true;
                self.client_buf.clear();
                self.monitor.opened(c);
                self.broker.accept(self.now, c);
                self.drain_broker();
                self.session.handle_connected(self.now);
                self.drain_session(false);
            }
            NetEvent::Deliver {
                conn,
                dir: Dir::ToClient,
                bytes,
            } => {
                self.log(|| format!("net {conn} -> client {:?}", bytes));
                if self.client_conn != Some(conn) {
                    return;
                }
                self.monitor.client_read(conn, &bytes);
                self.client_buf.extend_from_slice(&bytes);
                self.session.handle_read(self.now, &mut self.client_buf);
                self.drain_session(false);
            }
            NetEvent::Deliver {
                conn,
                dir: Dir::ToBroker,
                bytes,
            } => {
                self.log(|| format!("net {conn} -> broker {:?}", bytes));
                self.broker.handle_bytes(self.now, conn, &bytes);
                self.drain_broker();
            }
            NetEvent::ClientClosed(c) => {
                self.log(|| format!("net {c} closed at the client"));
                if self.client_conn != Some(c) {
                    return;
                }
                self.client_conn = None;
                self.client_established = false;
                self.monitor.closed(c);
                self.session.handle_closed(self.now);
                self.drain_session(false);
            }
            NetEvent::BrokerClosed(c) => {
                self.log(|| format!("net {c} closed at the broker"));
                self.broker.handle_closed(self.now, c);
                self.drain_broker();
            }
        }
    }

    fn drain_broker(&mut self) {
        while let Some(o) = self.broker.poll_output() {
            match o {
                Output::Transmit(c, bytes) => {
                    self.log(|| format!("broker writes on {c}: {bytes:?}"));
                    self.net.write(self.now, c, Dir::ToClient, &bytes)
                }
                Output::Close(c) => {
                    self.log(|| format!("broker closes {c}"));
                    self.net.broker_close(self.now, c);
                }
            }
        }
    }

    /// Drains the session's outputs after an input, as the contract says.
    /// Replays the session's records onto the replica and checks it is the session's
    /// state (up to what the records do not carry: the packet identifier hint, resend
    /// counters and DUP flags).
    fn check_journal(&mut self) {
        let Some(replica) = &mut self.replica else {
            return;
        };
        while let Some(change) = self.session.poll_state_change() {
            // Through its stored form, as a store's log would keep it.
            let mut stored = BytesMut::new();
            change.encode(&mut stored).expect("a record encodes");
            let read = StateChange::decode(&stored).expect("a record decodes");
            assert_eq!(read, change, "a record's stored form");
            replica.apply(read);
        }
        let normal = |s: &SessionState| {
            let mut s = s.clone();
            s.next_packet_id = 0;
            for f in &mut s.in_flight {
                f.publish.dup = false;
                *f = InFlight::new(f.operation, f.publish.clone(), f.stage.clone());
            }
            for q in &mut s.queued {
                *q = Queued::new(q.operation, q.publish.clone(), q.queued_at);
            }
            s
        };
        let actual = self.session.state();
        let ops = actual.in_flight.iter().map(|f| f.operation.0);
        let mut ops = ops.chain(actual.queued.iter().map(|q| q.operation.0));
        assert!(
            ops.all(|o| o < replica.next_operation),
            "replayed next operation {} not after every stored one",
            replica.next_operation
        );
        let mut expected = normal(&actual);
        let mut got = normal(replica);
        expected.next_operation = 0;
        got.next_operation = 0;
        assert_eq!(
            got, expected,
            "the journal replayed is not the session's state"
        );
    }

    fn drain_session(&mut self, after_timeout: bool) {
        self.check_journal();
        while let Some(action) = self.session.poll_action() {
            self.log(|| format!("session action {action:?}"));
            match action {
                Action::Open { .. } => {
                    assert!(
                        self.client_conn.is_none(),
                        "Action::Open while connection {:?} is still open",
                        self.client_conn
                    );
                    let c = self.net.open(self.now);
                    assert!(
                        c <= 200,
                        "a reconnect storm: {c} connections opened by {:?}\n{}",
                        self.now,
                        self.trace_text()
                    );
                    self.client_conn = Some(c);
                    self.client_established = false;
                }
                Action::Close => {
                    // What the session wrote before Close goes first.
                    self.flush_transmit();
                    let c = self
                        .client_conn
                        .take()
                        .expect("Action::Close without a connection");
                    self.client_established = false;
                    self.monitor.closed(c);
                    self.net.client_close(self.now, c);
                }
                other => panic!("unknown action {other:?}"),
            }
        }
        self.flush_transmit();
        while let Some(event) = self.session.poll_event() {
            self.log(|| format!("session event {event:?}"));
            self.events.push(Stamped {
                losses: self.broker.losses,
                event,
            });
        }
        self.check_journal();
        if let Some(t) = self.session.poll_timeout() {
            assert!(
                t >= self.now,
                "poll_timeout() = {t:?} is before the last input's now {:?}",
                self.now
            );
            assert!(
                !after_timeout || t > self.now,
                "after handle_timeout({:?}) poll_timeout() is still {t:?}: a driver would spin",
                self.now
            );
        }
    }

    fn flush_transmit(&mut self) {
        while let Some(chunk) = self.session.poll_transmit() {
            let conn = match self.client_conn {
                Some(c) if self.client_established => c,
                _ => panic!(
                    "the session wrote {} bytes with no connection open: {chunk:?}",
                    chunk.len()
                ),
            };
            self.log(|| format!("client writes {chunk:?}"));
            self.monitor.client_wrote(conn, &chunk);
            self.net.write(self.now, conn, Dir::ToBroker, &chunk);
        }
    }
}
