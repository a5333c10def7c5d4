//! Snapshots of the Graph pane (zoomed, two sizes, two themes that must
//! draw the same text): the layered graphs of built-in workflows and a
//! 200-item map, the agent view, a held failure, a reroute, a revision.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

use crate::event::{EventKind, NodeState, TaskState};
use crate::tui::render;
use crate::tui::test_support::{self, Script, T0};
use crate::tui::theme::Theme;
use crate::tui::ui_state::{GraphSel, GraphView, PaneId, UiState};
use crate::tui::view_model::{ViewModel, WorkflowInfo};
use crate::workflow::load::{Format, load_source, load_str};

const SIZES: [(u16, u16); 2] = [(120, 40), (80, 24)];

fn screen(w: u16, h: u16, theme: &Theme, vm: &ViewModel, setup: &dyn Fn(&mut UiState)) -> String {
    let mut ui = UiState::default();
    ui.now_us = T0 + 3_000_000;
    ui.focus = PaneId::Graph;
    ui.zoom = true;
    setup(&mut ui);
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("test backend");
    term.draw(|f| render::draw(f, vm, &mut ui, theme))
        .expect("draw");
    term.backend().to_string()
}

fn check(name: &str, vm: &ViewModel, setup: &dyn Fn(&mut UiState)) {
    let dark = Theme::builtin("dark").expect("dark");
    let hc = Theme::builtin("high-contrast").expect("high-contrast");
    for (w, h) in SIZES {
        let text = screen(w, h, &dark, vm, setup);
        assert_eq!(
            text,
            screen(w, h, &hc, vm, setup),
            "{name} {w}x{h}: themes change colours, never content"
        );
        insta::assert_snapshot!(format!("graph_{name}_{w}x{h}"), text);
    }
}

fn builtin(name: &str) -> WorkflowInfo {
    let loaded = load_source(&format!("builtin:{name}")).expect("a built-in loads");
    WorkflowInfo::from_workflow(&loaded.workflow)
}

fn run(info: WorkflowInfo, events: impl FnOnce(&mut Script)) -> ViewModel {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: info.name.clone(),
        seed: 1,
        entry: info.nodes[info.entry].id.clone(),
        agents: vec![],
    });
    events(&mut s);
    let mut vm = ViewModel::new(info);
    for e in &s.events {
        vm.apply(e);
    }
    vm
}

fn state(s: &mut Script, node: &str, state: NodeState, progress: Option<[u32; 2]>) {
    s.push(EventKind::NodeStateChanged {
        node: node.into(),
        state,
        progress,
    });
}

#[test]
fn demo_as_a_layered_graph() {
    let vm = run(builtin("demo"), |s| {
        state(s, "ship", NodeState::Running, None);
        state(s, "build", NodeState::Running, None);
        state(s, "design", NodeState::Running, None);
        s.start_task("design/r1/architect", "design", "architect", 180);
        s.complete("design/r1/architect", "architect", 180, "streaming");
        state(s, "design", NodeState::Completed, None);
        state(s, "adopt", NodeState::Running, None);
        s.start_task("adopt/r1/qa", "adopt", "qa", 0);
    });
    check("demo", &vm, &|_| {});
}

#[test]
fn hierarchical_plan_with_its_review_back_edge() {
    let vm = run(builtin("hierarchical"), |s| {
        state(s, "build", NodeState::Running, None);
        s.start_task("build/plan", "build", "planner", 300);
        s.complete("build/plan", "planner", 300, "two subtasks");
        for (i, agent) in ["coder-1", "tester"].iter().enumerate() {
            let task = format!("build/{i}");
            s.push(EventKind::TaskCreated {
                task: task.as_str().into(),
                node: "build".into(),
                parent: Some("build/plan".into()),
                title: format!("subtask {i}"),
                agent: None,
                capability: Some("code".into()),
                priority: 3,
                input: json!({}),
            });
            s.push(EventKind::TaskAssigned {
                task: task.as_str().into(),
                agent: (*agent).into(),
                attempt: 1,
            });
        }
    });
    check("hierarchical", &vm, &|_| {});
}

