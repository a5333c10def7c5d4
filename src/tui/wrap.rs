//! Long text in a view: soft-wrapped at the view's width (by display
//! columns, at a space when one is near), or cut at the right edge and
//! scrolled sideways. The gate review, Detail, the debate transcript and
//! the bus message view all lay out through here.
//!
//! A [`WrapIndex`] lists where each screen row starts and ends, built once
//! per (text, width): drawing a frame slices only the rows shown, and the
//! last row a scroll may reach is known exactly (`G` stops at the end).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// How a view lays out its lines and where it is scrolled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextView {
    /// Soft wrap (`w` toggles it).
    pub wrap: bool,
    /// First screen row shown.
    pub top: usize,
    /// Columns scrolled sideways (`h`/`l`), when not wrapping.
    pub left: usize,
}

impl Default for TextView {
    fn default() -> Self {
        TextView {
            wrap: true,
            top: 0,
            left: 0,
        }
    }
}

/// Columns one `h`/`l` moves.
pub const SIDE_STEP: usize = 8;

impl TextView {
    /// The first row to draw so that `height` rows stay within `rows`.
    pub fn clamped_top(&self, rows: usize, height: usize) -> usize {
        self.top.min(rows.saturating_sub(height))
    }

    /// Flips wrapping; the sideways offset starts again at the left edge.
    pub fn toggle_wrap(&mut self) {
        self.wrap = !self.wrap;
        self.left = 0;
        self.top = 0;
    }

    /// Scrolls sideways (only when not wrapping: wrapped text has no side).
    pub fn side(&mut self, right: bool) {
        if self.wrap {
            return;
        }
        self.left = if right {
            self.left.saturating_add(SIDE_STEP)
        } else {
            self.left.saturating_sub(SIDE_STEP)
        };
    }
}

/// One screen row: a byte range of one source line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// Source line.
    pub line: u32,
    /// Byte range in that line.
    pub start: u32,
    /// End of the byte range.
    pub end: u32,
}

/// Where every screen row of a text starts, for one width.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrapIndex {
    /// Width it was built for (`0` = not wrapped: one row per line).
    pub width: usize,
    /// Rows in order.
    pub rows: Vec<Row>,
}

impl WrapIndex {
    /// Lays out `lines` at `width` columns (`wrap` false: one row per line).
    pub fn build<'a>(lines: impl Iterator<Item = &'a str>, width: usize, wrap: bool) -> WrapIndex {
        let width = if wrap { width.max(1) } else { 0 };
        let mut rows = Vec::new();
        for (n, l) in lines.enumerate() {
            let n = n as u32;
            if width == 0 {
                rows.push(Row {
                    line: n,
                    start: 0,
                    end: l.len() as u32,
                });
                continue;
            }
            for (start, end) in wrap_ranges(l, width) {
                rows.push(Row {
                    line: n,
                    start: start as u32,
                    end: end as u32,
                });
            }
        }
        WrapIndex { width, rows }
    }

    /// Screen rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Draws the rows of `index` from `view.top` (clamped so the last row stays
/// at the bottom) into `area`; `line` gives a source line and its style.
/// Only the rows shown are sliced. Returns the top row used.
pub fn draw<'a>(
    area: Rect,
    buf: &mut Buffer,
    index: &WrapIndex,
    view: &TextView,
    line: impl Fn(usize) -> (&'a str, Style),
) -> usize {
    let h = area.height as usize;
    let top = view.clamped_top(index.len(), h);
    let left = if view.wrap { 0 } else { view.left };
    for (y, r) in index.rows.iter().skip(top).take(h).enumerate() {
        let (text, style) = line(r.line as usize);
        let shown = row_text(text, *r, left);
        put_line(buf, area, y as u16, &Line::styled(shown, style));
    }
    top
}

/// A [`WrapIndex`] kept between frames, rebuilt only when its key (what
/// the text is, its width, wrap) changes.
#[derive(Debug, Clone, Default)]
pub struct WrapCache {
    key: Option<(usize, usize, usize, bool)>,
    /// The rows, as last laid out.
    pub rows: WrapIndex,
}

impl WrapCache {
    /// Lays `lines` out unless `(a, b, width, wrap)` is what it was built
    /// for; `a` and `b` identify the text (a length and a version).
    pub fn layout<'a>(
        &mut self,
        (a, b): (usize, usize),
        width: usize,
        wrap: bool,
        lines: impl Iterator<Item = &'a str>,
    ) {
        let key = Some((a, b, width, wrap));
        if self.key != key {
            self.rows = WrapIndex::build(lines, width, wrap);
            self.key = key;
        }
    }

    /// True when the rows were built for this width and wrap.
    pub fn fits(&self, width: usize, wrap: bool) -> bool {
        self.key.is_some_and(|k| k.2 == width && k.3 == wrap)
    }
}

