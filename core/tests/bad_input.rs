//! The bad-input catalogue, Rust surface: what hosts' webhooks and operators may send, and
//! the exact error each must give. For every case the engine's snapshot is byte-identical
//! before and after, and no effect was produced.
//!
//! The C surface is `tests/c/bad_input.c`, the Python one `python/tests/test_bad_input.py`;
//! `docs/ROBUSTNESS.md` counts all three.

use convstate::event::{Inbound, InboundKind, SendRequest};
use convstate::message::{TemplateMessage, TemplateParams};
use convstate::{Engine, Error, ErrorKind, Instant, OutboundMessage, Policy};
use serde_json::Value;

const NUMBER: &str = "+15550001111";
const CONTACT: &str = "+79110000001";

/// A typed inbound text at `at` to `number` from `contact`, with `user_id` beside it.
fn text_from(at: Instant, number: &str, contact: &str, user_id: Option<&str>) -> Inbound {
    Inbound {
        at,
        number: number.into(),
        contact: Some(contact.into()),
        group: None,
        kind: InboundKind::Text,
        size: None,
        referral: false,
        message_id: None,
        user_id: user_id.map(Into::into),
    }
}

/// An engine with a business, an official number, templates (one with a variable, one
/// paused), a contact whose live chat is open, and a clock at 2026-11-02T09:00:00Z.
fn engine() -> Engine {
    let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
    for line in [
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"order_ready","language":"en","category":"utility","body":"Your order {{1}} is ready.","status":"approved","quality":"high"}"#,
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Sale today","status":"paused"}"#,
        r#"{"type":"register_template","at":"2026-11-02T07:00:00Z","business":"acme","name":"retired","language":"en","category":"marketing","body":"Old news","status":"disabled"}"#,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"globex","number":"+15550003333","channel":"unofficial"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    ] {
        let out = engine.handle_json(line);
        assert!(
            !out[0].contains(r#""type":"error""#),
            "setup {line}: {out:?}"
        );
    }
    while engine.poll_effect().is_some() {}
    engine
}

/// The kind column of a case whose input is a send that must be denied (the code column is
/// then the denial reason).
const DENIED: &str = "denied";

