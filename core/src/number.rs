//! Businesses and their numbers (RULES.md §1).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::latest_by_instant::RecentRatings;
use crate::provider_order::ProviderOrder;

use crate::time::{Duration, Instant};

/// How a number is connected, which decides the rules that apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// WhatsApp Business API through any provider: service window, templates, limits.
    Official,
    /// A regular WhatsApp account behind a web bridge: no window, groups allowed.
    Unofficial,
    /// Telegram, Viber and the like: no window.
    Messenger,
    /// Email: asynchronous, every conversation is a ticket.
    Email,
}

impl Channel {
    /// Whether the customer service window applies.
    pub fn has_service_window(self) -> bool {
        self == Channel::Official
    }
    /// Whether the number may take part in group chats.
    pub fn allows_groups(self) -> bool {
        self == Channel::Unofficial
    }
    /// Whether the business may write first to a contact who never wrote.
    pub fn may_write_first(self) -> bool {
        matches!(self, Channel::Official | Channel::Email)
    }
    /// Whether conversations are live chats (otherwise straight tickets).
    pub fn has_chats(self) -> bool {
        self != Channel::Email
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Official => "official",
            Channel::Unofficial => "unofficial",
            Channel::Messenger => "messenger",
            Channel::Email => "email",
        })
    }
}

from_wire_name!(Channel);

impl Channel {
    /// Every channel, in the order a [`ChannelSet`] lists them.
    pub const ALL: [Channel; 4] = [
        Channel::Official,
        Channel::Unofficial,
        Channel::Messenger,
        Channel::Email,
    ];

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of channels, as a policy names them (`content.limited_channels`): a list of
/// channel names on the wire, a bit per channel in memory, since a send reads it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelSet(u8);

impl ChannelSet {
    /// The set of `channels` (each once, however often named).
    pub const fn of(channels: &[Channel]) -> ChannelSet {
        let mut bits = 0;
        let mut i = 0;
        while i < channels.len() {
            bits |= channels[i].bit();
            i += 1;
        }
        ChannelSet(bits)
    }

    /// Whether `channel` is in the set.
    pub fn contains(self, channel: Channel) -> bool {
        self.0 & channel.bit() != 0
    }

    /// The channels in the set, in the order of [`Channel::ALL`].
    pub fn iter(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.into_iter().filter(move |&c| self.contains(c))
    }
}

impl Serialize for ChannelSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for ChannelSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ChannelSet::of(&Vec::<Channel>::deserialize(deserializer)?))
    }
}

/// A registered number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NumberState {
    /// Its address.
    pub address: crate::address::AddressKey,
    /// The business it belongs to (index).
    pub business: u32,
    /// Channel kind.
    pub channel: Channel,
    /// Provider name (`meta`, `twilio`, `360dialog`...), lowercase.
    pub provider: String,
    /// Per-number idle timeout for chats, overriding the policy's.
    pub idle_timeout: Option<Duration>,
    /// The template `initiate` sends, as (name, language).
    pub default_template: Option<(String, String)>,
    /// Activity counters.
    #[serde(deserialize_with = "NumberCounters::deserialize_older")]
    pub counters: NumberCounters,
    /// Quality rating from provider events.
    #[serde(default)]
    pub quality: crate::template::Quality,
    /// Flagged for low quality: the deadline to recover by (§6).
    #[serde(default)]
    pub flagged_until: Option<crate::time::Instant>,
    /// While flagged: the level (index into the policy's levels) of the limit the number
    /// sends under as the flag started, or as the latest provider report of an instant up to
    /// the flag's start set it. The deadline lowers the limit `numbers.downgrade_levels`
    /// below the higher of this and the level it finds, never above the level it finds, so
    /// a provider downgrade during the flag (Meta's `DOWNGRADE`) is not made twice. Absent
    /// from snapshots of before: the deadline lowers from the level it finds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_level_at_flag: Option<u32>,
    /// The limit a flag's deadline lowered, until a later quality report: a recovery rated
    /// before that deadline but delivered after it takes the downgrade back (§6, §13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downgraded_at_deadline: Option<FlagDowngrade>,
    /// Provider restrictions, one per scope (§6); `restriction` in snapshots of before.
    #[serde(
        default,
        alias = "restriction",
        skip_serializing_if = "Restrictions::is_empty"
    )]
    pub restrictions: Restrictions,
    /// The provider's id for the number (Meta `phone_number_id`).
    #[serde(default)]
    pub phone_number_id: Option<String>,
    /// The latest flag whose deadline passed, while no recovery rated before that deadline
    /// arrived since: a provider limit report dated during it, delivered after the deadline,
    /// is followed by the deadline's downgrade again, as in order (§6, §13). Absent from
    /// snapshots of before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_flag: Option<ExpiredFlag>,
    /// When the latest recovery (a medium or high rating) was rated, whenever it arrived: a
    /// late low before it set no flag in force (§6, §13). Absent from snapshots of before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_at: Option<crate::time::Instant>,
    /// The latest rating, a low that flagged nothing because the number was rated low
    /// already: another rating dated between the low before it and it, delivered late,
    /// makes it a fall to low in order, which flags from its instant (§6, §13). Until the
    /// next rating. Absent from snapshots of before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeated_low: Option<RepeatedLow>,
    /// The latest ratings by their instants, whatever order they arrived in: a late low is
    /// judged by the ratings beside it in order (§6, §13). Absent from snapshots of before
    /// (a late low then finds none beside it).
    #[serde(default, skip_serializing_if = "RecentRatings::is_empty")]
    pub recent_ratings: RecentRatings,
    /// The latest provider quality, limit and restriction events applied, so that a late or
    /// repeated one changes nothing (§10).
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub quality_event: ProviderOrder,
    #[serde(default, skip_serializing_if = "ProviderOrder::is_unset")]
    pub limit_event: ProviderOrder,
    /// Per scope: restrictions and lifts of one scope are one family, so that a report of one
    /// scope is not taken as older than a newer report of the other.
    #[serde(default, skip_serializing_if = "RestrictionOrder::is_unset")]
    pub restriction_event: RestrictionOrder,
}

