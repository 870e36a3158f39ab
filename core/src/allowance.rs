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
//! under `service_allowance_scope: business`) and month, in the order the sends were
//! decided:
//!
//! | list | holds | until |
//! |---|---|---|
//! | `free` | sends the allowance made free, recorded under an id | failed, replaced or forgotten |
//! | `charged` | sends charged `service` since the first of `free`, recorded under an id | failed, priced by the provider, replaced, forgotten, or given a slot |
//!
//! A send stays in `free` when delivered: statuses only move forward, and `failed` is
//! final after `delivered` too, so a slot must be given back whichever order the two arrive
//! in. Entries go with their records, after `provider.status_memory`.
//!
//! Both lists are derived from the sent-message records, in the records' order (the order
//! sends were decided), so a restore, an import or a policy change rebuilds them
//! ([`Engine::rebuild_allowance`]) and snapshots do not carry them.

use std::collections::VecDeque;

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
pub(crate) const ALLOWANCE: Billing = Billing::Free {
    why: FreeReason::ServiceAllowance,
};

/// Whether `billing` charges a service message (past the allowance).
pub(crate) fn is_charged_service(billing: &Billing) -> bool {
    matches!(
        billing,
        Billing::Charged {
            category: ChargeCategory::Service,
            ..
        }
    )
}

/// A recorded send: its place in the order sends were decided, its instant and its
/// record's key.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    sent_at: Instant,
    key: String,
}

impl Entry {
    fn names(&self, key: &str, sent_at: Instant) -> bool {
        self.sent_at == sent_at && self.key == key
    }
}

/// One owner's month: see the module docs.
#[derive(Clone, Debug, Default)]
struct Month {
    free: VecDeque<Entry>,
    charged: VecDeque<Entry>,
}

impl Month {
    /// Drops the charged sends decided before the first free one (all of them when none is
    /// left): only a slot given back by a send before them can move to them.
    fn trim(&mut self) {
        match self.free.front().map(|first| first.seq) {
            None => self.charged.clear(),
            Some(first) => {
                while self.charged.front().is_some_and(|e| e.seq < first) {
                    self.charged.pop_front();
                }
            }
        }
    }

    /// Drops the entries whose records are gone at `now`.
    fn forget_gone(&mut self, records: &ExpiringMap<SentMessage>, now: Instant) {
        for list in [&mut self.free, &mut self.charged] {
            while list
                .front()
                .is_some_and(|e| !records.is_live(e.sent_at, now))
            {
                list.pop_front();
            }
        }
        self.trim();
    }

    /// Removes the entry of the record under `key` recorded at `sent_at`, from either list
    /// (the caller trims).
    fn remove(&mut self, key: &str, sent_at: Instant) {
        for list in [&mut self.free, &mut self.charged] {
            if let Some(at) = list.iter().position(|e| e.names(key, sent_at)) {
                list.remove(at);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.free.is_empty() && self.charged.is_empty()
    }
}

/// The lists of every owner's month: see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct AllowanceSlots {
    months: FastMap<(u32, u32), Month>,
    /// Each entry's instant and month, oldest first: the months to look at when entries
    /// expire, so that a month no send comes to any more lets its entries go too.
    expiry: VecDeque<(Instant, (u32, u32))>,
    /// The place the next entry takes.
    next_seq: u64,
}

impl AllowanceSlots {
    /// Lists the send recorded under `key` at `sent_at` in `month_key`, after those listed
    /// before it: in `free` when it holds a slot, else (charged) in `charged` when a free
    /// send is listed, since only a slot given back by a send before it can move to it. The
    /// one rule the engine keeps the lists by, as it goes and when it rebuilds them.
    fn list(&mut self, month_key: (u32, u32), holds_slot: bool, sent_at: Instant, key: &str) {
        let list = if holds_slot {
            &mut self.months.entry(month_key).or_default().free
        } else {
            match self.months.get_mut(&month_key) {
                Some(month) if !month.free.is_empty() => &mut month.charged,
                _ => return,
            }
        };
        list.push_back(Entry {
            seq: self.next_seq,
            sent_at,
            key: key.to_owned(),
        });
        self.next_seq += 1;
        self.expiry.push_back((sent_at, month_key));
    }
}

/// Whether `record`, kept under an entry of `at`, is still the send the entry names and
/// still charged `service` by the engine's estimate alone: not failed, not priced by the
/// provider (its word on that message stands), not replaced under its id.
fn still_charged(record: &SentMessage, at: Instant) -> bool {
    record.sent_at == at
        && record.status != DeliveryStatus::Failed
        && !record.confirmed
        && is_charged_service(&record.billing)
}

/// Whether `record` holds a slot of the allowance that its failure would give back.
fn holds_slot(record: &SentMessage) -> bool {
    record.billing == ALLOWANCE
        && record.status != DeliveryStatus::Failed
        && record.failed_before_sent.is_none()
}

impl Engine {
    /// The owner whose allowance `number` draws on, and the month of `at` there.
    fn allowance_month(&self, number: u32, at: Instant) -> (u32, u32) {
        let owner = match self.policy.pricing.service_allowance_scope {
            AllowanceScope::Number => number,
            AllowanceScope::Business => self.numbers[number as usize].business,
        };
        (owner, self.month_of(number, at))
    }

