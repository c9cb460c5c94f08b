//! Outgoing PUBLISH: QoS 0, 1 and 2 flows, the in-flight window under the server's
//! Receive Maximum, the queue of messages waiting to go, topic aliases, and re-sending
//! on session resumption.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::mem;
use mqtt_proto::{
    PacketId, PacketType, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode, TopicName,
};

use super::{Session, State};
use crate::admission;
use crate::alias::AliasUse;
use crate::error::{OperationError, ProtocolViolation, UsageError};
use crate::event::{Event, OperationId};
use crate::journal::{Journal, StateChange, StoredMessage};
use crate::options::{PendingOnSessionLoss, QueueOverflow};
use crate::time::Instant;

/// Where a QoS 1/2 message in flight is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// PUBLISH sent; waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,
    /// PUBREC received, PUBREL sent; waiting for PUBCOMP.
    AwaitingPubComp,
}

/// A QoS 1/2 message that holds a packet identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The operation it completes.
    pub operation: OperationId,
    /// The PUBLISH, with its packet identifier (kept for re-sending).
    pub publish: Publish,
    /// Where it is.
    pub stage: Stage,
    /// The connection generation it was last sent on (0: not sent since restore).
    pub(crate) sent_on: u32,
    /// Connections the server closed, unproven, after it was sent on them.
    pub(crate) closed_sends: u16,
}

impl InFlight {
    /// An in-flight message, as read back from storage (see
    /// [`SessionState`](crate::SessionState)); `publish` carries its packet identifier.
    pub fn new(operation: OperationId, publish: Publish, stage: Stage) -> InFlight {
        InFlight {
            operation,
            publish,
            stage,
            sent_on: 0,
            closed_sends: 0,
        }
    }

    fn packet_id(&self) -> Option<PacketId> {
        self.publish.packet_id
    }
}

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// The operation it completes.
    pub operation: OperationId,
    /// The PUBLISH, without packet identifier.
    pub publish: Publish,
    /// When it was queued (for its Message Expiry Interval).
    pub queued_at: Instant,
    /// Connections the server closed, unproven, after it was sent on them (it is queued
    /// again when the server lost the session).
    pub(crate) closed_sends: u16,
}

impl Queued {
    /// A message waiting to be sent, as read back from storage (see
    /// [`SessionState`](crate::SessionState)); `publish` carries no packet identifier.
    pub fn new(operation: OperationId, publish: Publish, queued_at: Instant) -> Queued {
        Queued {
            operation,
            publish,
            queued_at,
            closed_sends: 0,
        }
    }
}

/// Outgoing message state.
#[derive(Default)]
pub(crate) struct Outbound {
    /// In send order (a QoS 2 message moves to the back when its PUBREC arrives, so
    /// PUBRELs keep the order of PUBRECs, [MQTT-4.6.0-4]).
    pub(crate) in_flight: VecDeque<InFlight>,
    pub(crate) queue: VecDeque<Queued>,
    pub(crate) queued_bytes: usize,
    /// QoS 0 messages in the queue (they need no quota, so `pump` looks past held-back
    /// QoS 1/2 messages only when there are some).
    pub(crate) queued_qos0: usize,
    /// Whether `in_flight` may hold messages not yet sent on this connection (after a
    /// resumption or a restore), so that `pump` must look through it.
    pub(crate) rescan: bool,
    /// QoS 1/2 PUBLISHes outstanding on this connection: the send quota used
    /// ([MQTT-4.9.0-2]).
    pub(crate) outstanding: usize,
    /// Changes for a store ([`Options::journal`](crate::Options::journal)): every change
    /// of `in_flight` and `queue` goes through the methods below, which record it.
    pub(crate) journal: Journal,
}

impl Outbound {
    pub(crate) fn new_connection(&mut self) {
        self.outstanding = 0;
        self.rescan = true;
    }

    /// Takes out the next operation still pending (in flight first, then queued; a
    /// queued QoS 0 message has no operation to fail), `None` once the state is empty.
    pub(crate) fn pop_operation(&mut self) -> Option<OperationId> {
        if let Some(f) = self.in_flight.pop_front() {
            self.journal.record(|| gone(f.operation));
            return Some(f.operation);
        }
        self.outstanding = 0;
        while let Some(q) = self.pop_queue() {
            if q.publish.qos != QoS::AtMostOnce {
                return Some(q.operation);
            }
        }
        None
    }

