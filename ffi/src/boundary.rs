//! The panic boundary, result codes, the thread-local last error, and argument checks.
//!
//! Every exported function that can fail is written as
//! `ffi_boundary! { ...body returning Result<(), FfiError>... }`: the body runs inside
//! `catch_unwind`, a returned error is stored as this thread's last error and turned into its
//! result code, and a panic becomes `CONVSTATE_ERR_PANIC` instead of unwinding into C.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use convstate_core::{Duration, Error, ErrorKind, Instant};

/// Result of every fallible function. `CONVSTATE_OK` (0) is success; errors are grouped by
/// area in blocks of 100. Values are stable: a code is never reused or renumbered, new codes
/// are added at the end of their block. An area's `..._OTHER` code is used for an error of
/// that area that this build does not name yet.
#[repr(u32)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum convstate_result {
    /// Success.
    CONVSTATE_OK = 0,

    // ---- 1..99: the call itself -------------------------------------------------------
    /// A required pointer argument was NULL.
    CONVSTATE_ERR_NULL_ARGUMENT = 1,
    /// A string argument was not valid UTF-8.
    CONVSTATE_ERR_INVALID_UTF8 = 2,
    /// An argument the call cannot take, whatever the engine holds: a numeric code (channel,
    /// kind, status, ...) that is not one of its constants, a yes-or-no byte other than 0 or
    /// 1, a number or duration outside the call's range, a `month` that is not `"YYYY-MM"`,
    /// arguments that exclude each other (the message names them), a parameter added to a
    /// message that is not a template or that mixes positional and named ones, a length more
    /// than any buffer can hold, or a pointer not aligned for its type.
    CONVSTATE_ERR_INVALID_ARGUMENT = 3,
    /// The caller's buffer is too small; `*written` holds the size needed and nothing was
    /// consumed.
    CONVSTATE_ERR_BUFFER_TOO_SMALL = 4,
    /// The library panicked (a bug); the handle is still valid (it can be read, snapshotted
    /// and freed), but the call did nothing reliable and may have left part of its change in
    /// the engine (or shard): restore the last snapshot to go on from a known state.
    CONVSTATE_ERR_PANIC = 5,

    // ---- 100..199: invalid input ------------------------------------------------------
    /// Invalid input of a kind this build does not name.
    CONVSTATE_ERR_INVALID_INPUT_OTHER = 100,
    /// A phone number that is not 8–15 digits with an optional `+` or `00`.
    CONVSTATE_ERR_INVALID_PHONE_NUMBER = 101,
    /// An opaque user or group id that is empty, too long or has whitespace.
    CONVSTATE_ERR_INVALID_USER_ID = 102,
    /// An instant that is not RFC 3339.
    CONVSTATE_ERR_INVALID_INSTANT = 103,
    /// An instant outside years 1970..=9999.
    CONVSTATE_ERR_INSTANT_OUT_OF_RANGE = 104,
    /// An input the engine refuses as given: a wire-format line, message or buttons JSON that
    /// does not decode, or the fields of a typed call that do not make an acceptable event (a
    /// missing or empty field, fields that exclude each other, a value the policy does not
    /// have, an end before its start); the message names the field.
    CONVSTATE_ERR_INVALID_EVENT = 105,
    /// A template that breaks the template rules.
    CONVSTATE_ERR_INVALID_TEMPLATE = 106,
    /// A request that makes no sense for the number's channel.
    CONVSTATE_ERR_NOT_ON_CHANNEL = 107,
    /// A number already registered to another business.
    CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER = 108,
    /// A view at an instant before the engine's clock (it keeps no history); the message
    /// names both instants.
    CONVSTATE_ERR_VIEW_BEFORE_CLOCK = 109,
    /// An edit of a template its status or the policy does not let be edited.
    CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE = 110,
    /// An edit over the policy's edit limits (per day, per month).
    CONVSTATE_ERR_TEMPLATE_EDIT_LIMIT = 111,

    // ---- 200..299: not found -----------------------------------------------------------
    /// Something unknown of a kind this build does not name.
    CONVSTATE_ERR_NOT_FOUND_OTHER = 200,
    /// A number that was never registered.
    CONVSTATE_ERR_UNKNOWN_NUMBER = 201,
    /// A business that was never registered.
    CONVSTATE_ERR_UNKNOWN_BUSINESS = 202,
    /// A template that was never registered.
    CONVSTATE_ERR_UNKNOWN_TEMPLATE = 203,
    /// Ending a chat that is not live.
    CONVSTATE_ERR_NO_LIVE_CHAT = 204,
    /// Changing a ticket that does not exist.
    CONVSTATE_ERR_NO_TICKET = 205,
    /// Changing a ticket that is no longer the conversation's current one.
    CONVSTATE_ERR_TICKET_NOT_CURRENT = 206,
    /// A conversation id that names no conversation of this engine: its place here holds
    /// another conversation or none (an id another engine gave, or one given before the
    /// engine was rebuilt or restored, may).
    CONVSTATE_ERR_UNKNOWN_CONVERSATION = 207,

    // ---- 300..399: policy ----------------------------------------------------------------
    /// A policy error this build does not name.
    CONVSTATE_ERR_POLICY_OTHER = 300,
    /// An unknown policy preset name.
    CONVSTATE_ERR_UNKNOWN_POLICY = 301,
    /// Policy overrides that are not JSON or do not fit the policy.
    CONVSTATE_ERR_INVALID_POLICY = 302,

    // ---- 400..499: snapshots -------------------------------------------------------------
    /// A snapshot error this build does not name.
    CONVSTATE_ERR_SNAPSHOT_OTHER = 400,
    /// A snapshot of a format version this build does not read.
    CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION = 401,
    /// A snapshot that does not decode or is inconsistent.
    CONVSTATE_ERR_CORRUPT_SNAPSHOT = 402,

    // ---- 500..599: capacity --------------------------------------------------------------
    /// A capacity error this build does not name.
    CONVSTATE_ERR_CAPACITY_OTHER = 500,
    /// An internal table reached its capacity.
    CONVSTATE_ERR_CAPACITY_EXCEEDED = 501,

    // ---- 900..999: everything else -------------------------------------------------------
    /// An error of a family this build does not know.
    CONVSTATE_ERR_OTHER = 900,
}

