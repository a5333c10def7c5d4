//! The one fold of the event stream: [`RunState`] turns events into tasks,
//! nodes, agents, gates, debates, votes and usage. The cockpit's view
//! model, the session summary (resume, export, `sessions show`, seeking)
//! and the headless progress all build on it and keep beside it only what
//! they alone need, so they cannot tell different stories about one run.
//!
//! It imports nothing above [`crate::event`].

mod agent;
mod budget;
mod chat;
mod chunked;
mod debate;
mod gate;
mod headless;
mod node;
mod step;
mod swarm;
mod task;
mod vote;
mod workers;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

pub use agent::AgentRun;
pub use budget::{BreakerView, BudgetGauge, BudgetPause, Budgets};
pub use chat::{Chat, ChatEnd, ChatLine};
pub use chunked::{ApproxBytes, ChunkVec};
pub use debate::{Debate, DebateOutcome, Round, RoundEnd, Turn};
pub use gate::GateOpening;
pub use headless::HeadlessProgress;
pub use node::NodeRun;
pub use step::{StepState, StepWait};
pub use swarm::{PoolItem, Swarm, SwarmOutcome};
pub use task::{Task, TaskError};
pub use vote::{Ballot, Vote, VoteResult};
pub use workers::{WorkerRow, Workers};

use crate::event::{Event, EventKind, Id, RunStatus, TaskState, Usage};

/// The state of a run after some of its events.
///
/// Where the stream can be read two ways, this is the one reading:
/// - A `task_created` for an id already known is ignored: the first
///   creation wins. The engine never repeats an id (it suffixes `~2`, and
///   a resumed run restates old tasks with `task_state_changed`), so a
///   repeat comes from a damaged or spliced file; keeping the first keeps
///   a completed task's output for resume and every counter consistent.
/// - `task_assigned` moves the task to IN_PROGRESS (the engine may refine
///   it at once with `task_state_changed`, e.g. to PLANNING), sets its
///   agent and raises its attempts to the attempt number; completion and
///   failure raise attempts too and set the agent when they name one.
/// - A hand-off or reroute moves the task (and its active count) to the
///   new agent.
/// - A task's usage is the sum of its replies, raised to the total its
///   `task_completed` reports when that is larger; the run's usage is the
///   sum of every reply, raised likewise to `session_ended`'s total.
/// - An agent's `completed`/`failed` count the agent the event names, else
///   the task's agent.
/// - `session_started` (a resume) clears the final status: the run is live
///   again.
///
/// `X` is what one consumer keeps beside each task (see [`Task::ext`]).
#[derive(Debug, Clone, Serialize)]
#[serde(bound(serialize = ""))]
pub struct RunState<X = ()> {
    /// Events folded.
    pub events: u64,
    /// `seq` of the last event.
    pub last_seq: u64,
    /// Time of the last event (µs since the epoch; 0 before any).
    pub last_us: u64,
    /// Runs: 1, plus one per resume.
    pub runs: u32,
    /// Set by `session_ended`; `None` while running or after a crash.
    #[serde(rename = "status")]
    pub ended: Option<RunStatus>,
    /// The entry node's output on success.
    pub output: Option<Value>,
    /// Why it failed.
    #[serde(rename = "error")]
    pub end_error: Option<String>,
    /// Paused by a command.
    #[serde(skip)]
    pub paused: bool,
    /// Step mode and what waits for a step (written in snapshots apart, as
    /// `paused` is).
    #[serde(skip)]
    pub step: StepState,
    /// Tokens spent by every call (all runs).
    #[serde(rename = "usage")]
    pub total_usage: Usage,
    /// Tasks in creation order, in shared chunks (a copy copies chunk
    /// pointers; see [`ChunkVec`]).
    pub tasks: ChunkVec<Task<X>>,
    #[serde(skip)]
    task_index: HashMap<Id, usize>,
    /// Nodes: those given to [`RunState::with_layout`], in that order, then
    /// any met only in events.
    #[serde(skip)]
    pub nodes: Vec<NodeRun>,
    #[serde(skip)]
    node_index: HashMap<Id, usize>,
    /// Agents: those given to [`RunState::with_layout`], then any met only
    /// in events, in order of appearance (serialised as a map by id).
    #[serde(serialize_with = "agents_by_id")]
    pub agents: Vec<AgentRun>,
    #[serde(skip)]
    agent_index: HashMap<Id, usize>,
    /// Gate openings, in order, in shared chunks (their artifacts are not
    /// copied with the state).
    #[serde(rename = "gates")]
    pub gate_openings: ChunkVec<GateOpening, 16>,
    /// Debates, in the order they started.
    #[serde(rename = "debates")]
    pub debate_records: Vec<Debate>,
    /// Votes, in the order they started.
    #[serde(rename = "votes")]
    pub vote_records: Vec<Vote>,
    /// Swarms' pools, in the order they started.
    #[serde(rename = "swarms", skip_serializing_if = "Vec::is_empty")]
    pub swarm_records: Vec<Swarm>,
    /// Chats, in the order they started.
    #[serde(rename = "chats", skip_serializing_if = "Vec::is_empty")]
    pub chat_records: Vec<Chat>,
    /// Tasks COMPLETED now.
    #[serde(skip)]
    pub completed: u32,
    /// Tasks FAILED now.
    #[serde(skip)]
    pub failed: u32,
    /// Tasks IN_PROGRESS now.
    #[serde(skip)]
    pub in_progress: u32,
    /// Failed tasks held now, waiting for retry, reroute or cancel.
    #[serde(skip)]
    pub held: u32,
    /// Budgets, quota waits and breakers.
    #[serde(skip)]
    pub budget: Budgets,
    /// Workers of a scale-out run (`--nats`); empty in-process.
    #[serde(skip_serializing_if = "Workers::is_empty")]
    pub workers: Workers,
}

