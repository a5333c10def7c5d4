//! The cockpit's view model: a pure fold of the [`Event`] stream.
//!
//! [`ViewModel::apply`] is the only way state changes, so a live run and a
//! replay of its session file produce the same screen. Adding an event kind
//! is one match arm in [`ViewModel::apply`].

mod budget;
mod bus;
mod chunked;
mod debate;
mod info;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use budget::{BudgetGauge, BudgetLevel, BudgetState};
pub use bus::{BusLog, NONE_SYM, contains_ci};
pub use chunked::{ApproxBytes, ChunkVec};
pub use debate::{Chart, DebateState, Decision, RowKind};
pub use info::{AgentInfo, BudgetInfo, NodeInfo, WorkflowInfo};

use crate::event::{ErrorKind, Event, EventKind, Id, NodeState, RunStatus, TaskState, Usage};
use crate::text::{ceil_char_boundary, floor_char_boundary};

/// Most notices kept; older ones are dropped (the session file has them all).
const MAX_NOTICES: usize = 1_000;
/// Most history entries kept per task.
const MAX_TASK_HISTORY: usize = 200;
/// Seconds of token-rate history kept for the sparkline.
const RATE_WINDOW_SECS: usize = 600;

/// What the run is doing, as the status badge says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    /// No `session_started` yet.
    Starting,
    /// Dispatching work.
    Running,
    /// Paused by a command.
    Paused,
    /// A human gate waits for a decision.
    WaitingForYou,
    /// Ended successfully.
    Done,
    /// Ended with a failure.
    Failed,
    /// Cancelled by a command.
    Cancelled,
    /// Stopped from outside; resumable.
    Interrupted,
}

impl RunPhase {
    /// Upper-case badge text.
    pub fn label(self) -> &'static str {
        match self {
            RunPhase::Starting => "STARTING",
            RunPhase::Running => "RUNNING",
            RunPhase::Paused => "PAUSED",
            RunPhase::WaitingForYou => "WAITING FOR YOU",
            RunPhase::Done => "DONE",
            RunPhase::Failed => "FAILED",
            RunPhase::Cancelled => "CANCELLED",
            RunPhase::Interrupted => "INTERRUPTED",
        }
    }

    /// True while the engine may still do work (quitting should ask first).
    pub fn is_live(self) -> bool {
        matches!(
            self,
            RunPhase::Starting | RunPhase::Running | RunPhase::Paused | RunPhase::WaitingForYou
        )
    }
}

/// One failed attempt of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    /// Attempt number.
    pub attempt: u32,
    /// Error class.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}

/// One line of a task's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Event time, µs since the epoch.
    pub ts: u64,
    /// What happened, in words (shared by view-model copies).
    pub text: Arc<str>,
}

/// Everything the cockpit knows about one task.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// Task id.
    pub id: Id,
    /// Owning node id.
    pub node_id: Id,
    /// Owning node's index in [`WorkflowInfo::nodes`], when known.
    pub node: Option<usize>,
    /// Parent task (plan subtasks).
    pub parent: Option<Id>,
    /// Title.
    pub title: String,
    /// Current state.
    pub state: TaskState,
    /// Current (or last) agent.
    pub agent: Option<Id>,
    /// Capability it was dispatched by.
    pub capability: Option<String>,
    /// Priority 1–5.
    pub priority: u8,
    /// Attempts so far.
    pub attempts: u32,
    /// Tokens spent (sum of LLM responses; the completion total once known).
    pub usage: Usage,
    /// Creation time.
    pub created_us: u64,
    /// First assignment time.
    pub started_us: Option<u64>,
    /// Completion or failure time.
    pub finished_us: Option<u64>,
    /// Engine-reported duration, once completed.
    pub duration_ms: Option<f64>,
    /// Input (shared by view-model copies).
    pub input: Arc<Value>,
    /// Output, once completed (shared by view-model copies).
    pub output: Option<Arc<Value>>,
    /// Failed attempts.
    pub errors: Vec<TaskError>,
    /// True while a failed task waits for retry/reroute/cancel.
    pub held: bool,
    /// What happened to it, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The reply being streamed right now, if a provider streams it.
    pub typing: Option<Typing>,
    /// Bumped on every change (lets renderers cache derived text).
    /// Streamed text does not bump it: the detail pane draws [`TaskView::typing`] live.
    pub version: u64,
}

/// Most bytes of streamed reply text kept per task (the tail the cockpit shows).
pub const TYPING_TAIL: usize = 160;

/// A reply a provider is streaming: a bounded tail of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Typing {
    /// Agent writing it.
    pub agent: Id,
    /// The last [`TYPING_TAIL`] bytes or so (trimmed in batches, on char boundaries).
    buf: String,
    /// Characters received so far.
    pub chars: u64,
}

impl Typing {
    fn new(agent: Id) -> Self {
        Typing {
            agent,
            // Room for two tails plus one chunk's end: pushes never reallocate.
            buf: String::with_capacity(3 * TYPING_TAIL + 8),
            chars: 0,
        }
    }

    fn push(&mut self, text: &str) {
        self.chars += text.chars().count() as u64;
        // A chunk longer than the tail only contributes its end.
        let text = &text[floor_char_boundary(text, text.len().saturating_sub(TYPING_TAIL))..];
        self.buf.push_str(text);
        // Trim in batches: the buffer never grows past ~3 tails and is not
        // shifted on every chunk.
        if self.buf.len() > 2 * TYPING_TAIL {
            let cut = floor_char_boundary(&self.buf, self.buf.len() - TYPING_TAIL);
            self.buf.drain(..cut);
        }
    }

