//! The cockpit's view model: the one fold of the stream ([`RunState`])
//! plus what only the cockpit shows: per-task history lines, the streamed
//! reply's tail, notices, the bus log, the transcript, gates under review.
//!
//! [`ViewModel::apply`] is the only way state changes, so a live run and a
//! replay of its session file produce the same screen. Tasks, nodes and
//! agents are folded by [`RunState::apply`]; an event kind that only the
//! cockpit shows is one match arm in [`ViewModel::apply`].

mod budget;
mod bus;
mod debate;
mod info;
mod rate;
mod revisions;
mod traffic;
mod waiting;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use crate::run_state::{AgentRun as AgentView, ApproxBytes, NodeRun as NodeView, TaskError};
pub use budget::{BudgetGauge, BudgetLevel, BudgetState, GaugeLevel};
pub use bus::{BusLog, NONE_SYM, contains_ci};
pub use debate::{Chart, DebateState, Decision, RowKind};
#[cfg(test)]
pub use info::LoopEdge;
pub use info::{AgentInfo, BudgetInfo, NodeFlow, NodeInfo, PlanDraw, QuestionInfo, WorkflowInfo};
pub use rate::PerSecond;
pub use revisions::Revisions;
pub use traffic::{EVERYONE, Traffic, TrafficEdge};

use crate::event::{Event, EventKind, Id, RunStatus};
use crate::run_state::{RunState, Task};
use crate::text::{ceil_char_boundary, floor_char_boundary};

/// Most notices kept; older ones are dropped (the session file has them all).
const MAX_NOTICES: usize = 1_000;
/// Most history entries kept per task.
const MAX_TASK_HISTORY: usize = 200;
/// Seconds of token-rate history kept for the sparkline.
const RATE_WINDOW_SECS: usize = 600;
/// Seconds the current token rate is measured over.
pub const TOKEN_RATE_SECS: u64 = 10;
/// Seconds of completions kept for the current task rate.
const TASK_RATE_SECS: u64 = 60;

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

/// One line of a task's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Event time, µs since the epoch.
    pub ts: u64,
    /// What happened, in words (shared by view-model copies).
    pub text: Arc<str>,
}

/// Everything the cockpit knows about one task: the folded task plus its
/// [`TaskLog`] (read through: `view.history`).
pub type TaskView = Task<TaskLog>;

/// What the cockpit alone keeps per task.
#[derive(Debug, Clone, Default)]
pub struct TaskLog {
    /// Owning node's index in [`WorkflowInfo::nodes`], when known.
    pub node: Option<usize>,
    /// What happened to it, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The reply being streamed right now, if a provider streams it.
    pub typing: Option<Typing>,
    /// Bumped on every change (lets renderers cache derived text).
    /// Streamed text does not bump it: the detail pane draws [`TaskLog::typing`] live.
    pub version: u64,
    /// Time it spent held for the user after failures, µs (not run time).
    pub held_us: u64,
    /// When the current hold began, while it is held.
    pub held_since: Option<u64>,
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

/// A human gate waiting for a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct GateView {
    /// Gate id (the gate's task id).
    pub gate: Id,
    /// Gate node id.
    pub node: Id,
    /// The gate node's title (its id when the workflow does not know it).
    pub title: String,
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

/// The folded state of a run, rendered by the panes. The run itself
/// (tasks, nodes, agents, usage, counts, status) is its [`RunState`], read
/// through: `vm.tasks`, `vm.nodes` (the first `info.nodes.len()` parallel
/// to `info.nodes`), `vm.agents`, `vm.completed`…
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
    /// The one fold of the stream.
    run: RunState<TaskLog>,
    /// Every bus message, compactly.
    pub bus: BusLog,
    /// Open gates, oldest first.
    pub gates: Vec<GateView>,
    /// Notices, oldest first (capped).
    pub notices: Vec<Notice>,
    /// Debate and vote transcript lines, oldest first (capped).
    pub debate: Vec<DebateLine>,
    /// Debate and vote rounds, tally and decision, structured for the table.
    pub debates: DebateState,
    /// Agents' traffic (the graph's agent view).
    pub traffic: Traffic,
    /// Nodes whose state is from before the last revision (the graph
    /// draws them as not reached yet).
    pub revisions: Revisions,
    /// Latest reviewer verdict per plan node.
    reviews: HashMap<Id, ReviewView>,
    /// Tokens per second since the start, one bucket per second (last `RATE_WINDOW_SECS`).
    pub token_rate: Vec<u64>,
    /// Second index (from the start) of `token_rate[0]`.
    pub token_rate_origin: u64,
    /// Tasks completed per second of the run (the last minute).
    pub completions: PerSecond,
    /// Bumped on every applied event.
    pub generation: u64,
}

impl std::ops::Deref for ViewModel {
    type Target = RunState<TaskLog>;
    /// The run as folded (written by [`ViewModel::apply`] alone).
    fn deref(&self) -> &RunState<TaskLog> {
        &self.run
    }
}

