//! The rule set as data (RULES.md §12).
//!
//! Every number the engine enforces lives in a [`Policy`]: presets reproduce the platform's
//! eras (`classic`, `cloud-2025`, `cloud-2026-10`), every field can be overridden with a JSON
//! object merged over the preset, and the whole value is serialisable so that a snapshot
//! records the rules it was taken under. No rule number appears anywhere else in the code.

use std::collections::{BTreeMap, BTreeSet};

use serde::{de, Deserialize, Deserializer, Serialize};

use crate::distinct_keys::{DistinctKeys, Twice};
use crate::message::MediaKind;
use crate::number::{Channel, ChannelSet};
use crate::time::{Duration, Instant};
use crate::Error;

/// The most pauses a template pause ladder may have: a bound on policy input, not a rule.
pub(crate) const MAX_LADDER_PAUSES: usize = 16;

/// Names of the built-in presets.
pub const PRESETS: [&str; 3] = ["classic", "cloud-2025", "cloud-2026-10"];

/// A complete rule set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The preset this policy started from (informative).
    pub name: String,
    /// The customer service window (§2).
    pub window: WindowPolicy,
    /// Live chats (§3).
    pub chat: ChatPolicy,
    /// Content limits (§8) and template validation (§5).
    pub content: ContentPolicy,
    /// Template button rules (§5).
    pub buttons: ButtonPolicy,
    /// The pending outbox of `initiate` (§4).
    pub outbox: OutboxPolicy,
    /// Duplicates and idempotency (§10).
    pub dedup: DedupPolicy,
    /// Consent (§9).
    pub consent: ConsentPolicy,
    /// Template quality transitions and edits (§5).
    pub templates: TemplatePolicy,
    /// Number quality and restrictions (§6).
    pub numbers: NumberPolicy,
    /// Messaging limits (§7).
    pub limits: LimitPolicy,
    /// Pricing (§11).
    pub pricing: PricingPolicy,
    /// How provider reports (statuses, errors) correct the engine (§10, webhooks).
    pub provider: ProviderPolicy,
}

/// What the engine does with provider statuses and errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPolicy {
    /// How long sent-message and inbound ids are remembered for matching and de-duplication
    /// (provider webhooks are retried for up to 7 days).
    pub status_memory: Duration,
    /// After a per-user marketing limit error (Meta 131049), no marketing template to that
    /// contact for this long (24h).
    pub marketing_backoff: Duration,
    /// After a pair rate limit error (Meta 131056), nothing to that contact for this long.
    pub pair_rate_backoff: Duration,
    /// A failed business-initiated send no longer counts its contact against the limit (a
    /// limit that counts delivered messages only): the contact frees its slot when none of
    /// its counted sends is left that has not failed.
    pub release_failed_sends: bool,
}

/// §5: what low quality does to a template, and how often it may be edited.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatePolicy {
    /// The quality transition variant.
    pub quality_rule: TemplateQualityRule,
    /// A flagged template is disabled this long after being flagged, unless its quality
    /// recovers first (a provider disable date wins).
    pub flag_for: Duration,
    /// Edits of approved templates.
    pub edits: EditRule,
}

/// The two template quality variants of §5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemplateQualityRule {
    /// Classic: low quality flags the template; recovery before the deadline approves it,
    /// the deadline disables it.
    FlagThenDisable,
    /// Newer: each low-quality event pauses an approved template for the next length in
    /// `pauses`; one more after the last pause disables it.
    PauseLadder {
        /// Pause lengths, first strike first (3h, 6h).
        pauses: Vec<Duration>,
    },
}

/// Whether and how often an approved template may be edited (§5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EditRule {
    /// Approved templates cannot be edited (classic).
    Never,
    /// At most `max_edits` per `period`, and at most one per `min_interval`.
    Limited {
        /// Edits allowed per period (10).
        max_edits: u32,
        /// The period (30 days).
        period: Duration,
        /// Least time between two edits (24h).
        min_interval: Duration,
    },
}

/// §6: number quality flags and restrictions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberPolicy {
    /// A number flagged for low quality has this long to recover (7 days).
    pub flag_for: Duration,
    /// Limit levels lost when the flag deadline passes (1).
    pub downgrade_levels: u32,
    /// Length of a bar on business-initiated messages whose provider event gives no expiry:
    /// `Some(24h)` in the classic rules; `None` means it lasts until lifted (as every other
    /// scope without an expiry does).
    pub restriction_default_length: Option<Duration>,
}

impl NumberPolicy {
    /// When a restriction of `scope` reported at `at` ends: at `until` when the provider
    /// gives one; without it, a bar on business-initiated messages lasts the default length
    /// from the report's own instant (so a late or repeated report gives the same end), and
    /// any other, or one reported `until_lifted`, until lifted (`None`).
    pub(crate) fn restriction_end(
        &self,
        scope: crate::number::RestrictionScope,
        at: Instant,
        until: Option<Instant>,
        until_lifted: bool,
    ) -> Option<Instant> {
        match (until, until_lifted, scope) {
            (Some(until), ..) => Some(until),
            (None, false, crate::number::RestrictionScope::BusinessInitiated) => {
                self.restriction_default_length.map(|d| at.plus(d))
            }
            (None, ..) => None,
        }
    }
}

/// A messaging limit level: a number of unique contacts, or unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LimitLevel {
    /// At most this many unique contacts per moving window.
    Contacts(u32),
    /// No cap.
    Unlimited,
}

impl LimitLevel {
    /// Whether a new contact fits beside `counted` contacts under this level.
    pub(crate) fn has_room(self, counted: u32) -> bool {
        match self {
            LimitLevel::Contacts(limit) => counted < limit,
            LimitLevel::Unlimited => true,
        }
    }
}

impl Serialize for LimitLevel {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LimitLevel::Contacts(n) => s.serialize_u32(*n),
            LimitLevel::Unlimited => s.serialize_str("unlimited"),
        }
    }
}

impl<'de> Deserialize<'de> for LimitLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<LimitLevel, D::Error> {
        // Every JSON value is read, so that a refusal says what a level is (the untagged
        // enum's own error named no field and no range).
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Whole(u64),
            Negative(i64),
            Fraction(f64),
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        let refuse = |given: String| {
            serde::de::Error::custom(format!(
                "expected a whole number of contacts (0..={}) or \"unlimited\", got {given}",
                u32::MAX
            ))
        };
        match Raw::deserialize(d)? {
            Raw::Whole(n) => u32::try_from(n)
                .map(LimitLevel::Contacts)
                .map_err(|_| refuse(n.to_string())),
            Raw::Text(t) if t == "unlimited" => Ok(LimitLevel::Unlimited),
            Raw::Text(t) => Err(refuse(format!("{t:?}"))),
            Raw::Negative(n) => Err(refuse(n.to_string())),
            Raw::Fraction(x) => Err(refuse(format!("{x:?}"))),
            Raw::Other(_) => Err(refuse("another kind of value".into())),
        }
    }
}

impl std::fmt::Display for LimitLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitLevel::Contacts(n) => write!(f, "{n}"),
            LimitLevel::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// Who shares a messaging limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitScope {
    /// Each number has its own (classic).
    Number,
    /// All numbers of a business share one (newer).
    Business,
}

/// §7: messaging limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitPolicy {
    /// Per number or per business.
    pub scope: LimitScope,
    /// Levels, lowest first; new numbers or businesses start at the first.
    pub levels: Vec<LimitLevel>,
    /// The moving period the limit counts unique contacts over (24h).
    pub window: Duration,
    /// How a limit goes up.
    pub upgrade: UpgradeRule,
}

/// The two upgrade rules of §7.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum UpgradeRule {
    /// Classic: unique contacts over `lookback` reach `percent`% of the limit (200), and the
    /// level has been held for `min_time_at_level` (48h).
    Reach {
        /// Threshold as a percentage of the current limit.
        percent: u32,
        /// The period unique contacts are counted over (7 days).
        lookback: Duration,
        /// Least time at a level before the next.
        min_time_at_level: Duration,
    },
    /// Newer: unique contacts over `lookback` reach `percent`% of the limit (50); the
    /// upgrade applies `apply_after` later (6h) if quality is still not low.
    ReachThenWait {
        /// Threshold as a percentage of the current limit.
        percent: u32,
        /// The period unique contacts are counted over (7 days).
        lookback: Duration,
        /// Delay before the upgrade applies.
        apply_after: Duration,
    },
}

/// §11: the pricing models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingModel {
    /// Conversation-based (2022): a business-initiated template opens a paid conversation of
    /// its category; everything inside it, and every reply in a service window, is free.
    Conversation,
    /// Conversation-based with four categories and free entry points (2023–2025).
    ConversationCategories,
    /// Per delivered template (from 2025-07-01); utility free inside an open window.
    #[serde(rename = "per_message_2025")]
    PerMessage2025,
    /// Per message from 2026-10-01: service messages charged after a monthly free allowance
    /// per number; utility inside the window charged.
    #[serde(rename = "per_message_2026")]
    PerMessage2026,
}

