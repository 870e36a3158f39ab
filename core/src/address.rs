//! Who a message is to or from: phone numbers, opaque user ids and group ids, packed into one
//! `u64` key.
//!
//! An E.164 number has at most 15 digits and never starts with 0, so its digits read as an
//! integer fit in 50 bits and identify it uniquely. Opaque ids (business-scoped user ids,
//! email addresses, messenger ids) and group ids are interned and tagged in the two top bits.
//! One integer key keeps conversation lookups to a single hash of a `u64`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::Error;

/// Fewest digits of a normalised phone number.
pub const PHONE_MIN_DIGITS: usize = 8;
/// Most digits of a normalised phone number (E.164).
pub const PHONE_MAX_DIGITS: usize = 15;
/// Longest opaque user id (Meta's business-scoped user id).
pub const USER_ID_MAX_CHARS: usize = 256;

const TAG_OPAQUE: u64 = 1 << 62;
const TAG_GROUP: u64 = 1 << 63;
const TAG_MASK: u64 = TAG_OPAQUE | TAG_GROUP;

/// A packed address: a phone number's digits, or a tagged index into the [`Interner`].
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub(crate) struct AddressKey(pub(crate) u64);

impl AddressKey {
    /// Whether this is a group chat id.
    pub fn is_group(self) -> bool {
        self.0 & TAG_MASK == TAG_GROUP
    }
    /// The phone number's digits, when this is a phone number.
    pub fn phone_digits(self) -> Option<u64> {
        (self.0 & TAG_MASK == 0).then_some(self.0)
    }

    /// The phone number's canonical text (`+digits`), when this is a phone number.
    pub(crate) fn phone_text(self) -> Option<String> {
        self.phone_digits()
            .map(|digits| Address(AddressText::Phone(digits)).to_string())
    }
}

/// An address as effects carry it: a phone number's digits or a shared id, turned into text
/// only when the host asks (`Display`, serialisation as a JSON string). Effects are made on
/// every inbound and send; building two `String`s for each was a third of the cost of a
/// reply, for hosts that mostly read only the ticket id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Address(AddressText);

#[derive(Clone, PartialEq, Eq, Hash)]
enum AddressText {
    /// E.164 digits, shown as `+digits`.
    Phone(u64),
    /// An opaque user id or group id, shared with the engine's interner.
    Id(Arc<str>),
}

impl Address {
    /// The address of a phone number given as `+digits`, or of an id given as text.
    pub fn parse(text: &str) -> Address {
        match canonical_phone(text) {
            Some(digits) => Address(AddressText::Phone(digits)),
            None => Address(AddressText::Id(text.into())),
        }
    }

