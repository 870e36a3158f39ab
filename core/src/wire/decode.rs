//! Reading an [`Event`] (tag `"type"`) and an [`OutboundMessage`] (tag `"kind"`) in one
//! pass.
//!
//! Serde's derive for an internally tagged enum buffers the whole object (every key and
//! value allocated into its private `Content` tree) before it looks at the tag, and that
//! buffering was most of the JSON door's cost. Wire lines, our docs and every binding's
//! encoder put the tag first, so this decoder reads the first key: when it is the tag, it
//! hands the rest of the map straight to the variant's struct, whose `deny_unknown_fields`
//! still rejects stray keys. A wire line with its type elsewhere is read in two passes
//! ([`read_type_later`]), so key order stays free and changes nothing; a nested message
//! with its kind elsewhere, and an event read through its `Deserialize` (not a line), are
//! buffered into a `serde_json::Value` until the tag is known.
//!
//! The same pass can skip the wire's annotation keys ([`super::ANNOTATION_KEYS`]) at the
//! top level, so that annotated lines need no second parse either.

use std::fmt;
use std::ops::Deref;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::distinct_keys::DistinctKeys;
use crate::event::Event;
use crate::message::{Media, OutboundMessage, TemplateMessage};

/// The wire name of every event type, in the order of [`Event`]'s variants: the list an
/// unknown type's error message offers.
pub const EVENT_TYPES: &[&str] = &[
    "register_number",
    "register_template",
    "inbound",
    "send",
    "check_send",
    "initiate",
    "end_chat",
    "set_ticket_status",
    "opt_in",
    "opt_out",
    "user_preference",
    "send_failed",
    "message_status",
    "template_status",
    "template_quality",
    "template_category",
    "template_components",
    "edit_template",
    "number_quality",
    "number_restriction",
    "restriction_lifted",
    "messaging_limit",
    "tick",
    "change_policy",
    "query_conversation",
    "query_number",
    "query_limit",
    "query_template",
    "query_usage",
];

/// The wire name of every message kind, in the order of [`OutboundMessage`]'s variants: the
/// list an unknown kind's error message offers.
const MESSAGE_KINDS: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "interactive",
    "list",
    "cta_url",
    "location",
    "template",
];

/// The value of an event's `"type"` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventType {
    RegisterNumber,
    RegisterTemplate,
    Inbound,
    Send,
    CheckSend,
    Initiate,
    EndChat,
    SetTicketStatus,
    OptIn,
    OptOut,
    UserPreference,
    SendFailed,
    MessageStatus,
    TemplateStatus,
    TemplateQuality,
    TemplateCategory,
    TemplateComponents,
    EditTemplate,
    NumberQuality,
    NumberRestriction,
    RestrictionLifted,
    MessagingLimit,
    Tick,
    ChangePolicy,
    QueryConversation,
    QueryNumber,
    QueryLimit,
    QueryTemplate,
    QueryUsage,
}

impl EventType {
    /// The type named `name` on the wire (the inverse of [`Event::type_name`]).
    fn from_name(name: &str) -> Option<EventType> {
        Some(match name {
            "register_number" => EventType::RegisterNumber,
            "register_template" => EventType::RegisterTemplate,
            "inbound" => EventType::Inbound,
            "send" => EventType::Send,
            "check_send" => EventType::CheckSend,
            "initiate" => EventType::Initiate,
            "end_chat" => EventType::EndChat,
            "set_ticket_status" => EventType::SetTicketStatus,
            "opt_in" => EventType::OptIn,
            "opt_out" => EventType::OptOut,
            "user_preference" => EventType::UserPreference,
            "send_failed" => EventType::SendFailed,
            "message_status" => EventType::MessageStatus,
            "template_status" => EventType::TemplateStatus,
            "template_quality" => EventType::TemplateQuality,
            "template_category" => EventType::TemplateCategory,
            "template_components" => EventType::TemplateComponents,
            "edit_template" => EventType::EditTemplate,
            "number_quality" => EventType::NumberQuality,
            "number_restriction" => EventType::NumberRestriction,
            "restriction_lifted" => EventType::RestrictionLifted,
            "messaging_limit" => EventType::MessagingLimit,
            "tick" => EventType::Tick,
            "change_policy" => EventType::ChangePolicy,
            "query_conversation" => EventType::QueryConversation,
            "query_number" => EventType::QueryNumber,
            "query_limit" => EventType::QueryLimit,
            "query_template" => EventType::QueryTemplate,
            "query_usage" => EventType::QueryUsage,
            _ => return None,
        })
    }

