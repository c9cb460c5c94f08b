//! The packet model: one struct per packet type, the [`Packet`] enum over all of them, and
//! encoding and decoding of whole packets.

use alloc::boxed::Box;
use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::reason::ReasonCode;
use crate::version::ProtocolVersion;
use crate::wire::{MAX_VARIABLE_BYTE_INTEGER, Reader, put_var_int, read_var_int, var_int_len};

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
pub(crate) mod publish;
mod subscribe;
mod unsubscribe;

pub use ack::{AckProperties, PubAck, PubComp, PubRec, PubRel};
pub use auth::{Auth, AuthProperties};
pub use connack::{ConnAck, ConnAckProperties};
pub use connect::{Connect, ConnectProperties, Will, WillProperties};
pub use disconnect::{Disconnect, DisconnectProperties};
pub use publish::{Publish, PublishProperties};
pub use subscribe::{
    RetainHandling, SubAck, Subscribe, SubscribeProperties, Subscription, SubscriptionOptions,
};
pub use unsubscribe::{UnsubAck, Unsubscribe, UnsubscribeProperties};

/// The largest packet MQTT can frame: 1 type byte, 4 length bytes, 268,435,455 bytes.
pub const MAX_PACKET_SIZE: usize = 1 + 4 + MAX_VARIABLE_BYTE_INTEGER as usize;