/// §11: pricing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricingPolicy {
    /// The model.
    pub model: PricingModel,
    /// Length of a paid conversation (conversation models).
    pub conversation_length: Duration,
    /// Length of a free entry point window, `None` where there is none.
    pub free_entry_point: Option<Duration>,
    /// The business must answer a referral within this long for a free entry point.
    pub free_entry_point_reply_within: Duration,
    /// Free service messages per calendar month (in the business's time zone, UTC unless
    /// its numbers were registered with one), where charged: per number, or shared by a
    /// business's numbers ([`PricingPolicy::service_allowance_scope`]).
    pub service_free_per_month: u32,
    /// Who has the monthly free service messages: each number its own (the default: "every
    /// business phone number will receive 1,000") or a business's numbers together (one
    /// provider says "per WhatsApp Business Account"; facts §2.5 marks the scope
    /// unconfirmed). Absent from policies saved before it was kept: per number.
    #[serde(default)]
    pub service_allowance_scope: AllowanceScope,
    /// Optional rate card for cost totals.
    pub rate_card: Option<crate::pricing::RateCard>,
}

/// Who has a monthly allowance of free messages (§11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowanceScope {
    /// Each number its own.
    #[default]
    Number,
    /// A business's numbers together.
    Business,
}

/// §2: the customer service window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowPolicy {
    /// How long an inbound message keeps the window open (24h).
    pub length: Duration,
    /// Free-form sends are refused in this last part of the window (default 0).
    pub safety_margin: Duration,
    /// Emit `window_closing_soon` this long before the end (default off).
    pub reminder_lead: Option<Duration>,
    /// Whether an inbound reaction opens the window (Meta does not document it: off).
    pub reaction_opens_window: bool,
    /// A `request_welcome` inbound (the contact opened the chat for the first time, with the
    /// number's welcome messages on) dated before this instant opens the window as a user's
    /// message does; at or after it, it opens nothing (`None`: never). Meta's
    /// conversational-components doc said the webhook "triggers a customer service window";
    /// the feature was removed on 2026-03-27 (facts §1.1). Absent from policies saved before
    /// it was kept: that date.
    #[serde(default = "request_welcome_until")]
    pub request_welcome_until: Option<Instant>,
}

impl WindowPolicy {
    /// Whether a free-form message may go out at `at` in a window ending at `end`: before
    /// the safety margin (§2). What sends, releases held messages and judges them
    /// released all ask this one question.
    pub fn free_form_fits(&self, end: Instant, at: Instant) -> bool {
        at < end.minus(self.safety_margin)
    }

    /// Whether a `request_welcome` dated `at` opens the window: before
    /// [`WindowPolicy::request_welcome_until`], never when it is `None`.
    pub fn request_welcome_opens(&self, at: Instant) -> bool {
        self.request_welcome_until.is_some_and(|end| at < end)
    }
}

/// §3: live chats.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatPolicy {
    /// A chat ends after this long with nobody writing, unless the number overrides it.
    pub idle_timeout: Duration,
}

/// §8 and the length rules of §5.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentPolicy {
    /// The channels whose sends and inbound files the size limits below bind (§8 gives
    /// WhatsApp's): not email, whose messages are as long as its provider takes. Off them a
    /// send is still refused for what no channel can send (an empty text, a button title
    /// given twice). Absent from policies saved before it was kept: official, unofficial
    /// and messenger.
    #[serde(default = "limited_channels")]
    pub limited_channels: ChannelSet,
    /// Longest free-form text, in characters.
    pub text_max_chars: u32,
    /// Longest media caption, in characters.
    pub caption_max_chars: u32,
    /// Longest template body, in characters.
    pub template_body_max_chars: u32,
    /// Longest template header, in characters.
    pub template_header_max_chars: u32,
    /// Most variables in a template's text header (Meta: one). Absent from policies saved
    /// before it was kept: then 1.
    #[serde(default = "one_header_variable")]
    pub template_header_max_variables: u32,
    /// Longest template footer, in characters.
    pub template_footer_max_chars: u32,
    /// Most characters a send's body parameters hold together (Meta: 32,768). Absent from
    /// policies saved before it was kept: then 32,768.
    #[serde(default = "template_params_max_chars")]
    pub template_params_max_chars: u32,
    /// Largest inbound file, in bytes.
    pub inbound_file_max_bytes: u64,
    /// Largest outbound file when neither provider nor media kind says otherwise.
    pub outbound_file_max_bytes: u64,
    /// Provider-specific outbound file limits (e.g. `twilio`).
    pub outbound_file_max_bytes_by_provider: BTreeMap<String, u64>,
    /// Media-specific outbound file limits; the smallest applicable limit wins.
    #[serde(deserialize_with = "enum_keyed")]
    pub outbound_file_max_bytes_by_media: BTreeMap<MediaKind, u64>,
    /// Animated stickers have their own limit where media limits apply.
    pub animated_sticker_max_bytes: Option<u64>,
    /// Longest body of a free-form interactive message, in characters (Meta: 1,024). Absent
    /// from policies saved before it was kept: then 1,024 (it was the caption's limit).
    #[serde(default = "interactive_body_max_chars")]
    pub interactive_body_max_chars: u32,
    /// Most reply buttons on a free-form interactive message.
    pub interactive_buttons_max: u32,
    /// Longest reply button title.
    pub interactive_button_title_max_chars: u32,
    /// Interactive lists (facts §6). Absent from policies saved before they were kept:
    /// Meta's limits.
    #[serde(default)]
    pub list: ListLimits,
    /// Interactive call-to-action URL messages (facts §6). Absent from policies saved before
    /// they were kept: Meta's limits.
    #[serde(default)]
    pub cta_url: CtaUrlLimits,
    /// Media kinds whose messages carry no caption on the official channel (Meta: audio and
    /// stickers): a caption on one is denied `invalid_content`, since its words would not
    /// arrive. Absent from policies saved before it was kept: audio and stickers.
    #[serde(default = "captionless_media")]
    pub captionless_media: BTreeSet<MediaKind>,
}

/// An interactive list's limits (facts §6), in characters unless counted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListLimits {
    /// Longest header (60).
    pub header_max_chars: u32,
    /// Longest body (4,096).
    pub body_max_chars: u32,
    /// Longest footer (60).
    pub footer_max_chars: u32,
    /// Longest text of the button that opens the list (20).
    pub button_max_chars: u32,
    /// Most sections (10).
    pub sections_max: u32,
    /// Most rows, all sections together (10).
    pub rows_max: u32,
    /// Longest section title (24).
    pub section_title_max_chars: u32,
    /// Longest row title (24).
    pub row_title_max_chars: u32,
    /// Longest row description (72).
    pub row_description_max_chars: u32,
    /// Longest row id (200).
    pub row_id_max_chars: u32,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            header_max_chars: 60,
            body_max_chars: 4096,
            footer_max_chars: 60,
            button_max_chars: 20,
            sections_max: 10,
            rows_max: 10,
            section_title_max_chars: 24,
            row_title_max_chars: 24,
            row_description_max_chars: 72,
            row_id_max_chars: 200,
        }
    }
}

/// An interactive call-to-action URL message's limits (facts §6), in characters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaUrlLimits {
    /// Longest header (60).
    pub header_max_chars: u32,
    /// Longest body (1,024).
    pub body_max_chars: u32,
    /// Longest footer (60).
    pub footer_max_chars: u32,
    /// Longest button text (20).
    pub display_text_max_chars: u32,
    /// Longest address (2,000, as a template's URL button takes).
    pub url_max_chars: u32,
}

impl Default for CtaUrlLimits {
    fn default() -> Self {
        CtaUrlLimits {
            header_max_chars: 60,
            body_max_chars: 1024,
            footer_max_chars: 60,
            display_text_max_chars: 20,
            url_max_chars: 2000,
        }
    }
}

fn request_welcome_until() -> Option<Instant> {
    Instant::from_unix_millis(REQUEST_WELCOME_REMOVED_MS).ok()
}

fn one_header_variable() -> u32 {
    1
}

fn template_params_max_chars() -> u32 {
    32_768
}

fn interactive_body_max_chars() -> u32 {
    1024
}

fn phone_button_max_chars() -> u32 {
    20
}

