//! The engine handle and its typed functions.

use std::ffi::c_char;

use convstate_core::decision::ChargeCategory;
use convstate_core::event::{
    Consent, EndChat, InitiateRequest, MessageStatusUpdate, MessagingLimitUpdate,
    NumberQualityUpdate, NumberRestrictionUpdate, ProviderPricing, RegisterNumber,
    RegisterTemplate, RestrictionLifted, SendFailed, SetTicketStatus, TemplateCategoryUpdate,
    TemplateComponentsUpdate, TemplateQualityUpdate, TemplateRef, TemplateStatusUpdate, UsageRef,
    UserPreference,
};
use convstate_core::template::{Button, Quality, TemplateStatus};
use convstate_core::webhook::WebhookReader;
use convstate_core::{
    ConversationId, Decision, Engine, InboundOutcome, InboundRef, Policy, SendRequestRef,
    SendToRef, StatusOutcome,
};

use crate::boundary::{
    arg, arg_mut, buffer_arg, bytes_arg, copy_out, ffi_boundary, free_handle, instant_arg,
    opt_duration_arg, opt_str_arg, slice_arg, str_arg, FfiError, Out,
};
use crate::codes::*;
use crate::convstate_result;
use crate::json::{convstate_string, snapshot_into};
use crate::message::convstate_message;

/// A conversation-state engine. Create with `convstate_engine_new`,
/// `convstate_engine_restore` or `convstate_engine_from_business_export`, free with
/// `convstate_engine_free`. Not locked: a call that
/// takes the engine non-const needs it to itself; calls that take it const (checks, views,
/// snapshots) may run on several threads at once while no other call runs. Different
/// handles are independent. (`convstate_sharded_engine` locks for its callers.)
#[derive(Debug)]
pub struct convstate_engine {
    pub(crate) engine: Engine,
    /// The WABA ids `convstate_engine_map_waba` mapped, for this handle's webhook door: the
    /// host's configuration, as a Rust host's `WebhookReader`, so snapshots do not carry it.
    pub(crate) webhook_reader: WebhookReader,
}

impl convstate_engine {
    pub(crate) fn boxed(engine: Engine) -> *mut convstate_engine {
        Box::into_raw(Box::new(convstate_engine {
            engine,
            webhook_reader: WebhookReader::new(),
        }))
    }
}

/// Creates an engine under a policy preset (`classic`, `cloud-2025`, `cloud-2026-10`) with
/// optional JSON overrides merged over it (`{"chat":{"idle_timeout":"15m"}}`; NULL for none).
/// On success `*out` owns the new engine: free it with `convstate_engine_free`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_new(
    preset: *const c_char,
    preset_len: usize,
    overrides_json: *const c_char,
    overrides_json_len: usize,
    out: *mut *mut convstate_engine,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let policy = unsafe { policy_arg(preset, preset_len, overrides_json, overrides_json_len) }?;
        unsafe { out.write(convstate_engine::boxed(Engine::new(policy))) };
        Ok(())
    }
}

/// A preset with optional JSON overrides merged over it (`convstate_engine_new`'s arguments),
/// refused if its currency does not fit the C structs.
pub(crate) unsafe fn policy_arg(
    preset: *const c_char,
    preset_len: usize,
    overrides_json: *const c_char,
    overrides_json_len: usize,
) -> Result<Policy, FfiError> {
    let preset = unsafe { str_arg(preset, preset_len, "preset") }?;
    let overrides = unsafe { opt_str_arg(overrides_json, overrides_json_len, "overrides_json") }?;
    let policy = match overrides {
        None => Policy::preset(preset)?,
        Some(json) => {
            let value = convstate_core::policy::overrides_from_json(json)?;
            Policy::with_overrides(preset, &value)?
        }
    };
    check_currency(&policy)?;
    Ok(policy)
}

/// Frees an engine. NULL is a no-op. The handle must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_free(engine: *mut convstate_engine) {
    unsafe { free_handle(engine) }
}

/// Writes the engine's whole state (versioned JSON bytes) into `buffer`. `*written` receives
/// the length. If `capacity` is too small, returns `CONVSTATE_ERR_BUFFER_TOO_SMALL` with the
/// length needed in `*written` (pass `buffer = NULL, capacity = 0` to ask for the size).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_snapshot(
    engine: *const convstate_engine,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let written = Out::new(written, "written")?;
        buffer_arg(buffer, capacity)?;
        let bytes = handle.engine.snapshot();
        unsafe { copy_out(&bytes, buffer, capacity, written) }
    }
}

/// As `convstate_engine_snapshot`, into a library-owned string: the state is written once,
/// where asking `convstate_engine_snapshot` for the size and then copying writes it twice
/// (at 300,000 conversations, 1.1 s and 0.45 s, and twice the peak memory). `out` is
/// replaced with the snapshot's bytes (`convstate_string_ptr`, `convstate_string_len`).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_snapshot_into(
    engine: *const convstate_engine,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        unsafe { snapshot_into(out, || handle.engine.snapshot()) }
    }
}

/// Creates an engine from a snapshot written by `convstate_engine_snapshot` (or
/// `convstate_engine_snapshot_into`). On success `*out` owns the new engine.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_restore(
    snapshot: *const u8,
    snapshot_len: usize,
    out: *mut *mut convstate_engine,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let bytes = unsafe { bytes_arg(snapshot, snapshot_len, "snapshot") }?;
        let engine = Engine::restore(bytes)?;
        check_currency(engine.policy())?;
        unsafe { out.write(convstate_engine::boxed(engine)) };
        Ok(())
    }
}

/// Registration of a number. Optional strings are NULL when absent.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_number_registration {
    /// When, in unix ms.
    pub at_ms: i64,
    /// Business name (created on first use).
    pub business: *const c_char,
    /// Its length in bytes.
    pub business_len: usize,
    /// The number (E.164) or, for email and messengers, the account address.
    pub number: *const c_char,
    /// Its length in bytes.
    pub number_len: usize,
    /// A `convstate_channel`.
    pub channel: u32,
    /// Provider name (`meta`, `twilio`, ...), or NULL.
    pub provider: *const c_char,
    /// Its length in bytes.
    pub provider_len: usize,
    /// Chat idle timeout in ms (more than 0, at most 100 years); negative for the policy's
    /// default (0 is refused, as a length past 100 years is, with
    /// `CONVSTATE_ERR_INVALID_ARGUMENT`: a chat would end as it starts).
    pub idle_timeout_ms: i64,
    /// Name of the template `initiate` sends by default, or NULL.
    pub default_template_name: *const c_char,
    /// Its length in bytes.
    pub default_template_name_len: usize,
    /// Language of the default template (required with a name).
    pub default_template_language: *const c_char,
    /// Its length in bytes.
    pub default_template_language_len: usize,
    /// The provider's id of the number (Meta `phone_number_id`), by which webhooks name it,
    /// or NULL.
    pub phone_number_id: *const c_char,
    /// Its length in bytes.
    pub phone_number_id_len: usize,
    /// The IANA time zone the business counts its months in (`"Asia/Tokyo"`: usage and the
    /// monthly free allowance reset at its midnight), or NULL to leave it as it is (UTC
    /// until one is given). Set once per business: another zone is
    /// `CONVSTATE_ERR_INVALID_EVENT`.
    pub timezone: *const c_char,
    /// Its length in bytes.
    pub timezone_len: usize,
}

/// Registers (or updates) a number of a business. A number moves to another channel only
/// without live chats or held messages (`CONVSTATE_ERR_INVALID_EVENT` otherwise).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_register_number(
    engine: *mut convstate_engine,
    registration: *const convstate_number_registration,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let r = unsafe { arg(registration, "registration") }?;
        let name = unsafe { opt_str_arg(r.default_template_name, r.default_template_name_len, "default_template_name") }?;
        let language = unsafe { opt_str_arg(r.default_template_language, r.default_template_language_len, "default_template_language") }?;
        let default_template = match (name, language) {
            (None, None) => None,
            (Some(name), Some(language)) => Some(TemplateRef { name: name.to_owned(), language: language.to_owned() }),
            // The JSON door refuses a default template without its name or language too.
            (None, Some(_)) => return Err(FfiError::new(
                convstate_result::CONVSTATE_ERR_NULL_ARGUMENT,
                "argument `default_template_name` is NULL but `default_template_language` is given: a default template needs both",
            )),
            (Some(_), None) => return Err(FfiError::new(
                convstate_result::CONVSTATE_ERR_NULL_ARGUMENT,
                "argument `default_template_language` is NULL but `default_template_name` is given: a default template needs both",
            )),
        };
        let event = RegisterNumber {
            at: instant_arg(r.at_ms, "at_ms")?,
            business: unsafe { str_arg(r.business, r.business_len, "business") }?.to_owned(),
            number: unsafe { str_arg(r.number, r.number_len, "number") }?.to_owned(),
            channel: channel_from(r.channel)?,
            provider: unsafe { opt_str_arg(r.provider, r.provider_len, "provider") }?.map(str::to_owned),
            idle_timeout: idle_timeout_arg(r.idle_timeout_ms)?,
            default_template,
            phone_number_id: unsafe { opt_str_arg(r.phone_number_id, r.phone_number_id_len, "phone_number_id") }?.map(str::to_owned),
            timezone: unsafe { opt_str_arg(r.timezone, r.timezone_len, "timezone") }?
                .map(timezone_arg)
                .transpose()?,
        };
        handle.engine.register_number(&event)?;
        Ok(())
    }
}

/// A registration's `timezone`: an IANA name, else an argument out of the call's range.
fn timezone_arg(name: &str) -> Result<convstate_core::TimeZone, FfiError> {
    convstate_core::TimeZone::parse(name).map_err(|error| FfiError::in_argument("timezone", error))
}

