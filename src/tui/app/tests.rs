use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::*;
use crate::tui::test_support;

fn app() -> (App, UnboundedReceiver<Command>) {
    let (tx, rx) = unbounded_channel();
    let mut app = App::new(
        test_support::info(),
        Some(tx),
        Theme::builtin("dark").unwrap(),
        false,
    );
    for e in &test_support::script().events {
        app.apply(e);
    }
    app.ui.now_us = test_support::T0 + 3_000_000;
    draw(&mut app, 120, 40);
    (app, rx)
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .unwrap();
    t
}

fn press(app: &mut App, c: KeyCode) {
    app.handle_key(KeyEvent::new(c, KeyModifiers::NONE));
}

fn ch(app: &mut App, s: &str) {
    for c in s.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn select_task(app: &mut App, id: &str) {
    app.ui.follow = false;
    let pos = app.vm.task_position(id).unwrap();
    app.ui.task_sel = app.ui.task_rows.iter().position(|&i| i == pos).unwrap();
}

#[test]
fn pause_toggles_on_the_run_state() {
    let (mut a, mut rx) = app();
    ch(&mut a, "p");
    assert_eq!(rx.try_recv().unwrap(), Command::Pause { task: None });
    a.vm.apply(&crate::event::Event {
        seq: 1_000,
        ts: test_support::T0,
        session: "s".into(),
        kind: crate::event::EventKind::RunPaused,
    });
    ch(&mut a, "p");
    assert_eq!(rx.try_recv().unwrap(), Command::Resume { task: None });
}

#[test]
fn retry_only_for_failed_tasks() {
    let (mut a, mut rx) = app();
    select_task(&mut a, "research");
    ch(&mut a, "r");
    assert!(rx.try_recv().is_err());
    assert!(a.ui.current_flash().unwrap().contains("only failed tasks"));
    select_task(&mut a, "fanout/summarize[2]");
    ch(&mut a, "r");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Retry {
            task: "fanout/summarize[2]".into()
        }
    );
}

#[test]
fn reroute_picker_offers_capable_agents_and_sends() {
    let (mut a, mut rx) = app();
    select_task(&mut a, "fanout/summarize[2]");
    ch(&mut a, "R");
    match &a.ui.overlay {
        Some(Overlay::Reroute { agents, .. }) => {
            // The task's node runs on `cap:summarize`: only the agents
            // offering it qualify (not the researcher).
            let names: Vec<&str> = agents.iter().map(|a| &**a).collect();
            assert_eq!(names, ["summarizer_a", "summarizer_b"]);
        }
        _ => panic!("reroute picker not open"),
    }
    ch(&mut a, "j");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Reroute {
            task: "fanout/summarize[2]".into(),
            agent: "summarizer_b".into()
        }
    );
    assert!(a.ui.overlay.is_none());
}

#[test]
fn gate_approve_and_deny_with_comment() {
    let (mut a, mut rx) = app();
    // A single `a` on the main screen approves the waiting gate.
    ch(&mut a, "a");
    assert!(a.ui.overlay.is_none());
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::GateDecision {
            gate: "review".into(),
            approve: true,
            comment: None
        }
    );
    assert!(
        a.ui.current_flash()
            .unwrap()
            .contains("approved gate review")
    );

    ch(&mut a, "d");
    assert!(matches!(a.ui.overlay, Some(Overlay::Editor { .. })));
    ch(&mut a, "cite the sources");
    press(&mut a, KeyCode::Enter);
    ch(&mut a, "please");
    assert!(rx.try_recv().is_err(), "typing does not send");
    a.handle_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::GateDecision {
            gate: "review".into(),
            approve: false,
            comment: Some("cite the sources\nplease".into())
        }
    );
    assert!(a.ui.overlay.is_none());
}

