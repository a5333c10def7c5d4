//! `agent`: one agent task.

use super::Kind;
use crate::workflow::diagnostics::did_you_mean;
use super::NodeKindName;
use super::compile_context::{CompileContext, Owner};
use super::diagram::{Diagram, Shape};
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::spec::{BudgetSpec, DegradeSpec, RetrySpec};
use crate::workflow::template::Template;
use serde_json::Value;

/// A compiled `agent` node.
#[derive(Debug, Clone)]
pub struct AgentNode {
    /// Who runs it.
    pub target: Target,
    /// Prompt template (default `{{input}}`).
    pub prompt: Template,
}

impl Kind for AgentNode {
    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        match &self.target {
            Target::Agent(a) => d.line(format_args!("agent: {}", d.agent(*a))),
            Target::Capability(c) => d.line(format_args!("capability: {c}")),
        }
        Shape::Rounded
    }
}

/// Who runs an agent task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This agent.
    Agent(AgentIdx),
    /// The least-loaded agent with this capability.
    Capability(String),
}

// ── spec: what a `agent` node says in a workflow file ──

/// The fields of a `agent` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentNodeSpec {
    /// The agent to run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Spanned<String>>,
    /// Dispatch to the least-loaded agent with this capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<Spanned<String>>,
    /// Prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Spanned<String>>,
    /// Repair prompts for a malformed plan before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_attempts: Option<Spanned<i64>>,
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
    /// `json` — the reply must be a JSON object or array; anything
    /// else is malformed (repair prompts, then a retryable `malformed`
    /// failure). `text` (the default) accepts any reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Spanned<String>>,
    /// A JSON schema the reply must match (implies `expect = "json"`);
    /// sent to providers that constrain output, and checked on every reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Spanned<Value>>,
    /// Like `schema`, read from a JSON file (relative to the
    /// workflow file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_file: Option<Spanned<String>>,
}

impl AgentNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> AgentNode {
        let n = self;
        let target = match (&n.agent, &n.capability) {
            (Some(_), Some(c)) => {
                let at = cx.field_span(Owner::Node(i), "capability", c.span.clone());
                cx.error(
                    at,
                    "an `agent` node takes `agent` or `capability`, not both",
                    "remove one: `agent` names one agent, `capability` picks the least-loaded capable agent",
                );
                None
            }
            (Some(a), None) => cx.agent_ref(i, "agent", a).map(Target::Agent),
            (None, Some(c)) => {
                let capable: Vec<usize> = (0..cx.agent_names.len())
                    .filter(|&a| cx.agent_capabilities[a].contains(&c.value))
                    .collect();
                if capable.is_empty() {
                    let at = cx.str_span(Owner::Node(i), "capability", c);
                    let offered: Vec<&str> = cx
                        .agent_capabilities
                        .iter()
                        .flat_map(|caps| caps.iter().map(String::as_str))
                        .collect();
                    let hint = match did_you_mean(&c.value, offered.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("add \"{}\" to some agent's `capabilities`", c.value),
                    };
                    cx.error(
                        at,
                        format!("no agent offers capability `{}`", c.value),
                        hint,
                    );
                }
                cx.used_agents.extend(capable);
                Some(Target::Capability(c.value.clone()))
            }
            (None, None) => {
                cx.require(
                    i,
                    NodeKindName::Agent,
                    "`agent` or `capability`",
                    "add agent = \"<agent id>\" or capability = \"<name>\"",
                );
                None
            }
        };
        let prompt = cx.template(i, "prompt", &n.prompt);
        AgentNode {
            target: target.unwrap_or(Target::Agent(0)),
            prompt,
        }
    }
}
