//! The engine: one deterministic state machine for all conversations of all numbers.
//!
//! The theory of operation is on [`Engine`], where rustdoc shows it (this module is
//! private).
//!
//! Data layout: conversations live in a `Vec`, found by `(number index, packed contact u64)`
//! through an index of positions that reads the keys from the records themselves
//! ([`crate::conversation_index`]). A conversation's record holds what most events read:
//! its window instants, its ticket, its live chat and a few flags, in one 64-byte cache line
//! ([`crate::conversation`]); its timers' deadlines sit in one slot of a vector indexed like
//! the conversations ([`crate::timers`]). Duplicate records are a log in expiry order with
//! an index of tagged slots ([`crate::sent_content`]). Held messages, consent and billing
//! windows live in side tables that only the conversations using them pay for.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::latest_by_instant::{RecentRatings, RecentReports};
use crate::provider_order::ProviderOrder;
use crate::tally::tally;
use crate::window::WindowState;

use crate::address::{Address, AddressKey, Interner};
use crate::chat::{ChatEndReason, LiveChat, Ticket, TicketStatus};
use crate::conversation::Conversation;
use crate::conversation_index::ConversationIndex;
use crate::decision::Decision;
use crate::delivery::StatusOutcome;
use crate::effect::{Effect, OutboxDrop};
use crate::event::*;
use crate::hash::FastMap;
use crate::message::OutboundMessage;
use crate::number::{Channel, NumberCounters, NumberState};
use crate::policy::Policy;
use crate::sent_content::{Recipient, SentContent};
use crate::shrink::ShrinkWhenSparse;
use crate::template::{Quality, TemplateCategory, TemplateSpec, TemplateStatus, Variables};
use crate::time::{Duration, Instant, TimeZone};
use crate::timers::{TimerKey, Timers};
use crate::Error;

/// A business: owns numbers and templates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Business {
    pub name: String,
    /// The zone its months are counted in (`register_number`'s `timezone`); UTC if none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<TimeZone>,
    /// The month of its latest recorded send, in its zone: the month of the next one is
    /// nearly always two comparisons. Derived, so not saved.
    #[serde(skip)]
    pub month: crate::time::MonthSpan,
    /// Its numbers, in the engine's order: derived from each number's `business`, so not
    /// saved (a restore and an import rebuild it). Business-wide walks read this list,
    /// not every number of the engine.
    #[serde(skip)]
    pub numbers: Vec<u32>,
}

impl Business {
    /// The zone its months are counted in.
    pub fn zone(&self) -> TimeZone {
        self.timezone.unwrap_or(TimeZone::UTC)
    }

    /// The month (`YYYYMM`) `at` falls in, in its zone.
    pub fn month_key(&self, at: Instant) -> u32 {
        self.month
            .key_in(at)
            .unwrap_or_else(|| crate::time::MonthSpan::of_in(at, self.zone()).key())
    }

    /// [`Business::month_key`], keeping the month found for the next call.
    pub fn month_key_kept(&mut self, at: Instant) -> u32 {
        if let Some(key) = self.month.key_in(at) {
            return key;
        }
        self.month = crate::time::MonthSpan::of_in(at, self.zone());
        self.month.key()
    }
}

/// Templates by business and a hash of name and language. A key holds the templates whose
/// name and language hash alike (nearly always one), so a lookup with borrowed strings
/// allocates nothing (it runs on every template send) and reads no other business's
/// templates: keyed by the name alone, a lookup walked every business with that name, and
/// every WhatsApp account has `hello_world`.
#[derive(Clone, Debug, Default)]
pub(crate) struct TemplateIndex(FastMap<(u32, u64), Vec<TemplateIndexEntry>>);

/// (name, language, template index) of one template of a business.
type TemplateIndexEntry = (Box<str>, Box<str>, u32);

impl TemplateIndex {
    fn key(business: u32, name: &str, language: &str) -> (u32, u64) {
        let hash = crate::hash::content_hash(&[name.as_bytes(), language.as_bytes()]);
        (business, hash)
    }

    pub fn get(&self, business: u32, name: &str, language: &str) -> Option<u32> {
        self.0
            .get(&Self::key(business, name, language))?
            .iter()
            .find(|(n, l, _)| &**n == name && &**l == language)
            .map(|(_, _, i)| *i)
    }

    /// Adds a template; returns the index already registered under the same key, if any
    /// (which is then left in place).
    pub fn insert(&mut self, business: u32, name: &str, language: &str, index: u32) -> Option<u32> {
        if let Some(existing) = self.get(business, name, language) {
            return Some(existing);
        }
        self.0
            .entry(Self::key(business, name, language))
            .or_default()
            .push((name.into(), language.into(), index));
        None
    }
}

/// An [`Inbound`] with borrowed text: what the engine reads of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InboundRef<'a> {
    /// The provider's timestamp of the message.
    pub at: Instant,
    /// Receiving number.
    pub number: &'a str,
    /// Sender (phone or opaque id); `None` for group messages.
    pub contact: Option<&'a str>,
    /// Group id for group messages (unofficial channel only).
    pub group: Option<&'a str>,
    /// Kind of message.
    pub kind: InboundKind,
    /// File size in bytes, for media.
    pub size: Option<u64>,
    /// The message came from an ad or page button (free entry point).
    pub referral: bool,
    /// The provider's message id.
    pub message_id: Option<&'a str>,
    /// The sender's business-scoped user id beside a phone number in `contact`.
    pub user_id: Option<&'a str>,
}

impl<'a> InboundRef<'a> {
    /// A message of `kind` from `contact` to `number` at `at`, every optional field unset:
    /// the borrowed form of [`Inbound::new`].
    pub fn new(
        at: Instant,
        number: &'a str,
        contact: &'a str,
        kind: InboundKind,
    ) -> InboundRef<'a> {
        InboundRef {
            at,
            number,
            contact: Some(contact),
            group: None,
            kind,
            size: None,
            referral: false,
            message_id: None,
            user_id: None,
        }
    }
}

impl Inbound {
    /// This message with borrowed text.
    pub fn borrowed(&self) -> InboundRef<'_> {
        InboundRef {
            at: self.at,
            number: &self.number,
            contact: self.contact.as_deref(),
            group: self.group.as_deref(),
            kind: self.kind,
            size: self.size,
            referral: self.referral,
            message_id: self.message_id.as_deref(),
            user_id: self.user_id.as_deref(),
        }
    }
}

/// A pause cut short by a flag's deadline: its end (`None`: a pacing pause, with none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CutPause {
    pub until: Option<Instant>,
}

/// How to take back what a disable's place in the arrival order did to a template
/// (`Template::disable_undo`): a disable delivered late, ordered over later statuses, or
/// later statuses refused or ordered out by a disable in force. A report reviving the
/// template dated after the disable, delivered after them, came before them in order: the
/// template is put back as it was (`before`), if it still stands as they left it (`after`),
/// and the revival and then the reports kept applied again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DisableUndo {
    /// The instants of the earliest and the latest late disable taken back with the rest
    /// (none: only reports refused or ordered out are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<(Instant, Instant)>,
    pub before: Template,
    pub after: Template,
    /// The reports refused or ordered out since `before` while the template awaited
    /// reinstatement, in the order they arrived.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<crate::template_lifecycle::KeptReport>,
}

/// A registered template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    pub business: u32,
    pub spec: TemplateSpec,
    pub variables: Variables,
    pub status: TemplateStatus,
    pub quality: Quality,
    /// End of a timed pause (`None` while paused: a pacing pause).
    pub paused_until: Option<Instant>,
    /// While paused: the instant of the latest report or rating that paused it (or reported
    /// it paused again). A report ending the pause dated after it, arriving after later
    /// statuses, still ends it. Absent from snapshots older than this field (no late end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<Instant>,
    /// A flagged template is disabled at this deadline. A pause keeps it (§5: a flag is a
    /// mark on the template, a pause stops its sends): paused and flagged, the template is
    /// flagged again when the pause ends and disabled at the deadline, paused or not.
    pub flag_deadline: Option<Instant>,
    /// When the flag of `flag_deadline` was set (the rating's or the report's instant, the
    /// latest report of the same flag): a recovery rated then or later, arriving late, lifts
    /// it from under a pause. Kept while the template stays disabled at that flag's deadline,
    /// which only a recovery rated after it takes back. Absent from snapshots older than
    /// this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged_at: Option<Instant>,
    /// Instant of the latest rating that lifted a flag (flagged → approved): it changed the
    /// status only by lifting the flag, so a low rated before it, arriving after it, still
    /// pauses the template as in order. Absent from snapshots older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag_lifted_at: Option<Instant>,
    /// Low-quality strikes so far (pause ladder).
    pub pause_strikes: u32,
    /// The quality pauses counted as strikes (pause ladder), `[start, end)`, the latest
    /// [`crate::template_lifecycle::COUNTED_PAUSES_KEPT`]: the engine's own pause for a
    /// rating and the provider's report of it overlap, in whichever order they arrive, and
    /// are one pause; two pauses never overlap. A rating inside one adds no strike, whatever
    /// the status is by the clock now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_pauses: Vec<(Instant, Instant)>,
    /// Instants at which the template started or stopped being one a low rating pauses
    /// (approved or flagged, or in a timed pause), in order, the latest
    /// [`crate::template_lifecycle::RATEABLE_CHANGES_KEPT`]: a rating delivered late is
    /// judged by the status at its own instant, which is the one now if an even number of
    /// these came after it. Empty for a template whose status never crossed that line
    /// (and in snapshots older than this field: judged by the status now, as then).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rateable_changes: Vec<Instant>,
    /// Instants of recent edits of the approved template.
    pub edits: Vec<Instant>,
    /// Disabled and not reinstated since: only the provider's reinstatement makes it
    /// sendable again, whatever other statuses it passes through (appeal, rejection).
    pub awaiting_reinstatement: bool,
    /// Instant of the latest provider status event applied: an older one arriving late
    /// changes nothing (a disable aside: see `reinstating_report_at`).
    pub last_provider_event_at: Option<Instant>,
    /// Instant of the latest report that revives a disabled template (`approved`,
    /// `reinstated`, `unpaused`; not `unarchived`), applied or too late to apply: a
    /// `disabled` older than the latest status applied, arriving late, still disables the
    /// template unless one of these came after it (in order, no status between a disable and
    /// a reinstatement revives it, §5). Snapshots write it for every template; one saved
    /// before it was kept reads the latest status applied in its place (`StoredTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinstating_report_at: Option<Instant>,
    /// Instant of the latest rating that changed the status (a quality pause, disable or
    /// flag, or a flag lifted): a provider status older than it, arriving after it, is one
    /// that rating acted on, so it does not undo what the rating did. Absent from snapshots
    /// older than this field (no rating is known to have changed the status then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_status_at: Option<Instant>,
    /// The latest provider quality event applied: a late or repeated one changes nothing.
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub quality_event: ProviderOrder,
    /// The latest category change applied (the provider's, or an edit's): a late or
    /// repeated provider change changes nothing.
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub category_event: ProviderOrder,
    /// The latest text applied (the provider's report of an edit, or an edit's own): a late
    /// or repeated report changes nothing.
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub components_event: ProviderOrder,
    /// The latest provider status event applied: of two at one instant (webhook times are
    /// whole seconds) the same one stands in either arrival order, and a redelivery of the
    /// other changes nothing.
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub status_event: ProviderOrder,
    /// The flag deadline at which the engine itself disabled the template (a flag's
    /// deadline passing, under either quality rule), while it stays disabled: a recovery
    /// rated before it, arriving late, takes the disable back, as the provider, rating it
    /// in time, never disabled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at_deadline: Option<Instant>,
    /// Instant of the latest `medium` or `high` rating, in whatever order ratings arrived:
    /// a flag the provider reported as of then or earlier, arriving after it, was lifted by
    /// it in order. Absent from snapshots older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<Instant>,
    /// The latest ratings by their instants, whatever order they arrived in: under classic,
    /// a late low is judged by the ratings beside it in order (§5, §13). Absent from
    /// snapshots older than this field (a late low then finds none beside it).
    #[serde(default, skip_serializing_if = "RecentRatings::is_empty")]
    pub recent_ratings: RecentRatings,
    /// The latest provider status reports by their instants (locks aside), whatever order
    /// they arrived in: under classic, a late low followed in order by nothing but pauses
    /// and their ends flagged the template, and the pauses kept the flag (§5, §13). Absent
    /// from snapshots older than this field (a late low then finds no reports beside it).
    #[serde(default, skip_serializing_if = "RecentReports::is_empty")]
    pub recent_reports: RecentReports,
    /// The pause the flag's deadline cut short when the engine disabled the template at it:
    /// a recovery that takes that disable back resumes the pause. Absent from snapshots
    /// older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_pause: Option<CutPause>,
    /// The latest instant its text (body, header or footer) changed, by an edit, the
    /// provider's report of one or a re-registration: a send of it before then showed the
    /// contact other text, so the same parameters now are no duplicate of it (§10). `None`
    /// while the text is the one registered (and in snapshots older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_changed_at: Option<Instant>,
    /// Locked against editing by the provider (`template_status` `locked`, until
    /// `unlocked`): `edit_template` is refused; sending is unchanged. Absent from snapshots
    /// of unlocked templates (and older than this field).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// The latest lock or unlock applied: a late or repeated one changes nothing.
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub lock_event: ProviderOrder,
    /// The instant of the send failure (132015, "template paused") that the pause in force,
    /// one without an end, was read from: the provider refused a send for a pause the engine
    /// had not heard of. Learned later (a low rating or the provider's pause report, dated
    /// before the failure and delivered after it), a timed pause that covers the failure is
    /// the one it reported, and its end stands, as when it is known first. Cleared by any
    /// change of status. Absent from snapshots older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_pause_at: Option<Instant>,
    /// When the host registered the template (the latest `register_template` of it): a
    /// provider `deleted` dated before it was about the template it replaced, and does not
    /// delete this one (a deletion is final, so a stale one redelivered after a
    /// re-registration left the template unsendable for good). Absent from snapshots
    /// older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Instant>,
    /// After a late disable, or a report a disable refused: how to take that back, should a
    /// revival dated before what it undoes arrive (`take_back_disable`). Of no use once
    /// anything else changed the template (snapshots and exports leave it out then).
    /// Absent from snapshots older than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_undo: Option<Box<DisableUndo>>,
}

impl Template {
    /// Moves the template, and the states its undo keeps, to business index `business`.
    pub(crate) fn set_business(&mut self, business: u32) {
        self.business = business;
        if let Some(undo) = self.disable_undo.as_deref_mut() {
            undo.set_business(business);
        }
    }
}

impl DisableUndo {
    /// An undo to the template as it was, `before`, with nothing taken back yet (the state
    /// after is set as the first input it takes back leaves the template).
    pub(crate) fn back_to(before: Template) -> Box<DisableUndo> {
        Box::new(DisableUndo {
            disabled: None,
            after: before.clone(),
            before,
            reports: Vec::new(),
        })
    }

    /// Moves the states kept to business index `business`, with their template.
    pub(crate) fn set_business(&mut self, business: u32) {
        self.before.business = business;
        self.after.business = business;
    }
}

/// A message held in the pending outbox (§4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HeldMessage {
    pub message: OutboundMessage,
    pub held_at: Instant,
    pub expires_at: Instant,
    /// The opening template it awaits the contact's answer to. Absent from snapshots older
    /// than this field: an opener without a provider id, which can never be reported failed.
    #[serde(default, skip_serializing_if = "crate::outbox::Opener::is_unknown")]
    pub opener: crate::outbox::Opener,
}

