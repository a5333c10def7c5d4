//! The cockpit's public surface, as the replay and CLI code use it: build a
//! view model from workflow facts, fold events, draw a frame.

use agentctl::event::{Event, EventKind, NodeState, TaskState, Usage};
use agentctl::tui::render;
use agentctl::tui::theme::Theme;
use agentctl::tui::ui_state::UiState;
use agentctl::tui::view_model::{AgentInfo, NodeInfo, RunPhase, ViewModel, WorkflowInfo};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use serde_json::json;

fn info() -> WorkflowInfo {
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

fn ev(seq: u64, kind: EventKind) -> Event {
    Event {
        seq,
        ts: 1_000_000 * seq,
        session: "s".into(),
        kind,
    }
}

#[test]
fn a_replayed_session_draws_read_only() {
    let mut vm = ViewModel::new(info());
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
        vm.apply(&ev(i as u64 + 1, k));
    }
    assert_eq!(vm.phase(), RunPhase::Running);
    let mut ui = UiState::default();
    ui.focus = agentctl::tui::ui_state::PaneId::Detail;
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