    /// The newest text, at most [`TYPING_TAIL`] bytes.
    pub fn tail(&self) -> &str {
        let start = ceil_char_boundary(&self.buf, self.buf.len().saturating_sub(TYPING_TAIL));
        &self.buf[start..]
    }
}

impl TaskView {
    /// Run time in ms: engine-reported when done, else measured up to `now_us`.
    pub fn elapsed_ms(&self, now_us: u64) -> Option<f64> {
        if let Some(d) = self.duration_ms {
            return Some(d);
        }
        let start = self.started_us?;
        let end = self.finished_us.unwrap_or(now_us);
        Some(end.saturating_sub(start) as f64 / 1000.0)
    }
}

/// Live state of one workflow node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// State.
    pub state: NodeState,
    /// `[done, total]` for fan-out nodes.
    pub progress: Option<[u32; 2]>,
    /// Tasks of this node currently in progress.
    pub active: u32,
    /// Last agent assigned a task of this node.
    pub last_agent: Option<Id>,
    /// Tasks created for this node.
    pub tasks: u32,
    /// Tasks of this node whose reply is streaming now.
    pub typing: u32,
}

/// Per-agent counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentView {
    /// Agent id.
    pub id: Id,
    /// Tokens spent.
    pub usage: Usage,
    /// Tasks in progress now.
    pub active: u32,
    /// Tasks completed.
    pub completed: u32,
    /// Tasks failed.
    pub failed: u32,
    /// Provider calls made.
    pub calls: u32,
}

/// A human gate waiting for a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct GateView {
    /// Gate id (the gate's task id).
    pub gate: Id,
    /// Gate node id.
    pub node: Id,
    /// Artifact under review.
    pub artifact: Value,
    /// Artifact pretty-printed once, split into lines (the review overlay scrolls it).
    pub artifact_lines: Vec<String>,
    /// Revision number.
    pub revision: u32,
    /// When it opened.
    pub opened_us: u64,
    /// Reviewer agents' verdicts on the work under review (plan nodes with a
    /// reviewer inside the gate's subject), newest last.
    pub reviews: Vec<ReviewView>,
}

/// A reviewer agent's verdict (`review_verdict`).
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewView {
    /// Plan node reviewed.
    pub node: Id,
    /// Reviewer agent, when known.
    pub agent: Option<Id>,
    /// Approved or sent back.
    pub approved: bool,
    /// The reviewer's feedback.
    pub feedback: String,
    /// Revision it judged.
    pub revision: u32,
}

/// An artifact as a reviewer reads it: text as is, a list of texts as
/// numbered items (their line breaks kept), anything else as pretty JSON.
fn artifact_text(artifact: &Value) -> String {
    match artifact {
        Value::String(s) => s.clone(),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => items
            .iter()
            .enumerate()
            .map(|(i, v)| format!("[{}] {}", i + 1, v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n\n"),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    }
}

/// Severity of a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Information.
    Info,
    /// Something looks wrong.
    Warn,
    /// Something failed.
    Error,
}

/// One line for the notices log.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Time.
    pub ts: u64,
    /// Severity.
    pub level: Level,
    /// Text.
    pub message: String,
}

/// Most transcript lines kept for the debate pane.
const MAX_DEBATE_LINES: usize = 2000;

/// What a debate transcript line shows (its style).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DebateLineKind {
    /// A round starting.
    Heading,
    /// A debater's turn.
    Turn,
    /// A ballot.
    Ballot,
    /// A decision or consensus.
    Agree,
    /// No consensus, a flagged agent.
    Dissent,
    /// A failed turn or ballot.
    Failed,
    /// Waiting for a step.
    Waiting,
    /// Round summaries and mode changes.
    Muted,
}

/// One line of the debate/vote transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct DebateLine {
    /// Style.
    pub kind: DebateLineKind,
    /// Text (shared by view-model copies).
    pub text: Arc<str>,
}

/// The folded state of a run, rendered by the panes.
#[derive(Debug, Clone)]
pub struct ViewModel {
    /// Static workflow facts (topology, agents).
    pub info: WorkflowInfo,
    /// True when fed from a recorded session (read-only).
    pub replay: bool,
    /// Session id, once started.
    pub session: Option<Id>,
    /// Seed, once started.
    pub seed: Option<u64>,
    /// First event time.
    pub started_us: Option<u64>,
    /// Latest event time.
    pub last_us: u64,
    /// Final status, once ended.
    pub ended: Option<RunStatus>,
    /// Failure reason at the end.
    pub end_error: Option<String>,
    /// Paused by a command.
    pub paused: bool,
    /// Tasks in creation order, in shared chunks (a copy of the view model
    /// copies chunk pointers; see `ChunkVec`).
    pub tasks: ChunkVec<TaskView>,
    task_index: HashMap<Id, usize>,
    /// Node states, parallel to `info.nodes`.
    pub nodes: Vec<NodeView>,
    /// Agents, parallel to `info.agents` plus any met only in events.
    pub agents: Vec<AgentView>,
    agent_index: HashMap<Id, usize>,
    /// Every bus message, compactly.
    pub bus: BusLog,
    /// Sum of all usage.
    pub total_usage: Usage,
    /// Open gates, oldest first.
    pub gates: Vec<GateView>,
    /// Notices, oldest first (capped).
    pub notices: Vec<Notice>,
    /// Debate and vote transcript lines, oldest first (capped).
    pub debate: Vec<DebateLine>,
    /// Debate and vote rounds, tally and decision, structured for the table.
    pub debates: DebateState,
    /// Budgets, quota waits and breakers.
    pub budget: BudgetState,
    /// Latest reviewer verdict per plan node.
    reviews: HashMap<Id, ReviewView>,
    /// Tokens per second since the start, one bucket per second (last `RATE_WINDOW_SECS`).
    pub token_rate: Vec<u64>,
    /// Second index (from the start) of `token_rate[0]`.
    pub token_rate_origin: u64,
    /// Tasks completed.
    pub completed: u32,
    /// Tasks failed.
    pub failed: u32,
    /// Tasks in progress.
    pub in_progress: u32,
    /// Last event sequence number applied.
    pub last_seq: u64,
    /// Bumped on every applied event.
    pub generation: u64,
}

