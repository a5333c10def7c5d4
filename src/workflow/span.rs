//! `Spanned<T>`: a value with the byte range it came from in a TOML file.
//!
//! TOML files carry spans (through `toml::Spanned`); JSON files and workflows
//! built in code do not, so the span is optional. The loader switches span
//! capture on for the duration of a TOML parse (a thread-local flag), because
//! serde gives a `Deserialize` impl no way to ask which format it reads.

use std::cell::Cell;
use std::ops::{Deref, Range};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

thread_local! {
    static CAPTURE_TOML_SPANS: Cell<bool> = const { Cell::new(false) };
}

/// Turns TOML span capture on until dropped.
pub(crate) struct TomlSpanCapture {
    previous: bool,
}

impl TomlSpanCapture {
    pub(crate) fn start() -> Self {
        let previous = CAPTURE_TOML_SPANS.with(|c| c.replace(true));
        TomlSpanCapture { previous }
    }
}

impl Drop for TomlSpanCapture {
    fn drop(&mut self) {
        CAPTURE_TOML_SPANS.with(|c| c.set(self.previous));
    }
}

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
        if CAPTURE_TOML_SPANS.with(|c| c.get()) {
            let s = toml::Spanned::<T>::deserialize(d)?;
            let span = s.span();
            Ok(Spanned {
                value: s.into_inner(),
                span: Some(span),
            })
        } else {
            Ok(Spanned {
                value: T::deserialize(d)?,
                span: None,
            })
        }
    }
}
