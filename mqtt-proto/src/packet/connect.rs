//! CONNECT (MQTT §3.1) and the Will Message it may carry.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};
use core::num::{NonZeroU16, NonZeroU32};

use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError, TopicError};
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_bin, opt_bool,
    opt_four, opt_str, opt_two, read_properties, user_properties,
};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::version::{ProtocolVersion, QoS};
use crate::wire::{Reader, check_binary, put_binary, put_str};

/// CONNECT: the first packet a client sends on a connection ([MQTT-3.1.0-1]).
///
/// Its protocol version is a field: encoding uses it (whatever version is passed), and
/// decoding reads it from the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version this CONNECT asks for.
    pub protocol_version: ProtocolVersion,
    /// Clean Session (3.1.1) / Clean Start (5.0).
    pub clean_start: bool,
    /// Keep Alive in seconds; 0 turns keep-alive off.
    pub keep_alive: u16,
    /// The client identifier; may be empty ([MQTT-3.1.3-3]).
    pub client_id: MqttString,
    /// The Will Message, published by the server if the connection ends abnormally.
    pub will: Option<Will>,
    /// The user name.
    pub user_name: Option<MqttString>,
    /// The password (binary data).
    pub password: Option<Bytes>,
    /// MQTT 5.0 properties.
    pub properties: ConnectProperties,
}

/// A Will Message (CONNECT payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// The topic the Will is published to.
    pub topic: TopicName,
    /// The Will payload (binary data, at most 65,535 bytes).
    pub payload: Bytes,
    /// The QoS it is published with.
    pub qos: QoS,
    /// Whether it is published retained.
    pub retain: bool,
    /// MQTT 5.0 Will Properties.
    pub properties: WillProperties,
}

impl Will {
    /// A QoS 0, non-retained Will Message.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Will {
        Will {
            topic,
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: WillProperties::default(),
        }
    }
}

/// The properties of CONNECT (MQTT 5.0 §3.1.2.11).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectProperties {
    /// Session Expiry Interval in seconds (absent means 0; `u32::MAX` never expires).
    pub session_expiry_interval: Option<u32>,
    /// Receive Maximum: how many QoS 1/2 PUBLISHes the client takes unacknowledged.
    pub receive_maximum: Option<NonZeroU16>,
    /// Maximum Packet Size the client accepts.
    pub maximum_packet_size: Option<NonZeroU32>,
    /// Topic Alias Maximum: the highest alias the server may send.
    pub topic_alias_maximum: Option<u16>,
    /// Request Response Information.
    pub request_response_information: Option<bool>,
    /// Request Problem Information.
    pub request_problem_information: Option<bool>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Authentication Method for enhanced authentication.
    pub authentication_method: Option<MqttString>,
    /// Authentication Data.
    pub authentication_data: Option<Bytes>,
}

impl ConnectProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == ConnectProperties::default()
    }

    fn apply(&mut self, id: PropertyId, v: Value) -> Result<(), DecodeError> {
        match (id, v) {
            (PropertyId::SessionExpiryInterval, Value::Four(n)) => {
                self.session_expiry_interval = Some(n)
            }
            (PropertyId::ReceiveMaximum, Value::Two(n)) => {
                self.receive_maximum = NonZeroU16::new(n)
            }
            (PropertyId::MaximumPacketSize, Value::Four(n)) => {
                self.maximum_packet_size = NonZeroU32::new(n)
            }
            (PropertyId::TopicAliasMaximum, Value::Two(n)) => self.topic_alias_maximum = Some(n),
            (PropertyId::RequestResponseInformation, Value::Byte(b)) => {
                self.request_response_information = Some(b == 1)
            }
            (PropertyId::RequestProblemInformation, Value::Byte(b)) => {
                self.request_problem_information = Some(b == 1)
            }
            (PropertyId::UserProperty, Value::Pair(p)) => self.user_properties.push(p),
            (PropertyId::AuthenticationMethod, Value::Str(s)) => {
                self.authentication_method = Some(s)
            }
            (PropertyId::AuthenticationData, Value::Bin(b)) => self.authentication_data = Some(b),
            (property, _) => {
                return Err(DecodeError::PropertyNotAllowed {
                    property,
                    packet: PacketType::Connect,
                });
            }
        }
        Ok(())
    }
}

