//! An email ticket's response times (§3: metrics per ticket or chat). On channels with
//! chats the live chat keeps them and `chat_ended` reports them; email has no chat, so its
//! ticket keeps the same measures: since when the contact has waited, the first response,
//! and every reply that answered a waiting contact.
//!
//! Kept in a side table of email conversations (email traffic is a small share, and the
//! 64-byte conversation record is sized for what every chat event reads), from the ticket's
//! first contact message to the next ticket.

use serde::{Deserialize, Serialize};

use crate::chat::TicketStatus;
use crate::effect::Effect;
use crate::engine::Engine;
use crate::shrink::ShrinkWhenSparse;
use crate::tally::tally;
use crate::time::{Duration, Instant};

/// An email ticket's response times so far: what a live chat's `chat_ended` reports, for a
/// conversation that is a ticket from the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TicketResponses {
    /// Since when the contact has waited for an answer: their oldest unanswered email on
    /// the ticket; `None` when the business wrote last, or the ticket was closed.
    pub waiting_since: Option<Instant>,
    /// The first reply that answered the contact on this ticket.
    pub first_response_at: Option<Instant>,
    /// How long the contact had waited for it (time to first response).
    pub first_response_after: Option<Duration>,
    /// Replies that answered a waiting contact, the first included.
    pub responses: u64,
    /// Their response times added up (divided by `responses`, the mean response time).
    pub response_total: Duration,
    /// The business's latest reply (not an automated send) since the contact first wrote on
    /// the ticket, whether or not it answered a wait: an email delivered late, dated before
    /// it, was answered by it. `None` before any, and in records restored from snapshots
    /// written before it was kept (a late email then waits from the clock).
    #[serde(default)]
    pub last_reply_at: Option<Instant>,
}

impl TicketResponses {
    /// What every record an engine keeps satisfies, so that a restored one carries on as it
    /// would have: a first response exactly when there were responses, within their total.
    pub(crate) fn check(&self) -> Result<(), String> {
        let answered = self.responses > 0;
        if answered != self.first_response_at.is_some()
            || answered != self.first_response_after.is_some()
        {
            return Err(format!(
                "an email ticket with {} responses has first_response_at {} and \
                 first_response_after {}",
                self.responses,
                self.first_response_at
                    .map_or("null".to_owned(), |t| t.to_rfc3339()),
                self.first_response_after
                    .map_or("null".to_owned(), |d| d.to_string()),
            ));
        }
        if let Some(last) = self.last_reply_at {
            if self.first_response_at.is_some_and(|first| last < first) {
                return Err(format!(
                    "an email ticket's last_reply_at {last} is before its first_response_at \
                     {}",
                    self.first_response_at
                        .map_or("null".to_owned(), |t| t.to_rfc3339())
                ));
            }
            if self.waiting_since.is_some_and(|since| since < last) {
                return Err(format!(
                    "an email ticket's waiting_since {} is before its last_reply_at {last}",
                    self.waiting_since
                        .map_or("null".to_owned(), |t| t.to_rfc3339())
                ));
            }
        }
        let first = self.first_response_after.unwrap_or(Duration::ZERO);
        if self.response_total < first {
            return Err(format!(
                "an email ticket's response_total {} is less than its first response time \
                 {first}",
                self.response_total
            ));
        }
        Ok(())
    }
}

impl Engine {
    /// Email: the contact wrote on the conversation's current ticket (a new one already
    /// started afresh by [`Engine::email_ticket_opened`]) an email dated `at`, taken at
    /// `now`. Their first email on the ticket waits from `now`, as a chat's first message
    /// waits from the chat's start (the ticket may be newer than the email: one delivered
    /// late after a close opens the next ticket). Once the business replied on the
    /// ticket, a later one waits from its own instant (§13), or moves the running wait back
    /// to it (their oldest unanswered email), never before that reply: one dated before it
    /// was answered by it and starts none. Before any reply (and in a record restored
    /// without that reply's instant) nothing bounds the ticket's start, so a later email
    /// waits from `now` as the first does.
    pub(crate) fn email_contact_wrote(&mut self, conv: u32, at: Instant, now: Instant) {
        let Some(record) = self.ticket_responses.get_mut(&conv) else {
            let first = TicketResponses {
                waiting_since: Some(now),
                ..TicketResponses::default()
            };
            self.ticket_responses.insert(conv, first);
            return;
        };
        let since = match record.last_reply_at {
            Some(last) if at < last => return,
            Some(_) => at,
            None => now,
        };
        record.waiting_since = Some(record.waiting_since.map_or(since, |w| w.min(since)));
    }

