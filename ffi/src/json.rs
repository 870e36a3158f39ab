//! The JSON door: one wire-format line in, the output lines out, in a library-owned string
//! that the host reuses from call to call.

use std::ffi::c_char;

use convstate_core::Instant;

use crate::boundary::{
    arg, arg_mut, bytes_arg, ffi_boundary, free_handle, instant_arg, str_arg, FfiError, Out,
};
use crate::convstate_result;
use crate::engine::{convstate_engine, handle_line};

/// A growable byte string owned by the library, always followed by a NUL byte (not counted in
/// its length). Create with `convstate_string_new`, free with `convstate_string_free`.
#[derive(Debug)]
pub struct convstate_string {
    /// The text followed by one NUL byte.
    bytes: Vec<u8>,
}

impl convstate_string {
    pub(crate) fn text(&self) -> &[u8] {
        &self.bytes[..self.bytes.len() - 1]
    }

    /// Replaces the contents with `text` (keeping the allocation).
    pub(crate) fn set(&mut self, text: &[u8]) {
        self.bytes.clear();
        self.bytes.extend_from_slice(text);
        self.bytes.push(0);
    }

    /// Replaces the contents with `text`, taking its allocation (a snapshot of hundreds of
    /// megabytes is not copied again; the NUL may grow the allocation once).
    pub(crate) fn set_owned(&mut self, mut text: Vec<u8>) {
        text.push(0);
        self.bytes = text;
    }

    /// Replaces the contents with `lines`, each followed by `\n` (a door's output).
    pub(crate) fn set_lines(&mut self, lines: &[String]) {
        self.bytes.clear();
        for line in lines {
            self.bytes.extend_from_slice(line.as_bytes());
            self.bytes.push(b'\n');
        }
        self.bytes.push(0);
    }
}

/// Creates an empty string. Free it with `convstate_string_free`.
#[no_mangle]
pub unsafe extern "C" fn convstate_string_new(out: *mut *mut convstate_string) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        unsafe { out.write(Box::into_raw(Box::new(convstate_string { bytes: vec![0] }))) };
        Ok(())
    }
}

/// Frees a string. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn convstate_string_free(string: *mut convstate_string) {
    unsafe { free_handle(string) }
}

/// The string's bytes, NUL-terminated. Valid until the string is next written or freed; NULL
/// if `string` is NULL (or misaligned: no string this library made).
#[no_mangle]
pub unsafe extern "C" fn convstate_string_ptr(string: *const convstate_string) -> *const c_char {
    // SAFETY: NULL or a live string (the caller's contract).
    match unsafe { string_ref(string) } {
        Some(s) => s.bytes.as_ptr().cast(),
        None => std::ptr::null(),
    }
}

/// The string's length in bytes, without the NUL; 0 if `string` is NULL (or misaligned: no
/// string this library made).
#[no_mangle]
pub unsafe extern "C" fn convstate_string_len(string: *const convstate_string) -> usize {
    // SAFETY: NULL or a live string (the caller's contract).
    unsafe { string_ref(string) }.map_or(0, |s| s.text().len())
}

/// The string behind `string`; `None` for NULL or a misaligned pointer, which these two
/// functions, returning no result code, answer as they answer NULL.
///
/// # Safety
/// `string` is NULL, misaligned, or a live string.
unsafe fn string_ref<'a>(string: *const convstate_string) -> Option<&'a convstate_string> {
    if !string.is_aligned() {
        return None;
    }
    // SAFETY: aligned, and NULL or a live string (the caller's contract).
    unsafe { string.as_ref() }
}

/// Applies one wire-format line (`line`, `line_len` bytes, no newline needed) and replaces the
/// contents of `out` with the output: the result line (ack, decision, view or error) and then
/// one line per effect, each line ending in `\n`. An input the engine rejects is a successful
/// call whose result line is `{"type":"error",...}`, exactly as on the wire; the result code
/// reports only problems of the call itself (NULL, invalid UTF-8, a panic), and then `out` is
/// left as it was. The effect lines drain the engine's whole effect queue: this input's
/// effects, after any that earlier typed calls left queued and `convstate_engine_poll_effect`
/// has not taken yet. Effects delivered here are not also returned by
/// `convstate_engine_poll_effect`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_handle_json(
    engine: *mut convstate_engine,
    line: *const c_char,
    line_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let line = unsafe { str_arg(line, line_len, "line") }?;
        // Checked before the engine runs, so a NULL `out` never loses the output.
        unsafe { arg(out, "out") }?;
        let text = handle_line(handle, line);
        unsafe { arg_mut(out, "out") }?.set(text.as_bytes());
        Ok(())
    }
}

