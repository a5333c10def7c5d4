//! Shared fixtures for the TUI tests: a small workflow and a scripted run.

use serde_json::json;

use super::view_model::{AgentInfo, NodeInfo, ViewModel, WorkflowInfo};
use crate::event::{BusMessage, ErrorKind, Event, EventKind, Id, NodeState, TaskState, Usage};

/// Session start time of the scripted run (2026-01-01T00:00:00Z).
pub const T0: u64 = 1_767_225_600_000_000;

fn node(id: &str, kind: &'static str, children: Vec<usize>, runner: Option<&str>) -> NodeInfo {
    NodeInfo {
        id: id.into(),
        title: id.replace('_', " "),
        kind,
        children,
        runner: runner.map(str::to_owned),
    }
}

fn agent(id: &str, role: &str, caps: &[&str]) -> AgentInfo {
    AgentInfo {
        id: id.into(),
        role: role.into(),
        model: "sim-1".into(),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
    }
}

/// A research pipeline: research → map(summarize) → merge → human gate.
pub fn info() -> WorkflowInfo {
    WorkflowInfo::new(
        "research-pipeline",
        0,
        vec![
            node("main", "sequence", vec![1, 2, 5], None),
            node("research", "agent", vec![], Some("researcher")),
            node("fanout", "map", vec![3, 4], None),
            node("summarize", "agent", vec![], Some("cap:summarize")),
            node("merge", "agent", vec![], Some("writer")),
            node("review", "gate", vec![4], None),
        ],
        vec![
            agent("researcher", "executor", &["research", "web"]),
            agent("summarizer_a", "executor", &["summarize"]),
            agent("summarizer_b", "executor", &["summarize"]),
            agent("writer", "executor", &["write", "summarize"]),
        ],
    )
}

/// Builds events with increasing seq numbers and timestamps.
pub struct Script {
    /// Events so far.
    pub events: Vec<Event>,
    /// Current time.
    pub now: u64,
    session: Id,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            events: Vec::new(),
            now: T0,
            session: "s-test".into(),
        }
    }
}

impl Script {
    /// Advances the clock by `ms`.
    pub fn wait(&mut self, ms: u64) -> &mut Self {
        self.now += ms * 1000;
        self
    }

    /// Appends an event at the current time.
    pub fn push(&mut self, kind: EventKind) -> &mut Self {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            seq,
            ts: self.now,
            session: self.session.clone(),
            kind,
        });
        self
    }

    /// A bus message.
    pub fn bus(
        &mut self,
        from: &str,
        to: Option<&str>,
        topic: &str,
        kind: &str,
        payload: serde_json::Value,
    ) -> &mut Self {
        let id = self.events.len() as u64 + 1;
        let message = BusMessage {
            id,
            topic: topic.into(),
            from: from.into(),
            to: to.map(Into::into),
            kind: kind.to_string().into(),
            payload,
            correlation: None,
            ts: self.now,
            priority: 3,
        };
        self.push(EventKind::Bus { message })
    }

    /// Creates, assigns and runs one LLM call of a task (it stays in progress).
    pub fn start_task(&mut self, task: &str, node: &str, agent: &str, tokens: u64) -> &mut Self {
        self.push(EventKind::TaskCreated {
            task: task.into(),
            node: node.into(),
            parent: None,
            title: format!("{node}: {task}"),
            agent: None,
            capability: None,
            priority: 3,
            input: json!({"topic": "solid-state batteries", "item": task}),
        });
        self.wait(5).push(EventKind::TaskAssigned {
            task: task.into(),
            agent: agent.into(),
            attempt: 1,
        });
        self.bus(
            "orchestrator",
            Some(agent),
            &format!("agent.{agent}"),
            "task",
            json!({"title": task}),
        );
        self.push(EventKind::LlmRequest {
            task: task.into(),
            agent: agent.into(),
            provider: "sim".into(),
            model: "sim-1".into(),
            attempt: 1,
            prompt_tokens: tokens / 2,
        });
        self.wait(400).push(EventKind::LlmResponse {
            task: task.into(),
            agent: agent.into(),
            provider: "sim".into(),
            model: "sim-1".into(),
            usage: Usage {
                prompt_tokens: tokens / 2,
                completion_tokens: tokens - tokens / 2,
                estimated: false,
            },
            latency_ms: 400.0,
        })
    }

    /// Completes a started task.
    pub fn complete(&mut self, task: &str, agent: &str, tokens: u64, output: &str) -> &mut Self {
        self.bus(
            agent,
            Some("orchestrator"),
            &format!("task.{task}"),
            "result",
            json!({"summary": output}),
        );
        self.push(EventKind::TaskCompleted {
            task: task.into(),
            agent: Some(agent.into()),
            from: TaskState::InProgress,
            output: json!(output),
            attempt: 1,
            usage: Usage {
                prompt_tokens: tokens / 2,
                completion_tokens: tokens - tokens / 2,
                estimated: false,
            },
            duration_ms: 405.0,
        })
    }
}

