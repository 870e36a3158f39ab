//! Provider webhook bodies (`Engine::handle_webhook`): the bytes a host's HTTP endpoint
//! receives, which no fuzz target read before. Whatever they are, the reader must answer
//! without panicking; one engine and a sharded engine holding the same state write the same
//! lines; a body refused whole (not a webhook) changes nothing; and the state a body leaves
//! restores from its snapshot to the same bytes.
#![no_main]

use std::sync::OnceLock;

use convstate::sharded::ShardedEngine;
use convstate::webhook::WebhookReader;
use convstate::{Engine, Instant, Policy};
use libfuzzer_sys::fuzz_target;

/// A business whose number Meta names `106540352242922` (the fixtures' id), two approved
/// templates, an opted-in contact who wrote, and two sends whose statuses a body may report:
/// one under a wamid, one under the host's own id (`biz_opaque_callback_data`).
const SETUP: [&str; 7] = [
    r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","phone_number_id":"106540352242922"}"#,
    r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"order_update","language":"en_US","category":"utility","body":"Order {{1}} is on its way","status":"approved"}"#,
    r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en_US","category":"marketing","body":"Spring sale: {{1}} off","status":"approved"}"#,
    r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+79110000001"}"#,
    r#"{"type":"inbound","at":"2026-11-02T08:30:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_update","language":"en_US","params":["A-17"]},"message_id":"wamid.OUT1"}"#,
    r#"{"type":"send","at":"2026-11-02T09:00:05Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"On its way"},"message_id":"crm-42"}"#,
];

fn policy() -> Policy {
    let mut policy = Policy::preset("cloud-2025").expect("a preset");
    policy.provider.release_failed_sends = true;
    policy
}

/// The set-up engine, built once and cloned for each input.
fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut engine = Engine::new(policy());
            for line in SETUP {
                let out = engine.handle_json(line);
                assert!(!out[0].contains(r#""type":"error""#), "{line}: {out:?}");
            }
            while engine.poll_effect().is_some() {}
            engine
        })
        .clone()
}

/// The same state in a sharded engine: acme among businesses of other shards.
fn sharded() -> ShardedEngine {
    let sharded = ShardedEngine::new(policy(), 2).expect("two shards");
    let others = (0..3).map(|b| {
        format!(
            r#"{{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"biz{b}","number":"+1555200{b:04}","channel":"official","phone_number_id":"20000{b}"}}"#
        )
    });
    let mut out = String::new();
    for line in SETUP.iter().map(|l| l.to_string()).chain(others) {
        out.clear();
        sharded.handle_json_into(&line, &mut out);
        assert!(!out.contains(r#""type":"error""#), "{line}: {out}");
    }
    sharded
}

fuzz_target!(|data: &[u8]| {
    // The endpoint's clock: after the set-up, for items without a timestamp of their own.
    let received = Instant::from_unix_millis(1_793_613_600_000).expect("2026-11-02T10:00Z");
    // The fixtures' WABA mapped to acme: the sharded engine holds other businesses too, and
    // an unmapped WABA is only the business of an engine holding one.
    let reader = WebhookReader::new().with_business("102290129340398", "acme");
    let mut engine = engine();
    let before = engine.snapshot();
    let lines = reader.handle_json(&mut engine, data, received);
    assert!(!lines.is_empty(), "an answer for every body");
    let refused_whole = lines.len() == 1 && lines[0].starts_with(r#"{"type":"error""#);
    if refused_whole {
        assert!(
            engine.snapshot() == before,
            "a body refused whole changed the state"
        );
    }
    let from_shards = reader.handle_json_sharded(&sharded(), data, received);
    assert_eq!(
        from_shards, lines,
        "the sharded engine answers as one engine"
    );
    let snapshot = engine.snapshot();
    let restored = Engine::restore(&snapshot).expect("the state a body leaves restores");
    assert!(restored.snapshot() == snapshot, "restore(snapshot) differs");
});