/// What one event changed, for consumers that follow changes (the
/// recorder's snapshot deltas, the cockpit's per-task versions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Index of the task it changed.
    pub task: Option<usize>,
    /// True when that task was created by this event.
    pub created: bool,
    /// Index of the agent whose totals it changed.
    pub agent: Option<usize>,
    /// Index of the gate opening it added or decided.
    pub gate: Option<usize>,
    /// Index of the debate it changed.
    pub debate: Option<usize>,
    /// Index of the vote it changed.
    pub vote: Option<usize>,
    /// Index of the swarm it changed.
    pub swarm: Option<usize>,
    /// Index of the chat it changed.
    pub chat: Option<usize>,
}

impl<X> Default for RunState<X> {
    fn default() -> Self {
        RunState {
            events: 0,
            last_seq: 0,
            last_us: 0,
            runs: 0,
            ended: None,
            output: None,
            end_error: None,
            paused: false,
            step: StepState::default(),
            total_usage: Usage::default(),
            tasks: ChunkVec::default(),
            task_index: HashMap::new(),
            nodes: Vec::new(),
            node_index: HashMap::new(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            gate_openings: ChunkVec::default(),
            debate_records: Vec::new(),
            vote_records: Vec::new(),
            swarm_records: Vec::new(),
            chat_records: Vec::new(),
            completed: 0,
            failed: 0,
            in_progress: 0,
            held: 0,
            budget: Budgets::default(),
            workers: Workers::default(),
        }
    }
}

impl<X> RunState<X> {
    /// A task by id.
    pub fn task(&self, id: &str) -> Option<&Task<X>> {
        self.task_index.get(id).map(|&i| &self.tasks[i])
    }

    /// Index of a task by id.
    pub fn task_position(&self, id: &str) -> Option<usize> {
        self.task_index.get(id).copied()
    }

    /// Agent counters by id.
    pub fn agent(&self, id: &str) -> Option<&AgentRun> {
        self.agent_index.get(id).map(|&i| &self.agents[i])
    }

    /// Index of a node by id.
    pub fn node_position(&self, id: &str) -> Option<usize> {
        self.node_index.get(id).copied()
    }

    /// Whether the run ended (succeeded, failed or cancelled): there is
    /// nothing to resume. Interrupted and crashed runs are not finished.
    pub fn finished(&self) -> bool {
        matches!(
            self.ended,
            Some(RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled)
        )
    }

    /// Tasks done, either way (COMPLETED or FAILED now).
    pub fn done(&self) -> u32 {
        self.completed.saturating_add(self.failed)
    }
}

impl<X: Clone + Default> RunState<X> {
    /// A state that knows these nodes and agents in this order before any
    /// event (the cockpit draws them from the workflow).
    pub fn with_layout(
        nodes: impl IntoIterator<Item = Id>,
        agents: impl IntoIterator<Item = Id>,
    ) -> Self {
        let mut s = RunState::default();
        for n in nodes {
            s.node_slot(&n);
        }
        for a in agents {
            s.agent_slot(&a);
        }
        s
    }

