//! Filter input for the bus or the task list, drawn above the status bar.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::tui::panes::put_line;
use crate::tui::theme::Theme;
use crate::tui::ui_state::FilterTarget;

/// Draws the one-line filter prompt.
pub fn render(area: Rect, buf: &mut Buffer, target: FilterTarget, input: &str, theme: &Theme) {
    if area.height < 2 {
        return;
    }
    let row = Rect::new(area.x, area.bottom() - 2, area.width, 1);
    // The prompt owns its whole row: no pane border shows through after it.
    ratatui::widgets::Widget::render(ratatui::widgets::Clear, row, buf);
    buf.set_style(row, theme.status_bar);
    let (what, keys) = match target {
        FilterTarget::Bus => ("filter bus /", "   Enter keep · Esc clear"),
        FilterTarget::Tasks => ("filter tasks /", "   Enter keep · Esc clear"),
        FilterTarget::Seek => (
            "seek to (1:05, 90s, +10s, -5s, #120, 50%, end):",
            "   Enter go · Esc cancel",
        ),
    };
    put_line(
        buf,
        row,
        0,
        &Line::from(vec![
            Span::styled(format!(" {what}"), theme.key),
            Span::styled(input, theme.status_bar),
            Span::styled("▏", theme.accent),
            Span::styled(keys, theme.status_bar),
        ]),
    );
}
