//! Task list: state, id, agent, attempts, run time and tokens; one selected.
//!
//! Ids too long for their column first have their inner path segments
//! shortened to one letter (`ship~r1/d/r2/architect`), as shells shorten
//! paths, then are cut in the middle, keeping their start and end that
//! tell revisions apart; a space always separates them from the state. The time is run time: time held
//! waiting for the user after a failure does not count.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fill_row, fit, fmt_ms, fmt_tokens, put_line, scroll_to_show, task_glyph};
use crate::text::{self, fit_middle};
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{self, ViewModel};

/// First visible task row for this frame (keeps the selection in view).
pub fn top_row(ui: &UiState, height: usize) -> usize {
    scroll_to_show(ui.task_sel, ui.task_offset, height, ui.task_rows.len())
}

/// A task id in exactly `w` columns (see the module doc).
pub fn fit_id(id: &str, w: usize) -> String {
    if text::width(id) <= w {
        return fit(id, w);
    }
    let segments: Vec<&str> = id.split('/').collect();
    if segments.len() < 3 {
        return fit_middle(id, w);
    }
    let last = segments.len() - 1;
    let short: Vec<&str> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            // Short segments (`r2`) are what tells revisions apart: kept.
            if i == 0 || i == last || text::width(s) <= 3 {
                s
            } else {
                text::prefix(s, 1)
            }
        })
        .collect();
    fit_middle(&short.join("/"), w)
}

/// Draws the header and the visible tasks.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    if ui.task_rows.is_empty() {
        let msg = if vm.tasks.is_empty() {
            "no tasks yet"
        } else {
            "no task matches the filter"
        };
        put_line(buf, area, 0, &Line::styled(msg, theme.muted));
        return;
    }
    let w = area.width as usize;
    // Columns shrink away from the right as the pane narrows.
    let show_state = w >= 44;
    let show_numbers = w >= 64;
    let fixed = 2 + if show_state { 12 } else { 0 } + 13 + if show_numbers { 4 + 8 + 7 } else { 0 };
    let id_w = w.saturating_sub(fixed).clamp(8, 48);
    let mut header = vec![Span::styled(fit("  task", id_w + 2), theme.muted)];
    if show_state {
        header.push(Span::styled(fit("state", 12), theme.muted));
    }
    header.push(Span::styled(fit("agent", 13), theme.muted));
    if show_numbers {
        header.push(Span::styled(
            format!("{:>3} {:>7} {:>6}", "#", "time", "tok"),
            theme.muted,
        ));
    }
    put_line(buf, area, 0, &Line::from(header));
    let body = Rect::new(area.x, area.y + 1, area.width, area.height - 1);
    let h = body.height as usize;
    let top = top_row(ui, h);
    for (y, &ti) in ui.task_rows.iter().skip(top).take(h).enumerate() {
        let t = &vm.tasks[ti];
        let st = theme.task_state(t.state);
        let mut spans = Vec::with_capacity(8);
        spans.push(Span::styled(task_glyph(t.state), st));
        spans.push(Span::raw(" "));
        spans.push(Span::styled(fit_id(&t.id, id_w - 1), theme.text));
        spans.push(Span::raw(" "));
        if show_state {
            spans.push(Span::styled(fit(t.state.as_str(), 12), st));
        }
        spans.push(Span::styled(
            fit(t.agent.as_deref().unwrap_or("-"), 13),
            theme.accent,
        ));
        if show_numbers {
            let dur = view_model::run_ms(t, vm.clock(ui.now_us))
                .map(fmt_ms)
                .unwrap_or_else(|| "-".into());
            spans.push(Span::styled(
                format!(
                    "{:>3} {:>7} {:>6}",
                    t.attempts,
                    dur,
                    fmt_tokens(t.usage.total())
                ),
                theme.muted,
            ));
        }
        if vm.is_held(t) {
            spans.push(Span::styled(" held", theme.warn));
        }
        if t.typing.is_some() {
            spans.push(Span::styled(" ✎", theme.accent));
        }
        let selected = top + y == ui.task_sel;
        put_line(buf, body, y as u16, &Line::from(spans));
        if selected {
            fill_row(buf, body, y as u16, theme.selection);
        }
    }
}

#[cfg(test)]
mod tests;
