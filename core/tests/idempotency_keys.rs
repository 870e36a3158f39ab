//! Idempotency keys belong to the business that sent them (RULES.md §10): a host that
//! numbers its keys per tenant gives two businesses the same key, and each must get its own
//! first decision back, in one engine, after a snapshot, after a move, and in a sharded
//! engine alike.

mod common;

use common::canonical;
use convstate::sharded::ShardedEngine;
use convstate::snapshot::{seal, unseal, Checksum};
use convstate::{Engine, Error};

const ACME: &str = "+15550001111";
const GLOBEX: &str = "+15550002222";
const CONTACT: &str = "+79110000001";

fn send(minute: u32, number: &str, key: &str) -> String {
    format!(
        r#"{{"type":"send","at":"2026-11-02T09:{minute:02}:00Z","number":"{number}","contact":"{CONTACT}","message":{{"kind":"text","text":"Hello"}},"idempotency_key":"{key}"}}"#
    )
}

fn inbound(minute: u32, number: &str) -> String {
    format!(
        r#"{{"type":"inbound","at":"2026-11-02T09:{minute:02}:00Z","number":"{number}","contact":"{CONTACT}","kind":"text"}}"#
    )
}

/// Two businesses, one number each, both sending with the key `msg-1` at 09:01: acme's
/// denied (no window), globex's allowed (the contact wrote first).
fn setup() -> Vec<String> {
    let mut lines: Vec<String> = [("acme", ACME), ("globex", GLOBEX)]
        .iter()
        .map(|(business, number)| {
            format!(
                r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"{business}","number":"{number}","channel":"official"}}"#
            )
        })
        .collect();
    lines.extend([
        inbound(0, GLOBEX),
        send(1, ACME, "msg-1"),
        send(1, GLOBEX, "msg-1"),
    ]);
    lines
}

/// After [`setup`]: both windows open, then each business retries its key. Each retry must
/// answer its business's first decision (acme denied although its window is open now,
/// globex allowed and not a duplicate of itself).
fn retries() -> Vec<String> {
    vec![
        inbound(5, ACME),
        send(6, ACME, "msg-1"),
        send(6, GLOBEX, "msg-1"),
    ]
}

fn run(engine: &mut Engine, lines: &[String]) -> Vec<Vec<String>> {
    lines.iter().map(|line| engine.handle_json(line)).collect()
}

