//! Provider webhooks in: Meta Cloud API webhook bodies (`object: whatsapp_business_account`,
//! `entry[].changes[]`) mapped to engine [`Event`]s (see `docs/events.md`, "Provider
//! webhooks").
//!
//! The parser ([`WebhookReader::parse`]) only reads the engine (to resolve numbers, the WABA's
//! business and the policy's pause lengths); it adds no rule of its own. Every rule —
//! windows from the message's own timestamp, corrections from error codes, billing
//! reconciliation, de-duplication of message ids and statuses — is the engine's, applied
//! through [`Engine::handle`].
//!
//! | `field`                              | engine event                                        |
//! |--------------------------------------|-----------------------------------------------------|
//! | `messages` → `messages[]`            | `inbound` (own `timestamp`, `id` as `message_id`, `referral`) |
//! | `messages` → `statuses[]`            | `message_status` (`pricing`, `errors[].code`)       |
//! | `calls` → `calls[]` (user-initiated `connect`) | `inbound` of kind `call`                  |
//! | `message_template_status_update`     | `template_status` (`other_info.title`, `disable_info`, `message_template_category`) |
//! | `message_template_quality_update`    | `template_quality`                                  |
//! | `template_category_update` (completed) | `template_category`                               |
//! | `message_template_components_update` | `template_components`                               |
//! | `phone_number_quality_update`        | `number_quality` (FLAGGED/UNFLAGGED), `messaging_limit` |
//! | `business_capability_update`         | `messaging_limit`                                   |
//! | `account_update`                     | `number_restriction`, `restriction_lifted`          |
//! | `user_preferences`                   | `user_preference`                                   |
//!
//! Whatever is not understood (an unknown `field`, event or enum value, or an unknown key of
//! the envelope, a message, a status, or the value of a template status, template quality,
//! template category or template components update, number quality, capability update,
//! calls, user preferences (and each preference) or applied account change) becomes an
//! [`WebhookOutcome::Unrecognized`] naming its JSON path; an item that is understood but
//! changes no state (a status `warning`, a business-initiated call) a
//! [`WebhookOutcome::Skipped`]; an item that is malformed or that the engine refuses a
//! [`WebhookOutcome::Failed`]. None of them stops the rest of the payload. Only a body that is
//! not a webhook at all (not JSON, not an object, no `entry` array) is an [`Error`].

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::effect::Effect;
use crate::engine::{Engine, Output};
use crate::error::quoted;
use crate::event::{
    DeliveryStatus, Event, Inbound, InboundKind, MessageStatusUpdate, MessagingLimitUpdate,
    NumberQualityUpdate, NumberRestrictionUpdate, PreferenceValue, ProviderPricing,
    RestrictionLifted, TemplateCategoryUpdate, TemplateComponentsUpdate, TemplateQualityUpdate,
    TemplateStatusUpdate, UserPreference,
};
use crate::number::RestrictionScope;
use crate::policy::{LimitLevel, LimitScope, Policy, TemplateQualityRule};
use crate::sharded::ShardedEngine;
use crate::template::{Quality, TemplateCategory};
use crate::template_lifecycle::TemplateEvent;
use crate::time::Instant;
use crate::Error;

/// One item of a payload, as parsed (nothing applied yet).
// Items live one payload at a time and most are events: boxing the event would add an
// allocation to each to save memory no one holds.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum WebhookItem {
    /// An engine event.
    Event {
        /// JSON path of the item, e.g. `entry[0].changes[0].value.statuses[1]`.
        path: String,
        /// The event.
        event: Event,
    },
    /// Something this build does not understand; ignored.
    Unrecognized {
        /// JSON path.
        path: String,
        /// What was not understood.
        reason: String,
    },
    /// Understood, but it changes no state the engine keeps.
    Skipped {
        /// JSON path.
        path: String,
        /// Why nothing changes.
        reason: String,
    },
    /// A malformed item, or one naming a number the engine does not know.
    Invalid {
        /// JSON path.
        path: String,
        /// What is wrong.
        error: Error,
    },
}

/// What one item of a payload did.
#[derive(Clone, Debug, PartialEq)]
pub enum WebhookOutcome {
    /// The item's event was applied.
    Applied {
        /// JSON path of the item.
        path: String,
        /// The event applied.
        event: Event,
        /// The engine's output (always an ack: webhooks carry no sends or queries).
        output: Output,
        /// The effects the event caused, oldest first. They are returned here and are not
        /// also queued for [`Engine::poll_effect`].
        effects: Vec<Effect>,
    },
    /// The item was malformed, or the engine refused its event; nothing changed for it.
    Failed {
        /// JSON path of the item.
        path: String,
        /// The event, when the item parsed.
        event: Option<Event>,
        /// Why.
        error: Error,
    },
    /// Something this build does not understand; ignored.
    Unrecognized {
        /// JSON path.
        path: String,
        /// What was not understood.
        reason: String,
    },
    /// Understood, but it changes no state the engine keeps: an item the engine keeps
    /// nothing of, or a message the engine had already taken (the provider delivered it
    /// again), which a host storing what it applies must not store twice.
    Skipped {
        /// JSON path.
        path: String,
        /// The event, for a message delivered again; `None` for an item that is no event.
        event: Option<Event>,
        /// Why nothing changes.
        reason: String,
    },
}

/// Reads Meta webhook bodies. Holds the one thing a payload cannot tell: which business a
/// WhatsApp Business Account (WABA) id belongs to.
///
/// Template and account webhooks name only the WABA (`entry[].id`). It is resolved, in
/// order: a mapping given with [`WebhookReader::with_business`]; a business whose name *is*
/// the WABA id; the only business, when the engine has exactly one and the reader maps no
/// WABA (a reader with mappings serves several accounts, and an unmapped one is none of
/// this engine's). Otherwise the item is [`WebhookOutcome::Unrecognized`] with the reason.
#[derive(Clone, Debug, Default)]
pub struct WebhookReader {
    businesses_by_waba: HashMap<String, String>,
}

impl WebhookReader {
    /// A reader with no WABA mapping.
    pub fn new() -> WebhookReader {
        WebhookReader::default()
    }

    /// Maps a WABA id to a business name.
    pub fn with_business(mut self, waba_id: &str, business: &str) -> WebhookReader {
        self.businesses_by_waba
            .insert(waba_id.to_owned(), business.to_owned());
        self
    }

