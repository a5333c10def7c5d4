//! The status badge and hints in every state the run can be in, at two
//! widths: what the engine waits for is named, and only keys that can do
//! something now are offered.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::render;
use crate::event::{ErrorKind, EventKind, RunStatus, TaskState, Usage};
use crate::tui::keymap::Context;
use crate::tui::test_support::{self, Script};
use crate::tui::theme::Theme;
use crate::tui::ui_state::UiState;
use crate::tui::view_model::{RunPhase, ViewModel, WorkflowInfo};

/// A run with one task in progress.
fn base() -> Script {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "research-pipeline".into(),
        seed: 1,
        entry: "main".into(),
        agents: vec!["researcher".into()],
    });
    s.start_task("research", "research", "researcher", 600);
    s
}

fn failed(s: &mut Script, held: bool) {
    s.push(EventKind::TaskFailed {
        task: "research".into(),
        agent: Some("researcher".into()),
        from: TaskState::InProgress,
        kind: ErrorKind::Server,
        error: "injected 500".into(),
        attempt: 1,
        held,
    });
}

fn ended(s: &mut Script, status: RunStatus, error: Option<&str>) {
    s.push(EventKind::SessionEnded {
        status,
        output: None,
        error: error.map(str::to_owned),
        usage: Usage::default(),
        wall_ms: 1.0,
    });
}

/// Every badge state: its name, the workflow and the events.
fn states() -> Vec<(&'static str, WorkflowInfo, Script)> {
    let info = test_support::info;
    let mut out = Vec::new();
    out.push(("running", info(), base()));
    let mut s = base();
    s.push(EventKind::RunPaused);
    out.push(("paused", info(), s));
    let mut s = base();
    failed(&mut s, true);
    out.push(("waiting_held_failure", info(), s));
    let mut s = base();
    s.push(EventKind::GateOpened {
        gate: "review".into(),
        node: "review".into(),
        artifact: serde_json::json!("draft"),
        revision: 0,
    });
    out.push(("waiting_gate", info(), s));
    out.push((
        "waiting_step",
        test_support::debate_info(),
        test_support::debate_script(true),
    ));
    let mut s = base();
    s.push(EventKind::BudgetExhausted {
        scope: "run".into(),
        task: "research".into(),
        agent: "researcher".into(),
        needed_tokens: 900,
        remaining_tokens: Some(100),
        policy: "pause".into(),
    });
    s.push(EventKind::RunPaused);
    out.push(("waiting_budget", test_support::budget_info(), s));
    let mut s = base();
    s.complete("research", "researcher", 600, "five sources");
    ended(&mut s, RunStatus::Succeeded, None);
    out.push(("done", info(), s));
    let mut s = base();
    failed(&mut s, false);
    ended(&mut s, RunStatus::Failed, Some("research failed"));
    out.push(("failed", info(), s));
    let mut s = base();
    failed(&mut s, true);
    s.push(EventKind::TaskStateChanged {
        task: "research".into(),
        from: TaskState::Failed,
        to: TaskState::Cancelled,
        reason: Some("cancelled by you".into()),
    });
    ended(
        &mut s,
        RunStatus::Cancelled,
        Some("cancelled by you: task research"),
    );
    out.push(("cancelled", info(), s));
    out
}

fn fold(info: WorkflowInfo, s: &Script) -> ViewModel {
    let mut vm = ViewModel::new(info);
    for e in &s.events {
        vm.apply(e);
    }
    vm
}

/// The status bar at `width`, as text.
fn bar(vm: &ViewModel, width: u16, now_us: u64) -> String {
    let mut ui = UiState::default();
    ui.now_us = now_us;
    ui.prepare(vm);
    let area = Rect::new(0, 0, width, 1);
    let mut buf = Buffer::empty(area);
    render(
        area,
        &mut buf,
        vm,
        &ui,
        &Theme::builtin("dark").expect("dark"),
        Context::Global,
    );
    (0..width)
        .map(|x| buf[(x, 0)].symbol().to_owned())
        .collect::<String>()
}

#[test]
fn every_badge_state_at_two_widths() {
    for (name, info, s) in states() {
        let vm = fold(info, &s);
        let text = format!("{}\n{}", bar(&vm, 120, s.now), bar(&vm, 80, s.now));
        insta::assert_snapshot!(format!("badge_{name}"), text);
    }
}

#[test]
fn the_engine_waiting_on_the_user_is_never_running() {
    let want = [
        ("running", RunPhase::Running),
        ("paused", RunPhase::Paused),
        ("waiting_held_failure", RunPhase::WaitingForYou),
        ("waiting_gate", RunPhase::WaitingForYou),
        ("waiting_step", RunPhase::WaitingForYou),
        ("waiting_budget", RunPhase::WaitingForYou),
        ("done", RunPhase::Done),
        ("failed", RunPhase::Failed),
        ("cancelled", RunPhase::Cancelled),
    ];
    for ((name, info, s), (want_name, phase)) in states().into_iter().zip(want) {
        assert_eq!(name, want_name);
        let vm = fold(info, &s);
        assert_eq!(vm.phase(), phase, "{name}");
        let text = bar(&vm, 160, s.now);
        let live = phase.is_live();
        for hint in ["p pause", "r retry", "R reroute", "a approve"] {
            if !live {
                assert!(
                    !text.contains(hint),
                    "{name}: {hint} offered after the end: {text}"
                );
            }
        }
        if name == "paused" {
            assert!(
                text.contains("p resume") && !text.contains("p pause"),
                "{text}"
            );
        }
        if name == "waiting_held_failure" {
            assert!(
                text.contains("r retry") && text.contains("c cancel"),
                "{text}"
            );
            assert!(text.contains("held failure: research"), "{text}");
        }
    }
}

#[test]
fn rates_fall_to_zero_while_nothing_happens() {
    let mut s = base();
    s.complete("research", "researcher", 600, "five sources");
    let vm = fold(test_support::info(), &s);
    assert!(vm.token_rate_now(s.now) > 0.0);
    assert_eq!(vm.tasks_per_minute_now(s.now), 1.0);
    // A 40 s wait at a gate: nothing is spent, nothing completes.
    let later = s.now + 40_000_000;
    assert_eq!(vm.token_rate_now(later), 0.0);
    assert_eq!(vm.tasks_per_minute_now(s.now + 61_000_000), 0.0);
    let text = bar(&vm, 160, later);
    assert!(text.contains(" 0 tok/s now"), "{text}");
}

#[test]
fn gates_are_counted_in_the_plural() {
    let mut s = base();
    for g in ["a", "b"] {
        s.push(EventKind::GateOpened {
            gate: g.into(),
            node: "review".into(),
            artifact: serde_json::json!("draft"),
            revision: 0,
        });
    }
    let vm = fold(test_support::info(), &s);
    let text = bar(&vm, 160, s.now);
    assert!(
        text.contains("⚑ 2 gates") && text.contains("WAITING FOR YOU · 2 gates"),
        "{text}"
    );
}
