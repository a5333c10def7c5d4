//! Loading a workflow file: read it (or a built-in), parse TOML or JSON,
//! then validate and compile it. Every failure is a located [`Diagnostic`].

use std::path::Path;

use super::builtins;
use super::diagnostics::{Diagnostic, Diagnostics, did_you_mean, offset_of};
use super::model::Workflow;
use super::source_file;
use super::span::TomlSpanCapture;
use super::spec::WorkflowSpec;
use super::validate;

/// Syntax of a workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// JSON with the same schema.
    Json,
}

impl Format {
    /// Format for a path: `.json` is JSON, anything else TOML.
    pub fn from_path(path: &str) -> Format {
        let json = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json { Format::Json } else { Format::Toml }
    }
}

/// A loaded, validated workflow with its source.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What the engine runs.
    pub workflow: Workflow,
    /// The file as parsed.
    pub spec: WorkflowSpec,
    /// The file's text.
    pub text: String,
    /// Path, or `builtin:NAME`.
    pub origin: String,
    /// Warnings (unreachable nodes, unused agents).
    pub warnings: Diagnostics,
}

/// Loads `builtin:NAME` or a file path (format by extension).
pub fn load_source(arg: &str) -> Result<Loaded, Diagnostics> {
    if let Some(name) = arg.strip_prefix("builtin:") {
        return match builtins::get(name) {
            Some(b) => load_str(b.text, arg, Format::Toml),
            None => {
                let names: Vec<&str> = builtins::BUILTINS.iter().map(|b| b.name).collect();
                let hint = match did_you_mean(name, names.iter().copied()) {
                    Some(s) => format!("did you mean `builtin:{s}`?"),
                    None if names.is_empty() => {
                        "there are no built-in workflows in this build".to_string()
                    }
                    None => format!("available: {}", names.join(", ")),
                };
                Err(
                    Diagnostic::file_error(arg, format!("unknown built-in workflow `{name}`"))
                        .with_hint(hint)
                        .into(),
                )
            }
        };
    }
    let text =
        source_file::read_text(Path::new(arg), source_file::MAX_TEXT_BYTES).map_err(|e| {
            Diagnostics::from(
                Diagnostic::file_error(arg, format!("cannot read `{arg}`: {e}"))
                    .with_hint(e.hint()),
            )
        })?;
    load_str(&text, arg, Format::from_path(arg))
}

/// Parses, validates and compiles a workflow text; `origin` names it in
/// diagnostics.
pub fn load_str(text: &str, origin: &str, format: Format) -> Result<Loaded, Diagnostics> {
    let spec = match format {
        Format::Toml => {
            // Spans are captured only while this guard lives.
            let _capture = TomlSpanCapture::start();
            toml::from_str::<WorkflowSpec>(text).map_err(|e| toml_error(&e, text, origin))?
        }
        Format::Json => {
            serde_json::from_str::<WorkflowSpec>(text).map_err(|e| json_error(&e, text, origin))?
        }
    };
    let (workflow, warnings) = validate::compile(&spec, text, origin)?;
    Ok(Loaded {
        workflow,
        spec,
        text: text.to_string(),
        origin: origin.to_string(),
        warnings,
    })
}

fn toml_error(e: &toml::de::Error, text: &str, origin: &str) -> Diagnostics {
    let (message, hint) = explain(e.message(), "TOML");
    let span = e.span().unwrap_or(0..0);
    Diagnostic::error(origin, text, span, message)
        .with_hint(hint)
        .into()
}

fn json_error(e: &serde_json::Error, text: &str, origin: &str) -> Diagnostics {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let raw = full.strip_suffix(&suffix).unwrap_or(&full);
    let (message, hint) = explain(raw, "JSON");
    let at = offset_of(text, e.line(), e.column());
    // serde_json points past an unknown key; point at the key itself.
    let span = match backticked(raw)
        .first()
        .filter(|_| raw.starts_with("unknown field"))
    {
        Some(key) => {
            let q = serde_json::to_string(key).unwrap_or_default();
            let end = (at + 1).min(text.len());
            match text.get(..end).and_then(|t| t.rfind(&q)) {
                Some(s) => s..s + q.len(),
                None => at..at + 1,
            }
        }
        None => at..at + 1,
    };
    let mut d = Diagnostic::error(origin, text, span, message).with_hint(hint);
    if e.line() == 0 {
        d.line = 1;
    }
    d.into()
}

/// The names between backticks in a serde message, in order.
fn backticked(msg: &str) -> Vec<&str> {
    msg.split('`').skip(1).step_by(2).collect()
}

