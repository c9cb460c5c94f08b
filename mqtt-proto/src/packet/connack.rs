//! CONNACK (MQTT §3.2).

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};
use core::num::{NonZeroU16, NonZeroU32};

use super::ack::{check_reason_code, read_reason_code};
use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_bin, opt_bool,
    opt_byte, opt_four, opt_str, opt_two, read_properties, user_properties,
};
use crate::reason::ReasonCode;
use crate::string::MqttString;
use crate::version::{ProtocolVersion, QoS};
use crate::wire::{Reader, check_binary};

/// CONNACK: the server's answer to CONNECT.
///
/// Under 3.1 / 3.1.1 the return code is decoded to the reason code of the same meaning
/// (1 -> 0x84 Unsupported Protocol Version, 2 -> 0x85, 3 -> 0x88, 4 -> 0x86, 5 -> 0x87).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Session Present: the server resumed a session it held for this client.
    pub session_present: bool,
    /// The connect reason code (0x00 accepted, 0x80 and above refused).
    pub reason_code: ReasonCode,
    /// MQTT 5.0 properties: the server's limits and abilities.
    pub properties: ConnAckProperties,
}

/// The properties of CONNACK (MQTT 5.0 §3.2.2.3). An absent property means the default
/// the specification gives, listed on each field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnAckProperties {
    /// Session Expiry Interval the server uses (absent: the client's value).
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum of the server (absent: 65,535).
    pub receive_maximum: Option<NonZeroU16>,
    /// Maximum QoS the server supports, 0 or 1 (absent: 2).
    pub maximum_qos: Option<QoS>,
    /// Retain Available (absent: true).
    pub retain_available: Option<bool>,
    /// Maximum Packet Size the server accepts (absent: no limit but the protocol's).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// Assigned Client Identifier, for a CONNECT with an empty one.
    pub assigned_client_identifier: Option<MqttString>,
    /// Topic Alias Maximum the server accepts (absent: 0, no aliases).
    pub topic_alias_maximum: Option<u16>,
    /// Reason String.
    pub reason_string: Option<MqttString>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Wildcard Subscription Available (absent: true).
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription Identifier Available (absent: true).
    pub subscription_identifier_available: Option<bool>,
    /// Shared Subscription Available (absent: true).
    pub shared_subscription_available: Option<bool>,
    /// Server Keep Alive: replaces the client's Keep Alive ([MQTT-3.1.2-21]).
    pub server_keep_alive: Option<u16>,
    /// Response Information, the basis of a Response Topic.
    pub response_information: Option<MqttString>,
    /// Server Reference: another server to use (with 0x9C / 0x9D).
    pub server_reference: Option<MqttString>,
    /// Authentication Method.
    pub authentication_method: Option<MqttString>,
    /// Authentication Data.
    pub authentication_data: Option<Bytes>,
}

impl ConnAckProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == ConnAckProperties::default()
    }

    fn apply(&mut self, id: PropertyId, v: Value) -> Result<(), DecodeError> {
        match (id, v) {
            (PropertyId::SessionExpiryInterval, Value::Four(n)) => {
                self.session_expiry_interval = Some(n)
            }
            (PropertyId::ReceiveMaximum, Value::Two(n)) => {
                self.receive_maximum = NonZeroU16::new(n)
            }
            (PropertyId::MaximumQoS, Value::Byte(b)) => self.maximum_qos = QoS::from_u8(b),
            (PropertyId::RetainAvailable, Value::Byte(b)) => self.retain_available = Some(b == 1),
            (PropertyId::MaximumPacketSize, Value::Four(n)) => {
                self.maximum_packet_size = NonZeroU32::new(n)
            }
            (PropertyId::AssignedClientIdentifier, Value::Str(s)) => {
                self.assigned_client_identifier = Some(s)
            }
            (PropertyId::TopicAliasMaximum, Value::Two(n)) => self.topic_alias_maximum = Some(n),
            (PropertyId::ReasonString, Value::Str(s)) => self.reason_string = Some(s),
            (PropertyId::UserProperty, Value::Pair(p)) => self.user_properties.push(p),
            (PropertyId::WildcardSubscriptionAvailable, Value::Byte(b)) => {
                self.wildcard_subscription_available = Some(b == 1)
            }
            (PropertyId::SubscriptionIdentifierAvailable, Value::Byte(b)) => {
                self.subscription_identifier_available = Some(b == 1)
            }
            (PropertyId::SharedSubscriptionAvailable, Value::Byte(b)) => {
                self.shared_subscription_available = Some(b == 1)
            }
            (PropertyId::ServerKeepAlive, Value::Two(n)) => self.server_keep_alive = Some(n),
            (PropertyId::ResponseInformation, Value::Str(s)) => self.response_information = Some(s),
            (PropertyId::ServerReference, Value::Str(s)) => self.server_reference = Some(s),
            (PropertyId::AuthenticationMethod, Value::Str(s)) => {
                self.authentication_method = Some(s)
            }
            (PropertyId::AuthenticationData, Value::Bin(b)) => self.authentication_data = Some(b),
            (property, _) => {
                return Err(DecodeError::PropertyNotAllowed {
                    property,
                    packet: PacketType::ConnAck,
                });
            }
        }
        Ok(())
    }
}