fn open_second_gate(a: &mut App) {
    let mut s = test_support::script();
    s.wait(10).push(crate::event::EventKind::GateOpened {
        gate: "second".into(),
        node: "review".into(),
        artifact: serde_json::json!("another draft"),
        revision: 0,
    });
    let last = s.events.last().unwrap().clone();
    a.apply(&last);
}

#[test]
fn gate_review_comes_up_once_without_stealing_overlays() {
    let (mut a, mut rx) = app();
    ch(&mut a, "?");
    a.surface_gate();
    assert!(
        matches!(a.ui.overlay, Some(Overlay::Help { .. })),
        "help stays open"
    );
    press(&mut a, KeyCode::Esc);
    a.surface_gate();
    assert!(matches!(a.ui.overlay, Some(Overlay::Gate { ref gate, .. }) if &**gate == "review"));
    // Main-screen keys work under the review; Esc closes it for good.
    ch(&mut a, "p");
    assert_eq!(rx.try_recv().unwrap(), Command::Pause { task: None });
    assert!(matches!(a.ui.overlay, Some(Overlay::Gate { .. })));
    press(&mut a, KeyCode::Esc);
    a.surface_gate();
    assert!(
        a.ui.overlay.is_none(),
        "a gate comes up by itself only once"
    );
    // A second gate comes up; both are listed and Tab moves between them.
    open_second_gate(&mut a);
    a.surface_gate();
    assert!(matches!(a.ui.overlay, Some(Overlay::Gate { ref gate, .. }) if &**gate == "second"));
    let t = draw(&mut a, 120, 40);
    let screen = format!("{}", t.backend());
    assert!(screen.contains("2 gates waiting"), "{screen}");
    press(&mut a, KeyCode::Tab);
    assert!(matches!(a.ui.overlay, Some(Overlay::Gate { ref gate, .. }) if &**gate == "review"));
    ch(&mut a, "a");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::GateDecision {
            gate: "review".into(),
            approve: true,
            comment: None
        }
    );
    assert!(a.ui.overlay.is_none());
}

#[test]
fn main_screen_gate_keys_follow_the_selected_gate_task() {
    let (mut a, mut rx) = app();
    open_second_gate(&mut a);
    // Nothing selected that is a gate: the oldest gate.
    ch(&mut a, "v");
    assert!(matches!(a.ui.overlay, Some(Overlay::Gate { ref gate, .. }) if &**gate == "review"));
    // Tab to the second: main-screen keys now act on it.
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Esc);
    ch(&mut a, "a");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::GateDecision {
            gate: "second".into(),
            approve: true,
            comment: None
        }
    );
}

#[test]
fn quit_asks_while_live_and_cancel_confirms() {
    let (mut a, mut rx) = app();
    ch(&mut a, "q");
    assert!(matches!(
        a.ui.overlay,
        Some(Overlay::Confirm {
            kind: ConfirmKind::Quit
        })
    ));
    ch(&mut a, "n");
    assert!(a.ui.overlay.is_none() && a.exit.is_none());
    ch(&mut a, "q");
    ch(&mut a, "y");
    assert_eq!(a.exit, Some(TuiExit::Quit));
    assert!(rx.try_recv().is_err(), "quitting sends no command");
}

#[test]
fn cancel_sends_after_yes() {
    let (mut a, mut rx) = app();
    select_task(&mut a, "fanout/summarize[3]");
    ch(&mut a, "c");
    assert!(rx.try_recv().is_err());
    ch(&mut a, "y");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Cancel {
            task: Some("fanout/summarize[3]".into())
        }
    );
}

#[test]
fn inject_parses_topic_and_json_payload() {
    let (mut a, mut rx) = app();
    ch(&mut a, "i");
    ch(&mut a, "alerts");
    press(&mut a, KeyCode::Enter);
    ch(&mut a, "{\"level\": 2}");
    a.handle_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Emit {
            topic: "alerts".into(),
            payload: serde_json::json!({"level": 2})
        }
    );
}