    /// A copy without the task index (cheap: chunk pointers); see
    /// [`RunState::rebuild_task_index`].
    pub fn clone_without_task_index(&self) -> Self {
        RunState {
            events: self.events,
            last_seq: self.last_seq,
            last_us: self.last_us,
            runs: self.runs,
            ended: self.ended,
            output: self.output.clone(),
            end_error: self.end_error.clone(),
            paused: self.paused,
            step: self.step.clone(),
            total_usage: self.total_usage,
            tasks: self.tasks.clone(),
            task_index: HashMap::new(),
            nodes: self.nodes.clone(),
            node_index: self.node_index.clone(),
            agents: self.agents.clone(),
            agent_index: self.agent_index.clone(),
            gate_openings: self.gate_openings.clone(),
            debate_records: self.debate_records.clone(),
            vote_records: self.vote_records.clone(),
            swarm_records: self.swarm_records.clone(),
            chat_records: self.chat_records.clone(),
            completed: self.completed,
            failed: self.failed,
            in_progress: self.in_progress,
            held: self.held,
            budget: self.budget.clone(),
            workers: self.workers.clone(),
        }
    }

    /// Drops the tasks that can no longer change (completed, cancelled, or
    /// failed and not held), keeping every counter as it is; returns how
    /// many were dropped. For a consumer that needs the live tasks and the
    /// counts only (the headless progress), so a long run's memory stays
    /// flat. Indices of [`Applied`] given out before this are void.
    pub fn forget_settled(&mut self) -> u64
    where
        X: Clone,
    {
        let before = self.tasks.len();
        let kept: ChunkVec<Task<X>> = self
            .tasks
            .iter()
            .filter(|t| !is_settled(t))
            .cloned()
            .collect();
        self.tasks = kept;
        self.rebuild_task_index();
        (before - self.tasks.len()) as u64
    }

    /// Rebuilds the task index (after [`RunState::clone_without_task_index`]).
    pub fn rebuild_task_index(&mut self) {
        self.task_index.clear();
        self.task_index.reserve(self.tasks.len());
        for (i, t) in self.tasks.iter().enumerate() {
            self.task_index.insert(t.id.clone(), i);
        }
    }

    /// A consumer's own part of task `i`, for writing (the fold's part is
    /// written by [`RunState::apply`] alone).
    pub fn ext_mut(&mut self, i: usize) -> Option<&mut X> {
        self.tasks.get_mut(i).map(|t| &mut t.ext)
    }

    fn node_slot(&mut self, id: &Id) -> usize {
        if let Some(&i) = self.node_index.get(id) {
            return i;
        }
        self.node_index.insert(id.clone(), self.nodes.len());
        self.nodes.push(NodeRun::new(id.clone()));
        self.nodes.len() - 1
    }

    /// An agent's slot, created on first use (almost every event names a
    /// known agent: one lookup, no allocation).
    fn agent_slot(&mut self, id: &Id) -> usize {
        if let Some(&i) = self.agent_index.get(id) {
            return i;
        }
        self.agent_index.insert(id.clone(), self.agents.len());
        self.agents.push(AgentRun {
            id: id.clone(),
            ..AgentRun::default()
        });
        self.agents.len() - 1
    }

