//! The pending outbox of `initiate` (RULES.md §4) across a failed opening template: what the
//! conformance scenarios cannot show (snapshots, late statuses, openers without ids).

use convstate::Engine;

const SETUP: [&str; 3] = [
    r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","default_template":{"name":"follow_up","language":"en"}}"#,
    r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"follow_up","language":"en","category":"utility","body":"Hello, we have an update on your request.","status":"approved"}"#,
    r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
];

fn engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    for line in SETUP {
        run(&mut engine, line);
    }
    engine
}

/// The outputs of `line`, which must not be an error.
fn run(engine: &mut Engine, line: &str) -> String {
    let out = engine.handle_json(line).join("\n");
    assert!(!out.contains(r#""type":"error""#), "{line}: {out}");
    out
}

fn initiate(engine: &mut Engine, at: &str, text: &str, id: Option<&str>) -> String {
    let id = id.map_or(String::new(), |id| format!(r#","message_id":"{id}""#));
    run(
        engine,
        &format!(
            r#"{{"type":"initiate","at":"{at}","number":"+15550001111","contact":"+79110000001","message":{{"kind":"text","text":"{text}"}}{id}}}"#
        ),
    )
}

fn failed(engine: &mut Engine, at: &str, id: &str) -> String {
    run(
        engine,
        &format!(
            r#"{{"type":"message_status","at":"{at}","number":"+15550001111","contact":"+79110000001","message_id":"{id}","status":"failed","errors":[131026]}}"#
        ),
    )
}

fn inbound(engine: &mut Engine, at: &str) -> String {
    run(
        engine,
        &format!(
            r#"{{"type":"inbound","at":"{at}","number":"+15550001111","contact":"+79110000001","kind":"text"}}"#
        ),
    )
}

const OPENED: &str = r#""template":"follow_up""#;
const HELD: &str = r#""why":"held""#;

#[test]
fn a_failed_opener_survives_a_snapshot() {
    let mut engine = engine();
    assert!(initiate(&mut engine, "2026-11-02T10:00:00Z", "A", Some("wamid.1")).contains(OPENED));
    failed(&mut engine, "2026-11-02T10:00:05Z", "wamid.1");
    let mut restored = Engine::restore(&engine.snapshot()).expect("restores");
    assert_eq!(restored.snapshot(), engine.snapshot());
    let out = initiate(&mut restored, "2026-11-02T11:00:00Z", "B", Some("wamid.2"));
    assert!(out.contains(OPENED), "{out}");
    // Both messages are released together when the contact answers.
    let out = inbound(&mut restored, "2026-11-02T12:00:00Z");
    assert!(
        out.contains(r#""messages":[{"kind":"text","text":"A"},{"kind":"text","text":"B"}]"#),
        "{out}"
    );
}

#[test]
fn a_snapshot_from_before_openers_were_kept_still_holds() {
    let mut engine = engine();
    initiate(&mut engine, "2026-11-02T10:00:00Z", "A", Some("wamid.1"));
    let body = String::from_utf8(
        convstate::snapshot::unseal(&engine.snapshot())
            .expect("intact")
            .to_vec(),
    )
    .expect("UTF-8");
    let opener = r#","opener":{"message_id":"wamid.1","sent_at":"2026-11-02T10:00:00Z"}"#;
    assert!(body.contains(opener), "{body}");
    let old = body.replace(opener, "");
    let mut restored =
        Engine::restore(&convstate::snapshot::seal(old.as_bytes())).expect("restores");
    // The opener's id is unknown: its failure cannot be matched, so it is still awaited.
    failed(&mut restored, "2026-11-02T10:00:05Z", "wamid.1");
    let out = initiate(&mut restored, "2026-11-02T11:00:00Z", "B", None);
    assert!(out.contains(HELD), "{out}");
}

#[test]
fn an_opener_without_an_id_is_awaited_until_the_answer() {
    let mut engine = engine();
    assert!(initiate(&mut engine, "2026-11-02T10:00:00Z", "A", None).contains(OPENED));
    failed(&mut engine, "2026-11-02T10:00:05Z", "wamid.other");
    let out = initiate(&mut engine, "2026-11-02T11:00:00Z", "B", None);
    assert!(out.contains(HELD), "{out}");
}

#[test]
fn a_late_failure_of_an_answered_opener_leaves_the_next_one_awaited() {
    let mut engine = engine();
    initiate(&mut engine, "2026-11-02T10:00:00Z", "A", Some("wamid.1"));
    run(
        &mut engine,
        r#"{"type":"message_status","at":"2026-11-02T10:00:05Z","number":"+15550001111","contact":"+79110000001","message_id":"wamid.1","status":"delivered"}"#,
    );
    assert!(inbound(&mut engine, "2026-11-02T11:00:00Z").contains("outbox_released"));
    // The window closed; a second opener goes out two days later.
    let out = initiate(&mut engine, "2026-11-04T12:00:00Z", "B", Some("wamid.2"));
    assert!(out.contains(OPENED), "{out}");
    // The first opener's failure arrives late: the second one is still awaited.
    failed(&mut engine, "2026-11-04T12:00:01Z", "wamid.1");
    let out = initiate(&mut engine, "2026-11-04T13:00:00Z", "C", None);
    assert!(out.contains(HELD), "{out}");
    // Its own failure ends that.
    failed(&mut engine, "2026-11-04T13:00:01Z", "wamid.2");
    let out = initiate(&mut engine, "2026-11-04T14:00:00Z", "D", None);
    assert!(out.contains(OPENED), "{out}");
}

const DUPLICATE: &str = r#""reason":"duplicate""#;

#[test]
fn a_released_message_sent_by_the_host_is_no_duplicate_of_itself() {
    let mut engine = engine();
    initiate(&mut engine, "2026-11-02T10:00:00Z", "A", None);
    let out = initiate(&mut engine, "2026-11-02T10:01:00Z", "A", None);
    assert!(out.contains(DUPLICATE), "{out}");
    assert!(
        out.contains(r#""previous_at":"2026-11-02T10:00:00Z""#),
        "{out}"
    );
    let out = inbound(&mut engine, "2026-11-02T11:00:00Z");
    assert!(
        out.contains(r#""messages":[{"kind":"text","text":"A"}]"#),
        "{out}"
    );
    let out = run(
        &mut engine,
        r#"{"type":"send","at":"2026-11-02T11:00:01Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"A"}}"#,
    );
    assert!(out.contains(r#""verdict":"allowed""#), "{out}");
}

#[test]
fn a_message_sent_before_the_window_closed_is_not_held_again() {
    let mut engine = engine();
    inbound(&mut engine, "2026-11-02T09:00:00Z");
    run(
        &mut engine,
        r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"A"}}"#,
    );
    // The window closed at 09:00 the next day; the send is within 24h still.
    let out = initiate(&mut engine, "2026-11-03T09:00:30Z", "A", Some("wamid.1"));
    assert!(out.contains(DUPLICATE), "{out}");
    assert!(!out.contains(OPENED), "{out}");
    // Past the period it is held, with an opener.
    let out = initiate(&mut engine, "2026-11-03T09:01:00Z", "A", Some("wamid.1"));
    assert!(out.contains(OPENED), "{out}");
}

#[test]
fn a_held_message_is_a_duplicate_until_it_expires() {
    let mut engine = engine();
    initiate(&mut engine, "2026-11-02T10:00:00Z", "A", None);
    // Six days on, past the content period, the copy is still held: released, both would go.
    let out = initiate(&mut engine, "2026-11-08T10:00:00Z", "A", None);
    assert!(out.contains(DUPLICATE), "{out}");
    assert!(
        out.contains(r#""previous_at":"2026-11-02T10:00:00Z","period":"7d""#),
        "{out}"
    );
    assert!(out.contains(r#""at":"2026-11-09T10:00:00Z""#), "{out}");
    // At its expiry it is gone, and the message is held again under a new opener.
    let out = initiate(&mut engine, "2026-11-09T10:00:00Z", "A", None);
    assert!(out.contains("outbox_expired"), "{out}");
    assert!(out.contains(OPENED), "{out}");
}

#[test]
fn a_retry_past_the_content_period_of_a_message_held_under_a_failed_opener_still_goes() {
    let mut engine = engine();
    initiate(&mut engine, "2026-11-02T10:00:00Z", "A", Some("wamid.1"));
    failed(&mut engine, "2026-11-02T10:00:05Z", "wamid.1");
    let out = initiate(&mut engine, "2026-11-04T10:00:00Z", "A", Some("wamid.2"));
    assert!(out.contains(OPENED), "{out}");
    assert!(out.contains(r#""held":1"#), "{out}");
    // The new opener is awaited: the same message again is a duplicate of the held copy.
    let out = initiate(&mut engine, "2026-11-04T11:00:00Z", "A", None);
    assert!(out.contains(DUPLICATE), "{out}");
    assert!(
        out.contains(r#""previous_at":"2026-11-02T10:00:00Z","period":"7d""#),
        "{out}"
    );
}

#[test]
fn a_full_outbox_refuses_one_more_message_and_changes_nothing() {
    let mut engine = engine();
    for i in 0..100 {
        let out = initiate(&mut engine, "2026-11-02T10:00:00Z", &format!("M{i}"), None);
        assert!(out.contains(&format!(r#""held":{}"#, i + 1)), "{out}");
    }
    let before = engine.snapshot();
    let line = r#"{"type":"initiate","at":"2026-11-02T10:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"M100"}}"#;
    let out = engine.handle_json(line);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with(r#"{"type":"error","error":"capacity_exceeded","kind":"capacity","#)
            && out[0].contains("more than 100 messages held for one conversation"),
        "{out:?}"
    );
    assert_eq!(engine.snapshot(), before, "the refusal changed the state");
    // One that would hold nothing keeps its denial: a copy of a held message.
    let out = initiate(&mut engine, "2026-11-02T10:01:00Z", "M0", None);
    assert!(out.contains(DUPLICATE), "{out}");
    // Once the held messages expired, a message is held again.
    let out = initiate(&mut engine, "2026-11-09T10:00:00Z", "M100", None);
    assert!(
        out.contains("outbox_expired") && out.contains(OPENED),
        "{out}"
    );
}
