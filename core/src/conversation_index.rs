//! Finding a conversation by `(number, contact)`.
//!
//! A conversation's record already holds its number and contact, so the index does not
//! keep the keys a second time: it is an open-addressing table (linear probing) of 8-byte
//! slots, each a conversation's position in the engine's `Vec` and a 32-bit tag of its
//! key's hash. A lookup reads one slot line, then the record it names, which the event was
//! about to read anyway; a tag mismatch skips other keys' records unread. A million
//! conversations take a 16 MiB table (a `HashMap<(u32, u64), u32>` took 48 MiB), small
//! enough to stay mostly in the last-level cache, so the lookup rarely misses before the
//! record does.
//!
//! Conversations are never removed (an export copies a business; the source keeps it), so
//! the table only inserts and grows. The tag also gives the home slot, so growing never
//! reads a record.

use crate::address::AddressKey;
use crate::conversation::Conversation;
use crate::hash::FastHasher;
use std::hash::Hasher;

/// A slot: `conv` is [`EMPTY`] for none.
#[derive(Clone, Copy, Debug)]
struct Slot {
    tag: u32,
    conv: u32,
}

/// No conversation: the engine never numbers one `u32::MAX` (see
/// [`ConversationIndex::MAX_CONVERSATIONS`]).
const EMPTY: u32 = u32::MAX;

const VACANT: Slot = Slot {
    tag: 0,
    conv: EMPTY,
};

/// The first table's size.
const MIN_SLOTS: usize = 16;

#[derive(Clone, Debug, Default)]
pub(crate) struct ConversationIndex {
    /// A power of two long, or empty; at most three quarters full, so that probes stay short
    /// (on average at most 2.5 slots to find a conversation and 8.5 to learn it is not
    /// there, mostly within one 64-byte line of eight slots).
    slots: Vec<Slot>,
    len: usize,
}

/// The 32-bit tag of a key: the high half of a mixed 64-bit hash.
fn tag(number: u32, contact: AddressKey) -> u32 {
    let mut h = FastHasher::default();
    h.write_u32(number);
    h.write_u64(contact.0);
    (h.finish() >> 32) as u32
}

impl ConversationIndex {
    /// Conversations the index can hold: positions `0..u32::MAX`, as `u32::MAX` marks an
    /// empty slot.
    pub const MAX_CONVERSATIONS: u64 = u32::MAX as u64;

    /// An index sized for `conversations` without growing (restoring a snapshot).
    pub fn with_capacity(conversations: usize) -> ConversationIndex {
        let mut index = ConversationIndex::default();
        index.resize(slots_for(conversations));
        index
    }

    /// The position of the conversation between `number` and `contact`, whose records are
    /// `conversations`.
    #[inline]
    pub fn get(
        &self,
        conversations: &[Conversation],
        number: u32,
        contact: AddressKey,
    ) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = tag(number, contact);
        let mask = self.slots.len() - 1;
        let mut at = tag as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.conv == EMPTY {
                return None;
            }
            if slot.tag == tag {
                let c = &conversations[slot.conv as usize];
                if c.number == number && c.contact == contact {
                    return Some(slot.conv);
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Adds conversation `conv` between `number` and `contact`, which the index must not
    /// hold yet (the engine looks up before it creates). `conv` is below
    /// [`ConversationIndex::MAX_CONVERSATIONS`].
    pub fn insert(&mut self, number: u32, contact: AddressKey, conv: u32) {
        debug_assert_ne!(conv, EMPTY);
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize(slots_for(self.len + 1).max(self.slots.len() * 2));
        }
        self.place(Slot {
            tag: tag(number, contact),
            conv,
        });
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut at = slot.tag as usize & mask;
        while self.slots[at].conv != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn resize(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, vec![VACANT; slots]);
        for slot in old.into_iter().filter(|s| s.conv != EMPTY) {
            self.place(slot);
        }
    }
}

/// The table size that holds `conversations` at most three quarters full.
fn slots_for(conversations: usize) -> usize {
    (conversations.saturating_mul(4) / 3 + 1)
        .next_power_of_two()
        .max(MIN_SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(keys: &[(u32, u64)]) -> Vec<Conversation> {
        keys.iter()
            .map(|&(n, c)| Conversation::new(n, AddressKey(c)))
            .collect()
    }

    #[test]
    fn finds_what_was_inserted_and_nothing_else() {
        // Enough keys to grow the table several times, some sharing a number or a contact.
        let keys: Vec<(u32, u64)> = (0..5_000u64)
            .map(|i| ((i % 7) as u32, 4_915_000_000_000 + i / 3))
            .collect();
        let convs = records(&keys);
        let mut index = ConversationIndex::default();
        assert_eq!(index.get(&convs, 0, AddressKey(1)), None);
        for (i, &(n, c)) in keys.iter().enumerate() {
            assert_eq!(index.get(&convs, n, AddressKey(c)), None, "{i} not yet in");
            index.insert(n, AddressKey(c), i as u32);
        }
        for (i, &(n, c)) in keys.iter().enumerate() {
            assert_eq!(index.get(&convs, n, AddressKey(c)), Some(i as u32));
        }
        assert_eq!(index.get(&convs, 7, AddressKey(4_915_000_000_000)), None);
        assert_eq!(index.get(&convs, 0, AddressKey(4_915_000_009_999)), None);
        assert!(index.len * 4 <= index.slots.len() * 3, "at most 3/4 full");
    }

    #[test]
    fn presized_tables_do_not_grow() {
        let keys: Vec<(u32, u64)> = (0..1_000u64).map(|i| (1, i)).collect();
        let convs = records(&keys);
        let mut index = ConversationIndex::with_capacity(keys.len());
        let slots = index.slots.len();
        for (i, &(n, c)) in keys.iter().enumerate() {
            index.insert(n, AddressKey(c), i as u32);
        }
        assert_eq!(index.slots.len(), slots);
        assert_eq!(index.get(&convs, 1, AddressKey(999)), Some(999));
    }
}
