//! The latest reports of one kind about a number or template, by their instants, whatever
//! order the provider's webhooks delivered them in (§13): a report delivered late is
//! judged by the reports beside it in order. Quality ratings (a late low between a rating
//! that was not low and a recovery flagged in order until that recovery) and a template's
//! status reports (a late low followed in order by nothing but pauses and their ends
//! flagged the template, and the pauses kept the flag).

use serde::{Deserialize, Serialize};

use crate::template::Quality;
use crate::template_lifecycle::TemplateEvent;
use crate::time::Instant;

/// How many reports are kept: a bound on what one number or template holds, not a rule; a
/// report older than all of them is judged as before they were kept.
pub(crate) const REPORTS_KEPT_BY_INSTANT: usize = 8;

/// A number's or template's latest quality ratings.
pub(crate) type RecentRatings = LatestByInstant<Quality>;

/// A template's latest provider status reports (locks aside, which are no status).
pub(crate) type RecentReports = LatestByInstant<TemplateEvent>;

/// The reports beside an instant in order (see [`LatestByInstant::beside`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Beside<T> {
    /// What the latest report before it said, if any.
    pub before: Option<T>,
    /// The earliest report after it, if any: its instant and what it said.
    pub after: Option<(Instant, T)>,
}

/// The latest reports, in the order of their instants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct LatestByInstant<T>(Vec<(Instant, T)>);

// By hand: derived, it would ask the reports' type for a default it does not need.
impl<T> Default for LatestByInstant<T> {
    fn default() -> Self {
        LatestByInstant(Vec::new())
    }
}

impl<T: Copy + PartialEq> LatestByInstant<T> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the report `what` of instant `at` in its place, the oldest going beyond
    /// [`REPORTS_KEPT_BY_INSTANT`] (one older than all of them, then, is not kept). The same
    /// report again is kept once.
    pub fn note(&mut self, at: Instant, what: T) {
        if self.0.contains(&(at, what)) {
            return;
        }
        let i = self.0.partition_point(|&(kept, _)| kept <= at);
        self.0.insert(i, (at, what));
        if self.0.len() > REPORTS_KEPT_BY_INSTANT {
            self.0.remove(0);
        }
    }

    /// The reports just before and just after instant `at`, when those kept tell them: not
    /// when another report of that instant is kept (which came first is not known), nor
    /// when `at` is older than every report of a full list (the one before was let go).
    pub fn beside(&self, at: Instant) -> Option<Beside<T>> {
        let i = self.0.partition_point(|&(kept, _)| kept < at);
        if self.0.get(i).is_some_and(|&(kept, _)| kept == at) {
            return None;
        }
        if i == 0 && self.0.len() >= REPORTS_KEPT_BY_INSTANT {
            return None;
        }
        Some(Beside {
            before: i.checked_sub(1).map(|j| self.0[j].1),
            after: self.0.get(i).copied(),
        })
    }

    /// The reports after instant `at`, in order: all of them when
    /// [`LatestByInstant::beside`] tells the reports beside `at` (none let go was later).
    pub fn after(&self, at: Instant) -> &[(Instant, T)] {
        &self.0[self.0.partition_point(|&(kept, _)| kept <= at)..]
    }

    /// The reports before instant `at`, in order, and whether some older were let go.
    pub fn before(&self, at: Instant) -> (&[(Instant, T)], bool) {
        let i = self.0.partition_point(|&(kept, _)| kept < at);
        (&self.0[..i], self.0.len() >= REPORTS_KEPT_BY_INSTANT)
    }

    /// Whether `what` is the only report of instant `at` kept.
    pub fn only_one_at(&self, at: Instant, what: T) -> bool {
        let (before, after) = (self.before(at).0.len(), self.after(at).len());
        self.0[before..self.0.len() - after] == [(at, what)]
    }

    /// The instant of the latest report kept.
    pub fn latest_at(&self) -> Option<Instant> {
        self.0.last().map(|&(at, _)| at)
    }

    /// Kept as the engine keeps them: in order, at most [`REPORTS_KEPT_BY_INSTANT`], none
    /// after the state's clock. `what` names them in the error.
    pub fn check_saved(&self, clock: Instant, what: &str) -> Result<(), String> {
        let in_order = self.0.windows(2).all(|w| w[0].0 <= w[1].0);
        let late = self.0.last().is_some_and(|&(at, _)| at > clock);
        if !in_order || late || self.0.len() > REPORTS_KEPT_BY_INSTANT {
            return Err(format!(
                "has {what} not in order, more than {REPORTS_KEPT_BY_INSTANT}, or after the \
                 state's clock {clock}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> Instant {
        Instant::from_unix_millis(hour * 3_600_000).unwrap()
    }

    #[test]
    fn tells_the_reports_beside_an_instant_in_order_of_instants() {
        let mut kept = RecentRatings::default();
        let beside = |before, after| Some(Beside { before, after });
        assert_eq!(kept.beside(at(5)), beside(None, None));
        kept.note(at(10), Quality::Medium);
        kept.note(at(2), Quality::High);
        kept.note(at(2), Quality::High);
        assert_eq!(kept.0.len(), 2, "the same report again is kept once");
        assert_eq!(
            kept.beside(at(5)),
            beside(Some(Quality::High), Some((at(10), Quality::Medium)))
        );
        assert_eq!(
            kept.beside(at(1)),
            beside(None, Some((at(2), Quality::High)))
        );
        assert_eq!(kept.beside(at(11)), beside(Some(Quality::Medium), None));
        let (high, medium) = ((at(2), Quality::High), (at(10), Quality::Medium));
        assert_eq!(kept.after(at(1)), [high, medium]);
        assert_eq!(kept.after(at(2)), [medium]);
        assert_eq!(kept.after(at(10)), []);
        assert_eq!(kept.latest_at(), Some(at(10)));
        assert!(kept.only_one_at(at(10), Quality::Medium));
        kept.note(at(10), Quality::Low);
        assert!(
            !kept.only_one_at(at(10), Quality::Medium),
            "another of that instant"
        );
        assert_eq!(kept.before(at(10)), (&[high][..], false));
        assert_eq!(kept.before(at(2)), (&[][..], false));
        // Another rating of that instant: which came first is not known.
        assert_eq!(kept.beside(at(10)), None);
        assert_eq!(kept.check_saved(at(10), "ratings"), Ok(()));
        assert!(kept.check_saved(at(9), "ratings").is_err());
    }

    #[test]
    fn keeps_the_latest_and_knows_nothing_before_them() {
        let mut kept = RecentReports::default();
        for hour in (0..REPORTS_KEPT_BY_INSTANT as i64 + 3).rev() {
            kept.note(at(hour * 2), TemplateEvent::Paused);
        }
        // The newest were noted first; each older one went in and then out again.
        assert_eq!(kept.0.len(), REPORTS_KEPT_BY_INSTANT);
        assert_eq!(kept.0[0].0, at(6));
        assert_eq!(kept.beside(at(5)), None);
        assert!(kept.before(at(7)).1, "older reports were let go");
        assert_eq!(
            kept.beside(at(7)),
            Some(Beside {
                before: Some(TemplateEvent::Paused),
                after: Some((at(8), TemplateEvent::Paused)),
            })
        );
        let mut unordered = kept.clone();
        unordered.0.swap(0, 1);
        let problem = unordered
            .check_saved(at(100), "status reports")
            .unwrap_err();
        assert!(problem.contains("status reports"), "{problem}");
    }
}
