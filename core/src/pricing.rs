//! Pricing (RULES.md §11): classify every allowed send as free (with why) or charged (with
//! the category), keep monthly counters per number, and sum cost from an optional rate card.
//!
//! | model                     | template                                             | free-form                          |
//! |---------------------------|------------------------------------------------------|------------------------------------|
//! | `conversation`            | charged if it opens a paid conversation (business-initiated, none open), else free | free (service window) |
//! | `conversation_categories` | charged unless a conversation of its category is open (opens one) | free; opens a free service conversation if none is open |
//! | `per_message_2025`        | charged by category; utility free in an open window  | free                               |
//! | `per_message_2026`        | charged by category                                  | free for the first N per number and month, then charged as `service` |
//!
//! In models with free entry points, everything is free while a free entry point window is
//! open: it opens when the business answers a referral (ad or page button) within the reply
//! period, and lasts `free_entry_point` from that answer.
//!
//! Conversations and free entry points keep when they opened: a `change_policy` may change
//! their lengths, and the send that opened one (which a failure or a provider's pricing takes
//! back) is found by that instant. A utility conversation still open when a per-message model
//! takes over keeps its utility templates free (facts §2.3, the 2025-07-01 switch).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::AddressKey;
use crate::decision::{Billing, ChargeCategory, FreeReason, Initiator, Price};
use crate::delivery::PricingType;
use crate::engine::Engine;
use crate::event::ProviderPricing;
use crate::policy::{AllowanceScope, PricingModel};
use crate::tally::tally;
use crate::template::TemplateCategory;
use crate::time::{Duration, Instant};

/// A decimal amount of money, held exactly in millionths; never negative (prices and costs
/// are not, and every amount written must read back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

const AMOUNT_SCALE: i64 = 1_000_000;

impl Amount {
    /// From millionths of the currency unit; a negative count is zero (as
    /// [`crate::time::Duration::from_millis`] clamps), so that what `Display` writes parses.
    pub fn from_micros(micros: i64) -> Amount {
        Amount(micros.max(0))
    }
    /// Millionths of the currency unit.
    pub fn micros(self) -> i64 {
        self.0
    }
    /// Parses a non-negative decimal with at most 6 fractional digits (`"0.0250"`), zeros
    /// past the sixth aside (`"0.02500000"`, as a spreadsheet or Python's `Decimal("0E-7")`
    /// writes an exact amount), up to the largest amount held (`9223372036854.775807`).
    /// Costs are read back with it: a month's cost sums its prices up to that top, so every
    /// amount `Display` writes must parse (in rupiah a month of 16,000 marketing templates
    /// costs 9.4 million).
    pub fn parse(text: &str) -> Result<Amount, AmountError> {
        let bad = || AmountError {
            text: crate::error::quoted(text),
        };
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        // Zeros past the sixth decimal change no amount held in millionths.
        let frac = match frac.get(6..) {
            Some(past) if past.bytes().all(|b| b == b'0') => &frac[..6],
            _ => frac,
        };
        if whole.is_empty()
            || frac.len() > 6
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let frac_micros = frac_value * 10_i64.pow(6 - frac.len() as u32);
        whole
            .checked_mul(AMOUNT_SCALE)
            .and_then(|w| w.checked_add(frac_micros))
            .map(Amount)
            .ok_or_else(bad)
    }
    /// Adds, saturating.
    pub fn plus(self, other: Amount) -> Amount {
        Amount(self.0.saturating_add(other.0))
    }
    /// Subtracts, down to zero at most (an amount is never negative).
    pub(crate) fn minus(self, other: Amount) -> Amount {
        Amount::from_micros(self.0.saturating_sub(other.0))
    }
}

impl std::str::FromStr for Amount {
    type Err = AmountError;
    fn from_str(text: &str) -> Result<Amount, AmountError> {
        Amount::parse(text)
    }
}

/// A text that is not an [`Amount`]: not a non-negative decimal, a digit other than 0 past
/// the sixth decimal, or more than the largest amount held.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected a decimal amount like \"0.0250\" (at most 6 decimals besides trailing zeros, at most {}), got {:?}",
    Amount(i64::MAX),
    .text
)]
pub struct AmountError {
    /// The text given, as errors quote it (a long one cut after 64 characters).
    pub text: String,
}

