//! The workflow file schema: what a `.toml` (or `.json`) workflow says.
//!
//! These types mirror the file one to one, with spans on every id and
//! reference so validation can point at the exact line. `compile` (in
//! `validate.rs`) checks them and turns them into the engine's
//! [`crate::workflow::model::Workflow`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::BTreeMap;

pub use super::policy_spec::{
    BreakerSpec, BudgetSpec, CacheSpec, DefaultsSpec, DegradeSpec, OnExhaustedName, PriceSpec,
    QuotaSpec, RetrySpec,
};
use super::span::Spanned;
// The sim's script is the sim's own type; a workflow file only carries it.
pub use crate::llm::sim::script::{SimLatency, SimScript, SimToolCall};

/// A whole workflow file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// `[workflow]`: name, entry node, input.
    pub workflow: WorkflowMeta,
    /// `[[agents]]`.
    #[serde(default)]
    pub agents: Vec<AgentSpec>,
    /// `[[nodes]]`.
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// `[defaults]`: resilience policies for every agent (issue #3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<DefaultsSpec>,
    /// `[budget]`: the run's limits and exhaustion policy (issue #3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// `[prices.MODEL]`: overrides of the default price table (issue #3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub prices: BTreeMap<String, PriceSpec>,
    /// `[quotas.PROVIDER]`: requests and tokens per minute (issue #3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub quotas: BTreeMap<String, QuotaSpec>,
    /// `[breakers.PROVIDER]`: a circuit breaker per provider endpoint,
    /// shared by every agent calling it (issue #3).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub breakers: BTreeMap<String, BreakerSpec>,
}

/// `[workflow]` table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowMeta {
    /// Name shown in the UI and sessions.
    pub name: Spanned<String>,
    /// One-line description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Node to run; defaults to the first node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Spanned<String>>,
    /// Input given to the entry node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Most hand-offs one task may make between agents (default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_handoffs: Option<u32>,
    /// Scheduler aging step: a waiting task gains one priority level per
    /// this many newer tasks queued (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aging_step: Option<u32>,
    // ── run-wide budget and defaults (issue #3) go here ──
}

/// `[[agents]]` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Unique id.
    pub id: Spanned<String>,
    /// planner, executor, reviewer, judge, classifier, or free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Provider name (`sim` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Spanned<String>>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// System prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Capabilities it offers, for dispatch by capability.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// Reply length limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Most tasks it works on at once (default 4; 0 = no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Spanned<u32>>,
    /// Script for the `sim` provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sim: Option<SimScript>,
    // ── resilience policies, budget, fallbacks (issue #3) go here ──
    /// Retry policy (overrides `[defaults]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Time limit of one call, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Time limit of a whole task, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_timeout_ms: Option<Spanned<u64>>,
    /// Circuit breaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breaker: Option<BreakerSpec>,
    /// Response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheSpec>,
    /// Agents tried in order when this one cannot answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<Spanned<String>>,
    /// This agent's limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// Cheaper agent to switch to under pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrade: Option<DegradeSpec>,
    /// Give the agent the shared context (its history, facts, others'
    /// summaries, earlier results) windowed to this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u32>,
    /// The agent accepts batches of up to this many `map` items in one
    /// call (a `map` with `batch_size` then sends them together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<Spanned<u32>>,
    // ── tools (issue #7) go here ──
    /// Tools the agent may call (`context_get`, `context_put`, `read_file`,
    /// `http_get`, `shell`); the model decides when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Spanned<String>>,
    /// Enables the `shell` tool for this agent (list `shell` in `tools`
    /// too): how its commands are confined. Every call still waits for a
    /// human's approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ShellSpec>,
    /// What the first round of the tool loop asks of the model: `auto`
    /// (default), `required`, `none`, or one of `tools` by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Spanned<String>>,
    /// Whether rounds after the first go back to `auto` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_tool_choice: Option<bool>,
    // ── agent kinds: command agents (issue #8) go here ──
    /// `llm` (the default: a provider and a model), `command` (an external
    /// program, see `[agents.command]`) or `custom` (an agent written in
    /// Rust and registered with `Orchestrator::register`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Spanned<AgentKindName>>,
    /// For `kind = "command"`: how to run the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandSpec>,
}

/// What backs an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKindName {
    /// A model through a provider.
    Llm,
    /// An external program speaking JSON on stdin/stdout.
    Command,
    /// Rust code registered at run time.
    Custom,
}

