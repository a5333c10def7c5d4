//! One bus message in full (Enter on a Bus row): from, to, topic, kind,
//! correlation id and time, then the payload pretty-printed, wrapped and
//! scrollable. The view owns its state, its keys and its drawing; the app
//! only opens it and hands it the keys of its context.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::{centered, hints, popup};
use crate::tui::keymap::{Action, Context, Keymap};
use crate::tui::panes::put_line;
use crate::tui::theme::Theme;
use crate::tui::view_model::{BusLog, NONE_SYM};
use crate::tui::wrap::{self, TextView, WrapIndex};

/// Rows above the payload: three of fields, one naming the payload.
const HEADER_ROWS: u16 = 4;

/// The open message: its fields, its payload as lines, and the scroll.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageView {
    /// Message id.
    pub id: u64,
    /// `from → to`, topic, kind, correlation and time, one field per pair.
    pub fields: Vec<(&'static str, String)>,
    /// The payload pretty-printed (a string payload as its text), one entry per line.
    pub lines: Vec<String>,
    /// Wrap and scroll.
    pub view: TextView,
}

impl MessageView {
    /// The view of bus row `row`, if it exists.
    pub fn open(bus: &BusLog, row: usize) -> Option<MessageView> {
        let r = bus.rows.get(row)?;
        let payload = bus.payloads.get(row)?;
        let s = &bus.strings;
        let or_none = |sym: u32, none: &str| {
            if sym == NONE_SYM {
                none.to_owned()
            } else {
                s.get(sym).to_owned()
            }
        };
        let ms = r.offset_us / 1000;
        let fields = vec![
            ("from", s.get(r.from).to_owned()),
            ("to", or_none(r.to, "* (everyone on the topic)")),
            ("topic", s.get(r.topic).to_owned()),
            ("kind", s.get(r.kind).to_owned()),
            ("correlation", or_none(r.correlation, "-")),
            (
                "at",
                format!(
                    "{:02}:{:02}.{:03} · message {}",
                    ms / 60_000,
                    (ms / 1000) % 60,
                    ms % 1000,
                    r.id
                ),
            ),
        ];
        let text = match payload {
            Value::String(t) => t.clone(),
            Value::Null => "(no payload)".to_owned(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        };
        Some(MessageView {
            id: r.id,
            fields,
            lines: text.lines().map(str::to_owned).collect(),
            view: TextView::default(),
        })
    }

    /// Carries out a key of the [`Context::Message`] context. `max_top` is
    /// the last row the payload may scroll to (as last drawn) and `page` the
    /// rows it shows. Returns false when the view closes.
    pub fn handle(&mut self, action: Action, max_top: usize, page: usize) -> bool {
        let v = &mut self.view;
        let page = page.max(1);
        match action {
            Action::Back => return false,
            Action::Down => v.top = (v.top + 1).min(max_top),
            Action::Up => v.top = v.top.saturating_sub(1),
            Action::PageDown => v.top = (v.top + page).min(max_top),
            Action::PageUp => v.top = v.top.saturating_sub(page),
            Action::Top => v.top = 0,
            Action::Bottom => v.top = max_top,
            Action::ToggleWrap => v.toggle_wrap(),
            Action::ScrollLeft => v.side(false),
            Action::ScrollRight => v.side(true),
            _ => {}
        }
        true
    }

    /// Rows of payload the popup shows in `area` (for paging).
    pub fn page(area: Rect) -> usize {
        popup_area(area).height.saturating_sub(2 + HEADER_ROWS) as usize
    }

    /// Draws the popup; returns the last row the payload may scroll to.
    pub fn render(&self, area: Rect, buf: &mut Buffer, keys: &Keymap, theme: &Theme) -> usize {
        let inner = popup(
            popup_area(area),
            buf,
            &format!("Bus message {}", self.id),
            Some(hints(keys, Context::Message, theme)),
            theme,
        );
        if inner.height == 0 || inner.width == 0 {
            return 0;
        }
        // Header: two fields per row.
        let mut y = 0u16;
        for pair in self.fields.chunks(2) {
            let mut spans = Vec::with_capacity(6);
            for (i, (name, value)) in pair.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::raw("   "));
                }
                spans.push(Span::styled(format!("{name} "), theme.muted));
                spans.push(Span::styled(value.as_str(), theme.accent));
            }
            put_line(buf, inner, y, &Line::from(spans));
            y += 1;
        }
        let body = Rect::new(
            inner.x,
            inner.y + (y + 1).min(inner.height),
            inner.width,
            inner.height.saturating_sub(y + 1),
        );
        let index = WrapIndex::build(
            self.lines.iter().map(String::as_str),
            body.width as usize,
            self.view.wrap,
        );
        let top = wrap::draw(body, buf, &index, &self.view, |i| {
            (self.lines[i].as_str(), theme.text)
        });
        let end = (top + body.height as usize).min(index.len());
        let mode = if self.view.wrap {
            "wrapped".to_owned()
        } else {
            format!("not wrapped, column {}", self.view.left + 1)
        };
        put_line(
            buf,
            inner,
            y,
            &Line::styled(
                format!(
                    "payload · rows {}–{end} of {} · {mode}",
                    (top + 1).min(end),
                    index.len()
                ),
                theme.muted,
            ),
        );
        index.len().saturating_sub(body.height as usize)
    }
}