    pub(crate) fn push_queue(&mut self, q: Queued) {
        self.count_in(&q);
        self.journal.record(|| StateChange::Outgoing {
            operation: q.operation,
            entry: Some(StoredMessage::Queued(q.clone())),
        });
        self.queue.push_back(q);
    }

    pub(crate) fn push_queue_front(&mut self, q: Queued) {
        self.count_in(&q);
        self.journal.record(|| StateChange::Outgoing {
            operation: q.operation,
            entry: Some(StoredMessage::QueuedFirst(q.clone())),
        });
        self.queue.push_front(q);
    }

    /// Appends a message to the in-flight window.
    pub(crate) fn push_in_flight(&mut self, f: InFlight) {
        self.journal.record(|| StateChange::Outgoing {
            operation: f.operation,
            entry: Some(StoredMessage::InFlight(InFlight {
                sent_on: 0,
                ..f.clone()
            })),
        });
        self.in_flight.push_back(f);
    }

    /// Takes in-flight message `i` out of the window (it is finished, or moves).
    pub(crate) fn remove_in_flight(&mut self, i: usize) -> Option<InFlight> {
        let f = self.in_flight.remove(i)?;
        self.journal.record(|| gone(f.operation));
        Some(f)
    }

    /// Empties the in-flight window.
    pub(crate) fn take_in_flight_all(&mut self) -> VecDeque<InFlight> {
        let all = core::mem::take(&mut self.in_flight);
        for f in &all {
            self.journal.record(|| gone(f.operation));
        }
        all
    }

    fn pop_queue(&mut self) -> Option<Queued> {
        self.remove_queued(0)
    }

    fn remove_queued(&mut self, i: usize) -> Option<Queued> {
        let q = self.queue.remove(i)?;
        self.journal.record(|| gone(q.operation));
        self.queued_bytes -= q.publish.payload.len();
        if q.publish.qos == QoS::AtMostOnce {
            self.queued_qos0 -= 1;
        }
        Some(q)
    }

    fn count_in(&mut self, q: &Queued) {
        self.queued_bytes += q.publish.payload.len();
        if q.publish.qos == QoS::AtMostOnce {
            self.queued_qos0 += 1;
        }
    }
}

impl Session {
    /// Publishes a message.
    ///
    /// Set `qos`, `retain`, `topic`, `payload` and the 5.0 properties; the session sets
    /// the packet identifier, DUP and the Topic Alias. QoS 1/2 publishes end in exactly one
    /// [`Event::PublishCompleted`] or [`Event::OperationFailed`]; QoS 0 ones have no event.
    /// While disconnected, or while the server's Receive Maximum is used up, a QoS 1/2
    /// message waits in the queue, in order. A QoS 0 message goes out at once while
    /// connected (it needs no quota), so it can overtake QoS 1/2 messages that wait;
    /// order is kept among messages of one QoS level.
    /// Publish returns [`UsageError`] for what can be known at once (a QoS above the
    /// server's maximum, an oversize packet, a full queue).
    pub fn publish(
        &mut self,
        now: Instant,
        mut message: Publish,
    ) -> Result<OperationId, UsageError> {
        let now = self.clock(now);
        if self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        let unsent = self.tx.len();
        if unsent > self.options.queue.max_unsent_bytes {
            return Err(UsageError::TransmitBacklog { unsent });
        }
        admission::check_reserved(&message)?;
        message.dup = false;
        message.packet_id = None;
        if message.qos == QoS::AtMostOnce && self.is_connected() {
            // The hot path: checked and encoded in one go (the encoder refuses what
            // exceeds the server's Maximum Packet Size, with the same error).
            admission::check_server_limits(&self.limits, &message)?;
            self.send_publish(now, &mut message)?;
            return Ok(self.next_operation_id());
        }
        admission::check_publish(self.version(), self.connected_limits(), &mut message)?;
        let operation = self.next_operation_id();
        let queued = Queued::new(operation, message, now);
        let can_send_now = self.is_connected()
            && (queued.publish.qos == QoS::AtMostOnce
                || (self.outbound.queue.is_empty()
                    && self.quota() > 0
                    && self.ids.in_use() < 65_535));
        if can_send_now {
            self.send_new(now, queued);
        } else {
            self.enqueue(queued)?;
        }
        Ok(operation)
    }

