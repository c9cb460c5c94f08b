//! DISCONNECT (MQTT §3.14).

use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::ack::{check_reason_code, read_reason_code};
use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::properties::Properties;
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_four, opt_str,
    read_properties, user_properties,
};
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::Reader;

/// The properties of DISCONNECT (MQTT 5.0 §3.14.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisconnectProperties {
    /// Session Expiry Interval: a client's update of the value it sent in CONNECT (never
    /// from the server, [MQTT-3.14.2-2]).
    pub session_expiry_interval: Option<u32>,
    /// Reason String.
    pub reason_string: Option<MqttString>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Server Reference: another server to use (with 0x9C / 0x9D).
    pub server_reference: Option<MqttString>,
}

impl DisconnectProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == DisconnectProperties::default()
    }
}

impl PropertyList for DisconnectProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        opt_four(
            s,
            PropertyId::SessionExpiryInterval,
            self.session_expiry_interval,
        );
        opt_str(s, PropertyId::ReasonString, self.reason_string.as_deref());
        user_properties(s, &self.user_properties);
        opt_str(
            s,
            PropertyId::ServerReference,
            self.server_reference.as_deref(),
        );
    }
}

/// DISCONNECT: the last packet on a connection. Under 3.1.1 it has no body; under 5.0 a
/// reason code (0x00 Normal disconnection when absent) and properties.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// The disconnect reason code.
    pub reason_code: ReasonCode,
    /// MQTT 5.0 properties.
    pub properties: Properties<DisconnectProperties>,
}

impl Default for ReasonCode {
    /// Success (0x00), which is also Normal disconnection and Granted QoS 0.
    fn default() -> ReasonCode {
        ReasonCode::Success
    }
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Disconnect {
        Disconnect {
            reason_code,
            properties: Properties::none(),
        }
    }

    pub(crate) fn read(
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Disconnect, DecodeError> {
        let mut d = Disconnect::default();
        if version.is_v5() && r.remaining() > 0 {
            d.reason_code = read_reason_code(r, PacketType::Disconnect)?;
            if r.remaining() > 0 {
                let p = &mut d.properties;
                read_properties(
                    r,
                    PropertyContext::Packet(PacketType::Disconnect),
                    |id, v| {
                        match (id, v) {
                            (PropertyId::SessionExpiryInterval, Value::Four(n)) => {
                                p.session_expiry_interval = Some(n)
                            }
                            (PropertyId::ReasonString, Value::Str(s)) => p.reason_string = Some(s),
                            (PropertyId::UserProperty, Value::Pair(u)) => p.user_properties.push(u),
                            (PropertyId::ServerReference, Value::Str(s)) => {
                                p.server_reference = Some(s)
                            }
                            (property, _) => {
                                return Err(DecodeError::PropertyNotAllowed {
                                    property,
                                    packet: PacketType::Disconnect,
                                });
                            }
                        }
                        Ok(())
                    },
                )?;
            }
        }
        Ok(d)
    }
}

impl Body for Disconnect {
    fn first_byte(&self) -> u8 {
        0xE0
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if version.is_v5() {
            check_reason_code(self.reason_code, PacketType::Disconnect)
        } else if self.reason_code != ReasonCode::Success {
            Err(not_in_v3("a DISCONNECT reason code", version))
        } else if !self.properties.is_empty() {
            Err(not_in_v3("DISCONNECT properties", version))
        } else {
            Ok(())
        }
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        if !version.is_v5() {
            0
        } else if self.properties.is_empty() {
            usize::from(self.reason_code != ReasonCode::Success)
        } else {
            1 + self.properties.wire_len()
        }
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        if !version.is_v5() {
            return;
        }
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

super::ack::impl_fit_within!(Disconnect);
