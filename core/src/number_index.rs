//! Finding a registered number, by its address or by the text an event names it with.
//!
//! Every input names its number as text, so this runs once per event. Hosts nearly always
//! send a number in the canonical form it was registered in (`+` and its digits), and
//! numbers are few (one to a few thousand per engine). So beside the map from address to
//! number, the index keeps each phone number's canonical text as two words and finds an
//! input by comparing words: no parsing, no hashing of the parsed address, one tagged slot
//! (about 30 instructions where parsing and the map took about 140). Any other spelling
//! misses here and is parsed, giving the same number, or the same error, as before.
//!
//! An engine never removes a number (an export copies a business; removing a business
//! builds its engine again without it). The sharded engine's routes, a table of the same
//! kind, forget a business's numbers when it moves out: `remove` keeps the texts dense.

use crate::address::AddressKey;
use crate::hash::FastMap;
use crate::tagged_slots::{tag_of_words, TaggedSlots};

/// Canonical text as a key: its length and two words covering its bytes (the first eight,
/// the last eight, overlapping for texts shorter than 16), which with the length give the
/// text back exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TextKey {
    first: u64,
    last: u64,
    len: usize,
}

impl TextKey {
    /// The key of `text`, if it is 9 to 16 bytes long: every canonical phone number is (`+`
    /// and 8 to 15 digits), so other lengths are not one.
    #[inline]
    fn of(text: &str) -> Option<TextKey> {
        let bytes = text.as_bytes();
        if !(9..=16).contains(&bytes.len()) {
            return None;
        }
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        Some(TextKey {
            first: word(0),
            last: word(bytes.len() - 8),
            len: bytes.len(),
        })
    }

    #[inline]
    fn tag(self) -> u32 {
        tag_of_words(self.first, self.last ^ self.len as u64)
    }
}

/// Registered numbers by address and by canonical text.
#[derive(Clone, Debug, Default)]
pub(crate) struct NumberIndex {
    by_address: FastMap<AddressKey, u32>,
    /// Positions in `texts`, by the tag of the text.
    by_text: TaggedSlots,
    /// Each phone number's canonical text and its number.
    texts: Vec<(TextKey, u32)>,
}

impl NumberIndex {
    /// The number registered at `address`.
    #[inline]
    pub fn get(&self, address: &AddressKey) -> Option<&u32> {
        self.by_address.get(address)
    }

    /// The number whose canonical text is exactly `text`; `None` for anything else, which
    /// the caller then parses.
    #[inline]
    pub fn by_canonical_text(&self, text: &str) -> Option<u32> {
        let key = TextKey::of(text)?;
        let texts = &self.texts;
        let at = self
            .by_text
            .find(key.tag(), |i| texts[i as usize].0 == key)?;
        Some(texts[self.by_text.value(at) as usize].1)
    }

    /// Registers `number` at `address`; the number previously there, if any, is returned and
    /// kept (as `HashMap::insert` reports a repeat, for the caller to refuse it).
    pub fn insert(&mut self, address: AddressKey, number: u32) -> Option<u32> {
        if let Some(&previous) = self.by_address.get(&address) {
            return Some(previous);
        }
        self.by_address.insert(address, number);
        if let Some(key) = address.phone_text().as_deref().and_then(TextKey::of) {
            self.by_text.insert(key.tag(), self.texts.len() as u32);
            self.texts.push((key, number));
        }
        None
    }

    /// Forgets the number at `address`; what it was, if any. The last canonical text takes
    /// the removed one's place, so the table stays dense.
    pub fn remove(&mut self, address: &AddressKey) -> Option<u32> {
        let number = self.by_address.remove(address)?;
        if let Some(key) = address.phone_text().as_deref().and_then(TextKey::of) {
            let texts = &self.texts;
            let at = self
                .by_text
                .find(key.tag(), |i| texts[i as usize].0 == key)
                .expect("every registered phone number has its text");
            let position = self.by_text.value(at);
            self.by_text.remove(at);
            let last = (self.texts.len() - 1) as u32;
            if position != last {
                let moved = self.texts[last as usize].0;
                let slot = self
                    .by_text
                    .find(moved.tag(), |i| i == last)
                    .expect("every registered phone number has its text");
                self.by_text.set_value(slot, position);
            }
            self.texts.swap_remove(position as usize);
        }
        Some(number)
    }
}

