//! The answer to "may I send this now?": a verdict with the numbers behind it, what it costs,
//! and what to do instead.

use serde::{Deserialize, Serialize};

use crate::message::{ContentProblem, MediaKind};
use crate::number::Channel;
use crate::policy::LimitLevel;
use crate::template::{TemplateCategory, TemplateProblem, TemplateStatus};
use crate::time::{Duration, Instant};

/// A send decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Allowed, or denied with a reason.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Whether it is business-initiated (a template outside the window) or a reply.
    pub initiated_by: Initiator,
    /// What the send costs; `None` when denied.
    pub billing: Option<Billing>,
    /// Whether the send took a messaging-limit slot.
    pub consumed_limit_slot: bool,
    /// What the host could do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextAction>,
    /// For `initiate`: which template went out and how many messages are held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation: Option<Initiation>,
}

impl Decision {
    /// Whether the send may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self.verdict, Verdict::Allowed)
    }

    /// The reason for a denial.
    pub fn deny_reason(&self) -> Option<&DenyReason> {
        match &self.verdict {
            Verdict::Allowed => None,
            Verdict::Denied(r) => Some(r),
        }
    }

    pub(crate) fn denied(reason: DenyReason, initiated_by: Initiator) -> Decision {
        let next_action = reason.next_action();
        Decision {
            verdict: Verdict::Denied(reason),
            initiated_by,
            billing: None,
            consumed_limit_slot: false,
            next_action,
            initiation: None,
        }
    }
}

/// Who started the exchange this send belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// A reply inside an open window, or any send on a channel without windows.
    Customer,
    /// A template outside the window: needs consent and counts against limits.
    Business,
}

/// Allowed, or denied with the reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", content = "denial", rename_all = "snake_case")]
pub enum Verdict {
    /// The send may go ahead.
    Allowed,
    /// The send must not go ahead.
    Denied(DenyReason),
}

/// Why a send was denied, with the numbers a host needs to explain it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DenyReason {
    /// Free-form outside the customer service window (§2).
    WindowClosed {
        /// When the window closed; `None` if the contact never wrote.
        window_closed_at: Option<Instant>,
    },
    /// Free-form inside the host's safety margin before the window ends (§2).
    WithinSafetyMargin {
        /// When the window ends.
        window_ends_at: Instant,
        /// The margin asked for.
        margin: Duration,
    },
    /// Groups are only for the unofficial channel (§1).
    GroupNotAllowed {
        /// The number's channel.
        channel: Channel,
    },
    /// Messenger and unofficial channels may only write to contacts who wrote first (§1, §4).
    NoPriorContact {
        /// The number's channel.
        channel: Channel,
    },
    /// Text longer than allowed (§8).
    TooLong {
        /// Which text: `text`, `caption`, `interactive body`, `button title`.
        item: std::borrow::Cow<'static, str>,
        /// The limit.
        limit_chars: u32,
        /// The actual length.
        actual_chars: u64,
    },
    /// File larger than allowed (§8).
    FileTooLarge {
        /// Media kind.
        media: MediaKind,
        /// The limit that applies.
        limit_bytes: u64,
        /// The file's size.
        actual_bytes: u64,
    },
    /// Content that cannot be sent whatever its length (§8): an empty text, an interactive
    /// message without buttons, a location off the globe, a caption Meta would drop.
    InvalidContent {
        /// What is wrong, and with which part.
        #[serde(flatten)]
        problem: ContentProblem,
    },
    /// Too many interactive reply buttons (§8).
    TooManyButtons {
        /// The limit.
        limit: u32,
        /// How many were given.
        actual: u64,
    },
    /// The template's status does not allow sending (§5).
    TemplateNotSendable {
        /// Template name.
        name: String,
        /// Template language.
        language: String,
        /// Its status.
        status: TemplateStatus,
        /// For a timed pause: when it ends.
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<Instant>,
    },
    /// Parameters do not match the template's variables (§5).
    TemplateParams {
        /// What does not match.
        #[serde(flatten)]
        problem: TemplateProblem,
    },
    /// Business-initiated messages need an opt-in record (§9).
    NoOptIn,
    /// The contact stopped marketing messages (§9).
    MarketingStopped {
        /// When they did.
        since: Instant,
    },
    /// No marketing templates to US numbers under this policy (§9).
    MarketingToUsNumber {
        /// From when the rule applies.
        since: Instant,
    },
    /// The same content went to this contact within the duplicate period, or `initiate`
    /// still holds it for the contact (§10).
    Duplicate {
        /// When the identical message was sent, or held by `initiate`.
        previous_at: Instant,
        /// How long that copy makes the message a duplicate: `dedup.content_period` for a
        /// sent one, its hold (`outbox.hold_for`) for a held one.
        period: Duration,
    },
    /// `initiate` found no template to send: the number has no default template.
    NoDefaultTemplate,
    /// The messaging limit is reached for this moving period (§7).
    LimitReached {
        /// The limit in force (unique contacts per period): `Unlimited` when the provider
        /// reported an unlimited limit reached (131064, 131048).
        limit: LimitLevel,
        /// Unique contacts reached in the current period.
        used: u32,
        /// When a new contact next fits: the `limit` view's `next_slot_at` (when enough
        /// counted contacts have left the period, or the expected upgrade of the limit if
        /// that comes first and has room, and no provider block lasts).
        next_slot_at: Instant,
        /// Reached only by the provider's report (131064, 131048): the engine's own count,
        /// `used`, has room (sends the engine never saw count at the provider). Written only
        /// when true.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reported_by_provider: bool,
    },
    /// The provider asked to back off this contact (per-user marketing limit, pair rate).
    ContactBackoff {
        /// The provider error that asked for it.
        code: u32,
        /// Whether only marketing templates are held back.
        marketing_only: bool,
        /// When sending may resume.
        until: Instant,
    },
    /// The provider restricted the number (§6).
    Restricted {
        /// What the restriction bars.
        scope: crate::number::RestrictionScope,
        /// When it ends, if known.
        until: Option<Instant>,
    },
}

