//! Businesses and their numbers (RULES.md §1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::provider_order::ProviderOrder;

use crate::time::Duration;

/// How a number is connected, which decides the rules that apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// WhatsApp Business API through any provider: service window, templates, limits.
    Official,
    /// A regular WhatsApp account behind a web bridge: no window, groups allowed.
    Unofficial,
    /// Telegram, Viber and the like: no window.
    Messenger,
    /// Email: asynchronous, every conversation is a ticket.
    Email,
}

impl Channel {
    /// Whether the customer service window applies.
    pub fn has_service_window(self) -> bool {
        self == Channel::Official
    }
    /// Whether the number may take part in group chats.
    pub fn allows_groups(self) -> bool {
        self == Channel::Unofficial
    }
    /// Whether the business may write first to a contact who never wrote.
    pub fn may_write_first(self) -> bool {
        matches!(self, Channel::Official | Channel::Email)
    }
    /// Whether conversations are live chats (otherwise straight tickets).
    pub fn has_chats(self) -> bool {
        self != Channel::Email
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Official => "official",
            Channel::Unofficial => "unofficial",
            Channel::Messenger => "messenger",
            Channel::Email => "email",
        })
    }
}

/// A registered number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct NumberState {
    /// Its address.
    pub address: crate::address::AddressKey,
    /// The business it belongs to (index).
    pub business: u32,
    /// Channel kind.
    pub channel: Channel,
    /// Provider name (`meta`, `twilio`, `360dialog`...), lowercase.
    pub provider: String,
    /// Per-number idle timeout for chats, overriding the policy's.
    pub idle_timeout: Option<Duration>,
    /// The template `initiate` sends, as (name, language).
    pub default_template: Option<(String, String)>,
    /// Activity counters.
    #[serde(deserialize_with = "NumberCounters::deserialize_older")]
    pub counters: NumberCounters,
    /// Quality rating from provider events.
    #[serde(default)]
    pub quality: crate::template::Quality,
    /// Flagged for low quality: the deadline to recover by (§6).
    #[serde(default)]
    pub flagged_until: Option<crate::time::Instant>,
    /// While flagged: the level (index into the policy's levels) of the limit the number
    /// sends under as the flag started, or as the latest provider report of an instant up to
    /// the flag's start set it. The deadline lowers the limit `numbers.downgrade_levels`
    /// below the higher of this and the level it finds, never above the level it finds, so
    /// a provider downgrade during the flag (Meta's `DOWNGRADE`) is not made twice. Absent
    /// from snapshots of before: the deadline lowers from the level it finds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_level_at_flag: Option<u32>,
    /// A provider restriction in force (§6).
    #[serde(default)]
    pub restriction: Option<Restriction>,
    /// The provider's id for the number (Meta `phone_number_id`).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The latest provider quality, limit and restriction events applied, so that a late or
    /// repeated one changes nothing (§10).
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub quality_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub limit_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub restriction_event: ProviderOrder,
}

impl NumberState {
    /// A stored number's flag is whole (restore and import): a level of the policy's
    /// `levels_len` kept only while flagged, which the deadline lowers from.
    pub(crate) fn check_flag(&self, levels_len: usize) -> Result<(), String> {
        match (self.limit_level_at_flag, self.flagged_until) {
            (Some(_), None) => Err("has a limit_level_at_flag but is not flagged".into()),
            (Some(level), Some(_)) if level as usize >= levels_len => Err(format!(
                "has limit_level_at_flag {level}, not a level of the policy's {levels_len}"
            )),
            _ => Ok(()),
        }
    }
}

/// What a provider restriction bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionScope {
    /// Business-initiated messages (templates outside a window); replies stay allowed.
    BusinessInitiated,
    /// Every message, replies to customers included.
    AllMessages,
}

/// A restriction and its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    /// What it bars.
    pub scope: RestrictionScope,
    /// When it ends; `None` until lifted.
    pub until: Option<crate::time::Instant>,
}

impl Restriction {
    /// Whether it is in force at `now`.
    pub fn active_at(&self, now: crate::time::Instant) -> bool {
        self.until.is_none_or(|t| now < t)
    }
}

/// Activity counters of one number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NumberCounters {
    /// Inbound messages and calls.
    pub inbound: u64,
    /// Sends allowed.
    pub sends_allowed: u64,
    /// Sends denied.
    pub sends_denied: u64,
    /// Templates sent.
    pub templates_sent: u64,
    /// Chats started.
    pub chats_started: u64,
    /// Chats ended by an agent.
    pub chats_ended_by_agent: u64,
    /// Chats ended by inactivity.
    pub chats_ended_by_idle: u64,
    /// Chats ended by an automation rule.
    pub chats_ended_by_rule: u64,
    /// Chats ended by inactivity without any agent reply.
    pub chats_missed: u64,
    /// Tickets opened.
    pub tickets_opened: u64,
    /// Sum of times to first agent response, in ms.
    pub first_response_total_ms: u64,
    /// Chats that had an agent response.
    pub first_responses: u64,
    /// Agent replies in ended chats that answered a waiting contact, first responses
    /// included.
    #[serde(default)]
    pub responses: u64,
    /// Sum of their response times, in ms.
    #[serde(default)]
    pub response_total_ms: u64,
}

impl NumberCounters {
    /// Counters as stored, also those written before response times were kept (no
    /// `responses`): each chat that had a first response counted that one response. An
    /// engine never writes fewer responses than first responses.
    fn deserialize_older<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut counters = NumberCounters::deserialize(d)?;
        if counters.responses == 0 && counters.first_responses > 0 {
            counters.responses = counters.first_responses;
            counters.response_total_ms = counters.first_response_total_ms;
        }
        Ok(counters)
    }
}
