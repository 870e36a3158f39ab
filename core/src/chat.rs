//! Chats and tickets (RULES.md §3).
//!
//! State table of one conversation's chat, on channels with chats:
//!
//! | state      | input                         | next state | effects                         |
//! |------------|-------------------------------|------------|---------------------------------|
//! | no chat    | inbound message               | live       | ticket opened (if none usable), chat started |
//! | live       | inbound or allowed send       | live       | (idle deadline moves)           |
//! | live       | contact's message, ticket closed during the chat | live | chat ended(agent), ticket opened, chat started |
//! | live       | agent ends (status s)         | no chat    | chat ended(agent), ticket → s   |
//! | live       | rule ends (status s)          | no chat    | chat ended(rule), ticket → s    |
//! | live       | idle timeout                  | no chat    | chat ended(idle, missed if no agent reply) |
//!
//! A chat starts on the conversation's ticket when that ticket is not `closed`, otherwise on a
//! new ticket. Email never has a chat: each inbound appends to (or opens) a ticket. Chats and
//! the service window are independent.

use serde::{Deserialize, Serialize};

use crate::shrink::ShrinkWhenSparse;
use crate::tally::tally;
use crate::time::{Duration, Instant};

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
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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
///
/// Response times (§3): the contact starts waiting with a message the agent has not
/// answered yet (the chat's first message starts the first wait); the agent's next reply
/// answers the wait, and the time between is one response time. Further messages from
/// the contact while waiting do not restart the wait; further replies while nobody waits
/// are not responses. The chat's first wait starts with the chat, when the engine took its
/// first message; a later one at the message's own instant (§13): a message delivered
/// late, dated before the wait running, moves its start back (never before the chat
/// started), and one dated before the agent's latest reply was answered by it and starts
/// none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "LiveChatFields")]
#[non_exhaustive]
pub struct LiveChat {
    /// When it started.
    pub started_at: Instant,
    /// Last message from either side.
    pub last_activity_at: Instant,
    /// First agent reply, if any.
    pub first_response_at: Option<Instant>,
    /// Since when the contact has been waiting for an answer; `None` when the agent wrote
    /// last.
    pub waiting_since: Option<Instant>,
    /// Agent replies that answered a waiting contact, the first response included.
    pub responses: u64,
    /// Their response times added up (divided by `responses`, the mean response time).
    pub response_total: Duration,
    /// The agent's latest reply (not an automated send), whether or not it answered a
    /// waiting contact: a message delivered late, dated before it, was answered by it.
    /// `None` before the first response (a reply answers the wait the chat starts with).
    /// A chat read from a snapshot written before it was kept takes the latest instant it
    /// can have been: the wait's start, or with nobody waiting the last activity.
    pub last_reply_at: Option<Instant>,
}

/// [`LiveChat`] as read from a snapshot or export. Those written before response times were
/// kept lack the last three fields; they are derived from the first response (one response
/// if there was one, else the contact waiting since the start).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveChatFields {
    started_at: Instant,
    last_activity_at: Instant,
    first_response_at: Option<Instant>,
    #[serde(default)]
    waiting_since: Option<Instant>,
    #[serde(default)]
    responses: Option<u64>,
    #[serde(default)]
    response_total: Option<Duration>,
    #[serde(default)]
    last_reply_at: Option<Instant>,
}

impl TryFrom<LiveChatFields> for LiveChat {
    type Error = String;

    fn try_from(f: LiveChatFields) -> Result<LiveChat, String> {
        let (waiting_since, responses, response_total) = match f.responses {
            None => (
                f.first_response_at.is_none().then_some(f.started_at),
                u64::from(f.first_response_at.is_some()),
                f.first_response_at
                    .map_or(Duration::ZERO, |t| t.since(f.started_at)),
            ),
            Some(responses) => (
                f.waiting_since,
                responses,
                f.response_total.unwrap_or(Duration::ZERO),
            ),
        };
        let chat = LiveChat {
            started_at: f.started_at,
            last_activity_at: f.last_activity_at,
            first_response_at: f.first_response_at,
            waiting_since,
            responses,
            response_total,
            last_reply_at: f
                .last_reply_at
                .or_else(|| (responses > 0).then(|| waiting_since.unwrap_or(f.last_activity_at))),
        };
        chat.check().map(|()| chat)
    }
}

/// The part of a live chat that every inbound and reply reads, kept in the conversation
/// record (the engine's `chat_responses` table keeps the rest, for answered chats only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChatTimes {
    pub started_at: Instant,
    pub last_activity_at: Instant,
    pub waiting_since: Option<Instant>,
}

