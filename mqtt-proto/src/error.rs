//! Errors: what a received packet did wrong ([`DecodeError`]) and what a packet we were
//! asked to send does wrong ([`EncodeError`]).

use core::fmt;

use crate::packet::PacketType;
use crate::property::PropertyId;
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;

/// Why a string is not an MQTT UTF-8 encoded string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StringError {
    /// The bytes are not well-formed UTF-8 (this includes encoded surrogates)
    /// ([MQTT-1.5.3-1], [MQTT-1.5.4-1]).
    InvalidUtf8,
    /// The string contains U+0000 ([MQTT-1.5.3-2], [MQTT-1.5.4-2]).
    NullCharacter,
    /// The string is longer than the 65,535 bytes a length prefix can say.
    TooLong(usize),
}

impl fmt::Display for StringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StringError::InvalidUtf8 => f.write_str("not well-formed UTF-8"),
            StringError::NullCharacter => {
                f.write_str("contains the null character U+0000, which MQTT forbids")
            }
            StringError::TooLong(n) => {
                write!(f, "is {n} bytes long; an MQTT string holds at most 65535")
            }
        }
    }
}

impl core::error::Error for StringError {}

/// Why a string is not a valid topic name or topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicError {
    /// The string itself breaks the MQTT string rules.
    String(StringError),
    /// Topic names and filters are at least one character long ([MQTT-4.7.3-1]).
    Empty,
    /// A topic name contains `+` or `#` ([MQTT-4.7.0-1], v3.1.1 [MQTT-4.7.1-1]).
    WildcardInTopicName,
    /// `#` is not alone in the last level of the filter.
    MisplacedMultiLevelWildcard,
    /// `+` does not fill its whole level.
    MisplacedSingleLevelWildcard,
    /// `$share/` is not followed by a ShareName without `/`, `+`, `#`, then `/` and a filter
    /// ([MQTT-4.8.2-1], [MQTT-4.8.2-2]).
    InvalidShareName,
}

impl From<StringError> for TopicError {
    fn from(e: StringError) -> TopicError {
        TopicError::String(e)
    }
}

impl fmt::Display for TopicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicError::String(e) => e.fmt(f),
            TopicError::Empty => f.write_str("is empty; topics are at least one character long"),
            TopicError::WildcardInTopicName => f.write_str(
                "contains a wildcard ('+' or '#'); wildcards belong in topic filters, not topic names",
            ),
            TopicError::MisplacedMultiLevelWildcard => f.write_str(
                "has '#' somewhere other than alone in the last level (write 'a/#', not 'a#' or 'a/#/b')",
            ),
            TopicError::MisplacedSingleLevelWildcard => {
                f.write_str("has '+' sharing a level with other characters (write 'a/+/b', not 'a/b+')")
            }
            TopicError::InvalidShareName => f.write_str(
                "is not a valid shared subscription: write '$share/{ShareName}/{filter}' with a ShareName free of '/', '+' and '#'",
            ),
        }
    }
}

impl core::error::Error for TopicError {}

