//! Inputs: everything that happened, each with its own instant. This is also the wire
//! format's input schema (see `docs/events.md`).

use serde::{Deserialize, Serialize};

use crate::chat::{ChatEnder, TicketStatus};
use crate::message::OutboundMessage;
use crate::number::Channel;
use crate::template::{Quality, TemplateSpec, TemplateStatus};
use crate::time::{Duration, Instant};

/// One input to the engine.
///
/// Serialised with `"type"` first; read by a hand-written `Deserialize` (in
/// `wire/decode.rs`) that takes that order in one pass and buffers only when `"type"` comes
/// later.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// Register (or update) a number of a business.
    RegisterNumber(RegisterNumber),
    /// Register a template of a business.
    RegisterTemplate(RegisterTemplate),
    /// A message or call from a contact.
    Inbound(Inbound),
    /// Decide and record a send.
    Send(SendRequest),
    /// Decide a send without recording anything.
    CheckSend(SendRequest),
    /// Start a conversation: a default template now, the message when the contact answers.
    Initiate(InitiateRequest),
    /// An agent or rule ends a live chat.
    EndChat(EndChat),
    /// An agent changes a ticket's status.
    SetTicketStatus(SetTicketStatus),
    /// A contact opted in to business-initiated messages.
    OptIn(Consent),
    /// A contact withdrew their opt-in.
    OptOut(Consent),
    /// A contact stopped or resumed marketing messages.
    UserPreference(UserPreference),
    /// The provider reported a failed send with an error code.
    SendFailed(SendFailed),
    /// The provider reported a sent message's delivery status.
    MessageStatus(MessageStatusUpdate),
    /// The provider changed a template's status.
    TemplateStatus(TemplateStatusUpdate),
    /// The provider rated a template's quality.
    TemplateQuality(TemplateQualityUpdate),
    /// The provider changed a template's category.
    TemplateCategory(TemplateCategoryUpdate),
    /// The provider reported a template's text after an edit.
    TemplateComponents(TemplateComponentsUpdate),
    /// The business edited a template.
    EditTemplate(EditTemplate),
    /// The provider rated a number's quality.
    NumberQuality(NumberQualityUpdate),
    /// The provider restricted a number.
    NumberRestriction(NumberRestrictionUpdate),
    /// The provider lifted a number's restriction.
    RestrictionLifted(RestrictionLifted),
    /// The provider set a messaging limit.
    MessagingLimit(MessagingLimitUpdate),
    /// Time passed: fire due timers.
    Tick(Tick),
    /// Move to another policy that differs only in pricing (a pricing era, a rate card).
    ChangePolicy(ChangePolicy),
    /// Read a conversation's state (changes nothing).
    QueryConversation(ConversationRef),
    /// Read a number's registration, quality and counters (changes nothing).
    QueryNumber(NumberRef),
    /// Read the messaging limit a number sends under (changes nothing).
    QueryLimit(NumberRef),
    /// Read a template's status (changes nothing).
    QueryTemplate(TemplateRefAt),
    /// Read monthly usage and charges of a number or business (changes nothing).
    QueryUsage(UsageRef),
}

impl Event {
    /// The instant the event carries.
    pub fn at(&self) -> Instant {
        match self {
            Event::RegisterNumber(e) => e.at,
            Event::RegisterTemplate(e) => e.at,
            Event::Inbound(e) => e.at,
            Event::Send(e) | Event::CheckSend(e) => e.at,
            Event::Initiate(e) => e.at,
            Event::EndChat(e) => e.at,
            Event::SetTicketStatus(e) => e.at,
            Event::OptIn(e) | Event::OptOut(e) => e.at,
            Event::UserPreference(e) => e.at,
            Event::SendFailed(e) => e.at,
            Event::MessageStatus(e) => e.at,
            Event::TemplateStatus(e) => e.at,
            Event::TemplateQuality(e) => e.at,
            Event::TemplateCategory(e) => e.at,
            Event::TemplateComponents(e) => e.at,
            Event::EditTemplate(e) => e.at,
            Event::NumberQuality(e) => e.at,
            Event::NumberRestriction(e) => e.at,
            Event::RestrictionLifted(e) => e.at,
            Event::MessagingLimit(e) => e.at,
            Event::Tick(e) => e.at,
            Event::ChangePolicy(e) => e.at,
            Event::QueryConversation(e) => e.at,
            Event::QueryNumber(e) | Event::QueryLimit(e) => e.at,
            Event::QueryTemplate(e) => e.at,
            Event::QueryUsage(e) => e.at,
        }
    }

