//! The one event stream and the one command channel.
//!
//! Everything the orchestrator does is an [`Event`]; everything a human does
//! is a [`Command`]. The TUI, the recorder, metrics and the headless progress
//! output are all consumers of the same stream (see `docs/events.md`).

mod describe;
pub mod metrics;

pub use describe::approx as approx_tokens;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the event schema. Bumped on any incompatible change.
pub const EVENT_SCHEMA_VERSION: u32 = 1;

/// A cheap-to-clone identifier (task, agent, node, session).
pub type Id = Arc<str>;

/// Lifecycle state of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Created, waiting for an agent.
    Pending,
    /// A planner is decomposing it.
    Planning,
    /// An agent is working on it.
    InProgress,
    /// Waiting for a reviewer (agent or human gate).
    Review,
    /// Sent back with feedback; will run again.
    Revision,
    /// Done; its output is final.
    Completed,
    /// Failed; may be retried by a `retry` command while the run is live.
    Failed,
    /// Held by the user.
    Paused,
    /// Cancelled by the user or because its parent no longer needs it.
    Cancelled,
}

impl TaskState {
    /// True for states a task never leaves on its own.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Cancelled
        )
    }

    /// Upper-case name, as shown to people.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// State of a workflow node as a whole (for the graph).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Not reached yet.
    Pending,
    /// Running (some of its tasks are live).
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// Whether a worker (scale-out on NATS) is heard from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum WorkerState {
    /// Heartbeating.
    Live,
    /// Silent for longer than the heartbeat's grace: its calls come back
    /// to the queue after their ack wait.
    Lost,
    /// Stopped cleanly (its last heartbeat said so).
    Stopped,
}

impl WorkerState {
    /// Lower-case name, as shown to people.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Final status of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The entry node completed.
    Succeeded,
    /// The entry node failed.
    Failed,
    /// Cancelled by a command.
    Cancelled,
    /// Stopped from outside (Ctrl-C); resumable.
    Interrupted,
}

impl RunStatus {
    /// The process exit code the CLI contract gives this status.
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Succeeded => 0,
            RunStatus::Failed => 1,
            RunStatus::Cancelled | RunStatus::Interrupted => 3,
        }
    }
}

/// Token usage of one call (or a sum of calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens sent.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// True when counted by our tokenizer rather than reported by the server.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
}

impl Usage {
    /// Prompt plus completion.
    pub fn total(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// Adds another usage to this one (saturating: a damaged session or a
    /// lying server cannot wrap the count around).
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
        self.estimated |= other.estimated;
    }
}

/// Why a provider call or a task failed, as the retry layer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The call took too long.
    Timeout,
    /// The provider asked us to slow down.
    RateLimited,
    /// 5xx or a dropped connection.
    Server,
    /// The reply could not be parsed into what the node needs.
    Malformed,
    /// Bad or missing credentials.
    Auth,
    /// The request itself is wrong (unknown model, bad parameters).
    InvalidRequest,
    /// A budget would be exceeded.
    BudgetExhausted,
    /// Cancelled by a command.
    Cancelled,
    /// The workflow logic failed (no route, loop bound, revision limit...).
    Workflow,
}

impl ErrorKind {
    /// Whether retrying the same call may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::RateLimited | ErrorKind::Server | ErrorKind::Malformed
        )
    }
}

/// A message on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusMessage {
    /// Unique per session.
    pub id: u64,
    /// Subject, e.g. `agent.writer`, `alerts.disk`.
    pub topic: Id,
    /// Sender (agent id, node id, `orchestrator`, `user`).
    pub from: Id,
    /// Recipient when addressed to one party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Id>,
    /// Message type: `task`, `result`, `handoff`, `event`...
    pub kind: std::borrow::Cow<'static, str>,
    /// Body.
    pub payload: Value,
    /// Correlates a request with its reply (usually the task id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Id>,
    /// Microseconds since the Unix epoch.
    pub ts: u64,
    /// Urgency, 1 most urgent … 5 (a task's message takes the task's).
    /// Subscriptions in priority order hand out the most urgent first.
    /// Omitted when it is the default 3, so sessions recorded before it
    /// existed load unchanged and new ones stay as small.
    #[serde(
        default = "BusMessage::default_priority",
        skip_serializing_if = "BusMessage::is_default_priority"
    )]
    pub priority: u8,
}

impl BusMessage {
    /// The priority of a message that sets none.
    pub const DEFAULT_PRIORITY: u8 = 3;

    fn default_priority() -> u8 {
        Self::DEFAULT_PRIORITY
    }

    fn is_default_priority(p: &u8) -> bool {
        *p == Self::DEFAULT_PRIORITY
    }
}