/// A live chat's responses so far, kept once the agent has answered: touched only by a reply
/// that answers a waiting contact, at most once per exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChatResponses {
    pub first_at: Instant,
    pub count: u64,
    pub total: Duration,
    /// The agent's latest reply, answering or not.
    pub last_at: Instant,
}

impl LiveChat {
    pub(crate) fn new(times: ChatTimes, responses: Option<&ChatResponses>) -> LiveChat {
        LiveChat {
            started_at: times.started_at,
            last_activity_at: times.last_activity_at,
            first_response_at: responses.map(|r| r.first_at),
            waiting_since: times.waiting_since,
            responses: responses.map_or(0, |r| r.count),
            response_total: responses.map_or(Duration::ZERO, |r| r.total),
            last_reply_at: responses.map(|r| r.last_at),
        }
    }

    pub(crate) fn times(&self) -> ChatTimes {
        ChatTimes {
            started_at: self.started_at,
            last_activity_at: self.last_activity_at,
            waiting_since: self.waiting_since,
        }
    }

    /// The answered part, if the agent answered at all.
    pub(crate) fn responses(&self) -> Option<ChatResponses> {
        let first_at = self.first_response_at?;
        Some(ChatResponses {
            first_at,
            count: self.responses,
            total: self.response_total,
            last_at: self.last_reply_at.unwrap_or(first_at),
        })
    }

    /// What every chat an engine keeps satisfies, so that a snapshot's chat carries on as it
    /// would have: its instants in order within the chat, a first response exactly when
    /// there were responses, and before any, the contact waiting since the start.
    fn check(&self) -> Result<(), String> {
        let show = |t: Option<Instant>| t.map_or("null".to_owned(), |t| t.to_rfc3339());
        let within = |t: Option<Instant>| {
            t.is_none_or(|t| self.started_at <= t && t <= self.last_activity_at)
        };
        if self.last_activity_at < self.started_at {
            return Err(format!(
                "a live chat's last_activity_at {} is before its started_at {}",
                self.last_activity_at, self.started_at
            ));
        }
        for (name, t) in [
            ("first_response_at", self.first_response_at),
            ("waiting_since", self.waiting_since),
        ] {
            if !within(t) {
                return Err(format!(
                    "a live chat's {name} {} is outside its span {} to {}",
                    show(t),
                    self.started_at,
                    self.last_activity_at
                ));
            }
        }
        if (self.responses == 0) != self.first_response_at.is_none() {
            return Err(format!(
                "a live chat with {} responses has first_response_at {}",
                self.responses,
                show(self.first_response_at)
            ));
        }
        if let Some(last) = self.last_reply_at {
            let first = self.first_response_at.unwrap_or(last);
            if self.responses == 0 || last < first || last > self.last_activity_at {
                return Err(format!(
                    "a live chat's last_reply_at {last} is not between its \
                     first_response_at {} and last_activity_at {}",
                    show(self.first_response_at),
                    self.last_activity_at
                ));
            }
            if self.waiting_since.is_some_and(|since| since < last) {
                return Err(format!(
                    "a live chat's waiting_since {} is before its last_reply_at {last}",
                    show(self.waiting_since)
                ));
            }
        }
        if self.responses == 0 && self.waiting_since != Some(self.started_at) {
            return Err(format!(
                "a live chat with no response has waiting_since {}, not its started_at {}",
                show(self.waiting_since),
                self.started_at
            ));
        }
        let first = self
            .first_response_at
            .map_or(Duration::ZERO, |t| t.since(self.started_at));
        if self.response_total < first {
            return Err(format!(
                "a live chat's response_total {} is less than its first response time {first}",
                self.response_total
            ));
        }
        Ok(())
    }
}

use crate::effect::Effect;
use crate::engine::Engine;
use crate::event::{EndChat, InboundKind, SetTicketStatus};
use crate::timers::TimerKey;
use crate::Error;