impl ViewModel {
    /// An empty view model for a workflow.
    pub fn new(info: WorkflowInfo) -> Self {
        let nodes = info
            .nodes
            .iter()
            .map(|_| NodeView {
                state: NodeState::Pending,
                progress: None,
                active: 0,
                last_agent: None,
                tasks: 0,
                typing: 0,
            })
            .collect();
        let mut vm = ViewModel {
            replay: false,
            session: None,
            seed: None,
            started_us: None,
            last_us: 0,
            ended: None,
            end_error: None,
            paused: false,
            tasks: ChunkVec::default(),
            task_index: HashMap::new(),
            nodes,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            bus: BusLog::default(),
            total_usage: Usage::default(),
            gates: Vec::new(),
            notices: Vec::new(),
            debate: Vec::new(),
            debates: DebateState::default(),
            budget: BudgetState::default(),
            reviews: HashMap::new(),
            token_rate: Vec::new(),
            token_rate_origin: 0,
            completed: 0,
            failed: 0,
            in_progress: 0,
            last_seq: 0,
            generation: 0,
            info,
        };
        let ids: Vec<Id> = vm.info.agents.iter().map(|a| a.id.clone()).collect();
        for id in ids {
            vm.agent_slot(&id);
        }
        vm.budget.warn_at = vm.info.budget.warn_at;
        vm.budget.scopes = vm
            .info
            .budget
            .limits
            .iter()
            .map(|(scope, tokens, usd)| BudgetGauge::new(scope.clone(), *tokens, *usd))
            .collect();
        vm
    }

    /// True while the run is paused because a budget ran out (raising it
    /// with `set_budget` lets it go on).
    pub fn paused_for_budget(&self) -> bool {
        self.paused && self.ended.is_none() && self.budget.paused_by.is_some()
    }

    /// Clears a task's streamed text (the call settled, failed or the task moved on).
    fn stop_typing(&mut self, i: usize) {
        if self.tasks[i].typing.take().is_some()
            && let Some(n) = self.tasks[i].node
        {
            bump(&mut self.nodes[n].typing, -1);
        }
    }

    fn stop_typing_id(&mut self, task: &Id) {
        if let Some(i) = self.task_position(task) {
            self.stop_typing(i);
        }
    }

    /// The badge state.
    pub fn phase(&self) -> RunPhase {
        match self.ended {
            Some(RunStatus::Succeeded) => RunPhase::Done,
            Some(RunStatus::Failed) => RunPhase::Failed,
            Some(RunStatus::Cancelled) => RunPhase::Cancelled,
            Some(RunStatus::Interrupted) => RunPhase::Interrupted,
            None if self.started_us.is_none() => RunPhase::Starting,
            None if !self.gates.is_empty() => RunPhase::WaitingForYou,
            None if self.paused => RunPhase::Paused,
            None => RunPhase::Running,
        }
    }

    /// Run time in µs: up to the end, or up to `now_us` while live (replays
    /// use the last event time so a paused replay does not keep counting).
    pub fn elapsed_us(&self, now_us: u64) -> u64 {
        let Some(start) = self.started_us else {
            return 0;
        };
        let end = if self.ended.is_some() || self.replay {
            self.last_us
        } else {
            now_us.max(self.last_us)
        };
        end.saturating_sub(start)
    }

    /// The time to measure running things against: `now_us` while live, the
    /// last event time once ended or in a replay (so a finished run's clocks stop).
    pub fn clock(&self, now_us: u64) -> u64 {
        if self.ended.is_some() || self.replay {
            self.last_us
        } else {
            now_us.max(self.last_us)
        }
    }

    /// Tokens per second over the last `secs` complete seconds of the run.
    pub fn recent_token_rate(&self, secs: usize) -> f64 {
        let n = self.token_rate.len();
        if n == 0 || secs == 0 {
            return 0.0;
        }
        let take = secs.min(n);
        let sum: u64 = self.token_rate[n - take..].iter().sum();
        sum as f64 / take as f64
    }

    /// Completed tasks per minute over the whole run so far.
    pub fn tasks_per_minute(&self, now_us: u64) -> f64 {
        let el = self.elapsed_us(now_us) as f64 / 60e6;
        if el <= 0.0 {
            0.0
        } else {
            self.completed as f64 / el
        }
    }