/// A registration's `idle_timeout_ms`: negative for the policy's default, else more than 0
/// and at most the longest duration. Both ends of that range are one mistake, an argument out
/// of the call's range (`CONVSTATE_ERR_INVALID_ARGUMENT`): 0, which would end a chat as it
/// starts, reached the engine and came back as an invalid event.
fn idle_timeout_arg(ms: i64) -> Result<Option<convstate_core::Duration>, FfiError> {
    if ms == 0 {
        return Err(FfiError::new(
            convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            "argument `idle_timeout_ms` is 0: a chat would end as it starts (more than 0, or \
             negative for the policy's default)",
        ));
    }
    opt_duration_arg(ms, "idle_timeout_ms")
}

/// Registration of a template. Optional strings are NULL when absent.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_template_registration {
    /// When, in unix ms.
    pub at_ms: i64,
    /// Owning business.
    pub business: *const c_char,
    /// Its length in bytes.
    pub business_len: usize,
    /// Lowercase name.
    pub name: *const c_char,
    /// Its length in bytes.
    pub name_len: usize,
    /// Language code.
    pub language: *const c_char,
    /// Its length in bytes.
    pub language_len: usize,
    /// A `convstate_template_category`.
    pub category: u32,
    /// Body with `{{1}}` or `{{name}}` variables.
    pub body: *const c_char,
    /// Its length in bytes.
    pub body_len: usize,
    /// Text header, or NULL.
    pub header: *const c_char,
    /// Its length in bytes.
    pub header_len: usize,
    /// Footer, or NULL.
    pub footer: *const c_char,
    /// Its length in bytes.
    pub footer_len: usize,
    /// Buttons as a JSON array in the wire format (`[{"kind":"quick_reply","label":"Yes"}]`),
    /// or NULL for none.
    pub buttons_json: *const c_char,
    /// Its length in bytes.
    pub buttons_json_len: usize,
    /// A `convstate_template_status`; `CONVSTATE_TEMPLATE_STATUS_NONE` means pending.
    pub status: u32,
    /// A `convstate_quality`; 0 means unknown.
    pub quality: u32,
}

/// Registers (or replaces) a template of a business.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_register_template(
    engine: *mut convstate_engine,
    registration: *const convstate_template_registration,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let r = unsafe { arg(registration, "registration") }?;
        let buttons: Vec<Button> = match unsafe { opt_str_arg(r.buttons_json, r.buttons_json_len, "buttons_json") }? {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| convstate_core::Error::InvalidEvent {
                problem: format!("buttons_json: {e}"),
            })?,
        };
        let event = RegisterTemplate {
            at: instant_arg(r.at_ms, "at_ms")?,
            business: unsafe { str_arg(r.business, r.business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(r.name, r.name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(r.language, r.language_len, "language") }?.to_owned(),
            category: category_from(r.category)?,
            body: unsafe { str_arg(r.body, r.body_len, "body") }?.to_owned(),
            header: unsafe { opt_str_arg(r.header, r.header_len, "header") }?.map(str::to_owned),
            footer: unsafe { opt_str_arg(r.footer, r.footer_len, "footer") }?.map(str::to_owned),
            buttons,
            status: match r.status {
                0 => TemplateStatus::Pending,
                code => template_status_from(code)?,
            },
            quality: match r.quality {
                0 => Quality::Unknown,
                code => quality_from(code)?,
            },
        };
        handle.engine.register_template(&event)?;
        Ok(())
    }
}

/// A message or call from a contact. `contact` may be NULL for a group message, then `group`
/// names the group (unofficial channel only); otherwise `group` is NULL. `size` is the file
/// size in bytes for media, or a negative number when unknown.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_inbound(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    group: *const c_char,
    group_len: usize,
    kind: u32,
    size: i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        // Borrowed, not copied: the C strings outlive the call.
        let event = InboundRef {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?,
            contact: unsafe { opt_str_arg(contact, contact_len, "contact") }?,
            group: unsafe { opt_str_arg(group, group_len, "group") }?,
            kind: inbound_kind_from(kind)?,
            size: u64::try_from(size).ok(),
            referral: false,
            message_id: None,
            user_id: None,
        };
        handle.engine.inbound_borrowed(event)?;
        Ok(())
    }
}

/// A message or call from a contact, with everything `convstate_engine_inbound` takes and
/// more. Optional strings are NULL when absent.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_inbound {
    /// The provider's timestamp of the message, in unix ms.
    pub at_ms: i64,
    /// Receiving number.
    pub number: *const c_char,
    /// Its length in bytes.
    pub number_len: usize,
    /// Sender, or NULL for a group message (then `group` names the group).
    pub contact: *const c_char,
    /// Its length in bytes.
    pub contact_len: usize,
    /// Group id (unofficial channel only), or NULL.
    pub group: *const c_char,
    /// Its length in bytes.
    pub group_len: usize,
    /// A `convstate_inbound_kind`.
    pub kind: u32,
    /// File size in bytes for media, or a negative number when unknown.
    pub size: i64,
    /// 1: the message came from an ad or page button (opens a free entry point window); 0:
    /// it did not. Another value is `CONVSTATE_ERR_INVALID_ARGUMENT` (a byte, not a C
    /// `bool`: a struct filled by `memcpy` or left uninitialised can hold any value, and a
    /// Rust `bool` other than 0 or 1 is undefined behaviour).
    pub referral: u8,
    /// The provider's message id (1..=256 bytes without control characters), or NULL: the
    /// same id from the same sender delivered again within the policy's
    /// `provider.status_memory` (7 days) changes nothing.
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
    /// The sender's business-scoped user id when the provider names them by it beside the
    /// phone number in `contact` (the two are then one contact), or NULL. Official channel
    /// only (`CONVSTATE_ERR_NOT_ON_CHANNEL` otherwise); `contact` must be a phone number
    /// (`CONVSTATE_ERR_INVALID_EVENT` without one), and a user id that is empty, has
    /// whitespace or reads as a phone number is `CONVSTATE_ERR_INVALID_USER_ID`. A pair the
    /// business did not know as one contact, or the user id beside another phone number,
    /// emits a `CONVSTATE_EFFECT_CONTACT_LINKED` (after the effects of the timers the
    /// inbound fires, before its own); not when both names already have a history (they
    /// stay two contacts). A phone number linked to another user id has changed hands: a
    /// `CONVSTATE_EFFECT_CONTACT_UNLINKED` for each user id it leaves comes first.
    pub user_id: *const c_char,
    /// Its length in bytes.
    pub user_id_len: usize,
}

/// A yes-or-no argument or field of an input struct: 0 or 1, refused otherwise (a stray
/// value is a struct not filled in, more likely than a deliberate yes).
pub(crate) fn flag_arg(value: u8, name: &str) -> Result<bool, FfiError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(FfiError::new(
            convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            format!("`{name}` is {other}, which is neither 0 nor 1"),
        )),
    }
}

/// The inbound as the core reads it, borrowing the caller's strings.
pub(crate) unsafe fn inbound_ref(r: &convstate_inbound) -> Result<InboundRef<'_>, FfiError> {
    Ok(InboundRef {
        at: instant_arg(r.at_ms, "at_ms")?,
        number: unsafe { str_arg(r.number, r.number_len, "number") }?,
        contact: unsafe { opt_str_arg(r.contact, r.contact_len, "contact") }?,
        group: unsafe { opt_str_arg(r.group, r.group_len, "group") }?,
        kind: inbound_kind_from(r.kind)?,
        size: u64::try_from(r.size).ok(),
        referral: flag_arg(r.referral, "referral")?,
        message_id: unsafe { opt_str_arg(r.message_id, r.message_id_len, "message_id") }?,
        user_id: unsafe { opt_str_arg(r.user_id, r.user_id_len, "user_id") }?,
    })
}

/// A message or call from a contact, with a referral flag, the provider's message id and the
/// sender's user id (`convstate_engine_inbound` is this with `referral = 0`, no message id
/// and no user id). On success `*redelivered` (NULL when not needed) is set to true for a
/// message whose `message_id` the engine had already taken from its sender within the
/// policy's `provider.status_memory` (7 days): the provider delivered it again, it changed
/// nothing, and a host storing messages must not store it twice; else to false.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_inbound_ex(
    engine: *mut convstate_engine,
    inbound: *const convstate_inbound,
    redelivered: *mut bool,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = unsafe { inbound_ref(arg(inbound, "inbound")?) }?;
        let redelivered = Out::optional(redelivered, "redelivered")?;
        let outcome = handle.engine.inbound_borrowed(event)?;
        if let Some(redelivered) = redelivered {
            // SAFETY: valid for writes when non-NULL (the caller's contract).
            unsafe { redelivered.write(outcome == InboundOutcome::Redelivered) }
        }
        Ok(())
    }
}

/// A send request. Exactly one of `contact` and `group` is non-NULL.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_send_request {
    /// When the send would happen, in unix ms.
    pub at_ms: i64,
    /// Sending number.
    pub number: *const c_char,
    /// Its length in bytes.
    pub number_len: usize,
    /// Recipient, or NULL for a group.
    pub contact: *const c_char,
    /// Its length in bytes.
    pub contact_len: usize,
    /// Recipient group (unofficial channel only), or NULL.
    pub group: *const c_char,
    /// Its length in bytes.
    pub group_len: usize,
    /// The message (borrowed for the call).
    pub message: *const convstate_message,
    /// Idempotency key (1..=256 bytes without control characters; an empty one is `CONVSTATE_ERR_INVALID_EVENT`), or
    /// NULL: a repeated key returns the first decision (given for another request, it is
    /// `CONVSTATE_ERR_INVALID_EVENT`).
    pub idempotency_key: *const c_char,
    /// Its length in bytes.
    pub idempotency_key_len: usize,
    /// 1: send even if it duplicates a recent message; 0: do not. Another value is
    /// `CONVSTATE_ERR_INVALID_ARGUMENT` (a byte, as `convstate_inbound.referral`).
    pub force: u8,
    /// 1: sent by automation (an auto-acknowledgement, a bot), not by an agent: decided and
    /// recorded alike, but no agent response (RULES §3), so it answers no contact waiting
    /// in a live chat or on an email ticket (response times and missed chats count agents'
    /// replies only); 0: an agent's. Another value is `CONVSTATE_ERR_INVALID_ARGUMENT`.
    /// Changes no decision (`convstate_engine_check_send` reads and ignores it).
    pub automated: u8,
    /// The message's id (1..=256 bytes without control characters), or NULL: your own, given to Meta as
    /// `biz_opaque_callback_data` too (the webhook door then matches its statuses by it), or
    /// the provider's. Lets `convstate_engine_message_status` match its delivery statuses (a
    /// failure gives back its charge, and its limit slot when the policy's
    /// `provider.release_failed_sends` is on; no preset turns it on).
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
}

