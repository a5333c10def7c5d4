//! The span tree: a workflow file parsed by a real parser of its format
//! (`toml`'s spanned `DeTable`, `jsonc-parser` in strict JSON mode) into
//! one tree type whose every key and value knows its byte range.
//!
//! The typed specs are read from this tree through [`de`], a serde
//! `Deserializer` over it: each spec struct stays the one list of its
//! fields (`deny_unknown_fields` gives the "unknown field" error with that
//! list), and every error gets the span of the key or value the
//! deserializer stood on. A hand conversion would repeat every field list
//! once more, which is what this module replaces. Validation then looks
//! keys up in the same tree, so no location is ever found by searching the
//! text.

use std::ops::Range;

pub mod de;
mod json;
mod toml;

pub use self::json::parse as parse_json;
pub use self::toml::parse as parse_toml;

/// A value and the byte range of its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceValue {
    /// Byte range: the value (for a `[table]` or `[[table]]`: its header).
    pub span: Range<usize>,
    /// What it is.
    pub kind: SourceKind,
}

/// The kinds of value both formats share.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceKind {
    /// JSON `null` (TOML has none).
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// A JSON integer above `i64::MAX`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A string (TOML datetimes are kept as their text).
    Str(String),
    /// A list.
    Array(Vec<SourceValue>),
    /// A table (JSON object), in source order.
    Table(Vec<SourceEntry>),
}

/// One `key = value` of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEntry {
    /// The key, unquoted.
    pub key: String,
    /// Byte range of the key as written (with its quotes, if any).
    pub key_span: Range<usize>,
    /// The value.
    pub value: SourceValue,
}

/// A file its parser rejects: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// Byte range of the offending text.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

impl SourceValue {
    /// The entries of a table (none for other kinds).
    pub fn entries(&self) -> &[SourceEntry] {
        match &self.kind {
            SourceKind::Table(e) => e,
            _ => &[],
        }
    }

    /// The entry `key` of this table.
    pub fn get(&self, key: &str) -> Option<&SourceEntry> {
        self.entries().iter().find(|e| e.key == key)
    }

    /// Element `i` of this list.
    pub fn at(&self, i: usize) -> Option<&SourceValue> {
        match &self.kind {
            SourceKind::Array(a) => a.get(i),
            _ => None,
        }
    }

    /// The entry `key` of this table, else the first one (in source order)
    /// of the tables nested in it: a key of `retry = { ... }`,
    /// `[nodes.retry]` or `retry.max_attempts = ...` is found alike.
    pub fn find_key(&self, key: &str) -> Option<&SourceEntry> {
        if let Some(e) = self.get(key) {
            return Some(e);
        }
        self.children()
            .filter_map(|c| c.find_key(key))
            .min_by_key(|e| e.key_span.start)
    }

    /// The first scalar (in source order) inside this value, itself
    /// included, written as `needle` (a JSON-quoted string or a number).
    pub fn find_scalar(&self, needle: &str) -> Option<&SourceValue> {
        let own = match &self.kind {
            SourceKind::Str(s) => serde_json::to_string(s).ok().is_some_and(|q| q == needle),
            SourceKind::Int(n) => n.to_string() == needle,
            SourceKind::UInt(n) => n.to_string() == needle,
            SourceKind::Float(f) => f.to_string() == needle,
            SourceKind::Bool(b) => b.to_string() == needle,
            _ => false,
        };
        if own {
            return Some(self);
        }
        self.children()
            .filter_map(|c| c.find_scalar(needle))
            .min_by_key(|v| v.span.start)
    }

    fn children(&self) -> Box<dyn Iterator<Item = &SourceValue> + '_> {
        match &self.kind {
            SourceKind::Array(a) => Box::new(a.iter()),
            SourceKind::Table(t) => Box::new(t.iter().map(|e| &e.value)),
            _ => Box::new(std::iter::empty()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &SourceValue) -> Vec<&str> {
        v.entries().iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn both_formats_give_the_same_tree_shape_with_their_own_spans() {
        let t = parse_toml("[a]\nb = 1\nc = [\"x\", 2.5]\n").unwrap();
        let j = parse_json("{\"a\": {\"b\": 1, \"c\": [\"x\", 2.5]}}").unwrap();
        for (v, text) in [
            (&t, "[a]\nb = 1\nc = [\"x\", 2.5]\n"),
            (&j, "{\"a\": {\"b\": 1, \"c\": [\"x\", 2.5]}}"),
        ] {
            let a = &v.get("a").unwrap().value;
            assert_eq!(keys(a), ["b", "c"]);
            let b = a.get("b").unwrap();
            assert_eq!(&text[b.value.span.clone()], "1");
            let x = a.get("c").unwrap().value.at(0).unwrap();
            assert_eq!(x.kind, SourceKind::Str("x".into()));
            assert_eq!(&text[x.span.clone()], "\"x\"");
            assert_eq!(
                a.get("c").unwrap().value.at(1).unwrap().kind,
                SourceKind::Float(2.5)
            );
        }
    }

    #[test]
    fn nested_keys_are_found_in_source_order() {
        let text = "[n]\nz = { k = 1 }\na = { k = 2 }\n";
        let t = parse_toml(text).unwrap();
        let n = &t.get("n").unwrap().value;
        let k = n.find_key("k").unwrap();
        assert_eq!(&text[k.value.span.clone()], "1");
        assert_eq!(n.find_scalar("2").map(|v| &text[v.span.clone()]), Some("2"));
        assert!(n.find_key("nope").is_none());
    }
}
