//! Duplicate records (RULES.md §10): which content each contact of a business was sent,
//! from any of the business's numbers, until when it counts as a duplicate.
//!
//! Every allowed send adds a record that lives for the content period (24 h by default), so
//! at scale this is the engine's largest table and the one that grows fastest. It is kept
//! as a log and an index over it:
//!
//! * the **log** holds the records in the order they were made, which is expiry order (the
//!   clock never moves back and the period is one policy value), so pruning pops from its
//!   front and growing it is a sequential copy;
//! * the **index** ([`TaggedSlots`]) maps each `(recipient, content hash)` key to the
//!   sequence number of its latest record. A send that is not a duplicate (nearly all of
//!   them) reads one slot line and no record: a tag mismatch settles it. Growing reads tags
//!   only.
//!
//! A record made while its key's previous one still counted (a forced copy, or the text
//! changed since) keeps a link to that one, so that if it fails the previous copy, which may
//! have reached the contact, counts again. Such copies are rare: the links are a side table.
//!
//! When a contact's phone number changes hands (§1), what its previous owner was sent is no
//! duplicate for the new owner: a cut-off per recipient makes the records sent before the
//! change count no more, without a walk of the log (a number changing hands is rare; the
//! cut-off is read only when a key matches, and goes once the records before it are pruned).
//!
//! Each record also names the conversation that sent it, which snapshots and exports keep
//! (the recipient is worked out from it again on restore, so an import that renumbers
//! contacts or businesses needs no second mapping).
//!
//! Together 43 to 53 bytes a record, where a `HashMap` keyed by the pair plus an expiry queue
//! took 50 to 80, and rehashing it on growth flushed the cache of everything else.

use std::collections::{HashMap, VecDeque};

use crate::address::AddressKey;
use crate::expiring::PRUNE_PER_INSERT;
use crate::shrink::ShrinkWhenSparse;
use crate::tagged_slots::{tag_of_words, TaggedSlots};
use crate::time::Instant;

/// Whom content went to, for duplicates: a contact (or group) of a business, whichever of
/// the business's numbers sent it. RULES.md §10 says "the same contact": a customer who got
/// a message from one number gets it twice if another number of the business sends it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Recipient {
    pub business: u32,
    pub contact: AddressKey,
}

/// One send's record: until when the content counts as sent to the recipient. The
/// recipient's fields are flattened so that the record stays 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    expires_at: Instant,
    hash: u64,
    contact: AddressKey,
    business: u32,
    /// The conversation that sent it (snapshots and exports name records by it).
    conv: u32,
}

// The size the module's per-record cost is worked out from.
const _: () = assert!(std::mem::size_of::<Record>() == 32);

impl Record {
    fn recipient(&self) -> Recipient {
        Recipient {
            business: self.business,
            contact: self.contact,
        }
    }

    fn is(&self, to: Recipient, hash: u64) -> bool {
        self.hash == hash && self.contact == to.contact && self.business == to.business
    }
}

#[derive(Clone, Debug)]
pub(crate) struct SentContent {
    log: VecDeque<Record>,
    /// Sequence number of `log[0]`.
    head: u64,
    /// Each key's latest record, as its sequence number modulo 2³² (the log never holds
    /// 2³² records, see [`SentContent::record`]).
    index: TaggedSlots,
    /// For a record that superseded its key's record while that one still counted: the
    /// sequence number of that one (both modulo 2³², as in the index). A link goes when its
    /// record leaves the log or fails.
    superseded: HashMap<u32, u32>,
    /// Recipients whose records sent before the phone number they were sent to changed
    /// hands count no more ([`SentContent::clear`]): those expiring before an instant, or at
    /// it and made before a sequence number (not taken modulo 2³²; one instant's sends are
    /// told apart by arrival).
    cleared: HashMap<Recipient, (Instant, u64)>,
    /// Bits of the tag kept: all 32, except in tests that force tag collisions.
    tag_mask: u32,
}

impl Default for SentContent {
    fn default() -> SentContent {
        SentContent {
            log: VecDeque::new(),
            head: 0,
            index: TaggedSlots::default(),
            superseded: HashMap::new(),
            cleared: HashMap::new(),
            tag_mask: u32::MAX,
        }
    }
}