/// The request as the core reads it, borrowing the caller's strings and message: nothing is
/// copied (copies were most of the C call's overhead over the Rust one).
pub(crate) unsafe fn send_request<'a>(
    r: &'a convstate_send_request,
) -> Result<SendRequestRef<'a>, FfiError> {
    let message = unsafe { arg(r.message, "message") }?;
    Ok(SendRequestRef {
        at: instant_arg(r.at_ms, "at_ms")?,
        number: unsafe { str_arg(r.number, r.number_len, "number") }?,
        contact: unsafe { opt_str_arg(r.contact, r.contact_len, "contact") }?,
        group: unsafe { opt_str_arg(r.group, r.group_len, "group") }?,
        message: &message.message,
        idempotency_key: unsafe {
            opt_str_arg(r.idempotency_key, r.idempotency_key_len, "idempotency_key")
        }?,
        force: flag_arg(r.force, "force")?,
        message_id: unsafe { opt_str_arg(r.message_id, r.message_id_len, "message_id") }?,
        automated: flag_arg(r.automated, "automated")?,
    })
}

/// A C send request (by name or by conversation id) as the core reads it.
trait SendRequestC {
    /// The borrowed request the core's call takes.
    type Ref<'a>
    where
        Self: 'a;
    /// Reads the fields, borrowing the caller's strings and message.
    ///
    /// # Safety
    /// The pointers in `self` are as its type's docs require.
    unsafe fn read(&self) -> Result<Self::Ref<'_>, FfiError>;
}

impl SendRequestC for convstate_send_request {
    type Ref<'a> = SendRequestRef<'a>;
    unsafe fn read(&self) -> Result<SendRequestRef<'_>, FfiError> {
        unsafe { send_request(self) }
    }
}

impl SendRequestC for convstate_send_to_request {
    type Ref<'a> = SendToRef<'a>;
    unsafe fn read(&self) -> Result<SendToRef<'_>, FfiError> {
        unsafe { send_to_request(self) }
    }
}

/// A send or a check: `engine` gives the engine as `send` (exclusive) or `check_send`
/// (shared) takes it, checked first; then the request and the output slot.
unsafe fn decide<H, C: SendRequestC>(
    engine: impl FnOnce() -> Result<H, FfiError>,
    request: *const C,
    out: *mut convstate_decision,
    act: impl FnOnce(H, C::Ref<'_>) -> Result<Decision, convstate_core::Error>,
) -> convstate_result {
    ffi_boundary! {
        let handle = engine()?;
        let request = unsafe { arg(request, "request")?.read() }?;
        let out = Out::new(out, "out")?;
        let decision = act(handle, request)?;
        unsafe { out.write(decision_to_c(&decision)) };
        Ok(())
    }
}

/// Decides a send **and records it** (counters, duplicate detection, limit slot) atomically.
/// A denial is a successful call: `*out` says why.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_send(
    engine: *mut convstate_engine,
    request: *const convstate_send_request,
    out: *mut convstate_decision,
) -> convstate_result {
    let engine = || unsafe { arg_mut(engine, "engine") };
    unsafe { decide(engine, request, out, |h, r| h.engine.send_borrowed(r)) }
}

/// Decides a send without recording anything (a dry run giving the same answer `send` would).
/// Changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_check_send(
    engine: *const convstate_engine,
    request: *const convstate_send_request,
    out: *mut convstate_decision,
) -> convstate_result {
    let engine = || unsafe { arg(engine, "engine") };
    unsafe { decide(engine, request, out, |h, r| h.engine.check_send_borrowed(r)) }
}

/// Writes into `*id` the id of the conversation of `number` with `contact` or `group`
/// (exactly one non-NULL, as in `convstate_send_request`: the conversation a send to them by
/// name reaches), or `CONVSTATE_NO_CONVERSATION` when the engine holds none yet (a conversation begins with
/// its first message, so a first send goes by name). Keep the id with your own record of the
/// conversation and send with `convstate_engine_send_to` / `convstate_engine_check_send_to`,
/// which decide as a send by name does without finding number, contact and conversation
/// again. An id is this engine's: after `convstate_engine_remove_business`,
/// `convstate_engine_take_business` or a restore, resolve it again (an old one whose place
/// now holds another conversation is `CONVSTATE_ERR_UNKNOWN_CONVERSATION`), and an id found by
/// a user id after a `CONVSTATE_EFFECT_CONTACT_LINKED` naming a `previous_phone`, or by
/// either name after a `CONVSTATE_EFFECT_CONTACT_UNLINKED`. Changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_conversation_id(
    engine: *const convstate_engine,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    group: *const c_char,
    group_len: usize,
    id: *mut u64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let number = unsafe { str_arg(number, number_len, "number") }?;
        let contact = unsafe { opt_str_arg(contact, contact_len, "contact") }?;
        let group = unsafe { opt_str_arg(group, group_len, "group") }?;
        let out = Out::new(id, "id")?;
        let found = handle.engine.conversation_id(number, contact, group)?;
        unsafe { out.write(found.map_or(CONVSTATE_NO_CONVERSATION, ConversationId::to_u64)) };
        Ok(())
    }
}

/// A send to a conversation named by its id (`convstate_engine_conversation_id`): a
/// `convstate_send_request` without the number and recipient the id stands for.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_send_to_request {
    /// When the send would happen, in unix ms.
    pub at_ms: i64,
    /// The message (borrowed for the call).
    pub message: *const convstate_message,
    /// Idempotency key, or NULL: as in `convstate_send_request`.
    pub idempotency_key: *const c_char,
    /// Its length in bytes.
    pub idempotency_key_len: usize,
    /// 1: send even if it duplicates a recent message; 0: do not (another value is
    /// `CONVSTATE_ERR_INVALID_ARGUMENT`).
    pub force: u8,
    /// 1: sent by automation, not by an agent: as in `convstate_send_request`.
    pub automated: u8,
    /// The message's id, or NULL: as in `convstate_send_request`.
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
}

/// The request as the core reads it, borrowing the caller's strings and message.
unsafe fn send_to_request(r: &convstate_send_to_request) -> Result<SendToRef<'_>, FfiError> {
    let message = unsafe { arg(r.message, "message") }?;
    Ok(SendToRef {
        at: instant_arg(r.at_ms, "at_ms")?,
        message: &message.message,
        idempotency_key: unsafe {
            opt_str_arg(r.idempotency_key, r.idempotency_key_len, "idempotency_key")
        }?,
        force: flag_arg(r.force, "force")?,
        message_id: unsafe { opt_str_arg(r.message_id, r.message_id_len, "message_id") }?,
        automated: flag_arg(r.automated, "automated")?,
    })
}

/// `convstate_engine_send` to the conversation `id` names: the same decision, recorded the
/// same way. An id that names no conversation of this engine is
/// `CONVSTATE_ERR_UNKNOWN_CONVERSATION` and changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_send_to(
    engine: *mut convstate_engine,
    id: u64,
    request: *const convstate_send_to_request,
    out: *mut convstate_decision,
) -> convstate_result {
    let engine = || unsafe { arg_mut(engine, "engine") };
    let id = ConversationId::from_u64(id);
    unsafe { decide(engine, request, out, |h, r| h.engine.send_to(id, r)) }
}

/// `convstate_engine_check_send` to the conversation `id` names. Changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_check_send_to(
    engine: *const convstate_engine,
    id: u64,
    request: *const convstate_send_to_request,
    out: *mut convstate_decision,
) -> convstate_result {
    let engine = || unsafe { arg(engine, "engine") };
    let id = ConversationId::from_u64(id);
    unsafe { decide(engine, request, out, |h, r| h.engine.check_send_to(id, r)) }
}

/// Starts bringing the record of the conversation `id` names into the CPU's cache, for a
/// host about to call `convstate_engine_send_to` or `convstate_engine_check_send_to` with
/// it: called a few inputs ahead of the one that uses it (a host applying a batch: before
/// each input, the conversation of the input four ahead), the fetch from memory overlaps
/// the work of the inputs before it, the largest wait of a send at a million conversations.
/// A hint only: changes and decides nothing, returns nothing; a NULL or misaligned engine,
/// or an id of no conversation, is ignored (nothing in it can fail, so it records no error).
/// Does nothing on targets other than x86_64.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_prefetch(engine: *const convstate_engine, id: u64) {
    // No panic can happen here; the guard is every exported function's (DESIGN.md).
    let _ = std::panic::catch_unwind(|| {
        if let Ok(handle) = unsafe { arg(engine, "engine") } {
            handle.engine.prefetch(ConversationId::from_u64(id));
        }
    });
}

