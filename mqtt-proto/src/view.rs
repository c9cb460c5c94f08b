//! Borrowed views of received packets, for code that inspects packets without keeping
//! them: a router, a bridge, a logger.
//!
//! [`Packet::decode`] and [`Decoder::decode`](crate::Decoder::decode) give owned packets
//! that share the received buffer: each holds a reference count on it, and a PUBLISH holds
//! two (topic and payload). A [`PacketView`] borrows the bytes instead: a PUBLISH's topic
//! is a `&str` and its payload a `&[u8]` into the caller's buffer, with no reference count
//! and no allocation. Every check the owned decode makes is made here too, by the same
//! code, so a view is valid exactly when the owned packet would be.
//!
//! ```
//! use mqtt_proto::view::PacketView;
//! use mqtt_proto::{Decoder, ProtocolVersion, QoS};
//!
//! let decoder = Decoder::new(ProtocolVersion::V3_1_1);
//! // Two QoS 0 PUBLISHes to "a/b" and one PUBACK, back to back in a receive buffer.
//! let received = b"\x30\x07\x00\x03a/bhi\x30\x07\x00\x03a/bho\x40\x02\x00\x01";
//! let mut at = 0;
//! let mut topics = Vec::new();
//! while let Some((view, len)) = decoder.decode_view(&received[at..])? {
//!     if let PacketView::Publish(p) = &view {
//!         assert_eq!(p.qos, QoS::AtMostOnce);
//!         topics.push((p.topic, p.payload));
//!     }
//!     at += len;
//! }
//! assert_eq!(topics, [("a/b", &b"hi"[..]), ("a/b", &b"ho"[..])]);
//! assert_eq!(at, received.len());
//! # Ok::<(), mqtt_proto::DecodeError>(())
//! ```

use alloc::boxed::Box;
use bytes::Bytes;

use crate::error::DecodeError;
use crate::packet::publish::{PublishHead, check_topic_or_alias, topic_error};
use crate::packet::{
    FixedHeader, Packet, PacketType, PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties,
    Role,
};
use crate::packet_id::PacketId;
use crate::properties::Properties;
use crate::topic::TopicName;
use crate::version::{ProtocolVersion, QoS};
use crate::wire::{Reader, read_var_int};

/// A PUBLISH that borrows its topic and payload from the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishView<'a> {
    /// DUP: this is a re-delivery of an earlier attempt.
    pub dup: bool,
    /// The quality of service.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// The topic name (valid UTF-8, no U+0000, no wildcard); empty only in a 5.0 PUBLISH
    /// that carries a Topic Alias.
    pub topic: &'a str,
    /// The packet identifier: present exactly when QoS is 1 or 2.
    pub packet_id: Option<PacketId>,
    /// The application message.
    pub payload: &'a [u8],
    /// MQTT 5.0 properties. Most PUBLISHes carry none, and then nothing is allocated; a
    /// PUBLISH that carries some has them decoded into an owned block (its strings and
    /// binary values copied), since the view cannot hold a reference count.
    pub properties: Properties<PublishProperties>,
}

impl PublishView<'_> {
    /// The same PUBLISH as an owned [`Publish`], its topic and payload copied.
    pub fn to_publish(&self) -> Publish {
        Publish {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            topic: TopicName::from_wire(Bytes::copy_from_slice(self.topic.as_bytes()))
                .unwrap_or(TopicName::empty()),
            packet_id: self.packet_id,
            payload: Bytes::copy_from_slice(self.payload),
            properties: self.properties.clone(),
        }
    }

    #[inline]
    fn read(
        flags: u8,
        body: &[u8],
        version: ProtocolVersion,
    ) -> Result<PublishView<'_>, DecodeError> {
        let head = PublishHead::read(flags, body, 0)?;
        let topic = core::str::from_utf8(&body[head.topic.0..head.topic.1]).map_err(|_| {
            topic_error(crate::error::TopicError::String(
                crate::error::StringError::InvalidUtf8,
            ))
        })?;
        let mut payload_start = head.end;
        let mut properties = Properties::none();
        if version.is_v5() {
            let (len, n) =
                read_var_int(&body[head.end..], true)?.ok_or(DecodeError::UnexpectedEnd {
                    field: "property length",
                })?;
            let block_end = (head.end + n)
                .checked_add(len as usize)
                .filter(|&end| end <= body.len())
                .ok_or(DecodeError::UnexpectedEnd {
                    field: "properties",
                })?;
            if len > 0 {
                // The owned reader checks the block; it needs the bytes in a `Bytes`.
                let block = Bytes::copy_from_slice(&body[head.end..block_end]);
                let mut r = Reader::new_at(block, 0, true);
                properties = PublishProperties::read(&mut r)?;
            }
            payload_start = block_end;
        }
        check_topic_or_alias(topic.is_empty(), &properties, version)?;
        Ok(PublishView {
            dup: head.dup,
            qos: head.qos,
            retain: head.retain,
            topic,
            packet_id: head.packet_id,
            payload: &body[payload_start..],
            properties,
        })
    }
}