impl fmt::Display for Amount {
    /// Trailing zeros trimmed, at least two decimals: `0.025`, `12.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / AMOUNT_SCALE;
        let mut frac = format!("{:06}", self.0 % AMOUNT_SCALE);
        while frac.len() > 2 && frac.ends_with('0') {
            frac.pop();
        }
        write!(f, "{whole}.{frac}")
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let text = String::deserialize(d)?;
        Amount::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Prices per market and category, in one currency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateCard {
    /// ISO currency code.
    pub currency: String,
    /// Calling-code prefix (digits) → market name; the longest matching prefix wins.
    /// Contacts matching no prefix (and opaque ids) are in market `other`.
    pub markets: BTreeMap<String, String>,
    /// Market → category → price. A missing `service` price falls back to `utility`
    /// (the 2026-10 rule charges service messages at the utility rate).
    #[serde(deserialize_with = "prices_by_market")]
    pub rates: BTreeMap<String, BTreeMap<ChargeCategory, Amount>>,
}

/// [`RateCard::rates`], read so that an error names the category at fault
/// (`pricing.rate_card.rates.na.marketing`, see [`crate::policy::enum_keyed`]).
fn prices_by_market<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, BTreeMap<ChargeCategory, Amount>>, D::Error> {
    #[derive(Deserialize)]
    struct Prices(
        #[serde(deserialize_with = "crate::policy::enum_keyed")] BTreeMap<ChargeCategory, Amount>,
    );
    let markets = BTreeMap::<String, Prices>::deserialize(deserializer)?;
    Ok(markets
        .into_iter()
        .map(|(market, prices)| (market, prices.0))
        .collect())
}

impl RateCard {
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "rate card currency {:?} must be a 3-letter ISO 4217 code such as \"USD\"",
                self.currency
            ));
        }
        for (prefix, market) in &self.markets {
            if prefix.is_empty() || prefix.len() > 15 || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "rate card market prefix {prefix:?} must be 1..=15 digits"
                ));
            }
            if !self.rates.contains_key(market) {
                return Err(format!("rate card market {market:?} has no rates"));
            }
        }
        Ok(())
    }

    /// The market of a contact.
    pub(crate) fn market(&self, contact: AddressKey) -> &str {
        let Some(digits) = contact.phone_digits() else {
            return "other";
        };
        let digits = digits.to_string();
        (1..=digits.len())
            .rev()
            .find_map(|n| self.markets.get(&digits[..n]))
            .map_or("other", String::as_str)
    }

    /// The price of one message of `category` to `contact`, if the card has one.
    pub(crate) fn price(&self, category: ChargeCategory, contact: AddressKey) -> Option<Amount> {
        self.price_in(self.market(contact), category)
    }

    /// The price of one message of `category` in `market`, if the card has one.
    fn price_in(&self, market: &str, category: ChargeCategory) -> Option<Amount> {
        let rates = self.rates.get(market).or_else(|| self.rates.get("other"))?;
        rates
            .get(&category)
            .or_else(|| match category {
                ChargeCategory::Service => rates.get(&ChargeCategory::Utility),
                _ => None,
            })
            .copied()
    }
}

/// Pricing state of one conversation; only conversations with billing activity have one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConversationBilling {
    /// Open paid conversations by category (marketing, utility, authentication, service).
    pub open_until: [Option<Instant>; 4],
    /// When each of them was opened: by the send recorded then, which a failure takes back,
    /// and before or after the latest free entry point, which closes those opened before it.
    /// Kept, not derived from its end, because `change_policy` may change the length. (None
    /// in records from before it was kept: their length is the policy's, and a free entry
    /// point then cleared `open_until`.)
    #[serde(default, skip_serializing_if = "no_instants")]
    pub opened_at: [Option<Instant>; 4],
    /// A referral arrived: a business answer before this instant opens a free entry point.
    pub entry_point_answer_by: Option<Instant>,
    /// The free entry point window, once opened.
    pub entry_point_until: Option<Instant>,
    /// When that window opened (None in records from before it was kept: its end less the
    /// policy's length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_point_from: Option<Instant>,
    /// Answers sent inside the window after the one that opened it, within the answer
    /// period (oldest first, at most [`MAX_LATER_ANSWERS`]): should that one fail, the first
    /// of them still standing opens the window from its own instant, as it would have in
    /// delivery order (facts §2.6: the window starts "from the time when you responded";
    /// only delivered messages count). Kept until another window opens, the opener's
    /// delivery included: statuses only move forward, so a failure after it takes the
    /// window back too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_point_later_answers: Vec<Instant>,
}

/// The record of a conversation that has none (a static: the record holds a `Vec`, so a
/// reference to the constant would be to a temporary).
static NO_BILLING: ConversationBilling = ConversationBilling::NONE;

/// How many answers after a free entry point's opener a conversation keeps: a chain of
/// failures longer than this loses the window, as every failure did before answers were
/// kept.
const MAX_LATER_ANSWERS: usize = 8;

/// The billing of a send inside a free entry point.
const FREE_ENTRY_POINT: Billing = Billing::Free {
    why: FreeReason::FreeEntryPoint,
};

/// Forgets the later answer sent at `sent_at` (it failed, or the provider priced it as no
/// free entry point): it opens no window.
fn forget_answer(state: &mut ConversationBilling, sent_at: Instant) {
    let answers = &mut state.entry_point_later_answers;
    if let Some(at) = answers.iter().position(|&answer| answer == sent_at) {
        answers.remove(at);
    }
}

/// Whether no slot holds an instant (`opened_at` is then left out of a snapshot, as in
/// records from before it was kept).
fn no_instants(instants: &[Option<Instant>; 4]) -> bool {
    instants.iter().all(Option::is_none)
}

impl ConversationBilling {
    /// The record of a conversation that has none: nothing open.
    const NONE: ConversationBilling = ConversationBilling {
        open_until: [None; 4],
        opened_at: [None; 4],
        entry_point_answer_by: None,
        entry_point_until: None,
        entry_point_from: None,
        entry_point_later_answers: Vec::new(),
    };

    /// Whether a free entry point is open at `now`: its window (`length` from the answer
    /// that opened it), or the reply period (`reply_within` from the latest referral) unless
    /// the answer that opened the window came after that referral: a window shorter than
    /// the reply period then ends when it ends. (An answer inside an open window is not
    /// kept, so a referral it answered still opens a window after this one ends.)
    #[inline]
    fn entry_point_open(&self, now: Instant, length: Duration, reply_within: Duration) -> bool {
        if self.entry_point_until.is_some_and(|until| now < until) {
            return true;
        }
        let Some(answer_by) = self.entry_point_answer_by.filter(|&by| now < by) else {
            return false;
        };
        self.entry_point_start(length)
            .is_none_or(|start| start < answer_by.minus(reply_within))
    }

    /// When the free entry point window opened, if one did (`length`: the policy's, for a
    /// record that did not keep it).
    #[inline]
    fn entry_point_start(&self, length: Duration) -> Option<Instant> {
        let until = self.entry_point_until?;
        Some(self.entry_point_from.unwrap_or(until.minus(length)))
    }