/// An `initiate` request.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_initiate_request {
    /// When, in unix ms.
    pub at_ms: i64,
    /// Sending number.
    pub number: *const c_char,
    /// Its length in bytes.
    pub number_len: usize,
    /// Recipient.
    pub contact: *const c_char,
    /// Its length in bytes.
    pub contact_len: usize,
    /// The free-form message to deliver once the contact answers (borrowed).
    pub message: *const convstate_message,
    /// A template message to open with instead of the number's default, or NULL.
    pub template_message: *const convstate_message,
    /// Idempotency key (1..=256 bytes without control characters), or NULL.
    pub idempotency_key: *const c_char,
    /// Its length in bytes.
    pub idempotency_key_len: usize,
    /// The provider's id for the opening template (1..=256 bytes without control characters), or NULL (to match its
    /// delivery statuses).
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
    /// 1: started by automation (a bot's follow-up), not by an agent: what it sends answers
    /// no contact waiting in a live chat or on an email ticket, as
    /// `convstate_send_request.automated`; 0: an agent's. Another value is
    /// `CONVSTATE_ERR_INVALID_ARGUMENT`. Changes no decision.
    pub automated: u8,
}

/// Starts a conversation: the message now if the window is open, otherwise a template now and
/// the message held until the contact answers.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_initiate(
    engine: *mut convstate_engine,
    request: *const convstate_initiate_request,
    out: *mut convstate_decision,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let r = unsafe { arg(request, "request") }?;
        let out = Out::new(out, "out")?;
        let message = unsafe { arg(r.message, "message") }?;
        let template_message = if r.template_message.is_null() {
            None
        } else {
            Some(unsafe { arg(r.template_message, "template_message") }?)
        };
        let template = match template_message {
            None => None,
            Some(m) => Some(m.message.template().cloned().ok_or_else(|| {
                convstate_core::Error::InvalidEvent {
                    problem: "template_message must be a template message".into(),
                }
            })?),
        };
        let request = InitiateRequest {
            at: instant_arg(r.at_ms, "at_ms")?,
            number: unsafe { str_arg(r.number, r.number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(r.contact, r.contact_len, "contact") }?.to_owned(),
            message: message.message.clone(),
            template,
            idempotency_key: unsafe { opt_str_arg(r.idempotency_key, r.idempotency_key_len, "idempotency_key") }?.map(str::to_owned),
            message_id: unsafe { opt_str_arg(r.message_id, r.message_id_len, "message_id") }?.map(str::to_owned),
            automated: flag_arg(r.automated, "automated")?,
        };
        let decision = handle.engine.initiate(&request)?;
        unsafe { out.write(decision_to_c(&decision)) };
        Ok(())
    }
}

/// The provider reported a failed send with `error_code` (Meta 131047 or On-Premises 470:
/// the contact is outside the window, which closes it from `at_ms` on).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_send_failed(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    error_code: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = SendFailed {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(contact, contact_len, "contact") }?.to_owned(),
            code: error_code,
        };
        handle.engine.send_failed(&event)?;
        Ok(())
    }
}

/// The provider changed a template's status (`status`: a `convstate_template_status`).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_status(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    status: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = TemplateStatusUpdate {
            pause: None,
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { str_arg(business, business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            status: status_event(template_status_from(status)?),
            until: None,
            category: None,
        };
        handle.engine.template_status(&event)?;
        Ok(())
    }
}

/// The provider reported a template event (`event`: a `convstate_template_event`, which
/// includes `UNPAUSED`, `REINSTATED`, `UNARCHIVED`, and `LOCKED` / `UNLOCKED`, which lock
/// the template against editing and unlock it). `until_ms`: for `PAUSED`, when the pause ends; for
/// `FLAGGED`, the provider's disable date; `CONVSTATE_NONE_MS` when not given (a pause
/// without end lasts until `UNPAUSED`). A report that carries a category or a pause's place
/// on the ladder goes through `convstate_engine_template_report`, which orders two reports
/// of one instant as the JSON door does.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_status_ex(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    event: u32,
    until_ms: i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = TemplateStatusUpdate {
            pause: None,
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { str_arg(business, business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            status: template_event_from(event)?,
            until: opt_instant_arg(until_ms, "until_ms")?,
            category: None,
        };
        handle.engine.template_status(&event)?;
        Ok(())
    }
}

/// A provider's report of a template's status with everything it may carry
/// (`convstate_engine_template_report`). Strings are not NUL-terminated.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_template_report {
    /// The provider's timestamp, in unix ms.
    pub at_ms: i64,
    /// Owning business.
    pub business: *const c_char,
    /// Its length in bytes.
    pub business_len: usize,
    /// Name.
    pub name: *const c_char,
    /// Its length in bytes.
    pub name_len: usize,
    /// Language code.
    pub language: *const c_char,
    /// Its length in bytes.
    pub language_len: usize,
    /// A `convstate_template_event`.
    pub event: u32,
    /// For `PAUSED`, when the pause ends; for `FLAGGED`, the provider's disable date;
    /// `CONVSTATE_NONE_MS` when not given (a pause without end lasts until `UNPAUSED`).
    pub until_ms: i64,
    /// The category the provider reports with the status (Meta's
    /// `message_template_category`), a `convstate_template_category`; 0 when not given.
    pub category: u32,
    /// For `PAUSED` on the pause ladder: which pause the provider says it is (Meta's
    /// FIRST_PAUSE is 1, SECOND_PAUSE 2); 0 when not given.
    pub pause: u32,
}

/// The provider reported a template's status, with its category and its place on the pause
/// ladder when it gives them: the JSON door's `template_status`, field for field. Prefer it to
/// `convstate_engine_template_status_ex` plus `convstate_engine_template_category`: two
/// reports of one instant are ordered by all they carry, the category and pause included, so
/// only this call orders them as the JSON and webhook doors do. As the newest pause, `pause`
/// sets the strikes counted so far (the next low rating is the strike after it); one beyond
/// the ladder is `CONVSTATE_ERR_INVALID_EVENT`, naming the ladder's length.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_report(
    engine: *mut convstate_engine,
    report: *const convstate_template_report,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let r = unsafe { arg(report, "report") }?;
        let event = TemplateStatusUpdate {
            pause: (r.pause != 0).then_some(r.pause),
            at: instant_arg(r.at_ms, "at_ms")?,
            business: unsafe { str_arg(r.business, r.business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(r.name, r.name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(r.language, r.language_len, "language") }?.to_owned(),
            status: template_event_from(r.event)?,
            until: opt_instant_arg(r.until_ms, "until_ms")?,
            category: match r.category {
                0 => None,
                code => Some(category_from(code)?),
            },
        };
        handle.engine.template_status(&event)?;
        Ok(())
    }
}

/// The provider rated a template's quality (`quality`: a `convstate_quality`). Under a policy
/// with a pause ladder (cloud-2025), a low rating pauses the template.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_quality(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    quality: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = TemplateQualityUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { str_arg(business, business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            quality: quality_from(quality)?,
        };
        handle.engine.template_quality(&event)?;
        Ok(())
    }
}

/// The provider changed a template's category (`category`: a `convstate_template_category`),
/// e.g. recategorized a utility template as marketing: sends from then on are priced and
/// consent-checked under it. A late or repeated change changes nothing. Emits
/// `CONVSTATE_EFFECT_TEMPLATE_CATEGORY_CHANGED` when the category changes.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_category(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    category: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = TemplateCategoryUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { str_arg(business, business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            category: category_from(category)?,
        };
        handle.engine.template_category(&event)?;
        Ok(())
    }
}

/// The provider reported a template's text after an edit, made here or elsewhere (Meta's
/// `message_template_components_update`): sends from then on are checked against it. `header`
/// and `footer` may be NULL (the template has none). Validated as a registration is
/// (`CONVSTATE_ERR_INVALID_TEMPLATE`); a late or repeated report changes nothing. The buttons
/// and the status are kept.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_components(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    body: *const c_char,
    body_len: usize,
    header: *const c_char,
    header_len: usize,
    footer: *const c_char,
    footer_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = TemplateComponentsUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { str_arg(business, business_len, "business") }?.to_owned(),
            name: unsafe { str_arg(name, name_len, "name") }?.to_owned(),
            language: unsafe { str_arg(language, language_len, "language") }?.to_owned(),
            body: unsafe { str_arg(body, body_len, "body") }?.to_owned(),
            header: unsafe { opt_str_arg(header, header_len, "header") }?.map(str::to_owned),
            footer: unsafe { opt_str_arg(footer, footer_len, "footer") }?.map(str::to_owned),
        };
        handle.engine.template_components(&event)?;
        Ok(())
    }
}

/// The provider rated a number's quality (`quality`: a `convstate_quality`).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_number_quality(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    quality: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = NumberQualityUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            quality: quality_from(quality)?,
        };
        handle.engine.number_quality(&event)?;
        Ok(())
    }
}

/// The provider restricted a number (`scope`: a `convstate_restriction_scope`), replacing
/// its restriction of that scope; those of the other scopes stay as they were. `until_ms`:
/// when it ends, or `CONVSTATE_NONE_MS` for the policy's default length (a bar on
/// business-initiated messages; other scopes last until lifted); `until_lifted`: 1, it
/// lasts until lifted, whatever the default (with an `until_ms`,
/// `CONVSTATE_ERR_INVALID_EVENT`), or 0 (another value is `CONVSTATE_ERR_INVALID_ARGUMENT`:
/// a byte, not a C `bool`, so that a binding that passes an int cannot pass a Rust `bool`
/// other than 0 or 1). A number of another channel than the official one is
/// `CONVSTATE_ERR_NOT_ON_CHANNEL` (restrictions are the platform's).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_number_restriction(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    scope: u32,
    until_ms: i64,
    until_lifted: u8,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = NumberRestrictionUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            scope: restriction_scope_from(scope)?,
            until: opt_instant_arg(until_ms, "until_ms")?,
            until_lifted: flag_arg(until_lifted, "until_lifted")?,
        };
        handle.engine.number_restriction(&event)?;
        Ok(())
    }
}