    /// Reads the event's fields (everything but `"type"`) from `fields`, a map.
    fn read<'de, D: Deserializer<'de>>(self, fields: D) -> Result<Event, D::Error> {
        Ok(match self {
            EventType::RegisterNumber => Event::RegisterNumber(Deserialize::deserialize(fields)?),
            EventType::RegisterTemplate => {
                Event::RegisterTemplate(Deserialize::deserialize(fields)?)
            }
            EventType::Inbound => Event::Inbound(Deserialize::deserialize(fields)?),
            EventType::Send => Event::Send(Deserialize::deserialize(fields)?),
            EventType::CheckSend => Event::CheckSend(Deserialize::deserialize(fields)?),
            EventType::Initiate => Event::Initiate(Deserialize::deserialize(fields)?),
            EventType::EndChat => Event::EndChat(Deserialize::deserialize(fields)?),
            EventType::SetTicketStatus => Event::SetTicketStatus(Deserialize::deserialize(fields)?),
            EventType::OptIn => Event::OptIn(Deserialize::deserialize(fields)?),
            EventType::OptOut => Event::OptOut(Deserialize::deserialize(fields)?),
            EventType::UserPreference => Event::UserPreference(Deserialize::deserialize(fields)?),
            EventType::SendFailed => Event::SendFailed(Deserialize::deserialize(fields)?),
            EventType::MessageStatus => Event::MessageStatus(Deserialize::deserialize(fields)?),
            EventType::TemplateStatus => Event::TemplateStatus(Deserialize::deserialize(fields)?),
            EventType::TemplateQuality => Event::TemplateQuality(Deserialize::deserialize(fields)?),
            EventType::TemplateCategory => {
                Event::TemplateCategory(Deserialize::deserialize(fields)?)
            }
            EventType::TemplateComponents => {
                Event::TemplateComponents(Deserialize::deserialize(fields)?)
            }
            EventType::EditTemplate => Event::EditTemplate(Deserialize::deserialize(fields)?),
            EventType::NumberQuality => Event::NumberQuality(Deserialize::deserialize(fields)?),
            EventType::NumberRestriction => {
                Event::NumberRestriction(Deserialize::deserialize(fields)?)
            }
            EventType::RestrictionLifted => {
                Event::RestrictionLifted(Deserialize::deserialize(fields)?)
            }
            EventType::MessagingLimit => Event::MessagingLimit(Deserialize::deserialize(fields)?),
            EventType::Tick => Event::Tick(Deserialize::deserialize(fields)?),
            EventType::ChangePolicy => Event::ChangePolicy(Deserialize::deserialize(fields)?),
            EventType::QueryConversation => {
                Event::QueryConversation(Deserialize::deserialize(fields)?)
            }
            EventType::QueryNumber => Event::QueryNumber(Deserialize::deserialize(fields)?),
            EventType::QueryLimit => Event::QueryLimit(Deserialize::deserialize(fields)?),
            EventType::QueryTemplate => Event::QueryTemplate(Deserialize::deserialize(fields)?),
            EventType::QueryUsage => Event::QueryUsage(Deserialize::deserialize(fields)?),
        })
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventType, D::Error> {
        struct TypeVisitor;
        impl Visitor<'_> for TypeVisitor {
            type Value = EventType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an event type name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<EventType, E> {
                EventType::from_name(name).ok_or_else(|| E::unknown_variant(name, EVENT_TYPES))
            }
        }
        deserializer.deserialize_str(TypeVisitor)
    }
}

/// A map key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

impl<'de> Key<'de> {
    /// Feeds the key to `seed` (a struct's field identifier), as the map would have.
    fn give<S: DeserializeSeed<'de>, E: de::Error>(self, seed: S) -> Result<S::Value, E> {
        match self {
            Key::Borrowed(key) => seed.deserialize(BorrowedStrDeserializer::new(key)),
            Key::Owned(key) => seed.deserialize(StrDeserializer::new(&key)),
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(key))
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(key.to_owned()))
            }
            fn visit_string<E: de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(key))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Every key that names a variant (an event's, a message's).
