//! The thread-safe engine: the core's `ShardedEngine` behind a handle that threads share.
//!
//! Every function takes the handle as `const`: the core locks the one shard (by business) an
//! input belongs to, so threads feeding different businesses run in parallel. There is no
//! shared effect queue: each call writes the effects it caused into the calling thread's
//! string, one wire-format line each. Those are its input's effects and the effects of the
//! timers its instant fired in that shard, which may belong to other businesses of the shard.

use std::ffi::c_char;
use std::sync::Arc;

use parking_lot::RwLock;

use convstate_core::event::UsageRef;
use convstate_core::sharded::{ShardedEngine, MAX_SHARDS};
use convstate_core::webhook::WebhookReader;
use convstate_core::{Decision, Effect, InboundOutcome};

use crate::boundary::{
    arg, arg_mut, bytes_arg, ffi_boundary, free_handle, instant_arg, opt_arg_mut, str_arg,
    FfiError, Out,
};
use crate::codes::{check_currency, convstate_decision, decision_to_c, CONVSTATE_NONE_MS};
use crate::convstate_result;
use crate::engine::{
    conversation_view, convstate_conversation_view, convstate_inbound, convstate_limit_view,
    convstate_number_view, convstate_send_request, convstate_template_view, convstate_usage_view,
    inbound_ref, limit_view, number_view, policy_arg, send_request, template_view, usage_call,
};
use crate::json::{convstate_string, snapshot_into, webhook_door};

/// N engines sharded by business, safe to share between threads (see the header's THREADS
/// section). Create with `convstate_sharded_engine_new` or `convstate_sharded_engine_restore`,
/// free with `convstate_sharded_engine_free` once no thread uses it.
#[derive(Debug)]
pub struct convstate_sharded_engine {
    pub(crate) engine: ShardedEngine,
    /// As `convstate_engine`'s: the WABA ids `convstate_sharded_engine_map_waba` mapped.
    /// Threads share the handle, so a body is read with the reader as it was when its call
    /// began (an `Arc` taken under the lock, which is not held while the body is applied: a
    /// mapping waiting for the lock would stall every webhook behind the slowest body).
    pub(crate) webhook_reader: RwLock<Arc<WebhookReader>>,
}

impl convstate_sharded_engine {
    fn boxed(engine: ShardedEngine) -> *mut convstate_sharded_engine {
        Box::into_raw(Box::new(convstate_sharded_engine {
            engine,
            webhook_reader: RwLock::new(Arc::new(WebhookReader::new())),
        }))
    }
}

/// Creates a sharded engine of `shards` engines (1 to 4096; about one per calling thread is a
/// good start) under a policy preset with optional JSON overrides, as `convstate_engine_new`.
/// Each business lives whole in one shard, so business-wide limits stay exact. Like one
/// engine, each shard expects its inputs in time order (a later-stamped input already applied
/// moves the shard's clock, and an earlier one is then applied at that clock): feed each
/// shard from one thread (`convstate_sharded_engine_shard_of_business`), or keep the threads
/// of one shard in step. On success `*out` owns the new engine: free it with
/// `convstate_sharded_engine_free`.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_new(
    preset: *const c_char,
    preset_len: usize,
    overrides_json: *const c_char,
    overrides_json_len: usize,
    shards: u32,
    out: *mut *mut convstate_sharded_engine,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        if !(1..=MAX_SHARDS).contains(&(shards as usize)) {
            return Err(FfiError::new(
                convstate_result::CONVSTATE_ERR_INVALID_ARGUMENT,
                format!("argument `shards` is {shards}, not 1..={MAX_SHARDS}"),
            ));
        }
        let policy = unsafe { policy_arg(preset, preset_len, overrides_json, overrides_json_len) }?;
        let engine = ShardedEngine::new(policy, shards as usize)?;
        unsafe { out.write(convstate_sharded_engine::boxed(engine)) };
        Ok(())
    }
}

/// Frees a sharded engine. NULL is a no-op. No thread may use the handle afterwards.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_free(engine: *mut convstate_sharded_engine) {
    unsafe { free_handle(engine) }
}

