//! Help overlay, generated from the keymap table, then a legend of the
//! state symbols. Descriptions wrap to the popup's width (which grows with
//! the terminal), under their own column.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{centered, hints, popup};
use crate::event::{NodeState, TaskState};
use crate::tui::format::{node_glyph, task_glyph};
use crate::tui::keymap::{self, Context, Keymap};
use crate::tui::panes::{fit, put_line};
use crate::tui::theme::Theme;
use crate::tui::wrap;

/// Widest the popup grows (wider lines are hard to read).
const MAX_WIDTH: u16 = 120;
/// Columns of the keys column.
const KEYS_COLS: usize = 14;

/// Every task state, in the order the legend lists them.
const TASK_STATES: [TaskState; 9] = [
    TaskState::Pending,
    TaskState::Planning,
    TaskState::InProgress,
    TaskState::Review,
    TaskState::Revision,
    TaskState::Paused,
    TaskState::Completed,
    TaskState::Failed,
    TaskState::Cancelled,
];

/// Every node state.
const NODE_STATES: [NodeState; 5] = [
    NodeState::Pending,
    NodeState::Running,
    NodeState::Completed,
    NodeState::Failed,
    NodeState::Cancelled,
];

/// Other marks the panes draw.
const MARKS: [(&str, &str); 5] = [
    ("⚑", "a gate waits for your decision"),
    (
        "✎",
        "an agent is typing its reply (Detail shows the newest text)",
    ),
    (
        "↻",
        "in Debate: the speaker changed position since its last turn",
    ),
    (
        "▶",
        "in Debate: what a node in step mode does next (n steps it)",
    ),
    ("▰▱", "in Debate: confidence, in fifths"),
];

/// All help lines for a popup `width` columns wide: a heading per context,
/// then `keys  name  description` (the description wrapped under its
/// column), then the legend.
pub fn lines(keys: &Keymap, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let name_cols = keys.all().iter().map(|b| b.name.len()).max().unwrap_or(10) + 2;
    let indent = KEYS_COLS + name_cols;
    let desc_cols = width.saturating_sub(indent).max(10);
    let mut out = Vec::new();
    let mut last: Option<Context> = None;
    for b in keys.all() {
        if last != Some(b.context) {
            if last.is_some() {
                out.push(Line::raw(""));
            }
            out.push(Line::styled(b.context.title(), theme.accent));
            last = Some(b.context);
        }
        let rows = wrap::wrap_ranges(b.description, desc_cols);
        for (i, (a, z)) in rows.into_iter().enumerate() {
            let text = b.description[a..z].to_owned();
            let lead = if i == 0 {
                vec![
                    Span::styled(fit(&keymap::keys_label(b), KEYS_COLS), theme.key),
                    Span::styled(fit(b.name, name_cols), theme.text),
                ]
            } else {
                vec![Span::raw(" ".repeat(indent))]
            };
            let mut spans = lead;
            spans.push(Span::styled(text, theme.muted));
            out.push(Line::from(spans));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::styled("State symbols", theme.accent));
    let states = |glyphs: Vec<(&'static str, &'static str, ratatui::style::Style)>| {
        let mut spans = Vec::new();
        for (g, name, style) in glyphs {
            spans.push(Span::styled(format!("{g} "), style));
            spans.push(Span::styled(format!("{name}   "), theme.muted));
        }
        Line::from(spans)
    };
    out.push(Line::styled("tasks", theme.text));
    out.push(states(
        TASK_STATES
            .iter()
            .map(|s| (task_glyph(*s), s.as_str(), theme.task_state(*s)))
            .collect(),
    ));
    out.push(Line::styled("nodes", theme.text));
    out.push(states(
        NODE_STATES
            .iter()
            .map(|s| (node_glyph(*s), node_name(*s), theme.node_state(*s)))
            .collect(),
    ));
    for (mark, what) in MARKS {
        out.push(Line::from(vec![
            Span::styled(format!("{mark:<3}"), theme.accent),
            Span::styled(what, theme.muted),
        ]));
    }
    out
}

fn node_name(s: NodeState) -> &'static str {
    match s {
        NodeState::Pending => "pending",
        NodeState::Running => "running",
        NodeState::Completed => "completed",
        NodeState::Failed => "failed",
        NodeState::Cancelled => "cancelled",
    }
}

fn popup_area(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(4).clamp(20, MAX_WIDTH),
        area.height.saturating_sub(2).max(3),
    )
}

/// Draws the help popup; returns the last row it may scroll to.
pub fn render(area: Rect, buf: &mut Buffer, keys: &Keymap, scroll: u16, theme: &Theme) -> usize {
    let r = popup_area(area);
    let inner = popup(
        r,
        buf,
        "Keys",
        Some(hints(keys, Context::Help, theme)),
        theme,
    );
    let lines = lines(keys, theme, inner.width as usize);
    let max_top = lines.len().saturating_sub(inner.height as usize);
    let top = (scroll as usize).min(max_top);
    for (y, l) in lines
        .iter()
        .skip(top)
        .take(inner.height as usize)
        .enumerate()
    {
        put_line(buf, inner, y as u16, l);
    }
    max_top
}

#[cfg(test)]
mod tests {
    use crate::tui::keymap::Keymap;
    use crate::tui::test_support;
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::{Overlay, UiState};

    fn at(scroll: u16) -> impl Fn(&mut UiState) {
        move |ui: &mut UiState| ui.overlay = Some(Overlay::Help { scroll })
    }

    #[test]
    fn descriptions_are_whole_at_160_columns_and_names_keep_a_gap() {
        let vm = test_support::vm();
        let dark = Theme::builtin("dark").unwrap();
        let keys = Keymap::default();
        let mut seen = String::new();
        for scroll in (0..400).step_by(20) {
            let (text, _) = test_support::draw_screen(160, 50, &dark, &vm, &at(scroll));
            seen.push_str(&text);
        }
        for b in keys.all() {
            assert!(
                seen.contains(b.description),
                "cut: {:?}\n{seen}",
                b.description
            );
        }
        assert!(
            seen.contains("raise budget  raise the exhausted budget"),
            "the name keeps a gap before its text"
        );
        // The legend ends the help.
        for want in ["State symbols", "✗ failed", "⊘ cancelled", "⚑", "◐ running"] {
            assert!(seen.contains(want), "{want} missing from the legend");
        }
    }
}
