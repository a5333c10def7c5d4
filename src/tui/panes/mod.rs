//! Panes: stateless renderers of (view model, UI state, theme).
//!
//! Each pane draws into the inner area of a block; the caller draws the
//! block. Panes never allocate per row beyond small labels, and draw only
//! the rows that are visible.

pub mod budgets;
pub mod bus;
pub mod debate;
pub mod detail;
pub mod graph;
pub mod status;
pub mod tasks;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

use super::theme::Theme;
use super::ui_state::{PaneId, UiState};
use super::view_model::ViewModel;
use crate::event::{NodeState, TaskState};

/// Draws a pane with its border; returns the inner area.
pub fn render_pane(
    pane: PaneId,
    area: Rect,
    buf: &mut Buffer,
    vm: &ViewModel,
    ui: &UiState,
    theme: &Theme,
) -> Rect {
    let focused = ui.focus == pane;
    let title = pane_title(pane, vm, ui);
    let block = Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(if focused {
            theme.border_focused
        } else {
            theme.border
        })
        .title(Line::from(vec![
            Span::styled(format!(" {} ", pane.number()), theme.muted),
            Span::styled(
                format!("{} ", title),
                if focused {
                    theme.title_focused
                } else {
                    theme.title
                },
            ),
        ]));
    let inner = block.inner(area);
    block.render(area, buf);
    match pane {
        PaneId::Graph => graph::render(inner, buf, vm, ui, theme),
        PaneId::Bus => bus::render(inner, buf, vm, ui, theme),
        PaneId::Tasks => tasks::render(inner, buf, vm, ui, theme),
        PaneId::Detail => detail::render(inner, buf, vm, ui, theme),
        PaneId::Budgets => budgets::render(inner, buf, vm, ui, theme),
        PaneId::Debate => debate::render(inner, buf, vm, ui, theme),
    }
    inner
}

fn pane_title(pane: PaneId, vm: &ViewModel, ui: &UiState) -> String {
    match pane {
        PaneId::Bus => {
            let follow = if ui.follow { " · follow" } else { "" };
            match vm.bus.filter() {
                Some(f) => format!(
                    "Bus {}/{} /{f}{follow}",
                    vm.bus.visible_len(),
                    vm.bus.rows.len()
                ),
                None => format!("Bus {}{follow}", vm.bus.rows.len()),
            }
        }
        PaneId::Tasks if !ui.task_filter.is_empty() => {
            format!(
                "Tasks {}/{} /{}",
                ui.task_rows.len(),
                vm.tasks.len(),
                ui.task_filter
            )
        }
        PaneId::Tasks => format!("Tasks {}", vm.tasks.len()),
        PaneId::Graph => format!("Graph · {}", vm.info.name),
        p => p.title().to_owned(),
    }
}

/// Glyph for a task state (shape as well as colour, for colour-blind users and NO_COLOR).
pub fn task_glyph(s: TaskState) -> &'static str {
    match s {
        TaskState::Pending => "○",
        TaskState::Planning => "◇",
        TaskState::InProgress => "◐",
        TaskState::Review => "◎",
        TaskState::Revision => "↻",
        TaskState::Completed => "●",
        TaskState::Failed => "✗",
        TaskState::Paused => "‖",
        TaskState::Cancelled => "⊘",
    }
}

/// Glyph for a node state.
pub fn node_glyph(s: NodeState) -> &'static str {
    match s {
        NodeState::Pending => "○",
        NodeState::Running => "◐",
        NodeState::Completed => "●",
        NodeState::Failed => "✗",
        NodeState::Cancelled => "⊘",
    }
}

/// `1234` → `1.2k`, `2_500_000` → `2.5M`.
pub fn fmt_tokens(n: u64) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// Milliseconds as `850ms`, `12.3s`, `4m05s`, `1h02m`.
pub fn fmt_ms(ms: f64) -> String {
    if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 60_000.0 {
        format!("{:.1}s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        let s = (ms / 1000.0) as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = (ms / 60_000.0) as u64;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

/// Microseconds as `mm:ss` (or `h:mm:ss`).
pub fn fmt_clock(us: u64) -> String {
    let s = us / 1_000_000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// Draws a line clipped to one row of `area` at row `y` (relative); ignores rows outside.
pub fn put_line(buf: &mut Buffer, area: Rect, y: u16, line: &Line<'_>) {
    if y < area.height && area.width > 0 {
        buf.set_line(area.x, area.y + y, line, area.width);
    }
}

/// Fills one row of `area` with a style (selection bars).
pub fn fill_row(buf: &mut Buffer, area: Rect, y: u16, style: Style) {
    if y < area.height {
        buf.set_style(Rect::new(area.x, area.y + y, area.width, 1), style);
    }
}

/// First row to show so that `sel` is visible in `height` rows, starting from `offset`.
pub fn scroll_to_show(sel: usize, offset: usize, height: usize, len: usize) -> usize {
    if height == 0 || len == 0 {
        return 0;
    }
    let max_off = len.saturating_sub(height);
    let off = if sel < offset {
        sel
    } else if sel >= offset + height {
        sel + 1 - height
    } else {
        offset
    };
    off.min(max_off)
}

/// Pads or cuts `s` to exactly `w` display columns (approximated by chars;
/// the labels we pad are ids and numbers).
pub fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        let mut out = String::with_capacity(w);
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', w - n));
        out
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}
