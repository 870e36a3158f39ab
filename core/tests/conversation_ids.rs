//! Conversation ids (`Engine::conversation_id`, `send_to`, `check_send_to`): what an id names,
//! and that one this engine did not give, or gave before it was rebuilt, is refused and
//! changes nothing (nor does a prefetch hint for it). That a send by id is the send by name,
//! over random traffic, is property 7b in `properties.rs`.

use convstate::{ConversationId, DenyReason, Engine, Error, Instant, OutboundMessage, SendToRef};
use serde_json::Value;

const NUMBER_A: &str = "+15550001111";
const NUMBER_B: &str = "+15550002222";

fn wire(engine: &mut Engine, line: &str) -> Value {
    let lines = engine.handle_json(line);
    serde_json::from_str(&lines[0]).unwrap()
}

fn register(engine: &mut Engine, business: &str, number: &str, channel: &str) {
    let out = wire(
        engine,
        &format!(
            r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"{business}","number":"{number}","channel":"{channel}"}}"#
        ),
    );
    assert_eq!(out["type"], "ack", "{out}");
}

fn inbound(engine: &mut Engine, number: &str, contact: &str) {
    inbound_from(engine, number, "contact", contact);
}

/// A text at 09:00 from `id` as `field` (`contact` or `group`).
fn inbound_from(engine: &mut Engine, number: &str, field: &str, id: &str) {
    let out = wire(
        engine,
        &format!(
            r#"{{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"{number}","{field}":"{id}","kind":"text"}}"#
        ),
    );
    assert_eq!(out["type"], "ack", "{out}");
}

fn text(text: &str) -> OutboundMessage {
    OutboundMessage::text(text)
}

fn to(message: &OutboundMessage) -> SendToRef<'_> {
    SendToRef::new(
        Instant::parse_rfc3339("2026-11-02T09:05:00Z").unwrap(),
        message,
    )
}

/// An unofficial number of acme (A) in which `group` wrote: a group chat.
fn with_group_chat(group: &str) -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    register(&mut engine, "acme", NUMBER_A, "unofficial");
    inbound_from(&mut engine, NUMBER_A, "group", group);
    engine
}

/// Two businesses: acme's number A talks with one contact, globex's number B with two.
fn two_businesses() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    register(&mut engine, "acme", NUMBER_A, "official");
    register(&mut engine, "globex", NUMBER_B, "official");
    inbound(&mut engine, NUMBER_A, "+79110000001");
    inbound(&mut engine, NUMBER_B, "+79110000002");
    inbound(&mut engine, NUMBER_B, "+79110000003");
    while engine.poll_effect().is_some() {}
    engine
}

#[test]
fn an_id_names_the_conversation_by_any_spelling_and_none_before_it_exists() {
    let mut engine = two_businesses();
    let id = engine
        .conversation_id(NUMBER_B, Some("+79110000002"), None)
        .unwrap()
        .expect("the contact wrote");
    // Another spelling of the same number and contact is the same conversation.
    assert_eq!(
        engine
            .conversation_id("+1 (555) 000-2222", Some("007 911 000 0002"), None)
            .unwrap(),
        Some(id)
    );
    assert_eq!(ConversationId::from_u64(id.to_u64()), id);
    // A host's record holding it serialises it as that integer, and reads it back.
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, id.to_u64().to_string());
    assert_eq!(serde_json::from_str::<ConversationId>(&json).unwrap(), id);
    // No conversation yet: no id (a first send goes by name), and nothing was created.
    let before = engine.snapshot();
    assert_eq!(
        engine
            .conversation_id(NUMBER_B, Some("+79110000009"), None)
            .unwrap(),
        None
    );
    assert!(engine.snapshot() == before);
    // Names the engine refuses are the same errors as by name.
    assert!(matches!(
        engine.conversation_id("+15559999999", Some("+79110000002"), None),
        Err(Error::UnknownNumber { .. })
    ));
    assert!(matches!(
        engine.conversation_id(NUMBER_B, Some("+7 911"), None),
        Err(Error::InvalidPhoneNumber { .. })
    ));
    // The id's send is that conversation's: a reply inside its window.
    let message = text("On its way");
    let decision = engine.send_to(id, to(&message)).unwrap();
    assert!(decision.is_allowed(), "{decision:?}");
    // Recorded there: the same text by name is now its duplicate (§10); to the other
    // contact of the number it is not.
    let again = |engine: &mut Engine, contact: &str| {
        wire(
            engine,
            &format!(
                r#"{{"type":"check_send","at":"2026-11-02T09:06:00Z","number":"{NUMBER_B}","contact":"{contact}","message":{{"kind":"text","text":"On its way"}}}}"#
            ),
        )
    };
    assert_eq!(
        again(&mut engine, "+79110000002")["denial"]["reason"],
        "duplicate"
    );
    assert_eq!(again(&mut engine, "+79110000003")["verdict"], "allowed");
}

