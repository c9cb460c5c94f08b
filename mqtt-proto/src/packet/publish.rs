//! PUBLISH (MQTT §3.3).

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};
use core::num::NonZeroU16;

use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::packet_id::PacketId;
use crate::properties::Properties;
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, opt_bin, opt_bool,
    opt_four, opt_str, opt_two, read_properties, user_properties,
};
use crate::string::MqttString;
use crate::topic::TopicName;
use crate::version::{ProtocolVersion, QoS};
use crate::wire::{MAX_VARIABLE_BYTE_INTEGER, Reader, check_binary, put_str, put_var_int};

/// PUBLISH: an application message.
///
/// A decoded PUBLISH shares the received buffer: topic, payload and every property string
/// or binary field are slices of it.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{Encode, PacketId, ProtocolVersion, Publish, QoS, TopicName};
///
/// let publish = Publish::new(TopicName::from_static("a/b"), "hello")
///     .with_qos(QoS::AtLeastOnce, PacketId::new(10))
///     .with_retain(true);
/// let mut buf = BytesMut::new();
/// publish.encode(ProtocolVersion::V3_1_1, &mut buf).unwrap();
/// assert_eq!(&buf[..], b"\x33\x0c\x00\x03a/b\x00\x0ahello");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this is a re-delivery of an earlier attempt ([MQTT-3.3.1-1]); always false at
    /// QoS 0 ([MQTT-3.3.1-2]).
    pub dup: bool,
    /// The quality of service.
    pub qos: QoS,
    /// RETAIN: the server keeps the message for future subscribers.
    pub retain: bool,
    /// The topic name; empty only in a 5.0 PUBLISH that carries a Topic Alias.
    pub topic: TopicName,
    /// The packet identifier: present exactly when QoS is 1 or 2 ([MQTT-2.3.1-1],
    /// [MQTT-2.3.1-5]).
    pub packet_id: Option<PacketId>,
    /// The application message.
    pub payload: Bytes,
    /// MQTT 5.0 properties.
    pub properties: Properties<PublishProperties>,
}

/// The properties of a PUBLISH (MQTT 5.0 §3.3.2.3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishProperties {
    /// Payload Format Indicator: `Some(true)` says the payload is UTF-8.
    pub payload_format_indicator: Option<bool>,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias (never 0, [MQTT-3.3.2-8]).
    pub topic_alias: Option<NonZeroU16>,
    /// Response Topic: makes this message a request ([MQTT-3.3.2-13], [MQTT-3.3.2-14]).
    pub response_topic: Option<TopicName>,
    /// Correlation Data for request/response.
    pub correlation_data: Option<Bytes>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
    /// Subscription Identifiers of the matching subscriptions (server to client only,
    /// [MQTT-3.3.4-6]).
    pub subscription_identifiers: Vec<u32>,
    /// Content Type ([MQTT-3.3.2-19]).
    pub content_type: Option<MqttString>,
}

