//! Moving a business: `export_business` here, `import_business` there, `remove_business`
//! here. The business lives on as it was, on one engine only; everything else stays and
//! decides exactly as before.

mod common;

use common::without_ticket_ids;
use convstate::sharded::ShardedEngine;
use convstate::{Engine, Error, Policy};

const BUSINESSES: u32 = 5;

fn at(minute: u32) -> String {
    format!("2026-11-02T{:02}:{:02}:00Z", 8 + minute / 60, minute % 60)
}

fn number(b: u32) -> String {
    format!("+1555800{b:04}")
}

/// A second number of the even businesses, registered before their first, so that number
/// indices and business indices differ.
fn second_number(b: u32) -> Option<String> {
    b.is_multiple_of(2).then(|| format!("+1555801{b:04}"))
}

fn contact(b: u32, i: u32) -> String {
    format!("+4915{:09}", b * 100 + i)
}

/// A contact known by an opaque id (interned text, not a packed phone number).
fn opaque_contact(b: u32) -> String {
    format!("user{b}@example.com")
}

/// Registration, then traffic of five businesses interleaved minute by minute: consents,
/// inbound texts (live chats all idling out at the same instants, so that timers of
/// different businesses tie), replies with provider message ids, templates under the
/// messaging limit, and a held `initiate` per business. Businesses have one to three
/// templates and one or two numbers, so that no two kinds of index coincide.
fn traffic() -> Vec<String> {
    let mut lines = Vec::new();
    for b in 0..BUSINESSES {
        for k in 0..b % 3 {
            lines.push(format!(
                r#"{{"type":"register_template","at":"{}","business":"biz{b}","name":"notice_{k}","language":"en","category":"utility","body":"Notice {{{{1}}}}.","status":"approved","quality":"high"}}"#,
                at(0)
            ));
        }
        lines.push(format!(
            r#"{{"type":"register_template","at":"{}","business":"biz{b}","name":"order_ready","language":"en","category":"utility","body":"Your order {{{{1}}}} is ready.","status":"approved","quality":"high"}}"#,
            at(0)
        ));
        for n in second_number(b).into_iter().chain([number(b)]) {
            lines.push(format!(
                r#"{{"type":"register_number","at":"{}","business":"biz{b}","number":"{n}","channel":"official","default_template":{{"name":"order_ready","language":"en"}}}}"#,
                at(0),
            ));
        }
        lines.push(format!(
            r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{}","kind":"text","message_id":"in.{b}.opaque"}}"#,
            at(0),
            second_number(b).unwrap_or_else(|| number(b)),
            opaque_contact(b)
        ));
    }
    for i in 0..6 {
        for b in 0..BUSINESSES {
            let (n, c) = (number(b), contact(b, i));
            lines.extend([
                format!(
                    r#"{{"type":"opt_in","at":"{}","business":"biz{b}","contact":"{c}"}}"#,
                    at(1 + i)
                ),
                format!(
                    r#"{{"type":"opt_in","at":"{}","business":"biz{b}","contact":"{}"}}"#,
                    at(1 + i),
                    contact(b, 50 + i)
                ),
                format!(
                    r#"{{"type":"inbound","at":"{}","number":"{n}","contact":"{c}","kind":"text","message_id":"in.{b}.{i}"}}"#,
                    at(1 + i)
                ),
                format!(
                    r#"{{"type":"send","at":"{}","number":"{n}","contact":"{c}","message":{{"kind":"text","text":"On it"}},"message_id":"wamid.{b}.{i}","idempotency_key":"key.{b}.{i}"}}"#,
                    at(1 + i)
                ),
                format!(
                    r#"{{"type":"send","at":"{}","number":"{n}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["A-{i}"]}},"message_id":"wamid.t.{b}.{i}"}}"#,
                    at(1 + i),
                    contact(b, 50 + i)
                ),
            ]);
        }
    }
    for b in 0..BUSINESSES {
        lines.push(format!(
            r#"{{"type":"opt_in","at":"{}","business":"biz{b}","contact":"{}"}}"#,
            at(8),
            contact(b, 99)
        ));
        lines.push(format!(
            r#"{{"type":"initiate","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"Your parcel"}},"template":{{"name":"order_ready","language":"en","params":["P"]}}}}"#,
            at(8),
            number(b),
            contact(b, 99)
        ));
        // A contact named by phone number and user id: the link travels with the business.
        lines.push(format!(
            r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{}","user_id":"{}","kind":"text"}}"#,
            at(9),
            number(b),
            contact(b, 0),
            user_id(b)
        ));
    }
    lines
}

/// The business-scoped user id of each business's contact 0.
fn user_id(b: u32) -> String {
    format!("US.{b}000000000000000001")
}

