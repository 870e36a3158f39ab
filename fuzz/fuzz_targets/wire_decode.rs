//! The JSON wire-format decoder on arbitrary bytes: never panics; a decoded event encodes
//! back to a line that decodes to the same event; a line fed to an engine either is refused
//! without any change or is applied. `decode_event` and the door take a shortcut for plain
//! hot events: the decoder's answer, and the door's lines and state, are those of the long
//! way (`decode_event_through_serde`, `handle`, the encoders). The same bytes read as a
//! message alone (`decode_message`, the C library's `convstate_message_from_json`) never
//! panic either, and a message read encodes back to one that reads the same.
#![no_main]

use convstate::wire::{
    decode_event, decode_event_through_serde, decode_message, encode_effect, encode_output,
};
use convstate::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(message) = decode_message(line) {
        let encoded = serde_json::to_string(&message).expect("messages serialise");
        let again = decode_message(&encoded).expect("an encoded message decodes");
        assert_eq!(message, again, "{line} -> {encoded}");
    }
    let decoded = decode_event(line);
    assert_eq!(decoded, decode_event_through_serde(line), "{line}");
    if let Ok(event) = decoded {
        let encoded = serde_json::to_string(&event).expect("events serialise");
        let again = decode_event(&encoded).expect("an encoded event decodes");
        assert_eq!(event, again, "{line} -> {encoded}");
    }
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    engine.handle_json(
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
    );
    while engine.poll_effect().is_some() {}
    let mut long_way = engine.clone();
    let before = engine.snapshot();
    let lines = engine.handle_json(line);
    let mut expected = vec![encode_output(
        &decode_event_through_serde(line).and_then(|event| long_way.handle(event)),
    )];
    while let Some(effect) = long_way.poll_effect() {
        expected.push(encode_effect(&effect));
    }
    assert_eq!(lines, expected, "{line}");
    assert!(
        engine.snapshot() == long_way.snapshot(),
        "the door's state differs from the long way's: {line}"
    );
    if lines[0].starts_with(r#"{"type":"error""#) {
        assert_eq!(lines.len(), 1, "a refused line caused effects");
        assert!(
            engine.snapshot() == before,
            "a refused line changed the state"
        );
    }
});
