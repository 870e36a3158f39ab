//! Property: delivering a random subset of webhooks twice, and every webhook in a random
//! order, leaves the same windows, template states, limit usage and billing as delivering
//! each once in order (Meta retries webhooks and does not keep their order).
//!
//! Message and status webhooks are shuffled freely: the engine orders them by their own
//! timestamps and status ranks. Template webhooks carry no per-event timestamp the engine
//! orders by, so they keep their relative order and only their duplicates are tested (see the
//! ignored test at the end for a stale duplicate). `PROPTEST_CASES` overrides the case count.

use convstate::{Engine, Policy};
use proptest::prelude::*;
use serde_json::{json, Value};

const T0_SECS: i64 = 1_793_610_000;
const CONTACTS: [&str; 3] = ["79110000001", "79110000002", "79110000003"];

fn policy() -> Policy {
    let mut policy = Policy::preset("cloud-2025").unwrap();
    policy.provider.release_failed_sends = true;
    policy
}

/// acme's number, template and contacts, each sent a template with a provider id.
fn setup_lines() -> Vec<String> {
    let mut lines = vec![
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","phone_number_id":"106540352242922"}"#.to_owned(),
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"order_update","language":"en_US","category":"utility","body":"Order {{1}} is on its way","status":"approved"}"#.to_owned(),
    ];
    for (i, contact) in CONTACTS.iter().enumerate() {
        lines.push(format!(r#"{{"type":"opt_in","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+{contact}"}}"#));
        lines.push(format!(r#"{{"type":"send","at":"2026-11-02T08:30:00Z","number":"+15550001111","contact":"+{contact}","message":{{"kind":"template","name":"order_update","language":"en_US","params":["A"]}},"message_id":"wamid.OUT{i}"}}"#));
    }
    lines
}

fn engine() -> Engine {
    let mut engine = Engine::new(policy());
    for line in &setup_lines() {
        let out = engine.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    engine
}

fn envelope(field: &str, value: Value, time: i64) -> Vec<u8> {
    json!({"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":time,
        "changes":[{"field":field,"value":value}]}]})
    .to_string()
    .into_bytes()
}

fn metadata() -> Value {
    json!({"display_phone_number":"15550001111","phone_number_id":"106540352242922"})
}

#[derive(Clone, Debug)]
enum Hook {
    Inbound {
        id: u32,
        contact: usize,
        offset_mins: i64,
    },
    Status {
        message: usize,
        status: &'static str,
        offset_mins: i64,
        code: u32,
    },
}

impl Hook {
    fn body(&self) -> Vec<u8> {
        match *self {
            Hook::Inbound {
                id,
                contact,
                offset_mins,
            } => envelope(
                "messages",
                json!({"messaging_product":"whatsapp","metadata":metadata(),
                    "contacts":[{"profile":{"name":"C"},"wa_id":CONTACTS[contact]}],
                    "messages":[{"from":CONTACTS[contact],"id":format!("wamid.IN{id}"),
                        "timestamp":(T0_SECS + offset_mins * 60).to_string(),"type":"text","text":{"body":"hi"}}]}),
                T0_SECS + offset_mins * 60,
            ),
            Hook::Status {
                message,
                status,
                offset_mins,
                code,
            } => {
                let mut item = json!({"id":format!("wamid.OUT{message}"),"status":status,
                    "timestamp":(T0_SECS + offset_mins * 60).to_string(),"recipient_id":CONTACTS[message]});
                if status == "failed" {
                    item["errors"] = json!([{"code":code,"title":"error"}]);
                } else if status != "read" {
                    item["pricing"] = json!({"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"});
                }
                envelope(
                    "messages",
                    json!({"messaging_product":"whatsapp","metadata":metadata(),"statuses":[item]}),
                    T0_SECS + offset_mins * 60,
                )
            }
        }
    }
}

fn hook() -> impl Strategy<Value = Hook> {
    prop_oneof![
        (Just(0u32), 0usize..3, 0i64..72 * 60).prop_map(|(id, contact, offset_mins)| {
            Hook::Inbound {
                id,
                contact,
                offset_mins,
            }
        }),
        // One message's statuses have one timestamp each and at most one failure (with one
        // code per message): window close, undeliverable, marketing back-off.
        (0usize..3, 0usize..4).prop_map(|(message, rank)| Hook::Status {
            message,
            status: ["sent", "delivered", "read", "failed"][rank],
            offset_mins: 30 + 40 * message as i64 + 10 * rank as i64,
            code: [131_047u32, 131_026, 131_049][message],
        }),
    ]
}

fn template_hooks() -> Vec<Vec<u8>> {
    let event = |event: &str, title: Option<&str>, time: i64| {
        let mut value = json!({"event":event,"message_template_id":1,"message_template_name":"order_update",
            "message_template_language":"en_US","reason":"NONE"});
        if let Some(title) = title {
            value["other_info"] = json!({"title":title,"description":""});
        }
        envelope("message_template_status_update", value, time)
    };
    let quality = |from: &str, to: &str, time: i64| {
        envelope(
            "message_template_quality_update",
            json!({"previous_quality_score":from,"new_quality_score":to,"message_template_id":1,
                "message_template_name":"order_update","message_template_language":"en_US"}),
            time,
        )
    };
    // In timestamp order: the rating behind the first pause, a minute before Meta's report.
    vec![
        quality("GREEN", "RED", T0_SECS + 3600 - 60),
        event("PAUSED", Some("FIRST_PAUSE"), T0_SECS + 3600),
        event("APPROVED", Some("UNPAUSE"), T0_SECS + 2 * 3600),
        quality("RED", "YELLOW", T0_SECS + 3 * 3600),
    ]
}

/// What the property compares: windows, template state, limit usage and billing, read at one
/// instant after every webhook.
fn observed(engine: &mut Engine) -> Vec<String> {
    let at = (T0_SECS + 80 * 3600) * 1000;
    let mut lines = Vec::new();
    for contact in CONTACTS {
        let out = engine.handle_json(&format!(
            r#"{{"type":"query_conversation","at":{at},"number":"+15550001111","contact":"+{contact}"}}"#
        ));
        let view: Value = serde_json::from_str(&out[0]).unwrap();
        lines.push(format!("{contact}: window ends {}", view["window_ends_at"]));
    }
    for query in [
        format!(
            r#"{{"type":"query_template","at":{at},"business":"acme","name":"order_update","language":"en_US"}}"#
        ),
        format!(
            r#"{{"type":"query_limit","at":{},"number":"+15550001111"}}"#,
            (T0_SECS + 3600) * 1000
        ),
        format!(r#"{{"type":"query_usage","at":{at},"number":"+15550001111","month":"2026-11"}}"#),
    ] {
        lines.push(engine.handle_json(&query)[0].clone());
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128)
    ))]

    #[test]
    fn redelivered_and_reordered_webhooks_end_in_the_same_state(
        (hooks, order) in prop::collection::vec(hook(), 1..24)
            .prop_flat_map(|mut hooks| {
                // A message id names one message: number them.
                for (i, h) in hooks.iter_mut().enumerate() {
                    if let Hook::Inbound { id, .. } = h {
                        *id = i as u32;
                    }
                }
                let n = hooks.len();
                (Just(hooks), Just((0..2 * n).collect::<Vec<_>>()).prop_shuffle())
            }),
        twice in prop::collection::vec(any::<bool>(), 24),
        template_twice in prop::collection::vec(any::<bool>(), 4),
        template_order in Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
    ) {
        // In order: each once, by timestamp.
        let mut sorted = hooks.clone();
        sorted.sort_by_key(|h| match h {
            Hook::Inbound { offset_mins, .. } | Hook::Status { offset_mins, .. } => *offset_mins,
        });
        let mut once = engine();
        for h in &sorted {
            once.handle_webhook(&h.body(), convstate::Instant::EPOCH).unwrap();
        }
        for body in template_hooks() {
            once.handle_webhook(&body, convstate::Instant::EPOCH).unwrap();
        }

        // Shuffled; index i >= n is the second delivery of hook i - n, kept when `twice`.
        let n = hooks.len();
        let mut messy = engine();
        for i in order {
            let (h, repeat) = if i < n { (&hooks[i], true) } else { (&hooks[i - n], twice[i - n]) };
            if repeat {
                messy.handle_webhook(&h.body(), convstate::Instant::EPOCH).unwrap();
            }
        }
        let template_hooks = template_hooks();
        for (i, again) in template_order.into_iter().zip(template_twice) {
            let body = &template_hooks[i];
            messy.handle_webhook(body, convstate::Instant::EPOCH).unwrap();
            if again {
                messy.handle_webhook(body, convstate::Instant::EPOCH).unwrap();
            }
        }
        prop_assert_eq!(observed(&mut once), observed(&mut messy));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
    ))]

    /// The sharded engine's door, its business among others in four shards, answers every
    /// body of a random delivery (shuffled, some twice, templates among them) with the lines
    /// one engine writes.
    #[test]
    fn the_sharded_door_writes_one_engines_lines(
        hooks in prop::collection::vec(hook(), 1..24),
        twice in prop::collection::vec(any::<bool>(), 24),
        templates_at in prop::collection::vec(0usize..24, 4),
    ) {
        use convstate::sharded::ShardedEngine;
        use convstate::webhook::WebhookReader;

        let mut single = Engine::new(policy());
        let sharded = ShardedEngine::new(policy(), 4).unwrap();
        let others = (0..5).map(|b| format!(
            r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"biz{b}","number":"+1555200{b:04}","channel":"official","phone_number_id":"20000{b}"}}"#
        ));
        for line in setup_lines().into_iter().chain(others) {
            let mut out = String::new();
            sharded.handle_json_into(&line, &mut out);
            let expected: String = single.handle_json(&line).iter().map(|l| format!("{l}\n")).collect();
            prop_assert_eq!(out, expected);
        }
        let mut bodies = Vec::new();
        for (i, h) in hooks.iter().enumerate() {
            bodies.push(h.body());
            if twice[i] {
                bodies.push(h.body());
            }
        }
        for (body, at) in template_hooks().into_iter().zip(templates_at) {
            bodies.insert(at.min(bodies.len()), body);
        }
        let reader = WebhookReader::new().with_business("102290129340398", "acme");
        for body in &bodies {
            let at = convstate::Instant::EPOCH;
            prop_assert_eq!(
                reader.handle_json_sharded(&sharded, body, at),
                reader.handle_json(&mut single, body, at)
            );
        }
    }
}

