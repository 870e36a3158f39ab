//! What a business sends, and the content limits it must respect (RULES.md §8).

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::decision::DenyReason;
use crate::hash::ContentHasher;
use crate::number::Channel;
use crate::policy::Policy;

/// Kinds of media a message can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture.
    Image,
    /// A video clip.
    Video,
    /// A voice note or audio file.
    Audio,
    /// Any document (pdf, office files, text).
    Document,
    /// A sticker.
    Sticker,
}

impl MediaKind {
    /// The kind's wire name.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

from_wire_name!(MediaKind);

/// A media attachment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {
    /// File size in bytes.
    pub size: u64,
    /// Optional caption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// Whether a sticker is animated (own size limit).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub animated: bool,
    /// The host's reference to the file (URL or media id); compared for duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_ref: Option<String>,
}

/// Why a message's content cannot be sent whatever its length (§8): Meta refuses it, or
/// would drop a part of it without saying so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentProblem {
    /// A text or a list with nothing in it: `text`, `interactive body`, `button title`,
    /// `template parameter`, or `buttons` (an interactive message needs at least one); of a
    /// list or call-to-action message, `header`, `body`, `footer`, `button`, `sections`,
    /// `rows`, `section title`, `row id`, `row title`, `display text` or `url`.
    Empty {
        /// Which part.
        item: Cow<'static, str>,
    },
    /// A coordinate off the globe: `latitude` within -90..=90, `longitude` within
    /// -180..=180 (degrees).
    OutOfRange {
        /// Which coordinate.
        item: Cow<'static, str>,
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
        /// The value given; `None` (`null` on the wire) when it was not a number (NaN or an
        /// infinity, which only the typed calls can pass).
        actual: Option<f64>,
    },
    /// A caption on audio or a sticker: Meta's audio and sticker messages carry none, so the
    /// words would not reach the contact (official channel only).
    CaptionNotSupported {
        /// The media kind.
        media: MediaKind,
    },
    /// More of a part than a list takes: `sections`, or `rows` in all.
    TooMany {
        /// Which part.
        item: Cow<'static, str>,
        /// The most allowed.
        limit: u32,
        /// How many were given.
        actual: u64,
    },
    /// A value that must be unique given twice: a list's `row id`, an interactive message's
    /// `button title`.
    Repeated {
        /// Which part.
        item: Cow<'static, str>,
        /// The value given twice (its first 64 characters).
        value: String,
    },
}

impl ContentProblem {
    fn empty(item: &'static str) -> DenyReason {
        DenyReason::InvalidContent {
            problem: ContentProblem::Empty { item: item.into() },
        }
    }
}

impl fmt::Display for ContentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentProblem::Empty { item } if item == "buttons" => {
                f.write_str("an interactive message needs at least one button")
            }
            ContentProblem::Empty { item } => write!(f, "the {item} is empty"),
            ContentProblem::OutOfRange {
                item,
                min,
                max,
                actual: Some(actual),
            } => write!(f, "{item} {actual} is outside {min}..={max}"),
            ContentProblem::OutOfRange { item, min, max, .. } => {
                write!(f, "{item} is not a number within {min}..={max}")
            }
            ContentProblem::CaptionNotSupported { media } => {
                write!(f, "{media} messages carry no caption")
            }
            ContentProblem::TooMany {
                item,
                limit,
                actual,
            } => write!(f, "{actual} {item}, the limit is {limit}"),
            ContentProblem::Repeated { item, value } => {
                write!(f, "{item} {value:?} is given twice")
            }
        }
    }
}

/// `Ok` if `value` is a number within `min..=max`.
fn check_range(item: &'static str, value: f64, min: f64, max: f64) -> Result<(), DenyReason> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(DenyReason::InvalidContent {
        problem: ContentProblem::OutOfRange {
            item: item.into(),
            min,
            max,
            actual: value.is_finite().then_some(value),
        },
    })
}

/// Parameters of a template send: positional (`["A-17"]`) or named (`{"name": "Ann"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TemplateParams {
    /// `{{1}}..{{n}}` in order.
    Positional(Vec<String>),
    /// `{{name}}` by name.
    Named(std::collections::BTreeMap<String, String>),
}

impl<'de> Deserialize<'de> for TemplateParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TemplateParams, D::Error> {
        d.deserialize_any(ParamsVisitor)
    }
}

