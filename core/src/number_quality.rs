//! Number quality and restrictions (RULES.md §6).
//!
//! | state     | input                          | next      | effects                                   |
//! |-----------|--------------------------------|-----------|-------------------------------------------|
//! | connected | quality low                    | flagged   | `number_flagged` (deadline = rating's `at` + 7 days) |
//! | flagged   | quality medium/high            | connected | `number_flag_cleared` (recovered), limit unchanged |
//! | flagged   | deadline reached               | connected | `number_flag_cleared` (deadline), `limit_changed` (`downgrade_levels` below the level at the flag's start, or below the level now if higher; never raised) |
//! | connected | quality medium/high rated before that deadline, delivered after it | connected | `limit_changed` (`recovered`): the downgrade taken back, unless the limit changed or the provider reported it since |
//! | connected | quality low rated before upgrades of the limit, delivered after them | flagged | `number_flagged`, `limit_changed` (`upgrade_taken_back`): in order the flag barred them; unless the engine lowered the limit since or the provider reported it at or after the rating |
//! | flagged   | quality low rated before the flag, no recovery since, delivered late | flagged | `number_flagged` (deadline from the late low's `at`) |
//! | connected, or flagged since after the recovery | quality low rated between a rating not low and a recovery (the ratings kept), delivered late | as it was | `number_flagged`, `limit_changed` (`upgrade_taken_back`), `number_flag_cleared` (recovered, or deadline with its downgrade); a flag in force `number_flagged` again |
//! | flagged   | quality medium/high rated after the flag's start, before a later low, delivered after it | flagged | `number_flagged` (deadline from the later low's `at`) |
//! | any       | restriction (scope, until)     | —         | `number_restricted`                       |
//! | any       | restriction ends or is lifted  | —         | `number_restriction_ended`                |

use serde::{Deserialize, Serialize};

use crate::decision::Initiator;
use crate::effect::Effect;
use crate::engine::{check_ends_after, Engine};
use crate::event::{NumberQualityUpdate, NumberRestrictionUpdate, RestrictionLifted};
use crate::latest_by_instant::Beside;
use crate::limits::LimitChangeReason;
use crate::number::{ExpiredFlag, FlagDowngrade, RepeatedLow, Restriction, RestrictionScope};
use crate::provider_order::Arrival;
use crate::template::Quality;
use crate::time::Instant;
use crate::timers::TimerKey;
use crate::Error;

/// Why a number's flag was cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagClearReason {
    /// Quality went back to medium or high before the deadline.
    Recovered,
    /// The deadline passed; the limit went down.
    Deadline,
}

impl Engine {
    /// A provider quality rating for a number. Ratings are the official channel's (§6): one
    /// for another channel's number is refused, since its flag's deadline would lower the
    /// limit, under a business-wide limit that of the business's WhatsApp numbers.
    pub fn number_quality(&mut self, e: &NumberQualityUpdate) -> Result<(), Error> {
        // A late low's flag runs from its own instant, and its deadline may have passed.
        self.apply_number_quality(e)?;
        self.fire_passed();
        Ok(())
    }