/// Replaces `out` (the calling thread's) with the whole state of every shard (a header line,
/// then one snapshot line per shard), for `convstate_sharded_engine_restore`. Written into a
/// library-owned string rather than a caller buffer, so that inputs other threads apply
/// meanwhile cannot change the size between asking and copying. Each shard is written under
/// its own lock, one after the other: under traffic the shards are taken at different
/// moments, each business whole. Registrations, imports and removals wait until it is
/// written, so that no number or provider id is written in two shards (a restore refuses it).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_snapshot(
    engine: *const convstate_sharded_engine,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        unsafe { snapshot_into(out, || handle.engine.snapshot()) }
    }
}

/// Creates a sharded engine from bytes written by `convstate_sharded_engine_snapshot`, with
/// as many shards as it had. On success `*out` owns the new engine: free it with
/// `convstate_sharded_engine_free`. Damaged, reordered or inconsistent bytes give
/// `CONVSTATE_ERR_CORRUPT_SNAPSHOT`, a shard of another snapshot version
/// `CONVSTATE_ERR_UNSUPPORTED_SNAPSHOT_VERSION`, a policy whose currency does not fit the C
/// structs `CONVSTATE_ERR_INVALID_POLICY`; `*out` is then left as it was.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_restore(
    snapshot: *const u8,
    snapshot_len: usize,
    out: *mut *mut convstate_sharded_engine,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let bytes = unsafe { bytes_arg(snapshot, snapshot_len, "snapshot") }?;
        let engine = ShardedEngine::restore(bytes)?;
        // Every shard runs one policy (restore checks it): shard 0's stands for all.
        engine
            .with_shard(0, |shard| check_currency(shard.policy()))
            .unwrap_or(Ok(()))?;
        unsafe { out.write(convstate_sharded_engine::boxed(engine)) };
        Ok(())
    }
}

/// Runs `call` and then replaces `effects` (NULL: dropped) with the effects it caused,
/// whether it succeeded or failed, and at whichever step: a refused input changes nothing,
/// but the timers its instant fired did, and an argument refused before the engine ran
/// leaves the string empty. A host that acts on the string whatever the result never sees
/// an earlier call's effects again.
///
/// A misaligned `effects` is refused before the engine runs: afterwards the call would have
/// changed the engine with no way to hand back its effects.
pub(crate) unsafe fn with_effects(
    effects: *mut convstate_string,
    call: impl FnOnce(&mut Vec<Effect>) -> Result<(), FfiError>,
) -> Result<(), FfiError> {
    // SAFETY: NULL or a live string of the calling thread (the caller's contract).
    let mut effects = unsafe { opt_arg_mut(effects, "effects") }?;
    // Emptied first: should `call` panic (a bug, caught at the boundary), the host acting on
    // the string whatever the result must not see the previous call's effects again.
    if let Some(effects) = effects.as_deref_mut() {
        effects.set(b"");
    }
    let mut caused = Vec::new();
    let result = call(&mut caused);
    write_effects(&caused, effects);
    result
}

/// Writes `effects` into `out` as wire-format lines, each ending in `\n`; nothing when `out`
/// is `None` (the caller does not want them).
fn write_effects(effects: &[Effect], out: Option<&mut convstate_string>) {
    let Some(out) = out else {
        return;
    };
    let mut text = String::with_capacity(256 * effects.len());
    for effect in effects {
        convstate_core::wire::encode_effect_into(effect, &mut text);
        text.push('\n');
    }
    out.set(text.as_bytes());
}

/// As `convstate_engine_handle_json`, in the shard the input belongs to (a `tick` reaches
/// every shard, and its effects come in time order across them; of one instant, shard by
/// shard): replaces
/// `out` with the result line and then one line per effect the call caused (see
/// `convstate_sharded_engine_new` for whose). `out` belongs to the calling thread.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_handle_json(
    engine: *const convstate_sharded_engine,
    line: *const c_char,
    line_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let line = unsafe { str_arg(line, line_len, "line") }?;
        // Checked before the engine runs, so a NULL `out` never loses the output.
        unsafe { arg(out, "out") }?;
        let mut text = String::with_capacity(1024);
        handle.engine.handle_json_into(line, &mut text);
        unsafe { arg_mut(out, "out") }?.set(text.as_bytes());
        Ok(())
    }
}