    /// A task by id.
    pub fn task(&self, id: &str) -> Option<&TaskView> {
        self.task_index.get(id).map(|&i| &self.tasks[i])
    }

    /// Index of a task by id.
    pub fn task_position(&self, id: &str) -> Option<usize> {
        self.task_index.get(id).copied()
    }

    /// Agent counters by id.
    pub fn agent(&self, id: &str) -> Option<&AgentView> {
        self.agent_index.get(id).map(|&i| &self.agents[i])
    }

    /// Folds one event into the model.
    pub fn apply(&mut self, ev: &Event) {
        self.generation += 1;
        self.last_seq = self.last_seq.max(ev.seq);
        self.last_us = self.last_us.max(ev.ts);
        if self.started_us.is_none() {
            self.started_us = Some(ev.ts);
        }
        let ts = ev.ts;
        // Structured pane state; the match below still sees every event
        // (notices, histories, the transcript).
        self.debates.apply(&ev.kind);
        self.budget.apply(&ev.kind);
        match &ev.kind {
            EventKind::SessionStarted { seed, .. } => {
                self.session = Some(ev.session.clone());
                self.seed = Some(*seed);
                self.started_us = Some(ts);
            }
            EventKind::SessionEnded {
                status,
                error,
                usage,
                ..
            } => {
                self.ended = Some(*status);
                self.end_error = error.clone();
                self.gates.clear();
                // The engine's total is authoritative (it includes calls whose
                // responses we may not have seen, e.g. after a resume).
                if usage.total() > self.total_usage.total() {
                    self.total_usage = *usage;
                }
            }
            EventKind::NodeStateChanged {
                node,
                state,
                progress,
            } => {
                if let Some(i) = self.info.node(node) {
                    let n = &mut self.nodes[i];
                    n.state = *state;
                    if progress.is_some() {
                        n.progress = *progress;
                    }
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
                let node_idx = self.info.node(node);
                if let Some(i) = node_idx {
                    self.nodes[i].tasks += 1;
                }
                let view = TaskView {
                    id: task.clone(),
                    node_id: node.clone(),
                    node: node_idx,
                    parent: parent.clone(),
                    title: title.clone(),
                    state: TaskState::Pending,
                    agent: agent.clone(),
                    capability: capability.clone(),
                    priority: *priority,
                    attempts: 0,
                    usage: Usage::default(),
                    created_us: ts,
                    started_us: None,
                    finished_us: None,
                    duration_ms: None,
                    input: Arc::new(input.clone()),
                    output: None,
                    errors: Vec::new(),
                    held: false,
                    history: Vec::new(),
                    typing: None,
                    version: 0,
                };
                // A task id seen again (a loop re-entering a state reuses ids in
                // some patterns) replaces the old view in place.
                if let Some(&i) = self.task_index.get(task) {
                    self.set_state(i, TaskState::Pending);
                    self.stop_typing(i);
                    self.tasks[i] = view;
                } else {
                    self.task_index.insert(task.clone(), self.tasks.len());
                    self.tasks.push(view);
                }
                self.history(task, ts, format!("created on {node}"));
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
                    t.held = false;
                    t.started_us.get_or_insert(ts);
                    t.finished_us = None;
                    if let Some(n) = t.node {
                        self.nodes[n].last_agent = Some(agent.clone());
                    }
                }
                self.history(task, ts, format!("assigned to {agent} (attempt {attempt})"));
            }
            EventKind::TaskStateChanged {
                task,
                to,
                reason,
                from,
            } => {
                if let Some(i) = self.task_position(task) {
                    self.set_state(i, *to);
                }
                let why = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                self.history(
                    task,
                    ts,
                    format!("{} → {}{why}", from.as_str(), to.as_str()),
                );
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
                    t.held = false;
                    if let Some(a) = t.agent.clone() {
                        let s = self.agent_slot(&a);
                        self.agents[s].completed += 1;
                    }
                }
                self.history(task, ts, format!("completed in {:.0} ms", duration_ms));
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
                    t.held = *held;
                    t.finished_us = Some(ts);
                    if let Some(a) = t.agent.clone() {
                        let s = self.agent_slot(&a);
                        self.agents[s].failed += 1;
                    }
                }
                let hold = if *held {
                    " (held: retry, reroute or cancel)"
                } else {
                    ""
                };
                self.history(task, ts, format!("failed ({kind:?}): {error}{hold}"));
            }
            EventKind::TaskHandoff {
                task,
                from_agent,
                to_agent,
                reason,
                hop,
                ..
            } => {
                self.reassign(task, to_agent);
                self.history(
                    task,
                    ts,
                    format!("handed off {from_agent} → {to_agent} (hop {hop}): {reason}"),
                );
            }
            EventKind::TaskRerouted {
                task,
                from_agent,
                to_agent,
            } => {
                self.reassign(task, to_agent);
                let from = from_agent.as_deref().unwrap_or("-");
                self.history(task, ts, format!("rerouted {from} → {to_agent}"));
            }
            EventKind::Bus { message } => {
                let start = self.started_us.unwrap_or(message.ts);
                self.bus.push(message, start);
            }
            EventKind::LlmRequest {
                task,
                agent,
                model,
                attempt,
                prompt_tokens,
                ..
            } => {
                let s = self.agent_slot(agent);
                self.agents[s].calls += 1;
                self.history(
                    task,
                    ts,
                    format!(
                        "{agent} calls {model} (attempt {attempt}, {prompt_tokens} prompt tokens)"
                    ),
                );
            }
            EventKind::LlmResponse {
                task,
                agent,
                usage,
                latency_ms,
                ..
            } => {
                let s = self.agent_slot(agent);
                self.agents[s].usage.add(usage);
                self.total_usage.add(usage);
                if let Some(i) = self.task_position(task) {
                    self.stop_typing(i);
                    self.tasks[i].usage.add(usage);
                    self.tasks[i].version += 1;
                }
                self.add_rate(ts, usage.total());
                self.history(
                    task,
                    ts,
                    format!("reply: {} tokens in {:.0} ms", usage.total(), latency_ms),
                );
            }
            EventKind::LlmError {
                task,
                agent,
                kind,
                error,
            } => {
                self.stop_typing_id(task);
                self.history(task, ts, format!("{agent} call failed ({kind:?}): {error}"));
            }
            // Resilience, budget and quota decisions (issue #3): task
            // history lines and notices; metrics snapshots are for the
            // headless summary.
            EventKind::RetryScheduled {
                task,
                agent,
                attempt,
                kind,
                delay_ms,
                ..
            } => {
                self.history(
                    task,
                    ts,
                    format!(
                        "{agent} attempt {attempt} failed ({kind:?}); retry in {delay_ms:.0} ms"
                    ),
                );
            }
            EventKind::FallbackUsed {
                task,
                from_agent,
                to_agent,
                reason,
                ..
            } => {
                self.history(
                    task,
                    ts,
                    format!("fallback {from_agent} → {to_agent}: {reason}"),
                );
            }
            EventKind::CacheHit { task, agent, .. } => {
                self.history(task, ts, format!("cached reply of {agent}"));
            }
            EventKind::DegradeSwitch {
                task,
                from_agent,
                to_agent,
                reason,
            } => {
                self.history(
                    task,
                    ts,
                    format!("degraded {from_agent} → {to_agent}: {reason}"),
                );
            }
            EventKind::QuotaWait {
                task,
                provider,
                limit,
                wait_ms,
            } => {
                let line = if limit == "in_flight" {
                    format!(
                        "waits for a free slot: {provider}'s calls in flight are at their limit"
                    )
                } else {
                    format!("waits {wait_ms:.0} ms for {provider} {limit} quota")
                };
                self.history(task, ts, line);
            }
            EventKind::BreakerStateChanged {
                scope,
                from,
                to,
                reason,
            } => {
                self.notice(
                    ts,
                    Level::Warn,
                    format!("breaker {scope}: {from:?} → {to:?} ({reason})"),
                );
            }
            EventKind::BudgetWarning {
                scope, fraction, ..
            } => {
                self.notice(
                    ts,
                    Level::Warn,
                    format!("budget {scope}: {:.0}% used", fraction * 100.0),
                );
            }
            EventKind::BudgetExhausted {
                scope,
                task,
                policy,
                ..
            } => {
                self.notice(
                    ts,
                    Level::Error,
                    format!("budget {scope} exhausted at task {task}: {policy}"),
                );
            }
            EventKind::ConflictResolved {
                node,
                method,
                conflict: true,
                ..
            } => {
                self.notice(
                    ts,
                    Level::Info,
                    format!("{node}: branches disagreed; resolved by {method}"),
                );
            }
            EventKind::BudgetUpdated { .. }
            | EventKind::Metrics { .. }
            | EventKind::ConflictResolved { .. } => {}
            EventKind::BatchDispatched { task, size, .. } => {
                self.history(task, ts, format!("one call for a batch of {size} items"));
            }
            EventKind::DeadlockDetected { idle_ms, waiting } => {
                self.notice(
                    ts,
                    Level::Error,
                    format!(
                        "deadlock: {} node(s) waiting, nothing ran for {idle_ms:.0} ms",
                        waiting.len()
                    ),
                );
            }
            // Streamed text feeds the "typing" indicator (a short tail, not
            // the whole reply: the output arrives whole with `task_completed`).
            EventKind::LlmDelta { task, agent, text } => {
                if let Some(i) = self.task_position(task) {
                    let t = &mut self.tasks[i];
                    if t.typing.as_ref().is_none_or(|x| x.agent != *agent) {
                        let started = t.typing.is_none();
                        t.typing = Some(Typing::new(agent.clone()));
                        if started && let Some(n) = t.node {
                            bump(&mut self.nodes[n].typing, 1);
                        }
                    }
                    if let Some(typing) = self.tasks[i].typing.as_mut() {
                        typing.push(text);
                    }
                }
            }
            EventKind::ToolCall {
                task, agent, tool, ..
            } => {
                self.history(task, ts, format!("{agent} calls tool {tool}"));
            }
            EventKind::ToolResult { task, tool, ok, .. } => {
                let how = if *ok { "returned" } else { "failed" };
                self.history(task, ts, format!("tool {tool} {how}"));
            }
            EventKind::PlanCreated { task, subtasks } => {
                self.history(task, ts, format!("plan with {} subtasks", subtasks.len()));
            }
            EventKind::OutputRepair {
                task,
                attempt,
                error,
            } => {
                self.history(task, ts, format!("repair prompt {attempt}: {error}"));
            }
            EventKind::ReviewVerdict {
                node,
                task,
                approved,
                feedback,
                revision,
            } => {
                let verdict = if *approved { "approved" } else { "sent back" };
                self.history(
                    task,
                    ts,
                    format!("review r{revision}: {verdict}: {feedback}"),
                );
                let review = ReviewView {
                    node: node.clone(),
                    agent: self.task(task).and_then(|t| t.agent.clone()),
                    approved: *approved,
                    feedback: feedback.clone(),
                    revision: *revision,
                };
                self.reviews.insert(node.clone(), review);
            }
            EventKind::RouteChosen { node, to, reason } => {
                self.notice(ts, Level::Info, format!("{node} routed to {to} ({reason})"));
            }
            EventKind::LoopTransition { .. } | EventKind::TriggerFired { .. } => {
                // Visible through the node states and the bus; nothing extra to fold.
            }
            EventKind::GateOpened {
                gate,
                node,
                artifact,
                revision,
            } => {
                self.gates.retain(|g| g.gate != *gate);
                let text = artifact_text(artifact);
                let reviews = self.reviews_under(node);
                self.gates.push(GateView {
                    gate: gate.clone(),
                    node: node.clone(),
                    artifact: artifact.clone(),
                    artifact_lines: text.lines().map(str::to_owned).collect(),
                    revision: *revision,
                    opened_us: ts,
                    reviews,
                });
                self.history(gate, ts, format!("gate opened (revision {revision})"));
            }
            EventKind::GateDecided {
                gate,
                approved,
                comment,
            } => {
                self.gates.retain(|g| g.gate != *gate);
                let verdict = if *approved { "approved" } else { "denied" };
                let c = comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default();
                self.history(gate, ts, format!("gate {verdict}{c}"));
            }
            EventKind::RunPaused => self.paused = true,
            EventKind::RunResumed => self.paused = false,
            EventKind::CommandReceived { command } => {
                self.notice(ts, Level::Info, format!("command: {}", command.name()));
            }
            EventKind::CommandRejected { command, reason } => {
                self.notice(
                    ts,
                    Level::Warn,
                    format!("{} rejected: {reason}", command.name()),
                );
            }
            EventKind::EndpointAdapted {
                endpoint,
                setting,
                from,
                to,
                reason,
            } => {
                self.notice(
                    ts,
                    Level::Warn,
                    format!("{endpoint}: {setting} {from} → {to} ({reason})"),
                );
            }
            EventKind::Notice { level, message } => {
                let level = match level.as_str() {
                    "error" => Level::Error,
                    "warn" | "warning" => Level::Warn,
                    _ => Level::Info,
                };
                self.notice(ts, level, message.clone());
            }
            // Debate and consensus (issue #4): the transcript pane (issue #6)
            // folds these; until then the outcomes reach the log.
            EventKind::ConsensusReached {
                node,
                choice,
                decided_by,
                tally,
                ..
            } => {
                self.notice(
                    ts,
                    Level::Info,
                    format!("{node}: consensus on `{choice}` ({decided_by})"),
                );
                self.debate_line(
                    DebateLineKind::Agree,
                    format!(
                        "{node}: consensus on {choice} ({decided_by}) · {}",
                        tally.summary
                    ),
                );
            }
            EventKind::ConsensusFailed {
                node, reason, next, ..
            } => {
                self.notice(ts, Level::Warn, format!("{node}: {reason}; next: {next}"));
                self.debate_line(
                    DebateLineKind::Dissent,
                    format!("{node}: no consensus — {reason}; next: {next}"),
                );
            }
            EventKind::AgentFlagged {
                node,
                agent,
                reason,
                ..
            } => {
                self.notice(
                    ts,
                    Level::Warn,
                    format!("{node}: {agent} flagged ({reason})"),
                );
                self.debate_line(
                    DebateLineKind::Dissent,
                    format!("{node}: {agent} flagged ({reason})"),
                );
            }
            EventKind::DebateEnded {
                node,
                decision,
                reason,
                ..
            } => {
                self.notice(
                    ts,
                    Level::Info,
                    format!("{node}: debate ended ({reason}): {decision}"),
                );
                self.debate_line(
                    DebateLineKind::Agree,
                    format!("{node}: decision {decision} ({reason})"),
                );
            }
            EventKind::DebateRoundStarted { node, round, order } => {
                let order: Vec<&str> = order.iter().map(|a| &**a).collect();
                self.debate_line(
                    DebateLineKind::Heading,
                    format!("{node} · round {round} · {}", order.join(" → ")),
                );
            }
            EventKind::DebateTurn {
                turn,
                speaker,
                position,
                confidence,
                argument,
                critiques,
                changed,
                ..
            } => {
                let critique = if critiques.is_empty() {
                    String::new()
                } else {
                    let of: Vec<String> =
                        critiques.iter().map(|c| format!("#{}", c.turn)).collect();
                    format!(" · critiques {}", of.join(" "))
                };
                let switched = if *changed { " (changed)" } else { "" };
                self.debate_line(
                    DebateLineKind::Turn,
                    format!("#{turn} {speaker}: {position}{switched} · {confidence:.2}{critique} — {argument}"),
                );
            }
            EventKind::DebateTurnFailed {
                turn,
                speaker,
                error,
                ..
            } => {
                self.debate_line(
                    DebateLineKind::Failed,
                    format!("#{turn} {speaker}: turn failed — {error}"),
                );
            }
            EventKind::DebateRoundEnded {
                round,
                agreement,
                changed,
                ..
            } => {
                self.debate_line(
                    DebateLineKind::Muted,
                    format!(
                        "round {round} ended · agreement {:.0}% · {changed} changed",
                        agreement * 100.0
                    ),
                );
            }
            EventKind::VoteCast {
                node,
                round,
                voter,
                choice,
                confidence,
                phase,
                ..
            } => {
                self.debate_line(
                    DebateLineKind::Ballot,
                    format!(
                        "{node} r{round} ballot {voter} → {choice} · {confidence:.2} ({phase})"
                    ),
                );
            }
            EventKind::VoteFailed {
                node, voter, error, ..
            } => {
                self.debate_line(
                    DebateLineKind::Failed,
                    format!("{node} ballot {voter} failed — {error}"),
                );
            }
            EventKind::AwaitingStep {
                node,
                round,
                next,
                what,
            } => {
                let who = next
                    .as_ref()
                    .map(|n| format!(" by {n}"))
                    .unwrap_or_default();
                self.debate_line(
                    DebateLineKind::Waiting,
                    format!("{node} r{round}: next {what}{who} waits for a step (n)"),
                );
            }
            EventKind::StepModeChanged { on } => {
                let text = if *on {
                    "step mode on: each turn waits for n"
                } else {
                    "step mode off"
                };
                self.debate_line(DebateLineKind::Muted, text.to_string());
            }
        }
    }

    /// Reviewer verdicts from the gate node's subject subtree (the work
    /// the gate shows), in node order.
    fn reviews_under(&self, gate_node: &Id) -> Vec<ReviewView> {
        if self.reviews.is_empty() {
            return Vec::new();
        }
        let Some(root) = self.info.node(gate_node) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stack: Vec<usize> = self.info.nodes[root].children.clone();
        let mut seen = vec![false; self.info.nodes.len()];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            if let Some(r) = self.reviews.get(&self.info.nodes[n].id) {
                out.push(r.clone());
            }
            stack.extend(self.info.nodes[n].children.iter().copied());
        }
        out.sort_by_key(|r| self.info.node(&r.node));
        out
    }

    fn debate_line(&mut self, kind: DebateLineKind, text: String) {
        // A long vote or debate keeps its newest lines; the session log has all.
        if self.debate.len() >= MAX_DEBATE_LINES {
            self.debate.drain(..MAX_DEBATE_LINES / 4);
        }
        self.debate.push(DebateLine {
            kind,
            text: text.into(),
        });
    }

    fn agent_slot(&mut self, id: &Id) -> usize {
        if let Some(&i) = self.agent_index.get(id) {
            return i;
        }
        self.agent_index.insert(id.clone(), self.agents.len());
        self.agents.push(AgentView {
            id: id.clone(),
            ..AgentView::default()
        });
        self.agents.len() - 1
    }

    /// Moves a task to a new state, keeping the active counters right.
    fn set_state(&mut self, i: usize, to: TaskState) {
        let from = self.tasks[i].state;
        self.tasks[i].version += 1;
        if from == to {
            return;
        }
        self.tasks[i].state = to;
        let was = from == TaskState::InProgress;
        let is = to == TaskState::InProgress;
        if was && !is {
            // Paused, failed, done: whatever was being written is over.
            self.stop_typing(i);
        }
        if was != is {
            let node = self.tasks[i].node;
            let agent = self.tasks[i].agent.clone();
            let delta: i32 = if is { 1 } else { -1 };
            bump(&mut self.in_progress, delta);
            if let Some(n) = node {
                bump(&mut self.nodes[n].active, delta);
            }
            if let Some(a) = agent {
                let s = self.agent_slot(&a);
                bump(&mut self.agents[s].active, delta);
            }
        }
        match (from, to) {
            (_, TaskState::Completed) => self.completed += 1,
            (_, TaskState::Failed) => self.failed += 1,
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

    fn reassign(&mut self, task: &Id, to: &Id) {
        if let Some(i) = self.task_position(task) {
            let prev = self.tasks[i].agent.clone();
            self.move_agent(i, prev.as_ref(), Some(to));
            self.tasks[i].agent = Some(to.clone());
            self.tasks[i].version += 1;
        }
    }

    fn history(&mut self, task: &Id, ts: u64, text: String) {
        if let Some(i) = self.task_position(task) {
            let t = &mut self.tasks[i];
            if t.history.len() >= MAX_TASK_HISTORY {
                t.history.remove(0);
            }
            t.history.push(HistoryEntry {
                ts,
                text: text.into(),
            });
            t.version += 1;
        }
    }

    fn notice(&mut self, ts: u64, level: Level, message: String) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.drain(..MAX_NOTICES / 10);
        }
        self.notices.push(Notice { ts, level, message });
    }

    fn add_rate(&mut self, ts: u64, tokens: u64) {
        let start = self.started_us.unwrap_or(ts);
        let sec = ts.saturating_sub(start) / 1_000_000;
        if self.token_rate.is_empty() {
            self.token_rate_origin = sec;
        }
        if sec < self.token_rate_origin {
            // Out-of-order timestamp: count it in the oldest bucket.
            if let Some(b) = self.token_rate.first_mut() {
                *b += tokens;
            }
            return;
        }
        let idx = (sec - self.token_rate_origin) as usize;
        if idx >= self.token_rate.len() {
            self.token_rate.resize(idx + 1, 0);
        }
        self.token_rate[idx] += tokens;
        if self.token_rate.len() > RATE_WINDOW_SECS {
            let drop = self.token_rate.len() - RATE_WINDOW_SECS;
            self.token_rate.drain(..drop);
            self.token_rate_origin += drop as u64;
        }
    }
}

