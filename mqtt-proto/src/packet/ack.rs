//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT §3.4 to §3.7), and the properties every
//! acknowledgement carries.

use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::packet_id::PacketId;
use crate::properties::Properties;
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_str, read_properties,
    user_properties,
};
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// The properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a Reason
/// String and User Properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AckProperties {
    /// Reason String: human-readable, for diagnostics only.
    pub reason_string: Option<MqttString>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl AckProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.reason_string.is_none() && self.user_properties.is_empty()
    }

    pub(crate) fn apply(
        &mut self,
        id: PropertyId,
        v: Value,
        packet: PacketType,
    ) -> Result<(), DecodeError> {
        match (id, v) {
            (PropertyId::ReasonString, Value::Str(s)) => self.reason_string = Some(s),
            (PropertyId::UserProperty, Value::Pair(p)) => self.user_properties.push(p),
            (property, _) => return Err(DecodeError::PropertyNotAllowed { property, packet }),
        }
        Ok(())
    }

    /// Reads the properties of an acknowledgement of type `packet`.
    pub(crate) fn read(
        r: &mut Reader,
        packet: PacketType,
    ) -> Result<Properties<AckProperties>, DecodeError> {
        let mut props = Properties::<AckProperties>::none();
        read_properties(r, PropertyContext::Packet(packet), |id, v| {
            props.get_mut().apply(id, v, packet)
        })?;
        Ok(props)
    }
}

impl PropertyList for AckProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        opt_str(s, PropertyId::ReasonString, self.reason_string.as_deref());
        user_properties(s, &self.user_properties);
    }
}

/// Reads a reason code that must be allowed in `packet`.
pub(crate) fn read_reason_code(
    r: &mut Reader,
    packet: PacketType,
) -> Result<ReasonCode, DecodeError> {
    let raw = r.u8("reason code")?;
    ReasonCode::from_u8(raw)
        .filter(|c| c.is_allowed_in(packet))
        .ok_or(DecodeError::InvalidReasonCode {
            packet_type: packet,
            code: raw,
        })
}

/// Checks a reason code to be sent in `packet`.
pub(crate) fn check_reason_code(code: ReasonCode, packet: PacketType) -> Result<(), EncodeError> {
    if code.is_allowed_in(packet) {
        Ok(())
    } else {
        Err(EncodeError::InvalidReasonCode {
            packet_type: packet,
            code,
        })
    }
}

/// Drops the Reason String, then the User Properties, of a packet that would otherwise be
/// larger than `maximum` (the rule [MQTT-3.4.2-2] and its siblings state for every packet
/// that carries them). Returns whether the packet now fits.
macro_rules! impl_fit_within {
    ($($t:ty),*) => {$(
        impl $t {
            /// Leaves out the Reason String, and then the User Properties, if the packet
            /// would otherwise exceed `maximum` bytes (the peer's Maximum Packet Size), as
            /// MQTT 5.0 requires of every packet that carries them ([MQTT-3.4.2-2],
            /// [MQTT-3.4.2-3] and the same rule for each packet type). Returns whether the
            /// packet fits now.
            pub fn fit_within(&mut self, version: ProtocolVersion, maximum: usize) -> bool {
                use $crate::packet::Encode;
                let fits = |p: &Self| p.encoded_len(version).is_ok_and(|n| n <= maximum);
                if fits(self) {
                    return true;
                }
                self.properties.reason_string = None;
                if fits(self) {
                    return true;
                }
                self.properties.user_properties.clear();
                fits(self)
            }
        }
    )*};
}
pub(crate) use impl_fit_within;

macro_rules! pub_ack_packet {
    ($(#[$doc:meta])* $name:ident, $ty:expr, $first:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The packet identifier of the PUBLISH this belongs to ([MQTT-2.3.1-6],
            /// [MQTT-2.2.1-5]).
            pub packet_id: PacketId,
            /// The reason code (5.0; always Success under 3.1.1).
            pub reason_code: ReasonCode,
            /// MQTT 5.0 properties.
            pub properties: Properties<AckProperties>,
        }

        impl $name {
            /// A successful acknowledgement for `packet_id`, without properties.
            pub fn new(packet_id: PacketId) -> $name {
                $name {
                    packet_id,
                    reason_code: ReasonCode::Success,
                    properties: Properties::none(),
                }
            }

            /// An acknowledgement for `packet_id` with a reason code (5.0).
            pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> $name {
                $name {
                    packet_id,
                    reason_code,
                    properties: Properties::none(),
                }
            }

            pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<$name, DecodeError> {
                let packet_id = PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)?;
                let mut reason_code = ReasonCode::Success;
                let mut properties = Properties::none();
                // A 5.0 acknowledgement may stop after the packet identifier (Success,
                // no properties) or after the reason code (no properties).
                if version.is_v5() && r.remaining() > 0 {
                    reason_code = read_reason_code(r, $ty)?;
                    if r.remaining() > 0 {
                        properties = AckProperties::read(r, $ty)?;
                    }
                }
                Ok($name { packet_id, reason_code, properties })
            }
        }

        impl Body for $name {
            fn first_byte(&self) -> u8 {
                $first
            }
            fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
                if version.is_v5() {
                    check_reason_code(self.reason_code, $ty)
                } else if self.reason_code != ReasonCode::Success {
                    Err(not_in_v3("a reason code other than Success", version))
                } else if !self.properties.is_empty() {
                    Err(not_in_v3("acknowledgement properties", version))
                } else {
                    Ok(())
                }
            }
            fn body_len(&self, version: ProtocolVersion) -> usize {
                if !version.is_v5() {
                    2
                } else if self.properties.is_empty() {
                    if self.reason_code == ReasonCode::Success { 2 } else { 3 }
                } else {
                    3 + self.properties.wire_len()
                }
            }
            fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
                buf.put_u16(self.packet_id.get());
                if version.is_v5() {
                    if self.properties.is_empty() {
                        if self.reason_code != ReasonCode::Success {
                            buf.put_u8(self.reason_code.as_u8());
                        }
                    } else {
                        buf.put_u8(self.reason_code.as_u8());
                        let len = self.properties.content_len();
                        self.properties.write(len, buf);
                    }
                }
            }
        }

        impl_fit_within!($name);
    };
}

pub_ack_packet!(
    /// PUBACK: the answer to a QoS 1 PUBLISH.
    PubAck, PacketType::PubAck, 0x40
);
pub_ack_packet!(
    /// PUBREC: the first answer to a QoS 2 PUBLISH.
    PubRec, PacketType::PubRec, 0x50
);
pub_ack_packet!(
    /// PUBREL: the QoS 2 sender's answer to PUBREC (fixed-header flags 0010,
    /// [MQTT-3.6.1-1]).
    PubRel, PacketType::PubRel, 0x62
);
pub_ack_packet!(
    /// PUBCOMP: the QoS 2 receiver's answer to PUBREL.
    PubComp, PacketType::PubComp, 0x70
);