/// Declares [`DenyReasonKind`] with its wire names and the list of every kind, from one
/// table, so the list cannot miss a kind.
macro_rules! deny_reason_kinds {
    ($($kind:ident => $name:literal,)*) => {
        /// Which [`DenyReason`] a denial is, without its fields: what a binding maps to its
        /// own stable codes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DenyReasonKind {
            $(
                #[doc = concat!("`", $name, "`")]
                $kind,
            )*
        }

        impl DenyReasonKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [DenyReasonKind] = &[$(DenyReasonKind::$kind,)*];

            /// The wire format's `reason` (`"window_closed"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(DenyReasonKind::$kind => $name,)*
                }
            }

            /// [`DenyReasonKind::name`] NUL-terminated, for C callers.
            pub const fn c_name(self) -> &'static std::ffi::CStr {
                match self {
                    $(DenyReasonKind::$kind => const {
                        match std::ffi::CStr::from_bytes_with_nul(concat!($name, "\0").as_bytes()) {
                            Ok(name) => name,
                            Err(_) => panic!("a wire name without a NUL inside"),
                        }
                    },)*
                }
            }
        }
    };
}

deny_reason_kinds! {
    WindowClosed => "window_closed",
    WithinSafetyMargin => "within_safety_margin",
    GroupNotAllowed => "group_not_allowed",
    NoPriorContact => "no_prior_contact",
    TooLong => "too_long",
    FileTooLarge => "file_too_large",
    TooManyButtons => "too_many_buttons",
    TemplateNotSendable => "template_not_sendable",
    TemplateParams => "template_params",
    NoOptIn => "no_opt_in",
    MarketingStopped => "marketing_stopped",
    MarketingToUsNumber => "marketing_to_us_number",
    Duplicate => "duplicate",
    NoDefaultTemplate => "no_default_template",
    LimitReached => "limit_reached",
    ContactBackoff => "contact_backoff",
    Restricted => "restricted",
    InvalidContent => "invalid_content",
}

