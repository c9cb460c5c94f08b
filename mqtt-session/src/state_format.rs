//! The stored form of a [`SessionState`]: stable, versioned bytes that a driver writes to
//! a file (or flash) and reads back after a restart.
//!
//! Layout of format 1 (integers big-endian):
//!
//! | field | bytes |
//! |---|---|
//! | magic `MQTTSS` | 6 |
//! | format version (1) | 1 |
//! | flags: bit 0 the server holds the session, bit 1 packets stored as MQTT 5.0 | 1 |
//! | client identifier (MQTT string: 2-byte length, UTF-8) | 2 + n |
//! | next packet identifier, next operation | 2, 8 |
//! | in flight: count (4), then per message: operation (8), stage (1), closes survived (2), PUBLISH | |
//! | queued: count, then operation (8), queued at in ms (8), closes survived (2), PUBLISH (packet identifier 65535 as a placeholder) | |
//! | incoming QoS 2 identifiers: count, then 2 each | |
//! | requests: count, then has an operation (1), operation (8), SUBSCRIBE or UNSUBSCRIBE | |
//! | subscriptions: count, then has an identifier (1), identifier (4), a SUBSCRIBE of it alone | |
//! | CRC-32 (IEEE) of everything before it | 4 |
//!
//! Each packet is stored as its MQTT encoding (4-byte length first), so reading it back
//! runs every check of the codec. Decoding anything else (another format, a corrupted or
//! truncated state) is a [`StateError`], never a panic, and nothing is allocated beyond
//! what the bytes hold.

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};
use core::fmt;
use mqtt_proto::{
    DecodeError, Encode, EncodeError, MqttString, Packet, PacketId, ProtocolVersion, Publish, QoS,
    Subscribe, Subscription,
};

use crate::event::OperationId;
use crate::journal::{StateChange, StoredMessage};
use crate::session::{InFlight, Queued, Request, Stage};
use crate::state::SessionState;
use crate::time::Instant;

const MAGIC: &[u8; 6] = b"MQTTSS";
/// The format [`SessionState::encode`] writes.
pub const STATE_FORMAT: u8 = 1;
const HAS_SESSION: u8 = 1;
const V5_PACKETS: u8 = 2;

/// Why stored bytes are not a session state this build can read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes do not start with the magic `MQTTSS`: not a stored session state.
    NotAState,
    /// A format this build does not read (written by a newer version of the library).
    UnsupportedFormat(u8),
    /// The bytes end before the state does (a write cut short).
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// The checksum does not match: the bytes were changed after they were written.
    Checksum,
    /// The state holds MQTT 5.0 packets and this build has no `v5` feature.
    NeedsV5,
    /// A stored packet does not decode.
    Packet {
        /// What the packet was.
        what: &'static str,
        /// Why.
        error: DecodeError,
    },
    /// A field holds a value no writer writes.
    Invalid(&'static str),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotAState => {
                f.write_str("not a stored MQTT session state (no MQTTSS magic)")
            }
            StateError::UnsupportedFormat(v) => write!(
                f,
                "stored session state of format {v}; this build reads format {STATE_FORMAT}: use the library version that wrote it"
            ),
            StateError::Truncated { what } => {
                write!(
                    f,
                    "stored session state ends inside {what}: it was cut short"
                )
            }
            StateError::Checksum => {
                f.write_str("stored session state fails its checksum: it is corrupted")
            }
            StateError::NeedsV5 => f.write_str(
                "stored session state holds MQTT 5.0 packets: enable the `v5` feature to read it",
            ),
            StateError::Packet { what, error } => {
                write!(f, "stored session state: {what} does not decode: {error}")
            }
            StateError::Invalid(what) => write!(f, "stored session state: invalid {what}"),
        }
    }
}

impl core::error::Error for StateError {}

/// The version packets are stored with: the superset when this build has it.
fn packet_version() -> ProtocolVersion {
    if ProtocolVersion::V5.is_enabled() {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    }
}

impl SessionState {
    /// The stored form of the state (see the module docs), appended to `out`.
    ///
    /// Fails only for a state no session produces (a packet the codec cannot encode).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let start = out.len();
        let version = packet_version();
        out.put_slice(MAGIC);
        out.put_u8(STATE_FORMAT);
        let mut flags = 0;
        if self.has_session {
            flags |= HAS_SESSION;
        }
        if version.is_v5() {
            flags |= V5_PACKETS;
        }
        out.put_u8(flags);
        put_client_id(out, &self.client_id, version)?;
        out.put_u16(self.next_packet_id);
        out.put_u64(self.next_operation);