/// Reads params as a list or an object of strings. An object's name given twice is refused,
/// as a field given twice is everywhere else on an event line: a map kept the last copy,
/// so the content checked and hashed was not plainly the one the host wrote.
struct ParamsVisitor;

const PARAMS_EXPECTED: &str =
    "params must be a list of strings (for {{1}}..{{n}}) or an object of strings (for named variables)";

impl<'de> serde::de::Visitor<'de> for ParamsVisitor {
    type Value = TemplateParams;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(PARAMS_EXPECTED)
    }

    // Every other shape is refused in the same words (not serde's "invalid type: ...,
    // expected ...").
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<TemplateParams, E> {
        Err(not_params())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<TemplateParams, A::Error> {
        let mut params = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(param) = seq.next_element::<String>().map_err(|_| not_params())? {
            params.push(param);
        }
        Ok(TemplateParams::Positional(params))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<TemplateParams, A::Error> {
        let mut params = TemplateParams::Named(std::collections::BTreeMap::new());
        while let Some(name) = map.next_key::<String>().map_err(|_| not_params())? {
            let value = map.next_value::<String>().map_err(|_| not_params())?;
            // Named from the start, so the only conflict is a repeated name.
            params
                .insert_named(name, value)
                .map_err(|conflict| match conflict {
                    ParamsConflict::RepeatedName(name) => {
                        serde::de::Error::custom(format_args!("duplicate field `{name}`"))
                    }
                    ParamsConflict::MixedForms => not_params(),
                })?;
        }
        Ok(params)
    }
}

/// The one refusal for params of the wrong shape, whatever part of them was wrong.
fn not_params<E: serde::de::Error>() -> E {
    E::custom(PARAMS_EXPECTED)
}

impl Default for TemplateParams {
    fn default() -> Self {
        TemplateParams::Positional(Vec::new())
    }
}

/// Why a parameter cannot be added to [`TemplateParams`] built one at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamsConflict {
    /// Positional and named parameters together: a template message takes one form.
    MixedForms,
    /// A name given twice: keeping either value would drop the other unseen (the wire
    /// refuses the repeated key as `duplicate field`).
    RepeatedName(String),
}

impl fmt::Display for ParamsConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamsConflict::MixedForms => f.write_str(
                "positional and named template parameters together: a template message takes \
                 one form",
            ),
            ParamsConflict::RepeatedName(name) => write!(
                f,
                "template parameter {:?} given twice",
                crate::error::quoted(name)
            ),
        }
    }
}

impl std::error::Error for ParamsConflict {}

impl std::error::Error for ContentProblem {}

impl TemplateParams {
    /// Appends the next positional parameter (`{{1}}`, `{{2}}`, ... in order); refused once
    /// named ones are given. Empty parameters take either form.
    pub fn push_positional(&mut self, value: String) -> Result<(), ParamsConflict> {
        if matches!(self, TemplateParams::Named(named) if named.is_empty()) {
            *self = TemplateParams::Positional(Vec::new());
        }
        match self {
            TemplateParams::Positional(list) => {
                list.push(value);
                Ok(())
            }
            TemplateParams::Named(_) => Err(ParamsConflict::MixedForms),
        }
    }

    /// Adds the named parameter `{{name}}`; refused once positional ones are given, or when
    /// `name` is given already. Empty parameters take either form.
    pub fn insert_named(&mut self, name: String, value: String) -> Result<(), ParamsConflict> {
        if matches!(self, TemplateParams::Positional(list) if list.is_empty()) {
            *self = TemplateParams::Named(std::collections::BTreeMap::new());
        }
        match self {
            TemplateParams::Named(map) => match map.entry(name) {
                std::collections::btree_map::Entry::Occupied(given) => {
                    Err(ParamsConflict::RepeatedName(given.key().clone()))
                }
                std::collections::btree_map::Entry::Vacant(new) => {
                    new.insert(value);
                    Ok(())
                }
            },
            TemplateParams::Positional(_) => Err(ParamsConflict::MixedForms),
        }
    }