    /// Maps a WABA id to a business name, in place: the one rule every binding maps by (the
    /// C library's `convstate_engine_map_waba`, Python's `waba_businesses`, the CLI's
    /// `--waba-business`). Refuses what could only be a host's mistake: an empty WABA id (or
    /// one with white space or control characters, which no entry's id holds), a
    /// business name no engine registers, and a WABA mapped to another business already
    /// (mapping it again to the same one is no change).
    pub fn map_business(&mut self, waba_id: &str, business: &str) -> Result<(), Error> {
        if waba_id.is_empty() {
            return Err(Error::InvalidEvent {
                problem: "WABA id is empty".into(),
            });
        }
        // An entry's id never holds them, so the mapping could never apply (a space copied
        // with the id from a dashboard, a line break from a file).
        if waba_id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::InvalidEvent {
                problem: format!(
                    "WABA id {:?} has white space or control characters: a WABA id is \
                     the entry id Meta's webhooks carry (digits), which never holds them",
                    quoted(waba_id)
                ),
            });
        }
        crate::engine::check_new_business_name(business)?;
        match self.businesses_by_waba.get(waba_id) {
            Some(earlier) if earlier != business => Err(Error::InvalidEvent {
                problem: format!(
                    "WABA {:?} is mapped to business {:?} already: a WABA belongs to one business",
                    quoted(waba_id),
                    quoted(earlier)
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.businesses_by_waba
                    .insert(waba_id.to_owned(), business.to_owned());
                Ok(())
            }
        }
    }

    /// Parses a body into items without changing the engine. `received_at` is used only
    /// for items that carry no timestamp of their own in an entry without a `time`.
    pub fn parse(
        &self,
        engine: &Engine,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookItem>, Error> {
        self.parse_items(engine, body, received_at)
    }

    /// [`WebhookReader::parse`] against one engine or the shards of one.
    fn parse_items(
        &self,
        engine: &dyn Directory,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookItem>, Error> {
        // A byte-order mark is no part of the JSON (a body saved by an editor, or read back
        // from a file): skipped, as the line doors skip one starting their input.
        let body = crate::wire::strip_byte_order_mark(body);
        let (root, repaired) = match serde_json::from_slice::<Value>(body) {
            Ok(root) => (root, None),
            Err(e) => match read_repaired(body, &e) {
                Some((root, note)) => (root, Some(note)),
                None => return Err(not_json(body, &e)),
            },
        };
        let Some(root) = root.as_object() else {
            return Err(invalid("$", format!("expected a JSON object; {META_BODY}")));
        };
        let mut parser = Parser {
            reader: self,
            engine,
            received_at,
            items: Vec::new(),
        };
        if let Some((path, problem)) = repaired {
            parser.unrecognized(
                &path,
                format!("{problem}; read as U+FFFD (the replacement character)"),
            );
        }
        match root.get("object").map(|o| (o, o.as_str())) {
            None => return Err(invalid("object", format!("missing; {META_BODY}"))),
            Some((_, Some("whatsapp_business_account"))) => {}
            Some((other, _)) => {
                parser.unrecognized(
                    "object",
                    format!("object {other} is not a WhatsApp Business Account webhook"),
                );
                return Ok(parser.items);
            }
        }
        let Some(entries) = root.get("entry").and_then(Value::as_array) else {
            return Err(invalid("entry", "expected an array"));
        };
        parser.unknown_keys("", root, &["object", "entry"]);
        if entries.is_empty() {
            parser.skipped("entry", "an empty list; nothing to apply");
        }
        for (i, entry) in entries.iter().enumerate() {
            parser.entry(&format!("entry[{i}]"), entry);
        }
        Ok(parser.items)
    }

    /// Parses a body and applies each event through [`Engine::handle`], in payload order.
    /// Errors only for a body that is not a webhook (see the module docs); the problem names
    /// the JSON path.
    pub fn handle(
        &self,
        engine: &mut Engine,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookOutcome>, Error> {
        let items = self.parse_items(engine, body, received_at)?;
        Ok(apply(items, |event| {
            let queued_before = engine.effects.len();
            let output = engine.handle(event.clone())?;
            Ok((output, engine.effects.drain(queued_before..).collect()))
        }))
    }

    /// [`WebhookReader::handle`] for a [`ShardedEngine`], which several threads may call at
    /// once: the payload is read against the shards (each lookup under its shard's lock),
    /// then each event goes to its shard as [`ShardedEngine::handle`] sends it, with the
    /// effects it caused there. Fed the same payloads in the same order, each shard's in time
    /// order, it gives what one engine gives, as [`ShardedEngine`] does for every input (its
    /// module docs say where the two differ: timers of other shards, ticket ids). A payload
    /// is not applied atomically: its items take their shards' locks one after the other.
    pub fn handle_sharded(
        &self,
        engine: &ShardedEngine,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookOutcome>, Error> {
        let items = self.parse_items(engine, body, received_at)?;
        Ok(apply(items, |event| {
            let mut effects = Vec::new();
            let output = engine.handle(event.clone(), &mut effects)?;
            Ok((output, effects))
        }))
    }

    /// The JSON-lines form of [`WebhookReader::handle`], for bindings: one line per outcome,
    /// each followed by the lines of the effects it caused (see [`outcome_lines`]). A body
    /// that is not a webhook gives a single `error` line.
    pub fn handle_json(
        &self,
        engine: &mut Engine,
        body: &[u8],
        received_at: Instant,
    ) -> Vec<String> {
        json_lines(self.handle(engine, body, received_at))
    }

    /// The JSON-lines form of [`WebhookReader::handle_sharded`], as [`Self::handle_json`].
    pub fn handle_json_sharded(
        &self,
        engine: &ShardedEngine,
        body: &[u8],
        received_at: Instant,
    ) -> Vec<String> {
        json_lines(self.handle_sharded(engine, body, received_at))
    }
}

/// Applies parsed items in payload order through `apply_event`, which returns the output
/// and the effects the event caused. A message the engine had already taken (acknowledged
/// as `redelivered`) is reported skipped, with its event.
fn apply(
    items: Vec<WebhookItem>,
    mut apply_event: impl FnMut(&Event) -> Result<(Output, Vec<Effect>), Error>,
) -> Vec<WebhookOutcome> {
    items
        .into_iter()
        .map(|item| match item {
            WebhookItem::Event { path, event } => {
                let result = apply_event(&event);
                if let Some(reason) = redelivery(&event, &result) {
                    return WebhookOutcome::Skipped {
                        path,
                        event: Some(event),
                        reason,
                    };
                }
                match result {
                    Ok((output, effects)) => WebhookOutcome::Applied {
                        path,
                        event,
                        output,
                        effects,
                    },
                    Err(error) => WebhookOutcome::Failed {
                        path,
                        event: Some(event),
                        error,
                    },
                }
            }
            WebhookItem::Unrecognized { path, reason } => {
                WebhookOutcome::Unrecognized { path, reason }
            }
            WebhookItem::Skipped { path, reason } => WebhookOutcome::Skipped {
                path,
                event: None,
                reason,
            },
            WebhookItem::Invalid { path, error } => WebhookOutcome::Failed {
                path,
                event: None,
                error,
            },
        })
        .collect()
}

/// Why a message delivered again is skipped: the engine took it the first time.
/// `None` unless `event` is a message the engine acknowledged as redelivered (which changed
/// nothing, so no effect of it is lost).
fn redelivery(event: &Event, result: &Result<(Output, Vec<Effect>), Error>) -> Option<String> {
    let (
        Event::Inbound(e),
        Ok((
            Output::Ack {
                redelivered: true, ..
            },
            effects,
        )),
    ) = (event, result)
    else {
        return None;
    };
    if !effects.is_empty() {
        return None;
    }
    let id = e.message_id.as_deref().unwrap_or_default();
    let from = (e.contact.as_deref())
        .or(e.group.as_deref())
        .unwrap_or_default();
    Some(format!(
        "message {id} from {from} to {} was received before: a redelivery, which changes \
         nothing (RULES.md §10)",
        e.number
    ))
}

fn json_lines(outcomes: Result<Vec<WebhookOutcome>, Error>) -> Vec<String> {
    match outcomes {
        Ok(outcomes) => outcome_lines(&outcomes),
        Err(e) => vec![crate::wire::encode_error(&e)],
    }
}

impl Engine {
    /// Applies a Meta Cloud API webhook body: each recognised item becomes an engine event
    /// applied through [`Engine::handle`]; see [`crate::webhook`]. The WABA of template and
    /// account webhooks is resolved without a mapping (use [`WebhookReader`] for one).
    /// `received_at` is only a fallback for items without a timestamp of their own in an
    /// entry without a `time`.
    pub fn handle_webhook(
        &mut self,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookOutcome>, Error> {
        WebhookReader::new().handle(self, body, received_at)
    }
}

impl ShardedEngine {
    /// [`Engine::handle_webhook`] for a sharded engine, which several threads may call at
    /// once: see [`WebhookReader::handle_sharded`] (and [`WebhookReader`] to map WABA ids).
    pub fn handle_webhook(
        &self,
        body: &[u8],
        received_at: Instant,
    ) -> Result<Vec<WebhookOutcome>, Error> {
        WebhookReader::new().handle_sharded(self, body, received_at)
    }
}

/// The wire lines of outcomes: `{"type":"ack","of":...,"path":...,"event":{...}}` then its
/// effect lines; `{"type":"error","error":...,"kind":...,"message":...,"path":...}`;
/// `{"type":"unrecognized","path":...,"reason":...}`; `{"type":"skipped","path":...,
/// "reason":...}`, with `"event":{...}` for a message delivered again.
pub fn outcome_lines(outcomes: &[WebhookOutcome]) -> Vec<String> {
    #[derive(Serialize)]
    struct AppliedLine<'a> {
        #[serde(flatten)]
        output: &'a Output,
        path: &'a str,
        event: &'a Event,
    }
    #[derive(Serialize)]
    struct ErrorLine<'a> {
        #[serde(rename = "type")]
        line_type: &'static str,
        error: &'static str,
        kind: &'static str,
        message: String,
        path: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<&'a Event>,
    }
    #[derive(Serialize)]
    struct NoteLine<'a> {
        #[serde(rename = "type")]
        line_type: &'static str,
        path: &'a str,
        reason: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        event: Option<&'a Event>,
    }
    let mut lines = Vec::new();
    for outcome in outcomes {
        match outcome {
            WebhookOutcome::Applied {
                path,
                event,
                output,
                effects,
            } => {
                lines.push(line(&AppliedLine {
                    output,
                    path,
                    event,
                }));
                lines.extend(effects.iter().map(crate::wire::encode_effect));
            }
            WebhookOutcome::Failed { path, event, error } => lines.push(line(&ErrorLine {
                line_type: "error",
                error: error.code(),
                kind: error.kind().name(),
                message: error.to_string(),
                path,
                event: event.as_ref(),
            })),
            WebhookOutcome::Unrecognized { path, reason } => lines.push(line(&NoteLine {
                line_type: "unrecognized",
                path,
                reason,
                event: None,
            })),
            WebhookOutcome::Skipped {
                path,
                event,
                reason,
            } => lines.push(line(&NoteLine {
                line_type: "skipped",
                path,
                reason,
                event: event.as_ref(),
            })),
        }
    }
    lines
}

fn line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("webhook outcome lines serialise infallibly")
}

/// Why `body` is not JSON: a string escape `\ud800` without its pair (half an emoji, as a
/// cut text may hold) named by its path and escape, as the wire doors name it; else serde's
/// words, and, for a body that is no JSON object at all (a form-encoded Twilio post), what
/// this door reads. A body that starts as an object is taken for a Meta body gone wrong.
/// A body whose only fault is an escape of half a UTF-16 surrogate pair (a text cut inside
/// an emoji), read with `\ufffd` in its place, and the path and problem of the first: the
/// rest of the body stands, a message that opens the window with it. Most JSON readers
/// (Python's, JavaScript's, Go's) read such a body; refused whole, its every item was lost
/// for a text the engine does not read.
fn read_repaired(body: &[u8], error: &serde_json::Error) -> Option<(Value, (String, String))> {
    let text = std::str::from_utf8(body).ok()?;
    let (path, problem) = crate::wire::lone_surrogate_in(text, error)?;
    let repaired = crate::wire::without_lone_surrogates(text)?;
    let root = serde_json::from_str(&repaired).ok()?;
    Some((root, (path, problem)))
}

fn not_json(body: &[u8], error: &serde_json::Error) -> Error {
    let text = std::str::from_utf8(body).ok();
    if let Some((path, problem)) = text.and_then(|text| crate::wire::lone_surrogate_in(text, error))
    {
        return invalid(&path, problem);
    }
    if body.trim_ascii_start().starts_with(b"{") {
        invalid("$", format!("not valid JSON: {error}"))
    } else {
        invalid("$", format!("not valid JSON: {error}; {META_BODY}"))
    }
}

/// What a body that is not a webhook at all is told this door reads.
const META_BODY: &str = "a Meta Cloud API webhook body is the JSON object Meta posts, \
    {\"object\":\"whatsapp_business_account\",\"entry\":[...]}; other providers' \
    payloads are mapped by the host to wire events";

fn invalid(path: &str, problem: impl std::fmt::Display) -> Error {
    Error::InvalidEvent {
        problem: format!("webhook {path}: {problem}"),
    }
}

/// The keys each level of the payload may carry (read, or documented by Meta and unused);
/// any other is reported `unrecognized`. An `entry[]` item's:
const ENTRY_KEYS: &[&str] = &["id", "time", "changes"];
const CHANGE_KEYS: &[&str] = &["field", "value"];
const MESSAGES_VALUE_KEYS: &[&str] = &[
    "messaging_product",
    "metadata",
    "contacts",
    "messages",
    "statuses",
    "errors",
];
const MESSAGE_KEYS: &[&str] = &[
    "from",
    "from_user_id",
    "id",
    "timestamp",
    "type",
    "context",
    "referral",
    "errors",
    "identity",
    "group_id",
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "button",
    "interactive",
    "reaction",
    "order",
    "system",
    "unsupported",
];
const STATUS_KEYS: &[&str] = &[
    "id",
    "status",
    "timestamp",
    "recipient_id",
    "recipient_user_id",
    "recipient_type",
    "recipient_participant_id",
    "conversation",
    "pricing",
    "errors",
    "biz_opaque_callback_data",
    "type",
];
const PRICING_KEYS: &[&str] = &["billable", "pricing_model", "type", "category"];

// The `value` keys of the WABA-level changes, from the payload shapes of Meta's webhook
// references as the platform facts record them (`reference/whatsapp-platform-facts.md` of
// the shared spec; its section and Meta's page are cited per list). The keys the engine
// reads are listed with the ones Meta documents that carry nothing it keeps (known but
// unused, so not reported); any other key is reported as unknown, as for messages and
// statuses, so that a host learns when Meta changes a payload the engine acts on. The item
// still applies: a new key must not stop the known ones.

/// `message_template_status_update` (facts §5.4, Meta M-MTSU). Read: `event`,
/// `message_template_name`, `message_template_language`, `other_info`, `disable_info`,
/// `message_template_category` (a template submitted as utility may be approved as
/// marketing). Known but unused: `message_template_id` (the template is named by name and
/// language), `reason` and `rejection_info` (a rejection's advice, not state).
const TEMPLATE_STATUS_KEYS: &[&str] = &[
    "event",
    "message_template_name",
    "message_template_language",
    "other_info",
    "disable_info",
    "message_template_category",
    "message_template_id",
    "reason",
    "rejection_info",
];
/// `other_info` (facts §5.4): `title` read; `description` is prose.
const TEMPLATE_OTHER_INFO_KEYS: &[&str] = &["title", "description"];
/// `disable_info` (facts §5.4): `disable_date` read.
const TEMPLATE_DISABLE_INFO_KEYS: &[&str] = &["disable_date"];
/// `message_template_quality_update` (facts §5.5, Meta M-MTQU). Read: `new_quality_score`,
/// `message_template_name`, `message_template_language`. Known but unused:
/// `previous_quality_score` (the engine keeps its own) and `message_template_id`.
const TEMPLATE_QUALITY_KEYS: &[&str] = &[
    "new_quality_score",
    "message_template_name",
    "message_template_language",
    "previous_quality_score",
    "message_template_id",
];
/// `template_category_update` (facts §5.4 "Related", Meta's template_category_update
/// reference). A completed change reads `new_category`, `message_template_name`,
/// `message_template_language`; `previous_category` and `message_template_id` are known but
/// unused (the engine keeps its own). An impending change (24 hours ahead) carries
/// `correct_category` and `category_update_timestamp`, with `new_category` the category still
/// in force: it changes nothing, since the change itself is reported when it happens.
const TEMPLATE_CATEGORY_KEYS: &[&str] = &[
    "new_category",
    "message_template_name",
    "message_template_language",
    "previous_category",
    "message_template_id",
    "correct_category",
    "category_update_timestamp",
];
/// `message_template_components_update` (facts §5.4 "Related", Meta's reference: sent when
/// a template is edited). Read: `message_template_element` (the body),
/// `message_template_title` (a text header; absent when there is none),
/// `message_template_footer`, `message_template_name`, `message_template_language`. Known but
/// unused: `message_template_id` and `message_template_buttons` (only URL and phone buttons
/// are listed, so the engine keeps the buttons it has).
const TEMPLATE_COMPONENTS_KEYS: &[&str] = &[
    "message_template_element",
    "message_template_title",
    "message_template_footer",
    "message_template_name",
    "message_template_language",
    "message_template_id",
    "message_template_buttons",
];
/// `phone_number_quality_update` (facts §4.1 "Webhook fields", Meta M-PNQU). Read:
/// `display_phone_number`, `event`, `max_daily_conversations_per_business`,
/// `current_limit`. Known but unused: `old_limit` (the engine keeps the limit it had).
const NUMBER_QUALITY_KEYS: &[&str] = &[
    "display_phone_number",
    "event",
    "max_daily_conversations_per_business",
    "current_limit",
    "old_limit",
];
/// `business_capability_update` (facts §3.2 and §0 name the limit keys, Meta M-BCU the
/// rest). Read: `max_daily_conversations_per_business`, `max_daily_conversation_per_phone`
/// (the integer form, removed Feb 2026) and `phone_number` (a number named as in
/// `account_update`). Known but unused: `max_phone_numbers_per_business` and
/// `max_phone_numbers_per_waba` (how many numbers may be added, not a sending limit).
const CAPABILITY_KEYS: &[&str] = &[
    "max_daily_conversations_per_business",
    "max_daily_conversation_per_phone",
    "phone_number",
    "max_phone_numbers_per_business",
    "max_phone_numbers_per_waba",
];
/// `calls` (facts §1.2 names the event; Meta's calling webhook reference the shape): the
/// same envelope as `messages`. Read: `metadata`, `calls`, `statuses`. Known but unused:
/// `messaging_product`, `contacts` (the caller is the call's `from`) and `errors`. The
/// `calls[]` items are not checked: their keys differ per call event (`session`,
/// `status`, `duration`, ...) and the engine reads only a user's `connect`.
const CALLS_VALUE_KEYS: &[&str] = &[
    "messaging_product",
    "metadata",
    "contacts",
    "calls",
    "statuses",
    "errors",
];
/// `user_preferences` (facts §8.1 names `category` and `value`; Meta M-USERPREF the
/// shape): the same envelope as `messages`. Read: `metadata`, `user_preferences`, and
/// `contacts` only for the user id of a preference without a `wa_id` or `user_id` of its
/// own. Known but unused: `messaging_product`.
const USER_PREFERENCES_VALUE_KEYS: &[&str] = &[
    "messaging_product",
    "metadata",
    "contacts",
    "user_preferences",
];
/// A `user_preferences[]` item. Read: `wa_id`, `user_id` (a user with a username, whose
/// `wa_id` is empty: facts §1.3; beside a `wa_id`, the contact's other name, linked),
/// `category`, `value`, `timestamp`. Known but unused:
/// `detail` (prose: "User requested to stop marketing messages").
const USER_PREFERENCE_KEYS: &[&str] = &[
    "wa_id",
    "user_id",
    "category",
    "value",
    "timestamp",
    "detail",
];
/// `account_update` (facts §4.3 "Webhook" and §2.3 "Tier webhook", Meta M-ACCT-UPD). Read:
/// `event`, `phone_number` (the number it names, when it names one), `restriction_info`,
/// `ban_info`. Known but unused: `violation_info` (ACCOUNT_VIOLATION, a warning that
/// changes no sending state) and `volume_tier_info` (prices come from the policy's rate
/// card). Checked only for the events the engine applies (ACCOUNT_RESTRICTION,
/// DISABLED_UPDATE): the others are `skipped` whole, read no further than their `event`, and
/// carry per-event keys Meta documents that the facts file does not list (`waba_info`,
/// `country`, ...), which would be reported on every such update while telling nothing
/// about what the engine reads.
const ACCOUNT_KEYS: &[&str] = &[
    "event",
    "phone_number",
    "restriction_info",
    "ban_info",
    "violation_info",
    "volume_tier_info",
];
/// A `restriction_info[]` entry (facts §4.3): both read.
const RESTRICTION_KEYS: &[&str] = &["restriction_type", "expiration"];
/// `ban_info` (facts §4.3): `waba_ban_state` read; `waba_ban_date` is a display date, the
/// entry's `time` is the ban's instant.
const BAN_INFO_KEYS: &[&str] = &["waba_ban_state", "waba_ban_date"];

/// What the parser reads of the state a payload is read against: one [`Engine`], or the
/// shards of a [`ShardedEngine`] (each answer under its shard's lock, one lock at a time).
pub(crate) trait Directory {
    /// The policy (the shards of a sharded engine run one).
    fn policy(&self) -> &Policy;
    /// [`Engine::number_by_provider_id`].
    fn number_by_provider_id(&self, id: &str) -> Option<String>;
    /// A registered number's canonical text, or the engine's error naming it.
    fn registered_number(&self, number: &str) -> Result<String, Error>;
    /// Whether a business of that name is registered.
    fn has_business(&self, business: &str) -> bool;
    /// Registered businesses, at most two: enough to tell none, the only one and several.
    fn two_businesses(&self) -> Vec<String>;
    /// The official-channel numbers of a business (a WABA's numbers), in registration order.
    fn numbers_of(&self, business: &str) -> Vec<String>;
    /// Whether `number` recorded a send under `message_id` that is still remembered.
    fn recorded_send(&self, number: &str, message_id: &str) -> bool;
}

impl Directory for Engine {
    fn policy(&self) -> &Policy {
        Engine::policy(self)
    }

    fn number_by_provider_id(&self, id: &str) -> Option<String> {
        Engine::number_by_provider_id(self, id)
    }

    fn registered_number(&self, number: &str) -> Result<String, Error> {
        Ok(self.number(number)?.number)
    }

    fn has_business(&self, business: &str) -> bool {
        self.businesses().any(|b| b == business)
    }

    fn two_businesses(&self) -> Vec<String> {
        self.businesses().take(2).map(str::to_owned).collect()
    }

    fn numbers_of(&self, business: &str) -> Vec<String> {
        // A WABA's numbers are its WhatsApp Business Platform numbers: the business's
        // numbers on other channels take no WhatsApp limit (refused `not_on_channel`), nor
        // a WhatsApp restriction or ban.
        self.numbers()
            .filter(|n| n.business == business && n.channel == crate::number::Channel::Official)
            .map(|n| n.number)
            .collect()
    }

    fn recorded_send(&self, number: &str, message_id: &str) -> bool {
        Engine::recorded_send(self, number, message_id)
    }
}

struct Parser<'a> {
    reader: &'a WebhookReader,
    engine: &'a dyn Directory,
    received_at: Instant,
    items: Vec<WebhookItem>,
}