    fn enqueue(&mut self, q: Queued) -> Result<(), UsageError> {
        let limits = self.options.queue;
        let over = |o: &super::Outbound, extra: usize| {
            o.queue.len() + 1 > limits.max_messages || o.queued_bytes + extra > limits.max_bytes
        };
        let extra = q.publish.payload.len();
        if extra > limits.max_bytes || limits.max_messages == 0 {
            // Dropping others could never make room for it.
            return Err(UsageError::QueueFull);
        }
        while over(&self.outbound, extra) {
            match limits.overflow {
                QueueOverflow::DropOldest if !self.outbound.queue.is_empty() => {
                    if let Some(old) = self.outbound.pop_queue()
                        && old.publish.qos != QoS::AtMostOnce
                    {
                        self.fail_operation(old.operation, OperationError::Dropped);
                    }
                }
                _ => return Err(UsageError::QueueFull),
            }
        }
        self.outbound.push_queue(q);
        Ok(())
    }

    /// The send quota left on this connection: the server's Receive Maximum and our own
    /// `max_in_flight`, less what is outstanding ([MQTT-3.3.4-7], [MQTT-4.9.0-1]).
    fn quota(&self) -> usize {
        let mut window = usize::from(self.limits.receive_maximum);
        match self.options.max_in_flight {
            Some(cap) => window = window.min(usize::from(cap.max(1))),
            None if !self.version().is_v5() => window = window.min(20),
            None => {}
        }
        window.saturating_sub(self.outbound.outstanding)
    }

    /// Sends what may go now: messages in flight not yet sent on this connection (in
    /// order), then queued messages, while the send quota and packet identifiers last.
    pub(crate) fn pump(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        // Messages restored or left over from resumption, not yet sent on this
        // connection, in their original order ([MQTT-4.6.0-1]).
        let mut i = 0;
        let mut held = false;
        while self.outbound.rescan && i < self.outbound.in_flight.len() {
            if self.outbound.in_flight[i].sent_on != self.connection {
                match self.outbound.in_flight[i].stage {
                    Stage::AwaitingAck => {
                        if self.quota() == 0 {
                            held = true;
                            // PUBRELs further on still go ([MQTT-4.9.0-3]).
                            i += 1;
                            continue;
                        }
                        self.outbound.outstanding += 1;
                        if !self.resend_in_flight(now, i) {
                            // Removed: it no longer fits the server's limits.
                            self.outbound.outstanding -= 1;
                            continue;
                        }
                    }
                    // Outstanding until its PUBCOMP ([MQTT-3.3.4-7]); its PUBREL is
                    // never held back by the quota ([MQTT-4.9.0-3]).
                    Stage::AwaitingPubComp => {
                        self.outbound.outstanding += 1;
                        self.resend_in_flight(now, i);
                    }
                }
            }
            i += 1;
        }
        self.outbound.rescan = held;

        // Queued messages in order; QoS 0 ones need no quota, so they do not wait behind
        // QoS 1/2 ones the quota holds back (order is kept within each QoS level).
        let mut i = 0;
        while i < self.outbound.queue.len() {
            let qos = self.outbound.queue[i].publish.qos;
            if qos != QoS::AtMostOnce && (self.quota() == 0 || self.ids.in_use() >= 65_535) {
                if self.outbound.queued_qos0 == 0 {
                    return;
                }
                i += 1;
                continue;
            }
            let Some(q) = self.outbound.remove_queued(i) else {
                return;
            };
            self.send_new(now, q);
        }
    }