impl SentContent {
    /// Until when `hash` counts as already sent to `to`, if it was sent and its record is
    /// not pruned yet (the caller compares with its `now`: pruning happens on sends only).
    #[inline]
    pub fn expires_at(&self, to: Recipient, hash: u64) -> Option<Instant> {
        // Written out, not read through `latest`: every send asks this, and through
        // `latest` it cost about 20 instructions more a send (callgrind, session 33).
        let at = self.find(to, hash)?;
        let seq = self.index.value(at);
        self.counts(seq)
            .then(|| self.log[self.position(seq)].expires_at)
    }

    /// [`SentContent::expires_at`], with the conversation that sent that latest record.
    #[inline]
    pub fn latest(&self, to: Recipient, hash: u64) -> Option<(Instant, u32)> {
        let at = self.find(to, hash)?;
        let seq = self.index.value(at);
        let r = &self.log[self.position(seq)];
        self.counts(seq).then_some((r.expires_at, r.conv))
    }

    /// Makes the records sent to `to` that expire before `expiring_by` (those sent before
    /// the phone number naming the contact changed hands, whenever they were recorded), or
    /// at it and recorded so far (sent at the change's instant, before it arrived), count no
    /// more: what its previous owner was sent is no duplicate for the new owner (§10 says
    /// "the same contact"). Records still in the log stay there until pruned, as forgotten
    /// ones do.
    pub fn clear(&mut self, to: Recipient, expiring_by: Instant) {
        let cut = (expiring_by, self.head + self.log.len() as u64);
        let kept = self.cleared.entry(to).or_insert(cut);
        *kept = (*kept).max(cut);
    }

    /// Records that `conv` sent `hash` to `to`, counting until `expires_at`, after dropping
    /// some of the records that expired by `now` (see [`SentContent::prune`]). `expires_at` is
    /// not earlier than any recorded before.
    pub fn record(
        &mut self,
        conv: u32,
        to: Recipient,
        hash: u64,
        expires_at: Instant,
        now: Instant,
    ) {
        self.prune(now);
        if self.log.len() >= u32::MAX as usize {
            // Sequence numbers are kept modulo 2³² in the index. 2³² records would be 100 GiB:
            // forgetting the oldest one early is the bounded answer if it ever happens.
            self.pop_oldest();
        }
        let seq = (self.head + self.log.len() as u64) as u32;
        self.log.push_back(Record {
            expires_at,
            hash,
            contact: to.contact,
            business: to.business,
            conv,
        });
        match self.find(to, hash) {
            Some(at) => {
                let previous = self.index.value(at);
                if self.counts(previous) && self.log[self.position(previous)].expires_at > now {
                    self.superseded.insert(seq, previous);
                }
                self.index.set_value(at, seq);
            }
            None => self.index.insert(self.tag(to, hash), seq),
        }
    }

    /// Forgets the record of `hash` that `conv` sent to `to` counting until `expires_at`: the
    /// send failed and never reached the contact, so it makes no duplicate (§10). If it is
    /// its key's latest record, the record it superseded (another copy, which may have
    /// reached the contact) counts again, or, if none, sending the content again is no
    /// duplicate. If a later copy superseded it, it is taken out of the line of copies that
    /// later one falls back on. Its record stays in the log until pruned. Whether one was
    /// forgotten (a record that counted: not one [`SentContent::clear`] cleared). The
    /// conversation tells apart two numbers' copies of one instant: another number's copy
    /// reached the contact.
    pub fn forget(&mut self, conv: u32, to: Recipient, hash: u64, expires_at: Instant) -> bool {
        let Some(at) = self.find(to, hash) else {
            return false;
        };
        let failed = |r: &Record| r.expires_at == expires_at && r.conv == conv;
        let latest = self.index.value(at);
        if !self.counts(latest) {
            return false; // cleared, and so every copy before it (expiring earlier)
        }
        if failed(&self.log[self.position(latest)]) {
            match (self.superseded.remove(&latest)).filter(|&s| self.in_log(s) && self.counts(s)) {
                Some(previous) => self.index.set_value(at, previous),
                None => self.index.remove(at),
            }
            return true;
        }
        // A superseded copy failed: the copies superseding one another form a line from
        // the latest back, each link to the one before (only a few: forced copies).
        let mut later = latest;
        while let Some(&earlier) = self.superseded.get(&later) {
            if !self.in_log(earlier) {
                break;
            }
            if failed(&self.log[self.position(earlier)]) {
                match self.superseded.remove(&earlier) {
                    Some(before) => self.superseded.insert(later, before),
                    None => self.superseded.remove(&later),
                };
                return true;
            }
            later = earlier;
        }
        false
    }