/// `builtin:dependent_plan` mid-run: the planner's DAG drawn as it was
/// created, the two research steps done side by side, the summary running
/// on both, the format step waiting for it.
#[test]
fn dependent_plan_draws_its_dag() {
    use crate::event::PlannedSubtask;
    let vm = run(builtin("dependent_plan"), |s| {
        state(s, "write", NodeState::Running, None);
        s.start_task("write", "write", "planner", 372);
        let steps = [
            ("origins", "Research the origins", "research", vec![], 400),
            ("impact", "Research the impact", "research", vec![], 400),
            (
                "summary",
                "Summarize the research",
                "summarize",
                vec!["write/1", "write/2"],
                300,
            ),
            (
                "format",
                "Format the summary",
                "format",
                vec!["write/3"],
                200,
            ),
        ];
        s.push(EventKind::PlanCreated {
            task: "write".into(),
            subtasks: steps
                .iter()
                .enumerate()
                .map(|(i, (id, title, cap, deps, est))| PlannedSubtask {
                    task: format!("write/{}", i + 1).into(),
                    title: (*title).into(),
                    capability: (*cap).into(),
                    step: Some((*id).into()),
                    depends_on: deps.iter().map(|&d| d.into()).collect(),
                    estimate_tokens: Some(*est),
                    estimate_minutes: None,
                })
                .collect(),
        });
        s.complete("write", "planner", 372, "a plan of four steps");
        for (i, (_, title, cap, _, _)) in steps.iter().enumerate() {
            s.push(EventKind::TaskCreated {
                task: format!("write/{}", i + 1).into(),
                node: "write".into(),
                parent: Some("write".into()),
                title: (*title).into(),
                agent: None,
                capability: Some((*cap).into()),
                priority: 3,
                input: json!({}),
            });
        }
        for (task, agent) in [("write/1", "researcher-1"), ("write/2", "researcher-2")] {
            s.push(EventKind::TaskAssigned {
                task: task.into(),
                agent: agent.into(),
                attempt: 1,
            });
            s.complete(task, agent, 92, "three facts");
        }
        s.push(EventKind::TaskAssigned {
            task: "write/3".into(),
            agent: "summarizer".into(),
            attempt: 1,
        });
    });
    check("dependent_plan", &vm, &|_| {});
}

#[test]
fn state_machine_with_a_back_edge() {
    let info = builtin("state_machine");
    let analyse = info.node("analyse").expect("analyse state");
    let vm = run(info, |s| {
        state(s, "investigate", NodeState::Running, None);
        state(s, "research", NodeState::Completed, None);
        state(s, "analyse", NodeState::Running, None);
        s.start_task("investigate/analyse", "analyse", "analyst", 0);
    });
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    assert!(
        text.contains('↺') && text.contains('▶'),
        "the loop's back edge is drawn:\n{text}"
    );
    check("state_machine", &vm, &|ui| {
        ui.graph_sel = Some(GraphSel::Node(analyse));
    });
}

const WIDE_MAP: &str = r#"
[workflow]
name = "wide_map"

[[agents]]
id = "checker"
capabilities = ["check"]

[[agents]]
id = "merger"

[[nodes]]
id = "checks"
kind = "map"
count = 200
body = "check"
aggregate = "merge"

[[nodes]]
id = "check"
kind = "agent"
capability = "check"
prompt = "check {{item}}"

[[nodes]]
id = "merge"
kind = "agent"
agent = "merger"
prompt = "merge {{input}}"
"#;