    /// The wire name of the event's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RegisterNumber(_) => "register_number",
            Event::RegisterTemplate(_) => "register_template",
            Event::Inbound(_) => "inbound",
            Event::Send(_) => "send",
            Event::CheckSend(_) => "check_send",
            Event::Initiate(_) => "initiate",
            Event::EndChat(_) => "end_chat",
            Event::SetTicketStatus(_) => "set_ticket_status",
            Event::OptIn(_) => "opt_in",
            Event::OptOut(_) => "opt_out",
            Event::UserPreference(_) => "user_preference",
            Event::SendFailed(_) => "send_failed",
            Event::MessageStatus(_) => "message_status",
            Event::TemplateStatus(_) => "template_status",
            Event::TemplateQuality(_) => "template_quality",
            Event::TemplateCategory(_) => "template_category",
            Event::TemplateComponents(_) => "template_components",
            Event::EditTemplate(_) => "edit_template",
            Event::NumberQuality(_) => "number_quality",
            Event::NumberRestriction(_) => "number_restriction",
            Event::RestrictionLifted(_) => "restriction_lifted",
            Event::MessagingLimit(_) => "messaging_limit",
            Event::Tick(_) => "tick",
            Event::ChangePolicy(_) => "change_policy",
            Event::QueryConversation(_) => "query_conversation",
            Event::QueryNumber(_) => "query_number",
            Event::QueryLimit(_) => "query_limit",
            Event::QueryTemplate(_) => "query_template",
            Event::QueryUsage(_) => "query_usage",
        }
    }
}

/// `register_number`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterNumber {
    /// When.
    pub at: Instant,
    /// Business name (created on first use).
    pub business: String,
    /// The number (E.164) or, for email and messengers, the account address.
    pub number: String,
    /// Channel kind.
    pub channel: Channel,
    /// Provider name (`meta`, `twilio`, ...).
    #[serde(default)]
    pub provider: Option<String>,
    /// Chat idle timeout for this number.
    #[serde(default)]
    pub idle_timeout: Option<Duration>,
    /// Template used by `initiate`.
    #[serde(default)]
    pub default_template: Option<TemplateRef>,
    /// The provider's id for this number (Meta `phone_number_id`), to match webhooks.
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The IANA time zone the business counts its months in (its WhatsApp Business
    /// Account's): usage and the monthly free allowance reset at its midnight. Set once per
    /// business; UTC until then.
    #[serde(default)]
    pub timezone: Option<crate::TimeZone>,
}

impl RegisterNumber {
    /// `number` of `business` on `channel`, registered at `at`, every optional field unset
    /// (no provider, provider id, default template, own idle timeout or time zone; set the public
    /// fields on the value returned).
    pub fn new(
        at: Instant,
        business: impl Into<String>,
        number: impl Into<String>,
        channel: Channel,
    ) -> RegisterNumber {
        RegisterNumber {
            at,
            business: business.into(),
            number: number.into(),
            channel,
            provider: None,
            idle_timeout: None,
            default_template: None,
            phone_number_id: None,
            timezone: None,
        }
    }
}

/// A template by name and language.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRef {
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
}

/// `register_template`: the fields of [`TemplateSpec`] plus owner, status and quality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTemplate {
    /// When.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Lowercase name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category.
    pub category: crate::template::TemplateCategory,
    /// Body with variables.
    pub body: String,
    /// Optional text header.
    #[serde(default)]
    pub header: Option<String>,
    /// Optional footer.
    #[serde(default)]
    pub footer: Option<String>,
    /// Buttons.
    #[serde(default)]
    pub buttons: Vec<crate::template::Button>,
    /// Initial status (`pending` when absent).
    #[serde(default = "pending")]
    pub status: TemplateStatus,
    /// Initial quality.
    #[serde(default)]
    pub quality: Quality,
}