    /// Folds one event in and says what it changed.
    pub fn apply(&mut self, ev: &Event) -> Applied {
        self.events += 1;
        self.last_seq = self.last_seq.max(ev.seq);
        self.last_us = self.last_us.max(ev.ts);
        let ts = ev.ts;
        let mut out = Applied::default();
        self.budget.apply(&ev.kind);
        match &ev.kind {
            EventKind::SessionStarted { .. } => {
                self.runs += 1;
                self.ended = None;
            }
            EventKind::SessionEnded {
                status,
                output,
                error,
                usage,
                ..
            } => {
                self.ended = Some(*status);
                self.output = output.clone();
                self.end_error = error.clone();
                // The engine's total includes calls whose replies were not
                // recorded (e.g. cut off by an interruption).
                if usage.total() > self.total_usage.total() {
                    self.total_usage = *usage;
                }
            }
            EventKind::NodeStateChanged {
                node,
                state,
                progress,
            } => {
                let n = self.node_slot(node);
                let n = &mut self.nodes[n];
                n.state = *state;
                if progress.is_some() {
                    n.progress = *progress;
                }
            }
            EventKind::TaskCreated {
                task,
                node,
                parent,
                title,
                agent,
                capability,
                priority,
                input,
            } => {
                if self.task_index.contains_key(task) {
                    return out;
                }
                let slot = self.node_slot(node);
                self.nodes[slot].tasks += 1;
                self.nodes[slot].subtasks += u32::from(parent.is_some());
                let i = self.tasks.len();
                self.task_index.insert(task.clone(), i);
                self.tasks.push(Task {
                    id: task.clone(),
                    node_id: node.clone(),
                    parent: parent.clone(),
                    title: title.clone(),
                    input: Arc::new(input.clone()),
                    state: TaskState::Pending,
                    attempts: 0,
                    agent: agent.clone(),
                    output: None,
                    error: None,
                    usage: Usage::default(),
                    calls: 0,
                    completions: 0,
                    capability: capability.clone(),
                    priority: *priority,
                    created_us: ts,
                    started_us: None,
                    finished_us: None,
                    duration_ms: None,
                    held: false,
                    errors: Vec::new(),
                    worker: None,
                    streaming: false,
                    slot,
                    ext: X::default(),
                });
                out.task = Some(i);
                out.created = true;
            }
            EventKind::TaskAssigned {
                task,
                agent,
                attempt,
            } => {
                if let Some(i) = self.task_position(task) {
                    let prev = self.tasks[i].agent.clone();
                    self.set_state(i, TaskState::InProgress);
                    self.move_agent(i, prev.as_ref(), Some(agent));
                    let t = &mut self.tasks[i];
                    t.agent = Some(agent.clone());
                    t.attempts = t.attempts.max(*attempt);
                    t.started_us.get_or_insert(ts);
                    t.finished_us = None;
                    let slot = t.slot;
                    self.nodes[slot].last_agent = Some(agent.clone());
                    self.set_held(i, false);
                    out.task = Some(i);
                }
            }
            EventKind::TaskStateChanged { task, to, .. } => {
                if let Some(i) = self.task_position(task) {
                    self.set_state(i, *to);
                    out.task = Some(i);
                }
            }
            EventKind::TaskCompleted {
                task,
                agent,
                output,
                attempt,
                usage,
                duration_ms,
                ..
            } => {
                let mut who = agent.clone();
                if let Some(i) = self.task_position(task) {
                    self.set_state(i, TaskState::Completed);
                    let t = &mut self.tasks[i];
                    if agent.is_some() {
                        t.agent = agent.clone();
                    }
                    t.output = Some(Arc::new(output.clone()));
                    t.attempts = t.attempts.max(*attempt);
                    if usage.total() > t.usage.total() {
                        t.usage = *usage;
                    }
                    t.duration_ms = Some(*duration_ms);
                    t.finished_us = Some(ts);
                    t.completions += 1;
                    who = t.agent.clone();
                    self.set_held(i, false);
                    out.task = Some(i);
                }
                if let Some(a) = who {
                    let s = self.agent_slot(&a);
                    self.agents[s].completed += 1;
                    out.agent = Some(s);
                }
            }
            EventKind::TaskFailed {
                task,
                agent,
                kind,
                error,
                attempt,
                held,
                ..
            } => {
                let mut who = agent.clone();
                if let Some(i) = self.task_position(task) {
                    self.set_state(i, TaskState::Failed);
                    let t = &mut self.tasks[i];
                    if agent.is_some() {
                        t.agent = agent.clone();
                    }
                    t.attempts = t.attempts.max(*attempt);
                    t.errors.push(TaskError {
                        attempt: *attempt,
                        kind: *kind,
                        message: error.clone(),
                    });
                    t.error = Some(error.clone());
                    t.finished_us = Some(ts);
                    who = t.agent.clone();
                    self.set_held(i, *held);
                    out.task = Some(i);
                }
                if let Some(a) = who {
                    let s = self.agent_slot(&a);
                    self.agents[s].failed += 1;
                    out.agent = Some(s);
                }
            }
            EventKind::TaskHandoff { task, to_agent, .. }
            | EventKind::TaskRerouted { task, to_agent, .. } => {
                if let Some(i) = self.task_position(task) {
                    let prev = self.tasks[i].agent.clone();
                    self.move_agent(i, prev.as_ref(), Some(to_agent));
                    self.tasks[i].agent = Some(to_agent.clone());
                    // The node shows who has its work now.
                    let slot = self.tasks[i].slot;
                    self.nodes[slot].last_agent = Some(to_agent.clone());
                    out.task = Some(i);
                }
            }
            EventKind::LlmRequest { task, agent, .. } => {
                let s = self.agent_slot(agent);
                self.agents[s].calls += 1;
                out.agent = Some(s);
                if let Some(i) = self.task_position(task) {
                    self.tasks[i].calls += 1;
                    out.task = Some(i);
                }
            }
            EventKind::LlmResponse {
                task,
                agent,
                usage,
                latency_ms,
                ..
            } => {
                self.total_usage.add(usage);
                let s = self.agent_slot(agent);
                let a = &mut self.agents[s];
                a.usage.add(usage);
                a.latency_ms += latency_ms;
                out.agent = Some(s);
                if let Some(i) = self.task_position(task) {
                    self.stop_streaming(i);
                    self.tasks[i].usage.add(usage);
                    out.task = Some(i);
                }
            }
            EventKind::LlmError { task, agent, .. } => {
                let s = self.agent_slot(agent);
                self.agents[s].errors += 1;
                out.agent = Some(s);
                if let Some(i) = self.task_position(task) {
                    self.stop_streaming(i);
                    out.task = Some(i);
                }
            }
            EventKind::WorkerSeen { .. } | EventKind::WorkerStatus { .. } => {
                self.workers.apply(&ev.kind, ts);
            }
            EventKind::WorkerResult { task, worker, .. } => {
                self.workers.apply(&ev.kind, ts);
                if let Some(i) = self.task_position(task) {
                    if self.tasks[i].worker.as_deref() != Some(worker.as_str()) {
                        self.tasks[i].worker = Some(worker.clone());
                    }
                    out.task = Some(i);
                }
            }
            EventKind::LlmDelta { task, .. } => {
                if let Some(i) = self.task_position(task) {
                    if !self.tasks[i].streaming {
                        self.tasks[i].streaming = true;
                        let slot = self.tasks[i].slot;
                        self.nodes[slot].typing += 1;
                    }
                    out.task = Some(i);
                }
            }
            EventKind::GateOpened {
                gate,
                node,
                artifact,
                revision,
            } => {
                out.gate = Some(self.gate_openings.len());
                self.gate_openings.push(GateOpening {
                    gate: gate.to_string(),
                    node: node.to_string(),
                    revision: *revision,
                    artifact: artifact.clone(),
                    decision: None,
                });
            }
            EventKind::GateDecided {
                gate,
                approved,
                comment,
            } => {
                let open = (0..self.gate_openings.len()).rev().find(|&i| {
                    let g = &self.gate_openings[i];
                    *g.gate == **gate && g.decision.is_none()
                });
                if let Some(i) = open {
                    self.gate_openings[i].decision = Some((*approved, comment.clone()));
                    out.gate = Some(i);
                }
            }
            EventKind::RunPaused => self.paused = true,
            EventKind::RunResumed => self.paused = false,
            EventKind::DebateRoundStarted { node, round, order } => {
                let d = self.debate(node, &mut out);
                d.rounds.push(Round {
                    round: *round,
                    order: order.iter().map(|a| a.to_string()).collect(),
                    ended: None,
                });
            }
            EventKind::DebateRoundEnded {
                node,
                round,
                positions,
                agreement,
                changed,
            } => {
                let d = self.debate(node, &mut out);
                let end = RoundEnd {
                    agreement: *agreement,
                    changed: *changed,
                    positions: positions
                        .iter()
                        .map(|p| (p.agent.to_string(), p.position.clone(), p.confidence))
                        .collect(),
                };
                // The newest round of that number (a rerun repeats numbers).
                match d.rounds.iter_mut().rev().find(|r| r.round == *round) {
                    Some(r) => r.ended = Some(end),
                    None => d.rounds.push(Round {
                        round: *round,
                        order: Vec::new(),
                        ended: Some(end),
                    }),
                }
            }
            EventKind::AwaitingStep {
                node,
                round,
                next,
                what,
            } => {
                // A node waits only in step mode (`--step` sets it without an event).
                self.step.on = true;
                self.step.waiting = Some(StepWait {
                    node: node.to_string(),
                    round: *round,
                    next: next.as_deref().map(str::to_owned),
                    what: what.clone(),
                });
            }
            EventKind::StepModeChanged { on } => {
                self.step.on = *on;
                if !*on {
                    self.step.waiting = None;
                }
            }
            EventKind::DebateTurn {
                node,
                round,
                turn,
                speaker,
                position,
                confidence,
                argument,
                critiques,
                changed,
                ..
            } => {
                self.release_step(node);
                let d = self.debate(node, &mut out);
                d.turns.push(Turn {
                    round: *round,
                    turn: *turn,
                    speaker: speaker.to_string(),
                    position: position.clone(),
                    confidence: *confidence,
                    argument: argument.clone(),
                    critiques: critiques
                        .iter()
                        .map(|c| (c.turn, c.speaker.to_string(), c.text.clone()))
                        .collect(),
                    failed: None,
                    changed: *changed,
                });
            }
            EventKind::DebateTurnFailed {
                node,
                round,
                turn,
                speaker,
                error,
                ..
            } => {
                self.release_step(node);
                let d = self.debate(node, &mut out);
                d.turns.push(Turn {
                    round: *round,
                    turn: *turn,
                    speaker: speaker.to_string(),
                    position: String::new(),
                    confidence: 0.0,
                    argument: String::new(),
                    critiques: Vec::new(),
                    failed: Some(error.clone()),
                    changed: false,
                });
            }
            EventKind::DebateEnded {
                node,
                rounds,
                reason,
                decision,
                reasons,
                decided_by,
            } => {
                self.release_step(node);
                self.debate(node, &mut out).outcome = Some(DebateOutcome {
                    rounds: *rounds,
                    reason: reason.clone(),
                    decision: decision.clone(),
                    reasons: reasons.clone(),
                    decided_by: decided_by.clone(),
                });
            }
            EventKind::VoteCast {
                node,
                round,
                voter,
                choice,
                confidence,
                rationale,
                phase,
                ranking,
            } => {
                self.release_step(node);
                self.vote(node, &mut out).ballots.push(Ballot {
                    round: *round,
                    voter: voter.to_string(),
                    choice: choice.clone(),
                    confidence: *confidence,
                    rationale: rationale.clone(),
                    phase: phase.clone(),
                    ranking: ranking.clone(),
                });
            }
            EventKind::VoteFailed {
                node,
                round,
                voter,
                error,
            } => {
                self.release_step(node);
                self.vote(node, &mut out).ballots.push(Ballot {
                    round: *round,
                    voter: voter.to_string(),
                    choice: String::new(),
                    confidence: 0.0,
                    rationale: error.clone(),
                    phase: "failed".into(),
                    ranking: Vec::new(),
                });
            }
            EventKind::AgentFlagged {
                node,
                agent,
                round,
                reason,
                detail,
                excluded,
            } => {
                self.vote(node, &mut out).flagged.push((
                    agent.to_string(),
                    *round,
                    reason.clone(),
                    detail.clone(),
                    *excluded,
                ));
            }
            EventKind::ConsensusReached {
                node,
                round,
                choice,
                decided_by,
                tally,
            } => {
                self.release_step(node);
                self.vote(node, &mut out).results.push(VoteResult {
                    round: *round,
                    reached: true,
                    choice: Some(choice.clone()),
                    note: format!("decided by {decided_by}"),
                    tally: (**tally).clone(),
                });
            }
            EventKind::ConsensusFailed {
                node,
                round,
                reason,
                next,
                tally,
            } => {
                self.vote(node, &mut out).results.push(VoteResult {
                    round: *round,
                    reached: false,
                    choice: None,
                    note: format!("{reason}; then: {next}"),
                    tally: (**tally).clone(),
                });
            }
            EventKind::SwarmItemAdded { node, .. }
            | EventKind::SwarmClaimed { node, .. }
            | EventKind::SwarmLeaseExpired { node, .. }
            | EventKind::SwarmFinding { node, .. }
            | EventKind::SwarmWorkFailed { node, .. }
            | EventKind::SwarmItemDone { node, .. }
            | EventKind::SwarmRoundEnded { node, .. }
            | EventKind::SwarmConverged { node, .. } => {
                self.release_step(node);
                let i = record_of(
                    &mut self.swarm_records,
                    node,
                    |r| &r.node,
                    |node| Swarm {
                        node,
                        ..Default::default()
                    },
                );
                out.swarm = Some(i);
                self.swarm_records[i].apply(&ev.kind);
            }
            EventKind::ChatTurn { node, .. }
            | EventKind::ChatTurnFailed { node, .. }
            | EventKind::ChatEnded { node, .. } => {
                self.release_step(node);
                let i = record_of(
                    &mut self.chat_records,
                    node,
                    |r| &r.node,
                    |node| Chat {
                        node,
                        ..Default::default()
                    },
                );
                out.chat = Some(i);
                self.chat_records[i].apply(&ev.kind);
            }
            _ => {}
        }
        out
    }