use convstate_result::*;

impl convstate_result {
    /// Every code, for `convstate_result_name` and the tests.
    pub(crate) const ALL: [convstate_result; 35] = [
        CONVSTATE_OK,
        CONVSTATE_ERR_NULL_ARGUMENT,
        CONVSTATE_ERR_INVALID_UTF8,
        CONVSTATE_ERR_INVALID_ARGUMENT,
        CONVSTATE_ERR_BUFFER_TOO_SMALL,
        CONVSTATE_ERR_PANIC,
        CONVSTATE_ERR_INVALID_INPUT_OTHER,
        CONVSTATE_ERR_INVALID_PHONE_NUMBER,
        CONVSTATE_ERR_INVALID_USER_ID,
        CONVSTATE_ERR_INVALID_INSTANT,
        CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
        CONVSTATE_ERR_INVALID_EVENT,
        CONVSTATE_ERR_INVALID_TEMPLATE,
        CONVSTATE_ERR_NOT_ON_CHANNEL,
        CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER,
        CONVSTATE_ERR_VIEW_BEFORE_CLOCK,
        CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE,
        CONVSTATE_ERR_TEMPLATE_EDIT_LIMIT,
        CONVSTATE_ERR_NOT_FOUND_OTHER,
        CONVSTATE_ERR_UNKNOWN_NUMBER,
        CONVSTATE_ERR_UNKNOWN_BUSINESS,
        CONVSTATE_ERR_UNKNOWN_TEMPLATE,
        CONVSTATE_ERR_NO_LIVE_CHAT,
        CONVSTATE_ERR_NO_TICKET,
        CONVSTATE_ERR_TICKET_NOT_CURRENT,
        CONVSTATE_ERR_UNKNOWN_CONVERSATION,
        CONVSTATE_ERR_POLICY_OTHER,
        CONVSTATE_ERR_UNKNOWN_POLICY,
        CONVSTATE_ERR_INVALID_POLICY,
        CONVSTATE_ERR_SNAPSHOT_OTHER,
        CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION,
        CONVSTATE_ERR_CORRUPT_SNAPSHOT,
        CONVSTATE_ERR_CAPACITY_OTHER,
        CONVSTATE_ERR_CAPACITY_EXCEEDED,
        CONVSTATE_ERR_OTHER,
    ];