    /// Whether the policy prices service messages by a monthly allowance.
    fn has_allowance(&self) -> bool {
        self.policy.pricing.model == PricingModel::PerMessage2026
    }

    /// Forgets the entries whose records are gone at `now`, in every month.
    fn allowance_forget_gone(&mut self, now: Instant) {
        let slots = &mut self.allowance;
        while let Some(&(at, month_key)) = slots.expiry.front() {
            if self.sent_messages.is_live(at, now) {
                break;
            }
            slots.expiry.pop_front();
            if let Some(month) = slots.months.get_mut(&month_key) {
                month.forget_gone(&self.sent_messages, now);
                if month.is_empty() {
                    slots.months.remove(&month_key);
                }
            }
        }
    }

    /// A send of `number` was recorded under `key` (and did not fail on the way in).
    pub(crate) fn allowance_recorded(&mut self, number: u32, key: &str, sent: &SentMessage) {
        let free = holds_slot(sent);
        if !self.has_allowance() || !(free || still_charged(sent, sent.sent_at)) {
            return;
        }
        self.allowance_forget_gone(sent.sent_at);
        let month_key = self.allowance_month(number, sent.sent_at);
        self.allowance.list(month_key, free, sent.sent_at, key);
    }

    /// The send of `number` recorded under `key` at `sent_at` can no longer give a slot back
    /// or take one: replaced under its id by another send, or (charged) priced by the
    /// provider or failed.
    pub(crate) fn allowance_forget(&mut self, number: u32, key: &str, sent_at: Instant) {
        if !self.has_allowance() {
            return;
        }
        let month_key = self.allowance_month(number, sent_at);
        if let Some(month) = self.allowance.months.get_mut(&month_key) {
            month.remove(key, sent_at);
            month.trim();
            if month.is_empty() {
                self.allowance.months.remove(&month_key);
            }
        }
    }

    /// The send of `number` recorded under `key` failed (its estimate taken back already): a
    /// free one gives its slot back, a charged one can take none. Returns the message that
    /// took the slot, if one did: its conversation and message id, for the
    /// `message_repriced` the caller announces after the failure.
    pub(crate) fn allowance_send_failed(
        &mut self,
        number: u32,
        key: &str,
        record: &SentMessage,
    ) -> Option<(u32, String)> {
        if record.billing == ALLOWANCE {
            return self.allowance_failed(number, key, record.sent_at);
        }
        if is_charged_service(&record.billing) {
            self.allowance_forget(number, key, record.sent_at);
        }
        None
    }

    /// The allowance send of `number` recorded under `key` at `sent_at` failed (its estimate
    /// taken back already): its slot goes to the first send of the month charged for want of
    /// one that still stands, which becomes free (and may give it back in turn), unless the
    /// month is at its allowance still (a smaller allowance by a policy changed since).
    /// Returns that send's conversation and message id.
    fn allowance_failed(
        &mut self,
        number: u32,
        key: &str,
        sent_at: Instant,
    ) -> Option<(u32, String)> {
        if !self.has_allowance() {
            return None;
        }
        let now = self.clock;
        self.allowance_forget_gone(now);
        let month_key = self.allowance_month(number, sent_at);
        let spare = self.service_allowance_used(number, sent_at)
            < u64::from(self.policy.pricing.service_free_per_month);
        let month = self.allowance.months.get_mut(&month_key)?;
        month.remove(key, sent_at);
        let mut taker = None;
        while spare && taker.is_none() {
            let Some(entry) = month.charged.pop_front() else {
                break;
            };
            let Some(record) = self.sent_messages.get_mut(&entry.key, now) else {
                continue;
            };
            if !still_charged(record, entry.sent_at) {
                continue;
            }
            let price = match std::mem::replace(&mut record.billing, ALLOWANCE) {
                Billing::Charged { price, .. } => price,
                Billing::Free { .. } => None,
            };
            let message_id = crate::keys::host_key(&entry.key).to_owned();
            taker = Some((record.conv, entry.sent_at, price, message_id));
            // Its place among the free ones is the place it was decided in.
            let at = month.free.partition_point(|e| e.seq < entry.seq);
            month.free.insert(at, entry);
        }
        month.trim();
        if month.is_empty() {
            self.allowance.months.remove(&month_key);
        }
        let (conv, at, price, message_id) = taker?;
        // Its own number's month: under a business-wide allowance, another number's.
        let taker_number = self.conversations[conv as usize].number;
        let rate_card = self.has_rate_card();
        let month = self.month_of(taker_number, at);
        let usage = self.usage.entry((taker_number, month)).or_default();
        usage.take_back_charge(ChargeCategory::Service, price.as_ref(), rate_card);
        tally(
            usage.free.entry(FreeReason::ServiceAllowance).or_default(),
            1,
        );
        Some((conv, message_id))
    }

