//! Naming the field at fault in a line that does not decode, so that every door (the JSON
//! door, the C and Python bindings, the command-line tool) says `field "message.kind":
//! unknown variant ...` rather than leaving a person to guess which `kind`.
//!
//! serde reports what was expected, but not always where: the path is lost when the tag of
//! an event comes after its fields (they are buffered until it is known), and serde_json's
//! position counts in the buffered object, not in the line. Lines are short and errors
//! rare, so the field is found by what the message quotes (an unknown key or variant, a
//! value of the wrong type) and, where that is not enough, by experiment: a key whose
//! removal changes the error is the one the error is about. The experiments write the line
//! again with its keys in their own order ([`Ordered`]), so that serde meets the same
//! problem first as in the line. This runs only for a line that failed, and re-decodes at
//! most [`TRIAL_BYTES`] in all, so a flood of bad lines (wide objects, long texts) costs a
//! bounded multiple of their decoding; past the budget the problem goes out without a field.
//! A key given twice is the exception: a removal drops both copies, so the object holding
//! it is found by reading the line once more ([`duplicated`]), at any length.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::ordered::Ordered;

/// Bytes that the experiments on one line may decode in all (about 0.1 ms): a line of 500
/// bytes gets 128 trials, one of 16 KiB four, a longer one none.
const TRIAL_BYTES: usize = 64 * 1024;

/// U+FEFF, which some editors put at the start of a UTF-8 file.
pub(crate) const BYTE_ORDER_MARK: char = '\u{feff}';

/// Why `line` does not decode, for people: `problem` (serde's message, without the position
/// of a data error) with the field at fault in front when it can be found, or the syntax
/// problem of a line that is not JSON.
pub(super) fn describe(line: &str, problem: String, is_syntax: bool, shape: Shape) -> String {
    if is_syntax {
        // Files saved by some Windows tools start with one; serde's message would only say
        // "expected value at column 1".
        if line.starts_with(BYTE_ORDER_MARK) {
            return shape.unnamed(
                "not valid JSON: the line starts with a byte-order mark (U+FEFF); \
                 write UTF-8 without one",
            );
        }
        return shape.unnamed(&format!("not valid JSON: {problem}"));
    }
    if let Some(field) = quoted_after(&problem, "duplicate field ") {
        return match duplicated(line, field) {
            Some(path) => shape.named(&path, &problem),
            None => shape.unnamed(&problem),
        };
    }
    let mut trials = Trials {
        left: TRIAL_BYTES / line.len().max(1),
        shape,
    };
    if trials.left == 0 {
        return shape.unnamed(&problem);
    }
    let Ok(mut root) = serde_json::from_str::<Ordered>(line) else {
        return shape.unnamed(&problem);
    };
    if root.entries().is_none() {
        // serde's "invalid type: ..., expected an event: an object ..."
        return shape.unnamed(&problem);
    }
    if shape == Shape::Event {
        for key in super::ANNOTATION_KEYS {
            root.remove_key(key);
        }
    }
    match culprit(&root, &problem, &mut trials) {
        Some(path) => shape.named(&path, &problem),
        None => shape.unnamed(&problem),
    }
}

/// What a line holds: the door's event, or a message object read on its own (the C
/// library's `convstate_message_from_json`), whose fields are named as in a `send` line
/// (`message.buttons[0]`) so that one mistake reads the same through either door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Event,
    Message,
}

impl Shape {
    /// `problem` about the value at `path` (relative to the line's object).
    pub(super) fn named(self, path: &str, problem: &str) -> String {
        match self {
            Shape::Event => format!("field \"{path}\": {problem}"),
            Shape::Message => format!("field \"message.{path}\": {problem}"),
        }
    }

    /// `problem` about no field found: the whole line's (for a message, its `message`).
    pub(super) fn unnamed(self, problem: &str) -> String {
        match self {
            Shape::Event => problem.to_owned(),
            Shape::Message => format!("field \"message\": {problem}"),
        }
    }