    /// The constant's name as a C string.
    pub(crate) fn name(self) -> &'static CStr {
        match self {
            CONVSTATE_OK => c"CONVSTATE_OK",
            CONVSTATE_ERR_NULL_ARGUMENT => c"CONVSTATE_ERR_NULL_ARGUMENT",
            CONVSTATE_ERR_INVALID_UTF8 => c"CONVSTATE_ERR_INVALID_UTF8",
            CONVSTATE_ERR_INVALID_ARGUMENT => c"CONVSTATE_ERR_INVALID_ARGUMENT",
            CONVSTATE_ERR_BUFFER_TOO_SMALL => c"CONVSTATE_ERR_BUFFER_TOO_SMALL",
            CONVSTATE_ERR_PANIC => c"CONVSTATE_ERR_PANIC",
            CONVSTATE_ERR_INVALID_INPUT_OTHER => c"CONVSTATE_ERR_INVALID_INPUT_OTHER",
            CONVSTATE_ERR_INVALID_PHONE_NUMBER => c"CONVSTATE_ERR_INVALID_PHONE_NUMBER",
            CONVSTATE_ERR_INVALID_USER_ID => c"CONVSTATE_ERR_INVALID_USER_ID",
            CONVSTATE_ERR_INVALID_INSTANT => c"CONVSTATE_ERR_INVALID_INSTANT",
            CONVSTATE_ERR_INSTANT_OUT_OF_RANGE => c"CONVSTATE_ERR_INSTANT_OUT_OF_RANGE",
            CONVSTATE_ERR_INVALID_EVENT => c"CONVSTATE_ERR_INVALID_EVENT",
            CONVSTATE_ERR_INVALID_TEMPLATE => c"CONVSTATE_ERR_INVALID_TEMPLATE",
            CONVSTATE_ERR_NOT_ON_CHANNEL => c"CONVSTATE_ERR_NOT_ON_CHANNEL",
            CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER => c"CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER",
            CONVSTATE_ERR_VIEW_BEFORE_CLOCK => c"CONVSTATE_ERR_VIEW_BEFORE_CLOCK",
            CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE => c"CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE",
            CONVSTATE_ERR_TEMPLATE_EDIT_LIMIT => c"CONVSTATE_ERR_TEMPLATE_EDIT_LIMIT",
            CONVSTATE_ERR_NOT_FOUND_OTHER => c"CONVSTATE_ERR_NOT_FOUND_OTHER",
            CONVSTATE_ERR_UNKNOWN_NUMBER => c"CONVSTATE_ERR_UNKNOWN_NUMBER",
            CONVSTATE_ERR_UNKNOWN_BUSINESS => c"CONVSTATE_ERR_UNKNOWN_BUSINESS",
            CONVSTATE_ERR_UNKNOWN_TEMPLATE => c"CONVSTATE_ERR_UNKNOWN_TEMPLATE",
            CONVSTATE_ERR_NO_LIVE_CHAT => c"CONVSTATE_ERR_NO_LIVE_CHAT",
            CONVSTATE_ERR_NO_TICKET => c"CONVSTATE_ERR_NO_TICKET",
            CONVSTATE_ERR_TICKET_NOT_CURRENT => c"CONVSTATE_ERR_TICKET_NOT_CURRENT",
            CONVSTATE_ERR_UNKNOWN_CONVERSATION => c"CONVSTATE_ERR_UNKNOWN_CONVERSATION",
            CONVSTATE_ERR_POLICY_OTHER => c"CONVSTATE_ERR_POLICY_OTHER",
            CONVSTATE_ERR_UNKNOWN_POLICY => c"CONVSTATE_ERR_UNKNOWN_POLICY",
            CONVSTATE_ERR_INVALID_POLICY => c"CONVSTATE_ERR_INVALID_POLICY",
            CONVSTATE_ERR_SNAPSHOT_OTHER => c"CONVSTATE_ERR_SNAPSHOT_OTHER",
            CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION => {
                c"CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION"
            }
            CONVSTATE_ERR_CORRUPT_SNAPSHOT => c"CONVSTATE_ERR_CORRUPT_SNAPSHOT",
            CONVSTATE_ERR_CAPACITY_OTHER => c"CONVSTATE_ERR_CAPACITY_OTHER",
            CONVSTATE_ERR_CAPACITY_EXCEEDED => c"CONVSTATE_ERR_CAPACITY_EXCEEDED",
            CONVSTATE_ERR_OTHER => c"CONVSTATE_ERR_OTHER",
        }
    }
}