    fn apply_number_quality(&mut self, e: &NumberQualityUpdate) -> Result<(), Error> {
        let n = self.official_number_idx(&e.number, "a quality rating")?;
        self.handle_timeout(e.at);
        let recovery = e.quality.is_recovery();
        let state = &mut self.numbers[n as usize];
        let previous_at = state.quality_event.latest_at();
        let arrival = state.quality_event.arrival(e.at, &e.quality);
        // A recovery that stands, or came before the latest rating: not one that lost to
        // another rating of its own instant (which stands in its place).
        let lost_a_tie = arrival == Arrival::Older && state.quality_event.latest_at() == Some(e.at);
        if recovery && !lost_a_tie {
            state.recovered_at = state.recovered_at.max(Some(e.at));
        }
        match arrival {
            Arrival::New => {}
            Arrival::Repeat => return Ok(()), // the same report again (§10)
            // Older than the latest rating: the latest holds the quality, but a low or a
            // recovery may have set or lifted the flag in force earlier in order.
            Arrival::Older => {
                if !self.late_rating_before_repeated_low(n, e.at, e.quality) {
                    self.late_rating_under_flag(n, e.at, e.quality);
                }
                self.late_recovery_before_lowering_deadline(n, e.at, e.quality);
                self.late_low_before_recovery(n, e.at, e.quality);
                self.numbers[n as usize]
                    .recent_ratings
                    .note(e.at, e.quality);
                return Ok(());
            }
        }
        self.numbers[n as usize]
            .recent_ratings
            .note(e.at, e.quality);
        // Any rating that arrives in order ends a run of repeats (another repeat extends it).
        let repeated = self.numbers[n as usize].repeated_low.take();
        let now = self.clock;
        let number_name = self.number_address(n);
        let state = &mut self.numbers[n as usize];
        // A rating dated within a flag whose deadline already lowered the limit belongs to
        // that flag: a recovery takes the downgrade back, a low changes nothing more (in
        // order it came while flagged). A rating dated after the deadline settles it.
        let within_lowered_flag = state.downgraded_at_deadline.filter(|d| e.at < d.at);
        // A low repeating a low changes nothing, so it settles nothing either: a recovery
        // rated before the deadline, delivered after it, still takes the downgrade back.
        let repeats_low = e.quality == Quality::Low && state.quality == Quality::Low;
        if !repeats_low && (within_lowered_flag.is_none() || e.quality != Quality::Low) {
            state.downgraded_at_deadline = None;
        }
        let from = state.quality;
        state.quality = e.quality;
        if from != e.quality {
            self.effects.push_back(Effect::NumberQualityChanged {
                number: number_name.clone(),
                from,
                to: e.quality,
                at: now,
            });
        }
        let state = &mut self.numbers[n as usize];
        match (e.quality, state.flagged_until) {
            (Quality::Low, None) if within_lowered_flag.is_some() => {}
            // Rated low already (its flag ran to its deadline): the quality did not become
            // low (§6), so no new flag and no second downgrade 7 days on (a host polling the
            // rating would otherwise lower the limit every week). Kept, with the low it
            // repeats, for a rating between them that arrives late.
            (Quality::Low, None) if repeats_low => {
                // A run of repeats keeps the low before the first, the first and the latest.
                self.numbers[n as usize].repeated_low = match repeated {
                    Some(run) => Some(RepeatedLow { at: e.at, ..run }),
                    None => previous_at.map(|after| RepeatedLow {
                        after,
                        first: e.at,
                        at: e.at,
                    }),
                };
            }
            (Quality::Low, None) => self.flag_number(n, e.at),
            (Quality::Medium | Quality::High, Some(_)) => {
                state.flagged_until = None;
                state.limit_level_at_flag = None;
                self.timers.disarm(TimerKey::NumberFlag(n));
                self.effects.push_back(Effect::NumberFlagCleared {
                    number: number_name,
                    reason: FlagClearReason::Recovered,
                    at: now,
                });
            }
            // A recovery before the flag's deadline, arriving after the engine lowered the
            // limit at it: in time, the flag was lifted with the limit unchanged (§6, §13).
            (Quality::Medium | Quality::High, None) => {
                self.lift_ran_out_flag(n, e.at, within_lowered_flag);
            }
            _ => {}
        }
        if e.quality != Quality::Low && self.numbers[n as usize].channel.has_service_window() {
            // Usage may have met the upgrade threshold while quality held the upgrade back;
            // otherwise only the next recorded send would look again, and with the limit
            // full none is recorded (§7).
            self.consider_upgrade(self.limit_owner(n), now);
        }
        Ok(())
    }

    /// A rating older than the latest, which is a low that repeated the low before it
    /// (`repeated_low`): one that is not low, rated after that earlier low and at or before
    /// a repeat (at its instant it lost the tie, so it came first), was a change in order,
    /// and the next repeat a fall to low, which flags from its own instant (§6, §13) when no
    /// flag is in force: the first repeat, or for a rating after it the latest (the engine
    /// keeps the first and the latest of a run, as it keeps the latest rating). Returns
    /// whether it flagged.
    fn late_rating_before_repeated_low(
        &mut self,
        n: u32,
        rated_at: Instant,
        quality: Quality,
    ) -> bool {
        let state = &mut self.numbers[n as usize];
        let Some(repeat) = state
            .repeated_low
            .filter(|r| quality != Quality::Low && r.after < rated_at && rated_at <= r.at)
        else {
            return false;
        };
        if state.flagged_until.is_some() {
            return false;
        }
        state.repeated_low = None;
        let fall = if rated_at <= repeat.first {
            repeat.first
        } else {
            repeat.at
        };
        self.flag_number(n, fall);
        true
    }

