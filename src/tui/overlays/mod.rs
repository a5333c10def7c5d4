//! Overlays drawn over the panes: help, command palette, filter, reroute
//! picker, gate review, text editor, confirm dialogs, a bus message and
//! the form that submits a task.

pub mod budget;
pub mod confirm;
pub mod editor;
pub mod filter;
pub mod gate;
pub mod help;
pub mod message;
pub mod message_line;
pub mod palette;
pub mod reroute;
pub mod submit;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Widget};

use super::keymap::Keymap;
use super::theme::Theme;
use super::ui_state::{Overlay, UiState};
use super::view_model::ViewModel;
use super::wrap::TextView;

/// Draws the open overlay, if any. Returns the last row its text may scroll
/// to, for overlays that scroll a wrapped text (0 for the others).
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) -> usize {
    let Some(o) = &ui.overlay else { return 0 };
    let keys = &ui.keymap;
    match o {
        Overlay::Help { scroll } => return help::render(area, buf, keys, *scroll, theme),
        Overlay::Gate { gate, scroll } => {
            let view = TextView {
                wrap: ui.wrap,
                top: *scroll as usize,
                left: ui.gate_left,
            };
            return gate::render(area, buf, keys, vm, gate, view, theme);
        }
        Overlay::Palette { query, sel } => {
            palette::render(area, buf, keys, query, *sel, vm.replay, theme)
        }
        Overlay::Filter { target, input } => filter::render(area, buf, *target, input, theme),
        Overlay::Reroute { task, agents, sel } => {
            let picker = reroute::Picker {
                task,
                agents,
                sel: *sel,
            };
            reroute::render(area, buf, keys, vm, picker, theme)
        }
        Overlay::Editor { purpose, textarea } => {
            editor::render(area, buf, keys, purpose, textarea, theme)
        }
        Overlay::Confirm { kind } => confirm::render(area, buf, keys, vm, kind, theme),
        Overlay::Message(m) => return m.render(area, buf, keys, theme),
        Overlay::Submit(f) => f.render(area, buf, keys, vm, theme),
    }
    0
}

/// A rectangle of at most `w`×`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Clears `r` and draws a popup frame titled `title`; returns the inner area.
pub fn popup(
    r: Rect,
    buf: &mut Buffer,
    title: &str,
    footer: Option<Line<'_>>,
    theme: &Theme,
) -> Rect {
    Clear.render(r, buf);
    let mut block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.border_focused)
        .style(theme.base())
        .title(Line::from(Span::styled(
            format!(" {title} "),
            theme.title_focused,
        )));
    if let Some(f) = footer {
        block = block.title_bottom(f);
    }
    let inner = block.inner(r);
    block.render(r, buf);
    inner
}

/// A footer line of key hints for an overlay context, from the keymap.
pub fn hints(keymap: &Keymap, context: super::keymap::Context, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for b in keymap.bindings(context).filter(|b| b.hint) {
        let key = super::keymap::keys_label(b);
        spans.push(Span::styled(
            key.split('/').next().unwrap_or_default().to_owned(),
            theme.key,
        ));
        spans.push(Span::styled(format!(" {}  ", b.name), theme.muted));
    }
    Line::from(spans)
}