/// A lookup result: the value, or the error naming the path.
type Found<T> = Result<T, Error>;

impl Parser<'_> {
    fn event(&mut self, path: String, event: Event) {
        self.items.push(WebhookItem::Event { path, event });
    }

    fn unrecognized(&mut self, path: &str, reason: impl Into<String>) {
        self.items.push(WebhookItem::Unrecognized {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }

    /// The contact's business-scoped user id (`from_user_id` of a message or call,
    /// `recipient_user_id` of a status) when Meta gives it beside their phone number (`from`,
    /// `recipient_id`): the contact's other name, which the engine learns (facts §1.3). One
    /// that is not a user id (not a string, or text the engine would refuse) is said so, and
    /// the `item` (a message, a status) applies without it.
    fn user_id_beside_phone(
        &mut self,
        object: &serde_json::Map<String, Value>,
        path: &str,
        [phone_key, user_id_key, item]: [&str; 3],
    ) -> Option<String> {
        let has_phone = object
            .get(phone_key)
            .and_then(Value::as_str)
            .is_some_and(|phone| !phone.is_empty());
        let problem = match object.get(user_id_key) {
            Some(Value::String(user_id)) if has_phone && !user_id.is_empty() => {
                match crate::address::check_user_id(user_id) {
                    Ok(()) => return Some(user_id.clone()),
                    Err(e) => e.to_string(),
                }
            }
            None | Some(Value::Null) | Some(Value::String(_)) => return None,
            Some(_) => "expected a string".to_owned(),
        };
        self.unrecognized(
            &join(path, user_id_key),
            format!("{problem}; the {item} applies without it"),
        );
        None
    }

    fn skipped(&mut self, path: &str, reason: impl Into<String>) {
        self.items.push(WebhookItem::Skipped {
            path: path.to_owned(),
            reason: reason.into(),
        });
    }

    fn failed(&mut self, path: &str, error: Error) {
        self.items.push(WebhookItem::Invalid {
            path: path.to_owned(),
            error,
        });
    }

    /// Reports keys of `object` that are neither known nor handled.
    fn unknown_keys(
        &mut self,
        path: &str,
        object: &serde_json::Map<String, Value>,
        known: &[&str],
    ) {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.unrecognized(&join(path, key), "unknown field; ignored");
        }
    }

    /// Reports unknown keys of `object[key]` when it is an object (a value of another type is
    /// the reader's to judge where it reads it).
    fn unknown_keys_in(
        &mut self,
        path: &str,
        object: &serde_json::Map<String, Value>,
        key: &str,
        known: &[&str],
    ) {
        if let Some(Value::Object(inner)) = object.get(key) {
            self.unknown_keys(&join(path, key), inner, known);
        }
    }

    /// The string `change.value[key]` that names what the change is (its `event`, its
    /// score): a change without it is malformed, not an unknown kind, and fails.
    fn required_str<'v>(&mut self, change: &Change<'v>, key: &str) -> Option<&'v str> {
        match str_at(change.value, &change.path, key) {
            Ok(text) => Some(text),
            Err(e) => {
                self.failed(&join(&change.path, key), e);
                None
            }
        }
    }

    /// The items of the list `object[key]` with their indices. Every part of a payload gets
    /// a line: a list that is present but empty is said so, and a value that is not a list
    /// fails (an absent list is the caller's to judge).
    fn items<'v>(
        &mut self,
        path: &str,
        object: &'v serde_json::Map<String, Value>,
        key: &str,
    ) -> Vec<(usize, &'v Value)> {
        match object.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) if items.is_empty() => {
                self.skipped(&join(path, key), "an empty list; nothing to apply");
                Vec::new()
            }
            Some(Value::Array(items)) => items.iter().enumerate().collect(),
            Some(_) => {
                let at = join(path, key);
                self.failed(&at, invalid(&at, "expected an array"));
                Vec::new()
            }
        }
    }

    fn entry(&mut self, path: &str, entry: &Value) {
        let Some(object) = entry.as_object() else {
            return self.failed(path, invalid(path, "expected an object"));
        };
        self.unknown_keys(path, object, ENTRY_KEYS);
        let waba = object.get("id").and_then(|id| match id {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        // `time` (unix seconds) is when Meta emitted the entry: the instant of events whose
        // value carries no timestamp (template, quality, capability and account updates).
        // A bad `time` fails only the changes that need it: messages, calls and preferences
        // carry their own timestamps. A `time` written `null` is absent, as an item's
        // `timestamp` is.
        let entry_at = match present(object, "time") {
            None => Some(self.received_at),
            Some(time) => match unix_seconds(time, &join(path, "time")) {
                Ok(at) => Some(at),
                Err(e) => {
                    self.failed(&join(path, "time"), e);
                    None
                }
            },
        };
        let Some(changes) = object.get("changes").and_then(Value::as_array) else {
            let at = join(path, "changes");
            return self.failed(&at, invalid(&at, "expected an array"));
        };
        if changes.is_empty() {
            self.skipped(&join(path, "changes"), "an empty list; nothing to apply");
        }
        for (j, change) in changes.iter().enumerate() {
            let path = format!("{path}.changes[{j}]");
            let Some(change) = change.as_object() else {
                self.failed(&path, invalid(&path, "expected an object"));
                continue;
            };
            self.unknown_keys(&path, change, CHANGE_KEYS);
            let field = change.get("field").and_then(Value::as_str);
            let value_path = join(&path, "value");
            let Some(value) = change.get("value").and_then(Value::as_object) else {
                self.failed(&value_path, invalid(&value_path, "expected an object"));
                continue;
            };
            let own_timestamps = matches!(field, Some("messages" | "calls" | "user_preferences"));
            let at = match entry_at {
                Some(at) => at,
                // Read only by their items without a timestamp of their own: with neither,
                // arrival is all there is.
                None if own_timestamps => self.received_at,
                None => {
                    let problem =
                        "the entry's time is invalid and this change has no instant of its own";
                    self.failed(&value_path, invalid(&value_path, problem));
                    continue;
                }
            };
            let change = Change {
                path: value_path,
                value,
                waba: waba.as_deref(),
                at,
            };
            match field {
                Some("messages") => self.messages(&change),
                Some("calls") => self.calls(&change),
                Some("message_template_status_update") => self.template_status(&change),
                Some("message_template_quality_update") => self.template_quality(&change),
                Some("template_category_update") => self.template_category(&change),
                Some("message_template_components_update") => self.template_components(&change),
                Some("phone_number_quality_update") => self.phone_number_quality(&change),
                Some("business_capability_update") => self.business_capability(&change),
                Some("account_update") => self.account_update(&change),
                Some("user_preferences") => self.user_preferences(&change),
                Some(other) => self.unrecognized(
                    &join(&path, "field"),
                    format!("webhook field {other:?} has no engine event"),
                ),
                None => {
                    let at = join(&path, "field");
                    self.failed(&at, invalid(&at, "expected a string"));
                }
            }
        }
    }

    // ---- lookups -------------------------------------------------------------------

    /// The registered number of a `metadata` object: by `phone_number_id`, else by
    /// `display_phone_number`.
    fn metadata_number(&self, change: &Change) -> Found<String> {
        let path = join(&change.path, "metadata");
        let metadata = change
            .value
            .get("metadata")
            .and_then(Value::as_object)
            .ok_or_else(|| invalid(&path, "expected an object"))?;
        // Either key given as another type than a string is the payload's fault, named as
        // such (an integer id used to read as absent and end as "unknown number").
        let id = opt_str_at(metadata, &path, "phone_number_id")?;
        let display = opt_str_at(metadata, &path, "display_phone_number")?;
        if let Some(number) = id.and_then(|id| self.engine.number_by_provider_id(id)) {
            return Ok(number);
        }
        match (display, id) {
            (Some(display), _) => self.registered_number(display),
            (None, Some(id)) => Err(Error::UnknownNumber {
                number: crate::error::quoted(id),
            }),
            // Nothing names the number: the payload's fault, not an unknown number's.
            (None, None) => Err(invalid(
                &path,
                "names no number: expected phone_number_id or display_phone_number",
            )),
        }
    }

    /// A display number (Meta writes it without `+`, sometimes with spaces or dashes) that
    /// the engine knows. One it does not know is named as a host registers it (`+` and the
    /// digits): Meta's spelling read as some other number (the path names the field).
    fn registered_number(&self, display: &str) -> Found<String> {
        let digits: String = display
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        self.engine.registered_number(&digits).map_err(|e| match e {
            Error::UnknownNumber { .. } if digits.bytes().all(|b| b.is_ascii_digit()) => {
                Error::UnknownNumber {
                    number: crate::error::quoted(&format!("+{digits}")),
                }
            }
            other => other,
        })
    }

    /// The business a WABA id belongs to (see [`WebhookReader`]).
    fn business(&self, waba: Option<&str>) -> Result<String, String> {
        if let Some(business) = waba.and_then(|w| self.reader.businesses_by_waba.get(w)) {
            return Ok(business.clone());
        }
        if let Some(waba) = waba {
            if self.engine.has_business(waba) {
                return Ok(waba.to_owned());
            }
        }
        // A host that maps WABAs runs more than one: an unmapped one is an account this
        // engine was not told about, not the only business's (whose bans and limits it
        // would otherwise take on).
        if !self.reader.businesses_by_waba.is_empty() {
            return Err(format!(
                "WABA {} is not mapped: the reader maps {} other WABA id(s) to businesses; \
                 map this one too (WebhookReader::with_business, Python waba_businesses, \
                 C convstate_engine_map_waba, CLI --waba-business)",
                waba.unwrap_or("(no entry id)"),
                self.reader.businesses_by_waba.len()
            ));
        }
        match <[String; 1]>::try_from(self.engine.two_businesses()) {
            Ok([only]) => Ok(only),
            Err(none) if none.is_empty() => Err("no business is registered".into()),
            Err(_) => Err(format!(
                "WABA {} maps to no business: several are registered; map it \
                 (WebhookReader::with_business, Python waba_businesses, C \
                 convstate_engine_map_waba, CLI --waba-business) or name the business by \
                 the WABA id",
                waba.unwrap_or("(no entry id)")
            )),
        }
    }

    /// The numbers a WABA-level event applies to: `value.phone_number` when given, else
    /// every number of the WABA's business.
    fn account_numbers(&mut self, change: &Change) -> Option<Vec<String>> {
        // A number that cannot be read names one number all the same: taken as absent, the
        // restriction or limit meant for it went to every number of the business.
        let display = opt_str_at(change.value, &change.path, "phone_number")
            .and_then(|display| display.map(|d| self.registered_number(d)).transpose());
        match display {
            Ok(Some(number)) => return Some(vec![number]),
            Ok(None) => {}
            Err(e) => {
                self.failed(&join(&change.path, "phone_number"), e);
                return None;
            }
        }
        match self.business(change.waba) {
            Ok(business) => {
                let numbers = self.engine.numbers_of(&business);
                if numbers.is_empty() {
                    self.unrecognized(
                        &change.path,
                        format!("business {business:?} has no number on the official channel"),
                    );
                    return None;
                }
                Some(numbers)
            }
            Err(reason) => {
                self.unrecognized(&change.path, reason);
                None
            }
        }
    }

    // ---- messages ------------------------------------------------------------------

    fn messages(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, MESSAGES_VALUE_KEYS);
        let has_items = ["messages", "statuses", "errors"]
            .iter()
            .any(|k| change.value.contains_key(*k));
        if !has_items {
            return self.skipped(&change.path, "no messages, statuses or errors");
        }
        let number = match self.metadata_number(change) {
            Ok(number) => number,
            Err(e) => return self.failed(&join(&change.path, "metadata"), e),
        };
        for (k, message) in self.items(&change.path, change.value, "messages") {
            let path = format!("{}.messages[{k}]", change.path);
            match self.inbound(&path, message, &number, change.at) {
                Ok(Some(event)) => self.event(path, event),
                Ok(None) => {}
                Err(e) => self.failed(&path, e),
            }
        }
        for (k, status) in self.items(&change.path, change.value, "statuses") {
            let path = format!("{}.statuses[{k}]", change.path);
            match self.status(&path, status, &number, change.at) {
                Ok(Some(event)) => self.event(path, event),
                Ok(None) => {}
                Err(e) => self.failed(&path, e),
            }
        }
        for (k, error) in self.items(&change.path, change.value, "errors") {
            let path = format!("{}.errors[{k}]", change.path);
            let code = error.get("code").map(Value::to_string).unwrap_or_default();
            self.skipped(
                &path,
                format!("provider error {code} not tied to a message"),
            );
        }
    }

    fn inbound(
        &mut self,
        path: &str,
        message: &Value,
        number: &str,
        entry_at: Instant,
    ) -> Found<Option<Event>> {
        let object = message
            .as_object()
            .ok_or_else(|| invalid(path, "expected an object"))?;
        let kind_name = str_at(object, path, "type")?;
        // A message carries its content under a key named by its type, known or not.
        let mut known = MESSAGE_KEYS.to_vec();
        known.push(kind_name);
        self.unknown_keys(path, object, &known);
        let kind = match kind_name {
            "text" => InboundKind::Text,
            "image" => InboundKind::Image,
            "video" => InboundKind::Video,
            "audio" => InboundKind::Audio,
            "document" => InboundKind::Document,
            "sticker" => InboundKind::Sticker,
            "location" => InboundKind::Location,
            "contacts" => InboundKind::Contacts,
            "button" => InboundKind::Button,
            // An order (cart) is the contact's reply through a product message.
            "interactive" | "order" => InboundKind::Interactive,
            "reaction" => InboundKind::Reaction,
            "system" => InboundKind::System,
            // Meta's name for a message it could not parse (`unknown` in older versions).
            "unsupported" | "unknown" => InboundKind::Unsupported,
            // The contact opened the chat for the first time with welcome messages on: it
            // opened the service window until Meta removed the feature (facts §1.1); a later
            // one is a type Meta no longer has, reported like any unknown type.
            "request_welcome" => {
                let at = timestamp(object, path, entry_at)?;
                let window = &self.engine.policy().window;
                if window.request_welcome_opens(at) {
                    InboundKind::RequestWelcome
                } else {
                    let end = match window.request_welcome_until {
                        Some(end) => format!("{end}, when Meta removed welcome messages"),
                        None => "null: welcome messages never open it".to_owned(),
                    };
                    self.unrecognized(
                        &join(path, "type"),
                        format!(
                            "message type \"request_welcome\" at {at}, not before the \
                             policy's window.request_welcome_until ({end}); not applied"
                        ),
                    );
                    return Ok(None);
                }
            }
            other => {
                self.unrecognized(
                    &join(path, "type"),
                    format!("message type {other:?} has no engine kind; not applied"),
                );
                return Ok(None);
            }
        };
        if object.get("group_id").is_some_and(|g| !g.is_null()) {
            // Meta's Groups API: one window for the whole group, which RULES.md §1 keeps off
            // the official channel. Taken as the member's own message, it opened a private
            // window with the member.
            self.unrecognized(
                &join(path, "group_id"),
                "a group message: groups are not modelled on the official channel; not applied",
            );
            return Ok(None);
        }
        let event = Event::Inbound(Inbound {
            at: timestamp(object, path, entry_at)?,
            number: number.to_owned(),
            contact: Some(contact_at(object, path, "from", "from_user_id")?),
            group: None,
            kind,
            size: None,
            referral: object.get("referral").is_some_and(Value::is_object),
            message_id: Some(str_at(object, path, "id")?.to_owned()),
            user_id: self.user_id_beside_phone(object, path, ["from", "from_user_id", "message"]),
        });
        // Meta's referral is an object (the ad or post clicked); anything else is not one,
        // and is said so rather than read silently as no referral.
        if object
            .get("referral")
            .is_some_and(|r| !r.is_object() && !r.is_null())
        {
            self.unrecognized(
                &join(path, "referral"),
                "expected an object; the message applies without a referral",
            );
        }
        Ok(Some(event))
    }

    fn status(
        &mut self,
        path: &str,
        status: &Value,
        number: &str,
        entry_at: Instant,
    ) -> Found<Option<Event>> {
        let object = status
            .as_object()
            .ok_or_else(|| invalid(path, "expected an object"))?;
        self.unknown_keys(path, object, STATUS_KEYS);
        if opt_str_at(object, path, "recipient_type")? == Some("group") {
            // The status of a message to a group (Meta's Groups API), whose recipient is the
            // group's id: groups are not modelled on the official channel, as for inbound.
            self.unrecognized(
                &join(path, "recipient_type"),
                "a group message's status: groups are not modelled on the official channel; not applied",
            );
            return Ok(None);
        }
        let delivery = match str_at(object, path, "status")? {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" | "played" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            "deleted" | "warning" => {
                self.skipped(
                    path,
                    "a deleted or warning status changes no delivery state",
                );
                return Ok(None);
            }
            other => {
                self.unrecognized(
                    &join(path, "status"),
                    format!("status {other:?} is not a delivery status; not applied"),
                );
                return Ok(None);
            }
        };
        // What the status cannot apply without is read first, so that the notes on its
        // pricing and error codes below belong to a status that applies.
        let at = timestamp(object, path, entry_at)?;
        let contact = contact_at(object, path, "recipient_id", "recipient_user_id")?;
        let message_id = self.status_message_id(object, path, number)?;
        let user_id = self.user_id_beside_phone(
            object,
            path,
            ["recipient_id", "recipient_user_id", "status"],
        );
        let listed = match object.get("errors") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(listed)) => listed.as_slice(),
            Some(_) => return Err(invalid(&join(path, "errors"), "expected an array")),
        };
        // Pricing that cannot be read is said so, and the status applies without it, as
        // with an unreadable error code below: failing it whole lost what the status says
        // without its pricing (a failure's charge and limit slot given back, a 131047
        // closing the window; a delivery, whose pricing a later status may still bring).
        let pricing = match object.get("pricing") {
            None | Some(Value::Null) => None,
            Some(pricing) => match self.pricing(&join(path, "pricing"), pricing) {
                Ok(pricing) => Some(pricing),
                Err(e) => {
                    self.unrecognized(
                        &join(path, "pricing"),
                        format!("{e}; the status applies without it"),
                    );
                    None
                }
            },
        };
        let mut errors = Vec::new();
        // An error the engine cannot read a code from is said so, and the status applies
        // with the codes it can read: failing it whole would lose the failure itself (its
        // charge and limit slot given back), which the status says without any code.
        for (k, error) in listed.iter().enumerate() {
            let code = error.get("code");
            match code
                .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
                .and_then(|c| u32::try_from(c).ok())
            {
                Some(code) => errors.push(code),
                None => self.unrecognized(
                    &format!("{path}.errors[{k}].code"),
                    format!(
                        "{} is not an error code (a non-negative integer); the status applies \
                         without it",
                        code.map_or_else(|| "no code".to_owned(), Value::to_string)
                    ),
                ),
            }
        }
        Ok(Some(Event::MessageStatus(MessageStatusUpdate {
            at,
            number: number.to_owned(),
            contact,
            user_id,
            message_id,
            status: delivery,
            pricing,
            errors,
        })))
    }

    /// The id a status names its message by: Meta's `id` (the wamid), unless the number
    /// recorded no send under it and did under the status's `biz_opaque_callback_data`. A
    /// host learns the wamid only from the provider's answer, after the engine decided and
    /// recorded the send; the platform's way to match statuses to its own message ids is the
    /// callback data it sets on the send and gets back on every status (facts §8.2). So a
    /// host records its send under its own id (`message_id`), gives the provider that id as
    /// `biz_opaque_callback_data`, and its statuses find the send. Callback data that names
    /// no recorded send (a host's campaign tag, say) leaves the wamid, as before.
    fn status_message_id(
        &self,
        object: &serde_json::Map<String, Value>,
        path: &str,
        number: &str,
    ) -> Found<String> {
        let wamid = str_at(object, path, "id")?;
        let own = object
            .get("biz_opaque_callback_data")
            .and_then(Value::as_str);
        let own = own.filter(|own| {
            !self.engine.recorded_send(number, wamid) && self.engine.recorded_send(number, own)
        });
        Ok(own.unwrap_or(wamid).to_owned())
    }

    /// `pricing`: `type` and `category`. Before `type` existed (conversation-based pricing)
    /// only `billable` said whether it was charged: `true` reads as `regular`, `false` as
    /// `free` (counted as confirmed free); with neither (a `billable` written `null` is
    /// absent), an unknown type.
    fn pricing(&mut self, path: &str, pricing: &Value) -> Found<ProviderPricing> {
        let object = pricing
            .as_object()
            .ok_or_else(|| invalid(path, "expected an object"))?;
        self.unknown_keys(path, object, PRICING_KEYS);
        let kind = match object.get("type") {
            Some(Value::String(name)) => {
                let kind: crate::delivery::PricingType =
                    serde_json::from_value(Value::String(name.clone()))
                        .map_err(|e| invalid(&join(path, "type"), e))?;
                if kind == crate::delivery::PricingType::Other {
                    self.unrecognized(
                        &join(path, "type"),
                        format!("pricing type {name:?} unknown; counted as confirmed without a category"),
                    );
                }
                kind
            }
            None => match present(object, "billable") {
                Some(Value::Bool(true)) => crate::delivery::PricingType::Regular,
                Some(Value::Bool(false)) => crate::delivery::PricingType::Free,
                // Nothing says whether it was charged: counted as an unknown type, and said
                // so, as an unknown `type` is.
                None => {
                    self.unrecognized(
                        path,
                        "pricing has no type and no billable; counted as confirmed without a \
                         category",
                    );
                    crate::delivery::PricingType::Other
                }
                Some(other) => {
                    self.unrecognized(
                        &join(path, "billable"),
                        format!(
                            "billable {other} is not a boolean and there is no type; counted as \
                             confirmed without a category"
                        ),
                    );
                    crate::delivery::PricingType::Other
                }
            },
            Some(_) => return Err(invalid(&join(path, "type"), "expected a string")),
        };
        let category = opt_str_at(object, path, "category")?.map(str::to_ascii_lowercase);
        Ok(ProviderPricing { kind, category })
    }

    fn calls(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, CALLS_VALUE_KEYS);
        if !["calls", "statuses"]
            .iter()
            .any(|k| change.value.contains_key(*k))
        {
            return self.skipped(&change.path, "no calls or statuses");
        }
        let number = match self.metadata_number(change) {
            Ok(number) => number,
            Err(e) => return self.failed(&join(&change.path, "metadata"), e),
        };
        for (k, call) in self.items(&change.path, change.value, "calls") {
            let path = format!("{}.calls[{k}]", change.path);
            let parsed = (|| -> Found<Option<Event>> {
                let object = call
                    .as_object()
                    .ok_or_else(|| invalid(&path, "expected an object"))?;
                // A direction that cannot be read may be a user's: skipped as a business
                // call's, a call that opens the window was dropped under the wrong reason.
                let direction = opt_str_at(object, &path, "direction")?;
                let event = str_at(object, &path, "event")?;
                if direction != Some("USER_INITIATED") || event != "connect" {
                    return Ok(None);
                }
                // The caller as a message's sender: `from`, or for a user who adopted a
                // username (`from` empty or absent) the business-scoped `from_user_id`
                // (facts §1.3); with neither, an error naming `from` (passed on, the engine
                // refused the contact `""` naming no field). A user id beside a phone
                // number is the contact's other name, as on a message.
                let caller = contact_at(object, &path, "from", "from_user_id")?;
                Ok(Some(Event::Inbound(Inbound {
                    at: timestamp(object, &path, change.at)?,
                    number: number.clone(),
                    contact: Some(caller),
                    group: None,
                    kind: InboundKind::Call,
                    size: None,
                    referral: false,
                    message_id: Some(str_at(object, &path, "id")?.to_owned()),
                    user_id: self.user_id_beside_phone(
                        object,
                        &path,
                        ["from", "from_user_id", "message"],
                    ),
                })))
            })();
            match parsed {
                Ok(Some(event)) => self.event(path, event),
                Ok(None) => self.skipped(
                    &path,
                    "only a user-initiated call's connect opens the window",
                ),
                Err(e) => self.failed(&path, e),
            }
        }
        for (k, _) in self.items(&change.path, change.value, "statuses") {
            let path = format!("{}.statuses[{k}]", change.path);
            self.skipped(&path, "call statuses change no conversation state");
        }
    }

    // ---- templates -----------------------------------------------------------------

    /// Business, name and language of a template webhook.
    fn template_ref(&mut self, change: &Change) -> Option<(String, String, String)> {
        let business = match self.business(change.waba) {
            Ok(b) => b,
            Err(reason) => {
                self.unrecognized(&change.path, reason);
                return None;
            }
        };
        let name = str_at(change.value, &change.path, "message_template_name");
        let language = str_at(change.value, &change.path, "message_template_language");
        match (name, language) {
            (Ok(name), Ok(language)) => Some((business, name.to_owned(), language.to_owned())),
            (Err(e), _) | (_, Err(e)) => {
                self.failed(&change.path, e);
                None
            }
        }
    }

    fn template_status(&mut self, change: &Change) {
        // Reported first, as for messages: a new key says nothing of whether the rest applies.
        self.unknown_keys(&change.path, change.value, TEMPLATE_STATUS_KEYS);
        self.unknown_keys_in(
            &change.path,
            change.value,
            "other_info",
            TEMPLATE_OTHER_INFO_KEYS,
        );
        self.unknown_keys_in(
            &change.path,
            change.value,
            "disable_info",
            TEMPLATE_DISABLE_INFO_KEYS,
        );
        let Some((business, name, language)) = self.template_ref(change) else {
            return;
        };
        let path = &change.path;
        let Some(event) = self.required_str(change, "event") else {
            return;
        };
        // A title that cannot be read is said so and read as none: taken silently as none, a
        // FIRST_PAUSE (whose end the policy knows) became a pause until unpaused unseen.
        let title = match change.value.get("other_info") {
            None | Some(Value::Null) => None,
            Some(Value::Object(info)) => match info.get("title") {
                None | Some(Value::Null) => None,
                Some(Value::String(title)) => Some(title.as_str()),
                Some(other) => {
                    self.unrecognized(
                        &join(path, "other_info.title"),
                        format!("expected a string, got {other}; read as no title"),
                    );
                    None
                }
            },
            Some(other) => {
                self.unrecognized(
                    &join(path, "other_info"),
                    format!("expected an object, got {other}; read as no title"),
                );
                None
            }
        };
        let pauses = match &self.engine.policy().templates.quality_rule {
            TemplateQualityRule::PauseLadder { pauses } => pauses.clone(),
            TemplateQualityRule::FlagThenDisable => Vec::new(),
        };
        let mut until = None;
        let mut pause = None;
        let status = match (event, title) {
            // Meta announces the end of a pause as an approval titled UNPAUSE.
            (_, Some("UNPAUSE")) => TemplateEvent::Unpaused,
            ("PAUSED", title) => {
                // The title says which pause of the ladder this is, and the policy's ladder
                // its length; a rate-limiting (pacing) pause and a pause the policy has no
                // length for last until UNPAUSE.
                let rung = match title {
                    Some("FIRST_PAUSE") => Some(0),
                    Some("SECOND_PAUSE") => Some(1),
                    Some("RATE_LIMITING_PAUSE") | None => None,
                    Some(other) => {
                        self.unrecognized(
                            &join(path, "other_info.title"),
                            format!("pause title {other:?} unknown; paused until unpaused"),
                        );
                        None
                    }
                };
                if let Some((i, length)) = rung.and_then(|i| Some((i, pauses.get(i)?))) {
                    pause = Some(i as u32 + 1);
                    until = Some(change.at.plus(*length));
                }
                TemplateEvent::Paused
            }
            ("FLAGGED", _) => {
                until = match change
                    .value
                    .get("disable_info")
                    .and_then(|d| d.get("disable_date"))
                {
                    None | Some(Value::Null) => None,
                    Some(date) => {
                        match instant_value(date, &join(path, "disable_info.disable_date")) {
                            // A date that is no deadline for the flag (passed on as one, the
                            // engine refused its `until` naming no field, and the flag was
                            // lost) is said so, as one that cannot be read.
                            Ok(at) if at <= change.at => {
                                self.unrecognized(
                                    &join(path, "disable_info.disable_date"),
                                    format!(
                                        "disable date {at} is not after the flag's time {}; \
                                         the policy's flag length applies",
                                        change.at
                                    ),
                                );
                                None
                            }
                            Ok(at) => Some(at),
                            Err(e) => {
                                self.unrecognized(
                                    &join(path, "disable_info.disable_date"),
                                    format!("{e}; the policy's flag length applies"),
                                );
                                None
                            }
                        }
                    }
                };
                TemplateEvent::Flagged
            }
            // Meta: "Locked and cannot be edited" (facts §5.1; `other_info` is sent "only if
            // locked/unlocked"). Nothing is said of sending: the engine keeps the lock apart
            // from the status, and refuses `edit_template` until the template is unlocked.
            ("LOCKED", _) => TemplateEvent::Locked,
            ("UNLOCKED", _) => TemplateEvent::Unlocked,
            ("APPROVED", _) => TemplateEvent::Approved,
            ("REJECTED", _) => TemplateEvent::Rejected,
            ("PENDING", _) => TemplateEvent::Pending,
            ("DISABLED", _) => TemplateEvent::Disabled,
            ("REINSTATED", _) => TemplateEvent::Reinstated,
            ("IN_APPEAL", _) => TemplateEvent::InAppeal,
            ("PENDING_DELETION", _) => TemplateEvent::PendingDeletion,
            ("DELETED", _) => TemplateEvent::Deleted,
            ("LIMIT_EXCEEDED", _) => TemplateEvent::LimitExceeded,
            ("ARCHIVED", _) => TemplateEvent::Archived,
            // Back to approved with no new review, or still disabled: the engine decides by
            // the template's state when it applies it, in the provider's order.
            ("UNARCHIVED", _) => TemplateEvent::Unarchived,
            (other, _) => {
                return self.unrecognized(
                    &join(path, "event"),
                    format!("template event {other:?} has no engine status; not applied"),
                )
            }
        };
        // The category Meta gives the template with its status; an unknown one is said so,
        // and the status applies without it.
        let category = match change.value.get("message_template_category") {
            None | Some(Value::Null) => None,
            Some(value) => {
                let category = value.as_str().and_then(template_category);
                if category.is_none() {
                    self.unrecognized(
                        &join(path, "message_template_category"),
                        format!("template category {value} unknown; the status applies without it"),
                    );
                }
                category
            }
        };
        self.event(
            path.clone(),
            Event::TemplateStatus(TemplateStatusUpdate {
                at: change.at,
                business,
                name,
                language,
                status,
                until,
                category,
                pause,
            }),
        );
    }

    fn template_quality(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, TEMPLATE_QUALITY_KEYS);
        let Some((business, name, language)) = self.template_ref(change) else {
            return;
        };
        let Some(score) = self.required_str(change, "new_quality_score") else {
            return;
        };
        let Some(quality) = quality_score(score) else {
            return self.unrecognized(
                &join(&change.path, "new_quality_score"),
                format!("quality score {score:?} unknown; not applied"),
            );
        };
        self.event(
            change.path.clone(),
            Event::TemplateQuality(TemplateQualityUpdate {
                at: change.at,
                business,
                name,
                language,
                quality,
            }),
        );
    }

    fn template_category(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, TEMPLATE_CATEGORY_KEYS);
        let Some((business, name, language)) = self.template_ref(change) else {
            return;
        };
        // Only a `correct_category` with a value marks an impending change: one written
        // `null` names no category to come, and is absent, as elsewhere in the reader.
        if let Some(correct) = present(change.value, "correct_category") {
            return self.skipped(
                &change.path,
                format!(
                    "an impending category change (to {correct}); the change is applied when \
                     its own webhook reports it done"
                ),
            );
        }
        let Some(new) = self.required_str(change, "new_category") else {
            return;
        };
        let Some(category) = template_category(new) else {
            return self.unrecognized(
                &join(&change.path, "new_category"),
                format!("template category {new:?} unknown; not applied"),
            );
        };
        self.event(
            change.path.clone(),
            Event::TemplateCategory(TemplateCategoryUpdate {
                at: change.at,
                business,
                name,
                language,
                category,
            }),
        );
    }

    fn template_components(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, TEMPLATE_COMPONENTS_KEYS);
        let Some((business, name, language)) = self.template_ref(change) else {
            return;
        };
        let Some(body) = self.required_str(change, "message_template_element") else {
            return;
        };
        // A header or footer that is present must be text; absent, the template has none.
        let optional =
            |key| opt_str_at(change.value, &change.path, key).map(|t| t.map(str::to_owned));
        let (header, footer) = match (
            optional("message_template_title"),
            optional("message_template_footer"),
        ) {
            (Ok(header), Ok(footer)) => (header, footer),
            (Err(e), _) | (_, Err(e)) => return self.failed(&change.path, e),
        };
        self.event(
            change.path.clone(),
            Event::TemplateComponents(TemplateComponentsUpdate {
                at: change.at,
                business,
                name,
                language,
                body: body.to_owned(),
                header,
                footer,
            }),
        );
    }

    // ---- numbers and limits --------------------------------------------------------

    fn phone_number_quality(&mut self, change: &Change) {
        let path = &change.path;
        self.unknown_keys(path, change.value, NUMBER_QUALITY_KEYS);
        let number = match str_at(change.value, path, "display_phone_number")
            .and_then(|d| self.registered_number(d))
        {
            Ok(number) => number,
            Err(e) => return self.failed(&join(path, "display_phone_number"), e),
        };
        let Some(event) = self.required_str(change, "event") else {
            return;
        };
        // The event names no score: FLAGGED is the low rating; UNFLAGGED says only that it
        // recovered, which is at least medium.
        let quality = match event {
            "FLAGGED" => Some(Quality::Low),
            "UNFLAGGED" => Some(Quality::Medium),
            "DOWNGRADE" | "UPGRADE" | "ONBOARDING" | "THROUGHPUT_UPGRADE" => None,
            other => {
                self.unrecognized(
                    &join(path, "event"),
                    format!("number quality event {other:?} unknown"),
                );
                None
            }
        };
        if let Some(quality) = quality {
            self.event(
                path.clone(),
                Event::NumberQuality(NumberQualityUpdate {
                    at: change.at,
                    number: number.clone(),
                    quality,
                }),
            );
        }
        // Two keys carry the limit: `max_daily_conversations_per_business`, and the older
        // `current_limit` that Meta removes in February 2026 (facts §0, §4.1). The newer one
        // applies; an older one that says something else is a line of its own, not dropped,
        // for the payload contradicts itself.
        const NEWER: &str = "max_daily_conversations_per_business";
        const OLDER: &str = "current_limit";
        match (present(change.value, NEWER), present(change.value, OLDER)) {
            (Some(newer), older) => {
                self.limit(&join(path, NEWER), newer, &[number], change.at);
                if let Some(older) = older.filter(|older| !same_limit(older, newer)) {
                    let at = join(path, OLDER);
                    let problem = format!(
                        "limit {older} disagrees with {NEWER} {newer}, the newer key and \
                         the one read; not applied"
                    );
                    self.failed(&at, invalid(&at, problem));
                }
            }
            (None, Some(older)) => self.limit(&join(path, OLDER), older, &[number], change.at),
            (None, None) if quality.is_none() => self.skipped(path, "no quality or limit change"),
            (None, None) => {}
        }
    }

    fn business_capability(&mut self, change: &Change) {
        let path = &change.path;
        self.unknown_keys(path, change.value, CAPABILITY_KEYS);
        let scope = self.engine.policy().limits.scope;
        // The key that matches the policy's limit scope wins; the other is reported.
        let keys = match scope {
            LimitScope::Business => [
                "max_daily_conversations_per_business",
                "max_daily_conversation_per_phone",
            ],
            LimitScope::Number => [
                "max_daily_conversation_per_phone",
                "max_daily_conversations_per_business",
            ],
        };
        let Some(key) = keys
            .into_iter()
            .find(|k| present(change.value, k).is_some())
        else {
            return self.skipped(path, "no messaging limit in this capability update");
        };
        for other in keys
            .iter()
            .filter(|k| **k != key && present(change.value, k).is_some())
        {
            self.skipped(
                &join(path, other),
                format!("{key} is the limit of this policy's scope"),
            );
        }
        let Some(numbers) = self.account_numbers(change) else {
            return;
        };
        // A business-wide limit needs one event (by any of its numbers); a per-number limit
        // one per number.
        let numbers = match scope {
            LimitScope::Business => numbers.into_iter().take(1).collect(),
            LimitScope::Number => numbers,
        };
        self.limit(&join(path, key), &change.value[key], &numbers, change.at);
    }

    /// A limit value (`TIER_2K`, `1000`, `-1`...) as `messaging_limit` events, when it is a
    /// level of the policy.
    fn limit(&mut self, path: &str, value: &Value, numbers: &[String], at: Instant) {
        let level = match limit_value(value) {
            LimitValue::NotSet => return self.skipped(path, "no limit set yet"),
            LimitValue::Level(level) => level,
            LimitValue::Unknown => {
                return self.unrecognized(path, format!("limit {value} unknown; not applied"))
            }
        };
        if !self.engine.policy().limits.levels.contains(&level) {
            return self.unrecognized(
                path,
                format!("limit {level} is not a level of this policy; not applied"),
            );
        }
        for number in numbers {
            self.event(
                path.to_owned(),
                Event::MessagingLimit(MessagingLimitUpdate {
                    at,
                    number: number.clone(),
                    limit: level,
                }),
            );
        }
    }

    /// `account_update`: restrictions (with expiries) and bans become number restrictions.
    fn account_update(&mut self, change: &Change) {
        let path = &change.path;
        let Some(event) = self.required_str(change, "event") else {
            return;
        };
        match event {
            "ACCOUNT_RESTRICTION" => {
                self.unknown_keys(path, change.value, ACCOUNT_KEYS);
                self.account_restriction(change)
            }
            "DISABLED_UPDATE" => {
                self.unknown_keys(path, change.value, ACCOUNT_KEYS);
                self.unknown_keys_in(path, change.value, "ban_info", BAN_INFO_KEYS);
                self.account_ban(change)
            }
            "ACCOUNT_VIOLATION"
            | "VERIFIED_ACCOUNT"
            | "PARTNER_ADDED"
            | "PARTNER_REMOVED"
            | "ACCOUNT_DELETED"
            | "PHONE_NUMBER_ADDED"
            | "PHONE_NUMBER_REMOVED"
            | "BUSINESS_VERIFICATION_STATUS_UPDATE" => self.skipped(
                path,
                format!("account event {event} changes no sending state"),
            ),
            "VOLUME_BASED_PRICING_TIER_UPDATE" => self.skipped(
                path,
                "volume pricing tiers are not modelled: prices come from the policy's rate card",
            ),
            other => self.unrecognized(
                &join(path, "event"),
                format!("account event {other:?} unknown; not applied"),
            ),
        }
    }

    fn account_restriction(&mut self, change: &Change) {
        let path = join(&change.path, "restriction_info");
        // Only an empty list says that no restriction is left: a list that is missing or
        // not a list says nothing, and must not lift one.
        let restrictions = match change.value.get("restriction_info") {
            Some(Value::Array(restrictions)) => restrictions,
            None => return self.failed(&path, invalid(&path, "missing")),
            Some(_) => return self.failed(&path, invalid(&path, "expected an array")),
        };
        // The expiry of each scope listed (by `RestrictionScope::slot`); a scope listed twice
        // keeps the entry that ends later, one without an expiry ending as the
        // `number_restriction` it becomes does (`NumberPolicy::restriction_end`).
        let mut listed = [None::<Option<Instant>>; RestrictionScope::ALL.len()];
        let numbers = &self.engine.policy().numbers;
        let end = |scope, expiry| numbers.restriction_end(scope, change.at, expiry, false);
        // Scopes listed with an expiry that cannot be read: in force for an unknown time, so
        // neither restricted nor lifted. The entry fails alone: the others still apply.
        let mut unreadable = [false; RestrictionScope::ALL.len()];
        // Whether an entry's expiry is at or before the update's own time: its scope was no
        // longer in force when the update was sent, so it is lifted as a scope left out is
        // (passed on as a restriction, the engine refused its `until` naming no field of the
        // payload, and the restriction it had ended stayed).
        let mut expired = false;
        let mut malformed = false;
        for (k, restriction) in restrictions.iter().enumerate() {
            let item = format!("{path}[{k}]");
            // A malformed entry is an error, not an unknown type: it may be any restriction,
            // so the list no longer says which scopes are free of one.
            let Some(entry) = restriction.as_object() else {
                self.failed(&item, invalid(&item, "expected an object"));
                malformed = true;
                continue;
            };
            self.unknown_keys(&item, entry, RESTRICTION_KEYS);
            let kind = match str_at(entry, &item, "restriction_type") {
                Ok(kind) => kind,
                Err(e) => {
                    self.failed(&join(&item, "restriction_type"), e);
                    malformed = true;
                    continue;
                }
            };
            let scope = match kind {
                "RESTRICTED_BIZ_INITIATED_MESSAGING" => RestrictionScope::BusinessInitiated,
                "RESTRICTED_CUSTOMER_INITIATED_MESSAGING" => RestrictionScope::AllMessages,
                "RESTRICTED_ADD_PHONE_NUMBER_ACTION" => {
                    self.skipped(&item, "adding numbers is not engine state");
                    continue;
                }
                other => {
                    self.unrecognized(
                        &join(&item, "restriction_type"),
                        format!("restriction type {other:?} unknown; not applied"),
                    );
                    continue;
                }
            };
            let expiry = match restriction.get("expiration") {
                None | Some(Value::Null) => None,
                Some(v) => match unix_seconds(v, &join(&item, "expiration")) {
                    Ok(at) if at <= change.at => {
                        self.skipped(
                            &item,
                            format!(
                                "expired at {at}, not after the update's time {}: not in force",
                                change.at
                            ),
                        );
                        expired = true;
                        continue;
                    }
                    Ok(at) => Some(at),
                    Err(e) => {
                        self.failed(&item, e);
                        unreadable[scope.slot()] = true;
                        continue;
                    }
                },
            };
            let slot = &mut listed[scope.slot()];
            let ends_later = match *slot {
                None => true,
                Some(kept) => match (end(scope, kept), end(scope, expiry)) {
                    (_, None) => true,
                    (None, Some(_)) => false,
                    (Some(kept), Some(this)) => this > kept,
                },
            };
            if ends_later {
                *slot = Some(expiry);
            }
        }
        // An update listing no restriction says there is none left; one listing only entries
        // the engine does not keep (reported above) says nothing of messaging. An entry whose
        // expiry could not be read, or has passed, still names its scope, so the others are
        // free.
        if !restrictions.is_empty()
            && listed.iter().all(Option::is_none)
            && !unreadable.contains(&true)
            && !expired
        {
            return;
        }
        let Some(numbers) = self.account_numbers(change) else {
            return;
        };
        for number in numbers {
            // The update lists the restrictions in force: a scope it leaves out has none. Its
            // lift is sent whether or not the number holds one (a lift of nothing changes
            // nothing), so that the outcome does not depend on the engine's state before the
            // payload, nor on how the provider batched its entries. A ban is not a
            // restriction of this list, so it stays (`DISABLED_UPDATE` ends it).
            for scope in RestrictionScope::REPORTED {
                if unreadable[scope.slot()] {
                    continue;
                }
                let event = match listed[scope.slot()] {
                    // A malformed entry may have been this scope's.
                    None if malformed => continue,
                    Some(until) => Event::NumberRestriction(NumberRestrictionUpdate {
                        at: change.at,
                        number: number.clone(),
                        scope,
                        until,
                        until_lifted: false,
                    }),
                    None => Event::RestrictionLifted(RestrictionLifted {
                        at: change.at,
                        number: number.clone(),
                        scope: Some(scope),
                    }),
                };
                self.event(change.path.clone(), event);
            }
        }
    }

    /// `DISABLED_UPDATE`: `DISABLE` bars every message until the account is reinstated (scope
    /// `account_disabled`); `REINSTATE` lifts that ban, leaving any restriction in force;
    /// `SCHEDULE_FOR_DISABLE` changes nothing yet (the `DISABLE` follows). A list naming both
    /// `DISABLE` and `REINSTATE` is unrecognized and changes nothing.
    fn account_ban(&mut self, change: &Change) {
        let path = join(&change.path, "ban_info.waba_ban_state");
        let states: Vec<&str> = match change
            .value
            .get("ban_info")
            .and_then(|b| b.get("waba_ban_state"))
        {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) if a.is_empty() => {
                // Every part of a payload gets a line: an empty list is said so, not dropped.
                return self.unrecognized(&path, "no ban state given; nothing applied".to_owned());
            }
            // A state that is not a string is an error of its own, not dropped unseen; the
            // others still apply.
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .filter_map(|(k, state)| {
                    let state = state.as_str();
                    if state.is_none() {
                        let at = format!("{path}[{k}]");
                        self.failed(&at, invalid(&at, "expected a string"));
                    }
                    state
                })
                .collect(),
            _ => {
                return self.failed(
                    &path,
                    invalid(&path, "expected a string or an array of strings"),
                )
            }
        };
        let (mut disable, mut reinstate) = (false, false);
        for state in states {
            match state {
                "DISABLE" => disable = true,
                "REINSTATE" => reinstate = true,
                "SCHEDULE_FOR_DISABLE" => self.skipped(
                    &path,
                    "a scheduled disable changes nothing until it happens",
                ),
                other => self.unrecognized(&path, format!("ban state {other:?} unknown")),
            }
        }
        let ban = match (disable, reinstate) {
            (false, false) => return,
            // The platform gives the list no order, so neither state can be taken over the
            // other: the last one won, and the same report banned or freed the account by
            // the order of its array.
            (true, true) => {
                return self.unrecognized(
                    &path,
                    "ban states DISABLE and REINSTATE contradict each other; nothing applied",
                )
            }
            (ban, _) => ban,
        };
        let Some(numbers) = self.account_numbers(change) else {
            return;
        };
        for number in numbers {
            let event = if ban {
                // A ban lasts until the provider reinstates the account.
                Event::NumberRestriction(NumberRestrictionUpdate {
                    at: change.at,
                    number,
                    scope: RestrictionScope::AccountDisabled,
                    until: None,
                    until_lifted: true,
                })
            } else {
                Event::RestrictionLifted(RestrictionLifted {
                    at: change.at,
                    number,
                    scope: Some(RestrictionScope::AccountDisabled),
                })
            };
            self.event(change.path.clone(), event);
        }
    }

    fn user_preferences(&mut self, change: &Change) {
        self.unknown_keys(&change.path, change.value, USER_PREFERENCES_VALUE_KEYS);
        if !change.value.contains_key("user_preferences") {
            return self.skipped(&change.path, "no user preferences");
        }
        let number = match self.metadata_number(change) {
            Ok(number) => number,
            Err(e) => return self.failed(&join(&change.path, "metadata"), e),
        };
        for (k, preference) in self.items(&change.path, change.value, "user_preferences") {
            let path = format!("{}.user_preferences[{k}]", change.path);
            let parsed = (|| -> Found<Option<Event>> {
                let object = preference
                    .as_object()
                    .ok_or_else(|| invalid(&path, "expected an object"))?;
                self.unknown_keys(&path, object, USER_PREFERENCE_KEYS);
                let category = str_at(object, &path, "category")?;
                if category != "marketing_messages" {
                    self.unrecognized(
                        &join(&path, "category"),
                        format!("preference category {category:?} unknown; not applied"),
                    );
                    return Ok(None);
                }
                let value = match str_at(object, &path, "value")? {
                    "stop" => PreferenceValue::Stop,
                    "resume" => PreferenceValue::Resume,
                    other => {
                        self.unrecognized(
                            &join(&path, "value"),
                            format!("preference {other:?} unknown; not applied"),
                        );
                        return Ok(None);
                    }
                };
                Ok(Some(Event::UserPreference(UserPreference {
                    at: timestamp(object, &path, change.at)?,
                    number: number.clone(),
                    contact: preference_contact(change.value, object, &path)?,
                    user_id: self.user_id_beside_phone(
                        object,
                        &path,
                        ["wa_id", "user_id", "preference"],
                    ),
                    value,
                })))
            })();
            match parsed {
                Ok(Some(event)) => self.event(path, event),
                Ok(None) => {}
                Err(e) => self.failed(&path, e),
            }
        }
    }
}

