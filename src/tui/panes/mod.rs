//! Panes: stateless renderers of (view model, UI state, theme).
//!
//! Each pane draws into the inner area of a block; the caller draws the
//! block. Panes never allocate per row beyond small labels, and draw only
//! the rows that are visible.

pub mod budgets;
pub mod bus;
pub mod chat;
pub mod debate;
pub mod detail;
pub mod graph;
pub mod status;
pub mod swarm;
pub mod tasks;
pub mod workers;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Widget};

pub use super::format::{fmt_clock, fmt_ms, fmt_tokens, node_glyph, task_glyph};
use super::theme::Theme;
use super::ui_state::{PaneId, UiState};
use super::view_model::ViewModel;
pub use crate::text::fit;

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
        // The graph's selection keeps its node's (or agent's) tasks: say so.
        PaneId::Tasks if ui.graph_sel.is_some() => {
            let mut t = format!("Tasks {}/{}", ui.task_rows.len(), vm.tasks.len());
            if let Some(name) = graph_selection(vm, ui) {
                t.push_str(&format!(" · ▸ {name}"));
            }
            if !ui.task_filter.is_empty() {
                t.push_str(&format!(" /{}", ui.task_filter));
            }
            t
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
        PaneId::Graph => graph_title(vm, ui),
        PaneId::Debate if vm.debates.is_empty() && vm.debate.is_empty() => {
            swarm::title(vm).unwrap_or_else(|| PaneId::Debate.title().to_owned())
        }
        p => p.title().to_owned(),
    }
}

/// A pane's name in the tab strip: pane 6 is named after what it shows
/// (a swarm or a chat when there is no debate or vote).
pub fn tab_label(vm: &ViewModel, p: PaneId) -> &'static str {
    if p == PaneId::Debate && vm.debates.is_empty() && vm.debate.is_empty() {
        match (vm.swarm_records.is_empty(), vm.chat_records.is_empty()) {
            (false, true) => return "Swarm",
            (true, false) => return "Chat",
            (false, false) => return "Swarm/Chat",
            (true, true) => {}
        }
    }
    p.title()
}

/// The Graph pane's title: which view, and what is selected.
fn graph_title(vm: &ViewModel, ui: &UiState) -> String {
    use super::ui_state::GraphView;
    let view = match ui.graph_view {
        GraphView::Flow => "Graph",
        GraphView::Agents => "Agents",
        GraphView::Workers => return workers::title(vm),
    };
    let sel = graph_selection(vm, ui).map(|n| format!(" · ▸ {n}"));
    format!("{view} · {}{}", vm.info.name, sel.unwrap_or_default())
}

/// The node or agent selected in the graph, by name.
fn graph_selection(vm: &ViewModel, ui: &UiState) -> Option<String> {
    use super::ui_state::GraphSel;
    match &ui.graph_sel {
        Some(GraphSel::Node(i)) => vm.info.nodes.get(*i).map(|n| n.id.to_string()),
        Some(GraphSel::Agent(a)) => Some(a.to_string()),
        None => None,
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
