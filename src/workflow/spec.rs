//! The workflow file schema: what a `.toml` (or `.json`) workflow says.
//!
//! These types mirror the file one to one, with spans on every id and
//! reference so validation can point at the exact line. `compile` (in
//! `validate.rs`) checks them and turns them into the engine's
//! [`crate::workflow::model::Workflow`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::collections::BTreeMap;

use super::kinds::{KindSpec, kinds_with_field};
pub use super::policy_spec::{
    BreakerSpec, BudgetSpec, CacheSpec, DefaultsSpec, DegradeSpec, OnExhaustedName, PriceSpec,
    QuotaSpec, RetrySpec,
};
use super::source_tree::{SourceKind, SourceValue, de};
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
    #[serde(default, deserialize_with = "nodes_later")]
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
    /// `[mcp.NAME]`: MCP tool servers the run starts (issue #19).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mcp: BTreeMap<String, crate::mcp::McpServerSpec>,
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

/// The kinds of node, as files name them: declared by the table of kind
/// specs (`workflow/kinds/mod.rs`).
pub use super::kinds::NodeKindName;

/// How a `parallel` node joins its branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum JoinName {
    /// Wait for every branch.
    All,
    /// The first successful branch wins.
    Any,
    /// The first `k` successful branches.
    KOfN,
    /// Every branch runs to its end; the output keeps each branch's
    /// result or error, in branch order.
    AllSettled,
}

impl JoinName {
    /// Name as written in files.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `[[nodes]]` entry: the header every node has, and its kind's own fields
/// (one struct per kind, in `workflow/kinds/<kind>.rs`).
#[derive(Debug, Clone, Serialize)]
pub struct NodeSpec {
    /// Unique id.
    pub id: Spanned<String>,
    /// Node kind.
    pub kind: Spanned<NodeKindName>,
    /// Human title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Priority 1 (most urgent) to 5; default 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Spanned<i64>>,
    /// Publish this node's output on a bus topic when it completes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emit: Option<String>,
    /// A node that runs when this one fails, with `{error, partial}`; its
    /// output becomes this node's output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<Spanned<String>>,
    /// The kind's fields.
    #[serde(flatten)]
    pub fields: KindSpec,
    /// Keys that are fields of other kinds, not of this one: validation
    /// reports each (with the kinds that have it) and goes on.
    #[serde(flatten, serialize_with = "misplaced_as_nulls")]
    pub misplaced: Vec<Spanned<String>>,
}

/// The header fields of a node's table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeHeader {
    id: Spanned<String>,
    kind: Spanned<NodeKindName>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    priority: Option<Spanned<i64>>,
    #[serde(default)]
    emit: Option<String>,
    #[serde(default)]
    on_error: Option<Spanned<String>>,
}

/// The fields every node's table has, whatever its kind (`id`, `kind`…).
pub fn node_header_fields() -> &'static [&'static str] {
    de::struct_fields::<NodeHeader>()
}

fn misplaced_as_nulls<S: serde::Serializer>(
    keys: &[Spanned<String>],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(keys.len()))?;
    for k in keys {
        m.serialize_entry(&k.value, &())?;
    }
    m.end()
}

impl NodeSpec {
    /// A node of kind `kind` with no fields set (as a file with only `id`
    /// and `kind` would give).
    pub fn new(id: &str, kind: NodeKindName) -> NodeSpec {
        NodeSpec {
            id: id.into(),
            kind: Spanned::new(kind),
            title: None,
            priority: None,
            emit: None,
            on_error: None,
            fields: KindSpec::empty(kind.as_str())
                .unwrap_or_else(|| unreachable!("every kind name is in the table of kinds")),
            misplaced: Vec::new(),
        }
    }

    /// Reads a node's table: the header, then the fields of its kind. A key
    /// that no kind has is an error (with "did you mean" among this kind's
    /// fields); a key of another kind is kept in `misplaced`.
    pub fn from_table(table: &SourceValue) -> Result<NodeSpec, de::Error> {
        let header: NodeHeader = de::from_table_fields(table, de::struct_fields::<NodeHeader>())?;
        let kind = header.kind.value.as_str();
        let own = KindSpec::fields_of(kind);
        let head = de::struct_fields::<NodeHeader>();
        let mut misplaced = Vec::new();
        for e in table.entries() {
            let key = e.key.as_str();
            if head.contains(&key) || own.contains(&key) {
                continue;
            }
            if kinds_with_field(key).is_empty() {
                let valid: Vec<&str> = head.iter().chain(own).copied().collect();
                return Err(de::Error::unknown_field_of(
                    key,
                    &valid,
                    kind,
                    e.key_span.clone(),
                ));
            }
            misplaced.push(Spanned {
                value: e.key.clone(),
                span: Some(e.key_span.clone()),
            });
        }
        Ok(NodeSpec {
            fields: KindSpec::from_table(kind, table)?,
            id: header.id,
            kind: header.kind,
            title: header.title,
            priority: header.priority,
            emit: header.emit,
            on_error: header.on_error,
            misplaced,
        })
    }
}

/// The nodes of a workflow's tree (`nodes = [...]` or `[[nodes]]`).
pub fn nodes_from_tree(tree: &SourceValue) -> Result<Vec<NodeSpec>, de::Error> {
    let Some(entry) = tree.get("nodes") else {
        return Ok(Vec::new());
    };
    let items: Vec<&SourceValue> = match &entry.value.kind {
        SourceKind::Array(items) => items.iter().collect(),
        _ => return Err(de::Error::not_a(&entry.value, "a list of node tables")),
    };
    items
        .into_iter()
        .map(|t| match t.kind {
            SourceKind::Table(_) => NodeSpec::from_table(t),
            _ => Err(de::Error::not_a(t, "a table")),
        })
        .collect()
}

/// Nodes are read by [`nodes_from_tree`], after the rest of the file: a
/// node's kind decides which fields it has.
fn nodes_later<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<NodeSpec>, D::Error> {
    serde::de::IgnoredAny::deserialize(d)?;
    Ok(Vec::new())
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