impl RegisterTemplate {
    /// The template `name` in `language` of `business`, of `category`, with `body` (its
    /// variables `{{1}}` or `{{name}}`), registered at `at` as the wire's defaults have it:
    /// no header, footer or buttons, `pending` (set `status` to `Approved` for one Meta
    /// approved already), quality `unknown`. Set the public fields on the value returned.
    pub fn new(
        at: Instant,
        business: impl Into<String>,
        name: impl Into<String>,
        language: impl Into<String>,
        category: crate::template::TemplateCategory,
        body: impl Into<String>,
    ) -> RegisterTemplate {
        RegisterTemplate {
            at,
            business: business.into(),
            name: name.into(),
            language: language.into(),
            category,
            body: body.into(),
            header: None,
            footer: None,
            buttons: Vec::new(),
            status: TemplateStatus::Pending,
            quality: Quality::Unknown,
        }
    }

    /// The template's content.
    pub fn spec(&self) -> TemplateSpec {
        TemplateSpec {
            name: self.name.clone(),
            language: self.language.clone(),
            category: self.category,
            body: self.body.clone(),
            header: self.header.clone(),
            footer: self.footer.clone(),
            buttons: self.buttons.clone(),
        }
    }
}

fn pending() -> TemplateStatus {
    TemplateStatus::Pending
}

/// What kind of inbound message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundKind {
    /// Text.
    Text,
    /// Image.
    Image,
    /// Video.
    Video,
    /// Audio or voice note.
    Audio,
    /// Document.
    Document,
    /// Sticker.
    Sticker,
    /// Location.
    Location,
    /// Shared contacts.
    Contacts,
    /// Tap on a template quick-reply button.
    Button,
    /// Interactive reply (button, list, flow).
    Interactive,
    /// Emoji reaction (opens the window only if the policy says so).
    Reaction,
    /// A call from the contact.
    Call,
    /// Anything the provider could not parse: not a user message.
    Unsupported,
    /// A system notice: not a user message.
    System,
    /// The contact opened the chat for the first time with the number's welcome messages on
    /// (Meta's `request_welcome`): not a user message, but it opens the service window when
    /// dated before `window.request_welcome_until` (Meta removed the feature on 2026-03-27).
    RequestWelcome,
}

impl InboundKind {
    /// Whether this is a message the contact wrote (starts chats, counts as prior contact).
    pub fn is_user_message(self) -> bool {
        !matches!(
            self,
            InboundKind::Reaction
                | InboundKind::Call
                | InboundKind::Unsupported
                | InboundKind::System
                | InboundKind::RequestWelcome
        )
    }

    /// Whether the message carries a file, whose `size` is checked against
    /// `content.inbound_file_max_bytes` (a size given with another kind says nothing).
    pub fn carries_file(self) -> bool {
        matches!(
            self,
            InboundKind::Image
                | InboundKind::Video
                | InboundKind::Audio
                | InboundKind::Document
                | InboundKind::Sticker
        )
    }
}

/// `inbound`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    /// The provider's timestamp of the message.
    pub at: Instant,
    /// Receiving number.
    pub number: String,
    /// Sender (phone or opaque id); absent for group messages.
    #[serde(default)]
    pub contact: Option<String>,
    /// Group id for group messages (unofficial channel only).
    #[serde(default)]
    pub group: Option<String>,
    /// Kind of message.
    pub kind: InboundKind,
    /// File size in bytes, for media.
    #[serde(default)]
    pub size: Option<u64>,
    /// The message came from an ad or page button (free entry point, §2 and §11).
    #[serde(default)]
    pub referral: bool,
    /// The provider's message id: the same id delivered again changes nothing (§10).
    #[serde(default)]
    pub message_id: Option<String>,
    /// The sender's business-scoped user id, when the provider names them by it beside
    /// the phone number in `contact`: the two are then one contact (facts §1.3).
    #[serde(default)]
    pub user_id: Option<String>,
}

