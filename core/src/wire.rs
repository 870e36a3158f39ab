//! The JSON-lines wire format: one event per line in, one result line plus effect lines out.
//!
//! This is the door every binding shares (the CLI, the C library's JSON function, Python's
//! `handle_json`), so that each input gives the same bytes out everywhere. The schema is
//! documented in `docs/events.md`.

use std::io;

use serde::de::DeserializeSeed;
use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Output};
use crate::event::Event;
use crate::message::OutboundMessage;
use crate::{Effect, Error};

mod decode;
mod hot;
mod keys;
mod locate;
mod ordered;

pub use decode::EVENT_TYPES;
pub(crate) use hot::read_hot;
pub use keys::{is_duration_key, is_instant_key, is_money_key, DURATION_KEYS};
use locate::Shape;
pub(crate) use locate::{lone_surrogate_in, without_lone_surrogates};

/// Version of the wire schema; bumped on any incompatible change.
pub const WIRE_VERSION: u32 = 1;

/// Keys a line may carry for test runners; the engine ignores them.
pub const ANNOTATION_KEYS: [&str; 3] = ["expect", "expect_effects", "comment"];

/// A wire line's text: a line that is not UTF-8 is an [`Error::InvalidEvent`] like any
/// line that does not decode (hosts reading bytes, the command-line tool and Python's
/// `process_bytes`, answer it with the same error line).
pub fn line_text(line: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(line).map_err(|e| Error::InvalidEvent {
        problem: format!("line is not UTF-8: {e}"),
    })
}

/// `data` without the UTF-8 byte-order mark some Windows tools start a file with: it marks
/// the file's encoding and is no part of the first event. Doors that read a whole input (the
/// command-line replay, Python's `process_bytes` and `process`) skip it there; anywhere else
/// it makes its line malformed, with a message that names it.
pub fn strip_byte_order_mark(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)
}

/// Whether a line carries no event: blank lines and `//` comments are skipped by every
/// door that reads many lines (the command-line replay, Python's `process` and
/// `process_bytes`), so that hand-written logs can be annotated.
pub fn is_skippable(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with("//")
}

/// Decodes one wire-format line into an event. Annotation keys (`expect`,
/// `expect_effects`, `comment`) are ignored at the top level; any other unknown key is an
/// error. Keys may come in any order, with the same result; a line with `"type"` first is
/// read in one pass, whether or not it carries annotations, any other in two.
///
/// A line that does not decode is an [`Error::InvalidEvent`] whose problem names the field
/// at fault (`field "message.kind": unknown variant ...`), or says the line is not JSON.
pub fn decode_event(line: &str) -> Result<Event, Error> {
    match read_hot(line) {
        Some(event) => Ok(event.to_event()),
        None => decode_event_through_serde(line),
    }
}

/// [`decode_event`] without the shortcut it takes for plain `inbound`, `send` and
/// `check_send` lines: every line through serde. The doors call it for the lines the
/// shortcut refused; differential tests and the fuzz targets, to check that the two read
/// every line alike.
#[doc(hidden)]
pub fn decode_event_through_serde(line: &str) -> Result<Event, Error> {
    decode_line(line).map_err(|failure| Error::InvalidEvent {
        problem: crate::error::shortened_message(&match failure.field {
            Some(path) => format!("field \"{path}\": {}", failure.problem),
            None => locate::describe(line, failure.problem, failure.is_syntax, Shape::Event),
        }),
    })
}

/// Why a line did not decode, before the field at fault is looked for.
struct Failure {
    /// serde's message; a data error's without its position.
    problem: String,
    /// The line is not JSON (a syntax error, or it ends too early).
    is_syntax: bool,
    /// The path of the value at fault, when the error told it already.
    field: Option<String>,
}

fn decode_line(line: &str) -> Result<Event, Failure> {
    let invalid = |e| Failure::of(line, e, Shape::Event);
    if let Some(read) = decode::read_type_later(line) {
        return read.map_err(invalid);
    }
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let event = DeserializeSeed::deserialize(decode::EventSeed::new(true), &mut deserializer)
        .map_err(invalid)?;
    // Trailing characters other than whitespace are an error, as in `serde_json::from_str`.
    deserializer.end().map_err(invalid)?;
    Ok(event)
}

