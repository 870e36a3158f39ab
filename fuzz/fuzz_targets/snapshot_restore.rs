//! Snapshot restore from arbitrary bytes. The first byte chooses the mode: the bytes as they
//! are (they must almost always fail the checksum), or sealed with a valid checksum so that
//! the fuzzer reaches the body's decoding and consistency checks. A snapshot that restores
//! must snapshot again byte-stably, lose a business to `remove_business` (or to
//! `take_business`, whose export makes an engine) and restore again, and survive more
//! input, after which the state it saves restores too: nothing a body can hold may make
//! the engine save what it would refuse. The sharded engine's reader gets the
//! bytes too, raw or framed as sealed shard lines, and so does the business import, raw
//! (exports up to version 3 travel without an envelope) or sealed as a version 4 export:
//! an engine made from an export that imports must save states that restore.
#![no_main]

use convstate::partition::{EXPORT_FORMAT, EXPORT_VERSION};
use convstate::sharded::ShardedEngine;
use convstate::sharded::{SHARDED_SNAPSHOT_FORMAT, SHARDED_SNAPSHOT_VERSION};
use convstate::snapshot::{seal, Checksum};
use convstate::Engine;
use libfuzzer_sys::fuzz_target;

/// Input after a restore that records in every table a body can fill: a chat and its
/// ticket, an inbound id, a provider message id, an idempotency key, a content record, a
/// messaging-limit contact (a template to a contact who never wrote), counters and usage.
const FOLLOW_UP: [&str; 8] = [
    r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"fuzz-in-1"}"#,
    r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"},"message_id":"fuzz-out-1","idempotency_key":"fuzz-key-1"}"#,
    r#"{"type":"query_conversation","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+79110000001"}"#,
    r#"{"type":"register_template","at":"2026-11-02T09:03:00Z","business":"fuzz","name":"fuzz_update","language":"en","category":"utility","body":"Update {{1}}.","status":"approved","quality":"high"}"#,
    r#"{"type":"register_number","at":"2026-11-02T09:03:00Z","business":"fuzz","number":"+15559990001","channel":"official"}"#,
    r#"{"type":"opt_in","at":"2026-11-02T09:04:00Z","business":"fuzz","contact":"+79110000002"}"#,
    r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15559990001","contact":"+79110000002","message":{"kind":"template","name":"fuzz_update","language":"en","params":["A"]},"message_id":"fuzz-out-2"}"#,
    r#"{"type":"tick","at":"2027-01-01T00:00:00Z"}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The sharded engine's reader takes the same bytes: as they are, or (mode bit 2) as
    // shard lines sealed with each line's own envelope behind a header with the right count
    // and checksum, so that it reaches the placement, policy and number checks. It must
    // refuse or restore, never panic, and what restores must snapshot again byte-stably.
    let sharded_bytes = if mode & 2 == 0 {
        rest.to_vec()
    } else {
        sharded_sealed(rest)
    };
    if let Ok(sharded) = ShardedEngine::restore(&sharded_bytes) {
        let first = sharded.snapshot();
        let again = ShardedEngine::restore(&first).expect("a fresh sharded snapshot restores");
        assert!(
            again.snapshot() == first,
            "sharded restore(snapshot(e)).snapshot() differs"
        );
    }
    let export = if mode & 4 == 0 {
        rest.to_vec()
    } else {
        export_sealed(rest)
    };
    if let Ok(mut imported) = Engine::from_business_export(&export) {
        let first = imported.snapshot();
        Engine::restore(&first).expect("an engine made from an export restores");
        for line in FOLLOW_UP {
            imported.handle_json(line);
        }
        Engine::restore(&imported.snapshot())
            .expect("the state saved after an import and more input restores");
    }
    let bytes = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        seal(rest)
    };
    let Ok(mut engine) = Engine::restore(&bytes) else {
        return;
    };
    let first = engine.snapshot();
    let again = Engine::restore(&first).expect("a fresh snapshot restores");
    assert!(
        again.snapshot() == first,
        "restore(snapshot(e)).snapshot() differs"
    );
    // Removing a business from any state that restores must work (it rebuilds the engine
    // through the same checks) and leave a state that restores.
    if let Some(business) = engine.businesses().next().map(str::to_owned) {
        let mut without = engine.clone();
        without
            .remove_business(&business)
            .expect("a business of a restored engine can be removed");
        let bytes = without.snapshot();
        let restored = Engine::restore(&bytes).expect("the engine without it restores");
        assert!(
            restored.snapshot() == bytes,
            "remove_business left an unstable state"
        );
        // Taking it is exporting and removing it: the same state left, and an export that
        // makes an engine of its own.
        let mut taken = engine.clone();
        let export = taken
            .take_business(&business)
            .expect("a business of a restored engine can be taken");
        assert!(
            taken.snapshot() == bytes,
            "take_business left another state than remove_business"
        );
        Engine::from_business_export(&export).expect("a taken business makes an engine");
    }
    for line in FOLLOW_UP {
        engine.handle_json(line);
    }
    let _ = engine.poll_timeout();
    Engine::restore(&engine.snapshot()).expect("the state saved after more input restores");
});

/// `body` in a version 4 business export's envelope, with its checksum.
fn export_sealed(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "{{\"format\":\"{EXPORT_FORMAT}\",\"version\":{EXPORT_VERSION},\"checksum\":\"{}\",\"body\":",
        Checksum::CURRENT.hex(body)
    )
    .into_bytes();
    out.extend_from_slice(body);
    out.push(b'}');
    out
}

/// `rest`'s lines (at most 8) each sealed as an engine snapshot, behind a sharded header
/// whose count and checksum match them.
fn sharded_sealed(rest: &[u8]) -> Vec<u8> {
    let shards: Vec<Vec<u8>> = rest.split(|b| *b == b'\n').take(8).map(seal).collect();
    let body = shards.join(&b'\n');
    let mut out = format!(
        "{{\"format\":\"{SHARDED_SNAPSHOT_FORMAT}\",\"version\":{SHARDED_SNAPSHOT_VERSION},\"shards\":{},\"checksum\":\"{}\"}}\n",
        shards.len(),
        Checksum::CURRENT.hex(&body)
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}
