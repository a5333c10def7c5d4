//! A serde `Deserializer` over the span tree. Each error carries the span of
//! the key or value the deserializer stood on when it arose (a key for
//! unknown fields, a value for wrong types and values, the table for
//! missing fields), and its message and hint are built from serde's
//! structured arguments (field, expected list, found value), never from
//! message text. [`Spanned`](crate::workflow::span::Spanned) values get
//! their spans from the tree.

use std::fmt;
use std::ops::Range;

use serde::de::{
    self, DeserializeSeed, Expected, IntoDeserializer, MapAccess, SeqAccess, Unexpected, Visitor,
};

use super::{SourceEntry, SourceKind, SourceValue};
use crate::workflow::diagnostics::did_you_mean;

/// The newtype-struct name by which `Spanned<T>` asks this deserializer for
/// a span; other deserializers treat it as any newtype.
pub const SPANNED: &str = "$agentctl::Spanned";

/// A typed value read from a tree.
pub fn from_tree<'de, T: de::Deserialize<'de>>(v: &'de SourceValue) -> Result<T, Error> {
    T::deserialize(ValueDe::new(v))
}

/// A struct read from only the entries of `table` whose keys are in
/// `fields` (the caller deals with the others); a missing field is located
/// at the table.
pub fn from_table_fields<'de, T: de::Deserialize<'de>>(
    table: &'de SourceValue,
    fields: &'static [&'static str],
) -> Result<T, Error> {
    T::deserialize(ValueDe {
        value: table,
        only: Some(fields),
    })
}

/// The field names of a derived struct, as serde knows them (so a struct
/// stays the one list of its fields).
pub fn struct_fields<'de, T: de::Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl fmt::Display for Found {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("field probe")
        }
    }
    impl std::error::Error for Found {}
    impl de::Error for Found {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(fields)) => fields,
        Ok(_) => &[],
    }
}

/// A value that does not fit its spec type.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Where: the innermost key or value known when the error arose.
    pub span: Option<Range<usize>>,
    /// What is wrong.
    pub message: String,
    /// How to fix it (none: the caller's generic hint).
    pub hint: Option<String>,
}

impl Error {
    fn new(message: String, hint: String) -> Self {
        Error {
            span: None,
            message,
            hint: Some(hint),
        }
    }

