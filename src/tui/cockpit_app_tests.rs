//! App-level tests of the debate step keys, raising a budget, and the
//! snapshots of the budget editor.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::app::App;
use super::render;
use super::test_support::{self, Script, T0};
use super::theme::Theme;
use super::ui_state::{EditorPurpose, Overlay};
use super::view_model::WorkflowInfo;
use crate::event::{Command, EventKind, StepUntil};

fn app_with(info: WorkflowInfo, s: &Script) -> (App, UnboundedReceiver<Command>) {
    let (tx, rx) = unbounded_channel();
    let mut app = App::new(info, Some(tx), Theme::builtin("dark").unwrap(), false);
    for e in &s.events {
        app.apply(e);
    }
    app.ui.now_us = T0 + 3_000_000;
    draw(&mut app, 120, 40);
    (app, rx)
}

fn draw(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .unwrap();
    t
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn ctrl_s(app: &mut App) {
    app.handle_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
}

fn editor_text(app: &App) -> String {
    match &app.ui.overlay {
        Some(Overlay::Editor { textarea, .. }) => textarea.lines().join("\n"),
        _ => panic!("no editor open"),
    }
}

#[test]
fn n_steps_the_waiting_debate_node_and_s_toggles_step_mode() {
    let (mut a, mut rx) = app_with(
        test_support::debate_info(),
        &test_support::debate_script(true),
    );
    typed(&mut a, "n");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Step {
            node: Some("choose_store".into()),
            until: StepUntil::Turn
        }
    );
    // Step mode is on (the node waited): s turns it off.
    typed(&mut a, "s");
    assert_eq!(rx.try_recv().unwrap(), Command::SetStepMode { on: false });
}

#[test]
fn n_steps_a_waiting_swarm_round_and_a_waiting_chat_turn() {
    use super::panes::swarm::tests::{swarm_info, swarm_script};
    // The swarm's next round waits.
    let mut s = swarm_script();
    s.push(EventKind::AwaitingStep {
        node: "review".into(),
        round: 4,
        next: None,
        what: "round".into(),
    });
    let (mut a, mut rx) = app_with(swarm_info(false), &s);
    typed(&mut a, "n");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Step {
            node: Some("review".into()),
            until: StepUntil::Turn
        }
    );
    // A chat's next turn waits, naming its speaker.
    let mut s = test_support::Script::default();
    s.push(EventKind::AwaitingStep {
        node: "discuss".into(),
        round: 1,
        next: Some("scout_a".into()),
        what: "turn".into(),
    });
    let (mut a, mut rx) = app_with(swarm_info(true), &s);
    typed(&mut a, "n");
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Step {
            node: Some("discuss".into()),
            until: StepUntil::Turn
        }
    );
    assert!(rx.try_recv().is_err(), "one step per n");
}

#[test]
fn n_with_nothing_waiting_says_why_and_sends_nothing() {
    let (mut a, mut rx) = app_with(
        test_support::debate_info(),
        &test_support::debate_script(false),
    );
    assert!(!a.vm.debates.step_mode);
    typed(&mut a, "n");
    assert!(rx.try_recv().is_err());
    assert!(a.ui.current_flash().unwrap().contains("step mode is off"));
    typed(&mut a, "s");
    assert_eq!(rx.try_recv().unwrap(), Command::SetStepMode { on: true });
    // Without a debate in the workflow, neither key does anything.
    let (mut b, mut rx) = app_with(test_support::info(), &test_support::script());
    typed(&mut b, "ns");
    assert!(rx.try_recv().is_err());
    assert!(b.ui.current_flash().unwrap().contains("no debate"));
}

#[test]
fn raise_budget_is_offered_only_while_paused_for_budget() {
    let (mut a, mut rx) = app_with(test_support::budget_info(), &test_support::script());
    typed(&mut a, "B");
    assert!(a.ui.overlay.is_none());
    assert!(
        a.ui.current_flash()
            .unwrap()
            .contains("not paused for budget")
    );
    assert!(rx.try_recv().is_err());
    // The status-bar hint appears only once the budget pauses the run.
    let text = draw(&mut a, 200, 10).backend().to_string();
    assert!(!text.contains("raise budget"), "{text}");
    let (mut b, _rx) = app_with(test_support::budget_info(), &test_support::budget_script());
    b.ui.flash = None;
    let text = draw(&mut b, 200, 10).backend().to_string();
    assert!(text.contains("B raise budget"), "{text}");
}

#[test]
fn raise_budget_sends_set_budget_for_the_agent_that_ran_out() {
    let (mut a, mut rx) = app_with(test_support::budget_info(), &test_support::budget_script());
    assert!(a.vm.paused_for_budget());
    typed(&mut a, "B");
    match &a.ui.overlay {
        Some(Overlay::Editor {
            purpose: EditorPurpose::RaiseBudget { agent, node, about },
            ..
        }) => {
            assert_eq!(agent.as_deref(), Some("summarizer_a"));
            assert_eq!(*node, None);
            assert!(about.contains("2.9k of 3.0k tokens"), "{about}");
        }
        _ => panic!("the budget editor should be open"),
    }
    // It starts with the limit doubled; the user may type their own.
    assert_eq!(editor_text(&a), "tokens=6000");
    ctrl_s(&mut a);
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::SetBudget {
            agent: Some("summarizer_a".into()),
            node: None,
            tokens: Some(6000),
            usd: None
        }
    );
    assert!(a.ui.overlay.is_none());
}