/// Rewrites a serde error message into (message, one-line hint).
fn explain(msg: &str, syntax: &str) -> (String, String) {
    let names = backticked(msg);
    let expected = || {
        let (_, tail) = msg.split_once("expected").unwrap_or(("", ""));
        backticked(tail)
    };
    let suggest =
        |word: &str, valid: &[&str], what: &str| match did_you_mean(word, valid.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if valid.is_empty() => format!("there are no {what} here"),
            None => {
                let list: Vec<String> = valid.iter().map(|v| format!("`{v}`")).collect();
                format!("{what} here: {}", list.join(", "))
            }
        };
    if msg.starts_with("unknown field")
        && let Some(field) = names.first()
    {
        return (
            format!("unknown field `{field}`"),
            suggest(field, &expected(), "valid fields"),
        );
    }
    if msg.starts_with("unknown variant")
        && let Some(v) = names.first()
    {
        return (
            format!("unknown value `{v}`"),
            suggest(v, &expected(), "valid values"),
        );
    }
    if msg.starts_with("missing field")
        && let Some(field) = names.first()
    {
        let hint = match *field {
            "workflow" => "add a `[workflow]` table with a `name`".to_string(),
            _ => format!("add `{field} = ...` to this table"),
        };
        return (format!("missing field `{field}`"), hint);
    }
    if msg.starts_with("duplicate key")
        || msg.starts_with("duplicate field")
        || msg.contains("duplicate key")
    {
        return (msg.to_string(), "remove one of the two entries".to_string());
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((found, want)) = rest.rsplit_once(", expected ")
        {
            let want = friendly_type(want);
            let what = if prefix == "invalid type: " {
                "wrong type"
            } else {
                "invalid value"
            };
            return (
                format!("{what}: found {found}, expected {want}"),
                format!("write {want} here"),
            );
        }
    }
    let first = msg.lines().next().unwrap_or(msg).trim().to_string();
    (first, format!("check the {syntax} syntax here"))
}

/// Serde's Rust type names, in words.
fn friendly_type(t: &str) -> String {
    match t.trim() {
        "i64" | "i32" => "an integer".to_string(),
        "u64" | "u32" | "u16" | "u8" => "a non-negative integer".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "a sequence" => "a list".to_string(),
        "a boolean" | "a string" => t.trim().to_string(),
        other if other.starts_with("struct ") => "a table".to_string(),
        other if other.starts_with("enum ") => "one of the allowed values".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(Format::from_path("a/b.json"), Format::Json);
        assert_eq!(Format::from_path("B.JSON"), Format::Json);
        assert_eq!(Format::from_path("a.toml"), Format::Toml);
        assert_eq!(Format::from_path("noext"), Format::Toml);
    }

    #[test]
    fn explains_serde_messages() {
        let (m, h) = explain(
            "unknown field `agnet`, expected one of `id`, `agent`",
            "TOML",
        );
        assert_eq!(
            (m.as_str(), h.as_str()),
            ("unknown field `agnet`", "did you mean `agent`?")
        );
        let (_, h) = explain("unknown field `zzz`, expected `when` or `to`", "TOML");
        assert_eq!(h, "valid fields here: `when`, `to`");
        let (m, h) = explain("invalid type: string \"high\", expected i64", "TOML");
        assert_eq!(m, "wrong type: found string \"high\", expected an integer");
        assert_eq!(h, "write an integer here");
        let (m, _) = explain("invalid value: integer `-1`, expected u32", "TOML");
        assert_eq!(
            m,
            "invalid value: found integer `-1`, expected a non-negative integer"
        );
        let (m, h) = explain("missing field `kind`", "TOML");
        assert_eq!(
            (m.as_str(), h.as_str()),
            ("missing field `kind`", "add `kind = ...` to this table")
        );
        let (m, h) = explain("unclosed table, expected `]`", "TOML");
        assert_eq!(
            (m.as_str(), h.as_str()),
            ("unclosed table, expected `]`", "check the TOML syntax here")
        );
    }

    #[test]
    fn unreadable_and_unknown_sources() {
        let e = load_source("/nonexistent/dir/flow.toml").unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(
            e.0[0]
                .message
                .starts_with("cannot read `/nonexistent/dir/flow.toml`: "),
            "{e}"
        );
        assert_eq!(e.0[0].line, 0);
        let e = load_source("builtin:surely-not-a-builtin").unwrap_err();
        assert!(
            e.0[0]
                .message
                .contains("unknown built-in workflow `surely-not-a-builtin`"),
            "{e}"
        );
        let dir = std::env::temp_dir();
        let e = load_source(dir.to_str().unwrap_or("/")).unwrap_err();
        assert!(e.0[0].message.starts_with("cannot read"), "{e}");
    }

    #[test]
    fn every_builtin_loads() {
        for b in builtins::BUILTINS {
            let origin = format!("builtin:{}", b.name);
            if let Err(e) = load_source(&origin) {
                panic!("{origin} does not load:\n{e}");
            }
        }
    }
}