    /// A low older than the latest rating, rated after a rating that was not low and before
    /// a recovery (as the ratings kept beside it tell), outside any flag the engine knows
    /// of (one in force since after that recovery aside): in order it flagged the number from
    /// its own instant (§6, §13) until that recovery, or until the flag's deadline, which
    /// lowered the limit, when the recovery came after it. The host hears `number_flagged`
    /// and the flag's end, and the upgrades the engine made during the flag are taken back
    /// (`upgrade_taken_back`), as for any late low that flags ([`Engine::flag_number`]); a
    /// flag in force stands, from the level then, and the host hears it again. Before, the
    /// low changed nothing, and an upgrade made while the number was in fact flagged stood,
    /// or a downgrade its deadline made in order was never made. Not when the engine changed
    /// the limit after that recovery (one at its instant came before it, under the flag): in
    /// order those changes came at other instants; nor when another number sharing the limit
    /// has a flag that may overlap it (overlapping flags lower the limit once).
    fn late_low_before_recovery(&mut self, n: u32, rated_at: Instant, quality: Quality) {
        let flag_for = self.policy.numbers.flag_for;
        let state = &self.numbers[n as usize];
        let in_a_known_flag = state.downgraded_at_deadline.is_some()
            || state.repeated_low.is_some()
            || state.expired_flag.is_some_and(|x| rated_at < x.deadline);
        if quality != Quality::Low || in_a_known_flag {
            return;
        }
        let Some(Beside {
            before,
            after: Some((recovered_at, after)),
        }) = state.recent_ratings.beside(rated_at)
        else {
            return;
        };
        if before == Some(Quality::Low) || !after.is_recovery() {
            return;
        }
        let later_flag = state.flagged_until;
        if later_flag.is_some_and(|deadline| deadline.minus(flag_for) <= recovered_at) {
            return;
        }
        let owner = self.limit_owner(n);
        let changed_since = (self.limits.get(&owner))
            .and_then(|l| l.own_changes.last())
            .is_some_and(|&(at, _)| at > recovered_at);
        // Another number's flag on a shared limit that overlaps it (flags that overlap lower
        // the limit once, and which of them did is not known here), by the deadlines known.
        let ended = recovered_at.min(rated_at.plus(flag_for));
        let overlaps = |deadline: Instant| deadline > rated_at && deadline.minus(flag_for) < ended;
        let another_flag = self.numbers_sharing(owner).any(|m| {
            let other = &self.numbers[m as usize];
            m != n
                && (other.flagged_until.is_some_and(overlaps)
                    || other.downgraded_at_deadline.is_some_and(|d| overlaps(d.at))
                    || other.expired_flag.is_some_and(|x| overlaps(x.deadline)))
        });
        if changed_since || another_flag {
            return;
        }
        // The flag in force, if any, is out of the way while the late one runs its course.
        let state = &mut self.numbers[n as usize];
        state.flagged_until = None;
        state.limit_level_at_flag = None;
        self.flag_number(n, rated_at);
        let now = self.clock;
        if rated_at.plus(flag_for) <= recovered_at {
            // Its deadline came first and lowered the limit, the number still rated low then
            // (no upgrade looked at from it); the recovery, after it, settled that (no later
            // recovery takes the downgrade back).
            let quality = std::mem::replace(&mut self.numbers[n as usize].quality, Quality::Low);
            self.number_flag_timer(n, now);
            let state = &mut self.numbers[n as usize];
            state.quality = quality;
            state.downgraded_at_deadline = None;
        } else {
            let state = &mut self.numbers[n as usize];
            state.flagged_until = None;
            state.limit_level_at_flag = None;
            self.timers.disarm(TimerKey::NumberFlag(n));
            self.effects.push_back(Effect::NumberFlagCleared {
                number: self.number_address(n),
                reason: FlagClearReason::Recovered,
                at: now,
            });
        }
        match later_flag {
            // It started after the recovery, from the level in force then: an upgrade the
            // rule made from the recovery before that start is made first (the timers due
            // run before the flag is back), and the flag starts from the level now.
            Some(deadline) => {
                // Rated as the recovery rated it until then.
                let quality = std::mem::replace(&mut self.numbers[n as usize].quality, after);
                self.consider_upgrade(owner, recovered_at);
                // Those due by its start (a timer of an input's instant fires before it); the
                // flag holds back the rest.
                self.fire_due(deadline.minus(flag_for));
                self.numbers[n as usize].quality = quality;
                let level = self.limit_level(n) as u32;
                let state = &mut self.numbers[n as usize];
                state.flagged_until = Some(deadline);
                state.limit_level_at_flag = Some(level);
                self.timers.arm(TimerKey::NumberFlag(n), deadline);
                self.effects.push_back(Effect::NumberFlagged {
                    number: self.number_address(n),
                    deadline,
                    at: now,
                });
            }
            // From the recovery on, the rule looks at upgrades again, as it did in order.
            None => self.consider_upgrade(owner, recovered_at),
        }
    }

