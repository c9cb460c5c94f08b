//! MQTT 3.1, 3.1.1 and 5.0 packets: the model, zero-copy decoding, encoding, validation
//! and topic matching. `no_std` + `alloc`, on [`bytes`].
//!
//! One model serves every version: [`Packet`] is an enum of one struct per packet type,
//! each holding the 5.0 fields (properties, reason codes) that older versions simply do
//! not carry. Encoding and decoding take the [`ProtocolVersion`] and refuse what that
//! version cannot express. MQTT 3.1.1 CONNACK and SUBACK return codes become the
//! [`ReasonCode`] of the same meaning.
//!
//! * Decoding: [`Decoder`] takes whole packets off a [`BytesMut`](bytes::BytesMut) as
//!   bytes arrive; a PUBLISH's topic, payload and properties are slices of the received
//!   buffer, never copies. Every rule the specification gives for well-formed packets is
//!   checked, and each refusal is a [`DecodeError`] that names the rule and gives the
//!   reason code for the DISCONNECT it calls for. No input makes it panic.
//! * Borrowed views: [`view::PacketView`] decodes a packet without keeping it, for a
//!   router, bridge or logger: a PUBLISH's topic and payload borrow the caller's bytes,
//!   with no reference count and no allocation, and every check of the owned decode.
//! * Encoding: [`Encode`] writes any packet into a `BytesMut`, computes its size without
//!   writing it, refuses a packet over a maximum packet size, and can hand back a
//!   PUBLISH payload separately for a vectored write. Building an invalid packet is an
//!   [`EncodeError`] that says what to change.
//! * Topics: [`TopicName`] and [`TopicFilter`] are validated, cheap to clone, and
//!   [`TopicFilter::matches`] implements the matching rules, `$`-topics and shared
//!   subscriptions included.
//!
//! # Decoding a stream of packets
//!
//! ```
//! use bytes::BytesMut;
//! use mqtt_proto::{Decoder, Packet, ProtocolVersion, QoS};
//!
//! let mut decoder = Decoder::new(ProtocolVersion::V5).with_maximum_packet_size(1024);
//! let mut received = BytesMut::new();
//! let mut packets = Vec::new();
//! // A CONNACK, then a QoS 1 PUBLISH to "t" with payload "on", arriving in three pieces.
//! for piece in [&b"\x20\x03\x00\x00\x00\x32"[..], b"\x08\x00\x01t\x00\x05\x00o", b"n"] {
//!     received.extend_from_slice(piece);
//!     while let Some(packet) = decoder.decode(&mut received)? {
//!         packets.push(packet);
//!     }
//! }
//! assert!(matches!(packets[0], Packet::ConnAck(_)));
//! let Packet::Publish(publish) = &packets[1] else { unreachable!() };
//! assert_eq!((publish.topic.as_str(), publish.qos), ("t", QoS::AtLeastOnce));
//! assert_eq!(&publish.payload[..], b"on");
//! # Ok::<(), mqtt_proto::DecodeError>(())
//! ```
//!
//! # Building, validating and encoding a PUBLISH with 5.0 properties
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_proto::{
//!     Encode, MqttString, Packet, PacketId, ProtocolVersion, Publish, PublishProperties, QoS,
//!     TopicName, UserProperty,
//! };
//!
//! let properties = PublishProperties {
//!     message_expiry_interval: Some(60),
//!     response_topic: Some(TopicName::try_from("replies/42")?),
//!     correlation_data: Some(Bytes::from_static(b"req-1")),
//!     user_properties: vec![UserProperty::new(
//!         MqttString::try_from("unit")?,
//!         MqttString::try_from("celsius")?,
//!     )],
//!     ..PublishProperties::default()
//! };
//! let publish = Publish::new(TopicName::try_from("sensors/kitchen")?, "21.5")
//!     .with_qos(QoS::AtLeastOnce, PacketId::new(7))
//!     .with_properties(properties);
//!
//! let size = publish.encoded_len(ProtocolVersion::V5)?;
//! let mut buf = BytesMut::new();
//! assert_eq!(publish.encode(ProtocolVersion::V5, &mut buf)?, size);
//! assert_eq!(buf.len(), size);
//! // The same packet does not fit a server whose Maximum Packet Size is 32 bytes:
//! assert!(publish.encode_within(ProtocolVersion::V5, 32, &mut BytesMut::new()).is_err());
//! // ...and 3.1.1 cannot carry properties at all:
//! assert!(publish.encoded_len(ProtocolVersion::V3_1_1).is_err());
//!
//! // Decoding gives back the same packet.
//! let decoded = Packet::decode(buf.freeze(), ProtocolVersion::V5)?;
//! assert_eq!(decoded, Packet::Publish(publish));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! * `std` (default): `bytes/std`. Without it the crate is `#![no_std]` and needs only
//!   `alloc`.

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod decoder;
mod error;
pub mod packet;
mod packet_id;
mod properties;
pub mod property;
mod reason;
mod string;
pub mod topic;
mod version;
pub mod view;
mod wire;

pub use decoder::Decoder;
pub use error::{DecodeError, EncodeError, StringError, TopicError};
pub use packet::{
    AckProperties, Auth, AuthProperties, ConnAck, ConnAckProperties, Connect, ConnectProperties,
    Disconnect, DisconnectProperties, Encode, FixedHeader, MAX_PACKET_SIZE, Packet, PacketType,
    PubAck, PubComp, PubRec, PubRel, Publish, PublishProperties, RetainHandling, Role, SubAck,
    Subscribe, SubscribeProperties, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    UnsubscribeProperties, Will, WillProperties,
};
pub use packet_id::PacketId;
pub use properties::Properties;
pub use property::{PropertyContext, PropertyId, PropertyType, UserProperty};
pub use reason::ReasonCode;
pub use string::{MAX_STRING_LEN, MqttString};
pub use topic::{TopicFilter, TopicName};
pub use version::{ProtocolVersion, QoS};
pub use wire::MAX_VARIABLE_BYTE_INTEGER;
