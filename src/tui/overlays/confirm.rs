//! Yes/no confirmation (quit while running, cancel a task).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{centered, hints, popup};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::theme::Theme;
use crate::tui::ui_state::ConfirmKind;
use crate::tui::view_model::ViewModel;

/// The question asked.
pub fn question(vm: &ViewModel, kind: &ConfirmKind) -> String {
    match kind {
        ConfirmKind::Quit if vm.replay => "Leave the replay?".to_owned(),
        ConfirmKind::Quit => format!(
            "The run is {} with {} task(s) in progress. Quit the cockpit anyway?",
            vm.phase().label().to_lowercase(),
            vm.in_progress
        ),
        ConfirmKind::CancelTask(t) => format!("Cancel task {t}? Its work so far is discarded."),
    }
}

/// Draws the dialog.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    vm: &ViewModel,
    kind: &ConfirmKind,
    theme: &Theme,
) {
    let r = centered(area, 56, 7);
    let inner = popup(
        r,
        buf,
        "Confirm",
        Some(hints(keys, Context::Confirm, theme)),
        theme,
    );
    Paragraph::new(Line::styled(question(vm, kind), theme.text))
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}