/// A template event redelivered after a newer one must not undo it (Meta's de-duplication
/// key for template events is the template, the event and the webhook `time`).
#[test]
fn a_stale_template_duplicate_does_not_undo_a_newer_event() {
    let mut engine = engine();
    let hooks = template_hooks();
    for body in [&hooks[1], &hooks[2], &hooks[1]] {
        engine
            .handle_webhook(body, convstate::Instant::EPOCH)
            .unwrap();
    }
    let out = engine.handle_json(&format!(
        r#"{{"type":"query_template","at":{},"business":"acme","name":"order_update","language":"en_US"}}"#,
        (T0_SECS + 2 * 3600 + 60) * 1000
    ));
    assert!(out[0].contains(r#""status":"approved""#), "{out:?}");
}

/// Two pause cycles of one template, days apart, as the wire reports them: each cycle's low
/// rating a minute before Meta's pause report, then the unpause; a high rating between.
const LADDER_REPORTS: [&str; 7] = [
    r#"{"type":"template_quality","at":"2026-11-02T08:59:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
    r#"{"type":"template_status","at":"2026-11-02T09:00:00Z","business":"acme","name":"promo","language":"en","status":"paused","until":"2026-11-02T12:00:00Z"}"#,
    r#"{"type":"template_status","at":"2026-11-02T12:00:00Z","business":"acme","name":"promo","language":"en","status":"unpaused"}"#,
    r#"{"type":"template_quality","at":"2026-11-03T09:00:00Z","business":"acme","name":"promo","language":"en","quality":"high"}"#,
    r#"{"type":"template_quality","at":"2026-11-04T08:59:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
    r#"{"type":"template_status","at":"2026-11-04T09:00:00Z","business":"acme","name":"promo","language":"en","status":"paused","until":"2026-11-04T15:00:00Z"}"#,
    r#"{"type":"template_status","at":"2026-11-04T15:00:00Z","business":"acme","name":"promo","language":"en","status":"unpaused"}"#,
];

/// The template after `reports` (indices into [`LADDER_REPORTS`]), read well after them.
fn ladder_after(reports: impl IntoIterator<Item = usize>) -> String {
    let mut engine = Engine::new(Policy::preset("cloud-2025").unwrap());
    engine.handle_json(r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#);
    for i in reports {
        engine.handle_json(LADDER_REPORTS[i]);
    }
    engine.handle_json(r#"{"type":"query_template","at":"2026-11-20T00:00:00Z","business":"acme","name":"promo","language":"en"}"#)[0].clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(128)
    ))]

    /// The ladder counts the same two pauses (and ends approved) whatever order the two
    /// cycles' ratings, pause reports and unpauses arrive in, each maybe delivered twice.
    #[test]
    fn the_pause_ladder_counts_the_same_in_any_order(
        order in Just((0..LADDER_REPORTS.len() * 2).collect::<Vec<_>>()).prop_shuffle(),
        twice in prop::collection::vec(any::<bool>(), LADDER_REPORTS.len()),
    ) {
        let n = LADDER_REPORTS.len();
        let in_order = ladder_after(0..n);
        prop_assert!(in_order.contains(r#""status":"approved""#), "{}", in_order);
        prop_assert!(in_order.contains(r#""pause_strikes":2"#), "{}", in_order);
        let messy = ladder_after(
            order.into_iter().filter(|&i| i < n || twice[i - n]).map(|i| i % n),
        );
        prop_assert_eq!(messy, in_order);
    }
}