    /// The node acted: it no longer waits for a step.
    fn release_step(&mut self, node: &str) {
        if self.step.waiting.as_ref().is_some_and(|w| w.node == node) {
            self.step.waiting = None;
        }
    }

    /// The record of a debate node, created on its first event (a run has
    /// a handful: a scan is cheaper than an index).
    fn debate(&mut self, node: &str, out: &mut Applied) -> &mut Debate {
        let i = record_of(
            &mut self.debate_records,
            node,
            |d| &d.node,
            |node| Debate {
                node,
                ..Default::default()
            },
        );
        out.debate = Some(i);
        &mut self.debate_records[i]
    }

    /// The record of a vote node, created on its first event.
    fn vote(&mut self, node: &str, out: &mut Applied) -> &mut Vote {
        let i = record_of(
            &mut self.vote_records,
            node,
            |v| &v.node,
            |node| Vote {
                node,
                ..Default::default()
            },
        );
        out.vote = Some(i);
        &mut self.vote_records[i]
    }

    fn stop_streaming(&mut self, i: usize) {
        if std::mem::take(&mut self.tasks[i].streaming) {
            let slot = self.tasks[i].slot;
            bump(&mut self.nodes[slot].typing, -1);
        }
    }

    /// Sets whether task `i` is a failure held for the user, keeping the
    /// run's and its node's counts of held tasks right.
    fn set_held(&mut self, i: usize, held: bool) {
        let was = holds(&self.tasks[i]);
        self.tasks[i].held = held;
        self.count_held(i, was);
    }

