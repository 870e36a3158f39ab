//! Which `+1` numbers are US numbers (RULES.md §9: no marketing templates to US numbers).
//!
//! The North American Numbering Plan shares country code 1 between the US (with its
//! territories) and Canada and a score of Caribbean countries. A `+1` number is treated as a
//! US number unless its area code belongs to one of those other countries. This is
//! numbering-plan geography, not policy: the policy only says from when the rule applies.

/// Area codes of +1 numbers outside the US and its territories (Canada and the Caribbean).
const NON_US_AREA_CODES: &[u16] = &[
    // Canada
    204, 226, 236, 249, 250, 257, 263, 289, 306, 343, 354, 365, 367, 368, 382, 403, 416, 418, 428,
    431, 437, 438, 450, 468, 474, 506, 514, 519, 548, 579, 581, 584, 587, 600, 604, 613, 622, 639,
    647, 672, 683, 705, 709, 742, 753, 778, 780, 782, 807, 819, 825, 867, 873, 879, 902, 905,
    942, // Toronto's overlay of 416, 437 and 647
    // Caribbean and Atlantic countries
    242, 246, 264, 268, 284, 345, 441, 473, 649, 658, 664, 721, 758, 767, 784, 809, 829, 849, 868,
    869, 876,
];

/// Whether packed phone digits are a US (or US-territory) number.
pub fn is_us_number(digits: u64) -> bool {
    // +1 NXX NXX XXXX: exactly 11 digits starting with 1.
    if !(10_000_000_000..20_000_000_000).contains(&digits) {
        return false;
    }
    let area = ((digits / 10_000_000) % 1000) as u16;
    !NON_US_AREA_CODES.contains(&area)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_canada_and_caribbean() {
        assert!(is_us_number(12125550100)); // New York
        assert!(is_us_number(17875550100)); // Puerto Rico, a US territory
        assert!(!is_us_number(14165550100)); // Toronto
        assert!(!is_us_number(19425550100)); // Toronto, overlay
        assert!(!is_us_number(18765550100)); // Jamaica
        assert!(!is_us_number(79110000001)); // Russia
        assert!(!is_us_number(1212555010)); // too short for NANP
    }
}