/// The provider lifted every restriction of a number, a ban included. Provider reports are
/// applied in the provider's order (docs/events.md): a lift older than the latest
/// restriction or lift of the number changes nothing, and one stamped the same millisecond
/// as a restriction cannot be ordered after it (webhook timestamps are whole seconds), so
/// of the two the one with the greater content fingerprint stands whatever their order:
/// `CONVSTATE_OK` either way, and `number_restriction_ended` says whether it ended one.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_restriction_lifted(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
) -> convstate_result {
    unsafe { lift_restriction(engine, at_ms, number, number_len, None) }
}

/// The provider lifted a number's restriction of one scope (a `convstate_restriction_scope`);
/// those of the other scopes stay in force. A number keeps one restriction per scope, each
/// with its own end. Ordered as `convstate_engine_restriction_lifted` is.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_restriction_scope_lifted(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    scope: u32,
) -> convstate_result {
    unsafe { lift_restriction(engine, at_ms, number, number_len, Some(scope)) }
}

/// The two lifts above: every scope (`None`), or the one a `convstate_restriction_scope`
/// code names.
unsafe fn lift_restriction(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    scope: Option<u32>,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = RestrictionLifted {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            scope: scope.map(restriction_scope_from).transpose()?,
        };
        handle.engine.restriction_lifted(&event)?;
        Ok(())
    }
}

/// The provider set the messaging limit `number` sends under: a number of unique contacts
/// that is one of the policy's levels, or `CONVSTATE_LIMIT_UNLIMITED` (-1).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_messaging_limit(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    limit: i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = MessagingLimitUpdate {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            limit: limit_level_from(limit)?,
        };
        handle.engine.messaging_limit(&event)?;
        Ok(())
    }
}

/// A delivery status for a message sent with a `message_id`, with everything
/// `convstate_engine_message_status` takes and the recipient's user id. Optional strings
/// are NULL when absent.
#[repr(C)]
#[derive(Debug)]
pub struct convstate_message_status {
    /// The provider's timestamp of the status, in unix ms.
    pub at_ms: i64,
    /// Sending number.
    pub number: *const c_char,
    /// Its length in bytes.
    pub number_len: usize,
    /// Recipient.
    pub contact: *const c_char,
    /// Its length in bytes.
    pub contact_len: usize,
    /// The id the message was sent with.
    pub message_id: *const c_char,
    /// Its length in bytes.
    pub message_id_len: usize,
    /// A `convstate_delivery_status`.
    pub status: u32,
    /// A `convstate_pricing_type`, `CONVSTATE_PRICING_NONE` when the status carries no
    /// pricing.
    pub pricing_type: u32,
    /// The provider's pricing category (`marketing`, `utility`, ...), or NULL; a category
    /// needs a pricing type.
    pub pricing_category: *const c_char,
    /// Its length in bytes.
    pub pricing_category_len: usize,
    /// The provider's error codes of a failure, or NULL when `errors_len` is 0.
    pub errors: *const u32,
    /// How many codes `errors` holds.
    pub errors_len: usize,
    /// The recipient's business-scoped user id when the provider names them by it beside
    /// the phone number in `contact`, or NULL: the two are one user, as for
    /// `convstate_inbound.user_id` (same checks), except that a status never moves a user id
    /// linked to another phone number (it may name an older pair); the two contacts then
    /// hold one consent.
    pub user_id: *const c_char,
    /// Its length in bytes.
    pub user_id_len: usize,
}

/// A delivery status for a message sent with a `message_id` (`status`: a
/// `convstate_delivery_status`). `pricing_type` is a `convstate_pricing_type`
/// (`CONVSTATE_PRICING_NONE` when the status carries no pricing) and `pricing_category` the
/// provider's category string (`marketing`, `utility`, ...) or NULL; a category needs a
/// pricing type. `errors` holds `errors_len` provider error codes of a failure (NULL when
/// `errors_len` is 0): 131047 closes the window, 131049 backs off the contact... On success
/// `*unmatched` (NULL when not needed) is set to true when no send the number recorded has
/// the `message_id` (not recorded yet, recorded under another id, or forgotten after the
/// policy's `provider.status_memory`): the status confirmed no pricing and moved no
/// delivery state, though a failure's corrections still applied to the conversation;
/// statuses that never match tell a host that records sends under ids the provider does not
/// echo. Else it is set to false. (`convstate_engine_message_status_ex` takes the
/// recipient's user id too.)
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_message_status(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    message_id: *const c_char,
    message_id_len: usize,
    status: u32,
    pricing_type: u32,
    pricing_category: *const c_char,
    pricing_category_len: usize,
    errors: *const u32,
    errors_len: usize,
    unmatched: *mut bool,
) -> convstate_result {
    let event = convstate_message_status {
        at_ms,
        number,
        number_len,
        contact,
        contact_len,
        message_id,
        message_id_len,
        status,
        pricing_type,
        pricing_category,
        pricing_category_len,
        errors,
        errors_len,
        user_id: std::ptr::null(),
        user_id_len: 0,
    };
    // SAFETY: the caller's contract for each argument is the struct's for its field.
    unsafe { convstate_engine_message_status_ex(engine, &event, unmatched) }
}

/// A delivery status, as `convstate_engine_message_status`, with the recipient's user id
/// (`convstate_message_status.user_id`): a status naming a contact by both names links
/// them (emitting `CONVSTATE_EFFECT_CONTACT_LINKED` as an inbound does) and lets a failure's
/// back-off reach the user under either name.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_message_status_ex(
    engine: *mut convstate_engine,
    status: *const convstate_message_status,
    unmatched: *mut bool,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let r = unsafe { arg(status, "status") }?;
        let unmatched = Out::optional(unmatched, "unmatched")?;
        let category = unsafe { opt_str_arg(r.pricing_category, r.pricing_category_len, "pricing_category") }?;
        let pricing = match (pricing_type_from(r.pricing_type)?, category) {
            (None, Some(_)) => {
                return Err(FfiError::new(
                    convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
                    "argument `pricing_category` is given but `pricing_type` is CONVSTATE_PRICING_NONE",
                ))
            }
            (None, None) => None,
            (Some(kind), category) => Some(ProviderPricing { kind, category: category.map(str::to_owned) }),
        };
        let errors = if r.errors_len == 0 {
            &[][..]
        } else {
            // SAFETY: valid for `errors_len` codes (the caller's contract).
            unsafe { slice_arg(r.errors, r.errors_len, "errors") }?
        };
        let event = MessageStatusUpdate {
            at: instant_arg(r.at_ms, "at_ms")?,
            number: unsafe { str_arg(r.number, r.number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(r.contact, r.contact_len, "contact") }?.to_owned(),
            user_id: unsafe { opt_str_arg(r.user_id, r.user_id_len, "user_id") }?.map(str::to_owned),
            message_id: unsafe { str_arg(r.message_id, r.message_id_len, "message_id") }?.to_owned(),
            status: delivery_status_from(r.status)?,
            pricing,
            errors: errors.to_vec(),
        };
        let outcome = handle.engine.message_status(&event)?;
        if let Some(unmatched) = unmatched {
            // SAFETY: valid for writes when non-NULL (the caller's contract).
            unsafe { unmatched.write(outcome == StatusOutcome::Unmatched) }
        }
        Ok(())
    }
}

/// A contact opted in (`opted_in` 1) or withdrew their opt-in (0; another value is
/// `CONVSTATE_ERR_INVALID_ARGUMENT`, as for `until_lifted`). Consent is held
/// per business: give `business`, or NULL and a `number` of the business (both: the number
/// must be the business's, else `CONVSTATE_ERR_INVALID_EVENT`).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_consent(
    engine: *mut convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    opted_in: u8,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let consent = Consent {
            at: instant_arg(at_ms, "at_ms")?,
            business: unsafe { opt_str_arg(business, business_len, "business") }?.map(str::to_owned),
            number: unsafe { opt_str_arg(number, number_len, "number") }?.map(str::to_owned),
            contact: unsafe { str_arg(contact, contact_len, "contact") }?.to_owned(),
        };
        if flag_arg(opted_in, "opted_in")? {
            handle.engine.opt_in(&consent)?;
        } else {
            handle.engine.opt_out(&consent)?;
        }
        Ok(())
    }
}

/// A contact stopped or resumed marketing messages (`value`: a `convstate_preference`).
/// (`convstate_engine_user_preference_ex` takes the contact's user id too.)
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_user_preference(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    value: u32,
) -> convstate_result {
    // SAFETY: the caller's contract, with no user id.
    unsafe {
        convstate_engine_user_preference_ex(
            engine,
            at_ms,
            number,
            number_len,
            contact,
            contact_len,
            std::ptr::null(),
            0,
            value,
        )
    }
}

/// A contact stopped or resumed marketing messages, as `convstate_engine_user_preference`,
/// with the user's business-scoped user id beside the phone number in `contact` (Meta's
/// `user_preferences` items name both), or NULL: the two are one user, linked as a status
/// links them (same checks as `convstate_message_status.user_id`), and the preference
/// applies under both names.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_user_preference_ex(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    user_id: *const c_char,
    user_id_len: usize,
    value: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = UserPreference {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(contact, contact_len, "contact") }?.to_owned(),
            user_id: unsafe { opt_str_arg(user_id, user_id_len, "user_id") }?.map(str::to_owned),
            value: preference_from(value)?,
        };
        handle.engine.user_preference(&event)?;
        Ok(())
    }
}

