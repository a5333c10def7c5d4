//! Command palette: fuzzy search over every action in the keymap.
//!
//! Names match fuzzily through `nucleo-matcher` (Unicode-aware: case
//! folding, accents, graphemes; each space-separated word of the query must
//! match), and the matched characters are highlighted. Descriptions match
//! only by substring, so a short query does not match every long sentence.

use nucleo_matcher::pattern::{AtomKind, CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;

use super::{centered, hints, popup};
use crate::text;
use crate::tui::keymap::{self, Binding, Context, Keymap};
use crate::tui::panes::{fill_row, fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::contains_ci;

/// Width of the name column.
const NAME_W: usize = 14;

/// A name matched on top of a description, whatever their scores.
const NAME_BONUS: u32 = 1 << 20;

/// One action the query matches.
#[derive(Debug)]
pub struct Hit<'k> {
    /// The action.
    pub binding: &'k Binding,
    /// Grapheme indices of the name's matched characters, ascending.
    pub positions: Vec<u32>,
}

/// The query, ready to score names and descriptions.
struct Query {
    pattern: Pattern,
    matcher: Matcher,
    lower: String,
    chars: Vec<char>,
}

impl Query {
    fn new(query: &str) -> Query {
        Query {
            // `Pattern::new` takes the words literally: no `^`/`!`/`'`
            // syntax to surprise someone typing an action's name.
            pattern: Pattern::new(
                query,
                CaseMatching::Ignore,
                Normalization::Smart,
                AtomKind::Fuzzy,
            ),
            matcher: Matcher::new(Config::DEFAULT),
            lower: query.to_lowercase(),
            chars: Vec::new(),
        }
    }

    /// Score of `name` and the grapheme indices it matched at.
    fn name(&mut self, name: &str) -> Option<(u32, Vec<u32>)> {
        // One char per grapheme, so the indices count graphemes (the
        // crate's own conversion keeps byte offsets for some non-ASCII text).
        self.chars.clear();
        self.chars
            .extend(name.graphemes(true).filter_map(|g| g.chars().next()));
        let hay = if name.is_ascii() {
            Utf32Str::Ascii(name.as_bytes())
        } else {
            Utf32Str::Unicode(&self.chars)
        };
        let mut positions = Vec::new();
        let score = self
            .pattern
            .indices(hay, &mut self.matcher, &mut positions)?;
        positions.sort_unstable();
        positions.dedup();
        Some((score, positions))
    }

    fn describes(&self, description: &str) -> bool {
        contains_ci(description, &self.lower)
    }
}

/// Main-screen actions (and, in a replay, the replay's) matching `query`,
/// best first, with where each name matched.
pub fn hits<'k>(keys: &'k Keymap, query: &str, replay: bool) -> Vec<Hit<'k>> {
    let mut q = Query::new(query);
    let mut scored: Vec<(u32, usize, Hit<'k>)> = keys
        .bindings(Context::Global)
        .chain(keys.bindings(Context::Replay).filter(|_| replay))
        .enumerate()
        .filter_map(|(i, b)| {
            let (score, positions) = match q.name(b.name) {
                Some((s, p)) => (NAME_BONUS + s, p),
                None if q.describes(b.description) => (0, Vec::new()),
                None => return None,
            };
            Some((
                score,
                i,
                Hit {
                    binding: b,
                    positions,
                },
            ))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, h)| h).collect()
}

/// The matching actions, best first (see [`hits`]).
pub fn matches<'k>(keys: &'k Keymap, query: &str, replay: bool) -> Vec<&'k Binding> {
    hits(keys, query, replay)
        .into_iter()
        .map(|h| h.binding)
        .collect()
}

/// `name` in exactly `width` columns as spans, the graphemes at `positions`
/// in `hit` and the rest in `base`.
fn highlighted(
    name: &str,
    width: usize,
    positions: &[u32],
    base: Style,
    hit: Style,
) -> Vec<Span<'static>> {
    let shown = text::clip(name, width);
    // A cut name ends in an ellipsis, which is no match.
    let kept = match &shown {
        std::borrow::Cow::Borrowed(_) => usize::MAX,
        std::borrow::Cow::Owned(cut) => cut.graphemes(true).count() - 1,
    };
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_hit = false;
    for (i, g) in shown.graphemes(true).enumerate() {
        let is_hit = i < kept && positions.binary_search(&(i as u32)).is_ok();
        if is_hit != run_hit && !run.is_empty() {
            let style = if run_hit { hit } else { base };
            spans.push(Span::styled(std::mem::take(&mut run), style));
        }
        run_hit = is_hit;
        run.push_str(g);
    }
    run.extend(std::iter::repeat_n(
        ' ',
        width.saturating_sub(text::width(&shown)),
    ));
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hit { hit } else { base }));
    }
    spans
}