/// The one mapping from core errors to result codes: by the variant's stable wire code first,
/// then by its family, so that a variant added to core later still lands in its area.
pub(crate) fn result_for(error: &Error) -> convstate_result {
    match error.code() {
        "invalid_phone_number" => CONVSTATE_ERR_INVALID_PHONE_NUMBER,
        "invalid_user_id" => CONVSTATE_ERR_INVALID_USER_ID,
        "invalid_instant" => CONVSTATE_ERR_INVALID_INSTANT,
        "instant_out_of_range" => CONVSTATE_ERR_INSTANT_OUT_OF_RANGE,
        "invalid_event" => CONVSTATE_ERR_INVALID_EVENT,
        "invalid_template" => CONVSTATE_ERR_INVALID_TEMPLATE,
        "not_on_channel" => CONVSTATE_ERR_NOT_ON_CHANNEL,
        "number_owned_by_other" => CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER,
        "view_before_clock" => CONVSTATE_ERR_VIEW_BEFORE_CLOCK,
        "template_not_editable" => CONVSTATE_ERR_TEMPLATE_NOT_EDITABLE,
        "template_edit_limit" => CONVSTATE_ERR_TEMPLATE_EDIT_LIMIT,
        "unknown_number" => CONVSTATE_ERR_UNKNOWN_NUMBER,
        "unknown_business" => CONVSTATE_ERR_UNKNOWN_BUSINESS,
        "unknown_template" => CONVSTATE_ERR_UNKNOWN_TEMPLATE,
        "no_live_chat" => CONVSTATE_ERR_NO_LIVE_CHAT,
        "no_ticket" => CONVSTATE_ERR_NO_TICKET,
        "ticket_not_current" => CONVSTATE_ERR_TICKET_NOT_CURRENT,
        "unknown_conversation" => CONVSTATE_ERR_UNKNOWN_CONVERSATION,
        "unknown_policy" => CONVSTATE_ERR_UNKNOWN_POLICY,
        "invalid_policy" => CONVSTATE_ERR_INVALID_POLICY,
        "unsupported_snapshot_version" => CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION,
        "corrupt_snapshot" => CONVSTATE_ERR_CORRUPT_SNAPSHOT,
        "capacity_exceeded" => CONVSTATE_ERR_CAPACITY_EXCEEDED,
        _ => match error.kind() {
            ErrorKind::InvalidInput => CONVSTATE_ERR_INVALID_INPUT_OTHER,
            ErrorKind::NotFound => CONVSTATE_ERR_NOT_FOUND_OTHER,
            ErrorKind::Policy => CONVSTATE_ERR_POLICY_OTHER,
            ErrorKind::Snapshot => CONVSTATE_ERR_SNAPSHOT_OTHER,
            ErrorKind::Capacity => CONVSTATE_ERR_CAPACITY_OTHER,
            _ => CONVSTATE_ERR_OTHER,
        },
    }
}

/// A failed call: its code and the message for `convstate_last_error`. Boxed, so that the
/// `Result`s of argument reading on every call stay two words wide and travel in registers
/// (failures are the rare path).
#[derive(Debug)]
pub(crate) struct FfiError(Box<FailedCall>);

#[derive(Debug)]
struct FailedCall {
    code: convstate_result,
    message: String,
}

impl FfiError {
    #[cold]
    pub(crate) fn new(code: convstate_result, message: impl Into<String>) -> FfiError {
        FfiError(Box::new(FailedCall {
            code,
            message: message.into(),
        }))
    }

    pub(crate) fn null(argument: &str) -> FfiError {
        FfiError::new(
            CONVSTATE_ERR_NULL_ARGUMENT,
            format!("argument `{argument}` is NULL"),
        )
    }

