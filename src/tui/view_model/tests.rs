use serde_json::json;

use super::*;
use crate::event::{BusMessage, Command};
use crate::tui::test_support::{self, Script, T0};

#[test]
fn scripted_run_folds_into_tasks_nodes_agents_and_gates() {
    let vm = test_support::vm();
    assert_eq!(vm.phase(), RunPhase::WaitingForYou);
    assert_eq!(vm.tasks.len(), 6);
    let ids: Vec<&str> = vm.tasks.iter().map(|t| &*t.id).collect();
    assert_eq!(ids[0], "research", "tasks keep creation order");
    assert_eq!(ids[5], "fanout/summarize[4]");

    let research = vm.task("research").unwrap();
    assert_eq!(research.state, TaskState::Completed);
    assert_eq!(research.usage.total(), 1800);
    assert_eq!(research.attempts, 1);
    assert_eq!(research.duration_ms, Some(405.0));
    assert!(research.output.is_some());
    assert!(research.history.len() >= 4, "{:?}", research.history);

    let failed = vm.task("fanout/summarize[2]").unwrap();
    assert_eq!(failed.state, TaskState::Failed);
    assert!(failed.held);
    assert_eq!(failed.errors.len(), 1);
    assert_eq!(failed.errors[0].kind, ErrorKind::Timeout);

    assert_eq!(vm.completed, 3);
    assert_eq!(vm.failed, 1);
    assert_eq!(vm.in_progress, 2);

    let fanout = vm.info.node("fanout").unwrap();
    assert_eq!(vm.nodes[fanout].progress, Some([2, 5]));
    assert_eq!(vm.nodes[fanout].state, NodeState::Running);
    let summarize = vm.info.node("summarize").unwrap();
    assert_eq!(vm.nodes[summarize].active, 2);
    assert_eq!(vm.nodes[summarize].tasks, 5);

    assert_eq!(vm.agent("summarizer_a").unwrap().active, 1);
    assert_eq!(vm.agent("summarizer_a").unwrap().completed, 1);
    assert_eq!(vm.agent("writer").unwrap().active, 0);
    assert_eq!(vm.agent("writer").unwrap().failed, 1);
    let sum: u64 = vm.agents.iter().map(|a| a.usage.total()).sum();
    assert_eq!(sum, vm.total_usage.total());
    assert_eq!(vm.total_usage.total(), 1800 + 600 + 700 + 800 + 900 + 1000);

    assert_eq!(vm.gates.len(), 1);
    assert_eq!(vm.gates[0].gate.as_ref(), "review");
    assert!(
        vm.gates[0]
            .artifact_lines
            .iter()
            .any(|l| l.contains("Solid-state"))
    );
    assert_eq!(vm.notices.len(), 1);
    assert_eq!(vm.notices[0].level, Level::Warn);
    assert!(vm.bus.rows.len() >= 10);
}

#[test]
fn phase_follows_pause_gate_and_end() {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "w".into(),
        seed: 1,
        entry: "main".into(),
        agents: vec![],
    });
    let mut vm = ViewModel::new(test_support::info());
    assert_eq!(vm.phase(), RunPhase::Starting);
    s.push(EventKind::RunPaused);
    s.push(EventKind::RunResumed);
    s.push(EventKind::GateOpened {
        gate: "g".into(),
        node: "review".into(),
        artifact: json!("x"),
        revision: 0,
    });
    s.push(EventKind::GateDecided {
        gate: "g".into(),
        approved: true,
        comment: None,
    });
    s.push(EventKind::SessionEnded {
        status: RunStatus::Failed,
        output: None,
        error: Some("boom".into()),
        usage: Usage::default(),
        wall_ms: 1.0,
    });
    let expect = [
        RunPhase::Running,
        RunPhase::Paused,
        RunPhase::Running,
        RunPhase::WaitingForYou,
        RunPhase::Running,
        RunPhase::Failed,
    ];
    for (e, want) in s.events.iter().zip(expect) {
        vm.apply(e);
        assert_eq!(vm.phase(), want, "after {:?}", e.kind);
    }
    assert_eq!(vm.end_error.as_deref(), Some("boom"));
    assert!(!vm.phase().is_live());
}