impl Inbound {
    /// A message of `kind` from `contact` to `number` at the provider's timestamp `at`,
    /// every optional field unset (set the public fields on the value returned).
    pub fn new(
        at: Instant,
        number: impl Into<String>,
        contact: impl Into<String>,
        kind: InboundKind,
    ) -> Inbound {
        Inbound {
            at,
            number: number.into(),
            contact: Some(contact.into()),
            group: None,
            kind,
            size: None,
            referral: false,
            message_id: None,
            user_id: None,
        }
    }
}

/// `send` and `check_send`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// When the send would happen (a scheduled send is judged at its time).
    pub at: Instant,
    /// Sending number.
    pub number: String,
    /// Recipient (phone or opaque id).
    #[serde(default)]
    pub contact: Option<String>,
    /// Recipient group (unofficial channel only).
    #[serde(default)]
    pub group: Option<String>,
    /// The message.
    pub message: OutboundMessage,
    /// Hosts retry: a repeated key returns the first decision and changes nothing.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Send even if it duplicates a recent message.
    #[serde(default)]
    pub force: bool,
    /// The provider's id for this message, so that its delivery statuses can be matched.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Sent by automation (an auto-acknowledgement, a bot), not by an agent: decided and
    /// recorded like any send, but no agent response (§3), so it answers no waiting contact
    /// in a live chat or on an email ticket. It is activity all the same (a live chat's idle
    /// deadline moves; an email opens a ticket). Changes no decision.
    #[serde(default)]
    pub automated: bool,
}

impl SendRequest {
    /// `message` from `number` to `contact` at `at`, every optional field unset (no
    /// idempotency key or message id, not forced; set the public fields on the value
    /// returned).
    pub fn new(
        at: Instant,
        number: impl Into<String>,
        contact: impl Into<String>,
        message: OutboundMessage,
    ) -> SendRequest {
        SendRequest {
            at,
            number: number.into(),
            contact: Some(contact.into()),
            group: None,
            message,
            idempotency_key: None,
            force: false,
            message_id: None,
            automated: false,
        }
    }
}

/// `initiate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitiateRequest {
    /// When.
    pub at: Instant,
    /// Sending number.
    pub number: String,
    /// Recipient.
    pub contact: String,
    /// The free-form message to deliver once the contact answers.
    pub message: OutboundMessage,
    /// Template to open with, instead of the number's default.
    #[serde(default)]
    pub template: Option<crate::message::TemplateMessage>,
    /// Idempotency key, as for `send`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The provider's id for the opening template, to match its delivery statuses.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Started by automation, not by an agent: what it sends answers no waiting contact,
    /// as a [`SendRequest::automated`] send does (§3).
    #[serde(default)]
    pub automated: bool,
}

impl InitiateRequest {
    /// `message` to `contact` from `number` at `at`, opened by the number's default
    /// template; no opener of its own, idempotency key or message id, not automated (set the
    /// public fields on the value returned).
    pub fn new(
        at: Instant,
        number: impl Into<String>,
        contact: impl Into<String>,
        message: OutboundMessage,
    ) -> InitiateRequest {
        InitiateRequest {
            at,
            number: number.into(),
            contact: contact.into(),
            message,
            template: None,
            idempotency_key: None,
            message_id: None,
            automated: false,
        }
    }
}

/// `end_chat`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndChat {
    /// When.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// The contact or group.
    pub contact: String,
    /// Who ends it.
    pub by: ChatEnder,
    /// Ticket status to set (default `open`).
    #[serde(default)]
    pub status: Option<TicketStatus>,
}

impl EndChat {
    /// The live chat of `number` with `contact` (or a group id) ended by `by` at `at`, its
    /// ticket left `open` (set `status` for another).
    pub fn new(
        at: Instant,
        number: impl Into<String>,
        contact: impl Into<String>,
        by: ChatEnder,
    ) -> EndChat {
        EndChat {
            at,
            number: number.into(),
            contact: contact.into(),
            by,
            status: None,
        }
    }
}

/// `set_ticket_status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTicketStatus {
    /// When.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// The contact or group.
    pub contact: String,
    /// New status.
    pub status: TicketStatus,
    /// The ticket meant (its id from `ticket_opened`): when given and it is no longer the
    /// conversation's current ticket, the change is refused. The engine keeps only the
    /// current ticket, so without it a late change meant for a closed ticket would land on
    /// its successor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
}

