//! Debate transcript. The event schema has no debate events yet, so this
//! pane says so rather than inventing a transcript; debate turns, ballots
//! and tallies get their view-model state and rendering with those events.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::ViewModel;

/// Draws the reason there is no transcript.
pub fn render(area: Rect, buf: &mut Buffer, _vm: &ViewModel, _ui: &UiState, theme: &Theme) {
    let lines = vec![
        Line::styled("No debate in this workflow.", theme.text),
        Line::styled(
            "Rounds, stances, ballots and the tally appear here when a debate or vote node runs.",
            theme.muted,
        ),
    ];
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}
