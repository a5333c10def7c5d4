//! Snapshot tests of every pane and overlay at two sizes, checked to look
//! the same in two themes, plus styled snapshots of the whole screen.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::overlays::editor;
use super::render;
use super::test_support::{self, T0};
use super::theme::Theme;
use super::ui_state::{ConfirmKind, EditorPurpose, FilterTarget, Overlay, PaneId, UiState};
use super::view_model::ViewModel;

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn screen(
    w: u16,
    h: u16,
    theme: &Theme,
    vm: &ViewModel,
    setup: &dyn Fn(&mut UiState),
) -> Terminal<TestBackend> {
    let mut ui = UiState::default();
    ui.now_us = T0 + 3_000_000;
    setup(&mut ui);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| render::draw(f, vm, &mut ui, theme))
        .expect("draw");
    term
}

/// Snapshots the text at both sizes and checks a second theme draws the same text.
fn check(name: &str, vm: &ViewModel, setup: &dyn Fn(&mut UiState)) {
    let dark = Theme::builtin("dark").expect("dark");
    let hc = Theme::builtin("high-contrast").expect("high-contrast");
    for (w, h) in SIZES {
        let a = screen(w, h, &dark, vm, setup);
        let b = screen(w, h, &hc, vm, setup);
        let text = a.backend().to_string();
        assert_eq!(
            text,
            b.backend().to_string(),
            "{name} {w}x{h}: themes change colours, never content"
        );
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

#[test]
fn main_screen() {
    check("main", &test_support::vm(), &|_| {});
}

#[test]
fn every_pane_zoomed() {
    let vm = test_support::vm();
    for p in PaneId::ALL {
        check(&format!("pane_{}", p.title().to_lowercase()), &vm, &|ui| {
            ui.focus = p;
            ui.zoom = true;
        });
    }
}

#[test]
fn detail_of_a_held_failure() {
    let vm = test_support::vm();
    check("detail_failed", &vm, &|ui| {
        ui.prepare(&vm);
        ui.follow = false;
        ui.focus = PaneId::Detail;
        ui.zoom = true;
        ui.task_sel = 3;
    });
}

#[test]
fn filtered_bus_and_tasks() {
    let mut vm = test_support::vm();
    vm.bus.set_filter("summarizer_b");
    check("bus_filtered", &vm, &|ui| {
        ui.focus = PaneId::Bus;
        ui.zoom = true;
    });
    check("tasks_filtered", &vm, &|ui| {
        ui.task_filter = "progress".into();
        ui.focus = PaneId::Tasks;
        ui.zoom = true;
    });
}

/// A named way to set up the UI state.
type Setup = (&'static str, Box<dyn Fn(&mut UiState)>);

fn overlays() -> Vec<Setup> {
    vec![
        (
            "help",
            Box::new(|ui: &mut UiState| ui.overlay = Some(Overlay::Help { scroll: 0 })),
        ),
        (
            "palette",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Palette {
                    query: "re".into(),
                    sel: 1,
                })
            }),
        ),
        (
            "filter",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Filter {
                    target: FilterTarget::Bus,
                    input: "summ".into(),
                })
            }),
        ),
        (
            "reroute",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Reroute {
                    task: "fanout/summarize[2]".into(),
                    agents: vec![
                        "researcher".into(),
                        "summarizer_a".into(),
                        "summarizer_b".into(),
                    ],
                    sel: 1,
                })
            }),
        ),
        (
            "gate",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Gate {
                    gate: "review".into(),
                    scroll: 0,
                })
            }),
        ),
        (
            "editor",
            Box::new(|ui: &mut UiState| {
                let purpose = EditorPurpose::DenyGate("review".into());
                let mut t = editor::new_textarea(&purpose, &Theme::monochrome());
                t.insert_str("Cite every source.\nAdd the 2027 timeline.");
                ui.overlay = Some(Overlay::Editor {
                    purpose,
                    textarea: Box::new(t),
                });
            }),
        ),
        (
            "confirm_quit",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Confirm {
                    kind: ConfirmKind::Quit,
                })
            }),
        ),
        (
            "confirm_cancel",
            Box::new(|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Confirm {
                    kind: ConfirmKind::CancelTask("fanout/summarize[3]".into()),
                })
            }),
        ),
    ]
}

#[test]
fn every_overlay() {
    let vm = test_support::vm();
    for (name, setup) in overlays() {
        check(&format!("overlay_{name}"), &vm, &*setup);
    }
}

#[test]
fn styled_main_screen_in_two_themes() {
    let vm = test_support::vm();
    for name in ["dark", "light"] {
        let t = screen(120, 40, &Theme::builtin(name).expect("theme"), &vm, &|_| {});
        insta::assert_snapshot!(
            format!("styled_main_{name}"),
            format!("{:?}", t.backend().buffer())
        );
    }
}