pub(super) const TAGS: [&str; 2] = [EventSeed::TAG, MessageReader::TAG];

/// How to read one kind of tagged object: the key that names its variant, the keys to pass
/// over, and how a variant reads the other fields.
trait TaggedReader: Copy {
    /// The key naming the variant (`"type"`, `"kind"`).
    const TAG: &'static str;
    /// The tag's decoded value; its `Deserialize` rejects unknown names, listing the known.
    type Tag: for<'de> Deserialize<'de>;
    /// What the object decodes to.
    type Value;
    /// Whether `key` is to be ignored (with its value) wherever it appears.
    fn skips(self, key: &str) -> bool;
    /// Reads the fields of the variant `tag` (every key but the tag) from `fields`, a map.
    fn read<'de, D: Deserializer<'de>>(
        self,
        tag: Self::Tag,
        fields: D,
    ) -> Result<Self::Value, D::Error>;
}

/// Reads a tagged object from `map`: in one pass when the tag is its first key (skipped
/// keys aside), else by keeping the fields in a `serde_json::Value` until the tag is known.
fn read_tagged<'de, R: TaggedReader, A: MapAccess<'de>>(
    reader: R,
    mut map: A,
) -> Result<R::Value, A::Error> {
    let mut key = loop {
        match map.next_key_seed(KeySeed)? {
            None => return Err(de::Error::missing_field(R::TAG)),
            Some(key) if reader.skips(&key) => {
                map.next_value::<IgnoredAny>()?;
            }
            Some(key) => break key,
        }
    };
    if &*key == R::TAG {
        let tag: R::Tag = map.next_value()?;
        let fields = Fields {
            map,
            reader,
            tag_to_pass: false,
        };
        return reader.read(tag, MapAccessDeserializer::new(fields));
    }
    // The tag comes later: keep the fields until it is known.
    let mut tag = None;
    let mut fields = serde_json::Map::new();
    loop {
        if &*key == R::TAG {
            if tag.is_some() {
                return Err(de::Error::duplicate_field(R::TAG));
            }
            tag = Some(map.next_value::<R::Tag>()?);
        } else if reader.skips(&key) {
            map.next_value::<IgnoredAny>()?;
        } else {
            // A map would keep the last of two equal keys; the struct rejects them, as it
            // does on the one-pass path.
            if fields.contains_key(&*key) {
                let key = &*key;
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            // A message kept until its late `kind` is known: a `Value` would keep the last
            // copy of a key repeated inside it, where the message read `kind` first is
            // refused `duplicate field`.
            fields.insert(String::from(&*key), map.next_value_seed(MESSAGE_KEYS)?);
        }
        match map.next_key_seed(KeySeed)? {
            Some(next) => key = next,
            None => break,
        }
    }
    let tag = tag.ok_or_else(|| de::Error::missing_field(R::TAG))?;
    reader
        .read(tag, serde_json::Value::Object(fields))
        .map_err(de::Error::custom)
}

/// A value held in a tagged object until its tag is read, its objects' keys distinct (the
/// error worded as serde words a struct's, which the field search turns into a path).
const MESSAGE_KEYS: DistinctKeys<'static> = DistinctKeys {
    path: "",
    twice: |_, key| format!("duplicate field `{key}`"),
};

/// The fields of a tagged object after its tag: the map as is, minus the keys the reader
/// skips, with a second tag rejected as a duplicate rather than as an unknown field.
struct Fields<A, R> {
    map: A,
    reader: R,
    /// The tag was read by a first pass and is still ahead: pass over it once.
    tag_to_pass: bool,
}