    /// The phone number's digits, when this is a phone number.
    pub fn phone_digits(&self) -> Option<u64> {
        match self.0 {
            AddressText::Phone(digits) => Some(digits),
            AddressText::Id(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            AddressText::Phone(digits) => write!(f, "+{digits}"),
            AddressText::Id(id) => f.write_str(id),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        match &self.0 {
            AddressText::Phone(digits) => canonical_phone(other) == Some(*digits),
            AddressText::Id(id) => &**id == other,
        }
    }
}

impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

impl PartialEq<String> for Address {
    fn eq(&self, other: &String) -> bool {
        *self == *other.as_str()
    }
}

impl From<Address> for String {
    fn from(address: Address) -> String {
        address.to_string()
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Address::parse(&text))
    }
}

/// Normalises a phone number to `+digits`: accepts digits, spaces, dashes, dots, parentheses
/// and a leading `+` or `00`; requires 8–15 digits not starting with 0. Digits of other
/// scripts and widths, their punctuation and invisible direction marks read as the ASCII
/// ones (full-width, Arabic-Indic, Devanagari and other common scripts' digits).
pub fn normalize_phone(input: &str) -> Result<u64, Error> {
    if let Some(value) = canonical_phone(input) {
        return Ok(value);
    }
    let invalid = |problem: String| Error::InvalidPhoneNumber {
        input: crate::error::quoted(input),
        problem,
        field: None,
    };
    let folded: String;
    let ascii = if input.is_ascii() {
        input
    } else {
        folded = input.chars().map(ascii_phone_char).collect();
        &folded
    };
    let trimmed = ascii.trim();
    if let Some(problem) = float_artifact(trimmed) {
        return Err(invalid(problem.into()));
    }
    // The country code in brackets, `(+7) 911 …`, is written as often as `+7 (911) …`.
    let body = if let Some(rest) = trimmed.strip_prefix('+').or(trimmed.strip_prefix("(+")) {
        rest
    } else if let Some(rest) = trimmed.strip_prefix("00") {
        rest
    } else {
        trimmed
    };
    let mut value: u64 = 0;
    let mut digits = 0usize;
    for c in body.chars() {
        match c {
            '0'..='9' => {
                if digits == 0 && c == '0' {
                    return Err(invalid("a country code never starts with 0".into()));
                }
                digits += 1;
                if digits > PHONE_MAX_DIGITS {
                    return Err(invalid(format!(
                        "more than {PHONE_MAX_DIGITS} digits (E.164 maximum)"
                    )));
                }
                value = value * 10 + u64::from(c as u8 - b'0');
            }
            ' ' | '-' | '(' | ')' | '.' => {}
            other => return Err(invalid(format!("unexpected character {other:?}"))),
        }
    }
    if digits < PHONE_MIN_DIGITS {
        return Err(invalid(format!(
            "{digits} digits, at least {PHONE_MIN_DIGITS} are needed"
        )));
    }
    Ok(value)
}

/// The high nibble of every byte of a word.
const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
/// Eight ASCII zeros.
const ZEROS: u64 = 0x3030_3030_3030_3030;

/// The canonical form hosts almost always send (`+` then 8–15 digits, the first not 0),
/// parsed without branching per digit; `None` sends anything else down the general path.
/// Every send and inbound parses two addresses, so this is on the hot path.
#[inline]
fn canonical_phone(input: &str) -> Option<u64> {
    let digits = input.as_bytes().strip_prefix(b"+")?;
    if !(PHONE_MIN_DIGITS..=PHONE_MAX_DIGITS).contains(&digits.len()) || digits[0] == b'0' {
        return None;
    }
    // The last eight digits in one word; the leading zero to seven are the low bytes of
    // the first eight, shifted up with zeros shifted in below them.
    let first = u64::from_le_bytes(digits[..8].try_into().ok()?);
    let last = u64::from_le_bytes(digits[digits.len() - 8..].try_into().ok()?);
    let head = match (8 - (digits.len() - 8)) as u32 * 8 {
        64 => 0,
        shift => eight_digits_word((first << shift) | (ZEROS >> (64 - shift)))?,
    };
    Some(head * 100_000_000 + eight_digits_word(last)?)
}

/// Eight ASCII digits (most significant first, in the word's lowest byte) as a number, or
/// `None` if any byte is not a digit: the SWAR method of simdjson's
/// `parse_eight_digits_unrolled`.
fn eight_digits_word(word: u64) -> Option<u64> {
    // A byte is a digit when its high nibble is 3 and adding 6 keeps it there (no byte
    // carries into the next: every byte is at most 0x3F once the first test passed).
    if word & HIGH_NIBBLES != ZEROS
        || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS
    {
        return None;
    }
    let v = word - ZEROS;
    // Pairs of digits, then groups of four, then all eight (the products wrap on purpose).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let low = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let high = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    Some(low.wrapping_add(high) >> 32)
}

/// What a phone number written out as a float looks like, and what to do about it: a
/// column of phone numbers with one empty cell is read as floats (pandas, spreadsheets),
/// and written back as text it is `79110000001.0` (whose dot, phone punctuation, would make
/// it another number, `+791100000010`), `79110000001,00` in a locale with decimal commas,
/// or `7.9110000001e+10` (an opaque id otherwise). Only digits with such a tail: ids that
/// merely end so (`v2.0`) stand.
fn float_artifact(text: &str) -> Option<&'static str> {
    let body = text.strip_prefix('+').unwrap_or(text);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    fn split_decimal(s: &str) -> Option<(&str, &str)> {
        s.split_once(['.', ','])
    }
    if let Some((whole, zeros)) = split_decimal(body) {
        if digits(whole) && !zeros.is_empty() && zeros.bytes().all(|b| b == b'0') {
            return Some(
                "ends in a decimal fraction of zeros: a number read as a float and written \
                 back; read the column as text (pandas: `dtype=str`), not as numbers",
            );
        }
    }
    let (mantissa, exponent) = body.split_once(['e', 'E'])?;
    let signed = exponent.starts_with(['+', '-']);
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (whole, fraction) = split_decimal(mantissa).unwrap_or((mantissa, ""));
    let scientific = digits(whole)
        && (fraction.is_empty() || digits(fraction))
        && digits(exponent)
        && (whole.len() < mantissa.len() || signed);
    scientific.then_some(
        "a number in scientific notation (a phone number read as a float); read the column \
         as text (pandas: `dtype=str`), not as numbers",
    )
}

