//! Incoming PUBLISH: QoS 0/1/2 delivery, acknowledgements in arrival order, our Receive
//! Maximum, topic aliases, and exactly-once delivery of QoS 2 across reconnects.

use alloc::collections::VecDeque;
use mqtt_proto::{PacketId, PubAck, PubComp, PubRec, PubRel, Publish, QoS, ReasonCode};

use super::Session;
use super::id_set::IdSet;
use crate::admission::{QOS2, check_acknowledgement};
use crate::error::{AcknowledgeError, ProtocolViolation, UsageError};
use crate::event::{AckToken, Event, IncomingMessage};
use crate::journal::{Journal, StateChange};
use crate::time::Instant;

/// An acknowledgement owed to the server, in the order the PUBLISHes arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwedAck {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    /// `Some` once the application (or auto-ack) decided the reason code.
    pub(crate) reason: Option<ReasonCode>,
    /// The connection it was delivered on: its token's.
    pub(crate) connection: u32,
    /// When it was delivered (for the acknowledgement timeout).
    pub(crate) delivered_at: Instant,
}

/// Incoming message state.
#[derive(Default)]
pub(crate) struct Inbound {
    /// QoS 2 messages delivered whose PUBREL has not arrived: session state, so a
    /// re-sent PUBLISH is never delivered twice ([MQTT-4.3.3-10]).
    pub(crate) qos2: IdSet,
    /// Acknowledgements owed, in arrival order ([MQTT-4.6.0-2], [MQTT-4.6.0-3]).
    pub(crate) owed: VecDeque<OwedAck>,
    /// QoS 2 identifiers refused (failing PUBREC) on this connection for a message
    /// delivered on an earlier one: a re-sent PUBLISH (DUP 1) of it crossed the PUBREC.
    pub(crate) crossing: IdSet,
    /// QoS 2 identifiers whose PUBLISH came on this connection, not completed yet.
    pub(crate) qos2_here: IdSet,
    /// Changes of `qos2` for a store ([`Options::journal`](crate::Options::journal)).
    pub(crate) journal: Journal,
}

impl Inbound {
    /// QoS 1/2 messages not completely acknowledged: what our Receive Maximum bounds.
    fn unacknowledged(&self) -> usize {
        // Per connection, like the server's send quota (§4.9): QoS 1 owed acks only exist
        // for this connection; QoS 2 ones count if their PUBLISH came on it.
        self.owed
            .iter()
            .filter(|a| a.qos == QoS::AtLeastOnce)
            .count()
            + self.qos2_here.len()
    }

    /// A connection ended: QoS 1 acknowledgements are moot (the server re-sends those
    /// messages); QoS 2 ones stay, so a message delivered once is acknowledged, not
    /// delivered again.
    pub(crate) fn connection_lost(&mut self) {
        self.owed.retain(|a| a.qos == QoS::ExactlyOnce);
        self.crossing.clear();
        self.qos2_here.clear();
    }

    /// A QoS 2 message was delivered: its identifier awaits PUBREL. It is recorded for a
    /// store only once the application accepts it ([`Inbound::accepted_qos2`]): until
    /// then a restarted client must be given the message again.
    fn hold_qos2(&mut self, id: PacketId) {
        self.qos2.insert(id.get());
    }

    /// The application (or auto-ack) accepted a delivered QoS 2 message: from now on the
    /// store holds its identifier, so the message is never delivered again, even by a
    /// client restarted from the store.
    fn accepted_qos2(&mut self, id: PacketId) {
        if self.qos2.contains(&id.get()) {
            self.journal.record(|| StateChange::IncomingQos2 {
                packet_id: id,
                awaiting_pubrel: true,
            });
        }
    }

    /// Whether the QoS 2 message `id` was delivered and not accepted (not acknowledged
    /// yet, or refused and its PUBREC not sent yet), so the store does not hold it.
    fn unaccepted(owed: &VecDeque<OwedAck>, id: u16) -> bool {
        owed.iter().any(|a| {
            a.packet_id.get() == id
                && a.qos == QoS::ExactlyOnce
                && a.reason.is_none_or(|r| r.is_error())
        })
    }