/// An agent or rule ends a live chat (`by`: a `convstate_chat_ender`); `ticket_status` is a
/// `convstate_ticket_status` to set, or `CONVSTATE_TICKET_NONE` for the default, `open` (a
/// `pending` ticket is set open, a ticket closed during the chat stays closed, as the wire's
/// `end_chat` without a `status` does).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_end_chat(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    by: u32,
    ticket_status: u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let event = EndChat {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(contact, contact_len, "contact") }?.to_owned(),
            by: chat_ender_from(by)?,
            status: ticket_status_from(ticket_status, "ticket_status")?,
        };
        handle.engine.end_chat(&event)?;
        Ok(())
    }
}

/// An agent changes a ticket's status (`status`: a `convstate_ticket_status`, not NONE).
/// `ticket` is the ticket meant (its id from `ticket_opened`), or 0 for the current one: a
/// ticket that is no longer current gives `CONVSTATE_ERR_TICKET_NOT_CURRENT` and changes
/// nothing, so a late change meant for a closed ticket never lands on its successor.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_set_ticket_status(
    engine: *mut convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    status: u32,
    ticket: u64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let status = ticket_status_from(status, "status")?
            .ok_or_else(|| FfiError::invalid_code("status", status, "CONVSTATE_TICKET_* (not NONE)"))?;
        let event = SetTicketStatus {
            at: instant_arg(at_ms, "at_ms")?,
            number: unsafe { str_arg(number, number_len, "number") }?.to_owned(),
            contact: unsafe { str_arg(contact, contact_len, "contact") }?.to_owned(),
            status,
            // Ticket ids start at 1, so 0 is free to mean "the current one".
            ticket: (ticket != 0).then_some(ticket),
        };
        handle.engine.set_ticket_status(&event)?;
        Ok(())
    }
}

/// Fires every timer due at or before `now_ms`; calling it again with the same `now_ms` does
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_handle_timeout(
    engine: *mut convstate_engine,
    now_ms: i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        handle.engine.handle_timeout(instant_arg(now_ms, "now_ms")?);
        Ok(())
    }
}

/// Writes the engine's clock (unix ms): the latest instant it has seen, from the inputs'
/// own instants (a provider's timestamps included) and `convstate_engine_handle_timeout`.
/// The views (`convstate_engine_conversation`, `convstate_engine_limit`) refuse an earlier
/// `at_ms` with `CONVSTATE_ERR_VIEW_BEFORE_CLOCK`: a host whose own clock runs behind the
/// provider's asks at the later of the two. A new engine's clock is 0.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_clock(
    engine: *const convstate_engine,
    clock_ms: *mut i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(clock_ms, "clock_ms")?;
        unsafe { out.write(handle.engine.clock().unix_millis()) };
        Ok(())
    }
}

/// Writes when `convstate_engine_handle_timeout` should be called next (unix ms), or
/// `CONVSTATE_NONE_MS` when no timer is armed. Never later than the next change a timer
/// makes, and sometimes earlier: a wake-up for a chat's idle deadline that later activity
/// moved finds nothing due and arms the real one.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_poll_timeout(
    engine: *mut convstate_engine,
    deadline_ms: *mut i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let out = Out::new(deadline_ms, "deadline_ms")?;
        let deadline = handle.engine.poll_timeout();
        unsafe { out.write(deadline.map_or(CONVSTATE_NONE_MS, |t| t.unix_millis())) };
        Ok(())
    }
}

/// Takes the oldest pending effect: writes its JSON line (the wire format, no newline, no NUL)
/// into `buffer`, its length into `*written` and its kind into `*kind`. With no effect pending,
/// `*kind` is `CONVSTATE_EFFECT_NONE` and `*written` is 0. If `capacity` is too small, returns
/// `CONVSTATE_ERR_BUFFER_TOO_SMALL` with the length needed in `*written` and the effect's kind
/// in `*kind`, and the effect stays pending (the next call returns it).
///
/// Effects wait in the engine until taken, with no cap (dropping one would lose what it
/// says), and they are part of its snapshot: a host must drain them after each call, or the
/// queue and every snapshot grow with its traffic.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_poll_effect(
    engine: *mut convstate_engine,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
    kind: *mut convstate_effect_kind,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let written = Out::new(written, "written")?;
        let kind_out = Out::new(kind, "kind")?;
        buffer_arg(buffer, capacity)?;
        let Some(effect) = handle.engine.peek_effect() else {
            unsafe {
                written.write(0);
                kind_out.write(convstate_effect_kind::CONVSTATE_EFFECT_NONE);
            }
            return Ok(());
        };
        // The kind is written first, so that a host told its buffer is too small also
        // learns what waits (and can size buffers by kind).
        unsafe { kind_out.write(effect_kind(effect)) };
        let line = convstate_core::wire::encode_effect(effect);
        // Taken from the queue only once it fits: a too-small buffer leaves it pending.
        unsafe { copy_out(line.as_bytes(), buffer, capacity, written) }?;
        handle.engine.poll_effect();
        Ok(())
    }
}

// ---- views ------------------------------------------------------------------------------

/// One conversation's state at an instant.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_conversation_view {
    /// Whether the service window is open at the view's instant (`now < window_ends_at`).
    /// A free-form send may still be refused within the safety margin before its end.
    pub window_open: bool,
    /// When the window ends or ended, or `CONVSTATE_NONE_MS` (never opened, or a channel
    /// without windows).
    pub window_ends_at_ms: i64,
    /// Whether a live chat is running.
    pub chat_live: bool,
    /// When the live chat started, or `CONVSTATE_NONE_MS`.
    pub chat_started_at_ms: i64,
    /// Last message of the live chat from either side, or `CONVSTATE_NONE_MS`.
    pub chat_last_activity_at_ms: i64,
    /// First agent reply in the live chat, or `CONVSTATE_NONE_MS`.
    pub chat_first_response_at_ms: i64,
    /// The current ticket's id, or 0 for none.
    pub ticket_id: u64,
    /// The current ticket's status, or `CONVSTATE_TICKET_NONE`.
    pub ticket_status: convstate_ticket_status,
    /// Messages held in the pending outbox.
    pub outbox_held: u32,
    /// Whether the contact opted in with this number's business.
    pub opted_in: bool,
    /// Whether marketing to the contact is barred: they stopped marketing messages, or
    /// opted out, with no resume since (nor an opt-in after the opt-out).
    pub marketing_stopped: bool,
    /// Since when the contact has waited for an agent's answer in the live chat, or
    /// `CONVSTATE_NONE_MS` (no live chat, or the agent wrote last).
    pub chat_waiting_since_ms: i64,
    /// Agent replies in the live chat that answered a waiting contact, the first included
    /// (0 without a live chat).
    pub chat_responses: u64,
    /// Their response times added up, in ms (0 without a live chat), like the number
    /// view's `response_total_ms`.
    pub chat_response_total_ms: u64,
    /// The agent's latest reply in the live chat, answering or not (a send marked
    /// `automated` is none), or `CONVSTATE_NONE_MS` (before the first response): a message
    /// the contact wrote before it, delivered late, was answered by it and starts no wait.
    pub chat_last_reply_at_ms: i64,
    /// On an email number, since when the contact has waited for an answer on the ticket
    /// (their oldest unanswered email), or `CONVSTATE_NONE_MS` (the business wrote last,
    /// the ticket was closed, or another channel: a chat's are the `chat_` fields).
    pub ticket_waiting_since_ms: i64,
    /// On an email number, the ticket's first answer, or `CONVSTATE_NONE_MS`.
    pub ticket_first_response_at_ms: i64,
    /// How long the contact had waited for it (time to first response), in ms, or
    /// `CONVSTATE_NONE_MS`.
    pub ticket_first_response_after_ms: i64,
    /// On an email number, sends that answered the contact waiting on the ticket, the first
    /// included (0 elsewhere).
    pub ticket_responses: u64,
    /// Their response times added up, in ms (0 elsewhere).
    pub ticket_response_total_ms: u64,
    /// On an email number, the business's latest reply since the contact first wrote on
    /// the ticket, answering or not (a send marked `automated` is none), or
    /// `CONVSTATE_NONE_MS` (none yet, another channel, or a ticket restored from a snapshot
    /// written before it was kept).
    pub ticket_last_reply_at_ms: i64,
}

/// Reads one conversation (changes nothing) at `at_ms`, the engine's clock or a later
/// instant: `window_open` is evaluated then; the chat and ticket are the ones the engine
/// holds now (a live chat whose idle deadline has passed by `at_ms` reads as ended). An
/// unknown contact reads as an empty conversation. The engine keeps no history, so an
/// `at_ms` before its clock is refused with `CONVSTATE_ERR_VIEW_BEFORE_CLOCK` (the message
/// names both instants).
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_conversation(
    engine: *const convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    contact: *const c_char,
    contact_len: usize,
    out: *mut convstate_conversation_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.conversation(
            unsafe { str_arg(number, number_len, "number") }?,
            unsafe { str_arg(contact, contact_len, "contact") }?,
            instant_arg(at_ms, "at_ms")?,
        )?;
        unsafe { out.write(conversation_view(&view)) };
        Ok(())
    }
}