/// The text of a row, its sideways offset applied when not wrapped.
pub fn row_text(line: &str, row: Row, left: usize) -> &str {
    let s = line
        .get(row.start as usize..row.end as usize)
        .unwrap_or_default();
    skip_columns(s, left)
}

/// `s` without its first `cols` display columns (whole graphemes).
pub fn skip_columns(s: &str, cols: usize) -> &str {
    if cols == 0 {
        return s;
    }
    if s.is_ascii() {
        return &s[cols.min(s.len())..];
    }
    let mut used = 0;
    for (i, g) in s.grapheme_indices(true) {
        if used >= cols {
            return &s[i..];
        }
        used += columns(g);
    }
    ""
}

/// Byte ranges of `line` wrapped at `width` columns: each row breaks after
/// the last space that fits, or inside a word longer than the row. An empty
/// line is one empty row.
pub fn wrap_ranges(line: &str, width: usize) -> Vec<(usize, usize)> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut used = 0;
    // Byte index just after the last space in the current row.
    let mut brk: Option<usize> = None;
    let mut i = 0;
    while i < line.len() {
        let g = next_grapheme(line, i);
        let w = columns(g);
        if used + w > width && i > start {
            let cut = match brk {
                Some(b) if b > start => b,
                _ => i,
            };
            out.push((start, cut));
            start = cut;
            used = columns_of(&line[start..i]);
            brk = None;
            continue;
        }
        used += w;
        i += g.len();
        if g == " " {
            brk = Some(i);
        }
    }
    if start < line.len() || out.is_empty() {
        out.push((start, line.len()));
    }
    out
}

fn next_grapheme(s: &str, i: usize) -> &str {
    let b = s.as_bytes()[i];
    if b.is_ascii() {
        return &s[i..i + 1];
    }
    s[i..].graphemes(true).next().unwrap_or(&s[i..])
}

fn columns(g: &str) -> usize {
    if g.len() == 1 {
        return 1;
    }
    match UnicodeWidthStr::width(g) {
        0 if g.chars().next().is_some_and(char::is_control) => 1,
        w => w,
    }
}

use super::panes::put_line;

fn columns_of(s: &str) -> usize {
    crate::text::width(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(s: &str, w: usize) -> Vec<&str> {
        wrap_ranges(s, w)
            .into_iter()
            .map(|(a, b)| &s[a..b])
            .collect()
    }

    #[test]
    fn wraps_at_the_last_space_that_fits() {
        assert_eq!(rows("aaa bbb ccc", 7), ["aaa ", "bbb ccc"]);
        assert_eq!(rows("aaa bbb ccc", 8), ["aaa bbb ", "ccc"]);
    }

    #[test]
    fn a_word_longer_than_the_row_is_cut_inside() {
        assert_eq!(rows("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(rows("", 4), [""]);
    }

    #[test]
    fn wide_characters_count_two_columns() {
        // Four CJK characters are eight columns: two rows of three columns max.
        assert_eq!(rows("漢字漢字", 5), ["漢字", "漢字"]);
        assert_eq!(rows("漢字漢字", 8), ["漢字漢字"]);
        assert_eq!(skip_columns("漢字ab", 4), "ab");
    }

    #[test]
    fn no_row_is_wider_than_the_width_and_nothing_is_lost() {
        let line = "Reviewer feedback to address: ".repeat(10) + &"x".repeat(50);
        for w in [1, 7, 20, 53, 80] {
            let r = rows(&line, w);
            assert!(r.iter().all(|x| crate::text::width(x) <= w), "{w}");
            assert_eq!(r.concat(), line, "{w}");
        }
    }

    #[test]
    fn the_index_lists_rows_of_every_line() {
        let text = ["one two three", "", "four"];
        let ix = WrapIndex::build(text.iter().copied(), 5, true);
        let shown: Vec<&str> = ix
            .rows
            .iter()
            .map(|r| row_text(text[r.line as usize], *r, 0))
            .collect();
        assert_eq!(shown, ["one ", "two ", "three", "", "four"]);
        let flat = WrapIndex::build(text.iter().copied(), 5, false);
        assert_eq!(flat.len(), 3);
        assert_eq!(row_text(text[0], flat.rows[0], 4), "two three");
    }
}
