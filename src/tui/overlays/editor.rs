//! Text editor popup (gate comment, bus injection) around a
//! `ratatui_textarea::TextArea`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Widget;
use ratatui_textarea::TextArea;

use super::{centered, hints, popup};
use crate::tui::keymap::{Context, Keymap};
use crate::tui::panes::put_line;
use crate::tui::theme::Theme;
use crate::tui::ui_state::EditorPurpose;

/// A fresh editor styled for the theme.
pub fn new_textarea(purpose: &EditorPurpose, theme: &Theme) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_style(theme.text);
    t.set_cursor_line_style(ratatui::style::Style::new());
    t.set_placeholder_style(theme.muted);
    t.set_placeholder_text(match purpose {
        EditorPurpose::DenyGate(_) => "What should change? (sent as the revision feedback)",
        EditorPurpose::Inject => "topic on the first line, then the payload (JSON or text)",
        EditorPurpose::RaiseBudget { .. } => "new limits: tokens=N and/or usd=N",
    });
    t
}

/// Draws the editor popup.
pub fn render(
    area: Rect,
    buf: &mut Buffer,
    keys: &Keymap,
    purpose: &EditorPurpose,
    textarea: &TextArea<'static>,
    theme: &Theme,
) {
    let r = centered(area, 72, 12);
    let title = match purpose {
        EditorPurpose::DenyGate(_) => "Deny with a comment",
        EditorPurpose::Inject => "Publish on the bus",
        EditorPurpose::RaiseBudget { .. } => "Raise the budget",
    };
    let inner = popup(
        r,
        buf,
        title,
        Some(hints(keys, Context::Editor, theme)),
        theme,
    );
    if inner.height == 0 {
        return;
    }
    let what = match purpose {
        EditorPurpose::DenyGate(g) => format!("gate {g}"),
        EditorPurpose::Inject => "message".to_owned(),
        EditorPurpose::RaiseBudget { about, .. } => about.clone(),
    };
    put_line(buf, inner, 0, &Line::styled(what, theme.muted));
    let body = Rect::new(
        inner.x,
        inner.y + 1,
        inner.width,
        inner.height.saturating_sub(1),
    );
    textarea.render(body, buf);
}