/// The content limits on a channel they do not bind (`ContentPolicy::limited_channels`):
/// none.
static UNLIMITED_CONTENT: ContentPolicy = ContentPolicy {
    limited_channels: ChannelSet::of(&[]),
    text_max_chars: u32::MAX,
    caption_max_chars: u32::MAX,
    template_body_max_chars: u32::MAX,
    template_header_max_chars: u32::MAX,
    template_header_max_variables: u32::MAX,
    template_footer_max_chars: u32::MAX,
    template_params_max_chars: u32::MAX,
    inbound_file_max_bytes: u64::MAX,
    outbound_file_max_bytes: u64::MAX,
    outbound_file_max_bytes_by_provider: BTreeMap::new(),
    outbound_file_max_bytes_by_media: BTreeMap::new(),
    animated_sticker_max_bytes: None,
    interactive_body_max_chars: u32::MAX,
    interactive_buttons_max: u32::MAX,
    interactive_button_title_max_chars: u32::MAX,
    list: ListLimits {
        header_max_chars: u32::MAX,
        body_max_chars: u32::MAX,
        footer_max_chars: u32::MAX,
        button_max_chars: u32::MAX,
        sections_max: u32::MAX,
        rows_max: u32::MAX,
        section_title_max_chars: u32::MAX,
        row_title_max_chars: u32::MAX,
        row_description_max_chars: u32::MAX,
        row_id_max_chars: u32::MAX,
    },
    cta_url: CtaUrlLimits {
        header_max_chars: u32::MAX,
        body_max_chars: u32::MAX,
        footer_max_chars: u32::MAX,
        display_text_max_chars: u32::MAX,
        url_max_chars: u32::MAX,
    },
    captionless_media: BTreeSet::new(),
};

fn limited_channels() -> ChannelSet {
    ChannelSet::of(&[Channel::Official, Channel::Unofficial, Channel::Messenger])
}

fn captionless_media() -> BTreeSet<MediaKind> {
    BTreeSet::from([MediaKind::Audio, MediaKind::Sticker])
}

/// §5: which button combinations a template may have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonPolicy {
    /// The combination rule.
    pub rule: ButtonRule,
    /// Longest button label, in characters.
    pub label_max_chars: u32,
    /// Longest phone number of a phone button, in characters as written (Meta: 20). Absent
    /// from policies saved before it was kept: then 20.
    #[serde(default = "phone_button_max_chars")]
    pub phone_max_chars: u32,
}

/// The two eras of template button rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ButtonRule {
    /// Classic: quick replies or calls to action, never both.
    Exclusive {
        /// Most quick-reply buttons.
        quick_reply_max: u32,
        /// Most call-to-action buttons (URL + phone).
        call_to_action_max: u32,
        /// Most URL buttons among the calls to action.
        url_max: u32,
        /// Most phone buttons among the calls to action.
        phone_max: u32,
    },
    /// Newer: a total, per-kind maxima, quick replies grouped together.
    Grouped {
        /// Most buttons of any kind.
        total_max: u32,
        /// Most URL buttons.
        url_max: u32,
        /// Most phone-number buttons.
        phone_max: u32,
        /// Most copy-code buttons.
        copy_code_max: u32,
    },
}

/// §4: the pending outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxPolicy {
    /// Held messages expire after this long (7 days).
    pub hold_for: Duration,
}

/// §10: duplicates and idempotency keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupPolicy {
    /// Identical content to the same contact within this period is a duplicate (24h).
    pub content_period: Duration,
    /// How long an idempotency key is remembered (24h).
    pub idempotency_key_ttl: Duration,
}

/// §9: consent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentPolicy {
    /// Business-initiated messages need an opt-in record.
    pub require_opt_in: bool,
    /// From this instant, no marketing templates to US numbers (`None`: never).
    pub us_marketing_blocked_from: Option<Instant>,
}

impl Policy {
    /// The content limits a number of `channel` is held to: `content`, or none on a channel
    /// they do not bind (`content.limited_channels`: not email, by default).
    pub(crate) fn content_on(&self, channel: Channel) -> &ContentPolicy {
        match self.content.limited_channels.contains(channel) {
            true => &self.content,
            false => &UNLIMITED_CONTENT,
        }
    }

    /// Where this policy and `other` differ, for people, the first few fields (the name too,
    /// when that differs), each value labelled by `labels` (this one's, the other's):
    /// `chat.idle_timeout: saved "15m", asked "10m"`.
    pub fn differences(&self, other: &Policy, labels: (&str, &str)) -> String {
        const SHOWN: usize = 3;
        let (Ok(this), Ok(that)) = (serde_json::to_value(self), serde_json::to_value(other)) else {
            return "the policies differ".to_owned();
        };
        let mut fields = Vec::new();
        differing_fields(&this, &that, String::new(), &mut fields);
        let mut differences: Vec<String> = fields
            .into_iter()
            .map(|(path, a, b)| format!("{path}: {} {a}, {} {b}", labels.0, labels.1))
            .collect();
        let more = differences.len().saturating_sub(SHOWN);
        differences.truncate(SHOWN);
        let mut text = differences.join("; ");
        if more > 0 {
            text.push_str(&format!("; {more} more"));
        }
        text
    }

    /// The fields this policy sets apart from the preset it is named after (its overrides),
    /// by path (`chat.idle_timeout`; a map key with a dot in it quoted,
    /// `content.outbound_file_max_bytes_by_provider."360.dialog"`), each with the value in
    /// force (`null` for an entry an override dropped), in path order; none when the name is
    /// no preset this build knows. [`Policy::overrides`] gives them as overrides to pass.
    pub fn overridden_fields(&self) -> Vec<(String, serde_json::Value)> {
        let (Ok(this), Ok(Ok(preset))) = (
            serde_json::to_value(self),
            Policy::preset(&self.name).map(serde_json::to_value),
        ) else {
            return Vec::new();
        };
        let mut fields = Vec::new();
        differing_fields(&this, &preset, String::new(), &mut fields);
        fields.into_iter().map(|(path, a, _)| (path, a)).collect()
    }