impl ApproxBytes for TaskView {
    /// The task's own bytes; its input, output and history texts are
    /// shared `Arc`s and counted where they were first made (not at all
    /// here: a copied chunk shares them with the original).
    fn approx_bytes(&self) -> usize {
        size_of::<TaskView>()
            + self.title.capacity()
            + self.capability.as_ref().map_or(0, String::capacity)
            + self.history.capacity() * size_of::<HistoryEntry>()
            + self
                .errors
                .iter()
                .map(|e| size_of::<TaskError>() + e.message.capacity())
                .sum::<usize>()
            + self.typing.as_ref().map_or(0, |t| t.buf.capacity())
    }
}

/// A copy of a [`ViewModel`] kept by the replay player to seek back
/// cheaply. It shares the task and bus chunks with the view it was taken
/// from and leaves out the task index (rebuilt by [`Checkpoint::restore`]),
/// so it costs little memory and restores in milliseconds (~5 ms for
/// 125 000 tasks, mostly the index).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    vm: ViewModel,
}

impl Checkpoint {
    /// A checkpoint of `vm`.
    pub fn of(vm: &ViewModel) -> Checkpoint {
        let mut copy = vm.clone_without_index();
        // The filter's matches belong to the viewer; the restored view
        // recomputes them for whatever filter is set then.
        copy.bus.set_filter("");
        Checkpoint { vm: copy }
    }

