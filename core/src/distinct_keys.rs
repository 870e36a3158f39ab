//! JSON values whose objects name each key once.
//!
//! `serde_json::Value` keeps the last copy of a key an object repeats, without a word, so
//! whatever reads input through a `Value` (policy overrides; a wire message held until its
//! late `kind` is known) reads it through [`DistinctKeys`] instead, which refuses the repeat
//! with the error its caller words.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The error for a key given twice: from the path of the repeated key (`window.length`,
/// `sections[0].rows[0].title`, from where the reading began) and the key itself.
pub(crate) type Twice = fn(path: &str, key: &str) -> String;

/// Reads any JSON value, refusing a key given twice in any object within it.
#[derive(Clone, Copy)]
pub(crate) struct DistinctKeys<'p> {
    /// Where the value sits, from where the reading began (empty: there).
    pub path: &'p str,
    /// The refusal's wording.
    pub twice: Twice,
}

impl DistinctKeys<'_> {
    fn at<'q>(self, path: &'q str) -> DistinctKeys<'q> {
        DistinctKeys {
            path,
            twice: self.twice,
        }
    }
}

impl<'de> DeserializeSeed<'de> for DistinctKeys<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DistinctKeys<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // JSON has no NaN or infinity: what serde_json reads is finite.
        Ok(v.into())
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = format!("{}[{}]", self.path, items.len());
            match seq.next_element_seed(self.at(&path))? {
                Some(item) => items.push(item),
                None => return Ok(serde_json::Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if object.contains_key(&key) {
                return Err(de::Error::custom((self.twice)(&path, &key)));
            }
            let value = map.next_value_seed(self.at(&path))?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}
