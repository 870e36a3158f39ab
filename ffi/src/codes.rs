//! Numeric codes for the core's enums, and the one table from [`DenyReason`] to
//! `convstate_reason` and the decision's generic numbers.
//!
//! Values are stable and never reused; 0 means "none" wherever a code may be absent, so a
//! zeroed struct never claims anything. Input codes arrive as `uint32_t` and are checked here
//! (a C caller can pass any integer; turning it into a Rust enum unchecked would be undefined
//! behaviour).

#![allow(non_camel_case_types)]

use std::ffi::c_char;

use convstate_core::chat::ChatEnder;
use convstate_core::decision::{
    Billing, ChargeCategory, Decision, DenyReason, DenyReasonKind, FreeReason, Initiator,
    NextAction, Verdict,
};
use convstate_core::delivery::PricingType;
use convstate_core::event::{DeliveryStatus, InboundKind, PreferenceValue};
use convstate_core::message::{ContentProblem, MediaKind};
use convstate_core::number::RestrictionScope;
use convstate_core::policy::{LimitLevel, LimitScope};
use convstate_core::template_lifecycle::TemplateEvent;
use convstate_core::{Channel, Effect, Quality, TemplateCategory, TemplateStatus, TicketStatus};

use crate::boundary::FfiError;

/// Sentinel for an absent instant or duration in output structs. Valid instants are
/// 0..=253402300799999 (years 1970..=9999), so -1 never collides with one.
/// (Written into the header by `ffi/cbindgen.toml` as `((int64_t)-1)`.)
pub const CONVSTATE_NONE_MS: i64 = -1;

/// What `convstate_engine_conversation_id` writes when the engine holds no such
/// conversation: no conversation id is `u64::MAX` (`ConversationId`'s docs). (Written into
/// the header by `ffi/cbindgen.toml` as `UINT64_MAX`.)
pub const CONVSTATE_NO_CONVERSATION: u64 = u64::MAX;

/// How a number is connected.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_channel {
    /// WhatsApp Business API: service window, templates, limits.
    CONVSTATE_CHANNEL_OFFICIAL = 1,
    /// A regular WhatsApp account behind a web bridge: no window, groups allowed.
    CONVSTATE_CHANNEL_UNOFFICIAL = 2,
    /// Telegram, Viber and the like.
    CONVSTATE_CHANNEL_MESSENGER = 3,
    /// Email: every conversation is a ticket.
    CONVSTATE_CHANNEL_EMAIL = 4,
}

pub(crate) fn channel_from(code: u32) -> Result<Channel, FfiError> {
    Ok(match code {
        1 => Channel::Official,
        2 => Channel::Unofficial,
        3 => Channel::Messenger,
        4 => Channel::Email,
        _ => {
            return Err(FfiError::invalid_code(
                "channel",
                code,
                "CONVSTATE_CHANNEL_*",
            ))
        }
    })
}

pub(crate) fn channel_code(channel: Channel) -> convstate_channel {
    match channel {
        Channel::Official => convstate_channel::CONVSTATE_CHANNEL_OFFICIAL,
        Channel::Unofficial => convstate_channel::CONVSTATE_CHANNEL_UNOFFICIAL,
        Channel::Messenger => convstate_channel::CONVSTATE_CHANNEL_MESSENGER,
        Channel::Email => convstate_channel::CONVSTATE_CHANNEL_EMAIL,
    }
}

/// Kind of an inbound message.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_inbound_kind {
    /// Text.
    CONVSTATE_INBOUND_TEXT = 1,
    /// Image.
    CONVSTATE_INBOUND_IMAGE = 2,
    /// Video.
    CONVSTATE_INBOUND_VIDEO = 3,
    /// Audio or voice note.
    CONVSTATE_INBOUND_AUDIO = 4,
    /// Document.
    CONVSTATE_INBOUND_DOCUMENT = 5,
    /// Sticker.
    CONVSTATE_INBOUND_STICKER = 6,
    /// Location.
    CONVSTATE_INBOUND_LOCATION = 7,
    /// Shared contacts.
    CONVSTATE_INBOUND_CONTACTS = 8,
    /// Tap on a template quick-reply button.
    CONVSTATE_INBOUND_BUTTON = 9,
    /// Interactive reply.
    CONVSTATE_INBOUND_INTERACTIVE = 10,
    /// Emoji reaction (opens the window only if the policy says so).
    CONVSTATE_INBOUND_REACTION = 11,
    /// A call from the contact.
    CONVSTATE_INBOUND_CALL = 12,
    /// Anything the provider could not parse: not a user message.
    CONVSTATE_INBOUND_UNSUPPORTED = 13,
    /// A system notice: not a user message.
    CONVSTATE_INBOUND_SYSTEM = 14,
    /// Meta's `request_welcome` (the contact opened the chat for the first time): not a user
    /// message; opens the window when dated before the policy's
    /// `window.request_welcome_until`.
    CONVSTATE_INBOUND_REQUEST_WELCOME = 15,
}

pub(crate) fn inbound_kind_from(code: u32) -> Result<InboundKind, FfiError> {
    use InboundKind::*;
    const KINDS: [InboundKind; 15] = [
        Text,
        Image,
        Video,
        Audio,
        Document,
        Sticker,
        Location,
        Contacts,
        Button,
        Interactive,
        Reaction,
        Call,
        Unsupported,
        System,
        RequestWelcome,
    ];
    (code as usize)
        .checked_sub(1)
        .and_then(|i| KINDS.get(i).copied())
        .ok_or_else(|| FfiError::invalid_code("kind", code, "CONVSTATE_INBOUND_*"))
}

/// Kind of media.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_media_kind {
    /// No media.
    CONVSTATE_MEDIA_NONE = 0,
    /// A picture.
    CONVSTATE_MEDIA_IMAGE = 1,
    /// A video clip.
    CONVSTATE_MEDIA_VIDEO = 2,
    /// A voice note or audio file.
    CONVSTATE_MEDIA_AUDIO = 3,
    /// A document.
    CONVSTATE_MEDIA_DOCUMENT = 4,
    /// A sticker.
    CONVSTATE_MEDIA_STICKER = 5,
}

pub(crate) fn media_from(code: u32) -> Result<MediaKind, FfiError> {
    Ok(match code {
        1 => MediaKind::Image,
        2 => MediaKind::Video,
        3 => MediaKind::Audio,
        4 => MediaKind::Document,
        5 => MediaKind::Sticker,
        _ => return Err(FfiError::invalid_code("media", code, "CONVSTATE_MEDIA_*")),
    })
}

fn media_code(media: MediaKind) -> convstate_media_kind {
    use convstate_media_kind::*;
    match media {
        MediaKind::Image => CONVSTATE_MEDIA_IMAGE,
        MediaKind::Video => CONVSTATE_MEDIA_VIDEO,
        MediaKind::Audio => CONVSTATE_MEDIA_AUDIO,
        MediaKind::Document => CONVSTATE_MEDIA_DOCUMENT,
        MediaKind::Sticker => CONVSTATE_MEDIA_STICKER,
    }
}

/// What a template is for.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_template_category {
    /// Promotions, offers, announcements.
    CONVSTATE_CATEGORY_MARKETING = 1,
    /// Order updates, account alerts.
    CONVSTATE_CATEGORY_UTILITY = 2,
    /// One-time passwords.
    CONVSTATE_CATEGORY_AUTHENTICATION = 3,
}

