//! A status message too long for the room the status bar leaves it (a
//! replay's refusal, a long error): drawn whole on its own rows just above
//! the status bar, wrapped to the screen's width, instead of cut.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Widget};

use crate::tui::panes::put_line;
use crate::tui::theme::Theme;
use crate::tui::wrap;

/// Most rows the message takes.
const MAX_ROWS: usize = 3;

/// True when the status bar drawn in `row` shows `msg` whole.
pub fn shown_whole(buf: &Buffer, row: Rect, msg: &str) -> bool {
    let text: String = (row.x..row.right())
        .map(|x| buf[(x, row.y)].symbol())
        .collect();
    text.contains(msg)
}

/// Draws `msg` on the rows above `status` (one row of the screen).
pub fn render(status: Rect, buf: &mut Buffer, msg: &str, theme: &Theme) {
    let width = usize::from(status.width);
    if width == 0 {
        return;
    }
    let rows = wrap::wrap_ranges(msg, width.saturating_sub(2));
    let n = rows.len().min(MAX_ROWS).min(usize::from(status.y)) as u16;
    if n == 0 {
        return;
    }
    let area = Rect::new(status.x, status.y - n, status.width, n);
    Clear.render(area, buf);
    buf.set_style(area, theme.status_bar);
    for (y, (a, b)) in rows.iter().take(n as usize).enumerate() {
        put_line(
            buf,
            area,
            y as u16,
            &Line::styled(format!(" {}", &msg[*a..*b]), theme.warn),
        );
    }
}