    /// A send at `now` opens the conversation of slot `i` for `length`.
    fn open_conversation(&mut self, i: usize, now: Instant, length: Duration) {
        self.open_until[i] = Some(now.plus(length));
        self.opened_at[i] = Some(now);
    }

    /// The conversation of slot `i` is no more (never opened, or closed for good).
    fn drop_conversation(&mut self, i: usize) {
        self.open_until[i] = None;
        self.opened_at[i] = None;
    }

    /// An answer at `now` opens a free entry point window of `length`. The conversations
    /// the window before it closed (if one did) are closed for good: that window can no
    /// longer be taken back, as only the latest is, so they are dropped rather than left to
    /// reopen should this one be taken back.
    fn open_entry_point(&mut self, now: Instant, length: Duration) {
        if self.entry_point_from.is_some() {
            for i in 0..self.open_until.len() {
                if !self.conversation_open(i, now) {
                    self.drop_conversation(i);
                }
            }
        }
        self.entry_point_until = Some(now.plus(length));
        // It closes every conversation open now (§11): those opened before it
        // (`conversation_open`), so that taking it back opens them again.
        self.entry_point_from = Some(now);
    }

    /// The window taken back passes to the first later answer kept, if any: it opens from
    /// that answer's instant (for `length`), the answers after it kept for it.
    fn pass_entry_point_on(&mut self, length: Duration) {
        if !self.entry_point_later_answers.is_empty() {
            let next = self.entry_point_later_answers.remove(0);
            self.open_entry_point(next, length);
        }
    }

    /// The free entry point window was never opened (its answer failed, or the provider
    /// priced it as none): the conversations it closed are open again.
    fn take_back_entry_point(&mut self) {
        self.entry_point_until = None;
        self.entry_point_from = None;
    }

    /// Whether the conversation of slot `i` is open at `now`: before its end, and not
    /// closed by a free entry point that opened after it (§11).
    #[inline]
    fn conversation_open(&self, i: usize, now: Instant) -> bool {
        self.open_until[i].is_some_and(|until| now < until)
            && self
                .entry_point_from
                .is_none_or(|from| self.opened_at[i].is_some_and(|opened| opened > from))
    }

    #[inline]
    fn any_open(&self, now: Instant) -> bool {
        (0..self.open_until.len()).any(|i| self.conversation_open(i, now))
    }

    /// Whether the send recorded at `sent_at` opened the conversation of slot `i` standing
    /// now. A record that did not keep when it opened finds it by `legacy_length`, the
    /// policy's conversation length when the policy opens conversations (else none).
    fn opened_by(&self, i: usize, sent_at: Instant, legacy_length: Option<Duration>) -> bool {
        match self.opened_at[i] {
            Some(opened) => opened == sent_at,
            None => {
                legacy_length.is_some_and(|length| self.open_until[i] == Some(sent_at.plus(length)))
            }
        }
    }
}

/// The conversation a send with `billing` opens under conversation-based pricing (a charged
/// category, or a free service conversation), if any: per-message models open none.
fn opened_category(model: PricingModel, billing: &Billing) -> Option<ChargeCategory> {
    match model {
        PricingModel::PerMessage2025 | PricingModel::PerMessage2026
            if matches!(billing, Billing::Charged { .. }) =>
        {
            None
        }
        _ => conversation_category(billing),
    }
}

/// The conversation slot a send with `billing` would open under conversation-based pricing,
/// whatever the model now: a send's failure reported after a `change_policy` takes back what
/// it opened then.
fn conversation_category(billing: &Billing) -> Option<ChargeCategory> {
    match billing {
        Billing::Charged { category, .. } => Some(*category),
        Billing::Free {
            why: FreeReason::ServiceConversation,
        } => Some(ChargeCategory::Service),
        _ => None,
    }
}

fn category_index(c: ChargeCategory) -> usize {
    match c {
        ChargeCategory::Marketing => 0,
        ChargeCategory::Utility => 1,
        ChargeCategory::Authentication => 2,
        ChargeCategory::Service => 3,
    }
}

/// Monthly counters of one number. Non-exhaustive, as the views are: counters may be added.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MonthlyUsage {
    /// Charged messages by category.
    pub charged: BTreeMap<ChargeCategory, u64>,
    /// Free messages by reason.
    pub free: BTreeMap<FreeReason, u64>,
    /// Service (free-form) messages sent and not failed. (The monthly free allowance counts
    /// only those it made free: `free[service_allowance]`.)
    pub service_messages: u64,
    /// Sum of prices, when a rate card is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<Amount>,
    /// Charged messages the rate card had no price for when they were sent (their market's
    /// rates have none for the category), which `cost` leaves out: a card that prices only
    /// some categories would otherwise understate the month without a word.
    /// With a rate card only, and then always, as `cost` (an engine has a card for its whole
    /// life or never: `change_policy` and imports keep it). A month counted before this was
    /// kept (restored from an older snapshot) reads none for the sends counted then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<u64>,
    /// Charged messages by category as the provider confirmed them (status pricing).
    #[serde(default)]
    pub confirmed_charged: BTreeMap<ChargeCategory, u64>,
    /// Messages the provider confirmed as free.
    #[serde(default)]
    pub confirmed_free: u64,
    /// Provider pricing the engine could not classify.
    #[serde(default)]
    pub confirmed_unknown: u64,
    /// Messages that failed (their estimates were taken back).
    #[serde(default)]
    pub failed: u64,
}

