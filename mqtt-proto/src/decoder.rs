//! The streaming decoder: packets out of a byte stream that arrives in pieces.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::DecodeError;
use crate::packet::{FixedHeader, MAX_PACKET_SIZE, Packet, Role};
use crate::version::ProtocolVersion;
use crate::view::PacketView;

/// Decodes packets from a growing buffer of received bytes.
///
/// Feed it the connection's receive buffer after every read; it takes whole packets off
/// the front and leaves a partial one in place. It never copies a payload: each packet is
/// split off the buffer as `Bytes` and its fields are slices of it. It never allocates
/// on the word of a length field: a packet larger than the maximum packet size is refused
/// as soon as its fixed header is in, before its body is buffered.
///
/// After an error the stream is out of step and the connection must be closed (under
/// 5.0, after a DISCONNECT with [`DecodeError::reason_code`]).
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{Decoder, Packet, ProtocolVersion};
///
/// let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
/// let mut buf = BytesMut::from(&b"\xd0\x00\x30\x05\x00\x01a"[..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Packet::PingResp));
/// // The PUBLISH is not complete yet: nothing is consumed.
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None);
/// assert_eq!(buf.len(), 5);
/// buf.extend_from_slice(b"hi");
/// let Some(Packet::Publish(publish)) = decoder.decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!(&publish.topic[..], "a");
/// assert_eq!(&publish.payload[..], b"hi");
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    version: ProtocolVersion,
    maximum_packet_size: usize,
    sender: Option<Role>,
}

impl Decoder {
    /// A decoder for `version` that accepts packets up to the protocol's own limit.
    pub fn new(version: ProtocolVersion) -> Decoder {
        Decoder {
            version,
            maximum_packet_size: MAX_PACKET_SIZE,
            sender: None,
        }
    }

    /// Refuses packets larger than `maximum` bytes (our Maximum Packet Size).
    pub fn with_maximum_packet_size(mut self, maximum: u32) -> Decoder {
        self.set_maximum_packet_size(maximum);
        self
    }

    /// Refuses what a peer in role `sender` may not send (see [`Packet::check_sender`]).
    pub fn with_sender(mut self, sender: Role) -> Decoder {
        self.sender = Some(sender);
        self
    }

    /// Changes the protocol version (a server learns it from CONNECT).
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Changes the maximum packet size.
    pub fn set_maximum_packet_size(&mut self, maximum: u32) {
        self.maximum_packet_size = (maximum as usize).min(MAX_PACKET_SIZE);
    }

    /// The protocol version in use.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The maximum packet size in bytes.
    pub fn maximum_packet_size(&self) -> usize {
        self.maximum_packet_size
    }

    /// Takes the next whole packet off the front of `buf`.
    ///
    /// `Ok(None)`: `buf` holds no whole packet yet and is left untouched (its capacity is
    /// never grown here). `Err`: the stream breaks the specification; close the
    /// connection.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        self.decode_with(buf, Packet::decode_at)
    }

    /// [`decode`](Decoder::decode) for a client: the packets only a client sends
    /// (CONNECT, SUBSCRIBE, UNSUBSCRIBE) are refused as [`DecodeError::WrongSender`]
    /// without being read, and the other checks are those of the sender set with
    /// [`with_sender`](Decoder::with_sender) (a client sets [`Role::Server`]). The same
    /// results as `decode` with that sender, but a program that uses only this entry does
    /// not link the readers of those three packets: about 6.6 KB of code on a Cortex-M.
    pub fn decode_from_server(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Packet>, DecodeError> {
        self.decode_with(buf, Packet::decode_from_server_at)
    }

    #[inline(always)]
    fn decode_with(
        &mut self,
        buf: &mut BytesMut,
        decode_at: impl FnOnce(
            &FixedHeader,
            Bytes,
            usize,
            ProtocolVersion,
        ) -> Result<Packet, DecodeError>,
    ) -> Result<Option<Packet>, DecodeError> {
        let Some((header, size)) = self.header(buf)? else {
            return Ok(None);
        };
        if buf.len() < size {
            return Ok(None);
        }
        // The commonest packet a client receives, read with no split and no reader.
        if header.remaining_length == 2
            && let Some(packet) = short_ack(&header, &buf[header.header_len..size])
        {
            buf.advance(size);
            return Ok(Some(packet));
        }
        let bytes = buf.split_to(size).freeze();
        let packet = decode_at(&header, bytes, header.header_len, self.version)?;
        self.check_sender(&packet)?;
        Ok(Some(packet))
    }

    /// Decodes the packet at the front of `bytes` as a borrowed [`PacketView`], with every
    /// check [`decode`](Decoder::decode) makes, and says how many bytes it took.
    ///
    /// Answers `Ok(None)` when `bytes` does not hold a whole packet yet. The caller
    /// advances past the packet itself (nothing is consumed here), so that the view can
    /// borrow the bytes.
    #[inline]
    pub fn decode_view<'a>(
        &self,
        bytes: &'a [u8],
    ) -> Result<Option<(PacketView<'a>, usize)>, DecodeError> {
        let Some((header, size)) = self.header(bytes)? else {
            return Ok(None);
        };
        let Some(body) = bytes.get(header.header_len..size) else {
            return Ok(None);
        };
        let view = PacketView::decode_body(&header, body, self.version)?;
        if let Some(sender) = self.sender {
            match &view {
                PacketView::Other(packet) => self.check_sender(packet)?,
                view => view.check_sender(sender)?,
            }
        }
        Ok(Some((view, size)))
    }

    /// The fixed header at the front of `bytes` and the packet's whole size, refusing a
    /// packet over the maximum packet size as soon as its header is in.
    #[inline(always)]
    fn header(&self, bytes: &[u8]) -> Result<Option<(FixedHeader, usize)>, DecodeError> {
        let Some(header) = FixedHeader::parse(bytes, self.version)? else {
            return Ok(None);
        };
        let size = header.packet_size();
        if size > self.maximum_packet_size {
            return Err(DecodeError::PacketTooLarge {
                size,
                maximum: self.maximum_packet_size as u32,
            });
        }
        Ok(Some((header, size)))
    }

    /// What only the other side may send ([`Packet::check_sender`]), for the sender set
    /// with [`with_sender`](Decoder::with_sender).
    fn check_sender(&self, packet: &Packet) -> Result<(), DecodeError> {
        let Some(sender) = self.sender else {
            return Ok(());
        };
        packet.check_sender(sender)?;
        if sender == Role::Server
            && !self.version.is_v5()
            && matches!(packet, Packet::Disconnect(_))
        {
            // MQTT 3.1.1 DISCONNECT flows from client to server only.
            return Err(DecodeError::WrongSender {
                what: "DISCONNECT (3.1.1: client to server only)",
            });
        }
        Ok(())
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP in its two-byte form (Success, no properties), read
/// straight from the buffer; `None` for anything else (including packet identifier 0,
/// which the full decoder refuses).
pub(crate) fn short_ack(header: &FixedHeader, body: &[u8]) -> Option<Packet> {
    let id = crate::PacketId::new(u16::from_be_bytes([*body.first()?, *body.get(1)?]))?;
    Some(match header.packet_type {
        crate::PacketType::PubAck => Packet::PubAck(crate::PubAck::new(id)),
        crate::PacketType::PubRec => Packet::PubRec(crate::PubRec::new(id)),
        crate::PacketType::PubRel => Packet::PubRel(crate::PubRel::new(id)),
        crate::PacketType::PubComp => Packet::PubComp(crate::PubComp::new(id)),
        _ => return None,
    })
}
