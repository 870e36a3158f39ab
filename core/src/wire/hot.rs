//! A shortcut through the wire decoder for the lines a CRM sends most: `inbound`, `send`
//! and `check_send`, written plainly.
//!
//! Decoding through serde (scanning, visitor calls, a `String` per field, the owned
//! [`Event`](crate::Event)) cost half of the JSON door. For the three hot events this reads
//! the line in one scan into the borrowed requests the typed calls take
//! ([`InboundRef`], [`SendRequestRef`]), leaving the strings in the line. The doors
//! apply those directly; [`super::decode_event`] (the command-line replay's reader) turns
//! them into the owned event.
//!
//! It is a shortcut, not a second decoder: it takes only lines it can read exactly as
//! serde does ([`super::decode_event_through_serde`]), and answers `None` for anything else
//! (another type, an escape or a control character in a string, `null`, an unknown,
//! annotation or repeated key, a missing field, a message other than text or a template with
//! positional parameters, a value of another JSON type than the field's, a value serde would
//! refuse, trailing text). Those lines, and every error, go the long way, so messages and
//! edge cases have one source. Leaf values are read by the same code the decoder calls (the
//! `Deserialize` of `Instant` and `InboundKind`); a differential test and the `wire_decode`
//! fuzz target check that every line taken here decodes to the same event through serde.

use serde::de::value::{BorrowedStrDeserializer, Error as ValueError, U64Deserializer};
use serde::Deserialize;

use crate::engine::InboundRef;
use crate::event::InboundKind;
use crate::event::{Event, SendRequest};
use crate::message::{OutboundMessage, TemplateMessage, TemplateParams};
use crate::send::SendRequestRef;
use crate::time::Instant;

/// A hot event read from a plain line.
#[derive(Debug)]
pub(crate) enum HotEvent<'a> {
    Inbound(InboundRef<'a>),
    Send(HotSend<'a>),
    CheckSend(HotSend<'a>),
}

/// A `send` or `check_send` read from a line: the strings borrowed from it, the message
/// owned (the typed calls take an [`OutboundMessage`]).
#[derive(Debug)]
pub(crate) struct HotSend<'a> {
    at: Instant,
    number: &'a str,
    contact: Option<&'a str>,
    group: Option<&'a str>,
    message: OutboundMessage,
    idempotency_key: Option<&'a str>,
    force: bool,
    message_id: Option<&'a str>,
    automated: bool,
}

impl HotSend<'_> {
    /// The request the typed calls take.
    pub(crate) fn borrowed(&self) -> SendRequestRef<'_> {
        SendRequestRef {
            at: self.at,
            number: self.number,
            contact: self.contact,
            group: self.group,
            message: &self.message,
            idempotency_key: self.idempotency_key,
            force: self.force,
            message_id: self.message_id,
            automated: self.automated,
        }
    }

    fn owned(&self) -> SendRequest {
        SendRequest {
            at: self.at,
            number: self.number.to_owned(),
            contact: self.contact.map(str::to_owned),
            group: self.group.map(str::to_owned),
            message: self.message.clone(),
            idempotency_key: self.idempotency_key.map(str::to_owned),
            force: self.force,
            message_id: self.message_id.map(str::to_owned),
            automated: self.automated,
        }
    }
}

impl HotEvent<'_> {
    /// The sending or receiving number (what the sharded engine routes by).
    pub(crate) fn number(&self) -> &str {
        match self {
            HotEvent::Inbound(e) => e.number,
            HotEvent::Send(s) | HotEvent::CheckSend(s) => s.number,
        }
    }

    /// The event as [`super::decode_event`] returns it, owning its strings.
    pub(crate) fn to_event(&self) -> Event {
        match self {
            HotEvent::Inbound(e) => Event::Inbound(crate::event::Inbound {
                at: e.at,
                number: e.number.to_owned(),
                contact: e.contact.map(str::to_owned),
                group: e.group.map(str::to_owned),
                kind: e.kind,
                size: e.size,
                referral: e.referral,
                message_id: e.message_id.map(str::to_owned),
                user_id: e.user_id.map(str::to_owned),
            }),
            HotEvent::Send(s) => Event::Send(s.owned()),
            HotEvent::CheckSend(s) => Event::CheckSend(s.owned()),
        }
    }
}