fn engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    let out = run(&mut engine, &setup());
    assert!(out[3][0].contains(r#""reason":"window_closed""#), "{out:?}");
    assert!(out[4][0].contains(r#""verdict":"allowed""#), "{out:?}");
    engine
}

/// The retries' outputs, checked to be each business's first decision.
fn checked_retries(engine: &mut Engine) -> Vec<Vec<String>> {
    let out = run(engine, &retries());
    assert_eq!(out[1].len(), 1, "acme's retry changes nothing: {out:?}");
    assert!(out[1][0].contains(r#""reason":"window_closed""#), "{out:?}");
    assert_eq!(out[2].len(), 1, "globex's retry changes nothing: {out:?}");
    assert!(out[2][0].contains(r#""verdict":"allowed""#), "{out:?}");
    out
}

#[test]
fn the_same_key_in_two_businesses_survives_a_snapshot() {
    let mut engine = engine();
    let bytes = engine.snapshot();
    let body: serde_json::Value = serde_json::from_slice(unseal(&bytes).unwrap()).unwrap();
    let keys: Vec<&str> = (body["idempotency"].as_array().unwrap().iter())
        .map(|k| k[0].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["msg-1", "msg-1"], "the host's keys, as before");
    let mut restored = Engine::restore(&bytes).expect("two businesses' keys restore");
    assert_eq!(restored.snapshot(), bytes, "byte for byte");
    let expected = checked_retries(&mut engine);
    assert_eq!(checked_retries(&mut restored), expected);

    // A key repeated within one business is still corrupt: both entries on acme's number.
    let mut same = body.clone();
    same["idempotency_numbers"] = serde_json::json!([0, 0]);
    match Engine::restore(&seal(same.to_string().as_bytes())) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(problem.contains(r#"key "msg-1" is repeated"#), "{problem}")
        }
        other => panic!("expected a corrupt snapshot, got {other:?}"),
    }
    // Each entry needs its own place in the expiry order.
    let mut placed_once = body;
    placed_once["idempotency_order"]
        .as_array_mut()
        .unwrap()
        .pop();
    match Engine::restore(&seal(placed_once.to_string().as_bytes())) {
        Err(Error::CorruptSnapshot { problem }) => {
            assert!(
                problem.contains("no place in the expiry order"),
                "{problem}"
            )
        }
        other => panic!("expected a corrupt snapshot, got {other:?}"),
    }
}

#[test]
fn a_business_whose_key_is_another_businesses_key_imports_and_keeps_its_answers() {
    let mut source = engine();
    let globex = source.export_business("globex").unwrap();
    let acme = source.export_business("acme").unwrap();
    let expected = checked_retries(&mut source.clone());
    // Either business first: the second's key meets the first's in the target.
    for (first, second) in [(&acme, &globex), (&globex, &acme)] {
        let mut target = Engine::with_preset("cloud-2025").unwrap();
        target.import_business(first).unwrap();
        target
            .import_business(second)
            .expect("another business's key is another key");
        assert_eq!(checked_retries(&mut target.clone()), expected);
        // And on through a snapshot and the removal of the business that came first.
        let mut restored = Engine::restore(&target.snapshot()).unwrap();
        assert_eq!(checked_retries(&mut restored), expected);
    }
    // The source drops acme: globex keeps its answer, and acme's key no longer answers
    // anything there.
    source.remove_business("acme").unwrap();
    let out = run(&mut source, &retries()[2..]);
    assert_eq!(out, expected[2..]);
}

#[test]
fn a_sharded_engine_answers_as_one_engine() {
    let sharded = ShardedEngine::with_preset("cloud-2025", 4).unwrap();
    assert_ne!(
        sharded.shard_of_business("acme"),
        sharded.shard_of_business("globex"),
        "the two businesses in two shards"
    );
    let mut single = Engine::with_preset("cloud-2025").unwrap();
    for line in setup().iter().chain(&retries()) {
        // Tickets are numbered per shard.
        let (sharded, single) = (sharded.handle_json(line), single.handle_json(line));
        assert_eq!(canonical(sharded), canonical(single), "{line}");
    }
}

#[test]
fn a_key_restored_without_its_number_answers_every_business_as_before() {
    // Version 3 snapshots did not record a key's number, so its business is unknown: such a
    // key answers a retry from any business, as all keys did then, rather than let the
    // business that sent it send twice.
    let mut engine = Engine::with_preset("cloud-2025").unwrap();
    let mut lines = setup();
    lines.pop(); // globex does not send msg-1
    let out = run(&mut engine, &lines);
    assert!(out[3][0].contains(r#""reason":"window_closed""#), "{out:?}");
    let body = String::from_utf8(unseal(&engine.snapshot()).unwrap().to_vec()).unwrap();
    // Version 3 bodies listed neither the keys' numbers nor the inbound ids'.
    let v3_body = body.replacen(r#","idempotency_numbers":[0]"#, "", 1);
    assert_ne!(v3_body, body);
    let v3_body = v3_body.replacen(r#","inbound_id_numbers":[]"#, "", 1);
    let v3 = format!(
        r#"{{"format":"convstate-snapshot","version":3,"checksum":"{}","body":{v3_body}}}"#,
        Checksum::Crc32.hex(v3_body.as_bytes())
    );
    let mut restored = Engine::restore(v3.as_bytes()).unwrap();
    for number in [ACME, GLOBEX] {
        let out = restored.handle_json(&send(6, number, "msg-1"));
        assert_eq!(out, out[..1], "nothing recorded");
        assert!(out[0].contains(r#""reason":"window_closed""#), "{out:?}");
    }
}
