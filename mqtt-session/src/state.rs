//! Session state as a value: taken out of a session and put into a new one, so a driver
//! can persist it and survive a process restart.

use alloc::vec::Vec;
use mqtt_proto::{MqttString, PacketId, QoS, Subscription};

use crate::admission::QOS2;
use crate::error::{OperationError, UsageError};
use crate::event::{Event, OperationId};
use crate::options::Options;
use crate::session::{InFlight, Pending, Queued, Request, Session, Stage};

/// Everything a session must keep across connections and processes (MQTT §4.1, U5-33):
/// QoS 1/2 messages not completely acknowledged (with their packet identifiers and
/// PUBREL state), QoS 2 messages received whose PUBREL has not come, the packet
/// identifier allocator, queued messages, pending and active subscriptions.
///
/// [`SessionState::encode`] gives its stored form (versioned, checksummed bytes) and
/// [`SessionState::decode`] reads it back, refusing corrupted or foreign bytes with a
/// [`StateError`](crate::StateError):
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::MqttString;
/// use mqtt_session::{Options, Session, SessionState};
///
/// let options = || Options::new("broker:1883", MqttString::from_static("sensor-1"));
/// let session = Session::new(options());
/// let mut stored = BytesMut::new();
/// session.state().encode(&mut stored)?; // write `stored` to a file or flash
/// // ... after a restart:
/// let restored = Session::restore(options(), SessionState::decode(&stored)?);
/// # let _ = restored;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A queued message's `queued_at` is an instant of the clock that drove the session;
/// after a restart with a new clock its Message Expiry Interval counts from no later than
/// that instant of the new clock.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionState {
    /// The client identifier (the server's assigned one, if it gave one).
    pub client_id: MqttString,
    /// Whether the server is believed to hold the session.
    pub has_session: bool,
    /// Where the packet identifier allocator continues.
    pub next_packet_id: u16,
    /// The next operation id.
    pub next_operation: u64,
    /// Outgoing QoS 1/2 messages in flight, in their order.
    pub in_flight: Vec<InFlight>,
    /// Messages waiting to be sent.
    pub queued: Vec<Queued>,
    /// Incoming QoS 2 packet identifiers delivered, accepted by the application (or
    /// automatically) and waiting for PUBREL. A message delivered but not yet
    /// acknowledged (manual acknowledgements) is not here: a client restored from this
    /// state is given it again when the server re-sends it.
    pub incoming_qos2: Vec<PacketId>,
    /// SUBSCRIBE / UNSUBSCRIBE requests not yet acknowledged, with their operations.
    pub requests: Vec<(Option<OperationId>, Request)>,
    /// Active subscriptions and their Subscription Identifiers.
    pub subscriptions: Vec<(Subscription, Option<u32>)>,
}

impl Session {
    /// A copy of the session state, to persist.
    pub fn state(&self) -> SessionState {
        SessionState {
            client_id: self.client_id.clone(),
            has_session: self.has_session,
            next_packet_id: self.ids.next_hint(),
            next_operation: self.next_operation,
            in_flight: self
                .outbound
                .in_flight
                .iter()
                .map(|f| InFlight {
                    // Which connection it was sent on means nothing outside this session.
                    sent_on: 0,
                    ..f.clone()
                })
                .collect(),
            queued: self.outbound.queue.iter().cloned().collect(),
            incoming_qos2: self.inbound.stored_qos2().collect(),
            requests: self
                .subscriptions
                .pending
                .iter()
                .map(|p| (p.operation, p.request.clone()))
                .collect(),
            subscriptions: self.subscriptions.active.clone(),
        }
    }

    /// A new session with `options` that continues `state`: its first CONNECT asks to
    /// resume the session (if `state.has_session`), and what was in flight is re-sent
    /// in order once the server confirms it.
    ///
    /// What this build cannot carry out fails at once, with an
    /// [`Event::OperationFailed`] of [`UsageError::FeatureNotEnabled`]: without the
    /// feature `qos2`, the state's QoS 2 publishes; without `unsubscribe`, its pending
    /// unsubscribe requests.
    pub fn restore(options: Options, state: SessionState) -> Session {
        let mut s = Session::new(options);
        // The restored state is the store's snapshot: nothing of it is a change.
        s.outbound.journal.on = false;
        s.inbound.journal.on = false;
        s.client_id = state.client_id;
        s.has_session = state.has_session;
        s.next_operation = state.next_operation.max(1);
        s.ids.set_next_hint(state.next_packet_id);
        for mut f in state.in_flight {
            if !QOS2 && f.publish.qos == QoS::ExactlyOnce {
                s.fail_unsupported(f.operation, "a QoS 2 publish", "qos2");
                continue;
            }
            if let Some(id) = f.publish.packet_id
                && s.ids.insert(id)
            {
                f.sent_on = 0;
                if f.stage == Stage::AwaitingPubComp {
                    f.publish.payload = bytes::Bytes::new();
                }
                s.outbound.in_flight.push_back(f);
            }
        }
        for q in state.queued {
            if !QOS2 && q.publish.qos == QoS::ExactlyOnce {
                s.fail_unsupported(q.operation, "a QoS 2 publish", "qos2");
                continue;
            }
            s.outbound.push_queue(q);
        }
        s.inbound.qos2 = state.incoming_qos2.iter().map(|id| id.get()).collect();
        for (operation, request) in state.requests {
            let id = match &request {
                Request::Subscribe(r) => r.packet_id,
                Request::Unsubscribe(_) if !cfg!(feature = "unsubscribe") => {
                    if let Some(operation) = operation {
                        s.fail_unsupported(operation, "an unsubscribe", "unsubscribe");
                    }
                    continue;
                }
                Request::Unsubscribe(r) => r.packet_id,
            };
            if s.ids.insert(id) {
                s.subscriptions
                    .pending
                    .push_back(Pending { operation, request });
            }
        }
        s.subscriptions.active = state.subscriptions;
        s.subscriptions.complete = true;
        s.journal_restored();
        s
    }

    /// Fails a restored operation this build cannot carry out (a feature left out).
    fn fail_unsupported(&mut self, id: OperationId, what: &'static str, feature: &'static str) {
        let error = OperationError::Rejected(UsageError::FeatureNotEnabled { what, feature });
        self.events.push_back(Event::OperationFailed { id, error });
    }
}
