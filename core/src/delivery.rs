//! Delivery statuses and provider errors (RULES.md §2, §5, §7, §10, §11): what happens after
//! the engine allowed a send.
//!
//! | status input                     | what changes                                          |
//! |----------------------------------|-------------------------------------------------------|
//! | `sent` / `delivered` / `read`    | the message's status moves forward (never back); the first `pricing` of a `delivered` or `read` confirms the estimate |
//! | same status again, or an older one | nothing (webhooks arrive at least once, out of order) |
//! | `failed`                         | estimate reversed (only delivered messages are charged), `message_failed`, then each error's correction (official numbers only: the codes are WhatsApp's): |
//! | — 131047 / 470                   | the window is closed from the failure's instant       |
//! | — 132015 / 2061, 132016 / 2062   | the template is paused / disabled                     |
//! | — 132015 / 2061                  | the send counts against no limit, as with `release_failed_sends` |
//! | — 131049                         | no marketing to that contact for `marketing_backoff`  |
//! | — 131056                         | nothing to that contact for `pair_rate_backoff`       |
//! | — 131064, 131048                 | the limit counts as reached until its next slot frees |
//! | failed business-initiated send   | with `release_failed_sends`, no longer counts its contact; the contact frees its limit slot when none of its counted sends lives |
//! | failed opener of `initiate`      | its held messages await no answer: the next `initiate` sends a new opener |
//! | `failed` for an id not recorded (yet) | the corrections above, once; kept under the id, so the send recorded later under it to that contact fails then |

use serde::{Deserialize, Serialize};

use crate::address::AddressKey;
use crate::allowance::{is_charged_service, ALLOWANCE};
use crate::decision::{Billing, ChargeCategory, FreeReason};
use crate::effect::Effect;
use crate::engine::Engine;
use crate::event::{DeliveryStatus, MessageStatusUpdate, ProviderPricing, TemplateStatusUpdate};
use crate::keys::{inbound_key, scoped_key, with_inbound_key, with_scoped_key};
use crate::number::Channel;
use crate::tally::tally;
use crate::template::TemplateStatus;
use crate::template_lifecycle::TemplateEvent;
use crate::time::Instant;
use crate::Error;

/// The provider's `pricing.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingType {
    /// Charged.
    Regular,
    /// Free: a non-template message or utility template inside the service window.
    FreeCustomerService,
    /// Free: inside a free entry point window.
    FreeEntryPoint,
    /// Free: inside a group's service window.
    FreeGroupCustomerService,
    /// Free, the reason not given: conversation-based pricing's `billable: false` (before
    /// `type` existed).
    Free,
    /// A value this build does not know: recorded as confirmed without a category.
    #[serde(other)]
    Other,
}

/// A message the engine allowed and the host sent under a provider id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SentMessage {
    pub conv: u32,
    pub sent_at: Instant,
    /// Template index, for template errors.
    pub template: Option<u32>,
    /// The engine's estimate at send time.
    pub billing: Billing,
    /// Whether it took a limit slot (its contact was not counted yet).
    pub consumed_slot: bool,
    /// Whether the messaging limit counted it (any business-initiated template, its contact
    /// counted already or not), so that its failure can take it off its contact's live
    /// sends. Absent from messages saved before it was kept: for those only the send that
    /// took the slot is released, as then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counted_by_limit: bool,
    pub status: DeliveryStatus,
    /// Whether the provider's pricing has been counted.
    pub confirmed: bool,
    /// Its content hash, so that its failure can forget its duplicate record (§10). Absent
    /// from messages saved before it was kept: their failures forget nothing, as then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<u64>,
    /// A failure the provider reported before the host recorded the send (webhooks race the
    /// host's own bookkeeping, §10): its errors. Such a record stands for no send yet (its
    /// `sent_at` is the failure's instant, its other fields unused): it keeps a redelivered
    /// failure from acting twice, and the send recorded later under its id fails then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_before_sent: Option<Vec<u32>>,
}

/// The billing of a send on a channel the platform does not bill.
const NOT_BILLED: Billing = Billing::Free {
    why: FreeReason::ChannelNotBilled,
};