/// A number's flag that ran to its deadline (see [`NumberState::expired_flag`]). It started
/// the policy's `numbers.flag_for` before its deadline, as every number flag does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpiredFlag {
    /// Its deadline.
    pub deadline: crate::time::Instant,
    /// The level the flag started from (see [`NumberState::limit_level_at_flag`]), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_at_flag: Option<u32>,
}

/// A low rating that repeated the low before it (see [`NumberState::repeated_low`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RepeatedLow {
    /// When the low it repeated was rated.
    pub after: crate::time::Instant,
    /// When the first of a run of repeats was rated (each repeating the one before).
    pub first: crate::time::Instant,
    /// When it, the latest of the run, was rated.
    pub at: crate::time::Instant,
}

/// A flag deadline's downgrade of the limit a number sends under, as it can be taken back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagDowngrade {
    /// The deadline: when the limit went down.
    pub at: crate::time::Instant,
    /// The level before (an index into the policy's levels).
    pub level_before: u32,
    /// Since when the limit had that level.
    pub since_before: crate::time::Instant,
}

impl NumberState {
    /// A stored number is one `register_number` could have made (restore and import): a
    /// positive idle timeout, ids within their bounds, and its flag whole (a level of the
    /// policy's `levels_len` kept only while flagged, which the deadline lowers from), its
    /// recovery and expired flag no later than the saved `clock`.
    pub(crate) fn check_saved(&self, levels_len: usize, clock: Instant) -> Result<(), String> {
        // Both are dated by inputs the engine applied, at or before its clock: one after it
        // would stop every late rating before it from moving a flag.
        if let Some(at) = self.recovered_at.filter(|&at| at > clock) {
            return Err(format!(
                "has a recovery at {at}, after the state's clock {clock}"
            ));
        }
        if let Some(r) = self
            .repeated_low
            .filter(|r| r.at > clock || r.after >= r.first || r.first > r.at)
        {
            return Err(format!(
                "has repeated low ratings from {} to {} after one at {}, not in order by the \
                 state's clock {clock}",
                r.first, r.at, r.after
            ));
        }
        self.recent_ratings.check_saved(clock, "recent ratings")?;
        if let Some(x) = self.expired_flag.filter(|x| x.deadline > clock) {
            return Err(format!(
                "has a flag that ran out at {}, after the state's clock {clock}",
                x.deadline
            ));
        }
        if self.idle_timeout == Some(crate::time::Duration::ZERO) {
            return Err("has an idle_timeout of zero".into());
        }
        let bytes = 1..=crate::engine::MAX_ID_BYTES;
        for (field, id) in [
            ("phone_number_id", self.phone_number_id.as_deref()),
            ("provider", Some(self.provider.as_str())),
        ] {
            if let Some(len) = id.map(str::len).filter(|len| !bytes.contains(len)) {
                return Err(format!(
                    "has a {field} of {len} bytes, not 1..={}",
                    bytes.end()
                ));
            }
        }
        if let Some(d) = self.downgraded_at_deadline {
            if d.since_before > d.at {
                return Err(format!(
                    "has a downgrade at {} from a level held since {}, after it",
                    d.at, d.since_before
                ));
            }
            if d.level_before as usize >= levels_len {
                return Err(format!(
                    "has a downgrade from level {}, not a level of the policy's {levels_len}",
                    d.level_before
                ));
            }
        }
        if let Some(x) = self.expired_flag {
            if x.level_at_flag.is_some_and(|l| l as usize >= levels_len) {
                return Err(format!(
                    "has an expired flag from level {:?}, not a level of the policy's {levels_len}",
                    x.level_at_flag
                ));
            }
        }
        match (self.limit_level_at_flag, self.flagged_until) {
            (Some(_), None) => Err("has a limit_level_at_flag but is not flagged".into()),
            (Some(level), Some(_)) if level as usize >= levels_len => Err(format!(
                "has limit_level_at_flag {level}, not a level of the policy's {levels_len}"
            )),
            _ => Ok(()),
        }
    }
}