    /// The identifiers a store holds: delivered and accepted, awaiting PUBREL.
    pub(crate) fn stored_qos2(&self) -> impl Iterator<Item = PacketId> + '_ {
        self.qos2
            .iter()
            .filter(|&&id| !Inbound::unaccepted(&self.owed, id))
            .filter_map(|&id| PacketId::new(id))
    }

    /// A QoS 2 exchange ended; whether its identifier was held. `recorded`: whether the
    /// store holds it (the message was accepted), so that its end is recorded too.
    fn release_qos2(&mut self, id: PacketId, recorded: bool) -> bool {
        let held = self.qos2.remove(&id.get());
        if held && recorded {
            self.journal.record(|| StateChange::IncomingQos2 {
                packet_id: id,
                awaiting_pubrel: false,
            });
        }
        held
    }

    /// The server has no session: forget everything.
    pub(crate) fn clear(&mut self) {
        let Inbound {
            qos2,
            owed,
            journal,
            ..
        } = self;
        let stored = qos2
            .iter()
            .filter(|&&id| !Inbound::unaccepted(owed, id))
            .filter_map(|&id| PacketId::new(id));
        for id in stored {
            journal.record(|| StateChange::IncomingQos2 {
                packet_id: id,
                awaiting_pubrel: false,
            });
        }
        self.qos2.clear();
        self.owed.clear();
        self.crossing.clear();
        self.qos2_here.clear();
    }
}

impl Session {
    pub(crate) fn handle_publish(
        &mut self,
        now: Instant,
        mut publish: Publish,
    ) -> Result<(), ProtocolViolation> {
        if publish.qos == QoS::ExactlyOnce && !QOS2 {
            // Nothing was subscribed at QoS 2, and the server sends at most the granted
            // QoS ([MQTT-3.8.4-6], [MQTT-3.8.4-8]).
            return Err(ProtocolViolation::UnexpectedPacket(
                "a QoS 2 PUBLISH, but no subscription asked for QoS 2",
            ));
        }
        // Properties are 5.0's (without the `v5` feature these checks fold away).
        let v5 = self.version().is_v5();
        if v5 && let Some(alias) = publish.properties.topic_alias {
            self.incoming_aliases
                .resolve(&mut publish.topic, alias)
                .map_err(ProtocolViolation::TopicAlias)?;
            publish.properties.topic_alias = None;
        }
        if v5
            && !publish.properties.subscription_identifiers.is_empty()
            && self.subscriptions.complete
            && !self.knows_identifiers(&publish)
        {
            // U5-21: a Subscription Identifier the client never sent.
            return Err(ProtocolViolation::UnexpectedPacket(
                "a PUBLISH with a Subscription Identifier we never used",
            ));
        }
        let Some(packet_id) = publish.packet_id else {
            // [MQTT-4.3.1-1]: QoS 0, nothing to answer.
            self.deliver(publish, None);
            return Ok(());
        };
        if publish.qos == QoS::ExactlyOnce
            && publish.dup
            && self.inbound.crossing.remove(&packet_id.get())
        {
            // The server's re-send that crossed our refusal: answered already.
            return Ok(());
        }
        if publish.qos == QoS::ExactlyOnce && self.inbound.qos2.contains(&packet_id.get()) {
            // [MQTT-4.3.3-10]: a duplicate before PUBREL. Answer PUBREC again if we
            // already did; never deliver it twice.
            self.inbound.qos2_here.insert(packet_id.get());
            let pending = self.inbound.owed.iter().any(|a| a.packet_id == packet_id);
            if !pending {
                let _ = self.send(now, &PubRec::new(packet_id));
            }
            return Ok(());
        }
        if self.inbound.unacknowledged() >= usize::from(self.options.receive_maximum.max(1))
            && self.version().is_v5()
            && self.options.strict_receive_maximum
        {
            // [MQTT-3.3.4-9]: more than our Receive Maximum unacknowledged.
            return Err(ProtocolViolation::ReceiveMaximumExceeded);
        }
        if publish.qos == QoS::ExactlyOnce {
            self.inbound.hold_qos2(packet_id);
            self.inbound.qos2_here.insert(packet_id.get());
        }
        self.inbound.owed.push_back(OwedAck {
            packet_id,
            qos: publish.qos,
            reason: None,
            connection: self.connection,
            delivered_at: now,
        });
        let token = AckToken {
            packet_id,
            qos: publish.qos,
            connection: self.connection,
        };
        if self.options.auto_ack {
            self.deliver(publish, None);
            // [MQTT-4.5.0-2]: acknowledge whatever the application does with it.
            self.settle(now, packet_id, self.connection, ReasonCode::Success);
        } else {
            self.deliver(publish, Some(token));
        }
        Ok(())
    }