    /// A view model equal to the one the checkpoint was taken of (with no
    /// bus filter set).
    pub fn restore(&self) -> ViewModel {
        let mut vm = self.vm.clone_without_index();
        vm.task_index.reserve(vm.tasks.len());
        for (i, t) in vm.tasks.iter().enumerate() {
            vm.task_index.insert(t.id.clone(), i);
        }
        vm
    }

    /// Tasks in the checkpointed view.
    #[cfg(test)]
    pub(crate) fn tasks(&self) -> usize {
        self.vm.tasks.len()
    }

    /// Bytes this checkpoint holds that `newer` (a later checkpoint) does
    /// not share, roughly: its unshared task and bus chunks
    /// plus the parts every copy has of its own (notices, debate lines,
    /// gates, counters). Shared `Arc` payloads are counted nowhere, so the
    /// sum over a chain of checkpoints is what they cost beyond one view.
    pub fn unshared_bytes(&self, newer: &Checkpoint) -> usize {
        let (vm, newer) = (&self.vm, &newer.vm);
        size_of::<ViewModel>()
            + vm.tasks.unshared_bytes(&newer.tasks)
            + vm.bus.unshared_bytes(&newer.bus)
            + vm.own_bytes()
    }

    /// The checkpointed view (tests compare it).
    #[cfg(test)]
    pub(crate) fn view(&self) -> &ViewModel {
        &self.vm
    }
}