/// Consent of one contact towards one business (§9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsentRecord {
    /// Opted in since (at most one of this and `opted_out_at` is set).
    pub opted_in_at: Option<Instant>,
    /// Opted out since: kept so that an opt-in older than it, arriving late, stays undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opted_out_at: Option<Instant>,
    pub marketing_stopped_at: Option<Instant>,
    /// The latest `user_preference` (stop, resume) applied: a late or repeated one changes
    /// nothing (§10).
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub preference_event: ProviderOrder,
    /// No marketing to the contact before this instant, from any of the business's numbers:
    /// the provider reported the user's marketing cap reached (Meta 131049).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_backoff_until: Option<Instant>,
}

impl ConsentRecord {
    /// Since when marketing to the contact is barred (§9), if it is: the contact said stop,
    /// or opted out with no `resume` after it (an opt-in after it replaced it: consent given
    /// again). An opt-out removes the opt-in that business-initiated messages need, and bars
    /// marketing inside a window too, as a stop does.
    pub(crate) fn marketing_barred_since(&self) -> Option<Instant> {
        // Read with no stop in force: the latest preference, if any, is a resume.
        let resumed_after =
            |out: Instant| (self.preference_event.latest_at()).is_some_and(|at| at > out);
        (self.marketing_stopped_at).or(self.opted_out_at.filter(|&out| !resumed_after(out)))
    }

    /// What two names of one user hold where the engine keeps their histories apart (both
    /// had one when a message named them together): each part as of its latest event under
    /// either name, so that an opt-out, a stop or a back-off given under one name bars the
    /// user under the other too (§9), unless a later event undid it. An opt-out stands over
    /// an opt-in at the same instant, as when both come under one name.
    fn shared(a: &ConsentRecord, b: &ConsentRecord) -> ConsentRecord {
        let consent =
            |r: &ConsentRecord| (r.opted_out_at.or(r.opted_in_at), r.opted_out_at.is_some());
        let consent = if consent(a) >= consent(b) { a } else { b };
        let preference = if a.preference_event >= b.preference_event {
            a
        } else {
            b
        };
        ConsentRecord {
            opted_in_at: consent.opted_in_at,
            opted_out_at: consent.opted_out_at,
            marketing_stopped_at: preference.marketing_stopped_at,
            preference_event: preference.preference_event,
            marketing_backoff_until: a.marketing_backoff_until.max(b.marketing_backoff_until),
        }
    }
}

/// What an input produced, besides effects.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Output {
    /// The input was applied. (Non-exhaustive: a host builds one with [`Output::ack`], and
    /// a field added later breaks no pattern with `..`.)
    #[non_exhaustive]
    Ack {
        /// The input's type.
        of: &'static str,
        /// An `inbound` whose `message_id` the engine had already taken from its sender
        /// (the provider delivered it again, §10): it changed nothing, and a host storing
        /// messages must not store it twice. Written only when true.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        redelivered: bool,
        /// A `message_status` that matched no send the number recorded under its
        /// `message_id` (not recorded yet, recorded under another id, or forgotten after
        /// `provider.status_memory`): it confirmed no pricing and moved no delivery state; a
        /// failure's corrections still applied to the conversation. Statuses that never
        /// match tell a host that records sends under ids the provider does not echo.
        /// Written only when true.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        unmatched: bool,
    },
    /// A send decision.
    Decision(Decision),
    /// A conversation view.
    Conversation(ConversationView),
    /// A number view.
    Number(NumberView),
    /// A messaging limit view.
    Limit(crate::limits::LimitView),
    /// A template view.
    Template(TemplateView),
    /// Monthly usage.
    Usage(UsageView),
}

impl Output {
    /// The acknowledgement of an input of type `of` that was applied.
    pub fn ack(of: &'static str) -> Output {
        Output::Ack {
            of,
            redelivered: false,
            unmatched: false,
        }
    }
}

/// What [`Engine::inbound`] did with a message: what the ack of [`Engine::handle`] tells as
/// `redelivered`, for a host that calls the typed function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundOutcome {
    /// Applied: a message (or call) the engine had not taken before, or had taken longer
    /// ago than the policy's `provider.status_memory` (7 days), or one without a
    /// `message_id` (nothing tells it apart).
    Taken,
    /// A message whose `message_id` the engine had already taken from its sender within
    /// `provider.status_memory`: the provider delivered it again (§10). It changed nothing,
    /// and a host storing messages must not store it twice.
    Redelivered,
}

display_as_wire_name!(InboundOutcome);

/// Monthly usage of a number or business.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UsageView {
    /// The number or business.
    pub of: String,
    /// The month, `YYYY-MM`.
    pub month: String,
    /// The counters.
    #[serde(flatten)]
    pub usage: crate::pricing::MonthlyUsage,
    /// Currency of `cost`, when a rate card is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// Read-only view of one conversation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConversationView {
    /// The number.
    pub number: String,
    /// The contact or group.
    pub contact: String,
    /// Whether the service window is open at the view's instant (`now < window_ends_at`).
    /// A free-form send may still be refused within the safety margin before its end.
    pub window_open: bool,
    /// When the window ends or ended (`None`: never opened; always `None` off-official).
    pub window_ends_at: Option<Instant>,
    /// The live chat, if any.
    pub chat: Option<LiveChat>,
    /// The current ticket, if any.
    pub ticket: Option<Ticket>,
    /// On an email number, the ticket's response times (a chat's are on `chat`); `None`
    /// elsewhere, and before the first ticket.
    pub ticket_responses: Option<crate::TicketResponses>,
    /// Messages held in the pending outbox (not expired as of the view's instant).
    pub outbox_held: u32,
    /// Whether the contact opted in with this number's business.
    pub opted_in: bool,
    /// Whether marketing to the contact is barred: they stopped marketing messages, or
    /// opted out, with no resume since (nor an opt-in after the opt-out).
    pub marketing_stopped: bool,
}

/// Read-only view of a number.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct NumberView {
    /// The number.
    pub number: String,
    /// Its business.
    pub business: String,
    /// Channel.
    pub channel: Channel,
    /// Provider.
    pub provider: String,
    /// Effective chat idle timeout.
    pub idle_timeout: Duration,
    /// Quality rating.
    pub quality: Quality,
    /// Flag deadline, while flagged.
    pub flagged_until: Option<Instant>,
    /// The widest restriction in force at the engine's clock.
    pub restriction: Option<crate::number::Restriction>,
    /// Every restriction in force then, one per scope, narrowest first (a bar on
    /// business-initiated messages may outlast one on all messages).
    pub restrictions: Vec<crate::number::Restriction>,
    /// Activity counters.
    pub counters: NumberCounters,
}

/// Read-only view of a template.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TemplateView {
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// Category.
    pub category: TemplateCategory,
    /// Status in force at the engine's clock.
    pub status: TemplateStatus,
    /// End of a timed pause, or a flag's disable deadline.
    pub until: Option<Instant>,
    /// While flagged: the deadline to recover by, else it is disabled. A pause keeps the
    /// flag (§5), so a paused template may show both: `until` the pause's end, this the
    /// flag's deadline, which may come first.
    pub flagged_until: Option<Instant>,
    /// Quality.
    pub quality: Quality,
    /// Number of distinct body variables.
    pub variables: u32,
    /// Low-quality strikes so far (pause ladder).
    pub pause_strikes: u32,
    /// Locked against editing by the provider (`template_status` `locked`, until
    /// `unlocked`): `edit_template` is refused; sending is judged by `status` alone.
    pub locked: bool,
}

/// The conversation-state engine. `Send + Sync`: one engine may move between threads or sit
/// behind a lock (calls that change it take `&mut self`); [`crate::sharded::ShardedEngine`]
/// shares several between threads without one lock for all.
///
/// # Theory of operation
///
/// The host feeds inputs, each carrying its own instant, and drains outputs; the engine never
/// reads a clock and does no I/O (the contract of quinn-proto and str0m).
///
/// * **Time.** The engine's clock is the largest instant it has seen. Every mutating input at
///   `t` first fires the timers due at or before `t` (so a chat whose idle timeout passed has
///   ended before the next message arrives, even if the host never called
///   [`Engine::handle_timeout`]), then applies the input. An input older than the clock is
///   applied at its own time where the rules say so (the service window, §2) and at the clock
///   otherwise; the clock never moves back.
/// * **Decisions are derived, not cached.** Whether a window is open is computed from the
///   latest inbound instant at the moment of the question, so [`Engine::check_send`] is a pure
///   function of the state and its `now`, and gives the same answer as [`Engine::send`] would.
/// * **Timers** exist only to *emit effects* at the right moment (chat ended by inactivity,
///   reminder, outbox expiry). There is one timer structure; handlers
///   tolerate early wake-ups.
/// * **Effects** are queued in the order they happened and drained by [`Engine::poll_effect`].
/// * **Errors change nothing.** Every input is validated before the first mutation.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) policy: Policy,
    pub(crate) clock: Instant,
    pub(crate) interner: Interner,
    pub(crate) businesses: Vec<Business>,
    pub(crate) business_index: HashMap<String, u32>,
    pub(crate) numbers: Vec<NumberState>,
    pub(crate) number_index: crate::number_index::NumberIndex,
    /// Provider number ids (Meta `phone_number_id`) → number index.
    pub(crate) provider_number_ids: HashMap<String, u32>,
    pub(crate) templates: Vec<Template>,
    /// (business, name, language) → template index.
    pub(crate) template_index: TemplateIndex,
    pub(crate) conversations: Vec<Conversation>,
    pub(crate) conversation_index: ConversationIndex,
    pub(crate) outbox: FastMap<u32, Vec<HeldMessage>>,
    pub(crate) consents: FastMap<(u32, AddressKey), ConsentRecord>,
    /// Names of one user kept apart that hold one consent, each a copy of the group's
    /// record (see `consent_groups.rs`).
    pub(crate) consent_groups: crate::consent_groups::ConsentGroups,
    /// Duplicate records: (business, contact, content hash) → until when it counts as sent,
    /// and which conversation sent it.
    pub(crate) sent_content: SentContent,
    /// The first decision for each idempotency key, for the policy's key ttl.
    pub(crate) idempotency: crate::expiring::ExpiringMap<crate::send::Remembered>,
    pub(crate) timers: Timers,
    pub(crate) effects: VecDeque<Effect>,
    /// The id the next ticket gets; at most [`MAX_NEXT_TICKET`].
    pub(crate) next_ticket: u64,
    /// Messaging limits by owner (number or business index, by policy scope).
    pub(crate) limits: FastMap<u32, crate::limits::LimitState>,
    /// Responses so far of live chats the agent has answered (the rest of a live chat is in
    /// its conversation record; see [`crate::chat::ChatResponses`]).
    pub(crate) chat_responses: FastMap<u32, crate::chat::ChatResponses>,
    /// Email tickets' response times, by conversation (see [`crate::ticket_responses`]).
    pub(crate) ticket_responses: FastMap<u32, crate::TicketResponses>,
    /// Pricing state of conversations with billing activity.
    pub(crate) billing: FastMap<u32, crate::pricing::ConversationBilling>,
    /// Monthly usage by (number, YYYYMM).
    pub(crate) usage: FastMap<(u32, u32), crate::pricing::MonthlyUsage>,
    /// Allowed sends by provider message id, for delivery statuses.
    pub(crate) sent_messages: crate::expiring::ExpiringMap<crate::delivery::SentMessage>,
    /// The monthly service allowance's slots that failures may still give back, and the
    /// sends charged meanwhile that would take them (derived from `sent_messages`).
    pub(crate) allowance: crate::allowance::AllowanceSlots,
    /// Inbound provider message ids already handled, each held under its number and its
    /// sender as named ([`crate::keys::inbound_key`]): providers other than Meta number
    /// messages per chat (Telegram) or per bot, so the same id from another sender or at
    /// another number is another message. With the number each arrived at (`None` when
    /// restored from a snapshot older than version 4, which did not record it), so that a
    /// business's ids move with it. Ids restored without their sender (saved before it was
    /// kept) are held under no scope and match any sender while remembered.
    pub(crate) inbound_ids: crate::expiring::ExpiringMap<Option<u32>>,
    /// Whether any of `inbound_ids` is held under no scope (restored without its sender):
    /// only then does a lookup look there too.
    pub(crate) inbound_ids_unscoped: bool,
    /// Provider back-off requests by conversation.
    pub(crate) backoffs: FastMap<u32, crate::delivery::Backoff>,
    /// Phone numbers and business-scoped user ids that name one contact.
    pub(crate) contact_links: crate::contact_links::ContactLinks,
}

impl Engine {
    /// A new engine under `policy`.
    ///
    /// # Panics
    ///
    /// On a policy that breaks an invariant the rules rely on ([`Policy::validate`]: no
    /// limit level, levels out of order, a window of no length…), which a policy built field
    /// by field can: the panic names it here rather than at the first send that needs it.
    /// [`Engine::try_new`] returns it as an error instead, and refuses a setting that
    /// decides nothing too (a period of no length, a text limit of 0 characters:
    /// [`Policy::validate_new`]), which this takes; presets, [`Policy::with_overrides`] and
    /// restored snapshots are checked already.
    pub fn new(policy: Policy) -> Engine {
        if let Err(e) = policy.validate() {
            panic!("Engine::new: {e} (Engine::try_new returns this as an error)");
        }
        Engine::new_unchecked(policy)
    }

    /// [`Engine::new`] for a policy of any origin: one that breaks an invariant the rules
    /// rely on, or sets a period of nothing that decides nothing ([`Policy::validate_new`]),
    /// is its [`Error::InvalidPolicy`] naming the field.
    pub fn try_new(policy: Policy) -> Result<Engine, Error> {
        policy.validate_new()?;
        Ok(Engine::new_unchecked(policy))
    }

    /// An engine under a policy already checked.
    fn new_unchecked(policy: Policy) -> Engine {
        let memory = policy.provider.status_memory;
        let key_ttl = policy.dedup.idempotency_key_ttl;
        Engine {
            policy,
            clock: Instant::EPOCH,
            interner: Interner::default(),
            businesses: Vec::new(),
            business_index: HashMap::new(),
            numbers: Vec::new(),
            number_index: Default::default(),
            provider_number_ids: HashMap::new(),
            templates: Vec::new(),
            template_index: TemplateIndex::default(),
            conversations: Vec::new(),
            conversation_index: ConversationIndex::default(),
            outbox: FastMap::default(),
            consents: FastMap::default(),
            consent_groups: Default::default(),
            sent_content: SentContent::default(),
            idempotency: crate::expiring::ExpiringMap::new(key_ttl),
            timers: Timers::default(),
            effects: VecDeque::new(),
            next_ticket: 1,
            limits: FastMap::default(),
            chat_responses: FastMap::default(),
            ticket_responses: FastMap::default(),
            billing: FastMap::default(),
            usage: FastMap::default(),
            sent_messages: crate::expiring::ExpiringMap::new(memory),
            allowance: Default::default(),
            inbound_ids: crate::expiring::ExpiringMap::new(memory),
            inbound_ids_unscoped: false,
            backoffs: FastMap::default(),
            contact_links: Default::default(),
        }
    }

