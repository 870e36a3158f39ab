//! The small parsers hosts feed raw strings to: phone numbers, template bodies, instants,
//! durations and amounts of money. Never panics; what parses is consistent with itself.
#![no_main]

use convstate::address::normalize_phone;
use convstate::pricing::Amount;
use convstate::template::parse_variables;
use convstate::time::{Duration, Instant, MAX_INSTANT_MS, MIN_INSTANT_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(digits) = normalize_phone(text) {
        let count = digits.to_string().len();
        assert!(
            (8..=15).contains(&count),
            "{text:?} normalised to {digits} ({count} digits)"
        );
        assert_eq!(
            normalize_phone(&format!("+{digits}")).ok(),
            Some(digits),
            "{text:?}"
        );
    }
    if let Ok(variables) = parse_variables(text) {
        // A body that parses has at most one variable per four characters (`{{1}}` is five).
        assert!(
            variables.count() as usize <= text.chars().count() / 4 + 1,
            "{text:?}"
        );
    }
    if let Ok(instant) = Instant::parse_rfc3339(text) {
        let ms = instant.unix_millis();
        assert!((MIN_INSTANT_MS..=MAX_INSTANT_MS).contains(&ms));
        assert_eq!(
            Instant::parse_rfc3339(&instant.to_rfc3339()).ok(),
            Some(instant),
            "{text:?}"
        );
    }
    let _ = Duration::parse(text);
    if let Ok(amount) = Amount::parse(text) {
        // What the engine writes (a cost, a policy's rate card) reads back as that amount.
        assert_eq!(Amount::parse(&amount.to_string()), Ok(amount), "{text:?}");
    }
});
