//! Conversation ids: a conversation found once by its number and contact, named after that
//! by an integer.
//!
//! Every send names its number and recipient as text, and finding them again (the number by
//! its text, the contact parsed, the conversation in its index) is about a sixth of a send's
//! work. A host that keeps a record per conversation (a CRM's conversation row, an agent's
//! open chat) can keep this id in it and send with [`Engine::send_to`] and
//! [`Engine::check_send_to`], which decide exactly as the send by name does.
//!
//! An id is the conversation's place in the engine and a 32-bit print of its number and
//! contact by value (their digits, or the text of an opaque id). A conversation keeps its
//! place for the life of the engine; an engine rebuilt by [`Engine::remove_business`] or
//! [`Engine::take_business`], or restored from a snapshot, may hold another conversation
//! there, and the print then tells the id is not its (one stale id in 2³² could pass for
//! another conversation; one of the same number and contact is the same conversation
//! anywhere). Ids are not kept in snapshots: resolve them again after a restore. A
//! [`crate::sharded::ShardedEngine`] has no ids: a business may move between its shards.
//!
//! An id names the conversation, not the name it was found by: a user id the provider
//! later pairs with another phone number (a user who changed numbers) names that number's
//! conversation from then on, while an id found by the user id before still names the old
//! number's. A host whose record is keyed by a user id resolves the id again on a
//! [`crate::Effect::ContactLinked`] with a `previous_phone` (the provider reported the user
//! under a new phone number), and ids found by either name on a
//! [`crate::Effect::ContactUnlinked`] (the phone number changed hands).

use std::hash::Hasher;

use crate::address::AddressKey;
use crate::engine::Engine;
use crate::hash::FastHasher;
use crate::Error;

/// A conversation as an integer, from [`Engine::conversation_id`]; see the module docs. Never
/// `u64::MAX` (an engine holds at most `u32::MAX` conversations), which C hosts read as none.
/// Serialises as that integer (serde), for a host's records that hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ConversationId(u64);

impl ConversationId {
    /// The id as one integer, for a host's own records (and the C binding).
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// An id from [`ConversationId::to_u64`]. Any integer is accepted here; one that names
    /// no conversation of the engine it is given to is refused there.
    pub fn from_u64(raw: u64) -> ConversationId {
        ConversationId(raw)
    }

    fn new(index: u32, print: u32) -> ConversationId {
        ConversationId(u64::from(index) << 32 | u64::from(print))
    }

    fn index(self) -> u32 {
        (self.0 >> 32) as u32
    }

    fn print(self) -> u32 {
        self.0 as u32
    }
}

impl Engine {
    /// The id of the conversation of `number` with `contact` or `group` (exactly one, as in
    /// a send: the conversation a send to them by name reaches), if the engine holds one: a
    /// conversation begins with its first message, so a first send goes by name. Names the
    /// engine refuses are the send's errors. Changes nothing.
    pub fn conversation_id(
        &self,
        number: &str,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<Option<ConversationId>, Error> {
        let conv = self.conversation_named(number, contact, group)?;
        Ok(conv.map(|conv| ConversationId::new(conv, self.conversation_print(conv))))
    }

    /// The conversation an id names, if it is this engine's.
    pub(crate) fn conversation_of(&self, id: ConversationId) -> Result<u32, Error> {
        let conv = id.index();
        if (conv as usize) < self.conversations.len() && self.conversation_print(conv) == id.print()
        {
            Ok(conv)
        } else {
            Err(Error::UnknownConversation { id: id.to_u64() })
        }
    }

    /// Starts bringing the record of the conversation `id` names into the CPU's cache, for a
    /// host about to send to it ([`Engine::send_to`], [`Engine::check_send_to`]). Called an
    /// input or a few ahead of the one that uses it (a host applying a batch: before each
    /// input, the conversation of the input four ahead), the record's fetch from memory
    /// overlaps the work of the inputs before it; at a million conversations that fetch is
    /// the largest wait of a send (docs/PERFORMANCE.md). A hint only: it changes and decides
    /// nothing, and an id of no conversation, or of another engine's, is harmless. Does
    /// nothing on targets other than x86_64.
    #[inline]
    pub fn prefetch(&self, id: ConversationId) {
        if let Some(record) = self.conversations.get(id.index() as usize) {
            #[cfg(target_arch = "x86_64")]
            safe_arch::prefetch_t0(record);
            #[cfg(not(target_arch = "x86_64"))]
            let _ = record;
        }
    }

    /// A print of a conversation's number and contact by value, so that it is the same in
    /// any engine holding that conversation, whatever order its ids were interned in: a
    /// phone number's digits as they are, an opaque id or group by its text.
    #[inline]
    fn conversation_print(&self, conv: u32) -> u32 {
        let c = &self.conversations[conv as usize];
        let number = self.address_word(self.numbers[c.number as usize].address);
        let contact = self.address_word(c.contact);
        // One multiply mixes the two words (the FxHash step); the high half is the print.
        let mixed = (number.rotate_left(29) ^ contact).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> 32) as u32
    }

    /// An address as one word by value: a phone number's digits (the common case, no work),
    /// else a hash of the id's text and kind (an interned index is no value: a rebuilt
    /// engine may give it to another id).
    #[inline]
    fn address_word(&self, key: AddressKey) -> u64 {
        match key.phone_digits() {
            Some(digits) => digits,
            None => self.id_word(key),
        }
    }

    #[cold]
    #[inline(never)]
    fn id_word(&self, key: AddressKey) -> u64 {
        let mut h = FastHasher::default();
        h.write_u8(if key.is_group() { 1 } else { 2 });
        h.write(self.interner.id_text(key).unwrap_or_default().as_bytes());
        h.finish()
    }
}