impl DenyReason {
    /// Which reason this is, without its fields.
    pub fn kind(&self) -> DenyReasonKind {
        use DenyReasonKind as K;
        match self {
            DenyReason::WindowClosed { .. } => K::WindowClosed,
            DenyReason::WithinSafetyMargin { .. } => K::WithinSafetyMargin,
            DenyReason::GroupNotAllowed { .. } => K::GroupNotAllowed,
            DenyReason::NoPriorContact { .. } => K::NoPriorContact,
            DenyReason::TooLong { .. } => K::TooLong,
            DenyReason::FileTooLarge { .. } => K::FileTooLarge,
            DenyReason::TooManyButtons { .. } => K::TooManyButtons,
            DenyReason::InvalidContent { .. } => K::InvalidContent,
            DenyReason::TemplateNotSendable { .. } => K::TemplateNotSendable,
            DenyReason::TemplateParams { .. } => K::TemplateParams,
            DenyReason::NoOptIn => K::NoOptIn,
            DenyReason::MarketingStopped { .. } => K::MarketingStopped,
            DenyReason::MarketingToUsNumber { .. } => K::MarketingToUsNumber,
            DenyReason::Duplicate { .. } => K::Duplicate,
            DenyReason::NoDefaultTemplate => K::NoDefaultTemplate,
            DenyReason::LimitReached { .. } => K::LimitReached,
            DenyReason::ContactBackoff { .. } => K::ContactBackoff,
            DenyReason::Restricted { .. } => K::Restricted,
        }
    }

    /// The wire format's `reason` (`"window_closed"`).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// The suggested next step for this denial.
    pub fn next_action(&self) -> Option<NextAction> {
        Some(match self {
            DenyReason::WindowClosed { .. } => NextAction::SendTemplate,
            DenyReason::WithinSafetyMargin { .. } => NextAction::SendTemplate,
            DenyReason::GroupNotAllowed { .. } => NextAction::UseAnotherChannel,
            DenyReason::NoPriorContact { .. } => NextAction::WaitForContact,
            DenyReason::TooLong { .. }
            | DenyReason::FileTooLarge { .. }
            | DenyReason::TooManyButtons { .. }
            | DenyReason::InvalidContent { .. }
            | DenyReason::TemplateParams { .. } => NextAction::FixContent,
            DenyReason::TemplateNotSendable {
                until: Some(at), ..
            } => NextAction::RetryAt { at: *at },
            DenyReason::TemplateNotSendable { .. } => NextAction::UseAnotherTemplate,
            DenyReason::NoOptIn => NextAction::RecordOptIn,
            DenyReason::MarketingStopped { .. } | DenyReason::MarketingToUsNumber { .. } => {
                NextAction::UseAnotherTemplate
            }
            DenyReason::Duplicate {
                previous_at,
                period,
            } => NextAction::RetryAt {
                at: previous_at.plus(*period),
            },
            DenyReason::NoDefaultTemplate => NextAction::SetDefaultTemplate,
            DenyReason::LimitReached { next_slot_at, .. } => {
                NextAction::RetryAt { at: *next_slot_at }
            }
            DenyReason::Restricted {
                until: Some(at), ..
            } => NextAction::RetryAt { at: *at },
            DenyReason::Restricted { until: None, .. } => NextAction::UseAnotherChannel,
            DenyReason::ContactBackoff { until, .. } => NextAction::RetryAt { at: *until },
        })
    }
}

/// What the host could do after a denial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NextAction {
    /// Send an approved template instead (or call `initiate`).
    SendTemplate,
    /// Wait until the contact writes first.
    WaitForContact,
    /// Shorten or fix the content.
    FixContent,
    /// Try again at this instant.
    RetryAt {
        /// When.
        at: Instant,
    },
    /// Pick a template that is sendable to this contact.
    UseAnotherTemplate,
    /// Record the contact's opt-in first.
    RecordOptIn,
    /// This channel cannot do it.
    UseAnotherChannel,
    /// Register a default template for the number.
    SetDefaultTemplate,
}

/// Price classification of an allowed send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "charge", rename_all = "snake_case", deny_unknown_fields)]
pub enum Billing {
    /// No charge, and why.
    Free {
        /// Why it is free.
        why: FreeReason,
    },
    /// Charged in a category.
    Charged {
        /// The category.
        category: ChargeCategory,
        /// The price from the policy's rate card, if it has one for this market.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<Price>,
    },
}

/// A price from the rate card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    /// Exact decimal amount.
    pub amount: crate::pricing::Amount,
    /// Currency code.
    pub currency: String,
}

/// Why a send is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreeReason {
    /// A reply inside the customer service window that no model charges.
    ServiceWindow,
    /// The channel is not billed by the platform (unofficial, messenger, email).
    ChannelNotBilled,
    /// Inside an already open (paid) conversation (conversation models).
    InsideConversation,
    /// Opens a free service conversation (conversation model with categories).
    ServiceConversation,
    /// Inside a free entry point window.
    FreeEntryPoint,
    /// A utility template inside an open window (per-message 2025).
    UtilityInWindow,
    /// Within the monthly free service allowance (per-message 2026-10).
    ServiceAllowance,
    /// Held in the pending outbox: nothing is sent now (`initiate` while an opening
    /// template awaits the contact's answer).
    Held,
}