/// One event of the stream: an envelope around [`EventKind`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Strictly increasing within a session, from 1.
    pub seq: u64,
    /// Microseconds since the Unix epoch.
    pub ts: u64,
    /// Session id.
    pub session: Id,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Serialised with `"type": "<snake_case name>"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The run started.
    SessionStarted {
        /// Workflow name.
        workflow: String,
        /// Seed for every random choice.
        seed: u64,
        /// Entry node id.
        entry: Id,
        /// Agent ids, in declaration order.
        agents: Vec<Id>,
    },
    /// The run finished.
    SessionEnded {
        /// Final status.
        status: RunStatus,
        /// Output of the entry node, when it succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<Value>,
        /// Why it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Sum of all token usage.
        usage: Usage,
        /// Engine wall time in milliseconds.
        wall_ms: f64,
    },
    /// A node failed and its `on_error` handler takes over: the handler
    /// runs with `{error, partial}`, and its output is the node's output.
    ErrorHandled {
        /// The node that failed.
        node: Id,
        /// The handler node.
        handler: Id,
        /// The failure.
        error: String,
        /// Outputs that completed inside the node before it failed.
        partial: u32,
    },
    /// A task was submitted to the running run (`Command::Submit`: the
    /// library's `RunHandle::submit`, the cockpit's `+` key). Its
    /// `task_created` follows; a resumed run runs it again from this.
    TaskSubmitted {
        /// Task id (`submitted#1`, …).
        task: Id,
        /// The agent that works on it.
        agent: Id,
        /// What it is asked.
        prompt: String,
        /// Priority 1 (most urgent) to 5.
        priority: u8,
    },
    /// A reply failed its node's `validate` check; the task asks again
    /// (another capable agent, or the same one), with the reason.
    ReplyRejected {
        /// Task id.
        task: Id,
        /// Agent whose reply was rejected.
        agent: Id,
        /// Why.
        reason: String,
        /// Which reply (1 = the first).
        attempt: u32,
    },
    /// A workflow node changed state.
    NodeStateChanged {
        /// Node id.
        node: Id,
        /// New state.
        state: NodeState,
        /// Progress `[done, total]` for fan-out nodes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<[u32; 2]>,
    },
    /// A task was created (state PENDING unless `state` says otherwise).
    TaskCreated {
        /// Task id: a stable path such as `fanout/branch[2]` or `loop/analyse#3`.
        task: Id,
        /// Node that owns it.
        node: Id,
        /// Parent task, for subtasks of a plan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<Id>,
        /// Short human title.
        title: String,
        /// Target agent, if fixed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<Id>,
        /// Target capability, if dispatched by capability.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capability: Option<String>,
        /// Priority 1 (most urgent) to 5.
        priority: u8,
        /// The task's input.
        input: Value,
    },
    /// A task was given to an agent.
    TaskAssigned {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A task moved between states (other than to COMPLETED/FAILED, which
    /// are `task_completed` / `task_failed`).
    TaskStateChanged {
        /// Task id.
        task: Id,
        /// Previous state.
        from: TaskState,
        /// New state.
        to: TaskState,
        /// Why, when not obvious.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A task completed (its state is now COMPLETED).
    TaskCompleted {
        /// Task id.
        task: Id,
        /// Agent that produced the output, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<Id>,
        /// Previous state.
        from: TaskState,
        /// The output.
        output: Value,
        /// Attempts it took.
        attempt: u32,
        /// Tokens spent on it (all attempts).
        usage: Usage,
        /// Milliseconds from first assignment to completion.
        duration_ms: f64,
    },
    /// A task failed (its state is now FAILED).
    TaskFailed {
        /// Task id.
        task: Id,
        /// Agent it was on, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<Id>,
        /// Previous state.
        from: TaskState,
        /// Error class.
        kind: ErrorKind,
        /// Error message.
        error: String,
        /// Attempt number.
        attempt: u32,
        /// True when the engine holds the task for a `retry`/`reroute`/`cancel`
        /// decision instead of failing its node at once.
        held: bool,
    },
    /// An agent handed its task to a peer.
    TaskHandoff {
        /// Task id.
        task: Id,
        /// Agent that gave it away.
        from_agent: Id,
        /// Agent that received it.
        to_agent: Id,
        /// Capability asked for.
        capability: String,
        /// The agent's reason.
        reason: String,
        /// Hop number, from 1.
        hop: u32,
    },
    /// A worker process (scale-out on NATS, `agentctl worker`) ran one
    /// call of a task and its result reached the orchestrator.
    WorkerResult {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// Attempt number, from 1.
        attempt: u32,
        /// Id of the worker that stored the result.
        worker: String,
        /// Times the call's work message was delivered to a worker: more
        /// than 1 when a worker died or stalled holding it (a redelivery).
        #[serde(default = "one")]
        deliveries: u32,
        /// The result was already stored when the orchestrator asked (a
        /// resumed run reusing work done while it was down).
        #[serde(default)]
        reused: bool,
    },
    /// A worker (scale-out on NATS) was first seen by this run: once per
    /// worker per run, before any `worker_result` naming it.
    WorkerSeen {
        /// Worker id.
        worker: String,
        /// Its host.
        host: String,
        /// Capabilities it serves (`--capability`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        capabilities: Vec<String>,
        /// Agents it serves by id (`--agent`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        agents: Vec<String>,
        /// It serves every model agent (no `--capability`/`--agent`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        any: bool,
        /// Calls it runs at once.
        concurrency: u32,
    },
    /// A worker's state changed in a way worth recording: it was lost
    /// (stopped heartbeating), came back, stopped cleanly, or its calls in
    /// flight changed (at most about once a second per worker, never one
    /// event per heartbeat).
    WorkerStatus {
        /// Worker id.
        worker: String,
        /// Live, lost or stopped.
        state: WorkerState,
        /// Calls running on it.
        in_flight: u32,
        /// Calls it finished (all runs it served).
        done: u64,
        /// Calls that failed on it.
        failures: u64,
    },
    /// A task was moved to another agent by a command.
    TaskRerouted {
        /// Task id.
        task: Id,
        /// Previous agent, if it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_agent: Option<Id>,
        /// New agent.
        to_agent: Id,
    },
    /// A message crossed the bus.
    Bus {
        /// The message.
        message: BusMessage,
    },
    /// A provider call started.
    LlmRequest {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// Provider name.
        provider: Id,
        /// Model name.
        model: Id,
        /// Attempt number.
        attempt: u32,
        /// Prompt tokens (by our tokenizer).
        prompt_tokens: u64,
    },
    /// A provider call returned.
    LlmResponse {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// Provider name.
        provider: Id,
        /// Model name.
        model: Id,
        /// Usage of this call.
        usage: Usage,
        /// Milliseconds the call took.
        latency_ms: f64,
    },
    // ── streaming and tool-call events (issue #7) go here ──
    /// More text of a reply being written (only providers that stream live,
    /// not `sim`). If the call then fails, the text is discarded.
    LlmDelta {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// The new text.
        text: String,
    },
    /// A model asked to call a tool; the engine runs it next.
    ToolCall {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// The model's id for the call.
        call_id: String,
        /// Tool name.
        tool: String,
        /// Arguments as the model wrote them (JSON text).
        arguments: String,
    },
    /// A tool call finished; its result goes back to the model.
    ToolResult {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// The call answered.
        call_id: String,
        /// Tool name.
        tool: String,
        /// False when the tool failed (the error text is the output).
        ok: bool,
        /// Result text (at most 2 000 characters here; the model gets up to 64 KiB).
        output: String,
    },
    /// A provider call failed.
    LlmError {
        /// Task id.
        task: Id,
        /// Agent id.
        agent: Id,
        /// Error class.
        kind: ErrorKind,
        /// Message.
        error: String,
    },
    // ── resilience, budgets, quotas, metrics events (issue #3) go here ──
    /// A failed call will be tried again after a delay (retry policy).
    RetryScheduled {
        /// Task id.
        task: Id,
        /// Agent whose call failed.
        agent: Id,
        /// The attempt that failed, from 1.
        attempt: u32,
        /// Retry number on this agent, from 1.
        retry: u32,
        /// Why it failed.
        kind: ErrorKind,
        /// Delay before the next attempt, ms (jittered, at least Retry-After).
        delay_ms: f64,
        /// The provider's Retry-After, ms, when it sent one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<f64>,
    },
    /// A circuit breaker changed state.
    BreakerStateChanged {
        /// What the breaker guards: an agent id, or `provider:<name>`.
        scope: Id,
        /// Previous state.
        from: BreakerState,
        /// New state.
        to: BreakerState,
        /// Why (failures counted, cool-down over, probe result).
        reason: String,
    },
    /// A task moved down its fallback chain.
    FallbackUsed {
        /// Task id.
        task: Id,
        /// Agent that could not answer.
        from_agent: Id,
        /// Next agent of the chain, which gets the task.
        to_agent: Id,
        /// Position of `to_agent` in the chain (the primary is 0).
        position: u32,
        /// Why the previous agent was left.
        reason: String,
    },
    /// A reply came from the response cache (no tokens spent).
    CacheHit {
        /// Task id.
        task: Id,
        /// Agent whose cached reply was used.
        agent: Id,
        /// Age of the cached reply, ms.
        age_ms: f64,
    },
    /// A task switched to its node's declared cheaper agent.
    DegradeSwitch {
        /// Task id.
        task: Id,
        /// Agent it leaves.
        from_agent: Id,
        /// Cheaper agent it goes to.
        to_agent: Id,
        /// What pressure caused it (queue depth or budget).
        reason: String,
    },
    /// Spending of a budget scope after a call settled, or a limit changed.
    BudgetUpdated {
        /// `run`, `agent:<id>` or `node:<id>`.
        scope: String,
        /// Tokens used so far.
        used_tokens: u64,
        /// Money used so far, US dollars.
        used_usd: f64,
        /// Token limit, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_tokens: Option<u64>,
        /// Money limit, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_usd: Option<f64>,
    },
    /// A budget scope crossed its soft warning threshold.
    BudgetWarning {
        /// `run`, `agent:<id>` or `node:<id>`.
        scope: String,
        /// Fraction of the limit used (0–1), the larger of tokens and money.
        fraction: f64,
        /// The threshold that was crossed.
        threshold: f64,
    },
    /// A call was not made because it could exceed a hard limit.
    BudgetExhausted {
        /// `run`, `agent:<id>` or `node:<id>`.
        scope: String,
        /// Task whose call was refused.
        task: Id,
        /// Agent that would have been called.
        agent: Id,
        /// Tokens the call could use (prompt + max_tokens).
        needed_tokens: u64,
        /// Tokens left in the scope (limit minus used and reserved).
        remaining_tokens: Option<u64>,
        /// What happens now: `pause`, `fail` or `degrade`.
        policy: String,
    },
    /// A provider changed how it talks to an endpoint for the rest of the
    /// run: structured output stepped down a level after a refusal, or the
    /// calls allowed in flight changed.
    EndpointAdapted {
        /// The endpoint (base URL).
        endpoint: String,
        /// `structured_output` or `max_in_flight`.
        setting: String,
        /// The value before.
        from: String,
        /// The value now.
        to: String,
        /// Why.
        reason: String,
    },
    /// A call waits for provider quota (requests or tokens per minute).
    QuotaWait {
        /// Provider name.
        provider: Id,
        /// Task whose call waits.
        task: Id,
        /// `requests` or `tokens`.
        limit: String,
        /// How long it waits, ms.
        wait_ms: f64,
    },
    /// Parallel branches were settled into one answer (`resolve`).
    ConflictResolved {
        /// Parallel node id.
        node: Id,
        /// `unanimous`, `confidence`, `gate` or `agent:<id>`.
        method: String,
        /// True when the branches disagreed.
        conflict: bool,
        /// Distinct answers with their summed confidence:
        /// `[{answer, weight}]`, in branch order.
        candidates: Vec<Value>,
        /// The answer the node outputs.
        chosen: Value,
    },
    /// A `map` handed several items to one agent task (one call for all;
    /// the reply is split back per item).
    BatchDispatched {
        /// The batch task (`fan[0-4]/work`).
        task: Id,
        /// The `map` node.
        node: Id,
        /// Its body node (an `agent` node).
        body: Id,
        /// Index of the first item.
        first: u32,
        /// Items in the batch.
        size: u32,
    },
    /// The run made no progress for the deadlock bound: nothing running,
    /// queued or timed, no gate or pause waiting for a person, yet nodes
    /// wait. The waiting nodes fail with a `timeout` error.
    DeadlockDetected {
        /// Milliseconds without progress.
        idle_ms: f64,
        /// What waits: `{node, task?, waiting_for}` per waiting node.
        waiting: Vec<Value>,
    },
    /// Periodic (and final) run and per-agent metrics.
    Metrics {
        /// The figures.
        snapshot: metrics::MetricsSnapshot,
    },
    /// A planner produced a plan.
    PlanCreated {
        /// The planning task.
        task: Id,
        /// Subtask titles and capabilities.
        subtasks: Vec<PlannedSubtask>,
    },
    /// A plan's estimates were checked against the budget before its steps
    /// started (only for plans whose steps carry estimates).
    PlanBudgetChecked {
        /// The planning task.
        task: Id,
        /// Tokens the plan's steps estimate together.
        needed_tokens: u64,
        /// Minutes the plan's steps estimate together, if any said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<f64>,
        /// The tightest budget scope with a token limit (`run`, `node:<id>`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// Tokens left in that scope.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remaining_tokens: Option<u64>,
        /// True when the plan does not fit.
        over: bool,
        /// What happens to a plan that does not fit: `fail`, `pause`, `degrade`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy: Option<String>,
        /// Steps left out to fit (`degrade`), by task id.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dropped: Vec<Id>,
    },
    /// A plan step's dependencies completed and it starts, fed their outputs.
    PlanStepReady {
        /// The step's task.
        task: Id,
        /// The steps it waited for, by task id.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        after: Vec<Id>,
        /// Its input: title, description, goal, and `inputs`, the outputs of
        /// the steps it depends on by their plan ids.
        input: Value,
    },
    /// A structured reply (plan, verdict) was invalid and a repair prompt
    /// was sent.
    OutputRepair {
        /// The task.
        task: Id,
        /// Repair attempt, from 1.
        attempt: u32,
        /// What was wrong.
        error: String,
    },
    /// A reviewer agent judged work.
    ReviewVerdict {
        /// The node under review.
        node: Id,
        /// The reviewing task.
        task: Id,
        /// Approved or sent back.
        approved: bool,
        /// Feedback for the revision.
        feedback: String,
        /// Revision number this verdict concerns, from 0.
        revision: u32,
    },
    // ── debate and consensus events (issue #4) go here ──
    /// A debate round began.
    DebateRoundStarted {
        /// Debate node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Planned speaking order (empty when a moderator picks each turn).
        order: Vec<Id>,
    },
    /// A debater spoke: one turn of the transcript.
    DebateTurn {
        /// Debate node id.
        node: Id,
        /// The turn's task id.
        task: Id,
        /// Round, from 1.
        round: u32,
        /// Turn number within the debate, from 1 (critiques refer to it).
        turn: u32,
        /// Speaker (agent id).
        speaker: Id,
        /// The stance taken.
        position: String,
        /// Confidence in the stance, in [0, 1].
        confidence: f64,
        /// The argument text.
        argument: String,
        /// Critiques of earlier turns.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        critiques: Vec<Critique>,
        /// True when the speaker now holds a different position than in its
        /// previous turn.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        changed: bool,
    },
    /// A turn produced no valid reply (after repair prompts); the debate goes
    /// on without it.
    DebateTurnFailed {
        /// Debate node id.
        node: Id,
        /// The turn's task id.
        task: Id,
        /// Round, from 1.
        round: u32,
        /// Turn number, from 1.
        turn: u32,
        /// Speaker (agent id).
        speaker: Id,
        /// Why.
        error: String,
    },
    /// A debate round finished.
    DebateRoundEnded {
        /// Debate node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Each speaker's latest stance after the round.
        positions: Vec<Stance>,
        /// Confidence-weighted share of the leading position, in [0, 1].
        agreement: f64,
        /// Speakers whose position changed this round.
        changed: u32,
    },
    /// A debate finished and was decided.
    DebateEnded {
        /// Debate node id.
        node: Id,
        /// Rounds held.
        rounds: u32,
        /// Why it stopped: `converged`, `agreement`, `no_change` or `max_rounds`.
        reason: String,
        /// The decision.
        decision: String,
        /// Why (the judge's reasons or the tally summary).
        reasons: String,
        /// `judge:<agent>`, `vote:<protocol>`, `gate` or `judge:<agent>` after a tie.
        decided_by: String,
    },
    /// A voter cast a ballot.
    VoteCast {
        /// Vote (or debate) node id.
        node: Id,
        /// Ballot round, from 1.
        round: u32,
        /// Voter (agent id).
        voter: Id,
        /// Choice.
        choice: String,
        /// Full ranking, for ranked-choice ballots.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ranking: Vec<String>,
        /// Confidence, in [0, 1].
        confidence: f64,
        /// The voter's rationale.
        rationale: String,
        /// `propose` or `commit` (Byzantine rounds have both), else `cast`.
        phase: String,
    },
    /// A ballot could not be obtained (invalid after repairs, or an error):
    /// the voter abstains this round.
    VoteFailed {
        /// Vote node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Voter.
        voter: Id,
        /// Why.
        error: String,
    },
    /// A vote produced a decision.
    ConsensusReached {
        /// Vote (or debate) node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// The accepted choice.
        choice: String,
        /// `tally` (the protocol's rule), `judge:<agent>` or `gate`.
        decided_by: String,
        /// The full tally (boxed: it is large, and every event is moved
        /// through the stream).
        tally: Box<Tally>,
    },
    /// A vote round produced no decision.
    ConsensusFailed {
        /// Vote (or debate) node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Why (`tie`, `no_quorum`, ...), in words.
        reason: String,
        /// What happens next: `fail`, `another_round`, `gate` or `judge`.
        next: String,
        /// The full tally (boxed: it is large, and every event is moved
        /// through the stream).
        tally: Box<Tally>,
    },
    /// An agent behaved in a way a fault-tolerant vote does not trust.
    AgentFlagged {
        /// Vote node id.
        node: Id,
        /// Agent id.
        agent: Id,
        /// Round, from 1.
        round: u32,
        /// `equivocation` or `outlier`.
        reason: String,
        /// Details (the conflicting ballots, the rounds it disagreed).
        detail: String,
        /// Excluded from later tallies (per the node's `byzantine_policy`).
        excluded: bool,
    },
    /// A debate or vote in step mode waits for a `step` command before the
    /// next turn or ballot.
    AwaitingStep {
        /// Debate or vote node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Who acts next, when known (a moderator picks after the step).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Id>,
        /// `turn` or `ballot`.
        what: String,
    },
    // ── swarm and chat events (issue #18) go here ──
    /// An item joined a swarm's pool (a first item, or one an agent added).
    SwarmItemAdded {
        /// Swarm node id.
        node: Id,
        /// Item id in the pool (`i1`, `i2`, …).
        item: Id,
        /// What the item asks.
        title: String,
        /// The agent that added it (`None` for a first item).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Id>,
        /// Round it was added in (0 for first items).
        round: u32,
    },
    /// An agent claimed a swarm item by its local rule, with a lease.
    SwarmClaimed {
        /// Swarm node id.
        node: Id,
        /// Item id.
        item: Id,
        /// The agent.
        agent: Id,
        /// Round of the claim.
        round: u32,
        /// The lease holds through this round; at the start of the next one
        /// without a finding, it expires.
        until: u32,
    },
    /// A claim's lease ran out before its agent posted a finding (the agent
    /// failed or died); the item is open for others again.
    SwarmLeaseExpired {
        /// Swarm node id.
        node: Id,
        /// Item id.
        item: Id,
        /// The agent that held it.
        agent: Id,
        /// Round at whose start it expired.
        round: u32,
    },
    /// An agent posted a finding on an item (its claim is released).
    SwarmFinding {
        /// Swarm node id.
        node: Id,
        /// The task that produced it.
        task: Id,
        /// Item id.
        item: Id,
        /// The agent.
        agent: Id,
        /// Round.
        round: u32,
        /// The finding.
        text: String,
    },
    /// An agent's work on a claimed item failed; its claim stays until the
    /// lease expires (nobody can tell a dead agent from a slow one).
    SwarmWorkFailed {
        /// Swarm node id.
        node: Id,
        /// The task.
        task: Id,
        /// Item id.
        item: Id,
        /// The agent.
        agent: Id,
        /// Round.
        round: u32,
        /// Why.
        error: String,
    },
    /// An item has the findings it needs.
    SwarmItemDone {
        /// Swarm node id.
        node: Id,
        /// Item id.
        item: Id,
        /// Round.
        round: u32,
    },
    /// A swarm round finished.
    SwarmRoundEnded {
        /// Swarm node id.
        node: Id,
        /// Round, from 1.
        round: u32,
        /// Items not done.
        open: u32,
        /// Items done.
        done: u32,
        /// Items added this round.
        added: u32,
    },
    /// A swarm stopped on its convergence rule.
    SwarmConverged {
        /// Swarm node id.
        node: Id,
        /// Rounds held.
        rounds: u32,
        /// `covered` (every item done), `quality` (converge_at share done),
        /// `quiet` (quiet_rounds without a new item) or `max_steps`.
        reason: String,
        /// Items in the pool.
        items: u32,
        /// Items done.
        done: u32,
        /// Findings posted.
        findings: u32,
    },
    /// A chat participant spoke.
    ChatTurn {
        /// Chat node id.
        node: Id,
        /// The turn's task id.
        task: Id,
        /// Turn number, from 1.
        turn: u32,
        /// Speaker.
        speaker: Id,
        /// Why this speaker: `order` (its turn) or `addressed` (named with
        /// `@id` in the turn before).
        via: String,
        /// The participant this turn addresses with `@id`, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addressed: Option<Id>,
        /// What was said.
        text: String,
    },
    /// A chat turn gave no reply; the chat goes on with the next speaker.
    ChatTurnFailed {
        /// Chat node id.
        node: Id,
        /// The turn's task id.
        task: Id,
        /// Turn number, from 1.
        turn: u32,
        /// Speaker.
        speaker: Id,
        /// Why.
        error: String,
    },
    /// A chat ended on its termination rule.
    ChatEnded {
        /// Chat node id.
        node: Id,
        /// Turns taken.
        turns: u32,
        /// `phrase`, `judge` or `max_turns`.
        reason: String,
        /// Who ended it (the speaker of the phrase, the judge), if anyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Id>,
    },
    /// Step mode was switched (answer to `set_step_mode`).
    StepModeChanged {
        /// On or off.
        on: bool,
    },
    /// A router chose a route.
    RouteChosen {
        /// Router node id.
        node: Id,
        /// Target node id.
        to: Id,
        /// The expression or label that matched (or `default`).
        reason: String,
    },
    /// A loop moved between states.
    LoopTransition {
        /// Loop node id.
        node: Id,
        /// State left.
        from: Id,
        /// State entered (`$end` when the loop ends).
        to: Id,
        /// Iteration about to run (1-based count of state visits).
        iteration: u32,
    },
    /// An `on` node fired on a message or a timer tick.
    TriggerFired {
        /// `on` node id.
        node: Id,
        /// Topic that fired.
        topic: String,
        /// Message id that fired it.
        message: u64,
        /// Firing number, from 1.
        count: u32,
    },
    /// A human gate is waiting for a decision.
    GateOpened {
        /// Gate id (the gate's task id).
        gate: Id,
        /// Gate node id.
        node: Id,
        /// The artifact under review.
        artifact: Value,
        /// Revision number, from 0.
        revision: u32,
    },
    /// A human gate was decided.
    GateDecided {
        /// Gate id.
        gate: Id,
        /// Approved or denied.
        approved: bool,
        /// Reviewer comment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// The whole run stopped dispatching new work.
    RunPaused,
    /// The whole run dispatches again.
    RunResumed,
    /// A command arrived (recorded so sessions show who did what).
    CommandReceived {
        /// The command.
        command: Command,
    },
    /// A command could not be carried out.
    CommandRejected {
        /// The command.
        command: Command,
        /// Why.
        reason: String,
    },
    // ── session events (issue #5) go here ──
    /// Something worth a line in the log.
    Notice {
        /// `info`, `warn` or `error`.
        level: String,
        /// The text.
        message: String,
    },
}

/// One subtask of a plan, as announced in [`EventKind::PlanCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedSubtask {
    /// Subtask task id.
    pub task: Id,
    /// Title.
    pub title: String,
    /// Capability it needs.
    pub capability: String,
    /// Its id in the plan (what `depends_on` names), when the planner gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Subtasks it waits for, by task id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Id>,
    /// The planner's estimate of its tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_tokens: Option<u64>,
    /// The planner's estimate of its minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_minutes: Option<f64>,
}

/// A critique of an earlier debate turn, inside [`EventKind::DebateTurn`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critique {
    /// Turn number criticised.
    pub turn: u32,
    /// Its speaker.
    pub speaker: Id,
    /// The critique.
    pub text: String,
}

/// A debater's stance, in [`EventKind::DebateRoundEnded`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stance {
    /// Agent id.
    pub agent: Id,
    /// Position (empty when it never gave a valid turn).
    pub position: String,
    /// Confidence, in [0, 1].
    pub confidence: f64,
}

