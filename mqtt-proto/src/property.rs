//! MQTT 5.0 properties: the table of every property (identifier, type, where it may appear,
//! whether it may repeat), and the machinery to read and write property lists.

use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;

use crate::error::DecodeError;
use crate::packet::PacketType;
use crate::string::MqttString;
use crate::wire::{Reader, put_binary, put_str, put_var_int, var_int_len};

/// The data type of a property's value (MQTT 5.0 §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyType {
    /// One byte.
    Byte,
    /// Two Byte Integer.
    TwoByteInteger,
    /// Four Byte Integer.
    FourByteInteger,
    /// Variable Byte Integer.
    VariableByteInteger,
    /// UTF-8 Encoded String.
    Utf8String,
    /// Binary Data.
    BinaryData,
    /// UTF-8 String Pair.
    Utf8StringPair,
}

/// Where a property may appear: a packet type, or the Will Properties of CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    /// The properties of a packet of this type.
    Packet(PacketType),
    /// The Will Properties in a CONNECT payload.
    Will,
}

impl PropertyContext {
    const fn bit(self) -> u16 {
        match self {
            PropertyContext::Will => 1,
            PropertyContext::Packet(t) => 1 << (t as u16),
        }
    }

    /// The packet type errors name (CONNECT for Will Properties).
    pub(crate) const fn packet_type(self) -> PacketType {
        match self {
            PropertyContext::Will => PacketType::Connect,
            PropertyContext::Packet(t) => t,
        }
    }
}

const fn ctx(t: PacketType) -> u16 {
    1 << (t as u16)
}
const WILL: u16 = 1;
const CONNECT: u16 = ctx(PacketType::Connect);
const CONNACK: u16 = ctx(PacketType::ConnAck);
const PUBLISH: u16 = ctx(PacketType::Publish);
const ACKS: u16 = ctx(PacketType::PubAck)
    | ctx(PacketType::PubRec)
    | ctx(PacketType::PubRel)
    | ctx(PacketType::PubComp)
    | ctx(PacketType::SubAck)
    | ctx(PacketType::UnsubAck);
const SUBSCRIBE: u16 = ctx(PacketType::Subscribe);
const UNSUBSCRIBE: u16 = ctx(PacketType::Unsubscribe);
const DISCONNECT: u16 = ctx(PacketType::Disconnect);
const AUTH: u16 = ctx(PacketType::Auth);

macro_rules! properties {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $ty:ident, $allowed:expr, $repeat:literal, $text:literal; )*) => {
        /// A property identifier (MQTT 5.0 Table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum PropertyId {
            $( $(#[$doc])* $name = $id, )*
        }

        impl PropertyId {
            /// The property with this identifier, if MQTT 5.0 defines one.
            pub const fn from_u32(id: u32) -> Option<PropertyId> {
                match id {
                    $( $id => Some(PropertyId::$name), )*
                    _ => None,
                }
            }

            /// The data type of the property's value.
            pub const fn property_type(self) -> PropertyType {
                match self {
                    $( PropertyId::$name => PropertyType::$ty, )*
                }
            }

            /// Whether the property may appear in `context`.
            pub const fn is_allowed_in(self, context: PropertyContext) -> bool {
                let allowed: u16 = match self {
                    $( PropertyId::$name => $allowed, )*
                };
                allowed & context.bit() != 0
            }

            /// Whether the property may appear more than once in one packet.
            /// (Subscription Identifier repeats only in a PUBLISH from the server.)
            pub const fn may_repeat(self) -> bool {
                match self {
                    $( PropertyId::$name => $repeat, )*
                }
            }

            /// The property's name in the specification.
            pub const fn name(self) -> &'static str {
                match self {
                    $( PropertyId::$name => $text, )*
                }
            }
        }
    };
}

