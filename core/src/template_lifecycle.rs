//! Template status over time (RULES.md §5): quality-driven transitions, provider status
//! events, edits and the timers that end pauses and flags; and the provider's category
//! changes, applied in its order like its other reports.
//!
//! Quality-driven, **flag then disable** (classic):
//!
//! | status   | input                  | next     | note                                   |
//! |----------|------------------------|----------|----------------------------------------|
//! | approved | quality low            | flagged  | deadline = rating's `at` + `flag_for`  |
//! | flagged  | quality medium/high    | approved | before the deadline                    |
//! | flagged  | deadline reached       | disabled | a provider disable date wins           |
//! | approved, flagged | quality low rated before a recovery after its deadline, delivered late | disabled | through flagged, from the late low (`recent_ratings`) |
//! | approved, paused | quality low delivered after later pauses and their ends | flagged | from the late low, under the pause; kept by them (`recent_reports`) |
//!
//! Quality-driven, **pause ladder** (newer):
//!
//! | status   | input                  | next     | note                                   |
//! |----------|------------------------|----------|----------------------------------------|
//! | approved | quality low, strike k ≤ n | paused | for `pauses[k-1]` (3h, then 6h)       |
//! | flagged  | quality low, strike k ≤ n | paused | keeps the flag's deadline             |
//! | approved, flagged | quality low, strike n+1 | disabled |                             |
//! | paused   | pause ends             | approved | a pacing pause (no end) needs `unpaused` |
//!
//! A flag outlives a pause, under either rule (Meta keeps a flagged template approved, so
//! its ladder pauses it like any other): a paused template with a flag's deadline is
//! flagged when the pause ends, and disabled at the deadline, paused or not. A rating of
//! medium or high during the pause lifts the flag and leaves the pause; the provider's
//! report of the pause's end (`unpaused`, or an `approved` ending it) leaves the flag, and
//! only `reinstated` lifts it. A flag dated at or before a recovery is lifted by it.
//!
//! Provider events set the status they name (`reinstated` and `unpaused` mean approved; a
//! `flagged` without a date is flagged until its own `at` + `flag_for`; a `flagged` on a
//! paused template flags it under the pause);
//! `deleted` is final; a disabled template (or one under appeal) leaves only by
//! reinstatement (or towards deletion/archive), never through `flagged` or `paused`. Engine-driven transitions never leave `disabled`: only the provider
//! can reinstate a template. Effective status is computed lazily from the stored deadlines,
//! so a send is judged correctly even before the timer has fired.

use serde::{Deserialize, Serialize};

use crate::effect::Effect;
use crate::engine::{check_ends_after, CutPause, DisableUndo, Engine, Template};
use crate::event::{
    EditTemplate, TemplateCategoryUpdate, TemplateComponentsUpdate, TemplateQualityUpdate,
    TemplateStatusUpdate,
};
use crate::policy::{EditRule, TemplateQualityRule, MAX_LADDER_PAUSES};
use crate::provider_order::Arrival;
use crate::template::{Quality, TemplateCategory, TemplateStatus};
use crate::time::{Duration, Instant};
use crate::timers::TimerKey;
use crate::Error;

/// At most so many reports are kept to apply again after a late revival
/// (`DisableUndo::reports`): a bound on what one template holds, not a rule.
pub(crate) const REPORTS_KEPT: usize = 8;

/// A `template_status` report a disabled template refused or ordered out, kept to apply
/// again (`DisableUndo::reports`): the report without the template's names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeptReport {
    pub at: Instant,
    pub status: TemplateEvent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<TemplateCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<u32>,
    /// Read from a send's failure (132015, template paused), not reported as a status.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failure: bool,
}

impl KeptReport {
    pub(crate) fn of(e: &TemplateStatusUpdate) -> KeptReport {
        KeptReport {
            at: e.at,
            status: e.status,
            until: e.until,
            category: e.category,
            pause: e.pause,
            failure: false,
        }
    }

    /// Checks what the report says against `policy`: `until` after `at` for a pause or a
    /// flag (it means nothing for other events), and a ladder's pause number.
    pub(crate) fn check(&self, policy: &crate::Policy) -> Result<(), Error> {
        if matches!(self.status, TemplateEvent::Paused | TemplateEvent::Flagged) {
            check_ends_after(self.at, self.until)?;
        }
        if let Some(pause) = self.pause.filter(|_| self.status == TemplateEvent::Paused) {
            let rungs = match &policy.templates.quality_rule {
                TemplateQualityRule::PauseLadder { pauses } => pauses.len(),
                TemplateQualityRule::FlagThenDisable => 0,
            };
            if pause == 0 || pause as usize > rungs {
                return Err(Error::InvalidEvent {
                    problem: format!(
                        "pause {pause} of a ladder of {rungs} pauses (the first is pause 1)"
                    ),
                });
            }
        }
        Ok(())
    }

    /// This report again, naming the template `named` names.
    fn update(&self, named: &TemplateStatusUpdate) -> TemplateStatusUpdate {
        TemplateStatusUpdate {
            at: self.at,
            status: self.status,
            until: self.until,
            category: self.category,
            pause: self.pause,
            ..named.clone()
        }
    }
}

/// What a template's kept ratings and status reports tell of its flag at an instant
/// ([`Template::flag_before`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    /// Older reports were let go, or a rating and a report of one instant came in an order
    /// not known, and nothing kept since sets or lifts a flag.
    Unknown,
    /// None in force: never set, or lifted.
    Lifted,
    /// In force, until the deadline when it is known (a low's under classic).
    InForce(Option<Instant>),
    /// In force, or lifted: an approval came after a pause, and kept the flag if it ended
    /// that pause (not known).
    Maybe,
    /// None, the template disabled (by the provider, or by the deadline of a flag that ran
    /// out), and nothing revived it since: a low, a pause or a flag then changes nothing.
    Disabled,
}

/// Status events a provider can send about a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateEvent {
    /// Approved in review (or after an appeal).
    Approved,
    /// Rejected in review.
    Rejected,
    /// Back in review.
    Pending,
    /// Flagged for low quality (may carry a disable date).
    Flagged,
    /// Paused (with `until`, or a pacing pause without end).
    Paused,
    /// A pause was lifted.
    Unpaused,
    /// Disabled.
    Disabled,
    /// Reinstated after a disable (appeal won).
    Reinstated,
    /// Under appeal.
    InAppeal,
    /// Being deleted.
    PendingDeletion,
    /// Deleted (final).
    Deleted,
    /// Over the template count limit.
    LimitExceeded,
    /// Archived.
    Archived,
    /// Locked against editing (Meta: "Locked and cannot be edited"): `edit_template` is
    /// refused until `unlocked`. No status: sending is unchanged.
    Locked,
    /// The lock was lifted: the template may be edited again as its status allows.
    Unlocked,
    /// Back from the archive, with no new review: approved, or still disabled if it was
    /// disabled before it was archived (only reinstatement revives it). Decided against the
    /// template's state when applied, in the provider's order: a `disabled` dated before it,
    /// arriving after it, leaves it disabled.
    Unarchived,
}

impl TemplateEvent {
    /// The status the event sets; `None` for a lock or unlock, which sets none.
    fn status(self) -> Option<TemplateStatus> {
        Some(match self {
            // An unarchiving is resolved to `approved` or `disabled` before it is applied
            // (`Engine::apply_template_status`); `approved` is what it sets when it revives.
            TemplateEvent::Approved
            | TemplateEvent::Unpaused
            | TemplateEvent::Reinstated
            | TemplateEvent::Unarchived => TemplateStatus::Approved,
            TemplateEvent::Rejected => TemplateStatus::Rejected,
            TemplateEvent::Pending => TemplateStatus::Pending,
            TemplateEvent::Flagged => TemplateStatus::Flagged,
            TemplateEvent::Paused => TemplateStatus::Paused,
            TemplateEvent::Disabled => TemplateStatus::Disabled,
            TemplateEvent::InAppeal => TemplateStatus::InAppeal,
            TemplateEvent::PendingDeletion => TemplateStatus::PendingDeletion,
            TemplateEvent::Deleted => TemplateStatus::Deleted,
            TemplateEvent::LimitExceeded => TemplateStatus::LimitExceeded,
            TemplateEvent::Archived => TemplateStatus::Archived,
            TemplateEvent::Locked | TemplateEvent::Unlocked => return None,
        })
    }

    /// Whether the event brings a disabled template back (an unarchiving does not).
    fn reinstates(self) -> bool {
        matches!(
            self,
            TemplateEvent::Approved | TemplateEvent::Reinstated | TemplateEvent::Unpaused
        )
    }

    /// Whether a template awaiting reinstatement refuses the event: it would make the
    /// template sendable or paused (§5).
    pub(crate) fn refused_while_disabled(self) -> bool {
        matches!(
            self,
            TemplateEvent::Flagged
                | TemplateEvent::Paused
                | TemplateEvent::Pending
                | TemplateEvent::LimitExceeded
        )
    }

    /// Whether the event locks (`Some(true)`) or unlocks (`Some(false)`) the template
    /// against editing; `None` for a status event.
    pub fn sets_lock(self) -> Option<bool> {
        match self {
            TemplateEvent::Locked => Some(true),
            TemplateEvent::Unlocked => Some(false),
            _ => None,
        }
    }
}

/// Why a template's status changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateChangeReason {
    /// A quality rating event.
    Quality,
    /// A provider status event.
    Provider,
    /// A pause ran out.
    PauseEnded,
    /// A flag deadline passed.
    FlagDeadline,
    /// The template was edited and is back in review.
    Edited,
}

/// How many counted pauses a template keeps: a late report is matched against the pauses
/// of its ladder, which has at most 16 rungs (the policy's bound), and older ones are long
/// over.
pub(crate) const COUNTED_PAUSES_KEPT: usize = 2 * MAX_LADDER_PAUSES;

/// How many changes of whether a template is rateable it keeps. They are dropped two at a
/// time, oldest first, so a rating older than every change kept is still judged by the
/// status it had before them; only one older than a dropped pair, and younger than its
/// first change, is misjudged (sixteen status changes back).
pub const RATEABLE_CHANGES_KEPT: usize = 16;

impl Template {
    /// When its text last changed if it becomes `spec`'s at `at`: then, if that is other
    /// text (§10: a send before then is no duplicate of one after).
    pub(crate) fn text_changed_at_with(
        &self,
        spec: &crate::template::TemplateSpec,
        at: Instant,
    ) -> Option<Instant> {
        if text_of(&self.spec) == text_of(spec) {
            self.text_changed_at
        } else {
            self.text_changed_at.max(Some(at))
        }
    }

    /// Notes that its text becomes `spec`'s at `at` (see [`Template::text_changed_at_with`]).
    fn note_text_change(&mut self, spec: &crate::template::TemplateSpec, at: Instant) {
        self.text_changed_at = self.text_changed_at_with(spec, at);
    }

    /// Whether a low rating now would pause it (or count a strike) under the pause ladder:
    /// approved or flagged, or in a timed pause (a rating inside a counted pause is told
    /// apart by `counted_pauses`). A pacing pause, review and the final statuses are not.
    fn rateable(&self) -> bool {
        matches!(
            self.status,
            TemplateStatus::Approved | TemplateStatus::Flagged
        ) || (self.status == TemplateStatus::Paused && self.paused_until.is_some())
    }

    /// When its latest rating was made, if that rating is `low` and made at or after
    /// `since` (a late status dated `since` came before it in order, and it acts on that).
    fn low_rated_since(&self, since: Instant) -> Option<Instant> {
        (self.quality_event.latest_at()).filter(|&at| self.quality == Quality::Low && at >= since)
    }

    /// Under classic, the low after a recovery rated at `since` that flagged the template
    /// again in order, the flag standing since: the first low of the ratings after it that
    /// no recovery follows (a later low found the flag and changed nothing; a rating of
    /// unknown quality changes nothing). When the ratings after `since` are not all kept
    /// (`ratings_known`, read before the recovery was kept beside them), the latest rating,
    /// if low.
    fn low_flagging_after(&self, since: Instant, ratings_known: bool) -> Option<Instant> {
        if !ratings_known {
            return self.low_rated_since(since);
        }
        let mut flagged_by = None;
        for &(rated_at, quality) in self.recent_ratings.after(since) {
            match quality {
                Quality::Low => flagged_by = flagged_by.or(Some(rated_at)),
                quality if quality.is_recovery() => flagged_by = None,
                _ => {}
            }
        }
        flagged_by
    }

    /// Whether a low rating at `at` would have paused it: the status at `at`, not now.
    fn rateable_at(&self, at: Instant) -> bool {
        let later = self.rateable_changes.len()
            - self
                .rateable_changes
                .partition_point(|&change| change <= at);
        self.rateable() ^ (later % 2 == 1)
    }