/// Applies a Meta Cloud API webhook body (`body`, `body_len` bytes, as received) and replaces
/// the contents of `out` with one line per item of the payload, each followed by the lines of
/// the effects it caused, each line ending in `\n`:
/// `{"type":"ack","of":...,"path":...,"event":{...}}` for an applied item,
/// `{"type":"error",...,"path":...}` for an item that is malformed or refused,
/// `{"type":"unrecognized","path":...,"reason":...}` for what this build does not know,
/// `{"type":"skipped","path":...,"reason":...}` for an item that changes no state (with the
/// `event` of a message already taken, which the provider delivered again). A body that
/// is not a webhook at all gives one `error` line. `at_ms` (unix milliseconds) is when the
/// body was received: used only for items without a timestamp of their own. Template and
/// account webhooks name only the WABA: it maps to the business `convstate_engine_map_waba`
/// mapped it to, else to the business named by the WABA id, else (no WABA mapped) to the
/// only business. As with `convstate_engine_handle_json`, the result code reports only
/// problems of the call itself, and the effects the payload caused are delivered here (not
/// also by `convstate_engine_poll_effect`). Unlike that door, this one delivers only them:
/// effects that earlier typed calls left queued stay queued for
/// `convstate_engine_poll_effect` (or the next `convstate_engine_handle_json`).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_handle_webhook(
    engine: *mut convstate_engine,
    at_ms: i64,
    body: *const u8,
    body_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        unsafe {
            webhook_door(at_ms, body, body_len, out, |body, at| {
                handle.webhook_reader.handle_json(&mut handle.engine, body, at)
            })
        }
    }
}

/// Maps a WhatsApp Business Account id (`waba_id`, the `entry[].id` that template and
/// account webhooks name their account by) to the business `business` names, for this
/// handle's `convstate_engine_handle_webhook`. An engine with one business needs no mapping,
/// and neither does a business registered under its WABA id; with several, a template or
/// account webhook of an unmapped WABA applies to none (an `unrecognized` line), and once
/// any WABA is mapped, an unmapped one is no account of this engine's. The mapping is the
/// handle's, not the engine's state: snapshots do not carry it, so map again after
/// `convstate_engine_restore`. `CONVSTATE_ERR_INVALID_EVENT` for an empty WABA id (or one
/// with white space or control characters), a business name no engine could register (1
/// to 256 characters, no control characters, no white space around it) or a WABA mapped to
/// another business already (mapping it again to the same one is no change). The business
/// need not be registered yet (map at start-up, before the registrations arrive), so a
/// misspelt one is taken, and webhooks of that WABA then name an unknown business; the
/// mapping cannot be changed on this handle: check the names against your registrations
/// before mapping (a new handle, `convstate_engine_restore` of a snapshot, starts with
/// none).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_map_waba(
    engine: *mut convstate_engine,
    waba_id: *const c_char,
    waba_id_len: usize,
    business: *const c_char,
    business_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let waba_id = unsafe { str_arg(waba_id, waba_id_len, "waba_id") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        Ok(handle.webhook_reader.map_business(waba_id, business)?)
    }
}

/// What both snapshot-into-a-string calls do (one engine's, the sharded engine's): check
/// `out` before the state is written (so a NULL `out` costs no snapshot), then hand it the
/// bytes `snapshot` writes.
///
/// # Safety
/// `out` as the calls' callers are told.
pub(crate) unsafe fn snapshot_into(
    out: *mut convstate_string,
    snapshot: impl FnOnce() -> Vec<u8>,
) -> Result<(), FfiError> {
    unsafe { arg(out, "out") }?;
    let bytes = snapshot();
    unsafe { arg_mut(out, "out") }?.set_owned(bytes);
    Ok(())
}

/// What both webhook doors (one engine's, the sharded engine's) do around their reader:
/// take the body and `at_ms`, check `out` before `read` runs (so a NULL `out` never loses
/// the output), and replace `out` with the lines `read` gives.
///
/// # Safety
/// `body` and `out` as the doors' callers are told.
pub(crate) unsafe fn webhook_door(
    at_ms: i64,
    body: *const u8,
    body_len: usize,
    out: *mut convstate_string,
    read: impl FnOnce(&[u8], Instant) -> Vec<String>,
) -> Result<(), FfiError> {
    let body = unsafe { bytes_arg(body, body_len, "body") }?;
    let received_at = instant_arg(at_ms, "at_ms")?;
    unsafe { arg(out, "out") }?;
    let lines = read(body, received_at);
    unsafe { arg_mut(out, "out") }?.set_lines(&lines);
    Ok(())
}