properties! {
    /// 0x01 Payload Format Indicator (Byte; PUBLISH, Will): 0 unspecified bytes, 1 UTF-8.
    PayloadFormatIndicator = 0x01, Byte, PUBLISH | WILL, false, "Payload Format Indicator";
    /// 0x02 Message Expiry Interval (Four Byte Integer seconds; PUBLISH, Will).
    MessageExpiryInterval = 0x02, FourByteInteger, PUBLISH | WILL, false, "Message Expiry Interval";
    /// 0x03 Content Type (UTF-8 String; PUBLISH, Will).
    ContentType = 0x03, Utf8String, PUBLISH | WILL, false, "Content Type";
    /// 0x08 Response Topic (UTF-8 String topic name; PUBLISH, Will).
    ResponseTopic = 0x08, Utf8String, PUBLISH | WILL, false, "Response Topic";
    /// 0x09 Correlation Data (Binary Data; PUBLISH, Will).
    CorrelationData = 0x09, BinaryData, PUBLISH | WILL, false, "Correlation Data";
    /// 0x0B Subscription Identifier (Variable Byte Integer 1..268,435,455; SUBSCRIBE, and
    /// PUBLISH from the server, where it may repeat).
    SubscriptionIdentifier = 0x0B, VariableByteInteger, PUBLISH | SUBSCRIBE, true, "Subscription Identifier";
    /// 0x11 Session Expiry Interval (Four Byte Integer seconds; CONNECT, CONNACK, DISCONNECT).
    SessionExpiryInterval = 0x11, FourByteInteger, CONNECT | CONNACK | DISCONNECT, false, "Session Expiry Interval";
    /// 0x12 Assigned Client Identifier (UTF-8 String; CONNACK).
    AssignedClientIdentifier = 0x12, Utf8String, CONNACK, false, "Assigned Client Identifier";
    /// 0x13 Server Keep Alive (Two Byte Integer seconds; CONNACK).
    ServerKeepAlive = 0x13, TwoByteInteger, CONNACK, false, "Server Keep Alive";
    /// 0x15 Authentication Method (UTF-8 String; CONNECT, CONNACK, AUTH).
    AuthenticationMethod = 0x15, Utf8String, CONNECT | CONNACK | AUTH, false, "Authentication Method";
    /// 0x16 Authentication Data (Binary Data; CONNECT, CONNACK, AUTH).
    AuthenticationData = 0x16, BinaryData, CONNECT | CONNACK | AUTH, false, "Authentication Data";
    /// 0x17 Request Problem Information (Byte 0/1; CONNECT).
    RequestProblemInformation = 0x17, Byte, CONNECT, false, "Request Problem Information";
    /// 0x18 Will Delay Interval (Four Byte Integer seconds; Will).
    WillDelayInterval = 0x18, FourByteInteger, WILL, false, "Will Delay Interval";
    /// 0x19 Request Response Information (Byte 0/1; CONNECT).
    RequestResponseInformation = 0x19, Byte, CONNECT, false, "Request Response Information";
    /// 0x1A Response Information (UTF-8 String; CONNACK).
    ResponseInformation = 0x1A, Utf8String, CONNACK, false, "Response Information";
    /// 0x1C Server Reference (UTF-8 String; CONNACK, DISCONNECT).
    ServerReference = 0x1C, Utf8String, CONNACK | DISCONNECT, false, "Server Reference";
    /// 0x1F Reason String (UTF-8 String; CONNACK, acknowledgements, DISCONNECT, AUTH).
    ReasonString = 0x1F, Utf8String, CONNACK | ACKS | DISCONNECT | AUTH, false, "Reason String";
    /// 0x21 Receive Maximum (Two Byte Integer, not 0; CONNECT, CONNACK).
    ReceiveMaximum = 0x21, TwoByteInteger, CONNECT | CONNACK, false, "Receive Maximum";
    /// 0x22 Topic Alias Maximum (Two Byte Integer; CONNECT, CONNACK).
    TopicAliasMaximum = 0x22, TwoByteInteger, CONNECT | CONNACK, false, "Topic Alias Maximum";
    /// 0x23 Topic Alias (Two Byte Integer, not 0; PUBLISH).
    TopicAlias = 0x23, TwoByteInteger, PUBLISH, false, "Topic Alias";
    /// 0x24 Maximum QoS (Byte 0/1; CONNACK).
    MaximumQoS = 0x24, Byte, CONNACK, false, "Maximum QoS";
    /// 0x25 Retain Available (Byte 0/1; CONNACK).
    RetainAvailable = 0x25, Byte, CONNACK, false, "Retain Available";
    /// 0x26 User Property (UTF-8 String Pair; every packet with properties, and Will). Repeats.
    UserProperty = 0x26, Utf8StringPair, CONNECT | CONNACK | PUBLISH | WILL | ACKS | SUBSCRIBE | UNSUBSCRIBE | DISCONNECT | AUTH, true, "User Property";
    /// 0x27 Maximum Packet Size (Four Byte Integer, not 0; CONNECT, CONNACK).
    MaximumPacketSize = 0x27, FourByteInteger, CONNECT | CONNACK, false, "Maximum Packet Size";
    /// 0x28 Wildcard Subscription Available (Byte 0/1; CONNACK).
    WildcardSubscriptionAvailable = 0x28, Byte, CONNACK, false, "Wildcard Subscription Available";
    /// 0x29 Subscription Identifier Available (Byte 0/1; CONNACK).
    SubscriptionIdentifierAvailable = 0x29, Byte, CONNACK, false, "Subscription Identifier Available";
    /// 0x2A Shared Subscription Available (Byte 0/1; CONNACK).
    SharedSubscriptionAvailable = 0x2A, Byte, CONNACK, false, "Shared Subscription Available";
}

