//! Everything a session is configured with: the CONNECT fields of every version, and the
//! client's own policies.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::time::Duration;
use mqtt_proto::{MqttString, ProtocolVersion, UserProperty, Will};

/// What to do with queued messages when the offline queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueOverflow {
    /// Refuse the new message: `publish` returns [`UsageError::QueueFull`](crate::UsageError::QueueFull).
    RejectNew,
    /// Drop the oldest queued message (its operation fails with
    /// [`OperationError::Dropped`](crate::OperationError::Dropped)) to make room.
    DropOldest,
}

/// Bounds of the queue of messages waiting to be sent: while disconnected, or while the
/// server's Receive Maximum allows no more in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most messages queued.
    pub max_messages: usize,
    /// Most payload bytes queued.
    pub max_bytes: usize,
    /// What happens when a limit is reached.
    pub overflow: QueueOverflow,
    /// Most bytes of output the driver has not taken yet
    /// ([`Session::poll_transmit`](crate::Session::poll_transmit)) before a publish is
    /// refused with [`UsageError::TransmitBacklog`](crate::UsageError::TransmitBacklog):
    /// a driver that falls behind (or forgot to drain) is told at once, instead of the
    /// output growing without bound. Other packets (acknowledgements, PINGREQ) are never
    /// refused.
    pub max_unsent_bytes: usize,
}

/// [`QueueLimits::max_unsent_bytes`] unless set: 1 MiB, several round trips' worth of
/// output on any link a client is likely to have, far below what a forgotten drain piles
/// up.
pub const DEFAULT_MAX_UNSENT_BYTES: usize = 1024 * 1024;

impl Default for QueueLimits {
    fn default() -> QueueLimits {
        QueueLimits {
            max_messages: 10_000,
            max_bytes: 64 * 1024 * 1024,
            overflow: QueueOverflow::RejectNew,
            max_unsent_bytes: DEFAULT_MAX_UNSENT_BYTES,
        }
    }
}

/// When and how to reconnect after a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all.
    pub enabled: bool,
    /// The delay after the first failure.
    pub min_delay: Duration,
    /// The longest delay; each consecutive failure doubles the delay up to this.
    pub max_delay: Duration,
    /// How much of each delay is random, in percent (0 to 100): a delay `d` becomes a
    /// value between `d * (100 - jitter) / 100` and `d`.
    pub jitter_percent: u8,
    /// The seed of the jitter's random sequence (the session has no random source: the
    /// driver gives one).
    pub seed: u64,
}