    /// Moves the held counts when task `i` stopped or started being held
    /// (`was`: whether it was before the change).
    fn count_held(&mut self, i: usize, was: bool) {
        let t = &self.tasks[i];
        let is = holds(t);
        if was != is {
            let (slot, agent) = (t.slot, t.agent.clone());
            let d = if is { 1 } else { -1 };
            bump(&mut self.held, d);
            bump(&mut self.nodes[slot].held, d);
            if is && agent.is_some() {
                // The node shows whose failure waits for the user.
                self.nodes[slot].last_agent = agent;
            }
        }
    }

    /// Moves a task to a new state, keeping the counters right.
    fn set_state(&mut self, i: usize, to: TaskState) {
        let from = self.tasks[i].state;
        if from == to {
            return;
        }
        let held = holds(&self.tasks[i]);
        self.tasks[i].state = to;
        self.count_held(i, held);
        if to != TaskState::Failed {
            // Retried, cancelled or done: nobody is waited for any more.
            self.tasks[i].held = false;
        }
        let was = from == TaskState::InProgress;
        let is = to == TaskState::InProgress;
        if was && !is {
            // Paused, failed, done: whatever was being written is over.
            self.stop_streaming(i);
        }
        if was != is {
            let slot = self.tasks[i].slot;
            let agent = self.tasks[i].agent.clone();
            let delta: i32 = if is { 1 } else { -1 };
            bump(&mut self.in_progress, delta);
            bump(&mut self.nodes[slot].active, delta);
            if let Some(a) = agent {
                let s = self.agent_slot(&a);
                bump(&mut self.agents[s].active, delta);
            }
        }
        match to {
            TaskState::Completed => self.completed += 1,
            TaskState::Failed => self.failed += 1,
            _ => {}
        }
        match from {
            TaskState::Completed => self.completed = self.completed.saturating_sub(1),
            TaskState::Failed => self.failed = self.failed.saturating_sub(1),
            _ => {}
        }
    }

