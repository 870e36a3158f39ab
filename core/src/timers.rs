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
//! How the queue is kept: the conversation timers are nearly all armed in increasing order
//! (now plus the idle timeout, a window end minus the reminder lead), so each of the three
//! kinds has a lane, a FIFO that takes an entry when it is not earlier than the lane's last
//! one: an append where a B-tree insert cost about 230 instructions. Anything else (an
//! entry earlier than its lane's last, as when numbers have different idle timeouts or a
//! late webhook's window ends earlier, and the rare template, number and limit timers) goes
//! to an ordered set. The next entry is the least of the lanes' fronts and the set's first,
//! in the one order `(deadline, key)`, so outputs are the same whichever holds an entry.
//!
//! Why FIFOs and a B-tree and not a binary heap: entries are taken from the front, where
//! lanes and tree stay in cache; a binary heap's pop walks a path to a random leaf, about
//! ten cache misses with a million live chats.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::hash::FastMap;
use crate::shrink::ShrinkWhenSparse;
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

/// A queue entry: a wake-up, stale once its key is armed at another time or disarmed.
type Entry = (Instant, TimerKey);

/// Where the queue's first entry is.
#[derive(Clone, Copy)]
enum Front {
    Lane(usize),
    Others,
}

/// The engine's timers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    /// Conversation timers armed in order, one lane per [`ConversationSlot`] position.
    lanes: [VecDeque<Entry>; 3],
    /// Entries no lane takes (out of order ones; template, number and limit timers), in
    /// order.
    others: BTreeSet<Entry>,
    /// The first deadline of the queue (lanes and set), kept beside it: nearly every input
    /// finds nothing due, and reading this is cheaper than comparing four fronts.
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
                self.enqueue((at, key));
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
        while let Some(((at, key), front)) = self.first() {
            if at > now {
                return None;
            }
            self.pop(front);
            if self.armed_at(key) == Some(at) {
                self.set_armed(key, None);
                return Some((at, key));
            }
        }
        None
    }

    /// The earliest armed wake-up, dropping stale queue entries on the way.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(((at, key), front)) = self.first() {
            if self.armed_at(key) == Some(at) {
                return Some(at);
            }
            self.pop(front);
        }
        None
    }

    /// Appends `entry` to its lane if it keeps the lane in order, else files it in the set.
    fn enqueue(&mut self, entry: Entry) {
        if let Some((_, which)) = entry.1.of_conversation() {
            let lane = &mut self.lanes[which];
            if lane.back().is_none_or(|last| *last <= entry) {
                lane.push_back(entry);
                return;
            }
        }
        self.others.insert(entry);
    }

    /// The queue's first entry and where it is.
    fn first(&self) -> Option<(Entry, Front)> {
        let mut first = self.others.first().map(|&e| (e, Front::Others));
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(&entry) = lane.front() {
                if first.is_none_or(|(f, _)| entry < f) {
                    first = Some((entry, Front::Lane(i)));
                }
            }
        }
        first
    }

    /// Drops the first entry, found at `front` by [`Timers::first`].
    fn pop(&mut self, front: Front) {
        match front {
            Front::Lane(i) => {
                self.lanes[i].pop_front();
                // A lane keeps its peak capacity otherwise (a B-tree gives nodes back).
                self.lanes[i].shrink_when_sparse();
            }
            Front::Others => {
                self.others.pop_first();
            }
        }
        self.earliest = self.first().map(|((at, _), _)| at);
    }

    /// Queue entries, stale ones included.
    #[cfg(test)]
    fn entries(&self) -> usize {
        self.others.len() + self.lanes.iter().map(VecDeque::len).sum::<usize>()
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
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn t(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn arming_later_keeps_the_earlier_wakeup() {
        let mut timers = Timers::default();
        timers.arm(TimerKey::ChatIdle(1), t(100));
        timers.arm(TimerKey::ChatIdle(1), t(200));
        assert_eq!(timers.next_deadline(), Some(t(100)));
        assert_eq!(timers.entries(), 1);
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

    /// What the timers must do, without a queue: the armed deadline of each key, the next
    /// one due being the least `(deadline, key)` at or before `now`.
    #[derive(Default)]
    struct Model(BTreeMap<TimerKey, Instant>);

    impl Model {
        fn arm(&mut self, key: TimerKey, at: Instant) {
            let armed = self.0.entry(key).or_insert(at);
            *armed = (*armed).min(at);
        }

        fn pop_due(&mut self, now: Instant) -> Option<(Instant, TimerKey)> {
            let (at, key) = self.0.iter().map(|(k, t)| (*t, *k)).min()?;
            (at <= now).then(|| {
                self.0.remove(&key);
                (at, key)
            })
        }
    }

    fn key(kind: u8, index: u32) -> TimerKey {
        match kind {
            0 => TimerKey::ChatIdle(index),
            1 => TimerKey::WindowReminder(index),
            2 => TimerKey::OutboxExpiry(index),
            3 => TimerKey::TemplateDeadline(index),
            _ => TimerKey::LimitUpgrade(index),
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// Arm a key at the clock plus an offset (negative: earlier than entries queued
        /// before, as a late webhook's window end is, so lanes get out-of-order entries).
        Arm(u8, u32, i64),
        Disarm(u8, u32),
        /// Move the clock on and take everything due.
        Advance(i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u8..5, 0u32..8, -30i64..60).prop_map(|(k, i, d)| Step::Arm(k, i, d)),
            1 => (0u8..5, 0u32..8).prop_map(|(k, i)| Step::Disarm(k, i)),
            2 => (0i64..40).prop_map(Step::Advance),
        ]
    }

    proptest! {
        /// Any sequence of arms (in order, out of order, at equal deadlines, later than
        /// armed, earlier than armed), disarms and advances fires exactly the model's
        /// timers in the model's order, and the next deadline is the model's.
        #[test]
        fn fire_in_deadline_then_key_order(steps in prop::collection::vec(step(), 1..300)) {
            let mut timers = Timers::default();
            let mut model = Model::default();
            let mut now = 100i64;
            for step in steps {
                match step {
                    Step::Arm(kind, index, offset) => {
                        timers.arm(key(kind, index), t(now + offset));
                        model.arm(key(kind, index), t(now + offset));
                    }
                    Step::Disarm(kind, index) => {
                        timers.disarm(key(kind, index));
                        model.0.remove(&key(kind, index));
                    }
                    Step::Advance(by) => {
                        now += by;
                        loop {
                            let fired = timers.pop_due(t(now));
                            prop_assert_eq!(fired, model.pop_due(t(now)));
                            if fired.is_none() {
                                break;
                            }
                        }
                    }
                }
                // Conservative: it may answer `false` for a stale entry, never `true` wrongly.
                let due = model.0.values().any(|&at| at <= t(now));
                prop_assert!(!(due && timers.nothing_due_by(t(now))));
                prop_assert_eq!(
                    timers.next_deadline(),
                    model.0.values().min().copied()
                );
            }
        }
    }
}