    /// A recovery older than the latest rating, rated before a flag deadline that lowered
    /// the limit, once the low after it flags anew (a repeat made a fall, or a later flag in
    /// force since that deadline): in order it lifted that flag, which expired at no
    /// deadline, so the downgrade is taken back (`take_back_flag_downgrade`), as when the
    /// recovery arrives first (§6, §13). Not while no flag after the deadline is in force:
    /// the limit would be back up under a low that in order flagged again.
    fn late_recovery_before_lowering_deadline(
        &mut self,
        n: u32,
        rated_at: Instant,
        quality: Quality,
    ) {
        if !quality.is_recovery() {
            return;
        }
        let flag_for = self.policy.numbers.flag_for;
        let state = &mut self.numbers[n as usize];
        let Some(d) = state.downgraded_at_deadline.filter(|d| rated_at < d.at) else {
            return;
        };
        let flagged_since =
            (state.flagged_until).is_some_and(|until| until.minus(flag_for) >= d.at);
        if !flagged_since {
            return;
        }
        state.downgraded_at_deadline = None;
        self.lift_ran_out_flag(n, rated_at, Some(d));
    }

    /// A recovery rated at `rated_at`, before the deadline of the flag that ran out: in order
    /// it lifted that flag, which expired at no deadline, and the downgrade its deadline
    /// made (`lowered`, if it is still to take back) is taken back (§6, §13).
    fn lift_ran_out_flag(&mut self, n: u32, rated_at: Instant, lowered: Option<FlagDowngrade>) {
        let state = &mut self.numbers[n as usize];
        if state.expired_flag.is_some_and(|x| rated_at < x.deadline) {
            state.expired_flag = None;
        }
        if let Some(d) = lowered {
            let now = self.clock;
            self.take_back_flag_downgrade(n, d, rated_at, now);
        }
    }

    /// Flags number `n` for a low rated at `rated_at`: the flag runs from the rating's own
    /// instant (§13), as a restriction's default length does, so a late report gives the
    /// same deadline.
    fn flag_number(&mut self, n: u32, rated_at: Instant) {
        let now = self.clock;
        let number_name = self.number_address(n);
        let level = self.limit_level(n) as u32;
        let deadline = rated_at.plus(self.policy.numbers.flag_for);
        // The provider reported the limit at instants after the rating, before it arrived
        // (§10): in its order the flag started from the level before those reports, so one of
        // them that lowered the limit during the flag was the flag's downgrade, not made
        // twice; and a report dated at or after the deadline came after the deadline's
        // downgrade, and its level stands.
        let reported = if rated_at < now {
            self.provider_reports_after(n, rated_at)
        } else {
            None
        };
        if let Some((_, latest)) = reported.filter(|&(_, latest)| latest >= deadline) {
            debug_assert!(latest <= now);
            self.effects.push_back(Effect::NumberFlagged {
                number: number_name.clone(),
                deadline,
                at: now,
            });
            self.effects.push_back(Effect::NumberFlagCleared {
                number: number_name,
                reason: FlagClearReason::Deadline,
                at: deadline,
            });
            return;
        }
        self.numbers[n as usize].flagged_until = Some(deadline);
        self.timers.disarm(TimerKey::NumberFlag(n));
        self.timers.arm(TimerKey::NumberFlag(n), deadline);
        self.effects.push_back(Effect::NumberFlagged {
            number: number_name,
            deadline,
            at: now,
        });
        // A rating dated before upgrades the engine made, delivered after them: in order the
        // flag barred them (§6), so they are taken back, and the flag starts from the level
        // before them.
        let level = match reported {
            Some((before, _)) => before as u32,
            None if rated_at < now => self
                .take_back_upgrades_after(n, rated_at, now)
                .map_or(level, |l| l as u32),
            None => level,
        };
        self.numbers[n as usize].limit_level_at_flag = Some(level);
    }