impl SentMessage {
    /// The record of a failure reported for an id no recorded send has (yet).
    fn failure_before_send(conv: u32, at: Instant, errors: Vec<u32>) -> SentMessage {
        SentMessage {
            conv,
            sent_at: at,
            template: None,
            billing: NOT_BILLED,
            consumed_slot: false,
            counted_by_limit: false,
            status: DeliveryStatus::Failed,
            confirmed: false,
            content: None,
            failed_before_sent: Some(errors),
        }
    }
}

/// A provider request to hold sends to a contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Backoff {
    pub code: u32,
    pub marketing_only: bool,
    pub until: Instant,
}

/// Meta error codes the engine acts on.
pub(crate) mod codes {
    pub const OUTSIDE_WINDOW: [u32; 2] = [131_047, 470];
    pub const TEMPLATE_PAUSED: [u32; 2] = [132_015, 2061];
    pub const TEMPLATE_DISABLED: [u32; 2] = [132_016, 2062];
    pub const PER_USER_MARKETING_LIMIT: u32 = 131_049;
    pub const PAIR_RATE_LIMIT: u32 = 131_056;
    pub const LIMIT_REACHED: [u32; 2] = [131_064, 131_048];
}

/// The charge category a provider category names.
fn provider_category(category: &str) -> Option<ChargeCategory> {
    Some(match category {
        "marketing" | "marketing_lite" | "group_marketing" => ChargeCategory::Marketing,
        "utility" | "group_utility" => ChargeCategory::Utility,
        "authentication" | "authentication_international" | "authentication-international" => {
            ChargeCategory::Authentication
        }
        "service" | "group_service" => ChargeCategory::Service,
        _ => return None,
    })
}

/// What [`Engine::message_status`] found: what the ack of [`Engine::handle`] tells as
/// `unmatched`, for a host that calls the typed function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusOutcome {
    /// The status is about a send the number recorded under its `message_id`.
    Matched,
    /// No send the number recorded has its `message_id` (not recorded yet, recorded under
    /// another id, or forgotten after `provider.status_memory`): it confirmed no pricing and
    /// moved no delivery state; a failure's corrections still applied to the conversation.
    /// Statuses that never match tell a host that records sends under ids the provider does
    /// not echo.
    Unmatched,
}

display_as_wire_name!(StatusOutcome);