/// Whether text looks like it was meant as a phone number: a leading `+`, or nothing but
/// digits, `+` and phone punctuation (of any script or width, [`ascii_phone_char`]). Such
/// text must then parse as one, or is refused as a malformed phone number; anything else
/// is an opaque id. (`00+7 911…` and `(+7) 911…` became opaque ids, a contact apart from
/// the phone number, or were refused as user ids with whitespace; so did `＋７ ９１１…` in
/// full-width digits, as a CJK keyboard types them, and `٧٩١١…` in Arabic-Indic ones.)
fn looks_like_phone(text: &str) -> bool {
    if text.starts_with('+') {
        return true;
    }
    let mut t = text.trim().chars().map(ascii_phone_char).peekable();
    t.peek() == Some(&'+')
        || (t.peek().is_some()
            && t.all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '+')))
}

/// The ASCII character a phone number's character stands for, when written in another
/// script or width: a decimal digit of the scripts phone numbers are commonly typed in
/// (full-width, Arabic-Indic, extended Arabic-Indic, Devanagari, Bengali, Thai, Myanmar),
/// the full-width `＋`, `（`, `）`, `－`, `．`, the Unicode hyphens and minus, spaces that
/// are not ASCII (no-break, narrow no-break, figure, thin, ideographic), which spreadsheets
/// and copied text put in numbers, and the invisible marks that text copied from a
/// right-to-left page carries (direction marks, embeddings and isolates, a byte-order
/// mark), read as a space: a number holding one printed as the number and was a contact of
/// its own. Any other character stays itself.
fn ascii_phone_char(c: char) -> char {
    /// The zero of each script's ten digits, which follow it in order.
    const ZEROS: [u32; 7] = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1040];
    let code = u32::from(c);
    if let Some(zero) = ZEROS
        .iter()
        .find(|&&zero| (zero..zero + 10).contains(&code))
    {
        return char::from(b'0' + (code - zero) as u8);
    }
    match c {
        '\u{FF0B}' => '+',
        '\u{FF08}' => '(',
        '\u{FF09}' => ')',
        '\u{FF0D}' | '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        '\u{FF0E}' => '.',
        '\u{00A0}' | '\u{202F}' | '\u{2007}' | '\u{2009}' | '\u{3000}' => ' ',
        '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{FEFF}' => ' ',
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => ' ',
        other => other,
    }
}

/// Checks a business-scoped user id given beside a phone number: an opaque id, not text
/// that reads as a phone number.
pub(crate) fn check_user_id(input: &str) -> Result<(), Error> {
    let problem = match float_artifact(input.trim()) {
        Some(float) => Some(format!("reads as a phone number: {float}")),
        None => looks_like_phone(input)
            .then(|| "reads as a phone number, where a business-scoped user id belongs".to_owned()),
    };
    if let Some(problem) = problem {
        return Err(Error::InvalidUserId {
            input: crate::error::quoted(input),
            problem,
            field: None,
        });
    }
    check_opaque(input)
}