    /// A pointer not aligned for what it points to: reading through it would be undefined
    /// behaviour (and a debug build of this library would abort the host), so it is refused.
    pub(crate) fn misaligned<T>(argument: &str, ptr: *const T) -> FfiError {
        FfiError::new(
            CONVSTATE_ERR_INVALID_ARGUMENT,
            format!(
                "argument `{argument}` ({ptr:p}) is not aligned to {} bytes",
                std::mem::align_of::<T>()
            ),
        )
    }

    /// The core's refusal of an argument's text (`InvalidEvent`, say a month or a time
    /// zone that is none) as an argument out of the call's range, naming the argument; any
    /// other error as it is.
    pub(crate) fn in_argument(argument: &str, error: Error) -> FfiError {
        match error {
            Error::InvalidEvent { problem } => FfiError::new(
                CONVSTATE_ERR_INVALID_ARGUMENT,
                format!("argument `{argument}`: {problem}"),
            ),
            other => other.into(),
        }
    }

    pub(crate) fn invalid_code(argument: &str, code: u32, constants: &str) -> FfiError {
        FfiError::new(
            CONVSTATE_ERR_INVALID_ARGUMENT,
            format!(
                "argument `{argument}` is {code}, which is not one of the {constants} constants"
            ),
        )
    }
}

impl From<Error> for FfiError {
    fn from(error: Error) -> FfiError {
        FfiError::new(result_for(&error), error.to_string())
    }
}

thread_local! {
    /// The message of the last failed call on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Stores `error` as this thread's last error and returns its code.
///
/// A call can come after this thread's thread-locals are gone (from an `atexit` handler, or
/// a `pthread_key_create` destructor on a worker thread: saving state at exit asks the
/// snapshot's size by a failing call): the code is returned and the message dropped, where
/// `with` would panic outside the panic boundary and abort the host.
pub(crate) fn store(error: FfiError) -> convstate_result {
    let FailedCall { code, message } = *error.0;
    // An interior NUL would truncate the C string; messages quote user input, so escape it.
    let message = CString::new(message.replace('\0', "\\0")).expect("interior NULs were replaced");
    let _gone = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
    code
}

/// The last error message of this thread; valid until the next failing call on this thread.
/// Empty once the thread's thread-locals are gone (see [`store`]).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// Turns a panic payload into `CONVSTATE_ERR_PANIC` with the panic's message.
pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> convstate_result {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    store(FfiError::new(
        CONVSTATE_ERR_PANIC,
        format!("convstate panicked (a bug, please report it): {what}"),
    ))
}

/// Runs `body` behind the panic boundary and turns its outcome into a result code.
pub(crate) fn run(body: impl FnOnce() -> Result<(), FfiError>) -> convstate_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => CONVSTATE_OK,
        Ok(Err(error)) => store(error),
        Err(payload) => panicked(payload),
    }
}

/// `ffi_boundary! { body }`: the body of every fallible exported function. The body returns
/// `Result<(), FfiError>`; `?` works on core errors.
macro_rules! ffi_boundary {
    ($($body:tt)*) => {
        $crate::boundary::run(|| -> Result<(), $crate::boundary::FfiError> { $($body)* })
    };
}
pub(crate) use ffi_boundary;

// ---- argument checks ----------------------------------------------------------------------

/// Frees a handle made by `Box::into_raw` in this library (every `_free` function). NULL is
/// a no-op. Dropping cannot panic in practice; the boundary keeps a panic from unwinding
/// into C.
pub(crate) unsafe fn free_handle<T>(handle: *mut T) {
    // A misaligned pointer is no handle this library made: freeing it would be undefined
    // behaviour, so it is left alone (a function returning nothing cannot refuse it).
    if handle.is_null() || !handle.is_aligned() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `handle` came from `Box::into_raw` in this library and is freed once (the
        // caller's contract).
        drop(unsafe { Box::from_raw(handle) });
    }));
}

/// A shared reference from a pointer that must not be NULL.
///
/// # Safety
/// `ptr` is NULL or valid for reads as a `T` for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, FfiError> {
    aligned(ptr, name)?;
    // SAFETY: aligned, and the caller guarantees validity when non-NULL.
    unsafe { ptr.as_ref() }.ok_or_else(|| FfiError::null(name))
}