/// The scripted run, stopped mid-way with a held failure and an open gate.
pub fn script() -> Script {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "research-pipeline".into(),
        seed: 42,
        entry: "main".into(),
        agents: ["researcher", "summarizer_a", "summarizer_b", "writer"]
            .iter()
            .map(|a| Id::from(*a))
            .collect(),
    });
    s.push(EventKind::NodeStateChanged {
        node: "main".into(),
        state: NodeState::Running,
        progress: None,
    });
    s.push(EventKind::NodeStateChanged {
        node: "research".into(),
        state: NodeState::Running,
        progress: None,
    });
    s.start_task("research", "research", "researcher", 1800);
    s.wait(100).complete("research", "researcher", 1800, "Five sources on solid-state batteries: QuantumScape, Toyota, Samsung SDI, ProLogium, Solid Power.");
    s.push(EventKind::NodeStateChanged {
        node: "research".into(),
        state: NodeState::Completed,
        progress: None,
    });
    s.push(EventKind::NodeStateChanged {
        node: "fanout".into(),
        state: NodeState::Running,
        progress: Some([0, 5]),
    });
    s.push(EventKind::NodeStateChanged {
        node: "summarize".into(),
        state: NodeState::Running,
        progress: None,
    });
    let agents = [
        "summarizer_a",
        "summarizer_b",
        "writer",
        "summarizer_a",
        "summarizer_b",
    ];
    for (i, a) in agents.iter().enumerate() {
        s.wait(50).start_task(
            &format!("fanout/summarize[{i}]"),
            "summarize",
            a,
            600 + 100 * i as u64,
        );
    }
    s.wait(200).complete(
        "fanout/summarize[0]",
        "summarizer_a",
        600,
        "QuantumScape: anode-free cells, 800 cycles.",
    );
    s.complete(
        "fanout/summarize[1]",
        "summarizer_b",
        700,
        "Toyota: sulfide electrolyte, 2027 target.",
    );
    s.push(EventKind::NodeStateChanged {
        node: "fanout".into(),
        state: NodeState::Running,
        progress: Some([2, 5]),
    });
    s.push(EventKind::LlmError {
        task: "fanout/summarize[2]".into(),
        agent: "writer".into(),
        kind: ErrorKind::Timeout,
        error: "no reply within 30s".into(),
    });
    s.push(EventKind::TaskFailed {
        task: "fanout/summarize[2]".into(),
        agent: Some("writer".into()),
        from: TaskState::InProgress,
        kind: ErrorKind::Timeout,
        error: "no reply within 30s".into(),
        attempt: 1,
        held: true,
    });
    s.push(EventKind::Notice {
        level: "warn".into(),
        message: "fanout/summarize[2] held after a timeout".into(),
    });
    s.wait(300).push(EventKind::GateOpened {
        gate: "review".into(),
        node: "review".into(),
        artifact: json!({"draft": "Solid-state batteries are close.", "sources": 5}),
        revision: 0,
    });
    s.bus(
        "orchestrator",
        None,
        "alerts",
        "event",
        json!("gate review is waiting for a human decision"),
    );
    s
}

/// The scripted run folded into a view model.
pub fn vm() -> ViewModel {
    let mut vm = ViewModel::new(info());
    for e in &script().events {
        vm.apply(e);
    }
    vm
}

/// A big run for performance tests: 50 nodes, 200 tasks, 100k bus messages.
pub fn big_vm() -> ViewModel {
    let mut nodes = vec![node("root", "parallel", (1..50).collect(), None)];
    for i in 1..50 {
        nodes.push(node(&format!("n{i}"), "agent", vec![], Some("w0")));
    }
    let agents = (0..8)
        .map(|i| agent(&format!("w{i}"), "executor", &["work"]))
        .collect();
    let mut vm = ViewModel::new(WorkflowInfo::new("big", 0, nodes, agents));
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "big".into(),
        seed: 1,
        entry: "root".into(),
        agents: vec![],
    });
    for t in 0..200 {
        let a = format!("w{}", t % 8);
        s.start_task(&format!("t{t}"), &format!("n{}", 1 + t % 49), &a, 100);
        if t % 3 == 0 {
            s.complete(&format!("t{t}"), &a, 100, "ok");
        }
    }
    for e in &s.events {
        vm.apply(e);
    }
    for i in 0..100_000u64 {
        let m = BusMessage {
            id: 10_000 + i,
            topic: format!("agent.w{}", i % 8).into(),
            from: "orchestrator".into(),
            to: Some(format!("w{}", i % 8).into()),
            kind: "task".into(),
            payload: json!({"summary": "a fairly long summary of what this message carries along the bus"}),
            correlation: None,
            ts: T0 + i * 1000,
            priority: 3,
        };
        vm.apply(&Event {
            seq: 1_000 + i,
            ts: T0 + i * 1000,
            session: "big".into(),
            kind: EventKind::Bus { message: m },
        });
    }
    vm
}