    /// Whether it was rateable just before `at` (as [`Template::rateable_at`], the changes
    /// at `at` not yet made).
    fn rateable_before(&self, at: Instant) -> bool {
        let later = self.rateable_changes.len()
            - self.rateable_changes.partition_point(|&change| change < at);
        self.rateable() ^ (later % 2 == 1)
    }

    /// Not rateable from `at` on (a disable learned late), rateable before it as
    /// `rateable_before` says: the changes recorded after it are dropped.
    fn not_rateable_since(&mut self, at: Instant, rateable_before: bool) {
        self.rateable_changes.retain(|&change| change < at);
        if rateable_before {
            self.rateable_changes.push(at);
        }
    }

    /// Not rateable from `from` until `to` (a late disable a revival at `to` took back), and
    /// as its changes recorded say before and after.
    fn not_rateable_between(&mut self, from: Instant, to: Instant) {
        let (rateable_before, rateable_after) = (self.rateable_before(from), self.rateable_at(to));
        self.rateable_changes
            .retain(|&change| change < from || change > to);
        if rateable_before {
            self.record_rateable_change(from);
        }
        if rateable_after {
            self.record_rateable_change(to);
        }
    }

    /// Under classic, whether a low rated at `rated_at` (kept among the ratings, which
    /// tell those beside it when `ratings_known`), delivered after later ratings or after
    /// later status reports (`after_later_status`), flagged the template in order and the
    /// flag stood to its deadline, `flag_for` after it. The template was approved or paused
    /// then, with no flag (a low finds any other status, or a flag, changing nothing). The
    /// ratings after it recover only past the deadline, if at all (in order a later low
    /// changed nothing, and a recovery found the template disabled). The status reports
    /// after it, all known, are pauses and their ends, which keep a flag
    /// ([`Template::later_reports_keep_a_flag`]).
    fn late_low_flag_stood(
        &self,
        rated_at: Instant,
        flag_for: Duration,
        ratings_known: bool,
        after_later_status: bool,
    ) -> bool {
        if !ratings_known {
            return false;
        }
        let deadline = rated_at.plus(flag_for);
        let recovered_after =
            (self.recent_ratings.after(rated_at).iter()).find(|(_, quality)| quality.is_recovery());
        let flag_stood = recovered_after.is_none_or(|&(at, _)| at >= deadline);
        // A status reported at its own instant: which came first is not known.
        let report_of_its_instant = self.recent_reports.beside(rated_at).is_none();
        flag_stood
            && !report_of_its_instant
            && (!after_later_status || self.later_reports_keep_a_flag(rated_at, deadline))
            && self.flaggable_before(rated_at, Some(flag_for))
    }

    /// Whether a provider's `flagged` dated `at` with `deadline`, delivered after later
    /// status reports, flagged the template in order and the flag stood: the template was
    /// approved or paused with no flag then, or flagged by a low whose deadline had not
    /// passed (the report set the deadline anew; a provider's flag before it is not known
    /// to stand, its date not kept), and the reports after it keep a flag. (A recovery
    /// since lifted it, [`Engine::keep_late_flag`].)
    fn late_flag_report_stood(
        &self,
        at: Instant,
        deadline: Instant,
        low_flags_for: Option<Duration>,
    ) -> bool {
        matches!(
            self.flag_where_flaggable(at, low_flags_for),
            Some(Flag::Lifted | Flag::InForce(Some(_)))
        ) && self.recent_reports.only_one_at(at, TemplateEvent::Flagged)
            && self.later_reports_keep_a_flag(at, deadline)
    }

    /// Whether, just before `at`, the template was approved or paused with no flag, so that
    /// a low or the provider's flag then set one: no flag in force
    /// ([`Template::flag_before`]), and approved or in a timed pause, or in a pacing
    /// pause ([`Template::in_a_reported_pause_before`]).
    fn flaggable_before(&self, at: Instant, low_flags_for: Option<Duration>) -> bool {
        self.flag_where_flaggable(at, low_flags_for) == Some(Flag::Lifted)
    }

    /// The flag just before `at` ([`Template::flag_before`]), when the template was in a
    /// status a flag is set in then: approved or flagged, in a timed pause, or in a pacing
    /// pause ([`Template::in_a_reported_pause_before`]).
    fn flag_where_flaggable(&self, at: Instant, low_flags_for: Option<Duration>) -> Option<Flag> {
        (self.rateable_at(at) || self.in_a_reported_pause_before(at))
            .then(|| self.flag_before(at, low_flags_for))
    }

    /// Whether, just before `at`, the template was in a pause the provider reported: it
    /// stopped being rateable when a pause was reported on it, rateable until then (a
    /// disabled template refused the pause, and an `unpaused` after revived that one), and
    /// it was reported nothing but pauses since, as the changes and reports kept tell.
    fn in_a_reported_pause_before(&self, at: Instant) -> bool {
        let changes = &self.rateable_changes;
        let Some(&since) = changes[..changes.partition_point(|&change| change < at)].last() else {
            return false;
        };
        let (reports, _) = self.recent_reports.before(at);
        let reported_since = &reports[reports.partition_point(|&(reported, _)| reported < since)..];
        !self.rateable_before(at)
            && self.rateable_before(since)
            && reported_since.first() == Some(&(since, TemplateEvent::Paused))
            && (reported_since.iter()).all(|&(_, status)| status == TemplateEvent::Paused)
    }

    /// Whether the status reports after `at` kept a flag set then until `deadline`: pauses
    /// and their ends, none of the ends at or after the deadline (that one found the
    /// template disabled and revived it; a pause then was refused).
    fn later_reports_keep_a_flag(&self, at: Instant, deadline: Instant) -> bool {
        self.later_reports_all(at, |reported, status| match status {
            TemplateEvent::Paused => true,
            TemplateEvent::Unpaused => reported < deadline,
            _ => false,
        })
    }

    /// Whether the status reports after `at` are the provider's flags alone: a flag during
    /// a pause leaves the pause standing (a ladder's pause for a low before them, with the
    /// flag kept under it).
    fn later_reports_only_flag(&self, at: Instant) -> bool {
        self.recent_reports.beside(at).is_some()
            && self.later_reports_all(at, |_, status| status == TemplateEvent::Flagged)
    }

    /// Whether every status report after `at` passes `test`, all of them known: the latest
    /// applied is kept (a caller knows none later was let go).
    fn later_reports_all(
        &self,
        at: Instant,
        test: impl Fn(Instant, TemplateEvent) -> bool,
    ) -> bool {
        self.recent_reports.latest_at() == self.last_provider_event_at
            && (self.recent_reports.after(at).iter())
                .all(|&(reported, status)| test(reported, status))
    }

    /// The flag just before `at`, as the ratings and status reports kept before it tell,
    /// walked in order of their instants: a low or the provider's `flagged` sets one; a
    /// recovery lifts it, and so does any status reported but a pause or its end (which
    /// keep a flag); an approval after a pause may have (`Maybe`). A flag a low set under
    /// classic (`low_flags_for`) runs out at its deadline, which disabled the template, as
    /// the provider's `disabled` does: a low, a pause or a flag then changes nothing, and a
    /// pause's end, an approval or a reinstatement revives it with no flag. Unknown when
    /// older ratings or reports were let go and the kept ones set or lift no flag, or when a
    /// rating and a report share an instant and nothing after them sets or lifts one (which
    /// came first is not known).
    fn flag_before(&self, at: Instant, low_flags_for: Option<Duration>) -> Flag {
        let (ratings, ratings_let_go) = self.recent_ratings.before(at);
        let (reports, reports_let_go) = self.recent_reports.before(at);
        let mut flag = if ratings_let_go || reports_let_go {
            Flag::Unknown
        } else {
            Flag::Lifted
        };
        let (mut r, mut p) = (0, 0);
        let mut paused_before = false;
        loop {
            let next = match (ratings.get(r), reports.get(p)) {
                (None, None) => at,
                (Some(&(rated, _)), Some(&(reported, _))) => rated.min(reported),
                (Some(&(rated, _)), None) => rated,
                (None, Some(&(reported, _))) => reported,
            };
            if let Flag::InForce(Some(deadline)) = flag {
                if deadline <= next {
                    flag = Flag::Disabled;
                }
            }
            let rating = ratings.get(r).filter(|&&(rated, _)| rated == next);
            let report = reports.get(p).filter(|&&(reported, _)| reported == next);
            flag = match (rating, report) {
                (None, None) => break,
                (Some(_), Some(_)) => Flag::Unknown,
                (Some(&(_, quality)), None) => match (quality, flag) {
                    (_, Flag::Disabled) => Flag::Disabled,
                    (Quality::Low, Flag::Lifted) => {
                        Flag::InForce(low_flags_for.map(|flag_for| next.plus(flag_for)))
                    }
                    (Quality::Low, Flag::InForce(deadline)) => Flag::InForce(deadline),
                    (Quality::Low, Flag::Unknown | Flag::Maybe) => Flag::InForce(None),
                    (quality, _) if quality.is_recovery() => Flag::Lifted,
                    (_, flag) => flag, // unknown: changes nothing
                },
                (None, Some(&(_, status))) => match (status, flag) {
                    (status, Flag::Disabled) if status.refused_while_disabled() => Flag::Disabled,
                    (status, Flag::Disabled) if status.reinstates() => Flag::Lifted,
                    (TemplateEvent::Disabled, _) => Flag::Disabled,
                    (TemplateEvent::Flagged, _) => Flag::InForce(None),
                    (TemplateEvent::Paused | TemplateEvent::Unpaused, flag) => flag,
                    (TemplateEvent::Approved, Flag::InForce(_)) if paused_before => Flag::Maybe,
                    (TemplateEvent::Approved, flag @ (Flag::Unknown | Flag::Maybe))
                        if paused_before =>
                    {
                        flag
                    }
                    _ => Flag::Lifted,
                },
            };
            if report.is_some_and(|&(_, status)| status == TemplateEvent::Paused) {
                paused_before = true;
            }
            r += usize::from(rating.is_some());
            p += usize::from(report.is_some());
        }
        flag
    }

    /// Whether this template holds what a rating or a send failure dated from `from` to `to`
    /// (both included) set: a status a rating set, a send failure's pause.
    fn holds_a_change_between(&self, from: Instant, to: Instant) -> bool {
        [self.quality_status_at, self.failure_pause_at]
            .iter()
            .flatten()
            .any(|at| (from..=to).contains(at))
    }

    /// `kept`, a state a disable's undo holds, with what the undo leaves as it is now: the
    /// mark of reviving reports (raised by those ordered out since) and the category (its
    /// changes are ordered apart from statuses, and told when they came).
    fn as_now(&self, kept: &Template) -> Template {
        let mut state = kept.clone();
        state.reinstating_report_at = self.reinstating_report_at;
        state.category_event = self.category_event;
        state.spec.category = self.spec.category;
        state.recent_ratings = self.recent_ratings.clone();
        state.recent_reports = self.recent_reports.clone();
        state
    }

    /// Its disable's undo, if it can still apply (the template stands as the undo left it):
    /// what a snapshot or an export keeps.
    pub(crate) fn undo_to_keep(&self) -> Option<Box<DisableUndo>> {
        (self.disable_undo.clone()).filter(|undo| self.stands_as(&undo.after))
    }

    /// Whether this template is still `kept`, a state a disable's undo holds, but for what
    /// the undo leaves as it is ([`Template::as_now`]).
    fn stands_as(&self, kept: &Template) -> bool {
        // The states an undo keeps hold none of their own.
        let state = self.as_now(kept);
        match self.disable_undo {
            None => *self == state,
            Some(_) => self.without_undo() == state,
        }
    }

    /// A copy of this template without its undo: a state an undo keeps.
    fn without_undo(&self) -> Template {
        Template {
            disable_undo: None,
            ..self.clone()
        }
    }

    /// What the end of its pause leaves: flagged until the deadline the pause kept, or
    /// approved.
    fn after_pause(&self) -> (TemplateStatus, Option<Instant>) {
        match self.flag_deadline {
            Some(deadline) => (TemplateStatus::Flagged, Some(deadline)),
            None => (TemplateStatus::Approved, None),
        }
    }

    /// Whether it is paused by a pause reported (or set) before `at`: a late end dated `at`
    /// ended it.
    fn paused_before(&self, at: Instant) -> bool {
        self.status == TemplateStatus::Paused
            && self.paused_at.is_some_and(|paused_at| paused_at < at)
    }

    fn record_rateable_change(&mut self, at: Instant) {
        let position = self
            .rateable_changes
            .partition_point(|&change| change <= at);
        self.rateable_changes.insert(position, at);
        if self.rateable_changes.len() > RATEABLE_CHANGES_KEPT {
            self.rateable_changes.drain(..2);
        }
    }