/// `object[key]` unless it is absent or `null`: a key written `null` has no value, and reads
/// as absent. A limit key written `null` gives no limit, as an absent one (read as a value,
/// it was an unknown limit that also took the place of the other key, whose limit was then
/// not applied).
fn present<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

/// One `changes[]` item.
struct Change<'a> {
    /// Path of its `value`.
    path: String,
    value: &'a serde_json::Map<String, Value>,
    /// The entry's WABA id.
    waba: Option<&'a str>,
    /// The entry's `time`, or `received_at`.
    at: Instant,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn str_at<'a>(object: &'a serde_json::Map<String, Value>, path: &str, key: &str) -> Found<&'a str> {
    match object.get(key) {
        Some(Value::String(s)) => Ok(s),
        None => Err(invalid(&join(path, key), "missing")),
        Some(_) => Err(invalid(&join(path, key), "expected a string")),
    }
}

/// `object[key]` as a string when given: absent or `null` is `None`, another value an error
/// naming the key.
fn opt_str_at<'a>(
    object: &'a serde_json::Map<String, Value>,
    path: &str,
    key: &str,
) -> Found<Option<&'a str>> {
    match present(object, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(&join(path, key), "expected a string")),
    }
}

/// The contact of a message or status: its `wa_id` (`from`, `recipient_id`), or, when
/// that is absent or empty (a user who adopted a username), its business-scoped user id
/// (`from_user_id`, `recipient_user_id`). The phone number wins when both are given, so
/// that a contact known by number keeps its conversation.
fn contact_at(
    object: &serde_json::Map<String, Value>,
    path: &str,
    wa_id_key: &str,
    user_id_key: &str,
) -> Found<String> {
    let wa_id = match object.get(wa_id_key) {
        Some(Value::String(wa_id)) if !wa_id.is_empty() => return Ok(contact(wa_id)),
        Some(Value::String(_)) => "empty",
        None | Some(Value::Null) => "missing",
        Some(_) => return Err(invalid(&join(path, wa_id_key), "expected a string")),
    };
    // An empty user id names no one either: passed on, the engine refused the contact `""`
    // as an invalid user id, naming no field of the payload.
    let user_id = match object.get(user_id_key) {
        Some(Value::String(user_id)) if !user_id.is_empty() => return Ok(user_id.clone()),
        Some(Value::String(_)) => format!("and {user_id_key:?} is empty"),
        None | Some(Value::Null) => format!("nor is there a {user_id_key:?}"),
        Some(_) => return Err(invalid(&join(path, user_id_key), "expected a string")),
    };
    Err(invalid(
        &join(path, wa_id_key),
        format!("{wa_id} ({user_id})"),
    ))
}