/// Decodes a message object of the wire format (a `send` line's `message`) on its own, for
/// the doors that take a message apart from an event (the C library's
/// `convstate_message_from_json`). A problem names the field at fault as the event door does
/// for the same message in a `send` line (`field "message.buttons[0]": ...`).
pub fn decode_message(json: &str) -> Result<OutboundMessage, Error> {
    decode_message_line(json).map_err(|failure| Error::InvalidEvent {
        problem: crate::error::shortened_message(&match failure.field {
            Some(path) => Shape::Message.named(&path, &failure.problem),
            None => locate::describe(json, failure.problem, failure.is_syntax, Shape::Message),
        }),
    })
}

fn decode_message_line(line: &str) -> Result<OutboundMessage, Failure> {
    let invalid = |e| Failure::of(line, e, Shape::Message);
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let message = OutboundMessage::deserialize(&mut deserializer).map_err(invalid)?;
    deserializer.end().map_err(invalid)?;
    Ok(message)
}

impl Failure {
    /// serde's error `e` about `line` read as `shape`, with the field at fault when the
    /// error tells it.
    fn of(line: &str, e: serde_json::Error, shape: Shape) -> Failure {
        let mut problem = e.to_string();
        // A data error names the field and the value; where it sits in the line depends on
        // key order and spacing, which differ between doors (a Python dict or a webhook
        // re-encoded), so the position is left out and every door words it the same.
        // Syntax errors keep theirs: only a line has syntax.
        let is_syntax = e.classify() != serde_json::error::Category::Data;
        if is_syntax {
            if let Some((path, problem)) = locate::misread_value(line, &e, shape) {
                return Failure {
                    problem,
                    is_syntax: false,
                    field: Some(path),
                };
            }
        }
        // The line is read as it is scanned: a bad value met before the line turns out not
        // to be JSON (`{"type":"tik",` cut off) would be reported as the value. A line that
        // is not JSON says so first.
        if !is_syntax {
            if let Err(syntax) = serde_json::from_str::<serde::de::IgnoredAny>(line) {
                return Failure {
                    problem: syntax.to_string(),
                    is_syntax: true,
                    field: None,
                };
            }
        }
        if !is_syntax {
            let position = format!(" at line {} column {}", e.line(), e.column());
            if let Some(message) = problem.strip_suffix(&position) {
                problem.truncate(message.len());
            }
        }
        Failure {
            problem,
            is_syntax,
            field: None,
        }
    }
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
        // Half the lines a CRM sends are acknowledged: written here, an ack skips serde's
        // byte-by-byte escaping of its keys and values. Its value is an event type's name,
        // plain snake case (anything else, from a hand-built `Output`, goes through serde).
        Ok(Output::Ack {
            of,
            redelivered: false,
            unmatched: false,
        }) if of.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => {
            out.push_str(r#"{"type":"ack","of":""#);
            out.push_str(of);
            out.push_str(r#""}"#);
        }
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
    /// effect the input caused (after any effects earlier typed calls left queued: the lines
    /// drain the whole queue). A line that does not decode yields an error line and changes
    /// nothing. [`Engine::handle_json_into`] gives the same lines without an
    /// allocation per line.
    pub fn handle_json(&mut self, line: &str) -> Vec<String> {
        // Room for a result line and an effect or two, so that the text is not regrown.
        let mut text = String::with_capacity(1024);
        self.handle_json_into(line, &mut text);
        // JSON escapes line breaks inside strings, so every `\n` ends a line.
        text.split_terminator('\n').map(str::to_owned).collect()
    }

    /// Applies one wire-format line as [`Engine::handle_json`] does, appending each output
    /// line followed by `\n` to `out`. Nothing is allocated when `out` has room.
    pub fn handle_json_into(&mut self, line: &str, out: &mut String) {
        let result = match read_hot(line) {
            Some(event) => self.handle_hot(&event),
            None => decode_event_through_serde(line).and_then(|event| self.handle(event)),
        };
        encode_output_into(&result, out);
        out.push('\n');
        self.poll_effects_into(out);
    }

    /// Polls every queued effect, appending each as a wire line followed by `\n` to `out`:
    /// what [`Engine::handle_json`] writes after its result line, for effects an input gave
    /// no line for (an import's timers).
    pub fn poll_effects_into(&mut self, out: &mut String) {
        while let Some(effect) = self.poll_effect() {
            encode_effect_into(&effect, out);
            out.push('\n');
        }
    }

    /// Applies a line read by the shortcut, as [`Engine::handle`] applies its event.
    pub(crate) fn handle_hot(&mut self, event: &hot::HotEvent<'_>) -> Result<Output, Error> {
        match event {
            hot::HotEvent::Inbound(e) => self.inbound_acked(*e),
            hot::HotEvent::Send(s) => self.send_borrowed(s.borrowed()).map(Output::Decision),
            hot::HotEvent::CheckSend(s) => {
                self.check_send_borrowed(s.borrowed()).map(Output::Decision)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    const SETUP: [&str; 3] = [
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"follow_up","language":"en","category":"utility","body":"Hello, we have an update.","status":"approved","quality":"high"}"#,
        r#"{"type":"register_number","at":"2026-11-02T07:00:00Z","business":"acme","number":"+15550001111","channel":"official","provider":"meta","default_template":{"name":"follow_up","language":"en"}}"#,
        r#"{"type":"opt_in","at":"2026-11-02T07:00:00Z","business":"acme","contact":"+4915200000001"}"#,
    ];

    fn problem(line: &str) -> String {
        match decode_event(line) {
            Err(Error::InvalidEvent { problem }) => problem,
            other => panic!("{line}: expected an invalid_event error, got {other:?}"),
        }
    }

    /// `line` (an object with `"type"` first) with its `"type"` entry moved to the end.
    fn type_last(line: &str) -> String {
        let (type_entry, rest) = line[1..].split_once(',').expect("more than one key");
        format!(
            "{{{},{type_entry}}}",
            rest.strip_suffix('}').expect("an object")
        )
    }

    #[test]
    fn type_first_and_type_later_decode_the_same() {
        let lines = [
            SETUP[0],
            SETUP[1],
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","kind":"text"}"#,
            r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"On its way"},"force":true}"#,
            r#"{"type":"message_status","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+4915200000001","message_id":"m1","status":"delivered","pricing":{"type":"regular","category":"utility"}}"#,
            r#"{"type":"tick","at":0}"#,
        ];
        for line in lines {
            let first = decode_event(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let last = type_last(line);
            assert_eq!(
                decode_event(&last).expect("type last decodes"),
                first,
                "{last}"
            );
            let middle = line.replacen(r#""at""#, r#""comment":"x","at""#, 1);
            assert_eq!(decode_event(&middle).expect("annotated"), first, "{middle}");
            // The typed decoder (no annotations) agrees, and the event's own encoding
            // (type first) decodes back to it.
            assert_eq!(serde_json::from_str::<Event>(&last).expect("serde"), first);
            let encoded = serde_json::to_string(&first).expect("events serialise");
            assert!(encoded.starts_with(r#"{"type":""#), "{encoded}");
            assert_eq!(decode_event(&encoded).expect("re-decodes"), first);
        }
    }

    #[test]
    fn a_bad_value_is_worded_the_same_whatever_the_key_order() {
        let problem = |line: &str| match decode_event(line) {
            Err(Error::InvalidEvent { problem }) => problem,
            other => panic!("{line}: {other:?}"),
        };
        let first = problem(r#"{"type":"tick","at":"yesterday"}"#);
        let later = problem(r#"{ "at" : "yesterday", "type" : "tick" }"#);
        assert_eq!(first, later);
        assert!(first.contains("invalid instant \"yesterday\""), "{first}");
        assert!(first.starts_with("field \"at\": "), "{first}");
        assert!(!first.contains("column"), "{first}");
        // A syntax error keeps its position: only a line has one.
        let syntax = problem(r#"{"type":"tick","at":}"#);
        assert!(syntax.starts_with("not valid JSON: "), "{syntax}");
        assert!(syntax.contains("column"), "{syntax}");
        // A bad value read before the line turns out not to be JSON: the line is not JSON.
        for cut_off in [r#"{"type":"tik","at":0"#, r#"{"type":"tick","at":"x","#] {
            let syntax = problem(cut_off);
            assert!(syntax.starts_with("not valid JSON: EOF"), "{syntax}");
        }
        let marked = problem("\u{feff}{\"type\":\"tick\",\"at\":0}");
        assert!(marked.contains("byte-order mark (U+FEFF)"), "{marked}");
    }

    #[test]
    fn a_bad_value_names_its_field_whatever_the_key_order() {
        let cases = [
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"image","size":-1}"#,
                "field \"size\": invalid value: integer `-1`, expected u64",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"txt","text":"x"}}"#,
                "field \"message.kind\": unknown variant `txt`",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":7}}"#,
                "field \"message.text\": invalid type: integer `7`",
            ),
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"text","colour":"red"}"#,
                "field \"colour\": unknown field `colour`",
            ),
            // A key or value found in two places is named where the error is about.
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","name":"x","message":{"kind":"template","name":"t","language":"en"}}"#,
                "field \"name\": unknown field `name`",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"hi","name":"t"}}"#,
                "field \"message.name\": unknown field `name`",
            ),
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"txt","kind":"txt"}"#,
                "field \"kind\": unknown variant `txt`",
            ),
            // A bad variant equal to the event's type: the type, a known one, is not at
            // fault (removing it changes every error, so the first in the line was named).
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"inbound"}"#,
                "field \"kind\": unknown variant `inbound`",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"send","text":"x"}}"#,
                "field \"message.kind\": unknown variant `send`",
            ),
            // Two bad values: the one serde's message quotes, not the first required key
            // (whose removal changes the message too).
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","size":-1,"kind":"txt"}"#,
                "field \"size\": invalid value: integer `-1`, expected u64",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"image","size":"x","caption":7}}"#,
                "field \"message.size\": invalid type: string \"x\"",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"image","size":1.5,"caption":7}}"#,
                "field \"message.size\": invalid type: floating point `1.5`",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","force":"yes","message":{"kind":"image","size":"x"}}"#,
                "field \"force\": invalid type: string \"yes\", expected a boolean",
            ),
            // A float as serde_json quotes it, in exponent form too.
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","size":1e300,"kind":"txt"}"#,
                "field \"size\": invalid type: floating point `1e+300`, expected u64",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"image","size":1e-7,"caption":7}}"#,
                "field \"message.size\": invalid type: floating point `1e-7`",
            ),
            // The bad value also a tag's: removing the tag changes every error, so the tag
            // is tried last.
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"location","latitude":"location","longitude":1}}"#,
                "field \"message.latitude\": invalid type: string \"location\", expected f64",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"image","size":"image"}}"#,
                "field \"message.size\": invalid type: string \"image\", expected u64",
            ),
            // A bad array, object or null has no value to quote: the trials find it, the
            // line written again with its keys in their order (sorted, the trials met the
            // other bad value first and named the first key tried).
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","size":[1],"kind":"txt"}"#,
                "field \"size\": invalid type: sequence, expected u64",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"image","size":{}},"force":[]}"#,
                "field \"message.size\": invalid type: map, expected u64",
            ),
            // Inside arrays too, with the item's position.
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"t","language":"en","category":"utility","body":"Hi there.","buttons":[{"kind":"quick_reply","label":"A"},{"kind":"link","label":"Yes"}]}"#,
                "field \"buttons[1].kind\": unknown variant `link`",
            ),
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"t","language":"en","category":"utility","body":"Hi there.","buttons":[{"kind":"url","label":"Site","url":"https://x"}]}"#,
                "field \"buttons[0].url\": unknown field `url`",
            ),
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"t","language":"en","category":"utility","body":"Hi there.","buttons":[{"kind":"quick_reply","label":"A"},{"kind":"url"}]}"#,
                "field \"buttons[1].label\": missing field `label`",
            ),
            // An object with two unknown keys: the first is named.
            (
                r#"{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"text","colour":"red","shade":"dark"}"#,
                "field \"colour\": unknown field `colour`",
            ),
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"t","language":"en","category":"utility","body":"Hi there.","buttons":[{"kind":"quick_reply","label":"A"},{"kind":"quick_reply","label":"B","label":"C"}]}"#,
                "field \"buttons[1].label\": duplicate field `label`",
            ),
            // A missing field is named inside the object that lacks it.
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text"}}"#,
                "field \"message.text\": missing field `text`",
            ),
            (
                r#"{"type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":"official","default_template":{"name":"x"}}"#,
                "field \"default_template.language\": missing field `language`",
            ),
            (
                r#"{"type":"send","at":0,"contact":"+4915200000001","message":{"kind":"text","text":"x"}}"#,
                "field \"number\": missing field `number`",
            ),
            // A key given twice is named where it stands twice, not in an annotation.
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"x","text":"y"}}"#,
                "field \"message.text\": duplicate field `text`",
            ),
            (
                r#"{"type":"tick","comment":{"at":1,"at":2},"at":0,"at":1}"#,
                "field \"at\": duplicate field `at`",
            ),
            (
                r#"{"type":"tick","at":0,"type":"tick"}"#,
                "field \"type\": duplicate field `type`",
            ),
        ];
        for (line, expected) in cases {
            for line in [line.to_owned(), type_last(line)] {
                let message = problem(&line);
                assert!(message.starts_with(expected), "{line}: {message}");
            }
        }
        // Past the budget a line is not searched again: the problem alone.
        let padding = "x".repeat(70_000);
        let long = format!(
            r#"{{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"image","size":-1,"comment":"{padding}"}}"#
        );
        assert!(problem(&long).starts_with("invalid value: integer `-1`"));
        // A key twice costs one more reading, so it is named at any length.
        let long = format!(
            r#"{{"type":"inbound","at":0,"number":"+15550001111","contact":"+4915200000001","kind":"text","comment":"{padding}","kind":"text"}}"#
        );
        assert!(problem(&long).starts_with("field \"kind\": duplicate field `kind`"));
    }

    #[test]
    fn a_number_too_large_or_a_name_of_another_type_names_its_field() {
        // serde_json refuses both with a syntax error, `not valid JSON: number out of range
        // at line 1 column 25` or `expected value at ...`, about a line that is JSON.
        let cases = [
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"location","latitude":1e400,"longitude":2}}"#,
                "field \"message.latitude\": number `1e400` is out of range: numbers are read as \
                 64-bit floats, at most 1.7976931348623157e308 in size",
            ),
            (
                r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"latitude":1,"longitude":-1E+999,"kind":"location"}}"#,
                "field \"message.longitude\": number `-1E+999` is out of range",
            ),
            (
                r#"{"type":"tick","at":1e400}"#,
                "field \"at\": number `1e400` is out of range",
            ),
            (
                r#"{"type":"register_number","at":0,"business":"acme","number":"+15550001111","channel":7}"#,
                "field \"channel\": invalid type: integer `7`, expected one of `official`, \
                 `unofficial`, `messenger`, `email`",
            ),
            (
                r#"{"type":"number_quality","at":0,"number":"+15550001111","quality":null}"#,
                "field \"quality\": invalid type: null, expected one of `unknown`, `low`, \
                 `medium`, `high`",
            ),
            (
                r#"{"type":"register_template","at":0,"business":"acme","name":"t","language":"en","category":"utility","body":"Hi there.","buttons":[{"kind":"quick_reply","label":"A"},{"kind":true,"label":"B"}]}"#,
                "field \"buttons[1].kind\": invalid type: boolean `true`, expected one of \
                 `quick_reply`",
            ),
            (
                r#"{"type":"end_chat","at":0,"number":"+15550001111","contact":"+4915200000001","by":[1]}"#,
                "field \"by\": invalid type: sequence, expected `agent` or `rule`",
            ),
        ];
        for (line, expected) in cases {
            for line in [line.to_owned(), type_last(line)] {
                let message = problem(&line);
                assert!(message.starts_with(expected), "{line}: {message}");
            }
        }
        // Spread over lines and spaced, the field is found by its place all the same.
        let spread = "{\"type\": \"tick\",\n  \"comment\": \"x\",\n  \"at\" :  -1e400\n}";
        assert!(
            problem(spread).starts_with("field \"at\": number `-1e400` is out of range"),
            "{}",
            problem(spread)
        );
        // What is not JSON stays so.
        for line in [
            r#"{"type":"tick","at":NaN}"#,
            r#"{"type":"number_quality","at":0,"number":"+15550001111","quality":}"#,
            r#"{"type":"tick","at":1e400"#,
        ] {
            let message = problem(line);
            assert!(message.starts_with("not valid JSON: "), "{line}: {message}");
        }
        // A number too large quoted whole is kept short, as every quoted value is.
        let long = format!(r#"{{"type":"tick","at":1{}}}"#, "0".repeat(10_000));
        let message = problem(&long);
        assert!(
            message.starts_with("field \"at\": number `1000"),
            "{message}"
        );
        assert!(message.len() < 300, "{message}");
    }

    #[test]
    fn annotations_are_ignored_at_the_top_level_only() {
        let plain = decode_event(r#"{"type":"tick","at":0}"#).expect("plain");
        for line in [
            r#"{"type":"tick","at":0,"comment":"x","expect":{"type":"ack","of":"tick"},"expect_effects":[]}"#,
            r#"{"comment":"first","type":"tick","expect":[1,{"a":null}],"at":0}"#,
            r#"{"expect_effects":[{"effect":"x"}],"at":0,"comment":"type later","type":"tick"}"#,
        ] {
            assert_eq!(decode_event(line).expect(line), plain, "{line}");
            // Only the wire door skips them: the typed decoder rejects them as unknown.
            let typed = serde_json::from_str::<Event>(line).expect_err(line);
            assert!(typed.to_string().contains("unknown field"), "{typed}");
        }
        let nested = problem(
            r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"x","comment":"no"}}"#,
        );
        assert!(nested.contains("unknown field `comment`"), "{nested}");
    }

    #[test]
    fn unknown_keys_are_rejected_wherever_type_is() {
        for line in [
            r#"{"type":"tick","at":0,"colour":"red"}"#,
            r#"{"colour":"red","at":0,"type":"tick"}"#,
            r#"{"at":0,"type":"tick","colour":"red"}"#,
        ] {
            let message = problem(line);
            assert!(
                message.contains("unknown field `colour`, expected `at`"),
                "{line}: {message}"
            );
        }
    }

    #[test]
    fn unknown_types_are_named_with_the_known_ones() {
        for line in [
            r#"{"type":"delete_everything","at":0}"#,
            r#"{"at":0,"type":"delete_everything"}"#,
        ] {
            let message = problem(line);
            assert!(
                message.contains("unknown variant `delete_everything`, expected one of"),
                "{message}"
            );
            for name in EVENT_TYPES {
                assert!(message.contains(&format!("`{name}`")), "{name}: {message}");
            }
        }
        assert!(problem(r#"{"type":"TICK","at":0}"#).contains("unknown variant `TICK`"));
        assert!(problem(r#"{"type":7,"at":0}"#).contains("invalid type: integer `7`"));
    }

    /// A message delivered again is acknowledged as such, through the shortcut and through
    /// serde alike (a line the shortcut leaves to serde), and by a typed `handle`; a
    /// first delivery's ack says nothing of it.
    #[test]
    fn a_redelivered_inbound_is_acknowledged_as_redelivered_by_every_path() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        engine.handle_json(
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        );
        let hot = r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid.1"}"#;
        // An escape (`\u002e`, the dot) is serde's to read.
        let by_serde = r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid\u002e1"}"#;
        assert!(hot::read_hot(by_serde).is_none());
        let first = engine.handle_json(hot);
        assert_eq!(first[0], r#"{"type":"ack","of":"inbound"}"#);
        assert!(first.len() > 1, "a chat starts: {first:?}");
        for line in [hot, by_serde] {
            assert_eq!(
                engine.handle_json(line),
                [r#"{"type":"ack","of":"inbound","redelivered":true}"#]
            );
        }
        let event = decode_event(hot).unwrap();
        assert_eq!(
            engine.handle(event),
            Ok(Output::Ack {
                of: "inbound",
                redelivered: true,
                unmatched: false,
            })
        );
        // Another sender's message with that id is a message of its own.
        let other = hot.replace("+79110000001", "+79110000002");
        assert_eq!(
            engine.handle_json(&other)[0],
            r#"{"type":"ack","of":"inbound"}"#
        );
    }

    /// A status that matched no send says so; one that matched says nothing of it.
    #[test]
    fn a_status_is_acknowledged_unmatched_only_when_it_matched_no_send() {
        let mut engine = Engine::with_preset("cloud-2025").unwrap();
        engine.handle_json(
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        );
        engine.handle_json(
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"wamid.in"}"#,
        );
        let sent = engine.handle_json(
            r#"{"type":"send","at":"2026-11-02T09:00:01Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"hi"},"message_id":"crm-1"}"#,
        );
        assert!(sent[0].contains(r#""verdict":"allowed""#), "{sent:?}");
        let status_of = |id: &str, status: &str| {
            format!(
                r#"{{"type":"message_status","at":"2026-11-02T09:00:02Z","number":"+15550001111","contact":"+79110000001","message_id":"{id}","status":"{status}","errors":[131026]}}"#
            )
        };
        let status = |id: &str| status_of(id, "delivered");
        let plain = r#"{"type":"ack","of":"message_status"}"#;
        let unmatched = r#"{"type":"ack","of":"message_status","unmatched":true}"#;
        // Every status of a recorded send is matched, a failure and its redelivery too.
        for kind in ["accepted", "sent", "delivered", "read", "failed", "failed"] {
            assert_eq!(
                engine.handle_json(&status_of("crm-1", kind))[0],
                plain,
                "{kind}"
            );
        }
        // A failure before its send is recorded matches nothing yet; redelivered once the
        // send is, it matches.
        assert_eq!(
            engine.handle_json(&status_of("crm-2", "failed"))[0],
            unmatched
        );
        let sent = engine.handle_json(
            r#"{"type":"send","at":"2026-11-02T09:00:01Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"again"},"message_id":"crm-2"}"#,
        );
        assert!(sent[0].contains(r#""verdict":"allowed""#), "{sent:?}");
        assert_eq!(engine.handle_json(&status_of("crm-2", "failed"))[0], plain);
        assert_eq!(engine.handle_json(&status("wamid.other")), [unmatched]);
        assert_eq!(
            engine.handle(decode_event(&status("wamid.other")).unwrap()),
            Ok(Output::Ack {
                of: "message_status",
                redelivered: false,
                unmatched: true,
            })
        );
    }

    /// A limit reached by the engine's own count says nothing more; one reached only by the
    /// provider's report (131064) says so, its `used` having room.
    #[test]
    fn a_limit_reached_only_by_the_providers_report_says_so() {
        let denial = |level: u32| {
            let policy = crate::Policy::with_overrides(
                "cloud-2025",
                &serde_json::json!({"limits": {"levels": [level, "unlimited"]}}),
            )
            .unwrap();
            let mut engine = Engine::new(policy);
            for line in [
                r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
                r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello","status":"approved"}"#,
                r#"{"type":"number_quality","at":"2026-11-02T08:00:00Z","number":"+15550001111","quality":"low"}"#,
                r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
                r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000002"}"#,
                r#"{"type":"send","at":"2026-11-02T08:00:01Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"promo","language":"en"},"message_id":"m1"}"#,
                r#"{"type":"message_status","at":"2026-11-02T08:00:02Z","number":"+15550001111","contact":"+79110000001","message_id":"m1","status":"failed","errors":[131064]}"#,
            ] {
                let out = engine.handle_json(line);
                assert!(!out[0].contains("error"), "{line}: {out:?}");
            }
            let out = engine.handle_json(
                r#"{"type":"check_send","at":"2026-11-02T08:00:03Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"template","name":"promo","language":"en"}}"#,
            );
            let decision: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
            decision["denial"].clone()
        };
        assert_eq!(
            denial(1),
            serde_json::json!({"reason": "limit_reached", "limit": 1, "used": 1,
                "next_slot_at": "2026-11-03T08:00:01Z"})
        );
        assert_eq!(
            denial(2),
            serde_json::json!({"reason": "limit_reached", "limit": 2, "used": 1,
                "next_slot_at": "2026-11-03T08:00:01Z", "reported_by_provider": true})
        );
    }

    #[test]
    fn acks_are_written_as_serde_writes_them() {
        for of in EVENT_TYPES
            .iter()
            .chain(&["", "not \"plain\"", "Tick"])
            .copied()
        {
            let line = encode_output(&Ok(Output::ack(of)));
            assert_eq!(line, serde_json::to_string(&Output::ack(of)).unwrap());
            assert!(
                serde_json::from_str::<serde_json::Value>(&line).is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn every_listed_type_is_known() {
        for name in EVENT_TYPES {
            let message = problem(&format!(r#"{{"type":"{name}"}}"#));
            assert!(message.contains("missing field `at`"), "{name}: {message}");
        }
    }

    #[test]
    fn a_key_twice_inside_a_message_is_refused_whatever_the_key_order() {
        let lines = [
            r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"x","text":"y"}}"#,
            r#"{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"template","name":"a","name":"b","language":"en"}}"#,
        ];
        for line in lines {
            for line in [line.to_owned(), type_last(line)] {
                let message = problem(&line);
                assert!(message.contains("duplicate field"), "{line}: {message}");
            }
        }
    }

    #[test]
    fn a_key_twice_deeper_in_a_message_is_refused_wherever_its_kind_is() {
        // A message whose kind comes later is kept until the kind is known: a key twice in
        // an object inside it (a list's row, a section, named params) was kept once, the
        // last copy, where the message read kind first refuses it.
        let cases = [
            (
                r#""kind":"list""#,
                r#""body":"b","button":"x","sections":[{"rows":[{"id":"a","title":"t","title":"u"}]}]"#,
                "field \"message.sections[0].rows[0].title\": duplicate field `title`",
            ),
            (
                r#""kind":"list""#,
                r#""body":"b","button":"x","sections":[{"rows":[{"id":"a","title":"t"}],"rows":[]}]"#,
                "field \"message.sections[0].rows\": duplicate field `rows`",
            ),
            (
                r#""kind":"template""#,
                r#""name":"order_ready","language":"en","params":{"1":"b","1":"c"}"#,
                "field \"message.params.1\": duplicate field `1`",
            ),
        ];
        for (kind, fields, expected) in cases {
            for message in [
                format!("{{{kind},{fields}}}"),
                format!("{{{fields},{kind}}}"),
            ] {
                let line = format!(
                    r#"{{"type":"send","at":0,"number":"+15550001111","contact":"+4915200000001","message":{message}}}"#
                );
                for line in [line.clone(), type_last(&line)] {
                    assert_eq!(problem(&line), expected, "{line}");
                }
            }
        }
    }

    #[test]
    fn missing_duplicate_and_malformed_are_errors() {
        let cases = [
            (r#"{"at":0}"#, "missing field `type`"),
            (r#"{"comment":"only"}"#, "missing field `type`"),
            (r#"{}"#, "missing field `type`"),
            (
                r#"{"type":"tick","type":"tick","at":0}"#,
                "duplicate field `type`",
            ),
            (
                r#"{"at":0,"type":"tick","type":"tick"}"#,
                "duplicate field `type`",
            ),
            (r#"{"type":"tick","at":0,"at":1}"#, "duplicate field `at`"),
            (r#"{"at":0,"at":1,"type":"tick"}"#, "duplicate field `at`"),
            (r#"{"type":"inbound","at":0}"#, "missing field `number`"),
            (r#"[1,2]"#, "an object with a \"type\" key"),
            (r#""tick""#, "an object with a \"type\" key"),
            (r#"{"type":"tick","at":0} x"#, "trailing characters"),
            (r#"{"type":"tick","at":0"#, "EOF while parsing"),
        ];
        for (line, expected) in cases {
            let message = problem(line);
            assert!(message.contains(expected), "{line}: {message}");
        }
    }

    #[test]
    fn the_buffer_door_gives_the_same_lines() {
        let lines = [
            SETUP[0],
            SETUP[1],
            SETUP[2],
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","kind":"text"}"#,
            r#"{"type":"check_send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"Line\nbreak \"quoted\" é"}}"#,
            r#"{"type":"send","at":"2026-11-02T09:02:00Z","number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"On its way"}}"#,
            r#"{"type":"end_chat","at":"2026-11-02T09:03:00Z","number":"+15550001111","contact":"+4915200000001","by":"agent"}"#,
            r#"{"type":"send","at":"2026-11-02T09:04:00Z","number":"+15550009999","contact":"+4915200000001","message":{"kind":"text","text":"x"}}"#,
            r#"{"type":"query_conversation","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+4915200000001"}"#,
            r#"{"type":"tick","at":"2026-11-04T09:00:00Z"}"#,
            r#"not json"#,
        ];
        let mut by_vec = Engine::new(Policy::preset("cloud-2025").expect("preset"));
        let mut by_buffer = Engine::new(Policy::preset("cloud-2025").expect("preset"));
        let mut buffer = String::from("kept\n");
        let mut expected = String::from("kept\n");
        let mut effect_lines = 0;
        for line in lines {
            let vec = by_vec.handle_json(line);
            effect_lines += vec.len() - 1;
            for out in &vec {
                assert!(!out.contains('\n'), "{out}");
                expected.push_str(out);
                expected.push('\n');
            }
            by_buffer.handle_json_into(line, &mut buffer);
            assert_eq!(buffer, expected, "after {line}");
        }
        assert!(effect_lines >= 3, "the lines exercise effects: {expected}");
        assert!(
            expected.contains(r#"{"type":"error","error":"#),
            "{expected}"
        );
        assert!(
            expected.contains(r#"{"type":"effect","effect":"#),
            "{expected}"
        );
    }

    #[test]
    fn lines_match_their_reformatted_form() {
        // What `typed_line` gave before lines were serialised straight into the buffer:
        // the value's JSON with `"type"` spliced in first.
        let spliced = |type_name: &str, body: String| match body.strip_prefix('{') {
            Some("}") => format!("{{\"type\":\"{type_name}\"}}"),
            Some(rest) => format!("{{\"type\":\"{type_name}\",{rest}"),
            None => body,
        };
        let mut engine = Engine::new(Policy::preset("cloud-2025").expect("preset"));
        for line in SETUP {
            engine.handle_json(line);
        }
        let inbound = r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","kind":"text"}"#;
        engine
            .handle(decode_event(inbound).expect("inbound"))
            .expect("applied");
        let mut effects = 0;
        while let Some(effect) = engine.poll_effect() {
            let body = serde_json::to_string(&effect).expect("effects serialise");
            assert_eq!(encode_effect(&effect), spliced("effect", body));
            effects += 1;
        }
        assert!(effects > 0);
        let error = decode_event("{").expect_err("not an event");
        let body = serde_json::json!({
            "error": error.code(),
            "kind": error.kind().name(),
            "message": error.to_string(),
        });
        assert_eq!(encode_error(&error), spliced("error", body.to_string()));
    }
}
