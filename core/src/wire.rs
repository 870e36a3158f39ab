//! The JSON-lines wire format: one event per line in, one result line plus effect lines out.
//!
//! This is the door every binding shares (the CLI, the C library's JSON function, Python's
//! `handle_json`), so that each input gives the same bytes out everywhere. The schema is
//! documented in `docs/events.md`.

use std::io;

use serde::de::DeserializeSeed;
use serde::Serialize;

use crate::engine::{Engine, Output};
use crate::event::Event;
use crate::{Effect, Error};

mod decode;

pub use decode::EVENT_TYPES;

/// Version of the wire schema; bumped on any incompatible change.
pub const WIRE_VERSION: u32 = 1;

/// Keys a line may carry for test runners; the engine ignores them.
pub const ANNOTATION_KEYS: [&str; 3] = ["expect", "expect_effects", "comment"];

/// Decodes one wire-format line into an event. Annotation keys (`expect`,
/// `expect_effects`, `comment`) are ignored at the top level; any other unknown key is an
/// error. One pass, whether or not the line carries annotations.
pub fn decode_event(line: &str) -> Result<Event, Error> {
    let invalid = |e: serde_json::Error| Error::InvalidEvent {
        problem: e.to_string(),
    };
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let event = DeserializeSeed::deserialize(
        decode::EventSeed {
            skip_annotations: true,
        },
        &mut deserializer,
    )
    .map_err(invalid)?;
    // Trailing characters other than whitespace are an error, as in `serde_json::from_str`.
    deserializer.end().map_err(invalid)?;
    Ok(event)
}

/// Appends `value`'s JSON to `out`.
fn write_json<T: Serialize + ?Sized>(value: &T, out: &mut String) {
    let mut writer = StringWriter {
        out,
        pending: [0; 256],
        pending_len: 0,
    };
    serde_json::to_writer(&mut writer, value).expect("outputs serialise infallibly");
    writer.flush_pending().expect("serde_json writes UTF-8");
}

/// Lets serde_json write straight into a `String`. serde_json writes many small pieces (a
/// quote, a key, a colon), each whole UTF-8 (it splits strings only at the ASCII bytes it
/// escapes); the crate has no `unsafe`, so the text is checked before it joins the `String`,
/// in chunks: checking and appending each piece alone cost more than the serialising did.
struct StringWriter<'a> {
    out: &'a mut String,
    /// Whole pieces not yet checked and appended.
    pending: [u8; 256],
    pending_len: usize,
}

impl StringWriter<'_> {
    fn flush_pending(&mut self) -> io::Result<()> {
        let text =
            std::str::from_utf8(&self.pending[..self.pending_len]).map_err(io::Error::other)?;
        self.out.push_str(text);
        self.pending_len = 0;
        Ok(())
    }
}

impl io::Write for StringWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() > self.pending.len() - self.pending_len {
            self.flush_pending()?;
            if bytes.len() > self.pending.len() {
                let text = std::str::from_utf8(bytes).map_err(io::Error::other)?;
                self.out.push_str(text);
                return Ok(());
            }
        }
        self.pending[self.pending_len..self.pending_len + bytes.len()].copy_from_slice(bytes);
        self.pending_len += bytes.len();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()
    }
}

/// The result line for an input.
pub fn encode_output(result: &Result<Output, Error>) -> String {
    let mut line = String::new();
    encode_output_into(result, &mut line);
    line
}

/// Appends the result line for an input to `out`, without a line break. (`Output` is
/// tagged by `"type"`, which serde writes first.)
pub fn encode_output_into(result: &Result<Output, Error>, out: &mut String) {
    match result {
        Ok(output) => write_json(output, out),
        Err(e) => encode_error_into(e, out),
    }
}

/// The line for an error: `{"type":"error","error":...,"kind":...,"message":...}`.
pub fn encode_error(e: &Error) -> String {
    let mut line = String::new();
    encode_error_into(e, &mut line);
    line
}

/// Appends the line for an error to `out`, without a line break.
pub fn encode_error_into(e: &Error, out: &mut String) {
    #[derive(Serialize)]
    struct ErrorLine<'a> {
        #[serde(rename = "type")]
        line_type: &'static str,
        error: &'static str,
        kind: &'static str,
        // Written through `Display` as it is escaped: no intermediate `String`.
        #[serde(serialize_with = "serialize_display")]
        message: &'a Error,
    }
    write_json(
        &ErrorLine {
            line_type: "error",
            error: e.code(),
            kind: e.kind().name(),
            message: e,
        },
        out,
    );
}

fn serialize_display<S: serde::Serializer>(
    value: &&Error,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(*value)
}

/// The line for an effect: `{"type":"effect","effect":...}`.
pub fn encode_effect(effect: &Effect) -> String {
    let mut line = String::new();
    encode_effect_into(effect, &mut line);
    line
}

/// Appends the line for an effect to `out`, without a line break.
pub fn encode_effect_into(effect: &Effect, out: &mut String) {
    /// The effect's own keys (its `"effect"` tag first) after `"type"`: flattening writes
    /// them into the same object, with no intermediate line to re-format.
    #[derive(Serialize)]
    struct EffectLine<'a> {
        #[serde(rename = "type")]
        line_type: &'static str,
        #[serde(flatten)]
        effect: &'a Effect,
    }
    write_json(
        &EffectLine {
            line_type: "effect",
            effect,
        },
        out,
    );
}

impl Engine {
    /// Applies one wire-format line; returns the result line followed by one line per
    /// effect the input caused. A line that does not decode yields an error line and
    /// changes nothing. [`Engine::handle_json_into`] gives the same lines without an
    /// allocation per line.
    pub fn handle_json(&mut self, line: &str) -> Vec<String> {
        let mut text = String::new();
        self.handle_json_into(line, &mut text);
        // JSON escapes line breaks inside strings, so every `\n` ends a line.
        text.split_terminator('\n').map(str::to_owned).collect()
    }

    /// Applies one wire-format line as [`Engine::handle_json`] does, appending each output
    /// line followed by `\n` to `out`. Nothing is allocated when `out` has room.
    pub fn handle_json_into(&mut self, line: &str, out: &mut String) {
        let result = decode_event(line).and_then(|event| self.handle(event));
        encode_output_into(&result, out);
        out.push('\n');
        while let Some(effect) = self.poll_effect() {
            encode_effect_into(&effect, out);
            out.push('\n');
        }
    }
}