    /// The overrides that make this policy from the preset it is named after:
    /// [`Policy::with_overrides`] given its name and them reads it back. Each section that
    /// differs (`chat`, `buttons`...) is given whole: a field path cannot carry a tagged rule
    /// whose kind changed (`buttons.rule`) nor a map key with a dot in it (`"360.dialog"`).
    /// Empty for a preset as it is, and the whole policy when the name is no preset.
    pub fn overrides(&self) -> serde_json::Map<String, serde_json::Value> {
        let sections = |policy: &Policy| match serde_json::to_value(policy) {
            Ok(serde_json::Value::Object(sections)) => sections,
            _ => serde_json::Map::new(),
        };
        let preset = Policy::preset(&self.name).map(|p| sections(&p)).ok();
        let mut overrides = sections(self);
        overrides.retain(|key, value| {
            key != "name" && preset.as_ref().is_none_or(|p| p.get(key) != Some(value))
        });
        overrides
    }

    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Policy, Error> {
        let classic = Policy {
            name: "classic".into(),
            window: WindowPolicy {
                length: Duration::from_hours(24),
                safety_margin: Duration::ZERO,
                reminder_lead: None,
                reaction_opens_window: false,
                request_welcome_until: Some(Instant::from_unix_millis(REQUEST_WELCOME_REMOVED_MS)?),
            },
            chat: ChatPolicy {
                idle_timeout: Duration::from_mins(10),
            },
            content: ContentPolicy {
                limited_channels: limited_channels(),
                text_max_chars: 1000,
                caption_max_chars: 1024,
                template_body_max_chars: 1024,
                template_header_max_chars: 60,
                template_header_max_variables: 1,
                template_footer_max_chars: 60,
                template_params_max_chars: template_params_max_chars(),
                inbound_file_max_bytes: 25 * MB,
                outbound_file_max_bytes: 20 * MB,
                outbound_file_max_bytes_by_provider: BTreeMap::from([("twilio".into(), 16 * MB)]),
                outbound_file_max_bytes_by_media: BTreeMap::new(),
                animated_sticker_max_bytes: None,
                interactive_body_max_chars: interactive_body_max_chars(),
                list: ListLimits::default(),
                cta_url: CtaUrlLimits::default(),
                interactive_buttons_max: 3,
                interactive_button_title_max_chars: 20,
                captionless_media: captionless_media(),
            },
            buttons: ButtonPolicy {
                rule: ButtonRule::Exclusive {
                    quick_reply_max: 3,
                    call_to_action_max: 2,
                    url_max: 1,
                    phone_max: 1,
                },
                label_max_chars: 20,
                phone_max_chars: phone_button_max_chars(),
            },
            outbox: OutboxPolicy {
                hold_for: Duration::from_days(7),
            },
            dedup: DedupPolicy {
                content_period: Duration::from_hours(24),
                idempotency_key_ttl: Duration::from_hours(24),
            },
            consent: ConsentPolicy {
                require_opt_in: true,
                us_marketing_blocked_from: None,
            },
            templates: TemplatePolicy {
                quality_rule: TemplateQualityRule::FlagThenDisable,
                flag_for: Duration::from_days(7),
                edits: EditRule::Never,
            },
            numbers: NumberPolicy {
                flag_for: Duration::from_days(7),
                downgrade_levels: 1,
                restriction_default_length: Some(Duration::from_hours(24)),
            },
            limits: LimitPolicy {
                scope: LimitScope::Number,
                levels: vec![
                    LimitLevel::Contacts(1_000),
                    LimitLevel::Contacts(10_000),
                    LimitLevel::Contacts(100_000),
                    LimitLevel::Unlimited,
                ],
                window: Duration::from_hours(24),
                upgrade: UpgradeRule::Reach {
                    percent: 200,
                    lookback: Duration::from_days(7),
                    min_time_at_level: Duration::from_hours(48),
                },
            },
            pricing: PricingPolicy {
                model: PricingModel::Conversation,
                conversation_length: Duration::from_hours(24),
                free_entry_point: None,
                free_entry_point_reply_within: Duration::from_hours(24),
                service_free_per_month: 0,
                service_allowance_scope: AllowanceScope::Number,
                rate_card: None,
            },
            provider: ProviderPolicy {
                status_memory: Duration::from_days(7),
                marketing_backoff: Duration::from_hours(24),
                pair_rate_backoff: Duration::from_secs(6),
                release_failed_sends: false,
            },
        };
        let cloud_2025 = Policy {
            name: "cloud-2025".into(),
            content: ContentPolicy {
                text_max_chars: 4096,
                inbound_file_max_bytes: 100 * MB,
                outbound_file_max_bytes: 100 * MB,
                outbound_file_max_bytes_by_provider: BTreeMap::new(),
                outbound_file_max_bytes_by_media: BTreeMap::from([
                    (MediaKind::Image, 5 * MB),
                    (MediaKind::Video, 16 * MB),
                    (MediaKind::Audio, 16 * MB),
                    (MediaKind::Document, 100 * MB),
                    (MediaKind::Sticker, 100 * KB),
                ]),
                animated_sticker_max_bytes: Some(500 * KB),
                ..classic.content.clone()
            },
            buttons: ButtonPolicy {
                rule: ButtonRule::Grouped {
                    total_max: 10,
                    url_max: 2,
                    phone_max: 1,
                    copy_code_max: 1,
                },
                label_max_chars: 25,
                phone_max_chars: phone_button_max_chars(),
            },
            consent: ConsentPolicy {
                require_opt_in: true,
                us_marketing_blocked_from: Some(Instant::from_unix_millis(US_MARKETING_BLOCK_MS)?),
            },
            templates: TemplatePolicy {
                quality_rule: TemplateQualityRule::PauseLadder {
                    pauses: vec![Duration::from_hours(3), Duration::from_hours(6)],
                },
                flag_for: Duration::from_days(7),
                edits: EditRule::Limited {
                    max_edits: 10,
                    period: Duration::from_days(30),
                    min_interval: Duration::from_hours(24),
                },
            },
            numbers: NumberPolicy {
                restriction_default_length: None,
                ..classic.numbers.clone()
            },
            limits: LimitPolicy {
                scope: LimitScope::Business,
                levels: vec![
                    LimitLevel::Contacts(250),
                    LimitLevel::Contacts(2_000),
                    LimitLevel::Contacts(10_000),
                    LimitLevel::Contacts(100_000),
                    LimitLevel::Unlimited,
                ],
                window: Duration::from_hours(24),
                upgrade: UpgradeRule::ReachThenWait {
                    percent: 50,
                    lookback: Duration::from_days(7),
                    apply_after: Duration::from_hours(6),
                },
            },
            pricing: PricingPolicy {
                model: PricingModel::PerMessage2025,
                free_entry_point: Some(Duration::from_hours(72)),
                ..classic.pricing.clone()
            },
            ..classic.clone()
        };
        match name {
            "classic" => Ok(classic),
            "cloud-2025" => Ok(cloud_2025),
            "cloud-2026-10" => Ok(Policy {
                name: "cloud-2026-10".into(),
                pricing: PricingPolicy {
                    model: PricingModel::PerMessage2026,
                    service_free_per_month: 1_000,
                    ..cloud_2025.pricing.clone()
                },
                ..cloud_2025
            }),
            other => Err(Error::UnknownPolicy {
                name: other.to_owned(),
                known: PRESETS.join(", "),
            }),
        }
    }