/// As `convstate_engine_handle_webhook`, for a sharded engine that threads share: replaces
/// `out` with one line per item of the Meta webhook body, each followed by the lines of the
/// effects it caused in its shard (see `convstate_sharded_engine_new` for whose). The body is
/// read against the shards (a number found by its `phone_number_id` in whichever shard holds
/// it; a WABA's business as `convstate_engine_handle_webhook` finds it, across the shards),
/// then each item is applied in its shard, as `convstate_sharded_engine_handle_json` applies
/// an input, one shard's lock at a time. Fed the same bodies in the same order, each shard's
/// in time order (see `convstate_sharded_engine_new`), it writes what one engine's door
/// writes. `out` belongs to the calling thread.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_handle_webhook(
    engine: *const convstate_sharded_engine,
    at_ms: i64,
    body: *const u8,
    body_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        unsafe {
            webhook_door(at_ms, body, body_len, out, |body, at| {
                let reader = Arc::clone(&handle.webhook_reader.read());
                reader.handle_json_sharded(&handle.engine, body, at)
            })
        }
    }
}

/// As `convstate_engine_map_waba`, for this sharded handle's
/// `convstate_sharded_engine_handle_webhook` (a business is found across the shards). Safe to
/// call while other threads feed webhooks: each body is read under the mapping as it was when
/// its call began.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_map_waba(
    engine: *const convstate_sharded_engine,
    waba_id: *const c_char,
    waba_id_len: usize,
    business: *const c_char,
    business_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let waba_id = unsafe { str_arg(waba_id, waba_id_len, "waba_id") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let mut reader = handle.webhook_reader.write();
        Ok(Arc::make_mut(&mut reader).map_business(waba_id, business)?)
    }
}

/// As `convstate_engine_inbound_ex` (`redelivered` too), in the number's shard. `effects`
/// (NULL to drop them) is replaced with the effects the call caused, one wire-format line
/// each, even when the call fails (see `convstate_sharded_engine_new` for whose effects they
/// are).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_inbound(
    engine: *const convstate_sharded_engine,
    inbound: *const convstate_inbound,
    redelivered: *mut bool,
    effects: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        unsafe {
            with_effects(effects, |caused| {
                let handle = arg(engine, "engine")?;
                let event = inbound_ref(arg(inbound, "inbound")?)?;
                let redelivered = Out::optional(redelivered, "redelivered")?;
                let outcome = handle.engine.inbound_borrowed(event, caused)?;
                if let Some(redelivered) = redelivered {
                    // SAFETY: valid for writes when non-NULL (the caller's contract).
                    redelivered.write(outcome == InboundOutcome::Redelivered);
                }
                Ok(())
            })
        }
    }
}

/// A decision through `act`, written into `out` once the call succeeded; `effects` (NULL
/// for none) as [`with_effects`] writes them.
unsafe fn decide(
    engine: *const convstate_sharded_engine,
    request: *const convstate_send_request,
    out: *mut convstate_decision,
    effects: *mut convstate_string,
    act: impl FnOnce(
        &ShardedEngine,
        convstate_core::SendRequestRef<'_>,
        &mut Vec<Effect>,
    ) -> Result<Decision, convstate_core::Error>,
) -> convstate_result {
    ffi_boundary! {
        unsafe {
            with_effects(effects, |caused| {
                let handle = arg(engine, "engine")?;
                let request = send_request(arg(request, "request")?)?;
                let out = Out::new(out, "out")?;
                let decision = act(&handle.engine, request, caused)?;
                out.write(decision_to_c(&decision));
                Ok(())
            })
        }
    }
}

/// As `convstate_engine_send`, in the number's shard: decides a send **and records it**.
/// `effects` (NULL to drop them) is replaced with the effects the call caused, even when it
/// fails (`*out` is written only on success).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_send(
    engine: *const convstate_sharded_engine,
    request: *const convstate_send_request,
    out: *mut convstate_decision,
    effects: *mut convstate_string,
) -> convstate_result {
    unsafe {
        decide(engine, request, out, effects, |sharded, request, caused| {
            sharded.send_borrowed(request, caused)
        })
    }
}

/// As `convstate_engine_check_send`, in the number's shard (records nothing).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_check_send(
    engine: *const convstate_sharded_engine,
    request: *const convstate_send_request,
    out: *mut convstate_decision,
) -> convstate_result {
    unsafe {
        decide(
            engine,
            request,
            out,
            std::ptr::null_mut(),
            |sharded, request, _| sharded.check_send_borrowed(request),
        )
    }
}

