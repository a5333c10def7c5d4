//! Bus traffic: time, priority (once any message sets one), from → to,
//! kind, topic, summary; newest at the bottom.
//! A selected row (the newest while following) opens in full with Enter.
//!
//! Only the visible rows are touched, so 100k messages cost the same per
//! frame as 100.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::{fill_row, fit, put_line, scroll_to_show};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{PaneId, UiState};
use crate::tui::view_model::{NONE_SYM, ViewModel};

/// The priority column's cells, 1 to 5.
const PRIORITY: [&str; 5] = ["p1 ", "p2 ", "p3 ", "p4 ", "p5 "];

/// First visible row index (into the filtered rows) for this frame: the
/// newest rows while following, else from `bus_top`, moved so the selected
/// row shows.
pub fn top_row(vm: &ViewModel, ui: &UiState, height: usize) -> usize {
    let len = vm.bus.visible_len();
    let max_top = len.saturating_sub(height);
    if ui.follow {
        max_top
    } else {
        let sel = ui.bus_sel.min(len.saturating_sub(1));
        scroll_to_show(sel, ui.bus_top.min(max_top), height, len)
    }
}

/// The selected visible row (Enter opens it): the newest while following.
pub fn selected(vm: &ViewModel, ui: &UiState, _height: usize) -> Option<usize> {
    let len = vm.bus.visible_len();
    if len == 0 {
        None
    } else if ui.follow {
        Some(len - 1)
    } else {
        Some(ui.bus_sel.min(len - 1))
    }
}

/// Draws the visible messages.
pub fn render(area: Rect, buf: &mut Buffer, vm: &ViewModel, ui: &UiState, theme: &Theme) {
    let h = area.height as usize;
    if h == 0 {
        return;
    }
    if vm.bus.visible_len() == 0 {
        let msg = if vm.bus.filter().is_some() {
            "no message matches the filter"
        } else {
            "no bus traffic yet"
        };
        put_line(buf, area, 0, &Line::styled(msg, theme.muted));
        return;
    }
    let s = &vm.bus.strings;
    let narrow = area.width < 60;
    let top = top_row(vm, ui, h);
    // The selected row is marked while Bus has the focus (Enter opens it).
    let sel = (ui.focus == PaneId::Bus)
        .then(|| selected(vm, ui, h))
        .flatten();
    for y in 0..h {
        let Some(r) = vm.bus.visible_row(top + y) else {
            break;
        };
        let row = &vm.bus.rows[r];
        let ms = row.offset_us / 1000;
        let time = format!(
            "{:02}:{:02}.{:03} ",
            ms / 60_000,
            (ms / 1000) % 60,
            ms % 1000
        );
        let to = if row.to == NONE_SYM {
            "*"
        } else {
            s.get(row.to)
        };
        let mut spans = Vec::with_capacity(9);
        spans.push(Span::styled(time, theme.muted));
        if vm.bus.prioritised {
            let style = if row.priority < crate::event::BusMessage::DEFAULT_PRIORITY {
                theme.warn
            } else {
                theme.muted
            };
            spans.push(Span::styled(
                PRIORITY[usize::from(row.priority.clamp(1, 5)) - 1],
                style,
            ));
        }
        if narrow {
            spans.push(Span::styled(s.get(row.from), theme.accent));
            spans.push(Span::styled("→", theme.muted));
            spans.push(Span::styled(to, theme.text));
            spans.push(Span::raw(" "));
        } else {
            spans.push(Span::styled(fit(s.get(row.from), 12), theme.accent));
            spans.push(Span::styled(" → ", theme.muted));
            spans.push(Span::styled(fit(to, 12), theme.text));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(fit(s.get(row.kind), 7), theme.key));
            // The topic column only when the summary keeps some room.
            if area.width >= 100 {
                spans.push(Span::styled(fit(s.get(row.topic), 20), theme.muted));
                spans.push(Span::raw(" "));
            }
        }
        spans.push(Span::styled(&*row.summary, theme.text));
        put_line(buf, area, y as u16, &Line::from(spans));
        if sel == Some(top + y) {
            fill_row(buf, area, y as u16, theme.selection);
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use serde_json::json;

    use crate::event::{BusMessage, Event, EventKind};
    use crate::tui::test_support::T0;
    use crate::tui::theme::Theme;
    use crate::tui::ui_state::UiState;
    use crate::tui::view_model::ViewModel;

    fn text(buf: &Buffer) -> String {
        let a = buf.area;
        (0..a.height)
            .map(|y| {
                let line: String = (0..a.width).map(|x| buf[(x, y)].symbol()).collect();
                line.trim_end().to_string()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_bus_pane_shows_priorities_and_who_addressed_whom() {
        let mut vm = ViewModel::new(crate::tui::test_support::info());
        let msgs = [
            (
                "orchestrator",
                Some("writer"),
                "agent.writer",
                "task",
                2,
                json!({"message_type": "task_assignment", "payload": {"task_id": "t1", "description": "Draft the summary", "context": {}, "constraints": {"priority": 2}}}),
            ),
            (
                "writer",
                Some("critic"),
                "review.ask",
                "ask",
                1,
                json!("please check section 2 first"),
            ),
            (
                "monitor",
                None,
                "alerts.disk",
                "event",
                3,
                json!({"text": "disk at 91%"}),
            ),
            (
                "critic",
                Some("writer"),
                "agent.writer",
                "reply",
                5,
                json!("fine, minor nits"),
            ),
        ];
        for (i, (from, to, topic, kind, priority, payload)) in msgs.into_iter().enumerate() {
            let id = i as u64 + 1;
            vm.apply(&Event {
                seq: id,
                ts: T0 + id * 250_000,
                session: "s".into(),
                kind: EventKind::Bus {
                    message: BusMessage {
                        id,
                        topic: topic.into(),
                        from: from.into(),
                        to: to.map(Into::into),
                        kind: kind.into(),
                        payload,
                        correlation: None,
                        ts: T0 + id * 250_000,
                        priority,
                    },
                },
            });
        }
        let ui = UiState::default();
        let theme = Theme::builtin("dark").expect("dark");
        let area = Rect::new(0, 0, 100, 5);
        let mut buf = Buffer::empty(area);
        super::render(area, &mut buf, &vm, &ui, &theme);
        insta::assert_snapshot!("bus_priorities_and_addresses", text(&buf));
        // The filter selects by priority in the same pane.
        vm.bus.set_filter("p<=2");
        let mut buf = Buffer::empty(area);
        super::render(area, &mut buf, &vm, &ui, &theme);
        let shown = text(&buf);
        assert!(shown.contains("p1") && shown.contains("p2"), "{shown}");
        assert!(!shown.contains("p3") && !shown.contains("p5"), "{shown}");
    }
}