/// Inputs after the removal, for every business: statuses of earlier messages, a retried
/// send and a redelivered inbound (answered from the idempotency keys and inbound ids),
/// replies, templates, queries, a held message released, a template flagged, and ticks
/// that end every live chat and reach the flags' deadlines.
fn later() -> Vec<String> {
    let mut lines = Vec::new();
    for b in 0..BUSINESSES {
        let (n, c) = (number(b), contact(b, 1));
        lines.extend([
            format!(
                r#"{{"type":"message_status","at":"{}","number":"{n}","contact":"{c}","message_id":"wamid.{b}.1","status":"delivered","pricing":{{"type":"regular","category":"service"}}}}"#,
                at(10)
            ),
            format!(
                r#"{{"type":"send","at":"{}","number":"{n}","contact":"{c}","message":{{"kind":"text","text":"On it"}},"idempotency_key":"key.{b}.1"}}"#,
                at(10)
            ),
            format!(
                r#"{{"type":"inbound","at":"{}","number":"{n}","contact":"{c}","kind":"text","message_id":"in.{b}.1"}}"#,
                at(10)
            ),
            format!(
                r#"{{"type":"send","at":"{}","number":"{n}","contact":"{c}","message":{{"kind":"text","text":"On it"}}}}"#,
                at(11)
            ),
            // A template the provider paused: found through the sent message's template.
            format!(
                r#"{{"type":"message_status","at":"{}","number":"{n}","contact":"{}","message_id":"wamid.t.{b}.1","status":"failed","errors":[132015]}}"#,
                at(11),
                contact(b, 51)
            ),
            format!(
                r#"{{"type":"send","at":"{}","number":"{n}","contact":"{}","message":{{"kind":"template","name":"order_ready","language":"en","params":["B"]}}}}"#,
                at(12),
                contact(b, 70)
            ),
            format!(
                r#"{{"type":"query_conversation","at":"{}","number":"{n}","contact":"{c}"}}"#,
                at(13)
            ),
            format!(r#"{{"type":"query_limit","at":"{}","number":"{n}"}}"#, at(13)),
            // By the user id alone: the phone number's conversation, window and ticket.
            format!(
                r#"{{"type":"query_conversation","at":"{}","number":"{n}","contact":"{}"}}"#,
                at(13),
                user_id(b)
            ),
            format!(
                r#"{{"type":"inbound","at":"{}","number":"{n}","contact":"{}","kind":"text"}}"#,
                at(13),
                user_id(b)
            ),
            format!(r#"{{"type":"query_usage","at":"{}","business":"biz{b}"}}"#, at(13)),
            // The held message goes out when its contact answers.
            format!(
                r#"{{"type":"inbound","at":"{}","number":"{n}","contact":"{}","kind":"text"}}"#,
                at(14),
                contact(b, 99)
            ),
            // A flagged template: a deadline timer per business, all due together.
            format!(
                r#"{{"type":"template_quality","at":"{}","business":"biz{b}","name":"order_ready","language":"en","quality":"low"}}"#,
                at(15)
            ),
        ]);
    }
    lines.push(format!(r#"{{"type":"tick","at":"{}"}}"#, at(200)));
    lines.push(r#"{"type":"tick","at":"2026-11-05T00:00:00Z"}"#.to_owned());
    lines.push(r#"{"type":"tick","at":"2026-12-01T00:00:00Z"}"#.to_owned());
    lines
}

fn engine() -> Engine {
    engine_under("cloud-2025")
}

fn engine_under(preset: &str) -> Engine {
    let mut engine = Engine::with_preset(preset).unwrap();
    for line in traffic() {
        let out = engine.handle_json(&line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
        if line.contains("initiate") {
            assert!(out[0].contains(r#""held":1"#), "{line}: {out:?}");
        }
        if line.contains("wamid.") {
            assert!(out[0].contains(r#""verdict":"allowed""#), "{line}: {out:?}");
        }
    }
    engine
}

/// Whether an output line is about business `b` (its number or its name).
fn concerns(line: &str, b: u32) -> bool {
    let quoted = |text: String| line.contains(&format!("\"{text}\""));
    quoted(number(b)) || second_number(b).is_some_and(quoted) || quoted(format!("biz{b}"))
}

#[test]
fn the_other_businesses_decide_exactly_as_before() {
    // cloud-2025 shares a messaging limit per business, classic has one per number.
    for (preset, removed_business) in ["cloud-2025", "classic"]
        .iter()
        .flat_map(|p| (0..BUSINESSES).map(move |b| (*p, b)))
    {
        let original = engine_under(preset);
        let mut kept = original.clone();
        let mut original = original.clone();
        kept.remove_business(&format!("biz{removed_business}"))
            .unwrap();
        // Effects queued before the removal stay (they happened); both drain the same.
        let drained = |e: &mut Engine| std::iter::from_fn(|| e.poll_effect()).count();
        assert_eq!(drained(&mut kept), drained(&mut original));
        assert_eq!(kept.businesses().count(), BUSINESSES as usize - 1);
        assert_eq!(
            Engine::restore(&kept.snapshot()).unwrap().snapshot(),
            kept.snapshot(),
            "the rebuilt engine snapshots and restores byte for byte"
        );

        let mut effects_elsewhere = Vec::new();
        for line in later() {
            let before: Vec<String> = original
                .handle_json(&line)
                .iter()
                .map(|l| without_ticket_ids(l))
                .collect();
            let after: Vec<String> = kept
                .handle_json(&line)
                .iter()
                .map(|l| without_ticket_ids(l))
                .collect();
            // The original's lines less the removed business's effects (an input fires the
            // due timers of every business; ties between businesses keep their order).
            let expected: Vec<String> = before[1..]
                .iter()
                .filter(|l| !concerns(l, removed_business))
                .cloned()
                .collect();
            let after = if concerns(&line, removed_business) {
                let code = if line.contains(r#""business":"#) {
                    "unknown_business"
                } else {
                    "unknown_number"
                };
                assert!(after[0].contains(code), "{line}: {after:?}");
                if line.contains(r#""type":"query_"#) {
                    continue; // queries fire no timers, here or there
                }
                // A refused input fires nothing: a tick at its instant fires what it did
                // for the others.
                let at = serde_json::from_str::<serde_json::Value>(&line).unwrap()["at"].clone();
                let tick = format!(r#"{{"type":"tick","at":{at}}}"#);
                let fired = kept.handle_json(&tick);
                fired[1..].iter().map(|l| without_ticket_ids(l)).collect()
            } else {
                assert_eq!(after[0], before[0], "biz{removed_business} removed: {line}");
                after[1..].to_vec()
            };
            assert_eq!(
                after, expected,
                "biz{removed_business} removed, the effects of {line}"
            );
            effects_elsewhere.extend(after);
        }
        for kind in [
            "chat_ended",
            "outbox_released",
            "template_status_changed",
            "message_failed",
        ] {
            assert!(
                effects_elsewhere
                    .iter()
                    .any(|l| l.contains(&format!(r#""effect":"{kind}""#))),
                "the later inputs give {kind} effects elsewhere"
            );
        }
    }
}

#[test]
fn a_moved_business_decides_exactly_as_it_would_have() {
    for b in 0..BUSINESSES {
        let mut original = engine();
        while original.poll_effect().is_some() {}
        // The target holds another business first, so that every index of the moved one
        // shifts.
        let mut target = Engine::with_preset("cloud-2025").unwrap();
        let other = (b + 1) % BUSINESSES;
        target
            .import_business(&original.export_business(&format!("biz{other}")).unwrap())
            .unwrap();
        target
            .import_business(&original.export_business(&format!("biz{b}")).unwrap())
            .unwrap();
        for line in later() {
            if !concerns(&line, b) && !line.contains(r#""type":"tick""#) {
                continue;
            }
            let about_b = |e: &mut Engine| -> Vec<String> {
                let out = e.handle_json(&line);
                let (result, effects) = out.split_first().unwrap();
                std::iter::once(result)
                    .chain(effects.iter().filter(|l| concerns(l, b)))
                    .map(|l| without_ticket_ids(l))
                    .collect()
            };
            assert_eq!(
                about_b(&mut target),
                about_b(&mut original),
                "biz{b}: {line}"
            );
        }
    }
}

#[test]
fn a_move_leaves_the_business_on_one_node_only() {
    let mut source = engine();
    while source.poll_effect().is_some() {}
    let bytes = source.export_business("biz2").unwrap();
    let mut target = Engine::with_preset("cloud-2025").unwrap();
    target.import_business(&bytes).unwrap();
    source.remove_business("biz2").unwrap();

    // The live chats of biz2 end once, on the target; the source fires only its own.
    let tick = format!(r#"{{"type":"tick","at":"{}"}}"#, at(200));
    let on_source = source.handle_json(&tick);
    let on_target = target.handle_json(&tick);
    assert!(on_source.iter().all(|l| !concerns(l, 2)), "{on_source:?}");
    assert!(on_target.iter().skip(1).all(|l| concerns(l, 2)));
    assert!(
        on_target.iter().any(|l| l.contains("chat_ended")),
        "{on_target:?}"
    );

    // The name and the number are free on the source: the business can come back.
    let back = target.export_business("biz2").unwrap();
    source.import_business(&back).unwrap();
    assert_eq!(source.businesses().count(), BUSINESSES as usize);
}

/// A delivery status for a message sent before the move: the target answers it as the
/// source would have (the estimate taken back, `message_failed`, the usage corrected), since
/// the sent messages travel with the business.
#[test]
fn statuses_of_messages_sent_before_a_move_are_matched_after_it() {
    let mut source = engine();
    while source.poll_effect().is_some() {}
    let mut stayed = source.clone();
    let mut target = Engine::with_preset("cloud-2025").unwrap();
    target
        .import_business(&source.export_business("biz2").unwrap())
        .unwrap();
    source.remove_business("biz2").unwrap();
    let (n, c) = (number(2), contact(2, 3));
    for line in [
        format!(
            r#"{{"type":"message_status","at":"{}","number":"{n}","contact":"{c}","message_id":"wamid.2.3","status":"failed","errors":[131047]}}"#,
            at(9)
        ),
        format!(
            r#"{{"type":"query_usage","at":"{}","business":"biz2"}}"#,
            at(9)
        ),
    ] {
        let expected = stayed.handle_json(&line);
        assert_eq!(target.handle_json(&line), expected, "{line}");
        if line.contains("message_status") {
            assert!(
                expected
                    .iter()
                    .any(|l| l.contains(r#""effect":"message_failed""#)),
                "the status matched its message: {expected:?}"
            );
        }
    }
}

/// A send retried after a move gets its first decision back and an inbound webhook
/// redelivered to the new node is recognised, as on the source: the idempotency keys and
/// inbound ids of the business's numbers travel (since export version 3), renumbered on
/// both sides. Without them (a version 2 export) the retry is decided afresh (as a
/// duplicate) and the redelivery applied again.
#[test]
fn retried_sends_and_redelivered_inbounds_are_recognised_after_a_move() {
    let mut source = engine();
    while source.poll_effect().is_some() {}
    let mut stayed = source.clone();
    // biz1 leaves first, so that the source's number indices shift before the export, and
    // the target already holds biz0 (two numbers), so that the import's indices shift too.
    let biz0 = source.export_business("biz0").unwrap();
    source.remove_business("biz1").unwrap();
    let mut target = Engine::with_preset("cloud-2025").unwrap();
    target.import_business(&biz0).unwrap();
    let mut without = target.clone();
    let bytes = source.export_business("biz2").unwrap();
    target.import_business(&bytes).unwrap();
    source.remove_business("biz2").unwrap();
    let mut v2 = export_object(&bytes);
    assert!(!v2["idempotency"].as_array().unwrap().is_empty());
    assert!(!v2["inbound_ids"].as_array().unwrap().is_empty());
    let fields = v2.as_object_mut().unwrap();
    fields.remove("idempotency");
    fields.remove("idempotency_requests");
    fields.remove("inbound_ids");
    fields.remove("inbound_id_senders");
    v2["version"] = 2.into();
    without
        .import_business(&serde_json::to_vec(&v2).unwrap())
        .unwrap();

    let lines = [
        format!(
            r#"{{"type":"send","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"On it"}},"idempotency_key":"key.2.3"}}"#,
            at(20),
            number(2),
            contact(2, 3)
        ),
        format!(
            r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{}","kind":"text","message_id":"in.2.3"}}"#,
            at(20),
            number(2),
            contact(2, 3)
        ),
        // Received at the business's second number.
        format!(
            r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{}","kind":"text","message_id":"in.2.opaque"}}"#,
            at(20),
            second_number(2).unwrap(),
            opaque_contact(2)
        ),
    ];
    let expected: Vec<Vec<String>> = lines.iter().map(|l| stayed.handle_json(l)).collect();
    for (line, expected) in lines.iter().zip(&expected) {
        assert_eq!(expected.len(), 1, "recognised, nothing fired: {expected:?}");
        assert_eq!(&target.handle_json(line), expected, "{line}");
        assert_ne!(&without.handle_json(line), expected, "{line}");
    }
    // And on again, once the business that came first on the target has left it.
    target.remove_business("biz0").unwrap();
    let mut third = Engine::with_preset("cloud-2025").unwrap();
    third
        .import_business(&target.export_business("biz2").unwrap())
        .unwrap();
    for (line, expected) in lines.iter().zip(&expected) {
        assert_eq!(&third.handle_json(line), expected, "{line}");
    }
}

/// The JSON object inside an export's checksummed envelope (version 4 on).
fn export_object(bytes: &[u8]) -> serde_json::Value {
    let envelope: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(envelope["format"], "convstate-business");
    assert_eq!(envelope["version"], 4);
    assert!(envelope["checksum"].as_str().is_some_and(|c| c.len() == 8));
    envelope["body"].clone()
}

/// The body of `business`'s export as a version 3 export, written before the envelope: an
/// import takes it as it stands, so a test can edit it without sealing it again.
fn editable_export(engine: &Engine, business: &str) -> serde_json::Value {
    let mut export = export_object(&engine.export_business(business).unwrap());
    export["version"] = 3.into();
    export
}

/// The problem a fresh cloud-2025 engine names in refusing to import `export` as corrupt;
/// the engine is unchanged.
fn import_refusal(export: &serde_json::Value) -> String {
    let mut target = Engine::with_preset("cloud-2025").unwrap();
    let before = target.snapshot();
    let refused = target.import_business(&serde_json::to_vec(export).unwrap());
    assert_eq!(target.snapshot(), before);
    match refused {
        Err(Error::CorruptSnapshot { problem }) => problem,
        other => panic!("expected corrupt_snapshot, got {other:?}"),
    }
}

/// Exports written before inbound ids kept their conversations, before the envelope
/// (version 3), sent messages (version 1) or keys and ids (version 2) travelled still
/// import; newer versions are refused as unsupported.
#[test]
fn older_export_versions_import_and_newer_are_refused() {
    let bytes = engine().export_business("biz1").unwrap();
    let mut export = export_object(&bytes);
    assert_eq!(export["version"], 4);
    let added: [(u32, &[&str]); 3] = [
        // Unsealed, and written before inbound ids kept their conversations (an export of
        // version 4 without them reads the same way): the ids match any sender.
        (3, &["inbound_id_senders"]),
        (2, &["idempotency", "idempotency_requests", "inbound_ids"]),
        (1, &["sent_messages"]),
    ];
    for (version, fields) in added {
        for &field in fields {
            assert!(!export[field].as_array().unwrap().is_empty(), "{field}");
            export.as_object_mut().unwrap().remove(field);
        }
        export["version"] = version.into();
        let mut target = Engine::with_preset("cloud-2025").unwrap();
        target
            .import_business(&serde_json::to_vec(&export).unwrap())
            .unwrap();
        assert_eq!(target.businesses().collect::<Vec<_>>(), ["biz1"]);
    }
    export["version"] = 5.into();
    assert!(matches!(
        Engine::with_preset("cloud-2025")
            .unwrap()
            .import_business(&serde_json::to_vec(&export).unwrap()),
        Err(Error::UnsupportedSnapshotVersion {
            found: 5,
            supported: 4
        })
    ));
}

/// An export whose ids, keys or content records are later than its clock is refused: they
/// would sit after the entries recorded next (the state saved then did not restore), or
/// stop the pruning of the records behind them.
#[test]
fn an_export_with_entries_later_than_its_clock_is_refused() {
    let export = editable_export(&engine(), "biz1");
    let clock = convstate::Instant::parse_rfc3339(export["clock"].as_str().unwrap()).unwrap();
    let later = clock
        .plus(convstate::time::Duration::from_mins(1))
        .to_rfc3339();
    let far = "9999-12-31T00:00:00Z";
    for (field, instant, value, problem) in [
        ("sent_messages", 1, &later, "after the clock"),
        ("idempotency", 1, &later, "after the clock"),
        ("inbound_ids", 1, &later, "after the clock"),
        (
            "sent_content",
            0,
            &far.to_owned(),
            "expires later than a send",
        ),
    ] {
        let mut forged = export.clone();
        let entries = forged[field].as_array_mut().unwrap();
        assert!(!entries.is_empty(), "{field}");
        let last = entries.len() - 1;
        entries[last][instant] = value.as_str().into();
        let message = import_refusal(&forged);
        assert!(message.contains(problem), "{field}: {message}");
    }
}

/// An export whose policy fails the policy's own checks is refused, as a snapshot under it
/// is. Found by the `snapshot_restore` fuzz target (an export's `limits.window` of "0d"):
/// the engine made from it saved a state it then refused.
#[test]
fn an_export_under_an_invalid_policy_is_refused() {
    let mut forged = editable_export(&engine(), "biz1");
    forged["policy"]["limits"]["window"] = "0d".into();
    let forged = serde_json::to_vec(&forged).unwrap();
    for result in [
        Engine::from_business_export(&forged).map(|_| ()),
        Engine::with_preset("cloud-2025")
            .unwrap()
            .import_business(&forged),
    ] {
        match result {
            Err(Error::InvalidPolicy { problem }) => {
                assert!(problem.contains("must be positive"), "{problem}")
            }
            other => panic!("{other:?}"),
        }
    }
}

/// An export whose live chat's conversation has no ticket is refused, as such a snapshot is
/// (a live chat always has one). Found by the `snapshot_restore` fuzz target: imported, the
/// engine saved a state it then refused.
#[test]
fn an_export_with_a_live_chat_without_a_ticket_is_refused() {
    let mut forged = editable_export(&engine(), "biz1");
    let chat = forged["live_chats"][0][0].as_u64().expect("a live chat") as usize;
    assert!(!forged["conversations"][chat]["ticket"].is_null());
    forged["conversations"][chat]["ticket"] = serde_json::Value::Null;
    let problem = import_refusal(&forged);
    assert!(problem.contains("has no ticket"), "{problem}");
}

/// An export whose number keeps the level its flag started from without a flag, or a level
/// the policy does not have, is refused, as such a snapshot is.
#[test]
fn an_export_with_a_stray_flag_level_is_refused() {
    let mut forged = editable_export(&engine(), "biz1");
    forged["numbers"][0]["limit_level_at_flag"] = 0.into();
    let problem = import_refusal(&forged);
    assert!(
        problem.contains("a number has a limit_level_at_flag but is not flagged"),
        "{problem}"
    );
    forged["numbers"][0]["flagged_until"] = "2026-12-01T00:00:00Z".into();
    forged["numbers"][0]["limit_level_at_flag"] = 7.into();
    let problem = import_refusal(&forged);
    assert!(
        problem.contains("has limit_level_at_flag 7, not a level of the policy's 5"),
        "{problem}"
    );
}

/// An export that lists one number, provider id, template or conversation twice is refused,
/// as a snapshot that does is: imported, the engine saved a state it then refused.
#[test]
fn an_export_listing_a_thing_twice_is_refused() {
    let mut source = engine();
    for line in [
        format!(
            r#"{{"type":"register_number","at":"{}","business":"biz1","number":"{}","channel":"official","phone_number_id":"pnid-1"}}"#,
            at(500),
            number(1)
        ),
        format!(
            r#"{{"type":"register_number","at":"{}","business":"biz1","number":"+15557770001","channel":"official","phone_number_id":"pnid-2"}}"#,
            at(500)
        ),
    ] {
        let out = source.handle_json(&line);
        assert!(!out[0].contains("error"), "{line}: {out:?}");
    }
    let export = editable_export(&source, "biz1");
    // The second entry of `field` given the first one's values at `paths`.
    let repeat = |field: &str, paths: &[&str]| {
        let mut forged = export.clone();
        for path in paths {
            let first = forged[field][0].pointer(path).unwrap().clone();
            *forged[field][1].pointer_mut(path).unwrap() = first;
        }
        forged
    };
    for (field, paths, problem) in [
        ("numbers", &["/address"][..], "number 1 appears twice"),
        (
            "numbers",
            &["/phone_number_id"][..],
            "phone_number_id \"pnid-1\" appears twice",
        ),
        (
            "templates",
            &["/spec/name", "/spec/language"][..],
            "appears twice",
        ),
        (
            "conversations",
            &["/number", "/contact"][..],
            "appears twice",
        ),
    ] {
        let message = import_refusal(&repeat(field, paths));
        assert!(message.contains(problem), "{field} {paths:?}: {message}");
    }
}

/// Damage to an export in transit is refused, not imported: one changed digit of a counter
/// fails the checksum, and a version 4 export taken out of its envelope is no export.
#[test]
fn a_damaged_export_is_refused_and_changes_nothing() {
    let bytes = engine().export_business("biz1").unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    // A counter one higher: JSON that still parses, and state that would silently be wrong.
    let damaged = text.replacen(r#""inbound":8,"#, r#""inbound":9,"#, 1);
    assert!(damaged != text, "the export holds the counter");
    let refuse = |bytes: &[u8]| {
        let mut target = Engine::with_preset("cloud-2025").unwrap();
        let before = target.snapshot();
        let error = target.import_business(bytes).unwrap_err();
        assert_eq!(target.snapshot(), before);
        assert!(Engine::from_business_export(bytes).is_err());
        match error {
            Error::CorruptSnapshot { problem } => problem,
            other => panic!("expected corrupt_snapshot, got {other:?}"),
        }
    };
    assert!(refuse(damaged.as_bytes()).starts_with("checksum mismatch: "));
    let unsealed = serde_json::to_vec(&export_object(&bytes)).unwrap();
    assert!(refuse(&unsealed).contains("comes in a checksummed envelope"));
    // The line break a file or pipe adds is no damage.
    let mut with_newline = bytes.clone();
    with_newline.extend_from_slice(b"\n");
    Engine::with_preset("cloud-2025")
        .unwrap()
        .import_business(&with_newline)
        .unwrap();
}

/// An idempotency key is the business's own, a send's provider message id its number's and
/// an inbound message id its conversation's: the same key or id already recorded by
/// another business of the importing engine is another, so the export imports, each
/// business's retry gets its own first decision, each number's status its own message, and
/// each conversation's redelivery is recognised as its own (recent or a week old alike).
#[test]
fn keys_and_ids_of_another_business_stay_its_own_after_an_import() {
    let source = engine();
    let bytes = source.export_business("biz1").unwrap();
    let retry = format!(
        r#"{{"type":"send","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"On it"}},"idempotency_key":"key.1.2"}}"#,
        at(20),
        number(1),
        contact(1, 2)
    );
    for (extra, name) in [
        (r#","message_id":"wamid.1.4""#, "wamid.1.4"),
        (r#","idempotency_key":"key.1.2""#, "key.1.2"),
        (r#","message_id":"in.1.0""#, "in.1.0"),
    ] {
        let (send, inbound) = if name.starts_with("in.") {
            ("", extra)
        } else {
            (extra, "")
        };
        for day in ["2026-11-02", "2026-10-20"] {
            let mut clash = Engine::with_preset("cloud-2025").unwrap();
            let mut zeta_send = (String::new(), Vec::new());
            for line in [
                format!(
                    r#"{{"type":"register_number","at":"{day}T08:00:00Z","business":"zeta","number":"+15557770000","channel":"official"}}"#
                ),
                format!(
                    r#"{{"type":"inbound","at":"{day}T08:01:00Z","number":"+15557770000","contact":"+4917000000001","kind":"text"{inbound}}}"#
                ),
                format!(
                    r#"{{"type":"send","at":"{day}T08:02:00Z","number":"+15557770000","contact":"+4917000000001","message":{{"kind":"text","text":"Hi"}}{send}}}"#
                ),
            ] {
                let out = clash.handle_json(&line);
                assert!(!out[0].contains("error"), "{out:?}");
                zeta_send = (line, out);
            }
            // zeta's inbound, delivered again after the import (when it carried the id).
            let zeta_inbound = format!(
                r#"{{"type":"inbound","at":"{day}T08:01:00Z","number":"+15557770000","contact":"+4917000000001","kind":"text"{inbound}}}"#
            );
            clash
                .import_business(&bytes)
                .unwrap_or_else(|e| panic!("{name} of {day}: {e}"));
            // A week behind the export's clock, zeta's chat ended in between: the import
            // fired its timer, and its effect is the import's, not the retry's.
            while clash.poll_effect().is_some() {}
            assert_eq!(
                clash.handle_json(&retry),
                source.clone().handle_json(&retry),
                "{name}: the business's own first decision for key.1.2"
            );
            if day != "2026-11-02" {
                continue;
            }
            if name == "key.1.2" {
                let (line, first) = &zeta_send;
                let later = line.replace("08:02:00Z", "08:30:00Z");
                assert_eq!(&clash.handle_json(&later), first, "zeta's own");
            }
            if name == "wamid.1.4" {
                for sender in ["+15557770000", &number(1)] {
                    let failed = format!(
                        r#"{{"type":"message_status","at":"{}","number":"{sender}","contact":"+4917000000001","message_id":"wamid.1.4","status":"failed"}}"#,
                        at(20)
                    );
                    let out = clash.handle_json(&failed);
                    let failures: Vec<&String> = (out.iter())
                        .filter(|l| l.contains(r#""effect":"message_failed""#))
                        .collect();
                    assert!(
                        failures.len() == 1
                            && failures[0].contains(&format!(r#""number":"{sender}""#)),
                        "{sender}'s own message fails: {out:?}"
                    );
                }
            }
            if name == "in.1.0" {
                let again = clash.handle_json(&zeta_inbound);
                assert_eq!(again.len(), 1, "zeta's message delivered again: {again:?}");
                let other_contact = zeta_inbound.replace("+4917000000001", "+4917000000002");
                let other = clash.handle_json(&other_contact);
                assert!(
                    other
                        .iter()
                        .any(|l| l.contains(r#""effect":"chat_started""#)),
                    "another contact's message with the same id is its own: {other:?}"
                );
            }
        }
    }
}

/// An inbound id exported without its sender (an export written before ids kept them)
/// matches any sender, so it clashes with the same id live here without a sender, and the
/// import is refused naming it, changing nothing.
#[test]
fn an_older_exports_inbound_id_clashes_with_one_here_saved_before_senders() {
    let mut export = export_object(&engine().export_business("biz1").unwrap());
    let fields = export.as_object_mut().unwrap();
    assert!(fields.remove("inbound_id_senders").is_some());
    export["version"] = 3.into();
    let older = serde_json::to_vec(&export).unwrap();

    let mut here = Engine::with_preset("cloud-2025").unwrap();
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"zeta","number":"+15557770000","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T08:01:00Z","number":"+15557770000","contact":"+4917000000001","kind":"text","message_id":"in.1.0"}"#,
    ] {
        assert!(!here.handle_json(line)[0].contains("error"));
    }
    // Saved before senders were kept.
    let body = std::str::from_utf8(convstate::snapshot::unseal(&here.snapshot()).unwrap())
        .unwrap()
        .replace(r#","inbound_id_senders":[4917000000001]"#, "");
    let mut here = Engine::restore(&convstate::snapshot::seal(body.as_bytes())).unwrap();
    let before = here.snapshot();
    match here.import_business(&older) {
        Err(Error::InvalidEvent { problem }) => {
            assert!(problem.contains("\"in.1.0\""), "{problem}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(here.snapshot(), before);
    // With the sender kept here, the two are different senders' messages.
    let mut current = Engine::with_preset("cloud-2025").unwrap();
    current.handle_json(r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"zeta","number":"+15557770000","channel":"official"}"#);
    current.handle_json(r#"{"type":"inbound","at":"2026-11-02T08:01:00Z","number":"+15557770000","contact":"+4917000000001","kind":"text","message_id":"in.1.0"}"#);
    current.import_business(&older).unwrap();
}

/// A new node starts from an export alone, under the export's policy: the same engine as
/// an import into a new engine of that policy.
#[test]
fn a_new_engine_starts_from_an_export_under_its_policy() {
    let bytes = engine_under("classic").export_business("biz3").unwrap();
    let started = Engine::from_business_export(&bytes).unwrap();
    let mut imported = Engine::with_preset("classic").unwrap();
    imported.import_business(&bytes).unwrap();
    assert_eq!(started.snapshot(), imported.snapshot());
    assert_eq!(started.policy(), imported.policy());
    assert_eq!(started.businesses().collect::<Vec<_>>(), ["biz3"]);
    assert!(matches!(
        Engine::from_business_export(b"{}"),
        Err(Error::CorruptSnapshot { .. })
    ));
}

/// An engine whose business `acme` has an unofficial number that heard from the contact
/// `team42` and from the group `team42`: two addresses of one interned text.
fn engine_with_a_contact_and_a_group_of_one_id() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"unofficial"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"team42","kind":"text"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:01:00Z","number":"+15550001111","group":"team42","kind":"text"}"#,
    ] {
        let out = engine.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    engine
}

/// A contact and a group of one id text share an interned string: the export lists it
/// once (listed twice, every import refused the export as corrupt), and the business
/// decides after the move as before it, the group as a group and the contact as a contact.
#[test]
fn a_contact_and_a_group_of_one_id_move_with_their_business() {
    let source = engine_with_a_contact_and_a_group_of_one_id();
    let bytes = source.export_business("acme").unwrap();
    assert_eq!(
        export_object(&bytes)["interned"],
        serde_json::json!(["team42"])
    );

    let started = Engine::from_business_export(&bytes).unwrap();
    // Exported again, the business is the same bytes.
    assert_eq!(started.export_business("acme").unwrap(), bytes);
    // Into an engine that interned other ids first, and `team42` as another business's
    // group: the export's string maps to an index of its own here.
    let mut target = Engine::with_preset("cloud-2025").unwrap();
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"other","number":"+15550002222","channel":"unofficial"}"#,
        r#"{"type":"inbound","at":"2026-11-02T08:30:00Z","number":"+15550002222","contact":"someone@example.com","kind":"text"}"#,
        r#"{"type":"inbound","at":"2026-11-02T08:31:00Z","number":"+15550002222","group":"team42","kind":"text"}"#,
    ] {
        let out = target.handle_json(line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    target.import_business(&bytes).unwrap();

    // The group and the contact that wrote are answered; a group of another id, and the
    // contact of the text the other business's group has, are not.
    let later = [
        r#"{"type":"send","at":"2026-11-02T09:30:00Z","number":"+15550001111","group":"team42","message":{"kind":"text","text":"Hello group"}}"#,
        r#"{"type":"send","at":"2026-11-02T09:31:00Z","number":"+15550001111","contact":"team42","message":{"kind":"text","text":"Hello you"}}"#,
        r#"{"type":"check_send","at":"2026-11-02T09:32:00Z","number":"+15550001111","group":"team43","message":{"kind":"text","text":"Hello?"}}"#,
    ];
    let mut moved = [started, target];
    let mut source = source;
    for line in later {
        let expected = source.handle_json(line);
        let verdict = if line.contains("team43") {
            "denied"
        } else {
            "allowed"
        };
        assert!(
            expected[0].contains(&format!(r#""verdict":"{verdict}""#)),
            "{line}: {expected:?}"
        );
        // The target's other business idles out meanwhile: its effects are left out.
        let of_acme = |out: Vec<String>| -> Vec<String> {
            let number = r#""number":"+15550002222""#;
            out.into_iter().filter(|o| !o.contains(number)).collect()
        };
        for engine in &mut moved {
            assert_eq!(of_acme(engine.handle_json(line)), expected, "{line}");
        }
    }
    assert_eq!(
        moved[0].export_business("acme").unwrap(),
        source.export_business("acme").unwrap()
    );
}

/// An import under another policy is refused, naming both, or the overrides when the
/// preset is the same.
#[test]
fn an_export_under_another_policy_is_refused_naming_it() {
    let bytes = engine_under("classic").export_business("biz3").unwrap();
    let refusal = |mut target: Engine| {
        let before = target.snapshot();
        let error = target.import_business(&bytes).unwrap_err();
        assert_eq!(target.snapshot(), before);
        error.to_string()
    };
    assert_eq!(
        refusal(Engine::with_preset("cloud-2025").unwrap()),
        r#"invalid policy: business "biz3" was exported under policy "classic", and this engine runs "cloud-2025""#
    );
    let overridden = Policy::with_overrides(
        "classic",
        &serde_json::json!({"chat": {"idle_timeout": "15m"}}),
    )
    .unwrap();
    assert_eq!(
        refusal(Engine::new(overridden)),
        r#"invalid policy: business "biz3" was exported under policy "classic" with other overrides than this engine's (chat.idle_timeout: exported "10m", here "15m")"#
    );
}

#[test]
fn an_unknown_business_is_an_error_and_changes_nothing() {
    let mut engine = engine();
    let before = engine.snapshot();
    assert_eq!(
        engine.remove_business("nobody"),
        Err(Error::UnknownBusiness {
            business: "nobody".into()
        })
    );
    assert_eq!(engine.snapshot(), before);
    // Removing every business leaves an empty engine that still works.
    for b in 0..BUSINESSES {
        engine.remove_business(&format!("biz{b}")).unwrap();
    }
    assert_eq!(engine.businesses().count(), 0);
    assert_eq!(engine.numbers().count(), 0);
    assert_eq!(
        engine.poll_timeout(),
        None,
        "no timer of a removed business is left"
    );
    for line in &traffic()[..2] {
        let out = engine.handle_json(line);
        assert!(!out[0].contains("error"), "{out:?}");
    }
}

#[test]
fn a_sharded_engine_removes_a_business_and_its_routes() {
    let sharded = ShardedEngine::with_preset("cloud-2025", 3).unwrap();
    for line in traffic() {
        let out = sharded.handle_json(&line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    let bytes = sharded.export_business("biz3").unwrap();
    sharded.remove_business("biz3").unwrap();
    let send = format!(
        r#"{{"type":"send","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"Hi"}}}}"#,
        at(20),
        number(3),
        contact(3, 1)
    );
    let out = sharded.handle_json(&send);
    assert!(out[0].contains("unknown_number"), "{out:?}");
    assert!(matches!(
        sharded.remove_business("biz3"),
        Err(Error::UnknownBusiness { .. })
    ));
    // The others are still routed; the removed one can be imported again.
    let other = send
        .replace(&number(3), &number(4))
        .replace(&contact(3, 1), &contact(4, 1));
    assert!(sharded.handle_json(&other)[0].contains(r#""verdict":"allowed""#));
    sharded.import_business(&bytes, &mut Vec::new()).unwrap();
    assert!(sharded.handle_json(&send)[0].contains(r#""verdict":"allowed""#));
}

/// Threads keep feeding four businesses while another moves the fifth out of the sharded
/// engine and back in, again and again: no input of the four is refused, the moved one's
/// inputs are answered or refused as unknown (while it is out), and the engine stays
/// consistent (its snapshot restores, each number routed to its business's shard).
#[test]
fn a_sharded_engine_moves_a_business_while_threads_send() {
    let sharded = std::sync::Arc::new(ShardedEngine::with_preset("cloud-2025", 3).unwrap());
    for line in traffic() {
        let out = sharded.handle_json(&line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    let senders: Vec<_> = (0..2u32)
        .map(|t| {
            let sharded = std::sync::Arc::clone(&sharded);
            std::thread::spawn(move || {
                let mut refused = Vec::new();
                for round in 0..150u32 {
                    for b in [0, 1, 3, 4, 2] {
                        let line = format!(
                            r#"{{"type":"send","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"t{t} r{round}"}}}}"#,
                            at(20),
                            number(b),
                            contact(b, 1)
                        );
                        let out = sharded.handle_json(&line);
                        let moved_and_out = b == 2 && out[0].contains("unknown_number");
                        if !out[0].contains(r#""verdict":"allowed""#) && !moved_and_out {
                            refused.push(out[0].clone());
                        }
                    }
                }
                refused
            })
        })
        .collect();
    for _ in 0..20 {
        let bytes = sharded.export_business("biz2").unwrap();
        sharded.remove_business("biz2").unwrap();
        sharded.import_business(&bytes, &mut Vec::new()).unwrap();
    }
    for sender in senders {
        let refused = sender.join().unwrap();
        assert!(refused.is_empty(), "{refused:?}");
    }
    let restored = ShardedEngine::restore(&sharded.snapshot()).unwrap();
    assert_eq!(restored.snapshot(), sharded.snapshot());
    let query = format!(
        r#"{{"type":"query_number","at":"{}","number":"{}"}}"#,
        at(21),
        number(2)
    );
    assert!(restored.handle_json(&query)[0].contains(r#""business":"biz2""#));
}

#[test]
fn an_import_that_moves_the_clock_counts_the_chats_it_ended() {
    // The import moves the engine's clock to the export's, later, and fires no timer: the
    // live chat count said a chat was live whose idle deadline had passed, while the
    // conversation view said it had ended.
    let mut node = Engine::with_preset("cloud-2025").unwrap();
    let mut other = Engine::with_preset("cloud-2025").unwrap();
    for (engine, b, minute) in [(&mut node, 0, 0), (&mut other, 1, 120)] {
        for line in [
            format!(
                r#"{{"type":"register_number","at":"{}","business":"b{b}","number":"{}","channel":"official"}}"#,
                at(0),
                number(b)
            ),
            format!(
                r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{}","kind":"text"}}"#,
                at(minute),
                number(b),
                contact(b, 0)
            ),
        ] {
            let out = engine.handle_json(&line);
            assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
        }
    }
    let export = other.export_business("b1").expect("an export");
    node.import_business(&export).expect("an import");
    let view = node
        .conversation(&number(0), &contact(0, 0), node.clock())
        .expect("a view");
    assert!(
        view.chat.is_none(),
        "the chat at minute 0 is past its idle deadline"
    );
    assert_eq!(
        node.live_chat_count(),
        1,
        "only the moved business's chat is live"
    );
}

#[test]
fn a_quality_pause_imported_from_before_counted_pauses_is_not_struck_twice() {
    // An export of before templates kept their counted pauses: the pause in progress is
    // counted on import, as on restore, so the provider's report of it adds no strike and the
    // next low rating is the second pause, not a disable.
    let mut source = Engine::with_preset("cloud-2025").unwrap();
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}, see our offer.","status":"approved"}"#,
        r#"{"type":"template_quality","at":"2026-11-02T09:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#,
    ] {
        assert!(
            source.handle_json(line)[0].contains(r#""type":"ack""#),
            "{line}"
        );
    }
    let mut export = editable_export(&source, "acme");
    let template = &mut export["templates"][0];
    assert!(template["counted_pauses"].is_array(), "{template}");
    template.as_object_mut().unwrap().remove("counted_pauses");
    let mut imported = Engine::with_preset("cloud-2025").unwrap();
    imported
        .import_business(&serde_json::to_vec(&export).unwrap())
        .unwrap();
    for engine in [&mut source, &mut imported] {
        let report = r#"{"type":"template_status","at":"2026-11-02T09:00:05Z","business":"acme","name":"promo","language":"en","status":"paused","until":"2026-11-02T12:00:00Z"}"#;
        assert!(engine.handle_json(report)[0].contains(r#""type":"ack""#));
        let low = r#"{"type":"template_quality","at":"2026-11-03T09:00:00Z","business":"acme","name":"promo","language":"en","quality":"low"}"#;
        let out = engine.handle_json(low);
        assert!(
            out.iter().any(|l| l.contains(r#""to":"paused""#)),
            "the second pause: {out:?}"
        );
        assert_eq!(
            engine
                .template("acme", "promo", "en")
                .unwrap()
                .pause_strikes,
            2
        );
        let restored = Engine::restore(&engine.snapshot()).unwrap();
        assert_eq!(restored.snapshot(), engine.snapshot());
    }
}

#[test]
fn an_export_field_this_build_does_not_know_is_refused_wherever_it_is() {
    // As in snapshots: a newer build's field would be dropped, and what it kept lost.
    let export = editable_export(&engine(), "biz0");
    let kept = common::objects_taking_unknown_fields(&export, 50, |changed| {
        let mut target = Engine::with_preset("cloud-2025").unwrap();
        target
            .import_business(&serde_json::to_vec(changed).unwrap())
            .is_ok()
    });
    assert!(
        kept.is_empty(),
        "a field `zz_future` imported without a word in {kept:?}"
    );
}

#[test]
fn an_export_registration_would_refuse_is_refused_naming_what() {
    // Saved records are ones registration could have made: an import (and a restore) of
    // an edited or foreign export does not take what `register_*` refuses.
    let export = editable_export(&engine(), "biz0");
    let cases: [(&str, serde_json::Value, &str); 6] = [
        (
            "/business/name",
            "".into(),
            r#"business name "" must be 1..=256 characters, got 0"#,
        ),
        (
            "/business/name",
            "a\nb".into(),
            "contains the control character",
        ),
        (
            "/templates/0/spec/name",
            "Bad Name!".into(),
            "is not 1..=512 lowercase",
        ),
        (
            "/templates/0/spec/language",
            "".into(),
            "template language must be 1..=16",
        ),
        (
            "/numbers/0/idle_timeout",
            "0s".into(),
            "has an idle_timeout of zero",
        ),
        (
            "/numbers/0/phone_number_id",
            "".into(),
            "has a phone_number_id of 0 bytes",
        ),
    ];
    for (path, value, problem) in cases {
        let mut changed = export.clone();
        *changed
            .pointer_mut(path)
            .unwrap_or_else(|| panic!("{path}")) = value;
        let refusal = import_refusal(&changed);
        assert!(refusal.contains(problem), "{path}: {refusal}");
    }
}

/// A take is an export and a removal in one step: the same bytes `export_business` gives,
/// and the engine afterwards as `remove_business` leaves it, on one engine and sharded.
#[test]
fn a_take_is_an_export_then_a_removal() {
    for b in 0..BUSINESSES {
        let business = format!("biz{b}");
        let (mut exported, mut taken) = (engine(), engine());
        let export = exported.export_business(&business).unwrap();
        exported.remove_business(&business).unwrap();
        assert_eq!(
            taken.take_business(&business).unwrap(),
            export,
            "{business}"
        );
        assert_eq!(taken.snapshot(), exported.snapshot(), "{business}");
    }

    let sharded = || {
        let sharded = ShardedEngine::with_preset("cloud-2025", 3).unwrap();
        for line in traffic() {
            let out = sharded.handle_json(&line);
            assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
        }
        sharded
    };
    let (exported, taken) = (sharded(), sharded());
    let export = exported.export_business("biz3").unwrap();
    exported.remove_business("biz3").unwrap();
    assert_eq!(taken.take_business("biz3").unwrap(), export);
    assert_eq!(taken.snapshot(), exported.snapshot());
    // Its numbers are unrouted as a removal unroutes them: a send is refused as unknown, and
    // the taken business can come back.
    let send = format!(
        r#"{{"type":"send","at":"{}","number":"{}","contact":"{}","message":{{"kind":"text","text":"Hi"}}}}"#,
        at(20),
        number(3),
        contact(3, 1)
    );
    assert!(taken.handle_json(&send)[0].contains("unknown_number"));
    taken.import_business(&export, &mut Vec::new()).unwrap();
    assert!(taken.handle_json(&send)[0].contains(r#""verdict":"allowed""#));
}

#[test]
fn taking_an_unknown_business_is_an_error_and_changes_nothing() {
    let unknown = || Error::UnknownBusiness {
        business: "nobody".into(),
    };
    let mut engine = engine();
    let before = engine.snapshot();
    assert_eq!(engine.export_business("nobody"), Err(unknown()));
    assert_eq!(engine.take_business("nobody"), Err(unknown()));
    assert_eq!(engine.snapshot(), before);

    let sharded = ShardedEngine::with_preset("cloud-2025", 3).unwrap();
    for line in traffic() {
        sharded.handle_json(&line);
    }
    let before = sharded.snapshot();
    assert_eq!(sharded.export_business("nobody"), Err(unknown()));
    assert_eq!(sharded.take_business("nobody"), Err(unknown()));
    assert_eq!(sharded.snapshot(), before);
    // Still routed: every business answers as before.
    for b in 0..BUSINESSES {
        let query = format!(
            r#"{{"type":"query_number","at":"{}","number":"{}"}}"#,
            at(20),
            number(b)
        );
        assert!(sharded.handle_json(&query)[0].contains(&format!(r#""business":"biz{b}""#)));
    }
}

/// Threads keep sending inbounds (each from a new contact) and replies to one business while
/// another thread takes it out of the sharded engine: every input the engine accepted is in
/// the export, and every one after the take is refused as an unknown number. With an export
/// and a removal as two calls, an input applied between them is in neither.
#[test]
fn a_sharded_take_loses_no_input_applied_meanwhile() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const THREADS: u32 = 3;
    /// Inputs the threads apply before the take, at least.
    const BEFORE_TAKE: usize = 300;
    /// Refusals each thread sees after the take before it stops.
    const AFTER_TAKE: usize = 20;

    let sharded = Arc::new(ShardedEngine::with_preset("cloud-2025", 3).unwrap());
    for line in traffic() {
        let out = sharded.handle_json(&line);
        assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
    }
    let start = Engine::from_business_export(&sharded.export_business("biz2").unwrap()).unwrap();
    let applied = Arc::new(AtomicUsize::new(0));
    let new_contact = |t: u32, i: u32| format!("+4917{t:02}{i:07}");

    /// What one thread saw: the contacts whose inbound was accepted, the sends allowed and
    /// denied, and anything unexpected.
    #[derive(Default)]
    struct Seen {
        inbound_from: Vec<String>,
        refused_from: Vec<String>,
        allowed: u64,
        denied: u64,
        unexpected: Vec<String>,
    }
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (sharded, applied) = (Arc::clone(&sharded), Arc::clone(&applied));
            std::thread::spawn(move || {
                let mut seen = Seen::default();
                let mut refusals = 0;
                for i in 0.. {
                    assert!(i < 1_000_000, "thread {t} never saw the take");
                    let c = new_contact(t, i);
                    let inbound = format!(
                        r#"{{"type":"inbound","at":"{}","number":"{}","contact":"{c}","kind":"text","message_id":"in.t{t}.{i}"}}"#,
                        at(20),
                        number(2)
                    );
                    let send = format!(
                        r#"{{"type":"send","at":"{}","number":"{}","contact":"{c}","message":{{"kind":"text","text":"Reply {t}.{i}"}}}}"#,
                        at(20),
                        number(2)
                    );
                    // Once refused, the business is gone: nothing is accepted after.
                    let accepted = |seen: &mut Seen, refusals: usize, what: &str| {
                        if refusals > 0 {
                            seen.unexpected.push(format!("{what} accepted after a refusal"));
                        }
                    };
                    let out = sharded.handle_json(&inbound);
                    if out[0].contains(r#""type":"ack""#) {
                        accepted(&mut seen, refusals, &inbound);
                        seen.inbound_from.push(c);
                    } else if out[0].contains("unknown_number") {
                        seen.refused_from.push(c);
                        refusals += 1;
                    } else {
                        seen.unexpected.push(out[0].clone());
                    }
                    let out = sharded.handle_json(&send);
                    if out[0].contains(r#""verdict":"allowed""#) {
                        accepted(&mut seen, refusals, &send);
                        seen.allowed += 1;
                    } else if out[0].contains(r#""verdict":"denied""#) {
                        accepted(&mut seen, refusals, &send);
                        seen.denied += 1;
                    } else if out[0].contains("unknown_number") {
                        refusals += 1;
                    } else {
                        seen.unexpected.push(out[0].clone());
                    }
                    if refusals >= AFTER_TAKE {
                        break;
                    }
                    applied.fetch_add(2, Ordering::Relaxed);
                }
                seen
            })
        })
        .collect();
    while applied.load(Ordering::Relaxed) < BEFORE_TAKE {
        std::thread::yield_now();
    }
    let export = sharded.take_business("biz2").unwrap();
    let seen: Vec<Seen> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for s in &seen {
        assert!(s.unexpected.is_empty(), "{:?}", s.unexpected);
    }
    assert_eq!(
        sharded.export_business("biz2"),
        Err(Error::UnknownBusiness {
            business: "biz2".into()
        })
    );

    let taken = Engine::from_business_export(&export).unwrap();
    let inbounds: u64 = seen.iter().map(|s| s.inbound_from.len() as u64).sum();
    let allowed: u64 = seen.iter().map(|s| s.allowed).sum();
    let denied: u64 = seen.iter().map(|s| s.denied).sum();
    assert!(inbounds > 0, "no inbound was applied before the take");
    let (was, is) = (
        start.number(&number(2)).unwrap().counters,
        taken.number(&number(2)).unwrap().counters,
    );
    assert_eq!(is.inbound, was.inbound + inbounds);
    assert_eq!(is.sends_allowed, was.sends_allowed + allowed);
    assert_eq!(is.sends_denied, was.sends_denied + denied);
    assert_eq!(
        taken.conversation_count(),
        start.conversation_count() + inbounds as usize
    );
    // Each accepted inbound opened its contact's window in the export; no refused one did.
    let window_open = |contact: &str| {
        (taken.conversation(&number(2), contact, taken.clock()))
            .unwrap()
            .window_open
    };
    for s in &seen {
        assert!(s.inbound_from.iter().all(|c| window_open(c)));
        assert!(s.refused_from.iter().all(|c| !window_open(c)));
    }
}

/// The billing `why` or `category` of a send's decision line.
fn billing_of(engine: &mut Engine, number: &str, contact: &str, minute: u32) -> String {
    let out = engine.handle_json(&format!(
        r#"{{"type":"send","at":"2026-11-02T10:{minute:02}:00Z","number":"{number}","contact":"{contact}","message":{{"kind":"text","text":"m{minute}"}}}}"#
    ));
    let decision: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
    let billing = &decision["billing"];
    billing["why"]
        .as_str()
        .or(billing["category"].as_str())
        .unwrap_or_else(|| panic!("{}", out[0]))
        .to_owned()
}

#[test]
fn a_business_wide_allowance_counts_its_own_numbers_after_a_move_and_a_removal() {
    let policy = Policy::with_overrides(
        "cloud-2026-10",
        &serde_json::json!({"pricing": {"service_free_per_month": 2, "service_allowance_scope": "business"}}),
    )
    .unwrap();
    // Business "b" is registered first, so that "a"'s numbers move down when it goes.
    let numbers = [
        ("b", "+15550003333"),
        ("a", "+15550001111"),
        ("a", "+15550001112"),
    ];
    let mut original = Engine::new(policy.clone());
    for (i, (business, number)) in numbers.iter().enumerate() {
        for line in [
            format!(
                r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"{business}","number":"{number}","channel":"official"}}"#
            ),
            format!(
                r#"{{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"{number}","contact":"+7911000000{i}","kind":"text"}}"#
            ),
        ] {
            let out = original.handle_json(&line);
            assert!(out[0].contains(r#""type":"ack""#), "{line}: {out:?}");
        }
    }
    assert_eq!(
        billing_of(&mut original, "+15550001111", "+79110000001", 1),
        "service_allowance"
    );

    // Moved to an engine that holds another business's numbers first, every index shifts.
    let mut target = Engine::new(policy);
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"c","number":"+15550004444","channel":"official"}"#,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"c","number":"+15550004445","channel":"official"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550004444","contact":"+79110000009","kind":"text"}"#,
    ] {
        assert!(
            target.handle_json(line)[0].contains(r#""type":"ack""#),
            "{line}"
        );
    }
    target
        .import_business(&original.export_business("a").unwrap())
        .unwrap();
    original.remove_business("b").unwrap();
    for engine in [&mut original, &mut target] {
        // "a"'s second of two is on its other number; its third is charged.
        assert_eq!(
            billing_of(engine, "+15550001112", "+79110000002", 2),
            "service_allowance"
        );
        assert_eq!(
            billing_of(engine, "+15550001112", "+79110000002", 3),
            "service"
        );
    }
    // "c" keeps its own two.
    assert_eq!(
        billing_of(&mut target, "+15550004444", "+79110000009", 4),
        "service_allowance"
    );
}

/// Bytes of the wrong kind are refused naming what they are and what reads them: a sharded
/// snapshot given as an export read "trailing characters at line 2 column 1", and an export
/// given to a sharded restore was told it was a single engine's snapshot.
#[test]
fn bytes_of_another_kind_are_named_with_what_reads_them() {
    let source = engine();
    let export = source.export_business("biz1").unwrap();
    let sharded = ShardedEngine::new(Policy::preset("cloud-2025").unwrap(), 2).unwrap();
    for line in traffic() {
        sharded.handle_json(&line);
    }
    let problem = |result: Result<(), Error>| match result {
        Err(Error::CorruptSnapshot { problem }) => problem,
        other => panic!("expected corrupt_snapshot, got {other:?}"),
    };
    let mut fresh = Engine::with_preset("cloud-2025").unwrap();
    let as_export = problem(fresh.import_business(&sharded.snapshot()));
    assert!(
        as_export.contains("a sharded engine's snapshot: ShardedEngine::restore"),
        "{as_export}"
    );
    let as_export = problem(fresh.import_business(&source.snapshot()));
    assert!(
        as_export.contains("an engine's snapshot: Engine::restore"),
        "{as_export}"
    );
    let as_sharded = problem(ShardedEngine::restore(&export).map(drop));
    assert!(
        as_sharded.contains("a business export imports into a running engine"),
        "{as_sharded}"
    );
}