impl<'de, A: MapAccess<'de>, R: TaggedReader> MapAccess<'de> for Fields<A, R> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.map.next_key_seed(KeySeed)? else {
                return Ok(None);
            };
            if &*key == R::TAG {
                if !std::mem::take(&mut self.tag_to_pass) {
                    return Err(de::Error::duplicate_field(R::TAG));
                }
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            if self.reader.skips(&key) {
                self.map.next_value::<IgnoredAny>()?;
                continue;
            }
            return key.give(seed).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// Reads a wire line whose first key is not `"type"` in two passes rather than by buffering
/// its fields: the first finds the type, skipping every other value unread; the second hands
/// the fields straight to the variant's struct, passing over the type where it stands, as
/// when the type comes first. A buffered `serde_json::Value` keeps the last of two equal keys
/// inside a nested object (a message), where the struct refuses them: key order then changed
/// whether a line was refused. Top-level annotation keys are ignored.
///
/// `None` when the line does not start with an object whose first key is another than
/// `"type"`: the one-pass reader takes those (and words the errors of what is no object).
pub(crate) fn read_type_later(line: &str) -> Option<Result<Event, serde_json::Error>> {
    const SPACE: &[char] = &[' ', '\t', '\n', '\r'];
    let first_key = line.trim_start_matches(SPACE).strip_prefix('{')?;
    let first_key = first_key.trim_start_matches(SPACE);
    if !first_key.starts_with('"') || first_key.starts_with(r#""type""#) {
        return None;
    }
    Some(read_whole(line, TypeFinder).and_then(|tag| {
        let reader = EventSeed {
            skip_annotations: true,
            known_type: Some(tag),
        };
        read_whole(line, reader)
    }))
}

/// `seed`'s value read from the whole of `line` (then whitespace only).
fn read_whole<'de, S: DeserializeSeed<'de>>(
    line: &'de str,
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let value = seed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// What both passes over a line expect, as serde words it in an error.
const AN_EVENT: &str = "an event: an object with a \"type\" key";

/// Finds an event's type, skipping every other value; no type, or two, is an error.
struct TypeFinder;

impl<'de> DeserializeSeed<'de> for TypeFinder {
    type Value = EventType;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<EventType, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TypeFinder {
    type Value = EventType;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(AN_EVENT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventType, A::Error> {
        let mut tag = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if &*key != EventSeed::TAG {
                map.next_value::<IgnoredAny>()?;
            } else if tag.is_some() {
                return Err(de::Error::duplicate_field(EventSeed::TAG));
            } else {
                tag = Some(map.next_value()?);
            }
        }
        tag.ok_or_else(|| de::Error::missing_field(EventSeed::TAG))
    }
}

/// Reads an [`Event`]; with `skip_annotations`, top-level annotation keys are ignored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventSeed {
    skip_annotations: bool,
    /// The type, when a first pass found it ([`read_type_later`]).
    known_type: Option<EventType>,
}

impl EventSeed {
    /// A reader that finds the type in the line.
    pub(crate) fn new(skip_annotations: bool) -> EventSeed {
        EventSeed {
            skip_annotations,
            known_type: None,
        }
    }
}

impl TaggedReader for EventSeed {
    const TAG: &'static str = "type";
    type Tag = EventType;
    type Value = Event;

    fn skips(self, key: &str) -> bool {
        self.skip_annotations && super::ANNOTATION_KEYS.contains(&key)
    }

    fn read<'de, D: Deserializer<'de>>(self, tag: EventType, fields: D) -> Result<Event, D::Error> {
        tag.read(fields)
    }
}

impl<'de> DeserializeSeed<'de> for EventSeed {
    type Value = Event;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Event, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EventSeed {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(AN_EVENT)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Event, A::Error> {
        match self.known_type {
            // The fields are read as when the type comes first, passing over it where it
            // stands.
            Some(tag) => {
                let fields = Fields {
                    map,
                    reader: self,
                    tag_to_pass: true,
                };
                tag.read(MapAccessDeserializer::new(fields))
            }
            None => read_tagged(self, map),
        }
    }
}

impl<'de> Deserialize<'de> for Event {
    /// Reads an event object. `"type"` may come anywhere, but first is fastest; unknown keys
    /// (annotations included: [`crate::wire::decode_event`] is the reader that skips those)
    /// are rejected.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        EventSeed::new(false).deserialize(deserializer)
    }
}

/// The value of a message's `"kind"` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Interactive,
    List,
    CtaUrl,
    Location,
    Template,
}

impl<'de> Deserialize<'de> for MessageKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MessageKind, D::Error> {
        struct KindVisitor;
        impl Visitor<'_> for KindVisitor {
            type Value = MessageKind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message kind name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<MessageKind, E> {
                Ok(match name {
                    "text" => MessageKind::Text,
                    "image" => MessageKind::Image,
                    "video" => MessageKind::Video,
                    "audio" => MessageKind::Audio,
                    "document" => MessageKind::Document,
                    "sticker" => MessageKind::Sticker,
                    "interactive" => MessageKind::Interactive,
                    "list" => MessageKind::List,
                    "cta_url" => MessageKind::CtaUrl,
                    "location" => MessageKind::Location,
                    "template" => MessageKind::Template,
                    _ => return Err(E::unknown_variant(name, MESSAGE_KINDS)),
                })
            }
        }
        deserializer.deserialize_str(KindVisitor)
    }
}

