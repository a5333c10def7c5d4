//! Bus traffic: time, from → to, kind, topic, summary; newest at the bottom.
//! A selected row (the newest while following) opens in full with Enter.
//!
//! Only the visible rows are touched, so 100k messages cost the same per
//! frame as 100.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fill_row, fit, put_line, scroll_to_show};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{PaneId, UiState};
use crate::tui::view_model::{NONE_SYM, ViewModel};

/// First visible row index (into the filtered rows) for this frame: the
/// newest rows while following, else from `bus_top`, moved so the selected
/// row shows.
pub fn top_row(vm: &ViewModel, ui: &UiState, height: usize) -> usize {
    let len = vm.bus.visible_len();
    let max_top = len.saturating_sub(height);
    if ui.follow {
        max_top
    } else {
        let sel = ui.bus_sel.min(len.saturating_sub(1));
        scroll_to_show(sel, ui.bus_top.min(max_top), height, len)
    }
}

/// The selected visible row (Enter opens it): the newest while following.
pub fn selected(vm: &ViewModel, ui: &UiState, _height: usize) -> Option<usize> {
    let len = vm.bus.visible_len();
    if len == 0 {
        None
    } else if ui.follow {
        Some(len - 1)
    } else {
        Some(ui.bus_sel.min(len - 1))
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
    // The selected row is marked while Bus has the focus (Enter opens it).
    let sel = (ui.focus == PaneId::Bus)
        .then(|| selected(vm, ui, h))
        .flatten();
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
        if sel == Some(top + y) {
            fill_row(buf, area, y as u16, theme.selection);
        }
    }
}