    /// A rating older than the latest applied, under a flag that a low rating set: in order
    /// (§6, §13) a low with no recovery between it and the flag's start set the flag, whose
    /// deadline runs from it (the flag starts again from its instant, and from the level
    /// then); a recovery rated after the flag's start and before the latest rating, a later
    /// low, lifted the flag, and that low set it again, its deadline and level from then. The host
    /// hears `number_flagged` with the new deadline. Before, a late rating changed nothing,
    /// and the flag's deadline lowered the limit a day late, or days early.
    fn late_rating_under_flag(&mut self, n: u32, rated_at: Instant, quality: Quality) {
        let flag_for = self.policy.numbers.flag_for;
        let state = &self.numbers[n as usize];
        let Some(deadline) = state.flagged_until else {
            return;
        };
        let flagged_at = deadline.minus(flag_for);
        let latest = state.quality_event.latest_at();
        let flag_again_at = match quality {
            // No recovery since it, and no flag that ran out since it (in order the low fell
            // inside that flag and changed nothing).
            Quality::Low
                if rated_at < flagged_at
                    && state.recovered_at.is_none_or(|at| at < rated_at)
                    && state.expired_flag.is_none_or(|x| x.deadline <= rated_at) =>
            {
                Some(rated_at)
            }
            Quality::Medium | Quality::High
                if flagged_at <= rated_at && state.quality == Quality::Low =>
            {
                latest.filter(|&low_at| low_at > rated_at && low_at > flagged_at)
            }
            _ => None,
        };
        let Some(at) = flag_again_at else {
            return;
        };
        // The flag in force is replaced: its deadline, its level, and its timer.
        let state = &mut self.numbers[n as usize];
        state.flagged_until = None;
        state.limit_level_at_flag = None;
        self.flag_number(n, at);
        // A late low whose flag ran out before the flag it replaces started: in order the
        // low that set that flag came after the deadline, rated low already, and flagged
        // nothing (a repeat), until a rating between them, delivered late, makes it a fall
        // again (`late_rating_before_repeated_low`).
        if quality == Quality::Low && at.plus(flag_for) <= flagged_at {
            self.numbers[n as usize].repeated_low = Some(RepeatedLow {
                after: at,
                first: flagged_at,
                at: flagged_at,
            });
        }
    }

    pub(crate) fn number_flag_timer(&mut self, n: u32, now: Instant) {
        let Some(deadline) = self.numbers[n as usize].flagged_until else {
            return;
        };
        if deadline > now {
            self.timers.arm(TimerKey::NumberFlag(n), deadline);
            return;
        }
        self.numbers[n as usize].flagged_until = None;
        let level_at_flag = self.numbers[n as usize].limit_level_at_flag.take();
        self.numbers[n as usize].expired_flag = Some(ExpiredFlag {
            deadline,
            level_at_flag,
        });
        self.effects.push_back(Effect::NumberFlagCleared {
            number: self.number_address(n),
            reason: FlagClearReason::Deadline,
            at: deadline,
        });
        if self.numbers[n as usize].channel.has_service_window() {
            self.ensure_limit(n, deadline);
            let owner = self.limit_owner(n);
            let (level, since) = (self.limits[&owner].level, self.limits[&owner].level_since);
            let lowered = self.flag_deadline_level(level_at_flag, level);
            // A level is not lowered before it was set: a late low rating whose deadline
            // had passed when a level was reached (a late provider report holds its level
            // from its own instant, never before the level it replaced) lowers that level
            // from when it was set, so the limit's history runs forward and the state saves
            // and restores.
            let lowered_at = deadline.max(since);
            self.change_limit(owner, lowered, LimitChangeReason::Downgrade, lowered_at);
            // The flag held upgrades back (§6): usage may have met the threshold while it
            // ran, and with the limit already at its lowest level nothing else looks again
            // until the next recorded send (a recovery looks, too).
            self.consider_upgrade(owner, lowered_at);
            // A deadline of another number sharing the limit, after one that lowered it,
            // confirms that downgrade whether or not it lowered the limit again: in order
            // it would have lowered it, so a late recovery of the first no longer takes
            // it back (this number's own is kept below).
            for m in self.numbers_sharing(owner).collect::<Vec<_>>() {
                self.numbers[m as usize].downgraded_at_deadline = None;
            }
            // Kept so that a recovery rated before the deadline, delivered late, can take
            // the downgrade back.
            self.numbers[n as usize].downgraded_at_deadline = (self.limits[&owner].level != level)
                .then_some(FlagDowngrade {
                    at: lowered_at,
                    level_before: level as u32,
                    since_before: since,
                });
        }
    }

