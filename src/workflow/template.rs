//! Prompt templates: text with `{{ expr }}` placeholders.
//!
//! A placeholder holds any [`Expr`]; it renders strings raw, `null` as
//! nothing and other values as compact JSON. A literal `{{` is written
//! `{{ "{{" }}`. Templates are parsed once and rendered on the scheduler's
//! path, so rendering only walks the pre-split pieces.

use std::sync::Arc;

use serde_json::Value;

use super::expr::{Expr, ExprError, write_text};

/// A parsed template, cheap to clone.
#[derive(Debug, Clone)]
pub struct Template {
    source: Arc<str>,
    pieces: Arc<[Piece]>,
}

#[derive(Debug)]
enum Piece {
    Text(String),
    /// An expression and the offset of its text in the template.
    Expr(Expr, usize),
}

impl Template {
    /// Parses a template; error offsets are relative to `src`.
    pub fn parse(src: &str) -> Result<Template, ExprError> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = 0;
        while let Some(found) = src[rest..].find("{{") {
            let open = rest + found;
            text.push_str(&src[rest..open]);
            let inner_start = open + 2;
            let Some(close) = find_close(src, inner_start) else {
                return Err(ExprError {
                    offset: open,
                    message: "unclosed `{{`: add `}}`, or write `{{ \"{{\" }}` for a literal `{{`"
                        .to_string(),
                });
            };
            let inner = &src[inner_start..close];
            if inner.trim().is_empty() {
                return Err(ExprError {
                    offset: open,
                    message: "empty placeholder `{{ }}`".to_string(),
                });
            }
            let expr = Expr::parse(inner).map_err(|e| ExprError {
                offset: inner_start + e.offset,
                message: e.message,
            })?;
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Expr(expr, inner_start));
            rest = close + 2;
        }
        text.push_str(&src[rest..]);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template {
            source: Arc::from(src),
            pieces: pieces.into(),
        })
    }

    /// Renders it. An expression that fails to evaluate renders as nothing
    /// (validation rejects most such expressions before a run).
    pub fn render(&self, vars: &[(&str, &Value)]) -> String {
        let mut out = String::with_capacity(self.source.len() + 64);
        for p in self.pieces.iter() {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Expr(e, _) => {
                    if let Ok(v) = e.eval_cow(vars) {
                        write_text(&mut out, &v);
                    }
                }
            }
        }
        out
    }

    /// The text it was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Top-level variable names its placeholders read, each once.
    pub fn root_names(&self) -> Vec<&str> {
        self.root_refs().into_iter().map(|(n, _)| n).collect()
    }

    /// Like [`Template::root_names`], with the byte offset (in the template)
    /// of each name's first use.
    pub fn root_refs(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = Vec::new();
        for p in self.pieces.iter() {
            if let Piece::Expr(e, base) = p {
                for (n, at) in e.root_refs() {
                    if !out.iter().any(|(m, _)| *m == n) {
                        out.push((n, base + at));
                    }
                }
            }
        }
        out
    }

    /// The placeholder expressions, in order.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Expr(e, _) => Some(e),
            Piece::Text(_) => None,
        })
    }
}

impl Default for Template {
    /// `{{input}}`: the node's input, as is.
    fn default() -> Self {
        Template {
            source: Arc::from("{{input}}"),
            pieces: Arc::from(vec![Piece::Expr(Expr::var("input"), 2)]),
        }
    }
}

/// Finds the `}}` closing a placeholder whose expression starts at `from`,
/// skipping quoted strings so `{{ "}}" }}` works.
fn find_close(src: &str, from: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'"' || c == b'\'' {
                    quote = Some(c);
                } else if c == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_values() {
        let t = Template::parse("Topic: {{ input.topic }} / n={{input.n}} / {{ input.list }} / [{{ input.none }}] {{outputs.a}}")
            .unwrap();
        let input = json!({"topic": "rust", "n": 3, "list": [1, "x"]});
        let outputs = json!({"a": {"k": true}});
        assert_eq!(
            t.render(&[("input", &input), ("outputs", &outputs)]),
            "Topic: rust / n=3 / [1,\"x\"] / [] {\"k\":true}"
        );
        assert_eq!(t.root_names(), vec!["input", "outputs"]);
        assert_eq!(t.root_refs(), vec![("input", 10), ("outputs", 83)]);
        assert_eq!(t.exprs().count(), 5);
    }

    #[test]
    fn plain_text_and_literal_braces() {
        let t = Template::parse("no placeholders } here }}").unwrap();
        assert_eq!(t.render(&[]), "no placeholders } here }}");
        let t = Template::parse(r#"a {{ "{{" }} b {{ '}}' }} c"#).unwrap();
        assert_eq!(t.render(&[]), "a {{ b }} c");
        assert_eq!(Template::parse("").unwrap().render(&[]), "");
        assert_eq!(Template::parse("é{{'ü'}}é").unwrap().render(&[]), "éüé");
    }

    #[test]
    fn default_is_input() {
        let t = Template::default();
        assert_eq!(t.source(), "{{input}}");
        assert_eq!(t.root_names(), vec!["input"]);
        assert_eq!(t.render(&[("input", &json!("hello"))]), "hello");
        assert_eq!(t.render(&[("input", &json!({"a": 1}))]), "{\"a\":1}");
        let parsed = Template::parse("{{input}}").unwrap();
        assert_eq!(
            parsed.render(&[("input", &json!(7))]),
            t.render(&[("input", &json!(7))])
        );
    }

    #[test]
    fn eval_errors_render_empty() {
        let t = Template::parse("x{{ 'a' < 1 }}y").unwrap();
        assert_eq!(t.render(&[]), "xy");
    }

    #[test]
    fn errors_are_offset_into_the_template() {
        let e = Template::parse("Hello {{ input. }}").unwrap_err();
        assert_eq!(e.offset, 16);
        assert!(e.message.contains("field name"), "{e}");
        let e = Template::parse("ab {{ input").unwrap_err();
        assert_eq!(e.offset, 3);
        assert!(e.message.contains("unclosed"), "{e}");
        let e = Template::parse("ab {{  }}").unwrap_err();
        assert_eq!(e.offset, 3);
        let e = Template::parse("{{ \"}} }}").unwrap_err();
        assert_eq!(e.offset, 0);
        let e = Template::parse("x {{ a = 1 }}").unwrap_err();
        assert_eq!(e.offset, 7);
    }
}