/// The count of one choice in a [`Tally`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TallyCount {
    /// The choice.
    pub choice: String,
    /// Ballots for it (first preferences in the last ranked-choice round).
    pub votes: u32,
    /// Its score: votes, or the confidence-weighted sum.
    pub score: f64,
}

/// The full result of counting ballots under a protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Protocol name (`majority`, `plurality`, `unanimity`, `quorum`,
    /// `weighted`, `ranked`, `bft`).
    pub protocol: String,
    /// Voters whose ballots count (excluded agents removed).
    pub eligible: u32,
    /// Ballots cast by eligible voters.
    pub cast: u32,
    /// Counts by choice, best first (ties in name order).
    pub counts: Vec<TallyCount>,
    /// What the winner needed (votes, or score for `weighted`), if a bar applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<f64>,
    /// The winning choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    /// Choices tied for first, when that stopped a decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tied: Vec<String>,
    /// Ranked choice: candidates in elimination order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eliminated: Vec<String>,
    /// Agents excluded from this tally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<Id>,
    /// One line saying how the result came about.
    pub summary: String,
}

/// What a human (or a script) asks the orchestrator to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "command", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Command {
    /// Pause the whole run (`task: None`) or one task.
    Pause {
        /// Task to pause; the whole run when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<Id>,
    },
    /// Resume the whole run or one task.
    Resume {
        /// Task to resume; the whole run when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<Id>,
    },
    /// Run a FAILED (held) task again.
    Retry {
        /// Task id.
        task: Id,
    },
    /// Move a task to another agent.
    Reroute {
        /// Task id.
        task: Id,
        /// New agent.
        agent: Id,
    },
    /// Cancel one task, or the whole run.
    Cancel {
        /// Task to cancel; the whole run when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<Id>,
    },
    /// Decide a human gate.
    GateDecision {
        /// Gate id.
        gate: Id,
        /// Approve (true) or deny (false).
        approve: bool,
        /// Comment; on a denial it becomes the revision feedback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// Publish a message on the bus (event triggers, or a note to an agent).
    Emit {
        /// Topic.
        topic: String,
        /// Payload.
        payload: Value,
    },
    // ── budget commands (issue #3) go here ──
    /// Change a budget limit (the run's, one agent's or one node's) and let
    /// a run paused by exhaustion continue.
    SetBudget {
        /// Agent whose budget changes; the run's when absent (and no node).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<Id>,
        /// Node whose budget changes (all its tasks together); not with `agent`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<Id>,
        /// New token limit (absent: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tokens: Option<u64>,
        /// New money limit in US dollars (absent: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usd: Option<f64>,
    },
    // ── debate step commands (issue #4) go here ──
    /// Let a debate or vote in step mode take its next step.
    Step {
        /// Only this debate/vote node; any waiting one when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<Id>,
        /// `turn` (one turn or ballot, the default) or `round` (finish the
        /// current round without stopping).
        #[serde(default)]
        until: StepUntil,
    },
    /// Switch step mode on or off for every debate and vote (off also
    /// releases nodes that are in step mode by their workflow file).
    SetStepMode {
        /// On or off.
        on: bool,
    },
    /// Add an ad-hoc agent task to the running run; its output is in
    /// `RunOutcome::submitted`.
    Submit {
        /// The agent that works on it.
        agent: Id,
        /// What it is asked.
        prompt: String,
        /// Priority 1 (most urgent) to 5; 3 when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
        /// An id reserved by `RunHandle::submit`; the engine picks the next
        /// `submitted#N` when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task: Option<Id>,
    },
}

