//! What the typed calls tell beyond "applied": `Engine::inbound` whether the provider
//! delivered a message again (`InboundOutcome`), `Engine::message_status` whether a status
//! matched a recorded send (`StatusOutcome`). They say what `Engine::handle`'s ack says as
//! `redelivered` and `unmatched`, over random traffic, and what a model of the rules says
//! (RULES.md §10: a message id is the same message from the same sender at the same number).

use std::collections::HashMap;

use convstate::event::{DeliveryStatus, Inbound, InboundKind, MessageStatusUpdate, SendRequest};
use convstate::sharded::ShardedEngine;
use convstate::{
    Engine, Event, InboundOutcome, Instant, OutboundMessage, Output, StatusOutcome, Verdict,
};
use proptest::prelude::*;

const NUMBERS: [&str; 2] = ["+15550001111", "+15550002222"];
const CONTACTS: [&str; 3] = ["+79110000001", "+79110000002", "+79110000003"];
const T0_MS: i64 = 1_793_610_000_000; // 2026-11-02T08:00:00Z

fn at(ms: i64) -> Instant {
    Instant::from_unix_millis(T0_MS + ms).unwrap()
}

fn engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    for number in NUMBERS {
        let line = format!(
            r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"{number}","channel":"official"}}"#
        );
        assert!(engine.handle_json(&line)[0].starts_with(r#"{"type":"ack""#));
    }
    engine
}

fn inbound(at_ms: i64, number: &str, contact: &str, message_id: Option<&str>) -> Inbound {
    let mut e = Inbound::new(at(at_ms), number, contact, InboundKind::Text);
    e.message_id = message_id.map(str::to_owned);
    e
}

fn send(at_ms: i64, number: &str, contact: &str, message_id: &str) -> SendRequest {
    let mut r = SendRequest::new(at(at_ms), number, contact, OutboundMessage::text("Hello"));
    r.message_id = Some(message_id.to_owned());
    r
}

fn status(
    at_ms: i64,
    number: &str,
    contact: &str,
    id: &str,
    s: DeliveryStatus,
) -> MessageStatusUpdate {
    MessageStatusUpdate {
        at: at(at_ms),
        number: number.to_owned(),
        contact: contact.to_owned(),
        user_id: None,
        message_id: id.to_owned(),
        status: s,
        pricing: None,
        errors: Vec::new(),
    }
}