#[test]
fn a_run_budget_is_raised_for_the_run_and_bad_text_keeps_the_editor_open() {
    let mut s = test_support::script();
    s.push(EventKind::BudgetUpdated {
        scope: "run".into(),
        used_tokens: 9_990,
        used_usd: 0.4,
        limit_tokens: Some(10_000),
        limit_usd: Some(0.5),
    });
    s.push(EventKind::BudgetExhausted {
        scope: "run".into(),
        task: "fanout/summarize[4]".into(),
        agent: "summarizer_b".into(),
        needed_tokens: 800,
        remaining_tokens: Some(10),
        policy: "pause".into(),
    });
    s.push(EventKind::RunPaused);
    let (mut a, mut rx) = app_with(test_support::budget_info(), &s);
    typed(&mut a, "B");
    assert_eq!(editor_text(&a), "tokens=20000 usd=1.00");
    // Replace the suggestion with something unreadable: the editor stays.
    for _ in 0..40 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "lots");
    ctrl_s(&mut a);
    assert!(rx.try_recv().is_err());
    assert!(matches!(a.ui.overlay, Some(Overlay::Editor { .. })));
    assert!(a.ui.current_flash().unwrap().contains("not a token count"));
    for _ in 0..4 {
        key(&mut a, KeyCode::Backspace);
    }
    typed(&mut a, "$2");
    ctrl_s(&mut a);
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::SetBudget {
            agent: None,
            node: None,
            tokens: None,
            usd: Some(2.0)
        }
    );
}

#[test]
fn raise_budget_sends_set_budget_for_the_node_that_ran_out() {
    let mut s = test_support::script();
    s.wait(10).push(EventKind::BudgetUpdated {
        scope: "node:fanout".into(),
        used_tokens: 1_000,
        used_usd: 0.0,
        limit_tokens: Some(1_000),
        limit_usd: None,
    });
    s.push(EventKind::BudgetExhausted {
        scope: "node:fanout".into(),
        task: "fanout/summarize[3]".into(),
        agent: "summarizer_a".into(),
        needed_tokens: 500,
        remaining_tokens: Some(0),
        policy: "pause".into(),
    });
    s.push(EventKind::RunPaused);
    let (mut a, mut rx) = app_with(test_support::budget_info(), &s);
    assert!(a.vm.paused_for_budget());
    typed(&mut a, "B");
    match &a.ui.overlay {
        Some(Overlay::Editor {
            purpose: EditorPurpose::RaiseBudget { agent, node, .. },
            ..
        }) => {
            assert_eq!(*agent, None);
            assert_eq!(node.as_deref(), Some("fanout"));
        }
        _ => panic!("the budget editor should be open"),
    }
    assert_eq!(editor_text(&a), "tokens=2000");
    ctrl_s(&mut a);
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::SetBudget {
            agent: None,
            node: Some("fanout".into()),
            tokens: Some(2000),
            usd: None
        }
    );
}

#[test]
fn budget_editor_snapshot() {
    for (w, h) in [(120, 40), (80, 24)] {
        let (mut a, _rx) = app_with(test_support::budget_info(), &test_support::budget_script());
        a.ui.flash = None;
        typed(&mut a, "B");
        let text = draw(&mut a, w, h).backend().to_string();
        insta::assert_snapshot!(format!("overlay_raise_budget_{w}x{h}"), text);
    }
}

#[test]
fn capital_n_opens_the_submit_form_and_enter_sends_the_task() {
    let (mut a, mut rx) = app_with(test_support::info(), &test_support::script());
    typed(&mut a, "N");
    assert!(matches!(a.ui.overlay, Some(Overlay::Submit(_))));
    // Enter with no prompt sends nothing and keeps the form open.
    key(&mut a, KeyCode::Enter);
    assert!(rx.try_recv().is_err());
    assert!(matches!(a.ui.overlay, Some(Overlay::Submit(_))));
    // Letters are prompt text here (n, q, j are not steps, quits or moves).
    typed(&mut a, "nq jk");
    // The selected task's agent (summarizer_b) is highlighted first.
    key(&mut a, KeyCode::Down);
    key(&mut a, KeyCode::Left);
    key(&mut a, KeyCode::Enter);
    assert_eq!(
        rx.try_recv().unwrap(),
        Command::Submit {
            agent: "writer".into(),
            prompt: "nq jk".into(),
            priority: Some(2),
            task: None,
        }
    );
    assert!(a.ui.overlay.is_none());
    // Esc closes it without sending.
    typed(&mut a, "N");
    typed(&mut a, "x");
    key(&mut a, KeyCode::Esc);
    assert!(a.ui.overlay.is_none());
    assert!(rx.try_recv().is_err());
}
