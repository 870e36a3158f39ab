//! Names of one user kept apart that hold one consent (§9).
//!
//! When the provider names a phone number and a user id as one user but both already have
//! a history, the engine keeps them two contacts (`contact_links.rs`): two histories are
//! never merged. Their consent is the user's, though: an opt-out, a stop or a marketing
//! back-off given under either name bars the user under both, whatever order the events
//! arrive in. So the names form a group from the first time they are named together, each
//! holding the same consent record, and every later consent event is applied to each of
//! them. Records are copies rather than one shared entry so that a send, which looks up the
//! consent of its contact, pays no second lookup.
//!
//! A group is a ring: each name points to the next, so that joining two groups is one
//! splice and a group is walked from any of its names. A name in no group is absent.

use std::collections::HashSet;

use crate::address::AddressKey;
use crate::contact_links::{pairs_of_business, sorted_pairs};
use crate::hash::{BuildFastHasher, FastMap};

/// Groups by business: (business, name) → the next name of its group.
#[derive(Clone, Debug, Default)]
pub(crate) struct ConsentGroups {
    next: FastMap<(u32, AddressKey), AddressKey>,
}

impl ConsentGroups {
    /// The names of `key`'s group in `business`, `key` first; `key` alone when it is in no
    /// group.
    pub(crate) fn names(
        &self,
        business: u32,
        key: AddressKey,
    ) -> impl Iterator<Item = AddressKey> + '_ {
        let mut at = Some(key);
        // Bounded by the map's size, so that no state loops (a restore checks the rings).
        let mut left = self.next.len() + 1;
        std::iter::from_fn(move || {
            let name = at?;
            left = left.checked_sub(1)?;
            at = (self.next.get(&(business, name)).copied()).filter(|&next| next != key);
            Some(name)
        })
    }

    /// Whether `key` is in a group of `business`.
    pub(crate) fn contains(&self, business: u32, key: AddressKey) -> bool {
        !self.next.is_empty() && self.next.contains_key(&(business, key))
    }

    /// Joins the groups of `a` and `b` in `business` into one; whether they were two (when
    /// one already, nothing changes).
    pub(crate) fn join(&mut self, business: u32, a: AddressKey, b: AddressKey) -> bool {
        if a == b || self.names(business, a).any(|name| name == b) {
            return false;
        }
        // Splicing two rings: each name takes the other's successor.
        let next_a = self.next.get(&(business, a)).copied().unwrap_or(a);
        let next_b = self.next.get(&(business, b)).copied().unwrap_or(b);
        self.next.insert((business, a), next_b);
        self.next.insert((business, b), next_a);
        true
    }

    /// Takes `key` out of its group in `business` (a group left with one name is no group);
    /// nothing when it is in none. Its record stays its own copy.
    pub(crate) fn leave(&mut self, business: u32, key: AddressKey) {
        // The name before `key`: the last of the walk from it.
        let before = self.names(business, key).last().unwrap_or(key);
        let Some(next) = self.next.remove(&(business, key)) else {
            return;
        };
        if before == next {
            self.next.remove(&(business, next));
        } else {
            self.next.insert((business, before), next);
        }
    }

    /// Every link as (business, name, next name), sorted (for snapshots).
    pub(crate) fn sorted(&self) -> Vec<(u32, AddressKey, AddressKey)> {
        sorted_pairs(self.next.iter())
    }

    /// The links of `business`, as (name, next name) in order (for business exports).
    pub(crate) fn of_business(&self, business: u32) -> Vec<(AddressKey, AddressKey)> {
        pairs_of_business(self.sorted(), business)
    }

    /// Adds a link read from a snapshot or export: two different contact names (no group
    /// id), `name` not linked already.
    pub(crate) fn restore(
        &mut self,
        business: u32,
        name: AddressKey,
        next: AddressKey,
    ) -> Result<(), String> {
        if name == next || name.is_group() || next.is_group() {
            return Err(format!(
                "a consent group of business {business} must link two contact names"
            ));
        }
        if self.next.insert((business, name), next).is_some() {
            return Err(format!(
                "a name of business {business} is in a consent group twice"
            ));
        }
        Ok(())
    }

    /// Refuses links that do not form rings (a name no other leads to, or two leading to
    /// one), which the engine never makes: a walk from such a name would not come back.
    pub(crate) fn check_rings(&self) -> Result<(), String> {
        let mut led_to: HashSet<_, BuildFastHasher> = HashSet::default();
        for (&(business, _), &next) in &self.next {
            if !self.next.contains_key(&(business, next)) || !led_to.insert((business, next)) {
                return Err(format!(
                    "a consent group of business {business} is not a ring"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(groups: &ConsentGroups, key: AddressKey) -> Vec<AddressKey> {
        let mut all: Vec<_> = groups.names(0, key).collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn joined_groups_are_walked_from_any_name_and_joining_again_changes_nothing() {
        let [a, b, c, d] = [1u64, 2, 3, 4].map(|n| AddressKey((1 << 62) | n));
        let mut groups = ConsentGroups::default();
        assert_eq!(names(&groups, a), [a]);
        assert!(groups.join(0, a, b));
        assert!(groups.join(0, c, d));
        assert_eq!(names(&groups, b), [a, b]);
        assert!(groups.join(0, d, b));
        for key in [a, b, c, d] {
            assert_eq!(names(&groups, key), [a, b, c, d]);
        }
        let before = groups.sorted();
        assert!(!groups.join(0, a, c));
        assert_eq!(groups.sorted(), before, "one group already");
        assert!(!groups.contains(1, a), "groups are a business's");
        assert_eq!(groups.check_rings(), Ok(()));

        groups.leave(0, c);
        assert_eq!(names(&groups, c), [c]);
        assert_eq!(names(&groups, d), [a, b, d]);
        groups.leave(0, a);
        groups.leave(0, a);
        assert_eq!(names(&groups, b), [b, d]);
        groups.leave(0, d);
        assert_eq!(groups.sorted(), [], "a group of one is none");
    }

    #[test]
    fn a_restore_refuses_links_that_are_no_ring() {
        let [a, b, c] = [1u64, 2, 3].map(|n| AddressKey((1 << 62) | n));
        let mut groups = ConsentGroups::default();
        groups.restore(0, a, b).unwrap();
        assert!(groups.check_rings().is_err(), "b leads nowhere");
        groups.restore(0, b, a).unwrap();
        assert_eq!(groups.check_rings(), Ok(()));
        groups.restore(0, c, a).unwrap();
        assert!(groups.check_rings().is_err(), "two lead to a");
        assert!(groups.restore(0, a, c).is_err(), "a twice");
        assert!(groups.restore(0, c, c).is_err(), "a name to itself");
    }
}
