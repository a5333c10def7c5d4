//! `Spanned<T>`: a value with the byte range it came from in its file.
//!
//! Read from a workflow file (TOML or JSON) through the span tree's
//! deserializer, every `Spanned` knows its range; built in code, or read by
//! any other deserializer, it has none, so the span is optional.

use std::marker::PhantomData;
use std::ops::{Deref, Range};

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::source_tree::de::SPANNED;

/// A value and, when known, the byte range of its source text.
#[derive(Debug, Clone, Default)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Byte range in the source file.
    pub span: Option<Range<usize>>,
}

impl<T> Spanned<T> {
    /// A value with no source location (built in code).
    pub fn new(value: T) -> Self {
        Spanned { value, span: None }
    }

    /// The value.
    pub fn get(&self) -> &T {
        &self.value
    }
}

impl<T> From<T> for Spanned<T> {
    fn from(value: T) -> Self {
        Spanned::new(value)
    }
}

impl From<&str> for Spanned<String> {
    fn from(value: &str) -> Self {
        Spanned::new(value.to_string())
    }
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a value")
            }
            // Any other deserializer: the value, without a span.
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                Ok(Spanned::new(T::deserialize(d)?))
            }
            // The span tree: start, end, value.
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let missing = || serde::de::Error::custom("a spanned value without its parts");
                let start: usize = seq.next_element()?.ok_or_else(missing)?;
                let end: usize = seq.next_element()?.ok_or_else(missing)?;
                let value: T = seq.next_element()?.ok_or_else(missing)?;
                Ok(Spanned {
                    value,
                    span: Some(start..end),
                })
            }
        }
        d.deserialize_newtype_struct(SPANNED, SpannedVisitor(PhantomData))
    }
}
