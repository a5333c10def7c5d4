//! JSON into the span tree, through `jsonc-parser` in strict mode (no
//! comments, trailing commas, single quotes or bare words: plain JSON),
//! which reports the byte range of every value and property name.

use jsonc_parser::ast::{ObjectPropName, Value};
use jsonc_parser::{CollectOptions, ParseOptions};

use super::{SourceEntry, SourceKind, SourceValue, SyntaxError};

/// Parses a JSON document.
pub fn parse(text: &str) -> Result<SourceValue, SyntaxError> {
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed =
        jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &strict).map_err(|e| {
            let r = e.range();
            SyntaxError {
                span: r.start..r.end.max(r.start),
                message: e.kind().to_string(),
                hint: "check the JSON syntax here".to_string(),
            }
        })?;
    match parsed.value {
        Some(v) => value(&v),
        None => Err(SyntaxError {
            span: 0..0,
            message: "the file is empty".to_string(),
            hint: "a JSON workflow is one object: {\"workflow\": {\"name\": ...}, ...}".to_string(),
        }),
    }
}

fn value(v: &Value<'_>) -> Result<SourceValue, SyntaxError> {
    let (range, kind) = match v {
        Value::StringLit(s) => (s.range, SourceKind::Str(s.value.to_string())),
        Value::NumberLit(n) => (n.range, number(n.value)),
        Value::BooleanLit(b) => (b.range, SourceKind::Bool(b.value)),
        Value::NullKeyword(n) => (n.range, SourceKind::Null),
        Value::Array(a) => {
            let items = a.elements.iter().map(value).collect::<Result<_, _>>()?;
            (a.range, SourceKind::Array(items))
        }
        Value::Object(o) => {
            let mut entries: Vec<SourceEntry> = Vec::with_capacity(o.properties.len());
            for p in &o.properties {
                let (key, r) = match &p.name {
                    ObjectPropName::String(s) => (s.value.to_string(), s.range),
                    ObjectPropName::Word(w) => (w.value.to_string(), w.range),
                };
                // JSON parsers keep the last of two equal keys silently; a
                // workflow with two `"agent"`s is a mistake worth naming.
                if entries.iter().any(|e| e.key == key) {
                    return Err(SyntaxError {
                        span: r.start..r.end,
                        message: format!("duplicate key `{key}`"),
                        hint: "remove one of the two entries".to_string(),
                    });
                }
                entries.push(SourceEntry {
                    key,
                    key_span: r.start..r.end,
                    value: value(&p.value)?,
                });
            }
            (o.range, SourceKind::Table(entries))
        }
    };
    Ok(SourceValue {
        span: range.start..range.end,
        kind,
    })
}

fn number(text: &str) -> SourceKind {
    if let Ok(n) = text.parse::<i64>() {
        SourceKind::Int(n)
    } else if let Ok(n) = text.parse::<u64>() {
        SourceKind::UInt(n)
    } else {
        SourceKind::Float(text.parse().unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_only() {
        assert!(parse("{\"a\": 1,}").is_err());
        assert!(parse("{// c\n\"a\": 1}").is_err());
        assert!(parse("{a: 1}").is_err());
        let e = parse("{\"a\": 1, \"a\": 2}").unwrap_err();
        assert_eq!((e.message.as_str(), e.span.start), ("duplicate key `a`", 9));
    }

    #[test]
    fn spans_are_byte_offsets() {
        let text = "{\"é\": \"ü\", \"n\": [18446744073709551615, -1, 1e3]}";
        let v = parse(text).unwrap();
        let n = v.get("n").unwrap();
        assert_eq!(&text[n.key_span.clone()], "\"n\"");
        let kinds: Vec<_> = (0..3)
            .map(|i| n.value.at(i).unwrap().kind.clone())
            .collect();
        assert_eq!(
            kinds,
            [
                SourceKind::UInt(u64::MAX),
                SourceKind::Int(-1),
                SourceKind::Float(1000.0)
            ]
        );
        assert_eq!(&text[v.get("é").unwrap().value.span.clone()], "\"ü\"");
    }
}