/// Reads `line` when it is a plain hot event; `None` sends it through
/// [`super::decode_event_through_serde`]. `"type"` may come anywhere, as there: logs
/// written from maps with sorted keys put it last.
pub(crate) fn read_hot(line: &str) -> Option<HotEvent<'_>> {
    let mut s = Scanner { line, at: 0 };
    s.expect(b'{')?;
    let mut fields = Fields::default();
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        fields.read(key, &mut s)?;
    }
    s.skip_space();
    if s.at != line.len() {
        return None;
    }
    match fields.event_type? {
        "inbound" => fields.inbound().map(HotEvent::Inbound),
        "send" => fields.send().map(HotEvent::Send),
        "check_send" => fields.send().map(HotEvent::CheckSend),
        _ => None,
    }
}

/// A leaf value of a plain line.
enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Uint(u64),
}

impl<'a> Value<'a> {
    fn str(self) -> Option<&'a str> {
        match self {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }

    fn bool(self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn uint(self) -> Option<u64> {
        match self {
            Value::Uint(n) => Some(n),
            _ => None,
        }
    }

    /// An instant as `Instant`'s own `Deserialize` reads it: RFC 3339 text or unix
    /// milliseconds.
    fn instant(self) -> Option<Instant> {
        match self {
            Value::Str(text) => {
                Instant::deserialize(BorrowedStrDeserializer::<ValueError>::new(text))
            }
            Value::Uint(ms) => Instant::deserialize(U64Deserializer::<ValueError>::new(ms)),
            Value::Bool(_) => return None,
        }
        .ok()
    }
}

/// The keys of the hot events, read in whatever order the line gives them; which of them
/// the event may have is settled once its type is known.
#[derive(Default)]
struct Fields<'a> {
    event_type: Option<&'a str>,
    at: Option<Instant>,
    number: Option<&'a str>,
    contact: Option<&'a str>,
    group: Option<&'a str>,
    message_id: Option<&'a str>,
    // `inbound`'s own.
    kind: Option<InboundKind>,
    size: Option<u64>,
    referral: Option<bool>,
    // `send`'s and `check_send`'s own.
    message: Option<OutboundMessage>,
    idempotency_key: Option<&'a str>,
    force: Option<bool>,
    automated: Option<bool>,
}

impl<'a> Fields<'a> {
    /// Reads the value of `key`; `None` for a key no hot event has, a key read twice or a
    /// value the shortcut does not take.
    fn read(&mut self, key: &str, s: &mut Scanner<'a>) -> Option<()> {
        match key {
            "type" => fill(&mut self.event_type, s.value()?.str()?),
            "at" => fill(&mut self.at, s.value()?.instant()?),
            "number" => fill(&mut self.number, s.value()?.str()?),
            "contact" => fill(&mut self.contact, s.value()?.str()?),
            "group" => fill(&mut self.group, s.value()?.str()?),
            "message_id" => fill(&mut self.message_id, s.value()?.str()?),
            "kind" => {
                let name = BorrowedStrDeserializer::<ValueError>::new(s.value()?.str()?);
                fill(&mut self.kind, InboundKind::deserialize(name).ok()?)
            }
            "size" => fill(&mut self.size, s.value()?.uint()?),
            "referral" => fill(&mut self.referral, s.value()?.bool()?),
            "message" => fill(&mut self.message, read_message(s)?),
            "idempotency_key" => fill(&mut self.idempotency_key, s.value()?.str()?),
            "force" => fill(&mut self.force, s.value()?.bool()?),
            "automated" => fill(&mut self.automated, s.value()?.bool()?),
            _ => None,
        }
    }

    /// An `inbound`, unless the line has a key only sends have (serde's unknown field).
    fn inbound(self) -> Option<InboundRef<'a>> {
        if self.message.is_some()
            || self.idempotency_key.is_some()
            || self.force.is_some()
            || self.automated.is_some()
        {
            return None;
        }
        Some(InboundRef {
            at: self.at?,
            number: self.number?,
            contact: self.contact,
            group: self.group,
            kind: self.kind?,
            size: self.size,
            referral: self.referral.unwrap_or(false),
            message_id: self.message_id,
            // A line naming a `user_id` is rare: it goes the long way (an unknown key here).
            user_id: None,
        })
    }

    /// A `send` or `check_send`, unless the line has a key only `inbound` has.
    fn send(self) -> Option<HotSend<'a>> {
        if self.kind.is_some() || self.size.is_some() || self.referral.is_some() {
            return None;
        }
        Some(HotSend {
            at: self.at?,
            number: self.number?,
            contact: self.contact,
            group: self.group,
            message: self.message?,
            idempotency_key: self.idempotency_key,
            force: self.force.unwrap_or(false),
            message_id: self.message_id,
            automated: self.automated.unwrap_or(false),
        })
    }
}