    /// The lists rebuilt from the sent-message records, in their order: after a restore, an
    /// import, a removal or a policy change (the model or the scope may differ). The lists
    /// the engine keeps as it goes (see the module docs), so a restored engine decides as the
    /// one saved.
    pub(crate) fn rebuild_allowance(&mut self) {
        let mut slots = AllowanceSlots::default();
        if self.has_allowance() {
            let now = self.clock;
            for (key, _, record) in self.sent_messages.live_entries(now) {
                let free = holds_slot(record);
                if !free && !still_charged(record, record.sent_at) {
                    continue;
                }
                let number = self.conversations[record.conv as usize].number;
                let month_key = self.allowance_month(number, record.sent_at);
                slots.list(month_key, free, record.sent_at, key);
            }
            for month in slots.months.values_mut() {
                month.trim();
            }
            slots.months.retain(|_, month| !month.is_empty());
        }
        self.allowance = slots;
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, Policy};

    const NUMBER: &str = "+15550001111";
    const CONTACT: &str = "+79110000001";

    fn engine(free_per_month: u32) -> Engine {
        let overrides = serde_json::json!({"pricing": {"service_free_per_month": free_per_month}});
        let policy = Policy::with_overrides("cloud-2026-10", &overrides).expect("a policy");
        let mut engine = Engine::new(policy);
        apply(
            &mut engine,
            &format!(
                r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"{NUMBER}","channel":"official"}}"#
            ),
        );
        engine
    }

    fn apply(engine: &mut Engine, line: &str) {
        let out = engine.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }

    fn inbound(engine: &mut Engine, at: &str) {
        apply(
            engine,
            &format!(
                r#"{{"type":"inbound","at":"{at}","number":"{NUMBER}","contact":"{CONTACT}","kind":"text"}}"#
            ),
        );
    }

    fn send(engine: &mut Engine, at: &str, id: &str) {
        apply(
            engine,
            &format!(
                r#"{{"type":"send","at":"{at}","number":"{NUMBER}","contact":"{CONTACT}","message":{{"kind":"text","text":"{id}"}},"message_id":"{id}"}}"#
            ),
        );
    }

    /// Entries held in every month: (free, charged).
    fn held(engine: &Engine) -> (usize, usize) {
        let months = engine.allowance.months.values();
        months.fold((0, 0), |(f, c), m| (f + m.free.len(), c + m.charged.len()))
    }

    #[test]
    fn entries_go_with_their_records() {
        // Free sends whose statuses never come: held while their records are (7 days), in
        // a month no later send reaches too.
        let mut engine = engine(1000);
        inbound(&mut engine, "2026-11-30T09:00:00Z");
        for i in 0..10 {
            send(
                &mut engine,
                &format!("2026-11-30T09:{:02}:00Z", i + 1),
                &format!("s{i}"),
            );
        }
        assert_eq!(held(&engine), (10, 0));
        inbound(&mut engine, "2026-12-08T09:00:00Z");
        send(&mut engine, "2026-12-08T09:01:00Z", "later");
        assert_eq!(
            held(&engine),
            (1, 0),
            "November's entries went with their records"
        );
        assert_eq!(engine.allowance.months.len(), 1);
    }

    #[test]
    fn a_charged_send_the_provider_priced_leaves_the_list() {
        // One free send pending, then charged sends each delivered with the provider's
        // pricing: none of them can take the slot, so none is held (a failure then walks
        // no list of them).
        let mut engine = engine(1);
        inbound(&mut engine, "2026-11-10T09:00:00Z");
        send(&mut engine, "2026-11-10T09:01:00Z", "free");
        for i in 0..5 {
            let id = format!("c{i}");
            send(
                &mut engine,
                &format!("2026-11-10T09:{:02}:00Z", 2 * i + 2),
                &id,
            );
            assert_eq!(held(&engine), (1, 1));
            apply(
                &mut engine,
                &format!(
                    r#"{{"type":"message_status","at":"2026-11-10T09:{:02}:00Z","number":"{NUMBER}","contact":"{CONTACT}","message_id":"{id}","status":"delivered","pricing":{{"type":"regular","category":"service"}}}}"#,
                    2 * i + 3
                ),
            );
            assert_eq!(held(&engine), (1, 0));
        }
    }
}