    /// Re-sends in-flight message `i` on this connection: the PUBLISH with DUP set
    /// ([MQTT-3.3.1-1]) and its original identifier ([MQTT-2.3.1-3]), or its PUBREL
    /// ([MQTT-4.4.0-1]). A PUBLISH is never sent again once its PUBREL was
    /// ([MQTT-4.3.3-6]).
    /// Returns false if the PUBLISH cannot be sent under this connection's limits: it is
    /// then removed and its operation failed.
    fn resend_in_flight(&mut self, now: Instant, i: usize) -> bool {
        let connection = self.connection;
        let mut entry = mem::replace(
            &mut self.outbound.in_flight[i],
            InFlight {
                operation: OperationId(0),
                publish: Publish::new(TopicName::empty(), bytes::Bytes::new()),
                stage: Stage::AwaitingPubComp,
                sent_on: 0,
                closed_sends: 0,
            },
        );
        entry.sent_on = connection;
        match entry.stage {
            Stage::AwaitingAck => {
                entry.publish.dup = true;
                if let Err(e) = self.send_publish(now, &mut entry.publish) {
                    self.outbound.remove_in_flight(i);
                    if let Some(id) = entry.packet_id() {
                        self.ids.release(id);
                    }
                    self.fail_operation(
                        entry.operation,
                        OperationError::Rejected(UsageError::from(e)),
                    );
                    return false;
                }
            }
            Stage::AwaitingPubComp => {
                if let Some(id) = entry.packet_id() {
                    let _ = self.send(now, &PubRel::new(id));
                }
            }
        }
        self.outbound.in_flight[i] = entry;
        true
    }

    /// Sends a message for the first time (a QoS 1/2 one takes a packet identifier and
    /// joins the in-flight window).
    fn send_new(&mut self, now: Instant, mut q: Queued) {
        // Message expiry (5.0): drop it if it expired while queued, else send the
        // remaining lifetime.
        if let Some(expiry) = q.publish.properties.message_expiry_interval {
            let waited = (now - q.queued_at).as_secs();
            if waited >= u64::from(expiry) {
                if q.publish.qos != QoS::AtMostOnce {
                    self.fail_operation(q.operation, OperationError::Expired);
                }
                return;
            }
            q.publish.properties.message_expiry_interval = Some(expiry - waited as u32);
        }
        if let Err(e) = admission::check_server_limits(&self.limits, &q.publish) {
            // [MQTT-3.2.2-11] / [MQTT-3.2.2-14]: queued before this CONNACK said so.
            if q.publish.qos != QoS::AtMostOnce {
                self.fail_operation(q.operation, OperationError::Rejected(e));
            }
            return;
        }
        if q.publish.qos == QoS::AtMostOnce {
            // [MQTT-4.3.1-1]: QoS 0, DUP 0, sent once.
            let _ = self.send_publish(now, &mut q.publish);
            return;
        }
        let Some(id) = self.ids.allocate() else {
            self.outbound.push_queue_front(q);
            return;
        };
        // [MQTT-4.3.2-1] / [MQTT-4.3.3-1]: a fresh identifier; first sent with DUP 0.
        q.publish.packet_id = Some(id);
        q.publish.dup = false;
        if let Err(e) = self.send_publish(now, &mut q.publish) {
            self.ids.release(id);
            self.fail_operation(q.operation, OperationError::Rejected(UsageError::from(e)));
            return;
        }
        self.outbound.outstanding += 1;
        self.outbound.push_in_flight(InFlight {
            operation: q.operation,
            publish: q.publish,
            stage: Stage::AwaitingAck,
            sent_on: self.connection,
            closed_sends: q.closed_sends,
        });
    }

    /// Encodes a PUBLISH, replacing its topic by a Topic Alias where the server allows.
    fn send_publish(
        &mut self,
        now: Instant,
        p: &mut Publish,
    ) -> Result<(), mqtt_proto::EncodeError> {
        if !self.version().is_v5() {
            // No Topic Alias before 5.0 (without the `v5` feature the rest folds away).
            return self.send(now, &*p);
        }
        match self.outgoing_aliases.lookup(&p.topic) {
            None => self.send(now, &*p),
            Some(AliasUse::Bind(alias)) => {
                p.properties.topic_alias = Some(alias);
                let r = self.send(now, &*p);
                p.properties.topic_alias = None;
                if r.is_err() {
                    // Not sent: the server never learned the alias. The alias's bytes
                    // may be what made it too large: try without.
                    self.outgoing_aliases.unbind(alias);
                    return self.send(now, &*p);
                }
                r
            }
            Some(AliasUse::Known(alias)) => {
                p.properties.topic_alias = Some(alias);
                let topic = mem::replace(&mut p.topic, TopicName::empty());
                let r = self.send(now, &*p);
                p.topic = topic;
                p.properties.topic_alias = None;
                r
            }
        }
    }

