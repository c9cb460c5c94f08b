//! A simulated MQTT broker serving one client, 3.1.1 and 5.0, driven by bytes in and bytes
//! out with simulated time (the same sans-I/O shape as the session).
//!
//! It keeps the server side of the client's session by the specification:
//!
//! * CONNECT / CONNACK: Clean Start (Clean Session) discards a held session; Session
//!   Present says whether one was resumed ([MQTT-3.2.2-2], [MQTT-3.2.2-3]). A 3.1.1 session
//!   with Clean Session 0 lives until a clean connect; a 5.0 session lives for its Session
//!   Expiry Interval after the connection closes (0: it ends with the connection;
//!   `u32::MAX`: never), the interval taken from CONNECT and updated by DISCONNECT.
//! * Subscriptions with wildcard matching (`TopicFilter::matches`); a message matching
//!   several of them is delivered once at the highest granted QoS, downgraded to the
//!   published QoS ([MQTT-3.8.4-6] v3.1.1 / [MQTT-3.3.4-2] v5). The client's own
//!   publishes come back to it, so messages flow both ways; each routed copy goes out with
//!   `/{routing number}` appended to its payload, so that copies can be told apart.
//! * Ordered topics ([MQTT-4.6.0-5] / [MQTT-4.6.0-6]): per QoS, deliveries go out in the
//!   order they were routed, which is the order the messages were accepted.
//! * Inbound QoS 0/1/2; QoS 2 by "method B": the message is routed on its first PUBLISH
//!   and its packet identifier remembered until PUBREL, so a re-sent PUBLISH is
//!   acknowledged but not routed again.
//! * Outbound QoS 0/1/2 with the broker's own packet identifiers, within the client's
//!   Receive Maximum (5.0) or a configured window (3.1.1, like mosquitto's
//!   `max_inflight_messages`): the excess waits in a queue. The window bounds QoS 1/2
//!   messages sent and not completely acknowledged (no PUBACK / PUBCOMP yet), whatever
//!   connection they were first sent on ([MQTT-3.3.4-9]; messages awaiting PUBCOMP count
//!   on a new connection too, the reading the session itself follows). QoS 0 goes at
//!   once, or is dropped while the client is offline.
//! * On resumption, unacknowledged PUBLISH packets go again with DUP 1 and their original
//!   identifiers, and PUBRELs again, in their original order ([MQTT-4.4.0-1],
//!   [MQTT-4.6.0-1]); nothing is re-sent within a connection.
//! * Its own Receive Maximum (announced in a 5.0 CONNACK, enforced over inbound QoS 1/2
//!   messages not completed), Topic Alias Maximum (aliases handled both ways), Maximum QoS
//!   (subscriptions granted at most that, a PUBLISH above it is a violation) and Server
//!   Keep Alive. Under 5.0 it may refuse publishes to one topic (PUBACK / PUBREC 0x87).
//! * PINGRESP for PINGREQ; a client silent for 1.5 keep-alive periods is disconnected; a
//!   new connection takes over one still open; a server DISCONNECT on demand.
//! * Acknowledgements for state it no longer has (it lost the session unnoticed by the
//!   client) are tolerated; an unknown successful PUBREC gets PUBREL 0x92.
//! * Losing the session on demand ([`Broker::lose_session`], a broker restart): the
//!   connection is dropped and every bit of session state is gone, so the next CONNACK has
//!   Session Present 0.
//!
//! Whatever the client does against the specification is recorded in
//! [`Broker::violations`] (and the broker disconnects, as a real one would).

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use core::num::NonZeroU16;
use core::time::Duration;
use mqtt_proto::{
    ConnAck, ConnAckProperties, Connect, Decoder, Disconnect, Encode, Packet, PacketId,
    ProtocolVersion, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, Role, SubAck,
    Subscribe, TopicFilter, TopicName, UnsubAck, Unsubscribe,
};
use mqtt_session::Instant;

use super::network::ConnId;

