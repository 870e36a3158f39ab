//! Counters that stop at their largest value instead of wrapping to zero.
//!
//! Counters (sends, chats, tickets, monthly usage) only grow, one event at a time, so no
//! real traffic takes a `u64` to its end. A snapshot edited and sealed again may start one
//! there, though; it then stays at the top rather than reading 0, or panicking in a debug
//! build, and the state saved afterwards restores.

/// Adds `by` to `counter`, saturating.
#[inline]
pub(crate) fn tally(counter: &mut u64, by: u64) {
    *counter = counter.saturating_add(by);
}
