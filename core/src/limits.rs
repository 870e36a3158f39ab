//! Messaging limits (RULES.md §7): unique contacts reached by business-initiated messages in
//! any moving period, per number or per business, with upgrades and downgrades.
//!
//! | event                                   | effect on the limit                                 |
//! |-----------------------------------------|-----------------------------------------------------|
//! | business-initiated send, contact new    | takes a slot; refused when none is left             |
//! | business-initiated send, contact counted| free (the contact's latest instant moves)           |
//! | reply inside an open window             | nothing                                             |
//! | send failed (`release_failed_sends`)    | the contact's slot freed when none of its counted sends lives; a scheduled upgrade no longer met called off |
//! | usage over lookback ≥ threshold (`reach`) | next level, not before `min_time_at_level`        |
//! | usage over lookback ≥ threshold (`reach_then_wait`) | next level `apply_after` later if quality is still not low |
//! | any level change                        | the upgrade rule looked at again from the new level |
//! | number flag deadline passes             | down `downgrade_levels`                             |
//! | late low rated before its upgrades      | back to the level before them (`upgrade_taken_back`) |
//! | provider sets the limit                 | that level                                          |
//!
//! No upgrade while a number sharing the limit is flagged or of low quality.

use serde::{Deserialize, Serialize};

use crate::address::AddressKey;
use crate::decision::DenyReason;
use crate::effect::Effect;
use crate::engine::Engine;
use crate::number::FlagDowngrade;
use crate::policy::{LimitLevel, LimitScope, UpgradeRule};
use crate::recent::{LiveSends, RecentContacts};
use crate::template::Quality;
use crate::time::Instant;
use crate::timers::TimerKey;
use crate::Error;

/// The limit of one owner (a number or a business, by policy scope).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LimitState {
    /// Index into the policy's levels.
    pub level: usize,
    /// When the current level was reached.
    pub level_since: Instant,
    /// A pending upgrade (`reach_then_wait`).
    pub upgrade_at: Option<Instant>,
    /// Contacts reached within the limit's moving window.
    pub window: RecentContacts,
    /// Contacts reached within the upgrade lookback.
    pub lookback: RecentContacts,
    /// The provider reported the limit reached: no new contact before this.
    pub blocked_until: Option<Instant>,
    /// The engine's own level changes (upgrades, flag downgrades) since the provider last
    /// set the level, oldest first: when, and the level before. A provider report dated
    /// before one of them says what the level was then; one that says the level the engine
    /// had then brings nothing new, and in the provider's order the engine's change came
    /// after it (§10, §13). At most [`OWN_CHANGES_KEPT`] (the provider reports every
    /// change, which empties the list, so it stays short).
    pub own_changes: Vec<(Instant, u32)>,
    /// Since when the limit had the level the oldest of `own_changes` changed (`None` when
    /// there are none, and in state saved before it was kept): with the instants of the
    /// changes themselves, the level's `since` before each of them, which a change taken
    /// back gives back (see [`Engine::take_back_upgrades_after`]).
    pub own_changes_from: Option<Instant>,
    /// The provider's reports of this limit that were applied, oldest first: the instant
    /// each is dated, and the level the limit had before it. A low rating delivered after
    /// reports dated later than it flags from the level before the first of them, the
    /// level of the flag's start in the provider's order (§6, §10). At most
    /// [`PROVIDER_REPORTS_KEPT`], the latest.
    pub provider_reports: Vec<(Instant, u32)>,
}

/// How many of its own level changes a limit remembers (see [`LimitState::own_changes`]):
/// a report older than all of them is compared with the oldest.
const OWN_CHANGES_KEPT: usize = 16;

/// How many of the provider's reports a limit remembers (see
/// [`LimitState::provider_reports`]): as many as its own changes, for the same flag week.
const PROVIDER_REPORTS_KEPT: usize = OWN_CHANGES_KEPT;

impl LimitState {
    /// The level this limit had at `at`, before the engine's own changes after it, if it
    /// made one after `at`; `None` when none came after (the level since is the current
    /// one, or the provider's).
    fn level_before_own_change_after(&self, at: Instant) -> Option<usize> {
        self.own_changes
            .iter()
            .find(|&&(changed_at, _)| at < changed_at)
            .map(|&(_, level)| level as usize)
    }

    /// When a new contact next fits under `level` after `now`: when the count falls below
    /// the limit, which after a limit lowered below the count takes more than the oldest
    /// leaving; below the limit, when the oldest counted leaves. `None` when none is
    /// counted.
    fn next_slot_at(&self, level: LimitLevel, now: Instant) -> Option<Instant> {
        match level {
            LimitLevel::Contacts(limit) => self
                .window
                .below_limit_at(now, limit)
                .or_else(|| self.window.count_at(now).1),
            LimitLevel::Unlimited => self.window.count_at(now).1,
        }
    }
}

/// A limit as it stands at an instant the engine's clock has not reached yet, the timers
/// due by then applied (see [`Engine::level_in_force`]).
#[derive(Clone, Copy, Debug, PartialEq)]
struct LevelInForce {
    /// Index into the policy's levels.
    level: usize,
    /// When that level was reached.
    since: Instant,
    /// The next upgrade expected, if no input comes in between.
    upgrade_at: Option<Instant>,
}

/// Why a limit changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitChangeReason {
    /// Usage reached the upgrade threshold.
    Upgrade,
    /// A number's flag deadline passed.
    Downgrade,
    /// The provider set it.
    Provider,
    /// A quality recovery rated before a number's flag deadline, delivered after it, took
    /// the deadline's downgrade back (§6, §13).
    Recovered,
    /// A low quality rating dated before an upgrade, delivered after it, took the upgrade
    /// back: in order the number was flagged when the upgrade came due, and no limit is
    /// upgraded while a number sharing it is flagged (§6, §13).
    UpgradeTakenBack,
}