/// `[agents.command]`: an agent backed by an external program. Nothing of
/// agentctl's environment is passed unless named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Program and arguments, e.g. `["python3", "agents/upper.py"]`.
    pub run: Spanned<Vec<String>>,
    /// Environment variables to set.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// Names of variables to pass through from agentctl's own environment
    /// (e.g. `PATH`, or a secret the program needs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit_env: Vec<String>,
    /// Working directory, relative to the workflow file (default: its folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Kill the process group after this long (default 60000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// One long-lived process serving tasks as JSON lines (default false:
    /// one process per task).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persistent: bool,
    /// Largest reply accepted on stdout (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<Spanned<u64>>,
}

/// An agent's `shell` table: the confinement of its `shell` tool calls.
/// Commands run with `/bin/sh -c` in the workflow file's folder and see only
/// the variables named here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellSpec {
    /// Environment variables to set.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// Names of variables to pass through from agentctl's own environment
    /// (e.g. `PATH`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherit_env: Vec<String>,
    /// Kill the command's process group after this long (default 30000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Cap of stdout and of stderr, each (default 65536 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_bytes: Option<Spanned<u64>>,
}

/// The kinds of node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKindName {
    /// One task for one agent (or any agent with a capability).
    Agent,
    /// Pipeline.
    Sequence,
    /// Fan-out / fan-in.
    Parallel,
    /// Scatter-gather over a list.
    Map,
    /// Planner → executors → reviewer.
    Plan,
    /// Conditional edge.
    Router,
    /// State machine with guarded transitions.
    Loop,
    /// Event-driven trigger on a bus topic or a timer.
    On,
    /// Human review.
    Gate,
    // ── debate and vote kinds (issue #4) go here ──
    /// Agents argue in rounds; a judge or a vote decides.
    Debate,
    /// Agents cast ballots; a protocol decides.
    Vote,
}

impl NodeKindName {
    /// Name as written in files.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKindName::Agent => "agent",
            NodeKindName::Sequence => "sequence",
            NodeKindName::Parallel => "parallel",
            NodeKindName::Map => "map",
            NodeKindName::Plan => "plan",
            NodeKindName::Router => "router",
            NodeKindName::Loop => "loop",
            NodeKindName::On => "on",
            NodeKindName::Gate => "gate",
            NodeKindName::Debate => "debate",
            NodeKindName::Vote => "vote",
        }
    }
}

/// How a `parallel` node joins its branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinName {
    /// Wait for every branch.
    All,
    /// The first successful branch wins.
    Any,
    /// The first `k` successful branches.
    KOfN,
}

