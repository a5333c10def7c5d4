//! TOML into the span tree, through `toml`'s own spanned document
//! (`toml::de::DeTable`): the parser that reads the file gives every key and
//! value its range, including dotted keys and inline tables. (`toml_edit`
//! would do as well but keeps formatting we do not need; `toml` is already
//! the crate that parses config files.)

use ::toml::de::{DeTable, DeValue};
use serde_spanned::Spanned;

use super::{SourceEntry, SourceKind, SourceValue, SyntaxError};

/// Parses a TOML document.
pub fn parse(text: &str) -> Result<SourceValue, SyntaxError> {
    let root = DeTable::parse(text).map_err(|e| syntax_error(&e, text))?;
    let span = root.span();
    Ok(SourceValue {
        span,
        kind: table(root.get_ref()),
    })
}

fn table(t: &DeTable<'_>) -> SourceKind {
    let mut entries: Vec<SourceEntry> = t
        .iter()
        .map(|(k, v)| SourceEntry {
            key: k.get_ref().to_string(),
            key_span: k.span(),
            value: value(v),
        })
        .collect();
    // The document's map is sorted by key; keep the file's order instead.
    entries.sort_by_key(|e| e.key_span.start);
    SourceKind::Table(entries)
}

fn value(v: &Spanned<DeValue<'_>>) -> SourceValue {
    let kind = match v.get_ref() {
        DeValue::String(s) => SourceKind::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => SourceKind::Int(n),
            // The parser refuses integers outside i64; keep the text.
            Err(_) => SourceKind::Str(i.to_string()),
        },
        DeValue::Float(f) => SourceKind::Float(float(f.as_str())),
        DeValue::Boolean(b) => SourceKind::Bool(*b),
        DeValue::Datetime(d) => SourceKind::Str(d.to_string()),
        DeValue::Array(a) => SourceKind::Array(a.iter().map(value).collect()),
        DeValue::Table(t) => table(t),
    };
    SourceValue {
        span: v.span(),
        kind,
    }
}

/// A TOML float's text (`inf`, `+inf`, `nan` included) as a number.
fn float(s: &str) -> f64 {
    s.replace('_', "").parse().unwrap_or(f64::NAN)
}

fn syntax_error(e: &::toml::de::Error, text: &str) -> SyntaxError {
    let span = e.span().unwrap_or(0..0);
    let first = e.message().lines().next().unwrap_or("").trim().to_string();
    if first.starts_with("duplicate key") {
        let key = text
            .get(span.clone())
            .unwrap_or("")
            .trim_matches(['"', '\'']);
        return SyntaxError {
            span,
            message: format!("duplicate key `{key}`"),
            hint: "remove one of the two entries".to_string(),
        };
    }
    SyntaxError {
        span,
        message: first,
        hint: "check the TOML syntax here".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_keys_and_inline_tables_have_exact_spans() {
        let text = "a.b = 1\nc = { d = \"x\" }\ns = \"\"\"\n[x] {y}\n\"\"\"\n";
        let t = parse(text).unwrap();
        let a = t.get("a").unwrap();
        assert_eq!(&text[a.key_span.clone()], "a");
        let b = a.value.get("b").unwrap();
        assert_eq!(
            (&text[b.key_span.clone()], &text[b.value.span.clone()]),
            ("b", "1")
        );
        let d = t.get("c").unwrap().value.get("d").unwrap();
        assert_eq!(&text[d.value.span.clone()], "\"x\"");
        assert_eq!(
            t.get("s").unwrap().value.kind,
            SourceKind::Str("[x] {y}\n".into())
        );
    }

    #[test]
    fn duplicate_keys_name_the_key() {
        let text = "a = 1\na = 2\n";
        let e = parse(text).unwrap_err();
        assert_eq!(e.message, "duplicate key `a`");
        assert_eq!(e.span.start, 6);
    }
}