pub(crate) fn category_from(code: u32) -> Result<TemplateCategory, FfiError> {
    Ok(match code {
        1 => TemplateCategory::Marketing,
        2 => TemplateCategory::Utility,
        3 => TemplateCategory::Authentication,
        _ => {
            return Err(FfiError::invalid_code(
                "category",
                code,
                "CONVSTATE_CATEGORY_*",
            ))
        }
    })
}

pub(crate) fn category_code(category: TemplateCategory) -> convstate_template_category {
    use convstate_template_category::*;
    match category {
        TemplateCategory::Marketing => CONVSTATE_CATEGORY_MARKETING,
        TemplateCategory::Utility => CONVSTATE_CATEGORY_UTILITY,
        TemplateCategory::Authentication => CONVSTATE_CATEGORY_AUTHENTICATION,
    }
}

/// Review status of a template.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_template_status {
    /// No status.
    CONVSTATE_TEMPLATE_STATUS_NONE = 0,
    /// In review.
    CONVSTATE_TEMPLATE_PENDING = 1,
    /// Sendable.
    CONVSTATE_TEMPLATE_APPROVED = 2,
    /// Refused in review.
    CONVSTATE_TEMPLATE_REJECTED = 3,
    /// Low quality, still sendable until its deadline.
    CONVSTATE_TEMPLATE_FLAGGED = 4,
    /// Temporarily not sendable.
    CONVSTATE_TEMPLATE_PAUSED = 5,
    /// Not sendable unless reinstated.
    CONVSTATE_TEMPLATE_DISABLED = 6,
    /// The business appealed a rejection.
    CONVSTATE_TEMPLATE_IN_APPEAL = 7,
    /// Being deleted.
    CONVSTATE_TEMPLATE_PENDING_DELETION = 8,
    /// Gone for good.
    CONVSTATE_TEMPLATE_DELETED = 9,
    /// The business has too many templates.
    CONVSTATE_TEMPLATE_LIMIT_EXCEEDED = 10,
    /// Archived by the business.
    CONVSTATE_TEMPLATE_ARCHIVED = 11,
}

const TEMPLATE_STATUSES: [(TemplateStatus, convstate_template_status); 11] = {
    use convstate_template_status::*;
    use TemplateStatus::*;
    [
        (Pending, CONVSTATE_TEMPLATE_PENDING),
        (Approved, CONVSTATE_TEMPLATE_APPROVED),
        (Rejected, CONVSTATE_TEMPLATE_REJECTED),
        (Flagged, CONVSTATE_TEMPLATE_FLAGGED),
        (Paused, CONVSTATE_TEMPLATE_PAUSED),
        (Disabled, CONVSTATE_TEMPLATE_DISABLED),
        (InAppeal, CONVSTATE_TEMPLATE_IN_APPEAL),
        (PendingDeletion, CONVSTATE_TEMPLATE_PENDING_DELETION),
        (Deleted, CONVSTATE_TEMPLATE_DELETED),
        (LimitExceeded, CONVSTATE_TEMPLATE_LIMIT_EXCEEDED),
        (Archived, CONVSTATE_TEMPLATE_ARCHIVED),
    ]
};

pub(crate) fn template_status_from(code: u32) -> Result<TemplateStatus, FfiError> {
    TEMPLATE_STATUSES
        .iter()
        .find(|(_, c)| *c as u32 == code)
        .map(|(s, _)| *s)
        .ok_or_else(|| FfiError::invalid_code("status", code, "CONVSTATE_TEMPLATE_* (not NONE)"))
}

pub(crate) fn template_status_code(status: TemplateStatus) -> convstate_template_status {
    TEMPLATE_STATUSES.iter().find(|(s, _)| *s == status).map_or(
        convstate_template_status::CONVSTATE_TEMPLATE_STATUS_NONE,
        |(_, c)| *c,
    )
}

/// A provider's template status event (`convstate_engine_template_status_ex`). Codes 1..=11
/// equal the `convstate_template_status` of the same name (the event sets that status); the
/// events from 12 on name a transition rather than a status (`LOCKED` and `UNLOCKED` change
/// none: they lock the template against editing, and unlock it).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_template_event {
    /// Back in review.
    CONVSTATE_TEMPLATE_EVENT_PENDING = 1,
    /// Approved in review (or after an appeal).
    CONVSTATE_TEMPLATE_EVENT_APPROVED = 2,
    /// Rejected in review.
    CONVSTATE_TEMPLATE_EVENT_REJECTED = 3,
    /// Flagged for low quality; `until_ms` is the provider's disable date, if given.
    CONVSTATE_TEMPLATE_EVENT_FLAGGED = 4,
    /// Paused; `until_ms` is when the pause ends (`CONVSTATE_NONE_MS`: a pacing pause, ended
    /// only by `CONVSTATE_TEMPLATE_EVENT_UNPAUSED`).
    CONVSTATE_TEMPLATE_EVENT_PAUSED = 5,
    /// Disabled.
    CONVSTATE_TEMPLATE_EVENT_DISABLED = 6,
    /// Under appeal.
    CONVSTATE_TEMPLATE_EVENT_IN_APPEAL = 7,
    /// Being deleted.
    CONVSTATE_TEMPLATE_EVENT_PENDING_DELETION = 8,
    /// Deleted (final).
    CONVSTATE_TEMPLATE_EVENT_DELETED = 9,
    /// Over the template count limit.
    CONVSTATE_TEMPLATE_EVENT_LIMIT_EXCEEDED = 10,
    /// Archived.
    CONVSTATE_TEMPLATE_EVENT_ARCHIVED = 11,
    /// A pause was lifted (the template is approved again).
    CONVSTATE_TEMPLATE_EVENT_UNPAUSED = 12,
    /// Reinstated after a disable (appeal won; approved again).
    CONVSTATE_TEMPLATE_EVENT_REINSTATED = 13,
    /// Locked against editing (Meta's LOCKED: "Locked and cannot be edited"): every edit is
    /// `CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE` until `UNLOCKED`. The status is unchanged, and
    /// so is sending; `until_ms` is ignored.
    CONVSTATE_TEMPLATE_EVENT_LOCKED = 14,
    /// The lock was lifted: the template is edited as its status allows.
    CONVSTATE_TEMPLATE_EVENT_UNLOCKED = 15,
    /// Back from the archive (Meta's UNARCHIVED), with no new review: approved, or still
    /// disabled if it was disabled before it was archived (only a reinstatement revives it),
    /// decided by the engine in the provider's order (a `DISABLED` dated before it and
    /// delivered after it leaves the template disabled).
    CONVSTATE_TEMPLATE_EVENT_UNARCHIVED = 16,
}