impl Engine {
    /// A delivery status for a message sent with a `message_id`: whether it matched a send
    /// the number recorded under that id ([`Engine::handle`] acks it `unmatched` when not).
    pub fn message_status(&mut self, e: &MessageStatusUpdate) -> Result<StatusOutcome, Error> {
        // The id names the message, as on `send`: the same bounds, and required.
        if e.message_id.is_empty() {
            return Err(Error::InvalidEvent {
                problem: "message_id is empty: a status names the message it is about".into(),
            });
        }
        crate::engine::check_id("message_id", Some(&e.message_id))?;
        let number = self.number_idx(&e.number)?;
        // A status naming the recipient by both names links them, as an inbound does (Meta
        // names both on every status of a message sent to a phone number). It never moves a
        // user id another contact has: a status may come days late, or again, and the pair
        // it names be older than the one an inbound made since.
        // A pair naming a phone number another user's (the number changed hands since, or
        // will) is about the user id's contact (`user` below), not the number's.
        let (learned, another_users) = match e.user_id.as_deref() {
            Some(user_id) => {
                let channel = self.numbers[number as usize].channel;
                let phone = self.sender_beside(Some(&e.contact), None, user_id, channel)?;
                self.link_sender(number, phone, user_id, false, e.at)?
            }
            None => (None, None),
        };
        let named = (self.interner.address(&e.contact)).map_err(|e| e.in_field("contact"))?;
        let contact = self.contact_of(number, named);
        // The user a per-user failure holds, where the status names one by user id (beside a
        // number another user's, or alone): the number the message went to may have changed
        // hands since. Else the message's recipient.
        // A status naming the number alone may be the previous owner's, if dated before the
        // number changed hands (`apply_errors`); naming the user id beside it, it is that
        // user's.
        let user = another_users
            .or((named.phone_digits().is_none() || e.user_id.is_some()).then_some(contact));
        self.handle_timeout(e.at);
        let now = self.clock;
        if let Some(link) = learned {
            self.contact_linked(number, link);
        }
        // The number's own send of that id (§10: ids are unique per number, not across).
        let record = self.sent_message(number, &e.message_id, now).cloned();
        let known = record.is_some();
        let Some(mut record) = record.filter(|r| r.failed_before_sent.is_none()) else {
            // Not a message sent through the engine (or forgotten, or not recorded yet):
            // contact-level corrections still apply to a failure, once; a send recorded
            // later under this id fails then (`remember_sent`).
            if e.status == DeliveryStatus::Failed && !known {
                let conv = self.conversation_or_create(number, contact)?;
                self.opener_failed(conv, &e.message_id);
                self.apply_errors(conv, None, &e.errors, e.at, user);
                let early = SentMessage::failure_before_send(conv, e.at, e.errors.clone());
                self.sent_messages
                    .insert(scoped_key(Some(number), &e.message_id), now, early);
            }
            return Ok(StatusOutcome::Unmatched);
        };
        // The platform's ids are unique per number (§10), but not every provider's: Telegram
        // numbers messages per chat, so two chats of a bot have a message 5 each, and the
        // later send replaced the earlier's record (`remember_sent`). Off the official
        // channel, a status naming another existing conversation than the record's is about
        // that other message: it matches nothing (it failed the other contact's message).
        // One naming no conversation (an address spelled otherwise than on the send) is
        // taken as the record's, as before.
        if self.numbers[number as usize].channel != Channel::Official
            && matches!(
                self.conversation_with(number, &e.contact)?.1,
                Some(conv) if conv != record.conv
            )
        {
            return Ok(StatusOutcome::Unmatched);
        }
        // Statuses only move forward in the order sent < delivered < read < failed, so the
        // final state does not depend on the order webhooks arrive in; failed is final.
        let advances = e.status > record.status;
        let delivered =
            |s: DeliveryStatus| matches!(s, DeliveryStatus::Delivered | DeliveryStatus::Read);
        // Only delivery is charged (§11): the pricing a `sent` status carries is confirmed by
        // the `delivered` or `read` status that carries it again, and a message that fails
        // after `sent` is never confirmed. A send on a channel the platform does not bill
        // takes no pricing a status names: counted, it became the business's usage (and
        // fixed its months to UTC) though the send counted nothing.
        let pricing = e.pricing.as_ref().filter(|_| record.billing != NOT_BILLED);
        if let Some(pricing) = pricing.filter(|_| e.status != DeliveryStatus::Failed) {
            self.entry_point_priced(record.conv, &record.billing, record.sent_at, pricing);
        }
        if let Some(pricing) = pricing.filter(|_| !record.confirmed && delivered(e.status)) {
            self.confirm_billing(number, record.sent_at, pricing);
            record.confirmed = true;
            if is_charged_service(&record.billing) {
                // The provider's word on it stands: no slot given back moves to it.
                with_scoped_key(Some(number), &e.message_id, |key| {
                    self.allowance_forget(number, key, record.sent_at)
                });
            }
        }
        if advances && e.status == DeliveryStatus::Failed {
            self.fail_sent(number, &record, &e.message_id, &e.errors, e.at);
            self.apply_errors(record.conv, record.template, &e.errors, e.at, user);
        }
        if advances {
            record.status = e.status;
        }
        with_scoped_key(Some(number), &e.message_id, |id| {
            if let Some(stored) = self.sent_messages.get_mut(id, now) {
                *stored = record;
            }
        });
        Ok(StatusOutcome::Matched)
    }

    /// What a failure undoes of a recorded send (its estimate, its opening of a free entry
    /// point, its duplicate record, its limit slot), announced as `message_failed`, and what
    /// it passes on (its allowance slot, announced as `message_repriced` of the message that
    /// took it); the errors' corrections are the caller's.
    fn fail_sent(
        &mut self,
        number: u32,
        record: &SentMessage,
        message_id: &str,
        errors: &[u32],
        at: Instant,
    ) {
        self.reverse_estimate(number, record);
        let repriced = with_scoped_key(Some(number), message_id, |key| {
            self.allowance_send_failed(number, key, record)
        });
        self.unrecord_opening(record.conv, &record.billing, record.sent_at);
        if let Some(content) = record.content {
            // It never reached the contact: sending it again is no duplicate (§10), as
            // the engine's own advice after a back-off (131056) has the host do.
            let expires_at = record.sent_at.plus(self.policy.dedup.content_period);
            let to = self.recipient_of(record.conv);
            self.sent_content
                .forget(record.conv, to, content, expires_at);
        }
        self.opener_failed(record.conv, message_id);
        // A send of a paused template (132015) counts against no limit (RULES.md §5, facts
        // §3.1, M-TPAUSE), whatever the policy says of other failures: the provider refused
        // it as the engine refuses a send of a template it knows is paused.
        let refused_as_paused = errors.iter().any(|c| codes::TEMPLATE_PAUSED.contains(c));
        if (record.counted_by_limit || record.consumed_slot)
            && (self.policy.provider.release_failed_sends || refused_as_paused)
        {
            // The contact the send counted, the one of its conversation: a status naming
            // another would take a live send off a contact it never counted.
            let sent = &self.conversations[record.conv as usize];
            self.limit_release(sent.number, sent.contact, record.sent_at, at);
        }
        let (number_name, contact_name) = self.conv_names(record.conv);
        self.effects.push_back(Effect::MessageFailed {
            number: number_name,
            contact: contact_name,
            message_id: message_id.to_owned(),
            errors: errors.to_vec(),
            at,
        });
        if let Some((conv, message_id)) = repriced {
            let (number, contact) = self.conv_names(conv);
            self.effects.push_back(Effect::MessageRepriced {
                number,
                contact,
                message_id,
                billing: ALLOWANCE,
                at,
            });
        }
    }

