//! Indices that compiled references resolve to: every agent or node a
//! workflow names becomes its position in [`Workflow`](super::model::Workflow).

/// Index into [`Workflow::agents`](super::model::Workflow::agents).
pub type AgentIdx = usize;
/// Index into [`Workflow::nodes`](super::model::Workflow::nodes).
pub type NodeIdx = usize;