/// Refuses a pointer not aligned for `T` (NULL is aligned: the callers refuse it by name).
#[inline]
fn aligned<T>(ptr: *const T, name: &str) -> Result<(), FfiError> {
    if ptr.is_aligned() {
        Ok(())
    } else {
        Err(FfiError::misaligned(name, ptr))
    }
}

/// An exclusive reference from a pointer that must not be NULL.
///
/// # Safety
/// `ptr` is NULL or valid for reads and writes as a `T` for `'a`, and not aliased.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, FfiError> {
    aligned(ptr.cast_const(), name)?;
    // SAFETY: aligned, and the caller guarantees validity and exclusivity when non-NULL.
    unsafe { ptr.as_mut() }.ok_or_else(|| FfiError::null(name))
}

/// An optional exclusive reference: NULL is `None`; a misaligned pointer is refused.
///
/// # Safety
/// `ptr` is NULL or valid for reads and writes as a `T` for `'a`, and not aliased.
pub(crate) unsafe fn opt_arg_mut<'a, T>(
    ptr: *mut T,
    name: &str,
) -> Result<Option<&'a mut T>, FfiError> {
    aligned(ptr.cast_const(), name)?;
    // SAFETY: aligned, and the caller guarantees validity and exclusivity when non-NULL.
    Ok(unsafe { ptr.as_mut() })
}

/// An output slot: checked for NULL before any work, written only on success.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    pub(crate) fn new(ptr: *mut T, name: &str) -> Result<Out<T>, FfiError> {
        if ptr.is_null() {
            Err(FfiError::null(name))
        } else {
            aligned(ptr.cast_const(), name)?;
            Ok(Out(ptr))
        }
    }

    /// An output slot the caller may leave out: NULL gives `None`.
    pub(crate) fn optional(ptr: *mut T, name: &str) -> Result<Option<Out<T>>, FfiError> {
        if ptr.is_null() {
            Ok(None)
        } else {
            Out::new(ptr, name).map(Some)
        }
    }

    /// Writes the value (the slot may be uninitialised memory).
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] is valid for writes of a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`) and valid for writes (the caller's contract).
        unsafe { self.0.write(value) }
    }
}

/// Bytes from a pointer and a length; NULL is refused even for length 0.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], FfiError> {
    // SAFETY: the caller's contract, passed on.
    unsafe { slice_arg(ptr, len, name) }
}

/// `len` items from a pointer; NULL is refused even for length 0.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` items of `T` for `'a` (a misaligned one is
/// refused).
pub(crate) unsafe fn slice_arg<'a, T>(
    ptr: *const T,
    len: usize,
    name: &str,
) -> Result<&'a [T], FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null(name));
    }
    aligned(ptr, name)?;
    // No allocation is larger: such a length is a caller's bug (a negative `ssize_t` cast,
    // say), refused rather than made into a slice, which would be undefined behaviour.
    if len > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(FfiError::new(
            CONVSTATE_ERR_INVALID_ARGUMENT,
            format!("argument `{name}` has length {len}, more than any buffer can hold"),
        ));
    }
    // SAFETY: non-NULL, aligned, valid for `len` items (the caller's contract), at most
    // isize::MAX bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A UTF-8 string from a pointer and a length in bytes (no NUL terminator needed).
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn str_arg<'a>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> Result<&'a str, FfiError> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { bytes_arg(ptr.cast(), len, name) }?;
    // Numbers, contacts and ids are ASCII almost always: checking that is a few word-wide
    // loads, where full UTF-8 validation of a short string cost a quarter of a typed call.
    if is_ascii(bytes) {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(
            CONVSTATE_ERR_INVALID_UTF8,
            format!("argument `{name}` is not valid UTF-8: {e}"),
        )
    })
}

/// `bytes.is_ascii()`, with 8 to 16 bytes (phone numbers, most ids) checked as two
/// overlapping words: std checks strings that short a byte at a time.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    match bytes.len() {
        len @ 8..=16 => {
            let word = |at: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&bytes[at..at + 8]);
                u64::from_le_bytes(w)
            };
            (word(0) | word(len - 8)) & HIGH_BITS == 0
        }
        _ => bytes.is_ascii(),
    }
}

