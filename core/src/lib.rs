//! # convstate
//!
//! A pure, clock-free state machine for the rules of WhatsApp Business conversations:
//! the 24-hour customer service window, live chats that become tickets, send decisions
//! (free-form vs template, consent, content limits, duplicates), the pending outbox of
//! `initiate`, timers and snapshots.
//!
//! The engine does no I/O and never reads a clock: every input carries its instant, outputs
//! are polled (see [`Engine`] for the theory of operation). The rules are data: a [`Policy`]
//! preset (`classic`, `cloud-2025`, `cloud-2026-10`) with every field overridable.
//!
//! ```
//! use convstate::{Engine, Event};
//!
//! let mut engine = Engine::with_preset("cloud-2025").unwrap();
//! for line in [
//!     r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
//!     r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
//! ] {
//!     engine.handle_json(line);
//! }
//! let out = engine.handle_json(
//!     r#"{"type":"check_send","at":"2026-11-03T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"}}"#,
//! );
//! assert!(out[0].contains(r#""reason":"window_closed""#), "24h later the window is closed");
//! ```
//!
//! The same through typed calls, which a Rust host uses on its hot path (no JSON; effects
//! drained with [`Engine::poll_effect`]):
//!
//! ```
//! use convstate::event::{Consent, Inbound, InboundKind, RegisterNumber, RegisterTemplate};
//! use convstate::event::SendRequest;
//! use convstate::message::TemplateMessage;
//! use convstate::{Channel, DenyReason, Engine, Instant, OutboundMessage};
//! use convstate::{Billing, TemplateCategory, TemplateStatus};
//!
//! let at = |text| Instant::parse_rfc3339(text).unwrap();
//! let mut engine = Engine::with_preset("cloud-2025")?;
//! engine.register_number(&RegisterNumber::new(
//!     at("2026-11-02T08:00:00Z"), "acme", "+15550001111", Channel::Official,
//! ))?;
//! engine.inbound(&Inbound::new(
//!     at("2026-11-02T09:00:00Z"), "+15550001111", "+79110000001", InboundKind::Text,
//! ))?;
//! while let Some(effect) = engine.poll_effect() {
//!     println!("{effect:?}"); // the live chat and its ticket
//! }
//!
//! let reply = SendRequest::new(
//!     at("2026-11-02T10:00:00Z"), "+15550001111", "+79110000001", OutboundMessage::text("Hi"),
//! );
//! assert!(engine.send(&reply)?.is_allowed());
//!
//! // A day later only a template may go, and this one was never registered.
//! let template = TemplateMessage::new("order_ready", "en", ["A-17"]);
//! let late = SendRequest::new(
//!     at("2026-11-03T10:00:00Z"), "+15550001111", "+79110000001", template.into(),
//! );
//! let error = engine.check_send(&late).unwrap_err();
//! assert_eq!(error.code(), "unknown_template");
//! let text = SendRequest { message: OutboundMessage::text("Hi again"), ..late.clone() };
//! let decision = engine.check_send(&text)?;
//! assert!(matches!(decision.deny_reason(), Some(DenyReason::WindowClosed { .. })));
//!
//! // Registered, and approved by Meta, the template may go.
//! let mut order_ready = RegisterTemplate::new(
//!     at("2026-11-03T09:30:00Z"), "acme", "order_ready", "en",
//!     TemplateCategory::Utility, "Order {{1}} is ready",
//! );
//! order_ready.status = TemplateStatus::Approved;
//! engine.register_template(&order_ready)?;
//! // The business opens the conversation: the contact must have opted in (RULES.md §9).
//! let decision = engine.check_send(&late)?;
//! assert!(matches!(decision.deny_reason(), Some(DenyReason::NoOptIn)));
//! engine.opt_in(&Consent::for_number(
//!     at("2026-11-03T09:40:00Z"), "+15550001111", "+79110000001",
//! ))?;
//! let decision = engine.send(&late)?;
//! assert!(decision.is_allowed());
//! let Some(Billing::Charged { category, .. }) = decision.billing else {
//!     panic!("a template outside the window is charged");
//! };
//! assert_eq!(category.to_string(), "utility");
//! # Ok::<(), convstate::Error>(())
//! ```
//!
//! ## What a release may change
//!
//! The output structs a host reads ([`Decision`], the views, [`LiveChat`], [`Ticket`],
//! [`NumberCounters`]) are `#[non_exhaustive]`: a field added later breaks no host. The
//! enums of inputs and outputs that grow with every platform change ([`Event`], [`Effect`],
//! [`DenyReason`]) are `#[non_exhaustive]` too, so a variant added later breaks no `match`
//! with a wildcard arm; a field added to one of their variants still breaks a pattern
//! without `..` (and one added to an input struct, a literal that builds it), and the
//! changelog lists it as breaking ([`Output::Ack`] alone is a non-exhaustive variant).
//!
//! The enums that name a platform state or answer a host maps to its own
//! ([`TemplateStatus`], [`Channel`], [`event::InboundKind`], [`NextAction`], [`FreeReason`],
//! [`ChargeCategory`], [`Output`], [`webhook::WebhookOutcome`]...) are exhaustive on
//! purpose: when the platform adds a state, a host's `match` stops compiling where the state
//! needs handling, as this crate's own C and Python bindings do, rather than routing it
//! through a wildcard arm unseen. Such an addition is listed as breaking in the changelog
//! too.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// `Display` as the wire name (`"utility"`, `"service_window"`) for enums of unit variants
/// that serde writes by name: what a host logs or shows is what the wire says.
macro_rules! display_as_wire_name {
    ($($t:ty),* $(,)?) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match serde_json::to_value(self) {
                    Ok(serde_json::Value::String(name)) => f.write_str(&name),
                    _ => f.write_str("unknown"),
                }
            }
        }
    )*};
}