impl MonthlyUsage {
    /// Adds another month's counters (for business totals).
    pub fn add(&mut self, other: &MonthlyUsage) {
        for (k, v) in &other.charged {
            tally(self.charged.entry(*k).or_default(), *v);
        }
        for (k, v) in &other.free {
            tally(self.free.entry(*k).or_default(), *v);
        }
        tally(&mut self.service_messages, other.service_messages);
        for (k, v) in &other.confirmed_charged {
            tally(self.confirmed_charged.entry(*k).or_default(), *v);
        }
        tally(&mut self.confirmed_free, other.confirmed_free);
        tally(&mut self.confirmed_unknown, other.confirmed_unknown);
        tally(&mut self.failed, other.failed);
        self.cost = match (self.cost, other.cost) {
            (Some(a), Some(b)) => Some(a.plus(b)),
            (a, b) => a.or(b),
        };
        if let Some(n) = other.unpriced {
            tally(self.unpriced.get_or_insert(0), n);
        }
    }

    /// Counts a charged send of `category` at `price`, which is none when the engine's rate
    /// card (`rate_card`: whether it has one) had none for it.
    pub(crate) fn count_charge(
        &mut self,
        category: ChargeCategory,
        price: Option<&Price>,
        rate_card: bool,
    ) {
        tally(self.charged.entry(category).or_default(), 1);
        match price {
            Some(price) => self.cost = Some(self.cost.unwrap_or_default().plus(price.amount)),
            None if rate_card => tally(self.unpriced.get_or_insert(0), 1),
            None => {}
        }
    }

    /// Takes back what [`MonthlyUsage::count_charge`] counted for a send that failed or
    /// became free.
    pub(crate) fn take_back_charge(
        &mut self,
        category: ChargeCategory,
        price: Option<&Price>,
        rate_card: bool,
    ) {
        take_back_count(&mut self.charged, &category);
        match price {
            Some(price) => self.cost = self.cost.map(|cost| cost.minus(price.amount)),
            // None when none are left, as in a month that never had one. Saturating, as
            // every counter: a month counted before `unpriced` was kept (restored from an
            // older snapshot) has none to take back.
            None if rate_card => {
                self.unpriced = self
                    .unpriced
                    .map(|n| n.saturating_sub(1))
                    .filter(|&n| n > 0);
            }
            None => {}
        }
    }

    /// Total charged messages. Counters saturate rather than wrap (`tally`), and so does
    /// their sum: a restored snapshot may hold counters at the top of the range.
    pub fn charged_total(&self) -> u64 {
        self.charged
            .values()
            .fold(0, |sum, &n| sum.saturating_add(n))
    }

    /// Total free messages, every reason together (saturating like
    /// [`MonthlyUsage::charged_total`]).
    pub fn free_total(&self) -> u64 {
        self.free.values().fold(0, |sum, &n| sum.saturating_add(n))
    }
}