#[test]
fn monochrome_screen_uses_no_colour() {
    let vm = test_support::vm();
    let t = screen(120, 40, &Theme::monochrome(), &vm, &|ui| {
        ui.overlay = Some(Overlay::Help { scroll: 0 })
    });
    for cell in t.backend().buffer().content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset);
        assert_eq!(cell.bg, ratatui::style::Color::Reset);
    }
}

#[test]
fn empty_run_and_finished_replay() {
    let empty = ViewModel::new(test_support::info());
    check("empty", &empty, &|_| {});
    let mut vm = test_support::vm();
    vm.replay = true;
    let mut s = test_support::Script::default();
    s.now = vm.last_us + 1_000_000;
    s.push(crate::event::EventKind::SessionEnded {
        status: crate::event::RunStatus::Succeeded,
        output: None,
        error: None,
        usage: vm.total_usage,
        wall_ms: 4000.0,
    });
    vm.apply(&s.events[0]);
    check("replay_done", &vm, &|_| {});
}

#[test]
fn never_panics_at_any_size() {
    let vm = test_support::vm();
    let dark = Theme::builtin("dark").expect("dark");
    let sizes = [
        (0, 0),
        (1, 1),
        (2, 1),
        (1, 5),
        (5, 2),
        (10, 3),
        (20, 5),
        (30, 8),
        (99, 19),
        (100, 20),
        (100, 4),
    ];
    let mut setups = overlays();
    for p in PaneId::ALL {
        setups.push((
            "pane",
            Box::new(move |ui: &mut UiState| {
                ui.focus = p;
                ui.zoom = true;
            }),
        ));
        setups.push(("pane", Box::new(move |ui: &mut UiState| ui.focus = p)));
    }
    for (w, h) in sizes {
        for (_, setup) in &setups {
            let _ = screen(w, h, &dark, &vm, &**setup);
        }
    }
}

/// The 100k-message run draws every pane, the same frame each time. What
/// a frame costs is measured by `cargo bench --bench tui_render`
/// (BENCHMARKS.md), not asserted here: a timing bound in a test fails on a
/// loaded machine and proves nothing on a quiet one.
#[test]
fn big_run_frame_draws_the_newest_messages_the_same_each_time() {
    let vm = test_support::big_vm();
    let theme = Theme::builtin("dark").expect("dark");
    let mut ui = UiState::default();
    ui.now_us = T0 + 100_000_000;
    let area = ratatui::layout::Rect::new(0, 0, 200, 60);
    let mut first = ratatui::buffer::Buffer::empty(area);
    render::draw_buffer(area, &mut first, &vm, &mut ui, &theme);
    let mut again = ratatui::buffer::Buffer::empty(area);
    for _ in 0..3 {
        again.reset();
        render::draw_buffer(area, &mut again, &vm, &mut ui, &theme);
    }
    assert_eq!(first, again, "drawing is a pure function of its inputs");
    let text: String = first.content().iter().map(|c| c.symbol()).collect();
    assert!(
        text.contains("a fairly long summary"),
        "the bus shows messages"
    );
    assert!(
        text.contains("t199"),
        "the tasks pane shows the newest task"
    );
}

fn fold(info: super::view_model::WorkflowInfo, s: &test_support::Script) -> ViewModel {
    let mut vm = ViewModel::new(info);
    for e in &s.events {
        vm.apply(e);
    }
    vm
}

fn zoomed(p: PaneId) -> impl Fn(&mut UiState) {
    move |ui: &mut UiState| {
        ui.focus = p;
        ui.zoom = true;
    }
}

#[test]
fn debate_pane_in_step_mode_and_decided() {
    let waiting = fold(
        test_support::debate_info(),
        &test_support::debate_script(true),
    );
    // Zoomed: the table, the stance chart and the transcript under them.
    check("debate_step", &waiting, &zoomed(PaneId::Debate));
    // In the grid: the step line and the newest rows.
    check("debate_step_grid", &waiting, &|ui: &mut UiState| {
        ui.focus = PaneId::Debate
    });
    let decided = fold(
        test_support::debate_info(),
        &test_support::debate_script(false),
    );
    check("debate_decided", &decided, &zoomed(PaneId::Debate));
    // Scrolled back to the first round.
    check("debate_scrolled", &decided, &|ui: &mut UiState| {
        ui.focus = PaneId::Debate;
        ui.zoom = true;
        ui.debate_top = Some(0);
    });
}