// ── debate, budget, review and streaming fixtures (cockpit panes) ──

/// A debate (four debaters, a judge) followed by a vote to ratify it.
pub fn debate_info() -> WorkflowInfo {
    let mut info = debate_nodes();
    info.questions = vec![
        super::view_model::QuestionInfo {
            node: "choose_store".into(),
            question: "Which analytics store for {{input.load}}?".into(),
            options: vec!["clickhouse".into(), "postgres".into(), "duckdb".into()],
        },
        super::view_model::QuestionInfo {
            node: "ratify".into(),
            question: String::new(),
            options: vec!["clickhouse".into(), "postgres".into()],
        },
    ];
    info
}

fn debate_nodes() -> WorkflowInfo {
    WorkflowInfo::new(
        "store-choice",
        0,
        vec![
            node("main", "sequence", vec![1, 2], None),
            node("choose_store", "debate", vec![], None),
            node("ratify", "vote", vec![], None),
        ],
        vec![
            agent("ana", "debater", &[]),
            agent("ben", "debater", &[]),
            agent("cleo", "debater", &[]),
            agent("dev", "debater", &[]),
            agent("judge", "judge", &[]),
        ],
    )
}

/// One debate turn: `(round, turn)`, `(speaker, position, confidence)`.
fn turn(
    s: &mut Script,
    (round, turn): (u32, u32),
    (speaker, position, confidence): (&str, &str, f64),
    critique: Option<(u32, &str, &str)>,
    changed: bool,
) {
    s.wait(120).push(EventKind::DebateTurn {
        node: "choose_store".into(),
        task: format!("choose_store/r{round}/{speaker}").into(),
        round,
        turn,
        speaker: speaker.into(),
        position: position.into(),
        confidence,
        argument: format!("[{speaker}] In round {round} I hold {position}: it best answers the question on cost, risk and evidence."),
        critiques: critique
            .map(|(t, who, text)| {
                vec![crate::event::Critique {
                    turn: t,
                    speaker: who.into(),
                    text: text.into(),
                }]
            })
            .unwrap_or_default(),
        changed,
    });
}

