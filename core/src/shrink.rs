//! Giving memory back after a burst.
//!
//! Tables that grow with bursts (live chats' timers, recent sends, queued effects) keep the
//! capacity of their peak: a million chats that all ended leave a timer heap and map sized for
//! a million. A table shrinks to twice its length once it falls below a quarter of its
//! capacity, so a table oscillating around one size never reallocates on every call, and the
//! cost of a shrink is paid for by the removals that made it sparse (amortised O(1)).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Capacity below which a table is never shrunk (not worth a reallocation).
const FLOOR: usize = 1024;

#[inline]
fn sparse(len: usize, capacity: usize) -> bool {
    capacity > FLOOR && len < capacity / 4
}

/// A table that can give back capacity.
pub(crate) trait ShrinkWhenSparse {
    /// Shrinks to twice the length when below a quarter of the capacity.
    fn shrink_when_sparse(&mut self);
}

impl<K: Eq + Hash, V, S: BuildHasher> ShrinkWhenSparse for HashMap<K, V, S> {
    #[inline]
    fn shrink_when_sparse(&mut self) {
        if sparse(self.len(), self.capacity()) {
            self.shrink_to((2 * self.len()).max(FLOOR / 2));
        }
    }
}

impl<T> ShrinkWhenSparse for VecDeque<T> {
    #[inline]
    fn shrink_when_sparse(&mut self) {
        if sparse(self.len(), self.capacity()) {
            self.shrink_to((2 * self.len()).max(FLOOR / 2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_shrinks_only_once_it_is_sparse() {
        let mut q: VecDeque<u32> = (0..100_000).collect();
        let peak = q.capacity();
        q.drain(..70_000);
        q.shrink_when_sparse();
        assert_eq!(q.capacity(), peak, "30% full: kept");
        q.drain(..29_000);
        q.shrink_when_sparse();
        assert!(
            q.capacity() < peak / 16,
            "1% full: shrunk to {}",
            q.capacity()
        );
        assert_eq!(q.len(), 1_000);
        let mut small: VecDeque<u32> = VecDeque::with_capacity(FLOOR);
        small.push_back(1);
        small.shrink_when_sparse();
        assert_eq!(small.capacity(), FLOOR, "small tables are left alone");
    }
}