impl std::ops::Index<&AddressKey> for NumberIndex {
    type Output = u32;

    fn index(&self, address: &AddressKey) -> &u32 {
        &self.by_address[address]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Interner;

    #[test]
    fn canonical_texts_find_their_number_and_nothing_else_does() {
        let mut interner = Interner::default();
        let mut index = NumberIndex::default();
        // Enough numbers to grow the slot table several times, of every canonical length.
        let texts: Vec<String> = (0..3_000u64)
            .map(|i| format!("+{}", 10_000_000 * 10u64.pow((i % 8) as u32) + i))
            .collect();
        for (i, text) in texts.iter().enumerate() {
            let address = interner.address(text).unwrap();
            assert_eq!(index.insert(address, i as u32), None);
            assert_eq!(index.insert(address, 99_999), Some(i as u32), "kept");
        }
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(index.by_canonical_text(text), Some(i as u32), "{text}");
            let address = interner.find_address(text).unwrap().unwrap();
            assert_eq!(index.get(&address), Some(&(i as u32)));
            assert_eq!(index[&address], i as u32);
        }
        // Other spellings of a registered number, and unregistered numbers, are not found
        // here (the engine parses them).
        let registered = &texts[5];
        for other in [
            registered.replacen('+', "00", 1),
            format!(" {registered}"),
            registered[1..].to_owned(),
            registered[..registered.len() - 1].to_owned(),
            "+19999999999".to_owned(),
            "+4915000000001".to_owned(),
            String::new(),
        ] {
            assert_eq!(index.by_canonical_text(&other), None, "{other}");
        }
    }

    #[test]
    fn removed_numbers_are_forgotten_and_the_others_still_found() {
        let mut interner = Interner::default();
        let mut index = NumberIndex::default();
        let texts: Vec<String> = (0..500u64).map(|i| format!("+1555{i:07}")).collect();
        let opaque = interner.address("biz-line-00001").unwrap();
        for (i, text) in texts.iter().enumerate() {
            index.insert(interner.address(text).unwrap(), i as u32);
        }
        index.insert(opaque, 500);
        // Every third number, the last and the first included, in an order that moves texts.
        let removed: Vec<usize> = (0..500).rev().step_by(3).chain([0]).collect();
        for &i in &removed {
            let address = interner.find_address(&texts[i]).unwrap().unwrap();
            assert_eq!(index.remove(&address), Some(i as u32));
            assert_eq!(index.remove(&address), None, "gone");
        }
        assert_eq!(index.remove(&opaque), Some(500));
        for (i, text) in texts.iter().enumerate() {
            let address = interner.find_address(text).unwrap().unwrap();
            let expected = (!removed.contains(&i)).then_some(i as u32);
            assert_eq!(index.by_canonical_text(text), expected, "{text}");
            assert_eq!(index.get(&address).copied(), expected, "{text}");
        }
        // A removed number can be registered again.
        let again = interner.find_address(&texts[0]).unwrap().unwrap();
        assert_eq!(index.insert(again, 7), None);
        assert_eq!(index.by_canonical_text(&texts[0]), Some(7));
    }

    #[test]
    fn ids_that_are_not_phone_numbers_are_found_by_address_only() {
        let mut interner = Interner::default();
        let mut index = NumberIndex::default();
        let address = interner.address("biz-line-00001").unwrap();
        assert_eq!(index.insert(address, 0), None);
        assert_eq!(index.get(&address), Some(&0));
        assert_eq!(index.by_canonical_text("biz-line-00001"), None);
    }
}
