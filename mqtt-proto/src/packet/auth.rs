//! AUTH (MQTT 5.0 §3.15): enhanced authentication.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use super::ack::{check_reason_code, read_reason_code};
use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::properties::Properties;
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_bin, opt_str,
    read_properties, user_properties,
};
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::ProtocolVersion;
use crate::wire::{Reader, check_binary};

/// The properties of AUTH (MQTT 5.0 §3.15.2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthProperties {
    /// Authentication Method: the same one as in CONNECT ([MQTT-4.12.0-5]).
    pub authentication_method: Option<MqttString>,
    /// Authentication Data.
    pub authentication_data: Option<Bytes>,
    /// Reason String.
    pub reason_string: Option<MqttString>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl AuthProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == AuthProperties::default()
    }
}

impl PropertyList for AuthProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        opt_str(
            s,
            PropertyId::AuthenticationMethod,
            self.authentication_method.as_deref(),
        );
        opt_bin(
            s,
            PropertyId::AuthenticationData,
            self.authentication_data.as_ref(),
        );
        opt_str(s, PropertyId::ReasonString, self.reason_string.as_deref());
        user_properties(s, &self.user_properties);
    }
}

/// AUTH: one step of enhanced authentication (0x18 Continue authentication, 0x19
/// Re-authenticate, 0x00 Success).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// The authenticate reason code.
    pub reason_code: ReasonCode,
    /// Properties; the Authentication Method is required unless the packet is a bare
    /// Success.
    pub properties: Properties<AuthProperties>,
}

impl Auth {
    /// An AUTH step with `reason_code`, `method` and `data`.
    pub fn new(reason_code: ReasonCode, method: MqttString, data: Option<Bytes>) -> Auth {
        Auth {
            reason_code,
            properties: Properties::new(AuthProperties {
                authentication_method: Some(method),
                authentication_data: data,
                ..AuthProperties::default()
            }),
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Auth, DecodeError> {
        if !version.is_v5() {
            return Err(DecodeError::NotInVersion {
                packet_type: PacketType::Auth,
                version,
            });
        }
        let mut a = Auth::default();
        if r.remaining() == 0 {
            return Ok(a);
        }
        a.reason_code = read_reason_code(r, PacketType::Auth)?;
        let p = &mut a.properties;
        read_properties(r, PropertyContext::Packet(PacketType::Auth), |id, v| {
            match (id, v) {
                (PropertyId::AuthenticationMethod, Value::Str(s)) => {
                    p.authentication_method = Some(s)
                }
                (PropertyId::AuthenticationData, Value::Bin(b)) => p.authentication_data = Some(b),
                (PropertyId::ReasonString, Value::Str(s)) => p.reason_string = Some(s),
                (PropertyId::UserProperty, Value::Pair(u)) => p.user_properties.push(u),
                (property, _) => {
                    return Err(DecodeError::PropertyNotAllowed {
                        property,
                        packet: PacketType::Auth,
                    });
                }
            }
            Ok(())
        })?;
        if a.properties.authentication_method.is_none() {
            return Err(DecodeError::MissingAuthenticationMethod);
        }
        Ok(a)
    }
}

impl Body for Auth {
    fn first_byte(&self) -> u8 {
        0xF0
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if !version.is_v5() {
            return Err(not_in_v3("AUTH", version));
        }
        check_reason_code(self.reason_code, PacketType::Auth)?;
        let bare_success = self.reason_code == ReasonCode::Success && self.properties.is_empty();
        if !bare_success && self.properties.authentication_method.is_none() {
            // U5-32: every AUTH but the bare Success form carries the method.
            return Err(EncodeError::MissingAuthenticationMethod);
        }
        if let Some(b) = &self.properties.authentication_data {
            check_binary("authentication data", b)?;
            if self.properties.authentication_method.is_none() {
                return Err(EncodeError::AuthenticationDataWithoutMethod);
            }
        }
        Ok(())
    }

    fn body_len(&self, _: ProtocolVersion) -> usize {
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            0
        } else {
            1 + self.properties.wire_len()
        }
    }

    fn write_head(&self, _: ProtocolVersion, buf: &mut BytesMut) {
        if self.reason_code == ReasonCode::Success && self.properties.is_empty() {
            return;
        }
        buf.put_u8(self.reason_code.as_u8());
        let len = self.properties.content_len();
        self.properties.write(len, buf);
    }
}

super::ack::impl_fit_within!(Auth);
