//! Instants and durations.
//!
//! The engine never reads a clock: every input carries an [`Instant`], a UTC point in time
//! held as integer unix milliseconds. Integers keep per-conversation state small and make
//! arithmetic exact; chrono is used only at the edges, to parse and print RFC 3339.
//!
//! On the wire an instant is an RFC 3339 string (`"2026-11-02T09:00:00Z"`) or an integer of
//! unix milliseconds; a duration is a string with a unit (`"24h"`, `"10m"`, `"7d"`, `"90s"`,
//! `"250ms"`) or an integer of milliseconds.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Earliest instant the engine accepts: 1970-01-01T00:00:00Z.
pub const MIN_INSTANT_MS: i64 = 0;
/// Latest instant the engine accepts: 9999-12-31T23:59:59.999Z. Keeping instants in this
/// range means every `instant + duration` the rules need stays far from `i64` overflow.
pub const MAX_INSTANT_MS: i64 = 253_402_300_799_999;

/// A UTC instant, in unix milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(i64);

impl Instant {
    /// The unix epoch.
    pub const EPOCH: Instant = Instant(0);

    /// An instant from unix milliseconds, refused outside years 1970..=9999.
    pub fn from_unix_millis(ms: i64) -> Result<Instant, crate::Error> {
        if (MIN_INSTANT_MS..=MAX_INSTANT_MS).contains(&ms) {
            Ok(Instant(ms))
        } else {
            Err(crate::Error::InstantOutOfRange {
                millis: ms,
                min: MIN_INSTANT_MS,
                max: MAX_INSTANT_MS,
            })
        }
    }

    /// Parses RFC 3339 (`2026-11-02T09:00:00Z`, any offset, converted to UTC).
    pub fn parse_rfc3339(text: &str) -> Result<Instant, crate::Error> {
        let parsed =
            DateTime::parse_from_rfc3339(text).map_err(|e| crate::Error::InvalidInstant {
                input: text.to_owned(),
                problem: format!(
                    "{e}; expected RFC 3339 such as \"2026-11-02T09:00:00Z\" or integer unix milliseconds"
                ),
            })?;
        Instant::from_unix_millis(parsed.timestamp_millis())
    }

    /// Unix milliseconds.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// An instant stored compactly as `Option<i64>`-like data by the engine itself, which only
    /// ever stores the milliseconds of a valid instant.
    pub(crate) const fn from_stored_millis(ms: i64) -> Instant {
        Instant(ms)
    }

    /// This instant plus a duration, saturating at the end of the accepted range.
    pub fn plus(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0).min(MAX_INSTANT_MS))
    }

    /// This instant minus a duration, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0).max(MIN_INSTANT_MS))
    }

    /// The duration from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0).max(0))
    }

    /// RFC 3339 with milliseconds only when they are not zero, always `Z`.
    pub fn to_rfc3339(self) -> String {
        let dt = DateTime::<Utc>::from_timestamp_millis(self.0).unwrap_or_default();
        let format = if self.0 % 1000 == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::Millis
        };
        dt.to_rfc3339_opts(format, true)
    }

    /// The calendar month (UTC) this instant falls in, as `YYYY-MM`.
    pub fn month_key(self) -> u32 {
        // Every recorded send asks this (monthly usage); Hinnant's days-to-civil arithmetic
        // is a few dozen instructions where a chrono DateTime costs about two hundred.
        // Instants are never negative (MIN_INSTANT_MS is 0), which the algorithm relies on.
        let days = self.0.div_euclid(86_400_000) + 719_468;
        let era = days / 146_097;
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year * 100 + month) as u32
    }
}

#[cfg(test)]
mod month_key_tests {
    use super::*;
    use chrono::Datelike;