/// A preference's contact: its `wa_id`, or for a user with a username (an empty or absent
/// `wa_id`, facts §1.3) their business-scoped user id: the item's `user_id`, else that of
/// the one contact the change lists (`contacts[0].user_id`). Without either, the preference
/// fails naming `wa_id` (an empty one was refused only when applied, naming no field), and
/// the stop is in the host's hands rather than lost unseen.
fn preference_contact(
    value: &serde_json::Map<String, Value>,
    object: &serde_json::Map<String, Value>,
    path: &str,
) -> Found<String> {
    let no_wa_id = match present(object, "wa_id") {
        None => true,
        Some(Value::String(wa_id)) => wa_id.is_empty(),
        Some(_) => false,
    };
    match contact_at(object, path, "wa_id", "user_id") {
        Err(e) if no_wa_id && present(object, "user_id").is_none() => {
            let sole_contact = match present(value, "contacts") {
                Some(Value::Array(contacts)) if contacts.len() == 1 => contacts[0].get("user_id"),
                _ => None,
            };
            match sole_contact.and_then(Value::as_str) {
                Some(user_id) if !user_id.is_empty() => Ok(user_id.to_owned()),
                _ => Err(e),
            }
        }
        found => found,
    }
}

/// A contact as Meta writes it: a `wa_id` is a phone number in international format without
/// `+`; anything else (a business-scoped user id) is passed on as it is.
fn contact(wa_id: &str) -> String {
    if !wa_id.is_empty() && wa_id.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{wa_id}")
    } else {
        wa_id.to_owned()
    }
}