    /// Whether every Subscription Identifier of `publish` belongs to a subscription we
    /// made (granted, or requested and not yet acknowledged).
    fn knows_identifiers(&self, publish: &Publish) -> bool {
        let subs = &self.subscriptions;
        publish
            .properties
            .subscription_identifiers
            .iter()
            .all(|&id| {
                subs.active.iter().any(|(_, i)| *i == Some(id))
                    || subs.pending.iter().any(|p| match &p.request {
                        crate::session::Request::Subscribe(s) => {
                            s.properties.subscription_identifier == Some(id)
                        }
                        crate::session::Request::Unsubscribe(_) => false,
                    })
            })
    }

    fn deliver(&mut self, publish: Publish, ack: Option<AckToken>) {
        self.events
            .push_back(Event::Message(IncomingMessage { publish, ack }));
    }

    /// Acknowledges a message delivered with an [`AckToken`] (manual acknowledgements).
    ///
    /// Acknowledgements may be given in any order; the session sends PUBACK / PUBREC in
    /// the order the messages arrived ([MQTT-4.6.0-2], [MQTT-4.6.0-3]). Under 5.0 a reason
    /// code of 0x80 or more refuses the message; 3.1.1 can only accept.
    ///
    /// So one message not acknowledged holds back the acknowledgements of every message
    /// after it (head-of-line blocking), and the server, whose send quota they use, stops
    /// sending: [`Session::acknowledgements_held_back`] counts them, and
    /// [`Options::acknowledgement_timeout`](crate::Options::acknowledgement_timeout) bounds
    /// how long one message may hold them.
    ///
    /// With a store ([`Options::journal`](crate::Options::journal)), acknowledging a QoS 2
    /// message is what records it as received: one not acknowledged before the process
    /// ends is delivered again by a client restored from the store (the server re-sends
    /// it), one acknowledged never is.
    ///
    /// The token is used up, except when the reason code is refused: then it comes back in
    /// the [`AcknowledgeError`], to acknowledge again with a valid one.
    pub fn acknowledge(
        &mut self,
        now: Instant,
        token: AckToken,
        reason_code: ReasonCode,
    ) -> Result<(), AcknowledgeError> {
        let now = self.clock(now);
        let used_up = |error| AcknowledgeError { error, token: None };
        if self.is_closed() {
            return Err(used_up(UsageError::Closed));
        }
        if let Err(error) = check_acknowledgement(self.version(), token.qos, reason_code) {
            return Err(AcknowledgeError {
                error,
                token: Some(token),
            });
        }
        let owed = self.inbound.owed.iter().any(|a| {
            a.packet_id == token.packet_id
                && a.qos == token.qos
                && a.connection == token.connection
                && a.reason.is_none()
        });
        if !owed {
            if token.connection != self.connection || !self.is_connected() {
                // Its connection is gone: a QoS 1 message comes again (with a new token),
                // a QoS 2 one was forgotten with a lost session.
                return Ok(());
            }
            return Err(used_up(UsageError::UnknownAcknowledgement));
        }
        self.settle(now, token.packet_id, token.connection, reason_code);
        Ok(())
    }

    /// Records the decision for `packet_id` and sends every acknowledgement now due, in
    /// arrival order.
    fn settle(&mut self, now: Instant, packet_id: PacketId, connection: u32, reason: ReasonCode) {
        if let Some(a) =
            self.inbound.owed.iter_mut().find(|a| {
                a.packet_id == packet_id && a.connection == connection && a.reason.is_none()
            })
        {
            a.reason = Some(reason);
            if a.qos == QoS::ExactlyOnce && !reason.is_error() {
                self.inbound.accepted_qos2(packet_id);
            }
        }
        self.flush_acks(now);
    }

