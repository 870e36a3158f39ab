//! Finding a conversation by `(number, contact)`.
//!
//! A conversation's record already holds its number and contact, so the index does not
//! keep the keys a second time: it is a [`TaggedSlots`] table of conversation positions. A
//! lookup reads one slot line, then the record it names, which the event was about to read
//! anyway; a tag mismatch skips other keys' records unread. A million conversations take a
//! 16 MiB table (a `HashMap<(u32, u64), u32>` took 48 MiB), small enough to stay mostly in
//! the last-level cache, so the lookup rarely misses before the record does.
//!
//! Conversations are never removed (an export copies a business; the source keeps it), so
//! the index only inserts and grows.

use crate::address::AddressKey;
use crate::conversation::Conversation;
use crate::tagged_slots::{tag_of_words, TaggedSlots};

#[derive(Clone, Debug, Default)]
pub(crate) struct ConversationIndex(TaggedSlots);

fn tag(number: u32, contact: AddressKey) -> u32 {
    tag_of_words(u64::from(number), contact.0)
}

impl ConversationIndex {
    /// An index sized for `conversations` without growing (restoring a snapshot).
    pub fn with_capacity(conversations: usize) -> ConversationIndex {
        ConversationIndex(TaggedSlots::with_capacity(conversations))
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
        let at = self.0.find(tag(number, contact), |conv| {
            let c = &conversations[conv as usize];
            c.number == number && c.contact == contact
        })?;
        Some(self.0.value(at))
    }

    /// Adds conversation `conv` between `number` and `contact`, which the index must not
    /// hold yet (the engine looks up before it creates).
    pub fn insert(&mut self, number: u32, contact: AddressKey, conv: u32) {
        self.0.insert(tag(number, contact), conv);
    }
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
        assert!(
            index.0.len() * 4 <= index.0.slot_count() * 3,
            "at most 3/4 full"
        );
    }

    #[test]
    fn presized_tables_do_not_grow() {
        let keys: Vec<(u32, u64)> = (0..1_000u64).map(|i| (1, i)).collect();
        let convs = records(&keys);
        let mut index = ConversationIndex::with_capacity(keys.len());
        let slots = index.0.slot_count();
        for (i, &(n, c)) in keys.iter().enumerate() {
            index.insert(n, AddressKey(c), i as u32);
        }
        assert_eq!(index.0.slot_count(), slots);
        assert_eq!(index.get(&convs, 1, AddressKey(999)), Some(999));
    }
}
