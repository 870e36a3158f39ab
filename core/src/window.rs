//! The customer service window (RULES.md §2), as pure functions of a conversation's state.
//!
//! State kept: the latest inbound instant (max over out-of-order events) and the latest
//! instant the provider declared the window closed. The window is open at `now` iff
//!
//! ```text
//! last_inbound_at = s  and  now < end,  where end = s + length,
//!                                        or min(end, c) if the provider closed it at c ≥ s
//! ```
//!
//! so a late inbound older than the provider's close never reopens it, and a newer one does.

use serde::{Deserialize, Serialize};

use crate::policy::WindowPolicy;
use crate::time::Instant;

/// A conversation's window inputs, as snapshots write them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WindowState {
    /// The latest inbound message or call that opens windows.
    pub last_inbound_at: Option<Instant>,
    /// The latest provider "outside the window" error.
    pub provider_closed_at: Option<Instant>,
}

impl WindowState {
    /// When the window ends (or ended); `None` if it never opened.
    pub fn ends_at(&self, policy: &WindowPolicy) -> Option<Instant> {
        let opened = self.last_inbound_at?;
        let end = opened.plus(policy.length);
        Some(match self.provider_closed_at {
            Some(closed) if closed >= opened => end.min(closed),
            _ => end,
        })
    }

    /// Whether the window is open at `now`.
    pub fn is_open(&self, policy: &WindowPolicy, now: Instant) -> bool {
        self.ends_at(policy).is_some_and(|end| now < end)
    }

    /// Records an inbound message at `at`; returns whether the window's end moved.
    pub fn record_inbound(&mut self, at: Instant) -> bool {
        if self.last_inbound_at.is_some_and(|t| t >= at) {
            return false;
        }
        self.last_inbound_at = Some(at);
        true
    }

    /// Records the provider's authoritative close at `at`; returns whether anything
    /// changed (a repeated or older report changes nothing).
    pub fn record_provider_close(&mut self, at: Instant) -> bool {
        if self.provider_closed_at.is_some_and(|t| t >= at) {
            return false;
        }
        self.provider_closed_at = Some(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn policy() -> WindowPolicy {
        WindowPolicy {
            length: Duration::from_hours(24),
            safety_margin: Duration::ZERO,
            reminder_lead: None,
            reaction_opens_window: false,
            request_welcome_until: None,
        }
    }
    fn h(hours: i64) -> Instant {
        Instant::EPOCH.plus(Duration::from_hours(hours))
    }

    #[test]
    fn closes_at_exactly_24h_and_late_events_never_shorten() {
        let p = policy();
        let mut w = WindowState::default();
        assert!(!w.is_open(&p, h(0)));
        w.record_inbound(h(10));
        assert!(w.is_open(&p, h(33)));
        assert!(!w.is_open(&p, h(34)));
        assert!(
            !w.record_inbound(h(5)),
            "an older inbound does not move the end"
        );
        assert_eq!(w.ends_at(&p), Some(h(34)));
    }

    #[test]
    fn provider_close_is_authoritative_until_a_newer_inbound() {
        let p = policy();
        let mut w = WindowState::default();
        w.record_inbound(h(10));
        w.record_provider_close(h(12));
        assert!(!w.is_open(&p, h(12)));
        assert!(w.is_open(&p, h(11)));
        w.record_inbound(h(11));
        assert!(
            !w.is_open(&p, h(13)),
            "an inbound older than the close does not reopen"
        );
        w.record_inbound(h(13));
        assert!(w.is_open(&p, h(14)));
    }
}
