//! What a replayed log does that a host's live traffic never would, told once each on
//! standard error: the replay goes on, but its answers are likely not what the log meant.
//!
//! | oddity | sign | why it matters |
//! |---|---|---|
//! | replayed into its state again | the first event that is no delivery status is older than the saved state's clock | every input is applied at the clock, as a late one; sends come back as duplicates |
//! | unix seconds | an instant before 2001-09-09 (10¹² ms; 0 excepted) | seconds read as milliseconds are January 1970 |
//! | a mistyped year | an instant more than a year before a clock a line of this run set | a clock moved forward stays there, and what follows is late |
//! | a log not sorted by time | a send decided at the clock though dated before it | a host decides a send at its now |
//!
//! A log replayed again is late throughout: once told, a late send is not told again.

use convstate::{Duration, Event, Instant};

/// A step back from the clock that no late delivery takes: a year of 366 days.
const YEAR: Duration = Duration::from_days(366);

/// The oddities seen so far, and those of the line being fed, not told yet.
#[derive(Debug, Default)]
pub struct Oddities {
    /// The saved state's path and clock, until the first event that is no delivery status.
    resumed: Option<(String, Instant)>,
    /// The line and instant of the latest event so far.
    latest: Option<(u64, Instant)>,
    told_ancient: bool,
    told_year_back: bool,
    /// A late send, or the log replayed again (late throughout).
    told_late: bool,
    /// Found while feeding the current line, in the order they are told.
    pending: [Option<String>; 4],
}

impl Oddities {
    /// For a replay into a state saved as `path` at `clock`, when there is one.
    pub fn new(resumed: Option<(String, Instant)>) -> Oddities {
        Oddities {
            resumed,
            ..Oddities::default()
        }
    }

    /// Looks at an event of input line `line` (0: none) before the engine, whose clock is
    /// `clock`, applies it.
    pub fn observe(&mut self, event: &Event, clock: Instant, line: u64) {
        let at = event.at();
        // A delivery status (a read receipt hours after the send) comes late by nature.
        if !matches!(event, Event::MessageStatus(_) | Event::SendFailed(_)) {
            if let Some((path, saved)) = self.resumed.take() {
                if at < saved {
                    self.pending[0] = Some(format!(
                        "the log starts at {at}, before the clock of the state {path} \
                         ({saved}): inputs older than the clock are applied at it, as late \
                         ones; a log replayed into this state before is applied a second time"
                    ));
                    self.told_late = true;
                }
            }
        }
        if line == 0 {
            return;
        }
        // An instant of 0 is deliberate (a tick at the epoch), no seconds read as milliseconds.
        if !self.told_ancient && at.looks_like_unix_seconds() {
            self.told_ancient = true;
            self.pending[1] = Some(format!(
                "dated {at}, before any WhatsApp traffic: an integer instant is unix \
                 milliseconds, and unix seconds (Meta's webhook timestamps) read as milliseconds \
                 are January 1970; multiply them by 1000 (told once)"
            ));
        }
        if let Some((clock_line, _)) = self.latest.filter(|&(_, t)| t == clock) {
            if !self.told_year_back && clock.since(at) > YEAR {
                self.told_year_back = true;
                self.pending[2] = Some(format!(
                    "dated {at}, more than a year before the engine's clock ({clock}, from line \
                     {clock_line}): a mistyped year on one of the two lines? A clock moved \
                     forward stays there, and what follows is late (told once)"
                ));
            }
        }
        if self.latest.is_none_or(|(_, t)| at > t) {
            self.latest = Some((line, at));
        }
    }

    /// A send was decided at the clock though dated before it.
    pub fn late_send(&mut self) {
        if !self.told_late {
            self.told_late = true;
            // Once: a log sorted otherwise than by time (by conversation, say) has many, each
            // decided at the wrong instant.
            self.pending[3] = Some(
                "a send dated before an earlier line is decided at that line's instant (the \
                 engine's clock), not its own: a host decides a send at its now, so the log is \
                 not sorted by time; sort it by `at` (provider reports may stay late: they are \
                 placed by their own instants). --summary counts late sends (told once)"
                    .to_owned(),
            );
        }
    }

    /// The oddities of the line just fed, each once, in the table's order.
    pub fn take(&mut self) -> impl Iterator<Item = String> + '_ {
        self.pending.iter_mut().filter_map(Option::take)
    }
}