#[test]
fn budgets_pane_with_limits_breakers_and_quota() {
    let vm = fold(test_support::budget_info(), &test_support::budget_script());
    check("budgets_paused", &vm, &zoomed(PaneId::Budgets));
    check("budgets_grid", &vm, &|_: &mut UiState| {});
}

#[test]
fn budget_gauges_use_the_level_styles() {
    let vm = fold(test_support::budget_info(), &test_support::budget_script());
    let theme = Theme::builtin("dark").expect("dark");
    let t = screen(120, 40, &theme, &vm, &zoomed(PaneId::Budgets));
    let buf = t.backend().buffer();
    // The fill colour of each gauge row: the run's tokens warn (78% ≥ 75%),
    // its money is ok (42%), summarizer_a is critical (refused a call).
    let row_fg = |label: &str| {
        let y = (0..40u16)
            .find(|&y| {
                (0..120u16)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect::<String>()
                    .contains(&format!("┃{label}"))
            })
            .unwrap_or_else(|| panic!("no row {label}"));
        let x = (0..120u16)
            .find(|&x| buf[(x, y)].symbol() == "█")
            .expect("a filled bar");
        buf[(x, y)].fg
    };
    assert_eq!(row_fg("run "), theme.budget_warn.fg.unwrap());
    assert_eq!(row_fg("  $ "), theme.budget_ok.fg.unwrap());
    assert_eq!(row_fg("summarizer_a"), theme.budget_critical.fg.unwrap());
}

#[test]
fn typing_shows_in_the_detail_graph_and_tasks() {
    let vm = fold(test_support::info(), &test_support::typing_script());
    let select = |ui: &mut UiState| {
        ui.prepare(&vm);
        ui.follow = false;
        ui.task_sel = 4;
    };
    check("typing_detail", &vm, &|ui: &mut UiState| {
        select(ui);
        ui.focus = PaneId::Detail;
        ui.zoom = true;
    });
    check("typing_grid", &vm, &|ui: &mut UiState| select(ui));
}

#[test]
fn gate_review_shows_the_reviewer_verdict() {
    let vm = fold(test_support::review_info(), &test_support::review_script());
    check("overlay_gate_reviewed", &vm, &|ui: &mut UiState| {
        ui.overlay = Some(Overlay::Gate {
            gate: "sign_off".into(),
            scroll: 0,
        })
    });
}

#[test]
fn new_panes_never_panic_at_any_size() {
    let dark = Theme::builtin("dark").expect("dark");
    let vms = [
        fold(
            test_support::debate_info(),
            &test_support::debate_script(true),
        ),
        fold(
            test_support::debate_info(),
            &test_support::debate_script(false),
        ),
        fold(test_support::budget_info(), &test_support::budget_script()),
        fold(test_support::info(), &test_support::typing_script()),
        fold(test_support::review_info(), &test_support::review_script()),
    ];
    for vm in &vms {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (5, 2),
            (10, 3),
            (20, 5),
            (30, 8),
            (60, 12),
            (100, 4),
            (100, 30),
        ] {
            for p in PaneId::ALL {
                let _ = screen(w, h, &dark, vm, &zoomed(p));
                let _ = screen(w, h, &dark, vm, &|ui: &mut UiState| ui.focus = p);
            }
            let _ = screen(w, h, &dark, vm, &|ui: &mut UiState| {
                ui.overlay = Some(Overlay::Gate {
                    gate: "sign_off".into(),
                    scroll: 3,
                })
            });
        }
    }
}

// ── a replayed session (moved from tests/tui_render.rs when the cockpit's
// internals became crate-private) ──

use super::view_model::{AgentInfo, NodeInfo, RunPhase, WorkflowInfo};
use crate::event::{Event, EventKind, NodeState, TaskState, Usage};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::json;

fn replayed_info() -> WorkflowInfo {
    let node = |id: &str, kind: &'static str, children: Vec<usize>| NodeInfo {
        id: id.into(),
        title: id.into(),
        kind,
        children,
        runner: None,
    };
    WorkflowInfo::new(
        "replayed",
        0,
        vec![
            node("pipe", "sequence", vec![1]),
            node("write", "agent", vec![]),
        ],
        vec![AgentInfo {
            id: "w".into(),
            role: "executor".into(),
            model: "m".into(),
            capabilities: vec![],
        }],
    )
}

fn replay_ev(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        ts: 1_000_000 * seq,
        session: "s".into(),
        kind,
    }
}