/// Puts a key's value in its slot; `None` when the slot is already filled, for a key read
/// twice is serde's `duplicate field` error, so the line goes the long way.
fn fill<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

/// Reads a text message, or a template message whose parameters (if any) are a list (keys
/// in any order).
fn read_message(s: &mut Scanner<'_>) -> Option<OutboundMessage> {
    s.expect(b'{')?;
    let (mut kind, mut text, mut name, mut language, mut params) = (None, None, None, None, None);
    let mut first = true;
    while let Some(key) = s.next_key(first)? {
        first = false;
        match key {
            "kind" => fill(&mut kind, s.value()?.str()?),
            "text" => fill(&mut text, s.value()?.str()?),
            "name" => fill(&mut name, s.value()?.str()?),
            "language" => fill(&mut language, s.value()?.str()?),
            "params" => fill(&mut params, s.strings()?),
            _ => None,
        }?;
    }
    // A key of the other kind is serde's unknown field.
    match kind? {
        "text" if name.is_none() && language.is_none() && params.is_none() => {
            Some(OutboundMessage::Text {
                text: text?.to_owned(),
            })
        }
        "template" if text.is_none() => Some(OutboundMessage::Template(TemplateMessage {
            name: name?.to_owned(),
            language: language?.to_owned(),
            params: TemplateParams::Positional(params.unwrap_or_default()),
            header_params: TemplateParams::default(),
        })),
        _ => None,
    }
}

/// How many bytes of `bytes` a plain string's content can take: up to the first quote,
/// backslash or control character (the end of the string, or what serde must judge). Eight
/// bytes at a time, as serde_json scans (Mycroft's test for a zero byte, whose lowest hit is
/// exact), then one at a time.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let mut len = 0;
    while let Some(chunk) = bytes.get(len..len + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(chunk);
        let control = x.wrapping_sub(ONES * 0x20) & !x;
        let quote = has_zero(x ^ (ONES * u64::from(b'"')));
        let backslash = has_zero(x ^ (ONES * u64::from(b'\\')));
        let stops = (control | quote | backslash) & HIGH;
        if stops != 0 {
            return len + stops.trailing_zeros() as usize / 8;
        }
        len += 8;
    }
    len + bytes[len..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .unwrap_or(bytes.len() - len)
}