    /// A new engine under a preset (`classic`, `cloud-2025`, `cloud-2026-10`).
    pub fn with_preset(name: &str) -> Result<Engine, Error> {
        Ok(Engine::new(Policy::preset(name)?))
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Goes on under another policy from `e.at` (timers due before it fire under the old
    /// one), one that differs from the engine's in pricing alone (§11, §12): the pricing era
    /// of 2026-10-01 or a new rate card, without losing the engine's state. Every other rule
    /// shaped what the engine keeps (a limit is a level of its list, a template's strikes a
    /// rung of its ladder, a chat's timer its idle timeout), so a policy that changes one is
    /// refused ([`Error::InvalidPolicy`], naming the sections), as are an unknown preset,
    /// overrides that do not fit, and a rate card of another currency (or one added or
    /// removed: a month's cost is one sum). Sends decided from then on are priced by the new
    /// rules; a month's counts go on (the allowance already used stays used).
    pub fn change_policy(&mut self, e: &ChangePolicy) -> Result<(), Error> {
        let policy = match &e.policy_overrides {
            Some(overrides) => Policy::with_overrides(&e.policy, overrides)?,
            None => Policy::preset(&e.policy)?,
        };
        let differing = self.policy.sections_other_than_pricing_differing(&policy);
        if !differing.is_empty() {
            return Err(Error::InvalidPolicy {
                problem: format!(
                    "change_policy changes pricing alone, and {:?} differs from the running \
                     policy {:?} in {}: the engine's state was kept under those rules (move \
                     to such a policy by replaying the traffic under it)",
                    e.policy,
                    self.policy.name,
                    differing.join(", ")
                ),
            });
        }
        // A month's cost is one sum in one currency, and is kept only under a rate card.
        let currency = |p: &Policy| (p.pricing.rate_card.as_ref()).map(|c| c.currency.clone());
        if currency(&self.policy) != currency(&policy) {
            let named =
                |c: Option<String>| c.map_or("no rate card".to_owned(), |c| format!("{c:?}"));
            return Err(Error::InvalidPolicy {
                problem: format!(
                    "change_policy keeps the rate card's currency ({}), and {:?} has {}: a \
                     month's cost is one sum, kept under a rate card",
                    named(currency(&self.policy)),
                    e.policy,
                    named(currency(&policy))
                ),
            });
        }
        self.handle_timeout(e.at);
        self.policy = policy;
        // The era or the allowance's scope may differ.
        self.rebuild_allowance();
        Ok(())
    }

    /// The engine's clock: the largest instant seen.
    pub fn clock(&self) -> Instant {
        self.clock
    }

    /// Applies one input. Effects it caused are queued for [`Engine::poll_effect`].
    pub fn handle(&mut self, event: Event) -> Result<Output, Error> {
        let of = event.type_name();
        let ack = Ok(Output::ack(of));
        match event {
            Event::RegisterNumber(e) => self.register_number(&e).and(ack),
            Event::RegisterTemplate(e) => self.register_template(&e).and(ack),
            Event::Inbound(e) => self.inbound_acked(e.borrowed()),
            Event::Send(e) => self.send(&e).map(Output::Decision),
            Event::CheckSend(e) => self.check_send(&e).map(Output::Decision),
            Event::Initiate(e) => self.initiate(&e).map(Output::Decision),
            Event::EndChat(e) => self.end_chat(&e).and(ack),
            Event::SetTicketStatus(e) => self.set_ticket_status(&e).and(ack),
            Event::OptIn(e) => self.opt_in(&e).and(ack),
            Event::OptOut(e) => self.opt_out(&e).and(ack),
            Event::UserPreference(e) => self.user_preference(&e).and(ack),
            Event::SendFailed(e) => self.send_failed(&e).and(ack),
            Event::MessageStatus(e) => self.message_status(&e).map(|outcome| Output::Ack {
                of: "message_status",
                redelivered: false,
                unmatched: outcome == StatusOutcome::Unmatched,
            }),
            Event::TemplateStatus(e) => self.template_status(&e).and(ack),
            Event::TemplateQuality(e) => self.template_quality(&e).and(ack),
            Event::TemplateCategory(e) => self.template_category(&e).and(ack),
            Event::TemplateComponents(e) => self.template_components(&e).and(ack),
            Event::EditTemplate(e) => self.edit_template(&e).and(ack),
            Event::NumberQuality(e) => self.number_quality(&e).and(ack),
            Event::NumberRestriction(e) => self.number_restriction(&e).and(ack),
            Event::RestrictionLifted(e) => self.restriction_lifted(&e).and(ack),
            Event::MessagingLimit(e) => self.messaging_limit(&e).and(ack),
            Event::Tick(e) => {
                self.handle_timeout(e.at);
                ack
            }
            Event::ChangePolicy(e) => self.change_policy(&e).and(ack),
            // Query lines read at `max(at, clock)`, where the views refuse an instant before
            // the clock: on a stream late lines are normal (§13), and a late query answers
            // as a late `send` or `check_send` on the same line is judged, at the clock.
            Event::QueryConversation(e) => self
                .conversation(&e.number, &e.contact, e.at.max(self.clock))
                .map(Output::Conversation),
            Event::QueryNumber(e) => self
                .number_at(&e.number, e.at.max(self.clock))
                .map(Output::Number),
            Event::QueryLimit(e) => self
                .limit(&e.number, e.at.max(self.clock))
                .map(Output::Limit),
            Event::QueryTemplate(e) => self
                .template_at(&e.business, &e.name, &e.language, e.at.max(self.clock))
                .map(Output::Template),
            Event::QueryUsage(e) => self.usage_view(&e).map(Output::Usage),
        }
    }

    // ---- time ------------------------------------------------------------------------

    /// Fires every timer due at or before `now` and advances the clock. Calling it again
    /// with the same (or an earlier) `now` does nothing.
    #[inline]
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = now.max(self.clock);
        // Every input calls this, and nearly always nothing is due: that case is a
        // comparison here, and the timer loop is out of line.
        if !self.timers.nothing_due_by(now) {
            self.fire_due(now);
        }
        self.clock = now;
    }

    /// Fires the timers due by `now` (the clock or an earlier instant: a late report's
    /// consequences up to an instant of the past), each at its own instant.
    #[inline(never)]
    pub(crate) fn fire_due(&mut self, now: Instant) {
        while let Some((due, key)) = self.timers.pop_due(now) {
            self.fire(key, due);
        }
    }

    /// Fires the timers an input armed at or before the clock: a late provider report of
    /// a pause, a flag or a rating whose end or deadline has already passed (§13: applied
    /// at its own time). In order that end came before now, so its effects belong to this
    /// input's output, after the input's own; left for the next input, they would come
    /// out with another input's (under another template or number), and `poll_timeout`
    /// would name an instant already past.
    pub(crate) fn fire_passed(&mut self) {
        self.handle_timeout(self.clock);
    }

    /// When the host should call [`Engine::handle_timeout`] next: never later than the next
    /// change a timer makes, and sometimes earlier. A chat's idle timer stays where it was
    /// armed when later activity moves the deadline (moving it would cost every inbound and
    /// reply a timer update), so that wake-up finds nothing due and arms the real deadline.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// The next effect, oldest first. Effects wait until polled: the queue has no cap, and
    /// a snapshot holds the effects still queued, which the restored engine hands out again.
    /// Drain after each input, or at least before a snapshot (a host that published them
    /// already would publish them twice) and before a business export, which holds none (an
    /// effect left queued stays with this engine).
    pub fn poll_effect(&mut self) -> Option<Effect> {
        let effect = self.effects.pop_front();
        if effect.is_none() {
            // A host that drained a million effects at once gets that memory back.
            self.effects.shrink_when_sparse();
        }
        effect
    }

    /// The next effect without taking it (for hosts that must size a buffer first).
    pub fn peek_effect(&self) -> Option<&Effect> {
        self.effects.front()
    }

    /// Fires one timer as of the instant it was due, not the input's: a timer whose moment
    /// moved later since it was armed (a chat with newer activity) arms itself again at
    /// that moment, and the loop in `fire_due` then fires it in due order among the others.
    fn fire(&mut self, key: TimerKey, due: Instant) {
        match key {
            TimerKey::ChatIdle(conv) => self.chat_idle_timer(conv, due),
            TimerKey::WindowReminder(conv) => self.reminder_timer(conv, due),
            TimerKey::OutboxExpiry(conv) => self.outbox_timer(conv, due),
            TimerKey::TemplateDeadline(t) => self.template_timer(t, due),
            TimerKey::NumberFlag(n) => self.number_flag_timer(n, due),
            TimerKey::RestrictionEnd(n) => self.restriction_timer(n, due),
            TimerKey::LimitUpgrade(owner) => self.limit_upgrade_timer(owner, due),
        }
    }

    // ---- lookups ---------------------------------------------------------------------

    /// [`Engine::number_idx`] of a number on the official channel, for the platform's own
    /// reports about it (quality, restrictions, limits): on another channel `what` is
    /// [`Error::NotOnChannel`].
    pub(crate) fn official_number_idx(
        &self,
        number: &str,
        what: &'static str,
    ) -> Result<u32, Error> {
        let n = self.number_idx(number)?;
        match self.numbers[n as usize].channel {
            Channel::Official => Ok(n),
            channel => Err(Error::NotOnChannel { what, channel }),
        }
    }

    pub(crate) fn number_idx(&self, number: &str) -> Result<u32, Error> {
        match self.number_index.by_canonical_text(number) {
            Some(n) => Ok(n),
            None => self.number_idx_parsed(number),
        }
    }

    /// [`Engine::number_idx`] for numbers not given in their canonical text (and unknown
    /// ones), out of line so that the common case saves no registers for it.
    #[inline(never)]
    fn number_idx_parsed(&self, number: &str) -> Result<u32, Error> {
        let unknown = || Error::UnknownNumber {
            number: crate::error::quoted(number),
        };
        let key = (self.interner.find_address(number))
            .map_err(|e| e.in_field("number"))?
            .ok_or_else(unknown)?;
        self.number_index.get(&key).copied().ok_or_else(unknown)
    }

    /// The provider id (Meta `phone_number_id`) of a registered number, if it has one.
    pub(crate) fn provider_id_of(&self, number: &str) -> Option<String> {
        let n = self.number_idx(number).ok()?;
        self.numbers[n as usize].phone_number_id.clone()
    }

    /// The number registered with a provider id (Meta `phone_number_id`), as its text.
    pub fn number_by_provider_id(&self, phone_number_id: &str) -> Option<String> {
        self.provider_number_ids
            .get(phone_number_id)
            .map(|&n| self.display(self.numbers[n as usize].address))
    }

    pub(crate) fn business_idx(&self, business: &str) -> Result<u32, Error> {
        self.business_index
            .get(business)
            .copied()
            .ok_or_else(|| Error::UnknownBusiness {
                business: crate::error::quoted(business),
            })
    }

    pub(crate) fn template_idx(
        &self,
        business: u32,
        name: &str,
        language: &str,
    ) -> Result<u32, Error> {
        self.template_index
            .get(business, name, language)
            .ok_or_else(|| Error::UnknownTemplate {
                business: self.businesses[business as usize].name.clone(),
                name: crate::error::quoted(name),
                language: crate::error::quoted(language),
            })
    }

    /// The key of the contact `key` names at `number`: a phone number or user id linked to
    /// another name of the contact gives that name's key (see `contact_links.rs`).
    #[inline]
    pub(crate) fn contact_of(&self, number: u32, key: AddressKey) -> AddressKey {
        (self.contact_links).resolve_with(|| self.numbers[number as usize].business, key)
    }

    /// The phone number of the contact `key` at `number` (itself, or its alias when a user
    /// id keys the contact): what its market and the US marketing rule are judged by.
    pub(crate) fn contact_phone(&self, number: u32, key: AddressKey) -> Option<AddressKey> {
        let business = self.numbers[number as usize].business;
        self.contact_links.phone_of(business, key)
    }

    /// Whether `number`'s business has anything under the contact key `key` itself: a
    /// consent record or group, another name linked to it (a name that keys another cannot
    /// become an alias: the link would chain, and a snapshot holding a chain is refused on
    /// restore), or a conversation with `number` or another of its numbers (looked for
    /// last: a walk over the business's numbers).
    fn knows_contact(&self, number: u32, key: AddressKey) -> bool {
        let business = self.numbers[number as usize].business;
        self.consents.contains_key(&(business, key))
            || self.consent_groups.contains(business, key)
            || self.contact_links.keys_an_alias(business, key)
            || self.conversation_idx(number, key).is_some()
            || self.has_conversation(business, key)
    }

    /// Whether `key` has a conversation at any number of `business` (a walk over them).
    fn has_conversation(&self, business: u32, key: AddressKey) -> bool {
        (self.businesses[business as usize].numbers.iter())
            .any(|&n| self.conversation_idx(n, key).is_some())
    }

    /// Learns from a payload naming a contact by both that the phone number `phone` and the
    /// user id `user_id` are one contact of `number`'s business: a name the business has no
    /// history under becomes an alias of the other, the user id first (also a user id known
    /// only by consent given under it, its consent carried over); when both have one,
    /// they stay apart (two histories are not merged) but hold one consent from then on
    /// (`join_consent`). A user id that names another contact already moves to this pair
    /// only when `moves` (an inbound: the latest pair); either way the contact it named and
    /// this one hold one consent. The phone number is not another user's (`link_sender`
    /// handed it over first).
    fn learn_contact_link(
        &mut self,
        number: u32,
        phone: AddressKey,
        user_id: AddressKey,
        moves: bool,
    ) -> Option<LearnedLink> {
        let business = self.numbers[number as usize].business;
        let links = &self.contact_links;
        let (by_phone, by_user_id) = (
            links.resolve(business, phone),
            links.resolve(business, user_id),
        );
        if by_phone == by_user_id {
            return None;
        }
        if by_user_id != user_id && !moves {
            // Not moved (a status may name an older pair), but the provider names the two
            // contacts as one user: they hold one consent, as kept-apart names do.
            self.join_consent(business, by_phone, by_user_id);
            return None;
        }
        // An alias has no history of its own; the provider's latest pair moves it.
        let previous_phone = if by_user_id != user_id || !self.knows_contact(number, user_id) {
            // The phone number of the contact the user id reached before, when the provider
            // moved it: that contact's key, or, keyed by another user id (the user id was
            // paired with a phone number that is that user id's alias), its phone number.
            let previous_phone = (by_user_id != user_id)
                .then(|| self.contact_links.phone_of(business, by_user_id))
                .flatten();
            self.contact_links.link(business, user_id, by_phone);
            // The user's consent goes with the user id: the contact it left and its new one
            // hold one consent, so that a stop given before the move, under either name
            // and delivered in either order, is the user's, not the old phone number's
            // alone. Unless the contact left is another user's too (a state saved before
            // two user ids could no longer share a contact).
            let shared = |key: AddressKey| {
                key.phone_digits().is_none() || self.contact_links.keys_an_alias(business, key)
            };
            if by_user_id != user_id && !shared(by_user_id) {
                self.join_consent(business, by_user_id, by_phone);
            }
            previous_phone
        } else if by_phone == phone && !self.knows_contact(number, phone) {
            self.contact_links.link(business, phone, user_id);
            None
        } else if by_phone == phone
            && !self.contact_links.keys_an_alias(business, user_id)
            && !self.has_conversation(business, user_id)
        {
            // The user id is known only by consent given under it (a stop or opt-in by user
            // id, delivered before the user's first message naming both): it becomes the
            // phone number's other name, its consent carried onto the number, as in time
            // order. Kept apart, replies by user id met a closed window.
            self.join_consent(business, phone, user_id);
            self.consent_groups.leave(business, user_id);
            self.consents.remove(&(business, user_id));
            self.contact_links.link(business, user_id, phone);
            None
        } else {
            self.join_consent(business, by_phone, user_id);
            return None;
        };
        Some(LearnedLink {
            phone,
            user_id,
            previous_phone,
        })
    }

    /// Whether the phone number `phone`, named beside `user_id`, is another user's in
    /// `business`: linked to another user id (its contact's key or other name), or holding
    /// consent with names none of which is this user's. Two user ids are two users (facts
    /// §1.3), so the pair says the number changed hands, or is older than that.
    fn names_another_user(&self, business: u32, phone: AddressKey, user_id: AddressKey) -> bool {
        let links = &self.contact_links;
        let (by_phone, by_user_id) = (
            links.resolve(business, phone),
            links.resolve(business, user_id),
        );
        by_phone != by_user_id
            && (by_phone != phone
                || links.keys_an_alias(business, phone)
                || (self.consent_groups.contains(business, phone)
                    && !(self.consent_groups.names(business, phone))
                        .any(|name| name == user_id || name == by_user_id)))
    }

    /// The phone number `phone` of `number`'s business has changed hands (an inbound at
    /// `at` names it beside another user id): it becomes a name of its own, to be linked
    /// afresh to the new user id, and the host is told of each user id it leaves
    /// (`contact_unlinked`). The other name of a contact keyed by the previous owner's user
    /// id just leaves it, the contact keeping everything. A number keying a contact keeps
    /// its conversations, but not what was the previous owner's:
    /// - the user ids linked to it become names of their own, taking its consent with them
    ///   (its record and its group: consent is the user's), and the number starts afresh;
    /// - the windows, paid conversations and free entry points the previous owner opened at
    ///   the business's numbers are forgotten (a window is the pair of business number and
    ///   user's, facts §1.3): the new owner's messages, the one at `at` and any other in
    ///   whatever order, open their own;
    /// - the messages held for the previous owner are dropped, not released to the new
    ///   owner when they answer, and what they were sent is no duplicate for the new owner;
    /// - the previous owner's chat (still live only if they wrote within the idle timeout)
    ///   ends as a rule ends it, and their ticket stays theirs: the new owner's first
    ///   message starts a new one (not on email, whose tickets are the address's).
    fn hand_over(&mut self, number: u32, phone: AddressKey, at: Instant) {
        // The timers due by `at` fire first, as for any input: a reminder of a window
        // forgotten here, or a held message's expiry, due before, was owed.
        self.handle_timeout(at);
        let business = self.numbers[number as usize].business;
        let key = self.contact_links.resolve(business, phone);
        if key != phone {
            self.contact_links.unlink_phone(business, phone);
            self.contact_links.note_handover(business, phone, at, key);
            self.contact_unlinked(number, phone, key);
            return;
        }
        for user_id in self.contact_links.unlink_user_ids_of(business, phone) {
            self.join_consent(business, phone, user_id);
            self.contact_unlinked(number, phone, user_id);
        }
        // Consent naming the number alone, dated before now, is the previous owner's: any
        // other name of its group (the user ids it leaves, or one that moved to another
        // number), which hold one consent from now on.
        let previous = (self.consent_groups.names(business, phone)).find(|&name| name != phone);
        if let Some(previous) = previous {
            self.contact_links
                .note_handover(business, phone, at, previous);
        }
        self.consent_groups.leave(business, phone);
        self.consents.remove(&(business, phone));
        // What the previous owner was sent is no duplicate for the new owner (§10: "the same
        // contact"), from any number of the business.
        let to = Recipient {
            business,
            contact: phone,
        };
        self.sent_content
            .clear(to, at.plus(self.policy.dedup.content_period));
        let convs: Vec<u32> = (self.businesses[business as usize].numbers.iter())
            .filter_map(|&n| self.conversation_idx(n, phone))
            .collect();
        for conv in convs {
            self.conversations[conv as usize]
                .window
                .set(WindowState::default());
            self.timers.disarm(TimerKey::WindowReminder(conv));
            // So are the paid conversations and the free entry point the previous owner
            // opened (§11, facts §2.6: the new owner clicked no ad, and a conversation is
            // the pair's): the new owner's messages are priced afresh.
            self.billing.remove(&conv);
            self.drop_outbox(conv, OutboxDrop::NumberChangedHands);
            // Chats are the messengers' (an email conversation is a ticket from the start,
            // the address's, whoever has the phone number).
            let at_number = self.conversations[conv as usize].number;
            if self.numbers[at_number as usize].channel.has_chats() {
                self.end_live_chat(conv, ChatEndReason::Rule, None, self.clock);
                self.conversations[conv as usize].clear_ticket();
            }
        }
    }

    /// Tells the host that the user id `user_id` no longer names the phone number `phone`
    /// of `number`'s business: the number changed hands (see [`Effect::ContactUnlinked`]).
    fn contact_unlinked(&mut self, number: u32, phone: AddressKey, user_id: AddressKey) {
        self.effects.push_back(Effect::ContactUnlinked {
            number: self.number_address(number),
            phone: self.interner.address_of(phone),
            user_id: self.interner.address_of(user_id),
            at: self.clock,
        });
    }

    /// Two contacts of `business` the provider named as one user, kept apart (each had a
    /// history), hold one consent from now on: their groups join, each name holding what
    /// [`ConsentRecord::shared`] combines of the two, and every later consent event under
    /// either applies to both, whatever order the events arrive in (§13). Names without a
    /// consent record get one only when the other group has one.
    fn join_consent(&mut self, business: u32, a: AddressKey, b: AddressKey) {
        let record = |key| self.consents.get(&(business, key)).copied();
        let joined = match (record(a), record(b)) {
            (Some(a), Some(b)) => Some(ConsentRecord::shared(&a, &b)),
            (one, other) => one.or(other),
        };
        if !self.consent_groups.join(business, a, b) {
            return; // one group already: one record
        }
        if let Some(joined) = joined {
            self.update_consent(business, a, |record| *record = joined);
        }
    }

    /// Applies `change` to the consent record of the contact `contact` of `business` and of
    /// every name in its group (each given a record if it had none): the group's records
    /// stay copies of one another, since each change is the same function of the same
    /// record.
    pub(crate) fn update_consent(
        &mut self,
        business: u32,
        contact: AddressKey,
        mut change: impl FnMut(&mut ConsentRecord),
    ) {
        for name in self.consent_groups.names(business, contact) {
            change(self.consents.entry((business, name)).or_default());
        }
    }

    /// The effect of a link learned by an inbound at `number` (or a status of its send, or
    /// a preference), emitted once the timers due before the input have fired. Ids the host
    /// found by the user id may name the previous number's conversations: the effect tells
    /// it to resolve them again.
    pub(crate) fn contact_linked(&mut self, number: u32, link: LearnedLink) {
        self.effects.push_back(Effect::ContactLinked {
            number: self.number_address(number),
            phone: self.interner.address_of(link.phone),
            user_id: self.interner.address_of(link.user_id),
            previous_phone: link.previous_phone.map(|p| self.interner.address_of(p)),
            at: self.clock,
        });
    }

    pub(crate) fn conversation_idx(&self, number: u32, contact: AddressKey) -> Option<u32> {
        self.conversation_index
            .get(&self.conversations, number, contact)
    }

    /// The conversation of `number` with the contact or group `id` (the host names a group
    /// chat by its group id where a contact goes: `end_chat`, `set_ticket_status`,
    /// `query_conversation`), and the address found: a contact's conversation first, else
    /// the group's of that id. Looks up without interning.
    pub(crate) fn conversation_with(
        &self,
        number: u32,
        id: &str,
    ) -> Result<(Option<AddressKey>, Option<u32>), Error> {
        let contact = (self.interner.find_address(id))
            .map(|k| k.map(|k| self.contact_of(number, k)))
            .map_err(|e| e.in_field("contact"));
        if let Ok(Some(key)) = contact {
            if let Some(conv) = self.conversation_idx(number, key) {
                return Ok((Some(key), Some(conv)));
            }
        }
        // A group id is any opaque text, digits too (a WhatsApp group id without its
        // `@g.us`), so it is looked up as given even where it reads as a phone number.
        let group = self.interner.find_group(id).ok().flatten();
        if let Some((group, conv)) =
            group.and_then(|g| Some((g, self.conversation_idx(number, g)?)))
        {
            return Ok((Some(group), Some(conv)));
        }
        Ok((contact?, None))
    }

    pub(crate) fn conversation_or_create(
        &mut self,
        number: u32,
        contact: AddressKey,
    ) -> Result<u32, Error> {
        if let Some(i) = self.conversation_idx(number, contact) {
            return Ok(i);
        }
        // At most `u32::MAX` conversations, so the last index is `u32::MAX - 1` and no
        // conversation id is `u64::MAX` (C's `CONVSTATE_NO_CONVERSATION`).
        let i = u32::try_from(self.conversations.len())
            .ok()
            .filter(|&i| i < u32::MAX)
            .ok_or(Error::CapacityExceeded {
                what: "conversations",
                limit: u64::from(u32::MAX),
            })?;
        self.conversations.push(Conversation::new(number, contact));
        self.conversation_index.insert(number, contact, i);
        Ok(i)
    }

    /// Whom conversation `conv` sends to, for duplicates (§10): its contact, as a contact of
    /// its number's business.
    #[inline]
    pub(crate) fn recipient_of(&self, conv: u32) -> Recipient {
        let c = &self.conversations[conv as usize];
        Recipient {
            business: self.numbers[c.number as usize].business,
            contact: c.contact,
        }
    }

    /// The key of an inbound's sender or a send's recipient, checked but not interned: an
    /// opaque id the engine has not seen yet is `None` (it is no one's alias, and holds no
    /// conversation), so a lookup or a redelivery changes nothing.
    #[inline(always)]
    pub(crate) fn find_recipient(
        &self,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<Option<AddressKey>, Error> {
        match (contact, group) {
            (Some(c), None) => (self.interner.find_address(c)).map_err(|e| e.in_field("contact")),
            (None, Some(g)) => (self.interner.find_group(g)).map_err(|e| e.in_field("group")),
            _ => Err(Error::not_one_recipient(contact.is_some())),
        }
    }

    /// Resolves `contact`/`group` of a request to an address, interning an opaque id seen
    /// for the first time (exactly one must be given).
    pub(crate) fn recipient(
        &mut self,
        contact: Option<&str>,
        group: Option<&str>,
    ) -> Result<AddressKey, Error> {
        match (contact, group) {
            (Some(c), None) => (self.interner.address(c)).map_err(|e| e.in_field("contact")),
            (None, Some(g)) => (self.interner.group(g)).map_err(|e| e.in_field("group")),
            _ => Err(Error::not_one_recipient(contact.is_some())),
        }
    }

    pub(crate) fn display(&self, key: AddressKey) -> String {
        self.interner.display(key)
    }

    /// The number and contact of a conversation, as effects carry them.
    pub(crate) fn conv_names(&self, conv: u32) -> (Address, Address) {
        let c = &self.conversations[conv as usize];
        (
            self.interner
                .address_of(self.numbers[c.number as usize].address),
            self.interner.address_of(c.contact),
        )
    }

    /// A number as effects carry it.
    pub(crate) fn number_address(&self, number: u32) -> Address {
        self.interner
            .address_of(self.numbers[number as usize].address)
    }

    /// Whether any number of `business` has counted a send in a month.
    fn business_has_usage(&self, business: u32) -> bool {
        (self.usage.keys()).any(|&(n, _)| self.numbers[n as usize].business == business)
    }

    /// The month (`YYYYMM`) `at` falls in for the usage of `number`: in its business's zone.
    pub(crate) fn month_of(&self, number: u32, at: Instant) -> u32 {
        let business = self.numbers[number as usize].business;
        self.businesses[business as usize].month_key(at)
    }

    /// [`Engine::month_of`] for a send recorded at `at`, keeping the month for the next.
    pub(crate) fn month_kept(&mut self, number: u32, at: Instant) -> u32 {
        let business = self.numbers[number as usize].business;
        self.businesses[business as usize].month_key_kept(at)
    }

    pub(crate) fn idle_timeout(&self, number: u32) -> Duration {
        self.numbers[number as usize]
            .idle_timeout
            .unwrap_or(self.policy.chat.idle_timeout)
    }

    // ---- registration ----------------------------------------------------------------

    fn business_or_create(&mut self, name: &str) -> Result<u32, Error> {
        if let Some(&i) = self.business_index.get(name) {
            return Ok(i);
        }
        check_new_business_name(name)?;
        let i = self.businesses.len() as u32;
        self.businesses.push(Business {
            name: name.to_owned(),
            ..Business::default()
        });
        self.business_index.insert(name.to_owned(), i);
        Ok(i)
    }

    /// Registers a number, or updates its provider, idle timeout and default template.
    pub fn register_number(&mut self, e: &RegisterNumber) -> Result<(), Error> {
        self.register_number_in_shard(e, false)
    }

    /// [`Engine::register_number`] in one shard of a sharded engine, which knows whether
    /// another shard holds the number's provider id (`id_held_elsewhere`): then the id is
    /// another number's, refused where one engine would refuse it.
    pub(crate) fn register_number_in_shard(
        &mut self,
        e: &RegisterNumber,
        id_held_elsewhere: bool,
    ) -> Result<(), Error> {
        // Validate everything before interning anything, so errors change nothing.
        let registered = (self.interner.find_address(&e.number))
            .map_err(|e| e.in_field("number"))?
            .and_then(|address| self.number_index.get(&address).copied());
        if let Some(n) = registered {
            let owner = &self.businesses[self.numbers[n as usize].business as usize].name;
            if owner != &e.business {
                return Err(Error::number_owned_by_other(&e.number, owner, &e.business));
            }
        }
        if !self.business_index.contains_key(&e.business) {
            check_new_business_name(&e.business)?;
        }
        // An empty id would be claimed as a real one (refusing every later number given
        // it), an empty provider would replace the default that per-provider limits key on.
        if e.idle_timeout == Some(Duration::ZERO) {
            return Err(Error::InvalidEvent {
                problem: "idle_timeout must be positive: a chat would end missed as it starts"
                    .into(),
            });
        }
        for (field, id) in [
            ("phone_number_id", e.phone_number_id.as_deref()),
            ("provider", e.provider.as_deref()),
        ] {
            check_id(field, id)?;
        }
        // Providers are compared as given (lowercased): ` twilio` named a provider of its
        // own, without Twilio's file limits.
        if let Some(provider) = e.provider.as_deref().filter(|p| p.trim() != *p) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "provider {:?} begins or ends with whitespace: it would name another \
                     provider than {:?}",
                    crate::error::quoted(provider),
                    crate::error::quoted(provider.trim())
                ),
            });
        }
        // A WhatsApp number is a phone number (§1); only email and messengers have account
        // addresses. An id taken as an official number would get a window, limits and
        // pricing that no WhatsApp account behind it could have.
        if matches!(e.channel, Channel::Official | Channel::Unofficial) {
            if let Err(Error::InvalidPhoneNumber { input, problem, .. }) =
                crate::address::normalize_phone(&e.number)
            {
                return Err(Error::InvalidPhoneNumber {
                    input,
                    field: Some("number"),
                    problem: format!(
                        "{problem} (a number on the {} channel is a WhatsApp phone number; \
                         account addresses are for email and messengers)",
                        e.channel
                    ),
                });
            }
        }
        // A number may move to another channel (a phone number moving from a web bridge to
        // the Cloud API), but not with live chats or held messages: they are the old
        // channel's (§3, §4) and would outlive the rules that made them (a chat on an email
        // number, a held message no answer releases).
        if let Some(n) = registered {
            let channel = self.numbers[n as usize].channel;
            if channel != e.channel {
                self.check_channel_change(n, channel, e)?;
            }
        }
        if let Some(t) = &e.default_template {
            // Checked now: a name no template can have failed only at `initiate`.
            if let Some(actual) = crate::template::template_name_too_long(&t.name) {
                return Err(Error::InvalidEvent {
                    problem: format!(
                        "default_template.name {:?} is {actual} characters, the limit is {}",
                        crate::error::quoted(&t.name),
                        crate::template::TEMPLATE_NAME_MAX_CHARS
                    ),
                });
            }
            if !crate::template::is_template_name(&t.name) {
                return Err(Error::InvalidEvent {
                    problem: format!(
                        "default_template.name {:?} is not a template name: 1..={} lowercase \
                         letters, digits and _",
                        crate::error::quoted(&t.name),
                        crate::template::TEMPLATE_NAME_MAX_CHARS
                    ),
                });
            }
            check_template_language("default_template.language", &t.language)?;
            refuse_control_characters("default_template.language", &t.language)?;
        }
        // Months already counted in one zone would overlap those of another (and a failure
        // reported later would be taken off another month than its send's).
        if let (Some(zone), Some(&b)) = (e.timezone, self.business_index.get(&e.business)) {
            let refused = |why: String| Error::InvalidEvent {
                problem: format!(
                    "timezone {:?}: business {:?} {why}",
                    zone.name(),
                    e.business
                ),
            };
            match self.businesses[b as usize].timezone {
                Some(kept) if kept != zone => {
                    return Err(refused(format!(
                        "counts its months in {:?}, and a business's time zone does not change",
                        kept.name()
                    )))
                }
                Some(_) => {}
                None if self.business_has_usage(b) => {
                    return Err(refused(
                        "has counted sends in UTC months: name its time zone before its first \
                         send"
                            .to_owned(),
                    ))
                }
                None => {}
            }
        }
        if let Some(id) = &e.phone_number_id {
            let taken = self
                .provider_number_ids
                .get(id)
                .map(|&n| self.numbers[n as usize].address);
            let this = self.interner.find_address(&e.number)?;
            if id_held_elsewhere || (taken.is_some() && taken != this) {
                return Err(Error::phone_number_id_taken(id));
            }
        }
        let address = self.interner.address(&e.number)?;
        self.handle_timeout(e.at);
        let business = self.business_or_create(&e.business)?;
        if e.timezone.is_some() {
            let b = &mut self.businesses[business as usize];
            b.timezone = e.timezone;
            b.month = Default::default();
        }
        let provider = e.provider.as_deref().unwrap_or("meta").to_ascii_lowercase();
        let default_template = e
            .default_template
            .as_ref()
            .map(|t| (t.name.clone(), t.language.clone()));
        // A number moved (back) to a channel with a window finds its conversations' windows
        // as it left them: a reminder whose time passed while it was away is due now.
        let moved_to_window = e.channel.has_service_window()
            && (self.number_index.get(&address))
                .is_some_and(|&i| !self.numbers[i as usize].channel.has_service_window());
        match self.number_index.get(&address) {
            Some(&i) => {
                if self.numbers[i as usize].channel != e.channel {
                    self.email_number_moved(i);
                }
                let n = &mut self.numbers[i as usize];
                n.channel = e.channel;
                n.provider = provider;
                n.idle_timeout = e.idle_timeout;
                n.default_template = default_template;
                if e.phone_number_id.is_some() {
                    // A new id replaces the old one, which no longer names this number.
                    let old = std::mem::replace(&mut n.phone_number_id, e.phone_number_id.clone());
                    if let Some(old) = old.filter(|old| Some(old) != e.phone_number_id.as_ref()) {
                        self.provider_number_ids.remove(&old);
                    }
                }
            }
            None => {
                let i = self.numbers.len() as u32;
                self.businesses[business as usize].numbers.push(i);
                self.numbers.push(NumberState {
                    address,
                    business,
                    channel: e.channel,
                    provider,
                    idle_timeout: e.idle_timeout,
                    default_template,
                    counters: NumberCounters::default(),
                    quality: Quality::Unknown,
                    flagged_until: None,
                    limit_level_at_flag: None,
                    downgraded_at_deadline: None,
                    restrictions: Default::default(),
                    phone_number_id: e.phone_number_id.clone(),
                    recovered_at: None,
                    repeated_low: None,
                    recent_ratings: Default::default(),
                    expired_flag: None,
                    quality_event: ProviderOrder::default(),
                    limit_event: ProviderOrder::default(),
                    restriction_event: Default::default(),
                });
                self.number_index.insert(address, i);
            }
        }
        let number = self.number_index[&address];
        if moved_to_window {
            self.remind_after_move(number);
        }
        if let Some(id) = &e.phone_number_id {
            self.provider_number_ids.insert(id.clone(), number);
        }
        if e.channel.has_service_window() {
            // From the registration's own instant, not the clock: a late registration (after
            // another business's later input) holds its level from when it was made, as it
            // does in a shard of its own or a partition that never saw that input.
            self.ensure_limit(number, e.at);
        }
        // A shorter idle timeout brings live chats' deadlines forward: wake them in time
        // (arming only ever moves a wake-up earlier, so a longer timeout needs nothing).
        let idle = self.idle_timeout(number);
        let live: Vec<(u32, Instant)> = self
            .live_chats()
            .filter(|(c, _)| self.conversations[*c as usize].number == number)
            .map(|(c, chat)| (c, chat.last_activity_at.plus(idle)))
            .collect();
        for (conv, deadline) in live {
            if deadline > self.clock {
                self.timers.arm(TimerKey::ChatIdle(conv), deadline);
            } else {
                // Already idle longer than the new timeout: the chat ends now, at the
                // change. Dated at its new deadline, it would end before an instant at which
                // earlier outputs showed it live (and `end_chat` found it).
                self.end_live_chat(conv, ChatEndReason::Idle, None, self.clock);
            }
        }
        Ok(())
    }

    /// Refuses to move number `n` from `channel` to `e.channel` while it has live chats or
    /// held messages, naming what the host must end first.
    fn check_channel_change(
        &self,
        n: u32,
        channel: Channel,
        e: &RegisterNumber,
    ) -> Result<(), Error> {
        let ours = |conv: &u32| self.conversations[*conv as usize].number == n;
        // As of the move's instant, which fires the timers due by then before the move
        // applies (§13): a chat idle for its timeout has ended and a held message past its
        // hold has expired, timer fired or not (as the views and `end_chat` say). Counted,
        // they refused the move and named chats `end_chat` then refused as not live.
        let at = e.at.max(self.clock);
        let chats = (self.live_chats())
            .filter(|(conv, chat)| ours(conv) && self.chat_still_live(n, chat, at))
            .count();
        let held: usize = self
            .outbox
            .iter()
            .filter(|(conv, _)| ours(conv))
            .map(|(_, held)| held.iter().filter(|h| h.expires_at > at).count())
            .sum();
        // Counted in words that agree with the count: "1 live chats" read as a slip.
        let chats = match chats {
            0 => None,
            1 => Some("1 live chat (end it with end_chat first)".to_owned()),
            n => Some(format!("{n} live chats (end them with end_chat first)")),
        };
        let held = match held {
            0 => None,
            1 => Some("1 held message (released by an answer, or expired)".to_owned()),
            n => Some(format!(
                "{n} held messages (released by an answer, or expired)"
            )),
        };
        let what = match (chats, held) {
            (None, None) => return Ok(()),
            (Some(what), None) | (None, Some(what)) => what,
            (Some(chats), Some(held)) => format!("{chats} and {held}"),
        };
        Err(Error::InvalidEvent {
            problem: format!(
                "number {:?} cannot move from the {channel} channel to the {} channel while \
                 it has {what}: they are the {channel} channel's",
                crate::error::quoted(&e.number),
                e.channel
            ),
        })
    }

    /// Registers (or replaces) a template after validating it (§5).
    pub fn register_template(&mut self, e: &RegisterTemplate) -> Result<(), Error> {
        let spec = e.spec();
        let variables = spec.checked(&self.policy)?;
        check_template_language("language", &spec.language)?;
        refuse_control_characters("language", &spec.language)?;
        // Checked before the due timers fire, so that a refusal changes nothing.
        if !self.business_index.contains_key(&e.business) {
            check_new_business_name(&e.business)?;
        }
        self.handle_timeout(e.at);
        let business = self.business_or_create(&e.business)?;
        // A template registered as flagged gets the policy's deadline, as if flagged now.
        let flag_deadline = (e.status == TemplateStatus::Flagged)
            .then(|| self.clock.plus(self.policy.templates.flag_for));
        // A replaced template with other text is other content from now on (§10).
        let previous = self
            .template_index
            .get(business, &spec.name, &spec.language)
            .map(|i| &self.templates[i as usize]);
        let text_changed_at = previous.and_then(|old| old.text_changed_at_with(&spec, e.at));
        let template = Template {
            business,
            spec,
            variables,
            status: e.status,
            quality: e.quality,
            paused_until: None,
            // Registered paused: paused as of the registration (a late end dated after it
            // still ends the pause).
            paused_at: (e.status == TemplateStatus::Paused).then_some(e.at),
            flag_deadline,
            pause_strikes: 0,
            counted_pauses: Vec::new(),
            rateable_changes: Vec::new(),
            edits: Vec::new(),
            awaiting_reinstatement: e.status == TemplateStatus::Disabled,
            last_provider_event_at: None,
            reinstating_report_at: None,
            quality_status_at: None,
            quality_event: ProviderOrder::default(),
            category_event: ProviderOrder::default(),
            components_event: ProviderOrder::default(),
            status_event: ProviderOrder::default(),
            disabled_at_deadline: None,
            recovered_at: None,
            recent_ratings: RecentRatings::default(),
            recent_reports: RecentReports::default(),
            cut_pause: None,
            flagged_at: flag_deadline.map(|_| self.clock),
            flag_lifted_at: None,
            text_changed_at,
            locked: false,
            lock_event: ProviderOrder::default(),
            failure_pause_at: None,
            registered_at: Some(e.at),
            disable_undo: None,
        };
        let index =
            match self
                .template_index
                .get(business, &template.spec.name, &template.spec.language)
            {
                Some(i) => {
                    self.templates[i as usize] = template;
                    i
                }
                None => {
                    let i = self.templates.len() as u32;
                    self.template_index.insert(
                        business,
                        &template.spec.name,
                        &template.spec.language,
                        i,
                    );
                    self.templates.push(template);
                    i
                }
            };
        // A re-registered template starts afresh: no pause or flag timer of the old one.
        self.timers.disarm(TimerKey::TemplateDeadline(index));
        if let Some(deadline) = flag_deadline {
            self.timers.arm(TimerKey::TemplateDeadline(index), deadline);
        }
        Ok(())
    }

    // ---- inbound ---------------------------------------------------------------------

    /// A message or call from a contact (or a group, on the unofficial channel):
    /// [`InboundOutcome::Redelivered`] for a message whose `message_id` the engine had
    /// already taken from its sender (the provider delivered it again, §10), which changed
    /// nothing, so that a host storing messages does not store one twice.
    pub fn inbound(&mut self, e: &Inbound) -> Result<InboundOutcome, Error> {
        self.inbound_borrowed(e.borrowed())
    }

    /// [`Engine::inbound`] over borrowed text, for hosts that hold the strings themselves
    /// (the C library): nothing is copied.
    pub fn inbound_borrowed(&mut self, e: InboundRef<'_>) -> Result<InboundOutcome, Error> {
        let number = self.number_idx(e.number)?;
        check_id("message_id", e.message_id)?;
        let channel = self.numbers[number as usize].channel;
        // Both a contact and a group is the event's own fault, reported by `recipient` below
        // whatever the channel (which must not intern the group first).
        if e.group.is_some() && e.contact.is_none() && !channel.allows_groups() {
            return Err(Error::NotOnChannel {
                what: "a group message",
                channel,
            });
        }
        let known = match e.user_id {
            None => self.find_recipient(e.contact, e.group)?,
            Some(user_id) => Some(self.sender_beside(e.contact, e.group, user_id, channel)?),
        };
        if self.inbound_seen(e.message_id, number, known, e.at) {
            return Ok(InboundOutcome::Redelivered); // delivered again (§10)
        }
        let contact = match known {
            Some(key) => key,
            None => self.recipient(e.contact, e.group)?,
        };
        let (learned, user_ids_own) = match e.user_id {
            Some(user_id) => self.link_sender(number, contact, user_id, true, e.at)?,
            None => (None, None),
        };
        let sender = contact;
        // A message dated before the phone number last changed hands is its sender's, the
        // user id's (`link_sender`).
        let contact = user_ids_own.unwrap_or_else(|| self.contact_of(number, contact));
        self.handle_timeout(e.at);
        let now = self.clock;
        if let Some(link) = learned {
            self.contact_linked(number, link);
        }
        let conv = self.conversation_or_create(number, contact)?;
        self.remember_inbound(e.message_id, number, sender);
        tally(&mut self.numbers[number as usize].counters.inbound, 1);

        let opens_window = channel.has_service_window()
            && (e.kind.is_user_message()
                || e.kind == InboundKind::Call
                || (e.kind == InboundKind::Reaction && self.policy.window.reaction_opens_window)
                || (e.kind == InboundKind::RequestWelcome
                    && self.policy.window.request_welcome_opens(e.at)));
        if opens_window {
            self.window_inbound(conv, e.at, now);
        }
        if e.kind.is_user_message() {
            self.conversations[conv as usize].has_written = true;
            if e.referral && channel.has_service_window() {
                // Like the window, the answer period runs from the message's own time.
                self.record_referral(conv, e.at);
            }
        }
        if let Some(size) = e.size.filter(|_| e.kind.carries_file()) {
            let limit = self.policy.content_on(channel).inbound_file_max_bytes;
            if size > limit {
                let (number, contact) = self.conv_names(conv);
                self.effects.push_back(Effect::InboundFileTooLarge {
                    number,
                    contact,
                    limit_bytes: limit,
                    actual_bytes: size,
                    at: now,
                });
            }
        }
        if channel.has_chats() {
            self.chat_activity(conv, e.kind, e.at, now);
        } else if e.kind.is_user_message() {
            self.email_inbound(conv, e.at, now);
        }
        Ok(InboundOutcome::Taken)
    }

    /// [`Engine::inbound_borrowed`] answered as [`Engine::handle`] and the JSON door answer
    /// it: an ack, `redelivered` for a message already taken (the webhook door reports it
    /// skipped).
    pub(crate) fn inbound_acked(&mut self, e: InboundRef<'_>) -> Result<Output, Error> {
        self.inbound_borrowed(e).map(|outcome| Output::Ack {
            of: "inbound",
            redelivered: outcome == InboundOutcome::Redelivered,
            unmatched: false,
        })
    }

    /// The key of an inbound's sender (or a status's recipient), who must be named by a
    /// phone number beside their `user_id` (checked too), on the official channel. Interns
    /// nothing, so that an error changes nothing.
    // Out of line, as `link_sender`: few inbounds name both, and inlined into `inbound` the
    // checks cost every inbound about 20 instructions.
    #[cold]
    #[inline(never)]
    pub(crate) fn sender_beside(
        &self,
        contact: Option<&str>,
        group: Option<&str>,
        user_id: &str,
        channel: Channel,
    ) -> Result<AddressKey, Error> {
        if !channel.has_service_window() {
            // Business-scoped user ids are the WhatsApp Business Platform's.
            return Err(Error::NotOnChannel {
                what: "a business-scoped user id",
                channel,
            });
        }
        if contact.is_some() && group.is_some() {
            return Err(Error::contact_and_group());
        }
        // A phone number always has a key; a malformed one is its own error.
        let phone = match contact {
            Some(contact) => {
                (self.interner.find_address(contact)).map_err(|e| e.in_field("contact"))?
            }
            None => None,
        };
        let Some(phone) = phone.filter(|k| k.phone_digits().is_some()) else {
            return Err(Error::InvalidEvent {
                problem: "\"user_id\" names the contact beside a phone number in \"contact\", \
                          and there is none"
                    .into(),
            });
        };
        crate::address::check_user_id(user_id).map_err(|e| e.in_field("user_id"))?;
        Ok(phone)
    }

    /// Links an inbound's sender (or a status's recipient), the phone number `contact`, to
    /// their `user_id` (checked by `sender_beside`); `moves` as for `learn_contact_link`.
    /// A pair naming a phone number another user's (`names_another_user`) says the number
    /// changed hands when it is an inbound's, the latest pair (`hand_over`, then linked
    /// afresh); a status or a preference, which may be older than the change or come
    /// before the inbound that tells it, learns nothing, and is about the user id's contact
    /// alone, which is returned beside: the one the event's consent is about. So is an
    /// inbound dated before the number's current owner last wrote with it (the previous
    /// owner's, delivered late): the user id's contact is the one it came from.
    #[cold]
    #[inline(never)]
    pub(crate) fn link_sender(
        &mut self,
        number: u32,
        contact: AddressKey,
        user_id: &str,
        moves: bool,
        at: Instant,
    ) -> Result<(Option<LearnedLink>, Option<AddressKey>), Error> {
        let user_id = (self.interner.address(user_id)).map_err(|e| e.in_field("user_id"))?;
        let business = self.numbers[number as usize].business;
        let links = &self.contact_links;
        // An inbound dated before the user id's latest pair (the user wrote from the number
        // they left, delivered late) moves it back no more than a status does.
        let moves = moves && !links.older_than_latest(business, user_id, at);
        if self.names_another_user(business, contact, user_id) {
            // An inbound dated before the number's latest pair is older than the change of
            // hands: the previous owner's message, delivered late. It is theirs, as a
            // status's pair is, and hands nothing over.
            let older = links.older_than_latest(business, contact, at);
            if !moves || older {
                return Ok((None, Some(self.contact_links.resolve(business, user_id))));
            }
            self.hand_over(number, contact, at);
        }
        let learned = self.learn_contact_link(number, contact, user_id, moves);
        if moves {
            (self.contact_links).note_inbound_pair(business, contact, user_id, at);
        }
        Ok((learned, None))
    }

    fn window_inbound(&mut self, conv: u32, at: Instant, now: Instant) {
        let c = &mut self.conversations[conv as usize];
        let mut window = c.window.get();
        let moved = window.record_inbound(at);
        c.window.set(window);
        if !moved {
            return;
        }
        c.reminded = false;
        let policy = &self.policy.window;
        let Some(end) = window.ends_at(policy) else {
            return;
        };
        if now >= end {
            // A late inbound whose window already passed: it answered the openers sent
            // before it all the same.
            self.openers_answered(conv, at);
            return;
        }
        if policy.reminder_lead.is_some() {
            // Arms the reminder, or, for a late inbound whose window is already within the
            // lead, emits it: this input's, not the next one's (whose timers fire before it,
            // under whichever contact it names).
            self.timers.disarm(TimerKey::WindowReminder(conv));
            self.reminder_timer(conv, now);
        }
        // Held messages are released only when they may go out: a window that a late
        // inbound opened and that is already inside its safety margin refuses free-form
        // sends (§2), and released messages would be lost; they stay held (§4) until an
        // answer opens a window they fit in, or they expire. So does a restriction that
        // bars replies (§6): they stay held, awaited, and its end releases them if the
        // window is open then (`release_after_restriction`). Nearly always nothing is
        // held: that case is one comparison.
        if !self.outbox.is_empty() {
            if !self.policy.window.free_form_fits(end, now) {
                self.openers_answered(conv, at);
            } else if !self.replies_barred(self.conversations[conv as usize].number, now) {
                self.release_outbox(conv, now);
            }
        }
    }

    /// A number moved back to the official channel: each of its open windows not yet
    /// reminded of gets its reminder armed, or, when the reminder's time passed while the
    /// number had no window (its timer then fired for nothing), emitted with the move, as a
    /// late inbound already within the lead has it. A rare input: a scan of the
    /// conversations, as the move's check of live chats.
    #[cold]
    #[inline(never)]
    fn remind_after_move(&mut self, number: u32) {
        if self.policy.window.reminder_lead.is_none() {
            return;
        }
        let now = self.clock;
        for conv in 0..self.conversations.len() as u32 {
            if self.conversations[conv as usize].number == number {
                self.reminder_timer(conv, now);
            }
        }
    }

    fn reminder_timer(&mut self, conv: u32, now: Instant) {
        let Some(lead) = self.policy.window.reminder_lead else {
            return;
        };
        let c = &self.conversations[conv as usize];
        // A number moved off the official channel keeps its conversations' window state,
        // and the reminder armed for it, but has no window there (§1): nothing to remind
        // of. Checked when the timer fires, so a number moved back in time still reminds.
        if !self.numbers[c.number as usize].channel.has_service_window() {
            return;
        }
        let Some(end) = c.window.get().ends_at(&self.policy.window) else {
            return;
        };
        if c.reminded || now >= end {
            return;
        }
        let due = end.minus(lead);
        if due > now {
            self.timers.arm(TimerKey::WindowReminder(conv), due);
            return;
        }
        self.conversations[conv as usize].reminded = true;
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::WindowClosingSoon {
            number,
            contact,
            window_ends_at: end,
            at: due.max(self.clock),
        });
    }

    /// A provider error on an earlier send. Meta 131047 (On-Premises 470) means the contact
    /// is outside the window: authoritative, the window is closed from then on.
    pub fn send_failed(&mut self, e: &SendFailed) -> Result<(), Error> {
        let number = self.number_idx(&e.number)?;
        let contact = (self.interner.address(&e.contact)).map_err(|e| e.in_field("contact"))?;
        let contact = self.contact_of(number, contact);
        self.handle_timeout(e.at);
        // Only the official channel has a window to close (§1): elsewhere the code names
        // nothing, and no conversation is made for it.
        if !matches!(e.code, OUTSIDE_WINDOW_CLOUD | OUTSIDE_WINDOW_ON_PREMISES)
            || !self.numbers[number as usize].channel.has_service_window()
        {
            return Ok(());
        }
        let conv = self.conversation_or_create(number, contact)?;
        self.close_window_by_provider(conv, e.at);
        Ok(())
    }

    /// The provider said the contact is outside the window at `at`: closed from then on.
    /// A repeated or older report changes nothing. A report older than the contact's latest
    /// inbound is kept (an older inbound arriving later must not reopen the window) but
    /// announces nothing: that inbound reopened the window, which stays open.
    pub(crate) fn close_window_by_provider(&mut self, conv: u32, at: Instant) {
        // A number without a service window (unofficial, messenger, email: §1) has none to
        // close: announcing one would have the host stop replying where no window applies.
        let number = self.conversations[conv as usize].number;
        if !self.numbers[number as usize].channel.has_service_window() {
            return;
        }
        let c = &mut self.conversations[conv as usize];
        let mut window = c.window.get();
        let before = window.ends_at(&self.policy.window);
        if !window.record_provider_close(at) {
            return;
        }
        c.window.set(window);
        if window.last_inbound_at.is_some_and(|opened| opened > at) {
            return;
        }
        // No reminder for a window that is closed: its timer would wake the host for nothing
        // (`poll_timeout`); a newer inbound arms it again.
        self.timers.disarm(TimerKey::WindowReminder(conv));
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::WindowClosedByProvider {
            number,
            contact,
            local_window_ends_at: before,
            at,
        });
    }

    // ---- consent ---------------------------------------------------------------------

    fn consent_business(&self, business: Option<&str>, number: Option<&str>) -> Result<u32, Error> {
        let number_business = |n| Ok(self.numbers[self.number_idx(n)? as usize].business);
        match (business, number) {
            (Some(b), None) => self.business_idx(b),
            (None, Some(n)) => number_business(n),
            // Both: they must agree, or the consent would land on a business the host did
            // not mean.
            (Some(b), Some(n)) => {
                let business = self.business_idx(b)?;
                if number_business(n)? != business {
                    return Err(Error::not_a_number_of(n, b));
                }
                Ok(business)
            }
            (None, None) => Err(Error::InvalidEvent {
                problem: "missing field \"business\" (or \"number\")".into(),
            }),
        }
    }

    /// A contact opted in to business-initiated messages of the business (§9).
    pub fn opt_in(&mut self, e: &Consent) -> Result<(), Error> {
        self.record_consent(e, true)
    }

    /// A contact withdrew their opt-in.
    pub fn opt_out(&mut self, e: &Consent) -> Result<(), Error> {
        self.record_consent(e, false)
    }

    /// The provider's word on a messaging limit (a level of the policy). Limits are the
    /// official channel's (§7): a report for another channel's number is refused, since under
    /// a business-wide limit it would move the limit of the business's WhatsApp numbers.
    pub fn messaging_limit(&mut self, e: &MessagingLimitUpdate) -> Result<(), Error> {
        let n = self.official_number_idx(&e.number, "a messaging limit")?;
        self.provider_limit(n, e.limit, e.at)
    }

    fn record_consent(&mut self, e: &Consent, opted_in: bool) -> Result<(), Error> {
        let business = self.consent_business(e.business.as_deref(), e.number.as_deref())?;
        let contact = (self.interner.address(&e.contact)).map_err(|e| e.in_field("contact"))?;
        // Dated before the number changed hands, it is the previous owner's.
        let contact = self.contact_links.consent_contact(business, contact, e.at);
        self.handle_timeout(e.at);
        self.update_consent(business, contact, |record| {
            // Consent stands as of its latest event, whatever order they arrive in (§13):
            // an older one changes nothing, and of an opt-in and an opt-out at one instant
            // the opt-out stands.
            let stands = match (record.opted_in_at, record.opted_out_at) {
                (Some(since), _) => e.at > since || (e.at == since && !opted_in),
                (None, Some(since)) => e.at > since,
                (None, None) => true,
            };
            if stands {
                record.opted_in_at = opted_in.then_some(e.at);
                record.opted_out_at = (!opted_in).then_some(e.at);
            }
        });
        Ok(())
    }

    /// A contact stopped or resumed marketing messages (§9).
    pub fn user_preference(&mut self, e: &UserPreference) -> Result<(), Error> {
        let number = self.number_idx(&e.number)?;
        let business = self.numbers[number as usize].business;
        // Both names link them, as a status naming both does (never moving a user id
        // another contact has: a preference, too, may come late).
        let (learned, user_id, another_users) = match e.user_id.as_deref() {
            Some(user_id) => {
                let channel = self.numbers[number as usize].channel;
                let phone = self.sender_beside(Some(&e.contact), None, user_id, channel)?;
                let (learned, another_users) =
                    self.link_sender(number, phone, user_id, false, e.at)?;
                let key = (self.interner.address(user_id)).map_err(|e| e.in_field("user_id"))?;
                (learned, Some(key), another_users)
            }
            None => (None, None, None),
        };
        let contact = (self.interner.address(&e.contact)).map_err(|e| e.in_field("contact"))?;
        // A phone number another user's now (or not yet the user's): the preference is the
        // user id's alone. Naming the number alone, dated before it changed hands, it is
        // the previous owner's.
        let contact = match (another_users, user_id) {
            (Some(user), _) => user,
            (None, Some(_)) => self.contact_links.resolve(business, contact),
            (None, None) => self.contact_links.consent_contact(business, contact, e.at),
        };
        // The user who said it is the user id's contact too where the two stay apart (both
        // had a history, or the user id is another phone number's alias): a stop that
        // reached only one name let marketing reach the user by the other (§9).
        let also = user_id
            .map(|key| self.contact_links.resolve(business, key))
            .filter(|&key| key != contact);
        self.handle_timeout(e.at);
        if let Some(link) = learned {
            self.contact_linked(number, link);
        }
        for contact in std::iter::once(contact).chain(also) {
            self.update_consent(business, contact, |record| {
                if record.preference_event.admit(e.at, &e.value) {
                    record.marketing_stopped_at = match e.value {
                        PreferenceValue::Stop => Some(e.at),
                        PreferenceValue::Resume => None,
                    };
                } // else a late or repeated preference (§10)
            });
        }
        Ok(())
    }

    // ---- views -----------------------------------------------------------------------

    /// `at` for a view: the clock or a later instant. The engine keeps no history (a
    /// window's earlier end, a flag since cleared are gone), so a view of an instant before
    /// its clock would mix then and now; it is refused with [`Error::ViewBeforeClock`].
    pub(crate) fn view_instant(&self, at: Instant) -> Result<Instant, Error> {
        if at < self.clock {
            return Err(Error::ViewBeforeClock {
                at,
                clock: self.clock,
            });
        }
        Ok(at)
    }

    /// The state of one conversation as of `at` (never mutates), the engine's clock or a
    /// later instant: the window, live chat and held messages as they stand then if no input
    /// comes in between. An `at` before the clock is [`Error::ViewBeforeClock`]. Views of
    /// unknown contacts are returned as an empty conversation.
    pub fn conversation(
        &self,
        number: &str,
        contact: &str,
        at: Instant,
    ) -> Result<ConversationView, Error> {
        let at = self.view_instant(at)?;
        let n = self.number_idx(number)?;
        let (key, conv) = self.conversation_with(n, contact)?;
        let business = self.numbers[n as usize].business;
        let consent = key
            .and_then(|k| self.consents.get(&(business, k)))
            .copied()
            .unwrap_or_default();
        let number_name = self.display(self.numbers[n as usize].address);
        let contact_name = key
            .map(|k| self.display(k))
            .unwrap_or_else(|| contact.to_owned());
        let official = self.numbers[n as usize].channel.has_service_window();
        let view = match conv {
            Some(i) => {
                let c = &self.conversations[i as usize];
                let window = c.window.get();
                ConversationView {
                    number: number_name,
                    contact: contact_name,
                    window_open: !official || window.is_open(&self.policy.window, at),
                    window_ends_at: if official {
                        window.ends_at(&self.policy.window)
                    } else {
                        None
                    },
                    // A chat whose idle deadline has passed has ended, tick or no tick.
                    chat: self
                        .live_chat(i)
                        .filter(|chat| self.chat_still_live(n, chat, at)),
                    ticket: c.ticket(),
                    ticket_responses: self.ticket_responses_of(i),
                    // Held messages expire at their instant, and are released at the end
                    // of a restriction that kept them, tick or no tick.
                    outbox_held: self.outbox.get(&i).map_or(0, |held| {
                        if self.released_by_restriction_end(i, at) {
                            return 0;
                        }
                        held.iter().filter(|h| h.expires_at > at).count() as u32
                    }),
                    opted_in: consent.opted_in_at.is_some(),
                    marketing_stopped: consent.marketing_barred_since().is_some(),
                }
            }
            None => ConversationView {
                number: number_name,
                contact: contact_name,
                window_open: !official,
                window_ends_at: None,
                chat: None,
                ticket: None,
                ticket_responses: None,
                outbox_held: 0,
                opted_in: consent.opted_in_at.is_some(),
                marketing_stopped: consent.marketing_barred_since().is_some(),
            },
        };
        Ok(view)
    }

    /// A number's registration and counters, as of the engine's clock.
    pub fn number(&self, number: &str) -> Result<NumberView, Error> {
        self.number_at(number, self.clock)
    }

    /// A number's registration and status as of `at`, the engine's clock or a later instant
    /// (the flag and restrictions as they stand then if no input comes in between); its
    /// counters as of the engine's clock (a chat that idles out by `at` is counted when its
    /// timer fires: [`Engine::handle_timeout`] at `at` first for counters as of then). An
    /// `at` before the clock is [`Error::ViewBeforeClock`].
    pub fn number_at(&self, number: &str, at: Instant) -> Result<NumberView, Error> {
        let at = self.view_instant(at)?;
        Ok(self.number_view(&self.numbers[self.number_idx(number)? as usize], at))
    }

    fn number_view(&self, n: &NumberState, at: Instant) -> NumberView {
        NumberView {
            number: self.display(n.address),
            business: self.businesses[n.business as usize].name.clone(),
            channel: n.channel,
            provider: n.provider.clone(),
            idle_timeout: n.idle_timeout.unwrap_or(self.policy.chat.idle_timeout),
            quality: n.quality,
            flagged_until: n.flagged_until.filter(|deadline| *deadline > at),
            restriction: n.restrictions.widest_at(at),
            restrictions: n.restrictions.active_at(at).collect(),
            counters: n.counters.clone(),
        }
    }

    /// A template's status and quality.
    pub fn template(
        &self,
        business: &str,
        name: &str,
        language: &str,
    ) -> Result<TemplateView, Error> {
        self.template_at(business, name, language, self.clock)
    }

    /// A template's status as of `at`, the engine's clock or a later instant (an ended pause
    /// shows `approved`, or `flagged` if it kept a flag, a passed flag deadline `disabled`,
    /// tick or no tick). An `at` before the clock is [`Error::ViewBeforeClock`].
    pub fn template_at(
        &self,
        business: &str,
        name: &str,
        language: &str,
        at: Instant,
    ) -> Result<TemplateView, Error> {
        let at = self.view_instant(at)?;
        let b = self.business_idx(business)?;
        let t = &self.templates[self.template_idx(b, name, language)? as usize];
        Ok(self.template_view(t, at))
    }

    fn template_view(&self, t: &Template, at: Instant) -> TemplateView {
        let (status, until) = t.status_at(at);
        TemplateView {
            business: self.businesses[t.business as usize].name.clone(),
            name: t.spec.name.clone(),
            language: t.spec.language.clone(),
            category: t.spec.category,
            status,
            until,
            flagged_until: t.flagged_until_at(status),
            quality: t.quality,
            variables: t.variables.count(),
            pause_strikes: t.pause_strikes,
            locked: t.locked,
        }
    }

    /// A month's usage of a number or of a whole business, as `query_usage` answers it:
    /// the month named, or by default the month of `at` where the business counts its
    /// months. Exactly one of `number` and `business`, else [`Error::InvalidEvent`].
    pub fn usage_view(&self, e: &UsageRef) -> Result<UsageView, Error> {
        // By default the month of `at` where the business counts its months. An unknown
        // number or business (or neither or both named) is refused below.
        let business = match (&e.number, &e.business) {
            (Some(n), None) => (self.number_idx(n).ok()).map(|n| self.numbers[n as usize].business),
            (None, Some(b)) => self.business_idx(b).ok(),
            _ => None,
        };
        let month = match e.month_key()? {
            Some(month) => month,
            None => business.map_or(e.at.month_key(), |b| {
                self.businesses[b as usize].month_key(e.at)
            }),
        };
        let (of, usage) = match (&e.number, &e.business) {
            (Some(n), None) => {
                let usage = self.usage(n, month)?;
                (
                    self.display(self.numbers[self.number_idx(n)? as usize].address),
                    usage,
                )
            }
            (None, Some(b)) => (b.clone(), self.business_usage(b, month)?),
            _ => {
                return Err(Error::InvalidEvent {
                    problem: "query_usage needs exactly one of \"number\" or \"business\"".into(),
                })
            }
        };
        Ok(UsageView {
            of,
            month: format!("{:04}-{:02}", month / 100, month % 100),
            usage,
            currency: self
                .policy
                .pricing
                .rate_card
                .as_ref()
                .map(|c| c.currency.clone()),
        })
    }

    /// Names of all businesses, in registration order.
    pub fn businesses(&self) -> impl Iterator<Item = &str> {
        self.businesses.iter().map(|b| b.name.as_str())
    }

    /// Views of all numbers, in registration order.
    pub fn numbers(&self) -> impl Iterator<Item = NumberView> + '_ {
        self.numbers.iter().map(|n| self.number_view(n, self.clock))
    }

    /// Views of all templates, in registration order, as of the engine's clock.
    pub fn templates(&self) -> impl Iterator<Item = TemplateView> + '_ {
        self.templates
            .iter()
            .map(|t| self.template_view(t, self.clock))
    }

    /// The contacts (and groups) a number has conversations with, in first-seen order.
    pub fn contacts(&self, number: &str) -> Result<Vec<String>, Error> {
        let n = self.number_idx(number)?;
        Ok(self
            .conversations
            .iter()
            .filter(|c| c.number == n)
            .map(|c| self.display(c.contact))
            .collect())
    }

    /// Number of conversations held.
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// Number of live chats at the engine's clock. Counted when asked (a scan of the
    /// conversations, for inspection), not kept in step on every chat start and end. A chat
    /// whose idle deadline has passed has ended, tick or no tick, as the conversation view
    /// says (an import that moves the clock fires no timer).
    pub fn live_chat_count(&self) -> usize {
        self.live_chats()
            .filter(|(conv, chat)| {
                let number = self.conversations[*conv as usize].number;
                self.chat_still_live(number, chat, self.clock)
            })
            .count()
    }

    /// Whether a live chat at `number` has not yet reached its idle deadline at `at`. A
    /// deadline past the last instant the engine accepts is held at it, and its timer fires
    /// only when called at that instant: the chat is live until then.
    fn chat_still_live(&self, number: u32, chat: &LiveChat, at: Instant) -> bool {
        let deadline = chat.last_activity_at.plus(self.idle_timeout(number));
        deadline > at || deadline.unix_millis() == crate::time::MAX_INSTANT_MS
    }

    /// Live chats by conversation index, in index order (snapshots, exports, and a number's
    /// changed idle timeout).
    pub(crate) fn live_chats(&self) -> impl Iterator<Item = (u32, LiveChat)> + '_ {
        (0..self.conversations.len() as u32).filter_map(|i| Some((i, self.live_chat(i)?)))
    }

    pub(crate) fn new_ticket(&mut self, conv: u32, at: Instant) -> Ticket {
        let ticket = Ticket {
            id: self.next_ticket,
            status: TicketStatus::Open,
        };
        // It stops at MAX_NEXT_TICKET, which 2^63 tickets would take to reach (restores and
        // imports refuse a counter past it): it never wraps to 0, the id of no ticket, and
        // the state saved after restores.
        self.next_ticket = (self.next_ticket + 1).min(MAX_NEXT_TICKET);
        self.conversations[conv as usize].set_ticket(ticket);
        let number = self.conversations[conv as usize].number;
        tally(
            &mut self.numbers[number as usize].counters.tickets_opened,
            1,
        );
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::TicketOpened {
            number,
            contact,
            ticket: ticket.id,
            at,
        });
        ticket
    }

    pub(crate) fn change_ticket_status(&mut self, conv: u32, to: TicketStatus, at: Instant) {
        let Some(mut ticket) = self.conversations[conv as usize].ticket() else {
            return;
        };
        let from = ticket.status;
        if from == to {
            return;
        }
        ticket.status = to;
        self.conversations[conv as usize].set_ticket(ticket);
        let unanswered_since = self.email_ticket_status(conv, to);
        let id = ticket.id;
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::TicketStatusChanged {
            number,
            contact,
            ticket: id,
            from,
            to,
            unanswered_since,
            at,
        });
    }

    pub(crate) fn end_live_chat(
        &mut self,
        conv: u32,
        reason: ChatEndReason,
        status: Option<TicketStatus>,
        at: Instant,
    ) {
        let Some(chat) = self.live_chat(conv) else {
            return;
        };
        self.set_live_chat(conv, None);
        self.timers.disarm(TimerKey::ChatIdle(conv));
        let missed = reason == ChatEndReason::Idle && chat.first_response_at.is_none();
        let first_response_after = chat.first_response_at.map(|t| t.since(chat.started_at));
        let number = self.conversations[conv as usize].number;
        let counters = &mut self.numbers[number as usize].counters;
        match reason {
            ChatEndReason::Agent => tally(&mut counters.chats_ended_by_agent, 1),
            ChatEndReason::Idle => tally(&mut counters.chats_ended_by_idle, 1),
            ChatEndReason::Rule => tally(&mut counters.chats_ended_by_rule, 1),
        }
        tally(&mut counters.chats_missed, u64::from(missed));
        if let Some(d) = first_response_after {
            tally(&mut counters.first_response_total_ms, d.millis() as u64);
            tally(&mut counters.first_responses, 1);
        }
        tally(&mut counters.responses, chat.responses);
        tally(
            &mut counters.response_total_ms,
            chat.response_total.millis() as u64,
        );
        if let Some(status) = status {
            self.change_ticket_status(conv, status, at);
        }
        let ticket = self.conversations[conv as usize]
            .ticket()
            .expect("a live chat always has a ticket");
        let (number, contact) = self.conv_names(conv);
        self.effects.push_back(Effect::ChatEnded {
            number,
            contact,
            ticket: ticket.id,
            reason,
            ticket_status: ticket.status,
            missed,
            first_response_after,
            responses: chat.responses,
            response_total: (chat.responses > 0).then_some(chat.response_total),
            at,
        });
    }
}