    fn take_in_flight(&mut self, id: PacketId, stage: Stage, qos: QoS) -> Option<InFlight> {
        let i =
            self.outbound.in_flight.iter().position(|f| {
                f.packet_id() == Some(id) && f.stage == stage && f.publish.qos == qos
            })?;
        self.outbound.remove_in_flight(i)
    }

    /// The end of a QoS 1/2 exchange: free the identifier and the quota, report it.
    fn finish(&mut self, now: Instant, f: InFlight, result: Result<ReasonCode, ReasonCode>) {
        if let Some(id) = f.packet_id() {
            self.ids.release(id);
        }
        if f.sent_on == self.connection {
            self.outbound.outstanding = self.outbound.outstanding.saturating_sub(1);
        }
        self.events.push_back(match result {
            Ok(reason_code) => Event::PublishCompleted {
                id: f.operation,
                reason_code,
            },
            Err(code) => Event::OperationFailed {
                id: f.operation,
                error: OperationError::Refused(code),
            },
        });
        self.pump(now);
    }

    pub(crate) fn handle_puback(
        &mut self,
        now: Instant,
        ack: PubAck,
    ) -> Result<(), ProtocolViolation> {
        let Some(f) = self.take_in_flight(ack.packet_id, Stage::AwaitingAck, QoS::AtLeastOnce)
        else {
            return self.stray_acknowledgement(PacketType::PubAck, ack.packet_id);
        };
        // [MQTT-4.4.0-2]: a failing PUBACK also ends the exchange.
        let result = if ack.reason_code.is_error() {
            Err(ack.reason_code)
        } else {
            Ok(ack.reason_code)
        };
        self.finish(now, f, result);
        Ok(())
    }

    pub(crate) fn handle_pubrec(
        &mut self,
        now: Instant,
        rec: PubRec,
    ) -> Result<(), ProtocolViolation> {
        let id = rec.packet_id;
        let Some(mut f) = self.take_in_flight(id, Stage::AwaitingAck, QoS::ExactlyOnce) else {
            if self
                .outbound
                .in_flight
                .iter()
                .any(|f| f.packet_id() == Some(id) && f.stage == Stage::AwaitingPubComp)
            {
                // A PUBREC again for a message whose PUBREL went out: send PUBREL again.
                let _ = self.send(now, &PubRel::new(id));
                return Ok(());
            }
            self.stray_acknowledgement(PacketType::PubRec, id)?;
            // The server holds the message and waits for PUBREL; we hold nothing of it
            // (5.0: 0x92, the identifier is not known to us).
            let code = if self.version().is_v5() {
                ReasonCode::PacketIdentifierNotFound
            } else {
                ReasonCode::Success
            };
            let _ = self.send(now, &PubRel::with_reason(id, code));
            return Ok(());
        };
        if rec.reason_code.is_error() {
            // U5-34: a failing PUBREC ends the exchange: no PUBREL.
            self.finish(now, f, Err(rec.reason_code));
            return Ok(());
        }
        // [MQTT-4.3.3-4]: PUBREL with the same identifier; the payload is not needed any
        // more ([MQTT-4.3.3-6]).
        f.stage = Stage::AwaitingPubComp;
        f.publish.payload = bytes::Bytes::new();
        let _ = self.send(now, &PubRel::new(id));
        self.outbound.push_in_flight(f);
        Ok(())
    }

    pub(crate) fn handle_pubcomp(
        &mut self,
        now: Instant,
        comp: PubComp,
    ) -> Result<(), ProtocolViolation> {
        let Some(f) = self.take_in_flight(comp.packet_id, Stage::AwaitingPubComp, QoS::ExactlyOnce)
        else {
            return self.stray_acknowledgement(PacketType::PubComp, comp.packet_id);
        };
        // 0x92 (not found) still completes the exchange: the server had the message.
        self.finish(now, f, Ok(comp.reason_code));
        Ok(())
    }

