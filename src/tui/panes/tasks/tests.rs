//! The task list with ids longer than their column, and the time column
//! of a task that was held for the user.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::event::{ErrorKind, EventKind, TaskState};
use crate::tui::render;
use crate::tui::test_support::{self, Script, T0};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{PaneId, UiState};
use crate::tui::view_model::{self, ViewModel};

const LONG: [&str; 6] = [
    "design/r1/architect",
    "ship~r1/design/r2/architect",
    "ship~r1/design/r2/reviewer",
    "ship~r2/design/r1/architect",
    "ship~r2/design/r1/reviewer",
    "ship~r1/design/r3/architect-of-the-storage-layer",
];

fn script() -> Script {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "research-pipeline".into(),
        seed: 1,
        entry: "main".into(),
        agents: vec!["writer".into()],
    });
    for id in LONG {
        s.start_task(id, "merge", "writer", 100);
    }
    s.complete(LONG[0], "writer", 100, "done");
    // The last one fails, is held 40 s, and is retried: 2 s more of work.
    s.push(EventKind::TaskFailed {
        task: LONG[5].into(),
        agent: Some("writer".into()),
        from: TaskState::InProgress,
        kind: ErrorKind::Server,
        error: "injected 500".into(),
        attempt: 1,
        held: true,
    });
    s.wait(40_000).push(EventKind::TaskAssigned {
        task: LONG[5].into(),
        agent: "writer".into(),
        attempt: 2,
    });
    s.wait(2_000);
    s
}

fn vm(s: &Script) -> ViewModel {
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    vm
}

#[test]
fn long_ids_are_cut_in_the_middle_and_kept_apart_from_the_state() {
    let s = script();
    let vm = vm(&s);
    for (w, h) in [(120, 40), (80, 24)] {
        let mut ui = UiState::default();
        ui.focus = PaneId::Tasks;
        ui.zoom = true;
        ui.now_us = s.now;
        let mut term = Terminal::new(TestBackend::new(w, h)).expect("backend");
        let theme = Theme::builtin("dark").expect("dark");
        term.draw(|f| render::draw(f, &vm, &mut ui, &theme))
            .expect("draw");
        let text = term.backend().to_string();
        for state in ["COMPLETED", "IN_PROGRESS"] {
            assert!(
                !text.contains(&format!("t{state}")) && !text.contains(&format!("r{state}")),
                "an id runs into {state} at {w}x{h}:\n{text}"
            );
        }
        // Every id still reads differently from the others.
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("writer"))
            .map(|l| l.split("  ").next().unwrap_or_default())
            .collect();
        assert_eq!(rows.len(), LONG.len(), "{text}");
        for (i, a) in rows.iter().enumerate() {
            assert!(
                !rows[..i].contains(a),
                "two rows read {a} at {w}x{h}:\n{text}"
            );
        }
        insta::assert_snapshot!(format!("tasks_long_ids_{w}x{h}"), text);
    }
}

#[test]
fn time_held_for_the_user_is_not_run_time() {
    let s = script();
    let vm = vm(&s);
    let t = vm.task(LONG[5]).expect("task");
    let ms = view_model::run_ms(t, s.now).expect("started");
    // 400 ms before the failure, 2 s after the retry; not the 40 s held.
    assert!((2_000.0..3_000.0).contains(&ms), "{ms}");
    assert!(t.elapsed_ms(s.now).unwrap() > 40_000.0);
    let first = vm.task(LONG[0]).expect("task");
    assert_eq!(view_model::run_ms(first, s.now), first.elapsed_ms(s.now));
    assert!(T0 < s.now);
}