/// The debate run: two rounds argued; with `until_step` it stops in step
/// mode before ben's turn of round 3, else the judge decides and a
/// majority vote ratifies the decision (one voter fails).
pub fn debate_script(until_step: bool) -> Script {
    use crate::event::{Stance, Tally, TallyCount};
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "store-choice".into(),
        seed: 7,
        entry: "main".into(),
        agents: ["ana", "ben", "cleo", "dev", "judge"]
            .iter()
            .map(|a| Id::from(*a))
            .collect(),
    });
    let order: Vec<Id> = ["ana", "ben", "cleo", "dev"]
        .iter()
        .map(|a| Id::from(*a))
        .collect();
    let stance = |agent: &str, position: &str, confidence: f64| Stance {
        agent: agent.into(),
        position: position.into(),
        confidence,
    };
    s.push(EventKind::DebateRoundStarted {
        node: "choose_store".into(),
        round: 1,
        order: order.clone(),
    });
    turn(&mut s, (1, 1), ("ana", "clickhouse", 0.85), None, false);
    turn(
        &mut s,
        (1, 2),
        ("ben", "postgres", 0.7),
        Some((
            1,
            "ana",
            "ana overlooks why postgres holds up better than clickhouse.",
        )),
        false,
    );
    turn(
        &mut s,
        (1, 3),
        ("cleo", "duckdb", 0.6),
        Some((1, "ana", "ana overlooks the cost of running a cluster.")),
        false,
    );
    turn(&mut s, (1, 4), ("dev", "postgres", 0.65), None, false);
    s.push(EventKind::DebateRoundEnded {
        node: "choose_store".into(),
        round: 1,
        positions: vec![
            stance("ana", "clickhouse", 0.85),
            stance("ben", "postgres", 0.7),
            stance("cleo", "duckdb", 0.6),
            stance("dev", "postgres", 0.65),
        ],
        agreement: 0.48,
        changed: 0,
    });
    s.push(EventKind::DebateRoundStarted {
        node: "choose_store".into(),
        round: 2,
        order: order.clone(),
    });
    turn(
        &mut s,
        (2, 5),
        ("ana", "clickhouse", 0.88),
        Some((2, "ben", "ben's postgres will not scan 2 TB fast enough.")),
        false,
    );
    turn(
        &mut s,
        (2, 6),
        ("ben", "clickhouse", 0.62),
        Some((5, "ana", "fair: columnar storage wins at this size.")),
        true,
    );
    s.wait(120).push(EventKind::DebateTurnFailed {
        node: "choose_store".into(),
        task: "choose_store/r2/cleo".into(),
        round: 2,
        turn: 7,
        speaker: "cleo".into(),
        error: "no valid turn after 2 repair prompts".into(),
    });
    turn(&mut s, (2, 8), ("dev", "postgres", 0.55), None, false);
    s.push(EventKind::DebateRoundEnded {
        node: "choose_store".into(),
        round: 2,
        positions: vec![
            stance("ana", "clickhouse", 0.88),
            stance("ben", "clickhouse", 0.62),
            stance("cleo", "duckdb", 0.6),
            stance("dev", "postgres", 0.55),
        ],
        agreement: 0.57,
        changed: 1,
    });
    s.push(EventKind::DebateRoundStarted {
        node: "choose_store".into(),
        round: 3,
        order,
    });
    turn(&mut s, (3, 9), ("ana", "clickhouse", 0.9), None, false);
    if until_step {
        s.push(EventKind::AwaitingStep {
            node: "choose_store".into(),
            round: 3,
            next: Some("ben".into()),
            what: "turn".into(),
        });
        return s;
    }
    s.wait(200).push(EventKind::DebateEnded {
        node: "choose_store".into(),
        rounds: 3,
        reason: "max_rounds".into(),
        decision: "clickhouse".into(),
        reasons: "clickhouse has the strongest confidence-weighted support.".into(),
        decided_by: "judge:judge".into(),
    });
    for (voter, choice, c) in [
        ("ana", "clickhouse", 0.9),
        ("ben", "clickhouse", 0.7),
        ("dev", "postgres", 0.6),
    ] {
        s.wait(50).push(EventKind::VoteCast {
            node: "ratify".into(),
            round: 1,
            voter: voter.into(),
            choice: choice.into(),
            ranking: vec![],
            confidence: c,
            rationale: format!("{voter} backs {choice}"),
            phase: "cast".into(),
        });
    }
    s.push(EventKind::VoteFailed {
        node: "ratify".into(),
        round: 1,
        voter: "cleo".into(),
        error: "reply was not a ballot".into(),
    });
    s.push(EventKind::ConsensusReached {
        node: "ratify".into(),
        round: 1,
        choice: "clickhouse".into(),
        decided_by: "tally".into(),
        tally: Box::new(Tally {
            protocol: "majority".into(),
            eligible: 4,
            cast: 3,
            counts: vec![
                TallyCount {
                    choice: "clickhouse".into(),
                    votes: 2,
                    score: 2.0,
                },
                TallyCount {
                    choice: "postgres".into(),
                    votes: 1,
                    score: 1.0,
                },
            ],
            needed: Some(3.0),
            winner: Some("clickhouse".into()),
            tied: vec![],
            eliminated: vec![],
            excluded: vec![],
            summary: "clickhouse has 2 of 3 ballots".into(),
        }),
    });
    s
}

/// The pipeline with budgets: the run 10k tokens / $0.50 (warn at 75%),
/// `summarizer_a` 3k tokens, `writer` $0.20.
pub fn budget_info() -> WorkflowInfo {
    info().with_budget(super::view_model::BudgetInfo {
        warn_at: 0.75,
        limits: vec![
            ("run".into(), Some(10_000), Some(0.5)),
            ("agent:summarizer_a".into(), Some(3_000), None),
            ("agent:writer".into(), None, Some(0.2)),
        ],
    })
}

