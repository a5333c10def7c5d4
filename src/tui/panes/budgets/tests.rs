//! The budgets pane with more agents than rows, bars that say what their
//! numbers say, and a budget pause that tells what calls in flight hold.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::event::{EventKind, Id, Usage};
use crate::tui::app::App;
use crate::tui::render;
use crate::tui::test_support::{self, Script};
use crate::tui::theme::Theme;
use crate::tui::view_model::{AgentInfo, BudgetInfo, WorkflowInfo};

const AGENTS: usize = 24;

fn agent_id(i: usize) -> String {
    format!("agent_{i:02}")
}

/// 24 agents spending 2400, 2300, … 100 tokens (30k); the run is limited
/// to 31.4k and paused for budget with calls in flight.
fn setup() -> (WorkflowInfo, Script) {
    let mut info = test_support::info();
    info.agents = (0..AGENTS)
        .map(|i| AgentInfo {
            id: agent_id(i).into(),
            role: "executor".into(),
            model: "sim-1".into(),
            capabilities: vec!["summarize".into()],
        })
        .collect();
    let info = info.with_budget(BudgetInfo {
        warn_at: 0.8,
        limits: vec![("run".into(), Some(31_400), None)],
    });
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "research-pipeline".into(),
        seed: 1,
        entry: "main".into(),
        agents: (0..AGENTS).map(|i| Id::from(agent_id(i))).collect(),
    });
    let mut used = 0;
    for i in 0..AGENTS {
        let tokens = (AGENTS - i) as u64 * 100;
        used += tokens;
        s.wait(100).push(EventKind::LlmResponse {
            task: format!("t{i}").into(),
            agent: agent_id(i).into(),
            provider: "sim".into(),
            model: "sim-1".into(),
            usage: Usage {
                prompt_tokens: tokens / 2,
                completion_tokens: tokens - tokens / 2,
                estimated: false,
            },
            latency_ms: 100.0,
        });
    }
    s.push(EventKind::BudgetUpdated {
        scope: "run".into(),
        used_tokens: used,
        used_usd: 0.0,
        limit_tokens: Some(31_400),
        limit_usd: None,
    });
    s.push(EventKind::BudgetExhausted {
        scope: "run".into(),
        task: "t11".into(),
        agent: agent_id(0).into(),
        needed_tokens: 900,
        remaining_tokens: Some(200),
        policy: "pause".into(),
    });
    s.push(EventKind::RunPaused);
    (info, s)
}

fn app() -> App {
    let (info, s) = setup();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = App::new(info, Some(tx), Theme::builtin("dark").unwrap(), false);
    for e in &s.events {
        app.apply(e);
    }
    app.ui.now_us = s.now;
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .unwrap();
    t.backend().to_string()
}

fn key(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
}

#[test]
fn more_agents_than_rows_are_counted_and_scrolled() {
    for (w, h) in [(120, 40), (80, 24)] {
        let mut a = app();
        key(&mut a, '5');
        let text = draw(&mut a, w, h);
        assert!(text.contains(" more · j/k scroll"), "{w}x{h}:\n{text}");
        let last = agent_id(AGENTS - 1);
        assert!(
            !text.contains(&last),
            "{w}x{h}: the last agent fits?\n{text}"
        );
        insta::assert_snapshot!(format!("budgets_more_agents_{w}x{h}"), text);
        // j scrolls until the last agent shows, and no further.
        for _ in 0..AGENTS + 5 {
            key(&mut a, 'j');
            draw(&mut a, w, h);
        }
        let text = draw(&mut a, w, h);
        assert!(
            text.contains(&last),
            "{w}x{h}: j never reached {last}:\n{text}"
        );
        assert!(text.contains(" above · j/k scroll"), "{text}");
        key(&mut a, 'g');
        let text = draw(&mut a, w, h);
        assert!(
            text.contains(&agent_id(0)) && !text.contains(" above · j/k"),
            "{text}"
        );
    }
}

#[test]
fn an_unlimited_agents_bar_is_its_share_of_the_run() {
    let mut a = app();
    key(&mut a, '5');
    key(&mut a, 'z');
    let text = draw(&mut a, 160, 50);
    let row = text
        .lines()
        .find(|l| l.contains(&agent_id(0)))
        .expect("agent row");
    // 2400 of 30000 tokens: 8 % of the run, and 8 % of the bar filled.
    assert!(row.contains("  8% of run"), "{row}");
    let filled = row.matches('█').count() as f64;
    let bar = filled + row.matches('░').count() as f64;
    assert!((filled / bar - 0.08).abs() < 0.03, "{row}");
}

#[test]
fn a_budget_pause_says_what_calls_in_flight_reserve() {
    let mut a = app();
    key(&mut a, '5');
    key(&mut a, 'z');
    let text = draw(&mut a, 160, 50);
    // 31.4k limit − 30k used − 200 left: 1.2k held by calls in flight.
    assert!(
        text.contains("⏸ run out of budget · B raises it · 1.2k tok reserved by calls in flight · next call needs 900, 200 left"),
        "{text}"
    );
}
