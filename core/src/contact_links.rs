//! One contact under two names: a phone number and a business-scoped user id.
//!
//! Meta names a user by a business-scoped user id (BSUID, facts §1.3) beside their phone
//! number, and by the user id alone once they adopt a username (the phone number then drops
//! out of payloads). A payload carrying both tells the engine the two are one contact. From
//! then on either name reaches the same conversations, consent and limit slot in the
//! business (user ids are scoped to a business portfolio), so the window, opt-out and
//! ticket outlive the phone number's disappearance.
//!
//! Of the two names, the one the business already has a history under stays the contact's
//! key and the other becomes its alias: usually the phone number, but the user id for a
//! user first met under it. Two histories are never merged: when both names already have
//! one, they stay two contacts, holding one consent (`consent_groups.rs`). Two user ids
//! are never one contact (a user id is one user's): a phone number an inbound names beside
//! another user id than its own has changed hands, and its links are undone
//! (`Engine::hand_over`), unless the inbound is older than the number's latest pair (see
//! `linked_at`).
//!
//! Aliases are kept in two maps, so that the common case (sends and inbounds by phone
//! number, no phone number an alias) costs one emptiness test, not a lookup.

use crate::address::AddressKey;
use crate::hash::FastMap;
use crate::time::Instant;

/// Aliases by business: (business, alias) → the contact's key.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContactLinks {
    /// User ids that alias a phone number.
    user_ids: FastMap<(u32, AddressKey), AddressKey>,
    /// Phone numbers that alias a user id (a user first met under the user id).
    phones: FastMap<(u32, AddressKey), AddressKey>,
    /// The other way round: (business, user id keying a contact) → its phone number, for
    /// what a phone number decides: its market and whether it is a US
    /// number. Derived from `phones`; not saved.
    phone_of_key: FastMap<(u32, AddressKey), AddressKey>,
    /// (business, phone number keying a contact) → how many user ids alias it: such a
    /// phone number cannot become an alias in turn (aliases never chain). Derived from
    /// `user_ids`; not saved.
    user_ids_of_key: FastMap<(u32, AddressKey), u32>,
    /// (business, phone number or user id) → the instant of the latest inbound that named
    /// it in a pair that stands (linked, or holding one consent; a change of hands or a
    /// user id's move included). A phone number is one user's at a time, and a user id
    /// names one phone number at a time, so a pair dated before either's instant is older
    /// than the latest change: the previous owner's message, or the user's from the number
    /// they left, delivered late, which hands over or moves nothing.
    linked_at: FastMap<(u32, AddressKey), Instant>,
    /// (business, phone number) → the latest change of hands of the number: its instant
    /// (the inbound's that told of it) and another name of the previous owner (a user id it
    /// left, or a name of its consent group), whose names hold one consent. A consent event naming the number alone, dated before it, is the previous
    /// owner's (§9, §13): their opt-in, delivered late, must not become the new owner's.
    handovers: FastMap<(u32, AddressKey), (Instant, AddressKey)>,
}

impl ContactLinks {
    /// The key of the contact `key` names in `business`: itself, unless it is an alias.
    #[inline]
    pub(crate) fn resolve(&self, business: u32, key: AddressKey) -> AddressKey {
        self.resolve_with(|| business, key)
    }

    /// [`ContactLinks::resolve`] with the business found only when there are aliases of
    /// `key`'s kind: on the hot path, no lookup of the business at all.
    #[inline]
    pub(crate) fn resolve_with(
        &self,
        business: impl FnOnce() -> u32,
        key: AddressKey,
    ) -> AddressKey {
        let map = self.aliases(key);
        if map.is_empty() {
            return key;
        }
        map.get(&(business(), key)).copied().unwrap_or(key)
    }

    /// Makes `alias` another name of the contact `key` in `business` (replacing what it
    /// named before). `key` must not itself be an alias.
    pub(crate) fn link(&mut self, business: u32, alias: AddressKey, key: AddressKey) {
        debug_assert_eq!(self.resolve(business, key), key, "aliases never chain");
        self.insert(business, alias, key);
    }

    /// Makes the phone number `alias` a name of its own again in `business`: the user id
    /// whose contact it named gave it up (facts §1.3: a user id is one user's, so the
    /// number named with another is someone else's now).
    pub(crate) fn unlink_phone(&mut self, business: u32, alias: AddressKey) {
        let Some(key) = self.phones.remove(&(business, alias)) else {
            return;
        };
        if self.phone_of_key.get(&(business, key)) == Some(&alias) {
            // The contact's phone number is now its other phone number alias, if any (the
            // larger, as `insert` keeps it): a walk, on a path as rare as a number changing
            // hands.
            let other = (self.phones.iter())
                .filter(|&(&(b, _), &k)| b == business && k == key)
                .map(|(&(_, other), _)| other)
                .max();
            match other {
                Some(other) => self.phone_of_key.insert((business, key), other),
                None => self.phone_of_key.remove(&(business, key)),
            };
        }
    }