#[test]
fn an_id_from_before_a_rebuild_or_from_another_engine_is_refused_and_changes_nothing() {
    let mut engine = two_businesses();
    let second = engine
        .conversation_id(NUMBER_B, Some("+79110000002"), None)
        .unwrap()
        .unwrap();
    let third = engine
        .conversation_id(NUMBER_B, Some("+79110000003"), None)
        .unwrap()
        .unwrap();
    // Removing acme rebuilds the engine: globex's conversations move up one place, so the
    // second's old place now holds the third.
    engine.remove_business("acme").unwrap();
    let message = text("Hello");
    let before = engine.snapshot();
    // A prefetch hint for a stale id, or for no place at all, is harmless.
    for id in [second, third, ConversationId::from_u64(u64::MAX)] {
        engine.prefetch(id);
    }
    for stale in [second, third] {
        assert_eq!(
            engine.send_to(stale, to(&message)),
            Err(Error::UnknownConversation { id: stale.to_u64() })
        );
        assert_eq!(
            engine.check_send_to(stale, to(&message)),
            Err(Error::UnknownConversation { id: stale.to_u64() })
        );
    }
    assert!(
        engine.snapshot() == before,
        "a refused id changed the state"
    );
    assert!(engine.poll_effect().is_none());
    // Resolved again, the ids work.
    let second = engine
        .conversation_id(NUMBER_B, Some("+79110000002"), None)
        .unwrap()
        .unwrap();
    assert!(engine.send_to(second, to(&message)).unwrap().is_allowed());

    // An engine that never held the conversation refuses its id, whatever it holds there.
    let mut other = Engine::with_preset("cloud-2025").unwrap();
    register(&mut other, "initech", NUMBER_A, "official");
    inbound(&mut other, NUMBER_A, "+79110000001");
    inbound(&mut other, NUMBER_A, "+79110000005");
    let error = other.send_to(second, to(&message)).unwrap_err();
    assert_eq!(error.code(), "unknown_conversation");
    assert!(
        error.to_string().contains(&second.to_u64().to_string()),
        "{error}"
    );
    assert_eq!(
        other.check_send_to(ConversationId::from_u64(u64::MAX), to(&message)),
        Err(Error::UnknownConversation { id: u64::MAX })
    );
}

#[test]
fn a_contact_and_a_group_of_one_text_are_two_conversations() {
    // A group id that reads as a phone number: by name, a send to the contact of that text
    // is not a send to the group, and neither is its id.
    let digits = "15557654321";
    let engine = with_group_chat(digits);
    assert_eq!(
        engine
            .conversation_id(NUMBER_A, Some(digits), None)
            .unwrap(),
        None
    );
    assert!(engine
        .conversation_id(NUMBER_A, None, Some(digits))
        .unwrap()
        .is_some());
    // As in a send: exactly one of the two.
    for (contact, group) in [(None, None), (Some(digits), Some(digits))] {
        assert!(
            matches!(
                engine.conversation_id(NUMBER_A, contact, group),
                Err(Error::InvalidEvent { .. })
            ),
            "{contact:?} {group:?}"
        );
    }
}