impl ViewModel {
    /// An empty view model for a workflow.
    pub fn new(info: WorkflowInfo) -> Self {
        let mut run = RunState::with_layout(
            info.nodes.iter().map(|n| n.id.clone()),
            info.agents.iter().map(|a| a.id.clone()),
        );
        // Gauges show the declared limits before the first call.
        run.budget = BudgetState::with_limits(info.budget.warn_at, &info.budget.limits);
        ViewModel {
            replay: false,
            session: None,
            seed: None,
            started_us: None,
            run,
            bus: BusLog::default(),
            gates: Vec::new(),
            notices: Vec::new(),
            debate: Vec::new(),
            debates: DebateState::default(),
            traffic: Traffic::default(),
            revisions: Revisions::default(),
            reviews: HashMap::new(),
            token_rate: Vec::new(),
            token_rate_origin: 0,
            completions: PerSecond::default(),
            generation: 0,
            info,
        }
    }

    /// True while the run is paused because a budget ran out (raising it
    /// with `set_budget` lets it go on).
    pub fn paused_for_budget(&self) -> bool {
        self.paused && self.ended.is_none() && self.budget.paused_by.is_some()
    }

    /// The badge state.
    pub fn phase(&self) -> RunPhase {
        match self.ended {
            Some(RunStatus::Succeeded) => RunPhase::Done,
            Some(RunStatus::Failed) => RunPhase::Failed,
            Some(RunStatus::Cancelled) => RunPhase::Cancelled,
            Some(RunStatus::Interrupted) => RunPhase::Interrupted,
            None if self.started_us.is_none() => RunPhase::Starting,
            None if self.waits_for_you() => RunPhase::WaitingForYou,
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
        end_of(self, now_us).saturating_sub(start)
    }

    /// The time to measure running things against: `now_us` while live, the
    /// last event time once ended or in a replay (so a finished run's clocks stop).
    pub fn clock(&self, now_us: u64) -> u64 {
        end_of(self, now_us)
    }

    /// True while the engine waits on the user (gate, held failure, budget
    /// pause, debate step); [`ViewModel::waiting_for`] says for what.
    fn waits_for_you(&self) -> bool {
        !self.gates.is_empty()
            || self.held > 0
            || self.paused_for_budget()
            || self.debates.waiting.is_some()
    }

    /// Second of the run (from its start) at `now_us`, on the run's clock.
    fn run_second(&self, now_us: u64) -> u64 {
        self.elapsed_us(now_us) / 1_000_000
    }

    /// Tokens per second now: over the last [`TOKEN_RATE_SECS`] seconds up
    /// to `now_us` (0 once nothing was spent for that long).
    pub fn token_rate_now(&self, now_us: u64) -> f64 {
        let sum = rate::sum_until(
            &self.token_rate,
            self.token_rate_origin,
            self.run_second(now_us),
            TOKEN_RATE_SECS,
        );
        sum as f64 / TOKEN_RATE_SECS as f64
    }

    /// Seconds up to `now_us` with no tokens spent since the last reply
    /// (the sparkline shows them empty).
    pub fn quiet_seconds(&self, now_us: u64) -> u64 {
        if self.token_rate.is_empty() {
            return 0;
        }
        let end = self.token_rate_origin + self.token_rate.len() as u64;
        (self.run_second(now_us) + 1).saturating_sub(end)
    }

    /// Tasks completed in the last minute up to `now_us`.
    pub fn tasks_per_minute_now(&self, now_us: u64) -> f64 {
        self.completions
            .sum_until(self.run_second(now_us), TASK_RATE_SECS) as f64
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

    /// Folds one event into the model.
    pub fn apply(&mut self, ev: &Event) {
        self.generation += 1;
        if self.started_us.is_none() {
            self.started_us = Some(ev.ts);
        }
        let ts = ev.ts;
        let applied = self.run.apply(ev);
        if let Some(i) = applied.task {
            let known = self.info.nodes.len();
            let t = &self.run.tasks[i];
            let (slot, streaming) = (t.node_slot(), t.streaming);
            let holding = t.held && t.state == crate::event::TaskState::Failed;
            if let Some(log) = self.run.ext_mut(i) {
                if applied.created {
                    log.node = (slot < known).then_some(slot);
                }
                if !streaming {
                    log.typing = None;
                }
                // Time held waiting for the user is not run time.
                match (holding, log.held_since) {
                    (true, None) => log.held_since = Some(ts),
                    (false, Some(since)) => {
                        log.held_us += ts.saturating_sub(since);
                        log.held_since = None;
                    }
                    _ => {}
                }
                // Streamed text does not bump it (see `TaskLog::version`).
                if !matches!(ev.kind, EventKind::LlmDelta { .. }) {
                    log.version += 1;
                }
            }
        }
        // The task's history shows the same line the headless progress prints.
        // A task the fold touched is the event's subject: no second lookup.
        if let Some(task) = ev.kind.subject()
            && !matches!(ev.kind, EventKind::LlmDelta { .. })
            && let Some(i) = applied.task.or_else(|| self.run.task_position(task))
            && let Some(log) = self.run.ext_mut(i)
        {
            if log.history.len() >= MAX_TASK_HISTORY {
                log.history.remove(0);
            }
            log.history.push(HistoryEntry {
                ts,
                text: ev.kind.describe_short().into(),
            });
            log.version += 1;
        }
        // Structured pane state; the match below sees every event
        // (notices, the transcript).
        self.debates.sync(&self.run, applied, &ev.kind);
        self.traffic.apply(&ev.kind);
        self.revisions
            .apply(&ev.kind, &self.info, &self.run.gate_openings);
        match &ev.kind {
            EventKind::SessionStarted { seed, .. } => {
                self.session = Some(ev.session.clone());
                self.seed = Some(*seed);
                self.started_us = Some(ts);
            }
            EventKind::SessionEnded { .. } => self.gates.clear(),
            EventKind::PlanCreated { task, subtasks } => {
                if let Some(slot) = self.run.task(task).map(|t| t.node_slot())
                    && slot < self.info.nodes.len()
                {
                    self.info.plans.insert(slot, PlanDraw::of(subtasks));
                    self.info.plan_version += 1;
                }
            }
            EventKind::Bus { message } => {
                let start = self.started_us.unwrap_or(message.ts);
                self.bus.push(message, start);
            }
            EventKind::LlmResponse { usage, .. } => self.add_rate(ts, usage.total()),
            EventKind::TaskCompleted { .. } => {
                let sec = ts.saturating_sub(self.started_us.unwrap_or(ts)) / 1_000_000;
                self.completions.add(sec, 1, TASK_RATE_SECS as usize);
            }
            // Streamed text feeds the "typing" indicator (a short tail, not
            // the whole reply: the output arrives whole with `task_completed`).
            EventKind::LlmDelta { task, agent, text } => {
                if let Some(i) = self.run.task_position(task)
                    && let Some(log) = self.run.ext_mut(i)
                {
                    if log.typing.as_ref().is_none_or(|x| x.agent != *agent) {
                        log.typing = Some(Typing::new(agent.clone()));
                    }
                    if let Some(typing) = log.typing.as_mut() {
                        typing.push(text);
                    }
                }
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
            EventKind::ReviewVerdict {
                node,
                task,
                approved,
                feedback,
                revision,
            } => {
                let review = ReviewView {
                    node: node.clone(),
                    agent: self.run.task(task).and_then(|t| t.agent.clone()),
                    approved: *approved,
                    feedback: feedback.clone(),
                    revision: *revision,
                };
                self.reviews.insert(node.clone(), review);
            }
            EventKind::RouteChosen { node, to, reason } => {
                self.notice(ts, Level::Info, format!("{node} routed to {to} ({reason})"));
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
                let title = self
                    .info
                    .node(node)
                    .map_or_else(|| node.to_string(), |i| self.info.nodes[i].title.clone());
                self.gates.push(GateView {
                    gate: gate.clone(),
                    node: node.clone(),
                    title,
                    artifact: artifact.clone(),
                    artifact_lines: text.lines().map(str::to_owned).collect(),
                    revision: *revision,
                    opened_us: ts,
                    reviews,
                });
            }
            EventKind::GateDecided { gate, .. } => self.gates.retain(|g| g.gate != *gate),
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
                // Round 1 changes nothing: every stance is a first one.
                let changed = if *round > 1 {
                    format!(" · {changed} changed")
                } else {
                    String::new()
                };
                self.debate_line(
                    DebateLineKind::Muted,
                    format!(
                        "round {round} ended · agreement {:.0}%{changed}",
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
            // Folded by the run state, and shown in task histories.
            _ => {}
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

/// A task's run time in ms up to `now_us`, without the time it was held
/// waiting for the user (the engine's duration when it was never held).
pub fn run_ms(t: &TaskView, now_us: u64) -> Option<f64> {
    if t.held_us == 0 && t.held_since.is_none() {
        return t.elapsed_ms(now_us);
    }
    let start = t.started_us?;
    let end = t.finished_us.unwrap_or(now_us);
    let held = t.held_us + t.held_since.map_or(0, |s| end.saturating_sub(s));
    Some(end.saturating_sub(start).saturating_sub(held) as f64 / 1000.0)
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
        vm.run.rebuild_task_index();
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
            run: self.run.clone_without_task_index(),
            bus: self.bus.clone(),
            gates: self.gates.clone(),
            notices: self.notices.clone(),
            debate: self.debate.clone(),
            debates: self.debates.clone(),
            traffic: self.traffic.clone(),
            revisions: self.revisions.clone(),
            reviews: self.reviews.clone(),
            token_rate: self.token_rate.clone(),
            token_rate_origin: self.token_rate_origin,
            completions: self.completions.clone(),
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
            // The run's records: gate openings, debates and votes share
            // their chunks; count their headers.
            + (self.run.gate_openings.len() + self.run.debate_records.len() + self.run.vote_records.len()) * 96
    }
}

/// The end of the run's clock: the last event once ended or in a replay,
/// else `now_us` (never before the last event).
fn end_of(vm: &ViewModel, now_us: u64) -> u64 {
    if vm.ended.is_some() || vm.replay {
        vm.last_us
    } else {
        now_us.max(vm.last_us)
    }
}

#[cfg(test)]
mod tests;