/// A received packet that breaks the specification.
///
/// Each variant names the rule that was broken; [`DecodeError::reason_code`] gives the
/// MQTT 5.0 reason code the receiver puts in its DISCONNECT (0x81 Malformed Packet,
/// 0x82 Protocol Error, or a more specific code). Under MQTT 3.1.1 the receiver closes the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A Variable Byte Integer ran over 4 bytes.
    MalformedVariableByteInteger,
    /// An MQTT 5.0 Variable Byte Integer was not in its shortest form ([MQTT-1.5.5-1]).
    NonMinimalVariableByteInteger,
    /// The packet is larger than the maximum packet size; refused as soon as its fixed
    /// header was read.
    PacketTooLarge {
        /// The packet's whole size in bytes.
        size: usize,
        /// The configured maximum.
        maximum: u32,
    },
    /// The packet type is 0, or 15 before MQTT 5.0.
    ReservedPacketType(u8),
    /// The fixed-header flags are not the ones the packet type requires ([MQTT-2.2.2-2],
    /// [MQTT-2.1.3-1]).
    InvalidFixedHeaderFlags {
        /// The packet type.
        packet_type: PacketType,
        /// The low nibble of the first byte.
        flags: u8,
    },
    /// PUBLISH with QoS 3 ([MQTT-3.3.1-4]).
    InvalidQoS,
    /// PUBLISH with QoS 0 and DUP set ([MQTT-3.3.1-2]).
    DupWithQoS0,
    /// A field runs past the end of the packet.
    UnexpectedEnd {
        /// The field being read.
        field: &'static str,
    },
    /// The fields end before the remaining length does.
    TrailingBytes {
        /// The packet type.
        packet_type: PacketType,
        /// How many bytes were left over.
        extra: usize,
    },
    /// A string field is not an MQTT UTF-8 encoded string.
    InvalidString {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        error: StringError,
    },
    /// The PUBLISH topic name (or Response Topic) is not a valid topic name.
    InvalidTopicName(TopicError),
    /// A SUBSCRIBE or UNSUBSCRIBE topic filter is not valid.
    InvalidTopicFilter(TopicError),
    /// A PUBLISH with a zero-length topic name and no Topic Alias.
    EmptyTopicWithoutAlias,
    /// A packet identifier of 0 ([MQTT-2.3.1-1]).
    ZeroPacketId,
    /// SUBSCRIBE, UNSUBSCRIBE, SUBACK or UNSUBACK without a single entry
    /// ([MQTT-3.8.3-3], [MQTT-3.10.3-2]).
    NoPayloadEntries(PacketType),
    /// CONNECT with a protocol name other than `MQTT` (or `MQIsdp` for level 3).
    InvalidProtocolName,
    /// CONNECT with a protocol level this crate does not speak.
    UnsupportedProtocolLevel(u8),
    /// Invalid CONNECT flags: the named rule is broken.
    InvalidConnectFlags(&'static str),
    /// CONNACK acknowledge flags with bits 7-1 set, or Session Present with a failure code.
    InvalidConnAckFlags(u8),
    /// A subscription options byte with reserved bits set, QoS 3 or Retain Handling 3.
    InvalidSubscriptionOptions(u8),
    /// No Local set on a shared subscription ([MQTT-3.8.3-4]).
    NoLocalOnSharedSubscription,
    /// A property identifier MQTT 5.0 does not define.
    UnknownProperty(u32),
    /// A property this packet may not carry.
    PropertyNotAllowed {
        /// The property.
        property: PropertyId,
        /// The packet (or Will Properties of CONNECT).
        packet: PacketType,
    },
    /// A property that may appear once appeared twice.
    DuplicateProperty(PropertyId),
    /// A property value the specification forbids (a 0 or an out-of-range byte).
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value received.
        value: u32,
    },
    /// A reason code (or 3.1.1 return code) this packet type may not carry.
    InvalidReasonCode {
        /// The packet type.
        packet_type: PacketType,
        /// The code received.
        code: u8,
    },
    /// AUTH properties without an Authentication Method.
    MissingAuthenticationMethod,
    /// Authentication Data without an Authentication Method (U5-15).
    AuthenticationDataWithoutMethod,
    /// A packet that the protocol version in use does not have (AUTH before 5.0).
    NotInVersion {
        /// The packet type.
        packet_type: PacketType,
        /// The version in use.
        version: ProtocolVersion,
    },
    /// A packet (or a part of one) that the peer in this role may not send, such as a
    /// SUBSCRIBE from a server.
    WrongSender {
        /// What the peer sent that its role forbids.
        what: &'static str,
    },
}

