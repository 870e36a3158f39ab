//! An email ticket's response times (§3) survive snapshots and business moves, and a
//! state holding ones an engine would not keep is refused (scenario 465 has the rule).

mod common;

use common::{body_of, feed, refusal_with};
use convstate::snapshot::seal;
use convstate::{Engine, Instant, TicketResponses};

const NUMBER: &str = "support@acme.example";
const CONTACT: &str = "ann@example.com";

/// An email number and a WhatsApp number of `acme`; Ann's ticket answered once and her
/// next email waiting.
fn engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"support@acme.example","channel":"email"}"#,
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"support@acme.example","contact":"ann@example.com","kind":"text"}"#,
            r#"{"type":"send","at":"2026-11-02T10:00:00Z","number":"support@acme.example","contact":"ann@example.com","message":{"kind":"text","text":"On it"}}"#,
            r#"{"type":"inbound","at":"2026-11-02T11:00:00Z","number":"support@acme.example","contact":"ann@example.com","kind":"text"}"#,
            r#"{"type":"inbound","at":"2026-11-02T11:30:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
        ],
    );
    while engine.poll_effect().is_some() {}
    engine
}

fn responses(engine: &Engine) -> TicketResponses {
    let at = Instant::parse_rfc3339("2026-11-02T12:00:00Z").unwrap();
    let view = engine.conversation(NUMBER, CONTACT, at).expect("a view");
    view.ticket_responses.expect("an email ticket's times")
}

const ANSWER: &str = r#"{"type":"send","at":"2026-11-02T12:00:00Z","number":"support@acme.example","contact":"ann@example.com","message":{"kind":"text","text":"Done"}}"#;

/// The effect lines `line` produces.
fn effects_of(engine: &mut Engine, line: &str) -> Vec<String> {
    engine.handle_json(line).into_iter().skip(1).collect()
}

#[test]
fn a_restored_engine_answers_the_wait_as_the_original() {
    let mut original = engine();
    let kept = responses(&original);
    assert_eq!(kept.responses, 1);
    assert!(kept.waiting_since.is_some());
    let mut restored = Engine::restore(&original.snapshot()).expect("restores");
    assert_eq!(restored.snapshot(), original.snapshot(), "byte for byte");
    assert_eq!(responses(&restored), kept);
    let effects = effects_of(&mut original, ANSWER);
    assert_eq!(effects_of(&mut restored, ANSWER), effects);
    // The WhatsApp chat idled out first, at 11:40.
    let answered = effects.last().expect("an answer");
    assert!(
        answered.contains(r#""waited":"1h","first":false"#),
        "{effects:?}"
    );
}

#[test]
fn a_moved_business_keeps_its_tickets_times() {
    let mut source = engine();
    let export = source.export_business("acme").expect("exports");
    let mut target = Engine::with_preset("cloud-2025").expect("a preset");
    target.import_business(&export).expect("imports");
    while target.poll_effect().is_some() {}
    assert_eq!(responses(&target), responses(&source));
    assert_eq!(
        effects_of(&mut target, ANSWER),
        effects_of(&mut source, ANSWER)
    );
    let mut alone = Engine::from_business_export(&export).expect("an engine of its own");
    while alone.poll_effect().is_some() {}
    assert_eq!(responses(&alone).responses, 1);
}

#[test]
fn a_state_without_email_tickets_writes_no_table() {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915100000001","kind":"text"}"#,
        ],
    );
    let body = body_of(&engine);
    assert!(!body.contains("ticket_responses"), "{body}");
}

/// The problem named in refusing `engine()`'s snapshot with `from` replaced by `to`.
fn refusal(from: &str, to: &str) -> String {
    refusal_with(&body_of(&engine()), from, to)
}

#[test]
fn times_an_engine_would_not_keep_are_refused() {
    // Conversation 0 is Ann's email ticket, 1 the WhatsApp chat.
    let table = r#""ticket_responses":[[0,"#;
    let on_whatsapp = refusal(table, r#""ticket_responses":[[1,"#);
    assert!(
        on_whatsapp.contains("not on an email number"),
        "{on_whatsapp}"
    );
    let missing = refusal(table, r#""ticket_responses":[[7,"#);
    assert!(missing.contains("conversation 7 of 2"), "{missing}");
    let uncounted = refusal(r#""responses":1,"#, r#""responses":0,"#);
    assert!(uncounted.contains("0 responses"), "{uncounted}");
    let later = refusal(
        r#""waiting_since":"2026-11-02T11:00:00Z""#,
        r#""waiting_since":"2026-11-03T11:00:00Z""#,
    );
    assert!(later.contains("after the state's clock"), "{later}");
    // The latest answer (10:00) bounds the wait (a message dated before it was answered by
    // it) and follows the first.
    let wait_before_answer = refusal(
        r#""waiting_since":"2026-11-02T11:00:00Z""#,
        r#""waiting_since":"2026-11-02T09:30:00Z""#,
    );
    assert!(
        wait_before_answer
            .contains("waiting_since 2026-11-02T09:30:00Z is before its last_reply_at"),
        "{wait_before_answer}"
    );
    let last_before_first = refusal(
        r#""last_reply_at":"2026-11-02T10:00:00Z""#,
        r#""last_reply_at":"2026-11-02T09:30:00Z""#,
    );
    assert!(
        last_before_first
            .contains("last_reply_at 2026-11-02T09:30:00Z is before its first_response_at"),
        "{last_before_first}"
    );
}

#[test]
fn a_record_from_before_the_latest_answer_was_kept_restores() {
    // Snapshots written before `last_reply_at` lack it: they restore, and a late email
    // there waits from the clock, as it did when they were written.
    let body = body_of(&engine());
    let field = r#","last_reply_at":"2026-11-02T10:00:00Z""#;
    assert!(body.contains(field), "{body}");
    let older = body.replace(field, "");
    let restored = Engine::restore(&seal(older.as_bytes())).expect("restores");
    assert_eq!(responses(&restored).last_reply_at, None);
    assert_eq!(responses(&restored).responses, 1);
}

#[test]
fn a_number_leaving_email_takes_no_ticket_times_along() {
    // Moved to a chat channel, its conversations keep no email ticket times (a state
    // holding them was refused on restore, and by every rebuild: an export, a removal of
    // another business); moved back, they start afresh.
    let mut engine = engine();
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T12:00:00Z","business":"other","number":"+15550002222","channel":"official"}"#,
            r#"{"type":"register_number","at":"2026-11-02T12:00:00Z","business":"acme","number":"support@acme.example","channel":"messenger"}"#,
        ],
    );
    let at = Instant::parse_rfc3339("2026-11-02T12:00:00Z").unwrap();
    let view = engine.conversation(NUMBER, CONTACT, at).expect("a view");
    assert_eq!(view.ticket_responses, None);
    let restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(restored.snapshot(), engine.snapshot());
    engine.remove_business("other").expect("removes");
    engine.export_business("acme").expect("exports");
    feed(
        &mut engine,
        &[
            r#"{"type":"register_number","at":"2026-11-02T12:00:00Z","business":"acme","number":"support@acme.example","channel":"email"}"#,
        ],
    );
    assert_eq!(responses(&engine), TicketResponses::default());
}