    /// How many parameters are given.
    pub fn len(&self) -> usize {
        match self {
            TemplateParams::Positional(v) => v.len(),
            TemplateParams::Named(m) => m.len(),
        }
    }
    /// Whether no parameter is given.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameter for a variable as written between the braces (`1`, `name`).
    pub(crate) fn for_variable(&self, variable: &str) -> Option<&str> {
        match self {
            TemplateParams::Positional(v) => {
                let n: usize = variable.parse().ok()?;
                v.get(n.checked_sub(1)?).map(String::as_str)
            }
            TemplateParams::Named(m) => m.get(variable).map(String::as_str),
        }
    }

    /// Whether any parameter is as `test` says.
    fn any(&self, test: impl Fn(&str) -> bool) -> bool {
        match self {
            TemplateParams::Positional(v) => v.iter().any(|p| test(p)),
            TemplateParams::Named(m) => m.values().any(|p| test(p)),
        }
    }

    /// The longest parameter's length, in bytes.
    pub(crate) fn longest_bytes(&self) -> u64 {
        let longest = match self {
            TemplateParams::Positional(v) => v.iter().map(String::len).max(),
            TemplateParams::Named(m) => m.values().map(String::len).max(),
        };
        longest.unwrap_or(0) as u64
    }

    /// Every parameter's length together, counted by `len` (bytes, or characters).
    fn total(&self, len: impl Fn(&str) -> usize) -> u64 {
        match self {
            TemplateParams::Positional(v) => v.iter().map(|p| len(p) as u64).sum(),
            TemplateParams::Named(m) => m.values().map(|p| len(p) as u64).sum(),
        }
    }

    #[inline]
    fn hash_into(&self, h: &mut crate::hash::ContentHasher) {
        match self {
            TemplateParams::Positional(v) => {
                for p in v {
                    h.part(p.as_bytes());
                }
            }
            TemplateParams::Named(m) => {
                for (k, v) in m {
                    h.part(k.as_bytes());
                    h.part(v.as_bytes());
                }
            }
        }
    }
}

/// A template send: which template, with which parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateMessage {
    /// Template name.
    pub name: String,
    /// Template language code.
    pub language: String,
    /// Parameters for the body's variables.
    #[serde(default, skip_serializing_if = "TemplateParams::is_empty")]
    pub params: TemplateParams,
    /// Parameters for the text header's variables (Meta allows one).
    #[serde(default, skip_serializing_if = "TemplateParams::is_empty")]
    pub header_params: TemplateParams,
}

impl TemplateMessage {
    /// A send of the template `name` in `language` with positional body parameters
    /// (`{{1}}`, `{{2}}`, ... in order; [`TemplateMessage::without_params`] for a template
    /// without variables) and no header parameters. Named ones go in [`TemplateMessage::params`] with
    /// [`TemplateParams::insert_named`].
    pub fn new(
        name: impl Into<String>,
        language: impl Into<String>,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> TemplateMessage {
        TemplateMessage {
            name: name.into(),
            language: language.into(),
            params: TemplateParams::Positional(params.into_iter().map(Into::into).collect()),
            header_params: TemplateParams::default(),
        }
    }

    /// A send of the template `name` in `language`, which has no variables.
    pub fn without_params(name: impl Into<String>, language: impl Into<String>) -> TemplateMessage {
        TemplateMessage::new(name, language, std::iter::empty::<String>())
    }
}

impl From<TemplateMessage> for OutboundMessage {
    fn from(template: TemplateMessage) -> OutboundMessage {
        OutboundMessage::Template(template)
    }
}

/// A free-form interactive list (facts §6): the body, and a button that opens up to 10 rows
/// in up to 10 sections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMessage {
    /// Header text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Body text.
    pub body: String,
    /// Footer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The button's text, which opens the list.
    pub button: String,
    /// The sections; a title each when there are several.
    pub sections: Vec<ListSection>,
}

/// A section of a [`ListMessage`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSection {
    /// Its title (required when the list has more than one section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Its rows.
    pub rows: Vec<ListRow>,
}

/// A row of a [`ListSection`]: what the contact picks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRow {
    /// Its id, unique in the list (the reply carries it).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A free-form interactive call-to-action URL message (facts §6): the body and a button
/// that opens `url`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtaUrlMessage {
    /// Header text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Body text.
    pub body: String,
    /// Footer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// The button's text.
    pub display_text: String,
    /// The address the button opens.
    pub url: String,
}

