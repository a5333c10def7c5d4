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

use unicode_width::UnicodeWidthChar;

use crate::text;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    /// The workflow cannot run.
    Error,
    /// Suspicious but runnable.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        self.into()
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
    /// The source line the message points into; of a long line, only the
    /// part around `column` (see `snippet_column`).
    pub snippet: Option<String>,
    /// 1-based column of the snippet's first character (1 unless the line
    /// was too long to keep whole).
    pub snippet_column: usize,
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
        let (line, column) = line_col(text, start);
        let bounds = line_bounds(text, start);
        Self::located(severity, file, text, span, (line, column), bounds, message)
    }

    /// [`Diagnostic::at_span`] with the line breaks of `text` looked up in
    /// `lines` (built once for `text`): many diagnostics about one file then
    /// cost no more than its size once, not once each.
    pub fn at_span_in(
        severity: Severity,
        file: &str,
        lines: &LineIndex<'_>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let text = lines.text();
        let start = floor_char_boundary(text, span.start);
        let position = lines.line_col(start);
        let bounds = lines.line_bounds(start);
        Self::located(severity, file, text, span, position, bounds, message)
    }

    fn located(
        severity: Severity,
        file: &str,
        text: &str,
        span: Range<usize>,
        (line, column): (usize, usize),
        (line_start, line_end): (usize, usize),
        message: impl Into<String>,
    ) -> Self {
        let start = floor_char_boundary(text, span.start);
        let end = floor_char_boundary(text, span.end.max(start));
        // A window of a long line around the column: a 10 MB line must not
        // be copied into every diagnostic that points into it.
        let (snippet_start, snippet_column) = if line_end - line_start > 4 * SNIPPET_CHARS {
            let from = floor_char_boundary(
                text,
                start.saturating_sub(SNIPPET_CHARS / 4).max(line_start),
            );
            (from, column - text[from..start].chars().count())
        } else {
            (line_start, 1)
        };
        let snippet_end = if line_end - snippet_start > 4 * SNIPPET_CHARS {
            floor_char_boundary(text, snippet_start + 4 * SNIPPET_CHARS)
        } else {
            line_end
        };
        // The underline stops at the end of the first line of the span (and
        // of the snippet kept).
        let width = text[start..end.min(snippet_end).max(start)]
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
            snippet: Some(text[snippet_start..snippet_end].to_string()),
            snippet_column,
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
            snippet_column: 1,
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

/// Most characters of a source line shown under a diagnostic, and of one
/// `quoted` value in its message or hint: a 10 MB value is echoed as its
/// first 200 characters and an ellipsis, not in full (three times).
pub const SNIPPET_CHARS: usize = 200;

/// Most characters of a whole message or hint, whatever it quotes.
const MESSAGE_CHARS: usize = 2000;

/// Most diagnostics `Diagnostics` shows; the rest are counted.
pub const SHOWN: usize = 50;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {}",
            self.severity.as_str(),
            clip_quoted(&self.message, SNIPPET_CHARS, MESSAGE_CHARS)
        )?;
        if self.line == 0 {
            write!(f, "  --> {}", clip(&self.file, SNIPPET_CHARS))?;
        } else {
            write!(
                f,
                "  --> {}:{}:{}",
                clip(&self.file, SNIPPET_CHARS),
                self.line,
                self.column
            )?;
        }
        let gutter = self.line.to_string().len();
        let pad = " ".repeat(gutter);
        if let (Some(src), true) = (&self.snippet, self.line > 0) {
            // Show at most SNIPPET_CHARS of the line, starting a little
            // before the column when the column lies further in.
            let caret = self.column.saturating_sub(self.snippet_column);
            let skip = caret.saturating_sub(SNIPPET_CHARS / 4);
            let cut_before = skip > 0 || self.snippet_column > 1;
            let total = src.chars().count();
            let cut_after = total > skip + SNIPPET_CHARS;
            let shown: String = src.chars().skip(skip).take(SNIPPET_CHARS).collect();
            let lead = if cut_before { "…" } else { "" };
            write!(
                f,
                "\n{pad} |\n{} | {lead}{shown}{}\n{pad} | {}",
                self.line,
                if cut_after { "…" } else { "" },
                if cut_before { " " } else { "" }
            )?;
            // Keep tabs, and pad and underline by display width, so the
            // caret lines up with the source line (CJK and emoji take two
            // columns each).
            let before = caret - skip;
            for c in shown.chars().take(before) {
                if c == '\t' {
                    f.write_str("\t")?;
                } else {
                    let w = UnicodeWidthChar::width(c).unwrap_or(0);
                    write!(f, "{:w$}", "")?;
                }
            }
            let room = shown.chars().count().saturating_sub(before).max(1);
            let under: usize = shown
                .chars()
                .skip(before)
                .take(self.width.clamp(1, room))
                .map(|c| UnicodeWidthChar::width(c).unwrap_or(0))
                .sum();
            write!(f, "{}", "^".repeat(under.max(1)))?;
        }
        if let Some(h) = &self.hint {
            write!(
                f,
                "\n{pad} = hint: {}",
                clip_quoted(h, SNIPPET_CHARS, MESSAGE_CHARS)
            )?;
        }
        Ok(())
    }
}