/// What the broker announces and enforces.
#[derive(Debug, Clone, Copy)]
pub struct BrokerConfig {
    /// Receive Maximum, announced in a 5.0 CONNACK (65,535: not announced) and enforced.
    pub receive_maximum: u16,
    /// The outgoing window towards a 3.1.1 client, which cannot announce one.
    pub v3_max_inflight: u16,
    /// Topic Alias Maximum, announced in a 5.0 CONNACK (0: no aliases).
    pub topic_alias_maximum: u16,
    /// Maximum QoS, announced in a 5.0 CONNACK when below 2 and enforced
    /// ([MQTT-3.2.2-11]); subscriptions are granted at most this.
    pub maximum_qos: QoS,
    /// Server Keep Alive, announced in a 5.0 CONNACK: the client must use it
    /// ([MQTT-3.1.2-21]).
    pub server_keep_alive: Option<u16>,
    /// Under 5.0, PUBLISHes to this topic are refused (PUBACK / PUBREC 0x87) and dropped.
    pub refused_topic: Option<&'static str>,
}

/// One message the broker routed to the client's session.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub payload: Bytes,
    pub topic: TopicName,
    /// The QoS it is delivered with.
    pub qos: QoS,
    /// The session it belongs to ([`Broker::losses`] when it was routed).
    pub epoch: u64,
    /// Its PUBLISH was written at least once.
    pub sent: bool,
    /// The client acknowledged it: PUBACK (QoS 1) or PUBREC (QoS 2).
    pub acked: bool,
    /// Its exchange is over: PUBACK or PUBCOMP (QoS 0: sent).
    pub done: bool,
}

/// A PUBLISH from the client the broker accepted and routed: every QoS 0 and QoS 1
/// arrival, the first arrival of a QoS 2 message.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub payload: Bytes,
    pub topic: TopicName,
    pub qos: QoS,
    pub epoch: u64,
}

/// What the broker asks the network to do.
#[derive(Debug)]
pub enum Output {
    /// Write bytes on a connection.
    Transmit(ConnId, Bytes),
    /// Close a connection (after the bytes written before).
    Close(ConnId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// PUBLISH sent, waiting for PUBACK / PUBREC.
    AwaitingAck,
    /// PUBREL sent, waiting for PUBCOMP.
    AwaitingComp,
}

#[derive(Debug)]
struct Outgoing {
    delivery: usize,
    id: PacketId,
    stage: Stage,
}

/// The server side of the client's session.
#[derive(Debug)]
struct SessionState {
    /// Seconds it outlives a connection (3.1.1: 0 or `u32::MAX`).
    expiry: u32,
    /// When it ends, while no connection is up.
    expires_at: Option<Instant>,
    epoch: u64,
    subscriptions: Vec<(TopicFilter, QoS)>,
    /// For each subscribed filter, `accepted.len()` when it became active.
    active_since: HashMap<String, usize>,
    /// Inbound QoS 2 identifiers routed and waiting for PUBREL (method B).
    inbound_qos2: BTreeSet<u16>,
    /// Outbound QoS 1/2 messages holding an identifier, in the order first sent.
    outgoing: VecDeque<Outgoing>,
    /// Outbound QoS 1/2 messages waiting for the window.
    queue: VecDeque<usize>,
    ids: BTreeSet<u16>,
    next_id: u16,
}

impl SessionState {
    fn allocate_id(&mut self) -> Option<PacketId> {
        if self.ids.len() >= 65_535 {
            return None;
        }
        loop {
            let id = PacketId::new(self.next_id).unwrap_or(PacketId::MIN);
            self.next_id = id.next().get();
            if self.ids.insert(id.get()) {
                return Some(id);
            }
        }
    }
}

#[derive(Debug)]
struct Connection {
    id: ConnId,
    decoder: Decoder,
    buf: BytesMut,
    version: ProtocolVersion,
    /// CONNECT received and accepted.
    accepted: bool,
    keep_alive: u16,
    last_received: Instant,
    /// The Session Expiry Interval of CONNECT (a DISCONNECT may not raise 0).
    connect_expiry: u32,
    /// The client's Receive Maximum (3.1.1: the configured window).
    window: usize,
    client_alias_maximum: u16,
    incoming_aliases: HashMap<u16, TopicName>,
    outgoing_aliases: HashMap<String, u16>,
}

/// The broker.
pub struct Broker {
    config: BrokerConfig,
    session: Option<SessionState>,
    conn: Option<Connection>,
    out: VecDeque<Output>,
    /// Sessions discarded so far: the epoch of the current one.
    pub losses: u64,
    /// Everything routed to the client.
    pub deliveries: Vec<Delivery>,
    /// Everything accepted from the client.
    pub accepted: Vec<Accepted>,
    /// The client's protocol violations.
    pub violations: Vec<String>,
    /// CONNECTs accepted, and whether each resumed a session.
    pub connacks: Vec<bool>,
    /// DISCONNECTs received.
    pub disconnects: u64,
    /// PUBLISH packets re-sent (DUP 1) and PINGREQs answered, for statistics.
    pub resent: u64,
    pub pings: u64,
    /// Times a message had to wait for the client's window.
    pub window_full: u64,
    /// PUBACK / PUBREC / PUBCOMP for identifiers not awaiting one.
    pub unknown_acks: u64,
    /// Connections taken over by a new one.
    pub takeovers: u64,
    /// Connections closed because the client fell silent for 1.5 keep-alive periods.
    pub keep_alive_closes: Vec<ConnId>,
}

impl Broker {
    pub fn new(config: BrokerConfig) -> Broker {
        Broker {
            config,
            session: None,
            conn: None,
            out: VecDeque::new(),
            losses: 0,
            deliveries: Vec::new(),
            accepted: Vec::new(),
            violations: Vec::new(),
            connacks: Vec::new(),
            disconnects: 0,
            resent: 0,
            pings: 0,
            window_full: 0,
            unknown_acks: 0,
            takeovers: 0,
            keep_alive_closes: Vec::new(),
        }
    }