impl PropertyList for ConnectProperties {
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
        opt_four(
            s,
            PropertyId::MaximumPacketSize,
            self.maximum_packet_size.map(NonZeroU32::get),
        );
        opt_two(s, PropertyId::TopicAliasMaximum, self.topic_alias_maximum);
        opt_bool(
            s,
            PropertyId::RequestResponseInformation,
            self.request_response_information,
        );
        opt_bool(
            s,
            PropertyId::RequestProblemInformation,
            self.request_problem_information,
        );
        user_properties(s, &self.user_properties);
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

/// The Will Properties in a CONNECT payload (MQTT 5.0 §3.1.3.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WillProperties {
    /// Will Delay Interval in seconds.
    pub will_delay_interval: Option<u32>,
    /// Payload Format Indicator: `Some(true)` says the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content Type.
    pub content_type: Option<MqttString>,
    /// Response Topic.
    pub response_topic: Option<TopicName>,
    /// Correlation Data.
    pub correlation_data: Option<Bytes>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl WillProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        *self == WillProperties::default()
    }

    fn apply(&mut self, id: PropertyId, v: Value) -> Result<(), DecodeError> {
        match (id, v) {
            (PropertyId::WillDelayInterval, Value::Four(n)) => self.will_delay_interval = Some(n),
            (PropertyId::PayloadFormatIndicator, Value::Byte(b)) => {
                self.payload_format_indicator = Some(b == 1)
            }
            (PropertyId::MessageExpiryInterval, Value::Four(n)) => {
                self.message_expiry_interval = Some(n)
            }
            (PropertyId::ContentType, Value::Str(s)) => self.content_type = Some(s),
            (PropertyId::ResponseTopic, Value::Str(s)) => {
                self.response_topic =
                    Some(TopicName::try_from(s).map_err(DecodeError::InvalidTopicName)?)
            }
            (PropertyId::CorrelationData, Value::Bin(b)) => self.correlation_data = Some(b),
            (PropertyId::UserProperty, Value::Pair(p)) => self.user_properties.push(p),
            (property, _) => {
                return Err(DecodeError::PropertyNotAllowed {
                    property,
                    packet: PacketType::Connect,
                });
            }
        }
        Ok(())
    }
}

impl PropertyList for WillProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        opt_four(s, PropertyId::WillDelayInterval, self.will_delay_interval);
        opt_bool(
            s,
            PropertyId::PayloadFormatIndicator,
            self.payload_format_indicator,
        );
        opt_four(
            s,
            PropertyId::MessageExpiryInterval,
            self.message_expiry_interval,
        );
        opt_str(s, PropertyId::ContentType, self.content_type.as_deref());
        opt_str(s, PropertyId::ResponseTopic, self.response_topic.as_deref());
        opt_bin(
            s,
            PropertyId::CorrelationData,
            self.correlation_data.as_ref(),
        );
        user_properties(s, &self.user_properties);
    }
}

const FLAG_RESERVED: u8 = 0x01;
const FLAG_CLEAN: u8 = 0x02;
const FLAG_WILL: u8 = 0x04;
const FLAG_WILL_RETAIN: u8 = 0x20;
const FLAG_PASSWORD: u8 = 0x40;
const FLAG_USER_NAME: u8 = 0x80;

impl Connect {
    /// A CONNECT for `protocol_version` with clean start, a 60 s keep alive, the given
    /// client identifier and nothing else.
    pub fn new(protocol_version: ProtocolVersion, client_id: MqttString) -> Connect {
        Connect {
            protocol_version,
            clean_start: true,
            keep_alive: 60,
            client_id,
            will: None,
            user_name: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= FLAG_CLEAN;
        }
        if let Some(will) = &self.will {
            flags |= FLAG_WILL | (will.qos.as_u8() << 3);
            if will.retain {
                flags |= FLAG_WILL_RETAIN;
            }
        }
        if self.password.is_some() {
            flags |= FLAG_PASSWORD;
        }
        if self.user_name.is_some() {
            flags |= FLAG_USER_NAME;
        }
        flags
    }