impl PublishProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.topic_alias.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.user_properties.is_empty()
            && self.subscription_identifiers.is_empty()
            && self.content_type.is_none()
    }

    fn apply(&mut self, id: PropertyId, v: Value) -> Result<(), DecodeError> {
        match (id, v) {
            (PropertyId::PayloadFormatIndicator, Value::Byte(b)) => {
                self.payload_format_indicator = Some(b == 1)
            }
            (PropertyId::MessageExpiryInterval, Value::Four(n)) => {
                self.message_expiry_interval = Some(n)
            }
            (PropertyId::TopicAlias, Value::Two(n)) => self.topic_alias = NonZeroU16::new(n),
            (PropertyId::ResponseTopic, Value::Str(s)) => {
                self.response_topic =
                    Some(TopicName::try_from(s).map_err(DecodeError::InvalidTopicName)?)
            }
            (PropertyId::CorrelationData, Value::Bin(b)) => self.correlation_data = Some(b),
            (PropertyId::UserProperty, Value::Pair(p)) => self.user_properties.push(p),
            (PropertyId::SubscriptionIdentifier, Value::Var(n)) => {
                self.subscription_identifiers.push(n)
            }
            (PropertyId::ContentType, Value::Str(s)) => self.content_type = Some(s),
            (property, _) => {
                return Err(DecodeError::PropertyNotAllowed {
                    property,
                    packet: PacketType::Publish,
                });
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), EncodeError> {
        if self.response_topic.as_ref().is_some_and(|t| t.is_empty()) {
            // [MQTT-3.3.2-13] / [MQTT-4.7.3-1]: a Response Topic is a full topic name.
            return Err(EncodeError::InvalidTopic(crate::error::TopicError::Empty));
        }
        if let Some(b) = &self.correlation_data {
            check_binary("Correlation Data", b)?;
        }
        for &id in &self.subscription_identifiers {
            if id == 0 || id > MAX_VARIABLE_BYTE_INTEGER {
                return Err(EncodeError::InvalidPropertyValue {
                    property: PropertyId::SubscriptionIdentifier,
                    value: id,
                });
            }
        }
        Ok(())
    }
}

impl PropertyList for PublishProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
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
        opt_two(
            s,
            PropertyId::TopicAlias,
            self.topic_alias.map(NonZeroU16::get),
        );
        opt_str(s, PropertyId::ResponseTopic, self.response_topic.as_deref());
        opt_bin(
            s,
            PropertyId::CorrelationData,
            self.correlation_data.as_ref(),
        );
        user_properties(s, &self.user_properties);
        for &id in &self.subscription_identifiers {
            s.var(PropertyId::SubscriptionIdentifier, id);
        }
        opt_str(s, PropertyId::ContentType, self.content_type.as_deref());
    }
}

impl Publish {
    /// A QoS 0, non-retained PUBLISH of `payload` to `topic`.
    pub fn new(topic: TopicName, payload: impl Into<Bytes>) -> Publish {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic,
            packet_id: None,
            payload: payload.into(),
            properties: Properties::none(),
        }
    }

    /// Sets the QoS and the packet identifier that goes with it (`None` for QoS 0).
    pub fn with_qos(mut self, qos: QoS, packet_id: Option<PacketId>) -> Publish {
        self.qos = qos;
        self.packet_id = packet_id;
        self
    }

    /// Sets the RETAIN flag.
    pub fn with_retain(mut self, retain: bool) -> Publish {
        self.retain = retain;
        self
    }

    /// Sets the properties.
    pub fn with_properties(mut self, properties: PublishProperties) -> Publish {
        self.properties = Properties::new(properties);
        self
    }

    pub(crate) fn read(
        r: &mut Reader,
        flags: u8,
        version: ProtocolVersion,
    ) -> Result<Publish, DecodeError> {
        let head = PublishHead::read(flags, r.bytes(), r.position())?;
        let topic =
            TopicName::from_wire(r.slice(head.topic.0, head.topic.1)).map_err(topic_error)?;
        r.skip_to(head.end);
        let mut properties = Properties::<PublishProperties>::none();
        if version.is_v5() {
            properties = PublishProperties::read(r)?;
        }
        check_topic_or_alias(topic.is_empty(), &properties, version)?;
        Ok(Publish {
            dup: head.dup,
            qos: head.qos,
            retain: head.retain,
            topic,
            packet_id: head.packet_id,
            payload: r.rest(),
            properties,
        })
    }
}

impl PublishProperties {
    /// Reads a PUBLISH's Property Length and properties.
    pub(crate) fn read(r: &mut Reader) -> Result<Properties<PublishProperties>, DecodeError> {
        let mut properties = Properties::<PublishProperties>::none();
        read_properties(r, PropertyContext::Packet(PacketType::Publish), |id, v| {
            properties.get_mut().apply(id, v)
        })?;
        Ok(properties)
    }
}

/// What a PUBLISH body holds before its properties, read from a byte slice: the one
/// parser behind [`Publish`] and [`PublishView`](crate::view::PublishView).
pub(crate) struct PublishHead {
    pub(crate) dup: bool,
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
    /// Where the topic's bytes are (start, end), checked for U+0000 and wildcards but not
    /// yet for UTF-8 (each caller does that once, on its own string type).
    pub(crate) topic: (usize, usize),
    pub(crate) packet_id: Option<PacketId>,
    /// Where the properties (5.0) or the payload (3.x) start.
    pub(crate) end: usize,
}

