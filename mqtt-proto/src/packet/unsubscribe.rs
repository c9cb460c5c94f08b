//! UNSUBSCRIBE and UNSUBACK (MQTT §3.10, §3.11).

use alloc::vec::Vec;
use bytes::{BufMut, BytesMut};

use super::ack::AckProperties;
use super::subscribe::{check_reason_codes, read_reason_codes};
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
use crate::version::ProtocolVersion;
use crate::wire::{Reader, put_str};

/// The properties of UNSUBSCRIBE (MQTT 5.0 §3.10.2.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnsubscribeProperties {
    /// User Properties, in order.
    pub user_properties: Vec<UserProperty>,
}

impl UnsubscribeProperties {
    /// Whether no property is set.
    pub fn is_empty(&self) -> bool {
        self.user_properties.is_empty()
    }
}

impl PropertyList for UnsubscribeProperties {
    fn visit<S: Sink>(&self, s: &mut S) {
        user_properties(s, &self.user_properties);
    }
}

/// UNSUBSCRIBE: removes subscriptions, named by the exact filters they were made with
/// ([MQTT-3.10.4-1]); at least one ([MQTT-3.10.3-2]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The packet identifier the UNSUBACK will echo.
    pub packet_id: PacketId,
    /// The topic filters, at least one.
    pub filters: Vec<TopicFilter>,
    /// MQTT 5.0 properties.
    pub properties: Properties<UnsubscribeProperties>,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE for the given filters, without properties.
    pub fn new(packet_id: PacketId, filters: Vec<TopicFilter>) -> Unsubscribe {
        Unsubscribe {
            packet_id,
            filters,
            properties: Properties::none(),
        }
    }

    pub(crate) fn read(
        r: &mut Reader,
        version: ProtocolVersion,
    ) -> Result<Unsubscribe, DecodeError> {
        let packet_id =
            PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)?;
        let mut properties = Properties::<UnsubscribeProperties>::none();
        if version.is_v5() {
            read_properties(
                r,
                PropertyContext::Packet(PacketType::Unsubscribe),
                |id, v| {
                    match (id, v) {
                        (PropertyId::UserProperty, Value::Pair(p)) => {
                            properties.user_properties.push(p)
                        }
                        (property, _) => {
                            return Err(DecodeError::PropertyNotAllowed {
                                property,
                                packet: PacketType::Unsubscribe,
                            });
                        }
                    }
                    Ok(())
                },
            )?;
        }
        let mut filters = Vec::with_capacity(super::subscribe::count_entries(r, 0));
        while r.remaining() > 0 {
            filters.push(TopicFilter::read(r, "topic filter")?);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoPayloadEntries(PacketType::Unsubscribe));
        }
        Ok(Unsubscribe {
            packet_id,
            filters,
            properties,
        })
    }
}

impl Body for Unsubscribe {
    fn first_byte(&self) -> u8 {
        0xA2
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoPayloadEntries(PacketType::Unsubscribe));
        }
        if !version.is_v5() && !self.properties.user_properties.is_empty() {
            return Err(not_in_v3("UNSUBSCRIBE properties", version));
        }
        Ok(())
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        let props = if version.is_v5() {
            self.properties.wire_len()
        } else {
            0
        };
        2 + props + self.filters.iter().map(|f| 2 + f.len()).sum::<usize>()
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
        }
        for f in &self.filters {
            put_str(buf, f);
        }
    }
}

/// UNSUBACK: under 5.0 one reason code per filter, in order ([MQTT-3.11.3-1]); under
/// 3.1.1 no reason codes at all (the list is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// One reason code per filter (5.0); empty under 3.1.1.
    pub reason_codes: Vec<ReasonCode>,
    /// MQTT 5.0 properties.
    pub properties: Properties<AckProperties>,
}

impl UnsubAck {
    pub(crate) fn read(r: &mut Reader, version: ProtocolVersion) -> Result<UnsubAck, DecodeError> {
        let packet_id =
            PacketId::new(r.u16("packet identifier")?).ok_or(DecodeError::ZeroPacketId)?;
        if !version.is_v5() {
            return Ok(UnsubAck {
                packet_id,
                reason_codes: Vec::new(),
                properties: Properties::none(),
            });
        }
        let properties = AckProperties::read(r, PacketType::UnsubAck)?;
        let reason_codes = read_reason_codes(r, PacketType::UnsubAck, version)?;
        Ok(UnsubAck {
            packet_id,
            reason_codes,
            properties,
        })
    }
}

impl Body for UnsubAck {
    fn first_byte(&self) -> u8 {
        0xB0
    }

    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError> {
        if version.is_v5() {
            check_reason_codes(
                &self.reason_codes,
                PacketType::UnsubAck,
                &self.properties,
                version,
            )
        } else if self.reason_codes.iter().any(|c| *c != ReasonCode::Success) {
            Err(not_in_v3("UNSUBACK reason codes", version))
        } else if !self.properties.is_empty() {
            Err(not_in_v3("UNSUBACK properties", version))
        } else {
            Ok(())
        }
    }

    fn body_len(&self, version: ProtocolVersion) -> usize {
        if version.is_v5() {
            2 + self.properties.wire_len() + self.reason_codes.len()
        } else {
            2
        }
    }

    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let len = self.properties.content_len();
            self.properties.write(len, buf);
            for c in &self.reason_codes {
                buf.put_u8(c.as_u8());
            }
        }
    }
}

super::ack::impl_fit_within!(UnsubAck);
