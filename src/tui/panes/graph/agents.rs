//! The Graph pane's agent view: each agent a node, its traffic to others
//! as edges under it (hand-offs, bus messages, debate critiques), heaviest
//! first, each with a bar weighted by count against the heaviest edge.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::event::{Id, TaskState};
use crate::tui::panes::{fmt_tokens, put_line};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{GraphSel, UiState};
use crate::tui::view_model::{EVERYONE, TrafficEdge, ViewModel};

/// Cells of an edge's weight bar.
const BAR: usize = 6;

/// The sender of task messages who is not a workflow agent.
const ORCHESTRATOR: &str = "orchestrator";

/// One row of the view.
enum Row<'a> {
    Agent(Id),
    Edge(&'a TrafficEdge, bool),
}

/// Agents in the order the view draws them: the orchestrator (when it
/// sent anything), the run's agents, then anyone else met in the traffic.
pub fn order(vm: &ViewModel) -> Vec<Id> {
    let mut out: Vec<Id> = Vec::with_capacity(vm.agents.len() + 2);
    let push = |id: &Id, out: &mut Vec<Id>| {
        if !out.iter().any(|o| o == id) {
            out.push(id.clone());
        }
    };
    if let Some(e) = vm.traffic.edges.iter().find(|e| &*e.from == ORCHESTRATOR) {
        push(&e.from, &mut out);
    }
    for a in &vm.agents {
        push(&a.id, &mut out);
    }
    for e in &vm.traffic.edges {
        push(&e.from, &mut out);
    }
    out
}

fn rows(vm: &ViewModel) -> Vec<Row<'_>> {
    let mut rows = Vec::new();
    for id in order(vm) {
        let mut out: Vec<&TrafficEdge> = vm.traffic.edges.iter().filter(|e| e.from == id).collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.total()));
        rows.push(Row::Agent(id));
        let n = out.len();
        rows.extend(
            out.into_iter()
                .enumerate()
                .map(|(i, e)| Row::Edge(e, i + 1 == n)),
        );
    }
    rows
}

/// Row of agent `id` in the view.
pub fn row_of(vm: &ViewModel, id: &str) -> Option<usize> {
    rows(vm)
        .iter()
        .position(|r| matches!(r, Row::Agent(a) if &**a == id))
}

/// The agent whose node (or an edge out of it) is row `row`.
pub fn agent_at(vm: &ViewModel, row: usize) -> Option<Id> {
    rows(vm)
        .into_iter()
        .take(row + 1)
        .filter_map(|r| match r {
            Row::Agent(a) => Some(a),
            Row::Edge(..) => None,
        })
        .next_back()
}

/// Rows the view has.
pub fn len(vm: &ViewModel) -> usize {
    rows(vm).len()
}

/// Draws the visible rows.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let rows = rows(vm);
    let h = area.height as usize;
    let top = ui.graph_scroll.min(rows.len().saturating_sub(h));
    let max = vm.traffic.max_total();
    let selected = match &ui.graph_sel {
        Some(GraphSel::Agent(a)) => Some(a),
        _ => None,
    };
    if rows.is_empty() {
        put_line(buf, area, 0, &Line::styled("no agents yet", theme.muted));
    }
    for (y, row) in rows.iter().skip(top).take(h).enumerate() {
        let line = match row {
            Row::Agent(id) => agent_line(id, vm, theme),
            Row::Edge(e, last) => edge_line(e, *last, max, theme),
        };
        put_line(buf, area, y as u16, &line);
        if let Row::Agent(id) = row
            && selected == Some(id)
        {
            let w = (line.width() as u16).min(area.width);
            buf.set_style(Rect::new(area.x, area.y + y as u16, w, 1), theme.selection);
        }
    }
}

fn agent_line<'a>(id: &'a Id, vm: &'a ViewModel, theme: &Theme) -> Line<'a> {
    let run = vm.agent(id);
    let info = vm.info.agents.iter().find(|a| a.id == *id);
    let active = run.map_or(0, |a| a.active);
    let (glyph, style) = match run {
        Some(a) if a.active > 0 => ("◐", theme.task_state(TaskState::InProgress)),
        Some(a) if a.completed > 0 || a.failed > 0 => ("●", theme.task_state(TaskState::Completed)),
        _ => ("○", theme.task_state(TaskState::Pending)),
    };
    let mut spans = vec![
        Span::styled(glyph, style),
        Span::raw(" "),
        Span::styled(&**id, style),
    ];
    if let Some(i) = info {
        spans.push(Span::styled(format!(" {}", i.role), theme.muted));
    }
    if let Some(a) = run {
        let calls = plural(a.calls, "call", "calls");
        let mut stats = format!("  {calls} · {} tok", fmt_tokens(a.usage.total()));
        if a.failed > 0 {
            stats.push_str(&format!(" · {} failed", a.failed));
        }
        spans.push(Span::styled(stats, theme.muted));
    }
    let incoming: u64 = vm
        .traffic
        .edges
        .iter()
        .filter(|e| e.to == *id)
        .map(TrafficEdge::total)
        .sum();
    if incoming > 0 {
        spans.push(Span::styled(format!(" · ◀ {incoming} in"), theme.muted));
    }
    if active > 0 {
        spans.push(Span::styled(
            format!("  ⟳ {active}"),
            theme.task_state(TaskState::InProgress),
        ));
    }
    Line::from(spans)
}

fn edge_line<'a>(e: &'a TrafficEdge, last: bool, max: u64, theme: &Theme) -> Line<'a> {
    let filled = ((e.total() as f64 / max as f64) * BAR as f64).ceil() as usize;
    let filled = filled.clamp(1, BAR);
    let mut what = Vec::with_capacity(3);
    if e.handoffs > 0 {
        what.push(plural(e.handoffs, "hand-off", "hand-offs"));
    }
    if e.messages > 0 {
        what.push(plural(e.messages, "msg", "msgs"));
    }
    if e.critiques > 0 {
        what.push(plural(e.critiques, "critique", "critiques"));
    }
    Line::from(vec![
        Span::styled(if last { "└─" } else { "├─" }, theme.muted),
        Span::styled("▰".repeat(filled), theme.accent),
        Span::styled("▱".repeat(BAR - filled), theme.muted),
        Span::styled(format!(" {} ─▶ ", what.join(" · ")), theme.muted),
        Span::raw(if &*e.to == EVERYONE {
            "everyone (*)"
        } else {
            &*e.to
        }),
    ])
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
