//! Command palette: fuzzy search over every action in the keymap.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::tui::keymap::{self, Binding, Context, Keymap};
use crate::tui::panes::{fill_row, fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::contains_ci;

/// Main-screen actions (and, in a replay, the replay's) matching `query`, best first.
pub fn matches<'k>(keys: &'k Keymap, query: &str, replay: bool) -> Vec<&'k Binding> {
    let mut scored: Vec<(i64, usize, &'k Binding)> = keys
        .bindings(Context::Global)
        .chain(keys.bindings(Context::Replay).filter(|_| replay))
        .enumerate()
        .filter_map(|(i, b)| {
            // Names match fuzzily; descriptions only by substring, so a
            // short query does not match every long sentence.
            let by_name = keymap::fuzzy_score(query, b.name).map(|s| s + 16);
            let by_desc = contains_ci(b.description, &query.to_lowercase()).then_some(0);
            by_name.max(by_desc).map(|s| (s, i, b))
        })
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, b)| b).collect()
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
    let list = matches(keys, query, replay);
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
    for (y, b) in list.iter().skip(top).take(h).enumerate() {
        let row = 1 + y as u16;
        put_line(
            buf,
            inner,
            row,
            &Line::from(vec![
                Span::styled(fit(b.name, 14), theme.text),
                Span::styled(fit(&keymap::keys_label(b), 10), theme.key),
                Span::styled(b.description, theme.muted),
            ]),
        );
        if top + y == sel {
            fill_row(buf, inner, row, theme.selection);
        }
    }
}
