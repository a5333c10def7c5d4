//! Secrets (API keys): a wrapper that never prints its value, and a scrubber
//! for any text we show that might quote one (server error bodies, config
//! errors).

use std::fmt;

/// An API key or other credential. `Debug`/`Display` print `[REDACTED]`, it
/// has no `Serialize`, and the value is reachable only through
/// [`Secret::expose`], so it cannot slip into an event, a session file or a
/// log by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no key is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(none)")
        } else {
            f.write_str("[REDACTED]")
        }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Replaces credential-looking parts of `text` with `[REDACTED]`:
/// `Authorization`/`api-key`/`x-api-key` header values, `Bearer` tokens,
/// and key-shaped words (`sk-…`, `sk_…`, `key-…` with 16+ characters).
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut redact_next = false;
    for piece in split_keep(text) {
        if piece
            .chars()
            .all(|c| is_separator(c) || c == ':' || c == '=')
        {
            out.push_str(piece);
            continue;
        }
        let lower = piece.to_ascii_lowercase();
        let label = lower.trim_end_matches(':').trim_end_matches('=');
        if redact_next {
            redact_next = label == "bearer" || label == "basic";
            if redact_next {
                out.push_str(piece);
            } else {
                out.push_str("[REDACTED]");
            }
            continue;
        }
        if matches!(
            label.trim_matches('"'),
            "authorization" | "bearer" | "api-key" | "x-api-key" | "api_key" | "apikey"
        ) {
            redact_next = true;
            out.push_str(piece);
            continue;
        }
        if looks_like_key(piece) {
            out.push_str("[REDACTED]");
        } else {
            out.push_str(piece);
        }
    }
    out
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | ',' | '{' | '}' | '(' | ')' | '[' | ']')
}

/// Splits into words and runs of separators, keeping both.
fn split_keep(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_sep: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let sep = is_separator(c);
        if in_sep.is_some_and(|s| s != sep) {
            parts.push(&text[start..i]);
            start = i;
        }
        in_sep = Some(sep);
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

fn looks_like_key(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ':', ';']);
    let body = ["sk-", "sk_", "key-", "gsk_", "pk-"]
        .iter()
        .find_map(|p| w.strip_prefix(p));
    body.is_some_and(|b| {
        b.len() >= 16
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("sk-test-MARKER");
        assert_eq!(format!("{s:?} {s}"), "[REDACTED] [REDACTED]");
        assert_eq!(s.expose(), "sk-test-MARKER");
    }

    #[test]
    fn redacts_headers_and_key_shaped_words() {
        let r = redact("Authorization: Bearer abc.def-123 rest");
        assert_eq!(r, "Authorization: Bearer [REDACTED] rest");
        let r = redact(r#"{"api-key": "hunter2"} ok"#);
        assert_eq!(r, r#"{"api-key": "[REDACTED]"} ok"#);
        let r = redact("Incorrect API key provided: sk-proj-abcdefghijklmnop1234.");
        assert_eq!(r, "Incorrect API key provided: [REDACTED]");
        assert_eq!(redact("skip this sk-short"), "skip this sk-short");
    }
}
