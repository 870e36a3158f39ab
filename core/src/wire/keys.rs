//! Which keys of the wire format's output hold instants, durations and money, for doors
//! that turn the JSON into their language's types (Python's `datetime`, `timedelta` and
//! `Decimal`): the schema's knowledge, kept beside it. DESIGN.md: names say what they hold.

/// Whether a key holds an instant: `at`, `since`, `until`, `deadline`, or `*_at`,
/// `*_since`, `*_until`, `*_deadline`, `*_by` and `*_from` (`level_since`, `flagged_until`,
/// `entry_point_answer_by`, `us_marketing_blocked_from`). A value under such a key that is
/// not an instant (`initiated_by`) is no instant; a bare `from` is a status.
pub fn is_instant_key(key: &str) -> bool {
    const NAMES: [&str; 4] = ["at", "since", "until", "deadline"];
    NAMES.contains(&key)
        || NAMES
            .iter()
            .chain(&["by", "from"])
            .any(|name| key.strip_suffix(name).is_some_and(|k| k.ends_with('_')))
}

/// Keys that hold a duration: the policy's lengths (`pauses` a list of them), a live chat's
/// response times (`first_response_after`, `response_total`, `total`), a denial's `margin`
/// and `period`, a number's `idle_timeout`. `window` and `length` name sections and states
/// elsewhere: only a string under one that reads as a duration is one (durations are
/// written `24h`, `90m`, `1500ms`).
pub const DURATION_KEYS: &[&str] = &[
    "apply_after",
    "content_period",
    "conversation_length",
    "first_response_after",
    "flag_for",
    "free_entry_point",
    "free_entry_point_reply_within",
    "hold_for",
    "idempotency_key_ttl",
    "idle_timeout",
    "length",
    "lookback",
    "margin",
    "marketing_backoff",
    "min_interval",
    "min_time_at_level",
    "pair_rate_backoff",
    "pauses",
    "period",
    "reminder_lead",
    "response_total",
    "restriction_default_length",
    "safety_margin",
    "status_memory",
    "total",
    "window",
];

/// Whether a key holds a duration (or, `pauses`, a list of them): [`DURATION_KEYS`].
pub fn is_duration_key(key: &str) -> bool {
    DURATION_KEYS.contains(&key)
}

/// Whether a key holds an amount of money, exact decimal text (`"0.1274"`): a month's
/// usage `cost` and a price's `amount`. (A rate card's prices sit under market and
/// category names, the form a host writes them in.)
pub fn is_money_key(key: &str) -> bool {
    matches!(key, "cost" | "amount")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;
    use crate::Policy;
    use serde_json::Value;

    /// Every duration of every preset's policy sits under a duration key, and every string
    /// under one reads as a duration: a field added to the policy with another name is
    /// caught here, before a binding shows it as text.
    #[test]
    fn the_presets_durations_sit_under_duration_keys() {
        fn walk(value: &Value, key: Option<&str>, path: &str, found: &mut usize) {
            match value {
                Value::Object(fields) => {
                    for (k, v) in fields {
                        walk(v, Some(k), &format!("{path}.{k}"), found);
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        walk(item, key, path, found);
                    }
                }
                Value::String(text) => {
                    let listed = key.is_some_and(is_duration_key);
                    let reads = text.ends_with(|c: char| c.is_ascii_alphabetic())
                        && Duration::parse(text).is_ok();
                    assert_eq!(listed, reads, "{path}: {text:?}");
                    *found += usize::from(reads);
                }
                _ => {}
            }
        }
        for name in ["classic", "cloud-2025", "cloud-2026-10"] {
            let policy = serde_json::to_value(Policy::preset(name).unwrap()).unwrap();
            let mut found = 0;
            walk(&policy, None, name, &mut found);
            assert!(found >= 10, "{name}: {found} durations");
        }
    }

    #[test]
    fn instant_keys_by_their_names() {
        for key in [
            "at",
            "level_since",
            "flagged_until",
            "entry_point_answer_by",
            "us_marketing_blocked_from",
            "deadline",
        ] {
            assert!(is_instant_key(key), "{key}");
        }
        for key in ["from", "by", "atlas", "status", "window"] {
            assert!(!is_instant_key(key), "{key}");
        }
    }

    /// Under a rate card, the decision's price and the month's cost come out under money
    /// keys, and nothing else in those lines is money-shaped (decimal text) under another.
    #[test]
    fn money_sits_under_money_keys() {
        fn walk(value: &Value, key: Option<&str>, found: &mut usize) {
            match value {
                Value::String(text) if text.contains('.') && text.parse::<f64>().is_ok() => {
                    assert!(key.is_some_and(is_money_key), "{key:?}: {text}");
                    *found += 1;
                }
                Value::String(_) if key.is_some_and(is_money_key) => panic!("{value}"),
                Value::Array(items) => items.iter().for_each(|v| walk(v, key, found)),
                Value::Object(map) => map.iter().for_each(|(k, v)| walk(v, Some(k), found)),
                _ => {}
            }
        }
        let policy = Policy::with_overrides(
            "cloud-2025",
            &serde_json::json!({"pricing": {"rate_card": {"currency": "USD", "markets": {},
                "rates": {"other": {"marketing": "0.0625"}}}}}),
        )
        .unwrap();
        let mut engine = crate::Engine::new(policy);
        let mut found = 0;
        for line in [
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","number":"+15550001111","business":"acme","channel":"official"}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"sale","language":"en","category":"marketing","body":"Sale!","status":"approved"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+4915100000001"}"#,
            r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","message":{"kind":"template","name":"sale","language":"en"}}"#,
            r#"{"type":"query_usage","at":"2026-11-02T09:00:00Z","business":"acme"}"#,
        ] {
            for out in engine.handle_json(line) {
                walk(&serde_json::from_str(&out).unwrap(), None, &mut found);
            }
        }
        assert_eq!(found, 2, "the price's amount and the month's cost");
    }
}
