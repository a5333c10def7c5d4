//! Gate review: the artifact under review, scrollable, with approve/deny.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::panes::{fill_row, fmt_clock, put_line};
use crate::tui::theme::Theme;
use crate::tui::view_model::ViewModel;

/// Draws the review popup for `gate` (or a note that it was decided meanwhile).
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
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
        Some(hints(keys, Context::Gate, theme)),
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
    put_line(
        buf,
        inner,
        0,
        &Line::from(vec![
            Span::styled(&*g.gate, theme.accent),
            Span::styled(
                format!(
                    " on {} · revision {} · waiting {}",
                    g.node,
                    g.revision,
                    fmt_clock(waited)
                ),
                theme.muted,
            ),
        ]),
    );
    // Several gates can wait at once: list them all, the one shown marked.
    let mut y = 1u16;
    if vm.gates.len() > 1 {
        let room = (inner.height / 3).max(1) as usize;
        let shown = vm.gates.iter().position(|x| x.gate == g.gate).unwrap_or(0);
        let top = crate::tui::panes::scroll_to_show(shown, 0, room, vm.gates.len());
        put_line(
            buf,
            inner,
            y,
            &Line::styled(
                format!("{} gates waiting (Tab: next)", vm.gates.len()),
                theme.warn,
            ),
        );
        y += 1;
        for (i, other) in vm.gates.iter().enumerate().skip(top).take(room) {
            let mark = if i == shown { "▶ " } else { "  " };
            put_line(
                buf,
                inner,
                y,
                &Line::from(vec![
                    Span::styled(mark, theme.accent),
                    Span::styled(&*other.gate, theme.text),
                    Span::styled(
                        format!(
                            " on {} · revision {} · waiting {}",
                            other.node,
                            other.revision,
                            fmt_clock(vm.last_us.saturating_sub(other.opened_us))
                        ),
                        theme.muted,
                    ),
                ]),
            );
            if i == shown {
                fill_row(buf, inner, y, theme.selection);
            }
            y += 1;
        }
    }
    put_line(
        buf,
        inner,
        y,
        &Line::styled("Artifact under review", theme.muted),
    );
    y += 1;
    let body = Rect::new(
        inner.x,
        inner.y + y.min(inner.height),
        inner.width,
        inner.height.saturating_sub(y),
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