/// Draws the palette.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    query: &str,
    sel: usize,
    replay: bool,
    theme: &Theme,
) {
    let r = centered(area, 64, 16);
    let inner = popup(
        r,
        buf,
        "Command",
        Some(hints(keys, Context::Palette, theme)),
        theme,
    );
    if inner.height == 0 {
        return;
    }
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![
            Span::styled(": ", theme.key),
            Span::styled(query, theme.text),
            Span::styled("▏", theme.accent),
        ]),
    );
    let list = hits(keys, query, replay);
    let h = inner.height.saturating_sub(1) as usize;
    let top = crate::tui::panes::scroll_to_show(sel, 0, h, list.len());
    if list.is_empty() {
        put_line(
            buf,
            inner,
            1,
            &Line::styled("no matching action", theme.muted),
        );
    }
    let matched = theme
        .accent
        .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    for (y, hit) in list.iter().skip(top).take(h).enumerate() {
        let b = hit.binding;
        let row = 1 + y as u16;
        let mut spans = highlighted(b.name, NAME_W, &hit.positions, theme.text, matched);
        spans.push(Span::styled(fit(&keymap::keys_label(b), 10), theme.key));
        spans.push(Span::styled(b.description, theme.muted));
        put_line(buf, inner, row, &Line::from(spans));
        if top + y == sel {
            fill_row(buf, inner, row, theme.selection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(query: &str) -> Vec<&'static str> {
        let keys = Box::leak(Box::new(Keymap::default()));
        matches(keys, query, false).iter().map(|b| b.name).collect()
    }

    #[test]
    fn names_rank_by_fuzzy_match_and_word_starts() {
        let all = names("");
        assert!(all.len() > 10, "an empty query lists every action");
        assert!(names("rr").contains(&"reroute"));
        assert!(!names("xyz").contains(&"reroute"));
        let pau = names("pau");
        assert_eq!(pau.first(), Some(&"pause"), "{pau:?}");
        assert_eq!(names("zoom").first(), Some(&"zoom"));
        assert_eq!(names("ZOOM").first(), Some(&"zoom"), "case does not matter");
        // Each word of the query matches on its own.
        assert_eq!(names("budget raise").first(), Some(&"raise budget"));
        // A name match ranks above a description-only match.
        let quit = names("quit");
        let at = |n: &str| quit.iter().position(|x| *x == n);
        assert!(at("quit").unwrap() < quit.len());
        for (i, n) in quit.iter().enumerate() {
            if !n.contains('q') {
                assert!(i > at("quit").unwrap(), "{quit:?}");
            }
        }
    }

    #[test]
    fn non_ascii_queries_match_by_grapheme() {
        let mut q = Query::new("rsm");
        let (_, at) = q.name("résumé").expect("matches");
        assert_eq!(at, [0, 2, 4], "indices count graphemes, not bytes");
        let mut q = Query::new("RESUME");
        assert!(q.name("résumé").is_some(), "accents and case fold away");
        let mut q = Query::new("é");
        assert_eq!(q.name("café").expect("matches").1, [3]);
        let mut q = Query::new("本語");
        assert_eq!(q.name("日本語テキスト").expect("matches").1, [1, 2]);
        let mut q = Query::new("🦀");
        assert_eq!(q.name("a🦀b").expect("matches").1, [1]);
        let mut q = Query::new("x");
        assert!(q.name("日本語").is_none());
        // Through the palette: a non-ASCII query matches no ASCII name
        // fuzzily and is looked for in descriptions only.
        assert!(names("日本").is_empty());
    }

    #[test]
    fn matched_graphemes_are_highlighted() {
        let base = Style::default();
        let hit = Style::default().add_modifier(Modifier::BOLD);
        let spans = highlighted("résumé", 8, &[0, 2, 4], base, hit);
        let parts: Vec<(&str, bool)> = spans
            .iter()
            .map(|s| (&*s.content, s.style == hit))
            .collect();
        assert_eq!(
            parts,
            [
                ("r", true),
                ("é", false),
                ("s", true),
                ("u", false),
                ("m", true),
                ("é  ", false)
            ]
        );
        // A cut name keeps its width and never highlights the ellipsis.
        let spans = highlighted("abcdef", 4, &[3, 4], base, hit);
        let text: String = spans.iter().map(|s| &*s.content).collect();
        assert_eq!(text, "abc…");
        assert!(spans.iter().all(|s| s.style == base));
        let spans = highlighted("日本語", 5, &[1], base, hit);
        let parts: Vec<(&str, bool)> = spans
            .iter()
            .map(|s| (&*s.content, s.style == hit))
            .collect();
        assert_eq!(parts, [("日", false), ("本", true), ("…", false)]);
    }

    #[test]
    fn the_palette_draws_highlights_in_the_theme_style() {
        let keys = Keymap::default();
        let theme = Theme::builtin("dark").expect("dark");
        let area = Rect::new(0, 0, 80, 24);
        let mut buf = Buffer::empty(area);
        // No row selected, so only the highlight styles the name.
        let past_the_end = hits(&keys, "zm", false).len();
        render(area, &mut buf, &keys, "zm", past_the_end, false, &theme);
        let y = (0..24)
            .find(|&y| {
                let row: String = (0..80).map(|x| buf[(x, y)].symbol()).collect();
                row.contains("zoom ")
            })
            .expect("zoom listed");
        let x0 = (0..80)
            .find(|&x| buf[(x, y)].symbol() == "z")
            .expect("z drawn");
        let bold = |x: u16| buf[(x, y)].modifier.contains(Modifier::BOLD);
        assert_eq!(buf[(x0, y)].fg, theme.accent.fg.unwrap_or_default());
        assert!(bold(x0), "z matched");
        assert!(!bold(x0 + 1) && !bold(x0 + 2), "o o not matched");
        assert!(bold(x0 + 3), "m matched");
    }
}