impl PropertyList for ConnAckProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        opt_four(
            s,
            PropertyId::SessionExpiryInterval,
            self.session_expiry_interval,
        );
        opt_two(
            s,
            PropertyId::ReceiveMaximum,
            self.receive_maximum.map(NonZeroU16::get),
        );
        opt_byte(s, PropertyId::MaximumQoS, self.maximum_qos.map(QoS::as_u8));
        opt_bool(s, PropertyId::RetainAvailable, self.retain_available);
        opt_four(
            s,
            PropertyId::MaximumPacketSize,
            self.maximum_packet_size.map(NonZeroU32::get),
        );
        opt_str(
            s,
            PropertyId::AssignedClientIdentifier,
            self.assigned_client_identifier.as_deref(),
        );
        opt_two(s, PropertyId::TopicAliasMaximum, self.topic_alias_maximum);
        opt_str(s, PropertyId::ReasonString, self.reason_string.as_deref());
        user_properties(s, &self.user_properties);
        opt_bool(
            s,
            PropertyId::WildcardSubscriptionAvailable,
            self.wildcard_subscription_available,
        );
        opt_bool(
            s,
            PropertyId::SubscriptionIdentifierAvailable,
            self.subscription_identifier_available,
        );
        opt_bool(
            s,
            PropertyId::SharedSubscriptionAvailable,
            self.shared_subscription_available,
        );
        opt_two(s, PropertyId::ServerKeepAlive, self.server_keep_alive);
        opt_str(
            s,
            PropertyId::ResponseInformation,
            self.response_information.as_deref(),
        );
        opt_str(
            s,
            PropertyId::ServerReference,
            self.server_reference.as_deref(),
        );
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
    }
}

impl ConnAck {
    /// A CONNACK with `reason_code`, no session and no properties.
    pub fn new(reason_code: ReasonCode) -> ConnAck {
        ConnAck {
            session_present: false,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<ConnAck, DecodeError> {
        let flags = r.u8("connect acknowledge flags")?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::InvalidConnAckFlags(flags));
        }
        // MQTT 3.1 has no Session Present: the byte is unused there.
        let session_present = flags & 1 != 0 && version != ProtocolVersion::V3_1;
        let reason_code = if version.is_v5() {
            read_reason_code(r, PacketType::ConnAck)?
        } else {
            let raw = r.u8("connect return code")?;
            ReasonCode::from_v3_connack(raw).ok_or(DecodeError::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code: raw,
            })?
        };
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::InvalidConnAckFlags(flags));
        }
        let mut properties = ConnAckProperties::default();
        if version.is_v5() {
            read_properties(r, PropertyContext::Packet(PacketType::ConnAck), |id, v| {
                properties.apply(id, v)
            })?;
            if properties.authentication_data.is_some()
                && properties.authentication_method.is_none()
            {
                return Err(DecodeError::AuthenticationDataWithoutMethod);
            }
        }
        Ok(ConnAck {
            session_present,
            reason_code,
            properties,
        })
    }
}

impl Body for ConnAck {
    fn first_byte(&self) -> u8 {
        0x20
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.session_present && self.reason_code != ReasonCode::Success {
            // v3.1.1 [MQTT-3.2.2-4] / v5 [MQTT-3.2.2-6]: a refusal has Session Present 0.
            return Err(EncodeError::InvalidReasonCode {
                packet_type: PacketType::ConnAck,
                code: self.reason_code,
            });
        }
        if version == ProtocolVersion::V3_1 && self.session_present {
            return Err(not_in_v3("Session Present", version));
        }
        if !version.is_v5() {
            if self.reason_code.to_v3_connack().is_none() {
                return Err(not_in_v3("this CONNACK reason code", version));
            }
            if !self.properties.is_empty() {
                return Err(not_in_v3("CONNACK properties", version));
            }
            return Ok(());
        }
        check_reason_code(self.reason_code, PacketType::ConnAck)?;
        if self.properties.maximum_qos == Some(QoS::ExactlyOnce) {
            return Err(EncodeError::InvalidPropertyValue {
                property: PropertyId::MaximumQoS,
                value: 2,
            });
        }
        if let Some(b) = &self.properties.authentication_data {
            check_binary("authentication data", b)?;
            if self.properties.authentication_method.is_none() {
                return Err(EncodeError::AuthenticationDataWithoutMethod);
            }
        }
        Ok(())
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.wire_len()
        } else {
            2
        }
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            buf.put_u8(self.reason_code.as_u8());
            let len = self.properties.content_len();
            self.properties.write(len, buf);
        } else {
            buf.put_u8(self.reason_code.to_v3_connack().unwrap_or(0x03));
        }
    }
}

super::ack::impl_fit_within!(ConnAck);