    /// Makes the user ids that are other names of the contact keyed by the phone number
    /// `key` in `business` names of their own again, and returns them (sorted, so that what
    /// follows does not depend on the map's order): the number changed hands. A walk, on a
    /// path as rare as that.
    pub(crate) fn unlink_user_ids_of(&mut self, business: u32, key: AddressKey) -> Vec<AddressKey> {
        if self.user_ids_of_key.remove(&(business, key)).is_none() {
            return Vec::new();
        }
        let mut left: Vec<_> = (self.user_ids.iter())
            .filter(|&(&(b, _), &to)| b == business && to == key)
            .map(|(&(_, user_id), _)| user_id)
            .collect();
        left.sort_unstable();
        for user_id in &left {
            self.user_ids.remove(&(business, *user_id));
        }
        left
    }

    /// Records `alias` → `key`, and a phone number alias as the contact's phone number; the
    /// key `alias` named before, if any. Of two phone numbers aliasing one contact (which
    /// Meta's user ids, regenerated with a new number, should not give) the larger is its
    /// phone number: a rule a restore, reading them in any order, keeps.
    fn insert(&mut self, business: u32, alias: AddressKey, key: AddressKey) -> Option<AddressKey> {
        if alias.phone_digits().is_some() {
            let noted = self.phone_of_key.entry((business, key)).or_insert(alias);
            *noted = (*noted).max(alias);
        }
        let before = self.aliases_mut(alias).insert((business, alias), key);
        if alias.phone_digits().is_none() {
            *self.user_ids_of_key.entry((business, key)).or_default() += 1;
            if let Some(before) = before {
                if let Some(count) = self.user_ids_of_key.get_mut(&(business, before)) {
                    *count -= 1;
                    if *count == 0 {
                        self.user_ids_of_key.remove(&(business, before));
                    }
                }
            }
        }
        before
    }

    /// Whether another name is an alias of the contact `key` in `business` (a user id of a
    /// phone number, a phone number of a user id): `key` then keys a contact, and cannot
    /// become an alias itself (aliases never chain).
    pub(crate) fn keys_an_alias(&self, business: u32, key: AddressKey) -> bool {
        match key.phone_digits() {
            Some(_) => self.user_ids_of_key.contains_key(&(business, key)),
            None => self.phone_of_key.contains_key(&(business, key)),
        }
    }

    /// The phone number of the contact keyed by `key` in `business`: the key itself, or a
    /// phone number that is its alias (facts §1.3: the phone number stays an attribute of
    /// a contact keyed by user id).
    #[inline]
    pub(crate) fn phone_of(&self, business: u32, key: AddressKey) -> Option<AddressKey> {
        if key.phone_digits().is_some() {
            return Some(key);
        }
        if self.phone_of_key.is_empty() {
            return None;
        }
        self.phone_of_key.get(&(business, key)).copied()
    }

    /// The map that holds aliases of `name`'s kind.
    #[inline]
    fn aliases(&self, name: AddressKey) -> &FastMap<(u32, AddressKey), AddressKey> {
        match name.phone_digits() {
            Some(_) => &self.phones,
            None => &self.user_ids,
        }
    }

    fn aliases_mut(&mut self, name: AddressKey) -> &mut FastMap<(u32, AddressKey), AddressKey> {
        match name.phone_digits() {
            Some(_) => &mut self.phones,
            None => &mut self.user_ids,
        }
    }

    /// Notes that an inbound dated `at` named the phone number `phone` and the user id
    /// `user_id` of `business` together, a pair that stands now (see `linked_at`).
    pub(crate) fn note_inbound_pair(
        &mut self,
        business: u32,
        phone: AddressKey,
        user_id: AddressKey,
        at: Instant,
    ) {
        for name in [phone, user_id] {
            let latest = self.linked_at.entry((business, name)).or_insert(at);
            *latest = (*latest).max(at);
        }
    }

    /// Whether a pair naming `name` of `business` (a phone number or a user id), dated
    /// `at`, is older than the latest pair an inbound named it in (see `linked_at`).
    pub(crate) fn older_than_latest(&self, business: u32, name: AddressKey, at: Instant) -> bool {
        (self.linked_at.get(&(business, name))).is_some_and(|&latest| at < latest)
    }

    /// Notes that the phone number `phone` of `business` changed hands at `at`, leaving
    /// `previous`, another name of its previous owner (see `handovers`).
    pub(crate) fn note_handover(
        &mut self,
        business: u32,
        phone: AddressKey,
        at: Instant,
        previous: AddressKey,
    ) {
        self.handovers.insert((business, phone), (at, previous));
    }

    /// The contact a consent event naming `name` of `business` alone, dated `at`, is
    /// about: the previous owner's when `name` is a phone number that changed hands after
    /// `at` (see `handovers`), else the contact `name` names.
    pub(crate) fn consent_contact(
        &self,
        business: u32,
        name: AddressKey,
        at: Instant,
    ) -> AddressKey {
        let previous = (self.handovers.get(&(business, name)))
            .filter(|&&(since, _)| at < since)
            .map(|&(_, user_id)| user_id);
        self.resolve(business, previous.unwrap_or(name))
    }