/// The control packet type: the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// CONNECT, client to server.
    Connect = 1,
    /// CONNACK, server to client.
    ConnAck = 2,
    /// PUBLISH, both ways.
    Publish = 3,
    /// PUBACK, both ways.
    PubAck = 4,
    /// PUBREC, both ways.
    PubRec = 5,
    /// PUBREL, both ways.
    PubRel = 6,
    /// PUBCOMP, both ways.
    PubComp = 7,
    /// SUBSCRIBE, client to server.
    Subscribe = 8,
    /// SUBACK, server to client.
    SubAck = 9,
    /// UNSUBSCRIBE, client to server.
    Unsubscribe = 10,
    /// UNSUBACK, server to client.
    UnsubAck = 11,
    /// PINGREQ, client to server.
    PingReq = 12,
    /// PINGRESP, server to client.
    PingResp = 13,
    /// DISCONNECT, client to server (and server to client in 5.0).
    Disconnect = 14,
    /// AUTH, both ways (5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The packet type for the high nibble of a first byte (1 to 15).
    pub const fn from_u8(value: u8) -> Option<PacketType> {
        Some(match value {
            1 => PacketType::Connect,
            2 => PacketType::ConnAck,
            3 => PacketType::Publish,
            4 => PacketType::PubAck,
            5 => PacketType::PubRec,
            6 => PacketType::PubRel,
            7 => PacketType::PubComp,
            8 => PacketType::Subscribe,
            9 => PacketType::SubAck,
            10 => PacketType::Unsubscribe,
            11 => PacketType::UnsubAck,
            12 => PacketType::PingReq,
            13 => PacketType::PingResp,
            14 => PacketType::Disconnect,
            15 => PacketType::Auth,
            _ => return None,
        })
    }

    /// The fixed-header flags every packet of this type carries; `None` for PUBLISH, whose
    /// flags are DUP, QoS and RETAIN ([MQTT-2.2.2-1], [MQTT-2.1.3-1]).
    pub const fn required_flags(self) -> Option<u8> {
        match self {
            PacketType::Publish => None,
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// The name the specification uses, such as `PUBACK`.
    pub const fn name(self) -> &'static str {
        match self {
            PacketType::Connect => "CONNECT",
            PacketType::ConnAck => "CONNACK",
            PacketType::Publish => "PUBLISH",
            PacketType::PubAck => "PUBACK",
            PacketType::PubRec => "PUBREC",
            PacketType::PubRel => "PUBREL",
            PacketType::PubComp => "PUBCOMP",
            PacketType::Subscribe => "SUBSCRIBE",
            PacketType::SubAck => "SUBACK",
            PacketType::Unsubscribe => "UNSUBSCRIBE",
            PacketType::UnsubAck => "UNSUBACK",
            PacketType::PingReq => "PINGREQ",
            PacketType::PingResp => "PINGRESP",
            PacketType::Disconnect => "DISCONNECT",
            PacketType::Auth => "AUTH",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fixed header of a packet: its type, flags and Remaining Length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The number of bytes after the fixed header.
    pub remaining_length: u32,
    /// The size of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Reads the fixed header at the start of `bytes`.
    ///
    /// Answers `Ok(None)` when more bytes are needed. Refuses a reserved packet type,
    /// flags the packet type forbids, and a Remaining Length over 4 bytes (or, under 5.0,
    /// not in its shortest form) as soon as those bytes are there.
    #[inline]
    pub fn parse(
        bytes: &[u8],
        version: ProtocolVersion,
    ) -> Result<Option<FixedHeader>, DecodeError> {
        let Some(&first) = bytes.first() else {
            return Ok(None);
        };
        let raw_type = first >> 4;
        let packet_type = match PacketType::from_u8(raw_type) {
            Some(PacketType::Auth) if !version.is_v5() => {
                return Err(DecodeError::ReservedPacketType(raw_type));
            }
            Some(t) => t,
            None => return Err(DecodeError::ReservedPacketType(raw_type)),
        };
        let flags = first & 0x0F;
        match packet_type.required_flags() {
            Some(required) if required != flags => {
                return Err(DecodeError::InvalidFixedHeaderFlags { packet_type, flags });
            }
            _ => {}
        }
        let Some((remaining_length, n)) = read_var_int(&bytes[1..], version.is_v5())? else {
            return Ok(None);
        };
        Ok(Some(FixedHeader {
            packet_type,
            flags,
            remaining_length,
            header_len: 1 + n,
        }))
    }

    /// The whole packet's size: fixed header plus Remaining Length.
    pub fn packet_size(&self) -> usize {
        self.header_len + self.remaining_length as usize
    }
}

/// Any MQTT control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// CONNECT (boxed: it is the largest packet and is sent once per connection, so
    /// every other packet moves a smaller `Packet`).
    Connect(Box<Connect>),
    /// CONNACK (boxed, like CONNECT: once per connection).
    ConnAck(Box<ConnAck>),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (5.0 only).
    Auth(Auth),
}

macro_rules! packet_from {
    ($($variant:ident),* ; boxed: $($boxed:ident),*) => {
        $(
            impl From<$variant> for Packet {
                fn from(p: $variant) -> Packet {
                    Packet::$variant(p)
                }
            }
        )*
        $(
            impl From<$boxed> for Packet {
                fn from(p: $boxed) -> Packet {
                    Packet::$boxed(Box::new(p))
                }
            }
        )*
    };
}
packet_from!(
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth;
    boxed: Connect,
    ConnAck
);

/// Which side of the connection sent a packet: the decoder can refuse what that side may
/// not send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client.
    Client,
    /// The server (broker).
    Server,
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }

    /// Decodes one whole packet: `bytes` holds exactly its fixed header and body.
    ///
    /// Every string and binary field of the result shares `bytes`; nothing is copied.
    pub fn decode(bytes: Bytes, version: ProtocolVersion) -> Result<Packet, DecodeError> {
        let header = FixedHeader::parse(&bytes, version)?.ok_or(DecodeError::UnexpectedEnd {
            field: "fixed header",
        })?;
        if bytes.len() != header.packet_size() {
            return Err(if bytes.len() < header.packet_size() {
                DecodeError::UnexpectedEnd {
                    field: "packet body",
                }
            } else {
                DecodeError::TrailingBytes {
                    packet_type: header.packet_type,
                    extra: bytes.len() - header.packet_size(),
                }
            });
        }
        Packet::decode_at(&header, bytes, header.header_len, version)
    }

    /// Decodes a packet's body (everything after the fixed header), given its header.
    pub fn decode_body(
        header: &FixedHeader,
        body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        Packet::decode_at(header, body, 0, version)
    }

    /// Decodes a packet whose body starts at `start` in `bytes` (no slice of the body).
    pub(crate) fn decode_at(
        header: &FixedHeader,
        bytes: Bytes,
        start: usize,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        Packet::decode_at_for(header, bytes, start, version, true)
    }

    /// As [`Packet::decode_at`], refusing CONNECT, SUBSCRIBE and UNSUBSCRIBE (which only a
    /// client sends) before reading them, so that a client's decoder does not link their
    /// readers.
    pub(crate) fn decode_from_server_at(
        header: &FixedHeader,
        bytes: Bytes,
        start: usize,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeError> {
        Packet::decode_at_for(header, bytes, start, version, false)
    }

    #[inline(always)]
    fn decode_at_for(
        header: &FixedHeader,
        bytes: Bytes,
        start: usize,
        version: ProtocolVersion,
        client_packets: bool,
    ) -> Result<Packet, DecodeError> {
        let mut r = Reader::new_at(bytes, start, version.is_v5());
        let t = header.packet_type;
        let packet = match t {
            PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe
                if !client_packets =>
            {
                return Err(DecodeError::WrongSender { what: t.name() });
            }
            PacketType::Connect => Packet::from(Connect::read(&mut r)?),
            PacketType::ConnAck => Packet::from(ConnAck::read(&mut r, version)?),
            PacketType::Publish => Packet::Publish(Publish::read(&mut r, header.flags, version)?),
            PacketType::PubAck => Packet::PubAck(PubAck::read(&mut r, version)?),
            PacketType::PubRec => Packet::PubRec(PubRec::read(&mut r, version)?),
            PacketType::PubRel => Packet::PubRel(PubRel::read(&mut r, version)?),
            PacketType::PubComp => Packet::PubComp(PubComp::read(&mut r, version)?),
            PacketType::Subscribe => Packet::Subscribe(Subscribe::read(&mut r, version)?),
            PacketType::SubAck => Packet::SubAck(SubAck::read(&mut r, version)?),
            PacketType::Unsubscribe => Packet::Unsubscribe(Unsubscribe::read(&mut r, version)?),
            PacketType::UnsubAck => Packet::UnsubAck(UnsubAck::read(&mut r, version)?),
            PacketType::PingReq => Packet::PingReq,
            PacketType::PingResp => Packet::PingResp,
            PacketType::Disconnect => Packet::Disconnect(Disconnect::read(&mut r, version)?),
            PacketType::Auth => Packet::Auth(Auth::read(&mut r, version)?),
        };
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                packet_type: t,
                extra: r.remaining(),
            });
        }
        Ok(packet)
    }

    /// Checks what only one side may send: packets only a client sends arriving from a
    /// server and the other way round, a Subscription Identifier in a client's PUBLISH
    /// ([MQTT-3.3.4-6]), a Session Expiry Interval in a server's DISCONNECT
    /// ([MQTT-3.14.2-2]), and reason codes the sender's side may not use
    /// ([MQTT-3.14.2-1]).
    pub fn check_sender(&self, sender: Role) -> Result<(), DecodeError> {
        let t = self.packet_type();
        let code = match self {
            Packet::Publish(p) => {
                check_role(t, sender)?;
                return publish::check_sender(&p.properties, sender);
            }
            Packet::Disconnect(d) => {
                if sender == Role::Server && d.properties.session_expiry_interval.is_some() {
                    return Err(DecodeError::WrongSender {
                        what: "a Session Expiry Interval in DISCONNECT",
                    });
                }
                Some(d.reason_code)
            }
            Packet::PubAck(a) => Some(a.reason_code),
            Packet::PubRec(a) => Some(a.reason_code),
            Packet::PubRel(a) => Some(a.reason_code),
            Packet::PubComp(a) => Some(a.reason_code),
            Packet::Auth(a) => Some(a.reason_code),
            _ => None,
        };
        check_sender_of(t, code, sender)
    }
}

