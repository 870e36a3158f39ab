//! The wire names of the core's enums, so that a test can check that the package's Python
//! enums (`convstate/_types.py`) name every value the engine can produce.
//!
//! serde's derived `Deserialize` for a plain enum hands its variant names to
//! `Deserializer::deserialize_enum`; a deserializer that records them and fails reads the
//! names from the code the wire format itself uses, so they cannot drift from it.

use std::collections::BTreeMap;
use std::fmt;

use convstate::{
    Channel, ChargeCategory, DenyReasonKind, FreeReason, Initiator, TemplateStatus, TicketStatus,
};
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Every name of a wire enum, by the Python enum that must hold them.
pub fn wire_names() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        (
            "Reason",
            DenyReasonKind::ALL.iter().map(|k| k.name()).collect(),
        ),
        ("FreeReason", variants::<FreeReason>()),
        ("TemplateStatus", variants::<TemplateStatus>()),
        ("TicketStatus", variants::<TicketStatus>()),
        ("Channel", variants::<Channel>()),
        ("ChargeCategory", variants::<ChargeCategory>()),
        ("Initiator", variants::<Initiator>()),
    ])
}

/// The variant names a derived `Deserialize` of a plain (externally tagged) enum accepts.
fn variants<'de, T: Deserialize<'de>>() -> Vec<&'static str> {
    let mut names = Vec::new();
    let _ = T::deserialize(VariantNames(&mut names));
    names
}

/// A deserializer that only records the variant names it is asked for.
struct VariantNames<'a>(&'a mut Vec<&'static str>);

#[derive(Debug)]
struct Recorded;

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("variant names recorded")
    }
}

impl std::error::Error for Recorded {}

impl de::Error for Recorded {
    fn custom<T: fmt::Display>(_: T) -> Recorded {
        Recorded
    }
}

impl<'de> Deserializer<'de> for VariantNames<'_> {
    type Error = Recorded;

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Recorded> {
        self.0.extend_from_slice(variants);
        Err(Recorded)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Recorded> {
        Err(Recorded)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_wire_strings() {
        let names = wire_names();
        assert_eq!(names["TicketStatus"], ["open", "pending", "closed"]);
        assert!(names["TemplateStatus"].contains(&"pending_deletion"));
        assert!(names["Reason"].contains(&"window_closed"));
        for (enum_name, values) in &names {
            assert!(!values.is_empty(), "{enum_name}");
        }
    }
}
