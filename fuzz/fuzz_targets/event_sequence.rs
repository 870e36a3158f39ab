//! Arbitrary event sequences through the engine's JSON door, with the invariants of the
//! property tests (core/tests/properties.rs) checked after every step:
//!
//! * an input that is refused changes nothing: no effects, identical snapshot bytes;
//! * the clock never moves back;
//! * `check_send` changes nothing and agrees with the `send` that follows (no idempotency
//!   key involved);
//! * no live chat is past its number's idle timeout at the clock;
//! * at the end: restore(snapshot) is byte-exact and behaves like the original, and a second
//!   `handle_timeout` at the same instant does nothing.
#![no_main]

use arbitrary::Arbitrary;
use convstate::time::MAX_INSTANT_MS;
use convstate::wire::decode_event;
use convstate::{Engine, Event, Instant};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

/// 2026-11-02T08:00:00Z.
const BASE_MS: i64 = 1_793_606_400_000;
const NUMBERS: [&str; 4] = [
    "+15550001111",
    "+15550002222",
    "support@acme.example",
    "+15559999999", // never registered
];
const CONTACTS: [&str; 6] = [
    "+79110000001",
    "00 49 151 1234 5678",
    "+12025550123",
    "US.13491208655302741918",
    "ann@example.com",
    "12", // malformed
];
const TEMPLATES: [(&str, &str); 3] = [
    ("order_ready", "Your order {{1}} is ready"),
    ("autumn_sale", "Hi {{1}}, {{2}} off today"),
    ("winback", "We miss you"),
];
const PRESETS: [&str; 3] = ["classic", "cloud-2025", "cloud-2026-10"];

