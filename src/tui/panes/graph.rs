//! The Graph pane: the workflow as a layered graph (the cached rows of
//! [`GraphLayout`], each frame looking up live state for the visible rows
//! only), or, one key away, the agents and their traffic.

pub mod agents;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::node_glyph;
use crate::event::NodeState;
use crate::tui::graph_layout::{Cell, Piece};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{GraphSel, GraphView, UiState};
use crate::tui::view_model::ViewModel;

/// Draws the graph the UI state asks for.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    match ui.graph_view {
        GraphView::Flow => flow(area, buf, vm, ui, theme),
        GraphView::Agents => agents::render(area, buf, vm, ui, theme),
        GraphView::Workers => super::workers::render(area, buf, vm, ui, theme),
    }
}

/// Rows the shown graph has.
pub fn rows(vm: &ViewModel, ui: &UiState) -> usize {
    match ui.graph_view {
        GraphView::Flow => ui.graph.as_ref().map_or(0, |g| g.rows.len()),
        GraphView::Agents => agents::len(vm),
        GraphView::Workers => super::workers::len(vm),
    }
}

/// What a click at screen cell (`x`, `y`) in the pane's inner `area`
/// selects: the node drawn there (the nearest to its left on that row), or
/// the agent of that row.
pub fn hit(vm: &ViewModel, ui: &UiState, area: Rect, x: u16, y: u16) -> Option<GraphSel> {
    if !(area.x..area.right()).contains(&x) || !(area.y..area.bottom()).contains(&y) {
        return None;
    }
    let h = area.height as usize;
    let top = ui.graph_scroll.min(rows(vm, ui).saturating_sub(h));
    let row = top + (y - area.y) as usize;
    match ui.graph_view {
        GraphView::Flow => {
            let col = x - area.x;
            ui.graph
                .as_ref()?
                .rows
                .get(row)?
                .cells
                .iter()
                .filter(|c| c.col <= col)
                .filter_map(|c| match c.piece {
                    Piece::Node(i) => Some(i),
                    _ => None,
                })
                .next_back()
                .map(GraphSel::Node)
        }
        GraphView::Agents => agents::agent_at(vm, row).map(GraphSel::Agent),
        GraphView::Workers => None,
    }
}

fn flow(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let Some(layout) = ui.graph.as_ref() else {
        return;
    };
    let h = area.height as usize;
    let top = ui.graph_scroll.min(layout.rows.len().saturating_sub(h));
    let selected = match ui.graph_sel {
        Some(GraphSel::Node(i)) => Some(i),
        _ => None,
    };
    for (y, row) in layout.rows.iter().skip(top).take(h).enumerate() {
        for cell in &row.cells {
            let sel = matches!(cell.piece, Piece::Node(i) if Some(i) == selected);
            draw_cell(area, buf, y as u16, cell, vm, theme, sel);
        }
    }
    // More rows than fit: say so in the last row's right corner.
    let hidden_below = layout.rows.len().saturating_sub(top + h);
    if hidden_below > 0 || top > 0 {
        let text = format!(
            " {}–{}/{} ",
            top + 1,
            (top + h).min(layout.rows.len()),
            layout.rows.len()
        );
        let w = crate::text::width(&text) as u16;
        if w < area.width {
            let x = area.right() - w;
            buf.set_string(x, area.bottom() - 1, text, theme.muted);
        }
    }
}

fn draw_cell(
    area: Rect,
    buf: &mut Buffer,
    y: u16,
    cell: &Cell,
    vm: &ViewModel,
    theme: &Theme,
    selected: bool,
) {
    if cell.col >= area.width {
        return;
    }
    let room = (area.width - cell.col).min(cell.max);
    let mut spans = Vec::with_capacity(10);
    piece_spans(&cell.piece, vm, theme, &mut spans);
    let x = area.x + cell.col;
    let (end, _) = buf.set_line(x, area.y + y, &Line::from(spans), room);
    if selected && end > x {
        buf.set_style(Rect::new(x, area.y + y, end - x, 1), theme.selection);
    }
}

