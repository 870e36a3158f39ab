//! One conversation's record, as a million of them are kept: 64 bytes, one cache line.
//!
//! Every inbound and every send reads and writes this record, so at a million conversations
//! its size is the cache misses an event costs. What most events need lives here, packed:
//! the window's two instants and the live chat's three as [`MaybeInstant`]s (not
//! `Option<Instant>`, which doubles each), the ticket as its id and a status
//! byte beside the flags. The record is aligned to 64 bytes so that it never straddles two
//! lines. Snapshots still write the unpacked form ([`ConversationRecord`]), so the format is
//! unchanged.

use serde::{Deserialize, Serialize};

use crate::address::AddressKey;
use crate::chat::{ChatTimes, Ticket, TicketStatus};
use crate::time::MaybeInstant;
use crate::window::WindowState;

/// Per-conversation state; see the engine's module docs for what lives elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ConversationRecord", into = "ConversationRecord")]
#[repr(align(64))]
pub(crate) struct Conversation {
    pub number: u32,
    pub contact: AddressKey,
    pub window: StoredWindow,
    /// The current ticket's id; [`Conversation::NO_TICKET`] for none (ids start at 1).
    ticket_id: u64,
    ticket_status: TicketStatus,
    /// The contact has written to this number at least once.
    pub has_written: bool,
    /// The reminder for the current window end was emitted.
    pub reminded: bool,
    /// The live chat, kept inline because every inbound and every reply reads it (a side
    /// table cost one more cache miss per event at a million conversations). Snapshots list
    /// live chats separately.
    chat: StoredChat,
}

impl Conversation {
    const NO_TICKET: u64 = 0;

    /// A conversation nobody has written in yet.
    pub fn new(number: u32, contact: AddressKey) -> Conversation {
        Conversation {
            number,
            contact,
            window: StoredWindow::default(),
            ticket_id: Conversation::NO_TICKET,
            ticket_status: TicketStatus::Open,
            has_written: false,
            reminded: false,
            chat: StoredChat::default(),
        }
    }

    pub fn ticket(&self) -> Option<Ticket> {
        (self.ticket_id != Conversation::NO_TICKET).then_some(Ticket {
            id: self.ticket_id,
            status: self.ticket_status,
        })
    }

    /// Makes `ticket` the current one; its id is never 0 (the engine counts from 1, and
    /// snapshots with a ticket 0 are refused).
    pub fn set_ticket(&mut self, ticket: Ticket) {
        debug_assert_ne!(ticket.id, Conversation::NO_TICKET);
        self.ticket_id = ticket.id;
        self.ticket_status = ticket.status;
    }

    /// Leaves the conversation without a current ticket: the next chat starts a new one (the
    /// phone number changed hands, and the ticket was its previous owner's).
    pub fn clear_ticket(&mut self) {
        self.ticket_id = Conversation::NO_TICKET;
        self.ticket_status = TicketStatus::Open;
    }

    /// The live chat's instants (see [`ChatTimes`] for where the rest is kept).
    pub fn chat_times(&self) -> Option<ChatTimes> {
        self.chat.get()
    }

    pub fn set_chat_times(&mut self, chat: Option<ChatTimes>) {
        self.chat = StoredChat::stored(chat);
    }
}

/// [`Conversation`] in snapshots and exports: the unpacked fields, in the order they have
/// always been written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConversationRecord {
    number: u32,
    contact: AddressKey,
    window: StoredWindow,
    ticket: Option<Ticket>,
    has_written: bool,
    reminded: bool,
}

impl TryFrom<ConversationRecord> for Conversation {
    type Error = String;

    fn try_from(r: ConversationRecord) -> Result<Conversation, String> {
        let mut c = Conversation::new(r.number, r.contact);
        c.window = r.window;
        c.has_written = r.has_written;
        c.reminded = r.reminded;
        if let Some(ticket) = r.ticket {
            if ticket.id == Conversation::NO_TICKET {
                return Err("a conversation's ticket has id 0: ticket ids start at 1".into());
            }
            c.set_ticket(ticket);
        }
        Ok(c)
    }
}