#[test]
fn reroute_and_handoff_move_active_counts_between_agents() {
    let mut s = Script::default();
    s.start_task("t", "summarize", "summarizer_a", 10);
    s.push(EventKind::TaskRerouted {
        task: "t".into(),
        from_agent: Some("summarizer_a".into()),
        to_agent: "writer".into(),
    });
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    assert_eq!(vm.agent("summarizer_a").unwrap().active, 0);
    assert_eq!(vm.agent("writer").unwrap().active, 1);
    vm.apply(&Event {
        seq: 99,
        ts: T0,
        session: "s".into(),
        kind: EventKind::TaskHandoff {
            task: "t".into(),
            from_agent: "writer".into(),
            to_agent: "summarizer_b".into(),
            capability: "summarize".into(),
            reason: "busy".into(),
            hop: 1,
        },
    });
    assert_eq!(vm.agent("writer").unwrap().active, 0);
    assert_eq!(vm.agent("summarizer_b").unwrap().active, 1);
    assert_eq!(vm.task("t").unwrap().agent.as_deref(), Some("summarizer_b"));
    assert_eq!(vm.in_progress, 1);
}

#[test]
fn retry_after_failure_counts_attempts_and_fixes_counters() {
    let mut s = Script::default();
    s.start_task("t", "summarize", "writer", 10);
    s.push(EventKind::TaskFailed {
        task: "t".into(),
        agent: Some("writer".into()),
        from: TaskState::InProgress,
        kind: ErrorKind::Server,
        error: "502".into(),
        attempt: 1,
        held: true,
    });
    s.push(EventKind::CommandReceived {
        command: Command::Retry { task: "t".into() },
    });
    s.push(EventKind::TaskAssigned {
        task: "t".into(),
        agent: "writer".into(),
        attempt: 2,
    });
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    let t = vm.task("t").unwrap();
    assert_eq!(t.state, TaskState::InProgress);
    assert_eq!(t.attempts, 2);
    assert!(!t.held);
    assert_eq!(
        vm.failed, 0,
        "a retried task is no longer counted as failed"
    );
    assert_eq!(vm.in_progress, 1);
    assert_eq!(vm.agent("writer").unwrap().active, 1);
}

#[test]
fn unknown_tasks_nodes_and_agents_do_not_panic() {
    let mut vm = ViewModel::new(test_support::info());
    let kinds = vec![
        EventKind::TaskAssigned {
            task: "ghost".into(),
            agent: "nobody".into(),
            attempt: 1,
        },
        EventKind::NodeStateChanged {
            node: "nowhere".into(),
            state: NodeState::Failed,
            progress: None,
        },
        EventKind::TaskCompleted {
            task: "ghost".into(),
            agent: None,
            from: TaskState::Pending,
            output: json!(null),
            attempt: 1,
            usage: Usage::default(),
            duration_ms: 0.0,
        },
        EventKind::LlmResponse {
            task: "ghost".into(),
            agent: "stranger".into(),
            provider: "sim".into(),
            model: "m".into(),
            usage: Usage {
                prompt_tokens: 5,
                completion_tokens: 5,
                estimated: true,
            },
            latency_ms: 1.0,
        },
    ];
    for (i, k) in kinds.into_iter().enumerate() {
        vm.apply(&Event {
            seq: i as u64 + 1,
            ts: T0,
            session: "s".into(),
            kind: k,
        });
    }
    assert!(vm.tasks.is_empty());
    assert_eq!(vm.agent("stranger").unwrap().usage.total(), 10);
    assert_eq!(vm.total_usage.total(), 10);
}

#[test]
fn bus_filter_is_incremental_and_case_insensitive() {
    let mut log = BusLog::default();
    let msg = |id: u64, from: &str, topic: &str, payload: serde_json::Value| BusMessage {
        id,
        topic: topic.into(),
        from: from.into(),
        to: None,
        kind: "event".into(),
        payload,
        correlation: None,
        ts: T0 + id,
    };
    log.push(&msg(1, "writer", "agent.writer", json!("hello")), T0);
    log.push(
        &msg(2, "reader", "alerts", json!({"text": "Disk FULL"})),
        T0,
    );
    log.set_filter("full");
    assert_eq!(log.visible_len(), 1);
    assert_eq!(log.visible_row(0), Some(1));
    log.push(&msg(3, "writer", "alerts", json!("all full again")), T0);
    log.push(&msg(4, "writer", "misc", json!("nothing")), T0);
    assert_eq!(
        log.visible_len(),
        2,
        "new messages are matched as they arrive"
    );
    assert_eq!(log.visible_row(1), Some(2));
    log.set_filter("WRITER");
    assert_eq!(log.visible_len(), 3);
    log.set_filter("  ");
    assert_eq!(log.visible_len(), 4);
    assert_eq!(
        log.strings.len(),
        6,
        "from/topic/kind strings are interned once"
    );
}

#[test]
fn summaries_are_one_line_and_bounded() {
    let long = "word\n\n  ".repeat(100);
    let s = bus::summarize(&json!(long));
    assert!(!s.contains('\n'));
    assert!(s.chars().count() <= 120);
    assert!(s.ends_with('…'));
    assert_eq!(
        bus::summarize(&json!({"summary": "short", "x": 1})),
        "short"
    );
    assert_eq!(bus::summarize(&json!({"x": 1})), "{\"x\":1}");
}