    /// Acknowledgements decided (given, or automatic) that wait behind a message not yet
    /// acknowledged, because they go out in arrival order.
    pub fn acknowledgements_held_back(&self) -> usize {
        self.inbound
            .owed
            .iter()
            .skip_while(|a| a.reason.is_some())
            .filter(|a| a.reason.is_some())
            .count()
    }

    /// When the oldest undecided acknowledgement times out, if a timeout is set.
    pub(crate) fn acknowledgement_deadline(&self) -> Option<Instant> {
        let timeout = self.options.acknowledgement_timeout?;
        let oldest = self.inbound.owed.iter().find(|a| a.reason.is_none())?;
        Some(oldest.delivered_at + timeout)
    }

    /// Acknowledges, with an error where the version allows, every message that waited
    /// longer than the acknowledgement timeout.
    pub(crate) fn expire_acknowledgements(&mut self, now: Instant) {
        let Some(timeout) = self.options.acknowledgement_timeout else {
            return;
        };
        let reason_code = if self.version().is_v5() {
            ReasonCode::UnspecifiedError
        } else {
            ReasonCode::Success
        };
        let mut expired = false;
        let mut accepted = IdSet::default();
        for a in self.inbound.owed.iter_mut() {
            if a.reason.is_none() && now >= a.delivered_at + timeout {
                a.reason = Some(reason_code);
                expired = true;
                if a.qos == QoS::ExactlyOnce && !reason_code.is_error() {
                    accepted.insert(a.packet_id.get());
                }
                self.events.push_back(Event::AcknowledgementTimedOut {
                    packet_id: a.packet_id,
                    reason_code,
                });
            }
        }
        for id in accepted.iter().filter_map(|&id| PacketId::new(id)) {
            self.inbound.accepted_qos2(id);
        }
        if expired {
            self.flush_acks(now);
        }
    }

    /// Sends the owed acknowledgements at the front of the queue that are decided.
    pub(crate) fn flush_acks(&mut self, now: Instant) {
        if !self.is_connected() {
            return;
        }
        while let Some(&OwedAck {
            packet_id,
            qos,
            reason: Some(reason),
            connection,
            ..
        }) = self.inbound.owed.front()
        {
            self.inbound.owed.pop_front();
            let v = self.version();
            let max = self.limits.maximum_packet_size;
            let sent = if qos == QoS::ExactlyOnce {
                if reason.is_error() {
                    // [MQTT-4.3.3-9]: after a failing PUBREC the identifier is free.
                    // Never accepted, so never recorded.
                    self.inbound.release_qos2(packet_id, false);
                    self.inbound.qos2_here.remove(&packet_id.get());
                    if connection != self.connection {
                        // Delivered on an earlier connection: the server may have re-sent
                        // it already (DUP 1), crossing this PUBREC. That re-send is not a
                        // new message (which would come with DUP 0, [MQTT-4.3.3-2]).
                        self.inbound.crossing.insert(packet_id.get());
                    }
                }
                let mut ack = PubRec::with_reason(packet_id, reason);
                ack.fit_within(v, max);
                self.send(now, &ack)
            } else {
                let mut ack = PubAck::with_reason(packet_id, reason);
                ack.fit_within(v, max);
                self.send(now, &ack)
            };
            debug_assert!(sent.is_ok());
        }
    }

    pub(crate) fn handle_pubrel(
        &mut self,
        now: Instant,
        rel: PubRel,
    ) -> Result<(), ProtocolViolation> {
        let id = rel.packet_id;
        let pending = self
            .inbound
            .owed
            .iter()
            .any(|a| a.packet_id == id && a.qos == QoS::ExactlyOnce);
        if pending {
            return Err(ProtocolViolation::UnexpectedPacket(
                "PUBREL before our PUBREC",
            ));
        }
        // [MQTT-4.3.3-11]: PUBCOMP with the same identifier; [MQTT-4.3.3-12]: then the
        // identifier is free. An unknown one is answered with 0x92 (5.0).
        self.inbound.qos2_here.remove(&id.get());
        let code = if self.inbound.release_qos2(id, true) || !self.version().is_v5() {
            ReasonCode::Success
        } else {
            ReasonCode::PacketIdentifierNotFound
        };
        let _ = self.send(now, &PubComp::with_reason(id, code));
        Ok(())
    }
}