/// A cursor over a line, reading only the plain JSON the hot events need.
struct Scanner<'a> {
    line: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Skips whitespace and one `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// The next key of an object, with its `:` read (`first`: no comma before it);
    /// `Some(None)` at the object's closing `}`.
    fn next_key(&mut self, first: bool) -> Option<Option<&'a str>> {
        self.skip_space();
        match self.peek()? {
            b'}' => {
                self.at += 1;
                return Some(None);
            }
            b',' if !first => self.at += 1,
            b'"' if first => {}
            _ => return None,
        }
        let key = self.string()?;
        self.expect(b':')?;
        Some(Some(key))
    }

    /// A string with neither escapes nor control characters (serde refuses the latter).
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let len = plain_len(&self.line.as_bytes()[start..]);
        if self.line.as_bytes().get(start + len) != Some(&b'"') {
            return None;
        }
        self.at = start + len + 1;
        Some(&self.line[start..start + len])
    }

    /// A list of plain strings.
    fn strings(&mut self) -> Option<Vec<String>> {
        self.expect(b'[')?;
        let mut list = Vec::new();
        if self.expect(b']').is_some() {
            return Some(list);
        }
        loop {
            list.push(self.string()?.to_owned());
            if self.expect(b',').is_none() {
                return self.expect(b']').map(|()| list);
            }
        }
    }

    /// A string, `true`, `false` or an unsigned integer without sign, fraction or exponent.
    fn value(&mut self) -> Option<Value<'a>> {
        self.skip_space();
        let rest = &self.line.as_bytes()[self.at..];
        match *rest.first()? {
            b'"' => self.string().map(Value::Str),
            b't' if rest.starts_with(b"true") => {
                self.at += 4;
                Some(Value::Bool(true))
            }
            b'f' if rest.starts_with(b"false") => {
                self.at += 5;
                Some(Value::Bool(false))
            }
            b'0'..=b'9' => {
                let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                // A leading zero, a fraction or an exponent: serde's to judge.
                if (rest[0] == b'0' && len > 1) || matches!(rest.get(len), Some(b'.' | b'e' | b'E'))
                {
                    return None;
                }
                self.at += len;
                self.line[self.at - len..self.at]
                    .parse()
                    .ok()
                    .map(Value::Uint)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::decode_event_through_serde;

    /// The shortcut takes `line`, and reads what the full decoder reads.
    fn taken(line: &str) {
        let event = read_hot(line).unwrap_or_else(|| panic!("not taken: {line}"));
        assert_eq!(
            decode_event_through_serde(line).ok(),
            Some(event.to_event()),
            "{line}"
        );
    }

    #[test]
    fn plain_hot_lines_are_read_as_the_decoder_reads_them() {
        for line in [
            r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","kind":"text"}"#,
            r#"{"type":"inbound","at":"2026-11-02T09:00:00.250+02:00","number":"+15550001111","group":"g-1","kind":"image","size":0,"referral":true,"message_id":"wamid.1"}"#,
            r#"{"type":"inbound","number":"+15550001111","kind":"audio","size":18446744073709551615,"referral":false,"at":"2026-11-02T09:00:00Z","contact":"opaque-id é"}"#,
            r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"On its way"}}"#,
            r#"{"type":"send","at":1762074000000,"number":"+15550001111","contact":"+4915200000001","message":{"kind":"text","text":"Unix milliseconds"}}"#,
            r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001","message":{"text":"","kind":"text"},"idempotency_key":"k-1","force":true,"message_id":"wamid.2"}"#,
            r#"{"type":"send","at":0,"number":"1","contact":"2","message":{"kind":"text","text":"We got it"},"automated":true}"#,
            r#"{"type":"check_send","message":{"kind":"text","text":"Ship ✓"},"at":"2026-11-02T09:00:00Z","number":"+15550001111","group":"g-1","force":false}"#,
            " \t{ \"type\" : \"check_send\" ,\n \"at\":\"2026-11-02T09:00:00Z\", \"number\":\"1\",\"message\": { \"kind\" : \"text\" , \"text\" : \"x\" } }\r\n ",
            // "type" later, as logs written from sorted maps have it.
            r#"{"at":"2026-11-02T09:00:00Z","contact":"+4915200000001","kind":"text","number":"+15550001111","type":"inbound"}"#,
            r#"{"at":"2026-11-02T09:00:00Z","contact":"+4915200000001","message":{"kind":"text","text":"Hi"},"number":"+15550001111","type":"send"}"#,
            r#"{"number":"1","type":"check_send","at":0,"message":{"kind":"text","text":"x"}}"#,
            // Templates with positional parameters, or none.
            r#"{"type":"send","at":0,"number":"1","contact":"2","message":{"kind":"template","name":"order_update","language":"en","params":["A-17"]}}"#,
            r#"{"type":"send","at":0,"number":"1","contact":"2","message":{"language":"en","params":[ "a" , "" ,"é"],"name":"n","kind":"template"}}"#,
            r#"{"type":"check_send","at":0,"number":"1","contact":"2","message":{"kind":"template","name":"n","language":"en","params":[]}}"#,
            r#"{"type":"check_send","at":0,"number":"1","contact":"2","message":{"kind":"template","name":"n","language":"en","params":[ ]}}"#,
            r#"{"type":"send","at":0,"number":"1","contact":"2","message":{"kind":"template","name":"n","language":"en"}}"#,
        ] {
            taken(line);
        }
    }

    #[test]
    fn anything_else_goes_the_long_way() {
        let inbound =
            r#""at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+4915200000001""#;
        let message = r#""message":{"kind":"text","text":"hi"}"#;
        for line in [
            // Other types, or no type.
            format!(r#"{{"type":"opt_in",{inbound}}}"#),
            format!(r#"{{{inbound},"type":"opt_in"}}"#),
            format!(r#"{{{inbound},"kind":"text"}}"#),
            // A key of another hot event.
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","force":false}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","automated":true}}"#),
            format!(r#"{{{inbound},"kind":"text","type":"inbound",{message}}}"#),
            format!(r#"{{"type":"send",{inbound},{message},"referral":false}}"#),
            format!(r#"{{{inbound},{message},"size":1,"type":"check_send"}}"#),
            format!(r#"{{"type":"send",{inbound},{message},"kind":"text"}}"#),
            // Escapes, control characters, null, numbers where strings go, bad leaves.
            format!(r#"{{"type":"inbound",{inbound},"kind":"te\u0078t"}}"#),
            format!("{{\"type\":\"inbound\",{inbound},\"kind\":\"text\",\"message_id\":\"a\tb\"}}"),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","group":null}}"#),
            r#"{"type":"inbound","at":-1,"number":"+15550001111","kind":"text"}"#.to_owned(),
            r#"{"type":"inbound","at":1e3,"number":"+15550001111","kind":"text"}"#.to_owned(),
            r#"{"type":"inbound","at":true,"number":"+15550001111","kind":"text"}"#.to_owned(),
            format!(r#"{{"type":"inbound",{inbound},"kind":"sound"}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","size":01}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","size":1.0}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","size":-1}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","size":18446744073709551616}}"#),
            r#"{"type":"inbound","at":"2026-11-31T09:00:00Z","number":"+15550001111","kind":"text"}"#.to_owned(),
            // Unknown, annotation and repeated keys; missing fields.
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","comment":"x"}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","kinds":"text"}}"#),
            format!(r#"{{"type":"inbound",{inbound},"kind":"text","contact":"+4915200000002"}}"#),
            format!(r#"{{"type":"inbound",{inbound}}}"#),
            format!(r#"{{"type":"send",{inbound},{message},"type":"send"}}"#),
            format!(r#"{{"type":"send",{inbound}}}"#),
            // Messages other than plain text.
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"image","link":"https://x"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"text","text":"hi","kind":"text"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"text"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"text","text":"hi","name":"n"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","text":"hi"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n"}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":{{"a":"b"}}}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":["a",1]}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":["a",]}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":[,]}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":null}}}}"#),
            format!(r#"{{"type":"send",{inbound},"message":{{"kind":"template","name":"n","language":"en","params":["a"],"params":[]}}}}"#),
            // Not JSON, or trailing text.
            format!(r#"{{"type":"send",{inbound},{message},}}"#),
            format!(r#"{{"type":"send",{inbound},{message}}} x"#),
            format!(r#"{{"type":"send",{inbound},{message}}}}}"#),
            format!(r#"{{"type":"send",{inbound},{message}"#),
            format!(r#"{{"type":"send",{inbound},"force":truex,{message}}}"#),
            format!("\u{feff}{{\"type\":\"send\",{inbound},{message}}}"),
        ] {
            assert!(read_hot(&line).is_none(), "taken: {line}");
        }
    }

    /// Pieces of lines, plain and not, for the property below.
    fn piece() -> impl Strategy<Value = String> {
        let keys = prop::sample::select(vec![
            "at",
            "number",
            "contact",
            "group",
            "kind",
            "size",
            "referral",
            "message_id",
            "message",
            "idempotency_key",
            "force",
            "automated",
            "comment",
            "type",
            "text",
            "bogus",
        ]);
        let values = prop::sample::select(vec![
            r#""2026-11-02T09:00:00Z""#,
            r#""2026-11-02T09:00:00.5-03:30""#,
            r#""2026-02-30T09:00:00Z""#,
            "1762074000000",
            r#""+15550001111""#,
            r#""text""#,
            r#""image""#,
            r#""inbound""#,
            r#""send""#,
            r#""a\"b""#,
            r#""é ✓""#,
            "\"\u{7f}\"",
            r#""""#,
            "null",
            "true",
            "false",
            "0",
            "7",
            "01",
            "1.5",
            "1e3",
            "-3",
            "18446744073709551616",
            r#"{"kind":"text","text":"hi"}"#,
            r#"{ "text" : "hi" , "kind" : "text" }"#,
            r#"{"kind":"image","link":"x"}"#,
            r#"{"kind":"text","text":"hi","kind":"text"}"#,
            r#"{"kind":"text","text":1}"#,
            r#"{"kind":"template","name":"n","language":"en","params":["a", "b"]}"#,
            r#"{"params":[],"language":"en","name":"n","kind":"template"}"#,
            r#"{"kind":"template","name":"n","language":"en","params":{"a":"b"}}"#,
            r#"{"kind":"template","name":"n","language":"en","params":["a",]}"#,
            r#"{"kind":"template","name":"n","text":"x"}"#,
            "[\"a\"]",
            "[]",
            "{}",
        ]);
        let space = prop::sample::select(vec!["", " ", "\n", "\t "]);
        let loose =
            (keys, space, values).prop_map(|(k, sp, v)| format!(r#"{sp}"{k}"{sp}:{sp}{v}"#));
        // Optional fields with values of their type, so that many lines stay plain.
        let typed = prop_oneof![
            prop::sample::select(vec!["contact", "group", "message_id", "idempotency_key"])
                .prop_flat_map(|k| "[a-z+0-9 é]{0,6}".prop_map(move |v| format!(r#""{k}":"{v}""#))),
            any::<u64>().prop_map(|n| format!(r#""size":{n}"#)),
            (
                prop::sample::select(vec!["referral", "force"]),
                any::<bool>()
            )
                .prop_map(|(k, b)| format!(r#""{k}":{b}"#)),
        ];
        prop_oneof![1 => loose, 2 => typed]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Whatever the shortcut takes, the full decoder reads the same event from; and the
        /// full decoder answers a line the same wherever its "type" stands.
        #[test]
        fn the_shortcut_agrees_with_the_decoder_whatever_the_key_order(
            kind in prop::sample::select(vec!["inbound", "send", "check_send", "opt_in"]),
            plain in prop::bool::ANY,
            pieces in prop::collection::vec(piece(), 0..5),
            tail in prop::sample::select(vec!["", " ", "\n", ",", "x", "}"]),
            rotation in 0usize..8,
        ) {
            // Half the lines start from a plain event, so that most of them are taken.
            let mut parts = vec![format!(r#""type":"{kind}""#)];
            if plain {
                parts.push(r#""at":"2026-11-02T09:00:00Z","number":"+15550001111""#.to_owned());
                parts.push(if kind == "inbound" {
                    r#""kind":"text""#.to_owned()
                } else if rotation % 2 == 0 {
                    r#""message":{"kind":"text","text":"hi"}"#.to_owned()
                } else {
                    r#""message":{"kind":"template","name":"n","language":"en","params":["a"]}"#
                        .to_owned()
                });
            }
            parts.extend(pieces);
            // "type" first in a third of the lines, elsewhere in the others.
            let rotation = rotation.saturating_sub(2) % parts.len();
            parts.rotate_left(rotation);
            let line = format!("{{{}}}{tail}", parts.join(","));
            if let Some(event) = read_hot(&line) {
                prop_assert_eq!(decode_event_through_serde(&line).ok(), Some(event.to_event()), "{}", line);
            }
            // Where "type" stands changes nothing in valid JSON: the same event, or the
            // same error (the one-pass reader against the two-pass one), but for the column
            // some of serde_json's messages name.
            let without_position = |decoded: Result<Event, crate::Error>| {
                decoded.map_err(|e| {
                    let text = e.to_string();
                    text.split(" at line ").next().unwrap_or_default().to_owned()
                })
            };
            let types: Vec<usize> = (0..parts.len())
                .filter(|&i| parts[i].trim_start().starts_with(r#""type""#))
                .collect();
            let is_json = serde_json::from_str::<serde::de::IgnoredAny>(&line).is_ok();
            if let ([at], true) = (types.as_slice(), is_json) {
                let type_part = parts.remove(*at);
                parts.insert(0, type_part);
                let type_first = format!("{{{}}}{tail}", parts.join(","));
                prop_assert_eq!(
                    without_position(decode_event_through_serde(&line)),
                    without_position(decode_event_through_serde(&type_first)),
                    "{} / {}", line, type_first
                );
            }
        }
    }
}