fn piece_spans<'a>(p: &'a Piece, vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    match p {
        Piece::Edge(s) => spans.push(Span::styled(s.as_str(), theme.muted)),
        Piece::Note(s) => spans.push(Span::styled(s.as_str(), theme.muted)),
        Piece::Node(i) => node_spans(*i, vm, theme, spans),
        Piece::Ref(i) => {
            let (glyph, style) = shown_state(*i, vm, theme);
            spans.push(Span::styled(glyph, style));
            spans.push(Span::styled(
                format!(" ↗ {} (drawn above)", vm.info.nodes[*i].id),
                theme.muted,
            ));
        }
        Piece::More(hidden) => {
            spans.push(Span::styled(
                format!("… {} more", hidden.len()),
                theme.muted,
            ));
            count_spans(hidden, vm, theme, spans);
        }
        Piece::Folded(inside) => {
            spans.push(Span::styled(
                format!("▸ {} inside (o unfolds)", inside.len()),
                theme.muted,
            ));
            count_spans(inside, vm, theme, spans);
        }
        Piece::Review(i) => review_spans(*i, vm, theme, spans),
        Piece::Phase(i, agent, step) => {
            let live = &vm.nodes[*i];
            let busy = live.active > 0 && live.last_agent.as_deref() == Some(&**agent);
            let what = if *step == 0 { "plan by" } else { "review by" };
            spans.push(Span::styled(if busy { "⟳ " } else { "◇ " }, theme.accent));
            spans.push(Span::styled(format!("{what} {agent}"), theme.muted));
            if *step == 1 {
                spans.push(Span::styled("  ↺ sends the work back", theme.muted));
            }
        }
        Piece::Step(n, k) => step_spans(*n, *k, vm, theme, spans),
        Piece::Subtasks(i) => {
            let live = &vm.nodes[*i];
            spans.push(Span::styled("⋔ subtasks by capability", theme.muted));
            if live.subtasks > 0 {
                spans.push(Span::styled(format!(" ×{}", live.subtasks), theme.accent));
            }
            if live.active > 0 {
                spans.push(Span::styled(
                    format!("  ⟳ {}", live.active),
                    theme.task_state(crate::event::TaskState::InProgress),
                ));
            }
        }
    }
}

/// One plan step: its task's state, its name and title, the steps it
/// waits for, and who works on it.
fn step_spans<'a>(n: usize, k: usize, vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    let Some(step) = vm.info.plans.get(&n).and_then(|p| p.steps.get(k)) else {
        return;
    };
    let plan = &vm.info.plans[&n];
    let task = vm.task(&step.task);
    match task {
        Some(t) => spans.push(Span::styled(
            crate::tui::format::task_glyph(t.state),
            theme.task_state(t.state),
        )),
        // Not created: the plan did not start, or left this step out.
        None => spans.push(Span::styled("◌", theme.muted)),
    }
    spans.push(Span::raw(" "));
    spans.push(Span::styled(&*step.name, theme.accent));
    if step.title != step.name {
        spans.push(Span::styled(
            format!(" {}", crate::text::clip(&step.title, 24)),
            theme.muted,
        ));
    }
    if !step.after.is_empty() {
        let names: Vec<&str> = step
            .after
            .iter()
            .filter_map(|&d| plan.steps.get(d))
            .map(|d| d.name.as_str())
            .collect();
        spans.push(Span::styled(
            format!(" ← {}", names.join(", ")),
            theme.muted,
        ));
    }
    if let Some(t) = task {
        let who = t.agent.as_deref();
        match (t.state, who) {
            (crate::event::TaskState::InProgress, Some(a)) => spans.push(Span::styled(
                format!("  ⟳ {a}"),
                theme.task_state(crate::event::TaskState::InProgress),
            )),
            (_, Some(a)) => spans.push(Span::styled(format!("  {a}"), theme.muted)),
            _ => {}
        }
    } else if let Some(e) = step.estimate_tokens {
        spans.push(Span::styled(
            format!("  ~{}", crate::event::approx_tokens(e)),
            theme.muted,
        ));
    }
}

/// The glyph and style a node is drawn with: the engine's state, except a
/// node holding a failed task for the user (drawn failed, it runs nothing)
/// and a node not yet reached again in the current revision (pending).
fn shown_state(i: usize, vm: &ViewModel, theme: &Theme) -> (&'static str, Style) {
    let live = &vm.nodes[i];
    if vm.revisions.is_stale(i) {
        return (
            node_glyph(NodeState::Pending),
            theme.node_state(NodeState::Pending),
        );
    }
    if live.held > 0 && live.state == NodeState::Running {
        return (
            node_glyph(NodeState::Failed),
            theme.node_state(NodeState::Failed),
        );
    }
    (node_glyph(live.state), theme.node_state(live.state))
}