    /// A provider restriction on a number. Without `until`, a bar on business-initiated
    /// messages lasts the policy's default length from the event's instant (24h in the
    /// classic rules); any other, and one under newer rules or `until_lifted`, lasts until
    /// lifted. On a number of another channel than the official one it is
    /// [`Error::NotOnChannel`] (restrictions are the platform's).
    pub fn number_restriction(&mut self, e: &NumberRestrictionUpdate) -> Result<(), Error> {
        // The platform's restrictions (§6), as its quality ratings and limits: accepted on
        // another channel, one barred an email number's sends. (A lift is taken anywhere:
        // a number restricted while official may have moved since.)
        let n = self.official_number_idx(&e.number, "a restriction")?;
        check_ends_after(e.at, e.until)?;
        if e.until.is_some() && e.until_lifted {
            return Err(Error::InvalidEvent {
                problem: "until and until_lifted: true contradict each other: a restriction \
                          ends at `until` or when lifted, give one"
                    .into(),
            });
        }
        self.handle_timeout(e.at);
        // Restrictions and lifts of a scope are one family: a restriction reported again
        // after its lift does not restrict again.
        let content = (e.scope, e.until, e.until_lifted);
        if !self.numbers[n as usize]
            .restriction_event
            .admit(e.scope, e.at, &content)
        {
            return Ok(()); // a late or repeated restriction report (§10)
        }
        let now = self.clock;
        // The classic 24h bar on business-initiated messages (§6) is the policy's default.
        let until = (self.policy.numbers).restriction_end(e.scope, e.at, e.until, e.until_lifted);
        let restriction = Restriction {
            scope: e.scope,
            until,
        };
        // Each scope keeps its own restriction: a bar on business-initiated messages and one
        // on all messages may end at different times.
        let restrictions = &mut self.numbers[n as usize].restrictions;
        if restrictions.get(e.scope) == Some(restriction) {
            return Ok(()); // the same restriction reported again (§10)
        }
        restrictions.set(restriction);
        self.effects.push_back(Effect::NumberRestricted {
            number: self.number_address(n),
            scope: e.scope,
            until,
            at: now,
        });
        // Arms the timer for the next end; a late report of a restriction that has already
        // ended ends it in this output, not with the next input (whose own timers fire
        // first), and arms no timer in the past.
        self.restriction_timer(n, now);
        Ok(())
    }

    /// The provider lifted a number's restriction of one scope, or all of them.
    pub fn restriction_lifted(&mut self, e: &RestrictionLifted) -> Result<(), Error> {
        let n = self.number_idx(&e.number)?;
        self.handle_timeout(e.at);
        // A lift of every scope has the fingerprint lifts had before scopes were kept apart,
        // so that a snapshot's latest lift is recognised when delivered again.
        // Each scope judges the lift by its own reports: a lift older than a scope's latest
        // report (a late webhook) leaves that scope as it is (§10).
        let order = &mut self.numbers[n as usize].restriction_event;
        let lifted: Vec<RestrictionScope> = match e.scope {
            None => order.admit_all(e.at, &"lifted"),
            Some(scope) => order
                .admit(scope, e.at, &("lifted", scope))
                .then_some(scope)
                .into_iter()
                .collect(),
        };
        let now = self.clock;
        let mut ended_a_bar_on_replies = false;
        for scope in lifted {
            ended_a_bar_on_replies |= self.end_restriction(n, scope, now);
        }
        self.arm_restriction_timer(n);
        if ended_a_bar_on_replies {
            self.release_after_restriction(n, now);
        }
        Ok(())
    }

    /// Ends number `n`'s restriction of `scope`, if it holds one; returns whether it barred
    /// replies (§6), whose end may release held messages.
    fn end_restriction(&mut self, n: u32, scope: RestrictionScope, at: Instant) -> bool {
        if self.numbers[n as usize].restrictions.take(scope).is_none() {
            return false;
        }
        self.effects.push_back(Effect::NumberRestrictionEnded {
            number: self.number_address(n),
            scope,
            at,
        });
        scope.bars(Initiator::Customer)
    }

