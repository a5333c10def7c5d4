//! Detail of the selected task: the cached [`detail_text`] lines from the
//! scroll offset, and who is typing.
//!
//! [`detail_text`]: crate::tui::detail_text

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{fmt_tokens, put_line};
use crate::tui::detail_text::Mark;
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{Typing, ViewModel};

/// Draws the cached lines from the scroll offset, and under them, while the
/// task's reply streams, who is typing and the newest text.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    if area.height == 0 {
        return;
    }
    let mut area = area;
    if let Some(typing) = ui.selected_task(vm).and_then(|t| t.typing.as_ref())
        && area.height >= 4
    {
        area.height -= 2;
        let at = Rect::new(area.x, area.bottom(), area.width, 2);
        render_typing(at, buf, typing, theme);
    }
    let lines = &ui.detail.lines;
    if lines.is_empty() {
        put_line(
            buf,
            area,
            0,
            &Line::styled("select a task (j/k in Tasks)", theme.muted),
        );
        return;
    }
    let top = (ui.detail_scroll as usize).min(lines.len().saturating_sub(1));
    for (y, (mark, text)) in lines
        .iter()
        .skip(top)
        .take(area.height as usize)
        .enumerate()
    {
        let style: Style = match mark {
            Mark::Heading => theme.accent,
            Mark::Text => theme.text,
            Mark::Muted => theme.muted,
            Mark::Error => theme.error,
        };
        put_line(
            buf,
            area,
            y as u16,
            &Line::from(Span::styled(text.as_str(), style)),
        );
    }
}

/// Two rows: `✎ writer is typing · 1.2k chars`, then the end of the text
/// (line breaks shown as `⏎`), right-aligned so the newest words show.
fn render_typing(area: Rect, buf: &mut Buffer, t: &Typing, theme: &Theme) {
    put_line(
        buf,
        area,
        0,
        &Line::from(vec![
            Span::styled("✎ ", theme.accent),
            Span::styled(&*t.agent, theme.accent),
            Span::styled(
                format!(" is typing · {} chars", fmt_tokens(t.chars)),
                theme.muted,
            ),
        ]),
    );
    let w = area.width as usize;
    if w == 0 {
        return;
    }
    // The last `w` columns, without collecting the whole tail.
    let end = crate::text::suffix(t.tail(), w);
    let mut shown = String::with_capacity(end.len() + 4);
    for c in end.chars() {
        shown.push(match c {
            '\n' => '⏎',
            c if c.is_control() => ' ',
            c => c,
        });
    }
    put_line(buf, area, 1, &Line::styled(shown, theme.text));
}