/// A received packet, borrowed where that saves work: see the [module](self) docs.
///
/// It is small (48 bytes on a 64-bit target), because a stream of views is returned one
/// by one: the packets a data path carries (PUBLISH, the acknowledgements, PINGREQ and
/// PINGRESP) are held in place, without allocating; the rare rest are boxed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketView<'a> {
    /// A PUBLISH, borrowing topic and payload.
    Publish(PublishView<'a>),
    /// PUBACK, owned. In its two-byte form (every 3.1.1 one, and a 5.0 one with reason
    /// Success and no properties) it is built without allocating; one with properties
    /// has them decoded into an owned block.
    PubAck(PubAck),
    /// PUBREC, owned, as [`PacketView::PubAck`].
    PubRec(PubRec),
    /// PUBREL, owned, as [`PacketView::PubAck`].
    PubRel(PubRel),
    /// PUBCOMP, owned, as [`PacketView::PubAck`].
    PubComp(PubComp),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// Any other packet (CONNECT, CONNACK, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK,
    /// DISCONNECT, AUTH), owned and boxed, decoded from a copy of its bytes: they are
    /// rare on a data path.
    Other(Box<Packet>),
}

impl<'a> PacketView<'a> {
    /// Decodes one whole packet: `frame` holds exactly its fixed header and body.
    #[inline]
    pub fn decode(
        frame: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<PacketView<'a>, DecodeError> {
        let header = FixedHeader::parse(frame, version)?.ok_or(DecodeError::UnexpectedEnd {
            field: "fixed header",
        })?;
        let size = header.packet_size();
        if frame.len() != size {
            return Err(if frame.len() < size {
                DecodeError::UnexpectedEnd {
                    field: "packet body",
                }
            } else {
                DecodeError::TrailingBytes {
                    packet_type: header.packet_type,
                    extra: frame.len() - size,
                }
            });
        }
        PacketView::decode_body(&header, &frame[header.header_len..], version)
    }

    /// Decodes a packet's body (everything after its fixed header), given the header.
    #[inline]
    pub(crate) fn decode_body(
        header: &FixedHeader,
        body: &'a [u8],
        version: ProtocolVersion,
    ) -> Result<PacketView<'a>, DecodeError> {
        if header.packet_type == PacketType::Publish {
            return PublishView::read(header.flags, body, version).map(PacketView::Publish);
        }
        if body.len() == 2
            && let Some(ack) = crate::decoder::short_ack(header, body)
        {
            return Ok(PacketView::from_packet(ack));
        }
        PacketView::decode_owned(header, body, version)
    }

    /// Any packet but PUBLISH and a two-byte acknowledgement: decoded owned, from a copy.
    #[inline(never)]
    fn decode_owned(
        header: &FixedHeader,
        body: &[u8],
        version: ProtocolVersion,
    ) -> Result<PacketView<'a>, DecodeError> {
        Packet::decode_body(header, Bytes::copy_from_slice(body), version)
            .map(PacketView::from_packet)
    }

    /// The view of an owned packet other than PUBLISH.
    #[inline]
    fn from_packet(packet: Packet) -> PacketView<'a> {
        match packet {
            Packet::PubAck(a) => PacketView::PubAck(a),
            Packet::PubRec(a) => PacketView::PubRec(a),
            Packet::PubRel(a) => PacketView::PubRel(a),
            Packet::PubComp(a) => PacketView::PubComp(a),
            Packet::PingReq => PacketView::PingReq,
            Packet::PingResp => PacketView::PingResp,
            other => PacketView::Other(Box::new(other)),
        }
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            PacketView::Publish(_) => PacketType::Publish,
            PacketView::PubAck(_) => PacketType::PubAck,
            PacketView::PubRec(_) => PacketType::PubRec,
            PacketView::PubRel(_) => PacketType::PubRel,
            PacketView::PubComp(_) => PacketType::PubComp,
            PacketView::PingReq => PacketType::PingReq,
            PacketView::PingResp => PacketType::PingResp,
            PacketView::Other(p) => p.packet_type(),
        }
    }

    /// Checks what only one side may send, as [`Packet::check_sender`] does.
    pub fn check_sender(&self, sender: Role) -> Result<(), DecodeError> {
        let code = match self {
            PacketView::Publish(p) => {
                return crate::packet::publish::check_sender(&p.properties, sender);
            }
            PacketView::Other(p) => return p.check_sender(sender),
            PacketView::PubAck(a) => Some(a.reason_code),
            PacketView::PubRec(a) => Some(a.reason_code),
            PacketView::PubRel(a) => Some(a.reason_code),
            PacketView::PubComp(a) => Some(a.reason_code),
            PacketView::PingReq | PacketView::PingResp => None,
        };
        crate::packet::check_sender_of(self.packet_type(), code, sender)
    }

    /// The same packet, owned (a PUBLISH's topic and payload copied).
    pub fn into_packet(self) -> Packet {
        match self {
            PacketView::Publish(p) => Packet::Publish(p.to_publish()),
            PacketView::PubAck(a) => Packet::PubAck(a),
            PacketView::PubRec(a) => Packet::PubRec(a),
            PacketView::PubRel(a) => Packet::PubRel(a),
            PacketView::PubComp(a) => Packet::PubComp(a),
            PacketView::PingReq => Packet::PingReq,
            PacketView::PingResp => Packet::PingResp,
            PacketView::Other(p) => *p,
        }
    }
}
