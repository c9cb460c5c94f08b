//! The packet identifier pool shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE.

use alloc::boxed::Box;
use mqtt_proto::PacketId;

const WORDS: usize = 65_536 / 64;

/// Which packet identifiers are in use. One pool serves QoS 1/2 PUBLISH, SUBSCRIBE and
/// UNSUBSCRIBE ([MQTT-2.2.1-3]); an identifier in use is never handed out again
/// ([MQTT-2.3.1-2]) until its final acknowledgement frees it ([MQTT-2.3.1-3]).
pub(crate) struct PacketIds {
    used: Box<[u64; WORDS]>,
    in_use: usize,
    next: u16,
}

impl PacketIds {
    pub(crate) fn new() -> PacketIds {
        PacketIds {
            used: Box::new([0; WORDS]),
            in_use: 0,
            next: 1,
        }
    }

    /// How many identifiers are in use.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }

    /// Marks `id` as in use (restoring state); false if it already was.
    pub(crate) fn insert(&mut self, id: PacketId) -> bool {
        let i = usize::from(id.get());
        let bit = 1u64 << (i % 64);
        if self.used[i / 64] & bit != 0 {
            return false;
        }
        self.used[i / 64] |= bit;
        self.in_use += 1;
        true
    }

    /// Takes the next free identifier after the last one handed out, or `None` when all
    /// 65,535 are in use.
    pub(crate) fn allocate(&mut self) -> Option<PacketId> {
        if self.in_use >= 65_535 {
            return None;
        }
        let mut candidate = self.next;
        loop {
            let id = PacketId::new(candidate).unwrap_or(PacketId::MIN);
            if self.insert(id) {
                self.next = id.next().get();
                return Some(id);
            }
            candidate = id.next().get();
        }
    }

    /// Frees `id`; false if it was not in use.
    pub(crate) fn release(&mut self, id: PacketId) -> bool {
        let i = usize::from(id.get());
        let bit = 1u64 << (i % 64);
        if self.used[i / 64] & bit == 0 {
            return false;
        }
        self.used[i / 64] &= !bit;
        self.in_use -= 1;
        true
    }

    /// Frees every identifier.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.used.fill(0);
        self.in_use = 0;
    }

    /// The next identifier `allocate` starts from.
    pub(crate) fn next_hint(&self) -> u16 {
        self.next
    }

    /// Sets where `allocate` starts from.
    pub(crate) fn set_next_hint(&mut self, next: u16) {
        self.next = next.max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // [MQTT-2.3.1-2] [MQTT-2.2.1-3]: an identifier in use is never handed out again.
    #[test]
    fn never_reuses_an_identifier_in_use() {
        let mut ids = PacketIds::new();
        let a = ids.allocate().unwrap();
        let b = ids.allocate().unwrap();
        assert_ne!(a, b);
        for _ in 0..65_533 {
            let id = ids.allocate().unwrap();
            assert!(id != a && id != b);
        }
        assert_eq!(ids.allocate(), None, "all 65535 identifiers are in use");
        assert!(ids.release(a));
        assert_eq!(ids.allocate(), Some(a));
    }

    // [MQTT-2.3.1-3]: freed only by the final acknowledgement, then usable again.
    #[test]
    fn release_frees_and_wraps() {
        let mut ids = PacketIds::new();
        ids.set_next_hint(65_535);
        assert_eq!(ids.allocate().unwrap().get(), 65_535);
        assert_eq!(
            ids.allocate().unwrap().get(),
            1,
            "wraps past 65535 to 1, never 0"
        );
        assert!(!ids.release(PacketId::new(7).unwrap()));
        assert_eq!(ids.in_use(), 2);
        ids.clear();
        assert_eq!(ids.in_use(), 0);
    }
}