    /// Whether `number` recorded a send under `message_id` that the engine still remembers
    /// (a failure reported before any send, kept under the id, is none): what the webhook
    /// reader asks to tell which of a status's two ids names the message.
    pub(crate) fn recorded_send(&self, number: &str, message_id: &str) -> bool {
        let Ok(number) = self.number_idx(number) else {
            return false;
        };
        self.sent_message(number, message_id, self.clock)
            .is_some_and(|m| m.failed_before_sent.is_none())
    }

    /// The number's remembered send under `message_id` at `now` (ids are the number's own).
    fn sent_message(&self, number: u32, message_id: &str, now: Instant) -> Option<&SentMessage> {
        with_scoped_key(Some(number), message_id, |id| {
            self.sent_messages.get(id, now)
        })
    }

    /// Whether the number's send under `message_id` is known to have failed.
    pub(crate) fn sent_failed(&self, number: u32, message_id: &str, now: Instant) -> bool {
        self.sent_message(number, message_id, now)
            .is_some_and(|m| m.status == DeliveryStatus::Failed)
    }

    /// Remembers an allowed send under its provider id. A failure already reported for that
    /// id (before the host recorded the send) fails it now, as if reported after it: the
    /// contact-level corrections were made when the failure came, its template's now.
    pub(crate) fn remember_sent(
        &mut self,
        message_id: &str,
        mut message: SentMessage,
        now: Instant,
    ) {
        let number = self.conversations[message.conv as usize].number;
        let key = scoped_key(Some(number), message_id);
        // A failure of the same message names its recipient: one naming another contact
        // was about some other message (a host's wiring mistake), which this send replaces.
        let earlier = self.sent_messages.get_mut(&key, now);
        // Another send under the same id (a provider numbering messages per chat) replaces
        // this one: it can no longer give an allowance slot back or take one here.
        let replaced = (earlier.as_ref())
            .filter(|sent| sent.failed_before_sent.is_none())
            .map(|sent| sent.sent_at);
        let failed_before = earlier
            .filter(|early| early.conv == message.conv)
            .and_then(|early| Some((early.sent_at, early.failed_before_sent.take()?)));
        if let Some(sent_at) = replaced {
            self.allowance_forget(number, &key, sent_at);
        }
        if let Some((at, errors)) = &failed_before {
            self.fail_sent(number, &message, message_id, errors, *at);
            self.apply_template_errors(message.template, errors, *at);
            message.status = DeliveryStatus::Failed;
        } else {
            self.allowance_recorded(number, &key, &message);
        }
        self.sent_messages.insert(key, now, message);
    }

    fn confirm_billing(&mut self, number: u32, sent_at: Instant, pricing: &ProviderPricing) {
        let month = self.month_of(number, sent_at);
        let usage = self.usage.entry((number, month)).or_default();
        match (
            pricing.kind,
            pricing.category.as_deref().and_then(provider_category),
        ) {
            (PricingType::Regular, Some(category)) => {
                tally(usage.confirmed_charged.entry(category).or_default(), 1)
            }
            (PricingType::Regular | PricingType::Other, None) | (PricingType::Other, Some(_)) => {
                tally(&mut usage.confirmed_unknown, 1)
            }
            _ => tally(&mut usage.confirmed_free, 1),
        }
    }