#[test]
fn a_200_item_map_collapses_with_live_counts() {
    let loaded = load_str(WIDE_MAP, "wide_map.toml", Format::Toml).expect("the map loads");
    let vm = run(WorkflowInfo::from_workflow(&loaded.workflow), |s| {
        state(s, "checks", NodeState::Running, Some([37, 200]));
        state(s, "check", NodeState::Running, None);
        for i in 37..45 {
            s.start_task(&format!("checks/check[{i}]"), "check", "checker", 0);
        }
    });
    let text = screen(80, 24, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    assert!(
        text.contains("37/200") && text.contains("×200 items"),
        "{text}"
    );
    check("map_200", &vm, &|_| {});
}

#[test]
fn fifty_nodes_collapse_and_scroll_to_the_selection() {
    let vm = test_support::big_vm();
    let text = screen(80, 24, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    assert!(text.contains("… 44 more"), "49 branches collapse:\n{text}");
    check("fifty_nodes", &vm, &|_| {});
}

#[test]
fn a_held_failure_is_drawn_failed_not_running() {
    let vm = test_support::vm();
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    let row = text
        .lines()
        .find(|l| l.contains("summarize agent"))
        .expect("the summarize node");
    assert!(
        row.contains("✗ summarize") && row.contains("held for you"),
        "{row}"
    );
    check("held_failure", &vm, &|_| {});
}

#[test]
fn a_reroute_changes_the_agent_shown() {
    let mut s = test_support::script();
    s.push(EventKind::TaskRerouted {
        task: "fanout/summarize[2]".into(),
        from_agent: Some("writer".into()),
        to_agent: "summarizer_b".into(),
    });
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    let row = text
        .lines()
        .find(|l| l.contains("summarize agent"))
        .expect("the summarize node");
    assert!(
        row.contains("summarizer_b") && !row.contains("writer"),
        "{row}"
    );
    check("rerouted", &vm, &|_| {});
}

#[test]
fn a_denied_revision_shows_the_subject_as_not_reached_again() {
    let mut s = test_support::script();
    s.push(EventKind::GateDecided {
        gate: "review".into(),
        approved: false,
        comment: Some("add sources".into()),
    });
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    let row = text
        .lines()
        .find(|l| l.contains("merge agent") && !l.contains('↗'))
        .expect("the merge node");
    assert!(
        row.contains("○ merge") && row.contains("next revision"),
        "{row}"
    );
}

#[test]
fn agent_traffic_view() {
    let mut s = test_support::script();
    s.push(EventKind::TaskHandoff {
        task: "fanout/summarize[3]".into(),
        from_agent: "summarizer_a".into(),
        to_agent: "writer".into(),
        capability: "summarize".into(),
        reason: "busy".into(),
        hop: 1,
    });
    for i in 0..3 {
        s.bus(
            "orchestrator",
            Some("summarizer_a"),
            "agent.summarizer_a",
            "task",
            json!({ "n": i }),
        );
    }
    s.bus(
        "writer",
        Some("researcher"),
        "ask",
        "question",
        json!("sources?"),
    );
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|ui| {
        ui.graph_view = GraphView::Agents;
    });
    assert!(text.contains("1 hand-off ─▶ writer"), "{text}");
    check("agents", &vm, &|ui| {
        ui.graph_view = GraphView::Agents;
        ui.graph_sel = Some(GraphSel::Agent("summarizer_a".into()));
    });
}

#[test]
fn a_debate_critique_is_traffic_between_debaters() {
    let mut vm = ViewModel::new(test_support::debate_info());
    for e in &test_support::debate_script(false).events {
        vm.apply(e);
    }
    assert!(
        vm.traffic.edges.iter().any(|e| e.critiques > 0),
        "critiques fold into the traffic"
    );
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|ui| {
        ui.graph_view = GraphView::Agents;
    });
    assert!(text.contains("critique"), "{text}");
}

#[test]
fn tasks_follow_the_selected_node() {
    let vm = test_support::vm();
    let mut ui = UiState::default();
    ui.prepare(&vm);
    let all = ui.task_rows.len();
    let summarize = vm.info.node("summarize").expect("node");
    ui.select_in_graph(&vm, Some(GraphSel::Node(summarize)));
    assert!(ui.task_rows.len() < all);
    assert!(
        ui.task_rows
            .iter()
            .all(|&i| &*vm.tasks[i].node_id == "summarize")
    );
    // The held failure is the task most worth a look: Detail shows it.
    let t = ui.selected_task(&vm).expect("a task is selected");
    assert_eq!(&*t.id, "fanout/summarize[2]");
    assert_eq!(t.state, TaskState::Failed);
    // Selecting the map keeps the tasks of the nodes it contains.
    ui.select_in_graph(&vm, vm.info.node("fanout").map(GraphSel::Node));
    assert_eq!(
        ui.task_rows.len(),
        vm.tasks
            .iter()
            .filter(|t| &*t.node_id == "summarize" || &*t.node_id == "merge")
            .count()
    );
    ui.select_in_graph(&vm, None);
    assert_eq!(ui.task_rows.len(), all);
}

// ── keys: select with j/k in the focused Graph pane, `e` for the agents ──

fn app() -> crate::tui::app::App {
    let mut app = crate::tui::app::App::new(
        test_support::info(),
        None,
        Theme::builtin("dark").expect("dark"),
        false,
    );
    for e in &test_support::script().events {
        app.apply(e);
    }
    app.ui.now_us = T0 + 3_000_000;
    app.ui.focus = PaneId::Graph;
    let mut t = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    t.draw(|f| render::draw(f, &app.vm, &mut app.ui, &app.theme))
        .expect("draw");
    app
}