/// Read-only view of a messaging limit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LimitView {
    /// Per number or per business.
    pub scope: LimitScope,
    /// The number or business it belongs to.
    pub owner: String,
    /// The limit in force.
    pub limit: LimitLevel,
    /// Unique contacts in the current moving window.
    pub used: u32,
    /// When a new contact next fits: at or above the limit, when enough counted contacts
    /// have left the window to fall below it (the oldest, unless the limit was lowered below
    /// the count), or at `upgrade_at` if that comes first, quality allows it and the next
    /// level has room; below it, when the oldest counted contact leaves; while a provider
    /// block lasts, its end.
    pub next_slot_at: Option<Instant>,
    /// Unique contacts over the upgrade lookback.
    pub used_in_lookback: u32,
    /// When the current level was reached.
    pub level_since: Instant,
    /// The next upgrade expected if no input comes in between: the scheduled one
    /// (`reach_then_wait`), or the end of the minimum time at the level when usage then
    /// still reaches the threshold (`reach`).
    pub upgrade_at: Option<Instant>,
    /// The provider reported the limit reached: no new contact before this.
    pub blocked_until: Option<Instant>,
}

/// Snapshot form of a [`LimitState`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredLimit {
    pub owner: u32,
    pub level: usize,
    pub level_since: Instant,
    pub upgrade_at: Option<Instant>,
    pub window: Vec<(AddressKey, Instant)>,
    pub lookback: Vec<(AddressKey, Instant)>,
    #[serde(default)]
    pub blocked_until: Option<Instant>,
    /// See [`LimitState::own_changes`]. Absent from state saved before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_changes: Vec<(Instant, u32)>,
    /// See [`LimitState::own_changes_from`]. Absent from state saved before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_changes_from: Option<Instant>,
    /// See [`LimitState::provider_reports`]. Absent from state saved before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provider_reports: Vec<(Instant, u32)>,
    /// Per entry of `window`, by position: since when the contact has been counted and how
    /// many of its sends since then have not failed. Absent from state saved before they
    /// were kept (and empty with no entry); see [`RecentContacts::from_entries`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_live: Vec<LiveSends>,
    /// As `window_live`, for `lookback`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookback_live: Vec<LiveSends>,
    /// [`RecentContacts::missing_when_saved`] of `lookback`: what the period of an earlier
    /// instant may lack. Absent when nothing is missing, and from state saved before it
    /// was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_missing: Option<Instant>,
}

impl LimitState {
    /// This limit as snapshots and exports store it, under `owner`, with each contact's key
    /// passed through `port` (unchanged in a snapshot; an export's own numbering). One place,
    /// so that a field added to the limit reaches both.
    pub(crate) fn stored(
        &self,
        owner: u32,
        mut port: impl FnMut(AddressKey) -> AddressKey,
    ) -> StoredLimit {
        let mut port_all = |entries: Vec<(AddressKey, Instant)>| {
            entries
                .into_iter()
                .map(|(contact, at)| (port(contact), at))
                .collect()
        };
        StoredLimit {
            owner,
            level: self.level,
            level_since: self.level_since,
            upgrade_at: self.upgrade_at,
            window: port_all(self.window.entries()),
            lookback: port_all(self.lookback.entries()),
            blocked_until: self.blocked_until,
            window_live: self.window.live_sends(),
            lookback_live: self.lookback.live_sends(),
            lookback_missing: self.lookback.missing_when_saved(),
            own_changes: self.own_changes.clone(),
            own_changes_from: self.own_changes_from,
            provider_reports: self.provider_reports.clone(),
        }
    }
}

impl Engine {
    fn lookback_span(&self) -> crate::time::Duration {
        match &self.policy.limits.upgrade {
            UpgradeRule::Reach { lookback, .. } | UpgradeRule::ReachThenWait { lookback, .. } => {
                *lookback
            }
        }
    }

    pub(crate) fn new_limit(&self, now: Instant) -> LimitState {
        LimitState {
            level: 0,
            level_since: now,
            upgrade_at: None,
            window: RecentContacts::new(self.policy.limits.window),
            lookback: RecentContacts::new(self.lookback_span()),
            blocked_until: None,
            own_changes: Vec::new(),
            own_changes_from: None,
            provider_reports: Vec::new(),
        }
    }

    /// A stored limit, checked: its contacts were reached at or before `clock`, the clock
    /// of the state it was saved with (a later one would be out of order once the engine
    /// records the next contact, and the state it saved would not restore).
    pub(crate) fn restore_limit(
        &self,
        stored: StoredLimit,
        clock: Instant,
    ) -> Result<(u32, LimitState), Error> {
        let corrupt = |what: &str| Error::CorruptSnapshot {
            problem: format!("limit of owner {}: {what}", stored.owner),
        };
        if stored.level >= self.policy.limits.levels.len() {
            return Err(corrupt("level out of range"));
        }
        let last = |entries: &[(AddressKey, Instant)]| entries.last().map(|&(_, at)| at);
        if last(&stored.window).max(last(&stored.lookback)) > Some(clock) {
            return Err(corrupt("a contact reached after the state's clock"));
        }
        // The level was reached by an input or a deadline at or before the clock: one
        // reached later would date the engine's own next change (a flag deadline's, at or
        // before the clock) before the level it changes from, a list refused below.
        if stored.lookback_missing > Some(clock) {
            return Err(corrupt("lookback_missing is after the state's clock"));
        }
        if stored.level_since > clock {
            return Err(corrupt(&format!(
                "level_since {} is after the state's clock {clock}",
                stored.level_since
            )));
        }
        let levels = self.policy.limits.levels.len();
        let changes = &stored.own_changes;
        if changes.len() > OWN_CHANGES_KEPT
            || changes.windows(2).any(|w| w[0].0 > w[1].0)
            || changes.last().is_some_and(|&(at, _)| at > clock)
            || changes.iter().any(|&(_, level)| level as usize >= levels)
            || changes
                .last()
                .is_some_and(|&(at, _)| at != stored.level_since)
            || stored
                .own_changes_from
                .is_some_and(|from| changes.first().is_none_or(|&(at, _)| from > at))
        {
            return Err(corrupt(
                "own level changes too many, unsorted, after the state's clock, out of range, \
                 the last not when the level was reached, or the level before them reached \
                 after the first or without any",
            ));
        }
        let reports = &stored.provider_reports;
        if reports.len() > PROVIDER_REPORTS_KEPT
            || reports.windows(2).any(|w| w[0].0 > w[1].0)
            || reports.iter().any(|&(_, level)| level as usize >= levels)
        {
            return Err(corrupt(
                "provider reports too many, unsorted or out of range",
            ));
        }
        let window = RecentContacts::from_entries(
            self.policy.limits.window,
            stored.window,
            &stored.window_live,
            None, // its period of the past is not asked for a count
        )
        .ok_or_else(|| corrupt("window entries unsorted, repeated or their live sends wrong"))?;
        let lookback = RecentContacts::from_entries(
            self.lookback_span(),
            stored.lookback,
            &stored.lookback_live,
            stored.lookback_missing,
        )
        .ok_or_else(|| corrupt("lookback entries unsorted, repeated or their live sends wrong"))?;
        Ok((
            stored.owner,
            LimitState {
                level: stored.level,
                level_since: stored.level_since,
                upgrade_at: stored.upgrade_at,
                window,
                lookback,
                blocked_until: stored.blocked_until,
                own_changes: stored.own_changes,
                own_changes_from: stored.own_changes_from,
                provider_reports: stored.provider_reports,
            },
        ))
    }