impl TemplateMessage {
    /// Feeds the template send to a content hash, as [`OutboundMessage::content_hash`] of
    /// it does.
    #[inline]
    pub(crate) fn hash_into(&self, h: &mut ContentHasher) {
        h.part(b"template");
        h.part(self.name.as_bytes());
        h.part(self.language.as_bytes());
        self.params.hash_into(h);
        // Only when given, so that every other send keeps the hash it had (stored in
        // snapshots). The body's parameters are as many as its variables in any send
        // recorded, so the marker cannot be read as one of them.
        if !self.header_params.is_empty() {
            h.part(b"header");
            self.header_params.hash_into(h);
        }
    }
}

/// One outbound message.
///
/// Serialised with `"kind"` first; read by a hand-written `Deserialize` (in
/// `wire/decode.rs`) that decodes a `"kind"`-first object in one pass and accepts the same
/// objects, unknown keys rejected, as the derive for this tagging would.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboundMessage {
    /// Free-form text.
    Text {
        /// The text.
        text: String,
    },
    /// An image.
    Image(Media),
    /// A video.
    Video(Media),
    /// An audio file.
    Audio(Media),
    /// A document.
    Document(Media),
    /// A sticker.
    Sticker(Media),
    /// Free-form interactive message with reply buttons.
    Interactive {
        /// Body text.
        body: String,
        /// Reply button titles.
        buttons: Vec<String>,
    },
    /// Free-form interactive list: a button that opens rows in sections (Meta's `list`).
    List(Box<ListMessage>),
    /// Free-form interactive call-to-action URL button (Meta's `cta_url`).
    CtaUrl(Box<CtaUrlMessage>),
    /// A location pin.
    Location {
        /// Latitude.
        latitude: f64,
        /// Longitude.
        longitude: f64,
    },
    /// An approved template.
    Template(TemplateMessage),
}

/// A coordinate's bytes for the content hash: -0.0 and 0.0 are the same place on the globe
/// (and print the same on a map), so they are the same content for §10's duplicate rule.
/// Adding +0.0 turns -0.0 into 0.0 and leaves every other value as it is.
fn coordinate_bits(degrees: f64) -> [u8; 8] {
    (degrees + 0.0).to_bits().to_le_bytes()
}

impl OutboundMessage {
    /// A free-form text message.
    pub fn text(text: impl Into<String>) -> OutboundMessage {
        OutboundMessage::Text { text: text.into() }
    }

    /// Whether this is a template (the only kind allowed outside the window).
    pub fn is_template(&self) -> bool {
        matches!(self, OutboundMessage::Template(_))
    }

    /// The template part, if any.
    pub fn template(&self) -> Option<&TemplateMessage> {
        match self {
            OutboundMessage::Template(t) => Some(t),
            _ => None,
        }
    }

    fn media(&self) -> Option<(MediaKind, &Media)> {
        match self {
            OutboundMessage::Image(m) => Some((MediaKind::Image, m)),
            OutboundMessage::Video(m) => Some((MediaKind::Video, m)),
            OutboundMessage::Audio(m) => Some((MediaKind::Audio, m)),
            OutboundMessage::Document(m) => Some((MediaKind::Document, m)),
            OutboundMessage::Sticker(m) => Some((MediaKind::Sticker, m)),
            _ => None,
        }
    }