/// `FromStr` from the wire name, as the wire reads it (`"official".parse::<Channel>()`), for
/// the enums an input names: a host reading a name from its own store or configuration gets
/// the variant, or serde's error listing the names there are.
macro_rules! from_wire_name {
    ($($t:ty),* $(,)?) => {$(
        impl std::str::FromStr for $t {
            type Err = serde::de::value::Error;
            fn from_str(name: &str) -> Result<Self, Self::Err> {
                use serde::de::IntoDeserializer;
                serde::Deserialize::deserialize(name.into_deserializer())
            }
        }
    )*};
}

pub mod address;
mod allowance;
pub mod chat;
mod consent_groups;
mod contact_links;
mod conversation;
pub mod conversation_id;
mod conversation_index;
pub mod decision;
pub mod delivery;
mod distinct_keys;
pub mod effect;
mod engine;
mod error;
pub mod event;
mod expiring;
mod hash;
mod keys;
mod latest_by_instant;
pub mod limits;
pub mod message;
mod nanp;
pub mod number;
mod number_index;
pub mod number_quality;
mod outbox;
pub mod partition;
pub mod policy;
pub mod pricing;
mod provider_order;
mod recent;
mod send;
mod sent_content;
pub mod sharded;
mod shrink;
pub mod snapshot;
mod tagged_slots;
mod tally;
pub mod template;
pub mod template_lifecycle;
pub mod ticket_responses;
pub mod time;
mod timers;
pub mod webhook;
mod window;
pub mod wire;

/// The commit this library was built from: `git rev-parse --short=12 HEAD` of the checkout
/// built, or the `CONVSTATE_BUILD_COMMIT` environment variable a packager sets, `"unknown"`
/// without either (a build from a source archive). Builds of one version from different
/// commits tell themselves apart by it.
pub const BUILD_COMMIT: &str = env!("CONVSTATE_BUILD_COMMIT");

/// The version and [`BUILD_COMMIT`], as the command-line tool's `--version` prints them:
/// `0.1.0 (1a2b3c4d5e6f)`.
pub const VERSION_AND_COMMIT: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("CONVSTATE_BUILD_COMMIT"),
    ")"
);

/// [`BUILD_COMMIT`] NUL-terminated, for the C library's `convstate_build_commit`.
#[doc(hidden)]
pub const BUILD_COMMIT_NUL: &str = concat!(env!("CONVSTATE_BUILD_COMMIT"), "\0");

pub use address::Address;
pub use chat::{ChatEndReason, LiveChat, Ticket, TicketStatus};
pub use conversation_id::ConversationId;
pub use decision::{
    Billing, ChargeCategory, Decision, DenyReason, DenyReasonKind, FreeReason, Initiation,
    Initiator, NextAction, Verdict,
};
pub use delivery::StatusOutcome;
pub use effect::{Effect, OutboxDrop};
pub use engine::{
    ConversationView, Engine, InboundOutcome, InboundRef, NumberView, Output, TemplateView,
    UsageView, MAX_ID_BYTES,
};
pub use error::{Error, ErrorKind};
pub use event::Event;
pub use message::{ContentProblem, OutboundMessage, ParamsConflict};
pub use number::{Channel, ChannelSet, NumberCounters};
pub use policy::Policy;
pub use send::{SendRequestRef, SendToRef};
pub use template::{Quality, TemplateCategory, TemplateStatus};
pub use ticket_responses::TicketResponses;
pub use time::{Duration, DurationError, Instant, TimeZone};