    /// The sections of `other` that differ from this policy's, `pricing` (and the name) left
    /// out: what a running engine cannot change ([`crate::Engine::change_policy`]).
    pub(crate) fn sections_other_than_pricing_differing(
        &self,
        other: &Policy,
    ) -> Vec<&'static str> {
        let Policy {
            name: _,
            pricing: _,
            window,
            chat,
            content,
            buttons,
            outbox,
            dedup,
            consent,
            templates,
            numbers,
            limits,
            provider,
        } = self;
        [
            ("window", *window != other.window),
            ("chat", *chat != other.chat),
            ("content", *content != other.content),
            ("buttons", *buttons != other.buttons),
            ("outbox", *outbox != other.outbox),
            ("dedup", *dedup != other.dedup),
            ("consent", *consent != other.consent),
            ("templates", *templates != other.templates),
            ("numbers", *numbers != other.numbers),
            ("limits", *limits != other.limits),
            ("provider", *provider != other.provider),
        ]
        .into_iter()
        .filter_map(|(section, differs)| differs.then_some(section))
        .collect()
    }

    /// A preset with a JSON object of overrides merged over it, field by field
    /// (`{"chat": {"idle_timeout": "15m"}}`). Unknown fields and wrong types are errors.
    pub fn with_overrides(name: &str, overrides: &serde_json::Value) -> Result<Policy, Error> {
        // Anything else would replace the whole policy and be refused for a field of it
        // (`field "[0]"` for an array), naming the wrong fault.
        if !overrides.is_object() {
            return Err(Error::InvalidPolicy {
                problem: format!(
                    "overrides must be a JSON object of the fields to change, got {}",
                    json_kind(overrides)
                ),
            });
        }
        // The name says which preset the rules start from (saved states, exports and views
        // show it): renamed, a policy would pass for another.
        if let Some(renamed) = overrides.get("name").filter(|given| *given != name) {
            return Err(Error::InvalidPolicy {
                problem: format!(
                    "field \"name\": the policy keeps its preset's name {name:?}, got {renamed}"
                ),
            });
        }
        let mut value =
            serde_json::to_value(Policy::preset(name)?).map_err(|e| Error::InvalidPolicy {
                problem: e.to_string(),
            })?;
        merge(&mut value, overrides, "")?;
        // The path of the field at fault, as the wire's errors name theirs: an override is
        // one field among a hundred.
        let policy: Policy = serde_path_to_error::deserialize(value).map_err(|e| {
            let problem = match e.path().to_string() {
                path if path == "." => e.inner().to_string(),
                path => format!("field \"{path}\": {}", e.inner()),
            };
            Error::InvalidPolicy { problem }
        })?;
        policy.validate_new()?;
        Ok(policy)
    }

    /// Checks the invariants the engine relies on: at least one limit level, levels strictly
    /// increasing, a positive window length with a safety margin and a reminder lead shorter
    /// than it, at least one edit allowed by a limited edit rule.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |problem: String| Err(Error::InvalidPolicy { problem });
        if self.limits.levels.is_empty() {
            return invalid("limits.levels must name at least one level".into());
        }
        // Name the pair at fault: an override replaces the whole array.
        if let Some(i) = self.limits.levels.windows(2).position(|w| w[0] >= w[1]) {
            let levels = &self.limits.levels;
            return invalid(format!(
                "limits.levels[{}] ({}) must be above limits.levels[{i}] ({}): \
                 levels are strictly increasing",
                i + 1,
                levels[i + 1],
                levels[i]
            ));
        }
        // A level of no contact would deny every business-initiated send with a next slot
        // that never comes (a retry loop for the host); barring a number is a restriction.
        if self.limits.levels[0] == LimitLevel::Contacts(0) {
            return invalid(
                "limits.levels[0] is 0: a level must allow at least 1 new contact \
                 (to bar business-initiated messages, report a number_restriction)"
                    .into(),
            );
        }
        if self.window.length == Duration::ZERO {
            return invalid("window.length must be positive".into());
        }
        if self.limits.window == Duration::ZERO {
            return invalid("limits.window must be positive".into());
        }
        // A margin of the whole window refuses every free-form reply while the window is open.
        let length = self.window.length;
        if self.window.safety_margin >= length {
            return invalid(format!(
                "window.safety_margin ({}) must be shorter than window.length ({length}): \
                 free-form sends are refused in the margin, so none would be allowed",
                self.window.safety_margin
            ));
        }
        // A lead of the whole window reminds as the window opens; a lead of zero is due at the
        // end, when the window is closed, and never reminds.
        if let Some(lead) = self.window.reminder_lead {
            if lead == Duration::ZERO || lead >= length {
                return invalid(format!(
                    "window.reminder_lead ({lead}) must be positive and shorter than \
                     window.length ({length}); null turns the reminder off"
                ));
            }
        }
        // A chat that goes idle as it starts ends missed, answered or not.
        if self.chat.idle_timeout == Duration::ZERO {
            return invalid("chat.idle_timeout must be positive".into());
        }
        if let TemplateQualityRule::PauseLadder { pauses } = &self.templates.quality_rule {
            if pauses.len() > MAX_LADDER_PAUSES {
                return invalid(format!(
                    "templates.quality_rule.pauses has {} entries, at most {MAX_LADDER_PAUSES}",
                    pauses.len()
                ));
            }
            // A pause of no length ends as it starts: a strike reported as a pause that never
            // held a send back. Fewer pauses make the ladder disable sooner.
            if let Some(i) = pauses.iter().position(|p| *p == Duration::ZERO) {
                return invalid(format!(
                    "templates.quality_rule.pauses[{i}] must be positive \
                     (to disable sooner, give fewer pauses)"
                ));
            }
        }
        // Held messages wait for the contact's answer (§4): held for no time, they expire
        // as `initiate` holds them and are never released.
        if self.outbox.hold_for == Duration::ZERO {
            return invalid(
                "outbox.hold_for must be positive: a held message would expire as it is held"
                    .into(),
            );
        }
        // A restriction of no length ends as it starts: an end its own event is refused for.
        if self.numbers.restriction_default_length == Some(Duration::ZERO) {
            return invalid(
                "numbers.restriction_default_length must be positive; null: until lifted".into(),
            );
        }
        // Message ids forgotten at once de-duplicate nothing: a webhook delivered again is
        // handled again, and no status finds its send (§10).
        if self.provider.status_memory == Duration::ZERO {
            return invalid(
                "provider.status_memory must be positive: \
                 a provider event delivered again would be handled again"
                    .into(),
            );
        }
        // A key forgotten at once answers no retry with the first decision (§10).
        if self.dedup.idempotency_key_ttl == Duration::ZERO {
            return invalid(
                "dedup.idempotency_key_ttl must be positive: \
                 a retry would not get the first decision"
                    .into(),
            );
        }
        if let EditRule::Limited { max_edits: 0, .. } = self.templates.edits {
            return invalid(
                "templates.edits.max_edits must be at least 1; \
                 {\"kind\":\"never\"} forbids edits"
                    .into(),
            );
        }
        if let Some(card) = &self.pricing.rate_card {
            card.validate()
                .map_err(|problem| Error::InvalidPolicy { problem })?;
        }
        Ok(())
    }

    /// [`Policy::validate`] and the settings that decide nothing, which a new policy (a
    /// preset with overrides, a policy a host builds) is refused for. Saved states and
    /// exports are held to [`Policy::validate`] alone: these checks came later, and a state
    /// saved under such a setting must still restore (its checksum keeps it from being
    /// mended by hand).
    pub fn validate_new(&self) -> Result<(), Error> {
        self.validate()?;
        let invalid = |problem: String| Err(Error::InvalidPolicy { problem });
        // Periods of no length: a flag that disables (or downgrades) as it is raised, a
        // free entry point that frees nothing, a conversation that ends as it opens, an
        // upgrade that counts no contact.
        let (upgrade_lookback, upgrade_percent) = match self.limits.upgrade {
            UpgradeRule::Reach {
                percent, lookback, ..
            }
            | UpgradeRule::ReachThenWait {
                percent, lookback, ..
            } => (lookback, percent),
        };
        for (name, period) in [
            ("templates.flag_for", self.templates.flag_for),
            ("numbers.flag_for", self.numbers.flag_for),
            ("limits.upgrade.lookback", upgrade_lookback),
            (
                "pricing.conversation_length",
                self.pricing.conversation_length,
            ),
            (
                "pricing.free_entry_point_reply_within",
                self.pricing.free_entry_point_reply_within,
            ),
        ] {
            if period == Duration::ZERO {
                return invalid(format!("{name} must be positive"));
            }
        }
        if self.pricing.free_entry_point == Some(Duration::ZERO) {
            return invalid(
                "pricing.free_entry_point must be positive; null: no free entry points".into(),
            );
        }
        // Edits are remembered for the period only (§5): a period of nothing remembers none,
        // and an interval longer than the period forgets the edit it waits from.
        if let EditRule::Limited {
            period,
            min_interval,
            ..
        } = self.templates.edits
        {
            if period == Duration::ZERO {
                return invalid(
                    "templates.edits.period must be positive; {\"kind\":\"never\"} forbids edits"
                        .into(),
                );
            }
            if min_interval > period {
                return invalid(format!(
                    "templates.edits.min_interval ({min_interval}) must not be longer than \
                     templates.edits.period ({period}): edits are remembered for the period \
                     only, so the interval would not hold"
                ));
            }
        }
        // 0% of the limit is reached by no contact at all: every level would upgrade to the
        // next as soon as it could.
        if upgrade_percent == 0 {
            return invalid(
                "limits.upgrade.percent must be at least 1 (a percentage of the current limit)"
                    .into(),
            );
        }
        // Lengths of nothing refuse every message of their kind: say so rather than refuse
        // them all later.
        let content = &self.content;
        for (name, limit) in [
            ("content.text_max_chars", content.text_max_chars),
            ("content.caption_max_chars", content.caption_max_chars),
            (
                "content.template_body_max_chars",
                content.template_body_max_chars,
            ),
            (
                "content.template_header_max_chars",
                content.template_header_max_chars,
            ),
            (
                "content.template_footer_max_chars",
                content.template_footer_max_chars,
            ),
            (
                "content.template_params_max_chars",
                content.template_params_max_chars,
            ),
            (
                "content.interactive_body_max_chars",
                content.interactive_body_max_chars,
            ),
            (
                "content.interactive_button_title_max_chars",
                content.interactive_button_title_max_chars,
            ),
            ("buttons.label_max_chars", self.buttons.label_max_chars),
            ("buttons.phone_max_chars", self.buttons.phone_max_chars),
            (
                "content.list.header_max_chars",
                content.list.header_max_chars,
            ),
            ("content.list.body_max_chars", content.list.body_max_chars),
            (
                "content.list.footer_max_chars",
                content.list.footer_max_chars,
            ),
            (
                "content.list.button_max_chars",
                content.list.button_max_chars,
            ),
            ("content.list.sections_max", content.list.sections_max),
            ("content.list.rows_max", content.list.rows_max),
            (
                "content.list.section_title_max_chars",
                content.list.section_title_max_chars,
            ),
            (
                "content.list.row_title_max_chars",
                content.list.row_title_max_chars,
            ),
            // Optional like a caption: at 0 every row given a description is refused, and
            // an empty one is `invalid_content`, so no description could ever be sent.
            (
                "content.list.row_description_max_chars",
                content.list.row_description_max_chars,
            ),
            (
                "content.list.row_id_max_chars",
                content.list.row_id_max_chars,
            ),
            (
                "content.cta_url.header_max_chars",
                content.cta_url.header_max_chars,
            ),
            (
                "content.cta_url.body_max_chars",
                content.cta_url.body_max_chars,
            ),
            (
                "content.cta_url.footer_max_chars",
                content.cta_url.footer_max_chars,
            ),
            (
                "content.cta_url.display_text_max_chars",
                content.cta_url.display_text_max_chars,
            ),
            (
                "content.cta_url.url_max_chars",
                content.cta_url.url_max_chars,
            ),
            (
                "content.interactive_buttons_max",
                content.interactive_buttons_max,
            ),
        ] {
            if limit == 0 {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        // Prices of a market no prefix names (and not `other`, the rest) are never charged:
        // a market misspelt in `markets` or in `rates`.
        if let Some(card) = &self.pricing.rate_card {
            let named =
                |market: &String| market == "other" || card.markets.values().any(|m| m == market);
            if let Some(market) = card.rates.keys().find(|m| !named(m)) {
                return invalid(format!(
                    "pricing.rate_card.rates.{market}: no prefix in pricing.rate_card.markets \
                     names market {market:?} (and it is not \"other\"), so its prices are \
                     never charged"
                ));
            }
        }
        // File sizes of nothing refuse every file of their kind, likewise.
        let sizes = [
            (
                "content.inbound_file_max_bytes".to_owned(),
                Some(content.inbound_file_max_bytes),
            ),
            (
                "content.outbound_file_max_bytes".to_owned(),
                Some(content.outbound_file_max_bytes),
            ),
            (
                "content.animated_sticker_max_bytes".to_owned(),
                content.animated_sticker_max_bytes,
            ),
        ]
        .into_iter()
        .chain(
            (content.outbound_file_max_bytes_by_provider.iter()).map(|(provider, &size)| {
                (
                    format!("content.outbound_file_max_bytes_by_provider.{provider}"),
                    Some(size),
                )
            }),
        )
        .chain(
            (content.outbound_file_max_bytes_by_media.iter()).map(|(media, &size)| {
                (
                    format!("content.outbound_file_max_bytes_by_media.{media}"),
                    Some(size),
                )
            }),
        );
        for (name, size) in sizes {
            if size == Some(0) {
                return invalid(format!("{name} must be at least 1 byte"));
            }
        }
        // Numbers' providers are kept lowercased (`register_number`): a key written otherwise
        // would never match, and its limit would be ignored without a word.
        if let Some(provider) = (content.outbound_file_max_bytes_by_provider.keys())
            .find(|p| p.to_ascii_lowercase() != **p)
        {
            return invalid(format!(
                "content.outbound_file_max_bytes_by_provider: provider {provider:?} must be \
                 written in lowercase ({:?}), as numbers' providers are compared",
                provider.to_ascii_lowercase()
            ));
        }
        Ok(())
    }
}

const KB: u64 = 1000;
const MB: u64 = 1000 * KB;
/// 2025-04-01T00:00:00Z: no marketing templates to US numbers from then (facts §0).
const US_MARKETING_BLOCK_MS: i64 = 1_743_465_600_000;
/// 2026-03-27T00:00:00Z: Meta removed welcome messages (`request_welcome`), which opened the
/// service window until then (facts §1.1, M-CHANGELOG #385). Every preset: the feature
/// belonged to no pricing era.
const REQUEST_WELCOME_REMOVED_MS: i64 = 1_774_569_600_000;

/// JSON merge: objects merge key by key, anything else replaces. A tagged object whose
/// `kind` changes (a different button rule or upgrade rule) is replaced whole, since the
/// old kind's fields do not belong to the new one.
/// What a JSON value is, for an error naming what was given in place of an object.
fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Merges `patch` over `base` field by field. A section (an object in the preset) takes
/// only an object: serde would read an array into it by position (`"window": ["2d"]` set
/// the window's length) and word `[]` after a Rust type.
fn merge(base: &mut serde_json::Value, patch: &serde_json::Value, path: &str) -> Result<(), Error> {
    let kind_changes = matches!(
        (base.get("kind"), patch.get("kind")),
        (Some(old), Some(new)) if old != new
    );
    match (base, patch) {
        (slot, value) if kind_changes => *slot = value.clone(),
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value, &path)?,
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (serde_json::Value::Object(_), value) => {
            return Err(Error::InvalidPolicy {
                problem: format!(
                    "field \"{path}\": a section takes an object of the fields to change, got {}",
                    json_kind(value)
                ),
            })
        }
        (slot, value) => *slot = value.clone(),
    }
    Ok(())
}

