//! Keys of the readable views: `G` in Detail stops at the end, `w` wraps
//! or cuts, `h`/`l` scroll sideways, Enter on a Bus row opens the message.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use super::*;
use crate::event::BusMessage;
use crate::tui::test_support;

fn app_with(extra: &[EventKind]) -> App {
    let mut app = App::new(
        test_support::info(),
        None,
        Theme::builtin("dark").unwrap(),
        false,
    );
    let mut s = test_support::script();
    for k in extra {
        s.push(k.clone());
    }
    for e in &s.events {
        app.apply(e);
    }
    app.ui.now_us = test_support::T0 + 3_000_000;
    draw(&mut app, 120, 40);
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .unwrap();
    t.backend().to_string()
}

fn press(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

use crate::event::EventKind;

#[test]
fn bottom_in_detail_stops_with_the_last_row_at_the_bottom() {
    let mut a = app_with(&[]);
    keys(&mut a, "4z");
    draw(&mut a, 44, 14);
    keys(&mut a, "G");
    let screen = draw(&mut a, 44, 14);
    let h = a.ui.hits.height(PaneId::Detail);
    let rows = a.ui.detail.rows.len();
    assert!(rows > h, "the detail is longer than the pane ({rows} rows)");
    assert_eq!(a.ui.detail_scroll as usize, rows - h, "G stops at the end");
    // The pane is full: its last row holds the end of the last line.
    let last = a.ui.detail.lines.last().unwrap().1.clone();
    let tail = crate::text::suffix(last.trim(), 10);
    assert!(screen.contains(tail), "{last}\n{screen}");
    // One more `j` changes nothing.
    keys(&mut a, "j");
    assert_eq!(a.ui.detail_scroll as usize, rows - h);
}

#[test]
fn w_cuts_long_lines_and_l_scrolls_detail_sideways() {
    let mut a = app_with(&[]);
    keys(&mut a, "4z");
    let wrapped = draw(&mut a, 44, 14);
    let rows_wrapped = a.ui.detail.rows.len();
    keys(&mut a, "w");
    assert!(!a.ui.wrap);
    let cut = draw(&mut a, 44, 14);
    assert!(
        a.ui.detail.rows.len() < rows_wrapped,
        "one row per line when cut"
    );
    assert_ne!(wrapped, cut);
    keys(&mut a, "l");
    assert_eq!(a.ui.detail_left, crate::tui::wrap::SIDE_STEP);
    keys(&mut a, "h");
    assert_eq!(a.ui.detail_left, 0);
    keys(&mut a, "w");
    assert!(a.ui.wrap);
}

#[test]
fn enter_on_a_bus_row_opens_that_message_and_esc_closes_it() {
    let message = BusMessage {
        id: 77,
        topic: "review.notes".into(),
        from: "critic".into(),
        to: None,
        kind: "event".into(),
        payload: json!({"notes": format!("{} FAR-MARK", "z".repeat(230))}),
        correlation: Some("corr-77".into()),
        ts: test_support::T0 + 2_000_000,
        priority: 3,
    };
    let mut a = app_with(&[EventKind::Bus { message }]);
    keys(&mut a, "2");
    // Following: the newest row is selected; one up selects the one before.
    press(&mut a, KeyCode::Enter);
    let Some(Overlay::Message(m)) = &a.ui.overlay else {
        panic!("Enter opens the message");
    };
    assert_eq!(m.id, 77);
    let screen = draw(&mut a, 120, 40);
    assert!(
        screen.contains("FAR-MARK") && screen.contains("corr-77"),
        "{screen}"
    );
    press(&mut a, KeyCode::Esc);
    assert!(a.ui.overlay.is_none());
    keys(&mut a, "k");
    press(&mut a, KeyCode::Enter);
    let Some(Overlay::Message(m)) = &a.ui.overlay else {
        panic!("Enter opens the selected message");
    };
    assert_ne!(m.id, 77, "the row above the newest");
    // The filter finds the marker past character 200 and Enter opens the match.
    press(&mut a, KeyCode::Esc);
    keys(&mut a, "/far-mark");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.vm.bus.visible_len(), 1);
    press(&mut a, KeyCode::Enter);
    assert!(matches!(&a.ui.overlay, Some(Overlay::Message(m)) if m.id == 77));
}

#[test]
fn tab_moves_the_keys_to_the_transcript_and_g_scrolls_it_to_the_first_turn() {
    let mut a = App::new(
        test_support::debate_info(),
        None,
        Theme::builtin("dark").unwrap(),
        false,
    );
    for e in &test_support::debate_script(false).events {
        a.apply(e);
    }
    keys(&mut a, "6z");
    draw(&mut a, 120, 40);
    press(&mut a, KeyCode::Tab);
    assert!(a.ui.transcript_focus && a.ui.focus == PaneId::Debate);
    keys(&mut a, "g");
    assert_eq!(a.ui.transcript_top, Some(0));
    assert_eq!(a.ui.debate_top, None, "the table did not move");
    let screen = draw(&mut a, 120, 40);
    assert!(screen.contains("#1 ana: clickhouse"), "{screen}");
    keys(&mut a, "G");
    assert_eq!(a.ui.transcript_top, None, "G follows the newest again");
    // Tab again: the next pane.
    press(&mut a, KeyCode::Tab);
    assert!(!a.ui.transcript_focus);
    assert_eq!(a.ui.focus, PaneId::Graph);
}