/// Refuses a packet type only the other side sends.
fn check_role(t: PacketType, sender: Role) -> Result<(), DecodeError> {
    let client_only = matches!(
        t,
        PacketType::Connect | PacketType::Subscribe | PacketType::Unsubscribe | PacketType::PingReq
    );
    let server_only = matches!(
        t,
        PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck | PacketType::PingResp
    );
    match sender {
        Role::Server if client_only => Err(DecodeError::WrongSender { what: t.name() }),
        Role::Client if server_only => Err(DecodeError::WrongSender { what: t.name() }),
        _ => Ok(()),
    }
}

/// [`Packet::check_sender`] for a packet of type `t` (not PUBLISH, not DISCONNECT) whose
/// reason code, if it has one, is `code`.
pub(crate) fn check_sender_of(
    t: PacketType,
    code: Option<ReasonCode>,
    sender: Role,
) -> Result<(), DecodeError> {
    check_role(t, sender)?;
    let Some(code) = code else {
        return Ok(());
    };
    let allowed = match sender {
        Role::Client => code.client_may_send_in(t),
        Role::Server => code.server_may_send_in(t),
    };
    if allowed {
        Ok(())
    } else {
        Err(DecodeError::InvalidReasonCode {
            packet_type: t,
            code: code.as_u8(),
        })
    }
}