/// Policy overrides from their JSON text, refused when not JSON or when an object names a
/// key twice (the last would win without a word, as in `{"window":{"length":"3d",
/// "length":"2d"}}`; event lines refuse it too).
pub fn overrides_from_json(text: &str) -> Result<serde_json::Value, Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // `path` names the key with the object holding it (`length` alone could be the
    // window's or the chat's).
    let twice: Twice = |path, _| format!("field \"{path}\": key given twice");
    let seed = DistinctKeys { path: "", twice };
    de::DeserializeSeed::deserialize(seed, &mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| Error::InvalidPolicy {
            problem: match e.classify() {
                serde_json::error::Category::Data => e.to_string(),
                _ => format!("not valid JSON: {e}"),
            },
        })
}

/// Every field where `this` and `that` differ, by path, with both values (`null` for a
/// field one of them lacks), in path order.
fn differing_fields(
    this: &serde_json::Value,
    that: &serde_json::Value,
    path: String,
    out: &mut Vec<(String, serde_json::Value, serde_json::Value)>,
) {
    use serde_json::Value;
    match (this, that) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for key in keys {
                // A key a dotted path would split or hide (`"360.dialog"`, `""`) is written
                // as a JSON string, so each path names one field.
                let name = if key.is_empty() || key.contains(['.', '"']) {
                    Value::from(key.as_str()).to_string()
                } else {
                    key.clone()
                };
                let path = if path.is_empty() {
                    name
                } else {
                    format!("{path}.{name}")
                };
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                differing_fields(x, y, path, out);
            }
        }
        _ if this != that => out.push((path, this.clone(), that.clone())),
        _ => {}
    }
}

/// A map keyed by an enum's names, read so that an error names its key
/// (`content.outbound_file_max_bytes_by_media.video`, `pricing.rate_card.rates.na.marketing`):
/// the path of a policy error names an enum key `?`, since such a key reaches the path
/// tracker as an enum, not a string.
pub(crate) fn enum_keyed<'de, D, K, V>(deserializer: D) -> Result<BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: de::DeserializeOwned + Ord,
    V: Deserialize<'de>,
{
    let named = BTreeMap::<NamedKey<K>, V>::deserialize(deserializer)?;
    Ok(named
        .into_iter()
        .map(|(key, value)| (key.0, value))
        .collect())
}

/// An enum key read from its name as a string (see [`enum_keyed`]).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct NamedKey<K>(K);

