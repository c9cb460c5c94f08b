//! SUBSCRIBE / UNSUBSCRIBE requests, their acknowledgements, and the subscriptions the
//! session keeps so that it can subscribe again when the server lost the session.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use mqtt_proto::{PacketId, SubAck, Subscribe, SubscribeProperties, Subscription, Unsubscribe};
#[cfg(feature = "unsubscribe")]
use mqtt_proto::{TopicFilter, UnsubAck, UnsubscribeProperties};

use super::{Session, State, take_first};
use crate::admission;
use crate::error::{OperationError, ProtocolViolation, UsageError};
use crate::event::{Event, OperationId};
use crate::time::Instant;

/// A SUBSCRIBE or UNSUBSCRIBE waiting for its acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// A SUBSCRIBE.
    Subscribe(Subscribe),
    /// An UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
}

impl Request {
    fn packet_id(&self) -> PacketId {
        match self {
            Request::Subscribe(s) => s.packet_id,
            Request::Unsubscribe(u) => u.packet_id,
        }
    }
}

/// A pending request and the operation it completes (`None`: the session's own
/// re-subscription, reported to nobody).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub(crate) operation: Option<OperationId>,
    pub(crate) request: Request,
}

/// Subscription state.
#[derive(Default)]
pub(crate) struct Subscriptions {
    /// Requests sent (or to send on connect), waiting for SUBACK / UNSUBACK.
    pub(crate) pending: VecDeque<Pending>,
    /// Subscriptions the server granted, with the Subscription Identifier they carry.
    pub(crate) active: Vec<(Subscription, Option<u32>)>,
    /// Whether `active` is every subscription the server holds for us: false for a
    /// session resumed without its state (made before this process).
    pub(crate) complete: bool,
}

impl Session {
    /// Subscribes to one or more topic filters. Ends in one
    /// [`Event::SubscribeCompleted`] with a reason code per filter, or an
    /// [`Event::OperationFailed`]. Made while disconnected, it is sent on connect.
    pub fn subscribe(
        &mut self,
        now: Instant,
        subscriptions: Vec<Subscription>,
        properties: SubscribeProperties,
    ) -> Result<OperationId, UsageError> {
        let now = self.clock(now);
        if self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        let packet = Subscribe {
            packet_id: PacketId::MAX,
            subscriptions,
            properties: properties.into(),
        };
        admission::check_subscribe(self.version(), self.connected_limits(), &packet)?;
        self.start_request(now, Request::Subscribe(packet), true)
    }

    /// Unsubscribes from topic filters, named exactly as subscribed ([MQTT-3.10.4-1]).
    /// Ends in one [`Event::UnsubscribeCompleted`] or [`Event::OperationFailed`].
    /// (Feature `unsubscribe`, on by default.)
    #[cfg(feature = "unsubscribe")]
    pub fn unsubscribe(
        &mut self,
        now: Instant,
        filters: Vec<TopicFilter>,
        properties: UnsubscribeProperties,
    ) -> Result<OperationId, UsageError> {
        let now = self.clock(now);
        if self.state == State::Closed {
            return Err(UsageError::Closed);
        }
        let packet = Unsubscribe {
            packet_id: PacketId::MAX,
            filters,
            properties: properties.into(),
        };
        admission::check_unsubscribe(self.version(), self.connected_limits(), &packet)?;
        self.start_request(now, Request::Unsubscribe(packet), true)
    }

    fn start_request(
        &mut self,
        now: Instant,
        mut request: Request,
        report: bool,
    ) -> Result<OperationId, UsageError> {
        let id = self.ids.allocate().ok_or(UsageError::QueueFull)?;
        match &mut request {
            Request::Subscribe(s) => s.packet_id = id,
            Request::Unsubscribe(u) => u.packet_id = id,
        }
        let operation = self.next_operation_id();
        if self.is_connected() {
            self.send_request(now, &request);
        }
        self.subscriptions.pending.push_back(Pending {
            operation: report.then_some(operation),
            request,
        });
        Ok(operation)
    }

    fn send_request(&mut self, now: Instant, request: &Request) {
        let _ = match request {
            Request::Subscribe(s) => self.send(now, s),
            Request::Unsubscribe(u) => self.send(now, u),
        };
    }

    /// Sends every pending request again (on a new connection).
    pub(crate) fn resend_requests(&mut self, now: Instant) {
        // Each is taken from the front and, unless refused, put back at the end: the
        // order is kept.
        for _ in 0..self.subscriptions.pending.len() {
            let Some(p) = self.subscriptions.pending.pop_front() else {
                break;
            };
            // A request made while disconnected meets the server's abilities only now.
            let refused = match &p.request {
                Request::Subscribe(s) => {
                    admission::check_subscribe(self.version(), Some(&self.limits), s).err()
                }
                Request::Unsubscribe(_) => None,
            };
            match refused {
                Some(e) => {
                    self.ids.release(p.request.packet_id());
                    if let Some(id) = p.operation {
                        self.fail_operation(id, OperationError::Rejected(e));
                    }
                }
                None => {
                    self.send_request(now, &p.request);
                    self.subscriptions.pending.push_back(p);
                }
            }
        }
    }

