//! Keys of the tables that forget ([`crate::expiring::ExpiringMap`]), each held under its
//! scope so that the same text from two owners is two keys:
//!
//! - idempotency keys under their business (a host serving several businesses may number
//!   them per business, "msg-1" in each; as across the shards of a sharded engine, and
//!   before and after a business moves);
//! - provider message ids of sends under their number (providers other than Meta number
//!   messages per bot or account, and a status naming another number is not about a
//!   message that number did not send);
//! - inbound message ids under their number and their sender as the provider named it
//!   (Telegram numbers messages per chat; the name as given, not the contact a link makes
//!   of it, which may move, while a redelivery names the sender as the first delivery did).
//!
//! A scope is written before the key in fixed-width hex; snapshots and exports write the
//! key as given, with its scope beside it. Lookups build the scoped key on the stack.

use std::io::Write;

use crate::address::AddressKey;
use crate::engine::MAX_ID_BYTES;

/// How many bytes of a scoped key name its scope: an index in eight hex digits.
const SCOPE_DIGITS: usize = 8;

/// The scope of keys restored from a snapshot older than version 4, which did not record
/// their number: they belong to no business, and answer a retry from any (as before).
const NO_BUSINESS: u32 = u32::MAX;

/// How many bytes of an inbound id's key name its scope: the number's index in eight hex
/// digits and the sender's key in sixteen (dashes for one held under no scope).
const INBOUND_SCOPE_BYTES: usize = 24;

/// The host's `key` held under `scope` (a business for idempotency keys, `None` for one
/// restored without a number; a number for provider message ids), as the engine's tables
/// hold it.
pub(crate) fn scoped_key(scope: Option<u32>, key: &str) -> String {
    owned(SCOPE_DIGITS + key.len(), |buf| {
        write_scoped(buf, scope, key)
    })
}

/// Calls `f` with [`scoped_key`]`(scope, key)`, built on the stack.
pub(crate) fn with_scoped_key<R>(scope: Option<u32>, key: &str, f: impl FnOnce(&str) -> R) -> R {
    on_stack(
        SCOPE_DIGITS + key.len(),
        |buf| write_scoped(buf, scope, key),
        f,
    )
}

/// The host's key of a key [`scoped_key`] made (what snapshots and exports write).
pub(crate) fn host_key(scoped: &str) -> &str {
    &scoped[SCOPE_DIGITS..]
}

/// An inbound message id as the engine holds it: under its number and sender (`None`:
/// restored without them, saved before they were kept; it matches any sender).
pub(crate) fn inbound_key(scope: Option<(u32, AddressKey)>, id: &str) -> String {
    owned(INBOUND_SCOPE_BYTES + id.len(), |buf| {
        write_inbound(buf, scope, id)
    })
}

/// Calls `f` with [`inbound_key`]`(scope, id)`, built on the stack.
pub(crate) fn with_inbound_key<R>(
    scope: Option<(u32, AddressKey)>,
    id: &str,
    f: impl FnOnce(&str) -> R,
) -> R {
    on_stack(
        INBOUND_SCOPE_BYTES + id.len(),
        |buf| write_inbound(buf, scope, id),
        f,
    )
}

/// The id and sender of a key [`inbound_key`] made (`None`: held under no scope).
pub(crate) fn inbound_key_parts(key: &str) -> (&str, Option<AddressKey>) {
    let (scope, id) = key.split_at(INBOUND_SCOPE_BYTES);
    let sender = u64::from_str_radix(&scope[SCOPE_DIGITS..], 16)
        .ok()
        .map(AddressKey);
    (id, sender)
}

fn write_scoped(mut buf: &mut [u8], scope: Option<u32>, key: &str) {
    let scope = scope.unwrap_or(NO_BUSINESS);
    write!(buf, "{scope:0width$x}{key}", width = SCOPE_DIGITS)
        .expect("the buffer holds the scope and the key");
}

fn write_inbound(mut buf: &mut [u8], scope: Option<(u32, AddressKey)>, id: &str) {
    match scope {
        Some((number, sender)) => write!(buf, "{number:08x}{:016x}{id}", sender.0),
        None => write!(buf, "{:-<INBOUND_SCOPE_BYTES$}{id}", ""),
    }
    .expect("the buffer holds the scope and the id");
}

/// A key of `len` bytes that `write` fills, as a `String`.
fn owned(len: usize, write: impl FnOnce(&mut [u8])) -> String {
    let mut buf = vec![0; len];
    write(&mut buf);
    String::from_utf8(buf).expect("hex digits and a str")
}

/// Calls `f` with a key of `len` bytes that `write` fills, built on the stack: a lookup
/// allocates nothing (keys and ids are at most [`MAX_ID_BYTES`] bytes; a longer one is
/// built on the heap).
fn on_stack<R>(len: usize, write: impl FnOnce(&mut [u8]), f: impl FnOnce(&str) -> R) -> R {
    let mut stack = [0u8; INBOUND_SCOPE_BYTES + MAX_ID_BYTES];
    let Some(buf) = stack.get_mut(..len) else {
        return f(&owned(len, write));
    };
    write(buf);
    f(std::str::from_utf8(buf).expect("hex digits and a str"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_keys_read_back_and_are_the_same_on_the_stack() {
        let long = "k".repeat(MAX_ID_BYTES + 10);
        for key in ["msg-1", long.as_str()] {
            for scope in [Some(3), None] {
                let scoped = scoped_key(scope, key);
                assert_eq!(host_key(&scoped), key);
                with_scoped_key(scope, key, |k| assert_eq!(k, scoped));
            }
            for scope in [Some((7, AddressKey(79110000001))), None] {
                let held = inbound_key(scope, key);
                assert_eq!(inbound_key_parts(&held), (key, scope.map(|(_, s)| s)));
                with_inbound_key(scope, key, |k| assert_eq!(k, held));
            }
        }
        assert_ne!(scoped_key(Some(1), "a"), scoped_key(Some(2), "a"));
        assert_ne!(
            inbound_key(Some((1, AddressKey(5))), "a"),
            inbound_key(Some((1, AddressKey(6))), "a")
        );
    }
}