    /// Email: a new ticket starts with no response times of its own.
    pub(crate) fn email_ticket_opened(&mut self, conv: u32) {
        if self.ticket_responses.remove(&conv).is_some() {
            self.ticket_responses.shrink_when_sparse();
        }
    }

    /// Email: an allowed send on the ticket answers the contact if they were waiting,
    /// counted in the number's response counters as it is sent (a ticket has no end to
    /// count it at, as a chat's is counted when the chat ends).
    pub(crate) fn email_business_wrote(&mut self, conv: u32, now: Instant) {
        let Some(record) = self.ticket_responses.get_mut(&conv) else {
            return;
        };
        // Answering or not, it answered every email dated before it.
        record.last_reply_at = Some(now);
        let Some(since) = record.waiting_since.take() else {
            return;
        };
        let waited = now.since(since);
        let first = record.first_response_at.is_none();
        if first {
            record.first_response_at = Some(now);
            record.first_response_after = Some(waited);
        }
        tally(&mut record.responses, 1);
        record.response_total = Duration::from_millis(
            record
                .response_total
                .millis()
                .saturating_add(waited.millis()),
        );
        let ticket = self.conversations[conv as usize]
            .ticket()
            .map_or(0, |t| t.id);
        let (number_name, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::TicketAnswered {
            number: number_name,
            contact,
            ticket,
            waited,
            first,
            at: now,
        });
        let number = self.conversations[conv as usize].number;
        let counters = &mut self.numbers[number as usize].counters;
        let waited_ms = waited.millis() as u64;
        if first {
            tally(&mut counters.first_responses, 1);
            tally(&mut counters.first_response_total_ms, waited_ms);
        }
        tally(&mut counters.responses, 1);
        tally(&mut counters.response_total_ms, waited_ms);
    }

    /// A number changes channel: its conversations' email ticket times go (a number leaving
    /// email keeps no ticket times a chat channel has no place for, and one coming back
    /// starts afresh, as at the next ticket).
    pub(crate) fn email_number_moved(&mut self, number: u32) {
        if self.ticket_responses.is_empty() {
            return;
        }
        let conversations = &self.conversations;
        self.ticket_responses
            .retain(|&c, _| conversations[c as usize].number != number);
        self.ticket_responses.shrink_when_sparse();
    }

    /// Email: a closed ticket has nobody waiting on it (the contact's next email opens a
    /// new ticket); an unanswered wait ends unanswered, not counted. Returns since when the
    /// contact had waited, for the close's effect to say.
    pub(crate) fn email_ticket_status(&mut self, conv: u32, to: TicketStatus) -> Option<Instant> {
        if to != TicketStatus::Closed || self.ticket_responses.is_empty() {
            return None;
        }
        let since = self.ticket_responses.get_mut(&conv)?.waiting_since.take()?;
        let number = self.conversations[conv as usize].number;
        tally(
            &mut self.numbers[number as usize]
                .counters
                .tickets_closed_unanswered,
            1,
        );
        Some(since)
    }

    /// Refuses a restored or imported record an engine would not have kept: on a
    /// conversation that is no email ticket, inconsistent, or dated after the state's clock.
    pub(crate) fn check_ticket_responses(
        &self,
        conv: u32,
        record: &TicketResponses,
        clock: Instant,
    ) -> Result<(), crate::Error> {
        let c = &self.conversations[conv as usize];
        let problem = if self.numbers[c.number as usize].channel.has_chats() {
            Some("is not on an email number".to_owned())
        } else if c.ticket().is_none() {
            Some("has no ticket".to_owned())
        } else if let Some(t) = [
            record.waiting_since,
            record.first_response_at,
            record.last_reply_at,
        ]
        .into_iter()
        .flatten()
        .find(|&t| t > clock)
        {
            Some(format!("is dated {t}, after the state's clock {clock}"))
        } else {
            record.check().err()
        };
        match problem {
            Some(problem) => Err(crate::snapshot::corrupt(format!(
                "the email ticket response times of conversation {conv}: {problem}"
            ))),
            None => Ok(()),
        }
    }

    /// An email conversation's ticket response times, as a view shows them: `None` for a
    /// conversation with chats or without a ticket.
    pub(crate) fn ticket_responses_of(&self, conv: u32) -> Option<TicketResponses> {
        let c = &self.conversations[conv as usize];
        let email = !self.numbers[c.number as usize].channel.has_chats();
        (email && c.ticket().is_some()).then(|| {
            self.ticket_responses
                .get(&conv)
                .copied()
                .unwrap_or_default()
        })
    }
}