/// `opt_in` and `opt_out`: consent is held per business and contact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// When.
    pub at: Instant,
    /// Business, or give `number` and the business is that number's.
    #[serde(default)]
    pub business: Option<String>,
    /// A number of the business.
    #[serde(default)]
    pub number: Option<String>,
    /// The contact.
    pub contact: String,
}

impl Consent {
    /// Consent of `contact` to `business` at `at`.
    pub fn for_business(
        at: Instant,
        business: impl Into<String>,
        contact: impl Into<String>,
    ) -> Consent {
        Consent {
            at,
            business: Some(business.into()),
            number: None,
            contact: contact.into(),
        }
    }

    /// Consent of `contact` to the business of `number` at `at`.
    pub fn for_number(
        at: Instant,
        number: impl Into<String>,
        contact: impl Into<String>,
    ) -> Consent {
        Consent {
            at,
            business: None,
            number: Some(number.into()),
            contact: contact.into(),
        }
    }
}

/// Marketing preference values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreferenceValue {
    /// Stop marketing messages.
    Stop,
    /// Resume them.
    Resume,
}

/// `user_preference`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPreference {
    /// When.
    pub at: Instant,
    /// The number that received it.
    pub number: String,
    /// The contact.
    pub contact: String,
    /// The contact's business-scoped user id beside a phone number in `contact` (Meta names
    /// both on a preference of a user who has a phone number): the two then name one
    /// contact of the business, as an `inbound` naming both does, and the preference is the
    /// user id's too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Stop or resume.
    pub value: PreferenceValue,
}

/// `send_failed`: a provider error on an earlier send.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendFailed {
    /// The provider's timestamp of the failure.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// The contact.
    pub contact: String,
    /// Provider error code (Meta: 131047 = outside the window).
    pub code: u32,
}

/// `template_status`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateStatusUpdate {
    /// When.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// The event.
    pub status: crate::template_lifecycle::TemplateEvent,
    /// For `paused`: when the pause ends (none: a pacing pause, ended only by `unpaused`);
    /// for `flagged`: the provider's disable date.
    #[serde(default)]
    pub until: Option<Instant>,
    /// The template's category as the provider reports it with the status (Meta's
    /// `message_template_category`: a template submitted as utility may be approved as
    /// marketing). Applied as a `template_category` at `at` would be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<crate::template::TemplateCategory>,
    /// For `paused` on the pause ladder: which of its pauses the provider says this is
    /// (Meta's FIRST_PAUSE is 1, SECOND_PAUSE 2). The provider counts strikes over a span
    /// of its own, so its word sets the count: the next low rating is the strike after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<u32>,
}

/// Delivery statuses of a sent message, in the order they can happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The engine allowed it; no provider status yet.
    Accepted,
    /// The provider sent it.
    Sent,
    /// Delivered to the contact's device.
    Delivered,
    /// Read by the contact.
    Read,
    /// The provider could not deliver it (final).
    Failed,
}

/// The provider's pricing of a message, from its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderPricing {
    /// `regular` (charged), `free_customer_service`, `free_entry_point`, ...
    #[serde(rename = "type")]
    pub kind: crate::delivery::PricingType,
    /// `marketing`, `utility`, `authentication`, `service`, `referral_conversion`, ...
    #[serde(default)]
    pub category: Option<String>,
}

/// `message_status`: a status webhook for a sent message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageStatusUpdate {
    /// The provider's timestamp of the status.
    pub at: Instant,
    /// The sending number.
    pub number: String,
    /// The recipient.
    pub contact: String,
    /// The recipient's business-scoped user id beside a phone number in `contact` (Meta's
    /// `recipient_user_id`, which a status names beside `recipient_id`): the two then name
    /// one contact of the business, as an `inbound` naming both does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The provider's message id (as given on `send`).
    pub message_id: String,
    /// The status.
    pub status: DeliveryStatus,
    /// The provider's pricing, when the status carries it.
    #[serde(default)]
    pub pricing: Option<ProviderPricing>,
    /// Provider error codes of a failure (Meta: 131047, 132015, 132016, 131049, 131056,
    /// 131064...).
    #[serde(default)]
    pub errors: Vec<u32>,
}