/// An optional string: NULL means absent.
///
/// # Safety
/// As [`str_arg`].
#[inline]
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    len: usize,
    name: &str,
) -> Result<Option<&'a str>, FfiError> {
    // NULL with a length is a string the host meant to pass and lost: taken as absent, a
    // lost idempotency key or message id would drop its check without a word.
    match (ptr.is_null(), len) {
        (true, 0) => Ok(None),
        (true, len) => Err(FfiError::new(
            CONVSTATE_ERR_NULL_ARGUMENT,
            format!("argument `{name}` is NULL with length {len} (absent is NULL with length 0)"),
        )),
        // SAFETY: forwarded contract.
        (false, _) => unsafe { str_arg(ptr, len, name) }.map(Some),
    }
}

/// An instant from unix milliseconds.
pub(crate) fn instant_arg(ms: i64, name: &str) -> Result<Instant, FfiError> {
    Instant::from_unix_millis(ms).map_err(|error| {
        // Named, as a call may take two instants (`at_ms` and `until_ms`).
        FfiError::new(result_for(&error), format!("argument `{name}`: {error}"))
    })
}

/// An optional duration from milliseconds: negative means none (the default); a length
/// past the engine's maximum is refused, as the wire format refuses it, not clamped.
pub(crate) fn opt_duration_arg(ms: i64, name: &str) -> Result<Option<Duration>, FfiError> {
    if ms < 0 {
        return Ok(None);
    }
    Duration::try_from_millis(ms).map(Some).map_err(|problem| {
        FfiError::new(
            CONVSTATE_ERR_INVALID_ARGUMENT,
            format!("argument `{name}`: {problem}"),
        )
    })
}

/// Checks a caller buffer before any work: NULL is allowed only with capacity 0 (a size
/// query), and a capacity no buffer can have is refused as an input length is (a negative
/// `ssize_t` cast, say): taken at its word, it let the output be written past the end of
/// the caller's real buffer.
pub(crate) fn buffer_arg(buffer: *mut u8, capacity: usize) -> Result<(), FfiError> {
    if buffer.is_null() && capacity > 0 {
        return Err(FfiError::null("buffer"));
    }
    if capacity > isize::MAX as usize {
        return Err(FfiError::new(
            CONVSTATE_ERR_INVALID_ARGUMENT,
            format!("argument `capacity` is {capacity}, more than any buffer can hold"),
        ));
    }
    Ok(())
}

/// Copies `bytes` into the caller's buffer, or reports the size needed.
///
/// On success `*written` is the number of bytes copied (no NUL terminator is added). When
/// `capacity` is too small, `*written` is set to `bytes.len()` and the result is
/// `CONVSTATE_ERR_BUFFER_TOO_SMALL` — the one out-parameter written on failure.
///
/// # Safety
/// `buffer` passed [`buffer_arg`] and is valid for writes of `capacity` bytes; `written` is
/// valid for writes.
pub(crate) unsafe fn copy_out(
    bytes: &[u8],
    buffer: *mut u8,
    capacity: usize,
    written: Out<usize>,
) -> Result<(), FfiError> {
    if bytes.len() > capacity {
        // SAFETY: the caller's contract.
        unsafe { written.write(bytes.len()) };
        return Err(FfiError::new(
            CONVSTATE_ERR_BUFFER_TOO_SMALL,
            format!(
                "buffer of {capacity} bytes is too small: {} bytes needed",
                bytes.len()
            ),
        ));
    }
    if !bytes.is_empty() {
        // SAFETY: `buffer` holds at least `capacity >= bytes.len()` bytes and cannot overlap
        // memory this library owns.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer, bytes.len()) };
    }
    // SAFETY: the caller's contract.
    unsafe { written.write(bytes.len()) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_ascii;

    #[test]
    fn is_ascii_agrees_with_std_at_every_length_and_position() {
        for len in 0..=24 {
            let mut bytes = vec![b'7'; len];
            assert!(is_ascii(&bytes), "{len} ASCII bytes");
            for at in 0..len {
                bytes[at] = 0xC3;
                assert_eq!(
                    is_ascii(&bytes),
                    bytes.is_ascii(),
                    "length {len}, byte {at}"
                );
                assert!(!is_ascii(&bytes));
                bytes[at] = b'7';
            }
        }
    }
}