    // ----- inputs -----

    /// A connection came up.
    pub fn accept(&mut self, now: Instant, conn: ConnId) {
        if self.conn.is_some() {
            // The client is back while its old connection looks open (a dead link not
            // noticed yet): the old one is taken over ([MQTT-3.1.4-2] v3.1.1 /
            // [MQTT-3.1.4-3] v5) and ends as if it had closed.
            self.takeovers += 1;
            self.close(now, Some(ReasonCode::SessionTakenOver));
        }
        self.conn = Some(Connection {
            id: conn,
            decoder: Decoder::new(ProtocolVersion::V3_1_1).with_sender(Role::Client),
            buf: BytesMut::new(),
            version: ProtocolVersion::V3_1_1,
            accepted: false,
            keep_alive: 0,
            last_received: now,
            connect_expiry: 0,
            window: 1,
            client_alias_maximum: 0,
            incoming_aliases: HashMap::new(),
            outgoing_aliases: HashMap::new(),
        });
    }

    /// Bytes arrived on `conn`.
    pub fn handle_bytes(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        match &mut self.conn {
            Some(c) if c.id == conn => c.buf.extend_from_slice(bytes),
            _ => return,
        }
        loop {
            let c = match &mut self.conn {
                Some(c) if c.id == conn => c,
                _ => return,
            };
            match c.decoder.decode(&mut c.buf) {
                Ok(Some(packet)) => {
                    c.last_received = now;
                    self.handle_packet(now, packet);
                }
                Ok(None) => return,
                Err(e) => {
                    self.protocol_error(
                        now,
                        format!("the client sent an undecodable packet: {e}"),
                        ReasonCode::MalformedPacket,
                    );
                    return;
                }
            }
        }
    }