/// An item's own `timestamp` (unix seconds). An item without one takes its entry's `time`
/// (`entry_at`), which is also the provider's instant, and only with neither the time the
/// payload arrived (the caller's `received_at`): arrival is the host's time, not the event's
/// (RULES.md §2, §13), and a late delivery would move the window and the clock ahead.
fn timestamp(
    object: &serde_json::Map<String, Value>,
    path: &str,
    entry_at: Instant,
) -> Found<Instant> {
    match object.get("timestamp") {
        None | Some(Value::Null) => Ok(entry_at),
        Some(value) => unix_seconds(value, &join(path, "timestamp")),
    }
}

/// Unix seconds, as Meta writes them: a string of digits or an integer.
fn unix_seconds(value: &Value, path: &str) -> Found<Instant> {
    let seconds = match value {
        Value::String(s) => s.parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| invalid(path, format!("expected unix seconds, got {value}")))?;
    let out_of_range = || {
        // Thirteen digits or so are milliseconds, given where Meta writes seconds.
        let latest = crate::time::MAX_INSTANT_MS / 1000;
        let hint = if (100_000_000_000..=crate::time::MAX_INSTANT_MS).contains(&seconds) {
            "; this looks like unix milliseconds, and Meta's timestamps are unix seconds"
        } else {
            ""
        };
        invalid(
            path,
            format!(
                "unix seconds {seconds} are outside the accepted range 0..={latest} \
                 (years 1970..=9999){hint}"
            ),
        )
    };
    let millis = seconds.checked_mul(1000).ok_or_else(out_of_range)?;
    Instant::from_unix_millis(millis).map_err(|_| out_of_range())
}