impl PublishHead {
    /// Reads the head of a PUBLISH whose fixed header had `flags`, from `bytes[start..]`.
    #[inline]
    pub(crate) fn read(flags: u8, bytes: &[u8], start: usize) -> Result<PublishHead, DecodeError> {
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(DecodeError::InvalidQoS)?;
        let dup = flags & 0b1000 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupWithQoS0);
        }
        let end_of = |at: usize, n: usize, field| {
            at.checked_add(n)
                .filter(|&end| end <= bytes.len())
                .ok_or(DecodeError::UnexpectedEnd { field })
        };
        let len_end = end_of(start, 2, "topic name")?;
        let len = usize::from(u16::from_be_bytes([bytes[start], bytes[start + 1]]));
        let topic_end = end_of(len_end, len, "topic name")?;
        crate::topic::check_wire(&bytes[len_end..topic_end]).map_err(topic_error)?;
        let (packet_id, end) = if qos == QoS::AtMostOnce {
            (None, topic_end)
        } else {
            let end = end_of(topic_end, 2, "packet identifier")?;
            let id = u16::from_be_bytes([bytes[topic_end], bytes[topic_end + 1]]);
            (
                Some(PacketId::new(id).ok_or(DecodeError::ZeroPacketId)?),
                end,
            )
        };
        Ok(PublishHead {
            dup,
            qos,
            retain: flags & 1 != 0,
            topic: (len_end, topic_end),
            packet_id,
            end,
        })
    }
}

/// [MQTT-3.3.4-6]: a client never sends a Subscription Identifier, so a PUBLISH from one
/// that carries some is refused (the sender check of [`Packet::check_sender`](super::Packet::check_sender)
/// and of the borrowed view).
pub(crate) fn check_sender(
    properties: &Properties<PublishProperties>,
    sender: super::Role,
) -> Result<(), DecodeError> {
    if sender == super::Role::Client && !properties.subscription_identifiers.is_empty() {
        return Err(DecodeError::WrongSender {
            what: "a Subscription Identifier in PUBLISH",
        });
    }
    Ok(())
}

/// A topic name's refusal as the decode error that names the field.
pub(crate) fn topic_error(e: crate::error::TopicError) -> DecodeError {
    match e {
        crate::error::TopicError::String(error) => DecodeError::InvalidString {
            field: "topic name",
            error,
        },
        other => DecodeError::InvalidTopicName(other),
    }
}

/// An empty topic is allowed only in a 5.0 PUBLISH that carries a Topic Alias
/// ([MQTT-3.3.2-1], [MQTT-3.3.2-8]).
pub(crate) fn check_topic_or_alias(
    topic_empty: bool,
    properties: &Properties<PublishProperties>,
    version: ProtocolVersion,
) -> Result<(), DecodeError> {
    if topic_empty && properties.topic_alias.is_none() {
        return Err(if version.is_v5() {
            DecodeError::EmptyTopicWithoutAlias
        } else {
            DecodeError::InvalidTopicName(crate::error::TopicError::Empty)
        });
    }
    Ok(())
}

impl Body for Publish {
    #[inline]
    fn first_byte(&self) -> u8 {
        0x30 | (u8::from(self.dup) << 3) | (self.qos.as_u8() << 1) | u8::from(self.retain)
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        match (self.qos, self.packet_id) {
            (QoS::AtMostOnce, Some(_)) => return Err(EncodeError::UnexpectedPacketId),
            (QoS::AtMostOnce, None) if self.dup => return Err(EncodeError::DupWithQoS0),
            (QoS::AtLeastOnce | QoS::ExactlyOnce, None) => {
                return Err(EncodeError::MissingPacketId);
            }
            _ => {}
        }
        if version.is_v5() {
            if self.topic.is_empty() && self.properties.topic_alias.is_none() {
                return Err(EncodeError::EmptyTopicWithoutAlias);
            }
            self.properties
                .get()
                .map_or(Ok(()), PublishProperties::check)
        } else if self.topic.is_empty() {
            Err(EncodeError::EmptyTopicWithoutAlias)
        } else if !self.properties.is_empty() {
            Err(not_in_v3("PUBLISH properties", version))
        } else {
            Ok(())
        }
    }