    /// Only delivered messages are charged: a failure takes back the estimate.
    fn reverse_estimate(&mut self, number: u32, record: &SentMessage) {
        if record.billing == NOT_BILLED {
            // A channel the platform does not bill: usage counted nothing for it (see
            // `record_billing`), so there is nothing to take back. Taken back, it came off
            // the official sends of a number that moved to the official channel since.
            return;
        }
        let rate_card = self.has_rate_card();
        let month = self.month_of(number, record.sent_at);
        let usage = self.usage.entry((number, month)).or_default();
        tally(&mut usage.failed, 1);
        use crate::pricing::take_back_count as take_back;
        match &record.billing {
            Billing::Charged { category, price } => {
                usage.take_back_charge(*category, price.as_ref(), rate_card)
            }
            Billing::Free { why } => take_back(&mut usage.free, why),
        }
        if record.template.is_none() {
            usage.service_messages = usage.service_messages.saturating_sub(1);
        }
    }

    /// The template errors of a failure (the template is paused or disabled).
    fn apply_template_errors(&mut self, template: Option<u32>, errors: &[u32], at: Instant) {
        let Some(t) = template else { return };
        for &code in errors {
            let paused = codes::TEMPLATE_PAUSED.contains(&code);
            if !paused && !codes::TEMPLATE_DISABLED.contains(&code) {
                continue;
            }
            let template = &self.templates[t as usize];
            // A send refused during a timed quality pause reports that pause, whose end
            // stands: read as a pause without one, it made the template unsendable for
            // good, until a provider event came to lift it.
            if paused && template.timed_pause_at(at) {
                continue;
            }
            let before = self.template_pause(t);
            let template = &self.templates[t as usize];
            let update = TemplateStatusUpdate {
                pause: None,
                at,
                business: self.businesses[template.business as usize].name.clone(),
                name: template.spec.name.clone(),
                language: template.spec.language.clone(),
                status: if paused {
                    TemplateEvent::Paused
                } else {
                    TemplateEvent::Disabled
                },
                until: None,
                category: None,
            };
            // The template exists (it was sent), so this cannot fail.
            let _ = self.template_status(&update);
            if paused {
                self.note_failure_pause(t, before, at);
            }
        }
    }

    /// Template `t`'s status and pause end, as a send failure finds them.
    pub(crate) fn template_pause(&self, t: u32) -> (TemplateStatus, Option<Instant>) {
        let template = &self.templates[t as usize];
        (template.status, template.paused_until)
    }

    /// A send failure at `at` reporting template `t` paused (132015) was applied as a pause
    /// without an end, on the template found `before`. A pause so read from this failure
    /// (not one in force before it) is marked: a timed pause learned later that covers the
    /// failure is the one it reported. One kept to apply again instead (the template awaits
    /// reinstatement) is marked as a failure's, to be read so when it is.
    pub(crate) fn note_failure_pause(
        &mut self,
        t: u32,
        before: (TemplateStatus, Option<Instant>),
        at: Instant,
    ) {
        let template = &mut self.templates[t as usize];
        if before != (TemplateStatus::Paused, None)
            && (template.status, template.paused_until) == (TemplateStatus::Paused, None)
            && template.last_provider_event_at == Some(at)
        {
            template.failure_pause_at = Some(at);
        }
        let kept = (template.disable_undo.as_deref_mut())
            .and_then(|undo| undo.reports.last_mut())
            .filter(|report| report.at == at && report.status == TemplateEvent::Paused);
        if let Some(report) = kept {
            report.failure = true;
        }
    }

