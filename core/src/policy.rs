//! The rule set as data (RULES.md §12).
//!
//! Every number the engine enforces lives in a [`Policy`]: presets reproduce the platform's
//! eras (`classic`, `cloud-2025`, `cloud-2026-10`), every field can be overridden with a JSON
//! object merged over the preset, and the whole value is serialisable so that a snapshot
//! records the rules it was taken under. No rule number appears anywhere else in the code.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::message::MediaKind;
use crate::time::{Duration, Instant};
use crate::Error;

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
    /// Longest free-form text, in characters.
    pub text_max_chars: u32,
    /// Longest media caption, in characters.
    pub caption_max_chars: u32,
    /// Longest template body, in characters.
    pub template_body_max_chars: u32,
    /// Longest template header, in characters.
    pub template_header_max_chars: u32,
    /// Longest template footer, in characters.
    pub template_footer_max_chars: u32,
    /// Largest inbound file, in bytes.
    pub inbound_file_max_bytes: u64,
    /// Largest outbound file when neither provider nor media kind says otherwise.
    pub outbound_file_max_bytes: u64,
    /// Provider-specific outbound file limits (e.g. `twilio`).
    pub outbound_file_max_bytes_by_provider: BTreeMap<String, u64>,
    /// Media-specific outbound file limits; the smallest applicable limit wins.
    pub outbound_file_max_bytes_by_media: BTreeMap<MediaKind, u64>,
    /// Animated stickers have their own limit where media limits apply.
    pub animated_sticker_max_bytes: Option<u64>,
    /// Most reply buttons on a free-form interactive message.
    pub interactive_buttons_max: u32,
    /// Longest reply button title.
    pub interactive_button_title_max_chars: u32,
}

/// §5: which button combinations a template may have.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonPolicy {
    /// The combination rule.
    pub rule: ButtonRule,
    /// Longest button label, in characters.
    pub label_max_chars: u32,
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
    /// A built-in preset by name.
    pub fn preset(name: &str) -> Result<Policy, Error> {
        let classic = Policy {
            name: "classic".into(),
            window: WindowPolicy {
                length: Duration::from_hours(24),
                safety_margin: Duration::ZERO,
                reminder_lead: None,
                reaction_opens_window: false,
            },
            chat: ChatPolicy {
                idle_timeout: Duration::from_mins(10),
            },
            content: ContentPolicy {
                text_max_chars: 1000,
                caption_max_chars: 1024,
                template_body_max_chars: 1024,
                template_header_max_chars: 60,
                template_footer_max_chars: 60,
                inbound_file_max_bytes: 25 * MB,
                outbound_file_max_bytes: 20 * MB,
                outbound_file_max_bytes_by_provider: BTreeMap::from([("twilio".into(), 16 * MB)]),
                outbound_file_max_bytes_by_media: BTreeMap::new(),
                animated_sticker_max_bytes: None,
                interactive_buttons_max: 3,
                interactive_button_title_max_chars: 20,
            },
            buttons: ButtonPolicy {
                rule: ButtonRule::Exclusive {
                    quick_reply_max: 3,
                    call_to_action_max: 2,
                    url_max: 1,
                    phone_max: 1,
                },
                label_max_chars: 20,
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
            },
            consent: ConsentPolicy {
                require_opt_in: true,
                us_marketing_blocked_from: Some(Instant::from_unix_millis(US_MARKETING_BLOCK_MS)?),
            },
            ..classic.clone()
        };
        match name {
            "classic" => Ok(classic),
            "cloud-2025" => Ok(cloud_2025),
            "cloud-2026-10" => Ok(Policy {
                name: "cloud-2026-10".into(),
                ..cloud_2025
            }),
            other => Err(Error::UnknownPolicy {
                name: other.to_owned(),
                known: PRESETS.join(", "),
            }),
        }
    }

    /// A preset with a JSON object of overrides merged over it, field by field
    /// (`{"chat": {"idle_timeout": "15m"}}`). Unknown fields and wrong types are errors.
    pub fn with_overrides(name: &str, overrides: &serde_json::Value) -> Result<Policy, Error> {
        let mut value =
            serde_json::to_value(Policy::preset(name)?).map_err(|e| Error::InvalidPolicy {
                problem: e.to_string(),
            })?;
        merge(&mut value, overrides);
        serde_json::from_value(value).map_err(|e| Error::InvalidPolicy {
            problem: e.to_string(),
        })
    }
}

const KB: u64 = 1000;
const MB: u64 = 1000 * KB;
/// 2025-04-01T00:00:00Z: no marketing templates to US numbers from then (facts §0).
const US_MARKETING_BLOCK_MS: i64 = 1_743_465_600_000;

/// JSON merge: objects merge key by key, anything else replaces.
fn merge(base: &mut serde_json::Value, patch: &serde_json::Value) {
    match (base, patch) {
        (serde_json::Value::Object(base), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (slot, value) => *slot = value.clone(),
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
        let err = Policy::with_overrides("classic", &serde_json::json!({"chat": {"idle": "15m"}}))
            .unwrap_err();
        assert!(err.to_string().contains("idle"), "{err}");
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
