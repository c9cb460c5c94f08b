//! SUBSCRIBE and SUBACK (MQTT §3.8, §3.9).

use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::ack::{AckProperties, check_reason_code};
use super::{Body, PacketType, not_in_v3};
use crate::error::{DecodeError, EncodeError};
use crate::packet_id::PacketId;
use crate::properties::Properties;
use crate::property::{
    PropertyContext, PropertyId, PropertyList, Sink, UserProperty, Value, read_properties,
    user_properties,
};
use crate::reason::ReasonCode;
use crate::topic::TopicFilter;
use crate::version::{ProtocolVersion, QoS};
use crate::wire::{MAX_VARIABLE_BYTE_INTEGER, Reader, put_str};

/// When the server sends retained messages for a new subscription (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send them only if the subscription did not exist before.
    SendIfNew = 1,
    /// 2: do not send retained messages at subscribe time.
    DoNotSend = 2,
}

/// The options of one subscription: the Requested QoS byte (3.1.1) or Subscription
/// Options byte (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// The maximum QoS the client wants messages delivered with.
    pub qos: QoS,
    /// No Local (5.0): do not send back messages this client published.
    pub no_local: bool,
    /// Retain As Published (5.0): keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// Retain Handling (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with this maximum QoS and every 5.0 option at its default.
    pub fn new(qos: QoS) -> SubscriptionOptions {
        SubscriptionOptions {
            qos,
            ..SubscriptionOptions::default()
        }
    }

    fn to_byte(self) -> u8 {
        self.qos.as_u8()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    fn from_byte(b: u8, version: ProtocolVersion) -> Result<SubscriptionOptions, DecodeError> {
        let bad = DecodeError::InvalidSubscriptionOptions(b);
        // 3.1.1: the upper six bits are reserved ([MQTT-3-8.3-4]); 5.0: the upper two
        // ([MQTT-3.8.3-5]).
        let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
        if b & reserved != 0 {
            return Err(bad);
        }
        let qos = QoS::from_u8(b & 0b11).ok_or(bad.clone())?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(bad),
        };
        Ok(SubscriptionOptions {
            qos,
            no_local: b & 0b100 != 0,
            retain_as_published: b & 0b1000 != 0,
            retain_handling,
        })
    }

    fn is_v3(self) -> bool {
        !self.no_local
            && !self.retain_as_published
            && self.retain_handling == RetainHandling::SendAtSubscribe
    }
}

/// One entry of a SUBSCRIBE: a topic filter and its options.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The topic filter.
    pub filter: TopicFilter,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription to `filter` with maximum QoS `qos`.
    pub fn new(filter: TopicFilter, qos: QoS) -> Subscription {
        Subscription {
            filter,
            options: SubscriptionOptions::new(qos),
        }
    }
}

/// The properties of SUBSCRIBE (MQTT 5.0 §3.8.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscribeProperties {
    /// Subscription Identifier, 1 to 268,435,455: delivered with every message these
    /// subscriptions match.
    pub subscription_identifier: Option<u32>,
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl SubscribeProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.subscription_identifier.is_none() && self.user_properties.is_empty()
    }
}

impl PropertyList for SubscribeProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        if let Some(id) = self.subscription_identifier {
            s.var(PropertyId::SubscriptionIdentifier, id);
        }
        user_properties(s, &self.user_properties);
    }
}

/// SUBSCRIBE: asks for one or more subscriptions ([MQTT-3.8.3-3]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier the SUBACK will echo.
    pub packet_id: PacketId,
    /// The subscriptions, at least one.
    pub subscriptions: Vec<Subscription>,
    /// MQTT 5.0 properties.
    pub properties: Properties<SubscribeProperties>,
}