impl fmt::Display for PropertyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), *self as u8)
    }
}

/// A User Property: a name and value pair, both MQTT strings. Names may repeat, and order
/// is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub name: MqttString,
    /// The value.
    pub value: MqttString,
}

impl UserProperty {
    /// A user property from a name and a value.
    pub fn new(name: MqttString, value: MqttString) -> UserProperty {
        UserProperty { name, value }
    }
}

/// A decoded property value.
pub(crate) enum Value {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(MqttString),
    Bin(Bytes),
    Pair(UserProperty),
}

impl Value {
    /// The numeric value of an integer property (for error reports).
    pub(crate) fn number(&self) -> u32 {
        match self {
            Value::Byte(v) => u32::from(*v),
            Value::Two(v) => u32::from(*v),
            Value::Four(v) | Value::Var(v) => *v,
            _ => 0,
        }
    }
}

/// Whether a Byte property's value may be only 0 or 1.
const fn is_boolean(id: PropertyId) -> bool {
    matches!(
        id,
        PropertyId::PayloadFormatIndicator
            | PropertyId::RequestProblemInformation
            | PropertyId::RequestResponseInformation
            | PropertyId::MaximumQoS
            | PropertyId::RetainAvailable
            | PropertyId::WildcardSubscriptionAvailable
            | PropertyId::SubscriptionIdentifierAvailable
            | PropertyId::SharedSubscriptionAvailable
    )
}

/// Whether a value of 0 is forbidden for this integer property.
const fn zero_forbidden(id: PropertyId) -> bool {
    matches!(
        id,
        PropertyId::ReceiveMaximum
            | PropertyId::MaximumPacketSize
            | PropertyId::TopicAlias
            | PropertyId::SubscriptionIdentifier
    )
}

/// Reads a property list (Property Length, then properties) from `r`, checking each
/// identifier against `context`, refusing repeats and forbidden values, and hands each one
/// to `apply`.
pub(crate) fn read_properties(
    r: &mut Reader,
    context: PropertyContext,
    mut apply: impl FnMut(PropertyId, Value) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let len = r.var_int("property length")? as usize;
    if len == 0 {
        return Ok(());
    }
    if len > r.remaining() {
        return Err(DecodeError::UnexpectedEnd {
            field: "properties",
        });
    }
    let end = r.position() + len;
    let outer = r.limit(end);
    let read = read_block(r, context, end, &mut apply);
    r.unlimit(outer);
    read
}

/// Reads the properties of a block that ends at `end`, the reader limited to it.
fn read_block(
    r: &mut Reader,
    context: PropertyContext,
    end: usize,
    apply: &mut impl FnMut(PropertyId, Value) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut seen: u64 = 0;
    while r.position() < end {
        let raw = r.var_int("property identifier")?;
        let id = PropertyId::from_u32(raw).ok_or(DecodeError::UnknownProperty(raw))?;
        if !id.is_allowed_in(context) {
            return Err(DecodeError::PropertyNotAllowed {
                property: id,
                packet: context.packet_type(),
            });
        }
        let repeats = match id {
            PropertyId::SubscriptionIdentifier => {
                context == PropertyContext::Packet(PacketType::Publish)
            }
            other => other.may_repeat(),
        };
        let bit = 1u64 << (id as u8);
        if seen & bit != 0 && !repeats {
            return Err(DecodeError::DuplicateProperty(id));
        }
        seen |= bit;
        let field = id.name();
        let value = match id.property_type() {
            PropertyType::Byte => Value::Byte(r.u8(field)?),
            PropertyType::TwoByteInteger => Value::Two(r.u16(field)?),
            PropertyType::FourByteInteger => Value::Four(r.u32(field)?),
            PropertyType::VariableByteInteger => Value::Var(r.var_int(field)?),
            PropertyType::Utf8String => Value::Str(r.string(field)?),
            PropertyType::BinaryData => Value::Bin(r.binary(field)?),
            PropertyType::Utf8StringPair => {
                let name = r.string("User Property name")?;
                let value = r.string("User Property value")?;
                Value::Pair(UserProperty { name, value })
            }
        };
        let n = value.number();
        if (is_boolean(id) && n > 1) || (zero_forbidden(id) && n == 0) {
            return Err(DecodeError::InvalidPropertyValue {
                property: id,
                value: n,
            });
        }
        apply(id, value)?;
    }
    if r.position() != end {
        return Err(DecodeError::UnexpectedEnd {
            field: "properties",
        });
    }
    Ok(())
}

/// Receives the properties of a packet, to count their encoded length or to write them.
pub(crate) trait Sink {
    fn byte(&mut self, id: PropertyId, v: u8);
    fn two(&mut self, id: PropertyId, v: u16);
    fn four(&mut self, id: PropertyId, v: u32);
    fn var(&mut self, id: PropertyId, v: u32);
    fn str(&mut self, id: PropertyId, v: &str);
    fn bin(&mut self, id: PropertyId, v: &[u8]);
    fn pair(&mut self, p: &UserProperty);
}