/// `[[nodes]]` entry. One flat table for every kind; `compile` checks that
/// only the fields of the node's kind are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique id.
    pub id: Spanned<String>,
    /// Node kind.
    pub kind: Spanned<NodeKindName>,
    /// Human title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Priority 1 (most urgent) to 5; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Spanned<i64>>,
    /// Publish this node's output on a bus topic when it completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emit: Option<String>,

    // agent
    /// agent: the agent to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Spanned<String>>,
    /// agent: dispatch to the least-loaded agent with this capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Spanned<String>>,
    /// agent/plan/router: prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Spanned<String>>,

    // sequence
    /// sequence: node ids in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Spanned<String>>>,

    // parallel
    /// parallel: node ids run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<Spanned<String>>>,
    /// parallel: all (default), any, k_of_n.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<Spanned<JoinName>>,
    /// parallel with k_of_n: how many branches must succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Spanned<i64>>,
    /// parallel: a branch still running after this long fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch_timeout_ms: Option<Spanned<u64>>,

    // map
    /// map: expression giving the list (e.g. `input.items`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Spanned<String>>,
    /// map: an inline list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    /// map: run the body this many times (items 0..count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Spanned<i64>>,
    /// map/on: node run per item or per event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Spanned<String>>,
    /// map: most items in flight (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Spanned<i64>>,
    /// map: items are started in batches of this size; a batch finishes before
    /// the next starts (default: one batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Spanned<i64>>,
    /// map: node that receives the gathered list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Spanned<String>>,

    // plan
    /// plan: the planner agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner: Option<Spanned<String>>,
    /// plan: the reviewer agent (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<Spanned<String>>,
    /// plan/gate: most revisions before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_revisions: Option<Spanned<i64>>,
    /// plan: most subtasks accepted from the planner (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subtasks: Option<Spanned<i64>>,
    /// plan: repair prompts for a malformed plan before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_attempts: Option<Spanned<i64>>,

    // router
    /// router: routes, first match wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routes: Option<Vec<RouteSpec>>,
    /// router: target when no route matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Spanned<String>>,
    /// router: classifier agent whose answer is matched against route labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classifier: Option<Spanned<String>>,

    // loop
    /// loop: state node ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<Vec<Spanned<String>>>,
    /// loop: first state (default: the first listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Spanned<String>>,
    /// loop: guarded transitions, checked in order after a state completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<TransitionSpec>>,
    /// loop: most state visits (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<Spanned<i64>>,
    /// loop: what happens at the bound: `fail` (default) or `end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_max_iterations: Option<Spanned<String>>,

    // on
    /// on: bus topic to listen to (NATS-style wildcards `*` and `>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<Spanned<String>>,
    /// on: fire on a timer every N ms instead of (or as well as) a topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_ms: Option<Spanned<u64>>,
    /// on: stop after this many firings (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_events: Option<Spanned<i64>>,
    /// on: stop when nothing fires for this long (default 30000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<Spanned<u64>>,

    // gate
    /// gate: node whose output is reviewed; re-run with the comment on denial.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Spanned<String>>,
    // ── per-node policies and budgets (issue #3) go here ──
    /// Retry policy for this node's agent tasks (overrides the agent's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Time limit of one call of this node's tasks, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// Time limit of each of this node's tasks, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_timeout_ms: Option<Spanned<u64>>,
    /// This node's limits (all its tasks together).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetSpec>,
    /// Cheaper agent this node's tasks switch to under pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degrade: Option<DegradeSpec>,
    /// parallel: settle disagreeing branches by `confidence`, a `gate`, or
    /// an agent id (a meta-agent); the output is then the one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolve: Option<Spanned<String>>,
    /// agent: `json` — the reply must be a JSON object or array; anything
    /// else is malformed (repair prompts, then a retryable `malformed`
    /// failure). `text` (the default) accepts any reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Spanned<String>>,
    /// agent: a JSON schema the reply must match (implies `expect = "json"`);
    /// sent to providers that constrain output, and checked on every reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Spanned<Value>>,
    /// agent: like `schema`, read from a JSON file (relative to the
    /// workflow file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_file: Option<Spanned<String>>,
    // ── debate and vote fields (issue #4) go here ──
    /// debate: the debaters (agent ids), in round-robin order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<Spanned<String>>>,
    /// vote: the voters (agent ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voters: Option<Vec<Spanned<String>>>,
    /// debate/vote: the question, a template over `input` (default: the input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Spanned<String>>,
    /// debate/vote: the positions or answers to choose from (default: free).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<Spanned<String>>>,
    /// vote: expression giving the candidate answers (e.g. `input`, the list
    /// a `parallel` node gathered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Spanned<String>>,
    /// debate: most rounds (default 3); vote: most ballot rounds (default 1,
    /// 3 for `bft`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Spanned<i64>>,
    /// debate: `round_robin` (default), `moderator` or `random`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_order: Option<Spanned<String>>,
    /// debate: with turn_order = "moderator", the agent naming each speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderator: Option<Spanned<String>>,
    /// debate: the agent deciding the outcome (else a vote over final
    /// positions); debate/vote: breaks ties with on_tie = "judge".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Spanned<String>>,
    /// debate: stop early when the confidence-weighted share of one position
    /// reaches this (0..=1, default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converge_at: Option<Spanned<f64>>,
    /// debate: tokens of transcript each speaker sees (default 3000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Spanned<i64>>,
    /// debate/vote: `majority`, `plurality`, `unanimity`, `quorum`,
    /// `weighted` (debate default), `ranked` or `bft` (vote default: majority).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Spanned<String>>,
    /// vote with protocol = "quorum": ballots needed (k of n).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Spanned<i64>>,
    /// vote with protocol = "quorum": `participation` (k ballots, then
    /// plurality; default) or `agreement` (k ballots for one choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum_mode: Option<Spanned<String>>,
    /// vote with protocol = "bft": faulty voters tolerated (n ≥ 3f+1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Spanned<i64>>,
    /// vote/debate with protocol = "weighted": per-agent weight (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<std::collections::BTreeMap<String, f64>>,
    /// debate/vote: on a tie: `fail` (default), `another_round`, `gate`, `judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_tie: Option<Spanned<String>>,
    /// vote: without a quorum/majority: `fail`, `another_round` (default),
    /// `gate`, `judge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_quorum: Option<Spanned<String>>,
    /// vote with protocol = "bft": `exclude` (default) or `flag` agents that
    /// equivocate or are outliers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub byzantine_policy: Option<Spanned<String>>,
    /// debate/vote: wait for a `step` command before each turn or ballot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<bool>,
}

/// One route of a `router`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    /// Expression over `input` and `outputs` (e.g. `input.severity == "high"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Spanned<String>>,
    /// Classifier label that selects this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Spanned<String>>,
    /// Target node.
    pub to: Spanned<String>,
}

/// One transition of a `loop`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// State it leaves.
    pub from: Spanned<String>,
    /// State it enters, or `$end`.
    pub to: Spanned<String>,
    /// Guard over `output`, `input`, `outputs`, `iteration` (none = always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Spanned<String>>,
}
