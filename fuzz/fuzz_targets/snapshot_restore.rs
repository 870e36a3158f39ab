//! Snapshot restore from arbitrary bytes. The first byte chooses the mode: the bytes as they
//! are (they must almost always fail the checksum), or sealed with a valid checksum so that
//! the fuzzer reaches the body's decoding and consistency checks. A snapshot that restores
//! must snapshot again byte-stably, and the restored engine must survive more input. The
//! sharded engine's reader gets the raw bytes too.
#![no_main]

use convstate::sharded::ShardedEngine;
use convstate::snapshot::seal;
use convstate::Engine;
use libfuzzer_sys::fuzz_target;

const FOLLOW_UP: [&str; 4] = [
    r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"}}"#,
    r#"{"type":"query_conversation","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+79110000001"}"#,
    r#"{"type":"tick","at":"2027-01-01T00:00:00Z"}"#,
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // The sharded engine's snapshot reader takes the same bytes: it must refuse or restore,
    // never panic.
    if let Ok(sharded) = ShardedEngine::restore(rest) {
        assert!(ShardedEngine::restore(&sharded.snapshot()).is_ok());
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
    for line in FOLLOW_UP {
        engine.handle_json(line);
    }
    let _ = engine.poll_timeout();
    let _ = engine.snapshot();
});