impl DecodeError {
    /// The MQTT 5.0 reason code for the DISCONNECT a receiver sends because of this error.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            DecodeError::InvalidTopicName(_) => ReasonCode::TopicNameInvalid,
            DecodeError::InvalidTopicFilter(_) => ReasonCode::TopicFilterInvalid,
            DecodeError::InvalidPropertyValue {
                property: PropertyId::TopicAlias,
                ..
            } => ReasonCode::TopicAliasInvalid,
            // QoS 3 or Retain Handling 3 are Protocol Errors; reserved bits are Malformed.
            DecodeError::InvalidSubscriptionOptions(b) if b & 0xC0 == 0 => {
                ReasonCode::ProtocolError
            }
            DecodeError::DuplicateProperty(_)
            | DecodeError::InvalidPropertyValue { .. }
            | DecodeError::NoPayloadEntries(_)
            | DecodeError::EmptyTopicWithoutAlias
            | DecodeError::NoLocalOnSharedSubscription
            | DecodeError::InvalidReasonCode { .. }
            | DecodeError::MissingAuthenticationMethod
            | DecodeError::AuthenticationDataWithoutMethod
            | DecodeError::UnsupportedProtocolLevel(_)
            | DecodeError::WrongSender { .. } => ReasonCode::ProtocolError,
            _ => ReasonCode::MalformedPacket,
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::MalformedVariableByteInteger => {
                f.write_str("variable byte integer longer than 4 bytes")
            }
            DecodeError::NonMinimalVariableByteInteger => {
                f.write_str("variable byte integer not in its shortest form")
            }
            DecodeError::PacketTooLarge { size, maximum } => {
                write!(
                    f,
                    "packet of {size} bytes exceeds the maximum packet size {maximum}"
                )
            }
            DecodeError::ReservedPacketType(t) => write!(f, "reserved packet type {t}"),
            DecodeError::InvalidFixedHeaderFlags { packet_type, flags } => {
                write!(
                    f,
                    "{packet_type} with invalid fixed header flags {flags:#06b}"
                )
            }
            DecodeError::InvalidQoS => f.write_str("PUBLISH with QoS 3"),
            DecodeError::DupWithQoS0 => f.write_str("PUBLISH with QoS 0 and the DUP flag set"),
            DecodeError::UnexpectedEnd { field } => {
                write!(f, "{field} runs past the end of the packet")
            }
            DecodeError::TrailingBytes { packet_type, extra } => {
                write!(f, "{packet_type} has {extra} bytes beyond its last field")
            }
            DecodeError::InvalidString { field, error } => write!(f, "{field} {error}"),
            DecodeError::InvalidTopicName(e) => write!(f, "topic name {e}"),
            DecodeError::InvalidTopicFilter(e) => write!(f, "topic filter {e}"),
            DecodeError::EmptyTopicWithoutAlias => {
                f.write_str("PUBLISH with an empty topic name and no topic alias")
            }
            DecodeError::ZeroPacketId => f.write_str("packet identifier 0"),
            DecodeError::NoPayloadEntries(t) => write!(f, "{t} without a single entry"),
            DecodeError::InvalidProtocolName => {
                f.write_str("CONNECT with an unknown protocol name")
            }
            DecodeError::UnsupportedProtocolLevel(l) => {
                write!(f, "CONNECT with unsupported protocol level {l}")
            }
            DecodeError::InvalidConnectFlags(rule) => write!(f, "invalid CONNECT flags: {rule}"),
            DecodeError::InvalidConnAckFlags(b) => {
                write!(f, "invalid CONNACK acknowledge flags {b:#04x}")
            }
            DecodeError::InvalidSubscriptionOptions(b) => {
                write!(f, "invalid subscription options byte {b:#04x}")
            }
            DecodeError::NoLocalOnSharedSubscription => {
                f.write_str("No Local set on a shared subscription")
            }
            DecodeError::UnknownProperty(id) => write!(f, "unknown property identifier {id:#04x}"),
            DecodeError::PropertyNotAllowed { property, packet } => {
                write!(f, "property {property} is not allowed in {packet}")
            }
            DecodeError::DuplicateProperty(p) => write!(f, "property {p} appears more than once"),
            DecodeError::InvalidPropertyValue { property, value } => {
                write!(f, "property {property} has the forbidden value {value}")
            }
            DecodeError::InvalidReasonCode { packet_type, code } => {
                write!(f, "{packet_type} with invalid reason code {code:#04x}")
            }
            DecodeError::MissingAuthenticationMethod => {
                f.write_str("AUTH without an Authentication Method")
            }
            DecodeError::AuthenticationDataWithoutMethod => {
                f.write_str("Authentication Data without an Authentication Method")
            }
            DecodeError::NotInVersion {
                packet_type,
                version,
            } => write!(f, "{packet_type} does not exist in {version}"),
            DecodeError::WrongSender { what } => write!(f, "the peer may not send {what}"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// A packet that cannot be sent as it is: the caller's mistake, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded packet is larger than the maximum packet size (the peer's, or the
    /// protocol's 268,435,460 bytes).
    PacketTooLarge {
        /// The packet's whole size in bytes.
        size: usize,
        /// The limit it exceeds.
        maximum: usize,
    },
    /// A binary field (payload of a Will, password, correlation or authentication data) is
    /// longer than 65,535 bytes.
    BinaryTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A topic name or filter that is not valid where it is used (an empty Will topic).
    InvalidTopic(TopicError),
    /// A QoS 1 or 2 PUBLISH without a packet identifier.
    MissingPacketId,
    /// A QoS 0 PUBLISH with a packet identifier ([MQTT-2.3.1-5], [MQTT-2.2.1-2]).
    UnexpectedPacketId,
    /// A QoS 0 PUBLISH with DUP set ([MQTT-3.3.1-2]).
    DupWithQoS0,
    /// SUBSCRIBE or UNSUBSCRIBE without a topic filter, or SUBACK / UNSUBACK without a
    /// reason code ([MQTT-3.8.3-3], [MQTT-3.10.3-2]).
    NoPayloadEntries(PacketType),
    /// PUBLISH with an empty topic name and no Topic Alias (only MQTT 5.0 may name a topic
    /// by alias alone).
    EmptyTopicWithoutAlias,
    /// No Local on a shared subscription ([MQTT-3.8.3-4]).
    NoLocalOnSharedSubscription,
    /// A zero-length client identifier with Clean Session 0 (v3.1.1 [MQTT-3.1.3-7]).
    EmptyClientIdWithoutCleanSession,
    /// A password without a user name, which MQTT 3.1 / 3.1.1 cannot carry
    /// (v3.1.1 [MQTT-3.1.2-22]).
    PasswordWithoutUserName,
    /// A property value the specification forbids (0 for Topic Alias, Subscription
    /// Identifier, Receive Maximum or Maximum Packet Size; a Subscription Identifier above
    /// 268,435,455).
    InvalidPropertyValue {
        /// The property.
        property: PropertyId,
        /// The value given.
        value: u32,
    },
    /// Authentication Data without an Authentication Method.
    AuthenticationDataWithoutMethod,
    /// AUTH (other than a bare Success) without an Authentication Method.
    MissingAuthenticationMethod,
    /// A reason code this packet type cannot carry.
    InvalidReasonCode {
        /// The packet type.
        packet_type: PacketType,
        /// The code given.
        code: ReasonCode,
    },
    /// Something the chosen protocol version cannot express.
    NotInVersion {
        /// What cannot be expressed.
        what: &'static str,
        /// The version.
        version: ProtocolVersion,
    },
    /// A CONNECT for a version this build does not speak (5.0 without the `v5` feature).
    VersionNotEnabled {
        /// The version asked for.
        version: ProtocolVersion,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::PacketTooLarge { size, maximum } => write!(
                f,
                "packet of {size} bytes exceeds the maximum packet size of {maximum}; send a smaller payload or fewer properties"
            ),
            EncodeError::BinaryTooLong { field, len } => write!(
                f,
                "{field} is {len} bytes long; MQTT binary data holds at most 65535 bytes"
            ),
            EncodeError::InvalidTopic(e) => write!(f, "topic {e}"),
            EncodeError::MissingPacketId => {
                f.write_str("QoS 1 and 2 PUBLISH packets need a packet identifier")
            }
            EncodeError::UnexpectedPacketId => {
                f.write_str("a QoS 0 PUBLISH carries no packet identifier; remove it")
            }
            EncodeError::DupWithQoS0 => f.write_str("a QoS 0 PUBLISH must have DUP 0"),
            EncodeError::NoPayloadEntries(t) => {
                write!(f, "{t} needs at least one entry (topic filter or reason code)")
            }
            EncodeError::EmptyTopicWithoutAlias => f.write_str(
                "PUBLISH with an empty topic name needs a Topic Alias (MQTT 5.0 only)",
            ),
            EncodeError::NoLocalOnSharedSubscription => {
                f.write_str("No Local cannot be set on a shared subscription ($share/...)")
            }
            EncodeError::EmptyClientIdWithoutCleanSession => f.write_str(
                "an empty client identifier needs clean session; set clean session or give a client identifier",
            ),
            EncodeError::PasswordWithoutUserName => f.write_str(
                "MQTT 3.1.1 cannot send a password without a user name; set a user name or use MQTT 5.0",
            ),
            EncodeError::InvalidPropertyValue { property, value } => {
                write!(f, "property {property} cannot have the value {value}")
            }
            EncodeError::AuthenticationDataWithoutMethod => f.write_str(
                "Authentication Data needs an Authentication Method; set the method too",
            ),
            EncodeError::MissingAuthenticationMethod => f.write_str(
                "AUTH needs the Authentication Method of CONNECT; set authentication_method",
            ),
            EncodeError::InvalidReasonCode { packet_type, code } => {
                write!(f, "{packet_type} cannot carry reason code {code}")
            }
            EncodeError::NotInVersion { what, version } => {
                write!(f, "{version} cannot express {what}; use MQTT 5.0 or leave it out")
            }
            EncodeError::VersionNotEnabled { version } => write!(
                f,
                "this build does not speak {version}: enable the `v5` feature of mqtt-proto (or mqtt-session), or use MQTT 3.1.1"
            ),
        }
    }
}

impl core::error::Error for EncodeError {}
