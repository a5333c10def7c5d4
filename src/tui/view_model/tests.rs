use serde_json::json;

use super::budget::level;
use super::*;
use crate::event::{BusMessage, Command, ErrorKind, NodeState, TaskState, Usage};
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
        priority: 3,
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
    use crate::workflow::kinds::{
        NodeKind,
        gate::GateNode,
        map::{MapNode, MapSource},
        parallel::{Join, ParallelNode},
    };
    use crate::workflow::model::{Agent, Node, Workflow};
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
        tool_use: Default::default(),
    };
    let mk = |id: &str, kind: NodeKind| Node {
        id: id.into(),
        title: id.into(),
        priority: 3,
        emit: None,
        on_error: None,
        kind,
        policy: Default::default(),
    };
    let nodes = vec![
        mk(
            "top",
            NodeKind::Parallel(ParallelNode {
                branches: vec![1, 2],
                join: Join::All,
                branch_timeout: None,
            }),
        ),
        mk(
            "gate",
            NodeKind::Gate(GateNode {
                subject: None,
                max_revisions: 1,
            }),
        ),
        mk(
            "m",
            NodeKind::Map(MapNode {
                source: MapSource::Count(3),
                body: 1,
                concurrency: 0,
                batch_size: 0,
                aggregate: None,
                settle: None,
            }),
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
        mcp: Vec::new(),
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
    let texts: Vec<&str> = vm.debate.iter().map(|l| &*l.text).collect();
    assert_eq!(texts[0], "design · round 1 · ana → ben");
    assert_eq!(
        texts[1],
        "#1 ana: clickhouse · 0.85 — columnar wins at 2 TB"
    );
    assert_eq!(vm.debate[2].kind, DebateLineKind::Waiting);
    assert!(texts[2].contains("next turn by ben waits for a step"));
    assert_eq!(texts[3], "adopt r1 ballot qa → clickhouse · 0.70 (cast)");

    // The pane: the step line, then the table (a heading per round, a row
    // per turn or ballot).
    let theme = crate::tui::theme::Theme::builtin("dark").unwrap();
    let ui = crate::tui::ui_state::UiState::default();
    let area = ratatui::layout::Rect::new(0, 0, 80, 6);
    let mut buf = ratatui::buffer::Buffer::empty(area);
    crate::tui::panes::debate::render(area, &mut buf, &vm, &ui, &theme);
    let row = |y: u16| {
        (0..80)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect::<String>()
    };
    assert!(row(0).contains("next: turn by ben"), "{}", row(0));
    assert!(row(0).contains("waits for n"), "{}", row(0));
    // Turns and ballots both in view: headings that fit both.
    assert!(
        row(1).contains("who") && row(1).contains("stance/choice"),
        "{}",
        row(1)
    );
    assert!(
        row(2).contains("design · round 1 · ana → ben"),
        "{}",
        row(2)
    );
    assert!(
        row(3).contains("ana") && row(3).contains("clickhouse"),
        "{}",
        row(3)
    );
    assert!(row(4).contains("adopt · round 1"), "{}", row(4));
    assert!(
        row(5).contains("qa") && row(5).contains("fast"),
        "{}",
        row(5)
    );
}

fn fold(info: WorkflowInfo, s: &Script) -> ViewModel {
    let mut vm = ViewModel::new(info);
    for e in &s.events {
        vm.apply(e);
    }
    vm
}

#[test]
fn debate_rounds_fold_into_a_table_with_stances_and_step_wait() {
    let vm = fold(
        test_support::debate_info(),
        &test_support::debate_script(true),
    );
    let d = &vm.debates;
    assert_eq!(d.rounds.len(), 3);
    assert_eq!(d.rounds[0].rows.len(), 4);
    assert_eq!(d.rounds[1].agreement, Some(0.57));
    assert_eq!(d.rounds[1].changed, Some(1));
    // 3 headings + 4 + 4 + 1 turns.
    assert_eq!(d.row_count, 12);
    let (r, row) = d.row(7).unwrap();
    assert_eq!(r.round, 2);
    let row = row.unwrap();
    assert_eq!((row.turn, &*row.who), (6, "ben"));
    assert!(row.changed);
    assert!(row.note.starts_with("#5 ana: fair"), "{}", row.note);
    let (_, failed) = d.row(8).unwrap();
    assert_eq!(failed.unwrap().kind, RowKind::Failed);
    assert!(d.row(12).is_none());
    // The stance chart after round 2: clickhouse leads on summed confidence.
    let chart = d.chart.as_ref().unwrap();
    assert_eq!(chart.round, 2);
    assert_eq!(chart.leader.as_deref(), Some("clickhouse"));
    assert_eq!(chart.bars[0].votes, 2);
    assert!((chart.bars[0].score - 1.5).abs() < 1e-9);
    // Step mode: ben's turn waits; no decision yet.
    let w = d.waiting.as_ref().unwrap();
    assert_eq!((w.next.as_deref(), w.round), (Some("ben"), 3));
    assert!(d.step_mode);
    assert!(d.decision().is_none());
}

#[test]
fn a_turn_releases_the_step_wait_and_step_mode_off_clears_it() {
    let mut s = test_support::debate_script(true);
    let mut vm = fold(test_support::debate_info(), &s);
    let n = s.events.len();
    s.push(EventKind::DebateTurn {
        node: "choose_store".into(),
        task: "choose_store/r3/ben".into(),
        round: 3,
        turn: 10,
        speaker: "ben".into(),
        position: "clickhouse".into(),
        confidence: 0.7,
        argument: "x".into(),
        critiques: vec![],
        changed: false,
    });
    s.push(EventKind::AwaitingStep {
        node: "choose_store".into(),
        round: 3,
        next: Some("cleo".into()),
        what: "turn".into(),
    });
    vm.apply(&s.events[n]);
    assert!(vm.debates.waiting.is_none(), "the awaited turn came");
    assert_eq!(vm.debates.rounds[2].rows.len(), 2);
    vm.apply(&s.events[n + 1]);
    assert_eq!(
        vm.debates.waiting.as_ref().and_then(|w| w.next.as_deref()),
        Some("cleo")
    );
    s.push(EventKind::StepModeChanged { on: false });
    vm.apply(s.events.last().unwrap());
    assert!(vm.debates.waiting.is_none());
    assert!(!vm.debates.step_mode);
}

#[test]
fn a_vote_folds_ballots_the_tally_chart_and_the_decision() {
    let vm = fold(
        test_support::debate_info(),
        &test_support::debate_script(false),
    );
    let d = &vm.debates;
    let vote = d.rounds.back().unwrap();
    assert_eq!(&*vote.node, "ratify");
    assert_eq!(vote.rows.len(), 4);
    assert_eq!(vote.rows[3].kind, RowKind::Failed);
    assert_eq!(vote.rows[0].kind, RowKind::Ballot);
    let chart = d.chart.as_ref().unwrap();
    assert_eq!(&*chart.node, "ratify");
    assert_eq!(chart.needed, Some(3.0));
    assert_eq!(chart.bars.len(), 2);
    assert!(chart.title.starts_with("majority tally · 3/4 cast"));
    let dec = d.decision().unwrap();
    assert!(dec.decided);
    assert_eq!(
        (dec.choice.as_str(), dec.by.as_str()),
        ("clickhouse", "tally")
    );
    // The debate's decision stays under the vote's, oldest first.
    let nodes: Vec<&str> = d.decisions.iter().map(|x| &*x.node).collect();
    assert_eq!(nodes, ["choose_store", "ratify"]);
    assert!(d.waiting.is_none());
}

#[test]
fn budget_gauges_start_from_the_limits_and_levels_follow_them() {
    let vm = ViewModel::new(test_support::budget_info());
    assert_eq!(vm.budget.warn_at, 0.75);
    assert_eq!(vm.budget.scopes.len(), 3);
    assert_eq!(vm.budget.run().unwrap().limit_tokens, Some(10_000));
    assert_eq!(vm.budget.run().unwrap().level(0.75), BudgetLevel::Ok);

    let vm = fold(test_support::budget_info(), &test_support::budget_script());
    let b = &vm.budget;
    let run = b.run().unwrap();
    // 78% of tokens ≥ warn_at 75%; 42% of money.
    assert_eq!(
        run.level_of(run.token_fraction(), b.warn_at),
        BudgetLevel::Warn
    );
    assert_eq!(run.level_of(run.usd_fraction(), b.warn_at), BudgetLevel::Ok);
    assert_eq!(run.level(b.warn_at), BudgetLevel::Warn);
    let a = b.agent("summarizer_a").unwrap();
    assert!(a.exhausted);
    assert_eq!(a.level(b.warn_at), BudgetLevel::Critical);
    assert_eq!(b.agent("writer").unwrap().level(b.warn_at), BudgetLevel::Ok);
    assert_eq!(b.quota_waits, 1);
    assert_eq!(b.breakers.len(), 1);
    assert_eq!(b.breakers[0].state, crate::event::BreakerState::Open);
    assert!(vm.paused_for_budget());
    assert_eq!(b.paused_by.as_deref(), Some("agent:summarizer_a"));
}

#[test]
fn budget_levels_are_computed_from_the_limit() {
    assert_eq!(level(None, 0.8, false), BudgetLevel::Ok);
    assert_eq!(level(Some(0.79), 0.8, false), BudgetLevel::Ok);
    assert_eq!(level(Some(0.8), 0.8, false), BudgetLevel::Warn);
    assert_eq!(level(Some(0.95), 0.8, false), BudgetLevel::Critical);
    assert_eq!(level(Some(0.1), 0.8, true), BudgetLevel::Critical);
    assert_eq!(level(Some(0.5), 0.4, false), BudgetLevel::Warn);
}

#[test]
fn raising_the_limit_clears_exhaustion_and_resuming_ends_the_budget_pause() {
    let mut s = test_support::budget_script();
    s.push(EventKind::BudgetUpdated {
        scope: "agent:summarizer_a".into(),
        used_tokens: 2_900,
        used_usd: 0.09,
        limit_tokens: Some(6_000),
        limit_usd: None,
    });
    s.push(EventKind::RunResumed);
    let vm = fold(test_support::budget_info(), &s);
    let a = vm.budget.agent("summarizer_a").unwrap();
    assert!(!a.exhausted);
    assert_eq!(a.level(vm.budget.warn_at), BudgetLevel::Ok);
    assert!(!vm.paused_for_budget());
    assert!(vm.budget.paused_by.is_none());
}

#[test]
fn streamed_text_keeps_a_bounded_tail_until_the_call_settles() {
    let s = test_support::typing_script();
    let mut vm = fold(test_support::info(), &s);
    let t = vm.task("fanout/summarize[3]").unwrap();
    let typing = t.typing.as_ref().expect("typing");
    assert_eq!(&*typing.agent, "summarizer_a");
    assert!(typing.tail().ends_with("reach 400 Wh/kg"));
    assert_eq!(typing.chars, 119);
    let summarize = vm.info.node("summarize").unwrap();
    assert_eq!(vm.nodes[summarize].typing, 1);
    let version = t.version;

    // A long stream keeps only the tail; the task version is untouched
    // (the detail text is not rebuilt per chunk).
    let mut s2 = Script::default();
    for i in 0..500 {
        s2.push(EventKind::LlmDelta {
            task: "fanout/summarize[3]".into(),
            agent: "summarizer_a".into(),
            text: format!("wörd{i} "),
        });
    }
    for e in &s2.events {
        vm.apply(e);
    }
    let t = vm.task("fanout/summarize[3]").unwrap();
    let typing = t.typing.as_ref().unwrap();
    assert!(typing.tail().len() <= TYPING_TAIL);
    assert!(typing.tail().ends_with("wörd499 "));
    assert_eq!(t.version, version);

    // The reply settles: the indicator goes.
    let mut s3 = Script::default();
    s3.push(EventKind::LlmResponse {
        task: "fanout/summarize[3]".into(),
        agent: "summarizer_a".into(),
        provider: "openai".into(),
        model: "m".into(),
        usage: Usage::default(),
        latency_ms: 10.0,
    });
    vm.apply(&s3.events[0]);
    assert!(vm.task("fanout/summarize[3]").unwrap().typing.is_none());
    assert_eq!(vm.nodes[summarize].typing, 0);
}

#[test]
fn pausing_a_typing_task_clears_its_indicator() {
    let mut s = test_support::typing_script();
    s.push(EventKind::TaskStateChanged {
        task: "fanout/summarize[3]".into(),
        from: TaskState::InProgress,
        to: TaskState::Paused,
        reason: None,
    });
    let vm = fold(test_support::info(), &s);
    assert!(vm.task("fanout/summarize[3]").unwrap().typing.is_none());
    let summarize = vm.info.node("summarize").unwrap();
    assert_eq!(vm.nodes[summarize].typing, 0);
}

#[test]
fn a_gate_carries_the_reviewer_verdicts_of_its_subject() {
    let vm = fold(test_support::review_info(), &test_support::review_script());
    let g = &vm.gates[0];
    assert_eq!(g.reviews.len(), 1, "latest verdict per plan node");
    let r = &g.reviews[0];
    assert_eq!(r.agent.as_deref(), Some("critic"));
    assert!(r.approved);
    assert_eq!(r.revision, 1);
    // A gate whose subject holds no reviewer shows none.
    let vm = test_support::vm();
    assert!(vm.gates[0].reviews.is_empty());
}

#[test]
fn the_recorded_debate_sample_folds_into_three_rounds_and_the_judges_decision() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sessions/debate.jsonl");
    let text = std::fs::read_to_string(path).expect("sample session");
    let mut vm = ViewModel::new(test_support::debate_info());
    // The first line is the session header; every other line is an event.
    for line in text.lines().skip(1) {
        let ev: Event = serde_json::from_str(line).expect("event line");
        vm.apply(&ev);
    }
    let d = &vm.debates;
    assert_eq!(d.rounds.len(), 3);
    assert!(d.rounds.iter().all(|r| r.rows.len() == 4));
    assert!(d.rounds.iter().all(|r| r.agreement.is_some()));
    assert_eq!(d.row_count, 15);
    let dec = d.decision().unwrap();
    assert_eq!(dec.choice, "clickhouse");
    assert!(dec.by.starts_with("judge:judge"));
    assert_eq!(d.chart.as_ref().unwrap().round, 3);
}

