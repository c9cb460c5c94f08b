//! Errors of both clients: one type, the same in `mqtt-std` and `mqtt-smol`.

use std::fmt;
use std::io;

use mqtt_proto::ReasonCode;
use mqtt_session::{AcknowledgeError, DisconnectReason, OperationError, UsageError};

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be carried out as asked (see the message for what to change).
    Usage(UsageError),
    /// The operation did not complete (refused by the server, dropped, expired...).
    Operation(OperationError),
    /// The server refused the connection with this reason code (for example 0x86 Bad
    /// User Name or Password, or 0x05 / 0x87 Not Authorized under 3.1.1).
    ConnectionRefused {
        /// The CONNACK reason code (3.1.1 return codes mapped onto 5.0 codes).
        reason_code: ReasonCode,
    },
    /// The connection could not be made or ended before the request completed.
    Disconnected(DisconnectReason),
    /// The broker URL is not valid.
    InvalidUrl(String),
    /// TLS configuration or certificate problem.
    Tls(String),
    /// WebSocket handshake or framing problem.
    WebSocket(String),
    /// An I/O error.
    Io(io::Error),
    /// The options do not fit this client (the message says what to use instead).
    Configuration(String),
    /// No answer within the time allowed.
    Timeout,
    /// The client was closed (disconnect, or every handle dropped).
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Operation(e) => e.fmt(f),
            Error::ConnectionRefused { reason_code } => {
                write!(f, "the server refused the connection: {reason_code}")?;
                if matches!(
                    reason_code,
                    ReasonCode::BadUserNameOrPassword | ReasonCode::NotAuthorized
                ) {
                    f.write_str("; check the user name and password")?;
                }
                if *reason_code == ReasonCode::UnsupportedProtocolVersion {
                    f.write_str(
                        "; ask for an older protocol version, or turn on version fallback",
                    )?;
                }
                Ok(())
            }
            Error::Disconnected(reason) => write!(f, "disconnected: {reason}"),
            Error::InvalidUrl(e) => write!(f, "invalid broker URL {e}"),
            Error::Tls(e) => write!(f, "TLS: {e}"),
            Error::WebSocket(e) => write!(f, "WebSocket: {e}"),
            Error::Io(e) => write!(f, "I/O: {e}"),
            Error::Configuration(e) => write!(f, "configuration: {e}"),
            Error::Timeout => f.write_str("timed out waiting for the broker"),
            Error::Closed => f.write_str("the client is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Usage(e) => Some(e),
            Error::Operation(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// What a driver's `acknowledge` reports when the command failed after the handle's
/// checks (the client closed): the token was used up.
pub fn acknowledgement_failed(e: Error) -> AcknowledgeError {
    let error = match e {
        Error::Usage(u) => u,
        _ => UsageError::Closed,
    };
    AcknowledgeError { error, token: None }
}

impl From<AcknowledgeError> for Error {
    fn from(e: AcknowledgeError) -> Error {
        Error::Usage(e.error)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Error {
        Error::Usage(e)
    }
}

impl From<mqtt_proto::TopicError> for Error {
    /// An invalid topic name, topic filter or client identifier given to the client.
    fn from(e: mqtt_proto::TopicError) -> Error {
        Error::Usage(UsageError::InvalidPacket(
            mqtt_proto::EncodeError::InvalidTopic(e),
        ))
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}
