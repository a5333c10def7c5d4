//! `agent`: one agent task.

use super::Kind;
use crate::workflow::index::AgentIdx;
use crate::workflow::template::Template;

/// A compiled `agent` node.
#[derive(Debug, Clone)]
pub struct AgentNode {
    /// Who runs it.
    pub target: Target,
    /// Prompt template (default `{{input}}`).
    pub prompt: Template,
}

impl Kind for AgentNode {}

/// Who runs an agent task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// This agent.
    Agent(AgentIdx),
    /// The least-loaded agent with this capability.
    Capability(String),
}
