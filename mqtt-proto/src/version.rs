//! Protocol versions and quality-of-service levels.

use core::fmt;

/// The MQTT protocol version, as carried in the CONNECT packet's protocol level byte.
///
/// Version 5.0 is the superset: every packet model in this crate holds the 5.0 fields
/// (properties, reason codes), and encoding or decoding with an older version leaves
/// them out or refuses what that version cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// MQTT 3.1 (protocol name `MQIsdp`, level 3).
    V3_1,
    /// MQTT 3.1.1 (protocol name `MQTT`, level 4).
    V3_1_1,
    /// MQTT 5.0 (protocol name `MQTT`, level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte of CONNECT: 3, 4 or 5.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1 => 3,
            ProtocolVersion::V3_1_1 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The protocol version for a protocol level byte, if it is one this crate speaks.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            3 => Some(ProtocolVersion::V3_1),
            4 => Some(ProtocolVersion::V3_1_1),
            5 if cfg!(feature = "v5") => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// The protocol name CONNECT carries: `MQIsdp` for 3.1, `MQTT` otherwise.
    pub const fn protocol_name(self) -> &'static str {
        match self {
            ProtocolVersion::V3_1 => "MQIsdp",
            _ => "MQTT",
        }
    }

    /// Whether this version has properties and reason codes (5.0). Always `false`
    /// without the `v5` feature, so that the 5.0 code is not linked.
    pub const fn is_v5(self) -> bool {
        cfg!(feature = "v5") && matches!(self, ProtocolVersion::V5)
    }

    /// Whether this build speaks the version: 5.0 needs the `v5` feature.
    pub const fn is_enabled(self) -> bool {
        cfg!(feature = "v5") || !matches!(self, ProtocolVersion::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V3_1 => "MQTT 3.1",
            ProtocolVersion::V3_1_1 => "MQTT 3.1.1",
            ProtocolVersion::V5 => "MQTT 5.0",
        })
    }
}

/// Quality of service of an application message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, acknowledged by PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, PUBREC / PUBREL / PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its two-bit value; `None` for 3, which no packet may carry.
    pub const fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The two-bit wire value.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl fmt::Display for QoS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QoS {}", *self as u8)
    }
}