    /// Every change of hands (see `handovers`) as (business, phone, (instant, user id)),
    /// sorted (for snapshots).
    pub(crate) fn sorted_handovers(&self) -> Vec<(u32, AddressKey, (Instant, AddressKey))> {
        sorted_pairs(self.handovers.iter())
    }

    /// The changes of hands of `business`'s phone numbers, in order (for business exports).
    pub(crate) fn handovers_of_business(
        &self,
        business: u32,
    ) -> Vec<(AddressKey, (Instant, AddressKey))> {
        pairs_of_business(self.sorted_handovers(), business)
    }

    /// Adds a change of hands read from a snapshot or export: of a phone number, left by
    /// another name, once.
    pub(crate) fn restore_handover(
        &mut self,
        business: u32,
        phone: AddressKey,
        (at, previous): (Instant, AddressKey),
    ) -> Result<(), String> {
        if phone.phone_digits().is_none() || previous.is_group() || previous == phone {
            return Err(format!(
                "a change of hands of business {business} must be a phone number's, left by \
                 another name"
            ));
        }
        if self
            .handovers
            .insert((business, phone), (at, previous))
            .is_some()
        {
            return Err(format!(
                "a phone number of business {business} has two changes of hands"
            ));
        }
        Ok(())
    }

    /// Every name's instant (see `linked_at`) as (business, name, instant), sorted (for
    /// snapshots).
    pub(crate) fn sorted_dates(&self) -> Vec<(u32, AddressKey, Instant)> {
        sorted_pairs(self.linked_at.iter())
    }

    /// The instants of `business`'s names, as (name, instant) in order (for business
    /// exports).
    pub(crate) fn dates_of_business(&self, business: u32) -> Vec<(AddressKey, Instant)> {
        pairs_of_business(self.sorted_dates(), business)
    }

    /// Adds an instant read from a snapshot or export: of a contact name (not a group),
    /// once.
    pub(crate) fn restore_date(
        &mut self,
        business: u32,
        name: AddressKey,
        at: Instant,
    ) -> Result<(), String> {
        if name.is_group() {
            return Err(format!(
                "a link date of business {business} must be a contact name's, not a group's"
            ));
        }
        if self.linked_at.insert((business, name), at).is_some() {
            return Err(format!(
                "a contact name of business {business} has two link dates"
            ));
        }
        Ok(())
    }

    /// Every alias as (business, alias, key), sorted (for snapshots).
    pub(crate) fn sorted(&self) -> Vec<(u32, AddressKey, AddressKey)> {
        sorted_pairs(self.user_ids.iter().chain(&self.phones))
    }

    /// The aliases of `business`, as (alias, key) in order (for business exports).
    pub(crate) fn of_business(&self, business: u32) -> Vec<(AddressKey, AddressKey)> {
        pairs_of_business(self.sorted(), business)
    }

    /// Adds a link read from a snapshot or export: `alias` and `key` must be two different
    /// contact names (no group id), not both phone numbers, and `alias` not already linked.
    pub(crate) fn restore(
        &mut self,
        business: u32,
        alias: AddressKey,
        key: AddressKey,
    ) -> Result<(), String> {
        let both_phones = alias.phone_digits().is_some() && key.phone_digits().is_some();
        if alias == key || alias.is_group() || key.is_group() || both_phones {
            return Err(format!(
                "a contact link of business {business} must join a user id to another name"
            ));
        }
        if self.insert(business, alias, key).is_some() {
            return Err(format!(
                "a contact name of business {business} is linked twice"
            ));
        }
        Ok(())
    }

    /// Refuses links that chain (an alias of an alias), which the engine never makes: a
    /// name would reach a different contact depending on how often it is looked up.
    pub(crate) fn check_no_chains(&self) -> Result<(), String> {
        for (&(business, _), &key) in self.user_ids.iter().chain(&self.phones) {
            if self.resolve(business, key) != key {
                return Err(format!(
                    "a contact link of business {business} leads to another link"
                ));
            }
        }
        Ok(())
    }
}

/// The entries of a map of names by business, as (business, name, value), sorted: the
/// saved form of contact links, consent groups (the value another name), link dates and
/// changes of hands alike.
pub(crate) fn sorted_pairs<'a, V: Copy + Ord + 'a>(
    entries: impl Iterator<Item = (&'a (u32, AddressKey), &'a V)>,
) -> Vec<(u32, AddressKey, V)> {
    let mut all: Vec<_> = entries
        .map(|(&(business, name), &other)| (business, name, other))
        .collect();
    all.sort_unstable();
    all
}

/// The pairs of `sorted` that belong to `business`, in order (a business export's form).
pub(crate) fn pairs_of_business<V>(
    sorted: Vec<(u32, AddressKey, V)>,
    business: u32,
) -> Vec<(AddressKey, V)> {
    (sorted.into_iter())
        .filter(|&(b, _, _)| b == business)
        .map(|(_, name, other)| (name, other))
        .collect()
}
