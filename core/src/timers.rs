//! One timer structure for the whole engine.
//!
//! An ordered set of `(deadline, key)` plus a map of the one armed deadline per key. Arming
//! only ever moves a key's wake-up *earlier*; when a state change pushes a deadline later
//! (a new message in a live chat, say) nothing is pushed, and the handler, woken at the old
//! time, re-arms at the new one. So each key has about one queue entry however many events
//! touch it, arming is O(1) for the common "later" case, and entries left behind by an
//! earlier re-arm are recognised as stale (their time is not the armed one) and skipped.
//!
//! Handlers must therefore accept early wake-ups: they recompute the real deadline and
//! re-arm if it is still in the future.
//!
//! Where the armed deadlines live: a conversation's three timers (chat idle, window reminder,
//! outbox expiry) in one slot of a vector indexed by conversation, the few others (templates,
//! numbers, limits) in a map. Every inbound arms two conversation timers; in a hash map keyed
//! by timer that was four cache misses per inbound at a million conversations, in the vector
//! it is one.
//!
//! Why a B-tree and not a binary heap: deadlines are armed in nearly increasing order (now
//! plus an idle timeout, a window end) and taken from the front, so both ends of the tree
//! stay in cache; a binary heap's pop walks a path to a random leaf, about ten cache misses
//! with a million live chats. The order, `(deadline, key)`, is the same.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::hash::FastMap;
use crate::time::{Instant, MaybeInstant};

/// What a timer is for. The order of variants breaks ties between timers due at the same
/// instant, so that outputs are deterministic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TimerKey {
    /// A live chat's idle timeout (conversation index).
    ChatIdle(u32),
    /// A window reminder (conversation index).
    WindowReminder(u32),
    /// Expiry of held outbox messages (conversation index).
    OutboxExpiry(u32),
    /// End of a template pause or flag (template index).
    TemplateDeadline(u32),
    /// A number's flag deadline (number index).
    NumberFlag(u32),
    /// End of a number's restriction (number index).
    RestrictionEnd(u32),
    /// A limit upgrade check (limit owner index).
    LimitUpgrade(u32),
}

impl TimerKey {
    /// The conversation and which of its timers, for conversation timers.
    fn of_conversation(self) -> Option<(usize, usize)> {
        match self {
            TimerKey::ChatIdle(c) => Some((c as usize, 0)),
            TimerKey::WindowReminder(c) => Some((c as usize, 1)),
            TimerKey::OutboxExpiry(c) => Some((c as usize, 2)),
            _ => None,
        }
    }
}

/// How many of each thing a timer can name exist (validating snapshots and imports).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimerTargets {
    pub conversations: u32,
    pub templates: u32,
    pub numbers: u32,
    pub limit_owners: u32,
}

impl TimerKey {
    /// Whether the conversation, template, number or limit owner this timer names exists;
    /// the problem otherwise.
    pub fn check_target(self, targets: TimerTargets) -> Result<(), String> {
        let (index, count, what) = match self {
            TimerKey::ChatIdle(c) | TimerKey::WindowReminder(c) | TimerKey::OutboxExpiry(c) => {
                (c, targets.conversations, "conversation")
            }
            TimerKey::TemplateDeadline(t) => (t, targets.templates, "template"),
            TimerKey::NumberFlag(n) | TimerKey::RestrictionEnd(n) => (n, targets.numbers, "number"),
            TimerKey::LimitUpgrade(o) => (o, targets.limit_owners, "limit owner"),
        };
        if index < count {
            Ok(())
        } else {
            Err(format!("a timer names {what} {index} of {count}"))
        }
    }
}

/// The armed deadlines of one conversation's timers, in [`TimerKey`] order: 24 bytes, not
/// the 48 of three `Option<Instant>`, since every conversation that ever had an inbound
/// keeps its slot.
type ConversationSlot = [MaybeInstant; 3];

/// The engine's timers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, TimerKey)>,
    /// The queue's first deadline, kept beside it: nearly every input finds nothing due,
    /// and reading this is cheaper than walking down the B-tree's left edge.
    earliest: Option<Instant>,
    /// Armed deadlines of conversation timers, by conversation index.
    by_conversation: Vec<ConversationSlot>,
    /// Armed deadlines of every other timer.
    armed: FastMap<TimerKey, Instant>,
}

impl Timers {
    /// Ensures `key` wakes at or before `at`.
    pub fn arm(&mut self, key: TimerKey, at: Instant) {
        match self.armed_at(key) {
            Some(armed) if armed <= at => {}
            _ => {
                self.set_armed(key, Some(at));
                self.queue.insert((at, key));
                self.earliest = Some(self.earliest.map_or(at, |e| e.min(at)));
            }
        }
    }