#[test]
fn an_inbound_delivered_again_is_redelivered_and_changes_nothing() {
    let mut engine = engine();
    let first = inbound(60_000, NUMBERS[0], CONTACTS[0], Some("wamid.1"));
    assert_eq!(engine.inbound(&first), Ok(InboundOutcome::Taken));
    while engine.poll_effect().is_some() {}
    let before = engine.snapshot();
    assert_eq!(engine.inbound(&first), Ok(InboundOutcome::Redelivered));
    assert_eq!(engine.poll_effect(), None);
    assert_eq!(engine.snapshot(), before, "a redelivery changes nothing");
    // The same id is another message from another sender, or at another number; without an
    // id nothing can be told apart.
    let other_sender = inbound(120_000, NUMBERS[0], CONTACTS[1], Some("wamid.1"));
    let other_number = inbound(120_000, NUMBERS[1], CONTACTS[0], Some("wamid.1"));
    let no_id = inbound(120_000, NUMBERS[0], CONTACTS[0], None);
    for e in [&other_sender, &other_number, &no_id, &no_id] {
        assert_eq!(engine.inbound(e), Ok(InboundOutcome::Taken), "{e:?}");
    }
    // The sharded engine says the same, with no effects for the redelivery.
    let sharded = ShardedEngine::with_preset("cloud-2025", 2).unwrap();
    let mut effects = Vec::new();
    let register = r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#;
    assert!(sharded.handle_json(register)[0].starts_with(r#"{"type":"ack""#));
    assert_eq!(
        sharded.inbound(&first, &mut effects),
        Ok(InboundOutcome::Taken)
    );
    assert!(!effects.is_empty(), "the first delivery starts a chat");
    effects.clear(); // the sharded calls add to the buffer
    assert_eq!(
        sharded.inbound(&first, &mut effects),
        Ok(InboundOutcome::Redelivered)
    );
    assert_eq!(effects, []);
}

#[test]
fn a_status_matches_only_a_send_its_number_recorded_under_its_id() {
    let mut engine = engine();
    engine
        .inbound(&inbound(0, NUMBERS[0], CONTACTS[0], None))
        .unwrap();
    let sent = engine
        .send(&send(60_000, NUMBERS[0], CONTACTS[0], "wamid.out"))
        .unwrap();
    assert_eq!(sent.verdict, Verdict::Allowed);
    let delivered = DeliveryStatus::Delivered;
    let of = |number, id| status(70_000, number, CONTACTS[0], id, delivered);
    assert_eq!(
        engine.message_status(&of(NUMBERS[0], "wamid.out")),
        Ok(StatusOutcome::Matched)
    );
    // Ids are unique per number (§10): the other number recorded no send under it.
    assert_eq!(
        engine.message_status(&of(NUMBERS[1], "wamid.out")),
        Ok(StatusOutcome::Unmatched)
    );
    assert_eq!(
        engine.message_status(&of(NUMBERS[0], "wamid.never")),
        Ok(StatusOutcome::Unmatched)
    );
}

#[derive(Clone, Debug)]
enum Op {
    /// An inbound from `contact` at `number`, with the id `wamid.in.{id}` if any.
    Inbound {
        number: usize,
        contact: usize,
        id: Option<u8>,
    },
    /// A text send with the id `wamid.out.{i}`, `i` its place among the ops.
    Send { number: usize, contact: usize },
    /// A status of the id `wamid.out.{op}`: of the send at that place (by its number and
    /// contact), or, before it or when that op is no send, by a number and contact of its own.
    Status { op: usize, status: DeliveryStatus },
}

#[test]
fn outcomes_display_as_the_ack_flags_name_them() {
    // Bindings (Python's enums) take their values from these names.
    let names = [
        InboundOutcome::Taken.to_string(),
        InboundOutcome::Redelivered.to_string(),
        StatusOutcome::Matched.to_string(),
        StatusOutcome::Unmatched.to_string(),
    ];
    assert_eq!(names, ["taken", "redelivered", "matched", "unmatched"]);
}

fn op() -> impl Strategy<Value = Op> {
    let delivery = prop_oneof![
        Just(DeliveryStatus::Sent),
        Just(DeliveryStatus::Delivered),
        Just(DeliveryStatus::Read),
        Just(DeliveryStatus::Failed),
    ];
    prop_oneof![
        3 => (0..2usize, 0..3usize, proptest::option::of(0..4u8))
            .prop_map(|(number, contact, id)| Op::Inbound { number, contact, id }),
        2 => (0..2usize, 0..3usize).prop_map(|(number, contact)| Op::Send { number, contact }),
        2 => (0..60usize, delivery).prop_map(|(op, status)| Op::Status { op, status }),
    ]
}

/// Minutes to the next op: mostly within the hour, sometimes days, so that message ids
/// outlive `provider.status_memory` (7 days).
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![9 => 1..120i64, 1 => 1_440..5_760i64]
}

/// How an op went: an inbound's outcome, a send's verdict, a status's outcome.
#[derive(Debug, PartialEq)]
enum Told {
    Inbound(InboundOutcome),
    Send(Verdict),
    Status(StatusOutcome),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn typed_outcomes_are_the_acks_flags_and_the_rules(
        ops in proptest::collection::vec((op(), gap()), 1..60),
    ) {
        let (mut typed, mut handled) = (engine(), engine());
        let memory = typed.policy().provider.status_memory.millis();
        // The model: when each message (number, sender, id) was taken and each send
        // (number, id) recorded, remembered for `memory` from then.
        let mut taken = HashMap::new();
        let mut recorded = HashMap::new();
        let mut sends = HashMap::new();
        let remembered = |since: Option<&i64>, now: i64| since.is_some_and(|t| t + memory > now);
        let mut now = 0i64;
        for (i, (op, minutes)) in ops.iter().enumerate() {
            now += minutes * 60_000;
            let (told, acked) = match op {
                Op::Inbound { number, contact, id } => {
                    let id = id.map(|id| format!("wamid.in.{id}"));
                    let e = inbound(now, NUMBERS[*number], CONTACTS[*contact], id.as_deref());
                    let outcome = typed.inbound(&e).unwrap();
                    let key = id.map(|id| (*number, *contact, id));
                    let expected = match &key {
                        Some(key) if remembered(taken.get(key), now) => InboundOutcome::Redelivered,
                        Some(key) => {
                            taken.insert(key.clone(), now);
                            InboundOutcome::Taken
                        }
                        None => InboundOutcome::Taken,
                    };
                    prop_assert_eq!(outcome, expected, "op {}", i);
                    (Told::Inbound(outcome), handled.handle(Event::Inbound(e)).unwrap())
                }
                Op::Send { number, contact } => {
                    let id = format!("wamid.out.{i}");
                    let r = send(now, NUMBERS[*number], CONTACTS[*contact], &id);
                    let decision = typed.send(&r).unwrap();
                    if decision.verdict == Verdict::Allowed {
                        recorded.insert((*number, id), now);
                    }
                    sends.insert(i, (*number, *contact));
                    (Told::Send(decision.verdict), handled.handle(Event::Send(r)).unwrap())
                }
                Op::Status { op, status: s } => {
                    let (number, contact) = sends.get(op).copied().unwrap_or((op % 2, op % 3));
                    let id = format!("wamid.out.{op}");
                    let e = status(now, NUMBERS[number], CONTACTS[contact], &id, *s);
                    let outcome = typed.message_status(&e).unwrap();
                    let expected = if remembered(recorded.get(&(number, id)), now) {
                        StatusOutcome::Matched
                    } else {
                        StatusOutcome::Unmatched
                    };
                    prop_assert_eq!(outcome, expected, "op {}", i);
                    (Told::Status(outcome), handled.handle(Event::MessageStatus(e)).unwrap())
                }
            };
            // The ack says the same.
            let from_ack = match (&told, acked) {
                (Told::Inbound(_), Output::Ack { redelivered, .. }) => Told::Inbound(if redelivered {
                    InboundOutcome::Redelivered
                } else {
                    InboundOutcome::Taken
                }),
                (Told::Status(_), Output::Ack { unmatched, .. }) => Told::Status(if unmatched {
                    StatusOutcome::Unmatched
                } else {
                    StatusOutcome::Matched
                }),
                (Told::Send(_), Output::Decision(d)) => Told::Send(d.verdict),
                (_, other) => panic!("op {i}: {other:?}"),
            };
            prop_assert_eq!(&told, &from_ack, "op {}", i);
            // And both doors leave the same engine.
            prop_assert_eq!(typed.snapshot(), handled.snapshot(), "op {}", i);
        }
    }
}