    /// serde's problem with `line` read as this shape; `None` when it decodes.
    fn problem(self, line: &str) -> Option<String> {
        match self {
            Shape::Event => super::decode_line(line).err(),
            Shape::Message => super::decode_message_line(line).err(),
        }
        .map(|failure| failure.problem)
    }
}

/// The re-decodings left to the experiments on one line, and how to decode it.
struct Trials {
    left: usize,
    shape: Shape,
}

/// The quoted name in a serde message such as ``unknown variant `x`, expected ...``.
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    rest.split('`').next()
}

fn culprit(root: &Ordered, message: &str, trials: &mut Trials) -> Option<String> {
    if let Some(field) = quoted_after(message, "missing field ") {
        return Some(match lacking(root, root, &[], field, message, trials) {
            Some(path) => format!("{}.{field}", render(&path)),
            None => field.to_owned(),
        });
    }
    let mut candidates = Vec::new();
    if let Some(field) = quoted_after(message, "unknown field ") {
        find_paths(
            root,
            &mut Vec::new(),
            &|key, _| key == field,
            &mut candidates,
        );
        // Removing a key changes the error wherever it stands (a template message without
        // its `name` lacks one), so the object at fault is told by serde's list of the
        // fields it expected: every other key of that object is among them.
        // Only to choose between several: an object may hold a second unknown key.
        if candidates.len() > 1 {
            let expected = expected_fields(message);
            candidates.retain(|path| {
                let (_, parent) = path.split_last().expect("a path has a key");
                sibling_keys(root, parent).all(|key| {
                    key == field || expected.contains(&key) || super::decode::TAGS.contains(&key)
                })
            });
        }
    } else if let Some(variant) = quoted_after(message, "unknown variant ") {
        let matches = |_: &str, value: &Ordered| value.as_str() == Some(variant);
        find_paths(root, &mut Vec::new(), &matches, &mut candidates);
        // The event's `type`, when the variant is a known event type, was read: the unknown
        // variant is another key's (`"kind":"inbound"`). Removing it changes every error,
        // so with the line's order kept, a `type` written first was named.
        if super::decode::EVENT_TYPES.contains(&variant) {
            candidates.retain(|path| path.as_slice() != [Step::Key(super::decode::TAGS[0])]);
        }
    } else {
        // A wrong type or value is found by the value serde quotes: with two bad fields,
        // removing a required key the error is not about also changes it (to `missing
        // field`), so trials alone would name the first required key.
        let matches =
            |_: &str, value: &Ordered| value.scalar().is_some_and(|v| is_quoted_as(v, message));
        find_paths(root, &mut Vec::new(), &matches, &mut candidates);
        if candidates.is_empty() {
            return implicated(root, root, &[], message, trials).map(|path| render(&path));
        }
        // A tag whose value the bad one equals (`"kind":"image"` beside `"size":"image"`)
        // changes every error when removed: tried last, as `implicated` tries them.
        candidates.sort_by_key(
            |path| matches!(path.last(), Some(Step::Key(key)) if super::decode::TAGS.contains(key)),
        );
    }
    confirmed(root, candidates, message, trials)
}

/// Whether `message` is serde's `invalid type: ..., expected ...` or `invalid value: ...,
/// expected ...` about a scalar shown as `value` is (`integer `-1``, `string "x"`), as serde's
/// `Unexpected` writes one.
fn is_quoted_as(value: &Value, message: &str) -> bool {
    let shown = match value {
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::String(text) => format!("string {text:?}"),
        // serde_json quotes a float as it writes one (`5.0`, `1e+300`, `1e-7`), which is
        // not as Rust does (`5`, 1 and 300 zeros, `0.0000001`): as the number shows itself.
        Value::Number(n) if n.is_f64() => format!("floating point `{n}`"),
        Value::Number(n) => format!("integer `{n}`"),
        _ => return false,
    };
    ["invalid type: ", "invalid value: "].iter().any(|prefix| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(shown.as_str()))
            .is_some_and(|rest| rest.starts_with(", expected"))
    })
}

/// One step of a path into a line: a key of an object or a position in an array.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