impl ViewModel {
    /// A copy that leaves the task index empty (cheap: chunks and `Arc`s).
    fn clone_without_index(&self) -> ViewModel {
        ViewModel {
            info: self.info.clone(),
            replay: self.replay,
            session: self.session.clone(),
            seed: self.seed,
            started_us: self.started_us,
            last_us: self.last_us,
            ended: self.ended,
            end_error: self.end_error.clone(),
            paused: self.paused,
            tasks: self.tasks.clone(),
            task_index: HashMap::new(),
            nodes: self.nodes.clone(),
            agents: self.agents.clone(),
            agent_index: self.agent_index.clone(),
            bus: self.bus.clone(),
            total_usage: self.total_usage,
            gates: self.gates.clone(),
            notices: self.notices.clone(),
            debate: self.debate.clone(),
            debates: self.debates.clone(),
            budget: self.budget.clone(),
            reviews: self.reviews.clone(),
            token_rate: self.token_rate.clone(),
            token_rate_origin: self.token_rate_origin,
            completed: self.completed,
            failed: self.failed,
            in_progress: self.in_progress,
            last_seq: self.last_seq,
            generation: self.generation,
        }
    }

    /// Bytes of the parts every copy holds on its own, roughly (bounded
    /// lists: notices, debate lines, gates, nodes, agents, rate history).
    fn own_bytes(&self) -> usize {
        self.notices
            .iter()
            .map(|n| size_of::<Notice>() + n.message.capacity())
            .sum::<usize>()
            + self.debate.capacity() * size_of::<DebateLine>()
            + self
                .gates
                .iter()
                .map(|g| {
                    size_of::<GateView>()
                        + bus::value_bytes(&g.artifact)
                        + g.artifact_lines.iter().map(|l| 24 + l.len()).sum::<usize>()
                })
                .sum::<usize>()
            + self.nodes.capacity() * size_of::<NodeView>()
            + self.agents.capacity() * (size_of::<AgentView>() + 48)
            + self.token_rate.capacity() * 8
            + self.debates.row_count * 160
            + self.info.nodes.len() * 128
    }
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