    /// One timer per number, at the earliest end among its restrictions.
    fn arm_restriction_timer(&mut self, n: u32) {
        match self.numbers[n as usize].restrictions.next_end() {
            Some(end) => self.timers.arm(TimerKey::RestrictionEnd(n), end),
            None => self.timers.disarm(TimerKey::RestrictionEnd(n)),
        }
    }

    /// Ends the restrictions whose end is `due` (the timer's instant, not the input's: a
    /// later end is re-armed and fires in its turn among the other timers), and arms the
    /// timer for the next.
    pub(crate) fn restriction_timer(&mut self, n: u32, due: Instant) {
        let mut ended_a_bar_on_replies = false;
        for scope in RestrictionScope::ALL {
            let restriction = self.numbers[n as usize].restrictions.get(scope);
            if let Some(end) = restriction.and_then(|r| r.until).filter(|end| *end <= due) {
                ended_a_bar_on_replies |= self.end_restriction(n, scope, end);
            }
        }
        self.arm_restriction_timer(n);
        if ended_a_bar_on_replies {
            self.release_after_restriction(n, due);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, Policy};

    #[test]
    fn a_restriction_reported_after_its_end_leaves_no_timer_in_the_past() {
        let mut engine = Engine::new(Policy::preset("cloud-2025").unwrap());
        for line in [
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"number_restriction","at":"2026-11-02T09:00:00Z","number":"+15550001111","scope":"business_initiated","until":"2026-11-10T00:00:00Z"}"#,
            r#"{"type":"tick","at":"2026-11-03T10:00:00Z"}"#,
            r#"{"type":"number_restriction","at":"2026-11-02T11:00:00Z","number":"+15550001111","scope":"all_messages","until":"2026-11-02T12:00:00Z"}"#,
        ] {
            let out = engine.handle_json(line);
            assert!(!out[0].contains("error"), "{line}: {out:?}");
        }
        // The late restriction ended within its own output; the next wake-up is the other
        // scope's end, not the late one's (a timer in the past would make a host spin).
        let next = engine.poll_timeout().unwrap();
        assert_eq!(next.to_rfc3339(), "2026-11-10T00:00:00Z");
    }