fn check_opaque(input: &str) -> Result<(), Error> {
    let chars = input.chars().count();
    if chars == 0 || chars > USER_ID_MAX_CHARS {
        return Err(Error::InvalidUserId {
            input: crate::error::quoted(input),
            problem: format!("{chars} characters, allowed 1..={USER_ID_MAX_CHARS}"),
            field: None,
        });
    }
    if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidUserId {
            input: crate::error::quoted(input),
            problem: format!("contains whitespace or a control character ({c:?})"),
            field: None,
        });
    }
    Ok(())
}

/// Interned opaque ids and group ids, so that addresses are integers everywhere else.
///
/// The index is keyed by text outsiders choose (an email sender, a messenger user id), so it
/// hashes with std's randomly keyed SipHash, not the engine's fast hasher: that one is
/// invertible, and 40,000 crafted email addresses of one hash made a replay take 17.5 s
/// instead of 0.09 (every insert and lookup compared them all). Its order never reaches an
/// output (`strings` keeps the interning order), so the random key changes no answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    strings: Vec<Arc<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Interner {
    /// Parses a contact or number: a phone number (normalised) or an opaque id.
    #[inline]
    pub fn address(&mut self, input: &str) -> Result<AddressKey, Error> {
        match canonical_phone(input) {
            Some(digits) => Ok(AddressKey(digits)),
            None => self.address_uncommon(input),
        }
    }

    // The rare forms (punctuated phone numbers, opaque ids) out of line, so that the
    // canonical `+digits` every hot call passes costs no stack frame for them.
    #[inline(never)]
    fn address_uncommon(&mut self, input: &str) -> Result<AddressKey, Error> {
        if looks_like_phone(input) || float_artifact(input.trim()).is_some() {
            return normalize_phone(input).map(AddressKey);
        }
        check_opaque(input)?;
        Ok(AddressKey(TAG_OPAQUE | u64::from(self.intern(input)?)))
    }

    /// Looks an address up without interning (for read-only queries).
    #[inline]
    pub fn find_address(&self, input: &str) -> Result<Option<AddressKey>, Error> {
        match canonical_phone(input) {
            Some(digits) => Ok(Some(AddressKey(digits))),
            None => self.find_address_uncommon(input),
        }
    }

    #[inline(never)]
    fn find_address_uncommon(&self, input: &str) -> Result<Option<AddressKey>, Error> {
        if looks_like_phone(input) || float_artifact(input.trim()).is_some() {
            return normalize_phone(input).map(|v| Some(AddressKey(v)));
        }
        check_opaque(input)?;
        Ok(self
            .index
            .get(input)
            .map(|&i| AddressKey(TAG_OPAQUE | u64::from(i))))
    }

    /// Looks a group id up without interning.
    pub fn find_group(&self, input: &str) -> Result<Option<AddressKey>, Error> {
        check_opaque(input)?;
        Ok(self
            .index
            .get(input)
            .map(|&i| AddressKey(TAG_GROUP | u64::from(i))))
    }

    /// Interns a group chat id.
    pub fn group(&mut self, input: &str) -> Result<AddressKey, Error> {
        check_opaque(input)?;
        Ok(AddressKey(TAG_GROUP | u64::from(self.intern(input)?)))
    }

    fn intern(&mut self, s: &str) -> Result<u32, Error> {
        if let Some(&i) = self.index.get(s) {
            return Ok(i);
        }
        let i = u32::try_from(self.strings.len())
            .ok()
            .filter(|i| u64::from(*i) < TAG_OPAQUE)
            .ok_or(Error::CapacityExceeded {
                what: "opaque ids",
                limit: u32::MAX as u64,
            })?;
        self.strings.push(s.into());
        self.index.insert(s.into(), i);
        Ok(i)
    }

    /// The text of an address: `+digits`, the opaque id, or the group id.
    pub fn display(&self, key: AddressKey) -> String {
        self.address_of(key).to_string()
    }

    /// The text of an interned id or group key, borrowed (`None` for a phone number).
    pub(crate) fn id_text(&self, key: AddressKey) -> Option<&str> {
        match key.0 & TAG_MASK {
            0 => None,
            _ => self.strings.get((key.0 & !TAG_MASK) as usize).map(|s| &**s),
        }
    }

    /// An address for effects: no text is built until the host asks for it.
    pub fn address_of(&self, key: AddressKey) -> Address {
        match key.0 & TAG_MASK {
            0 => Address(AddressText::Phone(key.0)),
            _ => Address(AddressText::Id(
                self.strings
                    .get((key.0 & !TAG_MASK) as usize)
                    .cloned()
                    .unwrap_or_else(|| "".into()),
            )),
        }
    }

    /// The interned strings in index order (for snapshots).
    pub(crate) fn strings(&self) -> &[Arc<str>] {
        &self.strings
    }

    /// Rebuilds from snapshot strings; refuses duplicates, which would make keys ambiguous.
    pub(crate) fn from_strings(strings: Vec<String>) -> Result<Interner, Error> {
        let mut interner = Interner::default();
        for s in strings {
            if interner.index.contains_key(s.as_str()) {
                return Err(Error::CorruptSnapshot {
                    problem: format!("interned id {s:?} appears twice"),
                });
            }
            // Only ids an input could have interned, as an import checks them: an engine
            // holding another would write business exports no engine imports.
            check_opaque(&s).map_err(|e| Error::CorruptSnapshot {
                problem: format!("interned id: {e}"),
            })?;
            interner.intern(&s)?;
        }
        Ok(interner)
    }

    /// Whether a key's interned index exists (snapshot validation).
    pub(crate) fn knows(&self, key: AddressKey) -> bool {
        match key.0 & TAG_MASK {
            0 => true,
            // Both tags: neither an opaque id nor a group, so no input resolves to it, and a
            // saved key of it would name a second, unreachable copy of an interned address.
            TAG_MASK => false,
            _ => ((key.0 & !TAG_MASK) as usize) < self.strings.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Email addresses an outsider could send from whose hashes under the engine's fast
    /// hasher are all one (the robustness review's construction: after any first 8-byte
    /// word, a second word that brings the hasher back to one state; the rest is shared).
    fn addresses_of_one_fast_hash(n: usize) -> Vec<String> {
        use crate::hash::FAST_HASH_MULTIPLIER;
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
        let mut state = 0x1234_5678_9abc_def1u64;
        let mut found = Vec::new();
        while found.len() < n {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let first: [u8; 8] = std::array::from_fn(|i| LETTERS[(state >> (i * 6)) as usize % 62]);
            let after_first = u64::from_le_bytes(first).wrapping_mul(FAST_HASH_MULTIPLIER);
            let second = (after_first.rotate_left(5) ^ 0x4141_4141_4141_4141).to_le_bytes();
            if second.iter().all(|&b| atext(b)) {
                let local = [first, second].concat();
                found.push(format!(
                    "{}@evil.example",
                    String::from_utf8(local).unwrap()
                ));
            }
        }
        found
    }

    #[test]
    fn ids_crafted_to_collide_in_the_fast_hasher_spread_in_the_interner() {
        use std::hash::BuildHasher;
        let ids = addresses_of_one_fast_hash(64);
        let fast = crate::hash::BuildFastHasher::default();
        assert!(
            ids.iter()
                .all(|id| fast.hash_one(id) == fast.hash_one(&ids[0])),
            "the construction collides in the fast hasher: {ids:?}"
        );
        let mut interner = Interner::default();
        for id in &ids {
            interner.address(id).expect("a valid email address");
        }
        let spread: std::collections::HashSet<u64> = ids
            .iter()
            .map(|id| interner.index.hasher().hash_one(&**id))
            .collect();
        assert!(
            spread.len() > 60,
            "{} hashes of {} ids",
            spread.len(),
            ids.len()
        );
    }

    /// A phone column with one empty cell is read as floats; written back as text, its
    /// numbers end in `.0` or turn scientific. Both are refused, saying why, instead of the
    /// dot reading as punctuation (`79110000001.0` was `+791100000010`, another contact) or
    /// the exponent as an opaque id.
    #[test]
    fn phone_numbers_written_as_floats_are_refused() {
        let mut interner = Interner::default();
        for text in [
            "79110000001.0",
            "+79110000001.0",
            " 79110000001.0 ",
            "79110000001.00",
            "79110000001,0",
            "7.9110000001e+10",
            "7.911E10",
            "7,911E+10",
            "79110000001e+0",
        ] {
            let error = interner.address(text).unwrap_err();
            assert_eq!(error.code(), "invalid_phone_number", "{text}");
            assert!(error.to_string().contains("dtype=str"), "{text}: {error}");
            assert!(interner.find_address(text).is_err(), "{text}");
            assert!(check_user_id(text).is_err(), "{text}");
            assert!(
                check_user_id(text)
                    .unwrap_err()
                    .to_string()
                    .contains("dtype=str"),
                "{text}"
            );
        }
        // Dotted numbers and ids that only resemble the forms stand.
        assert_eq!(normalize_phone("+1.555.000.1110").unwrap(), 15550001110);
        assert_eq!(normalize_phone("555.000.1000").unwrap(), 5550001000);
        for id in [
            "ab.0",
            "v2.0",
            "user42.0",
            "client-2.0",
            "US.v2.0",
            "user.0x",
            "1e5",
            "e10",
            "x7.9e10",
            "US.1349000",
        ] {
            assert!(
                !matches!(interner.address(id), Err(Error::InvalidPhoneNumber { .. })),
                "{id}"
            );
        }
    }

    #[test]
    fn digits_of_other_scripts_and_widths_read_as_the_phone_number() {
        let mut interner = Interner::default();
        for spelled in [
            "＋７ ９１１ ０００－００－０１",
            "７９１１００００００１",
            "٧٩١١٠٠٠٠٠٠١",
            "۰۰۷۹۱۱۰۰۰۰۰۰۱",
            "+७९११००००००१",
            "+7\u{a0}911\u{a0}000\u{202f}00\u{2011}01",
            "（＋７）９１１．０００．００．０１",
            "\u{200f}٧٩١١٠٠٠٠٠٠١",
            "\u{202b}+٧٩١١٠٠٠٠٠٠١\u{202c}",
            "\u{feff}79110000001",
            "79110000001\u{200e}",
            "+7\u{2007}911\u{2007}0000001",
        ] {
            assert_eq!(normalize_phone(spelled), Ok(79110000001), "{spelled}");
            assert_eq!(interner.address(spelled), Ok(AddressKey(79110000001)));
            assert_eq!(
                interner.find_address(spelled),
                Ok(Some(AddressKey(79110000001)))
            );
            assert!(check_user_id(spelled).is_err(), "{spelled}");
        }
        // Too few digits is a malformed phone number, in any script; text with letters of
        // any width is an opaque id.
        let error = interner.address("＋７９１").unwrap_err();
        assert_eq!(error.code(), "invalid_phone_number");
        assert!(error.to_string().contains("＋７９１"), "{error}");
        for id in ["ｕｓｅｒ１", "US.٧٩١١٠٠٠٠٠٠١"] {
            let key = interner.address(id).unwrap();
            assert_eq!(key.phone_digits(), None, "{id}");
        }
    }

    #[test]
    fn the_canonical_fast_path_agrees_with_the_general_parser() {
        for (canonical, spelled) in [
            ("+15550001111", "+1 (555) 000-1111"),
            ("+12345678", "0012345678"),
            ("+123456789012345", "123 456 789 012 345"),
        ] {
            assert_eq!(
                normalize_phone(canonical).unwrap(),
                normalize_phone(spelled).unwrap()
            );
        }
        for bad in [
            "+01234567890",
            "+1234567",
            "+1234567890123456",
            "+1555000111x",
        ] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn eight_digits_at_once_agree_with_digit_by_digit() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let value = x % 100_000_000;
            let text = format!("{value:08}");
            let bytes: [u8; 8] = text.as_bytes().try_into().unwrap();
            assert_eq!(
                eight_digits_word(u64::from_le_bytes(bytes)),
                Some(value),
                "{text}"
            );
            let len = 8 + (x >> 60) as usize % 8;
            let number = format!(
                "+{}{}",
                1 + (x >> 40) % 9,
                &format!("{:015}", x % 10u64.pow(15))[..len - 1]
            );
            assert_eq!(
                canonical_phone(&number),
                Some(number[1..].parse().unwrap()),
                "{number}"
            );
        }
        for bad in [
            *b"1234567/",
            *b"12345:78",
            *b"1234 678",
            *b"\xff2345678",
            *b"1234567\x00",
        ] {
            assert_eq!(eight_digits_word(u64::from_le_bytes(bad)), None);
        }
    }

    #[test]
    fn phone_numbers_normalise() {
        assert_eq!(normalize_phone("+7 (911) 000-00-01").unwrap(), 79110000001);
        assert_eq!(normalize_phone("0079110000001").unwrap(), 79110000001);
        assert_eq!(normalize_phone("79110000001").unwrap(), 79110000001);
        assert_eq!(normalize_phone("(+7) 911 000 00 01").unwrap(), 79110000001);
        assert_eq!(
            normalize_phone("+999999999999999").unwrap(),
            999_999_999_999_999
        );
    }

    #[test]
    fn malformed_phone_numbers_quote_the_input() {
        for bad in [
            "+1 555",
            "+0123456789",
            "+1234567890123456",
            "+7911abc0001",
            "+",
            "00+79110000001",
            "+7+9110000001",
        ] {
            match normalize_phone(bad) {
                Err(Error::InvalidPhoneNumber { input, .. }) => assert_eq!(input, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn opaque_ids_and_groups_are_distinct_keys() {
        let mut i = Interner::default();
        let user = i.address("US.13491208655302741918").unwrap();
        let group = i.group("US.13491208655302741918").unwrap();
        let phone = i.address("+15550001111").unwrap();
        assert_ne!(user, group);
        assert!(group.is_group());
        assert_eq!(phone.phone_digits(), Some(15550001111));
        assert_eq!(i.display(user), "US.13491208655302741918");
        assert_eq!(i.display(phone), "+15550001111");
        assert!(i.address(&"x".repeat(257)).is_err());
        assert!(i.address("two words").is_err());
        // Text of digits and phone punctuation is a phone number, or no address at all.
        assert_eq!(
            i.address("(+7) 911 000 00 01").unwrap().phone_digits(),
            Some(79110000001)
        );
        assert!(matches!(
            i.address("00+79110000001"),
            Err(Error::InvalidPhoneNumber { .. })
        ));
    }

    #[test]
    fn an_address_renders_and_serialises_as_the_text_it_stands_for() {
        let mut i = Interner::default();
        let phone = i.address_of(i.clone().address("+1 555 000 1111").unwrap());
        let user_key = i.address("US.134912").unwrap();
        let user = i.address_of(user_key);
        assert_eq!(phone.to_string(), "+15550001111");
        assert_eq!(phone.phone_digits(), Some(15550001111));
        assert_eq!(phone, "+15550001111");
        assert_ne!(phone, "+15550001112");
        assert_eq!(user, "US.134912");
        assert_eq!(user.phone_digits(), None);
        assert_eq!(serde_json::to_string(&phone).unwrap(), "\"+15550001111\"");
        assert_eq!(serde_json::to_string(&user).unwrap(), "\"US.134912\"");
        let back: Address = serde_json::from_str("\"+15550001111\"").unwrap();
        assert_eq!(back, phone);
        let back: Address = serde_json::from_str("\"US.134912\"").unwrap();
        assert_eq!(back, user);
    }
}
