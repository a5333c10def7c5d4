//! `plan`: planner → executors → reviewer.

use super::Kind;
use super::NodeKindName;
use super::compile_context::CompileContext;
use super::diagram::{Diagram, Shape};
use crate::workflow::index::AgentIdx;
use crate::workflow::span::Spanned;
use crate::workflow::spec::{BudgetSpec, DegradeSpec, RetrySpec};
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

impl Kind for PlanNode {
    fn diagram(&self, d: &mut Diagram<'_>) -> Shape {
        d.line(format_args!("planner: {}", d.agent(self.planner)));
        if let Some(r) = self.reviewer {
            d.line(format_args!(
                "reviewer: {} (≤{} revisions)",
                d.agent(r),
                self.max_revisions
            ));
        }
        Shape::Trapezoid
    }
}

// ── spec: what a `plan` node says in a workflow file ──

/// The fields of a `plan` node in a file (besides `id`, `kind`, `title`,
/// `priority`, `emit`): this struct is the one list of them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanNodeSpec {
    /// Prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<Spanned<String>>,
    /// The planner agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner: Option<Spanned<String>>,
    /// The reviewer agent (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<Spanned<String>>,
    /// Most revisions before failing (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_revisions: Option<Spanned<i64>>,
    /// Most subtasks accepted from the planner (default 16).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_subtasks: Option<Spanned<i64>>,
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
}

impl PlanNodeSpec {
    /// Checks the spec of node `i` and compiles it.
    pub(crate) fn compile(&self, cx: &mut CompileContext<'_>, i: usize) -> PlanNode {
        let n = self;
        let planner = match &n.planner {
            Some(p) => cx.agent_ref(i, "planner", p),
            None => {
                cx.require(i, NodeKindName::Plan, "`planner`", "add planner = \"<agent id>\"");
                None
            }
        };
        let reviewer = n
            .reviewer
            .as_ref()
            .and_then(|r| cx.agent_ref(i, "reviewer", r));
        let max_revisions = cx.int(i, "max_revisions", &n.max_revisions, 0, 2);
        let max_subtasks = cx.int(i, "max_subtasks", &n.max_subtasks, 1, 16);
        let repair_attempts = cx.int(i, "repair_attempts", &n.repair_attempts, 0, 2);
        let prompt = cx.template(i, "prompt", &n.prompt);
        PlanNode {
            planner: planner.unwrap_or(0),
            reviewer,
            max_revisions,
            max_subtasks,
            repair_attempts,
            prompt,
        }
    }
}
