//! Reading an [`Event`] in one pass.
//!
//! Serde's derive for an internally tagged enum buffers the whole object (every key and
//! value allocated into its private `Content` tree) before it looks at the tag, and that
//! buffering was most of the JSON door's cost. Wire lines, our docs and every binding's
//! encoder put `"type"` first, so this decoder reads the first key: when it is `"type"`, it
//! hands the rest of the map straight to the variant's struct, whose `deny_unknown_fields`
//! still rejects stray keys. Only objects with `"type"` elsewhere are buffered (into a
//! `serde_json::Value`), so key order stays free.
//!
//! The same pass can skip the wire's annotation keys ([`super::ANNOTATION_KEYS`]) at the
//! top level, so that annotated lines need no second parse either.

use std::fmt;
use std::ops::Deref;

use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::event::Event;

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
    "edit_template",
    "number_quality",
    "number_restriction",
    "restriction_lifted",
    "messaging_limit",
    "tick",
    "query_conversation",
    "query_number",
    "query_limit",
    "query_template",
    "query_usage",
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
    EditTemplate,
    NumberQuality,
    NumberRestriction,
    RestrictionLifted,
    MessagingLimit,
    Tick,
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
            "edit_template" => EventType::EditTemplate,
            "number_quality" => EventType::NumberQuality,
            "number_restriction" => EventType::NumberRestriction,
            "restriction_lifted" => EventType::RestrictionLifted,
            "messaging_limit" => EventType::MessagingLimit,
            "tick" => EventType::Tick,
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

/// Reads an [`Event`]; with `skip_annotations`, top-level annotation keys are ignored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventSeed {
    pub skip_annotations: bool,
}

impl EventSeed {
    fn is_annotation(self, key: &str) -> bool {
        self.skip_annotations && super::ANNOTATION_KEYS.contains(&key)
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
        f.write_str("an event: an object with a \"type\" key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut key = loop {
            match map.next_key_seed(KeySeed)? {
                None => return Err(de::Error::missing_field("type")),
                Some(key) if self.is_annotation(&key) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(key) => break key,
            }
        };
        if &*key == "type" {
            let event_type: EventType = map.next_value()?;
            return event_type.read(MapAccessDeserializer::new(Fields { map, seed: self }));
        }
        // `"type"` comes later: keep the fields until it is known.
        let mut event_type = None;
        let mut fields = serde_json::Map::new();
        loop {
            if &*key == "type" {
                if event_type.is_some() {
                    return Err(de::Error::duplicate_field("type"));
                }
                event_type = Some(map.next_value::<EventType>()?);
            } else if self.is_annotation(&key) {
                map.next_value::<IgnoredAny>()?;
            } else {
                // A map would keep the last of two equal keys; the struct rejects them, as
                // it does on the one-pass path.
                if fields.contains_key(&*key) {
                    let key = &*key;
                    return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
                }
                fields.insert(String::from(&*key), map.next_value()?);
            }
            match map.next_key_seed(KeySeed)? {
                Some(next) => key = next,
                None => break,
            }
        }
        let event_type = event_type.ok_or_else(|| de::Error::missing_field("type"))?;
        event_type
            .read(serde_json::Value::Object(fields))
            .map_err(de::Error::custom)
    }
}

/// The fields of an event after its `"type"`: the map as is, minus annotations when asked,
/// with a second `"type"` rejected as a duplicate rather than as an unknown field.
struct Fields<A> {
    map: A,
    seed: EventSeed,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Fields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let Some(key) = self.map.next_key_seed(KeySeed)? else {
                return Ok(None);
            };
            if &*key == "type" {
                return Err(de::Error::duplicate_field("type"));
            }
            if self.seed.is_annotation(&key) {
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

impl<'de> Deserialize<'de> for Event {
    /// Reads an event object. `"type"` may come anywhere, but first is fastest; unknown keys
    /// (annotations included: [`crate::wire::decode_event`] is the reader that skips those)
    /// are rejected.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Event, D::Error> {
        EventSeed {
            skip_annotations: false,
        }
        .deserialize(deserializer)
    }
}