    /// The status in force at `now`, with the end of a pause or flag: a flag whose deadline
    /// passed is disabled (paused or not); a timed pause that has ended is flagged, if it
    /// kept a flag, or approved.
    pub(crate) fn status_at(&self, now: Instant) -> (TemplateStatus, Option<Instant>) {
        if !matches!(
            self.status,
            TemplateStatus::Paused | TemplateStatus::Flagged
        ) {
            return (self.status, None);
        }
        let flag = self.flag_deadline;
        if flag.is_some_and(|deadline| now >= deadline) {
            return (TemplateStatus::Disabled, None);
        }
        match (self.status, self.paused_until) {
            (TemplateStatus::Paused, Some(until)) if now >= until => self.after_pause(),
            (TemplateStatus::Paused, until) => (TemplateStatus::Paused, until),
            (status, _) => (status, flag),
        }
    }

    /// The flag's deadline while `status` (from [`Template::status_at`]) is in force: a
    /// flagged template's, or the one a pause keeps; none once disabled or approved.
    pub(crate) fn flagged_until_at(&self, status: TemplateStatus) -> Option<Instant> {
        self.flag_deadline
            .filter(|_| matches!(status, TemplateStatus::Flagged | TemplateStatus::Paused))
    }

    /// Whether a flag reported at `flagged_at` was lifted since: a recovery (medium or
    /// high) was rated then or later, so in order it lifted the flag (a rating at the
    /// flag's own instant stands, as everywhere), whatever was rated after it.
    fn flag_lifted_since(&self, flagged_at: Instant) -> bool {
        self.recovered_at.is_some_and(|at| at >= flagged_at)
    }

    /// Keeps a flag reported at `at` under the pause in force. The same flag reported again
    /// (its deadline unchanged) was set again then: a recovery before that does not lift it.
    fn keep_flag_under_pause(&mut self, deadline: Instant, at: Instant) {
        if self.flag_deadline == Some(deadline) {
            return self.flag_reported_again(at);
        }
        (self.flag_deadline, self.flagged_at) = (Some(deadline), Some(at));
    }

    /// The flag in force reported again at `at` (its deadline unchanged): it was set again
    /// then, so a recovery before that does not lift it.
    fn flag_reported_again(&mut self, at: Instant) {
        self.flagged_at = self.flagged_at.max(Some(at));
    }

    /// Lifts the flag a pause kept (a recovery); the pause stands.
    fn lift_kept_flag(&mut self) {
        self.flag_deadline = None;
        self.flagged_at = None;
    }