#[test]
fn copies_share_task_and_bus_chunks_and_payloads() {
    let vm = test_support::big_vm();
    let copy = vm.clone();
    let (a, b) = (vm.tasks.chunks(), copy.tasks.chunks());
    assert_eq!(a.len(), b.len());
    assert!(a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y)));
    let (a, b) = (vm.bus.rows.chunks(), copy.bus.rows.chunks());
    assert!(a.len() > 100, "100k messages in {} chunks", a.len());
    assert!(a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y)));
    assert!(Arc::ptr_eq(&vm.tasks[0].input, &copy.tasks[0].input));
    assert!(Arc::ptr_eq(
        &vm.tasks[0].history[0].text,
        &copy.tasks[0].history[0].text
    ));

    // Changing the copy copies only the chunk it writes (and the bus tail).
    let mut copy = copy;
    let mut s = Script::default();
    s.complete("t1", "w1", 100, "late");
    s.bus("w1", None, "x", "note", json!("tail"));
    for e in &s.events {
        copy.apply(e);
    }
    assert_eq!(vm.task("t1").unwrap().state, TaskState::InProgress);
    assert_eq!(copy.task("t1").unwrap().state, TaskState::Completed);
    let differ = |a: &[Arc<Vec<TaskView>>], b: &[Arc<Vec<TaskView>>]| {
        a.iter().zip(b).filter(|(x, y)| !Arc::ptr_eq(x, y)).count()
    };
    assert_eq!(differ(vm.tasks.chunks(), copy.tasks.chunks()), 1);
    assert_eq!(copy.bus.rows.len(), vm.bus.rows.len() + 2);
    let shared = vm
        .bus
        .rows
        .chunks()
        .iter()
        .zip(copy.bus.rows.chunks())
        .filter(|(x, y)| Arc::ptr_eq(x, y))
        .count();
    assert_eq!(
        shared,
        vm.bus.rows.chunks().len() - 1,
        "only the tail differs"
    );
}

#[test]
fn a_checkpoint_restores_the_view_and_its_task_index() {
    let vm = test_support::vm();
    let cp = Checkpoint::of(&vm);
    assert_eq!(cp.tasks(), vm.tasks.len());
    let back = cp.restore();
    assert_eq!(format!("{:?}", back.tasks), format!("{:?}", vm.tasks));
    for t in vm.tasks.iter() {
        assert_eq!(back.task_position(&t.id), vm.task_position(&t.id));
    }
    assert_eq!(
        format!("{:?}", cp.view().bus.rows),
        format!("{:?}", vm.bus.rows)
    );
    // Checkpointing the same view twice costs only each one's own parts.
    let again = Checkpoint::of(&vm);
    let own = cp.unshared_bytes(&cp);
    assert_eq!(cp.unshared_bytes(&again), own);
    // A checkpoint of an empty view shares nothing with a full one.
    let empty = Checkpoint::of(&ViewModel::new(test_support::info()));
    assert!(cp.unshared_bytes(&empty) > own);
}
