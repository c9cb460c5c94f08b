//! Packet identifiers.

use core::fmt;
use core::num::NonZeroU16;

/// A packet identifier: the non-zero 16-bit number that pairs SUBSCRIBE, UNSUBSCRIBE and
/// QoS 1/2 PUBLISH packets with their acknowledgements.
///
/// Zero is not a packet identifier ([MQTT-2.3.1-1], [MQTT-2.2.1-3]), so this type cannot
/// hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId(NonZeroU16);

impl PacketId {
    /// The smallest packet identifier, 1.
    pub const MIN: PacketId = PacketId(NonZeroU16::MIN);
    /// The largest packet identifier, 65535.
    pub const MAX: PacketId = PacketId(NonZeroU16::MAX);

    /// The packet identifier `value`, or `None` for 0.
    pub const fn new(value: u16) -> Option<PacketId> {
        match NonZeroU16::new(value) {
            Some(v) => Some(PacketId(v)),
            None => None,
        }
    }

    /// The identifier as a number (never 0).
    pub const fn get(self) -> u16 {
        self.0.get()
    }

    /// The next identifier, wrapping from 65535 to 1.
    pub const fn next(self) -> PacketId {
        match NonZeroU16::new(self.0.get().wrapping_add(1)) {
            Some(v) => PacketId(v),
            None => PacketId::MIN,
        }
    }
}

impl From<PacketId> for u16 {
    fn from(id: PacketId) -> u16 {
        id.get()
    }
}

impl From<NonZeroU16> for PacketId {
    fn from(value: NonZeroU16) -> PacketId {
        PacketId(value)
    }
}

impl fmt::Display for PacketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
