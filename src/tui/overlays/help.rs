//! Help overlay, generated from the keymap table.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::tui::keymap::{self, Context, Keymap};
use crate::tui::panes::{fit, put_line};
use crate::tui::theme::Theme;

/// All help lines: a heading per context, then `keys  name  description`.
pub fn lines(keys: &Keymap, theme: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut last: Option<Context> = None;
    for b in keys.all() {
        if last != Some(b.context) {
            if last.is_some() {
                out.push(Line::raw(""));
            }
            out.push(Line::styled(b.context.title(), theme.accent));
            last = Some(b.context);
        }
        out.push(Line::from(vec![
            Span::styled(fit(&keymap::keys_label(b), 14), theme.key),
            Span::styled(fit(b.name, 12), theme.text),
            Span::styled(b.description, theme.muted),
        ]));
    }
    out
}

/// Number of help lines (for clamping the scroll).
pub fn len(keys: &Keymap) -> usize {
    let all = keys.all();
    let contexts = all
        .windows(2)
        .filter(|w| w[0].context != w[1].context)
        .count()
        + 1;
    all.len() + contexts * 2 - 1
}

/// Draws the help popup.
pub fn render(area: Rect, buf: &mut Buffer, keys: &Keymap, scroll: u16, theme: &Theme) {
    let r = centered(area, 76, area.height.saturating_sub(2).max(3));
    let inner = popup(
        r,
        buf,
        "Keys",
        Some(hints(keys, Context::Help, theme)),
        theme,
    );
    let lines = lines(keys, theme);
    let top = (scroll as usize).min(lines.len().saturating_sub(inner.height as usize));
    for (y, l) in lines
        .iter()
        .skip(top)
        .take(inner.height as usize)
        .enumerate()
    {
        put_line(buf, inner, y as u16, l);
    }
}
