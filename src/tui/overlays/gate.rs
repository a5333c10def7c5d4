//! Gate review: the artifact under review, scrollable, with approve/deny.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::tui::keymap::Context;
use crate::tui::panes::{fmt_clock, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::ViewModel;

/// Draws the review popup for `gate` (or a note that it was decided meanwhile).
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    vm: &ViewModel,
    gate: &str,
    scroll: u16,
    theme: &Theme,
) {
    let r = centered(
        area,
        area.width.saturating_sub(8).max(20),
        area.height.saturating_sub(4).max(5),
    );
    let inner = popup(
        r,
        buf,
        "Gate review",
        Some(hints(Context::Gate, theme)),
        theme,
    );
    if inner.height == 0 {
        return;
    }
    let Some(g) = vm.gates.iter().find(|g| &*g.gate == gate) else {
        put_line(
            buf,
            inner,
            0,
            &Line::styled(
                "this gate is no longer open (decided or the run ended)",
                theme.muted,
            ),
        );
        return;
    };
    let waited = vm.last_us.saturating_sub(g.opened_us);
    let others = vm.gates.len() - 1;
    let more = if others > 0 {
        format!(" · {others} more open (Tab)")
    } else {
        String::new()
    };
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![
            Span::styled(&*g.gate, theme.accent),
            Span::styled(
                format!(
                    " on {} · revision {} · open {}{more}",
                    g.node,
                    g.revision,
                    fmt_clock(waited)
                ),
                theme.muted,
            ),
        ]),
    );
    let body = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    let top = (scroll as usize).min(g.artifact_lines.len().saturating_sub(body.height as usize));
    for (y, l) in g
        .artifact_lines
        .iter()
        .skip(top)
        .take(body.height as usize)
        .enumerate()
    {
        put_line(buf, body, y as u16, &Line::styled(l.as_str(), theme.text));
    }
}