/// The largest ticket counter, in the engine or in a snapshot or business export: ticket
/// ids stay within a signed 64-bit integer (SQL `bigint`, Java `long`). Once reached, after
/// 2^63 tickets, every new ticket gets it.
pub const MAX_NEXT_TICKET: u64 = i64::MAX as u64;

/// The longest idempotency key or provider message id accepted, in bytes: provider ids are
/// under a hundred, UUIDs 36. A bound on input, so that a host's bug cannot fill memory
/// with ids kept for days; not a platform rule.
pub const MAX_ID_BYTES: usize = 256;

/// An idempotency key or message id as given: none, or 1..=[`MAX_ID_BYTES`] bytes without a
/// control character. An empty one is refused rather than taken as a key: a host writing
/// `key ? key : ""` would otherwise have every send after the first answered from memory and
/// never recorded. A control character (a NUL from a C buffer, a line break from a pasted
/// header) is a host's bug, refused as a registered name's is: the id is kept for days,
/// matched byte for byte against later statuses and retries, and printed in effect lines.
#[inline]
pub(crate) fn check_id(field: &str, id: Option<&str>) -> Result<(), Error> {
    match id {
        None => Ok(()),
        Some(id) => check_given_id(field, id),
    }
}

/// [`check_id`] of an id given, out of line: most calls give none, and the scan inlined into
/// every caller cost them code around it (0.7% more instructions in the mixed bench, whose
/// sends carry no id).
#[inline(never)]
fn check_given_id(field: &str, id: &str) -> Result<(), Error> {
    if (1..=MAX_ID_BYTES).contains(&id.len()) && !may_hold_control(id) {
        Ok(())
    } else {
        check_id_in_full(field, id)
    }
}