#[test]
fn a_replayed_session_draws_read_only() {
    let mut vm = ViewModel::new(replayed_info());
    vm.replay = true;
    let events = [
        EventKind::SessionStarted {
            workflow: "replayed".into(),
            seed: 7,
            entry: "pipe".into(),
            agents: vec!["w".into()],
        },
        EventKind::NodeStateChanged {
            node: "write".into(),
            state: NodeState::Running,
            progress: None,
        },
        EventKind::TaskCreated {
            task: "write#1".into(),
            node: "write".into(),
            parent: None,
            title: "write it".into(),
            agent: Some("w".into()),
            capability: None,
            priority: 2,
            input: json!("a haiku"),
        },
        EventKind::TaskAssigned {
            task: "write#1".into(),
            agent: "w".into(),
            attempt: 1,
        },
        EventKind::TaskCompleted {
            task: "write#1".into(),
            agent: Some("w".into()),
            from: TaskState::InProgress,
            output: json!("old pond / frog"),
            attempt: 1,
            usage: Usage {
                prompt_tokens: 12,
                completion_tokens: 8,
                estimated: false,
            },
            duration_ms: 900.0,
        },
    ];
    for (i, k) in events.into_iter().enumerate() {
        vm.apply(&replay_ev(i as u64 + 1, k));
    }
    assert_eq!(vm.phase(), RunPhase::Running);
    let mut ui = UiState::default();
    ui.focus = PaneId::Detail;
    ui.zoom = true;
    let area = Rect::new(0, 0, 110, 30);
    let mut buf = Buffer::empty(area);
    render::draw_buffer(area, &mut buf, &vm, &mut ui, &Theme::monochrome());
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(text.contains("REPLAY · RUNNING"), "{text}");
    assert!(text.contains("write#1"));
    assert!(text.contains("old pond / frog"));
    assert!(text.contains("1/1 done"));
}

/// Start column of `needle` in row `y` of the screen (wide characters take
/// two columns there), if it is on that row.
fn column_of(buf: &ratatui::buffer::Buffer, y: u16, needle: &str) -> Option<u16> {
    // A wide character's second cell is hidden behind it: skip it.
    let mut row: Vec<(u16, &str)> = Vec::new();
    let mut x = 0;
    while x < buf.area.width {
        let sym = buf[(x, y)].symbol();
        row.push((x, sym));
        x += crate::text::width(sym).max(1) as u16;
    }
    (0..row.len()).find_map(|i| {
        let rest: String = row[i..].iter().map(|(_, s)| *s).collect();
        rest.starts_with(needle).then_some(row[i].0)
    })
}

#[test]
fn wide_ids_keep_the_task_columns_aligned() {
    use crate::event::EventKind;
    use crate::tui::view_model::AgentInfo;

    let mut info = test_support::info();
    for id in ["研究者", "🦀crab"] {
        info.agents.push(AgentInfo {
            id: id.into(),
            role: "executor".into(),
            model: "sim-1".into(),
            capabilities: vec![],
        });
    }
    let mut s = test_support::Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "research-pipeline".into(),
        seed: 42,
        entry: "main".into(),
        agents: ["研究者", "🦀crab", "writer"]
            .iter()
            .map(|a| crate::event::Id::from(*a))
            .collect(),
    });
    s.start_task("調査-タスク", "research", "研究者", 120);
    s.start_task("🦀-crab-🦀", "summarize", "🦀crab", 80);
    s.start_task("plain-task", "merge", "writer", 60);
    let mut vm = ViewModel::new(info);
    for e in &s.events {
        vm.apply(e);
    }
    check("tasks_wide_ids", &vm, &|ui| {
        ui.focus = PaneId::Tasks;
        ui.zoom = true;
    });
    for (w, h) in SIZES {
        let term = screen(w, h, &Theme::monochrome(), &vm, &|ui| {
            ui.focus = PaneId::Tasks;
            ui.zoom = true;
        });
        let buf = term.backend().buffer();
        let rows: Vec<(u16, &str)> = [
            ("調査-タスク", "研究者"),
            ("🦀-crab-🦀", "🦀crab"),
            ("plain-task", "writer"),
        ]
        .iter()
        .map(|(task, agent)| {
            let y = (0..h)
                .find(|&y| column_of(buf, y, task).is_some())
                .unwrap_or_else(|| panic!("{task} not on screen at {w}x{h}"));
            (y, *agent)
        })
        .collect();
        let states: Vec<Option<u16>> = rows
            .iter()
            .map(|(y, _)| column_of(buf, *y, "IN_PROGRESS"))
            .collect();
        let agents: Vec<Option<u16>> = rows
            .iter()
            .map(|(y, agent)| column_of(buf, *y, agent))
            .collect();
        assert!(states[0].is_some() && agents[0].is_some(), "{w}x{h}");
        assert!(
            states.iter().all(|c| *c == states[0]),
            "state column at {w}x{h}: {states:?}"
        );
        assert!(
            agents.iter().all(|c| *c == agents[0]),
            "agent column at {w}x{h}: {agents:?}"
        );
    }
}
