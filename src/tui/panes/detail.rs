//! Detail of the selected task: the cached [`detail_text`] lines from the
//! scroll offset, and who is typing.
//!
//! [`detail_text`]: crate::tui::detail_text

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{fmt_tokens, put_line};
use crate::tui::detail_text::Mark;
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{Typing, ViewModel};
use crate::tui::wrap::{self, TextView, WrapIndex};

/// Draws the cached lines from the scroll offset, wrapped to the pane (or
/// cut and scrolled sideways, `w`), and under them, while the task's reply
/// streams, who is typing and the newest text.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut area = area;
    if let Some(typing) = ui.selected_task(vm).and_then(|t| t.typing.as_ref())
        && area.height >= 4
    {
        area.height -= 2;
        let at = Rect::new(area.x, area.bottom(), area.width, 2);
        render_typing(at, buf, typing, theme);
    }
    let lines = &ui.detail.lines;
    if lines.is_empty() {
        put_line(
            buf,
            area,
            0,
            &Line::styled("select a task (j/k in Tasks)", theme.muted),
        );
        return;
    }
    let view = TextView {
        wrap: ui.wrap,
        top: ui.detail_scroll as usize,
        left: ui.detail_left,
    };
    let rows = &ui.detail.rows;
    let stale = rows.is_empty() || (ui.wrap && rows.width != usize::from(area.width));
    if stale {
        // Not laid out for this area (a caller drew the pane alone): do it here.
        let index = WrapIndex::build(
            lines.iter().map(|(_, l)| l.as_str()),
            area.width as usize,
            ui.wrap,
        );
        draw_lines(area, buf, &index, &view, lines, theme);
    } else {
        draw_lines(area, buf, rows, &view, lines, theme);
    }
}

fn draw_lines(
    area: Rect,
    buf: &mut Buffer,
    index: &WrapIndex,
    view: &TextView,
    lines: &[(Mark, String)],
    theme: &Theme,
) {
    wrap::draw(area, buf, index, view, |i| {
        let (mark, text) = &lines[i];
        let style: Style = match mark {
            Mark::Heading => theme.accent,
            Mark::Text => theme.text,
            Mark::Muted => theme.muted,
            Mark::Error => theme.error,
        };
        (text.as_str(), style)
    });
}

/// Two rows: `✎ writer is typing · 1.2k chars`, then the end of the text
/// (line breaks shown as `⏎`), right-aligned so the newest words show.
fn render_typing(area: Rect, buf: &mut Buffer, t: &Typing, theme: &Theme) {
    put_line(
        buf,
        area,
        0,
        &Line::from(vec![
            Span::styled("✎ ", theme.accent),
            Span::styled(&*t.agent, theme.accent),
            Span::styled(
                format!(" is typing · {} chars", fmt_tokens(t.chars)),
                theme.muted,
            ),
        ]),
    );
    let w = area.width as usize;
    if w == 0 {
        return;
    }
    // The last `w` columns, without collecting the whole tail.
    let end = crate::text::suffix(t.tail(), w);
    let mut shown = String::with_capacity(end.len() + 4);
    for c in end.chars() {
        shown.push(match c {
            '\n' => '⏎',
            c if c.is_control() => ' ',
            c => c,
        });
    }
    put_line(buf, area, 1, &Line::styled(shown, theme.text));
}