    /// "unknown field" of a node of kind `kind`, at its key.
    pub fn unknown_field_of(field: &str, valid: &[&str], kind: &str, span: Range<usize>) -> Self {
        let hint = match did_you_mean(field, valid.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
                format!("fields of a `{kind}` node: {}", list.join(", "))
            }
        };
        Error {
            span: Some(span),
            message: format!("unknown field `{field}`"),
            hint: Some(hint),
        }
    }

    /// `v` is not `what` (e.g. "a table").
    pub fn not_a(v: &SourceValue, what: &str) -> Self {
        let found = ValueDe::new(v).unexpected().to_string();
        Error {
            span: Some(v.span.clone()),
            message: format!("wrong type: found {found}, expected {what}"),
            hint: Some(format!("write {what} here")),
        }
    }

    /// Locates the error at `span` unless an inner value already did.
    fn at(mut self, span: &Range<usize>) -> Self {
        if self.span.is_none() {
            self.span = Some(span.clone());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let msg = msg.to_string();
        Error {
            span: None,
            message: msg.lines().next().unwrap_or("").trim().to_string(),
            hint: None,
        }
    }

    fn invalid_type(found: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let want = friendly_type(&exp.to_string());
        Error::new(
            format!("wrong type: found {found}, expected {want}"),
            format!("write {want} here"),
        )
    }

    fn invalid_value(found: Unexpected<'_>, exp: &dyn Expected) -> Self {
        let want = friendly_type(&exp.to_string());
        Error::new(
            format!("invalid value: found {found}, expected {want}"),
            format!("write {want} here"),
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::new(
            format!("unknown value `{variant}`"),
            suggest(variant, expected, "valid values"),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::new(
            format!("unknown field `{field}`"),
            suggest(field, expected, "valid fields"),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        let hint = match field {
            "workflow" => "add a `[workflow]` table with a `name`".to_string(),
            _ => format!("add `{field} = ...` to this table"),
        };
        Error::new(format!("missing field `{field}`"), hint)
    }

    fn duplicate_field(field: &'static str) -> Self {
        Error::new(
            format!("duplicate key `{field}`"),
            "remove one of the two entries".to_string(),
        )
    }
}

/// "did you mean" when one name is close, else the list.
fn suggest(word: &str, valid: &[&str], what: &str) -> String {
    match did_you_mean(word, valid.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None if valid.is_empty() => format!("there are no {what} here"),
        None => {
            let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
            format!("{what} here: {}", list.join(", "))
        }
    }
}

/// serde's names of what a visitor expects, in words.
fn friendly_type(t: &str) -> String {
    match t.trim() {
        "i64" | "i32" => "an integer".to_string(),
        "u64" | "u32" | "u16" | "u8" => "a non-negative integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        other if other.starts_with("struct ") => "a table".to_string(),
        other if other.starts_with("enum ") => "one of the allowed values".to_string(),
        other => other.to_string(),
    }
}

/// Deserializes one value of the tree; of a table, only the keys in
/// `only` when set.
struct ValueDe<'de> {
    value: &'de SourceValue,
    only: Option<&'static [&'static str]>,
}

impl<'de> ValueDe<'de> {
    fn new(value: &'de SourceValue) -> Self {
        ValueDe { value, only: None }
    }
}

impl<'de> ValueDe<'de> {
    fn unexpected(&self) -> Unexpected<'de> {
        match &self.value.kind {
            SourceKind::Null => Unexpected::Unit,
            SourceKind::Bool(b) => Unexpected::Bool(*b),
            SourceKind::Int(n) => Unexpected::Signed(*n),
            SourceKind::UInt(n) => Unexpected::Unsigned(*n),
            SourceKind::Float(f) => Unexpected::Float(*f),
            SourceKind::Str(s) => Unexpected::Str(s),
            SourceKind::Array(_) => Unexpected::Seq,
            SourceKind::Table(_) => Unexpected::Map,
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let v = self.value;
        let r = match &v.kind {
            SourceKind::Null => visitor.visit_unit(),
            SourceKind::Bool(b) => visitor.visit_bool(*b),
            SourceKind::Int(n) => visitor.visit_i64(*n),
            SourceKind::UInt(n) => visitor.visit_u64(*n),
            SourceKind::Float(f) => visitor.visit_f64(*f),
            SourceKind::Str(s) => visitor.visit_borrowed_str(s),
            SourceKind::Array(items) => visitor.visit_seq(SeqDe(items.iter())),
            SourceKind::Table(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                only: self.only,
            }),
        };
        r.map_err(|e| e.at(&v.span))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let span = self.value.span.clone();
        match self.value.kind {
            SourceKind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(&span))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let span = self.value.span.clone();
        if name == SPANNED {
            return visitor
                .visit_seq(SpannedSeq {
                    value: self.value,
                    next: 0,
                })
                .map_err(|e| e.at(&span));
        }
        visitor.visit_newtype_struct(self).map_err(|e| e.at(&span))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let v = self.value;
        let r = match &v.kind {
            SourceKind::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            SourceKind::Table(entries) if entries.len() == 1 => {
                visitor.visit_enum(de::value::MapAccessDeserializer::new(MapDe {
                    entries: entries.iter(),
                    value: None,
                    only: None,
                }))
            }
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"one of the allowed values",
            )),
        };
        r.map_err(|e| e.at(&v.span))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct SeqDe<'de>(std::slice::Iter<'de, SourceValue>);

impl<'de> SeqAccess<'de> for SeqDe<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(v) => seed.deserialize(ValueDe::new(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapDe<'de> {
    entries: std::slice::Iter<'de, SourceEntry>,
    value: Option<&'de SourceValue>,
    /// Only these keys (the others are skipped).
    only: Option<&'static [&'static str]>,
}