const TEMPLATE_EVENTS: [(TemplateEvent, convstate_template_event); 16] = {
    use convstate_template_event::*;
    use TemplateEvent::*;
    [
        (Pending, CONVSTATE_TEMPLATE_EVENT_PENDING),
        (Approved, CONVSTATE_TEMPLATE_EVENT_APPROVED),
        (Rejected, CONVSTATE_TEMPLATE_EVENT_REJECTED),
        (Flagged, CONVSTATE_TEMPLATE_EVENT_FLAGGED),
        (Paused, CONVSTATE_TEMPLATE_EVENT_PAUSED),
        (Disabled, CONVSTATE_TEMPLATE_EVENT_DISABLED),
        (InAppeal, CONVSTATE_TEMPLATE_EVENT_IN_APPEAL),
        (PendingDeletion, CONVSTATE_TEMPLATE_EVENT_PENDING_DELETION),
        (Deleted, CONVSTATE_TEMPLATE_EVENT_DELETED),
        (LimitExceeded, CONVSTATE_TEMPLATE_EVENT_LIMIT_EXCEEDED),
        (Archived, CONVSTATE_TEMPLATE_EVENT_ARCHIVED),
        (Unpaused, CONVSTATE_TEMPLATE_EVENT_UNPAUSED),
        (Reinstated, CONVSTATE_TEMPLATE_EVENT_REINSTATED),
        (Locked, CONVSTATE_TEMPLATE_EVENT_LOCKED),
        (Unlocked, CONVSTATE_TEMPLATE_EVENT_UNLOCKED),
        (Unarchived, CONVSTATE_TEMPLATE_EVENT_UNARCHIVED),
    ]
};

pub(crate) fn template_event_from(code: u32) -> Result<TemplateEvent, FfiError> {
    TEMPLATE_EVENTS
        .iter()
        .find(|(_, c)| *c as u32 == code)
        .map(|(e, _)| *e)
        .ok_or_else(|| FfiError::invalid_code("event", code, "CONVSTATE_TEMPLATE_EVENT_*"))
}

/// What a provider restriction of a number bars.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_restriction_scope {
    /// No restriction: an unused slot of `convstate_number_view.restrictions` (never an
    /// argument).
    CONVSTATE_RESTRICTION_NONE = 0,
    /// Business-initiated messages (templates outside a window); replies stay allowed.
    CONVSTATE_RESTRICTION_BUSINESS_INITIATED = 1,
    /// Every message, replies to customers included.
    CONVSTATE_RESTRICTION_ALL_MESSAGES = 2,
    /// Every message, until the provider reinstates the account (a ban): a restriction
    /// report does not end it.
    CONVSTATE_RESTRICTION_ACCOUNT_DISABLED = 3,
}

/// Slots of `convstate_number_view.restrictions`: a number has at most one restriction of
/// each scope.
pub const CONVSTATE_RESTRICTION_SCOPES: usize = 3;

/// A restriction in force on a number.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_restriction {
    /// What it bars.
    pub scope: convstate_restriction_scope,
    /// When it ends, or `CONVSTATE_NONE_MS`: until lifted (or, for
    /// `CONVSTATE_RESTRICTION_ACCOUNT_DISABLED`, until the account is reinstated).
    pub until_ms: i64,
}

impl convstate_restriction {
    /// An unused slot.
    pub(crate) const NONE: convstate_restriction = convstate_restriction {
        scope: convstate_restriction_scope::CONVSTATE_RESTRICTION_NONE,
        until_ms: CONVSTATE_NONE_MS,
    };
}

pub(crate) fn restriction_scope_from(code: u32) -> Result<RestrictionScope, FfiError> {
    Ok(match code {
        1 => RestrictionScope::BusinessInitiated,
        2 => RestrictionScope::AllMessages,
        3 => RestrictionScope::AccountDisabled,
        _ => {
            return Err(FfiError::invalid_code(
                "scope",
                code,
                "CONVSTATE_RESTRICTION_*",
            ))
        }
    })
}

pub(crate) fn restriction_scope_code(scope: RestrictionScope) -> convstate_restriction_scope {
    match scope {
        RestrictionScope::BusinessInitiated => {
            convstate_restriction_scope::CONVSTATE_RESTRICTION_BUSINESS_INITIATED
        }
        RestrictionScope::AllMessages => {
            convstate_restriction_scope::CONVSTATE_RESTRICTION_ALL_MESSAGES
        }
        RestrictionScope::AccountDisabled => {
            convstate_restriction_scope::CONVSTATE_RESTRICTION_ACCOUNT_DISABLED
        }
    }
}

/// Who shares a messaging limit.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_limit_scope {
    /// Each number has its own.
    CONVSTATE_LIMIT_SCOPE_NUMBER = 1,
    /// All numbers of a business share one.
    CONVSTATE_LIMIT_SCOPE_BUSINESS = 2,
}

pub(crate) fn limit_scope_code(scope: LimitScope) -> convstate_limit_scope {
    match scope {
        LimitScope::Number => convstate_limit_scope::CONVSTATE_LIMIT_SCOPE_NUMBER,
        LimitScope::Business => convstate_limit_scope::CONVSTATE_LIMIT_SCOPE_BUSINESS,
    }
}

/// Sentinel for an unlimited messaging limit in `int64_t` limit fields and arguments.
/// (Written into the header by `ffi/cbindgen.toml` as `((int64_t)-1)`.)
pub const CONVSTATE_LIMIT_UNLIMITED: i64 = -1;

/// A limit level as `int64_t`: the number of contacts, or `CONVSTATE_LIMIT_UNLIMITED`.
pub(crate) fn limit_level_code(level: LimitLevel) -> i64 {
    match level {
        LimitLevel::Contacts(n) => i64::from(n),
        LimitLevel::Unlimited => CONVSTATE_LIMIT_UNLIMITED,
    }
}

pub(crate) fn limit_level_from(limit: i64) -> Result<LimitLevel, FfiError> {
    if limit == CONVSTATE_LIMIT_UNLIMITED {
        return Ok(LimitLevel::Unlimited);
    }
    u32::try_from(limit).map(LimitLevel::Contacts).map_err(|_| {
        FfiError::new(
            crate::convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            format!(
                "argument `limit` is {limit}: a number of contacts 0..={} or CONVSTATE_LIMIT_UNLIMITED (-1)",
                u32::MAX
            ),
        )
    })
}

/// Delivery status of a sent message, as a provider reports it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_delivery_status {
    /// Accepted, no provider status yet.
    CONVSTATE_DELIVERY_ACCEPTED = 1,
    /// The provider sent it.
    CONVSTATE_DELIVERY_SENT = 2,
    /// Delivered to the contact's device.
    CONVSTATE_DELIVERY_DELIVERED = 3,
    /// Read by the contact.
    CONVSTATE_DELIVERY_READ = 4,
    /// The provider could not deliver it (final); see the error codes.
    CONVSTATE_DELIVERY_FAILED = 5,
}

pub(crate) fn delivery_status_from(code: u32) -> Result<DeliveryStatus, FfiError> {
    Ok(match code {
        1 => DeliveryStatus::Accepted,
        2 => DeliveryStatus::Sent,
        3 => DeliveryStatus::Delivered,
        4 => DeliveryStatus::Read,
        5 => DeliveryStatus::Failed,
        _ => {
            return Err(FfiError::invalid_code(
                "status",
                code,
                "CONVSTATE_DELIVERY_*",
            ))
        }
    })
}

