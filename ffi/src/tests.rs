//! Tests that call the `extern "C"` functions directly, as a C host does.

use std::ffi::{c_char, CStr};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};

use convstate_core::Engine;

use crate::boundary::result_for;
use crate::convstate_result::{self, *};
use crate::*;

const NUMBER: &str = "+15550001111";
const CONTACT: &str = "+79110000001";
/// 2026-11-02T09:00:00Z.
const T0: i64 = 1_793_610_000_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

fn ptr(s: &str) -> *const c_char {
    s.as_ptr().cast()
}

fn last_error() -> String {
    // SAFETY: the library returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(convstate_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn new_engine(preset: &str) -> *mut convstate_engine {
    let mut engine = null_mut();
    let rc = unsafe { convstate_engine_new(ptr(preset), preset.len(), null(), 0, &mut engine) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    engine
}

fn new_sharded_engine(preset: &str, shards: u32) -> *mut convstate_sharded_engine {
    let mut sharded = null_mut();
    let rc = unsafe {
        convstate_sharded_engine_new(ptr(preset), preset.len(), null(), 0, shards, &mut sharded)
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    sharded
}

/// The engine's snapshot, its body unsealed.
fn snapshot_body(engine: *const convstate_engine) -> String {
    let mut size = 0;
    unsafe { convstate_engine_snapshot(engine, null_mut(), 0, &mut size) };
    let mut bytes = vec![0u8; size];
    let rc = unsafe { convstate_engine_snapshot(engine, bytes.as_mut_ptr(), size, &mut size) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    String::from_utf8(convstate_core::snapshot::unseal(&bytes).unwrap().to_vec()).unwrap()
}

/// `NUMBER` of business `acme` on the official channel, with this default template (name,
/// language; NULL for none).
fn registration(default_template: (&'static str, &'static str)) -> convstate_number_registration {
    let text = |s: &'static str| if s.is_empty() { null() } else { ptr(s) };
    convstate_number_registration {
        at_ms: T0 - HOUR,
        business: ptr("acme"),
        business_len: 4,
        number: ptr(NUMBER),
        number_len: NUMBER.len(),
        channel: convstate_channel::CONVSTATE_CHANNEL_OFFICIAL as u32,
        provider: null(),
        provider_len: 0,
        idle_timeout_ms: -1,
        default_template_name: text(default_template.0),
        default_template_name_len: default_template.0.len(),
        default_template_language: text(default_template.1),
        default_template_language_len: default_template.1.len(),
        phone_number_id: null(),
        phone_number_id_len: 0,
        timezone: null(),
        timezone_len: 0,
    }
}

fn register(engine: *mut convstate_engine) {
    let r = registration(("", ""));
    assert_eq!(
        unsafe { convstate_engine_register_number(engine, &r) },
        CONVSTATE_OK,
        "{}",
        last_error()
    );
}

/// A text from `contact` to `number` at `at_ms`, with the provider's `message_id` if
/// given, every other field of `convstate_inbound` unset (set them with `..` on it).
fn text_inbound(
    at_ms: i64,
    number: &'static str,
    contact: &'static str,
    message_id: Option<&'static str>,
) -> convstate_inbound {
    convstate_inbound {
        at_ms,
        number: ptr(number),
        number_len: number.len(),
        contact: ptr(contact),
        contact_len: contact.len(),
        group: null(),
        group_len: 0,
        kind: convstate_inbound_kind::CONVSTATE_INBOUND_TEXT as u32,
        size: -1,
        referral: 0,
        message_id: message_id.map_or(null(), ptr),
        message_id_len: message_id.map_or(0, str::len),
        user_id: null(),
        user_id_len: 0,
    }
}

/// A `failed` delivery status of `message_id`, sent from `NUMBER` to `contact`, with
/// `errors_len` provider error codes at `errors` (no pricing).
fn failed_status(
    engine: *mut convstate_engine,
    at_ms: i64,
    contact: &str,
    message_id: &str,
    errors: *const u32,
    errors_len: usize,
    unmatched: *mut bool,
) -> convstate_result {
    unsafe {
        convstate_engine_message_status(
            engine,
            at_ms,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(contact),
            contact.len(),
            ptr(message_id),
            message_id.len(),
            convstate_delivery_status::CONVSTATE_DELIVERY_FAILED as u32,
            convstate_pricing_type::CONVSTATE_PRICING_NONE as u32,
            null(),
            0,
            errors,
            errors_len,
            unmatched,
        )
    }
}

fn inbound(engine: *mut convstate_engine, at_ms: i64) -> convstate_result {
    inbound_from(engine, at_ms, CONTACT)
}

/// A text from `contact` to `NUMBER` at `at_ms`.
fn inbound_from(engine: *mut convstate_engine, at_ms: i64, contact: &str) -> convstate_result {
    unsafe {
        convstate_engine_inbound(
            engine,
            at_ms,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(contact),
            contact.len(),
            null(),
            0,
            convstate_inbound_kind::CONVSTATE_INBOUND_TEXT as u32,
            -1,
        )
    }
}

fn text(body: &str) -> *mut convstate_message {
    let mut message = null_mut();
    assert_eq!(
        unsafe { convstate_message_new_text(ptr(body), body.len(), &mut message) },
        CONVSTATE_OK
    );
    message
}

fn request(at_ms: i64, message: *const convstate_message) -> convstate_send_request {
    convstate_send_request {
        at_ms,
        number: ptr(NUMBER),
        number_len: NUMBER.len(),
        contact: ptr(CONTACT),
        contact_len: CONTACT.len(),
        group: null(),
        group_len: 0,
        message,
        idempotency_key: null(),
        idempotency_key_len: 0,
        force: 0,
        automated: 0,
        message_id: null(),
        message_id_len: 0,
    }
}

/// A decision filled with a pattern that no real decision has, to see untouched outputs.
fn poisoned_decision() -> convstate_decision {
    convstate_decision {
        verdict: convstate_verdict::CONVSTATE_VERDICT_DENIED,
        reason: convstate_reason::CONVSTATE_REASON_OTHER,
        limit: 7777,
        actual: 7777,
        instant_ms: 7777,
        duration_ms: 7777,
        detail_code: 7777,
        next_action: convstate_next_action::CONVSTATE_NEXT_NONE,
        next_action_at_ms: 7777,
        initiated_by: convstate_initiator::CONVSTATE_INITIATED_BY_BUSINESS,
        billing: convstate_billing::CONVSTATE_BILLING_NONE,
        free_reason: convstate_free_reason::CONVSTATE_FREE_NONE,
        charge_category: convstate_charge_category::CONVSTATE_CHARGE_NONE,
        consumed_limit_slot: true,
        initiation_template_sent: true,
        held: 7777,
        price_micros: 7777,
        currency: [b'X' as c_char; CONVSTATE_CURRENCY_CAPACITY],
    }
}

#[test]
fn a_reply_in_the_window_is_free_and_a_day_later_the_window_is_closed() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    let message = text("Hello!");

    let mut decision = poisoned_decision();
    let rc =
        unsafe { convstate_engine_send(engine, &request(T0 + 60_000, message), &mut decision) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        decision.verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    assert_eq!(decision.reason, convstate_reason::CONVSTATE_REASON_NONE);
    assert_eq!(decision.billing, convstate_billing::CONVSTATE_BILLING_FREE);
    assert_eq!(
        decision.free_reason,
        convstate_free_reason::CONVSTATE_FREE_SERVICE_WINDOW
    );
    assert_eq!(
        decision.initiated_by,
        convstate_initiator::CONVSTATE_INITIATED_BY_CUSTOMER
    );
    assert_eq!(decision.instant_ms, CONVSTATE_NONE_MS);

    let mut decision = poisoned_decision();
    let at = T0 + 24 * HOUR;
    let rc = unsafe { convstate_engine_check_send(engine, &request(at, message), &mut decision) };
    assert_eq!(rc, CONVSTATE_OK);
    assert_eq!(
        decision.verdict,
        convstate_verdict::CONVSTATE_VERDICT_DENIED
    );
    assert_eq!(
        decision.reason,
        convstate_reason::CONVSTATE_REASON_WINDOW_CLOSED
    );
    assert_eq!(
        decision.instant_ms,
        T0 + 24 * HOUR,
        "closed exactly 24h after"
    );
    assert_eq!(
        decision.next_action,
        convstate_next_action::CONVSTATE_NEXT_SEND_TEMPLATE
    );
    assert_eq!(decision.billing, convstate_billing::CONVSTATE_BILLING_NONE);

    let mut view = std::mem::MaybeUninit::<convstate_conversation_view>::uninit();
    let rc = unsafe {
        convstate_engine_conversation(
            engine,
            at,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(CONTACT),
            CONTACT.len(),
            view.as_mut_ptr(),
        )
    };
    assert_eq!(rc, CONVSTATE_OK);
    let view = unsafe { view.assume_init() };
    assert!(!view.window_open);
    assert_eq!(view.window_ends_at_ms, T0 + 24 * HOUR);
    assert!(
        !view.chat_live,
        "a day later the chat has ended by inactivity"
    );
    assert_eq!(view.ticket_id, 1);

    unsafe {
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

/// A registration's `timezone` sets the zone its business counts months in, once: the typed
/// call reads it as the JSON door does, and refuses a name that is none as an argument.
#[test]
fn a_registration_sets_its_business_time_zone_once() {
    let engine = new_engine("cloud-2026-10");
    let with_zone = |zone: &'static str| convstate_number_registration {
        timezone: ptr(zone),
        timezone_len: zone.len(),
        ..registration(("", ""))
    };
    let register =
        |r: &convstate_number_registration| unsafe { convstate_engine_register_number(engine, r) };
    assert_eq!(
        register(&with_zone("Asia/Tokyo")),
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    assert_eq!(
        register(&with_zone("asia/tokyo")),
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    let error = last_error();
    assert!(
        error.starts_with("argument `timezone`: unknown time zone"),
        "{error}"
    );
    assert!(error.contains(r#"did you mean "Asia/Tokyo"?"#), "{error}");
    assert_eq!(
        register(&with_zone("Europe/Berlin")),
        CONVSTATE_ERR_INVALID_EVENT
    );
    let error = last_error();
    assert!(
        error.contains(r#"counts its months in "Asia/Tokyo""#),
        "{error}"
    );
    // NULL leaves the zone as it is; the same zone again is accepted.
    assert_eq!(
        register(&registration(("", ""))),
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    assert_eq!(
        register(&with_zone("Asia/Tokyo")),
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    let body = snapshot_body(engine);
    assert!(
        body.contains(r#"{"name":"acme","timezone":"Asia/Tokyo"}"#),
        "{body}"
    );
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn a_conversation_view_before_the_clock_is_refused_naming_both_instants() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0 + HOUR), CONVSTATE_OK);
    let view_at = |at_ms: i64, view: *mut convstate_conversation_view| unsafe {
        convstate_engine_conversation(
            engine,
            at_ms,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(CONTACT),
            CONTACT.len(),
            view,
        )
    };
    let mut view = std::mem::MaybeUninit::<convstate_conversation_view>::uninit();
    assert_eq!(view_at(T0 + HOUR, view.as_mut_ptr()), CONVSTATE_OK);
    let mut view = unsafe { view.assume_init() };
    view.outbox_held = 7777;
    // The engine keeps no history: before the inbound, the window's end is not known.
    assert_eq!(view_at(T0, &mut view), CONVSTATE_ERR_VIEW_BEFORE_CLOCK);
    assert_eq!(
        last_error(),
        "view at 2026-11-02T09:00:00Z is before the engine's clock, 2026-11-02T10:00:00Z: \
         the engine keeps no history, so a view shows its clock or a later instant"
    );
    assert_eq!(view.outbox_held, 7777, "the output is left untouched");
    for at in [T0 + HOUR, T0 + 2 * HOUR] {
        assert_eq!(view_at(at, &mut view), CONVSTATE_OK, "{}", last_error());
        assert!(view.window_open);
        assert_eq!(view.window_ends_at_ms, T0 + HOUR + 24 * HOUR);
    }
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn null_arguments_are_refused_and_outputs_left_untouched() {
    let engine = new_engine("cloud-2025");
    register(engine);
    let message = text("hi");
    let mut decision = poisoned_decision();
    let rc = unsafe { convstate_engine_send(null_mut(), &request(T0, message), &mut decision) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    assert!(last_error().contains("engine"), "{}", last_error());
    assert_eq!(decision, poisoned_decision());

    let mut bad = request(T0, null());
    let rc = unsafe { convstate_engine_send(engine, &bad, &mut decision) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    assert!(last_error().contains("message"));
    bad.message = message;
    let rc = unsafe { convstate_engine_send(engine, &bad, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);

    let mut out = 12345usize as *mut convstate_engine;
    let rc = unsafe { convstate_engine_new(null(), 0, null(), 0, &mut out) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    assert_eq!(out as usize, 12345, "out written only on success");

    unsafe {
        convstate_engine_free(null_mut());
        convstate_message_free(null_mut());
        convstate_string_free(null_mut());
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

/// The header lets calls that take the engine const run on several threads at once: the
/// engine must be `Sync` (no unsynchronised interior mutability) for that to hold.
const _: () = {
    const fn shared_between_threads<T: Sync>() {}
    shared_between_threads::<convstate_engine>();
};

#[test]
fn misaligned_pointers_are_refused_and_outputs_left_untouched() {
    // Reading through them would be undefined behaviour, and a debug build of the library
    // aborted the host on the first (the standard library's precondition check).
    let engine = new_engine("cloud-2025");
    register(engine);
    let contact = "+4915112345678";
    let codes = [131_047u32, 0];
    let misaligned_codes = codes.as_ptr().cast::<u8>().wrapping_add(1).cast::<u32>();
    let rc = failed_status(
        engine,
        T0,
        contact,
        "wamid.out.1",
        misaligned_codes,
        1,
        null_mut(),
    );
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("argument `errors`") && last_error().contains("aligned to 4 bytes"),
        "{}",
        last_error()
    );

    let message = text("hi");
    let req = request(T0, message);
    let mut decisions = [poisoned_decision(), poisoned_decision()];
    let misaligned_out = decisions
        .as_mut_ptr()
        .cast::<u8>()
        .wrapping_add(4)
        .cast::<convstate_decision>();
    let rc = unsafe { convstate_engine_check_send(engine, &req, misaligned_out) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(last_error().contains("argument `out`"), "{}", last_error());
    assert_eq!(decisions[0], poisoned_decision(), "nothing written");

    let misaligned_request = (&req as *const convstate_send_request)
        .cast::<u8>()
        .wrapping_add(1)
        .cast::<convstate_send_request>();
    let rc = unsafe { convstate_engine_check_send(engine, misaligned_request, &mut decisions[0]) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("argument `request`"),
        "{}",
        last_error()
    );

    // A sharded call's effects string: refused before the engine runs (the clock would have
    // moved, and the effects it caused been lost).
    let sharded = new_sharded_engine("cloud-2025", 2);
    let words = [0u64; 4];
    let misaligned_string = words
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(1)
        .cast_mut()
        .cast::<convstate_string>();
    let rc = unsafe { convstate_sharded_engine_handle_timeout(sharded, T0, misaligned_string) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("argument `effects`"),
        "{}",
        last_error()
    );
    assert_eq!(words, [0u64; 4], "nothing written");
    // The string functions return no code: a misaligned string reads as NULL does, and
    // freeing one is left alone.
    unsafe {
        assert!(convstate_string_ptr(misaligned_string).is_null());
        assert_eq!(convstate_string_len(misaligned_string), 0);
        convstate_string_free(misaligned_string);
        convstate_sharded_engine_free(sharded);
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

#[test]
fn invalid_utf8_and_bad_codes_are_errors() {
    let engine = new_engine("cloud-2025");
    register(engine);
    let bytes = [0xff_u8, 0xfe, b'1'];
    let rc = unsafe {
        convstate_engine_inbound(
            engine,
            T0,
            bytes.as_ptr().cast(),
            bytes.len(),
            ptr(CONTACT),
            CONTACT.len(),
            null(),
            0,
            1,
            -1,
        )
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_UTF8);
    assert!(last_error().contains("number"), "{}", last_error());

    let rc = unsafe {
        convstate_engine_inbound(
            engine,
            T0,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(CONTACT),
            CONTACT.len(),
            null(),
            0,
            99,
            -1,
        )
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(last_error().contains("99"), "{}", last_error());

    assert_eq!(inbound(engine, -5), CONVSTATE_ERR_INSTANT_OUT_OF_RANGE);
    let unknown = "+15559999999";
    let rc = unsafe {
        convstate_engine_inbound(
            engine,
            T0,
            ptr(unknown),
            unknown.len(),
            ptr(CONTACT),
            CONTACT.len(),
            null(),
            0,
            1,
            -1,
        )
    };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_NUMBER);
    assert!(last_error().contains(unknown));
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn policy_presets_and_overrides() {
    let mut engine = null_mut();
    let rc = unsafe { convstate_engine_new(ptr("nope"), 4, null(), 0, &mut engine) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_POLICY);
    assert!(last_error().contains("cloud-2025"), "lists the presets");
    assert!(engine.is_null());

    let bad = "{not json";
    let rc = unsafe { convstate_engine_new(ptr("classic"), 7, ptr(bad), bad.len(), &mut engine) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_POLICY);
    let wrong = r#"{"chat":{"idle_timeout":true}}"#;
    let rc =
        unsafe { convstate_engine_new(ptr("classic"), 7, ptr(wrong), wrong.len(), &mut engine) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_POLICY);

    let overrides = r#"{"chat":{"idle_timeout":"15m"}}"#;
    let rc = unsafe {
        convstate_engine_new(
            ptr("classic"),
            7,
            ptr(overrides),
            overrides.len(),
            &mut engine,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    register(engine);
    let mut view = std::mem::MaybeUninit::<convstate_number_view>::uninit();
    let rc =
        unsafe { convstate_engine_number(engine, ptr(NUMBER), NUMBER.len(), view.as_mut_ptr()) };
    assert_eq!(rc, CONVSTATE_OK);
    let view = unsafe { view.assume_init() };
    assert_eq!(view.idle_timeout_ms, 15 * 60_000);
    assert_eq!(view.channel, convstate_channel::CONVSTATE_CHANNEL_OFFICIAL);
    unsafe { convstate_engine_free(engine) };
}

fn poll(engine: *mut convstate_engine, capacity: usize) -> (convstate_result, usize, String) {
    let mut buffer = vec![0u8; capacity];
    let mut written = usize::MAX;
    let mut kind = convstate_effect_kind::CONVSTATE_EFFECT_OTHER;
    let rc = unsafe {
        convstate_engine_poll_effect(
            engine,
            if capacity == 0 {
                null_mut()
            } else {
                buffer.as_mut_ptr()
            },
            capacity,
            &mut written,
            &mut kind,
        )
    };
    let line = if rc == CONVSTATE_OK {
        String::from_utf8(buffer[..written].to_vec()).unwrap()
    } else {
        String::new()
    };
    (rc, written, line)
}

#[test]
fn a_too_small_buffer_leaves_the_effect_pending_even_across_a_snapshot() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);

    // The same inputs through the core's own JSON door give the expected effect lines.
    let mut reference = Engine::with_preset("cloud-2025").unwrap();
    reference.handle_json(&format!(
        r#"{{"type":"register_number","at":{},"business":"acme","number":"{NUMBER}","channel":"official"}}"#,
        T0 - HOUR
    ));
    let expected = reference.handle_json(&format!(
        r#"{{"type":"inbound","at":{T0},"number":"{NUMBER}","contact":"{CONTACT}","kind":"text"}}"#
    ));
    assert_eq!(expected.len(), 3, "ticket opened and chat started");

    let (rc, needed, _) = poll(engine, 0);
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    assert_eq!(needed, expected[1].len());
    // The kind comes with the size needed.
    let mut kind = convstate_effect_kind::CONVSTATE_EFFECT_NONE;
    let mut written = 0;
    let rc =
        unsafe { convstate_engine_poll_effect(engine, null_mut(), 0, &mut written, &mut kind) };
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    assert_eq!(kind, convstate_effect_kind::CONVSTATE_EFFECT_TICKET_OPENED);
    let (rc, written, _) = poll(engine, needed - 1);
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    assert_eq!(written, needed);

    // A snapshot taken now must still hold the effect that did not fit, first.
    let mut size = 0;
    let rc = unsafe { convstate_engine_snapshot(engine, null_mut(), 0, &mut size) };
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    let mut bytes = vec![0u8; size];
    let rc = unsafe { convstate_engine_snapshot(engine, bytes.as_mut_ptr(), size, &mut size) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    // Into a library-owned string: the same bytes, written once.
    let mut string = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut string) }, CONVSTATE_OK);
    let rc = unsafe { convstate_engine_snapshot_into(engine, string) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let into = unsafe {
        std::slice::from_raw_parts(
            convstate_string_ptr(string).cast::<u8>(),
            convstate_string_len(string),
        )
    };
    assert_eq!(into, &bytes[..]);
    assert_eq!(
        unsafe { convstate_engine_snapshot_into(engine, null_mut()) },
        CONVSTATE_ERR_NULL_ARGUMENT
    );
    unsafe { convstate_string_free(string) };
    let mut restored = null_mut();
    let rc = unsafe { convstate_engine_restore(bytes.as_ptr(), size, &mut restored) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());

    for handle in [engine, restored] {
        assert_eq!(
            poll(handle, 4096),
            (CONVSTATE_OK, needed, expected[1].clone())
        );
        let (rc, _, line) = poll(handle, 4096);
        assert_eq!((rc, line), (CONVSTATE_OK, expected[2].clone()));
        assert_eq!(poll(handle, 4096), (CONVSTATE_OK, 0, String::new()));
    }
    let restored_snapshot = unsafe { Box::from_raw(restored) }.engine.snapshot();
    assert_eq!(
        restored_snapshot,
        unsafe { &*engine }.engine.snapshot(),
        "same state"
    );
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn a_corrupt_snapshot_is_an_error() {
    let mut out = null_mut();
    let junk = b"{\"format\":\"convstate-snapshot\",\"version\":99}";
    let rc = unsafe { convstate_engine_restore(junk.as_ptr(), junk.len(), &mut out) };
    assert_eq!(rc, CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION);
    let rc = unsafe { convstate_engine_restore(b"xx".as_ptr(), 2, &mut out) };
    assert_eq!(rc, CONVSTATE_ERR_CORRUPT_SNAPSHOT);
    assert!(out.is_null());
}

#[test]
fn a_length_no_buffer_can_have_is_refused() {
    // A negative ssize_t cast to size_t, say: refused before it is made into a slice.
    let mut out = null_mut();
    let rc = unsafe { convstate_engine_restore(b"xx".as_ptr(), usize::MAX, &mut out) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("more than any buffer can hold"),
        "{}",
        last_error()
    );
    assert!(out.is_null());
}

fn json_door(engine: *mut convstate_engine, out: *mut convstate_string, line: &str) -> Vec<String> {
    let rc = unsafe { convstate_engine_handle_json(engine, ptr(line), line.len(), out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let text = unsafe {
        std::slice::from_raw_parts(
            convstate_string_ptr(out).cast::<u8>(),
            convstate_string_len(out),
        )
    };
    let text = std::str::from_utf8(text).unwrap();
    assert!(text.ends_with('\n'));
    text.lines().map(str::to_owned).collect()
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_effect_of_every_scenario_has_a_kind_of_its_own() {
    // `CONVSTATE_EFFECT_OTHER` is for effects of a newer core than the header: none of
    // this build's may fall there (an effect kind added to the core and not to the table).
    let mut seen = std::collections::BTreeSet::new();
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let preset = header["policy"].as_str().unwrap();
        let policy = convstate_core::Policy::with_overrides(
            preset,
            header
                .get("policy_overrides")
                .unwrap_or(&serde_json::json!({})),
        )
        .unwrap();
        let mut engine = convstate_core::Engine::new(policy);
        for line in lines {
            let Ok(event) = convstate_core::wire::decode_event(line) else {
                continue;
            };
            let _ = engine.handle(event);
            while let Some(effect) = engine.poll_effect() {
                let kind = crate::codes::effect_kind(&effect);
                assert_ne!(
                    kind,
                    convstate_effect_kind::CONVSTATE_EFFECT_OTHER,
                    "{}: {effect:?}",
                    file.display()
                );
                seen.insert(kind as u32);
            }
        }
    }
    // And the scenarios reach every kind, 1 to 24.
    assert_eq!(seen, (1..=24).collect(), "kinds no scenario emits");
}

#[test]
fn the_json_door_gives_the_core_door_bytes_for_every_scenario() {
    let files = scenario_files();
    assert!(!files.is_empty());
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let preset = header["policy"].as_str().unwrap();
        let overrides = header.get("policy_overrides").map(|v| v.to_string());
        let mut engine = null_mut();
        let (o, olen) = overrides
            .as_deref()
            .map_or((null(), 0), |o| (ptr(o), o.len()));
        let rc = unsafe { convstate_engine_new(ptr(preset), preset.len(), o, olen, &mut engine) };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        let policy = convstate_core::Policy::with_overrides(
            preset,
            &header
                .get("policy_overrides")
                .cloned()
                .unwrap_or(serde_json::json!({})),
        )
        .unwrap();
        let mut reference = Engine::new(policy);
        let mut out = null_mut();
        assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
        for line in lines {
            assert_eq!(
                json_door(engine, out, line),
                reference.handle_json(line),
                "{}: {line}",
                file.display()
            );
        }
        unsafe {
            convstate_string_free(out);
            convstate_engine_free(engine);
        }
    }
}

/// An instant of a wire answer in ms, or `CONVSTATE_NONE_MS` for `null`.
fn answer_ms(v: &serde_json::Value) -> i64 {
    v.as_str().map_or(CONVSTATE_NONE_MS, |t| {
        convstate_core::Instant::parse_rfc3339(t)
            .unwrap()
            .unix_millis()
    })
}

/// A duration of a wire answer in ms.
fn answer_duration_ms(v: &serde_json::Value) -> Option<i64> {
    v.as_str()
        .map(|d| convstate_core::Duration::parse(d).unwrap().millis())
}

/// A wire enum value of an answer, as the core reads it.
fn answer_enum<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> T {
    serde_json::from_value(v.clone()).unwrap()
}

/// The typed view a wire `conversation` answer gives: every field of the C struct read from
/// the JSON (instants as ms, durations as ms), so that a field the C view lacks or maps
/// wrongly shows against the wire's, an independent encoding of the same core view.
fn conversation_view_of_answer(answer: &serde_json::Value) -> convstate_conversation_view {
    let total = |v: &serde_json::Value| answer_duration_ms(v).unwrap_or(0) as u64;
    let chat = &answer["chat"];
    let ticket = &answer["ticket"];
    let responses = &answer["ticket_responses"];
    convstate_conversation_view {
        window_open: answer["window_open"].as_bool().unwrap(),
        window_ends_at_ms: answer_ms(&answer["window_ends_at"]),
        chat_live: !chat.is_null(),
        chat_started_at_ms: answer_ms(&chat["started_at"]),
        chat_last_activity_at_ms: answer_ms(&chat["last_activity_at"]),
        chat_first_response_at_ms: answer_ms(&chat["first_response_at"]),
        ticket_id: ticket["id"].as_u64().unwrap_or(0),
        ticket_status: match ticket["status"].as_str() {
            None => convstate_ticket_status::CONVSTATE_TICKET_NONE,
            Some("open") => convstate_ticket_status::CONVSTATE_TICKET_OPEN,
            Some("pending") => convstate_ticket_status::CONVSTATE_TICKET_PENDING,
            Some("closed") => convstate_ticket_status::CONVSTATE_TICKET_CLOSED,
            Some(other) => panic!("ticket status {other}"),
        },
        outbox_held: answer["outbox_held"].as_u64().unwrap() as u32,
        opted_in: answer["opted_in"].as_bool().unwrap(),
        marketing_stopped: answer["marketing_stopped"].as_bool().unwrap(),
        chat_waiting_since_ms: answer_ms(&chat["waiting_since"]),
        chat_responses: chat["responses"].as_u64().unwrap_or(0),
        chat_response_total_ms: total(&chat["response_total"]),
        chat_last_reply_at_ms: answer_ms(&chat["last_reply_at"]),
        ticket_waiting_since_ms: answer_ms(&responses["waiting_since"]),
        ticket_first_response_at_ms: answer_ms(&responses["first_response_at"]),
        ticket_first_response_after_ms: answer_duration_ms(&responses["first_response_after"])
            .unwrap_or(CONVSTATE_NONE_MS),
        ticket_responses: responses["responses"].as_u64().unwrap_or(0),
        ticket_response_total_ms: total(&responses["response_total"]),
        ticket_last_reply_at_ms: answer_ms(&responses["last_reply_at"]),
    }
}

/// The typed view a wire `number` answer gives (the registration's strings aside: the host
/// gave them).
fn number_view_of_answer(answer: &serde_json::Value) -> convstate_number_view {
    let counter = |name: &str| answer["counters"][name].as_u64().unwrap();
    let listed = answer["restrictions"].as_array().unwrap();
    let mut restrictions = [convstate_restriction::NONE; CONVSTATE_RESTRICTION_SCOPES];
    for (slot, r) in restrictions.iter_mut().zip(listed) {
        *slot = convstate_restriction {
            scope: crate::codes::restriction_scope_code(answer_enum(&r["scope"])),
            until_ms: answer_ms(&r["until"]),
        };
    }
    convstate_number_view {
        channel: crate::codes::channel_code(answer_enum(&answer["channel"])),
        idle_timeout_ms: answer_duration_ms(&answer["idle_timeout"]).unwrap(),
        inbound: counter("inbound"),
        sends_allowed: counter("sends_allowed"),
        sends_denied: counter("sends_denied"),
        templates_sent: counter("templates_sent"),
        chats_started: counter("chats_started"),
        chats_ended_by_agent: counter("chats_ended_by_agent"),
        chats_ended_by_idle: counter("chats_ended_by_idle"),
        chats_ended_by_rule: counter("chats_ended_by_rule"),
        chats_missed: counter("chats_missed"),
        tickets_opened: counter("tickets_opened"),
        first_response_total_ms: counter("first_response_total_ms"),
        first_responses: counter("first_responses"),
        responses: counter("responses"),
        response_total_ms: counter("response_total_ms"),
        tickets_closed_unanswered: counter("tickets_closed_unanswered"),
        quality: crate::codes::quality_code(answer_enum(&answer["quality"])),
        flagged_until_ms: answer_ms(&answer["flagged_until"]),
        restrictions_len: listed.len() as u32,
        restrictions,
    }
}

/// The typed view a wire `template` answer gives.
fn template_view_of_answer(answer: &serde_json::Value) -> convstate_template_view {
    convstate_template_view {
        category: crate::codes::category_code(answer_enum(&answer["category"])),
        status: crate::codes::template_status_code(answer_enum(&answer["status"])),
        until_ms: answer_ms(&answer["until"]),
        flagged_until_ms: answer_ms(&answer["flagged_until"]),
        quality: crate::codes::quality_code(answer_enum(&answer["quality"])),
        variables: answer["variables"].as_u64().unwrap() as u32,
        pause_strikes: answer["pause_strikes"].as_u64().unwrap() as u32,
        locked: answer["locked"].as_bool().unwrap(),
    }
}

/// The typed view a wire `limit` answer gives (the owner's name aside).
fn limit_view_of_answer(answer: &serde_json::Value) -> convstate_limit_view {
    convstate_limit_view {
        scope: crate::codes::limit_scope_code(answer_enum(&answer["scope"])),
        limit: crate::codes::limit_level_code(answer_enum(&answer["limit"])),
        used: answer["used"].as_u64().unwrap() as u32,
        next_slot_at_ms: answer_ms(&answer["next_slot_at"]),
        used_in_lookback: answer["used_in_lookback"].as_u64().unwrap() as u32,
        level_since_ms: answer_ms(&answer["level_since"]),
        upgrade_at_ms: answer_ms(&answer["upgrade_at"]),
        blocked_until_ms: answer_ms(&answer["blocked_until"]),
    }
}

/// The typed view a wire `usage` answer gives: its free messages in all and by reason, its
/// cost in millionths (-1 without a rate card).
fn usage_view_of_answer(answer: &serde_json::Value) -> convstate_usage_view {
    let mut free_by_reason = [0; CONVSTATE_FREE_REASONS];
    for (why, n) in answer["free"].as_object().unwrap() {
        let why: convstate_core::decision::FreeReason = answer_enum(&serde_json::json!(why));
        free_by_reason[crate::codes::free_reason_code(why) as usize] = n.as_u64().unwrap();
    }
    let of = |map: &str, key: &str| answer[map][key].as_u64().unwrap_or(0);
    let month = answer["month"].as_str().unwrap().replace('-', "");
    let mut currency = [0 as c_char; CONVSTATE_CURRENCY_CAPACITY];
    let code = answer["currency"].as_str().unwrap_or("");
    for (slot, byte) in currency.iter_mut().zip(code.bytes()) {
        *slot = byte as c_char;
    }
    convstate_usage_view {
        month: month.parse().unwrap(),
        charged_marketing: of("charged", "marketing"),
        charged_utility: of("charged", "utility"),
        charged_authentication: of("charged", "authentication"),
        charged_service: of("charged", "service"),
        free: (answer["free"].as_object().unwrap().values())
            .map(|n| n.as_u64().unwrap())
            .sum(),
        service_messages: answer["service_messages"].as_u64().unwrap(),
        confirmed_marketing: of("confirmed_charged", "marketing"),
        confirmed_utility: of("confirmed_charged", "utility"),
        confirmed_authentication: of("confirmed_charged", "authentication"),
        confirmed_service: of("confirmed_charged", "service"),
        confirmed_free: answer["confirmed_free"].as_u64().unwrap(),
        confirmed_unknown: answer["confirmed_unknown"].as_u64().unwrap(),
        failed: answer["failed"].as_u64().unwrap(),
        cost_micros: answer["cost"].as_str().map_or(-1, |cost| {
            convstate_core::pricing::Amount::parse(cost)
                .unwrap()
                .micros()
        }),
        unpriced: answer["unpriced"].as_u64().unwrap_or(0),
        currency,
        free_by_reason,
    }
}

/// A typed view read at a scenario's query, or `None` where the typed call refused it.
#[derive(Debug, PartialEq)]
enum TypedView {
    Conversation(Option<convstate_conversation_view>),
    Number(Option<convstate_number_view>),
    Template(Option<convstate_template_view>),
    Limit(Option<convstate_limit_view>),
    /// Read after the wire's answer, whose month it asks for (a usage query without one
    /// reads the month of its instant; counts do not change with the clock).
    Usage(Option<convstate_usage_view>),
}

/// A view a typed call writes, or `None` when it refused.
fn read<T>(call: impl FnOnce(*mut T) -> convstate_result) -> Option<T> {
    let mut view = std::mem::MaybeUninit::<T>::uninit();
    (call(view.as_mut_ptr()) == CONVSTATE_OK).then(|| unsafe { view.assume_init() })
}

/// Reads the typed view a query line asks for, at the instant the wire reads it: the wire
/// reads a late query at the engine's clock (scenario 233), where a typed call refuses an
/// instant before it.
fn typed_view_of_query(engine: *mut convstate_engine, line: &str) -> Option<TypedView> {
    use convstate_core::Event;
    let mut clock = 0;
    assert_eq!(
        unsafe { convstate_engine_clock(engine, &mut clock) },
        CONVSTATE_OK
    );
    // A line the wire cannot decode is no query of a typed call's either.
    Some(match convstate_core::wire::decode_event(line).ok()? {
        Event::QueryConversation(q) => TypedView::Conversation(read(|out| unsafe {
            let (number, contact) = (q.number.as_str(), q.contact.as_str());
            convstate_engine_conversation(
                engine,
                q.at.unix_millis().max(clock),
                ptr(number),
                number.len(),
                ptr(contact),
                contact.len(),
                out,
            )
        })),
        Event::QueryNumber(q) => TypedView::Number(read(|out| unsafe {
            let at = q.at.unix_millis().max(clock);
            convstate_engine_number_at(engine, at, ptr(&q.number), q.number.len(), out)
        })),
        Event::QueryTemplate(q) => TypedView::Template(read(|out| unsafe {
            convstate_engine_template_at(
                engine,
                q.at.unix_millis().max(clock),
                ptr(&q.business),
                q.business.len(),
                ptr(&q.name),
                q.name.len(),
                ptr(&q.language),
                q.language.len(),
                out,
            )
        })),
        Event::QueryLimit(q) => TypedView::Limit(read(|out| unsafe {
            let at = q.at.unix_millis().max(clock);
            convstate_engine_limit(engine, at, ptr(&q.number), q.number.len(), out)
        })),
        Event::QueryUsage(_) => TypedView::Usage(None),
        _ => return None,
    })
}

/// Reads the typed usage view a usage query line asks for, in the month the wire's answer
/// names (the query's own, when the wire refused it).
fn typed_usage_of_query(
    line: &str,
    answer: &serde_json::Value,
    usage: impl FnOnce(
        *const c_char,
        usize,
        *const c_char,
        usize,
        *const c_char,
        usize,
        *mut convstate_usage_view,
    ) -> convstate_result,
) -> Option<convstate_usage_view> {
    let Ok(convstate_core::Event::QueryUsage(q)) = convstate_core::wire::decode_event(line) else {
        unreachable!("a usage query");
    };
    let month = (answer["month"].as_str().map(str::to_owned))
        .or(q.month)
        .unwrap_or_else(|| "2026-11".to_owned());
    let text = |t: &Option<String>| t.as_deref().map_or((null(), 0), |t| (ptr(t), t.len()));
    let (number, number_len) = text(&q.number);
    let (business, business_len) = text(&q.business);
    read(|out| {
        usage(
            number,
            number_len,
            business,
            business_len,
            ptr(&month),
            month.len(),
            out,
        )
    })
}

/// The typed view a wire answer gives, of the kind `typed` is, or the refusal.
fn typed_view_of_answer(typed: &TypedView, answer: &serde_json::Value) -> TypedView {
    let given = |kind: &str| answer["type"] == kind;
    match typed {
        TypedView::Conversation(_) => TypedView::Conversation(
            given("conversation").then(|| conversation_view_of_answer(answer)),
        ),
        TypedView::Number(_) => {
            TypedView::Number(given("number").then(|| number_view_of_answer(answer)))
        }
        TypedView::Template(_) => {
            TypedView::Template(given("template").then(|| template_view_of_answer(answer)))
        }
        TypedView::Limit(_) => {
            TypedView::Limit(given("limit").then(|| limit_view_of_answer(answer)))
        }
        TypedView::Usage(_) => {
            TypedView::Usage(given("usage").then(|| usage_view_of_answer(answer)))
        }
    }
}

/// Each enum field of a typed view is the C constant the wire's value names
/// (`"low"` → `CONVSTATE_QUALITY_LOW`), read by name: the expected views above are built
/// with the library's own code mappings, which a wrong mapping would pass.
fn enum_names_agree(typed: &TypedView, answer: &serde_json::Value) {
    fn check(field: impl std::fmt::Debug, prefix: &str, wire: &serde_json::Value) {
        let named = format!("{prefix}{}", wire.as_str().unwrap().to_uppercase());
        assert_eq!(format!("{field:?}"), named, "{wire}");
    }
    match typed {
        TypedView::Number(Some(v)) => {
            check(v.channel, "CONVSTATE_CHANNEL_", &answer["channel"]);
            check(v.quality, "CONVSTATE_QUALITY_", &answer["quality"]);
            let listed = answer["restrictions"].as_array().unwrap();
            for (slot, r) in v.restrictions.iter().zip(listed) {
                check(slot.scope, "CONVSTATE_RESTRICTION_", &r["scope"]);
            }
        }
        TypedView::Template(Some(v)) => {
            check(v.category, "CONVSTATE_CATEGORY_", &answer["category"]);
            check(v.status, "CONVSTATE_TEMPLATE_", &answer["status"]);
            check(v.quality, "CONVSTATE_QUALITY_", &answer["quality"]);
        }
        TypedView::Limit(Some(v)) => check(v.scope, "CONVSTATE_LIMIT_SCOPE_", &answer["scope"]),
        _ => {}
    }
}

#[test]
fn the_typed_views_agree_with_the_wire_at_every_scenario_query() {
    // (views compared, views refused) by kind, and the fields seen past their empty value.
    let mut compared = std::collections::BTreeMap::<&str, (u32, u32)>::new();
    let mut fields_set = std::collections::BTreeSet::new();
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let preset = header["policy"].as_str().unwrap();
        let overrides = header.get("policy_overrides").map(|v| v.to_string());
        let (o, olen) = overrides
            .as_deref()
            .map_or((null(), 0), |o| (ptr(o), o.len()));
        let mut engine = null_mut();
        let rc = unsafe { convstate_engine_new(ptr(preset), preset.len(), o, olen, &mut engine) };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        let mut out = null_mut();
        assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
        for line in lines {
            // The typed view is read first: the query moves the clock to its instant.
            let typed = typed_view_of_query(engine, line);
            let answer = json_door(engine, out, line);
            let Some(typed) = typed else { continue };
            let answer: serde_json::Value = serde_json::from_str(answer.last().unwrap()).unwrap();
            let typed = match typed {
                TypedView::Usage(_) => TypedView::Usage(typed_usage_of_query(
                    line,
                    &answer,
                    |n, nl, b, bl, m, ml, out| unsafe {
                        convstate_engine_usage(engine, n, nl, b, bl, m, ml, out)
                    },
                )),
                typed => typed,
            };
            let expected = typed_view_of_answer(&typed, &answer);
            assert_eq!(typed, expected, "{}: {line}", file.display());
            enum_names_agree(&typed, &answer);
            let (kind, refused) = match &typed {
                TypedView::Conversation(v) => ("conversation", v.is_none()),
                TypedView::Number(v) => ("number", v.is_none()),
                TypedView::Template(v) => ("template", v.is_none()),
                TypedView::Limit(v) => ("limit", v.is_none()),
                TypedView::Usage(v) => ("usage", v.is_none()),
            };
            let count = compared.entry(kind).or_default();
            if refused {
                count.1 += 1;
            } else {
                count.0 += 1;
            }
            let seen: &[(&str, bool)] = match &typed {
                TypedView::Conversation(Some(v)) => &[
                    (
                        "chat_last_reply_at_ms",
                        v.chat_last_reply_at_ms != CONVSTATE_NONE_MS,
                    ),
                    (
                        "ticket_last_reply_at_ms",
                        v.ticket_last_reply_at_ms != CONVSTATE_NONE_MS,
                    ),
                    (
                        "ticket_first_response_after_ms",
                        v.ticket_first_response_after_ms != CONVSTATE_NONE_MS,
                    ),
                    ("outbox_held", v.outbox_held > 0),
                    (
                        "ticket_status",
                        v.ticket_status != convstate_ticket_status::CONVSTATE_TICKET_NONE,
                    ),
                ],
                TypedView::Number(Some(v)) => &[
                    (
                        "number flagged_until_ms",
                        v.flagged_until_ms != CONVSTATE_NONE_MS,
                    ),
                    ("restrictions", v.restrictions_len > 0),
                    ("two restrictions", v.restrictions_len > 1),
                    (
                        "restriction until_ms",
                        v.restrictions[0].until_ms != CONVSTATE_NONE_MS,
                    ),
                    ("chats_missed", v.chats_missed > 0),
                ],
                TypedView::Template(Some(v)) => &[
                    ("template until_ms", v.until_ms != CONVSTATE_NONE_MS),
                    (
                        "template flagged_until_ms",
                        v.flagged_until_ms != CONVSTATE_NONE_MS,
                    ),
                    ("pause_strikes", v.pause_strikes > 0),
                    ("locked", v.locked),
                ],
                TypedView::Limit(Some(v)) => &[
                    ("next_slot_at_ms", v.next_slot_at_ms != CONVSTATE_NONE_MS),
                    ("upgrade_at_ms", v.upgrade_at_ms != CONVSTATE_NONE_MS),
                    ("blocked_until_ms", v.blocked_until_ms != CONVSTATE_NONE_MS),
                    ("unlimited", v.limit == CONVSTATE_LIMIT_UNLIMITED),
                ],
                TypedView::Usage(Some(v)) => &[
                    ("free", v.free > 0),
                    (
                        "two free reasons",
                        v.free_by_reason.iter().filter(|&&n| n > 0).count() > 1,
                    ),
                    ("confirmed_utility", v.confirmed_utility > 0),
                    ("failed", v.failed > 0),
                    ("cost_micros", v.cost_micros > 0),
                    ("unpriced", v.unpriced > 0),
                ],
                _ => &[],
            };
            fields_set.extend(seen.iter().filter(|(_, set)| *set).map(|(name, _)| *name));
        }
        unsafe {
            convstate_string_free(out);
            convstate_engine_free(engine);
        }
    }
    // The scenarios hold dozens of queries of each kind, and they reach these fields past
    // their empty value, so that none agrees only by both sides being empty.
    for kind in ["conversation", "number", "template", "limit", "usage"] {
        let (views, _) = compared.get(kind).copied().unwrap_or_default();
        assert!(views >= 20, "{views} {kind} views compared: {compared:?}");
    }
    assert_eq!(
        fields_set.len(),
        24,
        "some fields are only ever empty; these are not: {fields_set:?}"
    );
}

/// Reads the sharded engine's typed view a query line asks for (a usage view after the
/// wire's answer, as for one engine), or `None` for a query dated before its clock (the
/// wire reads that at the shard's clock, which no call tells).
fn sharded_typed_view_of_query(
    sharded: *const convstate_sharded_engine,
    line: &str,
) -> Option<TypedView> {
    use convstate_core::Event;
    let mut clock = 0;
    assert_eq!(
        unsafe { convstate_sharded_engine_clock(sharded, &mut clock) },
        CONVSTATE_OK
    );
    let event = convstate_core::wire::decode_event(line).ok()?;
    let at = event.at().unix_millis();
    if at < clock {
        return None;
    }
    Some(match event {
        Event::QueryConversation(q) => TypedView::Conversation(read(|out| unsafe {
            let (number, contact) = (q.number.as_str(), q.contact.as_str());
            convstate_sharded_engine_conversation(
                sharded,
                at,
                ptr(number),
                number.len(),
                ptr(contact),
                contact.len(),
                out,
            )
        })),
        Event::QueryNumber(q) => TypedView::Number(read(|out| unsafe {
            convstate_sharded_engine_number_at(sharded, at, ptr(&q.number), q.number.len(), out)
        })),
        Event::QueryTemplate(q) => TypedView::Template(read(|out| unsafe {
            convstate_sharded_engine_template_at(
                sharded,
                at,
                ptr(&q.business),
                q.business.len(),
                ptr(&q.name),
                q.name.len(),
                ptr(&q.language),
                q.language.len(),
                out,
            )
        })),
        Event::QueryLimit(q) => TypedView::Limit(read(|out| unsafe {
            convstate_sharded_engine_limit(sharded, at, ptr(&q.number), q.number.len(), out)
        })),
        Event::QueryUsage(_) => TypedView::Usage(None),
        _ => return None,
    })
}

#[test]
fn the_sharded_engines_typed_views_agree_with_its_wire_at_every_scenario_query() {
    let mut compared = std::collections::BTreeMap::<&str, u32>::new();
    for file in scenario_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        let preset = header["policy"].as_str().unwrap();
        let overrides = header.get("policy_overrides").map(|v| v.to_string());
        let (o, olen) = overrides
            .as_deref()
            .map_or((null(), 0), |o| (ptr(o), o.len()));
        let mut sharded = null_mut();
        let rc = unsafe {
            convstate_sharded_engine_new(ptr(preset), preset.len(), o, olen, 3, &mut sharded)
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        let mut out = null_mut();
        assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
        for line in lines {
            let typed = sharded_typed_view_of_query(sharded, line);
            let rc = unsafe {
                convstate_sharded_engine_handle_json(sharded, ptr(line), line.len(), out)
            };
            assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
            let Some(typed) = typed else { continue };
            let text = unsafe {
                std::slice::from_raw_parts(
                    convstate_string_ptr(out).cast::<u8>(),
                    convstate_string_len(out),
                )
            };
            let result = std::str::from_utf8(text).unwrap().lines().next().unwrap();
            let answer: serde_json::Value = serde_json::from_str(result).unwrap();
            let typed = match typed {
                TypedView::Usage(_) => TypedView::Usage(typed_usage_of_query(
                    line,
                    &answer,
                    |n, nl, b, bl, m, ml, out| unsafe {
                        convstate_sharded_engine_usage(sharded, n, nl, b, bl, m, ml, out)
                    },
                )),
                typed => typed,
            };
            assert_eq!(
                typed,
                typed_view_of_answer(&typed, &answer),
                "{}: {line}",
                file.display()
            );
            enum_names_agree(&typed, &answer);
            let kind = match typed {
                TypedView::Conversation(_) => "conversation",
                TypedView::Number(_) => "number",
                TypedView::Template(_) => "template",
                TypedView::Limit(_) => "limit",
                TypedView::Usage(_) => "usage",
            };
            *compared.entry(kind).or_insert(0) += 1;
        }
        unsafe {
            convstate_string_free(out);
            convstate_sharded_engine_free(sharded);
        }
    }
    // Nearly every query of the scenarios (the late ones aside), each kind by the dozen.
    for kind in ["conversation", "number", "template", "limit", "usage"] {
        let views = compared.get(kind).copied().unwrap_or(0);
        assert!(views >= 20, "{views} {kind} views compared: {compared:?}");
    }
}

#[test]
fn the_json_door_reports_bad_lines_on_the_wire_and_bad_calls_by_code() {
    let engine = new_engine("cloud-2025");
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let lines = json_door(engine, out, r#"{"type":"nope"}"#);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(r#"{"type":"error","error":"invalid_event""#));

    let bad = [b'{', 0xc3];
    let rc = unsafe { convstate_engine_handle_json(engine, bad.as_ptr().cast(), 2, out) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_UTF8);
    assert_eq!(
        unsafe { convstate_string_len(out) },
        lines[0].len() + 1,
        "out left as it was"
    );
    let rc = unsafe { convstate_engine_handle_json(engine, ptr("{}"), 2, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    unsafe {
        convstate_string_free(out);
        convstate_engine_free(engine);
    }
}

#[test]
fn template_messages_take_positional_or_named_params_not_both() {
    let mut message = null_mut();
    let rc = unsafe {
        convstate_message_new_template(ptr("order_ready"), 11, ptr("en"), 2, &mut message)
    };
    assert_eq!(rc, CONVSTATE_OK);
    assert_eq!(
        unsafe { convstate_message_add_param(message, ptr("A-17"), 4) },
        CONVSTATE_OK
    );
    let rc = unsafe { convstate_message_add_named_param(message, ptr("n"), 1, ptr("v"), 1) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    let text_message = text("hi");
    let rc = unsafe { convstate_message_add_param(text_message, ptr("x"), 1) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    let mut from_json = null_mut();
    let json = r#"{"kind":"template","name":"order_ready","language":"en","params":["A-17"]}"#;
    let rc = unsafe { convstate_message_from_json(ptr(json), json.len(), &mut from_json) };
    assert_eq!(rc, CONVSTATE_OK);
    assert_eq!(unsafe { &*from_json }.message, unsafe { &*message }.message);
    let rc = unsafe { convstate_message_from_json(ptr("{}"), 2, &mut from_json) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_EVENT);
    // The field at fault is named as the JSON door names it in a send line.
    let wrong_type = r#"{"kind":"text","text":7}"#;
    let rc =
        unsafe { convstate_message_from_json(ptr(wrong_type), wrong_type.len(), &mut from_json) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_EVENT);
    assert_eq!(
        last_error(),
        r#"invalid event: field "message.text": invalid type: integer `7`, expected a string"#
    );
    unsafe {
        convstate_message_free(message);
        convstate_message_free(text_message);
        convstate_message_free(from_json);
    }
}

/// The JSON door refuses a repeated key in `params`; the typed calls refuse a repeated name
/// the same way, body and header alike, and keep the first value.
#[test]
fn a_named_param_given_twice_is_refused_as_the_json_door_refuses_it() {
    type AddNamed = unsafe extern "C" fn(
        *mut convstate_message,
        *const c_char,
        usize,
        *const c_char,
        usize,
    ) -> convstate_result;
    let adders: [(AddNamed, &str); 2] = [
        (convstate_message_add_named_param, "params"),
        (convstate_message_add_named_header_param, "header_params"),
    ];
    for (add, part) in adders {
        let mut message = null_mut();
        let rc = unsafe {
            convstate_message_new_template(ptr("order_ready"), 11, ptr("en"), 2, &mut message)
        };
        assert_eq!(rc, CONVSTATE_OK);
        assert_eq!(
            unsafe { add(message, ptr("order"), 5, ptr("A-17"), 4) },
            CONVSTATE_OK
        );
        let rc = unsafe { add(message, ptr("order"), 5, ptr("B-99"), 4) };
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT, "{part}");
        let error = last_error();
        assert!(
            error.contains("named parameter `order` was already added"),
            "{part}: {error}"
        );
        let json = format!(
            r#"{{"kind":"template","name":"order_ready","language":"en","{part}":{{"order":"A-17"}}}}"#
        );
        let mut first_kept = null_mut();
        let rc = unsafe { convstate_message_from_json(ptr(&json), json.len(), &mut first_kept) };
        assert_eq!(rc, CONVSTATE_OK, "{part}: {}", last_error());
        assert_eq!(
            unsafe { &*first_kept }.message,
            unsafe { &*message }.message
        );
        let twice = json.replace(r#""A-17"}"#, r#""A-17","order":"B-99"}"#);
        let mut refused = null_mut();
        let rc = unsafe { convstate_message_from_json(ptr(&twice), twice.len(), &mut refused) };
        assert_eq!(rc, CONVSTATE_ERR_INVALID_EVENT, "{part}");
        assert!(
            last_error().contains("duplicate field `order`"),
            "{}",
            last_error()
        );
        unsafe {
            convstate_message_free(message);
            convstate_message_free(first_kept);
        }
    }
}

#[test]
fn result_codes_are_unique_named_and_grouped_by_area() {
    let all = convstate_result::ALL;
    let mut values: Vec<u32> = all.iter().map(|r| *r as u32).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), all.len(), "no value is used twice");
    for r in all {
        let name = unsafe { CStr::from_ptr(convstate_result_name(r as u32)) };
        assert_eq!(name.to_str().unwrap(), format!("{r:?}"));
    }
    let unknown = unsafe { CStr::from_ptr(convstate_result_name(4242)) };
    assert_eq!(unknown.to_str().unwrap(), "CONVSTATE_UNKNOWN_RESULT");
    let window = unsafe { CStr::from_ptr(convstate_reason_name(1)) };
    assert_eq!(window.to_str().unwrap(), "window_closed");
}

#[test]
fn every_denial_kind_has_its_own_reason_code_named_as_core_names_it() {
    use convstate_core::decision::DenyReasonKind;
    let name_of = |code: u32| unsafe { CStr::from_ptr(convstate_reason_name(code)) };
    let mut codes = Vec::new();
    for &kind in DenyReasonKind::ALL {
        let code = crate::codes::reason_code(kind) as u32;
        assert_ne!(
            code,
            convstate_reason::CONVSTATE_REASON_OTHER as u32,
            "{kind:?} has no C code: add it to codes::reason_code"
        );
        assert!(!codes.contains(&code), "{kind:?} shares code {code}");
        codes.push(code);
        assert_eq!(name_of(code).to_str().unwrap(), kind.name());
    }
    assert_eq!(name_of(0).to_str().unwrap(), "none");
    assert_eq!(name_of(999).to_str().unwrap(), "other");
    assert_eq!(name_of(19).to_str().unwrap(), "unknown");
}

#[test]
fn every_core_error_maps_to_its_own_code_in_its_area() {
    use convstate_core::Error;
    let cases = [
        (
            Error::InvalidEvent {
                problem: "x".into(),
            },
            CONVSTATE_ERR_INVALID_EVENT,
        ),
        (
            Error::UnknownNumber { number: "x".into() },
            CONVSTATE_ERR_UNKNOWN_NUMBER,
        ),
        (
            Error::UnknownPolicy {
                name: "x".into(),
                known: "y".into(),
            },
            CONVSTATE_ERR_UNKNOWN_POLICY,
        ),
        (
            Error::CorruptSnapshot {
                problem: "x".into(),
            },
            CONVSTATE_ERR_CORRUPT_SNAPSHOT,
        ),
        (
            Error::CapacityExceeded {
                what: "x",
                limit: 1,
            },
            CONVSTATE_ERR_CAPACITY_EXCEEDED,
        ),
        (
            Error::NoTicket {
                number: "x".into(),
                contact: "y".into(),
            },
            CONVSTATE_ERR_NO_TICKET,
        ),
        (
            Error::TicketNotCurrent {
                number: "x".into(),
                contact: "y".into(),
                ticket: 1,
                current: 2,
            },
            CONVSTATE_ERR_TICKET_NOT_CURRENT,
        ),
        (
            Error::UnknownConversation { id: 7 },
            CONVSTATE_ERR_UNKNOWN_CONVERSATION,
        ),
    ];
    for (error, code) in cases {
        assert_eq!(result_for(&error), code, "{error:?}");
        let area = match error.kind() {
            convstate_core::ErrorKind::InvalidInput => 100,
            convstate_core::ErrorKind::NotFound => 200,
            convstate_core::ErrorKind::Policy => 300,
            convstate_core::ErrorKind::Snapshot => 400,
            _ => 500,
        };
        assert_eq!(code as u32 / 100 * 100, area, "{error:?} in its area");
    }
}

#[test]
fn a_bad_ticket_status_names_the_calls_own_parameter() {
    let engine = new_engine("cloud-2025");
    let (n, c) = ("+15550001111", "+79110000001");
    let (n, n_len, c, c_len) = (ptr(n), n.len(), ptr(c), c.len());
    let refused = |rc: convstate_result, parameter: &str| {
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
        let error = last_error();
        assert!(error.contains(&format!("`{parameter}` is 9")), "{error}");
    };
    refused(
        unsafe { convstate_engine_end_chat(engine, T0, n, n_len, c, c_len, 1, 9) },
        "ticket_status",
    );
    refused(
        unsafe { convstate_engine_set_ticket_status(engine, T0, n, n_len, c, c_len, 9, 0) },
        "status",
    );
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn every_core_error_code_has_a_c_code_of_its_own() {
    // The codes `Error::code` names, read from its source: a new core error without its own
    // C code would reach C hosts as an `*_OTHER` they cannot tell apart.
    let source =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src/error.rs"))
            .unwrap();
    let body = &source[source.find("pub fn code(&self)").unwrap()..];
    let body = &body[..body.find("\n    }\n").unwrap()];
    let codes: Vec<&str> = body
        .lines()
        .filter_map(|line| line.trim().strip_suffix("\",")?.rsplit_once("=> \""))
        .map(|(_, code)| code)
        .collect();
    assert!(codes.len() >= 22, "read {codes:?}");
    let mapping =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/boundary.rs"))
            .unwrap();
    let unmapped: Vec<&&str> = codes
        .iter()
        .filter(|code| !mapping.contains(&format!("\"{code}\" => CONVSTATE_ERR_")))
        .collect();
    assert!(unmapped.is_empty(), "no C code for {unmapped:?}");
    let view = convstate_core::Error::ViewBeforeClock {
        at: convstate_core::Instant::EPOCH,
        clock: convstate_core::Instant::EPOCH,
    };
    assert_eq!(result_for(&view), CONVSTATE_ERR_VIEW_BEFORE_CLOCK);
}

#[test]
fn version_macros_match_cargo_toml() {
    let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u32 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    let patch: u32 = env!("CARGO_PKG_VERSION_PATCH").parse().unwrap();
    assert_eq!(
        (
            CONVSTATE_VERSION_MAJOR,
            CONVSTATE_VERSION_MINOR,
            CONVSTATE_VERSION_PATCH
        ),
        (major, minor, patch)
    );
    let version = unsafe { CStr::from_ptr(convstate_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    let commit = unsafe { CStr::from_ptr(convstate_build_commit()) };
    assert_eq!(commit.to_str().unwrap(), convstate_core::BUILD_COMMIT);
    // The macros cbindgen cannot write itself come from ffi/cbindgen.toml.
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    let version_macro = format!(
        "#define CONVSTATE_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        header.contains(&version_macro),
        "header lacks {version_macro}"
    );
    assert_eq!(CONVSTATE_NONE_MS, -1);
    assert!(header.contains("#define CONVSTATE_NONE_MS ((int64_t)-1)"));
    assert_eq!(CONVSTATE_LIMIT_UNLIMITED, -1);
    assert!(header.contains("#define CONVSTATE_LIMIT_UNLIMITED ((int64_t)-1)"));
    assert_eq!(CONVSTATE_NO_CONVERSATION, u64::MAX);
    assert!(header.contains("#define CONVSTATE_NO_CONVERSATION UINT64_MAX"));
}

#[test]
fn a_denial_with_a_limit_carries_the_numbers() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    let mut image = null_mut();
    let rc = unsafe {
        convstate_message_new_media(
            convstate_media_kind::CONVSTATE_MEDIA_IMAGE as u32,
            6_000_000,
            null(),
            0,
            &mut image,
        )
    };
    assert_eq!(rc, CONVSTATE_OK);
    let mut decision = poisoned_decision();
    let rc = unsafe { convstate_engine_check_send(engine, &request(T0 + 1, image), &mut decision) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        decision.reason,
        convstate_reason::CONVSTATE_REASON_FILE_TOO_LARGE
    );
    assert_eq!((decision.limit, decision.actual), (5_000_000, 6_000_000));
    assert_eq!(
        decision.detail_code,
        convstate_media_kind::CONVSTATE_MEDIA_IMAGE as u32
    );
    assert_eq!(
        decision.next_action,
        convstate_next_action::CONVSTATE_NEXT_FIX_CONTENT
    );
    unsafe {
        convstate_message_free(image);
        convstate_engine_free(engine);
    }
}

/// A media message built by the typed constructor names its file with
/// `convstate_message_set_media_ref`, so that two different files of one size and caption
/// are not one content (§10): without a setter the second was refused as a duplicate. And a
/// sticker marked animated takes the animated sticker's limit.
#[test]
fn media_messages_take_a_file_reference_and_stickers_an_animated_mark() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    let image = |media_ref: Option<&str>| {
        let mut image = null_mut();
        let rc = unsafe {
            convstate_message_new_media(
                convstate_media_kind::CONVSTATE_MEDIA_IMAGE as u32,
                40_000,
                null(),
                0,
                &mut image,
            )
        };
        assert_eq!(rc, CONVSTATE_OK);
        if let Some(r) = media_ref {
            let rc = unsafe { convstate_message_set_media_ref(image, ptr(r), r.len()) };
            assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        }
        image
    };
    let send = |message, at| {
        let mut decision = poisoned_decision();
        let rc = unsafe { convstate_engine_send(engine, &request(at, message), &mut decision) };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        decision
    };
    let (first, second) = (image(Some("media-1")), image(Some("media-2")));
    assert_eq!(
        send(first, T0 + 1).verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    assert_eq!(
        send(second, T0 + 2).verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    // The same file again is a duplicate; so are two files the host did not name.
    let again = send(first, T0 + 3);
    assert_eq!(again.reason, convstate_reason::CONVSTATE_REASON_DUPLICATE);
    let (unnamed, unnamed_too) = (image(None), image(None));
    assert_eq!(
        send(unnamed, T0 + 4).verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    assert_eq!(
        send(unnamed_too, T0 + 5).reason,
        convstate_reason::CONVSTATE_REASON_DUPLICATE
    );

    // A 300 KB sticker is over a sticker's 100 KB and within an animated one's 500 KB.
    let mut sticker = null_mut();
    let rc = unsafe {
        convstate_message_new_media(
            convstate_media_kind::CONVSTATE_MEDIA_STICKER as u32,
            300_000,
            null(),
            0,
            &mut sticker,
        )
    };
    assert_eq!(rc, CONVSTATE_OK);
    let check = |message| {
        let mut decision = poisoned_decision();
        let rc = unsafe {
            convstate_engine_check_send(engine, &request(T0 + 6, message), &mut decision)
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        decision
    };
    let still = check(sticker);
    assert_eq!(
        still.reason,
        convstate_reason::CONVSTATE_REASON_FILE_TOO_LARGE
    );
    assert_eq!((still.limit, still.actual), (100_000, 300_000));
    assert_eq!(
        unsafe { convstate_message_set_animated(sticker, 1) },
        CONVSTATE_OK
    );
    assert_eq!(
        check(sticker).verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );

    // Neither setter takes a message it does not apply to, nor a stray yes-or-no byte.
    let words = text("hello");
    let rc = unsafe { convstate_message_set_media_ref(words, ptr("m"), 1) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(
        last_error().contains("not a media message"),
        "{}",
        last_error()
    );
    assert_eq!(
        unsafe { convstate_message_set_animated(first, 1) },
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("only a sticker"), "{}", last_error());
    assert_eq!(
        unsafe { convstate_message_set_animated(sticker, 2) },
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        unsafe { convstate_message_set_media_ref(null_mut(), ptr("m"), 1) },
        CONVSTATE_ERR_NULL_ARGUMENT
    );
    unsafe {
        for message in [first, second, unnamed, unnamed_too, sticker, words] {
            convstate_message_free(message);
        }
        convstate_engine_free(engine);
    }
}

#[test]
fn a_panic_becomes_a_result_code_and_a_message() {
    let rc = crate::boundary::run(|| panic!("boom in the engine"));
    assert_eq!(rc, CONVSTATE_ERR_PANIC);
    assert!(
        last_error().contains("boom in the engine"),
        "{}",
        last_error()
    );
}

#[test]
fn the_last_error_belongs_to_its_thread() {
    let mut engine = null_mut();
    let rc = unsafe { convstate_engine_new(ptr("nope"), 4, null(), 0, &mut engine) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_POLICY);
    let other = std::thread::spawn(|| {
        let before = last_error();
        let rc = unsafe { convstate_engine_handle_timeout(null_mut(), T0) };
        (before, rc, last_error())
    })
    .join()
    .unwrap();
    assert_eq!(other.0, "", "a new thread starts with no error");
    assert_eq!(other.1, CONVSTATE_ERR_NULL_ARGUMENT);
    assert!(other.2.contains("engine"));
    assert!(last_error().contains("unknown policy"), "{}", last_error());
}

#[test]
fn the_webhook_door_applies_a_meta_payload_and_reports_what_it_did_not_know() {
    let engine = new_engine_for_webhooks();
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1793610000,"changes":[{"field":"messages","value":{"metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},"messages":[{"from":"79110000001","id":"wamid.A","timestamp":"1793610000","type":"text","text":{"body":"hi"}},{"from":"79110000001","id":"wamid.B","timestamp":"1793610001","type":"hologram"}]}}]}]}"#;
    let rc = unsafe {
        convstate_engine_handle_webhook(engine, 1_793_700_000_000, body.as_ptr(), body.len(), out)
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let text = unsafe {
        std::slice::from_raw_parts(
            convstate_string_ptr(out).cast::<u8>(),
            convstate_string_len(out),
        )
    };
    let lines: Vec<&str> = std::str::from_utf8(text).unwrap().lines().collect();
    assert!(
        lines[0].starts_with(
            r#"{"type":"ack","of":"inbound","path":"entry[0].changes[0].value.messages[0]""#
        ),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            r#"{"type":"unrecognized","path":"entry[0].changes[0].value.messages[1].type""#
        )),
        "{lines:?}"
    );
    // The window runs from the message's own timestamp, not from `at_ms`.
    let view = json_door(
        engine,
        out,
        r#"{"type":"query_conversation","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000001"}"#,
    );
    assert!(
        view[0].contains(r#""window_ends_at":"2026-11-03T09:00:00Z""#),
        "{view:?}"
    );

    let rc = unsafe { convstate_engine_handle_webhook(engine, 0, b"{".as_ptr(), 1, out) };
    assert_eq!(rc, CONVSTATE_OK);
    assert!(unsafe { CStr::from_ptr(convstate_string_ptr(out)) }
        .to_str()
        .unwrap()
        .starts_with(r#"{"type":"error","error":"invalid_event""#));
    let rc = unsafe { convstate_engine_handle_webhook(engine, 0, null(), 0, out) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    unsafe { convstate_string_free(out) };
    unsafe { convstate_engine_free(engine) };
}

/// The webhook door hands back the effects its payload caused, and only them: effects an
/// earlier typed call left queued stay for `convstate_engine_poll_effect`, where the JSON door
/// drains the whole queue. The header said "as with `convstate_engine_handle_json`" and no
/// more, so a host that fed typed calls and webhooks, and read effects from the doors only,
/// never polled for the typed calls' effects: lost to it, and kept in every snapshot.
#[test]
fn the_webhook_door_leaves_effects_queued_before_it_for_poll_effect() {
    let engine = new_engine_for_webhooks();
    // A typed inbound from another contact queues ticket_opened and chat_started.
    assert_eq!(
        unsafe {
            convstate_engine_inbound(
                engine,
                T0 - 60_000,
                ptr(NUMBER),
                NUMBER.len(),
                ptr("+79110000002"),
                12,
                null(),
                0,
                convstate_inbound_kind::CONVSTATE_INBOUND_TEXT as u32,
                -1,
            )
        },
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","time":1793610000,"changes":[{"field":"messages","value":{"metadata":{"display_phone_number":"15550001111","phone_number_id":"106540352242922"},"messages":[{"from":"79110000001","id":"wamid.A","timestamp":"1793610000","type":"text","text":{"body":"hi"}}]}}]}]}"#;
    let rc = unsafe { convstate_engine_handle_webhook(engine, T0, body.as_ptr(), body.len(), out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let text = unsafe { CStr::from_ptr(convstate_string_ptr(out)) }
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("+79110000001") && !text.contains("+79110000002"),
        "{text}"
    );
    let (_, _, line) = poll(engine, 4096);
    assert!(
        line.contains(r#""effect":"ticket_opened""#) && line.contains("+79110000002"),
        "{line}"
    );
    unsafe {
        convstate_string_free(out);
        convstate_engine_free(engine);
    }
    // And the header says so.
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    let declaration = header
        .find("convstate_result convstate_engine_handle_webhook(")
        .unwrap();
    let doc = &header[header[..declaration].rfind("/**").unwrap()..declaration];
    assert!(
        doc.contains("earlier typed calls left queued stay queued"),
        "the webhook door's doc does not say where earlier effects go: {doc}"
    );
}

/// The doc comment the header gives a result code.
fn result_code_doc(header: &str, code: convstate_result) -> String {
    let name = unsafe { CStr::from_ptr(convstate_result_name(code as u32)) }
        .to_str()
        .unwrap();
    let at = header.find(&format!("{name} = {}", code as u32)).unwrap();
    doc_above(header, at)
}

/// The header's word on a result code covers the typed calls that return it. It said
/// `CONVSTATE_ERR_INVALID_EVENT` was "a wire-format line or message JSON that does not
/// decode" and `CONVSTATE_ERR_INVALID_ARGUMENT` a bad numeric code, length or alignment, so a
/// C host reading the codes took a typed call's refused field for a JSON problem, and a bad
/// `month` for an unaligned pointer.
#[test]
fn the_result_code_docs_cover_what_typed_calls_return() {
    let engine = new_engine("cloud-2025");
    register(engine);
    // No JSON anywhere: a limit the policy does not have.
    let rc = unsafe {
        convstate_engine_messaging_limit(engine, T0 + HOUR, ptr(NUMBER), NUMBER.len(), 7)
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_EVENT, "{}", last_error());
    let (rc, _) = usage_call(engine, "2026-13");
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT, "{}", last_error());
    unsafe { convstate_engine_free(engine) };

    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    let invalid_event = result_code_doc(&header, CONVSTATE_ERR_INVALID_EVENT);
    assert!(invalid_event.contains("typed call"), "{invalid_event}");
    assert!(
        invalid_event.contains("the policy does not have"),
        "{invalid_event}"
    );
    let invalid_argument = result_code_doc(&header, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert!(invalid_argument.contains("`month`"), "{invalid_argument}");
    assert!(
        invalid_argument.contains("exclude each other"),
        "{invalid_argument}"
    );
}

/// The engine's clock is the provider's latest timestamp, which may run ahead of the host's:
/// a view at the host's instant is refused, and the host reads the clock to ask at it.
#[test]
fn the_clock_is_read_to_ask_a_view_at_it() {
    let engine = new_engine_for_webhooks();
    let clock = |engine| {
        let mut clock = -1;
        assert_eq!(
            unsafe { convstate_engine_clock(engine, &mut clock) },
            CONVSTATE_OK
        );
        clock
    };
    assert_eq!(
        clock(engine),
        1_793_606_400_000,
        "2026-11-02T08:00:00Z, the registration"
    );
    // A message stamped by the provider 3 s after the host's own now.
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    json_door(
        engine,
        out,
        r#"{"type":"inbound","at":"2026-11-02T09:00:03Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
    );
    let provider_now = clock(engine);
    assert_eq!(provider_now, 1_793_610_003_000);
    let view_at = |at_ms| {
        let mut view = std::mem::MaybeUninit::<convstate_conversation_view>::uninit();
        unsafe {
            convstate_engine_conversation(
                engine,
                at_ms,
                ptr("+15550001111"),
                12,
                ptr("+79110000001"),
                12,
                view.as_mut_ptr(),
            )
        }
    };
    assert_eq!(view_at(1_793_610_000_000), CONVSTATE_ERR_VIEW_BEFORE_CLOCK);
    assert_eq!(view_at(provider_now), CONVSTATE_OK);
    let mut clock_ms = 0;
    let rc = unsafe { convstate_engine_clock(null(), &mut clock_ms) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let rc = unsafe { convstate_engine_clock(engine, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    unsafe {
        convstate_string_free(out);
        convstate_engine_free(engine);
    }
}

fn new_engine_for_webhooks() -> *mut convstate_engine {
    let mut engine = null_mut();
    let preset = "cloud-2025";
    let rc = unsafe { convstate_engine_new(ptr(preset), preset.len(), null(), 0, &mut engine) };
    assert_eq!(rc, CONVSTATE_OK);
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    json_door(
        engine,
        out,
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official","phone_number_id":"106540352242922"}"#,
    );
    unsafe { convstate_string_free(out) };
    engine
}

// ---- account dynamics and delivery statuses ----------------------------------------------

const BUSINESS: &str = "acme";
/// Russian mobile contacts: the rate card below prices them in market `russia`.
const CONTACTS: [&str; 3] = ["+79110000001", "+79110000002", "+79110000003"];
/// Messaging limit levels of 2, 4, unlimited, and a rate card in USD.
const DYNAMICS_OVERRIDES: &str = r#"{"limits":{"levels":[2,4,"unlimited"]},"pricing":{"rate_card":{"currency":"USD","markets":{"7":"russia"},"rates":{"russia":{"marketing":"0.0802","utility":"0.0229"},"other":{"marketing":"0.06"}}}}}"#;

fn new_engine_with(
    preset: &str,
    overrides: &str,
) -> Result<*mut convstate_engine, convstate_result> {
    let mut engine = null_mut();
    let rc = unsafe {
        convstate_engine_new(
            ptr(preset),
            preset.len(),
            ptr(overrides),
            overrides.len(),
            &mut engine,
        )
    };
    if rc == CONVSTATE_OK {
        Ok(engine)
    } else {
        Err(rc)
    }
}

/// cloud-2025 with [`DYNAMICS_OVERRIDES`], a number, an approved marketing template `promo`
/// and opt-ins from every contact of [`CONTACTS`].
fn dynamics_engine() -> *mut convstate_engine {
    let engine = new_engine_with("cloud-2025", DYNAMICS_OVERRIDES)
        .unwrap_or_else(|_| panic!("{}", last_error()));
    register(engine);
    let body = "Hello {{1}}, see our offer.";
    let template = convstate_template_registration {
        at_ms: T0 - HOUR,
        business: ptr(BUSINESS),
        business_len: BUSINESS.len(),
        name: ptr("promo"),
        name_len: 5,
        language: ptr("en"),
        language_len: 2,
        category: convstate_template_category::CONVSTATE_CATEGORY_MARKETING as u32,
        body: ptr(body),
        body_len: body.len(),
        header: null(),
        header_len: 0,
        footer: null(),
        footer_len: 0,
        buttons_json: null(),
        buttons_json_len: 0,
        status: convstate_template_status::CONVSTATE_TEMPLATE_APPROVED as u32,
        quality: 0,
    };
    let rc = unsafe { convstate_engine_register_template(engine, &template) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    for contact in CONTACTS {
        let rc = unsafe {
            convstate_engine_consent(
                engine,
                T0 - HOUR,
                ptr(BUSINESS),
                BUSINESS.len(),
                null(),
                0,
                ptr(contact),
                contact.len(),
                1,
            )
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    }
    drain_kinds(engine);
    engine
}

fn promo() -> *mut convstate_message {
    let mut message = null_mut();
    let rc = unsafe { convstate_message_new_template(ptr("promo"), 5, ptr("en"), 2, &mut message) };
    assert_eq!(rc, CONVSTATE_OK);
    assert_eq!(
        unsafe { convstate_message_add_param(message, ptr("x"), 1) },
        CONVSTATE_OK
    );
    message
}

/// Sends (`record`) or checks `message` to `contact` under `message_id`.
fn send_to(
    engine: *mut convstate_engine,
    at_ms: i64,
    contact: &str,
    message: *const convstate_message,
    message_id: Option<&str>,
    record: bool,
) -> convstate_decision {
    let mut r = request(at_ms, message);
    r.contact = ptr(contact);
    r.contact_len = contact.len();
    if let Some(id) = message_id {
        r.message_id = ptr(id);
        r.message_id_len = id.len();
    }
    let mut decision = poisoned_decision();
    let rc = unsafe {
        if record {
            convstate_engine_send(engine, &r, &mut decision)
        } else {
            convstate_engine_check_send(engine, &r, &mut decision)
        }
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    decision
}

/// Drains every pending effect and returns their kinds in order.
fn drain_kinds(engine: *mut convstate_engine) -> Vec<convstate_effect_kind> {
    let mut kinds = Vec::new();
    let mut buffer = vec![0u8; 4096];
    loop {
        let mut written = 0;
        let mut kind = convstate_effect_kind::CONVSTATE_EFFECT_OTHER;
        let rc = unsafe {
            convstate_engine_poll_effect(
                engine,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut written,
                &mut kind,
            )
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        if kind == convstate_effect_kind::CONVSTATE_EFFECT_NONE {
            return kinds;
        }
        assert_ne!(
            kind,
            convstate_effect_kind::CONVSTATE_EFFECT_OTHER,
            "an effect without its own kind: {}",
            String::from_utf8_lossy(&buffer[..written])
        );
        kinds.push(kind);
    }
}

fn currency(array: &[c_char; CONVSTATE_CURRENCY_CAPACITY]) -> String {
    // SAFETY: the library NUL-terminates the array.
    unsafe { CStr::from_ptr(array.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// `convstate_engine_usage` of `NUMBER` for `month`: its result code and the view it filled
/// (read only when the code is `CONVSTATE_OK`).
fn usage_call(
    engine: *mut convstate_engine,
    month: &str,
) -> (
    convstate_result,
    std::mem::MaybeUninit<convstate_usage_view>,
) {
    let mut view = std::mem::MaybeUninit::<convstate_usage_view>::uninit();
    let rc = unsafe {
        convstate_engine_usage(
            engine,
            ptr(NUMBER),
            NUMBER.len(),
            null(),
            0,
            ptr(month),
            month.len(),
            view.as_mut_ptr(),
        )
    };
    (rc, view)
}

fn usage_of(engine: *mut convstate_engine, month: &str) -> convstate_usage_view {
    let (rc, view) = usage_call(engine, month);
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    unsafe { view.assume_init() }
}

fn limit_of(engine: *mut convstate_engine, at_ms: i64) -> convstate_limit_view {
    let mut view = std::mem::MaybeUninit::<convstate_limit_view>::uninit();
    let rc = unsafe {
        convstate_engine_limit(engine, at_ms, ptr(NUMBER), NUMBER.len(), view.as_mut_ptr())
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    unsafe { view.assume_init() }
}

#[test]
fn a_limit_of_two_refuses_the_third_contact_and_charged_sends_carry_their_price() {
    let engine = dynamics_engine();
    let message = promo();
    let first = send_to(engine, T0, CONTACTS[0], message, Some("wamid.1"), true);
    assert_eq!(first.verdict, convstate_verdict::CONVSTATE_VERDICT_ALLOWED);
    assert_eq!(first.billing, convstate_billing::CONVSTATE_BILLING_CHARGED);
    assert_eq!(
        first.charge_category,
        convstate_charge_category::CONVSTATE_CHARGE_MARKETING
    );
    assert_eq!(first.price_micros, 80_200, "0.0802 USD in millionths");
    assert_eq!(currency(&first.currency), "USD");
    assert!(first.consumed_limit_slot);
    let second = send_to(
        engine,
        T0 + 60_000,
        CONTACTS[1],
        message,
        Some("wamid.2"),
        true,
    );
    assert_eq!(second.verdict, convstate_verdict::CONVSTATE_VERDICT_ALLOWED);

    let third = send_to(engine, T0 + 120_000, CONTACTS[2], message, None, false);
    assert_eq!(third.verdict, convstate_verdict::CONVSTATE_VERDICT_DENIED);
    assert_eq!(
        third.reason,
        convstate_reason::CONVSTATE_REASON_LIMIT_REACHED
    );
    assert_eq!((third.limit, third.actual), (2, 2));
    assert_eq!(
        third.instant_ms,
        T0 + 6 * HOUR,
        "the upgrade the first send scheduled (half the limit used) makes room before the \
         first contact leaves the 24h window"
    );
    assert_eq!(third.price_micros, -1, "a denial has no price");
    assert_eq!(currency(&third.currency), "");

    let limit = limit_of(engine, T0 + 120_000);
    assert_eq!(
        limit.scope,
        convstate_limit_scope::CONVSTATE_LIMIT_SCOPE_BUSINESS
    );
    assert_eq!((limit.limit, limit.used), (2, 2));
    assert_eq!(limit.next_slot_at_ms, T0 + 6 * HOUR);
    assert_eq!(limit.upgrade_at_ms, T0 + 6 * HOUR);
    assert_eq!(limit.blocked_until_ms, CONVSTATE_NONE_MS);

    // The provider raises the limit to unlimited: the third contact may be reached.
    let rc = unsafe {
        convstate_engine_messaging_limit(
            engine,
            T0 + 180_000,
            ptr(NUMBER),
            NUMBER.len(),
            CONVSTATE_LIMIT_UNLIMITED,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        drain_kinds(engine),
        [convstate_effect_kind::CONVSTATE_EFFECT_LIMIT_CHANGED]
    );
    assert_eq!(
        limit_of(engine, T0 + 180_000).limit,
        CONVSTATE_LIMIT_UNLIMITED
    );
    let third = send_to(engine, T0 + 240_000, CONTACTS[2], message, None, false);
    assert_eq!(third.verdict, convstate_verdict::CONVSTATE_VERDICT_ALLOWED);

    // The provider says the unlimited limit is reached (131064): the denial's `limit` is
    // the largest value, as the header says, not a count some policy could have.
    let reached = send_to(
        engine,
        T0 + 240_000,
        CONTACTS[2],
        message,
        Some("wamid.3"),
        true,
    );
    assert_eq!(
        reached.verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    let errors = [131_064u32];
    let rc = failed_status(
        engine,
        T0 + 300_000,
        CONTACTS[2],
        "wamid.3",
        errors.as_ptr(),
        errors.len(),
        null_mut(),
    );
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    drain_kinds(engine);
    // A new contact is refused until the next slot frees.
    let fourth = "+79110000004";
    let rc = unsafe {
        convstate_engine_consent(
            engine,
            T0 + 300_000,
            ptr(BUSINESS),
            BUSINESS.len(),
            null(),
            0,
            ptr(fourth),
            fourth.len(),
            1,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let blocked = send_to(engine, T0 + 360_000, fourth, message, None, false);
    assert_eq!(
        blocked.reason,
        convstate_reason::CONVSTATE_REASON_LIMIT_REACHED
    );
    assert_eq!(blocked.limit, u64::MAX);

    let usage = usage_of(engine, "2026-11");
    assert_eq!(usage.month, 202611);
    assert_eq!(usage.charged_marketing, 2);
    assert_eq!(usage.cost_micros, 160_400);
    assert_eq!(currency(&usage.currency), "USD");
    unsafe {
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

#[test]
fn a_failed_status_gives_back_the_charge_and_131047_closes_the_window() {
    let engine = dynamics_engine();
    let contact = CONTACTS[0];
    let inbound = text_inbound(T0, NUMBER, contact, Some("wamid.in.1"));
    // The flag is written on success only, false for a first delivery, true for the
    // provider's second (which changes nothing).
    let mut redelivered = true;
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, &inbound, &mut redelivered) },
        CONVSTATE_OK
    );
    assert!(!redelivered);
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, &inbound, &mut redelivered) },
        CONVSTATE_OK
    );
    assert!(redelivered, "the same message id delivered again");
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, &inbound, null_mut()) },
        CONVSTATE_OK,
        "no flag asked for"
    );
    let mut number = std::mem::MaybeUninit::<convstate_number_view>::uninit();
    assert_eq!(
        unsafe { convstate_engine_number(engine, ptr(NUMBER), NUMBER.len(), number.as_mut_ptr()) },
        CONVSTATE_OK
    );
    assert_eq!(
        unsafe { number.assume_init() }.inbound,
        1,
        "the same message id delivered twice counts once"
    );
    drain_kinds(engine);

    let hello = text("Hello");
    let reply = send_to(
        engine,
        T0 + 60_000,
        contact,
        hello,
        Some("wamid.out.1"),
        true,
    );
    assert_eq!(reply.verdict, convstate_verdict::CONVSTATE_VERDICT_ALLOWED);
    assert_eq!(reply.price_micros, -1, "a free reply has no price");

    let errors = [131_047u32];
    let mut unmatched = true;
    let rc = failed_status(
        engine,
        T0 + 120_000,
        contact,
        "wamid.out.1",
        errors.as_ptr(),
        errors.len(),
        &mut unmatched,
    );
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert!(!unmatched, "the status is the reply's");
    assert_eq!(
        drain_kinds(engine),
        [
            convstate_effect_kind::CONVSTATE_EFFECT_MESSAGE_FAILED,
            convstate_effect_kind::CONVSTATE_EFFECT_WINDOW_CLOSED_BY_PROVIDER
        ]
    );
    let again = send_to(engine, T0 + 180_000, contact, hello, None, false);
    assert_eq!(
        again.reason,
        convstate_reason::CONVSTATE_REASON_WINDOW_CLOSED
    );
    assert_eq!(again.instant_ms, T0 + 120_000);
    let usage = usage_of(engine, "2026-11");
    assert_eq!(usage.failed, 1);
    assert_eq!(usage.service_messages, 0, "the failed reply was taken back");
    // A status of an id the number never recorded a send under says so.
    let rc = failed_status(
        engine,
        T0 + 190_000,
        contact,
        "wamid.never-sent",
        null(),
        0,
        &mut unmatched,
    );
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert!(unmatched);
    unsafe {
        convstate_message_free(hello);
        convstate_engine_free(engine);
    }
}

#[test]
fn a_backoff_error_refuses_marketing_to_the_contact_until_its_end() {
    let engine = dynamics_engine();
    let message = promo();
    let contact = CONTACTS[0];
    send_to(engine, T0, contact, message, Some("wamid.6"), true);
    let errors = [131_049u32];
    let rc = failed_status(
        engine,
        T0 + 60_000,
        contact,
        "wamid.6",
        errors.as_ptr(),
        errors.len(),
        null_mut(),
    );
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert!(
        drain_kinds(engine).contains(&convstate_effect_kind::CONVSTATE_EFFECT_CONTACT_BACKED_OFF)
    );
    let denied = send_to(engine, T0 + HOUR, contact, message, None, false);
    assert_eq!(
        denied.reason,
        convstate_reason::CONVSTATE_REASON_CONTACT_BACKOFF
    );
    assert_eq!(denied.detail_code, 131_049);
    assert_eq!(denied.instant_ms, T0 + 60_000 + 24 * HOUR);
    let name = unsafe { CStr::from_ptr(convstate_reason_name(denied.reason as u32)) };
    assert_eq!(name.to_str().unwrap(), "contact_backoff");
    unsafe {
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

/// An initiate request from `NUMBER` to `contact` at `at_ms`: `message`, opened by
/// `template` (NULL: the number's default).
fn initiate_request(
    at_ms: i64,
    contact: &'static str,
    message: *const convstate_message,
    template: *const convstate_message,
    automated: u8,
) -> convstate_initiate_request {
    convstate_initiate_request {
        at_ms,
        number: ptr(NUMBER),
        number_len: NUMBER.len(),
        contact: ptr(contact),
        contact_len: contact.len(),
        message,
        template_message: template,
        idempotency_key: null(),
        idempotency_key_len: 0,
        message_id: null(),
        message_id_len: 0,
        automated,
    }
}

#[test]
fn the_typed_initiate_holds_behind_an_opener_and_an_automated_one_answers_no_one() {
    let engine = dynamics_engine();
    let (follow_up, opener) = (text("Your order shipped"), promo());
    let view_of = |contact: &str| {
        let mut view = std::mem::MaybeUninit::<convstate_conversation_view>::uninit();
        let rc = unsafe {
            convstate_engine_conversation(
                engine,
                T0 + 2 * MINUTE,
                ptr(NUMBER),
                NUMBER.len(),
                ptr(contact),
                contact.len(),
                view.as_mut_ptr(),
            )
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        unsafe { view.assume_init() }
    };

    // The window is closed: the template goes out now and the message is held.
    let mut decision = poisoned_decision();
    let request = initiate_request(T0, CONTACTS[0], follow_up, opener, 1);
    let rc = unsafe { convstate_engine_initiate(engine, &request, &mut decision) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        decision.verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    assert!(decision.initiation_template_sent);
    assert_eq!(decision.held, 1);
    assert_eq!(view_of(CONTACTS[0]).outbox_held, 1);

    // A yes-or-no byte other than 0 or 1 is refused, the decision left untouched.
    let mut decision = poisoned_decision();
    let stray = initiate_request(T0, CONTACTS[0], follow_up, opener, 2);
    let rc = unsafe { convstate_engine_initiate(engine, &stray, &mut decision) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "`automated` is 2, which is neither 0 nor 1");
    assert_eq!(decision.held, 7777, "the decision is not written");

    // In a live chat the window is open and the message goes out at once: an agent's
    // answers the waiting contact, an automated one (a bot's follow-up) does not.
    for (contact, automated) in [(CONTACTS[1], 1), (CONTACTS[2], 0)] {
        let rc = inbound_from(engine, T0, contact);
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        let request = initiate_request(T0 + MINUTE, contact, follow_up, null(), automated);
        let mut decision = poisoned_decision();
        let rc = unsafe { convstate_engine_initiate(engine, &request, &mut decision) };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        assert!(!decision.initiation_template_sent);
        assert_eq!(decision.held, 0);
    }
    let bot = view_of(CONTACTS[1]);
    assert_eq!(
        (bot.chat_responses, bot.chat_waiting_since_ms),
        (0, T0),
        "still waiting for an agent"
    );
    assert_eq!(
        bot.chat_last_activity_at_ms,
        T0 + MINUTE,
        "activity all the same"
    );
    let agent = view_of(CONTACTS[2]);
    assert_eq!(
        (agent.chat_responses, agent.chat_first_response_at_ms),
        (1, T0 + MINUTE)
    );
    unsafe {
        convstate_message_free(follow_up);
        convstate_message_free(opener);
        convstate_engine_free(engine);
    }
}

#[test]
fn a_locked_template_refuses_edits_until_unlocked_and_is_still_sent() {
    // LOCKED and UNLOCKED through the existing template event calls: the report struct and
    // `convstate_engine_template_status_ex`.
    let engine = dynamics_engine();
    let message = promo();
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let edit = |at_ms: i64| {
        json_door(
            engine,
            out,
            &format!(
                r#"{{"type":"edit_template","at":{at_ms},"business":"{BUSINESS}","name":"promo","language":"en","body":"Hi {{{{1}}}}, a new offer."}}"#
            ),
        )
    };
    let report = convstate_template_report {
        at_ms: T0,
        business: ptr(BUSINESS),
        business_len: BUSINESS.len(),
        name: ptr("promo"),
        name_len: 5,
        language: ptr("en"),
        language_len: 2,
        event: convstate_template_event::CONVSTATE_TEMPLATE_EVENT_LOCKED as u32,
        until_ms: CONVSTATE_NONE_MS,
        category: 0,
        pause: 0,
    };
    let rc = unsafe { convstate_engine_template_report(engine, &report) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert!(drain_kinds(engine).is_empty(), "a lock is no status");
    let refused = edit(T0 + 60_000);
    assert!(
        refused[0].contains(r#""error":"template_not_editable""#)
            && refused[0].contains(r#"template \"promo\" is approved"#)
            && refused[0].contains("locked"),
        "{refused:?}"
    );
    let sent = send_to(engine, T0 + 60_000, CONTACTS[0], message, Some("m1"), true);
    assert_eq!(sent.verdict, convstate_verdict::CONVSTATE_VERDICT_ALLOWED);

    let rc = unsafe {
        convstate_engine_template_status_ex(
            engine,
            T0 + HOUR,
            ptr(BUSINESS),
            BUSINESS.len(),
            ptr("promo"),
            5,
            ptr("en"),
            2,
            convstate_template_event::CONVSTATE_TEMPLATE_EVENT_UNLOCKED as u32,
            CONVSTATE_NONE_MS,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let edited = edit(T0 + 2 * HOUR);
    assert!(edited[0].contains(r#""type":"ack""#), "{edited:?}");
    unsafe {
        convstate_string_free(out);
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

#[test]
fn template_quality_pauses_and_status_events_with_an_end_reinstate() {
    let engine = dynamics_engine();
    let message = promo();
    let rc = unsafe {
        convstate_engine_template_quality(
            engine,
            T0,
            ptr(BUSINESS),
            BUSINESS.len(),
            ptr("promo"),
            5,
            ptr("en"),
            2,
            convstate_quality::CONVSTATE_QUALITY_LOW as u32,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        drain_kinds(engine),
        [convstate_effect_kind::CONVSTATE_EFFECT_TEMPLATE_STATUS_CHANGED]
    );
    let paused = send_to(engine, T0 + HOUR, CONTACTS[0], message, None, false);
    assert_eq!(
        paused.reason,
        convstate_reason::CONVSTATE_REASON_TEMPLATE_NOT_SENDABLE
    );
    assert_eq!(
        paused.detail_code,
        convstate_template_status::CONVSTATE_TEMPLATE_PAUSED as u32
    );
    assert_eq!(paused.instant_ms, T0 + 3 * HOUR, "the first pause lasts 3h");

    let status = |at_ms: i64, event: convstate_template_event, until_ms: i64| unsafe {
        convstate_engine_template_status_ex(
            engine,
            at_ms,
            ptr(BUSINESS),
            BUSINESS.len(),
            ptr("promo"),
            5,
            ptr("en"),
            2,
            event as u32,
            until_ms,
        )
    };
    assert_eq!(
        status(
            T0 + 2 * HOUR,
            convstate_template_event::CONVSTATE_TEMPLATE_EVENT_UNPAUSED,
            CONVSTATE_NONE_MS
        ),
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    let sendable = send_to(engine, T0 + 2 * HOUR, CONTACTS[0], message, None, false);
    assert_eq!(
        sendable.verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    // A provider pause with an explicit end.
    let end = T0 + 10 * HOUR;
    assert_eq!(
        status(
            T0 + 3 * HOUR,
            convstate_template_event::CONVSTATE_TEMPLATE_EVENT_PAUSED,
            end
        ),
        CONVSTATE_OK
    );
    let paused = send_to(engine, T0 + 4 * HOUR, CONTACTS[0], message, None, false);
    assert_eq!(paused.instant_ms, end);
    assert_eq!(
        status(
            T0,
            convstate_template_event::CONVSTATE_TEMPLATE_EVENT_REINSTATED,
            -1
        ),
        CONVSTATE_OK
    );
    assert_eq!(
        unsafe {
            convstate_engine_template_status_ex(
                engine,
                T0,
                ptr(BUSINESS),
                4,
                ptr("promo"),
                5,
                ptr("en"),
                2,
                17,
                -1,
            )
        },
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert!(
        last_error().contains("CONVSTATE_TEMPLATE_EVENT_*"),
        "{}",
        last_error()
    );
    unsafe {
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

#[test]
fn number_quality_and_restrictions_have_their_effect_kinds_and_denials() {
    let engine = dynamics_engine();
    let rc = unsafe {
        convstate_engine_number_quality(
            engine,
            T0,
            ptr(NUMBER),
            NUMBER.len(),
            convstate_quality::CONVSTATE_QUALITY_LOW as u32,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let kinds = drain_kinds(engine);
    assert!(
        kinds.contains(&convstate_effect_kind::CONVSTATE_EFFECT_NUMBER_QUALITY_CHANGED),
        "{kinds:?}"
    );
    let until = T0 + 48 * HOUR;
    // A restriction of `scope` from T0 + 1h until `until_ms`.
    let restrict = |scope: convstate_restriction_scope, until_ms| {
        let rc = unsafe {
            convstate_engine_number_restriction(
                engine,
                T0 + HOUR,
                ptr(NUMBER),
                NUMBER.len(),
                scope as u32,
                until_ms,
                0,
            )
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    };
    restrict(
        convstate_restriction_scope::CONVSTATE_RESTRICTION_BUSINESS_INITIATED,
        until,
    );
    assert_eq!(
        drain_kinds(engine),
        [convstate_effect_kind::CONVSTATE_EFFECT_NUMBER_RESTRICTED]
    );
    let message = promo();
    let denied = send_to(engine, T0 + 2 * HOUR, CONTACTS[0], message, None, false);
    assert_eq!(denied.reason, convstate_reason::CONVSTATE_REASON_RESTRICTED);
    assert_eq!(denied.instant_ms, until);
    assert_eq!(
        denied.detail_code,
        convstate_restriction_scope::CONVSTATE_RESTRICTION_BUSINESS_INITIATED as u32
    );
    // A bar on all messages beside it: lifting that scope alone leaves this one.
    restrict(
        convstate_restriction_scope::CONVSTATE_RESTRICTION_ALL_MESSAGES,
        T0 + 4 * HOUR,
    );
    let rc = unsafe {
        convstate_engine_restriction_scope_lifted(
            engine,
            T0 + 2 * HOUR,
            ptr(NUMBER),
            NUMBER.len(),
            convstate_restriction_scope::CONVSTATE_RESTRICTION_ALL_MESSAGES as u32,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        drain_kinds(engine),
        [
            convstate_effect_kind::CONVSTATE_EFFECT_NUMBER_RESTRICTED,
            convstate_effect_kind::CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED
        ]
    );
    let still = send_to(engine, T0 + 2 * HOUR, CONTACTS[0], message, None, false);
    assert_eq!(still.reason, convstate_reason::CONVSTATE_REASON_RESTRICTED);
    let rc = unsafe {
        convstate_engine_restriction_scope_lifted(engine, T0, ptr(NUMBER), NUMBER.len(), 9)
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT, "{}", last_error());
    let rc = unsafe {
        convstate_engine_restriction_lifted(engine, T0 + 3 * HOUR, ptr(NUMBER), NUMBER.len())
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        drain_kinds(engine),
        [convstate_effect_kind::CONVSTATE_EFFECT_NUMBER_RESTRICTION_ENDED]
    );
    let allowed = send_to(engine, T0 + 3 * HOUR, CONTACTS[0], message, None, false);
    assert_eq!(
        allowed.verdict,
        convstate_verdict::CONVSTATE_VERDICT_ALLOWED
    );
    unsafe {
        convstate_message_free(message);
        convstate_engine_free(engine);
    }
}

#[test]
fn the_new_functions_refuse_bad_arguments_by_code() {
    let engine = dynamics_engine();
    let mut view = std::mem::MaybeUninit::<convstate_usage_view>::uninit();
    for month in [
        "2026-13", "2026-1", "+202-11", "2026/11", "26-11", "2026-00", "2026-111", "1969-12",
    ] {
        let rc = unsafe {
            convstate_engine_usage(
                engine,
                ptr(NUMBER),
                NUMBER.len(),
                null(),
                0,
                ptr(month),
                month.len(),
                view.as_mut_ptr(),
            )
        };
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT, "{month}");
        assert!(
            last_error().contains("argument `month`"),
            "{}",
            last_error()
        );
        assert!(
            last_error().contains("1970-01..=9999-12"),
            "{}",
            last_error()
        );
    }
    let month = "2026-11";
    for (number, business) in [(None, None), (Some(NUMBER), Some(BUSINESS))] {
        let rc = unsafe {
            convstate_engine_usage(
                engine,
                number.map_or(null(), ptr),
                number.map_or(0, str::len),
                business.map_or(null(), ptr),
                business.map_or(0, str::len),
                ptr(month),
                7,
                view.as_mut_ptr(),
            )
        };
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    }
    let rc = unsafe {
        convstate_engine_usage(
            engine,
            null(),
            0,
            ptr("nobody"),
            6,
            ptr(month),
            7,
            view.as_mut_ptr(),
        )
    };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_BUSINESS);
    let rc = unsafe {
        convstate_engine_usage(
            engine,
            null(),
            0,
            ptr(BUSINESS),
            BUSINESS.len(),
            ptr(month),
            7,
            view.as_mut_ptr(),
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        unsafe { view.assume_init() }.cost_micros,
        0,
        "a rate card month with no charges"
    );

    for limit in [-2, i64::from(u32::MAX) + 1] {
        let rc = unsafe {
            convstate_engine_messaging_limit(engine, T0, ptr(NUMBER), NUMBER.len(), limit)
        };
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT, "{limit}");
    }
    let status = |category: *const c_char,
                  pricing: u32,
                  errors: *const u32,
                  errors_len: usize,
                  status: u32| unsafe {
        convstate_engine_message_status(
            engine,
            T0,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(CONTACT),
            CONTACT.len(),
            ptr("wamid.x"),
            7,
            status,
            pricing,
            category,
            if category.is_null() { 0 } else { 9 },
            errors,
            errors_len,
            null_mut(),
        )
    };
    let delivered = convstate_delivery_status::CONVSTATE_DELIVERY_DELIVERED as u32;
    assert_eq!(
        status(ptr("marketing"), 0, null(), 0, delivered),
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        status(null(), 0, null(), 1, delivered),
        CONVSTATE_ERR_NULL_ARGUMENT
    );
    assert_eq!(
        status(null(), 6, null(), 0, delivered),
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    // CONVSTATE_PRICING_FREE (billable: false).
    assert_eq!(status(null(), 5, null(), 0, delivered), CONVSTATE_OK);
    assert_eq!(
        status(null(), 0, null(), 0, 6),
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        status(ptr("marketing"), 1, null(), 0, delivered),
        CONVSTATE_OK,
        "{}",
        last_error()
    );
    let rc = unsafe {
        convstate_engine_number_restriction(engine, T0, ptr(NUMBER), NUMBER.len(), 4, -1, 0)
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    let rc = unsafe {
        convstate_engine_number_restriction(engine, T0, ptr(NUMBER), NUMBER.len(), 1, -5, 0)
    };
    assert_eq!(
        rc, CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
        "only -1 means absent"
    );
    assert!(
        last_error().starts_with("argument `until_ms`: instant -5 ms"),
        "the message names which of the two instants: {}",
        last_error()
    );
    let rc = unsafe {
        convstate_engine_number_restriction(engine, -5, ptr(NUMBER), NUMBER.len(), 1, -1, 0)
    };
    assert_eq!(rc, CONVSTATE_ERR_INSTANT_OUT_OF_RANGE);
    assert!(
        last_error().starts_with("argument `at_ms`: instant -5 ms"),
        "{}",
        last_error()
    );
    let mut limit = std::mem::MaybeUninit::<convstate_limit_view>::uninit();
    let rc =
        unsafe { convstate_engine_limit(engine, T0, ptr("+15559999999"), 12, limit.as_mut_ptr()) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_NUMBER);
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, null(), null_mut()) },
        CONVSTATE_ERR_NULL_ARGUMENT
    );
    unsafe { convstate_engine_free(engine) };
}

#[test]
fn a_currency_the_c_structs_cannot_hold_is_refused_up_front() {
    let overrides = r#"{"pricing":{"rate_card":{"currency":"DOGECOIN","markets":{},"rates":{"other":{"marketing":"1"}}}}}"#;
    assert_eq!(
        new_engine_with("cloud-2025", overrides).err(),
        Some(CONVSTATE_ERR_INVALID_POLICY)
    );
    assert!(last_error().contains("DOGECOIN"), "{}", last_error());
    // The same policy inside a snapshot (its body edited and sealed again, bypassing the
    // validation every engine's policy passes).
    let valid = Engine::new(convstate_core::Policy::preset("cloud-2025").unwrap()).snapshot();
    let mut envelope: serde_json::Value = serde_json::from_slice(&valid).unwrap();
    envelope["body"]["policy"]["pricing"]["rate_card"] = serde_json::from_str(
        r#"{"currency":"DOGECOIN","markets":{},"rates":{"other":{"marketing":"1"}}}"#,
    )
    .unwrap();
    let snapshot = convstate_core::snapshot::seal(envelope["body"].to_string().as_bytes());
    let mut engine = null_mut();
    let rc = unsafe { convstate_engine_restore(snapshot.as_ptr(), snapshot.len(), &mut engine) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_POLICY);
    assert!(engine.is_null(), "no engine on failure");
}

#[test]
fn usage_totals_saturate_like_the_counters_they_add() {
    // Counters saturate at u64::MAX and a restored snapshot may hold such counts: their sum
    // in the usage view must saturate too (it panicked in debug builds and wrapped in
    // release ones).
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    let mut decision = poisoned_decision();
    let rc =
        unsafe { convstate_engine_send(engine, &request(T0 + 60_000, text("Hi")), &mut decision) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let body = snapshot_body(engine);
    let one_free = r#""free":{"service_window":1}"#;
    assert!(body.contains(one_free), "{body}");
    let saturated = body.replace(
        one_free,
        r#""free":{"service_window":18446744073709551615,"free_entry_point":2}"#,
    );
    let bytes = convstate_core::snapshot::seal(saturated.as_bytes());
    let mut restored = null_mut();
    let rc = unsafe { convstate_engine_restore(bytes.as_ptr(), bytes.len(), &mut restored) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let month = "2026-11";
    assert_eq!(usage_of(restored, month).free, u64::MAX);
    unsafe {
        convstate_engine_free(engine);
        convstate_engine_free(restored);
    }
}

#[test]
fn a_default_template_needs_its_name_and_its_language() {
    let engine = new_engine("cloud-2025");
    for (default_template, missing) in [
        (("", "en"), "default_template_name"),
        (("welcome", ""), "default_template_language"),
    ] {
        let r = registration(default_template);
        let rc = unsafe { convstate_engine_register_number(engine, &r) };
        assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
        let error = last_error();
        assert!(
            error.contains(&format!("`{missing}` is NULL")) && error.contains("needs both"),
            "{error}"
        );
    }
    unsafe { convstate_engine_free(engine) };
}

/// The header's declarations without comments, blank space or the version macros: what a
/// host compiled against it depends on.
fn header_declarations(header: &str) -> String {
    let mut text = String::with_capacity(header.len());
    let mut rest = header;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .split_once("*/")
            .map_or("", |(_, after)| after);
    }
    text.push_str(rest);
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .filter(|line| {
            !line.starts_with("#define CONVSTATE_ABI_VERSION ")
                && !line.starts_with("#define CONVSTATE_VERSION")
        })
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// FNV-1a: stable across builds and platforms, as a recorded fingerprint must be.
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn the_abi_version_changes_with_the_headers_declarations() {
    // The fingerprint of the declarations each ABI version was published with. A change to
    // the header's structs, enums, constants or functions fails here: raise
    // CONVSTATE_ABI_VERSION (ffi/src/lib.rs), regenerate the header and add a line.
    const PUBLISHED: &[(u32, u64)] = &[
        (1, 0x061b_683d_1f4a_c6e3),
        (2, 0x8ea9_7ef8_e086_b7a3),
        (3, 0x2c91_2319_1324_1c96),
        (4, 0xd5a2_8607_2a3c_a1fe),
        (5, 0x7bd7_dd86_86a8_4103),
        (6, 0xc7fc_5134_880c_18c9),
        (7, 0xf46d_8dff_4306_5dd3),
        (8, 0xe027_20a7_dd7a_fe8e),
        (9, 0xaf29_ef9b_2738_ec3c),
        (10, 0xe07e_02ae_748b_211f),
        (11, 0x214e_c141_4336_7575),
        (12, 0x7837_2a09_be0a_af56),
        (13, 0x9f53_00b0_5348_e931),
        (14, 0xb166_1e2c_d754_129b),
        (15, 0xf242_3d75_0a08_5ec1),
        (16, 0xb29d_5e74_5d58_f644),
        (17, 0x0a37_f2f2_4924_8a04),
        (18, 0x6581_3b60_eaba_b667),
        (19, 0xa531_cb52_0e5d_7263),
        (20, 0x3291_ffcf_55cb_26b8),
        (21, 0x1c59_850e_3c33_6d5c),
        (22, 0x6b11_4647_3455_ad3a),
        (23, 0xc83f_66fc_29bf_ac3b),
        (24, 0x4730_c0c0_f17a_d84c),
    ];
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    assert!(header.contains(&format!(
        "#define CONVSTATE_ABI_VERSION {CONVSTATE_ABI_VERSION}\n"
    )));
    assert_eq!(convstate_abi_version(), CONVSTATE_ABI_VERSION);
    let now = fingerprint(&header_declarations(&header));
    let &(latest, recorded) = PUBLISHED.last().unwrap();
    assert_eq!(
        (CONVSTATE_ABI_VERSION, now),
        (latest, recorded),
        "include/convstate.h's declarations changed (fingerprint {now:#018x}): a host built \
         against the old header would misread this library. Raise CONVSTATE_ABI_VERSION \
         above {latest} and record (that version, {now:#018x}) in PUBLISHED"
    );
    // Comments and the version macros are not part of it.
    let reworded = header.replace("Registers (or updates) a number", "Registers a number");
    assert_eq!(fingerprint(&header_declarations(&reworded)), now);
    let grown = header.replace(
        "uint64_t response_total_ms;",
        "uint64_t response_total_ms;\n  uint64_t more;",
    );
    assert_ne!(
        fingerprint(&header_declarations(&grown)),
        now,
        "a struct that grows changes it"
    );
}

#[test]
fn a_yes_or_no_field_other_than_0_or_1_is_refused() {
    // The fields were C `bool`s read as Rust `bool`s: a 2 from a struct filled by `memcpy`
    // was undefined behaviour (a release build took the request for an error and read a
    // garbage pointer).
    let engine = dynamics_engine();
    let hello = text("Hello");
    let mut decision = poisoned_decision();
    let mut stray = request(T0, hello);
    stray.force = 2;
    for rc in [
        unsafe { convstate_engine_send(engine, &stray, &mut decision) },
        unsafe { convstate_engine_check_send(engine, &stray, &mut decision) },
    ] {
        assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
        assert_eq!(last_error(), "`force` is 2, which is neither 0 nor 1");
    }
    assert_eq!(decision.limit, 7777, "the decision is not written");
    stray.force = 1;
    stray.automated = 3;
    let rc = unsafe { convstate_engine_send(engine, &stray, &mut decision) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "`automated` is 3, which is neither 0 nor 1");
    stray.automated = 1;
    assert_eq!(
        unsafe { convstate_engine_check_send(engine, &stray, &mut decision) },
        CONVSTATE_OK,
        "{}",
        last_error()
    );

    let inbound = convstate_inbound {
        referral: 255,
        ..text_inbound(T0, NUMBER, CONTACT, None)
    };
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, &inbound, null_mut()) },
        CONVSTATE_ERR_INVALID_ARGUMENT
    );
    assert_eq!(last_error(), "`referral` is 255, which is neither 0 nor 1");
    let rc = unsafe {
        convstate_engine_number_restriction(engine, T0, ptr(NUMBER), NUMBER.len(), 1, -1, 2)
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_eq!(
        last_error(),
        "`until_lifted` is 2, which is neither 0 nor 1"
    );
    let rc = unsafe {
        convstate_engine_consent(
            engine,
            T0,
            ptr(BUSINESS),
            BUSINESS.len(),
            null(),
            0,
            ptr(CONTACT),
            CONTACT.len(),
            7,
        )
    };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "`opted_in` is 7, which is neither 0 nor 1");

    let sharded = new_sharded_engine("cloud-2025", 2);
    let mut effects = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut effects) }, CONVSTATE_OK);
    stray.force = 2;
    let rc = unsafe { convstate_sharded_engine_send(sharded, &stray, &mut decision, effects) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_eq!(last_error(), "`force` is 2, which is neither 0 nor 1");
    unsafe {
        convstate_string_free(effects);
        convstate_sharded_engine_free(sharded);
        convstate_message_free(hello);
        convstate_engine_free(engine);
    }
}

#[test]
fn an_optional_string_that_is_null_with_a_length_is_refused() {
    // Taken as absent, a lost idempotency key let a retried send through a second time.
    let engine = dynamics_engine();
    let hello = text("Hello");
    let mut decision = poisoned_decision();
    let mut lost_key = request(T0, hello);
    lost_key.idempotency_key_len = 10;
    let rc = unsafe { convstate_engine_send(engine, &lost_key, &mut decision) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    assert_eq!(
        last_error(),
        "argument `idempotency_key` is NULL with length 10 (absent is NULL with length 0)"
    );
    assert_eq!(decision.limit, 7777, "the decision is not written");
    unsafe {
        convstate_message_free(hello);
        convstate_engine_free(engine);
    }
}

#[test]
fn a_list_with_too_many_rows_fills_limit_and_actual() {
    let engine = dynamics_engine();
    let rows: Vec<String> = (0..11)
        .map(|i| format!(r#"{{"id":"r{i}","title":"Slot {i}"}}"#))
        .collect();
    let json = format!(
        r#"{{"kind":"list","body":"Pick","button":"Slots","sections":[{{"rows":[{}]}}]}}"#,
        rows.join(",")
    );
    let mut list = null_mut();
    let rc = unsafe { convstate_message_from_json(ptr(&json), json.len(), &mut list) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let decision = send_to(engine, T0, CONTACT, list, None, false);
    assert_eq!(
        decision.reason,
        convstate_reason::CONVSTATE_REASON_INVALID_CONTENT
    );
    assert_eq!(
        (decision.detail_code, decision.limit, decision.actual),
        (4, 10, 11)
    );
    unsafe {
        convstate_message_free(list);
        convstate_engine_free(engine);
    }
}

/// The text of a `convstate_string`.
fn string_bytes(string: *const convstate_string) -> Vec<u8> {
    unsafe {
        std::slice::from_raw_parts(
            convstate_string_ptr(string).cast::<u8>(),
            convstate_string_len(string),
        )
    }
    .to_vec()
}

#[test]
fn take_business_exports_and_removes_in_one_step_or_changes_nothing() {
    // One engine: the bytes of an export, the state a removal leaves.
    let (exported, taken) = (new_engine("cloud-2025"), new_engine("cloud-2025"));
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    for engine in [exported, taken] {
        register(engine);
        assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    }
    let rc = unsafe { convstate_engine_export_business(exported, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let export = string_bytes(out);
    let rc = unsafe { convstate_engine_remove_business(exported, ptr(BUSINESS), 4) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let rc = unsafe { convstate_engine_take_business(taken, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(string_bytes(out), export);
    let snapshot = |engine: *mut convstate_engine| unsafe { &*engine }.engine.snapshot();
    assert_eq!(snapshot(taken), snapshot(exported));

    // An unknown business, or a bad argument: an error, and neither the engine nor `out`
    // changes.
    let before = snapshot(taken);
    let rc = unsafe { convstate_engine_take_business(taken, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_BUSINESS);
    assert!(last_error().contains("acme"), "{}", last_error());
    let rc = unsafe { convstate_engine_take_business(null_mut(), ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let rc = unsafe { convstate_engine_take_business(exported, null(), 4, out) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let rc = unsafe { convstate_engine_take_business(exported, ptr(BUSINESS), 4, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let rc = unsafe { convstate_engine_take_business(exported, ptr("\u{ff}"), 1, out) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_UTF8);
    assert_eq!(snapshot(taken), before);
    assert_eq!(string_bytes(out), export);

    // A sharded engine: the same bytes as its export, and the number no longer routed.
    let sharded = new_sharded_engine("cloud-2025", 3);
    let rc = unsafe {
        convstate_sharded_engine_import_business(sharded, export.as_ptr(), export.len(), null_mut())
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let rc = unsafe { convstate_sharded_engine_export_business(sharded, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let sharded_export = string_bytes(out);
    let rc = unsafe { convstate_sharded_engine_take_business(sharded, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert_eq!(string_bytes(out), sharded_export);
    let query = format!(r#"{{"type":"query_number","at":{T0},"number":"{NUMBER}"}}"#);
    let rc =
        unsafe { convstate_sharded_engine_handle_json(sharded, ptr(&query), query.len(), out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let answer = String::from_utf8(string_bytes(out)).unwrap();
    assert!(answer.contains("unknown_number"), "{answer}");
    let rc = unsafe { convstate_sharded_engine_take_business(sharded, ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_BUSINESS);
    let rc = unsafe { convstate_sharded_engine_take_business(null(), ptr(BUSINESS), 4, out) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let rc =
        unsafe { convstate_sharded_engine_take_business(sharded, ptr(BUSINESS), 4, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    assert_eq!(string_bytes(out), answer.as_bytes());
    // The taken business goes on where it is imported: into shards whose clocks are an
    // hour ahead, where its chat's idle end (due ten minutes after the inbound) fires at its
    // own instant, and comes back with the import.
    let tick = format!(r#"{{"type":"tick","at":{}}}"#, T0 + 3_600_000);
    let rc = unsafe { convstate_sharded_engine_handle_json(sharded, ptr(&tick), tick.len(), out) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let rc = unsafe {
        convstate_sharded_engine_import_business(
            sharded,
            sharded_export.as_ptr(),
            sharded_export.len(),
            out,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let effects = String::from_utf8(string_bytes(out)).unwrap();
    let ended = convstate_core::Instant::from_unix_millis(T0 + 600_000).unwrap();
    assert!(
        effects.starts_with(r#"{"type":"effect","effect":"chat_ended""#)
            && effects.contains(&format!(r#""at":"{ended}"}}"#)),
        "{effects}"
    );
    unsafe {
        convstate_string_free(out);
        convstate_sharded_engine_free(sharded);
        convstate_engine_free(exported);
        convstate_engine_free(taken);
    }
}

/// The doc comment just above `at` in the header (`/** ... */`), its words joined by spaces.
fn doc_above(header: &str, at: usize) -> String {
    let doc = &header[header[..at].rfind("/**").unwrap()..at];
    doc.split_whitespace()
        .filter(|word| *word != "*")
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `doc` names `function`, itself or through a `prefix_*` it writes.
fn names(doc: &str, function: &str) -> bool {
    doc.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '*'))
        .any(|word| match word.strip_suffix('*') {
            Some(prefix) => !prefix.is_empty() && function.starts_with(prefix),
            None => word == function,
        })
}

/// Every function that hands the caller a handle (a `struct convstate_X **out`) is named where
/// the header says how that handle is made, and so which `_free` takes it: the handles' docs
/// and the ownership rules said a message came from a `convstate_message_new_*` function, an
/// engine from `convstate_engine_new` or `_restore`, a sharded engine from `_new`, and left
/// out `convstate_message_from_json`, `convstate_engine_from_business_export` and
/// `convstate_sharded_engine_restore` (a message from JSON is not documented as owned at all).
#[test]
fn every_function_that_makes_a_handle_is_named_where_the_handle_is_documented() {
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    let rules = header
        .split_once("POINTERS AND OWNERSHIP.")
        .and_then(|(_, rest)| rest.split_once("THREADS."))
        .map(|(rules, _)| rules.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap();
    let handles = [
        "convstate_engine",
        "convstate_message",
        "convstate_sharded_engine",
        "convstate_string",
    ];
    let mut missing = Vec::new();
    for handle in handles {
        let typedef = header
            .find(&format!("typedef struct {handle} {handle};"))
            .unwrap();
        let handle_doc = doc_above(&header, typedef);
        let parameter = format!("struct {handle} **out");
        let makers: Vec<&str> = header
            .split(';')
            .filter(|declaration| declaration.contains(&parameter))
            .map(|declaration| {
                // The declaration after its doc comment, whose words may hold parentheses.
                let declaration = declaration.rsplit("*/").next().unwrap();
                let open = declaration.find('(').unwrap();
                let start = declaration[..open].rfind(' ').unwrap() + 1;
                &declaration[start..open]
            })
            .collect();
        assert!(!makers.is_empty(), "no function makes a {handle}");
        for maker in makers {
            if !names(&handle_doc, maker) {
                missing.push(format!("{handle}'s doc does not name {maker}"));
            }
            // The rules name `_new` functions as a kind, and every other maker by name.
            if !maker.contains("_new") && !names(&rules, maker) {
                missing.push(format!("POINTERS AND OWNERSHIP does not name {maker}"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

/// What the header's OUTPUT PARAMETERS rule says, its words joined by spaces.
fn output_parameters_rule(header: &str) -> String {
    header
        .split_once("OUTPUT PARAMETERS")
        .and_then(|(_, rest)| rest.split_once("POINTERS AND OWNERSHIP."))
        .map(|(rule, _)| rule.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap()
}

/// The header's rule that output parameters are written only on success names every one a
/// failing call writes: a too-small buffer writes `*written` and, for
/// `convstate_engine_poll_effect`, `*kind` too (its own doc says so), but the rule counted
/// two exceptions, `*written` and the sharded calls' effects string, so a host reading the
/// rule took `*kind` after such a failure for its old value.
#[test]
fn the_output_parameters_rule_names_every_parameter_a_failure_writes() {
    let engine = new_engine("cloud-2025");
    register(engine);
    assert_eq!(inbound(engine, T0), CONVSTATE_OK);
    let mut written_on_failure = Vec::new();
    let (mut written, mut kind) = (usize::MAX, convstate_effect_kind::CONVSTATE_EFFECT_OTHER);
    let rc =
        unsafe { convstate_engine_poll_effect(engine, null_mut(), 0, &mut written, &mut kind) };
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    if written != usize::MAX {
        written_on_failure.push("*written");
    }
    if kind != convstate_effect_kind::CONVSTATE_EFFECT_OTHER {
        written_on_failure.push("*kind");
    }
    let mut size = usize::MAX;
    let rc = unsafe { convstate_engine_snapshot(engine, null_mut(), 0, &mut size) };
    assert_eq!(rc, CONVSTATE_ERR_BUFFER_TOO_SMALL);
    assert_ne!(
        size,
        usize::MAX,
        "the snapshot's size query writes *written"
    );
    unsafe { convstate_engine_free(engine) };
    assert_eq!(written_on_failure, ["*written", "*kind"]);

    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../include/convstate.h"),
    )
    .unwrap();
    let rule = output_parameters_rule(&header);
    for parameter in written_on_failure {
        assert!(rule.contains(parameter), "{parameter} is not in: {rule}");
    }
}

#[test]
fn the_inbound_structs_user_id_links_contacts_or_is_refused_as_its_comment_says() {
    // `convstate_inbound.user_id`'s comment names the codes of a user id given wrong and the
    // effect of one given right; `convstate_engine_inbound_ex`'s said nothing of it.
    let engine = new_engine("cloud-2025");
    register(engine);
    let unofficial = convstate_number_registration {
        number: ptr("+15550002222"),
        channel: convstate_channel::CONVSTATE_CHANNEL_UNOFFICIAL as u32,
        ..registration(("", ""))
    };
    assert_eq!(
        unsafe { convstate_engine_register_number(engine, &unofficial) },
        CONVSTATE_OK
    );
    drain_kinds(engine);
    let inbound =
        |at_ms: i64, number: &'static str, contact: Option<&'static str>, user_id: &'static str| {
            let r = convstate_inbound {
                contact: contact.map_or(null(), ptr),
                contact_len: contact.map_or(0, str::len),
                user_id: ptr(user_id),
                user_id_len: user_id.len(),
                ..text_inbound(at_ms, number, "", None)
            };
            unsafe { convstate_engine_inbound_ex(engine, &r, null_mut()) }
        };
    let user_id = "US.13491208655302741918";
    for (number, contact, user_id, expected) in [
        (
            "+15550002222",
            Some(CONTACT),
            user_id,
            CONVSTATE_ERR_NOT_ON_CHANNEL,
        ),
        (NUMBER, None, user_id, CONVSTATE_ERR_INVALID_EVENT),
        (NUMBER, Some("US.1"), user_id, CONVSTATE_ERR_INVALID_EVENT),
        (NUMBER, Some(CONTACT), "", CONVSTATE_ERR_INVALID_USER_ID),
        (NUMBER, Some(CONTACT), "US 1", CONVSTATE_ERR_INVALID_USER_ID),
        (
            NUMBER,
            Some(CONTACT),
            "+79110000002",
            CONVSTATE_ERR_INVALID_USER_ID,
        ),
    ] {
        assert_eq!(
            inbound(T0, number, contact, user_id),
            expected,
            "{contact:?} beside {user_id:?} at {number}: {}",
            last_error()
        );
    }
    assert!(drain_kinds(engine).is_empty());

    assert_eq!(inbound(T0, NUMBER, Some(CONTACT), user_id), CONVSTATE_OK);
    let (rc, _, first) = poll(engine, 1024);
    assert_eq!(rc, CONVSTATE_OK);
    assert!(
        first.starts_with(r#"{"type":"effect","effect":"contact_linked""#),
        "{first}"
    );
    assert!(!first.contains("previous_phone"), "{first}");
    drain_kinds(engine);
    // Moved: after the effects of the timers it fired (the first chat's idle end), before
    // the inbound's own.
    assert_eq!(
        inbound(T0 + 2 * HOUR, NUMBER, Some("+79110000002"), user_id),
        CONVSTATE_OK
    );
    let (_, _, timer) = poll(engine, 1024);
    assert!(timer.contains(r#""effect":"chat_ended""#), "{timer}");
    let (_, _, moved) = poll(engine, 1024);
    assert!(moved.contains(r#""effect":"contact_linked""#), "{moved}");
    assert!(
        moved.contains(r#""previous_phone":"+79110000001""#),
        "{moved}"
    );
    assert_eq!(
        drain_kinds(engine).first(),
        Some(&convstate_effect_kind::CONVSTATE_EFFECT_TICKET_OPENED)
    );
    // Two names that each have a history stay two contacts: no link, no effect.
    let (other_phone, other_user_id) = (Some("+79110000003"), "US.9");
    assert_eq!(
        inbound(T0 + 3 * HOUR, NUMBER, other_phone, "US.8"),
        CONVSTATE_OK
    );
    assert_eq!(
        inbound(T0 + 3 * HOUR, NUMBER, Some(other_user_id), "US.7"),
        CONVSTATE_ERR_INVALID_EVENT
    );
    let plain = unsafe {
        convstate_engine_inbound(
            engine,
            T0 + 3 * HOUR,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(other_user_id),
            other_user_id.len(),
            null(),
            0,
            convstate_inbound_kind::CONVSTATE_INBOUND_TEXT as u32,
            -1,
        )
    };
    assert_eq!(plain, CONVSTATE_OK, "{}", last_error());
    drain_kinds(engine);
    assert_eq!(
        inbound(T0 + 4 * HOUR, NUMBER, other_phone, other_user_id),
        CONVSTATE_OK
    );
    assert!(!drain_kinds(engine).contains(&convstate_effect_kind::CONVSTATE_EFFECT_CONTACT_LINKED));
    unsafe { convstate_engine_free(engine) };
}

/// The WABA of [`RESTRICTION`], whose business no payload names.
const WABA: &str = "102290129340398";
/// An account webhook naming only its WABA: a restriction of every number of its business.
const RESTRICTION: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","time":1793610000,"changes":[{"field":"account_update","value":{"event":"ACCOUNT_RESTRICTION","restriction_info":[{"restriction_type":"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1793869200}]}}]}]}"#;
/// A second business beside [`new_engine_for_webhooks`]'s `acme`.
const GLOBEX: &str = r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"globex","number":"+15550002222","channel":"official"}"#;

/// A string's text.
fn string_text(string: *const convstate_string) -> String {
    String::from_utf8(string_bytes(string)).expect("the library writes UTF-8")
}

/// Whether a webhook door's output applied [`RESTRICTION`] to globex's number alone.
fn restricts_globex_alone(text: &str) -> bool {
    text.starts_with(r#"{"type":"ack","of":"number_restriction""#)
        && text.contains("+15550002222")
        && !text.contains("+15550001111")
}

/// A two-shard engine holding `acme` and `globex`, each with a number.
fn acme_and_globex_sharded() -> *mut convstate_sharded_engine {
    let sharded = new_sharded_engine("cloud-2025", 2);
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    for line in [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        GLOBEX,
    ] {
        let rc =
            unsafe { convstate_sharded_engine_handle_json(sharded, ptr(line), line.len(), out) };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    }
    unsafe { convstate_string_free(out) };
    sharded
}

/// [`RESTRICTION`] through the sharded webhook door: its output.
fn feed_restriction(sharded: *const convstate_sharded_engine) -> String {
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let rc = unsafe {
        convstate_sharded_engine_handle_webhook(
            sharded,
            T0,
            RESTRICTION.as_ptr(),
            RESTRICTION.len(),
            out,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let text = string_text(out);
    unsafe { convstate_string_free(out) };
    text
}

/// A C host with several businesses maps each WABA to its business
/// (`convstate_engine_map_waba`, `convstate_sharded_engine_map_waba`): without it, template and
/// account webhooks applied to none of them, and the reason named a Rust API the C library
/// did not offer.
#[test]
fn a_waba_maps_to_its_business_for_the_webhook_doors() {
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let engine = new_engine_for_webhooks();
    json_door(engine, out, GLOBEX);
    let feed = || {
        let rc = unsafe {
            convstate_engine_handle_webhook(
                engine,
                T0,
                RESTRICTION.as_ptr(),
                RESTRICTION.len(),
                out,
            )
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        string_text(out)
    };
    let unmapped = feed();
    assert!(
        unmapped.starts_with(r#"{"type":"unrecognized""#)
            && unmapped.contains("C convstate_engine_map_waba"),
        "{unmapped}"
    );
    let map = |business: &str| unsafe {
        convstate_engine_map_waba(engine, ptr(WABA), WABA.len(), ptr(business), business.len())
    };
    assert_eq!(map("globex"), CONVSTATE_OK, "{}", last_error());
    assert_eq!(
        map("globex"),
        CONVSTATE_OK,
        "the same mapping again is no change"
    );
    assert_eq!(map("acme"), CONVSTATE_ERR_INVALID_EVENT);
    assert_eq!(
        last_error(),
        r#"invalid event: WABA "102290129340398" is mapped to business "globex" already: a WABA belongs to one business"#
    );
    assert_eq!(map(""), CONVSTATE_ERR_INVALID_EVENT);
    assert_eq!(
        last_error(),
        r#"invalid event: business "" must be 1..=256 characters, got 0"#
    );
    let rc = unsafe { convstate_engine_map_waba(engine, ptr(""), 0, ptr("acme"), 4) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_EVENT);
    assert_eq!(last_error(), "invalid event: WABA id is empty");
    let rc = unsafe { convstate_engine_map_waba(engine, null(), 3, ptr("acme"), 4) };
    assert_eq!(rc, CONVSTATE_ERR_NULL_ARGUMENT);
    let mapped = feed();
    assert!(restricts_globex_alone(&mapped), "{mapped}");
    unsafe {
        convstate_engine_free(engine);
        convstate_string_free(out);
    }

    // The sharded handle: the same, through its own mapping.
    let sharded = acme_and_globex_sharded();
    let unmapped = feed_restriction(sharded);
    assert!(
        unmapped.starts_with(r#"{"type":"unrecognized""#),
        "{unmapped}"
    );
    let map = |business: &str| unsafe {
        convstate_sharded_engine_map_waba(
            sharded,
            ptr(WABA),
            WABA.len(),
            ptr(business),
            business.len(),
        )
    };
    assert_eq!(map("globex"), CONVSTATE_OK, "{}", last_error());
    assert_eq!(map("acme"), CONVSTATE_ERR_INVALID_EVENT);
    let mapped = feed_restriction(sharded);
    assert!(restricts_globex_alone(&mapped), "{mapped}");
    unsafe { convstate_sharded_engine_free(sharded) };
}

/// The limit view refuses an instant before the engine's clock, as the conversation view and
/// Rust's `Engine::limit` do; it read at the clock instead, so a host's stale instant got
/// an answer for another time with nothing saying so.
#[test]
fn the_limit_view_refuses_an_instant_before_the_clock() {
    let engine = dynamics_engine();
    send_to(
        engine,
        T0 + HOUR,
        CONTACTS[0],
        promo(),
        Some("wamid.1"),
        true,
    );
    let mut view = limit_of(engine, T0 + HOUR);
    assert_eq!(view.used, 1);
    view.used = 7777;
    let rc = unsafe { convstate_engine_limit(engine, T0, ptr(NUMBER), NUMBER.len(), &mut view) };
    assert_eq!(rc, CONVSTATE_ERR_VIEW_BEFORE_CLOCK);
    assert!(
        last_error().starts_with("view at 2026-11-02T09:00:00Z is before the engine's clock"),
        "{}",
        last_error()
    );
    assert_eq!(view.used, 7777, "the output is left untouched");
    unsafe { convstate_engine_free(engine) };
}

/// The sharded handle's mapping changes while threads feed webhooks: each body is read with
/// the mapping as it was when its call began (`unrecognized` before the mapping, applied to
/// globex's number alone after it, never anything between), and a body fed after the
/// mapping returned is applied.
#[test]
fn a_waba_mapped_while_threads_feed_webhooks_applies_to_bodies_after_it() {
    struct Shared(*const convstate_sharded_engine);
    unsafe impl Send for Shared {}
    unsafe impl Sync for Shared {}
    let sharded = acme_and_globex_sharded();
    let shared = Shared(sharded);
    std::thread::scope(|scope| {
        let feeders: Vec<_> = (0..3)
            .map(|_| {
                let shared = &shared;
                scope.spawn(move || {
                    (0..200)
                        .map(|_| feed_restriction(shared.0))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let rc = unsafe {
            convstate_sharded_engine_map_waba(shared.0, ptr(WABA), WABA.len(), ptr("globex"), 6)
        };
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        let after = feed_restriction(shared.0);
        assert!(
            restricts_globex_alone(&after),
            "a body fed after the mapping returned: {after}"
        );
        for feeder in feeders {
            for text in feeder.join().unwrap() {
                assert!(
                    restricts_globex_alone(&text) || text.starts_with(r#"{"type":"unrecognized""#),
                    "{text}"
                );
            }
        }
    });
    unsafe { convstate_sharded_engine_free(sharded) };
}

#[test]
fn the_redelivered_and_unmatched_flags_are_written_on_success_only() {
    // A flag slot holding neither 0 nor 1 (as uninitialised memory may): a refused call
    // leaves it so, a successful one writes exactly 0 or 1.
    let engine = new_engine("cloud-2025");
    register(engine);
    let unknown = "+15559999999";
    let inbound_of =
        |number: &'static str, id: &'static str| text_inbound(T0, number, CONTACT, Some(id));
    let status_of = |number: &str, id: &str, at_ms: i64, flag: *mut bool| unsafe {
        convstate_engine_message_status(
            engine,
            at_ms,
            ptr(number),
            number.len(),
            ptr(CONTACT),
            CONTACT.len(),
            ptr(id),
            id.len(),
            convstate_delivery_status::CONVSTATE_DELIVERY_FAILED as u32,
            convstate_pricing_type::CONVSTATE_PRICING_NONE as u32,
            null(),
            0,
            null(),
            0,
            flag,
        )
    };
    let mut slot: u8 = 0x5a;
    let flag = (&mut slot as *mut u8).cast::<bool>();

    let of_unknown_number = inbound_of(unknown, "wamid.x");
    let rc = unsafe { convstate_engine_inbound_ex(engine, &of_unknown_number, flag) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_NUMBER);
    let mut of_bad_kind = inbound_of(NUMBER, "wamid.y");
    of_bad_kind.kind = 99;
    let rc = unsafe { convstate_engine_inbound_ex(engine, &of_bad_kind, flag) };
    assert_eq!(rc, CONVSTATE_ERR_INVALID_ARGUMENT);
    assert_ne!(status_of(unknown, "wamid.z", T0, flag), CONVSTATE_OK);
    assert_eq!(slot, 0x5a, "refused calls write no flag");

    // A failure reported before its send is recorded matches nothing, again and again.
    assert_eq!(status_of(NUMBER, "wamid.early", T0, flag), CONVSTATE_OK);
    assert_eq!(slot, 1);
    slot = 0x5a;
    assert_eq!(status_of(NUMBER, "wamid.early", T0 + 1, flag), CONVSTATE_OK);
    assert_eq!(slot, 1);
    slot = 0x5a;
    let first = inbound_of(NUMBER, "wamid.in");
    assert_eq!(
        unsafe { convstate_engine_inbound_ex(engine, &first, flag) },
        CONVSTATE_OK
    );
    assert_eq!(slot, 0);

    let sharded = new_sharded_engine("cloud-2025", 2);
    slot = 0x5a;
    let rc =
        unsafe { convstate_sharded_engine_inbound(sharded, &of_unknown_number, flag, null_mut()) };
    assert_eq!(rc, CONVSTATE_ERR_UNKNOWN_NUMBER);
    assert_eq!(slot, 0x5a);
    unsafe {
        convstate_sharded_engine_free(sharded);
        convstate_engine_free(engine);
    }
}

/// Every effect queued for `poll_effect`, as lines.
fn poll_all(engine: *mut convstate_engine) -> Vec<String> {
    std::iter::from_fn(|| {
        let (rc, written, line) = poll(engine, 4096);
        assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
        (written > 0).then_some(line)
    })
    .collect()
}

#[test]
fn a_typed_status_and_preference_carry_a_user_id_as_the_json_door_does() {
    // Before ABI 23 a C host could give the user id of a status or a preference only
    // through the JSON door: its typed calls read the phone number alone, so a stop from a
    // user the business knew by user id never reached it.
    let (typed, door) = (new_engine("cloud-2026-10"), new_engine("cloud-2026-10"));
    let mut out = null_mut();
    assert_eq!(unsafe { convstate_string_new(&mut out) }, CONVSTATE_OK);
    let setup = [
        r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
        r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Sale now on","status":"approved"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","kind":"text"}"#,
        r#"{"type":"inbound","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"US.5","kind":"text"}"#,
        r#"{"type":"send","at":"2026-11-02T09:01:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"text","text":"hi"},"message_id":"wamid.1"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T09:02:00Z","business":"acme","contact":"+79110000001"}"#,
        r#"{"type":"opt_in","at":"2026-11-02T09:02:00Z","business":"acme","contact":"US.5"}"#,
    ];
    for line in setup {
        json_door(typed, out, line);
        json_door(door, out, line);
    }
    poll_all(typed);
    poll_all(door);
    let at = T0 + HOUR; // 2026-11-02T10:00:00Z, as the door's lines below
    let (phone, user_id, message_id) = ("+79110000001", "US.5", "wamid.1");
    let errors = [131_049u32];
    let status = convstate_message_status {
        at_ms: at,
        number: ptr(NUMBER),
        number_len: NUMBER.len(),
        contact: ptr(phone),
        contact_len: phone.len(),
        message_id: ptr(message_id),
        message_id_len: message_id.len(),
        status: convstate_delivery_status::CONVSTATE_DELIVERY_FAILED as u32,
        pricing_type: convstate_pricing_type::CONVSTATE_PRICING_NONE as u32,
        pricing_category: null(),
        pricing_category_len: 0,
        errors: errors.as_ptr(),
        errors_len: errors.len(),
        user_id: ptr(user_id),
        user_id_len: user_id.len(),
    };
    let mut unmatched = true;
    let rc = unsafe { convstate_engine_message_status_ex(typed, &status, &mut unmatched) };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    assert!(!unmatched);
    let (new_phone, new_user_id) = ("+79110000003", "US.9");
    let rc = unsafe {
        convstate_engine_user_preference_ex(
            typed,
            at,
            ptr(NUMBER),
            NUMBER.len(),
            ptr(new_phone),
            new_phone.len(),
            ptr(new_user_id),
            new_user_id.len(),
            convstate_preference::CONVSTATE_PREFERENCE_STOP as u32,
        )
    };
    assert_eq!(rc, CONVSTATE_OK, "{}", last_error());
    let typed_effects = poll_all(typed);
    let mut door_effects = Vec::new();
    for line in [
        r#"{"type":"message_status","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000001","user_id":"US.5","message_id":"wamid.1","status":"failed","errors":[131049]}"#,
        r#"{"type":"user_preference","at":"2026-11-02T10:00:00Z","number":"+15550001111","contact":"+79110000003","user_id":"US.9","value":"stop"}"#,
    ] {
        let lines = json_door(door, out, line);
        door_effects.extend(
            lines
                .into_iter()
                .filter(|l| l.starts_with(r#"{"type":"effect""#)),
        );
    }
    assert_eq!(typed_effects, door_effects);
    assert!(
        (typed_effects.iter()).any(|e| e.contains(r#""contact_linked""#) && e.contains("US.9")),
        "{typed_effects:?}"
    );
    // The back-off reached the user by either name, the stop both of the new user's.
    for (query, expected) in [
        (
            r#"{"type":"check_send","at":"2026-11-02T10:01:00Z","number":"+15550001111","contact":"US.5","message":{"kind":"template","name":"promo","language":"en"}}"#,
            r#""verdict":"denied""#,
        ),
        (
            r#"{"type":"query_conversation","at":"2026-11-02T10:01:00Z","number":"+15550001111","contact":"US.9"}"#,
            r#""marketing_stopped":true"#,
        ),
    ] {
        let answer = json_door(typed, out, query);
        assert_eq!(answer, json_door(door, out, query));
        assert!(answer[0].contains(expected), "{answer:?}");
    }
    unsafe {
        convstate_string_free(out);
        convstate_engine_free(typed);
        convstate_engine_free(door);
    }
}