    /// An acknowledgement that matches nothing in flight: for an identifier with nothing
    /// in flight it is reported, or a protocol violation under
    /// [`Options::strict_acknowledgements`](crate::Options); for one whose message waits
    /// for another kind of acknowledgement it is a protocol violation.
    #[cold]
    fn stray_acknowledgement(
        &mut self,
        packet_type: PacketType,
        packet_id: PacketId,
    ) -> Result<(), ProtocolViolation> {
        // One for a message in flight under this identifier, but of the wrong kind, means
        // the server mixed up two exchanges: that is a violation whatever the option.
        let in_flight = self
            .outbound
            .in_flight
            .iter()
            .any(|f| f.packet_id() == Some(packet_id));
        if self.options.strict_acknowledgements || in_flight {
            return Err(ProtocolViolation::UnknownPacketId(match packet_type {
                PacketType::PubAck => "PUBACK",
                PacketType::PubRec => "PUBREC",
                _ => "PUBCOMP",
            }));
        }
        self.events.push_back(Event::StrayAcknowledgement {
            packet_type,
            packet_id,
        });
        Ok(())
    }

    /// The connection closed before the server acknowledged anything on it: count it
    /// against every message sent on it, and fail those sent more often than
    /// [`Options::resend_limit`](crate::Options::resend_limit) allows.
    pub(crate) fn closed_unproven(&mut self) {
        let Some(limit) = self.options.resend_limit else {
            return;
        };
        let connection = self.connection;
        let mut i = 0;
        while i < self.outbound.in_flight.len() {
            let f = &mut self.outbound.in_flight[i];
            if f.sent_on != connection || f.stage != Stage::AwaitingAck {
                i += 1;
                continue;
            }
            f.closed_sends = f.closed_sends.saturating_add(1);
            if f.closed_sends <= limit {
                i += 1;
                continue;
            }
            let sends = f.closed_sends;
            if let Some(f) = self.outbound.remove_in_flight(i) {
                if let Some(id) = f.packet_id() {
                    self.ids.release(id);
                }
                self.outbound.outstanding = self.outbound.outstanding.saturating_sub(1);
                self.fail_operation(f.operation, OperationError::ConnectionKeptClosing { sends });
            }
        }
    }

    /// CONNACK with Session Present: everything in flight goes again, in order, by
    /// `pump` (which also respects the new connection's quota), and so do pending
    /// SUBSCRIBE / UNSUBSCRIBE requests.
    pub(crate) fn resume_session(&mut self, now: Instant) {
        self.resend_requests(now);
    }

    /// CONNACK without Session Present: the server has a new session. If we held one,
    /// apply the session-loss policy ([MQTT-3.2.2-5]).
    pub(crate) fn start_new_session(&mut self, now: Instant) {
        self.inbound.clear();
        // The server starts empty: from now on we know every subscription it holds.
        self.subscriptions.complete = true;
        let in_flight = self.outbound.take_in_flight_all();
        let policy = self.options.on_session_loss;
        let mut requeue = Vec::new();
        for f in in_flight {
            if let Some(id) = f.packet_id() {
                self.ids.release(id);
            }
            match (f.stage, policy.pending) {
                // The server had the message (it sent PUBREC); it is delivered.
                (Stage::AwaitingPubComp, _) => self.events.push_back(Event::PublishCompleted {
                    id: f.operation,
                    reason_code: ReasonCode::Success,
                }),
                (Stage::AwaitingAck, PendingOnSessionLoss::Resend) => {
                    let mut publish = f.publish;
                    publish.packet_id = None;
                    publish.dup = false;
                    requeue.push(Queued {
                        closed_sends: f.closed_sends,
                        ..Queued::new(f.operation, publish, now)
                    });
                }
                (Stage::AwaitingAck, _) => {
                    self.fail_operation(f.operation, OperationError::SessionLost)
                }
            }
        }
        for q in requeue.into_iter().rev() {
            self.outbound.push_queue_front(q);
        }
        self.resend_requests(now);
        // The server holds none of our subscriptions now: make them again, whether the
        // session was lost or is clean by configuration (a reconnect after a clean
        // session would otherwise silently stop the message flow).
        if policy.resubscribe {
            self.resubscribe(now);
        } else {
            self.subscriptions.active.clear();
        }
    }
}

/// The record of a message that left the state.
fn gone(operation: OperationId) -> StateChange {
    StateChange::Outgoing {
        operation,
        entry: None,
    }
}
