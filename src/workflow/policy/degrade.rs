//! Graceful degradation settings (`resilience::degrade` decides when).

use crate::workflow::index::AgentIdx;

/// When to switch, and to whom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DegradePolicy {
    /// The cheaper agent.
    pub to: AgentIdx,
    /// Switch when this many tasks (or more) wait in the scheduler's queue.
    pub queue_depth: Option<u32>,
    /// Switch when this fraction of a budget (0–1) is used.
    pub budget_fraction: Option<f64>,
}