    /// When its timer must next look at it: the end of its pause or its flag's deadline,
    /// whichever comes first.
    fn next_deadline(&self) -> Option<Instant> {
        let pause_end = self
            .paused_until
            .filter(|_| self.status == TemplateStatus::Paused);
        match (pause_end, self.flag_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the pause `[start, end)` is one already counted: it overlaps a counted pause
    /// (two reports of one pause overlap, whichever came first; two pauses never do), or it
    /// starts before every pause kept while more were counted than are kept. Those no
    /// longer kept are older than every kept one, and a report older than all of them is
    /// taken as one of those (most likely delivered again), not as a new strike: counted
    /// again, past the ladder, it would disable a template the provider reinstated since.
    /// (Pauses are dropped only past 32 strikes, twice the longest ladder; a snapshot of
    /// before pauses were kept holds strikes without their pauses, taken the same way.)
    /// Whether a timed quality pause covers `at`: the one in force, or one counted on the
    /// ladder (over by the clock, perhaps, when a late report of it arrives).
    pub(crate) fn timed_pause_at(&self, at: Instant) -> bool {
        let in_force = self.status == TemplateStatus::Paused
            && self.paused_until.is_some_and(|until| at < until);
        in_force
            || (self.counted_pauses)
                .iter()
                .any(|&(from, to)| from <= at && at < to)
    }

    fn pause_counted(&self, start: Instant, end: Instant) -> bool {
        let some_not_kept = self.pause_strikes as usize > self.counted_pauses.len();
        let before_those_kept = self
            .counted_pauses
            .first()
            .is_some_and(|&(oldest, _)| start < oldest);
        (some_not_kept && before_those_kept)
            || self
                .counted_pauses
                .iter()
                .any(|&(from, to)| start < to && from < end)
    }

    fn count_pause(&mut self, start: Instant, end: Instant) {
        self.pause_strikes = self.pause_strikes.saturating_add(1);
        let at = self
            .counted_pauses
            .partition_point(|&(from, _)| from <= start);
        self.counted_pauses.insert(at, (start, end));
        if self.counted_pauses.len() > COUNTED_PAUSES_KEPT {
            self.counted_pauses.remove(0);
        }
    }

    /// A pause ended at `at`, perhaps before its time (a review after an edit, the provider
    /// lifting it, reported in time or late): the counted pause that covers `at` ends there
    /// too, so that a low rating after it, on the approved template, is a strike of its own
    /// rather than part of that pause.
    fn end_counted_pause_at(&mut self, at: Instant) {
        if let Some(pause) =
            (self.counted_pauses.iter_mut()).find(|(from, to)| *from <= at && at < *to)
        {
            pause.1 = at.max(pause.0.plus(Duration::from_millis(1)));
        }
    }

    /// Undoes [`Template::end_counted_pause_at`] for the pause it ended at `at`: that pause
    /// runs to `end` again (a disable at a flag's deadline, taken back).
    fn resume_counted_pause(&mut self, at: Instant, end: Instant) {
        if let Some(pause) = (self.counted_pauses.iter_mut())
            .find(|(from, to)| *from <= at && *to == at.max(from.plus(Duration::from_millis(1))))
        {
            pause.1 = end;
        }
    }

    /// Takes back the strike of the pause counted from `start` (a rating's), if any.
    fn uncount_pause_from(&mut self, start: Instant) {
        if let Some(i) = self
            .counted_pauses
            .iter()
            .position(|&(from, _)| from == start)
        {
            self.counted_pauses.remove(i);
            self.pause_strikes = self.pause_strikes.saturating_sub(1);
        }
    }

    /// Counts the strike of a low rating at `rated_at` unless a counted pause covers it:
    /// the end of the pause it brings on the ladder (`pauses`), `Some(None)` when it is the
    /// strike after the last pause (disabled), or `None` when it is counted already.
    ///
    /// Whether a counted pause covers the rating is judged on a window that does not depend
    /// on the count (which differs with the order reports arrive in): from the rating, the
    /// shortest pause of the ladder. A provider's report of the pause the rating caused
    /// starts within it. A late rating (`late`) is recorded as that window, since how long
    /// its pause was depends on strikes that may not have arrived yet; an on-time one as
    /// its pause.
    fn strike_for_rating(
        &mut self,
        pauses: &[Duration],
        rated_at: Instant,
        late: bool,
    ) -> Option<Option<Instant>> {
        let shortest = pauses
            .iter()
            .min()
            .copied()
            .unwrap_or(Duration::from_millis(1));
        let window_end = rated_at.plus(shortest);
        if self.pause_counted(rated_at, window_end) {
            return None;
        }
        let end = pauses
            .get(self.pause_strikes as usize)
            .map(|length| rated_at.plus(*length));
        let recorded_end = match end {
            Some(end) if !late => end,
            _ => window_end,
        };
        self.count_pause(rated_at, recorded_end);
        Some(end)
    }

    /// A template restored from a snapshot of before pauses were counted by their
    /// instants, paused for quality now: that pause is counted already (its strike is in
    /// `pause_strikes`), so that its report delivered again is not a second strike.
    pub(crate) fn count_pause_in_progress(&mut self, policy: &crate::Policy) {
        let TemplateQualityRule::PauseLadder { pauses } = &policy.templates.quality_rule else {
            return;
        };
        if let (TemplateStatus::Paused, Some(end), true) = (
            self.status,
            self.paused_until,
            self.counted_pauses.is_empty() && self.pause_strikes > 0,
        ) {
            let length = pauses
                .get(self.pause_strikes as usize - 1)
                .copied()
                .unwrap_or(Duration::from_millis(1));
            self.counted_pauses.push((end.minus(length), end));
        }
    }
}

impl Engine {
    /// Sets a template's status, as of `since` (the instant of the event that brings it: a
    /// rating's, a provider report's, a deadline), and tells the host at `at`.
    fn set_template_status(
        &mut self,
        t: u32,
        to: TemplateStatus,
        until: Option<Instant>,
        reason: TemplateChangeReason,
        since: Instant,
        at: Instant,
    ) {
        let template = &mut self.templates[t as usize];
        let from = template.status;
        let paused_until = template.paused_until;
        let was_rateable = template.rateable();
        template.failure_pause_at = None;
        // A pause that ends before its time (any status but a pause) is over for the ladder.
        if (template.paused_until)
            .is_some_and(|until| to != TemplateStatus::Paused && since < until)
        {
            template.end_counted_pause_at(since);
        }
        template.status = to;
        if to == TemplateStatus::Disabled {
            template.awaiting_reinstatement = true;
        }
        template.paused_until = if to == TemplateStatus::Paused {
            until
        } else {
            None
        };
        template.paused_at = (to == TemplateStatus::Paused).then_some(since);
        // A pause keeps the flag of a flagged (or paused and flagged) template.
        let flag_deadline = match to {
            TemplateStatus::Flagged => until,
            TemplateStatus::Paused => template.flag_deadline,
            _ => None,
        };
        let disabled_at_deadline =
            reason == TemplateChangeReason::FlagDeadline && to == TemplateStatus::Disabled;
        // A disable at the flag's deadline keeps when the flag was set: a late recovery
        // takes the disable back only if it was rated after the flag.
        template.flagged_at = match (template.flag_deadline, flag_deadline) {
            (_, None) if disabled_at_deadline => template.flagged_at,
            (_, None) => None,
            (Some(kept), Some(deadline)) if kept == deadline => template.flagged_at,
            _ => Some(since),
        };
        template.flag_deadline = flag_deadline;
        template.disabled_at_deadline = disabled_at_deadline.then_some(since);
        template.cut_pause =
            (disabled_at_deadline && from == TemplateStatus::Paused).then_some(CutPause {
                until: paused_until,
            });
        if template.rateable() != was_rateable {
            template.record_rateable_change(since);
        }
        self.arm_template_timer(t);
        if from == to && reason != TemplateChangeReason::Provider {
            return;
        }
        self.push_status_changed(t, from, until, reason, at);
    }

    /// Keeps a flag reported at `flagged_at` under the pause in force (`Some`), or lifts
    /// the flag a pause kept (`None`, a recovery). The status stays `paused`, so the host
    /// hears `paused` → `paused` with the flag's new deadline (none once lifted), unless
    /// that deadline has passed (a late report): in order it disabled the paused template,
    /// which it does now.
    fn set_flag_under_pause(
        &mut self,
        t: u32,
        flag: Option<(Instant, Instant)>,
        reason: TemplateChangeReason,
        at: Instant,
    ) {
        let template = &mut self.templates[t as usize];
        let before = template.flag_deadline;
        match flag {
            Some((deadline, flagged_at)) => template.keep_flag_under_pause(deadline, flagged_at),
            None => template.lift_kept_flag(),
        }
        let (changed, paused_until) = (template.flag_deadline != before, template.paused_until);
        if template
            .flag_deadline
            .is_some_and(|deadline| deadline <= at)
        {
            self.template_timer(t, at);
            return;
        }
        self.arm_template_timer(t);
        if changed {
            self.push_status_changed(t, TemplateStatus::Paused, paused_until, reason, at);
        }
    }

    /// A recovery rated at `rated_at`, after the flag and before the deadline at which the
    /// engine disabled template `t`, arriving after that disable: in time the flag was
    /// lifted (§5, §13), and no provider reinstatement will come for a disable the provider
    /// never made. The template is approved again, or paused to the end of the pause the
    /// deadline cut short, if that has not passed.
    fn take_back_deadline_disable(&mut self, t: u32, rated_at: Instant, now: Instant) {
        let template = &mut self.templates[t as usize];
        let Some(disabled_at) = template
            .disabled_at_deadline
            .filter(|&at| template.status == TemplateStatus::Disabled && rated_at < at)
        else {
            return;
        };
        if template.flagged_at.is_some_and(|at| at > rated_at) {
            return; // rated before the flag, it lifted none
        }
        template.quality_status_at = template.quality_status_at.max(Some(rated_at));
        // The pause the deadline cut short runs on, if it has not ended since, and the
        // ladder counts it to its end again.
        let (to, until) = match template.cut_pause {
            Some(CutPause { until }) if until.is_none_or(|end| end > now) => {
                if let Some(end) = until {
                    template.resume_counted_pause(disabled_at, end);
                }
                (TemplateStatus::Paused, until)
            }
            _ => (TemplateStatus::Approved, None),
        };
        self.undo_deadline_disable(t, to, until, TemplateChangeReason::Quality, now);
        self.strike_low_rated_since(t, disabled_at, now);
    }

    /// What the strike of a low rated at `rated_at` and delivered late brings
    /// ([`Template::strike_for_rating`]'s answer): past the ladder, a disable (in order the
    /// latest strike was that one); else the pause, if it still runs and `may_pause` (nothing
    /// newer holds the status). A pause over, or a strike counted already, changes nothing.
    fn apply_late_strike(
        &mut self,
        t: u32,
        strike: Option<Option<Instant>>,
        rated_at: Instant,
        may_pause: bool,
        now: Instant,
    ) {
        match strike {
            Some(None) => {
                let latest_strike = self.templates[t as usize]
                    .counted_pauses
                    .last()
                    .map_or(rated_at, |&(start, _)| start.max(rated_at));
                self.set_status_for_rating(t, TemplateStatus::Disabled, None, latest_strike, now);
            }
            Some(Some(end)) if end > now && may_pause => {
                self.set_status_for_rating(t, TemplateStatus::Paused, Some(end), rated_at, now);
            }
            _ => {}
        }
    }

    /// A recovery rated at `rated_at`, delivered after a low rated at `low_at` (later) on the
    /// flagged template (classic): in order the recovery lifted the flag and the low set a
    /// new one, whose deadline runs from the low (§5, §13). Before, the first flag's
    /// deadline stood and disabled the template days early; a recovery after that deadline,
    /// before the one in order, could no longer take it back. The host hears `flagged` →
    /// `flagged` with the new deadline (or `approved` → `flagged`, after a disable taken
    /// back).
    fn flag_again_from(&mut self, t: u32, rated_at: Instant, low_at: Instant, now: Instant) {
        let deadline = low_at.plus(self.policy.templates.flag_for);
        if self.templates[t as usize].flag_deadline == Some(deadline) {
            return; // flagged from that low already
        }
        self.templates[t as usize].flag_lifted_at = Some(rated_at);
        self.flag_from(t, low_at, now);
    }

    /// Flags template `t` from a low rated at `low_at` (classic), its deadline `flag_for`
    /// later: one that has passed disables it in this input's output (`fire_passed`).
    fn flag_from(&mut self, t: u32, low_at: Instant, now: Instant) {
        let deadline = low_at.plus(self.policy.templates.flag_for);
        self.set_end_for_rating(t, TemplateStatus::Flagged, deadline, low_at, now);
    }

    /// [`Engine::set_status_for_rating`] to a status with an end (a flag, a pause), telling
    /// the host even when the status stays and only its end moves (`flagged` → `flagged`,
    /// `paused` → `paused` with the new end).
    fn set_end_for_rating(
        &mut self,
        t: u32,
        to: TemplateStatus,
        until: Instant,
        rated_at: Instant,
        now: Instant,
    ) {
        let same_status = self.templates[t as usize].status == to;
        self.set_status_for_rating(t, to, Some(until), rated_at, now);
        if same_status {
            let reason = TemplateChangeReason::Quality;
            self.push_status_changed(t, to, Some(until), reason, now);
        }
    }

    /// A late strike that made the template's strikes pass the ladder: in order the strike
    /// past the last pause disabled it, and lows after that, on the disabled template, were
    /// no strikes. Those counted (they arrived before the late one) are taken back, unless a
    /// provider report since the disabling strike may have made the template rateable again.
    fn uncount_strikes_after_disable(&mut self, t: u32) {
        let TemplateQualityRule::PauseLadder { pauses } = &self.policy.templates.quality_rule
        else {
            return;
        };
        let template = &mut self.templates[t as usize];
        if template.status != TemplateStatus::Disabled {
            return;
        }
        // The rank of the first pause kept (older ones were dropped), and the index among
        // those kept of the disabling strike, the one of rank `pauses.len()`.
        let kept = template.counted_pauses.len();
        let first_rank = (template.pause_strikes as usize).saturating_sub(kept);
        let Some(disabling) = pauses.len().checked_sub(first_rank) else {
            return;
        };
        let Some(&(disabling_at, _)) = template.counted_pauses.get(disabling) else {
            return;
        };
        if (template.last_provider_event_at).is_some_and(|at| at > disabling_at) {
            return;
        }
        let dropped = kept - (disabling + 1);
        template.counted_pauses.truncate(disabling + 1);
        template.pause_strikes -= dropped as u32;
    }

    /// A late strike at `rated_at` counted before the latest one, within the ladder: in order
    /// the latest came a strike later, so its pause is the next rung's length (§5, §13),
    /// whichever order the reports arrived in. The status that
    /// strike set is corrected, from its own instant, while it still holds (no newer rating
    /// or provider report set the status since, and no failure paused the template): its
    /// pause runs on to the longer end, or again if it ended by the clock before then.
    /// Before, the latest pause kept the length of the rung it was first counted on, and a
    /// low after it, inside the longer pause in order, was a strike of its own.
    fn rerank_latest_strike(&mut self, t: u32, rated_at: Instant, now: Instant) {
        let TemplateQualityRule::PauseLadder { pauses } = &self.policy.templates.quality_rule
        else {
            return;
        };
        let template = &mut self.templates[t as usize];
        let Some(&(start, recorded_end)) =
            (template.counted_pauses.last()).filter(|&&(start, _)| start > rated_at)
        else {
            return;
        };
        let holds = template.quality_status_at == Some(start)
            && (template.last_provider_event_at).is_none_or(|at| at <= start);
        let rank = (template.pause_strikes as usize).saturating_sub(1);
        let rung_end = |rank: usize| pauses.get(rank).map(|length| start.plus(*length));
        // Past the ladder already (disabled), one strike more changes nothing.
        let Some(old_end) = rank.checked_sub(1).and_then(rung_end).filter(|_| holds) else {
            return;
        };
        // The status now is that strike's pause, or what its end left (not a review after an
        // edit, a pause a send failure reported, or a flag's disable).
        let status_is_its_pause = match template.status {
            TemplateStatus::Paused => template.paused_until == Some(old_end),
            status => matches!(status, TemplateStatus::Approved | TemplateStatus::Flagged),
        } && template.status_at(now).0 != TemplateStatus::Disabled;
        // Past the ladder, the late strike's own answer disabled the template
        // (`apply_late_strike`), and this is not called.
        let Some(end) = rung_end(rank) else {
            return;
        };
        // An on-time strike's pause is counted to its end, which moves with it.
        if recorded_end == old_end {
            if let Some(pause) = template.counted_pauses.last_mut() {
                pause.1 = end;
            }
        }
        if end > now && status_is_its_pause {
            self.set_end_for_rating(t, TemplateStatus::Paused, end, start, now);
        }
    }

    /// A timed pause `[start, end)` learned late (a low rating's, or the provider's report
    /// of it, dated before a send failure with 132015 and delivered after it) that covers
    /// the failure the pause in force, one without an end, was read from: in order the
    /// failure came during this pause and reported it, so the pause ends at `end`, as when
    /// the pause is known before the failure (scenarios 265, 435). Ended by the clock
    /// already, it ends in the input's output (`fire_passed`). Whether it did so.
    fn failure_reported_pause(
        &mut self,
        t: u32,
        (start, end): (Instant, Instant),
        reason: TemplateChangeReason,
        now: Instant,
    ) -> bool {
        let template = &self.templates[t as usize];
        let Some(failed_at) = template.failure_pause_at.filter(|&failed_at| {
            start <= failed_at
                && failed_at < end
                && (template.status, template.paused_until) == (TemplateStatus::Paused, None)
        }) else {
            return false;
        };
        // Dated at the failure: its change of rateable status cancels the failure's (in
        // order the template was in this timed pause throughout).
        self.set_template_status(t, TemplateStatus::Paused, Some(end), reason, failed_at, now);
        if reason != TemplateChangeReason::Provider {
            // A pause's end learned is news to the host, whatever brought it.
            self.push_status_changed(t, TemplateStatus::Paused, Some(end), reason, now);
        }
        true
    }

    /// Under the ladder, the strike of the latest rating when it is a `low` rated at or after
    /// `since`, the instant of a disable just taken back: it found the template disabled and
    /// changed nothing, where in order it found it rateable and struck. One rated at the
    /// deadline's own instant too: the deadline fired before it, but in order it disabled
    /// nothing. (Likewise after a late provider status, see
    /// [`Engine::rate_after_late_status`].)
    fn strike_low_rated_since(&mut self, t: u32, since: Instant, now: Instant) {
        let TemplateQualityRule::PauseLadder { pauses } = &self.policy.templates.quality_rule
        else {
            return;
        };
        let template = &mut self.templates[t as usize];
        let Some(rated_at) = template.low_rated_since(since) else {
            return;
        };
        if !template.rateable_at(rated_at) {
            return;
        }
        // A flagged template is paused too, keeping its flag (a late provider flag).
        let may_pause = matches!(
            template.status_at(now).0,
            TemplateStatus::Approved | TemplateStatus::Flagged
        );
        let strike = template.strike_for_rating(pauses, rated_at, true);
        self.apply_late_strike(t, strike, rated_at, may_pause, now);
    }

    /// Takes back the engine's disable of template `t` at a flag's deadline: `to` is what
    /// was in force in order. Dated at the deadline, so that its change of rateable status
    /// cancels the disable's (in order the template never stopped being rateable there).
    fn undo_deadline_disable(
        &mut self,
        t: u32,
        to: TemplateStatus,
        until: Option<Instant>,
        reason: TemplateChangeReason,
        now: Instant,
    ) {
        let template = &mut self.templates[t as usize];
        let Some(deadline) = template.disabled_at_deadline else {
            return;
        };
        template.awaiting_reinstatement = false;
        self.set_template_status(t, to, until, reason, deadline, now);
    }

    /// A provider report dated before the flag deadline at which the engine disabled
    /// template `t`, arriving after that disable. The disable stands on what came before the
    /// deadline, so the report changes it as it would have in order (a disabled template
    /// otherwise ignores all but a reinstatement, as the provider's own disable is final):
    /// a flag with another deadline replaces the deadline (the template is flagged, or paused,
    /// again and disabled at the new one if that has passed), the same flag reported again
    /// was set again then, a pause is the one the deadline cut short, the end of a pause
    /// leaves the flag (and the disable), and an approval of a flagged template lifted the
    /// flag. Whether it handled the report.
    fn report_before_deadline_disable(
        &mut self,
        t: u32,
        e: &TemplateStatusUpdate,
        now: Instant,
    ) -> bool {
        let template = &self.templates[t as usize];
        // Only a report that came after what the deadline found: the flag it disabled, and
        // the rating that last changed the status (a pause it brought on is the one the
        // deadline cut). An older one is judged as before, against those.
        let after_what_it_found = template.flagged_at.is_none_or(|at| at <= e.at)
            && template.quality_status_at.is_none_or(|at| at <= e.at);
        let Some(deadline) = template.disabled_at_deadline.filter(|&at| {
            template.status == TemplateStatus::Disabled && e.at < at && after_what_it_found
        }) else {
            return false;
        };
        let reason = TemplateChangeReason::Provider;
        match e.status {
            TemplateEvent::Flagged => {
                let new_deadline = self.flag_deadline_of(e);
                let template = &mut self.templates[t as usize];
                if new_deadline == deadline {
                    template.flag_reported_again(e.at);
                    return true;
                }
                // Back to what the deadline found, under the new deadline, then on to
                // whatever the clock has passed since. The flag is set first, so that the
                // change told carries it and the timer is armed for its deadline (a pause
                // keeps the flag in force).
                let (to, until) = match template.cut_pause {
                    Some(CutPause { until }) => (TemplateStatus::Paused, until),
                    None => (TemplateStatus::Flagged, Some(new_deadline)),
                };
                (template.flag_deadline, template.flagged_at) = (Some(new_deadline), Some(e.at));
                self.undo_deadline_disable(t, to, until, reason, now);
                // A pause's end and the new deadline may both have passed: one at a time.
                self.run_template_deadlines(t, now);
            }
            TemplateEvent::Paused => {
                let cut = e.until.is_none_or(|end| end > deadline);
                self.templates[t as usize].cut_pause = cut.then_some(CutPause { until: e.until });
            }
            TemplateEvent::Unpaused => self.templates[t as usize].cut_pause = None,
            TemplateEvent::Approved if self.templates[t as usize].cut_pause.is_some() => {
                self.templates[t as usize].cut_pause = None;
            }
            TemplateEvent::Approved => {
                self.undo_deadline_disable(t, TemplateStatus::Approved, None, reason, now);
            }
            _ => return false,
        }
        true
    }

    /// Tells the host that template `t` went from `from` to its status now.
    fn push_status_changed(
        &mut self,
        t: u32,
        from: TemplateStatus,
        until: Option<Instant>,
        reason: TemplateChangeReason,
        at: Instant,
    ) {
        let template = &self.templates[t as usize];
        self.effects.push_back(Effect::TemplateStatusChanged {
            business: self.businesses[template.business as usize].name.clone(),
            name: template.spec.name.clone(),
            language: template.spec.language.clone(),
            from,
            to: template.status,
            until,
            flagged_until: template.flag_deadline,
            reason,
            at,
        });
    }

    /// Arms the template's timer for its next deadline, or disarms it when it has none.
    fn arm_template_timer(&mut self, t: u32) {
        match self.templates[t as usize].next_deadline() {
            Some(at) => {
                self.timers.disarm(TimerKey::TemplateDeadline(t));
                self.timers.arm(TimerKey::TemplateDeadline(t), at)
            }
            None => self.timers.disarm(TimerKey::TemplateDeadline(t)),
        }
    }

    /// A status change a rating at `rated_at` brings: recorded by the rating's instant, so
    /// that a provider status from before it, arriving after it, does not undo it.
    fn set_status_for_rating(
        &mut self,
        t: u32,
        to: TemplateStatus,
        until: Option<Instant>,
        rated_at: Instant,
        now: Instant,
    ) {
        let template = &mut self.templates[t as usize];
        template.quality_status_at = template.quality_status_at.max(Some(rated_at));
        self.set_template_status(t, to, until, TemplateChangeReason::Quality, rated_at, now);
    }

    /// A recovery rated at `rated_at` lifts the flag of a flagged template: approved again.
    fn lift_flag(&mut self, t: u32, rated_at: Instant, now: Instant) {
        self.templates[t as usize].flag_lifted_at = Some(rated_at);
        self.set_status_for_rating(t, TemplateStatus::Approved, None, rated_at, now);
    }

    /// A quality rating for a template.
    pub fn template_quality(&mut self, e: &TemplateQualityUpdate) -> Result<(), Error> {
        // A late rating's flag or pause runs from its own instant, and may be over already.
        self.apply_template_quality(e)?;
        self.fire_passed();
        Ok(())
    }

    fn apply_template_quality(&mut self, e: &TemplateQualityUpdate) -> Result<(), Error> {
        let business = self.business_idx(&e.business)?;
        let t = self.template_idx(business, &e.name, &e.language)?;
        self.handle_timeout(e.at);
        let now = self.clock;
        let ladder = match &self.policy.templates.quality_rule {
            TemplateQualityRule::PauseLadder { pauses } => Some(pauses.as_slice()),
            TemplateQualityRule::FlagThenDisable => None,
        };
        let template = &mut self.templates[t as usize];
        let rated_at = e.at;
        let arrival = template.quality_event.arrival(e.at, &e.quality);
        if arrival == Arrival::Repeat {
            return Ok(()); // the same report again: no second strike (§10)
        }
        // Read before this rating is kept beside them.
        let ratings_known = template.recent_ratings.beside(rated_at).is_some();
        template.recent_ratings.note(rated_at, e.quality);
        if arrival == Arrival::New {
            template.quality = e.quality;
        }
        if e.quality.is_recovery() {
            template.recovered_at = template.recovered_at.max(Some(rated_at));
        }
        // Deleted is final (§5): a rating delivered after the deletion, even one dated
        // before it that in order would have paused or disabled the template (a strike
        // past the ladder), changes it no more than later provider events do.
        if template.status == TemplateStatus::Deleted {
            return Ok(());
        }
        // A rating older than a rating or a status applied since (a late webhook): those
        // reports hold its consequence for the quality and the status, a pause and its end
        // included, so it changes neither. The ladder counts pauses, though: a low rating on
        // a template that may have been approved then stands for a pause, unless a counted
        // pause covers it, so that the next pause is as long whichever order the reports
        // arrived in.
        let after_later_status = template
            .last_provider_event_at
            .is_some_and(|last| rated_at < last);
        if arrival == Arrival::Older || after_later_status {
            // A recovery rated after a flag that a pause kept lifts that flag, as it did in
            // order; the pause, a status, stands. A flagged template whose flag predates the
            // recovery had it back from a pause that has ended since (the ladder's, or the
            // provider's `unpaused`): in order the recovery lifted it first, and the pause
            // ended approved. (Not under classic after a later low, which in order flagged
            // the template again.)
            let recovery = e.quality.is_recovery();
            // Under classic, a low rated before the flag in force, with no recovery since and
            // no provider report after it (so a rating set that flag): in order that low set
            // the flag, and its deadline runs from it.
            let flagged_earlier = ladder.is_none()
                && e.quality == Quality::Low
                && template.status == TemplateStatus::Flagged
                && !after_later_status
                && template.flagged_at.is_some_and(|at| rated_at < at)
                && template.recovered_at.is_none_or(|at| at < rated_at)
                && template.rateable_at(rated_at);
            if flagged_earlier {
                self.flag_from(t, rated_at, now);
                return Ok(());
            }
            let template = &mut self.templates[t as usize];
            let lifts_flag = recovery && template.flagged_at.is_some_and(|at| at <= rated_at);
            let later_low = (ladder.is_none() && recovery)
                .then(|| template.low_flagging_after(rated_at, ratings_known))
                .flatten();
            let may_take_back = recovery && later_low.is_none();
            match template.status {
                TemplateStatus::Paused if lifts_flag => {
                    self.set_flag_under_pause(t, None, TemplateChangeReason::Quality, now);
                    return Ok(());
                }
                TemplateStatus::Flagged if lifts_flag && may_take_back => {
                    self.lift_flag(t, rated_at, now);
                    return Ok(());
                }
                // Under classic after a later low: in order the recovery lifted the flag,
                // and that low flagged the template again, with its own deadline.
                TemplateStatus::Flagged if lifts_flag => {
                    if let Some(low_at) = later_low {
                        self.flag_again_from(t, rated_at, low_at, now);
                    }
                    return Ok(());
                }
                // A recovery older than a later rating or status takes back a disable at
                // the flag's deadline as an on-time one does. (Not under classic after a
                // later low, which in order flagged the template again with a later
                // deadline.)
                TemplateStatus::Disabled if may_take_back => {
                    self.take_back_deadline_disable(t, rated_at, now);
                    return Ok(()); // a recovery strikes nothing either way
                }
                // Under classic after a later low whose own flag has not run out: the disable
                // at the first flag's deadline is taken back, and that low's flag is in force.
                TemplateStatus::Disabled if recovery && ladder.is_none() => {
                    let flag_for = self.policy.templates.flag_for;
                    if let Some(low_at) = later_low.filter(|low_at| low_at.plus(flag_for) > now) {
                        self.take_back_deadline_disable(t, rated_at, now);
                        if self.templates[t as usize].status == TemplateStatus::Approved {
                            self.flag_again_from(t, rated_at, low_at, now);
                        }
                    }
                    return Ok(());
                }
                // Under classic, a low on a template approved or paused with no flag then set
                // a flag (§5) that stood to its deadline: no recovery after it before that
                // deadline, no status reported after it but pauses and their ends, which
                // keep a flag (`late_low_flag_stood`). It is flagged (under the pause in
                // force) from its instant, and a deadline passed disables it: a recovery
                // after the deadline found it disabled for good, a later low's flag changed
                // nothing.
                TemplateStatus::Approved | TemplateStatus::Flagged | TemplateStatus::Paused
                    if ladder.is_none() && e.quality == Quality::Low =>
                {
                    let deadline = rated_at.plus(self.policy.templates.flag_for);
                    if !template.late_low_flag_stood(
                        rated_at,
                        self.policy.templates.flag_for,
                        ratings_known,
                        after_later_status,
                    ) {
                        return Ok(());
                    }
                    if template.status == TemplateStatus::Paused {
                        template.quality_status_at = template.quality_status_at.max(Some(rated_at));
                        let flag = Some((deadline, rated_at));
                        self.set_flag_under_pause(t, flag, TemplateChangeReason::Quality, now);
                    } else {
                        // Flagged by a later low, the host hears the deadline move.
                        self.flag_from(t, rated_at, now);
                    }
                    return Ok(());
                }
                _ => {}
            }
            let template = &mut self.templates[t as usize];
            // Judged by the status at the rating's instant: rated while approved and
            // delivered after the template went back to review it is a strike; rated in
            // review and delivered after the approval it is not.
            let may_have_paused = template.rateable_at(rated_at);
            if let Some(pauses) = ladder.filter(|_| e.quality == Quality::Low && may_have_paused) {
                // A strike past the last pause disables, in whichever order the strikes
                // arrived. Its pause is over or reported, unless it still runs and nothing
                // newer holds the status: no provider status (but flags, which a pause keeps
                // under it), and no rating that changed the status (a later rating that
                // changed nothing, a medium while paused, leaves the pause standing, as it
                // would have in order; so does a recovery that lifted a flag, which in order
                // lifted the flag this pause kept). Then the template is paused from the
                // rating's own instant, and the host is told.
                let nothing_newer_holds_the_status = (!after_later_status
                    || template.later_reports_only_flag(rated_at))
                    && template
                        .quality_status_at
                        .is_none_or(|at| at < rated_at || template.flag_lifted_at == Some(at))
                    && matches!(
                        template.status_at(now).0,
                        TemplateStatus::Approved | TemplateStatus::Flagged
                    );
                let strike = template.strike_for_rating(pauses, rated_at, true);
                // The pause a send failure reported before this rating arrived.
                if let Some(Some(end)) = strike {
                    let reason = TemplateChangeReason::Quality;
                    if self.failure_reported_pause(t, (rated_at, end), reason, now) {
                        let template = &mut self.templates[t as usize];
                        template.quality_status_at = template.quality_status_at.max(Some(rated_at));
                        return Ok(());
                    }
                }
                self.apply_late_strike(t, strike, rated_at, nothing_newer_holds_the_status, now);
                match strike {
                    Some(Some(_)) => self.rerank_latest_strike(t, rated_at, now),
                    Some(None) => self.uncount_strikes_after_disable(t),
                    None => {}
                }
            }
            return Ok(());
        }
        let status = template.status;
        match (e.quality, status, ladder) {
            // A flag or pause runs from the rating's own instant (§13), not from when it
            // arrived.
            (Quality::Low, TemplateStatus::Approved, None) => {
                let deadline = rated_at.plus(self.policy.templates.flag_for);
                self.set_status_for_rating(
                    t,
                    TemplateStatus::Flagged,
                    Some(deadline),
                    rated_at,
                    now,
                );
            }
            // A low rating inside a counted pause is a low on a paused template, even when the
            // clock has passed that pause's end since: no second pause, no strike. A flagged
            // template is paused too, and keeps its flag under the pause.
            (Quality::Low, TemplateStatus::Approved | TemplateStatus::Flagged, Some(pauses)) => {
                if let Some(end) = template.strike_for_rating(pauses, rated_at, false) {
                    let (to, until) = match end {
                        Some(until) => (TemplateStatus::Paused, Some(until)),
                        None => (TemplateStatus::Disabled, None),
                    };
                    self.set_status_for_rating(t, to, until, rated_at, now);
                }
            }
            // Under classic, a low on a paused template flags it under the pause, as the
            // provider's `flagged` during a pause is kept: the pause's end leaves it flagged,
            // and the deadline disables it (§5). It was recorded and nothing more, so the
            // template came back approved with a low rating and was never disabled.
            (Quality::Low, TemplateStatus::Paused, None) if template.flag_deadline.is_none() => {
                let deadline = rated_at.plus(self.policy.templates.flag_for);
                template.quality_status_at = template.quality_status_at.max(Some(rated_at));
                let flag = Some((deadline, rated_at));
                self.set_flag_under_pause(t, flag, TemplateChangeReason::Quality, now);
            }
            (Quality::Medium | Quality::High, TemplateStatus::Flagged, _) => {
                self.lift_flag(t, rated_at, now);
            }
            // A recovery during a pause lifts the flag the pause kept; the pause stands. (The
            // status does not change, so a provider status from before the rating, arriving
            // after it, is applied as it would have been in order.)
            (Quality::Medium | Quality::High, TemplateStatus::Paused, _)
                if template.flag_deadline.is_some() =>
            {
                self.set_flag_under_pause(t, None, TemplateChangeReason::Quality, now);
            }
            // A recovery arriving after the engine disabled the template at a flag's deadline
            // (see there).
            (Quality::Medium | Quality::High, TemplateStatus::Disabled, _) => {
                self.take_back_deadline_disable(t, rated_at, now);
            }
            // A low rated before the flag's deadline that disabled the template, arriving
            // after it: in order it struck the flagged (or approved) template then. The
            // strike past the ladder disabled it first, for good; a pause it brought on was
            // cut short by the deadline, and a late recovery resumes it.
            (Quality::Low, TemplateStatus::Disabled, Some(pauses))
                if template
                    .disabled_at_deadline
                    .is_some_and(|at| rated_at < at) =>
            {
                let deadline = template.disabled_at_deadline;
                match template.strike_for_rating(pauses, rated_at, false) {
                    Some(None) => {
                        self.set_status_for_rating(t, TemplateStatus::Disabled, None, rated_at, now)
                    }
                    Some(Some(end)) if Some(end) > deadline => {
                        template.cut_pause = Some(CutPause { until: Some(end) });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A provider status event for a template. `deleted` is final: later events on a
    /// deleted template change nothing.
    pub fn template_status(&mut self, e: &TemplateStatusUpdate) -> Result<(), Error> {
        // A late report's pause or flag may have ended (`until`) before it arrived.
        self.apply_template_status(e)?;
        self.fire_passed();
        Ok(())
    }

    fn apply_template_status(&mut self, e: &TemplateStatusUpdate) -> Result<(), Error> {
        let business = self.business_idx(&e.business)?;
        let t = self.template_idx(business, &e.name, &e.language)?;
        // Read before an unarchiving is resolved: its approval is no reinstatement.
        let revives_disabled = e.status.reinstates();
        KeptReport::of(e).check(&self.policy)?;
        let ladder_pauses = match &self.policy.templates.quality_rule {
            TemplateQualityRule::PauseLadder { pauses } => Some(pauses.len()),
            TemplateQualityRule::FlagThenDisable => None,
        };
        // A low flags a template for so long under classic; under the ladder it pauses it.
        let low_flags_for = ladder_pauses
            .is_none()
            .then_some(self.policy.templates.flag_for);
        self.handle_timeout(e.at);
        let now = self.clock;
        // The template as this report finds it, while it awaits reinstatement: should the
        // report be refused or ordered out, a revival dated before it may still arrive
        // (`keep_report`).
        let template = &self.templates[t as usize];
        let found = (template.awaiting_reinstatement).then(|| template.without_undo());
        let unarchiving = e.status == TemplateEvent::Unarchived;
        // An unarchiving sets what the template was before its archive: approved, or
        // disabled while it awaits reinstatement (it is no reinstatement itself). Judged
        // after the timers due by its instant (a flag's deadline may have disabled it).
        let resolved;
        let e = match e.status {
            TemplateEvent::Unarchived => {
                let status = if self.templates[t as usize].awaiting_reinstatement {
                    TemplateEvent::Disabled
                } else {
                    TemplateEvent::Approved
                };
                resolved = TemplateStatusUpdate {
                    status,
                    ..e.clone()
                };
                &resolved
            }
            _ => e,
        };
        if self.templates[t as usize].status == TemplateStatus::Deleted {
            return Ok(());
        }
        // A deletion dated before the template was registered ended the template this
        // registration replaced (it would be final whenever it arrives, below): nothing of
        // it applies, its category neither.
        if e.status == TemplateEvent::Deleted
            && (self.templates[t as usize].registered_at).is_some_and(|at| e.at < at)
        {
            return Ok(());
        }
        // The category the provider reports with a status is in its own order: a status too
        // late to apply may still carry the newest category (or not, which the order tells).
        if let Some(category) = e.category {
            self.change_category(t, category, e.at);
        }
        // An unarchiving of a template disabled, not archived, changes nothing: applied as
        // the provider's own disable it would order out older reports and make a disable
        // at a flag's deadline one no late recovery takes back.
        if unarchiving && self.templates[t as usize].status == TemplateStatus::Disabled {
            return Ok(());
        }
        let template = &mut self.templates[t as usize];
        // A lock is no status (facts §5.1: "Locked and cannot be edited"; nothing is said of
        // sending): it bars `edit_template` alone. Locks and unlocks are ordered among
        // themselves, by their own instants (a late LOCKED does not undo a later UNLOCKED),
        // and apart from the statuses, which they neither order nor are ordered by.
        if let Some(locked) = e.status.sets_lock() {
            if template.lock_event.admit(e.at, &e.status) {
                template.locked = locked;
            }
            return Ok(());
        }
        // Kept by its instant, whatever this report does below: a low delivered after it
        // is judged by the reports that came after that low in order.
        template.recent_reports.note(e.at, e.status);
        // The pause ladder counts pauses. A quality pause (one with an end; a pacing pause has
        // none) that overlaps no counted pause is a strike, whether this report or the
        // rating behind it arrives first (the engine's own pause for that rating overlaps
        // this one; a rating arriving after this report falls inside it), and whether or not
        // the report is late: the statuses applied since hold its consequence for the
        // status, not for the count. Judged by instants, not by the status now, which the
        // clock may have moved past the pause's end before a late report arrives.
        let mut known_pause = false;
        if let (Some(rungs), TemplateEvent::Paused, Some(end)) = (ladder_pauses, e.status, e.until)
        {
            known_pause = template.pause_counted(e.at, end);
            if !known_pause {
                template.count_pause(e.at, end);
                // A report of a pause before others already counted, arriving after them:
                // in order, the latest of them was the strike past the last pause and
                // disabled the template. It does now, by that strike's instant, and the host
                // is told. (The newest pause reported as such is the provider's own word on
                // its ladder, and is applied below as it stands.)
                let strikes = template.pause_strikes as usize;
                let disabling_strike = template
                    .counted_pauses
                    .last()
                    .map(|&(start, _)| start)
                    .filter(|&latest| strikes > rungs && e.at < latest);
                if let Some(latest) = disabling_strike {
                    self.set_status_for_rating(t, TemplateStatus::Disabled, None, latest, now);
                    return Ok(());
                }
            }
        }
        // A report of the timed pause a send failure reported before it (132015): in order
        // the failure came during it, so its end stands.
        if let (TemplateEvent::Paused, Some(end)) = (e.status, e.until) {
            let reason = TemplateChangeReason::Provider;
            if self.failure_reported_pause(t, (e.at, end), reason, now) {
                return Ok(());
            }
        }
        let template = &mut self.templates[t as usize];
        // A deletion is final (§5) whenever it arrives (one from before the registration
        // excepted, above): in order nothing after it applied, so a later status delivered
        // before it (an unpause, an approval) must not leave the deleted template sendable.
        // Any other event is ordered as follows.
        if revives_disabled {
            template.reinstating_report_at = template.reinstating_report_at.max(Some(e.at));
        }
        if e.status != TemplateEvent::Deleted {
            // Provider events are applied by their own instant: one older than the latest
            // applied arrived late (a retried webhook) and must not undo what came after it;
            // a disable may still hold through what came after it.
            if template
                .last_provider_event_at
                .is_some_and(|last| e.at < last)
            {
                if revives_disabled && self.take_back_disable(t, e, now) {
                    return Ok(());
                }
                match e.status {
                    TemplateEvent::Disabled => self.late_disable(t, e.at, now),
                    TemplateEvent::Unpaused | TemplateEvent::Approved => {
                        self.late_pause_end(t, e.at, now)
                    }
                    TemplateEvent::Reinstated => self.late_reinstatement(t, e.at, now),
                    // A flag followed in order by nothing but pauses and their ends: they
                    // kept it (§5).
                    TemplateEvent::Flagged
                        if self.templates[t as usize].late_flag_report_stood(
                            e.at,
                            self.flag_deadline_of(e),
                            low_flags_for,
                        ) =>
                    {
                        let deadline = self.flag_deadline_of(e);
                        self.keep_late_flag(t, deadline, e.at, now);
                    }
                    // Any other status dated after the pause began came after a report that
                    // ended it, if one did: a late end dated before this one is unknown
                    // ground, and the pause stands (paused again, or whatever came between).
                    _ => {
                        let template = &mut self.templates[t as usize];
                        if template.status == TemplateStatus::Paused {
                            template.paused_at = template.paused_at.max(Some(e.at));
                        }
                    }
                }
                if let Some(found) = found.filter(|_| e.status != TemplateEvent::Disabled) {
                    self.keep_report(t, found, e, false);
                }
                return Ok(());
            }
            // Of two at one instant one stands, whatever the order, so that a redelivery of
            // the other does not flip the status back: a disable, then the greater
            // fingerprint, as for quality and category reports. The disable first because
            // applied after another status it disables the template, while a pause, a flag
            // or a review applied after it is refused (the template awaits reinstatement):
            // by fingerprint, which stood depended on the arrival order.
            let disable = e.status == TemplateEvent::Disabled;
            let content = (e.status, e.until, e.category);
            if !(template.status_event).admit_prevailing(e.at, disable, &content) {
                return Ok(());
            }
        }
        template.last_provider_event_at = template.last_provider_event_at.max(Some(e.at));
        if matches!(
            e.status,
            TemplateEvent::Approved | TemplateEvent::Unpaused | TemplateEvent::Reinstated
        ) {
            // The newest status says the template was sendable from `at`: a pause counted
            // over that instant ended there, whether or not its timer has run since.
            template.end_counted_pause_at(e.at);
        }
        if let Some(pause) = e.pause.filter(|_| e.status == TemplateEvent::Paused) {
            // The provider's own word on its ladder, as the newest pause counted: its
            // strikes so far are this pause's place (its span for counting them is its own,
            // RULES.md §5), unless a later pause is counted already.
            let newest = (template.counted_pauses.last()).is_none_or(|&(start, _)| start <= e.at);
            if newest {
                template.pause_strikes = pause;
            }
        }
        // A report of a pause the engine counted already (its own, for the rating behind it),
        // over by the clock when the report arrives, on a template that is now as the pause's
        // end leaves it (approved, or flagged): the host was told of that pause and of its
        // end, so the report changes nothing, as the same report delivered again does (§10).
        // Applied, it told of the pause again, then of its end dated before that. (A pause the
        // engine did not know is told, with its end, in this output: scenario 390.)
        if let (TemplateEvent::Paused, Some(end), true) = (e.status, e.until, known_pause) {
            let status = template.status;
            if end <= now
                && matches!(status, TemplateStatus::Approved | TemplateStatus::Flagged)
                && template.status_at(now).0 == status
            {
                return Ok(());
            }
        }
        if self.report_before_deadline_disable(t, e, now) {
            return Ok(());
        }
        let template = &mut self.templates[t as usize];
        // A status from before the latest rating that changed the status, arriving after it
        // (§13: by instants, not arrival): in order, that rating acted on this status. One
        // that leaves the template approved when it was rated (an approval, or a pause over
        // by then) is what the rating's pause, flag or disable followed, so that stands: a
        // late approval must not make a paused template sendable. At the rating's own
        // instant the two cannot be ordered, and the rating stands, in either arrival order.
        // Any other status is the one the rating found, and holds.
        // Under the ladder a flag is such a status too (a low rating pauses a flagged
        // template), and the flag outlives the rating's pause.
        let approved_when_rated = |rated_at: Instant| match e.status {
            TemplateEvent::Approved | TemplateEvent::Unpaused | TemplateEvent::Reinstated => true,
            TemplateEvent::Paused => e.until.is_some_and(|until| until <= rated_at),
            TemplateEvent::Flagged => ladder_pauses.is_some(),
            _ => false,
        };
        let found_by_rating = template
            .quality_status_at
            .filter(|&rated_at| e.at <= rated_at);
        // Unless the status now is one no rating leaves (review and the like): a report older
        // than the rating set it, applied after the rating as the status the rating found.
        // This one is dated between the two, so in order it is what the rating found: it is
        // applied, and the rating acts on it again below.
        let set_by_a_found_status = matches!(
            template.status_at(now).0,
            TemplateStatus::Pending
                | TemplateStatus::Rejected
                | TemplateStatus::InAppeal
                | TemplateStatus::PendingDeletion
                | TemplateStatus::LimitExceeded
                | TemplateStatus::Archived
        );
        if found_by_rating.is_some_and(approved_when_rated) && !set_by_a_found_status {
            if e.status == TemplateEvent::Flagged {
                let deadline = self.flag_deadline_of(e);
                self.keep_late_flag(t, deadline, e.at, now);
            }
            return Ok(());
        }
        // A disabled template comes back only through the provider's reinstatement; until
        // then an event that would make it sendable or paused is ignored (§5), whatever
        // statuses (appeal, rejection) it passed through since.
        let reinstating = e.status.reinstates();
        if template.awaiting_reinstatement && e.status.refused_while_disabled() {
            if let Some(found) = found {
                self.keep_report(t, found, e, true);
            }
            return Ok(());
        }
        if reinstating {
            template.awaiting_reinstatement = false;
        }
        // The status the rating found, if one a low rating does not pause (review, a pacing
        // pause, a disable...): the strike the rating counted was none. (A timed pause that
        // covers the rating is the strike itself, counted once: the two overlap.)
        let covers_rating = |rated_at: Instant| {
            e.status == TemplateEvent::Paused && e.until.is_some_and(|until| until > rated_at)
        };
        if let Some(rated_at) = found_by_rating.filter(|&rated_at| !covers_rating(rated_at)) {
            template.uncount_pause_from(rated_at);
        }
        let Some(mut to) = e.status.status() else {
            return Ok(()); // a lock or unlock, applied above
        };
        let mut until = match e.status {
            TemplateEvent::Paused => e.until,
            TemplateEvent::Flagged => Some(self.flag_deadline_of(e)),
            _ => None,
        };
        let template = &mut self.templates[t as usize];
        // The end of a pause leaves a flag the pause kept: Meta reports every pause's end as
        // `APPROVED` titled UNPAUSE (`unpaused`, facts §5.3), and a flagged template is an
        // approved one (§5.1). So an `approved` ending a pause, or an `unpaused` however
        // late (the timer may have ended the pause first), leaves the template flagged.
        // Only a reinstatement lifts the flag (or a recovery, or a new review).
        let ends_a_pause = match e.status {
            TemplateEvent::Unpaused => true,
            TemplateEvent::Approved => template.status == TemplateStatus::Paused,
            _ => false,
        };
        if ends_a_pause {
            (to, until) = template.after_pause();
        }
        // A flag from before a recovery, arriving after it: in order the recovery lifted it.
        if e.status == TemplateEvent::Flagged && template.flag_lifted_since(e.at) {
            return Ok(());
        }
        // A flag for a paused template is kept under the pause (the flag marks the template;
        // the pause still stops its sends).
        if let (TemplateEvent::Flagged, TemplateStatus::Paused, Some(deadline)) =
            (e.status, template.status, until)
        {
            let flag = Some((deadline, e.at));
            self.set_flag_under_pause(t, flag, TemplateChangeReason::Provider, now);
            return Ok(());
        }
        // The provider's own disable: no late recovery takes it back.
        if e.status == TemplateEvent::Disabled {
            template.disabled_at_deadline = None;
            template.cut_pause = None;
        }
        // The same flag reported again (its deadline unchanged) was set again then.
        if e.status == TemplateEvent::Flagged && template.flag_deadline == until {
            template.flag_reported_again(e.at);
        }
        let repeated = template.status == to
            && match to {
                TemplateStatus::Paused => template.paused_until == until,
                TemplateStatus::Flagged => template.flag_deadline == until,
                _ => true,
            };
        if repeated {
            if to == TemplateStatus::Paused {
                // Paused as of then too: a late end of the pause must be later still.
                template.paused_at = template.paused_at.max(Some(e.at));
            }
            return Ok(()); // a repeated event changes nothing
        }
        self.set_template_status(t, to, until, TemplateChangeReason::Provider, e.at, now);
        self.rate_after_late_status(t, e.at, now);
        Ok(())
    }

    /// An `unpaused` (or an `approved`, which ends a pause too) dated `at`, before the latest
    /// status applied, arriving after it, on a template paused since before `at`: in order
    /// it ended that pause, and the statuses after it found the template as the end left it
    /// (a flag applied since is kept under the pause). The pause ends now, as the report
    /// would have ended it in time: `flagged` if it kept a flag, else `approved`; a rating
    /// since then acts on that. Left alone, a pause without an end (pacing) never ended.
    fn late_pause_end(&mut self, t: u32, at: Instant, now: Instant) {
        let template = &self.templates[t as usize];
        if !template.paused_before(at) || template.awaiting_reinstatement {
            return;
        }
        let (to, until) = template.after_pause();
        self.set_template_status(t, to, until, TemplateChangeReason::Provider, at, now);
        self.rate_after_late_status(t, at, now);
    }

    /// A `reinstated` dated `at`, before the latest status applied, arriving after it, on a
    /// template not disabled: in order it lifted both the pause and the flag then in force
    /// (§5: a flag ends only by a recovery or a reinstatement), so a pause in force since
    /// before `at` ends now, and a flag set at or before `at` goes, or it would disable the
    /// template at its deadline. A flag or a pause reported after it stands. (On a disabled
    /// template it is ordered out as any older status, unless it takes back the disable
    /// first: `take_back_disable`.)
    fn late_reinstatement(&mut self, t: u32, at: Instant, now: Instant) {
        let template = &self.templates[t as usize];
        if template.awaiting_reinstatement {
            return;
        }
        let flag_lifted = template.flag_deadline.is_some()
            && template
                .flagged_at
                .is_some_and(|flagged_at| flagged_at <= at);
        let reason = TemplateChangeReason::Provider;
        match (template.status, template.paused_before(at), flag_lifted) {
            (TemplateStatus::Paused, true, _) => {
                let (to, until) = if flag_lifted {
                    (TemplateStatus::Approved, None)
                } else {
                    template.after_pause()
                };
                self.set_template_status(t, to, until, reason, at, now);
            }
            (TemplateStatus::Paused, false, true) => {
                self.set_flag_under_pause(t, None, reason, now)
            }
            (TemplateStatus::Flagged, _, true) => {
                self.set_template_status(t, TemplateStatus::Approved, None, reason, at, now)
            }
            _ => return,
        }
        self.rate_after_late_status(t, at, now);
    }

    /// A `disabled` dated `at`, before the latest status applied, arriving after it. In
    /// order the statuses after it found the template disabled, and only a reinstatement
    /// revives a disabled template (§5): unless one was reported after the disable, the
    /// template awaits reinstatement, and a status it would not have taken disabled (an
    /// unarchiving's approval, a pause, a flag, a review) gives way to the disable, told now.
    /// Those a disabled template passes through (an appeal, an archive, a rejection, a
    /// deletion) stand. It was not rateable from the disable on (a late low dated since
    /// counts no strike), and no late recovery takes the provider's disable back. Strikes
    /// counted since stay (a provider's pause report counts one whatever the status). At
    /// one instant a disable prevails, as in the ordering below. One dated before the
    /// template's registration holds too: it may be news the registration did not have (a
    /// webhook retried after the host restarted and registered its templates again).
    fn late_disable(&mut self, t: u32, at: Instant, now: Instant) {
        let template = &mut self.templates[t as usize];
        if (template.reinstating_report_at).is_some_and(|r| r > at) {
            return;
        }
        // A revival dated after this disable (and after what stands undoable before it)
        // may still arrive: it takes them back, to the template as it was before them.
        let standing = template.disable_undo.take();
        let mut undo = match standing.filter(|undo| template.stands_as(&undo.after)) {
            Some(undo) => undo,
            None => DisableUndo::back_to(template.clone()),
        };
        undo.disabled = Some(match undo.disabled {
            Some((earliest, latest)) => (earliest.min(at), latest.max(at)),
            None => (at, at),
        });
        template.awaiting_reinstatement = true;
        let rateable_before = template.rateable_before(at);
        template.disabled_at_deadline = None;
        template.cut_pause = None;
        let passed_through_disabled = matches!(
            template.status,
            TemplateStatus::Disabled
                | TemplateStatus::InAppeal
                | TemplateStatus::Archived
                | TemplateStatus::Rejected
                | TemplateStatus::PendingDeletion
                | TemplateStatus::Deleted
        );
        if !passed_through_disabled {
            let reason = TemplateChangeReason::Provider;
            self.set_template_status(t, TemplateStatus::Disabled, None, reason, at, now);
        }
        // From `at` on it was never rateable: the changes recorded since did not happen.
        let template = &mut self.templates[t as usize];
        template.not_rateable_since(at, rateable_before);
        undo.after = template.clone();
        template.disable_undo = Some(undo);
    }

    /// Report `e`, on template `t` awaiting reinstatement, which it `found` so and left so
    /// (`refused` by the disable, or ordered out as late): kept to apply again should a
    /// revival dated before it arrive after it (`take_back_disable`), with the reports kept
    /// before it while nothing else changed the template, at most [`REPORTS_KEPT`] (then
    /// none is: a known gap). Only a refused report starts a list.
    fn keep_report(&mut self, t: u32, found: Template, e: &TemplateStatusUpdate, refused: bool) {
        let template = &mut self.templates[t as usize];
        let standing = template.disable_undo.take();
        let mut undo = match standing.filter(|undo| found.stands_as(&undo.after)) {
            Some(undo) => undo,
            None if refused => DisableUndo::back_to(found),
            None => return,
        };
        let report = KeptReport::of(e);
        // A report delivered again is kept once.
        if !undo.reports.contains(&report) {
            if undo.reports.len() == REPORTS_KEPT {
                return;
            }
            undo.reports.push(report);
        }
        undo.after = template.clone();
        template.disable_undo = Some(undo);
    }

    /// Report `e` reviving template `t` (`approved`, `reinstated`, `unpaused`), dated
    /// before the latest status applied and delivered after a late disable, or after
    /// reports the disable in force refused or ordered out: in order it came before them
    /// (after the late disable), and the template it revived took them. The template is
    /// put back as it was before them; `e` is applied to it, and the reports kept after
    /// it, by their instants (the late disable stays ordered out: `e` came after it). After
    /// a late disable any revival is a reinstatement: the disable had ended the flag and
    /// pause in force, and the statuses dated between them found the template disabled.
    /// The host is told one change, from the disabled template it knew to the template
    /// now. Nothing is taken back if anything else changed the template since (another
    /// status, a rating, a lock, an edit), if `e` is dated at or before the late disable, or
    /// if the template before it holds what a rating or a send failure dated between the
    /// disable and `e` set: it awaits the next reinstatement (a known gap). Returns whether
    /// `e` was applied so.
    fn take_back_disable(&mut self, t: u32, e: &TemplateStatusUpdate, now: Instant) -> bool {
        let template = &mut self.templates[t as usize];
        let Some(undo) = template.disable_undo.take() else {
            return false;
        };
        if !template.stands_as(&undo.after) {
            return false;
        }
        let revives_before = match undo.disabled {
            // In order the late disables came first, and what is dated from the earliest to
            // `e` found the template disabled: the state before them must hold none of it.
            Some((earliest, latest)) => {
                e.at > latest && !(undo.before).holds_a_change_between(earliest, e.at)
            }
            // With reports refused or ordered out alone, a revival older than the template
            // before them would be ordered out there too: nothing to take back.
            None => (undo.before.last_provider_event_at).is_none_or(|last| e.at >= last),
        };
        if !revives_before {
            template.disable_undo = Some(undo);
            return false;
        }
        let told = (
            template.status,
            template.paused_until,
            template.flag_deadline,
        );
        let effects_before = self.effects.len();
        let DisableUndo {
            disabled,
            before,
            mut reports,
            ..
        } = *undo;
        let template = &mut self.templates[t as usize];
        *template = template.as_now(&before);
        let mut revival = e.clone();
        if let Some((earliest, _)) = disabled {
            template.not_rateable_between(earliest, e.at);
            revival.status = TemplateEvent::Reinstated;
        }
        // Neither can be refused: the revival passed the same checks just now, and the
        // reports when they arrived, under this policy's template rules (which
        // `change_policy` keeps; a restore checks them too). Each is applied with the
        // template's deadlines run up to its own instant and none later (the engine-wide
        // timers it runs first would fire them by the clock).
        reports.sort_by_key(|report| report.at);
        let revival = std::iter::once((revival, false));
        let again = reports
            .into_iter()
            .map(|report| (report.update(e), report.failure));
        for (report, failure) in revival.chain(again) {
            self.run_template_deadlines(t, report.at);
            self.timers.disarm(TimerKey::TemplateDeadline(t));
            let found = self.template_pause(t);
            let _ = self.apply_template_status(&report);
            if failure {
                self.note_failure_pause(t, found, report.at);
            }
        }
        self.run_template_deadlines(t, now);
        // One change told, not the steps taken to reach it.
        let steps = self.effects.split_off(effects_before);
        let others = steps
            .into_iter()
            .filter(|effect| !matches!(effect, Effect::TemplateStatusChanged { .. }));
        self.effects.extend(others);
        let template = &self.templates[t as usize];
        if (
            template.status,
            template.paused_until,
            template.flag_deadline,
        ) != told
        {
            let until = match template.status {
                TemplateStatus::Paused => template.paused_until,
                _ => template.flag_deadline,
            };
            self.push_status_changed(t, told.0, until, TemplateChangeReason::Provider, now);
        }
        true
    }

    /// Runs template `t`'s deadlines due by `now` at their own instants (a pause's end, then
    /// a flag's: at most two), and arms its timer for the next.
    fn run_template_deadlines(&mut self, t: u32, now: Instant) {
        for _ in 0..2 {
            match self.templates[t as usize].next_deadline() {
                Some(deadline) if deadline <= now => self.template_timer(t, now),
                _ => break,
            }
        }
        self.arm_template_timer(t);
    }

    /// A provider status dated `since` applied after the latest rating, rated then or later,
    /// had arrived: in order that rating came after the status and acted on it. A `low` that
    /// found the template in review (or in another status a low changes nothing in) changed
    /// nothing when it arrived; on the template this status leaves approved it pauses it
    /// (pause ladder) or flags it (classic) from its own instant, as in order. A rating at
    /// the status's own instant too: the two cannot be ordered, and the rating stands, in
    /// either arrival order. (Under the ladder a strike counted already, its pause
    /// overlapping, counts nothing.)
    fn rate_after_late_status(&mut self, t: u32, since: Instant, now: Instant) {
        if let TemplateQualityRule::PauseLadder { .. } = &self.policy.templates.quality_rule {
            return self.strike_low_rated_since(t, since, now);
        }
        let template = &self.templates[t as usize];
        let Some(rated_at) = template.low_rated_since(since) else {
            return;
        };
        if template.status_at(now).0 == TemplateStatus::Approved {
            let deadline = rated_at.plus(self.policy.templates.flag_for);
            let flagged = TemplateStatus::Flagged;
            self.set_status_for_rating(t, flagged, Some(deadline), rated_at, now);
        }
    }

    /// The deadline of a provider's `flagged` report: its own disable date, or by default
    /// `flag_for` from the report's own instant (§13), as a quality flag's: a late report
    /// gives the same deadline.
    fn flag_deadline_of(&self, e: &TemplateStatusUpdate) -> Instant {
        e.until
            .unwrap_or_else(|| e.at.plus(self.policy.templates.flag_for))
    }

    /// A provider's flag from before a low rating that paused the template (pause ladder),
    /// arriving after it: in order, the rating paused the flagged template and the flag
    /// outlived the pause (and so for one followed only by pauses and their ends). So the
    /// flag is kept under the pause, or, with the pause over, the template is flagged now,
    /// a flag in force taking this one's deadline (and disabled at once if the deadline has
    /// passed), unless a recovery rated after the flag would have lifted it.
    fn keep_late_flag(&mut self, t: u32, deadline: Instant, flagged_at: Instant, now: Instant) {
        let template = &mut self.templates[t as usize];
        if template.flag_lifted_since(flagged_at) {
            return;
        }
        match template.status {
            TemplateStatus::Paused => {
                let flag = Some((deadline, flagged_at));
                self.set_flag_under_pause(t, flag, TemplateChangeReason::Provider, now);
            }
            // A flag in force when it came: it set the deadline anew, as it did in order.
            TemplateStatus::Approved | TemplateStatus::Flagged
                if template.status == TemplateStatus::Approved
                    || template.flag_deadline != Some(deadline) =>
            {
                self.set_template_status(
                    t,
                    TemplateStatus::Flagged,
                    Some(deadline),
                    TemplateChangeReason::Provider,
                    flagged_at,
                    now,
                );
                self.template_timer(t, now);
            }
            _ => {}
        }
    }

    /// The provider changed a template's category (§5, §11): sends from then on are priced
    /// and consent-checked under the new one. Changes are applied in the provider's order
    /// (§10): a late or repeated one changes nothing. A deleted template keeps its last.
    pub fn template_category(&mut self, e: &TemplateCategoryUpdate) -> Result<(), Error> {
        let business = self.business_idx(&e.business)?;
        let t = self.template_idx(business, &e.name, &e.language)?;
        self.handle_timeout(e.at);
        if self.templates[t as usize].status != TemplateStatus::Deleted {
            self.change_category(t, e.category, e.at);
        }
        Ok(())
    }

    /// The provider reported a template's text after an edit (§5), wherever it was made: sends
    /// from then on are checked against it. Validated as a registration is; applied in the
    /// provider's order (§10), so a late or repeated report changes nothing. The status is
    /// the status events' to say (an edit is reviewed), and the buttons are kept.
    pub fn template_components(&mut self, e: &TemplateComponentsUpdate) -> Result<(), Error> {
        let business = self.business_idx(&e.business)?;
        let t = self.template_idx(business, &e.name, &e.language)?;
        let mut spec = self.templates[t as usize].spec.clone();
        spec.body = e.body.clone();
        spec.header = e.header.clone();
        spec.footer = e.footer.clone();
        let variables = spec.checked(&self.policy)?;
        self.handle_timeout(e.at);
        let template = &mut self.templates[t as usize];
        if template.status != TemplateStatus::Deleted
            && template.components_event.admit(e.at, &text_of(&spec))
        {
            template.note_text_change(&spec, e.at);
            template.spec = spec;
            template.variables = variables;
        }
        Ok(())
    }

    /// Sets a template's category as the provider reported it at `since`, unless a change
    /// from after it (or this one) was applied already, and tells the host.
    fn change_category(&mut self, t: u32, category: TemplateCategory, since: Instant) {
        let template = &mut self.templates[t as usize];
        if !template.category_event.admit(since, &category) {
            return;
        }
        let from = template.spec.category;
        if from == category {
            return;
        }
        template.spec.category = category;
        let template = &self.templates[t as usize];
        self.effects.push_back(Effect::TemplateCategoryChanged {
            business: self.businesses[template.business as usize].name.clone(),
            name: template.spec.name.clone(),
            language: template.spec.language.clone(),
            from,
            to: category,
            since,
            at: self.clock,
        });
    }

    pub(crate) fn template_timer(&mut self, t: u32, now: Instant) {
        let template = &self.templates[t as usize];
        let Some(deadline) = template.next_deadline() else {
            return;
        };
        if deadline > now {
            self.timers.arm(TimerKey::TemplateDeadline(t), deadline);
            return;
        }
        // What is in force from the deadline on: disabled at the flag's, else the pause's
        // end, leaving the flag it kept (or an approved template).
        let (to, until) = template.status_at(deadline);
        let reason = if to == TemplateStatus::Disabled {
            TemplateChangeReason::FlagDeadline
        } else {
            TemplateChangeReason::PauseEnded
        };
        self.set_template_status(t, to, until, reason, deadline, deadline);
    }

    /// Edits a template (§5): disabled and deleted templates cannot be edited, nor one the
    /// provider locked; approved ones only as the policy allows; an edit sends the template
    /// back to review (`pending`).
    pub fn edit_template(&mut self, e: &EditTemplate) -> Result<(), Error> {
        let business = self.business_idx(&e.business)?;
        let t = self.template_idx(business, &e.name, &e.language)?;
        let now = e.at.max(self.clock);
        let template = &self.templates[t as usize];
        let (status, _) = template.status_at(now);
        let not_editable = |why: &str| Error::TemplateNotEditable {
            name: e.name.clone(),
            status,
            why: why.to_owned(),
        };
        let counts_as_edit = matches!(status, TemplateStatus::Approved | TemplateStatus::Flagged);
        match status {
            TemplateStatus::Disabled
            | TemplateStatus::Deleted
            | TemplateStatus::PendingDeletion => {
                return Err(not_editable("only a new template can replace it"));
            }
            // A disabled template under appeal (or rejected, or archived since) is still a
            // disabled one (§5): only the provider's reinstatement brings it back, and an
            // edit would send it to review, where no provider status of the appeal can.
            _ if template.awaiting_reinstatement => {
                return Err(not_editable(
                    "it was disabled and is not reinstated; only a new template can replace it",
                ));
            }
            // The provider would refuse the edit (Meta: "Locked and cannot be edited"),
            // whatever the status and the edit limits; its unlock allows edits again.
            _ if template.locked => {
                return Err(not_editable(
                    "the provider locked it against editing until it is unlocked",
                ));
            }
            _ if counts_as_edit => match &self.policy.templates.edits {
                EditRule::Never => {
                    return Err(not_editable(
                        "approved templates cannot be edited under this policy",
                    ))
                }
                EditRule::Limited {
                    max_edits,
                    period,
                    min_interval,
                } => {
                    let recent: Vec<Instant> = template
                        .edits
                        .iter()
                        .copied()
                        .filter(|t| t.plus(*period) > now)
                        .collect();
                    // The oldest recent edit frees a slot; `validate` keeps `max_edits` ≥ 1,
                    // so a full period has one.
                    let next_by_count = recent
                        .first()
                        .filter(|_| recent.len() as u32 >= *max_edits)
                        .map(|t| t.plus(*period));
                    let next_by_interval = recent
                        .last()
                        .map(|t| t.plus(*min_interval))
                        .filter(|t| *t > now);
                    if let Some(next_edit_at) =
                        next_by_count.into_iter().chain(next_by_interval).max()
                    {
                        return Err(Error::TemplateEditLimit {
                            name: e.name.clone(),
                            max_edits: *max_edits,
                            period: *period,
                            min_interval: *min_interval,
                            next_edit_at,
                        });
                    }
                }
            },
            _ => {}
        }
        let mut spec = template.spec.clone();
        spec.body = e.body.clone();
        if let Some(header) = &e.header {
            spec.header = Some(header.clone());
        }
        if let Some(footer) = &e.footer {
            spec.footer = Some(footer.clone());
        }
        if let Some(buttons) = &e.buttons {
            spec.buttons = buttons.clone();
        }
        if let Some(category) = e.category {
            spec.category = category;
        }
        let variables = spec.checked(&self.policy)?;
        self.handle_timeout(e.at);
        let now = self.clock;
        let period = match &self.policy.templates.edits {
            EditRule::Limited { period, .. } => Some(*period),
            EditRule::Never => None,
        };
        let template = &mut self.templates[t as usize];
        // The edited template is back in review: a provider status from before the edit (by
        // the edit's own instant), arriving late, is about the version it replaced and must
        // not undo the review (a late approval would make the unreviewed edit sendable). One
        // from after it is the review's, even when the clock has passed it (another
        // contact's traffic) before the edit arrived.
        template.last_provider_event_at = template.last_provider_event_at.max(Some(e.at));
        if e.category.is_some() {
            // The business's own category, resubmitted for review: a provider change from
            // before it, arriving late, does not undo it.
            template.category_event.admit(e.at, &spec.category);
        }
        // Likewise its text: a provider report of an earlier edit, arriving late, does not.
        template.components_event.admit(e.at, &text_of(&spec));
        template.note_text_change(&spec, e.at);
        template.spec = spec;
        template.variables = variables;
        if counts_as_edit {
            template
                .edits
                .retain(|t| period.is_some_and(|p| t.plus(p) > now));
            template.edits.push(now);
        }
        self.set_template_status(
            t,
            TemplateStatus::Pending,
            None,
            TemplateChangeReason::Edited,
            now,
            now,
        );
        Ok(())
    }
}

/// A template's text, as its reports are told apart: body, header and footer.
fn text_of(spec: &crate::template::TemplateSpec) -> (&str, Option<&str>, Option<&str>) {
    (&spec.body, spec.header.as_deref(), spec.footer.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> Instant {
        Instant::from_unix_millis(1_793_000_000_000 + hour * 3_600_000).expect("in range")
    }

    fn approved_template() -> Template {
        let mut engine = Engine::with_preset("cloud-2025").expect("a preset");
        let out = engine.handle_json(
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"marketing","body":"Hello {{1}}.","status":"approved"}"#,
        );
        assert!(!out[0].contains("error"), "{out:?}");
        engine.templates.swap_remove(0)
    }

    #[test]
    fn the_status_at_a_rating_is_the_one_now_flipped_by_each_later_change() {
        let mut t = approved_template();
        assert!(t.rateable_at(at(0)));
        // In review from 10 to 20: rateable before 10 and from 20.
        t.status = TemplateStatus::Pending;
        t.record_rateable_change(at(10));
        assert!(t.rateable_at(at(9)) && !t.rateable_at(at(10)) && !t.rateable_at(at(19)));
        t.status = TemplateStatus::Approved;
        t.record_rateable_change(at(20));
        assert!(t.rateable_at(at(9)) && !t.rateable_at(at(15)) && t.rateable_at(at(20)));
    }

    #[test]
    fn changes_are_dropped_in_pairs_so_the_oldest_ratings_keep_their_status() {
        let mut t = approved_template();
        // Back in review and approved again, over and over, from hour 10 on.
        for i in 0..(RATEABLE_CHANGES_KEPT as i64) {
            t.status = TemplateStatus::Pending;
            t.record_rateable_change(at(10 + 2 * i));
            t.status = TemplateStatus::Approved;
            t.record_rateable_change(at(11 + 2 * i));
        }
        assert_eq!(t.rateable_changes.len(), RATEABLE_CHANGES_KEPT);
        // Before every change, the template was approved, as it is now.
        assert!(t.rateable_at(at(0)));
        // In the latest review, and after it.
        let last = 10 + 2 * (RATEABLE_CHANGES_KEPT as i64 - 1);
        assert!(!t.rateable_at(at(last)) && t.rateable_at(at(last + 1)));
    }
}