/// Whether `text` may hold a control character (`char::is_control`: U+0000..=U+001F and
/// U+007F..=U+009F): a byte below 0x20, DEL, or 0xC2, the first byte of U+0080..=U+00BF,
/// which [`check_id_in_full`] then tells from the printable U+00A0..=U+00BF. One pass without
/// branches over at most [`MAX_ID_BYTES`] bytes, which the compiler vectorises: every send
/// runs it.
#[inline]
fn may_hold_control(text: &str) -> bool {
    (text.bytes()).fold(false, |hit, b| hit | (b < 0x20) | (b == 0x7f) | (b == 0xc2))
}

/// [`check_id`] in full, for an id the quick checks did not pass (rare, so cold): its
/// refusal, or `Ok` for one whose only suspect bytes begin a printable character (`"café"`
/// has none; `"\u{a0}"` has one).
#[cold]
#[inline(never)]
fn check_id_in_full(field: &str, id: &str) -> Result<(), Error> {
    let len = id.len();
    if len == 0 {
        return Err(Error::InvalidEvent {
            problem: format!("{field} is empty: leave it out when there is none"),
        });
    }
    if len > MAX_ID_BYTES {
        return Err(Error::InvalidEvent {
            problem: format!("{field} is {len} bytes, more than {MAX_ID_BYTES}"),
        });
    }
    refuse_control_characters(field, id)
}