#[derive(Arbitrary, Debug)]
struct Input {
    preset: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
struct Step {
    time: TimeStep,
    number: u8,
    contact: u8,
    action: Action,
}

#[derive(Arbitrary, Debug)]
enum TimeStep {
    Same,
    Millis(u16),
    Minutes(u8),
    Hours(u8),
    Day,
    Back(u16),
    /// Any i64: negative, huge and overflowing instants included.
    Raw(i64),
}

#[derive(Arbitrary, Debug)]
enum Action {
    Inbound {
        kind: u8,
    },
    Send {
        message: Msg,
        key: Option<u8>,
        force: bool,
        automated: bool,
    },
    CheckSend {
        message: Msg,
    },
    Initiate {
        message: Msg,
        key: Option<u8>,
        automated: bool,
    },
    EndChat {
        by_agent: bool,
        status: u8,
    },
    SetTicketStatus {
        status: u8,
    },
    OptIn,
    OptOut,
    Preference {
        stop: bool,
    },
    SendFailed {
        code: u16,
    },
    TemplateStatus {
        template: u8,
        status: u8,
    },
    TemplateQuality {
        template: u8,
        quality: u8,
    },
    TemplateCategory {
        template: u8,
        category: u8,
    },
    TemplateComponents {
        template: u8,
        body: u8,
        footer: bool,
    },
    NumberQuality {
        quality: u8,
    },
    MessagingLimit {
        limit: u32,
    },
    RegisterNumber {
        channel: u8,
        idle_minutes: Option<u8>,
        zone: Option<u8>,
    },
    RegisterTemplate {
        template: u8,
        body: String,
    },
    Tick,
    Query {
        what: u8,
    },
    /// Any line at all.
    Raw(String),
    /// A delivery status of a send recorded with a key (its `message_id` is `m` and the
    /// key's digit), naming the recipient by a user id beside the contact, or not.
    Status {
        message: u8,
        status: u8,
        user_id: Option<u8>,
        failed_with: Option<u16>,
    },
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Text(u8),
    Template { template: u8, params: Vec<u8> },
    Image { size: u64 },
}

fn pick<T: Copy>(items: &[T], i: u8) -> T {
    items[usize::from(i) % items.len()]
}

fn message(m: &Msg) -> Value {
    match m {
        Msg::Text(i) => json!({"kind": "text", "text": format!("text {i}")}),
        Msg::Template { template, params } => json!({
            "kind": "template",
            "name": pick(&TEMPLATES, *template).0,
            "language": "en",
            "params": params.iter().take(4).map(|p| format!("p{p}")).collect::<Vec<_>>(),
        }),
        Msg::Image { size } => json!({"kind": "image", "size": size}),
    }
}

const QUALITIES: [&str; 4] = ["high", "medium", "low", "unknown"];
const TICKET_STATUSES: [&str; 3] = ["open", "pending", "closed"];

fn line(step: &Step, at: i64) -> String {
    let number = pick(&NUMBERS, step.number);
    let contact = pick(&CONTACTS, step.contact);
    let value = match &step.action {
        Action::Inbound { kind } => json!({
            "type": "inbound", "at": at, "number": number, "contact": contact,
            "kind": pick(&["text", "image", "reaction", "call", "system", "interactive", "location"], *kind),
        }),
        Action::Send {
            message: m,
            key,
            force,
            automated,
        } => {
            let mut v = json!({"type": "send", "at": at, "number": number, "contact": contact,
                               "message": message(m), "force": force, "automated": automated});
            if let Some(k) = key {
                v["idempotency_key"] = json!(format!("k{}", k % 4));
                v["message_id"] = json!(format!("m{}", k % 4));
            }
            v
        }
        Action::CheckSend { message: m } => json!({
            "type": "check_send", "at": at, "number": number, "contact": contact, "message": message(m),
        }),
        Action::Initiate {
            message: m,
            key,
            automated,
        } => {
            let mut v = json!({"type": "initiate", "at": at, "number": number, "contact": contact,
                               "message": message(m), "automated": automated});
            if let Some(k) = key {
                v["idempotency_key"] = json!(format!("k{}", k % 4));
            }
            v
        }
        Action::EndChat { by_agent, status } => json!({
            "type": "end_chat", "at": at, "number": number, "contact": contact,
            "by": if *by_agent { "agent" } else { "rule" }, "status": pick(&TICKET_STATUSES, *status),
        }),
        Action::SetTicketStatus { status } => json!({
            "type": "set_ticket_status", "at": at, "number": number, "contact": contact,
            "status": pick(&TICKET_STATUSES, *status),
        }),
        Action::OptIn => json!({"type": "opt_in", "at": at, "number": number, "contact": contact}),
        Action::OptOut => {
            json!({"type": "opt_out", "at": at, "number": number, "contact": contact})
        }
        Action::Preference { stop } => json!({
            "type": "user_preference", "at": at, "number": number, "contact": contact,
            "value": if *stop { "stop" } else { "resume" },
        }),
        Action::SendFailed { code } => json!({
            "type": "send_failed", "at": at, "number": number, "contact": contact,
            "code": pick(&[131_047u32, 470, u32::from(*code)], *code as u8),
        }),
        Action::TemplateStatus { template, status } => json!({
            "type": "template_status", "at": at, "business": "acme",
            "name": pick(&TEMPLATES, *template).0, "language": "en",
            "status": pick(&["approved", "rejected", "paused", "disabled", "pending", "flagged"], *status),
        }),
        Action::TemplateQuality { template, quality } => json!({
            "type": "template_quality", "at": at, "business": "acme",
            "name": pick(&TEMPLATES, *template).0, "language": "en", "quality": pick(&QUALITIES, *quality),
        }),
        Action::TemplateCategory { template, category } => json!({
            "type": "template_category", "at": at, "business": "acme",
            "name": pick(&TEMPLATES, *template).0, "language": "en",
            "category": pick(&["marketing", "utility", "authentication", "service"], *category),
        }),
        Action::TemplateComponents {
            template,
            body,
            footer,
        } => json!({
            "type": "template_components", "at": at, "business": "acme",
            "name": pick(&TEMPLATES, *template).0, "language": "en",
            "body": pick(&TEMPLATES, *body).1,
            "footer": footer.then_some("Reply STOP to opt out"),
        }),
        Action::NumberQuality { quality } => json!({
            "type": "number_quality", "at": at, "number": number, "quality": pick(&QUALITIES, *quality),
        }),
        Action::MessagingLimit { limit } => json!({
            "type": "messaging_limit", "at": at, "number": number, "limit": limit,
        }),
        Action::RegisterNumber {
            channel,
            idle_minutes,
            zone,
        } => {
            let mut v = json!({"type": "register_number", "at": at, "business": "acme", "number": number,
                               "channel": pick(&["official", "unofficial", "messenger", "email"], *channel)});
            if let Some(m) = idle_minutes {
                v["idle_timeout"] = json!(format!("{m}m"));
            }
            // The business's months: set once, so a second zone is refused (and a name that
            // is none, always).
            if let Some(z) = zone {
                v["timezone"] = json!(pick(
                    &["Asia/Tokyo", "America/New_York", "UTC", "Asia/Tokio"],
                    *z
                ));
            }
            v
        }
        Action::RegisterTemplate { template, body } => json!({
            "type": "register_template", "at": at, "business": "acme",
            "name": pick(&TEMPLATES, *template).0, "language": "en", "category": "marketing",
            "body": body, "status": "approved",
        }),
        Action::Tick => json!({"type": "tick", "at": at}),
        Action::Query { what } => match what % 4 {
            0 => {
                json!({"type": "query_conversation", "at": at, "number": number, "contact": contact})
            }
            1 => json!({"type": "query_number", "at": at, "number": number}),
            2 => json!({"type": "query_limit", "at": at, "number": number}),
            _ => {
                json!({"type": "query_template", "at": at, "business": "acme", "name": "order_ready", "language": "en"})
            }
        },
        Action::Raw(text) => return text.clone(),
        Action::Status {
            message,
            status,
            user_id,
            failed_with,
        } => {
            let status = pick(&["sent", "delivered", "read", "failed"], *status);
            let mut v = json!({"type": "message_status", "at": at, "number": number,
                               "contact": contact, "message_id": format!("m{}", message % 4),
                               "status": status});
            if let Some(u) = user_id {
                v["user_id"] = json!(pick(&["US.1", "US.2", "US 3", "+79110000002"], *u));
            }
            if let (Some(code), "failed") = (failed_with, status) {
                v["errors"] = json!([pick(
                    &[131047, 131049, 131026, 131056, 132015],
                    (*code % 256) as u8
                )]);
            }
            v
        }
    };
    value.to_string()
}

fn setup(engine: &mut Engine) {
    for (name, body) in TEMPLATES {
        engine.handle_json(
            &json!({"type": "register_template", "at": BASE_MS, "business": "acme", "name": name,
                    "language": "en", "category": if name == "order_ready" { "utility" } else { "marketing" },
                    "body": body, "status": "approved", "quality": "high"})
            .to_string(),
        );
    }
    for (number, channel) in [
        (NUMBERS[0], "official"),
        (NUMBERS[1], "unofficial"),
        (NUMBERS[2], "email"),
    ] {
        engine.handle_json(
            &json!({"type": "register_number", "at": BASE_MS, "business": "acme", "number": number, "channel": channel})
                .to_string(),
        );
    }
    while engine.poll_effect().is_some() {}
}

fn check_live_chats(engine: &Engine) {
    let clock = engine.clock();
    for number in &NUMBERS[..3] {
        let Ok(view) = engine.number(number) else {
            continue;
        };
        for contact in CONTACTS {
            let Ok(conversation) = engine.conversation(number, contact, clock) else {
                continue;
            };
            if let Some(chat) = conversation.chat {
                let deadline = chat.last_activity_at.plus(view.idle_timeout);
                assert!(
                    deadline > clock || deadline.unix_millis() == MAX_INSTANT_MS,
                    "chat {number}/{contact} live at {clock} past its idle timeout"
                );
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let mut engine = Engine::with_preset(pick(&PRESETS, input.preset)).expect("presets exist");
    setup(&mut engine);
    let mut cursor = BASE_MS;
    for step in input.steps.iter().take(64) {
        cursor = match step.time {
            TimeStep::Same => cursor,
            TimeStep::Millis(ms) => cursor.saturating_add(i64::from(ms)),
            TimeStep::Minutes(m) => cursor.saturating_add(i64::from(m) * 60_000),
            TimeStep::Hours(h) => cursor.saturating_add(i64::from(h) * 3_600_000),
            TimeStep::Day => cursor.saturating_add(86_400_000),
            TimeStep::Back(ms) => cursor.saturating_sub(i64::from(ms) * 1_000),
            TimeStep::Raw(ms) => ms,
        };
        let at = cursor;
        // Keep the cursor usable after a wild instant.
        cursor = cursor.clamp(0, MAX_INSTANT_MS);
        let text = line(step, at);
        let before = engine.clone();
        let clock_before = engine.clock();

        // check_send must be pure and agree with the send that follows.
        let decoded = decode_event(&text);
        let mut checked = None;
        if let Ok(Event::Send(request) | Event::CheckSend(request)) = &decoded {
            let snapshot = engine.snapshot();
            let decision = engine.check_send(request);
            assert!(
                engine.snapshot() == snapshot,
                "check_send changed the state: {text}"
            );
            if matches!(decoded, Ok(Event::Send(_))) && request.idempotency_key.is_none() {
                checked = Some(decision);
            }
        }

        let lines = engine.handle_json(&text);
        assert!(!lines.is_empty());
        let result: Value = serde_json::from_str(&lines[0]).expect("result lines are JSON");
        if result["type"] == "error" {
            assert_eq!(
                lines.len(),
                1,
                "a refused input caused effects: {text} -> {lines:?}"
            );
            assert!(
                before.snapshot() == engine.snapshot(),
                "{text} was refused but changed the state"
            );
        }
        if let Some(decision) = checked {
            let Ok(Event::Send(request)) = &decoded else {
                unreachable!()
            };
            let sent = before.clone().send(request);
            assert_eq!(decision, sent, "check_send and send disagree on {text}");
        }
        assert!(
            engine.clock() >= clock_before,
            "the clock moved back on {text}"
        );
        check_live_chats(&engine);
    }

    // Snapshot round trip, byte-exact, and the restored engine behaves the same.
    let bytes = engine.snapshot();
    let mut restored = Engine::restore(&bytes).expect("a snapshot restores");
    assert!(
        restored.snapshot() == bytes,
        "restore(snapshot(e)).snapshot() differs"
    );
    let later =
        Instant::from_unix_millis(cursor.saturating_add(30 * 86_400_000).min(MAX_INSTANT_MS))
            .expect("in range");
    let tick = json!({"type": "tick", "at": later.unix_millis()}).to_string();
    assert_eq!(engine.handle_json(&tick), restored.handle_json(&tick));
    assert!(engine.snapshot() == restored.snapshot());

    // handle_timeout is idempotent.
    engine.handle_timeout(later);
    let first = engine.snapshot();
    engine.handle_timeout(later);
    assert!(engine.poll_effect().is_none());
    assert!(
        engine.snapshot() == first,
        "a second handle_timeout changed the state"
    );
});