/// The encoding of one packet type; implemented by every packet struct.
pub(crate) trait Body {
    /// The first byte: type and flags.
    fn first_byte(&self) -> u8;
    /// Refuses what the packet cannot carry in `version`.
    fn check(&self, version: ProtocolVersion) -> Result<(), EncodeError>;
    /// The Remaining Length (valid after `check` succeeded).
    fn body_len(&self, version: ProtocolVersion) -> usize;
    /// Writes the body, except a trailing payload that [`Body::payload`] returns.
    fn write_head(&self, version: ProtocolVersion, buf: &mut BytesMut);
    /// A trailing payload that can be written separately, uncopied.
    fn payload(&self) -> Option<&Bytes> {
        None
    }
    /// The hot path of a packet sent by the thousand: encodes it in a few writes and
    /// returns its size if it is in its plain, certainly valid form and within `maximum`.
    /// `None` (nothing written) sends it down the general path, which checks everything.
    #[inline]
    fn write_plain(
        &self,
        _version: ProtocolVersion,
        _maximum: usize,
        _buf: &mut BytesMut,
        _with_payload: bool,
    ) -> Option<usize> {
        None
    }
}

/// The whole size of a packet with Remaining Length `body_len`, if it can be framed and
/// is within `maximum`.
pub(crate) fn framed_size(body_len: usize, maximum: usize) -> Result<usize, EncodeError> {
    let size = 1 + var_int_len(body_len) + body_len;
    let limit = maximum.min(MAX_PACKET_SIZE);
    if body_len > MAX_VARIABLE_BYTE_INTEGER as usize || size > limit {
        return Err(EncodeError::PacketTooLarge {
            size,
            maximum: limit,
        });
    }
    Ok(size)
}

#[inline(always)]
fn encode_body<B: Body>(
    p: &B,
    version: ProtocolVersion,
    maximum: usize,
    buf: &mut BytesMut,
    with_payload: bool,
) -> Result<usize, EncodeError> {
    if let Some(size) = p.write_plain(version, maximum, buf, with_payload) {
        return Ok(size);
    }
    p.check(version)?;
    let body_len = p.body_len(version);
    let size = framed_size(body_len, maximum)?;
    let payload = p.payload();
    let head = size - payload.map_or(0, |b| b.len());
    buf.reserve(if with_payload { size } else { head });
    buf.put_u8(p.first_byte());
    put_var_int(buf, body_len);
    p.write_head(version, buf);
    if with_payload && let Some(payload) = payload {
        buf.put_slice(payload);
    }
    Ok(size)
}

/// Encoding of packets, implemented by [`Packet`] and every packet struct.
pub trait Encode {
    /// The size of the encoded packet in bytes (the "packet size" that Maximum Packet Size
    /// limits), computed without encoding. Fails where encoding would.
    fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError>;