    /// A stable hash of the content, for duplicate detection (§10). The parts are fed to the
    /// hasher as they are read (a template send built a `Vec` of them, two allocations).
    pub fn content_hash(&self) -> u64 {
        let mut h = ContentHasher::default();
        match self {
            OutboundMessage::Text { text } => {
                h.part(b"text");
                h.part(text.as_bytes());
            }
            OutboundMessage::Interactive { body, buttons } => {
                h.part(b"interactive");
                h.part(body.as_bytes());
                for b in buttons {
                    h.part(b.as_bytes());
                }
            }
            OutboundMessage::List(list) => {
                h.part(b"list");
                optional_part(&mut h, list.header.as_deref());
                h.part(list.body.as_bytes());
                optional_part(&mut h, list.footer.as_deref());
                h.part(list.button.as_bytes());
                for section in &list.sections {
                    h.part(b"section");
                    optional_part(&mut h, section.title.as_deref());
                    for row in &section.rows {
                        h.part(row.id.as_bytes());
                        h.part(row.title.as_bytes());
                        optional_part(&mut h, row.description.as_deref());
                    }
                }
            }
            OutboundMessage::CtaUrl(cta) => {
                h.part(b"cta_url");
                optional_part(&mut h, cta.header.as_deref());
                h.part(cta.body.as_bytes());
                optional_part(&mut h, cta.footer.as_deref());
                h.part(cta.display_text.as_bytes());
                h.part(cta.url.as_bytes());
            }
            OutboundMessage::Location {
                latitude,
                longitude,
            } => {
                h.part(b"location");
                h.part(&coordinate_bits(*latitude));
                h.part(&coordinate_bits(*longitude));
            }
            OutboundMessage::Template(t) => t.hash_into(&mut h),
            other => {
                let (kind, media) = other.media().expect("remaining variants are media");
                h.part(kind.name().as_bytes());
                h.part(&media.size.to_le_bytes());
                h.part(media.caption.as_deref().unwrap_or("").as_bytes());
                h.part(media.media_ref.as_deref().unwrap_or("").as_bytes());
                // An animated sticker has its own size limit, so it is another request under
                // an idempotency key (§10). Only on a sticker (the flag means nothing on other
                // media) and only when set, so that every other send keeps the hash it had
                // (stored in snapshots); the fifth part cannot be read as one of the four
                // before it.
                if media.animated && kind == MediaKind::Sticker {
                    h.part(b"animated");
                }
            }
        }
        h.finish()
    }

    /// Checks the free-form content limits of §8 (templates are checked against their
    /// registration instead) on a channel they bind (`content.limited_channels`), and
    /// refuses content that cannot be sent whatever its length: an empty text, an
    /// interactive message without buttons, a location off the globe, a caption Meta would
    /// drop. `channel` and `provider` are the sending number's.
    pub fn check_content(
        &self,
        policy: &Policy,
        channel: Channel,
        provider: &str,
    ) -> Result<(), DenyReason> {
        let limits = policy.content_on(channel);
        match self {
            OutboundMessage::Text { text } => check_filled("text", text, limits.text_max_chars),
            OutboundMessage::Interactive { body, buttons } => {
                check_filled("interactive body", body, limits.interactive_body_max_chars)?;
                let count = buttons.len() as u64;
                if count == 0 {
                    return Err(ContentProblem::empty("buttons"));
                }
                if count > u64::from(limits.interactive_buttons_max) {
                    return Err(DenyReason::TooManyButtons {
                        limit: limits.interactive_buttons_max,
                        actual: count,
                    });
                }
                buttons.iter().try_for_each(|b| {
                    check_filled("button title", b, limits.interactive_button_title_max_chars)
                })?;
                // Meta takes each title once in a message (its reply-button reference: the
                // title "must be unique within the message"), and here the title is all
                // that tells the buttons apart. At most `interactive_buttons_max` of them.
                let repeated = (buttons.iter().enumerate())
                    .find(|&(i, b)| buttons[..i].contains(b))
                    .map(|(_, b)| b);
                match repeated {
                    Some(title) => Err(DenyReason::InvalidContent {
                        problem: ContentProblem::Repeated {
                            item: "button title".into(),
                            value: crate::error::quoted(title),
                        },
                    }),
                    None => Ok(()),
                }
            }
            // The body's parameters together (facts §6: Meta takes at most 32,768
            // characters); the header as filled in is checked against its template, and so is
            // the body of a template with more than a body. A parameter of nothing is refused
            // (Meta requires text in each).
            OutboundMessage::Template(t) => {
                if t.params.any(str::is_empty) || t.header_params.any(str::is_empty) {
                    return Err(ContentProblem::empty("template parameter"));
                }
                let limit = limits.template_params_max_chars;
                // Characters counted only when the bytes could exceed the limit, as
                // `check_chars` does: a char is at least one byte.
                if t.params.total(str::len) <= u64::from(limit) {
                    return Ok(());
                }
                let actual = t.params.total(|p| p.chars().count());
                check_length("template parameters", actual, limit)
            }
            OutboundMessage::List(list) => check_list(list, &limits.list),
            OutboundMessage::CtaUrl(cta) => {
                let limits = &limits.cta_url;
                let frame = (
                    limits.header_max_chars,
                    limits.body_max_chars,
                    limits.footer_max_chars,
                );
                check_frame(&cta.header, &cta.body, &cta.footer, frame)?;
                check_filled(
                    "display text",
                    &cta.display_text,
                    limits.display_text_max_chars,
                )?;
                check_filled("url", &cta.url, limits.url_max_chars)
            }
            OutboundMessage::Location {
                latitude,
                longitude,
            } => {
                check_range("latitude", *latitude, -90.0, 90.0)?;
                check_range("longitude", *longitude, -180.0, 180.0)
            }
            other => {
                let (kind, media) = other.media().expect("remaining variants are media");
                // An empty caption is none (hosts that always send the field send "").
                if let Some(caption) = media.caption.as_deref().filter(|c| !c.is_empty()) {
                    let captionless = &policy.content.captionless_media;
                    if channel == Channel::Official && captionless.contains(&kind) {
                        return Err(DenyReason::InvalidContent {
                            problem: ContentProblem::CaptionNotSupported { media: kind },
                        });
                    }
                    check_chars("caption", caption, limits.caption_max_chars)?;
                }
                // The smallest applicable limit wins. An animated sticker's own limit stands
                // in for the sticker's media limit (it is the larger one), not for the
                // provider's or the overall limit.
                let media_limit = match limits.animated_sticker_max_bytes {
                    Some(l) if kind == MediaKind::Sticker && media.animated => Some(l),
                    _ => limits.outbound_file_max_bytes_by_media.get(&kind).copied(),
                };
                let limit = [
                    limits
                        .outbound_file_max_bytes_by_provider
                        .get(provider)
                        .copied(),
                    media_limit,
                ]
                .into_iter()
                .flatten()
                .fold(limits.outbound_file_max_bytes, u64::min);
                if media.size > limit {
                    return Err(DenyReason::FileTooLarge {
                        media: kind,
                        limit_bytes: limit,
                        actual_bytes: media.size,
                    });
                }
                Ok(())
            }
        }
    }
}