/// A provider's end of something that starts at `at` (a restriction, a pause, a flag's
/// disable date) must come after it: one that ends before it starts is a malformed report,
/// refused rather than applied with its end effect dated before its start.
pub(crate) fn check_ends_after(at: Instant, until: Option<Instant>) -> Result<(), Error> {
    match until {
        Some(until) if until <= at => Err(Error::InvalidEvent {
            problem: format!(
                "\"until\" {} is not after \"at\" {}",
                until.to_rfc3339(),
                at.to_rfc3339()
            ),
        }),
        _ => Ok(()),
    }
}

/// A template language (`en`, `pt_BR`): 1..=16 characters, counted as the business name's
/// are (it counted bytes, and refused 9 two-byte characters as more than 16 characters).
fn check_template_language(field: &str, language: &str) -> Result<(), Error> {
    if language.is_empty() || language.chars().count() > 16 {
        return Err(Error::InvalidEvent {
            problem: format!(
                "{field} must be 1..=16 characters, got {:?}",
                crate::error::quoted(language)
            ),
        });
    }
    Ok(())
}

/// A saved template names itself as registration allows (restore and import): its name and
/// language, not its content rules, which may have grown stricter since it was saved.
pub(crate) fn check_saved_template(t: &TemplateSpec) -> Result<(), Error> {
    if !crate::template::is_template_name(&t.name) {
        return Err(crate::snapshot::corrupt(format!(
            "template name {:?} is not 1..={} lowercase letters, digits or _",
            crate::error::quoted(&t.name),
            crate::template::TEMPLATE_NAME_MAX_CHARS
        )));
    }
    check_template_language("template language", &t.language).map_err(saved)
}