fn popup_area(area: Rect) -> Rect {
    centered(
        area,
        area.width.saturating_sub(8).max(20),
        area.height.saturating_sub(4).max(6),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::event::{BusMessage, EventKind};
    use crate::tui::test_support::{self, Script};
    use crate::tui::ui_state::{Overlay, UiState};
    use crate::tui::view_model::ViewModel;

    /// A run with one long structured message (a marker at character 220).
    fn vm() -> ViewModel {
        let mut s = test_support::script();
        let message = BusMessage {
            id: 900,
            topic: "review.feedback".into(),
            from: "critic".into(),
            to: Some("writer".into()),
            kind: "handoff".into(),
            payload: json!({
                "summary": "feedback on the draft",
                "notes": format!("{} MARKER-220 and the rest of the note", "n".repeat(220)),
                "items": ["add numbers", "cite sources", "shorten the intro"],
            }),
            correlation: Some("fanout/summarize[4]".into()),
            ts: s.now,
            priority: 3,
        };
        s.push(EventKind::Bus { message });
        let mut vm = ViewModel::new(test_support::info());
        let _: &Script = &s;
        for e in &s.events {
            vm.apply(e);
        }
        vm
    }

    fn open(vm: &ViewModel) -> impl Fn(&mut UiState) + '_ {
        move |ui: &mut UiState| {
            let last = vm.bus.rows.len() - 1;
            let m = MessageView::open(&vm.bus, last).expect("message");
            ui.overlay = Some(Overlay::Message(Box::new(m)));
        }
    }

    #[test]
    fn the_bus_message_view_shows_every_field_and_the_whole_payload() {
        let vm = vm();
        let dark = Theme::builtin("dark").unwrap();
        for (w, h) in [(120, 40), (80, 24)] {
            let (text, _) = test_support::draw_screen(w, h, &dark, &vm, &open(&vm));
            for want in [
                "from critic",
                "to writer",
                "topic review.feedback",
                "kind handoff",
                "correlation fanout/summarize[4]",
                "\"items\": [",
                "MARKER-220",
            ] {
                assert!(text.contains(want), "{w}x{h}: {want} missing:\n{text}");
            }
            insta::assert_snapshot!(format!("bus_message_{w}x{h}"), text);
        }
    }

    #[test]
    fn keys_scroll_to_the_end_and_toggle_wrap() {
        let vm = vm();
        let mut m = MessageView::open(&vm.bus, vm.bus.rows.len() - 1).unwrap();
        assert!(m.handle(Action::Bottom, 7, 5));
        assert_eq!(m.view.top, 7);
        assert!(m.handle(Action::Down, 7, 5));
        assert_eq!(m.view.top, 7, "never past the last row");
        assert!(m.handle(Action::ToggleWrap, 7, 5));
        assert!(!m.view.wrap);
        assert!(m.handle(Action::ScrollRight, 7, 5));
        assert_eq!(m.view.left, wrap::SIDE_STEP);
        assert!(!m.handle(Action::Back, 7, 5), "Esc closes");
    }
}
