//! Errors: the application's misuse ([`UsageError`]), the server's protocol violations
//! ([`ProtocolViolation`]) and why an operation did not complete ([`OperationError`]).

use crate::event::AckToken;
use core::fmt;
use mqtt_proto::{DecodeError, EncodeError, QoS, ReasonCode};

/// A request the session cannot carry out as asked: the caller's mistake, with what to do
/// about it. Nothing was queued or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// The session was closed by [`Session::disconnect`](crate::Session::disconnect) or a
    /// final error; create a new one.
    Closed,
    /// The server's Maximum QoS is below the QoS asked for ([MQTT-3.2.2-11]).
    QoSNotSupported {
        /// The QoS asked for.
        requested: QoS,
        /// The server's maximum.
        maximum: QoS,
    },
    /// The server does not support retained messages ([MQTT-3.2.2-14]).
    RetainNotAvailable,
    /// The server does not support wildcard subscriptions.
    WildcardSubscriptionsNotAvailable,
    /// The server does not support shared subscriptions.
    SharedSubscriptionsNotAvailable,
    /// The server does not support subscription identifiers.
    SubscriptionIdentifiersNotAvailable,
    /// The packet would exceed the server's Maximum Packet Size ([MQTT-3.2.2-15]), or the
    /// protocol's.
    PacketTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        maximum: usize,
    },
    /// The outgoing queue is full ([`QueueLimits`](crate::QueueLimits)).
    QueueFull,
    /// The driver has not taken the session's output: more than
    /// [`QueueLimits::max_unsent_bytes`](crate::QueueLimits::max_unsent_bytes) wait in
    /// [`Session::poll_transmit`](crate::Session::poll_transmit).
    TransmitBacklog {
        /// The bytes waiting.
        unsent: usize,
    },
    /// The packet cannot be encoded as given.
    InvalidPacket(EncodeError),
    /// Topic Alias and Subscription Identifier are the session's to set on a PUBLISH:
    /// leave them out of the properties.
    ReservedProperty(&'static str),
    /// An acknowledgement token that does not belong to a message awaiting one.
    UnknownAcknowledgement,
    /// Enhanced authentication was not configured, or no exchange is under way.
    NoAuthentication,
    /// The request needs MQTT 5.0.
    RequiresV5(&'static str),
    /// The request needs a cargo feature of `mqtt-session` this build leaves out (`qos2`,
    /// `unsubscribe`): enable it in `Cargo.toml`.
    FeatureNotEnabled {
        /// What was asked for.
        what: &'static str,
        /// The feature that provides it.
        feature: &'static str,
    },
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Closed => f.write_str("the session is closed; create a new session to connect again"),
            UsageError::QoSNotSupported { requested, maximum } => write!(
                f,
                "the server supports at most {maximum}; publish with {maximum} or lower instead of {requested}"
            ),
            UsageError::RetainNotAvailable => {
                f.write_str("the server does not support retained messages; publish with retain off")
            }
            UsageError::WildcardSubscriptionsNotAvailable => f.write_str(
                "the server does not support wildcard subscriptions; subscribe to exact topics",
            ),
            UsageError::SharedSubscriptionsNotAvailable => {
                f.write_str("the server does not support shared subscriptions ($share/...)")
            }
            UsageError::SubscriptionIdentifiersNotAvailable => f.write_str(
                "the server does not support subscription identifiers; subscribe without one",
            ),
            UsageError::PacketTooLarge { size, maximum } => write!(
                f,
                "the packet would be {size} bytes but the server accepts at most {maximum}; send a smaller payload"
            ),
            UsageError::QueueFull => f.write_str(
                "the outgoing queue is full; wait for completions or raise the queue limits",
            ),
            UsageError::TransmitBacklog { unsent } => write!(
                f,
                "{unsent} bytes of output wait for the driver; drain poll_transmit (and write it) before publishing more, or raise QueueLimits::max_unsent_bytes"
            ),
            UsageError::InvalidPacket(e) => e.fmt(f),
            UsageError::ReservedProperty(p) => {
                write!(f, "{p} is set by the session; leave it out of the publish properties")
            }
            UsageError::UnknownAcknowledgement => {
                f.write_str("this message was already acknowledged, or needs no acknowledgement")
            }
            UsageError::NoAuthentication => f.write_str(
                "no enhanced authentication is configured or under way; set an authentication method first",
            ),
            UsageError::RequiresV5(what) => write!(f, "{what} needs MQTT 5.0"),
            UsageError::FeatureNotEnabled { what, feature } => write!(
                f,
                "{what} needs mqtt-session's feature `{feature}`: enable it in Cargo.toml"
            ),
        }
    }
}

impl core::error::Error for UsageError {}

impl From<EncodeError> for UsageError {
    fn from(e: EncodeError) -> UsageError {
        match e {
            EncodeError::PacketTooLarge { size, maximum } => {
                UsageError::PacketTooLarge { size, maximum }
            }
            other => UsageError::InvalidPacket(other),
        }
    }
}

