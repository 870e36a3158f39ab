//! The monthly free service allowance in delivery order (RULES.md §11, per-message 2026:
//! "service messages charged at the utility rate after 1 000 free per number per month").
//!
//! A send takes an allowance slot when it is decided, but only a delivered message counts
//! (§11: only delivered messages are charged), so a slot whose send fails is given back. A
//! failure reported before the next service message is decided gives the slot to that one
//! (`classify` counts what the allowance made free). One reported after later service
//! messages were charged for want of a slot gives it to the first of them still standing:
//! in delivery order it was one of the month's free ones. Without this, a month's estimate
//! depended on how late failures were reported.
//!
//! To find that message, the engine keeps, by allowance owner (a number, or its business
//! under `service_allowance_scope: business`) and month:
//!
//! | list | holds | until |
//! |---|---|---|
//! | `undelivered` | sends the allowance made free, recorded under an id, not known delivered | delivered, failed or forgotten |
//! | `charged` | sends charged `service` since the first of `undelivered`, recorded under an id | `undelivered` empties, or a slot goes to them |
//!
//! Both lists are derived from the sent-message records (`provider.status_memory`), so a
//! restore, an import or a policy change rebuilds them ([`Engine::rebuild_allowance`]) and
//! snapshots do not carry them. Entries are checked against their records when used: a
//! record forgotten, failed, replaced under its id or priced by the provider is passed over.

use crate::decision::{Billing, ChargeCategory, FreeReason};
use crate::delivery::SentMessage;
use crate::engine::Engine;
use crate::event::DeliveryStatus;
use crate::expiring::ExpiringMap;
use crate::hash::FastMap;
use crate::policy::{AllowanceScope, PricingModel};
use crate::tally::tally;
use crate::time::Instant;

/// The billing of a send the allowance made free.
const ALLOWANCE: Billing = Billing::Free {
    why: FreeReason::ServiceAllowance,
};

/// A recorded send, by its instant and its record's key: the order both lists keep (ties by
/// key, so that a rebuilt list is the list kept).
type Entry = (Instant, String);

/// One owner's month: see the module docs.
#[derive(Clone, Debug, Default)]
struct Month {
    undelivered: Vec<Entry>,
    charged: Vec<Entry>,
}

