//! Draws one whole frame: panes, tabs, status bar and the open overlay.

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::keymap::Context;
use super::layout;
use super::panes::{self, put_line};
use super::theme::Theme;
use super::ui_state::{HitMap, Overlay, PaneId, UiState};
use super::view_model::ViewModel;
use super::{overlays, panes::status};

/// The keymap context the UI is in.
pub fn context(ui: &UiState) -> Context {
    match &ui.overlay {
        None => Context::Global,
        Some(Overlay::Help { .. }) => Context::Help,
        Some(Overlay::Palette { .. }) => Context::Palette,
        Some(Overlay::Filter { .. }) => Context::Filter,
        Some(Overlay::Reroute { .. }) => Context::Reroute,
        Some(Overlay::Gate { .. }) => Context::Gate,
        Some(Overlay::Editor { .. }) => Context::Editor,
        Some(Overlay::Confirm { .. }) => Context::Confirm,
        Some(Overlay::Message(_)) => Context::Message,
        Some(Overlay::Submit(_)) => Context::Submit,
    }
}

/// Draws a frame.
pub fn draw(frame: &mut Frame<'_>, vm: &ViewModel, ui: &mut UiState, theme: &Theme) {
    let area = frame.area();
    draw_buffer(area, frame.buffer_mut(), vm, ui, theme);
}

/// Draws into a buffer (used by [`draw`] and by benchmarks).
pub fn draw_buffer(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &mut UiState, theme: &Theme) {
    ui.prepare(vm);
    buf.set_style(area, theme.base());
    let content = layout::Content::of(vm);
    let areas = layout::compute_with(area, ui.focus, ui.zoom, &content, &ui.splits);
    if let Some(&(_, r)) = areas.panes.iter().find(|(p, _)| *p == PaneId::Graph) {
        // The graph's layout is built for the width it gets.
        ui.fit_graph(vm, r.width.saturating_sub(2));
    }
    let mut hits = HitMap {
        panes: Vec::with_capacity(6),
        tabs: areas.tabs,
        screen: Some(area),
        ..HitMap::default()
    };
    for &(pane, r) in &areas.panes {
        if pane == PaneId::Detail {
            // Wrapped once per (task version, width, wrap), not per frame.
            ui.detail
                .layout(usize::from(r.width.saturating_sub(2)), ui.wrap);
        }
        if pane == PaneId::Debate
            && panes::debate::shows_transcript(vm, ui, r.height.saturating_sub(2))
        {
            panes::debate::layout_transcript(vm, ui, usize::from(r.width.saturating_sub(2)));
        }
        let inner = panes::render_pane(pane, r, buf, vm, ui, theme);
        hits.panes.push((pane, inner));
    }
    if let Some(t) = areas.tabs {
        render_tabs(t, buf, vm, ui, theme);
    }
    if let Some(s) = areas.status {
        status::render(s, buf, vm, ui, theme, context(ui));
        // A message the status bar had to cut gets whole rows above it, and
        // the status bar its hints back.
        if let Some(m) = ui.current_flash().map(str::to_owned)
            && !overlays::message_line::shown_whole(buf, s, &m)
        {
            let kept = ui.flash.take();
            status::render(s, buf, vm, ui, theme, context(ui));
            ui.flash = kept;
            overlays::message_line::render(s, buf, &m, theme);
        }
    }
    ui.hits = hits;
    ui.hits.overlay_max_top = overlays::render(area, buf, vm, ui, theme);
}

fn render_tabs(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let mut spans = Vec::with_capacity(14);
    for p in PaneId::ALL {
        let style = if p == ui.focus {
            theme.title_focused
        } else {
            theme.muted
        };
        spans.push(Span::styled(
            format!(" {} {} ", p.number(), panes::tab_label(vm, p)),
            style,
        ));
    }
    if ui.zoom {
        spans.push(Span::styled(" [zoom]", theme.accent));
    }
    put_line(buf, area, 0, &Line::from(spans));
}

/// Hit-test helper for tests and the mouse: which tab is at column `x`.
pub fn tab_at(area: Rect, vm: &ViewModel, x: u16) -> Option<PaneId> {
    let mut cx = area.x;
    for p in PaneId::ALL {
        let w = (crate::text::width(panes::tab_label(vm, p)) + 4) as u16;
        if x >= cx && x < cx + w {
            return Some(p);
        }
        cx += w;
    }
    None
}
