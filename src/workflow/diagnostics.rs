//! Located, human-readable errors and warnings about a workflow file,
//! rendered rustc-style:
//!
//! ```text
//! error: unknown agent `reseacher`
//!   --> flow.toml:12:9
//!    |
//! 12 | agent = "reseacher"
//!    |         ^^^^^^^^^^^
//!    = hint: did you mean `researcher`?
//! ```

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The workflow cannot run.
    Error,
    /// Suspicious but runnable.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One located message about a workflow file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// File path, or `builtin:NAME`.
    pub file: String,
    /// 1-based line; 0 when the message is about the file as a whole.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, in one line.
    pub hint: Option<String>,
    /// The source line the message points into.
    pub snippet: Option<String>,
    /// Width of the underline, in characters (at least 1).
    pub width: usize,
}

impl Diagnostic {
    /// An error at a byte range of `text`.
    pub fn error(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::at_span(Severity::Error, file, text, span, message)
    }

    /// A warning at a byte range of `text`.
    pub fn warning(file: &str, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self::at_span(Severity::Warning, file, text, span, message)
    }

    /// A diagnostic at a byte range of `text`; the range is clamped to the
    /// text and to character boundaries, so any range is accepted.
    pub fn at_span(
        severity: Severity,
        file: &str,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(start));
        let (line, column) = line_col(text, start);
        let (line_start, line_end) = line_bounds(text, start);
        // The underline stops at the end of the first line of the span.
        let width = text[start..end.min(line_end).max(start)]
            .chars()
            .count()
            .max(1);
        Diagnostic {
            severity,
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            hint: None,
            snippet: Some(text[line_start..line_end].to_string()),
            width,
        }
    }

    /// An error at a 1-based line and column of `text` (as reported by
    /// `serde_json`); out-of-range positions are clamped.
    pub fn error_at_line_col(
        file: &str,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self::error(
            file,
            text,
            offset_of(text, line, column)..offset_of(text, line, column) + 1,
            message,
        )
    }

    /// An error about a whole file (unreadable, unknown built-in): no line.
    pub fn file_error(file: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
            hint: None,
            snippet: None,
            width: 1,
        }
    }

    /// Adds a fix hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.severity.as_str(), self.message)?;
        if self.line == 0 {
            write!(f, "  --> {}", self.file)?;
        } else {
            write!(f, "  --> {}:{}:{}", self.file, self.line, self.column)?;
        }
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        if let (Some(src), true) = (&self.snippet, self.line > 0) {
            write!(f, "\n{pad} |\n{} | {}\n{pad} | ", self.line, src)?;
            // Keep tabs so the caret lines up with the source line.
            for c in src.chars().take(self.column.saturating_sub(1)) {
                f.write_str(if c == '\t' { "\t" } else { " " })?;
            }
            write!(f, "{}", "^".repeat(self.width.max(1)))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n{pad} = hint: {h}")?;
        }
        Ok(())
    }
}

/// A list of diagnostics, errors and warnings mixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// True if any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.0.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.0.len() - self.error_count()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds one.
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    /// Iterates over them.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Orders them by file position, errors before warnings at a tie, so
    /// the output reads top to bottom.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (&a.file, a.line, a.column, a.severity).cmp(&(&b.file, b.line, b.column, b.severity))
        });
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The largest char boundary `<= offset` (offsets past the end clamp to it).
pub fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut i = offset.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// 1-based line and column (in characters) of a byte offset; clamped.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(text, offset);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[line_start..offset].chars().count() + 1)
}

/// Byte offset of a 1-based line and column (in characters); clamped to the
/// line's end and to the text.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line.max(1) {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    text[start..end]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(end, |(i, _)| start + i)
}

/// Byte range of the line holding `offset`, without its line break.
fn line_bounds(text: &str, offset: usize) -> (usize, usize) {
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let end = if end > start && text.as_bytes().get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    };
    (start, end.max(start))
}

/// Edit distance by characters, counting a swap of two neighbours as one
/// edit (optimal string alignment), since `agnet` is a typo of `agent`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (i, row) in d.chunks_mut(w).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(w).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a likely
/// typo (distance at most a third of the word's length, at least 1).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    let limit = (len / 3).max(1);
    // Long words are never typos of short names; skipping them also keeps
    // the quadratic distance cheap whatever the input.
    if len > 64 {
        return None;
    }
    candidates
        .into_iter()
        .filter(|c| *c != word && c.chars().count().abs_diff(len) <= limit)
        .map(|c| (edit_distance(&word.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let t = "ab\ncdé\nfg";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        assert_eq!(line_col(t, 7), (2, 4));
        assert_eq!(line_col(t, 6), (2, 3)); // inside `é`: clamped back
        assert_eq!(line_col(t, 999), (3, 3));
        assert_eq!(offset_of(t, 2, 3), 5);
        assert_eq!(offset_of(t, 3, 99), t.len());
        assert_eq!(offset_of(t, 99, 1), t.len());
        assert_eq!(offset_of(t, 0, 0), 0);
    }

    #[test]
    fn renders_like_rustc() {
        let text = "[[nodes]]\nagent = \"reseacher\"\n";
        let d = Diagnostic::error("flow.toml", text, 18..29, "unknown agent `reseacher`")
            .with_hint("did you mean `researcher`?");
        assert_eq!((d.line, d.column, d.width), (2, 9, 11));
        assert_eq!(
            d.to_string(),
            "error: unknown agent `reseacher`\n  --> flow.toml:2:9\n  |\n2 | agent = \"reseacher\"\n  |         ^^^^^^^^^^^\n  = hint: did you mean `researcher`?"
        );
        let f = Diagnostic::file_error("x.toml", "cannot read `x.toml`: not found");
        assert_eq!(
            f.to_string(),
            "error: cannot read `x.toml`: not found\n  --> x.toml"
        );
    }

    #[test]
    fn spans_are_clamped() {
        let text = "a\r\nbé";
        #[allow(clippy::reversed_empty_ranges)] // a reversed span must not panic either
        for span in [0..0, 5..2, 99..200, 4..5, 0..99] {
            let d = Diagnostic::warning("f", text, span, "m");
            assert!(d.line >= 1 && d.width >= 1);
            let _ = d.to_string();
        }
        assert_eq!(
            Diagnostic::error("f", text, 0..3, "m").snippet.as_deref(),
            Some("a")
        );
        assert_eq!(
            Diagnostic::error("f", "", 0..0, "m").to_string(),
            "error: m\n  --> f:1:1\n  |\n1 | \n  | ^"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("agnet", "agent"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("agnet", ["agent", "kind", "id"]),
            Some("agent")
        );
        assert_eq!(
            did_you_mean("reseacher", ["writer", "researcher"]),
            Some("researcher")
        );
        assert_eq!(did_you_mean("zzz", ["agent"]), None);
        assert_eq!(did_you_mean("agent", ["agent"]), None);
    }

    #[test]
    fn collection() {
        let mut ds = Diagnostics::default();
        assert!(!ds.has_errors());
        ds.push(Diagnostic::warning("f", "a\nb", 2..3, "w"));
        ds.push(Diagnostic::error("f", "a\nb", 0..1, "e"));
        ds.sort();
        assert_eq!(ds.0[0].message, "e");
        assert!(ds.has_errors());
        assert_eq!((ds.error_count(), ds.warning_count()), (1, 1));
        assert!(ds.to_string().contains("\n\nwarning: w"));
    }
}