    /// Subscribes again to every active subscription (the server lost the session).
    pub(crate) fn resubscribe(&mut self, now: Instant) {
        let active = core::mem::take(&mut self.subscriptions.active);
        for (subscription, identifier) in active {
            let properties = SubscribeProperties {
                subscription_identifier: identifier,
                ..SubscribeProperties::default()
            };
            let packet = Subscribe {
                packet_id: PacketId::MAX,
                subscriptions: alloc::vec![subscription],
                properties: properties.into(),
            };
            let _ = self.start_request(now, Request::Subscribe(packet), false);
        }
    }

    /// How many reason codes the acknowledgement of pending request `id` must carry.
    fn expected_codes(&self, id: PacketId, subscribe: bool) -> Option<usize> {
        self.subscriptions
            .pending
            .iter()
            .find_map(|p| match &p.request {
                Request::Subscribe(s) if subscribe && s.packet_id == id => {
                    Some(s.subscriptions.len())
                }
                Request::Unsubscribe(u) if !subscribe && u.packet_id == id => Some(u.filters.len()),
                _ => None,
            })
    }

    fn take_request(&mut self, id: PacketId, subscribe: bool) -> Option<Pending> {
        take_first(&mut self.subscriptions.pending, |p| {
            p.request.packet_id() == id && matches!(p.request, Request::Subscribe(_)) == subscribe
        })
    }

    #[inline(never)]
    pub(crate) fn handle_suback(
        &mut self,
        _now: Instant,
        ack: SubAck,
    ) -> Result<(), ProtocolViolation> {
        // [MQTT-3.8.4-2] / [MQTT-2.3.1-7]: matched by packet identifier and type.
        let expected = self
            .expected_codes(ack.packet_id, true)
            .ok_or(ProtocolViolation::UnknownPacketId("SUBACK"))?;
        if ack.reason_codes.len() != expected {
            // [MQTT-3.8.4-5] (v3.1.1) / [MQTT-3.8.4-6] (v5): one code per filter. The
            // request stays pending and goes again on the next connection.
            return Err(ProtocolViolation::ReasonCodeCount);
        }
        let pending = self
            .take_request(ack.packet_id, true)
            .ok_or(ProtocolViolation::UnknownPacketId("SUBACK"))?;
        self.ids.release(ack.packet_id);
        let Request::Subscribe(request) = pending.request else {
            return Err(ProtocolViolation::UnknownPacketId("SUBACK"));
        };
        let identifier = request.properties.subscription_identifier;
        for (subscription, code) in request.subscriptions.into_iter().zip(&ack.reason_codes) {
            self.subscriptions
                .active
                .retain(|(s, _)| s.filter != subscription.filter);
            if !code.is_error() {
                self.subscriptions.active.push((subscription, identifier));
            }
        }
        if let Some(id) = pending.operation {
            self.events.push_back(Event::SubscribeCompleted {
                id,
                reason_codes: ack.reason_codes,
            });
        }
        Ok(())
    }

    #[inline(never)]
    #[cfg(feature = "unsubscribe")]
    pub(crate) fn handle_unsuback(
        &mut self,
        _now: Instant,
        ack: UnsubAck,
    ) -> Result<(), ProtocolViolation> {
        if self.version().is_v5() {
            let expected = self
                .expected_codes(ack.packet_id, false)
                .ok_or(ProtocolViolation::UnknownPacketId("UNSUBACK"))?;
            if ack.reason_codes.len() != expected {
                // [MQTT-3.11.3-1]: one code per filter; the request stays pending.
                return Err(ProtocolViolation::ReasonCodeCount);
            }
        }
        let pending = self
            .take_request(ack.packet_id, false)
            .ok_or(ProtocolViolation::UnknownPacketId("UNSUBACK"))?;
        self.ids.release(ack.packet_id);
        let Request::Unsubscribe(request) = pending.request else {
            return Err(ProtocolViolation::UnknownPacketId("UNSUBACK"));
        };
        let reason_codes = if self.version().is_v5() {
            ack.reason_codes
        } else {
            alloc::vec![mqtt_proto::ReasonCode::Success; request.filters.len()]
        };
        for (filter, code) in request.filters.iter().zip(&reason_codes) {
            if !code.is_error() {
                self.subscriptions
                    .active
                    .retain(|(s, _)| &s.filter != filter);
            }
        }
        if let Some(id) = pending.operation {
            self.events
                .push_back(Event::UnsubscribeCompleted { id, reason_codes });
        }
        Ok(())
    }
}