fn node_spans<'a>(i: usize, vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    let info = &vm.info.nodes[i];
    let flow = vm.info.flow_of(i);
    let live = &vm.nodes[i];
    let stale = vm.revisions.is_stale(i);
    let (glyph, style) = shown_state(i, vm, theme);
    spans.push(Span::styled(glyph, style));
    spans.push(Span::raw(" "));
    spans.push(Span::styled(&*info.id, style));
    spans.push(Span::styled(format!(" {}", info.kind), theme.muted));
    if !stale {
        if let Some([done, total]) = live.progress {
            spans.push(Span::styled(format!(" {done}/{total}"), theme.accent));
        } else if live.tasks > 1 {
            spans.push(Span::styled(format!(" ×{}", live.tasks), theme.muted));
        }
    }
    if let Some(note) = &flow.note
        && info.kind != "parallel"
    {
        spans.push(Span::styled(format!(" · {note}"), theme.muted));
    }
    if stale {
        spans.push(Span::styled("  ↺ next revision", theme.muted));
    } else if live.held > 0 {
        let who = live.last_agent.as_deref().unwrap_or("?");
        let more = if live.held > 1 {
            format!(" +{}", live.held - 1)
        } else {
            String::new()
        };
        spans.push(Span::styled(
            format!("  ✗ held for you · {who}{more}"),
            theme.warn,
        ));
        if live.active > 0 {
            spans.push(Span::styled(
                format!(" · ⟳ {} live", live.active),
                theme.task_state(crate::event::TaskState::InProgress),
            ));
        }
    } else if live.active > 0 {
        let who = live.last_agent.as_deref().unwrap_or("?");
        let more = if live.active > 1 {
            format!(" +{}", live.active - 1)
        } else {
            String::new()
        };
        spans.push(Span::styled(
            format!("  ⟳ {who}{more}"),
            theme.task_state(crate::event::TaskState::InProgress),
        ));
    } else if matches!(info.kind, "debate" | "vote") && !flow.agents.is_empty() {
        let names: Vec<&str> = flow.agents.iter().map(|a| &**a).collect();
        spans.push(Span::styled(
            format!("  {}", names.join(" · ")),
            theme.muted,
        ));
    } else if let Some(who) = live.last_agent.as_deref().filter(|_| live.tasks > 0) {
        spans.push(Span::styled(format!("  {who}"), theme.muted));
    } else if let Some(r) = &info.runner {
        spans.push(Span::styled(format!("  {r}"), theme.muted));
    }
    // A reply streaming now: the node is "typing".
    match live.typing {
        0 => {}
        1 => spans.push(Span::styled(" ✎ typing", theme.accent)),
        n => spans.push(Span::styled(format!(" ✎ typing ×{n}"), theme.accent)),
    }
    if vm.gates.iter().any(|g| *g.node == *info.id) {
        spans.push(Span::styled("  ⚑ waiting for you", theme.warn));
    }
    // In step mode the engine waits on the human, not on an agent.
    if let Some(w) = vm.debates.waiting.as_ref().filter(|w| w.node == info.id) {
        let who = w
            .next
            .as_deref()
            .map(|n| format!(" by {n}"))
            .unwrap_or_default();
        spans.push(Span::styled(
            format!("  ⏸ {}{who} waits for n", w.what),
            theme.warn,
        ));
    }
}

fn review_spans<'a>(i: usize, vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    let id = &vm.info.nodes[i].id;
    match vm.gates.iter().find(|g| g.node == *id) {
        Some(g) => {
            spans.push(Span::styled("⚑ ", theme.warn));
            spans.push(Span::styled(
                format!("review r{}: waiting for you", g.revision),
                theme.warn,
            ));
        }
        None => {
            let (what, style) = match vm.nodes[i].state {
                NodeState::Completed => ("approved", theme.node_state(NodeState::Completed)),
                NodeState::Failed => ("denied", theme.node_state(NodeState::Failed)),
                _ => ("review by you", theme.muted),
            };
            // ⚑ means a gate waits for you (the status bar's sign too).
            spans.push(Span::styled("◇ ", style));
            spans.push(Span::styled(what, style));
        }
    }
    spans.push(Span::styled("  ↺ deny sends it back", theme.muted));
}

/// How many of `nodes` run, completed and failed, as glyphs with counts.
fn count_spans<'a>(nodes: &[usize], vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    let mut counts = [0usize; 5];
    for &n in nodes {
        counts[crate::tui::theme::node_slot(vm.nodes[n].state)] += 1;
    }
    for (slot, st) in [
        (1, NodeState::Running),
        (2, NodeState::Completed),
        (3, NodeState::Failed),
    ] {
        if counts[slot] > 0 {
            spans.push(Span::styled(
                format!(" {}{}", node_glyph(st), counts[slot]),
                theme.node_state(st),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