/// (case name, wire line, expected `Error::code()` or denial reason, expected kind name or
/// [`DENIED`]).
const LINES: &[(&str, &str, &str, &str)] = &[
    // ---- malformed and oversized JSON
    ("empty line", "", "invalid_event", "invalid_input"),
    (
        "whitespace only",
        "   \t ",
        "invalid_event",
        "invalid_input",
    ),
    ("not JSON", "hello", "invalid_event", "invalid_input"),
    (
        "truncated object",
        r#"{"type":"inbound","at":"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "trailing garbage",
        r#"{"type":"tick","at":0} x"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "two objects on one line",
        r#"{"type":"tick","at":0}{"type":"tick","at":0}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "JSON array",
        r#"[{"type":"tick","at":0}]"#,
        "invalid_event",
        "invalid_input",
    ),
    ("JSON string", r#""tick""#, "invalid_event", "invalid_input"),
    ("JSON null", "null", "invalid_event", "invalid_input"),
    ("deeply nested", "DEEP", "invalid_event", "invalid_input"),
    (
        "1 MB text field in an unknown event",
        "HUGE",
        "invalid_event",
        "invalid_input",
    ),
    (
        "1 MB template name",
        "LONG_TEMPLATE_NAME",
        "invalid_template",
        "invalid_input",
    ),
    (
        "1 MB business name on a number another business owns",
        "LONG_BUSINESS_OF_A_NUMBER_OWNED",
        "number_owned_by_other",
        "invalid_input",
    ),
    (
        "lone surrogate escape",
        r#"{"type":"inbound","at":0,"number":"\ud800","contact":"+79110000001","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- wrong types
    (
        "type is a number",
        r#"{"type":7,"at":0}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "at is a boolean",
        r#"{"type":"tick","at":true}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "at is an object",
        r#"{"type":"tick","at":{"ms":0}}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "at is a float",
        r#"{"type":"tick","at":1.5}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "number is an integer",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":15550001111,"contact":"+79110000001","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "message is a string",
        r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":"hi"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "send_failed code negative",
        r#"{"type":"send_failed","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","code":-1}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "send_failed code above u32",
        r#"{"type":"send_failed","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","code":4294967296}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "media size negative",
        r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"image","size":-5}}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "missing required field",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "missing type",
        r#"{"at":"2026-11-02T09:05:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown field",
        r#"{"type":"tick","at":0,"colour":"red"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "duplicate field",
        r#"{"type":"tick","at":0,"at":1}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- unknown event types and enum values
    (
        "unknown event type",
        r#"{"type":"delete_everything","at":0}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "event type in upper case",
        r#"{"type":"TICK","at":0}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown inbound kind",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","kind":"hologram"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown channel",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550002222","channel":"pigeon"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown message kind",
        r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"telegram","text":"x"}}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown ticket status",
        r#"{"type":"set_ticket_status","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","status":"archived"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown chat ender",
        r#"{"type":"end_chat","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","by":"cat"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown quality",
        r#"{"type":"number_quality","at":"2026-11-02T09:05:00Z","number":"+15550001111","quality":"excellent"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown template category",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"spam","body":"Hi"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "unknown preference value",
        r#"{"type":"user_preference","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","value":"maybe"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- instants: huge, negative, overflowing, malformed
    (
        "negative unix millis",
        r#"{"type":"inbound","at":-1,"number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "i64::MIN millis",
        r#"{"type":"tick","at":-9223372036854775808}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "i64::MAX millis",
        r#"{"type":"tick","at":9223372036854775807}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "millis beyond u64",
        r#"{"type":"tick","at":99999999999999999999999}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "year 10000",
        r#"{"type":"tick","at":"10000-01-01T00:00:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "year 1969",
        r#"{"type":"tick","at":"1969-12-31T23:59:59Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "instant without zone",
        r#"{"type":"tick","at":"2026-11-02T09:00:00"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "instant February 30",
        r#"{"type":"tick","at":"2026-02-30T09:00:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "instant empty string",
        r#"{"type":"tick","at":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "idle timeout zero",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550001111","channel":"official","idle_timeout":"0s"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "idle timeout negative",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550001111","channel":"official","idle_timeout":"-5m"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- phone numbers and ids
    (
        "empty phone number",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"","kind":"text"}"#,
        "invalid_user_id",
        "invalid_input",
    ),
    (
        "phone number too short",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+1234","kind":"text"}"#,
        "invalid_phone_number",
        "invalid_input",
    ),
    (
        "phone number of 40 digits",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+1234567890123456789012345678901234567890","kind":"text"}"#,
        "invalid_phone_number",
        "invalid_input",
    ),
    (
        "phone number with a leading zero",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+0123456789","kind":"text"}"#,
        "invalid_phone_number",
        "invalid_input",
    ),
    (
        "phone number with letters",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+1555CALLNOW","kind":"text"}"#,
        "invalid_phone_number",
        "invalid_input",
    ),
    (
        "user id with whitespace",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"US 1234","kind":"text"}"#,
        "invalid_user_id",
        "invalid_input",
    ),
    (
        "contact and group together",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550003333","contact":"+79110000001","group":"1203@g.us","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "contact and group together on the official channel (the event's own fault first)",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","group":"1203@g.us","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "neither contact nor group",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","kind":"text"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- unknown things
    (
        "unknown number",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15559999999","contact":"+79110000001","kind":"text"}"#,
        "unknown_number",
        "not_found",
    ),
    (
        "unknown template",
        r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"nope","language":"en","params":[]}}"#,
        "unknown_template",
        "not_found",
    ),
    (
        "unknown business",
        r#"{"type":"query_template","at":"2026-11-02T09:05:00Z","business":"initech","name":"order_ready","language":"en"}"#,
        "unknown_business",
        "not_found",
    ),
    (
        "end a chat that is not live",
        r#"{"type":"end_chat","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+4915112345678","by":"agent"}"#,
        "no_live_chat",
        "not_found",
    ),
    (
        "ticket of a stranger",
        r#"{"type":"set_ticket_status","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+4915112345678","status":"closed"}"#,
        "no_ticket",
        "not_found",
    ),
    (
        "number of another business",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"globex","number":"+15550001111","channel":"official"}"#,
        "number_owned_by_other",
        "invalid_input",
    ),
    // ---- template bodies and parameters (a send whose parameters do not fit is a denied
    // decision, not an error, and a denied `send` is counted; `check_send` gives the same
    // decision and must change nothing)
    (
        "template variable never closed",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"Hi {{1"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "template variable with a gap",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"Hi {{1}} and {{3}}"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "template variables mixed",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"Hi {{1}} and {{name}}"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "template closing braces alone",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"Hi }} there"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "template variable empty",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"Hi {{}} there"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "template body 100k characters",
        "LONG_BODY",
        "invalid_template",
        "invalid_input",
    ),
    (
        "template name in upper case",
        r#"{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"Order","language":"en","category":"utility","body":"Hi"}"#,
        "invalid_template",
        "invalid_input",
    ),
    (
        "too many parameters",
        r#"{"type":"check_send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_ready","language":"en","params":["a","b","c"]}}"#,
        "template_params",
        DENIED,
    ),
    (
        "too few parameters",
        r#"{"type":"check_send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_ready","language":"en","params":[]}}"#,
        "template_params",
        DENIED,
    ),
    (
        "named parameters for a positional body",
        r#"{"type":"check_send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"order_ready","language":"en","params":{"order":"A-1"}}}"#,
        "template_params",
        DENIED,
    ),
    (
        "edit of a disabled template",
        r#"{"type":"edit_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"retired","language":"en","body":"New sale"}"#,
        "template_not_editable",
        "invalid_input",
    ),
    // ---- idempotency keys and message ids: absent or 1..=256 bytes
    (
        "empty idempotency key (would answer every later send from memory)",
        r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"},"idempotency_key":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "empty idempotency key on a check",
        r#"{"type":"check_send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"Hi"},"idempotency_key":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "empty message id on an initiate",
        r#"{"type":"initiate","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000002","message":{"kind":"text","text":"Hi"},"message_id":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "empty inbound message id",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "idempotency key of 257 bytes",
        "LONG_KEY",
        "invalid_event",
        "invalid_input",
    ),
    (
        "inbound message id of 257 bytes",
        "LONG_MESSAGE_ID",
        "invalid_event",
        "invalid_input",
    ),
    (
        "consent naming a business and another business's number",
        r#"{"type":"opt_in","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550003333","contact":"+79110000001"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "business name with a line break",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"ac\nme","number":"+15550002222","channel":"official"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // Registration fields stored for later (a C host passing "" for "none"): an empty
    // provider id was claimed as a real one, refusing every later number given it, and a
    // default template no template can be failed only at `initiate`.
    (
        "empty phone_number_id",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550002222","channel":"official","phone_number_id":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "empty provider",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550002222","channel":"official","provider":""}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "default template with an empty name",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550002222","channel":"official","default_template":{"name":"","language":"en"}}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "default template with an empty language",
        r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+15550002222","channel":"official","default_template":{"name":"follow_up","language":""}}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        // Fuzz regression (event_sequence, session 9): the report's order was recorded before
        // its level was checked, so the refusal changed the snapshot.
        "messaging limit of a level the policy does not have",
        r#"{"type":"messaging_limit","at":"2026-11-02T09:05:00Z","number":"+15550001111","limit":1586130951}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- ends before starts
    (
        "a restriction ending before it starts",
        r#"{"type":"number_restriction","at":"2026-11-02T10:00:00Z","number":"+15550001111","scope":"business_initiated","until":"2026-11-02T09:00:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "a pause ending when it starts",
        r#"{"type":"template_status","at":"2026-11-02T11:00:00Z","business":"acme","name":"order_ready","language":"en","status":"paused","until":"2026-11-02T11:00:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    (
        "a flag whose disable date has passed when it is raised",
        r#"{"type":"template_status","at":"2026-11-02T11:00:00Z","business":"acme","name":"order_ready","language":"en","status":"flagged","until":"2026-11-01T11:00:00Z"}"#,
        "invalid_event",
        "invalid_input",
    ),
    // ---- channels
    (
        "group on the official channel",
        r#"{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","group":"120363043211234567@g.us","kind":"text"}"#,
        "not_on_channel",
        "invalid_input",
    ),
];