/// The C view of a core conversation view.
pub(crate) fn conversation_view(
    view: &convstate_core::ConversationView,
) -> convstate_conversation_view {
    let ticket = view.ticket_responses;
    convstate_conversation_view {
        window_open: view.window_open,
        window_ends_at_ms: ms(view.window_ends_at),
        chat_live: view.chat.is_some(),
        chat_started_at_ms: ms(view.chat.map(|c| c.started_at)),
        chat_last_activity_at_ms: ms(view.chat.map(|c| c.last_activity_at)),
        chat_first_response_at_ms: ms(view.chat.and_then(|c| c.first_response_at)),
        ticket_id: view.ticket.map_or(0, |t| t.id),
        ticket_status: view
            .ticket
            .map_or(convstate_ticket_status::CONVSTATE_TICKET_NONE, |t| {
                ticket_status_code(t.status)
            }),
        outbox_held: view.outbox_held,
        opted_in: view.opted_in,
        marketing_stopped: view.marketing_stopped,
        chat_waiting_since_ms: ms(view.chat.and_then(|c| c.waiting_since)),
        chat_responses: view.chat.map_or(0, |c| c.responses),
        chat_response_total_ms: view.chat.map_or(0, |c| c.response_total.millis() as u64),
        chat_last_reply_at_ms: ms(view.chat.and_then(|c| c.last_reply_at)),
        ticket_waiting_since_ms: ms(ticket.and_then(|t| t.waiting_since)),
        ticket_first_response_at_ms: ms(ticket.and_then(|t| t.first_response_at)),
        ticket_first_response_after_ms: ticket
            .and_then(|t| t.first_response_after)
            .map_or(CONVSTATE_NONE_MS, |d| d.millis()),
        ticket_responses: ticket.map_or(0, |t| t.responses),
        ticket_response_total_ms: ticket.map_or(0, |t| t.response_total.millis() as u64),
        ticket_last_reply_at_ms: ms(ticket.and_then(|t| t.last_reply_at)),
    }
}

/// A number's registration and activity counters.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_number_view {
    /// Its channel.
    pub channel: convstate_channel,
    /// Effective chat idle timeout, in ms.
    pub idle_timeout_ms: i64,
    /// Inbound messages and calls.
    pub inbound: u64,
    /// Sends allowed.
    pub sends_allowed: u64,
    /// Sends denied.
    pub sends_denied: u64,
    /// Templates sent.
    pub templates_sent: u64,
    /// Chats started.
    pub chats_started: u64,
    /// Chats ended by an agent.
    pub chats_ended_by_agent: u64,
    /// Chats ended by inactivity.
    pub chats_ended_by_idle: u64,
    /// Chats ended by an automation rule.
    pub chats_ended_by_rule: u64,
    /// Chats ended by inactivity without any agent reply.
    pub chats_missed: u64,
    /// Tickets opened.
    pub tickets_opened: u64,
    /// Sum of times to first agent response in ended chats, in ms.
    pub first_response_total_ms: u64,
    /// Ended chats that had an agent response (counted when the chat ends, as `responses`).
    pub first_responses: u64,
    /// Agent replies in ended chats that answered a waiting contact, first responses
    /// included.
    pub responses: u64,
    /// Sum of their response times, in ms.
    pub response_total_ms: u64,
    /// On an email number, tickets closed while the contact waited unanswered.
    pub tickets_closed_unanswered: u64,
    /// Its quality rating.
    pub quality: convstate_quality,
    /// While the number is flagged, the deadline by which its quality must recover (else
    /// its messaging limit is lowered), or `CONVSTATE_NONE_MS`.
    pub flagged_until_ms: i64,
    /// How many of `restrictions` are in force at the view's instant (0 to
    /// `CONVSTATE_RESTRICTION_SCOPES`).
    pub restrictions_len: u32,
    /// The restrictions in force, one per scope, narrowest first (the last is the widest,
    /// the wire's `restriction`); the slots past `restrictions_len` are
    /// `CONVSTATE_RESTRICTION_NONE`.
    pub restrictions: [convstate_restriction; CONVSTATE_RESTRICTION_SCOPES],
}

/// Reads a number's registration, counters, quality, flag and restrictions as of the
/// engine's clock: `convstate_engine_number_at` at it.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_number(
    engine: *const convstate_engine,
    number: *const c_char,
    number_len: usize,
    out: *mut convstate_number_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.number(unsafe { str_arg(number, number_len, "number") }?)?;
        unsafe { out.write(number_view(&view)) };
        Ok(())
    }
}

/// Reads a number (changes nothing) at `at_ms`, the engine's clock or a later instant: the
/// flag and restrictions as they stand then (a passed deadline or restriction end shows as
/// ended, tick or not), the registration, quality and counters as of the engine's clock (a
/// chat whose idle timeout passed is counted ended once a later call fires its timer:
/// `convstate_engine_handle_timeout` at `at_ms` first for counters as of then). An `at_ms`
/// before the clock is refused with `CONVSTATE_ERR_VIEW_BEFORE_CLOCK`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_number_at(
    engine: *const convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    out: *mut convstate_number_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.number_at(
            unsafe { str_arg(number, number_len, "number") }?,
            instant_arg(at_ms, "at_ms")?,
        )?;
        unsafe { out.write(number_view(&view)) };
        Ok(())
    }
}

/// The C view of a core number view.
pub(crate) fn number_view(view: &convstate_core::NumberView) -> convstate_number_view {
    let c = &view.counters;
    let mut restrictions = [convstate_restriction::NONE; CONVSTATE_RESTRICTION_SCOPES];
    // One per scope, so they fit; `zip` stops at the slots all the same.
    for (slot, r) in restrictions.iter_mut().zip(&view.restrictions) {
        *slot = convstate_restriction {
            scope: restriction_scope_code(r.scope),
            until_ms: ms(r.until),
        };
    }
    convstate_number_view {
        channel: channel_code(view.channel),
        idle_timeout_ms: view.idle_timeout.millis(),
        inbound: c.inbound,
        sends_allowed: c.sends_allowed,
        sends_denied: c.sends_denied,
        templates_sent: c.templates_sent,
        chats_started: c.chats_started,
        chats_ended_by_agent: c.chats_ended_by_agent,
        chats_ended_by_idle: c.chats_ended_by_idle,
        chats_ended_by_rule: c.chats_ended_by_rule,
        chats_missed: c.chats_missed,
        tickets_opened: c.tickets_opened,
        first_response_total_ms: c.first_response_total_ms,
        first_responses: c.first_responses,
        responses: c.responses,
        response_total_ms: c.response_total_ms,
        tickets_closed_unanswered: c.tickets_closed_unanswered,
        quality: quality_code(view.quality),
        flagged_until_ms: ms(view.flagged_until),
        restrictions_len: view.restrictions.len().min(CONVSTATE_RESTRICTION_SCOPES) as u32,
        restrictions,
    }
}

/// A template's category, status and quality. Instants absent are `CONVSTATE_NONE_MS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_template_view {
    /// Its category.
    pub category: convstate_template_category,
    /// Its status.
    pub status: convstate_template_status,
    /// The end of a timed pause, or a flag's disable deadline.
    pub until_ms: i64,
    /// While flagged, the deadline to recover by, else it is disabled; a pause keeps the
    /// flag, so a paused template may have both, and this may come first.
    pub flagged_until_ms: i64,
    /// Its quality.
    pub quality: convstate_quality,
    /// Number of distinct body variables.
    pub variables: u32,
    /// Low-quality strikes so far (pause ladder).
    pub pause_strikes: u32,
    /// Locked against editing by the provider (`CONVSTATE_TEMPLATE_EVENT_LOCKED`, until
    /// `CONVSTATE_TEMPLATE_EVENT_UNLOCKED`): an `edit_template` line is refused; sending is
    /// judged by `status` alone.
    pub locked: bool,
}

/// Reads a template, as of the engine's clock: a pause or flag whose end is past the clock
/// shows until a call at or after that end (`convstate_engine_handle_timeout`, or any input
/// at a later instant) fires it; `convstate_engine_template_at` reads it at a later instant.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template(
    engine: *const convstate_engine,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    out: *mut convstate_template_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.template(
            unsafe { str_arg(business, business_len, "business") }?,
            unsafe { str_arg(name, name_len, "name") }?,
            unsafe { str_arg(language, language_len, "language") }?,
        )?;
        unsafe { out.write(template_view(&view)) };
        Ok(())
    }
}

/// Reads a template (changes nothing) at `at_ms`, the engine's clock or a later instant:
/// the status in force then (an ended pause shows `CONVSTATE_TEMPLATE_APPROVED`, or
/// `CONVSTATE_TEMPLATE_FLAGGED` if it kept a flag, a passed flag deadline
/// `CONVSTATE_TEMPLATE_DISABLED`, tick or not), as the wire's `query_template`. An `at_ms`
/// before the clock is refused with `CONVSTATE_ERR_VIEW_BEFORE_CLOCK`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_template_at(
    engine: *const convstate_engine,
    at_ms: i64,
    business: *const c_char,
    business_len: usize,
    name: *const c_char,
    name_len: usize,
    language: *const c_char,
    language_len: usize,
    out: *mut convstate_template_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.template_at(
            unsafe { str_arg(business, business_len, "business") }?,
            unsafe { str_arg(name, name_len, "name") }?,
            unsafe { str_arg(language, language_len, "language") }?,
            instant_arg(at_ms, "at_ms")?,
        )?;
        unsafe { out.write(template_view(&view)) };
        Ok(())
    }
}

/// The C view of a core template view.
pub(crate) fn template_view(view: &convstate_core::TemplateView) -> convstate_template_view {
    convstate_template_view {
        category: category_code(view.category),
        status: template_status_code(view.status),
        until_ms: ms(view.until),
        flagged_until_ms: ms(view.flagged_until),
        quality: quality_code(view.quality),
        variables: view.variables,
        pause_strikes: view.pause_strikes,
        locked: view.locked,
    }
}

/// A messaging limit as of an instant. Instants absent are `CONVSTATE_NONE_MS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_limit_view {
    /// Whether the number has its own limit or shares its business's.
    pub scope: convstate_limit_scope,
    /// The limit in force (unique contacts per moving window), or `CONVSTATE_LIMIT_UNLIMITED`.
    pub limit: i64,
    /// Unique contacts in the current moving window.
    pub used: u32,
    /// When a new contact next fits: when enough counted contacts have left the window, or
    /// the expected upgrade of the limit if that comes first and has room, and no provider
    /// block lasts (a `limit_reached` refusal's `next_slot_at` is the same instant).
    pub next_slot_at_ms: i64,
    /// Unique contacts over the upgrade lookback.
    pub used_in_lookback: u32,
    /// When the current level was reached.
    pub level_since_ms: i64,
    /// When a pending upgrade takes effect.
    pub upgrade_at_ms: i64,
    /// The provider reported the limit reached: no new contact before this.
    pub blocked_until_ms: i64,
}