/// The provider's `pricing.type` on a status.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_pricing_type {
    /// The status carries no pricing.
    CONVSTATE_PRICING_NONE = 0,
    /// Charged (`regular`).
    CONVSTATE_PRICING_REGULAR = 1,
    /// Free: a non-template message or utility template inside the service window.
    CONVSTATE_PRICING_FREE_CUSTOMER_SERVICE = 2,
    /// Free: inside a free entry point window.
    CONVSTATE_PRICING_FREE_ENTRY_POINT = 3,
    /// Free: inside a group's service window.
    CONVSTATE_PRICING_FREE_GROUP_CUSTOMER_SERVICE = 4,
    /// Free, the reason not given (conversation-based pricing's `billable: false`).
    CONVSTATE_PRICING_FREE = 5,
    /// A type the host does not know: recorded as confirmed without a category.
    CONVSTATE_PRICING_OTHER = 999,
}

/// `CONVSTATE_PRICING_NONE` gives `None`.
pub(crate) fn pricing_type_from(code: u32) -> Result<Option<PricingType>, FfiError> {
    Ok(Some(match code {
        0 => return Ok(None),
        1 => PricingType::Regular,
        2 => PricingType::FreeCustomerService,
        3 => PricingType::FreeEntryPoint,
        4 => PricingType::FreeGroupCustomerService,
        5 => PricingType::Free,
        999 => PricingType::Other,
        _ => {
            return Err(FfiError::invalid_code(
                "pricing_type",
                code,
                "CONVSTATE_PRICING_*",
            ))
        }
    }))
}

/// Quality rating.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_quality {
    /// Not rated yet.
    CONVSTATE_QUALITY_UNKNOWN = 1,
    /// Low (red).
    CONVSTATE_QUALITY_LOW = 2,
    /// Medium (yellow).
    CONVSTATE_QUALITY_MEDIUM = 3,
    /// High (green).
    CONVSTATE_QUALITY_HIGH = 4,
}

pub(crate) fn quality_from(code: u32) -> Result<Quality, FfiError> {
    Ok(match code {
        1 => Quality::Unknown,
        2 => Quality::Low,
        3 => Quality::Medium,
        4 => Quality::High,
        _ => {
            return Err(FfiError::invalid_code(
                "quality",
                code,
                "CONVSTATE_QUALITY_*",
            ))
        }
    })
}

pub(crate) fn quality_code(quality: Quality) -> convstate_quality {
    use convstate_quality::*;
    match quality {
        Quality::Unknown => CONVSTATE_QUALITY_UNKNOWN,
        Quality::Low => CONVSTATE_QUALITY_LOW,
        Quality::Medium => CONVSTATE_QUALITY_MEDIUM,
        Quality::High => CONVSTATE_QUALITY_HIGH,
    }
}

/// Ticket status.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_ticket_status {
    /// No ticket, or no status given.
    CONVSTATE_TICKET_NONE = 0,
    /// Needs work.
    CONVSTATE_TICKET_OPEN = 1,
    /// Waiting on the customer or a third party.
    CONVSTATE_TICKET_PENDING = 2,
    /// Done; a new message opens a new ticket.
    CONVSTATE_TICKET_CLOSED = 3,
}

/// `CONVSTATE_TICKET_NONE` gives `None`.
/// `argument`: the parameter's name in the call, as the error names it.
pub(crate) fn ticket_status_from(
    code: u32,
    argument: &'static str,
) -> Result<Option<TicketStatus>, FfiError> {
    Ok(match code {
        0 => None,
        1 => Some(TicketStatus::Open),
        2 => Some(TicketStatus::Pending),
        3 => Some(TicketStatus::Closed),
        _ => return Err(FfiError::invalid_code(argument, code, "CONVSTATE_TICKET_*")),
    })
}

pub(crate) fn ticket_status_code(status: TicketStatus) -> convstate_ticket_status {
    use convstate_ticket_status::*;
    match status {
        TicketStatus::Open => CONVSTATE_TICKET_OPEN,
        TicketStatus::Pending => CONVSTATE_TICKET_PENDING,
        TicketStatus::Closed => CONVSTATE_TICKET_CLOSED,
    }
}

/// Who ends a chat.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_chat_ender {
    /// An agent.
    CONVSTATE_ENDED_BY_AGENT = 1,
    /// An automation rule.
    CONVSTATE_ENDED_BY_RULE = 2,
}

pub(crate) fn chat_ender_from(code: u32) -> Result<ChatEnder, FfiError> {
    Ok(match code {
        1 => ChatEnder::Agent,
        2 => ChatEnder::Rule,
        _ => return Err(FfiError::invalid_code("by", code, "CONVSTATE_ENDED_BY_*")),
    })
}

/// A contact's marketing preference.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_preference {
    /// Stop marketing messages.
    CONVSTATE_PREFERENCE_STOP = 1,
    /// Resume them.
    CONVSTATE_PREFERENCE_RESUME = 2,
}

pub(crate) fn preference_from(code: u32) -> Result<PreferenceValue, FfiError> {
    Ok(match code {
        1 => PreferenceValue::Stop,
        2 => PreferenceValue::Resume,
        _ => {
            return Err(FfiError::invalid_code(
                "value",
                code,
                "CONVSTATE_PREFERENCE_*",
            ))
        }
    })
}

// ---- decisions ----------------------------------------------------------------------------

/// Allowed or denied.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_verdict {
    /// The send may go ahead.
    CONVSTATE_VERDICT_ALLOWED = 1,
    /// The send must not go ahead; see `reason`.
    CONVSTATE_VERDICT_DENIED = 2,
}

/// Who started the exchange a send belongs to.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_initiator {
    /// A reply inside an open window, or any send on a channel without windows.
    CONVSTATE_INITIATED_BY_CUSTOMER = 1,
    /// A template outside the window.
    CONVSTATE_INITIATED_BY_BUSINESS = 2,
}