/// Lines too large or too deep to write out in the table.
fn expand(line: &str) -> String {
    match line {
        "DEEP" => format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        "HUGE" => format!(
            r#"{{"type":"shout","at":0,"text":"{}"}}"#,
            "a".repeat(1 << 20)
        ),
        "LONG_BODY" => format!(
            r#"{{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"x","language":"en","category":"utility","body":"{}"}}"#,
            "b".repeat(100_000)
        ),
        "LONG_KEY" => format!(
            r#"{{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","message":{{"kind":"text","text":"Hi"}},"idempotency_key":"{}"}}"#,
            "k".repeat(convstate::MAX_ID_BYTES + 1)
        ),
        "LONG_MESSAGE_ID" => format!(
            r#"{{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+79110000001","kind":"text","message_id":"{}"}}"#,
            "m".repeat(convstate::MAX_ID_BYTES + 1)
        ),
        "LONG_TEMPLATE_NAME" => format!(
            r#"{{"type":"register_template","at":"2026-11-02T09:05:00Z","business":"acme","name":"{}","language":"en","category":"utility","body":"Hi"}}"#,
            "n".repeat(1 << 20)
        ),
        "LONG_BUSINESS_OF_A_NUMBER_OWNED" => format!(
            r#"{{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"{}","number":"+15550001111","channel":"official"}}"#,
            "b".repeat(1 << 20)
        ),
        other => other.to_owned(),
    }
}