/// The fields of the struct-like variants of [`OutboundMessage`], for their derived readers
/// (which name an unknown key and list the known ones).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextFields {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InteractiveFields {
    body: String,
    buttons: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocationFields {
    latitude: f64,
    longitude: f64,
}

/// Reads an [`OutboundMessage`] (tag `"kind"`); no key is skipped.
#[derive(Clone, Copy, Debug)]
struct MessageReader;

impl TaggedReader for MessageReader {
    const TAG: &'static str = "kind";
    type Tag = MessageKind;
    type Value = OutboundMessage;

    fn skips(self, _key: &str) -> bool {
        false
    }

    fn read<'de, D: Deserializer<'de>>(
        self,
        kind: MessageKind,
        fields: D,
    ) -> Result<OutboundMessage, D::Error> {
        let media = |fields: D| Media::deserialize(fields);
        Ok(match kind {
            MessageKind::Text => {
                let TextFields { text } = Deserialize::deserialize(fields)?;
                OutboundMessage::Text { text }
            }
            MessageKind::Image => OutboundMessage::Image(media(fields)?),
            MessageKind::Video => OutboundMessage::Video(media(fields)?),
            MessageKind::Audio => OutboundMessage::Audio(media(fields)?),
            MessageKind::Document => OutboundMessage::Document(media(fields)?),
            MessageKind::Sticker => OutboundMessage::Sticker(media(fields)?),
            MessageKind::Interactive => {
                let InteractiveFields { body, buttons } = Deserialize::deserialize(fields)?;
                OutboundMessage::Interactive { body, buttons }
            }
            MessageKind::List => OutboundMessage::List(Box::new(Deserialize::deserialize(fields)?)),
            MessageKind::CtaUrl => {
                OutboundMessage::CtaUrl(Box::new(Deserialize::deserialize(fields)?))
            }
            MessageKind::Location => {
                let LocationFields {
                    latitude,
                    longitude,
                } = Deserialize::deserialize(fields)?;
                OutboundMessage::Location {
                    latitude,
                    longitude,
                }
            }
            MessageKind::Template => {
                OutboundMessage::Template(TemplateMessage::deserialize(fields)?)
            }
        })
    }
}

impl<'de> Visitor<'de> for MessageReader {
    type Value = OutboundMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message: an object with a \"kind\" key")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OutboundMessage, A::Error> {
        read_tagged(self, map)
    }
}