/// `template_quality`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateQualityUpdate {
    /// When.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// New quality.
    pub quality: Quality,
}

/// `template_category`: the provider changed a template's category (Meta recategorizes a
/// utility template as marketing, RULES.md §5). Sends from then on are priced and
/// consent-checked under the new category.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateCategoryUpdate {
    /// When the category changed.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// The new category.
    pub category: crate::template::TemplateCategory,
}

/// `template_components`: the provider reports a template's text after an edit (Meta's
/// `message_template_components_update`), made through the engine or elsewhere (in WhatsApp
/// Manager): sends from then on are checked against it. Buttons are kept: the webhook lists
/// only URL and phone buttons.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateComponentsUpdate {
    /// When the template was edited.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// The body.
    pub body: String,
    /// The text header (none: the template has no text header).
    #[serde(default)]
    pub header: Option<String>,
    /// The footer (none: the template has no footer).
    #[serde(default)]
    pub footer: Option<String>,
}

/// `edit_template`: a new body (and optionally header, footer, buttons, category).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditTemplate {
    /// When.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
    /// New body.
    pub body: String,
    /// New header.
    #[serde(default)]
    pub header: Option<String>,
    /// New footer.
    #[serde(default)]
    pub footer: Option<String>,
    /// New buttons.
    #[serde(default)]
    pub buttons: Option<Vec<crate::template::Button>>,
    /// New category.
    #[serde(default)]
    pub category: Option<crate::template::TemplateCategory>,
}

/// `number_quality`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberQualityUpdate {
    /// When.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// New quality.
    pub quality: Quality,
}

/// `number_restriction`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRestrictionUpdate {
    /// When.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// What it bars.
    pub scope: crate::number::RestrictionScope,
    /// When it ends (default: the policy's restriction length from `at`, or until lifted).
    #[serde(default)]
    pub until: Option<Instant>,
    /// It lasts until lifted, whatever the policy's default length (a ban).
    #[serde(default)]
    pub until_lifted: bool,
}

/// `restriction_lifted`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionLifted {
    /// When.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// The scope lifted; absent: every restriction of the number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::number::RestrictionScope>,
}

/// `messaging_limit`: the provider's word on a limit (by one of the owner's numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagingLimitUpdate {
    /// When.
    pub at: Instant,
    /// A number sending under the limit.
    pub number: String,
    /// The new limit: a level of the policy.
    pub limit: crate::policy::LimitLevel,
}

/// `tick`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tick {
    /// Now.
    pub at: Instant,
}

/// `change_policy`: the engine goes on under another policy from `at`, one that differs from
/// its own in pricing alone (§11, §12): the pricing era of 2026-10-01 (`cloud-2025` to
/// `cloud-2026-10`), a new rate card. Its chats, limits, templates and every other record
/// were kept under the rules it has, so those must stay.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePolicy {
    /// From when.
    pub at: Instant,
    /// The preset the new policy starts from.
    pub policy: String,
    /// Overrides merged over the preset, as for a new engine (`{"pricing": {...}}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_overrides: Option<serde_json::Value>,
}

/// `query_conversation`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationRef {
    /// The instant to evaluate the window at.
    pub at: Instant,
    /// The number.
    pub number: String,
    /// The contact or group.
    pub contact: String,
}

/// `query_number` and `query_limit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRef {
    /// The instant to evaluate at.
    pub at: Instant,
    /// The number.
    pub number: String,
}

/// `query_template`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateRefAt {
    /// The instant to evaluate at.
    pub at: Instant,
    /// Owning business.
    pub business: String,
    /// Name.
    pub name: String,
    /// Language.
    pub language: String,
}

/// `query_usage`: one of `number` or `business`, and a month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRef {
    /// When asked.
    pub at: Instant,
    /// A number.
    #[serde(default)]
    pub number: Option<String>,
    /// Or a business (all its numbers).
    #[serde(default)]
    pub business: Option<String>,
    /// The month, `YYYY-MM`, in the business's time zone (UTC unless its numbers were
    /// registered with a `timezone`); default: the month of `at` there.
    #[serde(default)]
    pub month: Option<String>,
}

