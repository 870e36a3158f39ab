//! String-keyed records remembered for a fixed time: provider message ids, inbound message
//! ids, idempotency keys. Expiry is O(1) per insert: records are pruned from the front of an insertion-ordered
//! queue as the clock passes them, at most [`PRUNE_PER_INSERT`] at a time, so memory is
//! bounded by the records of one period plus a backlog that every insert shrinks.

use std::collections::{HashMap, VecDeque};

use crate::time::{Duration, Instant};

/// How many expired records one insert drops at most, in every table that forgets records
/// after a period (this map and the duplicate records). Inserts add one record
/// each, so a backlog shrinks by at least 31 an insert, and no single call pays for a
/// whole quiet spell: dropping 3 M duplicate records at once took the first send after a
/// quiet spell 466 ms at a million conversations (35 µs with this bound). Expired records
/// left for later are harmless, as every reader compares their time with its `now`.
pub(crate) const PRUNE_PER_INSERT: usize = 32;

/// A map whose entries are forgotten `ttl` after they were inserted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ExpiringMap<V> {
    ttl: Duration,
    map: HashMap<String, (Instant, V)>,
    order: VecDeque<(Instant, String)>,
}

impl<V> ExpiringMap<V> {
    /// An empty map remembering entries for `ttl`.
    pub fn new(ttl: Duration) -> ExpiringMap<V> {
        ExpiringMap {
            ttl,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The live entry for `key` at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<&V> {
        self.map
            .get(key)
            .filter(|&&(at, _)| self.is_live(at, now))
            .map(|(_, v)| v)
    }

    /// The live entry for `key` at `now`, mutably.
    pub fn get_mut(&mut self, key: &str, now: Instant) -> Option<&mut V> {
        let ttl = self.ttl;
        self.map
            .get_mut(key)
            .filter(|(at, _)| at.plus(ttl) > now)
            .map(|(_, v)| v)
    }

    /// Inserts (or replaces) `key` as of `now`, forgetting some of what has expired.
    pub fn insert(&mut self, key: String, now: Instant, value: V) {
        self.prune(now);
        match self.map.get_mut(&key) {
            // Replaced at the instant it was inserted: its place in the queue stands (a
            // second place would list it twice).
            Some(entry) if entry.0 == now => entry.1 = value,
            _ => {
                self.order.push_back((now, key.clone()));
                self.map.insert(key, (now, value));
            }
        }
    }

    /// Forgets up to [`PRUNE_PER_INSERT`] entries older than the ttl (every insert does).
    pub fn prune(&mut self, now: Instant) {
        for _ in 0..PRUNE_PER_INSERT {
            let Some((at, _)) = self.order.front() else {
                break;
            };
            if self.is_live(*at, now) {
                break;
            }
            let (at, key) = self.order.pop_front().expect("front exists");
            if self.map.get(&key).is_some_and(|(t, _)| *t == at) {
                self.map.remove(&key);
            }
        }
    }

    /// Adds `more`, each in the place its instant gives it among the entries here, and
    /// forgets every entry (here or in `more`) expired by `now`: a key may be given again
    /// once its entry expired. `false`, and nothing changed, if a key live at `now` repeats.
    pub fn merge(&mut self, more: Vec<(String, Instant, V)>, now: Instant) -> bool
    where
        V: Clone,
    {
        let mut entries: Vec<(String, Instant, V)> = self
            .live_entries(now)
            .into_iter()
            .map(|(key, at, value)| (key.to_owned(), at, value.clone()))
            .collect();
        entries.extend(more.into_iter().filter(|&(_, at, _)| self.is_live(at, now)));
        // Stable: entries of one instant keep their order, this map's first.
        entries.sort_by_key(|&(_, at, _)| at);
        match ExpiringMap::from_entries(self.ttl, entries, now) {
            Some(merged) => {
                *self = merged;
                true
            }
            None => false,
        }
    }

    /// (key, inserted at, value) in insertion order, for snapshots.
    pub fn entries(&self) -> Vec<(&str, Instant, &V)> {
        self.order
            .iter()
            .filter_map(|(at, key)| {
                let (t, v) = self.map.get(key)?;
                (t == at).then_some((key.as_str(), *at, v))
            })
            .collect()
    }

    /// The entries still live at `now`, in insertion order (exports: an expired entry has no
    /// effect any more).
    pub fn live_entries(&self, now: Instant) -> Vec<(&str, Instant, &V)> {
        let mut entries = self.entries();
        entries.retain(|&(_, at, _)| self.is_live(at, now));
        entries
    }

    /// Whether an entry inserted `at` is still live at `now`.
    pub fn is_live(&self, at: Instant, now: Instant) -> bool {
        at.plus(self.ttl) > now
    }

    /// Whether an entry for `key`, inserted `at`, would meet a live one here at `now`: both
    /// live, the same key.
    pub fn clashes(&self, key: &str, at: Instant, now: Instant) -> bool {
        self.is_live(at, now) && self.get(key, now).is_some()
    }

    /// Rebuilds from [`ExpiringMap::entries`]; `None` if they are out of order or repeat.
    pub fn from_entries(
        ttl: Duration,
        entries: Vec<(String, Instant, V)>,
        clock: Instant,
    ) -> Option<ExpiringMap<V>> {
        let mut m = ExpiringMap::new(ttl);
        let mut last = Instant::EPOCH;
        for (key, at, value) in entries {
            // Later than the clock, an entry would sit after the ones recorded next.
            if at < last || at > clock || m.map.contains_key(&key) {
                return None;
            }
            last = at;
            m.order.push_back((at, key.clone()));
            m.map.insert(key, (at, value));
        }
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let t = |s: i64| Instant::EPOCH.plus(Duration::from_secs(s));
        let mut m = ExpiringMap::new(Duration::from_secs(10));
        m.insert("a".into(), t(0), 1);
        m.insert("b".into(), t(5), 2);
        assert_eq!(m.get("a", t(9)), Some(&1));
        assert_eq!(m.get("a", t(10)), None);
        m.insert("c".into(), t(12), 3);
        assert_eq!(m.entries().len(), 2, "a was pruned");
        let copy = ExpiringMap::from_entries(
            Duration::from_secs(10),
            m.entries()
                .into_iter()
                .map(|(k, t, v)| (k.to_owned(), t, *v))
                .collect(),
            t(12),
        )
        .unwrap();
        assert_eq!(copy, m);
    }

    #[test]
    fn a_key_replaced_keeps_one_place() {
        let t = |s: i64| Instant::EPOCH.plus(Duration::from_secs(s));
        let mut m = ExpiringMap::new(Duration::from_secs(10));
        m.insert("a".into(), t(1), 1);
        m.insert("a".into(), t(1), 2);
        assert_eq!(
            m.entries(),
            vec![("a", t(1), &2)],
            "replaced at the same instant"
        );
        m.insert("b".into(), t(2), 3);
        m.insert("a".into(), t(3), 4);
        assert_eq!(m.entries(), vec![("b", t(2), &3), ("a", t(3), &4)]);
        assert_eq!(m.get("a", t(12)), Some(&4), "lives from its latest insert");
    }

    #[test]
    fn an_insert_after_a_quiet_spell_drops_a_bounded_part_of_the_backlog() {
        let t = |s: i64| Instant::EPOCH.plus(Duration::from_secs(s));
        let mut m = ExpiringMap::new(Duration::from_secs(10));
        for i in 0..100 {
            m.insert(format!("old{i}"), t(0), i);
        }
        m.insert("new".into(), t(60), 100);
        assert_eq!(m.order.len(), 100 - PRUNE_PER_INSERT + 1);
        assert_eq!(
            m.get("old99", t(60)),
            None,
            "expired, even if not dropped yet"
        );
        assert_eq!(m.get("new", t(60)), Some(&100));
        for i in 0..3 {
            m.insert(format!("more{i}"), t(60), i);
        }
        assert_eq!(m.map.len(), 4, "the backlog is gone after four inserts");
        assert_eq!(m.entries().len(), 4);
    }
}