impl Subscribe {
    /// A SUBSCRIBE with the given subscriptions and no properties.
    pub fn new(packet_id: PacketId, subscriptions: Vec<Subscription>) -> Subscribe {
        Subscribe {
            packet_id,
            subscriptions,
            properties: Properties::none(),
        }
    }

    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<Subscribe, DecodeError> {
        let packet_id =
            PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)?;
        let mut properties = Properties::<SubscribeProperties>::none();
        if version.is_v5() {
            read_properties(
                r,
                PropertyContext::Packet(PacketType::Subscribe),
                |id, v| {
                    match (id, v) {
                        (PropertyId::SubscriptionIdentifier, Value::Var(n)) => {
                            properties.subscription_identifier = Some(n)
                        }
                        (PropertyId::UserProperty, Value::Pair(p)) => {
                            properties.user_properties.push(p)
                        }
                        (property, _) => {
                            return Err(DecodeError::PropertyNotAllowed {
                                property,
                                packet: PacketType::Subscribe,
                            });
                        }
                    }
                    Ok(())
                },
            )?;
        }
        let mut subscriptions = Vec::with_capacity(count_entries(r, 1));
        while r.remaining() > 0 {
            let filter = TopicFilter::read(r, "topic filter")?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?, version)?;
            if options.no_local && filter.is_shared() {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            subscriptions.push(Subscription { filter, options });
        }
        if subscriptions.is_empty() {
            return Err(DecodeError::NoPayloadEntries(PacketType::Subscribe));
        }
        Ok(Subscribe {
            packet_id,
            subscriptions,
            properties,
        })
    }
}

/// How many payload entries the rest of `r` holds (each a filter's length prefix, the
/// filter and `extra` bytes), counted by stepping over the length prefixes (at most 64;
/// a malformed rest counts what fits, and the reading refuses it): an exact capacity for
/// the list, never more than the bytes present could hold, so no `Vec` grows.
pub(crate) fn count_entries(r: &Reader, extra: usize) -> usize {
    let rest = r.bytes().get(r.position()..).unwrap_or_default();
    let mut at = 0;
    let mut n = 0;
    while let [hi, lo, ..] = rest[at.min(rest.len())..] {
        at += 2 + usize::from(u16::from_be_bytes([hi, lo])) + extra;
        n += 1;
        if n == 64 {
            break;
        }
    }
    n.max(1)
}

impl Body for Subscribe {
    fn first_byte(&self) -> u8 {
        0x82
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.subscriptions.is_empty() {
            return Err(EncodeError::NoPayloadEntries(PacketType::Subscribe));
        }
        for s in &self.subscriptions {
            if s.options.no_local && s.filter.is_shared() {
                return Err(EncodeError::NoLocalOnSharedSubscription);
            }
            if !version.is_v5() && !s.options.is_v3() {
                return Err(not_in_v3(
                    "No Local, Retain As Published or Retain Handling",
                    version,
                ));
            }
        }
        if version.is_v5() {
            if let Some(id) = self.properties.subscription_identifier
                && (id == 0 || id > MAX_VARIABLE_BYTE_INTEGER)
            {
                return Err(EncodeError::InvalidPropertyValue {
                    property: PropertyId::SubscriptionIdentifier,
                    value: id,
                });
            }
        } else if !self.properties.is_empty() {
            return Err(not_in_v3("SUBSCRIBE properties", version));
        }
        Ok(())
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        let mut n = 2;
        if version.is_v5() {
            n += self.properties.wire_len();
        }
        n + self
            .subscriptions
            .iter()
            .map(|s| 3 + s.filter.len())
            .sum::<usize>()
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
        }
        for s in &self.subscriptions {
            put_str(buf, &s.filter);
            buf.put_u8(s.options.to_byte());
        }
    }
}

/// SUBACK: one reason code per requested subscription, in order ([MQTT-3.9.3-1]).
///
/// Under 3.1 / 3.1.1 the return codes decode to Granted QoS 0/1/2 or 0x80 Unspecified
/// error, and any failure code encodes as 0x80.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// The granted QoS or the failure, per subscription.
    pub reason_codes: Vec<ReasonCode>,
    /// MQTT 5.0 properties.
    pub properties: Properties<AckProperties>,
}