    pub(crate) fn read(r: &mut Reader) -> Result<Connect, DecodeError> {
        let name = r.string("protocol name")?;
        let level = r.u8("protocol level")?;
        let version = ProtocolVersion::from_level(level)
            .ok_or(DecodeError::UnsupportedProtocolLevel(level))?;
        if *name != *version.protocol_name() {
            return Err(DecodeError::InvalidProtocolName);
        }
        let flags = r.u8("connect flags")?;
        if flags & FLAG_RESERVED != 0 {
            return Err(DecodeError::InvalidConnectFlags("reserved bit 0 is set"));
        }
        let will_flag = flags & FLAG_WILL != 0;
        let will_qos = (flags >> 3) & 0b11;
        let will_retain = flags & FLAG_WILL_RETAIN != 0;
        if !will_flag && (will_qos != 0 || will_retain) {
            return Err(DecodeError::InvalidConnectFlags(
                "Will QoS or Will Retain set without the Will Flag",
            ));
        }
        let will_qos =
            QoS::from_u8(will_qos).ok_or(DecodeError::InvalidConnectFlags("Will QoS is 3"))?;
        let has_user_name = flags & FLAG_USER_NAME != 0;
        let has_password = flags & FLAG_PASSWORD != 0;
        if has_password && !has_user_name && !version.is_v5() {
            return Err(DecodeError::InvalidConnectFlags(
                "Password Flag set without the User Name Flag",
            ));
        }
        let keep_alive = r.u16("keep alive")?;
        let mut properties = ConnectProperties::default();
        if version.is_v5() {
            read_properties(r, PropertyContext::Packet(PacketType::Connect), |id, v| {
                properties.apply(id, v)
            })?;
            if properties.authentication_data.is_some()
                && properties.authentication_method.is_none()
            {
                return Err(DecodeError::AuthenticationDataWithoutMethod);
            }
        }
        let client_id = r.string("client identifier")?;
        let will = if will_flag {
            let mut will_properties = WillProperties::default();
            if version.is_v5() {
                read_properties(r, PropertyContext::Will, |id, v| {
                    will_properties.apply(id, v)
                })?;
            }
            let topic = r.string("will topic")?;
            let topic = TopicName::try_from(topic).map_err(DecodeError::InvalidTopicName)?;
            Some(Will {
                topic,
                payload: r.binary("will payload")?,
                qos: will_qos,
                retain: will_retain,
                properties: will_properties,
            })
        } else {
            None
        };
        let user_name = if has_user_name {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if has_password {
            Some(r.binary("password")?)
        } else {
            None
        };
        Ok(Connect {
            protocol_version: version,
            clean_start: flags & FLAG_CLEAN != 0,
            keep_alive,
            client_id,
            will,
            user_name,
            password,
            properties,
        })
    }
}

impl Body for Connect {
    fn first_byte(&self) -> u8 {
        0x10
    }

    fn check(&self, _: ProtocolVersion) -> Result<(), EncodeError> {
        let version = self.protocol_version;
        if !version.is_enabled() {
            return Err(EncodeError::VersionNotEnabled { version });
        }
        if let Some(password) = &self.password {
            check_binary("password", password)?;
        }
        if let Some(will) = &self.will {
            check_binary("will payload", &will.payload)?;
            if will.topic.is_empty() {
                return Err(EncodeError::InvalidTopic(TopicError::Empty));
            }
            if will
                .properties
                .response_topic
                .as_ref()
                .is_some_and(|t| t.is_empty())
            {
                return Err(EncodeError::InvalidTopic(TopicError::Empty));
            }
            if let Some(b) = &will.properties.correlation_data {
                check_binary("will correlation data", b)?;
            }
        }
        if version.is_v5() {
            if let Some(b) = &self.properties.authentication_data {
                check_binary("authentication data", b)?;
                if self.properties.authentication_method.is_none() {
                    return Err(EncodeError::AuthenticationDataWithoutMethod);
                }
            }
            return Ok(());
        }
        if self.password.is_some() && self.user_name.is_none() {
            return Err(EncodeError::PasswordWithoutUserName);
        }
        if self.client_id.is_empty() && version == ProtocolVersion::V3_1 {
            // MQTT 3.1 requires a client identifier of 1 to 23 characters.
            return Err(not_in_v3("an empty client identifier", version));
        }
        if self.client_id.is_empty() && !self.clean_start {
            return Err(EncodeError::EmptyClientIdWithoutCleanSession);
        }
        if !self.properties.is_empty() {
            return Err(not_in_v3("CONNECT properties", version));
        }
        if self.will.as_ref().is_some_and(|w| !w.properties.is_empty()) {
            return Err(not_in_v3("Will Properties", version));
        }
        Ok(())
    }

    fn body_len(&self, _: ProtocolVersion) -> usize {
        let version = self.protocol_version;
        let mut n = 2 + version.protocol_name().len() + 1 + 1 + 2 + 2 + self.client_id.len();
        if version.is_v5() {
            n += self.properties.wire_len();
        }
        if let Some(will) = &self.will {
            if version.is_v5() {
                n += will.properties.wire_len();
            }
            n += 2 + will.topic.len() + 2 + will.payload.len();
        }
        if let Some(u) = &self.user_name {
            n += 2 + u.len();
        }
        if let Some(p) = &self.password {
            n += 2 + p.len();
        }
        n
    }

    fn write_head(&self, _: ProtocolVersion, buf: &mut BytesMut) {
        let version = self.protocol_version;
        put_str(buf, version.protocol_name());
        buf.put_u8(version.level());
        buf.put_u8(self.flags());
        buf.put_u16(self.keep_alive);
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
        }
        put_str(buf, &self.client_id);
        if let Some(will) = &self.will {
            if version.is_v5() {
                let len = will.properties.content_len();
                will.properties.write(len, buf);
            }
            put_str(buf, &will.topic);
            put_binary(buf, &will.payload);
        }
        if let Some(u) = &self.user_name {
            put_str(buf, u);
        }
        if let Some(p) = &self.password {
            put_binary(buf, p);
        }
    }
}