/// A text that must say something: `invalid_content` (`empty`) when it is empty, `too_long`
/// over `limit` characters. (A space is text: hosts fill an optional part with one.)
fn check_filled(item: &'static str, text: &str, limit: u32) -> Result<(), DenyReason> {
    if text.is_empty() {
        return Err(ContentProblem::empty(item));
    }
    check_chars(item, text, limit)
}

/// An optional part of the content, told apart from an empty one and from the next part.
fn optional_part(h: &mut ContentHasher, part: Option<&str>) {
    match part {
        Some(text) => {
            h.part(b"+");
            h.part(text.as_bytes());
        }
        None => h.part(b"-"),
    }
}

/// An interactive message's header, body and footer within their limits (in that order):
/// the body said, the others when given.
fn check_frame(
    header: &Option<String>,
    body: &str,
    footer: &Option<String>,
    (header_max, body_max, footer_max): (u32, u32, u32),
) -> Result<(), DenyReason> {
    if let Some(header) = header {
        check_filled("header", header, header_max)?;
    }
    check_filled("body", body, body_max)?;
    match footer {
        Some(footer) => check_filled("footer", footer, footer_max),
        None => Ok(()),
    }
}

/// A list (facts §6): at least one section and at most `sections_max`, rows in each and at
/// most `rows_max` in all, a title for each section when there are several (Meta requires
/// one then), row ids unique (the reply names the row by its id).
fn check_list(list: &ListMessage, limits: &crate::policy::ListLimits) -> Result<(), DenyReason> {
    let frame = (
        limits.header_max_chars,
        limits.body_max_chars,
        limits.footer_max_chars,
    );
    check_frame(&list.header, &list.body, &list.footer, frame)?;
    check_filled("button", &list.button, limits.button_max_chars)?;
    check_count("sections", list.sections.len(), limits.sections_max)?;
    let rows: usize = list.sections.iter().map(|s| s.rows.len()).sum();
    check_count("rows", rows, limits.rows_max)?;
    let several = list.sections.len() > 1;
    for section in &list.sections {
        match &section.title {
            Some(title) => check_filled("section title", title, limits.section_title_max_chars)?,
            None if several => return Err(ContentProblem::empty("section title")),
            None => {}
        }
        if section.rows.is_empty() {
            return Err(ContentProblem::empty("rows"));
        }
        for row in &section.rows {
            check_filled("row id", &row.id, limits.row_id_max_chars)?;
            check_filled("row title", &row.title, limits.row_title_max_chars)?;
            if let Some(description) = &row.description {
                let limit = limits.row_description_max_chars;
                check_filled("row description", description, limit)?;
            }
        }
    }
    // Each id against those before it: at most `rows_max` rows, and no allocation.
    let ids = || (list.sections.iter()).flat_map(|s| s.rows.iter().map(|r| r.id.as_str()));
    let repeated = (ids().enumerate()).find(|&(i, id)| ids().take(i).any(|before| before == id));
    if let Some((_, id)) = repeated {
        return Err(DenyReason::InvalidContent {
            problem: ContentProblem::Repeated {
                item: "row id".into(),
                value: crate::error::quoted(id),
            },
        });
    }
    Ok(())
}