/// Why a send was denied. Which of the decision's generic fields (`limit`, `actual`,
/// `instant_ms`, `duration_ms`, `detail_code`) a reason fills is listed per reason; the
/// others are 0 (numbers and codes) or `CONVSTATE_NONE_MS` (instants and durations).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_reason {
    /// Not denied.
    CONVSTATE_REASON_NONE = 0,
    /// Free-form outside the service window. `instant_ms`: when it closed
    /// (`CONVSTATE_NONE_MS` if the contact never wrote).
    CONVSTATE_REASON_WINDOW_CLOSED = 1,
    /// Free-form inside the safety margin before the window ends. `instant_ms`: when the
    /// window ends; `duration_ms`: the margin.
    CONVSTATE_REASON_WITHIN_SAFETY_MARGIN = 2,
    /// Groups only on the unofficial channel. `detail_code`: the number's `convstate_channel`.
    CONVSTATE_REASON_GROUP_NOT_ALLOWED = 3,
    /// The contact never wrote first. `detail_code`: the number's `convstate_channel`.
    CONVSTATE_REASON_NO_PRIOR_CONTACT = 4,
    /// Text too long. `limit`, `actual`: characters (which text: the JSON door's `item`).
    CONVSTATE_REASON_TOO_LONG = 5,
    /// File too large. `limit`, `actual`: bytes; `detail_code`: the `convstate_media_kind`.
    CONVSTATE_REASON_FILE_TOO_LARGE = 6,
    /// Too many interactive buttons. `limit`, `actual`: buttons.
    CONVSTATE_REASON_TOO_MANY_BUTTONS = 7,
    /// The template's status does not allow sending. `detail_code`: its
    /// `convstate_template_status`; `instant_ms`: when a timed pause ends, if it is one.
    CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE = 8,
    /// Parameters do not match the template's variables (details: the JSON door).
    CONVSTATE_REASON_TEMPLATE_PARAMS = 9,
    /// Business-initiated messages need an opt-in record.
    CONVSTATE_REASON_NO_OPT_IN = 10,
    /// The contact stopped marketing messages. `instant_ms`: since when.
    CONVSTATE_REASON_MARKETING_STOPPED = 11,
    /// No marketing templates to US numbers. `instant_ms`: from when the rule applies.
    CONVSTATE_REASON_MARKETING_TO_US_NUMBER = 12,
    /// Same content sent recently, or still held by `initiate`. `instant_ms`: when;
    /// `duration_ms`: how long that copy makes it a duplicate (the duplicate period for a sent
    /// one, its hold for a held one).
    CONVSTATE_REASON_DUPLICATE = 13,
    /// `initiate` found no template: the number has no default template.
    CONVSTATE_REASON_NO_DEFAULT_TEMPLATE = 14,
    /// The messaging limit is reached. `limit`: the limit (`UINT64_MAX` for an unlimited one
    /// the provider reported reached); `actual`: contacts the engine counted; `instant_ms`:
    /// when the next slot frees; `detail_code`: 1 when only the provider's report (131064,
    /// 131048) reached it, the engine's own count having room (sends it never saw count at
    /// the provider), else 0.
    CONVSTATE_REASON_LIMIT_REACHED = 15,
    /// The provider restricted the number. `instant_ms`: when it ends (or
    /// `CONVSTATE_NONE_MS`); `detail_code`: its `convstate_restriction_scope` (1
    /// business-initiated only, 2 all messages, 3 account disabled).
    CONVSTATE_REASON_RESTRICTED = 16,
    /// The provider asked to back off this contact (per-user marketing limit, pair rate).
    /// `instant_ms`: when sending may resume; `detail_code`: the provider error code
    /// (whether only marketing is held back: the JSON door's `marketing_only`).
    CONVSTATE_REASON_CONTACT_BACKOFF = 17,
    /// Content that cannot be sent whatever its length. `detail_code`: what is wrong (1 a
    /// part is empty: a text, an interactive body or button title, a template parameter, no
    /// buttons at all, a list without sections or rows; 2 a location's coordinate is off the
    /// globe; 3 a caption on audio or a sticker, which Meta's messages carry none of; 4 more
    /// sections or rows than a list takes, with `limit` and `actual`; 5 a list's row id or an
    /// interactive button title given twice). Which part, and the range: the JSON door.
    CONVSTATE_REASON_INVALID_CONTENT = 18,
    /// A reason this build of the library does not name yet: use the JSON door for details.
    CONVSTATE_REASON_OTHER = 999,
}

/// The suggested next step after a denial.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_next_action {
    /// No suggestion.
    CONVSTATE_NEXT_NONE = 0,
    /// Send an approved template instead (or call `initiate`).
    CONVSTATE_NEXT_SEND_TEMPLATE = 1,
    /// Wait until the contact writes first.
    CONVSTATE_NEXT_WAIT_FOR_CONTACT = 2,
    /// Shorten or fix the content.
    CONVSTATE_NEXT_FIX_CONTENT = 3,
    /// Try again at `next_action_at_ms`.
    CONVSTATE_NEXT_RETRY_AT = 4,
    /// Pick a template that is sendable to this contact.
    CONVSTATE_NEXT_USE_ANOTHER_TEMPLATE = 5,
    /// Record the contact's opt-in first.
    CONVSTATE_NEXT_RECORD_OPT_IN = 6,
    /// This channel cannot do it.
    CONVSTATE_NEXT_USE_ANOTHER_CHANNEL = 7,
    /// Register a default template for the number.
    CONVSTATE_NEXT_SET_DEFAULT_TEMPLATE = 8,
}

/// Whether an allowed send is free or charged.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_billing {
    /// No billing (the send was denied).
    CONVSTATE_BILLING_NONE = 0,
    /// Free; see `free_reason`.
    CONVSTATE_BILLING_FREE = 1,
    /// Charged; see `charge_category`.
    CONVSTATE_BILLING_CHARGED = 2,
}

/// Why a send is free.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_free_reason {
    /// Not free.
    CONVSTATE_FREE_NONE = 0,
    /// Free-form inside the customer service window.
    CONVSTATE_FREE_SERVICE_WINDOW = 1,
    /// The channel is not billed by the platform.
    CONVSTATE_FREE_CHANNEL_NOT_BILLED = 2,
    /// Inside an already open paid conversation (conversation models).
    CONVSTATE_FREE_INSIDE_CONVERSATION = 3,
    /// Opens a free service conversation (conversation model with categories).
    CONVSTATE_FREE_SERVICE_CONVERSATION = 4,
    /// Inside a free entry point window.
    CONVSTATE_FREE_FREE_ENTRY_POINT = 5,
    /// A utility template inside an open window (per-message 2025).
    CONVSTATE_FREE_UTILITY_IN_WINDOW = 6,
    /// Within the monthly free service allowance (per-message 2026-10).
    CONVSTATE_FREE_SERVICE_ALLOWANCE = 7,
    /// Held in the pending outbox: nothing is sent now.
    CONVSTATE_FREE_HELD = 8,
}

/// Slots of `convstate_usage_view.free_by_reason`, one per `convstate_free_reason` code
/// (`CONVSTATE_FREE_NONE`'s is always 0).
pub const CONVSTATE_FREE_REASONS: usize = 9;

pub(crate) fn free_reason_code(why: FreeReason) -> convstate_free_reason {
    use convstate_free_reason::*;
    match why {
        FreeReason::ServiceWindow => CONVSTATE_FREE_SERVICE_WINDOW,
        FreeReason::ChannelNotBilled => CONVSTATE_FREE_CHANNEL_NOT_BILLED,
        FreeReason::InsideConversation => CONVSTATE_FREE_INSIDE_CONVERSATION,
        FreeReason::ServiceConversation => CONVSTATE_FREE_SERVICE_CONVERSATION,
        FreeReason::FreeEntryPoint => CONVSTATE_FREE_FREE_ENTRY_POINT,
        FreeReason::UtilityInWindow => CONVSTATE_FREE_UTILITY_IN_WINDOW,
        FreeReason::ServiceAllowance => CONVSTATE_FREE_SERVICE_ALLOWANCE,
        FreeReason::Held => CONVSTATE_FREE_HELD,
    }
}

/// Charge category of a charged send.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_charge_category {
    /// Not charged.
    CONVSTATE_CHARGE_NONE = 0,
    /// Marketing templates.
    CONVSTATE_CHARGE_MARKETING = 1,
    /// Utility templates.
    CONVSTATE_CHARGE_UTILITY = 2,
    /// Authentication templates.
    CONVSTATE_CHARGE_AUTHENTICATION = 3,
    /// Service messages.
    CONVSTATE_CHARGE_SERVICE = 4,
}