/// Reads the messaging limit `number` sends under, as of `at_ms`: the engine's clock or a
/// later instant (an earlier one is `CONVSTATE_ERR_VIEW_BEFORE_CLOCK`, as for
/// `convstate_engine_conversation`: the engine keeps no history). A number of another
/// channel than the official one sends under no limit: `CONVSTATE_ERR_NOT_ON_CHANNEL`.
/// Changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_limit(
    engine: *const convstate_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    out: *mut convstate_limit_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let at = instant_arg(at_ms, "at_ms")?;
        let view = handle.engine.limit(unsafe { str_arg(number, number_len, "number") }?, at)?;
        unsafe { out.write(limit_view(&view)) };
        Ok(())
    }
}

/// The C view of a core limit view.
pub(crate) fn limit_view(view: &convstate_core::limits::LimitView) -> convstate_limit_view {
    convstate_limit_view {
        scope: limit_scope_code(view.scope),
        limit: limit_level_code(view.limit),
        used: view.used,
        next_slot_at_ms: ms(view.next_slot_at),
        used_in_lookback: view.used_in_lookback,
        level_since_ms: view.level_since.unix_millis(),
        upgrade_at_ms: ms(view.upgrade_at),
        blocked_until_ms: ms(view.blocked_until),
    }
}

/// Monthly usage of a number or a business. Counts are messages; `..._marketing` to
/// `..._service` are the charge categories.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct convstate_usage_view {
    /// The month, `YYYYMM` (202611).
    pub month: u32,
    /// Charged marketing templates (the engine's estimate at send time).
    pub charged_marketing: u64,
    /// Charged utility templates.
    pub charged_utility: u64,
    /// Charged authentication templates.
    pub charged_authentication: u64,
    /// Charged service messages.
    pub charged_service: u64,
    /// Free messages, all reasons together (the JSON door splits them by reason).
    pub free: u64,
    /// Service (free-form) messages sent, counted against the monthly free allowance.
    pub service_messages: u64,
    /// Marketing templates the provider confirmed as charged (status pricing).
    pub confirmed_marketing: u64,
    /// Utility templates the provider confirmed as charged.
    pub confirmed_utility: u64,
    /// Authentication templates the provider confirmed as charged.
    pub confirmed_authentication: u64,
    /// Service messages the provider confirmed as charged.
    pub confirmed_service: u64,
    /// Messages the provider confirmed as free.
    pub confirmed_free: u64,
    /// Provider pricing the engine could not classify.
    pub confirmed_unknown: u64,
    /// Messages that failed (their estimates were taken back).
    pub failed: u64,
    /// Sum of rate card prices in exact millionths of `currency`, or -1 without a rate card.
    pub cost_micros: i64,
    /// Charged messages `cost_micros` leaves out: the rate card had no price for them (their
    /// market's rates have none for the category); 0 without a rate card.
    pub unpriced: u64,
    /// The rate card's currency code, NUL-terminated; empty without a rate card.
    pub currency: [c_char; CONVSTATE_CURRENCY_CAPACITY],
    /// `free` by why each was free, indexed by `convstate_free_reason`
    /// (`free_by_reason[CONVSTATE_FREE_FREE_ENTRY_POINT]`); they add up to `free`.
    pub free_by_reason: [u64; CONVSTATE_FREE_REASONS],
}

/// Reads the monthly usage of one number (`number`, and `business` NULL) or of all numbers of
/// a business (`business`, and `number` NULL). `month` is `"YYYY-MM"`, a month of the
/// business's time zone (UTC unless a registration gave one); anything else is
/// `CONVSTATE_ERR_INVALID_ARGUMENT`. Changes nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_usage(
    engine: *const convstate_engine,
    number: *const c_char,
    number_len: usize,
    business: *const c_char,
    business_len: usize,
    month: *const c_char,
    month_len: usize,
    out: *mut convstate_usage_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let view = |query: &UsageRef| handle.engine.usage_view(query);
        unsafe { usage_call(number, number_len, business, business_len, month, month_len, out, view) }
    }
}

/// The C view of a month's usage, under a rate card in `currency` (or none).
pub(crate) fn usage_view(
    usage: &convstate_core::pricing::MonthlyUsage,
    month: u32,
    currency: Option<&str>,
) -> convstate_usage_view {
    let charged = |c| usage.charged.get(&c).copied().unwrap_or(0);
    let confirmed = |c| usage.confirmed_charged.get(&c).copied().unwrap_or(0);
    let mut free_by_reason = [0; CONVSTATE_FREE_REASONS];
    for (&why, &n) in &usage.free {
        free_by_reason[free_reason_code(why) as usize] = n;
    }
    convstate_usage_view {
        month,
        charged_marketing: charged(ChargeCategory::Marketing),
        charged_utility: charged(ChargeCategory::Utility),
        charged_authentication: charged(ChargeCategory::Authentication),
        charged_service: charged(ChargeCategory::Service),
        free: usage.free_total(),
        service_messages: usage.service_messages,
        confirmed_marketing: confirmed(ChargeCategory::Marketing),
        confirmed_utility: confirmed(ChargeCategory::Utility),
        confirmed_authentication: confirmed(ChargeCategory::Authentication),
        confirmed_service: confirmed(ChargeCategory::Service),
        confirmed_free: usage.confirmed_free,
        confirmed_unknown: usage.confirmed_unknown,
        failed: usage.failed,
        // The core gives every month a cost under a rate card (0 for an empty one), none
        // without.
        cost_micros: usage.cost.map_or(-1, |cost| cost.micros()),
        unpriced: usage.unpriced.unwrap_or(0),
        currency: currency_array(currency),
        free_by_reason,
    }
}

/// `"YYYY-MM"` as `YYYYMM`, strictly (the core's rule: four digits, a dash, two digits,
/// within 1970-01..=9999-12), refused as an argument rather than an event.
/// The body of the `_usage` calls (one engine or sharded), after the engine argument: the
/// arguments read in order (the output, the month, the number or the business: exactly
/// one), the core's view of the query (`view`: `Engine::usage_view` or the sharded one, which
/// also give the rate card's currency), converted.
///
/// # Safety
///
/// As the `_usage` calls' arguments.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn usage_call(
    number: *const c_char,
    number_len: usize,
    business: *const c_char,
    business_len: usize,
    month: *const c_char,
    month_len: usize,
    out: *mut convstate_usage_view,
    view: impl FnOnce(&UsageRef) -> Result<convstate_core::UsageView, convstate_core::Error>,
) -> Result<(), FfiError> {
    let out = Out::new(out, "out")?;
    let month_text = unsafe { str_arg(month, month_len, "month") }?;
    // C has no instant to default the month from, so it is required, and checked first as
    // its argument's error; with it named, the query's instant reads nothing.
    let query = UsageRef {
        at: convstate_core::Instant::EPOCH,
        number: None,
        business: None,
        month: Some(month_text.to_owned()),
    };
    let month = (query.month_key())
        .map_err(|error| FfiError::in_argument("month", error))?
        .unwrap_or_default(); // named: `month` was given
    let number = unsafe { opt_str_arg(number, number_len, "number") }?;
    let business = unsafe { opt_str_arg(business, business_len, "business") }?;
    if number.is_some() == business.is_some() {
        return Err(FfiError::new(
            convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
            "exactly one of the arguments `number` and `business` must be non-NULL",
        ));
    }
    let query = UsageRef {
        number: number.map(str::to_owned),
        business: business.map(str::to_owned),
        ..query
    };
    let usage = view(&query)?;
    unsafe { out.write(usage_view(&usage.usage, month, usage.currency.as_deref())) };
    Ok(())
}

/// An instant for an output struct: unix ms, or `CONVSTATE_NONE_MS`.
fn ms(at: Option<convstate_core::Instant>) -> i64 {
    at.map_or(CONVSTATE_NONE_MS, |t| t.unix_millis())
}

/// An optional instant argument: `CONVSTATE_NONE_MS` is absent.
fn opt_instant_arg(ms: i64, name: &str) -> Result<Option<convstate_core::Instant>, FfiError> {
    if ms == CONVSTATE_NONE_MS {
        return Ok(None);
    }
    instant_arg(ms, name).map(Some)
}

/// The JSON door's core: the result line and effect lines for one wire-format line, each
/// ending in `\n`, written into one buffer.
pub(crate) fn handle_line(handle: &mut convstate_engine, line: &str) -> String {
    let mut text = String::with_capacity(1024);
    handle.engine.handle_json_into(line, &mut text);
    text
}

/// The provider event that sets a status (the legacy `convstate_engine_template_status`).
fn status_event(
    status: convstate_core::TemplateStatus,
) -> convstate_core::template_lifecycle::TemplateEvent {
    use convstate_core::template_lifecycle::TemplateEvent;
    use convstate_core::TemplateStatus;
    match status {
        TemplateStatus::Pending => TemplateEvent::Pending,
        TemplateStatus::Approved => TemplateEvent::Approved,
        TemplateStatus::Rejected => TemplateEvent::Rejected,
        TemplateStatus::Flagged => TemplateEvent::Flagged,
        TemplateStatus::Paused => TemplateEvent::Paused,
        TemplateStatus::Disabled => TemplateEvent::Disabled,
        TemplateStatus::InAppeal => TemplateEvent::InAppeal,
        TemplateStatus::PendingDeletion => TemplateEvent::PendingDeletion,
        TemplateStatus::Deleted => TemplateEvent::Deleted,
        TemplateStatus::LimitExceeded => TemplateEvent::LimitExceeded,
        TemplateStatus::Archived => TemplateEvent::Archived,
    }
}
