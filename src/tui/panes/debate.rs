//! Debate and vote transcript: rounds, turns with stance and confidence,
//! critiques, ballots, tallies and decisions, newest at the bottom; in step
//! mode, what waits for the next step.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{DebateLineKind, ViewModel};

/// Draws the newest transcript lines that fit (each line is wrapped, so
/// lines are taken from the end until the wrapped height fills the area).
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, _ui: &UiState, theme: &Theme) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    if vm.debate.is_empty() {
        let has_debate = vm
            .info
            .nodes
            .iter()
            .any(|n| n.kind == "debate" || n.kind == "vote");
        let lines = if has_debate {
            vec![
                Line::styled("No turn or ballot yet.", theme.text),
                Line::styled(
                    "Rounds, stances, ballots and the tally appear here as the debate and vote run.",
                    theme.muted,
                ),
            ]
        } else {
            vec![
                Line::styled("No debate in this workflow.", theme.text),
                Line::styled(
                    "Rounds, stances, ballots and the tally appear here when a debate or vote node runs.",
                    theme.muted,
                ),
            ]
        };
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    }
    let width = usize::from(area.width.max(1));
    let mut height = 0usize;
    let mut first = vm.debate.len();
    // Only the visible tail is laid out: a long debate costs the same per frame.
    while first > 0 && height < usize::from(area.height) {
        first -= 1;
        height += vm.debate[first].text.chars().count().div_ceil(width).max(1);
    }
    let lines: Vec<Line> = vm.debate[first..]
        .iter()
        .map(|l| {
            let style = match l.kind {
                DebateLineKind::Heading => theme.accent,
                DebateLineKind::Turn | DebateLineKind::Ballot => theme.text,
                DebateLineKind::Agree => theme.agree,
                DebateLineKind::Dissent | DebateLineKind::Failed => theme.dissent,
                DebateLineKind::Waiting => theme.accent,
                DebateLineKind::Muted => theme.muted,
            };
            Line::styled(l.text.as_str(), style)
        })
        .collect();
    // Wrapped lines beyond the area would push the newest off the bottom:
    // scroll so the last line is visible.
    let overflow = height.saturating_sub(usize::from(area.height));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((u16::try_from(overflow).unwrap_or(u16::MAX), 0))
        .render(area, buf);
}