impl<'de, K: de::DeserializeOwned> Deserialize<'de> for NamedKey<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name<K>(std::marker::PhantomData<K>);
        impl<K: de::DeserializeOwned> de::Visitor<'_> for Name<K> {
            type Value = K;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<K, E> {
                K::deserialize(de::value::StrDeserializer::new(name))
            }
        }
        deserializer
            .deserialize_str(Name(std::marker::PhantomData))
            .map(NamedKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_differ_where_the_rules_say() {
        let classic = Policy::preset("classic").unwrap();
        let cloud = Policy::preset("cloud-2025").unwrap();
        assert_eq!(classic.content.text_max_chars, 1000);
        assert_eq!(cloud.content.text_max_chars, 4096);
        assert_eq!(classic.buttons.label_max_chars, 20);
        assert_eq!(cloud.buttons.label_max_chars, 25);
        assert_eq!(
            cloud
                .consent
                .us_marketing_blocked_from
                .unwrap()
                .to_rfc3339(),
            "2025-04-01T00:00:00Z"
        );
        assert!(Policy::preset("cloud-1999").is_err());
    }

    #[test]
    fn overrides_merge_and_typos_are_errors() {
        let p = Policy::with_overrides(
            "cloud-2025",
            &serde_json::json!({"chat": {"idle_timeout": "15m"}, "window": {"safety_margin": "5m"}}),
        )
        .unwrap();
        assert_eq!(p.chat.idle_timeout, Duration::from_mins(15));
        assert_eq!(p.window.safety_margin, Duration::from_mins(5));
        assert_eq!(p.window.length, Duration::from_hours(24));
        let grouped = Policy::with_overrides(
            "classic",
            &serde_json::json!({"buttons": {"rule": {"kind": "grouped", "total_max": 10, "url_max": 2, "phone_max": 1, "copy_code_max": 1}}}),
        )
        .unwrap();
        assert!(matches!(
            grouped.buttons.rule,
            ButtonRule::Grouped { total_max: 10, .. }
        ));
        let err = Policy::with_overrides("classic", &serde_json::json!({"chat": {"idle": "15m"}}))
            .unwrap_err();
        assert!(err.to_string().contains("idle"), "{err}");
    }

    #[test]
    fn a_bad_override_names_its_field() {
        // The problem alone ("expected u32") left a person to search a hundred fields.
        for (overrides, named) in [
            (
                serde_json::json!({"content": {"text_max_chars": "x"}}),
                "field \"content.text_max_chars\": invalid type: string \"x\", expected u32",
            ),
            (
                serde_json::json!({"chat": {"idle_timeout": "abc"}}),
                "field \"chat.idle_timeout\": expected a duration",
            ),
            (
                serde_json::json!({"window": {"lenght": "24h"}}),
                "field \"window.lenght\": unknown field `lenght`",
            ),
            // Maps keyed by an enum name their key (they said `?`).
            (
                serde_json::json!({"content": {"outbound_file_max_bytes_by_media": {"movie": 1}}}),
                "field \"content.outbound_file_max_bytes_by_media.movie\": unknown variant `movie`",
            ),
            (
                serde_json::json!({"content": {"outbound_file_max_bytes_by_media": {"video": -1}}}),
                "field \"content.outbound_file_max_bytes_by_media.video\": invalid value: integer `-1`",
            ),
            (
                serde_json::json!({"pricing": {"rate_card": {
                    "currency": "USD", "markets": {"1": "na"}, "rates": {"na": {"marketing": "x"}}
                }}}),
                "field \"pricing.rate_card.rates.na.marketing\": expected a decimal amount",
            ),
            (
                serde_json::json!({"pricing": {"rate_card": {
                    "currency": "USD", "markets": {}, "rates": {"na": {"sales": "1"}}
                }}}),
                "field \"pricing.rate_card.rates.na.sales\": unknown variant `sales`",
            ),
        ] {
            let problem = refusal(overrides.clone());
            assert!(problem.starts_with(named), "{overrides}: {problem}");
        }
    }

    /// The problem of an override of `cloud-2025` that the checks refuse.
    fn refusal(overrides: serde_json::Value) -> String {
        match Policy::with_overrides("cloud-2025", &overrides) {
            Err(Error::InvalidPolicy { problem }) => problem,
            other => panic!("{overrides} was not refused: {other:?}"),
        }
    }

    /// An override of `cloud-2025` that the checks accept.
    fn accepted(overrides: serde_json::Value) {
        let policy = Policy::with_overrides("cloud-2025", &overrides);
        assert!(policy.is_ok(), "{overrides} was refused: {policy:?}");
    }

    #[test]
    fn a_section_is_overridden_by_an_object_and_a_key_given_once() {
        // An array was read into a section by position, and the last of two keys won.
        for (overrides, said) in [
            (
                serde_json::json!({"window": ["2d", "0ms", null, false]}),
                "got an array",
            ),
            (serde_json::json!({"window": null}), "got null"),
            (
                serde_json::json!({"limits": {"upgrade": 50}}),
                "got a number",
            ),
        ] {
            let problem = refusal(overrides.clone());
            assert!(
                problem.contains("a section takes an object"),
                "{overrides}: {problem}"
            );
            assert!(problem.contains(said), "{overrides}: {problem}");
        }
        assert!(refusal(serde_json::json!({"limits": {"upgrade": 50}}))
            .starts_with("field \"limits.upgrade\""));
        let twice = overrides_from_json(r#"{"window":{"length":"3d","length":"2d"}}"#);
        assert!(
            matches!(&twice, Err(Error::InvalidPolicy { problem }) if problem.starts_with("field \"window.length\": key given twice")),
            "{twice:?}"
        );
        // Named with the objects and positions holding it: `a` alone says nothing.
        let deep = overrides_from_json(r#"{"levels":[1,{"a":1,"a":2}]}"#);
        assert!(
            matches!(&deep, Err(Error::InvalidPolicy { problem }) if problem.starts_with("field \"levels[1].a\": key given twice at line 1")),
            "{deep:?}"
        );
        assert!(matches!(
            overrides_from_json(r#"{"a":1} x"#),
            Err(Error::InvalidPolicy { problem }) if problem.starts_with("not valid JSON: trailing characters")
        ));
        let nested = overrides_from_json(r#"{"chat":{"idle_timeout":"15m"},"levels":[1,{"a":1}]}"#);
        assert_eq!(
            nested.unwrap(),
            serde_json::json!({"chat": {"idle_timeout": "15m"}, "levels": [1, {"a": 1}]})
        );
        assert!(overrides_from_json("{").is_err());
    }

    #[test]
    fn overrides_are_an_object() {
        // An array was merged as the whole policy and refused for `field "[0]"`.
        assert_eq!(
            refusal(serde_json::json!([{"chat": {"idle_timeout": "15m"}}])),
            "overrides must be a JSON object of the fields to change, got an array"
        );
        assert_eq!(
            refusal(serde_json::json!(null)),
            "overrides must be a JSON object of the fields to change, got null"
        );
        accepted(serde_json::json!({}));
    }

    #[test]
    fn overrides_keep_the_presets_name() {
        // Renamed, a saved state showed "classic" while it ran cloud-2025's rules.
        assert_eq!(
            refusal(serde_json::json!({"name": "classic"})),
            "field \"name\": the policy keeps its preset's name \"cloud-2025\", got \"classic\""
        );
        assert!(refusal(serde_json::json!({"name": 7})).starts_with("field \"name\""));
        accepted(serde_json::json!({"name": "cloud-2025"}));
    }

    #[test]
    fn a_chat_idle_timeout_is_positive() {
        // Zero was accepted: every chat ended missed as it started, an answer in the same
        // instant included.
        assert_eq!(
            refusal(serde_json::json!({"chat": {"idle_timeout": "0s"}})),
            "chat.idle_timeout must be positive"
        );
    }

    #[test]
    fn a_limit_level_allows_at_least_one_contact() {
        // A level of 0 was accepted: every template send was denied with a next slot at its
        // own instant, forever.
        assert_eq!(
            refusal(serde_json::json!({"limits": {"levels": [0, "unlimited"]}})),
            "limits.levels[0] is 0: a level must allow at least 1 new contact \
             (to bar business-initiated messages, report a number_restriction)"
        );
        accepted(serde_json::json!({"limits": {"levels": [1, "unlimited"]}}));
    }

    #[test]
    fn a_limited_edit_rule_allows_at_least_one_edit() {
        // Zero edits a period was accepted and made the first edit panic.
        let problem = refusal(serde_json::json!({"templates": {"edits": {"max_edits": 0}}}));
        assert!(
            problem.contains("max_edits must be at least 1"),
            "{problem}"
        );
        accepted(serde_json::json!({"templates": {"edits": {"max_edits": 1}}}));
    }

    #[test]
    fn a_limited_edit_rule_forgets_no_edit_its_interval_counts_on() {
        // Edits are kept for `period` only: a period of nothing kept none (any number of
        // edits, no interval), and an interval longer than the period let an edit through
        // once the previous one was a period old (review).
        assert_eq!(
            refusal(serde_json::json!({"templates": {"edits": {"period": "0ms"}}})),
            "templates.edits.period must be positive; {\"kind\":\"never\"} forbids edits"
        );
        assert_eq!(
            refusal(serde_json::json!({"templates": {"edits": {"min_interval": "31d"}}})),
            "templates.edits.min_interval (31d) must not be longer than templates.edits.period \
             (30d): edits are remembered for the period only, so the interval would not hold"
        );
        accepted(serde_json::json!({"templates": {"edits": {"min_interval": "30d"}}}));
        accepted(serde_json::json!({"templates": {"edits": {"min_interval": "0ms"}}}));
    }

    #[test]
    fn a_safety_margin_is_shorter_than_the_window() {
        // A margin of the whole window was accepted: every free-form reply was refused as
        // within the margin while the window was open (RULES §2).
        for margin in ["1d", "2d"] {
            assert_eq!(
                refusal(serde_json::json!({"window": {"safety_margin": margin}})),
                format!(
                    "window.safety_margin ({margin}) must be shorter than window.length (1d): \
                     free-form sends are refused in the margin, so none would be allowed"
                )
            );
        }
        accepted(serde_json::json!({"window": {"safety_margin": "23h"}}));
    }

    #[test]
    fn a_reminder_lead_is_positive_and_shorter_than_the_window() {
        // A lead of the whole window was accepted and reminded as the window opened; a lead
        // of zero was accepted and never reminded (due at the end, when the window is closed).
        for lead in ["0ms", "1d", "3d"] {
            assert_eq!(
                refusal(serde_json::json!({"window": {"reminder_lead": lead}})),
                format!(
                    "window.reminder_lead ({lead}) must be positive and shorter than \
                     window.length (1d); null turns the reminder off"
                )
            );
        }
        accepted(serde_json::json!({"window": {"reminder_lead": "23h"}}));
    }

    #[test]
    fn durations_the_engine_counts_on_are_positive() {
        // Each was accepted at zero: a pause that ended as it began (a strike reported as a
        // pause of no length), a held message that expired as `initiate` held it (never
        // released), an idempotency key forgotten at once (a retry decided afresh, §10).
        for (overrides, problem) in [
            (
                serde_json::json!({"templates": {"quality_rule": {"pauses": ["3h", "0ms"]}}}),
                "templates.quality_rule.pauses[1] must be positive \
                 (to disable sooner, give fewer pauses)",
            ),
            (
                serde_json::json!({"outbox": {"hold_for": "0ms"}}),
                "outbox.hold_for must be positive: a held message would expire as it is held",
            ),
            (
                serde_json::json!({"dedup": {"idempotency_key_ttl": "0ms"}}),
                "dedup.idempotency_key_ttl must be positive: \
                 a retry would not get the first decision",
            ),
        ] {
            assert_eq!(refusal(overrides), problem);
        }
    }

    #[test]
    fn a_state_saved_under_a_setting_refused_since_still_restores() {
        // Restore checked saved policies with every check of a new one: a state saved under
        // a zero free entry point ("off" before null was asked for) or a provider key in
        // capitals no longer restored, and its checksum kept it from being mended (review).
        let mut policy = Policy::preset("cloud-2025").unwrap();
        policy.pricing.free_entry_point = Some(Duration::ZERO);
        (policy.content.outbound_file_max_bytes_by_provider).insert("Twilio".into(), 1000);
        assert!(policy.validate_new().is_err());
        let engine = crate::Engine::new(policy.clone());
        let restored = crate::Engine::restore(&engine.snapshot()).unwrap();
        assert_eq!(restored.policy(), &policy);
    }

    #[test]
    fn a_level_that_is_no_level_says_what_a_level_is() {
        // "data did not match any variant of untagged enum Raw" named neither the range nor
        // the value (audit).
        for (given, shown) in [
            (serde_json::json!(-1), "-1"),
            (serde_json::json!(1.5), "1.5"),
            (serde_json::json!(5_000_000_000u64), "5000000000"),
            (serde_json::json!("lots"), "\"lots\""),
            (serde_json::json!(true), "another kind of value"),
        ] {
            let error = serde_json::from_value::<LimitLevel>(given).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!(
                    "expected a whole number of contacts (0..=4294967295) or \"unlimited\", \
                     got {shown}"
                )
            );
        }
        for (given, level) in [
            (serde_json::json!(250), LimitLevel::Contacts(250)),
            (serde_json::json!(u32::MAX), LimitLevel::Contacts(u32::MAX)),
            (serde_json::json!("unlimited"), LimitLevel::Unlimited),
        ] {
            assert_eq!(serde_json::from_value::<LimitLevel>(given).unwrap(), level);
        }
    }

    #[test]
    fn periods_lengths_and_provider_keys_that_decide_nothing_are_refused() {
        // Each was accepted (audit): a flag that disabled a template or downgraded a number
        // as it was raised; a free entry point of no length, a conversation that ended as it
        // opened; an upgrade counting no contact (0% of 250: upgraded to unlimited within a
        // day); lengths of nothing that refused every message of their kind; a provider key
        // in capitals, ignored because numbers' providers are compared lowercased.
        for (overrides, problem) in [
            (
                serde_json::json!({"templates": {"flag_for": "0ms"}}),
                "templates.flag_for must be positive",
            ),
            (
                serde_json::json!({"numbers": {"flag_for": "0ms"}}),
                "numbers.flag_for must be positive",
            ),
            (
                serde_json::json!({"limits": {"upgrade": {"lookback": "0ms"}}}),
                "limits.upgrade.lookback must be positive",
            ),
            (
                serde_json::json!({"limits": {"upgrade": {"percent": 0}}}),
                "limits.upgrade.percent must be at least 1 (a percentage of the current limit)",
            ),
            (
                serde_json::json!({"pricing": {"conversation_length": "0ms"}}),
                "pricing.conversation_length must be positive",
            ),
            (
                serde_json::json!({"pricing": {"free_entry_point_reply_within": "0ms"}}),
                "pricing.free_entry_point_reply_within must be positive",
            ),
            (
                serde_json::json!({"pricing": {"free_entry_point": "0ms"}}),
                "pricing.free_entry_point must be positive; null: no free entry points",
            ),
            (
                serde_json::json!({"content": {"text_max_chars": 0}}),
                "content.text_max_chars must be at least 1",
            ),
            (
                serde_json::json!({"buttons": {"label_max_chars": 0}}),
                "buttons.label_max_chars must be at least 1",
            ),
            (
                serde_json::json!({"buttons": {"phone_max_chars": 0}}),
                "buttons.phone_max_chars must be at least 1",
            ),
            (
                serde_json::json!({"content": {"interactive_buttons_max": 0}}),
                "content.interactive_buttons_max must be at least 1",
            ),
            (
                serde_json::json!({"content": {"outbound_file_max_bytes": 0}}),
                "content.outbound_file_max_bytes must be at least 1 byte",
            ),
            (
                serde_json::json!({"content": {"outbound_file_max_bytes_by_media": {"image": 0}}}),
                "content.outbound_file_max_bytes_by_media.image must be at least 1 byte",
            ),
            (
                serde_json::json!({"content": {"animated_sticker_max_bytes": 0}}),
                "content.animated_sticker_max_bytes must be at least 1 byte",
            ),
            (
                serde_json::json!({"pricing": {"rate_card": {
                    "currency": "USD", "markets": {"1": "na"},
                    "rates": {"na": {"marketing": "0.025"}, "zz": {"marketing": "0.05"}}
                }}}),
                "pricing.rate_card.rates.zz: no prefix in pricing.rate_card.markets names market \"zz\" \
                 (and it is not \"other\"), so its prices are never charged",
            ),
            (
                serde_json::json!({"content": {"interactive_body_max_chars": 0}}),
                "content.interactive_body_max_chars must be at least 1",
            ),
            (
                serde_json::json!({"content": {"outbound_file_max_bytes_by_provider": {"Twilio": 1000}}}),
                "content.outbound_file_max_bytes_by_provider: provider \"Twilio\" must be \
                 written in lowercase (\"twilio\"), as numbers' providers are compared",
            ),
        ] {
            assert_eq!(refusal(overrides), problem);
        }
        let mut lowercase = Policy::preset("cloud-2025").unwrap();
        lowercase
            .content
            .outbound_file_max_bytes_by_provider
            .insert("twilio".into(), 1000);
        assert!(lowercase.validate_new().is_ok());
    }

    /// A policy's overrides read back to it, where field paths could not: a tagged rule
    /// whose kind changed (its fields given whole), a map key with a dot in it.
    #[test]
    fn a_policys_overrides_read_back_to_it() {
        for name in ["classic", "cloud-2025", "cloud-2026-10"] {
            assert!(
                Policy::preset(name).unwrap().overrides().is_empty(),
                "{name}"
            );
        }
        let given = serde_json::json!({
            "buttons": {"rule": {"kind": "grouped", "total_max": 10, "url_max": 2, "phone_max": 1, "copy_code_max": 1}},
            "content": {"outbound_file_max_bytes_by_provider": {"360.dialog": 1000}},
            "chat": {"idle_timeout": "15m"},
        });
        let policy = Policy::with_overrides("classic", &given).unwrap();
        let overrides = serde_json::Value::Object(policy.overrides());
        assert_eq!(
            overrides.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["buttons", "chat", "content"]
        );
        assert_eq!(
            Policy::with_overrides("classic", &overrides).unwrap(),
            policy
        );
        // Field paths (`overridden_fields`) leave out what equals the preset; the dotted key
        // is quoted, so that the path names one field.
        assert!(policy.overridden_fields().contains(&(
            r#"content.outbound_file_max_bytes_by_provider."360.dialog""#.to_owned(),
            serde_json::json!(1000)
        )));
    }

    #[test]
    fn the_overridden_fields_are_those_set_apart_from_the_preset() {
        let preset = Policy::preset("cloud-2025").unwrap();
        assert_eq!(preset.overridden_fields(), []);
        let overridden = Policy::with_overrides(
            "cloud-2025",
            &serde_json::json!({"chat": {"idle_timeout": "15m"}, "window": {"safety_margin": "5m"}}),
        )
        .unwrap();
        assert_eq!(
            overridden.overridden_fields(),
            [
                ("chat.idle_timeout".to_owned(), serde_json::json!("15m")),
                ("window.safety_margin".to_owned(), serde_json::json!("5m")),
            ]
        );
    }

    #[test]
    fn a_row_description_limit_of_nothing_is_refused() {
        // Accepted (audit) while every other length of a list was refused at 0: a row with
        // a description was then denied `too_long` at send, and an empty description is
        // `invalid_content`, so no description could ever be sent.
        assert_eq!(
            refusal(serde_json::json!({"content": {"list": {"row_description_max_chars": 0}}})),
            "content.list.row_description_max_chars must be at least 1"
        );
        accepted(serde_json::json!({"content": {"list": {"row_description_max_chars": 1}}}));
    }

    #[test]
    fn a_level_or_window_refusal_names_its_field_and_values() {
        // "limits.levels must be strictly increasing" named no level among five, and
        // "window.length and limits.window must be positive" two fields for one fault.
        for (overrides, problem) in [
            (
                serde_json::json!({"limits": {"levels": [2000, 250, "unlimited"]}}),
                "limits.levels[1] (250) must be above limits.levels[0] (2000): \
                 levels are strictly increasing",
            ),
            (
                serde_json::json!({"limits": {"levels": [250, 250, "unlimited"]}}),
                "limits.levels[1] (250) must be above limits.levels[0] (250): \
                 levels are strictly increasing",
            ),
            (
                serde_json::json!({"limits": {"levels": [250, "unlimited", 1000]}}),
                "limits.levels[2] (1000) must be above limits.levels[1] (unlimited): \
                 levels are strictly increasing",
            ),
            (
                serde_json::json!({"window": {"length": "0ms"}}),
                "window.length must be positive",
            ),
            (
                serde_json::json!({"limits": {"window": "0ms"}}),
                "limits.window must be positive",
            ),
        ] {
            assert_eq!(refusal(overrides), problem);
        }
    }

    #[test]
    fn a_default_restriction_length_is_positive() {
        // Zero was accepted: a restriction without `until` was announced ending at its own
        // instant, an end its event is refused for ("until" not after "at").
        assert_eq!(
            refusal(serde_json::json!({"numbers": {"restriction_default_length": "0ms"}})),
            "numbers.restriction_default_length must be positive; null: until lifted"
        );
    }

    #[test]
    fn a_status_memory_is_positive() {
        // Zero was accepted: an inbound message delivered again was handled again (a
        // second chat started for it) and no status matched its send (§10).
        assert_eq!(
            refusal(serde_json::json!({"provider": {"status_memory": "0ms"}})),
            "provider.status_memory must be positive: \
             a provider event delivered again would be handled again"
        );
    }

    #[test]
    fn policy_round_trips_through_json() {
        for name in PRESETS {
            let p = Policy::preset(name).unwrap();
            let back: Policy = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(p, back);
        }
    }
}