    #[test]
    fn month_key_matches_chrono_across_the_range() {
        let mut ms = MIN_INSTANT_MS;
        // Every ~7.3 days over 10,000 years, plus the edges of months around leap days.
        while ms <= MAX_INSTANT_MS {
            let dt = DateTime::<Utc>::from_timestamp_millis(ms).unwrap();
            let expected = dt.year() as u32 * 100 + dt.month();
            assert_eq!(Instant(ms).month_key(), expected, "{ms}");
            ms += 631_152_013;
        }
        for text in [
            "2024-02-29T23:59:59.999Z",
            "2024-03-01T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2100-03-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let at = Instant::parse_rfc3339(text).unwrap();
            let dt = DateTime::<Utc>::from_timestamp_millis(at.0).unwrap();
            assert_eq!(
                at.month_key(),
                dt.year() as u32 * 100 + dt.month(),
                "{text}"
            );
        }
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        struct InstantVisitor;
        impl Visitor<'_> for InstantVisitor {
            type Value = Instant;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 UTC instant or integer unix milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Instant, E> {
                Instant::parse_rfc3339(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Instant, E> {
                Instant::from_unix_millis(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Instant, E> {
                let ms = i64::try_from(v).unwrap_or(i64::MAX);
                Instant::from_unix_millis(ms).map_err(E::custom)
            }
        }
        d.deserialize_any(InstantVisitor)
    }
}

/// A non-negative span of time, in milliseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(i64);

/// The largest duration accepted: 100 years, so that policy values never overflow instants.
pub const MAX_DURATION_MS: i64 = 100 * 366 * 86_400_000;

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// From milliseconds (clamped to `0..=MAX_DURATION_MS`).
    pub const fn from_millis(ms: i64) -> Duration {
        if ms < 0 {
            Duration(0)
        } else if ms > MAX_DURATION_MS {
            Duration(MAX_DURATION_MS)
        } else {
            Duration(ms)
        }
    }
    /// From seconds.
    pub const fn from_secs(s: i64) -> Duration {
        Duration::from_millis(s * 1000)
    }
    /// From minutes.
    pub const fn from_mins(m: i64) -> Duration {
        Duration::from_secs(m * 60)
    }
    /// From hours.
    pub const fn from_hours(h: i64) -> Duration {
        Duration::from_mins(h * 60)
    }
    /// From days of 86 400 s.
    pub const fn from_days(d: i64) -> Duration {
        Duration::from_hours(d * 24)
    }
    /// Milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses `"24h"`, `"10m"`, `"7d"`, `"90s"`, `"250ms"` or a bare number of milliseconds.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let value: i64 = digits.parse().map_err(|_| {
            format!("expected a duration like \"24h\", \"10m\" or \"7d\", got {text:?}")
        })?;
        let unit_ms = match unit {
            "" | "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(format!(
                    "unknown duration unit {other:?} in {text:?} (use ms, s, m, h or d)"
                ))
            }
        };
        let ms = value
            .checked_mul(unit_ms)
            .filter(|ms| *ms <= MAX_DURATION_MS)
            .ok_or_else(|| format!("duration {text:?} is longer than the 100-year maximum"))?;
        Ok(Duration(ms))
    }
}

impl fmt::Debug for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Duration {
    /// The largest whole unit: `86400000` prints as `1d`, `5400000` as `90m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms != 0 && ms % size == 0 {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"24h\", \"10m\", \"7d\" or integer milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if (0..=MAX_DURATION_MS).contains(&v) {
                    Ok(Duration(v))
                } else {
                    Err(E::custom(format!(
                        "duration {v} ms is outside 0..={MAX_DURATION_MS}"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
        }
        d.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_and_offsets() {
        let t = Instant::parse_rfc3339("2026-11-02T09:00:00Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-02T09:00:00Z");
        let shifted = Instant::parse_rfc3339("2026-11-02T12:00:00+03:00").unwrap();
        assert_eq!(t, shifted);
        let ms = Instant::from_unix_millis(t.unix_millis() + 5).unwrap();
        assert_eq!(ms.to_rfc3339(), "2026-11-02T09:00:00.005Z");
    }

    #[test]
    fn out_of_range_instants_are_refused() {
        assert!(Instant::from_unix_millis(-1).is_err());
        assert!(Instant::from_unix_millis(i64::MAX).is_err());
        assert!(Instant::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Duration::parse("24h").unwrap(), Duration::from_hours(24));
        assert_eq!(Duration::from_hours(24).to_string(), "1d");
        assert_eq!(Duration::parse("90m").unwrap().to_string(), "90m");
        assert_eq!(Duration::parse("1500").unwrap().to_string(), "1500ms");
        assert!(Duration::parse("3 weeks").is_err());
        assert!(Duration::parse("99999999999d").is_err());
    }

    #[test]
    fn month_key_is_utc() {
        let t = Instant::parse_rfc3339("2026-10-31T23:30:00-01:00").unwrap();
        assert_eq!(t.month_key(), 202611);
    }
}