/// What a provider restriction bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionScope {
    /// Business-initiated messages (templates outside a window); replies stay allowed.
    BusinessInitiated,
    /// Every message, replies to customers included.
    AllMessages,
    /// Every message, until the provider reinstates the account: a ban (Meta's
    /// `DISABLED_UPDATE`). Kept apart from `all_messages` because a restriction report lists
    /// only restrictions: one that leaves out `all_messages` must not end a ban.
    AccountDisabled,
}

/// A restriction and its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restriction {
    /// What it bars.
    pub scope: RestrictionScope,
    /// When it ends; `None` until lifted.
    pub until: Option<crate::time::Instant>,
}

impl Restriction {
    /// Whether it is in force at `now`.
    pub fn active_at(&self, now: crate::time::Instant) -> bool {
        self.until.is_none_or(|t| now < t)
    }
}

impl RestrictionScope {
    /// Every scope, narrowest first: the order their effects come in when several end at
    /// once.
    pub const ALL: [RestrictionScope; 3] = [
        RestrictionScope::BusinessInitiated,
        RestrictionScope::AllMessages,
        RestrictionScope::AccountDisabled,
    ];

    /// The scopes Meta's restriction list (`ACCOUNT_RESTRICTION`) speaks for: a scope it
    /// leaves out has no restriction. A ban is not one of them.
    pub const REPORTED: [RestrictionScope; 2] = [
        RestrictionScope::BusinessInitiated,
        RestrictionScope::AllMessages,
    ];

    /// Whether it bars a send by `initiator`: every scope bars a business-initiated send;
    /// only `business_initiated` leaves replies to customers allowed.
    pub fn bars(self, initiator: crate::decision::Initiator) -> bool {
        self != RestrictionScope::BusinessInitiated
            || initiator == crate::decision::Initiator::Business
    }

    /// Its place in [`RestrictionScope::ALL`] (and in per-scope arrays).
    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

/// A number's provider restrictions, at most one per scope (§6). Meta lists several in one
/// report, each with its own expiry (a bar on business-initiated messages may outlast one on
/// all messages), so each scope keeps its own end. Written as the list of those held,
/// narrowest first; a snapshot of before held one restriction, read into its scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Restrictions([Option<Restriction>; RestrictionScope::ALL.len()]);

impl Restrictions {
    /// The restriction of `scope`, if one is held (in force or ended and not fired yet).
    pub fn get(&self, scope: RestrictionScope) -> Option<Restriction> {
        self.0[scope.slot()]
    }

    /// Holds `restriction`, replacing the one of its scope.
    pub fn set(&mut self, restriction: Restriction) {
        self.0[restriction.scope.slot()] = Some(restriction);
    }

    /// Drops the restriction of `scope`, returning it.
    pub fn take(&mut self, scope: RestrictionScope) -> Option<Restriction> {
        self.0[scope.slot()].take()
    }

    /// The restrictions held, narrowest first.
    pub fn iter(&self) -> impl Iterator<Item = Restriction> + '_ {
        self.0.iter().flatten().copied()
    }