/// `text`'s first `max` characters and `…` when it is longer (the ellipsis
/// comes on top of the `max`).
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    text::clip(text, max + 1)
}

/// `text` with every `quoted` run longer than `quote` characters cut to
/// that, and the whole cut to `total` characters.
fn clip_quoted(text: &str, quote: usize, total: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= quote {
        return text.into();
    }
    let mut out = String::with_capacity(text.len().min(total * 4));
    // Even pieces are outside backticks, odd pieces inside.
    for (i, piece) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&clip(piece, quote));
        } else {
            out.push_str(piece);
        }
        if out.len() > total * 4 {
            break;
        }
    }
    match clip(&out, total) {
        std::borrow::Cow::Borrowed(_) => out.into(),
        std::borrow::Cow::Owned(o) => o.into(),
    }
}

/// A list of diagnostics, errors and warnings mixed.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// Debug prints the same `file:line:column: error: …` text as Display:
/// `fn main() -> Result<(), Box<dyn Error>>` and `unwrap()` show a
/// library user's mistake through Debug, and a struct dump there points
/// nowhere useful. `{:#?}` still shows the structure.
impl fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_tuple("Diagnostics").field(&self.0).finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

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
    /// The first [`SHOWN`], then how many more there are: past a few dozen,
    /// more of the same helps nobody and 50,000 would flood the terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("\n\n")?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > SHOWN {
            let (errors, warnings) = (self.error_count(), self.warning_count());
            let mut all = Vec::new();
            if errors > 0 {
                all.push(format!("{} error{}", thousands(errors), plural(errors)));
            }
            if warnings > 0 {
                all.push(format!(
                    "{} warning{}",
                    thousands(warnings),
                    plural(warnings)
                ));
            }
            write!(
                f,
                "\n\n…and {} more ({} in all)",
                thousands(self.0.len() - SHOWN),
                all.join(", ")
            )?;
        }
        Ok(())
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `49950` → `49,950`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where the lines of one text start, so that positions in it are found by
/// a binary search instead of a scan from the top.
#[derive(Debug, Clone)]
pub struct LineIndex<'a> {
    text: &'a str,
    /// Byte offset of each line's first character.
    starts: Vec<usize>,
    /// UTF-8 continuation bytes before each multiple of `BLOCK`, so that a
    /// column in a long line (a one-line JSON file) costs one block's scan.
    continuations: Vec<usize>,
}

const BLOCK: usize = 4096;

fn is_continuation(b: u8) -> bool {
    (b as i8) < -0x40
}

