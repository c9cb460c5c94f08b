//! Watches the bytes the client writes and reads, per connection, and checks the client's
//! side of the protocol on the wire:
//!
//! * CONNECT first, and only once, on every connection ([MQTT-3.1.0-1], [MQTT-3.1.0-2]);
//! * nothing written after DISCONNECT ([MQTT-3.14.4-1] v3.1.1 / [MQTT-3.14.4-2] v5);
//! * at most `min(server Receive Maximum, max_in_flight)` QoS 1/2 messages sent and not
//!   completely acknowledged (no PUBACK / PUBCOMP / failing PUBREC read back yet), whatever
//!   connection they were sent on: messages awaiting PUBCOMP count on a new connection
//!   too, the reading the session follows ([MQTT-3.3.4-7]);
//! * no PUBLISH re-sent on the connection it was sent on ([MQTT-4.4.0-1] v5);
//! * a new PUBLISH / SUBSCRIBE / UNSUBSCRIBE never takes an identifier in use
//!   ([MQTT-2.3.1-2] / [MQTT-2.2.1-3]), and a re-sent PUBLISH carries DUP 1 and one in use
//!   ([MQTT-3.3.1-1], [MQTT-2.3.1-3]);
//! * re-sent PUBLISH packets go in their original order ([MQTT-4.6.0-1]);
//! * PUBACKs in the order the QoS 1 PUBLISHes arrived on the connection ([MQTT-4.6.0-2]),
//!   PUBRECs in the order the QoS 2 ones arrived, across connections of one session
//!   ([MQTT-4.6.0-3]).

use std::collections::{BTreeSet, HashMap, VecDeque};

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion, QoS, Role};

use super::network::ConnId;

struct Watch {
    written: BytesMut,
    write_decoder: Decoder,
    read: BytesMut,
    read_decoder: Decoder,
    packets_written: u64,
    disconnect_written: bool,
    /// QoS 1/2 PUBLISH identifiers written here and not acknowledged since.
    sent_here: BTreeSet<u16>,
    server_receive_maximum: u16,
    /// QoS 1 PUBLISHes read here and not yet acknowledged.
    qos1_arrivals: VecDeque<u16>,
    /// The original send order of the last re-sent PUBLISH.
    last_resend: Option<u64>,
    /// QoS 2 identifiers the client refused (failing PUBREC) on this connection.
    refused_here: BTreeSet<u16>,
    /// Re-sent QoS 2 PUBLISHes (DUP 1) that arrived after the client refused them here:
    /// the server sent them before reading the refusal. The client may take one for a new
    /// message ([MQTT-4.3.3-9]) and answer it later, or drop it as answered.
    crossed: BTreeSet<u16>,
}

/// The monitor.
pub struct Monitor {
    version: ProtocolVersion,
    /// The client's own cap on QoS 1/2 PUBLISHes in flight.
    max_in_flight: Option<u16>,
    conns: HashMap<ConnId, Watch>,
    /// Identifiers of QoS 1/2 PUBLISHes in use (sent, not completely acknowledged), with
    /// their original send order.
    publishes: HashMap<u16, u64>,
    /// Identifiers of SUBSCRIBE / UNSUBSCRIBE requests in use.
    requests: BTreeSet<u16>,
    /// QoS 2 PUBLISHes read and not yet answered with PUBREC, in arrival order.
    qos2_arrivals: VecDeque<u16>,
    /// QoS 2 PUBLISHes answered with PUBREC, awaiting PUBREL: a re-sent PUBLISH of one is
    /// answered again at once ([MQTT-4.3.3-10]), outside the order of first answers.
    qos2_answered: BTreeSet<u16>,
    seq: u64,
    pub violations: Vec<String>,
    /// PUBLISH packets the client re-sent (DUP 1), for statistics.
    pub client_resends: u64,
}

impl Monitor {
    pub fn new(version: ProtocolVersion, max_in_flight: Option<u16>) -> Monitor {
        Monitor {
            version,
            max_in_flight,
            conns: HashMap::new(),
            publishes: HashMap::new(),
            requests: BTreeSet::new(),
            qos2_arrivals: VecDeque::new(),
            qos2_answered: BTreeSet::new(),
            seq: 0,
            violations: Vec::new(),
            client_resends: 0,
        }
    }