impl Default for ReconnectPolicy {
    fn default() -> ReconnectPolicy {
        ReconnectPolicy {
            enabled: true,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            jitter_percent: 50,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// What to do with pending QoS 1/2 messages when the server turns out to have lost the
/// session (Session Present 0 after a connection that expected it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingOnSessionLoss {
    /// Send them again as new messages (new packet identifiers, DUP 0): at least once.
    Resend,
    /// Fail them with [`OperationError::SessionLost`](crate::OperationError::SessionLost).
    Fail,
}

/// The client's policy when a reconnect finds no session on the server: a resumed
/// session turned out to be lost, or the session is clean by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLossPolicy {
    /// Subscribe again to every active subscription (on by default). Under MQTT 3.1,
    /// whose CONNACK cannot say whether the session was kept, this happens on every
    /// reconnect.
    pub resubscribe: bool,
    /// What happens to unacknowledged messages.
    pub pending: PendingOnSessionLoss,
}

impl Default for SessionLossPolicy {
    fn default() -> SessionLossPolicy {
        SessionLossPolicy {
            resubscribe: true,
            pending: PendingOnSessionLoss::Resend,
        }
    }
}

/// Options of a session: the CONNECT fields of every version and the client's policies.
///
/// Create it with [`Options::new`] and change the fields you need.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Protocol version to speak.
    pub protocol_version: ProtocolVersion,
    /// Client identifier; empty asks the server to assign one (5.0), which the session
    /// then keeps for reconnects.
    pub client_id: MqttString,
    /// Clean Session / Clean Start on the first connection. Reconnects after the first
    /// successful one ask to resume the session whenever it can outlive a connection
    /// (3.1.1 with clean session off; 5.0 with a session expiry interval above 0).
    pub clean_start: bool,
    /// Keep Alive in seconds (0 turns it off).
    pub keep_alive: u16,
    /// How long to wait for PINGRESP before declaring the connection dead; `None` uses
    /// half the keep-alive period (so a dead link is found within 1.5 periods).
    pub ping_timeout: Option<Duration>,
    /// How long to wait for CONNACK after the transport came up.
    pub connect_timeout: Duration,
    /// Session Expiry Interval in seconds (5.0; `u32::MAX` never expires).
    pub session_expiry_interval: u32,
    /// User name.
    pub user_name: Option<MqttString>,
    /// Password.
    pub password: Option<Bytes>,
    /// The Will Message.
    pub will: Option<Will>,
    /// Our Receive Maximum: QoS 1/2 messages we take unacknowledged (5.0).
    pub receive_maximum: u16,
    /// Disconnect (0x93) when the server exceeds our Receive Maximum. Off by default:
    /// mosquitto 2.0 is seen to exceed it at QoS 2, and processing the excess keeps the
    /// session alive.
    pub strict_receive_maximum: bool,
    /// Our Maximum Packet Size (5.0; larger packets are refused with 0x95).
    pub maximum_packet_size: Option<u32>,
    /// Our Topic Alias Maximum: aliases the server may use towards us (5.0).
    pub topic_alias_maximum: u16,
    /// Request Response Information (5.0).
    pub request_response_information: bool,
    /// Request Problem Information (5.0); `None` leaves the server default (on).
    pub request_problem_information: Option<bool>,
    /// User Properties of CONNECT (5.0).
    pub user_properties: Vec<UserProperty>,
    /// Enhanced authentication method (5.0).
    pub authentication_method: Option<MqttString>,
    /// Initial authentication data (5.0).
    pub authentication_data: Option<Bytes>,
    /// Most QoS 1/2 messages in flight at once; under 5.0 also never above the server's
    /// Receive Maximum. `None` (the default) means 20 under 3.1 / 3.1.1, where the server
    /// cannot say its limit (20 is mosquitto's `max_inflight_messages`, past which it
    /// silently drops QoS 2 messages), and the server's Receive Maximum under 5.0.
    pub max_in_flight: Option<u16>,
    /// Use outgoing topic aliases when the server allows them (5.0).
    pub outgoing_topic_aliases: bool,
    /// Acknowledge incoming messages automatically as they are delivered; off means the
    /// application calls [`Session::acknowledge`](crate::Session::acknowledge).
    pub auto_ack: bool,
    /// With manual acknowledgements, how long a delivered message may wait for its
    /// acknowledgement while it holds back later ones; then the session acknowledges it
    /// itself and reports [`Event::AcknowledgementTimedOut`](crate::Event::AcknowledgementTimedOut).
    /// `None` (the default): it waits for ever.
    pub acknowledgement_timeout: Option<Duration>,
    /// Bounds of the outgoing queue.
    pub queue: QueueLimits,
    /// Reconnect policy.
    pub reconnect: ReconnectPolicy,
    /// Servers to connect to, tried in turn. The session does not parse them: they are
    /// handed back in [`Action::Open`](crate::Action::Open).
    pub servers: Vec<String>,
    /// What to do when a resumed session is lost.
    pub on_session_loss: SessionLossPolicy,
    /// Close the connection (a protocol violation) on a PUBACK, PUBREC or PUBCOMP whose
    /// packet identifier has nothing in flight. Off by default: no rule of MQTT requires
    /// it, and brokers send such duplicates after their own reconnects; the session
    /// reports [`Event::StrayAcknowledgement`](crate::Event::StrayAcknowledgement) and goes on.
    pub strict_acknowledgements: bool,
    /// When the server refuses the protocol version (CONNACK 0x84, or a 3.1.1 CONNACK
    /// refusing a 5.0 CONNECT), try the next lower one at once: 5.0, then 3.1.1, then 3.1,
    /// as Eclipse Paho does. Off by default: the refusal is final and says which version
    /// the server lacks. [`Session::protocol_version`](crate::Session::protocol_version)
    /// tells the version in use.
    pub version_fallback: bool,
    /// How many times one QoS 1/2 message may be sent on connections that the server
    /// closed before acknowledging anything on them; one more such close fails its publish
    /// with [`OperationError::ConnectionKeptClosing`](crate::OperationError::ConnectionKeptClosing).
    /// A broker that refuses a message by dropping the connection (mosquitto does for a
    /// message above its `message_size_limit`) would otherwise get it again after every
    /// reconnect, for ever. `None`: no limit. Default 10.
    pub resend_limit: Option<u16>,
    /// Record every change of the session state for a store
    /// ([`Session::poll_state_change`](crate::Session::poll_state_change)): a message
    /// accepted, sent, past PUBREC, completed; an incoming QoS 2 identifier recorded or
    /// released; the subscriptions; the client identifier. Default off (nothing is
    /// recorded, nothing costs). Needs the crate feature `journal` (on by default):
    /// without it nothing is ever recorded, whatever this says.
    pub journal: bool,
}

impl Options {
    /// Options with defaults: MQTT 5.0 unless changed, clean start, 60 s keep alive,
    /// automatic acknowledgements, reconnect on, one server `server`.
    pub fn new(server: impl Into<String>, client_id: MqttString) -> Options {
        Options {
            protocol_version: ProtocolVersion::V5,
            client_id,
            clean_start: true,
            keep_alive: 60,
            ping_timeout: None,
            connect_timeout: Duration::from_secs(30),
            session_expiry_interval: 0,
            user_name: None,
            password: None,
            will: None,
            receive_maximum: 65_535,
            strict_receive_maximum: false,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            request_response_information: false,
            request_problem_information: None,
            user_properties: Vec::new(),
            authentication_method: None,
            authentication_data: None,
            max_in_flight: None,
            outgoing_topic_aliases: true,
            auto_ack: true,
            acknowledgement_timeout: None,
            queue: QueueLimits::default(),
            reconnect: ReconnectPolicy::default(),
            servers: alloc::vec![server.into()],
            on_session_loss: SessionLossPolicy::default(),
            strict_acknowledgements: false,
            version_fallback: false,
            resend_limit: Some(10),
            journal: false,
        }
    }

    /// Whether the session may outlive a connection (so reconnects ask to resume it).
    pub(crate) fn session_persists(&self) -> bool {
        if self.protocol_version.is_v5() {
            self.session_expiry_interval > 0
        } else {
            !self.clean_start
        }
    }
}
