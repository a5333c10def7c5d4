//! The Workers view: a run on three workers, one lost after a kill, one
//! stopped; the key that shows it, the Detail line naming a task's worker,
//! and an in-process run that has no such view.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::event::{EventKind, WorkerState};
use crate::tui::app::App;
use crate::tui::render;
use crate::tui::test_support::{self, Script};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{GraphView, PaneId};

fn seen(s: &mut Script, id: &str, host: &str, caps: &[&str], agents: &[&str]) {
    s.push(EventKind::WorkerSeen {
        worker: id.into(),
        host: host.into(),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        agents: agents.iter().map(|c| c.to_string()).collect(),
        any: caps.is_empty() && agents.is_empty(),
        concurrency: 8,
    });
}

fn status(s: &mut Script, id: &str, state: WorkerState, in_flight: u32, done: u64, failures: u64) {
    s.push(EventKind::WorkerStatus {
        worker: id.into(),
        state,
        in_flight,
        done,
        failures,
    });
}

fn ran(s: &mut Script, task: &str, agent: &str, worker: &str, deliveries: u32) {
    s.push(EventKind::WorkerResult {
        task: task.into(),
        agent: agent.into(),
        attempt: 1,
        worker: worker.into(),
        deliveries,
        reused: false,
    });
}

/// The test run, its calls on workers: `gpu-box-1` ran the research and
/// was killed, `laptop` took the summaries over, `ci-runner` stopped.
fn script() -> Script {
    let mut s = test_support::script();
    seen(&mut s, "gpu-box-1", "gpu1.lan", &[], &[]);
    seen(&mut s, "laptop", "mbp", &["summarize"], &[]);
    seen(&mut s, "ci-runner", "ci", &[], &["writer"]);
    status(&mut s, "gpu-box-1", WorkerState::Live, 3, 12, 0);
    ran(&mut s, "research", "researcher", "gpu-box-1", 1);
    s.wait(400);
    status(&mut s, "gpu-box-1", WorkerState::Lost, 2, 13, 0);
    ran(&mut s, "fanout/summarize[0]", "summarizer_a", "laptop", 2);
    status(&mut s, "laptop", WorkerState::Live, 1, 40, 2);
    status(&mut s, "ci-runner", WorkerState::Stopped, 0, 5, 0);
    s
}

fn app(s: &Script) -> App {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut app = App::new(
        test_support::info(),
        Some(tx),
        Theme::builtin("dark").unwrap(),
        false,
    );
    for e in &s.events {
        app.apply(e);
    }
    app.ui.now_us = s.now + 2_500_000;
    app
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .unwrap();
    t.backend().to_string()
}

fn press(app: &mut App, c: char) {
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT));
}

#[test]
fn w_shows_the_workers_in_the_graph_pane_and_again_goes_back() {
    let s = script();
    for (w, h) in [(160, 40), (80, 24)] {
        let mut a = app(&s);
        press(&mut a, 'W');
        assert_eq!(a.ui.graph_view, GraphView::Workers);
        assert_eq!(a.ui.focus, PaneId::Graph);
        let text = draw(&mut a, w, h);
        assert!(text.contains("Workers · 1 live of 3 · 1 lost"), "{text}");
        insta::assert_snapshot!(format!("workers_view_{w}x{h}"), text);
        press(&mut a, 'W');
        assert_eq!(a.ui.graph_view, GraphView::Flow);
    }
}

#[test]
fn the_rows_say_state_load_and_what_each_ran_for_this_run() {
    let mut a = app(&script());
    press(&mut a, 'W');
    a.ui.zoom = true;
    let text = draw(&mut a, 160, 20);
    let line = |id: &str| {
        text.lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{text}"))
            .to_string()
    };
    let gpu = line("gpu-box-1");
    assert!(gpu.contains("✗") && gpu.contains("lost 2.5s ago"), "{gpu}");
    assert!(gpu.contains("2/8") && gpu.contains("any"), "{gpu}");
    let laptop = line("laptop");
    assert!(laptop.contains("1↻1"), "a redelivered call shows: {laptop}");
    assert!(
        laptop.contains("summarize") && laptop.contains("live"),
        "{laptop}"
    );
    let ci = line("ci-runner");
    assert!(ci.contains("@writer") && ci.contains("stopped"), "{ci}");
}

#[test]
fn the_detail_of_a_task_names_the_worker_that_ran_it() {
    let vm = {
        let mut vm = crate::tui::view_model::ViewModel::new(test_support::info());
        for e in &script().events {
            vm.apply(e);
        }
        vm
    };
    let t = vm.task("research").expect("the research task");
    let text: Vec<String> = crate::tui::detail_text::build_lines(t, &vm)
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    assert!(
        text.iter()
            .any(|l| l == "ran on worker gpu-box-1 on gpu1.lan"),
        "{text:#?}"
    );
}

#[test]
fn an_in_process_run_has_no_workers_view() {
    let mut a = app(&test_support::script());
    press(&mut a, 'W');
    assert_eq!(a.ui.graph_view, GraphView::Flow, "nothing to show");
    let text = draw(&mut a, 160, 40);
    assert!(text.contains("no workers"), "the flash says why:\n{text}");
}
