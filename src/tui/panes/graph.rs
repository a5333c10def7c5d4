//! Agent graph: the cached rows of [`GraphLayout`], coloured by node state;
//! each frame only looks up live state for the visible rows.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{node_glyph, put_line};
use crate::event::NodeState;
use crate::tui::graph_layout::RowKind;
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::ViewModel;

/// Draws the visible graph rows.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let Some(layout) = ui.graph.as_ref() else {
        return;
    };
    if area.height == 0 {
        return;
    }
    let h = area.height as usize;
    let top = ui.graph_scroll.min(layout.rows.len().saturating_sub(h));
    for (y, row) in layout.rows.iter().skip(top).take(h).enumerate() {
        let mut spans = Vec::with_capacity(8);
        spans.push(Span::styled(row.prefix.as_str(), theme.muted));
        match &row.kind {
            RowKind::Node(i) => node_spans(*i, vm, theme, &mut spans),
            RowKind::Ref(i) => {
                spans.push(Span::styled("↗ ", theme.muted));
                spans.push(Span::styled(&*vm.info.nodes[*i].id, theme.muted));
                spans.push(Span::styled(" (shown above)", theme.muted));
            }
            RowKind::More(hidden) => {
                let mut counts = [0usize; 5];
                for &n in hidden {
                    counts[crate::tui::theme::node_slot(vm.nodes[n].state)] += 1;
                }
                spans.push(Span::styled(
                    format!("… {} more", hidden.len()),
                    theme.muted,
                ));
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
        }
        put_line(buf, area, y as u16, &Line::from(spans));
    }
}

fn node_spans<'a>(i: usize, vm: &'a ViewModel, theme: &Theme, spans: &mut Vec<Span<'a>>) {
    let info = &vm.info.nodes[i];
    let live = &vm.nodes[i];
    let style = theme.node_state(live.state);
    spans.push(Span::styled(node_glyph(live.state), style));
    spans.push(Span::raw(" "));
    spans.push(Span::styled(&*info.id, style));
    spans.push(Span::styled(format!(" {}", info.kind), theme.muted));
    if let Some([done, total]) = live.progress {
        spans.push(Span::styled(format!(" {done}/{total}"), theme.accent));
    } else if live.tasks > 1 {
        spans.push(Span::styled(format!(" ×{}", live.tasks), theme.muted));
    }
    if live.active > 0 {
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
}