/// The scripted run, then budget updates: the run crosses its warning, the
/// writer's breaker opens, a quota wait, and `summarizer_a`'s budget runs
/// out and pauses the run.
pub fn budget_script() -> Script {
    let mut s = script();
    let upd = |scope: &str, t: u64, usd: f64, lt: Option<u64>, lu: Option<f64>| {
        EventKind::BudgetUpdated {
            scope: scope.into(),
            used_tokens: t,
            used_usd: usd,
            limit_tokens: lt,
            limit_usd: lu,
        }
    };
    s.wait(10)
        .push(upd("run", 7_800, 0.21, Some(10_000), Some(0.5)));
    s.push(upd("agent:writer", 700, 0.05, None, Some(0.2)));
    s.push(upd("agent:summarizer_a", 2_900, 0.09, Some(3_000), None));
    s.push(EventKind::BreakerStateChanged {
        scope: "writer".into(),
        from: crate::event::BreakerState::Closed,
        to: crate::event::BreakerState::Open,
        reason: "3 failures in 30 s".into(),
    });
    s.push(EventKind::QuotaWait {
        provider: "sim".into(),
        task: "fanout/summarize[3]".into(),
        limit: "tokens".into(),
        wait_ms: 1_250.0,
    });
    s.push(EventKind::BudgetExhausted {
        scope: "agent:summarizer_a".into(),
        task: "fanout/summarize[3]".into(),
        agent: "summarizer_a".into(),
        needed_tokens: 900,
        remaining_tokens: Some(100),
        policy: "pause".into(),
    });
    s.push(EventKind::RunPaused);
    s
}

/// A planned report under a human gate: the plan's reviewer sent the
/// first draft back, approved the second; the gate shows the result.
pub fn review_info() -> WorkflowInfo {
    WorkflowInfo::new(
        "reviewed-report",
        0,
        vec![
            node("main", "sequence", vec![2], None),
            node("report", "plan", vec![], Some("planner")),
            node("sign_off", "gate", vec![1], None),
        ],
        vec![
            agent("planner", "planner", &["plan"]),
            agent("critic", "reviewer", &["review"]),
        ],
    )
}

/// The reviewed report's run up to the open gate.
pub fn review_script() -> Script {
    let mut s = Script::default();
    s.push(EventKind::SessionStarted {
        workflow: "reviewed-report".into(),
        seed: 3,
        entry: "main".into(),
        agents: vec!["planner".into(), "critic".into()],
    });
    s.start_task("report/review", "report", "critic", 600);
    for (revision, approved, feedback) in [
        (
            0,
            false,
            "The cost section has no numbers; add the 2 TB storage estimate.",
        ),
        (1, true, "Numbers added and sourced; ready for sign-off."),
    ] {
        s.wait(100).push(EventKind::ReviewVerdict {
            node: "report".into(),
            task: "report/review".into(),
            approved,
            feedback: feedback.into(),
            revision,
        });
    }
    s.complete("report/review", "critic", 600, "approved");
    s.push(EventKind::TaskCreated {
        task: "sign_off".into(),
        node: "sign_off".into(),
        parent: None,
        title: "Sign off the report".into(),
        agent: None,
        capability: None,
        priority: 3,
        input: json!(null),
    });
    s.wait(50).push(EventKind::GateOpened {
        gate: "sign_off".into(),
        node: "sign_off".into(),
        artifact: json!("# Analytics store\n\nClickHouse: 2 TB at ~$180/month on 3 nodes.\nPostgres: needs partitioning beyond 500 GB."),
        revision: 0,
    });
    s
}

/// The scripted run, with `summarizer_a` streaming its reply to the
/// in-progress `fanout/summarize[3]`.
pub fn typing_script() -> Script {
    let mut s = script();
    for chunk in [
        "Solid-state cells ",
        "swap the liquid electrolyte\nfor a ceramic ",
        "separator, which lets a lithium-metal anode ",
        "reach 400 Wh/kg",
    ] {
        s.wait(30).push(EventKind::LlmDelta {
            task: "fanout/summarize[3]".into(),
            agent: "summarizer_a".into(),
            text: chunk.into(),
        });
    }
    s
}

/// The whole screen drawn at `w`×`h` in `theme`, after `setup` on a fresh
/// UI state (for snapshot tests beside the code they test): its text, as
/// `TestBackend` prints it, and its buffer (for styles).
pub fn draw_screen(
    w: u16,
    h: u16,
    theme: &super::theme::Theme,
    vm: &ViewModel,
    setup: &dyn Fn(&mut super::ui_state::UiState),
) -> (String, ratatui::buffer::Buffer) {
    let mut ui = super::ui_state::UiState::default();
    ui.now_us = T0 + 3_000_000;
    setup(&mut ui);
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("backend");
    term.draw(|f| super::render::draw(f, vm, &mut ui, theme))
        .expect("draw");
    (term.backend().to_string(), term.backend().buffer().clone())
}