/// Charge categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeCategory {
    /// Marketing templates.
    Marketing,
    /// Utility templates.
    Utility,
    /// Authentication templates.
    Authentication,
    /// Service (free-form) messages.
    Service,
}

impl From<TemplateCategory> for ChargeCategory {
    fn from(c: TemplateCategory) -> Self {
        match c {
            TemplateCategory::Marketing => ChargeCategory::Marketing,
            TemplateCategory::Utility => ChargeCategory::Utility,
            TemplateCategory::Authentication => ChargeCategory::Authentication,
        }
    }
}

/// What `initiate` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Initiation {
    /// The template sent to open the conversation; `None` when the message could be sent
    /// as it is (open window, or a channel without windows).
    pub template: Option<String>,
    /// Its language.
    pub language: Option<String>,
    /// Messages now held in the pending outbox.
    pub held: u32,
}

display_as_wire_name!(FreeReason, ChargeCategory, Initiator);
from_wire_name!(FreeReason, ChargeCategory, Initiator);

impl std::fmt::Display for DenyReason {
    /// The wire format's `reason` (`window_closed`); its fields are the denial's details.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for DenyReasonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One denial of `kind`, its fields arbitrary.
    fn sample(kind: DenyReasonKind) -> DenyReason {
        use DenyReasonKind as K;
        let at = Instant::EPOCH.plus(Duration::from_hours(1));
        match kind {
            K::WindowClosed => DenyReason::WindowClosed {
                window_closed_at: Some(at),
            },
            K::WithinSafetyMargin => DenyReason::WithinSafetyMargin {
                window_ends_at: at,
                margin: Duration::from_hours(1),
            },
            K::GroupNotAllowed => DenyReason::GroupNotAllowed {
                channel: Channel::Official,
            },
            K::NoPriorContact => DenyReason::NoPriorContact {
                channel: Channel::Unofficial,
            },
            K::TooLong => DenyReason::TooLong {
                item: "text".into(),
                limit_chars: 4096,
                actual_chars: 5000,
            },
            K::FileTooLarge => DenyReason::FileTooLarge {
                media: MediaKind::Image,
                limit_bytes: 5,
                actual_bytes: 6,
            },
            K::TooManyButtons => DenyReason::TooManyButtons {
                limit: 3,
                actual: 4,
            },
            K::TemplateNotSendable => DenyReason::TemplateNotSendable {
                name: "welcome".into(),
                language: "en".into(),
                status: TemplateStatus::Pending,
                until: None,
            },
            K::TemplateParams => DenyReason::TemplateParams {
                problem: TemplateProblem::EmptyBody,
            },
            K::NoOptIn => DenyReason::NoOptIn,
            K::MarketingStopped => DenyReason::MarketingStopped { since: at },
            K::MarketingToUsNumber => DenyReason::MarketingToUsNumber { since: at },
            K::Duplicate => DenyReason::Duplicate {
                previous_at: at,
                period: Duration::from_hours(1),
            },
            K::NoDefaultTemplate => DenyReason::NoDefaultTemplate,
            K::LimitReached => DenyReason::LimitReached {
                limit: LimitLevel::Contacts(250),
                used: 250,
                next_slot_at: at,
                reported_by_provider: false,
            },
            K::ContactBackoff => DenyReason::ContactBackoff {
                code: 131049,
                marketing_only: true,
                until: at,
            },
            K::Restricted => DenyReason::Restricted {
                scope: crate::number::RestrictionScope::AllMessages,
                until: None,
            },
            K::InvalidContent => DenyReason::InvalidContent {
                problem: ContentProblem::Empty {
                    item: "text".into(),
                },
            },
        }
    }

    #[test]
    fn every_kind_is_named_as_the_wire_names_it() {
        for &kind in DenyReasonKind::ALL {
            // Each kind's sample is its own variant, so a variant mapped to the wrong kind
            // fails here.
            let reason = sample(kind);
            assert_eq!(reason.kind(), kind);
            let wire = serde_json::to_value(&reason).unwrap();
            assert_eq!(wire["reason"], kind.name(), "{wire}");
            assert_eq!(reason.name(), kind.name());
            assert_eq!(kind.c_name().to_str(), Ok(kind.name()));
        }
    }
}
