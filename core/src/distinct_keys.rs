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

impl<'de> DeserializeSeed<'de> for DistinctKeys<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        Within {
            at: &Step::Root(self.path),
            twice: self.twice,
        }
        .deserialize(deserializer)
    }
}

/// Where a value sits: a chain of steps up to the path reading began at, spelled out only
/// for a refusal. Spelled for every key and element, a long key above a long array copied
/// the key once per element: a 2.4 MB line took 30 s.
enum Step<'p> {
    Root(&'p str),
    Key(&'p Step<'p>, &'p str),
    Index(&'p Step<'p>, usize),
}

impl Step<'_> {
    /// The path as errors name it (`window.length`, `sections[0].rows[0].title`).
    fn spell(&self, out: &mut String) {
        match self {
            Step::Root(path) => out.push_str(path),
            Step::Key(parent, key) => {
                parent.spell(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(parent, i) => {
                parent.spell(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

/// [`DistinctKeys`] at one step of the value.
#[derive(Clone, Copy)]
struct Within<'p> {
    at: &'p Step<'p>,
    twice: Twice,
}

impl<'de> DeserializeSeed<'de> for Within<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Within<'_> {
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
            let at = Step::Index(self.at, items.len());
            let seed = Within {
                at: &at,
                twice: self.twice,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(serde_json::Value::Array(items)),
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let at = Step::Key(self.at, &key);
            if object.contains_key(&key) {
                let mut path = String::new();
                at.spell(&mut path);
                return Err(de::Error::custom((self.twice)(&path, &key)));
            }
            let value = map.next_value_seed(Within {
                at: &at,
                twice: self.twice,
            })?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &str, json: &str) -> Result<serde_json::Value, String> {
        let seed = DistinctKeys {
            path,
            twice: |path, key| format!("{path} ({key}) twice"),
        };
        seed.deserialize(&mut serde_json::Deserializer::from_str(json))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_repeat_is_named_by_its_path_from_where_reading_began() {
        let json = r#"{"sections":[{"rows":[{"id":1},{"title":"a","title":"b"}]}]}"#;
        let refused = read("", json).unwrap_err();
        assert!(
            refused.starts_with("sections[0].rows[1].title (title) twice"),
            "{refused}"
        );
        let refused = read("message", json).unwrap_err();
        assert!(
            refused.starts_with("message.sections[0].rows[1].title (title) twice"),
            "{refused}"
        );
        let refused = read("", r#"[0,{"a":1,"a":2}]"#).unwrap_err();
        assert!(refused.starts_with("[1].a (a) twice"), "{refused}");
    }

    #[test]
    fn a_wide_array_under_a_long_key_reads_as_it_is() {
        // The shape that took 30 s when every element spelled its path (a 2 MB key above
        // 200,000 elements), smaller: this checks what it reads, not how fast (measured in
        // docs/ROBUSTNESS.md, "Resource bounds").
        let key = "k".repeat(100_000);
        let json = format!(r#"{{"{key}":[{}0]}}"#, "0,".repeat(20_000));
        let value = read("", &json).expect("no key repeats");
        assert_eq!(value[key.as_str()].as_array().map(Vec::len), Some(20_001));
    }
}