    /// Those in force at `now`.
    pub fn active_at(&self, now: crate::time::Instant) -> impl Iterator<Item = Restriction> + '_ {
        self.iter().filter(move |r| r.active_at(now))
    }

    /// The widest restriction in force at `now`.
    pub fn widest_at(&self, now: crate::time::Instant) -> Option<Restriction> {
        self.active_at(now).last()
    }

    /// Among the restrictions in force at `now` that bar a send by `initiator` (see
    /// [`RestrictionScope::bars`]), the one that ends last: the send is barred until its end.
    pub fn barring(
        &self,
        initiator: crate::decision::Initiator,
        now: crate::time::Instant,
    ) -> Option<Restriction> {
        self.active_at(now)
            .filter(|r| r.scope.bars(initiator))
            // `None` (until lifted) ends after any instant.
            .max_by_key(|r| (r.until.is_none(), r.until))
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The earliest end among the restrictions held, for the timer.
    pub fn next_end(&self) -> Option<crate::time::Instant> {
        self.iter().filter_map(|r| r.until).min()
    }
}

/// The latest restriction report applied to each scope of a number (§10), in
/// `RestrictionScope::ALL`'s order. A snapshot of before kept one for both restriction
/// scopes (read into each), or none for bans (held as `all_messages` then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RestrictionOrder([ProviderOrder; RestrictionScope::ALL.len()]);

impl RestrictionOrder {
    /// Whether a report of `scope` at `at` with `content` is new (see
    /// [`ProviderOrder::admit`]).
    pub fn admit(
        &mut self,
        scope: RestrictionScope,
        at: Instant,
        content: &impl Serialize,
    ) -> bool {
        self.0[scope.slot()].admit(at, content)
    }

    /// The scopes to which a report about every scope (a lift of all) is new, recording it
    /// in each: a scope with a newer report of its own keeps it.
    pub fn admit_all(&mut self, at: Instant, content: &impl Serialize) -> Vec<RestrictionScope> {
        RestrictionScope::ALL
            .into_iter()
            .filter(|scope| self.0[scope.slot()].admit(at, content))
            .collect()
    }

    pub fn is_unset(&self) -> bool {
        self.0.iter().all(ProviderOrder::is_unset)
    }
}

impl<'de> Deserialize<'de> for RestrictionOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            PerScope([ProviderOrder; RestrictionScope::ALL.len()]),
            BeforeBans([ProviderOrder; 2]),
            Older(ProviderOrder),
        }
        let unset = ProviderOrder::default();
        Ok(match Stored::deserialize(deserializer)? {
            Stored::PerScope(orders) => RestrictionOrder(orders),
            Stored::BeforeBans([restricted, all]) => RestrictionOrder([restricted, all, unset]),
            Stored::Older(order) => RestrictionOrder([order, order, unset]),
        })
    }
}

impl Serialize for Restrictions {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Restrictions {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The list, or the one restriction (or `null`) a snapshot of before held.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            List(Vec<Restriction>),
            Older(Option<Restriction>),
        }
        let list = match Stored::deserialize(deserializer)? {
            Stored::List(list) => list,
            Stored::Older(one) => one.into_iter().collect(),
        };
        let mut restrictions = Restrictions::default();
        for restriction in list {
            if restrictions.get(restriction.scope).is_some() {
                return Err(serde::de::Error::custom(format!(
                    "two restrictions of scope {:?}",
                    restriction.scope
                )));
            }
            restrictions.set(restriction);
        }
        Ok(restrictions)
    }
}

/// Activity counters of one number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NumberCounters {
    /// Inbound messages and calls.
    pub inbound: u64,
    /// Sends allowed.
    pub sends_allowed: u64,
    /// Sends denied.
    pub sends_denied: u64,
    /// Templates sent.
    pub templates_sent: u64,
    /// Chats started.
    pub chats_started: u64,
    /// Chats ended by an agent.
    pub chats_ended_by_agent: u64,
    /// Chats ended by inactivity.
    pub chats_ended_by_idle: u64,
    /// Chats ended by an automation rule.
    pub chats_ended_by_rule: u64,
    /// Chats ended by inactivity without any agent reply.
    pub chats_missed: u64,
    /// Tickets opened.
    pub tickets_opened: u64,
    /// Sum of times to first agent response in ended chats, in ms.
    pub first_response_total_ms: u64,
    /// Ended chats that had an agent response (counted when the chat ends, as `responses`).
    pub first_responses: u64,
    /// Agent replies in ended chats that answered a waiting contact, first responses
    /// included.
    #[serde(default)]
    pub responses: u64,
    /// Sum of their response times, in ms.
    #[serde(default)]
    pub response_total_ms: u64,
    /// On an email number, tickets closed while the contact waited unanswered (a chat's
    /// counterpart is `chats_missed`).
    #[serde(default)]
    pub tickets_closed_unanswered: u64,
}