/// What `check_saved_state` reads of a saved template (or of a state its undo keeps).
pub(crate) struct SavedState<'a> {
    pub name: &'a str,
    pub recent_ratings: &'a RecentRatings,
    pub recent_reports: &'a RecentReports,
    pub status: TemplateStatus,
    pub disabled_at_deadline: Option<Instant>,
    pub edits: &'a [Instant],
    pub locked: bool,
    pub lock_event: ProviderOrder,
}

/// A saved template's state is one the engine makes, as of the saved `clock` (restore
/// and import).
pub(crate) fn check_saved_state(t: &SavedState<'_>, clock: Instant) -> Result<(), Error> {
    use crate::snapshot::corrupt;
    let name = t.name;
    if let Some(at) = t
        .disabled_at_deadline
        .filter(|&at| t.status != TemplateStatus::Disabled || at > clock)
    {
        return Err(corrupt(format!(
            "template {name:?} is marked disabled at its flag deadline ({at}), and is not \
             disabled or the deadline is after the clock"
        )));
    }
    // An edit is dated at the clock of the `edit_template` that made it: one after the
    // clock would refuse every edit until the least interval after it.
    if let Some(at) = t.edits.iter().copied().find(|&at| at > clock) {
        return Err(corrupt(format!(
            "template {name:?}: an edit at {at} is after the state's clock {clock}"
        )));
    }
    (t.recent_ratings.check_saved(clock, "recent ratings"))
        .and_then(|()| t.recent_reports.check_saved(clock, "recent status reports"))
        .map_err(|problem| corrupt(format!("template {name:?} {problem}")))?;
    // Only a lock event locks a template, and it is kept with the lock.
    if t.locked && t.lock_event.is_unset() {
        return Err(corrupt(format!(
            "template {name:?}: locked with no lock event"
        )));
    }
    // In the order they were made, which the edit limit counts from: the first the oldest
    // (the one whose period ends first), the last the newest.
    if let Some(pair) = t.edits.windows(2).find(|pair| pair[1] < pair[0]) {
        return Err(corrupt(format!(
            "template {name:?}: an edit at {} comes after one at {}: edits are kept in the \
             order they were made",
            pair[1], pair[0]
        )));
    }
    Ok(())
}

