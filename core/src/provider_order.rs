//! Applying each provider event once, in the provider's order (RULES.md §10).
//!
//! Providers deliver webhooks at least once and not always in order: the same quality
//! report can come again after the pause it caused has ended, and a report from 09:00 can
//! arrive after one from 10:00. Each thing a family of provider events sets (a template's
//! quality, a number's quality, limit or restriction, a contact's marketing preference)
//! keeps the latest event applied to it: an event older than that one arrived late, and one
//! at the same instant with the same content is that event again. Neither changes anything.
//!
//! Two events of one family at the same instant with different contents cannot be ordered
//! (webhook timestamps are whole seconds). Letting the last delivered win made the outcome
//! depend on the delivery order, and a redelivery of the first flipped it back; so one of
//! them stands whatever the order: the one whose fingerprint is greater. The other is taken
//! as older.

use serde::{Deserialize, Serialize};

use crate::hash::content_hash;
use crate::time::Instant;

/// The latest provider event of one family applied to one thing: its instant and a
/// fingerprint of its content. Ordered as the events stand: the later is greater, and of two
/// at one instant the one that stands over the other; none applied is least.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProviderOrder(Option<(Instant, u64)>);

/// How an event stands against the latest applied of its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Newer than the latest applied (or at its instant with other content that stands over
    /// it): applied now.
    New,
    /// The latest applied, delivered again.
    Repeat,
    /// Older than the latest applied (or at its instant with other content that the latest
    /// stands over): it arrived late.
    Older,
}

impl ProviderOrder {
    /// Whether an event at `at` whose content is `content` is new (not older than the
    /// latest applied, not the latest again), recording it as the latest if so.
    pub fn admit(&mut self, at: Instant, content: &impl Serialize) -> bool {
        self.arrival(at, content) == Arrival::New
    }

    /// Whether [`ProviderOrder::admit`] would take the event, recording nothing.
    pub fn would_admit(&self, at: Instant, content: &impl Serialize) -> bool {
        let mut probe = *self;
        probe.admit(at, content)
    }

    /// [`ProviderOrder::admit`] for a family whose events are not alike at one instant: of
    /// two there, one that `prevails` stands over one that does not, whatever their
    /// fingerprints, then the greater fingerprint. A template's disable prevails over a
    /// pause reported in the same second: applied after the pause it disables the template,
    /// and a pause applied after it is refused (a disabled template is not paused), so only
    /// the disable standing leaves the template alike for either order.
    pub fn admit_prevailing(
        &mut self,
        at: Instant,
        prevails: bool,
        content: &impl Serialize,
    ) -> bool {
        // Prevailing takes the top bit, so a stored order needs no field of its own; the
        // fingerprint moves down one bit, which keeps the order of those that do not prevail
        // (clearing the bit instead changed which of two such stood, as `admit` had it). A
        // fingerprint a snapshot kept whole before this existed compares at or above its
        // event's, which then stands as a repeat or an older one, never applied twice.
        let fingerprint = fingerprint(content) >> 1;
        self.arrival_of(at, (u64::from(prevails) << 63) | fingerprint) == Arrival::New
    }

    /// How an event at `at` whose content is `content` arrives, recording it as the latest
    /// if it is new.
    pub fn arrival(&mut self, at: Instant, content: &impl Serialize) -> Arrival {
        self.arrival_of(at, fingerprint(content))
    }

    fn arrival_of(&mut self, at: Instant, fingerprint: u64) -> Arrival {
        match self.0 {
            Some((last, _)) if at < last => Arrival::Older,
            Some((last, seen)) if at == last && fingerprint == seen => Arrival::Repeat,
            Some((last, seen)) if at == last && fingerprint < seen => Arrival::Older,
            _ => {
                self.0 = Some((at, fingerprint));
                Arrival::New
            }
        }
    }

    /// The instant of the latest event applied, if any.
    pub fn latest_at(&self) -> Option<Instant> {
        self.0.map(|(at, _)| at)
    }