impl NumberCounters {
    /// Counters as stored, also those written before response times were kept (no
    /// `responses`): each chat that had a first response counted that one response. An
    /// engine never writes fewer responses than first responses.
    fn deserialize_older<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut counters = NumberCounters::deserialize(d)?;
        if counters.responses == 0 && counters.first_responses > 0 {
            counters.responses = counters.first_responses;
            counters.response_total_ms = counters.first_response_total_ms;
        }
        Ok(counters)
    }
}

#[cfg(test)]
mod restriction_tests {
    use super::*;
    use crate::decision::Initiator;
    use crate::time::Instant;

    fn at(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn restrictions_read_the_one_restriction_of_older_snapshots_and_write_a_list() {
        let older: Restrictions = serde_json::from_str("null").unwrap();
        assert!(older.is_empty());
        let older: Restrictions =
            serde_json::from_str(r#"{"scope":"all_messages","until":5}"#).unwrap();
        assert_eq!(
            older.get(RestrictionScope::AllMessages),
            Some(Restriction {
                scope: RestrictionScope::AllMessages,
                until: Some(at(5))
            })
        );
        let mut both = older;
        both.set(Restriction {
            scope: RestrictionScope::BusinessInitiated,
            until: None,
        });
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(
            json,
            r#"[{"scope":"business_initiated","until":null},{"scope":"all_messages","until":"1970-01-01T00:00:00.005Z"}]"#
        );
        assert_eq!(serde_json::from_str::<Restrictions>(&json).unwrap(), both);
        let twice =
            r#"[{"scope":"all_messages","until":null},{"scope":"all_messages","until":null}]"#;
        assert!(serde_json::from_str::<Restrictions>(twice).is_err());
    }

    #[test]
    fn the_barring_restriction_is_the_one_that_ends_last() {
        let mut r = Restrictions::default();
        r.set(Restriction {
            scope: RestrictionScope::AllMessages,
            until: Some(at(100)),
        });
        r.set(Restriction {
            scope: RestrictionScope::BusinessInitiated,
            until: Some(at(50)),
        });
        let barring =
            |r: &Restrictions, initiator, now| r.barring(initiator, at(now)).map(|r| r.scope);
        assert_eq!(
            barring(&r, Initiator::Business, 10),
            Some(RestrictionScope::AllMessages)
        );
        assert_eq!(
            barring(&r, Initiator::Customer, 10),
            Some(RestrictionScope::AllMessages)
        );
        assert_eq!(barring(&r, Initiator::Customer, 100), None);
        r.set(Restriction {
            scope: RestrictionScope::BusinessInitiated,
            until: None,
        });
        assert_eq!(
            barring(&r, Initiator::Business, 10),
            Some(RestrictionScope::BusinessInitiated),
            "until lifted ends after any instant"
        );
        assert_eq!(
            barring(&r, Initiator::Customer, 10),
            Some(RestrictionScope::AllMessages)
        );
        assert_eq!(r.next_end(), Some(at(100)));
        assert_eq!(
            r.widest_at(at(10)).map(|r| r.scope),
            Some(RestrictionScope::AllMessages)
        );
    }

    #[test]
    fn restriction_orders_of_before_bans_read_with_the_ban_unset() {
        let order = ProviderOrder::default();
        let mut reported = order;
        assert!(reported.admit(at(5), &"lifted"));
        let unset = serde_json::to_string(&order).unwrap();
        let set = serde_json::to_string(&reported).unwrap();
        let two = format!("[{set},{unset}]");
        assert_eq!(
            serde_json::from_str::<RestrictionOrder>(&two).unwrap(),
            RestrictionOrder([reported, order, order])
        );
        let three = RestrictionOrder([order, reported, reported]);
        let json = serde_json::to_string(&three).unwrap();
        assert_eq!(
            serde_json::from_str::<RestrictionOrder>(&json).unwrap(),
            three
        );
        assert_eq!(
            serde_json::from_str::<RestrictionOrder>(&set).unwrap(),
            RestrictionOrder([reported, reported, order]),
            "the one order of before is each restriction scope's"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_set_reads_and_writes_a_list_of_channel_names() {
        let set: ChannelSet = serde_json::from_str(r#"["email","official","email"]"#).unwrap();
        assert!(set.contains(Channel::Official) && set.contains(Channel::Email));
        assert!(!set.contains(Channel::Unofficial) && !set.contains(Channel::Messenger));
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            r#"["official","email"]"#,
            "each once, in the order of Channel::ALL"
        );
        let none: ChannelSet = serde_json::from_str("[]").unwrap();
        assert_eq!(none.iter().count(), 0);
        let wrong = serde_json::from_str::<ChannelSet>(r#"["sms"]"#).unwrap_err();
        assert!(wrong.to_string().contains("sms"), "{wrong}");
    }
}