/// A saved template's undo of a disable (restore and import): two states of the template
/// (of its business, with its text but for the category, its registration and the
/// variables their bodies have), each as a saved template may be (`check_saved_state`),
/// with no undo of their own; and at most [`REPORTS_KEPT`] reports, each one the engine
/// keeps (no deletion, disable, lock or unarchiving) and valid under `policy`. A restored
/// engine applies them as its own.
///
/// [`REPORTS_KEPT`]: crate::template_lifecycle::REPORTS_KEPT
pub(crate) fn check_saved_undo(
    template: &Template,
    policy: &crate::Policy,
    clock: Instant,
) -> Result<(), Error> {
    use crate::template_lifecycle::{TemplateEvent, REPORTS_KEPT};
    let Some(undo) = template.disable_undo.as_deref() else {
        return Ok(());
    };
    let name = &template.spec.name;
    let problem = |what: String| {
        crate::snapshot::corrupt(format!(
            "template {name:?}: a state saved to take back a disable {what}"
        ))
    };
    for state in [&undo.before, &undo.after] {
        if state.disable_undo.is_some() {
            return Err(problem("has an undo of its own".into()));
        }
        if state.business != template.business {
            let (of, owner) = (state.business, template.business);
            return Err(problem(format!(
                "names business {of}, the template {owner}"
            )));
        }
        let same_text = TemplateSpec {
            category: template.spec.category,
            ..state.spec.clone()
        } == template.spec;
        if !same_text || state.registered_at != template.registered_at {
            return Err(problem("is of another text or registration".into()));
        }
        let variables = crate::template::parse_variables(&state.spec.body).ok();
        if variables.as_ref() != Some(&state.variables) {
            return Err(problem("has variables its body does not have".into()));
        }
        let saved = SavedState {
            name: &state.spec.name,
            recent_ratings: &state.recent_ratings,
            recent_reports: &state.recent_reports,
            status: state.status,
            disabled_at_deadline: state.disabled_at_deadline,
            edits: &state.edits,
            locked: state.locked,
            lock_event: state.lock_event,
        };
        check_saved_state(&saved, clock)?;
    }
    // Every instant an undo holds came by the saved clock: a later one would move it.
    let dated = undo
        .disabled
        .iter()
        .flat_map(|&(earliest, latest)| [earliest, latest]);
    let reported = undo.reports.iter().map(|report| report.at);
    if let Some(at) = dated.chain(reported).find(|&at| at > clock) {
        return Err(problem(format!(
            "is dated {at}, after the state's clock {clock}"
        )));
    }
    if undo.reports.len() > REPORTS_KEPT {
        let kept = undo.reports.len();
        return Err(problem(format!(
            "keeps {kept} reports to apply again, at most {REPORTS_KEPT}"
        )));
    }
    for report in &undo.reports {
        if matches!(
            report.status,
            TemplateEvent::Deleted
                | TemplateEvent::Disabled
                | TemplateEvent::Locked
                | TemplateEvent::Unlocked
                | TemplateEvent::Unarchived
        ) {
            let status = serde_json::to_string(&report.status).unwrap_or_default();
            return Err(problem(format!("keeps a status {status} no undo keeps")));
        }
        report
            .check(policy)
            .map_err(|e| problem(format!("keeps a report the policy refuses: {e}")))?;
    }
    Ok(())
}

/// A saved business's name is one registration takes (restore and import).
pub(crate) fn check_saved_business(name: &str) -> Result<(), Error> {
    check_business_name("business name", name).map_err(saved)
}

/// A pair of names an inbound made one contact (see [`Effect::ContactLinked`]).
pub(crate) struct LearnedLink {
    phone: AddressKey,
    user_id: AddressKey,
    /// The phone number of the contact the user id reached before, when the link moved.
    previous_phone: Option<AddressKey>,
}

/// A registration check's refusal, of something saved: corrupt.
fn saved(e: Error) -> Error {
    match e {
        Error::InvalidEvent { problem } => crate::snapshot::corrupt(problem),
        other => other,
    }
}

/// A business's name as `field` holds it: `business` on the wire, `business name` in a
/// saved state (whose business object names it `name`).
pub(crate) fn check_business_name(field: &str, name: &str) -> Result<(), Error> {
    let chars = name.chars().count();
    if chars == 0 || chars > 256 {
        return Err(Error::InvalidEvent {
            problem: format!(
                "{field} {:?} must be 1..=256 characters, got {chars}",
                crate::error::quoted(name)
            ),
        });
    }
    refuse_control_characters(field, name)
}

/// A business registered now: a name as saved states hold them, neither blank nor with
/// spaces around it (`"acme "` would be a second business beside `"acme"`, a host's
/// trimming bug every later call would repeat). Saved states keep restoring as they were.
/// Every event that creates a business names it in its `business` field.
pub(crate) fn check_new_business_name(name: &str) -> Result<(), Error> {
    check_business_name("business", name)?;
    if name.trim() != name {
        return Err(Error::InvalidEvent {
            problem: format!(
                "business {:?} is blank or begins or ends with white space",
                crate::error::quoted(name)
            ),
        });
    }
    Ok(())
}

/// A name shown in tables, logs and effect lines (a business, a template language, a
/// provider and its number id, an idempotency key or message id): a NUL, tab or line break
/// in one is a host's bug, not a name. Checked on input; of what saved states hold, only a
/// business's name (see [`check_saved_business`]).
fn refuse_control_characters(field: &str, text: &str) -> Result<(), Error> {
    match text.chars().find(|c| c.is_control()) {
        Some(c) => Err(Error::InvalidEvent {
            problem: format!(
                "{field} {:?} contains the control character {c:?}",
                crate::error::quoted(text)
            ),
        }),
        None => Ok(()),
    }
}

/// Meta Cloud API: "Re-engagement message" (outside the customer service window).
pub const OUTSIDE_WINDOW_CLOUD: u32 = 131_047;
/// Meta On-Premises API equivalent of 131047.
pub const OUTSIDE_WINDOW_ON_PREMISES: u32 = 470;

#[cfg(test)]
mod tests {
    use super::*;

    /// What the docs promise hosts that run the engine on threads: a change that made one
    /// of these lose `Send` or `Sync` (an `Rc`, a `Cell`) fails to compile here.
    const _: () = {
        const fn send_sync<T: Send + Sync>() {}
        send_sync::<Engine>();
        send_sync::<crate::sharded::ShardedEngine>();
        send_sync::<Effect>();
        send_sync::<Decision>();
        send_sync::<Error>();
        send_sync::<crate::event::Event>();
        send_sync::<crate::webhook::WebhookReader>();
    };

    #[test]
    fn ids_are_absent_or_one_to_max_bytes() {
        let longest = "k".repeat(MAX_ID_BYTES);
        for ok in [None, Some("k"), Some(longest.as_str())] {
            assert!(check_id("idempotency_key", ok).is_ok(), "{ok:?}");
        }
        let too_long = "k".repeat(MAX_ID_BYTES + 1);
        let problem = |id: &str| check_id("message_id", Some(id)).unwrap_err().to_string();
        assert!(problem("").contains("message_id is empty"));
        assert!(problem(&too_long).contains("message_id is 257 bytes, more than 256"));
    }

    #[test]
    fn ids_hold_no_control_characters() {
        // C0, DEL and C1 are refused; the printable characters whose first byte is the
        // C1 block's (U+00A0..=U+00BF) are not.
        for bad in ["k\0", "a\nb", "\t", "k\u{7f}", "k\u{85}", "\u{9f}k"] {
            let error = check_id("idempotency_key", Some(bad)).unwrap_err();
            let c = bad.chars().find(|c| c.is_control()).unwrap();
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid event: idempotency_key {bad:?} contains the control character {c:?}"
                )
            );
        }
        for ok in ["wamid.HBgL", "café", "k\u{a0}", "©\u{bf}", "日本"] {
            assert!(check_id("message_id", Some(ok)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn typed_calls_refuse_ids_with_control_characters() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        for line in [
            r#"{"type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"register_template","at":0,"business":"acme","name":"hi","language":"en","category":"utility","body":"Hello.","status":"approved"}"#,
            r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
        ] {
            assert!(
                engine.handle_json(line)[0].contains(r#""type":"ack""#),
                "{line}"
            );
        }
        let before = engine.snapshot();
        let at = Instant::from_unix_millis(60_000).unwrap();
        let says = |field: &str, shown: &str, c: &str| {
            format!("invalid event: {field} {shown:?} contains the control character {c}")
        };
        let message = OutboundMessage::text("Hi");
        let send = |idempotency_key: Option<&str>, message_id: Option<&str>| SendRequest {
            idempotency_key: idempotency_key.map(str::to_owned),
            message_id: message_id.map(str::to_owned),
            ..SendRequest::new(at, "+15550001111", "+79110000001", message.clone())
        };
        let refused = [
            (
                engine.send(&send(Some("k\n"), None)),
                says("idempotency_key", "k\n", r"'\n'"),
            ),
            (
                engine.send(&send(None, Some("m\0"))),
                says("message_id", "m\0", r"'\0'"),
            ),
            (
                engine.check_send(&send(Some("k\u{7f}"), None)),
                says("idempotency_key", "k\u{7f}", r"'\u{7f}'"),
            ),
            (
                engine.check_send(&send(None, Some("m\u{85}"))),
                says("message_id", "m\u{85}", r"'\u{85}'"),
            ),
        ];
        for (result, problem) in refused {
            assert_eq!(result.unwrap_err().to_string(), problem);
        }
        let id = (engine.conversation_id("+15550001111", Some("+79110000001"), None))
            .unwrap()
            .expect("the inbound made it");
        let to = |idempotency_key, message_id| crate::send::SendToRef {
            idempotency_key,
            message_id,
            ..crate::send::SendToRef::new(at, &message)
        };
        let error = engine.send_to(id, to(Some("k\t"), None)).unwrap_err();
        assert_eq!(error.to_string(), says("idempotency_key", "k\t", r"'\t'"));
        let error = engine
            .check_send_to(id, to(None, Some("\u{1}")))
            .unwrap_err();
        assert_eq!(error.to_string(), says("message_id", "\u{1}", r"'\u{1}'"));
        let initiate = InitiateRequest {
            at,
            number: "+15550001111".into(),
            contact: "+79110000002".into(),
            message: message.clone(),
            template: Some(crate::message::TemplateMessage::new(
                "hi",
                "en",
                Vec::<String>::new(),
            )),
            idempotency_key: None,
            message_id: Some("m\r".into()),
            automated: false,
        };
        let error = engine.initiate(&initiate).unwrap_err();
        assert_eq!(error.to_string(), says("message_id", "m\r", r"'\r'"));
        let inbound = Inbound {
            message_id: Some("wamid.\u{1b}".into()),
            ..Inbound::new(at, "+15550001111", "+79110000003", InboundKind::Text)
        };
        let error = engine.inbound(&inbound).unwrap_err();
        assert_eq!(
            error.to_string(),
            says("message_id", "wamid.\u{1b}", r"'\u{1b}'")
        );
        let status = MessageStatusUpdate {
            at,
            number: "+15550001111".into(),
            contact: "+79110000001".into(),
            user_id: None,
            message_id: "m\u{9f}".into(),
            status: DeliveryStatus::Failed,
            pricing: None,
            errors: vec![OUTSIDE_WINDOW_CLOUD],
        };
        let error = engine.message_status(&status).unwrap_err();
        assert_eq!(
            error.to_string(),
            says("message_id", "m\u{9f}", r"'\u{9f}'")
        );
        assert!(engine.snapshot() == before, "the refusals changed nothing");
        assert!(engine.poll_effect().is_none());
    }

    #[test]
    fn a_plain_line_with_a_control_character_in_an_id_is_refused_on_the_fast_path() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        let register = r#"{"type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":"official"}"#;
        assert!(engine.handle_json(register)[0].contains(r#""type":"ack""#));
        // JSON takes a raw DEL in a string; the shortcut reads the line as it is.
        for (line, field) in [
            ("{\"type\":\"inbound\",\"at\":0,\"number\":\"+15550001111\",\"contact\":\"+79110000001\",\"kind\":\"text\",\"message_id\":\"m\x7f\"}", "message_id"),
            ("{\"type\":\"send\",\"at\":0,\"number\":\"+15550001111\",\"contact\":\"+79110000001\",\"message\":{\"kind\":\"text\",\"text\":\"Hi\"},\"idempotency_key\":\"k\x7f\"}", "idempotency_key"),
        ] {
            assert!(crate::wire::read_hot(line).is_some(), "{line}");
            let out = engine.handle_json(line);
            assert!(
                out[0].contains(&format!(r#"{field} \"#))
                    && out[0].contains(r"contains the control character '\\u{7f}'"),
                "{out:?}"
            );
        }
    }

    #[test]
    fn registered_names_hold_no_control_characters() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        let number = r#""type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":"official""#;
        for (line, problem) in [
            (
                format!(r#"{{{number},"provider":"me\u0000ta"}}"#),
                r#"provider \"me\\0ta\" contains the control character '\\0'"#,
            ),
            (
                format!(r#"{{{number},"provider":" twilio"}}"#),
                r#"provider \" twilio\" begins or ends with whitespace: it would name another provider than \"twilio\""#,
            ),
            (
                format!(r#"{{{number},"phone_number_id":"12\n"}}"#),
                r#"phone_number_id \"12\\n\" contains the control character '\\n'"#,
            ),
            (
                format!(r#"{{{number},"default_template":{{"name":"hi","language":"en\r"}}}}"#),
                r#"default_template.language \"en\\r\" contains the control character '\\r'"#,
            ),
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"hi","language":"e\tn","category":"utility","body":"Hello.","status":"approved"}"#.into(),
                r#"language \"e\\tn\" contains the control character '\\t'"#,
            ),
        ] {
            let out = engine.handle_json(&line);
            assert!(out[0].contains(problem), "{line}: {out:?}");
        }
        assert!(engine.number("+15550001111").is_err(), "nothing registered");
    }

    #[test]
    fn a_template_language_is_counted_in_characters() {
        for ok in ["en", "pt_BR", "éééééééé1", &"é".repeat(16)] {
            assert!(check_template_language("language", ok).is_ok(), "{ok:?}");
        }
        for bad in ["", &"é".repeat(17), &"e".repeat(17)] {
            let problem = check_template_language("language", bad).unwrap_err();
            assert!(
                problem.to_string().contains("must be 1..=16 characters"),
                "{problem}"
            );
        }
    }

    #[test]
    fn consent_with_a_business_and_its_own_number_is_recorded() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        for line in [
            r#"{"type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"register_number","at":0,"business":"globex","number":"+15550003333","channel":"official"}"#,
        ] {
            assert!(engine.handle_json(line)[0].contains(r#""type":"ack""#));
        }
        let given = r#"{"type":"opt_in","at":0,"business":"acme","number":"+15550001111","contact":"+79110000001"}"#;
        assert_eq!(
            engine.handle_json(given)[0],
            r#"{"type":"ack","of":"opt_in"}"#
        );
        let acme = engine.business_idx("acme").unwrap();
        let contact = engine.interner.address("+79110000001").unwrap();
        assert!(engine.consents.contains_key(&(acme, contact)));
        let mismatched = r#"{"type":"opt_in","at":0,"business":"globex","number":"+15550001111","contact":"+79110000001"}"#;
        let refused = engine.handle_json(mismatched);
        assert!(
            refused[0].contains("is not a number of business"),
            "{refused:?}"
        );
    }

    #[test]
    fn one_name_in_many_businesses_and_languages() {
        let mut index = super::TemplateIndex::default();
        for business in 0..1_000u32 {
            assert_eq!(
                index.insert(business, "hello_world", "en", 2 * business),
                None
            );
            assert_eq!(
                index.insert(business, "hello_world", "es", 2 * business + 1),
                None
            );
        }
        assert_eq!(
            index.insert(7, "hello_world", "en", 99),
            Some(14),
            "kept in place"
        );
        assert_eq!(index.get(7, "hello_world", "en"), Some(14));
        assert_eq!(index.get(999, "hello_world", "es"), Some(1_999));
        assert_eq!(
            index.get(1_000, "hello_world", "en"),
            None,
            "no such business"
        );
        assert_eq!(index.get(7, "hello_world", "de"), None, "no such language");
        assert_eq!(
            index.get(7, "hello_worl", "den"),
            None,
            "the parts are told apart"
        );
        // Each key reads one business's templates of one name and language.
        assert!(index.0.values().all(|entries| entries.len() == 1));
    }
}