/// Unix seconds or an RFC 3339 string.
fn instant_value(value: &Value, path: &str) -> Found<Instant> {
    match value {
        // The wire's wording of a bad instant offers unix milliseconds: here they are seconds.
        Value::String(s) if s.parse::<i64>().is_err() => {
            Instant::parse_rfc3339(s).map_err(|e| match e {
                Error::InstantOutOfRange { .. } => invalid(path, e),
                _ if crate::time::lacks_offset(s) => invalid(path, e),
                _ => {
                    let given = crate::error::quoted(s);
                    invalid(
                        path,
                        format!("expected unix seconds or RFC 3339, got {given:?}"),
                    )
                }
            })
        }
        _ => unix_seconds(value, path),
    }
}

/// Meta's template categories.
fn template_category(category: &str) -> Option<TemplateCategory> {
    Some(match category {
        "MARKETING" => TemplateCategory::Marketing,
        "UTILITY" => TemplateCategory::Utility,
        "AUTHENTICATION" => TemplateCategory::Authentication,
        _ => return None,
    })
}

/// Meta's quality scores.
fn quality_score(score: &str) -> Option<Quality> {
    Some(match score {
        "GREEN" => Quality::High,
        "YELLOW" => Quality::Medium,
        "RED" => Quality::Low,
        "UNKNOWN" | "NA" => Quality::Unknown,
        _ => return None,
    })
}