    /// `conn` closed under the broker.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        if self.conn.as_ref().is_some_and(|c| c.id == conn) {
            self.end_connection(now);
        }
    }

    /// When the broker wants [`Broker::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let keep_alive = self.conn.as_ref().and_then(|c| {
            (c.accepted && c.keep_alive > 0)
                .then(|| c.last_received + Duration::from_millis(u64::from(c.keep_alive) * 1500))
        });
        let expiry = self.session.as_ref().and_then(|s| s.expires_at);
        keep_alive.into_iter().chain(expiry).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(c) = &self.conn
            && c.accepted
            && c.keep_alive > 0
            && now >= c.last_received + Duration::from_millis(u64::from(c.keep_alive) * 1500)
        {
            // [MQTT-3.1.2-24] (v3.1.1) / [MQTT-3.1.2-22] (v5). Whether the client or the
            // link is to blame is for the caller to judge.
            self.keep_alive_closes.push(c.id);
            self.close(now, Some(ReasonCode::KeepAliveTimeout));
        }
        if self
            .session
            .as_ref()
            .and_then(|s| s.expires_at)
            .is_some_and(|t| now >= t)
        {
            self.discard_session();
        }
    }

    /// The broker ends the connection on its own (5.0: DISCONNECT with `reason` first);
    /// returns whether there was one.
    pub fn disconnect_client(&mut self, now: Instant, reason: ReasonCode) -> bool {
        if !self.is_connected() {
            return false;
        }
        self.close(now, Some(reason));
        true
    }

    /// The broker restarts without persistence: the connection (if any) is gone at once and
    /// so is the session. Returns the connection to abort.
    pub fn lose_session(&mut self) -> Option<ConnId> {
        let conn = self.conn.take().map(|c| c.id);
        self.discard_session();
        conn
    }

    /// The next thing to do on the network.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ----- state for the checks -----

    /// Whether the current session has outbound messages in flight or queued.
    pub fn has_pending_deliveries(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| !s.outgoing.is_empty() || !s.queue.is_empty())
    }

    /// Since which message accepted (an index into `accepted`) `filter` has been
    /// subscribed without interruption in the current session.
    pub fn active_since(&self, filter: &str) -> Option<usize> {
        self.session.as_ref()?.active_since.get(filter).copied()
    }

    /// Whether a connection is accepted.
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.accepted)
    }

    // ----- internals -----

    fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    fn send(&mut self, packet: impl Into<Packet>) {
        let Some(c) = &self.conn else { return };
        let mut buf = BytesMut::new();
        let packet = packet.into();
        if let Err(e) = packet.encode(c.version, &mut buf) {
            panic!("broker cannot encode {packet:?}: {e}");
        }
        self.out.push_back(Output::Transmit(c.id, buf.freeze()));
    }

    /// Closes the connection from our side (5.0: after DISCONNECT with `reason`).
    fn close(&mut self, now: Instant, reason: Option<ReasonCode>) {
        let Some(c) = &self.conn else { return };
        let id = c.id;
        if let Some(code) = reason
            && c.version.is_v5()
            && c.accepted
        {
            self.send(Disconnect::new(code));
        }
        self.out.push_back(Output::Close(id));
        self.end_connection(now);
    }

    fn protocol_error(&mut self, now: Instant, what: String, code: ReasonCode) {
        self.violation(what);
        self.close(now, Some(code));
    }

    fn end_connection(&mut self, now: Instant) {
        let Some(c) = self.conn.take() else { return };
        if !c.accepted {
            return;
        }
        if let Some(s) = &mut self.session {
            match s.expiry {
                0 => self.discard_session(),
                u32::MAX => {}
                secs => s.expires_at = Some(now + Duration::from_secs(u64::from(secs))),
            }
        }
    }

    fn discard_session(&mut self) {
        if self.session.take().is_some() {
            self.losses += 1;
        }
    }

    fn handle_packet(&mut self, now: Instant, packet: Packet) {
        let accepted = self.conn.as_ref().is_some_and(|c| c.accepted);
        match packet {
            Packet::Connect(c) if !accepted => self.handle_connect(now, *c),
            Packet::Connect(_) => self.protocol_error(
                now,
                "a second CONNECT on one connection [MQTT-3.1.0-2]".into(),
                ReasonCode::ProtocolError,
            ),
            other if !accepted => self.protocol_error(
                now,
                format!(
                    "{} before CONNECT [MQTT-3.1.0-1]",
                    other.packet_type().name()
                ),
                ReasonCode::ProtocolError,
            ),
            Packet::Publish(p) => self.handle_publish(now, p),
            Packet::PubAck(a) => {
                let found = self.take_outgoing(a.packet_id, Stage::AwaitingAck, QoS::AtLeastOnce);
                match found {
                    Some(o) => {
                        let d = &mut self.deliveries[o.delivery];
                        d.acked = true;
                        d.done = true;
                        self.pump();
                    }
                    // The client answers from session state we lost unnoticed (a
                    // session re-created on a connection whose CONNACK never arrived).
                    None => self.unknown_acks += 1,
                }
            }
            Packet::PubRec(a) => self.handle_pubrec(a),
            Packet::PubComp(a) => {
                let found = self.take_outgoing(a.packet_id, Stage::AwaitingComp, QoS::ExactlyOnce);
                match found {
                    Some(o) => {
                        self.deliveries[o.delivery].done = true;
                        self.pump();
                    }
                    None => self.unknown_acks += 1,
                }
            }
            Packet::PubRel(r) => {
                let v5 = self.version().is_v5();
                let known = self
                    .session
                    .as_mut()
                    .is_some_and(|s| s.inbound_qos2.remove(&r.packet_id.get()));
                // [MQTT-4.3.3-11]; an unknown identifier (our PUBCOMP was lost) is answered
                // with 0x92 under 5.0.
                let code = if known || !v5 {
                    ReasonCode::Success
                } else {
                    ReasonCode::PacketIdentifierNotFound
                };
                self.send(PubComp::with_reason(r.packet_id, code));
            }
            Packet::Subscribe(s) => self.handle_subscribe(s),
            Packet::Unsubscribe(u) => self.handle_unsubscribe(u),
            Packet::PingReq => {
                self.pings += 1;
                self.send(Packet::PingResp)
            }
            Packet::Disconnect(d) => {
                self.disconnects += 1;
                let connect_expiry = self.conn.as_ref().map_or(0, |c| c.connect_expiry);
                if let Some(e) = d.properties.session_expiry_interval {
                    if connect_expiry == 0 && e > 0 {
                        self.protocol_error(
                            now,
                            "DISCONNECT raises a Session Expiry Interval of 0 [MQTT-3.14.2-2]"
                                .into(),
                            ReasonCode::ProtocolError,
                        );
                        return;
                    }
                    if let Some(s) = &mut self.session {
                        s.expiry = e;
                    }
                }
                // [MQTT-3.14.4-1]: the client closes; so do we.
                self.close(now, None);
            }
            other => self.protocol_error(
                now,
                format!("unexpected {} from the client", other.packet_type().name()),
                ReasonCode::ProtocolError,
            ),
        }
    }

    fn version(&self) -> ProtocolVersion {
        self.conn
            .as_ref()
            .map_or(ProtocolVersion::V3_1_1, |c| c.version)
    }

    fn handle_connect(&mut self, now: Instant, connect: Connect) {
        let version = connect.protocol_version;
        let v5 = version.is_v5();
        let expiry = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        let v3_window = usize::from(self.config.v3_max_inflight.max(1));
        let Some(c) = &mut self.conn else { return };
        c.version = version;
        c.decoder.set_version(version);
        c.keep_alive = match self.config.server_keep_alive {
            Some(k) if v5 => k,
            _ => connect.keep_alive,
        };
        c.connect_expiry = expiry;
        c.window = if v5 {
            usize::from(
                connect
                    .properties
                    .receive_maximum
                    .map_or(65_535, NonZeroU16::get),
            )
        } else {
            v3_window
        };
        c.client_alias_maximum = if v5 {
            connect.properties.topic_alias_maximum.unwrap_or(0)
        } else {
            0
        };
        c.accepted = true;
        if self
            .session
            .as_ref()
            .and_then(|s| s.expires_at)
            .is_some_and(|t| now >= t)
        {
            self.discard_session();
        }
        if connect.clean_start {
            // [MQTT-3.1.2-6] (v3.1.1) / [MQTT-3.1.2-4] (v5).
            self.discard_session();
        }
        let present = self.session.is_some();
        match &mut self.session {
            Some(s) => {
                s.expires_at = None;
                s.expiry = expiry;
            }
            None => {
                self.session = Some(SessionState {
                    expiry,
                    expires_at: None,
                    epoch: self.losses,
                    subscriptions: Vec::new(),
                    active_since: HashMap::new(),
                    inbound_qos2: BTreeSet::new(),
                    outgoing: VecDeque::new(),
                    queue: VecDeque::new(),
                    ids: BTreeSet::new(),
                    next_id: 1,
                })
            }
        }
        let mut connack = ConnAck::new(ReasonCode::Success);
        connack.session_present = present;
        if v5 {
            connack.properties = ConnAckProperties {
                receive_maximum: NonZeroU16::new(self.config.receive_maximum)
                    .filter(|r| r.get() != 65_535),
                topic_alias_maximum: (self.config.topic_alias_maximum > 0)
                    .then_some(self.config.topic_alias_maximum),
                maximum_qos: (self.config.maximum_qos < QoS::ExactlyOnce)
                    .then_some(self.config.maximum_qos),
                server_keep_alive: self.config.server_keep_alive,
                ..ConnAckProperties::default()
            };
        }
        self.connacks.push(present);
        self.send(connack);
        if present {
            self.resend();
        }
        self.pump();
    }

    /// Session resumed: every PUBLISH not acknowledged again with DUP 1, every PUBREL
    /// again, in the original order.
    fn resend(&mut self) {
        let Some(s) = &self.session else { return };
        let todo: Vec<_> = s
            .outgoing
            .iter()
            .map(|o| (o.delivery, o.id, o.stage))
            .collect();
        for (delivery, id, stage) in todo {
            match stage {
                Stage::AwaitingAck => {
                    self.resent += 1;
                    self.send_delivery(delivery, Some(id), true)
                }
                Stage::AwaitingComp => self.send(PubRel::new(id)),
            }
        }
    }

    /// Sends queued messages while the window allows.
    fn pump(&mut self) {
        let Some(c) = &self.conn else { return };
        if !c.accepted {
            return;
        }
        let window = c.window;
        loop {
            let Some(s) = &mut self.session else { return };
            if s.queue.is_empty() {
                return;
            }
            if s.outgoing.len() >= window {
                self.window_full += 1;
                return;
            }
            let Some(id) = s.allocate_id() else { return };
            let Some(delivery) = s.queue.pop_front() else {
                return;
            };
            s.outgoing.push_back(Outgoing {
                delivery,
                id,
                stage: Stage::AwaitingAck,
            });
            self.send_delivery(delivery, Some(id), false);
        }
    }

    /// Writes the PUBLISH of a delivery, with a Topic Alias where the client allows.
    fn send_delivery(&mut self, delivery: usize, id: Option<PacketId>, dup: bool) {
        let d = &mut self.deliveries[delivery];
        d.sent = true;
        if d.qos == QoS::AtMostOnce {
            d.done = true;
        }
        // The payload goes out tagged with the routing number, so that the checks can
        // tell copies of one message apart.
        let mut payload = BytesMut::from(&d.payload[..]);
        payload.extend_from_slice(format!("/{delivery}").as_bytes());
        let mut p = Publish::new(d.topic.clone(), payload.freeze()).with_qos(d.qos, id);
        p.dup = dup;
        if let Some(c) = &mut self.conn
            && c.client_alias_maximum > 0
        {
            let name = d.topic.as_str().to_owned();
            if let Some(&alias) = c.outgoing_aliases.get(&name) {
                p.properties.topic_alias = NonZeroU16::new(alias);
                p.topic = TopicName::empty();
            } else if c.outgoing_aliases.len() < usize::from(c.client_alias_maximum) {
                let alias = c.outgoing_aliases.len() as u16 + 1;
                c.outgoing_aliases.insert(name, alias);
                p.properties.topic_alias = NonZeroU16::new(alias);
            }
        }
        self.send(p);
    }

    fn take_outgoing(&mut self, id: PacketId, stage: Stage, qos: QoS) -> Option<Outgoing> {
        let s = self.session.as_mut()?;
        let deliveries = &self.deliveries;
        let i = s
            .outgoing
            .iter()
            .position(|o| o.id == id && o.stage == stage && deliveries[o.delivery].qos == qos)?;
        let o = s.outgoing.remove(i)?;
        s.ids.remove(&id.get());
        Some(o)
    }

    fn handle_pubrec(&mut self, a: PubRec) {
        let deliveries = &self.deliveries;
        let Some(s) = &mut self.session else { return };
        let Some(i) = s
            .outgoing
            .iter()
            .position(|o| o.id == a.packet_id && deliveries[o.delivery].qos == QoS::ExactlyOnce)
        else {
            // Unknown (see PUBACK): PUBREL 0x92 lets the client free the identifier (5.0
            // §3.6.2.1: "not an error during recovery"). A failing PUBREC ends the exchange.
            self.unknown_acks += 1;
            if a.reason_code.is_error() {
                return;
            }
            let code = if self.version().is_v5() {
                ReasonCode::PacketIdentifierNotFound
            } else {
                ReasonCode::Success
            };
            self.send(PubRel::with_reason(a.packet_id, code));
            return;
        };
        if s.outgoing[i].stage == Stage::AwaitingComp {
            // A PUBREC again: the client answered a re-sent PUBLISH ([MQTT-4.3.3-10]) or
            // sent a late one for the original. Our PUBREL is out already.
            return;
        }
        let delivery = s.outgoing[i].delivery;
        if a.reason_code.is_error() {
            // [MQTT-4.4.0-2]: refused; the exchange is over.
            s.outgoing.remove(i);
            s.ids.remove(&a.packet_id.get());
            let d = &mut self.deliveries[delivery];
            d.acked = true;
            d.done = true;
            self.pump();
            return;
        }
        s.outgoing[i].stage = Stage::AwaitingComp;
        self.deliveries[delivery].acked = true;
        self.send(PubRel::new(a.packet_id));
    }

    fn handle_publish(&mut self, now: Instant, mut p: Publish) {
        let v5 = self.version().is_v5();
        let alias_max = self.config.topic_alias_maximum;
        let Some(c) = &mut self.conn else { return };
        // Topic aliases (5.0).
        if let Some(alias) = p.properties.topic_alias.take() {
            if !v5 || alias.get() > alias_max {
                self.protocol_error(
                    now,
                    format!("Topic Alias {alias} above our maximum {alias_max} [MQTT-3.2.2-17]"),
                    ReasonCode::TopicAliasInvalid,
                );
                return;
            }
            if p.topic.is_empty() {
                match c.incoming_aliases.get(&alias.get()) {
                    Some(t) => p.topic = t.clone(),
                    None => {
                        self.protocol_error(
                            now,
                            format!("unknown Topic Alias {alias}"),
                            ReasonCode::ProtocolError,
                        );
                        return;
                    }
                }
            } else {
                c.incoming_aliases.insert(alias.get(), p.topic.clone());
            }
        } else if p.topic.is_empty() {
            self.protocol_error(
                now,
                "PUBLISH without a topic".into(),
                ReasonCode::ProtocolError,
            );
            return;
        }
        if v5 && p.qos > self.config.maximum_qos {
            self.protocol_error(
                now,
                format!(
                    "PUBLISH at {:?} above our Maximum QoS {:?} [MQTT-3.2.2-11]",
                    p.qos, self.config.maximum_qos
                ),
                ReasonCode::QoSNotSupported,
            );
            return;
        }
        let refused = v5 && self.config.refused_topic == Some(p.topic.as_str());
        let receive_maximum = usize::from(self.config.receive_maximum);
        let Some(id) = p.packet_id else {
            if !refused {
                self.route(&p);
            }
            return;
        };
        // Our Receive Maximum bounds inbound QoS 1 (acknowledged at once) and QoS 2
        // messages not completed (awaiting PUBREL), like the window above.
        let Some(s) = &self.session else { return };
        let fresh = !s.inbound_qos2.contains(&id.get());
        if v5 && fresh && s.inbound_qos2.len() >= receive_maximum {
            self.protocol_error(
                now,
                format!(
                    "more than our Receive Maximum {receive_maximum} QoS 1/2 PUBLISHes unacknowledged [MQTT-3.3.4-7]"
                ),
                ReasonCode::ReceiveMaximumExceeded,
            );
            return;
        }
        if refused {
            // Refused: the exchange ends here ([MQTT-4.3.3-9]); nothing is routed.
            if p.qos == QoS::AtLeastOnce {
                self.send(PubAck::with_reason(id, ReasonCode::NotAuthorized));
            } else {
                self.send(PubRec::with_reason(id, ReasonCode::NotAuthorized));
            }
            return;
        }
        if p.qos == QoS::AtLeastOnce {
            let matched = self.route(&p);
            let code = if matched || !v5 {
                ReasonCode::Success
            } else {
                ReasonCode::NoMatchingSubscribers
            };
            self.send(PubAck::with_reason(id, code));
            self.pump();
            return;
        }
        let Some(s) = &mut self.session else { return };
        if s.inbound_qos2.contains(&id.get()) {
            if !p.dup {
                self.violation(format!(
                    "a new QoS 2 PUBLISH (DUP 0) with identifier {id}, still awaiting PUBREL [MQTT-2.3.1-2]"
                ));
            }
            // [MQTT-4.3.3-10] method B: acknowledge again, never route twice.
            self.send(PubRec::new(id));
            return;
        }
        s.inbound_qos2.insert(id.get());
        let matched = self.route(&p);
        let code = if matched || !v5 {
            ReasonCode::Success
        } else {
            ReasonCode::NoMatchingSubscribers
        };
        self.send(PubRec::with_reason(id, code));
        self.pump();
    }

    /// Routes a message from the client to the client's own session; true if a
    /// subscription matched.
    fn route(&mut self, p: &Publish) -> bool {
        let Some(s) = &mut self.session else {
            return false;
        };
        self.accepted.push(Accepted {
            payload: p.payload.clone(),
            topic: p.topic.clone(),
            qos: p.qos,
            epoch: s.epoch,
        });
        let Some(granted) = s
            .subscriptions
            .iter()
            .filter(|(f, _)| f.matches(&p.topic))
            .map(|(_, q)| *q)
            .max()
        else {
            return false;
        };
        let qos = p.qos.min(granted);
        let index = self.deliveries.len();
        self.deliveries.push(Delivery {
            payload: p.payload.clone(),
            topic: p.topic.clone(),
            qos,
            epoch: s.epoch,
            sent: false,
            acked: false,
            done: false,
        });
        if qos == QoS::AtMostOnce {
            self.send_delivery(index, None, false);
        } else {
            s.queue.push_back(index);
        }
        true
    }

    fn handle_subscribe(&mut self, sub: Subscribe) {
        let Some(s) = &mut self.session else { return };
        let mut codes = Vec::new();
        let v5 = self.conn.as_ref().is_some_and(|c| c.version.is_v5());
        for request in sub.subscriptions {
            let mut qos = request.options.qos;
            if v5 {
                qos = qos.min(self.config.maximum_qos);
            }
            s.active_since
                .entry(request.filter.as_str().to_owned())
                .or_insert(self.accepted.len());
            s.subscriptions.retain(|(f, _)| *f != request.filter);
            s.subscriptions.push((request.filter, qos));
            codes.push(match qos {
                QoS::AtMostOnce => ReasonCode::GRANTED_QOS_0,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
        }
        self.send(SubAck {
            packet_id: sub.packet_id,
            reason_codes: codes,
            properties: Default::default(),
        });
    }

    fn handle_unsubscribe(&mut self, unsub: Unsubscribe) {
        let v5 = self.version().is_v5();
        let Some(s) = &mut self.session else { return };
        let mut codes = Vec::new();
        for filter in unsub.filters {
            let before = s.subscriptions.len();
            // [MQTT-3.10.4-1]: character-by-character equality.
            s.subscriptions.retain(|(f, _)| *f != filter);
            s.active_since.remove(filter.as_str());
            codes.push(if s.subscriptions.len() < before {
                ReasonCode::Success
            } else {
                ReasonCode::NoSubscriptionExisted
            });
        }
        self.send(UnsubAck {
            packet_id: unsub.packet_id,
            reason_codes: if v5 { codes } else { Vec::new() },
            properties: Default::default(),
        });
    }
}