        put_count(out, self.in_flight.len());
        for f in &self.in_flight {
            put_in_flight(out, f, version)?;
        }
        put_count(out, self.queued.len());
        for q in &self.queued {
            put_queued(out, q, version)?;
        }
        put_count(out, self.incoming_qos2.len());
        for id in &self.incoming_qos2 {
            out.put_u16(id.get());
        }
        put_subscription_state(out, &self.requests, &self.subscriptions, version)?;
        let crc = crc32(&out[start..]);
        out.put_u32(crc);
        Ok(())
    }

    /// Reads a state stored by [`SessionState::encode`] (the whole of `bytes`).
    pub fn decode(bytes: &[u8]) -> Result<SessionState, StateError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(StateError::NotAState);
        }
        let format = *bytes.get(MAGIC.len()).ok_or(StateError::Truncated {
            what: "the format version",
        })?;
        if format != STATE_FORMAT {
            return Err(StateError::UnsupportedFormat(format));
        }
        let Some(body_len) = bytes.len().checked_sub(4) else {
            return Err(StateError::Truncated {
                what: "the checksum",
            });
        };
        let (body, crc) = bytes.split_at(body_len);
        if body.len() < MAGIC.len() + 2 {
            return Err(StateError::Truncated { what: "the header" });
        }
        if crc32(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(StateError::Checksum);
        }
        let mut r = Reader {
            bytes: &body[MAGIC.len() + 1..],
        };
        let flags = r.u8("the flags")?;
        if flags & !(HAS_SESSION | V5_PACKETS) != 0 {
            return Err(StateError::Invalid("flags"));
        }
        let version = if flags & V5_PACKETS != 0 {
            if !ProtocolVersion::V5.is_enabled() {
                return Err(StateError::NeedsV5);
            }
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        let client_id = r.client_id()?;
        let mut state = SessionState {
            client_id,
            has_session: flags & HAS_SESSION != 0,
            next_packet_id: r.u16("the next packet identifier")?,
            next_operation: r.u64("the next operation")?,
            ..SessionState::default()
        };
        for _ in 0..r.u32("the in-flight count")? {
            state.in_flight.push(r.in_flight(version)?);
        }
        for _ in 0..r.u32("the queue count")? {
            state.queued.push(r.queued(version)?);
        }
        for _ in 0..r.u32("the incoming QoS 2 count")? {
            state
                .incoming_qos2
                .push(r.packet_id("an incoming QoS 2 identifier")?);
        }
        (state.requests, state.subscriptions) = r.subscription_state(version)?;
        if !r.bytes.is_empty() {
            return Err(StateError::Invalid("bytes after the subscriptions"));
        }
        Ok(state)
    }
}