    /// A late rating or template status whose flag deadline or pause end has passed ends it
    /// in its own output: no timer is left in the past for `poll_timeout` to name.
    #[test]
    fn late_reports_already_over_leave_no_timer_in_the_past() {
        for policy in ["classic", "cloud-2025"] {
            let mut engine = Engine::new(Policy::preset(policy).unwrap());
            for line in [
                r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
                r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"t","language":"en","category":"utility","body":"Hello there","status":"approved"}"#,
                r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"u","language":"en","category":"utility","body":"Hello there","status":"approved"}"#,
                r#"{"type":"tick","at":"2026-11-20T00:00:00Z"}"#,
                r#"{"type":"number_quality","at":"2026-11-03T09:00:00Z","number":"+15550001111","quality":"low"}"#,
                r#"{"type":"template_quality","at":"2026-11-03T09:00:00Z","business":"acme","name":"t","language":"en","quality":"low"}"#,
                r#"{"type":"template_status","at":"2026-11-03T09:00:00Z","business":"acme","name":"u","language":"en","status":"paused","until":"2026-11-03T12:00:00Z"}"#,
            ] {
                let out = engine.handle_json(line);
                assert!(!out[0].contains("error"), "{line}: {out:?}");
                let next = engine.poll_timeout();
                assert!(
                    next.is_none_or(|t| t > engine.clock()),
                    "{policy}: after {line}: poll_timeout {next:?} is not after the clock"
                );
            }
        }
    }

    /// Classic `reach`: a flag deadline that leaves the lowest level upgrades at once when
    /// usage met twice the limit and the time at the level has passed; `check_send` and the
    /// view at the deadline, no input in between, see the upgrade `send` then makes.
    #[test]
    fn a_dry_run_at_a_flag_deadline_sees_a_classic_upgrade_it_makes() {
        let mut policy = Policy::preset("classic").unwrap();
        policy.limits.levels = serde_json::from_str(r#"[2,4,8,"unlimited"]"#).unwrap();
        policy.consent.require_opt_in = false;
        let mut engine = Engine::new(policy);
        let send = |at: &str, contact: &str, kind: &str| {
            format!(
                r#"{{"type":"{kind}","at":"{at}","number":"+15550001111","contact":"{contact}","message":{{"kind":"template","name":"promo","language":"en","params":["x"]}}}}"#
            )
        };
        for line in [
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#.to_owned(),
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"utility","body":"Your code {{1}} is ready.","status":"approved"}"#.to_owned(),
            r#"{"type":"number_quality","at":"2026-11-02T08:00:00Z","number":"+15550001111","quality":"low"}"#.to_owned(),
            r#"{"type":"number_quality","at":"2026-11-02T08:30:00Z","number":"+15550001111","quality":"unknown"}"#.to_owned(),
            send("2026-11-07T07:00:00Z", "+79110000005", "send"),
            send("2026-11-07T07:00:00Z", "+79110000006", "send"),
            send("2026-11-09T07:00:00Z", "+79110000001", "send"),
            send("2026-11-09T07:00:00Z", "+79110000002", "send"),
        ] {
            let out = engine.handle_json(&line);
            assert!(!out[0].contains("error") && !out[0].contains("denied"), "{line}: {out:?}");
        }
        let query = r#"{"type":"query_limit","at":"2026-11-09T08:00:00Z","number":"+15550001111"}"#;
        let view = engine.handle_json(query);
        assert!(view[0].contains(r#""limit":4,"#), "{view:?}");
        let check = engine.handle_json(&send("2026-11-09T08:00:00Z", "+79110000003", "check_send"));
        assert!(check[0].contains(r#""verdict":"allowed""#), "{check:?}");
        let sent = engine.handle_json(&send("2026-11-09T08:00:00Z", "+79110000003", "send"));
        assert!(sent[0].contains(r#""verdict":"allowed""#), "{sent:?}");
        assert!(
            sent.iter().any(|l| l.contains(r#""reason":"upgrade""#)),
            "{sent:?}"
        );
    }

    /// The level before the engine's own changes is saved with them: an upgrade taken back
    /// after a restore puts back the same `level_since` as without one.
    #[test]
    fn an_upgrade_taken_back_after_a_restore_gives_back_the_same_level_since() {
        let mut policy = Policy::preset("cloud-2025").unwrap();
        policy.limits.levels = serde_json::from_str(r#"[2,4,8,"unlimited"]"#).unwrap();
        let mut engine = Engine::new(policy);
        for line in [
            r#"{"type":"register_number","at":"2026-11-02T08:00:00Z","business":"acme","number":"+15550001111","channel":"official"}"#,
            r#"{"type":"register_template","at":"2026-11-02T08:00:00Z","business":"acme","name":"promo","language":"en","category":"utility","body":"Your code {{1}} is ready.","status":"approved"}"#,
            r#"{"type":"opt_in","at":"2026-11-02T08:00:00Z","business":"acme","contact":"+79110000001"}"#,
            r#"{"type":"send","at":"2026-11-02T09:00:00Z","number":"+15550001111","contact":"+79110000001","message":{"kind":"template","name":"promo","language":"en","params":["a"]}}"#,
            r#"{"type":"tick","at":"2026-11-02T16:00:00Z"}"#,
        ] {
            let out = engine.handle_json(line);
            assert!(!out[0].contains("error"), "{line}: {out:?}");
        }
        let mut restored = Engine::restore(&engine.snapshot()).unwrap();
        let low = r#"{"type":"number_quality","at":"2026-11-02T14:00:00Z","number":"+15550001111","quality":"low"}"#;
        let query = r#"{"type":"query_limit","at":"2026-11-02T16:00:00Z","number":"+15550001111"}"#;
        for e in [&mut engine, &mut restored] {
            let out = e.handle_json(low);
            assert!(
                out.iter().any(|l| l.contains("upgrade_taken_back")),
                "{out:?}"
            );
            let view = e.handle_json(query);
            assert!(
                view[0].contains(r#""limit":2,"#)
                    && view[0].contains(r#""level_since":"2026-11-02T08:00:00Z""#),
                "{view:?}"
            );
        }
        // And the restored engine saves what it restored.
        assert_eq!(
            Engine::restore(&restored.snapshot()).unwrap().snapshot(),
            restored.snapshot()
        );
    }
}
