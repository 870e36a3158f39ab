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

use chrono::DateTime;
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
    /// The latest instant accepted.
    pub(crate) const LATEST: Instant = Instant(MAX_INSTANT_MS);

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

    /// Whether this instant, given as an integer, is more likely unix seconds read as
    /// milliseconds than a time of WhatsApp traffic: it falls after the epoch and before
    /// 2001-09-09T01:46:40Z (10¹² ms), which no message comes before and every instant of
    /// this century in seconds does (Meta's webhook `timestamp`s are seconds). The engine
    /// takes it as given; the bindings and the command-line tool warn of it.
    pub fn looks_like_unix_seconds(self) -> bool {
        const SURELY_LATER_MS: i64 = 1_000_000_000_000;
        0 < self.0 && self.0 < SURELY_LATER_MS
    }

    /// An instant from a host's clock reading (`SystemTime::now()` where the host reads
    /// its clock; the engine never does), to the millisecond, rounded down; refused outside
    /// years 1970..=9999 as [`Instant::from_unix_millis`] refuses.
    pub fn from_system_time(time: std::time::SystemTime) -> Result<Instant, crate::Error> {
        let millis = match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            // Before 1970: refused, the error naming how far before (rounded away from 0).
            Err(before) => {
                let before = before.duration();
                let ms = before.as_millis() + u128::from(before.subsec_nanos() % 1_000_000 != 0);
                i64::try_from(ms).map_or(i64::MIN, |ms| -ms)
            }
        };
        Instant::from_unix_millis(millis)
    }

    /// An instant from a chrono time in any zone (`Utc::now()`, a `DateTime<FixedOffset>`
    /// read from a CRM's database), to the millisecond, rounded down; refused outside years
    /// 1970..=9999.
    pub fn from_datetime<Tz: chrono::TimeZone>(
        time: &DateTime<Tz>,
    ) -> Result<Instant, crate::Error> {
        Instant::from_unix_millis(time.timestamp_millis())
    }

    /// Parses RFC 3339 (`2026-11-02T09:00:00Z`, any offset, converted to UTC).
    pub fn parse_rfc3339(text: &str) -> Result<Instant, crate::Error> {
        if let Some(instant) = Instant::parse_canonical(text.as_bytes()) {
            return Ok(instant);
        }
        let parsed = DateTime::parse_from_rfc3339(text).map_err(|e| {
            // RFC 3339 has four-digit years, so chrono only sees "invalid characters" in a
            // later one: say which limit it broke.
            let digits = text.bytes().take_while(u8::is_ascii_digit).count();
            let problem = if digits == text.len() && digits > 4 {
                // Unix time given as text: JSON's number, not a string, is one; ten digits
                // or so are seconds, which the example turns into milliseconds.
                let (millis, given) = match digits {
                    ..=11 => (format!("{text}000"), text),
                    12..=16 => (text.to_owned(), text),
                    _ => ("1793696400000".to_owned(), "1793696400000"),
                };
                format!(
                    "digits alone are not RFC 3339; give unix milliseconds (not seconds) as an \
                     integer ({millis}, not \"{given}\"), or a text such as \
                     \"2026-11-02T09:00:00Z\""
                )
            } else if lacks_offset(text) {
                "the UTC offset is missing: end it with Z or ±hh:mm, as in \
                 \"2026-11-02T09:00:00Z\""
                    .to_owned()
            } else if digits > 4 {
                "the year has more than four digits; accepted years are 1970..=9999".to_owned()
            } else {
                format!(
                    "{e}; expected RFC 3339 such as \"2026-11-02T09:00:00Z\" or integer unix milliseconds"
                )
            };
            crate::Error::InvalidInstant {
                input: crate::error::quoted(text),
                problem,
            }
        })?;
        Instant::from_unix_millis(parsed.timestamp_millis())
    }

    /// Unix milliseconds.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// This instant plus a duration, saturating at the end of the accepted range.
    pub fn plus(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0).min(MAX_INSTANT_MS))
    }

    /// This instant minus a duration, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d.0).max(MIN_INSTANT_MS))
    }

    /// The duration from `earlier` to `self`: zero if `earlier` is later, and at most
    /// [`MAX_DURATION_MS`], like every `Duration` (instants span almost 10,000 years, and a
    /// longer span written into a snapshot would be refused when read back).
    pub fn since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// RFC 3339 with milliseconds only when they are not zero, always `Z`.
    pub fn to_rfc3339(self) -> String {
        self.rfc3339_text().as_str().to_owned()
    }

    /// The RFC 3339 text in a stack buffer: every output line and snapshot record writes
    /// instants, and a chrono `DateTime` with its formatter cost several hundred
    /// instructions and an allocation each time.
    fn rfc3339_text(self) -> Rfc3339Text {
        let (year, month, day) = civil_from_days(self.0.div_euclid(86_400_000));
        let ms_of_day = self.0.rem_euclid(86_400_000);
        let (hour, minute) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60);
        let (second, milli) = (ms_of_day / 1000 % 60, ms_of_day % 1000);
        let mut bytes = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut value: i64| {
            for i in (at..at + width).rev() {
                bytes[i] = b'0' + (value % 10) as u8;
                value /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, hour);
        put(14, 2, minute);
        put(17, 2, second);
        let len = if milli == 0 {
            bytes[19] = b'Z';
            20
        } else {
            put(20, 3, milli);
            24
        };
        Rfc3339Text { bytes, len }
    }

    /// The forms the engine writes and hosts almost always send, `YYYY-MM-DDTHH:MM:SSZ` and
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, read without chrono; `None` sends anything else (other
    /// offsets, other fractions, leap seconds, invalid dates) to chrono, which also words
    /// the errors.
    fn parse_canonical(text: &[u8]) -> Option<Instant> {
        let milli = match text.len() {
            20 => 0,
            24 if text[19] == b'.' => digits(&text[20..23])?,
            _ => return None,
        };
        if text[4] != b'-'
            || text[7] != b'-'
            || text[10] != b'T'
            || text[13] != b':'
            || text[16] != b':'
            || text[text.len() - 1] != b'Z'
        {
            return None;
        }
        let (year, month, day) = (
            digits(&text[0..4])?,
            digits(&text[5..7])?,
            digits(&text[8..10])?,
        );
        let (hour, minute, second) = (
            digits(&text[11..13])?,
            digits(&text[14..16])?,
            digits(&text[17..19])?,
        );
        if !(1970..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let ms = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli;
        Instant::from_unix_millis(ms).ok()
    }

    /// The calendar month (UTC) this instant falls in, as `YYYY-MM`.
    pub fn month_key(self) -> u32 {
        // Every recorded send asks this (monthly usage): civil arithmetic, not chrono.
        let (year, month, _) = civil_from_days(self.0.div_euclid(86_400_000));
        (year * 100 + month) as u32
    }
}

/// A date and time without an offset (`2026-11-02T09:00:00`, fractions allowed): RFC 3339
/// needs one, and chrono only says the input ended early.
pub(crate) fn lacks_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(date), Some(time)) = (bytes.get(..10), bytes.get(11..)) else {
        return false;
    };
    let date_like = date.iter().all(|&b| b.is_ascii_digit() || b == b'-');
    let time_like = time
        .iter()
        .all(|&b| b.is_ascii_digit() || b == b':' || b == b'.');
    bytes.len() >= 19 && matches!(bytes[10], b'T' | b't' | b' ') && date_like && time_like
}