#[test]
fn a_group_conversation_by_id_is_refused_where_its_number_no_longer_takes_groups() {
    // A group chat on an unofficial number, then the number moved to the official channel
    // (RULES.md §1: never groups there): by id as by name, `group_not_allowed`.
    let group = "120363043211234567@g.us";
    let mut engine = with_group_chat(group);
    let id = engine
        .conversation_id(NUMBER_A, None, Some(group))
        .unwrap()
        .unwrap();
    let message = text("Hello group");
    assert!(engine.check_send_to(id, to(&message)).unwrap().is_allowed());
    let out = wire(
        &mut engine,
        &format!(
            r#"{{"type":"end_chat","at":"2026-11-02T09:01:00Z","number":"{NUMBER_A}","contact":"{group}","by":"agent"}}"#
        ),
    );
    assert_eq!(out["type"], "ack", "{out}");
    register(&mut engine, "acme", NUMBER_A, "official");
    let by_name = wire(
        &mut engine,
        &format!(
            r#"{{"type":"check_send","at":"2026-11-02T09:05:00Z","number":"{NUMBER_A}","group":"{group}","message":{{"kind":"text","text":"Hello group"}}}}"#
        ),
    );
    assert_eq!(
        by_name["denial"]["reason"], "group_not_allowed",
        "{by_name}"
    );
    let by_id = engine.check_send_to(id, to(&message)).unwrap();
    assert!(
        matches!(
            by_id.deny_reason(),
            Some(DenyReason::GroupNotAllowed { .. })
        ),
        "{by_id:?}"
    );
}

/// An inbound at 09:00 from the phone number `phone` with the user id `user_id` beside it,
/// and the effects it emitted.
fn inbound_with_user_id(engine: &mut Engine, phone: &str, user_id: &str) -> Vec<Value> {
    let lines = engine.handle_json(&format!(
        r#"{{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"{NUMBER_A}","contact":"{phone}","user_id":"{user_id}","kind":"text"}}"#
    ));
    let out: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(out[0]["type"], "ack", "{}", out[0]);
    out[1..].to_vec()
}

/// An id found by a user id names the phone number's conversation it reached then; when the
/// provider pairs the user id with another phone number, `contact_linked` names the previous
/// one, and the id found again names the new number's conversation.
#[test]
fn a_user_id_moved_to_another_phone_number_is_announced_and_its_id_found_again() {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    register(&mut engine, "acme", NUMBER_A, "official");
    let user_id = "US.13491208655302741918";
    let first = inbound_with_user_id(&mut engine, "+79110000001", user_id);
    assert_eq!(first[0]["effect"], "contact_linked", "{first:?}");
    assert_eq!(first[0]["phone"], "+79110000001");
    assert_eq!(first[0]["user_id"], user_id);
    assert!(first[0].get("previous_phone").is_none(), "a first link");
    let again = inbound_with_user_id(&mut engine, "+79110000001", user_id);
    assert!(
        again.iter().all(|e| e["effect"] != "contact_linked"),
        "a known pair is announced once: {again:?}"
    );
    let old = engine
        .conversation_id(NUMBER_A, Some(user_id), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(old),
        engine
            .conversation_id(NUMBER_A, Some("+79110000001"), None)
            .unwrap()
    );

    let moved = inbound_with_user_id(&mut engine, "+79110000002", user_id);
    assert_eq!(moved[0]["effect"], "contact_linked", "{moved:?}");
    assert_eq!(moved[0]["phone"], "+79110000002");
    assert_eq!(moved[0]["previous_phone"], "+79110000001");
    let new = engine
        .conversation_id(NUMBER_A, Some(user_id), None)
        .unwrap()
        .unwrap();
    assert_ne!(
        new, old,
        "the user id reaches the new number's conversation"
    );
    assert_eq!(
        Some(new),
        engine
            .conversation_id(NUMBER_A, Some("+79110000002"), None)
            .unwrap()
    );
    // The old id still names the old number's conversation, whose window the user's
    // first messages opened: it is no error, only no longer the user id's.
    let old_window = engine.check_send_to(old, to(&text("Hi"))).unwrap();
    assert!(old_window.is_allowed(), "{old_window:?}");
}