/// How far a [`Command::Step`] goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepUntil {
    /// One turn or ballot.
    #[default]
    Turn,
    /// The rest of the current round.
    Round,
}

impl Command {
    /// Short name, for messages.
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// State of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass; failures are counted.
    Closed,
    /// Calls fail fast (or go to a fallback) until the cool-down ends.
    Open,
    /// A few probe calls pass to test recovery.
    HalfOpen,
}

/// Health of an agent, as metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Calls succeed.
    Healthy,
    /// Some calls fail or are retried, or the agent was degraded from.
    Degraded,
    /// Most recent calls fail.
    Failing,
    /// Its circuit breaker is open.
    CircuitOpen,
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Serde default of counts that start at 1.
fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_result_without_the_newer_fields_reads_with_their_defaults() {
        let k: EventKind = serde_json::from_value(serde_json::json!({
            "type": "worker_result", "task": "t", "agent": "a", "attempt": 2, "worker": "w1"
        }))
        .unwrap();
        let EventKind::WorkerResult {
            deliveries, reused, ..
        } = k
        else {
            panic!("{k:?}");
        };
        assert_eq!((deliveries, reused), (1, false));
    }

    #[test]
    fn usage_sums_saturate() {
        let mut u = Usage {
            prompt_tokens: u64::MAX,
            completion_tokens: 1,
            estimated: false,
        };
        assert_eq!(u.total(), u64::MAX);
        u.add(&Usage {
            prompt_tokens: 10,
            completion_tokens: u64::MAX,
            estimated: false,
        });
        assert_eq!((u.prompt_tokens, u.completion_tokens), (u64::MAX, u64::MAX));
    }

    #[test]
    fn events_serialise_with_a_snake_case_type_tag() {
        let ev = Event {
            seq: 7,
            ts: 1,
            session: "s1".into(),
            kind: EventKind::TaskAssigned {
                task: "a".into(),
                agent: "w".into(),
                attempt: 1,
            },
        };
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["type"], "task_assigned");
        assert_eq!(json["seq"], 7);
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn commands_round_trip() {
        let c = Command::GateDecision {
            gate: "g".into(),
            approve: false,
            comment: Some("more".into()),
        };
        let s = serde_json::to_string(&c).unwrap();
        assert!(s.contains("\"command\":\"gate_decision\""), "{s}");
        assert_eq!(serde_json::from_str::<Command>(&s).unwrap(), c);
    }

    #[test]
    fn retryable_kinds() {
        assert!(ErrorKind::Timeout.is_retryable());
        assert!(!ErrorKind::Auth.is_retryable());
        assert_eq!(RunStatus::Failed.exit_code(), 1);
    }
}