/// The IANA time zone a business counts its months in: monthly usage, the 2026 service
/// allowance and free tiers reset at "12am WABA timezone" (facts §2). Nothing else depends on
/// it: windows, deadlines and every other rule are UTC instants (RULES §2, §13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    /// Coordinated Universal Time, the months of a business that names no zone.
    pub const UTC: TimeZone = TimeZone(chrono_tz::Tz::UTC);

    /// A zone by its IANA name, spelt as the tz database spells it (`"Asia/Tokyo"`,
    /// `"America/Sao_Paulo"`, `"UTC"`).
    pub fn parse(name: &str) -> Result<TimeZone, crate::Error> {
        if let Ok(zone) = name.parse::<chrono_tz::Tz>() {
            return Ok(TimeZone(zone));
        }
        let hint = match chrono_tz::Tz::from_str_insensitive(name) {
            Ok(zone) => format!("did you mean {:?}? (names are case-sensitive)", zone.name()),
            Err(_) if name.starts_with(['+', '-']) || name.contains("GMT+") => {
                "give the zone's IANA name (\"Asia/Tokyo\", not an offset): an offset \
                 ignores daylight saving time"
                    .to_owned()
            }
            Err(_) => "give an IANA name such as \"Asia/Tokyo\" or \"UTC\"".to_owned(),
        };
        Err(crate::Error::InvalidEvent {
            problem: format!("unknown time zone {:?}: {hint}", crate::error::quoted(name)),
        })
    }

    /// Its IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// (year, month) of the local date at unix milliseconds `ms` (an instant in range).
    fn local_month(self, ms: i64) -> (i64, i64) {
        use chrono::Datelike;
        let utc = DateTime::from_timestamp_millis(ms).unwrap_or_default();
        let local = utc.with_timezone(&self.0);
        (i64::from(local.year()), i64::from(local.month()))
    }

    /// Unix milliseconds at which the 1st of `month` of `year` starts here: local midnight,
    /// or where a daylight-saving jump skips midnight, the first local instant after it.
    fn month_start_ms(self, year: i64, month: i64) -> i64 {
        use chrono::{Offset, TimeZone as _};
        const DAY_MS: i64 = 86_400_000;
        let midnight_as_utc = days_from_civil(year, month, 1) * DAY_MS;
        // The offset in force a day earlier: midnight less that offset is either midnight
        // (no change that day) or the instant the clocks jumped past it.
        let before = DateTime::from_timestamp_millis(midnight_as_utc - DAY_MS).unwrap_or_default();
        let offset_before = self.0.offset_from_utc_datetime(&before.naive_utc()).fix();
        let naive = DateTime::from_timestamp_millis(midnight_as_utc)
            .unwrap_or_default()
            .naive_utc();
        match self.0.from_local_datetime(&naive) {
            chrono::LocalResult::Single(at) | chrono::LocalResult::Ambiguous(at, _) => {
                at.timestamp_millis()
            }
            chrono::LocalResult::None => {
                midnight_as_utc - i64::from(offset_before.local_minus_utc()) * 1000
            }
        }
    }
}