impl StateChange {
    /// The stored form of one change, for a record of a store's log (the log frames and
    /// checksums it): a kind byte (bit 7: packets stored as MQTT 5.0), then the fields as
    /// in the state's stored form.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let version = packet_version();
        let v5 = if version.is_v5() { 0x80 } else { 0 };
        match self {
            StateChange::Outgoing { operation, entry } => match entry {
                None => {
                    out.put_u8(v5);
                    out.put_u64(operation.0);
                }
                Some(StoredMessage::InFlight(f)) => {
                    out.put_u8(v5 | 1);
                    put_in_flight(out, f, version)?;
                }
                Some(StoredMessage::Queued(q)) => {
                    out.put_u8(v5 | 2);
                    put_queued(out, q, version)?;
                }
                Some(StoredMessage::QueuedFirst(q)) => {
                    out.put_u8(v5 | 3);
                    put_queued(out, q, version)?;
                }
            },
            StateChange::IncomingQos2 {
                packet_id,
                awaiting_pubrel,
            } => {
                out.put_u8(v5 | 4);
                out.put_u16(packet_id.get());
                out.put_u8(u8::from(*awaiting_pubrel));
            }
            StateChange::Subscriptions { requests, active } => {
                out.put_u8(v5 | 5);
                put_subscription_state(out, requests, active, version)?;
            }
            StateChange::Identity {
                client_id,
                has_session,
            } => {
                out.put_u8(v5 | 6);
                put_client_id(out, client_id, version)?;
                out.put_u8(u8::from(*has_session));
            }
        }
        Ok(())
    }

    /// Reads a change stored by [`StateChange::encode`] (the whole of `bytes`).
    pub fn decode(bytes: &[u8]) -> Result<StateChange, StateError> {
        let mut r = Reader { bytes };
        let kind = r.u8("the record kind")?;
        let version = if kind & 0x80 != 0 {
            if !ProtocolVersion::V5.is_enabled() {
                return Err(StateError::NeedsV5);
            }
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V3_1_1
        };
        let change = match kind & 0x7F {
            0 => StateChange::Outgoing {
                operation: OperationId(r.u64("a record's operation")?),
                entry: None,
            },
            1 => {
                let f = r.in_flight(version)?;
                StateChange::Outgoing {
                    operation: f.operation,
                    entry: Some(StoredMessage::InFlight(f)),
                }
            }
            2 | 3 => {
                let q = r.queued(version)?;
                StateChange::Outgoing {
                    operation: q.operation,
                    entry: Some(if kind & 0x7F == 2 {
                        StoredMessage::Queued(q)
                    } else {
                        StoredMessage::QueuedFirst(q)
                    }),
                }
            }
            4 => StateChange::IncomingQos2 {
                packet_id: r.packet_id("a record's packet identifier")?,
                awaiting_pubrel: r.flag("a record's PUBREL flag")?,
            },
            5 => {
                let (requests, active) = r.subscription_state(version)?;
                StateChange::Subscriptions { requests, active }
            }
            6 => StateChange::Identity {
                client_id: r.client_id()?,
                has_session: r.flag("a record's session flag")?,
            },
            _ => return Err(StateError::Invalid("record kind")),
        };
        if !r.bytes.is_empty() {
            return Err(StateError::Invalid("bytes after the record"));
        }
        Ok(change)
    }
}

fn put_client_id(
    out: &mut BytesMut,
    client_id: &MqttString,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    let id = client_id.as_str().as_bytes();
    let Ok(len) = u16::try_from(id.len()) else {
        return Err(EncodeError::NotInVersion {
            what: "a client identifier over 65 535 bytes",
            version,
        });
    };
    out.put_u16(len);
    out.put_slice(id);
    Ok(())
}

fn put_in_flight(
    out: &mut BytesMut,
    f: &InFlight,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    out.put_u64(f.operation.0);
    out.put_u8(match f.stage {
        Stage::AwaitingAck => 0,
        Stage::AwaitingPubComp => 1,
    });
    out.put_u16(f.closed_sends);
    put_packet(out, &Packet::Publish(f.publish.clone()), version)
}

fn put_queued(out: &mut BytesMut, q: &Queued, version: ProtocolVersion) -> Result<(), EncodeError> {
    out.put_u64(q.operation.0);
    let ms = q.queued_at.duration_since_origin().as_millis();
    out.put_u64(u64::try_from(ms).unwrap_or(u64::MAX));
    out.put_u16(q.closed_sends);
    let mut publish = q.publish.clone();
    if publish.qos != QoS::AtMostOnce {
        publish.packet_id = Some(PacketId::MAX);
    }
    put_packet(out, &Packet::Publish(publish), version)
}

/// SUBSCRIBE / UNSUBSCRIBE requests not yet acknowledged, with their operations.
type Requests = Vec<(Option<OperationId>, Request)>;
/// Active subscriptions and their Subscription Identifiers.
type Active = Vec<(Subscription, Option<u32>)>;

fn put_subscription_state(
    out: &mut BytesMut,
    requests: &Requests,
    active: &Active,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    put_count(out, requests.len());
    for (operation, request) in requests {
        out.put_u8(u8::from(operation.is_some()));
        out.put_u64(operation.map_or(0, |o| o.0));
        let packet = match request {
            Request::Subscribe(s) => Packet::Subscribe(s.clone()),
            Request::Unsubscribe(u) => Packet::Unsubscribe(u.clone()),
        };
        put_packet(out, &packet, version)?;
    }
    put_count(out, active.len());
    for (subscription, identifier) in active {
        out.put_u8(u8::from(identifier.is_some()));
        out.put_u32(identifier.unwrap_or(0));
        let alone = Subscribe::new(PacketId::MAX, alloc::vec![subscription.clone()]);
        put_packet(out, &Packet::Subscribe(alone), version)?;
    }
    Ok(())
}