/// One fewer of `key` in `counts`: a count taken back to zero leaves its key, as one never
/// counted has none.
pub(crate) fn take_back_count<K: Ord>(counts: &mut std::collections::BTreeMap<K, u64>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// A month key a caller gave (`YYYYMM`): a month no instant falls in (`202613`, `2026` for
/// `202601`, a year before 1970) would answer an empty month, as if nothing was sent.
fn check_month_key(month: u32) -> Result<(), crate::Error> {
    let first = Instant::EPOCH.month_key();
    let last = Instant::LATEST.month_key();
    if (first..=last).contains(&month) && (1..=12).contains(&(month % 100)) {
        return Ok(());
    }
    Err(crate::Error::InvalidEvent {
        problem: format!("month must be YYYYMM within {first}..={last}, got {month}"),
    })
}

/// The UTC month an instant falls in, `YYYYMM`: a business's usage month where its numbers
/// name no time zone (`register_number`'s `timezone`; the engine reads the month of a
/// business that names one in its zone).
pub fn month_of(at: Instant) -> u32 {
    at.month_key()
}

impl Engine {
    /// Messages made free by the monthly service allowance this month (at `now`) that
    /// `number` draws on: its own, or its business's numbers' together.
    pub(crate) fn service_allowance_used(&self, number: u32, now: Instant) -> u64 {
        let month = self.month_of(number, now);
        let used = |n: u32| {
            (self.usage.get(&(n, month)))
                .and_then(|u| u.free.get(&FreeReason::ServiceAllowance).copied())
                .unwrap_or(0)
        };
        match self.policy.pricing.service_allowance_scope {
            AllowanceScope::Number => used(number),
            // A business has few numbers: the walk is along its own list, on a free-form
            // send of the per-message 2026 model under this scope.
            AllowanceScope::Business => {
                let business = self.numbers[number as usize].business;
                (self.businesses[business as usize].numbers.iter())
                    .map(|&n| used(n))
                    .sum()
            }
        }
    }

    /// The billing classification of an allowed send (pure).
    // Inlined into `decide`, its one caller: as a call it cost about 20 instructions an
    // event more (callgrind, `profile mixed`), and the compiler chose either way as the code
    // around it changed (a hint did not hold it).
    #[inline(always)]
    pub(crate) fn classify(
        &self,
        number: u32,
        recipient: Option<AddressKey>,
        conv: Option<u32>,
        category: Option<TemplateCategory>,
        initiator: Initiator,
        now: Instant,
    ) -> Billing {
        if !self.numbers[number as usize].channel.has_service_window() {
            return Billing::Free {
                why: FreeReason::ChannelNotBilled,
            };
        }
        let pricing = &self.policy.pricing;
        // Borrowed, not copied: most sends have no record, and a copy of one cost every
        // send its size in moves.
        let state = conv
            .and_then(|c| self.billing.get(&c))
            .unwrap_or(&NO_BILLING);
        let entry_point = pricing
            .free_entry_point
            .filter(|_| pricing.model != PricingModel::Conversation);
        if entry_point.is_some_and(|length| {
            state.entry_point_open(now, length, pricing.free_entry_point_reply_within)
        }) {
            return Billing::Free {
                why: FreeReason::FreeEntryPoint,
            };
        }
        let charged = |category: ChargeCategory| Billing::Charged {
            category,
            price: self.price_of(number, category, recipient),
        };
        let free = |why| Billing::Free { why };
        match (pricing.model, category) {
            // Facts §2.3: a utility conversation opened under conversation pricing and still
            // open when per-message pricing began (`change_policy`) keeps its utility
            // templates free. Per-message models open none, so any open one is from before
            // (one whose opener failed was taken back: `unrecord_opening`).
            (PricingModel::PerMessage2025 | PricingModel::PerMessage2026, Some(c))
                if c == TemplateCategory::Utility
                    && state.conversation_open(category_index(ChargeCategory::Utility), now) =>
            {
                free(FreeReason::InsideConversation)
            }
            (PricingModel::Conversation, Some(c)) => {
                if initiator == Initiator::Customer {
                    free(FreeReason::ServiceWindow)
                } else if state.any_open(now) {
                    free(FreeReason::InsideConversation)
                } else {
                    charged(c.into())
                }
            }
            (PricingModel::Conversation, None) => free(FreeReason::ServiceWindow),
            (PricingModel::ConversationCategories, Some(c)) => {
                if state.conversation_open(category_index(c.into()), now) {
                    free(FreeReason::InsideConversation)
                } else {
                    charged(c.into())
                }
            }
            (PricingModel::ConversationCategories, None) => {
                if state.any_open(now) {
                    free(FreeReason::InsideConversation)
                } else {
                    free(FreeReason::ServiceConversation)
                }
            }
            (PricingModel::PerMessage2025, Some(TemplateCategory::Utility))
                if initiator == Initiator::Customer =>
            {
                free(FreeReason::UtilityInWindow)
            }
            (PricingModel::PerMessage2025 | PricingModel::PerMessage2026, Some(c)) => {
                charged(c.into())
            }
            (PricingModel::PerMessage2025, None) => free(FreeReason::ServiceWindow),
            (PricingModel::PerMessage2026, None) => {
                // The allowance counts the messages it made free: not those free for another
                // reason (a free entry point), nor one that failed (only delivered messages
                // are charged, so its slot goes to the next).
                if self.service_allowance_used(number, now)
                    < u64::from(pricing.service_free_per_month)
                {
                    free(FreeReason::ServiceAllowance)
                } else {
                    charged(ChargeCategory::Service)
                }
            }
        }
    }

    fn price_of(
        &self,
        number: u32,
        category: ChargeCategory,
        recipient: Option<AddressKey>,
    ) -> Option<Price> {
        let card = self.policy.pricing.rate_card.as_ref()?;
        // A contact keyed by user id is priced by its phone number when one is linked. One
        // without a key yet (`check_send` to a user id the engine has not seen) is a user
        // id no phone number is linked to: market `other`, as `send` prices it once it has
        // its key.
        let amount = match recipient {
            Some(k) => card.price(category, self.contact_phone(number, k).unwrap_or(k)),
            None => card.price_in("other", category),
        }?;
        Some(Price {
            amount,
            currency: card.currency.clone(),
        })
    }

    /// Records an allowed send's pricing: opens conversations or entry points, counts.
    pub(crate) fn record_billing(
        &mut self,
        number: u32,
        conv: u32,
        billing: &Billing,
        is_template: bool,
        now: Instant,
    ) {
        if !self.numbers[number as usize].channel.has_service_window() {
            return;
        }
        let pricing = &self.policy.pricing;
        let length = pricing.conversation_length;
        let model = pricing.model;
        let entry_point_length = pricing.free_entry_point;
        // Only sends that open something get a billing record: under per-message pricing
        // most conversations never need one, and an empty record per conversation cost
        // memory and a cache miss on every later send.
        match billing {
            Billing::Free {
                why: FreeReason::FreeEntryPoint,
            } => {
                let state = self.billing.entry(conv).or_default();
                if let Some(len) = entry_point_length {
                    if state.entry_point_until.is_none_or(|t| now >= t) {
                        // The answer period is kept: if this answer fails, or the provider
                        // prices it as no free entry point, the window it opened is taken
                        // back and a later answer within the period opens it (see
                        // `unrecord_opening`).
                        state.open_entry_point(now, len);
                        state.entry_point_later_answers.clear();
                    } else if state.entry_point_answer_by.is_some_and(|by| now < by)
                        && state.entry_point_later_answers.len() < MAX_LATER_ANSWERS
                    {
                        // An answer too: it opens the window should the opener fail.
                        state.entry_point_later_answers.push(now);
                    }
                }
            }
            _ => {
                if let Some(category) = opened_category(model, billing) {
                    let state = self.billing.entry(conv).or_default();
                    state.open_conversation(category_index(category), now, length);
                }
            }
        }
        let rate_card = self.has_rate_card();
        let month = self.month_kept(number, now);
        let usage = self.usage.entry((number, month)).or_default();
        if !is_template {
            tally(&mut usage.service_messages, 1);
        }
        match billing {
            Billing::Free { why } => tally(usage.free.entry(*why).or_default(), 1),
            Billing::Charged { category, price } => {
                usage.count_charge(*category, price.as_ref(), rate_card)
            }
        }
    }

    /// A send recorded at `sent_at` with `billing` failed: the conversation it opened (if it
    /// still stands as that send opened it) was never opened, since conversations open when
    /// their first message is delivered (§11), so the next send is its opener. Likewise a
    /// free entry point it started: the next answer within the answer period opens it.
    pub(crate) fn unrecord_opening(&mut self, conv: u32, billing: &Billing, sent_at: Instant) {
        let length = self.policy.pricing.free_entry_point;
        if let Some(state) = self.opened_entry_point(conv, billing, sent_at) {
            // A free entry point opens when the answer is delivered (§11): the next answer
            // within the answer period opens it, from its own instant: one sent already,
            // else the next one sent.
            state.take_back_entry_point();
            if let Some(length) = length {
                state.pass_entry_point_on(length);
            }
            return;
        }
        if *billing == FREE_ENTRY_POINT {
            // A later answer that fails opens nothing should the opener fail too.
            if let Some(state) = self.billing.get_mut(&conv) {
                forget_answer(state, sent_at);
            }
            return;
        }
        let Some(category) = conversation_category(billing) else {
            return;
        };
        let pricing = &self.policy.pricing;
        let legacy_length =
            opened_category(pricing.model, billing).map(|_| pricing.conversation_length);
        if let Some(state) = self.billing.get_mut(&conv) {
            let i = category_index(category);
            if state.opened_by(i, sent_at, legacy_length) {
                state.drop_conversation(i);
            }
        }
    }

    /// The provider priced a send recorded at `sent_at` with `billing`: if it opened the
    /// conversation's free entry point (or would have, had it not failed) and the provider's
    /// pricing says it was no free entry point (`regular`, `free_customer_service`; not
    /// `free_entry_point` nor category `referral_conversion`), the contact was not eligible (a
    /// click from a desktop or the web, which the referral does not tell): the window is
    /// taken back, and no later answer in that answer period opens one (facts §2.6: only the
    /// status confirms eligibility), whichever order the status and the failure, or a newer
    /// referral, arrive in.
    pub(crate) fn entry_point_priced(
        &mut self,
        conv: u32,
        billing: &Billing,
        sent_at: Instant,
        pricing: &ProviderPricing,
    ) {
        let confirms = pricing.kind == PricingType::FreeEntryPoint
            || pricing.category.as_deref() == Some("referral_conversion");
        let denies = matches!(
            pricing.kind,
            PricingType::Regular
                | PricingType::FreeCustomerService
                | PricingType::FreeGroupCustomerService
        );
        if confirms || !denies {
            return;
        }
        let pricing_policy = &self.policy.pricing;
        let (Some(length), reply_within) = (
            pricing_policy.free_entry_point,
            pricing_policy.free_entry_point_reply_within,
        ) else {
            return;
        };
        if *billing != FREE_ENTRY_POINT {
            return;
        }
        let Some(state) = self.billing.get_mut(&conv) else {
            return;
        };
        // Judged by the send itself, not by the window still standing as it opened it: its
        // failure may have taken its window back before this status arrived (the answer
        // period then had to go too), and a later answer may have opened another. A send
        // inside a window an earlier answer opened is left alone, as before.
        let window_start = state.entry_point_start(length);
        if window_start.is_some_and(|start| start < sent_at) {
            // It opens no window should the opener fail.
            forget_answer(state, sent_at);
            return;
        }
        // The answer period this send answered, unless a referral after the send (a new
        // click, delivered before this late status) replaced it.
        let same_period = state
            .entry_point_answer_by
            .is_some_and(|by| by <= sent_at.plus(reply_within));
        // The window this send opened, or one a later answer in the same period opened after
        // this send's failure took its own back (in order, none would have).
        if window_start.is_some_and(|start| start == sent_at || same_period) {
            state.take_back_entry_point();
            if !same_period {
                // A newer referral's period stands: an answer already sent in it opens the
                // window from its own instant, as one sent later would.
                let period_start = state.entry_point_answer_by.map(|by| by.minus(reply_within));
                (state.entry_point_later_answers)
                    .retain(|&at| period_start.is_some_and(|start| at >= start));
                state.pass_entry_point_on(length);
            }
        }
        if same_period {
            // No answer of that period opens a window, one sent already included.
            state.entry_point_answer_by = None;
            state.entry_point_later_answers.clear();
        }
    }

    /// The billing state of `conv` if a send recorded at `sent_at` with `billing` opened its
    /// free entry point window, still standing as that send opened it.
    fn opened_entry_point(
        &mut self,
        conv: u32,
        billing: &Billing,
        sent_at: Instant,
    ) -> Option<&mut ConversationBilling> {
        let length = self.policy.pricing.free_entry_point?;
        if *billing != FREE_ENTRY_POINT {
            return None;
        }
        self.billing
            .get_mut(&conv)
            .filter(|state| state.entry_point_start(length) == Some(sent_at))
    }

    /// A referral inbound (ad or page button): a business answer within the reply period
    /// opens a free entry point window.
    pub(crate) fn record_referral(&mut self, conv: u32, at: Instant) {
        let pricing = &self.policy.pricing;
        if pricing.free_entry_point.is_none() {
            return;
        }
        let answer_by = at.plus(pricing.free_entry_point_reply_within);
        let state = self.billing.entry(conv).or_default();
        if state.entry_point_answer_by.is_none_or(|t| t < answer_by) {
            state.entry_point_answer_by = Some(answer_by);
        }
    }

    /// Monthly usage of a number (`month` as `YYYYMM`, years 1970..=9999).
    pub fn usage(&self, number: &str, month: u32) -> Result<MonthlyUsage, crate::Error> {
        check_month_key(month)?;
        let n = self.number_idx(number)?;
        let usage = self.usage.get(&(n, month)).cloned().unwrap_or_default();
        Ok(self.with_cost(usage))
    }

    /// Whether the policy has a rate card: for the engine's whole life, as `change_policy`
    /// and imports keep it (so a price a send lacks was lacking on the card, and
    /// [`MonthlyUsage::unpriced`] counts the send whichever way it is taken back).
    pub(crate) fn has_rate_card(&self) -> bool {
        self.policy.pricing.rate_card.is_some()
    }

    /// `usage` with a cost and an unpriced count whenever a rate card is set: nothing priced
    /// yet costs `0.00`, as everything priced and taken back does.
    fn with_cost(&self, mut usage: MonthlyUsage) -> MonthlyUsage {
        if self.has_rate_card() {
            usage.cost.get_or_insert_default();
            usage.unpriced.get_or_insert(0);
        }
        usage
    }

    /// Monthly usage of all numbers of a business.
    pub fn business_usage(&self, business: &str, month: u32) -> Result<MonthlyUsage, crate::Error> {
        check_month_key(month)?;
        let b = self.business_idx(business)?;
        let mut total = MonthlyUsage::default();
        let mut keys: Vec<&(u32, u32)> = self
            .usage
            .keys()
            .filter(|(n, m)| *m == month && self.numbers[*n as usize].business == b)
            .collect();
        keys.sort_unstable();
        for key in keys {
            total.add(&self.usage[key]);
        }
        Ok(self.with_cost(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        Instant::parse_rfc3339(text).unwrap()
    }

    /// A failure takes an unpriced send back from a month that holds none (counted before
    /// `unpriced` was kept, or a snapshot made elsewhere holding 0): the count stays none,
    /// as every counter saturates, and a priced send's failure leaves it alone.
    #[test]
    fn an_unpriced_send_taken_back_from_a_month_holding_none_leaves_none() {
        let service = ChargeCategory::Service;
        for held in [None, Some(0)] {
            let mut usage: MonthlyUsage =
                serde_json::from_value(serde_json::json!({"charged": {"service": 1},
                    "free": {}, "service_messages": 1, "unpriced": held}))
                .unwrap();
            usage.take_back_charge(service, None, true);
            assert_eq!(
                (usage.charged_total(), usage.unpriced),
                (0, None),
                "{held:?}"
            );
        }
        let mut usage = MonthlyUsage::default();
        usage.count_charge(service, None, true);
        usage.count_charge(service, None, false);
        assert_eq!((usage.charged_total(), usage.unpriced), (2, Some(1)));
        let price = Price {
            amount: Amount::parse("0.01").unwrap(),
            currency: "USD".into(),
        };
        usage.count_charge(service, Some(&price), true);
        usage.take_back_charge(service, Some(&price), true);
        assert_eq!(usage.unpriced, Some(1));
        usage.take_back_charge(service, None, true);
        assert_eq!((usage.charged_total(), usage.unpriced), (1, None));
    }

    /// A record written before billing records kept when things opened (no `opened_at`, no
    /// `entry_point_from`) still reads, and its openings are found by the policy's lengths,
    /// as they were then; a record that keeps them is found by them, whatever the length.
    #[test]
    fn a_record_without_opening_instants_falls_back_to_the_policys_lengths() {
        let legacy: ConversationBilling = serde_json::from_str(
            r#"{"open_until":[null,"2026-11-03T10:00:00Z",null,null],
                "entry_point_answer_by":null,"entry_point_until":"2026-11-04T09:00:00Z"}"#,
        )
        .unwrap();
        let (day, two_days) = (Duration::from_hours(24), Duration::from_hours(48));
        let utility = category_index(ChargeCategory::Utility);
        let sent_at = at("2026-11-02T10:00:00Z");
        assert!(legacy.opened_by(utility, sent_at, Some(day)));
        assert!(!legacy.opened_by(utility, sent_at, Some(two_days)));
        // Under a per-message policy, which opens none, no legacy conversation is a send's.
        assert!(!legacy.opened_by(utility, sent_at, None));
        assert_eq!(
            legacy.entry_point_start(Duration::from_hours(72)),
            Some(at("2026-11-01T09:00:00Z"))
        );
        // Its free entry point cleared the conversations open then, so what is left opened
        // after it: open.
        assert!(legacy.conversation_open(utility, at("2026-11-03T09:00:00Z")));

        let mut kept = legacy;
        kept.opened_at[utility] = Some(sent_at);
        kept.entry_point_from = Some(at("2026-11-02T12:00:00Z"));
        kept.entry_point_until = Some(at("2026-11-05T12:00:00Z"));
        assert!(kept.opened_by(utility, sent_at, Some(two_days)));
        assert!(kept.opened_by(utility, sent_at, None));
        assert_eq!(
            kept.entry_point_start(Duration::from_hours(7 * 24)),
            Some(at("2026-11-02T12:00:00Z"))
        );
        // Opened before the free entry point: closed by it, until it is taken back.
        assert!(!kept.conversation_open(utility, at("2026-11-03T09:00:00Z")));
        kept.take_back_entry_point();
        assert!(kept.conversation_open(utility, at("2026-11-03T09:00:00Z")));
        assert!(!kept.conversation_open(utility, at("2026-11-03T10:00:00Z")));
        // Written back, the record keeps what it holds and nothing it does not.
        let written = serde_json::to_string(&kept).unwrap();
        assert!(written.contains("opened_at") && !written.contains("entry_point_from"));
        assert_eq!(
            serde_json::from_str::<ConversationBilling>(&written).unwrap(),
            kept
        );
    }

    /// `from_micros(-1)` printed `0.-00001` and `-1_500_000` `-1.-5`, which no parse reads:
    /// amounts are never negative, so a negative count is zero.
    #[test]
    fn a_negative_count_is_zero_and_every_amount_written_parses() {
        for micros in [-1, -1_500_000, i64::MIN] {
            assert_eq!(Amount::from_micros(micros), Amount::from_micros(0));
        }
        for micros in [0, 1, 25_000, 1_500_000, i64::MAX] {
            let amount = Amount::from_micros(micros);
            assert_eq!(Amount::parse(&amount.to_string()), Ok(amount), "{amount}");
        }
    }

    #[test]
    fn usage_of_a_month_no_instant_falls_in_is_refused() {
        let mut engine = Engine::new(crate::Policy::preset("cloud-2025").unwrap());
        let out = engine.handle_json(
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        );
        assert!(!out[0].contains("error"), "{out:?}");
        assert!(engine.usage("+15550001111", 202611).is_ok());
        assert!(engine.business_usage("acme", 197001).is_ok());
        assert!(engine.business_usage("acme", 999912).is_ok());
        for bad in [202613, 202600, 2026, 196912, 1_000_001, 0] {
            let error = engine.usage("+15550001111", bad).unwrap_err().to_string();
            assert!(error.contains("197001..=999912"), "{bad}: {error}");
            assert!(engine.business_usage("acme", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(Amount::parse("0.025").unwrap().micros(), 25_000);
        assert_eq!(Amount::parse("12").unwrap().to_string(), "12.00");
        assert_eq!(Amount::parse("0.0250").unwrap().to_string(), "0.025");
        let sum = (0..3).fold(Amount::default(), |a, _| {
            a.plus(Amount::parse("0.1").unwrap())
        });
        assert_eq!(sum.to_string(), "0.30");
        // Zeros past the sixth decimal are the same amount; any other digit there is not
        // held in millionths.
        assert_eq!(Amount::parse("0.02500000").unwrap().micros(), 25_000);
        assert_eq!(Amount::parse("0.0000000").unwrap().micros(), 0);
        assert_eq!(Amount::parse("12.000000000").unwrap().to_string(), "12.00");
        for bad in [
            "-1",
            "1.2345678",
            "1.0000001",
            "1.00000001",
            "",
            ".5",
            "1e3",
            "x",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad}");
        }
    }

    /// A month's cost is a sum of prices (saturating at the top of the range): every sum
    /// reads back, or a state holding it would not restore. In rupiah a month of 16,000
    /// marketing templates passes 9.2 million.
    #[test]
    fn every_cost_a_month_can_sum_to_reads_back() {
        let mut policy = crate::Policy::preset("cloud-2025").unwrap();
        policy.pricing.rate_card = Some(
            serde_json::from_value(serde_json::json!({
                "currency": "IDR",
                "markets": {"62": "indonesia"},
                "rates": {"indonesia": {"marketing": "586.10"}}
            }))
            .unwrap(),
        );
        let mut engine = Engine::new(policy);
        for line in [
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
            r#"{"type":"messaging_limit","at":"2026-11-02T08:00:00Z","number":"+15550001111","limit":"unlimited"}"#,
        ] {
            let out = engine.handle_json(line);
            assert!(!out[0].contains("error"), "{line}: {out:?}");
        }
        for i in 0..16_000u64 {
            let contact = format!("+628110{i:06}");
            let at = Instant::parse_rfc3339("2026-11-03T00:00:00Z")
                .unwrap()
                .plus(Duration::from_secs(i as i64));
            let opt_in = format!(
                r#"{{"type":"opt_in","at":"{at}","business":"acme","contact":"{contact}"}}"#
            );
            let send = format!(
                r#"{{"type":"send","at":"{at}","number":"+15550001111","contact":"{contact}","message":{{"kind":"template","name":"promo","language":"en","params":["x"]}}}}"#
            );
            for line in [opt_in, send] {
                let out = engine.handle_json(&line);
                assert!(
                    !out[0].contains("error") && !out[0].contains("denied"),
                    "{out:?}"
                );
            }
        }
        let cost = engine.usage("+15550001111", 202611).unwrap().cost.unwrap();
        assert_eq!(cost.to_string(), "9377600.00");
        let restored = Engine::restore(&engine.snapshot()).expect("the state restores");
        assert_eq!(
            restored.usage("+15550001111", 202611).unwrap().cost,
            Some(cost)
        );
        for micros in [9_223_372_036_855, 10_000_000_000_000, i64::MAX] {
            let cost = Amount::from_micros(micros);
            assert_eq!(Amount::parse(&cost.to_string()), Ok(cost), "{cost}");
        }
        assert!(Amount::parse("9223372036854.775808").is_err());
        assert!(Amount::parse("9223372036855").is_err());
    }

    #[test]
    fn markets_by_longest_prefix() {
        let card: RateCard = serde_json::from_value(serde_json::json!({
            "currency": "USD",
            "markets": {"1": "north_america", "7": "russia", "79": "russia_mobile"},
            "rates": {
                "north_america": {"marketing": "0.025", "utility": "0.004"},
                "russia": {"marketing": "0.08"},
                "russia_mobile": {"marketing": "0.09"},
                "other": {"marketing": "0.06"}
            }
        }))
        .unwrap();
        card.validate().unwrap();
        let mut i = crate::address::Interner::default();
        let ny = i.address("+12125550100").unwrap();
        let msk = i.address("+79110000001").unwrap();
        let de = i.address("+4915112345678").unwrap();
        assert_eq!(card.market(msk), "russia_mobile");
        assert_eq!(
            card.price(ChargeCategory::Marketing, de)
                .unwrap()
                .to_string(),
            "0.06"
        );
        assert_eq!(
            card.price(ChargeCategory::Service, ny).unwrap().to_string(),
            "0.004",
            "service falls back to utility"
        );
        assert_eq!(card.price(ChargeCategory::Authentication, ny), None);
    }
}
