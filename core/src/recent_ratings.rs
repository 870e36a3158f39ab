//! The latest quality ratings of a number or template by their instants, whatever order
//! the provider's webhooks delivered them in (§13): the engine keeps the latest rating as
//! the quality, and a rating delivered late is judged by the ratings beside it in order (a
//! late low between a rating that was not low and a recovery flagged in order until that
//! recovery).

use serde::{Deserialize, Serialize};

use crate::template::Quality;
use crate::time::Instant;

/// How many ratings are kept: a bound on what one number or template holds, not a rule; a
/// rating older than all of them is judged as before they were kept.
pub(crate) const RATINGS_KEPT: usize = 8;

/// The ratings beside an instant in order (see [`RecentRatings::beside`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Beside {
    /// The quality of the latest rating before it, if any.
    pub before: Option<Quality>,
    /// The earliest rating after it, if any: its instant and quality.
    pub after: Option<(Instant, Quality)>,
}

/// The latest ratings, in the order of their instants.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct RecentRatings(Vec<(Instant, Quality)>);

impl RecentRatings {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the rating `quality` of instant `at` in its place, the oldest going beyond
    /// [`RATINGS_KEPT`] (one older than all of them, then, is not kept).
    pub fn note(&mut self, at: Instant, quality: Quality) {
        let i = self.0.partition_point(|&(kept, _)| kept <= at);
        self.0.insert(i, (at, quality));
        if self.0.len() > RATINGS_KEPT {
            self.0.remove(0);
        }
    }

    /// The ratings just before and just after instant `at`, when those kept tell them: not
    /// when another rating of that instant is kept (which came first is not known), nor when
    /// `at` is older than every rating of a full list (the one before was let go).
    pub fn beside(&self, at: Instant) -> Option<Beside> {
        let i = self.0.partition_point(|&(kept, _)| kept < at);
        if self.0.get(i).is_some_and(|&(kept, _)| kept == at) {
            return None;
        }
        if i == 0 && self.0.len() >= RATINGS_KEPT {
            return None;
        }
        Some(Beside {
            before: i.checked_sub(1).map(|j| self.0[j].1),
            after: self.0.get(i).copied(),
        })
    }

    /// Kept as the engine keeps them: in order, at most [`RATINGS_KEPT`], none after the
    /// state's clock.
    pub fn check_saved(&self, clock: Instant) -> Result<(), String> {
        let in_order = self.0.windows(2).all(|w| w[0].0 <= w[1].0);
        let late = self.0.last().is_some_and(|&(at, _)| at > clock);
        if !in_order || late || self.0.len() > RATINGS_KEPT {
            return Err(format!(
                "has recent ratings not in order, more than {RATINGS_KEPT}, or after the \
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
    fn tells_the_ratings_beside_an_instant_in_order_of_instants() {
        let mut kept = RecentRatings::default();
        let beside = |before, after| Some(Beside { before, after });
        assert_eq!(kept.beside(at(5)), beside(None, None));
        kept.note(at(10), Quality::Medium);
        kept.note(at(2), Quality::High);
        assert_eq!(
            kept.beside(at(5)),
            beside(Some(Quality::High), Some((at(10), Quality::Medium)))
        );
        assert_eq!(
            kept.beside(at(1)),
            beside(None, Some((at(2), Quality::High)))
        );
        assert_eq!(kept.beside(at(11)), beside(Some(Quality::Medium), None));
        // Another rating of that instant: which came first is not known.
        assert_eq!(kept.beside(at(10)), None);
        assert_eq!(kept.check_saved(at(10)), Ok(()));
        assert!(kept.check_saved(at(9)).is_err());
    }

    #[test]
    fn keeps_the_latest_and_knows_nothing_before_them() {
        let mut kept = RecentRatings::default();
        for hour in (0..RATINGS_KEPT as i64 + 3).rev() {
            kept.note(at(hour * 2), Quality::Low);
        }
        // The newest were noted first; each older one went in and then out again.
        assert_eq!(kept.0.len(), RATINGS_KEPT);
        assert_eq!(kept.0[0].0, at(6));
        assert_eq!(kept.beside(at(5)), None);
        assert_eq!(
            kept.beside(at(7)),
            Some(Beside {
                before: Some(Quality::Low),
                after: Some((at(8), Quality::Low)),
            })
        );
        let mut unordered = kept.clone();
        unordered.0.swap(0, 1);
        assert!(unordered.check_saved(at(100)).is_err());
    }
}