/// At least one `item` and at most `limit`.
fn check_count(item: &'static str, count: usize, limit: u32) -> Result<(), DenyReason> {
    if count == 0 {
        return Err(ContentProblem::empty(item));
    }
    if count as u64 > u64::from(limit) {
        return Err(DenyReason::InvalidContent {
            problem: ContentProblem::TooMany {
                item: item.into(),
                limit,
                actual: count as u64,
            },
        });
    }
    Ok(())
}

fn check_chars(item: &'static str, text: &str, limit: u32) -> Result<(), DenyReason> {
    // Count characters only when the byte length could exceed the limit: a char is at least
    // one byte, so a text of at most `limit` bytes is within it (and most texts are short).
    if text.len() <= limit as usize {
        return Ok(());
    }
    check_length(item, text.chars().count() as u64, limit)
}

/// `too_long` for a text of `actual` characters over `limit` (§8).
pub(crate) fn check_length(item: &'static str, actual: u64, limit: u32) -> Result<(), DenyReason> {
    if actual > u64::from(limit) {
        return Err(DenyReason::TooLong {
            item: item.into(),
            limit_chars: limit,
            actual_chars: actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::content_hash;

    #[test]
    fn params_built_one_at_a_time_take_one_form_and_each_name_once() {
        let mut params = TemplateParams::default();
        params.insert_named("order".into(), "A-17".into()).unwrap();
        assert_eq!(
            params.insert_named("order".into(), "B-99".into()),
            Err(ParamsConflict::RepeatedName("order".into()))
        );
        assert_eq!(
            params.for_variable("order"),
            Some("A-17"),
            "the first value stays"
        );
        assert_eq!(
            params.push_positional("x".into()),
            Err(ParamsConflict::MixedForms)
        );
        let mut positional = TemplateParams::Named(Default::default());
        positional.push_positional("A".into()).unwrap();
        positional.push_positional("B".into()).unwrap();
        assert_eq!(positional.for_variable("2"), Some("B"));
        assert_eq!(
            positional.insert_named("n".into(), "v".into()),
            Err(ParamsConflict::MixedForms)
        );
    }

    #[test]
    fn content_hash_is_the_hash_of_the_message_parts() {
        // The hash is stored in snapshots: it must stay the hash of these parts.
        let text = OutboundMessage::Text { text: "hi".into() };
        assert_eq!(text.content_hash(), content_hash(&[b"text", b"hi"]));
        let template = OutboundMessage::Template(TemplateMessage {
            name: "order_ready".into(),
            language: "en".into(),
            params: TemplateParams::Positional(vec!["A-1".into(), "B".into()]),
            header_params: TemplateParams::default(),
        });
        assert_eq!(
            template.content_hash(),
            content_hash(&[b"template", b"order_ready", b"en", b"A-1", b"B"])
        );
        let buttons = OutboundMessage::Interactive {
            body: "pick".into(),
            buttons: vec!["yes".into(), "no".into()],
        };
        assert_eq!(
            buttons.content_hash(),
            content_hash(&[b"interactive", b"pick", b"yes", b"no"])
        );
        assert_ne!(text.content_hash(), template.content_hash());
        let media = |kind: fn(Media) -> OutboundMessage, animated| {
            kind(Media {
                size: 200,
                caption: None,
                animated,
                media_ref: Some("s".into()),
            })
        };
        let sticker = |animated| media(OutboundMessage::Sticker, animated);
        let image = |animated| media(OutboundMessage::Image, animated);
        let size = 200u64.to_le_bytes();
        assert_eq!(
            sticker(false).content_hash(),
            content_hash(&[b"sticker", &size, b"", b"s"])
        );
        // Animated or not is another request under an idempotency key (its own size limit).
        assert_eq!(
            sticker(true).content_hash(),
            content_hash(&[b"sticker", &size, b"", b"s", b"animated"])
        );
        // On other media the flag means nothing: the same content.
        assert_eq!(image(true).content_hash(), image(false).content_hash());
    }

    #[test]
    fn a_coordinate_that_is_not_a_number_is_off_the_globe() {
        // Only a typed call can pass one (JSON has no NaN): refused, its value null on the
        // wire rather than a number the wire could not write back.
        let policy = Policy::preset("cloud-2025").unwrap();
        for latitude in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let pin = OutboundMessage::Location {
                latitude,
                longitude: 0.0,
            };
            let reason = pin
                .check_content(&policy, Channel::Official, "meta")
                .unwrap_err();
            let DenyReason::InvalidContent { problem } = &reason else {
                panic!("{reason:?}");
            };
            assert_eq!(
                problem.to_string(),
                "latitude is not a number within -90..=90"
            );
            let wire = serde_json::to_value(&reason).unwrap();
            assert_eq!(wire["actual"], serde_json::Value::Null, "{wire}");
            let back: DenyReason = serde_json::from_value(wire).unwrap();
            assert_eq!(back, reason);
        }
    }

    #[test]
    fn content_problems_say_what_is_wrong() {
        let said = |problem: ContentProblem| problem.to_string();
        assert_eq!(
            said(ContentProblem::Empty {
                item: "buttons".into()
            }),
            "an interactive message needs at least one button"
        );
        assert_eq!(
            said(ContentProblem::Empty {
                item: "button title".into()
            }),
            "the button title is empty"
        );
        assert_eq!(
            said(ContentProblem::OutOfRange {
                item: "longitude".into(),
                min: -180.0,
                max: 180.0,
                actual: Some(-180.5)
            }),
            "longitude -180.5 is outside -180..=180"
        );
        assert_eq!(
            said(ContentProblem::CaptionNotSupported {
                media: MediaKind::Sticker
            }),
            "sticker messages carry no caption"
        );
    }

    #[test]
    fn the_interactive_body_has_its_own_limit() {
        // It was the caption's: shortening captions shortened interactive bodies.
        let ask = |body_chars: usize, overrides: serde_json::Value| {
            let policy = Policy::with_overrides("cloud-2025", &overrides).unwrap();
            OutboundMessage::Interactive {
                body: "b".repeat(body_chars),
                buttons: vec!["Yes".into()],
            }
            .check_content(&policy, Channel::Official, "meta")
        };
        let captions = serde_json::json!({"content": {"caption_max_chars": 100}});
        assert_eq!(ask(500, captions), Ok(()));
        let bodies = serde_json::json!({"content": {"interactive_body_max_chars": 100}});
        assert_eq!(
            ask(101, bodies),
            Err(DenyReason::TooLong {
                item: "interactive body".into(),
                limit_chars: 100,
                actual_chars: 101
            })
        );
    }

    #[test]
    fn captionless_media_are_policy_data() {
        let voice = OutboundMessage::Audio(Media {
            size: 1000,
            caption: Some("listen".into()),
            animated: false,
            media_ref: None,
        });
        let cloud = Policy::preset("cloud-2025").unwrap();
        assert!(matches!(
            voice.check_content(&cloud, Channel::Official, "meta"),
            Err(DenyReason::InvalidContent {
                problem: ContentProblem::CaptionNotSupported {
                    media: MediaKind::Audio
                }
            })
        ));
        // Off the official channel, and under a policy that lists no kind, it is sent.
        assert_eq!(
            voice.check_content(&cloud, Channel::Messenger, "meta"),
            Ok(())
        );
        let overridden = Policy::with_overrides(
            "cloud-2025",
            &serde_json::json!({"content": {"captionless_media": []}}),
        )
        .unwrap();
        assert_eq!(
            voice.check_content(&overridden, Channel::Official, "meta"),
            Ok(())
        );
    }
}