    /// The corrections a provider's error codes call for (see the module table).
    /// `user`: the contact a per-user error (131049) holds when not the conversation's (the
    /// user a status names by user id: the number may have changed hands since the send).
    fn apply_errors(
        &mut self,
        conv: u32,
        template: Option<u32>,
        errors: &[u32],
        at: Instant,
        user: Option<AddressKey>,
    ) {
        // The codes are the WhatsApp Business API's (Meta's, and its providers' for the same
        // errors): on another channel's number they name none of these rules. Read there, a
        // 131064 blocked the business's WhatsApp limit, a 131049 its marketing to the contact.
        let number = self.conversations[conv as usize].number;
        if self.numbers[number as usize].channel != Channel::Official {
            return;
        }
        for &code in errors {
            if codes::OUTSIDE_WINDOW.contains(&code) {
                self.close_window_by_provider(conv, at);
            } else if codes::TEMPLATE_PAUSED.contains(&code)
                || codes::TEMPLATE_DISABLED.contains(&code)
            {
                self.apply_template_errors(template, &[code], at);
            } else if code == codes::PER_USER_MARKETING_LIMIT {
                // Meta caps the marketing a user gets, from every business: the hold is the
                // contact's, at all of the business's numbers (kept with its consent), not
                // this conversation's. From the failure's own instant, so a late webhook
                // gives the same end; a hold that ends later stands.
                let until = at.plus(self.policy.provider.marketing_backoff);
                let c = &self.conversations[conv as usize];
                let business = self.numbers[c.number as usize].business;
                // Dated before the number changed hands, the previous owner's.
                let contact = user.unwrap_or_else(|| {
                    (self.contact_links).consent_contact(business, c.contact, at)
                });
                let held = (self.consents.get(&(business, contact)))
                    .and_then(|record| record.marketing_backoff_until);
                if held.is_some_and(|held| held >= until) {
                    continue;
                }
                self.update_consent(business, contact, |record| {
                    record.marketing_backoff_until = Some(until)
                });
                self.backed_off(conv, contact, code, true, until, at);
            } else if code == codes::PAIR_RATE_LIMIT {
                let until = at.plus(self.policy.provider.pair_rate_backoff);
                let backoff = Backoff {
                    code,
                    marketing_only: false,
                    until,
                };
                // One hold per conversation: the one that ends later wins, so that a late
                // report never cuts a hold short. (A marketing-only hold here comes from a
                // snapshot of an earlier version, which kept 131049 per conversation.)
                let kept = self.backoffs.get(&conv).filter(|b| {
                    **b == backoff
                        || (b.until > at
                            && (b.until > backoff.until
                                || (b.until == backoff.until && !b.marketing_only)))
                });
                if kept.is_some() {
                    continue;
                }
                self.backoffs.insert(conv, backoff);
                let contact = self.conversations[conv as usize].contact;
                self.backed_off(conv, contact, code, false, until, at);
            } else if codes::LIMIT_REACHED.contains(&code) {
                let number = self.conversations[conv as usize].number;
                self.limit_block(number, at);
            }
        }
    }

    /// Tells the host that the provider holds sends to a conversation's contact.
    /// Announces a hold of `contact` (the conversation's, or the user it holds) at `conv`'s
    /// number.
    fn backed_off(
        &mut self,
        conv: u32,
        contact: AddressKey,
        code: u32,
        marketing_only: bool,
        until: Instant,
        at: Instant,
    ) {
        let (number, _) = self.conv_names(conv);
        let contact = self.interner.address_of(contact);
        self.effects.push_back(Effect::ContactBackedOff {
            number,
            contact,
            code,
            marketing_only,
            until,
            at,
        });
    }

    /// The backoff in force for a conversation at `now`.
    pub(crate) fn backoff_at(&self, conv: u32, now: Instant) -> Option<Backoff> {
        self.backoffs.get(&conv).copied().filter(|b| now < b.until)
    }

    /// Whether an inbound message id was already handled (provider retries), judged at
    /// `at`, the instant the inbound moves the clock to: an id remembered longer ago than
    /// `provider.status_memory` is new again whether or not a tick came in between.
    ///
    /// An id is the same message only from the same sender as named (`sender`: `None` for
    /// one never seen, who sent nothing yet) at the same number (see [`crate::keys`]).
    #[inline]
    pub(crate) fn inbound_seen(
        &self,
        message_id: Option<&str>,
        number: u32,
        sender: Option<AddressKey>,
        at: Instant,
    ) -> bool {
        let Some(id) = message_id else {
            return false;
        };
        let now = at.max(self.clock);
        let seen = |scope| with_inbound_key(scope, id, |k| self.inbound_ids.get(k, now).is_some());
        sender.is_some_and(|s| seen(Some((number, s)))) || (self.inbound_ids_unscoped && seen(None))
    }

    pub(crate) fn remember_inbound(
        &mut self,
        message_id: Option<&str>,
        number: u32,
        sender: AddressKey,
    ) {
        if let Some(id) = message_id {
            let key = inbound_key(Some((number, sender)), id);
            self.inbound_ids.insert(key, self.clock, Some(number));
        }
    }
}
