//! What changed: effects the engine emits, drained with `poll_effect` in the order they
//! happened.

use serde::{Deserialize, Serialize};

use crate::address::Address;
use crate::chat::{ChatEndReason, TicketStatus};
use crate::message::OutboundMessage;
use crate::template::TemplateStatus;
use crate::time::{Duration, Instant};

/// Why held messages were dropped unsent (`outbox_expired`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutboxDrop {
    /// The hold period (`outbox.hold_for`) ended without the contact's answer.
    #[default]
    HoldEnded,
    /// The phone number they were held for changed hands (an inbound named it beside another
    /// user id than its previous owner's; `contact_unlinked` comes first when a user id still
    /// named it): they were the previous owner's, and the new owner's answer must not
    /// release them.
    NumberChangedHands,
}

/// One change the host may act on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Effect {
    /// A new ticket was opened for the conversation.
    TicketOpened {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// Ticket id.
        ticket: u64,
        /// When.
        at: Instant,
    },
    /// A ticket's status changed.
    TicketStatusChanged {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// Ticket id.
        ticket: u64,
        /// Old status.
        from: TicketStatus,
        /// New status.
        to: TicketStatus,
        /// On an email number, a close that ended the contact's wait unanswered: since when
        /// they had waited (the wait is not counted as a response; a chat's counterpart is a
        /// `missed` chat).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unanswered_since: Option<Instant>,
        /// When.
        at: Instant,
    },
    /// On an email number, a send answered the contact waiting on the ticket (§3: time to
    /// first response and response times per ticket; a live chat's are on `ChatEnded`).
    /// Counted in the number's response counters as it is sent.
    TicketAnswered {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// Ticket id.
        ticket: u64,
        /// How long the contact had waited: since their oldest unanswered email on the
        /// ticket.
        waited: Duration,
        /// The ticket's first response: `waited` is its time to first response.
        first: bool,
        /// When.
        at: Instant,
    },
    /// A live chat started.
    ChatStarted {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The ticket it belongs to.
        ticket: u64,
        /// When.
        at: Instant,
    },
    /// A live chat ended and is now on its ticket.
    ChatEnded {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The ticket it is on.
        ticket: u64,
        /// Why it ended.
        reason: ChatEndReason,
        /// The ticket's status after the end.
        ticket_status: TicketStatus,
        /// Ended by inactivity with no agent reply.
        missed: bool,
        /// Time from chat start to the first agent reply.
        #[serde(skip_serializing_if = "Option::is_none")]
        first_response_after: Option<Duration>,
        /// Agent replies that answered a waiting contact, the first included (§3).
        #[serde(default)]
        responses: u64,
        /// Their response times added up; absent when there were none. Divided by
        /// `responses`, the chat's mean response time.
        #[serde(skip_serializing_if = "Option::is_none")]
        response_total: Option<Duration>,
        /// When.
        at: Instant,
    },
    /// The service window closes soon (reminder, §2).
    WindowClosingSoon {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// When it closes.
        window_ends_at: Instant,
        /// When the reminder fired.
        at: Instant,
    },
    /// The provider said the contact is outside the window; it is closed from now on.
    WindowClosedByProvider {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// What the engine had as the window's end.
        local_window_ends_at: Option<Instant>,
        /// When.
        at: Instant,
    },
    /// The contact answered: held messages may now be sent (§4).
    OutboxReleased {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The held messages, oldest first.
        messages: Vec<OutboundMessage>,
        /// When.
        at: Instant,
    },
    /// Held messages were dropped unsent (§4): their hold period ended, or the phone number
    /// they were held for changed hands.
    OutboxExpired {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The dropped messages, oldest first.
        messages: Vec<OutboundMessage>,
        /// Why they were dropped (lines written before this field read as `hold_ended`).
        #[serde(default)]
        reason: OutboxDrop,
        /// When.
        at: Instant,
    },
    /// An inbound file is larger than the policy accepts (§8); the message still counts.
    InboundFileTooLarge {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The limit.
        limit_bytes: u64,
        /// The file's size.
        actual_bytes: u64,
        /// When.
        at: Instant,
    },
    /// A template's status changed.
    TemplateStatusChanged {
        /// Owning business.
        business: String,
        /// Name.
        name: String,
        /// Language.
        language: String,
        /// Old status.
        from: TemplateStatus,
        /// New status.
        to: TemplateStatus,
        /// End of a pause, or a flag's disable deadline.
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<Instant>,
        /// The deadline of a flag in force after the change: a flagged template's (as
        /// `until`), or the one a pause keeps (§5: a flag outlives a pause).
        #[serde(skip_serializing_if = "Option::is_none")]
        flagged_until: Option<Instant>,
        /// Why.
        reason: crate::template_lifecycle::TemplateChangeReason,
        /// When.
        at: Instant,
    },
    /// A template's category changed (the provider recategorized it): sends from then on
    /// are priced and consent-checked under `to`.
    TemplateCategoryChanged {
        /// Owning business.
        business: String,
        /// Name.
        name: String,
        /// Language.
        language: String,
        /// Old category.
        from: crate::template::TemplateCategory,
        /// New category.
        to: crate::template::TemplateCategory,
        /// When the provider changed it (the event's own instant).
        since: Instant,
        /// When.
        at: Instant,
    },
    /// A number's quality rating changed.
    NumberQualityChanged {
        /// The number.
        number: Address,
        /// Old rating.
        from: crate::template::Quality,
        /// New rating.
        to: crate::template::Quality,
        /// When.
        at: Instant,
    },
    /// A number was flagged for low quality.
    NumberFlagged {
        /// The number.
        number: Address,
        /// Recover before this, or the limit goes down.
        deadline: Instant,
        /// When.
        at: Instant,
    },
    /// A number's flag was cleared.
    NumberFlagCleared {
        /// The number.
        number: Address,
        /// Recovered, or the deadline passed.
        reason: crate::number_quality::FlagClearReason,
        /// When.
        at: Instant,
    },
    /// The provider restricted a number.
    NumberRestricted {
        /// The number.
        number: Address,
        /// What is barred.
        scope: crate::number::RestrictionScope,
        /// When it ends, if known.
        until: Option<Instant>,
        /// When.
        at: Instant,
    },
    /// A number's restriction ended.
    NumberRestrictionEnded {
        /// The number.
        number: Address,
        /// What had been barred.
        scope: crate::number::RestrictionScope,
        /// When.
        at: Instant,
    },
    /// A messaging limit changed.
    LimitChanged {
        /// Per number or per business.
        scope: crate::policy::LimitScope,
        /// The number or business.
        owner: String,
        /// Old limit.
        from: crate::policy::LimitLevel,
        /// New limit.
        to: crate::policy::LimitLevel,
        /// Why.
        reason: crate::limits::LimitChangeReason,
        /// When.
        at: Instant,
    },
    /// The provider could not deliver a message; its charge and (by policy) its limit slot
    /// are given back, and the errors' corrections applied.
    MessageFailed {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The provider's message id.
        message_id: String,
        /// Provider error codes.
        errors: Vec<u32>,
        /// When.
        at: Instant,
    },
    /// A failure passed a free slot of the 2026 monthly service allowance (RULES.md §11) to
    /// a message charged since for want of one (a `message_failed` of the message that held
    /// it comes first): that message is free now, as `billing` says, and its charge and price
    /// are off its month's usage. A host that stores each decision's billing replaces this
    /// message's; the engine re-prices no other way.
    MessageRepriced {
        /// The number that sent it.
        number: Address,
        /// The contact it went to.
        contact: Address,
        /// The message's id, as its send was recorded under.
        message_id: String,
        /// Its billing now.
        billing: crate::decision::Billing,
        /// When (the failure's instant).
        at: Instant,
    },
    /// The provider asked to back off a contact.
    ContactBackedOff {
        /// The number.
        number: Address,
        /// The contact.
        contact: Address,
        /// The provider error.
        code: u32,
        /// Whether only marketing templates are held back.
        marketing_only: bool,
        /// Until when.
        until: Instant,
        /// When.
        at: Instant,
    },
    /// An inbound named its sender by a phone number and a business-scoped user id that the
    /// business did not know as one contact: from now on either name reaches the same
    /// conversations, consent and limit slot of the business (§1). Emitted when the pair is
    /// first learned and when the provider pairs the user id with another phone number
    /// (`previous_phone`, a user who changed numbers): conversation ids the host found by
    /// the user id before name the previous number's conversations, so it resolves them
    /// again. Not emitted when both names already have a history (they stay two contacts).
    ContactLinked {
        /// The number the inbound came to.
        number: Address,
        /// The sender's phone number.
        phone: Address,
        /// The sender's business-scoped user id.
        user_id: Address,
        /// The phone number of the contact the user id left, when the provider moved it:
        /// that contact's key, or its phone number when another user id keys it (never a
        /// user id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_phone: Option<Address>,
        /// When.
        at: Instant,
    },
    /// A phone number changed hands: an inbound named it beside another user id than the
    /// one it was linked to (a user id is one user's, facts §1.3). `user_id`, the previous
    /// owner's, no longer names the contact `phone` names: it is a name of its own, holding
    /// the consent given under the number. The contact that had the conversations keeps them
    /// (the user id's when it keyed the contact; else the phone number's, which the new
    /// owner's messages continue, without the previous owner's window, held messages, chat
    /// or ticket). A host storing the pair drops it and resolves again conversation ids it
    /// found by either name. Emitted for every user id the number leaves, before the
    /// `contact_linked` of the new pair if one is made.
    ContactUnlinked {
        /// The number the inbound came to.
        number: Address,
        /// The phone number that changed hands.
        phone: Address,
        /// The previous owner's business-scoped user id.
        user_id: Address,
        /// When.
        at: Instant,
    },
    /// The provider reported the messaging limit reached: business-initiated sends to new
    /// contacts are refused until `until`.
    LimitReachedByProvider {
        /// Per number or per business.
        scope: crate::policy::LimitScope,
        /// The number or business.
        owner: String,
        /// Until when.
        until: Instant,
        /// When.
        at: Instant,
    },
}