impl SubAck {
    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<SubAck, DecodeError> {
        let packet_id =
            PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)?;
        let properties = if version.is_v5() {
            AckProperties::read(r, PacketType::SubAck)?
        } else {
            Properties::none()
        };
        let reason_codes = read_reason_codes(r, PacketType::SubAck, version)?;
        Ok(SubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }
}

/// Reads the list of reason codes that ends a SUBACK or a 5.0 UNSUBACK.
pub(crate) fn read_reason_codes(
    r: &mut Reader,
    packet: PacketType,
    version: ProtocolVersion,
) -> Result<Vec<ReasonCode>, DecodeError> {
    let mut codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        let raw = r.u8("reason code")?;
        let code = if version.is_v5() {
            ReasonCode::from_u8(raw).filter(|c| c.is_allowed_in(packet))
        } else {
            ReasonCode::from_v3_suback(raw)
        };
        codes.push(code.ok_or(DecodeError::InvalidReasonCode {
            packet_type: packet,
            code: raw,
        })?);
    }
    if codes.is_empty() {
        return Err(DecodeError::NoPayloadEntries(packet));
    }
    Ok(codes)
}

/// Checks the reason codes of a SUBACK or UNSUBACK to be sent.
pub(crate) fn check_reason_codes(
    codes: &[ReasonCode],
    packet: PacketType,
    properties: &AckProperties,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    if codes.is_empty() {
        return Err(EncodeError::NoPayloadEntries(packet));
    }
    if version.is_v5() {
        codes.iter().try_for_each(|&c| check_reason_code(c, packet))
    } else if !properties.is_empty() {
        Err(not_in_v3("acknowledgement properties", version))
    } else {
        Ok(())
    }
}

impl Body for SubAck {
    fn first_byte(&self) -> u8 {
        0x90
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        check_reason_codes(
            &self.reason_codes,
            PacketType::SubAck,
            &self.properties,
            version,
        )
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        let props = if version.is_v5() {
            self.properties.wire_len()
        } else {
            0
        };
        2 + props + self.reason_codes.len()
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
            for c in &self.reason_codes {
                buf.put_u8(c.as_u8());
            }
        } else {
            for c in &self.reason_codes {
                buf.put_u8(c.to_v3_suback());
            }
        }
    }
}

super::ack::impl_fit_within!(SubAck);

#[cfg(test)]
mod tests {
    use super::count_entries;
    use crate::wire::Reader;
    use bytes::Bytes;

    /// Entries of a SUBSCRIBE payload: length prefix, filter, options byte.
    fn payload(filters: &[&str]) -> Bytes {
        let mut b = Vec::new();
        for f in filters {
            b.extend_from_slice(&(f.len() as u16).to_be_bytes());
            b.extend_from_slice(f.as_bytes());
            b.push(1);
        }
        Bytes::from(b)
    }

    #[test]
    fn the_list_capacity_is_the_exact_number_of_entries() {
        for filters in [
            &["a"][..],
            &["devices/+/telemetry", "alerts/#", "$share/workers/jobs/+"],
            &["x", "a-much-longer-filter/with/levels", "y", "z"],
        ] {
            let r = Reader::new_at(payload(filters), 0, false);
            assert_eq!(count_entries(&r, 1), filters.len(), "{filters:?}");
        }
    }

    #[test]
    fn a_malformed_or_huge_list_counts_only_what_its_bytes_hold() {
        // A length prefix past the end: one entry (the read then refuses it).
        let r = Reader::new_at(Bytes::from_static(&[0xFF, 0xFF, b'a']), 0, false);
        assert_eq!(count_entries(&r, 1), 1);
        // Nothing left: still a capacity of one.
        let r = Reader::new_at(Bytes::new(), 0, false);
        assert_eq!(count_entries(&r, 1), 1);
        // 1000 one-byte filters: capped at 64, never in proportion to a length field.
        let many = vec!["f"; 1000];
        let r = Reader::new_at(payload(&many), 0, false);
        assert_eq!(count_entries(&r, 1), 64);
    }
}