/// A send decision: plain data, no pointers, nothing to free.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_decision {
    /// Allowed or denied.
    pub verdict: convstate_verdict,
    /// Why it was denied (`CONVSTATE_REASON_NONE` when allowed).
    pub reason: convstate_reason,
    /// A limit, for reasons that have one (see `convstate_reason`), else 0.
    pub limit: u64,
    /// The actual value that broke `limit`, else 0.
    pub actual: u64,
    /// An instant the reason names, in unix ms, else `CONVSTATE_NONE_MS`.
    pub instant_ms: i64,
    /// A duration the reason names, in ms, else `CONVSTATE_NONE_MS`.
    pub duration_ms: i64,
    /// A code the reason names (channel, media kind, template status), else 0.
    pub detail_code: u32,
    /// The suggested next step.
    pub next_action: convstate_next_action,
    /// For `CONVSTATE_NEXT_RETRY_AT`: when, else `CONVSTATE_NONE_MS`.
    pub next_action_at_ms: i64,
    /// Customer- or business-initiated.
    pub initiated_by: convstate_initiator,
    /// Free, charged, or none (denied).
    pub billing: convstate_billing,
    /// Why it is free, when `billing` is `CONVSTATE_BILLING_FREE`.
    pub free_reason: convstate_free_reason,
    /// The category, when `billing` is `CONVSTATE_BILLING_CHARGED`.
    pub charge_category: convstate_charge_category,
    /// Whether the send took a messaging-limit slot.
    pub consumed_limit_slot: bool,
    /// For `initiate`: whether a template was sent to open the conversation (its name is in
    /// the JSON door's `initiation`).
    pub initiation_template_sent: bool,
    /// For `initiate`: messages now held in the pending outbox.
    pub held: u32,
    /// The price of a charged send from the policy's rate card, in exact millionths of
    /// `currency` (`2500` is 0.0025), or -1 when there is none (free, denied, or no rate card
    /// price for the contact's market).
    pub price_micros: i64,
    /// The price's currency code, NUL-terminated; empty when `price_micros` is -1.
    pub currency: [c_char; CONVSTATE_CURRENCY_CAPACITY],
}

/// Size of the `currency` arrays in output structs, NUL terminator included. A rate card
/// currency is a three-letter ISO 4217 code (a policy with any other is refused with
/// `CONVSTATE_ERR_INVALID_POLICY`), so it always fits; every call that makes an engine from
/// a policy or saved bytes (`convstate_engine_new`, `convstate_sharded_engine_new`,
/// `convstate_engine_restore`, `convstate_sharded_engine_restore`,
/// `convstate_engine_from_business_export`) checks the fit again.
pub const CONVSTATE_CURRENCY_CAPACITY: usize = 8;

/// A currency code as a NUL-terminated fixed array (empty for none).
pub(crate) fn currency_array(currency: Option<&str>) -> [c_char; CONVSTATE_CURRENCY_CAPACITY] {
    let mut array = [0 as c_char; CONVSTATE_CURRENCY_CAPACITY];
    if let Some(currency) = currency {
        // Engines only hold policies whose currency fits (see `check_currency`); `take`
        // keeps the last byte a NUL regardless.
        for (slot, byte) in array
            .iter_mut()
            .zip(currency.bytes().take(CONVSTATE_CURRENCY_CAPACITY - 1))
        {
            *slot = byte as c_char;
        }
    }
    array
}

/// Refuses a policy whose rate card currency the C structs cannot hold whole.
pub(crate) fn check_currency(policy: &convstate_core::Policy) -> Result<(), FfiError> {
    let Some(card) = &policy.pricing.rate_card else {
        return Ok(());
    };
    let currency = &card.currency;
    if currency.len() >= CONVSTATE_CURRENCY_CAPACITY || currency.contains('\0') {
        return Err(FfiError::new(
            crate::convstate_result::CONVSTATE_ERR_INVALID_POLICY,
            format!(
                "rate card currency {currency:?} is {} bytes: the C library holds currency codes of at most {} bytes without NUL",
                currency.len(),
                CONVSTATE_CURRENCY_CAPACITY - 1
            ),
        ));
    }
    Ok(())
}

/// The decision's generic numbers for one denial reason.
struct ReasonFields {
    reason: convstate_reason,
    limit: u64,
    actual: u64,
    instant_ms: i64,
    duration_ms: i64,
    detail_code: u32,
}

impl ReasonFields {
    fn of(reason: convstate_reason) -> ReasonFields {
        ReasonFields {
            reason,
            limit: 0,
            actual: 0,
            instant_ms: CONVSTATE_NONE_MS,
            duration_ms: CONVSTATE_NONE_MS,
            detail_code: 0,
        }
    }
    fn limit(self, limit: u64, actual: u64) -> Self {
        ReasonFields {
            limit,
            actual,
            ..self
        }
    }
    fn instant(self, at: Option<convstate_core::Instant>) -> Self {
        ReasonFields {
            instant_ms: at.map_or(CONVSTATE_NONE_MS, |t| t.unix_millis()),
            ..self
        }
    }
    fn duration(self, d: convstate_core::Duration) -> Self {
        ReasonFields {
            duration_ms: d.millis(),
            ..self
        }
    }
    fn detail(self, code: u32) -> Self {
        ReasonFields {
            detail_code: code,
            ..self
        }
    }
}

/// THE table from denial reasons to C codes. A reason core adds later is
/// `CONVSTATE_REASON_OTHER` until a line is added here (a test lists the missing ones).
pub(crate) const fn reason_code(kind: DenyReasonKind) -> convstate_reason {
    use convstate_reason::*;
    use DenyReasonKind as K;
    match kind {
        K::WindowClosed => CONVSTATE_REASON_WINDOW_CLOSED,
        K::WithinSafetyMargin => CONVSTATE_REASON_WITHIN_SAFETY_MARGIN,
        K::GroupNotAllowed => CONVSTATE_REASON_GROUP_NOT_ALLOWED,
        K::NoPriorContact => CONVSTATE_REASON_NO_PRIOR_CONTACT,
        K::TooLong => CONVSTATE_REASON_TOO_LONG,
        K::FileTooLarge => CONVSTATE_REASON_FILE_TOO_LARGE,
        K::TooManyButtons => CONVSTATE_REASON_TOO_MANY_BUTTONS,
        K::TemplateNotSendable => CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE,
        K::TemplateParams => CONVSTATE_REASON_TEMPLATE_PARAMS,
        K::NoOptIn => CONVSTATE_REASON_NO_OPT_IN,
        K::MarketingStopped => CONVSTATE_REASON_MARKETING_STOPPED,
        K::MarketingToUsNumber => CONVSTATE_REASON_MARKETING_TO_US_NUMBER,
        K::Duplicate => CONVSTATE_REASON_DUPLICATE,
        K::NoDefaultTemplate => CONVSTATE_REASON_NO_DEFAULT_TEMPLATE,
        K::LimitReached => CONVSTATE_REASON_LIMIT_REACHED,
        K::Restricted => CONVSTATE_REASON_RESTRICTED,
        K::ContactBackoff => CONVSTATE_REASON_CONTACT_BACKOFF,
        K::InvalidContent => CONVSTATE_REASON_INVALID_CONTENT,
        _ => CONVSTATE_REASON_OTHER,
    }
}