    /// Forgets `key`'s wake-up.
    pub fn disarm(&mut self, key: TimerKey) {
        self.set_armed(key, None);
    }

    fn set_armed(&mut self, key: TimerKey, at: Option<Instant>) {
        match (key.of_conversation(), at) {
            (Some((conv, which)), _) => {
                if conv >= self.by_conversation.len() {
                    if at.is_none() {
                        return;
                    }
                    self.by_conversation
                        .resize(conv + 1, [MaybeInstant::NONE; 3]);
                }
                self.by_conversation[conv][which] = MaybeInstant::new(at);
            }
            (None, Some(at)) => {
                self.armed.insert(key, at);
            }
            (None, None) => {
                self.armed.remove(&key);
            }
        }
    }

    /// The next armed timer due at or before `now`, removed.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerKey)> {
        if self.nothing_due_by(now) {
            return None;
        }
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                return None;
            }
            self.pop_first();
            if self.armed_at(key) == Some(at) {
                self.set_armed(key, None);
                return Some((at, key));
            }
        }
        None
    }

    /// The earliest armed wake-up, dropping stale queue entries on the way.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&(at, key)) = self.queue.first() {
            if self.armed_at(key) == Some(at) {
                return Some(at);
            }
            self.pop_first();
        }
        None
    }

    fn pop_first(&mut self) {
        self.queue.pop_first();
        self.earliest = self.queue.first().map(|&(at, _)| at);
    }

    /// When `key` is armed to wake, if it is.
    pub fn armed_at(&self, key: TimerKey) -> Option<Instant> {
        match key.of_conversation() {
            Some((conv, which)) => self.by_conversation.get(conv)?[which].get(),
            None => self.armed.get(&key).copied(),
        }
    }

    /// Whether no timer at all is due at or before `now` (a cheap, conservative check: a
    /// stale queue entry can only make it answer `false`).
    #[inline]
    pub fn nothing_due_by(&self, now: Instant) -> bool {
        self.earliest.is_none_or(|at| at > now)
    }

    /// Armed timers sorted, for snapshots.
    pub fn armed_sorted(&self) -> Vec<(TimerKey, Instant)> {
        let conversation_keys = [
            TimerKey::ChatIdle,
            TimerKey::WindowReminder,
            TimerKey::OutboxExpiry,
        ];
        let mut v: Vec<_> = self.armed.iter().map(|(k, t)| (*k, *t)).collect();
        for (conv, slot) in self.by_conversation.iter().enumerate() {
            for (key, at) in conversation_keys.iter().zip(slot) {
                if let Some(at) = at.get() {
                    v.push((key(conv as u32), at));
                }
            }
        }
        v.sort_unstable_by_key(|(k, t)| (*t, *k));
        v
    }

    /// Rebuilds from a snapshot's armed list.
    pub fn from_armed(armed: Vec<(TimerKey, Instant)>) -> Timers {
        let mut timers = Timers::default();
        for (key, at) in armed {
            timers.arm(key, at);
        }
        timers
    }

    /// Number of armed timers.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.armed_sorted().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn arming_later_keeps_the_earlier_wakeup() {
        let mut timers = Timers::default();
        timers.arm(TimerKey::ChatIdle(1), t(100));
        timers.arm(TimerKey::ChatIdle(1), t(200));
        assert_eq!(timers.next_deadline(), Some(t(100)));
        assert_eq!(timers.queue.len(), 1);
        timers.arm(TimerKey::ChatIdle(1), t(50));
        assert_eq!(
            timers.pop_due(t(1000)),
            Some((t(50), TimerKey::ChatIdle(1)))
        );
        assert_eq!(
            timers.pop_due(t(1000)),
            None,
            "the stale entry at 100 is skipped"
        );
    }

    #[test]
    fn ties_break_by_key_and_disarm_works() {
        let mut timers = Timers::default();
        timers.arm(TimerKey::OutboxExpiry(0), t(10));
        timers.arm(TimerKey::ChatIdle(5), t(10));
        timers.arm(TimerKey::WindowReminder(2), t(5));
        timers.disarm(TimerKey::WindowReminder(2));
        assert_eq!(timers.next_deadline(), Some(t(10)));
        assert_eq!(timers.pop_due(t(10)).unwrap().1, TimerKey::ChatIdle(5));
        assert_eq!(timers.pop_due(t(10)).unwrap().1, TimerKey::OutboxExpiry(0));
        assert_eq!(timers.len(), 0);
    }
}
