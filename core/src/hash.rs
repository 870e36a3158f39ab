//! A small, deterministic hasher for the engine's integer keys.
//!
//! std's SipHash is built to resist collision attacks on untrusted strings; the engine's hot
//! maps are keyed by integers it derived itself (packed phone numbers, interned indices), and
//! their iteration order never reaches an output. Text an outsider chooses (opaque contact
//! ids, message ids, idempotency keys) is keyed with std's randomly keyed hasher instead:
//! this one is invertible, so such text can be crafted to collide. Phone numbers are
//! outsiders' too, but each one a sender needs is a real account, and a host that sends to
//! numbers from untrusted input should bound that input (docs/ROBUSTNESS.md). A multiply-rotate hash (the FxHash idea,
//! as used in rustc) is several times faster for such keys and needs no dependency.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// [`SEED`], for the test that crafts collisions of outsiders' text against it (which is why
/// maps keyed by such text do not use this hasher).
#[cfg(test)]
pub(crate) const FAST_HASH_MULTIPLIER: u64 = SEED;

/// FxHash-style hasher: fold each word in with a rotate, xor and multiply.
#[derive(Default, Clone, Copy, Debug)]
pub struct FastHasher {
    hash: u64,
}

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(tail_word(bytes, rest.len()) ^ (rest.len() as u64) << 56);
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        // A final avalanche so that hashbrown's top-7-bit tags are well mixed.
        let h = self.hash;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

/// The last `len` (1 to 7) bytes of `bytes` as a little-endian word, zero above them, read
/// without a `memcpy` call (a `copy_from_slice` of a variable length is one, and every send
/// hashes its content and its number's text): one load of the last eight bytes when there
/// are eight, else at most three small loads.
#[inline]
fn tail_word(bytes: &[u8], len: usize) -> u64 {
    if let Some(last) = bytes.last_chunk::<8>() {
        return u64::from_le_bytes(*last) >> (8 * (8 - len));
    }
    let mut word = 0u64;
    let mut at = 0;
    if len & 4 != 0 {
        if let Some(four) = bytes.first_chunk::<4>() {
            word = u64::from(u32::from_le_bytes(*four));
        }
        at = 4;
    }
    if len & 2 != 0 {
        if let Some(two) = bytes[at..].first_chunk::<2>() {
            word |= u64::from(u16::from_le_bytes(*two)) << (8 * at);
        }
        at += 2;
    }
    if len & 1 != 0 {
        word |= u64::from(bytes[at]) << (8 * at);
    }
    word
}

/// `BuildHasher` for [`FastHasher`].
pub type BuildFastHasher = BuildHasherDefault<FastHasher>;

/// A `HashMap` using [`FastHasher`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildFastHasher>;

/// A 64-bit content hash, stable across runs and platforms (little-endian words, no random
/// seed), used for duplicate detection where the hash itself is stored in snapshots. Eight
/// bytes at a time: it runs on every send. Parts are fed one by one.
#[derive(Default)]
pub struct ContentHasher(FastHasher);

impl ContentHasher {
    /// Adds one part.
    #[inline]
    pub fn part(&mut self, part: &[u8]) {
        self.0.write(part);
        // The length separates parts, so ["ab","c"] and ["a","bc"] differ.
        self.0.write_u64(part.len() as u64);
    }

    /// The hash of the parts so far.
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// The content hash of `parts`.
pub fn content_hash(parts: &[&[u8]]) -> u64 {
    let mut h = ContentHasher::default();
    for part in parts {
        h.part(part);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_word_is_the_bytes_zero_padded() {
        let bytes: Vec<u8> = (1..=23).collect();
        // Short inputs (the small loads) and longer ones (the overlapping load).
        for total in 1..=23 {
            let len = total % 8;
            if len == 0 {
                continue;
            }
            let mut padded = [0u8; 8];
            padded[..len].copy_from_slice(&bytes[total - len..total]);
            let word = tail_word(&bytes[..total], len);
            assert_eq!(word, u64::from_le_bytes(padded), "{len} of {total} bytes");
        }
    }

    const HELLO: u64 = 0x08b8_1ea8_f3db_0556;
    const ORDER_READY: u64 = 0xeaa9_8b30_fbba_3b44;

    #[test]
    fn content_hash_values_are_unchanged() {
        // Stored in snapshots: these values were computed before the tail load changed.
        assert_eq!(content_hash(&[b"text", b"hello"]), HELLO);
        assert_eq!(
            content_hash(&[b"template", b"order_ready", b"en"]),
            ORDER_READY
        );
    }

    #[test]
    fn content_hash_separates_parts_and_is_stable() {
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_ne!(
            content_hash(&[b"text", b"hi"]),
            content_hash(&[b"text", b"hj"])
        );
        assert_eq!(
            content_hash(&[b"text", b"hello"]),
            content_hash(&[b"text", b"hello"])
        );
        let long = vec![7u8; 1000];
        let mut other = long.clone();
        other[999] = 8;
        assert_ne!(content_hash(&[&long]), content_hash(&[&other]));
    }
}