    #[inline]
    fn body_len(&self, version: ProtocolVersion) -> usize {
        let mut n = 2 + self.topic.len() + self.payload.len();
        if self.packet_id.is_some() {
            n += 2;
        }
        if version.is_v5() {
            n += self.properties.wire_len();
        }
        n
    }

    #[inline]
    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        put_str(buf, &self.topic);
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
        }
    }

    #[inline]
    fn payload(&self) -> Option<&Bytes> {
        Some(&self.payload)
    }

    /// No properties, a topic name, a packet identifier exactly when QoS > 0 and DUP only
    /// then: first byte, Remaining Length and topic length in one store (a body under
    /// 128 B), then the topic, the packet identifier (and 5.0's empty property list) and
    /// the payload.
    #[inline(always)]
    fn write_plain(
        &self,
        version: ProtocolVersion,
        maximum: usize,
        buf: &mut BytesMut,
        with_payload: bool,
    ) -> Option<usize> {
        let plain = !self.topic.is_empty()
            && self.properties.get().is_none()
            && match self.qos {
                QoS::AtMostOnce => self.packet_id.is_none() && !self.dup,
                QoS::AtLeastOnce | QoS::ExactlyOnce => self.packet_id.is_some(),
            };
        if !plain {
            return None;
        }
        let topic = self.topic.as_bytes();
        let v5 = version.is_v5();
        let id_len = if self.packet_id.is_some() { 2 } else { 0 };
        let body_len = 2 + topic.len() + id_len + usize::from(v5) + self.payload.len();
        let unwritten = if with_payload { 0 } else { self.payload.len() };
        let [len_hi, len_lo] = (topic.len() as u16).to_be_bytes();
        let size;
        if body_len < 128 {
            // A one-byte Remaining Length: no framing limit can be reached but `maximum`.
            size = 2 + body_len;
            if size > maximum {
                return None;
            }
            buf.reserve(size - unwritten);
            // First byte, one-byte Remaining Length and topic length: one store.
            buf.put_u32(u32::from_be_bytes([
                self.first_byte(),
                body_len as u8,
                len_hi,
                len_lo,
            ]));
        } else {
            size = super::framed_size(body_len, maximum).ok()?;
            buf.reserve(size - unwritten);
            buf.put_u8(self.first_byte());
            put_var_int(buf, body_len);
            buf.put_u16(topic.len() as u16);
        }
        buf.put_slice(topic);
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if v5 {
            buf.put_u8(0); // Property Length
        }
        if with_payload {
            buf.put_slice(&self.payload);
        }
        Some(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Encode;

    /// The fast path writes exactly what the general path writes. An allocated but empty
    /// property block sends the same packet down the general path.
    #[test]
    fn the_plain_path_writes_what_the_checked_path_writes() {
        let versions = [
            ProtocolVersion::V3_1,
            ProtocolVersion::V3_1_1,
            ProtocolVersion::V5,
        ];
        for version in versions {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                for (topic, payload_len) in [("t", 0), ("a/b", 16), ("x/y/z", 200), ("q", 20_000)] {
                    let id = (qos != QoS::AtMostOnce).then(|| PacketId::new(7).unwrap());
                    let plain = Publish::new(TopicName::from_static(topic), vec![1u8; payload_len])
                        .with_qos(qos, id)
                        .with_retain(payload_len == 16);
                    let mut checked = plain.clone();
                    checked.properties.get_mut();
                    let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
                    let n = plain.encode(version, &mut a).unwrap();
                    assert_eq!(checked.encode(version, &mut b).unwrap(), n);
                    assert_eq!(a, b, "{version} {qos:?} {topic} {payload_len}");
                    assert_eq!(n, a.len());
                    let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
                    let pa = plain.encode_vectored(version, usize::MAX, &mut a).unwrap();
                    let pb = checked
                        .encode_vectored(version, usize::MAX, &mut b)
                        .unwrap();
                    assert_eq!((a, pa), (b, pb));
                    // Over the maximum: both refuse, the same way.
                    assert_eq!(
                        plain.encode_within(version, n - 1, &mut BytesMut::new()),
                        checked.encode_within(version, n - 1, &mut BytesMut::new())
                    );
                }
            }
        }
    }
}