impl<'de> MapAccess<'de> for MapDe<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let only = self.only;
        let Some(e) = self
            .entries
            .find(|e| only.is_none_or(|o| o.contains(&e.key.as_str())))
        else {
            return Ok(None);
        };
        self.value = Some(&e.value);
        let key: de::value::BorrowedStrDeserializer<'de, Error> =
            de::value::BorrowedStrDeserializer::new(&e.key);
        seed.deserialize(key)
            .map(Some)
            .map_err(|err| err.at(&e.key_span))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(ValueDe::new(v)),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// What `Spanned<T>` reads: start, end, then the value itself.
struct SpannedSeq<'de> {
    value: &'de SourceValue,
    next: u8,
}

impl<'de> SeqAccess<'de> for SpannedSeq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let n = self.next;
        self.next += 1;
        let span = &self.value.span;
        match n {
            0 => seed.deserialize(span.start.into_deserializer()).map(Some),
            1 => seed.deserialize(span.end.into_deserializer()).map(Some),
            2 => seed.deserialize(ValueDe::new(self.value)).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::source_tree::{parse_json, parse_toml};
    use crate::workflow::span::Spanned;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        a: Spanned<u32>,
        #[serde(default)]
        b: Option<Spanned<String>>,
    }

    #[test]
    fn spans_fill_spanned_and_locate_errors() {
        let text = "a = 7\nb = \"x\"\n";
        let tree = parse_toml(text).unwrap();
        let t: T = from_tree(&tree).unwrap();
        assert_eq!(t.a.span, Some(4..5));
        assert_eq!(t.b.unwrap().span, Some(10..13));

        let text = "{\"a\": \"high\"}";
        let e = from_tree::<T>(&parse_json(text).unwrap()).unwrap_err();
        assert_eq!(
            e.message,
            "wrong type: found string \"high\", expected a non-negative integer"
        );
        assert_eq!(&text[e.span.unwrap()], "\"high\"");

        let text = "a = 1\nbb = 2\n";
        let e = from_tree::<T>(&parse_toml(text).unwrap()).unwrap_err();
        assert_eq!(e.message, "unknown field `bb`");
        assert_eq!(e.hint.as_deref(), Some("did you mean `b`?"));
        assert_eq!(&text[e.span.unwrap()], "bb");

        let e = from_tree::<T>(&parse_json("{\"b\": \"x\"}").unwrap()).unwrap_err();
        assert_eq!(
            (e.message.as_str(), e.span),
            ("missing field `a`", Some(0..10))
        );
    }

    /// Messages and hints come from serde's structured arguments (these
    /// were the cases of the old message-text rewriter).
    #[test]
    fn messages_and_hints_from_serde_arguments() {
        use serde::de::Error as _;
        let e = Error::unknown_field("agnet", &["id", "agent"]);
        assert_eq!(
            (e.message.as_str(), e.hint.as_deref()),
            ("unknown field `agnet`", Some("did you mean `agent`?"))
        );
        let e = Error::unknown_field("zzz", &["when", "to"]);
        assert_eq!(e.hint.as_deref(), Some("valid fields here: `when`, `to`"));
        let e = Error::invalid_type(Unexpected::Str("high"), &"i64");
        assert_eq!(
            e.message,
            "wrong type: found string \"high\", expected an integer"
        );
        assert_eq!(e.hint.as_deref(), Some("write an integer here"));
        let e = Error::invalid_value(Unexpected::Signed(-1), &"u32");
        assert_eq!(
            e.message,
            "invalid value: found integer `-1`, expected a non-negative integer"
        );
        let e = Error::missing_field("kind");
        assert_eq!(
            (e.message.as_str(), e.hint.as_deref()),
            (
                "missing field `kind`",
                Some("add `kind = ...` to this table")
            )
        );
        let e = Error::custom("data did not match\nmore");
        assert_eq!((e.message.as_str(), e.hint), ("data did not match", None));
    }
}