    /// The records that count (the latest of each key and the copies it falls back on if it
    /// fails, not forgotten), in the order they were made (snapshots, exports): rebuilt from
    /// them, a table answers as this one does.
    pub fn records(&self) -> impl Iterator<Item = (Instant, u32, u64)> + '_ {
        // With the copies that later ones superseded while they counted: rebuilt in order,
        // the later copy supersedes them again and links to them.
        let superseded: std::collections::HashSet<u32> =
            self.superseded.values().copied().collect();
        self.log.iter().enumerate().filter_map(move |(i, r)| {
            let seq = (self.head + i as u64) as u32;
            if !self.counts(seq) {
                return None;
            }
            if superseded.contains(&seq) {
                return Some((r.expires_at, r.conv, r.hash));
            }
            let at = self.find(r.recipient(), r.hash)?;
            (self.index.value(at) == seq).then_some((r.expires_at, r.conv, r.hash))
        })
    }

    /// A table holding `records` (a snapshot's, or two engines' merged), each sent to the
    /// recipient `recipient_of` its conversation, put in expiry order first, as pruning pops
    /// from the front: a stable sort, so that records of one key keep their order and the
    /// later one wins (a no-op pass on a log already in order).
    pub fn from_records(
        mut records: Vec<(Instant, u32, u64)>,
        recipient_of: impl Fn(u32) -> Recipient,
    ) -> SentContent {
        records.sort_by_key(|&(expires_at, _, _)| expires_at);
        let mut table = SentContent::default();
        for (expires_at, conv, hash) in records {
            // No pruning while rebuilding: `now` is the earliest instant there is.
            table.record(conv, recipient_of(conv), hash, expires_at, Instant::EPOCH);
        }
        table
    }

    /// Drops up to [`PRUNE_PER_INSERT`] records that expired by `now` (see there why not
    /// all of them).
    fn prune(&mut self, now: Instant) {
        for _ in 0..PRUNE_PER_INSERT {
            if self.log.front().is_none_or(|r| r.expires_at > now) {
                break;
            }
            self.pop_oldest();
        }
        if !self.cleared.is_empty() {
            // Records are pruned in expiry order: a cut-off no record left expires by has
            // nothing more to cut.
            let oldest = self.log.front().map(|r| r.expires_at);
            self.cleared
                .retain(|_, cut| oldest.is_some_and(|oldest| oldest <= cut.0));
        }
        self.log.shrink_when_sparse();
        self.index.shrink_when_sparse();
    }

    fn pop_oldest(&mut self) {
        let Some(&oldest) = self.log.front() else {
            return;
        };
        // The key's slot goes only if it still names this record, not a later one (found
        // while the record is still in the log, as probes read the records they match).
        if let Some(at) = self.find(oldest.recipient(), oldest.hash) {
            if self.index.value(at) == self.head as u32 {
                self.index.remove(at);
            }
        }
        if !self.superseded.is_empty() {
            self.superseded.remove(&(self.head as u32));
        }
        self.log.pop_front();
        self.head += 1;
    }

    /// Whether the record of sequence number `seq`, in the log, counts: not one its
    /// recipient's cut-off clears.
    #[inline]
    fn counts(&self, seq: u32) -> bool {
        self.cleared.is_empty() || {
            let r = &self.log[self.position(seq)];
            let made = self.head + self.position(seq) as u64;
            (self.cleared.get(&r.recipient())).is_none_or(|&(expiring_by, made_by)| {
                r.expires_at > expiring_by || (r.expires_at == expiring_by && made >= made_by)
            })
        }
    }

    /// Whether the record of sequence number `seq` is still in the log (not pruned).
    fn in_log(&self, seq: u32) -> bool {
        self.position(seq) < self.log.len()
    }

    #[inline]
    fn tag(&self, to: Recipient, hash: u64) -> u32 {
        // Two words hashed, the business mixed into the contact's: the tag only spreads the
        // keys, a match is checked on every field.
        let who = to.contact.0 ^ (u64::from(to.business) << 32);
        (tag_of_words(who, hash) & self.tag_mask).max(1)
    }

    fn position(&self, seq: u32) -> usize {
        seq.wrapping_sub(self.head as u32) as usize
    }

    /// The index slot of `(to, hash)`, if it has one.
    #[inline]
    fn find(&self, to: Recipient, hash: u64) -> Option<usize> {
        self.index.find(self.tag(to, hash), |seq| {
            self.log[self.position(seq)].is(to, hash)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn at(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    /// Whom conversation `conv` of the tests sends to: conversations 0 and 4 (and 1 and 5)
    /// are two numbers of one business writing to one contact; 0 and 1 one contact of two
    /// businesses.
    fn to(conv: u32) -> Recipient {
        Recipient {
            business: conv % 2,
            contact: AddressKey(u64::from(conv / 2 % 2)),
        }
    }

    /// The key the model files a send under.
    fn key(conv: u32, hash: u64) -> (u32, u64, u64) {
        (to(conv).business, to(conv).contact.0, hash)
    }

    /// The table this one replaced: a map to each key's copies that count, oldest first
    /// (a copy made while the one before still counted lines up behind it), and a queue of
    /// every record in expiry order.
    #[derive(Default)]
    struct Model {
        copies: HashMap<(u32, u64, u64), Vec<(Instant, u32)>>,
        queue: VecDeque<(Instant, u32, u64)>,
    }

    impl Model {
        fn record(&mut self, conv: u32, hash: u64, expires_at: Instant, now: Instant) {
            while self.queue.front().is_some_and(|&(e, _, _)| e <= now) {
                self.queue.pop_front();
            }
            for copies in self.copies.values_mut() {
                copies.retain(|&(e, _)| e > now);
            }
            self.copies
                .entry(key(conv, hash))
                .or_default()
                .push((expires_at, conv));
            self.queue.push_back((expires_at, conv, hash));
        }

        /// Forgets a failed copy, the latest one that matches: whether it counted (`None`
        /// for a copy that no longer counts, which the table may or may not still hold).
        fn forget(
            &mut self,
            conv: u32,
            hash: u64,
            expires_at: Instant,
            now: Instant,
        ) -> Option<bool> {
            let copies = self.copies.entry(key(conv, hash)).or_default();
            if let Some(i) = copies.iter().rposition(|&copy| copy == (expires_at, conv)) {
                copies.remove(i);
                return Some(true);
            }
            (expires_at > now).then_some(false)
        }

        /// What was sent to `conv`'s recipient so far, expiring by `cut`, counts no more.
        fn clear(&mut self, conv: u32, cut: Instant) {
            let (business, contact, _) = key(conv, 0);
            for (_, copies) in
                (self.copies.iter_mut()).filter(|((b, c, _), _)| (*b, *c) == (business, contact))
            {
                copies.retain(|&(e, _)| e > cut);
            }
        }

        fn expires_at(&self, conv: u32, hash: u64) -> Option<Instant> {
            self.copies.get(&key(conv, hash))?.last().map(|l| l.0)
        }
    }

    proptest! {
        /// Sends from a few conversations (some of them to one recipient) of a few contents,
        /// time moving on by steps and now and then by a jump that expires everything: every
        /// answer that counts (a record not expired by `now`) equals the model's, with full
        /// tags and with tags of two bits (so that keys share tags and removal shifts runs);
        /// now and then a recipient's records are cleared before a send (its number changed
        /// hands); expired records not pruned yet sit only at the front of the log, and each
        /// send shrinks their backlog.
        #[test]
        fn agrees_with_a_map_and_a_queue(
            steps in prop::collection::vec(
                (0u32..6, 0u64..6, prop_oneof![9 => 0i64..40, 1 => Just(500i64)], 0u8..5),
                1..400,
            ),
            weak_tags in any::<bool>(),
        ) {
            let period = 100;
            let mut table = SentContent { tag_mask: if weak_tags { 3 } else { u32::MAX }, ..SentContent::default() };
            let mut model = Model::default();
            let mut now = 0;
            for (conv, hash, step, fails) in steps {
                now += step;
                if fails == 4 {
                    // The number changed hands `step` ms ago (a late report of it), or now.
                    let cut = at(now - step * (hash % 2) as i64 + period);
                    table.clear(to(conv), cut);
                    model.clear(conv, cut);
                }
                let expired_before = table.log_entries().filter(|r| r.0 <= at(now)).count();
                table.record(conv, to(conv), hash, at(now + period), at(now));
                model.record(conv, hash, at(now + period), at(now));
                if fails <= 1 {
                    // The send of this step, or of `step` ms earlier, failed, as sent by this
                    // conversation or (1) by the other one to its recipient: forgotten if it
                    // is one of its key's copies that count, sent by that conversation, and
                    // the copy before it counts again if it was the latest.
                    let sender = if fails == 0 { conv } else { conv ^ 4 };
                    let failed = at(now - step + period);
                    let forgotten = table.forget(sender, to(conv), hash, failed);
                    if let Some(counted) = model.forget(sender, hash, failed, at(now)) {
                        prop_assert_eq!(forgotten, counted);
                    }
                }
                let live = |e: Option<Instant>| e.filter(|&e| e > at(now));
                for c in 0..6 {
                    for h in 0..6 {
                        prop_assert_eq!(
                            live(table.expires_at(to(c), h)),
                            live(model.expires_at(c, h))
                        );
                    }
                }
                let expired = table.log_entries().take_while(|r| r.0 <= at(now)).count();
                prop_assert_eq!(expired, expired_before.saturating_sub(PRUNE_PER_INSERT));
                prop_assert!(table.log_entries().skip(expired).eq(model.queue.iter().copied()));
                // What a snapshot keeps: each key's copies that count, under the
                // conversations that sent them, unless forgotten (those expired but not
                // pruned yet aside: the model drops them at once).
                let mut kept: Vec<_> = table.records().filter(|r| r.0 > at(now)).collect();
                let mut expected: Vec<_> = (model.copies.iter())
                    .flat_map(|(&(_, _, h), copies)| copies.iter().map(move |&(e, c)| (e, c, h)))
                    .collect();
                kept.sort_unstable();
                expected.sort_unstable();
                prop_assert_eq!(kept, expected);
            }
            // Rebuilt, a table answers the same, also after each key's latest copy fails.
            let mut rebuilt = SentContent::from_records(table.records().collect(), to);
            for c in 0..6 {
                for h in 0..6 {
                    prop_assert_eq!(rebuilt.expires_at(to(c), h), table.expires_at(to(c), h));
                    if let Some((e, sender)) = table.latest(to(c), h) {
                        prop_assert!(rebuilt.forget(sender, to(c), h, e));
                        prop_assert!(table.forget(sender, to(c), h, e));
                        prop_assert_eq!(rebuilt.expires_at(to(c), h), table.expires_at(to(c), h));
                    }
                }
            }
        }
    }

    impl SentContent {
        /// Every record in the log, superseded and forgotten ones included.
        fn log_entries(&self) -> impl Iterator<Item = (Instant, u32, u64)> + '_ {
            self.log.iter().map(|r| (r.expires_at, r.conv, r.hash))
        }
    }

    #[test]
    fn grows_and_gives_memory_back() {
        let mut table = SentContent::default();
        for i in 0..100_000u32 {
            table.record(
                i,
                to(i),
                u64::from(i) * 7,
                at(1_000_000 + i64::from(i)),
                at(i64::from(i)),
            );
        }
        assert_eq!(table.index.len(), 100_000);
        let peak = table.index.slot_count();
        assert!(table.expires_at(to(99_999), 699_993).is_some());
        assert_eq!(table.expires_at(to(99_999), 1), None);
        // Much later: each send drops up to PRUNE_PER_INSERT expired records, so the backlog
        // drains over a few thousand sends and no single send pays for all of it.
        let mut sends = 0;
        while table.log.front().unwrap().expires_at <= at(5_000_000) {
            let before = table.log.len();
            table.record(1, to(1), 1, at(10_000_000), at(5_000_000));
            sends += 1;
            assert!(before + 1 - table.log.len() <= PRUNE_PER_INSERT);
        }
        assert_eq!(sends, 100_000usize.div_ceil(PRUNE_PER_INSERT));
        // What is left: one live key, whose superseded records wait for their own expiry.
        assert_eq!((table.index.len(), table.log.len()), (1, sends));
        assert!(
            table.index.slot_count() < peak / 16,
            "{} slots",
            table.index.slot_count()
        );
        assert_eq!(table.expires_at(to(1), 1), Some(at(10_000_000)));
    }
}