impl std::str::FromStr for TimeZone {
    type Err = crate::Error;
    /// [`TimeZone::parse`].
    fn from_str(name: &str) -> Result<TimeZone, crate::Error> {
        TimeZone::parse(name)
    }
}

impl fmt::Display for TimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TimeZone, D::Error> {
        let name = std::borrow::Cow::<str>::deserialize(d)?;
        TimeZone::parse(&name).map_err(|e| match e {
            crate::Error::InvalidEvent { problem } => de::Error::custom(problem),
            other => de::Error::custom(other),
        })
    }
}

/// A calendar month with its bounds (UTC, or a business's [`TimeZone`]): the month of an
/// instant inside it is two comparisons instead of civil arithmetic (every recorded send
/// asks for its month, about 40 instructions each time in UTC, far more in a zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MonthSpan {
    key: u32,
    start_ms: i64,
    end_ms: i64,
}

impl MonthSpan {
    /// The month `at` falls in, in `zone`. Keys stay within 1970-01..=9999-12, the months a
    /// usage query may name: the first hours of 1970 west of UTC count in its January, the
    /// last of 9999 east of it in its December.
    pub fn of_in(at: Instant, zone: TimeZone) -> MonthSpan {
        if zone == TimeZone::UTC {
            return MonthSpan::of(at);
        }
        let (year, month) = zone.local_month(at.0);
        let (next_year, next_month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        let first = Instant::EPOCH.month_key();
        let last = Instant::LATEST.month_key();
        MonthSpan {
            key: ((year * 100 + month) as u32).clamp(first, last),
            start_ms: zone.month_start_ms(year, month),
            end_ms: zone.month_start_ms(next_year, next_month),
        }
    }

    /// This month's key (`YYYYMM`).
    pub fn key(self) -> u32 {
        self.key
    }

    /// The month `at` falls in.
    #[inline(never)]
    pub fn of(at: Instant) -> MonthSpan {
        const DAY_MS: i64 = 86_400_000;
        let (year, month, _) = civil_from_days(at.0.div_euclid(DAY_MS));
        let (next_year, next_month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        MonthSpan {
            key: (year * 100 + month) as u32,
            start_ms: days_from_civil(year, month, 1) * DAY_MS,
            end_ms: days_from_civil(next_year, next_month, 1) * DAY_MS,
        }
    }

    pub fn contains(self, at: Instant) -> bool {
        (self.start_ms..self.end_ms).contains(&at.0)
    }

    /// This month's key when `at` falls in it.
    #[inline]
    pub fn key_in(self, at: Instant) -> Option<u32> {
        self.contains(at).then_some(self.key)
    }
}

impl Default for MonthSpan {
    /// No month: contains no instant.
    fn default() -> MonthSpan {
        MonthSpan {
            key: 0,
            start_ms: 0,
            end_ms: 0,
        }
    }
}

/// An `Option<Instant>` in 8 bytes, not 16: unix milliseconds, or -1 for none (instants
/// start at [`MIN_INSTANT_MS`], 0). For state that every conversation repeats (its window,
/// live chat and timer deadlines), where the saved bytes are cache misses at a million
/// conversations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MaybeInstant(i64);

impl MaybeInstant {
    /// No instant.
    pub const NONE: MaybeInstant = MaybeInstant(-1);

    pub const fn new(at: Option<Instant>) -> MaybeInstant {
        match at {
            Some(at) => MaybeInstant(at.0),
            None => MaybeInstant::NONE,
        }
    }

    pub const fn get(self) -> Option<Instant> {
        if self.0 == MaybeInstant::NONE.0 {
            None
        } else {
            Some(Instant(self.0))
        }
    }
}

// The sentinel must never be a valid instant.
const _: () = assert!(MaybeInstant::NONE.0 < MIN_INSTANT_MS);

impl Default for MaybeInstant {
    fn default() -> MaybeInstant {
        MaybeInstant::NONE
    }
}

/// An instant's RFC 3339 text, on the stack.
struct Rfc3339Text {
    bytes: [u8; 24],
    len: usize,
}

impl Rfc3339Text {
    fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

/// ASCII digits as a number.
fn digits(text: &[u8]) -> Option<i64> {
    text.iter().try_fold(0i64, |value, &b| {
        b.is_ascii_digit().then(|| value * 10 + i64::from(b - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) of a day counted from 1970-01-01 (Hinnant's `civil_from_days`, for
/// days that are never negative, as instants are not).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days / 146_097;
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Days from 1970-01-01 to a date (Hinnant's `days_from_civil`, years from 1970).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year / 400;
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod calendar_tests {
    use super::*;
    use chrono::{Datelike, SecondsFormat, Utc};

    #[test]
    fn text_and_parsing_match_chrono_across_the_range() {
        let mut ms = MIN_INSTANT_MS;
        while ms <= MAX_INSTANT_MS {
            for at in [ms, ms - ms % 1000] {
                let dt = DateTime::<Utc>::from_timestamp_millis(at).unwrap();
                let format = if at % 1000 == 0 {
                    SecondsFormat::Secs
                } else {
                    SecondsFormat::Millis
                };
                let expected = dt.to_rfc3339_opts(format, true);
                let text = Instant(at).to_rfc3339();
                assert_eq!(text, expected, "{at}");
                assert_eq!(Instant::parse_canonical(text.as_bytes()), Some(Instant(at)));
            }
            ms += 631_152_013;
        }
        for (text, fast) in [
            ("2024-02-29T23:59:59.999Z", true),
            ("1970-01-01T00:00:00Z", true),
            ("9999-12-31T23:59:59.999Z", true),
            ("2026-11-02T09:00:00+01:00", false),
            ("2026-11-02T09:00:00.5Z", false),
            ("2026-11-02t09:00:00Z", false),
        ] {
            assert_eq!(
                Instant::parse_canonical(text.as_bytes()).is_some(),
                fast,
                "{text}"
            );
            let chrono = DateTime::parse_from_rfc3339(text)
                .unwrap()
                .timestamp_millis();
            assert_eq!(
                Instant::parse_rfc3339(text).unwrap(),
                Instant(chrono),
                "{text}"
            );
        }
        for bad in [
            "2023-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-11-02T24:00:00Z",
            "2026-11-02T09:60:00Z",
            "1969-12-31T23:59:59Z",
            "2026-11-0xT09:00:00Z",
        ] {
            assert_eq!(Instant::parse_canonical(bad.as_bytes()), None, "{bad}");
            assert!(Instant::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn month_spans_hold_exactly_their_month() {
        let mut ms = MIN_INSTANT_MS;
        // Every ~7.3 days over 10,000 years: the span of the instant's month holds it, its
        // first and last millisecond, and not the millisecond before or after.
        while ms <= MAX_INSTANT_MS {
            let span = MonthSpan::of(Instant(ms));
            assert!(span.contains(Instant(ms)), "{ms}");
            assert_eq!(span.key, Instant(ms).month_key(), "{ms}");
            for edge in [span.start_ms, span.end_ms - 1] {
                assert_eq!(Instant(edge).month_key(), span.key, "{ms}: {edge}");
            }
            assert!(!span.contains(Instant(span.end_ms)));
            if span.start_ms > MIN_INSTANT_MS {
                assert!(!span.contains(Instant(span.start_ms - 1)));
                assert_ne!(Instant(span.start_ms - 1).month_key(), span.key);
            }
            assert_eq!(span.key_in(Instant(ms)), Some(span.key));
            assert_eq!(span.key_in(Instant(span.end_ms)), None);
            ms += 631_152_013;
        }
    }

    /// In a zone, a month runs from local midnight of its 1st to that of the next month's
    /// (the first local instant after midnight where daylight saving skips it), and its key
    /// is the local date's.
    #[test]
    fn month_spans_in_a_zone_hold_their_local_month() {
        use chrono::{Datelike, Timelike};
        let zones = [
            "Asia/Tokyo",
            "America/New_York",
            "America/Sao_Paulo",   // daylight saving at midnight until 2019
            "America/Santiago",    // daylight saving at midnight
            "Asia/Beirut",         // daylight saving at midnight
            "Asia/Damascus",       // daylight saving at midnight of April 1st, 1999-2006
            "Australia/Lord_Howe", // half an hour of daylight saving
            "Asia/Kolkata",        // half an hour off UTC
            "Pacific/Kiritimati",  // UTC+14
            "Pacific/Pago_Pago",   // UTC-11
        ];
        for name in zones {
            let zone = TimeZone::parse(name).unwrap();
            let local = |ms: i64| {
                let at = DateTime::from_timestamp_millis(ms)
                    .unwrap()
                    .with_timezone(&zone.0);
                (
                    at.year() as u32 * 100 + at.month(),
                    at.day(),
                    at.hour(),
                    at.minute(),
                )
            };
            // Every ~3.6 days from 1975 to 2040, and the first hours of some months.
            let mut ms = 157_766_400_000;
            while ms < 2_208_988_800_000 {
                let span = MonthSpan::of_in(Instant(ms), zone);
                let (key, ..) = local(ms);
                assert_eq!(span.key, key, "{name} {ms}");
                assert!(span.contains(Instant(ms)), "{name} {ms}");
                let (first_key, day, hour, _) = local(span.start_ms);
                assert_eq!((first_key, day), (key, 1), "{name} {ms}: start");
                assert!(hour <= 1, "{name} {ms}: starts at {hour}h");
                assert_ne!(local(span.start_ms - 1).0, key, "{name} {ms}: before");
                assert_eq!(local(span.end_ms - 1).0, key, "{name} {ms}: last");
                assert_ne!(local(span.end_ms).0, key, "{name} {ms}: after");
                ms += 311_040_013;
            }
        }
        // A month whose first midnight does not exist: Damascus's clocks went from
        // 2005-04-01 00:00 to 01:00 (UTC+2 to UTC+3), so April started at 01:00 local.
        let damascus = TimeZone::parse("Asia/Damascus").unwrap();
        let april = MonthSpan::of_in(
            Instant::parse_rfc3339("2005-04-10T00:00:00Z").unwrap(),
            damascus,
        );
        assert_eq!(
            Instant(april.start_ms),
            Instant::parse_rfc3339("2005-03-31T22:00:00Z").unwrap()
        );
        assert_eq!(local_key(damascus, april.start_ms - 1), 200503);
        // The range's edges stay in the months a query may name.
        let tokyo = TimeZone::parse("Asia/Tokyo").unwrap();
        let new_york = TimeZone::parse("America/New_York").unwrap();
        assert_eq!(MonthSpan::of_in(Instant::EPOCH, new_york).key, 197001);
        assert_eq!(MonthSpan::of_in(Instant::LATEST, tokyo).key, 999912);
    }

    fn local_key(zone: TimeZone, ms: i64) -> u32 {
        zone.local_month(ms).0 as u32 * 100 + zone.local_month(ms).1 as u32
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZone::parse("Asia/Tokyo").unwrap().name(), "Asia/Tokyo");
        assert_eq!(TimeZone::parse("UTC").unwrap(), TimeZone::UTC);
        let problem = |name: &str| TimeZone::parse(name).unwrap_err().to_string();
        assert!(
            problem("asia/tokyo").contains("did you mean \"Asia/Tokyo\""),
            "{}",
            problem("asia/tokyo")
        );
        assert!(
            problem("+09:00").contains("not an offset"),
            "{}",
            problem("+09:00")
        );
        assert!(problem("Mars/Olympus").contains("unknown time zone \"Mars/Olympus\""));
        let zone: TimeZone = serde_json::from_str("\"Europe/Berlin\"").unwrap();
        assert_eq!(serde_json::to_string(&zone).unwrap(), "\"Europe/Berlin\"");
        assert!(serde_json::from_str::<TimeZone>("\"Berlin\"").is_err());
    }

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
        f.write_str(self.rfc3339_text().as_str())
    }
}

impl std::str::FromStr for Instant {
    type Err = crate::Error;
    /// [`Instant::parse_rfc3339`].
    fn from_str(text: &str) -> Result<Instant, crate::Error> {
        Instant::parse_rfc3339(text)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339_text().as_str())
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339_text().as_str())
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
                // Past i64, named as given rather than as the largest i64.
                let ms = i64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))?;
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

/// [`MAX_DURATION_MS`] in days, as errors name it.
const MAX_DURATION_DAYS: i64 = MAX_DURATION_MS / 86_400_000;

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
    /// From milliseconds, refusing a length outside `0..=MAX_DURATION_MS` (where
    /// [`Duration::from_millis`] clamps), for lengths a host gives.
    pub fn try_from_millis(ms: i64) -> Result<Duration, DurationError> {
        if (0..=MAX_DURATION_MS).contains(&ms) {
            Ok(Duration(ms))
        } else {
            Err(DurationError::MillisOutOfRange { ms })
        }
    }
    /// From seconds (clamped as [`Duration::from_millis`]).
    pub const fn from_secs(s: i64) -> Duration {
        Duration::from_millis(s.saturating_mul(1000))
    }
    /// From minutes (clamped as [`Duration::from_millis`]).
    pub const fn from_mins(m: i64) -> Duration {
        Duration::from_millis(m.saturating_mul(60_000))
    }
    /// From hours (clamped as [`Duration::from_millis`]).
    pub const fn from_hours(h: i64) -> Duration {
        Duration::from_millis(h.saturating_mul(3_600_000))
    }
    /// From days of 86 400 s (clamped as [`Duration::from_millis`]).
    pub const fn from_days(d: i64) -> Duration {
        Duration::from_millis(d.saturating_mul(86_400_000))
    }
    /// Milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Parses `"24h"`, `"10m"`, `"7d"`, `"90s"`, `"250ms"` or a bare number of milliseconds
    /// (also `str::parse::<Duration>()`).
    pub fn parse(text: &str) -> Result<Duration, DurationError> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        // Errors keep the text as they quote it: a long one cut short.
        let quoted_text = || crate::error::quoted(text);
        // Say what is wrong with the common near misses before the general form.
        if text.starts_with('-') {
            return Err(DurationError::Negative {
                text: quoted_text(),
            });
        }
        if !digits.is_empty() && unit.starts_with(['.', ',']) {
            return Err(DurationError::Fraction {
                text: quoted_text(),
            });
        }
        let too_long = || DurationError::TooLong {
            text: quoted_text(),
        };
        let value: i64 = match digits.parse() {
            Ok(value) => value,
            // All digits, too many for a number: longer than any duration.
            Err(_) if !digits.is_empty() => return Err(too_long()),
            Err(_) => {
                return Err(DurationError::NotADuration {
                    text: quoted_text(),
                })
            }
        };
        let unit_ms = match unit {
            "" | "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: crate::error::quoted(other),
                    text: quoted_text(),
                })
            }
        };
        let ms = value
            .checked_mul(unit_ms)
            .filter(|ms| *ms <= MAX_DURATION_MS)
            .ok_or_else(too_long)?;
        Ok(Duration(ms))
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Duration, DurationError> {
        Duration::parse(text)
    }
}

/// Why a text or a number of milliseconds is not a [`Duration`]: each names the text given
/// and the limit it broke. The wire and the bindings report it inside their own error (an
/// invalid event or policy), with the same words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Below zero: durations are 0 or more.
    #[error("duration {:?} is negative; durations are 0 or more", .text)]
    Negative {
        /// The text given, as errors quote it (a long one cut after 64 characters).
        text: String,
    },
    /// A fractional count (`1.5h`): durations are whole numbers of their unit.
    #[error(
        "duration {:?} has a fraction; use whole numbers of a smaller unit (\"90m\", not \"1.5h\")",
        .text
    )]
    Fraction {
        /// The text given, as errors quote it (a long one cut after 64 characters).
        text: String,
    },
    /// Longer than [`MAX_DURATION_MS`] (100 years of 366 days).
    #[error(
        "duration {:?} is longer than the maximum, {MAX_DURATION_DAYS}d (100 years of 366 days)",
        .text
    )]
    TooLong {
        /// The text given, as errors quote it (a long one cut after 64 characters).
        text: String,
    },
    /// A unit other than `ms`, `s`, `m`, `h` or `d`, or a space before it.
    #[error(
        "unknown duration unit {:?} in {:?} (use ms, s, m, h or d, with no space)",
        .unit,
        .text
    )]
    UnknownUnit {
        /// What followed the digits.
        unit: String,
        /// The text given, as errors quote it (a long one cut after 64 characters).
        text: String,
    },
    /// No count at all.
    #[error(
        "expected a duration like \"24h\", \"10m\" or \"7d\", got {:?}",
        .text
    )]
    NotADuration {
        /// The text given, as errors quote it (a long one cut after 64 characters).
        text: String,
    },
    /// A number of milliseconds outside `0..=`[`MAX_DURATION_MS`].
    #[error(
        "duration {ms} ms is outside 0..={MAX_DURATION_MS} ms (0 to {MAX_DURATION_DAYS} days)"
    )]
    MillisOutOfRange {
        /// The milliseconds given.
        ms: i64,
    },
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
                Duration::try_from_millis(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                let ms = i64::try_from(v)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))?;
                self.visit_i64(ms)
            }
        }
        d.deserialize_any(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_given_as_milliseconds_are_told_apart_from_traffic() {
        let at = |ms| Instant::from_unix_millis(ms).unwrap();
        // 2026-11-02T09:00:00Z in seconds, and 2001-09-09T01:46:39.999Z.
        assert!(at(1_793_610_000).looks_like_unix_seconds());
        assert!(at(999_999_999_999).looks_like_unix_seconds());
        // The epoch is a deliberate instant (a tick at 0); milliseconds of 2001 on are not.
        assert!(!Instant::EPOCH.looks_like_unix_seconds());
        assert!(!at(1_000_000_000_000).looks_like_unix_seconds());
        assert!(!at(1_793_610_000_000).looks_like_unix_seconds());
    }

    #[test]
    fn integers_past_i64_are_named_as_given() {
        // They were reported as i64::MAX, a number the input never had.
        let past = "18446744073709551615";
        let instant = serde_json::from_str::<Instant>(past)
            .unwrap_err()
            .to_string();
        assert!(instant.contains(past), "{instant}");
        let duration = serde_json::from_str::<Duration>(past)
            .unwrap_err()
            .to_string();
        assert!(duration.contains(past), "{duration}");
        assert!(!duration.contains("9223372036854775807"), "{duration}");
    }

    #[test]
    fn maybe_instant_holds_every_instant_and_none() {
        let ends = [MIN_INSTANT_MS, 1, MAX_INSTANT_MS].map(|ms| Instant::from_unix_millis(ms).ok());
        for at in ends.into_iter().chain([None]) {
            assert_eq!(MaybeInstant::new(at).get(), at);
        }
        assert_eq!(MaybeInstant::default().get(), None);
        assert_eq!(std::mem::size_of::<MaybeInstant>(), 8);
    }

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
        let late = Instant::parse_rfc3339("10000-01-01T00:00:00Z").unwrap_err();
        assert!(
            late.to_string().contains("accepted years are 1970..=9999"),
            "{late}"
        );
        let early = Instant::parse_rfc3339("1969-12-31T23:59:59Z").unwrap_err();
        assert!(early.to_string().contains("years 1970..=9999"), "{early}");
        // Unix milliseconds as text: told to give the integer, not that the year is long.
        let quoted = Instant::parse_rfc3339("1793696400000").unwrap_err();
        assert!(
            quoted.to_string().contains(
                "digits alone are not RFC 3339; give unix milliseconds (not seconds) as an \
                 integer (1793696400000, not \"1793696400000\")"
            ),
            "{quoted}"
        );
        // Seconds as text: the example is the input in milliseconds.
        let seconds = Instant::parse_rfc3339("1793606400")
            .unwrap_err()
            .to_string();
        assert!(
            seconds.contains("(1793606400000, not \"1793606400\")"),
            "{seconds}"
        );
        // No offset: said so, not that the input ended early.
        for local in ["2026-11-02T09:01:00", "2026-11-02 09:01:00.250"] {
            let missing = Instant::parse_rfc3339(local).unwrap_err().to_string();
            assert!(missing.contains("the UTC offset is missing"), "{missing}");
        }
        let garbage = Instant::parse_rfc3339("2026-11-02Tnoon")
            .unwrap_err()
            .to_string();
        assert!(!garbage.contains("offset is missing"), "{garbage}");
    }

    #[test]
    fn near_miss_durations_say_what_is_wrong() {
        let problem = |text: &str| Duration::parse(text).unwrap_err().to_string();
        assert!(problem("-1h").contains("is negative"), "{}", problem("-1h"));
        assert!(
            problem("1.5h").contains("has a fraction"),
            "{}",
            problem("1.5h")
        );
        assert!(problem("18446744073709551615ms").contains("longer than the maximum, 36600d"));
        assert!(problem("36601d").contains("longer than the maximum, 36600d"));
        assert!(
            problem("10 m").contains("with no space"),
            "{}",
            problem("10 m")
        );
        assert!(problem("soon").starts_with("expected a duration like"));
        assert_eq!(Duration::parse("36600d").unwrap().millis(), MAX_DURATION_MS);
    }

    #[test]
    fn duration_errors_are_typed_and_keep_the_text_short() {
        assert_eq!(
            "1.5h".parse::<Duration>(),
            Err(DurationError::Fraction {
                text: "1.5h".into()
            })
        );
        assert_eq!(
            Duration::parse("10 m"),
            Err(DurationError::UnknownUnit {
                unit: " m".into(),
                text: "10 m".into()
            })
        );
        assert_eq!(
            Duration::try_from_millis(-1),
            Err(DurationError::MillisOutOfRange { ms: -1 })
        );
        let long = "x".repeat(10_000);
        let Err(DurationError::NotADuration { text }) = Duration::parse(&long) else {
            panic!("{long} parsed");
        };
        assert_eq!(
            text.chars().count(),
            crate::error::QUOTED_CHARS + 1,
            "{text}"
        );
    }

    /// A host's clock reading and a chrono time give the instant their unix milliseconds
    /// name, rounded down; before 1970 is refused as `from_unix_millis` refuses it.
    #[test]
    fn system_times_and_chrono_times_are_instants() {
        use std::time::{Duration as StdDuration, UNIX_EPOCH};
        let at = UNIX_EPOCH + StdDuration::from_nanos(1_793_610_000_123_999_999);
        assert_eq!(
            Instant::from_system_time(at).unwrap(),
            Instant::from_unix_millis(1_793_610_000_123).unwrap()
        );
        let before = UNIX_EPOCH - StdDuration::from_micros(1);
        match Instant::from_system_time(before) {
            Err(crate::Error::InstantOutOfRange { millis: -1, .. }) => {}
            other => panic!("{other:?}"),
        }
        let berlin = DateTime::parse_from_rfc3339("2026-11-02T10:00:00.123+01:00").unwrap();
        assert_eq!(
            Instant::from_datetime(&berlin).unwrap(),
            Instant::parse_rfc3339("2026-11-02T09:00:00.123Z").unwrap()
        );
        let utc = berlin.with_timezone(&chrono::Utc);
        assert_eq!(
            Instant::from_datetime(&utc),
            Instant::from_datetime(&berlin)
        );
        let early = DateTime::parse_from_rfc3339("1969-12-31T23:59:59Z").unwrap();
        assert!(Instant::from_datetime(&early).is_err());
    }

    /// Every constructor clamps, as `from_millis` says: the larger units multiplied first,
    /// and `from_secs(i64::MAX)` overflowed (a panic in a debug build, `0ms` in a release
    /// one; `from_hours(-i64::MAX)` was `1h`).
    #[test]
    fn every_unit_clamps_instead_of_overflowing() {
        let max = Duration::from_millis(MAX_DURATION_MS);
        for big in [i64::MAX, i64::MAX / 1000, 10_000_000_000_000] {
            assert_eq!(Duration::from_secs(big), max);
            assert_eq!(Duration::from_mins(big), max);
            assert_eq!(Duration::from_hours(big), max);
            assert_eq!(Duration::from_days(big), max);
        }
        for small in [i64::MIN, -i64::MAX, -1] {
            assert_eq!(Duration::from_secs(small), Duration::ZERO);
            assert_eq!(Duration::from_mins(small), Duration::ZERO);
            assert_eq!(Duration::from_hours(small), Duration::ZERO);
            assert_eq!(Duration::from_days(small), Duration::ZERO);
        }
        assert_eq!(Duration::from_days(2).millis(), 172_800_000);
        assert_eq!(Duration::from_hours(3).millis(), 10_800_000);
        assert_eq!(Duration::from_mins(15).millis(), 900_000);
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
