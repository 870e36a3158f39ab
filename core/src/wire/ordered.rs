//! A JSON value that keeps every object's keys in the order the line gave them, for the
//! experiments that name the field at fault ([`super::locate`]).
//!
//! serde reports the first problem it meets, and it meets a line's fields in their order. A
//! [`serde_json::Value`] sorts the keys (the crate's `preserve_order` feature would change
//! every map of every dependent build), so a line re-written from one met its fields in
//! another order: with two bad fields, every trial then failed on the other one, and the
//! first key tried was named.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};
use serde_json::{Number, Value};

/// A JSON value, its objects' keys in their order (a key given twice is kept twice).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ordered {
    /// Null, a boolean, a number or a string.
    Scalar(Value),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl Ordered {
    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Value> {
        match self {
            Ordered::Scalar(value) => Some(value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        self.scalar().and_then(Value::as_str)
    }

    pub fn is_scalar(&self) -> bool {
        matches!(self, Ordered::Scalar(_))
    }

    /// The object's entries, if this is an object.
    pub fn entries(&self) -> Option<&[(String, Ordered)]> {
        match self {
            Ordered::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// The value of `key` (of a key given twice, the later one, as serde keeps), if this is
    /// an object that has it.
    pub fn get(&self, key: &str) -> Option<&Ordered> {
        self.entries()?
            .iter()
            .rev()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Ordered> {
        match self {
            Ordered::Object(entries) => entries
                .iter_mut()
                .rev()
                .find_map(|(k, v)| (k == key).then_some(v)),
            _ => None,
        }
    }

    pub fn item(&self, i: usize) -> Option<&Ordered> {
        match self {
            Ordered::Array(items) => items.get(i),
            _ => None,
        }
    }

    pub fn item_mut(&mut self, i: usize) -> Option<&mut Ordered> {
        match self {
            Ordered::Array(items) => items.get_mut(i),
            _ => None,
        }
    }

    /// Drops `key` (every copy of it), if this is an object.
    pub fn remove_key(&mut self, key: &str) {
        if let Ordered::Object(entries) = self {
            entries.retain(|(k, _)| k != key);
        }
    }

    /// Drops item `i`, if this is an array that long.
    pub fn remove_item(&mut self, i: usize) {
        if let Ordered::Array(items) = self {
            if i < items.len() {
                items.remove(i);
            }
        }
    }

    /// The value as a line, keys in their order.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a JSON value writes infallibly")
    }
}

impl Serialize for Ordered {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Ordered::Scalar(value) => value.serialize(serializer),
            Ordered::Array(items) => serializer.collect_seq(items),
            Ordered::Object(entries) => serializer.collect_map(entries.iter().map(|(k, v)| (k, v))),
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Ordered, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::Bool(b)))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::from(i)))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::from(u)))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Ordered, E> {
        // JSON has no infinite or NaN numbers, so the parser never hands one over.
        Ok(Ordered::Scalar(
            Number::from_f64(f).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::String(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::String(s)))
    }

    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Scalar(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Ordered, D::Error> {
        Ordered::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Ordered>()? {
            entries.push(entry);
        }
        Ok(Ordered::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_and_writes_back_in_its_own_order() {
        let line = r#"{"type":"send","at":0,"message":{"text":"a","kind":"text"},"n":[1,2.5,null,true],"z":{}}"#;
        let value: Ordered = serde_json::from_str(line).unwrap();
        assert_eq!(value.to_line(), line);
        assert_eq!(
            value
                .get("message")
                .and_then(|m| m.get("kind"))
                .and_then(Ordered::as_str),
            Some("text")
        );
        let mut value = value;
        value.remove_key("at");
        value.get_mut("n").unwrap().remove_item(1);
        assert_eq!(
            value.to_line(),
            r#"{"type":"send","message":{"text":"a","kind":"text"},"n":[1,null,true],"z":{}}"#
        );
    }

    #[test]
    fn a_key_given_twice_is_kept_twice_and_read_as_its_later_copy() {
        let value: Ordered = serde_json::from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(
            value.get("a").and_then(Ordered::scalar),
            Some(&Value::from(3))
        );
        assert_eq!(value.to_line(), r#"{"a":1,"b":2,"a":3}"#);
    }
}
