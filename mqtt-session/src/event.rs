//! What the session tells the application and the driver.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use mqtt_proto::{
    ConnAckProperties, MqttString, PacketId, PacketType, ProtocolVersion, Publish, QoS, ReasonCode,
};

use crate::error::{OperationError, ProtocolViolation};
use crate::time::Instant;

/// Names one operation (publish, subscribe, unsubscribe) from the call that started it to
/// its one completion or failure event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OperationId(pub u64);

/// A token to acknowledge an incoming QoS 1 or 2 message by hand
/// ([`Session::acknowledge`](crate::Session::acknowledge)).
///
/// Acknowledgements go out in the order the messages arrived, so a message whose token
/// is never used holds back the acknowledgement of every later message
/// ([`Session::acknowledgements_held_back`](crate::Session::acknowledgements_held_back)
/// counts them; [`Options::acknowledgement_timeout`](crate::Options::acknowledgement_timeout)
/// bounds the wait).
///
/// A token is neither `Copy` nor `Clone`: it is used once, by value. A clone of the
/// [`IncomingMessage`] that carries it does not carry it (its `ack` is `None`), so the
/// right to acknowledge cannot be duplicated, and dropping the last token unused is what
/// holds back the acknowledgements.
///
/// ```compile_fail
/// // A token cannot be duplicated:
/// fn twice(token: mqtt_session::AckToken) -> [mqtt_session::AckToken; 2] {
///     [token.clone(), token]
/// }
/// ```
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "an unused token holds back the acknowledgement of every later message: pass it to `acknowledge`"]
pub struct AckToken {
    pub(crate) packet_id: PacketId,
    pub(crate) qos: QoS,
    pub(crate) connection: u32,
}

impl AckToken {
    /// The QoS of the message it acknowledges (1: PUBACK, 2: PUBREC).
    pub fn qos(&self) -> QoS {
        self.qos
    }

    /// The packet identifier of the message it acknowledges.
    pub fn packet_id(&self) -> PacketId {
        self.packet_id
    }
}

/// A message the server delivered.
///
/// Cloning it clones the message but not its [`AckToken`]: the clone's `ack` is `None`.
#[derive(Debug, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The PUBLISH, with any Topic Alias already resolved into its topic name.
    pub publish: Publish,
    /// With manual acknowledgements, the token to acknowledge a QoS 1/2 message with.
    pub ack: Option<AckToken>,
}

impl Clone for IncomingMessage {
    /// The message without its token (see [`AckToken`]).
    fn clone(&self) -> IncomingMessage {
        IncomingMessage {
            publish: self.publish.clone(),
            ack: None,
        }
    }
}

/// What the server said about itself in CONNACK, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Receive Maximum: QoS 1/2 messages it takes unacknowledged.
    pub receive_maximum: u16,
    /// Maximum QoS it supports.
    pub maximum_qos: QoS,
    /// Whether it supports retained messages.
    pub retain_available: bool,
    /// Maximum Packet Size it accepts.
    pub maximum_packet_size: usize,
    /// Topic Alias Maximum it accepts.
    pub topic_alias_maximum: u16,
    /// Wildcard subscriptions supported.
    pub wildcard_subscription_available: bool,
    /// Subscription identifiers supported.
    pub subscription_identifier_available: bool,
    /// Shared subscriptions supported.
    pub shared_subscription_available: bool,
    /// The keep-alive in force, in seconds (the server's override, or ours).
    pub keep_alive: u16,
}