#[test]
fn every_bad_line_gives_its_error_and_changes_nothing() {
    let mut failures = Vec::new();
    for &(name, line, code, kind) in LINES {
        let mut engine = engine();
        let before = engine.snapshot();
        let lines = engine.handle_json(&expand(line));
        let result: Value = serde_json::from_str(&lines[0]).expect("result lines are JSON");
        let as_expected = if kind == DENIED {
            result["type"] == "decision"
                && result["verdict"] == "denied"
                && result["denial"]["reason"] == code
        } else {
            result["type"] == "error" && result["error"] == code && result["kind"] == kind
        };
        if !as_expected {
            failures.push(format!(
                "{name}: expected {code} ({kind}), got {}",
                lines[0].chars().take(300).collect::<String>()
            ));
            continue;
        }
        if lines.len() != 1 {
            failures.push(format!(
                "{name}: the refusal came with effects: {:?}",
                &lines[1..]
            ));
        }
        // An error quotes a long input by its first characters: a megabyte name does not
        // make a megabyte message in every binding's exception and log line.
        if lines[0].len() > 1024 {
            failures.push(format!(
                "{name}: a {}-byte result line for a {}-byte input",
                lines[0].len(),
                expand(line).len()
            ));
        }
        if engine.snapshot() != before {
            failures.push(format!("{name}: the refused input changed the state"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        LINES.len(),
        failures.join("\n")
    );
}

#[test]
fn time_going_backwards_is_applied_at_the_clock_not_refused() {
    // An inbound an hour before the clock is not an error (late webhooks happen): it is
    // applied, the clock stays, and the window it would have opened earlier never shortens
    // the current one (RULES.md §2).
    let mut engine = engine();
    let clock = engine.clock();
    let ends = |e: &Engine| {
        e.conversation(NUMBER, CONTACT, e.clock())
            .expect("a view")
            .window_ends_at
    };
    let window_before = ends(&engine);
    let out = engine.handle_json(
        r#"{"type":"inbound","at":"2026-11-02T08:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    );
    assert_eq!(out[0], r#"{"type":"ack","of":"inbound"}"#);
    assert_eq!(engine.clock(), clock, "the clock never moves back");
    assert_eq!(ends(&engine), window_before);
}

#[test]
fn views_refuse_an_instant_before_the_clock_naming_both() {
    // The engine keeps no history (a window's earlier end, a flag since cleared are gone),
    // so a view of an instant before its clock would mix then and now: each view refuses
    // it, and shows the clock itself or any later instant.
    let engine = engine();
    let clock = engine.clock();
    let millis = |ms: i64| Instant::from_unix_millis(ms).expect("in range");
    let just_before = millis(clock.unix_millis() - 1);
    type View = fn(&Engine, Instant) -> Result<(), Error>;
    let views: [(&str, View); 4] = [
        ("conversation", |e, at| {
            e.conversation(NUMBER, CONTACT, at).map(drop)
        }),
        ("number_at", |e, at| e.number_at(NUMBER, at).map(drop)),
        ("limit", |e, at| e.limit(NUMBER, at).map(drop)),
        ("template_at", |e, at| {
            e.template_at("acme", "order_ready", "en", at).map(drop)
        }),
    ];
    for (name, view) in views {
        for at in [just_before, Instant::EPOCH] {
            let error = view(&engine, at).expect_err(name);
            assert_eq!(error, Error::ViewBeforeClock { at, clock }, "{name}");
            assert_eq!(
                (error.kind(), error.code()),
                (ErrorKind::InvalidInput, "view_before_clock"),
                "{name}"
            );
        }
        assert_eq!(
            view(&engine, just_before).unwrap_err().to_string(),
            "view at 2026-11-02T08:59:59.999Z is before the engine's clock, \
             2026-11-02T09:00:00Z: the engine keeps no history, so a view shows its clock or \
             a later instant",
            "{name}"
        );
        for at in [
            clock,
            millis(clock.unix_millis() + 1),
            millis(i64::MAX / 100_000),
        ] {
            view(&engine, at).unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
        }
    }
}

#[test]
fn a_late_query_line_reads_at_the_clock_as_a_late_check_send_is_judged() {
    // On the wire late lines are normal (RULES.md §13): a query line before the clock is
    // answered at the clock, not refused, and its window agrees with a check_send of the
    // same instant. The window opened at 09:00 ends the next day at 09:00.
    let mut engine = engine();
    engine.handle_json(r#"{"type":"tick","at":"2026-11-03T10:00:00Z"}"#);
    let late = "2026-11-03T08:00:00Z";
    let view = engine.handle_json(&format!(
        r#"{{"type":"query_conversation","at":"{late}","number":"{NUMBER}","contact":"{CONTACT}"}}"#
    ));
    let view: Value = serde_json::from_str(&view[0]).expect("JSON");
    assert_eq!(view["type"], "conversation", "{view}");
    assert_eq!(view["window_open"], false, "{view}");
    assert_eq!(view["window_ends_at"], "2026-11-03T09:00:00Z", "{view}");
    let decision = engine.handle_json(&format!(
        r#"{{"type":"check_send","at":"{late}","number":"{NUMBER}","contact":"{CONTACT}","message":{{"kind":"text","text":"Hi"}}}}"#
    ));
    assert!(
        decision[0].contains(r#""reason":"window_closed""#),
        "{decision:?}"
    );
}

/// Typed calls: the same refusals through the Rust API, each with its exact variant.
#[test]
fn typed_calls_refuse_bad_input_and_change_nothing() {
    let at = Instant::from_unix_millis(1_793_610_300_000).expect("in range");
    let before_clock = Instant::from_unix_millis(1_793_606_400_000).expect("in range");
    let send = move |contact: &str, message: OutboundMessage| -> SendRequest {
        let line = serde_json::json!({
            "type": "send", "at": at.unix_millis(), "number": NUMBER, "contact": contact,
            "message": message,
        });
        match convstate::wire::decode_event(&line.to_string()).expect("decodes") {
            convstate::Event::Send(request) => request,
            other => panic!("{other:?}"),
        }
    };
    type Call = Box<dyn Fn(&mut Engine) -> Result<(), Error>>;
    let template = |name: &str, params: Vec<&str>| {
        OutboundMessage::Template(TemplateMessage {
            name: name.into(),
            language: "en".into(),
            params: TemplateParams::Positional(params.into_iter().map(String::from).collect()),
            header_params: TemplateParams::default(),
        })
    };
    let cases: Vec<(&str, Call, ErrorKind, &str)> = vec![
        (
            "instant -1 ms",
            Box::new(|_| Instant::from_unix_millis(-1).map(|_| ())),
            ErrorKind::InvalidInput,
            "instant_out_of_range",
        ),
        (
            "instant i64::MAX",
            Box::new(|_| Instant::from_unix_millis(i64::MAX).map(|_| ())),
            ErrorKind::InvalidInput,
            "instant_out_of_range",
        ),
        (
            "instant not RFC 3339",
            Box::new(|_| Instant::parse_rfc3339("yesterday").map(|_| ())),
            ErrorKind::InvalidInput,
            "invalid_instant",
        ),
        (
            "unknown preset",
            Box::new(|_| Policy::preset("cloud-1999").map(|_| ())),
            ErrorKind::Policy,
            "unknown_policy",
        ),
        (
            "override of an unknown field",
            Box::new(|_| {
                Policy::with_overrides("classic", &serde_json::json!({"window": {"lenght": "24h"}}))
                    .map(|_| ())
            }),
            ErrorKind::Policy,
            "invalid_policy",
        ),
        (
            "check_send of an unknown template",
            Box::new(move |e| {
                e.check_send(&send(CONTACT, template("nope", vec!["a"])))
                    .map(|_| ())
            }),
            ErrorKind::NotFound,
            "unknown_template",
        ),
        (
            "send to a malformed contact",
            Box::new(move |e| {
                e.send(&send("+12", OutboundMessage::Text { text: "x".into() }))
                    .map(|_| ())
            }),
            ErrorKind::InvalidInput,
            "invalid_phone_number",
        ),
        (
            "inbound on an unknown number",
            Box::new(move |e| {
                e.handle(convstate::Event::Inbound(text_from(
                    at,
                    "+15559999999",
                    CONTACT,
                    None,
                )))
                .map(|_| ())
            }),
            ErrorKind::NotFound,
            "unknown_number",
        ),
        (
            "conversation view of a malformed contact",
            Box::new(move |e| e.conversation(NUMBER, "not a phone", at).map(|_| ())),
            ErrorKind::InvalidInput,
            "invalid_user_id",
        ),
        (
            "conversation view before the clock",
            Box::new(move |e| e.conversation(NUMBER, CONTACT, before_clock).map(|_| ())),
            ErrorKind::InvalidInput,
            "view_before_clock",
        ),
        (
            "number view before the clock",
            Box::new(move |e| e.number_at(NUMBER, before_clock).map(|_| ())),
            ErrorKind::InvalidInput,
            "view_before_clock",
        ),
        (
            "limit view before the clock",
            Box::new(move |e| e.limit(NUMBER, before_clock).map(|_| ())),
            ErrorKind::InvalidInput,
            "view_before_clock",
        ),
        (
            "template view before the clock",
            Box::new(move |e| {
                e.template_at("acme", "order_ready", "en", before_clock)
                    .map(|_| ())
            }),
            ErrorKind::InvalidInput,
            "view_before_clock",
        ),
        (
            "restore of an empty snapshot",
            Box::new(|_| Engine::restore(b"").map(|_| ())),
            ErrorKind::Snapshot,
            "corrupt_snapshot",
        ),
    ];
    for (name, call, kind, code) in cases {
        let mut engine = engine();
        let before = engine.snapshot();
        match call(&mut engine) {
            Ok(()) => panic!("{name}: accepted"),
            Err(e) => {
                assert_eq!((e.kind(), e.code()), (kind, code), "{name}: {e}");
            }
        }
        assert!(engine.poll_effect().is_none(), "{name}: effects");
        assert!(engine.snapshot() == before, "{name}: the state changed");
    }
}

/// A policy built field by field (its fields are public) that breaks an invariant the rules
/// rely on: `try_new` and the sharded engine refuse it naming the field; `new` panics at
/// once naming it, not at the first template send (where an empty limit list panicked).
#[test]
fn a_hand_built_policy_without_limit_levels_is_refused_up_front() {
    let mut policy = Policy::preset("cloud-2025").unwrap();
    policy.limits.levels.clear();
    let error = Engine::try_new(policy.clone()).expect_err("refused");
    assert_eq!(error.kind(), ErrorKind::Policy);
    assert!(error.to_string().contains("limits.levels"), "{error}");
    let sharded = convstate::sharded::ShardedEngine::new(policy.clone(), 2).err();
    assert_eq!(sharded, Some(error));
    let panic = std::panic::catch_unwind(|| Engine::new(policy)).expect_err("a panic");
    let message = panic.downcast_ref::<String>().expect("a formatted message");
    assert!(message.contains("limits.levels"), "{message}");
    // A policy that keeps the invariants is taken by both.
    let good = Policy::preset("cloud-2025").unwrap();
    assert!(Engine::try_new(good.clone()).is_ok());
    Engine::new(good);
}

/// A refused phone number or user id names the field it came in, by its wire name, with the
/// limit it broke: an event carries several addresses (`number`, `contact`, `user_id`), and
/// `invalid user id "a b"` left the host to guess which. The JSON door (plain lines take a
/// shortcut, lines with escapes go through serde) and the typed calls say the same.
#[test]
fn a_refused_address_names_its_field_and_limit() {
    let long = "u".repeat(300);
    let cases = [
        (
            format!(
                r#"{{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"{long}","kind":"text"}}"#
            ),
            "invalid_user_id",
            r#"in field "contact": 300 characters, allowed 1..=256"#,
        ),
        (
            format!(
                r#"{{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"{CONTACT}","user_id":"US 1","kind":"text"}}"#
            ),
            "invalid_user_id",
            r#"invalid user id "US 1" in field "user_id": contains whitespace"#,
        ),
        (
            format!(
                r#"{{"type":"send","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"+1 555","message":{{"kind":"text","text":"Hi"}}}}"#
            ),
            "invalid_phone_number",
            r#"invalid phone number "+1 555" in field "contact": 4 digits, at least 8 are needed"#,
        ),
        (
            format!(
                r#"{{"type":"send","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"a\tb","message":{{"kind":"text","text":"Hi"}}}}"#
            ),
            "invalid_user_id",
            r#"invalid user id "a\tb" in field "contact": contains whitespace"#,
        ),
        (
            r#"{"type":"send","at":"2026-11-02T09:05:00Z","number":"+15550003333","group":"","message":{"kind":"text","text":"Hi"}}"#.to_owned(),
            "invalid_user_id",
            r#"invalid user id "" in field "group": 0 characters, allowed 1..=256"#,
        ),
        (
            r#"{"type":"query_number","at":"2026-11-02T09:05:00Z","number":"not a number"}"#.to_owned(),
            "invalid_user_id",
            r#"invalid user id "not a number" in field "number": contains whitespace"#,
        ),
        (
            format!(
                r#"{{"type":"message_status","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"","message_id":"m1","status":"delivered"}}"#
            ),
            "invalid_user_id",
            r#"invalid user id "" in field "contact": 0 characters, allowed 1..=256"#,
        ),
        (
            r#"{"type":"end_chat","at":"2026-11-02T09:05:00Z","number":"+15550001111","contact":"+1 555","by":"agent"}"#.to_owned(),
            "invalid_phone_number",
            r#"invalid phone number "+1 555" in field "contact""#,
        ),
        (
            r#"{"type":"register_number","at":"2026-11-02T09:05:00Z","business":"acme","number":"+1 555","channel":"email"}"#.to_owned(),
            "invalid_phone_number",
            r#"invalid phone number "+1 555" in field "number""#,
        ),
        // The ids that are no addresses named theirs already, with the limit.
        (
            format!(
                r#"{{"type":"send","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"{CONTACT}","message":{{"kind":"text","text":"Hi"}},"idempotency_key":"{}"}}"#,
                "k".repeat(300)
            ),
            "invalid_event",
            "idempotency_key is 300 bytes, more than 256",
        ),
        (
            format!(
                r#"{{"type":"inbound","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"{CONTACT}","message_id":"","kind":"text"}}"#
            ),
            "invalid_event",
            "message_id is empty",
        ),
    ];
    for (line, code, says) in &cases {
        let mut engine = engine();
        let out = engine.handle_json(line);
        let error: Value = serde_json::from_str(&out[0]).expect("an output line");
        assert_eq!(error["error"], *code, "{line}: {}", out[0]);
        let message = error["message"].as_str().expect("a message");
        assert!(message.contains(says), "{line}: {message}");
    }

    // The typed calls name the field or argument too.
    let mut engine = engine();
    let at = Instant::from_unix_millis(1_793_610_300_000).expect("in range");
    let request = |contact: &str| SendRequest {
        at,
        number: NUMBER.into(),
        contact: Some(contact.into()),
        group: None,
        message: OutboundMessage::Text { text: "Hi".into() },
        idempotency_key: None,
        force: false,
        message_id: None,
        automated: false,
    };
    let error = engine.send(&request(&long)).expect_err("too long");
    assert!(
        matches!(
            &error,
            Error::InvalidUserId {
                field: Some("contact"),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .ends_with(r#" in field "contact": 300 characters, allowed 1..=256"#),
        "{error}"
    );
    let error = engine.check_send(&request("+1 555")).expect_err("short");
    assert_eq!(
        error.to_string(),
        r#"invalid phone number "+1 555" in field "contact": 4 digits, at least 8 are needed"#
    );
    let error = engine
        .conversation("+1 555", CONTACT, at)
        .expect_err("number");
    assert!(
        error.to_string().contains(r#"in field "number""#),
        "{error}"
    );
    let error = engine.conversation(NUMBER, "a b", at).expect_err("contact");
    assert!(
        error.to_string().contains(r#"in field "contact""#),
        "{error}"
    );
    let error = engine
        .inbound(&text_from(at, NUMBER, CONTACT, Some("+15550009999")))
        .expect_err("a phone number as user id");
    assert!(
        error
            .to_string()
            .starts_with(r#"invalid user id "+15550009999" in field "user_id": reads as a phone"#),
        "{error}"
    );
    // A phone number checked alone came in no field, and says none.
    let alone = convstate::address::normalize_phone("+1 555").expect_err("short");
    assert_eq!(
        alone.to_string(),
        r#"invalid phone number "+1 555": 4 digits, at least 8 are needed"#
    );
}

/// A message object read on its own (the C library's `convstate_message_from_json`) is
/// refused with the words the JSON door uses for the same message in a `send` line, field
/// named as there: serde's plain message named no field (`invalid type: integer `7`` with
/// no `text`), and called a too-large number invalid JSON.
#[test]
fn a_message_read_alone_is_refused_as_in_a_send_line() {
    let messages = [
        r#"{"kind":"telegram","text":"x"}"#,
        r#"{"kind":"text","text":7}"#,
        r#"{"kind":"text"}"#,
        r#"{"kind":"text","text":"a","text":"b"}"#,
        r#"{"kind":"text","text":"a","colour":"red"}"#,
        r#"{"kind":"image","size":-5}"#,
        r#"{"kind":"location","latitude":1e400,"longitude":0}"#,
        r#"{"kind":"location","latitude":"north","longitude":0}"#,
        r#"{"kind":"interactive","body":"Pick","buttons":["A",7]}"#,
        r#"{"kind":"template","name":"t","language":"en","params":[1]}"#,
        r#"{"text":"no kind"}"#,
        r#""hi""#,
    ];
    for message in messages {
        let alone = convstate::wire::decode_message(message).unwrap_err();
        let line = format!(
            r#"{{"type":"send","at":"2026-11-02T09:05:00Z","number":"{NUMBER}","contact":"{CONTACT}","message":{message}}}"#
        );
        let in_send = convstate::wire::decode_event(&line).unwrap_err();
        assert_eq!(alone.kind(), ErrorKind::InvalidInput, "{message}");
        assert_eq!(alone.to_string(), in_send.to_string(), "{message}");
    }
    let problem = |json: &str| {
        convstate::wire::decode_message(json)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        problem(r#"{"kind":"text","text":7}"#),
        r#"invalid event: field "message.text": invalid type: integer `7`, expected a string"#
    );
    assert!(
        problem(r#"{"kind":"location","latitude":1e400,"longitude":0}"#).starts_with(
            r#"invalid event: field "message.latitude": number `1e400` is out of range"#
        ),
        "{}",
        problem(r#"{"kind":"location","latitude":1e400,"longitude":0}"#)
    );
    // What is not in a send line: the object alone is not JSON, or has more after it.
    assert_eq!(
        problem(r#"{"kind":"text""#),
        r#"invalid event: field "message": not valid JSON: EOF while parsing an object at line 1 column 14"#
    );
    assert_eq!(
        problem(r#"{"kind":"text","text":"a"} {}"#),
        r#"invalid event: field "message": not valid JSON: trailing characters at line 1 column 28"#
    );
    let read = convstate::wire::decode_message(r#"{"kind":"text","text":"a"}"#).unwrap();
    assert_eq!(read, OutboundMessage::Text { text: "a".into() });
}

/// A `\ud800` escape without its other half is valid JSON syntax but no text: serde_json
/// called it "unexpected end of hex escape" or, for a lone trailing half, "lone leading
/// surrogate", as the line's syntax, naming no field. The door names the field and the
/// escape, in any key order and in a message alone.
#[test]
fn a_lone_surrogate_escape_is_named_with_its_field() {
    let problem = |line: &str| convstate::wire::decode_event(line).unwrap_err().to_string();
    let half = |escape: &str| {
        format!(
            "`{escape}` is half of a UTF-16 surrogate pair without its other half, which is no \
             character: write the character itself, or both escapes of its pair"
        )
    };
    for (business, escape) in [
        (r"a\ud800", r"\ud800"),
        (r"a\udc00b", r"\udc00"),
        (r"a\ud800\u0041", r"\ud800"),
        (r"\ud83d\ude00\\\ud83d", r"\ud83d"),
    ] {
        for line in [
            format!(
                r#"{{"type":"register_number","at":0,"business":"{business}","number":"{NUMBER}","channel":"official"}}"#
            ),
            format!(
                r#"{{"at":0,"business":"{business}","number":"{NUMBER}","channel":"official","type":"register_number"}}"#
            ),
        ] {
            assert_eq!(
                problem(&line),
                format!("invalid event: field \"business\": {}", half(escape)),
                "{line}"
            );
        }
    }
    let message = r#"{"kind":"text","text":"hi \ud83d"}"#;
    assert_eq!(
        convstate::wire::decode_message(message)
            .unwrap_err()
            .to_string(),
        format!("invalid event: field \"message.text\": {}", half(r"\ud83d"))
    );
    // A whole pair is the character; a bad escape stays the line's syntax.
    let pair = format!(
        r#"{{"type":"register_number","at":0,"business":"a\ud83d\ude00","number":"{NUMBER}","channel":"official"}}"#
    );
    assert!(convstate::wire::decode_event(&pair).is_ok());
    let short = pair.replace(r"\ud83d\ude00", r"\u12");
    assert!(
        problem(&short).starts_with("invalid event: not valid JSON: invalid escape"),
        "{}",
        problem(&short)
    );
}
