//! `plan`: planner → executors → reviewer.

use super::Kind;
use crate::workflow::index::AgentIdx;
use crate::workflow::template::Template;

/// A compiled `plan` node.
#[derive(Debug, Clone)]
pub struct PlanNode {
    /// Planner agent.
    pub planner: AgentIdx,
    /// Reviewer agent.
    pub reviewer: Option<AgentIdx>,
    /// Revision limit.
    pub max_revisions: u32,
    /// Subtask limit.
    pub max_subtasks: u32,
    /// Repair prompts for malformed plans.
    pub repair_attempts: u32,
    /// Prompt for the planner.
    pub prompt: Template,
}

impl Kind for PlanNode {}