impl From<Conversation> for ConversationRecord {
    fn from(c: Conversation) -> ConversationRecord {
        ConversationRecord {
            number: c.number,
            contact: c.contact,
            window: c.window,
            ticket: c.ticket(),
            has_written: c.has_written,
            reminded: c.reminded,
        }
    }
}

/// A conversation's [`WindowState`] as stored: 16 bytes, not the 32 of two
/// `Option<Instant>`s; snapshots still write the two optional instants.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "WindowState", into = "WindowState")]
pub(crate) struct StoredWindow {
    last_inbound: MaybeInstant,
    provider_closed: MaybeInstant,
}

impl StoredWindow {
    pub fn get(self) -> WindowState {
        WindowState {
            last_inbound_at: self.last_inbound.get(),
            provider_closed_at: self.provider_closed.get(),
        }
    }

    pub fn set(&mut self, w: WindowState) {
        *self = StoredWindow::from(w);
    }
}

impl From<WindowState> for StoredWindow {
    fn from(w: WindowState) -> StoredWindow {
        StoredWindow {
            last_inbound: MaybeInstant::new(w.last_inbound_at),
            provider_closed: MaybeInstant::new(w.provider_closed_at),
        }
    }
}

impl From<StoredWindow> for WindowState {
    fn from(w: StoredWindow) -> WindowState {
        w.get()
    }
}

/// An optional [`ChatTimes`] as stored: 24 bytes, not 40; no chat when `started` is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct StoredChat {
    started: MaybeInstant,
    last_activity: MaybeInstant,
    waiting_since: MaybeInstant,
}

impl StoredChat {
    fn stored(chat: Option<ChatTimes>) -> StoredChat {
        match chat {
            Some(c) => StoredChat {
                started: MaybeInstant::new(Some(c.started_at)),
                last_activity: MaybeInstant::new(Some(c.last_activity_at)),
                waiting_since: MaybeInstant::new(c.waiting_since),
            },
            None => StoredChat::default(),
        }
    }

    fn get(self) -> Option<ChatTimes> {
        Some(ChatTimes {
            started_at: self.started.get()?,
            last_activity_at: self.last_activity.get()?,
            waiting_since: self.waiting_since.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    #[test]
    fn a_record_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Conversation>(), 64);
        assert_eq!(std::mem::align_of::<Conversation>(), 64);
    }

    fn at(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn packed_fields_read_back_what_was_set() {
        let mut c = Conversation::new(3, AddressKey(4_915_000_000_001));
        assert_eq!((c.ticket(), c.chat_times()), (None, None));
        let ticket = Ticket {
            id: 7,
            status: TicketStatus::Pending,
        };
        c.set_ticket(ticket);
        assert_eq!(c.ticket(), Some(ticket));
        for chat in [
            ChatTimes {
                started_at: at(0),
                last_activity_at: at(5),
                waiting_since: Some(at(0)),
            },
            ChatTimes {
                started_at: at(10),
                last_activity_at: at(20),
                waiting_since: None,
            },
        ] {
            c.set_chat_times(Some(chat));
            assert_eq!(c.chat_times(), Some(chat));
        }
        c.set_chat_times(None);
        assert_eq!(c.chat_times(), None);
        assert_eq!(c.ticket(), Some(ticket));
    }

    #[test]
    fn snapshots_keep_the_unpacked_form() {
        let mut c = Conversation::new(1, AddressKey(4_915_000_000_002));
        c.set_ticket(Ticket {
            id: 9,
            status: TicketStatus::Closed,
        });
        c.has_written = true;
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"number":1,"contact":4915000000002,"window":{"last_inbound_at":null,"provider_closed_at":null},"ticket":{"id":9,"status":"closed"},"has_written":true,"reminded":false}"#
        );
        assert_eq!(serde_json::from_str::<Conversation>(&json).unwrap(), c);
        let zero = json.replace(r#""id":9"#, r#""id":0"#);
        let err = serde_json::from_str::<Conversation>(&zero).unwrap_err();
        assert!(err.to_string().contains("ticket ids start at 1"), "{err}");
    }
}