#[test]
fn token_rate_buckets_by_second() {
    let vm = test_support::vm();
    let total: u64 = vm.token_rate.iter().sum();
    assert_eq!(total, vm.total_usage.total());
    assert!(vm.recent_token_rate(5) > 0.0);
}

#[test]
fn workflow_info_reads_the_compiled_model() {
    use crate::workflow::model::{Agent, Join, MapSource, Node, NodeKind, Workflow};
    use std::collections::HashMap;
    let agent = Agent {
        id: "a".into(),
        role: "executor".into(),
        provider: "sim".into(),
        model: "m".into(),
        system: None,
        capabilities: vec!["x".into()],
        max_tokens: None,
        temperature: None,
        concurrency: 0,
        sim: Default::default(),
        kind: crate::workflow::model::AgentKind::Llm,
        policy: Default::default(),
        tools: Vec::new(),
        shell: None,
    };
    let mk = |id: &str, kind: NodeKind| Node {
        id: id.into(),
        title: id.into(),
        priority: 3,
        emit: None,
        kind,
        policy: Default::default(),
    };
    let nodes = vec![
        mk(
            "top",
            NodeKind::Parallel {
                branches: vec![1, 2],
                join: Join::All,
                branch_timeout: None,
            },
        ),
        mk(
            "gate",
            NodeKind::Gate {
                subject: None,
                max_revisions: 1,
            },
        ),
        mk(
            "m",
            NodeKind::Map {
                source: MapSource::Count(3),
                body: 1,
                concurrency: 0,
                batch_size: 0,
                aggregate: None,
            },
        ),
    ];
    let wf = Workflow {
        name: "w".into(),
        description: String::new(),
        entry: 0,
        input: json!(null),
        max_handoffs: 3,
        aging_step: 1,
        agents: vec![agent],
        node_index: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.to_string(), i))
            .collect(),
        nodes,
        agent_index: HashMap::from([("a".to_string(), 0)]),
        policy: Default::default(),
    };
    let info = WorkflowInfo::from_workflow(&wf);
    assert_eq!(info.nodes.len(), 3);
    assert_eq!(info.nodes[0].children, vec![1, 2]);
    assert_eq!(info.nodes[2].kind, "map");
    assert_eq!(info.node("gate"), Some(1));
    assert_eq!(info.capable_agents(Some("x")).count(), 1);
    assert_eq!(info.capable_agents(Some("y")).count(), 0);
}

#[test]
fn debate_and_vote_events_become_the_transcript_the_pane_draws() {
    let mut s = Script::default();
    s.push(EventKind::DebateRoundStarted {
        node: "design".into(),
        round: 1,
        order: vec!["ana".into(), "ben".into()],
    })
    .push(EventKind::DebateTurn {
        node: "design".into(),
        task: "design/r1/ana".into(),
        round: 1,
        turn: 1,
        speaker: "ana".into(),
        position: "clickhouse".into(),
        confidence: 0.85,
        argument: "columnar wins at 2 TB".into(),
        critiques: vec![],
        changed: false,
    })
    .push(EventKind::AwaitingStep {
        node: "design".into(),
        round: 1,
        next: Some("ben".into()),
        what: "turn".into(),
    })
    .push(EventKind::VoteCast {
        node: "adopt".into(),
        round: 1,
        voter: "qa".into(),
        choice: "clickhouse".into(),
        ranking: vec![],
        confidence: 0.7,
        rationale: "fast".into(),
        phase: "cast".into(),
    });
    let mut vm = ViewModel::new(test_support::info());
    for e in &s.events {
        vm.apply(e);
    }
    let texts: Vec<&str> = vm.debate.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts[0], "design · round 1 · ana → ben");
    assert_eq!(
        texts[1],
        "#1 ana: clickhouse · 0.85 — columnar wins at 2 TB"
    );
    assert_eq!(vm.debate[2].kind, DebateLineKind::Waiting);
    assert!(texts[2].contains("next turn by ben waits for a step"));
    assert_eq!(texts[3], "adopt r1 ballot qa → clickhouse · 0.70 (cast)");

    // The pane shows the newest lines that fit: with room for two, the
    // waiting step and the ballot.
    let theme = crate::tui::theme::Theme::builtin("dark").unwrap();
    let ui = crate::tui::ui_state::UiState::default();
    let area = ratatui::layout::Rect::new(0, 0, 80, 2);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    crate::tui::panes::debate::render(area, &mut buf, &vm, &ui, &theme);
    let row = |y: u16| {
        (0..80)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect::<String>()
    };
    assert!(row(0).contains("waits for a step"), "{}", row(0));
    assert!(row(1).contains("ballot qa → clickhouse"), "{}", row(1));
}