#[test]
fn palette_runs_actions_by_name() {
    let (mut a, _rx) = app();
    ch(&mut a, ":zoom");
    press(&mut a, KeyCode::Enter);
    assert!(a.ui.zoom);
    assert!(a.ui.overlay.is_none());
}

#[test]
fn filter_applies_while_typing_and_esc_clears() {
    let (mut a, _rx) = app();
    ch(&mut a, "2/alerts");
    assert_eq!(a.vm.bus.visible_len(), 1);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.vm.bus.filter(), Some("alerts"));
    ch(&mut a, "3/failed");
    draw(&mut a, 120, 40);
    assert_eq!(a.ui.task_rows.len(), 1);
    press(&mut a, KeyCode::Esc);
    draw(&mut a, 120, 40);
    assert_eq!(a.ui.task_rows.len(), 6);
}

#[test]
fn replay_sends_nothing() {
    let (tx, mut rx) = unbounded_channel();
    let mut a = App::new(
        test_support::info(),
        Some(tx),
        Theme::builtin("dark").unwrap(),
        true,
    );
    for e in &test_support::script().events {
        a.apply(e);
    }
    ch(&mut a, "p");
    assert!(rx.try_recv().is_err());
    assert!(
        a.ui.current_flash()
            .is_some_and(|m| m.contains("read-only"))
    );
    ch(&mut a, "q");
    assert_eq!(
        a.exit,
        Some(TuiExit::Quit),
        "quitting a replay does not ask"
    );
}

#[test]
fn navigation_moves_focus_and_selection() {
    let (mut a, _rx) = app();
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.ui.focus, PaneId::Detail);
    ch(&mut a, "3g");
    assert_eq!(a.ui.task_sel, 0);
    ch(&mut a, "jj");
    assert_eq!(a.ui.task_sel, 2);
    ch(&mut a, "G");
    assert_eq!(a.ui.task_sel, 5);
    ch(&mut a, "2k");
    assert!(!a.ui.follow);
    ch(&mut a, "G");
    assert!(a.ui.follow);
}

#[test]
fn mouse_click_selects_task_and_wheel_scrolls() {
    let (mut a, _rx) = app();
    let (_, inner) = *a
        .ui
        .hits
        .panes
        .iter()
        .find(|(p, _)| *p == PaneId::Tasks)
        .unwrap();
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: inner.x + 2,
        row: inner.y + 2,
        modifiers: KeyModifiers::NONE,
    };
    a.ui.focus = PaneId::Graph;
    a.handle_mouse(click);
    assert_eq!(a.ui.focus, PaneId::Tasks);
    assert_eq!(a.ui.task_sel, 1);
    let (_, detail) = *a
        .ui
        .hits
        .panes
        .iter()
        .find(|(p, _)| *p == PaneId::Detail)
        .unwrap();
    a.handle_mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: detail.x,
        row: detail.y,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(a.ui.detail_scroll, 3);
}

#[test]
fn ctrl_c_quits_from_any_overlay() {
    let (mut a, _rx) = app();
    ch(&mut a, "d");
    a.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(a.exit, Some(TuiExit::Quit));
}

#[tokio::test]
async fn frame_requester_coalesces_and_limits_rate() {
    let (frames, mut draws) = FrameRequester::spawn();
    for _ in 0..100 {
        frames.schedule_frame();
    }
    let wait = Duration::from_secs(2);
    tokio::time::timeout(wait, draws.recv())
        .await
        .unwrap()
        .unwrap();
    let first = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(draws.try_recv().is_err(), "100 requests, one frame");
    frames.schedule_frame();
    frames.schedule_frame();
    tokio::time::timeout(wait, draws.recv())
        .await
        .unwrap()
        .unwrap();
    frames.schedule_frame();
    tokio::time::timeout(wait, draws.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.elapsed() >= FRAME_INTERVAL,
        "frames are at least a frame interval apart"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(draws.try_recv().is_err(), "no frames without requests");
}
