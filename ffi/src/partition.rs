//! Moving a business between engines or nodes: export it from one engine, import it into
//! another, remove it from the first (`Engine::export_business`, `import_business`,
//! `remove_business` in the core), or take it (export and remove in one step,
//! `take_business`) and import it. Engines and sharded engines read each other's exports.

use std::ffi::c_char;

use convstate_core::Engine;

use crate::boundary::{arg, arg_mut, bytes_arg, ffi_boundary, str_arg, Out};
use crate::codes::check_currency;
use crate::convstate_result;
use crate::engine::convstate_engine;
use crate::json::convstate_string;
use crate::sharded::{convstate_sharded_engine, with_effects};

/// Replaces `out` with one business's whole state (versioned JSON), for
/// `convstate_engine_import_business` or `convstate_sharded_engine_import_business` on
/// another engine: its numbers, templates, conversations, live chats, held messages,
/// consents, limits, usage, timers, the sent messages awaiting delivery statuses, and the
/// idempotency keys and inbound message ids of its numbers. The engine is not changed. An
/// unknown business gives `CONVSTATE_ERR_UNKNOWN_BUSINESS`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_export_business(
    engine: *const convstate_engine,
    business: *const c_char,
    business_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        out.set(&handle.engine.export_business(business)?);
        Ok(())
    }
}

/// Adds a business exported by `convstate_engine_export_business` (or the sharded one). The
/// engines must run the same policy (`CONVSTATE_ERR_INVALID_POLICY` otherwise); the business
/// must not be here yet (`CONVSTATE_ERR_INVALID_EVENT`), nor its numbers
/// (`CONVSTATE_ERR_NUMBER_OWNED_BY_OTHER`); its idempotency keys and message ids are its own
/// (a business here may use the same ones). Damaged bytes give
/// `CONVSTATE_ERR_CORRUPT_SNAPSHOT`. A refused import changes nothing. Timers that fell due
/// between the two engines' clocks fire at their own instants: poll their effects after it
/// (`convstate_engine_poll_effect`), as after any input.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_import_business(
    engine: *mut convstate_engine,
    export: *const u8,
    export_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let bytes = unsafe { bytes_arg(export, export_len, "export") }?;
        handle.engine.import_business(bytes)?;
        Ok(())
    }
}

/// Creates an engine holding only the business exported by
/// `convstate_engine_export_business` (or the sharded one), under the export's policy: the
/// first business of a new node. On success `*out` owns the new engine. Damaged bytes give
/// `CONVSTATE_ERR_CORRUPT_SNAPSHOT`, a policy whose currency does not fit the C decision
/// `CONVSTATE_ERR_INVALID_POLICY`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_from_business_export(
    export: *const u8,
    export_len: usize,
    out: *mut *mut convstate_engine,
) -> convstate_result {
    ffi_boundary! {
        let out = Out::new(out, "out")?;
        let bytes = unsafe { bytes_arg(export, export_len, "export") }?;
        let engine = Engine::from_business_export(bytes)?;
        check_currency(engine.policy())?;
        unsafe { out.write(convstate_engine::boxed(engine)) };
        Ok(())
    }
}

/// Drops a business and everything it owns, the last step of moving it (export here, import
/// there, remove here), so that its timers no longer fire here. The other businesses decide
/// exactly as before. The engine is rebuilt in memory without it (about 0.13 s at a million
/// conversations). An unknown business gives `CONVSTATE_ERR_UNKNOWN_BUSINESS` and changes
/// nothing.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_remove_business(
    engine: *mut convstate_engine,
    business: *const c_char,
    business_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        handle.engine.remove_business(business)?;
        Ok(())
    }
}

/// `convstate_engine_export_business` and `convstate_engine_remove_business` in one step:
/// replaces `out` with the business's export (the bytes the export gives) and drops the
/// business from the engine. All or nothing: on an error `out` and the engine are as they
/// were. An unknown business gives `CONVSTATE_ERR_UNKNOWN_BUSINESS`.
#[no_mangle]
pub unsafe extern "C" fn convstate_engine_take_business(
    engine: *mut convstate_engine,
    business: *const c_char,
    business_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg_mut(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        out.set(&handle.engine.take_business(business)?);
        Ok(())
    }
}

/// `convstate_engine_export_business` from the business's shard (under its lock only). To
/// move the business out while other threads call the engine, use
/// `convstate_sharded_engine_take_business`: an input applied between an export and a
/// removal is in neither.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_export_business(
    engine: *const convstate_sharded_engine,
    business: *const c_char,
    business_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        out.set(&handle.engine.export_business(business)?);
        Ok(())
    }
}

/// `convstate_engine_import_business` into the business's shard, its numbers routed there.
/// A number already routed to another shard is refused, as one engine would refuse it. It
/// holds the routing table while it runs: calls that name a number wait until it returns.
/// `effects` (NULL: dropped) receives the effects it caused, as every sharded call's: the
/// timers of the shard or of the business that fell due between the two engines' clocks,
/// fired at their own instants.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_import_business(
    engine: *const convstate_sharded_engine,
    export: *const u8,
    export_len: usize,
    effects: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        unsafe {
            with_effects(effects, |caused| {
                let handle = arg(engine, "engine")?;
                let bytes = bytes_arg(export, export_len, "export")?;
                Ok(handle.engine.import_business(bytes, caused)?)
            })
        }
    }
}

/// `convstate_engine_remove_business` in the business's shard, its numbers no longer routed.
/// Like an import, it holds the routing table while it runs: calls that name a number (on
/// any shard) wait until it returns; `tick` and calls naming a business go on. To move a
/// business out while other threads call the engine, `convstate_sharded_engine_take_business`
/// exports and removes it in one step.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_remove_business(
    engine: *const convstate_sharded_engine,
    business: *const c_char,
    business_len: usize,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        handle.engine.remove_business(business)?;
        Ok(())
    }
}

/// `convstate_engine_take_business` on a sharded engine: the export and the removal under one
/// hold of the routing table and the business's shard, so that every input another thread
/// applies to the business is either in the export or, applied after it, refused as an
/// unknown number or business (with an export and a removal as two calls, one applied
/// between them would be in neither; a registration naming the business creates it anew:
/// route those to its new node). Calls that name a number wait while it runs, as for
/// `convstate_sharded_engine_remove_business`. All or nothing: on an error `out` and the
/// engine are as they were. An unknown business gives `CONVSTATE_ERR_UNKNOWN_BUSINESS`.
#[no_mangle]
pub unsafe extern "C" fn convstate_sharded_engine_take_business(
    engine: *const convstate_sharded_engine,
    business: *const c_char,
    business_len: usize,
    out: *mut convstate_string,
) -> convstate_result {
    ffi_boundary! {
        let handle = unsafe { arg(engine, "engine") }?;
        let business = unsafe { str_arg(business, business_len, "business") }?;
        let out = unsafe { arg_mut(out, "out") }?;
        out.set(&handle.engine.take_business(business)?);
        Ok(())
    }
}
