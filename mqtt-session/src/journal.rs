//! What changed in the session state, as small records, for a store that appends them to
//! a log instead of rewriting the whole [`SessionState`] per message
//! ([`Options::journal`](crate::Options::journal), [`Session::poll_state_change`]).
//!
//! A store keeps a snapshot (a [`SessionState`], say in its stored form) and the records
//! that came after it; [`SessionState::apply`] replays them, so snapshot + records gives
//! the state the session had after the last record. Compaction is: apply, store the
//! result as the new snapshot, start an empty log.

#[cfg(feature = "journal")]
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use mqtt_proto::{MqttString, PacketId, Subscription};

use crate::event::OperationId;
use crate::session::{InFlight, Queued, Request};
use crate::state::SessionState;

/// One change to the session state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// An outgoing message is now `entry`: accepted into the queue, sent (in flight),
    /// past PUBREC; or gone (`None`: completed, failed, dropped, expired).
    Outgoing {
        /// The message's operation.
        operation: OperationId,
        /// Where it is now.
        entry: Option<StoredMessage>,
    },
    /// An incoming QoS 2 message was delivered and accepted, and awaits PUBREL (`true`),
    /// or its PUBREL came or the session was lost (`false`). Accepted means acknowledged:
    /// at once with auto-ack; with manual acknowledgements, when the application
    /// acknowledges it with a success reason code. So a message handed to the application
    /// but not acknowledged before a crash is handed over again after the restart.
    IncomingQos2 {
        /// Its packet identifier.
        packet_id: PacketId,
        /// Whether it awaits PUBREL now.
        awaiting_pubrel: bool,
    },
    /// The subscription state, whole (it changes rarely): requests not yet acknowledged
    /// and the active subscriptions.
    Subscriptions {
        /// SUBSCRIBE / UNSUBSCRIBE requests not yet acknowledged, in order.
        requests: Vec<(Option<OperationId>, Request)>,
        /// Active subscriptions and their Subscription Identifiers.
        active: Vec<(Subscription, Option<u32>)>,
    },
    /// The client identifier (the server may assign one) or whether the server holds the
    /// session changed.
    Identity {
        /// The client identifier.
        client_id: MqttString,
        /// Whether the server is believed to hold the session.
        has_session: bool,
    },
}

/// Where an outgoing message is, with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredMessage {
    /// Sent and not completely acknowledged; now the last of the messages in flight.
    InFlight(InFlight),
    /// Waiting to be sent; now the last of the queue.
    Queued(Queued),
    /// Waiting to be sent again first (the server lost the session); now the first of the
    /// queue.
    QueuedFirst(Queued),
}

/// The records not yet taken by the driver (only kept when journaling is on).
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub(crate) on: bool,
    /// Without the feature `journal` nothing is recorded, and there is no queue to drop.
    #[cfg(feature = "journal")]
    records: VecDeque<StateChange>,
}

#[cfg(feature = "journal")]
impl Journal {
    /// Records the change `make` builds, if journaling is on.
    #[inline]
    pub(crate) fn record(&mut self, make: impl FnOnce() -> StateChange) {
        if self.on {
            self.records.push_back(make());
        }
    }

    pub(crate) fn pop(&mut self) -> Option<StateChange> {
        self.records.pop_front()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub(crate) fn shrink(&mut self) {
        if self.records.is_empty() {
            self.records = VecDeque::new();
        }
    }
}

#[cfg(not(feature = "journal"))]
impl Journal {
    /// Records nothing: the feature `journal` is off.
    #[inline]
    pub(crate) fn record(&mut self, _make: impl FnOnce() -> StateChange) {}

    pub(crate) fn pop(&mut self) -> Option<StateChange> {
        None
    }

    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    pub(crate) fn shrink(&mut self) {}
}

impl SessionState {
    /// Applies one change recorded after this state was taken (see the module docs).
    pub fn apply(&mut self, change: StateChange) {
        match change {
            StateChange::Outgoing { operation, entry } => {
                self.in_flight.retain(|f| f.operation != operation);
                self.queued.retain(|q| q.operation != operation);
                self.next_operation = self.next_operation.max(operation.0.saturating_add(1));
                match entry {
                    None => {}
                    Some(StoredMessage::InFlight(f)) => {
                        if let Some(id) = f.publish.packet_id {
                            self.next_packet_id = id.get().wrapping_add(1).max(1);
                        }
                        self.in_flight.push(f);
                    }
                    Some(StoredMessage::Queued(q)) => self.queued.push(q),
                    Some(StoredMessage::QueuedFirst(q)) => self.queued.insert(0, q),
                }
            }
            StateChange::IncomingQos2 {
                packet_id,
                awaiting_pubrel,
            } => {
                let at = self.incoming_qos2.binary_search(&packet_id);
                match (at, awaiting_pubrel) {
                    (Err(i), true) => self.incoming_qos2.insert(i, packet_id),
                    (Ok(i), false) => {
                        self.incoming_qos2.remove(i);
                    }
                    _ => {}
                }
            }
            StateChange::Subscriptions { requests, active } => {
                for (operation, _) in &requests {
                    if let Some(o) = operation {
                        self.next_operation = self.next_operation.max(o.0.saturating_add(1));
                    }
                }
                self.requests = requests;
                self.subscriptions = active;
            }
            StateChange::Identity {
                client_id,
                has_session,
            } => {
                self.client_id = client_id;
                self.has_session = has_session;
            }
        }
    }
}
