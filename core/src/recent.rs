//! Unique contacts reached within a moving period, exactly, in O(1) per operation.
//!
//! A messaging limit counts the unique contacts that received business-initiated messages in
//! any moving period (§7), so what matters for each contact is the *latest* such message. The
//! contacts are kept in a list ordered by that instant (an LRU list over a slab): a new
//! message moves its contact to the back, and since the engine's clock never goes back the
//! list stays sorted; contacts whose latest message left the period are dropped from the
//! front. Memory is one node per contact inside the period.

use crate::address::AddressKey;
use crate::hash::FastMap;
use crate::time::{Duration, Instant};

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Node {
    contact: AddressKey,
    at: Instant,
    prev: u32,
    next: u32,
}

/// Contacts with their latest instant, within a moving period.
#[derive(Clone, Debug)]
pub(crate) struct RecentContacts {
    span: Duration,
    nodes: Vec<Node>,
    free: Vec<u32>,
    index: FastMap<AddressKey, u32>,
    head: u32,
    tail: u32,
}

impl PartialEq for RecentContacts {
    fn eq(&self, other: &Self) -> bool {
        self.span == other.span && self.entries() == other.entries()
    }
}

impl RecentContacts {
    /// An empty set over a moving period of `span`.
    pub fn new(span: Duration) -> RecentContacts {
        RecentContacts {
            span,
            nodes: Vec::new(),
            free: Vec::new(),
            index: FastMap::default(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Drops contacts whose latest instant is outside the period ending at `now`.
    pub fn prune(&mut self, now: Instant) {
        while self.head != NIL {
            let node = self.nodes[self.head as usize];
            if node.at.plus(self.span) > now {
                break;
            }
            self.unlink(self.head);
        }
    }

    /// Records `contact` at `now` (moving it to the back). `now` must not be earlier than
    /// any instant recorded before; the engine's clock guarantees it.
    pub fn touch(&mut self, contact: AddressKey, now: Instant) {
        if let Some(&i) = self.index.get(&contact) {
            self.detach(i);
            self.nodes[i as usize].at = now;
            self.attach_back(i);
            return;
        }
        let node = Node {
            contact,
            at: now,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        self.index.insert(contact, i);
        self.attach_back(i);
    }

    /// Removes `contact` if its latest instant is `at` (a released slot); a later message
    /// to the same contact keeps it counted.
    pub fn remove_if_at(&mut self, contact: AddressKey, at: Instant) -> bool {
        match self.index.get(&contact) {
            Some(&i) if self.nodes[i as usize].at == at => {
                self.unlink(i);
                true
            }
            _ => false,
        }
    }

    /// Whether `contact` is within the period ending at `now`.
    pub fn contains(&self, contact: AddressKey, now: Instant) -> bool {
        self.index
            .get(&contact)
            .is_some_and(|&i| self.nodes[i as usize].at.plus(self.span) > now)
    }

    /// Contacts within the period ending at `now`, and when the oldest of them leaves it.
    /// Walks only the entries that expired since the last prune (none once the engine has
    /// pruned at its clock), so a pure check stays cheap.
    pub fn count_at(&self, now: Instant) -> (u32, Option<Instant>) {
        let mut expired = 0u32;
        let mut i = self.head;
        while i != NIL {
            let node = self.nodes[i as usize];
            let leaves_at = node.at.plus(self.span);
            if leaves_at > now {
                return (self.index.len() as u32 - expired, Some(leaves_at));
            }
            expired += 1;
            i = node.next;
        }
        (0, None)
    }

    /// When fewer than `limit` contacts will be within the period (after `now`): when the
    /// oldest of those that must leave does. With `count_at(now)` at `limit` that is when
    /// the oldest leaves; above it (a limit lowered below the contacts counted) more must
    /// leave first. `None` if fewer are within it already.
    pub fn below_limit_at(&self, now: Instant, limit: u32) -> Option<Instant> {
        let (used, _) = self.count_at(now);
        let mut must_leave = (used.checked_sub(limit)? + 1) as usize;
        let mut i = self.head;
        while i != NIL {
            let node = self.nodes[i as usize];
            let leaves_at = node.at.plus(self.span);
            if leaves_at > now {
                must_leave -= 1;
                if must_leave == 0 {
                    return Some(leaves_at);
                }
            }
            i = node.next;
        }
        None
    }

    /// (contact, latest instant), oldest first: the serialised form.
    pub fn entries(&self) -> Vec<(AddressKey, Instant)> {
        let mut out = Vec::with_capacity(self.index.len());
        let mut i = self.head;
        while i != NIL {
            let node = self.nodes[i as usize];
            out.push((node.contact, node.at));
            i = node.next;
        }
        out
    }

    /// Rebuilds from [`RecentContacts::entries`]; `None` if they are not sorted or repeat a
    /// contact.
    pub fn from_entries(
        span: Duration,
        entries: Vec<(AddressKey, Instant)>,
    ) -> Option<RecentContacts> {
        let mut set = RecentContacts::new(span);
        let mut last = Instant::EPOCH;
        for (contact, at) in entries {
            if at < last || set.index.contains_key(&contact) {
                return None;
            }
            last = at;
            set.touch(contact, at);
        }
        Some(set)
    }

    fn unlink(&mut self, i: u32) {
        self.detach(i);
        let contact = self.nodes[i as usize].contact;
        self.index.remove(&contact);
        self.free.push(i);
    }

    fn detach(&mut self, i: u32) {
        let Node { prev, next, .. } = self.nodes[i as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.nodes[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.nodes[next as usize].prev = prev;
        }
    }

    fn attach_back(&mut self, i: u32) {
        self.nodes[i as usize].prev = self.tail;
        self.nodes[i as usize].next = NIL;
        if self.tail == NIL {
            self.head = i;
        } else {
            self.nodes[self.tail as usize].next = i;
        }
        self.tail = i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> Instant {
        Instant::EPOCH.plus(Duration::from_hours(h))
    }
    fn c(n: u64) -> AddressKey {
        AddressKey(n)
    }

    #[test]
    fn latest_instant_counts_and_expiry_is_half_open() {
        let mut r = RecentContacts::new(Duration::from_hours(24));
        r.touch(c(1), t(0));
        r.touch(c(2), t(1));
        r.touch(c(1), t(2)); // moves contact 1 to the back
        assert_eq!(r.count_at(t(2)), (2, Some(t(25))));
        assert_eq!(
            r.count_at(t(25)),
            (1, Some(t(26))),
            "contact 2 left at exactly 24h"
        );
        assert!(r.contains(c(1), t(25)));
        assert!(!r.contains(c(1), t(26)));
        r.prune(t(25));
        assert_eq!(r.entries(), vec![(c(1), t(2))]);
        r.touch(c(3), t(30));
        assert_eq!(r.entries(), vec![(c(1), t(2)), (c(3), t(30))]);
        assert_eq!(r.count_at(t(25)), (2, Some(t(26))));
        let copy = RecentContacts::from_entries(Duration::from_hours(24), r.entries()).unwrap();
        assert_eq!(copy, r);
        assert!(RecentContacts::from_entries(
            Duration::from_hours(24),
            vec![(c(1), t(5)), (c(2), t(4))]
        )
        .is_none());
    }

    #[test]
    fn below_the_limit_when_enough_contacts_have_left() {
        let mut r = RecentContacts::new(Duration::from_hours(24));
        for k in 0..4 {
            r.touch(c(k), t(k as i64));
        }
        // Four counted: under a limit of 4 the oldest's leaving frees a slot; under 2, the
        // third's (two must leave first), and so at t(26).
        assert_eq!(r.below_limit_at(t(5), 4), Some(t(24)));
        assert_eq!(r.below_limit_at(t(5), 2), Some(t(26)));
        assert_eq!(r.below_limit_at(t(5), 1), Some(t(27)));
        assert_eq!(r.below_limit_at(t(5), 5), None, "below it already");
        // Entries expired but not yet pruned are not counted.
        assert_eq!(r.below_limit_at(t(24), 2), Some(t(26)));
        assert_eq!(r.below_limit_at(t(25), 2), Some(t(26)));
    }
}