/// A denial's code and the generic numbers its reason fills.
fn reason_fields(reason: &DenyReason) -> ReasonFields {
    let fields = ReasonFields::of(reason_code(reason.kind()));
    match reason {
        DenyReason::WindowClosed { window_closed_at } => fields.instant(*window_closed_at),
        DenyReason::WithinSafetyMargin {
            window_ends_at,
            margin,
        } => fields.instant(Some(*window_ends_at)).duration(*margin),
        DenyReason::GroupNotAllowed { channel } | DenyReason::NoPriorContact { channel } => {
            fields.detail(channel_code(*channel) as u32)
        }
        DenyReason::TooLong {
            limit_chars,
            actual_chars,
            ..
        } => fields.limit(u64::from(*limit_chars), *actual_chars),
        DenyReason::FileTooLarge {
            media,
            limit_bytes,
            actual_bytes,
        } => fields
            .limit(*limit_bytes, *actual_bytes)
            .detail(media_code(*media) as u32),
        DenyReason::TooManyButtons { limit, actual } => fields.limit(u64::from(*limit), *actual),
        DenyReason::TemplateNotSendable { status, until, .. } => fields
            .instant(*until)
            .detail(template_status_code(*status) as u32),
        DenyReason::MarketingStopped { since } | DenyReason::MarketingToUsNumber { since } => {
            fields.instant(Some(*since))
        }
        DenyReason::Duplicate {
            previous_at,
            period,
        } => fields.instant(Some(*previous_at)).duration(*period),
        DenyReason::LimitReached {
            limit,
            used,
            next_slot_at,
            reported_by_provider,
        } => {
            // The generic `limit` is unsigned: an unlimited limit the provider reported
            // reached is its largest value (the header says so).
            let limit = match limit {
                LimitLevel::Contacts(n) => u64::from(*n),
                LimitLevel::Unlimited => u64::MAX,
            };
            fields
                .limit(limit, u64::from(*used))
                .instant(Some(*next_slot_at))
                .detail(u32::from(*reported_by_provider))
        }
        DenyReason::Restricted { scope, until } => fields
            .instant(*until)
            .detail(restriction_scope_code(*scope) as u32),
        DenyReason::ContactBackoff { code, until, .. } => {
            fields.instant(Some(*until)).detail(*code)
        }
        DenyReason::InvalidContent {
            problem: ContentProblem::TooMany { limit, actual, .. },
        } => fields.limit(u64::from(*limit), *actual).detail(4),
        DenyReason::InvalidContent { problem } => fields.detail(match problem {
            ContentProblem::Empty { .. } => 1,
            ContentProblem::OutOfRange { .. } => 2,
            ContentProblem::CaptionNotSupported { .. } => 3,
            ContentProblem::Repeated { .. } => 5,
            _ => 0,
        }),
        // TemplateParams, NoOptIn, NoDefaultTemplate and reasons newer than this table fill
        // no numbers (the JSON door has their details).
        _ => fields,
    }
}

/// The wire name of a reason code (`"window_closed"`), as the JSON door writes it: core's
/// name of the kind with that code.
pub(crate) fn reason_name(code: u32) -> Option<&'static std::ffi::CStr> {
    use convstate_reason::*;
    if code == CONVSTATE_REASON_NONE as u32 {
        return Some(c"none");
    }
    if code == CONVSTATE_REASON_OTHER as u32 {
        return Some(c"other");
    }
    DenyReasonKind::ALL
        .iter()
        .find(|&&kind| reason_code(kind) as u32 == code)
        .map(|kind| kind.c_name())
}

fn next_action_fields(action: Option<NextAction>) -> (convstate_next_action, i64) {
    use convstate_next_action::*;
    let code = match action {
        None => CONVSTATE_NEXT_NONE,
        Some(NextAction::SendTemplate) => CONVSTATE_NEXT_SEND_TEMPLATE,
        Some(NextAction::WaitForContact) => CONVSTATE_NEXT_WAIT_FOR_CONTACT,
        Some(NextAction::FixContent) => CONVSTATE_NEXT_FIX_CONTENT,
        Some(NextAction::RetryAt { at }) => return (CONVSTATE_NEXT_RETRY_AT, at.unix_millis()),
        Some(NextAction::UseAnotherTemplate) => CONVSTATE_NEXT_USE_ANOTHER_TEMPLATE,
        Some(NextAction::RecordOptIn) => CONVSTATE_NEXT_RECORD_OPT_IN,
        Some(NextAction::UseAnotherChannel) => CONVSTATE_NEXT_USE_ANOTHER_CHANNEL,
        Some(NextAction::SetDefaultTemplate) => CONVSTATE_NEXT_SET_DEFAULT_TEMPLATE,
    };
    (code, CONVSTATE_NONE_MS)
}

fn billing_fields(
    billing: Option<&Billing>,
) -> (
    convstate_billing,
    convstate_free_reason,
    convstate_charge_category,
) {
    use convstate_billing::*;
    use convstate_charge_category::*;
    use convstate_free_reason::*;
    match billing {
        None => (
            CONVSTATE_BILLING_NONE,
            CONVSTATE_FREE_NONE,
            CONVSTATE_CHARGE_NONE,
        ),
        Some(Billing::Free { why }) => (
            CONVSTATE_BILLING_FREE,
            free_reason_code(*why),
            CONVSTATE_CHARGE_NONE,
        ),
        Some(Billing::Charged { category, .. }) => (
            CONVSTATE_BILLING_CHARGED,
            CONVSTATE_FREE_NONE,
            match category {
                ChargeCategory::Marketing => CONVSTATE_CHARGE_MARKETING,
                ChargeCategory::Utility => CONVSTATE_CHARGE_UTILITY,
                ChargeCategory::Authentication => CONVSTATE_CHARGE_AUTHENTICATION,
                ChargeCategory::Service => CONVSTATE_CHARGE_SERVICE,
            },
        ),
    }
}

/// A core decision as the C struct.
pub(crate) fn decision_to_c(decision: &Decision) -> convstate_decision {
    let (verdict, fields) = match &decision.verdict {
        Verdict::Allowed => (
            convstate_verdict::CONVSTATE_VERDICT_ALLOWED,
            ReasonFields::of(convstate_reason::CONVSTATE_REASON_NONE),
        ),
        Verdict::Denied(reason) => (
            convstate_verdict::CONVSTATE_VERDICT_DENIED,
            reason_fields(reason),
        ),
    };
    let (next_action, next_action_at_ms) = next_action_fields(decision.next_action);
    let (billing, free_reason, charge_category) = billing_fields(decision.billing.as_ref());
    let price = match &decision.billing {
        Some(Billing::Charged {
            price: Some(price), ..
        }) => Some(price),
        _ => None,
    };
    convstate_decision {
        verdict,
        reason: fields.reason,
        limit: fields.limit,
        actual: fields.actual,
        instant_ms: fields.instant_ms,
        duration_ms: fields.duration_ms,
        detail_code: fields.detail_code,
        next_action,
        next_action_at_ms,
        initiated_by: match decision.initiated_by {
            Initiator::Customer => convstate_initiator::CONVSTATE_INITIATED_BY_CUSTOMER,
            Initiator::Business => convstate_initiator::CONVSTATE_INITIATED_BY_BUSINESS,
        },
        billing,
        free_reason,
        charge_category,
        consumed_limit_slot: decision.consumed_limit_slot,
        initiation_template_sent: decision
            .initiation
            .as_ref()
            .is_some_and(|i| i.template.is_some()),
        held: decision.initiation.as_ref().map_or(0, |i| i.held),
        price_micros: price.map_or(-1, |p| p.amount.micros()),
        currency: currency_array(price.map(|p| p.currency.as_str())),
    }
}