impl Month {
    /// Drops the charged sends before the first undelivered one (all of them when none is
    /// left): only a slot given back by a send before them can move to them.
    fn trim(&mut self) {
        match self.undelivered.first() {
            None => self.charged.clear(),
            Some(first) => {
                let before = self.charged.partition_point(|entry| entry < first);
                self.charged.drain(..before);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.undelivered.is_empty() && self.charged.is_empty()
    }
}

/// Inserts `entry` in order (at the end but for sends of one instant).
fn insert(list: &mut Vec<Entry>, entry: Entry) {
    let at = list.partition_point(|e| *e < entry);
    if list.get(at) != Some(&entry) {
        list.insert(at, entry);
    }
}

/// Removes `entry`, if held.
fn remove(list: &mut Vec<Entry>, entry: &Entry) {
    if let Ok(at) = list.binary_search(entry) {
        list.remove(at);
    }
}

/// The lists of every owner's month: see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct AllowanceSlots(FastMap<(u32, u32), Month>);

/// Whether `record`, kept under an entry of `instant`, is still the send the entry names and
/// still charged `service` by the engine's estimate alone: not failed, not priced by the
/// provider (its word on that message stands), not replaced under its id.
fn still_charged(record: &SentMessage, at: Instant) -> bool {
    record.sent_at == at
        && record.status != DeliveryStatus::Failed
        && !record.confirmed
        && matches!(
            record.billing,
            Billing::Charged {
                category: ChargeCategory::Service,
                ..
            }
        )
}

impl Engine {
    /// The owner whose allowance `number` draws on.
    fn allowance_owner(&self, number: u32) -> u32 {
        match self.policy.pricing.service_allowance_scope {
            AllowanceScope::Number => number,
            AllowanceScope::Business => self.numbers[number as usize].business,
        }
    }

    /// Whether the policy prices service messages by a monthly allowance.
    fn has_allowance(&self) -> bool {
        self.policy.pricing.model == PricingModel::PerMessage2026
    }

    /// A send of `number` was recorded under `key` (and did not fail on the way in).
    pub(crate) fn allowance_recorded(&mut self, number: u32, key: &str, sent: &SentMessage) {
        let free = sent.billing == ALLOWANCE;
        if !self.has_allowance() || !(free || still_charged(sent, sent.sent_at)) {
            return;
        }
        let month_key = (
            self.allowance_owner(number),
            self.month_of(number, sent.sent_at),
        );
        let entry = (sent.sent_at, key.to_owned());
        if free {
            insert(
                &mut self.allowance.0.entry(month_key).or_default().undelivered,
                entry,
            );
        } else if let Some(month) = self.allowance.0.get_mut(&month_key) {
            forget_gone(month, &self.sent_messages, sent.sent_at);
            if !month.undelivered.is_empty() {
                insert(&mut month.charged, entry);
            }
        }
    }

    /// The allowance send of `number` recorded under `key` at `sent_at` was delivered (its
    /// slot is spent), or replaced under its id by another send (it can no longer fail here).
    pub(crate) fn allowance_settled(&mut self, number: u32, key: &str, sent_at: Instant) {
        let month_key = (self.allowance_owner(number), self.month_of(number, sent_at));
        if let Some(month) = self.allowance.0.get_mut(&month_key) {
            remove(&mut month.undelivered, &(sent_at, key.to_owned()));
            month.trim();
            if month.is_empty() {
                self.allowance.0.remove(&month_key);
            }
        }
    }

    /// The allowance send of `number` recorded under `key` at `sent_at` failed (its estimate
    /// taken back already): its slot goes to the first send of the month charged for want of
    /// one that still stands, which becomes free (and, until delivered, may give it back in
    /// turn).
    pub(crate) fn allowance_failed(&mut self, number: u32, key: &str, sent_at: Instant) {
        if !self.has_allowance() {
            return;
        }
        let month_key = (self.allowance_owner(number), self.month_of(number, sent_at));
        let Some(month) = self.allowance.0.get_mut(&month_key) else {
            return;
        };
        remove(&mut month.undelivered, &(sent_at, key.to_owned()));
        let now = self.clock;
        let mut taker = None;
        while !month.charged.is_empty() {
            let (at, key) = month.charged.remove(0);
            let Some(record) = self.sent_messages.get_mut(&key, now) else {
                continue;
            };
            if !still_charged(record, at) {
                continue;
            }
            let price = match std::mem::replace(&mut record.billing, ALLOWANCE) {
                Billing::Charged { price, .. } => price,
                Billing::Free { .. } => None,
            };
            if record.status < DeliveryStatus::Delivered {
                insert(&mut month.undelivered, (at, key));
            }
            taker = Some((record.conv, at, price));
            break;
        }
        month.trim();
        if month.is_empty() {
            self.allowance.0.remove(&month_key);
        }
        let Some((conv, at, price)) = taker else {
            return;
        };
        // Its own number's month: under a business-wide allowance, another number's.
        let taker_number = self.conversations[conv as usize].number;
        let month = self.month_of(taker_number, at);
        let usage = self.usage.entry((taker_number, month)).or_default();
        crate::pricing::take_back_count(&mut usage.charged, &ChargeCategory::Service);
        if let (Some(price), Some(cost)) = (price, usage.cost.as_mut()) {
            *cost = crate::pricing::Amount::from_micros(
                cost.micros().saturating_sub(price.amount.micros()),
            );
        }
        tally(
            usage.free.entry(FreeReason::ServiceAllowance).or_default(),
            1,
        );
    }

    /// The lists rebuilt from the sent-message records: after a restore, an import, a
    /// removal or a policy change (the model or the scope may differ). The same lists the
    /// engine keeps as it goes (see the module docs), so a restored engine decides as the one
    /// saved.
    pub(crate) fn rebuild_allowance(&mut self) {
        self.allowance.0.clear();
        if !self.has_allowance() {
            return;
        }
        let now = self.clock;
        let mut months: FastMap<(u32, u32), Month> = FastMap::default();
        for (key, _, record) in self.sent_messages.live_entries(now) {
            if record.failed_before_sent.is_some() || record.status == DeliveryStatus::Failed {
                continue;
            }
            let free = record.billing == ALLOWANCE;
            let undelivered = free && record.status < DeliveryStatus::Delivered;
            if !undelivered && !still_charged(record, record.sent_at) {
                continue;
            }
            let number = self.conversations[record.conv as usize].number;
            let month_key = (
                self.allowance_owner(number),
                self.month_of(number, record.sent_at),
            );
            let month = months.entry(month_key).or_default();
            let list = if free {
                &mut month.undelivered
            } else {
                &mut month.charged
            };
            list.push((record.sent_at, key.to_owned()));
        }
        for month in months.values_mut() {
            month.undelivered.sort();
            month.charged.sort();
            month.trim();
        }
        months.retain(|_, month| !month.is_empty());
        self.allowance.0 = months;
    }
}

/// Forgets the entries at the front of `month` whose records are gone (older than the
/// records' memory at `now`), so that a month whose statuses never come does not keep its
/// lists past the records.
fn forget_gone(month: &mut Month, records: &ExpiringMap<SentMessage>, now: Instant) {
    let gone = |entry: &Entry| !records.is_live(entry.0, now);
    let stale = month.undelivered.partition_point(gone);
    month.undelivered.drain(..stale);
    month.trim();
}