impl<'de> Deserialize<'de> for OutboundMessage {
    /// Reads a message object. `"kind"` may come anywhere, but first is fastest (no
    /// buffering); unknown keys are rejected.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OutboundMessage, D::Error> {
        deserializer.deserialize_map(MessageReader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{CtaUrlMessage, ListMessage, ListRow, ListSection, TemplateParams};

    fn message(json: &str) -> Result<OutboundMessage, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    fn every_kind() -> Vec<OutboundMessage> {
        let media = |caption: Option<&str>, animated: bool| Media {
            size: 2048,
            caption: caption.map(str::to_owned),
            animated,
            media_ref: Some("wamid.file".to_owned()),
        };
        vec![
            OutboundMessage::Text {
                text: "On its \"way\"\n".to_owned(),
            },
            OutboundMessage::Image(media(Some("front"), false)),
            OutboundMessage::Video(media(None, false)),
            OutboundMessage::Audio(Media {
                size: 0,
                caption: None,
                animated: false,
                media_ref: None,
            }),
            OutboundMessage::Document(media(Some("invoice.pdf"), false)),
            OutboundMessage::Sticker(media(None, true)),
            OutboundMessage::Interactive {
                body: "Pick one".to_owned(),
                buttons: vec!["Yes".to_owned(), "No".to_owned()],
            },
            OutboundMessage::List(Box::new(ListMessage {
                header: Some("Menu".to_owned()),
                body: "Pick a slot".to_owned(),
                footer: None,
                button: "Slots".to_owned(),
                sections: vec![ListSection {
                    title: None,
                    rows: vec![ListRow {
                        id: "mon-9".to_owned(),
                        title: "Monday 9:00".to_owned(),
                        description: Some("30 minutes".to_owned()),
                    }],
                }],
            })),
            OutboundMessage::CtaUrl(Box::new(CtaUrlMessage {
                header: None,
                body: "Track your order".to_owned(),
                footer: Some("Acme".to_owned()),
                display_text: "Track".to_owned(),
                url: "https://acme.example/t/17".to_owned(),
            })),
            OutboundMessage::Location {
                latitude: 52.52,
                longitude: -13.405,
            },
            OutboundMessage::Template(TemplateMessage {
                name: "order_ready".to_owned(),
                language: "en".to_owned(),
                params: TemplateParams::Positional(vec!["A-17".to_owned()]),
                header_params: TemplateParams::default(),
            }),
            OutboundMessage::Template(TemplateMessage {
                name: "welcome".to_owned(),
                language: "de".to_owned(),
                params: TemplateParams::Named([("name".to_owned(), "Ann".to_owned())].into()),
                header_params: TemplateParams::default(),
            }),
            OutboundMessage::Template(TemplateMessage {
                name: "bare".to_owned(),
                language: "en".to_owned(),
                params: TemplateParams::default(),
                header_params: TemplateParams::default(),
            }),
        ]
    }

    /// `value` serialised with its `"kind"` key moved to the end.
    fn kind_last(value: &OutboundMessage) -> String {
        let serde_json::Value::Object(fields) = serde_json::to_value(value).unwrap() else {
            panic!("a message serialises to an object");
        };
        let (kind, rest): (Vec<_>, Vec<_>) = fields.into_iter().partition(|(k, _)| k == "kind");
        assert_eq!(kind.len(), 1, "one kind key");
        let reordered: Vec<String> = rest
            .into_iter()
            .chain(kind)
            .map(|(k, v)| format!("{}:{v}", serde_json::Value::String(k)))
            .collect();
        format!("{{{}}}", reordered.join(","))
    }

    #[test]
    fn every_kind_round_trips_with_kind_first_or_last() {
        for original in every_kind() {
            let json = serde_json::to_string(&original).unwrap();
            assert!(json.starts_with(r#"{"kind":""#), "kind first: {json}");
            assert_eq!(message(&json), Ok(original.clone()), "kind first: {json}");
            let last = kind_last(&original);
            assert!(!last.starts_with(r#"{"kind""#), "kind last: {last}");
            assert_eq!(message(&last), Ok(original.clone()), "kind last: {last}");
            // Through a buffered `Value` as well (the event's reader when "type" is late).
            let value: serde_json::Value = serde_json::from_str(&last).unwrap();
            assert_eq!(OutboundMessage::deserialize(&value).unwrap(), original);
            assert_eq!(OutboundMessage::deserialize(value).unwrap(), original);
        }
    }

    #[test]
    fn kind_anywhere_decodes_the_same() {
        let expected = OutboundMessage::Interactive {
            body: "Pick".to_owned(),
            buttons: vec!["A".to_owned()],
        };
        for json in [
            r#"{"kind":"interactive","body":"Pick","buttons":["A"]}"#,
            r#"{"body":"Pick","kind":"interactive","buttons":["A"]}"#,
            r#"{"body":"Pick","buttons":["A"],"kind":"interactive"}"#,
            r#"{"\u006bind":"interactive","body":"Pick","buttons":["A"]}"#,
            r#"{"b\u006fdy":"Pick","buttons":["A"],"kind":"interactive"}"#,
        ] {
            assert_eq!(message(json), Ok(expected.clone()), "{json}");
        }
    }

    #[test]
    fn unknown_key_is_named_wherever_kind_is() {
        for json in [
            r#"{"kind":"text","text":"hi","colour":"red"}"#,
            r#"{"text":"hi","colour":"red","kind":"text"}"#,
        ] {
            let error = message(json).unwrap_err();
            assert!(
                error.starts_with("unknown field `colour`, expected `text`"),
                "{error}"
            );
        }
        let error = message(r#"{"kind":"image","size":1,"colour":"red"}"#).unwrap_err();
        assert!(
            error.starts_with("unknown field `colour`, expected one of `size`, `caption`"),
            "{error}"
        );
        let error = message(r#"{"kind":"template","name":"a","language":"en","x":1}"#).unwrap_err();
        assert!(error.starts_with("unknown field `x`"), "{error}");
        // A key valid for another kind is still unknown to this one.
        let error = message(r#"{"kind":"text","text":"hi","size":1}"#).unwrap_err();
        assert!(error.starts_with("unknown field `size`"), "{error}");
    }

    #[test]
    fn unknown_kind_lists_the_kinds() {
        for json in [
            r#"{"kind":"telegram","text":"x"}"#,
            r#"{"text":"x","kind":"telegram"}"#,
            r#"{"kind":"Text","text":"x"}"#,
        ] {
            let error = message(json).unwrap_err();
            assert!(error.starts_with("unknown variant `"), "{error}");
            assert!(
                error.contains(
                    "expected one of `text`, `image`, `video`, `audio`, `document`, `sticker`, \
                     `interactive`, `list`, `cta_url`, `location`, `template`"
                ),
                "{error}"
            );
        }
    }

    #[test]
    fn missing_or_doubled_kind_is_an_error() {
        for json in [r#"{"text":"x"}"#, "{}"] {
            let error = message(json).unwrap_err();
            assert!(error.starts_with("missing field `kind`"), "{json}: {error}");
        }
        for json in [
            r#"{"kind":"text","text":"x","kind":"text"}"#,
            r#"{"text":"x","kind":"text","kind":"text"}"#,
        ] {
            let error = message(json).unwrap_err();
            assert!(
                error.starts_with("duplicate field `kind`"),
                "{json}: {error}"
            );
        }
        let error = message(r#"{"text":"x","text":"y","kind":"text"}"#).unwrap_err();
        assert!(error.starts_with("duplicate field `text`"), "{error}");
        let error = message(r#"{"kind":"text"}"#).unwrap_err();
        assert!(error.starts_with("missing field `text`"), "{error}");
    }

    #[test]
    fn non_objects_are_refused() {
        for json in [r#""text""#, r#"["text","x"]"#, "null", "1", r#"{"kind":1}"#] {
            assert!(message(json).is_err(), "{json}");
        }
    }

    #[test]
    fn serialised_bytes_are_unchanged() {
        // The serialiser is still derived; these are the bytes it wrote before.
        let wire: Vec<String> = every_kind()
            .iter()
            .map(|m| serde_json::to_string(m).unwrap())
            .collect();
        assert_eq!(wire[0], r#"{"kind":"text","text":"On its \"way\"\n"}"#);
        assert_eq!(
            wire[5],
            r#"{"kind":"sticker","size":2048,"animated":true,"media_ref":"wamid.file"}"#
        );
        assert_eq!(
            wire[7],
            r#"{"kind":"list","header":"Menu","body":"Pick a slot","button":"Slots","sections":[{"rows":[{"id":"mon-9","title":"Monday 9:00","description":"30 minutes"}]}]}"#
        );
        assert_eq!(
            wire[8],
            r#"{"kind":"cta_url","body":"Track your order","footer":"Acme","display_text":"Track","url":"https://acme.example/t/17"}"#
        );
        assert_eq!(
            wire[9],
            r#"{"kind":"location","latitude":52.52,"longitude":-13.405}"#
        );
        assert_eq!(
            wire[10],
            r#"{"kind":"template","name":"order_ready","language":"en","params":["A-17"]}"#
        );
        assert_eq!(
            wire[12],
            r#"{"kind":"template","name":"bare","language":"en"}"#
        );
    }
}