impl<'a> LineIndex<'a> {
    /// Indexes `text` (one pass).
    pub fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        let continuations = std::iter::once(0)
            .chain(text.as_bytes().chunks(BLOCK).scan(0, |sum, block| {
                *sum += block.iter().filter(|&&b| is_continuation(b)).count();
                Some(*sum)
            }))
            .collect();
        LineIndex {
            text,
            starts,
            continuations,
        }
    }

    /// Continuation bytes before byte `offset`.
    fn continuations_before(&self, offset: usize) -> usize {
        let block = offset / BLOCK;
        self.continuations[block]
            + self.text.as_bytes()[block * BLOCK..offset]
                .iter()
                .filter(|&&b| is_continuation(b))
                .count()
    }

    /// The indexed text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// 0-based line holding byte `offset` (already on a char boundary).
    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) - 1
    }

    /// 1-based line and column (in characters) of a byte offset; clamped,
    /// as [`line_col`].
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(self.text, offset);
        let line = self.line_of(offset);
        let start = self.starts[line];
        // Characters are the bytes that do not continue a UTF-8 sequence.
        let column = (offset - start)
            - (self.continuations_before(offset) - self.continuations_before(start));
        (line + 1, column + 1)
    }

    /// Byte range of the line holding `offset`, without its line break.
    fn line_bounds(&self, offset: usize) -> (usize, usize) {
        let line = self.line_of(offset);
        let start = self.starts[line];
        let end = self
            .starts
            .get(line + 1)
            .map_or(self.text.len(), |&next| next - 1);
        let end = if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        (start, end)
    }
}

impl std::error::Error for Diagnostics {}

