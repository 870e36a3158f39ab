//! The JSON-lines wire format: one event per line in, one result line plus effect lines out.
//!
//! This is the door every binding shares (the CLI, the C library's JSON function, Python's
//! `handle_json`), so that each input gives the same bytes out everywhere. The schema is
//! documented in `docs/events.md`.

use serde::Serialize;

use crate::engine::{Engine, Output};
use crate::event::Event;
use crate::Error;

/// Version of the wire schema; bumped on any incompatible change.
pub const WIRE_VERSION: u32 = 1;

/// Keys a line may carry for test runners; the engine ignores them.
pub const ANNOTATION_KEYS: [&str; 3] = ["expect", "expect_effects", "comment"];

/// Decodes one wire-format line into an event. Annotation keys (`expect`,
/// `expect_effects`, `comment`) are ignored; any other unknown key is an error.
pub fn decode_event(line: &str) -> Result<Event, Error> {
    let invalid = |e: serde_json::Error| Error::InvalidEvent {
        problem: e.to_string(),
    };
    if !ANNOTATION_KEYS.iter().any(|k| line.contains(k)) {
        return serde_json::from_str(line).map_err(invalid);
    }
    let mut value: serde_json::Value = serde_json::from_str(line).map_err(invalid)?;
    if let Some(map) = value.as_object_mut() {
        for key in ANNOTATION_KEYS {
            map.remove(key);
        }
    }
    serde_json::from_value(value).map_err(invalid)
}

/// Encodes a value with a `"type"` key first.
fn typed_line<T: Serialize>(type_name: &str, value: &T) -> String {
    let body = serde_json::to_string(value).expect("outputs serialise infallibly");
    match body.strip_prefix('{') {
        Some("}") => format!("{{\"type\":\"{type_name}\"}}"),
        Some(rest) => format!("{{\"type\":\"{type_name}\",{rest}"),
        None => body,
    }
}

/// The result line for an input.
pub fn encode_output(result: &Result<Output, Error>) -> String {
    match result {
        Ok(output) => serde_json::to_string(output).expect("outputs serialise infallibly"),
        Err(e) => encode_error(e),
    }
}

/// The line for an error.
pub fn encode_error(e: &Error) -> String {
    #[derive(Serialize)]
    struct ErrorLine<'a> {
        error: &'a str,
        kind: &'static str,
        message: String,
    }
    typed_line(
        "error",
        &ErrorLine {
            error: e.code(),
            kind: e.kind().name(),
            message: e.to_string(),
        },
    )
}

/// The line for an effect: `{"type":"effect","effect":...}`.
pub fn encode_effect(effect: &crate::Effect) -> String {
    typed_line("effect", effect)
}

impl Engine {
    /// Applies one wire-format line; returns the result line followed by one line per
    /// effect the input caused. A line that does not decode yields an error line and
    /// changes nothing.
    pub fn handle_json(&mut self, line: &str) -> Vec<String> {
        let result = decode_event(line).and_then(|event| self.handle(event));
        let mut lines = vec![encode_output(&result)];
        while let Some(effect) = self.poll_effect() {
            lines.push(encode_effect(&effect));
        }
        lines
    }
}