    /// Moves an in-progress task's active count from one agent to another.
    fn move_agent(&mut self, i: usize, from: Option<&Id>, to: Option<&Id>) {
        if self.tasks[i].state != TaskState::InProgress || from == to {
            return;
        }
        if let Some(a) = from {
            let s = self.agent_slot(a);
            bump(&mut self.agents[s].active, -1);
        }
        if let Some(a) = to {
            let s = self.agent_slot(a);
            bump(&mut self.agents[s].active, 1);
        }
    }

    /// Puts records read back from a snapshot in place: task `i` (the next
    /// index or an existing one with the same id), agents by id. Counters
    /// derived from the tasks are recomputed by [`RunState::recount`].
    pub(crate) fn put_task(&mut self, i: usize, mut t: Task<X>) {
        t.slot = self.node_slot(&t.node_id);
        if i < self.tasks.len() {
            self.tasks[i] = t;
        } else {
            self.task_index.insert(t.id.clone(), self.tasks.len());
            self.tasks.push(t);
        }
    }

    /// See [`RunState::put_task`].
    pub(crate) fn put_node(&mut self, n: NodeRun) {
        let s = self.node_slot(&n.id);
        let old = &mut self.nodes[s];
        old.state = n.state;
        old.progress = n.progress;
        old.last_agent = n.last_agent;
    }

