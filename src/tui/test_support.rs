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