fn press(app: &mut crate::tui::app::App, c: char) {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    app.handle_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
}

#[test]
fn j_and_k_walk_the_nodes_and_detail_follows() {
    let mut a = app();
    press(&mut a, 'j');
    assert_eq!(
        a.ui.graph_sel,
        Some(GraphSel::Node(0)),
        "first j selects the entry"
    );
    for _ in 0..3 {
        press(&mut a, 'j');
    }
    let summarize = a.vm.info.node("summarize").expect("node");
    assert_eq!(a.ui.graph_sel, Some(GraphSel::Node(summarize)));
    let t = a.ui.selected_task(&a.vm).expect("Detail shows a task");
    assert_eq!(&*t.node_id, "summarize");
    assert!(t.held, "the held failure is the one to look at");
    let mut t = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    t.draw(|f| render::draw(f, &a.vm, &mut a.ui, &a.theme))
        .expect("draw");
    let text = t.backend().to_string();
    assert!(
        text.contains("Tasks 5/6 · ▸ summarize"),
        "Tasks says what it keeps:\n{text}"
    );
    press(&mut a, 'k');
    assert_eq!(a.ui.graph_sel, a.vm.info.node("fanout").map(GraphSel::Node));
    // Esc drops the selection; every task shows again.
    a.handle_key(crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Esc,
        crossterm::event::KeyModifiers::NONE,
    ));
    assert_eq!(a.ui.graph_sel, None);
    assert_eq!(a.ui.task_rows.len(), a.vm.tasks.len());
}

#[test]
fn e_switches_to_the_agents_and_j_selects_one() {
    let mut a = app();
    press(&mut a, 'e');
    assert_eq!(a.ui.graph_view, GraphView::Agents);
    press(&mut a, 'j');
    press(&mut a, 'j');
    assert_eq!(a.ui.graph_sel, Some(GraphSel::Agent("researcher".into())));
    assert!(
        a.ui.task_rows
            .iter()
            .all(|&i| a.vm.tasks[i].agent.as_deref() == Some("researcher"))
    );
    press(&mut a, 'e');
    assert_eq!(
        (a.ui.graph_view, a.ui.graph_sel.clone()),
        (GraphView::Flow, None)
    );
}

#[test]
fn router_lanes_carry_their_conditions() {
    let vm = run(builtin("router"), |_| {});
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    assert!(
        text.contains("default"),
        "the default route is labelled:\n{text}"
    );
    check("router", &vm, &|_| {});
}

#[test]
fn the_selected_node_is_highlighted() {
    let vm = test_support::vm();
    let theme = Theme::builtin("dark").unwrap();
    let merge = vm.info.node("merge").expect("node");
    let mut ui = UiState::default();
    ui.focus = PaneId::Graph;
    ui.zoom = true;
    ui.graph_sel = Some(GraphSel::Node(merge));
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("test backend");
    term.draw(|f| render::draw(f, &vm, &mut ui, &theme))
        .expect("draw");
    let buf = term.backend().buffer();
    let sel_bg = theme
        .selection
        .bg
        .expect("the dark theme's selection has a background");
    let mut found = None;
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        if let Some(at) = line.find("○ merge agent") {
            let x = line[..at].chars().count() as u16;
            found = Some((buf[(x + 2, y)].bg, buf[(x + 30, y)].bg));
        }
    }
    let (on_label, past_it) = found.expect("the merge node is drawn");
    assert_eq!(
        on_label, sel_bg,
        "the node's label carries the selection style"
    );
    assert_ne!(past_it, sel_bg, "only the label, not the whole row");
}