    /// Whether no event was applied yet (left out of snapshots then).
    pub fn is_unset(&self) -> bool {
        self.0.is_none()
    }
}

/// A stable hash of an event's content (its JSON, hashed as duplicate contents are): it is
/// stored in snapshots, so it must not depend on the build.
fn fingerprint(content: &impl Serialize) -> u64 {
    let json = serde_json::to_vec(content).expect("event contents serialise infallibly");
    content_hash(&[&json])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Instant {
        Instant::from_unix_millis(ms).unwrap()
    }

    #[test]
    fn late_and_repeated_events_are_not_admitted() {
        let mut order = ProviderOrder::default();
        assert!(order.is_unset());
        assert!(order.admit(at(10), &"high"));
        assert!(!order.admit(at(10), &"high"), "the same event again");
        assert!(
            !order.admit(at(9), &"medium"),
            "older than the latest applied"
        );
        // Of two events at one instant, the one with the greater fingerprint stands.
        assert!(fingerprint(&"low") > fingerprint(&"high"));
        assert!(
            order.admit(at(10), &"low"),
            "another event at the same instant, standing over the latest"
        );
        assert!(!order.admit(at(10), &"low"));
        assert_eq!(order.arrival(at(10), &"high"), Arrival::Older);
        assert!(
            order.admit(at(11), &"high"),
            "a later report of the same value"
        );
        assert_eq!(order, ProviderOrder(Some((at(11), fingerprint(&"high")))));
    }

    #[test]
    fn of_two_events_at_one_instant_the_prevailing_one_stands_whatever_the_fingerprints() {
        // "low" has the greater fingerprint; not prevailing, it stands over nothing.
        assert!(fingerprint(&"low") > fingerprint(&"high"));
        for (first, second) in [
            (("low", false), ("high", true)),
            (("high", true), ("low", false)),
        ] {
            let mut order = ProviderOrder::default();
            assert!(order.admit_prevailing(at(10), first.1, &first.0));
            assert_eq!(
                order.admit_prevailing(at(10), second.1, &second.0),
                second.1
            );
            // Either delivered again changes nothing.
            assert!(!order.admit_prevailing(at(10), true, &"high"));
            assert!(!order.admit_prevailing(at(10), false, &"low"));
        }
        // Of two that do not prevail, the one `admit` lets stand stands.
        let contents: Vec<String> = (0..40).map(|i| format!("status {i}")).collect();
        for a in &contents {
            for b in &contents {
                let (mut plain, mut ranked) = (ProviderOrder::default(), ProviderOrder::default());
                plain.admit(at(10), &a);
                ranked.admit_prevailing(at(10), false, &a);
                assert_eq!(
                    ranked.admit_prevailing(at(10), false, &b),
                    plain.admit(at(10), &b),
                    "{a} then {b}"
                );
            }
        }
        // A fingerprint a snapshot kept whole, from before: its event delivered again, not
        // prevailing, is never taken for a new one.
        for content in ["low", "high", "paused", "approved"] {
            let mut order = ProviderOrder(Some((at(10), fingerprint(&content))));
            assert!(
                !order.admit_prevailing(at(10), false, &content),
                "{content}"
            );
        }
    }

    #[test]
    fn of_two_events_at_one_instant_the_same_stands_in_any_order_and_redelivery() {
        let events = ["stop", "resume"];
        let stands = |deliveries: &[usize]| {
            let mut order = ProviderOrder::default();
            let mut state = None;
            for &k in deliveries {
                if order.admit(at(10), &events[k]) {
                    state = Some(events[k]);
                }
            }
            state
        };
        let first = stands(&[0, 1]);
        for deliveries in [&[1, 0][..], &[0, 1, 0], &[1, 0, 1], &[1, 0, 0, 1]] {
            assert_eq!(stands(deliveries), first, "{deliveries:?}");
        }
    }
}