// ---- effects ------------------------------------------------------------------------------

/// Kind of an effect returned by `convstate_engine_poll_effect`; the effect's fields are in its
/// JSON line.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_effect_kind {
    /// No effect was pending.
    CONVSTATE_EFFECT_NONE = 0,
    /// A new ticket was opened.
    CONVSTATE_EFFECT_TICKET_OPENED = 1,
    /// A ticket's status changed.
    CONVSTATE_EFFECT_TICKET_STATUS_CHANGED = 2,
    /// A live chat started.
    CONVSTATE_EFFECT_CHAT_STARTED = 3,
    /// A live chat ended.
    CONVSTATE_EFFECT_CHAT_ENDED = 4,
    /// The service window closes soon.
    CONVSTATE_EFFECT_WINDOW_CLOSING_SOON = 5,
    /// The provider closed the window.
    CONVSTATE_EFFECT_WINDOW_CLOSED_BY_PROVIDER = 6,
    /// Held messages may now be sent.
    CONVSTATE_EFFECT_OUTBOX_RELEASED = 7,
    /// Held messages were dropped unsent: their hold ended, or the phone number they were
    /// held for changed hands (the line's `reason`).
    CONVSTATE_EFFECT_OUTBOX_EXPIRED = 8,
    /// An inbound file is larger than the policy accepts.
    CONVSTATE_EFFECT_INBOUND_FILE_TOO_LARGE = 9,
    /// A template's status changed.
    CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED = 10,
    /// A number's quality rating changed.
    CONVSTATE_EFFECT_NUMBER_QUALITY_CHANGED = 11,
    /// A number was flagged for low quality (recover before its deadline).
    CONVSTATE_EFFECT_NUMBER_FLAGGED = 12,
    /// A number's flag was cleared (recovered, or the deadline passed).
    CONVSTATE_EFFECT_NUMBER_FLAG_CLEARED = 13,
    /// The provider restricted a number.
    CONVSTATE_EFFECT_NUMBER_RESTRICTED = 14,
    /// A number's restriction ended.
    CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED = 15,
    /// A messaging limit changed (upgrade, downgrade or the provider's word).
    CONVSTATE_EFFECT_LIMIT_CHANGED = 16,
    /// The provider could not deliver a message; its charge was given back, and its limit
    /// slot when the policy's `provider.release_failed_sends` is on (no preset turns it on).
    CONVSTATE_EFFECT_MESSAGE_FAILED = 17,
    /// The provider asked to back off a contact until an instant.
    CONVSTATE_EFFECT_CONTACT_BACKED_OFF = 18,
    /// The provider reported the messaging limit reached.
    CONVSTATE_EFFECT_LIMIT_REACHED_BY_PROVIDER = 19,
    /// The provider changed a template's category.
    CONVSTATE_EFFECT_TEMPLATE_CATEGORY_CHANGED = 20,
    /// An inbound made a phone number and a user id one contact, or moved the user id to
    /// another phone number (`previous_phone`): resolve conversation ids found by it again.
    CONVSTATE_EFFECT_CONTACT_LINKED = 21,
    /// On an email number, a send answered the contact waiting on the ticket (`waited`,
    /// `first`: the ticket's response times).
    CONVSTATE_EFFECT_TICKET_ANSWERED = 22,
    /// A failed message's free allowance slot went to a message charged since, which is
    /// free now: replace the `billing` stored for `message_id` with the line's.
    CONVSTATE_EFFECT_MESSAGE_REPRICED = 23,
    /// A phone number changed hands: the previous owner's `user_id` no longer names the
    /// contact `phone` names. Drop the stored pair and resolve conversation ids found by
    /// either name again.
    CONVSTATE_EFFECT_CONTACT_UNLINKED = 24,
    /// An effect this build does not name yet: read its JSON line's `"effect"`.
    CONVSTATE_EFFECT_OTHER = 999,
}

/// THE table from effects to kind codes; an effect core adds later is
/// `CONVSTATE_EFFECT_OTHER` until a line is added here.
pub(crate) fn effect_kind(effect: &Effect) -> convstate_effect_kind {
    use convstate_effect_kind::*;
    match effect {
        Effect::TicketOpened { .. } => CONVSTATE_EFFECT_TICKET_OPENED,
        Effect::TicketStatusChanged { .. } => CONVSTATE_EFFECT_TICKET_STATUS_CHANGED,
        Effect::ChatStarted { .. } => CONVSTATE_EFFECT_CHAT_STARTED,
        Effect::ChatEnded { .. } => CONVSTATE_EFFECT_CHAT_ENDED,
        Effect::WindowClosingSoon { .. } => CONVSTATE_EFFECT_WINDOW_CLOSING_SOON,
        Effect::WindowClosedByProvider { .. } => CONVSTATE_EFFECT_WINDOW_CLOSED_BY_PROVIDER,
        Effect::OutboxReleased { .. } => CONVSTATE_EFFECT_OUTBOX_RELEASED,
        Effect::OutboxExpired { .. } => CONVSTATE_EFFECT_OUTBOX_EXPIRED,
        Effect::InboundFileTooLarge { .. } => CONVSTATE_EFFECT_INBOUND_FILE_TOO_LARGE,
        Effect::TemplateStatusChanged { .. } => CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED,
        Effect::NumberQualityChanged { .. } => CONVSTATE_EFFECT_NUMBER_QUALITY_CHANGED,
        Effect::NumberFlagged { .. } => CONVSTATE_EFFECT_NUMBER_FLAGGED,
        Effect::NumberFlagCleared { .. } => CONVSTATE_EFFECT_NUMBER_FLAG_CLEARED,
        Effect::NumberRestricted { .. } => CONVSTATE_EFFECT_NUMBER_RESTRICTED,
        Effect::NumberRestrictionEnded { .. } => CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED,
        Effect::LimitChanged { .. } => CONVSTATE_EFFECT_LIMIT_CHANGED,
        Effect::MessageFailed { .. } => CONVSTATE_EFFECT_MESSAGE_FAILED,
        Effect::ContactBackedOff { .. } => CONVSTATE_EFFECT_CONTACT_BACKED_OFF,
        Effect::LimitReachedByProvider { .. } => CONVSTATE_EFFECT_LIMIT_REACHED_BY_PROVIDER,
        Effect::TemplateCategoryChanged { .. } => CONVSTATE_EFFECT_TEMPLATE_CATEGORY_CHANGED,
        Effect::ContactLinked { .. } => CONVSTATE_EFFECT_CONTACT_LINKED,
        Effect::TicketAnswered { .. } => CONVSTATE_EFFECT_TICKET_ANSWERED,
        Effect::MessageRepriced { .. } => CONVSTATE_EFFECT_MESSAGE_REPRICED,
        Effect::ContactUnlinked { .. } => CONVSTATE_EFFECT_CONTACT_UNLINKED,
        _ => CONVSTATE_EFFECT_OTHER,
    }
}