fn put_count(out: &mut BytesMut, n: usize) {
    out.put_u32(u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_packet(
    out: &mut BytesMut,
    packet: &Packet,
    version: ProtocolVersion,
) -> Result<(), EncodeError> {
    let at = out.len();
    out.put_u32(0);
    let n = packet.encode(version, out)?;
    // A packet is at most 268 435 460 bytes: its length fits.
    out[at..at + 4].copy_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes());
    Ok(())
}

/// Reads the body after the format byte; every read checks the bytes left.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StateError> {
        if self.bytes.len() < n {
            return Err(StateError::Truncated { what });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], StateError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, StateError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, StateError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(StateError::Invalid(what)),
        }
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, StateError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, StateError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, StateError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn packet(
        &mut self,
        what: &'static str,
        version: ProtocolVersion,
    ) -> Result<Packet, StateError> {
        let len = self.u32(what)? as usize;
        let bytes = Bytes::copy_from_slice(self.take(len, what)?);
        Packet::decode(bytes, version).map_err(|error| StateError::Packet { what, error })
    }

    fn client_id(&mut self) -> Result<MqttString, StateError> {
        let len = usize::from(self.u16("the client identifier")?);
        let id = self.take(len, "the client identifier")?;
        core::str::from_utf8(id)
            .ok()
            .and_then(|s| MqttString::try_from(s).ok())
            .ok_or(StateError::Invalid("client identifier"))
    }

    fn packet_id(&mut self, what: &'static str) -> Result<PacketId, StateError> {
        PacketId::new(self.u16(what)?).ok_or(StateError::Invalid("packet identifier 0"))
    }

    fn in_flight(&mut self, version: ProtocolVersion) -> Result<InFlight, StateError> {
        let operation = OperationId(self.u64("an in-flight operation")?);
        let stage = match self.u8("an in-flight stage")? {
            0 => Stage::AwaitingAck,
            1 => Stage::AwaitingPubComp,
            _ => return Err(StateError::Invalid("in-flight stage")),
        };
        let closed_sends = self.u16("an in-flight message's closes")?;
        let publish = self.publish("an in-flight PUBLISH", version)?;
        if publish.packet_id.is_none() {
            return Err(StateError::Invalid(
                "in-flight message without packet identifier",
            ));
        }
        let mut f = InFlight::new(operation, publish, stage);
        f.closed_sends = closed_sends;
        Ok(f)
    }

    fn queued(&mut self, version: ProtocolVersion) -> Result<Queued, StateError> {
        let operation = OperationId(self.u64("a queued operation")?);
        let queued_at = Instant::from_millis(self.u64("a queued instant")?);
        let closed_sends = self.u16("a queued message's closes")?;
        let mut publish = self.publish("a queued PUBLISH", version)?;
        publish.packet_id = None;
        let mut q = Queued::new(operation, publish, queued_at);
        q.closed_sends = closed_sends;
        Ok(q)
    }

    fn subscription_state(
        &mut self,
        version: ProtocolVersion,
    ) -> Result<(Requests, Active), StateError> {
        let mut requests = Vec::new();
        for _ in 0..self.u32("the request count")? {
            let has_operation = self.flag("a request's operation flag")?;
            let operation = self.u64("a request's operation")?;
            let request = match self.packet("a SUBSCRIBE or UNSUBSCRIBE", version)? {
                Packet::Subscribe(s) => Request::Subscribe(s),
                Packet::Unsubscribe(u) => Request::Unsubscribe(u),
                _ => return Err(StateError::Invalid("request packet type")),
            };
            requests.push((has_operation.then_some(OperationId(operation)), request));
        }
        let mut active = Vec::new();
        for _ in 0..self.u32("the subscription count")? {
            let has_identifier = self.flag("a subscription's identifier flag")?;
            let identifier = self.u32("a subscription identifier")?;
            let Packet::Subscribe(s) = self.packet("a subscription", version)? else {
                return Err(StateError::Invalid("subscription packet type"));
            };
            let Ok([subscription]) = <[_; 1]>::try_from(s.subscriptions) else {
                return Err(StateError::Invalid("subscription count in its SUBSCRIBE"));
            };
            active.push((subscription, has_identifier.then_some(identifier)));
        }
        Ok((requests, active))
    }

    fn publish(
        &mut self,
        what: &'static str,
        version: ProtocolVersion,
    ) -> Result<Publish, StateError> {
        match self.packet(what, version)? {
            Packet::Publish(p) => Ok(p),
            _ => Err(StateError::Invalid("message packet type")),
        }
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's), byte-wise with a table built at compile
/// time: the checksum of the stored forms, for a store to frame its records with too.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
