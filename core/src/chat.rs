//! Chats and tickets (RULES.md §3).
//!
//! State table of one conversation's chat, on channels with chats:
//!
//! | state      | input                         | next state | effects                         |
//! |------------|-------------------------------|------------|---------------------------------|
//! | no chat    | inbound message               | live       | ticket opened (if none usable), chat started |
//! | live       | inbound or allowed send       | live       | (idle deadline moves)           |
//! | live       | agent ends (status s)         | no chat    | chat ended(agent), ticket → s   |
//! | live       | rule ends (status s)          | no chat    | chat ended(rule), ticket → s    |
//! | live       | idle timeout                  | no chat    | chat ended(idle, missed if no agent reply) |
//!
//! A chat starts on the conversation's ticket when that ticket is not `closed`, otherwise on a
//! new ticket. Email never has a chat: each inbound appends to (or opens) a ticket. Chats and
//! the service window are independent.

use serde::{Deserialize, Serialize};

use crate::tally::tally;
use crate::time::Instant;

/// Ticket status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Needs work.
    #[default]
    Open,
    /// Waiting on the customer or a third party.
    Pending,
    /// Done; a new message opens a new ticket.
    Closed,
}

/// A conversation's current ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// Engine-wide ticket id, from 1.
    pub id: u64,
    /// Its status.
    pub status: TicketStatus,
}

/// Why a chat ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEndReason {
    /// An agent ended it.
    Agent,
    /// Nobody wrote for the idle timeout.
    Idle,
    /// An automation rule ended it.
    Rule,
}

/// Who ends a chat on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEnder {
    /// An agent.
    Agent,
    /// An automation rule.
    Rule,
}

impl From<ChatEnder> for ChatEndReason {
    fn from(e: ChatEnder) -> Self {
        match e {
            ChatEnder::Agent => ChatEndReason::Agent,
            ChatEnder::Rule => ChatEndReason::Rule,
        }
    }
}

/// A live chat. Only conversations with a live chat carry one, so idle conversations stay
/// small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveChat {
    /// When it started.
    pub started_at: Instant,
    /// Last message from either side.
    pub last_activity_at: Instant,
    /// First agent reply, if any.
    pub first_response_at: Option<Instant>,
}

use crate::effect::Effect;
use crate::engine::Engine;
use crate::event::{EndChat, InboundKind, SetTicketStatus};
use crate::timers::TimerKey;
use crate::Error;

impl Engine {
    /// Inbound activity on a channel with chats: keeps a live chat alive, or starts one.
    pub(crate) fn chat_activity(&mut self, conv: u32, kind: InboundKind, now: Instant) {
        let conversation = &mut self.conversations[conv as usize];
        if let Some(mut chat) = conversation.live_chat() {
            // The idle timer is already armed no later than the new deadline; its handler
            // re-arms from `last_activity_at` when woken early.
            chat.last_activity_at = chat.last_activity_at.max(now);
            conversation.set_live_chat(Some(chat));
            return;
        }
        if !kind.is_user_message() {
            return;
        }
        let ticket = match self.conversations[conv as usize].ticket() {
            Some(t) if t.status != TicketStatus::Closed => {
                self.change_ticket_status(conv, TicketStatus::Open, now);
                t
            }
            _ => self.new_ticket(conv, now),
        };
        self.conversations[conv as usize].set_live_chat(Some(LiveChat {
            started_at: now,
            last_activity_at: now,
            first_response_at: None,
        }));
        let number = self.conversations[conv as usize].number;
        tally(&mut self.numbers[number as usize].counters.chats_started, 1);
        let deadline = now.plus(self.idle_timeout(number));
        self.timers.arm(TimerKey::ChatIdle(conv), deadline);
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::ChatStarted {
            number,
            contact,
            ticket: ticket.id,
            at: now,
        });
    }

    /// An allowed send into a live chat: the agent answered.
    pub(crate) fn chat_agent_reply(&mut self, conv: u32, now: Instant) {
        let conversation = &mut self.conversations[conv as usize];
        if let Some(mut chat) = conversation.live_chat() {
            chat.last_activity_at = chat.last_activity_at.max(now);
            chat.first_response_at.get_or_insert(now);
            conversation.set_live_chat(Some(chat));
        }
    }

    /// Email: every inbound message lands on a ticket, never in a chat.
    pub(crate) fn email_inbound(&mut self, conv: u32, now: Instant) {
        match self.conversations[conv as usize].ticket() {
            Some(t) if t.status != TicketStatus::Closed => {
                self.change_ticket_status(conv, TicketStatus::Open, now)
            }
            _ => {
                self.new_ticket(conv, now);
            }
        }
    }

    pub(crate) fn chat_idle_timer(&mut self, conv: u32, now: Instant) {
        let Some(chat) = self.conversations[conv as usize].live_chat() else {
            return;
        };
        let number = self.conversations[conv as usize].number;
        let deadline = chat.last_activity_at.plus(self.idle_timeout(number));
        if deadline > now {
            self.timers.arm(TimerKey::ChatIdle(conv), deadline);
        } else {
            self.end_live_chat(conv, ChatEndReason::Idle, None, deadline);
        }
    }

    /// An agent or rule ends a live chat; the ticket takes the given status (default open).
    pub fn end_chat(&mut self, e: &EndChat) -> Result<(), Error> {
        let number = self.number_idx(&e.number)?;
        let contact = self.interner.find_address(&e.contact)?;
        let no_chat = || Error::NoLiveChat {
            number: e.number.clone(),
            contact: e.contact.clone(),
        };
        let conv = contact
            .and_then(|k| self.conversation_idx(number, k))
            .ok_or_else(no_chat)?;
        // The chat must still be live at the request's time: one whose idle deadline has
        // passed has ended, whether or not the host has called `handle_timeout` yet. The
        // check comes before any mutation so that the error changes nothing.
        let now = e.at.max(self.clock);
        let still_live = self.conversations[conv as usize]
            .live_chat()
            .is_some_and(|c| c.last_activity_at.plus(self.idle_timeout(number)) > now);
        if !still_live {
            return Err(no_chat());
        }
        self.handle_timeout(e.at);
        let status = e.status.unwrap_or(TicketStatus::Open);
        self.end_live_chat(conv, e.by.into(), Some(status), self.clock);
        Ok(())
    }

    /// An agent changes the conversation's ticket status.
    pub fn set_ticket_status(&mut self, e: &SetTicketStatus) -> Result<(), Error> {
        let number = self.number_idx(&e.number)?;
        let contact = self.interner.find_address(&e.contact)?;
        let conv = contact
            .and_then(|k| self.conversation_idx(number, k))
            .filter(|&c| self.conversations[c as usize].ticket().is_some())
            .ok_or_else(|| Error::NoTicket {
                number: e.number.clone(),
                contact: e.contact.clone(),
            })?;
        self.handle_timeout(e.at);
        self.change_ticket_status(conv, e.status, self.clock);
        Ok(())
    }
}