pub use crate::text::floor_char_boundary;

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
    strsim::osa_distance(a, b)
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
    fn debug_reads_like_display() {
        let text = "[[nodes]]\nagent = \"reseacher\"\n";
        let ds = Diagnostics::from(Diagnostic::error(
            "flow.toml",
            text,
            18..29,
            "unknown agent `reseacher`",
        ));
        // What `fn main() -> Result<(), Box<dyn Error>>` prints on `?`.
        let boxed: Box<dyn std::error::Error> = Box::new(ds.clone());
        assert_eq!(format!("{boxed:?}"), ds.to_string());
        assert!(format!("{ds:?}").contains("--> flow.toml:2:9"));
        assert!(format!("{ds:#?}").starts_with("Diagnostics("));
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
    fn the_line_index_agrees_with_the_scan() {
        // CRLF, multi-byte characters, and a line longer than a block.
        let long = "é".repeat(3000) + "x" + &"ab".repeat(2500);
        let text = format!("a\r\nbé漢\n\n{long}\nlast");
        let index = LineIndex::new(&text);
        for offset in (0..text.len() + 3)
            .step_by(7)
            .chain([0, 1, 2, 3, text.len()])
        {
            assert_eq!(
                index.line_col(offset),
                line_col(&text, offset),
                "at {offset}"
            );
            let start = floor_char_boundary(&text, offset);
            assert_eq!(
                index.line_bounds(start),
                line_bounds(&text, start),
                "at {offset}"
            );
            let span = offset..offset + 5;
            assert_eq!(
                Diagnostic::at_span_in(Severity::Error, "f", &index, span.clone(), "m"),
                Diagnostic::error("f", &text, span, "m"),
                "at {offset}"
            );
        }
        assert_eq!(LineIndex::new("").line_col(9), (1, 1));
    }

    use proptest::prelude::{Just, ProptestConfig, Strategy};

    proptest::proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..Default::default() })]
        /// Any span of any text (long lines, CRLF, multi-byte) is located
        /// the same with and without the index, and renders without panic
        /// and within bounds.
        #[test]
        fn any_span_locates_and_renders(
            pieces in proptest::collection::vec(proptest::prop_oneof![
                Just("\n".to_string()),
                Just("\r\n".to_string()),
                Just("é漢\t".to_string()),
                "[a-z`]{0,40}",
                (1usize..1500).prop_map(|n| "x".repeat(n)),
            ], 0..30),
            a in 0usize..40_000,
            len in 0usize..2_000,
        ) {
            let text: String = pieces.concat();
            let span = a.min(text.len() + 5)..a.min(text.len() + 5) + len;
            let index = LineIndex::new(&text);
            let plain = Diagnostic::error("f", &text, span.clone(), format!("m `{}`", "q".repeat(len)));
            let indexed = Diagnostic::at_span_in(Severity::Error, "f", &index, span, format!("m `{}`", "q".repeat(len)));
            proptest::prop_assert_eq!(&plain, &indexed);
            let shown = plain.to_string();
            proptest::prop_assert!(shown.len() < 4_000, "{} bytes", shown.len());
        }
    }

    #[test]
    fn a_huge_value_is_echoed_in_part() {
        let value = "q".repeat(10_000_000);
        let text = format!("[[nodes]]\nagent = \"{value}\"\n");
        let d = Diagnostic::error(
            "f.toml",
            &text,
            18..18 + value.len(),
            format!("unknown agent `{value}`"),
        )
        .with_hint(format!("did you mean `{value}`?"));
        // The diagnostic keeps a window of the line, not the line.
        assert!(
            d.snippet.as_ref().unwrap().len() <= 4 * SNIPPET_CHARS,
            "{}",
            d.snippet.unwrap().len()
        );
        let shown = d.to_string();
        assert!(shown.len() < 2000, "{} bytes", shown.len());
        assert!(shown.contains(&format!("unknown agent `{}…`", "q".repeat(SNIPPET_CHARS))));
        assert!(shown.contains(&format!("2 | agent = \"{}…", "q".repeat(SNIPPET_CHARS - 9))));
        assert_eq!((d.line, d.column), (2, 9));
        // Far into a long line, the snippet starts shortly before the column.
        let text = format!("{}BAD{}", "x".repeat(100_000), "y".repeat(100_000));
        let d = Diagnostic::error("f", &text, 100_000..100_003, "bad `BAD`");
        assert_eq!(d.column, 100_001);
        let shown = d.to_string();
        assert!(shown.len() < 1000, "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        // Aligned by characters (the `…` is one, like the space under it).
        let caret = lines[4].chars().position(|c| c == '^').unwrap();
        let above: String = lines[3].chars().skip(caret).take(3).collect();
        assert_eq!(above, "BAD", "{shown}");
        assert_eq!(lines[4].matches('^').count(), 3);
    }

    #[test]
    fn many_diagnostics_show_fifty_and_count_the_rest() {
        let mut ds = Diagnostics::default();
        for i in 0..50_000 {
            ds.push(Diagnostic::file_error("f", format!("error {i}")));
        }
        ds.push(Diagnostic::warning("f", "x", 0..1, "w"));
        let shown = ds.to_string();
        assert_eq!(shown.matches("error: ").count(), SHOWN);
        assert!(shown.contains("error 49\n"));
        assert!(!shown.contains("error 50\n"));
        assert!(
            shown.ends_with("\n\n…and 49,951 more (50,000 errors, 1 warning in all)"),
            "{}",
            &shown[shown.len() - 80..]
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
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

    #[test]
    fn the_caret_lines_up_under_wide_characters() {
        let text = "name = \"报告\"\nagent = \"研究员x\"\n";
        let start = text.find("研究员x").unwrap();
        let d = Diagnostic::error("f", text, start..start + "研究员x".len(), "unknown agent");
        let shown = d.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        let (src, marks) = (lines[3], lines[4]);
        // Columns on screen: the value starts after `2 | agent = "`.
        let col_of = |line: &str, byte: usize| unicode_width::UnicodeWidthStr::width(&line[..byte]);
        let value_col = col_of(src, src.find('研').unwrap());
        let caret_col = col_of(marks, marks.find('^').unwrap());
        assert_eq!(caret_col, value_col, "{shown}");
        // Three wide characters and one narrow one: seven columns.
        assert_eq!(marks.matches('^').count(), 7, "{shown}");

        // Wide characters before the value move the caret by their width.
        let text = "研究员 = \"bad\"\n";
        let start = text.find("bad").unwrap();
        let d = Diagnostic::error("f", text, start..start + 3, "bad value");
        let shown = d.to_string();
        let lines: Vec<&str> = shown.lines().collect();
        let (src, marks) = (lines[3], lines[4]);
        assert_eq!(
            col_of(marks, marks.find('^').unwrap()),
            col_of(src, src.find("bad").unwrap()),
            "{shown}"
        );
    }
}