    /// Appends the encoded packet to `buf`, refusing a packet larger than `maximum` bytes
    /// (pass the peer's Maximum Packet Size) before writing anything. Returns its size.
    fn encode_within(
        &self,
        version: ProtocolVersion,
        maximum: usize,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError>;

    /// Appends the encoded packet, except a PUBLISH's payload, to `buf` and returns that
    /// payload, so a transport can write both with one vectored write and no copy of the
    /// payload.
    fn encode_vectored(
        &self,
        version: ProtocolVersion,
        maximum: usize,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, EncodeError>;

    /// Appends the encoded packet to `buf` and returns its size.
    fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<usize, EncodeError> {
        self.encode_within(version, MAX_PACKET_SIZE, buf)
    }

    /// The length of the payload [`Encode::encode_vectored`] would return (a PUBLISH's;
    /// 0 for every other packet), so that a caller can choose a contiguous encode for a
    /// small payload (copied, no reference count touched) before encoding.
    fn vectored_payload_len(&self) -> usize {
        0
    }
}

macro_rules! impl_encode {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
                self.check(version)?;
                framed_size(self.body_len(version), MAX_PACKET_SIZE)
            }
            #[inline]
            fn encode_within(&self, version: ProtocolVersion, maximum: usize, buf: &mut BytesMut) -> Result<usize, EncodeError> {
                encode_body(self, version, maximum, buf, true)
            }
            fn encode_vectored(&self, version: ProtocolVersion, maximum: usize, buf: &mut BytesMut) -> Result<Option<Bytes>, EncodeError> {
                encode_body(self, version, maximum, buf, false)?;
                Ok(self.payload().cloned())
            }
            #[inline]
            fn vectored_payload_len(&self) -> usize {
                self.payload().map_or(0, Bytes::len)
            }
        }
    )*};
}
impl_encode!(
    Connect,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
    Ping
);

/// PINGREQ or PINGRESP: a fixed header and nothing else.
pub(crate) struct Ping(u8);

impl Body for Ping {
    fn first_byte(&self) -> u8 {
        self.0
    }
    fn check(&self, _: ProtocolVersion) -> Result<(), EncodeError> {
        Ok(())
    }
    fn body_len(&self, _: ProtocolVersion) -> usize {
        0
    }
    fn write_head(&self, _: ProtocolVersion, _: &mut BytesMut) {}
}

macro_rules! dispatch {
    ($self:ident, $p:ident => $e:expr) => {
        match $self {
            Packet::Connect($p) => {
                let $p = &**$p;
                $e
            }
            Packet::ConnAck($p) => {
                let $p = &**$p;
                $e
            }
            Packet::Publish($p) => $e,
            Packet::PubAck($p) => $e,
            Packet::PubRec($p) => $e,
            Packet::PubRel($p) => $e,
            Packet::PubComp($p) => $e,
            Packet::Subscribe($p) => $e,
            Packet::SubAck($p) => $e,
            Packet::Unsubscribe($p) => $e,
            Packet::UnsubAck($p) => $e,
            Packet::PingReq => {
                let $p = &Ping(0xC0);
                $e
            }
            Packet::PingResp => {
                let $p = &Ping(0xD0);
                $e
            }
            Packet::Disconnect($p) => $e,
            Packet::Auth($p) => $e,
        }
    };
}

impl Encode for Packet {
    fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        dispatch!(self, p => p.encoded_len(version))
    }
    #[inline]
    fn encode_within(
        &self,
        version: ProtocolVersion,
        maximum: usize,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        dispatch!(self, p => p.encode_within(version, maximum, buf))
    }
    fn encode_vectored(
        &self,
        version: ProtocolVersion,
        maximum: usize,
        buf: &mut BytesMut,
    ) -> Result<Option<Bytes>, EncodeError> {
        dispatch!(self, p => p.encode_vectored(version, maximum, buf))
    }
    #[inline]
    fn vectored_payload_len(&self) -> usize {
        match self {
            Packet::Publish(p) => p.vectored_payload_len(),
            _ => 0,
        }
    }
}

/// The error for something `version` (3.1 or 3.1.1) cannot express.
pub(crate) fn not_in_v3(what: &'static str, version: ProtocolVersion) -> EncodeError {
    EncodeError::NotInVersion { what, version }
}