impl Engine {
    /// Inbound activity on a channel with chats, dated `at` and taken at `now`: keeps a
    /// live chat alive, or starts one (at `now`: a chat starts when the engine learns of it).
    // Not recursive, so that it is inlined into `inbound`: out of line it cost every inbound
    // about 18 instructions.
    pub(crate) fn chat_activity(
        &mut self,
        conv: u32,
        kind: InboundKind,
        at: Instant,
        now: Instant,
    ) {
        let conversation = &mut self.conversations[conv as usize];
        let status = conversation.ticket().map(|t| t.status);
        if let Some(chat) = conversation.chat_times() {
            if kind.is_user_message() && status == Some(TicketStatus::Closed) {
                // A ticket closed while its chat was live is done, and a closed ticket is
                // never reopened (§3): the contact's message ends that chat, which the
                // agent closed, and starts its own on a new ticket (below), as a message
                // after the chat would. Left on the closed ticket it was in no ticket list;
                // moved to the new one, the chat would end on a ticket it never started on.
                self.end_live_chat(conv, ChatEndReason::Agent, None, now);
            } else {
                return self.chat_continues(conv, chat, kind, status, at, now);
            }
        } else if !kind.is_user_message() {
            return;
        }
        let ticket = match self.conversations[conv as usize].ticket() {
            Some(t) if t.status != TicketStatus::Closed => {
                self.change_ticket_status(conv, TicketStatus::Open, now);
                t
            }
            _ => self.new_ticket(conv, now),
        };
        self.conversations[conv as usize].set_chat_times(Some(ChatTimes {
            started_at: now,
            last_activity_at: now,
            waiting_since: Some(now),
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

    /// Activity in a live chat that goes on: it stays alive from `now`, and a message from
    /// the contact waits from its own instant `at` and reopens a ticket set pending.
    #[inline]
    fn chat_continues(
        &mut self,
        conv: u32,
        mut chat: ChatTimes,
        kind: InboundKind,
        status: Option<TicketStatus>,
        at: Instant,
        now: Instant,
    ) {
        // The idle timer is already armed no later than the new deadline; its handler
        // re-arms from `last_activity_at` when woken early.
        if kind.is_user_message() {
            chat.waiting_since = self.chat_wait(conv, &chat, at);
        }
        chat.last_activity_at = chat.last_activity_at.max(now);
        self.conversations[conv as usize].set_chat_times(Some(chat));
        // A ticket set pending (waiting for the contact) while the chat was live is open
        // again when the contact writes, as it is when they write after the chat (§3).
        if kind.is_user_message() && status == Some(TicketStatus::Pending) {
            self.change_ticket_status(conv, TicketStatus::Open, now);
        }
    }

    /// A live chat's wait once the contact's message dated `at` is in: from its own instant
    /// (§13) if nobody waited, or back to it if the wait running started later, never
    /// before the chat started; unchanged when the agent replied after it (it was
    /// answered), or when it is dated after the wait running.
    #[inline]
    fn chat_wait(&self, conv: u32, chat: &ChatTimes, at: Instant) -> Option<Instant> {
        if at >= chat.last_activity_at {
            // In order (the common case): nothing in the chat came after it, no reply
            // either, and a wait running started no later.
            return Some(chat.waiting_since.unwrap_or(at));
        }
        self.late_chat_wait(conv, chat, at)
    }

    /// [`Engine::chat_wait`] for a message dated before the chat's last activity.
    #[cold]
    #[inline(never)]
    fn late_chat_wait(&self, conv: u32, chat: &ChatTimes, at: Instant) -> Option<Instant> {
        let answered_after = (self.chat_responses.get(&conv)).is_some_and(|r| at < r.last_at);
        if answered_after {
            return chat.waiting_since;
        }
        let since = at.max(chat.started_at);
        Some(chat.waiting_since.map_or(since, |w| w.min(since)))
    }

    /// An allowed send into a live chat: activity, and when it `answers` (an agent's, not
    /// an automated one, §3) the response to a waiting contact.
    pub(crate) fn chat_business_wrote(&mut self, conv: u32, now: Instant, answers: bool) {
        let conversation = &mut self.conversations[conv as usize];
        if let Some(mut chat) = conversation.chat_times() {
            chat.last_activity_at = chat.last_activity_at.max(now);
            if let Some(since) = chat.waiting_since.take_if(|_| answers) {
                let responses = self.chat_responses.entry(conv).or_insert(ChatResponses {
                    first_at: now,
                    count: 0,
                    total: Duration::ZERO,
                    last_at: now,
                });
                responses.last_at = now;
                tally(&mut responses.count, 1);
                // Waits are disjoint spans of the chat, so the sum stays within its
                // length (from_millis clamps at the longest duration all the same).
                let waited = now.since(since).millis();
                responses.total = Duration::from_millis(responses.total.millis() + waited);
            } else if answers {
                // A reply with nobody waiting answers no one now, but a message dated
                // before it and delivered later was answered by it. Nobody waits only
                // once the chat's first wait was answered, so the record is there.
                if let Some(responses) = self.chat_responses.get_mut(&conv) {
                    responses.last_at = now;
                }
            }
            conversation.set_chat_times(Some(chat));
        }
    }

    /// A conversation's live chat, if it has one (ended or not by its idle deadline).
    pub(crate) fn live_chat(&self, conv: u32) -> Option<LiveChat> {
        let times = self.conversations[conv as usize].chat_times()?;
        Some(LiveChat::new(times, self.chat_responses.get(&conv)))
    }

    /// Replaces a conversation's live chat (restores and imports).
    pub(crate) fn set_live_chat(&mut self, conv: u32, chat: Option<LiveChat>) {
        self.conversations[conv as usize].set_chat_times(chat.map(|c| c.times()));
        match chat.and_then(|c| c.responses()) {
            Some(responses) => {
                self.chat_responses.insert(conv, responses);
            }
            None => {
                // A burst of answered chats that all ended gives its memory back.
                self.chat_responses.remove(&conv);
                self.chat_responses.shrink_when_sparse();
            }
        }
    }

    /// Email: every inbound message lands on a ticket, never in a chat. Dated `at`, taken
    /// at `now`.
    pub(crate) fn email_inbound(&mut self, conv: u32, at: Instant, now: Instant) {
        match self.conversations[conv as usize].ticket() {
            Some(t) if t.status != TicketStatus::Closed => {
                self.change_ticket_status(conv, TicketStatus::Open, now)
            }
            _ => {
                self.new_ticket(conv, now);
                self.email_ticket_opened(conv);
            }
        }
        self.email_contact_wrote(conv, at, now);
    }

    /// Email: a conversation the business starts is a ticket too (§3: every email
    /// conversation is one). An email on a ticket not closed stays on it, its status as the
    /// agent left it; after a closed one it starts a new ticket, as the contact's would.
    /// An automated email (`answers` false) opens a ticket all the same, but answers no one.
    #[cold]
    #[inline(never)]
    pub(crate) fn email_outbound(&mut self, conv: u32, now: Instant, answers: bool) {
        let on_ticket = self.conversations[conv as usize]
            .ticket()
            .is_some_and(|t| t.status != TicketStatus::Closed);
        if !on_ticket {
            self.new_ticket(conv, now);
            self.email_ticket_opened(conv);
        }
        if answers {
            self.email_business_wrote(conv, now);
        }
    }

    pub(crate) fn chat_idle_timer(&mut self, conv: u32, now: Instant) {
        let Some(chat) = self.conversations[conv as usize].chat_times() else {
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
        let no_chat = || Error::NoLiveChat {
            number: e.number.clone(),
            contact: e.contact.clone(),
        };
        let conv = self
            .conversation_with(number, &e.contact)?
            .1
            .ok_or_else(no_chat)?;
        // The chat must still be live at the request's time: one whose idle deadline has
        // passed has ended, whether or not the host has called `handle_timeout` yet. A chat
        // that started after the request's `at` is not the one it ends (a late end of an
        // earlier chat would end the contact's newer one, and close its ticket under it).
        // The check comes before any mutation so that the error changes nothing.
        let now = e.at.max(self.clock);
        let still_live = self.conversations[conv as usize]
            .chat_times()
            .is_some_and(|c| {
                c.started_at <= e.at && c.last_activity_at.plus(self.idle_timeout(number)) > now
            });
        if !still_live {
            return Err(no_chat());
        }
        self.handle_timeout(e.at);
        // The default is `open` (§3), but not over an agent's close during the chat: a
        // closed ticket is done, reopened only when someone asks for it by name.
        let closed = self.conversations[conv as usize]
            .ticket()
            .is_some_and(|t| t.status == TicketStatus::Closed);
        let status = e.status.or((!closed).then_some(TicketStatus::Open));
        self.end_live_chat(conv, e.by.into(), status, self.clock);
        Ok(())
    }

    /// An agent changes the conversation's ticket status.
    pub fn set_ticket_status(&mut self, e: &SetTicketStatus) -> Result<(), Error> {
        let number = self.number_idx(&e.number)?;
        let conv = (self.conversation_with(number, &e.contact)?.1)
            .filter(|&c| self.conversations[c as usize].ticket().is_some())
            .ok_or_else(|| Error::NoTicket {
                number: e.number.clone(),
                contact: e.contact.clone(),
            })?;
        let current = self.conversations[conv as usize]
            .ticket()
            .map_or(0, |t| t.id);
        if let Some(ticket) = e.ticket.filter(|&t| t != current) {
            return Err(Error::TicketNotCurrent {
                number: e.number.clone(),
                contact: e.contact.clone(),
                ticket,
                current,
            });
        }
        self.handle_timeout(e.at);
        self.change_ticket_status(conv, e.status, self.clock);
        Ok(())
    }
}

display_as_wire_name!(TicketStatus, ChatEndReason);
from_wire_name!(TicketStatus, ChatEndReason);

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(json: &str) -> Result<LiveChat, String> {
        serde_json::from_str::<LiveChat>(json).map_err(|e| e.to_string())
    }

    fn at(text: &str) -> Instant {
        Instant::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_chat_written_before_response_times_reads_as_it_stood() {
        let unanswered = chat(
            r#"{"started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:05:00Z","first_response_at":null}"#,
        )
        .unwrap();
        assert_eq!(unanswered.waiting_since, Some(at("2026-11-02T09:00:00Z")));
        assert_eq!(
            (unanswered.responses, unanswered.response_total),
            (0, Duration::ZERO)
        );
        let answered = chat(
            r#"{"started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:05:00Z","first_response_at":"2026-11-02T09:02:00Z"}"#,
        )
        .unwrap();
        assert_eq!(answered.waiting_since, None);
        assert_eq!(
            (answered.responses, answered.response_total),
            (1, Duration::from_mins(2))
        );
    }

    #[test]
    fn a_chat_is_written_and_read_back_whole() {
        let live = LiveChat {
            started_at: at("2026-11-02T09:00:00Z"),
            last_activity_at: at("2026-11-02T09:07:00Z"),
            first_response_at: Some(at("2026-11-02T09:02:00Z")),
            waiting_since: Some(at("2026-11-02T09:05:00Z")),
            responses: 1,
            response_total: Duration::from_mins(2),
            last_reply_at: Some(at("2026-11-02T09:02:00Z")),
        };
        let json = serde_json::to_string(&live).unwrap();
        assert_eq!(
            json,
            r#"{"started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:07:00Z","first_response_at":"2026-11-02T09:02:00Z","waiting_since":"2026-11-02T09:05:00Z","responses":1,"response_total":"2m","last_reply_at":"2026-11-02T09:02:00Z"}"#
        );
        assert_eq!(chat(&json), Ok(live));
        assert_eq!(LiveChat::new(live.times(), live.responses().as_ref()), live);
    }

    #[test]
    fn inconsistent_responses_are_refused() {
        // (the chat's fields after its start and last activity, the problem named). Before
        // any response the contact has waited since the start: a chat that waits for
        // nothing would never count the agent's replies.
        let start =
            r#""started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T09:07:00Z""#;
        for (rest, named) in [
            (
                r#""waiting_since":null,"first_response_at":null,"responses":2,"response_total":"3m""#,
                "2 responses has first_response_at null",
            ),
            (
                r#""waiting_since":null,"first_response_at":"2026-11-02T09:02:00Z","responses":0,"response_total":"0ms""#,
                "0 responses has first_response_at 2026-11-02T09:02:00Z",
            ),
            (
                r#""waiting_since":null,"first_response_at":"2026-11-02T09:02:00Z","responses":1,"response_total":"1m""#,
                "response_total 1m is less than its first response time 2m",
            ),
            (
                r#""waiting_since":null,"first_response_at":null,"responses":0,"response_total":"0ms""#,
                "no response has waiting_since null, not its started_at 2026-11-02T09:00:00Z",
            ),
            (
                r#""waiting_since":"2026-11-02T09:08:00Z","first_response_at":"2026-11-02T09:02:00Z","responses":1,"response_total":"2m""#,
                "waiting_since 2026-11-02T09:08:00Z is outside its span",
            ),
            (
                r#""waiting_since":null,"first_response_at":"2026-11-02T09:02:00Z","responses":1,"response_total":"2m","last_reply_at":"2026-11-02T09:01:00Z""#,
                "last_reply_at 2026-11-02T09:01:00Z is not between its first_response_at",
            ),
            (
                r#""waiting_since":null,"first_response_at":"2026-11-02T09:02:00Z","responses":1,"response_total":"2m","last_reply_at":"2026-11-02T09:08:00Z""#,
                "last_reply_at 2026-11-02T09:08:00Z is not between",
            ),
            (
                r#""waiting_since":"2026-11-02T09:03:00Z","first_response_at":"2026-11-02T09:02:00Z","responses":2,"response_total":"3m","last_reply_at":"2026-11-02T09:04:00Z""#,
                "waiting_since 2026-11-02T09:03:00Z is before its last_reply_at",
            ),
        ] {
            let err = chat(&format!("{{{start},{rest}}}")).unwrap_err();
            assert!(err.contains(named), "{rest}: {err}");
        }
        let backwards = r#"{"started_at":"2026-11-02T09:00:00Z","last_activity_at":"2026-11-02T08:59:00Z","first_response_at":null}"#;
        let err = chat(backwards).unwrap_err();
        assert!(
            err.contains("last_activity_at 2026-11-02T08:59:00Z is before its started_at"),
            "{err}"
        );
    }
}
