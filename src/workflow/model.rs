//! The compiled workflow: what the engine runs. Produced from a
//! [`WorkflowSpec`](super::spec::WorkflowSpec) by `compile`, after every
//! reference has been resolved to an index and every expression parsed.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

use super::index::{AgentIdx, NodeIdx};
use super::kinds::NodeKind;
use super::policy::{AgentPolicy, NodePolicy, Resolve, RunPolicy};
use super::spec::SimScript;
use crate::event::Id;

/// A validated workflow.
#[derive(Debug, Clone)]
pub struct Workflow {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Entry node.
    pub entry: NodeIdx,
    /// Input given to the entry node.
    pub input: Value,
    /// Most hand-offs per task.
    pub max_handoffs: u32,
    /// Scheduler aging step (tasks queued per priority level gained).
    pub aging_step: u32,
    /// Agents in declaration order.
    pub agents: Vec<Agent>,
    /// Nodes in declaration order.
    pub nodes: Vec<Node>,
    /// Agent id → index.
    pub agent_index: HashMap<String, AgentIdx>,
    /// Node id → index.
    pub node_index: HashMap<String, NodeIdx>,
    /// Budget, prices, quotas, metrics period (issue #3).
    pub policy: RunPolicy,
    /// MCP servers the workflow declares (`[mcp.NAME]`, issue #19).
    pub mcp: Vec<crate::mcp::McpServer>,
}

impl Workflow {
    /// Looks an agent up by id.
    pub fn agent(&self, id: &str) -> Option<AgentIdx> {
        self.agent_index.get(id).copied()
    }

    /// Looks a node up by id.
    pub fn node(&self, id: &str) -> Option<NodeIdx> {
        self.node_index.get(id).copied()
    }

    /// Agents offering a capability, in declaration order.
    pub fn capable_agents<'a>(
        &'a self,
        capability: &'a str,
    ) -> impl Iterator<Item = AgentIdx> + 'a {
        self.agents
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.capabilities.iter().any(|c| c == capability))
            .map(|(i, _)| i)
    }

    /// Child node indices of a node (containment edges), in order.
    pub fn children(&self, node: NodeIdx) -> Vec<NodeIdx> {
        self.nodes[node].kind.children()
    }

    /// The first node that may stop the run to ask a human (a `gate`, a
    /// debate or vote whose fallback is a gate, a `parallel` whose conflicts
    /// a human resolves). Headless runs refuse to start without a terminal
    /// or `--auto-approve` when there is one. Shell approvals are separate
    /// (agents' `shell` tables).
    pub fn human_gate(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.may_ask_human())
    }
}

/// A validated agent.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Id.
    pub id: Id,
    /// Role (planner, executor, reviewer, judge, classifier, or free text).
    pub role: Id,
    /// Provider name.
    pub provider: String,
    /// Model name.
    pub model: Id,
    /// System prompt.
    pub system: Option<String>,
    /// Capabilities.
    pub capabilities: Vec<String>,
    /// Reply length limit.
    pub max_tokens: Option<u32>,
    /// Temperature.
    pub temperature: Option<f32>,
    /// Concurrency limit; 0 = none.
    pub concurrency: u32,
    /// Sim script.
    pub sim: SimScript,
    /// What backs the agent.
    pub kind: AgentKind,
    /// Retry, timeouts, breaker, cache, fallbacks, budget (issue #3).
    pub policy: AgentPolicy,
    /// Tools the agent may call (issue #7).
    pub tools: Vec<Id>,
    /// Confinement of its `shell` calls; `None`: `shell` is off.
    pub shell: Option<super::policy::shell::ShellConfig>,
    /// `tool_choice` and `reset_tool_choice`.
    pub tool_use: super::tool_use::ToolUse,
}

/// What backs an agent.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentKind {
    /// A model through its provider.
    Llm,
    /// An external program.
    Command(CommandConfig),
    /// Rust code registered with `Orchestrator::register`.
    Custom,
}

/// A validated command agent.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandConfig {
    /// Program then arguments (non-empty).
    pub run: Vec<String>,
    /// Variables to set.
    pub env: Vec<(String, String)>,
    /// Variables passed through from agentctl's environment.
    pub inherit_env: Vec<String>,
    /// Working directory.
    pub cwd: std::path::PathBuf,
    /// `cwd` as the workflow wrote it (`None`: not given). A worker on
    /// another machine resolves this one (see `scale_out::work_item`).
    pub cwd_given: Option<String>,
    /// Kill after this long.
    pub timeout: Duration,
    /// One long-lived process speaking JSON lines.
    pub persistent: bool,
    /// Largest reply accepted.
    pub max_output_bytes: usize,
}

/// A validated node.
#[derive(Debug, Clone)]
pub struct Node {
    /// Id.
    pub id: Id,
    /// Title (defaults to the id).
    pub title: String,
    /// Priority 1 (most urgent) – 5.
    pub priority: u8,
    /// Topic to publish the output on.
    pub emit: Option<String>,
    /// The node that runs when this one fails (`on_error`).
    pub on_error: Option<NodeIdx>,
    /// What it does.
    pub kind: NodeKind,
    /// Policy overrides for its agent tasks (issue #3).
    pub policy: NodePolicy,
}

impl Node {
    /// Whether running this node can open a human gate.
    pub fn may_ask_human(&self) -> bool {
        self.policy.resolve == Some(Resolve::Gate) || self.kind.may_ask_human()
    }
}