#[test]
fn o_folds_the_selected_node_and_unfolds_it_again() {
    let mut a = app();
    let rows = a.ui.graph.as_ref().map(|g| g.rows.len()).unwrap_or(0);
    press(&mut a, 'o');
    assert!(
        a.ui.graph_folded.is_empty(),
        "nothing selected: nothing folds"
    );
    for _ in 0..3 {
        press(&mut a, 'j');
    }
    let fanout = a.vm.info.node("fanout").expect("node");
    assert_eq!(a.ui.graph_sel, Some(GraphSel::Node(fanout)));
    press(&mut a, 'o');
    assert_eq!(
        a.ui.graph_folded,
        [(fanout, crate::tui::graph_layout::Fold::Folded)]
    );
    let layout = a.ui.graph.as_ref().expect("layout");
    assert!(layout.rows.len() < rows, "the map's lanes are gone");
    assert!(
        layout.rows.iter().flat_map(|r| &r.cells).any(
            |c| matches!(&c.piece, crate::tui::graph_layout::Piece::Folded(inside) if inside.len() == 2)
        ),
        "the folded map says what it holds"
    );
    press(&mut a, 'o');
    assert!(a.ui.graph_folded.is_empty());
    assert_eq!(a.ui.graph.as_ref().map(|g| g.rows.len()), Some(rows));
}

#[test]
fn a_click_selects_the_node_under_it_and_the_wheel_only_scrolls() {
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut a = app();
    let (_, inner) = *a
        .ui
        .hits
        .panes
        .iter()
        .find(|(p, _)| *p == PaneId::Graph)
        .expect("the graph is drawn");
    let summarize = a.vm.info.node("summarize").expect("node");
    let layout = a.ui.graph.as_ref().expect("layout");
    let &(_, row) = layout
        .nodes
        .iter()
        .find(|(i, _)| *i == summarize)
        .expect("row");
    let mouse = |kind, column, row| MouseEvent {
        kind,
        column,
        row,
        modifiers: KeyModifiers::NONE,
    };
    a.handle_mouse(mouse(
        MouseEventKind::Down(MouseButton::Left),
        inner.x + 4,
        inner.y + row as u16,
    ));
    assert_eq!(a.ui.graph_sel, Some(GraphSel::Node(summarize)));
    assert_eq!(a.ui.focus, PaneId::Graph);
    a.handle_mouse(mouse(MouseEventKind::ScrollDown, inner.x + 4, inner.y + 1));
    assert!(a.ui.graph_scroll > 0, "the wheel scrolls the graph");
    assert_eq!(
        a.ui.graph_sel,
        Some(GraphSel::Node(summarize)),
        "and keeps the selection"
    );
}

#[test]
fn a_debate_waiting_for_a_step_says_so_on_its_node() {
    let mut vm = ViewModel::new(test_support::debate_info());
    for e in &test_support::debate_script(true).events {
        vm.apply(e);
    }
    let text = screen(120, 40, &Theme::builtin("dark").unwrap(), &vm, &|_| {});
    let row = text
        .lines()
        .find(|l| l.contains("choose_store debate"))
        .expect("the debate node");
    assert!(row.contains("waits for n"), "{row}");
}

#[test]
fn o_on_a_collapsed_fan_out_shows_every_lane_then_folds_it() {
    use crate::tui::graph_layout::Fold;
    let vm = test_support::big_vm();
    let mut ui = UiState::default();
    ui.prepare(&vm);
    let lanes = |ui: &UiState| ui.graph.as_ref().map_or(0, |g| g.nodes.len());
    assert_eq!(lanes(&ui), 6, "the root and its first five branches");
    ui.graph_sel = Some(GraphSel::Node(0));
    assert!(ui.toggle_fold(&vm));
    assert_eq!(ui.graph_folded, [(0, Fold::Expanded)]);
    assert_eq!(lanes(&ui), 50, "every branch can be selected");
    assert!(ui.toggle_fold(&vm));
    assert_eq!(lanes(&ui), 1, "folded: the root alone");
    assert!(ui.toggle_fold(&vm));
    assert_eq!(lanes(&ui), 6);
    ui.graph_sel = Some(GraphSel::Node(7));
    assert!(!ui.toggle_fold(&vm), "an agent node holds nothing to fold");
}

/// An `on` node with `forever = true` says it waits until stopped.
#[test]
fn a_forever_event_loop_says_it_waits_until_stopped() {
    let text = r#"
[workflow]
name = "event_loop"
input = "x"

[[agents]]
id = "handler"

[[nodes]]
id = "loop"
kind = "on"
topic = "jobs.*"
forever = true
body = "handle"

[[nodes]]
id = "handle"
kind = "agent"
agent = "handler"
"#;
    let loaded = load_str(text, "event_loop.toml", Format::Toml).expect("loads");
    let vm = run(WorkflowInfo::from_workflow(&loaded.workflow), |s| {
        state(s, "loop", NodeState::Running, None);
    });
    check("forever_on", &vm, &|_| {});
}