    /// Who owns the limit a number sends under.
    pub(crate) fn limit_owner(&self, number: u32) -> u32 {
        match self.policy.limits.scope {
            LimitScope::Number => number,
            LimitScope::Business => self.numbers[number as usize].business,
        }
    }

    /// The numbers that send under `owner`'s limit (one, or a business's numbers, from its
    /// own list rather than a walk of the engine's numbers).
    pub(crate) fn numbers_sharing(&self, owner: u32) -> impl Iterator<Item = u32> + '_ {
        let (one, business): (Option<u32>, &[u32]) = match self.policy.limits.scope {
            LimitScope::Number => (Some(owner), &[]),
            LimitScope::Business => (None, &self.businesses[owner as usize].numbers),
        };
        one.into_iter().chain(business.iter().copied())
    }

    fn owner_name(&self, owner: u32) -> String {
        match self.policy.limits.scope {
            LimitScope::Number => self.display(self.numbers[owner as usize].address),
            LimitScope::Business => self.businesses[owner as usize].name.clone(),
        }
    }

    /// Ensures the number's limit owner has a limit (new owners start at the first level).
    pub(crate) fn ensure_limit(&mut self, number: u32, now: Instant) {
        let owner = self.limit_owner(number);
        if !self.limits.contains_key(&owner) {
            let state = self.new_limit(now);
            self.limits.insert(owner, state);
        }
    }

    /// Whether a business-initiated send to `contact` fits the limit at `now`: `Ok(true)`
    /// when it takes a new slot, `Ok(false)` when the contact is already counted.
    pub(crate) fn limit_check(
        &self,
        number: u32,
        contact: Option<AddressKey>,
        now: Instant,
    ) -> Result<bool, DenyReason> {
        let owner = self.limit_owner(number);
        let Some(state) = self.limits.get(&owner) else {
            return Ok(true); // owners are created at registration; nothing counted yet
        };
        if contact.is_some_and(|c| state.window.contains(c, now)) {
            return Ok(false);
        }
        let blocked = state.blocked_until.is_some_and(|t| now < t);
        let in_force = self
            .level_in_force(owner, now)
            .expect("the owner has a limit");
        let limit = self.policy.limits.levels[in_force.level];
        let (used, _) = state.window.count_at(now);
        let has_room = limit.has_room(used);
        if has_room && !blocked {
            return Ok(true);
        }
        Err(DenyReason::LimitReached {
            limit,
            used,
            next_slot_at: self
                .next_slot_at(owner, state, in_force, now)
                .unwrap_or(now),
            reported_by_provider: has_room,
        })
    }

    /// The owner's limit in force at `now`. The stored level is exact at the engine's
    /// clock; for a later `now` (a pure `check_send` ahead of the clock) the upgrades and
    /// flag downgrades whose timers are due by then are applied in timer order, each level
    /// change looking at the upgrade rule again, exactly as `handle_timeout(now)` would, so
    /// that `check_send` agrees with `send` and a view at `now` with both. With the next
    /// upgrade expected after `now` if no input comes in between. `None` for an owner
    /// without a limit yet.
    fn level_in_force(&self, owner: u32, now: Instant) -> Option<LevelInForce> {
        let state = self.limits.get(&owner)?;
        let mut limit = LevelInForce {
            level: state.level,
            since: state.level_since,
            upgrade_at: state.upgrade_at,
        };
        // The one upgrade timer: `upgrade_at` under `reach_then_wait`, the instant `reach`
        // waits for otherwise.
        let mut upgrade_timer = self.timers.armed_at(TimerKey::LimitUpgrade(owner));
        if !self.timers.nothing_due_by(now) {
            let sharing: Vec<u32> = self
                .numbers_sharing(owner)
                .filter(|&n| self.numbers[n as usize].channel.has_service_window())
                .collect();
            let mut flags: Vec<(Instant, u32)> = sharing
                .iter()
                .filter_map(|&n| {
                    let deadline = self.numbers[n as usize].flagged_until?;
                    (deadline <= now).then_some((deadline, n))
                })
                .collect();
            flags.sort_unstable();
            let mut flags = flags.into_iter().peekable();
            let quality_ok = |at: Instant| self.quality_allows_upgrade_at(owner, at);
            loop {
                let upgrade_due = upgrade_timer.filter(|at| *at <= now);
                // The timer queue fires a flag before an upgrade of the same instant.
                let flag_first = match (flags.peek(), upgrade_due) {
                    (None, None) => break,
                    (Some(&(deadline, _)), Some(upgrade)) => deadline <= upgrade,
                    (flag, _) => flag.is_some(),
                };
                let (at, changed) = if flag_first {
                    let (at, n) = flags.next().expect("peeked");
                    let lowered = self.flag_deadline_level(
                        self.numbers[n as usize].limit_level_at_flag,
                        limit.level,
                    );
                    (at, (lowered < limit.level).then_some(lowered))
                } else {
                    let at = upgrade_due.expect("due");
                    let upgrade = quality_ok(at)
                        && (limit.upgrade_at.is_some()
                            || self.threshold_met(state, limit.level, at));
                    limit.upgrade_at = None;
                    upgrade_timer = None;
                    (
                        at,
                        (upgrade && limit.level + 1 < self.policy.limits.levels.len())
                            .then_some(limit.level + 1),
                    )
                };
                if let Some(level) = changed {
                    limit = LevelInForce {
                        level,
                        since: at,
                        upgrade_at: None,
                    };
                    upgrade_timer = None;
                    if quality_ok(at) {
                        (limit.upgrade_at, upgrade_timer) =
                            self.upgrade_scheduled(state, limit.level, limit.since, at);
                    }
                } else if flag_first && limit.upgrade_at.is_none() && quality_ok(at) {
                    // A deadline that leaves the level (the lowest already, or a provider
                    // downgrade during the flag took it there) still ends the flag that held
                    // upgrades back, and looks at the rule again as `number_flag_timer` does:
                    // usage met while flagged schedules the upgrade now.
                    if let (pending, Some(timer)) =
                        self.upgrade_scheduled(state, limit.level, limit.since, at)
                    {
                        (limit.upgrade_at, upgrade_timer) = (pending, Some(timer));
                    }
                }
            }
        }
        // Quality as of `now`: a flag whose deadline passed by then no longer holds upgrades
        // back (the view and `check_send` ahead of the clock, as `send` at `now` would find
        // it); at the clock this is the quality now.
        if limit.upgrade_at.is_none() {
            // `reach` waiting for its time at the level: the upgrade it will make then if the
            // usage still reaches the threshold.
            limit.upgrade_at = upgrade_timer.filter(|&at| {
                at > now
                    && self.threshold_met(state, limit.level, at)
                    && self.quality_allows_upgrade_at(owner, now)
            });
        } else if !self.quality_allows_upgrade_at(owner, now) {
            // `reach_then_wait`'s pending upgrade, which a low or flagged number stops when
            // its time comes (§6): not expected, if no input comes in between.
            limit.upgrade_at = None;
        }
        Some(limit)
    }

    /// What looking at the upgrade rule at `at` schedules for a limit at `level` since
    /// `since`, quality allowing (as [`Engine::consider_upgrade`]): the pending upgrade
    /// (`reach_then_wait`) and the upgrade timer, due at `at` itself when the upgrade
    /// applies at once (`reach` past its time at the level); nothing when the usage is below
    /// the threshold or there is no next level.
    fn upgrade_scheduled(
        &self,
        state: &LimitState,
        level: usize,
        since: Instant,
        at: Instant,
    ) -> (Option<Instant>, Option<Instant>) {
        if level + 1 >= self.policy.limits.levels.len() || !self.threshold_met(state, level, at) {
            return (None, None);
        }
        match &self.policy.limits.upgrade {
            UpgradeRule::Reach {
                min_time_at_level, ..
            } => (None, Some(since.plus(*min_time_at_level).max(at))),
            UpgradeRule::ReachThenWait { apply_after, .. } => {
                let upgrade = at.plus(*apply_after);
                (Some(upgrade), Some(upgrade))
            }
        }
    }

    /// When a new contact next fits under the limit `in_force` (see
    /// [`LimitState::next_slot_at`]); at or above the limit, the expected upgrade instead
    /// when it comes first and its level has room for the contacts counted then (§7: a
    /// refusal says when the next slot frees); while the provider's block lasts, its end,
    /// or, when the limit is full, the later of its end and that slot.
    fn next_slot_at(
        &self,
        owner: u32,
        state: &LimitState,
        in_force: LevelInForce,
        now: Instant,
    ) -> Option<Instant> {
        let levels = &self.policy.limits.levels;
        let full = !levels[in_force.level].has_room(state.window.count_at(now).0);
        if let Some(until) = state.blocked_until.filter(|t| now < *t) {
            // A block dated before the sends that filled the limit (a late 131064) may end
            // before the count falls below it: no slot frees before both have passed, so a
            // retry at the block's end alone would be refused again.
            let slot = full
                .then(|| self.slot_by_count_or_upgrade(owner, state, in_force, now))
                .flatten();
            return Some(slot.map_or(until, |slot| slot.max(until)));
        }
        if !full {
            return state.next_slot_at(levels[in_force.level], now);
        }
        self.slot_by_count_or_upgrade(owner, state, in_force, now)
    }

    /// When a full limit `in_force` next has room: the count falling below it, or the
    /// expected upgrade when it comes first and its level has room for the contacts
    /// counted then. An upgrade to a level still full looks at the rule again when it
    /// applies, as the engine will: the next upgrade it schedules, or the count falling
    /// below the higher level, may come first (after the provider lowered the limit by two
    /// levels, the next slot was the count's, hours after a second upgrade).
    fn slot_by_count_or_upgrade(
        &self,
        owner: u32,
        state: &LimitState,
        in_force: LevelInForce,
        now: Instant,
    ) -> Option<Instant> {
        let levels = &self.policy.limits.levels;
        let quality_ok = self.quality_allows_upgrade_at(owner, now);
        let (mut level, mut from, mut upgrade) = (in_force.level, now, in_force.upgrade_at);
        // Each pass raises `level`, and an upgrade is expected only below the top one.
        loop {
            let by_count = state.next_slot_at(levels[level], from);
            let Some(at) = upgrade.filter(|&at| {
                quality_ok && level + 1 < levels.len() && by_count.is_none_or(|slot| at < slot)
            }) else {
                return by_count;
            };
            level += 1;
            if levels[level].has_room(state.window.count_at(at).0) {
                return Some(at);
            }
            let (pending, timer) = self.upgrade_scheduled(state, level, at, at);
            upgrade = pending.or_else(|| timer.filter(|&t| self.threshold_met(state, level, t)));
            from = at;
        }
    }

    /// Records a business-initiated send and checks for an upgrade.
    pub(crate) fn limit_record(&mut self, number: u32, contact: AddressKey, now: Instant) {
        self.ensure_limit(number, now);
        let owner = self.limit_owner(number);
        let state = self.limits.get_mut(&owner).expect("ensured above");
        state.window.prune(now);
        state.lookback.prune(now);
        state.window.touch(contact, now);
        state.lookback.touch(contact, now);
        self.consider_upgrade(owner, now);
    }

    /// A failed business-initiated send no longer counts its contact (policy
    /// `release_failed_sends`): the contact gives back its slot when none of its counted
    /// sends is left that has not failed. `failed_at` is the failure's own instant.
    pub(crate) fn limit_release(
        &mut self,
        number: u32,
        contact: AddressKey,
        sent_at: Instant,
        failed_at: Instant,
    ) {
        let owner = self.limit_owner(number);
        let Some(state) = self.limits.get_mut(&owner) else {
            return;
        };
        state.window.release(contact, sent_at);
        state.lookback.release(contact, sent_at);
        // An upgrade scheduled on the strength of contacts that were never reached is not
        // owed: without the one given back, is the usage still at the threshold (§7)?
        let state = &self.limits[&owner];
        if state.upgrade_at.is_some() && !self.threshold_reached(state, self.clock) {
            self.limits.get_mut(&owner).expect("exists").upgrade_at = None;
            self.timers.disarm(TimerKey::LimitUpgrade(owner));
            return;
        }
        // Reported late, after the upgrade it would have called off was applied (§7, §13):
        // the engine's first upgrade after the failure's instant is taken back when, without
        // the contact, usage then fell short of the threshold of the level it left, as the
        // failure delivered in order would have found. In doubt (the period then not known
        // whole: contacts dropped since, a restore) the upgrade stays. The rule is then
        // looked at again now, with the contacts reached since.
        let Some(&(_, level_before)) = state.own_changes.iter().find(|(at, _)| *at > failed_at)
        else {
            return;
        };
        let level_before = level_before as usize;
        let owed = level_before >= state.level
            || (state.lookback.count_as_of(failed_at))
                .is_none_or(|used| self.reaches_threshold(level_before, used));
        if !owed && (self.take_back_upgrades_after(number, failed_at, self.clock)).is_some() {
            self.consider_upgrade(owner, self.clock);
        }
    }

    /// The provider reported the limit reached (Meta 131064) at `now`: no new contact until
    /// the next slot frees as the limit stood then, or one limit window from then if none
    /// was counted. A report that arrives late is judged as of its own instant, so contacts
    /// counted since do not lengthen the block, and a redelivery of it changes nothing (up
    /// to a bound on the contacts counted since: see [`RecentContacts::next_slot_as_of`]).
    pub(crate) fn limit_block(&mut self, number: u32, now: Instant) {
        self.ensure_limit(number, now);
        let owner = self.limit_owner(number);
        let window = self.policy.limits.window;
        let limit = match self.policy.limits.levels[self.limits[&owner].level] {
            LimitLevel::Contacts(limit) => Some(limit),
            LimitLevel::Unlimited => None,
        };
        let state = self.limits.get_mut(&owner).expect("ensured above");
        let until = state
            .window
            .next_slot_as_of(now, limit)
            .unwrap_or_else(|| now.plus(window));
        if state.blocked_until.is_some_and(|t| t >= until) {
            return;
        }
        state.blocked_until = Some(until);
        let owner_name = self.owner_name(owner);
        self.effects.push_back(Effect::LimitReachedByProvider {
            scope: self.policy.limits.scope,
            owner: owner_name,
            until,
            at: now,
        });
    }

    /// Whether every number sharing this limit has acceptable quality and no flag.
    fn quality_allows_upgrade(&self, owner: u32) -> bool {
        let ok =
            |n: &crate::number::NumberState| n.quality != Quality::Low && n.flagged_until.is_none();
        self.all_sharing(owner, ok)
    }

    /// [`Engine::quality_allows_upgrade`] as of `at`, the clock or a later instant: a flag
    /// whose deadline has passed by then is over (its timer due), the quality it left stays.
    fn quality_allows_upgrade_at(&self, owner: u32, at: Instant) -> bool {
        self.all_sharing(owner, |n| {
            n.quality != Quality::Low && n.flagged_until.is_none_or(|deadline| deadline <= at)
        })
    }

    /// Whether `ok` holds for every number sharing `owner`'s limit (the official ones of a
    /// business-wide limit).
    fn all_sharing(&self, owner: u32, ok: impl Fn(&crate::number::NumberState) -> bool) -> bool {
        match self.policy.limits.scope {
            LimitScope::Number => ok(&self.numbers[owner as usize]),
            LimitScope::Business => (self.businesses[owner as usize].numbers.iter())
                .map(|&n| &self.numbers[n as usize])
                .filter(|n| n.channel.has_service_window())
                .all(ok),
        }
    }

    fn threshold_reached(&self, state: &LimitState, now: Instant) -> bool {
        self.threshold_met(state, state.level, now)
    }

    /// Whether usage over the lookback reaches the upgrade threshold of `level`'s limit.
    fn threshold_met(&self, state: &LimitState, level: usize, now: Instant) -> bool {
        self.reaches_threshold(level, state.lookback.count_at(now).0)
    }

    /// Whether `used` contacts reach the upgrade threshold of `level`'s limit.
    fn reaches_threshold(&self, level: usize, used: u32) -> bool {
        let percent = match &self.policy.limits.upgrade {
            UpgradeRule::Reach { percent, .. } | UpgradeRule::ReachThenWait { percent, .. } => {
                *percent
            }
        };
        match self.policy.limits.levels[level] {
            LimitLevel::Unlimited => false,
            LimitLevel::Contacts(limit) => {
                u64::from(used) * 100 >= u64::from(limit) * u64::from(percent)
            }
        }
    }

    /// Applies or schedules an upgrade if the rule is met at `now`.
    pub(crate) fn consider_upgrade(&mut self, owner: u32, now: Instant) {
        self.consider_upgrade_met_at(owner, now, now);
    }

    /// [`Engine::consider_upgrade`] for a rule met since `met_at` (at most `now`): a late
    /// report of the level whose usage then already met it, whose `reach_then_wait` wait
    /// runs from then, as it did in order.
    fn consider_upgrade_met_at(&mut self, owner: u32, now: Instant, met_at: Instant) {
        let Some(state) = self.limits.get(&owner) else {
            return;
        };
        if state.level + 1 >= self.policy.limits.levels.len()
            || state.upgrade_at.is_some()
            || !self.threshold_reached(state, now)
            || !self.quality_allows_upgrade(owner)
        {
            return;
        }
        match self.policy.limits.upgrade.clone() {
            UpgradeRule::Reach {
                min_time_at_level, ..
            } => {
                let earliest = state.level_since.plus(min_time_at_level);
                if now >= earliest {
                    self.change_limit(owner, state.level + 1, LimitChangeReason::Upgrade, now);
                } else {
                    self.timers.arm(TimerKey::LimitUpgrade(owner), earliest);
                }
            }
            // No wait (`apply_after` zero): the upgrade is due now, and applies now, as
            // `reach`'s does once its time at the level has passed. Scheduled at `now`,
            // the timer would fire only with the next input (its effect in that input's
            // output) and `poll_timeout` would name an instant already reached.
            // The wait over already (none, or it ran out before a late report arrived): the
            // upgrade applies now, holding from when it fell due.
            UpgradeRule::ReachThenWait { apply_after, .. } if met_at.plus(apply_after) <= now => {
                let due = met_at.plus(apply_after).max(state.level_since);
                let level = state.level + 1;
                self.change_limit_since(owner, level, LimitChangeReason::Upgrade, now, due);
            }
            UpgradeRule::ReachThenWait { apply_after, .. } => {
                let at = met_at.plus(apply_after);
                self.limits
                    .get_mut(&owner)
                    .expect("checked above")
                    .upgrade_at = Some(at);
                self.timers.arm(TimerKey::LimitUpgrade(owner), at);
            }
        }
    }

    pub(crate) fn limit_upgrade_timer(&mut self, owner: u32, now: Instant) {
        let Some(state) = self.limits.get(&owner) else {
            return;
        };
        match state.upgrade_at {
            Some(at) if at > now => self.timers.arm(TimerKey::LimitUpgrade(owner), at),
            Some(at) => {
                let level = state.level;
                self.limits.get_mut(&owner).expect("exists").upgrade_at = None;
                // Applied only if quality is still acceptable when the wait ends.
                if self.quality_allows_upgrade(owner) && level + 1 < self.policy.limits.levels.len()
                {
                    self.change_limit(owner, level + 1, LimitChangeReason::Upgrade, at);
                }
            }
            None => {
                let state = self.limits.get_mut(&owner).expect("exists");
                state.window.prune(now);
                state.lookback.prune(now);
                self.consider_upgrade(owner, now);
            }
        }
    }

    /// Moves a limit to `level`, emitting `limit_changed`.
    pub(crate) fn change_limit(
        &mut self,
        owner: u32,
        level: usize,
        reason: LimitChangeReason,
        at: Instant,
    ) {
        self.change_limit_since(owner, level, reason, at, at);
    }

    /// [`Engine::change_limit`] made at `at` of a level held since `since`, at or before
    /// `at`: a provider's report applied after its own instant (§7's time at the level runs
    /// from the report, §13).
    fn change_limit_since(
        &mut self,
        owner: u32,
        level: usize,
        reason: LimitChangeReason,
        at: Instant,
        since: Instant,
    ) {
        debug_assert!(since <= at);
        let levels = &self.policy.limits.levels;
        let Some(state) = self.limits.get_mut(&owner) else {
            return;
        };
        let level = level.min(levels.len() - 1);
        if state.level == level {
            return;
        }
        let from = levels[state.level];
        let to = levels[level];
        match reason {
            LimitChangeReason::Provider => {
                state.own_changes.clear();
                state.own_changes_from = None;
            }
            // Made by `take_back_flag_downgrade` and `take_back_upgrades_after` alone, which
            // drop the changes they take back from this list; none comes through here.
            LimitChangeReason::Recovered | LimitChangeReason::UpgradeTakenBack => {}
            LimitChangeReason::Upgrade | LimitChangeReason::Downgrade => {
                if state.own_changes.is_empty() {
                    state.own_changes_from = Some(state.level_since);
                }
                if state.own_changes.len() == OWN_CHANGES_KEPT {
                    let (dropped_at, _) = state.own_changes.remove(0);
                    state.own_changes_from = Some(dropped_at);
                }
                // When the level was reached: the change's own instant, before `at` for an
                // upgrade whose wait ran out before a late report arrived.
                state.own_changes.push((since, state.level as u32));
            }
        }
        state.level = level;
        state.level_since = since;
        self.limit_moved(owner, from, to, reason, at);
        // The rule is looked at again from the new level: usage may already reach its
        // threshold (an upgrade to a limit twice as high, of which the contacts counted are
        // half), and no send may come to look (§7). A level that holds from before now (a
        // late report) met it then if the contacts counted by then reach it: its wait runs
        // from then, as in order.
        let state = &self.limits[&owner];
        let met_before = since < at
            && (state.lookback.count_as_of(since))
                .is_some_and(|used| self.reaches_threshold(level, used));
        self.consider_upgrade_met_at(owner, at, if met_before { since } else { at });
    }

    /// Takes back a flag deadline's downgrade of the limit number `n` sends under (§6, §13):
    /// a recovery rated before the deadline arrived after the engine lowered the limit at
    /// it. Only while the limit is as the downgrade left it: a provider report or another
    /// change of the engine's since would be undone with it. A report dated at or after the
    /// recovery (`rated_at`), even of the level the downgrade set, is the provider's word
    /// after it: in order it stood, whatever the deadline did.
    pub(crate) fn take_back_flag_downgrade(
        &mut self,
        n: u32,
        d: FlagDowngrade,
        rated_at: Instant,
        now: Instant,
    ) {
        let owner = self.limit_owner(n);
        let since = rated_at.min(d.at);
        let reported_since = self.numbers_sharing(owner).any(|m| {
            (self.numbers[m as usize].limit_event.latest_at()).is_some_and(|at| at >= since)
        });
        if reported_since {
            return;
        }
        let Some(state) = self.limits.get_mut(&owner) else {
            return;
        };
        if state.level_since != d.at || state.own_changes.last() != Some(&(d.at, d.level_before)) {
            return;
        }
        let levels = &self.policy.limits.levels;
        let from = levels[state.level];
        state.own_changes.pop();
        if state.own_changes.is_empty() {
            state.own_changes_from = None;
        }
        state.level = d.level_before as usize;
        state.level_since = d.since_before;
        let to = levels[state.level];
        self.limit_moved(owner, from, to, LimitChangeReason::Recovered, now);
    }

    /// Takes back the engine's upgrades of the limit number `n` sends under made after
    /// `rated_at` (§6, §13): a low rating of `n` dated then, delivered after them, flags
    /// the number from `rated_at`, and in order the flag would have barred them (an upgrade
    /// due at the rating's own instant came first: the input's timers fire before it).
    /// Returns the level the limit is back at, the level the flag starts from, or `None`
    /// when nothing was taken back.
    ///
    /// What the upgrades left is put back as the platform would have it in order:
    /// - the level and its `level_since` are those before the first upgrade taken back (in
    ///   order the level never moved, so `reach`'s time at the level runs from then);
    /// - the upgrades leave `own_changes` (the engine never made them);
    /// - no upgrade is pending: in order the scheduled one came due under the flag and was
    ///   dropped, and none is looked at while the number is flagged; the flag's end (a
    ///   recovery, the deadline) looks at the rule again, from its own instant;
    /// - the contacts counted (window and lookback) stay: they were reached, and sends made
    ///   under the higher limit stay counted against the lower one, whose next slot then
    ///   waits for the count to fall below it.
    ///
    /// Only while every change the engine made after `rated_at` is an upgrade and the
    /// provider reported no limit dated at or after `rated_at` for a number sharing it: its
    /// word on the limit during the flag stands, and a downgrade since would be undone with
    /// them. Nor in state saved before the level before the changes was kept, whose
    /// `level_since` could not be put back.
    pub(crate) fn take_back_upgrades_after(
        &mut self,
        n: u32,
        rated_at: Instant,
        now: Instant,
    ) -> Option<usize> {
        let owner = self.limit_owner(n);
        let reported_since = self.numbers_sharing(owner).any(|m| {
            (self.numbers[m as usize].limit_event.latest_at()).is_some_and(|at| at >= rated_at)
        });
        if reported_since {
            return None;
        }
        let state = self.limits.get(&owner)?;
        let changes = &state.own_changes;
        let first = changes.partition_point(|&(at, _)| at <= rated_at);
        if first == changes.len() {
            return None;
        }
        // The level each change set: the next one's level before, the last the level now.
        let after = |i: usize| changes.get(i + 1).map_or(state.level, |c| c.1 as usize);
        if (first..changes.len()).any(|i| after(i) <= changes[i].1 as usize) {
            return None; // a downgrade among them: not an upgrade the flag barred
        }
        let since_before = match first {
            0 => state.own_changes_from?,
            i => changes[i - 1].0,
        };
        let (upgraded_at, level_before) = changes[first];
        let level_before = level_before as usize;
        let upgraded = state.level;
        let levels = &self.policy.limits.levels;
        let (from, to) = (levels[upgraded], levels[level_before]);
        let state = self.limits.get_mut(&owner).expect("found above");
        state.own_changes.truncate(first);
        if state.own_changes.is_empty() {
            state.own_changes_from = None;
        }
        state.level = level_before;
        state.level_since = since_before;
        // Another number sharing the limit flagged since the first upgrade started its flag
        // at the level in force then, which in order was the level before it.
        let flag_for = self.policy.numbers.flag_for;
        for m in self.numbers_sharing(owner).collect::<Vec<_>>() {
            let number = &mut self.numbers[m as usize];
            if number
                .flagged_until
                .is_some_and(|deadline| upgraded_at.plus(flag_for) <= deadline)
            {
                number.limit_level_at_flag = Some(level_before as u32);
            }
        }
        self.limit_moved(owner, from, to, LimitChangeReason::UpgradeTakenBack, now);
        Some(level_before)
    }

    /// After `owner`'s level moved from `from` to `to`: drops a pending upgrade (the rule
    /// is looked at again from the new level) and tells the host.
    fn limit_moved(
        &mut self,
        owner: u32,
        from: LimitLevel,
        to: LimitLevel,
        reason: LimitChangeReason,
        at: Instant,
    ) {
        if let Some(state) = self.limits.get_mut(&owner) {
            state.upgrade_at = None;
        }
        self.timers.disarm(TimerKey::LimitUpgrade(owner));
        let owner_name = self.owner_name(owner);
        self.effects.push_back(Effect::LimitChanged {
            scope: self.policy.limits.scope,
            owner: owner_name,
            from,
            to,
            reason,
            at,
        });
    }

    /// The messaging limit a number sends under, as of `at`, the engine's clock or a later
    /// instant (contacts counted then if no input comes in between). An `at` before the
    /// clock is [`Error::ViewBeforeClock`]: contacts that left the period are gone. A
    /// number of another channel than the official one is [`Error::NotOnChannel`].
    pub fn limit(&self, number: &str, at: Instant) -> Result<LimitView, Error> {
        let at = self.view_instant(at)?;
        // Only the official channel's sends count against a messaging limit (§7): another
        // channel's number sends under none, and is told so, as a limit report about it is.
        let n = self.official_number_idx(number, "a messaging limit")?;
        let owner = self.limit_owner(n);
        let fresh;
        let state = match self.limits.get(&owner) {
            Some(s) => s,
            None => {
                fresh = self.new_limit(at);
                &fresh
            }
        };
        // The level in force at `at`: an upgrade or a flag's downgrade due by then counts,
        // tick or not, as it does for a `check_send` at `at` (§13).
        let in_force = self.level_in_force(owner, at).unwrap_or(LevelInForce {
            level: state.level,
            since: state.level_since,
            upgrade_at: None,
        });
        let limit = self.policy.limits.levels[in_force.level];
        let (used, _) = state.window.count_at(at);
        let (used_in_lookback, _) = state.lookback.count_at(at);
        Ok(LimitView {
            scope: self.policy.limits.scope,
            owner: self.owner_name(owner),
            limit,
            used,
            next_slot_at: self.next_slot_at(owner, state, in_force, at),
            used_in_lookback,
            level_since: in_force.since,
            upgrade_at: in_force.upgrade_at,
            blocked_until: state.blocked_until.filter(|t| at < *t),
        })
    }

    /// The provider set a limit: moves to the matching level.
    pub(crate) fn provider_limit(
        &mut self,
        number: u32,
        limit: LimitLevel,
        at: Instant,
    ) -> Result<(), Error> {
        let level = self
            .policy
            .limits
            .levels
            .iter()
            .position(|l| *l == limit)
            .ok_or_else(|| Error::InvalidEvent {
                problem: format!(
                    "limit {limit} is not a level of this policy ({})",
                    self.policy
                        .limits
                        .levels
                        .iter()
                        .map(|l| l.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        self.handle_timeout(at);
        // A business-wide limit is one limit whichever of its numbers reports it (Meta's
        // quality webhook of each number carries the portfolio's limit): a report older than
        // one another number brought arrived late as well, or in order its older level
        // would have been replaced by the newer one (§10, §13).
        let owner = self.limit_owner(number);
        let stands_over_the_others = self
            .numbers_sharing(owner)
            .filter(|&n| n != number)
            .all(|n| self.numbers[n as usize].limit_event.would_admit(at, &limit));
        // Checked after the level (a refused report changes nothing, its order included).
        if !stands_over_the_others || !self.numbers[number as usize].limit_event.admit(at, &limit) {
            return Ok(()); // a late or repeated limit report (§10)
        }
        self.ensure_limit(number, self.clock);
        self.record_flag_start_level(owner, level, at);
        {
            // Admitted reports come in the order of their instants; placed by instant all
            // the same, so that no path that lets an older one through (a number that
            // brought newer ones leaving the business) writes a state that restore refuses.
            let state = self.limits.get_mut(&owner).expect("ensured above");
            let before = state.level as u32;
            let place = state.provider_reports.partition_point(|&(t, _)| t <= at);
            state.provider_reports.insert(place, (at, before));
            if state.provider_reports.len() > PROVIDER_REPORTS_KEPT {
                state.provider_reports.remove(0);
            }
        }
        if self.limits[&owner].level_before_own_change_after(at) == Some(level) {
            // Dated before an upgrade or downgrade the engine made, and saying the level the
            // engine had then: in the provider's order the engine's change came after it,
            // and stands (a late report, §10).
            return Ok(());
        }
        // The provider's level holds from its report's instant, not from when the report
        // arrived: a late report leaves classic `reach`'s time at the level (§7, "not
        // earlier than 48h at the level") running from then (§13). Never before the level
        // it replaces was reached, so the limit's history runs forward.
        let since = at.max(self.limits[&owner].level_since).min(self.clock);
        self.change_limit_since(owner, level, LimitChangeReason::Provider, self.clock, since);
        self.deadline_after_late_report(owner, at);
        Ok(())
    }

    /// A provider level reported at `at`, during a flag of a number sharing `owner` whose
    /// deadline has passed since, delivered after it: in order the deadline came after the
    /// report and lowered the reported level (§6, §13), which it does now, dated at the
    /// deadline. Before, the late report's level stood past the deadline, above the limit
    /// the flag left.
    fn deadline_after_late_report(&mut self, owner: u32, at: Instant) {
        let expired = self
            .numbers_sharing(owner)
            .filter_map(|m| Some((m, self.numbers[m as usize].expired_flag?)))
            .filter(|(_, x)| {
                let flagged_at = x.deadline.minus(self.policy.numbers.flag_for);
                flagged_at <= at && at < x.deadline && x.deadline <= self.clock
            })
            .max_by_key(|(_, x)| x.deadline);
        let Some((m, x)) = expired else {
            return;
        };
        let (found, since) = (self.limits[&owner].level, self.limits[&owner].level_since);
        let lowered = self.flag_deadline_level(x.level_at_flag, found);
        if lowered >= found {
            return;
        }
        let deadline = x.deadline.max(since);
        self.change_limit(owner, lowered, LimitChangeReason::Downgrade, deadline);
        // Kept as the deadline's own downgrade is, so that a recovery rated before the
        // deadline, delivered after this, takes it back (in order it lifted the flag).
        self.numbers[m as usize].downgraded_at_deadline = Some(FlagDowngrade {
            at: deadline,
            level_before: found as u32,
            since_before: since,
        });
        // A flag that started after that deadline started from the level it left, not from
        // the reported one (`record_flag_start_level` took the report as its start).
        for n in self.numbers_sharing(owner).collect::<Vec<_>>() {
            let state = &mut self.numbers[n as usize];
            let started_after = state
                .flagged_until
                .is_some_and(|until| until.minus(self.policy.numbers.flag_for) >= x.deadline);
            if started_after {
                state.limit_level_at_flag =
                    state.limit_level_at_flag.map(|l| l.min(lowered as u32));
            }
        }
    }

    /// Records `level`, reported by the provider for `owner` at `at` (and admitted: no later
    /// report for the reporting number had been applied), as the level the flags of numbers
    /// under `owner` that started at or after `at` start from, whether the report came
    /// before the low rating or after it: Meta's `FLAGGED` webhook carries both, of one
    /// instant, in either order.
    fn record_flag_start_level(&mut self, owner: u32, level: usize, at: Instant) {
        let flag_for = self.policy.numbers.flag_for;
        for n in self.numbers_sharing(owner).collect::<Vec<_>>() {
            let state = &mut self.numbers[n as usize];
            if state
                .flagged_until
                .is_some_and(|deadline| at.plus(flag_for) <= deadline)
            {
                state.limit_level_at_flag = Some(level as u32);
            }
        }
    }

    /// The level a number's flag deadline leaves its limit at (§6): `downgrade_levels` below
    /// the level at the flag's start, or below the level found if that is higher (a raise
    /// during the flag); never above the level found, so a provider downgrade during the
    /// flag that already took it there is not made again.
    pub(crate) fn flag_deadline_level(&self, level_at_flag: Option<u32>, found: usize) -> usize {
        let from = level_at_flag.map_or(found, |l| (l as usize).max(found));
        let down = self.policy.numbers.downgrade_levels as usize;
        from.saturating_sub(down).min(found)
    }

    /// For a low rating of number `n` dated `rated_at` and delivered after the provider
    /// reported the limit it sends under at a later instant: the level the limit had
    /// before the first such report (the level the flag starts from in the provider's
    /// order), and the instant of the latest report. `None` when no report is dated after
    /// `rated_at`.
    pub(crate) fn provider_reports_after(
        &self,
        n: u32,
        rated_at: Instant,
    ) -> Option<(usize, Instant)> {
        let state = self.limits.get(&self.limit_owner(n))?;
        let &(_, before) = state
            .provider_reports
            .iter()
            .find(|&&(at, _)| at > rated_at)?;
        let &(latest, _) = state.provider_reports.last()?;
        Some((before as usize, latest))
    }

    /// The level of the limit number `n` sends under, as stored (a new owner's first level).
    pub(crate) fn limit_level(&self, n: u32) -> usize {
        self.limits.get(&self.limit_owner(n)).map_or(0, |s| s.level)
    }
}
