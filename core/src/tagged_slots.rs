//! An index whose keys live elsewhere: an open-addressing table (linear probing) of 8-byte
//! slots, each a 32-bit tag of a key's hash and a 32-bit value (a position in the table
//! that holds the records, and with them the keys).
//!
//! A lookup compares tags and asks the caller about a record only when the tags match, so a
//! key that is not there (most of them, for duplicate records) costs one slot line and no
//! record read. The tag's low bits are the home slot, so growing reads tags only. The
//! conversation index, the number index and the duplicate log are all built on it.

use std::hash::Hasher;

use crate::hash::FastHasher;

/// Tag 0 marks an empty slot.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    tag: u32,
    value: u32,
}

const MIN_SLOTS: usize = 16;

/// The tag of a 64-bit hash: its high half (the low half feeds other tables' hashers the
/// same way), never 0.
pub(crate) fn tag_of(hash: u64) -> u32 {
    ((hash >> 32) as u32).max(1)
}

/// The tag of a two-word key (every table on these slots has one), by the engine's hasher.
#[inline]
pub(crate) fn tag_of_words(first: u64, second: u64) -> u32 {
    let mut h = FastHasher::default();
    h.write_u64(first);
    h.write_u64(second);
    tag_of(h.finish())
}

#[derive(Clone, Debug, Default)]
pub(crate) struct TaggedSlots {
    /// A power of two long, or empty; at most three quarters full, so that probes stay short
    /// (on average at most 2.5 slots to find a key and 8.5 to learn it is not there, mostly
    /// within one 64-byte line of eight slots).
    slots: Vec<Slot>,
    len: usize,
}

impl TaggedSlots {
    /// A table holding `keys` without growing.
    pub fn with_capacity(keys: usize) -> TaggedSlots {
        let mut table = TaggedSlots::default();
        table.resize(slots_for(keys));
        table
    }

    /// Keys held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// The slot of the key tagged `tag` whose record `is_key(value)` recognises.
    #[inline]
    pub fn find(&self, tag: u32, mut is_key: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = tag as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.tag == 0 {
                return None;
            }
            if slot.tag == tag && is_key(slot.value) {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
    }

    /// The value in slot `at` (from [`TaggedSlots::find`]).
    #[inline]
    pub fn value(&self, at: usize) -> u32 {
        self.slots[at].value
    }

    #[inline]
    pub fn set_value(&mut self, at: usize, value: u32) {
        self.slots[at].value = value;
    }

    /// Adds a key tagged `tag` (from [`tag_of`]) that the table does not hold yet.
    #[inline]
    pub fn insert(&mut self, tag: u32, value: u32) {
        debug_assert_ne!(tag, 0);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize(slots_for(self.len + 1).max(self.slots.len() * 2));
        }
        self.place(Slot { tag, value });
        self.len += 1;
    }

    /// Empties slot `hole`, moving later slots of its probe run back so that every key
    /// stays reachable from its home slot without tombstones.
    pub fn remove(&mut self, mut hole: usize) {
        let mask = self.slots.len() - 1;
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            let slot = self.slots[next];
            if slot.tag == 0 {
                break;
            }
            let home = slot.tag as usize & mask;
            // The slot may fill the hole only if its home is not cyclically in (hole, next].
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.slots[hole] = slot;
                hole = next;
            }
        }
        self.slots[hole] = Slot::default();
        self.len -= 1;
    }

    /// Gives memory back once below an eighth full (after a burst expired).
    pub fn shrink_when_sparse(&mut self) {
        if self.slots.len() > MIN_SLOTS && self.len * 8 < self.slots.len() {
            self.resize(slots_for(self.len));
        }
    }

    #[cfg(test)]
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut at = slot.tag as usize & mask;
        while self.slots[at].tag != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); slots]);
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            self.place(slot);
        }
    }
}

/// The table size that holds `keys` at most three quarters full.
fn slots_for(keys: usize) -> usize {
    (keys.saturating_mul(4) / 3 + 1)
        .next_power_of_two()
        .max(MIN_SLOTS)
}