    /// See [`RunState::put_task`].
    pub(crate) fn put_agent(&mut self, id: &str, mut a: AgentRun) {
        let id: Id = Id::from(id);
        let s = self.agent_slot(&id);
        a.id = id;
        a.active = 0;
        self.agents[s] = a;
    }

    /// Recomputes what is derived from the tasks (state counts, active
    /// counts per node and agent, tasks per node) after records were put
    /// in place from a snapshot.
    pub(crate) fn recount(&mut self) {
        self.completed = 0;
        self.failed = 0;
        self.in_progress = 0;
        self.held = 0;
        for n in &mut self.nodes {
            n.active = 0;
            n.tasks = 0;
            n.typing = 0;
            n.held = 0;
            n.subtasks = 0;
        }
        for a in &mut self.agents {
            a.active = 0;
        }
        let mut active_agents: Vec<Id> = Vec::new();
        for t in self.tasks.iter() {
            let n = &mut self.nodes[t.slot];
            n.tasks += 1;
            if holds(t) {
                self.held += 1;
                n.held += 1;
            }
            n.subtasks += u32::from(t.parent.is_some());
            match t.state {
                TaskState::Completed => self.completed += 1,
                TaskState::Failed => self.failed += 1,
                TaskState::InProgress => {
                    self.in_progress += 1;
                    n.active += 1;
                    if let Some(a) = &t.agent {
                        active_agents.push(a.clone());
                    }
                }
                _ => {}
            }
        }
        for a in active_agents {
            let s = self.agent_slot(&a);
            self.agents[s].active += 1;
        }
    }
}

/// Agents as a map by id, in id order (how session exports list them).
fn agents_by_id<S: serde::Serializer>(agents: &[AgentRun], s: S) -> Result<S::Ok, S::Error> {
    let mut sorted: Vec<&AgentRun> = agents.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    s.collect_map(sorted.into_iter().map(|a| (&*a.id, a)))
}

fn bump(v: &mut u32, delta: i32) {
    *v = if delta >= 0 {
        v.saturating_add(delta as u32)
    } else {
        v.saturating_sub(delta.unsigned_abs())
    };
}

#[cfg(test)]
mod tests;

/// Index of the record of `node` in `records`, pushing `make(node)` when
/// there is none yet.
fn record_of<T>(
    records: &mut Vec<T>,
    node: &str,
    node_of: impl Fn(&T) -> &String,
    make: impl FnOnce(String) -> T,
) -> usize {
    match records.iter().position(|r| node_of(r) == node) {
        Some(i) => i,
        None => {
            records.push(make(node.to_string()));
            records.len() - 1
        }
    }
}

/// A failed task held for the user (a held task moved on is not held).
fn holds<X>(t: &Task<X>) -> bool {
    t.held && t.state == TaskState::Failed
}

/// A task no event can move any more (a held failure can still be retried).
fn is_settled<X>(t: &Task<X>) -> bool {
    match t.state {
        TaskState::Completed | TaskState::Cancelled => true,
        TaskState::Failed => !t.held,
        _ => false,
    }
}