/// A [`Sink`] that counts encoded bytes.
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    #[inline]
    fn byte(&mut self, _: PropertyId, _: u8) {
        self.0 += 2;
    }
    #[inline]
    fn two(&mut self, _: PropertyId, _: u16) {
        self.0 += 3;
    }
    #[inline]
    fn four(&mut self, _: PropertyId, _: u32) {
        self.0 += 5;
    }
    #[inline]
    fn var(&mut self, _: PropertyId, v: u32) {
        self.0 += 1 + var_int_len(v as usize);
    }
    #[inline]
    fn str(&mut self, _: PropertyId, v: &str) {
        self.0 += 3 + v.len();
    }
    #[inline]
    fn bin(&mut self, _: PropertyId, v: &[u8]) {
        self.0 += 3 + v.len();
    }
    #[inline]
    fn pair(&mut self, p: &UserProperty) {
        self.0 += 5 + p.name.len() + p.value.len();
    }
}

/// A [`Sink`] that writes properties into a buffer.
pub(crate) struct Writer<'a>(pub(crate) &'a mut BytesMut);

impl Sink for Writer<'_> {
    #[inline]
    fn byte(&mut self, id: PropertyId, v: u8) {
        self.0.put_u8(id as u8);
        self.0.put_u8(v);
    }
    #[inline]
    fn two(&mut self, id: PropertyId, v: u16) {
        self.0.put_u8(id as u8);
        self.0.put_u16(v);
    }
    #[inline]
    fn four(&mut self, id: PropertyId, v: u32) {
        self.0.put_u8(id as u8);
        self.0.put_u32(v);
    }
    #[inline]
    fn var(&mut self, id: PropertyId, v: u32) {
        self.0.put_u8(id as u8);
        put_var_int(self.0, v as usize);
    }
    #[inline]
    fn str(&mut self, id: PropertyId, v: &str) {
        self.0.put_u8(id as u8);
        put_str(self.0, v);
    }
    #[inline]
    fn bin(&mut self, id: PropertyId, v: &[u8]) {
        self.0.put_u8(id as u8);
        put_binary(self.0, v);
    }
    #[inline]
    fn pair(&mut self, p: &UserProperty) {
        self.0.put_u8(PropertyId::UserProperty as u8);
        put_str(self.0, &p.name);
        put_str(self.0, &p.value);
    }
}

/// A set of properties of one packet type: it can list itself into a [`Sink`].
pub(crate) trait PropertyList {
    /// Hands every present property to `sink`, in a fixed order.
    fn visit<S: Sink>(&self, sink: &mut S);

    /// Encoded length of the properties, without the Property Length prefix.
    #[inline]
    fn content_len(&self) -> usize {
        let mut c = Counter(0);
        self.visit(&mut c);
        c.0
    }

    /// Encoded length with the Property Length prefix.
    #[inline]
    fn wire_len(&self) -> usize {
        let n = self.content_len();
        var_int_len(n) + n
    }

    /// Writes Property Length and the properties; `content_len` must be
    /// `self.content_len()`.
    #[inline]
    fn write(&self, content_len: usize, buf: &mut BytesMut) {
        put_var_int(buf, content_len);
        self.visit(&mut Writer(buf));
    }
}

/// Visits optional values into a sink with less noise.
pub(crate) fn opt_byte<S: Sink>(s: &mut S, id: PropertyId, v: Option<u8>) {
    if let Some(v) = v {
        s.byte(id, v);
    }
}
pub(crate) fn opt_bool<S: Sink>(s: &mut S, id: PropertyId, v: Option<bool>) {
    if let Some(v) = v {
        s.byte(id, u8::from(v));
    }
}
pub(crate) fn opt_two<S: Sink>(s: &mut S, id: PropertyId, v: Option<u16>) {
    if let Some(v) = v {
        s.two(id, v);
    }
}
pub(crate) fn opt_four<S: Sink>(s: &mut S, id: PropertyId, v: Option<u32>) {
    if let Some(v) = v {
        s.four(id, v);
    }
}
pub(crate) fn opt_str<S: Sink>(s: &mut S, id: PropertyId, v: Option<&str>) {
    if let Some(v) = v {
        s.str(id, v);
    }
}
pub(crate) fn opt_bin<S: Sink>(s: &mut S, id: PropertyId, v: Option<&Bytes>) {
    if let Some(v) = v {
        s.bin(id, v);
    }
}
pub(crate) fn user_properties<S: Sink>(s: &mut S, v: &[UserProperty]) {
    for p in v {
        s.pair(p);
    }
}