/// What a limit value of a webhook says.
#[derive(Debug, PartialEq)]
enum LimitValue {
    /// `TIER_NOT_SET`: no limit yet.
    NotSet,
    /// A level (`TIER_2K`, `2000`, `-1` for unlimited).
    Level(LimitLevel),
    /// Anything else.
    Unknown,
}

fn limit_value(value: &Value) -> LimitValue {
    let level = match value {
        Value::String(tier) if tier == "TIER_NOT_SET" => return LimitValue::NotSet,
        Value::String(tier) => tier_level(tier),
        Value::Number(n) => match n.as_i64() {
            Some(-1) => Some(LimitLevel::Unlimited),
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .map(LimitLevel::Contacts),
            None => None,
        },
        _ => None,
    };
    level.map_or(LimitValue::Unknown, LimitValue::Level)
}

/// Whether two limit values say the same (`TIER_10K` and `10000` do); two unknown values
/// only when they are the same JSON.
fn same_limit(a: &Value, b: &Value) -> bool {
    match (limit_value(a), limit_value(b)) {
        (LimitValue::Unknown, LimitValue::Unknown) => a == b,
        (a, b) => a == b,
    }
}

/// `TIER_250`, `TIER_2K`, `TIER_UNLIMITED`...
fn tier_level(tier: &str) -> Option<LimitLevel> {
    let value = tier.strip_prefix("TIER_")?;
    if value == "UNLIMITED" {
        return Some(LimitLevel::Unlimited);
    }
    let (digits, factor) = match value.strip_suffix('K') {
        Some(d) => (d, 1_000),
        None => (value, 1),
    };
    let n: u32 = digits.parse().ok()?;
    n.checked_mul(factor).map(LimitLevel::Contacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_out_of_range_say_the_range_and_spot_milliseconds() {
        let at = |value: Value| unix_seconds(&value, "statuses[0].timestamp");
        assert_eq!(
            at(Value::from("1793610600")).unwrap().to_rfc3339(),
            "2026-11-02T09:10:00Z"
        );
        let millis = at(Value::from("1793610600000")).unwrap_err().to_string();
        assert!(
            millis.contains("unix seconds 1793610600000 are outside the accepted range"),
            "{millis}"
        );
        assert!(millis.contains("looks like unix milliseconds"), "{millis}");
        let negative = at(Value::from(-5)).unwrap_err().to_string();
        assert!(
            negative.contains("unix seconds -5 are outside"),
            "{negative}"
        );
        assert!(!negative.contains("milliseconds"), "{negative}");
    }

    #[test]
    fn metadata_that_names_no_number_is_the_payloads_fault() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{},"statuses":[{"id":"wamid.1","status":"sent","timestamp":"1793610600","recipient_id":"79110000001"}]}}]}]}"#;
        let outcomes = engine
            .handle_webhook(body, Instant::from_unix_millis(1_793_610_600_000).unwrap())
            .unwrap();
        let errors: Vec<String> = outcomes
            .iter()
            .filter_map(|o| match o {
                WebhookOutcome::Failed { error, .. } => Some(error.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(errors.len(), 1, "{outcomes:?}");
        assert!(
            errors[0].starts_with("invalid event: webhook"),
            "{}",
            errors[0]
        );
        assert!(
            errors[0].contains("metadata: names no number"),
            "{}",
            errors[0]
        );
    }
}