/// A successful connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connected {
    /// Session Present: the server resumed our session.
    pub session_present: bool,
    /// Whether a session we held was lost (we expected it resumed, the server had none);
    /// [`SessionLossPolicy`](crate::SessionLossPolicy) was applied.
    pub session_lost: bool,
    /// The client identifier in use (the server's assigned one, if it gave one).
    pub client_id: MqttString,
    /// The server's limits.
    pub limits: ServerLimits,
    /// The whole CONNACK property set (Response Information, User Properties...).
    pub properties: ConnAckProperties,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The application asked for it.
    Requested,
    /// The server refused the connection with this CONNACK reason code
    /// (e.g. 0x86 bad user name or password).
    Refused {
        /// The reason code (3.1.1 return codes mapped onto 5.0 codes).
        reason_code: ReasonCode,
        /// The server's Reason String.
        reason_string: Option<MqttString>,
    },
    /// The server sent DISCONNECT.
    ServerDisconnect {
        /// Its reason code.
        reason_code: ReasonCode,
        /// Its Reason String.
        reason_string: Option<MqttString>,
    },
    /// The server broke the protocol; the session closed the connection.
    ProtocolViolation(ProtocolViolation),
    /// No CONNACK came within the connect timeout.
    ConnectTimeout,
    /// No PINGRESP came within the ping timeout: the link is dead.
    KeepAliveTimeout,
    /// The transport closed (the driver said so).
    TransportClosed,
    /// The transport failed, as the driver describes it (connection refused, TLS
    /// certificate not trusted, WebSocket handshake refused...).
    TransportError(alloc::string::String),
    /// Re-authentication failed.
    AuthenticationFailed(ReasonCode),
    /// Asked for 5.0, the server answered with a 3.1.1 CONNACK refusing the protocol
    /// version (return code 1): it does not speak 5.0. (A server that can say so in the
    /// version asked for refuses with [`DisconnectReason::Refused`] and 0x84.) Either way,
    /// with [`Options::version_fallback`](crate::Options::version_fallback) the session
    /// tries the next lower version at once.
    UnsupportedProtocolVersion {
        /// The version the CONNECT asked for.
        requested: ProtocolVersion,
    },
    /// The driver ended the session because it could not go on
    /// ([`Session::abort`](crate::Session::abort)); its description, e.g. "the session
    /// store failed: No space left on device".
    Aborted(alloc::string::String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let said = |f: &mut fmt::Formatter<'_>, s: &Option<MqttString>| match s {
            Some(s) => write!(f, " (\"{s}\")"),
            None => Ok(()),
        };
        match self {
            DisconnectReason::Requested => f.write_str("the application disconnected"),
            DisconnectReason::Refused {
                reason_code,
                reason_string,
            } => {
                write!(f, "the server refused the connection: {reason_code}")?;
                said(f, reason_string)
            }
            DisconnectReason::ServerDisconnect {
                reason_code,
                reason_string,
            } => {
                write!(f, "the server disconnected: {reason_code}")?;
                said(f, reason_string)
            }
            DisconnectReason::ProtocolViolation(v) => {
                write!(f, "closed after a protocol violation: {v}")
            }
            DisconnectReason::ConnectTimeout => {
                f.write_str("no CONNACK came within the connect timeout")
            }
            DisconnectReason::KeepAliveTimeout => {
                f.write_str("no PINGRESP came within the ping timeout: the link is dead")
            }
            DisconnectReason::TransportClosed => f.write_str("the connection was closed"),
            DisconnectReason::TransportError(e) => f.write_str(e),
            DisconnectReason::AuthenticationFailed(code) => {
                write!(f, "re-authentication failed: {code}")
            }
            DisconnectReason::UnsupportedProtocolVersion { requested } => write!(
                f,
                "the server does not support {requested}; ask for an older version, or turn on version fallback"
            ),
            DisconnectReason::Aborted(why) => write!(f, "the client stopped: {why}"),
        }
    }
}

/// Something for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection (boxed: it comes once per connection, and
    /// inline it would make every event, messages included, three times larger).
    Connected(Box<Connected>),
    /// A connection ended (or an attempt failed). `reconnect_at` says when the session
    /// will ask for a new one, if it will.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// When the next attempt starts, if one will.
        reconnect_at: Option<Instant>,
    },
    /// A message arrived.
    Message(IncomingMessage),
    /// A QoS 1/2 publish completed: PUBACK (below 0x80), or PUBCOMP (0x00, or 0x92 when
    /// the server no longer knew the identifier: the message had reached it).
    PublishCompleted {
        /// The operation.
        id: OperationId,
        /// The reason code of PUBACK / PUBCOMP (Success under 3.1.1).
        reason_code: ReasonCode,
    },
    /// A SUBSCRIBE completed: one reason code per filter (granted QoS, or a failure).
    SubscribeCompleted {
        /// The operation.
        id: OperationId,
        /// Granted QoS or failure, per filter, in order.
        reason_codes: Vec<ReasonCode>,
    },
    /// An UNSUBSCRIBE completed: one reason code per filter (5.0; Success under 3.1.1).
    UnsubscribeCompleted {
        /// The operation.
        id: OperationId,
        /// Per filter, in order.
        reason_codes: Vec<ReasonCode>,
    },
    /// An operation failed.
    OperationFailed {
        /// The operation.
        id: OperationId,
        /// Why.
        error: OperationError,
    },
    /// The server continues enhanced authentication (AUTH 0x18): answer with
    /// [`Session::authenticate`](crate::Session::authenticate).
    AuthChallenge {
        /// Authentication Method.
        method: MqttString,
        /// Authentication Data.
        data: Option<Bytes>,
    },
    /// Re-authentication succeeded (AUTH 0x00).
    ReAuthenticated,
    /// The server acknowledged a packet identifier with nothing in flight under it (a duplicate
    /// PUBACK, PUBREC or PUBCOMP, as brokers send after their own reconnects). Nothing else
    /// happened: a PUBREC was answered with PUBREL (0x92 under 5.0) so that the server can
    /// finish its side. [`Options::strict_acknowledgements`](crate::Options::strict_acknowledgements)
    /// makes it a protocol violation instead.
    StrayAcknowledgement {
        /// PUBACK, PUBREC or PUBCOMP.
        packet_type: PacketType,
        /// The identifier it named.
        packet_id: PacketId,
    },
    /// A message delivered with an [`AckToken`] was not acknowledged within
    /// [`Options::acknowledgement_timeout`](crate::Options::acknowledgement_timeout): the
    /// session acknowledged it with `reason_code` (5.0: 0x80 Unspecified error, so the
    /// server may deliver it elsewhere; 3.1.1 can only accept) so that the
    /// acknowledgements behind it could go.
    AcknowledgementTimedOut {
        /// The message's packet identifier.
        packet_id: PacketId,
        /// What it was acknowledged with.
        reason_code: ReasonCode,
    },
}

/// An instruction for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Open a transport to `server`, then call
    /// [`Session::handle_connected`](crate::Session::handle_connected) (or
    /// [`Session::handle_closed`](crate::Session::handle_closed) if it fails).
    Open {
        /// The address, as given in [`Options::servers`](crate::Options::servers) or by a
        /// server redirection.
        server: String,
    },
    /// Close the transport (after writing everything `poll_transmit` returned).
    Close,
}