/// Something the server sent that breaks the protocol. The session closes the connection
/// (under 5.0 after a DISCONNECT with [`ProtocolViolation::reason_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A malformed packet, or one the decoder refused.
    Decode(DecodeError),
    /// A packet that is not allowed in the connection's current state, such as anything
    /// but CONNACK or AUTH first ([MQTT-3.2.0-1]) or a second CONNACK ([MQTT-3.2.0-2]).
    UnexpectedPacket(&'static str),
    /// An acknowledgement for a packet identifier that is not waiting for one.
    UnknownPacketId(&'static str),
    /// Session Present 1 although the client asked for a clean start ([MQTT-3.2.2-4]).
    UnexpectedSessionPresent,
    /// A Topic Alias of 0, above our Topic Alias Maximum ([MQTT-3.3.2-11]), or unknown.
    TopicAlias(ReasonCode),
    /// More unacknowledged QoS 1/2 PUBLISHes than our Receive Maximum ([MQTT-3.3.4-9]).
    ReceiveMaximumExceeded,
    /// A PUBLISH above the Maximum QoS the server may send.
    QoSNotSupported,
    /// A SUBACK or UNSUBACK with a different number of reason codes than filters.
    ReasonCodeCount,
    /// AUTH or an Authentication Method the client did not ask for, or a different
    /// method ([MQTT-4.12.0-5], [MQTT-4.12.0-6]).
    Authentication(&'static str),
}

impl ProtocolViolation {
    /// The reason code of the DISCONNECT the client sends for it.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            ProtocolViolation::Decode(e) => e.reason_code(),
            ProtocolViolation::TopicAlias(code) => *code,
            ProtocolViolation::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            _ => ReasonCode::ProtocolError,
        }
    }
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolViolation::Decode(e) => write!(f, "server sent a malformed packet: {e}"),
            ProtocolViolation::UnexpectedPacket(what) => {
                write!(f, "server sent {what} out of turn")
            }
            ProtocolViolation::UnknownPacketId(what) => {
                write!(
                    f,
                    "server sent {what} for a packet identifier not awaiting one"
                )
            }
            ProtocolViolation::UnexpectedSessionPresent => {
                f.write_str("server reported a present session after a clean start")
            }
            ProtocolViolation::TopicAlias(_) => f.write_str("server sent an invalid topic alias"),
            ProtocolViolation::ReceiveMaximumExceeded => {
                f.write_str("server exceeded our receive maximum")
            }
            ProtocolViolation::QoSNotSupported => f.write_str("server sent a QoS we cannot accept"),
            ProtocolViolation::ReasonCodeCount => {
                f.write_str("server acknowledged a different number of topic filters than sent")
            }
            ProtocolViolation::Authentication(what) => write!(f, "authentication: {what}"),
        }
    }
}

impl core::error::Error for ProtocolViolation {}

impl From<DecodeError> for ProtocolViolation {
    fn from(e: DecodeError) -> ProtocolViolation {
        ProtocolViolation::Decode(e)
    }
}

/// [`Session::acknowledge`](crate::Session::acknowledge) refused an acknowledgement.
///
/// When the refusal is about the reason code (not allowed in this packet, or a non-success
/// code under 3.1.1), the token is handed back in `token`: acknowledge again with a valid
/// reason code, or the message holds back every later acknowledgement. When the token can
/// no longer be used (the session closed, or it was used already), `token` is `None`.
#[derive(Debug, PartialEq, Eq)]
pub struct AcknowledgeError {
    /// What was wrong.
    pub error: UsageError,
    /// The token, when it can still be used.
    pub token: Option<AckToken>,
}

impl fmt::Display for AcknowledgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)?;
        if self.token.is_some() {
            f.write_str(" (the token is handed back in the error: acknowledge again with a valid reason code)")?;
        }
        Ok(())
    }
}

impl core::error::Error for AcknowledgeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<AcknowledgeError> for UsageError {
    fn from(e: AcknowledgeError) -> UsageError {
        e.error
    }
}

/// Why an operation (publish, subscribe, unsubscribe) did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OperationError {
    /// The server refused it with this reason code (PUBACK / PUBREC 0x80 and above).
    Refused(ReasonCode),
    /// The session ended (disconnect or a final error) before it completed.
    SessionClosed,
    /// The server lost the session and the policy is to fail pending messages.
    SessionLost,
    /// The outgoing queue overflowed and this message was dropped.
    Dropped,
    /// Its Message Expiry Interval passed while it was queued.
    Expired,
    /// It turned out too large for the server's Maximum Packet Size, or cannot be sent
    /// under the server's limits.
    Rejected(UsageError),
    /// The server closed the connection, before acknowledging anything on it, every time
    /// this message was sent: more than [`Options::resend_limit`](crate::Options::resend_limit)
    /// times. A broker refuses a message that way when it is above its message size limit
    /// or the client may not publish to the topic (mosquitto under 3.1.1).
    ConnectionKeptClosing {
        /// How many times it was sent.
        sends: u16,
    },
}

impl fmt::Display for OperationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OperationError::Refused(code) => write!(f, "refused by the server: {code}"),
            OperationError::SessionClosed => f.write_str("the session closed before it completed"),
            OperationError::SessionLost => f.write_str("the server lost the session"),
            OperationError::Dropped => f.write_str("dropped from the full outgoing queue"),
            OperationError::Expired => {
                f.write_str("its message expiry interval passed while queued")
            }
            OperationError::Rejected(e) => e.fmt(f),
            OperationError::ConnectionKeptClosing { sends } => write!(
                f,
                "the server closed the connection each of the {sends} times this message was sent, before acknowledging anything: it may be above the server's message size limit, or not allowed on its topic"
            ),
        }
    }
}

impl core::error::Error for OperationError {}