    /// A connection of the client came up.
    pub fn opened(&mut self, conn: ConnId) {
        self.conns.insert(
            conn,
            Watch {
                written: BytesMut::new(),
                write_decoder: Decoder::new(self.version).with_sender(Role::Client),
                read: BytesMut::new(),
                read_decoder: Decoder::new(self.version).with_sender(Role::Server),
                packets_written: 0,
                disconnect_written: false,
                sent_here: BTreeSet::new(),
                server_receive_maximum: 65_535,
                qos1_arrivals: VecDeque::new(),
                last_resend: None,
                refused_here: BTreeSet::new(),
                crossed: BTreeSet::new(),
            },
        );
    }

    /// The client's side of `conn` is gone.
    pub fn closed(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// The client wrote `bytes` on `conn`.
    pub fn client_wrote(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some(w) = self.conns.get_mut(&conn) else {
            self.violations
                .push(format!("the client wrote on connection {conn}, not open"));
            return;
        };
        if w.disconnect_written {
            self.violations.push(format!(
                "the client wrote {} bytes after DISCONNECT [MQTT-3.14.4-1]",
                bytes.len()
            ));
            return;
        }
        w.written.extend_from_slice(bytes);
        let mut packets = Vec::new();
        loop {
            match w.write_decoder.decode(&mut w.written) {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(e) => {
                    w.written.clear();
                    self.violations
                        .push(format!("the client wrote an undecodable packet: {e}"));
                    break;
                }
            }
        }
        for p in packets {
            self.on_written(conn, p);
        }
    }

    /// The client was handed `bytes` read from `conn`.
    pub fn client_read(&mut self, conn: ConnId, bytes: &[u8]) {
        let Some(w) = self.conns.get_mut(&conn) else {
            return;
        };
        w.read.extend_from_slice(bytes);
        let mut packets = Vec::new();
        while let Ok(Some(p)) = w.read_decoder.decode(&mut w.read) {
            packets.push(p);
        }
        for p in packets {
            self.on_read(conn, p);
        }
    }

    fn on_written(&mut self, conn: ConnId, p: Packet) {
        let Some(w) = self.conns.get_mut(&conn) else {
            return;
        };
        let first = w.packets_written == 0;
        w.packets_written += 1;
        let mut bad = Vec::new();
        if w.disconnect_written {
            bad.push(format!(
                "the client wrote {} after DISCONNECT [MQTT-3.14.4-1]",
                p.packet_type().name()
            ));
        }
        match (&p, first) {
            (Packet::Connect(_), true) => {}
            (Packet::Connect(_), false) => {
                bad.push("a second CONNECT on one connection [MQTT-3.1.0-2]".into())
            }
            (other, true) => bad.push(format!(
                "{} before CONNECT [MQTT-3.1.0-1]",
                other.packet_type().name()
            )),
            _ => {}
        }
        match p {
            Packet::Publish(p) if p.qos != QoS::AtMostOnce => {
                let Some(id) = p.packet_id.map(|i| i.get()) else {
                    return;
                };
                if !w.sent_here.insert(id) {
                    bad.push(format!(
                        "PUBLISH {id} sent again on the connection it awaits its acknowledgement on [MQTT-4.4.0-1]"
                    ));
                }
                let mut limit = usize::from(w.server_receive_maximum);
                match self.max_in_flight {
                    Some(cap) => limit = limit.min(usize::from(cap.max(1))),
                    // The documented default under 3.1 / 3.1.1.
                    None if !self.version.is_v5() => limit = limit.min(20),
                    None => {}
                }
                let mut in_flight: BTreeSet<u16> = self.publishes.keys().copied().collect();
                in_flight.insert(id);
                if in_flight.len() > limit {
                    bad.push(format!(
                        "{} QoS 1/2 PUBLISHes unacknowledged, above the limit {limit} [MQTT-3.3.4-7]: {in_flight:?}",
                        in_flight.len(),
                    ));
                }
                if p.dup {
                    self.client_resends += 1;
                    match self.publishes.get(&id) {
                        None => bad.push(format!(
                            "PUBLISH {id} with DUP 1 but no message with that identifier is in flight"
                        )),
                        Some(&order) => {
                            if w.last_resend.is_some_and(|last| last > order) {
                                bad.push(format!(
                                    "PUBLISH {id} re-sent out of its original order [MQTT-4.6.0-1]"
                                ));
                            }
                            w.last_resend = Some(order);
                        }
                    }
                } else {
                    if self.publishes.contains_key(&id) || self.requests.contains(&id) {
                        bad.push(format!(
                            "a new PUBLISH (DUP 0) takes identifier {id}, in use [MQTT-2.3.1-2] / or a re-send without DUP [MQTT-3.3.1-1]"
                        ));
                    }
                    self.publishes.insert(id, self.seq);
                    self.seq += 1;
                }
            }
            Packet::PubAck(a) => {
                let id = a.packet_id.get();
                if w.qos1_arrivals.front() != Some(&id) {
                    bad.push(format!(
                        "PUBACK {id}, but the oldest QoS 1 PUBLISH unacknowledged is {:?} [MQTT-4.6.0-2]",
                        w.qos1_arrivals.front()
                    ));
                }
                if let Some(i) = w.qos1_arrivals.iter().position(|&x| x == id) {
                    w.qos1_arrivals.remove(i);
                }
            }
            Packet::PubRec(a) => {
                let id = a.packet_id.get();
                let failing = a.reason_code.is_error();
                if self.qos2_answered.contains(&id) {
                    // A re-answer to a re-sent PUBLISH.
                } else if w.crossed.remove(&id) {
                    // The answer to a re-send that crossed a refusal, taken for a new
                    // message.
                    if !failing {
                        self.qos2_answered.insert(id);
                    }
                } else {
                    if failing {
                        w.refused_here.insert(id);
                    } else {
                        self.qos2_answered.insert(id);
                    }
                    if self.qos2_arrivals.front() != Some(&id) {
                        bad.push(format!(
                            "PUBREC {id}, but the oldest QoS 2 PUBLISH awaiting PUBREC is {:?} (all: {:?}) [MQTT-4.6.0-3]",
                            self.qos2_arrivals.front(),
                            self.qos2_arrivals
                        ));
                    }
                    if let Some(i) = self.qos2_arrivals.iter().position(|&x| x == id) {
                        self.qos2_arrivals.remove(i);
                    }
                }
            }
            Packet::Subscribe(s) => self.new_request(s.packet_id.get(), &mut bad),
            Packet::Unsubscribe(u) => self.new_request(u.packet_id.get(), &mut bad),
            Packet::Disconnect(_) => w.disconnect_written = true,
            _ => {}
        }
        self.violations.extend(bad);
    }

    fn new_request(&mut self, id: u16, bad: &mut Vec<String>) {
        if self.publishes.contains_key(&id) {
            bad.push(format!(
                "SUBSCRIBE / UNSUBSCRIBE takes identifier {id}, in use by a PUBLISH [MQTT-2.2.1-3]"
            ));
        }
        // A request already pending with this identifier is being re-sent.
        self.requests.insert(id);
    }

    fn on_read(&mut self, conn: ConnId, p: Packet) {
        let Some(w) = self.conns.get_mut(&conn) else {
            return;
        };
        match p {
            Packet::ConnAck(c) => {
                w.server_receive_maximum = c.properties.receive_maximum.map_or(65_535, |r| r.get());
                if !c.session_present {
                    // A new session: no identifier is in use any more except requests the
                    // client still owes, and nothing awaits a PUBREC.
                    self.publishes.clear();
                    self.qos2_arrivals.clear();
                    self.qos2_answered.clear();
                }
            }
            Packet::Publish(p) => {
                let Some(id) = p.packet_id.map(|i| i.get()) else {
                    return;
                };
                match p.qos {
                    QoS::AtLeastOnce => w.qos1_arrivals.push_back(id),
                    QoS::ExactlyOnce if p.dup && w.refused_here.remove(&id) => {
                        w.crossed.insert(id);
                    }
                    QoS::ExactlyOnce
                        if !self.qos2_arrivals.contains(&id)
                            && !self.qos2_answered.contains(&id) =>
                    {
                        self.qos2_arrivals.push_back(id)
                    }
                    _ => {}
                }
            }
            Packet::PubAck(a) => {
                w.sent_here.remove(&a.packet_id.get());
                self.publishes.remove(&a.packet_id.get());
            }
            Packet::PubComp(a) => {
                w.sent_here.remove(&a.packet_id.get());
                self.publishes.remove(&a.packet_id.get());
            }
            Packet::PubRec(a) if a.reason_code.is_error() => {
                w.sent_here.remove(&a.packet_id.get());
                self.publishes.remove(&a.packet_id.get());
            }
            Packet::PubRel(r) => {
                self.qos2_answered.remove(&r.packet_id.get());
            }
            Packet::SubAck(a) => {
                self.requests.remove(&a.packet_id.get());
            }
            Packet::UnsubAck(a) => {
                self.requests.remove(&a.packet_id.get());
            }
            _ => {}
        }
    }
}
