//! Bus traffic: time, from → to, kind, topic, summary; newest at the bottom.
//!
//! Only the visible rows are touched, so 100k messages cost the same per
//! frame as 100.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{NONE_SYM, ViewModel};

/// First visible row index (into the filtered rows) for this frame.
pub fn top_row(vm: &ViewModel, ui: &UiState, height: usize) -> usize {
    let len = vm.bus.visible_len();
    let max_top = len.saturating_sub(height);
    if ui.follow {
        max_top
    } else {
        ui.bus_top.min(max_top)
    }
}

/// Draws the visible messages.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let h = area.height as usize;
    if h == 0 {
        return;
    }
    if vm.bus.visible_len() == 0 {
        let msg = if vm.bus.filter().is_some() {
            "no message matches the filter"
        } else {
            "no bus traffic yet"
        };
        put_line(buf, area, 0, &Line::styled(msg, theme.muted));
        return;
    }
    let s = &vm.bus.strings;
    let narrow = area.width < 60;
    let top = top_row(vm, ui, h);
    for y in 0..h {
        let Some(r) = vm.bus.visible_row(top + y) else {
            break;
        };
        let row = &vm.bus.rows[r];
        let ms = row.offset_us / 1000;
        let time = format!(
            "{:02}:{:02}.{:03} ",
            ms / 60_000,
            (ms / 1000) % 60,
            ms % 1000
        );
        let to = if row.to == NONE_SYM {
            "*"
        } else {
            s.get(row.to)
        };
        let mut spans = Vec::with_capacity(8);
        spans.push(Span::styled(time, theme.muted));
        if narrow {
            spans.push(Span::styled(s.get(row.from), theme.accent));
            spans.push(Span::styled("→", theme.muted));
            spans.push(Span::styled(to, theme.text));
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::styled(fit(s.get(row.from), 12), theme.accent));
            spans.push(Span::styled(" → ", theme.muted));
            spans.push(Span::styled(fit(to, 12), theme.text));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(fit(s.get(row.kind), 7), theme.key));
            // The topic column only when the summary keeps some room.
            if area.width >= 100 {
                spans.push(Span::styled(fit(s.get(row.topic), 20), theme.muted));
                spans.push(Span::raw(" "));
            }
        }
        spans.push(Span::styled(&*row.summary, theme.text));
        put_line(buf, area, y as u16, &Line::from(spans));
    }
}