impl Effect {
    /// When it happened (its `at`).
    pub fn at(&self) -> Instant {
        match self {
            Effect::TicketOpened { at, .. }
            | Effect::TicketStatusChanged { at, .. }
            | Effect::TicketAnswered { at, .. }
            | Effect::ChatStarted { at, .. }
            | Effect::ChatEnded { at, .. }
            | Effect::WindowClosingSoon { at, .. }
            | Effect::WindowClosedByProvider { at, .. }
            | Effect::OutboxReleased { at, .. }
            | Effect::OutboxExpired { at, .. }
            | Effect::InboundFileTooLarge { at, .. }
            | Effect::TemplateStatusChanged { at, .. }
            | Effect::TemplateCategoryChanged { at, .. }
            | Effect::NumberQualityChanged { at, .. }
            | Effect::NumberFlagged { at, .. }
            | Effect::NumberFlagCleared { at, .. }
            | Effect::NumberRestricted { at, .. }
            | Effect::NumberRestrictionEnded { at, .. }
            | Effect::LimitChanged { at, .. }
            | Effect::MessageFailed { at, .. }
            | Effect::MessageRepriced { at, .. }
            | Effect::ContactBackedOff { at, .. }
            | Effect::ContactLinked { at, .. }
            | Effect::ContactUnlinked { at, .. }
            | Effect::LimitReachedByProvider { at, .. } => *at,
        }
    }

    /// Effects queued in a snapshot, also those written before response times were kept: a
    /// `chat_ended` without `responses` had exactly its first response, if any (an engine
    /// never writes a first response without responses).
    pub(crate) fn deserialize_queued<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<Effect>, D::Error> {
        let mut effects = Vec::<Effect>::deserialize(d)?;
        for effect in &mut effects {
            if let Effect::ChatEnded {
                first_response_after: Some(first),
                responses: responses @ 0,
                response_total,
                ..
            } = effect
            {
                *responses = 1;
                *response_total = Some(*first);
            }
        }
        Ok(effects)
    }
}
