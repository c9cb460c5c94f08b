//! The packet identifier pool shared by PUBLISH, SUBSCRIBE and UNSUBSCRIBE.

use alloc::boxed::Box;
use mqtt_proto::PacketId;

/// Identifiers per block of the bitmap: 4096 (a 512-byte block).
const BLOCK_IDS: usize = 4096;
const BLOCKS: usize = 65_536 / BLOCK_IDS;
const BLOCK_WORDS: usize = BLOCK_IDS / 64;

/// Which packet identifiers are in use. One pool serves QoS 1/2 PUBLISH, SUBSCRIBE and
/// UNSUBSCRIBE ([MQTT-2.2.1-3]); an identifier in use is never handed out again
/// ([MQTT-2.3.1-2]) until its final acknowledgement frees it ([MQTT-2.3.1-3]).
///
/// A bitmap in 16 blocks of 4096 identifiers, each allocated when one of its identifiers
/// is first used and freed by [`PacketIds::shrink`] once none is: an idle session holds
/// no heap for it, a busy one about 512 B.
pub(crate) struct PacketIds {
    blocks: [Option<Box<[u64; BLOCK_WORDS]>>; BLOCKS],
    counts: [u16; BLOCKS],
    in_use: usize,
    next: u16,
}

impl PacketIds {
    pub(crate) fn new() -> PacketIds {
        PacketIds {
            blocks: Default::default(),
            counts: [0; BLOCKS],
            in_use: 0,
            next: 1,
        }
    }

    /// How many identifiers are in use.
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }

    fn place(id: PacketId) -> (usize, usize, u64) {
        let i = usize::from(id.get());
        (i / BLOCK_IDS, (i % BLOCK_IDS) / 64, 1u64 << (i % 64))
    }

    /// Marks `id` as in use (restoring state); false if it already was.
    pub(crate) fn insert(&mut self, id: PacketId) -> bool {
        let (b, w, bit) = PacketIds::place(id);
        let block = self.blocks[b].get_or_insert_with(|| Box::new([0; BLOCK_WORDS]));
        if block[w] & bit != 0 {
            return false;
        }
        block[w] |= bit;
        self.counts[b] += 1;
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
        let (b, w, bit) = PacketIds::place(id);
        let Some(block) = &mut self.blocks[b] else {
            return false;
        };
        if block[w] & bit == 0 {
            return false;
        }
        block[w] &= !bit;
        self.counts[b] -= 1;
        self.in_use -= 1;
        true
    }

    /// Frees the blocks no identifier in use needs (kept until then, so that a busy
    /// session allocates nothing per message).
    pub(crate) fn shrink(&mut self) {
        for (block, count) in self.blocks.iter_mut().zip(self.counts) {
            if count == 0 {
                *block = None;
            }
        }
    }

    /// Frees every identifier.
    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.blocks = Default::default();
        self.counts = [0; BLOCKS];
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

    #[test]
    fn blocks_are_freed_when_empty() {
        let mut ids = PacketIds::new();
        let a = ids.allocate().unwrap();
        assert!(ids.blocks[0].is_some());
        assert!(ids.release(a));
        assert!(
            ids.blocks[0].is_some(),
            "kept while busy: no allocation per message"
        );
        ids.shrink();
        assert!(
            ids.blocks.iter().all(Option::is_none),
            "an idle pool holds no heap"
        );
        // Across a block boundary.
        ids.set_next_hint(4095);
        let x = ids.allocate().unwrap();
        let y = ids.allocate().unwrap();
        assert_eq!((x.get(), y.get()), (4095, 4096));
        assert!(ids.blocks[0].is_some() && ids.blocks[1].is_some());
        assert!(ids.release(x) && !ids.release(x));
        ids.shrink();
        assert!(ids.blocks[0].is_none() && ids.blocks[1].is_some());
        assert_eq!(ids.in_use(), 1);
    }
}