/// Fires every timer due at or before `now_ms` in every shard. `effects` (NULL to drop them)
/// is replaced with the effects the timers caused, in time order across the shards (effects
/// of one instant shard by shard, the lower shard's first, where one engine orders them by
/// timer kind), emptied when the call fails.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_handle_timeout(
    engine: *const convstate_sharded_engine,
    now_ms: i64,
    effects: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        unsafe {
            with_effects(effects, |caused| {
                let handle = arg(engine, "engine")?;
                handle.engine.handle_timeout(instant_arg(now_ms, "now_ms")?, caused);
                Ok(())
            })
        }
    }
}

/// Writes how many shards the engine has (as created, or as the restored snapshot had).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_shard_count(
    engine: *const convstate_sharded_engine,
    count: *mut u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(count, "count")?;
        unsafe { out.write(handle.engine.shard_count() as u32) };
        Ok(())
    }
}

/// Writes the shard `business` lives in (0 to `shards - 1`, a stable hash of its name, the
/// same in every process with as many shards), so that a host can feed each shard's
/// businesses from one thread.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_shard_of_business(
    engine: *const convstate_sharded_engine,
    business: *const c_char,
    business_len: usize,
    shard: *mut u32,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let out = Out::new(shard, "shard")?;
        unsafe { out.write(handle.engine.shard_of_business(business) as u32) };
        Ok(())
    }
}

// ---- views ------------------------------------------------------------------------------
//
// As the single engine's, each in the shard that holds what it reads (under that shard's
// lock, taken for the read alone). Each shard has its own clock, at or before
// `convstate_sharded_engine_clock` when that is read; another thread may move it on before
// a view at that instant runs.

/// Writes the latest clock of the shards (unix ms). A view asked at it is refused with
/// `CONVSTATE_ERR_VIEW_BEFORE_CLOCK` only if another thread moved the view's shard past it
/// meanwhile: ask again at a fresh clock (`convstate_sharded_engine_number` and
/// `convstate_sharded_engine_template` read at their shard's own clock, never refused).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_clock(
    engine: *const convstate_sharded_engine,
    clock_ms: *mut i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(clock_ms, "clock_ms")?;
        unsafe { out.write(handle.engine.clock().unix_millis()) };
        Ok(())
    }
}

/// As `convstate_engine_conversation`, in the number's shard: refused with
/// `CONVSTATE_ERR_VIEW_BEFORE_CLOCK` before that shard's clock (see
/// `convstate_sharded_engine_clock`).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_conversation(
    engine: *const convstate_sharded_engine,
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

/// As `convstate_engine_number`, in the number's shard: as of that shard's clock (read under
/// its lock, so never refused for being before it).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_number(
    engine: *const convstate_sharded_engine,
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

/// As `convstate_engine_number_at`, in the number's shard: the counters are as of that
/// shard's clock (`convstate_sharded_engine_handle_timeout` at `at_ms` first for counters as
/// of then).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_number_at(
    engine: *const convstate_sharded_engine,
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

/// As `convstate_engine_limit`, in the number's shard.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_limit(
    engine: *const convstate_sharded_engine,
    at_ms: i64,
    number: *const c_char,
    number_len: usize,
    out: *mut convstate_limit_view,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(out, "out")?;
        let view = handle.engine.limit(
            unsafe { str_arg(number, number_len, "number") }?,
            instant_arg(at_ms, "at_ms")?,
        )?;
        unsafe { out.write(limit_view(&view)) };
        Ok(())
    }
}

/// As `convstate_engine_template`, in the business's shard: as of that shard's clock (read
/// under its lock, so never refused for being before it).
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_template(
    engine: *const convstate_sharded_engine,
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

/// As `convstate_engine_template_at`, in the business's shard.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_template_at(
    engine: *const convstate_sharded_engine,
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

/// As `convstate_engine_usage`, in the shard of the number or business.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_usage(
    engine: *const convstate_sharded_engine,
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

/// Writes when `convstate_sharded_engine_handle_timeout` should be called next (unix ms, the
/// earliest over the shards), or `CONVSTATE_NONE_MS` when no timer is armed.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_poll_timeout(
    engine: *const convstate_sharded_engine,
    deadline_ms: *mut i64,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let out = Out::new(deadline_ms, "deadline_ms")?;
        let deadline = handle.engine.poll_timeout();
        unsafe { out.write(deadline.map_or(CONVSTATE_NONE_MS, |t| t.unix_millis())) };
        Ok(())
    }
}