impl UsageRef {
    /// The month named, as `YYYYMM`; `None` when the query names none (the engine then
    /// reads the month of `at` in the business's time zone).
    pub fn month_key(&self) -> Result<Option<u32>, crate::Error> {
        let Some(text) = &self.month else {
            return Ok(None);
        };
        let invalid = || crate::Error::InvalidEvent {
            problem: format!(
                "month must be \"YYYY-MM\" within 1970-01..=9999-12, got {:?}",
                crate::error::quoted(text)
            ),
        };
        let (year, month) = text.split_once('-').ok_or_else(invalid)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(year, 4) || !digits(month, 2) {
            return Err(invalid());
        }
        let year: u32 = year.parse().map_err(|_| invalid())?;
        let month: u32 = month.parse().map_err(|_| invalid())?;
        if !(1..=12).contains(&month) || year < 1970 {
            return Err(invalid());
        }
        Ok(Some(year * 100 + month))
    }
}

display_as_wire_name!(InboundKind);
from_wire_name!(InboundKind);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::TemplateMessage;
    use crate::wire::decode_event;

    /// The constructors give what the wire's shortest line of each input gives: every field
    /// they leave out at its default.
    #[test]
    fn constructors_equal_the_shortest_wire_lines() {
        let at = Instant::parse_rfc3339("2026-11-02T09:00:00Z").unwrap();
        let decoded = |line: &str| decode_event(line).unwrap();
        assert_eq!(
            Event::RegisterNumber(RegisterNumber::new(
                at,
                "acme",
                "+15550001111",
                Channel::Official
            )),
            decoded(
                r#"{"type":"register_number","at":"2026-11-02T09:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#
            )
        );
        assert_eq!(
            Event::Inbound(Inbound::new(
                at,
                "+15550001111",
                "+79110000001",
                InboundKind::Text
            )),
            decoded(
                r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#
            )
        );
        let send = |message| {
            Event::Send(SendRequest::new(
                at,
                "+15550001111",
                "+79110000001",
                message,
            ))
        };
        assert_eq!(
            send(OutboundMessage::text("Hi")),
            decoded(
                r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"}}"#
            )
        );
        for (params, json) in [
            (vec!["A-17", "today"], r#","params":["A-17","today"]"#),
            (vec![], ""),
        ] {
            assert_eq!(
                send(TemplateMessage::new("order_ready", "en", params).into()),
                decoded(&format!(
                    r#"{{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{{"kind":"template","name":"order_ready","language":"en"{json}}}}}"#
                ))
            );
        }
        // The borrowed forms read as the owned ones do.
        let Event::Send(request) = send(OutboundMessage::text("Hi")) else {
            unreachable!()
        };
        assert_eq!(
            crate::SendRequestRef::new(at, "+15550001111", "+79110000001", &request.message),
            request.borrowed()
        );
        let inbound = Inbound::new(at, "+15550001111", "+79110000001", InboundKind::Text);
        assert_eq!(
            crate::InboundRef::new(at, "+15550001111", "+79110000001", InboundKind::Text),
            inbound.borrowed()
        );
    }

    #[test]
    fn usage_months_are_strict_yyyy_mm() {
        let at = Instant::parse_rfc3339("2026-11-02T09:00:00Z").unwrap();
        let month = |m: &str| {
            UsageRef {
                at,
                number: None,
                business: None,
                month: Some(m.into()),
            }
            .month_key()
        };
        assert_eq!(month("2025-01").unwrap(), Some(202501));
        assert_eq!(month("1970-01").unwrap(), Some(197001));
        assert_eq!(month("9999-12").unwrap(), Some(999912));
        let long = "9".repeat(1000);
        let error = month(&long).unwrap_err().to_string();
        assert!(error.contains("1970-01..=9999-12"), "{error}");
        assert!(error.len() < 200, "quotes the input shortened: {error}");
        for bad in [
            "+2025-01", "2025-1", "2025-13", "25-01", "2025-00", "2025/01", "1969-12", "0000-01",
        ] {
            assert!(month(bad).is_err(), "{bad}");
        }
    }
}