/// A path as people read it: `buttons[0].label`.
fn render(path: &[Step<'_>]) -> String {
    let segments: Vec<Cow<'_, str>> = path
        .iter()
        .map(|step| match step {
            Step::Key(key) => Cow::Borrowed(*key),
            Step::Index(i) => Cow::Owned(format!("[{i}]")),
        })
        .collect();
    joined(segments.iter().map(|s| s.as_ref()))
}

/// Path segments joined as people read them: keys after a dot, positions (`[i]`) without.
fn joined<'s>(segments: impl IntoIterator<Item = &'s str>) -> String {
    let mut text = String::new();
    for segment in segments {
        if !text.is_empty() && !segment.starts_with('[') {
            text.push('.');
        }
        text.push_str(segment);
    }
    text
}

/// The children of an object (by key) or an array (by position). A key given twice is one
/// child, its first copy: serde meets that one first (a later copy of a field it knows is
/// then `duplicate field`), and a removal drops every copy. Searching each copy cost as many
/// trials, and for an unknown key checked each copy's siblings: quadratic in the line.
fn children(value: &Ordered) -> Vec<(Step<'_>, &Ordered)> {
    match value {
        Ordered::Object(entries) => {
            let mut seen = std::collections::HashSet::with_capacity(entries.len());
            (entries.iter())
                .filter(|(k, _)| seen.insert(k.as_str()))
                .map(|(k, v)| (Step::Key(k), v))
                .collect()
        }
        Ordered::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (Step::Index(i), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// The names serde lists after "expected" (`` expected one of `at`, `number` ``).
fn expected_fields(message: &str) -> Vec<&str> {
    let Some((_, list)) = message.split_once("expected ") else {
        return Vec::new();
    };
    list.split('`').skip(1).step_by(2).collect()
}

fn value_at<'v>(root: &'v Ordered, path: &[Step<'_>]) -> Option<&'v Ordered> {
    path.iter().try_fold(root, |here, step| match step {
        Step::Key(key) => here.get(key),
        Step::Index(i) => here.item(*i),
    })
}

/// The keys of the object at `path`.
fn sibling_keys<'v>(root: &'v Ordered, path: &[Step<'_>]) -> impl Iterator<Item = &'v str> {
    value_at(root, path)
        .and_then(Ordered::entries)
        .into_iter()
        .flat_map(|entries| entries.iter().map(|(k, _)| k.as_str()))
}

/// Every path (depth first, through arrays too) to a key for which `matches` holds.
fn find_paths<'v>(
    value: &'v Ordered,
    path: &mut Vec<Step<'v>>,
    matches: &dyn Fn(&str, &Ordered) -> bool,
    found: &mut Vec<Vec<Step<'v>>>,
) {
    for (step, child) in children(value) {
        path.push(step);
        if matches!(step, Step::Key(key) if matches(key, child)) {
            found.push(path.clone());
        }
        find_paths(child, path, matches, found);
        path.pop();
    }
}

/// The one candidate, or of several (a `name` at the top level and in a template message)
/// the first whose removal changes the error; `None` rather than a guess when no trial
/// tells them apart.
fn confirmed(
    root: &Ordered,
    candidates: Vec<Vec<Step<'_>>>,
    message: &str,
    trials: &mut Trials,
) -> Option<String> {
    if let [only] = candidates.as_slice() {
        return Some(render(only));
    }
    for candidate in &candidates {
        let (step, parent) = candidate.split_last()?;
        if removal_changes(root, parent, *step, message, trials)? {
            return Some(render(candidate));
        }
    }
    None
}

/// The deepest key (or array item) under `path` whose removal changes the decoding error;
/// `None` also when the `trials` run out first.
fn implicated<'v>(
    root: &Ordered,
    here: &'v Ordered,
    path: &[Step<'v>],
    message: &str,
    trials: &mut Trials,
) -> Option<Vec<Step<'v>>> {
    // Removing a tag (`type`, `kind`) changes every error, so tags are suspects only when no
    // other key is.
    let is_tag = |step: &(Step<'_>, &Ordered)| matches!(step.0, Step::Key(key) if super::decode::TAGS.contains(&key));
    let all = children(here);
    let suspects = all
        .iter()
        .filter(|c| !is_tag(c))
        .chain(all.iter().filter(|c| is_tag(c)));
    for &(step, child) in suspects {
        if removal_changes(root, path, step, message, trials)? {
            let mut deeper = path.to_vec();
            deeper.push(step);
            return implicated(root, child, &deeper, message, trials).or(Some(deeper));
        }
    }
    None
}

/// The path of the nested object that lacks `field` (`default_template`, `message`,
/// `buttons[0]`): an object without that key whose removal changes the error; `None` when
/// the field is missing from the top level (or the `trials` run out). Only objects and
/// arrays are suspects, since removing a scalar field that serde reads before `field`
/// changes the message too.
fn lacking<'v>(
    root: &Ordered,
    here: &'v Ordered,
    path: &[Step<'v>],
    field: &str,
    message: &str,
    trials: &mut Trials,
) -> Option<Vec<Step<'v>>> {
    for (step, child) in children(here) {
        if child.is_scalar() {
            continue;
        }
        if removal_changes(root, path, step, message, trials)? {
            let mut deeper = path.to_vec();
            deeper.push(step);
            let lacks = child.entries().is_some() && child.get(field).is_none();
            return lacking(root, child, &deeper, field, message, trials)
                .or_else(|| lacks.then_some(deeper));
        }
    }
    None
}

/// One trial: whether `root` without `step` (in the object or array at `path`) decodes, or
/// fails with another message than `message`; `None` once the `trials` have run out.
fn removal_changes(
    root: &Ordered,
    path: &[Step<'_>],
    step: Step<'_>,
    message: &str,
    trials: &mut Trials,
) -> Option<bool> {
    trials.left = trials.left.checked_sub(1)?;
    let mut trial = root.clone();
    match (value_at_mut(&mut trial, path), step) {
        (Some(here), Step::Key(key)) => here.remove_key(key),
        (Some(here), Step::Index(i)) => here.remove_item(i),
        (None, _) => {}
    }
    Some(match trials.shape.problem(&trial.to_line()) {
        None => true,
        Some(problem) => problem != message,
    })
}

fn value_at_mut<'a>(value: &'a mut Ordered, path: &[Step<'_>]) -> Option<&'a mut Ordered> {
    path.iter().try_fold(value, |here, step| match step {
        Step::Key(key) => here.get_mut(key),
        Step::Index(i) => here.item_mut(*i),
    })
}

/// The path of `field` in the first object of `line` (in reading order, as the decoders
/// read it) that holds it twice: `message.text` for a message with two texts.
fn duplicated(line: &str, field: &str) -> Option<String> {
    let mut found = None;
    let mut path = Vec::new();
    let seed = DuplicateFinder {
        field,
        path: &mut path,
        found: &mut found,
    };
    // The line failed to decode, but it is JSON (its problem is not a syntax one): read to
    // its end, and a failure past the duplicate still leaves it found.
    let _ = seed.deserialize(&mut serde_json::Deserializer::from_str(line));
    found
}

/// Walks any JSON value, keeping the path to it, until `found` holds one.
struct DuplicateFinder<'a> {
    field: &'a str,
    path: &'a mut Vec<String>,
    found: &'a mut Option<String>,
}

impl DuplicateFinder<'_> {
    fn child(&mut self, step: String) -> DuplicateFinder<'_> {
        self.path.push(step);
        DuplicateFinder {
            field: self.field,
            path: self.path,
            found: self.found,
        }
    }
}

impl<'de> DeserializeSeed<'de> for DuplicateFinder<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DuplicateFinder<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let more = if self.found.is_some() {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                let seed = self.child(format!("[{index}]"));
                let more = seq.next_element_seed(seed)?.is_some();
                self.path.pop();
                more
            };
            if !more {
                return Ok(());
            }
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            // The decoders skip annotations unread, so a key twice in one is not the fault.
            let annotation = self.path.is_empty() && super::ANNOTATION_KEYS.contains(&&*key);
            if self.found.is_some() || annotation {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if key == self.field {
                if seen {
                    let path = self.path.iter().map(String::as_str);
                    *self.found = Some(joined(path.chain([key.as_str()])));
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                seen = true;
            }
            let seed = self.child(key);
            map.next_value_seed(seed)?;
            self.path.pop();
        }
        Ok(())
    }
}

/// A value that serde_json refuses with a syntax error although the line is JSON, named by
/// its field with what is wrong, as a data error is: `(path, problem)`. serde_json reads a
/// number too large for a 64-bit float (`1e400`, valid JSON) as `number out of range`, and
/// a value that is not a string where it reads a name (`"channel":7`, `"quality":null`) as
/// `expected value`; both were answered `not valid JSON: ... at line 1 column 86`, naming
/// no field, about a line that is JSON. `None` for any other error, or a line that is not
/// JSON (a bare `NaN`, say: its `expected value` is the line's syntax).
pub(super) fn misread_value(
    line: &str,
    error: &serde_json::Error,
    shape: Shape,
) -> Option<(String, String)> {
    if let Some(found) = lone_surrogate_in(line, error) {
        return Some(found);
    }
    let message = error.to_string();
    let out_of_range = message.starts_with("number out of range");
    if !out_of_range && !message.starts_with("expected value") {
        return None;
    }
    // Skipping a value reads no number, so a line that only holds too large a one passes.
    serde_json::from_str::<IgnoredAny>(line).ok()?;
    let (path, span) = value_around(line, error_offset(line, error)?)?;
    let raw = &line[span.clone()];
    let problem = if out_of_range {
        format!(
            "number `{raw}` is out of range: numbers are read as 64-bit floats, at most {:e} \
             in size",
            f64::MAX
        )
    } else {
        let shown = match raw.as_bytes().first() {
            Some(b'n') => "null".to_owned(),
            Some(b't' | b'f') => format!("boolean `{raw}`"),
            Some(b'[') => "sequence".to_owned(),
            Some(b'{') => "map".to_owned(),
            Some(b'"') => return None, // a name read: not this error
            _ if raw.contains(['.', 'e', 'E']) => format!("floating point `{raw}`"),
            _ => format!("integer `{raw}`"),
        };
        // What the field takes, as serde lists it for a name it does not know: the line
        // read again with an empty name in the value's place (one more decoding, of a line
        // that failed).
        let trial = format!("{}\"\"{}", &line[..span.start], &line[span.end..]);
        let expected = shape
            .problem(&trial)
            .and_then(|problem| (problem.strip_prefix("unknown variant ``, ")).map(str::to_owned));
        let expected = expected.unwrap_or_else(|| "expected a string".to_owned());
        format!("invalid type: {shown}, {expected}")
    };
    Some((path, problem))
}

/// The path and problem of a string escape `\ud800` without its other half in `text`, which
/// serde_json reports as syntax ("unexpected end of hex escape", or for a lone trailing
/// half "lone leading surrogate"), naming no field, though the text is JSON: for every door
/// that reads JSON (wire lines, messages alone, webhook bodies). `None` for other errors.
pub(crate) fn lone_surrogate_in(text: &str, error: &serde_json::Error) -> Option<(String, String)> {
    let message = error.to_string();
    if !message.starts_with("unexpected end of hex escape")
        && !message.starts_with("lone leading surrogate in hex escape")
    {
        return None;
    }
    // Skipping a string checks no surrogate's pair, so a text whose only fault is one passes.
    serde_json::from_str::<IgnoredAny>(text).ok()?;
    let (path, span) = value_around(text, error_offset(text, error)?)?;
    let escape = lone_surrogate(text[span].strip_prefix('"')?)?;
    Some((
        path,
        format!(
            "`{escape}` is half of a UTF-16 surrogate pair without its other half, which is \
             no character: write the character itself, or both escapes of its pair"
        ),
    ))
}

/// `text` with every `\uXXXX` escape that is half of a UTF-16 surrogate pair without its
/// other half replaced by `\ufffd` (the replacement character, as most JSON readers but
/// serde_json read one); `None` when there is none. Escapes stand only inside strings, and
/// the walk steps over each escape whole (`\\u…` is a backslash, then text).
pub(crate) fn without_lone_surrogates(text: &str) -> Option<String> {
    let code_at = |at: usize| {
        let hex = text.get(at..at + 6)?.strip_prefix("\\u")?;
        u16::from_str_radix(hex, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let (mut at, mut copied, mut replaced) = (0, 0, false);
    while let Some(found) = text[at..].find('\\') {
        at += found;
        match code_at(at) {
            Some(0xD800..=0xDBFF) if matches!(code_at(at + 6), Some(0xDC00..=0xDFFF)) => at += 12,
            Some(0xD800..=0xDFFF) => {
                out.push_str(&text[copied..at]);
                out.push_str("\\ufffd");
                at += 6;
                copied = at;
                replaced = true;
            }
            Some(_) => at += 6,
            // Another escape (`\\`, `\"`, ...): the backslash and the character after it.
            None => at += 1 + text[at + 1..].chars().next().map_or(0, char::len_utf8),
        }
    }
    out.push_str(&text[copied..]);
    replaced.then_some(out)
}

/// The byte of `text` serde_json's `error` points at: it counts lines by `\n` and columns in
/// bytes from 1 (the byte at fault: a value's first, an out-of-range number's last, the end
/// of a bad escape).
fn error_offset(text: &str, error: &serde_json::Error) -> Option<usize> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(error.line().checked_sub(1)?)
        .map(str::len)
        .sum();
    Some(line_start + error.column().checked_sub(1)?)
}

/// The first `\uXXXX` escape in a JSON string's text (`raw`, after its opening quote) that
/// is a UTF-16 surrogate without its other half; `None` when every escape is whole.
fn lone_surrogate(raw: &str) -> Option<&str> {
    let code_at = |at: usize| {
        let escape = raw.get(at..at + 6)?;
        let hex = escape.strip_prefix("\\u")?;
        u16::from_str_radix(hex, 16).ok().map(|code| (escape, code))
    };
    let mut at = 0;
    while let Some(found) = raw[at..].find('\\') {
        at += found;
        match code_at(at) {
            Some((_, 0xD800..=0xDBFF)) if matches!(code_at(at + 6), Some((_, 0xDC00..=0xDFFF))) => {
                at += 12;
            }
            Some((escape, 0xD800..=0xDFFF)) => return Some(escape),
            Some(_) => at += 6,
            None => at += 2,
        }
    }
    None
}

/// The path (`message.latitude`) and byte range of the innermost value of `line` (JSON)
/// that holds the byte at `offset`; `None` when no value does, or the line nests deeper
/// than serde reads.
fn value_around(line: &str, offset: usize) -> Option<(String, std::ops::Range<usize>)> {
    let mut scan = Scan {
        line,
        at: 0,
        offset,
        path: Vec::new(),
        found: None,
    };
    scan.value(0)?;
    let (path, span) = scan.found?;
    Some((joined(path.iter().map(String::as_str)), span))
}

/// A reader of a line known to be JSON, for [`value_around`].
struct Scan<'a> {
    line: &'a str,
    at: usize,
    offset: usize,
    path: Vec<String>,
    found: Option<(Vec<String>, std::ops::Range<usize>)>,
}

impl Scan<'_> {
    /// serde_json's own limit: a line nested deeper does not decode for that reason.
    const MAX_DEPTH: usize = 128;

    fn byte(&self) -> Option<u8> {
        self.line.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Steps over a string, the cursor on its opening quote; its range.
    fn string(&mut self) -> Option<std::ops::Range<usize>> {
        let start = self.at;
        self.at += 1;
        loop {
            match self.byte()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some(start..self.at);
                }
                _ => self.at += 1,
            }
        }
    }

    /// Steps over an object's or array's items, the cursor on its opening bracket: `item`
    /// reads each (given its index), then a `,` goes on and `close` ends them.
    fn items(
        &mut self,
        close: u8,
        mut item: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        self.at += 1;
        self.space();
        if self.byte()? == close {
            self.at += 1;
            return Some(());
        }
        let mut index = 0;
        loop {
            item(self, index)?;
            self.space();
            let separator = self.byte()?;
            self.at += 1;
            match separator {
                b',' => index += 1,
                _ if separator == close => return Some(()),
                _ => return None,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > Self::MAX_DEPTH {
            return None;
        }
        self.space();
        let start = self.at;
        match self.byte()? {
            b'{' => self.items(b'}', |scan, _| {
                scan.space();
                let key = scan.string()?;
                let key = serde_json::from_str::<String>(&scan.line[key]).ok()?;
                scan.space();
                (scan.byte()? == b':').then_some(())?;
                scan.at += 1;
                scan.path.push(key);
                scan.value(depth + 1)?;
                scan.path.pop();
                Some(())
            })?,
            b'[' => self.items(b']', |scan, index| {
                scan.path.push(format!("[{index}]"));
                scan.value(depth + 1)?;
                scan.path.pop();
                Some(())
            })?,
            b'"' => {
                self.string()?;
            }
            _ => {
                while !matches!(
                    self.byte(),
                    None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
            }
        }
        // The innermost value first: a container is done after its items.
        if self.found.is_none() && (start..self.at).contains(&self.offset) && !self.path.is_empty()
        {
            self.found = Some((self.path.clone(), start..self.at));
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_halves_of_surrogate_pairs_are_replaced() {
        let text = r#"{"a":"hi \ud83d, \\ud83d \ud83d\ude00 \udc00\ud800","b":"\u00e9 é \""}"#;
        assert_eq!(
            without_lone_surrogates(text).as_deref(),
            Some(r#"{"a":"hi \ufffd, \\ud83d \ud83d\ude00 \ufffd\ufffd","b":"\u00e9 é \""}"#)
        );
        let repaired: serde_json::Value =
            serde_json::from_str(&without_lone_surrogates(text).unwrap()).unwrap();
        assert_eq!(repaired["a"], "hi \u{fffd}, \\ud83d 😀 \u{fffd}\u{fffd}");
        // Nothing to replace: nothing returned, whole pairs and other escapes left alone.
        assert_eq!(
            without_lone_surrogates(r#"{"a":"\ud83d\ude00 \\ud800 \n"}"#),
            None
        );
    }

    /// A key given many times is one suspect, not one per copy: the unknown-field search
    /// checked every copy's siblings (all the copies), quadratic in a line's length (a line
    /// of 64 KiB of `"zz":0` took about a second), where one copy tells as much (serde
    /// meets the first, and a removal drops them all).
    #[test]
    fn a_key_given_many_times_is_one_candidate() {
        let copies = [r#""zz":{"zz":0}"#; 5].join(",");
        let root: Ordered =
            serde_json::from_str(&format!(r#"{{"type":"tick",{copies},"at":0}}"#)).unwrap();
        let keys: Vec<_> = children(&root).into_iter().map(|(step, _)| step).collect();
        assert_eq!(
            keys,
            [Step::Key("type"), Step::Key("zz"), Step::Key("at")],
            "each key once, in the order of its first copy"
        );
        let mut found = Vec::new();
        find_paths(&root, &mut Vec::new(), &|key, _| key == "zz", &mut found);
        assert_eq!(
            found,
            [
                vec![Step::Key("zz")],
                vec![Step::Key("zz"), Step::Key("zz")]
            ]
        );
        // And a line of many copies is still named (speed is the benches' to measure: the
        // structure above is what keeps it linear).
        let line = format!(
            r#"{{"type":"tick","at":"2026-11-02T08:00:00Z",{}}}"#,
            [r#""zz":0"#; 9000].join(",")
        );
        let named = describe(
            &line,
            "unknown field `zz`, expected `at`".into(),
            false,
            Shape::Event,
        );
        assert_eq!(named, "field \"zz\": unknown field `zz`, expected `at`");
    }
}
